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
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console

import tinyhar
from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import RecordingSet, natural_key
from tinyhar.errors import ConfigError, EvaluationError, TinyharError
from tinyhar.evaluate import (  # noqa: F401 (evaluating a run lives in tinyhar.evaluate)
    check_evaluation_out,
    choose_unseen_subjects,
    evaluate_continuous,
    evaluate_run,
    evaluation_windows,
    select_unseen_subjects,
    shares_subjects,
    write_evaluation,
)
from tinyhar.evaluation.metrics import (
    check_labels,
    classification_metrics,
    score_predictions,
)
from tinyhar.evaluation.splits import (
    RANDOM_SPLIT_WARNING,
    auto_test_subjects,
    group_kfold,
    holdout_split,
    random_split,
)
from tinyhar.models.kinds import NETWORK_KINDS
from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.reporting.figures import score_figures
from tinyhar.reporting.progress import progress_bar as _progress
from tinyhar.reporting.text import plural, subject_list
from tinyhar.runfolder import (
    CONFIG_FILE,
    MAX_TEST_WINDOWS,
    METRICS_FILE,
    NETWORK_DATA_FILE,
    SUMMARY_FILE,
    write_run,
    write_test_windows,
    write_text_atomic,
)
from tinyhar.windows.gravity import gravity_reference
from tinyhar.windows.source import load_data, make_window_set, wanted_channels
from tinyhar.windows.windowing import make_windows, to_samples


def _subject_wise_split(windows: WindowSet) -> list[str] | None:
    """The test subjects of the data set's own split, if that split is by subject.

    A split that puts windows of one subject on both sides (e.g. the per-user
    ``is_test`` of the WISDM windows file) is not subject-independent and is
    not used (None).
    """
    if windows.split is None or not np.any(windows.split == "test"):
        return None
    test = set(windows.subject[windows.split == "test"])
    train = set(windows.subject[windows.split != "test"])
    if test & train:
        return None
    return sorted(test, key=natural_key)


def _official_test_subjects(name: str) -> tuple[str, ...]:
    """The publisher's test subjects of the named data set (empty when none or unnamed)."""
    info = DATASETS.get(name)
    return info.official_test_subjects if info is not None else ()


def split_windows(
    windows: WindowSet, cfg: TrainConfig, console: Console | None = None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Split windows into training and test indices as configured.

    With ``evaluation.protocol: loso`` there is no hold-out split: both index
    arrays hold every window (each subject is tested in its own
    cross-validation fold, see :func:`loso_folds`).

    Returns
    -------
    train_idx, test_idx : numpy.ndarray of int
    protocol : str
        A description of the protocol used.
    leakage : str or None
        A warning text when the split leaks subjects.

    Raises
    ------
    EvaluationError
        Too few subjects, or unknown test subjects.
    """
    ev = cfg.evaluation
    if ev.protocol == "loso":
        k = loso_folds(windows.subject, ev.cv_folds)
        n = len(windows.subjects)
        every = np.arange(len(windows))
        desc = (
            f"leave-one-subject-out cross-validation ({plural(k, 'fold')})"
            if k == n
            else f"cross-validation by subject over all subjects ({plural(k, 'fold')} of about "
            f"{n / k:.1f} subjects)"
        )
        return every, every, desc + "; final model fitted on all subjects", None
    if ev.protocol == "random":
        tr, te = random_split(len(windows), ev.test_fraction, cfg.seed, stratify=windows.y)
        protocol = f"random window split ({ev.test_fraction:.0%} test) -- LEAKS SUBJECTS"
        return tr, te, protocol, RANDOM_SPLIT_WARNING
    subjects = ev.test_subjects
    desc = "hold-out test subjects"
    if subjects == "official":
        by_subject = _subject_wise_split(windows)
        if by_subject is not None:
            subjects = by_subject
            desc = "official test subjects"
        elif _official_test_subjects(windows.name):
            subjects = list(_official_test_subjects(windows.name))
            desc = "official test subjects (UCI HAR split)"
        else:
            subjects = "auto"
            if console:
                why = (
                    "its train/test split puts windows of the same subjects on both sides"
                    if windows.split is not None and np.any(windows.split == "test")
                    else "it has no official split"
                )
                console.print(
                    f"[yellow]{windows.name!r}: {why}; holding out "
                    f"{ev.test_fraction:.0%} of the subjects instead (seed {cfg.seed})[/]"
                )
    if subjects == "auto":
        subjects = auto_test_subjects(windows.subject, ev.test_fraction, cfg.seed)
        desc = (
            f"hold-out test subjects (random {ev.test_fraction:.0%} of subjects, seed {cfg.seed})"
        )
    tr, te = holdout_split(windows.subject, subjects)
    return tr, te, desc, None


def compute_features(
    pipeline: HarPipeline, windows: WindowSet, what: str, console: Console
) -> np.ndarray:
    """:meth:`HarPipeline.transform` with a progress bar labelled ``what``."""
    with _progress(console) as progress:
        task = progress.add_task(f"features ({what})", total=len(windows))
        return pipeline.transform(windows, on_chunk=lambda n: progress.advance(task, n))


def build_pipeline(
    windows: WindowSet, cfg: TrainConfig, hop_samples: int | None = None,
    check_size: bool = True,
) -> HarPipeline:
    """An unfitted-model pipeline for these windows and this configuration.

    Parameters
    ----------
    windows : WindowSet
        Training windows ``(n_windows, n_samples, n_channels)``; their
        :attr:`~WindowSet.spec` becomes the pipeline's window spec.
    cfg : TrainConfig
        Feature and model settings.
    hop_samples : int, optional
        The hop of windows made without :func:`make_windows` (arrays wrapped
        by hand); by default the windows' own ``hop_samples``.
    check_size : bool
        The windows are all the data: check the leaf size against their number
        (:func:`check_leaf_size`); the out-of-core path passes a sample and checks
        the total later.
    """
    from tinyhar.features import FeatureExtractor

    nyquist = windows.sampling_rate_hz / 2
    if cfg.features.gravity_cutoff_hz >= nyquist:
        raise ConfigError(
            f"features.gravity_cutoff_hz: {cfg.features.gravity_cutoff_hz:g} Hz is not below "
            f"the Nyquist frequency ({nyquist:g} Hz) of the {windows.sampling_rate_hz:g} Hz "
            "windows; use a lower cut-off (default 0.3 Hz)"
        )
    extractor = FeatureExtractor(
        sampling_rate_hz=windows.sampling_rate_hz,
        channels=tuple(windows.channels),
        feature_set=cfg.features.set,
        gravity_cutoff_hz=cfg.features.gravity_cutoff_hz,
        gravity_order=cfg.features.gravity_order,
        bands_hz=cfg.features.bands_hz,
    )
    extractor.fit(windows.X[:1])
    m = cfg.model
    model = TreeEnsembleClassifier(
        kind=m.kind,
        n_estimators=m.n_estimators,
        max_depth=m.max_depth,
        min_samples_leaf=m.min_samples_leaf,
        max_features=m.max_features,
        class_weight=m.class_weight,
        random_state=cfg.seed,
    )
    spec = windows.spec
    pipeline = HarPipeline(
        extractor=extractor,
        model=model,
        channels=list(spec.channels),
        sampling_rate_hz=spec.sampling_rate_hz,
        n_samples=spec.n_samples,
        hop_samples=spec.hop_samples if hop_samples is None else hop_samples,
        stack_previous=cfg.features.stack_previous,
        classes=list(windows.classes),
    )
    n_features = len(pipeline.feature_names)
    if isinstance(m.max_features, int) and m.max_features > n_features:
        raise ConfigError(
            f"model.max_features: {m.max_features} is more than the {n_features} features of "
            f"the {cfg.features.set!r} set; use at most {n_features}, a fraction in (0, 1] "
            "or sqrt"
        )
    if check_size:
        check_leaf_size(cfg, len(windows))
    return pipeline


def check_leaf_size(cfg: TrainConfig, n_windows: int) -> None:
    """Refuse a ``model.min_samples_leaf`` that leaves no split for ``n_windows`` windows.

    Raises
    ------
    ConfigError
        If ``2 * min_samples_leaf > n_windows`` (every prediction would be the
        majority class).
    """
    m = cfg.model
    if 2 * m.min_samples_leaf > n_windows:
        raise ConfigError(
            f"model.min_samples_leaf: {m.min_samples_leaf} windows per leaf, but the data set "
            f"has {n_windows} windows, so no tree could make a single split (every "
            f"prediction would be the majority class); use at most {max(1, n_windows // 2)}, "
            "typically 1-20"
        )


def loso_folds(subjects: np.ndarray, cv_folds: int) -> int:
    """Number of folds of ``evaluation.protocol: loso`` for these subjects.

    ``cv_folds`` 0, or at least the number of subjects, means one subject per
    fold (leave-one-subject-out); 2 <= ``cv_folds`` < number of subjects
    gives that many folds of whole subjects (``GroupKFold``).

    Parameters
    ----------
    subjects : numpy.ndarray of str, shape (n_windows,)
    cv_folds : int

    Returns
    -------
    int
        The number of folds.

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects.
    ConfigError
        ``cv_folds`` is 1.
    """
    n = len(set(np.asarray(subjects, dtype=object).tolist()))
    if n < 2:
        raise EvaluationError(
            f"evaluation.protocol loso needs at least 2 subjects, found {n}: record more people"
        )
    if cv_folds == 1:
        raise ConfigError(
            "evaluation.cv_folds: 1 fold cannot cross-validate; with protocol loso use 0 "
            "(one subject per fold) or a number of folds >= 2"
        )
    return n if cv_folds == 0 or cv_folds >= n else int(cv_folds)


def cross_validate(
    windows: WindowSet,
    fit_predict,
    n_folds: int,
    console: Console,
    scope: str = "training subjects",
    map_folds=None,
) -> tuple[dict | None, np.ndarray | None]:
    """Leave-subjects-out cross-validation (``GroupKFold`` by subject).

    Parameters
    ----------
    windows : WindowSet
        The windows to cross-validate on, shape (n_windows, n_samples,
        n_channels): the training subjects (hold-out protocol) or all
        subjects (``loso``).
    fit_predict : callable
        ``fit_predict(train_idx, test_idx) -> y_pred`` fits a fresh model on
        the windows ``train_idx`` and returns its labels for ``test_idx``.
    n_folds : int
        Number of folds (reduced to the number of subjects).
    console : rich.console.Console
        Progress display.
    scope : str
        ``"training subjects"`` or ``"all subjects"`` (recorded as ``scope``).
    map_folds : callable, optional
        ``map_folds(func, splits)`` yields ``func(split)`` in order (e.g. on
        threads: :func:`tinyhar.compute.map_in_order`); serial by default.

    Returns
    -------
    cv : dict or None
        ``n_folds``, ``scope``, ``subjects_per_fold``,
        ``macro_f1_mean/std``, ``accuracy_mean/std`` (mean and population
        standard deviation over folds), ``pooled`` (accuracy,
        balanced accuracy and macro-F1 of all folds' predictions
        concatenated) and ``folds`` (per fold: test subjects, windows,
        accuracy, macro-F1); None when there are fewer than 2 subjects or
        ``n_folds`` < 2.
    pooled_pred : numpy.ndarray of str, shape (n_windows,) or None
        Every window's label as predicted by the fold model that did not see
        its subject.
    """
    if n_folds < 2 or len(windows.subjects) < 2:
        return None, None
    folds = []
    pooled = np.empty(len(windows), dtype=object)
    splits = list(group_kfold(windows.subject, n_folds))
    results = (map_folds(lambda split: fit_predict(*split), splits) if map_folds
               else (fit_predict(tr, te) for tr, te in splits))
    with _progress(console) as progress:
        task = progress.add_task(f"cross-validation ({scope})", total=len(splits))
        for (_, te), pred in zip(splits, results, strict=True):
            pooled[te] = pred
            m = classification_metrics(windows.y[te], pooled[te], windows.classes)
            folds.append(
                {
                    "test_subjects": sorted(set(windows.subject[te]), key=natural_key),
                    "n_windows": int(len(te)),
                    "accuracy": m["accuracy"],
                    "macro_f1": m["macro_f1"],
                }
            )
            progress.advance(task)
    f1 = np.array([f["macro_f1"] for f in folds])
    acc = np.array([f["accuracy"] for f in folds])
    sizes = sorted({len(f["test_subjects"]) for f in folds})
    per_fold = (
        plural(sizes[0], "subject") if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]} subjects"
    )
    total = classification_metrics(windows.y, pooled, windows.classes)
    return {
        "n_folds": len(folds),
        "scope": scope,
        "subjects_per_fold": f"{per_fold} per fold",
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "pooled": {
            "accuracy": total["accuracy"],
            "balanced_accuracy": total["balanced_accuracy"],
            "macro_f1": total["macro_f1"],
        },
        "folds": folds,
    }, pooled


PRESET_DATA = {
    "ucihar-lstm": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "small-cnn": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "ucihar-cnn": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "wisdm-bilstm": {
        "dataset": {"name": "wisdm-windows", "sensors": "acc"},
        "test_subjects": "tutorial",
    },
    "tiny-cnn": {
        "dataset": {"name": "wisdm-windows", "sensors": "acc"},
        "test_subjects": "tutorial",
    },
}
"""Data and evaluation each network preset was made for.

``dataset``: the data set (used unless the user names another one);
``test_subjects``: ``"tutorial"`` to hold out the data set's
:attr:`~tinyhar.datasets.info.DatasetInfo.tutorial_test_subjects` (used unless
the user sets ``evaluation.test_subjects``, and only when the data set in use has
such subjects). The UCI HAR presets keep the data set's official subject split;
the WISDM presets hold out the tutorial's users 31-36 (the derived WISDM windows
carry no per-subject split of their own). ``tiny-cnn`` uses the same split as
``wisdm-bilstm`` so that the two compare directly.
"""


def preset_test_subjects(preset: str, dataset: object) -> list[str]:
    """The hold-out test subjects a network preset's protocol uses on a data set.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESET_DATA`.
    dataset : str
        The data set in use (``dataset.name``).

    Returns
    -------
    list of str
        The data set's tutorial test subjects when the preset follows the
        tutorial split (:data:`PRESET_DATA`) and the data set has one; else
        empty (the data set's official or automatic split applies).
    """
    if PRESET_DATA.get(preset, {}).get("test_subjects") != "tutorial":
        return []
    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    return list(info.tutorial_test_subjects) if info is not None else []


def apply_preset(data: dict, name: str) -> dict:
    """Fill a configuration mapping from a neural-network preset.

    Sets ``model.kind``/``model.preset``, the preset's data set (when the
    mapping still has the default one), the preset's test subjects for that
    data set (when ``evaluation.test_subjects`` is still the default) and,
    for recordings, its window length and hop in samples. Keys the preset
    does not define are left alone.

    Parameters
    ----------
    data : dict
        Configuration mapping (sections may be missing); not modified.
    name : str
        A key of :data:`tinyhar.models.nn.presets.PRESETS`.

    Returns
    -------
    dict
        The updated copy.

    Raises
    ------
    ConfigError
        Unknown preset name (the message lists the presets).
    """
    from tinyhar.models.nn.presets import get_preset

    preset = get_preset(name)
    data = dict(data)
    for section in ("dataset", "windows", "model", "evaluation"):
        value = data.get(section)
        data[section] = dict(value) if isinstance(value, dict) else ({} if value is None else value)
    if not all(isinstance(data[s], dict) for s in ("dataset", "windows", "model", "evaluation")):
        return data  # a section that is not a mapping: make_config reports it
    data["model"]["kind"] = preset.estimator_params["architecture"]
    data["model"]["preset"] = name
    recipe = PRESET_DATA.get(name, {})
    if data["dataset"].get("name", "hapt") == "hapt" and "dataset" in recipe:
        data["dataset"].update(recipe["dataset"])
    split = preset_test_subjects(name, data["dataset"].get("name"))
    if split and data["evaluation"].get("test_subjects", "official") == "official":
        data["evaluation"]["test_subjects"] = list(split)
    window = preset.window
    if window.get("n_samples") and window.get("hop"):
        data["windows"].update(
            {"window": window["n_samples"], "hop": window["hop"], "unit": "samples"}
        )
    return data


def train(
    cfg: TrainConfig,
    out_dir: str | Path,
    console: Console | None = None,
    overwrite: bool = False,
) -> dict:
    """Run the whole training job and write the run folder.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved configuration.
    out_dir : str or Path
        Run folder. It appears only when the run is complete (written in a
        temporary sibling folder, ``manifest.json`` last, then renamed: see
        :mod:`tinyhar.runfolder`); an interrupted or failed run leaves it as it was.
    console : rich.console.Console, optional
        Where progress and messages go (default: a quiet console).
    overwrite : bool, default False
        Replace an existing run folder (atomically); without it an existing
        non-empty ``out_dir`` is refused before any work is done.

    Returns
    -------
    dict
        The content of ``metrics.json``. A figure that could not be written is
        listed in ``figures_failed`` (file, error); the results are kept.

    Raises
    ------
    TinyharError
        Any user-facing problem with the data, the configuration or the run
        folder (exists, is being written by another run, cannot be written).
    """
    console = console or Console(quiet=True)
    with write_run(out_dir, overwrite=overwrite, seed=cfg.seed) as out:
        return _train_into(cfg, out, console)


def _train_into(cfg: TrainConfig, out: Path, console: Console) -> dict:
    """Body of :func:`train`: everything is written into ``out``, the temporary folder."""
    from sklearn.base import clone

    t_start = time.perf_counter()
    np.random.seed(cfg.seed)
    if reads_by_session(cfg):
        return _train_from_sessions(cfg, out, console, t_start)

    console.print(f"loading data set [bold]{cfg.dataset.name}[/]")
    data = load_data(cfg)
    check_postprocess_config(cfg, isinstance(data, RecordingSet))
    windows, wreport = make_window_set(data, cfg)
    hop = windows.hop_samples  # cut by make_windows; None for pre-cut windows
    console.print(
        f"{plural(len(windows), 'window')} of {windows.n_samples} samples at "
        f"{windows.sampling_rate_hz:g} Hz, "
        f"{plural(len(windows.subjects), 'subject')}, channels {windows.channels}"
    )
    check_labels(windows.y, windows.classes, "the data set")
    tr, te, protocol, leakage = split_windows(windows, cfg, console)
    train_w, test_w = windows.subset(tr), windows.subset(te)
    check_labels(train_w.y, windows.classes, "the training subjects")
    test_note = store_test_windows(out, train_w, test_w, protocol)

    if cfg.model.kind in NETWORK_KINDS:
        return _train_network(
            cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start, data,
            test_note,
        )
    pipeline = build_pipeline(windows, cfg, hop)
    loso = cfg.evaluation.protocol == "loso"
    f_train = compute_features(
        pipeline, train_w, "all subjects" if loso else "training subjects", console
    )
    f_test = f_train if loso else compute_features(pipeline, test_w, "test subjects", console)

    fold_models: list = []  # (held-out subjects, fold model): cross-validated probabilities
    augmented = augment_features(pipeline, train_w, cfg, console)

    def fit_predict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        model = clone(pipeline.model).fit(*training_rows(f_train, train_w.y, augmented, a))
        fold_models.append((set(train_w.subject[b]), model))
        return model.predict(f_train[b])

    cv, pooled = _cross_validation(cfg, train_w, fit_predict, console)
    console.print(f"fitting the final model on all {'' if loso else 'training '}subjects")
    pipeline.model.fit(*training_rows(f_train, train_w.y, augmented))
    pred = pooled if loso else pipeline.model.predict(f_test)
    metrics = score_predictions(test_w, pred, windows.classes)
    pipeline.info = {"config": cfg.model_dump(mode="json"), "dataset": windows.name}

    size = pipeline.model.size()
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage, wreport))
    metrics["test_windows_note"] = test_note
    metrics.update(
        {
            "model_size": size,
            "n_features": int(f_train.shape[1]),
            "feature_set": cfg.features.set,
            "cross_validation": cv,
        }
    )
    metrics["postprocess"] = _postprocess_stage(
        cfg, data, pipeline, fold_models, train_w, test_w, out, console, f_train
    )
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / CONFIG_FILE)
    figures = _figures(metrics, train_w, pipeline=pipeline)
    return _finish(metrics, out, t_start, console, figures)


def augment_features(pipeline: HarPipeline, train_w: WindowSet, cfg: TrainConfig,
                     console: Console) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Features of the rotated copies of the training windows (``augment:``), or None.

    Returns
    -------
    tuple or None
        ``(features, labels, source)``: shape (n_copies * n_windows,
        n_features), the labels, and the index in ``train_w`` of each copy's
        original window (:func:`tinyhar.augment.rotation_copies`, seeded by
        ``cfg.seed``); None when ``augment.rotation`` is ``none``.
    """
    from tinyhar.augment import rotation_copies

    aug = cfg.augment
    if aug.rotation == "none":
        return None
    console.print(f"augmentation: {aug.copies} random rotation(s) of up to {aug.max_deg:g} "
                  "degrees per training window")
    copies = rotation_copies(train_w, aug.copies, aug.max_deg, cfg.seed)
    features = compute_features(pipeline, copies, "rotated copies", console)
    return features, copies.y, np.tile(np.arange(len(train_w)), aug.copies)


def training_rows(features: np.ndarray, y: np.ndarray, augmented, idx: np.ndarray | None = None):
    """Features and labels to fit on: windows ``idx`` (default all) plus their augmented copies."""
    idx = np.arange(len(y)) if idx is None else np.asarray(idx)
    if augmented is None:
        return features[idx], y[idx]
    f_aug, y_aug, source = augmented
    keep = np.isin(source, idx)
    return np.concatenate([features[idx], f_aug[keep]]), np.concatenate([y[idx], y_aug[keep]])


def _cross_validation(
    cfg: TrainConfig, train_w: WindowSet, fit_predict, console: Console, map_folds=None
) -> tuple[dict | None, np.ndarray | None]:
    """The configured cross-validation: on the training subjects (holdout), all (loso)."""
    ev = cfg.evaluation
    if ev.protocol == "loso":
        k = loso_folds(train_w.subject, ev.cv_folds)
        return cross_validate(train_w, fit_predict, k, console, "all subjects", map_folds)
    if ev.protocol == "holdout":
        return cross_validate(train_w, fit_predict, ev.cv_folds, console,
                              map_folds=map_folds)
    return None, None


def store_test_windows(
    out: Path, train_w: WindowSet, test_w: WindowSet, protocol: str
) -> str | None:
    """Store the test windows the final model never sees in the run folder being written.

    Those are the windows of test subjects that are not training subjects
    (:data:`tinyhar.runfolder.TEST_WINDOWS_FILE`, at most
    :data:`~tinyhar.runfolder.MAX_TEST_WINDOWS`, whole sessions in order so
    that ``stack_previous`` sees consecutive windows). The exports check
    their parity on them (:attr:`tinyhar.runfolder.Run.test_windows`).

    Parameters
    ----------
    out : Path
        The temporary run folder.
    train_w, test_w : WindowSet
        Training and test windows of the run.
    protocol : str
        The evaluation protocol, for the note.

    Returns
    -------
    str or None
        Why no windows were stored (e.g. a ``loso`` run trains its final model
        on every subject); None when they were.
    """
    seen = set(train_w.subject.tolist())
    unseen = ~np.isin(test_w.subject, list(seen))
    if not unseen.any():
        return (
            f"every test subject of the run trained its final model (evaluation.protocol "
            f"{protocol!r}), so no windows are unseen by it"
        )
    idx = np.flatnonzero(unseen)
    if len(idx) > MAX_TEST_WINDOWS:
        sessions = test_w.session[idx]
        ends = np.flatnonzero(np.r_[sessions[1:] != sessions[:-1], True]) + 1
        cut = ends[ends <= MAX_TEST_WINDOWS]
        idx = idx[: int(cut[-1]) if len(cut) else MAX_TEST_WINDOWS]
    write_test_windows(out, test_w.subset(idx))
    return None


def make_network(cfg: TrainConfig):
    """The unfitted :class:`~tinyhar.models.nn.NeuralNetClassifier` a configuration describes.

    Raises
    ------
    ConfigError
        Unknown preset or parameter names.
    """
    from tinyhar.models.nn.estimator import NeuralNetClassifier
    from tinyhar.models.nn.presets import check_network_params, make_estimator

    params = {"seed": cfg.seed, **cfg.model.params}
    if cfg.model.preset:
        net = make_estimator(cfg.model.preset, **params)
        if net.architecture != cfg.model.kind:
            raise ConfigError(
                f"model.kind is {cfg.model.kind!r} but preset {cfg.model.preset!r} is a "
                f"{net.architecture!r}: drop one of them"
            )
        return net
    check_network_params(params)
    return NeuralNetClassifier(architecture=cfg.model.kind, **params)


def _train_network(
    cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start, data=None,
    test_note=None,
):
    """Network branch of :func:`train`: fit on raw windows, score, write the run folder."""
    train_w, test_w = windows.subset(tr), windows.subset(te)
    loso = cfg.evaluation.protocol == "loso"
    net = make_network(cfg)

    fold_models: list = []  # (held-out subjects, fold network): cross-validated probabilities

    def fit_predict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fold_net = make_network(cfg)
        fold_net.fit(train_w.X[a], train_w.y[a], groups=train_w.subject[a])
        fold_models.append((set(train_w.subject[b]), fold_net))
        return fold_net.predict(train_w.X[b])

    if cfg.evaluation.protocol != "random" and (loso or cfg.evaluation.cv_folds >= 2):
        console.print(
            f"cross-validation by subject: one {cfg.model.kind} network per fold "
            f"({net.epochs} epochs at most each; evaluation.cv_folds sets the number"
            + ("" if loso else ", 0 turns it off")
            + ")"
        )
    cv, pooled = _cross_validation(cfg, train_w, fit_predict, console)
    console.print(
        f"training a {cfg.model.kind} network ({net.epochs} epochs at most) on "
        f"{plural(len(train_w), 'window')} of {plural(len(train_w.subjects), 'subject')}; "
        "validation on held-out training subjects"
    )
    net.fit(train_w.X, train_w.y, groups=train_w.subject)
    pred = pooled if loso else net.predict(test_w.X)
    metrics = score_predictions(test_w, pred, windows.classes)
    pipeline = HarPipeline(
        extractor=None,
        model=net,
        channels=list(windows.channels),
        sampling_rate_hz=windows.sampling_rate_hz,
        n_samples=windows.n_samples,
        hop_samples=hop,
        stack_previous=False,
        classes=list(windows.classes),
        info={"config": cfg.model_dump(mode="json"), "dataset": windows.name},
    )
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage, wreport))
    metrics["test_windows_note"] = test_note
    metrics.update(
        {
            "validation_subjects": list(getattr(net, "validation_groups_", [])),
            "preset": cfg.model.preset,
            "params": int(net.n_params_),
            "macs": int(net.macs_per_window_),
            "model_size": {
                "params": int(net.n_params_),
                "bytes": int(4 * net.n_params_),
                "nodes": None,
            },
            "best_epoch": int(net.best_epoch_),
            "history": net.history_,
            "cross_validation": cv,
        }
    )
    metrics["postprocess"] = _postprocess_stage(
        cfg, windows if data is None else data, pipeline, fold_models, train_w, test_w, out,
        console,
    )
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / CONFIG_FILE)
    rng = np.random.default_rng(cfg.seed)
    cal = rng.choice(len(train_w), size=min(512, len(train_w)), replace=False)
    chk = np.sort(rng.choice(len(test_w), size=min(1000, len(test_w)), replace=False))
    np.savez_compressed(
        out / NETWORK_DATA_FILE,
        calibration_X=train_w.X[cal],
        calibration_subjects=train_w.subject[cal].astype(str),
        check_X=test_w.X[chk],
        check_y=test_w.y[chk].astype(str),
        check_subjects=test_w.subject[chk].astype(str),
    )
    return _finish(metrics, out, t_start, console, _figures(metrics, train_w, network=net))


def check_postprocess_config(cfg: TrainConfig, recordings: bool, folds: bool = True) -> None:
    """Refuse a ``postprocess:`` choice the run cannot fit, before any work is done.

    Parameters
    ----------
    cfg : TrainConfig
    recordings : bool
        Whether the data are continuous recordings (not pre-cut windows).
    folds : bool
        Whether cross-validation folds exist (False after a CV that did not
        run, e.g. fewer than 2 training subjects).

    Raises
    ------
    ConfigError
        ``mode``/``ema``/``hmm`` on pre-cut windows (no time order), or
        ``hmm`` or ``reject`` without leave-subjects-out CV folds on hold-out
        training subjects to fit its emissions or thresholds on; OOD
        rejection for a network.
    """
    smoothing = cfg.postprocess.smoothing
    if not recordings and smoothing not in ("auto", "none"):
        raise ConfigError(
            f"postprocess.smoothing {smoothing!r} needs continuous recordings, but "
            f"{cfg.dataset.name!r} comes as pre-cut windows without time order: use "
            "postprocess.smoothing: none"
        )
    ev = cfg.evaluation
    reject = cfg.postprocess.reject
    if reject != "none" and not (
        recordings and ev.protocol == "holdout" and ev.cv_folds >= 2 and folds
    ):
        raise ConfigError(
            f"postprocess.reject {reject!r} is calibrated on cross-validated predictions of the "
            "training subjects' recordings: it needs continuous recordings, "
            "evaluation.protocol: holdout, evaluation.cv_folds >= 2 and at least 2 training "
            "subjects (or use reject: none)"
        )
    if reject in ("ood", "both") and cfg.model.kind in NETWORK_KINDS:
        raise ConfigError(
            f"postprocess.reject {reject!r} scores the hand-crafted features of tree models; "
            f"model.kind {cfg.model.kind!r} has none: use reject: probability"
        )
    if smoothing == "hmm" and not (ev.protocol == "holdout" and ev.cv_folds >= 2 and folds):
        raise ConfigError(
            "postprocess.smoothing 'hmm' is fitted on cross-validated predictions of the "
            "training subjects: it needs evaluation.protocol: holdout, evaluation.cv_folds "
            ">= 2 and at least 2 training subjects (or choose smoothing: mode, ema or none)"
        )


def _postprocess_stage(
    cfg: TrainConfig,
    data: RecordingSet | WindowSet,
    pipeline: HarPipeline,
    fold_models: list,
    train_w: WindowSet,
    test_w: WindowSet,
    out: Path,
    console: Console,
    features: np.ndarray | None = None,
) -> dict:
    """Choose and fit the post-processing, score the test streams, write ``postprocess.json``.

    The post-processing (``postprocess:`` in the configuration) is chosen
    (``auto``) or fitted (``hmm``) on the training subjects' whole streams,
    each window classified by the cross-validation fold model that did not
    see its subject (:func:`tinyhar.evaluation.streams.select_on_streams`).
    The test subjects' whole streams (every window, impure and unlabelled
    ones included) are then scored before and after it
    (:func:`tinyhar.evaluation.streams.stream_scores`). Pre-cut windows have
    no streams: only ``none`` applies. With ``postprocess.reject``, the
    rejection thresholds are calibrated on the same cross-validated training
    streams first (OOD scores from OOD models fitted on the training
    ``features`` of each fold's other subjects,
    :func:`tinyhar.evaluation.streams.fold_ood_models`).

    Returns
    -------
    dict
        The ``postprocess`` block of ``metrics.json``: ``description``,
        ``spec`` (options), ``chosen_by``, ``streamable``, ``lag_windows``,
        ``cv`` (CV macro-F1 per option), ``test_streams`` (scores before and
        after, or None) and ``note``.

    Raises
    ------
    ConfigError
        ``mode``/``ema``/``hmm`` on pre-cut windows, or ``hmm`` without
        cross-validation folds to fit it on.
    """
    from tinyhar.evaluation.streams import (
        fold_ood_models,
        select_on_streams,
        stream_predictions,
        stream_scores,
    )
    from tinyhar.postprocess import PostProcessor
    from tinyhar.postprocess.rejection import REJECT_KEYS

    options = cfg.postprocess.model_dump()
    smoothing = options["smoothing"]
    params = {k: v for k, v in options.items()
              if k not in ("smoothing", "streamable_only", *REJECT_KEYS)}
    classes = list(pipeline.classes)
    table: list = []
    scores = None
    note = None
    holdout = cfg.evaluation.protocol == "holdout"
    check_postprocess_config(cfg, isinstance(data, RecordingSet), bool(fold_models))
    if not isinstance(data, RecordingSet):
        spec, chosen = PostProcessor(classes), "none: pre-cut windows have no time order"
    elif smoothing == "auto" and not (holdout and fold_models):
        spec = PostProcessor(classes)
        chosen = "none: auto needs evaluation.protocol holdout with cv_folds >= 2"
    elif smoothing in ("auto", "hmm") or options["reject"] != "none":
        console.print("post-processing: classifying the training subjects' whole streams "
                      "with the cross-validation fold models")
        by_subject = {s: m for subjects, m in fold_models for s in subjects}
        ood_final = ood_cv = None
        if options["reject"] in ("ood", "both"):
            ood_final, ood_by_subject = fold_ood_models(
                features, train_w.y, train_w.subject, [subjects for subjects, _ in fold_models],
                classes, options["ood_var_floor"],
            )
            ood_cv = ood_by_subject.__getitem__
        pred_cv = stream_predictions(
            pipeline, data.select(subjects=train_w.subjects), by_subject.__getitem__,
            ood_model=ood_cv,
        )
        spec, table, chosen = select_on_streams(
            pred_cv, options, cfg.evaluation.cv_folds, options["streamable_only"], ood_final
        )
    else:
        spec, chosen = PostProcessor(classes, smoothing=smoothing, **params), "configured"
    if isinstance(data, RecordingSet) and holdout and len(test_w):
        console.print(f"post-processing {spec.describe()}: scoring the test subjects' "
                      "whole streams")
        pred = stream_predictions(pipeline, data.select(subjects=test_w.subjects),
                                  ood_model=spec.ood_model)
        scores = stream_scores(pred, spec)
    elif isinstance(data, RecordingSet):
        note = "no hold-out test subjects (protocol loso or random): no stream scores"
    return _postprocess_record(spec, chosen, table, scores, note, out)


def _postprocess_record(spec, chosen: str, table: list, scores, note, out: Path) -> dict:
    """Write ``postprocess.json``; the ``postprocess`` block of ``metrics.json``."""
    from tinyhar.runfolder import POSTPROCESS_FILE

    write_text_atomic(out / POSTPROCESS_FILE, json.dumps(spec.to_dict(), indent=2) + "\n")
    state = spec.to_dict()
    state.pop("hmm")
    for key in ("ood_means", "ood_inv_var"):  # in postprocess.json, too long for metrics.json
        state["rejection"].pop(key)
    return {
        "description": spec.describe(),
        "spec": state,
        "chosen_by": chosen,
        "streamable": spec.streamable,
        "lag_windows": spec.lag,
        "cv": [{"postprocess": r["postprocess"], "macro_f1": r["macro_f1"]} for r in table],
        "test_streams": scores,
        "note": note,
    }


def _common_metrics(cfg, windows, train_w, test_w, protocol, leakage, wreport) -> dict:
    """Fields of ``metrics.json`` shared by tree and network runs.

    ``window`` is the :meth:`WindowSpec.to_dict <tinyhar.core.spec.WindowSpec.to_dict>`
    of the windows (for people reading the file; programs read the spec from the
    pipeline, :attr:`tinyhar.runfolder.Run.spec`).
    """
    return {
        "dataset": windows.name,
        "protocol": protocol,
        "leakage_warning": leakage,
        "train_subjects": sorted(set(train_w.subject), key=natural_key),
        "test_subjects": sorted(set(test_w.subject), key=natural_key),
        "n_train_windows": len(train_w),
        "model": cfg.model.kind,
        "window": windows.spec.to_dict(),
        "windowing": wreport,
        # the board's mounting check compares its gravity while standing with this
        "gravity_reference": (gravity_reference(train_w) if isinstance(train_w, WindowSet)
                              else None),
        "seed": cfg.seed,
        "tinyhar_version": tinyhar.__version__,
    }


def _finish(metrics: dict, out: Path, t_start: float, console: Console, figures: list) -> dict:
    """Write ``metrics.json`` and ``summary.md``, then the figures; return the metrics.

    ``figures`` is a list of ``(file name, draw)`` with ``draw(path)`` writing
    the figure. A figure that fails (disk full, a plotting error) never loses the
    results: it is listed in ``metrics["figures_failed"]`` (file and error),
    reported as a warning on the console and in ``summary.md``, and the run is
    still committed. Only ``KeyboardInterrupt`` and the like stop the run.
    """
    metrics["train_seconds"] = time.perf_counter() - t_start
    metrics["figures_failed"] = []
    _write_results(metrics, out)
    for name, draw in figures:
        try:
            draw(out / name)
        except Exception as exc:  # any failure: keep the results, report it
            (out / name).unlink(missing_ok=True)
            error = f"{type(exc).__name__}: {exc}"
            metrics["figures_failed"].append({"file": name, "error": error})
            console.print(f"[yellow]warning: figure {name} was not written ({error})[/]")
    if metrics["figures_failed"]:
        _write_results(metrics, out)
    return metrics


def _write_results(metrics: dict, out: Path) -> None:
    """``metrics.json`` and ``summary.md`` (with a warning for figures that failed)."""
    from tinyhar.reporting.summary import write_summary

    write_text_atomic(out / METRICS_FILE, json.dumps(metrics, indent=2, default=str))
    write_summary(metrics, out / SUMMARY_FILE)
    failed = metrics.get("figures_failed")
    if failed:
        with open(out / SUMMARY_FILE, "a", encoding="utf-8") as f:
            f.write(
                "\n**Warning:** figures not written (the results above are complete): "
                + "; ".join(f"`{x['file']}` ({x['error']})" for x in failed)
                + "\n"
            )


def _figures(
    metrics: dict,
    train_w: WindowSet,
    pipeline: HarPipeline | None = None,
    network=None,
) -> list:
    """``(file name, draw(path))`` of a run's figures: scores, importances or curves, classes."""
    from tinyhar.reporting.plots import (
        plot_class_overview,
        plot_feature_importance,
        plot_training_curves,
    )

    figures = score_figures(metrics)
    dataset = metrics["dataset"]
    test = subject_list(metrics["test_subjects"])
    trained = subject_list(metrics["train_subjects"])
    cv = metrics.get("cross_validation") or {}
    if cv.get("scope") == "all subjects":
        who = f"{trained} (each one tested in its own cross-validation fold)"
        shown = f"from all {trained}"
    else:
        who = f"{trained}\n(test {test})"
        shown = f"from the training {trained}\n(test {test} not shown)"
    if pipeline is not None:
        figures.append((
            "feature_importance.png",
            lambda p: plot_feature_importance(
                pipeline.model.feature_importances_,
                pipeline.feature_names,
                p,
                title=f"{dataset}: model trained on {who}",
            ),
        ))
    if network is not None:
        validation = subject_list(metrics.get("validation_subjects") or [])
        figures.append((
            "training_curves.png",
            lambda p: plot_training_curves(
                network.history_,
                p,
                best_epoch=int(network.best_epoch_),
                title=f"{dataset}, {metrics['model']} training curves; validation "
                f"{validation}; final model trained on {who}",
            ),
        ))
    figures.append((
        "class_overview.png",
        lambda p: plot_class_overview(
            train_w, p, title=f"{dataset}: example windows per class {shown}"
        ),
    ))
    return figures




OUT_OF_CORE_BYTES = 2 * 1024**3
"""``compute.out_of_core: auto`` reads session by session above this much data on disk."""


def reads_by_session(cfg: TrainConfig) -> bool:
    """Whether training reads the data set session by session (``compute.out_of_core``).

    ``auto`` means yes for a dataset definition (``.yaml``) with tree models
    when a parallel scheduler or a feature cache is configured, or the
    definition's files hold more than :data:`OUT_OF_CORE_BYTES`.

    Raises
    ------
    ConfigError
        ``out_of_core: true`` for a network or for data that is not a dataset
        definition.
    """
    c, ds = cfg.compute, cfg.dataset
    definition = Path(ds.name).suffix.lower() in (".yaml", ".yml")
    if c.out_of_core is True:
        if cfg.model.kind in NETWORK_KINDS:
            raise ConfigError(
                "compute.out_of_core: networks read raw windows, which out-of-core reading "
                "does not keep; use a tree model or out_of_core: false"
            )
        if not definition:
            raise ConfigError(
                f"compute.out_of_core: needs a dataset definition (.yaml) to read session by "
                f"session; {ds.name!r} is not one (use out_of_core: false, or describe the "
                "files with `tinyhar datasets init`)"
            )
        return True
    if c.out_of_core is False or not definition or cfg.model.kind in NETWORK_KINDS:
        return False
    if c.scheduler != "serial" or c.cache:
        return True
    from tinyhar.datasets.sessions import session_sources

    size = sum(Path(f).stat().st_size for src in session_sources(ds.name) for f in src.files)
    return size > OUT_OF_CORE_BYTES


class _TableWindows:
    """Feature rows standing in for a WindowSet where only labels and subjects are used.

    ``X`` holds features ``(n_windows, n_features)``, not raw samples; the
    window facts (channels, rate, length) are those the rows were cut with.
    """

    split = None

    def __init__(self, table, classes, name, channels, n_samples, sampling_rate_hz, spec):
        self.table, self.classes, self.name, self.spec_ = table, list(classes), name, spec
        self.channels, self.n_samples = list(channels), n_samples
        self.sampling_rate_hz = sampling_rate_hz
        self.X, self.y, self.subject = table.X, table.y, table.subject
        self.session, self.start_time = table.session, table.start_time

    def __len__(self) -> int:
        return len(self.y)

    @property
    def subjects(self) -> list[str]:
        return sorted(set(self.subject), key=natural_key)

    @property
    def spec(self):
        """The :class:`~tinyhar.core.spec.WindowSpec` the rows were cut with."""
        return self.spec_

    def subset(self, index) -> _TableWindows:
        from tinyhar.features.table import FeatureTable

        t = self.table
        part = FeatureTable(t.X[index], t.y[index], t.subject[index], t.session[index],
                            t.start_time[index], t.feature_names, t.counts)
        return _TableWindows(part, self.classes, self.name, self.channels, self.n_samples,
                             self.sampling_rate_hz, self.spec_)


def _train_from_sessions(cfg: TrainConfig, out: Path, console: Console, t_start: float) -> dict:
    """Tree training from feature rows computed session by session (out-of-core).

    Each session of the dataset definition is read, windowed and featurised on
    its own (:mod:`tinyhar.features.table`; in parallel per ``compute``), so
    memory holds the feature rows, not the raw samples or windows. Then the
    same split, cross-validation (folds on local threads), final fit and
    scores as the in-memory path; the rows are identical, so are the metrics.
    Post-processing: a configured ``mode``/``ema`` filter is recorded;
    ``auto`` and ``hmm``, which are chosen or fitted on whole streams, fall
    back to ``none`` with a note (score whole streams afterwards with
    ``tinyhar evaluate RUN --continuous``).
    """
    from sklearn.base import clone

    from tinyhar import compute
    from tinyhar.datasets.sessions import session_sources, shared_session_names
    from tinyhar.features.table import SessionJob, build_feature_table, settings_key
    from tinyhar.postprocess import PostProcessor

    for key, value in (("postprocess.reject", cfg.postprocess.reject),
                       ("augment.rotation", cfg.augment.rotation)):
        if value != "none":
            raise ConfigError(
                f"{key} {value!r} needs the training windows and whole streams in memory, "
                f"which out-of-core training does not keep: use {key}: none or "
                "compute.out_of_core: false"
            )
    ds, w, c = cfg.dataset, cfg.windows, cfg.compute
    sources = session_sources(ds.name)
    console.print(
        f"reading [bold]{ds.name}[/] session by session: {plural(len(sources), 'source')}, "
        f"scheduler {c.scheduler}" + (f", feature cache {c.cache}" if c.cache else "")
    )
    first = sources[0].load(ds.checks)
    channels = wanted_channels(ds.sensors, first.channels, first.name)
    rate = float(w.target_rate_hz) if w.target_rate_hz else first.sampling_rate_hz
    n_win = to_samples(w.window, w.unit, rate, "window")
    hop = to_samples(w.hop, w.unit, rate, "hop")
    spec = WindowSet(np.zeros((1, n_win, len(channels)), np.float32), [""], [""], [""], [0.0],
                     channels, rate, first.classes, first.name, hop_samples=hop)
    pipeline = build_pipeline(spec, cfg, hop, check_size=False)
    names = list(pipeline.feature_names)
    windowing = dict(window=w.window, hop=w.hop, unit=w.unit, purity=w.purity,
                     target_rate_hz=w.target_rate_hz, channels=channels)
    text = settings_key({"windowing": windowing, "features": names,
                         "extractor": repr(pipeline.extractor.get_params()),
                         "stack_previous": cfg.features.stack_previous})
    prefix = shared_session_names(sources)
    jobs = [SessionJob(s, windowing, pipeline, names, ds.checks, c.cache, text, prefix)
            for s in sources]
    split: dict = {}

    def train_rows_first(labels) -> np.ndarray:
        """Split by subject on the labels alone; order rows training first, then test."""
        classes = first.classes
        extra = sorted(set(labels.y) - set(classes) - {""})
        if extra:  # no class list in the definition: the labels found, sorted
            classes = sorted(set(classes) | set(extra))
        windows = _TableWindows(labels, classes, first.name, channels, n_win, rate, spec.spec)
        console.print(
            f"{plural(len(windows), 'window')} of {n_win} samples at {rate:g} Hz, "
            f"{plural(len(windows.subjects), 'subject')}, channels {channels}"
        )
        check_labels(windows.y, classes, "the data set")
        check_leaf_size(cfg, len(windows))
        tr, te, protocol, leakage = split_windows(windows, cfg, console)
        check_labels(windows.y[tr], classes, "the training subjects")
        same = len(tr) == len(te) and bool(np.all(tr == te))  # loso: every window in both
        split.update(classes=classes, protocol=protocol, leakage=leakage, n_train=len(tr),
                     test=(0, len(tr)) if same else (len(tr), len(tr) + len(te)))
        return tr if same else np.concatenate([tr, te])

    with _progress(console) as progress:
        task = progress.add_task("sessions (read, window, features)", total=len(jobs))
        table, failed = build_feature_table(
            jobs, names,
            lambda f, items: compute.map_in_order(f, items, c.scheduler, c.workers),
            strict=c.strict, on_result=lambda r: progress.advance(task),
            order_rows=train_rows_first,
        )
    for f in failed:
        console.print(f"[yellow]skipped {f.name}: {f.error}[/]")
    classes = split["classes"]
    pipeline.classes = list(classes)
    protocol, leakage = split["protocol"], split["leakage"]
    windows = _TableWindows(table, classes, first.name, channels, n_win, rate, spec.spec)
    # views, not copies: the rows are already in training-then-test order
    train_w = windows.subset(slice(0, split["n_train"]))
    test_w = windows.subset(slice(*split["test"]))
    loso = cfg.evaluation.protocol == "loso"
    fold_models: list = []

    def fit_predict(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        model = clone(pipeline.model).fit(train_w.X[a], train_w.y[a])
        fold_models.append((set(train_w.subject[b]), model))
        return model.predict(train_w.X[b])

    local = "threads" if c.scheduler != "serial" else "serial"
    cv, pooled = _cross_validation(
        cfg, train_w, fit_predict, console,
        lambda f, items: compute.map_in_order(f, items, local, c.workers),
    )
    console.print(f"fitting the final model on all {'' if loso else 'training '}subjects")
    # the trees of the final fit on local threads too (the same forest for any n_jobs:
    # every tree's seed is drawn before they are built)
    pipeline.model.set_params(n_jobs=c.workers if c.scheduler != "serial" else None)
    pipeline.model.fit(train_w.X, train_w.y)
    pipeline.model.set_params(n_jobs=None)
    pred = pooled if loso else pipeline.model.predict(test_w.X)
    metrics = score_predictions(test_w, pred, classes)
    pipeline.info = {"config": cfg.model_dump(mode="json"), "dataset": windows.name}
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage,
                                   table.counts))
    metrics.update({
        "model_size": pipeline.model.size(),
        "n_features": len(names),
        "feature_set": cfg.features.set,
        "cross_validation": cv,
        "out_of_core": {
            "sources": len(sources),
            "skipped": [{"source": f.name, "error": f.error} for f in failed],
            "scheduler": c.scheduler,
            "workers": c.workers,
            "cache": c.cache,
            "feature_rows_mb": round(table.nbytes / 2**20, 1),
        },
    })
    from tinyhar.postprocess.rejection import REJECT_KEYS

    smoothing = cfg.postprocess.smoothing
    params = {k: v for k, v in cfg.postprocess.model_dump().items()
              if k not in ("smoothing", "streamable_only", *REJECT_KEYS)}
    if smoothing in ("mode", "ema", "none"):
        spec_pp, chosen = PostProcessor(classes, smoothing=smoothing, **params), "configured"
    else:
        spec_pp = PostProcessor(classes)
        chosen = (f"none: {smoothing} is chosen or fitted on whole streams, which out-of-core "
                  "training does not hold; set postprocess.smoothing: mode or ema, or "
                  "compute.out_of_core: false")
    metrics["postprocess"] = _postprocess_record(
        spec_pp, chosen, [], None,
        "out-of-core training scores windows only; score whole streams with "
        "`tinyhar evaluate RUN --continuous`", out,
    )
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / CONFIG_FILE)
    unseen = set(test_w.subject) - set(train_w.subject)
    if unseen:
        stored = _raw_windows(sources, unseen, ds.checks, windowing, prefix, classes,
                              limit=MAX_TEST_WINDOWS)
        if stored is not None:
            write_test_windows(out, stored)
        metrics["test_windows_note"] = (None if stored is not None else
                                        "no session of the test subjects could be read again")
    else:
        metrics["test_windows_note"] = (
            f"every test subject of the run trained its final model (evaluation.protocol "
            f"{cfg.evaluation.protocol!r}), so no windows are unseen by it")
    examples = _raw_windows(sources, set(train_w.subject), ds.checks, windowing, prefix,
                            classes, per_class=3)
    if examples is not None:  # a few windows per class: a rough reference
        metrics["gravity_reference"] = gravity_reference(examples)
    figures = _figures(metrics, examples, pipeline=pipeline)
    if examples is None:
        figures = [f for f in figures if f[0] != "class_overview.png"]
    return _finish(metrics, out, t_start, console, figures)


def _raw_windows(sources, subjects: set, checks, windowing: dict, prefix: bool,
                 classes: list[str], per_class: int | None = None,
                 limit: int | None = None) -> WindowSet | None:
    """Raw windows of ``subjects``, read one session at a time (out-of-core runs).

    With ``per_class``, a few windows of each class for ``class_overview.png``
    (sessions are read until every class has them, at most 30 sessions); with
    ``limit``, whole sessions in order up to that many windows (the run's
    stored test windows, :data:`tinyhar.runfolder.MAX_TEST_WINDOWS`). Memory
    stays bounded by one session plus what is kept. None when no session of
    ``subjects`` could be read.
    """
    found: dict[str, int] = dict.fromkeys(classes, 0)
    parts, total = [], 0
    for k, source in enumerate(sources):
        if per_class is not None and k >= 30:
            break
        if source.subject is not None and source.subject not in subjects:
            continue
        try:
            recordings = source.load(checks)
        except TinyharError:
            continue  # reported when its features were computed
        if prefix:
            frame = recordings.frame
            frame["session"] = frame["subject"].astype(str) + "-" + frame["session"].astype(str)
        w, _ = make_windows(recordings, **windowing)
        mine = np.isin(w.subject, list(subjects))
        if per_class is None:
            sessions = w.session[mine]
            ends = np.flatnonzero(np.r_[sessions[1:] != sessions[:-1], True]) + 1 \
                if len(sessions) else np.zeros(0, int)
            fits = ends[total + ends <= limit]
            if not len(fits):
                break
            keep = np.flatnonzero(mine)[: int(fits[-1])]
            parts.append(w.subset(keep))
            total += len(keep)
            if len(fits) < len(ends):
                break
            continue
        keep = np.zeros(len(w), bool)
        for c in classes:
            take = np.flatnonzero((w.y == c) & mine)[: per_class - found[c]]
            keep[take] = True
            found[c] += len(take)
        if keep.any():
            parts.append(w.subset(keep))
        if all(n >= per_class for n in found.values()):
            break
    if not parts:
        return None
    first = parts[0]
    return WindowSet(
        np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
        np.concatenate([p.subject for p in parts]), np.concatenate([p.session for p in parts]),
        np.concatenate([p.start_time for p in parts]), first.channels, first.sampling_rate_hz,
        list(classes), first.name, hop_samples=first.hop_samples,
    )
