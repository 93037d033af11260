"""``tinyhar robustness``: can you trick this model?

Scores a run on its unseen test subjects (exactly the windows ``tinyhar
evaluate`` scores, :func:`tinyhar.evaluate.evaluation_windows`) under every
perturbation of :func:`tinyhar.evaluation.perturb.perturbations` (rotations,
gain, offset, sampling-rate mismatch, noise, axis swaps and sign flips) and
writes ``robustness.json`` and ``robustness.png``. The perturbations
themselves are pure functions in :mod:`tinyhar.evaluation.perturb`; this
module is the job on top: it reads run folders, so it sits beside
:mod:`tinyhar.training`, above :mod:`tinyhar.evaluation`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from rich.console import Console

from tinyhar.evaluation.perturb import perturbations

ROBUSTNESS_DIR = "robustness"
"""Folder of a run folder that ``tinyhar robustness`` writes into (a later output)."""
ROBUSTNESS_FILE = "robustness.json"
ROBUSTNESS_FIGURE = "robustness.png"


def robustness_scores(
    run_dir: str | Path,
    dataset: str | None = None,
    path: str | None = None,
    subjects: list[str] | None = None,
    seed: int = 0,
    console: Console | None = None,
) -> dict:
    """Score a run on its unseen test windows under every perturbation of :func:`perturbations`.

    Parameters
    ----------
    run_dir : str or Path
        A run folder written by ``tinyhar train``.
    dataset, path : str, optional
        Data set (default: the one the run was trained on) and its file or folder.
    subjects : list of str, optional
        Score only these subjects (training subjects are always left out).
    seed : int
        Seed of the random rotations and the noise.
    console : rich.console.Console, optional
        Where notes and the progress bar go (default: quiet).

    Returns
    -------
    dict
        ``run``, ``dataset``, ``subjects``, ``excluded_training_subjects``,
        ``classes``, ``n_windows``, ``seed``, ``channels`` and ``rows``: one
        ``{perturbation, parameter, axis, macro_f1, accuracy, per_class_f1}``
        per perturbation (``per_class_f1``: ``{class: F1}``).

    Raises
    ------
    TinyharError
        A bad run folder, or windows as in :func:`tinyhar.evaluate.evaluate_run`.
    """
    from rich.progress import Progress

    from tinyhar.datasets.recording import natural_key
    from tinyhar.evaluate import evaluation_windows
    from tinyhar.evaluation.metrics import classification_metrics
    from tinyhar.runfolder import load_run

    console = console or Console(quiet=True)
    run = load_run(run_dir)
    pipeline = run.pipeline
    if dataset is None:
        dataset, path = run.config.dataset.name, run.config.dataset.path
    windows, selection, _ = evaluation_windows(run, dataset, path, subjects, console)
    windows = pipeline.check_windows(windows)
    channels = list(windows.channels)
    rows = []
    catalogue = perturbations(channels, len(windows), seed)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("perturbing", total=len(catalogue))
        for p in catalogue:
            pert = dataclasses.replace(windows, X=p.apply(windows.X, channels))
            pred = pipeline.predict(pert, on_invalid="mark")
            m = classification_metrics(windows.y, pred, pipeline.classes)
            rows.append(
                {
                    "perturbation": p.perturbation,
                    "parameter": p.parameter,
                    "axis": p.axis,
                    "macro_f1": m["macro_f1"],
                    "accuracy": m["accuracy"],
                    "per_class_f1": {c: m["per_class"][c]["f1"] for c in pipeline.classes},
                }
            )
            progress.advance(task)
    return {
        "run": str(run.path),
        "dataset": windows.name,
        "subjects": sorted(set(windows.subject), key=natural_key),
        "excluded_training_subjects": selection["excluded"],
        "classes": list(pipeline.classes),
        "channels": channels,
        "n_windows": len(windows),
        "seed": seed,
        "rows": rows,
    }


def write_robustness(result: dict, out_dir: str | Path) -> list[Path]:
    """Write ``robustness.json`` and ``robustness.png`` atomically into ``out_dir``.

    Parameters
    ----------
    result : dict
        From :func:`robustness_scores`.
    out_dir : str or Path
        Folder (created if needed), e.g. ``RUN/robustness``.

    Returns
    -------
    list of Path
        The files written.
    """
    import json

    from tinyhar.reporting.plots import plot_robustness
    from tinyhar.runfolder import write_text_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / ROBUSTNESS_FILE, json.dumps(result, indent=2) + "\n")
    fig = plot_robustness(result, out_dir / ROBUSTNESS_FIGURE)
    return [out_dir / ROBUSTNESS_FILE, fig]
