"""``tinyhar predict``: from a recording to per-window predictions, a timeline and segments.

:func:`predict_recordings` classifies every window of each session of a
recording with a run's pipeline (window length and hop as trained; the
recording is resampled to the run's rate when needed), post-processes the
probabilities with the run's fitted post-processing (``postprocess.json``)
and writes, into a new folder (atomically: a temporary sibling renamed into
place):

- ``windows.parquet``: one row per window: ``session``, ``subject``, ``run``
  (contiguous run within the session: a new one starts at a gap in the
  sampling and after invalid windows), ``t_start`` and ``t_end`` (s from the
  session start), ``start_utc`` and ``end_utc`` (the same as clock times:
  timestamps in ms, UTC; only for recordings with clock time, below),
  ``true_label`` (majority label; only when the recording
  has labels), ``p_<class>`` per class, ``raw_class``, ``smoothed_class``,
  ``invalid`` (the window fails the input contract of
  :func:`tinyhar.features.validity.invalid_windows`: its classes are
  ``"invalid"`` and its probabilities empty), ``unknown`` (the run's
  rejection, :mod:`tinyhar.postprocess.rejection`, marks the window as an
  unknown activity before smoothing; ``smoothed_class`` is then often
  ``"unknown"``) and, when the rejection uses it, ``ood_score``;
- ``segments.csv``: the smoothed timeline as segments: ``session``,
  ``start``, ``end`` (s), ``start_utc`` and ``end_utc`` (clock time, ISO 8601
  UTC to the millisecond, e.g. ``2016-11-13T02:18:00.000Z``; only for
  recordings with clock time), ``activity`` (a class, ``unknown`` or
  ``invalid``), ``mean_confidence`` (mean classifier probability of the
  activity over the segment's windows; empty for ``unknown`` and
  ``invalid``), ``n_windows``.
  Segments of a session tile its time from its first window's start to its
  last window's end, except across gaps;
- ``timeline.png`` (:func:`tinyhar.reporting.timeline.plot_timeline`; the
  time axis of a session with clock time in UTC).

Clock time: a dataset definition whose time column holds date-times (``units:
{time: datetime}``) keeps each session's first time stamp
(:attr:`~tinyhar.datasets.recording.RecordingSet.origins`, also in a tinyhar
``.parquet`` written from it), and the ``*_utc`` columns are that origin plus
the times in s (rounded to the millisecond). Recordings without it (numeric
time columns, data set names) give the files without those columns.

Memory is bounded for long recordings: windows are cut and classified in
chunks (:data:`tinyhar.features.streams.STREAM_CHUNK`; see
:mod:`tinyhar.evaluation.streams` for the bound) and only per-window results
are kept (about 110 bytes per window; the offline Viterbi decoding needs the
whole sequence of probabilities, which is small). A dataset definition or a
tinyhar ``.parquet`` recording is read one session at a time, and a session
(Parquet, CSV or NPY files, one or several) in batches of rows
(:class:`~tinyhar.evaluation.sessionstreams.SessionRecordings`,
:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`), so one batch of
samples is held (a 24 h file of 6 channels at 50 Hz: 0.46 GB peak instead of
0.98 GB as Parquet, 0.44 instead of 0.82 GB as CSV); the windows are exactly
those of the whole session. A file of many sessions (subject and session
columns) streams session after session when each session's rows are together
(one CSV of 8 subjects x 3 h: 0.42 GB instead of 0.82 GB), and a restarted
recording is split into sessions in the batches as in the whole read; a file
whose sessions interleave, and data set names, are read whole (per file or
session for a definition). A session that cannot be read is skipped, reported and listed
(``skipped_sessions``). The timeline draws a long session's signal as bin
means and ranges (:func:`tinyhar.reporting.timeline.envelope`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from tinyhar.datasets.recording import RecordingSet, natural_key, utc_text
from tinyhar.errors import TinyharError
from tinyhar.evaluation.streams import STREAM_CHUNK, StreamPredictions, stream_predictions
from tinyhar.postprocess import PostProcessor
from tinyhar.reporting.text import subject_list
from tinyhar.runfolder import replace_folder, sibling_path

WINDOWS_FILE = "windows.parquet"
"""Per-window predictions written by :func:`predict_recordings`."""
SEGMENTS_FILE = "segments.csv"
"""Smoothed segments written by :func:`predict_recordings`."""
TIMELINE_FILE = "timeline.png"
"""Timeline figure written by :func:`predict_recordings`."""


def load_recordings(
    run,
    recording: str | None = None,
    dataset: str | None = None,
    path: str | None = None,
    subjects: list[str] | None = None,
) -> RecordingSet:
    """The recordings to predict, with the run's channels.

    Parameters
    ----------
    run : RunFolder
        The checked run (:func:`tinyhar.runfolder.load_run`).
    recording : str, optional
        A file tinyhar reads: a tinyhar ``.parquet`` or a ``.yaml`` dataset
        definition (which can describe CSV files).
    dataset : str, optional
        A registered data set name (``tinyhar datasets``), instead of
        ``recording``.
    path : str, optional
        File or folder of the data set.
    subjects : list of str, optional
        Keep only these subjects.

    Raises
    ------
    TinyharError
        Neither or both of ``recording`` and ``dataset``; pre-cut windows; a
        subject that does not exist; data that cannot be read.
    """
    from tinyhar.evaluate import load_for_run, requested_subjects

    if (recording is None) == (dataset is None):
        raise TinyharError(
            "give either a recording file (tinyhar predict RUN rec.parquet) or --dataset "
            "NAME (with --subject), not both and not neither"
        )
    data = load_for_run(run, str(recording if recording is not None else dataset), path)
    if not isinstance(data, RecordingSet):
        raise TinyharError(
            f"{data.name!r} comes as pre-cut windows without time order; tinyhar predict needs "
            "continuous recordings (a tinyhar .parquet, a dataset definition, hapt, hapt-raw)"
        )
    if subjects:
        wanted = requested_subjects(subjects, data.subjects, data.name, "--subject")
        data = data.select(subjects=wanted)
    return data


def _predict_by_session(run, definition: str, subjects: list[str] | None, spec, chunk: int,
                        console: Console, skipped: list, scheduler: str = "serial",
                        workers: int = 1) -> tuple[StreamPredictions, str]:
    """Predictions of a dataset definition's sessions (or a recording's), read one at a time.

    A long session is read in batches of rows
    (:meth:`tinyhar.evaluation.sessionstreams.SessionRecordings.open`); the
    sessions are read and classified on ``scheduler`` with ``workers`` local
    workers, the results in the sessions' order.
    Returns the predictions and the data set's name; sessions that cannot
    be read are appended to ``skipped`` and reported.
    """
    from tinyhar.evaluate import requested_subjects, stream_scheduler
    from tinyhar.evaluation.sessionstreams import SessionRecordings
    from tinyhar.reporting.progress import progress_bar as _progress

    sessions = SessionRecordings.open(definition, run.config.dataset.checks,
                                      stream_scheduler(run, scheduler, console), workers,
                                      no_workers_timeout_s=run.config.compute.no_workers_timeout_s)
    name = sessions.name
    available = sessions.subjects(skipped)
    wanted = requested_subjects(subjects, available, name, "--subject") if subjects else available
    _note_training_subjects(run, wanted, name, console)
    with _progress(console) as progress:
        task = progress.add_task("classifying windows, session by session", total=None)
        pred = sessions.predictions(run.pipeline, wanted, ood_model=spec.ood_model, chunk=chunk,
                                    skipped=skipped,
                                    on_windows=lambda n: progress.advance(task, n))
    for s in skipped:
        console.print(f"[yellow]skipped {s['source']}: {s['error']}[/]")
    if not len(pred) and skipped:
        raise TinyharError(f"no session of {definition} could be read; the first: "
                           f"{skipped[0]['source']}: {skipped[0]['error']}")
    return pred, name


def segments_table(pred: StreamPredictions, smoothed: np.ndarray) -> pd.DataFrame:
    """The smoothed timeline as segments (see the module docstring).

    Parameters
    ----------
    pred : StreamPredictions
    smoothed : numpy.ndarray of int, shape (n_windows,)
        Class index per window (-1 = invalid).

    Returns
    -------
    pandas.DataFrame
        Columns ``session``, ``start``, ``end`` (s from the session start),
        with :attr:`~StreamPredictions.origins` ``start_utc`` and ``end_utc``
        (ISO 8601 text, UTC, ms: :func:`clock_times`; empty for a session
        without an origin), ``activity``, ``mean_confidence``, ``n_windows``;
        one row per maximal run of one class among consecutive windows of one
        session run.
    """
    rows = []
    names = pred.names(smoothed)
    keys = pred.run_keys()
    for s in dict.fromkeys(pred.session.tolist()):
        idx = np.flatnonzero(pred.session == s)
        k = keys[idx]
        cut = np.flatnonzero((names[idx][1:] != names[idx][:-1]) | (k[1:] != k[:-1])) + 1
        bounds = np.concatenate([[0], cut, [len(idx)]])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            w = idx[a:b]
            c = int(smoothed[w[0]])
            end = pred.t_end[w[-1]]
            if b < len(idx) and pred.t_start[idx[b]] <= end:
                end = pred.t_start[idx[b]]
            known = 0 <= c < len(pred.classes)
            conf = float(np.mean(pred.proba[w, c])) if known else float("nan")
            rows.append((s, float(pred.t_start[w[0]]), float(end), names[w[0]], conf, len(w)))
    table = pd.DataFrame(
        rows, columns=["session", "start", "end", "activity", "mean_confidence", "n_windows"]
    )
    if pred.origins is not None:
        for k, key in enumerate(("start", "end")):
            stamps = clock_times(pred.origins, table["session"].to_numpy(),
                                 table[key].to_numpy(np.float64))
            table.insert(3 + k, f"{key}_utc", utc_text(stamps))
    return table


def write_segments(table: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`segments_table` as ``segments.csv``.

    ``start`` and ``end`` are written to the microsecond, whatever their
    size (6 significant digits, as before, rounded the times of a recording
    longer than 1000 s: a day's to 0.1 s, a week's to whole seconds), and
    ``mean_confidence`` to 6 decimals; each as the shortest text that reads
    back as that number.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`segments_table` output.
    path : str or Path
        The CSV file.

    Returns
    -------
    Path
    """
    text = table.copy()
    for key, decimals in (("start", 6), ("end", 6), ("mean_confidence", 6)):
        text[key] = np.round(text[key].to_numpy(np.float64), decimals)
    text.to_csv(path, index=False)
    return Path(path)


def clock_times(origins: dict[str, float], session: np.ndarray,
                seconds: np.ndarray) -> np.ndarray:
    """Times from the session start as clock times: the session's origin plus the time.

    Parameters
    ----------
    origins : dict of str -> float
        Session -> its start in s since the Unix epoch, UTC
        (:attr:`~tinyhar.evaluation.streams.StreamPredictions.origins`).
    session : numpy.ndarray of str, shape (n,)
        Session of each time.
    seconds : numpy.ndarray of float, shape (n,)
        Times in s from the session start.

    Returns
    -------
    numpy.ndarray of datetime64[ms], shape (n,)
        UTC (numpy's datetimes have no zone), rounded to the nearest
        millisecond; NaT for a session without an origin.
    """
    start = np.array([origins.get(str(s), np.nan) for s in session], dtype=np.float64)
    ms = np.round((start + np.asarray(seconds, dtype=np.float64)) * 1e3)
    out = np.full(len(ms), np.datetime64("NaT"), dtype="datetime64[ms]")
    known = np.isfinite(ms)
    out[known] = ms[known].astype(np.int64).astype("datetime64[ms]")
    return out


def windows_table(
    pred: StreamPredictions,
    raw: np.ndarray,
    smoothed: np.ndarray,
    unknown: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per window (columns in the module docstring).

    ``unknown``: bool (n_windows,), windows rejected before smoothing
    (default: none).
    """
    table = {
        "session": pred.session.astype(str),
        "subject": pred.subject.astype(str),
        "run": pred.run,
        "t_start": pred.t_start,
        "t_end": pred.t_end,
    }
    if pred.origins is not None:  # clock times: UTC timestamps (ms)
        for key, seconds in (("start_utc", pred.t_start), ("end_utc", pred.t_end)):
            table[key] = pd.Series(clock_times(pred.origins, pred.session, seconds)
                                   ).dt.tz_localize("UTC")
    if np.any(pred.y != ""):
        table["true_label"] = pred.y.astype(str)
    for j, c in enumerate(pred.classes):
        table[f"p_{c}"] = pred.proba[:, j]
    table["raw_class"] = pred.names(raw).astype(str)
    table["smoothed_class"] = pred.names(smoothed).astype(str)
    table["invalid"] = pred.invalid
    table["unknown"] = (np.zeros(len(pred), dtype=bool) if unknown is None
                        else np.asarray(unknown, dtype=bool))
    if pred.ood is not None:
        table["ood_score"] = pred.ood
    return pd.DataFrame(table)


def check_predict_out(out: str | Path, overwrite: bool) -> Path:
    """The output folder of :func:`predict_recordings`, checked before any work.

    Raises
    ------
    TinyharError
        Empty name; a file; a run folder; an existing non-empty folder
        without ``overwrite``; with ``overwrite``, a non-empty folder that is
        not an earlier ``tinyhar predict`` output.
    """
    if not str(out).strip():
        raise TinyharError("--out is empty: name a folder for the predictions, e.g. --out pred")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TinyharError(f"--out {out} is an existing file: name a folder")
    if out.is_dir() and any(out.iterdir()):
        if (out / "manifest.json").exists() or (out / "config.yaml").exists():
            raise TinyharError(f"--out {out} is a run folder: name another folder")
        if not overwrite:
            raise TinyharError(
                f"--out {out} already exists and is not empty: add --overwrite to replace it, "
                "or choose another folder"
            )
        if not (out / WINDOWS_FILE).exists():
            raise TinyharError(
                f"--out {out} is not an earlier tinyhar predict output (no {WINDOWS_FILE}); "
                "--overwrite only replaces those: choose another folder"
            )
    return out


def predict_recordings(
    run_dir: str | Path,
    out: str | Path,
    recording: str | None = None,
    dataset: str | None = None,
    path: str | None = None,
    subjects: list[str] | None = None,
    overwrite: bool = False,
    console: Console | None = None,
    chunk: int = STREAM_CHUNK,
    scheduler: str = "serial",
    workers: int | None = None,
) -> dict:
    """Predict a recording with a run and write the predictions folder (module docstring).

    Parameters
    ----------
    run_dir : str or Path
        A run folder written by ``tinyhar train``.
    out : str or Path
        New folder for ``windows.parquet``, ``segments.csv`` and ``timeline.png``.
    recording, dataset, path, subjects
        What to predict (see :func:`load_recordings`).
    overwrite : bool
        Replace an earlier predictions folder.
    console : rich.console.Console, optional
        Progress and messages.
    chunk : int
        Windows classified at a time (memory bound).
    scheduler : str
        Where the sessions of a dataset definition (or the one source of a
        ``.parquet`` recording) are read and classified: ``serial`` (this
        process), ``threads``, ``processes`` or a dask.distributed address
        (:class:`~tinyhar.evaluation.sessionstreams.SessionRecordings`; tree
        runs: a network classifies in this process). The outputs do not
        depend on it. Data set names are loaded whole, in this process.
    workers : int, optional
        Local workers for ``threads`` and ``processes`` (default:
        :func:`tinyhar.evaluate.default_workers`).

    Returns
    -------
    dict
        ``out``, ``postprocess`` (description), ``n_windows``, ``n_invalid``,
        ``n_sessions``, ``n_segments``, ``raw_changes`` and
        ``smoothed_changes`` (class changes between consecutive windows),
        ``n_rejected`` (windows rejected as unknown before smoothing) and
        ``n_unknown`` (windows ``unknown`` after smoothing).

    Raises
    ------
    TinyharError
        A bad run folder, recording or output folder; a bad scheduler or
        ``workers`` < 1.
    ComputeError
        The Dask cluster cannot be reached or went away.
    """
    from tinyhar.evaluate import default_workers, loaded_whole, note_in_this_process, timeline_rows
    from tinyhar.reporting.progress import progress_bar as _progress
    from tinyhar.reporting.timeline import plot_timeline
    from tinyhar.runfolder import load_run

    console = console or Console(quiet=True)
    out = check_predict_out(out, overwrite)
    run = load_run(run_dir)
    spec = run.postprocess
    if spec is None:
        console.print("[yellow]the run has no post-processing (trained by an older tinyhar): "
                      "smoothed classes equal the raw ones[/]")
        spec = PostProcessor(run.pipeline.classes)
    pipeline = run.pipeline
    skipped: list[dict] = []
    from tinyhar.datasets.sessions import RecordingFile

    if dataset is None and (Path(str(recording)).suffix.lower() in (".yaml", ".yml")
                            or RecordingFile.streams(str(recording))):
        pred, name = _predict_by_session(run, str(recording), subjects, spec, chunk, console,
                                         skipped, scheduler, default_workers(workers))
    else:
        note_in_this_process(console, scheduler,
                             loaded_whole(str(recording), recordings=True) if dataset is None
                             else f"--dataset {dataset!r} is loaded whole")
        data = load_recordings(run, recording, dataset, path, subjects)
        name = data.name
        _note_training_subjects(run, data.subjects, name, console)
        total = sum(
            max(0, int(len(part) * pipeline.sampling_rate_hz / data.sampling_rate_hz
                        - pipeline.n_samples) // pipeline.streaming_hop + 1)
            for _, _, part in data.iter_sessions()
        )
        with _progress(console) as progress:
            task = progress.add_task("classifying windows", total=total)
            pred = stream_predictions(pipeline, data, chunk=chunk,
                                      on_windows=lambda n: progress.advance(task, n),
                                      ood_model=spec.ood_model)
        del data
    if len(pred) == 0:
        raise TinyharError(
            f"no window of {pipeline.n_samples} samples fits in the recording {name!r}: "
            "every session is shorter than one window"
        )
    raw = pred.classify()
    smoothed = pred.classify(spec)
    unknown = pred.rejected(spec)
    segments = segments_table(pred, smoothed)
    rows = timeline_rows(pred, spec)
    tmp = sibling_path(out, "tmp")
    tmp.mkdir(parents=True)
    try:
        windows_table(pred, raw, smoothed, unknown).to_parquet(tmp / WINDOWS_FILE, index=False)
        write_segments(segments, tmp / SEGMENTS_FILE)
        subjects_seen = sorted(set(pred.subject.tolist()), key=natural_key)
        plot_timeline(
            pred.session, pred.t_start, pred.window_s, pred.hop_s, pred.acc_magnitude, rows,
            pred.classes, tmp / TIMELINE_FILE,
            title=f"{name}, {subject_list(subjects_seen)}: post-processing "
            f"{spec.describe()}", origins=pred.origins,
        )
        replace_folder(tmp, out)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    keys = pred.run_keys()
    same = keys[1:] == keys[:-1]
    return {
        "out": str(out),
        "postprocess": spec.describe(),
        "n_windows": len(pred),
        "n_invalid": int(pred.invalid.sum()),
        "n_sessions": len(set(pred.session.tolist())),
        "n_segments": len(segments),
        "raw_changes": int(np.count_nonzero(same & (raw[1:] != raw[:-1]))),
        "smoothed_changes": int(np.count_nonzero(same & (smoothed[1:] != smoothed[:-1]))),
        "n_rejected": int(unknown.sum()),
        "n_unknown": int(np.count_nonzero(smoothed == len(pred.classes))),
        "skipped_sessions": skipped,
    }


def _note_training_subjects(run, subjects: list[str], name: str, console: Console) -> None:
    """Say when the recording holds people the run was trained on (predictions look better)."""
    from tinyhar.training import shares_subjects

    trained = {str(s) for s in run.metrics.get("train_subjects", [])}
    seen = [s for s in subjects if s in trained]
    if seen and shares_subjects(name, run.metrics.get("dataset", "")):
        console.print(
            f"[yellow]note: the run was trained on {subject_list(seen)} of this recording: "
            "predictions there are better than they would be for new people[/]"
        )
