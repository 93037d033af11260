"""Unknown activity: OOD score, calibration, unknown through the filters, and a trained run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.postprocess.runs import bundled_run
from tinyhar.cli import app
from tinyhar.config import make_config
from tinyhar.errors import ConfigError
from tinyhar.postprocess import OodModel, PostProcessor, Rejection, extend_proba
from tinyhar.postprocess.rejection import add_unknown_state
from tinyhar.predict import WINDOWS_FILE
from tinyhar.runfolder import POSTPROCESS_FILE, load_run

runner = CliRunner()


def test_ood_score_is_the_diagonal_mahalanobis_distance_to_the_nearest_class():
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    inv_var = np.array([[1.0, 0.25], [4.0, 1.0]])
    ood = OodModel(means, inv_var)
    x = np.array([[1.0, 2.0], [9.0, 1.0], [5.0, 0.0]])
    # by hand: class 0: 1 + 4*0.25 = 2; class 1: 4*1 + 1 = 5; third: min(25, 100) = 25
    np.testing.assert_allclose(ood.score(x), [2.0, 5.0, 25.0])


def test_ood_fit_floors_variances_and_ignores_constant_features():
    f = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [10.0, 3.0, 5.0], [10.0, 5.0, 5.0]])
    y = np.array([0, 0, 1, 1])
    ood = OodModel.fit(f, y, 2, var_floor=0.1)
    np.testing.assert_allclose(ood.means, [[1.0, 1.0, 5.0], [10.0, 4.0, 5.0]])
    overall = f.var(axis=0)
    floor = 0.1 * overall  # 2.075 and 0.275
    # class variances [1, 0] and [0, 1]: each floored at 0.1 x the overall variance
    np.testing.assert_allclose(ood.inv_var[0, :2], [1 / floor[0], 1 / floor[1]])
    np.testing.assert_allclose(ood.inv_var[1, :2], [1 / floor[0], 1.0])
    assert np.all(ood.inv_var[:, 2] == 0)  # constant over all windows: ignored


def test_calibration_rejects_the_stated_fraction_of_held_out_known_windows():
    rng = np.random.default_rng(0)
    top = rng.uniform(0.5, 1.0, 2000)  # the top probability of two classes
    ood = rng.chisquare(5, 2000)
    for method in ("probability", "ood", "both"):
        rej = Rejection(method, 0.05).calibrate(top, ood)
        if rej.uses_ood:
            rej.ood = OodModel(np.zeros((1, 1)), np.ones((1, 1)))
        proba = np.stack([top, 1 - top], axis=1)
        rate = rej.reject(proba, ood).mean()
        assert rate == pytest.approx(0.05, abs=0.002), method
        # score > 1 is the same decision
        np.testing.assert_array_equal(rej.scores(proba, ood) > 1, rej.reject(proba, ood))


def test_unknown_enters_the_filters_as_its_own_class_offline_and_streaming():
    classes = ["a", "b"]
    rej = Rejection("probability", 0.05, proba_threshold=0.6)
    p_a = [0.9, 0.1]
    unsure = [0.55, 0.45]
    proba = np.array([p_a] * 4 + [unsure] * 5 + [p_a] * 4 + [unsure] + [p_a] * 3)
    np.testing.assert_array_equal(extend_proba(proba[3:5], [False, True]),
                                  [[0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    spec = PostProcessor(classes, smoothing="mode", mode_k=3, rejection=rej)
    out = spec.apply(proba)
    # the five unsure windows are unknown (index 2), the isolated one is smoothed away
    assert list(out) == [0] * 4 + [2] * 5 + [0] * 8
    assert spec.out_classes == ["a", "b", "unknown"]
    stream = spec.stream()
    got = [c for c in (stream.push(p) for p in proba) if c is not None] + stream.flush()
    assert got == list(out)


def test_hmm_gets_an_unknown_state_and_round_trips_through_json():
    pi = np.array([0.5, 0.5, 0.0])
    a = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    b = np.array([[0.9, 0.05, 0.05], [0.1, 0.85, 0.05], [1 / 3, 1 / 3, 1 / 3]])
    pi2, a2, b2 = add_unknown_state(pi, a, b, 0)
    np.testing.assert_allclose(a2.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(a2)[:2], [0.9, 0.8])  # known stays kept
    assert a2[2, 2] == pytest.approx(0.85) and b2[2, 2] == pytest.approx(0.5)
    rng = np.random.default_rng(2)
    proba = rng.dirichlet([1, 1], 60)
    y = np.where(proba[:, 0] > 0.5, "a", "b").astype(object)
    rej = Rejection("probability", 0.1).calibrate(proba.max(axis=1))
    spec = PostProcessor(["a", "b"], smoothing="hmm", hmm_lag=2, rejection=rej)
    spec.fit(proba, y, np.zeros(60))
    assert spec.hmm.n_classes == 3
    again = PostProcessor.from_dict(json.loads(json.dumps(spec.to_dict())))
    np.testing.assert_array_equal(again.apply(proba), spec.apply(proba))
    assert again.describe() == spec.describe() == "reject(probability,10%)+hmm(fixed_lag=2)"


def test_rejection_errors_name_the_key():
    with pytest.raises(ConfigError, match="postprocess.reject"):
        Rejection("maybe")
    with pytest.raises(ConfigError, match="not calibrated"):
        PostProcessor(["a", "b"], rejection=Rejection("probability")).apply([[0.5, 0.5]])
    with pytest.raises(ConfigError, match="OOD scores"):
        Rejection("ood", ood_threshold=1.0, ood=OodModel([[0.0]], [[1.0]])).reject([[0.5, 0.5]])
    with pytest.raises(ConfigError, match="postprocess.false_rejection"):
        make_config({"postprocess": {"false_rejection": 0.9}})
    with pytest.raises(ConfigError, match="reject: probability"):
        from tinyhar.training import check_postprocess_config

        check_postprocess_config(
            make_config({"postprocess": {"reject": "ood"}, "model": {"kind": "cnn1d"}}), True
        )


@pytest.fixture(scope="module")
def reject_run(tmp_path_factory):
    return bundled_run(tmp_path_factory, "reject",
                       {"smoothing": "mode", "mode_k": 3, "reject": "both"}, cv_folds=4,
                       augment={"rotation": "random", "max_deg": 30, "copies": 1})


def test_a_trained_run_calibrates_stores_and_applies_the_rejection(reject_run, tmp_path):
    out, metrics, held_out = reject_run
    state = json.loads((out / POSTPROCESS_FILE).read_text())["rejection"]
    assert state["method"] == "both"
    assert state["proba_threshold"] > 0 and state["ood_threshold"] > 0
    n_features = metrics["n_features"]
    assert np.shape(state["ood_means"]) == np.shape(state["ood_inv_var"]) == (6, n_features)
    block = metrics["postprocess"]
    assert "ood_means" not in block["spec"]["rejection"]
    assert 0 < block["test_streams"]["rejected"] < 0.5
    # 6 training subjects calibrate a 5 % target; subject 7 differs more (measured 0.08)
    assert block["test_streams"]["unknown_by_label"]["known"]["rejected"] < 0.2
    r = runner.invoke(app, ["predict", str(out), str(held_out), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    w = pd.read_parquet(tmp_path / "p" / WINDOWS_FILE)
    run = load_run(out)
    classes = run.pipeline.classes
    proba = w[[f"p_{c}" for c in classes]].to_numpy()
    expected = run.postprocess.rejection.reject(proba, w["ood_score"].to_numpy())
    np.testing.assert_array_equal(w["unknown"].to_numpy(), expected)
    keys = (w["session"] + "/" + w["run"].astype(str)).to_numpy()
    smoothed = run.postprocess.apply_labels(proba, keys, w["ood_score"].to_numpy())
    assert list(w["smoothed_class"]) == list(smoothed)
    assert "unknown" in set(w["smoothed_class"])


def test_evaluate_continuous_reports_unknowns_on_unseen_spans(reject_run, shared_data_dir,
                                                                tmp_path):
    out, _, _ = reject_run
    zip_path = shared_data_dir / "HAPT Data Set.zip"
    written = tmp_path / "ev"
    r = runner.invoke(app, ["evaluate", str(out), "--dataset", "hapt-raw", "--path",
                            str(zip_path), "--subjects", "7", "--continuous", "--out",
                            str(written)])
    assert r.exit_code == 0, r.output
    m = json.loads((written / "continuous.json").read_text())
    assert m["postprocess"].startswith("reject(both,5%)+")
    by_label = m["unknown_by_label"]
    assert by_label["known"]["n"] == m["raw"]["n_scored"]
    # hapt-raw's postural transitions and pauses (unlabelled for a model of the basic
    # activities, never seen in training) are rejected far more often than known activities
    # (measured on subject 7 for this small model: 0.37 vs 0.08)
    assert by_label["unlabelled"]["rejected"] > 2 * by_label["known"]["rejected"]
    assert (written / "timeline_7.png").stat().st_size > 10_000
