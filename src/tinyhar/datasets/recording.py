"""Canonical form of continuous motion recordings.

A :class:`RecordingSet` holds one or more continuous recordings (sessions) of
one or more subjects in a single :class:`pandas.DataFrame`, one row per
sample, with these columns:

============ ========= ============================================================
column       unit      meaning
============ ========= ============================================================
``time``     s         time since the start of the session (float64)
``acc_x``    g         accelerometer, x axis (float32); also ``acc_y``, ``acc_z``
``gyro_x``   rad/s     gyroscope, x axis (float32, optional); ``gyro_y``, ``gyro_z``
``label``    --        activity name (category: the class list, in its order);
                       missing (``NaN``, code -1) = unlabelled
``subject``  --        subject id (category: the subjects present, natural order)
``session``  --        session / experiment id (category: the sessions present, in
                       order of appearance), unique across subjects
============ ========= ============================================================

plus the sampling rate in Hz (one rate for the whole set). Rows of one
session are contiguous and in time order. Label, subject and session are
pandas ``category`` columns: one small integer code per sample (1 byte for
up to 127 values) instead of a string, so the table holds about 35 bytes
per 6-channel sample. They compare like strings (``frame["label"] ==
"WALKING"``, ``isin``); group them with ``observed=True``, and join two
frames with :func:`concat_frames` (``pandas.concat`` turns categoricals
with different categories into ``object`` columns). On disk a set is one Parquet file
(pyarrow) whose schema metadata stores the sampling rate, the class list,
the set's name, citation and licence, and the sessions' clock origins.

Clock time: ``time`` counts from each session's start. Where the source gave
date-times (a dataset definition with ``units: {time: datetime}``),
:attr:`RecordingSet.origins` keeps when each session started (its first time
stamp, in s since 1970-01-01 00:00 UTC), so ``origin + time`` is the clock time
of a sample (``tinyhar predict`` writes it next to its times).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tinyhar.core.channels import (  # noqa: F401 (the names recordings are described in)
    ACC_CHANNELS,
    ALL_CHANNELS,
    CHANNEL_UNITS,
    GYRO_CHANNELS,
    MAX_ABS_SENSOR_VALUE,
    MAX_SAMPLING_RATE_HZ,
    META_COLUMNS,
)
from tinyhar.core.ids import natural_key  # noqa: F401 (sorts subject and session ids)
from tinyhar.errors import DataFormatError

_PARQUET_META_KEY = b"tinyhar"


@dataclass
class RecordingSet:
    """Continuous recordings in tinyhar's canonical form.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per sample, columns as in the module docstring:
        ``time`` (s), ``acc_x acc_y acc_z`` (g), optionally
        ``gyro_x gyro_y gyro_z`` (rad/s), ``label``, ``subject``, ``session``.
    sampling_rate_hz : float
        Sampling rate of every session, in Hz.
    classes : list of str
        Activity names in a fixed order (the label vocabulary). Labels in
        ``frame`` must be among them or missing.
    name : str
        Short name of the data set (e.g. ``"hapt"``).
    citation, licence : str
        Where the data comes from and under which terms.
    source : str
        The file or definition it was read from (for messages).
    origins : mapping of str -> float, optional
        Session id -> the clock time of the session's first sample (``time``
        0), in s since 1970-01-01 00:00 UTC (the Unix epoch). float64 holds a
        date of 2004-2038 to 2**-22 s (0.24 us; 0.48 us to 2106): clock times
        are written to the millisecond, and ``time`` does not depend on it
        (date-times are read as integer ns and the session's first one is
        subtracted before they become float s:
        :func:`tinyhar.datasets.custom.time_since`). Only sessions whose
        source gave date-times have one; sessions not in ``frame`` are
        dropped, and a mapping left empty becomes None (no session has a
        clock time: numeric time columns, named data sets).

    Raises
    ------
    DataFormatError
        If a required column is missing, a channel is not numeric or has
        NaN/inf values or values beyond :data:`MAX_ABS_SENSOR_VALUE`, a label
        is not in ``classes`` (or ``classes`` names one twice), a subject or
        session is missing, the sampling rate is not a number in
        (0, :data:`MAX_SAMPLING_RATE_HZ`] Hz, or an origin is not a finite
        number.

    Notes
    -----
    ``frame`` is stored in canonical form (:func:`canonicalize_frame`):
    label, subject and session become ``category`` columns whatever they
    were (strings, numbers, categoricals).
    """

    frame: pd.DataFrame
    sampling_rate_hz: float
    classes: list[str]
    name: str = "recordings"
    citation: str = ""
    licence: str = ""
    source: str = field(default="<memory>", repr=False)
    origins: dict[str, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.classes = [str(c) for c in self.classes]
        if len(set(self.classes)) != len(self.classes):
            raise DataFormatError(
                self.source, f"the class list {self.classes} names a class twice"
            )
        self.frame = canonicalize_frame(self.frame, self.source, classes=self.classes)
        self.sampling_rate_hz = check_sampling_rate_value(self.sampling_rate_hz, self.source)
        self.origins = _session_origins(self.origins, self.sessions, self.source)

    # ------------------------------------------------------------------ views
    @property
    def channels(self) -> list[str]:
        """Sensor channels present, in canonical order (``acc_*`` then ``gyro_*``)."""
        return [c for c in ALL_CHANNELS if c in self.frame.columns]

    @property
    def has_gyro(self) -> bool:
        """True when the three gyroscope channels are present."""
        return all(c in self.frame.columns for c in GYRO_CHANNELS)

    @property
    def subjects(self) -> list[str]:
        """Subject ids in natural order (the ``subject`` column's categories)."""
        return [str(s) for s in self.frame["subject"].cat.categories]

    @property
    def sessions(self) -> list[str]:
        """Session ids in order of appearance (the ``session`` column's categories)."""
        return [str(s) for s in self.frame["session"].cat.categories]

    @property
    def n_samples(self) -> int:
        """Total number of samples over all sessions."""
        return len(self.frame)

    def label_codes(self) -> np.ndarray:
        """Index of each sample's label in :attr:`classes` (-1 = unlabelled).

        Returns
        -------
        numpy.ndarray of int16, shape (n_samples,)
            The ``label`` column's category codes (its categories are the classes).
        """
        return self.frame["label"].cat.codes.to_numpy().astype(np.int16)

    def iter_sessions(self) -> Iterator[tuple[str, str, pd.DataFrame]]:
        """Yield ``(subject, session, frame)`` for each session in order."""
        for session, part in self.frame.groupby("session", sort=False, observed=True):
            yield str(part["subject"].iloc[0]), str(session), part

    def select(
        self,
        subjects: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
    ) -> RecordingSet:
        """Return a copy restricted to some subjects and/or channels.

        Parameters
        ----------
        subjects : sequence of str, optional
            Subject ids to keep (all when None).
        channels : sequence of str, optional
            Sensor channels to keep, e.g. ``ACC_CHANNELS`` (all when None).

        Raises
        ------
        DataFormatError
            If a requested channel is not present.
        """
        frame = self.frame
        if subjects is not None:
            frame = frame[frame["subject"].isin([str(s) for s in subjects])]
        if channels is not None:
            missing = [c for c in channels if c not in frame.columns]
            if missing:
                raise DataFormatError(
                    self.source,
                    f"channels {missing} are not in this data set (it has {self.channels})",
                )
            frame = frame[list(META_COLUMNS) + list(channels)]
        return RecordingSet(
            frame.reset_index(drop=True),
            self.sampling_rate_hz,
            self.classes,
            self.name,
            self.citation,
            self.licence,
            self.source,
            self.origins,
        )

    def hours_per_class(self) -> dict[str, float]:
        """Recorded hours per class (``"unlabelled"`` for missing labels)."""
        counts = np.bincount(self.label_codes() + 1, minlength=len(self.classes) + 1)
        names = ["unlabelled", *self.classes]
        order = np.argsort(-counts, kind="stable")  # most recorded first
        return {names[i]: float(counts[i]) / self.sampling_rate_hz / 3600.0
                for i in order if counts[i]}

    @classmethod
    def concat(cls, sets: Sequence[RecordingSet], name: str | None = None) -> RecordingSet:
        """Join sets of the same sampling rate into one (sessions in the given order).

        Parameters
        ----------
        sets : sequence of RecordingSet
            At least one; all at the same rate, with the same channels, and
            with distinct session ids.
        name : str, optional
            Name of the joined set (default: the first set's).

        Returns
        -------
        RecordingSet
            Classes: the first set's, then the others' new classes in order.
            Citation, licence and source are the first set's; the sessions'
            origins are those of their sets.

        Raises
        ------
        DataFormatError
            If the rates or channels differ, or a session id is in two sets.
        """
        if not sets:
            raise ValueError("RecordingSet.concat needs at least one set")
        first = sets[0]
        for other in sets[1:]:
            if abs(other.sampling_rate_hz - first.sampling_rate_hz) > 1e-9 * first.sampling_rate_hz:
                raise DataFormatError(
                    other.source, f"sampling rate {other.sampling_rate_hz:g} Hz differs from "
                    f"{first.source}'s {first.sampling_rate_hz:g} Hz; resample before joining"
                )
            if other.channels != first.channels:
                raise DataFormatError(
                    other.source, f"channels {other.channels} differ from {first.source}'s "
                    f"{first.channels}; select the common channels before joining"
                )
        seen: dict[str, str] = {}
        for part in sets:
            for session in part.sessions:
                if session in seen:
                    raise DataFormatError(
                        part.source, f"session {session!r} is also in {seen[session]}; "
                        "session ids must be unique across the joined sets"
                    )
                seen[session] = str(part.source)
        classes = list(dict.fromkeys(c for s in sets for c in s.classes))
        return cls(
            concat_frames([s.frame for s in sets]), first.sampling_rate_hz, classes,
            name or first.name, first.citation, first.licence, first.source,
            joined_origins(sets),
        )

    # -------------------------------------------------------------------- I/O
    def to_parquet(self, path: str | Path, compression: str = "zstd") -> Path:
        """Write the set to one Parquet file, with rate and classes in its metadata
        (and the sessions' :attr:`origins`, when there are any).

        Parameters
        ----------
        path : str or Path
            Output file.
        compression : str
            Parquet codec (``"zstd"``, ``"snappy"``, ...).

        Returns
        -------
        Path
            The written file.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        meta = {
            "sampling_rate_hz": self.sampling_rate_hz,
            "classes": self.classes,
            "name": self.name,
            "citation": self.citation,
            "licence": self.licence,
        }
        if self.origins is not None:
            meta["origins"] = self.origins  # (JSON keeps a float64 exactly)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), _PARQUET_META_KEY: json.dumps(meta).encode()}
        )
        pq.write_table(table, path, compression=compression)
        return path

    @classmethod
    def from_parquet(cls, path: str | Path, checks: Any = None) -> RecordingSet:
        """Read a set written by :meth:`to_parquet`, and check its signals.

        Parameters
        ----------
        path : str or Path
            The file.
        checks : DataChecks or mapping, optional
            Plausibility checks to run per session (sampling rate vs the time
            column, units, clipping; see :mod:`tinyhar.datasets.checks`); all on
            by default.

        Raises
        ------
        DataFormatError
            If the file is not a tinyhar recording (no rate/class metadata), its
            columns are not canonical, its stored origins are not numbers, or a
            check fails.
        """
        from tinyhar.datasets.checks import check_recording_groups, resolve_checks

        path = Path(path)
        table, meta = read_parquet_with_metadata(
            path,
            _PARQUET_META_KEY,
            "no tinyhar metadata (sampling rate, classes); this Parquet file was not "
            "written by tinyhar: describe it with a YAML dataset definition instead",
            read_dictionary=["label", "subject", "session"],  # categories: no str per sample
        )
        classes = meta.get("classes")
        if "sampling_rate_hz" not in meta or not isinstance(classes, list):
            raise DataFormatError(
                path, "the tinyhar metadata lacks sampling_rate_hz or classes; rewrite the file "
                "with RecordingSet.to_parquet"
            )
        try:
            frame = table.to_pandas()
        except Exception as exc:  # pyarrow raises many types for odd schemas
            raise DataFormatError(path, f"cannot convert the table: {exc}") from exc
        del table
        out = cls(
            frame,
            meta["sampling_rate_hz"],
            classes,
            str(meta.get("name", path.stem)),
            str(meta.get("citation", "")),
            str(meta.get("licence", "")),
            str(path),
            meta.get("origins"),
        )
        check_recording_groups(
            out, resolve_checks(checks), lambda subject, session: f"{path}, session {session}",
            time_column=True,
        )
        return out


def joined_origins(sets: Sequence[Any]) -> dict[str, float] | None:
    """The :attr:`RecordingSet.origins` of several sets' sessions together (None: none has one).

    Parameters
    ----------
    sets : sequence of RecordingSet (or anything with ``origins``)
        E.g. the pieces of one recording, or sets with distinct sessions
        (a session in two sets has one origin: the last set's); also the
        streams of :mod:`tinyhar.evaluation.streams`.

    Returns
    -------
    dict of str -> float or None
    """
    joined = {k: v for s in sets for k, v in (s.origins or {}).items()}
    return joined or None


def stored_origins(path: str | Path) -> dict[str, float] | None:
    """The :attr:`RecordingSet.origins` a tinyhar Parquet recording stores, from its schema.

    For a dataset definition that reads such a file's ``time`` column
    (:func:`tinyhar.datasets.custom.file_origins`): the rows are read without
    the metadata, so the origins come from here.

    Parameters
    ----------
    path : str or Path
        A Parquet file (:meth:`RecordingSet.to_parquet`).

    Returns
    -------
    dict of str -> float or None
        Session id -> its first time stamp, in s since the Unix epoch (UTC); None
        when the file stores none, has no tinyhar metadata or cannot be read (its
        read reports why).

    Raises
    ------
    DataFormatError
        Stored origins that are not finite numbers (as :meth:`RecordingSet.from_parquet`).
    """
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        raw = (pq.read_schema(path).metadata or {}).get(_PARQUET_META_KEY)
        meta = json.loads(raw) if raw is not None else None
    except (OSError, ValueError, ArrowException):
        return None
    origins = meta.get("origins") if isinstance(meta, dict) else None
    if origins is None:
        return None
    return _session_origins(origins, [str(s) for s in origins] if isinstance(origins, dict)
                            else [], path)


def utc_text(stamps: np.ndarray) -> np.ndarray:
    """Clock times as ISO 8601 UTC text to the millisecond (``"2016-11-13T02:18:00.010Z"``).

    Parameters
    ----------
    stamps : numpy.ndarray of datetime64[ms], shape (n,)
        UTC (numpy's datetimes have no zone); NaT allowed.

    Returns
    -------
    numpy.ndarray of str, shape (n,)
        ``""`` for NaT.
    """
    text = np.char.add(np.datetime_as_string(stamps, unit="ms"), "Z")
    return np.where(np.isnat(stamps), "", text)

def _session_origins(origins: Any, sessions: list[str],
                     source: str | Path) -> dict[str, float] | None:
    """``origins`` of the sessions present, as floats (None when none is left).

    Raises
    ------
    DataFormatError
        Not a mapping, or an origin that is not a finite number.
    """
    if origins is None:
        return None
    if not isinstance(origins, dict):
        raise DataFormatError(source, f"origins must map session ids to seconds since the "
                              f"Unix epoch, got {type(origins).__name__}")
    out = {}
    for session in sessions:
        if session not in origins:
            continue
        value = origins[session]
        number = float(value) if isinstance(value, (int, float, np.number)) else float("nan")
        if isinstance(value, bool) or not np.isfinite(number):
            raise DataFormatError(source, f"the origin of session {session!r} must be a finite "
                                  f"number of seconds since the Unix epoch, got {value!r}")
        out[session] = number
    return out or None


def check_sampling_rate_value(value: Any, source: str | Path) -> float:
    """Check that a declared sampling rate is a number in (0, :data:`MAX_SAMPLING_RATE_HZ`] Hz.

    Parameters
    ----------
    value : Any
        The declared rate.
    source : str or Path
        The file declaring it (for the message).

    Returns
    -------
    float
        The rate in Hz.

    Raises
    ------
    DataFormatError
        If it is not a finite number in that range.
    """
    try:
        rate = float(value)
    except (TypeError, ValueError, OverflowError):
        rate = float("nan")
    if not (np.isfinite(rate) and 0 < rate <= MAX_SAMPLING_RATE_HZ):
        raise DataFormatError(
            source,
            f"sampling rate must be a number of Hz in (0, {MAX_SAMPLING_RATE_HZ:g}], got "
            f"{value!r}",
        )
    return rate


def read_parquet_with_metadata(
    path: Path, key: bytes, missing: str, read_dictionary: list[str] | None = None
) -> tuple:
    """Read a Parquet file and the JSON document stored under ``key`` in its schema metadata.

    Parameters
    ----------
    path : Path
        The file.
    key : bytes
        Schema-metadata key holding a JSON document.
    missing : str
        Error message when the key is absent (say what the file should be).
    read_dictionary : list of str, optional
        Columns to read dictionary-encoded (pandas categoricals), those of
        them that the file has.

    Returns
    -------
    table : pyarrow.Table
    meta : dict

    Raises
    ------
    DataFormatError
        If the file is not readable as Parquet or has no valid ``key`` metadata.
    """
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    try:
        if read_dictionary:
            names = set(pq.read_schema(path).names)
            read_dictionary = [c for c in read_dictionary if c in names]
        table = pq.read_table(path, read_dictionary=read_dictionary or None)
    except (OSError, ValueError, ArrowException) as exc:
        raise DataFormatError(path, f"cannot read as Parquet: {exc}") from exc
    raw = (table.schema.metadata or {}).get(key)
    if raw is None:
        raise DataFormatError(path, missing)
    try:
        meta = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError(
            path, f"the {key.decode()} metadata is not valid JSON: {exc}"
        ) from exc
    if not isinstance(meta, dict):
        raise DataFormatError(path, f"the {key.decode()} metadata is not a JSON object")
    return table, meta


def canonicalize_frame(
    frame: pd.DataFrame, source: str = "<memory>", classes: Sequence[str] | None = None
) -> pd.DataFrame:
    """Check and convert a frame to the canonical column types.

    Parameters
    ----------
    frame : pandas.DataFrame
        Samples with at least ``time``, ``acc_x acc_y acc_z``, ``subject`` and
        ``session``; ``label`` may be absent (all unlabelled) and the gyroscope
        is optional but must have all three axes if present. Label, subject
        and session may be strings, numbers or categoricals (ids are made
        strings with ``str``).
    source : str
        File name used in error messages.
    classes : sequence of str, optional
        The class list: the ``label`` categories, in this order (labels
        outside it are an error). By default the labels present, sorted.

    Returns
    -------
    pandas.DataFrame
        Columns in canonical order with canonical dtypes (float64 time,
        float32 channels, ``category`` label/subject/session as the module
        docstring describes). Columns already in canonical form are not
        copied.

    Raises
    ------
    DataFormatError
        Missing or non-numeric columns, NaN/inf sensor values or values
        beyond :data:`MAX_ABS_SENSOR_VALUE`, partial gyroscope axes, a missing
        subject or session, a label outside ``classes``, or time not
        increasing within a session.
    """
    frame = frame.copy(deep=False)  # copy-on-write: replacing columns leaves the caller's alone
    required = ("time", *ACC_CHANNELS, "subject", "session")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataFormatError(
            source,
            f"missing columns {missing}; a recording needs {list(required)} "
            "(plus optional gyro_x gyro_y gyro_z and label)",
        )
    gyro = [c for c in GYRO_CHANNELS if c in frame.columns]
    if gyro and len(gyro) != 3:
        raise DataFormatError(source, f"gyroscope needs all of {list(GYRO_CHANNELS)}, got {gyro}")
    channels = list(ACC_CHANNELS) + gyro
    for col in ["time", *channels]:
        values = frame[col]
        if pd.api.types.is_float_dtype(values.dtype) and isinstance(values.dtype, np.dtype):
            bad = _not_finite(values.to_numpy())
        else:
            values = pd.to_numeric(values, errors="coerce")
            bad = (values.isna() | ~np.isfinite(values.fillna(0.0))).to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataFormatError(
                source,
                f"value {frame[col].iloc[row]!r} at row {row + 1} is not a finite number; "
                "fix or drop that sample",
                column=col,
            )
        del bad
        if col != "time":
            check_magnitude(values.to_numpy(), source, col)
        target = np.float64 if col == "time" else np.float32
        if values.dtype != target:  # (reassigning an unchanged column could copy its block)
            frame[col] = values.astype(target)
        del values
    n = len(frame)
    kept: list = []  # the categorical columns as they are (not set again when unchanged)
    if "label" in frame.columns:
        label, words = _categories(frame["label"], source, "label", kept=kept)
    else:  # all unlabelled
        label, words = pd.Categorical.from_codes(np.full(n, -1, np.int8), []), []
    if classes is None or not set(words) <= set(classes):
        used = np.unique(label.codes)  # only categories in use count
        present = sorted({words[i] for i in used if i >= 0})
        if classes is None:
            classes = present
        unknown = sorted(set(present) - set(classes))
        if unknown:
            raise DataFormatError(
                source,
                f"labels {unknown} are not in the class list {list(classes)}; "
                "add them to the class list or relabel them",
                column="label",
            )
    _set_category_column(frame, "label", _recode(label, words, list(classes)), kept)
    subject, words = _categories(frame["subject"], source, "subject", False, kept)
    ids = dict.fromkeys(words[i] for i in subject.codes[_runs(subject.codes)])
    _set_category_column(frame, "subject", _recode(subject, words, sorted(ids, key=natural_key)),
                         kept)
    session, words = _categories(frame["session"], source, "session", False, kept)
    ids = dict.fromkeys(words[i] for i in session.codes[_runs(session.codes)])  # as they appear
    session = _recode(session, words, list(ids))
    _set_category_column(frame, "session", session, kept)
    runs = _runs(session.codes)
    order = ["time", *channels, "label", "subject", "session"]
    index = frame.index
    if not (list(frame.columns) == order and type(index) is pd.RangeIndex and index.start == 0
            and index.step == 1 and index.name is None):  # (else: already so)
        frame = frame[order].reset_index(drop=True)
    if len(runs) != len(session.categories):
        raise DataFormatError(
            source,
            "rows of a session are not contiguous; sort by session then time",
            column="session",
        )
    if n:
        time = frame["time"].to_numpy()
        back = steps_where(n, lambda a, b: time[a + 1 : b + 1] <= time[a:b])  # a step <= 0
        back = back[~np.isin(back, runs[1:] - 1)]  # (a new session starts again)
        if back.size:
            row = int(back[0]) + 2
            raise DataFormatError(
                source,
                f"time does not increase at row {row} (session {frame['session'].iloc[row - 1]}); "
                "sort each session by time and remove duplicate samples",
                column="time",
            )
    return frame


def constant_category(value: Any, n: int) -> pd.Categorical:
    """``n`` rows of one value as a categorical: one byte per row instead of a string.

    Parameters
    ----------
    value : str or None
        The value (made a string with ``str``); None: all missing.
    n : int
        Number of rows.

    Returns
    -------
    pandas.Categorical, shape (n,)
        int8 codes, ``str`` categories (none when ``value`` is None).
    """
    if value is None:
        return pd.Categorical.from_codes(np.full(n, -1, np.int8), dtype=str_categories(()))
    return pd.Categorical.from_codes(np.zeros(n, np.int8), dtype=str_categories((str(value),)))


def str_categories(words: tuple[str, ...]) -> pd.CategoricalDtype:
    """The categorical dtype whose categories are ``words`` (a ``str`` index), made once.

    Building and checking a category index costs about 50 us; data sets of
    many short sessions build the same few (labels, a subject, a session)
    for every session. The dtype is immutable, so categoricals may share it.
    Up to 64 categories are kept (the last 1,024 such lists); longer lists
    are built each time.

    Parameters
    ----------
    words : tuple of str
        Distinct categories, in order.

    Returns
    -------
    pandas.CategoricalDtype
        Unordered, with ``pandas.Index(words, dtype="str")`` as categories.

    Raises
    ------
    ValueError
        If ``words`` repeats a value.
    """
    if len(words) > 64:
        return _str_dtype(words)
    return _cached_str_dtype(words)


def _str_dtype(words: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index(list(words), dtype="str"))


_cached_str_dtype = lru_cache(maxsize=1024)(_str_dtype)


def _set_category_column(frame: pd.DataFrame, name: str, values: pd.Categorical,
                         kept: list | None = None) -> None:
    """Put ``values`` in ``frame[name]`` without copying its codes.

    A column that is already ``values`` stays as it is (pandas tracks who
    shares it); a new categorical (fresh codes that nothing else holds) goes
    in as a Series, which pandas does not copy, unlike a bare categorical.
    ``kept``: the objects :func:`_categories` took from the frame's columns
    as they are (then ``values`` among them is the column already).
    """
    if kept is not None and any(values is k for k in kept):
        return
    if name in frame.columns and frame[name].array is values:
        return
    frame[name] = pd.Series(values, index=frame.index, copy=False)


def concat_frames(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Stack canonical frames, joining the categories of label, subject and session.

    :func:`pandas.concat` turns categorical columns whose categories differ
    into ``object`` columns (one Python string per sample); this keeps them
    categorical, with the union of the categories in order of appearance.

    Parameters
    ----------
    frames : sequence of pandas.DataFrame
        Frames with the same columns (e.g. :attr:`RecordingSet.frame`).

    Returns
    -------
    pandas.DataFrame
        The rows of all frames in order, with a fresh index.
    """
    from pandas.api.types import union_categoricals

    frames = list(frames)
    columns = {}
    for name in frames[0].columns:
        pieces = [f[name] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            columns[name] = union_categoricals([p.array for p in pieces])
        else:
            columns[name] = np.concatenate([p.to_numpy() for p in pieces])
    return pd.DataFrame(columns, copy=False)


def _not_finite(values: np.ndarray) -> np.ndarray:
    """Where ``values`` is NaN or inf (a chunk at a time; all-false when all are finite)."""
    step = 1 << 18
    if all(np.isfinite(values[a : a + step]).all() for a in range(0, len(values), step)):
        return np.zeros(0, bool)
    return ~np.isfinite(values)


def _runs(codes: np.ndarray) -> np.ndarray:
    """Positions where a run of equal codes begins (none for no codes)."""
    return run_starts(codes)


_STEP = 1 << 18
"""Neighbouring pairs compared at a time by :func:`steps_where` (no mask of a whole column)."""


def steps_where(n: int, test) -> np.ndarray:
    """Positions ``i`` (``0 <= i < n - 1``) of the neighbouring rows ``(i, i + 1)`` that pass.

    Parameters
    ----------
    n : int
        Number of rows.
    test : callable
        ``test(a, b)`` gives a boolean array, shape ``(b - a,)``, for the
        pairs ``(i, i + 1)`` with ``a <= i < b`` (e.g. ``t[a + 1 : b + 1] <
        t[a:b]``). It is called for :data:`_STEP` pairs at a time, so the
        masks of a long column are never whole in memory.

    Returns
    -------
    numpy.ndarray of int64, shape (n_passing,)
        In increasing order.
    """
    parts = [np.flatnonzero(test(a, min(a + _STEP, n - 1))) + a
             for a in range(0, max(n - 1, 0), _STEP)]
    return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)


def run_starts(values: np.ndarray, *more: np.ndarray) -> np.ndarray:
    """Positions where a run of equal values (of all the arrays together) begins.

    Parameters
    ----------
    values, *more : numpy.ndarray, shape (n_rows,)
        E.g. the codes of subject and session.

    Returns
    -------
    numpy.ndarray of int64, shape (n_runs,)
        0 first (none for no rows); compared a chunk at a time (:func:`steps_where`).
    """
    if not len(values):
        return np.zeros(0, np.int64)

    def change(a: int, b: int) -> np.ndarray:
        out = values[a + 1 : b + 1] != values[a:b]
        for other in more:
            out |= other[a + 1 : b + 1] != other[a:b]
        return out

    return np.r_[0, steps_where(len(values), change) + 1]


def _categories(
    column: pd.Series, source: str, name: str, missing_ok: bool = True,
    kept: list | None = None,
) -> tuple[pd.Categorical, list[str]]:
    """A column as a categorical and its categories as strings (several may be equal).

    A categorical column is used as it is (no pass over the samples; added
    to ``kept`` when given); others are factorized once. Missing values
    (code -1) are an error for ids (``missing_ok=False``).
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        values = column.array
        if kept is not None:
            kept.append(values)
    else:
        codes, uniques = pd.factorize(column)
        values = pd.Categorical.from_codes(codes, pd.Index(uniques, dtype=object))
    if not missing_ok and len(values) and values.codes.min() < 0:  # (min: no mask per row)
        row = int(np.flatnonzero(values.codes < 0)[0]) + 1
        raise DataFormatError(
            source, f"{name} is missing at row {row}; every sample needs a {name}",
            column=name,
        )
    return values, [_word(c) for c in values.categories]


def _word(value: Any) -> str:
    """A category as its string (``str``; bytes decoded as UTF-8)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _recode(values: pd.Categorical, words: list[str], categories: list[str]) -> pd.Categorical:
    """``values`` (whose category i reads ``words[i]``) with the given ``categories``.

    Codes are remapped through a small lookup (1 byte per sample for up to
    127 categories); a categorical already in this form is returned as it is.
    """
    dtype = str_categories(tuple(categories))
    same = (values.categories.dtype == dtype.categories.dtype
            and list(values.categories) == categories)
    if same and values.codes.dtype == (np.int8 if len(categories) < 127 else values.codes.dtype):
        return values
    position = {c: i for i, c in enumerate(categories)}
    small = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32767 else np.int32
    lookup = np.array([position.get(w, -1) for w in words] + [-1], dtype=small)
    codes = lookup[values.codes]  # the last entry: code -1 (missing) stays missing
    return pd.Categorical.from_codes(codes, dtype=dtype)


def check_magnitude(
    values: np.ndarray,
    source: str | Path,
    channel: str,
    rows: np.ndarray | None = None,
    where: str = "row",
) -> None:
    """Refuse sensor values beyond :data:`MAX_ABS_SENSOR_VALUE` (in g or rad/s).

    Parameters
    ----------
    values : numpy.ndarray, shape (n_samples,)
        One channel in canonical units (finite).
    source : str or Path
        The file.
    channel : str
        The canonical channel name (``acc_x``, ...) or the file's column.
    rows : numpy.ndarray of int, shape (n_samples,), optional
        1-based line (``where="line"``) or row number of each value; by
        default the position + 1.
    where : {"row", "line"}
        What ``rows`` numbers.

    Raises
    ------
    DataFormatError
        Naming the file, the line or row, the channel and the value.
    """
    step = 1 << 18  # a chunk at a time: no |values| copy of a whole column
    if all(not (np.abs(values[a : a + step]) > MAX_ABS_SENSOR_VALUE).any()
           for a in range(0, len(values), step)):
        return
    big = np.flatnonzero(np.abs(values) > MAX_ABS_SENSOR_VALUE)
    i = int(big[0])
    number = int(rows[i]) if rows is not None else i + 1
    unit = CHANNEL_UNITS.get(channel, "g or rad/s")
    raise DataFormatError(
        source,
        f"value {values[i]:.6g} {unit} ({big.size} such value(s)) is beyond the plausible "
        f"+-{MAX_ABS_SENSOR_VALUE:g} of a motion sensor: a corrupt sample or a unit error "
        "(raw counts need units: {full_scale: F, bits: B}); fix or remove it",
        line=number if where == "line" else None,
        column=channel if where == "line" else f"{channel}, row {number}",
    )
