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

One long session need not be read whole either, nor one file of many
sessions: :meth:`SessionSource.iter_batches` reads a source (a session of one
file or several, CSV, Parquet or NPY, e.g. a 24 h recording; or one file whose
subject and session columns hold many sessions, e.g. a study's export) a file
at a time and each file in batches of rows, each converted, checked and
labelled as the whole read would be; a first pass over the time, subject and
session columns alone plans it (files in time order, restarts made new
sessions ``<session>~2``, the rate check). The window cutting of
:func:`tinyhar.features.streams.iter_stream_windows` carries the few samples a
window needs over from one batch to the next (and from one file to the next),
so the windows are exactly those of the whole read. A file whose sessions
interleave is read whole, with a warning (see
:meth:`~SessionSource.iter_batches` for this and the other cases read whole).

Each source has a :meth:`~SessionSource.fingerprint`: a BLAKE2b hash of its
files' paths (under the definition's folder) and bytes and of the definition, the key under which
:mod:`tinyhar.features.table` caches the session's features (a changed file
gets a new key, so a stale cache entry is never used).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.custom import (
    META_FIELDS,
    NS_PER_S,
    DatasetDefinition,
    GyroJoin,
    file_origins,
    file_session_pairs,
    load_definition,
    meta_from_name,
    read_seconds,
    resolve_files,
    time_column,
    time_since,
)
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    run_starts,
    steps_where,
)
from tinyhar.errors import DataFormatError, TinyharError

_HASH_CHUNK = 1 << 20

BATCH_ROWS = 1 << 18
"""Rows of one batch of :meth:`SessionSource.iter_batches` (262,144 samples: 1.46 h at
50 Hz, 6.3 MB as 6 float32 channels; about 1 KB per row is held while a batch is converted
and classified)."""


def _bytes_on_disk(files) -> int:
    """Total size of ``files`` in bytes; 0 for one that cannot be read (reading it reports
    it)."""
    total = 0
    for file in files:
        try:
            total += os.stat(file).st_size
        except OSError:
            pass
    return total


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

    @property
    def nbytes(self) -> int:
        """Bytes of the session's files on disk (:func:`_bytes_on_disk`): the cost of its
        task, for grouping short sessions
        (:func:`tinyhar.compute.map_in_order`'s ``weights``; a ``gyro`` key's files left
        out: a weight, not a measure)."""
        return _bytes_on_disk(self.files)

    def read_files(self) -> tuple[str, ...]:
        """Every file a read of this source opens: :attr:`files` and, with a ``gyro`` key,
        each one's gyroscope file (:meth:`tinyhar.datasets.custom.GyroJoin.pair_of`;
        none where the definition or the pairing fails: the read reports it)."""
        try:
            definition = DatasetDefinition.from_yaml(Path(self.definition))
            join = GyroJoin.of(definition, Path(self.definition).parent, self.definition)
            if join is None:
                return self.files
            partners = [str(join.pair_of(Path(f))) for f in self.files]
        except (TinyharError, OSError):
            return self.files
        return tuple(dict.fromkeys([*self.files, *partners]))

    def load(self, checks=None, session_prefix: bool = False) -> RecordingSet:
        """Read this session's samples.

        Parameters
        ----------
        checks : DataChecks or mapping, optional
            Plausibility checks, as :func:`tinyhar.datasets.custom.load_custom`.
        session_prefix : bool
            Name every session ``"<subject>-<session>"``, as the in-memory loader
            does when a session name is used by several subjects anywhere in the
            data set (:func:`shared_session_names`); without it, only when a name
            is shared within this source's files.

        Returns
        -------
        RecordingSet
            The session(s) in the files, in tinyhar's units (g, rad/s, s).

        Raises
        ------
        ConfigError, DataFormatError
            As :func:`tinyhar.datasets.custom.load_custom`, naming the file.
        """
        return self._load(DatasetDefinition.from_yaml(Path(self.definition)), checks,
                          session_prefix)

    def _load(self, definition: DatasetDefinition, checks, session_prefix: bool) -> RecordingSet:
        """:meth:`load` with the definition read already."""
        path = Path(self.definition)
        return load_definition(definition, path.parent, str(path), checks,
                               files=[Path(f) for f in self.files],
                               session_prefix=session_prefix)

    def iter_batches(self, checks=None, session_prefix: bool = False,
                     batch_rows: int = BATCH_ROWS) -> Iterator[RecordingSet]:
        """Read this source's samples as consecutive batches of rows (bounded memory).

        The source's files are read one at a time and each file in batches of
        ``batch_rows`` rows (:func:`tinyhar.datasets.custom.iter_file_batches`:
        Parquet one column chunk at a time, NPY memory-mapped, CSV parsed
        ``batch_rows`` lines at a time), when they may hold more than
        ``batch_rows`` rows in all (Parquet and NPY files as their metadata
        say, CSV files as their size allows). A first pass reads only the
        time, subject and session columns (those the files have), batch by
        batch, to plan the reading as :meth:`load` would assemble the rows:

        - the files of one session (subject and session from the file names
          or ``constants``) are put in the order of their first time stamps
          (without a time column: the definition's order, time counting on
          across the files); gaps, within a file or between files, are kept;
        - a file whose subjects or sessions come from a column (one file of
          many sessions) streams session after session when the rows of each
          session are together (contiguous, as in an export sorted by
          subject and session); each batch may then hold the end of one
          session and the start of the next. A file whose sessions
          interleave (a session's rows come back after another session's)
          is read whole (:meth:`load`, which groups the rows of each
          session; it needs memory for the whole file), with a warning
          naming the file and the line where a session comes back: sort its
          rows by subject, session and time to read it in batches;
        - time going back within a session (a restarted recording, inside a
          file or where the next file starts before the previous one ended)
          starts a new session ``"<session>~2"`` (then ``~3``, ...) there, as
          :meth:`load` does, with the same warning (the first pass finds the
          restarts before any batch is read);
        - the time column is checked against the sampling rate per file, from
          its steps written to a temporary file (never the whole column in
          memory), as :meth:`load` checks it.

        Each batch is converted and labelled as the whole read would be (time
        from the start of each session and, for date-times, the sessions'
        ``origins``; session names as :meth:`load` gives them:
        ``"<subject>-<session>"`` with ``session_prefix`` or when a session
        name is used by several subjects of the file, ``~2`` after a restart;
        line and row numbers of the file in messages); the unit and clipping checks
        (:func:`tinyhar.datasets.checks.check_signals`) run on each batch
        instead of each file, and clipping is warned about once at the end.

        With a ``gyro`` key (the gyroscope in files of its own), each file's
        gyroscope file is read whole, once (about 20 bytes per gyroscope
        sample), and each batch gets its rows' interpolated values and leaves
        out the rows without one, as :meth:`load` does
        (:class:`tinyhar.datasets.custom.GyroJoin`); the first pass leaves out
        the same rows, and warns about them once.

        Read whole (:meth:`load`) as one batch: sources of at most
        ``batch_rows`` rows, files whose sessions interleave, time stamps
        repeated within a session, restarts so frequent that :meth:`load`
        refuses the rows as shuffled, with ``checks: {time_order: false}`` a
        session whose time goes back (the whole read sorts it) or a
        sampling-rate check on a time column that is not in order (it sorts
        the file's time), a missing subject or session, and files whose time,
        subject or session column cannot be read (the whole read reports the
        problem, with its priority).

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
            Consecutive rows of the source, in the order :meth:`load` gives
            them; the batches joined have the values of :meth:`load` (time,
            channels, labels, subject and session of every row), but each
            batch's ``label``, ``subject`` and ``session`` categories are its
            own (the class list of a definition without ``classes``: each
            batch's labels; subjects and sessions: those in the batch, except
            for a session from the file names without restarts, which keeps
            :meth:`load`'s single category).

        Raises
        ------
        ConfigError, DataFormatError
            As :meth:`load`, for the first problem in reading order (a file
            with several problems may name another one first than
            :meth:`load`, which reads each column whole first); the message
            names the file and the line (CSV) or row. A time value that is not
            a number and a rate that does not match are reported by the first
            pass, before any batch.

        Warns
        -----
        UserWarning
            Restarts (as :meth:`load`), before the first batch; clipping,
            after the last; a file read whole because its sessions interleave.
        """
        from tinyhar.datasets.checks import resolve_checks, warn_clipping
        from tinyhar.datasets.custom import (
            _check_file,
            _check_labels,
            iter_file_batches,
            warn_restarts,
        )

        path = Path(self.definition)
        definition = DatasetDefinition.from_yaml(path)
        active = resolve_checks(definition.checks, checks)
        plan = None if self._small(definition, batch_rows) else self._plan(
            definition, active, batch_rows)
        if plan is None:
            yield self._load(definition, checks, session_prefix)
            return
        dates = definition.units.dates  # the time column holds date-times
        if plan.restarts:
            warn_restarts(plan.restarts, plan.shown_as(session_prefix), stacklevel=3,
                          dates=dates)
        pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
        rate = definition.sampling_rate_hz
        channels = [*ACC_CHANNELS, *(GYRO_CHANNELS if definition.has_gyro() else ())]
        clipping: list = []
        state = _SessionState(plan, session_prefix, definition.columns.time is not None, rate,
                              dates)
        for file in plan.files:
            state.stored = file_origins(definition, file)  # a tinyhar recording's clock times
            for part, where in iter_file_batches(definition, file, path.parent, pattern,
                                                 batch_rows):
                clipping.append(_check_file(definition, file, part, active))
                n = len(part["_line"])
                part["_file"] = np.zeros(n, dtype=np.int8)
                classes = _check_labels(part, definition, [file], [where])
                time, session = state.assign(part, file, where)
                frame = pd.DataFrame(
                    {"time": time, **{c: part[c] for c in channels}, "label": part["label"],
                     "subject": part["subject"], "session": session},
                    copy=False,
                )
                del part
                yield RecordingSet(frame, rate, classes, name=definition.name,
                                   citation=definition.citation, licence=definition.licence,
                                   source=str(path), origins=state.origins or None)
                del frame
        warn_clipping(clipping)

    def _small(self, definition: DatasetDefinition, batch_rows: int) -> bool:
        """Whether the files hold at most ``batch_rows`` rows (Parquet and NPY as their
        metadata say; CSV as its size allows: a sample has a number, >= 1 character and a
        separator per sensor column), or cannot be sized (the whole read reports why)."""
        from tinyhar.datasets.custom import file_rows

        sensors = 6 if definition.has_gyro() else 3
        try:
            files = [Path(f) for f in self.files]
            rows = [file_rows(definition, f) for f in files]
            most = [f.stat().st_size // (2 * sensors) if r is None else r
                    for f, r in zip(files, rows, strict=True)]
        except (TinyharError, OSError):
            return True
        return sum(most) <= batch_rows  # one batch: read whole (a CSV file is then parsed once)

    def _plan(self, definition: DatasetDefinition, active, batch_rows: int) -> _Plan | None:
        """How :meth:`iter_batches` reads this source, None to read it whole (the first pass
        over the time, subject and session columns; the last plans are kept while the
        files are unchanged, so that :meth:`subjects` and :meth:`iter_batches` read once).

        Raises
        ------
        DataFormatError
            A time column that does not match the sampling rate or holds a value
            that is not a finite number.
        """
        try:
            stamp = tuple((f, os.stat(f).st_size, os.stat(f).st_mtime_ns)
                          for f in (self.definition, *self.read_files()))
        except OSError:
            return None
        key = (self, stamp, repr(active))
        with _PLANS_LOCK:
            if key in _PLANS:
                return _PLANS[key]
        plan = _scan_source(self, definition, active, batch_rows)
        with _PLANS_LOCK:  # (threads may read sources at once)
            while len(_PLANS) >= 8:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[key] = plan
        return plan

    def subjects(self, checks=None, session_prefix: bool = False) -> list[str]:
        """The source's subjects: from the file name, else read from the files.

        A source read in batches (:meth:`iter_batches`) reads only its subject,
        session and time columns here (the first pass of :meth:`iter_batches`,
        kept for it); a problem elsewhere in the file is then reported when its
        batches are read. Other sources are read whole.

        Raises
        ------
        ConfigError, DataFormatError
            As :meth:`load`.
        """
        from tinyhar.datasets.checks import resolve_checks

        if self.subject is not None:
            return [str(self.subject)]
        definition = DatasetDefinition.from_yaml(Path(self.definition))
        plan = None if self._small(definition, BATCH_ROWS) else self._plan(
            definition, resolve_checks(definition.checks, checks), BATCH_ROWS)
        if plan is not None:
            return list(plan.subjects)
        frame = self.load(checks, session_prefix).frame
        return [str(v) for v in frame["subject"].unique()]

    def fingerprint(self) -> str:
        """BLAKE2b (32-byte hex) of the definition's text and every file's path (relative
        to the definition's folder: a session's name may come from it) and bytes (the
        gyroscope files of a ``gyro`` key too: :meth:`read_files`).

        Raises
        ------
        DataFormatError
            If a file cannot be read.
        """
        digest = hashlib.blake2b(digest_size=32)
        digest.update(Path(self.definition).read_bytes())
        base = Path(self.definition).parent
        for name in self.read_files():
            digest.update(b"\x00" + os.path.relpath(name, base).encode() + b"\x00")
            try:
                with open(name, "rb") as handle:
                    while chunk := handle.read(_HASH_CHUNK):
                        digest.update(chunk)
            except OSError as exc:
                raise DataFormatError(name, f"cannot read it ({exc.strerror or exc})") from exc
        return digest.hexdigest()


_PLANS: dict = {}
"""The last plans of :meth:`SessionSource._plan`, keyed by source, file sizes and times, checks."""
_PLANS_LOCK = threading.Lock()

_SHOWN = 5
"""Restarts named in the warning (as the whole read)."""


@dataclass
class _Plan:
    """How :meth:`SessionSource.iter_batches` reads a source (found by :func:`_scan_source`).

    Attributes
    ----------
    files : list of Path
        In reading order (a session's files by first time stamp).
    shared : bool
        A session name is used by several subjects: ids ``"<subject>-<session>"``.
    subjects : list of str
        In order of appearance.
    restarts : int
        Times time goes back within a session (each starts ``<session>~k``).
    shown : list of (str, float, float, tuple of (str, str), int)
        The first restarts: where, time before and after (s), the
        ``(subject, session)`` and its piece (the new session,
        :func:`_session_name`; :meth:`shown_as` names it).
    """

    files: list[Path]
    shared: bool
    subjects: list[str]
    restarts: int
    shown: list[tuple[str, float, float, tuple[str, str], int]]

    def shown_as(self, session_prefix: bool) -> list[tuple[str, float, float, str]]:
        """:attr:`shown` as :func:`tinyhar.datasets.custom.warn_restarts` takes them, the
        new sessions named as the read names them (``session_prefix`` as
        :meth:`SessionSource.iter_batches`)."""
        return [(line, before, after, _session_name(pair, piece, self.shared or session_prefix))
                for line, before, after, pair, piece in self.shown]


def _session_name(pair: tuple[str, str], piece: int, shared: bool) -> str:
    """The session id :func:`tinyhar.datasets.custom.load_definition` gives the rows of
    ``(subject, session)`` after ``piece`` restarts."""
    base = f"{pair[0]}-{pair[1]}" if shared else pair[1]
    return f"{base}~{piece + 1}" if piece else base


@dataclass
class _FileScan:
    """What the first pass found in one file (:func:`_scan_file`)."""

    n: int
    first_t: float | int | None  # (times as read: int64 ns for date-times, exact)
    last_t: float | int | None
    pairs: list  # (subject, session) in order of appearance (each once: contiguous)
    counts: dict  # pair -> restarts within the file
    restarts: list  # the first ones: (pair, piece in the file, line text, t before, t after)
    first_line: str  # ", line N" or ", row N" of the first row


def _scan_source(source: SessionSource, definition: DatasetDefinition, active,
                 batch_rows: int) -> _Plan | None:
    """The first pass of :meth:`SessionSource.iter_batches`: its plan, or None to read whole.

    Raises
    ------
    DataFormatError
        A time column that does not match the sampling rate or holds a value
        that is not a finite number (as the whole read).
    """
    from tinyhar.datasets.custom import MIN_MEAN_PIECE

    files = [Path(f) for f in source.files]
    timed = definition.columns.time is not None
    if source.subject is not None and source.session is not None and not timed:
        return _Plan(files, False, [str(source.subject)], 0, [])  # nothing to find out
    base = Path(source.definition).parent
    pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
    join = GyroJoin.of(definition, base, source.definition, active)
    scans = []
    for file in files:
        scan = _scan_file(definition, file, base, pattern, active, batch_rows, join)
        if scan is None or not scan.n:
            return None
        scans.append(scan)
    if join is not None:  # (the rows the batches leave out, as the whole read warns)
        join.warn(stacklevel=5)
    order = list(range(len(files)))
    if timed and len(files) > 1:  # (one session: files by first time stamp, as the whole read)
        order.sort(key=lambda i: (scans[i].first_t, i))
    counts: dict = {}
    restarts, shown, seen = 0, [], {}
    previous = None
    for i in order:
        scan = scans[i]
        if previous is not None and timed and previous.pairs[-1] == scan.pairs[0]:
            if scan.first_t == previous.last_t:
                return None  # a repeated time stamp: the whole read reports it
            if scan.first_t < previous.last_t:  # the next file restarts the session
                if not active.time_order:
                    return None  # the whole read sorts the session by time
                pair = scan.pairs[0]
                counts[pair] = counts.get(pair, 0) + 1
                restarts += 1
                shown.append((pair, counts[pair], f"{files[i]}{scan.first_line}",
                              previous.last_t, scan.first_t))
        seen.update(dict.fromkeys(scan.pairs))  # (a file of sessions from a column: alone)
        for pair, piece, line, before, after in scan.restarts:
            shown.append((pair, counts.get(pair, 0) + piece, f"{files[i]}{line}", before, after))
        for pair, k in scan.counts.items():
            counts[pair] = counts.get(pair, 0) + k
        restarts += sum(scan.counts.values())
        previous = scan
    total = sum(s.n for s in scans)
    if restarts and total / (len(seen) + restarts) < MIN_MEAN_PIECE:
        return None  # the rows look shuffled: the whole read refuses them
    owners: dict[str, set] = {}
    for subject, session in seen:
        owners.setdefault(session, set()).add(subject)
    shared = any(len(s) > 1 for s in owners.values())
    return _Plan(
        [files[i] for i in order], shared, list(dict.fromkeys(s for s, _ in seen)), restarts,
        [(line, float(read_seconds(before)), float(read_seconds(after)), pair, piece)
         for pair, piece, line, before, after in shown[:_SHOWN]],
    )


def _scan_file(definition: DatasetDefinition, file: Path, base: Path, pattern, active,
               batch_rows: int, join: GyroJoin | None = None) -> _FileScan | None:
    """One file's time, subject and session columns, batch by batch: its sessions in order,
    its restarts, its time span; the sampling-rate check of its time column. None when the
    file must be read whole (see :meth:`SessionSource.iter_batches`).

    The time column goes to a temporary file (8 bytes per row, on disk), from which the
    rate check reads its steps in chunks. With ``join`` (a ``gyro`` key) the rows without
    a gyroscope value are left out, as the batches leave them out (the rate is checked on
    all rows, as the whole read checks it).

    Raises
    ------
    DataFormatError
        The time column does not match the sampling rate, or holds a value that
        is not a finite number (naming its line or row).
    """
    import tempfile

    from tinyhar.datasets.checks import _CHUNK, check_sampling_rate

    timed = definition.columns.time is not None
    scan = _FileScan(0, None, None, [], {}, [], "")
    backwards = 0  # steps back in file order (any session): whether the rate is checked
    pair, previous_last = None, 0.0
    spilled = 0  # time stamps written to the spill (every row: the rate check's)
    with tempfile.TemporaryFile(prefix="tinyhar-time-") as spill:
        try:
            for time, subject, session, lines, where, every_time in _meta_batches(
                    definition, file, base, pattern, batch_rows, join):
                if timed and len(every_time):
                    if spilled:
                        backwards += int(previous_last > every_time[0])  # (across the batches)
                    backwards += int(np.count_nonzero(every_time[1:] < every_time[:-1]))
                    previous_last = every_time[-1]
                    spill.write(np.ascontiguousarray(every_time).tobytes())
                    spilled += len(every_time)
                n = len(lines)
                if not n:
                    continue
                if min(subject.codes.min(), session.codes.min()) < 0:
                    return None  # a missing subject or session: the whole read reports it
                if not scan.n:
                    scan.first_line = f", {where} {lines[0]}"
                runs = run_starts(subject.codes, session.codes)
                for a, b in zip(runs, np.r_[runs[1:], n], strict=True):
                    now = (str(subject.categories[subject.codes[a]]),
                           str(session.categories[session.codes[a]]))
                    if now != pair:
                        if now in scan.counts:
                            warnings.warn(
                                f"{file}, {where} {lines[a]}: the rows of subject {now[0]}, "
                                f"session {now[1]} come back after another session's, so the "
                                "file is read whole (it needs memory for all of its rows); "
                                "sort the rows by subject, session and time to read it in "
                                "batches", UserWarning, stacklevel=5)
                            return None
                        scan.pairs.append(now)
                        scan.counts[now] = 0
                    if timed:
                        t = time[a:b]
                        if now == pair:  # the session goes on from the previous run
                            t = np.r_[scan.last_t, t]
                        back = steps_where(len(t), lambda u, v, t=t: t[u + 1 : v + 1] < t[u:v])
                        same = steps_where(len(t), lambda u, v, t=t: t[u + 1 : v + 1] == t[u:v])
                        if same.size or (back.size and not active.time_order):
                            return None  # repeats; sorting: the whole read
                        first = 1 if now == pair else 0
                        for j, r in enumerate(back[: max(_SHOWN - len(scan.restarts), 0)]):
                            row = a + int(r) + 1 - first  # in the batch
                            scan.restarts.append((now, scan.counts[now] + j + 1,
                                                  f", {where} {lines[row]}", t[r], t[r + 1]))
                        scan.counts[now] += back.size
                        scan.last_t = t[-1]
                    pair = now
                if timed and scan.first_t is None:
                    scan.first_t = time[0]
                scan.n += n
        except _TimeValueError as exc:
            raise exc.args[0] from None  # as the whole read reports it, before any batch
        except (TinyharError, OSError, ValueError):
            return None  # the whole read reports the problem
        if timed and active.sampling_rate and scan.n:
            if not active.time_order and backwards:
                return None  # the whole read checks the sorted time column
            if spilled < 3 or backwards / max(spilled - 1, 1) <= 0.01:  # as custom._check_rate

                dates = definition.units.dates  # (time as read: int64 ns, time_column)
                kind = np.int64 if dates else np.float64

                def steps():
                    spill.seek(0)
                    last = np.frombuffer(spill.read(8), kind)
                    while chunk := spill.read(8 * _CHUNK):
                        values = np.frombuffer(chunk, kind)
                        step = np.diff(np.r_[last, values])
                        yield step / NS_PER_S if dates else step  # (exact ns, then s)
                        last = values[-1:]

                check_sampling_rate(None, definition.sampling_rate_hz, str(file),
                                    column=str(definition.columns.used()["time"]), steps=steps)
    return scan


def _meta_batches(definition: DatasetDefinition, file: Path, base: Path, pattern,
                  batch_rows: int, join: GyroJoin | None = None):
    """A file's time (as read: :func:`tinyhar.datasets.custom.time_column`; None without a
    time column), subject and session
    (categoricals, from the columns or the file name) and line or row numbers, in batches
    of ``batch_rows`` rows; only these columns are read (CSV: each parsed alone). With
    ``join`` (a ``gyro`` key), of the rows with a gyroscope value only
    (:meth:`~tinyhar.datasets.custom.GyroJoin.rows_with_gyro`). Each batch is
    ``(time, subject, session, lines, where, every_time)``, ``every_time`` the time of
    all the batch's rows.

    Raises
    ------
    ConfigError, DataFormatError
        As the whole read, for these columns.
    """
    from tinyhar.datasets.custom import (
        _csv_chunks,
        _file_format,
        _fill,
        _ParquetColumns,
        _read_npy,
        _read_parquet,
        _text_column,
        file_rows,
        meta_from_name,
    )
    from tinyhar.datasets.recording import constant_category
    from tinyhar.errors import DataFormatError as _Error

    used = definition.columns.used()
    wanted = [k for k in ("time", "subject", "session") if k in used]
    meta = meta_from_name(file, base, pattern, definition)
    fmt = _file_format(definition, file)
    if fmt == "csv":  # one parse per column (the parser keeps only that one)
        parsers = [_csv_chunks(definition, file, {k: used[k]}, batch_rows, only_used=True)
                   for k in wanted]
        if not parsers:
            raise _Error(file, "nothing to scan")  # (not reached: the plan needs no scan)

        def batches():
            for chunks in zip(*parsers, strict=False):
                if len({len(c) for c in chunks}) > 1 or len(
                        {c.n_lines for c in chunks}) > 1:
                    raise _Error(file, "rows differ per column")  # missing values: read whole
                raw = chunks[0]
                for k, c in zip(wanted[1:], chunks[1:], strict=True):
                    raw.pieces[k] = c.pieces[k]
                yield raw, raw.line_of_row(), "line"
    else:
        total = file_rows(definition, file)
        read = _read_parquet if fmt == "parquet" else _read_npy

        def batches():
            for start in range(0, total, batch_rows):
                stop = min(start + batch_rows, total)
                yield read(file, {k: used[k] for k in wanted}, (start, stop)), \
                    range(start + 1, stop + 1), "row"
    for raw, lines, where in batches():
        n = len(lines)
        time = None
        if "time" in used:
            time = time_column(n, definition)
            try:
                _fill(time, raw, "time", definition, file, lines, where)
            except _Error as exc:
                raise _TimeValueError(exc) from exc
        keys = {}
        for key in ("subject", "session"):
            if key in used:
                keys[key] = _text_column(raw.text(key) if fmt == "csv" else raw[key])
            else:
                keys[key] = constant_category(meta.get(key), n)
        if fmt == "parquet":
            _ParquetColumns.release()
        every_time = time
        if join is not None:
            keep, _ = join.rows_with_gyro(file, time, keys["subject"], keys["session"], lines,
                                          where, values=False)
            if not keep.all():
                time, lines = time[keep], np.asarray(lines)[keep]
                keys = {k: v[keep] for k, v in keys.items()}
        yield time, keys["subject"], keys["session"], lines, where, every_time
        del raw


class _TimeValueError(Exception):
    """A time value that is not a finite number (``args[0]``: the whole read's error)."""


class _SessionState:
    """The session of each row as :meth:`SessionSource.iter_batches` reads on: the current
    ``(subject, session)``, its restarts, the time of its first sample and its rows so far;
    ``origins``: the clock time of the first sample of each session so far, in s since the
    Unix epoch, where there is one (date-times, :func:`tinyhar.datasets.custom.read_seconds`;
    a tinyhar recording's ``stored`` origins, :func:`tinyhar.datasets.custom.file_origins`,
    as :func:`tinyhar.datasets.custom.load_definition` keeps them)."""

    def __init__(self, plan: _Plan, session_prefix: bool, timed: bool, rate: float,
                 dates: bool = False) -> None:
        self.plan, self.prefix, self.timed, self.rate = plan, session_prefix, timed, rate
        self.dates = dates
        self.stored: dict[str, float] | None = None  # the current file's (file_origins)
        self.pair: tuple | None = None
        self.seen: set = set()
        self.piece, self.t0, self.t_last, self.count = 0, 0.0, None, 0
        self.origins: dict[str, float] = {}

    def assign(self, part: dict, file: Path, where: str) -> tuple[np.ndarray, pd.Categorical]:
        """Time from each row's session start (s) and the session of each row, of a batch.

        Raises
        ------
        DataFormatError
            A session whose rows come back: the file changed since the first pass.
        """
        subject, session = part["subject"], part["session"]
        n = len(subject)
        time = np.empty(n, np.float64)
        codes = np.empty(n, np.int32)
        names: dict[str, int] = {}
        runs = run_starts(subject.codes, session.codes)
        for a, b in zip(runs, np.r_[runs[1:], n], strict=True):
            pair = (str(subject.categories[subject.codes[a]]),
                    str(session.categories[session.codes[a]]))
            if pair != self.pair:
                if pair in self.seen:
                    raise DataFormatError(file, "the file changed while it was read: the rows "
                                          f"of session {pair[1]} come back; read it again",
                                          line=int(part["_line"][a]) if where == "line"
                                          else None)
                self.seen.add(pair)
                self.pair, self.piece, self.t_last, self.count = pair, 0, None, 0
            if not self.timed:
                time[a:b] = (self.count + np.arange(b - a)) / self.rate
                self.count += b - a
                codes[a:b] = self._code(names, pair)
                continue
            t = part["time"][a:b]
            cuts = [0, *(np.flatnonzero(t[1:] < t[:-1]) + 1).tolist(), b - a]
            for k, (u, v) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
                if self.t_last is None:
                    self.t0 = t[u]  # the session's first sample
                elif k > 0 or t[u] < self.t_last:
                    self.piece += 1  # a restart: a new session from here
                    self.t0 = t[u]
                time[a + u : a + v] = time_since(t[u:v], self.t0)  # (date-times: exact)
                codes[a + u : a + v] = self._code(names, pair)
                self.t_last = t[v - 1]
        small = np.int8 if len(names) < 127 else np.int32
        return time, pd.Categorical.from_codes(codes.astype(small),
                                               categories=pd.Index(list(names), dtype="str"))

    def _code(self, names: dict, pair: tuple) -> int:
        name = _session_name(pair, self.piece, self.plan.shared or self.prefix)
        if self.dates:
            self.origins.setdefault(name, float(read_seconds(self.t0)))
        elif self.timed and self.stored and pair[1] in self.stored:
            self.origins.setdefault(name, self.stored[pair[1]] + float(self.t0))
        return names.setdefault(name, len(names))


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

    @property
    def nbytes(self) -> int:
        """Bytes of the file on disk (as :attr:`SessionSource.nbytes`)."""
        return _bytes_on_disk([self.path])

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
                                   where, meta.get("origins"))
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


def shared_session_names(sources: list[SessionSource],
                         pairs: dict[str, list[tuple[str, str]]] | None = None) -> bool:
    """Whether a session name is used by several subjects (then ids become ``subject-session``).

    The in-memory loader (:func:`tinyhar.datasets.custom.load_custom`) makes
    the same decision over the whole data set; pass the result as
    ``session_prefix`` of each source's read (``SessionJob.session_prefix``)
    so both paths name sessions alike, and no two subjects' sessions share an
    id (which would join them in per-session results such as predicted
    segments).

    Subject and session come from the file names for most sources; where they
    come from columns (a source is then one file of many sessions) they are
    those of :func:`column_session_pairs`.

    Parameters
    ----------
    sources : list of SessionSource
        All the data set's sources (:func:`session_sources`).
    pairs : dict, optional
        :func:`column_session_pairs` of ``sources``, where the caller has them
        already (default: read here).

    Returns
    -------
    bool
        True when some session name belongs to several subjects.
    """
    owners: dict[str, set] = {}
    if pairs is None:
        pairs = column_session_pairs(sources)
    for source in sources:
        if source.session is not None:
            owners.setdefault(source.session, set()).add(source.subject)
    for found in pairs.values():
        for subject, session in found:
            owners.setdefault(session, set()).add(subject)
    return any(len(s) > 1 for s in owners.values())


def column_session_pairs(sources: list[SessionSource]) -> dict[str, list[tuple[str, str]]]:
    """The ``(subject, session)`` pairs of each file of the sources whose sessions come from
    a column, reading only those two columns.

    Only where there are several sources (one file of sessions: its own read
    sees them all); each file's subject and session columns are read in
    batches (:func:`tinyhar.datasets.custom.file_session_pairs`), before any
    session is renamed. A file that cannot be read that way is left out; its
    own read reports the problem (and skips the file where the caller skips
    unreadable sources).

    Parameters
    ----------
    sources : list of SessionSource
        All the data set's sources (:func:`session_sources`).

    Returns
    -------
    dict of str -> list of (str, str)
        File path (as in ``source.files``) -> its distinct pairs, sorted; in
        the sources' order.
    """
    out: dict[str, list[tuple[str, str]]] = {}
    if len(sources) <= 1:
        return out
    definition = base = pattern = None
    for source in sources:
        if source.session is not None:
            continue
        if definition is None:
            base = Path(source.definition).parent
            definition = DatasetDefinition.from_yaml(Path(source.definition))
            pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
        for file in source.files:
            try:
                out[file] = sorted(file_session_pairs(definition, Path(file), base, pattern))
            except (TinyharError, OSError):
                continue
    return out


def join_split_sessions(sources: list[SessionSource],
                        pairs: dict[str, list[tuple[str, str]]]) -> list[SessionSource]:
    """The sources, those whose files share a ``(subject, session)`` joined into one.

    A session whose rows are in two files (subject and session from
    columns: each file is a source of its own) cannot be read a file at a
    time; read together, the files' rows make the session as the whole read
    makes it (:meth:`SessionSource.load` and
    :meth:`SessionSource.iter_batches` read several files of column
    sessions, in the order of their first time stamps). Sources that share a
    pair with a source that shares one with a third are all joined.

    Parameters
    ----------
    sources : list of SessionSource
        The data set's sources (:func:`session_sources`).
    pairs : dict of str -> list of (str, str)
        :func:`column_session_pairs` of ``sources``.

    Returns
    -------
    list of SessionSource
        ``sources`` where no session is in two of them; a joined source
        takes the place of the first of its sources and has all their files,
        in the sources' order.
    """
    group = list(range(len(sources)))  # union-find over the sources

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    holder: dict[tuple[str, str], int] = {}
    for i, source in enumerate(sources):
        for file in source.files:
            for pair in pairs.get(file, ()):
                j = holder.setdefault(pair, i)
                a, b = sorted((root(i), root(j)))
                group[b] = a
    members: dict[int, list[int]] = {}
    for i in range(len(sources)):
        members.setdefault(root(i), []).append(i)
    out = []
    for first, joined in members.items():
        source = sources[first]
        if len(joined) > 1:
            source = SessionSource(source.definition,
                                   tuple(f for i in joined for f in sources[i].files), None, None)
        out.append(source)
    return out


def session_reads(definition_path: str | Path) -> tuple[list[SessionSource], bool]:
    """How to read a dataset definition session by session: its sources, and the session ids.

    :func:`session_sources`, with the files that share a session joined into
    one source (:func:`join_split_sessions`), and :func:`shared_session_names`
    of all of them, from one read of the files' subject and session columns
    (:func:`column_session_pairs`).

    Parameters
    ----------
    definition_path : str or Path
        The dataset definition (``.yaml``).

    Returns
    -------
    sources : list of SessionSource
        No session in two of them.
    session_prefix : bool
        Whether session ids are ``"<subject>-<session>"`` (a session name used
        by several subjects), as the whole read makes them.

    Raises
    ------
    ConfigError, DataFormatError
        As :func:`session_sources`.
    """
    sources = session_sources(definition_path)
    pairs = column_session_pairs(sources)
    return join_split_sessions(sources, pairs), shared_session_names(sources, pairs)


def check_whole_sessions(seen: dict[tuple[str, str], str], pairs, name: str, fix: str) -> None:
    """Refuse a session that an earlier source of the same read already held.

    Reading a data set source by source (one file of column sessions at a
    time) cannot join a session whose rows are in two files: each read starts
    its windows and times again.

    Parameters
    ----------
    seen : dict of (subject, session) -> str
        The source that held each session so far; gains ``pairs``.
    pairs : iterable of (str, str)
        The ``(subject, session)`` of the source's windows or rows (repeats allowed).
    name : str
        The source (its file), for the message.
    fix : str
        What to do instead, for the message.

    Raises
    ------
    TinyharError
        A pair in ``seen`` from another source: names the session, both
        sources and ``fix``.
    """
    for key in dict.fromkeys(pairs):
        if key in seen and seen[key] != name:
            raise TinyharError(
                f"subject {key[0]}, session {key[1]} is in {seen[key]} and in {name}; {fix}")
        seen[key] = name
