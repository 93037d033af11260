"""Parity of the exports with the Python pipeline, with one mismatch explainer.

:func:`c_parity` runs the compiled C example (:mod:`tinyhar.export.c_runner`),
:func:`micropython_parity` the bundle in the MicroPython unix port
(:mod:`tinyhar.export.mpy_runner`), on the same windows as the Python
pipeline, and compare classes and features.

A window whose class differs is *explained* when the difference is float
rounding at a split threshold (:func:`explain_mismatch`, the one rule of both
back-ends): in every tree where the two feature vectors take different
branches, the feature of the first split where they part has a Python value
``a`` and an export value ``b`` (on the two sides of the threshold) with

    ``|a - b| <= atol + rtol * max(|a|, |b|, scale)``

where ``scale`` is, for the ``delta_`` inputs of a stacked model, the larger
magnitude of the two features subtracted (:func:`input_scale`). A mismatch
without any parting split (e.g. a window one side refuses as invalid) is not
explained. The tolerances differ by back-end because the arithmetic does:
the C library computes in float32 as numpy does (:data:`C_TOLERANCE`), the
unix port computes scalars in double and the float32 IIR gravity filter of
scipy amplifies the difference (:data:`MICROPYTHON_TOLERANCE`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.export.c_runner import run_post_c, run_windows
from tinyhar.export.formats import BUNDLE_META_FILE, read_bundle_meta
from tinyhar.export.mpy_runner import run_bundle_features, run_post_micropython
from tinyhar.export.post import reference_classes
from tinyhar.export.source import (
    input_names,
    load_pipeline,
    load_tree_pipeline,
    select_test_windows,
)

__all__ = [
    "C_TOLERANCE",
    "MICROPYTHON_TOLERANCE",
    "c_parity",
    "explain_mismatch",
    "input_scale",
    "micropython_parity",
    "parting_nodes",
    "post_parity",
]

C_TOLERANCE = {"rtol": 1e-4, "atol": 0.0}
"""Default tolerance of :func:`c_parity` (float32 on both sides, other summation order)."""

MICROPYTHON_TOLERANCE = {"rtol": 1e-3, "atol": 1e-5}
"""Default tolerance of :func:`micropython_parity` (double scalars, float32 gravity filter)."""


# --------------------------------------------------------------------------- explainer


def parting_nodes(model: Any, x_py: np.ndarray, x_dev: np.ndarray) -> list[tuple[int, float, int]]:
    """The first split of each tree where the decision paths of two feature vectors part.

    Parameters
    ----------
    model : TreeEnsembleClassifier
        Fitted (its device arrays ``roots_``, ``feature_``, ``threshold_``,
        ``left_``, ``right_``; a sample goes left when ``x <= threshold``).
    x_py, x_dev : numpy.ndarray, shape (n_features,)
        Model inputs of one window from Python and from the export.

    Returns
    -------
    list of (int, float, int)
        ``(feature, threshold, tree)`` per tree whose paths part, in tree order.
    """
    out = []
    for t, root in enumerate(model.roots_):
        node = int(root)
        while node >= 0:
            j = int(model.feature_[node])
            thr = model.threshold_[node]
            left_py = bool(x_py[j] <= thr)
            if left_py != bool(x_dev[j] <= thr):
                out.append((j, float(thr), t))
                break  # the rest of this tree follows from this split
            node = int(model.left_[node] if left_py else model.right_[node])
    return out


def input_scale(x: np.ndarray, n_base: int, stacked: bool) -> np.ndarray:
    """Magnitude each model input is compared with by the tolerance rule.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_windows, n_inputs)
        Model inputs (Python's): base features, then for a stacked model the
        previous window's (``prev_``) and the differences (``delta_``).
    n_base : int
        Features of one window.
    stacked : bool
        Whether the inputs are stacked (``n_inputs == 3 * n_base``).

    Returns
    -------
    numpy.ndarray, shape (n_windows, n_inputs)
        ``|x|``; for a ``delta_`` input the larger magnitude of the two
        features subtracted (their rounding carries over to the difference).
    """
    scale = np.abs(np.asarray(x, dtype=np.float64))
    if stacked:
        w = int(n_base)
        scale[:, 2 * w:] = np.maximum(scale[:, :w], scale[:, w:2 * w])
    return scale


def explain_mismatch(model: Any, x_py: np.ndarray, x_dev: np.ndarray, rtol: float,
                     atol: float = 0.0, scale: np.ndarray | None = None
                     ) -> tuple[bool, list[tuple[int, float, int]]]:
    """Whether a class mismatch of one window is float rounding at split thresholds.

    Parameters
    ----------
    model : TreeEnsembleClassifier
    x_py, x_dev : numpy.ndarray, shape (n_features,)
        Model inputs of the window from Python and from the export.
    rtol, atol : float
        Tolerance of the rule in the module docstring.
    scale : numpy.ndarray, shape (n_features,), optional
        :func:`input_scale` of the window (default 0: only the two values).

    Returns
    -------
    explained : bool
        True when at least one tree's path parts and, at every parting split
        (:func:`parting_nodes`), ``|a - b| <= atol + rtol * max(|a|, |b|, scale)``.
    nodes : list of (int, float, int)
        The parting splits ``(feature, threshold, tree)``.
    """
    nodes = parting_nodes(model, x_py, x_dev)

    def within(j: int) -> bool:
        a, b = float(x_py[j]), float(x_dev[j])
        s = 0.0 if scale is None else float(scale[j])
        return abs(a - b) <= atol + rtol * max(abs(a), abs(b), s)

    return bool(nodes) and all(within(j) for j, _, _ in nodes), nodes


# --------------------------------------------------------------------------- C


def c_parity(pipeline: object, windows: Any, binary: str | Path,
             rtol: float = C_TOLERANCE["rtol"], max_examples: int = 10,
             atol: float = C_TOLERANCE["atol"]) -> dict:
    """Compare the compiled C export with the Python pipeline on windows.

    The windows are sent to the C program grouped by session and in time
    order (an empty line between sessions), so that stacked models see the
    same predecessors as :func:`tinyhar.features.stack_previous`.

    Parameters
    ----------
    pipeline : HarPipeline, str or Path
        The pipeline (or run folder) the C code was exported from.
    windows : WindowSet
        Windows with the pipeline's channels, rate and length.
    binary : str or Path
        Executable from :func:`tinyhar.export.c_runner.build_example`.
    rtol : float, default 1e-4
        Float tolerance of an explained mismatch (:func:`explain_mismatch`):
        at every node where the C and Python decision paths part,
        ``|x_c - x_py| <= atol + rtol * max(|x_c|, |x_py|, scale)``
        (``scale``: :func:`input_scale`), i.e. the threshold lies within
        float rounding of the Python feature.
    max_examples : int, default 10
        Mismatches described in ``examples``.
    atol : float, default 0
        Absolute part of the tolerance.

    Returns
    -------
    dict
        ``n_windows``; ``identical`` (windows with the same class);
        ``identical_fraction``; ``mismatches``; ``explained``;
        ``max_abs_feature_error``, ``max_rel_feature_error`` (over all
        per-window features; relative to ``max(|c|, |py|)``);
        ``bit_exact_features`` (fraction of feature values equal bit for bit);
        ``worst_features`` (up to 8: name, max_abs_error, max_rel_error);
        ``per_feature`` (name -> [max_abs, max_rel]); ``examples`` (up to
        ``max_examples`` mismatches: window, python and c classes, the
        parting nodes with feature name, threshold, python and c values,
        and whether it is explained).

    Raises
    ------
    TinyharError
        Not a tree pipeline, windows of another layout, or the program failed.
    """
    from tinyhar.features import stack_previous

    pipeline = load_pipeline(pipeline)
    windows = pipeline.check_windows(windows)
    model = pipeline.model
    n = len(windows)
    order = np.lexsort((np.arange(n), windows.start_time, windows.session.astype(str)))
    sess_sorted = windows.session[order]
    new = np.ones(n, dtype=bool)
    new[1:] = sess_sorted[1:] != sess_sorted[:-1]
    res = run_windows(binary, windows.X[order], len(model.classes_), new_recording=new)
    c_feat = np.empty_like(res["features"])
    c_feat[order] = res["features"]
    c_cls = np.empty(n, dtype=np.int64)
    c_cls[order] = res["classes"]

    py_feat = pipeline.extractor.transform(windows.X)
    if pipeline.stack_previous:
        x_py = stack_previous(py_feat, windows.session, windows.start_time)
        x_c = stack_previous(c_feat, windows.session, windows.start_time)
    else:
        x_py, x_c = py_feat, c_feat
    scale = input_scale(x_py, py_feat.shape[1], bool(pipeline.stack_previous))
    # the C program returns output class indices (pipeline.output_classes)
    py_cls = pipeline.output_index[np.argmax(model.decision_scores(x_py), axis=1)]
    out_classes = pipeline.output_classes
    names_in = input_names(pipeline)

    err = np.abs(c_feat.astype(np.float64) - py_feat.astype(np.float64))
    denom = np.maximum(np.abs(c_feat), np.abs(py_feat)).astype(np.float64)
    rel = np.divide(err, denom, out=np.zeros_like(err), where=denom > 0)
    names = list(pipeline.extractor.get_feature_names_out())
    max_abs = err.max(axis=0) if n else np.zeros(len(names))
    max_rel = rel.max(axis=0) if n else np.zeros(len(names))
    worst = np.argsort(-max_rel, kind="stable")[:8]

    mism = np.flatnonzero(c_cls != py_cls)
    explained = 0
    examples = []
    for i in mism:
        ok, div = explain_mismatch(model, x_py[i], x_c[i], rtol, atol, scale[i])
        explained += ok
        if len(examples) < max_examples:
            examples.append({
                "window": int(i),
                "python": out_classes[py_cls[i]],
                "c": out_classes[c_cls[i]],
                "explained": ok,
                "nodes": [{"tree": t, "feature": names_in[j], "threshold": thr,
                           "python": float(x_py[i, j]), "c": float(x_c[i, j])}
                          for j, thr, t in div],
            })
    identical = int(n - mism.size)
    return {
        "n_windows": int(n),
        "identical": identical,
        "identical_fraction": identical / n if n else 1.0,
        "mismatches": int(mism.size),
        "explained": int(explained),
        "max_abs_feature_error": float(err.max()) if err.size else 0.0,
        "max_rel_feature_error": float(rel.max()) if rel.size else 0.0,
        "bit_exact_features": float(np.mean(c_feat == py_feat)) if n else 1.0,
        "worst_features": [
            {"name": names[j], "max_abs_error": float(max_abs[j]),
             "max_rel_error": float(max_rel[j])} for j in worst
        ],
        "per_feature": {names[j]: [float(max_abs[j]), float(max_rel[j])]
                        for j in range(len(names))},
        "examples": examples,
    }


# --------------------------------------------------------------------------- MicroPython


def micropython_parity(
    pipeline: Any,
    bundle_dir: str | Path,
    windows: Any,
    rtol: float = MICROPYTHON_TOLERANCE["rtol"],
    atol: float = MICROPYTHON_TOLERANCE["atol"],
) -> dict[str, Any]:
    """Compare the bundle in the unix port with the Python pipeline on windows.

    Parameters
    ----------
    pipeline : HarPipeline or run folder
    bundle_dir : str or Path
        The pipeline's MicroPython bundle.
    windows : WindowSet
        Windows (e.g. of test subjects); sorted here by session and time.
    rtol, atol : float
        Float tolerance of an explained mismatch (:func:`explain_mismatch`):
        at every split where the Python and MicroPython paths part, the two
        values differ by at most ``atol + rtol * max(|a|, |b|, scale)``.
        The defaults cover float32 vs double rounding and the amplification
        by the IIR gravity filter.

    Returns
    -------
    dict
        ``n_windows``, ``identical`` (same class), ``mismatches``,
        ``explained`` (mismatches whose differing decisions are all on
        features within tolerance of the threshold), ``max_abs_feature_error``,
        ``max_rel_feature_error``, ``per_feature`` (name -> max abs and max
        relative error, relative to ``max(|x|, 1e-3 * feature range)``; only
        the computed features of a pruned bundle),
        ``python_accuracy``, ``micropython_accuracy``, ``mismatch_windows``.

    Raises
    ------
    TinyharError
        No micropython binary, or the run failed.
    """

    pipeline, _ = load_tree_pipeline(pipeline)
    windows = pipeline.check_windows(windows)
    idx = select_test_windows(windows, len(windows))
    windows = windows.subset(idx)
    F_py = pipeline.transform(windows)
    pred_py = pipeline.model.predict(F_py)
    F_mp, pred_mp_i = run_bundle_features(bundle_dir, windows.X, windows.session)
    classes = np.asarray(pipeline.output_classes, dtype=object)  # the bundle's class indices
    pred_mp = np.where(pred_mp_i < 0, "", classes[np.maximum(pred_mp_i, 0)])
    names = input_names(pipeline)
    n_base = len(pipeline.extractor.get_feature_names_out())
    cols = np.arange(len(names))
    if (Path(bundle_dir) / BUNDLE_META_FILE).is_file():
        computed = read_bundle_meta(bundle_dir).get("computed_base_features")
        if computed is not None:  # a pruned bundle: compare the computed features
            cols = np.flatnonzero(np.isin(cols % n_base, computed))
    err = np.abs(F_mp[:, cols].astype(np.float64) - F_py[:, cols].astype(np.float64))
    scale = np.maximum(np.abs(F_py[:, cols]).astype(np.float64),
                       1e-3 * (np.ptp(F_py[:, cols], axis=0).astype(np.float64) + 1e-12))
    rel = err / scale
    names = [names[j] for j in cols]
    mism = np.flatnonzero(pred_mp != pred_py)
    in_scale = input_scale(F_py, n_base, bool(pipeline.stack_previous))
    explained = sum(
        explain_mismatch(pipeline.model, F_py[i], F_mp[i], rtol, atol, in_scale[i])[0]
        for i in mism
    )
    y = np.asarray(windows.y)
    return {
        "n_windows": int(len(windows)),
        "identical": int(np.sum(pred_mp == pred_py)),
        "mismatches": int(mism.size),
        "explained": int(explained),
        "max_abs_feature_error": float(err.max()) if err.size else 0.0,
        "max_rel_feature_error": float(rel.max()) if rel.size else 0.0,
        "per_feature": {
            n: {"max_abs": float(err[:, j].max()), "max_rel": float(rel[:, j].max())}
            for j, n in enumerate(names)
        } if err.size else {},
        "python_accuracy": float(np.mean(pred_py == y)) if len(y) else None,
        "micropython_accuracy": float(np.mean(pred_mp == y)) if len(y) else None,
        "mismatch_windows": mism.tolist(),
    }


# --------------------------------------------------------------------------- post-processing


def post_parity(spec: Any, proba: np.ndarray, runs: np.ndarray,
                features: np.ndarray | None = None, rejection: Any = None,
                c_binary: str | Path | None = None,
                bundle_dir: str | Path | None = None, repeat: int = 1) -> dict:
    """Fractions of windows whose classes from C / MicroPython equal Python's.

    Parameters
    ----------
    spec : PostProcessor
    proba : numpy.ndarray, shape (n_windows, n_classes)
        Probabilities of whole streams (e.g. a run's stored probabilities).
    runs : numpy.ndarray, shape (n_windows,)
    features : numpy.ndarray, shape (n_windows, n_features), optional
    rejection : mapping or object, optional
    c_binary : str or Path, optional
        :func:`tinyhar.export.c_runner.build_post_example` output (skip C when None).
    bundle_dir : str or Path, optional
        Folder with the MicroPython module (skip when None).
    repeat : int
        MicroPython runs over the windows; the fastest gives ``us_per_window``.

    Returns
    -------
    dict
        ``n_windows``, ``python`` (the reference, ``raw`` and ``smoothed``),
        and for each back-end run ``c`` / ``micropython``: ``raw_parity``,
        ``smoothed_parity`` (fractions), ``mismatches`` (first 10 window
        indices) and for MicroPython ``us_per_window``.
    """
    ref = reference_classes(spec, rejection, proba, features, runs)
    out: dict = {"n_windows": int(len(proba)), "python": ref}
    backends = []
    if c_binary is not None:
        backends.append(("c", lambda: run_post_c(c_binary, proba, features, runs)))
    if bundle_dir is not None:
        backends.append(("micropython",
                         lambda: run_post_micropython(bundle_dir, proba, features, runs,
                                                      repeat=repeat)))
    for name, fn in backends:
        res = fn()
        n = max(1, len(proba))
        entry = {
            "raw_parity": float(np.sum(res["raw"] == ref["raw"]) / n),
            "smoothed_parity": float(np.sum(res["smoothed"] == ref["smoothed"]) / n),
            "mismatches": np.flatnonzero(res["smoothed"] != ref["smoothed"])[:10].tolist(),
        }
        if "us_per_window" in res:
            entry["us_per_window"] = res["us_per_window"]
        out[name] = entry
    return out
