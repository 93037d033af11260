"""Post-processing as a stage of training, whole-stream scores, `tinyhar predict` and
`tinyhar evaluate --continuous`, on real HAPT subjects (bundled copy and publisher's zip)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import assert_close_tree, bundled_hapt_parquet
from tinyhar.cli import app
from tinyhar.config import make_config
from tinyhar.evaluation.streams import stream_predictions, stream_scores
from tinyhar.postprocess import PostProcessor, default_candidates
from tinyhar.postprocess.posture import POSTURE_KEYS
from tinyhar.postprocess.rejection import REJECT_KEYS
from tinyhar.predict import SEGMENTS_FILE, TIMELINE_FILE, WINDOWS_FILE
from tinyhar.runfolder import POSTPROCESS_FILE, load_run
from tinyhar.training import train

runner = CliRunner()
TRAIN = ["1", "3", "5", "6"]
TEST = "7"
CONTINUOUS_KEYS = (
    "accuracy", "macro_f1", "kappa", "segment_f1", "oversegmentation", "edit_score",
    "median_delay_s", "n_scored", "n_excluded", "n_true_segments", "n_pred_segments",
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    return {
        "train": bundled_hapt_parquet(folder, TRAIN + [TEST]),
        "held_out": bundled_hapt_parquet(folder, [TEST], name="subject7.parquet"),
    }


def _train(data, tmp_path_factory, postprocess: dict, name: str):
    cfg = make_config({
        "dataset": {"name": str(data["train"]), "sensors": "acc"},
        "evaluation": {"test_subjects": [TEST], "cv_folds": 4},
        "model": {"n_estimators": 5, "max_depth": 8},
        "postprocess": postprocess,
    })
    out = tmp_path_factory.mktemp("runs") / name
    return out, train(cfg, out)


@pytest.fixture(scope="module")
def hmm_run(data, tmp_path_factory):
    return _train(data, tmp_path_factory, {"smoothing": "hmm", "hmm_lag": 5}, "hmm")


def _changes(classes: np.ndarray, keys: np.ndarray) -> int:
    same = keys[1:] == keys[:-1]
    return int(np.count_nonzero(same & (classes[1:] != classes[:-1])))


def test_hmm_postprocess_is_fitted_stored_and_reduces_flicker(hmm_run):
    out, metrics = hmm_run
    run = load_run(out)
    assert POSTPROCESS_FILE in run.manifest["files"]
    spec = run.postprocess
    assert spec.smoothing == "hmm" and spec.hmm is not None
    assert spec.classes == run.pipeline.classes
    assert spec.to_dict() == json.loads((out / POSTPROCESS_FILE).read_text())
    block = metrics["postprocess"]
    assert block["description"] == "hmm(fixed_lag=5)"
    assert block["chosen_by"].startswith("configured")
    assert [r["postprocess"] for r in block["cv"]] == ["none", "hmm(fixed_lag=5)"]
    test = block["test_streams"]
    for key in CONTINUOUS_KEYS:
        assert key in test["raw"] and key in test["smoothed"]
    assert "unlabelled" in test["excluded"]
    assert test["raw"]["n_scored"] == test["smoothed"]["n_scored"] > 100
    # recompute the test streams: smoothing has fewer class changes than the raw classes
    from tinyhar.datasets.registry import load_dataset

    rec = load_dataset(run.config.dataset.name).select(subjects=[TEST], channels=["acc_x",
                                                                               "acc_y", "acc_z"])
    pred = stream_predictions(run.pipeline, rec)
    keys = pred.run_keys()
    raw, smoothed = pred.classify(), pred.classify(spec)
    assert _changes(smoothed, keys) < _changes(raw, keys)
    again = stream_scores(pred, spec)
    assert again["smoothed"]["macro_f1"] == pytest.approx(test["smoothed"]["macro_f1"])
    assert test["smoothed"]["n_pred_segments"] < test["raw"]["n_pred_segments"]


def test_stream_chunks_do_not_change_the_predictions(hmm_run, data):
    out, _ = hmm_run
    run = load_run(out)
    from tinyhar.datasets.registry import load_dataset

    rec = load_dataset(str(data["held_out"])).select(channels=["acc_x", "acc_y", "acc_z"])
    whole = stream_predictions(run.pipeline, rec)
    chunked = stream_predictions(run.pipeline, rec, chunk=7)
    np.testing.assert_array_equal(whole.classify(), chunked.classify())
    np.testing.assert_allclose(whole.proba, chunked.proba, atol=1e-12)
    np.testing.assert_array_equal(whole.t_start, chunked.t_start)


def _pieces(rec, cuts):
    """``rec`` as consecutive RecordingSets cut at the rows ``cuts``."""
    from tinyhar.datasets.recording import RecordingSet

    bounds = [0, *cuts, len(rec.frame)]
    return [RecordingSet(rec.frame.iloc[a:b].reset_index(drop=True), rec.sampling_rate_hz,
                         rec.classes, rec.name)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def test_recordings_in_pieces_give_the_windows_and_predictions_of_the_whole(hmm_run, data):
    from tinyhar.datasets.registry import load_dataset
    from tinyhar.evaluation.streams import iter_stream_windows

    out, _ = hmm_run
    run = load_run(out)
    rec = load_dataset(str(data["held_out"])).select(channels=["acc_x", "acc_y", "acc_z"])
    keep = np.ones(len(rec.frame), dtype=bool)
    keep[[5000, 5001, 9000]] = False  # gaps: new contiguous parts
    rec.frame = rec.frame[keep].reset_index(drop=True)
    n, hop = run.pipeline.n_samples, run.pipeline.streaming_hop
    # cuts inside windows, next to a gap, at an invalid sample, at a session change
    session_change = int(np.flatnonzero(rec.frame["session"].to_numpy()
                                        != rec.frame["session"].iloc[0])[0])
    cuts = [1, 100, 4999, 5000, 8999, 12000, 12001, session_change, session_change + 77]
    pieces = _pieces(rec, cuts)
    rec.frame.loc[12000, "acc_y"] = np.nan  # invalid windows across cuts (past the loader)
    pieces[6].frame.loc[0, "acc_y"] = np.nan  # the piece of row 12000 alone
    for rate, chunk in ((None, 7), (None, 4096), (25.0, 5)):  # 25 Hz: parts held whole
        whole = list(iter_stream_windows(rec, n, hop, rate, chunk=chunk))
        cut = list(iter_stream_windows(pieces, n, hop, rate, chunk=chunk))
        assert len(whole) == len(cut) > 3
        for a, b in zip(whole, cut, strict=True):
            assert (a.part, a.first) == (b.part, b.first)
            for key in ("X", "y", "subject", "session", "start_time"):
                np.testing.assert_array_equal(getattr(a.windows, key), getattr(b.windows, key))
    a = stream_predictions(run.pipeline, rec, chunk=7, ood_model=run.postprocess.ood_model)
    b = stream_predictions(run.pipeline, pieces, chunk=7, ood_model=run.postprocess.ood_model)
    assert a.invalid.any() and len(set(a.run.tolist())) > 3
    for key in ("session", "run", "t_start", "y", "proba", "invalid", "acc_magnitude"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))  # same code and chunks
    np.testing.assert_array_equal(a.classify(run.postprocess), b.classify(run.postprocess))


def test_pieces_with_different_class_lists_keep_majority_ties_as_the_whole():
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.evaluation.streams import iter_stream_windows

    t = np.arange(40) / 10.0
    labels = ["b"] * 2 + ["c"] * 2 + ["a"] * 2 + [None] * 34  # window 0: a tie of a, b, c
    frame = pd.DataFrame({"time": t, "acc_x": 0.0, "acc_y": 0.0, "acc_z": 1.0,
                          "label": labels, "subject": "1", "session": "s"})
    whole = RecordingSet(frame, 10.0, ["a", "b", "c"])
    first = RecordingSet(frame.iloc[:4], 10.0, ["b", "c"])  # classes as seen (sorted)
    second = RecordingSet(frame.iloc[4:].reset_index(drop=True), 10.0, ["a"])
    want = [c.windows.y.tolist() for c in iter_stream_windows(whole, 6, 3)]
    got = [c.windows.y.tolist() for c in iter_stream_windows([first, second], 6, 3)]
    assert got == want and want[0][0] == "a"  # first in the class order, not in time


def test_upsampling_a_recording_warns_once_and_downsampling_does_not():
    """A 20 Hz recording for 50 Hz windows has nothing from 10 to 25 Hz: a warning says so
    (once, for all its pieces) and what to do; 100 Hz to 50 Hz is silent."""
    import warnings

    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.evaluation.streams import iter_stream_windows

    def recording(rate, n, start=0):
        t = np.arange(start, start + n) / rate
        frame = pd.DataFrame({"time": t, "acc_x": np.sin(t), "acc_y": 0.0, "acc_z": 1.0,
                              "label": "walk", "subject": "1", "session": "s"})
        return RecordingSet(frame, rate, ["walk"], source=f"rec{rate:g}.csv")

    with pytest.warns(UserWarning, match=r"rec20\.csv: recorded at 20 Hz, upsampled to the "
                      r"windows' 50 Hz: it has no content from 10 to 25 Hz") as got:
        chunks = list(iter_stream_windows([recording(20, 200), recording(20, 200, 200)],
                                          128, 64, 50.0))
    assert sum(len(c.windows) for c in chunks) == 14  # 20 s at 50 Hz: 1000 samples
    assert len([w for w in got if "upsampled" in str(w.message)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(iter_stream_windows(recording(100, 2000), 128, 64, 50.0))) == 1


def test_a_recording_file_is_read_in_batches_with_the_outputs_of_a_whole_read(
        hmm_run, data, tmp_path, monkeypatch):
    from tinyhar.datasets.sessions import RecordingFile
    from tinyhar.evaluate import evaluate_continuous
    from tinyhar.predict import predict_recordings

    out, _ = hmm_run
    rows = 7001
    batches = list(RecordingFile(str(data["held_out"])).iter_batches(batch_rows=rows))
    assert len(batches) > 2 and len(batches[0].frame) == rows
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", rows)
    a = predict_recordings(out, tmp_path / "a", recording=str(data["held_out"]))
    b = predict_recordings(out, tmp_path / "b", dataset=str(data["held_out"]))  # loaded whole
    assert a == {**b, "out": str(tmp_path / "a")} and a["n_sessions"] > 1
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / WINDOWS_FILE),
                                  pd.read_parquet(tmp_path / "b" / WINDOWS_FILE))
    for name in (SEGMENTS_FILE, TIMELINE_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    by_batch = evaluate_continuous(out, str(data["held_out"]))
    whole = evaluate_continuous(out, str(data["held_out"]), by_session=False)
    assert by_batch["subjects"] == [TEST]
    assert_close_tree(by_batch, whole)


def test_invalid_windows_are_marked_and_restart_the_run(hmm_run, data):
    out, _ = hmm_run
    run = load_run(out)
    from tinyhar.datasets.registry import load_dataset

    rec = load_dataset(str(data["held_out"])).select(channels=["acc_x", "acc_y", "acc_z"])
    first = rec.sessions[0]
    rows = np.flatnonzero(rec.frame["session"].to_numpy() == first)
    rec.frame.loc[rows[1000], "acc_y"] = np.nan  # a sensor dropout (bypassing the loader)
    pred = stream_predictions(run.pipeline, rec)
    bad = np.flatnonzero(pred.invalid)
    # every window holding sample 1000 (20.0 s) of the first session is invalid
    t = 1000 / 50.0
    holding = (pred.session == first) & (pred.t_start <= t) & (pred.t_end > t)
    np.testing.assert_array_equal(bad, np.flatnonzero(holding))
    assert np.isnan(pred.proba[bad]).all()
    smoothed = pred.names(pred.classify(run.postprocess))
    assert set(smoothed[bad]) == {"invalid"}
    after = bad[-1] + 1
    assert pred.run[after] == pred.run[bad[0] - 1] + 1


def test_auto_chooses_by_cross_validation_on_training_subjects(data, tmp_path_factory):
    out, metrics = _train(data, tmp_path_factory, {"smoothing": "auto"}, "auto")
    block = metrics["postprocess"]
    assert block["chosen_by"].startswith("leave-subjects-out CV on the training subjects")
    scores = {r["postprocess"]: r["macro_f1"] for r in block["cv"]}
    grid = default_candidates(metrics["classes"], block["test_streams"]["hop_s"])
    assert list(scores) == [c.describe() for c in grid]  # the grid at the run's hop
    assert scores[block["description"]] == max(scores.values())
    spec = load_run(out).postprocess
    assert spec.describe() == block["description"]
    assert block["test_streams"]["smoothed"]["n_scored"] > 100


def test_cli_predict_writes_consistent_files(hmm_run, data, tmp_path):
    out, _ = hmm_run
    pred_dir = tmp_path / "pred"
    result = runner.invoke(app, ["predict", str(out), str(data["held_out"]), "--out",
                                 str(pred_dir)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in pred_dir.iterdir()) == sorted(
        [WINDOWS_FILE, SEGMENTS_FILE, TIMELINE_FILE]
    )
    w = pd.read_parquet(pred_dir / WINDOWS_FILE)
    run = load_run(out)
    classes = run.pipeline.classes
    proba = w[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert not w["invalid"].any()
    assert list(w["raw_class"]) == [classes[i] for i in proba.argmax(axis=1)]
    keys = (w["session"] + "/" + w["run"].astype(str)).to_numpy()
    expected = run.postprocess.apply_labels(proba, keys)
    assert list(w["smoothed_class"]) == list(expected)
    assert set(w["true_label"]) <= set(classes) | {""}
    # segments tile the windows: counts add up, classes match, each session covered
    seg = pd.read_csv(pred_dir / SEGMENTS_FILE)
    assert seg["n_windows"].sum() == len(w)
    expanded = np.repeat(seg["activity"].to_numpy(), seg["n_windows"].to_numpy())
    assert list(expanded) == list(w["smoothed_class"])
    for s, part in seg.groupby("session", sort=False):
        ws = w[w["session"] == s]
        assert part["start"].iloc[0] == pytest.approx(ws["t_start"].min())
        assert part["end"].iloc[-1] == pytest.approx(ws["t_end"].max())
        np.testing.assert_allclose(part["start"].to_numpy()[1:], part["end"].to_numpy()[:-1])
    assert (seg["mean_confidence"].between(0, 1)).all()
    assert (pred_dir / TIMELINE_FILE).stat().st_size > 10_000
    # a non-empty --out is refused without --overwrite, replaced with it
    again = runner.invoke(app, ["predict", str(out), str(data["held_out"]), "--out",
                                str(pred_dir)])
    assert again.exit_code == 2 and "--overwrite" in again.output
    again = runner.invoke(app, ["predict", str(out), "--dataset", str(data["train"]),
                                "--subject", TEST, "--out", str(pred_dir), "--overwrite"])
    assert again.exit_code == 0, again.output
    assert pd.read_parquet(pred_dir / WINDOWS_FILE).equals(w)


def test_cli_predict_refuses_a_run_folder_and_unknown_subjects(hmm_run, data, tmp_path):
    out, _ = hmm_run
    r = runner.invoke(app, ["predict", str(out), str(data["held_out"]), "--out", str(out),
                            "--overwrite"])
    assert r.exit_code == 2 and "run folder" in r.output
    r = runner.invoke(app, ["predict", str(out), "--dataset", str(data["train"]), "--subject",
                            "99", "--out", str(tmp_path / "p")])
    assert r.exit_code == 2 and "99" in r.output
    assert load_run(out).postprocess is not None  # the run is untouched


def test_cli_evaluate_continuous_on_hapt_raw(hmm_run, shared_data_dir, tmp_path):
    out, _ = hmm_run
    zip_path = shared_data_dir / "HAPT Data Set.zip"
    r = runner.invoke(app, ["evaluate", str(out), "--dataset", "hapt-raw", "--path",
                            str(zip_path), "--subjects", f"{TEST},3", "--continuous", "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.stdout[r.stdout.index("{"):])
    assert m["subjects"] == [TEST] and m["excluded_training_subjects"] == ["3"]
    for key in CONTINUOUS_KEYS:
        assert key in m["raw"] and key in m["smoothed"]
    assert m["postprocess"] == "hmm(fixed_lag=5)"
    assert m["n_windows"] == m["raw"]["n"] == m["raw"]["n_scored"] + m["raw"]["n_excluded"]
    assert m["excluded"]["unlabelled"] == m["raw"]["n_excluded"]
    assert m["smoothed"]["n_pred_segments"] < m["raw"]["n_pred_segments"]
    assert set(m["per_subject"]) == {TEST}
    written = tmp_path / "ev"
    r = runner.invoke(app, ["evaluate", str(out), "--dataset", "hapt-raw", "--path",
                            str(zip_path), "--subjects", TEST, "--continuous", "--out",
                            str(written)])
    assert r.exit_code == 0, r.output
    assert "segment F1" in r.output
    assert json.loads((written / "continuous.json").read_text())["raw"] == m["raw"]
    assert (written / f"timeline_{TEST}.png").stat().st_size > 10_000


def test_hmm_needs_cross_validation_folds_and_is_refused_before_training(data, tmp_path):
    from tinyhar.errors import ConfigError

    cfg = make_config({
        "dataset": {"name": str(data["train"]), "sensors": "acc"},
        "evaluation": {"test_subjects": [TEST], "cv_folds": 0},
        "postprocess": {"smoothing": "hmm"},
    })
    with pytest.raises(ConfigError, match="evaluation.cv_folds"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_postprocess_config_is_checked():
    from tinyhar.errors import ConfigError

    with pytest.raises(ConfigError, match="postprocess.smoothing"):
        make_config({"postprocess": {"smoothing": "median"}})
    with pytest.raises(ConfigError, match="postprocess.mode_k"):
        make_config({"postprocess": {"mode_k": 0}})
    cfg = make_config(yaml.safe_load("postprocess: {smoothing: ema, ema_alpha: 0.5}"))
    spec = PostProcessor(["a", "b"], **{k: v for k, v in cfg.postprocess.model_dump().items()
                                        if k not in ("streamable_only", *REJECT_KEYS,
                                                     *POSTURE_KEYS)})
    assert spec.describe() == "ema(alpha=0.5)"


def test_posture_correction_is_fitted_on_training_streams_and_used_by_predict(
        data, tmp_path_factory, tmp_path):
    out, metrics = _train(data, tmp_path_factory,
                          {"smoothing": "mode", "mode_k": 9, "posture": "walking_reference"},
                          "posture")
    block = metrics["postprocess"]
    assert block["description"] == "posture(walking_reference)+mode(k=9)"
    assert block["streamable"] is False
    spec = load_run(out).postprocess
    assert spec.posture.fitted and spec.posture.coef[0, 0] > 0  # more tilt: more sitting
    assert block["test_streams"]["smoothed"]["n_scored"] > 100
    from tinyhar.datasets.registry import load_dataset

    rec = load_dataset(str(data["held_out"])).select(channels=["acc_x", "acc_y", "acc_z"])
    pred = stream_predictions(load_run(out).pipeline, rec)
    first = rec.frame[["acc_x", "acc_y", "acc_z"]].to_numpy()[:load_run(out).pipeline.n_samples]
    np.testing.assert_allclose(pred.gravity[0], first.mean(axis=0), rtol=1e-6)
    pred_dir = tmp_path / "pred"
    result = runner.invoke(app, ["predict", str(out), str(data["held_out"]), "--out",
                                 str(pred_dir)])
    assert result.exit_code == 0, result.output
    w = pd.read_parquet(pred_dir / WINDOWS_FILE)
    assert list(w["smoothed_class"]) == list(pred.names(pred.classify(spec)))


def test_posture_needs_cross_validated_training_streams():
    from tinyhar.errors import ConfigError
    from tinyhar.training.stages import check_postprocess_config

    cfg = make_config({"evaluation": {"cv_folds": 0},
                       "postprocess": {"posture": "walking_reference"}})
    with pytest.raises(ConfigError, match="postprocess.posture 'walking_reference' is fitted"):
        check_postprocess_config(cfg, recordings=True)
    with pytest.raises(ConfigError, match="postprocess.posture"):
        make_config({"postprocess": {"posture": "upright"}})
    with pytest.raises(ConfigError, match="postprocess.posture_context"):
        make_config({"postprocess": {"posture": "walking_reference_grouped_context",
                                     "posture_context": 4}})


def test_grouped_context_posture_round_trips_through_the_run_folder(data, tmp_path_factory):
    """``posture: walking_reference_grouped_context`` with its context: fitted on the
    training streams, written to postprocess.json, read back, the same test-stream scores."""
    from tinyhar.datasets.registry import load_dataset

    out, metrics = _train(data, tmp_path_factory,
                          {"smoothing": "mode", "mode_k": 5,
                           "posture": "walking_reference_grouped_context",
                           "posture_context": 3}, "posture_context")
    block = metrics["postprocess"]
    assert block["description"] == "posture(walking_reference_grouped_context,k=3)+mode(k=5)"
    state = json.loads((out / POSTPROCESS_FILE).read_text())["posture"]
    assert state["context"] == 3 and np.shape(state["coef"]) == (6, 10)
    run = load_run(out)
    assert run.postprocess.posture.context == 3
    np.testing.assert_array_equal(run.postprocess.posture.coef, state["coef"])
    rec = load_dataset(str(data["held_out"])).select(channels=["acc_x", "acc_y", "acc_z"])
    again = stream_scores(stream_predictions(run.pipeline, rec), run.postprocess)
    assert again["smoothed"]["n_scored"] == block["test_streams"]["smoothed"]["n_scored"] > 100
    assert again["smoothed"]["macro_f1"] == pytest.approx(
        block["test_streams"]["smoothed"]["macro_f1"], abs=1e-12)


def test_auto_says_why_it_chose_none_with_one_training_subject(tmp_path):
    path = bundled_hapt_parquet(tmp_path, ["1", TEST])
    cfg = make_config({
        "dataset": {"name": str(path), "sensors": "acc"},
        "evaluation": {"test_subjects": [TEST], "cv_folds": 2},
        "model": {"n_estimators": 2, "max_depth": 4},
        "postprocess": {"smoothing": "auto"},
    })
    block = train(cfg, tmp_path / "run")["postprocess"]
    assert block["description"] == "none"
    assert block["chosen_by"] == ("none: auto needs cross-validation on at least 2 training "
                                  "subjects (1 here)")
