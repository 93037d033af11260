"""The README's cluster recipe, with real ``dask scheduler`` and ``dask worker`` processes.

The scheduler and the workers are started with Dask's own command line, as on
real machines (here all on 127.0.0.1, on a free port), and ``tinyhar train``
runs as a separate process with ``--scheduler tcp://...``: the metrics equal
those of the serial run; a scheduler killed mid-run ends the run with a clear
error (exit status 2), no traceback, no hang and no run folder.
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
from pathlib import Path

import pytest

from tinyhar.datasets.synthetic import synthesize

pytest.importorskip("distributed")
DASK = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
pytestmark = pytest.mark.skipif(DASK is None, reason="the `dask` command is not installed")
SRC = str(Path(__file__).resolve().parents[1] / "src")
SETTINGS = ["--set", "evaluation.test_subjects=[s004]", "--set", "evaluation.cv_folds=3",
            "--set", "postprocess.smoothing=mode"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _tinyhar(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tinyhar", *args], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes (the README's commands)."""

    def __init__(self, workers: int = 2) -> None:
        from distributed import Client

        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": _env()}
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            **quiet)
        self.workers = subprocess.Popen(
            [DASK, "worker", self.address, "--nworkers", str(workers), "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"], **quiet)
        try:
            with Client(self.address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=120)
        except BaseException:
            self.stop()
            raise

    def busy(self) -> bool:
        """True once the scheduler holds tasks."""
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            return bool(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))

    def stop(self) -> None:
        for proc in (self.workers, self.scheduler):
            if proc.poll() is None:
                proc.terminate()
        for proc in (self.workers, self.scheduler):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 4, 0.1, session_hours=0.05, seed=7)
    return str(out / "data.yaml")


@pytest.mark.slow
def test_the_readme_recipe_gives_the_serial_metrics(definition, tmp_path):
    serial = _tinyhar("train", "--dataset", definition, *SETTINGS, "--out", str(tmp_path / "s"))
    out, err = serial.communicate(timeout=600)
    assert serial.returncode == 0, err
    cluster = Cluster(workers=2)
    try:
        run = _tinyhar("train", "--dataset", definition, *SETTINGS,
                       "--scheduler", cluster.address, "--out", str(tmp_path / "c"))
        out, err = run.communicate(timeout=600)
    finally:
        cluster.stop()
    assert run.returncode == 0, err
    mine, theirs = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "cs")
    for key in ("macro_f1", "accuracy", "n_train_windows", "confusion_matrix",
                "cross_validation"):
        assert mine[key] == theirs[key], key
    assert mine["out_of_core"]["skipped"] == [] and mine["out_of_core"]["sources"] == 8


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_is_a_clear_error(definition, tmp_path):
    cluster = Cluster(workers=1)
    try:
        run = _tinyhar("train", "--dataset", definition, *SETTINGS,
                       "--scheduler", cluster.address, "--out", str(tmp_path / "c"))
        deadline = time.monotonic() + 120
        while not cluster.busy() and run.poll() is None:
            assert time.monotonic() < deadline, "no task reached the scheduler"
            time.sleep(0.05)
        cluster.scheduler.send_signal(signal.SIGKILL)
        out, err = run.communicate(timeout=180)  # an error, not a hang
    finally:
        cluster.stop()
    if run.returncode == 0:
        pytest.skip("the run finished before the scheduler went away (a very fast machine)")
    assert run.returncode == 2, err
    assert "error:" in err and "stopped answering" in err, err
    assert "Traceback" not in err, err
    assert not (tmp_path / "c").exists()
