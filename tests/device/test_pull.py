"""deploy --app record and recordings pull against a simulated board, through real mpremote.

The board is the MicroPython unix port behind a pseudo-terminal
(tinyhar.device.ptyboard.SimulatedBoard): mpremote connects to it as to
/dev/ttyACM0, so deploy's copies, the recording app, and pull's on-board
listing (sizes, SHA-256), copies and deletions all run in a real MicroPython.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.helpers import board_tools, mpremote_exec, tiny_bundle, write_app_recording
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.device.simulate import write_replay_csv
from tinyhar.errors import TinyharError

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
N_REPLAY = 1500


@pytest.fixture(scope="module")
def replay():
    frame = load_bundled_hapt().select(subjects=["1"]).frame.iloc[2000:2000 + N_REPLAY]
    return frame[CHANNELS].to_numpy(np.float32)


@pytest.fixture
def board(tmp_path, replay):
    """A simulated board whose flash holds a replay recording (the IMU of the unix port)."""
    from tinyhar.device.ptyboard import SimulatedBoard

    board_tools()
    flash = tmp_path / "flash"
    flash.mkdir()
    write_replay_csv(flash / "replay.csv", np.arange(N_REPLAY) / 50.0, replay, CHANNELS)
    with SimulatedBoard(flash) as sim:
        yield sim


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle of a tiny pipeline whose classes are HAPT's."""
    return tiny_bundle(tmp_path_factory.mktemp("bundle"))


def _record(board, events) -> str:
    """Run the recording app on the board with scripted buttons over the replay."""
    return mpremote_exec(board, "import app_record\napp_record.main(replay='replay.csv', "
                        f"buttons=app_record.ScriptButtons({events!r}))\n")


def test_deploy_record_app_then_record_and_pull(board, bundle, replay, tmp_path):
    from tinyhar.device.deploy import deploy
    from tinyhar.device.pull import MpremoteSource, pull

    info = deploy(bundle, board.port, compile=False, autostart=True, app="record",
                  classes="walk, run,rest")
    flash = board.folder
    assert (flash / "classes.txt").read_text().splitlines()[1:] == ["walk", "run", "rest"]
    assert "app_record.main()" in (flash / "main.py").read_text()
    assert (flash / "app_record.py").is_file() and (flash / "model.bin").is_file()
    assert "classes.txt" in info["files"] and info["app"] == "record"
    # record: walk 1..400, run 500..900 (B at 450), rest 1000..1300
    out = _record(board, [(1, "A"), (400, "A"), (450, "B"), (500, "A"), (900, "A"),
                          (950, "B"), (1000, "A"), (1300, "A")])
    assert "STOP rec_003 rest 300 6.00" in out
    sidecar = json.loads((flash / "rec" / "rec_001.json").read_text())
    assert sidecar["classes"] == ["walk", "run", "rest"]
    board_bytes = {p.name: p.read_bytes() for p in (flash / "rec").iterdir()}

    to = tmp_path / "mydata"
    res = pull(MpremoteSource(board.port), to, subject="3")
    assert [(p.name, p.label, p.n_samples) for p in res.pulled] == [
        ("rec_001", "walk", 399), ("rec_002", "run", 400), ("rec_003", "rest", 300)]
    assert res.skipped == [] and res.deleted == []
    # the raw copies are byte for byte the board's files; the Parquet values the replay's
    assert {p.name: p.read_bytes() for p in (to / "board").iterdir()} == board_bytes
    run = pd.read_parquet(to / "rec_002.parquet")
    np.testing.assert_allclose(run[CHANNELS].to_numpy(), replay[499:899], atol=5.1e-6)
    assert set(run["subject"]) == {"3"} and set(run["label"]) == {"run"}
    assert "classes:\n- walk\n- run\n- rest\n" in (to / "data.yaml").read_text()

    # a second pull copies nothing; --delete removes only verified, stored recordings
    mpremote_exec(board, "f = open('rec/rec_004.csv.part', 'w')\n"
                         "f.write('time,acc_x\\n')\nf.close()\n")
    res = pull(MpremoteSource(board.port), to, delete=True)
    assert res.pulled == [] and len(res.already) == 3
    assert res.skipped and "rec_004.csv.part: a recording still open" in res.skipped[0]
    assert sorted(p.name for p in (flash / "rec").iterdir()) == ["rec_004.csv.part"]
    assert {p.name: p.read_bytes() for p in (to / "board").iterdir()} == board_bytes

    # the board numbers from rec_001 again: a new recording, stored under a new name
    (flash / "rec" / "rec_004.csv.part").unlink()
    _record(board, [(1, "A"), (200, "A")])
    res = pull(MpremoteSource(board.port), to)
    assert len(res.pulled) == 1 and res.pulled[0].local.startswith("rec_001-")
    assert pd.read_parquet(to / "rec_001.parquet")["label"].iloc[0] == "walk"


def test_pull_cli_from_folder_and_errors(tmp_path, replay, monkeypatch):
    """The CLI with --from-folder (a board mounted as a drive); exit 1 names what was skipped."""
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    from tinyhar import cli
    from tinyhar.cli import app

    err = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=err, width=400))

    rec = tmp_path / "drive" / "rec"
    write_app_recording(rec, "rec_001", replay[:500])
    write_app_recording(rec, "rec_002", replay[:500])
    (rec / "rec_002.json").unlink()
    runner = CliRunner()
    result = runner.invoke(app, ["recordings", "pull", "--from-folder", str(tmp_path / "drive"),
                                 "--to", str(tmp_path / "mine"), "--delete"])
    assert result.exit_code == 1, result.output
    assert "pulled rec_001" in result.output
    assert "rec_002.csv: the sidecar rec_002.json is missing" in err.getvalue()
    assert sorted(p.name for p in rec.iterdir()) == ["rec_002.csv"]  # the unpulled one stays
    result = runner.invoke(app, ["recordings", "pull", "--to", str(tmp_path / "mine")])
    assert result.exit_code == 2 and "give either --port" in err.getvalue()
    result = runner.invoke(app, ["recordings", "pull", "--port", "/dev/ttyNONEXISTENT",
                                 "--to", str(tmp_path / "mine")])
    assert result.exit_code == 2
    assert "no MicroPython board answered on /dev/ttyNONEXISTENT" in err.getvalue()


def test_a_copy_that_does_not_verify_is_not_deleted(tmp_path, replay):
    from tinyhar.device.pull import FolderSource, pull

    class Flaky(FolderSource):
        def fetch(self, names, dest):
            super().fetch(names, dest)
            damaged = dest / names[0]
            damaged.write_bytes(damaged.read_bytes()[:-2] + b"9\n")

    rec = tmp_path / "rec"
    write_app_recording(rec, "rec_001", replay[:300])
    res = pull(Flaky(rec), tmp_path / "mine", delete=True)
    assert res.pulled == [] and res.deleted == []
    assert "the copy of rec_001.csv differs from the board's file" in res.skipped[0]
    assert sorted(p.name for p in rec.iterdir()) == ["rec_001.csv", "rec_001.json"]
    assert not (tmp_path / "mine" / "rec_001.parquet").exists()


def test_deploy_classes_errors(bundle, tmp_path):
    from tinyhar.device.deploy import deploy, parse_classes, stage_record_app

    assert parse_classes(" walk, run ") == ["walk", "run"]
    for bad, message in ((",", "names no class"), ("walk,,run", "an empty class name"),
                         ("walk,walk", "names walk more than once"),
                         (["#x"], "cannot be a class name")):
        with pytest.raises(TinyharError, match=message):
            parse_classes(bad)
    with pytest.raises(TinyharError, match="--classes is for the recording app"):
        deploy(bundle, "/dev/ttyNONEXISTENT", classes="walk")
    with pytest.raises(TinyharError, match="--app 'web': expected one of live, record"):
        deploy(bundle, "/dev/ttyNONEXISTENT", app="web")
    # without --classes: the model's classes, in its order
    files = stage_record_app(tmp_path, bundle)
    names = json.loads((bundle / "bundle.json").read_text())["classes"]
    assert files[0].read_text().splitlines()[1:] == names


def test_delete_needs_the_local_raw_copy(tmp_path, replay):
    """A recording pulled before is deleted on the board only while its raw copy is intact."""
    from tinyhar.device.pull import FolderSource, pull

    rec = tmp_path / "rec"
    write_app_recording(rec, "rec_001", replay[:300])
    write_app_recording(rec, "rec_002", replay[300:600], "run")
    to = tmp_path / "mine"
    assert len(pull(FolderSource(rec), to).pulled) == 2
    (to / "board" / "rec_001.csv").unlink()
    res = pull(FolderSource(rec), to, delete=True)
    assert res.deleted == ["rec_002.csv", "rec_002.json"]
    assert "rec_001.csv: pulled before as rec_001, but" in res.skipped[0]
    assert sorted(p.name for p in rec.iterdir()) == ["rec_001.csv", "rec_001.json"]
