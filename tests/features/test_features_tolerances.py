"""Documented feature tolerances: classes, limits and the tie allowance of spectral peaks."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import DataFormatError
from tinyhar.features import FeatureExtractor
from tinyhar.features.tolerances import (
    PEAK_TIE_FRACTION,
    TOLERANCES,
    compare_features,
    tolerance_class,
)

CH = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")


def test_every_default_feature_has_a_class_with_a_reason() -> None:
    names = FeatureExtractor(feature_set="full").get_feature_names_out()
    classes = {n: tolerance_class(n, CH) for n in names}
    assert set(classes.values()) <= set(TOLERANCES)
    assert all(TOLERANCES[c].reason for c in classes.values())
    assert classes["acc_x_min"] == "exact" and classes["gyro_z_max"] == "exact"
    assert classes["acc_mag_max"] == "arithmetic"  # a magnitude is computed, not copied
    assert classes["acc_x_mcr"] == "crossing" and classes["body_mag_dom_freq"] == "peak"
    assert classes["corr_acc_xy"] == "ratio" and classes["tilt_x"] == "ratio"
    assert classes["acc_x_power_1_2hz"] == "power"
    assert tolerance_class("delta_acc_x_min", CH) == "arithmetic"
    assert tolerance_class("prev_acc_x_min", CH) == "exact"


def test_limits_follow_the_table() -> None:
    names = ["acc_x_min", "acc_x_mean", "acc_x_mcr"]
    ref = np.array([[0.5, 1.0, 10.0]] * 4)
    one_ulp = ref.copy()
    one_ulp[:, 1] = np.nextafter(np.float32(1.0), np.float32(2.0))
    assert compare_features(ref, one_ulp, names, CH, 128, 50.0).violations() == []
    min_off = ref.copy()
    min_off[0, 0] = np.nextafter(0.5, 1.0)  # min must be exact
    assert [v.split()[0] for v in compare_features(ref, min_off, names, CH, 128, 50.0)
            .violations()] == ["acc_x_min"]
    one_crossing = ref.copy()
    one_crossing[:, 2] += 50.0 / 127  # one crossing more in a 128-sample window at 50 Hz
    assert compare_features(ref, one_crossing, names, CH, 128, 50.0).violations() == []
    one_crossing[:, 2] += 50.0 / 127
    assert len(compare_features(ref, one_crossing, names, CH, 128, 50.0).violations()) == 1
    nan = ref.copy()
    nan[0, 1] = np.nan
    assert len(compare_features(ref, nan, names, CH, 128, 50.0).violations()) == 1


def test_peak_ties_are_allowed_in_few_windows() -> None:
    n = 200
    ref = np.full((n, 1), 2.0)
    got = ref.copy()
    allowed = int(PEAK_TIE_FRACTION * n)
    got[:allowed, 0] = 3.5  # another bin
    assert compare_features(ref, got, ["acc_mag_dom_freq"], CH, 128, 50.0).violations() == []
    got[: allowed + 1, 0] = 3.5
    assert compare_features(ref, got, ["acc_mag_dom_freq"], CH, 128, 50.0).violations()


def test_shape_mismatch_is_an_error() -> None:
    with pytest.raises(DataFormatError, match="same windows"):
        compare_features(np.zeros((2, 3)), np.zeros((3, 3)), ["a", "b", "c"], CH, 128, 50.0)
