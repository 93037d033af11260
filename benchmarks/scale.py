"""Scale: features and the default 10-tree model on 10 to 1,000 hours of recordings.

For each case, synthetic 6-channel recordings (real HAPT activity segments,
:mod:`tinyhar.datasets.synthetic`) of ``hours`` at ``rate_hz`` are written
once (kept in ``--data``, default ``benchmarks/.scale-data``), then a fresh
child process runs the out-of-core path end to end:

0. with 2 workers, start the workers' fork server first
   (:func:`tinyhar.compute.start_workers`, as ``tinyhar train`` does), so that
   it imports the worker modules while the child imports the training code;
   the workers are forked from it at the first tasks. They only compute
   features here, so it imports :data:`tinyhar.compute.FEATURE_MODULES`
   (no scikit-learn: the tasks carry
   :meth:`~tinyhar.models.pipeline.HarPipeline.features_only`);
1. plan the sessions (:func:`tinyhar.datasets.sessions.session_sources`) and
   read the first one (its window facts; its rows are computed from it, not
   read again, as in training); build the feature tasks' pipeline from the
   configuration and those facts without scikit-learn
   (:func:`tinyhar.training.trees.feature_pipeline`);
2. read, window (2.56 s, hop 1.28 s) and featurise (default set) each session
   (:func:`tinyhar.features.table.build_feature_table`), on ``workers`` Dask
   processes (``--scheduler threads`` for threads; ``serial`` for 1 worker);
   once the tasks are sent, the child builds the whole pipeline (importing
   scikit-learn, about 0.5 s, as ``tinyhar train`` does) and computes the
   first session's rows while the workers compute the others; no cache, so
   every case computes;
3. fit the default model (10 trees, depth <= 10) on the training subjects'
   rows (80 % of subjects; the trees on ``workers`` threads) and score the
   held-out subjects (macro-F1).

No cross-validation, figures or run folder: ``tinyhar train`` adds those (its
folds and final fit run as tasks on the same workers). ``wall_s`` is the
child's whole life, from its start to its exit; ``startup_s`` is the part
before step 1 (Python and the imports of NumPy, pandas, SciPy, pyarrow, Dask;
scikit-learn's come in step 2: a fixed cost of every run, which is why the
10-hour row is slower per window; ``job_windows_per_s`` leaves it out);
``startup_cpu_s``,
``feature_cpu_s`` and ``fit_cpu_s`` are the child's own CPU time in these parts
(without its workers). Peak RSS is that of the whole process tree (the child
and its Dask workers), sampled every 0.1 s with psutil. ``windows_per_s`` =
windows / ``wall_s``; ``job_s`` = ``wall_s`` - ``startup_s`` (reading, features,
fit, scoring and exit: what grows with the hours) and ``job_windows_per_s`` =
windows / ``job_s``, the rate without the fixed start-up that every run pays
once. ``cpu_s`` is the CPU time (user + system) of the whole
process tree: on a machine shared with other work, ``wall_s`` depends on their
load, ``cpu_s`` much less (its increase from 1 to 2 workers is the cost of the
workers: the fork server's imports, sending tasks and rows; the fork server
outlives the child by a moment and is adopted and waited for, so its CPU time
counts); ``workers_cpu_s`` is the part of ``cpu_s`` outside the child (the fork
server and the worker processes; 0 with 1 worker). On the 100-hour case,
measured back to back on a quiet machine: 20.4 s with 1 worker, 11.5 s with 2
(1.78x; 1.68x to 1.72x in three more pairs; ``cpu_s`` 20.5 and 21.3 s).
``--session-minutes 1`` makes sessions of one minute (6,000 in 100 hours;
40.9 s with 1 worker, 22.7 s with 2: their short sessions go to the workers
in groups, :func:`tinyhar.compute.task_groups`).

Usage::

    python benchmarks/scale.py [--json] [--hours 10 100 1000] [--rate 50]
                               [--two-workers-hours 100] [--scheduler processes|threads]
                               [--session-minutes 60] [--fit-work]

``--json`` prints a JSON list of rows ``{hours, rate_hz, sessions, samples, windows,
workers, scheduler, wall_s, startup_s, job_s, feature_s, fit_s, cpu_s,
startup_cpu_s, feature_cpu_s, fit_cpu_s, workers_cpu_s, peak_rss_mb, windows_per_s,
job_windows_per_s, macro_f1, failed}``, and ``marginal_windows_per_s`` for each
row after the smallest case of its worker count (:func:`add_marginal_rates`), and
``speedup`` on rows of 2 workers (over 1 worker at the same hours, :func:`add_speedups`).
Without ``--json`` the rows are printed as they come, then whether each target
is met in this run (:func:`target_checks`).
``--fit-work`` adds what the forest's construction had to sort
(:func:`sort_work`, counted after the measured steps): ``node_samples``,
``sort_work`` and ``fit_cpu_ns_per_sort_work`` (``fit_cpu_s`` per unit of
``sort_work``, in ns; ``fit_cpu_s`` also holds the prediction and scoring,
about 1 % of it). Where this last one stays about the same from case to
case, the fit grows as CART's cost, not from anything around it.
Targets (issue 13): 1,000 h within 6 GB peak RSS; windows/s within +-20 %
from 10 h to 1,000 h; 2 workers >= 1.7x the windows/s of 1 worker at 100 h.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
SUBJECTS_PER_100_HOURS = 10
"""Synthetic subjects: 10 per 100 h (at least 10), each 10 h of data for 100 h and above."""


def dataset(root: Path, hours: float, rate_hz: float, session_minutes: float = 60.0) -> Path:
    """The synthetic data set for a case (written on first use): sessions (files) of
    ``session_minutes`` each."""
    from tinyhar.datasets.synthetic import synthesize

    n_subjects = max(10, int(round(hours / 100 * SUBJECTS_PER_100_HOURS)))
    short = "" if session_minutes == 60 else f"-{session_minutes:g}min"
    folder = root / f"{hours:g}h-{rate_hz:g}hz{short}"
    if not (folder / "data.yaml").is_file():
        synthesize(folder, n_subjects, hours / n_subjects, rate_hz=rate_hz, seed=0,
                   session_hours=session_minutes / 60, overwrite=True)
    return folder / "data.yaml"


def child(definition: str, workers: int, parallel: str = "processes",
          fit_work: bool = False) -> dict:
    """The measured work (runs in a fresh process); with ``fit_work``, the forest's
    :func:`sort_work` too (after the measurement)."""
    from tinyhar import compute

    scheduler = "serial" if workers == 1 else parallel
    # as `tinyhar train` does: worker processes start while this one imports and reads; they
    # only compute features here (no cross-validation folds): no scikit-learn to import
    compute.start_workers(scheduler, workers, compute.FEATURE_MODULES)
    import numpy as np

    from tinyhar.config import make_config
    from tinyhar.datasets.sessions import session_sources, shared_session_names
    from tinyhar.features.table import SessionJob, build_feature_table, settings_key
    from tinyhar.training.trees import feature_pipeline  # no scikit-learn

    started = time.time()  # startup_s: the parent's clock, from its start of the child
    t0, c0 = time.perf_counter(), time.process_time()
    cfg = make_config({"dataset": {"name": definition}}, "benchmark")
    sources = session_sources(definition)
    prefix = shared_session_names(sources)
    first = sources[0].load(None, prefix)  # as training does: its rows are the first session's
    from tinyhar.windows.windowing import make_windows

    w = cfg.windows
    windowing = dict(window=w.window, hop=w.hop, unit=w.unit, purity=w.purity,
                     target_rate_hz=w.target_rate_hz, channels=first.channels)
    sample, _ = make_windows(first, **windowing)
    # as training sends: the features without the model, built without scikit-learn, which
    # this process imports (for the model) once the tasks are with the workers (`head`)
    featurise = feature_pipeline(sample.spec, cfg, sample.classes)
    sample = sample.subset(np.arange(1))  # what the pipeline is built from (a copy)
    names = list(featurise.feature_names)
    text = settings_key({"windowing": windowing, "features": names})
    jobs = [SessionJob(s, windowing, featurise, names, None, None, text, prefix) for s in sources]
    split: dict = {}
    late: dict = {}

    def train_rows_first(labels):
        """80 % of subjects train, the rest test; training rows first (views, no copies)."""
        subjects = sorted(set(labels.subject))
        test = set(subjects[: max(1, len(subjects) // 5)])
        is_test = np.array([s in test for s in labels.subject])
        split["n_train"] = int((~is_test).sum())
        return np.concatenate([np.flatnonzero(~is_test), np.flatnonzero(is_test)])

    def head(f, job):  # the other sessions are with the workers: the model, then the first
        from tinyhar.evaluation.metrics import classification_metrics  # session's rows
        from tinyhar.training.trees import build_pipeline

        late.update(pipeline=build_pipeline(sample, cfg, None, check_size=False),
                    score=classification_metrics)
        return f(job, first)

    def map_jobs(f, items):  # the first session is read already: its rows here, meanwhile
        return compute.map_in_order(f, items[1:], scheduler, workers,  # the workers start
                                    head=lambda: head(f, items[0]),  # on the others
                                    weights=[job.source.nbytes for job in items[1:]])

    table, failed = build_feature_table(jobs, names, map_jobs, order_rows=train_rows_first)
    compute.stop_workers()
    t1, c1 = time.perf_counter(), time.process_time()
    n = split["n_train"]
    pipeline = late["pipeline"]
    model = pipeline.model
    model.set_params(n_jobs=workers)  # same forest for any n_jobs (seeds drawn first)
    model.fit(table.X[:n], table.y[:n])
    pred = model.predict(table.X[n:])
    f1 = late["score"](table.y[n:], pred, list(pipeline.classes))["macro_f1"]
    t2, c2 = time.perf_counter(), time.process_time()
    row = {"windows": len(table), "started": started, "feature_s": round(t1 - t0, 2),
           "fit_s": round(t2 - t1, 2), "startup_cpu_s": round(c0, 2),
           "feature_cpu_s": round(c1 - c0, 2), "fit_cpu_s": round(c2 - c1, 2),
           "own_cpu_s": c2, "macro_f1": round(float(f1), 4), "failed": len(failed)}
    if fit_work:
        row.update(sort_work(model.estimator_))
        row["fit_cpu_ns_per_sort_work"] = round((c2 - c1) / row["sort_work"] * 1e9, 1)
    return row


def sort_work(forest) -> dict:
    """What growing a fitted scikit-learn forest had to sort: CART's cost, per tree node.

    At each decision node, scikit-learn's best-split search sorts the node's
    samples by each feature it tries (``max_features`` features that are not
    constant there) and scans them in that order (Breiman et al. 1984,
    *Classification and Regression Trees*), so a tree costs about
    ``sum(m * log2(m))`` over its decision nodes, ``m`` being the node's
    samples (``n_node_samples``: its distinct bootstrap rows), plus ``sum(m)``
    for the scans: more than proportional to the rows, as the nodes grow with
    them (``log2(m)``) and as fewer nodes are pure above the depth limit.

    Parameters
    ----------
    forest : sklearn.ensemble.RandomForestClassifier or ExtraTreesClassifier
        Fitted (``estimators_``).

    Returns
    -------
    dict
        ``node_samples`` (int): ``sum(m)`` over the decision nodes of all
        trees; ``sort_work`` (float): ``sum(m * log2(m))`` over them.
    """
    import numpy as np

    m = np.concatenate([t.tree_.n_node_samples[t.tree_.children_left >= 0]
                        for t in forest.estimators_]).astype(np.float64)
    return {"node_samples": int(m.sum()), "sort_work": round(float((m * np.log2(m)).sum()), 1)}


def adopt_orphans() -> None:
    """Become the parent of the child's orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    The worker processes are children of multiprocessing's fork server, which
    outlives the child by a moment; adopted and waited for (:func:`reap_orphans`),
    its CPU time and its workers' count in ``cpu_s``. Elsewhere nothing happens.
    """
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def reap_orphans() -> None:
    """Wait for every adopted descendant (so its CPU time is in ``RUSAGE_CHILDREN``)."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def measure(definition: Path, workers: int, scheduler: str = "processes",
            fit_work: bool = False) -> dict:
    """Run :func:`child` in a fresh process; wall time and peak RSS of its process tree."""
    import psutil

    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    import resource

    def cpu() -> float:  # user + system seconds of the waited-for process tree
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    adopt_orphans()
    cpu0 = cpu()
    start, started = time.perf_counter(), time.time()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(definition), "--workers", str(workers),
         "--scheduler", scheduler, *(["--fit-work"] if fit_work else [])],
        stdout=subprocess.PIPE, env=env, text=True,
    )
    peak = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    done.set()
    thread.join()
    wall = time.perf_counter() - start
    reap_orphans()
    if proc.returncode != 0:
        raise SystemExit(f"case {definition} with {workers} workers failed")
    row = json.loads(out.strip().splitlines()[-1])
    row["startup_s"] = round(row.pop("started") - started, 2)
    row["cpu_s"] = round(cpu() - cpu0, 2)
    row["workers_cpu_s"] = round(row["cpu_s"] - row.pop("own_cpu_s"), 2)
    job = wall - row["startup_s"]
    row.update({"workers": workers, "wall_s": round(wall, 2), "job_s": round(job, 2),
                "peak_rss_mb": round(peak / 2**20, 1),
                "windows_per_s": round(row["windows"] / wall, 1),
                "job_windows_per_s": round(row["windows"] / job, 1)})
    return row


def _positive(what: str):
    """An ``argparse`` type: a number of ``what`` > 0."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value > 0:
            hint = " (leave the option empty for no case)" if what == "hours" else ""
            raise argparse.ArgumentTypeError(f"{what} must be a number > 0, not {text!r}{hint}")
        return value

    return parse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--hours", type=_positive("hours"), nargs="*", default=[10, 100, 1000])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--two-workers-hours", type=_positive("hours"), nargs="*", default=[100])
    parser.add_argument("--session-minutes", type=_positive("minutes"), default=60.0,
                        help="length of each session file (many short sessions: e.g. 1)")
    parser.add_argument("--data", type=Path, default=HERE / ".scale-data")
    parser.add_argument("--child")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--scheduler", default="processes", choices=("processes", "threads"),
                        help="Dask local scheduler of the cases with 2 workers")
    parser.add_argument("--fit-work", action="store_true",
                        help="add what the forest's construction sorted (sort_work)")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.workers, args.scheduler, args.fit_work)))
        import gc

        gc.freeze()  # exit as the tinyhar command does (tinyhar.cli.main)
        return 0
    sys.path.insert(0, str(SRC))
    cases = [(h, 1) for h in args.hours] + [(h, 2) for h in args.two_workers_hours]
    rows = []
    for hours, workers in cases:
        definition = dataset(args.data, hours, args.rate, args.session_minutes)
        summary = json.loads((definition.parent / "synthetic.json").read_text())
        row = {"hours": hours, "rate_hz": args.rate, "sessions": summary["n_sessions"],
               "samples": summary["samples"]}
        row.update(measure(definition, workers, args.scheduler, args.fit_work))
        row["scheduler"] = "serial" if workers == 1 else args.scheduler
        rows.append(row)
        if not args.json:
            print(row, flush=True)
    add_marginal_rates(rows)
    add_speedups(rows)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if row.get("marginal_windows_per_s"):
                print(f"{row['hours']:g} h, {row['workers']} worker(s): "
                      f"{row['marginal_windows_per_s']:.0f} windows/s for the windows added "
                      "since the previous case")
        for line in target_checks(rows):
            print(line)
    return 0


def add_speedups(rows: list[dict]) -> None:
    """Add ``speedup`` to each row of more than one worker: its ``windows_per_s`` over that of
    the 1-worker row of the same hours in the same run (absent without such a row).

    Rows of one run are compared because the machine's speed drifts between runs.
    """
    single = {r["hours"]: r["windows_per_s"] for r in rows if r["workers"] == 1}
    for row in rows:
        if row["workers"] > 1 and row["hours"] in single:
            row["speedup"] = round(row["windows_per_s"] / single[row["hours"]], 3)


def target_checks(rows: list[dict]) -> list[str]:
    """Issue 13's targets, checked on the rows of one run: one line each, ``met`` or not.

    * peak RSS <= 6 GB for the largest 1-worker case (the target's is 1,000 h);
    * windows/s of the 1-worker cases within +-20 % of one rate: met when the
      fastest is at most 1.5x the slowest (then every case is within 20 % of
      their midpoint, ``(fastest + slowest) / 2``), for ``windows_per_s``
      (whole runs) and ``job_windows_per_s`` (without the fixed start-up);
    * ``speedup`` >= 1.7 for each row of 2 workers.

    Returns
    -------
    list of str
        Lines of text, empty for rows without the cases a target needs.
    """
    lines = []
    single = sorted((r for r in rows if r["workers"] == 1), key=lambda r: r["hours"])
    if single:
        big = single[-1]
        gb = big["peak_rss_mb"] / 1024
        lines.append(f"peak memory at {big['hours']:g} h: {gb:.2f} GB "
                     f"({'met' if gb <= 6 else 'not met'}: <= 6 GB)")
    if len(single) >= 2:
        span = f"{single[0]['hours']:g} to {single[-1]['hours']:g} h"
        for key in ("windows_per_s", "job_windows_per_s"):
            rates = [r[key] for r in single]
            ratio = max(rates) / min(rates)
            lines.append(f"{key} from {span}: {min(rates):,.0f} to {max(rates):,.0f}, "
                         f"fastest/slowest {ratio:.2f} "
                         f"({'met' if ratio <= 1.5 else 'not met'}: +-20 % needs <= 1.50)")
    for row in rows:
        if row["workers"] == 2 and "speedup" in row:
            lines.append(f"2 workers at {row['hours']:g} h: {row['speedup']:.2f}x 1 worker "
                         f"({'met' if row['speedup'] >= 1.7 else 'not met'}: >= 1.7x)")
    return lines


def add_marginal_rates(rows: list[dict]) -> None:
    """Add ``marginal_windows_per_s`` to each row after the first of its worker count.

    It is (windows - previous windows) / (wall_s - previous wall_s), the
    previous row being the next smaller number of hours with the same workers:
    the slope of wall time against data size, which leaves out the fixed
    start-up and exit cost that every run pays once. Wall time grows linearly
    with hours when these slopes agree; ``windows_per_s`` of a small case is
    lower by the fixed cost.
    """
    for workers in {r["workers"] for r in rows}:
        same = sorted((r for r in rows if r["workers"] == workers), key=lambda r: r["hours"])
        for before, row in zip(same, same[1:], strict=False):
            dt = row["wall_s"] - before["wall_s"]
            row["marginal_windows_per_s"] = (
                round((row["windows"] - before["windows"]) / dt, 1) if dt > 0 else None
            )


if __name__ == "__main__":
    sys.exit(main())
