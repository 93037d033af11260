"""A data set as a list of sessions that load one at a time (out-of-core reading).

:func:`session_sources` turns a data set (a dataset definition, or a
canonical Parquet file) into :class:`SessionSource` objects: small,
picklable descriptions of where one session's samples are, which a worker
process or a Dask worker loads with :meth:`SessionSource.load`. Nothing is
read while planning except file names, so memory while reading is bounded by
the largest session, not the data set.

A definition's files are grouped by the ``(subject, session)`` their names
give (``file_pattern`` groups and ``constants``; without a session each file
is its own session, as in :func:`tinyhar.datasets.custom.load_custom`). When
subjects or sessions come from a column, each file is read on its own and
must hold whole sessions: a session found in two files is an error naming
both, since joining them would need both in memory.

One long session need not be read whole either:
:meth:`SessionSource.iter_batches` reads a session (one file or several, CSV,
Parquet or NPY; e.g. a 24 h recording) a file at a time and each file in
batches of rows, each converted, checked and labelled as the whole session
would be; the window cutting of
:func:`tinyhar.features.streams.iter_stream_windows` carries the few samples a
window needs over from one batch to the next (and from one file to the next),
so the windows are exactly those of the whole session. Sessions from a column
and time columns that go back are read whole (see
:meth:`~SessionSource.iter_batches` for which).

Each source has a :meth:`~SessionSource.fingerprint`: a BLAKE2b hash of its
files' bytes and of the definition, the key under which
:mod:`tinyhar.features.table` caches the session's features (a changed file
gets a new key, so a stale cache entry is never used).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.custom import (
    META_FIELDS,
    DatasetDefinition,
    load_definition,
    meta_from_name,
    resolve_files,
)
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, RecordingSet, steps_where
from tinyhar.errors import DataFormatError

_HASH_CHUNK = 1 << 20

BATCH_ROWS = 1 << 18
"""Rows of one batch of :meth:`SessionSource.iter_batches` (262,144 samples: 1.46 h at
50 Hz, 6.3 MB as 6 float32 channels; about 1 KB per row is held while a batch is converted
and classified)."""


@dataclass(frozen=True)
class SessionSource:
    """Where one session (or one file of sessions) of a data set is.

    Attributes
    ----------
    definition : str
        Path of the dataset definition (YAML).
    files : tuple of str
        The session's files, in the definition's order.
    subject, session : str or None
        As the file names say (None when they come from a column).
    """

    definition: str
    files: tuple[str, ...]
    subject: str | None
    session: str | None

    @property
    def name(self) -> str:
        """A readable name for messages: the subject/session, else the first file."""
        if self.subject is not None and self.session is not None:
            return f"subject {self.subject}, session {self.session}"
        return Path(self.files[0]).name

    def load(self, checks=None, session_prefix: bool = False) -> RecordingSet:
        """Read this session's samples.

        Parameters
        ----------
        checks : DataChecks or mapping, optional
            Plausibility checks, as :func:`tinyhar.datasets.custom.load_custom`.
        session_prefix : bool
            Name sessions ``"<subject>-<session>"``, as the in-memory loader does
            when a session name is used by several subjects
            (:func:`shared_session_names`).

        Returns
        -------
        RecordingSet
            The session(s) in the files, in tinyhar's units (g, rad/s, s).

        Raises
        ------
        ConfigError, DataFormatError
            As :func:`tinyhar.datasets.custom.load_custom`, naming the file.
        """
        path = Path(self.definition)
        definition = DatasetDefinition.from_yaml(path)
        recordings = load_definition(definition, path.parent, str(path), checks,
                                     files=[Path(f) for f in self.files])
        if session_prefix:
            recordings.frame["session"] = prefixed_sessions(recordings.frame)
        return recordings

    def iter_batches(self, checks=None, session_prefix: bool = False,
                     batch_rows: int = BATCH_ROWS) -> Iterator[RecordingSet]:
        """Read this source's samples as consecutive batches of rows (bounded memory).

        A session with subject and session from the file names (or
        ``constants``) is read a file at a time and each file in batches of
        ``batch_rows`` rows (:func:`tinyhar.datasets.custom.iter_file_batches`:
        Parquet one column chunk at a time, NPY memory-mapped, CSV parsed
        ``batch_rows`` lines at a time), when its files may hold more than
        ``batch_rows`` rows in all (Parquet and NPY files as their metadata
        say, CSV files as their size allows) and either there is no time
        column (time counts on across the files, in the definition's order,
        as :meth:`load` does) or the time column,
        read first on its own (8 bytes per sample of one file), increases
        throughout once the files are put in the order of their first time
        stamps (the order :meth:`load` joins them in; gaps, within a file or
        between files, are kept as they are). The time column is also
        checked against the sampling rate there, per file. Each batch is
        converted and labelled as the whole session would be (time from the
        session's first sample, line and row numbers of the file in
        messages); the unit and clipping checks
        (:func:`tinyhar.datasets.checks.check_signals`) run on each batch
        instead of each file, and clipping is warned about once at the end.

        Every other source is read whole (:meth:`load`) as one batch:
        subjects or sessions from a column, a time column that goes back
        (restarts split into sessions), repeats or does not pass its checks
        (the whole read reports them, with their priority), and sessions of
        at most ``batch_rows`` rows.

        Parameters
        ----------
        checks : DataChecks or mapping, optional
            As :meth:`load`.
        session_prefix : bool
            As :meth:`load`.
        batch_rows : int
            Most rows per batch (:data:`BATCH_ROWS`); a file's last batch, and
            a CSV batch with blank lines, have fewer.

        Yields
        ------
        RecordingSet
            Consecutive rows of the session, in the order :meth:`load` gives
            them; the batches joined equal :meth:`load` (but for the class
            list of a definition without ``classes``: each batch's labels).

        Raises
        ------
        ConfigError, DataFormatError
            As :meth:`load`, for the first problem in reading order (a file
            with several problems may name another one first than
            :meth:`load`, which reads each column whole first); the message
            names the file and the line (CSV) or row.
        """
        from tinyhar.datasets.checks import resolve_checks, warn_clipping
        from tinyhar.datasets.custom import (
            _check_file,
            _check_labels,
            iter_file_batches,
        )
        from tinyhar.datasets.recording import constant_category

        path = Path(self.definition)
        definition = DatasetDefinition.from_yaml(path)
        active = resolve_checks(definition.checks, checks)
        files = self._batch_order(definition, active, batch_rows)
        if files is None:
            yield self.load(checks, session_prefix)
            return
        pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
        rate = definition.sampling_rate_hz
        channels = [*ACC_CHANNELS,
                    *(GYRO_CHANNELS if definition.columns.gyro_x is not None else ())]
        session = f"{self.subject}-{self.session}" if session_prefix else self.session
        clipping, row0, t_first = [], 0, None
        for file in files:
            for part, where in iter_file_batches(definition, file, path.parent, pattern,
                                                 batch_rows):
                clipping.append(_check_file(definition, file, part, active))
                n = len(part["_line"])
                part["_file"] = np.zeros(n, dtype=np.int8)
                classes = _check_labels(part, definition, [file], [where])
                if definition.columns.time is None:
                    time = (row0 + np.arange(n)) / rate
                else:
                    t_first = part["time"][0] if t_first is None else t_first
                    time = part["time"] - t_first
                frame = pd.DataFrame(
                    {"time": time, **{c: part[c] for c in channels}, "label": part["label"],
                     "subject": part["subject"], "session": constant_category(session, n)},
                    copy=False,
                )
                del part
                row0 += n
                yield RecordingSet(frame, rate, classes, name=definition.name,
                                   citation=definition.citation, licence=definition.licence,
                                   source=str(path))
                del frame
        warn_clipping(clipping)

    def _batch_order(self, definition: DatasetDefinition, active,
                     batch_rows: int) -> list[Path] | None:
        """The files in the order :meth:`load` joins them when this source reads in batches,
        else None (see :meth:`iter_batches` for when).

        With a time column, each file's time is read on its own (one file at
        a time) to order the files and to find whether time increases
        throughout; it is checked against the sampling rate here.
        """
        from tinyhar.datasets.custom import _check_rate, file_rows, file_time
        from tinyhar.errors import TinyharError

        if self.subject is None or self.session is None:
            return None
        files = [Path(f) for f in self.files]
        try:
            # rows of Parquet and NPY files; of CSV the most the file can hold (a sample has a
            # number, >= 1 character and a separator, per sensor column)
            sensors = 6 if definition.columns.gyro_x is not None else 3
            rows = [file_rows(definition, f) for f in files]
            most = [f.stat().st_size // (2 * sensors) if r is None else r
                    for f, r in zip(files, rows, strict=True)]
            if sum(most) <= batch_rows:
                return None  # one batch: read whole (a CSV file is then parsed once)
            if definition.columns.time is None:
                return files
            spans = []
            for file in files:
                t = file_time(definition, file)
                if not len(t) or steps_where(len(t), lambda a, b, t=t: t[a + 1 : b + 1] <= t[a:b]
                                             ).size:
                    return None  # read whole: that path splits restarts and names errors
                _check_rate(definition, file, t, active)
                spans.append((float(t[0]), float(t[-1])))
                del t
        except (TinyharError, OSError):
            return None  # read whole: that path reports the problem
        order = sorted(range(len(files)), key=lambda i: (spans[i][0], i))
        if any(spans[b][0] <= spans[a][1] for a, b in zip(order[:-1], order[1:], strict=True)):
            return None  # files overlap in time: restarts (or repeats) at a join
        return [files[i] for i in order]

    def subjects(self, checks=None, session_prefix: bool = False) -> list[str]:
        """The source's subjects: from the file name, else read from the files.

        Raises
        ------
        ConfigError, DataFormatError
            As :meth:`load`.
        """
        if self.subject is not None:
            return [str(self.subject)]
        frame = self.load(checks, session_prefix).frame
        return [str(v) for v in frame["subject"].unique()]

    def fingerprint(self) -> str:
        """BLAKE2b (32-byte hex) of the definition's text and every file's bytes.

        Raises
        ------
        DataFormatError
            If a file cannot be read.
        """
        digest = hashlib.blake2b(digest_size=32)
        digest.update(Path(self.definition).read_bytes())
        for name in self.files:
            digest.update(b"\x00" + Path(name).name.encode() + b"\x00")
            try:
                with open(name, "rb") as handle:
                    while chunk := handle.read(_HASH_CHUNK):
                        digest.update(chunk)
            except OSError as exc:
                raise DataFormatError(name, f"cannot read it ({exc.strerror or exc})") from exc
        return digest.hexdigest()


@dataclass(frozen=True)
class RecordingFile:
    """A tinyhar Parquet recording (:meth:`RecordingSet.to_parquet`) as one source of sessions.

    The counterpart of :class:`SessionSource` for ``tinyhar predict RUN
    rec.parquet`` and ``evaluate --continuous`` on such a file: its sessions
    are read in batches of rows (:meth:`iter_batches`), so a recording of
    many hours is never held whole.

    Attributes
    ----------
    path : str
        The file.
    """

    path: str
    subject = None
    session = None

    @property
    def name(self) -> str:
        """The file name, for messages."""
        return Path(self.path).name

    def load(self, checks=None, session_prefix: bool = False) -> RecordingSet:
        """The whole file, as ``tinyhar`` reads a ``.parquet`` data set (bundled copies too).

        Raises
        ------
        DataFormatError
            As :meth:`RecordingSet.from_parquet`.
        """
        from tinyhar.datasets.registry import _read_parquet

        return _read_parquet(Path(self.path), checks)

    def _metadata(self) -> dict | None:
        """The file's tinyhar metadata (rate, classes, name), None when not a plain recording."""
        import json

        import pyarrow.parquet as pq
        from pyarrow import ArrowException

        try:
            stored = pq.read_schema(self.path).metadata or {}
            raw = None if b"tinyhar_bundled" in stored else stored.get(b"tinyhar")
            meta = json.loads(raw) if raw is not None else None
        except (OSError, ValueError, ArrowException):
            return None
        if not isinstance(meta, dict) or "sampling_rate_hz" not in meta \
                or not isinstance(meta.get("classes"), list):
            return None
        return meta

    @staticmethod
    def streams(path: str | Path) -> bool:
        """Whether ``path`` is a readable tinyhar Parquet recording (read per session and batch).

        False for other names, files that cannot be read or lack tinyhar's
        metadata, and bundled copies: those are loaded whole, which reports
        what is wrong with them.
        """
        return Path(path).suffix.lower() == ".parquet" and Path(path).is_file() \
            and RecordingFile(str(path))._metadata() is not None

    def dataset_name(self) -> str:
        """The data set's name stored in the file (a bundled copy's as loaded; else the stem)."""
        from tinyhar.errors import TinyharError

        meta = self._metadata()
        if meta is None:
            try:
                return self.load().name  # a bundled copy (small) or an error reported later
            except TinyharError:
                return Path(self.path).stem
        return str(meta.get("name", Path(self.path).stem))

    def subjects(self, checks=None, session_prefix: bool = False) -> list[str]:
        """The file's subjects, from its ``subject`` column alone.

        Raises
        ------
        DataFormatError
            If the file cannot be read (as :meth:`load`).
        """
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        from pyarrow import ArrowException

        try:
            column = pq.read_table(self.path, columns=["subject"],
                                   read_dictionary=["subject"]).column(0)  # codes, no strings
            return [str(v) for v in pc.unique(column).to_pylist() if v is not None]
        except (OSError, ValueError, KeyError, ArrowException):
            return self.load(checks).subjects  # reports what is wrong with the file

    def iter_batches(self, checks=None, session_prefix: bool = False,
                     batch_rows: int = BATCH_ROWS) -> Iterator[RecordingSet]:
        """The file's rows in batches of ``batch_rows``, each a checked :class:`RecordingSet`.

        Each batch is checked as :meth:`RecordingSet.from_parquet` checks the
        whole file (columns, values, time increasing within each session,
        the rows of a session together, across batches too); the
        plausibility checks (sampling rate, units, clipping;
        :func:`tinyhar.datasets.checks.check_recording_groups`) run on each
        session's rows within a batch. A file of at most ``batch_rows`` rows,
        or a bundled copy (int16 counts), is read whole (:meth:`load`).

        Parameters
        ----------
        checks : DataChecks or mapping, optional
            Plausibility checks (all on by default).
        session_prefix : bool
            Unused (a tinyhar recording names its sessions already).
        batch_rows : int
            Rows per batch (:data:`BATCH_ROWS`).

        Yields
        ------
        RecordingSet
            Consecutive rows of the file; a message about a batch names the
            file and the batch's rows.

        Raises
        ------
        DataFormatError
            As :meth:`RecordingSet.from_parquet`.
        """
        import pyarrow.parquet as pq
        from pyarrow import ArrowException

        from tinyhar.datasets.checks import check_recording_groups, resolve_checks
        from tinyhar.datasets.custom import _open_parquet, _ParquetColumns

        meta = self._metadata()
        try:
            handle = None if meta is None else _open_parquet(Path(self.path), read_dictionary=[
                c for c in ("label", "subject", "session") if c in pq.read_schema(self.path).names])
        except (OSError, ValueError, ArrowException):
            handle = None
        if handle is None or handle.metadata.num_rows <= batch_rows:
            yield self.load(checks)
            return
        active = resolve_checks(checks)
        row0, last, seen = 0, None, set()
        try:
            batches = handle.iter_batches(batch_size=batch_rows, use_threads=False)
            for batch in batches:
                where = f"{self.path} (rows {row0 + 1}-{row0 + batch.num_rows})"
                rec = RecordingSet(batch.to_pandas(), meta["sampling_rate_hz"], meta["classes"],
                                   str(meta.get("name", Path(self.path).stem)),
                                   str(meta.get("citation", "")), str(meta.get("licence", "")),
                                   where)
                del batch
                _ParquetColumns.release()
                last = _check_continues(rec, last, seen, where)
                check_recording_groups(rec, active, lambda subject, session, w=where:
                                       f"{w}, session {session}", time_column=True)
                row0 += len(rec.frame)
                yield rec
        except (OSError, ArrowException) as exc:
            raise DataFormatError(self.path, f"cannot read as Parquet: {exc}") from exc

    def fingerprint(self) -> str:
        """BLAKE2b (32-byte hex) of the file's bytes (as :meth:`SessionSource.fingerprint`)."""
        digest = hashlib.blake2b(digest_size=32)
        with open(self.path, "rb") as handle:
            while chunk := handle.read(_HASH_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()


def _check_continues(rec: RecordingSet, last: tuple | None, seen: set, where: str) -> tuple:
    """Check a batch against the rows before it: time goes on, sessions are not split up.

    Returns the batch's last ``(session, time)``; ``seen`` gains its sessions.

    Raises
    ------
    DataFormatError
        Time not increasing from the previous batch's last sample of the same
        session, or a session whose rows came before another session's.
    """
    frame = rec.frame
    sessions = [str(s) for s in pd.unique(frame["session"])]
    first_time = float(frame["time"].iloc[0])
    if last is not None and sessions[0] == last[0] and first_time <= last[1]:
        raise DataFormatError(
            where, f"time does not increase at the batch's first row (session {sessions[0]}); "
            "sort each session by time and remove duplicate samples", column="time")
    again = [s for s in sessions if s in seen and not (last is not None and s == last[0]
                                                       and s == sessions[0])]
    if again:
        raise DataFormatError(where, f"rows of session {again[0]} are not contiguous; sort by "
                              "session then time", column="session")
    seen.update(sessions)
    return sessions[-1], float(frame["time"].iloc[-1])


def prefixed_sessions(frame: pd.DataFrame) -> pd.Categorical:
    """The ``session`` column of a canonical frame renamed ``"<subject>-<session>"``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A :attr:`RecordingSet.frame` (a session belongs to one subject).

    Returns
    -------
    pandas.Categorical
        The same codes, each category renamed (no string per sample).
    """
    session = frame["session"].array
    codes = session.codes
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
    owner = {int(codes[i]): str(frame["subject"].iloc[i]) for i in starts}
    return session.rename_categories(
        [f"{owner[i]}-{name}" for i, name in enumerate(session.categories)]
    )


def session_sources(definition_path: str | Path) -> list[SessionSource]:
    """Plan the out-of-core reading of a dataset definition, one source per session.

    Parameters
    ----------
    definition_path : str or Path
        A dataset definition (YAML, see :mod:`tinyhar.datasets.custom`).

    Returns
    -------
    list of SessionSource
        In file order; files of one ``(subject, session)`` (from names or
        constants) are one source.

    Raises
    ------
    ConfigError
        If the definition is invalid or a pattern matches no file.
    DataFormatError
        If a file name does not match ``file_pattern``.
    """
    path = Path(definition_path)
    definition = DatasetDefinition.from_yaml(path)
    files = resolve_files(definition, path.parent, str(path))
    pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
    from_column = {k for k in META_FIELDS if getattr(definition.columns, k) is not None}
    groups: dict[tuple, list[str]] = {}
    metas: dict[tuple, dict] = {}
    for file in files:
        meta = meta_from_name(file, path.parent, pattern, definition)
        if {"subject", "session"} & from_column or meta.get("subject") is None:
            key: tuple = ("file", str(file))
        else:
            key = (meta["subject"], meta["session"])
        groups.setdefault(key, []).append(str(file))
        metas[key] = meta
    out = []
    for key, names in groups.items():
        by_name = key[0] != "file"
        out.append(SessionSource(
            definition=str(path), files=tuple(names),
            subject=metas[key].get("subject") if by_name else None,
            session=metas[key].get("session") if by_name else None,
        ))
    return out


def shared_session_names(sources: list[SessionSource]) -> bool:
    """Whether a session name is used by several subjects (then ids become ``subject-session``).

    The in-memory loader (:func:`tinyhar.datasets.custom.load_custom`) makes
    the same decision over the whole data set; pass the result as
    ``SessionJob.session_prefix`` so both paths name sessions alike.
    """
    owners: dict[str, set] = {}
    for source in sources:
        if source.session is not None:
            owners.setdefault(source.session, set()).add(source.subject)
    return any(len(s) > 1 for s in owners.values())
