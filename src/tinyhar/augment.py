"""Rotation augmentation of raw training windows (``augment:`` in the configuration).

A sensor is never worn exactly as in the training recordings. Training a
tree model on extra copies of its training windows, each turned by a random
3-D rotation, teaches it features that hold under such mounting changes
(data augmentation for wearable sensor data, Um et al. 2017, "Data
augmentation of wearable sensor data for Parkinson's disease monitoring
using convolutional neural networks", ICMI). The rotation follows the
convention of :func:`tinyhar.evaluation.perturb.rotate`: every sample vector
``v`` of the accelerometer and gyroscope triplets becomes ``R @ v`` (both
triplets turned together, one rigid body; 90 degrees about z maps
``(x, y, z)`` to ``(-y, x, z)``).

Rotations (:func:`tinyhar.core.rotations.random_rotations`): an axis
uniformly distributed on the unit sphere and an angle uniform in
``[-max_deg, max_deg]`` degrees (``"axis-angle"``), one per window and copy,
from ``numpy.random.default_rng(seed)``; ``max_deg = 180`` instead draws
uniformly distributed rotations (``"uniform"``, Shoemake 1992), as an angle
uniform in ``[-180, 180]`` about a uniform axis is not uniform over
rotations.
"""

from __future__ import annotations

import numpy as np

from tinyhar.core.rotations import random_rotations
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError
from tinyhar.evaluation.perturb import rotate


def rotation_copies(windows: WindowSet, copies: int, max_deg: float, seed: int) -> WindowSet:
    """``copies`` randomly rotated copies of every window (the originals not included).

    Parameters
    ----------
    windows : WindowSet
        Training windows, ``X`` of shape ``(n_windows, n_samples,
        n_channels)`` with ``acc_x/y/z`` (g) and optionally ``gyro_x/y/z``
        (rad/s).
    copies : int >= 1
    max_deg : float in (0, 180]
    seed : int
        Same seed, same copies.

    Returns
    -------
    WindowSet
        ``copies * n_windows`` windows: copy ``k`` of window ``i`` is row
        ``k * n_windows + i``, with the label, subject, session and start
        time of window ``i``. Each copy of a session is a session of its own
        (``"<session>~rot<k>"``), so that features stacked from a previous
        window (``features.stack_previous``) use a window of the same copy;
        within a session copy every window has its own rotation.

    Raises
    ------
    ConfigError
        ``copies < 1``, a bad ``max_deg``, or channels without a complete
        accelerometer or gyroscope triplet.
    """
    from tinyhar.errors import EvaluationError

    if isinstance(copies, bool) or int(copies) != copies or copies < 1:
        raise ConfigError(f"augment.copies must be a whole number >= 1, got {copies!r}")
    if not 0 < float(max_deg) <= 180:
        raise ConfigError(f"augment.max_deg must be in (0, 180] degrees, got {max_deg!r}")
    n = len(windows)
    mats = random_rotations(int(copies) * n, np.random.default_rng(seed), float(max_deg),
                            method="uniform" if float(max_deg) == 180 else "axis-angle")
    X = np.concatenate([windows.X] * int(copies))
    try:
        X = rotate(X, windows.channels, mats)
    except EvaluationError as exc:
        raise ConfigError(f"augment.rotation: {exc}") from None
    sessions = np.concatenate([
        np.array([f"{s}~rot{k}" for s in windows.session], dtype=object) for k in range(copies)
    ])
    return WindowSet(
        X,
        np.concatenate([windows.y] * int(copies)),
        np.concatenate([windows.subject] * int(copies)),
        sessions,
        np.concatenate([windows.start_time] * int(copies)),
        windows.channels,
        windows.sampling_rate_hz,
        windows.classes,
        windows.name,
    )
