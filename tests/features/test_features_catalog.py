"""Feature catalog: names, units, definitions, sources and groups."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.features import FEATURE_GROUPS, FEATURE_SETS, FeatureExtractor, feature_catalog

ACC = ("acc_x", "acc_y", "acc_z")
GYRO = ("gyro_x", "gyro_y", "gyro_z")


@pytest.mark.parametrize("feature_set", FEATURE_SETS)
@pytest.mark.parametrize("channels", [ACC, ACC + GYRO, GYRO, ("x1",), ACC + ("body_gyro_x",)])
@pytest.mark.parametrize("rate", [20.0, 50.0])
def test_catalog_matches_extractor_names(feature_set: str, channels: tuple, rate: float) -> None:
    cat = feature_catalog(channels, feature_set, rate)
    fx = FeatureExtractor(sampling_rate_hz=rate, channels=channels, feature_set=feature_set)
    names = list(fx.get_feature_names_out())
    assert [f.name for f in cat] == names
    assert len(set(names)) == len(names)
    X = np.random.default_rng(0).normal(size=(3, 128, len(channels))).astype(np.float32)
    assert fx.fit_transform(X).shape == (3, len(cat))


def test_every_feature_is_documented() -> None:
    for feature_set in FEATURE_SETS:
        cat = feature_catalog(ACC + GYRO + ("body_acc_x",), feature_set)
        order = []
        for f in cat:
            assert f.unit and f.definition and f.source, f
            assert "\n" not in f.definition
            assert f.group in FEATURE_GROUPS
            if not order or order[-1] != f.group:
                order.append(f.group)
        # groups are contiguous and in FEATURE_GROUPS order
        assert order == [g for g in FEATURE_GROUPS if g in order]


def test_feature_counts_and_units() -> None:
    counts = {(fs, ch): len(feature_catalog(ch, fs))
              for fs in FEATURE_SETS for ch in (ACC, ACC + GYRO)}
    assert counts[("minimal", ACC)] < counts[("default", ACC)] < counts[("full", ACC)]
    assert counts[("light", ACC)] < counts[("minimal", ACC)]
    assert counts[("default", ACC)] < counts[("default", ACC + GYRO)]
    units = {f.name: f.unit for f in feature_catalog(ACC + GYRO)}
    assert units["acc_x_std"] == "g" and units["gyro_mag_p75"] == "rad/s"
    assert units["acc_x_mcr"] == "Hz" and units["body_vert_dom_freq"] == "Hz"
    assert units["acc_jerk_mag_mean"] == "g/s" and units["gyro_jerk_mag_rms"] == "rad/s^2"
    assert units["tilt_x"] == "rad" and units["body_mag_power_1_2hz"] == "g^2"
    assert units["corr_acc_xy"] == "1" and units["enmo_mean"] == "g"


def test_light_set_content() -> None:
    """light = minimal without the axes' order statistics, plus the acc_mag spectrum."""
    light = [f.name for f in feature_catalog(ACC, "light")]
    minimal = [f.name for f in feature_catalog(ACC, "minimal")]
    assert len(light) == 40 and len(feature_catalog(ACC + GYRO, "light")) == 84
    dropped = {f"acc_{a}_{s}" for a in "xyz" for s in ("median", "p25", "p75", "iqr")}
    spectrum = [n for n in light if n.startswith("acc_mag_") and n not in minimal]
    assert set(minimal) - set(light) == dropped
    assert spectrum == [
        "acc_mag_power_0_1hz", "acc_mag_power_1_2hz", "acc_mag_power_2_3hz",
        "acc_mag_power_3_5hz", "acc_mag_power_5_10hz", "acc_mag_dom_freq",
        "acc_mag_spec_entropy", "acc_mag_spec_centroid",
    ]
    assert set(light) - set(minimal) == set(spectrum)
    groups = {f.group for f in feature_catalog(ACC + GYRO, "light")}
    assert groups == {"time", "correlation", "spectral", "enmo"}
    units = {f.name: f.unit for f in feature_catalog(ACC, "light")}
    assert units["acc_mag_power_1_2hz"] == "g^2" and units["acc_mag_dom_freq"] == "Hz"


def test_minimal_set_groups_and_acc_only_content() -> None:
    groups = {f.group for f in feature_catalog(ACC + GYRO, "minimal")}
    assert groups == {"time", "correlation", "enmo"}
    names = [f.name for f in feature_catalog(ACC, "default")]
    assert not any("gyro" in n for n in names)
    groups = {f.group for f in feature_catalog(ACC, "default")}
    assert groups == set(FEATURE_GROUPS)
