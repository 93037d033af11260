"""The README's Dask cluster, for tests (importable as ``tests.dask_cluster``).

:class:`Cluster` starts ``dask scheduler`` and ``dask worker`` with Dask's
own command line, as on real machines; :func:`tinyhar` runs ``python -m
tinyhar`` as a separate process (with this tree's ``src`` first on the path),
:func:`train` its training and :func:`finish` waits for it;
:func:`synthetic_definition` writes a small synthetic data set that
:data:`SETTINGS` train on quickly; :func:`assert_serial_metrics` and
:func:`assert_abandoned` check a cluster run's outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.broker import free_port
from tinyhar.datasets.synthetic import synthesize

DASK = shutil.which("dask", path=os.path.dirname(sys.executable)) or shutil.which("dask")
"""The ``dask`` command (next to this Python first), or None."""

SRC = str(Path(__file__).resolve().parents[1] / "src")

SETTINGS = ["--set", "evaluation.test_subjects=[s004]", "--set", "evaluation.cv_folds=3",
            "--set", "postprocess.smoothing=mode"]
"""``tinyhar train`` settings for :func:`synthetic_definition`'s data set."""


def env() -> dict:
    """This process's environment with this tree's ``src`` first on ``PYTHONPATH``."""
    return dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))


def tinyhar(*args: str, **kwargs) -> subprocess.Popen:
    """``python -m tinyhar ARGS`` in a process of its own (text stdout and stderr piped)."""
    return subprocess.Popen([sys.executable, "-m", "tinyhar", *args], env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def train(definition: str, out: Path, scheduler: str | None = None) -> subprocess.Popen:
    """Start ``tinyhar train`` on ``definition`` with :data:`SETTINGS`, into the run folder
    ``out``, on ``scheduler`` (a cluster's address) if given."""
    on = ["--scheduler", scheduler] if scheduler else []
    return tinyhar("train", "--dataset", definition, *SETTINGS, *on, "--out", str(out))


def finish(run: subprocess.Popen) -> None:
    """Wait for a :func:`train` run (at most 600 s); it must succeed."""
    _, err = run.communicate(timeout=600)
    assert run.returncode == 0, err


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes (the README's commands).

    Parameters
    ----------
    workers : int
        Worker processes on this machine (one ``dask worker --nworkers``), one thread each.
    host : str
        The address the scheduler and this machine's workers listen on.
    machines : sequence of tests.netns.Machine
        Other machines: one ``dask worker`` (one thread) on each, listening on its address.
    config : dict
        Dask settings of the scheduler and the workers, as environment variables
        (``DASK_DISTRIBUTED__...``).
    """

    def __init__(self, workers: int = 2, host: str = "127.0.0.1",
                 machines: Sequence = (), config: dict[str, str] | None = None) -> None:
        from distributed import Client

        port = free_port()
        self.address = f"tcp://{host}:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
                 "env": env() | (config or {})}
        self.scheduler = subprocess.Popen(
            [DASK, "scheduler", "--host", host, "--port", str(port), "--no-dashboard"], **quiet)
        self.workers = []
        if workers:
            self.workers.append(subprocess.Popen(
                [DASK, "worker", self.address, "--nworkers", str(workers), "--nthreads", "1",
                 "--no-dashboard", "--host", host], **quiet))
        for machine in machines:
            self.workers.append(machine.popen(
                [DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard",
                 "--host", machine.address], **quiet))
        try:
            with Client(self.address, timeout=60) as client:
                client.wait_for_workers(workers + len(machines), timeout=120)
        except BaseException:
            self.stop()
            raise

    def busy(self) -> bool:
        """True once the scheduler holds tasks."""
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            return bool(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))

    def stop(self) -> None:
        """Stop the workers, then the scheduler (killed after 30 s)."""
        for proc in (*self.workers, self.scheduler):
            if proc.poll() is None:
                proc.terminate()
        for proc in (*self.workers, self.scheduler):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def synthetic_definition(folder: Path) -> str:
    """Write a small synthetic data set (4 subjects, 0.1 h each, seed 7) into ``folder``;
    return its definition (data.yaml), which :data:`SETTINGS` train on quickly."""
    synthesize(folder, 4, 0.1, session_hours=0.05, seed=7)
    return str(folder / "data.yaml")


def assert_serial_metrics(run: Path, serial: Path) -> None:
    """The run folder ``run`` (on a cluster) has the metrics of ``serial`` (the serial run of
    the same data and settings): equal, since each task's result does not depend on where it
    ran and the results are combined in the tasks' order (:mod:`tinyhar.compute`)."""
    mine, theirs = (json.loads((d / "metrics.json").read_text()) for d in (run, serial))
    for key in ("macro_f1", "accuracy", "n_train_windows", "confusion_matrix",
                "cross_validation"):
        assert mine[key] == theirs[key], key
    assert mine["out_of_core"]["skipped"] == [] and mine["out_of_core"]["sources"] == 8


def assert_abandoned(cluster: Cluster, definition: str, out: Path, ready: Callable[[], bool],
                     breaks: Callable[[], None], says: str) -> None:
    """Train on ``cluster``; once ``ready()`` (asked every 50 ms), ``breaks()``: the run ends
    with a clear error (exit status 2, ``says`` in its message, no traceback), not a hang,
    and leaves no run folder ``out``. The cluster is stopped after. Skips the test if the
    run finished before it could be broken (a very fast machine)."""
    try:
        run = train(definition, out, cluster.address)
        deadline = time.monotonic() + 120
        while not ready() and run.poll() is None:
            assert time.monotonic() < deadline, "no task reached the cluster"
            time.sleep(0.05)
        breaks()
        _, err = run.communicate(timeout=300)  # an error, not a hang
    finally:
        cluster.stop()
    if run.returncode == 0:
        pytest.skip("the run finished before the cluster was broken (a very fast machine)")
    assert run.returncode == 2, err
    assert "error:" in err and says in err, err
    assert "Traceback" not in err, err
    assert not out.exists()
