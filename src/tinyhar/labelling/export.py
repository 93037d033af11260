"""Label Studio project export: configuration XML, tasks, prelabels and change points.

See the :mod:`tinyhar.labelling` docstring (*Export*, *Change-point suggestions*).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from tinyhar.datasets.recording import CHANNEL_UNITS, RecordingSet
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.labelling.spans import (
    CONTROL_NAME,
    OBJECT_NAME,
    SEGMENT_LABEL,
    TIME_EPS_S,
    _region,
    spans_from_labels,
)

CONFIG_FILE = "config.xml"
"""Labelling configuration written by :func:`export_project`."""
TASKS_FILE = "tasks.json"
"""Label Studio import file (one task per recording)."""
PROJECT_FILE = "project.json"
"""The export's id, source, classes and sessions."""
CSV_DIR = "csv"
"""Folder of the per-recording CSV files."""
VIDEO_DIR = "video"
"""Folder of the copied videos."""
EXISTING_VERSION = "existing labels"
"""Model version of the prediction holding a recording's existing labels."""
BOUNDARY_VERSION = "change points"
"""Model version of the change-point suggestions."""
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".ogv", ".m4v")
"""Video files :func:`export_project` picks up, named like the session."""
BOUNDARY_WINDOW_S = 1.0
"""Window of the change-point features (s)."""
BOUNDARY_HOP_S = 0.5
"""Hop of the change-point features (s)."""
BOUNDARY_MIN_SEGMENT_S = 4.0
"""Shortest segment between suggested change points (s)."""
BOUNDARY_PENALTY = 10.0
"""PELT penalty per change point, for standardised features (dimensionless)."""

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")


@dataclass
class ExportResult:
    """What :func:`export_project` wrote.

    Attributes
    ----------
    folder : Path
        The project folder.
    project_id : str
        Id written into every task (``tinyhar_project``).
    classes : list of str
        Classes of the labelling configuration.
    n_tasks : int
        Tasks (recordings).
    n_predicted : int
        Tasks with model predictions (``prelabel``).
    n_suggested : int
        Suggested segments in all tasks (``suggest_boundaries``).
    n_videos : int
        Tasks with a synchronised video.
    """

    folder: Path
    project_id: str
    classes: list[str]
    n_tasks: int
    n_predicted: int = 0
    n_suggested: int = 0
    n_videos: int = 0


def labelling_config(classes: list[str], channels: list[str], value: str = "$csv",
                     inline: bool = False, video: bool = False) -> str:
    """The Label Studio labelling configuration (XML) for tinyhar recordings.

    Parameters
    ----------
    classes : list of str
        Label values, in order.
    channels : list of str
        Columns shown (``acc_x`` ... ``gyro_z``; units from
        :data:`~tinyhar.datasets.recording.CHANNEL_UNITS`).
    value : str
        Task field of the series (``$csv`` for a URL, ``$ts`` inline).
    inline : bool
        The series is JSON in the task (``valueType="json"``), not a CSV URL.
    video : bool
        Add a ``Video`` tag (``$video``, ``frameRate="$fps"``) synchronised
        with the series.

    Returns
    -------
    str
        The XML text.
    """
    view = ET.Element("View")
    if video:
        ET.SubElement(view, "Video", name="video", value="$video", frameRate="$fps",
                      sync="sensors", height="300")
    labels = ET.SubElement(view, "TimeSeriesLabels", name=CONTROL_NAME, toName=OBJECT_NAME)
    for i, cls in enumerate(classes):
        ET.SubElement(labels, "Label", value=cls, background=_COLOURS[i % len(_COLOURS)])
    if SEGMENT_LABEL not in classes:
        ET.SubElement(labels, "Label", value=SEGMENT_LABEL, background="#cccccc")
    attrs = {"name": OBJECT_NAME, "value": value, "valueType": "json" if inline else "url",
             "timeColumn": "time", "timeDisplayFormat": ",.2f",
             "overviewChannels": ",".join(channels[:3])}
    if not inline:
        attrs["sep"] = ","
    if video:
        attrs["sync"] = "sensors"
    series = ET.SubElement(view, "TimeSeries", attrs)
    for ch in channels:
        ET.SubElement(series, "Channel", column=ch, units=CHANNEL_UNITS.get(ch, ""),
                      displayFormat=",.3f", legend=ch)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def _safe_name(session: str, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", session).strip("._") or "recording"
    name, k = base, 2
    while name.lower() in used:
        name, k = f"{base}_{k}", k + 1
    used.add(name.lower())
    return name


def _load_source(source: str | Path, path: str | None) -> RecordingSet:
    from tinyhar.datasets.registry import load_dataset

    data = load_dataset(source, path=path)
    if not isinstance(data, RecordingSet):
        raise ConfigError(f"{source} comes as pre-cut windows without time order; label export "
                          "needs continuous recordings (a dataset definition, a tinyhar "
                          ".parquet, hapt, hapt-raw)")
    return data


def _session_files(data: RecordingSet, source: str | Path) -> dict[str, str]:
    """Session -> the file it was read from, when the source is a tinyhar Parquet folder."""
    src = Path(str(source))
    if src.suffix.lower() == ".parquet":
        return {s: str(src.resolve()) for s in data.sessions}
    return {}


def _videos(video: Path | None, sessions: dict[str, str]) -> dict[str, Path]:
    """Session -> its video file (``<session or csv name>.<mp4|webm|...>`` in ``video``)."""
    if video is None:
        return {}
    if not video.is_dir():
        raise ConfigError(f"--video {video}: not a folder; give the folder of the videos, each "
                          "named like its recording (<session>.mp4)")
    found = {p.stem.lower(): p for p in sorted(video.iterdir())
             if p.suffix.lower() in VIDEO_SUFFIXES}
    out = {}
    for session, name in sessions.items():
        hit = found.get(session.lower()) or found.get(name.lower())
        if hit is not None:
            out[session] = hit
    if not out:
        raise ConfigError(
            f"--video {video}: no video named like a recording (looked for "
            f"{', '.join(sorted(sessions)[:3])}... with {', '.join(VIDEO_SUFFIXES)}); name "
            "each video after its recording's session")
    return out


def _video_offsets(video: Path | None) -> dict[str, float]:
    """Per-video offsets from ``VIDEO/offsets.csv`` (columns ``video,offset_s``), if present."""
    if video is None or not (video / "offsets.csv").exists():
        return {}
    file = video / "offsets.csv"
    try:
        table = pd.read_csv(file)
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as exc:
        raise DataFormatError(file, f"cannot read as CSV: {exc}") from exc
    if not {"video", "offset_s"} <= set(table.columns):
        raise DataFormatError(file, f"needs columns video,offset_s (got {list(table.columns)})")
    out = {}
    for i, row in table.iterrows():
        try:
            out[Path(str(row["video"])).stem.lower()] = float(row["offset_s"])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(file, f"offset_s {row['offset_s']!r} is not a number",
                                  line=int(i) + 2, column="offset_s") from exc
    return out


def _shown_rows(part: pd.DataFrame, channels: list[str], rate: float,
                offset: float | None) -> pd.DataFrame:
    """The rows written for one task: the session, padded or cut to the video's start."""
    frame = part[["time", *channels]].reset_index(drop=True)
    if offset is None:
        return frame
    t0 = float(frame["time"].iloc[0])
    if offset < t0:
        n_pad = int(np.ceil((t0 - offset) * rate - 1e-9))
        pad = pd.DataFrame({c: np.repeat(frame[c].iloc[:1].to_numpy(), n_pad) for c in channels})
        pad.insert(0, "time", t0 - np.arange(n_pad, 0, -1) / rate)
        return pd.concat([pad, frame], ignore_index=True)
    shown = frame[frame["time"] >= offset - TIME_EPS_S].reset_index(drop=True)
    if len(shown) < 2:
        raise ConfigError(f"video offset {offset:g} s is after the recording's end "
                          f"({float(frame['time'].iloc[-1]):.2f} s): the video starts when the "
                          "recording is over; check the offset (s of the recording at the "
                          "video's first frame)")
    return shown


def export_project(
    source: str | Path,
    to: str | Path,
    classes: list[str] | None = None,
    prelabel: str | Path | None = None,
    suggest: bool = False,
    video: str | Path | None = None,
    video_offset_s: float = 0.0,
    video_fps: float = 30.0,
    inline: bool = False,
    path: str | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Write a ready Label Studio project for a data set (package docstring: *Export*).

    Parameters
    ----------
    source : str or Path
        A dataset definition (``.yaml``), a tinyhar ``.parquet`` or a data set
        name (``tinyhar datasets list``).
    to : str or Path
        The project folder to write (must not exist, or be an earlier export
        with ``overwrite``).
    classes : list of str, optional
        Classes added after the data set's own (e.g. for unlabelled recordings).
    prelabel : str or Path, optional
        A run folder: its smoothed predictions become Label Studio predictions.
    suggest : bool
        Add change-point suggestions (needs ruptures).
    video : str or Path, optional
        Folder of videos named like the recordings (``<session>.mp4``), shown
        synchronised with the series; ``offsets.csv`` there (``video,offset_s``)
        gives per-video offsets.
    video_offset_s : float
        Recording time (s) at the video's first frame, for videos without a
        row in ``offsets.csv`` (negative: the camera started first).
    video_fps : float
        Frame rate of the videos (Label Studio needs it to synchronise).
    inline : bool
        Put the series into the task JSON instead of CSV URLs (no file
        serving needed; larger import file).
    path : str, optional
        File or folder of a named data set.
    overwrite : bool
        Replace an earlier export in ``to``.

    Returns
    -------
    ExportResult

    Raises
    ------
    ConfigError
        No classes, a class named :data:`SEGMENT_LABEL`, ``to`` not empty, a
        bad video folder, ruptures missing for ``suggest``.
    TinyharError
        The source or run cannot be read.
    """
    from tinyhar.runfolder import replace_folder, sibling_path

    out = Path(to)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not out.is_dir():
            raise ConfigError(f"--to {out} is a file: name a folder for the project")
        if not overwrite:
            raise ConfigError(f"--to {out} exists and is not empty: add --overwrite to replace "
                              "an earlier label export, or choose another folder")
        if not (out / PROJECT_FILE).exists():
            raise ConfigError(f"--to {out} is not an earlier label export (no {PROJECT_FILE}); "
                              "--overwrite only replaces those: choose another folder")
    if not np.isfinite(video_fps) or video_fps <= 0:
        raise ConfigError(f"--video-fps must be a positive number of frames per second, "
                          f"got {video_fps}")
    if suggest:
        _require_ruptures()
    data = _load_source(source, path)
    all_classes = list(data.classes)
    for c in classes or []:
        c = str(c).strip()
        if c and c not in all_classes:
            all_classes.append(c)
    if not all_classes:
        raise ConfigError(f"{source} has no classes (its recordings are unlabelled): give the "
                          "class list, e.g. --classes walk,run,rest")
    if SEGMENT_LABEL in all_classes:
        raise ConfigError(f"class {SEGMENT_LABEL!r} is reserved for suggested segments; "
                          "rename it")
    rate = data.sampling_rate_hz
    channels = data.channels
    project_id = uuid.uuid4().hex
    files = _session_files(data, source)
    used: set[str] = set()
    names = {s: _safe_name(s, used) for s in data.sessions}
    videos = _videos(Path(video) if video is not None else None, names)
    offsets = _video_offsets(Path(video) if video is not None else None)
    predicted = _prelabel_regions(prelabel, data) if prelabel is not None else {}
    src_text = (str(Path(str(source)).resolve()) if Path(str(source)).suffix.lower()
                in (".yaml", ".yml", ".parquet") else str(source))
    tmp = sibling_path(out, "tmp")
    (tmp / CSV_DIR).mkdir(parents=True)
    tasks, n_suggested = [], 0
    try:
        for subject, session, part in data.iter_sessions():
            name = names[session]
            time = part["time"].to_numpy(np.float64)
            vid = videos.get(session)
            offset = None
            if vid is not None:
                offset = offsets.get(vid.stem.lower(), video_offset_s)
            shown = _shown_rows(part, channels, rate, offset)
            task_data: dict[str, Any] = {}
            if inline:
                task_data["ts"] = {c: [round(float(v), 6) for v in shown[c]]
                                   for c in ["time", *channels]}
            else:
                shown = shown.assign(time=shown["time"].map("{:.6f}".format))  # us steps
                shown.to_csv(tmp / CSV_DIR / f"{name}.csv", index=False, float_format="%.7g")
                rel = f"{out.resolve().name}/{CSV_DIR}/{name}.csv"
                task_data["csv"] = f"/data/local-files/?d={quote(rel)}"
            if vid is not None:
                (tmp / VIDEO_DIR).mkdir(exist_ok=True)
                shutil.copy2(vid, tmp / VIDEO_DIR / vid.name)
                rel = f"{out.resolve().name}/{VIDEO_DIR}/{vid.name}"
                task_data.update(video=f"/data/local-files/?d={quote(rel)}", fps=video_fps,
                                 video_offset_s=offset)
            task_data.update(
                session=session, subject=subject, recording=files.get(session, src_text),
                source=src_text, sampling_rate_hz=rate, n_samples=len(part),
                duration_s=float(time[-1] - time[0]), tinyhar_project=project_id,
                tinyhar_classes=all_classes,
            )
            predictions = []
            existing = spans_from_labels(time, part["label"].to_numpy())
            if existing:
                predictions.append({"model_version": EXISTING_VERSION, "result": [
                    _region(a, b, c) for a, b, c in existing]})
            if session in predicted:
                version, regions = predicted[session]
                scores = [r["score"] for r in regions if "score" in r]
                predictions.append({"model_version": version, "result": regions,
                                    **({"score": float(np.mean(scores))} if scores else {})})
            if suggest:
                bounds = suggest_boundaries(part[channels].to_numpy(np.float64), rate)
                edges = np.r_[0, bounds, len(part)]
                regions = [_region(float(time[a]), float(time[b - 1]), SEGMENT_LABEL)
                           for a, b in zip(edges[:-1], edges[1:], strict=True)]
                n_suggested += len(regions)
                predictions.append({"model_version": BOUNDARY_VERSION, "result": regions})
            task: dict[str, Any] = {"data": task_data}
            if predictions:
                task["predictions"] = predictions
            tasks.append(task)
        (tmp / CONFIG_FILE).write_text(
            labelling_config(all_classes, channels, "$ts" if inline else "$csv", inline,
                             bool(videos)), encoding="utf-8")
        (tmp / TASKS_FILE).write_text(json.dumps(tasks), encoding="utf-8")
        (tmp / PROJECT_FILE).write_text(json.dumps({
            "tinyhar_project": project_id, "source": src_text, "classes": all_classes,
            "sampling_rate_hz": rate, "channels": channels, "inline": inline,
            "sessions": {s: f"{n}.csv" for s, n in names.items()},
            "prelabel": str(prelabel) if prelabel is not None else None,
        }, indent=2), encoding="utf-8")
        (tmp / "README.md").write_text(_readme(out, all_classes, inline), encoding="utf-8")
        if inline:
            os.rmdir(tmp / CSV_DIR)
        replace_folder(tmp, out)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out, project_id, all_classes, len(tasks), len(predicted), n_suggested,
                        len(videos))


def _readme(out: Path, classes: list[str], inline: bool) -> str:
    root = out.resolve().parent
    serve = "" if inline else (
        "The tasks load their CSV files through Label Studio's local-files serving. Start it\n"
        "with the folder above this one as document root:\n\n"
        "```\n"
        "export LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true\n"
        f"export LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={root}\n"
        "label-studio start\n"
        "```\n\n"
        "then, in the project's Settings > Cloud Storage, add a Source Storage of type\n"
        f"'Local files' with the absolute path `{out.resolve()}` (do not sync it: the tasks\n"
        "come from tasks.json).\n\n"
    )
    return (
        f"# Label Studio project written by `tinyhar label export`\n\n"
        f"Classes: {', '.join(classes)}.\n\n{serve}"
        "1. Create a project; in Settings > Labeling Interface > Code paste `config.xml`.\n"
        "2. Import `tasks.json` (Import). Predictions (existing labels, a model's, suggested\n"
        f"   segments labelled `{SEGMENT_LABEL}`) appear as pre-annotations; choose which in\n"
        "   Settings > Annotation > Prelabeling (model version).\n"
        "3. Label: select a class, drag across the signal; give suggested segments a class.\n"
        "4. Export > JSON, then `tinyhar label import export.json --into RECORDINGS_FOLDER`.\n"
    )


# ------------------------------------------------------------------ prelabel
def _prelabel_regions(run_dir: str | Path, data: RecordingSet) -> dict[str, tuple[str, list]]:
    """Session -> (model version, regions) of the run's smoothed predictions."""
    from tinyhar.evaluation.streams import stream_predictions
    from tinyhar.postprocess import PostProcessor
    from tinyhar.predict import segments_table
    from tinyhar.runfolder import load_run

    run = load_run(run_dir)
    pipeline = run.pipeline
    missing = [c for c in pipeline.channels if c not in data.channels]
    if missing:
        raise ConfigError(f"--prelabel {run_dir}: the run needs channels {missing}, which the "
                          f"recordings do not have (they have {data.channels})")
    pred = stream_predictions(pipeline, data.select(channels=list(pipeline.channels)))
    spec = run.postprocess or PostProcessor(pipeline.classes)
    segments = segments_table(pred, pred.classify(spec))
    version = f"tinyhar {Path(run_dir).resolve().name}"
    out = {}
    for _subject, session, part in data.iter_sessions():
        time = part["time"].to_numpy(np.float64)
        rows = segments[segments["session"] == session]
        regions = []
        for k, row in enumerate(rows.itertuples(index=False)):
            if row.activity not in pipeline.classes:
                continue  # invalid windows
            a = int(np.searchsorted(time, row.start - TIME_EPS_S, side="left"))
            last = k == len(rows) - 1
            b = int(np.searchsorted(time, row.end + (TIME_EPS_S if last else -TIME_EPS_S),
                                    side="right" if last else "left"))
            if b > a:
                regions.append(_region(float(time[a]), float(time[b - 1]), str(row.activity),
                                       row.mean_confidence))
        if regions:
            out[session] = (version, regions)
    return out


# ------------------------------------------------------------------ change points
def _require_ruptures():
    try:
        import ruptures
    except ImportError as exc:
        import sys

        why = (" (ruptures has no wheel for this Python yet)" if sys.version_info >= (3, 14)
               else "")
        raise ConfigError(
            f"--suggest-boundaries needs the ruptures package, which is not installed{why}; "
            "install it with pip install 'tinyhar[label]' (Python <= 3.13), or label "
            "without suggestions") from exc
    return ruptures


def suggest_boundaries(signal: np.ndarray, rate_hz: float,
                       penalty: float = BOUNDARY_PENALTY) -> np.ndarray:
    """Suggested activity boundaries of one recording (package docstring: *Change-point*).

    Parameters
    ----------
    signal : numpy.ndarray, shape (n_samples, n_channels)
        The recording; the first three channels are acceleration (g).
    rate_hz : float
        Sampling rate (Hz).
    penalty : float
        PELT penalty per change point on the standardised features.

    Returns
    -------
    numpy.ndarray of int, shape (n_changes,)
        Sample indices where a new segment starts, increasing, in
        ``(0, n_samples)``.

    Raises
    ------
    ConfigError
        ruptures is not installed.
    """
    rpt = _require_ruptures()
    acc = np.asarray(signal, dtype=np.float64)[:, :3]
    win = max(2, int(round(BOUNDARY_WINDOW_S * rate_hz)))
    hop = max(1, int(round(BOUNDARY_HOP_S * rate_hz)))
    n_win = (len(acc) - win) // hop + 1
    if n_win < 4:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n_win)[:, None] * hop + np.arange(win)[None, :]
    windows = acc[idx]  # (n_win, win, 3)
    feats = np.column_stack([windows.mean(axis=1),
                             np.linalg.norm(windows, axis=2).std(axis=1)])
    spread = feats.std(axis=0)
    feats = (feats - feats.mean(axis=0)) / np.where(spread > 1e-9, spread, 1.0)
    min_size = max(2, int(round(BOUNDARY_MIN_SEGMENT_S / BOUNDARY_HOP_S)))
    if n_win < 2 * min_size:
        return np.zeros(0, dtype=np.int64)
    ends = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(feats).predict(pen=penalty)
    # a change between feature windows k-1 and k: the sample at the middle of their overlap
    starts = [int(k * hop + win // 2) for k in ends[:-1]]
    return np.asarray([s for s in starts if 0 < s < len(acc)], dtype=np.int64)


