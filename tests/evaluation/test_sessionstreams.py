"""Whole streams read one session at a time: `evaluate --continuous` on a dataset definition
scores what the whole data set in memory scores (synthetic recordings of real HAPT segments)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import assert_close_tree, train_streams_run
from tinyhar.cli import app
from tinyhar.datasets.synthetic import synthesize
from tinyhar.evaluate import evaluate_continuous
from tinyhar.evaluation.sessionstreams import SessionRecordings
from tinyhar.evaluation.streams import StreamLabels, stream_predictions, stream_scores
from tinyhar.runfolder import load_run

runner = CliRunner()
TEST = ["s003", "s004"]


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 4, 0.1, session_hours=0.05, seed=3)
    return out / "data.yaml"


@pytest.fixture(scope="module")
def run(definition, tmp_path_factory):
    # rejection too, so the unknown counts go through the per-session path
    return train_streams_run(definition, tmp_path_factory.mktemp("runs") / "r", TEST)


def test_session_by_session_scores_equal_the_whole_data_set(run, definition, tmp_path):
    whole = evaluate_continuous(run, str(definition), by_session=False,
                                figures_dir=tmp_path / "a")
    streamed = evaluate_continuous(run, str(definition), figures_dir=tmp_path / "b")
    assert_close_tree(whole, streamed)
    assert streamed["subjects"] == TEST and streamed["n_sessions"] == 4
    assert streamed["excluded_training_subjects"] == ["s001", "s002"]
    assert streamed["unknown_by_label"]["known"]["n"] == streamed["n_windows"]
    assert streamed["skipped_sessions"] == []
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "timeline_s003.png", "timeline_s004.png"]


def test_labels_made_per_session_equal_labels_of_all_sessions(run, definition):
    r = load_run(run)
    sessions = SessionRecordings.from_definition(definition)
    assert sessions.subjects() == ["s001", "s002", "s003", "s004"]
    parts = [got for got in sessions.iter_predictions(r.pipeline, TEST)]
    assert len(parts) == 4 and all(got.error is None for got in parts)
    per_session = StreamLabels.concatenate([StreamLabels.classify(got.pred, r.postprocess)
                                            for got in parts])
    from tinyhar.datasets.custom import load_custom

    whole = stream_predictions(r.pipeline, load_custom(definition).select(subjects=TEST))
    at_once = StreamLabels.classify(whole, r.postprocess)
    assert np.array_equal(per_session.smoothed, at_once.smoothed)
    assert np.array_equal(per_session.raw, at_once.raw)
    assert per_session.smoothed.dtype == np.int16  # compact: no probabilities kept
    assert_close_tree(stream_scores(whole, r.postprocess), stream_scores(per_session))


def test_sessions_grouped_into_tasks_give_the_serial_predictions(run, definition, monkeypatch):
    """Worker threads given the sessions in groups (their bytes as weights; one task per
    worker here): each session's predictions as the serial read gives them, in order."""
    from tinyhar import compute

    r = load_run(run)
    serial = list(SessionRecordings.from_definition(definition).iter_predictions(
        r.pipeline, TEST))
    monkeypatch.setattr(compute, "TASKS_PER_WORKER", 1)
    sessions = SessionRecordings(SessionRecordings.from_definition(definition).sources,
                                 scheduler="threads", workers=2)
    assert len(compute.task_groups([s.nbytes for s in sessions.sources], 2)) < 8
    grouped = list(sessions.iter_predictions(r.pipeline, TEST))
    assert [g.name for g in grouped] == [g.name for g in serial]
    for a, b in zip(serial, grouped, strict=True):
        assert a.error is None and b.error is None
        assert np.array_equal(a.pred.proba, b.pred.proba)


def test_a_broken_session_is_skipped_and_listed(run, definition, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(definition.parent, copy)
    broken = sorted((copy / "recordings").glob("s003_*.parquet"))[0]
    broken.write_bytes(b"PAR1 broken")
    m = evaluate_continuous(run, str(copy / "data.yaml"))
    assert [s["source"] for s in m["skipped_sessions"]] == [
        f"subject s003, session recordings/{broken.stem}"]
    assert broken.name in m["skipped_sessions"][0]["error"]
    assert m["n_sessions"] == 3 and m["subjects"] == TEST


def test_cli_evaluate_continuous_on_a_definition(run, definition, tmp_path):
    r = runner.invoke(app, ["evaluate", str(run), "--dataset", str(definition), "--continuous",
                            "--subjects", "s004", "--out", str(tmp_path / "ev")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "ev" / "continuous.json").read_text())
    assert m["subjects"] == ["s004"] and m["n_sessions"] == 2
    assert m["smoothed"]["n_pred_segments"] <= m["raw"]["n_pred_segments"]
    assert (tmp_path / "ev" / "timeline_s004.png").is_file()


def test_predict_reads_a_definition_session_by_session(run, definition, tmp_path):
    import pandas as pd

    from tinyhar.predict import SEGMENTS_FILE, WINDOWS_FILE, predict_recordings

    streamed = predict_recordings(run, tmp_path / "a", recording=str(definition),
                                  subjects=["s003", "s004"])
    whole = predict_recordings(run, tmp_path / "b", dataset=str(definition),  # loaded whole
                               subjects=["s003", "s004"])
    assert streamed == {**whole, "out": str(tmp_path / "a")}
    assert streamed["n_sessions"] == 4 and streamed["skipped_sessions"] == []
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / WINDOWS_FILE),
                                  pd.read_parquet(tmp_path / "b" / WINDOWS_FILE))
    assert ((tmp_path / "a" / SEGMENTS_FILE).read_text()
            == (tmp_path / "b" / SEGMENTS_FILE).read_text())
    copy = tmp_path / "data"
    shutil.copytree(definition.parent, copy)
    broken = sorted((copy / "recordings").glob("s004_*.parquet"))[1]
    broken.write_text("time,acc_x\n")
    got = predict_recordings(run, tmp_path / "c", recording=str(copy / "data.yaml"),
                             subjects=["s004"])
    assert got["n_sessions"] == 1
    assert [s["source"] for s in got["skipped_sessions"]] == [
        f"subject s004, session recordings/{broken.stem}"]


def test_subjects_from_a_column_are_found_by_reading_each_file(run, definition, tmp_path):
    import pandas as pd
    import yaml

    folder = tmp_path / "col"
    (folder / "recordings").mkdir(parents=True)
    for k, subject in enumerate(TEST):
        frame = pd.read_parquet(sorted((definition.parent / "recordings").glob(
            f"{subject}_*.parquet"))[0])
        frame.assign(person=subject).to_parquet(folder / "recordings" / f"part{k}.parquet")
    spec = yaml.safe_load(definition.read_text(encoding="utf-8"))
    spec.pop("file_pattern")
    spec["columns"]["subject"] = "person"
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    sessions = SessionRecordings.from_definition(folder / "data.yaml")
    assert [s.subject for s in sessions.sources] == [None, None]
    assert sessions.subjects() == TEST
    streamed = evaluate_continuous(run, str(folder / "data.yaml"))
    assert streamed["subjects"] == TEST and streamed["n_sessions"] == 2
    assert_close_tree(evaluate_continuous(run, str(folder / "data.yaml"), by_session=False),
                      streamed)


BATCH = 6007  # rows per batch: 3 batches of the 18,000-row session below


def test_a_long_session_read_in_batches_gives_the_outputs_of_a_whole_read(
        run, definition, tmp_path, monkeypatch):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tinyhar.datasets.sessions import session_sources
    from tinyhar.predict import SEGMENTS_FILE, TIMELINE_FILE, WINDOWS_FILE, predict_recordings

    folder = tmp_path / "long"
    shutil.copytree(definition.parent, folder)
    files = sorted((folder / "recordings").glob("s003_*.parquet"))
    parts = [pd.read_parquet(f) for f in files]
    parts[1]["time"] += parts[0]["time"].iloc[-1] + 1.0  # one file, with a 1 s gap inside
    for f in files:
        f.unlink()
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    pq.write_table(table, folder / "recordings" / "s003_0000.parquet", row_group_size=2000)
    data = folder / "data.yaml"
    source = next(s for s in session_sources(data) if s.subject == "s003")
    batches = list(source.iter_batches(batch_rows=BATCH))
    whole_frame = source.load().frame
    assert [len(b.frame) for b in batches] == [BATCH, BATCH, len(whole_frame) - 2 * BATCH]
    pd.testing.assert_frame_equal(pd.concat([b.frame for b in batches], ignore_index=True),
                                  whole_frame)

    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", BATCH)
    streamed = predict_recordings(run, tmp_path / "a", recording=str(data), subjects=TEST)
    whole = predict_recordings(run, tmp_path / "b", dataset=str(data), subjects=TEST)
    assert streamed == {**whole, "out": str(tmp_path / "a")}
    windows = pd.read_parquet(tmp_path / "a" / WINDOWS_FILE)
    pd.testing.assert_frame_equal(windows, pd.read_parquet(tmp_path / "b" / WINDOWS_FILE))
    for name in (SEGMENTS_FILE, TIMELINE_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    long = windows[windows["subject"] == "s003"]
    for row in (BATCH, 2 * BATCH):  # a window straddles each batch boundary
        t = whole_frame["time"].iloc[row]
        assert ((long["t_start"] < t) & (long["t_end"] > t)).any()
    assert long["run"].nunique() == 2  # the gap

    calls: list[int] = []  # progress comes per chunk, not once per source
    sessions = SessionRecordings.open(data, batch_rows=BATCH)
    pred = sessions.predictions(load_run(run).pipeline, ["s003"], chunk=50,
                                on_windows=calls.append)
    assert sessions.name == "synthetic-hapt-50hz" and len(calls) > 3
    assert sum(calls) == len(pred) == len(long)

    by_batch = evaluate_continuous(run, str(data), figures_dir=tmp_path / "c")
    at_once = evaluate_continuous(run, str(data), by_session=False, figures_dir=tmp_path / "d")
    assert_close_tree(at_once, by_batch)
    assert by_batch["n_sessions"] == 3
    assert ((tmp_path / "c" / "timeline_s003.png").read_bytes()
            == (tmp_path / "d" / "timeline_s003.png").read_bytes())


def test_stored_stream_features_give_the_predictions_without_a_read(run, definition,
                                                                     monkeypatch):
    # out-of-core training hands over each session's stream features: classified, not read
    from tinyhar.datasets.sessions import SessionSource
    from tinyhar.evaluation.streams import StreamFeatures, iter_stream_features

    r = load_run(run)
    read = SessionRecordings.from_definition(definition)
    features = {s.name: StreamFeatures.concatenate(
        list(iter_stream_features(r.pipeline, s.load(None, read.session_prefix))),
        len(r.pipeline.feature_names), 2.56, 1.28) for s in read.sources}
    stored = SessionRecordings(read.sources, None, read.session_prefix, features=features)
    expected = read.predictions(r.pipeline, TEST, ood_model=r.postprocess.ood_model)

    def no_read(*args, **kwargs):
        raise AssertionError("a session was read")

    monkeypatch.setattr(SessionSource, "load", no_read)
    monkeypatch.setattr(SessionSource, "iter_batches", no_read)
    got = stored.predictions(r.pipeline, TEST, ood_model=r.postprocess.ood_model)
    assert len(got) == len(expected) and list(got.session) == list(expected.session)
    assert np.array_equal(got.classify(r.postprocess), expected.classify(r.postprocess))
    np.testing.assert_allclose(got.proba, expected.proba, atol=1e-12)
    assert_close_tree(stream_scores(got, r.postprocess), stream_scores(expected, r.postprocess))


def test_worker_processes_give_the_serial_outputs_and_skip_the_same_session(
        run, definition, tmp_path, monkeypatch):
    """`evaluate --continuous` and `predict` with `--scheduler processes --workers 2` on a
    definition with a broken session: the serial scores and predictions, the same session
    skipped and named; the workers started early are gone after each command."""
    import pandas as pd

    from tinyhar import compute
    from tinyhar.predict import SEGMENTS_FILE, WINDOWS_FILE

    copy = tmp_path / "data"
    shutil.copytree(definition.parent, copy)
    broken = sorted((copy / "recordings").glob("s004_*.parquet"))[0]
    broken.write_bytes(b"PAR1 broken")
    calls, real = [], compute.map_in_order

    def spy(func, items, scheduler="serial", workers=2, *args, **kwargs):
        calls.append((scheduler, workers, len(items) + (kwargs.get("head") is not None)))
        return real(func, items, scheduler, workers, *args, **kwargs)

    monkeypatch.setattr(compute, "map_in_order", spy)
    parallel = ["--scheduler", "processes", "--workers", "2"]
    got = {}
    for name, extra in (("serial", []), ("processes", parallel)):
        evaluated = tmp_path / f"ev-{name}"
        r = runner.invoke(app, ["evaluate", str(run), "--dataset", str(copy / "data.yaml"),
                                "--continuous", "--out", str(evaluated), *extra])
        assert r.exit_code == 0, r.output
        predicted = tmp_path / f"pred-{name}"
        r = runner.invoke(app, ["predict", str(run), str(copy / "data.yaml"), "--out",
                                str(predicted), *extra])
        assert r.exit_code == 0, r.output
        assert f"skipped subject s004, session recordings/{broken.stem}" in r.output
        got[name] = (json.loads((evaluated / "continuous.json").read_text()), predicted)
        assert compute._WARM == {}
    # the sessions of s003 and s004 (evaluate), then all 8 (predict): the first of them
    # here (head), the others on the scheduler
    assert calls == [("serial", 2, 4), ("serial", 2, 8), ("processes", 2, 4),
                     ("processes", 2, 8)]
    (serial, a), (processes, b) = got["serial"], got["processes"]
    assert processes == serial
    assert [s["source"] for s in serial["skipped_sessions"]] == [
        f"subject s004, session recordings/{broken.stem}"]
    pd.testing.assert_frame_equal(pd.read_parquet(a / WINDOWS_FILE),
                                  pd.read_parquet(b / WINDOWS_FILE))
    assert (a / SEGMENTS_FILE).read_text() == (b / SEGMENTS_FILE).read_text()


def test_a_session_split_over_two_files_is_predicted_as_the_whole_read(run, definition,
                                                                      tmp_path):
    """Subject and session from columns, one session in two files: the files are read
    together (one source), with the predictions of the whole data set, not a file at a time
    (each file's times would start again at 0). Sources not joined are refused, naming both
    files, when the second one's predictions come back."""
    import pandas as pd
    import yaml

    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.sessions import session_sources
    from tinyhar.errors import TinyharError

    folder = tmp_path / "cols"
    (folder / "rec").mkdir(parents=True)
    for k, path in enumerate(sorted((definition.parent / "recordings").glob("s003_*.parquet"))):
        frame = pd.read_parquet(path)
        frame["time"] += 200.0 * k  # the second file goes on after the first
        frame["who"], frame["rec"] = "s003", "day"
        frame.to_parquet(folder / "rec" / f"part{k}.parquet", index=False)
    spec = yaml.safe_load(definition.read_text(encoding="utf-8"))
    spec.pop("file_pattern")
    spec["files"] = "rec/*.parquet"
    spec["columns"].update(subject="who", session="rec")
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    pipeline = load_run(run).pipeline
    recordings = SessionRecordings.open(folder / "data.yaml")
    assert [s.name for s in recordings.sources] == ["part0.parquet"]  # both files
    got = recordings.predictions(pipeline, ["s003"])
    whole = stream_predictions(pipeline, load_custom(folder / "data.yaml"))
    assert set(got.session.tolist()) == {"day"} and len(got) == len(whole)
    np.testing.assert_array_equal(got.t_start, whole.t_start)
    np.testing.assert_allclose(got.proba, whole.proba, rtol=1e-5, atol=1e-6)
    apart = SessionRecordings(session_sources(folder / "data.yaml"))
    with pytest.raises(TinyharError, match=r"session day is in part0\.parquet and in "
                                           r"part1\.parquet.*join_split_sessions"):
        apart.predictions(pipeline, ["s003"])
