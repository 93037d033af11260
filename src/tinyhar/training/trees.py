"""The tree pipeline of a run and the feature rows it is fitted on.

:func:`build_pipeline` makes the unfitted :class:`~tinyhar.models.pipeline.HarPipeline`
(feature extractor and size-budgeted tree ensemble) a configuration describes;
:func:`feature_pipeline` its feature part alone, without importing
scikit-learn (what session tasks need, so that they can be sent to workers
before this process imports it); :func:`compute_features`,
:func:`augment_features` and :func:`training_rows` give the rows (windows and
their rotated copies) it is fitted on. This module imports scikit-learn only
inside the functions that need it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rich.console import Console

from tinyhar.config import TrainConfig
from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError
from tinyhar.models.pipeline import HarPipeline
from tinyhar.reporting.progress import progress_bar as _progress


def compute_features(
    pipeline: HarPipeline, windows: WindowSet, what: str, console: Console
) -> np.ndarray:
    """:meth:`HarPipeline.transform` with a progress bar labelled ``what``."""
    with _progress(console) as progress:
        task = progress.add_task(f"features ({what})", total=len(windows))
        return pipeline.transform(windows, on_chunk=lambda n: progress.advance(task, n))


def extractor_settings(cfg: TrainConfig, sampling_rate_hz: float,
                       channels: list[str] | tuple[str, ...]) -> dict:
    """The feature-extractor parameters of a configuration for windows of this rate and channels.

    The keyword arguments of
    :class:`~tinyhar.features.extractor.FeatureExtractor` and of
    :meth:`~tinyhar.features.engine.PlanFeatures.build` (``cfg.features``:
    set, gravity filter, bands), so that the extractor of
    :func:`build_pipeline` and the features of :func:`feature_pipeline` are
    the same.

    Parameters
    ----------
    cfg : TrainConfig
    sampling_rate_hz : float
        Sampling rate of the windows in Hz.
    channels : sequence of str
        Their channels, in order.

    Returns
    -------
    dict
        ``sampling_rate_hz``, ``channels`` (tuple), ``feature_set``,
        ``gravity_cutoff_hz``, ``gravity_order``, ``bands_hz``.

    Raises
    ------
    ConfigError
        ``features.gravity_cutoff_hz`` not below the Nyquist frequency.
    """
    f = cfg.features
    nyquist = sampling_rate_hz / 2
    if f.gravity_cutoff_hz >= nyquist:
        raise ConfigError(
            f"features.gravity_cutoff_hz: {f.gravity_cutoff_hz:g} Hz is not below the Nyquist "
            f"frequency ({nyquist:g} Hz) of the {sampling_rate_hz:g} Hz windows; use a lower "
            "cut-off (default 0.3 Hz)"
        )
    return {"sampling_rate_hz": sampling_rate_hz, "channels": tuple(channels),
            "feature_set": f.set, "gravity_cutoff_hz": f.gravity_cutoff_hz,
            "gravity_order": f.gravity_order, "bands_hz": f.bands_hz}


def build_pipeline(
    windows: WindowSet, cfg: TrainConfig, hop_samples: int | None = None,
    check_size: bool = True,
) -> HarPipeline:
    """An unfitted-model pipeline for these windows and this configuration.

    Its extractor (:func:`extractor_settings`) computes the features of
    :func:`feature_pipeline` for the same windows and configuration: its
    :meth:`~tinyhar.models.pipeline.HarPipeline.features_only` equals that.

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

    Raises
    ------
    ConfigError
        A gravity cut-off not below the Nyquist frequency
        (:func:`extractor_settings`), ``model.max_features`` above the number
        of features, or (``check_size``) a leaf size too large for the windows.
    """
    from tinyhar.features import FeatureExtractor
    from tinyhar.models.trees import TreeEnsembleClassifier

    extractor = FeatureExtractor(
        **extractor_settings(cfg, windows.sampling_rate_hz, windows.channels))
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
    if hop_samples is not None:
        spec = dataclasses.replace(spec, hop_samples=hop_samples)
    pipeline = HarPipeline.from_spec(
        spec,
        extractor=extractor,
        model=model,
        stack_previous=cfg.features.stack_previous,
        classes=list(windows.classes),
    )
    _check_max_features(cfg, len(pipeline.feature_names))
    if check_size:
        check_leaf_size(cfg, len(windows))
    return pipeline


def feature_pipeline(spec: WindowSpec, cfg: TrainConfig, classes: list[str]) -> HarPipeline:
    """The feature part of :func:`build_pipeline`, built without importing scikit-learn.

    What the per-session feature tasks need (:mod:`tinyhar.features.table`),
    made from the configuration and the window layout alone, so that a
    process can send those tasks to its workers before it imports
    scikit-learn for the model (about 0.5 s).

    Parameters
    ----------
    spec : WindowSpec
        Channels, sampling rate (Hz), samples per window and hop (samples)
        of the training windows.
    cfg : TrainConfig
        Feature (and model: ``max_features`` is checked) settings.
    classes : list of str
        The data set's classes.

    Returns
    -------
    HarPipeline
        Equal to ``build_pipeline(windows, cfg, hop).features_only()`` for
        windows of this spec: the extractor is the
        :class:`~tinyhar.features.engine.PlanFeatures` of
        :func:`extractor_settings` (the same features bit for bit), no model.

    Raises
    ------
    ConfigError
        As :func:`build_pipeline` (without the leaf-size check).
    DataFormatError
        Windows too short for the feature set.
    """
    from tinyhar.features.engine import PlanFeatures

    features = PlanFeatures.build(
        spec.n_samples, **extractor_settings(cfg, spec.sampling_rate_hz, spec.channels))
    pipeline = HarPipeline.from_spec(spec, extractor=features, model=None,
                                     stack_previous=cfg.features.stack_previous,
                                     classes=list(classes))
    _check_max_features(cfg, len(pipeline.feature_names))
    return pipeline


def _check_max_features(cfg: TrainConfig, n_features: int) -> None:
    """Refuse an integer ``model.max_features`` above the number of features (ConfigError)."""
    m = cfg.model
    if isinstance(m.max_features, int) and m.max_features > n_features:
        raise ConfigError(
            f"model.max_features: {m.max_features} is more than the {n_features} features of "
            f"the {cfg.features.set!r} set; use at most {n_features}, a fraction in (0, 1] "
            "or sqrt"
        )


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


def fit_fold(shared: dict, split: tuple[np.ndarray, np.ndarray] | None):
    """One cross-validation fold, or the final fit, as a task (:func:`tinyhar.compute.map_shared`).

    Parameters
    ----------
    shared : dict
        ``model`` (an unfitted estimator, cloned for each task), ``X`` (its
        inputs: features, shape (n_windows, n_features), or raw windows,
        shape (n_windows, n_samples, n_channels), for a network), ``y``
        (labels, shape (n_windows,)) and optionally ``augmented`` (the
        rotated copies of :func:`augment_features`, or None) and ``groups``
        (the subject of each window, shape (n_windows,), passed to the
        ``fit`` of a model that takes ``groups``: a network's validation
        subjects): the rows of every fold, sent to each worker once.
    split : tuple of numpy.ndarray or None
        ``(train_idx, test_idx)``: fit on the rows ``train_idx`` (and their
        augmented copies, :func:`training_rows`) and predict the rows
        ``test_idx``; None: fit on all rows.

    Returns
    -------
    tuple or estimator
        ``(fold_model, y_pred)``: the model fitted on ``train_idx`` and its
        labels for ``test_idx`` (shape (len(test_idx),)); with ``split`` None,
        the model fitted on all rows. The model's seed fixes it (a tree
        ensemble's trees; a network's initial weights, dropout, shuffling and
        validation subjects, with its thread count), so the result does not
        depend on where the task runs.
    """
    from sklearn.base import clone

    X, y, augmented = shared["X"], shared["y"], shared.get("augmented")
    groups = shared.get("groups")
    idx = None if split is None else split[0]
    model = clone(shared["model"])
    if groups is not None:
        groups = groups if idx is None else groups[idx]
    rows = (X, y) if idx is None and augmented is None else training_rows(X, y, augmented, idx)
    model.fit(*rows, **({} if groups is None else {"groups": groups}))
    if split is None:
        return model
    return model, model.predict(X[split[1]])


def fit_with_folds(cfg: TrainConfig, pipeline: HarPipeline, train_w, features: np.ndarray,
                   console: Console, augmented=None) -> tuple[dict | None, np.ndarray | None,
                                                                  list]:
    """Cross-validate and fit ``pipeline.model``: the folds and the final fit as tasks.

    The one fold path of training, trees and networks, in memory and out of
    core: the folds of the configured cross-validation
    (:func:`tinyhar.training.splits.cross_validate`, leave-subjects-out) and
    the final fit run as :func:`fit_fold` tasks on the configured scheduler
    (``compute.scheduler``/``workers``, :func:`tinyhar.compute.map_shared`;
    the final fit first, the longest task), the rows sent to each worker
    once. A model whose ``fit`` takes ``groups`` (a network) gets the
    training windows' subjects. Warnings of tasks that ran in worker
    processes are shown here, as those of local tasks are
    (:func:`tinyhar.compute.map_shared`). Every model is
    seeded, so the metrics are those of ``serial`` whatever the scheduler (a
    network's thread count is its own ``n_threads``, 1 by default, in every
    task).

    Parameters
    ----------
    cfg : TrainConfig
        ``evaluation`` (protocol, folds) and ``compute`` (scheduler, workers).
    pipeline : HarPipeline
        Its ``model`` (unfitted) is replaced by the final fit.
    train_w : WindowSet or window-like
        The windows to cross-validate on (``y``, ``subject``, ``classes``).
    features : numpy.ndarray, shape (n_windows, n_features)
        Their model inputs (a network's: the raw windows, shape (n_windows,
        n_samples, n_channels)).
    console : rich.console.Console
    augmented : tuple, optional
        Rotated copies of the windows (:func:`augment_features`).

    Returns
    -------
    cv : dict or None
        As :func:`~tinyhar.training.splits.cross_validate` (None without
        cross-validation).
    pooled : numpy.ndarray of str, shape (n_windows,) or None
        Each window's label from the fold model that did not see its subject.
    fold_models : list of (set of str, estimator)
        Held-out subjects and model of each fold.

    Raises
    ------
    ComputeError, TinyharError
        As :func:`tinyhar.compute.map_shared`; the error of a failed task is
        raised as it is (a user mistake stays a :class:`TinyharError`).
    """
    from sklearn.base import clone
    from sklearn.utils.validation import has_fit_parameter

    from tinyhar import compute
    from tinyhar.training.splits import _cross_validation

    c = cfg.compute
    loso = cfg.evaluation.protocol == "loso"
    scope = "" if loso else "training "
    model = pipeline.model
    shared = {"model": model, "X": features, "y": train_w.y, "augmented": augmented,
              "groups": train_w.subject if has_fit_parameter(model, "groups") else None}
    final: list = []
    fold_models: list = []

    def predict_folds(splits: list):
        results = compute.map_shared(fit_fold, shared, [None, *splits], c.scheduler,
                                     c.workers, no_workers_timeout_s=c.no_workers_timeout_s)
        final.append(next(results))
        console.print(f"fitted the final model on all {scope}subjects")
        for (_, b), (model, pred) in zip(splits, results, strict=True):
            fold_models.append((set(train_w.subject[b]), model))
            yield pred

    cv, pooled = _cross_validation(cfg, train_w, console, predict_folds)
    if final:
        pipeline.model = final[0]
        return cv, pooled, fold_models
    # no cross-validation: the final fit here; a tree ensemble's trees on local threads
    # (the same forest for any n_jobs: every tree's seed is drawn before they are built)
    console.print(f"fitting the final model on all {scope}subjects")
    jobs = "n_jobs" in model.get_params() and c.scheduler != "serial"
    if jobs:
        shared["model"] = clone(model).set_params(n_jobs=c.workers)
    pipeline.model = fit_fold(shared, None)
    if jobs:
        pipeline.model.set_params(n_jobs=model.get_params()["n_jobs"])
    return cv, pooled, fold_models
