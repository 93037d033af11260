"""Whole-stream predictions of a data set read one session at a time (out-of-core).

:func:`tinyhar.evaluation.streams.stream_predictions` classifies every window
of recordings already in memory. For data sets larger than memory (a dataset
definition of many hours, :mod:`tinyhar.datasets.sessions`),
:class:`SessionRecordings` does the same one session at a time: read the
session, cut and classify every window of it (impure windows and unlabelled
spans included, chunk by chunk), keep the per-window results, release the
samples. Post-processing and stream scores work per session, so the results
equal those of the in-memory path on the same data (the same function runs on
the same samples; sessions are independent streams). A long session, or a
file of many sessions from subject and session columns, is read in batches of
rows (:meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`; a batch
may end one session and start the next) and its windows cut across the
batches exactly as from the whole read.

Out-of-core training computes each session's stream features in the same
read as its training rows (:class:`~tinyhar.features.streams.StreamFeatures`,
:mod:`tinyhar.features.table`) and hands them over (``features``): those
sessions are then classified from their features, not read again.

Memory: one batch of a source's samples (at most
:data:`~tinyhar.datasets.sessions.BATCH_ROWS` rows when it reads in batches,
else the whole source: see
:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches` for when) plus
the per-window results kept by the caller
(:class:`~tinyhar.evaluation.streams.StreamPredictions`, about 110 bytes per
window for 6 classes; or the compact label codes of
:class:`~tinyhar.evaluation.streams.StreamLabels`, about 30 bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyhar import compute
from tinyhar.errors import TinyharError

if TYPE_CHECKING:
    from tinyhar.evaluation.streams import StreamPredictions

WORKER_MODULES = (*compute.WORKER_MODULES, "tinyhar.evaluation.sessionstreams",
                  "tinyhar.evaluation.streams")
"""What the local worker processes of :meth:`SessionRecordings.iter_predictions` import
(:func:`tinyhar.compute.start_workers`): the session reading and features, the run's
classifier (scikit-learn's trees) and the stream classification."""


@dataclass
class SessionPredictions:
    """The whole-stream predictions of one source (one session or one file of sessions).

    Attributes
    ----------
    name : str
        The source's name (subject and session, or its file).
    pred : StreamPredictions or None
        Every window of the source's sessions of the requested subjects; None
        when it holds none of them or could not be read.
    error : str or None
        Why the source could not be read (the message names the file).
    """

    name: str
    pred: StreamPredictions | None
    error: str | None = None


@dataclass(frozen=True)
class _StreamJob:
    """One source to classify (picklable, for worker processes and Dask)."""

    source: Any
    checks: Any
    session_prefix: bool
    subjects: frozenset
    pipeline: Any
    models: dict | None
    ood: Any
    chunk: int
    batch_rows: int
    on_windows: Any = None  # progress per chunk (serial scheduler only: not sent to workers)


def _run_stream_job(job: _StreamJob) -> SessionPredictions:
    """Read one source (in batches of rows) and classify every window of ``job.subjects``."""
    from tinyhar.evaluation.streams import stream_predictions

    seen: list[bool] = []

    def wanted():
        batches = job.source.iter_batches(job.checks, job.session_prefix, job.batch_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except TinyharError as exc:
                raise _Unreadable(str(exc)) from exc
            present = {str(s) for s in batch.frame["subject"].unique()}  # (no str per row)
            if not present & job.subjects:
                continue
            if present - job.subjects:
                batch = batch.select(subjects=sorted(present & job.subjects))
            seen.append(True)
            yield batch

    ood = job.ood.__getitem__ if isinstance(job.ood, dict) else job.ood
    try:
        pred = stream_predictions(
            job.pipeline, wanted(),
            None if job.models is None else job.models.__getitem__, chunk=job.chunk,
            on_windows=job.on_windows, ood_model=ood,
        )
    except _Unreadable as exc:
        return SessionPredictions(job.source.name, None, str(exc))
    return SessionPredictions(job.source.name, pred if seen else None)


def _check_whole_sessions(got: SessionPredictions, seen: dict) -> None:
    """Refuse a ``(subject, session)`` that an earlier source held (``seen`` gains ``got``'s;
    :func:`tinyhar.datasets.sessions.check_whole_sessions`).

    Raises
    ------
    TinyharError
        A session in two files (subject and session from columns): each file's
        read starts its times again, where the whole read joins the files.
    """
    from tinyhar.datasets.sessions import check_whole_sessions

    if got.pred is None:
        return
    check_whole_sessions(
        seen, zip(got.pred.subject.tolist(), got.pred.session.tolist(), strict=True),
        got.name, _WHOLE_SESSIONS_FIX)


_WHOLE_SESSIONS_FIX = (
    "reading a file at a time cannot join them: read their files as one source "
    "(tinyhar.datasets.sessions.join_split_sessions, as SessionRecordings.from_definition "
    "does), or put each session in one file")
"""What to do about a session in two files, for :func:`_check_whole_sessions`' message."""


class _Unreadable(Exception):
    """A source failed while its batches were read (the message names the file)."""


class SessionRecordings:
    """A data set whose sessions are read one at a time for whole-stream predictions.

    A dataset definition (one source per session) or a tinyhar Parquet
    recording (one source, read in batches of rows): :meth:`open`.

    Parameters
    ----------
    sources : list of SessionSource or RecordingFile
        The data set's sessions (:func:`tinyhar.datasets.sessions.session_sources`),
        or a recording file (:class:`tinyhar.datasets.sessions.RecordingFile`).
    checks : DataChecks or mapping, optional
        Plausibility checks for loading (``dataset.checks``).
    session_prefix : bool
        Name sessions ``"<subject>-<session>"``
        (:func:`tinyhar.datasets.sessions.shared_session_names`).
    scheduler : str
        Where sessions are classified (:func:`tinyhar.compute.map_in_order`):
        ``serial`` (default), ``threads``, ``processes`` or a Dask address
        (their workers import :data:`WORKER_MODULES`). A single source to read
        (a ``.parquet`` recording) is read in this process.
    workers : int
        Local workers for ``threads``/``processes``.
    batch_rows : int, optional
        Most rows of a session read at a time
        (:meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`;
        default :data:`~tinyhar.datasets.sessions.BATCH_ROWS`).
    features : mapping, optional
        ``{source name: StreamFeatures}`` (any mapping: a value may be built
        when it is looked up): every stream window of a source,
        featurised already (:class:`~tinyhar.features.streams.StreamFeatures`
        computed with the same pipeline layout); those sources are classified
        from their features instead of being read. The others are read.
    no_workers_timeout_s : float
        With a Dask cluster: how long it may have no worker (s,
        ``compute.no_workers_timeout_s``; :func:`tinyhar.compute.map_in_order`).
    """

    def __init__(self, sources: Sequence, checks=None, session_prefix: bool = False,
                 scheduler: str = "serial", workers: int = 1,
                 batch_rows: int | None = None, features: dict | None = None,
                 no_workers_timeout_s: float = compute.NO_WORKERS_TIMEOUT_S) -> None:
        from tinyhar.datasets.sessions import BATCH_ROWS

        self.sources = list(sources)
        self.features = features if features is not None else {}
        self.checks, self.session_prefix = checks, session_prefix
        self.scheduler, self.workers = scheduler, workers
        self.no_workers_timeout_s = no_workers_timeout_s
        self.batch_rows = int(batch_rows or BATCH_ROWS)
        self.name = "recordings"  # the data set's name (set by :meth:`open`)

    @classmethod
    def from_definition(cls, path: str | Path, checks=None, scheduler: str = "serial",
                        workers: int = 1, batch_rows: int | None = None,
                        no_workers_timeout_s: float = compute.NO_WORKERS_TIMEOUT_S,
                        ) -> SessionRecordings:
        """Plan the sessions of a dataset definition (reads file names; of several files of
        column sessions, their subject and session columns:
        :func:`tinyhar.datasets.sessions.column_session_pairs`). Files that share a
        session are one source (:func:`tinyhar.datasets.sessions.join_split_sessions`),
        read together as the whole read joins them. The other parameters are
        those of the class.

        Raises
        ------
        ConfigError, DataFormatError
            As :func:`tinyhar.datasets.sessions.session_sources`.
        """
        from tinyhar.datasets.sessions import session_reads

        sources, prefix = session_reads(path)
        return cls(sources, checks, prefix, scheduler, workers, batch_rows,
                   no_workers_timeout_s=no_workers_timeout_s)

    @classmethod
    def open(cls, path: str | Path, checks=None, scheduler: str = "serial", workers: int = 1,
             batch_rows: int | None = None,
             no_workers_timeout_s: float = compute.NO_WORKERS_TIMEOUT_S) -> SessionRecordings:
        """A dataset definition (:meth:`from_definition`) or a tinyhar Parquet recording.

        A ``.parquet`` file is one source whose sessions are read in batches
        of rows (:class:`tinyhar.datasets.sessions.RecordingFile`). The
        result's ``name`` is the data set's name (the definition's, or the
        one stored in the file).

        Raises
        ------
        ConfigError, DataFormatError
            As :meth:`from_definition`.
        """
        from tinyhar.datasets.custom import DatasetDefinition
        from tinyhar.datasets.sessions import RecordingFile

        if Path(path).suffix.lower() in (".yaml", ".yml"):
            out = cls.from_definition(path, checks, scheduler, workers, batch_rows,
                                      no_workers_timeout_s)
            out.name = DatasetDefinition.from_yaml(Path(path)).name
            return out
        source = RecordingFile(str(path))
        out = cls([source], checks, False, scheduler, workers, batch_rows,
                  no_workers_timeout_s=no_workers_timeout_s)
        out.name = source.dataset_name()
        return out

    def subjects(self, skipped: list | None = None) -> list[str]:
        """The data set's subjects, in natural order.

        Taken from the file names; of a source whose subjects come from a
        column, its time, subject and session columns are read (one source at
        a time: the first pass of
        :meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`, kept for
        its batches; a source read whole is loaded); of a tinyhar Parquet
        recording, only the subject column is read.

        Parameters
        ----------
        skipped : list, optional
            Receives ``{"source", "error"}`` for each source that cannot be read.

        Returns
        -------
        list of str
        """
        from tinyhar.core.ids import natural_key

        found: set[str] = set()
        for source in self.sources:
            try:
                found.update(source.subjects(self.checks, self.session_prefix))
            except TinyharError as exc:
                if skipped is not None:
                    skipped.append({"source": source.name, "error": str(exc)})
        return sorted(found, key=natural_key)

    def iter_predictions(
        self,
        pipeline,
        subjects: Sequence[str],
        model_for_subject: Callable[[str], object] | None = None,
        ood_model=None,
        chunk: int | None = None,
        on_windows: Callable[[int], None] | None = None,
    ) -> Iterator[SessionPredictions]:
        """Every window of the sessions of ``subjects``, one source at a time, in order.

        Parameters
        ----------
        pipeline : HarPipeline
            The run's fitted pipeline.
        subjects : sequence of str
            Subjects to classify; sources whose file names give another
            subject are not read.
        model_for_subject : callable, optional
            ``model_for_subject(subject) -> classifier`` (cross-validation
            fold models), as :func:`~tinyhar.evaluation.streams.stream_predictions`.
        ood_model : OodModel or callable, optional
            As :func:`~tinyhar.evaluation.streams.stream_predictions`.
        chunk : int, optional
            Most windows classified at a time (default
            :data:`~tinyhar.features.streams.STREAM_CHUNK`).
        on_windows : callable, optional
            Called with the number of windows classified (progress): after
            each chunk with the ``serial`` scheduler (a long session shows
            progress), else after each source.

        Yields
        ------
        SessionPredictions
            One per source read (sources of other subjects are skipped
            unread), with ``error`` set for a source that cannot be read.

        Raises
        ------
        TinyharError
            A session of ``subjects`` in two sources (files of column sessions
            not joined: :func:`tinyhar.datasets.sessions.join_split_sessions`),
            when the second one's predictions come back.
        """
        from tinyhar.evaluation.streams import STREAM_CHUNK
        from tinyhar.postprocess import OodModel

        wanted = frozenset(str(s) for s in subjects)
        jobs = []
        for source in self.sources:
            if source.subject is not None and str(source.subject) not in wanted:
                continue
            if source.name in self.features:  # featurised already: in order, not read
                jobs.append(source.name)
                continue
            mine = sorted(wanted if source.subject is None else {str(source.subject)})
            models = (None if model_for_subject is None
                      else {s: model_for_subject(s) for s in mine})
            ood = (ood_model if ood_model is None or isinstance(ood_model, OodModel)
                   else {s: ood_model(s) for s in mine})
            jobs.append(_StreamJob(source, self.checks, self.session_prefix, wanted, pipeline,
                                   models, ood, chunk or STREAM_CHUNK, self.batch_rows,
                                   on_windows))
        reads = [j for j in jobs if not isinstance(j, str)]
        # one source to read (a .parquet recording): here, with progress per chunk
        scheduler = self.scheduler if len(reads) > 1 else "serial"
        serial = scheduler == "serial"
        if not serial:  # progress per source, here: the callback is not sent to the workers
            reads = [replace(j, on_windows=None) for j in reads]
        # the first source here, while the workers start on the others (as training does)
        done = iter(compute.map_in_order(_run_stream_job, reads[1:], scheduler, self.workers,
                                         head=lambda: _run_stream_job(reads[0]),
                                         weights=[j.source.nbytes for j in reads[1:]],
                                         no_workers_timeout_s=self.no_workers_timeout_s)
                    if reads else ())
        seen: dict = {}  # (subject, session) -> the source that held it
        for job in jobs:
            if isinstance(job, str):
                got = self._from_features(job, pipeline, wanted, model_for_subject, ood_model,
                                          on_windows)
                _check_whole_sessions(got, seen)
                yield got
                continue
            got = next(done)
            if not serial and on_windows is not None and got.pred is not None:
                on_windows(len(got.pred))
            _check_whole_sessions(got, seen)
            yield got

    def _from_features(self, name: str, pipeline, wanted: frozenset, model_for_subject,
                       ood_model, on_windows) -> SessionPredictions:
        """Predictions of a source from its stored stream features (nothing read)."""
        from tinyhar.evaluation.streams import classify_stream_features

        feats = self.features[name]
        mine = np.isin(feats.subject.astype(str), list(wanted))
        if not mine.any():
            return SessionPredictions(name, None)
        if not mine.all():
            feats = feats.subset(mine)
        pred = classify_stream_features(feats, list(pipeline.classes), pipeline.model,
                                        model_for_subject, ood_model)
        if on_windows is not None:
            on_windows(len(pred))
        return SessionPredictions(name, pred)

    def predictions(self, pipeline, subjects: Sequence[str],
                    model_for_subject: Callable[[str], object] | None = None,
                    ood_model=None, chunk: int | None = None, skipped: list | None = None,
                    on_windows: Callable[[int], None] | None = None) -> StreamPredictions:
        """:meth:`iter_predictions` of every source, concatenated.

        Sources that cannot be read are left out (out-of-core training has
        already reported them when it computed their features).

        Parameters
        ----------
        pipeline, subjects, model_for_subject, ood_model, chunk
            As :meth:`iter_predictions`.
        skipped : list, optional
            Receives ``{"source", "error"}`` for each source that cannot be read.
        on_windows : callable, optional
            Progress, as :meth:`iter_predictions`.

        Returns
        -------
        StreamPredictions
            Sessions in the sources' order, every window of each.
        """
        from tinyhar.evaluation.streams import StreamPredictions

        parts = []
        for got in self.iter_predictions(pipeline, subjects, model_for_subject, ood_model, chunk,
                                         on_windows):
            if got.error is not None and skipped is not None and not any(
                    s["source"] == got.name for s in skipped):
                skipped.append({"source": got.name, "error": got.error})
            if got.pred is not None:
                parts.append(got.pred)
        return StreamPredictions.concatenate(
            parts, list(pipeline.classes), pipeline.n_samples / pipeline.sampling_rate_hz,
            pipeline.streaming_hop / pipeline.sampling_rate_hz,
        )
