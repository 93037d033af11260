"""`tinyhar datasets init` / `check`: definitions guessed from folders of files, on real data."""

from __future__ import annotations

import glob
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import write_segment_csvs
from tinyhar.cli import app
from tinyhar.config import FeatureConfig
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.custom import DatasetDefinition, load_custom
from tinyhar.datasets.scaffold import check_definition, scaffold_definition, write_scaffold
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.errors import ConfigError, DataFormatError

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "my_data.yaml"
HAPT_CLASSES = ["laying", "sitting", "standing", "walking", "walking_downstairs",
                "walking_upstairs"]


@pytest.fixture(scope="module")
def hapt():
    return load_bundled_hapt()


def _guess(scaffold, key):
    return next(g for g in scaffold.guesses if g.key == key)


def _one_segment(hapt, subject="1", label="WALKING", seconds=20.0):
    """The first ``seconds`` of ``label`` of ``subject``: (n, 3) g and (n, 3) rad/s."""
    frame = hapt.select(subjects=[subject]).frame
    part = frame[frame["label"] == label].iloc[: int(seconds * 50)]
    return (part[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64),
            part[["gyro_x", "gyro_y", "gyro_z"]].to_numpy(np.float64))


def test_init_on_per_recording_csvs_trains_without_edits(tmp_path, hapt):
    """The issue's "done when": files as an app writes them -> init -> train, no edits."""
    subjects = [str(s) for s in range(1, 9)]
    files = write_segment_csvs(hapt.select(subjects=subjects), tmp_path / "mydata" / "csv")
    definition = tmp_path / "mydata" / "data.yaml"
    result = runner.invoke(app, ["datasets", "init", str(tmp_path / "mydata" / "csv"),
                                 "--out", str(definition)])
    assert result.exit_code == 0, result.output
    assert "sampling_rate_hz" in result.output and "high" in result.output
    data = yaml.safe_load(definition.read_text(encoding="utf-8"))
    assert data["sampling_rate_hz"] == 50
    assert data["units"] == {"time": "ms", "acc": "m/s^2", "gyro": "deg/s"}
    assert data["columns"] == {"time": "timestamp_ms", "acc_x": "ax", "acc_y": "ay",
                               "acc_z": "az", "gyro_x": "gx", "gyro_y": "gy", "gyro_z": "gz"}
    assert data["classes"] == HAPT_CLASSES
    assert data["files"] == "csv/*.csv"

    loaded = load_custom(definition)
    assert loaded.sampling_rate_hz == 50.0
    assert loaded.subjects == [f"{int(s):02d}" for s in subjects]
    assert loaded.classes == HAPT_CLASSES
    assert len(loaded.sessions) == len(files)  # one session per file
    # values back in g and rad/s: within the CSV rounding (1e-4 m/s^2, 1e-3 deg/s)
    first = pd.read_csv(files[0])
    segment = loaded.frame[loaded.frame["session"] == f"csv/{files[0].stem}"]
    np.testing.assert_allclose(segment["acc_x"], first["ax"] / STANDARD_GRAVITY, rtol=1e-6)
    label = files[0].stem.split("_", 1)[1].rsplit("_", 1)[0].upper()
    source = hapt.select(subjects=["1"]).frame
    source = source[source["session"] == source["session"].iloc[0]]
    start = int(np.flatnonzero((source["label"] == label).fillna(False).to_numpy(bool))[0])
    source = source.iloc[start:start + len(segment)]
    for sensor, atol in (("acc", 0.5e-4 / STANDARD_GRAVITY), ("gyro", np.radians(0.5e-3))):
        cols = [f"{sensor}_{a}" for a in "xyz"]
        np.testing.assert_allclose(segment[cols].to_numpy(np.float64),
                                   source[cols].to_numpy(np.float64), atol=atol + 1e-6)

    check = runner.invoke(app, ["datasets", "check", str(definition)])
    assert check.exit_code == 0, check.output
    assert "8 subject(s)" in check.output and "OK" in check.output

    out = tmp_path / "runs" / "mine"
    result = runner.invoke(app, ["train", "--dataset", str(definition), "--out", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    # held-out subjects only; chance is 1/6. Measured 0.81 (2 test subjects, 10 trees)
    assert metrics["macro_f1"] >= 0.6
    assert set(metrics["test_subjects"]).isdisjoint(metrics["train_subjects"])


@pytest.mark.parametrize(
    ("acc_unit", "scale", "expected"),
    [("g", 1.0, "g"), ("m/s^2", STANDARD_GRAVITY, "m/s^2"), ("mg", 1000.0, "mg")],
)
@pytest.mark.parametrize(("gyro_unit", "gyro_scale"), [("rad/s", 1.0), ("deg/s", 180 / np.pi)])
def test_units_guessed_by_plausibility(tmp_path, hapt, acc_unit, scale, expected, gyro_unit,
                                       gyro_scale):
    """Column names without units: the checks of datasets.checks pick the unit."""
    folder = tmp_path / "rec"
    folder.mkdir()
    for subject in ("1", "2"):
        acc, gyro = _one_segment(hapt, subject)
        n = len(acc)
        pd.DataFrame({
            "time": np.arange(n) / 50.0,
            "x": acc[:, 0] * scale, "y": acc[:, 1] * scale, "z": acc[:, 2] * scale,
            "gyr_x": gyro[:, 0] * gyro_scale, "gyr_y": gyro[:, 1] * gyro_scale,
            "gyr_z": gyro[:, 2] * gyro_scale, "activity": "walking", "person": f"p{subject}",
        }).to_csv(folder / f"rec{subject}.csv", index=False)
    scaffold = scaffold_definition(folder, tmp_path / "d.yaml")
    assert _guess(scaffold, "units.acc").value == expected
    assert _guess(scaffold, "units.gyro").value == gyro_unit
    assert _guess(scaffold, "units.time").value == "s"
    assert _guess(scaffold, "sampling_rate_hz").value == 50.0
    assert _guess(scaffold, "columns.label").value == "activity"
    assert _guess(scaffold, "columns.subject").value == "person"
    assert scaffold.problems == []
    data = yaml.safe_load(scaffold.text)
    assert data["columns"]["acc_x"] == "x" and data["columns"]["gyro_z"] == "gyr_z"
    assert data["classes"] == ["walking"]


def test_raw_counts_and_microseconds(tmp_path, hapt):
    """Integer counts of a +-8 g, 16-bit accelerometer; time stamps in microseconds."""
    folder = tmp_path / "rec"
    folder.mkdir()
    for subject in ("1", "2"):
        acc, _ = _one_segment(hapt, subject)
        counts = np.round(acc * 4096).astype(np.int64)  # 32768 / 8 counts per g
        pd.DataFrame({
            "t": 5_000_000 + np.arange(len(acc)) * 20_000,
            "acc_x": counts[:, 0], "acc_y": counts[:, 1], "acc_z": counts[:, 2],
        }).to_csv(folder / f"user{subject}_walking.csv", index=False)
    out = tmp_path / "d.yaml"
    scaffold = write_scaffold(folder, out)
    assert _guess(scaffold, "units.time").value == "us"
    assert _guess(scaffold, "units.acc").value == {"full_scale": 8, "bits": 16, "unit": "g"}
    loaded = load_custom(out)
    assert loaded.subjects == ["1", "2"] and loaded.classes == ["walking"]
    acc, _ = _one_segment(hapt, "1")
    np.testing.assert_allclose(loaded.frame["acc_x"].to_numpy()[: len(acc)], acc[:, 0],
                               atol=0.5 / 4096 + 1e-12)


def test_npy_and_headerless_columns_by_content(tmp_path, hapt):
    """No column names: time is the increasing column, acc the triple showing gravity."""
    folder = tmp_path / "npy"
    folder.mkdir()
    for subject in ("3", "4"):
        for label in ("walking", "sitting"):
            acc, gyro = _one_segment(hapt, subject, label.upper())
            t = np.arange(len(acc)) * 0.02
            np.save(folder / f"s{subject}-{label}-trial1.npy",
                    np.column_stack([t, acc, gyro]).astype(np.float64))
    out = tmp_path / "d.yaml"
    scaffold = write_scaffold(folder, out)
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["columns"] == {"time": 0, "acc_x": 1, "acc_y": 2, "acc_z": 3,
                               "gyro_x": 4, "gyro_y": 5, "gyro_z": 6}
    assert data["units"] == {"time": "s", "acc": "g", "gyro": "rad/s"}
    assert _guess(scaffold, "columns.acc_x").confidence == "medium"
    loaded = load_custom(out)
    assert loaded.subjects == ["3", "4"] and loaded.classes == ["sitting", "walking"]
    assert len(loaded.sessions) == 4

    semi = tmp_path / "semi"
    semi.mkdir()
    acc, gyro = _one_segment(hapt, "5")
    rows = np.column_stack([np.arange(len(acc)) * 20, acc * STANDARD_GRAVITY])
    for subject in ("5", "6"):
        text = "# logger v1.2\n# exported 2024-01-01\n" + "\n".join(
            ";".join(f"{v:.5f}" for v in row) for row in rows) + "\n"
        (semi / f"subject{subject}_walking.txt").write_text(text)
    out = tmp_path / "semi.yaml"
    scaffold = write_scaffold(semi, out)
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["csv"] == {"delimiter": ";", "header": False, "skip_rows": 2}
    assert data["columns"] == {"time": 0, "acc_x": 1, "acc_y": 2, "acc_z": 3}
    assert data["units"] == {"time": "ms", "acc": "m/s^2"}
    assert load_custom(out).subjects == ["5", "6"]


def test_datetime_time_column_and_no_time_column(tmp_path, hapt):
    acc, _ = _one_segment(hapt, "1")
    stamps = pd.date_range("2024-05-01 10:00", periods=len(acc), freq="40ms")
    folder = tmp_path / "dt"
    folder.mkdir()
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S.%f"), "accX": acc[:, 0],
                  "accY": acc[:, 1], "accZ": acc[:, 2]}).to_csv(folder / "s1_walk.csv",
                                                                 index=False)
    out = tmp_path / "d.yaml"
    scaffold = write_scaffold(folder, out)
    assert _guess(scaffold, "sampling_rate_hz").value == 25.0
    assert _guess(scaffold, "units.time").value == "datetime"  # ISO 8601: the loader reads it
    assert yaml.safe_load(scaffold.text)["columns"]["time"] == "timestamp"
    np.testing.assert_allclose(np.diff(load_custom(out).frame["time"]), 0.04, atol=1e-6)
    # other date-time text: the rate from it, time from the rate
    (folder / "s1_walk.csv").write_text((folder / "s1_walk.csv").read_text().replace(
        "2024-05-01 ", "01/05/2024 "))
    scaffold = scaffold_definition(folder, tmp_path / "d2.yaml")
    assert _guess(scaffold, "sampling_rate_hz").value == 25.0
    assert "time" not in yaml.safe_load(scaffold.text)["columns"]

    bare = tmp_path / "bare"
    bare.mkdir()
    pd.DataFrame(acc, columns=["ax", "ay", "az"]).to_csv(bare / "s1_walk.csv", index=False)
    out = tmp_path / "bare.yaml"
    scaffold = write_scaffold(bare, out)
    assert any("sampling_rate_hz" in p for p in scaffold.problems)
    assert "sampling_rate_hz: null" in out.read_text()
    with pytest.raises(ConfigError, match="sampling_rate_hz"):
        check_definition(out)


def test_init_refuses_to_overwrite_and_names_bad_folders(tmp_path, hapt):
    folder = tmp_path / "rec"
    write_segment_csvs(hapt.select(subjects=["1", "2"]), folder, labels=["WALKING"],
                       max_seconds=5, max_takes=1)
    out = tmp_path / "d.yaml"
    out.write_text("# my edits\n")
    result = runner.invoke(app, ["datasets", "init", str(folder), "--out", str(out)])
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert out.read_text() == "# my edits\n"
    result = runner.invoke(app, ["datasets", "init", str(folder), "--out", str(out),
                                 "--overwrite"])
    assert result.exit_code == 0, result.output
    assert DatasetDefinition.from_yaml(out).sampling_rate_hz == 50
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no data files"):
        scaffold_definition(empty, tmp_path / "e.yaml")
    with pytest.raises(ConfigError, match="not a folder"):
        scaffold_definition(tmp_path / "missing", tmp_path / "e.yaml")
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(folder / "zz_other.csv",
                                                            index=False)
    with pytest.raises(DataFormatError, match="zz_other.csv.*differ"):
        scaffold_definition(folder, tmp_path / "e.yaml")


def test_check_summarises_the_shipped_example():
    info = check_definition(EXAMPLE)
    assert info["name"] == "my-data"
    assert info["subjects"] == ["01", "02"]
    assert info["classes"] == ["walking", "sitting"]
    rows = {c: sum(len(pd.read_csv(f)) for f in EXAMPLE.parent.glob(f"my_data/*_{c}_*.csv"))
            for c in ("walking", "sitting")}
    assert rows["sitting"] == 2 * 600  # 12 s at 50 Hz from each subject
    assert info["minutes_per_class"] == pytest.approx({c: n / 50 / 60 for c, n in rows.items()})
    assert info["subjects_per_class"] == {"walking": 2, "sitting": 2}
    assert info["warnings"] == []


@pytest.mark.parametrize("folder", ["my data [v2]", pytest.param("mes données*?", marks=(
    pytest.mark.skipif(sys.getfilesystemencoding() != "utf-8",
                       reason="a non-ASCII file name needs a UTF-8 file system encoding")))])
def test_init_escapes_glob_characters_of_the_folder_name(tmp_path, folder):
    """A folder named with glob characters ([ ] * ?), spaces or non-ASCII letters: the
    written ``files`` pattern matches its files (``[`` written as ``[[]``), and check reads
    them all."""
    shutil.copytree(REPO / "examples" / "my_data", tmp_path / folder)
    result = runner.invoke(app, ["datasets", "init", str(tmp_path / folder),
                                 "--out", str(tmp_path / "d.yaml")])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((tmp_path / "d.yaml").read_text(encoding="utf-8"))["files"] == (
        glob.escape(folder) + "/*.csv")
    info = check_definition(tmp_path / "d.yaml")
    assert info["subjects"] == ["01", "02"] and info["n_sessions"] == 4


def test_shipped_example_is_hapt_and_init_reproduces_it(tmp_path, hapt):
    """examples/my_data holds bundled HAPT pieces; init on it gives the shipped definition."""
    again = write_segment_csvs(
        hapt.select(subjects=["1", "2"]), tmp_path / "again", labels=["WALKING", "SITTING"],
        max_seconds=12, max_takes=1, name="subject{subject:0>2}_{label}_take{n}.csv")
    shipped = sorted((REPO / "examples" / "my_data").glob("*.csv"))
    assert [p.name for p in shipped] == sorted(p.name for p in again)
    for path in again:
        assert path.read_bytes() == (REPO / "examples" / "my_data" / path.name).read_bytes()
    guessed = yaml.safe_load(scaffold_definition(REPO / "examples" / "my_data",
                                                 tmp_path / "d.yaml").text)
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    for key in ("sampling_rate_hz", "columns", "units"):
        assert guessed[key] == example[key], key
    assert sorted(guessed["classes"]) == sorted(example["classes"])


def test_check_warns_about_classes_from_one_subject(tmp_path, hapt):
    folder = tmp_path / "rec"
    write_segment_csvs(hapt.select(subjects=["1", "2"]), folder, labels=["WALKING"],
                       max_seconds=6, max_takes=1)
    write_segment_csvs(hapt.select(subjects=["3"]), folder, labels=["LAYING"],
                       max_seconds=6, max_takes=1)
    out = tmp_path / "d.yaml"
    write_scaffold(folder, out)
    info = check_definition(out)
    assert info["subjects_per_class"] == {"laying": 1, "walking": 2}
    assert any("['laying']" in w and "fewer than 2 subjects" in w for w in info["warnings"])
    result = runner.invoke(app, ["datasets", "check", str(out)])
    assert result.exit_code == 0 and "warning" in result.output


def test_datasets_command_forms():
    listing = runner.invoke(app, ["datasets"])
    assert listing.exit_code == 0 and "hapt" in listing.output
    assert runner.invoke(app, ["datasets", "list"]).output == listing.output
    described = runner.invoke(app, ["datasets", "hapt"])
    assert described.exit_code == 0 and "30 subjects" in described.output
    assert runner.invoke(app, ["datasets", "describe", "hapt"]).output == described.output
    mine = runner.invoke(app, ["datasets", str(EXAMPLE)])
    assert mine.exit_code == 0 and "2 subjects" in mine.output
    helped = runner.invoke(app, ["datasets", "--help"])
    assert helped.exit_code == 0
    for text in ("init", "check", "README", "examples/my_data.yaml"):
        assert text in helped.output
    unknown = runner.invoke(app, ["datasets", "no-such-set"])
    assert unknown.exit_code == 2 and "error" in unknown.output


def test_low_rate_messages_name_config_keys_that_exist():
    """A 10 Hz data set: the advice names keys of the training configuration that exist."""
    from tinyhar.features.catalog import feature_layout
    from tinyhar.features.filters import gravity_sos

    with pytest.raises(ConfigError) as spectral:
        feature_layout(["acc_x", "acc_y", "acc_z"], "default", 10.0)
    with pytest.raises(ConfigError) as gravity:
        gravity_sos(0.5, 0.3)
    for exc in (spectral, gravity):
        message = str(exc.value)
        keys = [k for k in ("features.set", "features.gravity_cutoff_hz", "features.bands_hz")
                if k in message]
        assert keys, message
        for key in keys:
            assert key.split(".")[1] in FeatureConfig.model_fields
        assert "feature_set:" not in message
    assert "features.bands_hz, e.g. [[0, 1.25], [1.25, 2.5], [2.5, 5]]" in str(spectral.value)


@pytest.mark.parametrize(
    ("columns", "expected", "hints"),
    [
        # phyphox "Acceleration with g" and "Gyroscope" exports (headers as the app writes them)
        (["Time (s)", "Acceleration x (m/s^2)", "Acceleration y (m/s^2)",
          "Acceleration z (m/s^2)", "Absolute acceleration (m/s^2)"],
         {"time": "Time (s)", "acc_x": "Acceleration x (m/s^2)",
          "acc_y": "Acceleration y (m/s^2)", "acc_z": "Acceleration z (m/s^2)"},
         {"time": "s", "acc": "m/s^2"}),
        (["Time (s)", "Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)"],
         {"time": "Time (s)", "gyro_x": "Gyroscope x (rad/s)", "gyro_y": "Gyroscope y (rad/s)",
          "gyro_z": "Gyroscope z (rad/s)"}, {"time": "s", "gyro": "rad/s"}),
        # Sensor Logger: epoch time in ns, axes named x y z, z first
        (["time", "seconds_elapsed", "z", "y", "x"],
         {"time": "time", "acc_x": "x", "acc_y": "y", "acc_z": "z"}, {}),
        (["timestamp", "accX", "accY", "accZ", "gyroX", "gyroY", "gyroZ", "activity", "userId"],
         {"time": "timestamp", "acc_x": "accX", "acc_y": "accY", "acc_z": "accZ",
          "gyro_x": "gyroX", "gyro_y": "gyroY", "gyro_z": "gyroZ", "label": "activity",
          "subject": "userId"}, {}),
        (["t_us", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps", "trial"],
         {"time": "t_us", "acc_x": "ax_g", "acc_y": "ay_g", "acc_z": "az_g", "gyro_x": "gx_dps",
          "gyro_y": "gy_dps", "gyro_z": "gz_dps", "session": "trial"},
         {"time": "us", "acc": "g", "gyro": "deg/s"}),
    ],
)
def test_columns_by_name(columns, expected, hints):
    from tinyhar.datasets.scaffold import _by_name

    found, found_hints, _ = _by_name(columns)
    assert found == expected
    assert found_hints == hints


def test_a_10_hz_data_set_gets_advice_that_works(tmp_path, hapt):
    """The issue's 10 Hz data set: init measures 10 Hz, the advice names real keys and works."""
    from tinyhar.datasets.recording import RecordingSet

    part = hapt.select(subjects=["1", "2", "3", "4", "5"])
    frame = part.frame.groupby("session", sort=False).nth(slice(None, None, 5))  # 50 -> 10 Hz
    slow = RecordingSet(frame.reset_index(drop=True), 10.0, part.classes, name="slow")
    write_segment_csvs(slow, tmp_path / "slow", labels=["WALKING", "SITTING", "LAYING"])
    definition = tmp_path / "slow.yaml"
    write_scaffold(tmp_path / "slow", definition)
    assert yaml.safe_load(definition.read_text(encoding="utf-8"))["sampling_rate_hz"] == 10
    result = runner.invoke(app, ["train", "--dataset", str(definition),
                                 "--out", str(tmp_path / "r1")])
    assert result.exit_code == 2
    assert "features.set: minimal" in " ".join(result.output.split())
    config = tmp_path / "minimal.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"name": str(definition)},
                                      "features": {"set": "minimal"}}), encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "r2")])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("names", "pattern", "subjects", "labels"),
    [
        (["alice_walking_1.csv", "bob_sitting_2.csv", "alice_sitting_1.csv"],
         r"(?P<subject>[A-Za-z][A-Za-z0-9]*)_(?P<label>[A-Za-z][A-Za-z0-9]*)_\d+\.csv",
         {"alice", "bob"}, {"walking", "sitting"}),
        (["Jump-P3.csv", "Squat-P12.csv"],
         r"(?P<label>[A-Za-z][A-Za-z0-9]*)\-P(?P<subject>\d+)\.csv",
         {"3", "12"}, {"Jump", "Squat"}),
        (["user1_exp2_walk_upstairs.csv", "user2_exp1_sit.csv"],
         r"user(?P<subject>\d+)_exp\d+_(?P<label>.+?)\.csv", {"1", "2"}, {"walk_upstairs", "sit"}),
    ],
)
def test_subject_and_label_from_file_names(tmp_path, names, pattern, subjects, labels):
    from tinyhar.datasets.scaffold import _name_pattern

    files = [tmp_path / n for n in names]
    found, sure, _ = _name_pattern(files, {"subject", "session", "label"})
    assert found == pattern
    matches = [re.fullmatch(found, n) for n in names]
    assert {m.group("subject") for m in matches} == subjects
    assert {m.group("label") for m in matches} == labels


def test_too_short_files_ask_for_the_sampling_rate(tmp_path):
    """Two samples per file give no rate to measure: a problem to fix, not a crash."""
    (tmp_path / "a.csv").write_text("t,ax,ay,az\n0,0,0,1\n0.02,0,0,1\n")
    draft = scaffold_definition(tmp_path, tmp_path / "d.yaml")
    assert any("too few increasing time stamps" in p and "sampling_rate_hz" in p
               for p in draft.problems)
