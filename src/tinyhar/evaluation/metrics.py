"""Classification metrics reported by every tinyhar run.

Accuracy, balanced accuracy (mean per-class recall; Brodersen et al. 2010,
ICPR), macro-F1 (unweighted mean of per-class F1; Sokolova & Lapalme 2009,
Information Processing & Management 45(4)), per-class precision/recall/F1 and
the confusion matrix, all from scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tinyhar.core.ids import natural_key
from tinyhar.core.labels import (  # noqa: F401 (part of the evaluation API)
    MIN_WINDOWS_PER_CLASS,
    SmallClassWarning,
    check_labels,
)
from tinyhar.errors import EvaluationError


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Compute tinyhar's standard metrics.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray of str, shape (n_windows,)
        True and predicted labels.
    classes : sequence of str
        The model's classes: the order of the per-class scores and of the
        confusion matrix rows (true) and columns (predicted).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (floats in [0, 1]),
        ``per_class`` (``{class: {precision, recall, f1, support}}``),
        ``confusion_matrix`` (list of lists of int), ``classes``, ``n_windows``,
        ``absent_classes`` (classes with no window in ``y_true``) and
        ``scored_classes`` (the classes macro-F1 averages over).

    Raises
    ------
    EvaluationError
        If the arrays are empty or differ in length.

    Notes
    -----
    Convention for classes absent from the test labels (a class only the
    training subjects performed, say): **macro-F1 is the unweighted mean of
    the per-class F1 over the classes present in the test labels or
    predicted**. A class that is predicted but absent counts with F1 0 (each
    of its predictions is a false positive), so wrong predictions of it lower
    the score; a class neither present nor predicted is left out, because no
    F1 can be computed for it, and is listed in ``absent_classes`` (its
    per-class scores are 0 with support 0). This is scikit-learn's default
    label set for ``f1_score``. Balanced accuracy is the mean recall over the
    classes present in the test labels (Brodersen et al. 2010). A score over
    fewer classes than the model knows is not comparable with one over all of
    them: callers warn with
    :func:`tinyhar.reporting.text.absent_classes_message`.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise EvaluationError(
            f"cannot score {len(y_pred)} predictions against {len(y_true)} labels"
        )
    classes = list(classes)
    # scikit-learn sorts the labels it is given: integer codes sort fast, class names do not
    t, q = _label_codes(y_true, y_pred, classes)
    k = np.arange(len(classes))
    present_true, present_pred = np.isin(k, t), np.isin(k, q)
    absent = [c for i, c in enumerate(classes) if not present_true[i]]
    scored = [i for i in k if present_true[i] or present_pred[i]]
    p, r, f, s = precision_recall_fscore_support(t, q, labels=k, zero_division=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        balanced = balanced_accuracy_score(t, q)
    return {
        "accuracy": float(accuracy_score(t, q)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(f1_score(t, q, labels=scored, average="macro", zero_division=0)),
        "per_class": {
            c: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(t, q, labels=k).tolist(),
        "classes": classes,
        "n_windows": int(len(y_true)),
        "absent_classes": absent,
        "scored_classes": [classes[i] for i in scored],
    }


def _label_codes(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as integer codes: ``classes[i]`` is ``i``; other labels
    (an ``unknown`` prediction, say) get codes from ``len(classes)`` on, in sorted order.

    Returns
    -------
    t, q : numpy.ndarray of int64, shape (n_windows,)
    """
    import pandas as pd

    seen = pd.unique(np.concatenate([pd.unique(y_true), pd.unique(y_pred)]))
    known = set(classes)
    extra = sorted((x for x in seen if x not in known), key=str)
    categories = pd.Index(classes + extra, dtype=object)
    return tuple(
        categories.get_indexer(y).astype(np.int64, copy=False) for y in (y_true, y_pred)
    )


def per_subject_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, subjects: np.ndarray, classes: Sequence[str]
) -> dict[str, dict]:
    """Accuracy and macro-F1 of each subject's windows.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray of str, shape (n_windows,)
        True and predicted labels.
    subjects : numpy.ndarray of str, shape (n_windows,)
        Subject of each window.
    classes : sequence of str
        The model's classes.

    Returns
    -------
    dict
        ``{subject: {"accuracy", "macro_f1", "n_windows", "absent_classes"}}``
        in natural subject order ("2" before "10"); macro-F1 follows the
        convention of :func:`classification_metrics` (classes present in the
        subject's labels or predicted).

    Raises
    ------
    EvaluationError
        If the arrays differ in length or are empty.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    subjects = np.asarray([str(s) for s in subjects], dtype=object)
    if len(subjects) != len(y_true):
        raise EvaluationError(f"{len(subjects)} subjects for {len(y_true)} labels")
    out = {}
    for s in sorted(set(subjects.tolist()), key=natural_key):
        mask = subjects == s
        m = classification_metrics(y_true[mask], y_pred[mask], classes)
        out[s] = {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "n_windows": m["n_windows"],
            "absent_classes": m["absent_classes"],
        }
    return out


def score_predictions(test_w: Any, pred: np.ndarray, classes: Sequence[str]) -> dict:
    """:func:`classification_metrics` of the test windows plus ``per_subject`` scores.

    Parameters
    ----------
    test_w : WindowSet
        The scored windows (their ``y`` and ``subject``, shape (n_windows,), are used).
    pred : numpy.ndarray of str, shape (n_windows,)
        Predicted labels.
    classes : list of str
        The model's classes.
    """
    metrics = classification_metrics(test_w.y, pred, classes)
    metrics["per_subject"] = per_subject_metrics(test_w.y, pred, test_w.subject, classes)
    return metrics
