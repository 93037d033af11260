"""Tasks that share one feature matrix (compute.map_shared): the serial results on every
scheduler (a Dask cluster: tests/test_training_sessions.py)."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from tinyhar import compute
from tinyhar.models.trees import TreeEnsembleClassifier
from tinyhar.training.trees import fit_fold


@pytest.fixture(scope="module")
def folds():
    """Two classes split by the sign of feature 0, three folds, and the serial answers."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.where(X[:, 0] > 0, "walk", "sit")
    model = TreeEnsembleClassifier(n_estimators=4, max_depth=4, random_state=0)
    shared = {"model": model, "X": X, "y": y}
    parts = np.array_split(np.arange(300), 3)
    splits = [(np.concatenate([p for j, p in enumerate(parts) if j != k]), parts[k])
              for k in range(3)]
    serial = list(compute.map_shared(fit_fold, shared, [None, *splits]))
    return shared, splits, serial


def test_fit_fold_fits_a_fresh_copy_and_learns_the_rule(folds):
    shared, splits, serial = folds
    final, *folds = serial
    assert not hasattr(shared["model"], "classes_")  # the shared model stays unfitted
    assert list(final.classes_) == ["sit", "walk"]
    for (_, b), (model, pred) in zip(splits, folds, strict=True):
        assert list(model.predict(shared["X"][b])) == list(pred)
        assert pred.shape == (len(b),)
        assert np.mean(pred == shared["y"][b]) > 0.9
    direct = TreeEnsembleClassifier(n_estimators=4, max_depth=4, random_state=0)
    assert np.array_equal(direct.fit(shared["X"], shared["y"]).predict(shared["X"]),
                          final.predict(shared["X"]))


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_local_schedulers_give_the_serial_results(folds, scheduler):
    shared, splits, serial = folds
    got = list(compute.map_shared(fit_fold, shared, [None, *splits], scheduler, 2))
    assert np.array_equal(got[0].predict(shared["X"]), serial[0].predict(shared["X"]))
    for (_, mine), (_, theirs) in zip(got[1:], serial[1:], strict=True):
        assert list(mine) == list(theirs)


def test_no_items_and_bad_settings():
    assert list(compute.map_shared(fit_fold, {}, [], "processes")) == []
    with pytest.raises(compute.TinyharError, match="compute.workers"):
        list(compute.map_shared(fit_fold, {}, [None], "threads", workers=0))
    with pytest.raises(compute.TinyharError, match="compute.scheduler"):
        list(compute.map_shared(fit_fold, {}, [None], "dask"))


@pytest.mark.parametrize("address", ["tcp://", "tcp://127.0.0.1", "tcp://:8786",
                                     "tcp://127.0.0.1:99999", "tcp://host:port", "tcp://a b:1"])
def test_a_cluster_address_without_a_host_and_port_is_refused_at_once(address):
    """Not a traceback from Dask's parser nor a 20 s wait for a port that cannot exist."""
    from tinyhar.config import make_config
    from tinyhar.errors import ConfigError

    assert not compute.is_scheduler(address)
    with pytest.raises(ConfigError, match=r"compute\.scheduler: must be .*tcp://host:8786"):
        make_config({"compute": {"scheduler": address}})


@pytest.mark.parametrize("value", [0, -1, "soon", float("inf")])
def test_a_no_workers_timeout_that_is_not_a_positive_time_is_refused(value):
    from tinyhar.config import make_config
    from tinyhar.errors import ConfigError

    with pytest.raises(ConfigError, match=r"compute\.no_workers_timeout_s"):
        make_config({"compute": {"no_workers_timeout_s": value}})
    assert make_config({}).compute.no_workers_timeout_s == compute.NO_WORKERS_TIMEOUT_S == 20
    assert make_config({"compute": {"no_workers_timeout_s": 300}}).compute.no_workers_timeout_s \
        == 300


def test_cluster_addresses_that_are_accepted():
    for address in ("tcp://127.0.0.1:8786", "tcp://head-node.example.org:8786",
                    "tls://10.0.0.1:8786", "tcp://[::1]:8786"):
        assert compute.is_scheduler(address), address


def test_a_cluster_that_cannot_be_reached_is_refused_at_once_naming_the_host(monkeypatch):
    """Not after Dask's client's connect timeout (here 2 s; its retries cannot succeed): a
    host name that does not resolve (``.invalid`` never does, RFC 6761) or a port nothing
    listens on, when the tasks are sent and when the workers are started (the start of a
    run); an address that accepts a connection, and local schedulers, pass."""
    import socket

    from tests.broker import free_port

    monkeypatch.setattr(compute, "CONNECT_TIMEOUT_S", 2.0)
    unknown = "tcp://nosuchhost.invalid:8786"
    message = (r"cannot reach the Dask scheduler at tcp://nosuchhost\.invalid:8786 .*the host "
               r"name 'nosuchhost\.invalid' cannot be resolved .*check the address")
    with pytest.raises(compute.ComputeError, match=message):
        list(compute.map_in_order(abs, [1, 2], unknown))
    with pytest.raises(compute.ComputeError, match=message):
        compute.start_workers(unknown, 2)
    port = free_port()
    with pytest.raises(compute.ComputeError, match=f"nothing listens there .* on port {port}"):
        compute.start_workers(f"tls://127.0.0.1:{port}", 2)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert compute.start_workers(f"tcp://127.0.0.1:{s.getsockname()[1]}", 2) is False
    for scheduler in (*compute.LOCAL_SCHEDULERS, "inproc://nosuchhost.invalid:1"):
        compute.check_reachable(scheduler)


@pytest.mark.parametrize("scheduler", ["serial", "threads"])
def test_the_head_comes_first_and_runs_after_the_items_are_submitted(scheduler):
    started = threading.Event()

    def task(x):
        started.set()
        return -x

    def head():
        if scheduler != "serial":  # a worker has started already: the items went first
            assert started.wait(30)
        return "head"

    got = list(compute.map_in_order(task, [1, 2, 3], scheduler, 2, head=head))
    assert got == ["head", -1, -2, -3]
    assert list(compute.map_in_order(task, [], scheduler, 2, head=head)) == ["head"]


def test_started_worker_processes_run_the_next_tasks():
    assert not compute.start_workers("threads", 2)  # nothing to start ahead
    assert compute.start_workers("processes", 2, modules=("tinyhar.training.trees",))
    assert compute.start_workers("processes", 2)  # already running: kept
    pool = compute._WARM[("processes", 2)]
    assert list(compute.map_in_order(abs, [-1, 2, -3], "processes", 2, head=lambda: 0)) == [
        0, 1, 2, 3]
    assert compute._WARM == {}  # used, then shut down
    with pytest.raises(RuntimeError, match="shutdown"):
        pool.submit(abs, 1)
    assert compute.start_workers("processes", 2)
    compute.stop_workers()  # unused: shut down
    assert compute._WARM == {}


def test_each_thread_keeps_its_own_warnings_and_the_process_state_comes_back():
    """Two tasks on two threads of one worker (a cluster worker with 2 threads): each
    records only its own warnings, however their starts and ends interleave, and the
    process's showwarning and filters are as before once both have left (with
    ``warnings.catch_warnings`` the second to leave restored the first's recorder)."""
    import warnings

    show, filters = warnings.showwarning, list(warnings.filters)
    entered, first_left = threading.Barrier(2), threading.Event()
    got: dict = {}

    def task(name: str, leaves_first: bool) -> None:
        with compute.captured_warnings() as caught:
            entered.wait(10)  # both inside
            for k in range(3):  # the same line three times: all recorded ("always")
                warnings.warn(f"{name} {k}", RuntimeWarning, stacklevel=1)
            if not leaves_first:
                assert first_left.wait(10)  # the other task has left
                warnings.warn(f"{name} after", UserWarning, stacklevel=1)
        got[name] = caught
        if leaves_first:
            first_left.set()

    threads = [threading.Thread(target=task, args=("a", True)),
               threading.Thread(target=task, args=("b", False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert got["a"] == [(RuntimeWarning, f"a {k}") for k in range(3)]
    assert got["b"] == [*((RuntimeWarning, f"b {k}") for k in range(3)), (UserWarning, "b after")]
    assert warnings.showwarning is show and warnings.filters == filters


def test_warnings_of_worker_processes_are_shown_here_in_task_order():
    import functools
    import warnings

    with pytest.warns(Warning) as shown:
        assert list(compute.map_in_order(functools.partial(warnings.warn, category=FutureWarning),
                                         ["first", "second", "third"], "processes", 2)) == [
            None] * 3
        assert list(compute.map_shared(warnings.warn, "shared", [UserWarning, RuntimeWarning],
                                       "processes", 2)) == [None, None]
    assert [(w.category, str(w.message)) for w in shown] == [
        (FutureWarning, "first"), (FutureWarning, "second"), (FutureWarning, "third"),
        (UserWarning, "shared"), (RuntimeWarning, "shared")]


def test_a_category_other_processes_cannot_import_comes_back_by_name():
    import warnings

    class Local(UserWarning):
        pass

    with compute.captured_warnings() as caught:
        warnings.warn("x", Local, stacklevel=1)
    assert caught == [(UserWarning, "Local: x")]


def test_local_schedulers_do_not_import_dask_distributed():
    """Given a scheduler's name, dask.compute imports dask.distributed (about 0.3 s, at the
    first tasks) to look for a client; the local batches pass the scheduler's function."""
    pytest.importorskip("dask")
    code = ("import sys\n"
            "from tinyhar import compute\n"
            "assert list(compute.map_in_order(abs, [-1, -2, -3], 'processes', 2)) == [1, 2, 3]\n"
            "assert list(compute.map_in_order(abs, [-4, -5], 'threads', 2)) == [4, 5]\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'distributed'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert out.stdout.decode().strip() == "[]"


def _collector_state(_: int) -> tuple[bool, int]:
    import gc

    return gc.isenabled(), gc.get_freeze_count()


def test_worker_processes_collect_garbage_and_leave_the_inherited_objects_frozen():
    """The fork server imports with the collector off (tinyhar._forkserver); each worker
    forked from it has it on again, with the objects it inherited frozen."""
    pytest.importorskip("dask")
    for enabled, frozen in compute.map_in_order(_collector_state, [0, 1, 2], "processes", 2):
        assert enabled and frozen > 10_000


def test_task_groups_join_light_items_and_keep_heavy_ones_alone():
    share = compute.TASKS_PER_WORKER * 2  # items of weight 1 on 2 workers: 1 per share
    assert compute.task_groups([1.0] * share, 2) == [slice(i, i + 1) for i in range(share)]
    groups = compute.task_groups([1.0] * (10 * share), 2)  # 10 light items per share
    assert groups == [slice(i, i + 10) for i in range(0, 10 * share, 10)]
    weights = [1.0] * 50 + [1000.0] + [1.0] * 50  # a heavy item between light ones
    groups = compute.task_groups(weights, 2)
    assert slice(50, 51) in groups  # alone
    covered = [i for g in groups for i in range(len(weights))[g]]
    assert covered == list(range(len(weights)))  # every item once, in order
    assert compute.task_groups([], 2) == [] and compute.task_groups([0, 0], 2) == [
        slice(0, 2)]


@pytest.mark.parametrize("scheduler", ["serial", "threads", "processes"])
def test_grouped_items_give_each_result_in_order_after_the_head(scheduler):
    import operator

    items = list(range(3 * compute.TASKS_PER_WORKER * 2))  # 3 light items per share
    got = list(compute.map_in_order(operator.neg, items, scheduler, 2, head=lambda: "head",
                                    weights=[1.0] * len(items)))
    assert got == ["head", *(-x for x in items)]
    assert list(compute.map_in_order(operator.neg, items, scheduler, 2,
                                     weights=[1.0] * len(items))) == [-x for x in items]


def test_a_killed_worker_process_is_a_clear_error_not_a_broken_pool():
    """A worker killed mid-run (e.g. by the out-of-memory killer) ends the run with a
    ComputeError saying what to do, for per-item tasks and for tasks sharing a matrix."""
    import operator
    import signal

    pytest.importorskip("dask")
    with pytest.raises(compute.ComputeError, match="worker process ended.*compute.workers"):
        list(compute.map_in_order(signal.raise_signal, [signal.SIGKILL], "processes", 2))
    with pytest.raises(compute.ComputeError, match="worker process ended"):
        list(compute.map_shared(operator.call, signal.raise_signal, [signal.SIGKILL],
                                "processes", 2))
    # the next pool works
    assert list(compute.map_in_order(abs, [-1, 2], "processes", 2)) == [1, 2]


def test_a_task_that_kills_its_cluster_worker_is_a_clear_error():
    """On a dask.distributed cluster a task whose worker dies is retried on another worker;
    once it has ended too many (here 1), the run stops with a ComputeError."""
    import signal

    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                     dashboard_address=":0", processes=True) as cluster:
        with pytest.raises(compute.ComputeError, match="ended the Dask worker"):
            list(compute.map_in_order(signal.raise_signal, [signal.SIGKILL],
                                      cluster.scheduler_address))


def test_a_cluster_without_workers_is_a_clear_error(monkeypatch):
    """A scheduler whose workers all ended (or were cut off, tests/test_cluster_machines.py)
    would hold the tasks forever: the run is abandoned after ``no_workers_timeout_s``
    (compute.no_workers_timeout_s, here 1 s) without a worker."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(compute, "WORKERS_CHECK_S", 0.2)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=":0", processes=False) as cluster:
        with pytest.raises(compute.ComputeError, match="has had no worker for 1 s.*"
                                                       "Start `dask worker`"):
            list(compute.map_in_order(abs, [-1, 2], cluster.scheduler_address,
                                      no_workers_timeout_s=1.0))
        cluster.scale(1)
        cluster.wait_for_workers(1)
        assert list(compute.map_in_order(abs, [-1, 2], cluster.scheduler_address)) == [1, 2]


def test_the_no_workers_timeout_of_shared_tasks_is_a_setting(monkeypatch):
    """map_shared's ``no_workers_timeout_s`` too; the message names the setting (an adaptive
    cluster may need longer to bring up a worker)."""
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(compute, "WORKERS_CHECK_S", 0.2)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=":0", processes=False) as cluster:
        with pytest.raises(compute.ComputeError, match=r"has had no worker for 0\.5 s.*"
                           r"compute\.no_workers_timeout_s"):
            list(compute.map_shared(fit_fold, {}, [None], cluster.scheduler_address,
                                    no_workers_timeout_s=0.5))


def test_training_takes_the_no_workers_timeout_from_its_configuration(tmp_path, monkeypatch):
    """A training run on a cluster without workers stops after the configured time."""
    from tinyhar.config import make_config
    from tinyhar.datasets.synthetic import synthesize
    from tinyhar.training import train

    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(compute, "WORKERS_CHECK_S", 0.2)
    synthesize(tmp_path / "data", 3, 0.05, session_hours=0.025, seed=1)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=":0", processes=False) as cluster:
        cfg = make_config({"dataset": {"name": str(tmp_path / "data" / "data.yaml")},
                           "evaluation": {"test_subjects": ["s003"], "cv_folds": 2},
                           "compute": {"scheduler": cluster.scheduler_address,
                                       "no_workers_timeout_s": 0.5}}, "test")
        with pytest.raises(compute.ComputeError, match=r"has had no worker for 0\.5 s"):
            train(cfg, tmp_path / "run")


def test_the_clusters_own_no_workers_timeout_is_a_clear_error():
    """A cluster configured to fail tasks that wait too long for a worker
    (``distributed.scheduler.no-workers-timeout``) ends the run with ComputeError."""
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.no-workers-timeout": "1s"}), \
            distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp",
                                     dashboard_address=":0", processes=False) as cluster:
        with pytest.raises(compute.ComputeError, match=r"found no worker to run a task .*"
                                                       "Start `dask worker`"):
            list(compute.map_in_order(abs, [-1, 2], cluster.scheduler_address))


def test_the_abandoned_run_messages_end_alike():
    """A lost cluster and a killed worker process: what happened, then the one tail (the run
    is abandoned, what to do, run again with the cached features)."""
    from types import SimpleNamespace

    tail = ("; the run is abandoned, nothing was written. {}, and run again (cached session "
            "features are reused)")
    lost = str(compute._lost("tcp://10.0.0.1:8786", OSError("gone")))
    assert lost == ("the Dask cluster at tcp://10.0.0.1:8786 stopped answering (OSError: gone)"
                    + tail.format("Restart the cluster"))
    pool = SimpleNamespace(_processes={1: SimpleNamespace(exitcode=-9)})
    died = str(compute._worker_died(pool, 4))
    assert died.startswith("a worker process ended with SIGKILL (exit code -9) while computing "
                           "tasks; the run is abandoned, nothing was written. SIGKILL usually")
    assert "use fewer than 4 workers" in died
    assert died.endswith("a machine with more memory, and run again (cached session features "
                         "are reused)")
