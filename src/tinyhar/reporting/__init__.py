"""What a user reads: run summaries, figures, data-set reports and shared wording.

- :func:`write_summary`, :func:`write_evaluation_summary`, :func:`score_lines`:
  ``summary.md`` of a run folder or an evaluation (:mod:`.summary`);
- :func:`score_figures`: the confusion matrix and per-subject figures of a run
  or an evaluation (:mod:`.figures`); the single figures :func:`plot_confusion_matrix`,
  :func:`plot_per_subject`, :func:`plot_feature_importance`,
  :func:`plot_class_overview`, :func:`plot_training_curves`,
  :func:`plot_learning_curve`, :func:`plot_robustness` (:mod:`.plots`, matplotlib
  Agg, PNG), :func:`plot_timeline` (:mod:`.timeline`) and
  :func:`plot_embedding_map` / :func:`project_2d` (:mod:`.embedding_map`);
- :func:`inspect_dataset`, :class:`InspectReport`: the report of ``tinyhar datasets
  inspect`` (:mod:`.inspect`);
- :func:`plural`, :func:`name_subjects`, :func:`subject_list`: wording shared by
  the console, ``summary.md`` and figure titles (:mod:`.text`);
  :func:`progress_bar` (:mod:`.progress`).

Everything is imported on first use, so ``import tinyhar.reporting`` imports
neither matplotlib nor pandas.
"""

from __future__ import annotations

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.reporting.summary": ("score_lines", "write_evaluation_summary", "write_summary"),
    "tinyhar.reporting.figures": ("score_figures",),
    "tinyhar.reporting.plots": ("plot_class_overview", "plot_confusion_matrix",
                                "plot_feature_importance", "plot_learning_curve",
                                "plot_per_subject", "plot_robustness", "plot_training_curves"),
    "tinyhar.reporting.timeline": ("plot_timeline",),
    "tinyhar.reporting.embedding_map": ("plot_embedding_map", "project_2d"),
    "tinyhar.reporting.inspect": ("InspectReport", "inspect_dataset"),
    "tinyhar.reporting.text": ("name_subjects", "plural", "subject_list"),
    "tinyhar.reporting.progress": ("progress_bar",),
})
