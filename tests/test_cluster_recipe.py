"""The README's cluster recipe, with real ``dask scheduler`` and ``dask worker`` processes.

The scheduler and the workers are started with Dask's own command line, as on
real machines (here all on 127.0.0.1, on a free port), and ``tinyhar train``
runs as a separate process with ``--scheduler tcp://...``: the metrics equal
those of the serial run; a scheduler killed mid-run ends the run with a clear
error (exit status 2), no traceback, no hang and no run folder.
"""

from __future__ import annotations

import signal

import pytest

from tests.dask_cluster import (
    DASK,
    Cluster,
    assert_abandoned,
    assert_serial_metrics,
    finish,
    synthetic_definition,
    train,
)

pytest.importorskip("distributed")
pytestmark = pytest.mark.skipif(DASK is None, reason="the `dask` command is not installed")


@pytest.fixture(scope="module")
def definition(tmp_path_factory) -> str:
    return synthetic_definition(tmp_path_factory.mktemp("syn") / "data")


@pytest.mark.slow
def test_the_readme_recipe_gives_the_serial_metrics(definition, tmp_path):
    finish(train(definition, tmp_path / "s"))
    cluster = Cluster(workers=2)
    try:
        finish(train(definition, tmp_path / "c", cluster.address))
    finally:
        cluster.stop()
    assert_serial_metrics(tmp_path / "c", tmp_path / "s")


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_is_a_clear_error(definition, tmp_path):
    cluster = Cluster(workers=1)
    assert_abandoned(cluster, definition, tmp_path / "c", cluster.busy,
                     lambda: cluster.scheduler.send_signal(signal.SIGKILL), "stopped answering")
