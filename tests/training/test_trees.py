"""The tree pipeline of a run: its feature part without scikit-learn is the pipeline's own."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.config import make_config
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError
from tinyhar.training.trees import build_pipeline, extractor_settings, feature_pipeline


def _windows(rate=50.0, n=128, channels=("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y",
                                         "gyro_z")) -> WindowSet:
    rng = np.random.default_rng(4)
    X = rng.normal(0, 0.3, (6, n, len(channels))).astype(np.float32)
    X[..., 2] += 1.0
    k = len(X)
    return WindowSet(X, ["WALKING", "SITTING"] * (k // 2), ["s1"] * k, ["a"] * k,
                     np.arange(k) * 1.28, list(channels), rate, ["WALKING", "SITTING"], "test",
                     hop_samples=n // 2)


@pytest.mark.parametrize("features", [
    {},
    {"set": "light", "stack_previous": True},
    {"set": "full", "bands_hz": [[0.5, 2.0], [2.0, 8.0]], "gravity_cutoff_hz": 0.5},
])
def test_feature_pipeline_is_the_pipeline_without_its_model(features):
    """What the session tasks get before this process imports scikit-learn equals what they
    got before (the whole pipeline's features_only): same plan, layout and features."""
    cfg = make_config({"features": features}, "test")
    windows = _windows()
    whole = build_pipeline(windows, cfg)
    early = feature_pipeline(windows.spec, cfg, windows.classes)
    assert early == whole.features_only()
    assert early.model is None and early.feature_names == whole.feature_names
    np.testing.assert_array_equal(early.transform(windows), whole.transform(windows))


def test_the_settings_are_the_extractors_parameters():
    """The feature cache keys the extractor by these settings: as its get_params() (so a
    cache written before keeps its keys)."""
    cfg = make_config({"features": {"set": "light"}}, "test")
    windows = _windows(rate=25.0, n=64, channels=("acc_x", "acc_y", "acc_z"))
    settings = extractor_settings(cfg, windows.sampling_rate_hz, windows.channels)
    extractor = build_pipeline(windows, cfg).extractor
    assert repr(dict(sorted(settings.items()))) == repr(extractor.get_params())


@pytest.mark.parametrize(("config", "message"), [
    ({"features": {"gravity_cutoff_hz": 30.0}}, "Nyquist"),
    ({"model": {"max_features": 5000}}, "model.max_features: 5000"),
])
def test_feature_pipeline_refuses_what_build_pipeline_refuses(config, message):
    cfg = make_config(config, "test")
    windows = _windows()
    for build in (lambda: build_pipeline(windows, cfg),
                  lambda: feature_pipeline(windows.spec, cfg, windows.classes)):
        with pytest.raises(ConfigError, match=message):
            build()
