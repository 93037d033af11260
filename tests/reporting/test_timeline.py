"""The timeline figure stays cheap for a whole day: the signal curve is thinned to bins; a
session with clock time gets a UTC time axis."""

from __future__ import annotations

import numpy as np

from tinyhar.reporting.timeline import clock_axis, envelope


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


def test_a_clock_axis_ticks_whole_utc_minutes_of_the_session():
    from tinyhar.reporting.plots import plt  # (Agg)

    fig, axes = plt.subplots(2, 1)
    for ax in axes:
        ax.set_xlim(-1.0, 361.0)  # s from a start at 02:18:20.5 UTC: 02:18:19.5 to 02:24:21.5
    clock_axis(axes, 1479003500.5)
    ticks = axes[1].get_xticks()
    np.testing.assert_allclose(ticks, np.arange(6) * 60 + 39.5)  # 02:19:00 ... 02:24:00
    labels = [axes[1].xaxis.get_major_formatter()(t, k) for k, t in enumerate(ticks)]
    assert labels == ["02:19", "02:20", "02:21", "02:22", "02:23", "02:24"]
    np.testing.assert_allclose(axes[0].get_xticks(), ticks)
    assert axes[1].get_xlabel() == "time (UTC), from 2016-11-13 02:18:19"
    plt.close(fig)


def test_bars_and_signal_break_at_a_gap_in_the_windows():
    """A gap in a session (the sensor off for an hour) stays blank: the label bars and the
    signal curve ran across it (the hour drawn as one bar of the activity before it)."""
    from tinyhar.reporting.timeline import label_spans, signal_curve

    hop = 1.28
    centre = np.r_[np.arange(4) * hop, 3600 + np.arange(3) * hop]
    labels = np.array(["sit"] * 4 + ["sit", "", "walk"], dtype=object)
    spans = label_spans(centre, labels, hop)
    assert list(spans) == ["sit", "walk"]
    np.testing.assert_allclose(spans["sit"], [(-hop / 2, 4 * hop), (3600 - hop / 2, hop)])
    np.testing.assert_allclose(spans["walk"], [(3600 + 1.5 * hop, hop)])
    x, y, low, high = signal_curve(centre, np.arange(7.0), hop)
    np.testing.assert_allclose(x, np.r_[centre[:4], (centre[3] + centre[4]) / 2, centre[4:]])
    np.testing.assert_allclose(y, [0, 1, 2, 3, np.nan, 4, 5, 6])
    assert low is None and high is None
    # thinned (a day of windows): bins stay on their side of the gap
    centre = np.r_[np.arange(400) * hop, 7200 + np.arange(400) * hop]
    x, y, low, high = signal_curve(centre, np.r_[np.zeros(400), np.ones(400)], hop,
                                   max_points=40)
    assert len(x) == 41 and np.isnan(y[20]) and 400 * hop < x[20] < 7200
    np.testing.assert_allclose(np.r_[y[:20], y[21:]], np.r_[np.zeros(20), np.ones(20)])
    np.testing.assert_allclose(np.r_[low[:20], high[21:]], np.r_[np.zeros(20), np.ones(20)])
