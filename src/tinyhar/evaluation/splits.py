"""Subject-independent train/test splits.

By default no subject is ever in both the training and the test part:
windows of one person are strongly correlated (and overlapping windows share
samples), so random splits inflate accuracy, often by 10 points or more
(Gholamiangonabadi et al. 2020, "Deep neural networks for human activity
recognition with wearable sensors: leave-one-subject-out cross-validation for
model selection", IEEE Access 8). A random split exists only behind an
explicit option and warns.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence

import numpy as np
from sklearn.model_selection import GroupKFold, train_test_split

from tinyhar.core.ids import natural_key
from tinyhar.datasets.info import OFFICIAL_TEST_SUBJECTS  # noqa: F401 (the UCI HAR / HAPT split)
from tinyhar.errors import EvaluationError

RANDOM_SPLIT_WARNING = (
    "random split: the same subjects (and overlapping windows) are in training and "
    "test data, so scores are inflated, often by 10 points or more; use the default "
    "subject split for honest numbers"
)
"""The warning :func:`random_split` issues (also stored in a run's metrics)."""


class LeakageWarning(UserWarning):
    """A split puts windows of the same subject in training and test data."""


def _need_subjects(subjects: np.ndarray, n: int, what: str) -> list[str]:
    distinct = sorted(set(np.asarray(subjects, dtype=object).tolist()), key=natural_key)
    if len(distinct) < n:
        raise EvaluationError(
            f"{what} needs windows from at least {n} subjects, found {len(distinct)} "
            f"({distinct}): record more people, or use --protocol random (leaks subjects)"
        )
    return distinct


def holdout_split(
    subjects: np.ndarray, test_subjects: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Split windows by subject into training and hold-out test indices.

    Parameters
    ----------
    subjects : numpy.ndarray of str, shape (n_windows,)
        Subject of each window.
    test_subjects : sequence of str
        Subjects whose windows form the test part.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray of int
        Disjoint index arrays; no subject appears in both.

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects, a test subject that has no windows, or no
        training subject left.
    """
    subjects = np.asarray(subjects, dtype=object)
    distinct = _need_subjects(subjects, 2, "a subject split")
    test = [str(s) for s in test_subjects]
    unknown = [s for s in test if s not in distinct]
    if unknown:
        zeros = [d for d in distinct for u in unknown
                 if u.isdigit() and d.isdigit() and d != u and int(d) == int(u)]
        hint = (f" (YAML reads {zeros[0]} unquoted as the number {int(zeros[0])}: quote it, "
                f"'{zeros[0]}')" if zeros else "")
        raise EvaluationError(
            f"test subjects {unknown} have no windows; subjects present: {distinct}{hint}"
        )
    is_test = np.isin(subjects, test)
    if is_test.all():
        raise EvaluationError("every subject is a test subject: leave some for training")
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def auto_test_subjects(subjects: np.ndarray, fraction: float = 0.3, seed: int = 0) -> list[str]:
    """Pick about ``fraction`` of the subjects (at least one) as test subjects, reproducibly.

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects.
    """
    distinct = _need_subjects(subjects, 2, "a subject split")
    rng = np.random.default_rng(seed)
    k = min(len(distinct) - 1, max(1, int(round(fraction * len(distinct)))))
    return sorted(rng.choice(distinct, size=k, replace=False).tolist(), key=natural_key)


def group_kfold(subjects: np.ndarray, n_folds: int = 5) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Leave-subjects-out cross-validation folds (scikit-learn ``GroupKFold``).

    Parameters
    ----------
    subjects : numpy.ndarray of str, shape (n_windows,)
    n_folds : int
        Number of folds; reduced to the number of subjects when larger.

    Yields
    ------
    train_idx, test_idx : numpy.ndarray of int

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects.
    """
    distinct = _need_subjects(subjects, 2, "leave-subjects-out cross-validation")
    k = min(int(n_folds), len(distinct))
    if k < 2:
        raise EvaluationError(f"n_folds must be at least 2, got {n_folds}")
    yield from GroupKFold(n_splits=k).split(np.zeros(len(subjects)), groups=subjects)


def random_split(
    n_windows: int, test_size: float = 0.2, seed: int = 0, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Random window-level split. LEAKS subjects: use only to compare with papers that did.

    Warns
    -----
    LeakageWarning
        Always: windows of one subject (and overlapping windows) end up on
        both sides, which inflates scores.
    """
    warnings.warn(RANDOM_SPLIT_WARNING, LeakageWarning, stacklevel=2)
    idx = np.arange(n_windows)
    train, test = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(test)
