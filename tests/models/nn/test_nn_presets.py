"""Tutorial presets: content, estimator construction, network sizes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tinyhar.errors import ConfigError
from tinyhar.models.nn import PRESETS, NeuralNetClassifier, get_preset, make_estimator


def test_presets_document_source_protocol_and_windowing():
    assert {"wisdm-bilstm", "ucihar-lstm", "small-cnn"} <= set(PRESETS)
    for p in PRESETS.values():
        assert p.source and p.original_protocol and p.reported
        assert p.window["n_samples"] > 0 and p.window["hop"] > 0
    wisdm = get_preset("wisdm-bilstm")
    assert (wisdm.window["n_samples"], wisdm.window["hop"]) == (200, 40)
    assert "users 1-30" in wisdm.original_protocol
    assert "random 80/20" in get_preset("ucihar-lstm").original_protocol


def test_make_estimator_applies_preset_and_overrides():
    m = make_estimator("wisdm-bilstm", epochs=2)
    assert isinstance(m, NeuralNetClassifier)
    assert (m.architecture, m.hidden_units, m.dropout, m.dense_units) == ("bilstm", 128, 0.5, 128)
    assert (m.epochs, m.batch_size) == (2, 32)
    lstm = make_estimator("ucihar-lstm")
    assert (lstm.lr, lstm.weight_decay, lstm.batch_size, lstm.epochs) == (0.0025, 0.0015, 1024, 50)
    assert (lstm.input_dense_units, lstm.hidden_units, lstm.n_layers) == (32, 32, 2)


def test_unknown_preset_or_parameter():
    with pytest.raises(ConfigError, match="ucihar-lstm"):
        make_estimator("resnet")
    with pytest.raises(ConfigError, match="parameter.learning_rate: not a network parameter"):
        make_estimator("small-cnn", learning_rate=0.1)


def test_network_params_schema_matches_the_estimator():
    """One list of parameters: the checker knows exactly the estimator's parameters."""
    from tinyhar.models.nn.presets import NetworkParams, check_network_params

    assert set(NetworkParams.model_fields) == set(NeuralNetClassifier().get_params())
    defaults = NeuralNetClassifier().get_params()
    assert NetworkParams().model_dump() == defaults
    for preset in PRESETS.values():
        check_network_params(preset.estimator_params)


@pytest.mark.parametrize(
    "name, value",
    [("epochs", "banana"), ("epochs", 0), ("epochs", True), ("lr", -1), ("lr", float("nan")),
     ("hidden_units", 0), ("hidden_units", []), ("hidden_units", [8, 0]), ("dropout", 1.0),
     ("lr_schedule", "linear"), ("augment_groups", [[0, 1]]), ("patience", 0),
     ("validation_fraction", 1), ("seed", -1), ("architecture", "resnet")],
)
def test_bad_network_parameter_values(name, value):
    from tinyhar.models.nn.presets import check_network_params

    with pytest.raises(ConfigError, match=rf"model\.params\.{name}"):
        check_network_params({name: value})
    with pytest.raises(ConfigError, match=rf"parameter\.{name}"):
        make_estimator("small-cnn", **{name: value})


def test_package_import_does_not_import_torch():
    code = (
        "import sys, tinyhar.models.nn, tinyhar.export, tinyhar.reporting.embedding_map; "
        "tinyhar.models.nn.make_estimator('small-cnn'); "
        "assert 'torch' not in sys.modules and 'onnx' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("name", "n_channels", "n_samples", "expected"),
    [
        # dense 9->32, two LSTM(32) layers (4 gates, 2 bias vectors each), head 32->6
        ("ucihar-lstm", 9, 128, (9 * 32 + 32) + 2 * (4 * 2 * 32 * 32 + 8 * 32) + 32 * 6 + 6),
        # BiLSTM(128) on 3 axes, dense 256->128, head 128->6
        ("wisdm-bilstm", 3, 200, 2 * (4 * (3 * 128 + 128 * 128) + 8 * 128) + 256 * 128 + 128
         + 128 * 6 + 6),
    ],
)
def test_preset_network_sizes(name, n_channels, n_samples, expected):
    pytest.importorskip("torch")
    from tinyhar.models.nn.architectures import build_network, count_parameters

    params = get_preset(name).estimator_params
    net = build_network({**params, "n_channels": n_channels, "n_classes": 6,
                         "kernel_size": params.get("kernel_size", 5)})
    assert count_parameters(net) == expected


@pytest.mark.parametrize("name", ["small-cnn", "ucihar-cnn"])
def test_small_cnns_are_under_100k_parameters(name):
    pytest.importorskip("torch")
    from tinyhar.models.nn.architectures import build_network, count_parameters

    params = get_preset(name).estimator_params
    net = build_network({**params, "n_channels": 9, "n_classes": 6, "input_dense_units": 0})
    assert count_parameters(net) <= 100_000


def test_ucihar_cnn_rotates_the_three_sensor_triplets_of_its_channels():
    p = get_preset("ucihar-cnn")
    assert p.estimator_params["augment_groups"] == "xyz"  # consecutive triplets
    channels = p.window["channels"]
    names = [channels[i : i + 3] for i in range(0, len(channels), 3)]
    assert len(names) == 3
    assert [[n[-1] for n in grp] for grp in names] == [["x", "y", "z"]] * 3
    assert all(len({n[:-2] for n in grp}) == 1 for grp in names)
    assert p.estimator_params["augment_rotation"] > 0
    assert p.estimator_params["validation_fraction"] == 0.0


def test_missing_torch_gives_install_hint(monkeypatch):
    import numpy as np

    from tinyhar.errors import TinyharError

    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    X = np.zeros((20, 16, 3), np.float32)
    y = np.array(["a", "b"] * 10)
    with pytest.raises(TinyharError, match=r"pip install 'tinyhar\[deep\]'"):
        NeuralNetClassifier().fit(X, y)
    from tinyhar.export.onnx import export_onnx

    with pytest.raises(TinyharError, match=r"pip install 'tinyhar\[deep\]'"):
        export_onnx(NeuralNetClassifier(), "unused", X)
