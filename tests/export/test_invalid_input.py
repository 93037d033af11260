"""One device contract: Python, the C export and the MicroPython export agree on invalid input.

Adversarial windows (all NaN, one NaN, +-inf, +-1e30, alternating +-1e30,
denormals, a 1e6 spike, constant, zeros, the bound itself and the float32
just above it, a float64 1e39 that is infinite in float32) go through the
Python pipeline (``predict(on_invalid="mark")``), the compiled C example
(``--windows``) and the MicroPython bundle in the unix port: the three make
the same valid/invalid decision (that of :func:`tinyhar.features.validity.invalid_windows`)
and give the same class to every valid window. Also: the C example's stream
parser reports unparseable lines, and the streaming hop of a pipeline without
a hop is the same in the C header, the MicroPython config and ``simulate``.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from tinyhar.core.windowset import WindowSet
from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.export.c import build_example, export_c, run_stream, run_windows
from tinyhar.features import FeatureExtractor, stack_previous
from tinyhar.features.validity import INVALID_CLASS, MAX_ABS_INPUT, invalid_windows
from tinyhar.models.pipeline import HarPipeline
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.tools import find_tool, missing_message

needs_gcc = pytest.mark.skipif(find_tool("gcc") is None, reason=missing_message("gcc"))


def _micropython_or_skip() -> str:
    try:
        return mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")


@pytest.fixture(scope="module")
def hapt():
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt()


@pytest.fixture(scope="module")
def windows(hapt):
    from tinyhar.windows.windowing import make_windows

    w, _ = make_windows(hapt.select(subjects=["1", "3"]), window=128, hop=64, unit="samples")
    return w


def _pipeline(w, stack=False, feature_set="default"):
    """A tree pipeline without a hop (as trained on pre-windowed data)."""
    fx = FeatureExtractor(sampling_rate_hz=w.sampling_rate_hz, channels=tuple(w.channels),
                          feature_set=feature_set).fit(w.X[:1])
    F = fx.transform(w.X)
    if stack:
        F = stack_previous(F, w.session, w.start_time)
    model = TreeEnsembleClassifier(n_estimators=6, max_depth=8, random_state=0).fit(F, w.y)
    return HarPipeline(fx, model, list(w.channels), w.sampling_rate_hz, w.n_samples, None, stack,
                       list(w.classes))


def adversarial_windows(real: np.ndarray) -> tuple[list[str], np.ndarray, list[bool]]:
    """Named windows (float64, 128 x 6) and whether each is invalid by the contract."""
    n, c = real.shape
    cases: list[tuple[str, np.ndarray, bool]] = []

    def add(name, X, invalid):
        cases.append((name, np.asarray(X, np.float64), invalid))

    def with_value(s, ch, v):
        X = real.astype(np.float64)
        X[s, ch] = v
        return X

    add("real", real, False)
    add("all NaN", np.full((n, c), np.nan), True)
    add("one NaN", with_value(77, 4, np.nan), True)
    add("+inf", with_value(0, 0, np.inf), True)
    add("-inf", with_value(n - 1, 5, -np.inf), True)
    add("+1e30", with_value(12, 2, 1e30), True)
    add("-1e30", with_value(12, 3, -1e30), True)
    alt = real.astype(np.float64)
    alt[:, 1] = np.where(np.arange(n) % 2, 1e30, -1e30)
    add("alternating +-1e30", alt, True)
    add("1e6 spike", with_value(64, 0, 1e6), True)
    add("1e39 (inf in float32)", with_value(5, 1, 1e39), True)
    add("just above the bound", with_value(
        9, 2, float(np.nextafter(np.float32(MAX_ABS_INPUT), np.float32(np.inf)))), True)
    add("at the bound", with_value(9, 2, -MAX_ABS_INPUT), False)
    add("denormals", np.float32(1e-40) * ((np.arange(n * c).reshape(n, c) % 7) - 3), False)
    denormal_added = real.astype(np.float64)
    denormal_added[::3, 3:] = 3e-39  # subnormal gyroscope samples in a real window
    add("real + denormal gyro", denormal_added, False)
    const = np.zeros((n, c))
    const[:, :3] = (0.1, -0.2, 0.97)
    add("constant", const, False)
    add("zeros", np.zeros((n, c)), False)
    names, X, invalid = zip(*cases, strict=True)
    return list(names), np.stack(X), list(invalid)


def _windowset(w, X, sessions=None):
    n = len(X)
    sessions = ["s"] * n if sessions is None else sessions
    return WindowSet(X, np.full(n, "", dtype=object), ["1"] * n, sessions,
                     np.arange(n) * 1.28, list(w.channels), w.sampling_rate_hz,
                     list(w.classes))


@needs_gcc
def test_python_c_and_micropython_agree_on_adversarial_windows(windows, tmp_path):
    _micropython_or_skip()
    pipe = _pipeline(windows)
    walking = np.flatnonzero(windows.y == "WALKING")
    names, X, invalid = adversarial_windows(windows.X[walking[len(walking) // 2]])
    assert invalid_windows(X).tolist() == invalid  # float64 in, float32 decision
    with np.errstate(over="ignore"):
        X = X.astype(np.float32)  # what the exports read (1e39 -> inf)
    classes = np.asarray(pipe.output_classes)  # export class indices
    # every window on its own (a session each, as tinyhar_classify sees it)
    py = pipe.predict(_windowset(windows, X, [str(i) for i in range(len(X))]),
                      on_invalid="mark")
    info = export_c(pipe, tmp_path / "c")
    res = run_windows(build_example(tmp_path / "c"), X, info["n_classes"],
                      new_recording=np.ones(len(X), bool))
    c = np.where(res["classes"] < 0, INVALID_CLASS, classes[np.maximum(res["classes"], 0)])
    mpx.export_micropython(pipe, tmp_path / "mpy", n_test_windows=0)
    F_mp, pred = mpx.run_bundle_features(tmp_path / "mpy", X, sessions=list(range(len(X))))
    mp = np.where(pred < 0, INVALID_CLASS, classes[np.maximum(pred, 0)])
    table = [(nm, bad, str(p), str(cc), str(m))
             for nm, bad, p, cc, m in zip(names, invalid, py, c, mp, strict=True)]
    for nm, bad, p, cc, m in table:
        print(f"{nm:24s} invalid={bad!s:5s} python={p:20s} c={cc:20s} micropython={m}")
    assert [p == INVALID_CLASS for p in py] == invalid
    assert list(py) == list(c) == list(mp), table
    assert list(res["class_names"][np.array(invalid)]) == [INVALID_CLASS] * sum(invalid)
    assert np.isnan(res["proba"][np.array(invalid)]).all()
    assert np.isnan(F_mp[np.array(invalid)]).all()
    assert np.isfinite(F_mp[~np.array(invalid)]).all()


@needs_gcc
def test_stacked_models_restart_after_an_invalid_window_everywhere(windows, tmp_path):
    """After an invalid window the next valid one is its own predecessor: Python
    (mark), C (--windows, one recording) and MicroPython (one session) alike."""
    _micropython_or_skip()
    pipe = _pipeline(windows, stack=True, feature_set="minimal")
    X = windows.X[100:110].copy()
    X[3, 10, 0] = np.nan
    X[7, 0, 5] = -1e30
    py = pipe.predict(_windowset(windows, X), on_invalid="mark")
    classes = np.asarray(pipe.output_classes)  # export class indices
    info = export_c(pipe, tmp_path / "c")
    res = run_windows(build_example(tmp_path / "c"), X, info["n_classes"])
    c = np.where(res["classes"] < 0, INVALID_CLASS, classes[np.maximum(res["classes"], 0)])
    mpx.export_micropython(pipe, tmp_path / "mpy", n_test_windows=0)
    _, pred = mpx.run_bundle_features(tmp_path / "mpy", X, sessions=["s"] * len(X))
    mp = np.where(pred < 0, INVALID_CLASS, classes[np.maximum(pred, 0)])
    assert list(py) == list(c) == list(mp)
    assert [i for i, p in enumerate(py) if p == INVALID_CLASS] == [3, 7]
    # window 4 restarts: the same class as the first window of a new recording
    fresh = pipe.predict(_windowset(windows, X[4:7]))
    assert list(py[4:7]) == list(fresh)


@needs_gcc
def test_c_stream_reports_invalid_windows_and_unparseable_lines(windows, hapt, tmp_path):
    pipe = _pipeline(windows)
    info = export_c(pipe, tmp_path)
    exe = build_example(tmp_path)
    frame = hapt.select(subjects=["2"]).frame
    session = frame["session"].iloc[0]
    samples = frame.loc[frame["session"] == session, pipe.channels].to_numpy(np.float32)[:640]
    bad = samples.copy()
    bad[300, 2] = np.nan  # in the windows starting at 192 and 256
    stream = run_stream(exe, bad, info["n_classes"])
    n, hop = 128, pipe.streaming_hop
    starts = np.arange(0, len(samples) - n + 1, hop)
    assert len(stream["class_names"]) == len(starts)  # no line skipped
    X = np.stack([bad[s:s + n] for s in starts])
    py = pipe.predict(_windowset(windows, X), on_invalid="mark")
    assert list(stream["class_names"]) == list(py)
    assert [s for s, p in zip(starts, py, strict=True) if p == INVALID_CLASS] == [192, 256]

    header = "acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z\n"
    rows = [",".join(repr(float(v)) for v in row) for row in samples[:200]]
    quoted = ",".join(f'"{c}"' for c in pipe.channels) + "\n"
    for head in (header, quoted, "# comment\n\n" + header, ""):
        ok = subprocess.run([str(exe)], input=head + "\n".join(rows) + "\n", text=True,
                            capture_output=True)
        assert ok.returncode == 0 and len(ok.stdout.splitlines()) == 1 + 2, ok.stderr
    # a line starting with nan or inf is a sample, not a header: its windows are invalid
    nan_rows = rows.copy()
    nan_rows[150] = "nan," + nan_rows[150].split(",", 1)[1]
    nan_rows[10] = "inf,inf,inf,inf,inf,inf"
    out = subprocess.run([str(exe)], input=header + "\n".join(nan_rows) + "\n", text=True,
                         capture_output=True)
    assert out.returncode == 0
    assert [ln.split(",")[1] for ln in out.stdout.splitlines()[1:]] == [INVALID_CLASS] * 2
    # a line that is not a sample stops the program with its line number
    for broken, what in (("1.0,2.0,abc,0,0,0", "not a number: abc"),
                         ("acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z", "not a number"),
                         ("1.0,2.0,3.0", "got 3")):
        text = header + "\n".join(rows[:50] + [broken] + rows[50:]) + "\n"
        proc = subprocess.run([str(exe)], input=text, text=True, capture_output=True)
        assert proc.returncode == 1, broken
        assert re.search(rf"^line 52: expected 6 values .*{what}", proc.stderr), proc.stderr


@needs_gcc
def test_one_streaming_hop_for_c_micropython_and_simulate(windows, hapt, tmp_path):
    """A pipeline without a hop (pre-windowed data): half a window everywhere."""
    from tinyhar.device.simulate import python_timeline, simulate, write_replay_csv

    pipe = _pipeline(windows, feature_set="minimal")
    assert pipe.hop_samples is None and pipe.streaming_hop == 64
    info = export_c(pipe, tmp_path / "c")
    header = (tmp_path / "c" / "tinyhar_model.h").read_text()
    assert info["hop_samples"] == 64
    assert re.search(r"^#define TINYHAR_HOP_SAMPLES 64 ", header, re.M)
    assert re.search(rf"^#define TINYHAR_MAX_ABS_INPUT {MAX_ABS_INPUT:g}\.0f ", header, re.M)
    bundle = mpx.export_micropython(pipe, tmp_path / "mpy", n_test_windows=0)
    config = (tmp_path / "mpy" / "tinyhar_config.py").read_text()
    assert bundle["hop"] == 64 and re.search(r"^HOP = 64 ", config, re.M)
    assert re.search(rf"^MAX_ABS_INPUT = {MAX_ABS_INPUT!r} ", config, re.M)

    frame = hapt.select(subjects=["2"]).frame
    session = frame["session"].iloc[0]
    part = frame[frame["session"] == session].iloc[:128 + 64 * 4 + 10]
    t = np.arange(len(part)) / 50.0
    csv = write_replay_csv(tmp_path / "rec.csv", t,
                           part[pipe.channels].to_numpy(np.float32), pipe.channels)
    py = python_timeline(pipe, csv)
    assert [round(ts * 50) for ts, _, _ in py] == [0, 64, 128, 192, 256]
    c = run_stream(build_example(tmp_path / "c"), part[pipe.channels].to_numpy(np.float32),
                   info["n_classes"], features=False)
    np.testing.assert_allclose(c["time_s"], (np.arange(5) * 64 + 128) / 50.0)
    assert list(c["class_names"]) == [cls for _, cls, _ in py]
    if find_tool("micropython") is None:
        try:
            mpx.find_micropython()
        except TinyharError:
            return
    mp = simulate(tmp_path / "mpy", csv)
    assert [(round(ts * 50), cls) for ts, cls, _ in mp] == [(round(ts * 50), cls)
                                                            for ts, cls, _ in py]
