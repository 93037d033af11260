"""Recordings of tinyhar's recording app, pulled from a board, into a recordings folder.

The board side (:mod:`tinyhar.export.mpy.app_record`) writes each recording as
``rec_NNN.csv`` (header ``time,acc_x,...,gyro_z``; time in s, acceleration in g,
angular rate in rad/s) plus a JSON sidecar ``rec_NNN.json`` (sampling rate,
units, channels, class, start time, board, sensor, firmware and tinyhar
versions, ``n_samples``, ``complete``, ``classes``). An open recording is
``rec_NNN.csv.part`` until it is stopped. :mod:`tinyhar.device.pull` copies the
files (over mpremote, or from a folder); this module decides what to copy and
turns each copied pair into a canonical recording:

- :func:`plan_pull` sorts the board's files into recordings to pull, ones
  pulled before (same SHA-256 of the CSV in the folder's ledger
  :data:`LEDGER_FILE`), and ones that cannot be pulled (an open or
  interrupted ``.part`` recording, a CSV without its sidecar, a sidecar
  without its CSV), each with a message naming the file and what to do;
- :func:`verify_copy` checks a copied file's size and SHA-256 against the
  board's;
- :func:`add_pulled` reads the pair (:func:`read_pulled`: the sidecar's
  keys, the CSV's header and numbers, rows against ``n_samples``, the time
  column against the sampling rate, with no clock jump), runs the
  plausibility checks of :mod:`tinyhar.datasets.checks`, writes
  ``FOLDER/<name>.parquet`` and ``FOLDER/data.yaml`` with
  :func:`tinyhar.datasets.phone.store_recording` (the same folder layout as
  ``tinyhar recordings import``), keeps the raw pair under
  ``FOLDER/board/`` and records it in the ledger. Across recordings it
  notes a start time earlier than the previous recording's (the board's
  clock was reset) and a class list that changed (``classes.txt`` was
  rewritten between recordings).

Nothing already pulled is replaced unless ``overwrite`` is given: a new
recording whose name is taken (a board whose numbering restarted, a second
board) is stored as ``<name>-<first 8 hex digits of its SHA-256>``.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tinyhar.datasets.checks import DataChecks, check_sampling_rate, check_signals
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, constant_category
from tinyhar.errors import ConfigError, DataFormatError

__all__ = [
    "LEDGER_FILE",
    "RAW_FOLDER",
    "BoardFile",
    "PlannedRecording",
    "PulledRecording",
    "add_pulled",
    "plan_pull",
    "read_ledger",
    "read_pulled",
    "verify_copy",
]

LEDGER_FILE = "pulled.json"
"""The recordings folder's record of what was pulled (names, SHA-256, start times, classes)."""
RAW_FOLDER = "board"
"""Subfolder of the recordings folder keeping the pulled CSV and sidecar files as they were."""
MAX_GAP_INTERVALS = 10.0
"""A time step longer than this many sample intervals is a clock jump (or lost data)."""
SIDECAR_KEYS = ("sampling_rate_hz", "channels", "units")
"""Keys every sidecar must have."""


@dataclass(frozen=True)
class BoardFile:
    """One file in the board's recordings folder.

    Attributes
    ----------
    name : str
        File name (``rec_001.csv``).
    size : int
        Bytes.
    sha256 : str
        Hexadecimal SHA-256 digest of its bytes (FIPS 180-4), computed on the board.
    """

    name: str
    size: int
    sha256: str


@dataclass
class PlannedRecording:
    """What :func:`plan_pull` decided for one recording of the board.

    Attributes
    ----------
    name : str
        The board's name (``rec_001``).
    csv, sidecar : BoardFile or None
        Its files on the board.
    status : {"new", "pulled", "skipped"}
        Pull it; pulled before (identical CSV in the ledger); cannot be pulled.
    local : str or None
        Name in the recordings folder (``new``: where it goes; ``pulled``: where it went).
    message : str
        Why it is skipped, or what happens to it.
    """

    name: str
    csv: BoardFile | None
    sidecar: BoardFile | None
    status: str
    local: str | None = None
    message: str = ""


@dataclass
class PulledRecording:
    """One recording added to the recordings folder by :func:`add_pulled`.

    Attributes
    ----------
    name, local : str
        Board name and name in the folder (``FOLDER/<local>.parquet``).
    path : Path
        The canonical Parquet file.
    label : str or None
        The class recorded (None: recovered without its class; label it).
    n_samples : int
    sampling_rate_hz : float
    notes : list of str
        Messages about this recording (cut short, clipping, clock reset, class list changed).
    """

    name: str
    local: str
    path: Path
    label: str | None
    n_samples: int
    sampling_rate_hz: float
    notes: list[str] = field(default_factory=list)


# -------------------------------------------------------------------- the ledger
def read_ledger(folder: str | Path) -> dict[str, Any]:
    """The folder's ledger :data:`LEDGER_FILE` (``{"recordings": [...]}``; empty when new).

    Raises
    ------
    ConfigError
        The ledger is not the JSON tinyhar writes (the message says to restore or remove it).
    """
    path = Path(folder) / LEDGER_FILE
    if not path.exists():
        return {"format": 1, "recordings": []}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not readable ({exc}); it records what was pulled, so "
                          "restore it, or remove it to pull every recording again") from exc
    if not isinstance(data, dict) or not isinstance(data.get("recordings"), list):
        raise ConfigError(f"{path}: not a ledger written by tinyhar recordings pull; restore "
                          "it, or remove it to pull every recording again")
    return data


def _write_ledger(folder: Path, ledger: dict[str, Any]) -> None:
    from tinyhar.core.files import write_text_atomic

    write_text_atomic(folder / LEDGER_FILE, json.dumps(ledger, indent=1) + "\n")


# ------------------------------------------------------------------- planning
def plan_pull(files: list[BoardFile], folder: str | Path, where: str,
              overwrite: bool = False) -> list[PlannedRecording]:
    """Sort the board's files into recordings to pull, pulled before, and unpullable.

    Parameters
    ----------
    files : list of BoardFile
        The board's recordings folder (:meth:`tinyhar.device.pull.MpremoteSource.listing`).
    folder : str or Path
        The local recordings folder.
    where : str
        The board's recordings folder for messages (``/dev/ttyACM0:rec``).
    overwrite : bool
        Pull again recordings pulled before, and replace a local recording of
        the same name; without it a new recording whose name is taken gets
        ``<name>-<sha8>``.

    Returns
    -------
    list of PlannedRecording
        In the board's order (by name).
    """
    folder = Path(folder)
    by_sha = {r.get("csv_sha256"): r for r in read_ledger(folder)["recordings"]}
    taken = {p.stem for p in folder.glob("*.parquet")} if folder.is_dir() else set()
    stems: dict[str, dict[str, BoardFile]] = {}
    for f in files:
        if f.name.startswith("."):
            continue
        for ext in (".csv.part", ".json.part", ".csv", ".json"):
            if f.name.endswith(ext):
                stems.setdefault(f.name[: -len(ext)], {})[ext] = f
                break
    plans = []
    for name in sorted(stems):
        parts = stems[name]
        csv, sidecar = parts.get(".csv"), parts.get(".json")
        if ".csv.part" in parts:
            plans.append(PlannedRecording(
                name, csv, sidecar, "skipped", message=(
                    f"{where}/{name}.csv.part: a recording still open, or cut short by a power "
                    "cut or crash; stop it, or start the recording app once (it keeps the "
                    f"complete rows as {name}.csv, marked incomplete), then pull again")))
            continue
        if csv is None and ".json.part" in parts and ".json" not in parts:
            plans.append(PlannedRecording(
                name, None, None, "skipped", message=(
                    f"{where}/{name}.json.part: a recording started but cut off before its "
                    "first sample was written; nothing to pull, delete the file on the board")))
            continue
        if csv is None:
            if ".json" in parts:
                plans.append(PlannedRecording(
                    name, None, sidecar, "skipped", message=(
                        f"{where}/{name}.json: its recording {name}.csv is missing (deleted "
                        "by hand?); nothing to pull, delete the sidecar on the board")))
            continue
        if sidecar is None:
            plans.append(PlannedRecording(
                name, csv, None, "skipped", message=(
                    f"{where}/{name}.csv: the sidecar {name}.json is missing, so its class, "
                    "sampling rate and units are unknown; copy the CSV by hand and import it "
                    "with `tinyhar recordings import FILE --to FOLDER --label CLASS`")))
            continue
        known = by_sha.get(csv.sha256)
        if known is not None and not overwrite:
            plans.append(PlannedRecording(
                name, csv, sidecar, "pulled", known.get("local"),
                f"{name}: pulled before as {known.get('local')}"))
            continue
        local = name if known is None else str(known.get("local") or name)
        if known is None and local in taken and not overwrite:
            local = f"{name}-{csv.sha256[:8]}"
            message = (f"{name}: {folder / name}.parquet is another recording (a board whose "
                       f"numbering restarted, or a second board); stored as {local}")
        else:
            message = f"{name}: new"
        taken.add(local)
        plans.append(PlannedRecording(name, csv, sidecar, "new", local, message))
    return plans


def verify_copy(path: str | Path, expected: BoardFile) -> None:
    """Check a copied file against the board's size and SHA-256.

    Raises
    ------
    DataFormatError
        Size or digest differ (the transfer failed; nothing was deleted).
    """
    from tinyhar.core.files import sha256_file

    path = Path(path)
    size = path.stat().st_size
    digest = sha256_file(path)
    if size != expected.size or digest != expected.sha256:
        raise DataFormatError(
            path, f"the copy of {expected.name} differs from the board's file ({size} bytes, "
            f"SHA-256 {digest[:12]}... here; {expected.size} bytes, {expected.sha256[:12]}... "
            "on the board): the transfer failed; nothing was deleted on the board, pull again")


# ------------------------------------------------------------------- reading
def _sidecar(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(path, f"not a readable JSON sidecar ({exc}); the recording "
                              "app writes it when a recording stops") from exc
    if not isinstance(meta, dict):
        raise DataFormatError(path, "expected a JSON object (the recording app's sidecar)")
    missing = [k for k in SIDECAR_KEYS if k not in meta]
    if missing:
        raise DataFormatError(path, f"the sidecar lacks {', '.join(missing)}; it was not "
                              "written by tinyhar's recording app: import the CSV with "
                              "`tinyhar recordings import FILE --label CLASS` instead")
    rate = meta["sampling_rate_hz"]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
        raise DataFormatError(path, f"sampling_rate_hz is {rate!r}; expected a positive number")
    channels = meta["channels"]
    if (not isinstance(channels, list) or not all(c in ACC_CHANNELS + GYRO_CHANNELS
                                                  for c in channels)
            or not set(ACC_CHANNELS) <= set(channels)):
        raise DataFormatError(path, f"channels is {channels!r}; expected acc_x, acc_y, acc_z "
                              "and optionally gyro_x, gyro_y, gyro_z")
    return meta


def read_pulled(csv_path: str | Path, sidecar_path: str | Path
                ) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """Read one recording of the recording app (CSV and sidecar) into canonical units.

    Parameters
    ----------
    csv_path, sidecar_path : str or Path
        ``rec_NNN.csv`` and ``rec_NNN.json``.

    Returns
    -------
    frame : pandas.DataFrame
        ``time`` (s), ``acc_x..acc_z`` (g), ``gyro_x..gyro_z`` (rad/s) when
        recorded; float32 sensor columns, one row per sample.
    meta : dict
        The sidecar.
    notes : list of str
        Findings that do not stop the pull (a recording cut short by a power cut).

    Raises
    ------
    DataFormatError
        Naming the file (and line) for: an unreadable or incomplete sidecar, a
        header other than ``time`` plus the sidecar's channels, a value that is
        not a number, fewer or more rows than the sidecar's ``n_samples`` (the
        file was cut short or altered), an unknown unit, a time column that
        goes back, repeats or jumps (more than :data:`MAX_GAP_INTERVALS`
        intervals), or a time column that contradicts the sampling rate.
    """
    from tinyhar.datasets.units import to_canonical

    csv_path, sidecar_path = Path(csv_path), Path(sidecar_path)
    meta = _sidecar(sidecar_path)
    rate = float(meta["sampling_rate_hz"])
    channels = list(meta["channels"])
    try:
        text = csv_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(csv_path, f"not a readable text file ({exc})") from exc
    lines = text.split("\n")
    header = lines[0].strip().split(",")
    if header != ["time", *channels]:
        raise DataFormatError(csv_path, f"the header is {lines[0].strip()!r} but the sidecar "
                              f"{sidecar_path.name} says time,{','.join(channels)}", line=1)
    if text and not text.endswith("\n"):
        raise DataFormatError(csv_path, "the last row has no line end: the file was cut "
                              "short while being written; start the recording app once to "
                              "recover the complete rows", line=len(lines))
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    numbers = {}
    for c in frame.columns:
        values = pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DataFormatError(csv_path, f"{frame[c].iloc[bad[0]]!r} is not a number",
                                  line=int(bad[0]) + 2, column=c)
        numbers[c] = values
    n = len(frame)
    expected = meta.get("n_samples")
    if isinstance(expected, int) and expected != n:
        raise DataFormatError(
            csv_path, f"holds {n} rows but its sidecar {sidecar_path.name} says {expected}: "
            "the file was cut short or altered after recording; copy it by hand, check it, "
            "and import it with `tinyhar recordings import`")
    if n < 2:
        raise DataFormatError(csv_path, f"holds {n} sample(s); too short to use (record for "
                              "at least a few seconds)")
    time = numbers["time"]
    steps = np.diff(time)
    jump = np.flatnonzero((steps <= 0) | (steps > MAX_GAP_INTERVALS / rate))
    if jump.size:
        i = int(jump[0]) + 1
        raise DataFormatError(
            csv_path, f"the clock jumps from {time[i - 1]:.6g} s to {time[i]:.6g} s (samples "
            f"every {1 / rate:.4g} s at {rate:g} Hz): samples were lost or two recordings "
            "joined; split or trim the file and import the parts with `tinyhar recordings "
            "import`", line=i + 2, column="time")
    check_sampling_rate(time, rate, str(csv_path), "time")
    units = meta["units"] if isinstance(meta["units"], dict) else {}
    out = pd.DataFrame({"time": time - time[0]})
    try:
        for group, target, names in (("acc", "g", ACC_CHANNELS), ("gyro", "rad/s",
                                                                  GYRO_CHANNELS)):
            if names[0] in channels:
                unit = str(units.get(group, target))
                for c in names:
                    out[c] = to_canonical(numbers[c], unit, target).astype(np.float32)
    except ConfigError as exc:
        raise DataFormatError(sidecar_path, f"units: {exc}") from exc
    notes = []
    if meta.get("complete") is False:
        notes.append(f"{csv_path.name}: cut short (power cut or crash while recording); the "
                     f"recording app kept its {n} complete rows ({n / rate:.1f} s)")
    return out, meta, notes


def _parse_time(value: Any) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def add_pulled(plan: PlannedRecording, csv_path: str | Path, sidecar_path: str | Path,
               folder: str | Path, subject: str, source: str,
               checks: DataChecks | None = None) -> PulledRecording:
    """Convert one copied recording into the recordings folder and record it in the ledger.

    Parameters
    ----------
    plan : PlannedRecording
        Its plan (:func:`plan_pull`, status ``"new"``; ``local`` names the result).
    csv_path, sidecar_path : str or Path
        The verified copies (:func:`verify_copy`); moved into ``FOLDER/board/``.
    folder : str or Path
        The recordings folder.
    subject : str
        Subject id of the person who wore the board.
    source : str
        The board (``/dev/ttyACM0:rec``) for the ledger and messages.
    checks : DataChecks, optional
        Plausibility checks (units, clipping, sampling rate); all on by default.

    Returns
    -------
    PulledRecording

    Raises
    ------
    DataFormatError
        From :func:`read_pulled`, a failed plausibility check, or sensors
        that differ from the folder's other recordings; nothing is written then.
    """
    from tinyhar.datasets.phone import check_same_sensors, read_definition, store_recording

    folder = Path(folder)
    checks = checks or DataChecks()
    csv_path, sidecar_path = Path(csv_path), Path(sidecar_path)
    frame, meta, notes = read_pulled(csv_path, sidecar_path)
    where = f"{source}/{plan.name}.csv"
    rate = float(meta["sampling_rate_hz"])
    existing = read_definition(folder)
    gyro = "gyro_x" in frame
    check_same_sensors(where, folder, gyro, existing)
    if existing is not None and float(existing["sampling_rate_hz"]) != rate:
        raise DataFormatError(
            where, f"was recorded at {rate:g} Hz but the recordings in {folder} are at "
            f"{float(existing['sampling_rate_hz']):g} Hz; one data set has one rate: pull "
            "into another folder (or deploy with the folder's rate)")
    finding = check_signals(
        frame[list(ACC_CHANNELS)].to_numpy(np.float64),
        frame[list(GYRO_CHANNELS)].to_numpy(np.float64) if gyro else None,
        rate, where, checks, str(meta["units"].get("acc", "g")),
        str(meta["units"].get("gyro", "rad/s")), "the sidecar's units.acc",
        "the sidecar's units.gyro")
    if finding:
        notes.append(f"clipping: {finding}; the sensor's range was too small for this motion")
    label = meta.get("class")
    label = None if label is None else str(label)
    if label is None:
        notes.append(f"{plan.name}: no class (recovered after a power cut before its class was "
                     "saved); label it (tinyhar label quick / label import)")
    ledger = read_ledger(folder)
    same_board = [r for r in ledger["recordings"] if r.get("source") == source]
    previous = same_board[-1] if same_board else None
    if previous is not None:
        before, now = _parse_time(previous.get("start_time")), _parse_time(meta.get("start_time"))
        if before is not None and now is not None and now < before:
            notes.append(
                f"{plan.name}.json: started {meta['start_time']}, before the previous "
                f"recording {previous.get('local')} ({previous.get('start_time')}): the board's "
                "clock was reset (power loss; the ESP32 clock restarts at 2000-01-01) or set "
                "back, so start times do not order the recordings; the data are unaffected")
        if (previous.get("classes") is not None and meta.get("classes") is not None
                and list(previous["classes"]) != list(meta["classes"])):
            notes.append(
                f"{plan.name}.json: recorded with the classes {meta['classes']} but "
                f"{previous.get('local')} with {previous['classes']}: classes.txt changed "
                "between recordings (a new deploy --classes); each recording keeps the class "
                "name chosen on the board, so check that a name means the same activity in "
                "both")
    frame["label"] = constant_category(label, len(frame))  # (one byte per sample each)
    frame["subject"] = constant_category(subject, len(frame))
    frame["session"] = constant_category(plan.local, len(frame))
    target = folder / f"{plan.local}.parquet"
    store_recording(folder, target, frame, rate, gyro, where, existing)
    raw = folder / RAW_FOLDER
    raw.mkdir(parents=True, exist_ok=True)
    os.replace(csv_path, raw / f"{plan.local}.csv")
    os.replace(sidecar_path, raw / f"{plan.local}.json")
    entry = {
        "board_name": plan.name, "local": plan.local, "source": source,
        "csv_sha256": plan.csv.sha256 if plan.csv else None,
        "csv_size": plan.csv.size if plan.csv else None,
        "sidecar_sha256": plan.sidecar.sha256 if plan.sidecar else None,
        "class": label, "start_time": meta.get("start_time"), "classes": meta.get("classes"),
        "subject": str(subject), "n_samples": len(frame),
        "pulled_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    ledger["recordings"] = [r for r in ledger["recordings"] if r.get("local") != plan.local]
    ledger["recordings"].append(entry)
    _write_ledger(folder, ledger)
    return PulledRecording(plan.name, plan.local, target, label, len(frame), rate, notes)
