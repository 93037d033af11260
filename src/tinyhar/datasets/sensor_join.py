"""A gyroscope recorded in files of its own, put onto the accelerometer's time stamps.

Many data sets and phone or watch apps write each sensor to its own file, with
its own time stamps (WISDM 2019: ``accel/data_1600_accel_phone.txt`` and
``gyro/data_1600_gyro_phone.txt``; HHAR: ``Phones_accelerometer.csv`` and
``Phones_gyroscope.csv``). A dataset definition's ``gyro`` key
(:class:`tinyhar.datasets.definition.GyroFiles`) names those files;
:mod:`tinyhar.datasets.custom` reads them with these rules:

- **Pairing.** Each gyroscope file pairs with the one accelerometer file of the
  same subject and session as the file names give them (the ``file_pattern``
  groups of each, and ``constants``; :func:`pair_files`). A file of either
  sensor without a partner, or two files naming the same subject and session,
  is an error naming both patterns and the file.
- **Rows.** Where subject or session come from columns (HHAR's ``User`` and
  ``Device``), each accelerometer row takes the gyroscope rows of the same
  subject and session in its paired file; those rows are sorted by time (a
  repeated time stamp is an error).
- **Time base.** The accelerometer's time stamps are the samples' times; the
  gyroscope is linearly interpolated to them (:func:`interpolate`: between the
  two gyroscope samples around each time, the standard first-order
  interpolation of tabulated values; Press et al., *Numerical Recipes*, 3rd
  ed., 2007, ch. 3), so rates may differ (50 Hz and 40 Hz). Both sensors must
  use the same clock and ``units.time``.
- **No invented samples.** An accelerometer row before the gyroscope's first
  sample, after its last, or inside a step between two gyroscope samples
  longer than ``gyro.max_gap_s`` (default :data:`MAX_GAP_PERIODS` sample
  periods of the slower sensor: :func:`max_gap_s`) has no gyroscope value:
  it is left out, with one warning per read naming the files and how many
  rows and seconds were left out (:func:`warn_left_out`). A file of which
  no row is left is an error naming both files and their time spans.

Labels, subjects and sessions are the accelerometer rows' (as the definition
gives them); the gyroscope's rows only give angular rate.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyhar.errors import ConfigError

MAX_GAP_PERIODS = 2.0
"""Default longest step between gyroscope samples interpolated across, in sample periods of
the slower sensor (:func:`max_gap_s`)."""


def max_gap_s(acc_rate_hz: float, gyro_rate_hz: float | None, given: float | None) -> float:
    """The longest step between two gyroscope samples that is interpolated across (s).

    Parameters
    ----------
    acc_rate_hz : float
        The accelerometer's rate (``sampling_rate_hz``).
    gyro_rate_hz : float or None
        The gyroscope's (``gyro.sampling_rate_hz``; None: the accelerometer's).
    given : float or None
        ``gyro.max_gap_s``, which wins when set.

    Returns
    -------
    float
        ``given``, else :data:`MAX_GAP_PERIODS` periods of the slower sensor.
    """
    if given is not None:
        return float(given)
    return MAX_GAP_PERIODS / min(acc_rate_hz, gyro_rate_hz or acc_rate_hz)


def covered(time: np.ndarray, stamps: np.ndarray, max_gap: float) -> np.ndarray:
    """Which times have a gyroscope value that needs no invented sample.

    Parameters
    ----------
    time : numpy.ndarray of float64, shape (n,)
        The accelerometer's times (s, any origin shared with ``stamps``).
    stamps : numpy.ndarray of float64, shape (m,)
        The gyroscope's times (s), strictly increasing, m >= 1.
    max_gap : float
        Longest step between two gyroscope samples interpolated across (s).

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True where a time equals a gyroscope time, or lies between two
        gyroscope samples at most ``max_gap`` apart; False before the first
        sample, after the last and inside longer steps.
    """
    before = np.searchsorted(stamps, time, side="right") - 1  # stamps[before] <= time
    inside = (before >= 0) & (time <= stamps[-1])
    at = np.clip(before, 0, len(stamps) - 1)
    exact = inside & (stamps[at] == time)
    if len(stamps) < 2:
        return exact
    left = np.clip(before, 0, len(stamps) - 2)
    short = (stamps[left + 1] - stamps[left]) <= max_gap
    return exact | (inside & short)


def interpolate(time: np.ndarray, stamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The gyroscope at the accelerometer's times, by linear interpolation.

    Between the gyroscope samples ``(t0, v0)`` and ``(t1, v1)`` around ``t``,
    ``v0 + (v1 - v0) * (t - t0) / (t1 - t0)`` (:func:`numpy.interp`, per axis,
    in float64). Each value depends on ``t`` and the two samples alone, so a
    file read in batches gets the values of its whole read.

    Parameters
    ----------
    time : numpy.ndarray of float64, shape (n,)
        Times with a value (:func:`covered`), s.
    stamps : numpy.ndarray of float64, shape (m,)
        Gyroscope times (s), strictly increasing.
    values : numpy.ndarray, shape (m, 3)
        Gyroscope samples (rad/s).

    Returns
    -------
    numpy.ndarray of float32, shape (n, 3)
        Rounded once from float64 (rad/s).
    """
    out = np.empty((len(time), 3), np.float32)
    for j in range(3):
        out[:, j] = np.interp(time, stamps, values[:, j].astype(np.float64))
    return out


def pair_files(acc: dict[Path, tuple], gyro: dict[Path, tuple], acc_patterns: str,
               gyro_patterns: str, source: str) -> dict[Path, Path]:
    """Each accelerometer file's gyroscope file, by the subject and session their names give.

    Parameters
    ----------
    acc, gyro : dict of Path -> tuple
        Each file's key: the subject and session its name (``file_pattern``
        groups, ``constants``) gives, in the same order for both sensors.
    acc_patterns, gyro_patterns : str
        The ``files`` and ``file_pattern`` of each sensor, for messages.
    source : str
        The definition, for messages.

    Returns
    -------
    dict of Path -> Path
        Accelerometer file -> gyroscope file, for every accelerometer file.

    Raises
    ------
    ConfigError
        Two files of one sensor with the same key, or a file of either
        sensor without one of the other (naming it, both patterns and what to do).
    """
    found: dict[str, dict[tuple, Path]] = {"accelerometer": {}, "gyroscope": {}}
    for sensor, files in (("accelerometer", acc), ("gyroscope", gyro)):
        for file, key in files.items():
            other = found[sensor].setdefault(key, file)
            if other != file:
                raise ConfigError(
                    f"{source}: the {sensor} files {other} and {file} name the same "
                    f"{_key_text(key)}, so neither can be paired with one file of the other "
                    f"sensor; give file_pattern (and gyro.file_pattern) groups that tell them "
                    "apart, e.g. a (?P<session>...) group")
    patterns = f"accelerometer: {acc_patterns}; gyroscope: {gyro_patterns}"
    for sensor, other in (("accelerometer", "gyroscope"), ("gyroscope", "accelerometer")):
        for key, file in found[sensor].items():
            if key not in found[other]:
                raise ConfigError(
                    f"{source}: the {sensor} file {file} ({_key_text(key)}) has no {other} "
                    f"file of the same subject and session ({patterns}); add its partner, "
                    "remove it, or change the patterns")
    return {file: found["gyroscope"][key] for key, file in found["accelerometer"].items()}


def _key_text(key: tuple) -> str:
    parts = [f"{name} {value!r}" for name, value in key]
    return ", ".join(parts) if parts else "no subject or session in the name"


@dataclass
class LeftOut:
    """Accelerometer rows of one file left out for want of a gyroscope value.

    Attributes
    ----------
    file, gyro_file : str
        The accelerometer file and its gyroscope file.
    rows : int
        Rows left out.
    seconds : float
        Their time, ``rows`` over the accelerometer's rate (s).
    first : str
        Where the first one is (``"line 12"``, ``"row 3"``).
    """

    file: str
    gyro_file: str
    rows: int
    seconds: float
    first: str


_SHOWN = 5
"""Files named in the warning of :func:`warn_left_out`."""


def warn_left_out(parts: list[LeftOut], max_gap: float, stacklevel: int = 2) -> None:
    """One warning for the accelerometer rows left out of a read (none when there are none).

    Parameters
    ----------
    parts : list of LeftOut
        Per file (several parts of one file, from batches, are added up).
    max_gap : float
        The longest gyroscope step interpolated across (s), for the message.
    stacklevel : int
        Passed to :func:`warnings.warn`.
    """
    by_file: dict[tuple[str, str], LeftOut] = {}
    for part in parts:
        if not part.rows:
            continue
        known = by_file.get((part.file, part.gyro_file))
        if known is None:
            by_file[(part.file, part.gyro_file)] = LeftOut(**vars(part))
        else:
            known.rows += part.rows
            known.seconds += part.seconds
    if not by_file:
        return
    rows = sum(p.rows for p in by_file.values())
    seconds = sum(p.seconds for p in by_file.values())
    shown = "; ".join(f"{p.file} with {p.gyro_file}: {p.rows} row(s), {p.seconds:.3g} s, "
                      f"the first at {p.first}" for p in list(by_file.values())[:_SHOWN])
    more = f"; and {len(by_file) - _SHOWN} more file(s)" if len(by_file) > _SHOWN else ""
    warnings.warn(
        f"{rows} accelerometer row(s) ({seconds:.3g} s) left out where their gyroscope file "
        f"has no sample within {max_gap:.3g} s (before its first sample, after its last, or "
        f"in a gap longer than gyro.max_gap_s): no gyroscope value is invented there "
        f"({shown}{more})", UserWarning, stacklevel=stacklevel)
