"""Plausibility checks that every loader runs on the data it reads.

A wrong declaration (a sampling rate, a unit) does not make a file unreadable:
it makes a model that trains fine and is wrong on the device. Each check
below compares what a data set *declares* with what its values *show*, per
file (or per subject when one file holds everybody), and stops with a message
naming the file, the column, both values and the fix; each can be switched
off with a key of :class:`DataChecks` (``dataset.checks`` in the training
configuration, ``checks`` in a dataset definition) when the data really are
that way.

========================= ======== ==========================================================
check (key)               outcome  rule
========================= ======== ==========================================================
``sampling_rate``         error    typical interval of the time column off by more than
                                   :data:`RATE_TOLERANCE` (2 %) from 1 / declared rate
``time_order``            warning  time going back inside a file starts a new session
                                   (``<session>~2``, ...); an error when the rows look
                                   shuffled rather than restarted (see
                                   :mod:`tinyhar.datasets.custom`)
``units`` (accelerometer) error    gravity level (median magnitude on still spans) outside
                                   :data:`GRAVITY_RANGE_G` (0.5-2 g)
``units`` (gyroscope)     error    99th percentile of the angular-rate magnitude above
                                   :data:`GYRO_MAX_P99_RAD_S` (25 rad/s): deg/s declared as
                                   rad/s; or below :data:`GYRO_MIN_MOTION_P99_RAD_S`
                                   (0.15 rad/s) while the accelerometer shows motion: rad/s
                                   declared as deg/s
``clipping``              warning more than :data:`CLIP_FRACTION` (0.5 %) of a channel's
                                   samples in runs at its minimum or maximum
========================= ======== ==========================================================

Non-finite values and values beyond :data:`~tinyhar.datasets.recording.MAX_ABS_SENSOR_VALUE`
are always errors (see :func:`tinyhar.datasets.recording.canonicalize_frame`).

How the thresholds were chosen (measured on the 61 HAPT experiments, waist
phone, g and rad/s): the gravity level is 1.00-1.04 g in every experiment
(0.5-2 g leaves room for badly calibrated sensors; m/s^2 read as g gives 9.8,
g read as m/s^2 gives 0.10, mg read as g 1000). The 99th percentile of
``|gyro|`` is 1.95-3.6 rad/s (the same motion in deg/s is 112-208): 25 rad/s
(1430 deg/s) is above what daily activities reach and below what deg/s data
of any motion show. During motion (1 s blocks whose ``|acc|`` varies by more
than 0.1 g) the percentile is at least 1.94 rad/s, so rad/s values read as
deg/s (divided by 57.3) fall below 0.15 rad/s. No HAPT channel has more than
0.053 % of its samples at its extreme value.

Each statistic is also an accumulator fed a signal in pieces (``add``), for a
session too long to hold (``tinyhar inspect``): :class:`TimeSteps`,
:class:`UnitStats`, :class:`ClippedRuns`, :class:`ChannelSpread`,
:class:`ClassMeans`. The functions on whole arrays feed their accumulator the
array at once, so both give the same numbers: the accumulators compute in
pieces of :data:`_CHUNK` rows counted from the first row (held back across the
pieces given), never in the pieces given, and medians and percentiles select
exact values. Values that a median or percentile needs again (time steps,
magnitudes: 8 bytes a sample) are held in memory; an accumulator made with
``spill=True`` (inspect's, for a session read in batches) keeps those beyond
:data:`_SPILL_VALUES` in a temporary file instead.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from tinyhar.errors import ConfigError, DataFormatError

RATE_TOLERANCE = 0.02
"""Largest relative difference between the declared and the measured sampling rate."""
GRAVITY_RANGE_G = (0.5, 2.0)
"""Plausible gravity level (g): median magnitude of the acceleration on still spans."""
STILL_RELATIVE_STD = 0.05
"""A 1 s block is still when the std of ``|acc|`` is below this fraction of its mean."""
MOTION_STD_G = 0.1
"""A 1 s block is in motion when the std of ``|acc|`` exceeds this many g."""
MIN_BLOCKS = 3
"""Still (or moving) blocks needed before their statistic is trusted; files shorter than
this many seconds are too short to judge their units."""
GYRO_MAX_P99_RAD_S = 25.0
"""99th percentile of ``|gyro|`` above this (rad/s) means the values are deg/s."""
GYRO_MIN_MOTION_P99_RAD_S = 0.15
"""During motion, a 99th percentile of ``|gyro|`` below this (rad/s) means rad/s read as deg/s."""
CLIP_FRACTION = 0.005
"""Fraction of a channel's samples in runs at its extreme value that is reported as clipping."""
CLIP_MIN_RUN = 3
"""Consecutive samples at the extreme value that count as a clipped run."""
CLIP_MIN_LEVEL = {"acc": 1.4, "gyro": 2.0}
"""Extreme values below these (g, rad/s) are not full-scale limits of a real sensor.

An accelerometer at rest reads about 1 g on its vertical axis, possibly for
long constant runs; the smallest full-scale ranges in use are +-1.5 g and
+-2 g. Gyroscope ranges start at +-250 deg/s (4.4 rad/s).
"""
_MAX_SHOWN = 5


class DataChecks(BaseModel):
    """Which plausibility checks run when data are loaded (all on by default).

    Switch one off only when the data really are that way, e.g.
    ``units: false`` for acceleration with gravity removed.

    Attributes
    ----------
    sampling_rate : bool
        Declared sampling rate vs the time column (error beyond 2 %).
    time_order : bool
        Time going back inside a file starts a new session (warning). Off:
        the rows of a session are sorted by time instead (for files whose rows
        are only out of order, never for recordings that restarted).
    units : bool
        Accelerometer near 1 g at rest; gyroscope rad/s vs deg/s (errors).
    clipping : bool
        Channels stuck at their full-scale value (warning).
    """

    model_config = ConfigDict(extra="forbid")

    sampling_rate: bool = True
    time_order: bool = True
    units: bool = True
    clipping: bool = True


ChecksLike = DataChecks | Mapping[str, Any] | None


def resolve_checks(checks: ChecksLike, *more: ChecksLike) -> DataChecks:
    """Combine check settings: a check runs only if every given setting leaves it on.

    Parameters
    ----------
    checks, *more : DataChecks, mapping or None
        Settings, e.g. the training configuration's ``dataset.checks`` and a
        definition's ``checks``; None means all on.

    Returns
    -------
    DataChecks

    Raises
    ------
    ConfigError
        If a mapping has an unknown key or a value that is not a boolean.
    """
    result = DataChecks()
    for item in (checks, *more):
        if item is None:
            continue
        if not isinstance(item, DataChecks):
            try:
                item = DataChecks.model_validate(dict(item))
            except (ValidationError, TypeError, ValueError) as exc:
                raise ConfigError(
                    f"checks: expected a mapping of {list(DataChecks.model_fields)} to "
                    f"true/false, got {item!r}"
                ) from exc
        for key in DataChecks.model_fields:
            if not getattr(item, key):
                setattr(result, key, False)
    return result


def switch_off_hint(key: str) -> str:
    """The sentence telling how to switch check ``key`` off."""
    return (
        f"if the data really are like this, switch the check off with "
        f"dataset.checks.{key}: false (training configuration) or checks: {{{key}: false}} "
        "(dataset definition)"
    )


# ------------------------------------------------------------------ sampling rate
def measured_rate_hz(time: np.ndarray | None, steps=None) -> float | None:
    """Sampling rate shown by a time column, robust to gaps, restarts and rounding.

    The typical interval is the median of the positive time steps; the rate
    is one over the mean of the steps within 0.5-1.5 times that median (so
    that gaps and restarts are ignored, and timestamps rounded to whole
    milliseconds still average to the true interval).

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Time in s, in file order.
    steps : callable, optional
        Instead of ``time``: returns a fresh iterator over consecutive arrays of
        the time steps in s (``numpy.diff`` of the time column, in pieces; called
        up to four times), for a column that is not held in memory.

    Returns
    -------
    float or None
        Rate in Hz; None with fewer than two increasing steps.

    Notes
    -----
    The steps are computed a chunk at a time, never all at once (a long
    recording's steps would take 8 bytes per sample): the median is selected
    exactly by :func:`_chunked_median`, and the mean is summed chunk by
    chunk (equal to the mean over all steps up to rounding, about 1e-15).
    """
    if steps is None:
        time = np.asarray(time, dtype=np.float64)

        def steps():
            for a in range(0, len(time) - 1, _CHUNK):
                yield np.diff(time[a : a + _CHUNK + 1])

    def positive_steps():
        for step in steps():
            yield step[step > 0]

    return _rate_of(positive_steps)[0]


def _rate_of(positive_steps) -> tuple[float | None, float | None]:
    """Rate (Hz, :func:`measured_rate_hz`) and median step (s) of the positive time steps.

    ``positive_steps()`` returns a fresh iterator over them in chunks; (None,
    None) with fewer than two.
    """
    median = _chunked_median(positive_steps)
    if median is None:
        return None, None
    total, count = _regular_sum(positive_steps(), median)
    # (nan: as an empty mean)
    return (float(1.0 / (total / count)) if count else float("nan")), median


def _regular(steps: np.ndarray, median: float) -> np.ndarray:
    """The regular steps: within 0.5-1.5 times the median step (no gaps, no repeats)."""
    return steps[(steps >= 0.5 * median) & (steps <= 1.5 * median)]


def _regular_sum(chunks, median: float) -> tuple[float, int]:
    """Sum (summed a chunk at a time) and number of the regular steps in ``chunks``."""
    total, count = 0.0, 0
    for steps in chunks:
        regular = _regular(steps, median)
        total += float(regular.sum())
        count += len(regular)
    return total, count


def _chunked_median(make_chunks, cap: int = 1 << 18) -> float | None:
    """The median of the values that ``make_chunks()`` yields, as :func:`numpy.median`.

    Exact without holding the values: a first pass counts them and keeps
    every 64th; the sample's quantiles around the middle bracket the median,
    and a second pass counts the values below and at the bracket's ends and
    keeps only those inside (at most ``cap``). Should the bracket miss the
    middle ranks or hold too many values, the values are held once after all.

    Parameters
    ----------
    make_chunks : callable
        Returns a fresh iterator over arrays of finite float64 values (called
        up to three times).
    cap : int
        Most values kept inside the bracket.

    Returns
    -------
    float or None
        None with fewer than two values (as :func:`measured_rate_hz` needs).
    """
    n, sample = 0, []
    for chunk in make_chunks():
        sample.append(chunk[-n % 64 :: 64].copy())  # the values numbered 0, 64, 128, ...
        n += len(chunk)
    if n < 2:
        return None
    ranks = ((n - 1) // 2, n // 2)  # the middle value(s)
    sample = np.sort(np.concatenate(sample))
    spread = 0.01 + 4.0 / np.sqrt(len(sample))  # of the sample's quantile, beyond sampling noise
    low = sample[max(int((0.5 - spread) * len(sample)), 0)]
    high = sample[min(int((0.5 + spread) * len(sample)), len(sample) - 1)]
    del sample
    below = at_low = at_high = kept = 0
    inside = []
    for chunk in make_chunks():
        below += int(np.count_nonzero(chunk < low))
        at_low += int(np.count_nonzero(chunk == low))
        if high > low:
            at_high += int(np.count_nonzero(chunk == high))
            inside.append(chunk[(chunk > low) & (chunk < high)])
            kept += len(inside[-1])
            if kept > cap:
                break
    if kept <= cap:
        # the bracket in order: at_low times low, the values inside sorted, at_high times high
        inside = np.sort(np.concatenate(inside)) if inside else np.zeros(0)
        bounds = np.cumsum([below, at_low, len(inside), at_high])
        middle = []
        for rank in ranks:
            if not bounds[0] <= rank < bounds[3]:
                break  # the bracket missed the middle
            middle.append(float(low) if rank < bounds[1] else float(inside[rank - bounds[1]])
                          if rank < bounds[2] else float(high))
        if len(middle) == 2:
            return (middle[0] + middle[1]) / 2
    del inside
    values = np.concatenate(list(make_chunks()))
    return float(np.median(values, overwrite_input=True))


def check_sampling_rate(
    time: np.ndarray | None, declared_hz: float, where: str, column: str | int | None = None,
    steps=None,
) -> None:
    """Raise when the time column contradicts the declared sampling rate.

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Time in s, in file order (possibly with gaps and restarts).
    declared_hz : float
        The declared rate in Hz.
    where : str
        The file (for the message).
    column : str or int, optional
        The time column of the file.
    steps : callable, optional
        The time steps in pieces instead of ``time`` (:func:`measured_rate_hz`).

    Raises
    ------
    DataFormatError
        If the measured rate (:func:`measured_rate_hz`) differs from
        ``declared_hz`` by more than :data:`RATE_TOLERANCE`; the message
        gives both rates.
    """
    error = sampling_rate_error(measured_rate_hz(time, steps), declared_hz, where, column)
    if error is not None:
        raise error


def sampling_rate_error(measured: float | None, declared_hz: float, where: str,
                        column: str | int | None = None) -> DataFormatError | None:
    """The error of :func:`check_sampling_rate` for a measured rate, None when it matches.

    Parameters
    ----------
    measured : float or None
        Measured rate in Hz (:func:`measured_rate_hz`; None: too few steps to judge).
    declared_hz, where, column
        As :func:`check_sampling_rate` (declared rate in Hz, file, time column).
    """
    if measured is None or abs(measured / declared_hz - 1.0) <= RATE_TOLERANCE:
        return None
    return DataFormatError(
        where,
        f"the time column shows {measured:.4g} Hz (one sample every {1e3 / measured:.4g} ms) "
        f"but the declared sampling rate is {declared_hz:g} Hz; windows would be "
        f"{measured / declared_hz:.3g}x as long as configured and the exported model would "
        "run at the wrong rate. Fix sampling_rate_hz (or the time unit, units.time); "
        + switch_off_hint("sampling_rate"),
        column=column,
    )


# -------------------------------------------------------------------------- units
def _block_size(rate: float) -> int:
    return max(4, int(round(rate)))


def magnitude_of(values: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row, in float64, summing one axis at a time.

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples, n_axes)
        A 3-axis signal (any float dtype).

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
        ``sqrt(x**2 + y**2 + z**2)`` in float64, added in axis order as
        ``np.sum(..., axis=1)`` does, but with two float64 columns in memory
        instead of a float64 copy of the whole signal.
    """
    out = np.empty(len(values), np.float64)
    for a in range(0, len(values), _CHUNK):  # float64 temporaries of one chunk at a time
        part = values[a : a + _CHUNK]
        total = np.square(part[:, 0], dtype=np.float64)
        for axis in range(1, values.shape[1]):
            total += np.square(part[:, axis], dtype=np.float64)
        np.sqrt(total, out=out[a : a + len(part)])
    return out


_CHUNK = 1 << 18
"""Samples per chunk where a statistic is computed piecewise (same values, less memory)."""
_SPILL_VALUES = 1 << 20
"""Values a :class:`_Spill` holds in memory (8 MB) before it moves them to a temporary file."""


class _Regroup:
    """Rows given in pieces, handed on in pieces of ``size`` rows counted from the first row.

    The statistics computed a piece at a time are then the same however the
    rows were given (a whole array, or batches cut anywhere); the rows of an
    unfinished piece are held (copied) until the next rows complete it.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._held: list[tuple[np.ndarray, ...]] = []
        self._n = 0

    def add(self, *arrays: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """The complete pieces (one tuple of row ranges of ``arrays`` each) these rows finish."""
        n = len(arrays[0])
        out, a = [], 0
        if self._n:
            a = min(self.size - self._n, n)
            self._held.append(tuple(x[:a].copy() for x in arrays))
            self._n += a
            if self._n < self.size:
                return out
            out.append(self._join())
        while n - a >= self.size:
            out.append(tuple(x[a : a + self.size] for x in arrays))
            a += self.size
        if a < n:
            self._held.append(tuple(x[a:].copy() for x in arrays))
            self._n = n - a
        return out

    def rest(self) -> tuple[np.ndarray, ...] | None:
        """The last, shorter piece (None when the rows ended with a complete one)."""
        return self._join() if self._n else None

    def _join(self) -> tuple[np.ndarray, ...]:
        held, self._held, self._n = self._held, [], 0
        return tuple(np.concatenate(parts) for parts in zip(*held, strict=True))


class _Spill:
    """float64 values appended piece by piece and read back in chunks of a fixed size.

    With ``spill``, held in memory up to :data:`_SPILL_VALUES` values, beyond
    that in an anonymous temporary file (removed when this object is
    collected), so a median or percentile over a long session's samples read
    in batches needs no memory per sample; without, all in memory (the checks
    of arrays that are in memory anyway: no file written while loading). The
    appended arrays are kept, not copied: append new arrays only.
    """

    def __init__(self, spill: bool = False) -> None:
        self.spill = spill
        self.n = 0
        self._held: list[np.ndarray] = []
        self._file = None

    def append(self, values: np.ndarray) -> None:
        """Append 1-D ``values`` (float64)."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if not len(values):
            return
        self.n += len(values)
        if self.spill and self._file is None and self.n > _SPILL_VALUES:
            self._file = tempfile.TemporaryFile(prefix="tinyhar-")
            for held in self._held:
                self._file.write(memoryview(held).cast("B"))
            self._held = []
        if self._file is None:
            self._held.append(values)
        else:
            self._file.write(memoryview(values).cast("B"))

    def chunks(self, size: int = _CHUNK) -> Iterator[np.ndarray]:
        """The values in order, ``size`` at a time (the last chunk shorter)."""
        if self._file is None:
            if len(self._held) > 1:
                self._held = [np.concatenate(self._held)]
            values = self._held[0] if self._held else np.zeros(0)
            for a in range(0, len(values), size):
                yield values[a : a + size]
            return
        self._file.flush()
        self._file.seek(0)
        left = self.n
        while left:
            chunk = np.empty(min(size, left), np.float64)
            view = memoryview(chunk).cast("B")
            got = 0
            while got < len(view):
                read = self._file.readinto(view[got:])
                if not read:
                    raise OSError("a temporary file of tinyhar's checks was cut short")
                got += read
            left -= len(chunk)
            yield chunk

    def median(self) -> float:
        """The median of the values, as :func:`numpy.median` (nan when there are none)."""
        if self.n < 2:
            return float(next(self.chunks())[0]) if self.n else float("nan")
        return _chunked_median(self.chunks)


class _Magnitudes(_Spill):
    """``|rows|`` (:func:`magnitude_of`) of 3-axis rows given piece by piece, read back
    in chunks of a fixed size (:meth:`_Spill.chunks`, :meth:`_Spill.median`).

    With ``spill`` the magnitudes are kept (8 bytes a sample, beyond
    :data:`_SPILL_VALUES` in a temporary file): for a session read in
    batches, whose rows are gone when the result is read. Without, the rows
    themselves are kept, by reference (arrays in memory anyway: nothing per
    sample), and their magnitudes computed a chunk at a time when read.
    """

    def append(self, rows: np.ndarray) -> None:
        """Append the rows of ``rows``, shape (n_rows, 3)."""
        if self.spill:
            super().append(magnitude_of(rows))
        elif len(rows):
            self._held.append(rows)
            self.n += len(rows)

    def chunks(self, size: int = _CHUNK) -> Iterator[np.ndarray]:
        """The magnitudes in order, ``size`` at a time (the last chunk shorter)."""
        if self.spill:
            yield from super().chunks(size)
            return
        parts, have = [], 0
        for rows in self._held:
            a = 0
            while a < len(rows):
                take = min(size - have, len(rows) - a)
                parts.append(rows[a : a + take])
                have, a = have + take, a + take
                if have == size:
                    yield magnitude_of(parts[0] if len(parts) == 1 else np.concatenate(parts))
                    parts, have = [], 0
        if have:
            yield magnitude_of(parts[0] if len(parts) == 1 else np.concatenate(parts))


def _chunked_percentile(chunks, n: int, q: float) -> float:
    """The ``q``-th percentile of ``n`` values given in chunks, as :func:`numpy.percentile`.

    numpy's default (linear) method interpolates between the values of rank
    ``k = floor(q / 100 * (n - 1))`` and ``k + 1`` in sorted order. Only the
    ``n - k`` largest values can be those, so only they are kept while the
    chunks pass (for the 99th percentile, 1 % of the values instead of a
    copy of all of them); the two ranks are then interpolated as numpy
    does. Equal to ``numpy.percentile(np.concatenate(chunks), q)`` up to
    rounding in the last bit of the interpolation.

    Parameters
    ----------
    chunks : iterable of numpy.ndarray, shape (n_i,)
        The values, ``n`` in all, finite.
    n : int
        Their number (> 0).
    q : float
        Percentile in [0, 100].

    Returns
    -------
    float
    """
    position = (n - 1) * (q / 100)
    k = int(np.floor(position))
    keep = n - k  # ranks k .. n - 1
    top = np.zeros(0)
    for chunk in chunks:
        top = np.concatenate([top, chunk])
        if len(top) > 2 * keep:  # (cut back now and then, not for every chunk)
            top = np.partition(top, len(top) - keep)[len(top) - keep :]
    top = np.partition(top, [len(top) - keep, min(len(top) - keep + 1, len(top) - 1)])
    low = float(top[len(top) - keep])
    high = float(top[len(top) - keep + 1]) if keep > 1 else low
    gamma = position - k
    if gamma >= 0.5:  # numpy's _lerp: from the nearer end
        return high - (high - low) * (1 - gamma)
    return low + (high - low) * gamma


class UnitStats:
    """What the unit checks judge, from one session's signals given in pieces.

    Per ~1 s block (:func:`_block_size` samples from the first sample; a
    shorter last block is left out) the mean and standard deviation of
    ``|acc|``; the magnitudes ``|acc|`` (until :data:`MIN_BLOCKS` still
    blocks are found, for :meth:`gravity_level`'s fallback) and ``|gyro|``
    are kept (:class:`_Magnitudes`) for their median and percentiles. The
    magnitudes of a piece of :data:`_CHUNK` whole blocks are computed at once
    (:func:`magnitude_of`), so the numbers do not depend on how the rows
    were given.

    Parameters
    ----------
    rate : float
        Sampling rate in Hz (sets the block length).
    gyro : bool
        Whether :meth:`add` is given angular rates too (:meth:`check_gyro`).
    spill : bool
        Keep the magnitudes, those beyond :data:`_SPILL_VALUES` in a temporary
        file (:class:`_Magnitudes`): for a session read in batches. Without,
        the rows given are kept by reference (arrays in memory anyway).
    """

    def __init__(self, rate: float, gyro: bool = False, spill: bool = False) -> None:
        self.rate = float(rate)
        self.size = _block_size(rate)
        self.n = 0
        self._rows = _Regroup(max(1, _CHUNK // self.size) * self.size)
        self._means: list[np.ndarray] = []
        self._stds: list[np.ndarray] = []
        self._still = 0
        self._acc: _Magnitudes | None = _Magnitudes(spill)
        self._gyro = _Magnitudes(spill) if gyro else None
        self._done = False

    def add(self, acc_g: np.ndarray, gyro_rad_s: np.ndarray | None = None) -> UnitStats:
        """Take the next rows.

        Parameters
        ----------
        acc_g : numpy.ndarray, shape (n_rows, 3)
            Acceleration in g (any float dtype), in time order.
        gyro_rad_s : numpy.ndarray, shape (n_rows, 3), optional
            Angular rate in rad/s at the same rows (exactly when ``gyro``).

        Returns
        -------
        UnitStats
            This object.

        Raises
        ------
        ValueError
            Angular rates given against ``gyro``, or rows added after a result
            was read.
        """
        if self._done or (gyro_rad_s is None) != (self._gyro is None):
            raise ValueError("UnitStats.add: gyro rows against the gyro flag, or rows after "
                             "the results were read")
        for (rows,) in self._rows.add(acc_g):
            self._add_blocks(rows)
        if self._gyro is not None:
            self._gyro.append(gyro_rad_s)
        self.n += len(acc_g)
        return self

    def _add_blocks(self, rows: np.ndarray) -> None:
        magnitude = magnitude_of(rows)
        if self._acc is not None:
            self._acc.append(rows)
        n = len(magnitude) // self.size
        if n:
            blocks = magnitude[: n * self.size].reshape(n, self.size)
            self._means.append(blocks.mean(axis=1))
            self._stds.append(blocks.std(axis=1))
            self._still += int(np.count_nonzero(
                self._stds[-1] < STILL_RELATIVE_STD * np.abs(self._means[-1])))
        if self._still >= MIN_BLOCKS:
            self._acc = None  # the fallback is not needed

    def _blocks(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of ``|acc|`` of each block (the rows end here)."""
        if not self._done:
            rest = self._rows.rest()
            if rest is not None:
                self._add_blocks(rest[0])
            self._done = True
            self._means = [np.concatenate(self._means)] if self._means else [np.zeros(0)]
            self._stds = [np.concatenate(self._stds)] if self._stds else [np.zeros(0)]
        return self._means[0], self._stds[0]

    def _too_short(self) -> bool:
        """Fewer rows than :data:`MIN_BLOCKS` blocks: too short to judge the units."""
        return self.n < MIN_BLOCKS * self.size

    def gravity_level(self) -> tuple[float, bool]:
        """As :func:`gravity_level` of all the rows given."""
        mean, std = self._blocks()
        if len(mean):
            still = std < STILL_RELATIVE_STD * np.abs(mean)
            if np.count_nonzero(still) >= MIN_BLOCKS:
                return float(np.median(mean[still])), True
        return self._acc.median(), False

    def check_acc(self, where: str, declared: str = "g", key: str = "units.acc") -> None:
        """As :func:`check_acc_units` of all the rows given (raises its DataFormatError)."""
        if self._too_short():
            return
        level, from_still = self.gravity_level()
        low, high = GRAVITY_RANGE_G
        if low <= level <= high:
            return
        span = "on still spans" if from_still else "over all samples (no still span found)"
        raise DataFormatError(
            where,
            f"the accelerometer's median magnitude {span} is {level:.4g} g after converting "
            f"from the declared {declared}, but gravity is 1 g: {_unit_guess(level)}. Fix the "
            f"unit ({key}); " + switch_off_hint("units"),
            column="acc_x acc_y acc_z",
        )

    def check_gyro(self, where: str, declared: str = "rad/s", key: str = "units.gyro") -> None:
        """As :func:`check_gyro_units` of all the rows given (``gyro`` true; raises its
        DataFormatError)."""
        if self._too_short():
            return
        moving = self._blocks()[1] > MOTION_STD_G
        p99 = _chunked_percentile(self._gyro.chunks(), self.n, 99)
        if p99 > GYRO_MAX_P99_RAD_S:
            raise DataFormatError(
                where,
                f"the gyroscope's 99th percentile magnitude is {p99:.4g} rad/s after converting "
                f"from the declared {declared} ({np.degrees(p99):.4g} deg/s); human motion "
                f"stays below {GYRO_MAX_P99_RAD_S:g} rad/s: the values look like deg/s. Fix "
                f"the unit ({key}); " + switch_off_hint("units"),
                column="gyro_x gyro_y gyro_z",
            )
        if np.count_nonzero(moving) < MIN_BLOCKS:
            return
        p99_motion = _chunked_percentile(self._gyro_in(moving),
                                         int(np.count_nonzero(moving)) * self.size, 99)
        if p99_motion < GYRO_MIN_MOTION_P99_RAD_S:
            raise DataFormatError(
                where,
                f"during motion (the accelerometer varies in {int(moving.sum())} s) the "
                f"gyroscope's 99th percentile magnitude is only {p99_motion:.3g} rad/s after "
                f"converting from the declared {declared}; moving people turn faster than "
                f"{GYRO_MIN_MOTION_P99_RAD_S:g} rad/s: the values look like rad/s declared as "
                f"deg/s (57.3x too small). Fix the unit ({key}); " + switch_off_hint("units"),
                column="gyro_x gyro_y gyro_z",
            )

    def _gyro_in(self, chosen: np.ndarray) -> Iterator[np.ndarray]:
        """``|gyro|`` of the blocks where ``chosen`` is true, a chunk of blocks at a time."""
        per_chunk = self._rows.size // self.size
        for k, chunk in enumerate(self._gyro.chunks(self._rows.size)):
            pick = chosen[k * per_chunk : (k + 1) * per_chunk]
            if pick.any():
                yield chunk[: len(pick) * self.size].reshape(len(pick), self.size)[pick].ravel()


def gravity_level(acc_g: np.ndarray, rate: float) -> tuple[float, bool]:
    """Median magnitude of the acceleration on still spans (the gravity level).

    Parameters
    ----------
    acc_g : numpy.ndarray, shape (n_samples, 3)
        Acceleration in g, in time order.
    rate : float
        Sampling rate in Hz (sets the 1 s block length).

    Returns
    -------
    level : float
        Median over still 1 s blocks of the mean ``|acc|``; when fewer than
        :data:`MIN_BLOCKS` blocks are still, the median ``|acc|`` of all
        samples (during everyday motion also close to 1 g).
    from_still : bool
        Whether still blocks were used.
    """
    return UnitStats(rate).add(acc_g).gravity_level()


def _unit_guess(level: float) -> str:
    g = 9.80665
    guesses = [
        (g, "m/s^2 (about 9.81 per g)"),
        (1.0 / g, "g read as m/s^2 (divided by 9.81 once too often)"),
        (1000.0, "mg"),
        (1000.0 / g, "m/s^2 read as mg"),
        (1e-3, "g read as mg"),
    ]
    low, high = GRAVITY_RANGE_G
    for factor, name in guesses:
        if low * factor <= level <= high * factor:
            return f"they look like {name}"
    if level < low:
        return "they look like acceleration with gravity removed, or normalised values"
    return "they look like raw sensor counts or another unit"


def check_acc_units(
    acc_g: np.ndarray, rate: float, where: str, declared: str = "g", key: str = "units.acc"
) -> None:
    """Raise when acceleration converted to g does not show gravity near 1 g.

    Parameters
    ----------
    acc_g : numpy.ndarray, shape (n_samples, 3)
        Acceleration after conversion to g, in time order.
    rate : float
        Sampling rate in Hz.
    where : str
        The file (and subject) for the message.
    declared : str
        The unit the data were declared in (for the message).
    key : str
        Where that unit is declared (for the message).

    Raises
    ------
    DataFormatError
        If :func:`gravity_level` is outside :data:`GRAVITY_RANGE_G` (not
        judged for less than :data:`MIN_BLOCKS` seconds of data).
    """
    UnitStats(rate).add(acc_g).check_acc(where, declared, key)


def check_gyro_units(
    gyro_rad_s: np.ndarray,
    acc_g: np.ndarray,
    rate: float,
    where: str,
    declared: str = "rad/s",
    key: str = "units.gyro",
) -> None:
    """Raise when the angular rate looks like deg/s declared as rad/s, or the reverse.

    Parameters
    ----------
    gyro_rad_s : numpy.ndarray, shape (n_samples, 3)
        Angular rate after conversion to rad/s, in time order.
    acc_g : numpy.ndarray, shape (n_samples, 3)
        Acceleration in g at the same samples (tells motion from rest).
    rate : float
        Sampling rate in Hz.
    where, declared, key : str
        File, declared unit and its key, for the message.

    Raises
    ------
    DataFormatError
        If the 99th percentile of ``|gyro|`` exceeds :data:`GYRO_MAX_P99_RAD_S`,
        or, over at least :data:`MIN_BLOCKS` seconds of motion, stays below
        :data:`GYRO_MIN_MOTION_P99_RAD_S`.
    """
    UnitStats(rate, gyro=True).add(acc_g, gyro_rad_s).check_gyro(where, declared, key)


# ----------------------------------------------------------------------- clipping
def clipped_channels(values: np.ndarray, channels: list[str]) -> list[tuple[str, float, float]]:
    """Channels that sit at their extreme value for more than :data:`CLIP_FRACTION` of samples.

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples, n_channels)
        Sensor values in canonical units (g, rad/s), in time order.
    channels : list of str
        Channel names (``acc_*`` or ``gyro_*``).

    Returns
    -------
    list of (channel, fraction, value)
        ``fraction`` of the samples lie in runs of at least :data:`CLIP_MIN_RUN`
        consecutive samples equal to the channel's minimum or maximum
        ``value`` (whose magnitude is at least :data:`CLIP_MIN_LEVEL`).
    """
    return ClippedRuns(channels).add(values).result()


class ClippedRuns:
    """:func:`clipped_channels` of one session's signal given in pieces.

    Per channel, the running maximum and minimum and the samples in runs at
    each (:class:`_RunCounter`; a run crossing the end of a piece goes on in
    the next); a new extreme starts a new count (no sample before it can
    equal it). Counts are integers: the same however the rows were given.

    Parameters
    ----------
    channels : list of str
        Channel names (``acc_*`` or ``gyro_*``), the columns of :meth:`add`'s rows.
    """

    def __init__(self, channels: list[str]) -> None:
        self.channels = list(channels)
        self.n = 0
        self._runs: list[list[_RunCounter]] = []  # per channel: at the maximum, at the minimum

    def add(self, values: np.ndarray) -> ClippedRuns:
        """Take the next rows: ``values`` of shape (n_rows, n_channels), g / rad/s; returns self."""
        if not len(values):
            return self
        self.n += len(values)
        for j, name in enumerate(self.channels):
            column = values[:, j]
            level = CLIP_MIN_LEVEL["gyro" if name.startswith("gyro") else "acc"]
            runs = [None, None] if len(self._runs) <= j else self._runs[j]
            for k, (extreme, beyond) in enumerate(((column.max(), np.greater),
                                                   (column.min(), np.less))):
                if runs[k] is None or beyond(extreme, runs[k].value):
                    runs[k] = _RunCounter(extreme, CLIP_MIN_RUN)
                if abs(float(runs[k].value)) >= level:  # (below: never reported)
                    runs[k].add(column)
            if len(self._runs) <= j:
                self._runs.append(runs)
        return self

    def result(self) -> list[tuple[str, float, float]]:
        """As :func:`clipped_channels` of all the rows given."""
        found = []
        n = self.n
        if n < CLIP_MIN_RUN:
            return found
        for name, (high, low) in zip(self.channels, self._runs, strict=True):
            level = CLIP_MIN_LEVEL["gyro" if name.startswith("gyro") else "acc"]
            if high.value == low.value:
                continue  # a constant channel is not clipping
            for runs in (high, low):
                if abs(float(runs.value)) < level:
                    continue
                in_runs = runs.count()
                if in_runs > CLIP_FRACTION * n:
                    found.append((name, in_runs / n, float(runs.value)))
        return found


def _samples_in_runs(column: np.ndarray, value, min_run: int) -> int:
    """How many samples of ``column`` lie in runs of at least ``min_run`` equal to ``value``."""
    return _RunCounter(value, min_run).add(column).count()


class _RunCounter:
    """Samples in runs of at least ``min_run`` equal to ``value``, of a column given in pieces.

    Scans :data:`_CHUNK` samples at a time; a run crossing a chunk's (or a
    piece's) end is carried into the next (no mask of the whole column).
    """

    def __init__(self, value, min_run: int) -> None:
        self.value, self.min_run = value, min_run
        self._total = 0
        self._open = 0  # length of the run reaching the end of the rows so far

    def add(self, column: np.ndarray) -> _RunCounter:
        """Take the next samples; returns self."""
        value, min_run = self.value, self.min_run
        for a in range(0, len(column), _CHUNK):
            at = (column[a : a + _CHUNK] == value).view(np.int8)
            edges = np.diff(at, prepend=np.int8(0), append=np.int8(0))
            starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            del at, edges
            lengths = ends - starts
            if len(lengths) and starts[0] == 0:
                lengths[0] += self._open  # continues the previous chunk's last run
            elif self._open >= min_run:
                self._total += self._open
            self._open = 0
            if len(lengths) and ends[-1] == min(_CHUNK, len(column) - a):
                self._open, lengths = int(lengths[-1]), lengths[:-1]  # may go on
            self._total += int(lengths[lengths >= min_run].sum())
        return self

    def count(self) -> int:
        """Samples in runs so far (a run open at the end counts when long enough)."""
        return self._total + (self._open if self._open >= self.min_run else 0)


def describe_clipping(values: np.ndarray, channels: list[str], where: str) -> str | None:
    """One line naming the file and its clipped channels, or None (see :func:`clipped_channels`).

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples, n_channels)
        Sensor values in g / rad/s.
    channels : list of str
        Their names.
    where : str
        The file (for the message).
    """
    return clipping_text(clipped_channels(values, channels), where)


def clipping_text(found: list[tuple[str, float, float]], where: str) -> str | None:
    """One line naming the file and the clipped channels ``found``, or None when none.

    Parameters
    ----------
    found : list of (channel, fraction, value)
        From :func:`clipped_channels`.
    where : str
        The file (for the message).
    """
    if not found:
        return None
    return f"{where}: " + ", ".join(
        f"{name} {100 * frac:.2g} % at {value:.4g} {'rad/s' if name.startswith('gyro') else 'g'}"
        for name, frac, value in found
    )


class ClippingWarning(UserWarning):
    """The warning of :func:`warn_clipping`; ``findings`` keeps its lines (one per file).

    A reader that loads a data set a part at a time
    (:mod:`tinyhar.datasets.bysession`) joins the parts' findings into the
    one warning the whole data set gives.
    """

    def __init__(self, message: str, findings: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


def warn_clipping(findings: list[str], stacklevel: int = 3) -> None:
    """Emit one warning for the clipped channels of a data set (nothing when none).

    Parameters
    ----------
    findings : list of str
        Lines from :func:`describe_clipping`.
    stacklevel : int
        Passed to :func:`warnings.warn`.
    """
    findings = [f for f in findings if f]
    if not findings:
        return
    shown = "; ".join(findings[:_MAX_SHOWN])
    more = f"; and {len(findings) - _MAX_SHOWN} more" if len(findings) > _MAX_SHOWN else ""
    warnings.warn(ClippingWarning(
        f"clipping: samples stuck at a channel's extreme value in {len(findings)} "
        f"file(s)/session(s): {shown}{more}. The sensor's full-scale range was too small "
        "for this motion, so peaks and energy are underestimated; record with a larger "
        "range if you can; " + switch_off_hint("clipping"), findings), stacklevel=stacklevel)


def check_signals(
    acc_g: np.ndarray,
    gyro_rad_s: np.ndarray | None,
    rate: float,
    where: str,
    checks: DataChecks,
    acc_declared: str = "g",
    gyro_declared: str = "rad/s",
    acc_key: str = "units.acc",
    gyro_key: str = "units.gyro",
) -> str | None:
    """Run the unit and clipping checks on one file's (or one subject's) signals.

    Parameters
    ----------
    acc_g : numpy.ndarray, shape (n_samples, 3)
        Acceleration in g, in time order.
    gyro_rad_s : numpy.ndarray, shape (n_samples, 3), optional
        Angular rate in rad/s at the same samples.
    rate : float
        Sampling rate in Hz.
    where : str
        The file (and subject), for messages.
    checks : DataChecks
        Which checks run.
    acc_declared, gyro_declared, acc_key, gyro_key : str
        Declared units and where they are declared, for messages.

    Returns
    -------
    str or None
        The clipping finding (:func:`describe_clipping`) for the caller to pass
        to :func:`warn_clipping` with those of the other files.

    Raises
    ------
    DataFormatError
        From :func:`check_acc_units` / :func:`check_gyro_units`.
    """
    if checks.units:  # (check_acc_units, check_gyro_units; the blocks of |acc| cut once)
        stats = UnitStats(rate, gyro_rad_s is not None).add(acc_g, gyro_rad_s)
        stats.check_acc(where, acc_declared, acc_key)
        if gyro_rad_s is not None:
            stats.check_gyro(where, gyro_declared, gyro_key)
    if not checks.clipping:
        return None
    # per channel, so acc and gyro need not be copied into one array
    found = clipped_channels(acc_g, ["acc_x", "acc_y", "acc_z"])
    if gyro_rad_s is not None:
        found += clipped_channels(gyro_rad_s, ["gyro_x", "gyro_y", "gyro_z"])
    return clipping_text(found, where)


def check_recording_groups(
    recordings: Any, checks: DataChecks, where_of: Any, time_column: bool = False
) -> None:
    """Run :func:`check_signals` on each session of a :class:`RecordingSet`, warn once.

    Parameters
    ----------
    recordings : RecordingSet
        Recordings in canonical units.
    checks : DataChecks
    where_of : callable
        ``where_of(subject, session) -> str`` names the file of a session.
    time_column : bool
        The ``time`` column was measured (not computed from the rate): check
        it against the declared rate too (:func:`check_sampling_rate`).

    Raises
    ------
    DataFormatError
        As :func:`check_signals`.

    Warns
    -----
    UserWarning
        One warning listing the clipped channels (:func:`warn_clipping`).
    """
    rate_check = time_column and checks.sampling_rate
    if not (checks.units or checks.clipping or rate_check):
        return
    frame = recordings.frame
    gyro_cols = ["gyro_x", "gyro_y", "gyro_z"] if recordings.has_gyro else None
    # float32 as stored: the checks widen exactly to float64 where they compute
    acc_all = frame[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float32)
    gyro_all = frame[gyro_cols].to_numpy(np.float32) if gyro_cols else None
    codes, names = frame["session"].factorize()
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.r_[0, bounds] if len(frame) else np.zeros(0, int)
    ends = np.r_[bounds, len(frame)] if len(frame) else np.zeros(0, int)
    subjects = frame["subject"]  # by position: to_numpy() would make a str per sample
    time_all = frame["time"].to_numpy()
    findings = []
    for a, b in zip(starts, ends, strict=True):
        where = where_of(str(subjects.iloc[a]), str(names[codes[a]]))
        if rate_check:
            check_sampling_rate(time_all[a:b], recordings.sampling_rate_hz, where, "time")
        findings.append(check_signals(
            acc_all[a:b],
            None if gyro_all is None else gyro_all[a:b],
            recordings.sampling_rate_hz,
            where,
            checks,
        ))
    warn_clipping(findings, stacklevel=4)


# --------------------------------------------------- timing, dead and swapped axes
GAP_INTERVALS = 1.5
"""A time step longer than this many nominal intervals is a gap (at least one sample lost)."""
DEAD_STD = {"acc": 1e-4, "gyro": 1e-5}
"""Standard deviations (g, rad/s) below which a channel is dead: a working MEMS sensor's
noise alone is about 1e-3 g and 1e-3 rad/s (MPU6886 and similar datasheets)."""
SWAP_ANGLE_DEG = (45.0, 20.0)
"""A session's mean gravity direction for a class more than the first angle (degrees) from
the class's median direction, and within the second after exchanging or negating axes, is
reported as swapped axes."""
SWAP_CONSISTENT = 0.8
"""Share of a class's other sessions that must lie within ``SWAP_ANGLE_DEG[1]`` degrees of
its median direction for swaps to be judged: a class with no one posture (HAPT's lying:
on the back, the side or the front; 55 % of sessions within 20 degrees, against 90-98 %
for sitting, standing and walking) says nothing about axes."""


def time_steps(time: np.ndarray, declared_hz: float) -> dict[str, Any]:
    """Timing of one session: sampling-rate jitter and gaps of its time column.

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Time in s, in file order.
    declared_hz : float
        The declared sampling rate in Hz.

    Returns
    -------
    dict
        ``measured_hz`` (:func:`measured_rate_hz`, None for < 3 samples),
        ``jitter_ms`` (standard deviation of the regular steps, those within
        0.5-1.5 times the median, in ms), ``jitter_p99_ms`` (99th percentile
        of ``|step - 1/declared_hz|`` over the regular steps, ms),
        ``gaps`` (list of ``(sample index after the gap, gap length in s)``
        for steps longer than :data:`GAP_INTERVALS` nominal intervals),
        ``backwards`` (number of steps <= 0).
    """
    return TimeSteps(declared_hz).add(time).result()


class TimeSteps:
    """:func:`time_steps` of one session's time column given in pieces.

    Gaps and steps that go back are found as the pieces come (the step from
    a piece's last sample to the next piece's first included); the positive
    steps are kept (:class:`_Spill`, 8 bytes a step, in a temporary file
    beyond :data:`_SPILL_VALUES`) for their median (:func:`_chunked_median`,
    exact), the rate (:func:`measured_rate_hz`'s rule), the jitter and its
    99th percentile, each read a chunk of :data:`_CHUNK` steps at a time.

    Parameters
    ----------
    declared_hz : float
        The declared sampling rate in Hz.
    spill : bool
        Keep the steps beyond :data:`_SPILL_VALUES` in a temporary file
        (:class:`_Spill`): for a session read in batches.
    """

    def __init__(self, declared_hz: float, spill: bool = False) -> None:
        self.declared_hz = declared_hz
        self.n = 0
        self.backwards = 0
        self.gaps: list[tuple[int, float]] = []
        self._last: float | None = None
        self._positive = _Spill(spill)

    def add(self, time: np.ndarray) -> TimeSteps:
        """Take the next samples' times (s, shape (n_rows,)); returns self."""
        time = np.asarray(time, dtype=np.float64)
        if not len(time):
            return self
        if self._last is None:
            steps, after = np.diff(time), self.n + 1  # step i ends at sample after + i
        else:
            steps, after = np.diff(time, prepend=self._last), self.n
        self.backwards += int(np.count_nonzero(steps <= 0))
        big = np.flatnonzero(steps > GAP_INTERVALS * (1.0 / self.declared_hz))
        self.gaps += [(int(i) + after, float(steps[i])) for i in big]
        self._positive.append(steps[steps > 0])
        self._last = float(time[-1])
        self.n += len(time)
        return self

    def result(self) -> dict[str, Any]:
        """As :func:`time_steps` of all the times given."""
        chunks = self._positive.chunks
        measured, median = _rate_of(chunks)
        out: dict[str, Any] = {"measured_hz": measured, "jitter_ms": 0.0, "jitter_p99_ms": 0.0,
                               "gaps": list(self.gaps), "backwards": self.backwards}
        if self._positive.n == 1:
            median = self._positive.median()
        if median is None:
            return out
        total, count = _regular_sum(chunks(), median)
        if count:
            mean = total / count  # as numpy's std: the mean, then the squared deviations
            spread = sum(float(np.square(_regular(s, median) - mean).sum()) for s in chunks())
            out["jitter_ms"] = float(np.sqrt(spread / count) * 1e3)
            nominal = 1.0 / self.declared_hz
            out["jitter_p99_ms"] = _chunked_percentile(
                (np.abs(_regular(s, median) - nominal) for s in chunks()), count, 99) * 1e3
        return out


def dead_channels(values: np.ndarray, channels: list[str]) -> list[tuple[str, float]]:
    """Channels that do not move: standard deviation below :data:`DEAD_STD`.

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples, n_channels)
        Sensor values in g / rad/s.
    channels : list of str
        Their names (``acc_*`` or ``gyro_*``).

    Returns
    -------
    list of (channel, std)
        A disconnected axis, a sensor that was never started, or a column
        filled with a constant.
    """
    return ChannelSpread().add(values).dead(channels)


class ChannelSpread:
    """Standard deviation of each channel (:func:`dead_channels`) of rows given in pieces.

    Each piece of :data:`_CHUNK` rows (counted from the first row) gets its
    mean and sum of squared deviations as :func:`numpy.std` computes them
    (float64); the pieces are joined with the pairwise update of Chan, Golub
    and LeVeque (1979, "Updating formulae and a pairwise algorithm for
    computing sample variances"). Up to :data:`_CHUNK` rows this is
    ``numpy.std(values, axis=0)`` exactly; beyond, equal to rounding.
    """

    def __init__(self) -> None:
        self._rows = _Regroup(_CHUNK)
        self.n = 0  # rows given
        self._n = 0  # rows in the mean and sum of squares so far
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def add(self, values: np.ndarray) -> ChannelSpread:
        """Take the next rows (shape (n_rows, n_channels), any float dtype); returns self."""
        self.n += len(values)
        for (rows,) in self._rows.add(values):
            self._add(rows)
        return self

    def _add(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.float64)
        n = len(rows)
        mean = rows.sum(axis=0) / n
        m2 = np.square(rows - mean).sum(axis=0)
        if self._mean is None:
            self._n, self._mean, self._m2 = n, mean, m2
            return
        total = self._n + n
        delta = mean - self._mean
        self._mean = self._mean + delta * (n / total)
        self._m2 = self._m2 + m2 + np.square(delta) * (self._n * n / total)
        self._n = total

    def std(self) -> np.ndarray:
        """Standard deviation per channel of all the rows given (shape (n_channels,); >= 1 row)."""
        rest = self._rows.rest()
        if rest is not None:
            self._add(rest[0])
        return np.sqrt(self._m2 / self._n)

    def dead(self, channels: list[str]) -> list[tuple[str, float]]:
        """As :func:`dead_channels` of all the rows given (``channels``: their names)."""
        if self.n < 2:
            return []
        return [(c, float(s)) for c, s in zip(channels, self.std(), strict=True)
                if s < DEAD_STD["gyro" if c.startswith("gyro") else "acc"]]


class ClassMeans:
    """Per class, the mean acceleration of one session (:func:`swapped_axes`' directions).

    Sums in float64 a piece of :data:`_CHUNK` rows at a time (counted from
    the first row), so the means do not depend on how the rows were given.
    """

    def __init__(self) -> None:
        self._rows = _Regroup(_CHUNK)
        self._sums = np.zeros((0, 3))
        self._counts = np.zeros(0, np.int64)

    def add(self, acc_g: np.ndarray, codes: np.ndarray) -> ClassMeans:
        """Take the next rows; returns self.

        Parameters
        ----------
        acc_g : numpy.ndarray, shape (n_rows, 3)
            Acceleration in g.
        codes : numpy.ndarray of int, shape (n_rows,)
            Class index of each row, -1 for unlabelled rows (left out).
        """
        for rows, labels in self._rows.add(acc_g, codes):
            self._add(rows, labels)
        return self

    def _add(self, rows: np.ndarray, codes: np.ndarray) -> None:
        labelled = codes >= 0
        codes = codes[labelled].astype(np.int64)
        if not len(codes):
            return
        k = max(int(codes.max()) + 1, len(self._counts))
        sums = np.zeros((k, 3))
        sums[: len(self._sums)] = self._sums
        for axis in range(3):
            sums[:, axis] += np.bincount(codes, weights=rows[labelled, axis], minlength=k)
        counts = np.zeros(k, np.int64)
        counts[: len(self._counts)] = self._counts
        self._sums, self._counts = sums, counts + np.bincount(codes, minlength=k)

    def means(self) -> dict[int, np.ndarray]:
        """Class index -> mean acceleration (g, shape (3,)), for the classes with rows."""
        rest = self._rows.rest()
        if rest is not None:
            self._add(*rest)
        return {int(k): self._sums[k] / self._counts[k] for k in np.flatnonzero(self._counts)}


def swapped_axes(directions: Mapping[str, np.ndarray]) -> list[tuple[str, str, float]]:
    """Sessions whose gravity direction looks like the others' with axes exchanged or negated.

    Parameters
    ----------
    directions : mapping of str -> numpy.ndarray, shape (3,)
        Per session (of one class, i.e. one body posture), the mean acceleration
        in g over that class's samples.

    Returns
    -------
    list of (session, mapping, angle)
        ``mapping`` like ``"x<->y"`` or ``"-z"``: the exchange (or sign flip)
        of axes that brings the session's direction within
        ``SWAP_ANGLE_DEG[1]`` degrees of the median direction of all sessions,
        when it is more than ``SWAP_ANGLE_DEG[0]`` degrees away as recorded;
        ``angle`` is that recorded angle in degrees. Needs at least three
        sessions (a median of two says nothing), at most a third of them that
        far, and :data:`SWAP_CONSISTENT` of the others within
        ``SWAP_ANGLE_DEG[1]`` degrees (one posture per class).
    """
    import itertools

    if len(directions) < 3:
        return []
    units = {s: v / np.linalg.norm(v) for s, v in directions.items() if np.linalg.norm(v) > 0}
    if len(units) < 3:
        return []
    ref = np.median(np.stack(list(units.values())), axis=0)
    if np.linalg.norm(ref) == 0:
        return []
    ref = ref / np.linalg.norm(ref)

    def angle(a: np.ndarray) -> float:
        return float(np.degrees(np.arccos(np.clip(a @ ref, -1.0, 1.0))))

    far, near = SWAP_ANGLE_DEG
    angles = {s: angle(v) for s, v in units.items()}
    inliers = [a for a in angles.values() if a <= far]
    if (len(angles) - len(inliers) > len(angles) / 3
            or np.mean([a <= near for a in inliers]) < SWAP_CONSISTENT):
        return []  # the class has no one posture (e.g. lying on the back or the side)
    found = []
    names = "xyz"
    for s, v in units.items():
        a = angles[s]
        if a <= far:
            continue
        best = None
        for perm in itertools.permutations(range(3)):
            for signs in itertools.product((1, -1), repeat=3):
                if perm == (0, 1, 2) and signs == (1, 1, 1):
                    continue
                w = np.array(signs) * v[list(perm)]
                if angle(w) <= near:
                    moved = [f"{names[i]}<->{names[p]}" for i, p in enumerate(perm) if i < p]
                    flipped = [f"-{names[i]}" for i, sg in enumerate(signs) if sg < 0]
                    desc = ", ".join(moved + flipped)
                    if best is None or len(desc) < len(best):
                        best = desc
        if best is not None:
            found.append((s, best, a))
    return found
