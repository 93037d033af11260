"""The training job: :func:`train` writes a run folder from a configuration.

In memory (this module's :func:`_train_into`, trees; networks in
:mod:`tinyhar.training.networks`) or session by session
(:mod:`tinyhar.training.sessions`); the test windows the final model never
sees are stored with the run (:func:`store_test_windows`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from rich.console import Console

from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import RecordingSet
from tinyhar.models.kinds import NETWORK_KINDS
from tinyhar.models.pipeline import PIPELINE_FILE
from tinyhar.reporting.text import plural
from tinyhar.runfolder import CONFIG_FILE, MAX_TEST_WINDOWS, write_run, write_test_windows
from tinyhar.training.sessions import _train_from_sessions, out_of_core_plan
from tinyhar.training.stages import (
    _common_metrics,
    _figures,
    _finish,
    _postprocess_stage,
    check_postprocess_config,
)
from tinyhar.training.trees import (
    augment_features,
    build_pipeline,
    compute_features,
    fit_with_folds,
)
from tinyhar.windows.source import load_data, make_window_set


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
    t_start = time.perf_counter()
    np.random.seed(cfg.seed)
    by_session, need = out_of_core_plan(cfg)
    if by_session:
        from tinyhar import compute

        try:
            return _train_from_sessions(cfg, out, console, t_start)
        finally:  # no worker processes outlive a failed run
            compute.stop_workers()

    # in memory: scikit-learn is imported here (out of core, only once the session tasks
    # are with the workers: the imports of this module and of training.sessions leave it out)
    from tinyhar.evaluation.metrics import check_labels, score_predictions
    from tinyhar.training.networks import _train_network
    from tinyhar.training.splits import split_windows

    console.print(f"loading data set [bold]{cfg.dataset.name}[/]")
    data = load_data(cfg, need)
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

    augmented = augment_features(pipeline, train_w, cfg, console)
    # the folds and the final fit as tasks on the configured scheduler (serial by default)
    cv, pooled, fold_models = fit_with_folds(cfg, pipeline, train_w, f_train, console,
                                             augmented)
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
    return write_test_windows(out, test_w.subset(idx))
