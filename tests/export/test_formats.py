"""Export format spec: the MicroPython readers mirror it, every reader checks the version."""

from __future__ import annotations

import ast
import json
import math
import struct
from pathlib import Path

import numpy as np
import pytest

import tinyhar.export.formats as fmt
from tinyhar.errors import TinyharError

MPY = Path(fmt.__file__).with_name("mpy")


def _constants(name: str) -> dict:
    """Module-level constant assignments of a MicroPython source (not importable here)."""
    tree = ast.parse((MPY / name).read_text())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def test_micropython_readers_mirror_the_spec():
    trees = _constants("tinyhar_trees.py")
    assert trees["MAGIC"] == fmt.MODEL_MAGIC
    assert trees["HEADER"] == fmt.MODEL_HEADER
    assert trees["HEADER_SIZE"] == fmt.MODEL_HEADER_SIZE == struct.calcsize(fmt.MODEL_HEADER)
    assert trees["EXPORT_FORMAT_VERSION"] == fmt.EXPORT_FORMAT_VERSION
    app = _constants("app_test.py")
    assert app["MAGIC"] == fmt.TESTDATA_MAGIC
    assert app["HEADER"] == fmt.TESTDATA_HEADER
    assert app["HEADER_SIZE"] == fmt.TESTDATA_HEADER_SIZE
    assert app["INVALID"] == fmt.NO_LABEL
    assert _constants("tinyhar_features.py")["EXPORT_FORMAT_VERSION"] == fmt.EXPORT_FORMAT_VERSION


def test_check_format_version_message():
    fmt.check_format_version(fmt.EXPORT_FORMAT_VERSION, "x")
    with pytest.raises(TinyharError, match=r"b\.json: export format 99; this tinyhar reads "
                                            rf"export format {fmt.EXPORT_FORMAT_VERSION}\. "
                                            r"Export the run again"):
        fmt.check_format_version(99, "b.json")
    with pytest.raises(TinyharError, match="before format versions"):
        fmt.check_format_version(None, "b.json")


def test_read_bundle_meta(tmp_path):
    with pytest.raises(TinyharError, match="bundle.json: missing"):
        fmt.read_bundle_meta(tmp_path)
    (tmp_path / "bundle.json").write_text("{not json")
    with pytest.raises(TinyharError, match="not readable as JSON"):
        fmt.read_bundle_meta(tmp_path)
    (tmp_path / "bundle.json").write_text(json.dumps({"classes": ["a"]}))
    with pytest.raises(TinyharError, match="before format versions"):
        fmt.read_bundle_meta(tmp_path)
    meta = {"export_format_version": fmt.EXPORT_FORMAT_VERSION, "x": 2}
    (tmp_path / "bundle.json").write_text(json.dumps(meta))
    assert fmt.read_bundle_meta(tmp_path)["x"] == 2


def test_testdata_version_is_written_and_checked(tmp_path):
    from tinyhar.export.micropython import read_testdata, write_testdata

    path = tmp_path / "t.bin"
    X = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    write_testdata(path, X, ["a", "b"], ["b", "a"])
    raw = bytearray(path.read_bytes())
    head = struct.unpack(fmt.TESTDATA_HEADER, raw[:fmt.TESTDATA_HEADER_SIZE])
    assert head[-2:] == (fmt.EXPORT_FORMAT_VERSION, 4)  # version, float32 samples
    np.testing.assert_array_equal(read_testdata(path)["X"], X)
    raw[12:14] = struct.pack("<H", 0)  # as written before format versions
    path.write_bytes(bytes(raw))
    with pytest.raises(TinyharError, match="t.bin: an export from a tinyhar version before"):
        read_testdata(path)


def test_compact_testdata_round_trip(tmp_path):
    """int16 samples with a power-of-two scale per channel: half the bytes, step <= max/16384."""
    from tinyhar.export.micropython import (
        dequantize_windows,
        quantize_windows,
        read_testdata,
        write_testdata,
    )

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(5, 128, 3)) * [1.0, 0.01, 3.0]).astype(np.float32)
    q, exp = quantize_windows(X)
    assert q.dtype == np.int16 and exp.tolist() == [
        math.ceil(math.log2(np.abs(X[..., c]).max() / 32767)) for c in range(3)]
    back = dequantize_windows(q, exp)
    step = np.exp2(exp.astype(float))
    assert np.all(np.abs(back - X) <= step / 2 + 1e-12)
    assert np.all(np.abs(X).max(axis=(0, 1)) <= 32767 * step)
    small, full = tmp_path / "c.bin", tmp_path / "f.bin"
    n_small = write_testdata(small, back, ["a"], compact=True)
    n_full = write_testdata(full, back, ["a"])
    samples = 5 * 128 * 3
    assert n_full - n_small == 4 * samples - (2 * samples + 3)  # + 3 scale exponents
    got = read_testdata(small)
    assert got["compact"] and not read_testdata(full)["compact"]
    np.testing.assert_array_equal(got["X"], back)  # exact: q * 2**exp is a float32
    with pytest.raises(TinyharError, match="must be finite"):
        quantize_windows(np.full((1, 4, 1), np.nan))


@pytest.fixture(scope="module")
def pipe():
    """A tiny tree pipeline (minimal features) of one HAPT subject."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1"]), window=128, hop=64,
                              unit="samples")
    cfg = make_config({"features": {"set": "minimal"},
                       "model": {"n_estimators": 2, "max_depth": 3}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    return pipe


def test_old_bundles_are_refused_by_every_reader(pipe, tmp_path):
    """Python (resolve_bundle) and MicroPython (config, model.bin) readers of an old bundle."""
    from tinyhar.device.deploy import resolve_bundle
    from tinyhar.export.micropython import export_micropython, find_micropython, run_micropython

    export_micropython(pipe, tmp_path, n_test_windows=0)
    assert resolve_bundle(tmp_path) == tmp_path
    meta = json.loads((tmp_path / "bundle.json").read_text())
    assert meta["export_format_version"] == fmt.EXPORT_FORMAT_VERSION
    (tmp_path / "bundle.json").write_text(json.dumps(meta | {"export_format_version": 0}))
    with pytest.raises(TinyharError, match="bundle.json: an export from a tinyhar version"):
        resolve_bundle(tmp_path)

    try:
        find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    config = tmp_path / "tinyhar_config.py"
    text = config.read_text()
    v = fmt.EXPORT_FORMAT_VERSION
    config.write_text(text.replace(f"EXPORT_FORMAT_VERSION = {v}", "EXPORT_FORMAT_VERSION = 7"))
    with pytest.raises(TinyharError, match="tinyhar_config.py is export format 7, this "
                                           f"tinyhar_features.py reads format {v}"):
        run_micropython("import tinyhar_config as c, tinyhar_features as f\nf.Features(c)",
                        tmp_path)
    (tmp_path / "emlearn_trees.py").write_text("def new(*a):\n    raise OSError\n")
    with pytest.raises(TinyharError, match="tinyhar_config.py is export format 7"):
        run_micropython("import tinyhar_emlearn\ntinyhar_emlearn.EmlearnTrees()", tmp_path)
    config.write_text(text)
    raw = bytearray((tmp_path / "model.bin").read_bytes())
    raw[18:20] = struct.pack("<H", 0)
    (tmp_path / "model.bin").write_bytes(bytes(raw))
    with pytest.raises(TinyharError, match="model.bin is export format 0"):
        run_micropython("import tinyhar_trees\ntinyhar_trees.TreeEnsemble('model.bin')", tmp_path)


def test_c_files_of_different_versions_do_not_compile(pipe, tmp_path):
    from tinyhar.export.c import build_example, export_c
    from tinyhar.tools import find_tool

    if find_tool("gcc") is None:
        pytest.skip("gcc not installed")
    export_c(pipe, tmp_path)
    header = tmp_path / "tinyhar_model.h"
    line = f"#define TINYHAR_EXPORT_FORMAT_VERSION {fmt.EXPORT_FORMAT_VERSION} "
    assert line in header.read_text()
    build_example(tmp_path)
    header.write_text(header.read_text().replace(line, "#define TINYHAR_EXPORT_FORMAT_VERSION 0 "))
    with pytest.raises(TinyharError, match="tinyhar_model.h is of another export"):
        build_example(tmp_path)
