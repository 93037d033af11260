"""Timeline figure of a recording: signal, true labels, raw and smoothed predictions, unknowns."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyhar.evaluation.continuous import label_segments
from tinyhar.postprocess.rejection import UNKNOWN_CLASS
from tinyhar.reporting.plots import _save, plt
from tinyhar.reporting.text import axis_label, plural
from tinyhar.windows.cutting import GAP_FACTOR

MAX_TIMELINE_SESSIONS = 8
"""Sessions drawn at most in one timeline figure (the first ones, in order)."""
MAX_LINE_POINTS = 4000
"""Windows of a session drawn one by one in the signal panel; a longer session (a day at a
1.28 s hop is 67,500 windows) is drawn as the mean and the min-max band of equal bins of
windows (:func:`envelope`), so the figure's cost does not grow with the recording."""


def plot_timeline(
    session: np.ndarray,
    t_start: np.ndarray,
    window_s: float,
    hop_s: float,
    magnitude: np.ndarray,
    rows: dict[str, np.ndarray],
    classes: Sequence[str],
    path: str | Path,
    title: str = "",
    max_sessions: int = MAX_TIMELINE_SESSIONS,
    origins: dict[str, float] | None = None,
) -> Path:
    """Draw, per session, the signal magnitude and label bands (true, raw, smoothed).

    Parameters
    ----------
    session : numpy.ndarray, shape (n_windows,)
        Session id per window (windows of a session in time order).
    t_start : numpy.ndarray of float, shape (n_windows,)
        Window start in s from the session start.
    window_s, hop_s : float
        Window length and hop in s; a window is drawn over the ``hop_s``
        around its centre, so consecutive windows tile the time axis (a gap
        between windows stays blank: :func:`label_spans`,
        :func:`signal_curve`).
    magnitude : numpy.ndarray of float, shape (n_windows,)
        Mean acceleration magnitude per window in g (NaN: not drawn).
    rows : dict of str -> numpy.ndarray of str, shape (n_windows,)
        Label bands from top to bottom, e.g. ``{"true": y, "raw": ...,
        "smoothed": ...}``; ``""`` is not drawn, ``"unknown"`` (rejected
        windows, :data:`tinyhar.postprocess.UNKNOWN_CLASS`) is drawn black,
        ``"invalid"`` and other labels outside ``classes`` grey.
    classes : sequence of str
        Classes, for the colours and the legend.
    path : str or Path
        Output PNG.
    title : str
    max_sessions : int
        Draw at most this many sessions (the title says so when there are more).
    origins : dict of str -> float, optional
        Session -> clock time of its start in s since the Unix epoch, UTC
        (:attr:`tinyhar.datasets.recording.RecordingSet.origins`): the time
        axis of such a session reads UTC clock time (:func:`clock_axis`).

    Returns
    -------
    Path
    """
    from matplotlib.patches import Patch

    order = list(dict.fromkeys(np.asarray(session).tolist()))
    shown = order[:max_sessions]
    if len(order) > len(shown):
        title += f" (first {len(shown)} of {plural(len(order), 'session')})"
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    colour = {c: cmap(i % cmap.N) for i, c in enumerate(classes)}
    colour.setdefault(UNKNOWN_CLASS, "black")
    n = max(1, len(shown))
    fig, axes = plt.subplots(
        2 * n, 1, figsize=(12, 2.4 * n + 1.0), squeeze=False, layout="constrained",
        gridspec_kw={"height_ratios": [1.0, 0.25 * len(rows) + 0.2] * n},
    )
    for k, s in enumerate(shown):
        idx = np.flatnonzero(np.asarray(session) == s)
        centre = t_start[idx] + window_s / 2
        ax, band = axes[2 * k, 0], axes[2 * k + 1, 0]
        x, mean, low, high = signal_curve(centre, np.asarray(magnitude, dtype=np.float64)[idx],
                                          hop_s)
        if low is not None:
            ax.fill_between(x, low, high, color="0.75", lw=0)
        ax.plot(x, mean, lw=0.8, color="0.2")
        ax.set_ylabel("|acc| (g)")
        ax.set_title(f"session {s}", fontsize=9, loc="left")
        ax.tick_params(labelbottom=False)
        ax.set_xlim(centre[0] - hop_s, centre[-1] + hop_s)
        for r, labels in enumerate(rows.values()):
            y0 = len(rows) - 1 - r
            for label, xranges in label_spans(centre, np.asarray(labels)[idx], hop_s).items():
                band.broken_barh(xranges, (y0 + 0.1, 0.8), color=colour.get(label, "0.6"))
        band.set_yticks(np.arange(len(rows)) + 0.5, list(rows)[::-1])
        band.set_ylim(0, len(rows))
        band.set_xlim(ax.get_xlim())
        if origins is not None and s in origins:
            clock_axis([ax, band], origins[s])
        else:
            band.set_xlabel("time (s)")
    handles = [Patch(color=colour[c], label=axis_label(c, width=28)) for c in classes]
    drawn = {str(v) for labels in rows.values() for v in np.asarray(labels).tolist()}
    if UNKNOWN_CLASS in drawn and UNKNOWN_CLASS not in classes:
        handles.append(Patch(color=colour[UNKNOWN_CLASS], label=UNKNOWN_CLASS))
    handles.append(Patch(color="0.6", label="invalid / other"))
    fig.legend(handles=handles, loc="outside upper center", ncol=min(7, len(handles)),
               fontsize=8, title=title, title_fontsize=10, frameon=False)
    return _save(fig, path, dpi=90)


def _gaps(centre: np.ndarray, hop_s: float) -> np.ndarray:
    """Positions ``i`` where window ``i`` follows window ``i - 1`` after a gap (its centre
    more than :data:`~tinyhar.windows.cutting.GAP_FACTOR` hops later), increasing."""
    return np.flatnonzero(np.diff(centre) > GAP_FACTOR * hop_s) + 1


def label_spans(centre: np.ndarray, labels: np.ndarray,
                hop_s: float) -> dict[str, list[tuple[float, float]]]:
    """The bars of one label band: each maximal run of one label over consecutive windows.

    A window covers the ``hop_s`` around its centre, so the bars of
    consecutive windows tile the axis; a run ends at a change of label and at
    a gap between windows (the gap stays blank).

    Parameters
    ----------
    centre : numpy.ndarray of float, shape (n_windows,)
        Window centres in s, increasing (one session).
    labels : numpy.ndarray of str, shape (n_windows,)
        Label per window; ``""`` is not drawn.
    hop_s : float
        Hop between windows in s.

    Returns
    -------
    dict of str -> list of (float, float)
        Label -> ``(left, width)`` in s of each bar, in time order (one
        collection per label: thousands of bars a day draw at once).
    """
    labels = np.asarray(labels, dtype=object)
    spans: dict[str, list[tuple[float, float]]] = {}
    cuts = [0, *_gaps(centre, hop_s).tolist(), len(labels)]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        for seg in label_segments(labels[a:b]):
            if seg.label != "":
                first, last = centre[a + seg.start], centre[a + seg.end - 1]
                spans.setdefault(seg.label, []).append(
                    (float(first - hop_s / 2), float(last - first + hop_s)))
    return spans


def signal_curve(centre: np.ndarray, values: np.ndarray, hop_s: float,
                 max_points: int = MAX_LINE_POINTS):
    """The signal panel's curve: :func:`envelope` of each contiguous part, NaN in each gap.

    Parameters
    ----------
    centre : numpy.ndarray of float, shape (n_windows,)
        Window centres in s, increasing (one session).
    values : numpy.ndarray of float, shape (n_windows,)
    hop_s : float
        Hop between windows in s (gaps as :func:`label_spans`).
    max_points : int
        Most points drawn in all (shared among the parts by their windows).

    Returns
    -------
    x, mean : numpy.ndarray
        As :func:`envelope`, parts joined with a ``(midpoint of the gap,
        NaN)`` point between them, so that the curve is not drawn across a
        gap (bins never straddle one).
    low, high : numpy.ndarray or None
        The min-max band (``mean`` where a part is not thinned); None when
        no part is.
    """
    centre = np.asarray(centre, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    cuts = [0, *_gaps(centre, hop_s).tolist(), len(centre)]
    if len(cuts) == 2:
        return envelope(centre, values, max_points)
    pieces = []
    for k, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        x, mean, low, high = envelope(centre[a:b], values[a:b],
                                      max(1, max_points * (b - a) // len(centre)))
        if k:
            pieces.append((np.array([(centre[a - 1] + centre[a]) / 2]), np.array([np.nan]),
                           np.array([np.nan]), np.array([np.nan])))
        pieces.append((x, mean, mean if low is None else low, mean if high is None else high))
    x, mean, low, high = (np.concatenate(p) for p in zip(*pieces, strict=True))
    thinned = len(x) < len(centre) + len(cuts) - 2
    return (x, mean, low, high) if thinned else (x, mean, None, None)


_CLOCK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
                21600, 43200, 86400)
"""Tick steps of a clock axis in s (:func:`clock_axis`): each divides a day (or is one)."""


def clock_axis(axes: Sequence, origin: float, max_ticks: int = 10) -> None:
    """Tick axes of seconds from a session start at UTC clock times.

    Ticks fall on whole clock steps (:data:`_CLOCK_STEPS`: the smallest of at
    most ``max_ticks`` ticks over the axis' limits), labelled ``HH:MM`` (``HH:MM:SS``
    for steps under a minute, ``MM-DD HH:MM`` for steps of 6 hours or more);
    the axis label gives the date and time of the left end.

    Parameters
    ----------
    axes : sequence of matplotlib.axes.Axes
        Sharing x limits (set already), in s from the session start; the last
        gets the axis label.
    origin : float
        Clock time of 0 on the axis, s since the Unix epoch (UTC).
    max_ticks : int
        Most ticks.
    """
    from datetime import UTC, datetime

    from matplotlib.ticker import FixedLocator, FuncFormatter

    low, high = axes[-1].get_xlim()
    step = next((k for k in _CLOCK_STEPS if (high - low) / k <= max_ticks), _CLOCK_STEPS[-1])
    first = np.ceil((origin + low) / step) * step - origin
    ticks = first + step * np.arange(max(0, int(np.floor((high - first) / step)) + 1))
    form = "%H:%M:%S" if step < 60 else "%m-%d %H:%M" if step >= 21600 else "%H:%M"

    def clock(seconds: float) -> datetime:
        return datetime.fromtimestamp(origin + seconds, UTC)

    for ax in axes:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: clock(x).strftime(form)))
    axes[-1].set_xlabel(f"time (UTC), from {clock(low).strftime('%Y-%m-%d %H:%M:%S')}")


def envelope(x: np.ndarray, y: np.ndarray, max_points: int = MAX_LINE_POINTS):
    """A curve thinned for drawing: bin means and min-max band when it has too many points.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (n,)
        Positions (increasing) and values; NaN values are left out of a bin
        (a bin of NaN only stays NaN, a gap in the curve).
    max_points : int
        Most points drawn.

    Returns
    -------
    x, mean : numpy.ndarray
        ``x`` and ``y`` unchanged when ``n <= max_points``; else per bin of
        ``ceil(n / max_points)`` consecutive points, the mean position and
        the mean value.
    low, high : numpy.ndarray or None
        Per bin, the smallest and largest value (None when not thinned).
    """
    n = len(y)
    if n <= max_points:
        return x, y, None, None
    size = -(-n // max_points)
    pad = -n % size
    xs = np.concatenate([x, np.full(pad, np.nan)]).reshape(-1, size)
    ys = np.concatenate([y, np.full(pad, np.nan)]).reshape(-1, size)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN bins: NaN, a gap
        return (np.nanmean(xs, axis=1), np.nanmean(ys, axis=1), np.nanmin(ys, axis=1),
                np.nanmax(ys, axis=1))
