"""Dataset definitions on the text layouts public HAR data sets ship: ``.dat``/``.log`` files,
runs of spaces, lines ending in ``;``, samples a sensor dropped, the activity in a folder name."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest

from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.errors import ConfigError, DataFormatError


def _definition(folder, text: str):
    path = folder / "data.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_dat_and_log_files_with_runs_of_spaces_and_tabs(tmp_path):
    """PAMAP2 ``subject101.dat`` (spaces), MHEALTH ``mHealth_subject1.log`` (tabs), no format."""
    (tmp_path / "subject101.dat").write_text(
        "  0.00   9.80665  0.0  0.0\n  0.01    0.0  9.80665  0.0\n  0.02  0.0  0.0   9.80665\n")
    (tmp_path / "mHealth_subject1.log").write_text(
        "0.00\t0.0\t0.0\t9.80665\n0.01\t0.0\t9.80665\t0.0\n")
    path = _definition(tmp_path, r"""
        files: ["*.dat", "*.log"]
        csv: {delimiter: '\s+', header: false}
        sampling_rate_hz: 100
        columns: {time: 0, acc_x: 1, acc_y: 2, acc_z: 3}
        units: {acc: m/s^2}
        file_pattern: '\D*(?P<subject>\d+)\.(dat|log)'
        checks: {units: false}
        """)
    rec = load_custom(path)
    assert rec.subjects == ["1", "101"]
    part = rec.frame[rec.frame["subject"] == "101"]
    np.testing.assert_allclose(part[["acc_x", "acc_y", "acc_z"]].to_numpy(), np.eye(3),
                               atol=1e-6)
    part = rec.frame[rec.frame["subject"] == "1"]  # tabs are runs of white space too
    np.testing.assert_allclose(part["acc_y"], [0.0, 1.0], atol=1e-6)


def test_delimiter_is_one_character_or_runs_of_white_space(tmp_path):
    (tmp_path / "a.csv").write_text("0,0,1\n")
    path = _definition(tmp_path, """
        files: "*.csv"
        csv: {delimiter: ", ", header: false}
        sampling_rate_hz: 50
        columns: {acc_x: 0, acc_y: 1, acc_z: 2}
        constants: {subject: a}
        """)
    with pytest.raises(ConfigError, match=r"csv.delimiter.*one character"):
        load_custom(path)


def test_comment_character_drops_the_semicolon_ending_each_line(tmp_path):
    """WISDM 2019: ``1600,A,252207666810782,-0.36476135,8.793503,1.0550842;``."""
    lines = [f"1600,A,{252207666810782 + i * 50_000_000},-0.36476135,9.793503,1.0550842;"
             for i in range(4)]
    (tmp_path / "data_1600_accel_phone.txt").write_text("\n".join(lines) + "\n")
    path = _definition(tmp_path, r"""
        files: "*.txt"
        csv: {header: false, comment: ";"}
        sampling_rate_hz: 20
        columns: {subject: 0, label: 1, time: 2, acc_x: 3, acc_y: 4, acc_z: 5}
        units: {time: ns, acc: m/s^2}
        checks: {units: false}
        """)
    rec = load_custom(path)
    np.testing.assert_allclose(rec.frame["acc_z"], 1.0550842 / STANDARD_GRAVITY, rtol=1e-6)
    np.testing.assert_allclose(rec.frame["time"], [0.0, 0.05, 0.1, 0.15], atol=1e-9)
    assert rec.classes == ["A"] and rec.subjects == ["1600"]


def _dropped_rows(tmp_path, drop: bool, time: bool = True):
    """A PAMAP2-like file whose acc misses values on lines 3 and 5; its definition."""
    rows = [f"{i * 0.01:.2f} 1 NaN 0 0 9.80665" for i in range(20)]
    rows[2] = "0.02 1 NaN NaN NaN NaN"  # a sample the wireless sensor dropped
    rows[4] = "0.04 1 NaN 0 NaN 9.80665"
    (tmp_path / "subject101.dat").write_text("\n".join(rows) + "\n")
    return _definition(tmp_path, f"""
        files: "*.dat"
        csv: {{delimiter: " ", header: false, drop_missing: {str(drop).lower()}}}
        sampling_rate_hz: 100
        columns: {{{'time: 0, label: 1, ' if time else ''}acc_x: 3, acc_y: 4, acc_z: 5}}
        units: {{acc: m/s^2}}
        constants: {{subject: "101"}}
        checks: {{units: false}}
        """)


def test_rows_missing_a_sensor_value_are_an_error_naming_line_and_key(tmp_path):
    path = _dropped_rows(tmp_path, drop=False)
    with pytest.raises(DataFormatError, match=r"line 3.*missing.*csv\.drop_missing: true"):
        load_custom(path)


def test_drop_missing_leaves_out_rows_missing_time_or_a_sensor_value(tmp_path):
    """Heart rate (column 2, NaN almost always) is not read, so it drops nothing."""
    path = _dropped_rows(tmp_path, drop=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = load_custom(path)
    np.testing.assert_allclose(rec.frame["time"], np.delete(np.arange(20) * 0.01, [2, 4]),
                               atol=1e-9)
    np.testing.assert_allclose(rec.frame["acc_z"], 1.0, rtol=1e-6)
    messages = [str(w.message) for w in caught if "drop_missing" in str(w.message)]
    assert len(messages) == 1
    assert "subject101.dat: 2 row(s)" in messages[0] and "first at line 3" in messages[0]


def test_drop_missing_needs_a_time_column(tmp_path):
    path = _dropped_rows(tmp_path, drop=True, time=False)
    with pytest.raises(ConfigError, match="drop_missing needs a time column"):
        load_custom(path)


def test_file_pattern_with_a_slash_and_gravity_columns(tmp_path):
    """MotionSense: ``A_DeviceMotion_data/wlk_7/sub_1.csv``, the activity in the folder's name,
    acceleration without gravity beside the gravity vector (both g)."""
    for trial, level in (("wlk_7", 1.0), ("sit_5", 2.0)):
        for subject in ("1", "2"):
            folder = tmp_path / "A_DeviceMotion_data" / trial
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"sub_{subject}.csv").write_text(
                f",x,y,z,gx,gy,gz\n0,0,0,{level - 1},0,0,1\n1,0.5,0,{level - 1.5},0,0,1.5\n")
    path = _definition(tmp_path, r"""
        files: "A_DeviceMotion_data/**/*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z, gravity_x: gx, gravity_y: gy, gravity_z: gz}
        file_pattern: '(?P<label>[a-z]+)_\d+/sub_(?P<subject>\d+)\.csv'
        checks: {units: false}
        """)
    rec = load_custom(path)
    assert rec.classes == ["sit", "wlk"] and rec.subjects == ["1", "2"]
    walking = rec.frame[rec.frame["label"] == "wlk"]  # gravity (g) added to acc (g)
    np.testing.assert_allclose(walking["acc_z"], 1.0)
    np.testing.assert_allclose(walking["acc_x"], [0.0, 0.5, 0.0, 0.5])
    (tmp_path / "A_DeviceMotion_data" / "extra").mkdir()
    (tmp_path / "A_DeviceMotion_data" / "extra" / "sub_3.csv").write_text(
        ",x,y,z,gx,gy,gz\n0,0,0,0,0,0,1\n")
    with pytest.raises(DataFormatError, match=r"end of the path 'sub_3.csv' does not match"):
        load_custom(path)


def test_gravity_columns_all_or_none(tmp_path):
    (tmp_path / "a.csv").write_text("x,y,z,gz\n0,0,0,1\n")
    path = _definition(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {acc_x: x, acc_y: y, acc_z: z, gravity_z: gz}
        constants: {subject: a}
        """)
    with pytest.raises(ConfigError, match=r"give all of \['gravity_x', 'gravity_y', 'gravity_z'\]"):
        load_custom(path)
