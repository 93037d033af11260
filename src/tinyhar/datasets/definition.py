"""The schema of a dataset definition (the YAML file of your own recordings).

Pydantic models of every key a definition allows, checked when it is read
(:meth:`DatasetDefinition.from_yaml`); the keys and their meaning are
documented in :mod:`tinyhar.datasets.custom`, which reads the files a
definition describes.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tinyhar.datasets.checks import DataChecks
from tinyhar.datasets.recording import GYRO_CHANNELS, MAX_SAMPLING_RATE_HZ
from tinyhar.datasets.units import UNIT_FACTORS
from tinyhar.errors import ConfigError
from tinyhar.validation import format_validation_error

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
"""Allowed time units and their factor to seconds."""
ACC_UNITS = sorted(u for (u, t) in UNIT_FACTORS if t == "g")
GYRO_UNITS = sorted(u for (u, t) in UNIT_FACTORS if t == "rad/s")
META_FIELDS = ("subject", "session", "label")
GRAVITY_COLUMNS = ("gravity_x", "gravity_y", "gravity_z")
"""Columns of gravity (in the accelerometer's unit) added to ``acc_*`` given without it."""
WHITESPACE = r"\s+"
"""``csv.delimiter`` for columns separated by runs of spaces or tabs (aligned text tables)."""
_FORMATS = {
    ".csv": "csv", ".txt": "csv", ".tsv": "csv", ".dat": "csv", ".log": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".npy": "npy",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
"""Compressed CSV files read as they are (``P001.csv.gz``: pandas decompresses while
it parses; Python's own gzip, bz2, lzma and zipfile modules)."""


def data_suffix(path: str | Path) -> str:
    """The extension that names a file's format, lower case: ``.csv`` for ``P001.csv.gz``
    (the one before a :data:`COMPRESSIONS` extension), else the last one (``""`` without)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSIONS:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def compression(path: str | Path) -> str | None:
    """``gzip``, ``bz2``, ``xz`` or ``zip`` for a file named like a compressed file, else None."""
    return COMPRESSIONS.get(Path(path).suffix.lower())


def full_suffix(path: str | Path) -> str:
    """A file's extension as written, with its compression extension (``.csv.gz``)."""
    suffixes = Path(path).suffixes
    if len(suffixes) >= 2 and compression(path) is not None:
        return "".join(suffixes[-2:])
    return suffixes[-1] if suffixes else ""


def stem(path: str | Path) -> str:
    """A file's name without its extension and its compression extension (``P001``)."""
    name, suffix = Path(path).name, full_suffix(path)
    return name[: -len(suffix)] if suffix else name

ColumnRef = str | int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RawCounts(_Strict):
    """Raw signed integer counts: ``value = counts * full_scale / 2**(bits-1)`` in ``unit``."""

    full_scale: float = Field(gt=0, description="positive full-scale range, in `unit`")
    bits: int = Field(16, ge=8, le=32, description="resolution of the sensor output")
    unit: str | None = Field(None, description="unit of full_scale (default g / deg/s)")


class Units(_Strict):
    """Units of the time column and of the sensors."""

    time: Literal["s", "ms", "us", "ns", "datetime"] = Field(
        "s", description="numbers in s, ms, us or ns; or datetime: ISO 8601 date-time text "
        "or Parquet timestamps (UTC; each session's time counted exactly from its first time "
        "stamp, which it keeps as its clock origin)")
    acc: str | RawCounts = "g"
    gyro: str | RawCounts = "rad/s"

    @property
    def dates(self) -> bool:
        """Whether the time column holds date-times (``time: datetime``), not numbers."""
        return self.time == "datetime"

    @field_validator("acc")
    @classmethod
    def _check_acc(cls, value: str | RawCounts) -> str | RawCounts:
        return _check_unit(value, ACC_UNITS, "g")

    @field_validator("gyro")
    @classmethod
    def _check_gyro(cls, value: str | RawCounts) -> str | RawCounts:
        return _check_unit(value, GYRO_UNITS, "deg/s")


def _check_unit(value: str | RawCounts, allowed: list[str], default: str) -> str | RawCounts:
    unit = value if isinstance(value, str) else (value.unit or default)
    if unit.strip() not in allowed:
        raise ValueError(
            f"unknown unit {unit!r}; allowed: {allowed}, or raw counts as "
            "{full_scale: F, bits: B, unit: U}"
        )
    return value


class Columns(_Strict):
    """Canonical name -> the file's column (name, or 0-based position)."""

    time: ColumnRef | None = None
    acc_x: ColumnRef
    acc_y: ColumnRef
    acc_z: ColumnRef
    gyro_x: ColumnRef | None = None
    gyro_y: ColumnRef | None = None
    gyro_z: ColumnRef | None = None
    gravity_x: ColumnRef | None = None
    gravity_y: ColumnRef | None = None
    gravity_z: ColumnRef | None = None
    label: ColumnRef | None = None
    subject: ColumnRef | None = None
    session: ColumnRef | None = None

    @model_validator(mode="after")
    def _gyro_all_or_none(self) -> Columns:
        for group in (GYRO_CHANNELS, GRAVITY_COLUMNS):
            given = [c for c in group if getattr(self, c) is not None]
            if given and len(given) != 3:
                raise ValueError(f"give all of {list(group)} or none (got {given})")
        return self

    @model_validator(mode="after")
    def _one_column_each(self) -> Columns:
        by_column: dict[ColumnRef, list[str]] = {}
        for name, ref in self.used().items():
            by_column.setdefault(ref, []).append(name)
        shared = {ref: names for ref, names in by_column.items() if len(names) > 1}
        if shared:
            ref, names = next(iter(shared.items()))
            raise ValueError(
                f"{' and '.join(names)} read the same column {ref!r} of the file: each "
                "channel needs its own column"
            )
        return self

    def used(self) -> dict[str, ColumnRef]:
        """The columns that are set, canonical name -> file column."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CsvOptions(_Strict):
    """How CSV files are read (passed to pandas.read_csv)."""

    delimiter: str = Field(",", description=r"one character, or \s+ for runs of spaces and tabs")
    header: bool = True
    skip_rows: int = Field(0, ge=0)
    decimal: str = "."
    encoding: str = "utf-8"
    comment: str | None = Field(
        None, min_length=1, max_length=1,
        description="a character after which the rest of a line is ignored (';' for lines "
        "that end in ';', '#' for comments)")
    drop_missing: bool = Field(
        False, description="leave out rows with a missing value (empty, NaN) in the time "
        "column or a sensor column, with one warning per file; needs a time column")

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1 and value != WHITESPACE:
            raise ValueError(
                f"give one character (',', ';', '\\t', ' ') or {WHITESPACE!r} for runs of "
                f"spaces and tabs, got {value!r}"
            )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown text encoding {value!r}; use e.g. utf-8, latin-1, cp1252, utf-16"
            ) from None
        return value


class GyroColumns(_Strict):
    """The columns of a gyroscope's own files (:class:`GyroFiles`): canonical name -> the
    file's column (name, or 0-based position)."""

    time: ColumnRef | None = Field(
        None, description="default: columns.time (the same column name or position)")
    gyro_x: ColumnRef
    gyro_y: ColumnRef
    gyro_z: ColumnRef
    subject: ColumnRef | None = Field(
        None, description="default: columns.subject, when the subject is a column")
    session: ColumnRef | None = Field(
        None, description="default: columns.session, when the session is a column")

    def used(self) -> dict[str, ColumnRef]:
        """The columns that are set, canonical name -> file column."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class GyroFiles(_Strict):
    """The gyroscope recorded in files of its own, beside the accelerometer's ``files``
    (WISDM 2019's ``gyro/`` folder, HHAR's ``Phones_gyroscope.csv``).

    Each gyroscope file pairs with the accelerometer file of the same subject
    and session (as the file names give them: ``file_pattern`` groups and
    ``constants``); its samples are put onto the accelerometer's time stamps
    by linear interpolation (:func:`tinyhar.datasets.sensor_join.interpolate`).
    """

    files: str | list[str] = Field(description="glob pattern(s) of the gyroscope's files")
    file_pattern: str | None = Field(
        None, description="regular expression of the gyroscope files' names, with the "
        "(?P<subject>...) and (?P<session>...) groups of file_pattern")
    format: Literal["csv", "parquet", "npy"] | None = None
    csv: CsvOptions | None = Field(None, description="default: the definition's csv")
    columns: GyroColumns
    sampling_rate_hz: float | None = Field(
        None, gt=0, le=MAX_SAMPLING_RATE_HZ, allow_inf_nan=False,
        description="the gyroscope's rate; default: sampling_rate_hz")
    max_gap_s: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="longest step between two gyroscope samples that is interpolated "
        "across; default: 2 sample periods of the slower sensor")

    @field_validator("file_pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        return _checked_pattern(value, ("subject", "session"))


FLIP_CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
"""Channels whose sign ``flip`` may reverse."""


class Constants(_Strict):
    """One subject, session or label for all files."""

    subject: str | None = None
    session: str | None = None
    label: str | None = None


class DatasetDefinition(_Strict):
    """A YAML dataset definition (see the module docstring for every key).

    Raises
    ------
    pydantic.ValidationError
        When built directly from a dict with bad keys or values;
        :meth:`from_yaml` turns it into a :class:`~tinyhar.errors.ConfigError`
        naming the file and the key path.
    """

    name: str = "custom"
    files: str | list[str]
    format: Literal["csv", "parquet", "npy"] | None = None
    csv: CsvOptions = CsvOptions()
    sampling_rate_hz: float = Field(gt=0, le=MAX_SAMPLING_RATE_HZ, allow_inf_nan=False)
    columns: Columns
    units: Units = Units()
    file_pattern: str | None = None
    constants: Constants = Constants()
    gyro: GyroFiles | None = None
    flip: list[Literal["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]] = []
    label_map: dict[str, str] = {}
    classes: list[str] | None = None
    ignore_labels: list[str] = []
    citation: str = ""
    licence: str = ""
    checks: DataChecks = DataChecks()

    @field_validator("files")
    @classmethod
    def _non_empty(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("give at least one glob pattern, e.g. 'raw/*.csv'")
        return value

    @field_validator("file_pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        return _checked_pattern(value, META_FIELDS)

    @model_validator(mode="after")
    def _one_source_each(self) -> DatasetDefinition:
        groups = set(re.compile(self.file_pattern).groupindex) if self.file_pattern else set()
        for key in META_FIELDS:
            sources = [
                name for name, present in (
                    (f"columns.{key}", getattr(self.columns, key) is not None),
                    (f"file_pattern group '{key}'", key in groups),
                    (f"constants.{key}", getattr(self.constants, key) is not None),
                ) if present
            ]
            if len(sources) > 1:
                raise ValueError(f"{key} is given by {' and '.join(sources)}; keep one")
        if not self._source_of("subject"):
            raise ValueError(
                "no subject: set columns.subject, a (?P<subject>...) group in file_pattern, "
                "or constants.subject (evaluation needs to know who was recorded)"
            )
        if self.format == "npy" or (self.format is None and _all_npy(self.files)):
            bad = {k: v for k, v in self.columns.used().items() if not isinstance(v, int)}
            if bad:
                raise ValueError(f"NPY files have no column names: use 0-based positions ({bad})")
        return self

    @model_validator(mode="after")
    def _dropped_rows_keep_time(self) -> DatasetDefinition:
        if self.csv.drop_missing and self.columns.time is None:
            raise ValueError(
                "csv.drop_missing needs a time column (columns.time): without one, time is "
                "counted from the rows, and every sample after a dropped row would be "
                "placed one sample interval early"
            )
        return self

    @model_validator(mode="after")
    def _gyro_files(self) -> DatasetDefinition:
        gyro = self.gyro
        if gyro is None:
            return self
        if not gyro.files:
            raise ValueError("gyro.files: give at least one glob pattern, e.g. 'raw/gyro/*.csv'")
        if self.columns.gyro_x is not None:
            raise ValueError(
                "the gyroscope is given twice: by columns.gyro_x/y/z and by gyro (its own "
                "files); keep one")
        if self.columns.time is None:
            raise ValueError(
                "gyro (the gyroscope in files of its own) needs columns.time: its samples are "
                "put onto the accelerometer's time stamps")
        mine = _name_groups(gyro.file_pattern)
        theirs = _name_groups(self.file_pattern)
        if mine != theirs:
            raise ValueError(
                f"gyro.file_pattern names {sorted(mine)} but file_pattern names "
                f"{sorted(theirs)} (of subject and session): give both the same groups, so "
                "that each gyroscope file pairs with the accelerometer file of the same "
                "subject and session")
        for key in ("subject", "session"):
            if getattr(gyro.columns, key) is not None and getattr(self.columns, key) is None:
                raise ValueError(
                    f"gyro.columns.{key} is set but columns.{key} is not: the "
                    f"accelerometer's rows name the {key} the same way as the gyroscope's")
        if (gyro.format or self.format) == "npy" or (
                (gyro.format or self.format) is None and _all_npy(gyro.files)):
            bad = {k: v for k, v in self.gyro_columns().used().items() if not isinstance(v, int)}
            if bad:
                raise ValueError(f"NPY files have no column names: use 0-based positions in "
                                 f"gyro.columns ({bad})")
        return self

    @model_validator(mode="after")
    def _flip_known(self) -> DatasetDefinition:
        if len(set(self.flip)) != len(self.flip):
            raise ValueError(f"flip names a channel twice ({self.flip}); name each once")
        if not self.has_gyro() and any(c.startswith("gyro") for c in self.flip):
            raise ValueError(
                "flip names gyroscope channels, but the definition reads no gyroscope "
                "(columns.gyro_x/y/z or gyro)")
        return self

    def has_gyro(self) -> bool:
        """Whether the definition reads a gyroscope (in the rows of ``files``, or in its own
        files: ``gyro``)."""
        return self.columns.gyro_x is not None or self.gyro is not None

    def gyro_columns(self) -> Columns:
        """The columns of the gyroscope's own files (``gyro.columns``, time, subject and
        session defaulting to those of ``columns``), as :class:`Columns` without the
        accelerometer (built without validation: only its ``used`` columns are read)."""
        assert self.gyro is not None
        mine = self.gyro.columns
        values = dict.fromkeys(Columns.model_fields)
        values.update({c: getattr(mine, c) for c in ("gyro_x", "gyro_y", "gyro_z")})
        for key in ("time", "subject", "session"):
            values[key] = getattr(mine, key) if getattr(mine, key) is not None else getattr(
                self.columns, key)
        return Columns.model_construct(**values)

    def gyro_definition(self) -> DatasetDefinition:
        """The definition that reads the gyroscope's own files (``gyro``) as data files: its
        files, pattern, format, csv and columns (:meth:`gyro_columns`); subject and session
        from their names (a constant subject where they name none: the pairing, not these
        rows, says whose they are); no label, no checks of their own."""
        assert self.gyro is not None
        gyro = self.gyro
        constants = self.constants.model_copy(update={
            "label": None, "subject": self.constants.subject or "?"})
        return self.model_copy(update={
            "files": gyro.files, "file_pattern": gyro.file_pattern,
            "format": gyro.format or self.format, "csv": gyro.csv or self.csv,
            "columns": self.gyro_columns(), "constants": constants, "gyro": None,
            "label_map": {}, "classes": None, "ignore_labels": [],
        })

    def _source_of(self, key: str) -> str | None:
        if getattr(self.columns, key) is not None:
            return "column"
        if self.file_pattern and key in re.compile(self.file_pattern).groupindex:
            return "pattern"
        if getattr(self.constants, key) is not None:
            return "constant"
        return None

    @classmethod
    def from_yaml(cls, path: str | Path) -> DatasetDefinition:
        """Read and validate a definition file.

        Raises
        ------
        ConfigError
            If the file is missing, is not valid YAML (with the line), is not
            a mapping, or a key is unknown or has a bad value (naming the key
            path, e.g. ``columns.acc_x``, and what is allowed).
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the dataset definition: {exc}") from exc
        except UnicodeDecodeError as exc:
            line = exc.object[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"{path}, line {line}: the dataset definition is not UTF-8 text (byte "
                f"{exc.object[exc.start:exc.start + 1]!r} at offset {exc.start}); save it as UTF-8"
            ) from exc
        try:
            raw = copy.deepcopy(_parsed_yaml(text))  # a copy: the caller may change it
        except (ValueError, RecursionError) as exc:  # e.g. a date like 2024-13-45
            raise ConfigError(f"{path}: invalid YAML value: {exc}") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from exc
        if not isinstance(raw, dict):
            kinds = {list: "a list", str: "a text", int: "a number", float: "a number",
                     bool: "true/false"}
            got = "an empty file" if raw is None else kinds.get(type(raw), type(raw).__name__)
            raise ConfigError(
                f"{path}: a dataset definition must be a mapping of keys (files, "
                f"sampling_rate_hz, columns, ...), got {got}"
            )
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(
                exc, str(path), DatasetDefinition, header="invalid dataset definition"
            )) from exc


@functools.lru_cache(maxsize=16)
def _parsed_yaml(text: str) -> object:
    """``yaml.safe_load(text)``, remembered by the text: a definition is read again for each
    session (by each task, in each worker), and PyYAML takes milliseconds for one."""
    return yaml.safe_load(text)


def _checked_pattern(value: str | None, allowed: tuple[str, ...]) -> str | None:
    """A ``file_pattern``: a valid regular expression whose named groups are ``allowed``."""
    if value is None:
        return value
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    extra = sorted(set(compiled.groupindex) - set(allowed))
    if extra:
        raise ValueError(
            f"named groups {extra} are not allowed; use "
            + ", ".join(f"(?P<{k}>...)" for k in allowed)
        )
    return value


def _name_groups(pattern: str | None) -> set[str]:
    """The subject and session groups of a file pattern."""
    return set(re.compile(pattern).groupindex) & {"subject", "session"} if pattern else set()


def _all_npy(files: str | list[str]) -> bool:
    patterns = [files] if isinstance(files, str) else files
    return all(p.lower().endswith(".npy") for p in patterns)
