"""Skewness (``full`` set only): known answers, scipy, and the C and MicroPython exports.

The worked example of ``ARCHITECTURE.md``: one row of the statistic table
(:data:`tinyhar.features.plan.STATISTICS`) and one kernel per back-end.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import skew

from tinyhar.errors import TinyharError
from tinyhar.features import FeatureExtractor, feature_catalog
from tinyhar.features.tolerances import compare_features
from tinyhar.tools import find_tool


def test_skewness_in_numpy_c_and_micropython(tmp_path):
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.export import micropython as mpx
    from tinyhar.export.c import build_example, export_c, run_windows
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.models.trees import TreeEnsembleClassifier
    from tinyhar.windows.windowing import make_windows

    # only the full set has it; the default set is unchanged
    assert not any("skewness" in f.name for f in feature_catalog(feature_set="default"))
    full_names = [f.name for f in feature_catalog(feature_set="full")]
    skew_names = [n for n in full_names if n.endswith("_skewness")]
    assert "acc_jerk_mag_skewness" in skew_names and "body_x_skewness" in skew_names

    # known answers: a 0/1 pattern with p = 1/4 has g1 = (1 - 2p) / sqrt(p (1 - p)) = 2/sqrt(3)
    X = np.zeros((3, 128, 6), np.float32)
    X[0, :, 0] = np.tile([0, 0, 0, 1], 32)
    X[1, :, 0] = -X[0, :, 0]
    X[2, :, 0] = np.tile([0, 1], 64)  # symmetric
    X[..., 2] = 1.0  # acc_z flat: 0
    fx = FeatureExtractor(feature_set="full").fit(X)
    F = fx.transform(X)
    col = {n: j for j, n in enumerate(fx.get_feature_names_out())}
    np.testing.assert_allclose(F[:, col["acc_x_skewness"]], [2 / np.sqrt(3), -2 / np.sqrt(3), 0],
                               rtol=1e-6, atol=1e-6)
    assert np.all(F[:, col["acc_z_skewness"]] == 0)

    # real windows: numpy (float32) against scipy (float64, bias=True)
    rec = load_bundled_hapt().select(subjects=["1", "2", "3"])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    train = windows.subset(np.flatnonzero(windows.subject != "2"))
    test = windows.subset(np.flatnonzero(windows.subject == "2")[::8])
    fx = FeatureExtractor(channels=tuple(windows.channels), feature_set="full").fit(train.X)
    F = fx.transform(test.X)
    names = list(fx.get_feature_names_out())
    for ch in ("acc_x", "gyro_z"):
        ref = skew(test.X[:, :, list(windows.channels).index(ch)].astype(np.float64), axis=1)
        # float32 vs float64: about 1e-4 of the spread (documented float32 rounding)
        np.testing.assert_allclose(F[:, names.index(f"{ch}_skewness")], ref, rtol=1e-3,
                                   atol=1e-4)

    model = TreeEnsembleClassifier(n_estimators=4, max_depth=6, random_state=0)
    model.fit(fx.transform(train.X), train.y)
    pipe = HarPipeline(fx, model, list(windows.channels), windows.sampling_rate_hz, 128, 64,
                       False, list(windows.classes))
    idx = [names.index(n) for n in skew_names]

    def check(other: np.ndarray, label: str) -> None:
        cmp = compare_features(F[:, idx], other[:, idx], skew_names, windows.channels, 128,
                               windows.sampling_rate_hz)
        assert not cmp.violations(), (label, cmp.violations())

    ran = 0
    if find_tool("gcc") is not None:
        export_c(pipe, tmp_path / "c")
        res = run_windows(build_example(tmp_path / "c"), test.X, len(model.classes_))
        check(res["features"], "C")
        ran += 1
    try:
        mpx.find_micropython()
    except TinyharError:
        pass
    else:
        mpx.export_micropython(pipe, tmp_path / "mpy", n_test_windows=0, prune=False)
        feats, _ = mpx.run_bundle_features(tmp_path / "mpy", test.X)
        check(feats, "MicroPython")
        ran += 1
    if not ran:
        pytest.skip("neither gcc nor the MicroPython unix port is installed")
