"""The README's cluster recipe across two machines: a network namespace stands in for the second.

One physical machine: the other "machine" is a network namespace
(:class:`tests.netns.Machine`) joined to this one by a veth link with private
addresses, with its own host name and its own ``/tmp``, the data folder
bind-mounted at the same path (the recipe's shared storage). ``dask
scheduler`` listens on this machine's address on the link (not 127.0.0.1),
one ``dask worker`` runs on the other machine, and ``tinyhar train
--scheduler tcp://...`` runs here: the metrics equal those of the serial run
and the other machine's worker ran tasks; a network partition mid-run (the
link taken down) with no other worker ends the run with a clear error (exit
status 2), no traceback, no hang and no run folder. Needs root; skips with
the reason otherwise.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from tests import dask_cluster
from tests.dask_cluster import Cluster, finish, train
from tests.netns import machine_or_skip

pytest.importorskip("distributed")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(dask_cluster.DASK is None,
                                                   reason="the `dask` command is not installed")]


@pytest.fixture(scope="module")
def definition(tmp_path_factory) -> str:
    return dask_cluster.synthetic_definition(tmp_path_factory.mktemp("syn") / "data")


@pytest.fixture
def machine(definition):
    """The second machine, seeing the data folder, this tree and the Python installation
    (as if installed there at the same paths); removed (its processes killed) after."""
    other = machine_or_skip([Path(definition).parent, Path(dask_cluster.SRC).parent,
                             Path(sys.prefix), Path(sys.base_prefix)])
    yield other
    other.remove()


def _workers(address: str) -> dict[str, tuple[str, int, str]]:
    """Each worker of the cluster: its host name, the tasks it executed, its local folder."""
    from distributed import Client

    def about(dask_worker):
        return socket.gethostname(), dask_worker.state.executed_count, dask_worker.local_directory

    with Client(address, timeout=10) as client:
        return client.run(about)


def _processing(address: str) -> dict[str, int]:
    """Each worker's tasks in hand, as the scheduler sees them."""
    from distributed import Client

    def processing(dask_scheduler):
        return {a: len(w.processing) for a, w in dask_scheduler.workers.items()}

    with Client(address, timeout=10) as client:
        return client.run_on_scheduler(processing)


def test_a_worker_on_another_machine_gives_the_serial_metrics(definition, machine, tmp_path):
    serial = train(definition, tmp_path / "s")  # meanwhile
    cluster = Cluster(workers=1, host=machine.host_address, machines=[machine])
    try:
        finish(train(definition, tmp_path / "c", cluster.address))
        workers = _workers(cluster.address)
    finally:
        cluster.stop()
    finish(serial)
    dask_cluster.assert_serial_metrics(tmp_path / "c", tmp_path / "s")
    # The other machine's worker, reached over the link, ran tasks, under its own host
    # name, with its scratch folder in its own /tmp (not on this machine's).
    hosts = {address.rsplit(":", 1)[0]: about for address, about in workers.items()}
    assert set(hosts) == {f"tcp://{machine.address}", f"tcp://{machine.host_address}"}
    name, executed, scratch = hosts[f"tcp://{machine.address}"]
    assert name == machine.name != socket.gethostname()
    assert executed >= 1
    assert scratch.startswith("/tmp/") and not os.path.exists(scratch)


def test_a_network_partition_mid_run_is_a_clear_error(definition, machine, tmp_path):
    """The other machine's worker is the only one: cut off, it leaves the cluster without a
    worker, and tinyhar gives up after compute.no_workers_timeout_s (20 s) without one.

    The scheduler notices the lost worker after Dask's TCP timeout
    (``distributed.comm.timeouts.tcp``, 30 s by default; here 12 s, near Dask's least of
    11 s: 10 keep-alive probes a second apart after 2 s idle), so the run ends about
    34 s after the cut (measured: 34.2 s twice, on a loaded 2-core machine).
    """
    cluster = Cluster(workers=0, host=machine.host_address, machines=[machine],
                      config={"DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "12s"})
    dask_cluster.assert_abandoned(cluster, definition, tmp_path / "c",
                                  lambda: any(_processing(cluster.address).values()),
                                  machine.cut, "has had no worker")
