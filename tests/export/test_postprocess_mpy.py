"""The MicroPython post-processing module (export/mpy/tinyhar_post.py) in the unix port:
known answers and parity with Python's post-processing over every window of the nine
HAPT test subjects' whole streams."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from tests.export.post_streams import fitted_specs, hapt_streams, specs_with_own_rejection
from tinyhar.errors import TinyharError
from tinyhar.export.formats import EXPORT_FORMAT_VERSION
from tinyhar.export.mpy_runner import run_post_micropython
from tinyhar.export.parity import post_parity
from tinyhar.export.post import (
    MPY_DIR,
    UNKNOWN,
    write_post_mpy,
)
from tinyhar.postprocess import PostProcessor

CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def micropython():
    from tinyhar.export.micropython import find_micropython

    try:
        return find_micropython()
    except TinyharError as exc:
        pytest.skip(str(exc))


def _onehot(cls, k=3, top=0.8):
    p = np.full((len(cls), k), (1 - top) / (k - 1))
    p[np.arange(len(cls)), cls] = top
    return p


def test_format_version_mirrors_the_exporter():
    text = (MPY_DIR / "tinyhar_post.py").read_text()
    assert re.search(r"^FORMAT_VERSION = (\d+)$", text, re.M).group(1) == str(
        EXPORT_FORMAT_VERSION)


def test_mode_filter_and_hysteresis_known_answers(micropython, tmp_path):
    cls = np.array([0, 0, 0, 1, 0, 0, 2, 2, 2, 2, 0, 2, 2, 1, 1, 1, 1])
    write_post_mpy(PostProcessor(CLASSES, smoothing="mode", mode_k=3), tmp_path)
    out = run_post_micropython(tmp_path, _onehot(cls), None, np.zeros(len(cls)))
    assert out["smoothed"].tolist() == [0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1]
    # hysteresis: a class must lead by 0.3 for 2 windows in a row to take over
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.8, 0.1],
                      [0.1, 0.8, 0.1], [0.1, 0.8, 0.1]])
    spec = PostProcessor(CLASSES, hysteresis_margin=0.3, hysteresis_windows=2)
    write_post_mpy(spec, tmp_path)
    out = run_post_micropython(tmp_path, proba, None, np.zeros(6))
    assert out["smoothed"].tolist() == [0, 0, 0, 0, 1, 1] == spec.apply(proba).tolist()


def test_post_json_stores_exact_doubles_and_escaped_labels(tmp_path):
    classes = ["a'\"\n", "b"]
    write_post_mpy(PostProcessor(classes, smoothing="ema", ema_alpha=0.1), tmp_path)
    state = json.loads((tmp_path / "post.json").read_text())
    assert state["classes"] == classes
    assert np.frombuffer(bytes.fromhex(state["ema_alpha"]), "<f8")[0] == 0.1


@pytest.mark.slow
def test_micropython_post_processing_equals_python_on_all_hapt_test_streams(
        shared_data_dir, micropython, tmp_path):
    s = hapt_streams(str(shared_data_dir / "HAPT Data Set.zip"))
    times = {}
    for reject in (False, True):
        rejection = s.rejection if reject else None
        features = s.features if reject else None
        for i, spec in enumerate(fitted_specs(s, reject)):
            folder = tmp_path / f"{int(reject)}_{i}"
            write_post_mpy(spec, folder, rejection)
            res = post_parity(spec, s.proba, s.runs, features, rejection, bundle_dir=folder)
            mp = res["micropython"]
            assert mp["raw_parity"] == 1.0, spec.describe()
            assert mp["smoothed_parity"] == 1.0, (spec.describe(), mp)
            times[(spec.describe(), reject)] = mp["us_per_window"]
    assert len(times) == 16 and all(t > 0 for t in times.values())
    for i, spec in enumerate(specs_with_own_rejection(s)):
        write_post_mpy(spec, tmp_path / f"own_{i}")
        res = post_parity(spec, s.proba, s.runs, s.features, bundle_dir=tmp_path / f"own_{i}")
        mp = res["micropython"]
        assert mp["raw_parity"] == mp["smoothed_parity"] == 1.0, spec.describe()
    assert UNKNOWN not in s.classes
