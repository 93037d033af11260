"""The training data's gravity while standing still: the reference a worn board is checked against.

:func:`gravity_reference` is measured on a run's training subjects when it is
trained (``metrics.json`` ``gravity_reference``); the MicroPython bundle's
``mounting.json`` carries it to the live app, which compares the board's
gravity over its first seconds with it (:mod:`tinyhar.export.mounting`).
Gravity while standing is the mean acceleration over the standing windows,
the static orientation of the sensor (Mizell 2003, ISWC, "Using gravity to
estimate accelerometer orientation").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

AXES = ("x", "y", "z")
"""Accelerometer axes, in channel order."""

GRAVITY_TOLERANCE_DEG = 30.0
"""Largest angle between the gravity read while standing still and the training
reference before the live app reports the mounting as off (posture varies by
about 10 degrees between HAPT subjects)."""

STANDING_WORDS = ("stand",)
"""A class whose name contains one of these (case-insensitive) is the standing class."""

_CHUNK_WINDOWS = 4096
"""Windows whose means :meth:`GravitySums.add` takes at a time (bounds its temporary copy)."""


def standing_class(classes: Sequence[str]) -> str | None:
    """The standing class among ``classes``, or None.

    A class whose name contains one of :data:`STANDING_WORDS`
    (case-insensitive); a transition named like one (``SIT_TO_STAND``,
    ``STAND_TO_SIT``: a word ``to`` in the name) only when no other matches,
    so the choice does not depend on the order of the class list (HAPT's
    sorted labels put ``LIE_TO_STAND`` before ``STANDING``). Among equals,
    the first in ``classes``.
    """
    names = [str(c) for c in classes if _named_standing(c)]
    if not names:
        return None
    return min(names, key=lambda c: "to" in re.split(r"[^a-z]+", c.lower()))


def _named_standing(name: Any) -> bool:
    """Whether a class name contains one of :data:`STANDING_WORDS` (case-insensitive)."""
    return any(w in str(name).lower() for w in STANDING_WORDS)


def acc_columns(channels: Sequence[str]) -> list[int] | None:
    """Indices of ``acc_x``, ``acc_y``, ``acc_z`` in ``channels``; None when one is missing."""
    channels = list(channels)
    if not all(f"acc_{a}" in channels for a in AXES):
        return None
    return [channels.index(f"acc_{a}") for a in AXES]


class GravitySums:
    """Sums of the windows' mean acceleration per (subject, class): the gravity reference's
    statistic, gathered in parts (session by session) and joined.

    For each (subject, label) of a class that may be the standing class (its
    name contains one of :data:`STANDING_WORDS`; other windows are not
    summed) it holds the float64 sum over windows of each window's mean
    ``acc_x``, ``acc_y``, ``acc_z`` (g) and the number of windows. Windows
    have equal lengths, so the mean of the window means is the mean of the
    samples. :func:`gravity_reference` of a WindowSet and
    out-of-core training (one :class:`GravitySums` per session, carried with
    its feature rows: :class:`tinyhar.features.table.FeatureTable`) both give
    :meth:`reference`, so the two paths agree: the same windows, summed in
    another order (float64; the 4-decimal ``gravity_g`` within 1e-4 g).

    Parameters
    ----------
    sums : dict, optional
        ``(subject, label) -> numpy.ndarray`` of float64, shape (4,):
        ``[sum_x, sum_y, sum_z, n_windows]``.
    """

    def __init__(self, sums: dict[tuple[str, str], np.ndarray] | None = None) -> None:
        self.sums: dict[tuple[str, str], np.ndarray] = {} if sums is None else dict(sums)

    def __len__(self) -> int:
        """Windows summed."""
        return int(sum(v[3] for v in self.sums.values()))

    def __repr__(self) -> str:
        return f"GravitySums({self.to_records()})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, GravitySums) and self.sums.keys() == other.sums.keys()
                and all(np.array_equal(v, other.sums[k]) for k, v in self.sums.items()))

    @classmethod
    def of(cls, windows: Any) -> GravitySums | None:
        """The sums of ``windows`` (a WindowSet); None without the three accelerometer axes."""
        if acc_columns(windows.channels) is None:
            return None
        sums = cls()
        sums.add(windows)
        return sums

    def add(self, windows: Any) -> None:
        """Add windows (those of classes named like :data:`STANDING_WORDS`).

        Parameters
        ----------
        windows : WindowSet
            ``X`` of shape ``(n_windows, n_samples, n_channels)`` with
            ``acc_x``, ``acc_y``, ``acc_z`` in g; ``y`` and ``subject``.

        Raises
        ------
        ValueError
            ``windows`` lack an accelerometer axis.
        """
        import pandas as pd

        cols = acc_columns(windows.channels)
        if cols is None:
            raise ValueError(f"gravity sums need acc_x, acc_y, acc_z; channels {windows.channels}")
        if len(windows.X) == 0:
            return
        label_code, labels = pd.factorize(np.asarray(windows.y, dtype=object))
        named = np.array([_named_standing(c) for c in labels], bool)
        at = np.flatnonzero(named[label_code])  # the candidates' windows only
        if len(at) == 0:
            return
        means = np.empty((len(at), 3))
        for a in range(0, len(at), _CHUNK_WINDOWS):  # a copy of three channels of these
            means[a:a + _CHUNK_WINDOWS] = windows.X[at[a:a + _CHUNK_WINDOWS]][:, :, cols].mean(
                axis=1, dtype=np.float64)
        subject_code, subjects = pd.factorize(np.asarray(windows.subject, dtype=object)[at])
        group = subject_code * len(labels) + label_code[at]
        found = np.unique(group)
        at = np.searchsorted(found, group)
        totals = np.column_stack([np.bincount(at, weights=means[:, k], minlength=len(found))
                                  for k in range(3)]
                                 + [np.bincount(at, minlength=len(found)).astype(np.float64)])
        for g, total in zip(found, totals, strict=True):
            key = (str(subjects[g // len(labels)]), str(labels[g % len(labels)]))
            kept = self.sums.get(key)
            self.sums[key] = total if kept is None else kept + total

    def update(self, other: GravitySums) -> None:
        """Add the sums of ``other`` (e.g. another session's)."""
        for key, total in other.sums.items():
            kept = self.sums.get(key)
            self.sums[key] = total.copy() if kept is None else kept + total

    def reference(self, classes: Sequence[str] = (),
                  subjects: Iterable[str] | None = None) -> dict[str, Any] | None:
        """The gravity reference of ``subjects``' windows of the standing class.

        Parameters
        ----------
        classes : sequence of str
            The class list (:func:`standing_class` picks from it); empty: the
            labels summed.
        subjects : iterable of str, optional
            The training subjects; default every subject summed.

        Returns
        -------
        dict or None
            As :func:`gravity_reference`: None without a standing class or
            without a window of it.
        """
        names = list(classes) or sorted({label for _, label in self.sums})
        standing = standing_class(names)
        if standing is None:
            return None
        wanted = None if subjects is None else {str(s) for s in subjects}
        total = np.zeros(4)
        for (subject, label), part in sorted(self.sums.items()):  # a fixed order of subjects
            if label == standing and (wanted is None or subject in wanted):
                total += part
        if total[3] == 0:
            return None
        return {"gravity_g": [round(float(v), 4) for v in total[:3] / total[3]],
                "class": standing, "n_windows": int(total[3]),
                "tolerance_deg": GRAVITY_TOLERANCE_DEG}

    def to_records(self) -> list[list]:
        """The sums as JSON-ready rows ``[subject, label, sum_x, sum_y, sum_z, n_windows]``
        (floats written as ``repr``: read back exactly by :meth:`from_records`)."""
        return [[s, c, *(float(v) for v in total[:3]), int(total[3])]
                for (s, c), total in sorted(self.sums.items())]

    @classmethod
    def from_records(cls, records: Iterable[Sequence]) -> GravitySums:
        """Sums from :meth:`to_records` rows.

        Raises
        ------
        ValueError, TypeError
            A row that is not ``[str, str, float, float, float, int]``.
        """
        sums = {}
        for row in records:
            subject, label, x, y, z, n = row
            sums[(str(subject), str(label))] = np.array([x, y, z, n], dtype=np.float64)
        return cls(sums)


def gravity_reference(windows: Any, subjects: Iterable[str] | None = None
                      ) -> dict[str, Any] | None:
    """Mean gravity direction of the training data while standing still.

    Parameters
    ----------
    windows : WindowSet
        Windows ``(n_windows, n_samples, n_channels)`` with ``acc_x``,
        ``acc_y``, ``acc_z`` (g): the *training* subjects', or more with
        ``subjects``.
    subjects : iterable of str, optional
        Only the windows of these subjects (the training subjects): the
        statistic is over every window of the training subjects, as
        out-of-core training gathers it session by session
        (:class:`GravitySums`).

    Returns
    -------
    dict or None
        ``gravity_g`` (mean acceleration ``[x, y, z]`` in g over the windows
        of the standing class, rounded to 4 decimals), ``class``,
        ``n_windows``, ``tolerance_deg`` (:data:`GRAVITY_TOLERANCE_DEG`);
        None without accelerometer axes or a standing class
        (:func:`standing_class` of the windows' classes, or of their labels)
        with windows.
    """
    sums = GravitySums.of(windows)
    return None if sums is None else sums.reference(windows.classes, subjects)
