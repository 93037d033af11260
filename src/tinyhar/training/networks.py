"""The network branch of a training run: fitted on raw windows, not features.

:func:`make_network` builds the unfitted network a configuration describes;
:func:`_train_network` cross-validates and fits it (the folds and the final fit
as tasks on the configured scheduler, the tree path's
:func:`~tinyhar.training.trees.fit_with_folds`), scores it and writes the
run folder, with calibration and check windows (:data:`NETWORK_DATA_FILE`)
for the quantised exports.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from tinyhar.config import TrainConfig
from tinyhar.errors import ConfigError
from tinyhar.evaluation.metrics import score_predictions
from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline
from tinyhar.reporting.text import plural
from tinyhar.runfolder import CONFIG_FILE, NETWORK_DATA_FILE
from tinyhar.training.stages import _common_metrics, _figures, _finish, _postprocess_stage
from tinyhar.training.trees import fit_with_folds


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
    pipeline = HarPipeline.from_spec(
        dataclasses.replace(windows.spec, hop_samples=hop),
        extractor=None,
        model=make_network(cfg),
        stack_previous=False,
        classes=list(windows.classes),
        info={"config": cfg.model_dump(mode="json"), "dataset": windows.name},
    )
    epochs = pipeline.model.epochs
    if cfg.evaluation.protocol != "random" and (loso or cfg.evaluation.cv_folds >= 2):
        console.print(
            f"cross-validation by subject: one {cfg.model.kind} network per fold "
            f"({epochs} epochs at most each; evaluation.cv_folds sets the number"
            + ("" if loso else ", 0 turns it off")
            + ")"
        )
    console.print(
        f"training a {cfg.model.kind} network ({epochs} epochs at most) on "
        f"{plural(len(train_w), 'window')} of {plural(len(train_w.subjects), 'subject')}; "
        "validation on held-out training subjects"
    )
    # the folds and the final fit as tasks on the configured scheduler, as for trees; the
    # fold networks classify the training streams for the post-processing
    cv, pooled, fold_models = fit_with_folds(cfg, pipeline, train_w, train_w.X, console)
    net = pipeline.model
    pred = pooled if loso else net.predict(test_w.X)
    metrics = score_predictions(test_w, pred, windows.classes)
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
