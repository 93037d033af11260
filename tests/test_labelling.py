"""Labelling: Label Studio project export, its JSON export back into recordings, spans by hand.

The export files are written in Label Studio's documented JSON export format
(https://labelstud.io/guide/export: a list of tasks with ``data`` and
``annotations``, each a ``result`` list of ``timeserieslabels`` regions with
``value: {start, end, instant, timeserieslabels}``), on real HAPT recordings.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, RecordingSet
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.labelling import (
    EXISTING_VERSION,
    SEGMENT_LABEL,
    export_project,
    import_annotations,
    label_from_spans_file,
    labelling_config,
    labels_from_spans,
    spans_from_labels,
    suggest_boundaries,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def hapt_one():
    """HAPT subject 1 (two sessions, 50 Hz, acc + gyro) from the bundled copy."""
    return load_bundled_hapt().select(subjects=["1"])


def write_folder(data: RecordingSet, folder, labelled: bool = True):
    """A recordings folder: one canonical Parquet file per session plus data.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    for _subject, session, part in data.iter_sessions():
        part = part.copy()
        if not labelled:
            part["label"] = pd.NA
        RecordingSet(part, data.sampling_rate_hz, data.classes if labelled else [],
                     name="mine").to_parquet(folder / f"{session}.parquet")
    columns = {c: c for c in ("time", *data.channels, "label", "subject", "session")}
    definition = {"name": "mine", "files": "*.parquet", "format": "parquet",
                  "sampling_rate_hz": data.sampling_rate_hz, "columns": columns,
                  "units": {"time": "s", "acc": "g", "gyro": "rad/s"}}
    if labelled:
        definition["classes"] = list(data.classes)
    (folder / "data.yaml").write_text("# my recordings\n" + yaml.safe_dump(definition,
                                                                          sort_keys=False))
    return folder / "data.yaml"


def labels_of(folder, session: str) -> np.ndarray:
    rec = RecordingSet.from_parquet(folder / f"{session}.parquet")
    return rec.frame["label"].astype(object).where(rec.frame["label"].notna(), None).to_numpy()


def ls_export(tasks: list[dict], results: dict[str, list], path) -> None:
    """Write Label Studio's JSON export of these tasks, one annotation per session given."""
    out = []
    for i, task in enumerate(tasks, start=1):
        session = task["data"].get("session", "exp01")
        annotations = []
        if session in results:
            annotations.append({
                "id": i, "completed_by": 1, "result": results[session], "was_cancelled": False,
                "ground_truth": False, "created_at": "2026-11-30T05:00:00.000000Z",
                "updated_at": "2026-11-30T05:10:00.000000Z", "lead_time": 12.5,
                "prediction": {}, "result_count": len(results[session]), "task": i,
                "project": 3,
            })
        out.append({"id": i, "annotations": annotations, "drafts": [], "predictions": [],
                    "data": task["data"], "meta": {}, "created_at": "2026-11-30T04:59:00Z",
                    "updated_at": "2026-11-30T05:10:00Z", "inner_id": i,
                    "total_annotations": len(annotations), "cancelled_annotations": 0,
                    "total_predictions": 0, "project": 3})
    path.write_text(json.dumps(out), encoding="utf-8")


def existing(task: dict) -> list:
    return next(p["result"] for p in task["predictions"] if p["model_version"] == EXISTING_VERSION)


# ---------------------------------------------------------------- spans <-> samples
def test_spans_round_trip_on_hapt(hapt_one):
    for _subject, _session, part in hapt_one.iter_sessions():
        time = part["time"].to_numpy()
        truth = part["label"].astype(object).where(part["label"].notna(), None).to_numpy()
        spans = spans_from_labels(time, truth)
        labels, report = labels_from_spans(time, spans, 50.0, "x")
        assert list(labels) == list(truth)
        assert report.overlaps == [] and report.labelled == sum(t is not None for t in truth)
        # HAPT leaves the postural transitions unlabelled: those are the gaps between labels
        assert len(report.gaps) == len(spans) - 1


def test_overlaps_gaps_instants_and_clipping_are_reported():
    time = np.arange(100) / 10.0  # 10 Hz, 0.0 .. 9.9 s
    spans = [(0.0, 3.0, "walk"), (2.5, 5.0, "run"), (6.0, 9.95, "walk"), (4.0, 4.0, "run"),
             (1.0, 2.0, "walk"), (7.0, 8.0, SEGMENT_LABEL)]
    labels, report = labels_from_spans(time, spans, 10.0, "f.json")
    assert list(labels[:25]) == ["walk"] * 25
    assert all(v is None for v in labels[25:31])  # 2.5 .. 3.0 s: walk and run
    assert list(labels[31:51]) == ["run"] * 20
    assert all(v is None for v in labels[51:60])  # 5.1 .. 5.9 s: no span
    assert list(labels[60:]) == ["walk"] * 40
    assert report.overlaps == [(2.5, 3.0, ["run", "walk"])]
    assert report.gaps == [(5.1, 5.9)]
    assert report.instants == [4.0] and report.placeholders == 1 and report.clipped == 1
    text = "\n".join(report.lines())
    assert "2.50-3.00 s (run/walk)" in text and "5.10-5.90 s" in text


def test_span_outside_the_recording_names_the_file():
    time = np.arange(100) / 10.0
    with pytest.raises(DataFormatError, match=r"f\.json, task 3.*12\.000-15\.000 s.*0\.000-9\.900"):
        labels_from_spans(time, [(12.0, 15.0, "walk")], 10.0, "f.json, task 3")
    with pytest.raises(DataFormatError, match="ends before it starts"):
        labels_from_spans(time, [(5.0, 4.0, "walk")], 10.0, "f.json")


# ---------------------------------------------------------------- export
def test_export_writes_a_ready_project(hapt_one, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine")
    res = export_project(definition, tmp_path / "ls")
    assert res.n_tasks == 2 and res.classes == list(hapt_one.classes)
    root = ET.fromstring((tmp_path / "ls" / "config.xml").read_text())
    control = root.find("TimeSeriesLabels")
    assert control.get("name") == "label" and control.get("toName") == "ts"
    assert [e.get("value") for e in control] == [*hapt_one.classes, SEGMENT_LABEL]
    series = root.find("TimeSeries")
    assert series.get("valueType") == "url" and series.get("timeColumn") == "time"
    assert [c.get("column") for c in series] == [*ACC_CHANNELS, *GYRO_CHANNELS]
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert [t["data"]["session"] for t in tasks] == hapt_one.sessions
    for task, (_s, session, part) in zip(tasks, hapt_one.iter_sessions(), strict=True):
        assert task["data"]["csv"] == f"/data/local-files/?d=ls/csv/{session}.csv"
        assert task["data"]["n_samples"] == len(part)
        assert task["data"]["tinyhar_project"] == res.project_id
        csv = pd.read_csv(tmp_path / "ls" / "csv" / f"{session}.csv")
        assert list(csv.columns) == ["time", *ACC_CHANNELS, *GYRO_CHANNELS]
        np.testing.assert_allclose(csv["time"], part["time"], atol=1e-6)
        np.testing.assert_allclose(csv["acc_x"], part["acc_x"], rtol=1e-6, atol=1e-6)
    with pytest.raises(ConfigError, match="not empty: add --overwrite"):
        export_project(definition, tmp_path / "ls")
    assert export_project(definition, tmp_path / "ls", overwrite=True).n_tasks == 2


def test_round_trip_export_annotate_import_gives_the_labels_back(hapt_one, tmp_path):
    """Export -> a Label Studio export whose annotations accept the shown labels -> import."""
    definition = write_folder(hapt_one, tmp_path / "mine")
    export_project(definition, tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    truth = {s: labels_of(tmp_path / "mine", s) for s in hapt_one.sessions}
    # the recordings lose their labels; the annotators' labels bring them back
    write_folder(hapt_one, tmp_path / "mine", labelled=False)
    ls_export(tasks, {t["data"]["session"]: existing(t) for t in tasks}, tmp_path / "e.json")
    res = import_annotations(tmp_path / "e.json", tmp_path / "mine")
    assert sorted(p.name for p in res.files) == ["exp01.parquet", "exp02.parquet"]
    for session in hapt_one.sessions:
        assert list(labels_of(tmp_path / "mine", session)) == list(truth[session])
    rec = RecordingSet.from_parquet(tmp_path / "mine" / "exp01.parquet")
    assert set(rec.classes) == {x for x in truth["exp01"] if x is not None}

    # an annotator changes the class of the first region: refused without --overwrite
    first = existing(tasks[0])
    first[0]["value"]["timeserieslabels"] = ["WALKING"]
    ls_export(tasks, {"exp01": first}, tmp_path / "e2.json")
    before = (tmp_path / "mine" / "exp01.parquet").read_bytes()
    with pytest.raises(ConfigError, match=r"exp01\.parquet: session exp01 already has labels"):
        import_annotations(tmp_path / "e2.json", tmp_path / "mine")
    assert (tmp_path / "mine" / "exp01.parquet").read_bytes() == before
    res = import_annotations(tmp_path / "e2.json", tmp_path / "mine", overwrite=True)
    now = labels_of(tmp_path / "mine", "exp01")
    start, end = first[0]["value"]["start"], first[0]["value"]["end"]
    t = pd.read_parquet(tmp_path / "mine" / "exp01.parquet")["time"].to_numpy()
    inside = (t >= start) & (t <= end)
    assert set(now[inside]) == {"WALKING"}
    assert list(now[~inside]) == list(truth["exp01"][~inside])
    assert res.not_annotated == ["exp02"]


def test_import_adds_new_classes_to_the_recording_and_definition(hapt_one, tmp_path):
    part = hapt_one.select()
    part.frame = part.frame[part.frame["session"] == "exp02"].reset_index(drop=True)
    definition = write_folder(part, tmp_path / "mine", labelled=False)
    text = definition.read_text().replace("format: parquet", "format: parquet\nclasses: [rest]")
    definition.write_text(text)
    res = export_project(definition, tmp_path / "ls", classes=["rest", "jump"])
    assert res.classes == ["rest", "jump"]
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert "predictions" not in tasks[0]  # unlabelled: nothing to show
    region = {"from_name": "label", "to_name": "ts", "type": "timeserieslabels",
              "value": {"start": 10.0, "end": 20.0, "instant": False,
                        "timeserieslabels": ["jump"]}}
    ls_export(tasks, {"exp02": [region]}, tmp_path / "e.json")
    res = import_annotations(tmp_path / "e.json", tmp_path / "mine")
    labels = labels_of(tmp_path / "mine", "exp02")
    assert int((labels == "jump").sum()) == 501  # 10.00 .. 20.00 s at 50 Hz
    assert RecordingSet.from_parquet(tmp_path / "mine" / "exp02.parquet").classes == ["jump"]
    body = yaml.safe_load(definition.read_text(encoding="utf-8"))
    assert body["classes"] == ["rest", "jump"] and definition.read_text().startswith("# my")


@pytest.mark.parametrize("case, message", [
    ("other", r"e\.json: task 1 was not written by tinyhar label export.*another Label Studio"),
    ("unknown", r"e\.json: task 1 \(session exp01\): classes \['FLYING'\] are not in"),
    ("outside", r"e\.json, task 1 \(session exp01\): span 900\.000-950\.000 s .* outside"),
    ("session", r"e\.json: task 1 \(session exp99\): no recording in .* holds session 'exp99'"),
    ("minimal", r"e\.json: tasks have no 'data' and 'annotations'.*JSON-MIN"),
    ("broken", r"e\.json, line 1, column \d+: not valid JSON"),
])
def test_import_errors_name_the_file(hapt_one, tmp_path, case, message):
    definition = write_folder(hapt_one, tmp_path / "mine")
    export_project(definition, tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())[:1]
    result = existing(tasks[0])
    if case == "other":
        tasks[0]["data"] = {"csv": "/data/upload/1/x.csv"}
    elif case == "unknown":
        result[0]["value"]["timeserieslabels"] = ["FLYING"]
    elif case == "outside":
        result[0]["value"].update(start=900.0, end=950.0)
    elif case == "session":
        tasks[0]["data"]["session"] = "exp99"
    path = tmp_path / "e.json"
    ls_export(tasks, {tasks[0]["data"].get("session", "exp01"): result}, path)
    if case == "minimal":
        path.write_text(json.dumps([{"id": 1, "csv": "x", "label": []}]))
    elif case == "broken":
        path.write_text('[{"id": 1,')
    before = (tmp_path / "mine" / "exp01.parquet").read_bytes()
    with pytest.raises(DataFormatError, match=message):
        import_annotations(path, tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "exp01.parquet").read_bytes() == before


def test_changed_recording_is_refused(hapt_one, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine")
    export_project(definition, tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())[:1]
    tasks[0]["data"]["n_samples"] += 5
    ls_export(tasks, {"exp01": existing(tasks[0])}, tmp_path / "e.json")
    with pytest.raises(DataFormatError, match="the recording changed after label export"):
        import_annotations(tmp_path / "e.json", tmp_path / "mine")


def test_inline_export_and_video_with_offset(hapt_one, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "exp01.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # only its name matters
    (videos / "exp02.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (videos / "offsets.csv").write_text("video,offset_s\nexp02.mp4,3.0\n")
    res = export_project(definition, tmp_path / "ls", video=videos, video_offset_s=-1.5,
                         video_fps=25, inline=True)
    assert res.n_videos == 2
    root = ET.fromstring((tmp_path / "ls" / "config.xml").read_text())
    video, series = root.find("Video"), root.find("TimeSeries")
    assert video.get("sync") == series.get("sync") == "sensors"
    assert video.get("frameRate") == "$fps" and series.get("valueType") == "json"
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    one, two = (t["data"] for t in tasks)
    assert one["fps"] == 25 and one["video"].endswith("ls/video/exp01.mp4")
    # camera 1.5 s before the recording: 75 padded rows at -1.50 .. -0.02 s, then the data
    assert one["ts"]["time"][:2] == [-1.5, -1.48] and one["ts"]["time"][75] == 0.0
    assert one["ts"]["acc_x"][0] == one["ts"]["acc_x"][75]
    # camera 3 s after: the series shown starts at 3.0 s
    assert two["ts"]["time"][0] == 3.0 and two["video_offset_s"] == 3.0
    assert not (tmp_path / "ls" / "csv").exists()


def test_labelling_config_escapes_class_names():
    xml = labelling_config(['a "quoted" <class>', "b&c"], ["acc_x"])
    values = [e.get("value") for e in ET.fromstring(xml).find("TimeSeriesLabels")]
    assert values == ['a "quoted" <class>', "b&c", SEGMENT_LABEL]


def test_export_needs_classes(hapt_one, tmp_path):
    definition = write_folder(hapt_one.select(), tmp_path / "mine", labelled=False)
    with pytest.raises(ConfigError, match="no classes.*--classes walk,run,rest"):
        export_project(definition, tmp_path / "ls")


# ---------------------------------------------------------------- change points
@pytest.mark.slow
def test_suggested_boundaries_find_the_activity_changes_of_hapt():
    """Every change between two activities of HAPT subjects 1-2 (an unlabelled transition
    between them) has a suggestion within 2 s of the transition; most suggestions lie within
    2 s of a labelled span's edge."""
    pytest.importorskip("ruptures")
    data = load_bundled_hapt().select(subjects=["1", "2"])
    found, near = [], []
    for _s, _session, part in data.iter_sessions():
        time = part["time"].to_numpy()
        spans = spans_from_labels(time, part["label"].to_numpy())
        changes = [(a[1], b[0]) for a, b in zip(spans[:-1], spans[1:], strict=True)
                   if a[2] != b[2]]
        edges = np.array([x for pair in changes for x in pair])
        at = time[suggest_boundaries(part[data.channels].to_numpy(), 50.0)]
        found += [np.min(np.abs(at - (a + b) / 2)) <= (b - a) / 2 + 2 for a, b in changes]
        near += [np.min(np.abs(edges - x)) <= 2 for x in at]
    assert len(found) == 48
    assert np.mean(found) >= 0.95
    assert np.mean(near) >= 0.6


def test_export_with_suggestions(hapt_one, tmp_path):
    pytest.importorskip("ruptures")
    definition = write_folder(hapt_one, tmp_path / "mine")
    res = export_project(definition, tmp_path / "ls", suggest=True)
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    regions = [r for t in tasks for p in t["predictions"] if p["model_version"] == "change points"
               for r in p["result"]]
    assert len(regions) == res.n_suggested > 20
    assert {r["value"]["timeserieslabels"][0] for r in regions} == {SEGMENT_LABEL}
    # suggestions left as they are label nothing, and say so
    ls_export(tasks, {"exp01": [r for r in regions if True][:3]}, tmp_path / "e.json")
    res = import_annotations(tmp_path / "e.json", tmp_path / "mine", overwrite=True)
    assert res.sessions["exp01"].placeholders == 3


# ---------------------------------------------------------------- label quick
def test_label_quick_from_a_spans_file(hapt_one, tmp_path):
    write_folder(hapt_one, tmp_path / "mine", labelled=False)
    rec = tmp_path / "mine" / "exp01.parquet"
    spans = tmp_path / "spans.csv"
    spans.write_text("start,end,class\n0,10,walk\n10.02,20,run\n25,30,walk\n")
    res = label_from_spans_file(rec, spans)
    labels = labels_of(tmp_path / "mine", "exp01")
    assert list(labels[:501]) == ["walk"] * 501 and list(labels[501:1001]) == ["run"] * 500
    assert all(v is None for v in labels[1001:1250]) and set(labels[1250:1501]) == {"walk"}
    assert res.sessions["exp01"].gaps == [(20.02, 24.98)]
    spans.write_text("start,end,class\n0,10,wlak\n")
    with pytest.raises(DataFormatError, match=r"spans\.csv, line 2, column class: class 'wlak'"):
        label_from_spans_file(rec, spans)
    spans.write_text("start,end,class\n0,10,run\n")
    with pytest.raises(ConfigError, match="already has labels"):
        label_from_spans_file(rec, spans)
    spans.write_text("start,end,class\n0,10,run\n500,900,run\n")
    with pytest.raises(DataFormatError, match=r"spans\.csv, line 3: span 500\.000-900\.000"):
        label_from_spans_file(rec, spans, overwrite=True)
    spans.write_text("begin,end,class\n")
    with pytest.raises(DataFormatError, match=r"missing columns \['start'\]"):
        label_from_spans_file(rec, spans)


# ---------------------------------------------------------------- CLI
def test_cli_export_import_quick(hapt_one, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine")
    result = runner.invoke(app, ["label", "export", str(definition), "--to",
                                 str(tmp_path / "ls")])
    assert result.exit_code == 0, result.output
    assert "2 tasks" in result.output and "tasks.json" in result.output
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    ls_export(tasks, {"exp01": existing(tasks[0])}, tmp_path / "e.json")
    result = runner.invoke(app, ["label", "import", str(tmp_path / "e.json"), "--into",
                                 str(tmp_path / "mine")])
    assert result.exit_code == 0, result.output
    assert "not annotated" in result.output and "no recording changed" in result.output
    tasks[0]["data"].pop("tinyhar_project")
    ls_export(tasks, {"exp01": existing(tasks[0])}, tmp_path / "e.json")
    result = runner.invoke(app, ["label", "import", str(tmp_path / "e.json"), "--into",
                                 str(tmp_path / "mine")])
    assert result.exit_code == 2 and "error:" in result.output
    (tmp_path / "s.csv").write_text("start,end,class\n0,5,WALKING\n")
    result = runner.invoke(app, ["label", "quick", str(tmp_path / "mine" / "exp02.parquet"),
                                 "--spans", str(tmp_path / "s.csv"), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "exp02: 251 samples labelled" in result.output


# ---------------------------------------------------------------- prelabel
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A small forest trained on HAPT subjects 2-4 (subject 1 unseen)."""
    from tests.helpers import bundled_hapt_parquet

    folder = tmp_path_factory.mktemp("run")
    data = bundled_hapt_parquet(folder, ["2", "3", "4"])
    cfg = {"dataset": {"name": str(data)}, "evaluation": {"test_subjects": [4], "cv_folds": 2},
           "model": {"n_estimators": 10, "max_depth": 8}}
    (folder / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "--config", str(folder / "cfg.yaml"), "--out",
                                 str(folder / "small")])
    assert result.exit_code == 0, result.output
    return folder / "small"


@pytest.mark.slow
def test_prelabel_adds_the_runs_smoothed_predictions(hapt_one, small_run, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine", labelled=False)
    res = export_project(definition, tmp_path / "ls", prelabel=small_run,
                         classes=list(hapt_one.classes))
    assert res.n_predicted == 2
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    agree = []
    for task, (_s, _session, part) in zip(tasks, hapt_one.iter_sessions(), strict=True):
        (prediction,) = task["predictions"]
        assert prediction["model_version"] == "tinyhar small"
        assert 0 < prediction["score"] <= 1
        spans = [(r["value"]["start"], r["value"]["end"], r["value"]["timeserieslabels"][0])
                 for r in prediction["result"]]
        # a smoothed segment may name a class its windows gave no probability (mode filter)
        assert all(0 <= r["score"] <= 1 for r in prediction["result"])
        time = part["time"].to_numpy()
        labels, report = labels_from_spans(time, spans, 50.0, "prelabel")
        assert report.overlaps == []  # predicted segments tile without overlapping
        truth = part["label"].to_numpy()
        known = part["label"].notna().to_numpy()
        agree.append(np.mean(labels[known] == truth[known].astype(object)))
    # an unseen subject: the smoothed predictions agree with the true labels on most samples
    assert min(agree) > 0.75
    # accepting the predictions as they are labels the recording
    ls_export(tasks, {t["data"]["session"]: t["predictions"][0]["result"] for t in tasks},
              tmp_path / "e.json")
    imported = import_annotations(tmp_path / "e.json", tmp_path / "mine")
    assert len(imported.files) == 2


def test_suggestions_without_ruptures_say_so(hapt_one, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ruptures", None)  # import ruptures raises ImportError
    definition = write_folder(hapt_one, tmp_path / "mine")
    with pytest.raises(ConfigError, match=r"--suggest-boundaries needs the ruptures package"):
        export_project(definition, tmp_path / "ls", suggest=True)
    assert not (tmp_path / "ls").exists()


def test_tasks_of_two_exports_are_refused(hapt_one, tmp_path):
    definition = write_folder(hapt_one, tmp_path / "mine")
    export_project(definition, tmp_path / "ls")
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    tasks[1]["data"]["tinyhar_project"] = "0" * 32
    ls_export(tasks, {"exp01": existing(tasks[0])}, tmp_path / "e.json")
    with pytest.raises(DataFormatError, match=r"e\.json: task 2 comes from another tinyhar"):
        import_annotations(tmp_path / "e.json", tmp_path / "mine")


def test_import_into_a_new_folder_writes_labelled_copies_of_csv_recordings(tmp_path):
    """A project exported from a definition of CSV files (examples/my_data.yaml) comes back
    as labelled canonical recordings plus a data.yaml in a new folder."""
    from pathlib import Path

    from tinyhar.datasets.custom import load_custom

    example = Path(__file__).resolve().parents[1] / "examples" / "my_data.yaml"
    res = export_project(example, tmp_path / "ls", classes=["jumping"])
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    assert res.n_tasks == 4
    first = tasks[0]["data"]
    region = {"from_name": "label", "to_name": "ts", "type": "timeserieslabels",
              "value": {"start": 2.0, "end": 4.0, "instant": False,
                        "timeserieslabels": ["jumping"]}}
    ls_export(tasks, {first["session"]: [*existing(tasks[0]), region]}, tmp_path / "e.json")
    # into a folder of other files (here: the CSV files' own): refused, nothing written
    other = tmp_path / "csvs"
    other.mkdir()
    (other / "notes.txt").write_text("my recordings")
    with pytest.raises(ConfigError, match="holds no tinyhar recordings .* but other files"):
        import_annotations(tmp_path / "e.json", other)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]
    result = import_annotations(tmp_path / "e.json", tmp_path / "labelled")
    assert [p.name for p in result.files] == [f"{first['session'].replace('/', '_')}.parquet",
                                              "data.yaml"]
    copy = load_custom(tmp_path / "labelled" / "data.yaml")
    original = load_custom(example)
    part = original.frame[original.frame["session"] == first["session"]]
    time = part["time"].to_numpy()
    expected = np.where((time >= 2.0 - 1e-6) & (time <= 4.0 + 1e-6), None,
                        part["label"].astype(object).to_numpy())  # overlap: unlabelled
    got = copy.frame["label"].astype(object).where(copy.frame["label"].notna(), None)
    assert list(got) == list(expected)
    assert result.sessions[first["session"]].overlaps[0][:2] == (2.0, 4.0)
    np.testing.assert_allclose(copy.frame["acc_x"], part["acc_x"], rtol=1e-6)


def test_labelled_copies_of_date_time_recordings_keep_their_clock_times(tmp_path):
    """Recordings with clock time (units.time: datetime) -> export -> import: the labelled
    copies, read through the data.yaml written for them, keep each session's origin."""
    from tinyhar.datasets.custom import load_custom

    origins = {"a": 1479003480.0, "b": 1479112200.5}  # 2016-11-13 02:18, 11-14 08:30:00.5 UTC
    raw = tmp_path / "raw"
    raw.mkdir()
    for session, first in [("a", "2016-11-13 02:18:00"), ("b", "2016-11-14T09:30:00.5+01:00")]:
        stamps = pd.Timestamp(first) + pd.to_timedelta(np.arange(500) * 20, unit="ms")
        pd.DataFrame({"t": stamps.strftime("%Y-%m-%dT%H:%M:%S.%f%z"), "x": 0.0, "y": 0.0,
                      "z": 1.0}).to_csv(raw / f"{session}.csv", index=False)
    (raw / "data.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\ncolumns: {time: t, acc_x: x, acc_y: y, acc_z: z}\n"
        "units: {time: datetime}\nfile_pattern: '(?P<session>\\w+)\\.csv'\n"
        "constants: {subject: p1}\n")
    assert load_custom(raw / "data.yaml").origins == origins
    export_project(raw / "data.yaml", tmp_path / "ls", classes=["walk"])
    tasks = json.loads((tmp_path / "ls" / "tasks.json").read_text())
    region = {"from_name": "label", "to_name": "ts", "type": "timeserieslabels",
              "value": {"start": 2.0, "end": 4.0, "instant": False,
                        "timeserieslabels": ["walk"]}}
    ls_export(tasks, {t["data"]["session"]: [region] for t in tasks}, tmp_path / "e.json")
    import_annotations(tmp_path / "e.json", tmp_path / "labelled")  # labelled copies
    assert RecordingSet.from_parquet(tmp_path / "labelled" / "a.parquet").origins == {
        "a": origins["a"]}
    copy = load_custom(tmp_path / "labelled" / "data.yaml")
    assert copy.origins == origins
    assert copy.frame["label"].notna().sum() == 2 * 101  # 2.00-4.00 s at 50 Hz, per session
    # labels imported into those copies (rewritten in place) keep them too
    region["value"].update(start=5.0, end=6.0)
    ls_export(tasks, {t["data"]["session"]: [region] for t in tasks}, tmp_path / "e2.json")
    import_annotations(tmp_path / "e2.json", tmp_path / "labelled", overwrite=True)
    assert load_custom(tmp_path / "labelled" / "data.yaml").origins == origins
