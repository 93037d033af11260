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

# rich wraps tinyhar's messages at $COLUMNS (80 in pytest-xdist workers and without a
# terminal), fixed when a console is made: a message naming a long temporary path
# (``.../popen-gw0/...`` under ``pytest -n``) would be split inside the words a test looks
# for. Set before any test module imports tinyhar.cli (its consoles) and inherited by the
# commands tests run in subprocesses. Tests of wrapping set their own width.
os.environ["COLUMNS"] = "200"

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


@pytest.fixture(autouse=True)
def _restore_numpy_error_state():
    """Undo global numpy error settings a test leaves behind.

    Importing ``emlearn`` runs ``numpy.seterr(all="raise")`` (in emlearn/bayes.py),
    which would turn harmless underflows in later tests (e.g. t-SNE) into errors.
    """
    state = np.geterr()
    yield
    np.seterr(**state)
