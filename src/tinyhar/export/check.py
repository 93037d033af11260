"""The self-check of ``tinyhar export``: parity of the export with Python on the run's test windows.

``tinyhar export RUN --target c|micropython`` runs :func:`check_export` after
writing the files (``--no-check`` skips it): the C example program (built
with gcc) or the MicroPython bundle (in the unix port) classifies the run's
test windows (:func:`run_test_windows`), and the classes and features are
compared with the Python pipeline (:func:`tinyhar.export.parity.c_parity`,
:func:`tinyhar.export.parity.micropython_parity`). :func:`format_check` prints the
result as ``classes equal n/N windows, largest feature error ...``.

A class differing from Python's fails the check unless the explainer shows
that every differing tree decision is on a feature within float rounding of
its threshold (:func:`tinyhar.export.parity.explain_mismatch`, one rule for both
back-ends); such windows are reported as explained. A missing tool (gcc, the
MicroPython unix port) or a run without test windows skips the check with the
reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinyhar.errors import TinyharError

__all__ = ["check_export", "format_check", "run_test_windows"]


def run_test_windows(run: Any) -> Any:
    """The run's test windows: those of subjects its final model never saw.

    The one place the self-checks get test windows from: the windows stored in
    the run folder at training time (:attr:`tinyhar.runfolder.Run.test_windows`).

    Parameters
    ----------
    run : tinyhar.runfolder.Run
        A checked run folder (:func:`tinyhar.runfolder.load_run`).

    Returns
    -------
    WindowSet
        Windows ``(n_windows, n_samples, n_channels)`` of the unseen test subjects.

    Raises
    ------
    TinyharError
        The run stores none, with the reason (e.g. every subject trained the
        final model of a ``loso`` run, or the run was trained before test
        windows were stored: train it again).
    """
    windows = run.test_windows
    if windows is None:
        raise TinyharError(run.test_windows_note or "the run folder stores no test windows")
    return windows


def check_export(run_dir: Any, target: str, out_dir: str | Path,
                 windows: Any = None) -> dict[str, Any]:
    """Classify the run's test windows with an export and compare it with Python.

    Parameters
    ----------
    run_dir : str, Path or tinyhar.runfolder.Run
        The run folder the export was written from (or the loaded Run).
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
    from tinyhar.runfolder import load_run
    from tinyhar.tools import find_tool

    if target not in ("c", "micropython"):
        raise TinyharError(f"no self-check for target {target!r} (c or micropython)")
    base = {"target": target, "n_windows": 0}
    run = load_run(run_dir)
    pipeline = run.pipeline
    if target == "c" and find_tool("gcc") is None:
        return base | {"status": "skipped", "reason": "gcc is not installed"}
    if target == "micropython":
        from tinyhar.tools import find_micropython

        try:
            find_micropython()
        except TinyharError as exc:
            return base | {"status": "skipped", "reason": str(exc)}
    if windows is None:
        try:
            windows = run_test_windows(run)
        except TinyharError as exc:
            return base | {"status": "skipped", "reason": f"no test windows: {exc}"}
    windows = pipeline.check_windows(windows)
    if len(windows) == 0:
        return base | {"status": "skipped", "reason": "the run has no test windows"}
    if target == "c":
        from tinyhar.export.c_runner import build_example
        from tinyhar.export.parity import c_parity

        res = c_parity(pipeline, windows, build_example(out_dir))
        worst = res["worst_features"][0]["name"] if res["worst_features"] else None
    else:
        from tinyhar.export.parity import micropython_parity

        res = micropython_parity(pipeline, out_dir, windows)
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
