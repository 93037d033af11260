"""The bundled HAPT copy: contents, fidelity to the publisher's files, build script."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import HAPT_BASIC_COUNTS
from tinyhar.datasets import bundled
from tinyhar.datasets.bundled import (
    bundled_hapt_path,
    load_bundled_hapt,
    read_bundled,
    write_bundled,
)
from tinyhar.datasets.hapt import load_hapt
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import DataFormatError, TinyharError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundled_set() -> RecordingSet:
    return load_bundled_hapt()


def test_bundled_file_is_small_and_licensed():
    path = bundled_hapt_path()
    assert path.is_file(), "run scripts/build_bundled_hapt.py"
    assert path.stat().st_size <= 10 * 1024 * 1024
    licence = (path.parent / "HAPT_LICENSE.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in licence and "Neurocomputing" in licence
    assert "What was changed" in licence


def test_bundled_contents(bundled_set):
    rec = bundled_set
    assert rec.n_samples == 1_122_772
    assert rec.subjects == [str(i) for i in range(1, 31)]
    assert len(rec.sessions) == 61
    assert rec.sampling_rate_hz == 50.0
    assert rec.channels == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert rec.classes == list(HAPT_BASIC_COUNTS)
    assert rec.frame["label"].value_counts().to_dict() == HAPT_BASIC_COUNTS
    first = rec.frame.iloc[0]
    np.testing.assert_allclose(
        [first["acc_x"], first["acc_y"], first["acc_z"]],
        [0.91805559, -0.1125, 0.50972225], atol=3e-7,
    )
    np.testing.assert_allclose(rec.frame["time"].iloc[:3], [0.0, 0.02, 0.04])
    assert "Reyes-Ortiz" in rec.citation and "CC BY 4.0" in rec.licence


def test_bundled_matches_publisher_files(bundled_set, hapt_basic):
    ours, theirs = bundled_set.frame, hapt_basic.frame
    assert len(ours) == len(theirs)
    for col in ("label", "subject", "session"):
        # same categories and codes; check_exact: labels are compared as they are, not
        # one by one as objects to be "almost equal" (a Python loop: 10 s per column)
        pd.testing.assert_series_equal(ours[col], theirs[col], check_exact=True)
    np.testing.assert_array_equal(ours["time"].to_numpy(), theirs["time"].to_numpy())
    for col, tol in (("acc_x", 3e-7), ("acc_z", 3e-7), ("gyro_x", 1.1e-6), ("gyro_z", 1.1e-6)):
        diff = np.abs(ours[col].to_numpy(np.float64) - theirs[col].to_numpy(np.float64))
        assert diff.max() <= tol, col


def test_missing_bundled_file_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setattr(bundled, "bundled_hapt_path", lambda: tmp_path / "hapt_basic.parquet")
    with pytest.raises(TinyharError, match="scripts/build_bundled_hapt.py"):
        load_bundled_hapt()


def test_read_bundled_rejects_other_parquet(tmp_path):
    frame = pd.DataFrame({"time": [0.0, 0.02], "acc_x": [0.0, 0.0], "acc_y": [0.0, 0.0],
                          "acc_z": [1.0, 1.0], "subject": "1", "session": "a"})
    path = RecordingSet(frame, 50.0, []).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(DataFormatError, match="not a bundled tinyhar file"):
        read_bundled(path)


def test_write_bundled_refuses_values_off_the_grid(tmp_path):
    frame = pd.DataFrame({"time": [0.0, 0.02], "acc_x": [0.1234567, 0.0], "acc_y": [0.0, 0.0],
                          "acc_z": [1.0, 1.0], "subject": "1", "session": "a"})
    with pytest.raises(ValueError, match="quantisation error"):
        write_bundled(RecordingSet(frame, 50.0, []), tmp_path / "x.parquet")
    frame["acc_x"] = 0.0
    frame["time"] = [0.0, 0.5]
    with pytest.raises(ValueError, match="time is not"):
        write_bundled(RecordingSet(frame, 50.0, []), tmp_path / "x.parquet")


def test_build_script_round_trip(hapt_subset, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "build_bundled_hapt", REPO / "scripts" / "build_bundled_hapt.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "subset.parquet"
    assert module.main([str(hapt_subset["zip"]), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    back = read_bundled(out)
    original = load_hapt(hapt_subset["zip"])
    assert back.sessions == ["exp01", "exp02"]
    pd.testing.assert_frame_equal(
        back.frame[["time", "label", "subject", "session"]],
        original.frame[["time", "label", "subject", "session"]],
    )
    np.testing.assert_allclose(back.frame["gyro_y"], original.frame["gyro_y"], atol=1.1e-6)
