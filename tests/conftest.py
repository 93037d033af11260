"""Shared fixtures: where the real data sets live, and small synthetic recordings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

# CI (`.ci/run`) sets HYPOTHESIS_PROFILE=ci: the same examples on every run, so a CI
# result does not depend on luck; locally the default profile keeps exploring.
settings.register_profile("ci", derandomize=True, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TINYHAR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The real public data sets (../shared/data); tests using it skip when absent."""
    if not (SHARED_DATA / "HAPT Data Set.zip").exists():
        pytest.skip(
            f"real data sets not found in {SHARED_DATA} (expected HAPT Data Set.zip); "
            "set TINYHAR_DATA to the folder holding them"
        )
    return SHARED_DATA


@pytest.fixture
def wide_cli_consoles(monkeypatch) -> None:
    """tinyhar's CLI consoles (``tinyhar.cli.console``, ``err_console``) 200 columns wide.

    Otherwise rich wraps at ``$COLUMNS`` or 80, fixed when :mod:`tinyhar.cli` is imported
    (pytest-xdist workers have ``COLUMNS=80``), and a message naming a temporary path
    (longer under ``pytest -n``: ``.../popen-gw0/...``) is split inside the words a test
    looks for.
    """
    from rich.console import Console

    from tinyhar import cli

    monkeypatch.setattr(cli, "console", Console(width=200))
    monkeypatch.setattr(cli, "err_console", Console(stderr=True, width=200))


@pytest.fixture(autouse=True)
def _restore_numpy_error_state():
    """Undo global numpy error settings a test leaves behind.

    Importing ``emlearn`` runs ``numpy.seterr(all="raise")`` (in emlearn/bayes.py),
    which would turn harmless underflows in later tests (e.g. t-SNE) into errors.
    """
    state = np.geterr()
    yield
    np.seterr(**state)
