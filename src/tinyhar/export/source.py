"""What an export reads from a run (the pipeline, its fitted feature plan, test windows),
and the folder it writes into.

Shared by the code generators (:mod:`tinyhar.export.c`,
:mod:`tinyhar.export.micropython`) and the parity checks
(:mod:`tinyhar.export.parity`): :func:`load_pipeline` /
:func:`load_tree_pipeline` accept a pipeline, a loaded
:class:`~tinyhar.runfolder.Run`, a run folder or a pipeline file;
:func:`fitted_plan` is the feature plan the back-ends serialise (never
re-derived); :func:`input_names` the model's input names;
:func:`select_test_windows` the windows a bundle stores and a parity check
runs in order; :func:`export_folder` the output folder, created and checked
to be writable before the first file goes in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

__all__ = [
    "export_folder",
    "fitted_plan",
    "input_names",
    "load_pipeline",
    "load_tree_pipeline",
    "select_test_windows",
]


def export_folder(out_dir: str | Path) -> Path:
    """The folder an export writes into: created if missing, and checked to be writable.

    Parameters
    ----------
    out_dir : str or Path
        The export folder (``--out``; default ``RUN/export/TARGET``).

    Returns
    -------
    Path
        ``out_dir``, an existing folder that accepts new files.

    Raises
    ------
    TinyharError
        The folder cannot be created or written (a file in its place or on its
        path, no permission, a read-only file system): the message names the
        folder, the reason and what to do, instead of an ``OSError`` traceback
        halfway through the export.
    """
    import tempfile

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyharError(f"{out} is a file, not a folder: choose another folder with --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out, prefix=".tinyhar-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TinyharError(
            f"{out}: cannot write the export there ({reason}); choose another folder with "
            "--out (export_*(..., out_dir=...) in Python), or make this one writable"
        ) from None
    return out


def load_pipeline(pipeline_or_run_dir: object):
    """Return a :class:`~tinyhar.models.pipeline.HarPipeline` from a pipeline or a run folder.

    Parameters
    ----------
    pipeline_or_run_dir : HarPipeline, Run, str or Path
        A pipeline, a loaded :class:`~tinyhar.runfolder.Run`, a run folder
        written by ``tinyhar train`` (checked against
        its manifest by :func:`tinyhar.runfolder.load_run`), or the path of a
        pipeline file itself (read by :meth:`HarPipeline.load`, without a
        manifest to check it against).

    Returns
    -------
    HarPipeline

    Raises
    ------
    TinyharError
        Not a complete, unaltered run folder, or not a pipeline file.
    """
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.runfolder import Run, load_run

    if isinstance(pipeline_or_run_dir, HarPipeline):
        return pipeline_or_run_dir
    if isinstance(pipeline_or_run_dir, Run):
        return pipeline_or_run_dir.pipeline
    path = Path(pipeline_or_run_dir)  # type: ignore[arg-type]
    if path.is_file():
        return HarPipeline.load(path)
    return load_run(path).pipeline


def load_tree_pipeline(pipeline_or_run_dir: Any) -> tuple[Any, Any]:
    """Return ``(pipeline, run)`` from a pipeline object, a run folder or a pipeline file.

    Parameters
    ----------
    pipeline_or_run_dir : HarPipeline, Run, str or Path
        A fitted pipeline, a loaded :class:`~tinyhar.runfolder.Run`, a run
        folder written by ``tinyhar train`` (checked against its manifest by
        :func:`tinyhar.runfolder.load_run`), or a pipeline file itself (read
        by ``HarPipeline.load``, no manifest).

    Returns
    -------
    pipeline : HarPipeline
    run : tinyhar.runfolder.Run or None
        The checked run folder, when one was given.

    Raises
    ------
    TinyharError
        Not a complete, unaltered run folder or a pipeline file, or the
        pipeline is not a tree pipeline with tinyhar features.
    """
    from tinyhar.models.pipeline import HarPipeline
    from tinyhar.runfolder import Run, load_run

    run = None
    pipeline = pipeline_or_run_dir
    if isinstance(pipeline_or_run_dir, Run):
        run = pipeline_or_run_dir
        pipeline = run.pipeline
    elif isinstance(pipeline_or_run_dir, (str, os.PathLike)):
        path = Path(pipeline_or_run_dir)
        if path.is_file():
            pipeline = HarPipeline.load(path)
        else:
            run = load_run(path)
            pipeline = run.pipeline
    _check_tree_pipeline(pipeline)
    return pipeline, run


def _check_tree_pipeline(pipeline: Any) -> None:
    from tinyhar.features import FeatureExtractor
    from tinyhar.models.trees import TreeEnsembleClassifier

    if not isinstance(getattr(pipeline, "extractor", None), FeatureExtractor) or not isinstance(
        getattr(pipeline, "model", None), TreeEnsembleClassifier
    ):
        raise TinyharError(
            "the MicroPython export supports pipelines of tinyhar features + tree ensembles "
            "(tinyhar train); export neural networks with `tinyhar export --target onnx`"
        )
    if not hasattr(pipeline.model, "leaves_"):
        raise TinyharError("the pipeline's model is not fitted; train it first (tinyhar train)")


def fitted_plan(pipeline: Any) -> Any:
    """The feature plan the pipeline's fitted extractor executes (checked against the pipeline).

    Raises
    ------
    TinyharError
        The extractor is not fitted, or its channels or window length differ
        from the pipeline's.
    """
    fx = pipeline.extractor
    plan = getattr(fx, "plan_", None)
    if plan is None:
        raise TinyharError("the pipeline's feature extractor is not fitted; train the run first")
    if list(plan.channels) != list(pipeline.channels):
        raise TinyharError(
            f"the pipeline's channels {list(pipeline.channels)} differ from its feature "
            f"extractor's {list(plan.channels)}; retrain the run"
        )
    if plan.n_samples != int(pipeline.n_samples):
        raise TinyharError(
            f"the pipeline's windows have {pipeline.n_samples} samples but its feature "
            f"extractor was fitted on {plan.n_samples}; retrain the run"
        )
    if list(fx.get_feature_names_out()) != list(plan.names):
        raise TinyharError("the extractor's feature names differ from its feature plan")
    return plan


def input_names(pipeline: Any) -> list[str]:
    """Names of the model inputs (the window's features, then ``prev_``/``delta_`` when
    stacked): :attr:`tinyhar.models.pipeline.HarPipeline.feature_names` as ``str``."""
    return [str(name) for name in pipeline.feature_names]


def select_test_windows(windows: Any, n: int, seed: int = 0) -> np.ndarray:
    """Indices of up to ``n`` windows, about equally many per class, in session/time order.

    Parameters
    ----------
    windows : WindowSet
    n : int
        Number of windows wanted.
    seed : int
        Unused beyond tie-breaking (selection is evenly spaced, deterministic).

    Returns
    -------
    numpy.ndarray of int
        Sorted by (session, start time, index), so that a window's stored
        predecessor of the same session is its predecessor for
        ``stack_previous``.
    """
    y = np.asarray(windows.y)
    classes = [c for c in dict.fromkeys(y.tolist()) if c != ""]
    if n <= 0 or len(y) == 0:
        return np.zeros(0, dtype=np.int64)
    if n >= len(y):
        chosen = np.arange(len(y))
    else:
        per = max(1, n // max(1, len(classes)))
        parts = []
        for c in classes:
            idx = np.flatnonzero(y == c)
            take = min(per, idx.size)
            parts.append(idx[np.linspace(0, idx.size - 1, take).round().astype(int)])
        chosen = np.unique(np.concatenate(parts))[:n]
    t = np.nan_to_num(np.asarray(windows.start_time, dtype=np.float64), nan=np.inf)
    order = np.lexsort((chosen, t[chosen], np.asarray(windows.session, dtype=str)[chosen]))
    return chosen[order]
