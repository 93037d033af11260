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
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
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

    median = _chunked_median(positive_steps)
    if median is None:
        return None
    total, count = 0.0, 0
    for steps in positive_steps():
        regular = steps[(steps >= 0.5 * median) & (steps <= 1.5 * median)]
        total += float(regular.sum())
        count += len(regular)
    return float(1.0 / (total / count)) if count else float("nan")  # (nan: as an empty mean)


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
    measured = measured_rate_hz(time, steps)
    if measured is None or abs(measured / declared_hz - 1.0) <= RATE_TOLERANCE:
        return
    raise DataFormatError(
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


def _blocks(values: np.ndarray, rate: float) -> np.ndarray:
    """Non-overlapping blocks of about 1 s (at least 4 samples): shape (n_blocks, size, ...)."""
    size = _block_size(rate)
    n = len(values) // size
    return values[: n * size].reshape(n, size, *values.shape[1:])


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


def _block_magnitudes(values: np.ndarray, rate: float, chosen: np.ndarray):
    """``|values|`` of the ~1 s blocks (:func:`_blocks`) where ``chosen`` is true.

    Yields them a chunk of blocks at a time, flattened, in order (no
    magnitude of the whole signal).
    """
    size = _block_size(rate)
    per_chunk = max(1, _CHUNK // size)
    for first in range(0, len(chosen), per_chunk):
        pick = chosen[first : first + per_chunk]
        if pick.any():
            rows = values[first * size : (first + len(pick)) * size]
            yield magnitude_of(rows).reshape(len(pick), size)[pick].ravel()


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


def _block_mean_std(values: np.ndarray, rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of ``|values|`` in each ~1 s block (:func:`_blocks`).

    Computed a chunk of whole blocks at a time: the same numbers as on the
    whole magnitude, without it or a float64 copy of it in memory.
    """
    size = _block_size(rate)
    step = max(1, _CHUNK // size) * size
    n = len(values) // size * size
    means, stds = [], []
    for a in range(0, n, step):
        blocks = _blocks(magnitude_of(values[a : min(a + step, n)]), rate)
        means.append(blocks.mean(axis=1))
        stds.append(blocks.std(axis=1))
    if not means:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(means), np.concatenate(stds)


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
    mean, std = _block_mean_std(acc_g, rate)
    if len(mean):
        still = std < STILL_RELATIVE_STD * np.abs(mean)
        if np.count_nonzero(still) >= MIN_BLOCKS:
            return float(np.median(mean[still])), True
    magnitude = magnitude_of(acc_g)
    return float(np.median(magnitude, overwrite_input=True)), False


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
    if len(acc_g) < MIN_BLOCKS * _block_size(rate):
        return
    level, from_still = gravity_level(acc_g, rate)
    low, high = GRAVITY_RANGE_G
    if low <= level <= high:
        return
    span = "on still spans" if from_still else "over all samples (no still span found)"
    raise DataFormatError(
        where,
        f"the accelerometer's median magnitude {span} is {level:.4g} g after converting from "
        f"the declared {declared}, but gravity is 1 g: {_unit_guess(level)}. Fix the unit "
        f"({key}); " + switch_off_hint("units"),
        column="acc_x acc_y acc_z",
    )


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
    if len(gyro_rad_s) < MIN_BLOCKS * _block_size(rate):
        return
    _, acc_std = _block_mean_std(acc_g, rate)
    moving = acc_std > MOTION_STD_G
    del acc_std
    p99 = _chunked_percentile(
        (magnitude_of(gyro_rad_s[a : a + _CHUNK]) for a in range(0, len(gyro_rad_s), _CHUNK)),
        len(gyro_rad_s), 99,
    )
    if p99 > GYRO_MAX_P99_RAD_S:
        raise DataFormatError(
            where,
            f"the gyroscope's 99th percentile magnitude is {p99:.4g} rad/s after converting "
            f"from the declared {declared} ({np.degrees(p99):.4g} deg/s); human motion stays "
            f"below {GYRO_MAX_P99_RAD_S:g} rad/s: the values look like deg/s. Fix the unit "
            f"({key}); " + switch_off_hint("units"),
            column="gyro_x gyro_y gyro_z",
        )
    if np.count_nonzero(moving) < MIN_BLOCKS:
        return
    p99_motion = _chunked_percentile(
        _block_magnitudes(gyro_rad_s, rate, moving),
        int(np.count_nonzero(moving)) * _block_size(rate), 99,
    )
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
    found = []
    n = len(values)
    if n < CLIP_MIN_RUN:
        return found
    for j, name in enumerate(channels):
        column = values[:, j]
        level = CLIP_MIN_LEVEL["gyro" if name.startswith("gyro") else "acc"]
        if column.max() == column.min():
            continue  # a constant channel is not clipping
        for extreme in (column.max(), column.min()):
            if abs(float(extreme)) < level:
                continue
            in_runs = _samples_in_runs(column, extreme, CLIP_MIN_RUN)
            if in_runs > CLIP_FRACTION * n:
                found.append((name, in_runs / n, float(extreme)))
    return found


def _samples_in_runs(column: np.ndarray, value, min_run: int) -> int:
    """How many samples of ``column`` lie in runs of at least ``min_run`` equal to ``value``.

    Scans :data:`_CHUNK` samples at a time; a run crossing a chunk's end is
    carried into the next chunk (no mask of the whole column).
    """
    total = 0
    open_run = 0  # length of the run reaching the end of the previous chunk
    for a in range(0, len(column), _CHUNK):
        at = (column[a : a + _CHUNK] == value).view(np.int8)
        edges = np.diff(at, prepend=np.int8(0), append=np.int8(0))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        del at, edges
        lengths = ends - starts
        if len(lengths) and starts[0] == 0:
            lengths[0] += open_run  # continues the previous chunk's last run
        elif open_run >= min_run:
            total += open_run
        open_run = 0
        if len(lengths) and ends[-1] == min(_CHUNK, len(column) - a):
            open_run, lengths = int(lengths[-1]), lengths[:-1]  # may go on in the next chunk
        total += int(lengths[lengths >= min_run].sum())
    if open_run >= min_run:
        total += open_run
    return total


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
    if checks.units:
        check_acc_units(acc_g, rate, where, acc_declared, acc_key)
        if gyro_rad_s is not None:
            check_gyro_units(gyro_rad_s, acc_g, rate, where, gyro_declared, gyro_key)
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
    time = np.asarray(time, dtype=np.float64)
    steps = np.diff(time)
    nominal = 1.0 / declared_hz
    out: dict[str, Any] = {"measured_hz": measured_rate_hz(time), "jitter_ms": 0.0,
                           "jitter_p99_ms": 0.0, "gaps": [],
                           "backwards": int(np.count_nonzero(steps <= 0))}
    positive = steps[steps > 0]
    if positive.size:
        median = float(np.median(positive))
        regular = positive[(positive >= 0.5 * median) & (positive <= 1.5 * median)]
        if regular.size:
            out["jitter_ms"] = float(regular.std() * 1e3)
            out["jitter_p99_ms"] = float(np.percentile(np.abs(regular - nominal), 99) * 1e3)
    big = np.flatnonzero(steps > GAP_INTERVALS * nominal)
    out["gaps"] = [(int(i) + 1, float(steps[i])) for i in big]
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
    if len(values) < 2:
        return []
    std = np.asarray(values, dtype=np.float64).std(axis=0)
    return [(c, float(s)) for c, s in zip(channels, std, strict=True)
            if s < DEAD_STD["gyro" if c.startswith("gyro") else "acc"]]


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
