"""A dataset definition read one session at a time, for summaries of data sets of any size.

``tinyhar datasets check``, ``tinyhar datasets describe`` and ``tinyhar
inspect`` on a dataset definition read it with :func:`map_sessions`: each
session (:func:`tinyhar.datasets.sessions.session_sources`) is loaded on its
own (:meth:`~tinyhar.datasets.sessions.SessionSource.load`, named as the
whole load names it: :func:`~tinyhar.datasets.sessions.shared_session_names`),
handed to a function that keeps what it needs (counts, findings, per-window
values), and dropped before the next one is read. Memory is bounded by the
largest session, not the data set: 1,000 hours of 6-channel 50 Hz data would
take about 40 GB loaded whole.

The warnings the whole load gives once per data set stay once: a restarted
recording (:class:`~tinyhar.datasets.custom.RestartWarning`) and clipped
channels (:class:`~tinyhar.datasets.checks.ClippingWarning`) are collected
from every session and emitted as one warning each, with the same text as the
whole load (count, and the first files in the definition's order). Errors
name the file and line as the whole load does (it is the same loader, on
fewer files).

:class:`SampleCounts` accumulates what ``check`` and ``describe`` report
(samples per class and subject, sessions, subjects) from the sessions'
:class:`~tinyhar.datasets.recording.RecordingSet`; :func:`split_sessions`
cuts a data set loaded whole into the same pieces, so the named data sets go
through the same code.

:func:`count_samples` goes further and reads batches of rows
(:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`, at most
:data:`~tinyhar.datasets.sessions.BATCH_ROWS` rows each, as training reads
them): counting needs no whole session, so memory stays bounded however long
a session is. It reads a tinyhar Parquet recording the same way
(:meth:`~tinyhar.datasets.sessions.RecordingFile.iter_batches`), and
:func:`map_file_sessions` hands such a file's sessions one at a time, each
joined from its batches. ``tinyhar inspect`` takes the batches themselves
(``batches=True`` of :func:`map_sessions` and :func:`map_file_sessions`), so
no session is held whole. A file of at most one batch is read whole, as before;
in a longer one the unit and clipping checks judge each batch of rows (as
training does), so a clipping line is given per batch and session.

Where sessions come from a column, a source is one file and may hold several
sessions. A session name under two subjects, in one file or in two, makes
every session ``"<subject>-<session>"`` in each file's read, as in the whole
load (:func:`~tinyhar.datasets.sessions.shared_session_names` reads the
files' subject and session columns first). When such files together name one
subject's session in two files (the whole load joins them), the data set is
read whole instead, as before: reading it a file at a time cannot give the
same result.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from tinyhar.datasets import sessions as _sessions
from tinyhar.datasets.checks import ChecksLike, ClippingWarning, warn_clipping
from tinyhar.datasets.custom import (
    RestartWarning,
    load_custom,
    resolve_files,
    time_text,
    warn_restarts,
)
from tinyhar.datasets.definition import DatasetDefinition
from tinyhar.datasets.recording import RecordingSet, concat_frames, natural_key, run_starts
from tinyhar.datasets.sessions import RecordingFile, session_sources, shared_session_names

__all__ = ["SampleCounts", "count_samples", "map_file_sessions", "map_sessions",
           "split_sessions"]

T = TypeVar("T")


def split_sessions(recordings: RecordingSet) -> Iterator[RecordingSet]:
    """The sessions of a loaded data set, one :class:`RecordingSet` each, in order.

    Parameters
    ----------
    recordings : RecordingSet
        A data set in memory (its sessions' rows are contiguous).

    Yields
    ------
    RecordingSet
        One session's rows (a view of the frame's rows, re-indexed), with the
        data set's classes, name, citation, licence and source, and the
        session's origin.
    """
    frame = recordings.frame
    codes = frame["session"].cat.codes.to_numpy()
    starts = run_starts(codes)
    ends = np.r_[starts[1:], len(codes)][: len(starts)]
    for a, b in zip(starts, ends, strict=True):
        yield RecordingSet(frame.iloc[a:b].reset_index(drop=True), recordings.sampling_rate_hz,
                           recordings.classes, recordings.name, recordings.citation,
                           recordings.licence, recordings.source, recordings.origins)


class _Fallback(Exception):  # noqa: N818 (a signal, not an error)
    """Sessions from a column that a file-at-a-time read cannot name as the whole load does."""


def map_sessions(path: str | Path, visit: Callable[[RecordingSet], T],
                 checks: ChecksLike = None,
                 on_restart: Callable[[], None] | None = None,
                 batches: bool = False, batch_rows: int | None = None) -> list[T]:
    """Call ``visit`` on each session of a dataset definition, loading one at a time.

    Parameters
    ----------
    path : str or Path
        The YAML dataset definition.
    visit : callable
        Called with each source's :class:`RecordingSet` (one session; one
        file's sessions when sessions come from a column), in the order of
        the whole load; its results are returned. The recordings are dropped
        after the call, so ``visit`` should keep only what it needs. A
        source's class list is that of the definition, or (without
        ``classes``) the sorted labels of that source: join them with
        :meth:`SampleCounts.join`.
    checks : DataChecks or mapping, optional
        As :func:`tinyhar.datasets.custom.load_custom`.
    on_restart : callable, optional
        Called without arguments when the sessions cannot be read one at a
        time as the whole load names them (see the module's notes): the data
        set is then loaded whole, and ``visit`` is called again from its first
        session (the results so far are dropped); a ``visit`` that keeps state
        resets it here.
    batches : bool
        Call ``visit`` on each batch of rows of each source instead
        (:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`;
        consecutive rows, a session's rows possibly in several batches, a
        batch possibly ending one session and starting the next), so memory
        is bounded by a batch, not a session. Read whole (see above), the
        data set is visited a session at a time.
    batch_rows : int, optional
        Most rows per batch (default :data:`~tinyhar.datasets.sessions.BATCH_ROWS`).

    Returns
    -------
    list
        ``visit``'s results, one per source (per batch with ``batches``; one
        per session when read whole), in order.

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`tinyhar.datasets.custom.load_custom` (the message names the
        file and line or row).

    Warns
    -----
    UserWarning
        As :func:`~tinyhar.datasets.custom.load_custom`, once per data set,
        after the last session: a restarted recording, clipped channels.
    """
    path = Path(path)
    try:
        return _by_source(path, visit, checks, batches, batch_rows)
    except _Fallback:
        if on_restart is not None:
            on_restart()
        return [visit(part) for part in split_sessions(load_custom(path, checks))]


def _by_source(path: Path, visit: Callable[[RecordingSet], T], checks: ChecksLike,
               batches: bool = False, batch_rows: int | None = None) -> list[T]:
    sources = session_sources(path)
    prefix = shared_session_names(sources)
    by_file = any(s.subject is None or s.session is None for s in sources)
    order: dict[str, int] = {}
    results, passed, restarts, clipping = [], [], [], []
    dates = False  # the restarts' times are date-times (one definition: all or none)
    seen: dict[str, str] = {}  # session -> subject (sessions from a column)
    for source in sources:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if batches:
                pairs: list[tuple[str, str]] = []
                for batch in source.iter_batches(checks, prefix,
                                                 batch_rows or _sessions.BATCH_ROWS):
                    pairs += _session_pairs(batch)
                    results.append(visit(batch))
                    del batch
            else:
                recordings = source.load(checks, prefix)
                pairs = _session_pairs(recordings)
        for w in caught:
            message = w.message
            if isinstance(message, RestartWarning):
                restarts.append((message.count, list(message.shown)))
                dates = message.dates
            elif isinstance(message, ClippingWarning):
                if not order:
                    definition = DatasetDefinition.from_yaml(path)
                    order = {str(f): i for i, f in enumerate(
                        resolve_files(definition, path.parent, str(path)))}
                clipping += [(_file_position(line, source.files, order), line)
                             for line in message.findings]
            else:
                passed.append(w)
        if by_file:
            _check_names(list(dict.fromkeys(pairs)), seen)
        if not batches:
            results.append(visit(recordings))
            del recordings
    for w in passed:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if restarts:
        warn_restarts(sum(n for n, _ in restarts), [s for _, shown in restarts for s in shown],
                      stacklevel=4, dates=dates)
    if clipping:
        warn_clipping([line for _, line in sorted(clipping, key=lambda c: c[0])], stacklevel=4)
    return results


def _file_position(line: str, files: tuple[str, ...], order: dict[str, int]) -> int:
    """The definition-order position of the file a clipping line names (its first words)."""
    for name in sorted(files, key=len, reverse=True):
        if line.startswith(f"{name}: "):
            return order.get(name, len(order))
    return len(order)


def _session_pairs(recordings: RecordingSet) -> list[tuple[str, str]]:
    """``(subject, session)`` of each run of a session's rows, in order."""
    frame = recordings.frame
    starts = run_starts(frame["session"].cat.codes.to_numpy())
    return [(str(frame["subject"].iloc[i]), str(frame["session"].iloc[i])) for i in starts]


def _check_names(pairs: list[tuple[str, str]], seen: dict[str, str]) -> None:
    """Raise :class:`_Fallback` where a file's sessions cannot be named as the whole load does.

    ``pairs`` are the file's ``(subject, session)`` (:func:`_session_pairs`),
    named as the whole load names them (:func:`shared_session_names` decides
    the ``"<subject>-<session>"`` prefix over all files). A session already
    seen in an earlier file is one the whole load joins with it (or, after an
    earlier file could not be read for that decision, another subject's).
    """
    if any(session in seen for _, session in pairs):
        raise _Fallback
    seen.update({session: subject for subject, session in pairs})


@dataclass
class SampleCounts:
    """Samples per class and subject, sessions and subjects of a data set, joined session-wise.

    Attributes
    ----------
    name, citation, licence : str
        As the data set's.
    sampling_rate_hz : float
        Hz.
    channels : list of str
        Sensor channels.
    classes : list of str
        The class list (the definition's, else the sorted labels found).
    subjects : list of str
        In natural order.
    sessions : list of str
        In order of appearance.
    samples : dict of (str or None, str) -> int
        Samples per ``(class, subject)``; ``None`` for unlabelled samples.
    clock : dict of str -> (float, float)
        Session -> the clock times of its first and last samples (s since the
        Unix epoch, UTC: its :attr:`RecordingSet.origins` plus its times), for
        the sessions with an origin (none for numeric time columns).
    """

    name: str
    sampling_rate_hz: float
    channels: list[str]
    classes: list[str]
    citation: str = ""
    licence: str = ""
    subjects: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    samples: dict[tuple[str | None, str], int] = field(default_factory=dict)
    clock: dict[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, recordings: RecordingSet) -> SampleCounts:
        """The counts of one session's (or a whole data set's) recordings."""
        frame = recordings.frame
        labels = recordings.label_codes().astype(np.int64) + 1
        subjects = frame["subject"].cat.codes.to_numpy().astype(np.int64)
        names = [str(s) for s in frame["subject"].cat.categories]
        width = len(recordings.classes) + 1
        counts = np.bincount(subjects * width + labels, minlength=len(names) * width)
        classes = [None, *recordings.classes]
        samples = {(classes[k % width], names[k // width]): int(counts[k])
                   for k in np.flatnonzero(counts)}
        clock = {}
        if recordings.origins:
            span = frame.groupby("session", observed=True)["time"].agg(["min", "max"])
            clock = {s: (origin + float(span.at[s, "min"]), origin + float(span.at[s, "max"]))
                     for s, origin in recordings.origins.items()}
        return cls(recordings.name, recordings.sampling_rate_hz, recordings.channels,
                   list(recordings.classes), recordings.citation, recordings.licence,
                   recordings.subjects, recordings.sessions, samples, clock)

    @classmethod
    def join(cls, parts: list[SampleCounts]) -> SampleCounts:
        """The counts of a data set from its sessions' (:func:`map_sessions` order).

        The class list is the sessions' common one (a definition's
        ``classes``), else the sorted union of their labels, as the whole
        load makes it.
        """
        first = parts[0]
        classes = list(first.classes)
        if any(p.classes != classes for p in parts):
            classes = sorted({c for p in parts for c in p.classes})
        samples: dict[tuple[str | None, str], int] = {}
        for p in parts:
            for key, n in p.samples.items():
                samples[key] = samples.get(key, 0) + n
        subjects = sorted({s for p in parts for s in p.subjects}, key=natural_key)
        sessions = list(dict.fromkeys(s for p in parts for s in p.sessions))
        clock: dict[str, tuple[float, float]] = {}
        for p in parts:  # (a session's batches: its earliest first and latest last sample)
            for session, (a, b) in p.clock.items():
                was = clock.get(session, (a, b))
                clock[session] = (min(was[0], a), max(was[1], b))
        return cls(first.name, first.sampling_rate_hz, first.channels, classes, first.citation,
                   first.licence, subjects, sessions, samples, clock)

    @property
    def n_samples(self) -> int:
        """All samples."""
        return sum(self.samples.values())

    def per_class(self) -> dict[str | None, int]:
        """Samples per class (``None``: unlabelled), classes in their order, unlabelled last."""
        out = dict.fromkeys([*self.classes, None], 0)
        for (label, _), n in self.samples.items():
            out[label] += n
        return out

    def clock_spans(self) -> dict[str, tuple[str, str]]:
        """:attr:`clock` as ISO 8601 UTC text to the millisecond (``"2016-11-13T02:18:00.010Z"``),
        sessions in order; empty without clock time."""
        return {s: (time_text(self.clock[s][0], dates=True),
                    time_text(self.clock[s][1], dates=True))
                for s in self.sessions if s in self.clock}

    def subjects_per_class(self) -> dict[str, int]:
        """Subjects with samples of each class."""
        return {c: sum(1 for (label, _), n in self.samples.items() if label == c and n)
                for c in self.classes}


def _map_file(path: str | Path, visit: Callable[[RecordingSet], T],
              checks: ChecksLike, batch_rows: int | None = None) -> list[T]:
    """``visit`` of each batch of a tinyhar Parquet recording
    (:meth:`RecordingFile.iter_batches`), the batches' clipping warnings joined into one."""
    results, passed, clipping = [], [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in RecordingFile(str(path)).iter_batches(
                checks, batch_rows=batch_rows or _sessions.BATCH_ROWS):
            results.append(visit(batch))
            del batch
    for w in caught:
        if isinstance(w.message, ClippingWarning):
            clipping += w.message.findings
        else:
            passed.append(w)
    for w in passed:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    warn_clipping(clipping, stacklevel=4)
    return results


def map_file_sessions(path: str | Path, visit: Callable[[RecordingSet], T],
                      checks: ChecksLike = None, batches: bool = False,
                      batch_rows: int | None = None) -> list[T]:
    """Call ``visit`` on each session of a tinyhar Parquet recording, one at a time.

    The file is read in batches of rows
    (:meth:`~tinyhar.datasets.sessions.RecordingFile.iter_batches`, at most
    :data:`~tinyhar.datasets.sessions.BATCH_ROWS` rows each) and each
    session is joined from its rows in the batches, so memory is bounded by
    the largest session plus a batch, not the file (as :func:`map_sessions`
    for a definition).

    Parameters
    ----------
    path : str or Path
        A file written by :meth:`RecordingSet.to_parquet`
        (:meth:`RecordingFile.streams` true for it).
    visit : callable
        Called with each session's :class:`RecordingSet` (the file's rate,
        classes, name, citation and licence; source: the file), in the
        file's order, as :func:`split_sessions` of the whole file gives them;
        its results are returned.
    checks : DataChecks or mapping, optional
        Plausibility checks, as :meth:`RecordingSet.from_parquet` (judged per
        batch and session in a file of several batches).
    batches : bool
        Call ``visit`` on each batch of rows instead (consecutive rows, as
        :func:`map_sessions` with ``batches``): memory bounded by a batch.
    batch_rows : int, optional
        Rows per batch (default :data:`~tinyhar.datasets.sessions.BATCH_ROWS`).

    Returns
    -------
    list
        ``visit``'s results, one per session (per batch with ``batches``).

    Raises
    ------
    DataFormatError
        As :meth:`RecordingSet.from_parquet` (the message names the file and
        the batch's rows).

    Warns
    -----
    UserWarning
        Clipped channels, one warning after the last session.
    """
    if batches:
        return _map_file(path, visit, checks, batch_rows)
    results: list[T] = []
    pending: list[RecordingSet] = []  # the pieces of the session being read

    def flush() -> None:
        first = pending[0]
        frame = (first.frame if len(pending) == 1
                 else concat_frames([p.frame for p in pending]))
        pending.clear()
        results.append(visit(RecordingSet(frame, first.sampling_rate_hz, first.classes,
                                          first.name, first.citation, first.licence,
                                          str(path), first.origins)))

    def collect(batch: RecordingSet) -> None:
        for piece in split_sessions(batch):
            if pending and piece.sessions != pending[0].sessions:
                flush()
            pending.append(piece)

    _map_file(path, collect, checks, batch_rows)
    if pending:
        flush()
    return results


def count_samples(dataset: str | Path, checks: ChecksLike = None) -> SampleCounts:
    """:class:`SampleCounts` of a dataset definition or Parquet recording, read in batches.

    Parameters
    ----------
    dataset : str or Path
        The YAML dataset definition (read with :func:`map_sessions`, batch
        by batch), or a tinyhar Parquet recording
        (:meth:`~tinyhar.datasets.sessions.RecordingFile.streams`; read batch
        by batch, :meth:`~tinyhar.datasets.sessions.RecordingFile.iter_batches`).
        Memory is bounded by a batch of rows, not a session or the file.
    checks : DataChecks or mapping, optional
        As :func:`tinyhar.datasets.custom.load_custom` (a Parquet recording:
        as :meth:`RecordingSet.from_parquet`).

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`map_sessions` (a Parquet recording: as
        :meth:`RecordingSet.from_parquet`).
    """
    if RecordingFile.streams(dataset):
        return SampleCounts.join(_map_file(dataset, SampleCounts.of, checks))
    return SampleCounts.join(map_sessions(dataset, SampleCounts.of, checks, batches=True))
