"""Forward shapes, parameter and MAC counts of every network body."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from tinyhar.errors import TinyharError  # noqa: E402
from tinyhar.models.nn import architectures as arch  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as the estimator uses: tiny ops on busy shared cores stall otherwise."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def config(architecture: str, **kw) -> dict:
    base = {
        "architecture": architecture,
        "n_channels": 3,
        "n_classes": 4,
        "hidden_units": 8,
        "n_layers": 2,
        "kernel_size": 3,
        "dropout": 0.1,
        "dense_units": 0,
        "input_dense_units": 0,
    }
    return {**base, **kw}


@pytest.mark.parametrize("name", arch.ARCHITECTURES)
@pytest.mark.parametrize("dense_units", [0, 12])
def test_forward_and_embedding_shapes(name, dense_units):
    torch.manual_seed(0)
    net = arch.build_network(config(name, dense_units=dense_units)).eval()
    x = torch.randn(5, 32, 3)
    with torch.no_grad():
        logits = net(x)
        emb = net.embed(x)
    assert logits.shape == (5, 4)
    expected_dim = dense_units or (16 if name == "bilstm" else 8)
    assert emb.shape == (5, expected_dim) == (5, net.embedding_dim)
    n = arch.count_parameters(net)
    assert n == sum(p.numel() for p in net.parameters()) > 0
    assert arch.count_macs(net, 32, 3) > 0


def test_lstm_counts_match_hand_computation():
    # Chevalier-style: dense 9->32 ReLU, 2 LSTM layers of 32, linear head to 6
    net = arch.build_network(
        config("lstm", n_channels=9, n_classes=6, hidden_units=32, input_dense_units=32,
               dropout=0.0)
    )
    lstm_layer = 4 * (32 * 32 + 32 * 32) + 8 * 32  # two weight matrices and two biases
    assert arch.count_parameters(net) == (9 * 32 + 32) + 2 * lstm_layer + (32 * 6 + 6)
    T = 128
    macs = T * 9 * 32 + 2 * T * 4 * (32 * 32 + 32 * 32) + 32 * 6
    assert arch.count_macs(net, T, 9) == macs


def test_bilstm_and_conv_macs():
    net = arch.build_network(
        config("bilstm", hidden_units=4, n_layers=1, dense_units=5, n_classes=2)
    )
    T = 10
    assert arch.count_macs(net, T, 3) == T * 2 * 4 * (3 * 4 + 4 * 4) + 8 * 5 + 5 * 2
    cnn = arch.build_network(
        config("cnn1d", hidden_units=(4, 6), n_layers=2, kernel_size=3, n_classes=2)
    )
    # conv1 on 16 samples, pool to 8, conv2 on 8 samples, head 6->2
    assert arch.count_macs(cnn, 16, 3) == 16 * 4 * 3 * 3 + 8 * 6 * 4 * 3 + 6 * 2


def test_tcn_is_causal_and_reports_receptive_field():
    torch.manual_seed(0)
    net = arch.build_network(config("tcn", n_layers=3, kernel_size=3, dropout=0.0)).eval()
    assert net.body.receptive_field == 1 + 2 * 2 * (2**3 - 1)
    x = torch.randn(1, 40, 3)
    y = x.clone()
    y[:, 0, :] += 5.0  # outside the 29-sample receptive field of the last step
    with torch.no_grad():
        assert torch.allclose(net.embed(x), net.embed(y))
        z = x.clone()
        z[:, -1, :] += 5.0
        assert not torch.allclose(net.embed(x), net.embed(z))


def test_scaling_is_part_of_the_network():
    net = arch.build_network(config("cnn1d")).eval()
    x = torch.randn(2, 16, 3)
    net.scaling.set_statistics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert torch.allclose(net.scaling(x), (x - torch.tensor([1.0, 2.0, 3.0])) / 2.0)


def test_unknown_architecture_and_bad_widths():
    with pytest.raises(TinyharError, match="unknown architecture"):
        arch.build_network(config("transformer"))
    with pytest.raises(TinyharError, match="one width per layer"):
        arch.build_network(config("cnn1d", hidden_units=(4, 8, 16), n_layers=2))
