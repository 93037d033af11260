r"""Load your own recordings, described by a YAML dataset definition.

A definition says where the files are (glob patterns relative to the YAML
file), which of their columns hold what, in which units, and where labels,
subjects and sessions come from. :func:`load_custom` reads the files and
returns a :class:`~tinyhar.datasets.recording.RecordingSet` in tinyhar's units
(g, rad/s, s).

Example (``my_wristband.yaml``, next to a folder ``raw/`` of CSV files named
like ``alice_morning_walking.csv`` with a header ``t_ms,ax,ay,az,gx,gy,gz``)::

    name: my-wristband
    files: "raw/*.csv"            # or a list of patterns; CSV, Parquet or NPY
    sampling_rate_hz: 50
    columns:                      # canonical name: column in the file
      time: t_ms                  # optional; else time = row index / rate
      acc_x: ax
      acc_y: ay
      acc_z: az
      gyro_x: gx                  # optional (all three or none)
      gyro_y: gy
      gyro_z: gz
    units:
      time: ms                    # s, ms, us, ns
      acc: m/s^2                  # g, m/s^2, mg, or raw counts (below)
      gyro: {full_scale: 2000, unit: deg/s, bits: 16}   # raw int counts
    file_pattern: '(?P<subject>[^_]+)_(?P<session>[^_]+)_(?P<label>\w+)\.csv'
    classes: [walking, sitting, standing]
    ignore_labels: [unknown]      # become unlabelled instead of an error
    citation: "Recorded by ..."
    licence: "CC BY 4.0"
    checks: {units: true}         # plausibility checks (all on by default)

Every key, with what it allows:

``files``
    A glob pattern or a list of them, relative to the YAML file's folder
    (``**`` recurses). Each must match at least one file.
``format``
    ``csv``, ``parquet`` or ``npy``; by default from each file's extension
    (``.csv``/``.txt``/``.tsv``, ``.parquet``/``.pq``, ``.npy``).
``csv``
    ``delimiter`` (default ``,``), ``header`` (default true: the first line
    names the columns), ``skip_rows`` (lines before the header, default 0),
    ``decimal`` (default ``.``), ``encoding`` (default ``utf-8``).
``sampling_rate_hz``
    The sampling rate in Hz (required, > 0).
``columns``
    Canonical name -> the file's column: a name, or a 0-based position (the
    only choice for NPY, whose arrays must be 2-D). ``acc_x acc_y acc_z`` are
    required; ``time``, ``gyro_x gyro_y gyro_z``, ``label``, ``subject`` and
    ``session`` are optional.
``units``
    ``time``: ``s`` (default), ``ms``, ``us``, ``ns``; ``acc``: ``g``
    (default), ``m/s^2``, ``mg``; ``gyro``: ``rad/s`` (default), ``deg/s``,
    ``mdps``. For raw signed integer counts give a mapping ``{full_scale: F,
    bits: B, unit: U}``: values are ``counts * F / 2**(B-1)`` in ``U``
    (default ``g`` for acc, ``deg/s`` for gyro), then converted.
``file_pattern``
    A regular expression matched against each file *name* (not its folder)
    with named groups among ``subject``, ``session``, ``label``.
``constants``
    ``subject``, ``session``, ``label``: one value for all files.
``label_map``
    Raw label value -> class name (e.g. ``{"1": walking}`` for numeric codes).
``classes``
    The label vocabulary in order; by default the sorted labels found. A
    label outside it (after ``label_map``) is an error naming the file and
    row, unless it is in ``ignore_labels`` (those samples become unlabelled).
``name``, ``citation``, ``licence``
    Text kept with the recordings.
``checks``
    Plausibility checks, each ``true`` (default) or ``false``:
    ``sampling_rate`` (the time column must agree with ``sampling_rate_hz``
    within 2 %, per file), ``time_order`` (see below), ``units`` (per file:
    acceleration near 1 g on still spans, gyroscope not deg/s declared as
    rad/s or the reverse), ``clipping`` (warn when a channel sits at its
    full-scale value). See :mod:`tinyhar.datasets.checks` for the rules and
    thresholds. A check runs unless this key or the training
    configuration's ``dataset.checks`` switches it off; switch one off only
    when the data really are that way (e.g. ``units: false`` for
    acceleration with gravity removed) and say why in a comment.

Sensor values must be finite and, once converted, within +-1e4 g or rad/s
(:data:`~tinyhar.datasets.recording.MAX_ABS_SENSOR_VALUE`); otherwise the
error names the file, line (or row) and column.

Each of ``subject``, ``session`` and ``label`` comes from exactly one of
``columns``, ``file_pattern`` and ``constants``. ``subject`` is required
(evaluation is subject-independent). Without a ``session`` each file is a
session (named by its path relative to the YAML file, without extension).
Files of the same (subject, session) are joined: with a time column in the
order of their first time stamp (each file's rows stay in file order);
without one in file-name order, time continuing from the previous file. If
the same session name is used by several subjects, all session ids become
``"<subject>-<session>"``.

Time going back (inside a file, or a file starting before the previous one
of its session ended) means the recording restarted: with the
``time_order`` check on (the default), the rows from there on form a new
session ``"<session>~2"`` (then ``~3``, ...), and one warning names the file
and line of each restart. When the pieces would be shorter than 10 samples
on average, the rows look shuffled rather than restarted, and loading stops
with an error. With ``checks: {time_order: false}`` the rows of a session
are instead sorted by time (only right for files whose rows are merely out
of order: restarted recordings would be interleaved). A time stamp repeated
within a session is always an error.

The schema (the pydantic models of these keys) is in
:mod:`tinyhar.datasets.definition`; this module reads and assembles the files.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.checks import (
    ChecksLike,
    DataChecks,
    check_sampling_rate,
    check_signals,
    resolve_checks,
    switch_off_hint,
    warn_clipping,
)
from tinyhar.datasets.definition import (
    _FORMATS,
    ACC_UNITS,
    GYRO_UNITS,
    META_FIELDS,
    TIME_UNITS,
    ColumnRef,
    Columns,
    Constants,
    CsvOptions,
    DatasetDefinition,
    RawCounts,
    Units,
)
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    check_magnitude,
)
from tinyhar.datasets.units import counts_to_physical, to_canonical
from tinyhar.errors import ConfigError, DataFormatError

__all__ = [
    "ACC_UNITS",
    "GYRO_UNITS",
    "META_FIELDS",
    "TIME_UNITS",
    "ColumnRef",
    "Columns",
    "Constants",
    "CsvOptions",
    "DatasetDefinition",
    "RawCounts",
    "Units",
    "load_custom",
    "load_definition",
    "meta_from_name",
    "resolve_files",
    "MIN_MEAN_PIECE",
]


# --------------------------------------------------------------------------- loading


def load_custom(yaml_path: str | Path, checks: ChecksLike = None) -> RecordingSet:
    r"""Load recordings described by a YAML dataset definition.

    Parameters
    ----------
    yaml_path : str or Path
        The definition (the module docstring lists every key). File
        patterns are relative to its folder. A minimal one, for CSV files
        ``raw/<subject>_<label>.csv`` with columns ``ax ay az`` in m/s^2::

            files: "raw/*.csv"
            sampling_rate_hz: 50
            columns: {acc_x: ax, acc_y: ay, acc_z: az}
            units: {acc: m/s^2}
            file_pattern: '(?P<subject>[^_]+)_(?P<label>\w+)\.csv'
            classes: [walking, sitting]

    checks : DataChecks or mapping, optional
        Plausibility checks (e.g. the training configuration's
        ``dataset.checks``); a check runs only if both this and the
        definition's ``checks`` leave it on.

    Returns
    -------
    RecordingSet
        ``time`` in s from the session start, ``acc_*`` in g, optionally
        ``gyro_*`` in rad/s, labels (missing = unlabelled), subjects and
        sessions as strings, at ``sampling_rate_hz`` Hz; name, citation and
        licence from the definition.

    Raises
    ------
    ConfigError
        If the definition is invalid (naming the YAML file, the key path and
        what is allowed) or a pattern matches no file.
    DataFormatError
        If a data file cannot be read or is malformed: a missing column, a
        non-numeric or missing sensor value, a row with the wrong number of
        fields, a label outside ``classes``, a file name not matching
        ``file_pattern``, a repeated time stamp, a value beyond +-1e4 g or
        rad/s, or a failed plausibility check (sampling rate, units; see the
        ``checks`` key). The message names the file and, for CSV, the 1-based
        line (for Parquet and NPY, the 1-based row).

    Warns
    -----
    UserWarning
        Once when recordings restarted (time going back: split into
        sessions) and once when channels are clipped.
    """
    yaml_path = Path(yaml_path)
    definition = DatasetDefinition.from_yaml(yaml_path)
    return load_definition(definition, yaml_path.parent, str(yaml_path), checks)


def load_definition(
    definition: DatasetDefinition,
    base_dir: str | Path,
    source: str = "<definition>",
    checks: ChecksLike = None,
    files: list[Path] | None = None,
) -> RecordingSet:
    """Load the recordings of an already validated definition.

    Parameters
    ----------
    definition : DatasetDefinition
    base_dir : str or Path
        Folder the file patterns are relative to.
    source : str
        Name of the definition for messages.
    checks : DataChecks or mapping, optional
        As :func:`load_custom`.
    files : list of Path, optional
        Read only these of the definition's files (one session at a time:
        :mod:`tinyhar.datasets.sessions`); all by default. With ``classes``
        unset, the class list is then the labels of these files only.

    Returns
    -------
    RecordingSet
        As :func:`load_custom`.

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`load_custom`.
    """
    base_dir = Path(base_dir)
    active = resolve_checks(definition.checks, checks)
    if files is None:
        files = resolve_files(definition, base_dir, source)
    pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
    parts: list[pd.DataFrame] = []
    clipping: list[str | None] = []
    for index, file in enumerate(files):
        part = _read_one(definition, file, base_dir, pattern)
        clipping.append(_check_file(definition, file, part, active))
        part["_file"] = index
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    frame = _assemble_sessions(frame, definition, files, active)
    warn_clipping(clipping)
    classes = _check_labels(frame, definition, files)
    channels = [*ACC_CHANNELS, *(GYRO_CHANNELS if definition.columns.gyro_x is not None else ())]
    out = frame[["time", *channels, "label", "subject", "session"]]
    return RecordingSet(
        out, definition.sampling_rate_hz, classes, name=definition.name,
        citation=definition.citation, licence=definition.licence, source=source,
    )


def _unit_text(unit: str | RawCounts, default: str) -> str:
    if isinstance(unit, RawCounts):
        return f"raw counts of +-{unit.full_scale:g} {unit.unit or default}"
    return unit


def _check_file(
    definition: DatasetDefinition, file: Path, part: pd.DataFrame, checks: DataChecks
) -> str | None:
    """Plausibility checks of one file's converted samples (file order); returns clipping."""
    used = definition.columns.used()
    rate = definition.sampling_rate_hz
    if "time" in used and checks.sampling_rate:
        time = part["time"].to_numpy()
        if not checks.time_order:
            time = np.sort(time)  # the order the rows will have
        if len(time) < 3 or np.mean(np.diff(time) < 0) <= 0.01:  # else shuffled (see below)
            check_sampling_rate(time, rate, str(file), column=str(used["time"]))
    acc = part[list(ACC_CHANNELS)].to_numpy(np.float64)
    gyro = part[list(GYRO_CHANNELS)].to_numpy(np.float64) if "gyro_x" in used else None
    return check_signals(
        acc, gyro, rate, str(file), checks,
        acc_declared=_unit_text(definition.units.acc, "g"),
        gyro_declared=_unit_text(definition.units.gyro, "deg/s"),
    )


def resolve_files(definition: DatasetDefinition, base_dir: Path, source: str) -> list[Path]:
    """The definition's data files: its ``files`` patterns expanded, in order, without repeats.

    Raises
    ------
    ConfigError
        If a pattern matches no file (naming ``source`` and the pattern).
    """
    patterns = [definition.files] if isinstance(definition.files, str) else definition.files
    found: list[Path] = []
    for pattern in patterns:
        try:
            if Path(pattern).is_absolute():
                matches = sorted(Path(pattern).parent.glob(Path(pattern).name))
            else:
                matches = sorted(base_dir.glob(pattern))
        except (IndexError, ValueError):  # "." or "": pathlib cannot glob an empty pattern
            matches = []
        matches = [m for m in matches if m.is_file()]
        if not matches:
            raise ConfigError(
                f"{source}: files: pattern {pattern!r} matches no file in {base_dir.resolve()}; "
                "patterns are relative to the YAML file's folder"
            )
        found.extend(matches)
    return list(dict.fromkeys(found))


def _file_format(definition: DatasetDefinition, file: Path) -> str:
    if definition.format is not None:
        return definition.format
    fmt = _FORMATS.get(file.suffix.lower())
    if fmt is None:
        raise DataFormatError(
            file,
            f"cannot tell the format from the extension {file.suffix!r}; set 'format' "
            f"(csv, parquet, npy) in the definition (known extensions: {sorted(_FORMATS)})",
        )
    return fmt


def _read_one(
    definition: DatasetDefinition, file: Path, base_dir: Path, pattern: re.Pattern | None
) -> pd.DataFrame:
    """One file -> canonical columns (values converted), ``_line`` and ``_row`` numbers."""
    used = definition.columns.used()
    fmt = _file_format(definition, file)
    if fmt == "csv":
        raw, line_of_row = _read_csv(definition, file, used)
        where = "line"
    elif fmt == "parquet":
        raw = _read_parquet(file, used)
        line_of_row = np.arange(1, len(raw) + 1)
        where = "row"
    else:
        raw = _read_npy(file, used)
        line_of_row = np.arange(1, len(raw) + 1)
        where = "row"
    out = pd.DataFrame(index=raw.index)
    out["_line"] = line_of_row
    out["_where"] = where
    sensor = [c for c in (*ACC_CHANNELS, *GYRO_CHANNELS) if c in used]
    for canon in [*sensor, *(["time"] if "time" in used else [])]:
        try:
            values = pd.to_numeric(raw[canon], errors="coerce").to_numpy(dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataFormatError(
                file, f"{canon}: the column does not hold numbers ({raw[canon].dtype}: {exc}); "
                "point columns.{canon} at a numeric column",
                column=str(used[canon]),
            ) from exc
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            original = raw[canon].iloc[row]
            what = "missing" if pd.isna(original) else f"{original!r} is not a finite number"
            raise DataFormatError(
                file, f"{canon} value {what}; fix or remove this row",
                line=int(line_of_row[row]) if where == "line" else None,
                column=_column_label(used[canon], where, int(line_of_row[row])),
            )
        try:
            out[canon] = _convert(values, canon, definition)
        except ConfigError as exc:
            raise ConfigError(f"{file}, column {used[canon]}: {exc}") from exc
        if canon != "time":
            check_magnitude(out[canon].to_numpy(), file, canon, line_of_row, where)
    meta = meta_from_name(file, base_dir, pattern, definition)
    for key in META_FIELDS:
        if key in used:
            column = raw[key]
            text = column.astype("string").str.strip()
            if pd.api.types.is_float_dtype(column.dtype):
                # numeric codes: 1.0 -> "1"
                as_int = column.dropna()
                if (as_int == np.round(as_int)).all() and (as_int.abs() < 2.0**53).all():
                    text = column.astype("Int64").astype("string")
            out[key] = text
        else:
            out[key] = meta.get(key)
    if out["subject"].isna().any():
        row = int(np.flatnonzero(out["subject"].isna().to_numpy())[0])
        raise DataFormatError(
            file, "subject is missing; every row needs a subject",
            line=int(line_of_row[row]) if where == "line" else None,
            column=_column_label(used.get("subject", "subject"), where, int(line_of_row[row])),
        )
    return out


def _column_label(ref: ColumnRef, where: str, number: int) -> str:
    text = f"{ref}" if isinstance(ref, str) else f"#{ref} (0-based)"
    return text if where == "line" else f"{text} at row {number}"


def _convert(values: np.ndarray, canon: str, definition: DatasetDefinition) -> np.ndarray:
    if canon == "time":
        return values * TIME_UNITS[definition.units.time]
    is_acc = canon.startswith("acc")
    unit = definition.units.acc if is_acc else definition.units.gyro
    target = "g" if is_acc else "rad/s"
    if isinstance(unit, RawCounts):
        if not np.array_equal(values, np.round(values)):
            raise ConfigError(
                f"units.{'acc' if is_acc else 'gyro'}: raw counts must be integers, but "
                f"{canon} has fractional values; give a physical unit instead"
            )
        physical = counts_to_physical(values.astype(np.int64), unit.full_scale, unit.bits)
        return to_canonical(physical, unit.unit or ("g" if is_acc else "deg/s"), target)
    return to_canonical(values, unit, target)


def meta_from_name(
    file: Path, base_dir: Path, pattern: re.Pattern | None, definition: DatasetDefinition
) -> dict[str, str | None]:
    """Subject, session and label of ``file`` from ``file_pattern`` and ``constants``.

    Without either, the session is the file's path relative to ``base_dir``
    (without extension) unless a ``session`` column is declared.

    Raises
    ------
    DataFormatError
        If the name does not match ``file_pattern`` (the whole name).
    """
    meta: dict[str, str | None] = {k: getattr(definition.constants, k) for k in META_FIELDS}
    if pattern is not None:
        match = pattern.fullmatch(file.name)
        if match is None:
            raise DataFormatError(
                file,
                f"file name {file.name!r} does not match file_pattern {pattern.pattern!r}; "
                "rename the file or change the pattern (it must match the whole name)",
            )
        meta.update({k: v for k, v in match.groupdict().items() if v is not None})
    if meta.get("session") is None and definition.columns.session is None:
        try:
            rel = file.relative_to(base_dir)
        except ValueError:
            rel = file
        meta["session"] = rel.with_suffix("").as_posix()
    return meta


def _read_csv(
    definition: DatasetDefinition, file: Path, used: dict[str, ColumnRef]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read a CSV file with pandas; rows that do not fit the header are errors with their line."""
    opts = definition.csv
    refs = list(dict.fromkeys(used.values()))
    if not opts.header and any(isinstance(r, str) for r in refs):
        raise ConfigError(
            f"columns: csv.header is false, so columns must be 0-based positions, got "
            f"{ {k: v for k, v in used.items() if isinstance(v, str)} }"
        )
    text_cols = {used[k] for k in META_FIELDS if k in used}
    first_data_line = opts.skip_rows + (2 if opts.header else 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                file, sep=opts.delimiter, header=0 if opts.header else None,
                skiprows=opts.skip_rows, decimal=opts.decimal, encoding=opts.encoding,
                skip_blank_lines=False, index_col=False, engine="c",
                dtype={c: str for c in text_cols} or None,
            )
    except pd.errors.EmptyDataError:
        raise DataFormatError(file, "file is empty; expected a header and rows") from None
    except pd.errors.ParserWarning as exc:
        raise DataFormatError(
            file, "the first row has more fields than the header; fix the row or "
            f"the delimiter (csv.delimiter is {opts.delimiter!r})",
            line=first_data_line,
        ) from exc
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            raise DataFormatError(
                file,
                f"this row has {match.group(3)} fields, the header {match.group(1)}; fix the "
                f"row or the delimiter (csv.delimiter is {opts.delimiter!r})",
                line=int(match.group(2)) + opts.skip_rows,
            ) from exc
        raise DataFormatError(file, f"cannot parse as CSV: {exc}") from exc
    except (OSError, UnicodeError, ValueError, LookupError) as exc:
        raise DataFormatError(file, f"cannot read as CSV: {exc}") from exc
    if len(raw) == 0:
        raise DataFormatError(
            file, "the file has a header but no rows of samples; record again or remove it",
            line=first_data_line,
        )
    missing = [r for r in refs if isinstance(r, str) and r not in raw.columns]
    missing += [r for r in refs if isinstance(r, int) and not 0 <= r < raw.shape[1]]
    if missing:
        raise DataFormatError(
            file,
            f"columns {missing} are not in the file (it has {list(raw.columns)}); fix "
            "'columns' in the definition, or csv.delimiter / csv.header",
            line=opts.skip_rows + 1 if opts.header else None,
        )
    selected = pd.DataFrame(
        {canon: raw.iloc[:, ref] if isinstance(ref, int) else raw[ref]
         for canon, ref in used.items()}
    )
    line_of_row = np.arange(len(selected)) + first_data_line
    blank = selected.isna().all(axis=1).to_numpy()
    if blank.any():
        selected = selected.loc[~blank].reset_index(drop=True)
        line_of_row = line_of_row[~blank]
    return selected, line_of_row


def _read_parquet(file: Path, used: dict[str, ColumnRef]) -> pd.DataFrame:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        names = pq.read_schema(file).names
    except (OSError, ValueError, ArrowException) as exc:
        raise DataFormatError(file, f"cannot read as Parquet: {exc}") from exc
    resolved: dict[str, str] = {}
    for canon, ref in used.items():
        if isinstance(ref, int):
            if not 0 <= ref < len(names):
                raise DataFormatError(file, f"column #{ref} does not exist ({len(names)} columns)")
            resolved[canon] = names[ref]
        else:
            if ref not in names:
                raise DataFormatError(
                    file, f"column {ref!r} (for {canon}) is not in the file (it has {names})"
                )
            resolved[canon] = ref
    try:
        table = pd.read_parquet(file, columns=list(dict.fromkeys(resolved.values())))
    except (OSError, ValueError, TypeError, ArrowException) as exc:
        raise DataFormatError(file, f"cannot read as Parquet: {exc}") from exc
    return pd.DataFrame({canon: table[col] for canon, col in resolved.items()})


def _read_npy(file: Path, used: dict[str, ColumnRef]) -> pd.DataFrame:
    try:
        array = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFormatError(file, f"cannot read as a NumPy .npy file: {exc}") from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataFormatError(
            file, "this is an .npz archive, not a single .npy array; save each recording "
            "with numpy.save"
        )
    if array.dtype.kind not in "biufU":
        raise DataFormatError(
            file, f"NPY arrays must hold real numbers, got dtype {array.dtype}; save a 2-D "
            "float array (rows = samples, columns = channels)"
        )
    if array.ndim != 2:
        raise DataFormatError(
            file, f"NPY arrays must be 2-D (rows = samples, columns = channels), got "
            f"shape {array.shape}"
        )
    out = {}
    for canon, ref in used.items():
        if not isinstance(ref, int) or not 0 <= ref < array.shape[1]:
            raise DataFormatError(
                file, f"column {ref!r} (for {canon}) is not a 0-based position < {array.shape[1]}"
            )
        out[canon] = array[:, ref]
    return pd.DataFrame(out)


def _assemble_sessions(
    frame: pd.DataFrame, definition: DatasetDefinition, files: list[Path], checks: DataChecks
) -> pd.DataFrame:
    """Order rows by session, split restarted recordings, compute time, make ids unique."""
    frame["subject"] = frame["subject"].astype("string")
    frame["session"] = frame["session"].astype("string")
    if frame["session"].isna().any():
        row = int(np.flatnonzero(frame["session"].isna().to_numpy())[0])
        raise DataFormatError(
            files[int(frame["_file"].iloc[row])], "session is missing in this row",
            line=int(frame["_line"].iloc[row]),
        )
    per_session = frame.groupby("session", sort=False, observed=True)["subject"].nunique()
    if (per_session > 1).any():
        frame["session"] = frame["subject"] + "-" + frame["session"]
    frame["_key"] = pd.factorize(frame["subject"] + "\x00" + frame["session"])[0]
    if definition.columns.time is None:
        frame = frame.sort_values("_key", kind="stable").reset_index(drop=True)
        index = frame.groupby("_key").cumcount().to_numpy()
        frame["time"] = index / definition.sampling_rate_hz
        return frame
    if checks.time_order:
        # files of a session in the order of their first time stamp, rows in file order
        frame["_first"] = frame.groupby("_file")["time"].transform("first")
        frame = frame.sort_values(["_key", "_first", "_file"], kind="stable")
        frame = frame.reset_index(drop=True)
        frame = _split_restarts(frame, files)
    else:
        frame = frame.sort_values(["_key", "time"], kind="stable").reset_index(drop=True)
    keys = frame["_key"].to_numpy()
    t = frame["time"].to_numpy()
    same = keys[1:] == keys[:-1]
    repeat = np.flatnonzero(same & (np.diff(t) <= 0))
    if repeat.size:
        row = int(repeat[0]) + 1
        raise DataFormatError(
            files[int(frame["_file"].iloc[row])],
            f"time {frame['time'].iloc[row]:g} s repeats a sample of session "
            f"{frame['session'].iloc[row]!r}; remove duplicate samples",
            line=int(frame["_line"].iloc[row]) if frame["_where"].iloc[row] == "line"
            else None,
            column=str(definition.columns.time),
        )
    first = pd.Series(t).groupby(keys).transform("first").to_numpy()
    frame["time"] = t - first
    return frame


MIN_MEAN_PIECE = 10
"""Restarted pieces shorter than this on average (samples) mean the rows are shuffled."""


def _split_restarts(frame: pd.DataFrame, files: list[Path]) -> pd.DataFrame:
    """Start a new session (``<session>~2``, ...) where time goes back; warn once."""
    keys = frame["_key"].to_numpy()
    t = frame["time"].to_numpy()
    back = np.r_[False, (keys[1:] == keys[:-1]) & (np.diff(t) < 0)]
    if not back.any():
        return frame
    rows = np.flatnonzero(back)
    n_sessions = len(np.unique(keys))
    if len(frame) / (n_sessions + rows.size) < MIN_MEAN_PIECE:
        row = int(rows[0])
        raise DataFormatError(
            files[int(frame["_file"].iloc[row])],
            f"time goes back {rows.size} times (first from {t[row - 1]:g} s to {t[row]:g} s"
            f"{_at(frame, row)}): the rows are not in time order. Sort each file by time; if "
            "its rows are merely out of order and must be sorted, "
            + switch_off_hint("time_order"),
            line=_line(frame, row),
        )
    piece = pd.Series(back.astype(np.int64)).groupby(keys).cumsum().to_numpy()
    suffix = np.where(piece > 0, "~" + (piece + 1).astype(str), "")
    old = frame["session"].astype(str).to_numpy()
    frame["session"] = pd.array(old.astype(object) + suffix.astype(object), dtype="string")
    frame["_key"] = pd.factorize(frame["subject"] + "\x00" + frame["session"])[0]
    shown = "; ".join(
        f"{files[int(frame['_file'].iloc[r])]}{_at(frame, int(r))}: {t[r - 1]:g} s -> {t[r]:g} s, "
        f"now session {frame['session'].iloc[r]!r}"
        for r in rows[:5]
    )
    more = f"; and {rows.size - 5} more" if rows.size > 5 else ""
    warnings.warn(
        f"time goes back {rows.size} time(s), so the recording restarted there: the rows from "
        f"each restart on form a new session ({shown}{more}). If the rows are only out of "
        "order instead, sort the files by time, or " + switch_off_hint("time_order"),
        UserWarning,
        stacklevel=4,
    )
    return frame


def _line(frame: pd.DataFrame, row: int) -> int | None:
    return int(frame["_line"].iloc[row]) if frame["_where"].iloc[row] == "line" else None


def _at(frame: pd.DataFrame, row: int) -> str:
    """', line N' or ', row N' for messages."""
    return f", {frame['_where'].iloc[row]} {int(frame['_line'].iloc[row])}"


def _check_labels(
    frame: pd.DataFrame, definition: DatasetDefinition, files: list[Path]
) -> list[str]:
    label = frame["label"].astype("string")
    if definition.label_map:
        label = label.replace(definition.label_map)
    ignore = set(definition.ignore_labels)
    label = label.mask(label.isin(ignore))
    if definition.classes is None:
        classes = sorted(label.dropna().unique().tolist())
    else:
        classes = list(definition.classes)
        bad = label.notna() & ~label.isin(classes)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            where = frame["_where"].iloc[row]
            number = int(frame["_line"].iloc[row])
            raise DataFormatError(
                files[int(frame["_file"].iloc[row])],
                f"label {label.iloc[row]!r}{'' if where == 'line' else f' at row {number}'} "
                f"is not in classes {classes}; add it to 'classes', map it with 'label_map', "
                "or list it in 'ignore_labels' to keep its samples unlabelled",
                line=number if where == "line" else None,
                column=str(definition.columns.label) if definition.columns.label is not None
                else None,
            )
    frame["label"] = label
    return classes
