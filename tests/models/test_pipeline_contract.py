"""HarPipeline's device contract: invalid windows (raise or mark), streaming hop, plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.features import FeatureExtractor, stack_previous
from tinyhar.features.validity import INVALID_CLASS
from tinyhar.models.pipeline import HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier


@pytest.fixture(scope="module")
def windows():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    w, _ = make_windows(load_bundled_hapt().select(subjects=["1", "3"]), window=128, hop=64,
                        unit="samples")
    return w


def _pipeline(w, stack=False, hop=None):
    fx = FeatureExtractor(sampling_rate_hz=w.sampling_rate_hz, channels=tuple(w.channels),
                          feature_set="minimal").fit(w.X[:1])
    F = fx.transform(w.X)
    if stack:
        F = stack_previous(F, w.session, w.start_time)
    model = TreeEnsembleClassifier(n_estimators=4, max_depth=6, random_state=0).fit(F, w.y)
    return HarPipeline(fx, model, list(w.channels), w.sampling_rate_hz, w.n_samples, hop, stack,
                       list(w.classes))


def _one_session(w, X):
    n = len(X)
    return WindowSet(X, np.full(n, "", dtype=object), ["1"] * n, ["s"] * n,
                     np.arange(n) * 1.28, list(w.channels), w.sampling_rate_hz, list(w.classes),
                     name="stream.csv")


def test_invalid_window_raises_with_its_index_channel_and_value(windows) -> None:
    pipe = _pipeline(windows)
    X = windows.X[:6].copy()
    X[4, 100, 3] = 1e30
    expected = (r"^stream\.csv: 1 window holds a value .* window index 4; window 4 \(session s, "
                r"window starting at 5\.12 s\), sample 100, channel gyro_x is "
                r"1\.0000000150474662e\+30")
    with pytest.raises(DataFormatError, match=expected):
        pipe.predict(_one_session(windows, X))


def test_mark_gives_invalid_and_the_classes_of_the_valid_windows(windows) -> None:
    pipe = _pipeline(windows)
    X = windows.X[:8].copy()
    X[1] = np.nan
    X[5, 0, 0] = -np.inf
    X[6, 3, 2] = 1e6
    got = pipe.predict(_one_session(windows, X), on_invalid="mark")
    expected = pipe.predict(_one_session(windows, windows.X[:8]))
    assert [g == INVALID_CLASS for g in got] == [False, True, False, False, False, True, True,
                                                  False]
    keep = [0, 2, 3, 4, 7]
    assert list(got[keep]) == list(expected[keep])


def test_stacked_window_after_an_invalid_one_is_its_own_predecessor(windows) -> None:
    pipe = _pipeline(windows, stack=True)
    X = windows.X[10:16].copy()
    X[2, 50, 1] = np.nan
    got = pipe.predict(_one_session(windows, X), on_invalid="mark")
    before = pipe.predict(_one_session(windows, X[:2]))
    after = pipe.predict(_one_session(windows, X[3:]))  # a new recording starts at window 3
    assert list(got) == list(before) + [INVALID_CLASS] + list(after)


def test_unknown_on_invalid_and_a_class_named_invalid_are_refused(windows) -> None:
    pipe = _pipeline(windows)
    with pytest.raises(ConfigError, match="on_invalid='skip'"):
        pipe.predict(windows, on_invalid="skip")
    pipe.classes = [*pipe.classes, INVALID_CLASS]
    with pytest.raises(ConfigError, match="without a class named 'invalid'"):
        pipe.predict(windows, on_invalid="mark")


def test_streaming_hop_is_the_training_hop_or_half_a_window(windows) -> None:
    assert _pipeline(windows, hop=32).streaming_hop == 32
    assert _pipeline(windows, hop=None).streaming_hop == 64
    pipe = _pipeline(windows)
    pipe.n_samples = 1
    assert pipe.streaming_hop == 1


# --------------------------------------------------------------------------- plain arrays


def _first_session(w):
    """The windows of the first session, in time order."""
    idx = np.flatnonzero(w.session == w.session[0])
    return w.subset(idx[np.argsort(w.start_time[idx], kind="stable")])


def test_predict_and_predict_proba_take_an_array(windows) -> None:
    pipe = _pipeline(windows)
    part = windows.subset(np.arange(0, len(windows), 7))
    expected = pipe.predict(part)
    assert list(pipe.predict(part.X)) == list(expected)
    assert list(pipe.predict(part.X.astype(np.float64).tolist())) == list(expected)
    proba = pipe.predict_proba(part.X)
    assert proba.shape == (len(part), len(pipe.model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert list(pipe.model.classes_[proba.argmax(axis=1)]) == list(expected)
    np.testing.assert_array_equal(proba, pipe.predict_proba(part))


def test_an_array_is_one_session_in_row_order(windows) -> None:
    pipe = _pipeline(windows, stack=True, hop=64)
    session = _first_session(windows)
    assert len(session) > 10
    assert list(pipe.predict(session.X)) == list(pipe.predict(session))
    # another row order gives other predecessors, hence other stacked features
    flipped = pipe.transform(session.X[::-1])[::-1]
    assert not np.array_equal(flipped, pipe.transform(session.X))


def test_an_array_with_an_invalid_window_is_marked(windows) -> None:
    pipe = _pipeline(windows)
    X = windows.X[:5].copy()
    X[2, 0, 0] = np.nan
    out = pipe.predict(X, on_invalid="mark")
    assert out[2] == "invalid" and list(out[[0, 1, 3, 4]]) == list(pipe.predict(X[[0, 1, 3, 4]]))
    with pytest.raises(DataFormatError, match="window 2"):
        pipe.predict(X)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((4, 128), np.float32),
         r"shape \(n_windows, 128, 6\).*got an array of shape \(4, 128\) \(2-D\)"),
        (np.zeros((4, 100, 6), np.float32), r"got shape \(4, 100, 6\)"),
        (np.zeros((4, 128, 3), np.float32), r"channels in the order \['acc_x'"),
        ([[["a"]]], r"numeric array of shape \(n_windows, 128, 6\)"),
    ],
)
def test_a_wrong_array_is_a_data_format_error(windows, X, match) -> None:
    pipe = _pipeline(windows)
    with pytest.raises(DataFormatError, match=match):
        pipe.predict(X)
    with pytest.raises(DataFormatError, match=match):
        pipe.predict_proba(X)
