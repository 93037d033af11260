"""ONNX export of the small networks, float32 and int8, with a numerical check.

:func:`export_onnx` writes two files for a fitted
:class:`~tinyhar.models.nn.NeuralNetClassifier`:

``model_float32.onnx``
    The network with its input scaling (per-channel median and IQR baked in as
    constants) and a final softmax: input ``windows`` of raw windows, float32,
    shape ``(batch, n_samples, n_channels)``; output ``probabilities``, float32,
    shape ``(batch, n_classes)`` in the data set's declared class order (the
    ``classes`` argument, :attr:`HarPipeline.output_classes`; default the
    network's ``classes_``), gathered from the network's columns in the graph.
    Exported with PyTorch's TorchScript-based exporter (``dynamo=False``, opset 17), which maps
    LSTM/GRU layers to the ONNX ``LSTM``/``GRU`` operators and needs no
    ``onnxscript``; PyTorch deprecates it since 2.9 (its warning is silenced
    here), so a future PyTorch may require switching to the dynamo exporter.
``model_int8.onnx``
    Post-training static quantisation with
    ``onnxruntime.quantization.quantize_static`` (QDQ format, int8 weights per
    output channel, int8 activations with min-max ranges calibrated on windows
    of *training* subjects; min-max ranges and 0.01-99.99 percentile ranges are
    both tried and the one whose classes agree better with float32 on other
    training windows is kept). Operators without a static int8 kernel in
    onnxruntime (the recurrent ``LSTM``/``GRU`` operators) stay float32, and so
    do the final softmax (its probabilities would otherwise be rounded to
    steps of 1/256) and a batch normalisation that is not folded into a
    convolution (that of the window statistics); the returned dict lists
    which weighted operator types got int8 weights and which stayed float32.

Both files carry the class names, window shape and producer in their
metadata (``metadata_props``: ``tinyhar.classes`` as JSON, ``tinyhar.n_samples``,
``tinyhar.n_channels``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

INPUT_NAME = "windows"
OUTPUT_NAME = "probabilities"
OPSET = 17
RECURRENT_OPS = ("LSTM", "GRU", "RNN")
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul", *RECURRENT_OPS)


class CalibrationLeakageWarning(UserWarning):
    """Calibration windows share subjects with the check (test) windows."""


def _require() -> tuple[Any, Any, Any]:
    try:
        import onnx
        import onnxruntime
        import torch
    except ImportError as exc:
        raise TinyharError(
            f"ONNX export needs PyTorch, onnx and onnxruntime ({exc.name} is missing): "
            "pip install 'tinyhar[deep]'"
        ) from exc
    return torch, onnx, onnxruntime


def _session(path: Path, onnxruntime: Any) -> Any:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def run_onnx(path: str | Path, X: np.ndarray, batch: int = 512) -> np.ndarray:
    """Class probabilities of raw windows from an exported model, with onnxruntime.

    Parameters
    ----------
    path : str or Path
        ``model_float32.onnx`` or ``model_int8.onnx``.
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Raw windows (no scaling: it is in the graph).
    batch : int
        Windows per inference call.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_classes)

    Raises
    ------
    TinyharError
        onnxruntime missing.
    """
    _, _, onnxruntime = _require()
    session = _session(Path(path), onnxruntime)
    X = np.ascontiguousarray(X, dtype=np.float32)
    parts = [
        session.run([OUTPUT_NAME], {INPUT_NAME: X[i : i + batch]})[0]
        for i in range(0, len(X), batch)
    ]
    return np.concatenate(parts)


class _CalibrationReader:
    """onnxruntime ``CalibrationDataReader`` over batches of raw windows."""

    def __init__(self, X: np.ndarray, batch: int = 64) -> None:
        self.X = X
        self.batch = batch
        self._it: Iterator[dict] | None = None
        self.rewind()

    def rewind(self) -> None:
        self._it = (
            {INPUT_NAME: self.X[i : i + self.batch]} for i in range(0, len(self.X), self.batch)
        )

    def get_next(self) -> dict | None:
        return next(self._it, None)


def _op_types(model: Any) -> list[str]:
    return sorted({n.op_type for n in model.graph.node})


def _quantized_op_types(model: Any) -> list[str]:
    """Op types whose weights are stored in int8 in a QDQ model.

    A node counts when one of its inputs is a ``DequantizeLinear`` of an
    initializer (a quantised constant weight).
    """
    initializers = {i.name for i in model.graph.initializer}
    weight_dq = {
        o
        for n in model.graph.node
        if n.op_type == "DequantizeLinear" and n.input and n.input[0] in initializers
        for o in n.output
    }
    return sorted(
        {
            n.op_type
            for n in model.graph.node
            if n.op_type in WEIGHTED_OPS and any(i in weight_dq for i in n.input)
        }
    )


def _class_order(estimator: Any, classes: Any) -> tuple[list[str], np.ndarray]:
    """Output class names and, for each, the network's output column (``classes_`` order)."""
    model = [str(c) for c in estimator.classes_]
    names = model if classes is None else [str(c) for c in classes]
    if sorted(names) != sorted(model):
        raise TinyharError(f"classes {names} are not the network's classes {model}")
    return names, np.asarray([model.index(c) for c in names], dtype=np.int64)


def _add_metadata(model: Any, estimator: Any, classes: list[str]) -> None:
    meta = {
        "tinyhar.classes": json.dumps(classes),
        "tinyhar.n_samples": str(estimator.n_samples_in_),
        "tinyhar.n_channels": str(estimator.n_channels_in_),
        "tinyhar.architecture": str(estimator.architecture),
        "tinyhar.input": "raw windows (batch, n_samples, n_channels); scaling is in the graph",
    }
    existing = {p.key for p in model.metadata_props}
    for key, value in meta.items():
        if key not in existing:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, value
    model.producer_name = "tinyhar"


def _export_float(estimator: Any, path: Path, torch: Any, onnx: Any,
                  classes: list[str], columns: np.ndarray) -> None:
    from tinyhar.models.nn.architectures import ProbabilityNet

    net = ProbabilityNet(copy.deepcopy(estimator.module_)).eval()
    if not np.array_equal(columns, np.arange(len(columns))):
        net = _reordered(net, torch.as_tensor(columns), torch).eval()
    dummy = torch.zeros(2, estimator.n_samples_in_, estimator.n_channels_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (dummy,),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    model = onnx.load(str(path))
    _add_metadata(model, estimator, classes)
    onnx.save(model, str(path))


def _reordered(net: Any, columns: Any, torch: Any) -> Any:
    """``net`` with its output columns gathered in the order ``columns`` (ONNX Gather)."""

    class Reordered(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.register_buffer("columns", columns)

        def forward(self, x):
            return self.net(x).index_select(1, self.columns)

    return Reordered()


CALIBRATION_METHODS = ("minmax", "percentile")
"""Activation-range calibrations tried for int8, in order of preference on a tie:
min-max, and the 0.01-99.99 percentile range (clips rare outliers, which
otherwise coarsen the int8 steps of every other value; Wu et al. 2020,
"Integer quantization for deep learning inference")."""

PERCENTILE = 99.99
"""Percentile of the percentile calibration."""


MIN_SELECTION = 64
"""Fewest held-out training windows for choosing the calibration method (else min-max)."""


def _quantize(
    float_path: Path,
    int8_path: Path,
    calibration: np.ndarray,
    work: Path,
    onnx: Any,
    selection: np.ndarray | None = None,
) -> dict:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    source = float_path
    pre = work / "model_float32.preprocessed.onnx"
    notes = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quant_pre_process(str(float_path), str(pre), skip_symbolic_shape=False)
        source = pre
    except Exception as exc:  # noqa: BLE001 - pre-processing is an optimisation only
        notes.append(f"pre-processing skipped ({type(exc).__name__}: {exc})")

    # keep the output probabilities in float (a quantised softmax rounds them to 1/256),
    # and the batch normalisation of the window statistics (not folded into a convolution;
    # per-channel quantisation does not apply to its 1-D weights)
    excluded = [
        n.name
        for n in onnx.load(str(source)).graph.node
        if n.op_type in ("Softmax", "BatchNormalization")
    ]

    def run(op_types: list[str] | None, method: str, path: Path) -> None:
        calibrate = {"calibrate_method": CalibrationMethod.MinMax}
        if method == "percentile":
            calibrate = {
                "calibrate_method": CalibrationMethod.Percentile,
                "extra_options": {"CalibPercentile": PERCENTILE},
            }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.disable(logging.WARNING)  # onnxruntime's pre-processing hints
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # its calibration progress
                    quantize_static(
                        str(source),
                        str(path),
                        _CalibrationReader(calibration),
                        quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=op_types,
                        nodes_to_exclude=excluded,
                        per_channel=True,
                        activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8,
                        **calibrate,
                    )
            finally:
                logging.disable(logging.NOTSET)

    # each calibration is tried; the one whose classes agree best with float32
    # on held-out training windows (``selection``) is kept
    restricted = None
    candidates = CALIBRATION_METHODS if selection is not None else CALIBRATION_METHODS[:1]
    agreement: dict[str, float] = {}
    best = None
    try:
        reference = (
            run_onnx(float_path, selection).argmax(axis=1) if selection is not None else None
        )
        for method in candidates:
            path = work / f"model_int8.{method}.onnx"
            try:
                run(restricted, method, path)
            except Exception as exc:  # noqa: BLE001 - fall back to the ops that quantise reliably
                if restricted is not None:
                    raise
                restricted = ["Conv", "MatMul", "Gemm"]
                notes.append(
                    f"quantising every supported operator failed ({type(exc).__name__}: {exc}); "
                    f"quantised only {restricted}"
                )
                run(restricted, method, path)
            if reference is not None:
                agreement[method] = float(
                    np.mean(run_onnx(path, selection).argmax(axis=1) == reference)
                )
            if best is None or agreement.get(method, 0.0) > agreement[best]:
                best = method
        os.replace(work / f"model_int8.{best}.onnx", int8_path)
    finally:
        for method in candidates:
            (work / f"model_int8.{method}.onnx").unlink(missing_ok=True)
        if pre.exists():
            pre.unlink()
    float_model = onnx.load(str(float_path))
    int8_model = onnx.load(str(int8_path))
    weighted = [t for t in _op_types(float_model) if t in WEIGHTED_OPS]
    quantized = _quantized_op_types(int8_model)
    left_float = [t for t in weighted if t not in quantized]
    if left_float:
        notes.append(
            f"operators left in float32 (no static int8 kernel in onnxruntime): {left_float}"
        )
    # the metadata is dropped by quantize_static: copy it over
    for prop in float_model.metadata_props:
        if prop.key not in {p.key for p in int8_model.metadata_props}:
            new = int8_model.metadata_props.add()
            new.key, new.value = prop.key, prop.value
    onnx.save(int8_model, str(int8_path))
    return {
        "int8_op_types_quantized": quantized,
        "int8_op_types_float": left_float,
        "int8_restricted_to": restricted,
        "int8_calibration": best,
        "int8_calibration_agreement": agreement,
        "int8_notes": notes,
    }


def export_onnx(
    estimator: Any,
    out_dir: str | Path,
    calibration_X: np.ndarray,
    X_check: np.ndarray | None = None,
    y_check: np.ndarray | None = None,
    *,
    n_calibration: int = 512,
    calibration_subjects: np.ndarray | None = None,
    check_subjects: np.ndarray | None = None,
    seed: int = 0,
    classes: Any = None,
) -> dict:
    """Export a fitted network to float32 and int8 ONNX and check them against PyTorch.

    Parameters
    ----------
    estimator : NeuralNetClassifier
        A fitted network.
    out_dir : str or Path
        Folder for ``model_float32.onnx`` and ``model_int8.onnx`` (created).
    calibration_X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Raw windows of *training* subjects for the int8 activation ranges
        (never test windows); at most ``n_calibration`` of them, drawn with
        ``seed``, are used.
    X_check : numpy.ndarray, shape (n_check, n_samples, n_channels), optional
        Windows on which onnxruntime and PyTorch outputs are compared.
    y_check : array-like of str, shape (n_check,), optional
        Their labels, for the accuracy of each model.
    n_calibration : int
        Maximum calibration windows. When ``calibration_X`` has more, up to
        ``n_calibration`` of the others (at least ``MIN_SELECTION``) choose the
        calibration method (:data:`CALIBRATION_METHODS`): the int8 model whose
        classes agree best with float32 on them is kept.
    calibration_subjects, check_subjects : array-like of str, optional
        Subjects of ``calibration_X`` and ``X_check``; when both are given a
        :class:`CalibrationLeakageWarning` is issued if they share subjects.
    seed : int
        Seed of the calibration sample.
    classes : sequence of str, optional
        The class order of the ``probabilities`` output (the data set's
        declared order, :attr:`HarPipeline.output_classes`); default the
        network's ``classes_`` (sorted).

    Returns
    -------
    dict
        ``float32_path``, ``int8_path`` (str), ``float32_bytes``,
        ``int8_bytes`` (file sizes in bytes), ``input_name``, ``input_shape``
        (``[None, n_samples, n_channels]``), ``output_name``, ``classes``,
        ``opset``, ``n_calibration_windows``, ``int8_op_types_quantized``,
        ``int8_op_types_float`` (weighted operators left in float32, e.g.
        ``["LSTM"]``), ``int8_restricted_to`` (None, or the operator list used
        after quantising everything failed), ``int8_calibration`` (the method
        kept), ``int8_calibration_agreement`` (method -> fraction of selection
        windows with the float32 class; empty without selection windows),
        ``int8_notes`` (list of str);
        with ``X_check``: ``n_check``, ``float32_class_mismatches`` (windows
        whose ONNX float32 class differs from PyTorch's),
        ``float32_max_abs_prob_diff``, ``int8_class_mismatches`` (vs ONNX
        float32), ``int8_max_abs_prob_diff``; with ``y_check`` also
        ``torch_accuracy``, ``float32_accuracy``, ``int8_accuracy`` (in [0, 1])
        and ``int8_accuracy_change_points`` (int8 minus float32, in percentage
        points).

    Raises
    ------
    TinyharError
        Missing packages, an unfitted network, windows of the wrong shape, or
        an ``out_dir`` that cannot be written
        (:func:`tinyhar.export.source.export_folder`).
    """
    torch, onnx, onnxruntime = _require()
    from tinyhar.models.nn.estimator import check_windows

    if not hasattr(estimator, "module_"):
        raise TinyharError("export_onnx needs a trained network: fit it or load a model first")
    calibration_X = estimator._check_input(check_windows(calibration_X, "calibration windows"))
    if calibration_subjects is not None and check_subjects is not None:
        shared = sorted(
            set(map(str, np.asarray(calibration_subjects).tolist()))
            & set(map(str, np.asarray(check_subjects).tolist()))
        )
        if shared:
            warnings.warn(
                f"calibration windows share subjects {shared} with the check windows: "
                "calibrate on training subjects only",
                CalibrationLeakageWarning,
                stacklevel=2,
            )
    # calibration windows, and disjoint training windows to choose the calibration method
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(calibration_X))
    selection_X = None
    if len(calibration_X) > n_calibration:
        rest = order[n_calibration : 2 * n_calibration]
        selection_X = calibration_X[np.sort(rest)] if len(rest) >= MIN_SELECTION else None
        calibration_X = calibration_X[np.sort(order[:n_calibration])]

    from tinyhar.export.source import export_folder

    out = export_folder(out_dir)
    float_path = out / "model_float32.onnx"
    int8_path = out / "model_int8.onnx"
    from tinyhar.models.nn.estimator import torch_settings

    names, columns = _class_order(estimator, classes)
    with torch_settings(getattr(estimator, "n_threads", 1)):
        _export_float(estimator, float_path, torch, onnx, names, columns)
    report: dict[str, Any] = {
        "float32_path": str(float_path),
        "int8_path": str(int8_path),
        "input_name": INPUT_NAME,
        "input_shape": [None, int(estimator.n_samples_in_), int(estimator.n_channels_in_)],
        "output_name": OUTPUT_NAME,
        "classes": names,
        "opset": OPSET,
        "n_calibration_windows": int(len(calibration_X)),
    }
    report.update(_quantize(float_path, int8_path, calibration_X, out, onnx, selection_X))
    report["float32_bytes"] = os.path.getsize(float_path)
    report["int8_bytes"] = os.path.getsize(int8_path)

    if X_check is not None:
        X_check = estimator._check_input(X_check)
        p_torch = estimator.predict_proba(X_check)[:, columns]  # the output's class order
        p_float = run_onnx(float_path, X_check)
        p_int8 = run_onnx(int8_path, X_check)
        c_torch, c_float, c_int8 = (p.argmax(axis=1) for p in (p_torch, p_float, p_int8))
        report.update(
            {
                "n_check": int(len(X_check)),
                "float32_class_mismatches": int(np.count_nonzero(c_torch != c_float)),
                "float32_max_abs_prob_diff": float(np.abs(p_torch - p_float).max()),
                "int8_class_mismatches": int(np.count_nonzero(c_int8 != c_float)),
                "int8_max_abs_prob_diff": float(np.abs(p_int8 - p_float).max()),
            }
        )
        if y_check is not None:
            y = np.asarray([str(v) for v in y_check], dtype=object)
            if len(y) != len(X_check):
                raise TinyharError(f"{len(y)} labels for {len(X_check)} check windows")
            classes = np.asarray(names, dtype=object)
            acc = {
                name: float(np.mean(classes[c] == y))
                for name, c in (("torch", c_torch), ("float32", c_float), ("int8", c_int8))
            }
            report.update(
                {
                    "torch_accuracy": acc["torch"],
                    "float32_accuracy": acc["float32"],
                    "int8_accuracy": acc["int8"],
                    "int8_accuracy_change_points": 100.0 * (acc["int8"] - acc["float32"]),
                }
            )
    return report


def export_network_onnx(run_dir: Any, out_dir: str | Path) -> dict:
    """Export a network run to float32 and int8 ONNX, checked against PyTorch.

    Calibration windows come from the run's training subjects, check windows
    from its test subjects (both stored in the run folder at training time).

    Parameters
    ----------
    run_dir : str, Path or Run
        A network run folder (or the :class:`~tinyhar.runfolder.Run` loaded from it).
    out_dir : str or Path
        Output folder.

    Returns
    -------
    dict
        As :func:`export_onnx`, plus ``window_spec`` (the run's
        :class:`~tinyhar.core.spec.WindowSpec`: channels, units, rate, window,
        hop); also written to ``out_dir/onnx_report.json``.

    Raises
    ------
    TinyharError
        Not a network run, or the deep extra is missing.
    """
    from tinyhar.runfolder import NETWORK_DATA_FILE, load_run, write_text_atomic

    run, out = load_run(run_dir), Path(out_dir)
    pipeline = run.pipeline
    if pipeline.extractor is not None or not run.has(NETWORK_DATA_FILE):
        raise TinyharError(
            f"{run_dir} is not a network run: ONNX export is for networks "
            "(tinyhar train --model cnn1d); trees export with --target c or micropython"
        )
    d = np.load(run.file(NETWORK_DATA_FILE), allow_pickle=False)
    info = export_onnx(
        pipeline.model,
        out,
        d["calibration_X"],
        d["check_X"],
        d["check_y"].astype(object),
        calibration_subjects=d["calibration_subjects"],
        check_subjects=d["check_subjects"],
        classes=pipeline.output_classes,
    )
    info["window_spec"] = run.spec.to_dict()  # the input the models read
    write_text_atomic(out / "onnx_report.json", json.dumps(info, indent=2, default=str))
    return info
