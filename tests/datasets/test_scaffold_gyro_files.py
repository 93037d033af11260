"""`tinyhar datasets init` on folders whose accelerometer and gyroscope are in files of their
own (WISDM 2019's ``accel/`` and ``gyro/``, HHAR's ``Phones_*.csv``): a ``gyro`` key, then
``datasets check`` and ``train`` on it."""

from __future__ import annotations

import warnings

import numpy as np
import yaml
from typer.testing import CliRunner

from tests.datasets.test_custom_gyro_files import _expected, write_hhar, write_wisdm_raw
from tinyhar.cli import app
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.scaffold import scaffold_definition

runner = CliRunner()


def _guess(scaffold, key):
    return next(g for g in scaffold.guesses if g.key == key)


def test_init_on_wisdm_raw_writes_a_gyro_key(tmp_path):
    written = write_wisdm_raw(tmp_path / "wisdm" / "raw")
    (tmp_path / "wisdm" / "raw" / "phone" / "magnet").mkdir()
    (tmp_path / "wisdm" / "raw" / "phone" / "magnet" / "data_1600_magnet_phone.txt").write_text(
        "1600,A,252207666810782,1,2,3;\n")
    scaffold = scaffold_definition(tmp_path / "wisdm" / "raw" / "phone", tmp_path / "w.yaml")
    data = yaml.safe_load(scaffold.text)
    assert scaffold.problems == []
    assert data["files"] == "wisdm/raw/phone/accel/*.txt"
    assert data["file_pattern"] == r"data_(?P<subject>\d+)_accel_phone\.txt"
    assert data["columns"] == {"time": 2, "acc_x": 3, "acc_y": 4, "acc_z": 5, "label": 1}
    assert data["units"] == {"time": "ns", "acc": "m/s^2", "gyro": "rad/s"}
    assert data["gyro"] == {
        "files": "wisdm/raw/phone/gyro/*.txt",
        "columns": {"time": 2, "gyro_x": 3, "gyro_y": 4, "gyro_z": 5},
        "sampling_rate_hz": 40,
        "file_pattern": r"data_(?P<subject>\d+)_gyro_phone\.txt",
    }
    assert "1 file(s) of other sensors left out" in _guess(scaffold, "files").reason
    (tmp_path / "w.yaml").write_text(scaffold.text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = load_custom(tmp_path / "w.yaml")
    t_acc, t_gyro, gyro = written["1600"]
    keep, values = _expected(t_acc, t_gyro, gyro, max_gap=2 / 40)
    part = rec.frame[rec.frame["subject"] == "1600"]
    np.testing.assert_allclose(part[["gyro_x", "gyro_y", "gyro_z"]], values, atol=1e-6)


def test_init_on_hhar_pairs_the_two_files_by_name(tmp_path):
    write_hhar(tmp_path / "hhar", users=("a", "b"), devices=("nexus4_1",))
    scaffold = scaffold_definition(tmp_path / "hhar", tmp_path / "h.yaml")
    data = yaml.safe_load(scaffold.text)
    assert data["files"] == "hhar/*accelerometer*.csv"
    assert data["gyro"]["files"] == "hhar/*gyroscope*.csv"
    assert data["gyro"]["columns"] == {"time": data["columns"]["time"], "gyro_x": "x",
                                       "gyro_y": "y", "gyro_z": "z"}
    assert data["columns"]["subject"] == "User" and "file_pattern" not in data["gyro"]
    (tmp_path / "h.yaml").write_text(scaffold.text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = load_custom(tmp_path / "h.yaml")
    assert rec.subjects == ["a", "b"] and rec.has_gyro


def test_init_check_and_train_on_separate_sensor_files(tmp_path):
    """The task's "done when": acc and gyro files -> init -> check -> train, no edits."""
    write_wisdm_raw(tmp_path / "raw", subjects=("1600", "1601", "1602", "1603"), seconds=30)
    definition = tmp_path / "wisdm.yaml"
    result = runner.invoke(app, ["datasets", "init", str(tmp_path / "raw" / "phone"),
                                 "--out", str(definition)])
    assert result.exit_code == 0, result.output
    assert "gyro" in yaml.safe_load(definition.read_text())
    result = runner.invoke(app, ["datasets", "check", str(definition)])
    assert result.exit_code == 0, result.output
    assert "left out" in result.output and "1600" in result.output
    result = runner.invoke(app, ["train", "--dataset", str(definition), "--n-estimators", "2",
                                 "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "metrics.json").is_file()
