"""Gravity / body separation of accelerometer windows with a low-pass IIR filter.

The gravity component of a waist- or wrist-worn accelerometer is estimated
with a low-pass Butterworth filter (default: 3rd order, 0.3 Hz cut-off, as in
Anguita et al. 2013, "A Public Domain Dataset for Human Activity Recognition
Using Smartphones", ESANN 2013; the same separation produced the
``body_acc`` signals of the UCI HAR data set). The body (dynamic) acceleration
is the total acceleration minus the gravity estimate.

The filter runs *within each window*, from the window alone, so that a
microcontroller can compute it without any history:

* coefficients: ``scipy.signal.butter(order, cutoff_hz, btype="lowpass",
  fs=sampling_rate_hz, output="sos")`` (bilinear transform with pre-warping),
  i.e. cascaded second-order sections (biquads, direct form II transposed,
  the structure of :func:`scipy.signal.sosfilt`), rounded to float32;
* initial state: the steady state of the first sample ``x[0]`` (the state the
  filter would be in after an infinitely long constant input equal to
  ``x[0]``, ``scipy.signal.sosfilt_zi(sos) * x[0]``). It is implemented
  equivalently, and exactly in float arithmetic, as
  ``gravity = x[0] + sosfilt(sos, x - x[0])`` with a zero initial state: a
  linear filter with unit DC gain started at its steady state for ``x[0]`` is
  the filter of ``x - x[0]`` from rest, plus ``x[0]``. This form makes a
  constant window give ``gravity == x`` and ``body == 0`` *exactly* (the
  filter of zeros is zero), whatever rounding the coefficients carry, and
  keeps the filtered values small (better float32 precision). A C port does:
  ``for n: y[n] = x0 + biquads(x[n] - x0)`` with all biquad states at zero.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as _signal

from tinyhar.errors import ConfigError

__all__ = ["gravity_sos", "lowpass_from_first_sample", "split_gravity"]


def gravity_sos(
    sampling_rate_hz: float, cutoff_hz: float = 0.3, order: int = 3
) -> np.ndarray:
    """Second-order sections of the low-pass Butterworth gravity filter.

    Parameters
    ----------
    sampling_rate_hz : float
        Sampling rate in Hz (> 0).
    cutoff_hz : float, default 0.3
        -3 dB cut-off frequency in Hz; must be in ``(0, sampling_rate_hz / 2)``.
    order : int, default 3
        Filter order (1 to 8); ``ceil(order / 2)`` sections.

    Returns
    -------
    numpy.ndarray of float32, shape (n_sections, 6)
        Rows ``[b0, b1, b2, 1, a1, a2]`` as returned by
        ``scipy.signal.butter(order, cutoff_hz, fs=sampling_rate_hz, output="sos")``
        (computed in float64), rounded to float32 (the precision used on the
        device), then ``b0, b1, b2`` of the first section divided by the DC gain
        of the rounded cascade (computed in float64) and rounded again, so that
        the float32 filter has unit DC gain to float32 precision. These are the
        coefficients a device port should embed.

    Raises
    ------
    ConfigError
        If the sampling rate is not positive, the cut-off is not below the
        Nyquist frequency, or the order is not an integer in 1..8.

    Notes
    -----
    Butterworth (1930), "On the theory of filter amplifiers"; bilinear
    transform design of :func:`scipy.signal.butter`. The default (3rd order,
    0.3 Hz) follows Anguita et al. (2013).
    """
    fs = _positive_float(sampling_rate_hz, "sampling_rate_hz")
    fc = _positive_float(cutoff_hz, "gravity_cutoff_hz")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= 8:
        raise ConfigError(f"gravity_order must be an integer from 1 to 8, got {order!r}")
    if fc >= fs / 2:
        raise ConfigError(
            f"gravity_cutoff_hz={fc:g} Hz must be below the Nyquist frequency "
            f"(sampling_rate_hz / 2 = {fs / 2:g} Hz); the sampling rate is too low "
            "for this cut-off: lower features.gravity_cutoff_hz in the training configuration "
            "(gravity_cutoff_hz of FeatureExtractor in Python), or use features.set: minimal, "
            "which has no gravity filter"
        )
    sos = _signal.butter(int(order), fc, btype="lowpass", fs=fs, output="sos")
    sos32 = np.array(sos, dtype=np.float32)
    # Rounding a1, a2 to float32 shifts the DC gain (by ~1e-3 at 200 Hz, where the
    # poles are close to 1); rescale b of the first section so that the float32
    # coefficients have unit DC gain again (a constant input passes unchanged).
    s64 = sos32.astype(np.float64)
    gain = np.prod(s64[:, :3].sum(axis=1) / s64[:, 3:].sum(axis=1))
    sos32[0, :3] = (s64[0, :3] / gain).astype(np.float32)
    return np.ascontiguousarray(sos32)


def lowpass_from_first_sample(x: np.ndarray, sos: np.ndarray, axis: int = -1) -> np.ndarray:
    """Filter each window with ``sos``, starting at the steady state of its first sample.

    Computes ``x0 + sosfilt(sos, x - x0)`` along ``axis`` with ``x0`` the first
    sample along that axis, which equals
    ``sosfilt(sos, x, zi=sosfilt_zi(sos) * x0)`` for a filter of unit DC gain
    (see the module notes), in float32.

    Parameters
    ----------
    x : numpy.ndarray, any shape with ``x.shape[axis] >= 1``
        Signals (float32 is used for the arithmetic).
    sos : numpy.ndarray, shape (n_sections, 6)
        Second-order sections, e.g. from :func:`gravity_sos`.
    axis : int, default -1
        The time axis.

    Returns
    -------
    numpy.ndarray of float32, same shape as ``x``
        The low-passed signals; a constant signal is returned unchanged.

    Notes
    -----
    Filter structure: :func:`scipy.signal.sosfilt` (cascaded biquads, direct
    form II transposed); initial conditions as in :func:`scipy.signal.sosfilt_zi`
    (Gustafsson-style steady-state initialisation without the backward pass).
    """
    x = np.asarray(x, dtype=np.float32)
    x0 = np.take(x, [0], axis=axis)
    y = _signal.sosfilt(np.asarray(sos, dtype=np.float32), x - x0, axis=axis)
    y = np.asarray(y, dtype=np.float32)
    y += x0
    return y


def split_gravity(
    acc: np.ndarray,
    sampling_rate_hz: float,
    cutoff_hz: float = 0.3,
    order: int = 3,
    axis: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Split total acceleration into gravity and body acceleration, per window.

    Parameters
    ----------
    acc : numpy.ndarray, shape (n_windows, n_samples, 3) for the default ``axis=1``
        Total acceleration in g (any shape; ``axis`` is the time axis).
    sampling_rate_hz : float
        Sampling rate in Hz.
    cutoff_hz : float, default 0.3
        Gravity filter cut-off in Hz.
    order : int, default 3
        Gravity filter order.
    axis : int, default 1
        The time axis of ``acc``.

    Returns
    -------
    gravity : numpy.ndarray of float32, same shape as ``acc``
        Low-pass (Butterworth, from the window's first sample) estimate of
        gravity, in g.
    body : numpy.ndarray of float32, same shape as ``acc``
        ``acc - gravity``, in g.

    Raises
    ------
    ConfigError
        If the filter parameters are invalid (see :func:`gravity_sos`).

    Notes
    -----
    Anguita et al. (2013), ESANN: 3rd-order 0.3 Hz Butterworth low-pass for
    the gravity component; Karantonis et al. (2006), IEEE TITB 10(1): the
    body/gravity split of a waist accelerometer.
    """
    sos = gravity_sos(sampling_rate_hz, cutoff_hz, order)
    acc = np.asarray(acc, dtype=np.float32)
    gravity = lowpass_from_first_sample(acc, sos, axis=axis)
    return gravity, acc - gravity


def _positive_float(value: object, name: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(out) or out <= 0:
        raise ConfigError(f"{name} must be a positive finite number, got {value!r}")
    return out
