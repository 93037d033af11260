"""ONNX float32/int8 export of the small networks, checked against PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tinyhar.errors import TinyharError  # noqa: E402
from tinyhar.export.onnx import CalibrationLeakageWarning, export_onnx, run_onnx  # noqa: E402
from tinyhar.models.nn import NeuralNetClassifier  # noqa: E402


def synthetic(n=150, T=32, C=3, seed=0):
    """Noise, slow sine and fast sine windows from 5 subjects, with a channel offset."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / T
    c = rng.integers(3, size=n)
    X = rng.normal(0, 0.3, (n, T, C)) + np.array([1.0, 0.0, -0.5])[:C]
    phase = rng.uniform(0, 2 * np.pi, n)
    freq = np.where(c == 1, 2, 6)
    X += ((c > 0)[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None]))[:, :, None]
    y = np.array(["still", "slow", "fast"], dtype=object)[c]
    g = np.array([f"s{i % 5}" for i in range(n)], dtype=object)
    return X.astype(np.float32), y, g


@pytest.fixture(scope="module")
def data():
    return synthetic(), synthetic(n=45, seed=1)


def fit(arch, data, **kw):
    (X, y, g), _ = data
    params = dict(architecture=arch, hidden_units=8, n_layers=2, epochs=6, batch_size=32,
                  lr=5e-3, seed=0, **kw)
    return NeuralNetClassifier(**params).fit(X, y, groups=g)


def test_cnn_export_float32_matches_torch_and_int8_reports(data, tmp_path):
    net = fit("cnn1d", data, dense_units=8, input_stats=True)
    (X, _, _), (Xt, yt, _) = data
    report = export_onnx(net, tmp_path, X, Xt, yt)
    assert (tmp_path / "model_float32.onnx").exists() and (tmp_path / "model_int8.onnx").exists()
    assert report["float32_class_mismatches"] == 0
    assert report["float32_max_abs_prob_diff"] < 1e-4
    assert report["n_check"] == 45 and report["n_calibration_windows"] == 150
    assert report["input_shape"] == [None, 32, 3]
    assert {"Conv", "Gemm"} & set(report["int8_op_types_quantized"])
    assert report["int8_op_types_float"] == []
    assert report["int8_bytes"] > 0 and report["float32_bytes"] > 0
    # 150 windows, no more than n_calibration: min-max only, no selection
    assert report["int8_calibration"] == "minmax" and report["int8_calibration_agreement"] == {}
    # more windows than n_calibration: both calibrations judged on the other windows
    report = export_onnx(net, tmp_path, X, Xt, yt, n_calibration=64)
    assert report["n_calibration_windows"] == 64
    agreement = report["int8_calibration_agreement"]
    assert set(agreement) == {"minmax", "percentile"}
    assert report["int8_calibration"] == max(agreement, key=lambda m: (agreement[m], m == "minmax"))
    assert all(0.0 <= v <= 1.0 for v in agreement.values())
    assert sorted(p.name for p in tmp_path.glob("*.onnx")) == [
        "model_float32.onnx",
        "model_int8.onnx",
    ]
    for key in ("torch_accuracy", "float32_accuracy", "int8_accuracy"):
        assert 0.0 <= report[key] <= 1.0
    assert report["float32_accuracy"] == report["torch_accuracy"]
    assert report["int8_accuracy_change_points"] == pytest.approx(
        100 * (report["int8_accuracy"] - report["float32_accuracy"])
    )
    # the scaling is in the graph: raw windows in, probabilities out
    p = run_onnx(report["float32_path"], Xt[:7])
    np.testing.assert_allclose(p, net.predict_proba(Xt[:7]), atol=1e-5)
    meta = {m.key: m.value for m in onnx.load(report["int8_path"]).metadata_props}
    assert json.loads(meta["tinyhar.classes"]) == ["fast", "slow", "still"]


def test_onnx_outputs_follow_the_declared_class_order(data, tmp_path):
    """probabilities in the data set's order (still, slow, fast), not the sorted classes_."""
    net = fit("cnn1d", data, dense_units=8)
    (X, _, _), (Xt, yt, _) = data
    declared = ["still", "slow", "fast"]
    report = export_onnx(net, tmp_path, X, Xt, yt, classes=declared)
    assert report["classes"] == declared and report["float32_class_mismatches"] == 0
    assert report["float32_accuracy"] == report["torch_accuracy"]
    cols = [list(net.classes_).index(c) for c in declared]
    np.testing.assert_allclose(run_onnx(report["float32_path"], Xt[:7]),
                               net.predict_proba(Xt[:7])[:, cols], atol=1e-5)
    meta = {m.key: m.value for m in onnx.load(report["int8_path"]).metadata_props}
    assert json.loads(meta["tinyhar.classes"]) == declared
    with pytest.raises(TinyharError, match="not the network's classes"):
        export_onnx(net, tmp_path, X, classes=["still", "slow"])


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_recurrent_export_keeps_recurrent_ops_float(arch, data, tmp_path):
    net = fit(arch, data, n_threads=1, max_steps=12)
    (X, _, _), (Xt, yt, _) = data
    report = export_onnx(net, tmp_path, X[:40], Xt, yt)
    assert report["float32_class_mismatches"] == 0
    assert report["float32_max_abs_prob_diff"] < 1e-4
    assert arch.upper() in report["int8_op_types_float"]
    assert any(arch.upper() in note for note in report["int8_notes"])
    # batch sizes other than the export's dummy batch of 2
    for n in (1, 5):
        assert run_onnx(report["int8_path"], Xt[:n]).shape == (n, 3)


def test_export_errors_and_leakage_warning(data, tmp_path):
    (X, _, g), (Xt, _, gt) = data
    with pytest.raises(TinyharError, match="trained"):
        export_onnx(NeuralNetClassifier(), tmp_path, X)
    net = fit("tcn", data, max_steps=2)
    with pytest.raises(TinyharError, match="channels"):
        export_onnx(net, tmp_path, X[:, :, :2])
    with pytest.warns(CalibrationLeakageWarning):
        report = export_onnx(net, tmp_path, X, calibration_subjects=g, check_subjects=g[:3])
    assert "n_check" not in report
