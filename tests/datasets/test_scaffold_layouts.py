"""`tinyhar datasets init` on the file layouts of public HAR data sets, as their publishers ship
them (small replicas written here from real HAPT signals, in the publishers' units)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import yaml

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.scaffold import scaffold_definition, write_scaffold
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.errors import ConfigError

CODES = {"WALKING": 4, "SITTING": 2, "STANDING": 3}  # PAMAP2's activity IDs; 0 = transient


@pytest.fixture(scope="module")
def hapt():
    return load_bundled_hapt()


def _recording(hapt, subject: str, seconds: float = 15.0):
    """Walking, standing and sitting of one HAPT subject with 2 s of no activity before each:
    acc (n, 3) g, gyro (n, 3) rad/s, activity codes (n,) with 0 = none."""
    frame = hapt.select(subjects=[subject]).frame
    parts = []
    for label, code in CODES.items():
        none = frame[frame["label"].isna()].iloc[:100]
        parts += [(none, 0), (frame[frame["label"] == label].iloc[: int(seconds * 50)], code)]
    acc = np.concatenate([p[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64) for p, _ in parts])
    gyro = np.concatenate([p[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(np.float64)
                           for p, _ in parts])
    codes = np.concatenate([np.full(len(p), c) for p, c in parts])
    return acc, gyro, codes


def _guess(scaffold, key):
    return next(g for g in scaffold.guesses if g.key == key)


def _write_pamap2(hapt, folder, subjects=("1", "2")):
    """``Protocol/subject10N.dat``: time s, activity ID, heart rate (NaN but every 9th), then 3
    IMUs of 17: temperature, acc +-16 g and +-6 g (m/s^2), gyro rad/s, magnetometer,
    orientation; a dropped sample is NaN in all of an IMU's columns."""
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    for k, subject in enumerate(subjects):
        acc, gyro, codes = _recording(hapt, subject)
        n = len(acc)
        table = np.full((n, 54), np.nan)
        table[:, 0] = 5.64 + np.arange(n) * 0.02
        table[:, 1] = codes
        table[::9, 2] = 104 + k
        for imu, base in enumerate((3, 20, 37)):
            table[:, base] = 30.0 + imu + np.linspace(0, 2, n)  # temperature drifts
            table[:, base + 1:base + 4] = acc * STANDARD_GRAVITY
            table[:, base + 4:base + 7] = np.clip(acc, -6, 6) * STANDARD_GRAVITY
            table[:, base + 7:base + 10] = gyro
            table[:, base + 10:base + 13] = rng.normal(0, 20, (n, 3)) + [-30, 10, 40]
            table[:, base + 13:base + 17] = [1, 0, 0, 0]  # "invalid" orientation
        table[7::150, 3:20] = np.nan  # the hand IMU dropped these samples
        np.savetxt(folder / f"subject10{k + 1}.dat", table, fmt="%.6g")
    return folder


def test_pamap2_protocol_files(tmp_path, hapt):
    folder = _write_pamap2(hapt, tmp_path / "PAMAP2_Dataset" / "Protocol")
    out = tmp_path / "pamap2.yaml"
    scaffold = write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text())
    assert data["files"] == "PAMAP2_Dataset/Protocol/*.dat"
    assert data["csv"] == {"delimiter": " ", "header": False, "skip_rows": 0,
                           "drop_missing": True}
    # the hand IMU: acc +-16 g (4-6; 7-9 is the same sensor at +-6 g), gyro 10-12; the heart
    # rate (NaN mostly) is no label, the temperature no axis
    assert data["columns"] == {"time": 0, "acc_x": 4, "acc_y": 5, "acc_z": 6,
                               "gyro_x": 10, "gyro_y": 11, "gyro_z": 12, "label": 1}
    assert data["units"] == {"time": "s", "acc": "m/s^2", "gyro": "rad/s"}
    assert data["sampling_rate_hz"] == 50
    assert data["file_pattern"] == r"subject(?P<subject>\d+)\.dat"
    assert data["classes"] == ["2", "3", "4"] and data["ignore_labels"] == ["0"]
    assert _guess(scaffold, "ignore_labels").confidence == "low"
    assert "6 triples show gravity (4-6, 7-9, 21-23" in _guess(scaffold, "columns.acc_x").reason
    assert not scaffold.problems
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_custom(out)
    dropped = sorted(str(w.message) for w in caught if "drop_missing" in str(w.message))
    assert len(dropped) == 2  # one per file
    assert re.search(r"subject101\.dat: 17 row\(s\) .* the first at line 8", dropped[0])
    assert loaded.classes == ["2", "3", "4"] and loaded.subjects == ["101", "102"]
    acc, _, codes = _recording(hapt, "1")
    kept = np.ones(len(acc), bool)
    kept[7::150] = False
    part = loaded.frame[loaded.frame["subject"] == "101"]
    assert len(part) == kept.sum()
    np.testing.assert_allclose(part["acc_y"], acc[kept, 1], atol=1e-5)  # 6 digits in m/s^2
    assert (part["label"].isna().to_numpy() == (codes[kept] == 0)).all()


def test_mhealth_log_files(tmp_path, hapt):
    """``mHealth_subject1.log``: tabs, 24 columns: chest acc, 2 ECG leads, ankle acc, gyro
    (deg/s), magnetometer, arm acc, gyro, magnetometer, label (0 = null class); 50 Hz, no time."""
    rng = np.random.default_rng(2)
    folder = tmp_path / "MHEALTHDATASET"
    folder.mkdir()
    for k, subject in enumerate(("1", "2")):
        acc, gyro, codes = _recording(hapt, subject)
        n = len(acc)
        ankle = acc[:, [2, 0, 1]] * STANDARD_GRAVITY
        table = np.column_stack([
            acc * STANDARD_GRAVITY, rng.normal(0, 0.3, (n, 2)), ankle, np.degrees(gyro),
            rng.normal(0, 0.5, (n, 3)), acc[:, [1, 2, 0]] * STANDARD_GRAVITY,
            np.degrees(gyro[:, [1, 2, 0]]), rng.normal(0, 0.5, (n, 3)), codes])
        pd.DataFrame(table).astype({23: int}).to_csv(
            folder / f"mHealth_subject{k + 1}.log", sep="\t", header=False, index=False,
            float_format="%.5g")
    scaffold = scaffold_definition(folder, tmp_path / "mhealth.yaml")
    data = yaml.safe_load(scaffold.text)
    assert data["csv"] == {"delimiter": "\t", "header": False, "skip_rows": 0}
    # the ankle's accelerometer (5-7: the first followed by a gyroscope), not the ECG leads
    assert data["columns"] == {"acc_x": 5, "acc_y": 6, "acc_z": 7, "gyro_x": 8, "gyro_y": 9,
                               "gyro_z": 10, "label": 23}
    assert data["units"] == {"acc": "m/s^2", "gyro": "deg/s"}
    assert data["ignore_labels"] == ["0"] and data["classes"] == ["2", "3", "4"]
    assert "the first with a gyroscope after it" in _guess(scaffold, "columns.acc_x").reason
    assert any("no time column" in p for p in scaffold.problems)  # the user sets 50 Hz
    assert data["file_pattern"] == r"mHealth_subject(?P<subject>\d+)\.log"


def _write_wisdm(hapt, root):
    """``raw/phone/accel/data_1600_accel_phone.txt`` and ``gyro/..._gyro_phone.txt``: subject,
    activity letter, ns time stamp, x, y, z, ``;``; 20 Hz, acc m/s^2, gyro rad/s."""
    letters = {0: "D", 2: "D", 3: "E", 4: "A"}
    for subject in ("1600", "1601"):
        acc, gyro, codes = _recording(hapt, str(int(subject) - 1599), seconds=20)
        take = np.arange(0, len(acc), 2.5).astype(int)  # 50 -> 20 Hz
        for sensor, values in (("accel", acc * STANDARD_GRAVITY), ("gyro", gyro)):
            folder = root / "phone" / sensor
            folder.mkdir(parents=True, exist_ok=True)
            stamps = 252207666810782 + np.arange(len(take)) * 50_000_000
            lines = [f"{subject},{letters[codes[i]]},{t},{v[0]:.8g},{v[1]:.8g},{v[2]:.8g};"
                     for i, t, v in zip(take, stamps, values[take], strict=True)]
            (folder / f"data_{subject}_{sensor}_phone.txt").write_text("\n".join(lines) + "\n")


def test_wisdm_2019_raw_files(tmp_path, hapt):
    root = tmp_path / "wisdm-dataset" / "raw"
    _write_wisdm(hapt, root)
    # acc and gyro in separate files: the gyroscope's get a gyro key
    both = scaffold_definition(root / "phone", tmp_path / "w.yaml")
    assert both.problems == []
    assert yaml.safe_load(both.text)["gyro"] == {
        "files": "wisdm-dataset/raw/phone/gyro/*.txt",
        "file_pattern": r"data_(?P<subject>\d+)_gyro_phone\.txt",
        "columns": {"time": 2, "gyro_x": 3, "gyro_y": 4, "gyro_z": 5}}
    (tmp_path / "w.yaml").write_text(both.text)
    joined = load_custom(tmp_path / "w.yaml")  # (the same time stamps: no row left out)
    _, gyro, _ = _recording(hapt, "1", seconds=20)
    part = joined.frame[joined.frame["subject"] == "1600"]
    np.testing.assert_allclose(part["gyro_y"], gyro[np.arange(0, len(gyro), 2.5).astype(int), 1],
                               atol=1e-6)
    out = tmp_path / "wisdm.yaml"
    scaffold = write_scaffold(root / "phone" / "accel", out)
    data = yaml.safe_load(out.read_text())
    # the activity letters are no header; the ';' ending each line is no part of z
    assert data["csv"] == {"delimiter": ",", "header": False, "skip_rows": 0, "comment": ";"}
    assert data["columns"] == {"time": 2, "acc_x": 3, "acc_y": 4, "acc_z": 5, "label": 1}
    assert data["units"] == {"time": "ns", "acc": "m/s^2"} and data["sampling_rate_hz"] == 20
    assert data["classes"] == ["A", "D", "E"]
    assert "every line ends in ';'" in _guess(scaffold, "csv").reason
    loaded = load_custom(out)
    assert loaded.subjects == ["1600", "1601"]
    acc, _, _ = _recording(hapt, "1", seconds=20)
    part = loaded.frame[loaded.frame["subject"] == "1600"]
    np.testing.assert_allclose(part["acc_z"], acc[np.arange(0, len(acc), 2.5).astype(int), 2],
                               atol=1e-6)


def test_motionsense_device_motion_files(tmp_path, hapt):
    """``A_DeviceMotion_data/wlk_7/sub_1.csv``: an unnamed row index, attitude (rad), gravity
    (g), rotation rate (rad/s), user acceleration (g, gravity removed); 50 Hz, no time."""
    for trial, label in (("wlk_7", "WALKING"), ("sit_5", "SITTING"), ("std_6", "STANDING")):
        folder = tmp_path / "A_DeviceMotion_data" / trial
        folder.mkdir(parents=True)
        for subject in ("1", "2"):
            frame = hapt.select(subjects=[subject]).frame
            part = frame[frame["label"] == label].iloc[:500]
            acc = part[["acc_x", "acc_y", "acc_z"]].to_numpy()
            gravity = pd.DataFrame(acc).rolling(50, center=True, min_periods=1).mean().to_numpy()
            gravity = gravity / np.linalg.norm(gravity, axis=1, keepdims=True)
            table = pd.DataFrame({
                "attitude.roll": np.arctan2(gravity[:, 0], -gravity[:, 2]),
                "attitude.pitch": np.arcsin(-gravity[:, 1]),
                "attitude.yaw": np.cumsum(part["gyro_z"].to_numpy()) / 50,
                **{f"gravity.{a}": gravity[:, j] for j, a in enumerate("xyz")},
                **{f"rotationRate.{a}": part[f"gyro_{a}"].to_numpy() for a in "xyz"},
                **{f"userAcceleration.{a}": acc[:, j] - gravity[:, j]
                   for j, a in enumerate("xyz")},
            })
            table.to_csv(folder / f"sub_{subject}.csv")
    out = tmp_path / "ms.yaml"
    scaffold = write_scaffold(tmp_path / "A_DeviceMotion_data", out)
    data = yaml.safe_load(out.read_text())
    # the row index is not a 1000 Hz time column; attitude and gravity are no accelerometer;
    # the acceleration without gravity gets gravity back
    assert data["columns"] == {
        **{f"acc_{a}": f"userAcceleration.{a}" for a in "xyz"},
        **{f"gravity_{a}": f"gravity.{a}" for a in "xyz"},
        **{f"gyro_{a}": f"rotationRate.{a}" for a in "xyz"}}
    assert data["units"] == {"acc": "g", "gyro": "rad/s"}
    assert "gravity removed" in _guess(scaffold, "columns.acc_x").reason
    assert any("no time column" in p for p in scaffold.problems)
    # subject in the file name, activity in the folder's
    assert data["file_pattern"] == r"(?P<label>[A-Za-z][A-Za-z0-9]*)_\d+/sub_(?P<subject>\d+)\.csv"
    assert data["classes"] == ["sit", "std", "wlk"]
    out.write_text(out.read_text().replace("sampling_rate_hz: null", "sampling_rate_hz: 50"))
    loaded = load_custom(out)
    assert loaded.subjects == ["1", "2"] and len(loaded.sessions) == 6
    part = loaded.frame[(loaded.frame["subject"] == "1") & (loaded.frame["label"] == "wlk")]
    source = pd.read_csv(tmp_path / "A_DeviceMotion_data" / "wlk_7" / "sub_1.csv")
    np.testing.assert_allclose(part["acc_z"], source["userAcceleration.z"] + source["gravity.z"],
                               atol=1e-6)


def test_linear_acceleration_without_gravity_is_not_taken(tmp_path, hapt):
    """Android's linear acceleration has no gravity to add back: a problem saying what to do."""
    acc, gyro, _ = _recording(hapt, "1", seconds=5)
    folder = tmp_path / "linear"
    folder.mkdir()
    for subject in ("1", "2"):
        pd.DataFrame({"timestamp_ms": np.arange(len(acc)) * 20,
                      **{f"linear_acceleration_{a}": (acc[:, j] - acc[:, j].mean()) * 9.81
                         for j, a in enumerate("xyz")}}).to_csv(
            folder / f"s{subject}_walking.csv", index=False)
    scaffold = scaffold_definition(folder, tmp_path / "l.yaml")
    assert "acc_x" not in yaml.safe_load(scaffold.text)["columns"]
    problem = next(p for p in scaffold.problems if "gravity removed" in p)
    assert "checks: {units: false}" in problem and "total acceleration" in problem


def test_hhar_interleaved_devices(tmp_path, hapt):
    """``Phones_accelerometer.csv``: Index, Arrival_Time (ms), Creation_Time (ns), x y z (m/s^2),
    User, Model, Device, gt ('null' = no activity); the rows of several phones interleaved."""
    acc, _, codes = _recording(hapt, "1", seconds=10)
    names = {0: "null", 2: "sit", 3: "stand", 4: "walk"}
    rows = []
    for model, device, rate in (("nexus4", "nexus4_1", 200), ("s3", "s3_1", 150),
                                ("samsungold", "samsungold_1", 50)):
        t = np.arange(0, len(acc) / 50, 1 / rate)
        index = np.minimum((t * 50).astype(int), len(acc) - 1)
        for ti, i in zip(t, index, strict=True):
            arrival = 1424696633908 + 20 * int(np.ceil(ti * 50))  # delivered every 20 ms
            rows.append((arrival, 1424696631913248572 + int(ti * 1e9),
                         *(acc[i] * STANDARD_GRAVITY), "a", model, device, names[codes[i]]))
    table = pd.DataFrame(rows, columns=["Arrival_Time", "Creation_Time", "x", "y", "z", "User",
                                        "Model", "Device", "gt"])
    table = table.sort_values("Arrival_Time", kind="stable").reset_index(drop=True)
    folder = tmp_path / "hhar"
    folder.mkdir()
    table.to_csv(folder / "Phones_accelerometer.csv", index_label="Index")
    scaffold = scaffold_definition(folder, tmp_path / "hhar.yaml")
    data = yaml.safe_load(scaffold.text)
    # not the row index; of the two time columns the one whose values repeat less
    assert data["columns"]["time"] == "Creation_Time"
    assert "increases most often" in _guess(scaffold, "columns.time").reason
    assert data["columns"]["label"] == "gt" and data["columns"]["subject"] == "User"
    assert data["columns"]["session"] == "Device"  # three phones are never one stream
    assert "interleaved" in _guess(scaffold, "columns.session").reason
    assert any("devices of column 'Device' record at different rates" in p
               for p in scaffold.problems)


def test_hapt_raw_files_sensor_word_is_no_label(tmp_path, hapt):
    """HAPT's ``RawData/acc_exp01_user01.txt``: the sensor's name in every file is no class;
    with the ``gyro_`` files beside them, a gyro key that needs a time column (they have
    none: a problem to fix)."""
    folder = tmp_path / "RawData"
    folder.mkdir()
    for exp, user in ((1, 1), (3, 2)):
        acc, gyro, _ = _recording(hapt, str(user), seconds=5)
        np.savetxt(folder / f"acc_exp{exp:02d}_user{user:02d}.txt", acc, fmt="%.7e")
    data = yaml.safe_load(scaffold_definition(folder, tmp_path / "a.yaml").text)
    assert data["file_pattern"] == r"acc_exp(?P<session>\d+)_user(?P<subject>\d+)\.txt"
    assert "classes" not in data and data["units"] == {"acc": "g"}
    np.savetxt(folder / "gyro_exp01_user01.txt", gyro, fmt="%.7e")
    np.savetxt(folder / "gyro_exp03_user02.txt", gyro, fmt="%.7e")
    scaffold = scaffold_definition(folder, tmp_path / "b.yaml")
    data = yaml.safe_load(scaffold.text)
    assert data["files"] == "RawData/*acc*.txt" and data["gyro"]["files"] == "RawData/*gyro*.txt"
    assert data["gyro"]["file_pattern"] == r"gyro_exp(?P<session>\d+)_user(?P<subject>\d+)\.txt"
    assert any("need a time column" in p for p in scaffold.problems)
    (folder / "gyro_exp03_user02.txt").unlink()  # acc files without a gyroscope's: refused
    (folder / "gyro_exp01_user01.txt").rename(folder / "magnetometer_exp01_user01.txt")
    with pytest.raises(ConfigError, match="one sensor each .* but not an accelerometer and a "
                       "gyroscope"):
        scaffold_definition(folder, tmp_path / "c.yaml")


def test_trailing_delimiter_keeps_the_header(tmp_path, hapt):
    """Loggers that end every data line with the delimiter (``0.02,0.98,0.11,0.03,``)."""
    acc, _, _ = _recording(hapt, "1", seconds=5)
    folder = tmp_path / "trailing"
    folder.mkdir()
    for subject in ("1", "2"):
        (folder / f"s{subject}_walking.csv").write_text("time_s,ax,ay,az\n" + "".join(
            f"{i * 0.02:.2f},{x:.5f},{y:.5f},{z:.5f},\n" for i, (x, y, z) in enumerate(acc)))
    out = tmp_path / "t.yaml"
    scaffold = write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text())
    assert data["csv"] == {"delimiter": ",", "header": True, "skip_rows": 0}
    assert data["columns"] == {"time": "time_s", "acc_x": "ax", "acc_y": "ay", "acc_z": "az"}
    assert "ends in the delimiter" in _guess(scaffold, "csv").reason
    np.testing.assert_allclose(load_custom(out).frame["acc_x"].iloc[: len(acc)], acc[:, 0],
                               atol=1e-5)


def test_notes_and_logs_beside_the_recordings_are_left_out(tmp_path, hapt):
    """A ``README.txt`` and a ``run.log`` beside CSV recordings are not read as recordings;
    a folder of ``.dat`` files with a ``notes.txt`` keeps the ``.dat`` files."""
    acc, _, _ = _recording(hapt, "1", seconds=5)
    body = "time_s,ax,ay,az\n" + "".join(
        f"{i * 0.02:.2f},{x:.5f},{y:.5f},{z:.5f}\n" for i, (x, y, z) in enumerate(acc))
    folder = tmp_path / "csvs"
    folder.mkdir()
    for subject in ("1", "2"):
        (folder / f"s{subject}_walking.csv").write_text(body)
    (folder / "README.txt").write_text("Recorded in the lab, December 2026.\n")
    (folder / "run.log").write_text("INFO started\nINFO stopped\n")
    scaffold = write_scaffold(folder, tmp_path / "c.yaml")
    files = _guess(scaffold, "files")
    assert files.value.endswith("*.csv") and "2 file(s) of another format left out" in files.reason
    assert sorted(set(load_custom(tmp_path / "c.yaml").frame["subject"])) == ["1", "2"]
    dat = tmp_path / "dats"
    dat.mkdir()
    for subject in ("1", "2", "3"):
        (dat / f"s{subject}_walking.dat").write_text(body.replace(",", " "))
    (dat / "notes.txt").write_text("three subjects\n")
    scaffold = write_scaffold(dat, tmp_path / "d.yaml")
    assert _guess(scaffold, "files").value.endswith("*.dat")


def test_empty_last_column_is_a_column(tmp_path, hapt):
    """CAPTURE-24's ``time,x,y,z,annotation`` with unannotated rows (``...,-0.98,``): every
    line ends in the delimiter, but the header names that last column: header and label kept."""
    acc, _, _ = _recording(hapt, "1", seconds=5)
    folder = tmp_path / "capture24"
    folder.mkdir()
    for subject in ("P001", "P002"):
        (folder / f"{subject}.csv").write_text("time,x,y,z,annotation\n" + "".join(
            f"2016-11-13 02:18:{i * 0.02:09.6f},{x:.5f},{y:.5f},{z:.5f},\n"
            for i, (x, y, z) in enumerate(acc[:2500])))
    out = tmp_path / "c.yaml"
    write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text())
    assert data["csv"] == {"delimiter": ",", "header": True, "skip_rows": 0}
    assert data["columns"] == {"time": "time", "acc_x": "x", "acc_y": "y", "acc_z": "z",
                               "label": "annotation"}
    assert data["units"]["time"] == "datetime" and data["sampling_rate_hz"] == 50


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_decimal_comma_spreadsheet_export(tmp_path, hapt, delimiter):
    """A spreadsheet's CSV export in a European locale: ``0,02;0,93;0,17;0,38`` (the decimal
    comma is no delimiter): delimiter, decimal comma, header and values read right."""
    acc, _, _ = _recording(hapt, "1", seconds=5)
    folder = tmp_path / "excel"
    folder.mkdir()
    for subject in ("1", "2"):
        frame = pd.DataFrame({"Zeit (s)": np.arange(len(acc)) * 0.02, "ax": acc[:, 0],
                              "ay": acc[:, 1], "az": acc[:, 2]})
        frame.to_csv(folder / f"p{subject}_walking.csv", sep=delimiter, decimal=",",
                     index=False)
    out = tmp_path / "e.yaml"
    write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text())
    assert data["csv"] == {"delimiter": delimiter, "header": True, "skip_rows": 0,
                           "decimal": ","}
    assert data["columns"] == {"time": "Zeit (s)", "acc_x": "ax", "acc_y": "ay", "acc_z": "az"}
    assert data["sampling_rate_hz"] == 50
    np.testing.assert_allclose(load_custom(out).frame["acc_x"].iloc[: len(acc)], acc[:, 0],
                               atol=1e-6)


def test_windows_encoded_header(tmp_path, hapt):
    """A header written in Windows' cp1252 (``Beschl. x (m/s²)``) is no UTF-8: init says so,
    writes ``encoding: cp1252``, and the definition reads the files."""
    acc, _, _ = _recording(hapt, "1", seconds=5)
    folder = tmp_path / "win"
    folder.mkdir()
    for subject in ("1", "2"):
        frame = pd.DataFrame({"Zeit": np.arange(len(acc)) * 0.02,
                              **{f"Beschl. {a} (m/s²)": acc[:, j] * STANDARD_GRAVITY
                                 for j, a in enumerate("xyz")}})
        frame.to_csv(folder / f"p{subject}_walking.csv", index=False, encoding="cp1252")
    out = tmp_path / "w.yaml"
    scaffold = write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["csv"]["encoding"] == "cp1252" and "not UTF-8" in _guess(scaffold, "csv").reason
    assert data["columns"]["acc_x"] == "Beschl. x (m/s²)" and data["units"]["acc"] == "m/s^2"
    np.testing.assert_allclose(load_custom(out).frame["acc_x"].iloc[: len(acc)], acc[:, 0],
                               atol=1e-6)
