"""The last stages of a training run, shared by every path.

Post-processing (:func:`check_postprocess_config`, chosen or fitted on the
training subjects' whole streams, scored on the test subjects' streams), the
metrics every run records, ``metrics.json`` and ``summary.md``, and the figures
(a figure that fails never loses the results).
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
from tinyhar.datasets.recording import RecordingSet, natural_key
from tinyhar.errors import ConfigError
from tinyhar.evaluation.sessionstreams import SessionRecordings
from tinyhar.models.kinds import NETWORK_KINDS
from tinyhar.models.pipeline import HarPipeline
from tinyhar.reporting.figures import score_figures
from tinyhar.reporting.text import subject_list
from tinyhar.runfolder import METRICS_FILE, SUMMARY_FILE, write_text_atomic
from tinyhar.windows.gravity import gravity_reference


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
        ``hmm``, ``reject`` or ``posture`` without leave-subjects-out CV folds on hold-out
        training subjects to fit its emissions or thresholds on; OOD
        rejection for a network; ``reject_posture`` without a rejection or
        with ``streamable_only``.
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
    cv_streams = recordings and ev.protocol == "holdout" and ev.cv_folds >= 2 and folds
    for key, verb in (("reject", "calibrated"), ("posture", "fitted")):
        value = getattr(cfg.postprocess, key)
        if value != "none" and not cv_streams:
            raise ConfigError(
                f"postprocess.{key} {value!r} is {verb} on cross-validated predictions of the "
                "training subjects' recordings: it needs continuous recordings, "
                "evaluation.protocol: holdout, evaluation.cv_folds >= 2 and at least 2 "
                f"training subjects (or use {key}: none)"
            )
    if cfg.postprocess.reject_posture and reject == "none":
        raise ConfigError("postprocess.reject_posture adds a test to the rejection: set "
                          "postprocess.reject to probability, ood or both")
    if cfg.postprocess.reject_posture and cfg.postprocess.streamable_only:
        raise ConfigError("postprocess.reject_posture needs whole sessions (offline), "
                          "postprocess.streamable_only asks for a streamable post-processing: "
                          "drop one of the two")
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
    data: RecordingSet | WindowSet | SessionRecordings,
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
    :func:`tinyhar.evaluation.streams.fold_ood_models`), on the classifier's
    probabilities, which the rejection tests also with ``postprocess.posture``
    (the correction comes after it, :class:`tinyhar.postprocess.PostProcessor`).
    ``data`` may be a
    :class:`~tinyhar.evaluation.sessionstreams.SessionRecordings` (out-of-core
    training): the streams are then read one session at a time, with the same
    results.

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
    from tinyhar.postprocess.posture import POSTURE_KEYS
    from tinyhar.postprocess.rejection import REJECT_KEYS

    options = cfg.postprocess.model_dump()
    smoothing = options["smoothing"]
    params = {k: v for k, v in options.items()
              if k not in ("smoothing", "streamable_only", *REJECT_KEYS, *POSTURE_KEYS)}
    classes = list(pipeline.classes)
    table: list = []
    scores = None
    note = None
    holdout = cfg.evaluation.protocol == "holdout"
    recordings = isinstance(data, (RecordingSet, SessionRecordings))

    def streams(subjects: list[str], **kw):
        """Every window of the subjects' whole streams, classified."""
        if isinstance(data, SessionRecordings):
            return data.predictions(pipeline, subjects, **kw)
        return stream_predictions(pipeline, data.select(subjects=subjects), **kw)

    check_postprocess_config(cfg, recordings, bool(fold_models))
    if not recordings:
        spec, chosen = PostProcessor(classes), "none: pre-cut windows have no time order"
    elif smoothing == "auto" and not (holdout and fold_models):
        spec = PostProcessor(classes)
        chosen = ("none: auto needs cross-validation on at least 2 training subjects "
                  f"({len(set(train_w.subject))} here)" if holdout and cfg.evaluation.cv_folds >= 2
                  else "none: auto needs evaluation.protocol holdout with cv_folds >= 2")
    elif (smoothing in ("auto", "hmm") or options["reject"] != "none"
          or options["posture"] != "none"):
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
        pred_cv = streams(train_w.subjects, model_for_subject=by_subject.__getitem__,
                          ood_model=ood_cv)
        spec, table, chosen = select_on_streams(
            pred_cv, options, cfg.evaluation.cv_folds, options["streamable_only"], ood_final
        )
    else:
        spec, chosen = PostProcessor(classes, smoothing=smoothing, **params), "configured"
    if recordings and holdout and len(test_w):
        console.print(f"post-processing {spec.describe()}: scoring the test subjects' "
                      "whole streams")
        pred = streams(test_w.subjects, ood_model=spec.ood_model)
        scores = stream_scores(pred, spec)
    elif recordings:
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
    train_subjects = sorted(set(train_w.subject), key=natural_key)
    return {
        "dataset": windows.name,
        "protocol": protocol,
        "leakage_warning": leakage,
        "train_subjects": train_subjects,
        "test_subjects": sorted(set(test_w.subject), key=natural_key),
        "n_train_windows": len(train_w),
        "model": cfg.model.kind,
        "window": windows.spec.to_dict(),
        "windowing": wreport,
        # the board's mounting check compares its gravity while standing with this; over
        # every window of the training subjects (out of core: their sessions' GravitySums)
        "gravity_reference": (gravity_reference(windows, train_subjects)
                              if isinstance(windows, WindowSet) else None),
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
