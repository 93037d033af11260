"""The orientation-invariant feature set (``features.set: invariant``) in C and MicroPython.

The set is a new row of the set tables only (no new kernel): both exports run it from the
feature plan, so their features must agree with numpy within the documented tolerances
(:mod:`tinyhar.features.tolerances`) and their classes must be the Python pipeline's on
windows of the official HAPT test subjects.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.features import FeatureExtractor
from tinyhar.features.tolerances import compare_features
from tinyhar.tools import find_tool


@pytest.fixture(scope="module")
def invariant_pipeline_and_test():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.models.trees import TreeEnsembleClassifier
    from tinyhar.windows.windowing import make_windows

    test_subjects = [str(s) for s in OFFICIAL_TEST_SUBJECTS[:2]]
    rec = load_bundled_hapt().select(subjects=["1", "3", "5", *test_subjects])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    train = windows.subset(np.flatnonzero(np.isin(windows.subject, ["1", "3", "5"])))
    test = windows.subset(np.flatnonzero(np.isin(windows.subject, test_subjects)))
    fx = FeatureExtractor(channels=tuple(windows.channels), feature_set="invariant",
                          sampling_rate_hz=windows.sampling_rate_hz).fit(train.X[:1])
    model = TreeEnsembleClassifier(n_estimators=6, max_depth=8, random_state=0)
    model.fit(fx.transform(train.X), train.y)
    pipe = HarPipeline(fx, model, list(windows.channels), windows.sampling_rate_hz, 128, 64,
                       False, list(windows.classes))
    return pipe, test


def _check_features(pipe, test, other: np.ndarray, label: str) -> None:
    F = pipe.extractor.transform(test.X)
    cmp = compare_features(F, other, list(pipe.extractor.get_feature_names_out()),
                           test.channels, 128, test.sampling_rate_hz)
    assert not cmp.violations(), (label, cmp.violations())


def test_c_export_of_the_invariant_set(invariant_pipeline_and_test, tmp_path):
    from tinyhar.export.c import build_example, c_parity, export_c, run_windows

    if find_tool("gcc") is None:
        pytest.skip("gcc is not installed")
    pipe, test = invariant_pipeline_and_test
    info = export_c(pipe, tmp_path)
    assert info["feature_set"] == "invariant" and info["n_features"] == 103
    source = (tmp_path / "tinyhar_model.c").read_text()
    # gravity runs (body signals), but none of its per-axis outputs is a feature: the plan
    # leaves their code out (no tilt: no atan2f) and the driver passes NULL
    assert "thr_stage_gravity(NULL, NULL, u);" in source
    assert "#define THR_GRAVITY_MEAN 0" in source and "#define THR_GRAVITY_TILT 0" in source
    assert "thr_stage_statistics_sma(" not in source.split("thr_window_features")[-1]
    assert "thr_stage_correlation" not in source.split("thr_window_features")[-1]
    exe = build_example(tmp_path)
    res = c_parity(pipe, test, exe)
    assert res["identical"] == res["n_windows"] == len(test), res["examples"]
    sub = test.subset(np.arange(0, len(test), 4))
    _check_features(pipe, sub, run_windows(exe, sub.X, len(pipe.classes))["features"], "C")


def test_micropython_export_of_the_invariant_set(invariant_pipeline_and_test, tmp_path):
    from tinyhar.export import micropython as mpx

    try:
        mpx.find_micropython()
    except TinyharError:
        pytest.skip("the MicroPython unix port is not installed")
    pipe, test = invariant_pipeline_and_test
    mpx.export_micropython(pipe, tmp_path, n_test_windows=0, prune=False)
    sub = test.subset(np.arange(0, len(test), 3))
    report = mpx.parity(pipe, tmp_path, sub)
    assert report["identical"] == report["n_windows"] == len(sub), report
    feats, _ = mpx.run_bundle_features(tmp_path, sub.X)
    # the unix port computes the derived signals in double precision: within the tolerance
    # of mpx.parity (rtol 1e-3, atol 1e-5; the gravity filter amplifies the difference),
    # not always within the float32 'arithmetic' class (body_vert percentiles: 7e-6 g)
    np.testing.assert_allclose(feats, pipe.extractor.transform(sub.X), rtol=1e-3, atol=1e-5)
