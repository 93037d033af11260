"""Continuous metrics on hand-made label sequences with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import EvaluationError
from tinyhar.evaluation.continuous import (
    Segment,
    continuous_metrics,
    edit_score,
    label_segments,
    levenshtein,
    match_segments,
    windows_to_samples,
)

# session 1: two true segments, heavy flicker in the prediction
T1 = list("AAAAAABBBBBB")
P1 = list("AAABAABBBBAB")
# session 2: an unlabelled gap (""), the change A -> B across it detected 2 windows late
T2 = ["A", "A", "A", "", "", "B", "B", "B", "B"]
P2 = list("AAAAAAABB")


def test_segments_cut_at_excluded_positions():
    mask = np.array([v != "" for v in T2])
    assert label_segments(T2, mask) == [Segment(0, 3, "A"), Segment(5, 9, "B")]
    assert label_segments(P2, mask) == [
        Segment(0, 3, "A"), Segment(5, 7, "A"), Segment(7, 9, "B")
    ]
    assert label_segments([]) == []


def test_session_with_flicker():
    m = continuous_metrics(T1, P1)
    assert m["accuracy"] == pytest.approx(10 / 12)
    # segments: true A[0,6) B[6,12); predicted A[0,3) B[3,4) A[4,6) B[6,10) A[10,11) B[11,12)
    assert m["n_true_segments"] == 2 and m["n_pred_segments"] == 6
    assert m["oversegmentation"] == pytest.approx(3.0)
    # matches: A[0,6)~A[0,3) IoU 0.5 (>= 0.5 counts), B[6,12)~B[6,10) IoU 4/6 -> TP 2, FP 4
    assert m["segment_f1"] == pytest.approx(2 * 2 / (2 * 2 + 4 + 0))
    assert m["segment_precision"] == pytest.approx(2 / 6) and m["segment_recall"] == 1.0
    # edit: ABABAB vs AB needs 4 deletions -> 100 * (1 - 4/6)
    assert m["edit_score"] == pytest.approx(100 / 3)
    assert m["n_changes"] == 1 and m["median_delay_s"] == 0.0


def test_two_sessions_with_gap_and_delay():
    y_true = T1 + T2
    y_pred = P1 + P2
    sessions = ["s1"] * len(T1) + ["s2"] * len(T2)
    m = continuous_metrics(y_true, y_pred, sessions, step_s=0.5)
    assert m["n"] == 21 and m["n_excluded"] == 2 and m["n_scored"] == 19
    assert m["n_sessions"] == 2
    # session 2: TP 2 (A IoU 1, B[5,9)~B[7,9) IoU 0.5), FP 1; pooled TP 4, FP 5, FN 0
    assert m["segment_f1"] == pytest.approx(8 / 13)
    assert m["oversegmentation"] == pytest.approx(9 / 4)
    # edit session 2: AAB vs AB -> 1 edit of 3 -> 66.7; mean with 33.3
    assert m["edit_score"] == pytest.approx(50.0)
    # delays: 0 (session 1) and 2 windows = 1.0 s (session 2) -> median 0.5 s
    assert m["n_changes"] == 2 and m["n_changes_missed"] == 0
    assert m["median_delay_s"] == pytest.approx(0.5)
    # a 0.5 s horizon (1 window) misses the late detection
    m = continuous_metrics(y_true, y_pred, sessions, step_s=0.5, horizon_s=0.5)
    assert m["n_changes_missed"] == 1 and m["median_delay_s"] == 0.0
    # accuracy over scored positions: session 1 10/12, session 2 5/7
    assert m["accuracy"] == pytest.approx(15 / 19)


def test_window_scores_kappa_and_unknown_prediction():
    # kappa: po = 3/4, pe = 2/4*1/4 + 2/4*3/4 = 1/2 -> 0.5
    m = continuous_metrics(list("AABB"), list("ABBB"))
    assert m["kappa"] == pytest.approx(0.5)
    # a predicted "unknown" counts as wrong, not as a class: F1 A = 2/3, B = 1
    m = continuous_metrics(list("AABB"), ["A", "unknown", "B", "B"])
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["n_pred_segments"] == 3  # A, unknown, B: the unknown segment is a false positive
    # transitions excluded by name; None is always excluded
    m = continuous_metrics(
        ["A", None, "T", "B"], ["A", "A", "B", "B"], exclude=("", "T")
    )
    assert m["n_excluded"] == 2 and m["accuracy"] == 1.0 and m["kappa"] == 1.0


def test_helpers():
    assert levenshtein("kitten", "sitting") == 3
    assert edit_score([], []) == 100.0
    # a predicted segment with IoU 0.5 against two true ones matches only one of them
    true = [Segment(0, 5, "A"), Segment(5, 10, "A")]
    assert match_segments(true, [Segment(0, 10, "A")], 0.5) == 1
    assert match_segments([Segment(0, 10, "A")], true, 0.5) == 1
    # IoU 4/11 is below the threshold; another label never matches
    assert match_segments([Segment(0, 5, "A")], [Segment(1, 9, "A")], 0.5) == 0
    assert match_segments([Segment(0, 5, "A")], [Segment(0, 5, "B")], 0.5) == 0


def test_bad_input():
    with pytest.raises(EvaluationError, match="3 predictions against 2"):
        continuous_metrics(["A", "B"], ["A", "B", "B"])
    with pytest.raises(EvaluationError, match="no position to score"):
        continuous_metrics(["", ""], ["A", "B"])
    with pytest.raises(EvaluationError, match="step_s"):
        continuous_metrics(["A"], ["A"], step_s=0)


def test_windows_to_samples():
    # windows of 4 samples, hop 2, starting at 0, 2, 6 (the window at 4 was dropped)
    out = windows_to_samples(["A", "B", "C"], np.array([0, 2, 6]), 4, 12)
    # centres 2, 4, 8 (sample i sits at i + 0.5): samples 0-2 -> A, 3-5 -> B (5 is inside B,
    # centre 4 nearer than 8), 6-9 -> C, 10-11 are covered by no window
    assert windows_to_samples(["A", "B"], np.array([0, 2]), 2, 4).tolist() == list("AABB")
    assert out.tolist() == list("AAABBBCCCC") + ["", ""]
    with pytest.raises(EvaluationError, match="increase"):
        windows_to_samples(["A", "B"], np.array([2, 0]), 4, 8)
