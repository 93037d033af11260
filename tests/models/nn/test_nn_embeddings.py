"""Embeddings as features, fused features, the embeddings table and the embedding map."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from tinyhar.core.windowset import WindowSet  # noqa: E402
from tinyhar.errors import TinyharError  # noqa: E402
from tinyhar.models.nn import (  # noqa: E402
    EmbeddingFeatures,
    FusedFeatures,
    NeuralNetClassifier,
    embeddings_frame,
)
from tinyhar.reporting.embedding_map import plot_embedding_map  # noqa: E402


def synthetic(n=120, T=32, C=3, seed=0):
    """Noise, slow sine and fast sine windows from 4 subjects."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / T
    c = rng.integers(3, size=n)
    X = rng.normal(0, 0.3, (n, T, C))
    phase = rng.uniform(0, 2 * np.pi, n)
    freq = np.where(c == 1, 2, 6)
    X += ((c > 0)[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None]))[:, :, None]
    y = np.array(["still", "slow", "fast"], dtype=object)[c]
    g = np.array([f"s{i % 4}" for i in range(n)], dtype=object)
    return X.astype(np.float32), y, g


def stats(X):
    X = getattr(X, "X", X)
    return np.hstack([X.mean(axis=1), X.std(axis=1)])


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def net(data):
    X, y, g = data
    return NeuralNetClassifier(hidden_units=8, n_layers=2, dense_units=6, epochs=6, lr=5e-3,
                               batch_size=32, seed=0).fit(X, y, groups=g)


def test_embedding_features_uses_a_fitted_network_as_is(net, data):
    X = data[0]
    emb = EmbeddingFeatures(net).fit(X)
    assert emb.estimator_ is net
    out = emb.transform(X)
    assert out.shape == (len(X), 6)
    np.testing.assert_array_equal(out, net.embed(X))
    assert list(emb.get_feature_names_out()) == [f"emb_{i}" for i in range(6)]


def test_embedding_features_trains_an_unfitted_network(data):
    X, y, g = data
    emb = EmbeddingFeatures(NeuralNetClassifier(hidden_units=4, n_layers=1, max_steps=2))
    out = emb.fit(X, y, groups=g).transform(X)
    assert out.shape == (len(X), 4)
    with pytest.raises(TinyharError, match="no labels"):
        EmbeddingFeatures(NeuralNetClassifier()).fit(X)


def test_fused_features_feed_a_tree_classifier(net, data):
    X, y, g = data
    fused = FusedFeatures(FunctionTransformer(stats), EmbeddingFeatures(net))
    Z = fused.fit(X, y).transform(X)
    assert Z.shape == (len(X), 6 + 6)
    assert fused.n_hand_features_ == 6 and fused.n_embedding_features_ == 6
    names = fused.get_feature_names_out()
    assert len(names) == 12 and names[-1] == "emb_5"
    clf = make_pipeline(
        FusedFeatures(FunctionTransformer(stats), EmbeddingFeatures(net)),
        RandomForestClassifier(n_estimators=10, random_state=0),
    ).fit(X, y)
    Xt, yt, _ = synthetic(n=60, seed=3)
    assert (clf.predict(Xt) == yt).mean() > 0.8


def test_embeddings_frame_has_one_row_per_window(net, data):
    X, y, g = data
    ws = WindowSet(X, y, g, np.array(["a"] * len(X)), np.full(len(X), np.nan),
                   ["acc_x", "acc_y", "acc_z"], 20.0, ["fast", "slow", "still"])
    df = embeddings_frame(net, ws)
    assert list(df.columns[:3]) == ["subject", "session", "label"]
    assert df.shape == (len(X), 3 + 6)
    assert df["label"].tolist() == list(y)
    np.testing.assert_allclose(df[[f"emb_{i}" for i in range(6)]].to_numpy(), net.embed(X))
    bare = embeddings_frame(net, X[:5])
    assert bare["subject"].tolist() == [""] * 5
    with pytest.raises(TinyharError, match="trained"):
        embeddings_frame(NeuralNetClassifier(), X)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_embedding_map_png(net, data, tmp_path, method):
    X, y, _ = data
    path = plot_embedding_map(net.embed(X), y, tmp_path / "maps" / f"{method}.png",
                              method=method, seed=0)
    assert path.exists()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_embedding_map_errors(tmp_path):
    with pytest.raises(TinyharError, match="labels"):
        plot_embedding_map(np.zeros((5, 2)), ["a"] * 4, tmp_path / "x.png")
    with pytest.raises(TinyharError, match="unknown projection"):
        plot_embedding_map(np.zeros((5, 2)), ["a"] * 5, tmp_path / "x.png", method="umap")
