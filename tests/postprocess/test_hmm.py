"""Class HMM: fitting on known sequences; Viterbi and posteriors vs hmmlearn and brute force."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess.hmm import ClassHMM

hmm = pytest.importorskip("hmmlearn.hmm")


def _random_model(k, seed):
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(k))
    a = rng.dirichlet(np.ones(k), size=k) + 3 * np.eye(k)
    b = rng.dirichlet(np.ones(k), size=k) + 2 * np.eye(k)
    return ClassHMM(pi, a / a.sum(1, keepdims=True), b / b.sum(1, keepdims=True))


def _hmmlearn(model):
    ref = hmm.CategoricalHMM(n_components=model.n_classes, init_params="", params="")
    ref.n_features = model.n_classes
    ref.startprob_ = model.startprob
    ref.transmat_ = model.transmat
    ref.emissionprob_ = model.emissionprob
    return ref


def _sample(model, n, seed):
    rng = np.random.default_rng(seed)
    k = model.n_classes
    s = rng.choice(k, p=model.startprob)
    obs = []
    for _ in range(n):
        obs.append(rng.choice(k, p=model.emissionprob[s]))
        s = rng.choice(k, p=model.transmat[s])
    return np.array(obs)


def test_fit_counts_with_additive_smoothing():
    # session s1: A A A B B; session s2: B, unlabelled, B (an unlabelled window breaks pairs)
    y = np.array([0, 0, 0, 1, 1, 1, -1, 1])
    sessions = np.array(["s1"] * 5 + ["s2"] * 3)
    proba = np.zeros((8, 2))
    proba[y == 0] = [0.8, 0.2]
    proba[y != 0] = [0.3, 0.7]
    m = ClassHMM.fit(proba, y, sessions, smoothing=1.0)
    # labelled: 3 x A, 4 x B -> prior (3+1, 4+1) / 9
    np.testing.assert_allclose(m.startprob, [4 / 9, 5 / 9])
    # pairs: AA AA AB BB in s1; none in s2 (B,- and -,B skipped); s1 -> s2 is not a pair
    # counts + 1: A -> (2+1, 1+1), B -> (0+1, 1+1)
    np.testing.assert_allclose(m.transmat, [[3 / 5, 2 / 5], [1 / 3, 2 / 3]])
    # emissions: A rows mean (0.8, 0.2) * 3 + 1 -> (3.4, 1.6) / 5; B: 4 rows (0.3, 0.7) + 1
    np.testing.assert_allclose(m.emissionprob, [[3.4 / 5, 1.6 / 5], [2.2 / 6, 3.8 / 6]])
    with pytest.raises(EvaluationError, match="no labelled"):
        ClassHMM.fit(proba, np.full(8, -1), sessions)
    with pytest.raises(ConfigError, match="hmm_smoothing"):
        ClassHMM.fit(proba, y, sessions, smoothing=-1)
    # without smoothing, B -> A never occurs: a sequence with it would decode as 0 / 0
    with pytest.raises(ConfigError, match="never occur"):
        ClassHMM.fit(proba, y, sessions, smoothing=0)
    both = np.array([0, 0, 1, 1, 0, 1, 1, 0])  # every transition and emission seen
    m0 = ClassHMM.fit(np.full((8, 2), 0.5), both, np.zeros(8), smoothing=0)
    np.testing.assert_allclose(m0.transmat, [[1 / 3, 2 / 3], [2 / 4, 2 / 4]])


@pytest.mark.parametrize("seed", range(6))
def test_viterbi_equals_hmmlearn(seed):
    k = 3 + seed % 3
    model = _random_model(k, seed)
    obs = _sample(model, 200, seed)
    ref = _hmmlearn(model)
    _, ref_path = ref.decode(obs.reshape(-1, 1), algorithm="viterbi")
    assert model.viterbi(obs).tolist() == ref_path.tolist()
    # posteriors agree within float rounding (scaled forward-backward vs hmmlearn's log space)
    np.testing.assert_allclose(
        model.posteriors(obs), ref.predict_proba(obs.reshape(-1, 1)), atol=1e-9
    )


def test_viterbi_equals_brute_force_on_small_cases():
    for seed in range(5):
        model = _random_model(3, 100 + seed)
        obs = _sample(model, 6, seed)
        logp = {}
        for path in itertools.product(range(3), repeat=len(obs)):
            lp = np.log(model.startprob[path[0]]) + np.log(model.emissionprob[path[0], obs[0]])
            for t in range(1, len(obs)):
                lp += np.log(model.transmat[path[t - 1], path[t]])
                lp += np.log(model.emissionprob[path[t], obs[t]])
            logp[path] = lp
        best = max(logp, key=logp.get)
        assert tuple(model.viterbi(obs).tolist()) == best


def _decisive(post, atol=1e-9):
    """Windows whose top posterior leads the second by more than float noise."""
    s = np.sort(post, axis=1)
    return s[:, -1] - s[:, -2] > atol


def test_fixed_lag_limits():
    model = _random_model(4, 7)
    obs = _sample(model, 80, 7)
    ref = _hmmlearn(model)
    full = ref.predict_proba(obs.reshape(-1, 1))
    # lag >= sequence length: every decision is the full forward-backward posterior's argmax
    cls, post = model.fixed_lag(obs, 80)
    np.testing.assert_allclose(post, full, atol=1e-9)
    ok = _decisive(full)
    assert (cls[ok] == full.argmax(1)[ok]).all()
    # lag 0 is forward filtering
    cls0, post0 = model.fixed_lag(obs, 0)
    np.testing.assert_allclose(post0, model.forward(obs), atol=1e-12)


@pytest.mark.parametrize("lag", [1, 3, 6])
def test_fixed_lag_is_forward_backward_on_the_prefix(lag):
    # the decision for window t uses exactly the observations 0 .. t + lag
    model = _random_model(3, lag)
    obs = _sample(model, 40, lag)
    ref = _hmmlearn(model)
    cls, post = model.fixed_lag(obs, lag)
    for t in range(len(obs)):
        end = min(t + lag, len(obs) - 1) + 1
        expected = ref.predict_proba(obs[:end].reshape(-1, 1))[t]
        np.testing.assert_allclose(post[t], expected, atol=1e-9)


def test_stream_delay_and_push_order():
    model = _random_model(3, 11)
    obs = _sample(model, 30, 11)
    stream = model.stream(4)
    eye = np.eye(3)
    decided = []
    for t, o in enumerate(obs):
        d = stream.push(eye[o])
        if t < 4:
            assert d is None
        else:
            assert d.index == t - 4  # the decision for window t comes at t + lag
            decided.append(d.cls)
    decided += [d.cls for d in stream.flush()]
    assert decided == model.fixed_lag(obs, 4)[0].tolist()


def test_round_trip_and_validation():
    model = _random_model(3, 1)
    back = ClassHMM.from_dict(model.to_dict())
    assert np.array_equal(back.transmat, model.transmat)
    bad = model.to_dict()
    bad["transmat"] = [[1, 0], [0, 1]]
    with pytest.raises(ConfigError, match="transmat"):
        ClassHMM.from_dict(bad)
    with pytest.raises(ConfigError, match="missing"):
        ClassHMM.from_dict({"startprob": [0.5, 0.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # zero probabilities stay in log space without warnings (log(0) = -inf)
        z = ClassHMM([1.0, 0.0], [[1.0, 0.0], [0.0, 1.0]], [[0.9, 0.1], [0.1, 0.9]])
        assert z.viterbi(np.array([1, 1, 0])).tolist() == [0, 0, 0]
