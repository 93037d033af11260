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


def gravity_reference(windows: Any) -> dict[str, Any] | None:
    """Mean gravity direction of the training data while standing still.

    Parameters
    ----------
    windows : WindowSet
        Windows of the *training* subjects with ``acc_x``, ``acc_y``,
        ``acc_z`` (g).

    Returns
    -------
    dict or None
        ``gravity_g`` (mean acceleration ``[x, y, z]`` in g over the windows
        of the standing class), ``class``, ``n_windows``, ``tolerance_deg``
        (:data:`GRAVITY_TOLERANCE_DEG`); None without accelerometer axes or
        a standing class (a class named like :data:`STANDING_WORDS`) among
        the windows' labels.
    """
    channels = list(windows.channels)
    if not all(f"acc_{a}" in channels for a in AXES) or len(windows) == 0:
        return None
    names = [str(c) for c in (windows.classes or sorted(set(map(str, windows.y))))]
    standing = [c for c in names if any(w in c.lower() for w in STANDING_WORDS)]
    if not standing:
        return None
    mask = np.asarray(windows.y).astype(str) == standing[0]
    if not mask.any():
        return None
    cols = [channels.index(f"acc_{a}") for a in AXES]
    mean = windows.X[mask][:, :, cols].astype(np.float64).mean(axis=(0, 1))
    return {"gravity_g": [round(float(v), 4) for v in mean], "class": standing[0],
            "n_windows": int(mask.sum()), "tolerance_deg": GRAVITY_TOLERANCE_DEG}
