"""The layer contract: subpackages import only downwards, in data-flow order, without cycles.

The contract is ``[tool.importlinter]`` in pyproject.toml; ``lint-imports``
(import-linter, built on grimp) checks it, lazy imports inside functions
included.
"""

from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import tinyhar

ROOT = Path(__file__).resolve().parents[1]
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    pytest.importorskip("importlinter", reason="import-linter is in the test extra")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    return contracts["layers"]


def test_layer_contract_is_kept():
    proc = _lint(ROOT, ROOT / "src")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout


def test_every_module_of_the_package_is_in_a_layer():
    layers = {
        name.strip("() ")
        for layer in _contract()["layers"]
        for name in re.split(r"[|:]", layer)
    }
    modules = {m.name for m in pkgutil.iter_modules(tinyhar.__path__)}
    assert modules - layers == set(), "add new modules to the layers in pyproject.toml"


def test_cli_is_on_top_and_core_types_at_the_bottom():
    layers = _contract()["layers"]
    assert layers[:2] == ["__main__", "cli"]
    order = [re.split(r"[|:]", layer)[0].strip("() ") for layer in layers]
    flow = ["datasets", "windows", "features", "models", "evaluation", "export", "device"]
    assert [order.index(m) for m in flow] == sorted((order.index(m) for m in flow),
                                                    reverse=True)
    assert "core" in layers[-3] and layers[-1] == "errors"


def test_function_level_imports_break_the_contract(tmp_path):
    """grimp sees an import inside a function: a lazy import cannot hide a cycle."""
    pkg = tmp_path / "layered"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "high.py").write_text("from layered import low\n")
    (pkg / "low.py").write_text(textwrap.dedent("""
        def lazy():
            from layered import high  # upwards, hidden in a function

            return high
    """))
    (tmp_path / ".importlinter").write_text(textwrap.dedent("""
        [importlinter]
        root_package = layered

        [importlinter:contract:layers]
        name = layers
        type = layers
        layers =
            layered.high
            layered.low
    """))
    proc = _lint(tmp_path, tmp_path)
    assert proc.returncode != 0
    assert "layered.low -> layered.high" in proc.stdout
