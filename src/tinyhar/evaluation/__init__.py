"""Subject-independent evaluation: splits, window and continuous metrics, perturbations.

- :func:`holdout_split`, :func:`group_kfold`, :func:`auto_test_subjects`,
  :func:`random_split` (leaks subjects, warns), :class:`LeakageWarning`: splits of
  windows by subject (:mod:`.splits`);
- :func:`classification_metrics`, :func:`per_subject_metrics`,
  :func:`score_predictions`, :func:`check_labels`: scores of windows, macro-F1
  first (:mod:`.metrics`);
- :func:`continuous_metrics`, :func:`label_segments`, :func:`edit_score`,
  :func:`windows_to_samples`: scores of label sequences over whole sessions
  (:mod:`.continuous`);
- :func:`stream_predictions`, :class:`StreamPredictions`, :class:`StreamLabels`,
  :func:`stream_scores`: every window of whole recordings, classified and
  post-processed (:mod:`.streams`); :class:`SessionRecordings`: the same for a
  dataset definition read one session at a time (:mod:`.sessionstreams`);
- :func:`perturbations`, :class:`Perturbation`, :func:`rotate`: sensor perturbations
  for robustness tests (:mod:`.perturb`).

Everything is imported on first use, so ``import tinyhar.evaluation`` imports
neither scikit-learn nor the post-processing.
"""

from __future__ import annotations

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.evaluation.splits": ("RANDOM_SPLIT_WARNING", "LeakageWarning", "auto_test_subjects",
                                  "group_kfold", "holdout_split", "random_split"),
    "tinyhar.evaluation.metrics": ("check_labels", "classification_metrics",
                                   "per_subject_metrics", "score_predictions"),
    "tinyhar.evaluation.continuous": ("Segment", "continuous_metrics", "edit_score",
                                      "label_segments", "windows_to_samples"),
    "tinyhar.evaluation.streams": ("StreamLabels", "StreamPredictions", "stream_predictions",
                                   "stream_scores"),
    "tinyhar.evaluation.sessionstreams": ("SessionRecordings",),
    "tinyhar.evaluation.perturb": ("Perturbation", "perturbations", "rotate"),
})
