"""Out-of-core training: feature rows computed session by session.

:func:`reads_by_session` decides it (``compute.out_of_core``);
:func:`_train_from_sessions` runs the same split, cross-validation, fit and
scores as the in-memory path from feature rows (:mod:`tinyhar.features.table`)
instead of raw windows, and :func:`_raw_windows` reads back the few raw windows
a run stores (test windows, class overview) one session at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from rich.console import Console

from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import natural_key
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.models.kinds import NETWORK_KINDS
from tinyhar.models.pipeline import PIPELINE_FILE
from tinyhar.reporting.progress import progress_bar as _progress
from tinyhar.reporting.text import plural
from tinyhar.runfolder import CONFIG_FILE, MAX_TEST_WINDOWS, write_test_windows
from tinyhar.training.stages import (
    _common_metrics,
    _figures,
    _finish,
    _postprocess_stage,
    check_postprocess_config,
)
from tinyhar.training.trees import (
    build_pipeline,
    check_leaf_size,
    extractor_settings,
    feature_pipeline,
    fit_with_folds,
)
from tinyhar.windows.source import wanted_channels
from tinyhar.windows.windowing import to_samples

OUT_OF_CORE_BYTES = 2 * 1024**3
"""``compute.out_of_core: auto`` reads session by session above this much data on disk."""


def reads_by_session(cfg: TrainConfig) -> bool:
    """Whether training reads the data set session by session (``compute.out_of_core``).

    As :func:`out_of_core_plan`, without the estimate.

    Raises
    ------
    ConfigError
        As :func:`out_of_core_plan`.
    """
    return out_of_core_plan(cfg)[0]


def out_of_core_plan(cfg: TrainConfig) -> tuple[bool, int | None]:
    """Whether training reads the data set session by session (``compute.out_of_core``),
    and the estimated bytes of reading it whole when the decision needed them.

    ``auto`` means yes for a dataset definition (``.yaml``) with tree models
    when a parallel scheduler or a feature cache is configured, when the
    definition's files hold more than :data:`OUT_OF_CORE_BYTES`, or when
    reading them whole would take more than half the memory available
    (:func:`tinyhar.windows.source.in_memory_bytes` against
    :func:`tinyhar.windows.windowing.memory_limit`, which
    ``$TINYHAR_MEMORY_LIMIT_GB`` caps). Compressed Parquet holds 1,000 hours
    of 6-channel 50 Hz data in 1.8 GB on disk, which take about 40 GB in
    memory. Either way the metrics are the same.

    Returns
    -------
    by_session : bool
    need : int or None
        :func:`~tinyhar.windows.source.in_memory_bytes` when it was computed
        (in-memory training passes it to
        :func:`~tinyhar.windows.source.load_data`, which would estimate it
        again), else None.

    Raises
    ------
    ConfigError
        ``out_of_core: true`` for a network or for data that is not a dataset
        definition.
    """
    c, ds = cfg.compute, cfg.dataset
    definition = Path(ds.name).suffix.lower() in (".yaml", ".yml")
    if c.out_of_core is True:
        if cfg.model.kind in NETWORK_KINDS:
            raise ConfigError(
                "compute.out_of_core: networks read raw windows, which out-of-core reading "
                "does not keep; use a tree model or out_of_core: false"
            )
        if not definition:
            raise ConfigError(
                f"compute.out_of_core: needs a dataset definition (.yaml) to read session by "
                f"session; {ds.name!r} is not one (use out_of_core: false, or describe the "
                "files with `tinyhar datasets init`)"
            )
        return True, None
    if c.out_of_core is False or not definition or cfg.model.kind in NETWORK_KINDS:
        return False, None
    if c.scheduler != "serial" or c.cache:
        return True, None
    from tinyhar.datasets.custom import DatasetDefinition, resolve_files
    from tinyhar.windows.source import in_memory_bytes
    from tinyhar.windows.windowing import memory_limit

    path = Path(ds.name)  # its files, listed once for both estimates
    files = resolve_files(DatasetDefinition.from_yaml(path), path.parent, ds.name)
    if sum(f.stat().st_size for f in files) > OUT_OF_CORE_BYTES:
        return True, None
    limit = memory_limit()
    if limit is None:
        return False, None
    need = in_memory_bytes(ds.name, files)
    return need > limit / 2, need


class _TableWindows:
    """Feature rows standing in for a WindowSet where only labels and subjects are used.

    ``X`` holds features ``(n_windows, n_features)``, not raw samples; the
    window facts (channels, rate, length) are those the rows were cut with.
    """

    split = None

    def __init__(self, table, classes, name, channels, n_samples, sampling_rate_hz, spec):
        self.table, self.classes, self.name, self.spec_ = table, list(classes), name, spec
        self.channels, self.n_samples = list(channels), n_samples
        self.sampling_rate_hz = sampling_rate_hz
        self.X, self.y, self.subject = table.X, table.y, table.subject
        self.session, self.start_time = table.session, table.start_time

    def __len__(self) -> int:
        return len(self.y)

    @property
    def subjects(self) -> list[str]:
        return sorted(set(self.subject), key=natural_key)

    @property
    def spec(self):
        """The :class:`~tinyhar.core.spec.WindowSpec` the rows were cut with."""
        return self.spec_

    def subset(self, index) -> _TableWindows:
        from tinyhar.features.table import FeatureTable

        t = self.table
        part = FeatureTable(t.X[index], t.y[index], t.subject[index], t.session[index],
                            t.start_time[index], t.feature_names, t.counts)
        return _TableWindows(part, self.classes, self.name, self.channels, self.n_samples,
                             self.sampling_rate_hz, self.spec_)


def _train_from_sessions(cfg: TrainConfig, out: Path, console: Console, t_start: float) -> dict:
    """Tree training from feature rows computed session by session (out-of-core).

    Each session of the dataset definition is read, windowed and featurised on
    its own (:mod:`tinyhar.features.table`; in parallel per ``compute``), so
    memory holds the feature rows, not the raw samples or windows (files that
    share a session, subject and session from columns, are read together:
    :func:`tinyhar.datasets.sessions.join_split_sessions`). Then the
    same split, cross-validation and final fit (Dask tasks on the configured
    scheduler, :func:`tinyhar.compute.map_shared`) and scores as the in-memory
    path; the rows are identical, so are the metrics.
    Post-processing (``auto``, ``hmm``, rejection) is chosen, fitted and
    scored as in memory (:func:`~tinyhar.training.stages._postprocess_stage`)
    on the whole streams (every window of each session, impure and
    unlabelled ones included, which the training rows do not hold): their
    features come from the same read of each session as the training rows
    (``SessionJob.streams``; cached with them), so the post-processing reads
    no session again (:class:`~tinyhar.evaluation.sessionstreams.SessionRecordings`
    with ``features``).

    The session tasks are sent to the workers before this process imports
    scikit-learn (about 0.5 s): they carry
    :func:`~tinyhar.training.trees.feature_pipeline`, built from the
    configuration and the first session's layout alone; the whole pipeline
    (:func:`~tinyhar.training.trees.build_pipeline`: the same features, and
    the model) is built here once they are sent, while the workers compute.
    This module and :mod:`tinyhar.training.job` import scikit-learn only
    inside their functions.
    """
    from tinyhar import compute
    from tinyhar.datasets.sessions import session_reads
    from tinyhar.evaluation.sessionstreams import SessionRecordings
    from tinyhar.features.table import FeatureCache, SessionJob, build_feature_table, settings_key

    if cfg.augment.rotation != "none":
        raise ConfigError(
            f"augment.rotation {cfg.augment.rotation!r} needs the raw training windows in "
            "memory, which out-of-core training does not keep: use augment.rotation: none or "
            "compute.out_of_core: false"
        )
    check_postprocess_config(cfg, True)
    ds, w, c = cfg.dataset, cfg.windows, cfg.compute
    if c.cache:
        FeatureCache(c.cache).check_writable()
        _check_cache_outside_files(ds.name, c.cache)
    # local worker processes (if any) start while this process reads the first session
    compute.start_workers(c.scheduler, c.workers)
    sources, prefix = session_reads(ds.name)  # a session in two files: read together
    console.print(
        f"reading [bold]{ds.name}[/] session by session: {plural(len(sources), 'source')}, "
        f"scheduler {c.scheduler}" + (f", feature cache {c.cache}" if c.cache else "")
    )
    # the first session's layout (its samples, if read, give its rows below)
    first, first_read = _first_layout(sources[0], ds.checks, prefix, c.cache)
    channels = wanted_channels(ds.sensors, first.channels, first.name)
    rate = float(w.target_rate_hz) if w.target_rate_hz else first.sampling_rate_hz
    n_win = to_samples(w.window, w.unit, rate, "window")
    hop = to_samples(w.hop, w.unit, rate, "hop")
    spec = WindowSet(np.zeros((1, n_win, len(channels)), np.float32), [""], [""], [""], [0.0],
                     channels, rate, first.classes, first.name, hop_samples=hop)
    # what the tasks need, built without scikit-learn: this process imports it (for the
    # model) only once the tasks are with the workers (see `first_session` below)
    featurise = feature_pipeline(spec.spec, cfg, first.classes)
    names = list(featurise.feature_names)
    windowing = dict(window=w.window, hop=w.hop, unit=w.unit, purity=w.purity,
                     target_rate_hz=w.target_rate_hz, channels=channels)
    settings = extractor_settings(cfg, rate, channels)
    text = settings_key({"windowing": windowing, "features": names,  # extractor: its
                         "extractor": repr(dict(sorted(settings.items()))),  # get_params()
                         "stack_previous": cfg.features.stack_previous,
                         # how the samples are read: other checks or names, other rows
                         "checks": repr(ds.checks), "session_prefix": prefix})
    streams = _needs_streams(cfg)
    jobs = [SessionJob(s, windowing, featurise, names, ds.checks, c.cache, text, prefix, streams)
            for s in sources]
    built: dict = {}  # the whole pipeline (feature extractor and model)
    split: dict = {}
    # source name -> (StreamRows of every window of its stream, its first row, its rows)
    stream_rows: dict = {}
    fingerprints: dict = {}  # source name -> file hash (with a cache)
    n_rows = [0]  # rows of the sessions so far, in the order the table concatenates them

    def arrived(result) -> None:
        if result.rows is not None:
            if result.stream is not None:
                stream_rows[result.name] = (result.stream, n_rows[0], len(result.rows))
            n_rows[0] += len(result.rows)
        fingerprints[result.name] = result.fingerprint
        progress.advance(task)

    def first_session(f, job):
        """Here, once the other sessions' tasks are with the workers: the pipeline (imports
        scikit-learn; the same features as ``featurise``), then the first session's rows
        (read already)."""
        built["pipeline"] = build_pipeline(spec, cfg, hop, check_size=False)
        return f(job, first_read)

    def train_rows_first(labels) -> np.ndarray:
        """Split by subject on the labels alone; order rows training first, then test."""
        from tinyhar.evaluation.metrics import check_labels
        from tinyhar.training.splits import split_windows

        classes = first.classes
        extra = sorted(set(labels.y) - set(classes) - {""})
        if extra:  # no class list in the definition: the labels found, sorted
            classes = sorted(set(classes) | set(extra))
        windows = _TableWindows(labels, classes, first.name, channels, n_win, rate, spec.spec)
        console.print(
            f"{plural(len(windows), 'window')} of {n_win} samples at {rate:g} Hz, "
            f"{plural(len(windows.subjects), 'subject')}, channels {channels}"
        )
        check_labels(windows.y, classes, "the data set")
        check_leaf_size(cfg, len(windows))
        tr, te, protocol, leakage = split_windows(windows, cfg, console)
        check_labels(windows.y[tr], classes, "the training subjects")
        same = len(tr) == len(te) and bool(np.all(tr == te))  # loso: every window in both
        order = tr if same else np.concatenate([tr, te])
        split.update(classes=classes, protocol=protocol, leakage=leakage, n_train=len(tr),
                     test=(0, len(tr)) if same else (len(tr), len(tr) + len(te)),
                     order=order, n_rows=len(labels))
        return order

    with _progress(console) as progress:
        task = progress.add_task("sessions (read, window, features)", total=len(jobs))
        try:
            table, failed = build_feature_table(
                jobs, names,
                lambda f, items: compute.map_in_order(  # the first session is read already:
                    f, items[1:], c.scheduler, c.workers,  # its rows here, while the workers
                    head=lambda: first_session(f, items[0]),  # start on the others
                    weights=[job.source.nbytes for job in items[1:]],  # short sessions: grouped
                    no_workers_timeout_s=c.no_workers_timeout_s),
                strict=c.strict, on_result=arrived,
                order_rows=train_rows_first,
            )
        finally:  # workers that no task used (a single session)
            compute.stop_workers()
    from tinyhar.evaluation.metrics import score_predictions

    for f in failed:
        console.print(f"[yellow]skipped {f.name}: {f.error}[/]")
    pipeline = built["pipeline"]
    classes = split["classes"]
    pipeline.classes = list(classes)
    protocol, leakage = split["protocol"], split["leakage"]
    windows = _TableWindows(table, classes, first.name, channels, n_win, rate, spec.spec)
    # views, not copies: the rows are already in training-then-test order
    train_w = windows.subset(slice(0, split["n_train"]))
    test_w = windows.subset(slice(*split["test"]))
    loso = cfg.evaluation.protocol == "loso"
    cv, pooled, fold_models = fit_with_folds(cfg, pipeline, train_w, train_w.X, console)
    pred = pooled if loso else pipeline.model.predict(test_w.X)
    metrics = score_predictions(test_w, pred, classes)
    pipeline.info = {"config": cfg.model_dump(mode="json"), "dataset": windows.name}
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage,
                                   table.counts))
    # every training window's mean acceleration, summed per session as its rows were computed
    # (or cached): the in-memory run's statistic (stages._common_metrics), not the examples'
    metrics["gravity_reference"] = (
        None if table.gravity_sums is None
        else table.gravity_sums.reference(classes, metrics["train_subjects"]))
    metrics.update({
        "model_size": pipeline.model.size(),
        "n_features": len(names),
        "feature_set": cfg.features.set,
        "cross_validation": cv,
        "out_of_core": {
            "sources": len(sources),
            "skipped": [{"source": f.name, "error": f.error} for f in failed],
            "scheduler": c.scheduler,
            "workers": c.workers,
            "cache": c.cache,
            "feature_rows_mb": round(table.nbytes / 2**20, 1),
            "stream_rows_mb": round(sum(r[0].nbytes for r in stream_rows.values()) / 2**20,
                                    1),
        },
    })
    read = [s for s in sources if s.name in stream_rows] if streams else sources
    position = np.full(split["n_rows"], -1, np.int64)  # each session row's place in the table
    position[split["order"]] = np.arange(len(split["order"]))
    recordings = SessionRecordings(read, ds.checks, prefix, c.scheduler, c.workers,
                                   features=_ResolvedStreams(stream_rows, table.X, position),
                                   no_workers_timeout_s=c.no_workers_timeout_s)
    metrics["postprocess"] = _postprocess_stage(
        cfg, recordings, pipeline, fold_models, train_w, test_w, out, console, train_w.X
    )
    stream_rows.clear()  # the stream rows are done with: free them
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / CONFIG_FILE)
    unseen = set(test_w.subject) - set(train_w.subject)

    def raw_windows(subjects: set, **kw) -> WindowSet | None:
        """:func:`_raw_windows`, kept in the feature cache (keyed by every source's hash)."""
        return _cached(c.cache, [fingerprints.get(s.name) for s in sources],
                       {"settings": text, "subjects": sorted(subjects), **kw},
                       lambda: _raw_windows(sources, subjects, ds.checks, windowing, prefix,
                                            classes, **kw))

    if unseen:
        stored = raw_windows(unseen, limit=MAX_TEST_WINDOWS)
        metrics["test_windows_note"] = (
            write_test_windows(out, stored) if stored is not None
            else "no session of the test subjects could be read again")
    else:
        metrics["test_windows_note"] = (
            f"every test subject of the run trained its final model (evaluation.protocol "
            f"{cfg.evaluation.protocol!r}), so no windows are unseen by it")
    examples = raw_windows(set(train_w.subject), per_class=3)
    figures = _figures(metrics, examples, pipeline=pipeline)
    if examples is None:
        figures = [f for f in figures if f[0] != "class_overview.png"]
    return _finish(metrics, out, t_start, console, figures)


class _ResolvedStreams(Mapping):
    """Source name -> its whole stream's features, resolved one session at a time on access.

    ``rows`` maps a source to ``(StreamRows, first row, n rows)``: its training
    rows are rows ``first .. first + n`` of the sessions' concatenation,
    found in the table's matrix ``X`` at ``position`` (training-then-test
    order). A resolved stream is built when asked for and not kept, so
    memory holds the compact rows plus one session's features.
    """

    def __init__(self, rows: dict, X: np.ndarray, position: np.ndarray) -> None:
        self.rows, self.X, self.position = rows, X, position

    def __getitem__(self, name: str):
        stream, first, n = self.rows[name]
        return stream.resolve(self.X, self.position[first : first + n])

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def _check_cache_outside_files(definition: str, cache_dir: str) -> None:
    """Refuse a feature cache whose entries the definition's ``files`` match.

    Raises
    ------
    ConfigError
        A file of the data set lies in the cache folder (e.g. ``files:
        '**/*.parquet'`` with the cache in the data folder): its entries
        would be read as recordings.
    """
    from tinyhar.datasets.custom import DatasetDefinition, resolve_files

    path, root = Path(definition), Path(cache_dir).resolve()
    for file in resolve_files(DatasetDefinition.from_yaml(path), path.parent, definition):
        if root in file.resolve().parents:
            raise ConfigError(
                f"compute.cache: {cache_dir} holds files that the definition's 'files' match "
                f"({file.name}, {path}): its entries would be read as recordings; put the "
                "feature cache outside the data folder, or narrow 'files'")


def _first_layout(source, checks, prefix: bool, cache_dir: str | None):
    """Name, channels, sampling rate and classes of the first session; its batches if read.

    Only the session's first batch of rows is read for them
    (:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`; a
    definition without ``classes`` gives that batch's labels: the labels of
    later windows are added when the rows are split). With a feature cache
    they are cached too (a small JSON entry keyed by the session's file
    hash), so a training from the cache reads no samples.

    Returns
    -------
    layout : SimpleNamespace
        ``name``, ``channels``, ``sampling_rate_hz``, ``classes``.
    batches : iterator of RecordingSet or None
        The session's batches, the first one read already, when it had to be
        read (then not read again for its rows:
        :func:`~tinyhar.features.table.run_session_job` reads on).
    """
    from types import SimpleNamespace

    from tinyhar.features.table import FeatureCache, settings_key

    cache = FeatureCache(cache_dir) if cache_dir else None
    key = None
    if cache is not None:
        key = cache.key(source.fingerprint(), settings_key({"layout": repr(checks),
                                                            "session_prefix": prefix}))
        facts = cache.get_facts(key)
        if facts is not None:
            return SimpleNamespace(**facts), None
    batches = source.iter_batches(checks, prefix)
    recordings = next(batches, None)
    if recordings is None:  # no rows: the whole read says what is wrong, or reads none
        recordings = source.load(checks, prefix)
    facts = {"name": recordings.name, "channels": list(recordings.channels),
             "sampling_rate_hz": float(recordings.sampling_rate_hz),
             "classes": list(recordings.classes)}
    if cache is not None:
        cache.put_facts(key, facts)
    return SimpleNamespace(**facts), itertools.chain([recordings], batches)


def _cached(cache_dir: str | None, fingerprints: list, what: dict, make):
    """Raw windows from the feature cache, or ``make()`` (then stored there).

    The key is the hash of every source (none missing: a source that failed
    or has no hash means no caching) and ``what`` (the settings and the
    request), so a changed file gives other windows.
    """
    from tinyhar.features.table import FeatureCache, settings_key

    if not cache_dir or not fingerprints or any(f is None for f in fingerprints):
        return make()
    cache = FeatureCache(cache_dir)
    key = cache.key("\x00".join(fingerprints), settings_key({"raw_windows": what}))
    got = cache.get_windows(key)
    if got is None:
        got = make()
        if got is not None:
            cache.put_windows(key, got)
    return got


def _needs_streams(cfg: TrainConfig) -> bool:
    """Whether post-processing needs whole streams: fitted on them, or test streams scored.

    As :func:`~tinyhar.training.stages._postprocess_stage`: the test subjects'
    streams are scored with a hold-out protocol; the training subjects'
    (cross-validated) streams are classified to choose or fit ``auto``,
    ``hmm``, a rejection or a posture correction.
    """
    p = cfg.postprocess
    return (cfg.evaluation.protocol == "holdout" or p.smoothing in ("auto", "hmm")
            or p.reject != "none" or p.posture != "none")


def _raw_windows(sources, subjects: set, checks, windowing: dict, prefix: bool,
                 classes: list[str], per_class: int | None = None,
                 limit: int | None = None) -> WindowSet | None:
    """Raw windows of ``subjects``, read one batch of a session at a time (out-of-core runs).

    With ``per_class``, a few windows of each class for ``class_overview.png``
    (sessions are read until every class has them, at most 30 sessions); with
    ``limit``, whole sessions in order up to that many windows (the run's
    stored test windows, :data:`tinyhar.runfolder.MAX_TEST_WINDOWS`; a
    source that fails gives none). The windows are those of
    :func:`~tinyhar.windows.windowing.make_windows` on each whole session
    (:func:`~tinyhar.features.table.iter_session_windows` of its batches), so
    memory stays bounded by one batch plus what is kept. None when no
    session of ``subjects`` could be read.
    """
    from tinyhar.features.table import iter_session_windows

    found: dict[str, int] = dict.fromkeys(classes, 0)
    parts, total, wanted = [], 0, list(subjects)
    for k, source in enumerate(sources):
        if per_class is not None and k >= 30:
            break
        if source.subject is not None and source.subject not in subjects:
            continue
        done, run, session, full = [], [], None, False  # limit: whole sessions, the open one
        try:
            for w in iter_session_windows(source.iter_batches(checks, prefix), **windowing):
                w = w.subset(np.flatnonzero(np.isin(w.subject, wanted)))
                if not len(w):  # (a file of column subjects: none of these here)
                    continue
                if per_class is not None:
                    keep = np.zeros(len(w), bool)
                    for c in classes:
                        take = np.flatnonzero(w.y == c)[: per_class - found[c]]
                        keep[take] = True
                        found[c] += len(take)
                    if keep.any():
                        parts.append(w.subset(keep))
                    if all(n >= per_class for n in found.values()):
                        break
                    continue
                ends = np.flatnonzero(np.r_[w.session[1:] != w.session[:-1], True]) + 1
                for a, b in zip(np.r_[0, ends[:-1]], ends, strict=True):
                    if w.session[a] != session:  # the open session is whole: done
                        done, run, session = done + run, [], w.session[a]
                    run.append(w.subset(np.arange(a, b)))
                    if total + sum(len(p) for p in done + run) > limit:
                        full = True
                        break
                if full:
                    break
        except TinyharError:
            continue  # reported when its features were computed
        if per_class is not None:
            if all(n >= per_class for n in found.values()):
                break
            continue
        kept = done if full else done + run
        parts += kept
        total += sum(len(p) for p in kept)
        if full:
            break
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    first = parts[0]
    return WindowSet(
        np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
        np.concatenate([p.subject for p in parts]), np.concatenate([p.session for p in parts]),
        np.concatenate([p.start_time for p in parts]), first.channels, first.sampling_rate_hz,
        list(classes), first.name, hop_samples=first.hop_samples,
    )
