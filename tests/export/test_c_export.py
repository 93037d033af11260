"""The C export: generated library, parity with the Python pipeline on real HAPT windows.

Needs gcc (the tests skip with the install command when it is missing). The
parity tests run the compiled example on windows of the official HAPT test
subjects (bundled copy) and compare the features and the predicted classes
with the Python pipeline; every class mismatch must be explained by a feature
within float tolerance of a split threshold on the decision path.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.export.c import (
    build_example,
    c_float,
    c_parity,
    export_c,
    load_pipeline,
    run_stream,
    run_windows,
)
from tinyhar.features.tolerances import compare_features
from tinyhar.models.pipeline import HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.tools import find_tool, missing_message

needs_gcc = pytest.mark.skipif(find_tool("gcc") is None, reason=missing_message("gcc"))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def hapt():
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt()


@pytest.fixture(scope="module")
def test_windows(hapt):
    """Windows (128 samples, hop 64) of the official HAPT test subjects."""
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
    from tinyhar.windows.windowing import make_windows

    rec = hapt.select(subjects=[str(s) for s in OFFICIAL_TEST_SUBJECTS])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    return windows


@pytest.fixture(scope="module")
def train_windows(hapt):
    """Windows of three training subjects (not official test subjects)."""
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(hapt.select(subjects=["1", "3", "5"]), window=128, hop=64,
                              unit="samples")
    return windows


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, hapt):
    """A run folder made by tinyhar.training.train on four subjects (10 trees, depth 10)."""
    from tinyhar.config import make_config
    from tinyhar.training import train

    tmp = tmp_path_factory.mktemp("c_run")
    data = hapt.select(subjects=["1", "3", "5", "6"]).to_parquet(tmp / "small.parquet")
    cfg = make_config({
        "dataset": {"name": str(data)},
        "evaluation": {"test_subjects": [6], "cv_folds": 0},
        "model": {"n_estimators": 10, "max_depth": 10},
    })
    train(cfg, tmp / "run")
    return tmp / "run"


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory):
    if find_tool("gcc") is None:
        pytest.skip(missing_message("gcc"))
    out = tmp_path_factory.mktemp("c_export")
    info = export_c(trained_run, out)
    return info, build_example(out)


def hand_pipeline(windows, feature_set="default", stack=False, n_estimators=5, max_depth=8,
                  hop=None):
    """A fitted pipeline on these windows, built without a run folder."""
    from tinyhar.features import FeatureExtractor, stack_previous

    fx = FeatureExtractor(sampling_rate_hz=windows.sampling_rate_hz,
                          channels=tuple(windows.channels), feature_set=feature_set)
    fx.fit(windows.X[:1])
    F = fx.transform(windows.X)
    if stack:
        F = stack_previous(F, windows.session, windows.start_time)
    model = TreeEnsembleClassifier(n_estimators=n_estimators, max_depth=max_depth,
                                   random_state=0).fit(F, windows.y)
    return HarPipeline(fx, model, list(windows.channels), windows.sampling_rate_hz,
                       windows.n_samples, hop, stack, list(windows.classes))


def evenly(windows, n):
    return windows.subset(np.unique(np.linspace(0, len(windows) - 1, n).astype(int)))


def report(label, res):
    print(
        f"C parity ({label}): {res['identical']}/{res['n_windows']} windows with identical "
        f"classes, {res['mismatches']} mismatches, {res['explained']} explained by a feature "
        f"within float tolerance of a split threshold; max feature error "
        f"abs {res['max_abs_feature_error']:.3g}, rel {res['max_rel_feature_error']:.3g}; "
        f"{100 * res['bit_exact_features']:.1f} % of feature values bit-exact"
    )
    for ex in res["examples"]:
        print("  mismatch:", ex)


def check_parity(res):
    assert res["identical"] / res["n_windows"] >= 0.999 or res["mismatches"] <= 1
    assert res["explained"] == res["mismatches"], res["examples"]
    assert res["max_rel_feature_error"] < 1e-4, res["worst_features"]


# --------------------------------------------------------------------------- generator


def test_c_float_reads_back_as_the_same_float32():
    values = np.array([50.0, 0.3, 5.5, -0.96299404, 6.451752e-06, 1e-30, 3.4e38, 0.0, -2.5],
                      dtype=np.float32)
    rng = np.random.default_rng(0)
    values = np.concatenate([values, (rng.standard_normal(500) * 10.0 ** rng.integers(
        -8, 8, 500)).astype(np.float32)])
    for v in values:
        text = c_float(v)
        assert text.endswith("f") and ("." in text or "e" in text)
        assert np.float32(float(text[:-1])) == v
    assert c_float(50.0) == "50.0f" and c_float(0.3) == "0.3f"
    with pytest.raises(TinyharError):
        c_float(float("nan"))


def test_export_writes_library_header_example_and_makefile(trained_run, tmp_path):
    info = export_c(trained_run, tmp_path / "c")
    for name in ("tinyhar_model.h", "tinyhar_model.c", "main.c", "Makefile"):
        assert (tmp_path / "c" / name).is_file()
    pipe = load_pipeline(trained_run)
    header = (tmp_path / "c" / "tinyhar_model.h").read_text()
    defines = dict(re.findall(r"#define (TINYHAR_\w+) (\S+)", header))
    assert defines["TINYHAR_N_SAMPLES"] == "128"
    assert defines["TINYHAR_N_CHANNELS"] == "6"
    assert defines["TINYHAR_SAMPLING_RATE_HZ"] == "50.0f"
    assert defines["TINYHAR_HOP_SAMPLES"] == "64"
    assert int(defines["TINYHAR_N_FEATURES"]) == len(pipe.feature_names) == info["n_features"]
    assert int(defines["TINYHAR_N_CLASSES"]) == len(pipe.model.classes_)
    assert defines["TINYHAR_CH_ACC_X"] == "0" and defines["TINYHAR_CH_GYRO_Z"] == "5"
    assert "rad/s" in header and "row-major" in header
    for fn in ("tinyhar_classify", "tinyhar_features", "tinyhar_predict", "tinyhar_stream_init",
               "tinyhar_stream_push", "tinyhar_stream_classify"):
        assert re.search(rf"\b{fn}\(", header), fn
    source = (tmp_path / "c" / "tinyhar_model.c").read_text()
    assert not re.search(r"\b(malloc|calloc|free)\s*\(", source)
    assert not re.search(r"\bdouble\b", source)  # float32 only (no soft-float doubles)
    assert info["classes"] == pipe.output_classes == list(pipe.classes)  # declared order
    # every threshold is written exactly (largest float32 <= scikit-learn's float64 threshold)
    block = source.split("thr_node_threshold[")[1].split("};")[0].split("{", 1)[1]
    thresholds = np.array([float(t.strip().rstrip("f")) for t in block.split(",")], np.float32)
    np.testing.assert_array_equal(thresholds, pipe.model.threshold_)


@pytest.mark.skipif(find_tool("make") is None or find_tool("gcc") is None,
                    reason="make and gcc are needed: apt-get install make gcc")
def test_makefile_builds_the_example_without_warnings(trained_run, tmp_path):
    export_c(trained_run, tmp_path)
    proc = subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    assert (tmp_path / "tinyhar_example").is_file()


def test_export_rejects_a_model_it_cannot_export(trained_run, tmp_path):
    pipe = load_pipeline(trained_run)
    pipe.model = object()
    with pytest.raises(TinyharError, match="tree ensembles"):
        export_c(pipe, tmp_path)
    with pytest.raises(TinyharError, match="not a run folder"):
        export_c(tmp_path, tmp_path / "c")


def test_build_reports_a_missing_gcc(trained_run, tmp_path, monkeypatch):
    export_c(trained_run, tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(TinyharError, match="apt-get install gcc"):
        build_example(tmp_path)


# --------------------------------------------------------------------------- parity


@needs_gcc
def test_parity_with_python_on_hapt_test_subjects(exported, trained_run, test_windows):
    info, exe = exported
    windows = evenly(test_windows, 300)
    res = c_parity(trained_run, windows, exe)
    report("trained run, 300 test windows", res)
    assert res["n_windows"] == 300
    check_parity(res)
    # every feature within its documented tolerance (tinyhar.features.tolerances);
    # bit-exact only where no arithmetic happens (min/max of the input channels)
    pipe = load_pipeline(trained_run)
    X = pipe.check_windows(windows).X
    py = pipe.extractor.transform(X)
    c_features = run_windows(exe, X, info["n_classes"])["features"]
    cmp = compare_features(py, c_features, list(pipe.extractor.get_feature_names_out()),
                           pipe.channels, pipe.n_samples, pipe.sampling_rate_hz)
    assert cmp.violations() == []
    exact = [n for n, r in cmp.per_feature.items() if r["class"] == "exact"]
    assert "acc_x_min" in exact and "gyro_z_max" in exact
    assert all(cmp.per_feature[n]["max_abs"] == 0.0 for n in exact)


@needs_gcc
@pytest.mark.parametrize(
    ("feature_set", "n", "stack", "other"),
    [("full", 128, True, False), ("default", 100, False, True), ("minimal", 128, False, True),
     ("light", 128, False, False), ("default", 256, False, False)],
    ids=["full+stacked", "default, acc+other, 100 samples (DFT)", "minimal, acc+other",
         "light, acc+gyro", "default, 256 samples (Shell-sort gap 132 compiled in)"],
)
def test_parity_of_other_layouts(feature_set, n, stack, other, hapt, tmp_path):
    from tinyhar.core.windowset import WindowSet
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
    from tinyhar.windows.windowing import make_windows

    subjects = ["1", "3", str(OFFICIAL_TEST_SUBJECTS[0]), str(OFFICIAL_TEST_SUBJECTS[1])]
    windows, _ = make_windows(hapt.select(subjects=subjects), window=n, hop=n // 2,
                              unit="samples")
    if other:  # a channel without a sensor role gets time statistics only
        windows = WindowSet(windows.X[:, :, [0, 1, 2, 4]], windows.y, windows.subject,
                            windows.session, windows.start_time,
                            ["acc_x", "acc_y", "acc_z", "turn_rate"], windows.sampling_rate_hz,
                            windows.classes, windows.name)
    train = windows.subset(np.isin(windows.subject, ["1", "3"]))
    test = windows.subset(~np.isin(windows.subject, ["1", "3"]))
    pipe = hand_pipeline(train, feature_set=feature_set, stack=stack, hop=n // 2)
    info = export_c(pipe, tmp_path)
    assert info["fft"] == ("dft" if n == 100 else "radix-2")
    exe = build_example(tmp_path)
    res = c_parity(pipe, evenly(test, 150), exe)
    report(f"{feature_set}, {n} samples, stacked={stack}, other channel={other}", res)
    check_parity(res)


@needs_gcc
def test_streaming_helper_matches_batch_windows(exported, trained_run, hapt):
    """Replay a recording sample by sample: same windows, features and classes as batch."""
    from tinyhar.core.windowset import WindowSet

    info, exe = exported
    pipe = load_pipeline(trained_run)
    frame = hapt.select(subjects=["2"]).frame
    session = frame["session"].iloc[0]
    samples = frame.loc[frame["session"] == session, pipe.channels].to_numpy(np.float32)
    samples = samples[:128 + 64 * 24 + 17]  # 25 windows and a partial hop
    stream = run_stream(exe, samples, info["n_classes"])
    n, hop = info["n_samples"], info["hop_samples"]
    starts = np.arange(0, len(samples) - n + 1, hop)
    assert len(stream["class_names"]) == len(starts) == 25
    np.testing.assert_allclose(stream["time_s"], (starts + n) / 50.0)
    X = np.stack([samples[s:s + n] for s in starts])
    batch = run_windows(exe, X, info["n_classes"])
    np.testing.assert_array_equal(stream["features"], batch["features"])
    assert list(stream["class_names"]) == list(batch["class_names"])
    ws = WindowSet(X, np.full(len(X), "", dtype=object), ["2"] * len(X), [session] * len(X),
                   starts / 50.0, pipe.channels, 50.0, pipe.classes)
    res = c_parity(pipe, ws, exe)
    report("stream replay", res)
    check_parity(res)


@needs_gcc
def test_stacked_model_streams_like_python(hapt, train_windows, tmp_path):
    """stack_previous: the stream keeps the previous window's features, as Python does."""
    from tinyhar.core.windowset import WindowSet

    pipe = hand_pipeline(train_windows, stack=True, hop=64)
    info = export_c(pipe, tmp_path)
    assert info["stack_previous"] and info["n_features"] == 3 * info["n_window_features"]
    exe = build_example(tmp_path)
    frame = hapt.select(subjects=["4"]).frame
    session = frame["session"].iloc[0]
    samples = frame.loc[frame["session"] == session, pipe.channels].to_numpy(np.float32)[:2000]
    stream = run_stream(exe, samples, info["n_classes"])
    starts = np.arange(0, len(samples) - 128 + 1, 64)
    X = np.stack([samples[s:s + 128] for s in starts])
    ws = WindowSet(X, np.full(len(X), "", dtype=object), ["4"] * len(X), [session] * len(X),
                   starts / 50.0, pipe.channels, 50.0, pipe.classes)
    py = pipe.predict(ws)
    agree = np.mean(py == stream["class_names"])
    res = c_parity(pipe, ws, exe)
    report("stacked stream replay", res)
    check_parity(res)
    assert agree >= 1.0 - res["mismatches"] / len(X)


# --------------------------------------------------------------------------- emlearn pitfall


@needs_gcc
def test_integer_feature_split_at_5_5_is_exact(tmp_path):
    """x = 5 goes left and x = 6 right of scikit-learn's split at 5.5.

    emlearn's int16 ("loadable") tree export stores int(5.5) = 5 and tests
    ``x < 5`` for the left branch, so it would send x = 5 to the right; tinyhar
    writes the float32 threshold 5.5f and tests ``x <= 5.5f`` as scikit-learn.
    """
    from tinyhar.features import FeatureExtractor

    channels = ("acc_x", "acc_y", "acc_z")
    fx = FeatureExtractor(channels=channels, feature_set="minimal").fit(np.zeros((1, 64, 3)))
    names = list(fx.get_feature_names_out())
    j = names.index("acc_x_max")  # integer-valued for integer samples
    F = np.zeros((40, len(names)), np.float32)
    F[:, j] = [5.0] * 20 + [6.0] * 20
    y = np.array(["low"] * 20 + ["high"] * 20, dtype=object)
    model = TreeEnsembleClassifier(n_estimators=1, max_depth=1, max_features=None).fit(F, y)
    assert model.feature_[0] == j and model.threshold_[0] == np.float32(5.5)
    pipe = HarPipeline(fx, model, list(channels), 50.0, 64, 32, False, ["high", "low"])
    export_c(pipe, tmp_path)
    assert "5.5f" in (tmp_path / "tinyhar_model.c").read_text()
    X = np.zeros((2, 64, 3), np.float32)
    X[:, :, 2] = 1.0
    X[0, :, 0] = np.arange(64) % 6  # max 5
    X[1, :, 0] = np.arange(64) % 7  # max 6
    res = run_windows(build_example(tmp_path), X, 2)
    assert list(res["class_names"]) == ["low", "high"]
    assert list(pipe.model.predict(fx.transform(X))) == ["low", "high"]

    # emlearn's int16 threshold and its `value < point` test get x = 5 wrong
    constant = pytest.importorskip("emlearn.cgen", reason="pip install 'tinyhar[test]'").constant
    point = int(constant(5.5, dtype="int16_t"))
    assert point == 5
    assert not (5 < point)  # emlearn: 5 goes right, scikit-learn: 5 <= 5.5 goes left


@needs_gcc
def test_a_split_between_the_c_and_python_values_is_an_explained_mismatch(
        trained_run, test_windows, tmp_path):
    """Force a mismatch: a one-split model whose threshold lies between the C and Python
    values of a feature that differs by float rounding; c_parity must explain it."""
    pipe = load_pipeline(trained_run)
    windows = evenly(test_windows, 60)
    info = export_c(pipe, tmp_path / "probe")
    c = run_windows(build_example(tmp_path / "probe"), windows.X, info["n_classes"])["features"]
    py = pipe.extractor.transform(windows.X)
    for i, j in np.argwhere(c != py):
        lo = min(c[i, j], py[i, j])
        if py[:, j].min() < lo < py[:, j].max():
            break
    else:
        pytest.skip("no feature differs by rounding inside its range")
    F = np.zeros_like(py)
    F[:, j] = py[:, j]
    y = np.where(py[:, j] <= lo, "low", "high").astype(object)
    model = TreeEnsembleClassifier(n_estimators=1, max_depth=1, max_features=None,
                                   min_samples_leaf=1).fit(F, y)
    assert model.feature_[0] == j
    model.estimator_.estimators_[0].tree_.threshold[0] = float(lo)  # scikit-learn's
    model.threshold_[0] = np.float32(lo)  # and the device copy
    probe = HarPipeline(pipe.extractor, model, pipe.channels, 50.0, 128, 64, False,
                        ["high", "low"])
    export_c(probe, tmp_path / "c")
    exe = build_example(tmp_path / "c")
    res = c_parity(probe, windows, exe)
    report("forced threshold between C and Python", res)
    assert res["mismatches"] >= 1 and res["explained"] == res["mismatches"]
    node = res["examples"][0]["nodes"][0]
    assert node["threshold"] == float(np.float32(lo))
    strict = c_parity(probe, windows, exe, rtol=1e-12)
    assert strict["explained"] == 0


@needs_gcc
def test_flat_and_degenerate_windows(exported, trained_run):
    """All-zero, constant (flat: spectra and correlations 0), spike and alternating windows."""
    info, exe = exported
    pipe = load_pipeline(trained_run)
    base = np.zeros((128, 6), np.float32)
    base[:, 0], base[:, 2] = 0.3, 1.0
    spike = base.copy()
    spike[40, 0] += 0.5
    spike[10, 3] = 1.0
    alternating = base.copy()
    alternating[::2, 1] += 1 / 720
    X = np.stack([np.zeros((128, 6), np.float32), base, spike, alternating])
    res = run_windows(exe, X, info["n_classes"])
    py = pipe.extractor.transform(X)
    np.testing.assert_allclose(res["features"], py, rtol=1e-5, atol=1e-9)
    names = list(pipe.extractor.get_feature_names_out())
    dom = [j for j, n in enumerate(names) if n.endswith("dom_freq")]
    np.testing.assert_array_equal(res["features"][:, dom], py[:, dom])
    assert np.all(res["features"][:2, dom] == 0)  # flat windows
    assert list(res["class_names"]) == list(pipe.model.predict(py))
