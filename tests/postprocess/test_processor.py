"""PostProcessor: streaming == offline, JSON round trip, selection by leave-subjects-out CV."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess import PostProcessor, default_candidates, select_postprocess

CLASSES = ["sit", "stand", "walk"]


def _synthetic(n_subjects=4, sessions_per_subject=2, seed=0, flip=0.25):
    """Sessions of long activity segments; noisy probabilities that flicker."""
    rng = np.random.default_rng(seed)
    proba, y, sess, subj = [], [], [], []
    for s in range(n_subjects):
        for k in range(sessions_per_subject):
            labels = np.repeat(rng.integers(0, 3, size=6), rng.integers(8, 25, size=6))
            p = rng.dirichlet(np.ones(3) * 0.7, size=labels.size)
            right = rng.random(labels.size) > flip
            p[right, labels[right]] += 1.5
            p /= p.sum(axis=1, keepdims=True)
            names = np.asarray(CLASSES, dtype=object)[labels]
            names[rng.random(labels.size) < 0.05] = ""  # unlabelled windows
            proba.append(p)
            y.append(names)
            sess += [f"s{s}-{k}"] * labels.size
            subj += [str(s)] * labels.size
    return np.vstack(proba), np.concatenate(y), np.array(sess), np.array(subj)


STREAMABLE = [
    {},
    {"smoothing": "mode", "mode_k": 5},
    {"smoothing": "mode", "mode_k": 4, "min_duration": 3},
    {"smoothing": "ema", "ema_alpha": 0.4, "hysteresis_margin": 0.1, "hysteresis_windows": 2},
    {"smoothing": "hmm", "hmm_lag": 0},
    {"smoothing": "hmm", "hmm_lag": 3, "min_duration": 4, "hysteresis_windows": 3},
    {"min_duration": 2, "hysteresis_margin": 0.2},
]


@pytest.mark.parametrize("options", STREAMABLE, ids=lambda o: "-".join(map(str, o.values())))
def test_stream_equals_offline(options):
    proba, y, sessions, _ = _synthetic()
    spec = PostProcessor(CLASSES, **options).fit(proba, y, sessions)
    assert spec.streamable
    offline = spec.apply(proba, sessions)
    stream = spec.stream()
    assert stream.lag == spec.lag
    for s in np.unique(sessions):
        idx = np.flatnonzero(sessions == s)
        got, pending = [], 0
        for t in idx:
            c = stream.push(proba[t])
            if c is None:
                pending += 1
            else:
                got.append(c)
        assert pending == min(spec.lag, idx.size)  # decisions come exactly `lag` windows late
        got += stream.flush()
        assert got == offline[idx].tolist()


def test_smoothing_reduces_flicker_on_synthetic_sessions():
    proba, y, sessions, _ = _synthetic(seed=3)
    raw = PostProcessor(CLASSES).apply(proba, sessions)
    for options in STREAMABLE[1:]:
        spec = PostProcessor(CLASSES, **options).fit(proba, y, sessions)
        out = spec.apply(proba, sessions)
        changes = sum(np.count_nonzero(np.diff(out[sessions == s])) for s in set(sessions))
        raw_changes = sum(np.count_nonzero(np.diff(raw[sessions == s])) for s in set(sessions))
        assert changes < raw_changes, options


def test_offline_only_options():
    proba, y, sessions, _ = _synthetic()
    spec = PostProcessor(CLASSES, smoothing="hmm", hmm_decoder="viterbi").fit(proba, y, sessions)
    assert not spec.streamable
    with pytest.raises(ConfigError, match="whole sessions"):
        spec.stream()
    out = spec.apply(proba, sessions)
    first = sessions == sessions[0]
    assert out[first].tolist() == spec.hmm.viterbi(np.argmax(proba[first], 1)).tolist()
    merge = PostProcessor(CLASSES, min_duration=3, min_duration_rule="merge")
    assert not merge.streamable
    assert merge.apply(proba, sessions).shape == (len(y),)


def test_dict_round_trip_through_json():
    proba, y, sessions, _ = _synthetic()
    spec = PostProcessor(
        CLASSES, smoothing="hmm", hmm_lag=2, min_duration=3, hysteresis_margin=0.05
    ).fit(proba, y, sessions)
    state = json.loads(json.dumps(spec.to_dict()))
    assert state["format_version"] == 1 and state["classes"] == CLASSES
    back = PostProcessor.from_dict(state)
    assert back.to_dict() == spec.to_dict()
    assert np.array_equal(back.apply(proba, sessions), spec.apply(proba, sessions))
    # a config-style mapping: options only, defaults for the rest, unfitted
    cfg = PostProcessor.from_dict({"smoothing": "mode", "mode_k": 7}, classes=CLASSES)
    assert cfg.mode_k == 7 and cfg.lag == 3 and not cfg.needs_fit and cfg.classes == CLASSES
    with pytest.raises(ConfigError, match="differ"):
        PostProcessor.from_dict(state, classes=["a", "b"])
    with pytest.raises(ConfigError, match="classes is missing"):
        PostProcessor.from_dict({"smoothing": "mode"})


def test_errors_name_the_key():
    with pytest.raises(ConfigError, match="postprocess.smoothing"):
        PostProcessor(CLASSES, smoothing="median")
    with pytest.raises(ConfigError, match="unknown keys"):
        PostProcessor.from_dict({"classes": CLASSES, "mode_size": 3})
    with pytest.raises(ConfigError, match="format_version"):
        PostProcessor.from_dict({"classes": CLASSES, "format_version": 99})
    with pytest.raises(ConfigError, match="not fitted"):
        PostProcessor(CLASSES, smoothing="hmm").apply(np.full((3, 3), 1 / 3))
    with pytest.raises(ConfigError, match="3 classes"):
        PostProcessor(CLASSES).apply(np.full((3, 2), 0.5))
    with pytest.raises(EvaluationError, match="'run'"):
        PostProcessor(CLASSES, smoothing="hmm").fit(
            np.full((2, 3), 1 / 3), np.array(["sit", "run"]), np.array(["a", "a"])
        )


def test_select_postprocess_uses_only_given_subjects():
    proba, y, sessions, subjects = _synthetic(n_subjects=4, seed=5)
    best, table = select_postprocess(
        proba, y, sessions, subjects, classes=CLASSES, n_folds=2
    )
    assert len(table) == len(default_candidates(CLASSES))
    scores = {row["postprocess"]: row["macro_f1"] for row in table}
    assert scores[best.describe()] == max(scores.values())
    assert scores[best.describe()] > scores["none"]  # flicker removed pays off
    assert not best.needs_fit and json.dumps(best.to_dict())
    streamable, _ = select_postprocess(
        proba, y, sessions, subjects, classes=CLASSES, n_folds=2, streamable_only=True
    )
    assert streamable.streamable
    with pytest.raises(EvaluationError, match="2 training subjects"):
        select_postprocess(proba, y, sessions, np.zeros(len(y), dtype=str), classes=CLASSES)


_FITTED = PostProcessor(CLASSES, smoothing="hmm").fit(*_synthetic()[:3]).hmm


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    smoothing=st.sampled_from(["none", "mode", "ema", "hmm"]),
    k=st.integers(1, 9),
    alpha=st.floats(0.05, 1.0),
    lag=st.integers(0, 6),
    d=st.integers(1, 6),
    margin=st.sampled_from([0.0, 0.05, 0.2]),
    m=st.integers(1, 4),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_stream_equals_offline_property(smoothing, k, alpha, lag, d, margin, m, n, seed):
    spec = PostProcessor(
        CLASSES, smoothing=smoothing, mode_k=k, ema_alpha=alpha, hmm_lag=lag, min_duration=d,
        hysteresis_margin=margin, hysteresis_windows=m, hmm=_FITTED,
    )
    proba = np.random.default_rng(seed).dirichlet(np.ones(3) * 0.5, size=n)
    stream = spec.stream()
    got = [c for c in (stream.push(row) for row in proba) if c is not None] + stream.flush()
    assert got == spec.apply(proba).tolist()


def test_default_candidates_are_spans_in_seconds():
    at_ref = [c.describe() for c in default_candidates(CLASSES)]
    assert at_ref == [c.describe() for c in default_candidates(CLASSES, 1.28)]
    assert at_ref == [
        "none",
        *(f"mode(k={k})" for k in (3, 5, 7, 9, 11, 13)),
        "ema(alpha=0.5)", "ema(alpha=0.3)", "ema(alpha=0.2)",
        *(f"hmm(fixed_lag={lag})" for lag in (0, 2, 5, 10)),
        "hmm(viterbi)",
        *(f"mode(k={k})+min_duration(3,causal)" for k in (7, 9, 11)),
        "hmm(fixed_lag=5)+min_duration(3,causal)",
        "mode(k=9)+min_duration(5,merge)",
    ]
    # half the hop: twice the windows (mode lengths odd), the same EMA decay per second
    half = default_candidates(CLASSES, 0.64)
    assert [c.mode_k for c in half if c.smoothing == "mode" and c.min_duration == 1] == [
        7, 11, 15, 19, 23, 27]
    assert [c.hmm_lag for c in half if c.smoothing == "hmm" and c.hmm_decoder == "fixed_lag"
            and c.min_duration == 1] == [0, 4, 10, 20]
    assert {c.min_duration for c in half if c.min_duration > 1} == {6, 10}
    alphas = [c.ema_alpha for c in half if c.smoothing == "ema"]
    np.testing.assert_allclose(alphas, [1 - 0.5 ** 0.5, 1 - 0.7 ** 0.5, 1 - 0.8 ** 0.5],
                               rtol=1e-12)
    # a long hop: spans collapse to one window; each option is listed once
    long = [c.describe() for c in default_candidates(CLASSES, 20.0)]
    assert len(long) == len(set(long)) and "mode(k=1)" in long and "mode(k=3)" not in long
    for bad in (0, -1.0, float("nan"), "x"):
        with pytest.raises(ConfigError, match="hop_s"):
            default_candidates(CLASSES, bad)


@pytest.mark.parametrize("hop_s", [1.28, 0.64])
def test_auto_on_streams_compares_the_grid_at_the_streams_hop(hop_s):
    from tinyhar.evaluation.streams import StreamPredictions, select_on_streams

    proba, y, sessions, subjects = _synthetic(n_subjects=4, seed=3)
    n = len(y)
    t = np.arange(n) * hop_s
    pred = StreamPredictions(
        CLASSES, sessions.astype(object), subjects.astype(object), np.zeros(n, dtype=np.int64),
        t, t + 2 * hop_s, y, proba, np.zeros(n, dtype=bool), np.ones(n), 2 * hop_s, hop_s,
    )
    best, table, chosen = select_on_streams(pred, {"smoothing": "auto"}, n_folds=2)
    assert [r["postprocess"] for r in table] == [
        c.describe() for c in default_candidates(CLASSES, hop_s)]
    assert f"best of {len(table)} options" in chosen
    scores = {r["postprocess"]: r["macro_f1"] for r in table}
    assert scores[best.describe()] == max(scores.values()) > scores["none"]
