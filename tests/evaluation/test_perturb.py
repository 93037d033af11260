"""Perturbations of sensor windows and ``tinyhar robustness`` ("can you trick this model?").

Known answers on synthetic windows, parity with ``evaluate`` for the identity
perturbations, and an end-to-end CLI run on three bundled HAPT subjects.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from typer.testing import CliRunner

from tests.helpers import bundled_hapt_parquet
from tinyhar.cli import app
from tinyhar.config import make_config
from tinyhar.errors import EvaluationError
from tinyhar.evaluation.perturb import (
    add_noise,
    flip_sign,
    gain,
    offset,
    perturbations,
    rate_mismatch,
    rotate,
    rotation_matrices,
    swap_axes,
)
from tinyhar.robustness import robustness_scores
from tinyhar.runfolder import load_run
from tinyhar.training import evaluate_run, train

CH6 = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
CH3 = ["acc_x", "acc_y", "acc_z"]


def ramp(n_windows=2, n_samples=8, n_channels=6, seed=0) -> np.ndarray:
    """Random float32 windows (n_windows, n_samples, n_channels)."""
    return np.random.default_rng(seed).normal(size=(n_windows, n_samples, n_channels)).astype(
        np.float32
    )


def test_rotation_by_90_degrees_about_z_maps_x_y_z_to_minus_y_x_z():
    X = ramp()
    out = rotate(X, CH6, rotation_matrices(90, "z"))
    for s in (0, 3):  # accelerometer and gyroscope rotated together
        np.testing.assert_allclose(out[..., s], -X[..., s + 1], atol=1e-6)
        np.testing.assert_allclose(out[..., s + 1], X[..., s], atol=1e-6)
        np.testing.assert_allclose(out[..., s + 2], X[..., s + 2], atol=1e-6)
    # gravity on z stays on z; gravity on x goes to y
    g = np.zeros((1, 1, 3), np.float32)
    g[..., 0] = 1
    rot = rotate(g, CH3, rotation_matrices(90, "z"))
    np.testing.assert_allclose(rot[0, 0], [0, 1, 0], atol=1e-7)
    rot = rotate(g, CH3, rotation_matrices(90, "y"))
    np.testing.assert_allclose(rot[0, 0], [0, 0, -1], atol=1e-7)


def test_rotations_keep_norms_and_zero_and_random_ones_differ_per_window():
    X = ramp(n_windows=5)
    np.testing.assert_array_equal(rotate(X, CH6, rotation_matrices(0, "x")), X)
    m = rotation_matrices(0, "random", n_windows=5, seed=3)
    assert m.shape == (5, 3, 3)
    np.testing.assert_allclose(m, rotation_matrices(0, "random", n_windows=5, seed=3))
    out = rotate(X, CH6, m)
    for s in (slice(0, 3), slice(3, 6)):
        np.testing.assert_allclose(
            np.linalg.norm(out[..., s], axis=-1), np.linalg.norm(X[..., s], axis=-1), rtol=1e-5
        )
    np.testing.assert_allclose(out[2, :, :3], X[2, :, :3] @ m[2].T, atol=1e-5)
    np.testing.assert_allclose(m[1], Rotation.random(5, random_state=3).as_matrix()[1])
    with pytest.raises(EvaluationError, match="rotation axis"):
        rotation_matrices(10, "w")


def test_gain_offset_swap_flip_on_known_arrays():
    X = np.arange(2 * 3 * 6, dtype=np.float32).reshape(2, 3, 6)
    np.testing.assert_allclose(gain(X, CH6, 1.1), X * np.float32(1.1))
    o = offset(X, CH6, 0.05, "z")
    np.testing.assert_allclose(o[..., 2], X[..., 2] + 0.05)
    np.testing.assert_array_equal(np.delete(o, 2, axis=2), np.delete(X, 2, axis=2))
    s = swap_axes(X, CH6, "x", "y")
    np.testing.assert_array_equal(s[..., [0, 1, 2, 3, 4, 5]], X[..., [1, 0, 2, 4, 3, 5]])
    f = flip_sign(X, CH6, "y")
    np.testing.assert_array_equal(f[..., [1, 4]], -X[..., [1, 4]])
    np.testing.assert_array_equal(f[..., [0, 2, 3, 5]], X[..., [0, 2, 3, 5]])
    assert X[0, 0, 1] == 1  # the input is never changed
    with pytest.raises(EvaluationError, match="acc_z"):
        offset(X[..., :2], ["acc_x", "acc_y"], 0.05, "z")


def test_noise_has_the_stated_deviation_on_one_sensor_and_zero_is_identity():
    X = np.zeros((50, 100, 6), np.float32)
    np.testing.assert_array_equal(add_noise(X, CH6, 0.0), X)
    n = add_noise(X, CH6, 0.05, "gyro", seed=1)
    assert np.all(n[..., :3] == 0)
    assert abs(n[..., 3:].std() - 0.05) < 0.002  # 15 000 samples: std error ~ 0.0003
    np.testing.assert_array_equal(n, add_noise(X, CH6, 0.05, "gyro", seed=1))


def test_rate_mismatch_stretches_a_sine_by_the_rate_error():
    rate, f0, n = 50.0, 2.0, 128
    t = np.arange(n) / rate
    X = np.sin(2 * np.pi * f0 * t)[None, :, None].astype(np.float32)
    np.testing.assert_array_equal(rate_mismatch(X, 0.0), X)
    for err in (-0.1, 0.1):
        out = rate_mismatch(X, err)
        assert out.shape == X.shape
        spectrum = np.abs(np.fft.rfft(out[0, :, 0] * np.hanning(n), 8 * n))
        peak_hz = np.argmax(spectrum) * rate / (8 * n)
        # a sensor 10 % fast records the 2 Hz motion as 2 / 1.1 Hz at the assumed rate
        assert peak_hz == pytest.approx(f0 / (1 + err), abs=0.05)
    with pytest.raises(EvaluationError, match="-0.5"):
        rate_mismatch(X, -0.6)


def test_the_catalogue_has_every_perturbation_the_issue_asks_for():
    cat = perturbations(CH6, n_windows=4)
    keys = {(p.perturbation, p.parameter, p.axis) for p in cat}
    for axis in "xyz":
        for angle in (0, 20, 45, 90, 180):
            assert ("rotation", angle, axis) in keys
    for key in [("rotation", None, "random"), ("gain", 0.9, None), ("gain", 1.1, None),
                ("offset", 0.05, "z"), ("rate", -0.1, None), ("rate", 0.1, None),
                ("noise_acc", 0.01, None), ("noise_acc", 0.05, None),
                ("noise_gyro", 0.05, None), ("swap", None, "x<->y"), ("flip", None, "x")]:
        assert key in keys
    assert not any(p.perturbation == "noise_gyro" for p in perturbations(CH3, 4))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Trees on bundled HAPT subjects 1-3, tested on subject 3."""
    data = bundled_hapt_parquet(tmp_path_factory.mktemp("data"), ["1", "2", "3"])
    cfg = make_config(
        {
            "dataset": {"name": str(data)},
            "evaluation": {"test_subjects": ["3"], "cv_folds": 2},
            "model": {"n_estimators": 4, "max_depth": 6},
        }
    )
    out = tmp_path_factory.mktemp("runs") / "trees"
    train(cfg, out)
    return out, data


def test_identity_perturbations_reproduce_evaluate(small_run):
    out, data = small_run
    ev = evaluate_run(out, str(data))
    res = robustness_scores(out)
    assert res["subjects"] == ev["subjects"] == ["3"]
    assert res["excluded_training_subjects"] == ["1", "2"]
    assert res["n_windows"] == ev["n_windows"]
    ident = [r for r in res["rows"] if r["perturbation"] == "none"
             or (r["perturbation"] == "rotation" and r["parameter"] == 0)]
    assert len(ident) == 4
    for r in ident:
        assert r["macro_f1"] == pytest.approx(ev["macro_f1"], abs=1e-12)
        assert r["accuracy"] == pytest.approx(ev["accuracy"], abs=1e-12)
        for c, f1 in r["per_class_f1"].items():
            assert f1 == pytest.approx(ev["per_class"][c]["f1"], abs=1e-12)


def test_cli_robustness_writes_rows_and_keeps_the_run_folder_valid(small_run, tmp_path):
    out, _ = small_run
    runner = CliRunner()
    result = runner.invoke(app, ["robustness", str(out)])
    assert result.exit_code == 0, result.output
    assert "rotation 90 z" in result.output
    written = json.loads((out / "robustness" / "robustness.json").read_text())
    assert (out / "robustness" / "robustness.png").stat().st_size > 1000
    rows = written["rows"]
    assert set(rows[0]) == {"perturbation", "parameter", "axis", "macro_f1", "accuracy",
                            "per_class_f1"}
    assert len(rows) == len(perturbations(written["channels"], written["n_windows"]))
    classes = load_run(out).pipeline.classes  # the folder still verifies
    assert all(list(r["per_class_f1"]) == list(classes) for r in rows)
    assert all(0 <= r["macro_f1"] <= 1 for r in rows)

    other = tmp_path / "rob"
    result = runner.invoke(app, ["robustness", str(out), "--out", str(other), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads((other / "robustness.json").read_text())["rows"] == rows

    result = runner.invoke(app, ["robustness", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "error:" in result.output
