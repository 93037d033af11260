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
    (``.csv``/``.txt``/``.tsv``/``.dat``/``.log``: text, ``.parquet``/``.pq``, ``.npy``). CSV files
    may be compressed (``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip``:
    decompressed while they are parsed, never whole in memory).
``csv``
    ``delimiter`` (default ``,``; one character, or ``\s+`` for columns
    separated by runs of spaces or tabs), ``header`` (default true: the first line
    names the columns), ``skip_rows`` (lines before the header, default 0),
    ``decimal`` (default ``.``), ``encoding`` (default ``utf-8``), ``comment``
    (default none: a character after which the rest of a line is ignored,
    e.g. ``;`` for lines that end in ``;``).
``sampling_rate_hz``
    The sampling rate in Hz (required, > 0).
``columns``
    Canonical name -> the file's column: a name, or a 0-based position (the
    only choice for NPY, whose arrays must be 2-D). ``acc_x acc_y acc_z`` are
    required; ``time``, ``gyro_x gyro_y gyro_z``, ``label``, ``subject`` and
    ``session`` are optional; ``gravity_x gravity_y gravity_z`` (all or none,
    in the accelerometer's unit) are added to ``acc_*`` when given without
    gravity (iOS's ``userAcceleration`` beside ``gravity``).
``units``
    ``time``: ``s`` (default), ``ms``, ``us``, ``ns``; ``acc``: ``g``
    (default), ``m/s^2``, ``mg``; ``gyro``: ``rad/s`` (default), ``deg/s``,
    ``mdps``. For raw signed integer counts give a mapping ``{full_scale: F,
    bits: B, unit: U}``: values are ``counts * F / 2**(B-1)`` in ``U``
    (default ``g`` for acc, ``deg/s`` for gyro), then converted.
``file_pattern``
    A regular expression matched against each file *name* (not its folder)
    with named groups among ``subject``, ``session``, ``label``; a pattern
    holding ``/`` is matched against the end of the path, folders and name
    (:func:`pattern_match`).
``constants``
    ``subject``, ``session``, ``label``: one value for all files.
``gyro``
    The gyroscope in files of its own, each with its own time stamps (WISDM
    2019's ``gyro/`` folder, HHAR's ``Phones_gyroscope.csv``): ``files`` (its
    glob patterns), ``file_pattern`` (with the ``subject`` and ``session``
    groups of ``file_pattern``: each gyroscope file pairs with the
    accelerometer file of the same subject and session), ``columns``
    (``gyro_x gyro_y gyro_z``; ``time``, ``subject``, ``session`` default to
    those of ``columns``), optionally ``format``, ``csv`` (default: the
    definition's), ``sampling_rate_hz`` (the gyroscope's, when it differs) and
    ``max_gap_s``. Needs ``columns.time``; ``units.time`` and ``units.gyro``
    hold for its files. The gyroscope is linearly interpolated onto the
    accelerometer's time stamps; accelerometer rows outside its time span or
    in its gaps (longer than ``max_gap_s``, default two sample periods of the
    slower sensor) are left out with a warning
    (:mod:`tinyhar.datasets.sensor_join` has the rules)::

        files: "raw/phone/accel/*.txt"
        file_pattern: 'data_(?P<subject>\d+)_accel_phone\.txt'
        gyro:
          files: "raw/phone/gyro/*.txt"
          file_pattern: 'data_(?P<subject>\d+)_gyro_phone\.txt'
          columns: {gyro_x: 3, gyro_y: 4, gyro_z: 5}   # time: columns.time's column

``flip``
    Channels whose sign is reversed after the unit conversion, e.g.
    ``[acc_x, acc_y, acc_z]`` for iOS Core Motion, whose axes point the other
    way from Android's (lying face up, z reads -1 g); gravity columns added to
    a flipped axis are flipped with it.
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

Memory: a Parquet file is read one column at a time, and each column batch
by batch (:data:`BLOCK_ROWS` rows, one column chunk of a row group at a time:
no pre-buffering, no reader threads), converted straight into its final
array; a CSV file goes through pandas' parser :data:`CSV_CHUNK_ROWS` rows at
a time (text columns as categories, channels in g and rad/s straight to
float32), each chunk freed once converted. The three axes of a sensor are
the columns of one ``(n, 3)`` array, so the checks need no stacked copy;
label, subject and session are one category code per sample throughout (also
in the :class:`RecordingSet`); checks and session scans work a chunk at a
time. Loading a 24-hour 6-channel 50 Hz file in a fresh process peaks at
about 41 bytes per sample above the baseline after the imports, Parquet or
CSV (the resulting frame holds 35; ``benchmarks/load_memory.py --cold``),
against 117 (Parquet) and 181 (CSV) with a string per sample and a
whole-file parse.
A long session need not be held at all: :func:`iter_file_batches` reads
a file in batches of rows, each converted as the whole file would be
(:meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`).

The schema (the pydantic models of these keys) is in
:mod:`tinyhar.datasets.definition`; this module reads and assembles the files.
"""

from __future__ import annotations

import itertools
import lzma
import os
import re
import threading
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.core.memory import trim_heap
from tinyhar.datasets.checks import (
    RATE_TOLERANCE,
    ChecksLike,
    DataChecks,
    check_sampling_rate,
    check_signals,
    measured_rate_hz,
    resolve_checks,
    switch_off_hint,
    warn_clipping,
)
from tinyhar.datasets.definition import (
    _FORMATS,
    ACC_UNITS,
    COMPRESSIONS,
    GRAVITY_COLUMNS,
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
    compression,
    data_suffix,
    stem,
)
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    check_magnitude,
    constant_category,
    run_starts,
    steps_where,
    stored_origins,
    str_categories,
    utc_text,
)
from tinyhar.datasets.sensor_join import (
    LeftOut,
    covered,
    interpolate,
    max_gap_s,
    pair_files,
    warn_left_out,
)
from tinyhar.datasets.units import counts_to_physical, to_canonical
from tinyhar.errors import ConfigError, DataFormatError, TinyharError

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
    "datetime_seconds",
    "load_custom",
    "file_rows",
    "iter_file_batches",
    "load_definition",
    "meta_from_name",
    "pattern_match",
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
        sessions as category columns of strings, at ``sampling_rate_hz`` Hz;
        name, citation and licence from the definition. With ``units: {time:
        datetime}``, ``origins`` holds each session's first time stamp (s
        since the Unix epoch, UTC: :func:`datetime_seconds`; a restarted
        recording's new session: its own first time stamp); else None.

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
    session_prefix: bool = False,
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
    session_prefix : bool, default False
        Name every session ``"<subject>-<session>"``, as the whole data set's
        load does when a session name is used by several subjects in any of its
        files (:func:`tinyhar.datasets.sessions.shared_session_names`), where
        ``files`` are some of them. Without it, sessions are renamed so only
        when such a name is shared within ``files``.

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
    parts: list[dict] = []
    wheres: list[str] = []
    stored: list[dict | None] = []  # each file's stored origins (file_origins)
    clipping: list[str | None] = []
    file_dtype = np.int8 if len(files) < 127 else np.int16 if len(files) < 32767 else np.int32
    join = GyroJoin.of(definition, base_dir, source, active)
    for index, file in enumerate(files):
        part, where = _read_one(
            definition, file, base_dir, pattern,
            check_time=lambda time, file=file: _check_rate(definition, file, time, active),
            check=lambda numbers, file=file: clipping.append(
                _check_file(definition, file, numbers, active)),
            join=join,
        )
        part["_file"] = np.full(len(part["_line"]), index, dtype=file_dtype)
        parts.append(part)
        wheres.append(where)
        stored.append(file_origins(definition, file))
        del part
    _ParquetColumns.release()  # what reading the text columns left in Arrow's pool
    if join is not None:
        join.warn(stacklevel=4)
    columns = _concat_parts(parts)
    del parts
    columns = _assemble_sessions(columns, definition, files, wheres, active, session_prefix,
                                 stored)
    origins = columns.pop("_origins", None)
    warn_clipping(clipping)
    classes = _check_labels(columns, definition, files, wheres)
    channels = [*ACC_CHANNELS, *(GYRO_CHANNELS if definition.has_gyro() else ())]
    # hand the columns over without copies: RecordingSet keeps these arrays
    frame = pd.DataFrame(
        {c: columns.pop(c) for c in ["time", *channels, "label", "subject", "session"]},
        copy=False,
    )
    del columns
    return RecordingSet(
        frame, definition.sampling_rate_hz, classes, name=definition.name,
        citation=definition.citation, licence=definition.licence, source=source,
        origins=origins,
    )


def _unit_text(unit: str | RawCounts, default: str) -> str:
    if isinstance(unit, RawCounts):
        return f"raw counts of +-{unit.full_scale:g} {unit.unit or default}"
    return unit


def _check_rate(
    definition: DatasetDefinition, file: Path, time: np.ndarray, checks: DataChecks
) -> None:
    """The time column (as read: :func:`time_column`; file order) against the declared
    sampling rate."""
    if not checks.sampling_rate:
        return
    if len(time) and time.dtype.kind == "i":  # date-times: s from the first (exact steps)
        time = time_since(time, time[0])
    if not checks.time_order:
        time = np.sort(time)  # the order the rows will have
    backwards = np.count_nonzero(time[1:] < time[:-1]) / max(len(time) - 1, 1)
    if len(time) < 3 or backwards <= 0.01:  # else shuffled (see _split_restarts)
        check_sampling_rate(time, definition.sampling_rate_hz, str(file),
                            column=str(definition.columns.used()["time"]))


def _check_file(
    definition: DatasetDefinition, file: Path, part: dict, checks: DataChecks
) -> str | None:
    """Unit and clipping checks of one file's converted samples; returns clipping."""
    rate = definition.sampling_rate_hz
    if not (checks.units or checks.clipping) or not len(part["acc_x"]):
        return None
    acc = _stacked(part, ACC_CHANNELS)
    gyro = _stacked(part, GYRO_CHANNELS) if "gyro_x" in part else None
    return check_signals(
        acc, gyro, rate, str(file), checks,
        acc_declared=_unit_text(definition.units.acc, "g"),
        gyro_declared=_unit_text(definition.units.gyro, "deg/s"),
    )


def _stacked(part: dict, channels: tuple[str, ...]) -> np.ndarray:
    """The three axes as one (n_samples, 3) array: the buffer they are columns of, if any."""
    base = part[channels[0]].base
    if (isinstance(base, np.ndarray) and base.shape == (len(part[channels[0]]), 3)
            and all(part[c].base is base for c in channels)
            and all(np.shares_memory(part[c], base[:, j]) for j, c in enumerate(channels))):
        return base
    return np.column_stack([part[c] for c in channels])


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
                "patterns are relative to the YAML file's folder" + (
                    " (in a pattern '[...]' means one of the characters inside: write a '[' "
                    "of a folder or file name as '[[]', e.g. 'my data [[]v2]/*.csv')"
                    if "[" in pattern else "")
            )
        found.extend(matches)
    return list(dict.fromkeys(found))


def _file_format(definition: DatasetDefinition, file: Path) -> str:
    fmt = definition.format or _FORMATS.get(data_suffix(file))
    if fmt is None:
        raise DataFormatError(
            file,
            f"cannot tell the format from the extension {file.suffix!r}; set 'format' "
            f"(csv, parquet, npy) in the definition (known extensions: {sorted(_FORMATS)}, "
            f"CSV also compressed: {', '.join(sorted(COMPRESSIONS))})",
        )
    if fmt != "csv" and compression(file) is not None:
        raise DataFormatError(
            file,
            f"a compressed {fmt.upper()} file ({file.suffix}) cannot be read; decompress it "
            "(only CSV files are read compressed; Parquet compresses inside the file)",
        )
    return fmt


def _read_one(
    definition: DatasetDefinition, file: Path, base_dir: Path, pattern: re.Pattern | None,
    rows: tuple[int, int] | None = None, *, chunk: _CsvColumns | None = None, check_time=None,
    check=None, join: GyroJoin | None = None,
) -> tuple[dict, str]:
    """One file -> its columns in final form, and ``"line"`` (CSV) or ``"row"`` numbering.

    Sensor channels are float32 in g or rad/s (converted in float64, then
    rounded once, as :class:`RecordingSet` stores them), ``time`` float64 in
    the file's time unit converted to s, ``label subject session``
    categoricals (a value for the whole file costs one byte per row instead
    of a string per row) and ``_line`` the 1-based line or row of each
    sample. Parquet columns are read one at a time, so the memory of a file
    is its final columns plus one column in conversion (a whole file of at
    most :data:`WHOLE_READ_ROWS` rows: its used columns are read in one call,
    the same values and errors without a reader per column). The time column is
    read first and handed to ``check_time`` (if given); ``check`` is called
    with the numeric columns before the text columns are read. Their
    errors are raised after those of reading (as when they ran last).
    ``rows``: read only the rows ``[start, stop)`` of a Parquet or NPY file;
    ``chunk``: take a CSV file's rows from this chunk of it (:func:`_csv_chunks`)
    instead of reading the file (row and line numbers in messages stay those
    of the file; :func:`iter_file_batches`). With a ``gyro`` key the gyroscope's own
    file is joined on (``join``, made here when not given: :class:`GyroJoin`), rows
    without a gyroscope value are left out, and ``check`` sees the joined rows.
    """
    used = definition.columns.used()
    fmt = _file_format(definition, file)
    if fmt == "csv":
        raw, line_of_row = ((chunk, chunk.line_of_row()) if chunk is not None
                            else _read_csv(definition, file, used))
        where = "line"
    else:
        raw = _read_parquet(file, used, rows) if fmt == "parquet" else _read_npy(file, used, rows)
        if rows is None and len(raw) == 0:
            raise _no_rows(file)
        first = 0 if rows is None else rows[0]  # row numbers: nothing stored per row
        line_of_row = range(first + 1, first + len(raw) + 1)
        where = "row"
    n = len(raw)
    out: dict = {"_line": _Lines.of(line_of_row)}
    buffers = {}  # each sensor's three axes are the columns of one (n, 3) array (no stacking)
    for group in (ACC_CHANNELS, GYRO_CHANNELS):
        if group[0] in used:
            buffers[group] = np.empty((n, 3), np.float32, order="F")
            out.update({c: buffers[group][:, j] for j, c in enumerate(group)})
    del buffers
    sensor = [c for c in (*ACC_CHANNELS, *GYRO_CHANNELS, *GRAVITY_COLUMNS) if c in used]
    # Time is read (and checked against the rate) first, while little else is in memory,
    # but errors are raised in the order of before: the channels' values, time's values,
    # the file name, a missing subject, then the rate and signal checks.
    pending = None  # an error in time's values
    failed_check = None  # an error of check_time or check
    for canon in [*(["time"] if "time" in used else []), *sensor]:
        if canon == "time":
            out["time"] = time_column(n, definition)
        try:
            if canon in GRAVITY_COLUMNS:  # added to the acceleration given without it
                gravity = np.empty(n, np.float32)
                _fill(gravity, raw, canon, definition, file, line_of_row, where)
                out[ACC_CHANNELS[GRAVITY_COLUMNS.index(canon)]] += gravity
                del gravity
            else:
                _fill(out[canon], raw, canon, definition, file, line_of_row, where)
        except (DataFormatError, ConfigError) as exc:
            if canon != "time":
                raise
            pending = exc
        if isinstance(raw, _CsvColumns):
            raw.drop(canon)
        if canon == "time" and pending is None and check_time is not None:
            try:
                check_time(out["time"])
            except DataFormatError as exc:
                failed_check = exc
        if isinstance(raw, _ParquetColumns) and raw.table is None:
            raw.release()
    if pending is not None:
        raise pending
    meta = meta_from_name(file, base_dir, pattern, definition)
    if join is None and definition.gyro is not None:
        join = GyroJoin(definition, base_dir, str(base_dir))
    if check is not None and failed_check is None and join is None:
        try:
            check(out)
        except DataFormatError as exc:
            failed_check = exc
        if n > BLOCK_ROWS:  # the checks' chunk temporaries (a small file's: reused next)
            trim_heap()
    for key in META_FIELDS:
        out[key] = _meta_column(raw, key, used, meta, len(line_of_row))
    if len(line_of_row) and out["subject"].codes.min() < 0:
        row = int(np.flatnonzero(out["subject"].codes < 0)[0])
        raise DataFormatError(
            file, "subject is missing; every row needs a subject",
            line=int(line_of_row[row]) if where == "line" else None,
            column=_column_label(used.get("subject", "subject"), where, int(line_of_row[row])),
        )
    if failed_check is not None:
        raise failed_check
    if join is not None:  # the gyroscope's own file, onto these rows' times
        out = join.add_gyro(file, out, where, whole=rows is None and chunk is None)
        if check is not None:
            check(out)
    return out, where


def _meta_column(raw, key: str, used: dict[str, ColumnRef], meta: dict,
                 n_rows: int) -> pd.Categorical:
    """The ``label``, ``subject`` or ``session`` of each of the ``n_rows`` rows of a read
    file (``raw``, :func:`_read_one`): its column as text categories when the definition
    names one (then dropped from a CSV reader's columns), else the file name's or
    constant value (``meta``, :func:`meta_from_name`) for every row."""
    if key in used:
        parts = raw.text_codes(key) if isinstance(raw, _ParquetColumns) else None
        column = (_text_of(*parts, False) if parts is not None
                  else _text_column(raw.text(key) if isinstance(raw, _CsvColumns)
                                    else raw[key]))
        if isinstance(raw, _CsvColumns):
            raw.drop(key)
    else:
        column = constant_category(meta.get(key), n_rows)
    if isinstance(raw, _ParquetColumns) and raw.table is None:
        raw.release()
    return column


class GyroJoin:
    """The gyroscope's own files (a definition's ``gyro`` key) joined onto the rows of its
    accelerometer files (the rules: :mod:`tinyhar.datasets.sensor_join`).

    One object serves one read (a whole load, a session, a file's batches): it
    pairs the files once (:meth:`pair_of`), reads each gyroscope file once per
    process while the file is unchanged (:func:`_gyro_streams`: a gyroscope
    file is held whole, 20 bytes per sample, while its accelerometer file is
    read), and gathers the rows left out for :meth:`warn`.

    Parameters
    ----------
    definition : DatasetDefinition
        With a ``gyro`` key.
    base_dir : Path
        The folder the patterns are relative to.
    source : str
        The definition, for messages.
    checks : DataChecks, optional
        With ``sampling_rate`` on, each gyroscope file's time stamps (per subject
        and session) are checked against ``gyro.sampling_rate_hz`` (default:
        ``sampling_rate_hz``) when it is first used (:meth:`_check_rate`).
    """

    def __init__(self, definition: DatasetDefinition, base_dir: Path, source: str,
                 checks: DataChecks | None = None) -> None:
        assert definition.gyro is not None
        self.definition, self.base_dir, self.source = definition, Path(base_dir), source
        self.checks = checks
        self.checked: set[Path] = set()  # gyroscope files whose rate was checked
        self.reader = definition.gyro_definition()
        self.max_gap = max_gap_s(definition.sampling_rate_hz, definition.gyro.sampling_rate_hz,
                                 definition.gyro.max_gap_s)
        self.keys = [k for k in ("subject", "session") if getattr(definition.columns, k)
                     is not None]  # (from columns: matched row by row)
        self.pairs: dict[Path, Path] | None = None
        self.left_out: list[LeftOut] = []

    @classmethod
    def of(cls, definition: DatasetDefinition, base_dir: Path, source: str,
           checks: DataChecks | None = None) -> GyroJoin | None:
        """A join for a definition with a ``gyro`` key, else None."""
        return None if definition.gyro is None else cls(definition, base_dir, source, checks)

    def pair_of(self, file: Path) -> Path:
        """The gyroscope file of an accelerometer file of the definition.

        Raises
        ------
        ConfigError
            A file of either sensor without a partner, or two of one sensor that
            name the same subject and session (:func:`~tinyhar.datasets.sensor_join.pair_files`).
        DataFormatError
            A file name that does not match its ``file_pattern``.
        """
        if self.pairs is None:
            definition, gyro = self.definition, self.definition.gyro
            acc = {f: _name_key(f, definition.file_pattern, definition, "file_pattern")
                   for f in resolve_files(definition, self.base_dir, self.source)}
            found = {f: _name_key(f, gyro.file_pattern, definition, "gyro.file_pattern")
                     for f in resolve_files(self.reader, self.base_dir, f"{self.source}, gyro")}
            self.pairs = pair_files(
                acc, found, _patterns_text(definition.files, definition.file_pattern),
                _patterns_text(gyro.files, gyro.file_pattern), self.source)
        try:
            return self.pairs[Path(file)]
        except KeyError:
            raise ConfigError(f"{self.source}: {file} is not one of the definition's files "
                              "(files), so it has no gyroscope file") from None

    def rows_with_gyro(self, file: Path, time: np.ndarray, subject: pd.Categorical,
                session: pd.Categorical, lines, where: str,
                values: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Which rows have a gyroscope value, and the values (in the rows' order).

        Parameters
        ----------
        file : Path
            The accelerometer file.
        time : numpy.ndarray, shape (n,)
            The rows' times as read (float64 s, or int64 ns of date-times).
        subject, session : pandas.Categorical, shape (n,)
            The rows' subject and session (matched to the gyroscope's rows where
            they come from columns).
        lines : sequence of int, shape (n,)
            The rows' lines or rows in ``file``, for messages.
        where : str
            ``"line"`` or ``"row"``.
        values : bool
            Interpolate the values too (else only which rows have one).

        Returns
        -------
        keep : numpy.ndarray of bool, shape (n,)
        gyro : numpy.ndarray of float32, shape (n, 3), or None
            rad/s where ``keep`` (0 elsewhere); None without ``values``.
        """
        gyro_file = self.pair_of(file)
        streams = _gyro_streams(self.reader, gyro_file, self.base_dir, tuple(self.keys))
        if gyro_file not in self.checked:
            self._check_rate(gyro_file, streams)
        n = len(time)
        keep = np.zeros(n, bool)
        out = np.zeros((n, 3), np.float32) if values else None
        for key, rows in _row_groups(self.keys, {"subject": subject, "session": session}, n):
            stream = streams.get(key)
            if stream is None:
                continue  # no gyroscope rows of this subject and session: left out
            stamps, samples = stream
            origin = stamps[0]
            since, at = time_since(stamps, origin), time_since(time[rows], origin)
            ok = covered(at, since, self.max_gap)
            keep[rows[ok]] = True
            if out is not None:
                out[rows[ok]] = interpolate(at[ok], since, samples)
        if not keep.all():
            first = int(np.flatnonzero(~keep)[0])
            rows_out = int(n - np.count_nonzero(keep))
            self.left_out.append(LeftOut(
                str(file), str(gyro_file), rows_out, rows_out / self.definition.sampling_rate_hz,
                f"{where} {int(lines[first])}"))
        return keep, out

    def add_gyro(self, file: Path, out: dict, where: str, whole: bool) -> dict:
        """A file's (or batch's) read columns (:func:`_read_one`) with the gyroscope's
        channels, the rows without a value left out.

        Raises
        ------
        DataFormatError
            ``whole`` (the whole file) and no row has a gyroscope value: naming
            both files and their time spans.
        """
        lines = out["_line"]
        keep, gyro = self.rows_with_gyro(file, out["time"], out["subject"], out["session"],
                                  _LineNumbers(lines), where)
        if whole and len(keep) and not keep.any():
            raise self._nothing_left(file, out["time"])
        gyro = np.asfortranarray(gyro)
        out.update({c: gyro[:, j] for j, c in enumerate(GYRO_CHANNELS)})
        del gyro
        return _keep_rows(out, keep)

    def _check_rate(self, gyro_file: Path, streams: dict) -> None:
        """The gyroscope's time stamps (of each subject and session) against its declared rate.

        Raises
        ------
        DataFormatError
            A measured rate more than :data:`~tinyhar.datasets.checks.RATE_TOLERANCE`
            off, naming the file, both rates and ``gyro.sampling_rate_hz``.
        """
        self.checked.add(gyro_file)
        if self.checks is None or not self.checks.sampling_rate:
            return
        given = self.definition.gyro.sampling_rate_hz
        rate = given or self.definition.sampling_rate_hz
        for stamps, _ in streams.values():
            measured = measured_rate_hz(time_since(stamps, stamps[0]))
            if measured is not None and abs(measured / rate - 1.0) > RATE_TOLERANCE:
                raise DataFormatError(
                    gyro_file, f"the gyroscope's time column shows {measured:.4g} Hz but its "
                    "declared rate is " + (f"{rate:g} Hz (gyro.sampling_rate_hz)" if given else
                                           f"sampling_rate_hz's, {rate:g} Hz") + "; set "
                    "gyro.sampling_rate_hz to its rate (it sets the longest gap interpolated "
                    "across, gyro.max_gap_s), or fix units.time; "
                    + switch_off_hint("sampling_rate"), column=str(self.reader.columns.time))

    def _nothing_left(self, file: Path, time: np.ndarray) -> DataFormatError:
        gyro_file = self.pair_of(file)
        streams = _gyro_streams(self.reader, gyro_file, self.base_dir, tuple(self.keys))
        dates = self.definition.units.dates
        spans = "; ".join(f"{_clock_text(s[0][0], dates)} to {_clock_text(s[0][-1], dates)}"
                          for s in list(streams.values())[:3])
        return DataFormatError(
            file, f"no row has a gyroscope value: its times ({_clock_text(time.min(), dates)} "
            f"to {_clock_text(time.max(), dates)}) lie outside those of its gyroscope file "
            f"{gyro_file} ({spans or 'no rows of these subjects and sessions'}), or in its "
            f"gaps (longer than {self.max_gap:.3g} s); both sensors must use the same clock "
            f"and units.time ({self.definition.units.time}), and the gyroscope's rows the "
            "accelerometer's subject and session")

    def warn(self, stacklevel: int = 2) -> None:
        """Warn once about the rows left out so far
        (:func:`~tinyhar.datasets.sensor_join.warn_left_out`)."""
        warn_left_out(self.left_out, self.max_gap, stacklevel=stacklevel + 1)
        self.left_out = []


def _clock_text(time, dates: bool) -> str:
    """A time stamp as read, for messages: :func:`time_text` of date-times, else s to the
    microsecond (a clock's seconds are large: ``252207.666811 s``)."""
    return time_text(time, dates) if dates else f"{float(time):.6f} s"


class _LineNumbers:
    """``lines[i]`` of a :class:`_Lines` (an int) for :meth:`GyroJoin.covered`."""

    def __init__(self, lines: _Lines) -> None:
        self.lines = lines

    def __getitem__(self, i: int) -> int:
        return int(self.lines[i])


def _keep_rows(out: dict, keep: np.ndarray) -> dict:
    """The read columns of :func:`_read_one` (each sensor's axes the columns of one array)
    of the rows where ``keep``; ``out`` itself when all are kept."""
    if keep.all():
        return out
    for group in (ACC_CHANNELS, GYRO_CHANNELS):
        if group[0] in out:
            kept = np.asfortranarray(_stacked(out, group)[keep])
            out.update({c: kept[:, j] for j, c in enumerate(group)})
            del kept
    for name, values in out.items():
        if name in ACC_CHANNELS or name in GYRO_CHANNELS:
            continue
        out[name] = _Lines.of(values.array()[keep]) if isinstance(values, _Lines) \
            else values[keep]
    return out


def _name_key(file: Path, pattern: str | None, definition: DatasetDefinition,
              key: str) -> tuple[tuple[str, str], ...]:
    """The subject and session a file's name gives (``pattern`` groups, ``constants``), as
    ``(("subject", "1600"), ...)``: what pairs a gyroscope file with its accelerometer file.

    Raises
    ------
    DataFormatError
        The name does not match ``pattern`` (``key`` names it).
    """
    meta = {k: getattr(definition.constants, k) for k in ("subject", "session")}
    if pattern is not None:
        match = pattern_match(re.compile(pattern), file)
        if match is None:
            raise DataFormatError(
                file, f"file name {file.name!r} does not match {key} {pattern!r}; rename the "
                "file or change the pattern (it must match the whole name)")
        meta.update({k: v for k, v in match.groupdict().items() if k in meta and v is not None})
    return tuple((k, v) for k, v in meta.items() if v is not None)


def _patterns_text(files: str | list[str], pattern: str | None) -> str:
    """A sensor's ``files`` and ``file_pattern``, for messages."""
    return f"files {files!r}" + (f", file_pattern {pattern!r}" if pattern else "")


def _row_groups(keys: list[str], columns: dict[str, pd.Categorical], n: int):
    """``(key, rows)`` of the rows of each distinct value of the ``keys`` columns
    (``key``: tuple of ``(name, value)``; all rows, key ``()``, without keys)."""
    if not keys:
        yield (), np.arange(n)
        return
    codes = np.zeros(n, np.int64)
    for k in keys:
        codes = codes * (len(columns[k].categories) + 1) + columns[k].codes + 1
    unique, inverse = np.unique(codes, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    for g in range(len(unique)):
        rows = order[bounds[g] : bounds[g + 1]]
        first = rows[0]
        yield tuple((k, None if columns[k].codes[first] < 0 else str(columns[k][first]))
                    for k in keys), rows


_GYRO_CACHE: dict = {}
"""The last gyroscope files read (:func:`_gyro_streams`), by path, size, time and reader."""
_GYRO_LOCK = threading.Lock()


def _gyro_streams(reader: DatasetDefinition, file: Path, base_dir: Path,
                  keys: tuple[str, ...]) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
    """A gyroscope file's samples per subject and session (``keys``: those from columns),
    each sorted by time: ``key -> (times as read, shape (m,); rad/s float32, shape (m, 3))``.

    The last two files read are kept while unchanged (a file read in batches
    reads its gyroscope file once).

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`load_custom`, naming the gyroscope file; a time stamp repeated
        within a subject and session (naming its line or row).
    """
    try:
        stat = os.stat(file)
    except OSError as exc:
        raise DataFormatError(file, f"cannot read it ({exc.strerror or exc})") from exc
    cache_key = (str(file), stat.st_size, stat.st_mtime_ns, reader.model_dump_json(), keys)
    with _GYRO_LOCK:
        if cache_key in _GYRO_CACHE:
            return _GYRO_CACHE[cache_key]
    pattern = re.compile(reader.file_pattern) if reader.file_pattern else None
    part, where = _read_one(reader, file, base_dir, pattern)
    time, values = part["time"], _stacked(part, GYRO_CHANNELS)
    streams = {}
    for key, rows in _row_groups(list(keys), part, len(time)):
        rows = rows[np.argsort(time[rows], kind="stable")]
        stamps = time[rows]
        repeat = np.flatnonzero(stamps[1:] == stamps[:-1])
        if repeat.size:
            line = int(part["_line"][int(rows[repeat[0] + 1])])
            raise DataFormatError(
                file, f"time {_clock_text(stamps[repeat[0]], reader.units.dates)} repeats a "
                "gyroscope sample" + "".join(f", {k} {v}" for k, v in key)
                + "; remove duplicate samples", line=line if where == "line" else None,
                column=str(reader.columns.time))
        streams[key] = (stamps, np.ascontiguousarray(values[rows]))
    del part, values
    with _GYRO_LOCK:
        while len(_GYRO_CACHE) >= 2:
            _GYRO_CACHE.pop(next(iter(_GYRO_CACHE)))
        _GYRO_CACHE[cache_key] = streams
    return streams


def file_session_pairs(definition: DatasetDefinition, file: Path, base_dir: Path,
                       pattern: re.Pattern | None) -> set[tuple[str, str]]:
    """The distinct ``(subject, session)`` of a file's rows, reading only those columns.

    Subject and session come from the file's columns or from its name and
    ``constants`` (:func:`meta_from_name`), as :func:`load_definition` reads
    them, before any session is renamed; the file is read in batches
    (:data:`BLOCK_ROWS` rows of a Parquet or NPY file, :data:`CSV_CHUNK_ROWS`
    lines of a CSV file), so memory is bounded whatever its size; a CSV file
    is parsed once more for it (a Parquet file reads only those columns). Used
    to name the sessions of files whose subjects or sessions come from a
    column as a whole load names them
    (:func:`tinyhar.datasets.sessions.shared_session_names`).

    Raises
    ------
    ConfigError, DataFormatError
        A key column missing or unreadable, or a file name that does not match
        ``file_pattern`` (as :func:`load_custom`, naming the file). A row
        without a subject or session adds no pair: the file's own read reports
        it.
    """
    used = definition.columns.used()
    keys = {k: used[k] for k in ("subject", "session") if k in used}
    meta = meta_from_name(file, base_dir, pattern, definition)
    fmt = _file_format(definition, file)
    if not keys:
        return {(str(meta.get("subject")), str(meta.get("session")))}
    if fmt == "csv":  # (one key column: the parser keeps only it)
        batches: Iterator = _csv_chunks(definition, file, keys, only_used=len(keys) == 1)
    else:
        read = _read_parquet if fmt == "parquet" else _read_npy
        total = file_rows(definition, file) or 0
        batches = (read(file, keys, (a, min(a + BLOCK_ROWS, total)))
                   for a in range(0, total, BLOCK_ROWS))
    pairs: set[tuple[str, str]] = set()
    for raw in batches:
        subject, session = (_meta_column(raw, k, keys, meta, len(raw))
                            for k in ("subject", "session"))
        _, first = _pair_codes(subject, session)
        pairs.update((str(subject[r]), str(session[r])) for r in first  # (a row without
                     if subject.codes[r] >= 0 and session.codes[r] >= 0)  # one: its read's)
        del raw
    _ParquetColumns.release()
    return pairs


def iter_file_batches(
    definition: DatasetDefinition, file: Path, base_dir: Path, pattern: re.Pattern | None,
    batch_rows: int,
) -> Iterator[tuple[dict, str]]:
    """One file's rows in batches of at most ``batch_rows``, each read as :func:`_read_one`
    reads a whole file (no checks: the caller's; row and line numbers those of the file).

    Parquet and NPY batches are rows ``[start, stop)`` read from the file
    (one Parquet column chunk at a time; NPY memory-mapped); a CSV file is
    parsed ``batch_rows`` lines at a time (:func:`_csv_chunks`; blank lines
    dropped, so a batch may have fewer rows).

    With a ``gyro`` key each batch has its rows' gyroscope values
    (:class:`GyroJoin`: those of the whole read); a batch of which no row has
    one is not yielded.

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`load_custom`, for the batch being read.
    """
    join = GyroJoin.of(definition, base_dir, str(base_dir))
    if _file_format(definition, file) == "csv":
        for chunk in _csv_chunks(definition, file, definition.columns.used(), batch_rows):
            if len(chunk):
                batch = _read_one(definition, file, base_dir, pattern, chunk=chunk, join=join)
                if len(batch[0]["_line"]):  # (none: every row left out for want of a gyroscope)
                    yield batch
                del batch
            del chunk
        return
    total = file_rows(definition, file)
    for start in range(0, total, batch_rows):
        batch = _read_one(definition, file, base_dir, pattern,
                          rows=(start, min(start + batch_rows, total)), join=join)
        _ParquetColumns.release()  # before the batch is used: what reading it left in Arrow's pool
        if len(batch[0]["_line"]):
            yield batch
        del batch


def file_rows(definition: DatasetDefinition, file: Path) -> int | None:
    """Rows of a Parquet or NPY file, from its metadata or header (None for CSV: unknown
    before parsing).

    Raises
    ------
    DataFormatError
        If the file cannot be read, or has no rows (as a CSV file of a header
        alone: a file of no samples is refused in every format, by every read).
    """
    from pyarrow import ArrowException

    fmt = _file_format(definition, file)
    if fmt == "csv":
        return None
    try:
        if fmt == "parquet":
            with _open_parquet(file) as source:
                rows = int(source.metadata.num_rows)
        else:
            array = np.load(file, allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, ArrowException) as exc:
        raise DataFormatError(file, f"cannot read: {exc}") from exc
    if fmt != "parquet":
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            if not isinstance(array, np.ndarray):
                array.close()
            raise DataFormatError(
                file, "NPY arrays must be 2-D (rows = samples, columns = channels)")
        rows = int(array.shape[0])
    if rows == 0:
        raise _no_rows(file)
    return rows


_NO_ROWS = "no rows of samples; record again or remove it"
"""The end of the message of a file that holds no samples (in any format)."""


def _no_rows(file: Path) -> DataFormatError:
    """The error of a Parquet or NPY file of no rows (a CSV file's: :func:`_csv_chunks`)."""
    return DataFormatError(file, f"the file has {_NO_ROWS}")


def estimated_samples(yaml_path: str | Path,
                      files: list[Path] | None = None) -> tuple[int, int]:
    """Samples in a definition's files and its channels, estimated without reading the data.

    Parquet and NPY files: their rows (:func:`file_rows`: metadata, header).
    CSV files: their size over the mean length of the lines in their first
    64 kB (within a few per cent for files of similar lines). Compressed CSV
    files (``.csv.gz`` ...): their sizes times the rows per compressed byte
    of up to :data:`CSV_SAMPLED_FILES` of them, spread over the list, each
    decompressed for its first :data:`CSV_SAMPLE_BYTES` (within about 20 %:
    how well a recording compresses varies along it). A file that cannot be
    read counts as none (reading it reports the problem).

    Parameters
    ----------
    yaml_path : str or Path
        The dataset definition.
    files : list of Path, optional
        Its files where the caller has listed them already
        (:func:`resolve_files`); default: listed here.

    Returns
    -------
    samples : int
        Rows of all the definition's files.
    channels : int
        Acceleration and gyroscope channels the definition maps (3 or 6).

    Raises
    ------
    ConfigError
        If the definition is invalid or a pattern matches no file.
    """
    path = Path(yaml_path)
    definition = DatasetDefinition.from_yaml(path)
    channels = 6 if definition.has_gyro() else 3
    samples, compressed = 0, []
    if files is None:
        files = resolve_files(definition, path.parent, str(path))
    for file in files:
        try:
            rows = file_rows(definition, file)
            if rows is None and compression(file) is not None:
                compressed.append((file, file.stat().st_size))
            elif rows is None:  # plain CSV
                rows = _estimated_csv_rows(file)
        except (OSError, TinyharError):
            rows = 0
        samples += rows or 0
    if compressed:
        step = max(1, len(compressed) // CSV_SAMPLED_FILES)
        rows = size = 0
        for file, nbytes in compressed[::step][:CSV_SAMPLED_FILES]:
            try:
                rows += _estimated_csv_rows(file)
                size += nbytes
            except (OSError, EOFError, zipfile.BadZipFile):
                pass  # reading it reports the problem
        samples += int(sum(n for _, n in compressed) * rows / size) if size else 0
    return samples, channels


CSV_SAMPLE_BYTES = 1 << 20
"""Bytes of a compressed CSV file decompressed to estimate its rows
(:func:`_estimated_csv_rows`)."""

CSV_SAMPLED_FILES = 8
"""Compressed CSV files of a definition whose rows are estimated (:func:`estimated_samples`)."""


def _estimated_csv_rows(file: Path) -> int:
    """Rows of a CSV file from its first lines: its text's size over their mean length.

    A plain file's text is its size (the lines of its first 64 kB). A
    compressed one (:data:`~tinyhar.datasets.definition.COMPRESSIONS`) is
    decompressed for its first :data:`CSV_SAMPLE_BYTES` of file; its text's
    size is the file's size times the ratio measured there (exact for
    ``.zip``, whose directory records it).

    Raises
    ------
    OSError, EOFError, zipfile.BadZipFile
        The file cannot be read or decompressed.
    """
    kind = compression(file)
    size = file.stat().st_size
    if kind is None:
        with open(file, "rb") as handle:
            head = handle.read(65536)
        text_bytes = size
    elif kind == "zip":
        with zipfile.ZipFile(file) as archive:
            member = _zip_member(archive)
            if member is None:
                return 0
            with archive.open(member) as handle:
                head = handle.read(CSV_SAMPLE_BYTES)
            text_bytes = member.file_size
    else:
        head, text_bytes = _decompressed_head(file, kind, size)
    lines = head.count(b"\n")
    return int(text_bytes * lines // len(head)) if lines else 0


def head_lines(file: Path, n: int, encoding: str = "utf-8") -> list[str]:
    """The first ``n`` lines of a text file, decompressed when its name says so
    (:data:`~tinyhar.datasets.definition.COMPRESSIONS`; a ``.zip``: its first file).
    Undecodable bytes are replaced.

    Raises
    ------
    DataFormatError
        The file cannot be read or decompressed.
    """
    import io

    kind = compression(file)
    try:
        if kind == "zip":
            with zipfile.ZipFile(file) as archive:
                member = _zip_member(archive)
                if member is None:
                    return []
                with archive.open(member) as raw:
                    text = io.TextIOWrapper(raw, encoding, errors="replace", newline="")
                    return [line for _, line in zip(range(n), text, strict=False)]
        if kind is None:
            stream = open(file, encoding=encoding, errors="replace", newline="")
        else:
            import bz2
            import gzip

            module = {"gzip": gzip, "bz2": bz2, "xz": lzma}[kind]
            stream = module.open(file, "rt", encoding=encoding, errors="replace", newline="")
        with stream:
            return [line for _, line in zip(range(n), stream, strict=False)]
    except (OSError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        raise DataFormatError(file, f"cannot read: {exc}") from exc


def _zip_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo | None:
    """The first file of a ``.zip`` (the CSV file it compresses), or None when it holds none."""
    return next((m for m in archive.infolist() if not m.is_dir()), None)


def _decompressed_head(file: Path, kind: str, size: int) -> tuple[bytes, float]:
    """The text at the start of a gzip, bz2 or xz file and the size of its whole text,
    estimated from the ratio of text to compressed bytes in its first
    :data:`CSV_SAMPLE_BYTES` (measured where the decompressor last gave text: bz2 gives
    a block of 900 kB at a time). A file read to its end gives its exact size."""
    import bz2

    make = {"gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16),
            "bz2": bz2.BZ2Decompressor, "xz": lzma.LZMADecompressor}[kind]
    decompressor, head = make(), bytearray()
    fed = text_at = 0  # compressed bytes fed; of them, those when text last came out
    with open(file, "rb") as raw:
        while fed < CSV_SAMPLE_BYTES and len(head) < 16 * CSV_SAMPLE_BYTES:
            piece = raw.read(65536)
            if not piece:
                return bytes(head), float(len(head))  # all of it
            fed += len(piece)
            while piece:
                try:
                    text = decompressor.decompress(piece)
                except (zlib.error, lzma.LZMAError) as exc:  # bz2 raises OSError itself
                    raise OSError(str(exc)) from exc
                piece = decompressor.unused_data if decompressor.eof else b""
                if decompressor.eof:  # a file of several members (streams): the next
                    decompressor = make()
                if text:
                    head += text
                    text_at = fed
    return bytes(head), (size * len(head) / text_at if text_at else 0.0)


def _fill(
    target: np.ndarray, raw, canon: str, definition: DatasetDefinition, file: Path,
    line_of_row, where: str,
) -> None:
    """Read, check and convert one numeric column into ``target``, block by block.

    Raises
    ------
    DataFormatError
        A missing, non-numeric or infinite value, or a sensor value beyond
        the plausible range (naming the line or row).
    ConfigError
        Raw counts that are not integers.
    """
    used = definition.columns.used()
    dates = canon == "time" and definition.units.dates
    for start, values, original_of in _float_blocks(raw, canon, file, used, dates):
        bad = values == NAT_NS if dates else ~np.isfinite(values)
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            original = original_of(row)
            if isinstance(original, np.generic):  # inf, not np.float32(inf)
                original = original.item()
            fix = "fix or remove this row"
            if pd.isna(original):
                what = "missing"
                if isinstance(raw, _CsvColumns):
                    fix += (" (or, with a time column, set csv.drop_missing: true to leave out "
                            "every row missing a value, e.g. samples a sensor dropped)")
            elif dates and pd.notna(_parse_datetimes(pd.Series([original]))[0]):
                what = f"{original!r} is outside the date-times tinyhar reads (1678 to 2261)"
            elif dates:
                what = f"{original!r} is not an ISO 8601 date-time (e.g. 2016-11-13 02:18:00.01)"
            elif canon == "time" and pd.notna(_parse_datetimes(pd.Series([original]))[0]):
                what = f"{original!r} is a date-time, not a number"
                fix = "set units.time: datetime in the definition"
            else:
                what = f"{original!r} is not a finite number"
            raise DataFormatError(
                file, f"{canon} value {what}; {fix}",
                line=int(line_of_row[row]) if where == "line" else None,
                column=_column_label(used[canon], where, int(line_of_row[row])),
            )
        del bad
        try:
            values = _convert(values, canon, definition)
        except ConfigError as exc:
            raise ConfigError(f"{file}, column {used[canon]}: {exc}") from exc
        stop = start + len(values)
        if canon != "time":
            check_magnitude(values, file, canon, line_of_row[start:stop], where)
        target[start:stop] = values  # (float32 channels: rounded once, as before)


BLOCK_ROWS = 1 << 18
"""Rows converted at a time: the float64 temporaries of a column stay this size."""

CSV_CHUNK_ROWS = 1 << 18
"""Rows the CSV parser reads at a time."""


NS_PER_S = 1_000_000_000
"""Nanoseconds per second: date-times are read as int64 ns since the Unix epoch."""

NAT_NS = np.iinfo(np.int64).min
"""The int64 of a missing date-time (numpy's NaT)."""

_NS_PER_COUNT = {"s": NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}
"""Nanoseconds per count of each timestamp unit (Arrow's and numpy's)."""


def _parse_datetimes(column: pd.Series) -> pd.Series:
    """ISO 8601 text (or datetime64 values) as UTC date-times, NaT where none."""
    return pd.to_datetime(column, format="ISO8601", utc=True, errors="coerce")


def datetime_ns(column: pd.Series) -> np.ndarray:
    """Date-times as integer nanoseconds since the Unix epoch (1970-01-01 00:00 UTC).

    Parameters
    ----------
    column : pandas.Series, shape (n_rows,)
        ISO 8601 date-time text (``2016-11-13 02:18:00.010``, ``2016-11-13T02:18:00Z``,
        ``...+01:00``; ISO 8601 as :func:`pandas.to_datetime` reads it with
        ``format="ISO8601"``) or datetime64 values. An offset is converted to UTC;
        a date-time without one is taken as UTC.

    Returns
    -------
    numpy.ndarray of int64, shape (n_rows,)
        Exact to the nanosecond; :data:`NAT_NS` where a value is missing, not such
        a date-time, or outside what int64 ns hold (1677-09-21 to 2262-04-11).
    """
    stamps = _parse_datetimes(column).dt.tz_convert(None).to_numpy()
    return _counts_to_ns(stamps.view(np.int64), np.datetime_data(stamps.dtype)[0])


def _counts_to_ns(counts: np.ndarray, unit: str) -> np.ndarray:
    """int64 counts of a timestamp ``unit`` since the epoch (:data:`NAT_NS`: missing) as
    int64 ns; :data:`NAT_NS` where missing or beyond int64 ns."""
    per = _NS_PER_COUNT[unit]
    if per == 1:
        return counts
    limit = np.iinfo(np.int64).max // per
    out = counts * per  # (wraps where out of range: those are replaced)
    out[(counts == NAT_NS) | (counts > limit) | (counts < -limit)] = NAT_NS
    return out


def epoch_seconds(ns):
    """Integer nanoseconds (since the Unix epoch) as float64 seconds.

    Parameters
    ----------
    ns : int or numpy.ndarray of int64, shape (n,)
        :data:`NAT_NS` = missing.

    Returns
    -------
    float or numpy.ndarray of float64, shape (n,)
        The nearest float64 (whole seconds exact, the fraction added once: within
        1e-16 s of rounding once). A float64 holds a date of this century to
        2**-22 s (0.24 us; 2**-21 s from 2038): ample for clock times, which
        tinyhar writes to the millisecond. NaN where missing.
    """
    ns = np.asarray(ns, dtype=np.int64)
    whole, fraction = np.divmod(ns, NS_PER_S)
    out = np.where(ns == NAT_NS, np.nan, whole + fraction / NS_PER_S)
    return float(out) if out.ndim == 0 else out


def datetime_seconds(column: pd.Series) -> np.ndarray:
    """Date-times as seconds since the Unix epoch (1970-01-01 00:00 UTC).

    Parameters
    ----------
    column : pandas.Series, shape (n_rows,)
        As :func:`datetime_ns`.

    Returns
    -------
    numpy.ndarray, shape (n_rows,)
        float64 seconds (:func:`epoch_seconds` of :func:`datetime_ns`: about 0.2 us
        resolution for dates of this century); NaN where :func:`datetime_ns` has none.
    """
    return epoch_seconds(datetime_ns(column))


def read_seconds(time):
    """Time values as read (:func:`_float_blocks`) in float64 seconds.

    Parameters
    ----------
    time : numpy.ndarray or numpy scalar
        float64 s (a numeric time column), or int64 ns since the Unix epoch
        (date-times, ``units.time: datetime``).

    Returns
    -------
    numpy.ndarray of float64 or float
        Numbers as they are; date-times as seconds since the epoch (:func:`epoch_seconds`).
    """
    return epoch_seconds(time) if np.asarray(time).dtype.kind == "i" else time


def file_origins(definition: DatasetDefinition, file: Path) -> dict[str, float] | None:
    """The session origins a tinyhar Parquet recording stores, when ``definition`` reads it
    as written (its ``time`` column, in s: the definition tinyhar writes for such files).

    The definition reads the rows, not the file's metadata: these origins (clock times,
    :func:`tinyhar.datasets.recording.stored_origins`) are what its sessions keep
    (:func:`_assemble_sessions`; per batch, :mod:`tinyhar.datasets.sessions`).

    Returns
    -------
    dict of str -> float or None
        Stored session id -> s since the Unix epoch; None for other files and
        definitions (date-times give their own origins).

    Raises
    ------
    DataFormatError
        Stored origins that are not numbers.
    """
    if (definition.units.dates or definition.units.time != "s"
            or definition.columns.time != "time" or _file_format(definition, file) != "parquet"):
        return None
    return stored_origins(file)


def time_column(n: int, definition: DatasetDefinition) -> np.ndarray:
    """An empty time column of ``n`` rows as read (:func:`_float_blocks`): int64 ns since the
    Unix epoch for date-times (``units.time: datetime``), else float64 s."""
    return np.empty(n, np.int64 if definition.units.dates else np.float64)


def time_since(time: np.ndarray, first) -> np.ndarray:
    """Time from a session's first time stamp, in float64 s, of times as read.

    Parameters
    ----------
    time : numpy.ndarray, shape (n,)
        float64 s, or int64 ns since the Unix epoch (date-times).
    first : float or int
        The session's first time stamp, as ``time`` has it.

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        ``time - first``; date-times subtracted in integer ns, then converted once
        (``/ 1e9``: the float64 nearest to the exact time, as exact as a numeric time
        column, for sessions shorter than 2**53 ns = 104 days).
    """
    if time.dtype.kind == "i":
        return (time - first) / NS_PER_S
    return time - first


def _numbers_not_dates(file: Path, canon: str, kind: str, column: str) -> DataFormatError:
    return DataFormatError(
        file, f"{canon}: units.time is datetime, but the column holds numbers ({kind}); "
        "give their unit instead (units.time: s, ms, us or ns)", column=column)


def _float_blocks(raw, canon: str, file: Path, used: dict[str, ColumnRef],
                  dates: bool = False):
    """``(first_row, float64 values, original_of)`` of one column, :data:`BLOCK_ROWS` rows
    at a time; ``original_of(row)`` is the value of a row of this block as the file has it.

    Parquet numeric columns are read batch by batch (the file's column is
    never whole in memory); other columns are parsed with
    :func:`pandas.to_numeric` first (missing or text = NaN). A CSV column's
    parsed chunks are freed one by one as they are converted. With ``dates``
    (``units.time: datetime``) the column holds date-times: the values are int64
    ns since the Unix epoch instead (:func:`datetime_ns`, :data:`NAT_NS` where
    none; Parquet timestamps batch by batch), so that the time from a session's
    start is exact (:func:`time_since`).

    Raises
    ------
    DataFormatError
        If the column does not hold numbers (or, with ``dates``, holds numbers; without,
        Parquet timestamps).
    """
    def whole(row: int):  # (reads the column again: only for an error message)
        return raw[canon].iloc[row]

    if isinstance(raw, _ParquetColumns):
        blocks = raw.float_blocks(canon, dates)
        if blocks is not None:
            for start, values in blocks:
                yield start, values, whole
            return
    pieces = raw.take(canon) if isinstance(raw, _CsvColumns) else iter([raw[canon]])
    offset = 0
    for column in pieces:
        def original_of(row: int, column=column, offset=offset):
            return column.iloc[row - offset]

        if dates:
            if pd.api.types.is_numeric_dtype(column.dtype) and len(column):
                raise _numbers_not_dates(file, canon, str(column.dtype), str(used[canon]))
            values = datetime_ns(column)
            for start in range(0, len(values), BLOCK_ROWS):
                yield offset + start, values[start : start + BLOCK_ROWS], original_of
            offset += len(values)
            del values, column, original_of
            continue
        if pd.api.types.is_float_dtype(column.dtype) and isinstance(column.dtype, np.dtype):
            values = column.to_numpy()  # (float32 from the CSV parser: widened block by block)
            for start in range(0, len(values), BLOCK_ROWS):
                yield (offset + start, values[start : start + BLOCK_ROWS].astype(np.float64),
                       original_of)
            offset += len(values)
            del values, column, original_of
            continue
        try:
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise DataFormatError(
                file, f"{canon}: the column does not hold numbers ({column.dtype}: "
                f"{exc}); point columns.{canon} at a numeric column",
                column=str(used[canon]),
            ) from exc
        for start in range(0, len(values), BLOCK_ROWS):
            yield offset + start, values[start : start + BLOCK_ROWS], original_of
        offset += len(values)
        del values, column, original_of


class _Lines:
    """The 1-based line (CSV) or row of each sample, stored only where it is not the row.

    ``parts`` are ``range`` objects (consecutive numbers: a file's rows, or
    CSV lines without blank ones) or arrays. ``lines[i]`` is one number;
    ``lines[array]`` and :meth:`array` build the numbers (only when rows
    are reordered or an error is reported).
    """

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.starts = np.cumsum([0, *(len(p) for p in parts)])

    @classmethod
    def of(cls, numbers) -> _Lines:
        """One file's numbers (a range or an array)."""
        return cls([numbers])

    @classmethod
    def join(cls, pieces: list[_Lines]) -> _Lines:
        """The numbers of several files, one after the other."""
        return cls([p for piece in pieces for p in piece.parts])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def array(self) -> np.ndarray:
        """Every number (int32, or int64 beyond its range)."""
        wide = any(len(p) and max(p[0], p[-1]) >= np.iinfo(np.int32).max for p in self.parts)
        kind = np.int64 if wide else np.int32
        return np.concatenate([np.asarray(p, dtype=kind) if not isinstance(p, range)
                               else np.arange(p.start, p.stop, p.step, dtype=kind)
                               for p in self.parts]) if self.parts else np.zeros(0, kind)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            part = int(np.searchsorted(self.starts, key, side="right")) - 1
            return self.parts[part][int(key) - int(self.starts[part])]
        return _Lines.of(self.array()[key])


def _text_column(column: pd.Series) -> pd.Categorical:
    """A label/subject/session column as stripped strings (numeric codes 1.0 -> "1").

    Works on the column's distinct values, so no string is made per row.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, uniques = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, uniques = pd.factorize(column)
    return _text_of(codes, uniques, pd.api.types.is_float_dtype(column.dtype))


def _text_of(codes: np.ndarray, uniques, numbers: bool) -> pd.Categorical:
    """:func:`_text_column` of a column given as ``codes`` (-1: missing) into its distinct
    values ``uniques`` (an Index or array, or a list of Python objects: as an ``object``
    Index); ``numbers``: the column holds floats."""
    if all(type(u) is str for u in uniques):  # text (as pandas strips it, without a Series)
        text = np.array([u.strip() for u in uniques], dtype=object)
    else:
        if isinstance(uniques, list):
            uniques = pd.Index(uniques, dtype=object)
        uniques = pd.Series(uniques)
        text = uniques.astype("string").str.strip()
        if numbers:
            # numeric codes: 1.0 -> "1"
            if (uniques == np.round(uniques)).all() and (uniques.abs() < 2.0**53).all():
                text = uniques.astype("Int64").astype("string")
    merged, words = pd.factorize(text)  # values equal once stripped share a code
    small = np.int8 if len(words) < 127 else np.int32
    lookup = np.r_[merged, -1].astype(small)  # code -1 (missing) takes the last entry
    return pd.Categorical.from_codes(
        _remap(codes, lookup), dtype=str_categories(tuple(str(w) for w in words)),
    )


def _remap(codes: np.ndarray, lookup: np.ndarray) -> np.ndarray:
    """``lookup[codes]`` (code -1 takes the last entry); ``codes`` itself where that is the
    same (no second array per row). Only for codes that nothing else holds."""
    if (codes.dtype == lookup.dtype and lookup[-1] == -1
            and np.array_equal(lookup[:-1], np.arange(len(lookup) - 1))):
        return codes
    return lookup[codes]


def _distinct(codes: np.ndarray) -> np.ndarray:
    """The distinct values of ``codes``, sorted (``numpy.unique`` a chunk at a time, without
    a sorted copy of the whole column)."""
    step = BLOCK_ROWS
    found = {int(c) for a in range(0, len(codes), step) for c in np.unique(codes[a : a + step])}
    return np.array(sorted(found), dtype=codes.dtype)


def _categorical(text: pd.Series) -> pd.Categorical:
    """Strings (missing = NA) as a categorical with ``str`` categories."""
    values = pd.Categorical(text)
    return pd.Categorical.from_codes(
        values.codes, dtype=str_categories(tuple(str(c) for c in values.categories))
    )


def _concat_parts(parts: list[dict]) -> dict:
    """Join the files' columns, one column at a time (each file's copy freed as it goes)."""
    if len(parts) == 1:
        return parts[0]
    from pandas.api.types import union_categoricals

    out: dict = {}
    for name in list(parts[0]):
        pieces = [part.pop(name) for part in parts]
        if isinstance(pieces[0], _Lines):
            out[name] = _Lines.join(pieces)
        elif isinstance(pieces[0], pd.Categorical):
            out[name] = union_categoricals(pieces)
        else:
            out[name] = np.concatenate(pieces)
        del pieces
    return out


def _column_label(ref: ColumnRef, where: str, number: int) -> str:
    text = f"{ref}" if isinstance(ref, str) else f"#{ref} (0-based)"
    return text if where == "line" else f"{text} at row {number}"


def _convert(values: np.ndarray, canon: str, definition: DatasetDefinition) -> np.ndarray:
    if canon == "time":  # (date-times are int64 ns already: _float_blocks)
        units = definition.units
        return values if units.dates else values * TIME_UNITS[units.time]
    is_acc = canon.startswith(("acc", "gravity"))
    unit = definition.units.acc if is_acc else definition.units.gyro
    target = "g" if is_acc else "rad/s"
    # flip: the axis points the other way (iOS against Android); gravity added to a flipped
    # acc_* axis is flipped with it
    sign = -1.0 if canon.replace("gravity", "acc") in definition.flip else 1.0
    if isinstance(unit, RawCounts):
        if not np.array_equal(values, np.round(values)):
            raise ConfigError(
                f"units.{'acc' if is_acc else 'gyro'}: raw counts must be integers, but "
                f"{canon} has fractional values; give a physical unit instead"
            )
        physical = counts_to_physical(values.astype(np.int64), unit.full_scale, unit.bits)
        return sign * to_canonical(physical, unit.unit or ("g" if is_acc else "deg/s"), target)
    return sign * to_canonical(values, unit, target)


def pattern_match(pattern: re.Pattern, file: Path) -> re.Match | None:
    """``file_pattern`` matched against a file's name, or, when the pattern holds a ``/``,
    against the shortest end of its path (folders and name) that it matches whole.

    ``(?P<label>[a-z]+)_\\d+/sub_(?P<subject>\\d+)\\.csv`` reads label and subject
    of ``A_DeviceMotion_data/wlk_7/sub_1.csv`` (MotionSense: the activity in the
    folder's name).
    """
    if "/" not in pattern.pattern:
        return pattern.fullmatch(file.name)
    parts = file.parts
    for k in range(2, len(parts) + 1):
        match = pattern.fullmatch("/".join(parts[-k:]))
        if match is not None:
            return match
    return None


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
        match = pattern_match(pattern, file)
        if match is None:
            what = "file name" if "/" not in pattern.pattern else "end of the path"
            raise DataFormatError(
                file,
                f"{what} {file.name!r} does not match file_pattern {pattern.pattern!r}; "
                f"rename the file or change the pattern (it must match the whole {what}"
                + ("; a pattern with '/' matches folders and name" if "/" in pattern.pattern
                   else "") + ")",
            )
        meta.update({k: v for k, v in match.groupdict().items() if v is not None})
    if meta.get("session") is None and definition.columns.session is None:
        try:
            rel = file.relative_to(base_dir)
        except ValueError:
            rel = file
        meta["session"] = rel.with_name(stem(rel)).as_posix()
    return meta


def _read_csv(
    definition: DatasetDefinition, file: Path, used: dict[str, ColumnRef]
) -> tuple[_CsvColumns, np.ndarray | range]:
    """Read a CSV file with pandas, a chunk at a time (:func:`_csv_chunks` joined).

    Rows that do not fit the header are errors naming their line.
    """
    chunks = list(_csv_chunks(definition, file, used))
    raw = _CsvColumns({canon: [p for c in chunks for p in c.pieces[canon]] for canon in used},
                      [n for c in chunks for n in c.lines], whole_file=len(chunks) <= 1)
    del chunks
    return raw, raw.line_of_row()


def _csv_chunks(
    definition: DatasetDefinition, file: Path, used: dict[str, ColumnRef],
    chunk_rows: int = CSV_CHUNK_ROWS, only_used: bool = False,
) -> Iterator[_CsvColumns]:
    """The used columns of a CSV file, ``chunk_rows`` lines at a time (each a :class:`_CsvColumns`
    numbering the chunk's rows by their lines in the file).

    Channels already in g or rad/s are parsed straight to float32; a channel
    holding text makes that fail, and the file is parsed on from the failing
    chunk without it (the value's error then names its line). ``only_used``
    (with one used column): the parser keeps only that column (faster; a row
    with a wrong number of fields is then not always found).

    Raises
    ------
    ConfigError
        Column names without a header.
    DataFormatError
        A missing column, a row whose fields do not fit the header (naming its
        line), an empty file or one without rows, a file that cannot be read.
    """
    opts = definition.csv
    refs = list(dict.fromkeys(used.values()))
    if not opts.header and any(isinstance(r, str) for r in refs):
        raise ConfigError(
            f"columns: csv.header is false, so columns must be 0-based positions, got "
            f"{ {k: v for k, v in used.items() if isinstance(v, str)} }"
        )
    text_cols = {used[k] for k in META_FIELDS if k in used}
    # channels already in g or rad/s: parsed straight to float32 (the same rounding of the
    # parsed double as converting afterwards, and half the memory of float64 columns)
    identity = {"acc": definition.units.acc == "g", "gyro": definition.units.gyro == "rad/s"}
    float32_cols = {ref for canon, ref in used.items()
                    if canon in ACC_CHANNELS + GYRO_CHANNELS and identity[canon.split("_")[0]]}
    float32_cols -= text_cols
    first_data_line = opts.skip_rows + (2 if opts.header else 1)
    # csv.drop_missing: rows missing time or a sensor value are left out of every read of the
    # file (whichever columns it wants), so that all reads keep the same rows
    checked = list(dict.fromkeys(
        ref for k, ref in definition.columns.used().items() if k not in META_FIELDS
    )) if opts.drop_missing else []
    only_used = only_used and not checked
    dropped = {"rows": 0, "line": None}  # rows left out by drop_missing, the first one's line

    def parse(floats: set, skip: int) -> Iterator[_CsvColumns]:
        reader = pd.read_csv(
            file, sep=opts.delimiter, header=0 if opts.header else None,
            skiprows=opts.skip_rows, decimal=opts.decimal, encoding=opts.encoding,
            comment=opts.comment, skip_blank_lines=False, index_col=False, engine="c",
            chunksize=chunk_rows,
            dtype={**{c: np.float32 for c in floats},
                   **{c: "category" for c in text_cols}} or None,  # no string per row
            usecols=refs if only_used else None,
        )
        line = first_data_line
        with reader:
            chunks = iter(reader)
            for index in itertools.count():
                with warnings.catch_warnings():  # (not across the yield below)
                    warnings.simplefilter("error", pd.errors.ParserWarning)
                    chunk = next(chunks, None)  # the parser never holds the whole file
                if chunk is None:
                    break
                if index == 0 and len(chunk) and not only_used:
                    _check_csv_columns(chunk, refs, file, opts)
                numbers = range(line, line + len(chunk))
                line += len(chunk)
                if index < skip:
                    continue
                selected = pd.DataFrame(
                    {canon: chunk.iloc[:, 0] if only_used else chunk.iloc[:, ref]
                     if isinstance(ref, int) else chunk[ref] for canon, ref in used.items()},
                    copy=False,
                )
                blank = selected.isna().all(axis=1).to_numpy()
                if checked:
                    missing = pd.DataFrame({r: chunk.iloc[:, r] if isinstance(r, int) else chunk[r]
                                            for r in checked}).isna().any(axis=1).to_numpy()
                    gone = np.flatnonzero(missing & ~blank)
                    if gone.size and dropped["line"] is None:
                        dropped["line"] = int(numbers[gone[0]])
                    dropped["rows"] += int(gone.size)
                    blank = blank | missing
                if blank.any():
                    selected = selected.loc[~blank]
                    numbers = np.flatnonzero(~blank) + numbers.start
                # each its own copy: a column is freed once converted
                yield _CsvColumns({canon: [selected[canon].reset_index(drop=True).copy()]
                                   for canon in used}, [numbers])
                del chunk, selected

    done = lines = 0
    source = parse(float32_cols, 0)
    while True:
        try:
            try:
                piece = next(source)
            except DataFormatError:
                raise
            except ValueError:  # text in a channel: parse on without float32 for its line
                if not float32_cols:
                    raise
                float32_cols = set()
                source = parse(float32_cols, done)
                continue
        except StopIteration:
            break
        except DataFormatError:
            raise
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
                    f"this row has {match.group(3)} fields, the header {match.group(1)}; fix "
                    f"the row or the delimiter (csv.delimiter is {opts.delimiter!r})",
                    line=int(match.group(2)) + opts.skip_rows,
                ) from exc
            raise DataFormatError(file, f"cannot parse as CSV: {exc}") from exc
        except (OSError, EOFError, zlib.error, lzma.LZMAError, UnicodeError, ValueError,
                LookupError) as exc:  # EOFError, zlib, lzma: a compressed file cut short
            raise DataFormatError(file, f"cannot read as CSV: {exc}") from exc
        done += 1
        lines += piece.n_lines
        yield piece
        del piece
    if lines == 0:
        raise DataFormatError(
            file, f"the file has a header but {_NO_ROWS}",
            line=first_data_line,
        )
    _warn_dropped(file, dropped, used)


def _warn_dropped(file: Path, dropped: dict, used: dict[str, ColumnRef]) -> None:
    """One warning for the rows ``csv.drop_missing`` left out of a file (from the read of its
    sensors, not from the scans of its time or subject column alone)."""
    if dropped["rows"] and any(k not in META_FIELDS and k != "time" for k in used):
        warnings.warn(
            f"{file}: {dropped['rows']} row(s) with a missing time or sensor value left out "
            f"(csv.drop_missing), the first at line {dropped['line']}; windows may span the "
            "gaps they leave", UserWarning, stacklevel=2)


def _check_csv_columns(chunk: pd.DataFrame, refs: list, file: Path, opts) -> None:
    """Refuse column names or positions that the file does not have."""
    missing = [r for r in refs if isinstance(r, str) and r not in chunk.columns]
    missing += [r for r in refs if isinstance(r, int) and not 0 <= r < chunk.shape[1]]
    if missing:
        raise DataFormatError(
            file,
            f"columns {missing} are not in the file (it has {list(chunk.columns)}); fix "
            "'columns' in the definition, or csv.delimiter / csv.header",
            line=opts.skip_rows + 1 if opts.header else None,
        )


class _CsvColumns:
    """The used columns of a CSV file as the parser's chunks (one Series per chunk and column).

    ``columns[canon]`` joins a column's chunks (text: categoricals with the
    union of their categories); :meth:`drop` frees a column once converted.
    """

    def __init__(self, pieces: dict[str, list[pd.Series]], lines: list,
                 whole_file: bool = False) -> None:
        self.pieces, self.lines = pieces, lines
        self.whole_file = whole_file  # a whole file of one chunk (no trims: :meth:`_trim`)
        self.n_lines = sum(len(p) for p in lines)  # lines read, blank ones included
        self.n_rows = sum(len(p) for p in next(iter(pieces.values()))) if pieces else 0

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, canon: str) -> pd.Series:
        parts = self.pieces[canon]
        if not parts:
            return pd.Series([], dtype=float)
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            from pandas.api.types import union_categoricals

            return pd.Series(union_categoricals([p.array for p in parts]))
        return pd.concat(parts, ignore_index=True)

    def text(self, canon: str) -> pd.Series:
        """A text column's chunks (categoricals) joined into one categorical, each chunk freed
        as soon as its codes are copied (``columns[canon]`` would hold both at once)."""
        parts = self.pieces[canon]
        self.pieces[canon] = []
        if not parts or not all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            self.pieces[canon] = parts
            return self[canon]
        words: dict = {}  # category -> code, in order of appearance
        codes = np.empty(self.n_rows, np.int8)
        start = 0
        while parts:
            piece = parts.pop(0).array
            lookup = np.array([words.setdefault(w, len(words)) for w in piece.categories] + [-1],
                              np.int32)
            if len(words) >= 127 and codes.dtype == np.int8:
                codes = codes.astype(np.int32)
            codes[start : start + len(piece)] = lookup[piece.codes]
            start += len(piece)
            del piece
        self._trim()
        return pd.Series(pd.Categorical.from_codes(
            codes, categories=pd.Index(list(words), dtype=object)), copy=False)

    def take(self, canon: str):
        """A column's chunks one after the other, each freed (back to the system) once the
        caller asks for the next: the column is never held twice while it is converted."""
        parts = self.pieces[canon]
        self.pieces[canon] = []
        while parts:
            piece = parts.pop(0)
            yield piece
            del piece
            self._trim()

    def drop(self, canon: str) -> None:
        """Free a column's chunks (after it was converted), back to the system."""
        self.pieces[canon] = []
        self._trim()

    def _trim(self) -> None:
        """Hand freed chunks back to the system (:func:`trim_heap`), unless this is a whole
        file of one chunk (:data:`CSV_CHUNK_ROWS` rows at most): its few freed columns are
        reused by the next file, and a trim per column is a fixed cost that dominates for
        many short files."""
        if not self.whole_file:
            trim_heap()

    def line_of_row(self) -> range | np.ndarray:
        """The 1-based line of each row: a range without blank lines, else an array."""
        if all(isinstance(p, range) for p in self.lines):
            return range(self.lines[0].start, self.lines[-1].stop)
        return np.concatenate([np.asarray(p, dtype=np.int64) for p in self.lines])


class _ParquetColumns:
    """The used columns of a Parquet file, each read when asked for (one in memory at a time).

    ``columns[canon]`` is the column as :func:`pandas.read_parquet` gives it;
    :meth:`float_blocks` reads a numeric column straight to float64 and
    :meth:`text_codes` a text column to codes. With ``table`` (a small file's
    used columns, read at once: :data:`WHOLE_READ_ROWS`) numeric and text
    columns come from it, in the same form.
    """

    def __init__(self, file: Path, resolved: dict[str, str], n_rows: int,
                 rows: tuple[int, int] | None = None, schema=None, table=None) -> None:
        self.file, self.resolved, self.rows = file, resolved, rows
        self.n_rows = n_rows if rows is None else rows[1] - rows[0]
        self.schema = schema  # the file's Arrow schema (read when None)
        self.table = table  # the used columns, read at once (a small file), or None

    def _kind(self, name: str):
        """The Arrow type of the file's column ``name``."""
        import pyarrow.parquet as pq

        if self.schema is None:
            self.schema = pq.read_schema(self.file)
        return self.schema.field(name).type

    def _arrays(self, name: str, **options):
        """The column ``name`` as Arrow arrays: the chunks of :attr:`table` (a small file
        read at once), else read batch by batch (:meth:`_column_batches`)."""
        if self.table is not None:
            yield from self.table.column(name).chunks
            return
        source = _open_parquet(self.file, **options)
        try:
            yield from self._column_batches(source, name)
        finally:
            source.close()

    def __len__(self) -> int:
        return self.n_rows

    def _read(self, canon: str) -> pd.Series:
        """A whole column (only the rows ``self.rows`` when set) as pandas reads it."""
        import pyarrow as pa
        from pyarrow import ArrowException

        name = self.resolved[canon]
        try:
            if self.rows is None:
                return pd.read_parquet(self.file, columns=[name])[name]
            source = _open_parquet(self.file)
            kind = source.schema_arrow.field(name).type
            return pa.chunked_array(list(self._column_batches(source, name)), kind).to_pandas()
        except (OSError, ValueError, TypeError, ArrowException) as exc:
            raise DataFormatError(self.file, f"cannot read as Parquet: {exc}") from exc

    def _column_batches(self, source, name: str):
        """One column of ``source`` (a ``pyarrow.parquet.ParquetFile``) as Arrow arrays of
        at most :data:`BLOCK_ROWS` rows, only the rows ``self.rows`` when set.

        What the reader freed goes back to the system after each batch (Arrow's
        allocator would keep it until the column is done).
        """
        meta = source.metadata
        start, stop = (0, meta.num_rows) if self.rows is None else self.rows
        if stop <= start:
            return
        ends = np.cumsum([meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, stop - 1, side="right"))
        at = int(ends[first - 1]) if first else 0  # file row of the next batch's first row
        for batch in source.iter_batches(batch_size=BLOCK_ROWS, columns=[name], use_threads=False,
                                         row_groups=list(range(first, last + 1))):
            lo, hi = max(start - at, 0), min(stop - at, batch.num_rows)
            if hi > lo:
                yield batch.column(0).slice(lo, hi - lo)
            at += batch.num_rows
            del batch
            self.release()
            if at >= stop:
                break

    @staticmethod
    def release() -> None:
        """Hand the memory of read columns back to the system (Arrow's pool keeps it)."""
        import pyarrow as pa

        pa.default_memory_pool().release_unused()

    def __getitem__(self, canon: str) -> pd.Series:
        from pyarrow import ArrowException

        parts = self.text_codes(canon)
        if parts is None:
            try:
                return self._read(canon)
            except (OSError, ValueError, KeyError, ArrowException) as exc:
                raise DataFormatError(self.file, f"cannot read as Parquet: {exc}") from exc
        codes, words = parts
        return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(words, dtype=object)))

    def text_codes(self, canon: str) -> tuple[np.ndarray, list] | None:
        """A text (string or dictionary) column as ``(codes, words)``: int8 codes (int32
        from 127 words), shape ``(n_rows,)``, -1 for nulls, into the distinct values in the
        order the file's dictionaries give them; None for a column of another type.

        Raises
        ------
        DataFormatError
            If the column cannot be read.
        """
        import pyarrow as pa
        from pyarrow import ArrowException

        name = self.resolved[canon]
        try:
            kind = self._kind(name)
            if not _is_text(kind):
                return None
            # text: batch by batch to one code per row (no str per row, no whole Arrow column)
            codes = np.empty(self.n_rows, np.int8)  # 1 byte per row up to 127 values
            words: dict = {}
            start = 0
            for column in self._arrays(name, read_dictionary=[name]):
                if not pa.types.is_dictionary(column.type):
                    column = column.dictionary_encode()
                lookup = np.array([-1 if w is None else words.setdefault(w, len(words))
                                   for w in column.dictionary.to_pylist()] + [-1], np.int32)
                if len(words) >= 127 and codes.dtype == np.int8:
                    codes = codes.astype(np.int32)
                indices = column.indices
                if indices.null_count:
                    indices = indices.fill_null(-1)
                indices = indices.to_numpy(zero_copy_only=False)
                codes[start : start + len(indices)] = lookup[indices]
                start += len(indices)
        except (OSError, ValueError, KeyError, ArrowException) as exc:
            raise DataFormatError(self.file, f"cannot read as Parquet: {exc}") from exc
        return codes, list(words)

    def float_blocks(self, canon: str, dates: bool = False):
        """A numeric (int, float, bool) column as float64 blocks (nulls NaN); None for others.

        Yields ``(first_row, values)`` for batches of :data:`BLOCK_ROWS` rows,
        read one after the other. With ``dates`` (``units.time: datetime``) a
        timestamp or text column instead, as int64 ns since the Unix epoch (UTC;
        naive timestamps taken as UTC; :data:`NAT_NS` where none), and None for others.

        Raises
        ------
        DataFormatError
            If the file cannot be read; a timestamp column without ``dates`` (naming the
            fix) or a numeric one with.
        """
        import pyarrow as pa
        from pyarrow import ArrowException

        name = self.resolved[canon]
        try:
            kind = self._kind(name)
        except (OSError, ValueError, KeyError, ArrowException) as exc:
            raise DataFormatError(self.file, f"cannot read as Parquet: {exc}") from exc
        numeric = (pa.types.is_floating(kind) or pa.types.is_integer(kind)
                   or pa.types.is_boolean(kind))
        if dates and numeric:
            raise _numbers_not_dates(self.file, canon, str(kind), name)
        if pa.types.is_timestamp(kind):
            if not dates:
                raise DataFormatError(
                    self.file, f"{canon}: the column holds date-times ({kind}) but units.time "
                    "is a number unit; set units.time: datetime in the definition", column=name)
            return self._batches(name, kind.unit)
        if dates:
            return self._batches(name, text_dates=True) if _is_text(kind) else None
        return self._batches(name) if numeric else None

    def _batches(self, name: str, unit: str | None = None, text_dates: bool = False):
        """``(first_row, float64 values)`` of a numeric column, or int64 ns since the Unix
        epoch: with ``unit`` of a timestamp column (its unit), with ``text_dates`` of a
        text column (:func:`datetime_ns`; both :data:`NAT_NS` where no date-time)."""
        import pyarrow as pa
        from pyarrow import ArrowException

        start = 0
        try:
            arrays = (self._arrays(name) if self.table is None  # (else at most BLOCK_ROWS
                      else [self.table.column(name).combine_chunks()])  # rows: one block)
            for column in arrays:
                if text_dates or unit is not None:
                    values = (datetime_ns(column.to_pandas()) if text_dates else _counts_to_ns(
                        column.cast(pa.int64()).fill_null(NAT_NS).to_numpy(), unit))
                    yield start, values
                    start += len(values)
                    continue
                if column.null_count:
                    column = column.cast(pa.float64(), safe=False)
                values = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
                yield start, values
                start += len(values)
        except (OSError, ValueError, ArrowException) as exc:
            raise DataFormatError(self.file, f"cannot read as Parquet: {exc}") from exc


def _open_parquet(file: Path, **options):
    """A ``pyarrow.parquet.ParquetFile`` that reads one column chunk as it is needed.

    Without pre-buffering (Arrow's default coalesces and reads ahead the
    column chunks of a row group, on its I/O threads), the reader holds one
    column chunk of one row group at a time.
    """
    import pyarrow.parquet as pq

    return pq.ParquetFile(file, pre_buffer=False, **options)


WHOLE_READ_ROWS = 1 << 16
"""A Parquet file of at most this many rows (65,536: 22 min at 50 Hz), read whole (not a
batch of a bigger file), has its used columns read in one call (one Arrow table: about
8 bytes per row and column more than reading a column at a time, at most 0.5 MB a column),
not column by column: the same columns and the same errors, without a reader per column
(about 1.5 ms a file: the cost that dominates for many short files). Bigger files are read
a column at a time, as they always were."""


def _is_text(kind) -> bool:
    """Whether an Arrow type is read as text (string or dictionary-encoded)."""
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(
        kind)


def _read_parquet(file: Path, used: dict[str, ColumnRef],
                  rows: tuple[int, int] | None = None) -> _ParquetColumns:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        source = pq.ParquetFile(file)  # (Arrow's pre-buffering: a small file in one read)
        schema = source.schema_arrow
        n_rows = source.metadata.num_rows
    except (OSError, ValueError, ArrowException) as exc:
        raise DataFormatError(file, f"cannot read as Parquet: {exc}") from exc
    try:
        return _parquet_columns(source, file, schema, n_rows, used, rows)
    finally:
        source.close()


def _parquet_columns(source, file: Path, schema, n_rows: int, used: dict[str, ColumnRef],
                     rows: tuple[int, int] | None) -> _ParquetColumns:
    """:func:`_read_parquet` once the file is open (``source``, a ``ParquetFile``)."""
    from pyarrow import ArrowException

    names = schema.names
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
    table = None
    if rows is None and n_rows <= WHOLE_READ_ROWS:
        try:  # (text columns as strings: made codes chunk by chunk, as batch by batch)
            table = source.read(columns=list(dict.fromkeys(resolved.values())),
                                use_threads=False, use_pandas_metadata=False)
        except (OSError, ValueError, ArrowException):
            table = None  # read column by column: the error where that read meets it
    return _ParquetColumns(file, resolved, n_rows, rows, schema, table)


def _read_npy(file: Path, used: dict[str, ColumnRef],
              rows: tuple[int, int] | None = None) -> pd.DataFrame:
    """The used columns of an NPY file (only the rows ``[start, stop)`` when given: the file is
    then memory-mapped, and only those rows are read)."""
    try:
        array = np.load(file, allow_pickle=False, mmap_mode=None if rows is None else "r")
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
        out[canon] = array[:, ref] if rows is None else np.array(array[rows[0] : rows[1], ref])
    return pd.DataFrame(out, copy=False)


def _assemble_sessions(
    columns: dict, definition: DatasetDefinition, files: list[Path], wheres: list[str],
    checks: DataChecks, prefix: bool = False, stored: list[dict | None] | None = None,
) -> dict:
    """Order rows by session, split restarted recordings, compute time, make ids unique
    (``prefix``: ``"<subject>-<session>"`` whether or not a name is shared here). With a
    date-time time column, ``"_origins"`` maps each session to its first time stamp; with
    ``stored`` (each file's :func:`file_origins`), to its file's origin of the session plus
    its first time (s)."""
    subject, session = columns["subject"], columns["session"]
    dates = definition.units.dates
    carried = not dates and any(stored or ())  # tinyhar recordings with clock time
    if carried:
        columns["_stored"] = session  # (the session ids as stored, before renaming)
    if len(session) and session.codes.min() < 0:
        row = int(np.flatnonzero(session.codes < 0)[0])
        raise DataFormatError(
            files[int(columns["_file"][row])], "session is missing in this row",
            line=int(columns["_line"][row]),
        )
    pair, first_rows = _pair_codes(subject, session)
    owners = np.bincount(session.codes[first_rows], minlength=len(session.categories))
    if prefix or (owners > 1).any():  # a name used by several subjects: "<subject>-<session>"
        names = [f"{subject[r]}-{session[r]}" for r in first_rows]
        codes, unique = pd.factorize(np.array(names, dtype=object))
        columns["session"] = pd.Categorical.from_codes(
            codes[pair], categories=pd.Index([str(u) for u in unique], dtype="str")
        )
        pair = _pair_codes(subject, columns["session"])[0]
    columns["_key"] = pair
    del pair
    if definition.columns.time is None:
        if not _non_decreasing(columns["_key"]):
            columns = _take(columns, np.argsort(columns["_key"], kind="stable"))
        columns["time"] = _index_in_run(columns["_key"], definition.sampling_rate_hz)
        return columns
    if checks.time_order:
        # files of a session in the order of their first time stamp, rows in file order
        file = columns["_file"]
        starts = run_starts(file)
        first = np.zeros(len(files), columns["time"].dtype)
        first[file[starts]] = columns["time"][starts]
        runs = run_starts(columns["_key"], file)  # runs of one (session, file)
        order = (columns["_key"][runs], first[file[runs]], file[runs])
        if not _sorted_rows(order):  # rows of a run keep their order: sort only if needed
            columns = _take(columns, np.lexsort((file, first[file], columns["_key"])))
        del file, runs, order
        columns = _split_restarts(columns, files, wheres, dates)
    else:
        columns = _take(columns, np.lexsort((columns["time"], columns["_key"])))
    keys = columns["_key"]
    t = columns["time"]
    repeat = steps_where(len(keys), lambda a, b: (keys[a + 1 : b + 1] == keys[a:b])
                         & (t[a + 1 : b + 1] <= t[a:b]))
    if repeat.size:
        row = int(repeat[0]) + 1
        raise DataFormatError(
            files[int(columns["_file"][row])],
            f"time {time_text(t[row], dates)} repeats a sample of session "
            f"{columns['session'][row]!r}; remove duplicate samples",
            line=_line(columns, row, wheres),
            column=str(definition.columns.time),
        )
    starts = run_starts(keys)
    if dates:  # the clock time of each session's start
        columns["_origins"] = {str(columns["session"][a]): read_seconds(t[a]) for a in starts}
    elif carried:
        file, ids = columns["_file"], columns.pop("_stored")
        columns["_origins"] = {
            str(columns["session"][a]): stored[file[a]][str(ids[a])] + float(t[a])
            for a in starts if str(ids[a]) in (stored[file[a]] or {})} or None
    t = t if t.flags.writeable else t.copy()
    ends = np.r_[starts[1:], len(keys)][: len(starts)]
    if dates:  # int64 ns -> float64 s from the session start, in place (the same 8 bytes)
        out = t.view(np.float64)
        for a, b in zip(starts, ends, strict=True):
            first = t[a]
            for c in range(a, b, BLOCK_ROWS):
                out[c : min(c + BLOCK_ROWS, b)] = time_since(t[c : min(c + BLOCK_ROWS, b)], first)
        t = out
    else:
        for a, b in zip(starts, ends, strict=True):
            t[a:b] -= t[a]  # time from the session start, in place
    columns["time"] = t
    return columns


def _non_decreasing(values: np.ndarray) -> bool:
    """Whether ``values`` never decrease (already in sorted order)."""
    return not steps_where(len(values), lambda a, b: values[a + 1 : b + 1] < values[a:b]).size


def _sorted_rows(keys: tuple[np.ndarray, ...]) -> bool:
    """Whether the rows of these key columns (most significant first) are in lexsort order."""
    if len(keys[0]) < 2:
        return True
    ascending = np.zeros(len(keys[0]) - 1, bool)
    equal = np.ones(len(keys[0]) - 1, bool)
    for k in keys:
        ascending |= equal & (k[1:] > k[:-1])
        equal &= k[1:] == k[:-1]
    return bool(np.all(ascending | equal))


def _pair_codes(first: pd.Categorical, second: pd.Categorical) -> tuple[np.ndarray, np.ndarray]:
    """Number the ``(first, second)`` pairs of the rows in order of appearance.

    Returns the code of each row's pair and the first row of each pair.
    """
    a, b = first.codes, second.codes
    n = len(a)
    if not n:
        return np.zeros(0, np.int8), np.zeros(0, np.int64)
    runs = run_starts(a, b)  # runs of one pair (1 byte per row meanwhile)
    combined = a[runs].astype(np.int64) * (len(second.categories) + 1) + b[runs] + 1
    run_codes, _ = pd.factorize(combined)  # in order of appearance
    small = np.int8 if run_codes.max() < 127 else np.int32
    codes = np.repeat(run_codes.astype(small), np.diff(np.r_[runs, n]))
    _, first_of_code = np.unique(run_codes, return_index=True)  # codes count up from 0
    return codes, runs[first_of_code]


def _take(columns: dict, order: np.ndarray) -> dict:
    """Reorder every column by ``order`` (nothing copied when it is already the order)."""
    if np.array_equal(order, np.arange(len(order))):
        return columns
    return {name: values[order] for name, values in columns.items()}


def _index_in_run(keys: np.ndarray, rate: float) -> np.ndarray:
    """Time in s of 0, 1, 2, ... samples within each run of equal ``keys``, at ``rate`` Hz.

    Built in place in the float64 result (no index arrays per row).
    """
    out = np.arange(len(keys), dtype=np.float64)
    starts = run_starts(keys)
    for a, b in zip(starts, np.r_[starts[1:], len(keys)][: len(starts)], strict=True):
        out[a:b] -= a
    out /= rate
    return out


MIN_MEAN_PIECE = 10
"""Restarted pieces shorter than this on average (samples) mean the rows are shuffled."""


def _split_restarts(columns: dict, files: list[Path], wheres: list[str],
                    dates: bool = False) -> dict:
    """Start a new session (``<session>~2``, ...) where time goes back; warn once
    (``dates``: times are date-times, :func:`time_text`)."""
    keys = columns["_key"]
    t = columns["time"]
    rows = steps_where(len(keys), lambda a, b: (keys[a + 1 : b + 1] == keys[a:b])
                       & (t[a + 1 : b + 1] < t[a:b])) + 1
    if not rows.size:
        return columns
    back = np.zeros(len(keys), bool)
    back[rows] = True
    n_sessions = len(np.unique(keys))
    if len(keys) / (n_sessions + rows.size) < MIN_MEAN_PIECE:
        row = int(rows[0])
        raise DataFormatError(
            files[int(columns["_file"][row])],
            f"time goes back {rows.size} times (first from "
            f"{time_text(t[row - 1], dates)} to {time_text(t[row], dates)}"
            f"{_at(columns, row, wheres)}): the rows are not in time order. Sort each file by "
            "time; if its rows are merely out of order and must be sorted, "
            + switch_off_hint("time_order"),
            line=_line(columns, row, wheres),
        )
    piece = pd.Series(back.astype(np.int64)).groupby(keys).cumsum().to_numpy()
    suffix = np.where(piece > 0, "~" + (piece + 1).astype(str), "")
    old = np.asarray(columns["session"]).astype(str)
    names = pd.Series(old.astype(object) + suffix.astype(object), dtype="string")
    columns["session"] = _categorical(names)
    columns["_key"] = _pair_codes(columns["subject"], columns["session"])[0]
    warn_restarts(rows.size, [
        (f"{files[int(columns['_file'][r])]}{_at(columns, int(r), wheres)}",
         float(read_seconds(t[r - 1])), float(read_seconds(t[r])), str(columns["session"][r]))
        for r in rows[:_RESTARTS_SHOWN]
    ], stacklevel=5, dates=dates)
    return columns


_RESTARTS_SHOWN = 5


class RestartWarning(UserWarning):
    """The warning of :func:`warn_restarts`, with its parts.

    Attributes
    ----------
    count : int
        Restarts found.
    shown : list of (str, float, float, str)
        The first of them (at most 5): where (file, line or row), the time
        before and after the step back (s), and the new session's name.
    dates : bool
        The times are date-times (s since the Unix epoch, UTC).
    """

    def __init__(self, message: str, count: int = 0, shown: list | tuple = (),
                 dates: bool = False) -> None:
        super().__init__(message)
        self.count, self.shown, self.dates = count, list(shown), dates


def time_text(seconds, dates: bool = False) -> str:
    """A time for messages: ``"12.5 s"``, or with ``dates`` (s since the Unix epoch, or int64
    ns as read: :func:`read_seconds`) ISO 8601 UTC text to the millisecond
    (``"2016-11-13T02:18:00.010Z"``, :func:`utc_text`)."""
    seconds = read_seconds(seconds)
    if not dates:
        return f"{seconds:g} s"
    return str(utc_text(np.array([np.round(seconds * 1e3)]).astype("datetime64[ms]"))[0])


def warn_restarts(count: int, shown: list[tuple[str, float, float, str]],
                  stacklevel: int = 2, dates: bool = False) -> None:
    """Warn once that recordings restarted (time going back) ``count`` times.

    Parameters
    ----------
    count : int
        Restarts in the data set.
    shown : list of (str, float, float, str)
        The first restarts in row order (more than 5 are cut): where (file
        and line or row), time before and after the step back (s), the new
        session.
    stacklevel : int
        Passed to :func:`warnings.warn`.
    dates : bool
        The times are date-times (s since the Unix epoch): shown as such (:func:`time_text`).
    """
    text = "; ".join(f"{where}: {time_text(before, dates)} -> {time_text(after, dates)}, "
                     f"now session {session!r}"
                     for where, before, after, session in shown[:_RESTARTS_SHOWN])
    more = f"; and {count - _RESTARTS_SHOWN} more" if count > _RESTARTS_SHOWN else ""
    warnings.warn(RestartWarning(
        f"time goes back {count} time(s), so the recording restarted there: the rows from "
        f"each restart on form a new session ({text}{more}). If the rows are only out of "
        "order instead, sort the files by time, or " + switch_off_hint("time_order"),
        count, shown[:_RESTARTS_SHOWN], dates), stacklevel=stacklevel)


def _line(columns: dict, row: int, wheres: list[str]) -> int | None:
    """The 1-based CSV line of ``row`` (None for Parquet and NPY rows)."""
    line = wheres[int(columns["_file"][row])] == "line"
    return int(columns["_line"][row]) if line else None


def _at(columns: dict, row: int, wheres: list[str]) -> str:
    """', line N' or ', row N' for messages."""
    return f", {wheres[int(columns['_file'][row])]} {int(columns['_line'][row])}"


def _check_labels(
    columns: dict, definition: DatasetDefinition, files: list[Path], wheres: list[str]
) -> list[str]:
    """Map, ignore and check the labels (on their categories, not per row); the class list.

    The label column becomes codes into the class list (the categories
    :class:`RecordingSet` keeps), in one pass over the rows.
    """
    label = columns["label"]
    mapped = [definition.label_map.get(c, c) for c in label.categories]
    ignore = set(definition.ignore_labels)
    kept = [m for m in mapped if m not in ignore]
    categories = list(dict.fromkeys(kept))
    # category of each code (the last entry: code -1, missing), -1 where ignored
    position = np.array([categories.index(m) if m not in ignore else -1 for m in mapped] + [-1])
    present = position[_distinct(label.codes)]  # (code -1 takes the last entry)
    present = np.unique(present[present >= 0])
    if definition.classes is None:
        classes = sorted(categories[c] for c in present)
    else:
        classes = list(definition.classes)
        outside = np.array([c not in classes for c in categories] + [False])
        if outside[present].any():
            row = int(np.flatnonzero(outside[position[label.codes]])[0])
            where = wheres[int(columns["_file"][row])]
            number = int(columns["_line"][row])
            raise DataFormatError(
                files[int(columns["_file"][row])],
                f"label {categories[position[label.codes[row]]]!r}"
                f"{'' if where == 'line' else f' at row {number}'} "
                f"is not in classes {classes}; add it to 'classes', map it with 'label_map', "
                "or list it in 'ignore_labels' to keep its samples unlabelled",
                line=number if where == "line" else None,
                column=str(definition.columns.label) if definition.columns.label is not None
                else None,
            )
    index = {c: i for i, c in enumerate(classes)}
    small = np.int8 if len(classes) < 127 else np.int16 if len(classes) < 32767 else np.int32
    lookup = np.array([index.get(categories[p], -1) if p >= 0 else -1 for p in position],
                      dtype=small)  # (categories not in use may be outside the classes)
    columns["label"] = pd.Categorical.from_codes(
        _remap(label.codes, lookup), dtype=str_categories(tuple(classes)),
    )
    return classes
