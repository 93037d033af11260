"""The score figures of a run or an evaluation: confusion matrix and per-subject scores."""

from __future__ import annotations

from tinyhar.reporting.text import plural


def score_figures(metrics: dict) -> list:
    """``(file name, draw(path))`` of ``confusion_matrix.png`` and ``per_subject.png``.

    Both are titled with the scored subjects; training draws them into the
    run folder, :func:`tinyhar.evaluate.write_evaluation` into its output.

    Parameters
    ----------
    metrics : dict
        From :func:`tinyhar.training.train` or :func:`tinyhar.evaluate.evaluate_run` (``dataset``,
        ``confusion_matrix``, ``classes``, ``per_subject``; optionally
        ``cross_validation`` with ``scope: all subjects`` for pooled scores).

    Returns
    -------
    list of (str, callable)
    """
    from tinyhar.reporting.plots import figure_title, plot_confusion_matrix, plot_per_subject

    subjects = list(metrics["per_subject"])
    cv = metrics.get("cross_validation") or {}
    what, per = "confusion matrix", "scores per subject"
    if cv.get("scope") == "all subjects":
        what += f" pooled over {plural(cv['n_folds'], 'cross-validation fold')}"
        per += " (each from the fold that held it out)"
    return [
        (
            "confusion_matrix.png",
            lambda p: plot_confusion_matrix(
                metrics["confusion_matrix"],
                metrics["classes"],
                p,
                figure_title(what, metrics["dataset"], subjects),
            ),
        ),
        (
            "per_subject.png",
            lambda p: plot_per_subject(
                metrics["per_subject"], p, figure_title(per, metrics["dataset"], subjects)
            ),
        ),
    ]
