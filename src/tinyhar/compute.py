"""Where the parallel parts of a training run: this process, local workers, or a Dask cluster.

The parallel parts are the per-session reading + windowing + features
(:mod:`tinyhar.features.table`) and the cross-validation folds with the final
fit (:func:`tinyhar.training.trees.fit_fold`). Each is a list of independent
tasks; :func:`map_in_order` (and :func:`map_shared`, for tasks that all read
one feature matrix, sent to each worker once) runs them and yields their
results in the tasks' order, so the outcome does not depend on the scheduler
(same rows, same metrics). Warnings a task gives in another process (a
local worker process, a cluster's worker) come back with its result and are
shown in this process, in the tasks' order, as if the task had run here
(:func:`captured_warnings`).

Schedulers (``compute.scheduler`` in the configuration, ``--scheduler`` on
the command line):

``serial``
    In this process, one task after the other (the default).
``threads``, ``processes``
    Dask's local schedulers with ``compute.workers`` workers
    (:func:`dask.compute`); ``processes`` sidesteps the GIL for the
    Python-heavy parts.
``tcp://host:port`` (any address dask.distributed accepts)
    An existing dask.distributed cluster (start one with ``dask scheduler``
    and ``dask worker tcp://host:8786`` on each machine). The data must be
    on storage every worker can read at the same path. A cluster that cannot
    be reached, goes away mid-run, or has no worker for
    ``compute.no_workers_timeout_s`` (:data:`NO_WORKERS_TIMEOUT_S` by default),
    raises :class:`ComputeError` (no hang:
    connection and task timeouts apply; a host name that does not resolve or
    a port nothing listens on is refused at once, :func:`check_reachable`).

A local worker process that ends abruptly (killed, e.g. by the kernel's
out-of-memory killer) also raises :class:`ComputeError`, with its exit code.

Source: Dask Development Team (2016), "Dask: Library for dynamic task
scheduling", https://dask.org; Rocklin (2015), SciPy, "Dask: Parallel
computation with blocked algorithms and task scheduling".
"""

from __future__ import annotations

import functools
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import contextmanager
from typing import Any

from tinyhar.errors import TinyharError

LOCAL_SCHEDULERS = ("serial", "threads", "processes")
"""Scheduler names that need no cluster."""

TASKS_PER_WORKER = 64
"""With item ``weights``, :func:`map_in_order` joins consecutive light items into one task
so that the local workers get about this many tasks each (:func:`task_groups`): a task
costs ~1 ms of this process's CPU (Dask, pickling) and more in the worker, which for 6,000
one-minute sessions was a third of the work."""

BATCH_PER_WORKER = 32
"""Local tasks per worker in one :func:`dask.compute` call (bounds the results held: two
calls are in flight). The features of 100 one-hour sessions on 2 workers took 6.1-6.2 s
in three runs with 8, 5.5-5.8 s with 32 (``benchmarks/scale.py``, 100 h)."""

CONNECT_TIMEOUT_S = 20.0
"""Seconds to wait for a dask.distributed scheduler to answer."""

NO_WORKERS_TIMEOUT_S = 20.0
"""Seconds a dask.distributed cluster may have no worker while tasks wait (a worker being
restarted, or joining) before the run is abandoned: the scheduler of a cluster whose every
worker ended, or was cut off by the network, holds the tasks forever. The default of
``compute.no_workers_timeout_s`` (:func:`map_in_order`'s ``no_workers_timeout_s``): an
adaptive cluster that starts a worker only when tasks come may need more."""

WORKERS_CHECK_S = 2.0
"""While a task's result is awaited, the scheduler is asked this often how many workers
it has (one small message)."""


class ComputeError(TinyharError):
    """The configured scheduler cannot run the tasks (an unreachable or lost cluster, a
    worker process that was killed)."""


SCHEDULER_HELP = "serial, threads, processes or a dask.distributed address (tcp://host:8786)"
"""What ``compute.scheduler`` allows, for messages."""


_ADDRESS = re.compile(r"[a-z][a-z0-9+.-]*://(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):([0-9]{1,5})")
"""A cluster address ``proto://host:port`` (an IPv6 host in brackets)."""


def is_scheduler(value: object) -> bool:
    """Whether ``value`` is a local scheduler name or an address ``proto://host:port`` (a host
    and a port 1 to 65535: Dask's parser raises on a missing one, and a connection to a port
    that cannot exist only fails after the connect timeout)."""
    if not isinstance(value, str):
        return False
    address = _ADDRESS.fullmatch(value)
    return value in LOCAL_SCHEDULERS or (address is not None
                                         and 1 <= int(address.group(2)) <= 65535)


def check_scheduler(scheduler: str) -> str:
    """Validate a scheduler name or address; returns it.

    Raises
    ------
    TinyharError
        If :func:`is_scheduler` says no.
    """
    if is_scheduler(scheduler):
        return scheduler
    raise TinyharError(f"compute.scheduler: {scheduler!r}: must be {SCHEDULER_HELP}")


def map_in_order(func: Callable[[Any], Any], items: Sequence[Any], scheduler: str = "serial",
                 workers: int = 2, task_timeout_s: float | None = None,
                 head: Callable[[], Any] | None = None,
                 weights: Sequence[float] | None = None,
                 no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S) -> Iterator[Any]:
    """``func(item)`` for each item, yielded in the items' order.

    Parameters
    ----------
    func : callable
        A module-level function (picklable for ``processes`` and clusters).
    items : sequence
        Picklable task arguments.
    scheduler : str
        ``serial``, ``threads``, ``processes`` or a dask.distributed address.
    workers : int
        Local workers (threads or processes), >= 1.
    task_timeout_s : float, optional
        With a cluster: the longest wait for one result before giving up.
    head : callable, optional
        A task of this process, ``head()``, whose result comes first (before
        ``func(items[0])``): e.g. the first session, already read here. It
        runs after the items have gone to the workers (local or cluster), so
        they do not wait for it.
    weights : sequence of float, optional
        The cost of each item (e.g. :attr:`tinyhar.datasets.sessions.SessionSource.nbytes`,
        bytes on disk). With ``threads``/``processes``, consecutive light
        items then go to a worker as one task (:func:`task_groups`: about
        :data:`TASKS_PER_WORKER` tasks per worker), each item's result still
        yielded on its own; items as heavy as a group's share stay alone.
    no_workers_timeout_s : float
        With a cluster: how long it may have no worker while tasks wait before
        the run is abandoned (``compute.no_workers_timeout_s``, s).

    Yields
    ------
    object
        ``head()`` if given, then ``func(item)``, in order. With
        ``threads``/``processes`` the tasks run in batches of
        ``BATCH_PER_WORKER * workers`` (:func:`dask.compute` on one worker
        pool kept for all batches, two batches at a time), so at most two
        batches of results wait to be consumed.

    Raises
    ------
    ComputeError
        The cluster cannot be reached, went away, or had no worker for
        ``no_workers_timeout_s``.
    TinyharError
        A bad scheduler name, or ``workers`` < 1.
    """
    _check(scheduler, workers)
    items = list(items)
    if weights is not None and scheduler in ("threads", "processes"):
        groups = task_groups(weights, workers)
        if len(groups) < len(items):
            grouped = map_in_order(functools.partial(_each, func), [items[g] for g in groups],
                                   scheduler, workers, task_timeout_s, head,
                                   no_workers_timeout_s=no_workers_timeout_s)
            if head is not None:
                yield next(grouped)
            for results in grouped:
                yield from results
            return
    if scheduler == "serial" or not items:
        if head is not None:
            yield head()
        yield from map(func, items)
        return
    if scheduler == "threads":
        dask = _require("dask", scheduler)
        yield from _local(dask, func, items, scheduler, workers, head)
        return
    kept = functools.partial(_keep_warnings, func)  # another process: its warnings come back
    if scheduler == "processes":
        dask = _require("dask", scheduler)
        yield from _shown(_local(dask, kept, items, scheduler, workers, head))
        return
    yield from _shown(_on_cluster(kept, items, scheduler, task_timeout_s, head=head,
                                  no_workers_timeout_s=no_workers_timeout_s))


def task_groups(weights: Sequence[float], workers: int) -> list[slice]:
    """Consecutive items joined into tasks of about ``sum(weights) / (workers *
    TASKS_PER_WORKER)`` each.

    Parameters
    ----------
    weights : sequence of float, shape (n_items,)
        Cost of each item (>= 0; any unit).
    workers : int
        Workers that share the tasks.

    Returns
    -------
    list of slice
        The items of each task, in order, covering ``range(n_items)``: an item
        starts a new task when adding it would pass that share (so an item
        heavier than the share is a task of its own); equal weights of fewer
        than ``workers * TASKS_PER_WORKER`` items give one item per task.
    """
    weights = [max(0.0, float(w)) for w in weights]
    share = sum(weights) / (max(1, workers) * TASKS_PER_WORKER)
    groups, start, held = [], 0, 0.0
    for i, w in enumerate(weights):
        if i > start and held + w > share:
            groups.append(slice(start, i))
            start, held = i, 0.0
        held += w
    if start < len(weights):
        groups.append(slice(start, len(weights)))
    return groups


def _each(func: Callable[[Any], Any], items: list) -> list:
    """``[func(item) for item in items]``: one task of grouped items."""
    return [func(item) for item in items]


def _check(scheduler: str, workers: int) -> None:
    """Refuse a bad scheduler name or fewer than one worker."""
    check_scheduler(scheduler)
    if workers < 1:
        raise TinyharError(f"compute.workers: must be >= 1, not {workers}")


def _local(dask, func, items: list, scheduler: str, workers: int, head=None) -> Iterator:
    """Batches on Dask's local threads or processes, one pool for all of them (the
    processes of :func:`start_workers` when they are running), shut down after the last."""
    from concurrent.futures import ThreadPoolExecutor

    pool = _WARM.pop((scheduler, workers), None)
    if pool is None:
        pool = ThreadPoolExecutor(workers) if scheduler == "threads" else _process_pool(workers)
    yield from _batches(dask, func, items, scheduler, pool, workers, head)


def _process_pool(workers: int, initializer=None, initargs: tuple = (),
                  preload: Sequence[str] = ()):
    """Local worker processes, forked from a fork server (:func:`_worker_context`)."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers, mp_context=_worker_context(preload or WORKER_MODULES),
                               initializer=initializer, initargs=initargs)


def _worker_context(preload: Sequence[str] = ()):
    """How worker processes start: never a fork of this process, which may hold threads
    (BLAS, the progress display) whose locks a forked child would inherit.

    Where the platform has it, a fork server: a fresh single-threaded Python
    process, started like spawn, that imports ``preload`` (default
    :data:`WORKER_MODULES`) once (:func:`multiprocessing.set_forkserver_preload`)
    and forks each worker from itself, so the workers start with the modules
    imported, instead of each spending about 1.5 s of CPU importing them (on a
    2-core machine that competes with this process's own imports). The
    server is started once per process (by :func:`start_workers` or the first
    pool); later pools fork from it whatever their ``preload``. Elsewhere
    (Windows), spawn.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # used when the server starts, first tinyhar._forkserver: no garbage collection during
    # the imports, in the workers after a freeze; the server's exit skips the teardown
    context.set_forkserver_preload(["tinyhar._forkserver", *(preload or WORKER_MODULES)])
    return context


def _batches(dask, func, items: list, scheduler: str, pool, workers: int,
             head=None) -> Iterator:
    """:func:`dask.compute` on ``pool`` in batches of ``BATCH_PER_WORKER * workers``; then
    ``pool`` is shut down (before the last batch's results are consumed: the workers'
    memory is free by then). ``head()``, if given, runs here once the first batches
    are submitted; its result comes first.

    Two batches are in flight at a time (each :func:`dask.compute` call in a
    thread of this process): while the last tasks of one batch run, the
    workers that are done take the next batch's, instead of waiting for the
    batch to end. Tasks go to the workers one at a time (``chunksize=1``),
    each to the next idle worker: Dask's processes scheduler otherwise sends
    chunks of 6, and of a batch of 16 on 2 workers one worker ran 10 tasks
    while the other, done after 6, waited.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    batch = BATCH_PER_WORKER * workers
    starts = deque(range(0, len(items), batch))

    # the scheduler's function, not its name: for a name, dask.compute imports
    # dask.distributed (about 0.3 s, here at the first tasks) to look for a client
    if scheduler == "threads":
        from dask.threaded import get
    else:
        from dask.multiprocessing import get

    def compute(a: int) -> tuple:
        call = dask.delayed(_call_opaque, pure=False)
        tasks = [call(func, _Opaque(item)) for item in items[a:a + batch]]
        return dask.compute(*tasks, scheduler=get, pool=pool, chunksize=1)

    feeder = ThreadPoolExecutor(2, thread_name_prefix="tinyhar-batches")
    try:
        running = deque(feeder.submit(compute, starts.popleft()) for _ in range(2) if starts)
        if head is not None:
            yield head()
        while running:
            try:
                results = running.popleft().result()
            except BrokenProcessPool as exc:
                raise _worker_died(pool, workers) from exc
            if starts:
                running.append(feeder.submit(compute, starts.popleft()))
            elif not running:
                pool.shutdown(wait=True)
            yield from results
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # ends the batches still running
        feeder.shutdown(wait=True, cancel_futures=True)


FEATURE_MODULES = ("tinyhar.features.table", "tinyhar.features.engine", "tinyhar.features.streams",
                   "tinyhar.datasets.sessions", "tinyhar.models.pipeline",
                   "tinyhar.windows.windowing", "pyarrow.parquet", "pyarrow.dataset",
                   "dask.multiprocessing")
"""What the per-session feature tasks import: their code, the classes of the pipeline
they receive (:meth:`~tinyhar.models.pipeline.HarPipeline.features_only`: no scikit-learn),
and the task runner of Dask's processes scheduler (skipped where Dask is not installed)."""

class _Opaque:
    """A task's argument that Dask passes on as it is.

    Dask looks inside the arguments of a delayed call (dataclasses, tuples,
    lists, dicts, recursively) for other Dask objects; for a session job,
    whose feature plan is a tree of dataclasses, that took about 35 ms of
    this process's CPU per task, competing with the workers. An instance of
    a plain class is not looked into.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _call_opaque(func: Callable[[Any], Any], item: _Opaque) -> Any:
    """``func(item.value)``: a task of :func:`_batches`."""
    return func(item.value)


WORKER_MODULES = (*FEATURE_MODULES, "tinyhar.models.trees")
"""What the workers of a training import: the feature tasks' modules, and scikit-learn's
trees for the cross-validation folds (:func:`tinyhar.training.trees.fit_fold`). The fork
server imports them once for all workers (with spawn, each worker)."""

_WARM: dict[tuple[str, int], Any] = {}
"""The worker processes of :func:`start_workers`, by (scheduler, workers)."""


def start_workers(scheduler: str, workers: int,
                  modules: Sequence[str] = WORKER_MODULES) -> bool:
    """Start the local worker processes now, ahead of their first tasks.

    Worker processes take seconds to start (Python, then NumPy, pandas,
    scikit-learn: the imports of :data:`WORKER_MODULES`). With a fork server
    (:func:`_worker_context`) this starts the server, which imports them once
    while this process is still importing and reading the first session (on
    a core that this one leaves idle); the workers are forked from it, ready,
    at the first tasks. With spawn, the worker processes start now. The next
    :func:`map_in_order` call with the same scheduler and workers runs on
    them and shuts them down after its last task; :func:`stop_workers` shuts
    down workers that no call used (a run that failed before).

    A cluster address is checked now instead (:func:`check_reachable`), so
    that a wrong address stops a run before it reads anything.

    Parameters
    ----------
    scheduler : str
        Only ``processes`` starts anything: threads start at once and a
        cluster's workers are already running.
    workers : int
        Number of worker processes.
    modules : sequence of str
        Modules the workers need: the fork server imports them once (each
        worker, with spawn). :data:`FEATURE_MODULES` for a job whose workers
        only compute session features; the default also has scikit-learn's
        trees for the cross-validation folds (about 0.6 s more CPU).

    Returns
    -------
    bool
        Whether worker processes are running for (scheduler, workers).

    Raises
    ------
    ComputeError
        A cluster address that cannot be reached.
    """
    if scheduler not in LOCAL_SCHEDULERS:
        check_reachable(scheduler)
    if scheduler != "processes" or workers < 1:
        return False
    if (scheduler, workers) not in _WARM:
        import importlib.util

        if importlib.util.find_spec("dask") is None:  # map_in_order says how to install it
            return False
        pool = _process_pool(workers, _import_all, (tuple(modules),), preload=modules)
        if _worker_context(modules).get_start_method() == "forkserver":
            from multiprocessing import forkserver

            # the server starts importing now; the workers are forked from it at the first
            # tasks, in milliseconds (a submission now would wait for its imports)
            forkserver.ensure_running()
        else:
            for _ in range(workers):  # spawns one process per submission while none is idle
                pool.submit(int)
        _WARM[(scheduler, workers)] = pool
    return True


def stop_workers() -> None:
    """Shut down the worker processes of :func:`start_workers` that no task used."""
    while _WARM:
        _, pool = _WARM.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def _import_all(modules: tuple[str, ...]) -> None:
    """Worker-process initializer of :func:`start_workers`."""
    import importlib

    for name in modules:
        importlib.import_module(name)


def map_shared(func: Callable[[Any, Any], Any], shared: Any, items: Sequence[Any],
               scheduler: str = "serial", workers: int = 2,
               task_timeout_s: float | None = None,
               no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S) -> Iterator[Any]:
    """``func(shared, item)`` for each item, yielded in the items' order.

    Like :func:`map_in_order`, for tasks that all read one large object (the
    feature matrix of the cross-validation folds): ``shared`` reaches each
    worker once, not with every task.

    Parameters
    ----------
    func : callable
        A module-level function ``func(shared, item)``.
    shared : object
        Picklable; read, never changed, by the tasks.
    items, scheduler, workers, task_timeout_s, no_workers_timeout_s
        As :func:`map_in_order`.

    Yields
    ------
    object
        ``func(shared, item)``, in order. ``serial`` and ``threads`` pass
        ``shared`` itself (one memory, nothing copied); ``processes`` sends it to
        each worker process once, as it starts; a cluster receives it once by
        ``Client.scatter(..., broadcast=True)`` and its tasks refer to it.
        So with ``processes`` each worker holds a copy (memory: ``workers`` x
        the feature matrix); ``threads`` holds none, and tree fitting, which
        releases the GIL, runs as fast on threads.

    Raises
    ------
    ComputeError, TinyharError
        As :func:`map_in_order`.
    """
    _check(scheduler, workers)
    items = list(items)
    if scheduler in ("serial", "threads") or not items:
        yield from map_in_order(functools.partial(func, shared), items, scheduler, workers)
        return
    if scheduler == "processes":
        dask = _require("dask", scheduler)
        pool = _process_pool(workers, _install_shared, (shared,))
        task = functools.partial(_keep_warnings, functools.partial(_call_with_shared, func))
        yield from _shown(_batches(dask, task, items, scheduler, pool, workers))
        return
    yield from _shown(_on_cluster(functools.partial(_keep_warnings, func), items, scheduler,
                                  task_timeout_s, shared=[shared],
                                  no_workers_timeout_s=no_workers_timeout_s))


_SHARED: Any = None
"""In a worker process of :func:`map_shared`: the object its tasks share."""


def _install_shared(shared: Any) -> None:
    """Worker-process initializer of :func:`map_shared`: keep ``shared`` for the tasks."""
    global _SHARED
    _SHARED = shared


def _call_with_shared(func: Callable[[Any, Any], Any], item: Any) -> Any:
    """A task of :func:`map_shared` in a worker process."""
    return func(_SHARED, item)


class _Warned:
    """A task's result and the warnings it gave, as ``(category, message)`` pairs."""

    __slots__ = ("result", "warnings")

    def __init__(self, result: Any, caught: list[tuple[type[Warning], str]]) -> None:
        self.result = result
        self.warnings = caught


def _keep_warnings(func: Callable[..., Any], *args: Any) -> _Warned:
    """``func(*args)`` in a worker, with the warnings it gave (:func:`captured_warnings`)."""
    with captured_warnings() as caught:
        result = func(*args)
    return _Warned(result, caught)


def _shown(results: Iterator[Any]) -> Iterator[Any]:
    """The tasks' results; the warnings each gave in a worker are shown here first."""
    for result in results:
        if isinstance(result, _Warned):
            for category, message in result.warnings:
                warnings.warn(message, category, stacklevel=2)
            result = result.result
        yield result


_CAPTURE_LOCK = threading.Lock()
_CAPTURE = threading.local()  # .caught: the list of the current thread's task, if any
_capture_state: dict[str, Any] = {"active": 0, "saved": None, "show": None}


@contextmanager
def captured_warnings() -> Iterator[list[tuple[type[Warning], str]]]:
    """Record the warnings this thread gives, as ``(category, message)`` pairs.

    For tasks that run in a worker process (a local one or a cluster's, where
    their warnings would otherwise go to the worker's stderr or log, never to
    the user): every warning the task's thread gives is recorded (the filter
    action is ``always`` meanwhile, so a repeated warning is not lost to
    Python's once-per-location rule) and sent back with the result. Unlike
    :class:`warnings.catch_warnings`, which swaps process-wide state and is
    not thread-safe, it keeps one list per thread: a cluster worker running
    several tasks on its threads gives each task its own warnings, and the
    process's filters and ``warnings.showwarning`` are restored when the last
    task leaves. Warnings of other threads meanwhile (the worker's own, or
    threads a task starts) are shown as before, not recorded.

    Yields
    ------
    list of (type, str)
        Filled as the warnings are given; a category that another process
        could not import (a class defined inside a function) is recorded as
        ``UserWarning`` with its name in the message.
    """
    caught: list[tuple[type[Warning], str]] = []
    state = _capture_state
    with _CAPTURE_LOCK:
        if state["active"] == 0:
            saved = warnings.catch_warnings()
            saved.__enter__()
            state["saved"], state["show"] = saved, warnings.showwarning
            warnings.simplefilter("always")
            warnings.showwarning = _record_warning
        state["active"] += 1
    outer = getattr(_CAPTURE, "caught", None)
    _CAPTURE.caught = caught
    try:
        yield caught
    finally:
        _CAPTURE.caught = outer
        with _CAPTURE_LOCK:
            state["active"] -= 1
            if state["active"] == 0:
                saved, state["saved"], state["show"] = state["saved"], None, None
                saved.__exit__(None, None, None)


def _record_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` while :func:`captured_warnings` is active."""
    caught = getattr(_CAPTURE, "caught", None)
    if caught is None:  # not a capturing task's thread: as before
        show = _capture_state["show"]
        if show is None:  # the last task left while this warning was on its way
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        else:
            show(message, category, filename, lineno, file, line)
        return
    text = str(message)
    module = sys.modules.get(category.__module__)
    if getattr(module, category.__qualname__, None) is not category:
        category, text = UserWarning, f"{category.__name__}: {text}"
    caught.append((category, text))


def _on_cluster(func, items: list, address: str, task_timeout_s: float | None,
                shared: list | None = None, head=None,
                no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S) -> Iterator:
    """Submit every item to a dask.distributed cluster; yield results in order.

    With ``shared`` (a one-element list), ``shared[0]`` is scattered to every
    worker once and each task is ``func(shared[0], item)``. ``head()``, if
    given, runs here once the items are submitted; its result comes first.
    A cluster without a worker for ``no_workers_timeout_s`` ends the run (:func:`_result`).
    """
    Client = _require("distributed", address).Client
    with _quiet_client_log():
        yield from _client_results(Client, func, items, address, task_timeout_s, shared, head,
                                   no_workers_timeout_s)


@contextmanager
def _quiet_client_log() -> Iterator[None]:
    """Mute ``distributed.client``'s own log (its reconnect errors come with tracebacks)
    while tinyhar talks to a cluster: a lost or unreachable cluster is reported once, as a
    :class:`ComputeError` that says what to do."""
    import logging

    log = logging.getLogger("distributed.client")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        log.setLevel(level)


def _client_results(Client, func, items: list, address: str, task_timeout_s: float | None,
                    shared: list | None, head=None,
                    no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S) -> Iterator:
    """The results of :func:`_on_cluster`, in order."""
    check_reachable(address)  # at once: Dask's client would retry until its timeout
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ComputeError(f"{_cannot_reach(address)} within {CONNECT_TIMEOUT_S:g} s ({exc}); "
                           f"{_START_IT}") from exc
    try:
        try:
            if shared is None:
                futures = client.map(func, items, pure=False)
            else:  # (a copy for each worker: the cluster needs one first)
                _wait_for_a_worker(client, address, no_workers_timeout_s)
                [data] = client.scatter(shared, broadcast=True, hash=False,
                                        timeout=CONNECT_TIMEOUT_S)
                futures = [client.submit(func, data, item, pure=False) for item in items]
        except (OSError, TimeoutError, CancelledError) as exc:
            raise _lost(address, exc) from exc
        if head is not None:
            yield head()
        from distributed import KilledWorker
        from distributed.scheduler import NoValidWorkerError, NoWorkerError

        for future in futures:
            try:
                yield _result(client, future, address, task_timeout_s, no_workers_timeout_s)
            except (OSError, TimeoutError, CancelledError) as exc:
                raise _lost(address, exc) from exc
            except KilledWorker as exc:  # the task's worker died each time it ran it
                raise ComputeError(_abandoned(
                    f"a task ended the Dask worker running it, each time the cluster at "
                    f"{address} tried it ({exc})",
                    "A worker that is killed usually ran out of memory: give the workers "
                    "more memory (`dask worker --memory-limit`) or fewer threads each"
                )) from exc
            except (NoWorkerError, NoValidWorkerError) as exc:  # the cluster's own no-workers
                raise ComputeError(_abandoned(  # timeout, or workers without what a task needs
                    f"the Dask scheduler at {address} found no worker to run a task ({exc})",
                    "Start `dask worker` on each worker machine (or remove the cluster's "
                    "distributed.scheduler.no-workers-timeout)"
                )) from exc
            finally:
                future.release()
    finally:
        client.close(timeout=5)


def _result(client, future, address: str, timeout: float | None,
            no_workers_timeout_s: float = NO_WORKERS_TIMEOUT_S) -> Any:
    """``future.result(timeout)``, but abandon the run (:class:`ComputeError`) once the
    cluster has had no worker for ``no_workers_timeout_s`` (asked every
    :data:`WORKERS_CHECK_S`), rather than wait for one forever."""
    import time

    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    start = time.monotonic()
    alone_since = None
    while True:
        left = None if timeout is None else timeout - (time.monotonic() - start)
        if left is not None and left <= 0:
            raise TimeoutError(f"no result within {timeout:g} s")
        if done.wait(WORKERS_CHECK_S if left is None else min(WORKERS_CHECK_S, left)):
            break
        now = time.monotonic()
        if client.nthreads(callback_timeout=CONNECT_TIMEOUT_S):
            alone_since = None
        elif alone_since is None:
            alone_since = now
        elif now - alone_since >= no_workers_timeout_s:
            raise _no_workers(address, no_workers_timeout_s)
    return future.result(timeout=left)


def _wait_for_a_worker(client, address: str, no_workers_timeout_s: float) -> None:
    """Return once the cluster has a worker; :func:`_no_workers` after ``no_workers_timeout_s``
    without one (a cluster that starts workers on demand gets that long)."""
    try:
        client.wait_for_workers(1, timeout=no_workers_timeout_s)
    except TimeoutError as exc:
        raise _no_workers(address, no_workers_timeout_s) from exc


def _no_workers(address: str, seconds: float) -> ComputeError:
    """The error of a cluster that has had no worker for ``seconds``."""
    return ComputeError(_abandoned(
        f"the Dask cluster at {address} has had no worker for {seconds:g} s (each ended or "
        "was cut off, or none started)",
        "Start `dask worker` on each worker machine (or restart the cluster; a cluster that "
        "starts workers on demand may need a longer compute.no_workers_timeout_s)"))


_START_IT = "start it (`dask scheduler`) and its workers, or use the serial scheduler"
"""What to do about a Dask scheduler that cannot be reached."""


def _cannot_reach(address: str) -> str:
    """The start of the message of a scheduler address that cannot be reached."""
    return (f"cannot reach the Dask scheduler at {address} (the scheduler setting: "
            "compute.scheduler or --scheduler)")


def check_reachable(scheduler: str) -> None:
    """Refuse at once a cluster address that cannot be reached, instead of waiting for Dask's
    client to give up after :data:`CONNECT_TIMEOUT_S` (its retries cannot succeed).

    For a ``tcp://`` or ``tls://`` address the host name is resolved
    (:func:`socket.getaddrinfo`) and one TCP connection to the port is opened
    and closed at once (the scheduler sees a client that leaves before its
    handshake). Local scheduler names and other kinds of address pass
    unchecked.

    Parameters
    ----------
    scheduler : str
        A scheduler name or a dask.distributed address ``proto://host:port``.

    Raises
    ------
    ComputeError
        The host name does not resolve, nothing listens on the port
        (connection refused), the host cannot be reached (no route), or it
        does not accept the connection within :data:`CONNECT_TIMEOUT_S`;
        the message names the host and port and says what to do.
    """
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(scheduler)
        host, port = parts.hostname, parts.port
    except ValueError:
        return
    if parts.scheme not in ("tcp", "tls") or not host or port is None:
        return
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return
    except socket.gaierror as exc:  # the name lookup of create_connection
        raise ComputeError(
            f"{_cannot_reach(scheduler)}: the host name {host!r} cannot be resolved "
            f"({exc.strerror or exc}); check the address (the spelling of the host, and that "
            "this machine's DNS knows it), or use the serial scheduler") from None
    except ConnectionRefusedError as exc:
        why = f"nothing listens there ({exc.strerror or 'connection refused'} on port {port})"
    except TimeoutError:
        why = f"{host} did not accept a connection on port {port} within {CONNECT_TIMEOUT_S:g} s"
    except OSError as exc:
        why = f"{host} cannot be reached on port {port} ({exc.strerror or exc})"
    raise ComputeError(f"{_cannot_reach(scheduler)}: {why}; {_START_IT}")


def _worker_died(pool, workers: int) -> ComputeError:
    """The error of a local worker process that ended while its pool was running tasks.

    The exit codes are those the pool's processes have when this is called
    (best effort: a process not yet waited for has none); a negative code is
    the signal that ended it.
    """
    import signal

    ended = []
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        code = getattr(process, "exitcode", None)
        if code is not None and code < 0:
            try:
                ended.append(f"{signal.Signals(-code).name} (exit code {code})")
            except ValueError:
                ended.append(f"signal {-code} (exit code {code})")
        elif code is not None:
            ended.append(f"exit code {code}")
    how = f"ended with {', '.join(ended)}" if ended else "ended"
    return ComputeError(_abandoned(
        f"a worker process {how} while computing tasks",
        "SIGKILL usually means the system ran out of memory: each worker holds its "
        f"own tasks' data, so use fewer than {workers} workers (compute.workers, e.g. "
        "--set compute.workers=1) or the serial scheduler, or a machine with more memory"
    ))


def _lost(address: str, exc: BaseException) -> ComputeError:
    """The error of a cluster that stopped answering mid-run."""
    return ComputeError(_abandoned(
        f"the Dask cluster at {address} stopped answering ({type(exc).__name__}: {exc})",
        "Restart the cluster"
    ))


def _abandoned(what: str, fix: str) -> str:
    """The message of a run given up mid-way: ``what`` went wrong; the run is abandoned and
    nothing was written; ``fix`` (a sentence without its end), then run again, which reuses
    the cached session features."""
    return (f"{what}; the run is abandoned, nothing was written. {fix}, and run again "
            "(cached session features are reused)")


def _require(module: str, scheduler: str):
    """Import ``module`` or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise TinyharError(
            f"compute.scheduler {scheduler!r} needs {module}, which is not installed: "
            "pip install 'tinyhar[scale]' (or use scheduler: serial)"
        ) from exc
