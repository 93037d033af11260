"""HarPipeline's device contract: invalid windows (raise or mark) and the streaming hop."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.features import FeatureExtractor, stack_previous
from tinyhar.features.validity import INVALID_CLASS
from tinyhar.models.pipeline import HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.windows.windowset import WindowSet


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
