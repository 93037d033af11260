"""stack_previous: previous window of the same session and deltas."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import DataFormatError
from tinyhar.features import stack_previous, stack_previous_names


def test_previous_window_of_same_session_in_time_order() -> None:
    # two interleaved sessions, rows not in time order
    F = np.array([[10.0], [20.0], [11.0], [12.0], [21.0]], dtype=np.float32)
    session = np.array(["a", "b", "a", "a", "b"])
    start = np.array([2.56, 0.0, 0.0, 1.28, 1.28])
    out = stack_previous(F, session, start)
    assert out.shape == (5, 3) and out.dtype == np.float32
    prev = out[:, 1]
    # a: t=0 -> 11 (first: itself), t=1.28 -> 12 (prev 11), t=2.56 -> 10 (prev 12)
    np.testing.assert_array_equal(prev, [12.0, 20.0, 11.0, 11.0, 20.0])
    np.testing.assert_array_equal(out[:, 2], F[:, 0] - prev)
    # first windows of a session: delta 0
    assert out[2, 2] == 0.0 and out[1, 2] == 0.0


def test_max_gap_and_unknown_start_times() -> None:
    F = np.arange(4, dtype=np.float64)[:, None]
    out = stack_previous(F, ["s"] * 4, [0.0, 1.0, 5.0, 6.0], max_gap_s=1.5)
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0, 2.0, 2.0])
    # NaN start times: input order
    out = stack_previous(F, ["s"] * 4, [np.nan] * 4)
    np.testing.assert_array_equal(out[:, 1], [0.0, 0.0, 1.0, 2.0])


def test_names_and_errors() -> None:
    assert stack_previous_names(["a", "b"]) == ["a", "b", "prev_a", "prev_b", "delta_a", "delta_b"]
    with pytest.raises(DataFormatError, match="one entry per window"):
        stack_previous(np.zeros((3, 2)), ["s"] * 2, [0, 1, 2])
    with pytest.raises(DataFormatError, match="n_windows, n_features"):
        stack_previous(np.zeros(3), ["s"] * 3, [0, 1, 2])
    assert stack_previous(np.zeros((0, 2)), [], []).shape == (0, 6)
