"""The C post-processing library (tinyhar.export.post): known answers, and parity with
Python's post-processing over every window of the nine HAPT test subjects' whole streams."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.export.post_streams import fitted_specs, hapt_streams, specs_with_own_rejection
from tinyhar.errors import ConfigError
from tinyhar.export.c_runner import build_post_example, run_post_c
from tinyhar.export.parity import post_parity
from tinyhar.export.post import (
    UNKNOWN,
    apply_rejection,
    device_postprocess,
    export_post_c,
)
from tinyhar.postprocess import PostProcessor

CLASSES = ["a", "b", "c"]


def _onehot(cls, k=3, top=0.8):
    p = np.full((len(cls), k), (1 - top) / (k - 1))
    p[np.arange(len(cls)), cls] = top
    return p


def _build(tmp_path, spec, rejection=None):
    export_post_c(spec, tmp_path, rejection)
    return build_post_example(tmp_path)


def test_mode_filter_removes_known_flicker_in_c(tmp_path):
    cls = np.array([0, 0, 0, 1, 0, 0, 2, 2, 2, 2, 0, 2, 2, 1, 1, 1, 1])
    exe = _build(tmp_path, PostProcessor(CLASSES, smoothing="mode", mode_k=3))
    out = run_post_c(exe, _onehot(cls), None, np.zeros(len(cls)))
    assert out["raw"].tolist() == cls.tolist()
    assert out["smoothed"].tolist() == [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]


def test_min_duration_and_sessions_in_c(tmp_path):
    # causal minimum duration 3: the short run of 1 keeps the accepted class 0;
    # the second session starts afresh (its first run is accepted as it is)
    cls = np.array([0, 0, 1, 1, 0, 0, 2, 2, 2, 1, 1, 0, 0, 0])
    runs = np.array([0] * 9 + [1] * 5)
    spec = PostProcessor(CLASSES, min_duration=3)
    exe = _build(tmp_path, spec)
    out = run_post_c(exe, _onehot(cls), None, runs)
    assert out["smoothed"].tolist() == [0, 0, 0, 0, 0, 0, 2, 2, 2, 1, 1, 0, 0, 0]
    assert out["smoothed"].tolist() == spec.apply(_onehot(cls), runs).tolist()


def test_rejection_threshold_and_ood_in_c(tmp_path):
    spec = PostProcessor(CLASSES + [UNKNOWN])
    rejection = {"proba_threshold": 0.5, "ood_threshold": 4.0,
                 "ood_means": np.zeros((3, 2)), "ood_inv_var": np.ones((3, 2))}
    proba = np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    # OOD scores 0, 0, 1 + 4 = 5 (> 4: unknown), 4 (not above: known)
    feats = np.array([[0, 0], [0, 0], [1, 2], [2, 0]], dtype=np.float32)
    exe = _build(tmp_path, spec, rejection)
    out = run_post_c(exe, proba, feats, np.zeros(4))
    assert out["raw"].tolist() == [0, 3, 3, 1]
    assert out["smoothed"].tolist() == [0, 3, 3, 1]


def test_generated_c_is_standalone_and_refuses_offline_options(tmp_path):
    spec = PostProcessor(CLASSES, smoothing="hmm", hmm_decoder="viterbi")
    with pytest.raises(ConfigError, match="fixed_lag"):
        export_post_c(spec, tmp_path)
    with pytest.raises(ConfigError, match="not fitted"):
        export_post_c(PostProcessor(CLASSES, smoothing="hmm"), tmp_path)
    with pytest.raises(ConfigError, match="end with 'unknown'"):
        export_post_c(PostProcessor(CLASSES), tmp_path, {"proba_threshold": 0.4})
    export_post_c(PostProcessor(['q"*/\n', "b"], smoothing="ema"), tmp_path)
    text = (tmp_path / "tinyhar_post.c").read_text()
    assert "malloc" not in text and "static thp_real" not in text  # state: caller's struct
    assert '"q\\"*/\\n"' in text  # a label is a C string, never code
    build_post_example(tmp_path)


@pytest.mark.slow
def test_c_post_processing_equals_python_on_all_hapt_test_streams(shared_data_dir, tmp_path):
    s = hapt_streams(str(shared_data_dir / "HAPT Data Set.zip"))
    assert len(set(s.runs)) >= 18 and len(s.proba) > 4000  # 9 subjects, whole streams
    described = []
    for reject in (False, True):
        rejection = s.rejection if reject else None
        features = s.features if reject else None
        for i, spec in enumerate(fitted_specs(s, reject)):
            folder = tmp_path / f"{int(reject)}_{i}"
            exe = _build(folder, spec, rejection)
            res = post_parity(spec, s.proba, s.runs, features, rejection, c_binary=exe)
            assert res["c"]["raw_parity"] == 1.0, spec.describe()
            assert res["c"]["smoothed_parity"] == 1.0, (spec.describe(), res["c"])
            described.append(spec.describe())
            if reject:  # some windows of the test subjects are rejected
                assert 0 < np.mean(res["python"]["raw"] == len(s.classes)) < 0.5
    assert len(set(described)) == 8
    # post-processors that carry their own calibrated rejection (postprocess.rejection)
    for i, spec in enumerate(specs_with_own_rejection(s)):
        exe = _build(tmp_path / f"own_{i}", spec)
        res = post_parity(spec, s.proba, s.runs, s.features, c_binary=exe)
        assert res["c"]["raw_parity"] == res["c"]["smoothed_parity"] == 1.0, spec.describe()


def test_rejection_rows_enter_the_filters_as_their_own_class():
    spec = PostProcessor(CLASSES + [UNKNOWN])
    params = device_postprocess(spec, {"proba_threshold": 0.5})
    raw, rows = apply_rejection(params, np.array([[0.6, 0.3, 0.1], [0.4, 0.3, 0.3]]))
    assert raw.tolist() == [0, 3]
    assert rows.tolist() == [[0.6, 0.3, 0.1, 0.0], [0.0, 0.0, 0.0, 1.0]]
    assert re.fullmatch(r"none\+reject", params["description"])


def test_post_budget_measures_flash_state_and_instructions(tmp_path):
    from tinyhar.device.budget import post_budget
    from tinyhar.tools import find_tool

    rng = np.random.default_rng(0)
    cls = np.repeat(rng.integers(0, 3, 40), 10)
    y = np.asarray(CLASSES, dtype=object)[cls]
    proba = _onehot(cls, top=0.6)
    spec = PostProcessor(CLASSES, smoothing="hmm", hmm_lag=4, min_duration=2).fit(
        proba, y, np.zeros(len(y)))
    export_post_c(spec, tmp_path)
    b = post_budget(tmp_path, proba, None, np.zeros(len(y)), n_windows=len(y))
    assert b["description"] == "hmm(fixed_lag=4)+min_duration(2,causal)" and b["lag"] == 5
    if find_tool("arm-none-eabi-gcc"):
        assert 500 < b["flash_bytes"] < 8000
        assert b["bss_bytes"] == 0  # no state of its own: everything in the caller's struct
        # the struct holds (lag + 1) forward vectors of 3 doubles at least
        assert b["state_bytes"] >= 5 * 3 * 8
    if find_tool("valgrind") and find_tool("callgrind_annotate"):
        assert b["instructions_per_window"] > 0 and b["n_windows_profiled"] == len(y)
