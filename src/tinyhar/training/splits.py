"""Splitting windows by subject and leave-subjects-out cross-validation.

:func:`split_windows` turns ``evaluation:`` into training and test indices
(official, automatic or listed hold-out test subjects; ``loso``; a random
split only when asked), :func:`loso_folds` and :func:`cross_validate` run the
cross-validation by subject that every training path shares.
"""

from __future__ import annotations

import numpy as np
from rich.console import Console

from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import natural_key
from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.evaluation.metrics import classification_metrics
from tinyhar.evaluation.splits import (
    RANDOM_SPLIT_WARNING,
    auto_test_subjects,
    group_kfold,
    holdout_split,
    random_split,
)
from tinyhar.reporting.progress import progress_bar as _progress
from tinyhar.reporting.text import plural


def _subject_wise_split(windows: WindowSet) -> list[str] | None:
    """The test subjects of the data set's own split, if that split is by subject.

    A split that puts windows of one subject on both sides (e.g. the per-user
    ``is_test`` of the WISDM windows file) is not subject-independent and is
    not used (None).
    """
    if windows.split is None or not np.any(windows.split == "test"):
        return None
    test = set(windows.subject[windows.split == "test"])
    train = set(windows.subject[windows.split != "test"])
    if test & train:
        return None
    return sorted(test, key=natural_key)


def _official_test_subjects(name: str) -> tuple[str, ...]:
    """The publisher's test subjects of the named data set (empty when none or unnamed)."""
    info = DATASETS.get(name)
    return info.official_test_subjects if info is not None else ()


def split_windows(
    windows: WindowSet, cfg: TrainConfig, console: Console | None = None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Split windows into training and test indices as configured.

    With ``evaluation.protocol: loso`` there is no hold-out split: both index
    arrays hold every window (each subject is tested in its own
    cross-validation fold, see :func:`loso_folds`).

    Returns
    -------
    train_idx, test_idx : numpy.ndarray of int
    protocol : str
        A description of the protocol used.
    leakage : str or None
        A warning text when the split leaks subjects.

    Raises
    ------
    EvaluationError
        Too few subjects, or unknown test subjects.
    """
    ev = cfg.evaluation
    if ev.protocol == "loso":
        k = loso_folds(windows.subject, ev.cv_folds)
        n = len(windows.subjects)
        every = np.arange(len(windows))
        desc = (
            f"leave-one-subject-out cross-validation ({plural(k, 'fold')})"
            if k == n
            else f"cross-validation by subject over all subjects ({plural(k, 'fold')} of about "
            f"{n / k:.1f} subjects)"
        )
        return every, every, desc + "; final model fitted on all subjects", None
    if ev.protocol == "random":
        tr, te = random_split(len(windows), ev.test_fraction, cfg.seed, stratify=windows.y)
        protocol = f"random window split ({ev.test_fraction:.0%} test) -- LEAKS SUBJECTS"
        return tr, te, protocol, RANDOM_SPLIT_WARNING
    subjects = ev.test_subjects
    desc = "hold-out test subjects"
    if subjects == "official":
        by_subject = _subject_wise_split(windows)
        if by_subject is not None:
            subjects = by_subject
            desc = "official test subjects"
        elif _official_test_subjects(windows.name):
            subjects = list(_official_test_subjects(windows.name))
            desc = "official test subjects (UCI HAR split)"
        else:
            subjects = "auto"
            if console:
                why = (
                    "its train/test split puts windows of the same subjects on both sides"
                    if windows.split is not None and np.any(windows.split == "test")
                    else "it has no official split"
                )
                console.print(
                    f"[yellow]{windows.name!r}: {why}; holding out "
                    f"{ev.test_fraction:.0%} of the subjects instead (seed {cfg.seed})[/]"
                )
    if subjects == "auto":
        subjects = auto_test_subjects(windows.subject, ev.test_fraction, cfg.seed)
        desc = (
            f"hold-out test subjects (random {ev.test_fraction:.0%} of subjects, seed {cfg.seed})"
        )
    tr, te = holdout_split(windows.subject, subjects)
    return tr, te, desc, None


def loso_folds(subjects: np.ndarray, cv_folds: int) -> int:
    """Number of folds of ``evaluation.protocol: loso`` for these subjects.

    ``cv_folds`` 0, or at least the number of subjects, means one subject per
    fold (leave-one-subject-out); 2 <= ``cv_folds`` < number of subjects
    gives that many folds of whole subjects (``GroupKFold``).

    Parameters
    ----------
    subjects : numpy.ndarray of str, shape (n_windows,)
    cv_folds : int

    Returns
    -------
    int
        The number of folds.

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects.
    ConfigError
        ``cv_folds`` is 1.
    """
    n = len(set(np.asarray(subjects, dtype=object).tolist()))
    if n < 2:
        raise EvaluationError(
            f"evaluation.protocol loso needs at least 2 subjects, found {n}: record more people"
        )
    if cv_folds == 1:
        raise ConfigError(
            "evaluation.cv_folds: 1 fold cannot cross-validate; with protocol loso use 0 "
            "(one subject per fold) or a number of folds >= 2"
        )
    return n if cv_folds == 0 or cv_folds >= n else int(cv_folds)


def cross_validate(
    windows: WindowSet,
    fit_predict,
    n_folds: int,
    console: Console,
    scope: str = "training subjects",
    predict_folds=None,
) -> tuple[dict | None, np.ndarray | None]:
    """Leave-subjects-out cross-validation (``GroupKFold`` by subject).

    Parameters
    ----------
    windows : WindowSet
        The windows to cross-validate on, shape (n_windows, n_samples,
        n_channels): the training subjects (hold-out protocol) or all
        subjects (``loso``).
    fit_predict : callable or None
        ``fit_predict(train_idx, test_idx) -> y_pred`` fits a fresh model on
        the windows ``train_idx`` and returns its labels for ``test_idx``
        (unused, may be None, with ``predict_folds``).
    n_folds : int
        Number of folds (reduced to the number of subjects).
    console : rich.console.Console
        Progress display.
    scope : str
        ``"training subjects"`` or ``"all subjects"`` (recorded as ``scope``).
    predict_folds : callable, optional
        ``predict_folds(splits)`` yields, in order, the labels predicted for
        ``test_idx`` of each ``(train_idx, test_idx)`` split (e.g. the folds as
        Dask tasks: :func:`tinyhar.compute.map_shared` of
        :func:`tinyhar.training.trees.fit_fold`); instead of ``fit_predict``
        one fold after the other.

    Returns
    -------
    cv : dict or None
        ``n_folds``, ``scope``, ``subjects_per_fold``,
        ``macro_f1_mean/std``, ``accuracy_mean/std`` (mean and population
        standard deviation over folds), ``pooled`` (accuracy,
        balanced accuracy and macro-F1 of all folds' predictions
        concatenated) and ``folds`` (per fold: test subjects, windows,
        accuracy, macro-F1); None when there are fewer than 2 subjects or
        ``n_folds`` < 2.
    pooled_pred : numpy.ndarray of str, shape (n_windows,) or None
        Every window's label as predicted by the fold model that did not see
        its subject.
    """
    if n_folds < 2 or len(windows.subjects) < 2:
        return None, None
    folds = []
    pooled = np.empty(len(windows), dtype=object)
    splits = list(group_kfold(windows.subject, n_folds))
    results = (predict_folds(splits) if predict_folds
               else (fit_predict(tr, te) for tr, te in splits))
    with _progress(console) as progress:
        task = progress.add_task(f"cross-validation ({scope})", total=len(splits))
        for (_, te), pred in zip(splits, results, strict=True):
            pooled[te] = pred
            m = classification_metrics(windows.y[te], pooled[te], windows.classes)
            folds.append(
                {
                    "test_subjects": sorted(set(windows.subject[te]), key=natural_key),
                    "n_windows": int(len(te)),
                    "accuracy": m["accuracy"],
                    "macro_f1": m["macro_f1"],
                }
            )
            progress.advance(task)
    f1 = np.array([f["macro_f1"] for f in folds])
    acc = np.array([f["accuracy"] for f in folds])
    sizes = sorted({len(f["test_subjects"]) for f in folds})
    per_fold = (
        plural(sizes[0], "subject") if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]} subjects"
    )
    total = classification_metrics(windows.y, pooled, windows.classes)
    return {
        "n_folds": len(folds),
        "scope": scope,
        "subjects_per_fold": f"{per_fold} per fold",
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "pooled": {
            "accuracy": total["accuracy"],
            "balanced_accuracy": total["balanced_accuracy"],
            "macro_f1": total["macro_f1"],
        },
        "folds": folds,
    }, pooled


def _cross_validation(
    cfg: TrainConfig, train_w: WindowSet, console: Console, predict_folds
) -> tuple[dict | None, np.ndarray | None]:
    """The configured cross-validation: on the training subjects (holdout), all (loso).

    ``predict_folds`` as in :func:`cross_validate` (the folds as tasks:
    :func:`tinyhar.training.trees.fit_with_folds`, every model kind's one fold path).
    """
    ev = cfg.evaluation
    if ev.protocol == "loso":
        k = loso_folds(train_w.subject, ev.cv_folds)
        return cross_validate(train_w, None, k, console, "all subjects", predict_folds)
    if ev.protocol == "holdout":
        return cross_validate(train_w, None, ev.cv_folds, console, predict_folds=predict_folds)
    return None, None
