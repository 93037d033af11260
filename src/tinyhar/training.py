"""Train and evaluate a pipeline from a configuration, writing a run folder.

``train(config, out_dir)`` does the whole main job:

1. load the data set (recordings or pre-cut windows),
2. cut windows (majority label, purity threshold),
3. split by subject (hold-out test subjects; the official UCI HAR/HAPT split
   by default) -- a random split only when asked, with a warning,
4. compute features,
5. leave-subjects-out cross-validation on the training subjects,
6. fit the size-budgeted tree ensemble on all training subjects and score it
   on the test subjects,
7. write the run folder: ``pipeline.joblib``, ``config.yaml``,
   ``metrics.json``, ``confusion_matrix.png``, ``feature_importance.png``,
   ``class_overview.png``, ``summary.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

import tinyhar
from tinyhar.config import NETWORK_KINDS, TrainConfig
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, RecordingSet, natural_key
from tinyhar.errors import ConfigError, EvaluationError, TinyharError
from tinyhar.evaluation.metrics import check_labels, classification_metrics
from tinyhar.evaluation.splits import (
    OFFICIAL_TEST_SUBJECTS,
    RANDOM_SPLIT_WARNING,
    auto_test_subjects,
    group_kfold,
    holdout_split,
    random_split,
)
from tinyhar.models.pipeline import HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.windows.windowing import make_windows, to_samples
from tinyhar.windows.windowset import WindowSet

PIPELINE_FILE = "pipeline.joblib"
SAME_POPULATION = {"hapt": "smartlab-30", "hapt-raw": "smartlab-30", "uci-har": "smartlab-30"}
"""Data sets recorded from the same people (UCI HAR windows were cut from HAPT)."""

_UCI_SIGNALS = {"acc": "total_acc", "acc+gyro": "total_acc+body_gyro", "all": "all"}


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
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
    channels = data.channels
    if ds.sensors == "acc":
        wanted = list(ACC_CHANNELS)
    elif ds.sensors == "acc+gyro":
        wanted = list(ACC_CHANNELS + GYRO_CHANNELS)
    else:
        wanted = list(channels)
    missing = [c for c in wanted if c not in channels]
    if missing:
        raise ConfigError(
            f"dataset.sensors: {ds.sensors!r} needs channels {missing}, which data set "
            f"{data.name!r} does not have (it has {channels}); use sensors: acc"
        )
    if isinstance(data, WindowSet):
        return data.select_channels(wanted)
    return data.select(channels=wanted)


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


def split_windows(
    windows: WindowSet, cfg: TrainConfig, console: Console | None = None
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Split windows into training and test indices as configured.

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
    if ev.protocol == "random":
        tr, te = random_split(len(windows), ev.test_fraction, cfg.seed, stratify=windows.y)
        protocol = f"random window split ({ev.test_fraction:.0%} test) -- LEAKS SUBJECTS"
        return tr, te, protocol, RANDOM_SPLIT_WARNING
    subjects = ev.test_subjects
    desc = "hold-out test subjects"
    if subjects == "official":
        if windows.split is not None and np.any(windows.split == "test"):
            subjects = sorted(set(windows.subject[windows.split == "test"]), key=natural_key)
            desc = "official test subjects"
        elif windows.name in ("hapt", "hapt-raw"):
            subjects = list(OFFICIAL_TEST_SUBJECTS)
            desc = "official test subjects (UCI HAR split)"
        else:
            subjects = "auto"
            if console:
                console.print(
                    f"[yellow]{windows.name!r} has no official split: holding out "
                    f"{ev.test_fraction:.0%} of the subjects (seed {cfg.seed})[/]"
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


def build_pipeline(windows: WindowSet, cfg: TrainConfig, hop_samples: int | None) -> HarPipeline:
    """An unfitted-model pipeline for these windows and this configuration."""
    from tinyhar.features import FeatureExtractor

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
    return HarPipeline(
        extractor=extractor,
        model=model,
        channels=list(windows.channels),
        sampling_rate_hz=windows.sampling_rate_hz,
        n_samples=windows.n_samples,
        hop_samples=hop_samples,
        stack_previous=cfg.features.stack_previous,
        classes=list(windows.classes),
    )


def cross_validate(
    features: np.ndarray, windows: WindowSet, make_model, n_folds: int, console: Console
) -> dict | None:
    """Leave-subjects-out CV (GroupKFold) on the given (training) windows.

    Returns
    -------
    dict or None
        ``n_folds``, ``macro_f1_mean/std``, ``accuracy_mean/std``, ``folds``
        (per fold: test subjects, accuracy, macro-F1); None when there are
        fewer than 2 subjects or ``n_folds`` < 2.
    """
    if n_folds < 2 or len(windows.subjects) < 2:
        return None
    folds = []
    splits = list(group_kfold(windows.subject, n_folds))
    with _progress(console) as progress:
        task = progress.add_task("cross-validation", total=len(splits))
        for tr, te in splits:
            model = make_model().fit(features[tr], windows.y[tr])
            m = classification_metrics(windows.y[te], model.predict(features[te]), windows.classes)
            folds.append(
                {
                    "test_subjects": sorted(set(windows.subject[te]), key=natural_key),
                    "accuracy": m["accuracy"],
                    "macro_f1": m["macro_f1"],
                }
            )
            progress.advance(task)
    f1 = np.array([f["macro_f1"] for f in folds])
    acc = np.array([f["accuracy"] for f in folds])
    return {
        "n_folds": len(folds),
        "macro_f1_mean": float(f1.mean()),
        "macro_f1_std": float(f1.std()),
        "accuracy_mean": float(acc.mean()),
        "accuracy_std": float(acc.std()),
        "folds": folds,
    }


PRESET_DATA = {
    "ucihar-lstm": {"name": "uci-har", "sensors": "all"},
    "small-cnn": {"name": "uci-har", "sensors": "all"},
    "ucihar-cnn": {"name": "uci-har", "sensors": "all"},
    "wisdm-bilstm": {"name": "wisdm-windows", "sensors": "acc"},
    "tiny-cnn": {"name": "wisdm-windows", "sensors": "acc"},
}
"""Data set each network preset was made for (used unless the user names another)."""


def apply_preset(data: dict, name: str) -> dict:
    """Fill a configuration mapping from a neural-network preset.

    Sets ``model.kind``/``model.preset``, the preset's data set (when the
    mapping still has the default one) and, for recordings, its window length
    and hop in samples. Keys the preset does not define are left alone.

    Raises
    ------
    ConfigError
        Unknown preset name (the message lists the presets).
    """
    from tinyhar.models.nn.presets import get_preset

    preset = get_preset(name)
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    data["model"]["kind"] = preset.estimator_params["architecture"]
    data["model"]["preset"] = name
    if data["dataset"].get("name", "hapt") == "hapt" and name in PRESET_DATA:
        data["dataset"].update(PRESET_DATA[name])
    window = preset.window
    if window.get("n_samples") and window.get("hop"):
        data["windows"].update(
            {"window": window["n_samples"], "hop": window["hop"], "unit": "samples"}
        )
    return data


def train(cfg: TrainConfig, out_dir: str | Path, console: Console | None = None) -> dict:
    """Run the whole training job and write the run folder.

    Parameters
    ----------
    cfg : TrainConfig
        Resolved configuration.
    out_dir : str or Path
        Run folder (created; existing files are overwritten).
    console : rich.console.Console, optional
        Where progress and messages go (default: a quiet console).

    Returns
    -------
    dict
        The content of ``metrics.json``.

    Raises
    ------
    TinyharError
        Any user-facing problem with the data or configuration.
    """
    from sklearn.base import clone

    console = console or Console(quiet=True)
    t_start = time.perf_counter()
    np.random.seed(cfg.seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    console.print(f"loading data set [bold]{cfg.dataset.name}[/]")
    data = load_data(cfg)
    windows, wreport = make_window_set(data, cfg)
    hop = None
    if isinstance(data, RecordingSet):
        hop = to_samples(cfg.windows.hop, cfg.windows.unit, windows.sampling_rate_hz, "hop")
    console.print(
        f"{len(windows)} windows of {windows.n_samples} samples at "
        f"{windows.sampling_rate_hz:g} Hz, "
        f"{len(windows.subjects)} subjects, channels {windows.channels}"
    )
    check_labels(windows.y, windows.classes, "the data set")
    tr, te, protocol, leakage = split_windows(windows, cfg, console)
    train_w, test_w = windows.subset(tr), windows.subset(te)
    check_labels(train_w.y, windows.classes, "the training subjects")

    if cfg.model.kind in NETWORK_KINDS:
        return _train_network(
            cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start
        )
    pipeline = build_pipeline(windows, cfg, hop)
    f_train = compute_features(pipeline, train_w, "training subjects", console)
    f_test = compute_features(pipeline, test_w, "test subjects", console)

    cv = None
    if cfg.evaluation.protocol == "holdout":
        cv = cross_validate(
            f_train, train_w, lambda: clone(pipeline.model), cfg.evaluation.cv_folds, console
        )
    console.print("fitting the final model on all training subjects")
    pipeline.model.fit(f_train, train_w.y)
    pred = pipeline.model.predict(f_test)
    metrics = classification_metrics(test_w.y, pred, windows.classes)
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
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / "config.yaml")
    _write_figures(pipeline, windows, train_w, metrics, out)
    return _finish(metrics, out, t_start)


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
    from tinyhar.models.nn.presets import make_estimator

    params = {"seed": cfg.seed, **cfg.model.params}
    if cfg.model.preset:
        net = make_estimator(cfg.model.preset, **params)
        if net.architecture != cfg.model.kind:
            raise ConfigError(
                f"model.kind is {cfg.model.kind!r} but preset {cfg.model.preset!r} is a "
                f"{net.architecture!r}: drop one of them"
            )
        return net
    valid = set(NeuralNetClassifier().get_params())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise ConfigError(
            f"model.params: {unknown} are not network parameters; valid: {sorted(valid)}"
        )
    return NeuralNetClassifier(architecture=cfg.model.kind, **params)


def _train_network(cfg, out, windows, wreport, hop, tr, te, protocol, leakage, console, t_start):
    """Network branch of :func:`train`: fit on raw windows, score, write the run folder."""
    from tinyhar.reporting.plots import (
        plot_class_overview,
        plot_confusion_matrix,
        plot_training_curves,
    )

    train_w, test_w = windows.subset(tr), windows.subset(te)
    net = make_network(cfg)
    console.print(
        f"training a {cfg.model.kind} network ({net.epochs} epochs at most) on "
        f"{len(train_w)} windows; validation on held-out training subjects"
    )
    net.fit(train_w.X, train_w.y, groups=train_w.subject)
    pred = net.predict(test_w.X)
    metrics = classification_metrics(test_w.y, pred, windows.classes)
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
            "cross_validation": None,
        }
    )
    pipeline.save(out / PIPELINE_FILE)
    cfg.to_yaml(out / "config.yaml")
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
    plot_confusion_matrix(
        metrics["confusion_matrix"],
        metrics["classes"],
        out / "confusion_matrix.png",
        f"{windows.name}: test subjects",
    )
    plot_training_curves(net.history_, out / "training_curves.png")
    plot_class_overview(train_w, out / "class_overview.png")
    return _finish(metrics, out, t_start)


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


def _finish(metrics: dict, out: Path, t_start: float) -> dict:
    """Write ``metrics.json`` and ``summary.md``; return the metrics."""
    from tinyhar.reporting.summary import write_summary

    metrics["train_seconds"] = time.perf_counter() - t_start
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str))
    write_summary(metrics, out / "summary.md")
    return metrics


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

    run_dir, out = Path(run_dir), Path(out_dir)
    pipeline = HarPipeline.load(run_dir / PIPELINE_FILE)
    data_file = run_dir / NETWORK_DATA_FILE
    if pipeline.extractor is not None or not data_file.is_file():
        raise TinyharError(
            f"{run_dir} is not a network run: ONNX export is for networks "
            "(tinyhar train --model cnn1d); trees export with --target c or micropython"
        )
    d = np.load(data_file, allow_pickle=False)
    info = export_onnx(
        pipeline.model,
        out,
        d["calibration_X"],
        d["check_X"],
        d["check_y"].astype(object),
        calibration_subjects=d["calibration_subjects"],
        check_subjects=d["check_subjects"],
    )
    (out / "onnx_report.json").write_text(json.dumps(info, indent=2, default=str))
    return info


def _write_figures(
    pipeline: HarPipeline, windows: WindowSet, train_w: WindowSet, metrics: dict, out: Path
) -> None:
    from tinyhar.reporting.plots import (
        plot_class_overview,
        plot_confusion_matrix,
        plot_feature_importance,
    )

    plot_confusion_matrix(
        metrics["confusion_matrix"],
        metrics["classes"],
        out / "confusion_matrix.png",
        f"{metrics['dataset']}: test subjects {', '.join(metrics['test_subjects'])}"
        if len(metrics["test_subjects"]) <= 12
        else f"{metrics['dataset']}: test subjects",
    )
    plot_feature_importance(
        pipeline.model.feature_importances(), pipeline.feature_names, out / "feature_importance.png"
    )
    plot_class_overview(train_w, out / "class_overview.png")


def evaluate_run(
    run_dir: str | Path,
    dataset: str,
    path: str | None = None,
    subjects: list[str] | None = None,
    console: Console | None = None,
) -> dict:
    """Score a trained run on a data set (possibly another one than it was trained on).

    Windows are cut with the run's window length and hop. When the data set
    comes from the same people as the training data (HAPT and UCI HAR share
    their 30 subjects), only the run's test subjects are scored, so the result
    stays subject-independent.

    Parameters
    ----------
    run_dir : str or Path
        A run folder written by :func:`train`.
    dataset : str
        Registered data set name or a dataset definition path.
    path : str, optional
        File or folder of the data set.
    subjects : list of str, optional
        Score only these subjects.

    Returns
    -------
    dict
        Metrics as in :func:`tinyhar.evaluation.metrics.classification_metrics`
        plus ``dataset``, ``subjects`` and ``skipped_classes``.

    Raises
    ------
    TinyharError
        Missing run, incompatible channels/rate/length, no overlapping classes.
    """
    from tinyhar.config import load_config

    console = console or Console(quiet=True)
    run_dir = Path(run_dir)
    pipeline = HarPipeline.load(run_dir / PIPELINE_FILE)
    cfg = load_config(run_dir / "config.yaml")
    metrics_train = json.loads((run_dir / "metrics.json").read_text())
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
    population = SAME_POPULATION.get(dataset)
    if (
        subjects is None
        and population is not None
        and population == SAME_POPULATION.get(metrics_train["dataset"])
    ):
        subjects = metrics_train["test_subjects"]
        console.print(
            f"{dataset!r} has the same subjects as the training data: scoring only the run's "
            f"test subjects {subjects}"
        )
    if subjects is not None:
        windows = windows.subset(np.isin(windows.subject, [str(s) for s in subjects]))
    known = set(pipeline.classes)
    keep = np.isin(windows.y, list(known))
    skipped = sorted(set(windows.y[~keep]))
    if skipped:
        console.print(f"[yellow]classes unknown to the model are skipped: {skipped}[/]")
    windows = windows.subset(keep)
    if len(windows) == 0:
        raise TinyharError(
            f"no window of {dataset!r} has a class the model knows ({sorted(known)})"
        )
    pred = pipeline.predict(windows)
    metrics = classification_metrics(windows.y, pred, pipeline.classes)
    metrics.update(
        {
            "dataset": windows.name,
            "run": str(run_dir),
            "subjects": sorted(set(windows.subject), key=natural_key),
            "skipped_classes": skipped,
        }
    )
    return metrics
