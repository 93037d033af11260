"""The self-check of ``tinyhar export``: parity of the export with Python on the run's test windows.

``tinyhar export RUN --target c|micropython`` runs :func:`check_export` after
writing the files (``--no-check`` skips it): the C example program (built
with gcc) or the MicroPython bundle (in the unix port) classifies the run's
test windows (:func:`run_test_windows`), and the classes and features are
compared with the Python pipeline (:func:`tinyhar.export.c.c_parity`,
:func:`tinyhar.export.micropython.parity`). :func:`format_check` prints the
result as ``classes equal n/N windows, largest feature error ...``.

A class differing from Python's fails the check unless the explainer shows
that every differing tree decision is on a feature within float rounding of
its threshold (the tolerance rule of the parity function); such windows are
reported as explained. A missing tool (gcc, the MicroPython unix port) or a
run without test windows skips the check with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

__all__ = ["check_export", "format_check", "run_split_windows", "run_test_windows"]


def _subjects(run: Any) -> tuple[list[str], list[str]] | None:
    """The run's training subjects and its test subjects the final model never saw."""
    from tinyhar.runfolder import CONFIG_FILE, METRICS_FILE

    if not run.has(CONFIG_FILE) or not run.has(METRICS_FILE):
        return None
    trained = [str(s) for s in run.metrics.get("train_subjects", [])]
    subjects = [str(s) for s in run.metrics.get("test_subjects", []) if str(s) not in trained]
    return trained, subjects


def _reload(run: Any) -> Any:
    """All windows of the run's data set, cut again from its ``config.yaml``."""
    from tinyhar.training import load_data, make_window_set

    return make_window_set(load_data(run.config), run.config)[0]


def run_test_windows(run: Any) -> Any:
    """The run's test windows: those of subjects its final model never saw.

    The one place exports get test windows from (the C and MicroPython
    self-checks, the bundle's ``testdata.bin``, through
    :func:`run_split_windows`). Today the run's data set is reloaded from its
    ``config.yaml`` and cut again; a run folder that stores its test windows
    will be read instead.

    Parameters
    ----------
    run : tinyhar.runfolder.RunFolder
        A checked run folder (:func:`tinyhar.runfolder.load_run`).

    Returns
    -------
    WindowSet or None
        Windows ``(n_windows, n_samples, n_channels)`` of the test subjects
        minus the training subjects; None when the run folder has no config
        or metrics.

    Raises
    ------
    TinyharError
        Every subject trained the final model (a ``loso`` run), or the data
        set cannot be loaded again (moved, deleted).
    """
    found = _subjects(run)
    if found is None:
        return None
    if not found[1]:
        raise TinyharError(
            "every subject of the run trained its final model (evaluation.protocol "
            f"{run.metrics.get('protocol', '?')!r}), so no windows are unseen by it"
        )
    return run_split_windows(run)[1]


def run_split_windows(run: Any) -> tuple[Any, Any] | None:
    """``(training windows, test windows)`` of a run from one reload of its data set.

    The training windows are those of the subjects the final model was
    trained on (e.g. for the gravity reference of
    :func:`tinyhar.export.mounting.gravity_reference`); the test windows as
    :func:`run_test_windows` (None when every subject trained the model).

    Returns
    -------
    tuple of (WindowSet, WindowSet or None), or None
        None when the run folder has no config or metrics.

    Raises
    ------
    TinyharError
        The data set cannot be loaded again.
    """
    found = _subjects(run)
    if found is None:
        return None
    trained, subjects = found
    windows = _reload(run)
    subject = windows.subject.astype(str)
    train = windows.subset(np.flatnonzero(np.isin(subject, trained)))
    test = windows.subset(np.flatnonzero(np.isin(subject, subjects))) if subjects else None
    return train, test


def check_export(run_dir: str | Path, target: str, out_dir: str | Path,
                 windows: Any = None) -> dict[str, Any]:
    """Classify the run's test windows with an export and compare it with Python.

    Parameters
    ----------
    run_dir : str or Path
        The run folder the export was written from.
    target : {"c", "micropython"}
    out_dir : str or Path
        The export folder (``RUN/export/c`` or ``RUN/export/micropython``).
    windows : WindowSet, optional
        Windows to check on (default: :func:`run_test_windows` of the run).

    Returns
    -------
    dict
        ``target``, ``status`` (``"ok"``, ``"failed"`` or ``"skipped"``),
        ``reason`` (skipped/failed), ``n_windows``, ``identical`` (windows
        with Python's class), ``explained`` (differing windows whose tree
        decisions differ only within float rounding of a threshold),
        ``unexplained``, ``max_abs_feature_error``, ``max_rel_feature_error``
        and ``worst_feature`` (name of the feature with the largest relative
        error; C only).

    Raises
    ------
    TinyharError
        An unknown target, or an export that does not build or run.
    """
    from tinyhar.device.tools import find_tool
    from tinyhar.runfolder import load_run

    if target not in ("c", "micropython"):
        raise TinyharError(f"no self-check for target {target!r} (c or micropython)")
    base = {"target": target, "n_windows": 0}
    run = load_run(run_dir)
    pipeline = run.pipeline
    if target == "c" and find_tool("gcc") is None:
        return base | {"status": "skipped", "reason": "gcc is not installed"}
    if target == "micropython":
        from tinyhar.export.micropython import find_micropython

        try:
            find_micropython()
        except TinyharError as exc:
            return base | {"status": "skipped", "reason": str(exc)}
    if windows is None:
        try:
            windows = run_test_windows(run)
        except TinyharError as exc:
            return base | {"status": "skipped", "reason": f"no test windows: {exc}"}
        if windows is None:
            return base | {"status": "skipped",
                           "reason": "no test windows: the run folder has no config/metrics"}
    windows = pipeline.check_windows(windows)
    if len(windows) == 0:
        return base | {"status": "skipped", "reason": "the run has no test windows"}
    if target == "c":
        from tinyhar.export.c import build_example, c_parity

        res = c_parity(pipeline, windows, build_example(out_dir))
        worst = res["worst_features"][0]["name"] if res["worst_features"] else None
    else:
        from tinyhar.export.micropython import parity

        res = parity(pipeline, out_dir, windows)
        per = res.get("per_feature", {})
        worst = max(per, key=lambda k: per[k]["max_rel"]) if per else None
    n, same = int(res["n_windows"]), int(res["identical"])
    unexplained = n - same - int(res["explained"])
    out = base | {
        "n_windows": n,
        "identical": same,
        "explained": int(res["explained"]),
        "unexplained": unexplained,
        "max_abs_feature_error": float(res["max_abs_feature_error"]),
        "max_rel_feature_error": float(res["max_rel_feature_error"]),
        "worst_feature": worst,
        "status": "ok" if unexplained == 0 else "failed",
    }
    if unexplained:
        out["reason"] = (
            f"{unexplained} of {n} windows get another class than in Python and the "
            "difference is larger than float rounding: the export does not compute what the "
            "model was trained on; export again with this tinyhar and report it if it persists"
        )
    return out


def format_check(result: dict[str, Any]) -> str:
    """One line for the console, e.g. ``check (c): classes equal 3072/3072 windows, ...``.

    Parameters
    ----------
    result : dict
        :func:`check_export`'s result.
    """
    head = f"check ({result['target']})"
    if result["status"] == "skipped":
        return f"{head}: skipped, {result['reason']}"
    n = result["n_windows"]
    text = (f"{head}: classes equal {result['identical']}/{n} test windows, largest feature "
            f"error {result['max_abs_feature_error']:.2g} (relative "
            f"{result['max_rel_feature_error']:.2g}"
            + (f", {result['worst_feature']})" if result.get("worst_feature") else ")"))
    if result["explained"]:
        text += (f"; {result['explained']} differ only within float rounding of a split "
                 "threshold")
    if result["status"] == "failed":
        text += f"; FAILED: {result['reason']}"
    return text
