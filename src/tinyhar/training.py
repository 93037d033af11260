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
   ``class_overview.png``; ``manifest.json`` last.

With ``evaluation.protocol: loso`` steps 3-6 become cross-validation by
subject over all subjects (pooled and mean ± sd scores), and the saved model
is fitted on all subjects.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import tinyhar
from tinyhar.config import NETWORK_KINDS, TrainConfig
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, RecordingSet, natural_key
from tinyhar.errors import ConfigError, EvaluationError, TinyharError
from tinyhar.evaluation.metrics import (
    check_labels,
    classification_metrics,
    per_subject_metrics,
)
from tinyhar.evaluation.splits import (
    OFFICIAL_TEST_SUBJECTS,
    RANDOM_SPLIT_WARNING,
    LeakageWarning,
    auto_test_subjects,
    group_kfold,
    holdout_split,
    random_split,
)
from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.reporting.text import name_subjects, plural, subject_list
from tinyhar.runfolder import (
    CONFIG_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    RunFolder,
    load_run,
    write_run,
    write_text_atomic,
)
from tinyhar.windows.windowing import make_windows, to_samples
from tinyhar.windows.windowset import WindowSet

SAME_POPULATION = {
    "hapt": "smartlab-30",
    "hapt-raw": "smartlab-30",
    "uci-har": "smartlab-30",
    "wisdm-raw": "wisdm-v1.1",
    "wisdm-windows": "wisdm-v1.1",
}
"""Data sets recorded from the same people (UCI HAR windows were cut from HAPT;
the WISDM windows from the raw WISDM v1.1 file): equal subject ids are the same
person, except where :data:`RENUMBERED_SUBJECTS` says the ids were changed.
Data sets of two different known populations share nobody."""

RENUMBERED_SUBJECTS = frozenset({"wisdm-windows"})
"""Data sets whose subject ids are not the publisher's (the WISDM windows file numbers
its users 0-35, not by their WISDM user ids): ids cannot be matched across data sets."""

_UCI_SIGNALS = {"acc": "total_acc", "acc+gyro": "total_acc+body_gyro", "all": "all"}


def _progress(console: Console) -> Progress:
    """A transient progress bar, shown only on a terminal.

    Rich still writes a blank line per bar to a file or pipe even when
    ``transient``; logs and CI output get no progress display at all.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def load_data(cfg: TrainConfig) -> RecordingSet | WindowSet:
    """Load the configured data set and keep the configured sensors.

    Returns
    -------
    RecordingSet or WindowSet
        Continuous recordings, or windows for pre-windowed data sets.

    Raises
    ------
    TinyharError
        Data set not found or malformed; sensors not available in it.
    """
    from tinyhar.datasets.registry import load_dataset

    ds = cfg.dataset
    options: dict = {}
    if ds.name == "hapt-raw":
        options = {
            "activities": ds.activities,
            "sensors": "acc" if ds.sensors == "acc" else "acc+gyro",
        }
    elif ds.name == "uci-har":
        options = {"signals": _UCI_SIGNALS[ds.sensors]}
    data = load_dataset(ds.name, path=ds.path, checks=ds.checks, **options)
    wanted = wanted_channels(ds.sensors, data.channels, data.name)
    if isinstance(data, WindowSet):
        return data.select_channels(wanted)
    return data.select(channels=wanted)


def wanted_channels(sensors: str, channels: list[str], name: str) -> list[str]:
    """The channels ``dataset.sensors`` asks for, in canonical order.

    Raises
    ------
    ConfigError
        If the data set lacks one of them (the message says to use ``acc``).
    """
    if sensors == "acc":
        wanted = list(ACC_CHANNELS)
    elif sensors == "acc+gyro":
        wanted = list(ACC_CHANNELS + GYRO_CHANNELS)
    else:
        wanted = list(channels)
    missing = [c for c in wanted if c not in channels]
    if missing:
        raise ConfigError(
            f"dataset.sensors: {sensors!r} needs channels {missing}, which data set "
            f"{name!r} does not have (it has {channels}); use sensors: acc"
        )
    return wanted


def make_window_set(
    data: RecordingSet | WindowSet, cfg: TrainConfig
) -> tuple[WindowSet, dict | None]:
    """Cut windows from recordings (or pass pre-cut windows through).

    Returns
    -------
    windows : WindowSet
    report : dict or None
        Windowing counts (None for pre-windowed data).
    """
    if isinstance(data, WindowSet):
        return data, None
    w = cfg.windows
    windows, report = make_windows(
        data,
        window=w.window,
        hop=w.hop,
        unit=w.unit,
        purity=w.purity,
        target_rate_hz=w.target_rate_hz,
    )
    if len(windows) == 0:
        raise EvaluationError(
            _no_window_message(data, report.as_dict(), f"{w.window:g} {w.unit}")
        )
    return windows, report.as_dict()


def _no_window_message(data: RecordingSet, counts: dict[str, int], window: str) -> str:
    """Why no window was cut (``counts``: the windowing report), and what to do about it."""
    if not data.frame["label"].notna().any():
        return (
            f"no sample of {data.name!r} is labelled, so there is nothing to train on: give "
            "each sample an activity (in a dataset definition: a label column, a "
            "(?P<label>...) group in file_pattern or constants.label; check that label_map "
            "and ignore_labels do not remove every label)"
        )
    reasons = []
    if counts["n_short_segments"]:
        reasons.append(
            f"{counts['n_short_segments']} segment(s) shorter than a window: use shorter "
            "windows or record longer"
        )
    if counts["n_unlabelled"]:
        reasons.append(f"{counts['n_unlabelled']} window(s) mostly unlabelled: label more samples")
    if counts["n_ambiguous"]:
        reasons.append(
            f"{counts['n_ambiguous']} window(s) mixing activities: lower windows.purity or use "
            "shorter windows"
        )
    if counts["n_gaps"]:
        reasons.append(
            f"{counts['n_gaps']} gap(s) in the time column (steps above 1.5 sampling periods): "
            "check sampling_rate_hz"
        )
    return (
        f"no labelled window of {window} could be cut from {data.name!r}: "
        + "; ".join(reasons or ["no recording is long enough"])
    )


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
        elif windows.name in ("hapt", "hapt-raw"):
            subjects = list(OFFICIAL_TEST_SUBJECTS)
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


def build_pipeline(windows: WindowSet, cfg: TrainConfig, hop_samples: int | None,
                   check_size: bool = True) -> HarPipeline:
    """An unfitted-model pipeline for these windows and this configuration.

    With ``check_size`` the windows are all the data (:func:`check_leaf_size`);
    the out-of-core path passes a sample and checks the total later.
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
    pipeline = HarPipeline(
        extractor=extractor,
        model=model,
        channels=list(windows.channels),
        sampling_rate_hz=windows.sampling_rate_hz,
        n_samples=windows.n_samples,
        hop_samples=hop_samples,
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


WISDM_TUTORIAL_TEST_SUBJECTS = {
    "wisdm-windows": [str(s) for s in range(30, 36)],
    "wisdm-raw": [str(u) for u in range(31, 37)],
}
"""The WISDM tutorial's split: users 1-30 train, users 31-36 test.

The raw text keeps the user ids 1-36; the derived ``windows.npz`` numbers its
subjects 0-35 in the same order, so there the test subjects are 30-35.
"""

PRESET_DATA = {
    "ucihar-lstm": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "small-cnn": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "ucihar-cnn": {"dataset": {"name": "uci-har", "sensors": "all"}},
    "wisdm-bilstm": {
        "dataset": {"name": "wisdm-windows", "sensors": "acc"},
        "test_subjects": WISDM_TUTORIAL_TEST_SUBJECTS,
    },
    "tiny-cnn": {
        "dataset": {"name": "wisdm-windows", "sensors": "acc"},
        "test_subjects": WISDM_TUTORIAL_TEST_SUBJECTS,
    },
}
"""Data and evaluation each network preset was made for.

``dataset``: the data set (used unless the user names another one);
``test_subjects``: per data set name, the hold-out test subjects of the
preset's protocol (used unless the user sets ``evaluation.test_subjects``).
The UCI HAR presets keep the data set's official subject split; the WISDM
presets hold out the tutorial's users 31-36 (the derived WISDM windows carry
no per-subject split of their own). ``tiny-cnn`` uses the same split as
``wisdm-bilstm`` so that the two compare directly.
"""


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
    split = recipe.get("test_subjects", {}).get(data["dataset"].get("name"))
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
    hop = None
    if isinstance(data, RecordingSet):
        hop = to_samples(cfg.windows.hop, cfg.windows.unit, windows.sampling_rate_hz, "hop")
    console.print(
        f"{plural(len(windows), 'window')} of {windows.n_samples} samples at "
        f"{windows.sampling_rate_hz:g} Hz, "
        f"{plural(len(windows.subjects), 'subject')}, channels {windows.channels}"
    )
    check_labels(windows.y, windows.classes, "the data set")
    tr, te, protocol, leakage = split_windows(windows, cfg, console)
    train_w, test_w = windows.subset(tr), windows.subset(te)
    check_labels(train_w.y, windows.classes, "the training subjects")

    if cfg.model.kind in NETWORK_KINDS:
        return _train_network(
            cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start, data
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
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage, hop, wreport))
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


def score_predictions(test_w: WindowSet, pred: np.ndarray, classes: list[str]) -> dict:
    """:func:`classification_metrics` of the test windows plus ``per_subject`` scores.

    Parameters
    ----------
    test_w : WindowSet
        The scored windows (labels and subjects are used).
    pred : numpy.ndarray of str, shape (n_windows,)
        Predicted labels.
    classes : list of str
        The model's classes.
    """
    metrics = classification_metrics(test_w.y, pred, classes)
    metrics["per_subject"] = per_subject_metrics(test_w.y, pred, test_w.subject, classes)
    return metrics


NETWORK_DATA_FILE = "network_data.npz"
"""Windows kept in a network run for ONNX calibration (training subjects) and checks (test)."""


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
    cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start, data=None
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
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage, hop, wreport))
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


def _common_metrics(cfg, windows, train_w, test_w, protocol, leakage, hop, wreport) -> dict:
    """Fields of ``metrics.json`` shared by tree and network runs."""
    return {
        "dataset": windows.name,
        "protocol": protocol,
        "leakage_warning": leakage,
        "train_subjects": sorted(set(train_w.subject), key=natural_key),
        "test_subjects": sorted(set(test_w.subject), key=natural_key),
        "n_train_windows": len(train_w),
        "model": cfg.model.kind,
        "window": {
            "n_samples": windows.n_samples,
            "sampling_rate_hz": windows.sampling_rate_hz,
            "hop_samples": hop,
            "channels": windows.channels,
        },
        "windowing": wreport,
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


def export_network_onnx(run_dir: str | Path, out_dir: str | Path) -> dict:
    """Export a network run to float32 and int8 ONNX, checked against PyTorch.

    Calibration windows come from the run's training subjects, check windows
    from its test subjects (both stored in the run folder at training time).

    Returns
    -------
    dict
        As :func:`tinyhar.export.onnx.export_onnx`; also written to
        ``out_dir/onnx_report.json``.

    Raises
    ------
    TinyharError
        Not a network run, or the deep extra is missing.
    """
    from tinyhar.export.onnx import export_onnx

    run, out = load_run(run_dir), Path(out_dir)
    pipeline = run.pipeline
    if pipeline.extractor is not None or not run.has(NETWORK_DATA_FILE):
        raise TinyharError(
            f"{run_dir} is not a network run: ONNX export is for networks "
            "(tinyhar train --model cnn1d); trees export with --target c or micropython"
        )
    d = np.load(run.file(NETWORK_DATA_FILE), allow_pickle=False)
    info = export_onnx(
        pipeline.model,
        out,
        d["calibration_X"],
        d["check_X"],
        d["check_y"].astype(object),
        calibration_subjects=d["calibration_subjects"],
        check_subjects=d["check_subjects"],
    )
    write_text_atomic(out / "onnx_report.json", json.dumps(info, indent=2, default=str))
    return info


def score_figures(metrics: dict) -> list:
    """``(file name, draw(path))`` of ``confusion_matrix.png`` and ``per_subject.png``.

    Both are titled with the scored subjects; draw them with
    :func:`_finish` (training) or directly (evaluation).

    Parameters
    ----------
    metrics : dict
        From :func:`train` or :func:`evaluate_run` (``dataset``,
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


def evaluate_run(
    run_dir: str | Path,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
) -> dict:
    """Score a trained run on a data set (possibly another one than it was trained on).

    Windows are cut with the run's window length and hop. The score is
    subject-independent by default: subjects the run was trained on are left
    out, and the console says how many. A subject counts as a training
    subject when its id is in the run's ``train_subjects`` and the data sets
    may hold the same people: the same data set, the same population (see
    :data:`SAME_POPULATION`: HAPT and UCI HAR share their 30 subjects), or a
    data set of unknown population (your own files: equal ids are taken to be
    the same person). Evaluating a run on the data set it was trained on thus
    reproduces its held-out test score.

    Parameters
    ----------
    run_dir : str or Path
        A run folder written by :func:`train`.
    dataset : str
        Registered data set name or a dataset definition path.
    path : str, optional
        File or folder of the data set.
    subjects : list of str, optional
        Score only these subjects (training subjects among them are still
        left out unless ``include_training_subjects``).
    console : rich.console.Console, optional
        Where messages go (default: a quiet console).
    include_training_subjects : bool
        Score training subjects too. The result is inflated: a
        :class:`~tinyhar.evaluation.splits.LeakageWarning` is issued and the
        output records ``includes_training_subjects: true`` with the list.

    Returns
    -------
    dict
        Metrics as in :func:`tinyhar.evaluation.metrics.classification_metrics`
        plus ``per_subject``, ``dataset``, ``run``, ``subjects`` (scored),
        ``skipped_classes`` (classes unknown to the model),
        ``excluded_training_subjects``, ``includes_training_subjects`` and
        ``training_subjects_scored``.

    Raises
    ------
    TinyharError
        Missing run, incompatible channels/rate/length, subjects that do not
        exist, no subject left that the run was not trained on, no
        overlapping classes.
    """
    run = load_run(run_dir)  # checked against its manifest
    run_dir = run.path
    pipeline = run.pipeline
    windows, selection, skipped = evaluation_windows(
        run, dataset, path, subjects, console, include_training_subjects
    )
    pred = pipeline.predict(windows)
    metrics = score_predictions(windows, pred, pipeline.classes)
    metrics.update(
        {
            "dataset": windows.name,
            "run": str(run_dir),
            "subjects": sorted(set(windows.subject), key=natural_key),
            "skipped_classes": skipped,
            "excluded_training_subjects": selection["excluded"],
            "includes_training_subjects": bool(selection["included"]),
            "training_subjects_scored": selection["included"],
        }
    )
    return metrics


def evaluation_windows(
    run: RunFolder,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
) -> tuple[WindowSet, dict, list[str]]:
    """The windows :func:`evaluate_run` scores: unseen subjects, classes the model knows.

    Windows are cut with the run's window length and hop (resampled to the
    run's rate when the data set has another), in the pipeline's channels;
    subjects are chosen by :func:`select_unseen_subjects`.

    Parameters
    ----------
    run : RunFolder
        A loaded run folder (:func:`tinyhar.runfolder.load_run`).
    dataset, path, subjects, console, include_training_subjects
        As in :func:`evaluate_run`.

    Returns
    -------
    windows : WindowSet
        Shape (n_windows, n_samples, n_channels), only classes the model knows.
    selection : dict
        As returned by :func:`select_unseen_subjects`.
    skipped : list of str
        Classes of the data set the model does not know (their windows are left out).

    Raises
    ------
    TinyharError
        As in :func:`evaluate_run`.
    """
    console = console or Console(quiet=True)
    pipeline, cfg, metrics_train = run.pipeline, run.config, run.metrics
    sensors = "acc" if all(c.startswith("acc_") for c in pipeline.channels) else cfg.dataset.sensors
    eval_cfg = cfg.model_copy(deep=True)
    eval_cfg.dataset.name = dataset
    eval_cfg.dataset.path = path
    eval_cfg.dataset.sensors = sensors
    data = load_data(eval_cfg)
    if isinstance(data, RecordingSet):
        if abs(data.sampling_rate_hz - pipeline.sampling_rate_hz) > 1e-6:
            eval_cfg.windows.target_rate_hz = pipeline.sampling_rate_hz
        windows, _ = make_window_set(data, eval_cfg)
    else:
        windows = data
    windows, selection = select_unseen_subjects(
        windows, metrics_train, subjects, include_training_subjects, console
    )
    known = set(pipeline.classes)
    keep = np.isin(windows.y, list(known))
    skipped = sorted(set(windows.y[~keep]))
    if skipped:
        console.print(f"[yellow]classes unknown to the model are skipped: {skipped}[/]")
    windows = windows.subset(keep)
    if len(windows) == 0:
        raise EvaluationError(
            f"no window of {dataset!r} ({subject_list(selection['subjects'])}) has a "
            f"class the model knows ({sorted(known)}); evaluate on data with these activities"
        )
    return windows, selection, skipped


def evaluate_continuous(
    run_dir: str | Path,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
    include_training_subjects: bool = False,
    figures_dir: str | Path | None = None,
) -> dict:
    """Score a run on whole recordings, before and after its post-processing.

    Every window of each selected session is cut with the run's window
    length and hop (impure windows and unlabelled spans included; label =
    majority of the samples), classified and post-processed with the run's
    ``postprocess.json`` (:mod:`tinyhar.evaluation.streams`). Windows whose
    label is unlabelled or a class the model does not know (e.g. HAPT
    transitions for a model of the basic activities) are not scored and are
    counted in ``excluded``. Subjects are chosen as in :func:`evaluate_run`:
    only those the run was not trained on, unless
    ``include_training_subjects``.

    Parameters
    ----------
    run_dir, dataset, path, subjects, console, include_training_subjects
        As in :func:`evaluate_run`.
    figures_dir : str or Path, optional
        Folder for one timeline figure per scored subject,
        ``timeline_<subject>.png`` (signal, true labels, raw and smoothed
        predictions; :func:`tinyhar.reporting.timeline.plot_timeline`).

    Returns
    -------
    dict
        :func:`tinyhar.evaluation.streams.stream_scores` (``raw`` and
        ``smoothed`` continuous metrics, ``excluded``, ``n_windows``, ...)
        plus ``dataset``, ``run``, ``subjects``, ``excluded_training_subjects``,
        ``includes_training_subjects``, ``training_subjects_scored``,
        ``per_subject`` (macro-F1 raw and smoothed per subject) and
        ``figures`` (file names written into ``figures_dir``).

    Raises
    ------
    TinyharError
        A bad run folder; pre-cut windows; subjects as in
        :func:`evaluate_run`; no window with a class the model knows.
    """
    from tinyhar.evaluation.streams import stream_predictions, stream_scores
    from tinyhar.postprocess import PostProcessor

    console = console or Console(quiet=True)
    run = load_run(run_dir)
    pipeline, cfg = run.pipeline, run.config
    eval_cfg = cfg.model_copy(deep=True)
    eval_cfg.dataset.name = dataset
    eval_cfg.dataset.path = path
    if all(c.startswith("acc_") for c in pipeline.channels):
        eval_cfg.dataset.sensors = "acc"
    data = load_data(eval_cfg)
    if not isinstance(data, RecordingSet):
        raise EvaluationError(
            f"{dataset!r} comes as pre-cut windows without time order: --continuous needs "
            "continuous recordings (hapt, hapt-raw, a tinyhar .parquet or a definition)"
        )
    selection = choose_unseen_subjects(
        data.subjects, data.name, run.metrics, subjects, include_training_subjects, console
    )
    data = data.select(subjects=selection["subjects"])
    spec = run.postprocess or PostProcessor(pipeline.classes)
    with _progress(console) as progress:
        task = progress.add_task("classifying whole streams", total=None)
        pred = stream_predictions(pipeline, data, on_windows=lambda n: progress.advance(task, n),
                                  ood_model=spec.ood_model)
    y_known = np.isin(pred.y, list(pipeline.classes))
    if not y_known.any():
        raise EvaluationError(
            f"no window of {dataset!r} ({subject_list(selection['subjects'])}) has a class the "
            f"model knows ({pipeline.classes}); evaluate on data with these activities"
        )
    result = stream_scores(pred, spec)
    per_subject = {}
    figures = []
    for s in sorted(set(pred.subject.tolist()), key=natural_key):
        part = pred.subject == s
        if np.isin(pred.y[part], list(pipeline.classes)).any():
            sc = stream_scores(pred.subset(part), spec)
            per_subject[s] = {k: sc[k]["macro_f1"] for k in ("raw", "smoothed")}
        if figures_dir is not None:
            figures.append(_timeline_figure(pred.subset(part), spec, figures_dir, data.name, s))
    result.update(
        {
            "dataset": data.name,
            "run": str(run.path),
            "subjects": selection["subjects"],
            "excluded_training_subjects": selection["excluded"],
            "includes_training_subjects": bool(selection["included"]),
            "training_subjects_scored": selection["included"],
            "per_subject": per_subject,
            "figures": figures,
        }
    )
    return result


def _timeline_figure(pred, spec, folder: str | Path, dataset: str, subject: str) -> str:
    """Draw ``timeline_<subject>.png`` of one subject's streams into ``folder``; return its name."""
    import re

    from tinyhar.reporting.timeline import plot_timeline

    name = f"timeline_{re.sub(r'[^A-Za-z0-9_.-]', '_', subject)}.png"
    Path(folder).mkdir(parents=True, exist_ok=True)
    rows = timeline_rows(pred, spec)
    plot_timeline(
        pred.session, pred.t_start, pred.window_s, pred.hop_s, pred.acc_magnitude, rows,
        pred.classes, Path(folder) / name,
        title=f"{dataset}, subject {subject}: raw and post-processed ({spec.describe()})",
    )
    return name


def timeline_rows(pred, spec) -> dict[str, np.ndarray]:
    """Label bands of a timeline: true (if labelled), raw, rejected as unknown (if any), smoothed.

    Parameters
    ----------
    pred : tinyhar.evaluation.streams.StreamPredictions
    spec : tinyhar.postprocess.PostProcessor

    Returns
    -------
    dict of str -> numpy.ndarray of str, shape (n_windows,)
        ``"unknown"`` row: ``"unknown"`` where the rejection fires before
        smoothing, ``""`` elsewhere (drawn only when the spec rejects).
    """
    rows = {"true": pred.y} if np.any(pred.y != "") else {}
    rows["raw"] = pred.names(pred.classify())
    if spec.rejection.active:
        from tinyhar.postprocess import UNKNOWN_CLASS

        rows["unknown"] = np.where(pred.rejected(spec), UNKNOWN_CLASS, "").astype(object)
    rows["smoothed"] = pred.names(pred.classify(spec))
    return rows


def shares_subjects(eval_name: str, train_name: str) -> bool:
    """Whether equal subject ids in two data sets may be the same person.

    True for the same data set, for two data sets of the same population
    (:data:`SAME_POPULATION`), and whenever one population is unknown (your
    own data: assume the worst). False only for two different known
    populations (e.g. HAPT and WISDM).
    """
    if eval_name == train_name:
        return True
    a, b = SAME_POPULATION.get(eval_name), SAME_POPULATION.get(train_name)
    return a is None or b is None or a == b


def select_unseen_subjects(
    windows: WindowSet,
    metrics_train: dict,
    subjects: list[str] | None = None,
    include_training_subjects: bool = False,
    console: Console | None = None,
) -> tuple[WindowSet, dict]:
    """Keep the windows of the requested subjects the run was not trained on.

    Parameters
    ----------
    windows : WindowSet
        Evaluation windows, shape (n_windows, n_samples, n_channels).
    metrics_train : dict
        The run's ``metrics.json`` (``dataset``, ``train_subjects``,
        ``protocol``, ``test_subjects``).
    subjects : list of str, optional
        Restrict to these subjects first.
    include_training_subjects : bool
        Keep training subjects too (warns with
        :class:`~tinyhar.evaluation.splits.LeakageWarning`).
    console : rich.console.Console, optional
        Where the note on excluded subjects goes.

    Returns
    -------
    windows : WindowSet
        The selected windows.
    selection : dict
        ``subjects`` (selected), ``excluded`` (training subjects left out)
        and ``included`` (training subjects scored anyway).

    Raises
    ------
    EvaluationError
        Requested subjects that do not exist, or no subject left that the
        run was not trained on.
    """
    selection = choose_unseen_subjects(
        sorted(set(windows.subject.tolist()), key=natural_key), windows.name, metrics_train,
        subjects, include_training_subjects, console,
    )
    selected = windows.subset(np.isin(windows.subject, selection["subjects"]))
    return selected, selection


def choose_unseen_subjects(
    available: list[str],
    name: str,
    metrics_train: dict,
    subjects: list[str] | None = None,
    include_training_subjects: bool = False,
    console: Console | None = None,
) -> dict:
    """The subjects of :func:`select_unseen_subjects`, from a list of subject ids.

    Parameters
    ----------
    available : list of str
        Subjects of the evaluation data set ``name``.
    metrics_train, subjects, include_training_subjects, console
        As in :func:`select_unseen_subjects`.

    Returns
    -------
    dict
        ``subjects`` (selected), ``excluded`` and ``included``.

    Raises
    ------
    EvaluationError
        As :func:`select_unseen_subjects`.
    """
    console = console or Console(quiet=True)
    if subjects is not None:
        wanted = [str(s).strip() for s in subjects]
        unknown = [s for s in wanted if s not in available]
        if unknown:
            raise EvaluationError(
                f"--subjects: {', '.join(unknown)} "
                f"{'does' if len(unknown) == 1 else 'do'} not exist in {name!r}; it has "
                f"{plural(len(available), 'subject')}: {name_subjects(available, 120)}"
            )
        candidates = [s for s in available if s in wanted]
    else:
        candidates = available
    trained = set(str(s) for s in metrics_train.get("train_subjects", []))
    train_name = metrics_train.get("dataset", "")
    renumbered = sorted({name, train_name} & RENUMBERED_SUBJECTS)
    if (
        name != train_name
        and renumbered
        and SAME_POPULATION.get(name) == SAME_POPULATION.get(train_name)
        and not include_training_subjects
    ):
        raise EvaluationError(
            f"{name!r} and {train_name!r} hold the same people, but the subject ids of "
            f"{' and '.join(map(repr, renumbered))} are not the publisher's user ids, so which "
            f"subjects this run has not seen cannot be told: evaluate on {train_name!r} "
            "itself, or pass --include-training-subjects (scores then include training "
            "subjects and are inflated)"
        )
    seen = []
    if shares_subjects(name, metrics_train.get("dataset", "")):
        seen = [s for s in candidates if s in trained]
    excluded, included = [], []
    if seen and include_training_subjects:
        included = seen
        warnings.warn(
            f"--include-training-subjects: {plural(len(seen), 'subject')} scored here "
            f"({name_subjects(seen)}) trained this run, so the scores are inflated and not "
            "subject-independent",
            LeakageWarning,
            stacklevel=2,
        )
    elif seen:
        excluded = seen
        candidates = [s for s in candidates if s not in trained]
        if not candidates:
            raise EvaluationError(_no_unseen_message(name, seen, metrics_train))
        console.print(
            f"scoring only subjects this run was not trained on: {plural(len(seen), 'subject')} "
            f"of {name!r} ({name_subjects(seen)}) {'was a' if len(seen) == 1 else 'were'} "
            f"training {'subject' if len(seen) == 1 else 'subjects'} and "
            f"{'is' if len(seen) == 1 else 'are'} excluded; "
            f"{plural(len(candidates), 'subject')} scored ({name_subjects(candidates)}). "
            "--include-training-subjects scores them too (inflated)."
        )
    return {"subjects": candidates, "excluded": excluded, "included": included}


def _no_unseen_message(name: str, seen: list[str], metrics_train: dict) -> str:
    """Why no honest score is possible, and what to do."""
    text = (
        f"every subject selected from {name!r} ({name_subjects(seen)}) is a training subject "
        "of this run, so no subject-independent score is possible. "
    )
    test = [s for s in metrics_train.get("test_subjects", []) if s not in seen]
    cv = metrics_train.get("cross_validation") or {}
    if test:
        text += f"Score the run's test subjects ({name_subjects(test)}), or another data set. "
    elif cv.get("scope") == "all subjects":
        text += (
            f"The run was trained on all subjects ({metrics_train.get('protocol')}); its honest "
            f"score is the cross-validation score in metrics.json (macro-F1 "
            f"{cv['pooled']['macro_f1']:.3f}). Evaluate on another data set. "
        )
    else:
        text += "Evaluate on another data set or other subjects. "
    return text + "--include-training-subjects scores them anyway (inflated)."


def check_evaluation_out(out_dir: str | Path) -> Path:
    """The folder for :func:`write_evaluation`, checked before any work is done.

    Raises
    ------
    TinyharError
        Empty name, an existing file, or a run folder (its metrics would be
        overwritten).
    """
    if not str(out_dir).strip():
        raise TinyharError("--out is empty: name a folder for the evaluation results")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyharError(f"--out {out} is an existing file: name a folder")
    if (out / "config.yaml").exists() or (out / PIPELINE_FILE).exists():
        raise TinyharError(
            f"--out {out} is a run folder: evaluation results would overwrite the run's own "
            "metrics; name another folder"
        )
    return out


def write_evaluation(metrics: dict, out_dir: str | Path) -> Path:
    """Write an evaluation's ``metrics.json``, ``summary.md`` and figures into a folder.

    Files are written to a temporary sibling folder and moved into place,
    ``metrics.json`` first, so a failing figure never loses the scores.

    Parameters
    ----------
    metrics : dict
        As returned by :func:`evaluate_run`.
    out_dir : str or Path
        Folder to write into (created); must not be a run folder.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    TinyharError
        ``out_dir`` is a run folder or an existing file.
    """
    import os
    import shutil
    import tempfile

    from tinyhar.reporting.summary import write_evaluation_summary

    out = check_evaluation_out(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".evaluation-", dir=out))
    try:
        text = json.dumps(metrics, indent=2, default=str)
        (tmp / "metrics.json").write_text(text)
        os.replace(tmp / "metrics.json", out / "metrics.json")
        write_evaluation_summary(metrics, tmp / "summary.md")
        for name, draw in score_figures(metrics):
            draw(tmp / name)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


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

    def __init__(self, table, classes, name, channels, n_samples, sampling_rate_hz):
        self.table, self.classes, self.name = table, list(classes), name
        self.channels, self.n_samples = list(channels), n_samples
        self.sampling_rate_hz = sampling_rate_hz
        self.X, self.y, self.subject = table.X, table.y, table.subject
        self.session, self.start_time = table.session, table.start_time

    def __len__(self) -> int:
        return len(self.y)

    @property
    def subjects(self) -> list[str]:
        return sorted(set(self.subject), key=natural_key)

    def subset(self, index) -> _TableWindows:
        from tinyhar.features.table import FeatureTable

        t = self.table
        part = FeatureTable(t.X[index], t.y[index], t.subject[index], t.session[index],
                            t.start_time[index], t.feature_names, t.counts)
        return _TableWindows(part, self.classes, self.name, self.channels, self.n_samples,
                             self.sampling_rate_hz)


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
                     channels, rate, first.classes, first.name)
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
        windows = _TableWindows(labels, classes, first.name, channels, n_win, rate)
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
    windows = _TableWindows(table, classes, first.name, channels, n_win, rate)
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
    pipeline.model.fit(train_w.X, train_w.y)
    pred = pooled if loso else pipeline.model.predict(test_w.X)
    metrics = score_predictions(test_w, pred, classes)
    pipeline.info = {"config": cfg.model_dump(mode="json"), "dataset": windows.name}
    metrics.update(_common_metrics(cfg, windows, train_w, test_w, protocol, leakage, hop,
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
    examples = _example_windows(sources, set(train_w.subject), ds.checks, windowing, prefix,
                                classes)
    figures = _figures(metrics, examples, pipeline=pipeline)
    return _finish(metrics, out, t_start, console, figures)


def _example_windows(sources, subjects: set, checks, windowing: dict, prefix: bool,
                     classes: list[str], per_class: int = 3, max_sources: int = 30) -> WindowSet:
    """Raw windows of the training subjects for ``class_overview.png`` (out-of-core runs).

    Sessions are read one at a time until every class has ``per_class``
    examples (at most ``max_sources`` sessions), so memory stays bounded.
    """
    found: dict[str, int] = dict.fromkeys(classes, 0)
    parts = []
    for source in sources[:max_sources]:
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
        keep = np.zeros(len(w), bool)
        for c in classes:
            idx = np.flatnonzero((w.y == c) & np.isin(w.subject, list(subjects)))
            take = idx[: per_class - found[c]]
            keep[take] = True
            found[c] += len(take)
        if keep.any():
            parts.append(w.subset(keep))
        if all(n >= per_class for n in found.values()):
            break
    first = parts[0]
    return WindowSet(
        np.concatenate([p.X for p in parts]), np.concatenate([p.y for p in parts]),
        np.concatenate([p.subject for p in parts]), np.concatenate([p.session for p in parts]),
        np.concatenate([p.start_time for p in parts]), first.channels, first.sampling_rate_hz,
        list(classes), first.name,
    )
