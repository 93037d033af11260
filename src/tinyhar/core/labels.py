"""Checks of a label vector before training or scoring."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

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
            f"{where} has {'only the class ' + repr(present[0]) if present else 'no class'}: "
            "a classifier needs windows of at "
            "least 2 activities; record or add data for another activity"
        )
    for c in present:
        n = int(np.count_nonzero(y == c))
        if n < MIN_WINDOWS_PER_CLASS:
            warnings.warn(
                f"class {c!r} has only {n} window{'' if n == 1 else 's'} in {where} "
                f"(< {MIN_WINDOWS_PER_CLASS}): "
                "its scores will be unreliable; record more of it",
                SmallClassWarning,
                stacklevel=2,
            )
    return present
