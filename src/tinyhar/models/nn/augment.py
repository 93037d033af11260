"""Training-time augmentation of raw windows for the neural-network estimator.

Pure numpy (no PyTorch): random rotations of the x, y, z channel groups,
per-sensor gain, jitter and circular time shifts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyhar.core.rotations import random_rotations
from tinyhar.errors import TinyharError


def augment_windows(
    X: np.ndarray,
    rng: np.random.Generator,
    *,
    groups: Sequence[Sequence[int]] | str | None = None,
    rotation: float = 0.0,
    scale: float = 0.0,
    jitter: float = 0.0,
    shift: int = 0,
    channel_scale: np.ndarray | None = None,
) -> np.ndarray:
    """Randomly perturbed copy of a batch of raw windows (training-time augmentation).

    Each perturbation is drawn independently per window; a zero amplitude
    skips it and draws nothing from ``rng``, so that with all amplitudes zero
    ``X`` is returned unchanged and ``rng`` is not advanced.

    Parameters
    ----------
    X : numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
        Raw windows in their sensor units (e.g. g, rad/s).
    rng : numpy.random.Generator
        Source of the random draws (seeded by the caller for reproducibility).
    groups : sequence of (int, int, int), "xyz" or None
        Channel indices of the x, y, z axes of each 3-axis sensor, e.g.
        ``((0, 1, 2), (3, 4, 5), (6, 7, 8))`` for body acceleration,
        gyroscope and total acceleration; ``"xyz"``: every 3 consecutive
        channels form a group. Needed for ``rotation``; ``scale`` uses one
        gain per group (per channel without groups).
    rotation : float
        Maximum rotation angle in degrees, in (0, 180]. One random rotation
        per window (:func:`tinyhar.core.rotations.random_rotations`,
        ``"axis-angle"``: uniform axis, angle uniform in ``[-rotation,
        rotation]``) is applied to *every* group, as a slightly different
        placement of the device would rotate all its sensors alike.
    scale : float
        Standard deviation of a gain drawn from ``N(1, scale)`` per window and
        group (or channel) that multiplies the group's samples.
    jitter : float
        Standard deviation of additive Gaussian noise per sample, in units of
        ``channel_scale`` (e.g. the channels' interquartile ranges).
    shift : int
        Maximum circular time shift in samples, drawn uniformly from
        ``[-shift, shift]`` per window.
    channel_scale : numpy.ndarray, shape (n_channels,), optional
        Unit of ``jitter`` per channel; ones if None.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)

    Raises
    ------
    TinyharError
        ``rotation`` without ``groups`` or outside (0, 180], a group that is not 3
        valid channel indices, or ``"xyz"`` with a channel count that is not a
        multiple of 3.
    """
    X = np.asarray(X, dtype=np.float32)
    if not (rotation or scale or jitter or shift):
        return X
    n, t, c = X.shape
    if isinstance(groups, str):
        if groups != "xyz" or c % 3:
            raise TinyharError(
                f"augmentation groups {groups!r}: 'xyz' (consecutive x, y, z triplets) needs "
                f"a multiple of 3 channels, these windows have {c}; give the triplets of "
                "channel indices instead, e.g. ((0, 1, 2), (3, 4, 5))"
            )
        groups = [(i, i + 1, i + 2) for i in range(0, c, 3)]
    groups = [tuple(int(i) for i in grp) for grp in (groups or ())]
    if any(len(grp) != 3 or not all(0 <= i < c for i in grp) for grp in groups):
        raise TinyharError(
            f"augmentation groups must be triplets of channel indices below {c}, got {groups}"
        )
    if rotation and not groups:
        raise TinyharError("rotation augmentation needs the x, y, z channel groups")
    if rotation and not 0 < float(rotation) <= 180:
        raise TinyharError(f"the rotation augmentation angle must be in (0, 180] degrees, "
                           f"got {rotation!r}")
    out = X.copy()
    if rotation:
        rot = random_rotations(n, rng, float(rotation)).astype(np.float32)
        for grp in groups:
            idx = list(grp)
            out[:, :, idx] = np.einsum("ntj,nij->nti", out[:, :, idx], rot)
    if scale:
        units = [list(grp) for grp in groups] or [[i] for i in range(c)]
        gains = rng.normal(1.0, float(scale), size=(n, len(units))).astype(np.float32)
        for k, idx in enumerate(units):
            out[:, :, idx] *= gains[:, k, None, None]
    if jitter:
        unit = np.ones(c, np.float32) if channel_scale is None else np.asarray(channel_scale)
        out += (rng.normal(0.0, float(jitter), size=out.shape) * unit).astype(np.float32)
    if shift:
        offsets = rng.integers(-int(shift), int(shift) + 1, size=n)
        rows = (np.arange(t)[None, :] - offsets[:, None]) % t
        out = np.take_along_axis(out, rows[:, :, None], axis=1)
    return np.ascontiguousarray(out, dtype=np.float32)
