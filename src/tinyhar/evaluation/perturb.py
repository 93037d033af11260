"""Can you trick this model? Score a run on perturbed copies of its unseen test windows.

Each perturbation is a pure function on windows ``X`` of shape
``(n_windows, n_samples, n_channels)`` (acceleration in g, angular rate in
rad/s) whose channels are named as in tinyhar (``acc_x acc_y acc_z`` and
optionally ``gyro_x gyro_y gyro_z``); it returns a new float32 array and never
changes its input. :func:`robustness_scores` applies the catalogue
:func:`perturbations` to the windows :func:`tinyhar.evaluate.evaluate_run`
scores (subjects the run was not trained on) and scores each copy.

Conventions
-----------
Rotation
    A rotation ``R`` (3x3, :class:`scipy.spatial.transform.Rotation`) turns
    every sample vector ``v`` of a sensor triplet into ``R @ v``: the readings
    a sensor would give after its frame was rotated by ``R^-1`` (a sensor worn
    turned by ``-angle`` about the axis). Angles are right-handed: 90 degrees
    about z maps the components ``(x, y, z)`` to ``(-y, x, z)``. The
    accelerometer and gyroscope triplets are rotated together (one rigid
    body). ``axis="random"`` draws one uniformly distributed rotation per
    window (Shoemake 1992, as implemented by ``Rotation.random``) from a seed.
Gain, offset
    Gain multiplies every channel; an offset in g is added to one accelerometer
    axis (a calibration error of the accelerometer).
Sampling-rate mismatch
    ``rate_error = +0.1`` means the sensor samples 10 % faster than the model
    expects: the same motion spans 10 % more samples. Each window is
    resampled by ``1 + rate_error`` (:func:`scipy.signal.resample_poly`, a
    polyphase filter) and its centre re-cut to ``n_samples``. The window is
    first extended by mirroring a quarter of its length at both ends, so that
    a slower rate (fewer samples) still fills the window and the filter has no
    edge transient; the mirrored ends are the only content not recorded.
Noise
    Independent Gaussian noise of a standard deviation in g (accelerometer)
    or rad/s (gyroscope) on every sample, from a seed.
Axis swap and sign flip
    Both sensors' axes are swapped (``x<->y``) or one axis changes sign (a
    reflection, i.e. a sensor of the other handedness: no rotation does this).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from fractions import Fraction

import numpy as np

from tinyhar.core.rotations import random_rotations
from tinyhar.errors import EvaluationError
from tinyhar.validation import check_windows

AXES = ("x", "y", "z")
SENSORS = ("acc", "gyro")
ROTATION_ANGLES_DEG = (0, 20, 45, 90, 180)
"""Angles of the single-axis rotations scored by :func:`perturbations` (degrees)."""


def _triplets(channels: Sequence[str]) -> list[list[int]]:
    """Column indices ``[x, y, z]`` of each complete sensor triplet among ``channels``."""
    out = []
    for sensor in SENSORS:
        names = [f"{sensor}_{a}" for a in AXES]
        if all(n in channels for n in names):
            out.append([list(channels).index(n) for n in names])
        elif any(n in channels for n in names):
            raise EvaluationError(
                f"channels {list(channels)} hold part of the {sensor} triplet {names}; "
                "perturbations need all three axes"
            )
    if not out:
        raise EvaluationError(f"no acc_x/y/z or gyro_x/y/z channels in {list(channels)}")
    return out


def _check(X: np.ndarray, channels: Sequence[str] | None = None) -> np.ndarray:
    return check_windows(X, channels=channels,  # tinyhar.validation: float32, 3-D
                         error=lambda source, message: EvaluationError(f"{source}: {message}"))


def rotation_matrices(angle_deg: float, axis: str, n_windows: int = 1, seed: int = 0) -> np.ndarray:
    """Rotation matrices for :func:`rotate`.

    Parameters
    ----------
    angle_deg : float
        Right-handed angle in degrees (ignored for ``axis="random"``).
    axis : {"x", "y", "z", "random"}
        Rotation axis, or ``"random"`` for one uniformly distributed 3-D
        rotation per window (:func:`tinyhar.core.rotations.random_rotations`,
        ``"uniform"``: Shoemake 1992), the draws of ``Rotation.random(n_windows,
        random_state=seed)``.
    n_windows : int
        Number of matrices for ``"random"``.
    seed : int
        Seed of the random rotations.

    Returns
    -------
    numpy.ndarray, shape (3, 3) or (n_windows, 3, 3)
        One matrix, or one per window for ``"random"``.

    Raises
    ------
    EvaluationError
        An unknown axis.
    """
    from scipy.spatial.transform import Rotation

    if axis == "random":
        # a legacy RandomState(seed): the draws the published robustness figures were made with
        return random_rotations(n_windows, np.random.RandomState(seed), method="uniform")
    if axis not in AXES:
        raise EvaluationError(f"unknown rotation axis {axis!r}: use x, y, z or random")
    return Rotation.from_euler(axis, angle_deg, degrees=True).as_matrix()


def rotate(X: np.ndarray, channels: Sequence[str], matrix: np.ndarray) -> np.ndarray:
    """Rotate every sensor triplet: each sample vector ``v`` becomes ``matrix @ v``.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Windows (g, rad/s).
    channels : sequence of str
        Channel names (``acc_x``..., ``gyro_x``...); other channels are kept.
    matrix : numpy.ndarray, shape (3, 3) or (n_windows, 3, 3)
        One rotation for all windows or one per window (:func:`rotation_matrices`).

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)

    Raises
    ------
    EvaluationError
        Shapes that do not match, or an incomplete sensor triplet.
    """
    X = _check(X, channels)
    matrix = np.asarray(matrix, dtype=np.float64)
    out = np.array(X, dtype=np.float32, copy=True)
    for idx in _triplets(channels):
        v = X[:, :, idx].astype(np.float64)
        if matrix.ndim == 2:
            out[:, :, idx] = v @ matrix.T
        else:
            out[:, :, idx] = np.einsum("wij,wsj->wsi", matrix, v)
    return out


def gain(X: np.ndarray, channels: Sequence[str], factor: float) -> np.ndarray:
    """Multiply every channel by ``factor`` (a scale-factor error of both sensors).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    channels : sequence of str
    factor : float
        E.g. 0.9 or 1.1.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
    """
    return (_check(X, channels) * np.float32(factor)).astype(np.float32)


def offset(X: np.ndarray, channels: Sequence[str], value_g: float, axis: str) -> np.ndarray:
    """Add ``value_g`` (g) to one accelerometer axis (a bias error).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    channels : sequence of str
        Must contain ``acc_<axis>``.
    value_g : float
        Offset in g.
    axis : {"x", "y", "z"}

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)

    Raises
    ------
    EvaluationError
        No ``acc_<axis>`` channel.
    """
    X = _check(X, channels)
    name = f"acc_{axis}"
    if name not in channels:
        raise EvaluationError(f"no channel {name!r} in {list(channels)}")
    out = np.array(X, dtype=np.float32, copy=True)
    out[:, :, list(channels).index(name)] += np.float32(value_g)
    return out


def add_noise(
    X: np.ndarray, channels: Sequence[str], sigma: float, sensor: str = "acc", seed: int = 0
) -> np.ndarray:
    """Add white Gaussian noise of standard deviation ``sigma`` to one sensor's channels.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    channels : sequence of str
    sigma : float
        Standard deviation in g (``"acc"``) or rad/s (``"gyro"``); 0 returns an equal copy.
    sensor : {"acc", "gyro"}
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)

    Raises
    ------
    EvaluationError
        The sensor has no channel.
    """
    X = _check(X, channels)
    cols = [i for i, c in enumerate(channels) if c.startswith(f"{sensor}_")]
    if not cols:
        raise EvaluationError(f"no {sensor} channel in {list(channels)}")
    out = np.array(X, dtype=np.float32, copy=True)
    if sigma:
        noise = np.random.default_rng(seed).normal(0.0, sigma, size=X.shape[:2] + (len(cols),))
        out[:, :, cols] += noise.astype(np.float32)
    return out


def swap_axes(X: np.ndarray, channels: Sequence[str], a: str = "x", b: str = "y") -> np.ndarray:
    """Swap axes ``a`` and ``b`` of every sensor triplet (a wrongly wired or mounted IMU).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    channels : sequence of str
    a, b : {"x", "y", "z"}

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
    """
    X = _check(X, channels)
    out = np.array(X, dtype=np.float32, copy=True)
    for idx in _triplets(channels):
        ia, ib = idx[AXES.index(a)], idx[AXES.index(b)]
        out[:, :, [ia, ib]] = X[:, :, [ib, ia]]
    return out


def flip_sign(X: np.ndarray, channels: Sequence[str], axis: str) -> np.ndarray:
    """Negate ``axis`` of every sensor triplet (a reflection of the sensor frame).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    channels : sequence of str
    axis : {"x", "y", "z"}

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
    """
    X = _check(X, channels)
    out = np.array(X, dtype=np.float32, copy=True)
    for idx in _triplets(channels):
        out[:, :, idx[AXES.index(axis)]] *= -1
    return out


def rate_mismatch(X: np.ndarray, rate_error: float) -> np.ndarray:
    """Simulate a sensor sampling ``1 + rate_error`` times faster than the model expects.

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
    rate_error : float
        Relative error, e.g. ``0.1`` (10 % fast) or ``-0.1`` (10 % slow);
        must be above -0.5 and is taken as a fraction with denominator <= 100.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
        Each window's content resampled by ``1 + rate_error``
        (:func:`scipy.signal.resample_poly`) around its centre and cut to
        ``n_samples``; see the module notes for the mirrored ends.

    Raises
    ------
    EvaluationError
        ``rate_error`` at or below -0.5.
    """
    from scipy.signal import resample_poly

    X = _check(X)
    if rate_error <= -0.5:
        raise EvaluationError(f"rate error {rate_error} must be above -0.5")
    if rate_error == 0:
        return np.array(X, dtype=np.float32, copy=True)
    ratio = Fraction(1 + rate_error).limit_denominator(100)
    n = X.shape[1]
    pad = max(1, n // 4)
    ext = np.pad(X.astype(np.float64), ((0, 0), (pad, pad), (0, 0)), mode="reflect")
    res = resample_poly(ext, ratio.numerator, ratio.denominator, axis=1)
    centre = (pad + n / 2) * ratio.numerator / ratio.denominator
    start = int(round(centre - n / 2))
    start = min(max(start, 0), res.shape[1] - n)
    return res[:, start : start + n].astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Perturbation:
    """One row of the catalogue: a name, its parameter, its axis and the function.

    ``apply(X, channels)`` returns the perturbed windows
    ``(n_windows, n_samples, n_channels)``.
    """

    perturbation: str
    parameter: float | None
    axis: str | None
    apply: Callable[[np.ndarray, Sequence[str]], np.ndarray]


def perturbations(channels: Sequence[str], n_windows: int, seed: int = 0) -> list[Perturbation]:
    """The catalogue scored by :func:`robustness_scores`, in table order.

    ``none``; ``rotation`` by :data:`ROTATION_ANGLES_DEG` about x, y and z and
    ``random`` (one uniform rotation per window); ``gain`` 0.9 and 1.1;
    ``offset`` +0.05 g on each accelerometer axis; ``rate`` -0.1 and +0.1;
    ``noise_acc`` 0.01 and 0.05 g; ``noise_gyro`` 0.05 rad/s (with a
    gyroscope); ``swap`` of each pair of axes; ``flip`` of each axis.

    Parameters
    ----------
    channels : sequence of str
        The run's channels.
    n_windows : int
        Number of windows (random rotations are drawn per window).
    seed : int
        Seed of the random rotations and the noise.

    Returns
    -------
    list of Perturbation
    """
    cat: list[Perturbation] = []

    def add(name, parameter, axis, fn):
        cat.append(Perturbation(name, parameter, axis, fn))

    add("none", None, None, lambda X, ch: np.array(X, dtype=np.float32))
    for axis in AXES:
        for angle in ROTATION_ANGLES_DEG:
            m = rotation_matrices(angle, axis)
            add("rotation", float(angle), axis, lambda X, ch, m=m: rotate(X, ch, m))
    m_random = rotation_matrices(0, "random", n_windows, seed)
    add("rotation", None, "random", lambda X, ch: rotate(X, ch, m_random))
    for f in (0.9, 1.1):
        add("gain", f, None, lambda X, ch, f=f: gain(X, ch, f))
    for axis in AXES:
        add("offset", 0.05, axis, lambda X, ch, a=axis: offset(X, ch, 0.05, a))
    for e in (-0.1, 0.1):
        add("rate", e, None, lambda X, ch, e=e: rate_mismatch(X, e))
    for s in (0.01, 0.05):
        add("noise_acc", s, None, lambda X, ch, s=s: add_noise(X, ch, s, "acc", seed))
    if any(c.startswith("gyro_") for c in channels):
        add("noise_gyro", 0.05, None, lambda X, ch: add_noise(X, ch, 0.05, "gyro", seed))
    for a, b in (("x", "y"), ("y", "z"), ("x", "z")):
        add("swap", None, f"{a}<->{b}", lambda X, ch, a=a, b=b: swap_axes(X, ch, a, b))
    for axis in AXES:
        add("flip", None, axis, lambda X, ch, a=axis: flip_sign(X, ch, a))
    return cat


def row_label(row: dict) -> str:
    """Short text for a row, e.g. ``rotation 45 z``, ``rate -0.1``, ``swap x<->y``."""
    parts = [row["perturbation"]]
    if row["parameter"] is not None:
        parts.append(f"{row['parameter']:g}")
    if row["axis"] is not None:
        parts.append(str(row["axis"]))
    return " ".join(parts)
