r"""Import recordings exported by phone apps into a folder of canonical recordings.

:func:`import_recording` reads one export (a ``.zip`` file, a folder, or a
single CSV file) and adds it to a *recordings folder*: one canonical Parquet
file per recording (:meth:`~tinyhar.datasets.recording.RecordingSet.to_parquet`)
plus a dataset definition ``data.yaml`` (:mod:`tinyhar.datasets.custom`) that
lists them, so ``tinyhar train --dataset FOLDER/data.yaml`` trains on them.

Formats read
------------
**phyphox** (RWTH Aachen, https://phyphox.org), CSV export: one CSV per sensor
(``Raw Data.csv`` for a one-sensor experiment, ``Accelerometer.csv``,
``Gyroscope.csv``, ... for several), delimiter comma, tab or semicolon (with
decimal comma). Columns:

- ``Time (s)``: seconds since the experiment started (shared by all sensors);
- "Acceleration with g": ``Acceleration x (m/s^2)``, ``Acceleration y (m/s^2)``,
  ``Acceleration z (m/s^2)`` (with gravity);
- "Linear Acceleration" (without g): ``Linear Acceleration x (m/s^2)``, ...;
- "Gyroscope": ``Gyroscope x (rad/s)``, ``Gyroscope y (rad/s)``,
  ``Gyroscope z (rad/s)``;
- magnitude columns (``Absolute acceleration (m/s^2)``, ``Absolute (rad/s)``)
  are ignored.

A file may hold acceleration and gyroscope columns together.

**Sensor Logger** (Kelvin Choi, https://github.com/tszheichoi/awesome-sensor-logger,
``UNITS.md``), zipped CSV export: one file per sensor with columns ``time``
(ns since the UNIX epoch), ``seconds_elapsed`` (s since the start tap, shared
by all sensors), ``z``, ``y``, ``x``:

- ``TotalAcceleration.csv``: acceleration *with* gravity, m/s^2;
- ``Accelerometer.csv``: acceleration *without* gravity (user acceleration),
  m/s^2; ``Gravity.csv``: the gravity vector, m/s^2 (iOS writes only these two);
- ``Gyroscope.csv``: angular rate, rad/s.

**Generic CSV**: anything else with acceleration columns is described by
:func:`tinyhar.datasets.scaffold.scaffold_definition` (``tinyhar datasets
init``'s detection of columns, time unit, rate and units) and loaded with it.

Conversion
----------
Acceleration is stored in g *with* gravity (m/s^2 divided by standard gravity,
9.80665 m/s^2): when an export holds only gravity-free acceleration and a
gravity file, the two are added sample by sample (after alignment); with only
gravity-free acceleration the import is refused (tinyhar's models and unit
checks expect gravity). Angular rate stays in rad/s. Axes are kept as the app
writes them; note that Sensor Logger on iOS writes acceleration and gravity
with the opposite sign to Android unless its "Standardise Units & Frames"
setting is on (``COORDINATES.md`` of the same repository): an iOS export
(``Metadata.csv`` ``platform``) gives a warning saying so.

A generic CSV keeps the labels ``datasets init`` found in it (a label column,
or the file name) unless ``label`` is given.

Time base and rate
------------------
Each sensor's rate is measured from its time column
(:func:`~tinyhar.datasets.checks.measured_rate_hz`). The recording's rate is
the folder's rate when ``data.yaml`` already exists (one rate per data set);
otherwise the common rate in :data:`COMMON_RATES_HZ` nearest to the slowest
sensor's measured rate. Every channel is then resampled by linear
interpolation (:func:`numpy.interp`) onto one uniform grid
``t0, t0 + 1/rate, ...`` spanning the time all sensors overlap. Phone sensors
are sampled irregularly and each at its own rate, so some resampling is
unavoidable; linear interpolation is exact for the samples' values on the
grid points that coincide with them and adds no overshoot. A time step that
goes back or repeats, or a gap longer than :data:`MAX_GAP_INTERVALS` typical
intervals (a clock jump or dropped data, which interpolation would fill
with invented samples), is refused, naming the file and line.

The resampled recording goes through the plausibility checks of
:mod:`tinyhar.datasets.checks` (units, clipping) before anything is written.
"""

from __future__ import annotations

import io
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tinyhar.datasets.checks import (
    DataChecks,
    check_signals,
    measured_rate_hz,
    warn_clipping,
)
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    constant_category,
)
from tinyhar.errors import ConfigError, DataFormatError

STANDARD_GRAVITY = 9.80665
"""Standard gravity in m/s^2 (both apps convert with it)."""
COMMON_RATES_HZ = (10.0, 12.5, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 100.0, 200.0, 400.0)
"""Rates a new recordings folder may get: the one nearest to the slowest sensor's."""
MAX_GAP_INTERVALS = 10.0
"""A time step longer than this many typical intervals is a clock jump or lost data."""
DEFINITION_FILE = "data.yaml"
"""Name of the dataset definition kept in a recordings folder."""
MIN_SAMPLES = 10
"""Fewest samples a sensor file must hold to be imported."""

_PHYPHOX_ACC = re.compile(r"^acceleration ([xyz]) \(m/s\^?2\)$", re.I)
_PHYPHOX_LIN = re.compile(r"^linear acceleration ([xyz]) \(m/s\^?2\)$", re.I)
_PHYPHOX_GYRO = re.compile(r"^gyroscope ([xyz]) \(rad/s\)$", re.I)
_SENSOR_FILE = re.compile(r"acceler|gyro|gravity|raw data", re.I)
"""File names of the sensor files of either app: those must be readable."""
_SENSOR_LOGGER = {
    "totalacceleration": "acc",
    "accelerometer": "linear",
    "gravity": "gravity",
    "gyroscope": "gyro",
}


@dataclass
class _Stream:
    """One sensor's samples: time (s, shared clock) and x, y, z in the file's unit."""

    kind: str  # acc (with g), linear (without g), gravity, gyro
    time: np.ndarray
    xyz: np.ndarray
    source: str
    lines: np.ndarray = field(repr=False)  # 1-based file line of each sample
    epoch_s: float | None = None  # the clock time (s since the epoch, UTC) of time 0


@dataclass
class ImportResult:
    """What :func:`import_recording` wrote.

    Attributes
    ----------
    path : Path
        The Parquet file of the new recording.
    definition : Path
        The dataset definition listing every recording of the folder.
    app : str
        ``"phyphox"``, ``"sensor-logger"`` or ``"csv"``.
    sampling_rate_hz : float
        Rate of the stored recording (Hz).
    measured_hz : dict
        Measured rate of each sensor file (Hz).
    n_samples : int
        Samples stored.
    gravity_added : bool
        Acceleration with gravity was made from gravity-free acceleration plus
        the gravity file.
    """

    path: Path
    definition: Path
    app: str
    sampling_rate_hz: float
    measured_hz: dict[str, float]
    n_samples: int
    gravity_added: bool = False


# ------------------------------------------------------------------ reading files
def _members(export: Path) -> dict[str, bytes]:
    """File name -> bytes of every CSV in a zip, folder or single file."""
    if not export.exists():
        raise ConfigError(f"{export} does not exist; give a phyphox or Sensor Logger export "
                          "(.zip, its unpacked folder, or a CSV file)")
    out: dict[str, bytes] = {}
    if export.is_dir():
        for p in sorted(export.rglob("*")):
            if p.is_file() and p.suffix.lower() in (".csv", ".tsv", ".txt"):
                out[str(p.relative_to(export))] = p.read_bytes()
    elif zipfile.is_zipfile(export):
        try:
            with zipfile.ZipFile(export) as zf:
                for info in zf.infolist():
                    name = info.filename
                    if not info.is_dir() and Path(name).suffix.lower() in (".csv", ".tsv",
                                                                            ".txt"):
                        out[name] = zf.read(info)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataFormatError(export, f"cannot read the zip file: {exc}") from exc
    else:
        out[export.name] = export.read_bytes()
    if not out:
        raise DataFormatError(export, "holds no CSV file; export the recording as CSV "
                              "(phyphox: 'Export data' > CSV; Sensor Logger: zip export)")
    return out


def _read_csv(data: bytes, where: str) -> pd.DataFrame:
    """Read one CSV export (comma, tab, or semicolon with decimal comma)."""
    text = data.decode("utf-8-sig", errors="replace")
    if not text.strip():
        raise DataFormatError(where, "the file is empty; export the recording again")
    head = text.splitlines()[0]
    sep = max((",", "\t", ";"), key=head.count)
    decimal = "," if sep == ";" else "."
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataFormatError(where, f"cannot parse as CSV: {exc}") from exc
    frame.columns = [str(c).strip().strip('"') for c in frame.columns]
    return frame


def _numeric(frame: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise DataFormatError(where, f"value {frame[column].iloc[bad[0]]!r} is not a number",
                              line=int(bad[0]) + 2, column=column)
    return values


def _stream(kind: str, frame: pd.DataFrame, time_col: str, axes: dict[str, str],
            where: str, epoch_col: str | None = None) -> _Stream:
    if len(frame) < MIN_SAMPLES:
        raise DataFormatError(where, f"holds {len(frame)} samples, fewer than {MIN_SAMPLES}; "
                              "the recording was cut short or is empty: record again")
    time = _numeric(frame, time_col, where)
    xyz = np.stack([_numeric(frame, axes[a], where) for a in "xyz"], axis=1)
    lines = np.arange(len(frame)) + 2
    # a row repeated exactly (same time, same values; Sensor Logger can log one twice)
    # carries nothing: drop it. A repeated time with other values stays an error.
    same = np.r_[False, (np.diff(time) == 0) & np.all(np.diff(xyz, axis=0) == 0, axis=1)]
    return _Stream(kind, time[~same], xyz[~same], where, lines[~same],
                   _epoch_of_zero(frame, epoch_col, time) if epoch_col else None)


def _epoch_of_zero(frame: pd.DataFrame, column: str, time: np.ndarray) -> float | None:
    """The clock time (s since the epoch, UTC) at ``time`` 0, from a column of ns since the
    epoch beside it (Sensor Logger's ``time``): the median of their differences, so that a
    late-logged row does not move it; None when the column is missing or not numbers."""
    if column not in frame:
        return None
    ns = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
    ok = np.isfinite(ns)
    if not ok.any():
        return None
    return float(np.median(ns[ok] / 1e9 - time[ok]))


def _phyphox_streams(frame: pd.DataFrame, where: str) -> list[_Stream]:
    found: dict[str, dict[str, str]] = {}
    for col in frame.columns:
        for kind, pattern in (("acc", _PHYPHOX_ACC), ("linear", _PHYPHOX_LIN),
                              ("gyro", _PHYPHOX_GYRO)):
            m = pattern.match(col)
            if m:
                found.setdefault(kind, {})[m.group(1).lower()] = col
    streams = []
    for kind, axes in found.items():
        if set(axes) != set("xyz"):
            raise DataFormatError(where, f"has {sorted(axes.values())} but not all three axes "
                                  "x, y, z; export the whole sensor")
        streams.append(_stream(kind, frame, "Time (s)", axes, where))
    return streams


def _detect(files: dict[str, bytes], export: Path) -> tuple[str, list[_Stream]]:
    """Classify the export and read its sensor streams."""
    frames = {}
    for name, data in files.items():
        try:
            frames[name] = _read_csv(data, f"{export}: {name}")
        except DataFormatError:
            if _SENSOR_FILE.search(Path(name).stem):
                raise
            # another file of the export (phyphox's meta/, Sensor Logger's Metadata.csv...)
    phyphox = {n: f for n, f in frames.items() if "Time (s)" in f.columns}
    logger = {n: f for n, f in frames.items()
              if {"seconds_elapsed", "x", "y", "z"} <= set(f.columns)}
    if phyphox:
        streams = [s for n, f in phyphox.items() for s in _phyphox_streams(f, f"{export}: {n}")]
        if streams:
            return "phyphox", streams
    if logger:
        streams = []
        for name, frame in logger.items():
            kind = _SENSOR_LOGGER.get(Path(name).stem.lower())
            if kind is not None:
                axes = {a: a for a in "xyz"}
                streams.append(_stream(kind, frame, "seconds_elapsed", axes,
                                       f"{export}: {name}", epoch_col="time"))
        if streams:
            return "sensor-logger", streams
    return "csv", []


def _warn_ios(files: dict[str, bytes], export: Path) -> None:
    """Warn when Sensor Logger's Metadata.csv says iOS: acceleration signs may be inverted."""
    meta = next((data for name, data in files.items()
                 if Path(name).stem.lower() == "metadata"), None)
    if meta is None:
        return
    try:
        platforms = _read_csv(meta, f"{export}: Metadata.csv").get("platform")
    except DataFormatError:
        return
    if platforms is not None and any(str(p).lower() == "ios" for p in platforms):
        warnings.warn(
            f"{export} was recorded on iOS: unless 'Standardise Units & Frames' was on, Sensor "
            "Logger writes iOS acceleration and gravity with the opposite sign on every axis "
            "to Android (and to the public data sets); the values are kept as written, so "
            "record every session of one data set with the same setting (turning it on is "
            "best)", UserWarning, stacklevel=3)


# --------------------------------------------------------------- time and rate
def _check_clock(s: _Stream) -> float:
    """Measured rate of a stream; refuse clocks that go back, repeat or jump."""
    steps = np.diff(s.time)
    back = np.flatnonzero(steps <= 0)
    if back.size:
        i = back[0] + 1
        what = "repeats" if steps[back[0]] == 0 else "goes back"
        raise DataFormatError(
            s.source, f"the time {what} ({s.time[i - 1]:.6g} s then {s.time[i]:.6g} s): the "
            "clock jumped or two recordings were joined; split or trim the file",
            line=int(s.lines[i]))
    rate = measured_rate_hz(s.time)
    if rate is None:
        raise DataFormatError(s.source, "too few time steps to measure the sampling rate")
    gaps = np.flatnonzero(steps > MAX_GAP_INTERVALS / rate)
    if gaps.size:
        i = gaps[0] + 1
        raise DataFormatError(
            s.source, f"a gap of {steps[gaps[0]]:.3g} s ({steps[gaps[0]] * rate:.0f} sample "
            f"intervals at {rate:.4g} Hz) before this line: a clock jump or lost data that "
            "interpolation would fill with invented samples; trim the recording before or "
            "after the gap", line=int(s.lines[i]))
    return rate


def nearest_common_rate(rate_hz: float) -> float:
    """The rate in :data:`COMMON_RATES_HZ` nearest (in ratio) to ``rate_hz`` (Hz)."""
    return min(COMMON_RATES_HZ, key=lambda r: abs(np.log(r / rate_hz)))


def _align(streams: dict[str, _Stream], rate: float, export: Path
           ) -> tuple[np.ndarray, dict, float]:
    """Resample every stream onto one uniform grid over their common span: the grid's times
    from 0 (s), the streams on it, and the grid's first time on the streams' clock (s)."""
    start = max(s.time[0] for s in streams.values())
    end = min(s.time[-1] for s in streams.values())
    n = int(np.floor((end - start) * rate + 1e-9)) + 1
    if end <= start or n < MIN_SAMPLES:
        spans = ", ".join(f"{s.source}: {s.time[0]:.3f}-{s.time[-1]:.3f} s"
                          for s in streams.values())
        raise DataFormatError(export, f"the sensors overlap for less than {MIN_SAMPLES} "
                              f"samples ({spans}); export one recording with all sensors")
    grid = start + np.arange(n) / rate
    out = {k: np.stack([np.interp(grid, s.time, s.xyz[:, j]) for j in range(3)], axis=1)
           for k, s in streams.items()}
    return grid - start, out, start


# ------------------------------------------------------------------ the folder
def _read_definition(folder: Path) -> dict[str, Any] | None:
    path = folder / DEFINITION_FILE
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc}); fix or remove it") from exc
    if not isinstance(data, dict) or "sampling_rate_hz" not in data:
        raise ConfigError(f"{path} is not a recordings definition written by tinyhar "
                          "(no sampling_rate_hz); import into another folder")
    return data


def _definition_text(name: str, rate: float, gyro: bool, classes: list[str],
                     existing: dict[str, Any] | None) -> str:
    """The folder's definition; keys the user added (citation, checks, ...) are kept."""
    columns = {"time": "time", **{c: c for c in ACC_CHANNELS}}
    if gyro:
        columns.update({c: c for c in GYRO_CHANNELS})
    columns.update(label="label", subject="subject", session="session")
    body: dict[str, Any] = {
        "name": name,
        "files": "*.parquet",
        "format": "parquet",
        "sampling_rate_hz": float(rate),
        "columns": columns,
        "units": {"time": "s", "acc": "g", **({"gyro": "rad/s"} if gyro else {})},
    }
    if existing:
        body = {**body, **{k: v for k, v in existing.items() if k != "classes"}}
    if classes:
        body["classes"] = classes
    header = (
        "# Recordings imported by `tinyhar recordings import` or `pull` (one Parquet file per\n"
        "# recording: time in s, acc in g with gravity, gyro in rad/s). Each import adds its\n"
        "# class to `classes` and keeps the other keys (comments are not kept);\n"
        "# `tinyhar train --dataset THIS_FILE` trains on every recording listed here.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False)


def _classes(folder: Path, target: Path, labels: pd.Series,
             existing: dict[str, Any] | None) -> list[str]:
    """Labels of every recording in the folder once ``target`` holds ``labels``.

    The existing definition's order is kept for classes still present; new ones
    are appended in sorted order; classes no recording has any more are dropped.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    present = {str(v) for v in labels.dropna().unique()}
    for path in folder.glob("*.parquet"):
        if path.name == target.name:
            continue
        try:  # (the distinct labels only: not a string per sample)
            column = pc.unique(pq.read_table(path, columns=["label"]).column("label"))
            if pa.types.is_dictionary(column.type):
                column = column.dictionary_decode()
        except (OSError, KeyError, ValueError) as exc:
            raise DataFormatError(path, f"cannot read its label column ({exc}); the folder "
                                  "should hold only recordings imported by tinyhar") from exc
        present |= {str(v) for v in column.to_pylist() if v is not None}
    order = [str(c) for c in (existing or {}).get("classes") or [] if str(c) in present]
    return order + sorted(present - set(order))


def import_recording(
    export: str | Path,
    to: str | Path,
    subject: str = "1",
    label: str | None = None,
    overwrite: bool = False,
    checks: DataChecks | None = None,
) -> ImportResult:
    """Convert one phone-app export into a canonical recording in a recordings folder.

    Parameters
    ----------
    export : str or Path
        A phyphox or Sensor Logger CSV export (``.zip`` or its unpacked
        folder), or a generic CSV file (see the module docstring for formats).
    to : str or Path
        The recordings folder (created if needed). The recording is written
        to ``TO/<export name>.parquet`` and ``TO/data.yaml`` (which lists
        every ``*.parquet`` there) is rewritten: ``classes`` become the labels
        of the folder's recordings (existing order kept, new ones appended),
        other keys of an existing definition (``citation``, ``checks``, ...)
        are kept.
    subject : str
        Subject id of the recording (evaluation holds whole subjects out).
    label : str, optional
        The activity of the whole recording; without it the recording is
        unlabelled (label it later).
    overwrite : bool
        Replace a recording of the same name; without it that is an error.
    checks : DataChecks, optional
        Plausibility checks (units, clipping); all on by default.

    Returns
    -------
    ImportResult

    Raises
    ------
    ConfigError
        If ``export`` does not exist, the recording exists and ``overwrite``
        is false, or the folder's definition is not one tinyhar wrote.
    DataFormatError
        Naming the file (and line) for: an export of another app, a missing
        sensor file (acceleration, or gravity for gravity-free acceleration),
        an empty or short file, a clock jump, a non-numeric value, or a
        failed plausibility check.
    """
    export, folder = Path(export), Path(to)
    checks = checks or DataChecks()
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", export.stem if export.is_file() else export.name)
    target = folder / f"{stem}.parquet"
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists (imported before); pass --overwrite to replace it, "
                          "or rename the export")
    existing = _read_definition(folder)
    files = _members(export)
    app, found = _detect(files, export)
    gravity_added = False
    if app == "sensor-logger":
        _warn_ios(files, export)
    origin = None
    if app == "csv":
        frame, rate, measured = _generic(export, files, existing)
        gyro = all(c in frame for c in GYRO_CHANNELS)
    else:
        streams = {s.kind: s for s in found}
        if "acc" not in streams:
            if "linear" in streams and "gravity" in streams:
                gravity_added = True
            elif "linear" in streams:
                raise DataFormatError(
                    export, f"{streams['linear'].source} is acceleration without gravity and "
                    "there is no gravity file to add back; record 'Acceleration with g' "
                    "(phyphox) or export TotalAcceleration.csv or Gravity.csv (Sensor Logger)")
            else:
                raise DataFormatError(
                    export, "has no accelerometer file (phyphox: 'Acceleration with g' "
                    "columns 'Acceleration x (m/s^2)'...; Sensor Logger: TotalAcceleration.csv "
                    f"or Accelerometer.csv with Gravity.csv); found {sorted(files)}")
        use = {k: s for k, s in streams.items()
               if k in (("linear", "gravity") if gravity_added else ("acc",)) or k == "gyro"}
        measured = {s.source: _check_clock(s) for s in use.values()}
        rate = (float(existing["sampling_rate_hz"]) if existing else
                nearest_common_rate(min(measured[s.source] for s in use.values())))
        time, aligned, start = _align(use, rate, export)
        epochs = [s.epoch_s for s in use.values() if s.epoch_s is not None]
        origin = None if not epochs else float(np.median(epochs)) + start
        acc_ms2 = aligned["linear"] + aligned["gravity"] if gravity_added else aligned["acc"]
        frame = pd.DataFrame({"time": time})
        for j, c in enumerate(ACC_CHANNELS):
            frame[c] = (acc_ms2[:, j] / STANDARD_GRAVITY).astype(np.float32)
        gyro = "gyro" in aligned
        if gyro:
            for j, c in enumerate(GYRO_CHANNELS):
                frame[c] = aligned["gyro"][:, j].astype(np.float32)
    check_same_sensors(export, folder, gyro, existing)
    where = str(export)
    finding = check_signals(
        frame[list(ACC_CHANNELS)].to_numpy(np.float64),
        frame[list(GYRO_CHANNELS)].to_numpy(np.float64) if gyro else None,
        rate, where, checks, "m/s^2 / 9.80665", "rad/s", "the export", "the export")
    warn_clipping([finding])
    # one byte per sample for label, subject and session (not a string each)
    if label is not None or "label" not in frame:  # a generic CSV's own labels are kept
        frame["label"] = constant_category(label, len(frame))
    frame["subject"] = constant_category(subject, len(frame))
    frame["session"] = constant_category(stem, len(frame))
    definition = store_recording(folder, target, frame, rate, gyro, where, existing,
                                 origin=origin)
    return ImportResult(target, definition, app, rate, measured, len(frame), gravity_added)


def check_same_sensors(source: str | Path, folder: Path, gyro: bool,
                       existing: dict[str, Any] | None) -> None:
    """Refuse a recording whose sensors differ from those of the folder's recordings.

    Parameters
    ----------
    source : str or Path
        The file or export being added (for the message).
    folder : Path
        The recordings folder.
    gyro : bool
        Whether the new recording has a gyroscope.
    existing : dict or None
        The folder's definition (:func:`read_definition`), None for a new folder.

    Raises
    ------
    DataFormatError
        The folder's recordings have a gyroscope and this one has not, or the reverse.
    """
    if existing is None:
        return
    had_gyro = "gyro_x" in (existing.get("columns") or {})
    if had_gyro != gyro:
        raise DataFormatError(
            source, f"has {'a' if gyro else 'no'} gyroscope but the recordings in {folder} "
            f"{'have one' if had_gyro else 'have none'}; one data set needs the same "
            "sensors in every recording: put it into another folder")


def read_definition(folder: str | Path) -> dict[str, Any] | None:
    """The recordings folder's ``data.yaml`` as a dict, or None when there is none yet.

    Raises
    ------
    ConfigError
        Not valid YAML, or not a definition tinyhar wrote (no ``sampling_rate_hz``).
    """
    return _read_definition(Path(folder))


def store_recording(folder: str | Path, target: Path, frame: pd.DataFrame, rate: float,
                    gyro: bool, where: str, existing: dict[str, Any] | None,
                    origin: float | None = None) -> Path:
    """Write one canonical recording into a recordings folder and rewrite its ``data.yaml``.

    Parameters
    ----------
    folder : str or Path
        The recordings folder (created if needed).
    target : Path
        The Parquet file to write (atomically) in ``folder``.
    frame : pandas.DataFrame
        Columns ``time`` (s), ``acc_x..acc_z`` (g), optionally ``gyro_x..gyro_z``
        (rad/s), ``label``, ``subject``, ``session``; one row per sample.
    rate : float
        Sampling rate in Hz (the folder's rate).
    gyro : bool
        Whether ``frame`` has the gyroscope columns.
    where : str
        The source of the recording (kept in the recording, used in messages).
    existing : dict or None
        The folder's definition before this recording (:func:`read_definition`).
    origin : float, optional
        The clock time of ``time`` 0 (s since 1970-01-01 UTC), kept as the session's
        :attr:`~tinyhar.datasets.recording.RecordingSet.origins` (``tinyhar predict`` then
        writes clock times); None when the recording has no clock time.

    Returns
    -------
    Path
        The definition ``FOLDER/data.yaml``, whose ``classes`` are the labels of
        every recording in the folder (existing order kept, new ones appended).
    """
    from tinyhar.core.files import atomic_file, write_text_atomic

    folder = Path(folder)
    classes = _classes(folder, target, frame["label"], existing)
    sessions = pd.unique(frame["session"].astype(str))
    recording = RecordingSet(
        frame, rate, classes, name=folder.resolve().name, source=where,
        origins=None if origin is None else {str(k): origin for k in sessions})
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(target) as tmp:
        recording.to_parquet(tmp)
    return write_text_atomic(
        folder / DEFINITION_FILE,
        _definition_text(folder.resolve().name, rate, gyro, classes, existing),
    )


def _generic(export: Path, files: dict[str, bytes], existing: dict | None
             ) -> tuple[pd.DataFrame, float, dict[str, float]]:
    """Read a generic CSV with ``datasets init``'s detection; resample to the folder's rate."""
    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.scaffold import scaffold_definition

    if len(files) != 1:
        raise DataFormatError(
            export, f"is neither a phyphox export (columns 'Time (s)', 'Acceleration x (m/s^2)'"
            f", ...) nor a Sensor Logger export (TotalAcceleration.csv, Gyroscope.csv, ... with "
            f"columns time, seconds_elapsed, z, y, x); found {sorted(files)}. Import a single "
            "CSV file of another app, or describe the folder with tinyhar datasets init")
    name, data = next(iter(files.items()))
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw" / Path(name).name
        raw.parent.mkdir()
        raw.write_bytes(data)
        out = Path(tmp) / "def.yaml"
        try:
            scaffold = scaffold_definition(raw.parent, out)
            out.write_text(scaffold.text, encoding="utf-8")
            rec = load_custom(out)
        except (DataFormatError, ConfigError) as exc:
            raise DataFormatError(
                export, "is not a phyphox or Sensor Logger export, and as a generic CSV: "
                f"{exc}".replace(str(raw), name)) from exc
    if len(rec.sessions) != 1:
        raise DataFormatError(
            export, f"holds {len(rec.sessions)} recordings (the time restarts); import one "
            "recording per file, or describe the file with tinyhar datasets init")
    frame = rec.frame.reset_index(drop=True)
    rate = rec.sampling_rate_hz
    measured = {str(export): rate}
    target = float(existing["sampling_rate_hz"]) if existing else rate
    if target != rate:
        t = frame["time"].to_numpy(np.float64)
        grid = np.arange(int(np.floor(t[-1] * target)) + 1) / target
        cols = [c for c in (*ACC_CHANNELS, *GYRO_CHANNELS) if c in frame]
        nearest = np.clip(np.searchsorted(t, grid - 0.5 / rate), 0, len(t) - 1)
        frame = pd.DataFrame({"time": grid, **{
            c: np.interp(grid, t, frame[c].to_numpy(np.float64)).astype(np.float32)
            for c in cols}, "label": frame["label"].iloc[nearest].to_numpy()})
    keep = ["time", *[c for c in (*ACC_CHANNELS, *GYRO_CHANNELS) if c in frame], "label"]
    return frame[keep].copy(), target, measured
