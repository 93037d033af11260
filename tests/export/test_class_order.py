"""One class order everywhere: the data set's declared order in metrics, C and MicroPython.

HAPT declares WALKING, WALKING_UPSTAIRS, WALKING_DOWNSTAIRS, SITTING, STANDING,
LAYING; scikit-learn sorts the model's ``classes_`` alphabetically (LAYING
first). The exports map the model's columns to the declared order in one place
(:attr:`HarPipeline.output_index`), so class index k means the same class in
``metrics.json``, the C defines and the MicroPython bundle.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.tools import find_tool

DECLARED = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING",
            "LAYING"]


@pytest.fixture(scope="module")
def fitted():
    """A small default pipeline on HAPT subjects 1 and 3; windows of test subject 2."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1", "2", "3"]),
                              window=128, hop=64, unit="samples")
    train = windows.subset(np.flatnonzero(windows.subject != "2"))
    test = windows.subset(np.flatnonzero(windows.subject == "2"))
    cfg = make_config({"model": {"n_estimators": 6, "max_depth": 8}})
    pipe = build_pipeline(train, cfg, 64)
    pipe.model.fit(pipe.transform(train), train.y)
    return pipe, test


def test_output_order_maps_the_sorted_model_classes(fitted):
    pipe, _ = fitted
    assert list(pipe.classes) == DECLARED
    assert list(pipe.model.classes_) == sorted(DECLARED) != DECLARED
    assert pipe.output_classes == DECLARED
    names = np.asarray(pipe.output_classes)
    assert list(names[pipe.output_index]) == list(pipe.model.classes_)


def test_metrics_c_and_micropython_name_the_same_class(fitted, tmp_path):
    from tinyhar.evaluation.metrics import classification_metrics

    pipe, test = fitted
    windows = test.subset(np.arange(0, len(test), 3))
    py = pipe.predict(windows)
    metrics = classification_metrics(windows.y, py, pipe.classes)
    assert metrics["classes"] == DECLARED
    proba_py = np.empty((len(windows), len(DECLARED)))
    proba_py[:, pipe.output_index] = pipe.predict_proba(windows)
    checked = 0
    if find_tool("gcc") is not None:
        from tinyhar.export.c import build_example, export_c, run_windows

        info = export_c(pipe, tmp_path / "c")
        assert info["classes"] == DECLARED
        header = (tmp_path / "c" / "tinyhar_model.h").read_text()
        defines = dict(re.findall(r"#define TINYHAR_CLASS_(\w+) (\d+)", header))
        assert [int(defines[c]) for c in DECLARED] == list(range(6))
        res = run_windows(build_example(tmp_path / "c"), windows.X, len(DECLARED))
        # the same index names the same class in the metrics and in C
        np.testing.assert_array_equal(np.asarray(metrics["classes"])[res["classes"]], py)
        np.testing.assert_array_equal(res["class_names"], py)
        np.testing.assert_allclose(res["proba"], proba_py, atol=1e-6)  # declared columns
        checked += 1
    try:
        mpx.find_micropython()
    except TinyharError:
        pass
    else:
        bundle = tmp_path / "mpy"
        info = mpx.export_micropython(pipe, bundle, n_test_windows=0)
        assert info["classes"] == DECLARED
        cfg: dict = {}
        exec((bundle / "tinyhar_config.py").read_text(), cfg)  # plain constants
        assert list(cfg["CLASSES"]) == DECLARED
        _, pred = mpx.run_bundle_features(bundle, windows.X, windows.session)
        np.testing.assert_array_equal(np.asarray(metrics["classes"])[pred], py)
        # the live app's probabilities are in the declared order too
        code = ("import array, tinyhar_config as cfg\n"
                "from tinyhar_features import Features\n"
                "from tinyhar_trees import TreeEnsemble\n"
                "fx = Features(cfg); tr = TreeEnsemble()\n"
                "out = array.array('f', bytearray(4 * cfg.N_FEATURES))\n"
                "import app_test\n")
        rows = []
        for x in windows.X[:5]:
            rows.append("[" + ",".join(
                "[" + ",".join(repr(float(v)) for v in x[:, c]) + "]"
                for c in range(x.shape[1])) + "]")
        code += ("for w in [" + ",".join(rows) + "]:\n"
                 "    for c in range(len(cfg.CHANNELS)):\n"
                 "        for j in range(cfg.WINDOW):\n"
                 "            fx.channels[c][j] = w[c][j]\n"
                 "    fx.compute(out)\n"
                 "    k, p = tr.predict_proba(out)\n"
                 "    print('P', k, ' '.join(['%.6f' % v for v in p]))\n")
        lines = [ln.split() for ln in mpx.run_micropython(code, bundle).stdout.splitlines()
                 if ln.startswith("P ")]
        assert [DECLARED[int(ln[1])] for ln in lines] == list(py[:5])
        np.testing.assert_allclose([[float(v) for v in ln[2:]] for ln in lines],
                                   proba_py[:5], atol=1e-5)
        checked += 1
    if not checked:
        pytest.skip("neither gcc nor the MicroPython unix port is installed")
