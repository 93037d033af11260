"""The rejection's posture test: known tilts give known scores, calibration, run folder."""

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
from tinyhar.postprocess import OodModel, PostProcessor, PostureOodModel, Rejection
from tinyhar.predict import WINDOWS_FILE
from tinyhar.runfolder import POSTPROCESS_FILE, load_run

runner = CliRunner()
CLASSES = ["WALKING", "SITTING", "STANDING"]


def _gravity(deg) -> np.ndarray:
    """Unit gravity tilted by ``deg`` degrees from x towards z, shape (n, 3)."""
    t = np.radians(np.asarray(deg, dtype=np.float64))
    return np.column_stack([np.cos(t), np.zeros_like(t), np.sin(t)])


def _session(extra_deg=(), extra_class=2):
    """10 walking windows at 0 deg, 12 standing at 5 deg, 9 sitting at 25 deg, plus
    windows of ``extra_class`` at ``extra_deg`` (one-hot probabilities)."""
    tilt = np.r_[np.zeros(10), np.full(12, 5.0), np.full(9, 25.0), extra_deg]
    top = np.r_[np.zeros(10), np.full(12, 2), np.ones(9), np.full(len(extra_deg), extra_class)]
    return np.eye(3)[top.astype(int)], _gravity(tilt), top.astype(int)


def _rotation(axis, deg) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = np.radians(deg)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def test_known_tilts_give_the_known_posture_scores_and_turning_the_sensor_changes_none():
    # training session: tilts to the walking reference (0 deg): standing 5 (sd 0 + 1),
    # sitting 25 (sd 0 + 1)
    p, g, y = _session()
    model = PostureOodModel.fit(CLASSES, p, g, y, np.zeros(len(y)))
    np.testing.assert_allclose(model.means[1:], [25.0, 5.0], atol=1e-6)
    np.testing.assert_allclose(model.sds[1:], [1.0, 1.0])
    assert np.isnan(model.means[0])  # walking has no tilt model
    # a new session with one more standing window at 35 deg: its score is |35 - 5| / 1 = 30;
    # the sitting windows score |25 - 25| = 0; walking windows score 0
    p2, g2, _ = _session([35.0])
    score = model.score(p2, g2)
    np.testing.assert_allclose(score, np.r_[np.zeros(31), 30.0], atol=1e-6)
    # the same session read by a sensor turned arbitrarily: the same scores
    turned = g2 @ _rotation([0.3, -1.0, 0.5], 70.0).T
    np.testing.assert_allclose(model.score(p2, turned), score, atol=1e-6)
    # a session without walking has no reference: every score 0
    np.testing.assert_array_equal(model.score(p2[10:], g2[10:]), 0.0)
    # sessions are referenced separately: two copies, each with its own reference
    both = model.score(np.r_[p2, p2], np.r_[g2, turned], np.r_[np.zeros(32), np.ones(32)])
    np.testing.assert_allclose(both, np.r_[score, score], atol=1e-6)


def test_calibration_with_the_posture_test_rejects_the_stated_fraction():
    rng = np.random.default_rng(1)
    n = 4000
    top = rng.uniform(0.5, 1.0, n)
    ood = rng.chisquare(5, n)
    posture = np.where(rng.uniform(size=n) < 0.4, np.abs(rng.normal(size=n)), 0.0)
    for method in ("probability", "ood", "both"):
        rej = Rejection(method, 0.05, posture=True, posture_share=0.25)
        rej.calibrate(top, ood, posture)
        assert rej.posture_threshold > 0
        # each other test rejects the per-test rate r, the posture test a quarter of it
        r = (top < rej.proba_threshold).mean() if rej.uses_proba else (
            ood > rej.ood_threshold).mean()
        assert 0.05 / 2.25 - 1 / n <= r <= 0.05
        assert (posture > rej.posture_threshold).mean() == pytest.approx(0.25 * r, abs=2 / n)
        # the union rejects the stated fraction of the calibration windows
        union = (posture > rej.posture_threshold)
        if rej.uses_proba:
            union |= top < rej.proba_threshold
        if rej.uses_ood:
            union |= ood > rej.ood_threshold
        assert union.mean() == pytest.approx(0.05, abs=0.002), method


def test_posture_rejection_applies_round_trips_and_is_host_only():
    p, g, y = _session()
    model = PostureOodModel.fit(CLASSES, p, g, y, np.zeros(len(y)))
    rej = Rejection("probability", 0.05, posture=True, proba_threshold=0.2,
                    posture_threshold=3.0, posture_model=model)
    p2, g2, _ = _session([35.0, 6.0])  # standing at 35 deg (score 30) and at 6 deg (score 1)
    rejected = rej.reject(p2, None, g2)
    assert list(np.flatnonzero(rejected)) == [31]
    np.testing.assert_array_equal(rej.scores(p2, None, g2) > 1, rejected)
    state = json.loads(json.dumps(rej.to_dict()))
    assert state["posture_means"][0] is None and state["posture_threshold"] == 3.0
    back = Rejection.from_dict(state)
    np.testing.assert_allclose(back.scores(p2, None, g2), rej.scores(p2, None, g2))
    assert back.describe() == "reject(probability+posture,5%)"
    spec = PostProcessor(CLASSES, rejection=rej)
    assert not spec.streamable
    assert spec.apply_labels(p2, None, None, g2)[31] == "unknown"
    with pytest.raises(ConfigError, match="reject_posture"):
        from tinyhar.export.post import device_postprocess

        device_postprocess(spec)
    with pytest.raises(ConfigError, match="mean acceleration"):
        rej.reject(p2, None, None)
    with pytest.raises(ConfigError, match="SITTING or STANDING"):
        PostureOodModel(["a", "b"], [0, 0], [1, 1])
    with pytest.raises(ConfigError, match="needs a rejection"):
        Rejection("none", posture=True)
    with pytest.raises(ConfigError, match="reject_posture_share"):
        Rejection("ood", posture=True, posture_share=0.0)


def test_reject_posture_needs_a_rejection_in_the_config():
    from tinyhar.training import check_postprocess_config

    with pytest.raises(ConfigError, match="postprocess.reject to probability"):
        check_postprocess_config(make_config({"postprocess": {"reject_posture": True}}), True)
    with pytest.raises(ConfigError, match="streamable_only"):
        check_postprocess_config(make_config({"postprocess": {
            "reject": "ood", "reject_posture": True, "streamable_only": True}}), True)


@pytest.fixture(scope="module")
def posture_run(tmp_path_factory):
    return bundled_run(tmp_path_factory, "posture",
                       {"smoothing": "none", "reject": "ood", "reject_posture": True})


def test_a_trained_run_stores_the_posture_test_and_predict_applies_it(posture_run, tmp_path):
    out, metrics, held_out = posture_run
    state = json.loads((out / POSTPROCESS_FILE).read_text())["rejection"]
    assert state["posture"] is True and state["posture_threshold"] > 0
    classes = metrics["classes"]
    for name in ("SITTING", "STANDING"):
        i = classes.index(name)
        assert state["posture_sds"][i] >= 1.0 and state["posture_means"][i] is not None
    assert state["posture_means"][classes.index("WALKING")] is None
    block = metrics["postprocess"]
    assert block["description"].startswith("reject(ood+posture,5%)") and not block["streamable"]
    run = load_run(out)
    assert run.postprocess.rejection.uses_posture and not run.postprocess.streamable
    assert isinstance(run.postprocess.rejection.ood, OodModel)
    r = runner.invoke(app, ["predict", str(out), str(held_out), "--out", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    w = pd.read_parquet(tmp_path / "p" / WINDOWS_FILE)
    # every window over the OOD threshold is unknown; the posture test adds windows
    # called sitting or standing only
    over = w["ood_score"].to_numpy() > run.postprocess.rejection.ood_threshold
    unknown = w["unknown"].to_numpy()
    assert unknown[over].all()
    assert set(w["raw_class"][unknown & ~over]) <= {"SITTING", "STANDING"}
    # the model exports; its post-processing is refused with the reason (as for posture)
    r = runner.invoke(app, ["export", str(out), "--target", "c"])
    assert r.exit_code == 0, r.output
    assert "reject_posture false" in " ".join(r.output.split())
