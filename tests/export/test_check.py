"""The self-check of `tinyhar export`: parity of the export on the run's test windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import bundled_hapt_parquet, has_micropython
from tinyhar.cli import app
from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.export.check import check_export, format_check, run_test_windows
from tinyhar.tools import find_tool

runner = CliRunner()
needs_gcc = pytest.mark.skipif(find_tool("gcc") is None, reason="gcc not installed")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run of HAPT subjects 1 and 3 tested on subject 2 (light features, small trees)."""
    root = tmp_path_factory.mktemp("check")
    data = bundled_hapt_parquet(root, ["1", "2", "3"])
    cfg = {"dataset": {"name": str(data)},
           "evaluation": {"test_subjects": [2], "cv_folds": 0},
           "features": {"set": "light"},
           "model": {"n_estimators": 4, "max_depth": 6}}
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "--config", str(root / "cfg.yaml"),
                                 "--out", str(root / "run")])
    assert result.exit_code == 0, result.output
    return root / "run"


def test_the_run_test_windows_are_the_unseen_subjects(run):
    from tinyhar.runfolder import load_run

    checked = load_run(run)
    test = run_test_windows(checked)
    assert set(test.subject.astype(str)) == {"2"} and len(test) > 100


@needs_gcc
def test_c_check_passes_and_a_broken_export_fails(run, tmp_path):
    from tinyhar.export.c import export_c

    out = tmp_path / "c"
    export_c(run, out)
    res = check_export(run, "c", out)
    assert res["status"] == "ok" and res["identical"] == res["n_windows"] > 100
    assert res["max_rel_feature_error"] < 1e-4
    line = format_check(res)
    assert line.startswith(f"check (c): classes equal {res['n_windows']}/{res['n_windows']} "
                           "test windows, largest feature error")
    # a C library that walks its trees the wrong way is caught
    source = out / "tinyhar_model.c"
    text = source.read_text()
    assert "(x <= thr_node_threshold[node])" in text
    source.write_text(text.replace("(x <= thr_node_threshold[node])",
                                   "(x > thr_node_threshold[node])"))
    res = check_export(run, "c", out)
    assert res["status"] == "failed" and res["unexplained"] > 0
    assert "FAILED" in format_check(res) and "larger than float rounding" in format_check(res)


def test_micropython_check_and_cli(run, tmp_path, monkeypatch):
    if not has_micropython():
        pytest.skip("MicroPython unix port not available")
    out = tmp_path / "mpy"
    result = runner.invoke(app, ["export", str(run), "--target", "micropython", "--out",
                                 str(out), "--test-windows", "12", "--mounting",
                                 "m5stickc-plus2-waist"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "12 test windows, mounting x=y,y=-x,z=z" in text
    assert "check (micropython): classes equal" in text and "FAILED" not in text
    # what happened to the run's post-processing is said, whether written or not
    assert "post-processing exported:" in text or "note: " in text
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["n_test_windows"] == 12 and meta["testdata_bytes"] == 16 + 6 + 12 * (
        128 * 6 * 2 + 1 + 2 + 1)
    assert meta["gravity_reference"]["class"] == "STANDING"

    # --no-check skips it; a failed check exits 1 with its message
    result = runner.invoke(app, ["export", str(run), "--target", "micropython", "--out",
                                 str(out), "--no-check", "--test-windows", "0"])
    assert result.exit_code == 0 and "check (" not in result.output
    assert not (out / "testdata.bin").exists()

    def failing(*args, **kwargs):
        return {"target": "micropython", "status": "failed", "n_windows": 5, "identical": 3,
                "explained": 0, "unexplained": 2, "max_abs_feature_error": 1.0,
                "max_rel_feature_error": 0.5, "worst_feature": "f", "reason": "broken"}

    monkeypatch.setattr("tinyhar.export.check.check_export", failing)
    result = runner.invoke(app, ["export", str(run), "--target", "micropython", "--out",
                                 str(out), "--test-windows", "0"])
    assert result.exit_code == 1
    assert "classes equal 3/5 test windows" in result.output and "FAILED: broken" in result.output


def test_check_is_skipped_without_the_tool(run, tmp_path, monkeypatch):
    monkeypatch.setattr("tinyhar.tools.find_tool", lambda name: None)
    res = check_export(run, "c", tmp_path)
    assert res["status"] == "skipped" and "gcc" in res["reason"]
    assert format_check(res) == "check (c): skipped, gcc is not installed"
    with pytest.raises(TinyharError, match="no self-check for target 'onnx'"):
        check_export(run, "onnx", tmp_path)


def test_bundle_without_emlearn_csv_when_over_127_features(tmp_path):
    """emlearn_trees loads at most 127 features: no model.trees.csv then."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1"]), window=128, hop=64,
                              unit="samples")
    cfg = make_config({"features": {"set": "full"},
                       "model": {"n_estimators": 30, "max_depth": 12,
                                 "max_features": 1.0}})
    pipe = build_pipeline(windows, cfg, 64)
    F = pipe.transform(windows)
    rng = np.random.default_rng(0)  # labels the trees need very many features to fit
    pipe.model.fit(F, rng.choice(["a", "b", "c"], size=len(F)))
    info = mpx.export_micropython(pipe, tmp_path, n_test_windows=0)
    assert info["emlearn"]["n_features"] > 127 and not info["emlearn"]["compatible"]
    assert not (tmp_path / "model.trees.csv").exists()
    assert "model.trees.csv" not in info["files"]
    assert "no `model.trees.csv`" in (tmp_path / "README.md").read_text(encoding="utf-8")
