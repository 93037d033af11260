"""Timeline figure of a recording: signal, true labels, raw and smoothed predictions, unknowns."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyhar.evaluation.continuous import label_segments
from tinyhar.postprocess.rejection import UNKNOWN_CLASS
from tinyhar.reporting.plots import _save, plt
from tinyhar.reporting.text import plural

MAX_TIMELINE_SESSIONS = 8
"""Sessions drawn at most in one timeline figure (the first ones, in order)."""


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
        around its centre, so consecutive windows tile the time axis.
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
        ax.plot(centre, magnitude[idx], lw=0.8, color="0.2")
        ax.set_ylabel("|acc| (g)")
        ax.set_title(f"session {s}", fontsize=9, loc="left")
        ax.tick_params(labelbottom=False)
        ax.set_xlim(centre[0] - hop_s, centre[-1] + hop_s)
        for r, labels in enumerate(rows.values()):
            y0 = len(rows) - 1 - r
            for seg in label_segments(np.asarray(labels)[idx]):
                if seg.label == "":
                    continue
                x0 = centre[seg.start] - hop_s / 2
                width = centre[seg.end - 1] - centre[seg.start] + hop_s
                band.broken_barh([(x0, width)], (y0 + 0.1, 0.8),
                                 color=colour.get(seg.label, "0.6"))
        band.set_yticks(np.arange(len(rows)) + 0.5, list(rows)[::-1])
        band.set_ylim(0, len(rows))
        band.set_xlim(ax.get_xlim())
        band.set_xlabel("time (s)")
    handles = [Patch(color=colour[c], label=c) for c in classes]
    drawn = {str(v) for labels in rows.values() for v in np.asarray(labels).tolist()}
    if UNKNOWN_CLASS in drawn and UNKNOWN_CLASS not in classes:
        handles.append(Patch(color=colour[UNKNOWN_CLASS], label=UNKNOWN_CLASS))
    handles.append(Patch(color="0.6", label="invalid / other"))
    fig.legend(handles=handles, loc="outside upper center", ncol=min(7, len(handles)),
               fontsize=8, title=title, title_fontsize=10, frameon=False)
    return _save(fig, path, dpi=90)
