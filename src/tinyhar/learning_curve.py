"""How much data is enough: macro-F1 against training subjects and minutes per class.

``tinyhar learning-curve --dataset DEF --out runs/lc`` answers "would more data
help, and which kind?" with two curves, both scored leave-subjects-out on the
same held-out test subjects:

* **subjects**: the model is trained on 1, 2, 4, ... of the training subjects
  (all of each one's data);
* **minutes per class**: trained on all training subjects, keeping the first
  10 %, 25 %, 50 % or 100 % of each subject's windows of each class (in time
  order, as if everybody had recorded for a shorter time).

Each point is repeated with ``repeats`` seeds: each repeat draws its own test
subjects (``evaluation.test_fraction`` of the subjects) and its own order of
training subjects, so the spread shows how much the answer depends on who
was recorded. The curve-of-subsets design follows the usual learning-curve
practice (e.g. scikit-learn's ``learning_curve``, Perlich et al. 2003,
"Tree induction vs. logistic regression: a learning-curve analysis", JMLR 4),
with groups (subjects) instead of samples so that no subject is both trained
and tested.

Features are computed once for all windows (they depend on one window only),
then a fresh model of the configured kind is fitted per point; network models
are not supported (use a tree model to size the data, then train the network).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import natural_key
from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.evaluation.metrics import classification_metrics
from tinyhar.evaluation.splits import auto_test_subjects
from tinyhar.models.kinds import NETWORK_KINDS, TREE_KINDS

DEFAULT_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
"""Share of each (subject, class)'s windows kept for the minutes-per-class curve."""
RESULT_FILES = ("learning_curve.json", "learning_curve.md", "learning_curve.png")
"""Files written into the output folder."""


def subject_counts(n_pool: int, n_points: int = 6) -> list[int]:
    """A roughly geometric grid of training-subject counts from 1 to ``n_pool``.

    Parameters
    ----------
    n_pool : int
        Training subjects available (>= 1).
    n_points : int
        At most this many counts.

    Returns
    -------
    list of int
        Increasing counts, always with 1 and ``n_pool``.
    """
    grid = np.unique(np.round(np.geomspace(1, max(n_pool, 1), n_points)).astype(int))
    return [int(v) for v in grid]


def hop_seconds(windows: WindowSet) -> float:
    """Typical time between window starts within a session (s); each window adds this much.

    Parameters
    ----------
    windows : WindowSet

    Returns
    -------
    float
        The median positive step of ``start_time`` within sessions; the window
        length when no session has two windows.
    """
    steps = []
    for session in np.unique(windows.session):
        t = np.sort(windows.start_time[windows.session == session])
        d = np.diff(t)
        steps.append(d[d > 0])
    flat = np.concatenate(steps) if steps else np.zeros(0)
    if flat.size == 0:
        return windows.n_samples / windows.sampling_rate_hz
    return float(np.median(flat))


def _first_fraction(windows: WindowSet, idx: np.ndarray, fraction: float) -> np.ndarray:
    """Of the windows ``idx``, the first ``fraction`` (at least one) per (subject, class)."""
    keep = []
    subj, y, start = windows.subject[idx], windows.y[idx], windows.start_time[idx]
    sess = windows.session[idx]
    for s in np.unique(subj):
        for c in np.unique(y[subj == s]):
            members = idx[(subj == s) & (y == c)]
            order = np.lexsort((start[(subj == s) & (y == c)], sess[(subj == s) & (y == c)]))
            n = max(1, int(np.ceil(fraction * len(members))))
            keep.append(members[order[:n]])
    return np.sort(np.concatenate(keep))


def _subjects(windows: WindowSet) -> list[str]:
    """The subjects, in natural order; at least 3 (else EvaluationError)."""
    subjects = sorted(set(windows.subject.tolist()), key=natural_key)
    if len(subjects) < 3:
        raise EvaluationError(
            f"a learning curve needs at least 3 subjects (training subjects to vary and "
            f"held-out test subjects), data set {windows.name!r} has {len(subjects)}"
        )
    return subjects


def learning_curve(
    windows: WindowSet,
    features: np.ndarray,
    model: Any,
    counts: list[int] | None = None,
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
    repeats: int = 3,
    test_fraction: float = 0.3,
    seed: int = 0,
    on_point=None,
) -> dict[str, Any]:
    """Macro-F1 on held-out subjects against training subjects and minutes per class.

    Parameters
    ----------
    windows : WindowSet
        Labelled windows, shape (n_windows, n_samples, n_channels), of at least
        3 subjects.
    features : numpy.ndarray, shape (n_windows, n_features)
        Their features (one row per window).
    model : scikit-learn classifier
        Cloned (``sklearn.base.clone``) and fitted for every point.
    counts : list of int, optional
        Training-subject counts; default :func:`subject_counts` of the pool.
        Counts above the pool are dropped.
    fractions : tuple of float
        Shares in (0, 1] of each (subject, class)'s windows for the second curve.
    repeats : int
        Repeats, each with its own test subjects and subject order (seed + r).
    test_fraction : float
        Share of the subjects held out for testing in each repeat.
    seed : int
    on_point : callable, optional
        Called after each fitted point (for progress).

    Returns
    -------
    dict
        ``classes``, ``n_subjects``, ``repeats``, ``hop_s``, ``subjects``
        (list of rows ``{n_subjects, macro_f1_mean, macro_f1_std, macro_f1
        (per repeat), minutes_per_class}``), ``minutes`` (rows ``{fraction,
        minutes_per_class (mean over classes of the kept minutes per class),
        min_minutes_per_class, macro_f1_mean, macro_f1_std, macro_f1}``),
        ``test_subjects`` (per repeat) and ``advice`` (one sentence).

    Raises
    ------
    EvaluationError
        Fewer than 3 subjects, or a bad count / fraction.
    """
    from sklearn.base import clone

    subjects = _subjects(windows)
    if repeats < 1:
        raise EvaluationError(f"repeats must be at least 1, got {repeats}")
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise EvaluationError(f"fractions must lie in (0, 1], got {list(fractions)}")
    hop = hop_seconds(windows)
    classes = list(windows.classes)
    per_count: dict[int, list[tuple[float, float]]] = {}
    per_fraction: dict[float, list[tuple[float, float, float]]] = {}
    tests = []
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        test = auto_test_subjects(windows.subject, test_fraction, seed + r)
        tests.append(test)
        pool = [s for s in subjects if s not in test]
        order = list(rng.permutation(pool))
        te = np.flatnonzero(np.isin(windows.subject, test))
        grid = subject_counts(len(pool)) if counts is None else [c for c in counts
                                                                   if c <= len(pool)]
        if not grid:
            raise EvaluationError(
                f"every subject count {counts} exceeds the {len(pool)} training subjects"
            )

        def score(tr: np.ndarray, te: np.ndarray = te, r: int = r) -> float:
            fitted = clone(model)
            if "random_state" in fitted.get_params():
                fitted.set_params(random_state=seed + r)
            fitted.fit(features[tr], windows.y[tr])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # classes missing from few training subjects
                pred = fitted.predict(features[te])
                return float(classification_metrics(windows.y[te], pred, classes)["macro_f1"])

        for n in grid:
            tr = np.flatnonzero(np.isin(windows.subject, order[:n]))
            minutes = len(tr) * hop / 60.0 / len(classes)
            per_count.setdefault(n, []).append((score(tr), minutes))
            if on_point:
                on_point()
        pool_idx = np.flatnonzero(np.isin(windows.subject, pool))
        for f in sorted(fractions):
            tr = _first_fraction(windows, pool_idx, f)
            kept = [np.count_nonzero(windows.y[tr] == c) * hop / 60.0 for c in classes]
            per_fraction.setdefault(f, []).append((score(tr), float(np.mean(kept)),
                                                   float(np.min(kept))))
            if on_point:
                on_point()
    subject_rows = [
        {
            "n_subjects": n,
            "macro_f1_mean": float(np.mean([v[0] for v in vals])),
            "macro_f1_std": float(np.std([v[0] for v in vals])),
            "macro_f1": [v[0] for v in vals],
            "minutes_per_class": float(np.mean([v[1] for v in vals])),
            "repeats": len(vals),
        }
        for n, vals in sorted(per_count.items())
    ]
    minute_rows = [
        {
            "fraction": f,
            "minutes_per_class": float(np.mean([v[1] for v in vals])),
            "min_minutes_per_class": float(np.mean([v[2] for v in vals])),
            "macro_f1_mean": float(np.mean([v[0] for v in vals])),
            "macro_f1_std": float(np.std([v[0] for v in vals])),
            "macro_f1": [v[0] for v in vals],
        }
        for f, vals in sorted(per_fraction.items())
    ]
    return {
        "dataset": windows.name,
        "classes": classes,
        "n_subjects": len(subjects),
        "repeats": repeats,
        "hop_s": hop,
        "test_subjects": tests,
        "subjects": subject_rows,
        "minutes": minute_rows,
        "advice": advice(subject_rows, minute_rows),
    }


def advice(subject_rows: list[dict], minute_rows: list[dict]) -> str:
    """One sentence on the end of each curve: more people, longer recordings, or neither.

    Each curve's last point is compared with the point at about half its
    x (subjects or minutes): a rise of macro-F1 counts when it exceeds 0.01
    and the standard error of the difference over the repeats
    (``sqrt(std_a**2 + std_b**2) / sqrt(repeats)``).
    """
    def gain(rows: list[dict], key: str) -> tuple[dict, dict, float] | None:
        if len(rows) < 2:
            return None
        b = rows[-1]
        a = min(rows[:-1], key=lambda r: abs(r[key] - b[key] / 2))
        delta = b["macro_f1_mean"] - a["macro_f1_mean"]
        n = max(len(b["macro_f1"]), 1)
        noise = max(np.hypot(a["macro_f1_std"], b["macro_f1_std"]) / np.sqrt(n), 0.01)
        return (a, b, delta) if delta > noise else None

    parts = []
    people = gain(subject_rows, "n_subjects")
    if people:
        a, b, delta = people
        parts.append(
            f"going from {a['n_subjects']} to {b['n_subjects']} training subjects raised "
            f"macro-F1 by {delta:.3f}: recording more people will likely help"
        )
    minutes = gain(minute_rows, "minutes_per_class")
    if minutes:
        a, b, delta = minutes
        parts.append(
            f"going from {a['minutes_per_class']:.1f} to {b['minutes_per_class']:.1f} minutes "
            f"per class raised macro-F1 by {delta:.3f}: longer recordings will likely help"
        )
    if not parts:
        return ("both curves are flat at their end (within the spread over repeats): more of "
                "the same data will help little; try other features, windows or a model")
    return "; ".join(parts)


def to_markdown(result: dict) -> str:
    """The result as Markdown: two tables and the advice."""
    lines = [
        f"# Learning curve: {result['dataset']}",
        "",
        f"Macro-F1 on held-out subjects (leave-subjects-out), mean ± std over "
        f"{result['repeats']} repeat(s), each with its own test subjects; "
        f"{result['n_subjects']} subjects, {len(result['classes'])} classes. Minutes of "
        f"data = windows × hop ({result['hop_s']:g} s).",
        "",
        "## Training subjects",
        "",
        "| training subjects | minutes per class (mean) | macro-F1 |",
        "| ---: | ---: | ---: |",
    ]
    for row in result["subjects"]:
        lines.append(f"| {row['n_subjects']} | {row['minutes_per_class']:.1f} | "
                     f"{row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f} |")
    lines += [
        "",
        "## Minutes per class (all training subjects)",
        "",
        "| share kept | minutes per class (mean) | least minutes of a class | macro-F1 |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for row in result["minutes"]:
        lines.append(f"| {row['fraction']:.0%} | {row['minutes_per_class']:.1f} | "
                     f"{row['min_minutes_per_class']:.1f} | "
                     f"{row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f} |")
    lines += ["", f"**Advice:** {result['advice']}.", ""]
    return "\n".join(lines)


def write_learning_curve(result: dict, out: str | Path, overwrite: bool = False) -> Path:
    """Write ``learning_curve.json``, ``.md`` and ``.png`` into ``out``, atomically.

    The files are written into a temporary sibling folder that replaces
    ``out`` only when all are complete.

    Raises
    ------
    ConfigError
        If ``out`` exists and ``overwrite`` is false, or is a file.
    """
    from tinyhar.reporting.plots import plot_learning_curve

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        (tmp / RESULT_FILES[0]).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (tmp / RESULT_FILES[1]).write_text(to_markdown(result), encoding="utf-8")
        plot_learning_curve(result, tmp / RESULT_FILES[2])
        if out.exists():
            old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def run_learning_curve(
    cfg: TrainConfig,
    out: str | Path,
    counts: list[int] | None = None,
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
    repeats: int = 3,
    console: Console | None = None,
    overwrite: bool = False,
) -> dict:
    """Load the configured data, window it, compute features once, draw both curves.

    Parameters
    ----------
    cfg : TrainConfig
        Data set, windows, features and (tree) model as for ``tinyhar train``;
        ``evaluation.test_fraction`` and ``seed`` set the held-out subjects.
    out : str or Path
        Folder for the results (:data:`RESULT_FILES`).
    counts, fractions, repeats
        As :func:`learning_curve`.
    console : rich.console.Console, optional
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    dict
        As :func:`learning_curve`.

    Raises
    ------
    ConfigError
        A network model, or ``out`` exists without ``overwrite``.
    TinyharError
        From loading and windowing the data.
    """
    from rich.progress import Progress

    from tinyhar.training import build_pipeline, load_data, make_window_set

    console = console or Console()
    if cfg.model.kind in NETWORK_KINDS:
        raise ConfigError(
            f"model.kind: learning-curve fits one model per point and supports tree models "
            f"({', '.join(TREE_KINDS)}), not {cfg.model.kind!r}; size the data with a tree "
            "model, then train the network"
        )
    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass --overwrite to replace it, or choose another --out")
    console.print(f"loading data set [bold]{cfg.dataset.name}[/]")
    windows, _ = make_window_set(load_data(cfg), cfg)
    labelled = windows  # unlabelled windows are dropped by windowing
    n_subjects = len(_subjects(labelled))
    pipeline = build_pipeline(labelled, cfg, None)
    console.print(f"features of {len(labelled):,} windows")
    features = pipeline.transform(labelled)
    n_pool = n_subjects - len(
        auto_test_subjects(labelled.subject, cfg.evaluation.test_fraction, cfg.seed))
    per_repeat = len(counts or subject_counts(max(n_pool, 1))) + len(fractions)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("learning curve", total=repeats * per_repeat)
        result = learning_curve(
            labelled, features, pipeline.model, counts=counts, fractions=fractions,
            repeats=repeats, test_fraction=cfg.evaluation.test_fraction, seed=cfg.seed,
            on_point=lambda: progress.advance(task),
        )
    result["config"] = cfg.model_dump(mode="json")
    write_learning_curve(result, out, overwrite=overwrite)
    return result
