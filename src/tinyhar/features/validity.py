"""Which windows tinyhar classifies: the input contract shared by Python, C and MicroPython.

A window is *invalid* when one of its values, read as float32 (the type of
the C and MicroPython exports), is NaN, infinite, or larger in magnitude than
:data:`MAX_ABS_INPUT`. Everything else is valid: zeros, constant windows and
denormal (subnormal) values are ordinary inputs with ordinary features.

The same rule is applied everywhere, so that the three implementations agree
on every window:

* Python: :class:`~tinyhar.features.FeatureExtractor` and
  :meth:`tinyhar.models.pipeline.HarPipeline.transform` raise a
  :class:`~tinyhar.errors.DataFormatError` naming the window, channel and
  value; ``HarPipeline.predict(windows, on_invalid="mark")`` returns
  :data:`INVALID_CLASS` for those windows instead.
* C export: ``tinyhar_classify`` and ``tinyhar_stream_classify`` return
  ``TINYHAR_EINVAL`` (negative) and ``TINYHAR_MAX_ABS_INPUT`` is generated from
  :data:`MAX_ABS_INPUT`.
* MicroPython export: ``Features.compute`` raises ``InvalidInput`` (a
  ``ValueError``); the apps report "invalid input" instead of a class.

Why a range and not only a finiteness test: a finite float32 such as 1e30
overflows to infinity in the squares of the variance, the spectrum and the
magnitudes, and the trees then return a confident class computed from
infinities and NaNs (which one depends on the order of the arithmetic, so
the exports disagreed with each other). No accelerometer or gyroscope comes
near the bound: MEMS IMUs have full scales of at most a few hundred g
(+-16 g typical, +-400 g for high-g parts) and +-4000 deg/s (70 rad/s); data
in m/s^2 or deg/s declared as g or rad/s stays below it too. With
``|x| <= 1e4`` every intermediate of the feature code (squares of sums over
a window, spectral powers ``(n |x|)^2`` for windows of up to a million
samples, jerk ``2 |x| fs`` for rates up to 1 MHz) stays far inside the
float32 range (3.4e38), so every feature of a valid window is finite.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyhar.datasets.recording import MAX_ABS_SENSOR_VALUE
from tinyhar.errors import DataFormatError
from tinyhar.validation import check_windows

__all__ = [
    "INVALID_CLASS",
    "MAX_ABS_INPUT",
    "check_valid",
    "describe_invalid",
    "invalid_values",
    "invalid_windows",
]

MAX_ABS_INPUT = MAX_ABS_SENSOR_VALUE
"""Largest accepted magnitude of an input value, in g (acceleration) or rad/s
(angular rate); exactly representable in float32. The same bound the loaders
apply (:data:`tinyhar.datasets.recording.MAX_ABS_SENSOR_VALUE`, defined there
once). See the module docstring for the reason."""

INVALID_CLASS = "invalid"
"""Class name given to an invalid window by ``HarPipeline.predict(..., on_invalid="mark")``,
by the C example program and by the MicroPython live app."""


_CHUNK = 4096  # windows per check (bounds the temporary arrays)


def _as_float32(X: object) -> np.ndarray:
    # the exports see float32: 1e39 becomes inf there, so it does here
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(X, dtype=np.float32)


def _bad_values(arr: np.ndarray) -> np.ndarray:
    # not (|x| <= MAX): true for NaN, +-inf and out-of-range values
    with np.errstate(invalid="ignore"):
        return ~(np.abs(arr) <= np.float32(MAX_ABS_INPUT))


def invalid_values(values: object) -> np.ndarray:
    """Which values break the input contract, elementwise.

    Parameters
    ----------
    values : array-like
        Samples of any shape (g, rad/s), e.g. a recording ``(n_samples,
        n_channels)``; compared as float32.

    Returns
    -------
    numpy.ndarray of bool, same shape
        True for NaN, +-inf and ``|x| > MAX_ABS_INPUT``.
    """
    return _bad_values(_as_float32(values))


def invalid_windows(X: object) -> np.ndarray:
    """Which windows hold a value tinyhar refuses to classify.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_samples, n_channels)
        Windows in g and rad/s; converted to float32 first (as the C and
        MicroPython exports see them), so a float64 1e39 counts as infinite.

    Returns
    -------
    numpy.ndarray of bool, shape (n_windows,)
        True where a window holds a NaN, an infinity or a value with
        ``|x| > MAX_ABS_INPUT``.

    Raises
    ------
    DataFormatError
        If ``X`` is not a 3-D numeric array.
    """
    arr = check_windows(X, source="X")  # float32 like the exports: 1e39 is infinite
    out = np.zeros(arr.shape[0], dtype=bool)
    if arr.size:
        for a in range(0, arr.shape[0], _CHUNK):  # bounded temporary memory
            out[a:a + _CHUNK] = _bad_values(arr[a:a + _CHUNK]).any(axis=(1, 2))
    return out


def describe_invalid(
    X: object,
    channels: Sequence[str],
    max_windows: int = 5,
    session: Sequence[object] | None = None,
    start_time: Sequence[float] | None = None,
) -> str:
    """A sentence naming the invalid windows, the first bad value and what to do.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_samples, n_channels)
        Windows (g, rad/s).
    channels : sequence of str, length n_channels
        Channel names, for the message.
    max_windows : int
        How many window indices to list.
    session, start_time : sequence, shape (n_windows,), optional
        Session id and start time (s) of each window, to locate the first bad
        value in the recording (NaN start times are left out).

    Returns
    -------
    str
        E.g. ``"2 windows hold values outside the accepted input (NaN, infinite
        or |x| > 10000 g or rad/s) at window indices 3, 7; window 3, sample 5,
        channel acc_y is nan. Fix or drop ..."``; an empty string when every
        window is valid.
    """
    arr = _as_float32(X)
    bad = invalid_windows(arr)
    idx = np.flatnonzero(bad)
    if idx.size == 0:
        return ""
    w = int(idx[0])
    s, c = (int(v) for v in np.argwhere(_bad_values(arr[w]))[0])
    name = channels[c] if c < len(channels) else f"column {c}"
    located = ""
    if session is not None:
        located = f" (session {session[w]}"
        t0 = float(start_time[w]) if start_time is not None else float("nan")
        located += f", window starting at {t0:g} s)" if np.isfinite(t0) else ")"
    listed = ", ".join(str(int(i)) for i in idx[:max_windows])
    more = f" and {idx.size - max_windows} more" if idx.size > max_windows else ""
    what = "window holds a value" if idx.size == 1 else "windows hold values"
    where = "window index" if idx.size == 1 else "window indices"
    return (
        f"{idx.size} {what} outside the accepted input (NaN, infinite or |x| > "
        f"{MAX_ABS_INPUT:g} g or rad/s) at {where} {listed}{more}; window {w}{located}, "
        f"sample {s}, "
        f"channel {name} is {float(arr[w, s, c])!r}. Fix or drop these samples (sensor "
        f"dropouts, wrong units or a parsing error), or use "
        f"HarPipeline.predict(..., on_invalid='mark') to get the class "
        f"{INVALID_CLASS!r} for them"
    )


def check_valid(
    X: object,
    channels: Sequence[str],
    source: str = "windows",
    session: Sequence[object] | None = None,
    start_time: Sequence[float] | None = None,
) -> None:
    """Raise if any window is invalid (see :func:`invalid_windows`).

    Parameters
    ----------
    X : array-like, shape (n_windows, n_samples, n_channels)
        Windows (g, rad/s).
    channels : sequence of str
        Channel names, for the message.
    source : str
        Name of the data (file or data set) for the message.
    session, start_time : sequence, shape (n_windows,), optional
        Passed to :func:`describe_invalid`.

    Raises
    ------
    DataFormatError
        Naming the window indices, the first bad sample, channel and value,
        and what to do.
    """
    message = describe_invalid(X, channels, session=session, start_time=start_time)
    if message:
        raise DataFormatError(source, message)
