"""Whole HAPT test streams for the device post-processing parity tests.

A 10-tree model (depth <= 10) is trained on four training subjects of the
publisher's HAPT archive; every window of the nine official test subjects'
whole streams (impure and unlabelled windows included) gets its model inputs
and probabilities in Python. These rows are the input of the post-processing
in Python, C and MicroPython (the feature extraction itself has its own
parity tests). The HMM and the rejection parameters are fitted on the
training subjects (cross-validated probabilities), never on test subjects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
from tinyhar.export.post import UNKNOWN, ood_scores
from tinyhar.postprocess import PostProcessor

TRAIN = ("1", "3", "5", "6")
FALSE_REJECTION = 0.05


@dataclass
class Streams:
    classes: list[str]
    proba: np.ndarray  # (n_windows, n_classes) float64
    features: np.ndarray  # (n_windows, n_features) float32
    runs: np.ndarray  # (n_windows,) run key, contiguous
    y: np.ndarray  # majority label ("" = unlabelled)
    train_proba_cv: np.ndarray
    train_features: np.ndarray
    train_y: np.ndarray
    train_runs: np.ndarray
    rejection: dict


def _stream_rows(pipeline, recordings):
    from tinyhar.evaluation.streams import iter_stream_windows
    from tinyhar.features.validity import invalid_windows

    feats, runs, ys, subjects = [], [], [], []
    for chunk in iter_stream_windows(recordings, pipeline.n_samples, pipeline.streaming_hop,
                                     pipeline.sampling_rate_hz, pipeline.channels):
        w = chunk.windows
        assert not invalid_windows(w.X).any()
        feats.append(pipeline.transform(w))
        runs.append(np.array([f"{s}/{chunk.part}" for s in w.session], dtype=object))
        ys.append(np.asarray(w.y, dtype=object))
        subjects.append(np.asarray(w.subject).astype(str))
    return (np.concatenate(feats), np.concatenate(runs), np.concatenate(ys),
            np.concatenate(subjects))


@lru_cache(maxsize=2)
def hapt_streams(zip_path: str, sensors: str = "acc") -> Streams:
    """Train on :data:`TRAIN`, return the test streams' rows and fitted rejection."""
    from tinyhar.datasets.registry import load_dataset
    from tinyhar.evaluation.streams import class_probabilities
    from tinyhar.features import FeatureExtractor
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.models.trees import TreeEnsembleClassifier
    from tinyhar.windows.windowing import make_windows

    rec = load_dataset("hapt-raw", path=Path(zip_path), sensors=sensors)
    train_rec = rec.select(subjects=list(TRAIN))
    windows, _ = make_windows(train_rec, window=2.56, hop=1.28, purity=0.8)
    fx = FeatureExtractor(sampling_rate_hz=windows.sampling_rate_hz,
                          channels=tuple(windows.channels))
    X = fx.fit_transform(windows.X)

    def model():
        return TreeEnsembleClassifier(n_estimators=10, max_depth=10, random_state=0)

    m = model().fit(X, windows.y)
    classes = [str(c) for c in m.classes_]
    pipeline = HarPipeline(fx, m, list(windows.channels), windows.sampling_rate_hz,
                           windows.n_samples, 64, False, classes)
    # cross-validated probabilities of the training subjects' whole streams
    tf, truns, ty, tsubj = _stream_rows(pipeline, train_rec)
    cv = np.zeros((len(tf), len(classes)))
    wsubj = np.asarray(windows.subject).astype(str)
    for fit_s, out_s in GroupKFold(n_splits=2).split(np.zeros(len(TRAIN)),
                                                     groups=np.array(TRAIN)):
        fit_subjects = [TRAIN[i] for i in fit_s]
        sel = np.isin(wsubj, fit_subjects)
        fm = model().fit(X[sel], windows.y[sel])
        out = np.isin(tsubj, [TRAIN[i] for i in out_s])
        cv[out] = class_probabilities(fm, tf[out], classes)
    # rejection fitted on training subjects: 5 % false rejection of labelled windows
    lab = np.isin(ty, classes)
    top = cv[lab].max(axis=1)
    means = np.array([X[windows.y == c].mean(axis=0) for c in classes], dtype=np.float64)
    var = np.array([X[windows.y == c].var(axis=0) for c in classes], dtype=np.float64)
    inv_var = 1.0 / (var + 1e-6 * (var.max(axis=0, keepdims=True) + 1e-12))
    scores = ood_scores(tf[lab], means, inv_var)
    rejection = {
        "proba_threshold": float(np.quantile(top, FALSE_REJECTION / 2)),
        "ood_threshold": float(np.quantile(scores, 1 - FALSE_REJECTION / 2)),
        "ood_means": means,
        "ood_inv_var": inv_var,
    }
    test_rec = rec.select(subjects=list(OFFICIAL_TEST_SUBJECTS))
    f, runs, y, _ = _stream_rows(pipeline, test_rec)
    proba = class_probabilities(m, f, classes)
    return Streams(classes, proba, f, runs, y, cv, tf, ty, truns, rejection)


def fitted_specs(s: Streams, reject: bool) -> list[PostProcessor]:
    """Every post-processing option (streamable), fitted on the training streams."""
    from tinyhar.export.post import apply_rejection, device_postprocess

    classes = s.classes + [UNKNOWN] if reject else list(s.classes)
    proba = s.train_proba_cv
    if reject:
        params = device_postprocess(PostProcessor(classes), s.rejection)
        _, proba = apply_rejection(params, proba, s.train_features)
    y = np.where(np.isin(s.train_y, s.classes), s.train_y, "")
    specs = []
    for options in (
        {"smoothing": "none"},
        {"smoothing": "mode", "mode_k": 5},
        {"smoothing": "ema", "ema_alpha": 0.3},
        {"smoothing": "hmm", "hmm_lag": 0},
        {"smoothing": "hmm", "hmm_lag": 5},
        {"smoothing": "hmm", "hmm_lag": 5, "min_duration": 3},
        {"smoothing": "mode", "mode_k": 5, "min_duration": 3},
        {"smoothing": "ema", "ema_alpha": 0.3, "hysteresis_margin": 0.1,
         "hysteresis_windows": 2},
    ):
        specs.append(PostProcessor(classes, **options).fit(proba, y, s.train_runs))
    return specs


def specs_with_own_rejection(s: Streams) -> list[PostProcessor]:
    """Post-processors that carry their own rejection (``tinyhar.postprocess.rejection``),
    calibrated on the training streams; empty where that module is not present."""
    try:
        from tinyhar.postprocess.rejection import OodModel, Rejection
    except ImportError:
        return []
    y_idx = np.array([s.classes.index(v) if v in s.classes else -1 for v in s.train_y])
    lab = y_idx >= 0
    ood = OodModel.fit(s.train_features, y_idx, len(s.classes))
    ood_cv = ood.score(s.train_features)
    y = np.where(lab, s.train_y, "")
    specs = []
    for method, options in (
        ("both", {"smoothing": "hmm", "hmm_lag": 5, "min_duration": 3}),
        ("ood", {"smoothing": "mode", "mode_k": 5}),
        ("probability", {"smoothing": "ema", "ema_alpha": 0.3, "hysteresis_margin": 0.1,
                         "hysteresis_windows": 2}),
    ):
        rej = Rejection(method, ood=ood).calibrate(s.train_proba_cv[lab].max(axis=1),
                                                   ood_cv[lab])
        specs.append(PostProcessor(s.classes, rejection=rej, **options).fit(
            s.train_proba_cv, y, s.train_runs, ood_cv))
    return specs
