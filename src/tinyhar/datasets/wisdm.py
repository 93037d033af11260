"""Loaders for WISDM v1.1 (phone accelerometer in the front pocket, 20 Hz, 36 users).

WISDM Lab, "Activity Recognition using Cell Phone Accelerometers": 36 users,
6 activities (Downstairs, Jogging, Sitting, Standing, Upstairs, Walking),
an Android phone's accelerometer sampled nominally at 20 Hz, values in m/s^2.

Source: Kwapisz, J. R., Weiss, G. M., Moore, S. A. (2010), "Activity
Recognition using Cell Phone Accelerometers", SIGKDD Explorations 12(2):74-82.
Terms: the WISDM Lab asks users of the data to cite that paper.

Two forms are read:

* :func:`load_wisdm_raw`: the publisher's raw text file
  ``WISDM_ar_v1.1_raw.txt`` (lines ``user,activity,timestamp,x,y,z;``), as a
  :class:`~tinyhar.datasets.recording.RecordingSet` in g.
* :func:`load_wisdm_windows`: a derived ``windows.npz`` (non-overlapping
  windows of 128 samples, each axis z-scored), as a
  :class:`~tinyhar.core.windowset.WindowSet`.
"""

from __future__ import annotations

import io
import tarfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from pyarrow import ArrowException

from tinyhar.core.windowset import WindowSet
from tinyhar.datasets._archive import open_dataset_files
from tinyhar.datasets.checks import (
    RATE_TOLERANCE,
    ChecksLike,
    DataChecks,
    check_signals,
    measured_rate_hz,
    resolve_checks,
    switch_off_hint,
    warn_clipping,
)
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import ACC_CHANNELS, MAX_ABS_SENSOR_VALUE, RecordingSet
from tinyhar.datasets.units import STANDARD_GRAVITY, ms2_to_g
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.validation import check_windows

WISDM_CLASSES = ["Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking"]
"""WISDM v1.1 activities; also the meaning of the integer labels 0-5 in ``windows.npz``."""
WISDM_SAMPLING_RATE_HZ = DATASETS["wisdm-raw"].sampling_rate_hz
WISDM_CITATION = (
    "Kwapisz, J. R., Weiss, G. M., Moore, S. A. (2010). Activity Recognition using "
    "Cell Phone Accelerometers. SIGKDD Explorations 12(2):74-82. "
    "Data: WISDM Lab, Fordham University, WISDM_ar_v1.1."
)
WISDM_LICENCE = (
    "WISDM Lab terms: free to use for research with a citation of Kwapisz, Weiss, Moore "
    "(2010); no formal open licence"
)
WISDM_RAW_FILE = "WISDM_ar_v1.1_raw.txt"
_N_FIELDS = 6
_MAX_LINES_SHOWN = 5


def load_wisdm_raw(
    path: str | Path, on_bad_lines: str = "warn", checks: ChecksLike = None
) -> RecordingSet:
    """Load WISDM v1.1's raw accelerometer text file.

    Each record is ``user,activity,timestamp,x,y,z;``: user an integer,
    activity one of :data:`WISDM_CLASSES`, timestamp an integer in ns,
    x y z the acceleration in m/s^2. How the file's known defects are handled:

    * blank lines and empty records (a lone ``;``) are ignored;
    * several records on one line, separated by ``;``, are split and each
      is read (the ``;`` ends a record, not the newline);
    * one trailing comma after ``z`` (``...,z,;``) is tolerated;
    * a record with missing or extra fields, an empty or non-numeric value,
      a timestamp beyond the int64 range, a value beyond +-1e4 g, or an
      unknown activity is *malformed*: see ``on_bad_lines``;
    * records with timestamp 0 are dropped, and so are records whose
      timestamp equals the previous one of the session (duplicates); one
      warning gives their count and first line numbers;
    * a timestamp smaller than the previous one starts a new session (the
      phone's clock restarted or the file was concatenated from several
      recordings), so that time always increases within a session; one
      warning gives their count and first line numbers.

    Plausibility checks (see :mod:`tinyhar.datasets.checks`): sessions
    whose timestamps do not show 20 Hz within 2 % are reported in one
    warning (not an error: the publisher's rate is nominal, and the first
    lines of the file, user 33 jogging, are about 100 ms apart); per user,
    the acceleration converted from m/s^2 must
    show gravity near 1 g; clipped channels are reported once (the phones
    clip at +-2 g, 19.6 m/s^2, while jogging).

    Parameters
    ----------
    path : str or Path
        ``WISDM_ar_v1.1_raw.txt`` (any name), the folder holding it (e.g.
        ``WISDM_ar_v1.1/`` extracted from the publisher's archive), or the
        publisher's ``WISDM_ar_latest.tar.gz`` / a zip holding the file.
    on_bad_lines : {"warn", "raise", "skip"}
        ``"warn"``: skip malformed records and emit one warning with their
        count and the first line numbers; ``"raise"``: raise at the first
        malformed line; ``"skip"``: skip them silently.

    Returns
    -------
    RecordingSet
        ``acc_x acc_y acc_z`` in g (m/s^2 / 9.80665, float32); no gyroscope;
        ``sampling_rate_hz`` 20.0 (nominal: the phone's actual rate varies);
        ``time`` in s from the first record of the session
        (``(timestamp - first timestamp) / 1e9``); sessions are the contiguous
        runs of the same (user, activity) in file order, split further where
        the timestamp goes backwards, named ``"<user>-<k>"`` with ``k``
        counting from 1 per user; subject ids are the user numbers as strings;
        classes :data:`WISDM_CLASSES`.

    Raises
    ------
    ConfigError
        If ``on_bad_lines`` is not one of the allowed values.
    DataFormatError
        With ``on_bad_lines="raise"``, at the first malformed line (the message
        names the file and the 1-based line, and the 1-based field where
        relevant); in any mode if the path holds no WISDM file or no valid
        record, the archive is corrupt, or a plausibility check fails.

    Warns
    -----
    UserWarning
        Once for malformed records (``on_bad_lines="warn"``), once for
        dropped zero or duplicate timestamps, once for timestamps going back
        (new sessions) and once for clipped channels.
    """
    if on_bad_lines not in ("warn", "raise", "skip"):
        raise ConfigError(
            f"on_bad_lines must be 'warn', 'raise' or 'skip', got {on_bad_lines!r}"
        )
    data, source = _read_raw_file(path)
    fields, n_fields, line = _tokenize(data)
    columns, problem, problem_field = _parse_fields(fields, n_fields)
    bad = problem != None  # noqa: E711 (elementwise)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        if on_bad_lines == "raise":
            lineno = int(line[first])
            text = _line_text(data, lineno)
            raise DataFormatError(
                source,
                f"malformed record in {text!r}: {problem[first]}; expected "
                "'user,activity,timestamp,x,y,z;' (pass on_bad_lines='warn' to skip "
                "malformed lines)",
                line=lineno,
                column=int(problem_field[first]) or None,
            )
        if on_bad_lines == "warn":
            lines = pd.unique(line[bad])
            shown = ", ".join(str(v) for v in lines[:_MAX_LINES_SHOWN])
            more = ", ..." if len(lines) > _MAX_LINES_SHOWN else ""
            warnings.warn(
                f"{source}: skipped {len(lines)} malformed line(s) ({int(bad.sum())} "
                f"record(s)); first at line(s) {shown}{more}. Pass on_bad_lines='raise' "
                "to see the first error.",
                UserWarning,
                stacklevel=2,
            )
    if bad.all():
        raise DataFormatError(
            source, "no valid record; expected lines 'user,activity,timestamp,x,y,z;'"
        )
    good = {k: v[~bad] for k, v in columns.items()}
    return _build_sessions(good, line[~bad], source, str(path), resolve_checks(checks))


def _line_text(data: bytes, lineno: int) -> str:
    """Text of the 1-based line ``lineno`` (for error messages)."""
    parts = data.split(b"\n", lineno)
    text = parts[lineno - 1] if lineno - 1 < len(parts) else b""
    return text.decode("utf-8", errors="replace").strip()


def _read_raw_file(path: str | Path) -> tuple[bytes, str]:
    """Bytes of the raw WISDM file and its display name."""
    path = Path(path).expanduser()
    if path.is_file() and tarfile.is_tarfile(path) and not zipfile.is_zipfile(path):
        try:
            with tarfile.open(path) as tar:
                members = [
                    m for m in tar.getmembers()
                    if m.isfile() and Path(m.name).name == WISDM_RAW_FILE
                ]
                if not members:
                    raise DataFormatError(path, f"no member {WISDM_RAW_FILE!r} in this archive")
                member = min(members, key=lambda m: len(m.name))
                handle = tar.extractfile(member)
                assert handle is not None
                return handle.read(), f"{path}:{member.name}"
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise DataFormatError(
                path, f"corrupt archive ({type(exc).__name__}: {exc}); download it again"
            ) from exc
    if path.is_file() and not zipfile.is_zipfile(path):
        try:
            return path.read_bytes(), str(path)
        except OSError as exc:
            raise DataFormatError(path, f"cannot read: {exc}") from exc
    with open_dataset_files(path, WISDM_RAW_FILE, "WISDM v1.1") as files:
        return files.read_bytes(WISDM_RAW_FILE), files.display(WISDM_RAW_FILE)


def _tokenize(data: bytes) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Split the file into records and fields.

    Returns
    -------
    fields : pandas.DataFrame
        Columns ``0`` .. ``5`` (the first six fields, pyarrow strings, NA when
        absent), one row per record, in file order.
    n_fields : numpy.ndarray of int, shape (n_records,)
        Number of fields of each record (a trailing empty field after ``z`` is
        not counted).
    line : numpy.ndarray of int64, shape (n_records,)
        1-based line number of each record.
    """
    fast = _tokenize_fast(data)
    if fast is not None:
        return fast
    lines = pd.Series(data.decode("utf-8", errors="replace").split("\n"), dtype=object)
    lines.index = np.arange(1, len(lines) + 1)
    return _tokenize_lines(lines)


def _tokenize_fast(data: bytes) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """Fast path: pandas' pyarrow CSV engine reads every line with exactly six fields.

    Lines with another number of fields (several records on a line, a trailing
    comma, missing fields, blank-looking lines) are handed to
    :func:`_tokenize_lines`. The line of each row is known because the lines the
    engine keeps are predicted from the comma counts, and the prediction is
    checked; on any surprise (quotes, lone carriage returns, ...) this returns
    None and the caller uses the general path.
    """
    if b'"' in data or not data:
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    newline = np.flatnonzero(raw == ord("\n"))
    starts = np.concatenate([[0], newline + 1])
    ends = np.concatenate([newline, [len(raw)]])
    cr = np.zeros(len(starts), dtype=bool)
    nonempty = ends > starts
    cr[nonempty] = raw[ends[nonempty] - 1] == ord("\r")
    if np.count_nonzero(raw == ord("\r")) != np.count_nonzero(cr):
        return None  # lone carriage returns: the engine would split lines there
    length = ends - starts - cr
    comma_at = np.flatnonzero(raw == ord(","))
    commas = np.diff(np.searchsorted(comma_at, np.concatenate([starts, [len(raw) + 1]])))
    six = (length > 0) & (commas == _N_FIELDS - 1)
    other = (length > 0) & ~six
    skipped: list[int] = []

    def on_bad_line(row: object) -> str:
        skipped.append(1)
        return "skip"

    try:
        table = pd.read_csv(
            io.BytesIO(data), engine="pyarrow", header=None, sep=",",
            names=[str(k) for k in range(_N_FIELDS)], dtype="string[pyarrow]",
            on_bad_lines=on_bad_line, skip_blank_lines=True,
        )
    except Exception:  # noqa: BLE001 (any surprise of the fast engine: use the general path)
        return None
    if len(table) != np.count_nonzero(six) or len(skipped) != np.count_nonzero(other):
        return None
    table.columns = range(_N_FIELDS)
    line = np.flatnonzero(six).astype(np.int64) + 1
    n_fields = np.full(len(table), _N_FIELDS, dtype=np.int64)
    if not other.any():
        return table.reset_index(drop=True), n_fields, line
    other_lines = pd.Series(
        [data[a:b].decode("utf-8", errors="replace")
         for a, b in zip(starts[other], ends[other], strict=True)],
        index=np.flatnonzero(other) + 1, dtype=object,
    )
    fields2, n_fields2, line2 = _tokenize_lines(other_lines)
    fields = pd.concat([table, fields2], ignore_index=True)
    n_fields = np.concatenate([n_fields, n_fields2])
    line = np.concatenate([line, line2])
    order = np.argsort(line, kind="stable")
    return fields.iloc[order].reset_index(drop=True), n_fields[order], line[order]


def _tokenize_lines(lines: pd.Series) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """General path: ``lines`` (text indexed by 1-based line number) -> fields per record."""
    lines = lines.str.strip()
    lines = lines[lines != ""]
    records = lines.str.split(";").explode().str.strip()
    records = records[records.notna() & (records != "")]
    line = records.index.to_numpy(dtype=np.int64)
    split = records.reset_index(drop=True).str.split(",", expand=True)
    if split.empty:
        split = pd.DataFrame(index=range(len(records)), columns=range(_N_FIELDS))
    n_fields = split.notna().sum(axis=1).to_numpy(dtype=np.int64)
    if split.shape[1] > _N_FIELDS:
        # one trailing comma after z ("...,z,;") is tolerated
        trailing = (n_fields == _N_FIELDS + 1) & (
            split[_N_FIELDS].str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        )
        n_fields = n_fields - trailing
    for k in range(split.shape[1], _N_FIELDS):
        split[k] = None
    fields = split.iloc[:, :_N_FIELDS].astype("string[pyarrow]")
    fields.columns = range(_N_FIELDS)
    return fields, n_fields, line


def _to_int(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Exact int64 values and a validity mask for a column of digit strings."""
    column = column.str.strip()
    try:
        values = column.astype("int64[pyarrow]")
        ok = values.notna().to_numpy(dtype=bool) & (values.fillna(0) >= 0).to_numpy(dtype=bool)
        return values.fillna(0).to_numpy(dtype=np.int64), ok
    except (ValueError, TypeError, ArrowException):
        # digits only, and within int64 (at most 18 digits, or 19 up to 2**63 - 1)
        digits = column.str.fullmatch(r"[0-9]+").fillna(False).to_numpy(dtype=bool)
        length = column.str.len().fillna(0).to_numpy(dtype=np.int64)
        ok = digits & (length <= 18)
        for i in np.flatnonzero(digits & (length > 18)):
            ok[i] = int(column.iloc[i]) <= np.iinfo(np.int64).max
        values = column.where(ok, "0").astype("int64[pyarrow]").to_numpy(dtype=np.int64)
        return values, ok


def _to_float(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """float64 values and a validity mask (finite numbers) for a column of strings."""
    column = column.str.strip()
    try:
        values = column.astype("float64[pyarrow]").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError, ArrowException):
        values = pd.to_numeric(column, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    return values, np.isfinite(values)


def _parse_fields(
    fields: pd.DataFrame, n_fields: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Typed columns, the problem of each record (None = valid) and its 1-based field."""
    n = len(fields)
    fields = fields.copy()
    fields[_N_FIELDS - 1] = fields[_N_FIELDS - 1].str.rstrip("; \t\r")
    user, user_ok = _to_int(fields[0])
    activity = fields[1].str.strip()
    activity_ok = activity.isin(WISDM_CLASSES).to_numpy(dtype=bool)
    ts, ts_ok = _to_int(fields[2])
    xyz, xyz_ok = zip(*(_to_float(fields[k]) for k in (3, 4, 5)), strict=True)
    problem = np.full(n, None, dtype=object)
    problem_field = np.zeros(n, dtype=np.int64)

    def flag(mask: np.ndarray, message: str, field: int = 0) -> None:
        mask = mask & (problem == None)  # noqa: E711 (elementwise)
        problem[mask] = message
        problem_field[mask] = field

    flag(n_fields < _N_FIELDS, f"fewer than {_N_FIELDS} fields")
    flag(n_fields > _N_FIELDS, f"more than {_N_FIELDS} fields")
    flag(~user_ok, "user is not a non-negative integer", 1)
    flag(~activity_ok, f"activity is not one of {WISDM_CLASSES}", 2)
    flag(~ts_ok, "timestamp is not a non-negative integer", 3)
    limit = MAX_ABS_SENSOR_VALUE * STANDARD_GRAVITY
    for k, (axis, ok) in enumerate(zip("xyz", xyz_ok, strict=True)):
        flag(~ok, f"{axis} is empty or not a finite number", 4 + k)
    for k, (axis, values) in enumerate(zip("xyz", xyz, strict=True)):
        flag(
            np.abs(np.nan_to_num(values)) > limit,
            f"{axis} is beyond +-{limit:g} m/s^2 (1e4 g): not a real acceleration", 4 + k,
        )
    columns = {
        "user": user,
        "activity": activity.to_numpy(dtype=object, na_value=None),
        "timestamp": ts,
        "xyz": np.column_stack(xyz) if n else np.zeros((0, 3)),
    }
    return columns, problem, problem_field


def _build_sessions(
    good: dict[str, np.ndarray], line: np.ndarray, source: str, path: str, checks: DataChecks
) -> RecordingSet:
    """Cut valid records into sessions (see :func:`load_wisdm_raw`) and build the set."""
    user, activity, ts, xyz = good["user"], good["activity"], good["timestamp"], good["xyz"]

    zero = ts == 0
    keep = ~zero
    user, activity, ts, xyz, line_k = user[keep], activity[keep], ts[keep], xyz[keep], line[keep]
    n = len(ts)
    new_run = np.ones(n, dtype=bool)
    if n > 1:
        same_key = (user[1:] == user[:-1]) & (activity[1:] == activity[:-1])
        new_run[1:] = ~same_key | (ts[1:] < ts[:-1])
    dup = np.zeros(n, dtype=bool)
    if n > 1:
        dup[1:] = ~new_run[1:] & (ts[1:] == ts[:-1])
    dropped_lines = np.sort(np.concatenate([line[zero], line_k[dup]]))
    if dropped_lines.size:
        shown = ", ".join(str(v) for v in dropped_lines[:_MAX_LINES_SHOWN])
        more = ", ..." if dropped_lines.size > _MAX_LINES_SHOWN else ""
        warnings.warn(
            f"{source}: dropped {int(zero.sum())} record(s) with timestamp 0 and "
            f"{int(dup.sum())} with a repeated timestamp; first at line(s) {shown}{more}",
            UserWarning,
            stacklevel=3,
        )
    keep = ~dup
    user, ts, xyz, new_run = user[keep], ts[keep], xyz[keep], new_run[keep]
    activity, line_k = activity[keep], line_k[keep]
    if len(ts) == 0:
        raise DataFormatError(source, "no record with a valid timestamp")
    back = np.zeros(len(ts), dtype=bool)
    if len(ts) > 1:
        back[1:] = (user[1:] == user[:-1]) & (activity[1:] == activity[:-1]) & (ts[1:] < ts[:-1])
    if back.any():
        shown = ", ".join(str(v) for v in line_k[back][:_MAX_LINES_SHOWN])
        more = ", ..." if back.sum() > _MAX_LINES_SHOWN else ""
        warnings.warn(
            f"{source}: the timestamp goes back {int(back.sum())} time(s) within a run of one "
            f"user and activity (first at line(s) {shown}{more}); each such record starts a "
            "new session",
            UserWarning,
            stacklevel=3,
        )

    session_index = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    # k counts the sessions of each user from 1, in file order
    start_users = user[starts]
    k = pd.Series(start_users).groupby(start_users).cumcount().to_numpy() + 1
    session_names = np.array([f"{u}-{j}" for u, j in zip(start_users, k, strict=True)],
                             dtype=object)
    subjects, subject_codes = np.unique(user, return_inverse=True)
    t0 = ts[starts][session_index]
    acc = ms2_to_g(xyz).astype(np.float32)
    frame = pd.DataFrame(
        {
            "time": (ts - t0).astype(np.float64) / 1e9,
            "acc_x": acc[:, 0],
            "acc_y": acc[:, 1],
            "acc_z": acc[:, 2],
            # categories, not a string per sample (RecordingSet keeps one code per sample)
            "label": pd.Categorical(activity),
            "subject": pd.Categorical.from_codes(
                subject_codes, pd.Index([str(u) for u in subjects], dtype="str")),
            "session": pd.Categorical.from_codes(
                session_index, pd.Index([str(s) for s in session_names], dtype="str")),
        }
    )
    if checks.sampling_rate:
        _warn_rates(frame["time"].to_numpy(), session_index, session_names, source)
    clipping = []
    for u in pd.unique(user):
        rows = user == u
        clipping.append(check_signals(
            acc[rows].astype(np.float64), None, WISDM_SAMPLING_RATE_HZ,
            f"{source}, user {u}", checks, acc_declared="m/s^2",
            acc_key="the publisher's values are m/s^2",
        ))
    warn_clipping(clipping)
    return RecordingSet(
        frame, WISDM_SAMPLING_RATE_HZ, list(WISDM_CLASSES), name="wisdm-raw",
        citation=WISDM_CITATION, licence=WISDM_LICENCE, source=path,
    )


_MIN_RATE_STEPS = 10
"""Sessions with fewer time steps are too short to judge their sampling rate."""


def _warn_rates(
    time: np.ndarray, session_index: np.ndarray, session_names: np.ndarray, source: str
) -> None:
    """One warning when sessions' timestamps do not show the nominal 20 Hz (within 2 %)."""
    bounds = np.flatnonzero(np.diff(session_index)) + 1
    off = []
    for piece in np.split(np.arange(len(time)), bounds):
        if len(piece) <= _MIN_RATE_STEPS:
            continue
        rate = measured_rate_hz(time[piece])
        if rate is not None and abs(rate / WISDM_SAMPLING_RATE_HZ - 1) > RATE_TOLERANCE:
            off.append((int(session_index[piece[0]]), rate, len(piece)))
    if not off:
        return
    overall = measured_rate_hz(time)
    shown = ", ".join(
        f"{session_names[k]} {rate:.3g} Hz" for k, rate, _ in off[:_MAX_LINES_SHOWN]
    )
    share = sum(n for *_, n in off) / len(time)
    warnings.warn(
        f"{source}: the timestamps of {len(off)} session(s) ({100 * share:.3g} % of the "
        f"samples; first: {shown}{', ...' if len(off) > 5 else ''}) do not "
        f"show the nominal {WISDM_SAMPLING_RATE_HZ:g} Hz within {100 * RATE_TOLERANCE:g} % "
        f"(all sessions together: {overall or float('nan'):.4g} Hz). The phones did not keep a "
        "steady rate, so this loader warns instead of stopping; windowing treats steps longer "
        "than 1.5 periods as gaps, so these sessions give fewer windows. "
        + switch_off_hint("sampling_rate"),
        UserWarning,
        stacklevel=4,
    )


def load_wisdm_windows(path: str | Path) -> WindowSet:
    """Load the derived WISDM v1.1 windows (``windows.npz``).

    Parameters
    ----------
    path : str or Path
        ``windows.npz`` or the folder holding it (``wisdm_v1.1_windows/``).
        Arrays: ``X`` float32 (n, 128, 3), ``y`` int 0-5 (index into
        :data:`WISDM_CLASSES`), ``subject`` int 0-35 (not the original user
        ids), ``is_test`` bool.

    Returns
    -------
    WindowSet
        ``X`` float32 of shape (7292, 128, 3) for the shared copy, channels
        ``acc_x acc_y acc_z`` **z-scored per axis (not in g)**, 20 Hz;
        ``y`` activity names; ``subject`` ``"0"`` .. ``"35"``; ``session``
        ``"wisdm-<subject>"`` (no session information); ``start_time`` NaN;
        ``split`` ``"train"``/``"test"`` from ``is_test`` (a per-user split
        made by the file's preparer). ``info["units"]`` says the values are
        z-scored.

    Raises
    ------
    DataFormatError
        If the file is missing, not an npz, lacks an array, or the arrays
        have wrong shapes, lengths or label values.

    Notes
    -----
    Citation: Kwapisz, Weiss, Moore (2010), SIGKDD Explorations 12(2):74-82.
    """

    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "windows.npz"
    if not path.is_file():
        raise DataFormatError(path, "no such file; expected the derived WISDM windows.npz")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFormatError(path, f"cannot read as a NumPy .npz archive: {exc}") from exc
    missing = [k for k in ("X", "y", "subject", "is_test") if k not in arrays]
    if missing:
        raise DataFormatError(
            path, f"missing arrays {missing}; expected X, y, subject and is_test"
        )
    X, y, subject, is_test = (arrays[k] for k in ("X", "y", "subject", "is_test"))
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise DataFormatError(path, f"X must hold real numbers, got dtype {X.dtype}")
    X = check_windows(X, source="X", channels=ACC_CHANNELS,
                      error=lambda source, message: DataFormatError(path, f"{source}: {message}"))
    n = X.shape[0]
    for key, arr in (("y", y), ("subject", subject), ("is_test", is_test)):
        if arr.shape != (n,):
            raise DataFormatError(path, f"{key} must have shape ({n},), got {arr.shape}")
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() > 5):
        raise DataFormatError(path, "y must hold integers 0-5 (index into the 6 WISDM classes)")
    if not np.isfinite(X).all():
        raise DataFormatError(path, "X has NaN or infinite values")
    if X.size and np.abs(X).max() > MAX_ABS_SENSOR_VALUE:
        raise DataFormatError(
            path, f"X has values beyond +-{MAX_ABS_SENSOR_VALUE:g} (z-scores): a corrupt file"
        )
    if not np.issubdtype(subject.dtype, np.integer):
        raise DataFormatError(path, f"subject must hold integers, got dtype {subject.dtype}")
    if not (np.issubdtype(is_test.dtype, np.bool_) or np.issubdtype(is_test.dtype, np.integer)):
        raise DataFormatError(path, f"is_test must hold booleans, got dtype {is_test.dtype}")
    subject_str = np.array([str(int(s)) for s in subject], dtype=object)
    return WindowSet(
        X=X,
        y=np.asarray(WISDM_CLASSES, dtype=object)[y.astype(np.int64)],
        subject=subject_str,
        session=np.array([f"wisdm-{s}" for s in subject_str], dtype=object),
        start_time=np.full(n, np.nan),
        channels=list(ACC_CHANNELS),
        sampling_rate_hz=WISDM_SAMPLING_RATE_HZ,
        classes=list(WISDM_CLASSES),
        name="wisdm-windows",
        split=np.where(is_test.astype(bool), "test", "train").astype(object),
        info={
            "units": "z-scored per axis, not g",
            "citation": WISDM_CITATION,
            "licence": WISDM_LICENCE,
            "source": str(path),
        },
    )
