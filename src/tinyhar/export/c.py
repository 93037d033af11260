"""Export a trained pipeline (features + tree ensemble) as a portable C99 library.

:func:`export_c` writes, for one run, ``tinyhar_model.h`` / ``tinyhar_model.c``
(the library), an example ``main.c`` and a ``Makefile``. The library is
plain C99 with float32 arithmetic, no ``malloc``, only libm (``sqrtf``,
``fabsf``, ``logf``, ``atan2f``, ``hypotf``) and ``memcpy``/``memset``. It computes the
exact feature set of the run, serialising the fitted extractor's feature plan
(:mod:`tinyhar.features.plan`: statistic bits and slots, length constants,
coefficients, bins) for fixed kernels (``c_templates/dsp.c``) -- gravity
low-pass filter as float32 biquads (direct form II transposed, started at
the steady state of the first sample), radix-2 real FFT (or a direct DFT
when the window length is not a power of two), time statistics with a Shell
sort on a static buffer, correlations, jerk, ENMO -- and walks the tree
ensemble stored as
``static const`` arrays generated from the estimator's device arrays
(:class:`tinyhar.models.trees.TreeEnsembleClassifier`): float32 thresholds
compared with ``x <= threshold`` exactly as scikit-learn does.

Why not emlearn's tree export: its ``loadable`` int16 mode stores
``int(threshold)`` and tests ``x < int(threshold)``; for an integer-valued
feature split by scikit-learn at 5.5 (``x <= 5.5`` goes left), emlearn sends
``x = 5`` right (``5 < 5`` is false). Its float mode prints thresholds with
six decimals (``"%.6f"``), which loses small thresholds such as band powers
of 1e-7 g^2. tinyhar writes every threshold as the shortest decimal that
reads back as the same float32.

Invalid input (:mod:`tinyhar.features.validity`): a window with a NaN, an
infinity or a value beyond ``MAX_ABS_INPUT`` (generated as
``TINYHAR_MAX_ABS_INPUT``) makes ``tinyhar_classify`` and
``tinyhar_stream_classify`` return ``TINYHAR_EINVAL``, the same windows the
Python pipeline and the MicroPython export refuse. The stream's hop is
:attr:`tinyhar.models.pipeline.HarPipeline.streaming_hop`.

The files come from the Jinja2 templates of :data:`TEMPLATE_DIR`
(``tinyhar_model.h.j2``, ``tinyhar_model.c.j2`` around the static sources);
class labels, channel and feature names pass through
:mod:`tinyhar.export.escaping` (C string literals, comments, macro names), so
any label is data, never code. ``TINYHAR_EXPORT_FORMAT_VERSION``
(:data:`tinyhar.export.formats.EXPORT_FORMAT_VERSION`) is in the header, and
``tinyhar_model.c`` refuses to compile with a header of another version.

For a run folder with a post-processing (``postprocess.json``),
``tinyhar_post.h`` / ``tinyhar_post.c`` and ``post_main.c`` are written
beside (:mod:`tinyhar.export.post`).

Compiling the example with ``gcc`` and running it on windows or on a sample
stream is :mod:`tinyhar.export.c_runner` (:func:`build_example`,
:func:`run_windows`, :func:`run_stream`, imported here too); comparing it
with the Python pipeline is :func:`tinyhar.export.parity.c_parity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tinyhar.errors import TinyharError
from tinyhar.export.c_runner import (  # noqa: F401 (re-exported: the host runs moved)
    EXAMPLE_BINARY,
    HOST_CFLAGS,
    build_example,
    format_rows,
    run_stream,
    run_windows,
)
from tinyhar.export.escaping import Safe, c_comment, c_identifiers, code, render
from tinyhar.export.formats import EXPORT_FORMAT_VERSION
from tinyhar.export.parity import c_parity  # noqa: F401 (re-exported: parity moved)
from tinyhar.export.source import (  # noqa: F401 (load_pipeline re-exported)
    export_folder,
    fitted_plan,
    input_names,
    load_pipeline,
)

__all__ = [
    "C_FILES",
    "build_example",
    "c_float",
    "c_parity",
    "export_c",
    "format_rows",
    "load_pipeline",
    "run_stream",
    "run_windows",
]

TEMPLATE_DIR = Path(__file__).with_name("c_templates")
"""Static C sources shared by every export and the Jinja2 templates of the generated files."""

C_FILES = ("tinyhar_model.h", "tinyhar_model.c", "main.c", "Makefile")
"""Files written by :func:`export_c`."""


# --------------------------------------------------------------------------- checks


def _check_pipeline(pipeline) -> None:
    from tinyhar.features import FeatureExtractor
    from tinyhar.models.trees import TreeEnsembleClassifier

    model = pipeline.model
    if not isinstance(model, TreeEnsembleClassifier):
        raise TinyharError(
            f"the C export supports tree ensembles (TreeEnsembleClassifier); this run's model "
            f"is a {type(model).__name__}: export neural networks with tinyhar.export.onnx"
        )
    if not hasattr(model, "leaves_"):
        raise TinyharError("the pipeline's model is not fitted; train it first (`tinyhar train`)")
    if not isinstance(pipeline.extractor, FeatureExtractor):
        raise TinyharError(
            "the C export needs tinyhar's FeatureExtractor, got "
            f"{type(pipeline.extractor).__name__}"
        )


# --------------------------------------------------------------------------- formatting


def c_float(value: float) -> str:
    """The shortest C float literal that reads back as the same float32.

    Parameters
    ----------
    value : float
        Any finite number; it is first rounded to float32.

    Returns
    -------
    str
        E.g. ``"0.3f"``, ``"6.45175207e-06f"``, ``"-1.0f"``.

    Raises
    ------
    TinyharError
        For NaN or infinite values.
    """
    v = np.float32(value)
    if not np.isfinite(v):
        raise TinyharError(f"cannot write the non-finite value {value!r} as a C constant")
    sci = np.format_float_scientific(v, unique=True, trim="-")
    pos = np.format_float_positional(v, unique=True, trim="-")
    text = pos if len(pos) <= len(sci) + 1 else sci
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


# --------------------------------------------------------------------------- generator


class _Driver:
    """Emit the feature pipeline of a plan as calls of the C stages."""

    def __init__(self, names: Sequence[str], statistics: Sequence[str]) -> None:
        self.index = {n: i for i, n in enumerate(names)}
        self.names = list(names)
        self.statistics = tuple(statistics)  # the plan's statistic table, output order
        self.written: set[int] = set()
        self.lines: list[str] = []

    def has(self, name: str) -> bool:
        return name in self.index

    def take(self, names: Sequence[str]) -> int:
        """Claim consecutive output slots; return the first index."""
        first = self.index[names[0]]
        for k, n in enumerate(names):
            if self.index.get(n) != first + k:
                raise TinyharError(
                    f"feature {n!r} is not where the C export expects it (after "
                    f"{names[0]!r}); the feature catalog changed: update tinyhar.export.c"
                )
            if first + k in self.written:
                raise TinyharError(f"feature {n!r} would be written twice by the C export")
            self.written.add(first + k)
        return first

    def emit(self, line: str = "") -> None:
        self.lines.append(code(line))

    def stats(self, expr: str, signal: str, stats: Sequence[str], length: str,
              mean: str = "NULL", sumsq: str = "NULL") -> None:
        order = [s for s in self.statistics if s in stats]
        if list(stats) != order or any(s not in self.statistics for s in stats):
            raise TinyharError(f"unsupported statistics {stats} for {signal!r} in the C export")
        names = [f"{signal}_{s}" for s in stats]
        if stats:
            first = self.take(names)
            mask = ("THR_ALL_STATS" if tuple(stats) == self.statistics
                    else " | ".join(f"THR_{s.upper()}" for s in stats))
            target = f"out + {first}"
        else:
            mask, target = "0u", "out"
        self.emit(f"thr_stage_statistics({expr}, &{length}, {mask}, {target}, {mean}, {sumsq});"
                  f"  /* {c_comment(signal)} */")

    def spectral(self, signal: str, bands: Sequence[str], spectral_stats: Sequence[str]) -> None:
        names = [f"{signal}_power_{b}" for b in bands]
        names += [f"{signal}_{k}" for k in spectral_stats]
        first = self.take(names)
        self.emit(f"thr_stage_spectral(out + {first});  /* {c_comment(signal)} spectrum */")


def _generate_driver(plan) -> tuple[list, dict[str, int]]:
    """Statements of the C function ``thr_window_features`` for a feature plan ("" for a
    blank line), and the feature flags."""
    from tinyhar.features.plan import DERIVED, DERIVED_SIGNALS, SPECTRAL_STATS, channel_unit

    d = _Driver(plan.names, plan.statistics)
    blocks = {b.signal: b.stats for b in plan.stat_blocks}
    spectral = {sig for sig, _ in plan.spectral.signals} if plan.spectral else set()
    bands = [b.label for b in plan.spectral.bands] if plan.spectral else []
    triad_axes = {a for _, axes, _ in plan.sensors for a in axes}
    unknown = sorted(spectral - triad_axes - set(DERIVED))
    if unknown:
        raise TinyharError(f"the C export cannot compute spectra of {unknown}")
    flags = {"triad": 0, "gravity": 0, "gravity_mean": 0, "tilt": 0, "jerk": 0,
             "correlation": 0, "enmo": 0, "sma": 0, "spectral": int(bool(spectral)),
             "other": len(plan.other_channels)}
    corr_first = dict(plan.correlations)

    def signal(expr: str, sig: str, length: str = "thr_len_full", keep: str | None = None) -> None:
        """Statistics of a signal (if any), then its spectrum (if any)."""
        stats = blocks.get(sig)
        if stats is None and sig not in spectral and keep is None:
            return
        mean = f"&mean[{keep}]" if keep is not None else "NULL"
        sumsq = f"&sumsq[{keep}]" if keep is not None else "NULL"
        d.stats(expr, sig, stats or (), length, mean, sumsq)
        if sig in spectral:
            d.spectral(sig, bands, SPECTRAL_STATS)

    for sensor, axes, channels in plan.sensors:
        flags["triad"] = 1
        ch = ", ".join(str(i) for i in channels)
        d.emit(f"/* {'accelerometer' if sensor == 'acc' else 'gyroscope'}: "
               f"{', '.join(axes)} ({channel_unit(axes[0])}) */")
        d.emit(f"thr_stage_prepare_triad(buf, start, {ch});")
        for a, axis in enumerate(axes):
            signal(f"thr_w3[{a}]", axis, keep=str(a))
        if sensor in corr_first:
            flags["correlation"] = 1
            corr = [f"corr_{sensor}_{t}" for t in ("xy", "xz", "yz")]
            d.emit(f"thr_stage_correlation(mean, sumsq, out + {d.take(corr)});")
        if d.has(f"{sensor}_sma"):
            flags["sma"] = 1
            d.emit(f"thr_stage_statistics_sma(out + {d.take([f'{sensor}_sma'])});"
                   f"  /* {sensor}_sma */")
        mag = f"{sensor}_mag"
        if mag in plan.derived:
            d.emit(f"thr_stage_prepare_magnitude();  /* {mag} */")
            signal("thr_sig", mag)
            if sensor == "acc" and d.has("enmo_mean"):
                flags["enmo"] = 1
                d.emit(f"thr_stage_enmo(out + {d.take(['enmo_mean'])});")
        jerk = f"{sensor}_jerk_mag"
        if jerk in plan.derived:
            flags["jerk"] = 1
            d.emit(f"thr_stage_jerk();  /* {jerk} */")
            signal("thr_sig", jerk, length="thr_len_jerk")
        if sensor == "acc" and plan.gravity is not None:
            flags["gravity"] = 1
            # Outputs of the stage that are features of the plan; the kernel compiles
            # only their code (THR_GRAVITY_MEAN / _TILT) and gets NULL for the others.
            outputs = []
            for flag, keys in (("gravity_mean", [f"grav_{a}_mean" for a in "xyz"]),
                               ("tilt", [f"tilt_{a}" for a in "xyz"])):
                flags[flag] = int(d.has(keys[0]))
                outputs.append(f"out + {d.take(keys)}" if flags[flag] else "NULL")
            d.emit(f"thr_stage_gravity({', '.join(outputs)}, u);"
                   f"  /* thr_w3 is now the body acceleration */")
            if d.has("body_sma"):
                flags["sma"] = 1
                d.emit(f"thr_stage_statistics_sma(out + {d.take(['body_sma'])});  /* body_sma */")
            body = [x for x in DERIVED_SIGNALS if x.kind == "body"]
            for a, axis in enumerate(body):
                signal(f"thr_w3[{a}]", axis.name)
            for x in DERIVED_SIGNALS:
                if x.kind.startswith("body_") and x.name in plan.derived:
                    d.emit(f"thr_stage_body(THR_{x.kind.upper()}, u);")
                    signal("thr_sig", x.name)
        d.emit()
    if plan.other_channels:
        d.emit("/* channels without a sensor role */")
    for ch, name in plan.other_channels:
        d.emit(f"thr_stage_prepare_channel(buf, start, {ch});  /* {c_comment(name)} */")
        signal("thr_sig", name)
    missing = [d.names[i] for i in range(len(d.names)) if i not in d.written]
    if missing:
        raise TinyharError(
            f"the C export does not know how to compute features {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''}; update tinyhar.export.c"
        )
    lines = list(d.lines)
    while lines and not lines[-1]:
        lines.pop()
    return lines, flags


def _defines(rows) -> list[dict]:
    """``#define`` rows (name, value, comment) of generated numbers and fixed text."""
    return [{"key": code(k), "value": v if isinstance(v, int) else code(v), "doc": code(d)}
            for k, v, d in rows]


def _floats(values) -> list:
    return [code(c_float(v)) for v in np.asarray(values).reshape(-1)]


def _ints(values) -> list[int]:
    return [int(v) for v in np.asarray(values).reshape(-1)]


def _length_struct(name: str, consts) -> dict:
    """A ``thr_length_t`` of the plan's :class:`~tinyhar.features.plan.LengthConstants`."""
    return {"name": code(name), "n": consts.n, "inv_n": code(c_float(consts.inv_n)),
            "mcr_scale": code(c_float(consts.mcr_scale)),
            "pct_i": [i for _, _, i, _ in consts.percentiles],
            "pct_t": [code(c_float(t)) for _, _, _, t in consts.percentiles]}


def _pct_slot_expr(slots: Sequence[str]) -> str:
    """``THR_PCT_SLOT(p)``: the value slot of the p-th percentile, as nested conditionals
    (constants the compiler folds: no table in flash)."""
    expr = slots[-1] if slots else "0"
    for p in range(len(slots) - 2, -1, -1):
        expr = f"((p) == {p} ? {slots[p]} : {expr})"
    return expr


def _statistics_context(plan) -> dict:
    """The statistic table of the plan as C names: one bit and one value slot each."""
    from tinyhar.features.plan import statistic

    rows = [statistic(name) for name in plan.statistics]
    pct = plan.lengths[0].percentiles
    used = [r.name for r in rows if any(r.name in b.stats for b in plan.stat_blocks)]
    return {
        "used": [code(f"THR_{name.upper()}") for name in used] or [code("0u")],
        "end": 1 + max((plan.statistics.index(name) for name in used), default=-1),
        "rows": [{"key": code(r.name.upper()), "bit": i, "doc": code(r.name)}
                 for i, r in enumerate(rows)],
        "pct_slot": code(_pct_slot_expr([f"THR_S_{name.upper()}" for name, _, _, _ in pct])),
        "n_pct": len(pct),
        "pct_doc": code(", ".join(f"{name} (p = {p:g})" for name, p, _, _ in pct)),
    }


def _config_context(pipeline, plan, flags: dict[str, int]) -> dict:
    """Numbers of the configuration section of ``tinyhar_model.c``, from the feature plan."""
    from tinyhar.features.validity import MAX_ABS_INPUT

    n = plan.n_samples
    max_bits = int(np.array([MAX_ABS_INPUT], dtype=np.float32).view(np.uint32)[0])
    spectral = plan.spectral
    ctx: dict = {
        "flags": flags,
        "statistics": _statistics_context(plan),
        "defines": _defines([
            ("THR_N", n, "samples per window"),
            ("THR_C", len(plan.channels), "channels per sample"),
            ("THR_K", n // 2, "spectral bins k = 1..n/2"),
            ("THR_USE_TRIAD", flags["triad"], "accelerometer and/or gyroscope triad"),
            ("THR_USE_GRAVITY", flags["gravity"], "gravity filter, body acceleration"),
            ("THR_GRAVITY_MEAN", flags["gravity_mean"], "features: mean gravity per axis"),
            ("THR_GRAVITY_TILT", flags["tilt"], "features: tilt angles"),
            ("THR_USE_JERK", flags["jerk"], "jerk magnitudes"),
            ("THR_USE_CORRELATION", flags["correlation"], "axis correlations"),
            ("THR_USE_ENMO", flags["enmo"], "ENMO"),
            ("THR_USE_SMA", flags["sma"], "signal magnitude area of a triad"),
            ("THR_USE_SPECTRAL", flags["spectral"], "spectral features"),
            ("THR_N_OTHER", flags["other"], "channels without a sensor role"),
            ("THR_FFT_RADIX2", int(n >= 4 and (n & (n - 1)) == 0),
             "1: radix-2 FFT, 0: direct DFT"),
        ]),
        "fs": code(c_float(plan.fs32)),
        "max_abs_bits": code(f"0x{max_bits:08x}u"),
        "corr_floor": code(c_float(plan.corr_floor)),
        "flat_variance": code(c_float(plan.flat_variance)),
        "lengths": [_length_struct("thr_len_full", plan.length(n))],
    }
    if flags["jerk"]:
        ctx["lengths"].append(_length_struct("thr_len_jerk", plan.length(n - 1)))
    if flags["gravity"]:
        ctx["sos"] = [_floats(row) for row in plan.gravity.sos]
        ctx["gravity"] = {"order": plan.gravity.order,
                          "cutoff_hz": code(f"{plan.gravity.cutoff_hz:g}"),
                          "rate_hz": code(f"{plan.sampling_rate_hz:g}")}
    if flags["spectral"]:
        m = spectral.n_bins if spectral.radix2 else spectral.n_fft  # twiddles of the kernel
        j = np.arange(m, dtype=np.float64)
        ctx["spectral"] = {
            "cos": _floats(np.cos(2 * np.pi * j / n)),
            "sin": _floats(np.sin(2 * np.pi * j / n)),
            "freqs": _floats(spectral.freqs),
            "band_start": [b.k_start - 1 for b in spectral.bands],
            "band_count": [b.k_stop - b.k_start for b in spectral.bands],
            "bands_doc": code(", ".join(f"({b.lo:g}, {b.hi:g}]" for b in spectral.bands)),
            "power_weight": code(c_float(spectral.power_weight)),
            "power_weight_nyquist": code(c_float(spectral.power_weight_nyquist)),
            "log_k": code(c_float(spectral.log_k)),
            "flat_power": code(c_float(spectral.flat_power)),
        }
    return ctx


def _trees_context(model) -> dict:
    """The tree ensemble's arrays for ``tinyhar_model.c`` (thresholds as exact literals)."""
    feature = np.asarray(model.feature_)
    thresholds = [c_float(v) for v in model.threshold_]
    back = np.array([np.float32(float(t[:-1])) for t in thresholds], dtype=np.float32)
    if not np.array_equal(back, np.asarray(model.threshold_, dtype=np.float32)):
        raise TinyharError("internal error: a threshold does not read back as the same float32")
    leaves = np.asarray(model.leaves_, dtype=np.uint8)
    size = model.size()
    return {
        "n_trees": len(model.roots_),
        "n_nodes": len(thresholds),
        "n_leaves": len(leaves),
        "bytes": int(size["bytes"]),
        "feature_type": code("uint16_t" if feature.dtype == np.uint16 else "uint8_t"),
        "feature": _ints(feature),
        "threshold": [code(t) for t in thresholds],
        "left": _ints(model.left_),
        "right": _ints(model.right_),
        "roots": _ints(model.roots_),
        "leaves": [_ints(row) for row in leaves],
    }


def _header_context(pipeline, plan, catalog, hop: int) -> dict:
    """Everything ``tinyhar_model.h.j2`` prints; user strings stay raw (escaped there)."""
    import tinyhar
    from tinyhar.features.validity import MAX_ABS_INPUT

    classes = pipeline.output_classes  # the data set's declared order
    channels = [str(c) for c in pipeline.channels]
    n, c = int(pipeline.n_samples), len(channels)
    stacked = bool(pipeline.stack_previous)
    w = len(catalog)
    class_ids = c_identifiers("TINYHAR_CLASS_", classes, "class label")
    channel_ids = c_identifiers("TINYHAR_CH_", channels, "channel name")
    return {
        "tinyhar_version": code(tinyhar.__version__),
        "format_version": EXPORT_FORMAT_VERSION,
        "n_samples": n,
        "n_channels": c,
        "duration_s": code(f"{n / float(pipeline.sampling_rate_hz):g}"),
        "channels": [{"name": ch, "unit": unit, "ident": ident}
                     for ch, unit, ident in zip(channels, plan.units, channel_ids, strict=True)],
        "classes": [{"name": k, "ident": ident}
                    for k, ident in zip(classes, class_ids, strict=True)],
        "pre_windowed": pipeline.hop_samples is None,
        "max_abs_input": code(f"{MAX_ABS_INPUT:g}"),
        "stacked": stacked,
        "feature_set": str(plan.feature_set),
        "n_window_features": w,
        "n_features": 3 * w if stacked else w,
        "features": [{"index": code(f"{i:3d}"), "name": f.name, "unit": f.unit,
                      "group": f.group} for i, f in enumerate(catalog)],
        "defines": _defines([
            ("TINYHAR_EXPORT_FORMAT_VERSION", EXPORT_FORMAT_VERSION,
             "layout of the exported files (tinyhar.export.formats)"),
            ("TINYHAR_N_SAMPLES", n, "samples per window"),
            ("TINYHAR_N_CHANNELS", c, "values per sample"),
            ("TINYHAR_WINDOW_VALUES", n * c, "floats per window"),
            ("TINYHAR_SAMPLING_RATE_HZ", c_float(pipeline.sampling_rate_hz), "Hz"),
            ("TINYHAR_HOP_SAMPLES", int(hop), "samples between two windows of the stream"),
            ("TINYHAR_N_WINDOW_FEATURES", w, "features of one window"),
            ("TINYHAR_STACK_PREVIOUS", int(stacked),
             "1: the model also reads the previous window"),
            ("TINYHAR_N_FEATURES", 3 * w if stacked else w, "model inputs"),
            ("TINYHAR_N_CLASSES", len(classes), "classes"),
            ("TINYHAR_MAX_ABS_INPUT", c_float(MAX_ABS_INPUT),
             "largest accepted |input value|, g or rad/s"),
            ("TINYHAR_EINVAL", -1, "result for a window with NaN, inf or |value| > max"),
        ]),
    }


def _read_template(name: str) -> Safe:
    """A static C source of :data:`TEMPLATE_DIR` (no user strings: printed as is)."""
    return code((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def export_c(pipeline_or_run_dir: object, out_dir: str | Path) -> dict:
    """Write the C library of a trained pipeline, an example program and a Makefile.

    Parameters
    ----------
    pipeline_or_run_dir : HarPipeline, str or Path
        A fitted pipeline with a :class:`~tinyhar.models.trees.TreeEnsembleClassifier`,
        or a run folder written by ``tinyhar train``.
    out_dir : str or Path
        Folder to write into (created; the files of :data:`C_FILES` are
        overwritten), e.g. ``RUN/export/c``.

    Returns
    -------
    dict
        ``out_dir``; ``files`` (paths); ``n_samples``, ``n_channels``,
        ``channels``, ``units``, ``sampling_rate_hz``, ``hop_samples`` (the
        stream's hop, :attr:`HarPipeline.streaming_hop`: half a window for
        pre-windowed data),
        ``n_window_features``, ``n_features`` (model inputs), ``n_classes``,
        ``classes`` (C class index order), ``stack_previous``,
        ``feature_set``, ``fft`` (``"radix-2"`` or ``"dft"``),
        ``model_bytes`` (tree arrays) and ``static_ram_bytes`` (estimate of
        the static buffers; :func:`tinyhar.device.budget.c_budget` measures it).

    Raises
    ------
    TinyharError
        If the model is not a fitted tree ensemble, the extractor is not
        tinyhar's, the channel order of the pipeline and of its extractor
        differ, the feature set holds a feature the C export cannot compute,
        or two class labels (channel names) give the same C macro name
        ``TINYHAR_CLASS_...`` (``TINYHAR_CH_...``; the message names both).
        Nothing is written then. Also when ``out_dir`` cannot be written
        (:func:`tinyhar.export.source.export_folder`).

    Notes
    -----
    Filter: direct form II transposed biquads (the structure of
    :func:`scipy.signal.sosfilt`); FFT: iterative radix-2 Cooley-Tukey
    (Cooley & Tukey 1965, Math. Comp. 19:297) on n/2 complex points with the
    real-input split; tree layout: :mod:`tinyhar.models.trees`.
    """
    pipeline = load_pipeline(pipeline_or_run_dir)
    _check_pipeline(pipeline)
    plan = fitted_plan(pipeline)
    names = list(plan.names)
    if int(pipeline.model.n_features_in_) != (3 if pipeline.stack_previous else 1) * len(names):
        raise TinyharError(
            f"the model reads {pipeline.model.n_features_in_} features but the pipeline makes "
            f"{len(input_names(pipeline))}"
        )
    n = plan.n_samples
    hop = pipeline.streaming_hop  # one source for C, MicroPython and simulate
    driver, flags = _generate_driver(plan)
    classes = pipeline.output_classes  # the data set's declared order (model.classes_ mapped)
    channels = [str(c) for c in pipeline.channels]
    header = render(TEMPLATE_DIR, "tinyhar_model.h.j2",
                    **_header_context(pipeline, plan, pipeline.extractor.layout_.features, hop))
    source = render(
        TEMPLATE_DIR, "tinyhar_model.c.j2",
        **_config_context(pipeline, plan, flags),
        format_version=EXPORT_FORMAT_VERSION,
        classes=classes,
        class_index=_ints(pipeline.output_index),
        channels=channels,
        units=list(plan.units),
        driver=driver,
        trees=_trees_context(pipeline.model),
        prelude=_read_template("prelude.c"),
        dsp=_read_template("dsp.c"),
        api=code(_read_template("api.c").rstrip("\n")),
    )
    out = export_folder(out_dir)
    files = {
        "tinyhar_model.h": header,
        "tinyhar_model.c": source,
        "main.c": _read_template("main.c"),
        "Makefile": _read_template("Makefile"),
    }
    paths = {}
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="ascii")
        paths[name] = str(path)
    from tinyhar.export.post import export_run_post  # the run's post-processing, if any

    post = export_run_post(pipeline_or_run_dir, out, "c", int(pipeline.model.n_features_in_),
                           classes)
    paths.update(post.get("files", {}))

    w = len(names)
    c = len(channels)
    buffers = (6 if flags["triad"] else 3) * n + w + n * c + (w if pipeline.stack_previous else 0)
    return {
        "out_dir": str(out),
        "files": paths,
        "n_samples": n,
        "n_channels": c,
        "channels": channels,
        "units": list(plan.units),
        "sampling_rate_hz": float(pipeline.sampling_rate_hz),
        "hop_samples": hop,
        "window_spec": pipeline.spec.to_dict(),
        "n_window_features": w,
        "n_features": int(pipeline.model.n_features_in_),
        "n_classes": len(classes),
        "classes": classes,
        "stack_previous": bool(pipeline.stack_previous),
        "feature_set": plan.feature_set,
        "fft": "radix-2" if (n & (n - 1)) == 0 else "dft",
        "model_bytes": int(pipeline.model.size()["bytes"]),
        "static_ram_bytes": int(4 * buffers),
        "postprocess": post,
    }
