"""Device budget of the C export: flash / RAM for a Cortex-M4F, instructions per window.

Needs arm-none-eabi-gcc (flash/RAM) and gcc + valgrind (instructions); each
test skips with the install command when its tool is missing. Missing tools
are also simulated (PATH without them): the budget then names them with the
install command instead of failing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyhar.device.budget import (
    FLASH_BUDGET_BYTES,
    GROUPS,
    c_budget,
    format_budget,
    synthetic_windows,
    write_budget,
)
from tinyhar.errors import TinyharError
from tinyhar.tools import find_tool, missing_message, require_tool, tool_status


def skip_without(*tools):
    missing = [t for t in tools if find_tool(t) is None]
    return pytest.mark.skipif(bool(missing), reason="; ".join(missing_message(t)
                                                              for t in missing))


@pytest.fixture(scope="module")
def small_export(tmp_path_factory):
    """C export of a small forest (default features, acc + gyro) fitted on HAPT subject 1."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.export.c import export_c
    from tinyhar.features import FeatureExtractor
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.models.trees import TreeEnsembleClassifier
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1"]), window=128, hop=64,
                              unit="samples")
    fx = FeatureExtractor(channels=tuple(windows.channels)).fit(windows.X[:1])
    model = TreeEnsembleClassifier(n_estimators=4, max_depth=6).fit(fx.transform(windows.X),
                                                                    windows.y)
    pipe = HarPipeline(fx, model, list(windows.channels), 50.0, 128, 64, False,
                       list(windows.classes))
    out = tmp_path_factory.mktemp("budget") / "c"
    export_c(pipe, out)
    return out, windows.X[:3], model.size()


@skip_without("arm-none-eabi-gcc", "arm-none-eabi-size", "gcc", "valgrind", "callgrind_annotate")
def test_budget_measures_flash_ram_stack_and_instructions(small_export, tmp_path):
    c_dir, windows, size = small_export
    budget = c_budget(c_dir, windows=windows)
    print(format_budget(budget))
    assert budget["missing"] == []
    assert budget["flash_bytes"] == budget["text_bytes"] + budget["data_bytes"] > 0
    assert budget["ram_bytes"] == budget["data_bytes"] + budget["bss_bytes"] > 0
    # the tree arrays are in flash with exactly the size the estimator reports
    assert budget["flash_breakdown"]["trees"] == size["bytes"]
    assert sum(budget["flash_breakdown"].values()) == budget["flash_bytes"]
    assert budget["flash_bytes"] < FLASH_BUDGET_BYTES and budget["flash_ok"]
    assert budget["ram_ok"] and budget["ram_over_by_bytes"] == 0
    # static buffers: ring buffer (128 x 6 floats), triad and work buffers, features
    assert budget["ram_breakdown"]["thr_ring"] == 128 * 6 * 4
    assert budget["stack_bytes"] > 0 and budget["stack_chain"][0].startswith("tinyhar_")
    assert budget["flash_with_libm_bytes"] > budget["flash_bytes"]
    assert budget["n_windows_profiled"] == 3
    per_group = budget["instructions_per_group"]
    assert set(per_group) == set(GROUPS) | {"other"}
    assert all(per_group[g] > 0 for g in GROUPS)
    assert sum(per_group.values()) == budget["instructions_per_window"] > 10_000
    # callgrind counts are deterministic
    again = c_budget(c_dir, windows=windows)
    assert again["instructions_per_window"] == budget["instructions_per_window"]
    assert again["instructions_per_group"] == per_group
    path = write_budget(tmp_path, budget)
    assert json.loads(path.read_text())["flash_bytes"] == budget["flash_bytes"]
    table = format_budget(budget)
    assert "flash (text+data)" in table and "spectral" in table and "ok" in table


def test_budget_names_missing_tools_with_install_commands(small_export, monkeypatch, tmp_path):
    c_dir, windows, _ = small_export
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tool at all
    budget = c_budget(c_dir, windows=windows)
    assert budget["flash_bytes"] is None and budget["ram_bytes"] is None
    assert budget["instructions_per_window"] is None
    missing = "\n".join(budget["missing"])
    assert "arm-none-eabi-gcc: not found on PATH; install: apt-get install gcc-arm-none-eabi " \
           "libnewlib-arm-none-eabi" in missing
    assert "valgrind: not found on PATH; install: apt-get install valgrind" in missing
    assert "gcc: not found" in missing
    table = format_budget(budget)
    assert "not measured" in table and "apt-get install valgrind" in table
    assert json.loads(write_budget(tmp_path, budget).read_text())["flash_bytes"] is None


def test_micropython_timing_is_null_with_a_reason(small_export):
    c_dir, _, _ = small_export
    budget = c_budget(c_dir, profile=False)
    assert budget["micropython_ms_per_window"] is None
    assert budget["micropython_reason"]


def test_tools_report_and_require(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_tool("gcc") is None
    assert tool_status(("gcc", "valgrind")) == {"gcc": None, "valgrind": None}
    with pytest.raises(TinyharError, match="apt-get install gcc"):
        require_tool("gcc", "building the C export")
    assert "micropython" in missing_message("micropython")


def test_budget_needs_an_export(tmp_path):
    with pytest.raises(TinyharError, match="export_c"):
        c_budget(tmp_path)


def test_synthetic_windows_are_deterministic():
    a = synthetic_windows(3, 128, 6, 50.0)
    b = synthetic_windows(3, 128, 6, 50.0)
    assert a.shape == (3, 128, 6) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert abs(float(a[..., 2].mean()) - 1.0) < 0.1  # gravity on z


@pytest.mark.parametrize(("windows", "message"), [
    (np.zeros((2, 64, 6)), r"profile windows: windows must have shape \(n_windows, 128, 6\), got "
     r"shape \(2, 64, 6\): 64 samples per window, but the C export in .* takes windows of 128"),
    (np.zeros((2, 128, 3)), r"got shape \(2, 128, 3\) with 3 channels on the last axis"),
    (np.zeros((2, 6, 128)), r"the axes look swapped"),
    (np.zeros((0, 128, 6)), r"no windows \(shape \(0, 128, 6\)\); at least 1 window"),
])
def test_profile_windows_are_checked_before_building(small_export, windows, message):
    """Wrong windows fail at once, with the shape the export takes (no tool needed)."""
    c_dir, _, _ = small_export
    with pytest.raises(TinyharError, match=message):
        c_budget(c_dir, windows=windows)
