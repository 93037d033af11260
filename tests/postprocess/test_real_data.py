"""Real data: a small tree model on bundled HAPT, smoothed on a held-out subject's sessions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.evaluation.continuous import continuous_metrics
from tinyhar.features import FeatureExtractor
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.postprocess import PostProcessor
from tinyhar.windows.windowing import make_windows

TRAIN = ["1", "3", "5", "6"]
TEST = "7"


@pytest.fixture(scope="module")
def hapt():
    try:
        rec = load_bundled_hapt().select(subjects=TRAIN + [TEST])
    except Exception as exc:  # pragma: no cover - a source checkout without the data file
        pytest.skip(f"bundled HAPT not available: {exc}")
    rec = rec.select(channels=["acc_x", "acc_y", "acc_z"])
    windows, _ = make_windows(rec, window=2.56, hop=1.28, purity=0.8, keep_unlabelled=True)
    X = FeatureExtractor(
        sampling_rate_hz=windows.sampling_rate_hz, channels=tuple(windows.channels),
        feature_set="minimal",
    ).fit_transform(windows.X)
    return windows, X


def _model():
    return TreeEnsembleClassifier(n_estimators=10, max_depth=8, random_state=0)


def _changes(cls, sessions):
    return sum(int(np.count_nonzero(np.diff(cls[sessions == s]))) for s in np.unique(sessions))


def test_smoothing_reduces_class_changes_on_a_held_out_subject(hapt):
    windows, X = hapt
    y, subj, sess = windows.y, windows.subject, windows.session
    train = np.isin(subj, TRAIN)
    test = subj == TEST
    labelled = y != ""
    classes = sorted(set(y[labelled]))
    # cross-validated (leave-subjects-out) probabilities of every training window
    proba_cv = np.zeros((len(y), len(classes)))
    idx_train = np.flatnonzero(train)
    for fit_i, out_i in GroupKFold(n_splits=len(TRAIN)).split(idx_train, groups=subj[train]):
        fit_idx, out_idx = idx_train[fit_i], idx_train[out_i]
        fit_idx = fit_idx[labelled[fit_idx]]
        m = _model().fit(X[fit_idx], y[fit_idx])
        assert list(m.classes_) == classes  # every subject did all six activities
        proba_cv[out_idx] = m.predict_proba(X[out_idx])
    model = _model().fit(X[train & labelled], y[train & labelled])
    proba = model.predict_proba(X[test])
    y_test, s_test = y[test], sess[test]
    scored = y_test != ""

    raw = PostProcessor(classes).apply(proba, s_test)
    results = {}
    for options in (
        {"smoothing": "hmm", "hmm_decoder": "viterbi"},
        {"smoothing": "hmm", "hmm_lag": 5},
        {"smoothing": "mode", "mode_k": 5},
    ):
        spec = PostProcessor(classes, **options).fit(proba_cv[train], y[train], sess[train])
        out = spec.apply(proba, s_test)
        results[spec.describe()] = out
    names = np.asarray(classes, dtype=object)

    def f1(cls):
        return f1_score(y_test[scored], names[cls][scored], average="macro")

    raw_f1, raw_changes = f1(raw), _changes(raw, s_test)
    true_changes = _changes(np.unique(y_test, return_inverse=True)[1], s_test)
    print(f"\nsubject {TEST}: {test.sum()} windows, {len(np.unique(s_test))} sessions, "
          f"{true_changes} true label changes (unlabelled spans included)")
    print(f"{'none':28s} changes {raw_changes:4d}  window macro-F1 {raw_f1:.3f}")
    for name, out in results.items():
        cm = continuous_metrics(y_test, names[out], s_test, step_s=1.28)
        print(f"{name:28s} changes {_changes(out, s_test):4d}  window macro-F1 {f1(out):.3f}  "
              f"segment F1 {cm['segment_f1']:.3f}  over-segmentation "
              f"{cm['oversegmentation']:.2f}  edit {cm['edit_score']:.1f}")
        assert _changes(out, s_test) < raw_changes * 0.8, name
        assert f1(out) >= raw_f1 - 0.02, name
    raw_cm = continuous_metrics(y_test, names[raw], s_test, step_s=1.28)
    hmm_cm = continuous_metrics(y_test, names[results["hmm(viterbi)"]], s_test, step_s=1.28)
    assert hmm_cm["oversegmentation"] < raw_cm["oversegmentation"]
