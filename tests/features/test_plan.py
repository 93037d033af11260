"""The compiled feature plan: known bins and constants, slots, serialisation, execution."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyhar.features import FeatureExtractor, gravity_sos
from tinyhar.features.catalog import TIME_STATS, feature_catalog
from tinyhar.features.plan import (
    DERIVED_SIGNALS,
    MIN_STD,
    SPECTRAL_STATS,
    STATISTICS,
    band_bins,
    channel_unit,
    time_stats,
)

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")


def _fitted(feature_set: str = "default", n: int = 128, **kw) -> FeatureExtractor:
    rng = np.random.default_rng(0)
    X = rng.normal(0, 0.3, (3, n, 6)).astype(np.float32)
    X[..., 2] += 1.0
    return FeatureExtractor(feature_set=feature_set, **kw).fit(X)


def test_band_bins_of_the_default_bands_at_50_hz():
    # f_k = k * 50 / 128 = 0.390625 k Hz; bands (lo, hi]
    bins = band_bins(50.0, 128, ((0, 1), (1, 2), (2, 3), (3, 5), (5, 10)))
    assert bins == ((1, 3), (3, 6), (6, 8), (8, 13), (13, 26))
    assert band_bins(50.0, 8, ((0.1, 1.0),)) == ((0, 0),)  # resolution 6.25 Hz: no bin


def test_statistic_table_drives_the_feature_sets():
    names = [s.name for s in STATISTICS]
    assert len(set(names)) == len(names)
    assert TIME_STATS == time_stats("default")
    assert set(time_stats("minimal")) <= set(time_stats("full"))
    assert [s.name for s in STATISTICS if s.percentile is not None] == ["median", "p25", "p75"]
    # every statistic of the full set appears for acc_mag, in table order
    got = [f.name for f in feature_catalog(CHANNELS, "full") if f.name.startswith("acc_mag_")
           and not any(k in f.name for k in ("power", *SPECTRAL_STATS))]
    assert got == [f"acc_mag_{s}" for s in time_stats("full")]


def test_channel_units():
    assert channel_unit("acc_x") == "g"
    assert channel_unit("gyro_z") == "rad/s"
    assert channel_unit("acc_jerk_mag") == "g/s"
    assert channel_unit("ECG") == "1"
    assert channel_unit("Wrist_ACC_1") == "g"
    assert {s.name for s in DERIVED_SIGNALS} >= {"acc_mag", "body_vert", "gyro_jerk_mag"}


def test_plan_of_the_default_set():
    fx = _fitted("default")
    plan = fx.plan_
    assert plan.names == tuple(fx.get_feature_names_out())
    assert plan.n_samples == 128 and plan.fs32 == 50.0
    assert plan.units == ("g", "g", "g", "rad/s", "rad/s", "rad/s")
    np.testing.assert_array_equal(plan.gravity.sos_array(), gravity_sos(50.0))
    # every statistic block occupies consecutive slots, in table order
    for block in plan.stat_blocks:
        for k, st in enumerate(block.stats):
            assert plan.names[block.first + k] == f"{block.signal}_{st}"
    assert {b.length for b in plan.stat_blocks} == {128, 127}  # jerk: N - 1
    full, jerk = plan.length(128), plan.length(127)
    assert full.inv_n == np.float32(1 / 128) and jerk.mcr_scale == np.float32(50.0 / 126)
    # p25 of 128 samples: h = 31.75; median of 127 samples: h = 63 exactly
    assert ("p25", 0.25, 31, 0.75) in full.percentiles
    assert ("median", 0.5, 63, 0.0) in jerk.percentiles
    sp = plan.spectral
    assert sp.radix2 and sp.n_bins == 64 and len(sp.freqs) == 64
    assert sp.power_weight == np.float32(2 / 128**2)
    assert sp.power_weight_nyquist == np.float32(1 / 128**2)
    assert sp.log_k == np.float32(np.log(64))
    assert sp.flat_power == np.float32(MIN_STD**2)
    assert plan.corr_floor == np.float32(128 * MIN_STD**2)
    assert plan.flat_variance == np.float32(MIN_STD**2)
    for sig, first in sp.signals:
        assert plan.names[first] == f"{sig}_power_{sp.bands[0].label}"
    assert plan.derived[:2] == ("acc_mag", "gyro_mag")
    assert [s for s, _ in plan.correlations] == ["acc", "gyro"]


def test_plan_is_json_serialisable_and_frozen():
    plan = _fitted("full", n=100, bands_hz=((0.5, 2.0), (2.0, 8.0))).plan_
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["names"] == list(plan.names)
    assert data["spectral"]["radix2"] is False  # 100 samples: direct DFT
    assert [b["label"] for b in data["spectral"]["bands"]] == ["0p5_2hz", "2_8hz"]
    assert data["gravity"]["order"] == 3 and len(data["gravity"]["sos"]) == 2
    with pytest.raises(AttributeError):
        plan.n_samples = 5  # type: ignore[misc]


def test_minimal_plan_has_no_filter_and_no_spectrum():
    plan = _fitted("minimal").plan_
    assert plan.gravity is None and plan.spectral is None
    assert plan.derived == ("acc_mag", "gyro_mag")
    assert [b.length for b in plan.stat_blocks] == [128] * len(plan.stat_blocks)


def test_transform_follows_parameters_changed_after_fit():
    fx = _fitted("default")
    X = np.random.default_rng(1).normal(0, 0.3, (2, 128, 6)).astype(np.float32)
    fx.set_params(bands_hz=((0.5, 2.0), (2.0, 8.0)))
    out = fx.transform(X)
    assert out.shape[1] == len(fx.get_feature_names_out())
    ref = FeatureExtractor(bands_hz=((0.5, 2.0), (2.0, 8.0))).fit(X).transform(X)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("settings", [
    {},
    {"feature_set": "minimal"},
    {"feature_set": "light", "channels": CHANNELS[:3]},
    {"feature_set": "invariant"},
    {"feature_set": "full", "bands_hz": ((0.5, 2.0), (2.0, 8.0)), "gravity_order": 4},
    {"sampling_rate_hz": 100.0, "gravity_cutoff_hz": 0.5},
])
def test_plan_features_built_from_the_settings_are_the_fitted_extractors(settings):
    """PlanFeatures.build is the one way from the settings to the plan: what a process
    builds without scikit-learn is the extractor's plan, and computes the same features."""
    from tinyhar.features.engine import PlanFeatures

    n_ch = len(settings.get("channels", CHANNELS))
    rng = np.random.default_rng(2)
    X = rng.normal(0, 0.3, (5, 128, n_ch)).astype(np.float32)
    X[..., 2] += 1.0
    fx = FeatureExtractor(**settings).fit(X)
    built = PlanFeatures.build(128, **settings)
    assert built == fx.compiled()
    assert built.plan == fx.plan_ and built.layout == fx.layout_
    np.testing.assert_array_equal(built.transform(X), fx.transform(X))


def test_settings_are_checked_whatever_the_feature_set():
    """A gravity cut-off above the Nyquist frequency is refused even by a set that does not
    filter (it has an accelerometer: the setting is wrong), by every entry point alike."""
    from tinyhar.errors import ConfigError, DataFormatError
    from tinyhar.features.engine import PlanFeatures, extract_features, resolve_features

    assert resolve_features(feature_set="minimal")[1] is None  # no filter to run
    bad = {"sampling_rate_hz": 20.0, "gravity_cutoff_hz": 12.0, "feature_set": "minimal"}
    X = np.zeros((1, 64, 6), np.float32)
    for call in (lambda: resolve_features(**bad), lambda: PlanFeatures.build(64, **bad),
                 lambda: FeatureExtractor(**bad).fit(X), lambda: extract_features(X, **bad)):
        with pytest.raises(ConfigError, match="Nyquist"):
            call()
    with pytest.raises(DataFormatError):  # too short for the spectrum
        PlanFeatures.build(2)
