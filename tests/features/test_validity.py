"""The input contract: which windows are invalid (NaN, inf, |x| > MAX_ABS_INPUT as float32)."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import DataFormatError
from tinyhar.features.validity import (
    MAX_ABS_INPUT,
    check_valid,
    describe_invalid,
    invalid_values,
    invalid_windows,
)

CHANNELS = ["acc_x", "acc_y", "acc_z"]


def _windows(n=4) -> np.ndarray:
    X = np.zeros((n, 32, 3), np.float32)
    X[:, :, 2] = 1.0
    return X


def test_finite_small_zero_constant_and_denormal_windows_are_valid() -> None:
    X = _windows(4)
    X[1] = 0.0
    X[2] = 0.25
    X[3] = np.float32(1e-40) * (np.arange(96).reshape(32, 3) % 5 - 2)  # subnormal float32
    assert np.all(X[3][X[3] != 0] != 0) and np.abs(X[3]).max() < np.finfo(np.float32).tiny
    assert not invalid_windows(X).any()
    check_valid(X, CHANNELS)  # no error


@pytest.mark.parametrize(
    "value",
    [np.nan, np.inf, -np.inf, 1e30, -1e30, 1e6, -1e6, 1e39, -1e39],
    ids=["nan", "+inf", "-inf", "+1e30", "-1e30", "+1e6", "-1e6", "1e39->inf", "-1e39->-inf"],
)
def test_one_bad_value_makes_only_its_window_invalid(value: float) -> None:
    X = _windows(3).astype(np.float64)
    X[1, 17, 2] = value
    assert invalid_windows(X).tolist() == [False, True, False]


def test_the_bound_is_inclusive_and_checked_in_float32() -> None:
    X = _windows(4).astype(np.float64)
    X[0, 0, 0] = MAX_ABS_INPUT
    X[1, 0, 0] = -MAX_ABS_INPUT
    X[2, 0, 0] = np.nextafter(np.float32(MAX_ABS_INPUT), np.float32(np.inf))
    X[3, 0, 0] = MAX_ABS_INPUT + 1e-4  # float64 above the bound, float32 rounds onto it
    assert np.float32(X[3, 0, 0]) == np.float32(MAX_ABS_INPUT)
    assert invalid_windows(X).tolist() == [False, False, True, False]


def test_alternating_and_all_nan_windows() -> None:
    X = _windows(2)
    X[0, :, 0] = np.where(np.arange(32) % 2, 1e30, -1e30)
    X[1] = np.nan
    assert invalid_windows(X).tolist() == [True, True]
    assert invalid_values(X[1]).all() and invalid_values(X[0]).sum() == 32


def test_message_names_windows_sample_channel_value_and_what_to_do() -> None:
    X = _windows(9)
    for w in (2, 3, 4, 5, 6, 8):
        X[w, 5, 1] = np.nan
    X[2, 3, 2] = -np.inf  # earlier sample of the first bad window
    msg = describe_invalid(X, CHANNELS)
    assert msg.startswith("6 windows hold values outside the accepted input")
    assert "window indices 2, 3, 4, 5, 6 and 1 more" in msg
    assert "window 2, sample 3, channel acc_z is -inf" in msg
    assert "on_invalid='mark'" in msg
    with pytest.raises(DataFormatError, match=r"^rec\.csv: 6 windows"):
        check_valid(X, CHANNELS, "rec.csv")
    assert describe_invalid(_windows(2), CHANNELS) == ""


def test_not_three_dimensional_is_a_data_format_error() -> None:
    with pytest.raises(DataFormatError, match="n_windows, n_samples, n_channels"):
        invalid_windows(np.zeros((4, 3)))
