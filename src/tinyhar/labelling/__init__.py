r"""Label recordings with Label Studio, or by hand from a table of time spans.

Label Studio (HumanSignal, https://labelstud.io) labels time series with the
``TimeSeries`` object tag and ``TimeSeriesLabels`` control tag
(https://labelstud.io/tags/timeseries, https://labelstud.io/tags/timeserieslabels).
This package writes a ready project for it and reads its annotations back:
:mod:`~tinyhar.labelling.spans` (labels <-> time spans),
:mod:`~tinyhar.labelling.export` (project, configuration XML, prelabels, change
points) and :mod:`~tinyhar.labelling.imports` (annotations, tables of spans).

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

from tinyhar.labelling.export import (
    BOUNDARY_HOP_S,
    BOUNDARY_MIN_SEGMENT_S,
    BOUNDARY_PENALTY,
    BOUNDARY_VERSION,
    BOUNDARY_WINDOW_S,
    CONFIG_FILE,
    CSV_DIR,
    EXISTING_VERSION,
    PROJECT_FILE,
    TASKS_FILE,
    VIDEO_DIR,
    VIDEO_SUFFIXES,
    ExportResult,
    export_project,
    labelling_config,
    suggest_boundaries,
)
from tinyhar.labelling.imports import (
    ImportResult,
    import_annotations,
    label_from_spans_file,
)
from tinyhar.labelling.spans import (
    CONTROL_NAME,
    OBJECT_NAME,
    SEGMENT_LABEL,
    TIME_EPS_S,
    SpanReport,
    labels_from_spans,
    spans_from_labels,
)

__all__ = [
    "BOUNDARY_HOP_S",
    "BOUNDARY_MIN_SEGMENT_S",
    "BOUNDARY_PENALTY",
    "BOUNDARY_VERSION",
    "BOUNDARY_WINDOW_S",
    "CONFIG_FILE",
    "CONTROL_NAME",
    "CSV_DIR",
    "EXISTING_VERSION",
    "ExportResult",
    "ImportResult",
    "OBJECT_NAME",
    "PROJECT_FILE",
    "SEGMENT_LABEL",
    "SpanReport",
    "TASKS_FILE",
    "TIME_EPS_S",
    "VIDEO_DIR",
    "VIDEO_SUFFIXES",
    "export_project",
    "import_annotations",
    "label_from_spans_file",
    "labelling_config",
    "labels_from_spans",
    "spans_from_labels",
    "suggest_boundaries",
]
