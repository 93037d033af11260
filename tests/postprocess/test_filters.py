"""Mode filter, EMA, minimum duration and hysteresis: known answers, streaming == offline."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import ConfigError
from tinyhar.postprocess.filters import (
    EmaStream,
    HysteresisStream,
    MinDurationStream,
    ModeFilterStream,
    ema_filter,
    hysteresis,
    min_duration_causal,
    min_duration_merge,
    mode_filter,
    runs,
)

# clean timeline: 10 x A, 10 x B, 10 x C with isolated one-window flicker inside segments
CLEAN = np.repeat([0, 1, 2], 10)
FLICKER = CLEAN.copy()
FLICKER[[3, 6, 14, 25]] = [2, 1, 0, 0]


def _stream(stage, cls, proba=None):
    """Push a whole sequence through a streaming stage; return (classes, lag seen)."""
    n = len(cls)
    proba = np.full((n, 3), 1 / 3) if proba is None else proba
    out, nones = [], 0
    for t in range(n):
        d = stage.push(proba[t], cls[t])
        if d is None:
            nones += 1
        else:
            assert d.index == t - nones  # decisions come in order, a fixed lag late
            out.append(d.cls)
    out += [d.cls for d in stage.flush()]
    return np.array(out), nones


def test_runs():
    s, ln, v = runs(np.array([1, 1, 2, 2, 2, 1]))
    assert s.tolist() == [0, 2, 5] and ln.tolist() == [2, 3, 1] and v.tolist() == [1, 2, 1]


def test_mode_filter_removes_known_flicker():
    assert mode_filter(FLICKER, 3, 3).tolist() == CLEAN.tolist()
    assert mode_filter(FLICKER, 5, 3).tolist() == CLEAN.tolist()
    assert mode_filter(FLICKER, 1, 3).tolist() == FLICKER.tolist()


def test_mode_filter_ties_and_edges():
    # k=4 covers [t-1, t+2]: t=0 sees 0,1,1 -> 1; t=1 sees 0,1,1,0 (tie) -> centre class 1;
    # t=2 sees 1,1,0,0 (tie) -> 1
    assert mode_filter(np.array([0, 1, 1, 0, 0]), 4, 2).tolist() == [1, 1, 1, 0, 0]
    # tie not involving the centre class: lowest index wins (k=5, t=2: 1,1,0,2,2 -> 1)
    assert mode_filter(np.array([1, 1, 0, 2, 2]), 5, 3).tolist() == [1, 1, 1, 2, 2]
    # clipped at the edges: the first window sees only [0, 1]
    assert mode_filter(np.array([1, 0, 0]), 3, 2).tolist() == [1, 0, 0]


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 8, 9])
def test_mode_stream_equals_offline(k):
    rng = np.random.default_rng(k)
    cls = rng.integers(0, 3, size=60)
    got, lag = _stream(ModeFilterStream(k, 3), cls)
    assert lag == k // 2
    assert got.tolist() == mode_filter(cls, k, 3).tolist()
    # shorter than the lag: everything comes out of flush
    got, _ = _stream(ModeFilterStream(k, 3), cls[:2])
    assert got.tolist() == mode_filter(cls[:2], k, 3).tolist()


def test_ema_on_a_step():
    p = np.zeros((6, 2))
    p[:2, 0] = 1.0
    p[2:, 1] = 1.0
    s = ema_filter(p, 0.5)
    # s1 of class 1 after the step: 0.5, 0.75, 0.875, 0.9375
    assert s[:, 1].tolist() == [0.0, 0.0, 0.5, 0.75, 0.875, 0.9375]
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    stream = EmaStream(0.5)
    streamed = np.array([stream.push(row).proba for row in p])
    assert np.array_equal(streamed, s)  # same recurrence, same order
    assert np.argmax(s, axis=1).tolist() == [0, 0, 0, 1, 1, 1]  # tie at t=2 -> class 0
    assert np.array_equal(ema_filter(p, 1.0), p)
    with pytest.raises(ConfigError, match="ema_alpha"):
        ema_filter(p, 0.0)


def test_min_duration_known_answers():
    x = np.array([0, 0, 0, 0, 1, 0, 0, 0, 2, 2, 1, 1, 1, 1, 1])
    # merge: [1] (len 1) into the longer neighbour 0; [2,2] between 0 (len 8) and 1 (len 5) -> 0
    assert min_duration_merge(x, 3).tolist() == [0] * 10 + [1] * 5
    # causal: short runs keep the class accepted before them
    assert min_duration_causal(x, 3).tolist() == [0] * 10 + [1] * 5
    # the merge rule prefers the neighbour with the higher mean probability when given
    p = np.full((15, 3), 0.1)
    p[8:10, 1] = 0.8
    assert min_duration_merge(x, 3, p).tolist() == [0] * 8 + [1] * 7
    # causal keeps a short first segment; merge does not
    y = np.array([2, 0, 0, 0, 0])
    assert min_duration_causal(y, 2).tolist() == y.tolist()
    assert min_duration_merge(y, 2).tolist() == [0] * 5
    # the flicker sequence cleaned by both rules
    assert min_duration_merge(FLICKER, 2).tolist() == CLEAN.tolist()
    assert min_duration_causal(FLICKER, 2).tolist() == CLEAN.tolist()
    # a session shorter than d stays one segment
    assert min_duration_merge(np.array([1, 0, 1]), 5).tolist() in ([1, 1, 1], [0, 0, 0])


def test_min_duration_merge_leaves_no_short_segment():
    rng = np.random.default_rng(0)
    for d in (2, 3, 6):
        x = rng.integers(0, 4, size=200)
        out = min_duration_merge(x, d)
        _, lengths, _ = runs(out)
        assert lengths.min() >= d
        # every output class of a window came from the input somewhere nearby: labels subset
        assert set(out.tolist()) <= set(x.tolist())


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_min_duration_stream_equals_offline(d):
    rng = np.random.default_rng(d)
    x = np.repeat(rng.integers(0, 3, size=40), rng.integers(1, 6, size=40))
    got, lag = _stream(MinDurationStream(d), x)
    assert lag == d - 1
    assert got.tolist() == min_duration_causal(x, d).tolist()
    _, lengths, _ = runs(got)
    assert lengths[1:].min() >= d


def test_hysteresis_known_answers():
    x = np.array([0, 1, 0, 1, 1, 1, 0])
    p = np.zeros((7, 2))
    p[np.arange(7), x] = 0.6
    p[np.arange(7), 1 - x] = 0.4
    # switch only after 2 consecutive windows: the flicker at t=1 is ignored, the switch at t=4
    assert hysteresis(x, p, 0.0, 2).tolist() == [0, 0, 0, 0, 1, 1, 1]
    # a margin of 0.3 is never reached by a 0.6/0.4 split: no switch at all
    assert hysteresis(x, p, 0.3, 1).tolist() == [0] * 7
    # disabled
    assert hysteresis(x, p, 0.0, 1).tolist() == x.tolist()
    stream = HysteresisStream(0.1, 2)
    got, lag = _stream(stream, x, p)
    assert lag == 0 and got.tolist() == hysteresis(x, p, 0.1, 2).tolist()


def test_bad_parameters_name_the_key():
    with pytest.raises(ConfigError, match="mode_k"):
        mode_filter(np.array([0, 1]), 0)
    with pytest.raises(ConfigError, match="min_duration"):
        min_duration_causal(np.array([0, 1]), 0)
    with pytest.raises(ConfigError, match="hysteresis_margin"):
        HysteresisStream(1.5, 1)
    with pytest.raises(ConfigError, match="class indices"):
        mode_filter(np.array([0.5, 1.0]), 3)
