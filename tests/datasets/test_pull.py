"""Converting the recording app's files (CSV + JSON sidecar) into a recordings folder.

The files are written here in the exact layout of export/mpy/app_record.py
(tests/export/test_mpy_app_record.py checks the app writes that layout) from
real HAPT samples; each bad input must give a message naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import write_app_recording as write_recording
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.pull import (
    LEDGER_FILE,
    BoardFile,
    PlannedRecording,
    add_pulled,
    plan_pull,
    read_ledger,
    read_pulled,
    verify_copy,
)
from tinyhar.errors import DataFormatError
from tinyhar.runfolder import sha256_file

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


@pytest.fixture(scope="module")
def samples():
    """20 s of HAPT subject 1 walking (g, rad/s)."""
    frame = load_bundled_hapt().select(subjects=["1"]).frame
    walk = frame[frame["label"] == "WALKING"].iloc[:1000]
    return walk[CHANNELS].to_numpy(np.float64)


def _files(folder: Path) -> list[BoardFile]:
    return [BoardFile(p.name, p.stat().st_size, sha256_file(p))
            for p in sorted(folder.iterdir()) if p.is_file()]


def _add(board: Path, to: Path, name: str) -> object:
    plan = next(p for p in plan_pull(_files(board), to, "board") if p.name == name)
    assert plan.status == "new", plan.message
    return add_pulled(plan, board / f"{name}.csv", board / f"{name}.json", to, "7", "board")


def test_read_pulled_round_trip(tmp_path, samples):
    csv, sidecar = write_recording(tmp_path, "rec_001", samples)
    frame, meta, notes = read_pulled(csv, sidecar)
    assert list(frame.columns) == ["time", *CHANNELS]
    np.testing.assert_allclose(frame[CHANNELS].to_numpy(), samples, atol=5.1e-6)
    np.testing.assert_allclose(frame["time"], np.arange(1000) / 50.0, atol=5e-4)
    assert meta["class"] == "walk" and notes == []


def test_units_from_the_sidecar_are_converted(tmp_path, samples):
    values = samples.copy()
    values[:, :3] *= 9.80665
    values[:, 3:] = np.degrees(values[:, 3:])
    csv, sidecar = write_recording(tmp_path, "rec_001", values,
                                   units={"time": "s", "acc": "m/s^2", "gyro": "deg/s"})
    frame, _, _ = read_pulled(csv, sidecar)
    np.testing.assert_allclose(frame[CHANNELS].to_numpy(), samples, atol=1e-5)


@pytest.mark.parametrize("damage, message, line", [
    ("rows", r"holds 999 rows but its sidecar rec_001.json says 1000: the file was cut short",
     None),
    ("no_newline", "the last row has no line end: the file was cut short", 1001),
    ("jump", r"the clock jumps from 9.98 s to 30 s", 502),
    ("back", r"the clock jumps from 9.98 s to 5 s", 502),
    ("rate", "the time column shows 25 Hz", None),
    ("header", "the header is 'time,acc_x,acc_y,acc_z,gyro_x,gyro_y' but the sidecar", 1),
    ("number", "'x' is not a number", 12),
])
def test_bad_recordings_name_the_file(tmp_path, samples, damage, message, line):
    csv, sidecar = write_recording(tmp_path, "rec_001", samples)
    lines = csv.read_text().splitlines(keepends=True)
    if damage == "rows":
        csv.write_text("".join(lines[:-1]))
    elif damage == "no_newline":
        csv.write_text("".join(lines[:-1]) + lines[-1][:20])
    elif damage in ("jump", "back"):
        t = 30.0 if damage == "jump" else 5.0
        for i in range(500, 1000):
            head, rest = lines[i + 1].split(",", 1)
            lines[i + 1] = f"{t + (i - 500) / 50.0:.3f},{rest}"
        csv.write_text("".join(lines))
    elif damage == "rate":
        csv.write_text(lines[0] + "".join(
            f"{i / 25.0:.3f},{r.split(',', 1)[1]}" for i, r in enumerate(lines[1:])))
    elif damage == "header":
        csv.write_text(lines[0].replace(",gyro_z", "") + "".join(lines[1:]))
    elif damage == "number":
        lines[11] = lines[11].replace(lines[11].split(",")[2], "x", 1)
        csv.write_text("".join(lines))
    with pytest.raises(DataFormatError, match=message) as err:
        read_pulled(csv, sidecar)
    assert str(csv) in str(err.value)
    assert err.value.line == line


def test_bad_sidecars(tmp_path, samples):
    csv, sidecar = write_recording(tmp_path, "rec_001", samples)
    sidecar.write_text("{not json")
    with pytest.raises(DataFormatError, match="rec_001.json.*not a readable JSON sidecar"):
        read_pulled(csv, sidecar)
    sidecar.write_text(json.dumps({"class": "walk"}))
    with pytest.raises(DataFormatError, match="lacks sampling_rate_hz, channels, units"):
        read_pulled(csv, sidecar)
    write_recording(tmp_path, "rec_001", samples, units={"acc": "furlong", "gyro": "rad/s"})
    with pytest.raises(DataFormatError, match="rec_001.json.*unknown unit 'furlong'"):
        read_pulled(csv, sidecar)


def test_plan_names_partial_orphans_and_missing_sidecars(tmp_path, samples):
    board = tmp_path / "rec"
    write_recording(board, "rec_001", samples)
    write_recording(board, "rec_002", samples)
    (board / "rec_002.json").unlink()
    write_recording(board, "rec_003", samples)
    (board / "rec_003.csv").unlink()
    (board / "rec_004.csv.part").write_text("time,acc_x\n0.0,1.0\n")
    (board / "rec_004.json.part").write_text('{"class": "walk"}')
    (board / "rec_005.json.part").write_text('{"class": "walk"}')
    plans = {p.name: p for p in plan_pull(_files(board), tmp_path / "mine", "PORT:rec")}
    assert {k: p.status for k, p in plans.items()} == {
        "rec_001": "new", "rec_002": "skipped", "rec_003": "skipped", "rec_004": "skipped",
        "rec_005": "skipped"}
    assert "rec_005.json.part: a recording started but cut off" in plans["rec_005"].message
    assert "PORT:rec/rec_002.csv: the sidecar rec_002.json is missing" in plans["rec_002"].message
    assert "PORT:rec/rec_003.json: its recording rec_003.csv is missing" in (
        plans["rec_003"].message)
    assert "PORT:rec/rec_004.csv.part: a recording still open, or cut short" in (
        plans["rec_004"].message)


def test_add_pulled_writes_parquet_definition_raw_copy_and_ledger(tmp_path, samples):
    board, to = tmp_path / "rec", tmp_path / "mine"
    write_recording(board, "rec_001", samples[:500], "walk")
    write_recording(board, "rec_002", samples[500:], "run")
    digests = {p.name: sha256_file(p) for p in board.iterdir()}
    first = _add(board, to, "rec_001")
    second = _add(board, to, "rec_002")
    assert (first.label, first.n_samples, second.label) == ("walk", 500, "run")
    stored = pd.read_parquet(to / "rec_002.parquet")
    np.testing.assert_allclose(stored[CHANNELS].to_numpy(), samples[500:], atol=5.1e-6)
    assert set(stored["label"]) == {"run"} and set(stored["subject"]) == {"7"}
    assert set(stored["session"]) == {"rec_002"}
    assert "classes:\n- walk\n- run\n" in (to / "data.yaml").read_text()
    assert {p.name: sha256_file(p) for p in (to / "board").iterdir()} == digests
    ledger = read_ledger(to)
    assert [r["board_name"] for r in ledger["recordings"]] == ["rec_001", "rec_002"]
    assert ledger["recordings"][0]["csv_sha256"] == digests["rec_001.csv"]
    # a copy of the same files is "pulled before", however it is named
    write_recording(board, "rec_001", samples[:500], "walk")
    plan = plan_pull(_files(board), to, "board")
    assert [p.status for p in plan] == ["pulled"] and plan[0].local == "rec_001"
    # the data set trains: it loads with its definition
    from tinyhar.datasets.custom import load_custom

    rec = load_custom(to / "data.yaml")
    assert rec.classes == ["walk", "run"] and len(rec.frame) == 1000


def test_clock_reset_class_list_change_and_cut_short_are_noted(tmp_path, samples):
    board, to = tmp_path / "rec", tmp_path / "mine"
    write_recording(board, "rec_001", samples[:500])
    write_recording(board, "rec_002", samples[500:], "rest", start_time="2000-01-01T00:00:09",
                    classes=["walk", "rest"], complete=False)
    assert _add(board, to, "rec_001").notes == []
    notes = _add(board, to, "rec_002").notes
    assert any(n.startswith("rec_002.csv: cut short (power cut or crash") for n in notes)
    assert any(n.startswith("rec_002.json: started 2000-01-01T00:00:09, before the previous "
                            "recording rec_001") for n in notes)
    assert any(n.startswith("rec_002.json: recorded with the classes ['walk', 'rest'] but "
                            "rec_001 with ['walk', 'run', 'rest']") for n in notes)


def test_renumbered_board_does_not_overwrite(tmp_path, samples):
    board, to = tmp_path / "rec", tmp_path / "mine"
    write_recording(board, "rec_001", samples[:500])
    _add(board, to, "rec_001")
    before = (to / "rec_001.parquet").read_bytes()
    write_recording(board, "rec_001", samples[500:], "run")  # another recording, same name
    plan = plan_pull(_files(board), to, "board")[0]
    assert plan.status == "new" and plan.local.startswith("rec_001-")
    assert "is another recording" in plan.message
    add_pulled(plan, board / "rec_001.csv", board / "rec_001.json", to, "7", "board")
    assert (to / "rec_001.parquet").read_bytes() == before
    assert (to / f"{plan.local}.parquet").is_file()
    # with overwrite the same name is replaced
    write_recording(board, "rec_001", samples[200:700], "rest")
    plan = plan_pull(_files(board), to, "board", overwrite=True)[0]
    assert plan.local == "rec_001"


def test_other_rate_or_sensors_refused(tmp_path, samples):
    board, to = tmp_path / "rec", tmp_path / "mine"
    write_recording(board, "rec_001", samples[:500])
    _add(board, to, "rec_001")
    write_recording(board, "rec_002", samples[500:], rate=25.0)
    with pytest.raises(DataFormatError, match="recorded at 25 Hz but the recordings in"):
        _add(board, to, "rec_002")
    assert not (to / "rec_002.parquet").exists()
    assert len(read_ledger(to)["recordings"]) == 1


def test_verify_copy(tmp_path):
    path = tmp_path / "rec_001.csv"
    path.write_bytes(b"time,acc_x\n0.0,1.0\n")
    verify_copy(path, BoardFile("rec_001.csv", path.stat().st_size, sha256_file(path)))
    with pytest.raises(DataFormatError, match="the copy of rec_001.csv differs from the board"):
        verify_copy(path, BoardFile("rec_001.csv", path.stat().st_size, "0" * 64))


def test_damaged_ledger(tmp_path):
    (tmp_path / LEDGER_FILE).write_text("[")
    with pytest.raises(Exception, match="pulled.json: not readable"):
        read_ledger(tmp_path)
    assert PlannedRecording("a", None, None, "new").local is None
