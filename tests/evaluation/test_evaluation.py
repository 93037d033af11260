"""Metrics and subject-independent splits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinyhar.errors import EvaluationError
from tinyhar.evaluation.metrics import SmallClassWarning, check_labels, classification_metrics
from tinyhar.evaluation.splits import (
    OFFICIAL_TEST_SUBJECTS,
    LeakageWarning,
    auto_test_subjects,
    group_kfold,
    holdout_split,
    random_split,
)


def test_metrics_known_values():
    y = np.array(["a", "a", "a", "b", "b", "c"], dtype=object)
    p = np.array(["a", "a", "b", "b", "b", "a"], dtype=object)
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recalls a=2/3 b=1 c=0 -> balanced 5/9
    assert m["balanced_accuracy"] == pytest.approx(5 / 9)
    # F1: a: p=2/3 r=2/3 -> 2/3; b: p=2/3 r=1 -> 0.8; c: 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert m["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert m["per_class"]["b"]["support"] == 2
    assert m["classes"] == ["a", "b", "c"]


def test_metrics_with_a_label_outside_the_classes():
    # an "unknown" prediction is a miss of the true class; it has no row or column
    y = np.array(["b", "a", "a", "b"], dtype=object)
    p = np.array(["b", "unknown", "a", "a"], dtype=object)
    m = classification_metrics(y, p, ["b", "a"])  # declared order, not sorted
    assert m["accuracy"] == pytest.approx(2 / 4)
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert m["confusion_matrix"] == [[1, 1], [0, 1]]  # rows b, a; the unknown is dropped
    # F1: b: p=1 r=1/2 -> 2/3; a: p=1/2 r=1/2 -> 1/2
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert m["scored_classes"] == ["b", "a"] and m["absent_classes"] == []


def test_one_class_is_a_clear_error():
    with pytest.raises(EvaluationError, match="at least 2 activities"):
        check_labels(np.array(["a"] * 20, dtype=object), ["a", "b"], "training data")


def test_small_class_warns_not_crashes():
    y = np.array(["a"] * 20 + ["b"] * 3, dtype=object)
    with pytest.warns(SmallClassWarning, match="'b' has only 3 windows"):
        present = check_labels(y, ["a", "b"])
    assert present == ["a", "b"]


def test_holdout_has_no_shared_subject():
    subjects = np.array([str(s) for s in np.repeat(np.arange(1, 31), 5)], dtype=object)
    tr, te = holdout_split(subjects, OFFICIAL_TEST_SUBJECTS)
    assert set(subjects[tr]).isdisjoint(subjects[te])
    assert set(subjects[te]) == set(OFFICIAL_TEST_SUBJECTS)
    assert len(tr) + len(te) == len(subjects)


def test_one_subject_is_a_clear_error():
    with pytest.raises(EvaluationError, match="at least 2 subjects"):
        holdout_split(np.array(["1"] * 10, dtype=object), ["1"])
    with pytest.raises(EvaluationError, match="no windows"):
        holdout_split(np.array(["1", "2"], dtype=object), ["3"])
    # `--set evaluation.test_subjects=[001]`: YAML gives the number 1
    with pytest.raises(EvaluationError, match=r"subjects present: \['001', '002'\] \(YAML "
                       r"reads 001 unquoted as the number 1: quote it, '001'\)"):
        holdout_split(np.array(["001", "002"], dtype=object), [1])


def test_group_kfold_is_leave_subjects_out():
    subjects = np.array([str(s) for s in np.repeat(np.arange(10), 4)], dtype=object)
    folds = list(group_kfold(subjects, 5))
    assert len(folds) == 5
    for tr, te in folds:
        assert set(subjects[tr]).isdisjoint(subjects[te])
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(40))


def test_auto_test_subjects_reproducible():
    subjects = np.array([str(s) for s in range(10)], dtype=object)
    a = auto_test_subjects(subjects, 0.3, seed=1)
    assert a == auto_test_subjects(subjects, 0.3, seed=1) and len(a) == 3


def test_random_split_warns_about_leakage():
    with pytest.warns(LeakageWarning, match="inflated"):
        tr, te = random_split(100, 0.2, seed=0)
    assert len(te) == 20 and set(tr).isdisjoint(te)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        holdout_split(np.array(["1", "2"], dtype=object), ["2"])  # no warning


def test_class_absent_from_test_labels_is_listed_not_averaged():
    # "c" is a class of the model but no test window has it, and it is never predicted
    y = np.array(["a", "a", "b", "b"], dtype=object)
    m = classification_metrics(y, y.copy(), ["a", "b", "c"])
    assert m["absent_classes"] == ["c"] and m["scored_classes"] == ["a", "b"]
    assert m["macro_f1"] == pytest.approx(1.0)
    assert m["per_class"]["c"]["support"] == 0


def test_predicted_absent_class_counts_with_f1_zero():
    # one "a" window predicted as the absent class "c": c's F1 is 0 and counts in macro-F1
    y = np.array(["a", "a", "b", "b"], dtype=object)
    p = np.array(["a", "c", "b", "b"], dtype=object)
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["absent_classes"] == ["c"] and m["scored_classes"] == ["a", "b", "c"]
    # F1: a: p=1 r=1/2 -> 2/3; b: 1; c: 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # balanced accuracy: mean recall over the classes present in the labels
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1) / 2)


def test_per_subject_metrics_known_values():
    from tinyhar.evaluation.metrics import per_subject_metrics

    y = np.array(["a", "b", "a", "b", "a", "a"], dtype=object)
    p = np.array(["a", "b", "b", "b", "a", "a"], dtype=object)
    subjects = np.array(["10", "10", "2", "2", "3", "3"], dtype=object)
    out = per_subject_metrics(y, p, subjects, ["a", "b"])
    assert list(out) == ["2", "3", "10"]
    assert out["10"] == {"accuracy": 1.0, "macro_f1": 1.0, "n_windows": 2, "absent_classes": []}
    assert out["2"]["accuracy"] == pytest.approx(0.5)
    # subject 2: a: p=0 (0/0) r=0 -> 0; b: p=1/2 r=1 -> 2/3
    assert out["2"]["macro_f1"] == pytest.approx(1 / 3)
    assert out["3"]["absent_classes"] == ["b"] and out["3"]["macro_f1"] == 1.0
    with pytest.raises(EvaluationError, match="subjects for"):
        per_subject_metrics(y, p, subjects[:3], ["a", "b"])
