"""Import of phone-app exports (phyphox, Sensor Logger, generic CSV) into a recordings folder.

The exports are written here in the apps' documented CSV formats from real
bundled HAPT samples (acceleration in g with gravity, angular rate in rad/s,
50 Hz) converted to the apps' units (m/s^2 = g * 9.80665) and column order;
the round trip must give the HAPT values back within the CSV rounding.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.phone import (
    DEFINITION_FILE,
    STANDARD_GRAVITY,
    import_recording,
    nearest_common_rate,
)
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS, RecordingSet
from tinyhar.errors import ConfigError, DataFormatError

G = STANDARD_GRAVITY
REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def hapt():
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt().select(subjects=["1", "2"])


def segment(hapt, subject: str, label: str, n: int = 750) -> pd.DataFrame:
    """``n`` contiguous samples of one labelled activity of one HAPT subject."""
    f = hapt.frame
    rows = f[(f["subject"] == subject) & (f["label"] == label)]
    idx = rows.index.to_numpy()
    runs = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
    longest = max(runs, key=len)  # the longest contiguous run of the activity
    assert len(longest) >= n, "the HAPT run is shorter than the segment"
    return f.loc[longest[0]:longest[0] + n - 1].reset_index(drop=True)


def write_phyphox(seg: pd.DataFrame, folder: Path, sep: str = ",", linear: bool = False,
                  gyro: bool = True) -> Path:
    """phyphox CSV export: Accelerometer.csv (+ Gyroscope.csv), 'Time (s)' shared clock."""
    folder.mkdir(parents=True, exist_ok=True)
    t = seg["time"].to_numpy() - seg["time"].iloc[0]
    acc = seg[list(ACC_CHANNELS)].to_numpy(np.float64) * G
    name = "Linear Acceleration" if linear else "Acceleration"
    cols = ["Time (s)", *[f"{name} {a} (m/s^2)" for a in "xyz"], "Absolute acceleration (m/s^2)"]
    data = np.column_stack([t, acc, np.linalg.norm(acc, axis=1)])
    pd.DataFrame(data, columns=cols).to_csv(
        folder / ("Linear Accelerometer.csv" if linear else "Accelerometer.csv"),
        sep=sep, index=False, float_format="%.9E", decimal="," if sep == ";" else ".")
    if gyro:
        g = seg[list(GYRO_CHANNELS)].to_numpy(np.float64)
        cols = ["Time (s)", *[f"Gyroscope {a} (rad/s)" for a in "xyz"], "Absolute (rad/s)"]
        pd.DataFrame(np.column_stack([t, g, np.linalg.norm(g, axis=1)]), columns=cols).to_csv(
            folder / "Gyroscope.csv", sep=sep, index=False, float_format="%.9E",
            decimal="," if sep == ";" else ".")
    return folder


def write_sensor_logger(seg: pd.DataFrame, folder: Path, total: bool = True,
                        gravity: bool = True, gyro_rate: float = 100.0,
                        platform: str = "android") -> Path:
    """Sensor Logger CSV export: time (ns), seconds_elapsed, z, y, x; gyro at another rate.

    With ``total`` the acceleration is TotalAcceleration.csv (with gravity); else
    Accelerometer.csv holds it minus the gravity vector (a 1 s moving average) and
    Gravity.csv the gravity vector, as on iOS.
    """
    folder.mkdir(parents=True, exist_ok=True)
    t = seg["time"].to_numpy() - seg["time"].iloc[0] + 0.013
    epoch_ns = 1_700_000_000_000_000_000

    def write(name: str, times: np.ndarray, xyz: np.ndarray) -> None:
        pd.DataFrame({
            "time": epoch_ns + np.round(times * 1e9).astype(np.int64),
            "seconds_elapsed": times,
            "z": xyz[:, 2], "y": xyz[:, 1], "x": xyz[:, 0],
        }).to_csv(folder / name, index=False, float_format="%.10g")

    acc = seg[list(ACC_CHANNELS)].to_numpy(np.float64) * G
    if total:
        write("TotalAcceleration.csv", t, acc)
    grav = pd.DataFrame(acc).rolling(50, center=True, min_periods=1).mean().to_numpy()
    write("Accelerometer.csv", t, acc - grav)
    if gravity:
        write("Gravity.csv", t, grav)
    # the gyroscope runs at its own rate: linear interpolation of the HAPT signal
    tg = np.arange(t[0], t[-1], 1.0 / gyro_rate)
    g = seg[list(GYRO_CHANNELS)].to_numpy(np.float64)
    write("Gyroscope.csv", tg, np.stack([np.interp(tg, t, g[:, j]) for j in range(3)], 1))
    (folder / "Metadata.csv").write_text("version,device name,recording time,platform\n"
                                         f"3,phone,2024-01-01_10-00-00,{platform}\n")
    return folder


def zipped(folder: Path) -> Path:
    out = folder.with_suffix(".zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    return out


def stored(path: Path) -> pd.DataFrame:
    return RecordingSet.from_parquet(path).frame


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_phyphox_round_trip(hapt, tmp_path, sep):
    seg = segment(hapt, "1", "WALKING")
    export = zipped(write_phyphox(seg, tmp_path / "walk1", sep=sep))
    res = import_recording(export, tmp_path / "mydata", subject="1", label="WALKING")
    assert res.app == "phyphox" and res.sampling_rate_hz == 50.0
    assert all(abs(r - 50.0) < 1e-6 for r in res.measured_hz.values())
    frame = stored(res.path)
    assert len(frame) == len(seg)
    np.testing.assert_allclose(frame[list(ACC_CHANNELS)], seg[list(ACC_CHANNELS)], atol=1e-6)
    np.testing.assert_allclose(frame[list(GYRO_CHANNELS)], seg[list(GYRO_CHANNELS)], atol=1e-6)
    np.testing.assert_allclose(np.diff(frame["time"]), 0.02, atol=1e-9)
    assert set(frame["label"]) == {"WALKING"} and set(frame["subject"]) == {"1"}
    definition = yaml.safe_load((tmp_path / "mydata" / DEFINITION_FILE).read_text(encoding="utf-8"))
    assert definition["sampling_rate_hz"] == 50.0 and definition["classes"] == ["WALKING"]
    assert definition["units"] == {"time": "s", "acc": "g", "gyro": "rad/s"}
    assert RecordingSet.from_parquet(res.path).origins is None  # phyphox: no clock time


@pytest.mark.parametrize("total", [True, False], ids=["with-gravity", "gravity-added"])
def test_sensor_logger_round_trip(hapt, tmp_path, total):
    seg = segment(hapt, "2", "SITTING")
    # iOS writes Accelerometer.csv (without gravity) and Gravity.csv only
    export = zipped(write_sensor_logger(seg, tmp_path / "sit2", total=total,
                                        platform="android" if total else "ios"))
    if total:
        res = import_recording(export, tmp_path / "mydata", subject="2", label="SITTING")
    else:
        with pytest.warns(UserWarning, match="recorded on iOS.*Standardise Units & Frames"):
            res = import_recording(export, tmp_path / "mydata", subject="2", label="SITTING")
    assert res.app == "sensor-logger" and res.gravity_added is (not total)
    # acc at 50 Hz, gyro at 100 Hz: the slowest sensor's rate, one grid
    assert {round(r) for r in res.measured_hz.values()} == {50, 100}
    assert res.sampling_rate_hz == 50.0
    frame = stored(res.path)
    np.testing.assert_allclose(frame[list(ACC_CHANNELS)], seg[list(ACC_CHANNELS)], atol=1e-6)
    # the gyroscope grid is offset from HAPT's by < 1 interval; linear interpolation of a
    # linear interpolation agrees with HAPT wherever the grids coincide (every sample here)
    np.testing.assert_allclose(frame[list(GYRO_CHANNELS)], seg[list(GYRO_CHANNELS)][:len(frame)],
                               atol=1e-6)
    # Sensor Logger's time column (ns since the epoch) gives the session's clock time: the
    # grid starts at seconds_elapsed 0.013, 1.7e9 s + 0.013 s; kept through the definition
    expected = {"sit2": pytest.approx(1_700_000_000.013, abs=1e-6)}
    assert RecordingSet.from_parquet(res.path).origins == expected
    assert load_custom(res.definition).origins == expected


def test_phyphox_without_gyroscope(hapt, tmp_path):
    seg = segment(hapt, "1", "SITTING")
    res = import_recording(write_phyphox(seg, tmp_path / "sit", gyro=False), tmp_path / "d")
    frame = stored(res.path)
    assert "gyro_x" not in frame and frame["label"].isna().all()
    definition = yaml.safe_load(res.definition.read_text(encoding="utf-8"))
    assert "gyro_x" not in definition["columns"] and "classes" not in definition


def test_irregular_phone_clock_is_resampled(hapt, tmp_path):
    """A jittered ~48 Hz clock becomes a uniform 50 Hz grid; a linear signal is kept exactly."""
    rng = np.random.default_rng(0)
    n = 600
    t = np.cumsum(rng.uniform(0.018, 0.024, n))
    t -= t[0]
    acc = np.column_stack([0.1 * t, np.zeros(n), np.ones(n)]) * G
    folder = tmp_path / "jitter"
    folder.mkdir()
    cols = ["Time (s)", *[f"Acceleration {a} (m/s^2)" for a in "xyz"]]
    pd.DataFrame(np.column_stack([t, acc]), columns=cols).to_csv(
        folder / "Raw Data.csv", index=False, float_format="%.9E")
    res = import_recording(folder, tmp_path / "d")
    assert res.sampling_rate_hz == nearest_common_rate(res.measured_hz[next(iter(
        res.measured_hz))]) == 50.0
    frame = stored(res.path)
    np.testing.assert_allclose(frame["acc_x"], 0.1 * frame["time"], atol=1e-6)
    assert frame["time"].iloc[-1] <= t[-1]


def test_generic_csv_is_detected_like_datasets_init(tmp_path):
    src = REPO / "examples" / "my_data" / "subject01_walking_take1.csv"
    res = import_recording(src, tmp_path / "d", subject="1", label="walking")
    assert res.app == "csv" and res.sampling_rate_hz == 50.0
    frame = stored(res.path)
    raw = pd.read_csv(src)
    np.testing.assert_allclose(frame["acc_x"], raw["ax"] / G, atol=1e-4)
    np.testing.assert_allclose(frame["gyro_z"], np.deg2rad(raw["gz"]), atol=1e-4)
    # without --label the file name's label (found by datasets init) is kept
    res = import_recording(src, tmp_path / "e")
    assert set(stored(res.path)["label"]) == {"walking"}
    assert yaml.safe_load(res.definition.read_text(encoding="utf-8"))["classes"] == ["walking"]


# ------------------------------------------------------------- the folder
def test_never_overwrites_and_trains(hapt, tmp_path):
    folder = tmp_path / "mydata"
    for subject in ("1", "2"):
        for label in ("WALKING", "SITTING"):
            seg = segment(hapt, subject, label)
            export = write_phyphox(seg, tmp_path / f"{label.lower()}{subject}")
            result = runner.invoke(app, ["recordings", "import", str(export), "--to",
                                         str(folder), "--subject", subject, "--label", label])
            assert result.exit_code == 0, result.output
            assert "50 Hz" in result.output
    before = (folder / "walking1.parquet").read_bytes()
    again = runner.invoke(app, ["recordings", "import", str(tmp_path / "walking1"), "--to",
                                str(folder), "--label", "SITTING"])
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert (folder / "walking1.parquet").read_bytes() == before
    definition = yaml.safe_load((folder / DEFINITION_FILE).read_text(encoding="utf-8"))
    assert definition["classes"] == ["WALKING", "SITTING"]  # in the order of import
    assert not list(folder.glob(".*tmp*"))
    from tinyhar.datasets.custom import load_custom

    rec = load_custom(folder / DEFINITION_FILE)
    assert rec.subjects == ["1", "2"] and len(rec.sessions) == 4
    assert rec.sampling_rate_hz == 50.0 and rec.has_gyro
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--dataset", str(folder / DEFINITION_FILE),
                                 "--out", str(out), "--set", "evaluation.test_subjects=[2]"])
    assert result.exit_code == 0, result.output
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    # walking vs sitting of an unseen subject from 15 s recordings (about 10 windows each)
    assert metrics["test_subjects"] == ["2"] and metrics["macro_f1"] > 0.8
    # a key the user adds survives the next import
    definition["citation"] = "my recordings"
    (folder / DEFINITION_FILE).write_text(yaml.safe_dump(definition))
    seg = segment(hapt, "2", "STANDING")
    import_recording(write_phyphox(seg, tmp_path / "standing2"), folder, "2", "STANDING")
    definition = yaml.safe_load((folder / DEFINITION_FILE).read_text(encoding="utf-8"))
    assert definition["citation"] == "my recordings"
    assert definition["classes"] == ["WALKING", "SITTING", "STANDING"]  # new ones appended
    # relabelled with --overwrite: a class no recording has any more leaves the list
    result = runner.invoke(app, ["recordings", "import", str(tmp_path / "standing2"), "--to",
                                 str(folder), "--subject", "2", "--label", "SITTING",
                                 "--overwrite"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((folder / DEFINITION_FILE).read_text(encoding="utf-8"))["classes"] == [
        "WALKING", "SITTING"]


def test_later_imports_take_the_folder_rate(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    import_recording(write_phyphox(seg, tmp_path / "a"), tmp_path / "d")
    # a 100 Hz export (HAPT interpolated) joins a 50 Hz folder at 50 Hz
    t = np.arange(0, seg["time"].iloc[-1] - seg["time"].iloc[0], 0.01)
    t0 = seg["time"].to_numpy() - seg["time"].iloc[0]
    up = pd.DataFrame({"time": t, **{c: np.interp(t, t0, seg[c]) for c in seg.columns
                                     if c.startswith(("acc", "gyro"))}})
    res = import_recording(write_phyphox(up, tmp_path / "b"), tmp_path / "d")
    assert res.sampling_rate_hz == 50.0
    frame = stored(res.path)
    np.testing.assert_allclose(frame["acc_y"], seg["acc_y"][:len(frame)], atol=1e-5)


# ------------------------------------------------------------------ bad input
def test_gravity_free_acceleration_alone_is_refused(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    export = zipped(write_sensor_logger(seg, tmp_path / "ios", total=False, gravity=False))
    with pytest.raises(DataFormatError, match="Accelerometer.csv is acceleration without gravity"):
        import_recording(export, tmp_path / "d")
    with pytest.raises(DataFormatError, match="Linear Accelerometer.csv.*without gravity"):
        import_recording(write_phyphox(seg, tmp_path / "lin", linear=True), tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_missing_accelerometer_file(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    folder = write_sensor_logger(seg, tmp_path / "x")
    for name in ("TotalAcceleration.csv", "Accelerometer.csv", "Gravity.csv"):
        (folder / name).unlink()
    with pytest.raises(DataFormatError, match="no accelerometer file.*Gyroscope.csv"):
        import_recording(folder, tmp_path / "d")


def test_zip_of_another_app(tmp_path):
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "steps.csv").write_text("date,steps\n2024-01-01,1000\n2024-01-02,2000\n")
    (folder / "sleep.csv").write_text("date,hours\n2024-01-01,7\n")
    with pytest.raises(DataFormatError, match="neither a phyphox export") as err:
        import_recording(zipped(folder), tmp_path / "d")
    assert "other.zip" in str(err.value)


def test_duplicated_rows_and_other_files_are_ignored(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    folder = write_sensor_logger(seg, tmp_path / "dup")
    lines = (folder / "TotalAcceleration.csv").read_text().splitlines(keepends=True)
    (folder / "TotalAcceleration.csv").write_text("".join(lines[:100] + lines[99:]))
    (folder / "Annotation.csv").write_text("")  # an empty file of another sensor
    res = import_recording(folder, tmp_path / "d")
    frame = stored(res.path)
    np.testing.assert_allclose(frame[list(ACC_CHANNELS)], seg[list(ACC_CHANNELS)][:len(frame)],
                               atol=1e-6)


def test_empty_and_short_files(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    folder = write_phyphox(seg, tmp_path / "e")
    (folder / "Gyroscope.csv").write_text("")
    with pytest.raises(DataFormatError, match="Gyroscope.csv.*empty"):
        import_recording(folder, tmp_path / "d")
    (folder / "Gyroscope.csv").write_text("Time (s),Gyroscope x (rad/s),Gyroscope y (rad/s),"
                                          "Gyroscope z (rad/s)\n0,0,0,0\n")
    with pytest.raises(DataFormatError, match="Gyroscope.csv.*fewer than 10"):
        import_recording(folder, tmp_path / "d")
    write_phyphox(seg, folder)
    text = (folder / "Gyroscope.csv").read_text().splitlines()
    text[5] = "2.0E-01,abc,0,0,0"
    (folder / "Gyroscope.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataFormatError, match=r"Gyroscope.csv.*line 6.*'abc' is not a number"):
        import_recording(folder, tmp_path / "d")


@pytest.mark.parametrize("jump, message", [(-5.0, "goes back"), (30.0, "a gap of 30")])
def test_clock_jumps_name_file_and_line(hapt, tmp_path, jump, message):
    seg = segment(hapt, "1", "WALKING").copy()
    seg.loc[300:, "time"] += jump
    folder = write_phyphox(seg, tmp_path / "j", gyro=False)
    with pytest.raises(DataFormatError, match=message) as err:
        import_recording(folder, tmp_path / "d")
    assert "Accelerometer.csv" in str(err.value) and "line 302" in str(err.value)


def test_mixing_sensors_in_one_folder_is_refused(hapt, tmp_path):
    seg = segment(hapt, "1", "WALKING")
    import_recording(write_phyphox(seg, tmp_path / "a"), tmp_path / "d")
    with pytest.raises(DataFormatError, match="no gyroscope"):
        import_recording(write_phyphox(seg, tmp_path / "b", gyro=False), tmp_path / "d")


def test_missing_export_is_a_clear_cli_error(tmp_path):
    result = runner.invoke(app, ["recordings", "import", str(tmp_path / "nope.zip"), "--to",
                                 str(tmp_path / "d")])
    assert result.exit_code == 2 and "nope.zip does not exist" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    with pytest.raises(ConfigError):
        import_recording(tmp_path / "nope.zip", tmp_path / "d")


def test_shipped_example_is_hapt(hapt, tmp_path):
    """examples/phyphox_walking.zip is subject 1's walking, as write_phyphox writes it."""
    res = import_recording(REPO / "examples" / "phyphox_walking.zip", tmp_path / "d",
                           label="WALKING")
    seg = segment(hapt, "1", "WALKING", n=res.n_samples)
    np.testing.assert_allclose(stored(res.path)[list(ACC_CHANNELS)], seg[list(ACC_CHANNELS)],
                               atol=1e-6)
