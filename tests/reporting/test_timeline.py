"""The timeline figure stays cheap for a whole day: the signal curve is thinned to bins."""

from __future__ import annotations

import numpy as np

from tinyhar.reporting.timeline import envelope


def test_a_long_curve_becomes_bin_means_and_a_min_max_band():
    x = np.arange(11, dtype=float)
    y = np.array([0, 4, 1, 1, 2, 6, np.nan, np.nan, 3, 5, 7], dtype=float)
    xs, mean, low, high = envelope(x, y, max_points=5)  # bins of 3 (the last of 2)
    np.testing.assert_allclose(xs, [1, 4, 7, 9.5])
    np.testing.assert_allclose(mean, [5 / 3, 3, 3, 6])
    np.testing.assert_allclose(low, [0, 1, 3, 5])
    np.testing.assert_allclose(high, [4, 6, 3, 7])
    gap = envelope(x, np.r_[np.zeros(8), np.full(3, np.nan)], max_points=4)[1]
    assert np.isnan(gap[-1]) and not np.isnan(gap[:-1]).any()


def test_a_short_curve_is_drawn_as_it_is():
    x, y = np.arange(5.0), np.arange(5.0) ** 2
    xs, mean, low, high = envelope(x, y, max_points=5)
    assert xs is x and mean is y and low is None and high is None
