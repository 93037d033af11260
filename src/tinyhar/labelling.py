r"""Label recordings with Label Studio, or by hand from a table of time spans.

Label Studio (HumanSignal, https://labelstud.io) labels time series with the
``TimeSeries`` object tag and ``TimeSeriesLabels`` control tag
(https://labelstud.io/tags/timeseries, https://labelstud.io/tags/timeserieslabels).
This module writes a ready project for it and reads its annotations back.

Export (:func:`export_project`, ``tinyhar label export``)
--------------------------------------------------------
``TO/`` gets:

- ``config.xml``: the labelling configuration: ``TimeSeriesLabels`` named
  ``label`` with one ``Label`` per class, over ``TimeSeries`` named ``ts``
  whose time column is ``time`` (s from the session start) and whose channels
  are the recording's ``acc_*`` (g) and ``gyro_*`` (rad/s). With a video
  folder, a ``Video`` tag (``frameRate`` from the task) is synchronised with
  the time series (``sync`` group, Label Studio >= 1.20; see
  https://labelstud.io/templates/timeseries_audio_video): the first time stamp
  of the series is the video's time 0, so the exported series starts at the
  video's first frame (see *Video offset* below);
- ``csv/<session>.csv``: one CSV per recording (session): ``time`` and the
  channels;
- ``tasks.json``: the import file, one task per recording. Its ``data`` holds
  ``csv`` (a Label Studio local-files URL ``/data/local-files/?d=<TO's
  name>/csv/<file>``; with ``inline=True`` the series itself as JSON under
  ``ts`` instead), ``session``, ``subject``, ``recording``, ``source``,
  ``sampling_rate_hz``, ``n_samples``, ``duration_s``, ``tinyhar_project``
  (the export's id) and ``tinyhar_classes``; ``predictions`` hold the
  recording's existing labels (model version ``existing labels``), the run's
  smoothed predictions (``prelabel``) and change-point suggestions
  (``suggest_boundaries``);
- ``project.json``: the export's id, source, classes, rate and sessions;
- ``README.md``: how to start Label Studio so that it serves the CSV files,
  and how to export the annotations.

Video offset: ``video_offset_s`` is the recording's time (s) at the video's
first frame; negative when the camera started first. Label Studio aligns the
video's time 0 with the first time stamp of the series, so a negative offset
prepends rows (the first sample's values repeated, time stamps
``offset, offset + 1/rate, ...``) and a positive one starts the exported series
at the first sample at or after the offset (earlier samples are not shown in
that task). The ``time`` column keeps the recording's time either way, so the
annotations come back in the recording's time.

Import (:func:`import_annotations`, ``tinyhar label import``)
-------------------------------------------------------------
Reads Label Studio's JSON export (*Export > JSON*: a list of tasks, each with
``data`` and ``annotations``; each annotation a ``result`` list of regions
``{"type": "timeserieslabels", "value": {"start", "end", "instant",
"timeserieslabels": [class]}}``; https://labelstud.io/guide/export) and writes
the labels into the ``label`` column of the canonical recordings
(:class:`~tinyhar.datasets.recording.RecordingSet` Parquet files) found in the
target folder, matched by session. When the target folder is new or empty,
the annotated recordings are read from the project's source instead (e.g. a
definition of CSV files) and written there as labelled canonical recordings
with a ``data.yaml`` listing them. Per task the latest annotation that was not
skipped is used. Time ranges become samples by :func:`labels_from_spans`.

Spans to samples (:func:`labels_from_spans`)
--------------------------------------------
A span ``[start, end]`` (s, closed) labels every sample whose time lies in it
(within :data:`TIME_EPS_S`). Samples under spans of two different classes
(an *overlap*) are left unlabelled, as are samples under no span (a *gap*);
both are reported as time ranges. A span reaching more than one sample
interval beyond the recording is an error (the annotation belongs to another
recording); within that it is clipped. Instants (a point, not a span) label
nothing and are reported.

Change-point suggestions (:func:`suggest_boundaries`)
-----------------------------------------------------
Per 1 s window (hop 0.5 s): the mean of each acceleration axis (posture) and
the standard deviation of the acceleration magnitude (intensity), each
standardised; change points of that sequence by PELT (Killick, Fearnhead &
Eckley 2012, *J. Am. Stat. Assoc.* 107(500)) with the squared-error cost, as
implemented by ruptures (Truong, Oudre & Vayatis 2020, *Signal Processing*
167). The segments between change points become pre-annotated regions with
the placeholder class :data:`SEGMENT_LABEL` for the labeller to name.

Nothing is written unless every check passed; files are replaced atomically,
and labels already in a recording are changed only with ``overwrite``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from tinyhar.datasets.recording import CHANNEL_UNITS, RecordingSet
from tinyhar.errors import ConfigError, DataFormatError, TinyharError

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
CONTROL_NAME = "label"
"""Name of the ``TimeSeriesLabels`` control (``from_name`` of the regions)."""
OBJECT_NAME = "ts"
"""Name of the ``TimeSeries`` object (``to_name`` of the regions)."""
SEGMENT_LABEL = "?"
"""Placeholder class of change-point suggestions: the labeller names each segment."""
EXISTING_VERSION = "existing labels"
"""Model version of the prediction holding a recording's existing labels."""
BOUNDARY_VERSION = "change points"
"""Model version of the change-point suggestions."""
TIME_EPS_S = 1e-6
"""Tolerance (s) when comparing span ends with sample times."""
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


# ------------------------------------------------------------------ results
@dataclass
class SpanReport:
    """What :func:`labels_from_spans` found for one recording.

    Attributes
    ----------
    labelled : int
        Samples that got a class.
    overlaps : list of (float, float, list of str)
        Time ranges (s) under spans of different classes (left unlabelled).
    gaps : list of (float, float)
        Time ranges (s) under no span, between the first and last labelled
        sample (left unlabelled).
    unlabelled_edges_s : float
        Unlabelled time before the first and after the last labelled sample (s).
    instants : list of float
        Times (s) of instant regions (ignored).
    placeholders : int
        Spans still carrying :data:`SEGMENT_LABEL` (ignored).
    clipped : int
        Spans clipped to the recording (less than one sample interval beyond).
    """

    labelled: int = 0
    overlaps: list[tuple[float, float, list[str]]] = field(default_factory=list)
    gaps: list[tuple[float, float]] = field(default_factory=list)
    unlabelled_edges_s: float = 0.0
    instants: list[float] = field(default_factory=list)
    placeholders: int = 0
    clipped: int = 0

    def lines(self) -> list[str]:
        """Human-readable notes (empty when there is nothing to report)."""
        out = []
        if self.overlaps:
            ranges = ", ".join(f"{a:.2f}-{b:.2f} s ({'/'.join(c)})" for a, b, c in
                               self.overlaps[:5])
            more = f" and {len(self.overlaps) - 5} more" if len(self.overlaps) > 5 else ""
            out.append(f"{len(self.overlaps)} overlap(s) of different classes left "
                       f"unlabelled: {ranges}{more}")
        if self.gaps:
            ranges = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in self.gaps[:5])
            more = f" and {len(self.gaps) - 5} more" if len(self.gaps) > 5 else ""
            out.append(f"{len(self.gaps)} gap(s) between labels left unlabelled: "
                       f"{ranges}{more}")
        if self.instants:
            out.append(f"{len(self.instants)} instant label(s) ignored (at "
                       f"{', '.join(f'{t:.2f} s' for t in self.instants[:5])}): label a span "
                       "by dragging across it")
        if self.placeholders:
            out.append(f"{self.placeholders} suggested segment(s) still labelled "
                       f"{SEGMENT_LABEL!r} left unlabelled: give each a class")
        if self.clipped:
            out.append(f"{self.clipped} span(s) clipped to the recording's time range")
        return out


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


@dataclass
class ImportResult:
    """What :func:`import_annotations` or :func:`label_from_spans_file` wrote.

    Attributes
    ----------
    files : list of Path
        Recordings rewritten.
    sessions : dict
        Session -> :class:`SpanReport`.
    not_annotated : list of str
        Sessions whose task had no (unskipped) annotation: left as they were.
    notes : list of str
        Other things the user should know (several annotations, classes added).
    """

    files: list[Path] = field(default_factory=list)
    sessions: dict[str, SpanReport] = field(default_factory=dict)
    not_annotated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ spans <-> samples
def labels_from_spans(
    time: np.ndarray,
    spans: list[tuple[float, float, str]],
    rate_hz: float,
    where: str,
    placeholder: str | None = SEGMENT_LABEL,
) -> tuple[np.ndarray, SpanReport]:
    """Per-sample labels from labelled time spans (module docstring: *Spans to samples*).

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Sample times of one recording (s, increasing).
    spans : list of (start, end, class)
        Closed time ranges in s; ``start == end`` is an instant.
    rate_hz : float
        Sampling rate (Hz): spans may reach at most one sample interval beyond
        the recording.
    where : str
        The file (and task) for messages.
    placeholder : str, optional
        A class that labels nothing (the change-point placeholder).

    Returns
    -------
    labels : numpy.ndarray of object, shape (n_samples,)
        Class per sample, ``None`` where unlabelled.
    report : SpanReport

    Raises
    ------
    DataFormatError
        A span with end before start, or reaching beyond the recording by
        more than one sample interval (naming ``where``, the span and the
        recording's time range).
    """
    time = np.asarray(time, dtype=np.float64)
    n = len(time)
    report = SpanReport()
    if n == 0:
        return np.full(0, None, dtype=object), report
    t0, t1 = float(time[0]), float(time[-1])
    slack = 1.0 / float(rate_hz) + TIME_EPS_S
    classes: list[str] = []
    owner = np.full(n, -1, dtype=np.int64)  # class index, -2 = conflicting classes
    for start, end, cls in spans:
        if end < start:
            raise DataFormatError(where, f"span {start:g}-{end:g} s of {cls!r} ends before it "
                                  "starts; fix its start and end")
        if start < t0 - slack or end > t1 + slack:
            raise DataFormatError(
                where, f"span {start:.3f}-{end:.3f} s of {cls!r} lies outside the recording's "
                f"time range {t0:.3f}-{t1:.3f} s: it belongs to another (longer) recording, or "
                "the times are not in seconds from the recording's start; fix or remove it")
        if start < t0 - TIME_EPS_S or end > t1 + TIME_EPS_S:
            report.clipped += 1
        if end - start <= TIME_EPS_S:
            report.instants.append(float(start))
            continue
        if placeholder is not None and cls == placeholder:
            report.placeholders += 1
            continue
        if cls not in classes:
            classes.append(cls)
        k = classes.index(cls)
        a = int(np.searchsorted(time, start - TIME_EPS_S, side="left"))
        b = int(np.searchsorted(time, end + TIME_EPS_S, side="right"))
        part = owner[a:b]
        part[part == -1] = k
        part[(part >= 0) & (part != k)] = -2
    conflict = owner == -2
    for a, b in _runs(conflict):
        names = sorted({cls for start, end, cls in spans
                        if cls in classes and start - TIME_EPS_S <= time[b - 1]
                        and end + TIME_EPS_S >= time[a]})
        report.overlaps.append((float(time[a]), float(time[b - 1]), names))
    labelled = owner >= 0
    report.labelled = int(labelled.sum())
    if labelled.any():
        first, last = np.flatnonzero(labelled)[[0, -1]]
        inner = ~labelled & ~conflict
        inner[:first] = False
        inner[last + 1:] = False
        report.gaps = [(float(time[a]), float(time[b - 1])) for a, b in _runs(inner)]
        report.unlabelled_edges_s = float(first + (n - 1 - last)) / float(rate_hz)
    table = np.asarray([*classes, None], dtype=object)
    labels = table[np.where(owner >= 0, owner, len(classes))]
    return labels, report


def spans_from_labels(time: np.ndarray, labels: Any) -> list[tuple[float, float, str]]:
    """Maximal runs of one label as closed spans ``(t_first, t_last, class)``.

    The inverse of :func:`labels_from_spans` for labels without overlaps:
    ``labels_from_spans(time, spans_from_labels(time, y), rate)`` gives ``y``
    back exactly (unlabelled samples stay unlabelled).

    Parameters
    ----------
    time : numpy.ndarray, shape (n_samples,)
        Sample times (s).
    labels : array-like, shape (n_samples,)
        Class per sample; missing (None/NA) = unlabelled.

    Returns
    -------
    list of (float, float, str)
    """
    values = pd.Series(labels, dtype="string")
    codes, names = pd.factorize(values, use_na_sentinel=True)
    out = []
    if len(codes) == 0:
        return out
    cut = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    for a, b in zip(np.r_[0, cut], np.r_[cut, len(codes)], strict=True):
        if codes[a] >= 0:
            out.append((float(time[a]), float(time[b - 1]), str(names[codes[a]])))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges ``[a, b)`` where ``mask`` is true."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _region(start: float, end: float, cls: str, score: float | None = None) -> dict:
    """One Label Studio time-series region (result item)."""
    item: dict[str, Any] = {
        "id": uuid.uuid4().hex[:10],
        "from_name": CONTROL_NAME,
        "to_name": OBJECT_NAME,
        "type": "timeserieslabels",
        "value": {"start": start, "end": end, "instant": False, "timeserieslabels": [cls]},
    }
    if score is not None and np.isfinite(score):
        item["score"] = float(score)
    return item


# ------------------------------------------------------------------ export
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
    """Write a ready Label Studio project for a data set (module docstring: *Export*).

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
    """Suggested activity boundaries of one recording (module docstring: *Change-point*).

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


# ------------------------------------------------------------------ import
def _read_export(file: Path) -> list[dict]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file} does not exist; export the Label Studio project as JSON "
                          "(Export > JSON) and give that file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(file, f"cannot read: {exc}") from exc
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(file, f"not valid JSON ({exc.msg}); export the project as JSON",
                              line=exc.lineno, column=exc.colno) from exc
    if isinstance(tasks, dict) and "data" in tasks:
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise DataFormatError(file, "not a Label Studio JSON export (a list of tasks); export "
                              "the project with Export > JSON")
    if tasks and all("data" not in t for t in tasks):
        raise DataFormatError(file, "tasks have no 'data' and 'annotations': this looks like a "
                              "JSON-MIN or CSV export; export with Export > JSON instead")
    return tasks


def _task_spans(task: dict, file: Path, where: str) -> tuple[list | None, int]:
    """Spans of the latest unskipped annotation (None when there is none) and the count."""
    annotations = task.get("annotations", task.get("completions")) or []
    if not isinstance(annotations, list):
        raise DataFormatError(file, f"{where}: 'annotations' is not a list")
    valid = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not valid:
        return None, 0
    latest = max(valid, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""),
                                       a.get("id") or 0))
    spans = []
    for item in latest.get("result") or []:
        if not isinstance(item, dict) or item.get("type") != "timeserieslabels":
            continue
        value = item.get("value") or {}
        labels = value.get("timeserieslabels") or []
        try:
            start, end = float(value["start"]), float(value["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(
                file, f"{where}: a region has start {value.get('start')!r} and end "
                f"{value.get('end')!r}, not numbers of seconds; the project's time column must "
                "be 'time' as tinyhar label export wrote it") from exc
        if value.get("instant"):
            end = start
        for cls in labels:
            spans.append((start, end, str(cls)))
    return spans, len(valid)


def _recordings_by_session(folder: Path) -> dict[str, Path]:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    if not folder.is_dir():
        raise ConfigError(f"--into {folder}: no such folder; give the folder of the recordings "
                          "(tinyhar recordings import/pull wrote them)")
    out: dict[str, Path] = {}
    for file in sorted(folder.rglob("*.parquet")):
        if file.name.startswith("."):
            continue
        try:
            sessions = pq.read_table(file, columns=["session"]).column("session").to_pylist()
        except (OSError, KeyError, ValueError, ArrowException):
            continue  # not a tinyhar recording
        for s in dict.fromkeys(str(v) for v in sessions):
            if s in out:
                raise DataFormatError(file, f"session {s!r} is also in {out[s]}; one session "
                                      "must live in one recording file")
            out[s] = file
    return out


def _off() -> dict[str, bool]:
    from tinyhar.datasets.checks import DataChecks

    return dict.fromkeys(DataChecks.model_fields, False)


def import_annotations(export: str | Path, into: str | Path,
                       overwrite: bool = False) -> ImportResult:
    """Write Label Studio annotations into the recordings (module docstring: *Import*).

    Parameters
    ----------
    export : str or Path
        Label Studio's JSON export of a project made from
        :func:`export_project`'s ``tasks.json``.
    into : str or Path
        Folder of the canonical recordings (``*.parquet``, searched
        recursively) holding the exported sessions; or a new (or empty)
        folder: then the annotated recordings are read from the project's
        source (e.g. a definition of CSV files) and written there as labelled
        canonical recordings with a ``data.yaml`` listing them.
    overwrite : bool
        Replace labels a recording already has when they differ.

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        Naming the export file and task: not JSON or not a JSON export; a
        task not written by ``tinyhar label export`` or of two different
        exports (another project); a session not in ``into`` or with another
        number of samples (the recording changed); a class outside the
        project's classes; a span outside the recording's time range.
    ConfigError
        ``into`` missing, or labels would change without ``overwrite``.
    """
    file, folder = Path(export), Path(into)
    tasks = _read_export(file)
    found = _recordings_by_session(folder) if folder.exists() else {}
    project_ids = set()
    plan: dict[Path, dict[str, tuple[list, list[str]]]] = {}
    copies: dict[str, dict[str, tuple]] = {}
    result = ImportResult()
    for i, task in enumerate(tasks, start=1):
        data = task.get("data") or {}
        where = f"task {task.get('id', i)}"
        pid = data.get("tinyhar_project")
        session = data.get("session")
        if not pid or session is None:
            raise DataFormatError(
                file, f"{where} was not written by tinyhar label export (its data has no "
                "tinyhar_project/session): this is an export of another Label Studio project; "
                f"export the project you imported {TASKS_FILE} into")
        project_ids.add(str(pid))
        if len(project_ids) > 1:
            raise DataFormatError(file, f"{where} comes from another tinyhar label export than "
                                  "the tasks before it; export one project at a time")
        session = str(session)
        where = f"{where} (session {session})"
        classes = [str(c) for c in data.get("tinyhar_classes") or []]
        spans, n_annotations = _task_spans(task, file, where)
        if spans is None:
            result.not_annotated.append(session)
            continue
        if n_annotations > 1:
            result.notes.append(f"session {session}: {n_annotations} annotations, the latest "
                                "used")
        unknown = sorted({c for _, _, c in spans if c not in classes and c != SEGMENT_LABEL})
        if unknown:
            raise DataFormatError(
                file, f"{where}: classes {unknown} are not in the project's classes {classes}; "
                "relabel those regions, or export again with --classes adding them")
        if not found:  # a new folder: labelled copies of the project's recordings
            copies.setdefault(str(data.get("source") or ""), {})[session] = (
                spans, classes, data.get("n_samples"), where)
            continue
        target = found.get(session)
        if target is None:
            raise DataFormatError(
                file, f"{where}: no recording in {folder} holds session {session!r} (it has "
                f"{', '.join(sorted(found)[:5]) or 'no tinyhar recordings'}): an export of "
                "another project or another folder; give --into the recordings folder the "
                "project was exported from")
        plan.setdefault(target, {})[session] = (spans, classes, data.get("n_samples"), where)
    if copies:
        _write_copies(copies, file, folder, result)
    else:
        _apply(plan, file, result, overwrite)
    return result


def _write_copies(copies: dict, file: Path, folder: Path, result: ImportResult) -> None:
    """Labelled copies of the project's recordings in a new recordings folder (+ data.yaml)."""
    from tinyhar.datasets.phone import DEFINITION_FILE, _definition_text
    from tinyhar.runfolder import atomic_file, write_text_atomic

    definition = folder / DEFINITION_FILE
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"--into {folder} holds no tinyhar recordings (.parquet) but other files: label "
            "import writes into the recordings the project was exported from, or labelled "
            "copies of them into a new or empty folder; give one, e.g. "
            f"--into {folder.name}-labelled")
    staged, all_classes, rate, gyro = [], [], None, False
    for source, sessions in copies.items():
        first = next(iter(sessions.values()))[3]
        try:
            data = _load_source(source, None)
        except TinyharError as exc:
            raise DataFormatError(
                file, f"{first}: {folder} holds no tinyhar recordings, and the project's "
                f"source {source!r} cannot be read ({exc}); give --into the recordings folder "
                "the project was exported from") from exc
        rate, gyro = data.sampling_rate_hz, data.has_gyro
        for session, (spans, classes, n_expected, where) in sessions.items():
            part = data.frame[data.frame["session"] == session].reset_index(drop=True)
            if n_expected is not None and int(n_expected) != len(part):
                raise DataFormatError(
                    file, f"{where}: session {session} of {source} has {len(part)} samples, "
                    f"the exported task had {n_expected}: the data changed after label export "
                    "(or this is an export of another project); export and label it again")
            labels, report = labels_from_spans(part["time"].to_numpy(np.float64), spans, rate,
                                               f"{file}, {where}")
            result.sessions[session] = report
            part["label"] = pd.array(labels, dtype="string")
            used = {x for x in labels if x is not None}
            own = [c for c in dict.fromkeys([*classes, *sorted(used)]) if c in used]
            all_classes += [c for c in own if c not in all_classes]
            staged.append((session, RecordingSet(part, rate, own, name=folder.resolve().name,
                                                 source=str(file))))
    names: set[str] = set()
    folder.mkdir(parents=True, exist_ok=True)
    for session, rec in staged:
        target = folder / f"{_safe_name(session, names)}.parquet"
        with atomic_file(target) as tmp:
            rec.to_parquet(tmp)
        result.files.append(target)
    write_text_atomic(definition, _definition_text(folder.resolve().name, rate, gyro,
                                                   all_classes, None))
    result.files.append(definition)
    result.notes.append(f"{folder} held no recordings: wrote labelled copies of the "
                        f"{len(staged)} annotated recording(s) and {definition} (train with "
                        f"--dataset {definition})")


def _apply(plan: dict, file: Path, result: ImportResult, overwrite: bool) -> None:
    """Check every planned change, then write every changed recording atomically."""
    from tinyhar.runfolder import atomic_file

    staged = []
    for target, sessions in plan.items():
        rec = RecordingSet.from_parquet(target, checks=_off())
        frame = rec.frame
        new_classes = list(rec.classes)
        changed = False
        for session, (spans, classes, n_expected, where) in sessions.items():
            rows = np.flatnonzero((frame["session"] == session).to_numpy())
            if n_expected is not None and int(n_expected) != len(rows):
                raise DataFormatError(
                    target, f"session {session} has {len(rows)} samples but the exported task "
                    f"had {n_expected} ({file}, {where}): the recording changed after label "
                    "export; export and label it again")
            time = frame["time"].to_numpy(np.float64)[rows]
            labels, report = labels_from_spans(time, spans, rec.sampling_rate_hz,
                                               f"{file}, {where}")
            result.sessions[session] = report
            old = frame["label"].iloc[rows].astype(object).where(
                frame["label"].iloc[rows].notna(), None).to_numpy()
            differs = np.array([a is not None and a != b for a, b in zip(old, labels,
                                                                          strict=True)])
            if differs.any() and not overwrite:
                raise ConfigError(
                    f"{target}: session {session} already has labels and {int(differs.sum())} "
                    "labelled samples would change; add --overwrite to replace them")
            if any(a != b for a, b in zip(old, labels, strict=True)):
                changed = True
            used = {x for x in labels if x is not None}
            new_classes += [c for c in dict.fromkeys([*classes, *sorted(used)])
                            if c in used and c not in new_classes]
            frame.loc[frame.index[rows], "label"] = pd.array(labels, dtype="string")
        if changed:
            added = [c for c in new_classes if c not in rec.classes]
            if added:
                result.notes.append(f"{target.name}: classes {added} added")
            staged.append((target, RecordingSet(frame, rec.sampling_rate_hz, new_classes,
                                                rec.name, rec.citation, rec.licence,
                                                str(target)), added))
    for target, rec, added in staged:
        with atomic_file(target) as tmp:
            rec.to_parquet(tmp)
        result.files.append(target)
        if added:
            _add_classes_to_definition(target.parent, added, result)


def _add_classes_to_definition(folder: Path, added: list[str], result: ImportResult) -> None:
    """Append new classes to ``folder/data.yaml``'s ``classes`` (when it lists them)."""
    import yaml

    from tinyhar.runfolder import write_text_atomic

    file = folder / "data.yaml"
    if not file.exists():
        return
    text = file.read_text(encoding="utf-8")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    if not isinstance(body, dict) or not isinstance(body.get("classes"), list):
        return
    body["classes"] = [*body["classes"], *(c for c in added if c not in body["classes"])]
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    header = header if text.startswith("#") else ""
    write_text_atomic(file, header + yaml.safe_dump(body, sort_keys=False))
    result.notes.append(f"{file}: classes {added} added")


# ------------------------------------------------------------------ by hand
def label_from_spans_file(recording: str | Path, spans_file: str | Path,
                          overwrite: bool = False, new_classes: bool = False) -> ImportResult:
    """Label a recording from a CSV of time spans (``tinyhar label quick``).

    Parameters
    ----------
    recording : str or Path
        A canonical recording (tinyhar ``.parquet``).
    spans_file : str or Path
        CSV with columns ``start,end,class`` (s from the session start;
        closed spans) and, when the recording holds several sessions,
        ``session``.
    overwrite : bool
        Replace labels the recording already has when they differ.
    new_classes : bool
        Allow classes the recording does not list yet (else an error, to
        catch typos); a recording without classes accepts any.

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        Naming the spans file and line: missing columns, a time that is not a
        number, an unknown class or session, a span outside the recording.
    ConfigError
        Labels would change without ``overwrite``.
    """
    rec_path, file = Path(recording), Path(spans_file)
    if not rec_path.exists():
        raise ConfigError(f"{rec_path} does not exist; give a tinyhar recording (.parquet)")
    try:
        table = pd.read_csv(file, dtype=str, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"{file} does not exist; write a CSV with columns start,end,class "
                          "(seconds)") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError,
            UnicodeDecodeError) as exc:
        raise DataFormatError(file, f"cannot read as CSV: {exc}") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("start", "end", "class") if c not in table.columns]
    if missing:
        raise DataFormatError(file, f"missing columns {missing}; the header must be "
                              f"start,end,class (got {list(table.columns)})", line=1)
    rec = RecordingSet.from_parquet(rec_path, checks=_off())
    sessions = rec.sessions
    if "session" not in table.columns and len(sessions) > 1:
        raise DataFormatError(file, f"{rec_path} holds {len(sessions)} sessions: add a column "
                              "session naming each span's session", line=1)
    known = set(rec.classes)
    per: dict[str, list] = {}
    for i, row in table.iterrows():
        line = int(i) + 2
        try:
            start, end = float(row["start"]), float(row["end"])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(file, f"start {row['start']!r} / end {row['end']!r} must be "
                                  "numbers of seconds", line=line) from exc
        if not (np.isfinite(start) and np.isfinite(end)):
            raise DataFormatError(file, "start and end must be finite seconds", line=line)
        cls = str(row["class"]).strip() if pd.notna(row["class"]) else ""
        if not cls:
            raise DataFormatError(file, "the class is empty", line=line, column="class")
        if known and cls not in known and not new_classes:
            raise DataFormatError(file, f"class {cls!r} is not in the recording's classes "
                                  f"{rec.classes}; fix the name, or add --new-classes",
                                  line=line, column="class")
        session = str(row["session"]).strip() if "session" in table.columns else sessions[0]
        if session not in sessions:
            raise DataFormatError(file, f"session {session!r} is not in {rec_path} (it has "
                                  f"{', '.join(sessions[:5])})", line=line, column="session")
        per.setdefault(session, []).append((start, end, cls, line))
    plan = {}
    for session, spans in per.items():
        # check each span alone first, so the error names its line
        time = rec.frame.loc[rec.frame["session"] == session, "time"].to_numpy(np.float64)
        for start, end, cls, line in spans:
            labels_from_spans(time, [(start, end, cls)], rec.sampling_rate_hz,
                              f"{file}, line {line}", placeholder=None)
        classes = list(dict.fromkeys([*rec.classes, *(c for _, _, c, _ in spans)]))
        plan[session] = ([(a, b, c) for a, b, c, _ in spans], classes, None, "spans")
    result = ImportResult()
    _apply({rec_path: plan}, file, result, overwrite)
    return result
