"""Train and evaluate a pipeline from a configuration, writing a run folder.

``train(config, out_dir)`` does the whole main job:

1. load the data set (recordings or pre-cut windows),
2. cut windows (majority label, purity threshold),
3. split by subject (hold-out test subjects; the official UCI HAR/HAPT split
   by default) -- a random split only when asked, with a warning,
4. compute features,
5. leave-subjects-out cross-validation on the training subjects,
6. fit the size-budgeted tree ensemble (or the network) on all training
   subjects and score it on the test subjects, overall and per subject,
7. write the run folder atomically (:func:`tinyhar.runfolder.write_run`): the
   pipeline (:data:`PIPELINE_FILE`), ``config.yaml``, ``metrics.json``,
   ``summary.md``, then the figures ``confusion_matrix.png``,
   ``per_subject.png``, ``feature_importance.png`` (or ``training_curves.png``),
   ``class_overview.png``, and the unseen test subjects' windows
   (:func:`store_test_windows`); ``manifest.json`` last.

The window spec comes from the windows (:attr:`WindowSet.spec`), data from
:mod:`tinyhar.windows.source`; scoring a trained run on a data set is
:mod:`tinyhar.evaluate` (its names are importable from here too).

With ``evaluation.protocol: loso`` steps 3-6 become cross-validation by
subject over all subjects (pooled and mean ± sd scores), and the saved model
is fitted on all subjects.

The package, by concern: :mod:`~tinyhar.training.job` (:func:`train`, the
in-memory tree path, the stored test windows), :mod:`~tinyhar.training.splits`
(split by subject, cross-validation), :mod:`~tinyhar.training.trees` (the tree
pipeline and its feature rows), :mod:`~tinyhar.training.networks` (the network
branch), :mod:`~tinyhar.training.stages` (post-processing, metrics, summary,
figures), :mod:`~tinyhar.training.sessions` (out-of-core, session by session)
and :mod:`~tinyhar.training.presets` (network presets). Their public names are
importable from here, imported on first use (:mod:`tinyhar.lazy`): a program that
needs one of them (``from tinyhar.training.trees import build_pipeline``) does not
import the others (evaluation, figures, networks).
"""

from __future__ import annotations

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.evaluate": ("check_evaluation_out", "choose_unseen_subjects", "evaluate_continuous",
                         "evaluate_run", "evaluation_windows", "select_unseen_subjects",
                         "shares_subjects", "write_evaluation"),
    "tinyhar.models.pipeline": ("PIPELINE_FILE",),
    "tinyhar.training.job": ("store_test_windows", "train"),
    "tinyhar.training.networks": ("make_network",),
    "tinyhar.training.presets": ("PRESET_DATA", "apply_preset", "preset_test_subjects"),
    "tinyhar.training.sessions": ("OUT_OF_CORE_BYTES", "out_of_core_plan", "reads_by_session"),
    "tinyhar.training.splits": ("cross_validate", "loso_folds", "split_windows"),
    "tinyhar.training.stages": ("check_postprocess_config",),
    "tinyhar.training.trees": ("augment_features", "build_pipeline", "check_leaf_size",
                               "compute_features", "training_rows"),
    "tinyhar.windows.source": ("load_data", "make_window_set"),
})

