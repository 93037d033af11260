"""Labels <-> time spans, and the names shared by :mod:`tinyhar.labelling`.

See the package docstring (*Spans to samples*) for the rules.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tinyhar.errors import DataFormatError

CONTROL_NAME = "label"
"""Name of the ``TimeSeriesLabels`` control (``from_name`` of the regions)."""
OBJECT_NAME = "ts"
"""Name of the ``TimeSeries`` object (``to_name`` of the regions)."""
SEGMENT_LABEL = "?"
"""Placeholder class of change-point suggestions: the labeller names each segment."""
TIME_EPS_S = 1e-6
"""Tolerance (s) when comparing span ends with sample times."""


# ------------------------------------------------------------------ results
@dataclass
class SpanReport:
    """What :func:`labels_from_spans` found for one recording.

    Attributes
    ----------
    labelled : int
        Samples that got a class.
    overlaps : list of (float, float, list of str)
        Time ranges (s) under spans of different classes (left unlabelled).
    gaps : list of (float, float)
        Time ranges (s) under no span, between the first and last labelled
        sample (left unlabelled).
    unlabelled_edges_s : float
        Unlabelled time before the first and after the last labelled sample (s).
    instants : list of float
        Times (s) of instant regions (ignored).
    placeholders : int
        Spans still carrying :data:`SEGMENT_LABEL` (ignored).
    clipped : int
        Spans clipped to the recording (less than one sample interval beyond).
    """

    labelled: int = 0
    overlaps: list[tuple[float, float, list[str]]] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    unlabelled_edges_s: float = 0.0
    instants: list[float] = field(default_factory=list)
    placeholders: int = 0
    clipped: int = 0

    def lines(self) -> list[str]:
        """Human-readable notes (empty when there is nothing to report)."""
        out = []
        if self.overlaps:
            ranges = ", ".join(f"{a:.2f}-{b:.2f} s ({'/'.join(c)})" for a, b, c in
                               self.overlaps[:5])
            more = f" and {len(self.overlaps) - 5} more" if len(self.overlaps) > 5 else ""
            out.append(f"{len(self.overlaps)} overlap(s) of different classes left "
                       f"unlabelled: {ranges}{more}")
        if self.gaps:
            ranges = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in self.gaps[:5])
            more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
            out.append(f"{len(self.gaps)} gap(s) between labels left unlabelled: "
                       f"{ranges}{more}")
        if self.instants:
            out.append(f"{len(self.instants)} instant label(s) ignored (at "
                       f"{', '.join(f'{t:.2f} s' for t in self.instants[:5])}): label a span "
                       "by dragging across it")
        if self.placeholders:
            out.append(f"{self.placeholders} suggested segment(s) still labelled "
                       f"{SEGMENT_LABEL!r} left unlabelled: give each a class")
        if self.clipped:
            out.append(f"{self.clipped} span(s) clipped to the recording's time range")
        return out


def labels_from_spans(
    time: np.ndarray,
    spans: list[tuple[float, float, str]],
    rate_hz: float,
    where: str,
    placeholder: str | None = SEGMENT_LABEL,
) -> tuple[np.ndarray, SpanReport]:
    """Per-sample labels from labelled time spans (package docstring: *Spans to samples*).

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Sample times of one recording (s, increasing).
    spans : list of (start, end, class)
        Closed time ranges in s; ``start == end`` is an instant.
    rate_hz : float
        Sampling rate (Hz): spans may reach at most one sample interval beyond
        the recording.
    where : str
        The file (and task) for messages.
    placeholder : str, optional
        A class that labels nothing (the change-point placeholder).

    Returns
    -------
    labels : numpy.ndarray of object, shape (n_samples,)
        Class per sample, ``None`` where unlabelled.
    report : SpanReport

    Raises
    ------
    DataFormatError
        A span with end before start, or reaching beyond the recording by
        more than one sample interval (naming ``where``, the span and the
        recording's time range).
    """
    time = np.asarray(time, dtype=np.float64)
    n = len(time)
    report = SpanReport()
    if n == 0:
        return np.full(0, None, dtype=object), report
    t0, t1 = float(time[0]), float(time[-1])
    slack = 1.0 / float(rate_hz) + TIME_EPS_S
    classes: list[str] = []
    owner = np.full(n, -1, dtype=np.int64)  # class index, -2 = conflicting classes
    for start, end, cls in spans:
        if end < start:
            raise DataFormatError(where, f"span {start:g}-{end:g} s of {cls!r} ends before it "
                                  "starts; fix its start and end")
        if start < t0 - slack or end > t1 + slack:
            raise DataFormatError(
                where, f"span {start:.3f}-{end:.3f} s of {cls!r} lies outside the recording's "
                f"time range {t0:.3f}-{t1:.3f} s: it belongs to another (longer) recording, or "
                "the times are not in seconds from the recording's start; fix or remove it")
        if start < t0 - TIME_EPS_S or end > t1 + TIME_EPS_S:
            report.clipped += 1
        if end - start <= TIME_EPS_S:
            report.instants.append(float(start))
            continue
        if placeholder is not None and cls == placeholder:
            report.placeholders += 1
            continue
        if cls not in classes:
            classes.append(cls)
        k = classes.index(cls)
        a = int(np.searchsorted(time, start - TIME_EPS_S, side="left"))
        b = int(np.searchsorted(time, end + TIME_EPS_S, side="right"))
        part = owner[a:b]
        part[part == -1] = k
        part[(part >= 0) & (part != k)] = -2
    conflict = owner == -2
    for a, b in _runs(conflict):
        names = sorted({cls for start, end, cls in spans
                        if cls in classes and start - TIME_EPS_S <= time[b - 1]
                        and end + TIME_EPS_S >= time[a]})
        report.overlaps.append((float(time[a]), float(time[b - 1]), names))
    labelled = owner >= 0
    report.labelled = int(labelled.sum())
    if labelled.any():
        first, last = np.flatnonzero(labelled)[[0, -1]]
        inner = ~labelled & ~conflict
        inner[:first] = False
        inner[last + 1:] = False
        report.gaps = [(float(time[a]), float(time[b - 1])) for a, b in _runs(inner)]
        report.unlabelled_edges_s = float(first + (n - 1 - last)) / float(rate_hz)
    table = np.asarray([*classes, None], dtype=object)
    labels = table[np.where(owner >= 0, owner, len(classes))]
    return labels, report


def spans_from_labels(time: np.ndarray, labels: Any) -> list[tuple[float, float, str]]:
    """Maximal runs of one label as closed spans ``(t_first, t_last, class)``.

    The inverse of :func:`labels_from_spans` for labels without overlaps:
    ``labels_from_spans(time, spans_from_labels(time, y), rate)`` gives ``y``
    back exactly (unlabelled samples stay unlabelled).

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Sample times (s).
    labels : array-like, shape (n_samples,)
        Class per sample; missing (None/NA) = unlabelled.

    Returns
    -------
    list of (float, float, str)
    """
    values = pd.Series(labels, dtype="string")
    codes, names = pd.factorize(values, use_na_sentinel=True)
    out = []
    if len(codes) == 0:
        return out
    cut = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    for a, b in zip(np.r_[0, cut], np.r_[cut, len(codes)], strict=True):
        if codes[a] >= 0:
            out.append((float(time[a]), float(time[b - 1]), str(names[codes[a]])))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` where ``mask`` is true."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _region(start: float, end: float, cls: str, score: float | None = None) -> dict:
    """One Label Studio time-series region (result item)."""
    item: dict[str, Any] = {
        "id": uuid.uuid4().hex[:10],
        "from_name": CONTROL_NAME,
        "to_name": OBJECT_NAME,
        "type": "timeserieslabels",
        "value": {"start": start, "end": end, "instant": False, "timeserieslabels": [cls]},
    }
    if score is not None and np.isfinite(score):
        item["score"] = float(score)
    return item


# ------------------------------------------------------------------ export
