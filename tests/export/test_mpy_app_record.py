"""The board's recording app (export/mpy/app_record.py) in the MicroPython unix port.

The IMU is a replayed HAPT recording (sensor.ReplaySensor), the buttons a
script of presses at sample counts; the files the app writes are read back
and compared with the replayed samples.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.device.simulate import write_replay_csv
from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx

MPY = Path(mpx.__file__).with_name("mpy")
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
N_REPLAY = 1500  # 30 s at 50 Hz


@pytest.fixture(scope="module")
def replay():
    """30 s of HAPT subject 1 (g, rad/s) as float32, the values the CSV holds exactly."""
    frame = load_bundled_hapt().select(subjects=["1"]).frame.iloc[2000:2000 + N_REPLAY]
    return frame[CHANNELS].to_numpy(np.float32)


@pytest.fixture
def board(tmp_path, replay):
    """A folder like the board's flash: the app, its modules, classes.txt, a replay file."""
    try:
        mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    for name in ("app_record.py", "sensor.py", "display.py"):
        shutil.copy(MPY / name, tmp_path / name)
    (tmp_path / "classes.txt").write_text("# written by deploy\nwalking\nsitting\n\nlaying\n")
    write_replay_csv(tmp_path / "replay.csv", np.arange(N_REPLAY) / 50.0, replay, CHANNELS)
    return tmp_path


def _run(board: Path, code: str) -> list[str]:
    proc = mpx.run_micropython("import app_record\n" + code, board, timeout=120)
    return proc.stdout.splitlines()


def _main(events, code: str = "", **kw) -> str:
    """Source running main() on the replay with scripted buttons; ``code``: more arguments."""
    args = "".join(f", {k}={v!r}" for k, v in kw.items()) + (f", {code}" if code else "")
    return (f"print(app_record.main(replay='replay.csv', "
            f"buttons=app_record.ScriptButtons({events!r}), tinyhar_version='9.9'{args}))\n")


def _csv(board: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(board / "rec" / f"{name}.csv")


def test_buttons_choose_class_and_start_stop_recordings(board, replay):
    # B at 10: sitting; A at 20..520: 500 samples; B B at 600, 610: walking; A 700..1000;
    # A at 1100: recording until the replay ends (closed properly at the end)
    events = [(10, "B"), (20, "A"), (520, "A"), (600, "B"), (610, "B"), (700, "A"),
              (1000, "A"), (1100, "A")]
    out = _run(board, _main(events))
    assert out[-1] == "['rec_001', 'rec_002', 'rec_003']"
    assert "START rec_001 sitting" in out and "STOP rec_001 sitting 500 10.00" in out
    assert "STOP rec_002 walking 300 6.00" in out
    assert "STOP rec_003 walking 401 8.02" in out  # samples 1100..1500
    assert sorted(p.name for p in (board / "rec").iterdir()) == [
        f"rec_00{i}.{ext}" for i in (1, 2, 3) for ext in ("csv", "json")]
    for name, first, n, label in (("rec_001", 20, 500, "sitting"),
                                  ("rec_002", 700, 300, "walking"),
                                  ("rec_003", 1100, 401, "walking")):
        data = _csv(board, name)
        assert list(data.columns) == ["time", *CHANNELS]
        assert len(data) == n
        np.testing.assert_allclose(data["time"], np.arange(n) / 50.0, atol=5e-4)
        # the app writes "%.5f": within 5e-6 of the replayed values
        np.testing.assert_allclose(data[CHANNELS].to_numpy(), replay[first - 1:first - 1 + n],
                                   atol=5.1e-6)
        meta = json.loads((board / "rec" / f"{name}.json").read_text())
        assert meta["class"] == label and meta["n_samples"] == n
        assert meta["sampling_rate_hz"] == 50.0 and meta["duration_s"] == n / 50.0
        assert meta["units"] == {"time": "s", "acc": "g", "gyro": "rad/s"}
        assert meta["channels"] == CHANNELS
        assert meta["sensor"] == "MPU6886" and meta["board"] == "M5StickC PLUS2"
        assert meta["firmware"].startswith("micropython 1.")
        assert meta["tinyhar_version"] == "9.9" and meta["complete"] is True
        assert len(meta["start_time"]) == 19  # YYYY-MM-DDTHH:MM:SS


def test_class_cannot_change_while_recording_and_numbers_continue(board):
    out = _run(board, _main([(5, "A"), (50, "B"), (100, "A")]))
    assert "START rec_001 walking" in out and "CLASS sitting" not in out
    out = _run(board, _main([(5, "B"), (6, "A"), (60, "A")]))
    assert "START rec_002 sitting" in out  # a new run of the app continues the numbering
    assert json.loads((board / "rec" / "rec_001.json").read_text())["class"] == "walking"


def test_refuses_to_start_without_space(board):
    # 60 s at 50 Hz need 60 * 50 * 72 bytes; 1000 bytes are free
    out = _run(board, _main([(5, "A"), (50, "A")], "free_bytes=lambda: 1000", max_samples=100))
    assert "REFUSED 1000 216000" in out
    assert out[-1] == "[]"
    assert list((board / "rec").iterdir()) == []
    # the real free space (os.statvfs) is below a year of data
    out = _run(board, _main([(5, "A")], max_samples=20, min_free_s=365 * 86400))
    assert any(line.startswith("REFUSED ") for line in out)
    assert list((board / "rec").iterdir()) == []


def test_interrupted_recording_keeps_earlier_files_and_is_recovered(board, replay):
    _run(board, _main([(1, "A"), (101, "A")]))  # rec_001: 100 samples, complete
    before = {p.name: p.read_bytes() for p in (board / "rec").iterdir()}
    # a power cut while recording rec_002: 120 rows flushed, the last row cut short,
    # stop() never called
    _run(board, (
        "r = app_record.Recorder('rec', 50.0, tinyhar_version='9.9')\n"
        "r.start('laying')\n"
        "for i in range(120):\n"
        "    r.add([0.1 * i, 0.0, 1.0, 0.0, 0.0, 0.5])\n"
        "r.f.write('2.400,0.1,0.2')\n"
        "r.f.flush()\n"
    ))
    names = sorted(p.name for p in (board / "rec").iterdir())
    assert names == ["rec_001.csv", "rec_001.json", "rec_002.csv.part", "rec_002.json.part"]
    assert {n: (board / "rec" / n).read_bytes() for n in before} == before
    # the next start of the app recovers it and records under the next number
    out = _run(board, _main([(1, "A"), (11, "A")]))
    assert "RECOVERED rec_002 120" in out and "START rec_003 walking" in out
    assert {n: (board / "rec" / n).read_bytes() for n in before} == before
    recovered = _csv(board, "rec_002")
    assert len(recovered) == 120
    np.testing.assert_allclose(recovered["acc_x"], 0.1 * np.arange(120), atol=5e-6)
    meta = json.loads((board / "rec" / "rec_002.json").read_text())
    assert meta["complete"] is False and meta["class"] == "laying"
    assert meta["n_samples"] == 120 and meta["tinyhar_version"] == "9.9"
    assert sorted(p.name for p in (board / "rec").iterdir()) == [
        f"rec_00{i}.{ext}" for i in (1, 2, 3) for ext in ("csv", "json")]


def test_classes_file_errors(board):
    (board / "classes.txt").write_text("\n# nothing\n")
    with pytest.raises(TinyharError, match="classes.txt names no class"):
        _run(board, _main([]))
    (board / "classes.txt").unlink()
    with pytest.raises(TinyharError, match="classes.txt not found and no model deployed"):
        _run(board, _main([]))
    # with a model on the board, its classes
    (board / "tinyhar_config.py").write_text("CLASSES = ('run', 'rest')\nSAMPLING_RATE_HZ = 25.0\n")
    out = _run(board, _main([(1, "B"), (2, "A"), (27, "A")]))
    assert "START rec_001 rest" in out and "STOP rec_001 rest 25 1.00" in out


def test_recordings_load_with_a_definition(board, tmp_path):
    """What the app writes is a data set tinyhar reads: init guesses g, rad/s, 50 Hz."""
    from tinyhar.datasets.scaffold import scaffold_definition

    _run(board, _main([(1, "A"), (400, "A"), (500, "B"), (501, "A"), (900, "A")]))
    guessed = scaffold_definition(board / "rec", tmp_path / "d.yaml")
    by_key = {g.key: g.value for g in guessed.guesses}
    assert by_key["sampling_rate_hz"] == 50.0
    assert by_key["units.acc"] == "g" and by_key["units.gyro"] == "rad/s"
    assert by_key["units.time"] == "s" and by_key["columns.time"] == "time"


def test_used_flash_is_the_size_of_the_recordings(board):
    _run(board, _main([(1, "A"), (51, "A")]))
    out = _run(board, "r = app_record.Recorder('rec')\nprint('USED', r.used_bytes())\n")
    assert out[-1] == f"USED {sum(p.stat().st_size for p in (board / 'rec').iterdir())}"


def test_killed_while_recording_like_a_power_cut(board):
    """SIGKILL of the unix port mid-recording: earlier files intact, the rows flushed kept."""
    import os
    import signal
    import subprocess
    import time

    _run(board, _main([(1, "A"), (101, "A")]))
    before = {p.name: p.read_bytes() for p in (board / "rec").iterdir()}
    code = (
        "import app_record\n"
        "class Still:\n"
        "    channels = app_record.CHANNELS\n"
        "    def read(self, buf):\n"
        "        buf[0] = 0.0; buf[1] = 0.0; buf[2] = 1.0; buf[3] = 0.0; buf[4] = 0.0\n"
        "        buf[5] = 0.0\n"
        "        return True\n"
        "    def close(self):\n"
        "        pass\n"
        "app_record.main(sensor=Still(), buttons=app_record.ScriptButtons([(1, 'A')]))\n"
    )
    env = dict(os.environ, MICROPYPATH=f"{board}:.frozen")
    proc = subprocess.Popen([mpx.find_micropython(), "-c", code], cwd=board, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = board / "rec" / "rec_002.csv.part"
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size > 10_000):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the app wrote nothing"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert {n: (board / "rec" / n).read_bytes() for n in before} == before
    out = _run(board, _main([]))
    recovered = [line for line in out if line.startswith("RECOVERED rec_002 ")]
    assert recovered
    n = int(recovered[0].split()[2])
    data = _csv(board, "rec_002")
    assert len(data) == n >= 100
    np.testing.assert_array_equal(data["acc_z"], 1.0)
    np.testing.assert_allclose(data["time"], np.arange(n) / 50.0, atol=5e-4)
    meta = json.loads((board / "rec" / "rec_002.json").read_text())
    assert meta["complete"] is False and meta["class"] == "walking" and meta["n_samples"] == n
    assert {n: (board / "rec" / n).read_bytes() for n in before} == before
