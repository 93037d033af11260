"""Figures written into every run folder (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from tinyhar.core.windowset import WindowSet  # noqa: E402
from tinyhar.reporting.text import axis_label, plural, subject_list  # noqa: E402


def _save(fig, path: str | Path, dpi: int, colors: int | None = None) -> Path:
    """Save a figure as PNG and close it; ``colors`` quantises to a palette (smaller file).

    The PNG is written to a temporary sibling first and renamed into place, so
    a failed write never leaves a truncated figure.
    """
    import io
    import os

    from PIL import Image

    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    plt.close(fig)
    tmp = path.with_name(f".{path.name}.tmp")
    if colors is None:
        tmp.write_bytes(buf.getvalue())
    else:
        buf.seek(0)
        with Image.open(buf) as image:
            image.convert("RGB").quantize(colors=colors).save(tmp, format="PNG", optimize=True)
    os.replace(tmp, path)
    return path


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
    ConfusionMatrixDisplay(cm, display_labels=[axis_label(c) for c in classes]).plot(
        ax=ax, cmap="Blues", colorbar=False, xticks_rotation=45, values_format="d"
    )
    ax.images[0].set_data(norm)
    ax.images[0].set_clim(0, 1)
    ax.set_title(title or "Confusion matrix (test subjects)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def plot_feature_importance(
    importances: np.ndarray,
    names: Sequence[str],
    path: str | Path,
    top: int = 25,
    title: str = "",
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
    title : str
        First title line (e.g. the data set and subjects); the second names
        how many features are shown.
    """
    importances = np.asarray(importances, dtype=float)
    order = np.argsort(importances)[::-1][:top][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.25 * len(order) + 1.2))
    ax.barh([names[i] for i in order], importances[order], color="tab:blue")
    ax.set_xlabel("mean decrease in impurity")
    heading = f"top {len(order)} of {plural(len(importances), 'feature')}"
    ax.set_title(f"{title}\n{heading}" if title else heading.capitalize(), fontsize=8)
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def plot_class_overview(
    windows: WindowSet, path: str | Path, per_class: int = 3, seed: int = 0, title: str = ""
) -> Path:
    """A few example windows per class: what each activity looks like.

    One row per class, one column per example; each panel shows the
    accelerometer axes (g) and, on a second axis, the gyroscope axes (rad/s).
    The channel legend sits in its own band under the panels, so it never
    covers a curve or the axis label. The PNG is palette-quantised (64
    colours), which keeps it well under 200 kB for six classes.

    Parameters
    ----------
    windows : WindowSet
        Windows of shape (n_windows, n_samples, n_channels); the examples are
        drawn from them (a run passes its training subjects).
    path : str or Path
        Output PNG.
    per_class : int
        Examples per class (random, reproducible with ``seed``).
    title : str
        Figure title (default: a description of the curves).
    """
    classes = [c for c in windows.classes if np.any(windows.y == c)]
    rng = np.random.default_rng(seed)
    t = np.arange(windows.n_samples) / windows.sampling_rate_hz
    acc = [i for i, c in enumerate(windows.channels) if c.startswith("acc_")]
    gyro = [i for i, c in enumerate(windows.channels) if c.startswith("gyro_")]
    other = [i for i in range(len(windows.channels)) if i not in acc and i not in gyro]
    what = "solid: acceleration in g" + ("; dashed: gyro in rad/s" if gyro else "")
    heading = [*(title or "Example windows per class").split("\n"), f"({what})"]
    title_band = 0.15 * len(heading) + 0.05
    legend_band = 0.35
    height = 1.5 * len(classes) + title_band + legend_band + 0.3
    fig, axes = plt.subplots(
        len(classes), per_class, figsize=(3.0 * per_class, height), squeeze=False, sharex=True
    )
    handles: dict[str, object] = {}
    row_labels = [axis_label(c, width=24) for c in classes]  # (a panel is ~27 characters)
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
                (line,) = ax.plot(t, w[:, i], lw=0.7, label=windows.channels[i])
                handles.setdefault(windows.channels[i], line)
            if gyro:
                ax2 = ax.twinx()
                for i, color in zip(gyro, ("tab:red", "tab:purple", "tab:brown"), strict=False):
                    (line,) = ax2.plot(t, w[:, i], lw=0.5, ls="--", color=color)
                    handles.setdefault(windows.channels[i], line)
                ax2.tick_params(labelsize=6)
            ax.tick_params(labelsize=6)
            if k == 0:
                ax.set_ylabel(row_labels[r], fontsize=7)
            ax.set_title(f"subject {windows.subject[pick[k]]}", fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=7)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        fontsize=7,
        ncol=len(handles),
        frameon=False,
    )
    fig.suptitle("\n".join(heading), fontsize=8, y=1 - 0.05 / height, va="top")
    _fixed_margins(fig, len(classes), per_class, height, top=title_band + 0.3,
                   bottom=legend_band + 0.32,
                   left=0.62 + 0.11 * max(label.count("\n") for label in row_labels),
                   right=0.42 if gyro else 0.12,
                   gap_w=0.72 if gyro else 0.42, gap_h=0.26)
    return _save(fig, path, dpi=90, colors=64)


def _fixed_margins(fig, rows: int, cols: int, height: float, top: float, bottom: float,
                   left: float, right: float, gap_w: float, gap_h: float) -> None:
    """Place a grid of panels with margins and gaps given in inches.

    For small fonts and a known layout this is what ``tight_layout`` would
    find, without measuring every tick label of every panel (about half the
    time of a 12 x 3 figure).
    """
    width = fig.get_figwidth()
    panel_w = (width - left - right - (cols - 1) * gap_w) / cols
    panel_h = (height - top - bottom - (rows - 1) * gap_h) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height,
                        bottom=bottom / height, wspace=gap_w / panel_w, hspace=gap_h / panel_h)


def plot_training_curves(
    history: Sequence[dict], path: str | Path, best_epoch: int | None = None, title: str = ""
) -> Path:
    """Loss and accuracy per epoch, for training and validation subjects.

    Parameters
    ----------
    history : sequence of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy`` (None without validation), as in
        ``NeuralNetClassifier.history_``.
    path : str or Path
        Output PNG.
    best_epoch : int, optional
        The epoch whose weights were kept (``best_epoch_``, 1-based): marked
        by a vertical line and named in the legend.
    title : str
        Figure title (default ``"Training curves"``).
    """
    epochs = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, label in ((a1, "loss", "cross-entropy loss"), (a2, "accuracy", "accuracy")):
        ax.plot(epochs, [h[f"train_{key}"] for h in history], marker=".", label="training")
        val = [h.get(f"val_{key}") for h in history]
        if any(v is not None for v in val):
            ax.plot(
                epochs,
                [np.nan if v is None else v for v in val],
                marker=".",
                label="validation subjects",
            )
        if best_epoch is not None:
            ax.axvline(
                best_epoch, color="tab:green", ls=":", lw=1.2, label=f"kept: epoch {best_epoch}"
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "Training curves", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def plot_per_subject(per_subject: dict[str, dict], path: str | Path, title: str = "") -> Path:
    """Bar chart of accuracy and macro-F1 per test subject.

    Parameters
    ----------
    per_subject : dict
        ``{subject: {"accuracy", "macro_f1", "n_windows"}}`` as returned by
        :func:`tinyhar.evaluation.metrics.per_subject_metrics`.
    path : str or Path
        Output PNG.
    title : str
        Figure title; should name the subjects (default: they are named).

    Raises
    ------
    ValueError
        If ``per_subject`` is empty.
    """
    if not per_subject:
        raise ValueError("per_subject is empty: nothing to plot")
    subjects = list(per_subject)
    acc = np.array([per_subject[s]["accuracy"] for s in subjects])
    f1 = np.array([per_subject[s]["macro_f1"] for s in subjects])
    n = np.array([per_subject[s]["n_windows"] for s in subjects])
    x = np.arange(len(subjects))
    fig, ax = plt.subplots(figsize=(max(5.5, 0.3 * len(subjects) + 3.2), 3.6))
    ax.bar(x - 0.2, acc, width=0.4, label="accuracy", color="tab:blue")
    ax.bar(x + 0.2, f1, width=0.4, label="macro-F1", color="tab:orange")
    ax.axhline(f1.mean(), color="tab:orange", ls=":", lw=1, label=f"mean macro-F1 {f1.mean():.3f}")
    for i, k in enumerate(n):
        ax.text(x[i], 1.01, str(k), ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(x, subjects, fontsize=7, rotation=90 if len(subjects) > 20 else 0)
    ax.set_xlabel("subject (number above a bar: windows)")
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("score")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title or f"Scores per subject: test {subject_list(subjects)}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def figure_title(what: str, dataset: str, subjects: Sequence[str], role: str = "test") -> str:
    """A figure title naming the data set and, compactly, the subjects it shows.

    Parameters
    ----------
    what : str
        The figure (``"confusion matrix"``).
    dataset : str
        Data set name.
    subjects : sequence of str
        The subjects whose windows the figure shows.
    role : str
        ``"test"``, ``"training"``, ... (goes before "subject(s)").

    Returns
    -------
    str
        E.g. ``"hapt, confusion matrix: test subjects 2, 4, 9-13 (9 subjects)"``.
    """
    names = subject_list(subjects)
    count = ""
    if len(set(subjects)) > 3 and "..." not in names:
        count = f" ({plural(len(set(subjects)), 'subject')})"
    return f"{dataset}, {what}: {role} {names}{count}"


def plot_learning_curve(result: dict, path: str | Path) -> Path:
    """Macro-F1 against training subjects and against minutes per class, side by side.

    Parameters
    ----------
    result : dict
        As returned by :func:`tinyhar.learning_curve.learning_curve` (rows of
        ``subjects`` and ``minutes`` with ``macro_f1_mean``/``macro_f1_std``).
    path : str or Path
        Output PNG.
    """
    fig, axes = plt.subplots(1, 2, figsize=(8.0, 3.4), sharey=True)
    panels = (
        (axes[0], result["subjects"], "n_subjects", "training subjects"),
        (axes[1], result["minutes"], "minutes_per_class", "minutes per class (mean)"),
    )
    for ax, rows, key, label in panels:
        x = np.array([r[key] for r in rows], dtype=float)
        m = np.array([r["macro_f1_mean"] for r in rows])
        s = np.array([r["macro_f1_std"] for r in rows])
        ax.plot(x, m, marker="o", color="tab:orange")
        ax.fill_between(x, m - s, m + s, color="tab:orange", alpha=0.2, lw=0)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
        if key == "n_subjects":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("macro-F1 (held-out subjects)")
    axes[0].set_ylim(0, 1.02)
    fig.suptitle(
        f"Learning curve: {result['dataset']} (mean ± std over "
        f"{plural(result['repeats'], 'repeat')})", fontsize=9,
    )
    fig.tight_layout()
    return _save(fig, path, dpi=110)


def plot_robustness(result: dict, path: str | Path) -> Path:
    """Macro-F1 per perturbation, and per-class F1 against the rotation angle about x, y, z.

    Parameters
    ----------
    result : dict
        From :func:`tinyhar.robustness.robustness_scores` (``rows``,
        ``classes``, ``dataset``, ``subjects``).
    path : str or Path
        Output PNG.

    Returns
    -------
    Path
        ``path``.
    """
    from tinyhar.evaluation.perturb import AXES, row_label

    rows = result["rows"]
    classes = result["classes"]
    fig = plt.figure(figsize=(12, 4 + 0.22 * len(rows)))
    grid = fig.add_gridspec(2, 3, height_ratios=[0.22 * len(rows) + 1, 3.2])
    ax = fig.add_subplot(grid[0, :])
    base = rows[0]["macro_f1"] if rows and rows[0]["perturbation"] == "none" else None
    values = [r["macro_f1"] for r in rows]
    ypos = np.arange(len(rows))[::-1]
    ax.barh(ypos, values, color="tab:blue")
    ax.set_yticks(ypos, [row_label(r) for r in rows], fontsize=7)
    if base is not None:
        ax.axvline(base, color="black", lw=0.8, ls="--", label=f"unperturbed {base:.3f}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1")
    ax.set_title(figure_title("robustness", result["dataset"], result["subjects"]))
    for i, axis in enumerate(AXES):
        sub = fig.add_subplot(grid[1, i])
        rot = [r for r in rows if r["perturbation"] == "rotation" and r["axis"] == axis]
        angles = [r["parameter"] for r in rot]
        for c in classes:
            sub.plot(angles, [r["per_class_f1"][c] for r in rot], marker="o", ms=3,
                     label=axis_label(c, width=28))
        sub.set_ylim(0, 1.02)
        sub.set_xticks(angles)
        sub.set_xlabel(f"rotation about {axis} (degrees)")
        if i == 0:
            sub.set_ylabel("F1 per class")
    fig.axes[-1].legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    fig.tight_layout()
    return _save(fig, path, dpi=100)
