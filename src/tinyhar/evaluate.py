"""Score a trained run on a data set: ``tinyhar evaluate``.

A run is scored on windows cut with its own
:class:`~tinyhar.core.spec.WindowSpec` (:func:`evaluation_windows`; a tree
run on a dataset definition reads it one session at a time,
:func:`reads_by_session`), or on
whole recordings before and after its post-processing
(:func:`evaluate_continuous`; a dataset definition or a ``.parquet`` recording
is read one session at a time, a long one in batches of rows). Scores are
subject-independent by default: subjects the run was trained on are left out
(:func:`select_unseen_subjects`, with the registry's ``population`` of data sets
recorded from the same people, :class:`~tinyhar.datasets.info.DatasetInfo`).
Every function takes a :class:`~tinyhar.runfolder.Run` (or a run folder,
loaded once); nothing here imports :mod:`tinyhar.training`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console

from tinyhar.core.ids import natural_key
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import EvaluationError, TinyharError
from tinyhar.evaluation.metrics import score_predictions
from tinyhar.evaluation.splits import LeakageWarning
from tinyhar.models.pipeline import PIPELINE_FILE
from tinyhar.reporting.figures import score_figures
from tinyhar.reporting.progress import progress_bar
from tinyhar.reporting.text import name_subjects, plural, subject_list
from tinyhar.runfolder import Run, load_run
from tinyhar.windows.source import load_data, make_window_set


def _population(name: str) -> str | None:
    """The people a named data set was recorded from (None: unknown, e.g. your own data).

    Read from its :class:`~tinyhar.datasets.info.DatasetInfo` (``population``):
    equal subject ids in data sets of the same population are the same person,
    except in a data set whose ids were renumbered (``renumbered_subjects``);
    data sets of two different known populations share nobody.
    """
    info = DATASETS.get(name)
    return info.population if info is not None else None


def evaluate_run(
    run_dir: str | Path | Run,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
    scheduler: str = "serial",
    workers: int | None = None,
) -> dict:
    """Score a trained run on a data set (possibly another one than it was trained on).

    Windows are cut with the run's window length and hop. The score is
    subject-independent by default: subjects the run was trained on are left
    out, and the console says how many. A subject counts as a training
    subject when its id is in the run's ``train_subjects`` and the data sets
    may hold the same people: the same data set, the same population (see
    :class:`~tinyhar.datasets.info.DatasetInfo` ``population``: HAPT and UCI HAR
    share their 30 subjects), or a
    data set of unknown population (your own files: equal ids are taken to be
    the same person). Evaluating a run on the data set it was trained on thus
    reproduces its held-out test score.

    Parameters
    ----------
    run_dir : str, Path or Run
        A run folder written by :func:`train`, or the :class:`~tinyhar.runfolder.Run`
        loaded from it.
    dataset : str
        Registered data set name or a dataset definition path.
    path : str, optional
        File or folder of the data set.
    subjects : list of str, optional
        Score only these subjects (training subjects among them are still
        left out unless ``include_training_subjects``).
    console : rich.console.Console, optional
        Where messages go (default: a quiet console).
    include_training_subjects : bool
        Score training subjects too. The result is inflated: a
        :class:`~tinyhar.evaluation.splits.LeakageWarning` is issued and the
        output records ``includes_training_subjects: true`` with the list.
    scheduler : str
        Where the sessions are read, windowed and featurised when the data set
        is read one session at a time (:func:`reads_by_session`): ``serial``
        (this process), ``threads``, ``processes`` or a dask.distributed
        address (:func:`tinyhar.compute.map_in_order`; short sessions are
        grouped into tasks by their bytes). The scores do not depend on it.
        A data set loaded whole (a network run, a data set name) is scored in
        this process, whatever the scheduler.
    workers : int, optional
        Local workers for ``threads`` and ``processes`` (default:
        :func:`default_workers`).

    Returns
    -------
    dict
        Metrics as in :func:`tinyhar.evaluation.metrics.classification_metrics`
        plus ``per_subject``, ``dataset``, ``run``, ``subjects`` (scored),
        ``skipped_classes`` (classes unknown to the model),
        ``excluded_training_subjects``, ``includes_training_subjects`` and
        ``training_subjects_scored``.

    Raises
    ------
    TinyharError
        Missing run, incompatible channels/rate/length, subjects that do not
        exist, no subject left that the run was not trained on, no
        overlapping classes; a bad scheduler or ``workers`` < 1.
    ComputeError
        The Dask cluster cannot be reached or went away.
    """
    run = load_run(run_dir)  # checked against its manifest
    run_dir = run.path
    pipeline = run.pipeline
    failed: list | None = None
    if reads_by_session(run, dataset, path):
        windows, pred, selection, skipped, failed = _evaluate_by_session(
            run, dataset, subjects, console, include_training_subjects, scheduler,
            default_workers(workers))
    else:
        note_in_this_process(console, scheduler,
                             "a network reads raw windows: the data set is loaded whole"
                             if run.is_network else loaded_whole(dataset, path=path))
        windows, selection, skipped = evaluation_windows(
            run, dataset, path, subjects, console, include_training_subjects
        )
        pred = pipeline.predict(windows)
    metrics = score_predictions(windows, pred, pipeline.classes)
    if failed is not None:
        metrics["skipped_sessions"] = [{"source": f.name, "error": f.error} for f in failed]
    metrics.update(
        {
            "dataset": windows.name,
            "run": str(run_dir),
            "subjects": sorted(set(windows.subject), key=natural_key),
            "skipped_classes": skipped,
            "excluded_training_subjects": selection["excluded"],
            "includes_training_subjects": bool(selection["included"]),
            "training_subjects_scored": selection["included"],
        }
    )
    return metrics


def reads_by_session(run: Run, dataset: str, path: str | None = None) -> bool:
    """Whether :func:`evaluate_run` reads ``dataset`` one session at a time.

    Yes for a dataset definition (``.yaml``) and a feature-based (tree)
    pipeline: each session is read, windowed and turned into feature rows
    on its own (:mod:`tinyhar.features.table`, as out-of-core training does),
    so memory holds the rows (about 0.8 kB per window), not the samples or the
    raw windows, and data sets larger than memory can be scored. The scores
    equal those of the whole data set in memory. A network reads raw windows:
    its data set is loaded whole.
    """
    return (path is None and Path(dataset).suffix.lower() in (".yaml", ".yml")
            and run.pipeline.extractor is not None)


def default_workers(workers: int | None = None) -> int:
    """``workers``, or where None the default of ``compute.workers``
    (:class:`tinyhar.config.ComputeConfig`): the local workers of ``evaluate``
    and ``predict`` when none are given."""
    from tinyhar.config import ComputeConfig

    return ComputeConfig.model_fields["workers"].default if workers is None else workers


def note_in_this_process(console: Console | None, scheduler: str, why: str) -> None:
    """Say that ``--scheduler`` was asked for but the job runs in this process, and why.

    The one wording of that note, for ``evaluate`` (windows and
    ``--continuous``) and ``predict``: a network classifies here
    (:func:`stream_scheduler`), and a data set loaded whole is scored or
    classified here (:func:`loaded_whole`). Nothing is printed for
    ``serial`` (nothing else was asked for) or without a console.

    Parameters
    ----------
    console : rich.console.Console or None
        Where the note goes.
    scheduler : str
        The scheduler asked for (``threads``, ``processes``, a dask.distributed address).
    why : str
        Why the job runs here, e.g. :func:`loaded_whole`'s reason.
    """
    if scheduler == "serial" or console is None:
        return
    console.print(f"note: --scheduler {scheduler} was asked for, but the job runs in this "
                  f"process: {why}")


def loaded_whole(dataset: str, recordings: bool = False, path: str | None = None) -> str:
    """The reason (for :func:`note_in_this_process`) that ``dataset`` runs in this process.

    ``recordings``: tinyhar ``.parquet`` recordings are read session by
    session too (``evaluate --continuous``, ``predict``), not only dataset
    definitions (``.yaml``). ``path``: the ``--path`` given with it (a data
    set read from another folder is loaded whole, whatever its kind).
    """
    if path is not None:
        return f"{dataset!r} with --path {path!r} is loaded whole"
    kinds = ("a dataset definition (.yaml) or a tinyhar recording (.parquet)" if recordings
             else "a dataset definition (.yaml)")
    return f"{dataset!r} is loaded whole (only {kinds} is read session by session)"


def stream_scheduler(run: Run, scheduler: str, console: Console | None = None) -> str:
    """The scheduler that classifies whole streams session by session for ``run``.

    ``scheduler`` for a feature-based (tree) pipeline; ``serial`` for a
    network, which classifies in this process (PyTorch uses the cores
    itself, and worker processes would each import it), with a note on
    ``console`` when another scheduler was asked for (:func:`note_in_this_process`).
    """
    if not run.is_network or scheduler == "serial":
        return scheduler
    note_in_this_process(console, scheduler, "a network classifies here (PyTorch uses the "
                         "cores itself; worker processes would each import it)")
    return "serial"


def _evaluate_by_session(run: Run, dataset: str, subjects: list[str] | None,
                         console: Console | None, include_training_subjects: bool,
                         scheduler: str = "serial", workers: int = 1):
    """:func:`evaluate_run`'s windows and predictions, one session at a time.

    The windows are those of :func:`evaluation_windows` (the run's window
    spec and channels, resampled to its rate where a session has another;
    the same subjects and classes), as feature rows; a session that cannot
    be read is skipped and returned in ``failed``. Where the file names give
    every session's subject, only the sessions of the subjects to score are
    read (as :func:`evaluate_continuous` does). Files that share a session
    (subject and session from columns) are read together
    (:func:`tinyhar.datasets.sessions.join_split_sessions`). The sessions after the
    first (read here for its layout, and featurised here while the others
    are with the workers) run on ``scheduler`` with ``workers`` local workers
    (:func:`tinyhar.compute.map_in_order`, grouped by their bytes), as
    out-of-core training reads them; the rows come back in the sessions'
    order, so the scores do not depend on the scheduler.

    Returns
    -------
    windows : FeatureTable-like
        ``y``, ``subject``, ``name`` of the scored windows.
    pred : numpy.ndarray of str, shape (n_windows,)
    selection : dict
        As :func:`select_unseen_subjects`.
    skipped : list of str
        Classes the model does not know.
    failed : list
        The sessions skipped (``name``, ``error``).
    """
    from types import SimpleNamespace

    from tinyhar import compute
    from tinyhar.core.channels import require_channels
    from tinyhar.datasets.sessions import session_reads
    from tinyhar.features.table import SessionJob, build_feature_table

    console = console or Console(quiet=True)
    pipeline, cfg, spec = run.pipeline, run.config, run.spec
    sources, prefix = session_reads(dataset)  # a session in two files: read together
    selection = None
    if all(s.subject is not None for s in sources):  # subjects from the file names: only the
        from tinyhar.datasets.custom import DatasetDefinition  # sessions to score are read

        named = sorted({str(s.subject) for s in sources}, key=natural_key)
        selection = choose_unseen_subjects(named, DatasetDefinition.from_yaml(Path(dataset)).name,
                                           run.metrics, subjects, include_training_subjects,
                                           console)
        sources = [s for s in sources if str(s.subject) in selection["subjects"]]
    first, failed_first = _first_session(sources, cfg.dataset.checks, prefix, dataset)
    sources = sources[len(failed_first):]
    require_channels(pipeline.channels, first.channels, first.name)
    windowing = dict(window=spec.n_samples, hop=spec.streaming_hop, unit="samples",
                     purity=cfg.windows.purity, target_rate_hz=spec.sampling_rate_hz,
                     channels=list(pipeline.channels))
    featurise = pipeline.features_only()
    names = list(pipeline.feature_names)
    jobs = [SessionJob(s, windowing, featurise, names, cfg.dataset.checks, None, "", prefix)
            for s in sources]

    def in_order(f, items):  # the first session is read already: its rows from it, here,
        return compute.map_in_order(  # while the workers start on the others
            f, items[1:], scheduler, workers, head=lambda: f(items[0], first),
            weights=[job.source.nbytes for job in items[1:]],  # short sessions: grouped
            no_workers_timeout_s=cfg.compute.no_workers_timeout_s)

    with progress_bar(console) as progress:
        task = progress.add_task("sessions (read, window, features)", total=len(jobs))
        table, failed = build_feature_table(
            jobs, names, in_order, on_result=lambda _: progress.advance(task))
    failed = failed_first + failed
    for f in failed:
        console.print(f"[yellow]skipped {f.name}: {f.error}[/]")
    if len(table) == 0:
        raise EvaluationError(
            f"no window of {dataset!r} could be scored: no session has labelled windows of "
            f"{spec.n_samples} samples" + (f" ({len(failed)} could not be read)" if failed
                                            else "")
        )
    labelled = table.y != ""
    if selection is None:  # subjects from a column: those with labelled windows
        available = sorted(set(table.subject[labelled].tolist()), key=natural_key)
        selection = choose_unseen_subjects(available, first.name, run.metrics, subjects,
                                           include_training_subjects, console)
    chosen = labelled & np.isin(table.subject, selection["subjects"])
    known = np.isin(table.y, list(pipeline.classes))
    skipped = sorted(set(table.y[chosen & ~known]))
    if skipped:
        console.print(f"[yellow]classes unknown to the model are skipped: {skipped}[/]")
    keep = np.flatnonzero(chosen & known)
    if len(keep) == 0:
        raise EvaluationError(
            f"no window of {dataset!r} ({subject_list(selection['subjects'])}) has a "
            f"class the model knows ({sorted(pipeline.classes)}); evaluate on data with "
            "these activities"
        )
    pred = pipeline.model.predict(table.X[keep])
    windows = SimpleNamespace(y=table.y[keep], subject=table.subject[keep], name=first.name)
    return windows, pred, selection, skipped, failed


def _first_session(sources: list, checks, prefix: bool, dataset: str):
    """The first session that can be read (its layout, and its rows computed from it here),
    and those before it that cannot (:class:`~tinyhar.features.table.SessionResult`, with
    the error naming the file).

    Raises
    ------
    EvaluationError
        No session can be read.
    """
    from tinyhar.features.table import SessionResult

    failed = []
    for source in sources:
        try:
            return source.load(checks, prefix), failed
        except TinyharError as exc:
            failed.append(SessionResult(source.name, None, error=str(exc)))
    raise EvaluationError(f"no session of {dataset!r} could be read; the first: "
                          f"{failed[0].name}: {failed[0].error}")


def evaluation_windows(
    run: Run,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
) -> tuple[WindowSet, dict, list[str]]:
    """The windows :func:`evaluate_run` scores: unseen subjects, classes the model knows.

    Windows are cut with the run's :class:`~tinyhar.core.spec.WindowSpec`
    (its ``n_samples`` and training hop, resampled to its rate when the data
    set has another), in the pipeline's channels;
    subjects are chosen by :func:`select_unseen_subjects`.

    Parameters
    ----------
    run : Run
        A loaded run folder (:func:`tinyhar.runfolder.load_run`).
    dataset, path, subjects, console, include_training_subjects
        As in :func:`evaluate_run`.

    Returns
    -------
    windows : WindowSet
        Shape (n_windows, n_samples, n_channels), only classes the model knows.
    selection : dict
        As returned by :func:`select_unseen_subjects`.
    skipped : list of str
        Classes of the data set the model does not know (their windows are left out).

    Raises
    ------
    TinyharError
        As in :func:`evaluate_run`.
    """
    console = console or Console(quiet=True)
    pipeline, cfg, metrics_train = run.pipeline, run.config, run.metrics
    sensors = "acc" if all(c.startswith("acc_") for c in pipeline.channels) else cfg.dataset.sensors
    eval_cfg = cfg.model_copy(deep=True)
    eval_cfg.dataset.name = dataset
    eval_cfg.dataset.path = path
    eval_cfg.dataset.sensors = sensors
    data = load_data(eval_cfg)
    if isinstance(data, RecordingSet):
        spec = run.spec
        eval_cfg.windows.window = spec.n_samples
        eval_cfg.windows.hop = spec.streaming_hop
        eval_cfg.windows.unit = "samples"
        eval_cfg.windows.target_rate_hz = None
        if abs(data.sampling_rate_hz - spec.sampling_rate_hz) > 1e-6:
            eval_cfg.windows.target_rate_hz = spec.sampling_rate_hz
        windows, _ = make_window_set(data, eval_cfg)
    else:
        windows = data
    windows, selection = select_unseen_subjects(
        windows, metrics_train, subjects, include_training_subjects, console
    )
    known = set(pipeline.classes)
    keep = np.isin(windows.y, list(known))
    skipped = sorted(set(windows.y[~keep]))
    if skipped:
        console.print(f"[yellow]classes unknown to the model are skipped: {skipped}[/]")
    windows = windows.subset(keep)
    if len(windows) == 0:
        raise EvaluationError(
            f"no window of {dataset!r} ({subject_list(selection['subjects'])}) has a "
            f"class the model knows ({sorted(known)}); evaluate on data with these activities"
        )
    return windows, selection, skipped


def evaluate_continuous(
    run_dir: str | Path | Run,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
    figures_dir: str | Path | None = None,
    by_session: bool | None = None,
    scheduler: str = "serial",
    workers: int | None = None,
) -> dict:
    """Score a run on whole recordings, before and after its post-processing.

    Every window of each selected session is cut with the run's window
    length and hop (impure windows and unlabelled spans included; label =
    majority of the samples), classified and post-processed with the run's
    ``postprocess.json`` (:mod:`tinyhar.evaluation.streams`). Windows whose
    label is unlabelled or a class the model does not know (e.g. HAPT
    transitions for a model of the basic activities) are not scored and are
    counted in ``excluded``. Subjects are chosen as in :func:`evaluate_run`:
    only those the run was not trained on, unless
    ``include_training_subjects``.

    A dataset definition (``.yaml``) or a tinyhar recording (``.parquet``)
    is read one session at a time, a long session in batches of rows
    (:class:`~tinyhar.evaluation.sessionstreams.SessionRecordings`): each
    session is read, classified, post-processed and reduced to its class
    sequences (:class:`~tinyhar.evaluation.streams.StreamLabels`, about 45
    bytes per window) before the next is read, so memory holds one batch of
    samples, not the data set; the scores are those of the whole data set in
    memory. A session that cannot be read is skipped and listed
    (``skipped_sessions``). Other data sets are loaded whole.

    Parameters
    ----------
    run_dir, dataset, path, subjects, console, include_training_subjects
        As in :func:`evaluate_run`.
    figures_dir : str or Path, optional
        Folder for one timeline figure per scored subject,
        ``timeline_<subject>.png`` (signal, true labels, raw and smoothed
        predictions; :func:`tinyhar.reporting.timeline.plot_timeline`).
    by_session : bool, optional
        Read a dataset definition or ``.parquet`` recording session by session
        (default: yes for those; ``False`` loads it whole).
    scheduler : str
        Where the sessions are read and classified when read one at a time:
        ``serial`` (this process), ``threads``, ``processes`` or a
        dask.distributed address
        (:class:`~tinyhar.evaluation.sessionstreams.SessionRecordings`;
        tree runs: a network classifies in this process,
        :func:`stream_scheduler`). The scores do not depend on it.
    workers : int, optional
        Local workers for ``threads`` and ``processes`` (default:
        :func:`default_workers`).

    Returns
    -------
    dict
        :func:`tinyhar.evaluation.streams.stream_scores` (``raw`` and
        ``smoothed`` continuous metrics, ``excluded``, ``n_windows``, ...)
        plus ``dataset``, ``run``, ``subjects``, ``excluded_training_subjects``,
        ``includes_training_subjects``, ``training_subjects_scored``,
        ``per_subject`` (macro-F1 raw and smoothed per subject),
        ``skipped_sessions`` (``source``, ``error``) and ``figures`` (file
        names written into ``figures_dir``).

    Raises
    ------
    TinyharError
        A bad run folder; pre-cut windows; subjects as in
        :func:`evaluate_run`; no window with a class the model knows;
        ``by_session`` for a data set that is not a definition or ``.parquet``;
        a bad scheduler or ``workers`` < 1.
    ComputeError
        The Dask cluster cannot be reached or went away.
    """
    from tinyhar.evaluation.streams import StreamLabels, stream_predictions, stream_scores
    from tinyhar.postprocess import PostProcessor

    console = console or Console(quiet=True)
    run = load_run(run_dir)
    pipeline = run.pipeline
    spec = run.postprocess or PostProcessor(pipeline.classes)
    from tinyhar.datasets.sessions import RecordingFile

    definition = (Path(dataset).suffix.lower() in (".yaml", ".yml")
                  or RecordingFile.streams(dataset))
    if by_session and not definition:
        raise EvaluationError(
            f"{dataset!r} is not a dataset definition (.yaml) or a tinyhar recording "
            "(.parquet): only those are read session by session"
        )
    skipped: list[dict] = []
    with progress_bar(console) as progress:
        task = progress.add_task("classifying whole streams", total=None)
        if definition and by_session is not False:
            name, selection, labels = _session_labels(
                run, dataset, spec, subjects, include_training_subjects, console, skipped,
                lambda n: progress.advance(task, n), stream_scheduler(run, scheduler, console),
                default_workers(workers),
            )
        else:
            note_in_this_process(console, scheduler,
                                 f"{dataset!r} is loaded whole (by_session=False)"
                                 if definition else loaded_whole(dataset, recordings=True))
            data = load_for_run(run, dataset, path)
            if not isinstance(data, RecordingSet):
                raise EvaluationError(
                    f"{dataset!r} comes as pre-cut windows without time order: --continuous "
                    "needs continuous recordings (hapt, hapt-raw, a tinyhar .parquet or a "
                    "definition)"
                )
            name = data.name
            selection = choose_unseen_subjects(data.subjects, name, run.metrics, subjects,
                                               include_training_subjects, console)
            data = data.select(subjects=selection["subjects"])
            pred = stream_predictions(pipeline, data,
                                      on_windows=lambda n: progress.advance(task, n),
                                      ood_model=spec.ood_model)
            del data
            labels = StreamLabels.classify(pred, spec) if len(pred) else None
            del pred
    if labels is None or not np.isin(labels.y, list(pipeline.classes)).any():
        raise EvaluationError(
            f"no window of {dataset!r} ({subject_list(selection['subjects'])}) has a class the "
            f"model knows ({pipeline.classes}); evaluate on data with these activities"
        )
    result = stream_scores(labels)
    per_subject = {}
    figures = []
    for s in sorted(set(labels.subject.tolist()), key=natural_key):
        part = labels.subset(labels.subject == s)
        if np.isin(part.y, list(pipeline.classes)).any():
            sc = stream_scores(part)
            per_subject[s] = {k: sc[k]["macro_f1"] for k in ("raw", "smoothed")}
        if figures_dir is not None:
            figures.append(_timeline_figure(part, figures_dir, name, s))
    result.update(
        {
            "dataset": name,
            "run": str(run.path),
            "subjects": selection["subjects"],
            "excluded_training_subjects": selection["excluded"],
            "includes_training_subjects": bool(selection["included"]),
            "training_subjects_scored": selection["included"],
            "per_subject": per_subject,
            "skipped_sessions": skipped,
            "figures": figures,
        }
    )
    return result


def load_for_run(run: Run, dataset: str, path: str | None = None) -> RecordingSet | WindowSet:
    """A data set loaded whole with the run's settings and sensors (accelerometer-only runs: acc).

    Parameters
    ----------
    run : Run
    dataset : str
        Registered data set name, tinyhar ``.parquet`` or dataset definition.
    path : str, optional
        File or folder of the data set.

    Raises
    ------
    TinyharError
        As :func:`tinyhar.windows.source.load_data`.
    """
    cfg = run.config.model_copy(deep=True)
    cfg.dataset.name = dataset
    cfg.dataset.path = path
    if all(c.startswith("acc_") for c in run.pipeline.channels):
        cfg.dataset.sensors = "acc"
    return load_data(cfg)


def _session_labels(run: Run, dataset: str, spec, subjects, include_training_subjects: bool,
                    console: Console, skipped: list, on_windows, scheduler: str = "serial",
                    workers: int = 1):
    """Classify the sessions of a definition or recording one at a time (evaluate_continuous).

    Returns the data set's name, the subject selection and the concatenated
    :class:`~tinyhar.evaluation.streams.StreamLabels` (None when no window);
    appends each session that cannot be read to ``skipped``. The sessions are
    classified on ``scheduler`` with ``workers`` local workers.
    """
    from tinyhar.evaluation.sessionstreams import SessionRecordings
    from tinyhar.evaluation.streams import StreamLabels

    pipeline = run.pipeline
    sessions = SessionRecordings.open(dataset, run.config.dataset.checks, scheduler, workers,
                                      no_workers_timeout_s=run.config.compute.no_workers_timeout_s)
    name = sessions.name
    available = sessions.subjects(skipped)
    selection = choose_unseen_subjects(available, name, run.metrics, subjects,
                                       include_training_subjects, console)
    parts = []
    for got in sessions.iter_predictions(pipeline, selection["subjects"],
                                         ood_model=spec.ood_model, on_windows=on_windows):
        if got.error is not None and not any(s["source"] == got.name for s in skipped):
            skipped.append({"source": got.name, "error": got.error})
        elif got.pred is not None:
            parts.append(StreamLabels.classify(got.pred, spec))
    for s in skipped:
        console.print(f"[yellow]skipped {s['source']}: {s['error']}[/]")
    return name, selection, StreamLabels.concatenate(parts) if parts else None


def _timeline_figure(labels, folder: str | Path, dataset: str, subject: str) -> str:
    """Draw ``timeline_<subject>.png`` of one subject's streams into ``folder``; return its name.

    ``labels`` is that subject's :class:`~tinyhar.evaluation.streams.StreamLabels`.
    """
    import re

    from tinyhar.reporting.timeline import plot_timeline

    name = f"timeline_{re.sub(r'[^A-Za-z0-9_.-]', '_', subject)}.png"
    Path(folder).mkdir(parents=True, exist_ok=True)
    plot_timeline(
        labels.session, labels.t_start, labels.window_s, labels.hop_s, labels.acc_magnitude,
        labels.timeline_rows(), labels.classes, Path(folder) / name,
        title=f"{dataset}, subject {subject}: raw and post-processed ({labels.postprocess})",
        origins=labels.origins,
    )
    return name


def timeline_rows(pred, spec) -> dict[str, np.ndarray]:
    """Label bands of a timeline: true (if labelled), raw, rejected as unknown (if any), smoothed.

    Parameters
    ----------
    pred : tinyhar.evaluation.streams.StreamPredictions
    spec : tinyhar.postprocess.PostProcessor

    Returns
    -------
    dict of str -> numpy.ndarray of str, shape (n_windows,)
        :meth:`StreamLabels.timeline_rows <tinyhar.evaluation.streams.StreamLabels.timeline_rows>`.
    """
    from tinyhar.evaluation.streams import StreamLabels

    return StreamLabels.classify(pred, spec).timeline_rows()


def shares_subjects(eval_name: str, train_name: str) -> bool:
    """Whether equal subject ids in two data sets may be the same person.

    True for the same data set, for two data sets of the same population
    (``population`` in :data:`~tinyhar.datasets.info.DATASETS`), and whenever
    one population is unknown (your own data: assume the worst). False only for two different known
    populations (e.g. HAPT and WISDM).
    """
    if eval_name == train_name:
        return True
    a, b = _population(eval_name), _population(train_name)
    return a is None or b is None or a == b


def select_unseen_subjects(
    windows: WindowSet,
    metrics_train: dict,
    subjects: list[str] | None = None,
    include_training_subjects: bool = False,
    console: Console | None = None,
) -> tuple[WindowSet, dict]:
    """Keep the windows of the requested subjects the run was not trained on.

    Parameters
    ----------
    windows : WindowSet
        Evaluation windows, shape (n_windows, n_samples, n_channels).
    metrics_train : dict
        The run's ``metrics.json`` (``dataset``, ``train_subjects``,
        ``protocol``, ``test_subjects``).
    subjects : list of str, optional
        Restrict to these subjects first.
    include_training_subjects : bool
        Keep training subjects too (warns with
        :class:`~tinyhar.evaluation.splits.LeakageWarning`).
    console : rich.console.Console, optional
        Where the note on excluded subjects goes.

    Returns
    -------
    windows : WindowSet
        The selected windows.
    selection : dict
        ``subjects`` (selected), ``excluded`` (training subjects left out)
        and ``included`` (training subjects scored anyway).

    Raises
    ------
    EvaluationError
        Requested subjects that do not exist, or no subject left that the
        run was not trained on.
    """
    selection = choose_unseen_subjects(
        sorted(set(windows.subject.tolist()), key=natural_key), windows.name, metrics_train,
        subjects, include_training_subjects, console,
    )
    selected = windows.subset(np.isin(windows.subject, selection["subjects"]))
    return selected, selection


def choose_unseen_subjects(
    available: list[str],
    name: str,
    metrics_train: dict,
    subjects: list[str] | None = None,
    include_training_subjects: bool = False,
    console: Console | None = None,
) -> dict:
    """The subjects of :func:`select_unseen_subjects`, from a list of subject ids.

    Parameters
    ----------
    available : list of str
        Subjects of the evaluation data set ``name``.
    metrics_train, subjects, include_training_subjects, console
        As in :func:`select_unseen_subjects`.

    Returns
    -------
    dict
        ``subjects`` (selected), ``excluded`` and ``included``.

    Raises
    ------
    EvaluationError
        As :func:`select_unseen_subjects`.
    """
    console = console or Console(quiet=True)
    if subjects is not None:
        wanted = requested_subjects(subjects, available, name)
        candidates = [s for s in available if s in wanted]
    else:
        candidates = available
    trained = set(str(s) for s in metrics_train.get("train_subjects", []))
    train_name = metrics_train.get("dataset", "")
    renumbered = sorted(
        n for n in {name, train_name} if n in DATASETS and DATASETS[n].renumbered_subjects
    )
    if (
        name != train_name
        and renumbered
        and _population(name) == _population(train_name)
        and not include_training_subjects
    ):
        raise EvaluationError(
            f"{name!r} and {train_name!r} hold the same people, but the subject ids of "
            f"{' and '.join(map(repr, renumbered))} are not the publisher's user ids, so which "
            f"subjects this run has not seen cannot be told: evaluate on {train_name!r} "
            "itself, or pass --include-training-subjects (scores then include training "
            "subjects and are inflated)"
        )
    seen = []
    if shares_subjects(name, metrics_train.get("dataset", "")):
        seen = [s for s in candidates if s in trained]
    excluded, included = [], []
    if seen and include_training_subjects:
        included = seen
        warnings.warn(
            f"--include-training-subjects: {plural(len(seen), 'subject')} scored here "
            f"({name_subjects(seen)}) trained this run, so the scores are inflated and not "
            "subject-independent",
            LeakageWarning,
            stacklevel=2,
        )
    elif seen:
        excluded = seen
        candidates = [s for s in candidates if s not in trained]
        if not candidates:
            raise EvaluationError(_no_unseen_message(name, seen, metrics_train))
        console.print(
            f"scoring only subjects this run was not trained on: {plural(len(seen), 'subject')} "
            f"of {name!r} ({name_subjects(seen)}) {'was a' if len(seen) == 1 else 'were'} "
            f"training {'subject' if len(seen) == 1 else 'subjects'} and "
            f"{'is' if len(seen) == 1 else 'are'} excluded; "
            f"{plural(len(candidates), 'subject')} scored ({name_subjects(candidates)}). "
            "--include-training-subjects scores them too (inflated)."
        )
    return {"subjects": candidates, "excluded": excluded, "included": included}


def requested_subjects(subjects: list[str], available: list[str], name: str,
                       option: str = "--subjects") -> list[str]:
    """The requested subject ids, stripped; each must be one of ``available``.

    Parameters
    ----------
    subjects : list of str
        As given on the command line.
    available : list of str
        The subjects of data set ``name``.
    name : str
    option : str
        The command-line option named in the message.

    Raises
    ------
    EvaluationError
        A subject the data set does not have (the message lists those it has).
    """
    wanted = [str(s).strip() for s in subjects]
    unknown = [s for s in wanted if s not in available]
    if unknown:
        raise EvaluationError(
            f"{option}: {', '.join(unknown)} "
            f"{'does' if len(unknown) == 1 else 'do'} not exist in {name!r}; it has "
            f"{plural(len(available), 'subject')}: {name_subjects(available, 120)}"
        )
    return wanted


def _no_unseen_message(name: str, seen: list[str], metrics_train: dict) -> str:
    """Why no honest score is possible, and what to do."""
    text = (
        f"every subject selected from {name!r} ({name_subjects(seen)}) is a training subject "
        "of this run, so no subject-independent score is possible. "
    )
    test = [s for s in metrics_train.get("test_subjects", []) if s not in seen]
    cv = metrics_train.get("cross_validation") or {}
    if test:
        text += f"Score the run's test subjects ({name_subjects(test)}), or another data set. "
    elif cv.get("scope") == "all subjects":
        text += (
            f"The run was trained on all subjects ({metrics_train.get('protocol')}); its honest "
            f"score is the cross-validation score in metrics.json (macro-F1 "
            f"{cv['pooled']['macro_f1']:.3f}). Evaluate on another data set. "
        )
    else:
        text += "Evaluate on another data set or other subjects. "
    return text + "--include-training-subjects scores them anyway (inflated)."


def check_evaluation_out(out_dir: str | Path) -> Path:
    """The folder for :func:`write_evaluation`, checked before any work is done.

    Raises
    ------
    TinyharError
        Empty name, an existing file, or a run folder (its metrics would be
        overwritten).
    """
    if not str(out_dir).strip():
        raise TinyharError("--out is empty: name a folder for the evaluation results")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyharError(f"--out {out} is an existing file: name a folder")
    if (out / "config.yaml").exists() or (out / PIPELINE_FILE).exists():
        raise TinyharError(
            f"--out {out} is a run folder: evaluation results would overwrite the run's own "
            "metrics; name another folder"
        )
    return out


def write_evaluation(metrics: dict, out_dir: str | Path) -> Path:
    """Write an evaluation's ``metrics.json``, ``summary.md`` and figures into a folder.

    Files are written to a temporary sibling folder and moved into place,
    ``metrics.json`` first, so a failing figure never loses the scores.

    Parameters
    ----------
    metrics : dict
        As returned by :func:`evaluate_run`.
    out_dir : str or Path
        Folder to write into (created); must not be a run folder.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    TinyharError
        ``out_dir`` is a run folder or an existing file.
    """
    import os
    import shutil
    import tempfile

    from tinyhar.reporting.summary import write_evaluation_summary

    out = check_evaluation_out(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".evaluation-", dir=out))
    try:
        text = json.dumps(metrics, indent=2, default=str)
        (tmp / "metrics.json").write_text(text, encoding="utf-8")
        os.replace(tmp / "metrics.json", out / "metrics.json")
        write_evaluation_summary(metrics, tmp / "summary.md")
        for name, draw in score_figures(metrics):
            draw(tmp / name)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
