"""Figures written into every run folder (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinyhar.windows.windowset import WindowSet  # noqa: E402


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Draw a confusion matrix with counts and row-normalised colours.

    Parameters
    ----------
    matrix : array_like of int, shape (n_classes, n_classes)
        Rows are true classes, columns predicted classes.
    classes : sequence of str
    path : str or Path
        Output PNG.
    title : str
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    cm = np.asarray(matrix)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(2.5 + 1.0 * n, 1.5 + 0.8 * n))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ConfusionMatrixDisplay(cm, display_labels=list(classes)).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45, values_format="d"
    )
    ax.images[0].set_data(norm)
    ax.images[0].set_clim(0, 1)
    ax.set_title(title or "Confusion matrix (test subjects)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_feature_importance(
    importances: np.ndarray, names: Sequence[str], path: str | Path, top: int = 25
) -> Path:
    """Horizontal bar chart of the ``top`` most important features.

    Parameters
    ----------
    importances : numpy.ndarray, shape (n_features,)
        E.g. mean decrease in impurity.
    names : sequence of str, length n_features
    path : str or Path
        Output PNG.
    top : int
        Number of features shown.
    """
    importances = np.asarray(importances, dtype=float)
    order = np.argsort(importances)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(order) + 1.2))
    ax.barh([names[i] for i in order], importances[order], color="tab:blue")
    ax.set_xlabel("mean decrease in impurity")
    ax.set_title(f"Top {len(order)} features")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_class_overview(
    windows: WindowSet, path: str | Path, per_class: int = 3, seed: int = 0
) -> Path:
    """A few example windows per class: what each activity looks like.

    One row per class, one column per example; each panel shows the
    accelerometer axes (g) and, on a second axis, the gyroscope axes (rad/s).

    Parameters
    ----------
    windows : WindowSet
    path : str or Path
        Output PNG.
    per_class : int
        Examples per class (random, reproducible with ``seed``).
    """
    classes = [c for c in windows.classes if np.any(windows.y == c)]
    rng = np.random.default_rng(seed)
    t = np.arange(windows.n_samples) / windows.sampling_rate_hz
    acc = [i for i, c in enumerate(windows.channels) if c.startswith("acc_")]
    gyro = [i for i, c in enumerate(windows.channels) if c.startswith("gyro_")]
    other = [i for i in range(len(windows.channels)) if i not in acc and i not in gyro]
    fig, axes = plt.subplots(
        len(classes),
        per_class,
        figsize=(3.2 * per_class, 1.7 * len(classes) + 0.6),
        squeeze=False,
        sharex=True,
    )
    for r, c in enumerate(classes):
        idx = np.flatnonzero(windows.y == c)
        pick = rng.choice(idx, size=min(per_class, idx.size), replace=False)
        for k in range(per_class):
            ax = axes[r, k]
            if k >= pick.size:
                ax.axis("off")
                continue
            w = windows.X[pick[k]]
            for i in acc + other:
                ax.plot(t, w[:, i], lw=0.8, label=windows.channels[i])
            if gyro:
                ax2 = ax.twinx()
                for i in gyro:
                    ax2.plot(t, w[:, i], lw=0.6, ls="--", label=windows.channels[i])
                ax2.tick_params(labelsize=6)
            ax.tick_params(labelsize=6)
            if k == 0:
                ax.set_ylabel(c, fontsize=8)
            ax.set_title(f"subject {windows.subject[pick[k]]}", fontsize=7)
    handles, labels = [], []
    for a in fig.axes[: per_class * len(classes)] + fig.axes[per_class * len(classes) :][:1]:
        for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower right", fontsize=7, ncol=len(labels))
    fig.suptitle(
        "Example windows per class (solid: acceleration in g; dashed: gyro in rad/s)", fontsize=9
    )
    fig.supxlabel("time (s)", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_training_curves(history: Sequence[dict], path: str | Path) -> Path:
    """Loss and accuracy per epoch, for training and validation subjects.

    Parameters
    ----------
    history : sequence of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy`` (None without validation), as in
        ``NeuralNetClassifier.history_``.
    path : str or Path
        Output PNG.
    """
    epochs = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, label in ((a1, "loss", "cross-entropy loss"), (a2, "accuracy", "accuracy")):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], marker=".", label="training")
        val = [h.get(f"val_{key}") for h in history]
        if any(v is not None for v in val):
            ax.plot(epochs, [np.nan if v is None else v for v in val], marker=".",
                    label="validation subjects")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Training curves", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
