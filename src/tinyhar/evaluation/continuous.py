"""Metrics for continuous recognition: label sequences over whole sessions.

Unlike :mod:`tinyhar.evaluation.metrics`, which scores windows independently,
these metrics look at each session's sequence of labels in time order, as a
user sees a timeline. Each position of a sequence is one window (or one
sample: pass per-sample sequences and ``step_s = 1 / sampling rate``), all of
the same duration ``step_s`` seconds.

Scored positions: those whose true label is not in ``exclude`` (unlabelled
spans, and for example postural transitions a model does not know). They are
left out of every score and counted in ``n_excluded``; they also cut
segments (a segment never spans an excluded position). A predicted label that
is not a true class (for example ``"unknown"``) simply counts as wrong.

Definitions
-----------
- accuracy, macro-F1 (over the true classes present; Sokolova & Lapalme 2009)
  and Cohen's kappa (Cohen 1960, Educational and Psychological Measurement
  20(1)) on the scored positions, from scikit-learn.
- segments: maximal runs of one label among consecutive scored positions.
- segment F1 at IoU >= ``iou_threshold`` (default 0.5): a predicted and a
  true segment of the same label may match when the intersection over union
  of their spans is at least the threshold; pairs are matched one-to-one
  greedily by decreasing IoU (ties: earlier true, then earlier predicted
  segment). Matched pairs are true positives, unmatched predicted segments
  false positives, unmatched true segments false negatives;
  ``F1 = 2 TP / (2 TP + FP + FN)`` over all sessions (the segmental F1@k of
  Lea et al. 2017 and Farha & Gall 2019, MS-TCN, with one-to-one matching).
- over-segmentation: predicted segments / true segments (all sessions; 1 is
  ideal, above 1 means flicker).
- edit score: ``100 * (1 - Levenshtein(pred, true) / max(len(pred),
  len(true)))`` on the sequences of segment labels of a session, averaged
  over sessions (Lea, Flynn, Vidal, Reiter, Hager 2017, "Temporal
  convolutional networks for action segmentation and detection", CVPR;
  first proposed in Lea et al. 2016, ECCV workshops).
- delay to detect a change: for each true segment whose label differs from
  the previous true segment of its session (excluded spans may lie between),
  the time from its first position until the prediction first equals its
  label, searched within the segment and at most ``horizon_s`` seconds;
  changes not detected so are counted as missed. Reported as the median over
  detected changes.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import NamedTuple

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score

from tinyhar.core.ids import repeated_id
from tinyhar.errors import EvaluationError

DEFAULT_EXCLUDE = ("",)
"""True labels not scored by default (``""`` = unlabelled); ``None``/NaN always are."""


class Segment(NamedTuple):
    """A maximal run of one label: positions ``start`` (inclusive) to ``end`` (exclusive)."""

    start: int
    end: int
    label: object


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def scored_mask(y_true: np.ndarray, exclude: Collection = DEFAULT_EXCLUDE) -> np.ndarray:
    """Positions whose true label is scored.

    Parameters
    ----------
    y_true : numpy.ndarray, shape (n,)
    exclude : collection
        Labels not scored (``None`` and NaN never are).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    ex = set(exclude)
    return np.array([not (_is_missing(v) or v in ex) for v in y_true], dtype=bool)


def label_segments(labels: Sequence, mask: np.ndarray | None = None) -> list[Segment]:
    """Maximal runs of equal labels among consecutive masked-in positions.

    Parameters
    ----------
    labels : sequence, shape (n,)
        Labels of one session in time order.
    mask : numpy.ndarray of bool, shape (n,), optional
        Positions to keep; a ``False`` position ends the current segment
        (default: all kept).

    Returns
    -------
    list of Segment
    """
    labels = list(labels)
    n = len(labels)
    if mask is None:
        mask = np.ones(n, dtype=bool)
    out: list[Segment] = []
    start = None
    for i in range(n + 1):
        end_run = (
            i == n or not mask[i] or (start is not None and labels[i] != labels[start])
        )
        if start is not None and end_run:
            out.append(Segment(start, i, labels[start]))
            start = None
        if i < n and mask[i] and start is None:
            start = i
    return out


def match_segments(
    true: Sequence[Segment], pred: Sequence[Segment], iou_threshold: float = 0.5
) -> int:
    """Number of one-to-one matches of same-label segments with IoU >= the threshold.

    Parameters
    ----------
    true, pred : sequence of Segment
        Segments of one session.
    iou_threshold : float in (0, 1]

    Returns
    -------
    int
        True positives (greedy matching by decreasing IoU, see the module
        docstring).
    """
    pairs = []
    for gi, g in enumerate(true):
        for pi, p in enumerate(pred):
            if p.label != g.label or p.end <= g.start or p.start >= g.end:
                continue
            inter = min(p.end, g.end) - max(p.start, g.start)
            union = max(p.end, g.end) - min(p.start, g.start)
            iou = inter / union
            if iou >= iou_threshold:
                pairs.append((-iou, gi, pi))
    pairs.sort()
    used_g, used_p = set(), set()
    for _, gi, pi in pairs:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
    return len(used_g)


def levenshtein(a: Sequence, b: Sequence) -> int:
    """Edit distance (insertions, deletions, substitutions of cost 1) between two sequences."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, z in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != z))
        prev = cur
    return prev[-1]


def edit_score(true: Sequence[Segment], pred: Sequence[Segment]) -> float:
    """Segmental edit score in [0, 100] of one session (Lea et al. 2017).

    Parameters
    ----------
    true, pred : sequence of Segment

    Returns
    -------
    float
        ``100 * (1 - levenshtein / max(len(true), len(pred)))``; 100 when
        both are empty.
    """
    a = [s.label for s in pred]
    b = [s.label for s in true]
    m = max(len(a), len(b))
    return 100.0 if m == 0 else 100.0 * (1.0 - levenshtein(a, b) / m)


def change_delays(
    true: Sequence[Segment], y_pred: Sequence, horizon: int | None = None
) -> list[int | None]:
    """Delay (positions) to detect each true change of one session.

    Parameters
    ----------
    true : sequence of Segment
        True segments of the session (:func:`label_segments`).
    y_pred : sequence, shape (n,)
        Predicted labels of the session.
    horizon : int, optional
        Longest delay searched (positions); default: the new segment's length.

    Returns
    -------
    list of int or None
        One entry per change (a segment whose label differs from the previous
        segment's): positions until the prediction first equals the new
        label, or ``None`` when it does not within the segment and horizon.
    """
    out: list[int | None] = []
    for prev, seg in zip(true[:-1], true[1:], strict=False):
        if seg.label == prev.label:
            continue
        stop = seg.end if horizon is None else min(seg.end, seg.start + horizon + 1)
        delay = None
        for j in range(seg.start, stop):
            if y_pred[j] == seg.label:
                delay = j - seg.start
                break
        out.append(delay)
    return out


def windows_to_samples(
    values: Sequence,
    start: np.ndarray,
    window: int,
    n_samples: int,
    fill: object = "",
) -> np.ndarray:
    """Spread per-window labels over the samples of one session (for per-sample scores).

    Each sample takes the value of the window whose centre is nearest to it
    (ties: the earlier window), provided the sample lies inside that window;
    samples covered by no window (before the first, after the last, in gaps
    where windows were dropped) get ``fill``.

    Parameters
    ----------
    values : sequence, shape (n_windows,)
        Label (or class index) per window, windows in time order.
    start : numpy.ndarray of int, shape (n_windows,)
        Index of each window's first sample in the session (increasing).
    window : int
        Window length in samples.
    n_samples : int
        Number of samples of the session.
    fill : object
        Value for uncovered samples (default ``""``, unlabelled).

    Returns
    -------
    numpy.ndarray of object, shape (n_samples,)

    Raises
    ------
    EvaluationError
        If the lengths disagree or ``start`` is not increasing.
    """
    vals = np.asarray(list(values), dtype=object)
    start = np.asarray(start, dtype=np.int64)
    if vals.shape != start.shape:
        raise EvaluationError(f"{len(vals)} window values for {len(start)} window starts")
    if np.any(np.diff(start) <= 0):
        raise EvaluationError("window starts must increase within a session (time order)")
    out = repeated_id(fill, n_samples)  # one object, not a copy per sample
    if vals.size == 0:
        return out
    centre2 = 2 * start + int(window)  # twice the centre, in samples (integer arithmetic)
    pos2 = 2 * np.arange(int(n_samples)) + 1  # twice each sample's centre
    right = np.clip(np.searchsorted(centre2, pos2), 0, vals.size - 1)
    left = np.clip(right - 1, 0, vals.size - 1)
    nearest = np.where(np.abs(pos2 - centre2[left]) <= np.abs(centre2[right] - pos2), left, right)
    i = np.arange(int(n_samples))
    inside = (i >= start[nearest]) & (i < start[nearest] + int(window))
    out[inside] = vals[nearest[inside]]
    return out


def continuous_metrics(
    y_true: Sequence,
    y_pred: Sequence,
    sessions: Sequence | None = None,
    step_s: float = 1.0,
    classes: Sequence | None = None,
    exclude: Collection = DEFAULT_EXCLUDE,
    iou_threshold: float = 0.5,
    horizon_s: float | None = None,
) -> dict:
    """Score predicted label sequences against true ones, session by session.

    Parameters
    ----------
    y_true, y_pred : sequence, shape (n,)
        True and predicted label per position (window or sample), in time
        order within each session.
    sessions : sequence, shape (n,), optional
        Session id per position (default: one session).
    step_s : float > 0
        Duration of one position in seconds (the hop for windows,
        ``1 / rate`` for samples); delays are reported in seconds.
    classes : sequence, optional
        Classes averaged by macro-F1 (default: the true classes present).
    exclude : collection
        True labels not scored (default ``("",)``; ``None``/NaN always).
    iou_threshold : float in (0, 1]
        Segment match threshold.
    horizon_s : float, optional
        Longest detection delay searched, in seconds (default: the length of
        the new true segment).

    Returns
    -------
    dict
        ``n``, ``n_scored``, ``n_excluded``, ``n_sessions``, ``accuracy``,
        ``macro_f1``, ``kappa``, ``segment_f1``, ``segment_precision``,
        ``segment_recall``, ``n_true_segments``, ``n_pred_segments``,
        ``oversegmentation``, ``edit_score`` (0..100), ``n_changes``,
        ``n_changes_missed``, ``median_delay_s`` (None when no change was
        detected). Scores computed on nothing are None.

    Raises
    ------
    EvaluationError
        If the sequences differ in length or nothing is scored, or on a bad
        ``step_s``/``iou_threshold``.
    """
    yt = np.asarray(list(y_true), dtype=object)
    yp = np.asarray(list(y_pred), dtype=object)
    n = len(yt)
    if len(yp) != n:
        raise EvaluationError(f"cannot score {len(yp)} predictions against {n} true labels")
    sess = np.zeros(n, dtype=object) if sessions is None else np.asarray(sessions, dtype=object)
    if len(sess) != n:
        raise EvaluationError(f"{len(sess)} session ids for {n} labels")
    if not float(step_s) > 0:
        raise EvaluationError(f"step_s must be > 0 seconds, got {step_s!r}")
    if not 0 < float(iou_threshold) <= 1:
        raise EvaluationError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
    scored = scored_mask(yt, exclude)
    if not scored.any():
        raise EvaluationError(
            f"no position to score: all {n} true labels are excluded ({sorted(map(str, exclude))})"
        )
    horizon = None if horizon_s is None else int(np.floor(float(horizon_s) / float(step_s)))
    t, p = yt[scored].astype(str), yp[scored].astype(str)
    labels = [str(c) for c in classes] if classes is not None else sorted(set(t))
    result = {
        "n": int(n),
        "n_scored": int(scored.sum()),
        "n_excluded": int(n - scored.sum()),
        "accuracy": float(accuracy_score(t, p)),
        "macro_f1": float(f1_score(t, p, labels=labels, average="macro", zero_division=0)),
        "kappa": _kappa(t, p),
    }
    tp = n_true = n_pred = 0
    edits, delays, missed = [], [], 0
    order = list(dict.fromkeys(sess.tolist()))
    for s in order:
        idx = np.flatnonzero(sess == s)
        m = scored[idx]
        true_segs = label_segments(yt[idx], m)
        pred_segs = label_segments(yp[idx], m)
        if not true_segs:
            continue
        tp += match_segments(true_segs, pred_segs, iou_threshold)
        n_true += len(true_segs)
        n_pred += len(pred_segs)
        edits.append(edit_score(true_segs, pred_segs))
        for d in change_delays(true_segs, yp[idx], horizon):
            if d is None:
                missed += 1
            else:
                delays.append(d)
    fp, fn = n_pred - tp, n_true - tp
    result.update(
        n_sessions=len(edits),
        segment_f1=float(2 * tp / (2 * tp + fp + fn)),
        segment_precision=float(tp / n_pred) if n_pred else None,
        segment_recall=float(tp / n_true),
        n_true_segments=int(n_true),
        n_pred_segments=int(n_pred),
        oversegmentation=float(n_pred / n_true),
        edit_score=float(np.mean(edits)),
        n_changes=len(delays) + missed,
        n_changes_missed=int(missed),
        median_delay_s=float(np.median(delays) * float(step_s)) if delays else None,
    )
    return result


def _kappa(t: np.ndarray, p: np.ndarray) -> float:
    """Cohen's kappa; 1.0 when both sequences hold one and the same label (agreement)."""
    if len(set(t) | set(p)) == 1:
        return 1.0
    return float(cohen_kappa_score(t, p))
