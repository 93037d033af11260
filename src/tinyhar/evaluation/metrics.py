"""Classification metrics reported by every tinyhar run.

Accuracy, balanced accuracy (mean per-class recall; Brodersen et al. 2010,
ICPR), macro-F1 (unweighted mean of per-class F1; Sokolova & Lapalme 2009,
Information Processing & Management 45(4)), per-class precision/recall/F1 and
the confusion matrix, all from scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tinyhar.errors import EvaluationError

MIN_WINDOWS_PER_CLASS = 10
"""Classes with fewer windows than this get a warning: their scores are noisy."""


class SmallClassWarning(UserWarning):
    """A class has too few windows for a reliable per-class score."""


def check_labels(y: np.ndarray, classes: Sequence[str], where: str = "data") -> list[str]:
    """Check a label vector can support training and evaluation.

    Parameters
    ----------
    y : numpy.ndarray of str, shape (n_windows,)
        Labels.
    classes : sequence of str
        The label vocabulary.
    where : str
        Name of the data part, for messages (``"training data"``).

    Returns
    -------
    list of str
        The classes present in ``y``, in vocabulary order.

    Raises
    ------
    EvaluationError
        If fewer than 2 classes are present (nothing to classify).

    Warns
    -----
    SmallClassWarning
        For each class with fewer than 10 windows.
    """
    present = [c for c in classes if np.any(y == c)]
    if len(present) < 2:
        raise EvaluationError(
            f"{where} has {len(present)} class(es) {present}: a classifier needs windows of at "
            "least 2 activities; record or add data for another activity"
        )
    for c in present:
        n = int(np.count_nonzero(y == c))
        if n < MIN_WINDOWS_PER_CLASS:
            warnings.warn(
                f"class {c!r} has only {n} windows in {where} (< {MIN_WINDOWS_PER_CLASS}): "
                "its scores will be unreliable; record more of it",
                SmallClassWarning,
                stacklevel=2,
            )
    return present


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Compute tinyhar's standard metrics.

    Parameters
    ----------
    y_true, y_pred : numpy.ndarray of str, shape (n_windows,)
        True and predicted labels.
    classes : sequence of str
        Class order for the per-class scores and the confusion matrix rows
        (true) and columns (predicted).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` (floats in [0, 1]),
        ``per_class`` (``{class: {precision, recall, f1, support}}``),
        ``confusion_matrix`` (list of lists of int), ``classes``, ``n_windows``.
        Macro-F1 and balanced accuracy average over the classes present in
        ``y_true``.

    Raises
    ------
    EvaluationError
        If the arrays are empty or differ in length.
    """
    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    if len(y_true) == 0 or len(y_true) != len(y_pred):
        raise EvaluationError(
            f"cannot score {len(y_pred)} predictions against {len(y_true)} labels"
        )
    classes = list(classes)
    present = [c for c in classes if np.any(y_true == c)]
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced),
        "macro_f1": float(
            f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
        ),
        "per_class": {
            c: {
                "precision": float(p[i]),
                "recall": float(r[i]),
                "f1": float(f[i]),
                "support": int(s[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=classes).tolist(),
        "classes": classes,
        "n_windows": int(len(y_true)),
    }
