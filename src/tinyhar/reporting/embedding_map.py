"""2-D maps of window embeddings, coloured by activity.

A map shows whether a network's embedding separates the activities: each
window is a point, projected from ``embedding_dim`` dimensions to 2 with PCA
(linear, fast, distances kept only along the main axes) or t-SNE (van der
Maaten & Hinton 2008, "Visualizing data using t-SNE", JMLR 9; keeps local
neighbourhoods, global distances and cluster sizes are not meaningful), both
from scikit-learn. Drawn with matplotlib's Agg renderer (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

METHODS = ("pca", "tsne")


def project_2d(
    embeddings: np.ndarray, method: str = "pca", seed: int = 0
) -> np.ndarray:
    """Project embeddings to 2-D.

    Parameters
    ----------
    embeddings : numpy.ndarray, shape (n_windows, embedding_dim)
    method : {"pca", "tsne"}
        ``tsne`` first reduces to 50 dimensions with PCA when the embedding is
        larger, and uses a perplexity of ``min(30, (n_windows - 1) / 3)`` and
        one thread (about 1 minute for 5000 windows).
    seed : int
        Random state of the projection.

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, 2)

    Raises
    ------
    TinyharError
        Unknown method, fewer than 3 windows, or a non 2-D array.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    E = np.asarray(embeddings, dtype=np.float64)
    if E.ndim != 2:
        raise TinyharError(f"embeddings must have shape (n_windows, embedding_dim), got {E.shape}")
    if len(E) < 3:
        raise TinyharError(f"an embedding map needs at least 3 windows, got {len(E)}")
    if method not in METHODS:
        raise TinyharError(f"unknown projection {method!r}: choose one of {', '.join(METHODS)}")
    if E.shape[1] == 1:
        E = np.hstack([E, np.zeros_like(E)])
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(E)
    if E.shape[1] > 50 and len(E) > 50:
        E = PCA(n_components=50, random_state=seed).fit_transform(E)
    perplexity = float(min(30.0, max(1.0, (len(E) - 1) / 3)))
    # one OpenMP thread: Barnes-Hut t-SNE slows down badly on busy (shared) cores
    with threadpool_limits(limits=1):
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=seed
        ).fit_transform(E)


def plot_embedding_map(
    embeddings: np.ndarray,
    labels: Any,
    path: str | Path,
    method: str = "pca",
    seed: int = 0,
    max_points: int = 5000,
    title: str | None = None,
    classes: Any = None,
) -> Path:
    """Draw a 2-D projection of embeddings coloured by class and save it as an image.

    Parameters
    ----------
    embeddings : numpy.ndarray, shape (n_windows, embedding_dim)
        One embedding per window (e.g. ``NeuralNetClassifier.embed(X)``).
    labels : array-like of str, shape (n_windows,)
        Activity of each window; one colour per distinct label.
    path : str or Path
        Output file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
        Parent folders are created.
    method : {"pca", "tsne"}
        Projection, see :func:`project_2d`.
    seed : int
        Random state of the subsample and the projection.
    max_points : int
        Windows beyond this are subsampled at random (t-SNE is quadratic).
    title : str, optional
        Figure title (default: the method and the number of windows).
    classes : sequence of str, optional
        The data set's declared class order (colours and legend follow it, as
        in the run's other figures); labels outside it follow, sorted.
        Default: sorted labels.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    TinyharError
        Mismatched lengths, unknown method, fewer than 3 windows.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    E = np.asarray(embeddings)
    y = np.asarray([str(v) for v in np.asarray(labels).tolist()], dtype=object)
    if E.ndim != 2 or len(E) != len(y):
        raise TinyharError(
            f"{len(y)} labels for embeddings of shape {E.shape}: give one label per window"
        )
    if len(E) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(E), max_points, replace=False))
        E, y = E[keep], y[keep]
    xy = project_2d(E, method=method, seed=seed)

    fig = Figure(figsize=(7, 6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    present = set(y.tolist())
    declared = [str(c) for c in classes or () if str(c) in present]
    classes = declared + sorted(present - set(declared))
    cmap = colormaps["tab10" if len(classes) <= 10 else "tab20"]
    for i, c in enumerate(classes):
        m = y == c
        ax.scatter(
            xy[m, 0], xy[m, 1], s=6, alpha=0.7, color=cmap(i % cmap.N),
            label=f"{c} ({int(m.sum())})", linewidths=0,
        )
    name = {"pca": "PCA", "tsne": "t-SNE"}[method]
    ax.set_title(title or f"Embedding map ({name}, {len(E)} windows)")
    ax.set_xlabel(f"{name} 1")
    ax.set_ylabel(f"{name} 2")
    ax.legend(loc="best", fontsize=8, markerscale=2, frameon=False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out
