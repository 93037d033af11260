"""Against a real Label Studio server: tinyhar's project in, an annotation, the export back.

Label Studio and label-studio-sdk live in their own venv (``make labelstudio`` builds
``.venv-labelstudio``, pinned by ``constraints-labelstudio.txt``; their dependencies
conflict with tinyhar's numpy pin); ``TINYHAR_LABELSTUDIO_VENV`` names another one. The
test starts the server on a free port of 127.0.0.1 with nothing that calls out (no
Sentry, no version check, no analytics), lets ``labelstudio_driver.py`` (run with that
venv's Python) create a project from ``tinyhar label export``'s folder, import its
tasks, post an annotation and export the project as JSON, and runs ``tinyhar label
import`` on that export. It skips, saying why, when the venv is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.test_labelling import existing, labels_of, write_folder
from tinyhar.cli import app
from tinyhar.datasets.bundled import load_bundled_hapt

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("TINYHAR_LABELSTUDIO_VENV", ROOT / ".venv-labelstudio"))
DRIVER = Path(__file__).with_name("labelstudio_driver.py")
TOKEN = "0123456789abcdef0123456789abcdef01234567"
START_TIMEOUT_S = 900  # a fresh database migrates for minutes; the template starts in seconds

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (VENV / "bin" / "label-studio").exists(),
        reason=f"no Label Studio venv at {VENV}: build it with 'make labelstudio' (or set "
        "TINYHAR_LABELSTUDIO_VENV)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A Label Studio server on 127.0.0.1 serving local files under its folder's root/."""
    tmp_path = tmp_path_factory.mktemp("label-studio")
    data_dir = tmp_path / "ls-data"
    template = VENV / "template-data"
    if template.is_dir():
        shutil.copytree(template, data_dir)
    root = tmp_path / "root"
    root.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root),
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
    }
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(VENV / "bin" / "label-studio"), "start", "--no-browser", "--internal-host",
         "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir), "--username",
         "test@example.com", "--password", "tinyhar-test-pw", "--user-token", TOKEN],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail("Label Studio exited: " + (tmp_path / "server.log").read_text()[-3000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - t0 > START_TIMEOUT_S:
                pytest.fail(f"Label Studio did not answer within {START_TIMEOUT_S} s")
            time.sleep(1)
        print(f"Label Studio up in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        yield url, root
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_label_studio_round_trip(server, tmp_path):
    url, root = server
    data = load_bundled_hapt().select(subjects=["1"])
    data.frame = data.frame[data.frame["session"] == "exp01"].reset_index(drop=True)
    definition = write_folder(data, tmp_path / "mine")
    truth = labels_of(tmp_path / "mine", "exp01")
    runner = CliRunner()
    result = runner.invoke(app, ["label", "export", str(definition), "--to", str(root / "ls")])
    assert result.exit_code == 0, result.output
    tasks = json.loads((root / "ls" / "tasks.json").read_text())
    # the annotator accepts the shown labels but changes the first region to WALKING
    regions = existing(tasks[0])
    regions[0]["value"]["timeserieslabels"] = ["WALKING"]
    (tmp_path / "annotations.json").write_text(json.dumps({"exp01": regions}))
    done = subprocess.run(
        [str(VENV / "bin" / "python"), str(DRIVER), url, TOKEN, str(root / "ls"),
         str(tmp_path / "annotations.json"), str(tmp_path / "export.json")],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "csv served: time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z" in done.stdout
    export = json.loads((tmp_path / "export.json").read_text())
    assert len(export) == 1 and len(export[0]["annotations"]) == 1

    result = runner.invoke(app, ["label", "import", str(tmp_path / "export.json"), "--into",
                                 str(tmp_path / "mine")])
    assert result.exit_code == 2 and "already has labels" in result.output
    result = runner.invoke(app, ["label", "import", str(tmp_path / "export.json"), "--into",
                                 str(tmp_path / "mine"), "--overwrite"])
    assert result.exit_code == 0, result.output
    now = labels_of(tmp_path / "mine", "exp01")
    first = regions[0]["value"]
    t = pd.read_parquet(tmp_path / "mine" / "exp01.parquet")["time"].to_numpy()
    inside = (t >= first["start"] - 1e-6) & (t <= first["end"] + 1e-6)
    assert inside.sum() > 500 and set(now[inside]) == {"WALKING"}
    assert list(now[~inside]) == list(truth[~inside])


def test_label_studio_takes_inline_tasks_with_a_synchronised_video(server, tmp_path):
    url, root = server
    data = load_bundled_hapt().select(subjects=["1"])
    data.frame = data.frame[data.frame["session"] == "exp02"].reset_index(drop=True)
    definition = write_folder(data, tmp_path / "mine")
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "exp02.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    result = CliRunner().invoke(app, [
        "label", "export", str(definition), "--to", str(root / "lsv"), "--inline", "--video",
        str(videos), "--video-offset", "-2", "--video-fps", "25"])
    assert result.exit_code == 0, result.output
    done = subprocess.run(
        [str(VENV / "bin" / "python"), str(DRIVER), url, TOKEN, str(root / "lsv"), "-"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "imported 1 tasks" in done.stdout
