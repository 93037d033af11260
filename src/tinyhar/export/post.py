"""Post-processing and rejection on the device: C library and MicroPython module.

The fitted post-processing of a run (:class:`tinyhar.postprocess.PostProcessor`,
``postprocess.json``) and, optionally, its rejection parameters ("unknown"
windows) become

- ``tinyhar_post.h`` / ``tinyhar_post.c`` (C99, no ``malloc``, all state in a
  caller-owned ``tinyhar_post_state``), rendered from the Jinja2 templates
  ``c_templates/tinyhar_post.{h,c}.j2``, and a host program ``post_main.c``
  that reads probabilities (and features) and prints the classes;
- ``tinyhar_post.py`` (MicroPython, a copy of ``mpy/tinyhar_post.py``) with
  its parameters in ``post.json``.

Both stream one session at a time and follow the Python streaming classes of
:mod:`tinyhar.postprocess` step by step, in double precision: the same
probabilities give the same classes (:func:`tinyhar.export.parity.post_parity`;
the host runs are in :mod:`tinyhar.export.c_runner` and
:mod:`tinyhar.export.mpy_runner`). Numbers are stored exactly: C99 hexadecimal
float literals in C, IEEE-754 little-endian bytes (hex) in ``post.json``
(MicroPython's decimal parser is not always correctly rounded; ``struct`` is
exact).

Rejection contract (shared with the Python side of "unknown"): a window is
unknown when its top probability is below ``proba_threshold`` or its
out-of-distribution score is above ``ood_threshold``; the score is the
diagonal Mahalanobis distance of the model inputs ``x`` to the nearest class,
``min_c sum_j (x_j - ood_means[c, j])^2 * ood_inv_var[c, j]``. The unknown
class has index ``n_classes`` (label ``"unknown"``). Rejection comes before
smoothing: an unknown window enters the filters as its own class with the
probability row ``e_unknown`` (1 for unknown, 0 elsewhere); a known window's
row is its probabilities with 0 appended. The post-processor then works on
``n_classes + 1`` classes (its class list ends with ``"unknown"``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.export.escaping import code, render
from tinyhar.export.formats import EXPORT_FORMAT_VERSION

__all__ = [
    "C_POST_FILES",
    "MPY_POST_FILES",
    "UNKNOWN",
    "apply_rejection",
    "device_postprocess",
    "export_post_c",
    "export_run_post",
    "ood_scores",
    "reference_classes",
    "write_post_mpy",
]

TEMPLATE_DIR = Path(__file__).with_name("c_templates")
MPY_DIR = Path(__file__).with_name("mpy")
UNKNOWN = "unknown"
"""Label of rejected windows (class index ``n_classes``)."""
C_POST_FILES = ("tinyhar_post.h", "tinyhar_post.c", "post_main.c")
"""Files written by :func:`export_post_c`."""
MPY_POST_FILES = ("tinyhar_post.py", "post.json")
"""Files written by :func:`write_post_mpy`."""
_SMOOTHING_CODES = {"none": 0, "mode": 1, "ema": 2, "hmm": 3}
_REJECTION_KEYS = ("proba_threshold", "ood_threshold", "ood_means", "ood_inv_var")


# --------------------------------------------------------------------------- parameters


def _rejection_dict(rejection: Any) -> dict | None:
    """Rejection parameters from a mapping or an object with the contract's attributes."""
    if rejection is None:
        return None
    if isinstance(rejection, Mapping):
        get = rejection.get
    elif hasattr(rejection, "to_dict"):
        return _rejection_dict(rejection.to_dict())
    else:
        def get(key, default=None):
            return getattr(rejection, key, default)
    if get("posture", False):
        raise ConfigError("a rejection with the posture test (reject_posture) cannot run on a "
                          "device: its walking reference needs whole sessions; train with "
                          "postprocess.reject_posture: false")
    out = {k: get(k) for k in _REJECTION_KEYS}
    if out["proba_threshold"] is None and out["ood_threshold"] is None:
        raise ConfigError(f"rejection parameters set neither proba_threshold nor ood_threshold "
                          f"(keys {list(_REJECTION_KEYS)}; None = that test is off)")
    return out


def _own_rejection(spec: Any) -> Any:
    """The active rejection a post-processor carries (``spec.rejection``), else None."""
    rej = getattr(spec, "rejection", None)
    return rej if rej is not None and getattr(rej, "active", False) else None


def device_postprocess(spec: Any, rejection: Any = None,
                       n_features: int | None = None) -> dict:
    """Check a fitted post-processor (and rejection) for the device; return its parameters.

    Parameters
    ----------
    spec : PostProcessor
        Fitted and streamable (:attr:`~tinyhar.postprocess.PostProcessor.streamable`:
        no Viterbi, no ``merge`` rule). Its own active rejection
        (``spec.rejection``, with ``spec.out_classes`` ending in
        ``"unknown"``) is used when ``rejection`` is None; with a separate
        ``rejection``, its classes are the model's classes followed by
        ``"unknown"``.
    rejection : mapping or object, optional
        ``proba_threshold`` (float; None = that test off), ``ood_threshold`` (float;
        None = no OOD test), ``ood_means`` and ``ood_inv_var`` (arrays of
        shape (n_classes, n_features), or None).
    n_features : int, optional
        Number of model inputs; checked against ``ood_means`` when given.

    Returns
    -------
    dict
        ``classes`` (output classes), ``n_classes`` (model classes),
        ``n_out``, ``smoothing``, ``mode_k``, ``ema_alpha``, ``hmm``
        (startprob, transmat, emissionprob as float64 arrays, or None),
        ``hmm_lag``, ``min_duration``, ``hysteresis`` (margin, windows) or
        None, ``rejection`` (proba_threshold, ood_threshold, means, inv_var,
        n_features) or None, ``lag``, ``description``.

    Raises
    ------
    ConfigError
        Not streamable, not fitted, classes that do not end with
        ``"unknown"`` under rejection, or parameter arrays of the wrong shape
        or with non-finite values.
    """
    from tinyhar.postprocess import PostProcessor

    if not isinstance(spec, PostProcessor):
        raise ConfigError(f"expected a PostProcessor, got {type(spec).__name__}")
    if not spec.streamable:
        raise ConfigError(
            f"post-processing {spec.describe()} cannot run on a device (it needs whole "
            "sessions): use hmm_decoder 'fixed_lag', min_duration_rule 'causal', "
            "posture 'none' and reject_posture false"
        )
    if spec.needs_fit:
        raise ConfigError("the post-processing HMM is not fitted: fit it (train the run) first")
    own = _own_rejection(spec)
    if own is not None and rejection is None:  # the spec carries a calibrated rejection
        rejection = own
    rej = _rejection_dict(rejection)
    classes = list(spec.out_classes) if own is not None else list(spec.classes)
    n_out = len(classes)
    n_classes = n_out
    out_rej = None
    if rej is not None:
        if classes[-1] != UNKNOWN:
            raise ConfigError(
                f"with rejection the post-processor's classes must end with {UNKNOWN!r} "
                f"(the unknown class is index n_classes), got {classes}"
            )
        n_classes = n_out - 1
        thr = float(rej["proba_threshold"] or 0.0)
        if not np.isfinite(thr):
            raise ConfigError(f"rejection proba_threshold must be finite, got {thr!r}")
        ood_thr = rej.get("ood_threshold")
        means, inv_var = rej.get("ood_means"), rej.get("ood_inv_var")
        use_ood = (ood_thr is not None and np.isfinite(float(ood_thr)) and means is not None
                   and inv_var is not None)
        out_rej = {"proba_threshold": thr, "ood_threshold": None, "means": None,
                   "inv_var": None, "n_features": 0}
        if use_ood:
            means = np.asarray(means, dtype=np.float64)
            inv_var = np.asarray(inv_var, dtype=np.float64)
            if means.ndim != 2 or means.shape[0] != n_classes or inv_var.shape != means.shape:
                raise ConfigError(
                    f"rejection ood_means/ood_inv_var must have shape (n_classes={n_classes}, "
                    f"n_features), got {means.shape} and {inv_var.shape}"
                )
            if n_features is not None and means.shape[1] != int(n_features):
                raise ConfigError(f"rejection ood_means has {means.shape[1]} features, the "
                                  f"model reads {n_features}")
            if not (np.all(np.isfinite(means)) and np.all(np.isfinite(inv_var))
                    and np.all(inv_var >= 0)):
                raise ConfigError("rejection ood_means/ood_inv_var must be finite "
                                  "(inverse variances >= 0)")
            out_rej.update(ood_threshold=float(ood_thr), means=means, inv_var=inv_var,
                           n_features=int(means.shape[1]))
    hmm = None
    if spec.smoothing == "hmm":
        hmm = {k: np.asarray(v, dtype=np.float64) for k, v in spec.hmm.to_dict().items()}
    hyst = None
    if spec.hysteresis_margin > 0 or spec.hysteresis_windows > 1:
        hyst = {"margin": float(spec.hysteresis_margin), "windows": int(spec.hysteresis_windows)}
    return {
        "classes": classes,
        "n_classes": n_classes,
        "n_out": n_out,
        "smoothing": spec.smoothing,
        "mode_k": int(spec.mode_k),
        "ema_alpha": float(spec.ema_alpha),
        "hmm": hmm,
        "hmm_lag": int(spec.hmm_lag),
        "min_duration": int(spec.min_duration),
        "hysteresis": hyst,
        "rejection": out_rej,
        "lag": int(spec.lag),
        "description": spec.describe() + ("+reject" if out_rej and own is None else ""),
    }


# --------------------------------------------------------------------------- Python reference


def ood_scores(features: np.ndarray, means: np.ndarray, inv_var: np.ndarray) -> np.ndarray:
    """Diagonal Mahalanobis distance to the nearest class (the rejection contract).

    Parameters
    ----------
    features : numpy.ndarray, shape (n_windows, n_features)
        Model inputs.
    means, inv_var : numpy.ndarray, shape (n_classes, n_features)

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows,)
        ``min_c sum_j (x_j - means[c, j])^2 * inv_var[c, j]``.
    """
    x = np.asarray(features, dtype=np.float64)
    out = np.empty(x.shape[0])
    for a in range(0, x.shape[0], 4096):
        d = x[a:a + 4096, None, :] - np.asarray(means)[None]
        out[a:a + 4096] = (d * d * np.asarray(inv_var)[None]).sum(axis=2).min(axis=1)
    return out


def apply_rejection(params: dict, proba: np.ndarray,
                    features: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reject windows as unknown; the probability rows the filters then see.

    Parameters
    ----------
    params : dict
        :func:`device_postprocess` output.
    proba : numpy.ndarray, shape (n_windows, n_classes)
    features : numpy.ndarray, shape (n_windows, n_features), optional
        Needed when the parameters have an OOD score.

    Returns
    -------
    raw : numpy.ndarray of int64, shape (n_windows,)
        Class per window after rejection (``n_classes`` = unknown).
    rows : numpy.ndarray of float64, shape (n_windows, n_out)
        Probabilities extended by the unknown column (see the module docstring).
    """
    p = np.asarray(proba, dtype=np.float64)
    raw = np.argmax(p, axis=1).astype(np.int64)
    rej = params["rejection"]
    if rej is None:
        return raw, p
    unknown = p.max(axis=1) < rej["proba_threshold"]
    if rej["n_features"]:
        if features is None:
            raise ConfigError("the rejection has an OOD score: pass the windows' features")
        unknown |= ood_scores(features, rej["means"], rej["inv_var"]) > rej["ood_threshold"]
    rows = np.zeros((p.shape[0], p.shape[1] + 1))
    rows[:, :-1] = p
    rows[unknown] = 0.0
    rows[unknown, -1] = 1.0
    raw[unknown] = p.shape[1]
    return raw, rows


def reference_classes(spec: Any, rejection: Any, proba: np.ndarray,
                      features: np.ndarray | None, runs: np.ndarray) -> dict:
    """Python's classes: rejection, then :meth:`PostProcessor.apply` per run.

    Parameters
    ----------
    spec : PostProcessor
    rejection : mapping or object or None
    proba : numpy.ndarray, shape (n_windows, n_classes)
    features : numpy.ndarray, shape (n_windows, n_features) or None
    runs : numpy.ndarray, shape (n_windows,)
        Run (session) id per window; windows of a run contiguous, in time order.

    Returns
    -------
    dict
        ``raw`` and ``smoothed`` (int64 arrays, shape (n_windows,)).
    """
    params = device_postprocess(spec, rejection)
    raw, rows = apply_rejection(params, proba, features)
    own = _own_rejection(spec)
    if own is not None and rejection is None:  # the spec's own apply is the reference
        ood = spec.ood_model.score(features) if spec.ood_model is not None else None
        return {"raw": raw, "smoothed": spec.apply(proba, np.asarray(runs), ood)}
    return {"raw": raw, "smoothed": spec.apply(rows, np.asarray(runs))}


# --------------------------------------------------------------------------- C


def _hex(values: Any) -> list:
    return [code(float(v).hex()) for v in np.asarray(values, dtype=np.float64).reshape(-1)]


def _c_context(params: dict) -> dict:
    import tinyhar

    rej = params["rejection"]
    hyst = params["hysteresis"]
    sm = params["smoothing"]
    rows = [
        ("TINYHAR_POST_FORMAT_VERSION", EXPORT_FORMAT_VERSION, "export format (tinyhar.export)"),
        ("TINYHAR_POST_N_CLASSES", params["n_classes"], "classes of the model"),
        ("TINYHAR_POST_N_OUT", params["n_out"], "output classes (with unknown)"),
        ("TINYHAR_POST_REJECT", int(rej is not None), "1: windows can be rejected"),
        ("TINYHAR_POST_UNKNOWN", params["n_classes"] if rej else -2,
         "class index of unknown (-2: no rejection)"),
        ("TINYHAR_POST_N_FEATURES", rej["n_features"] if rej else 0,
         "model inputs read by the OOD score (0: none)"),
        ("TINYHAR_POST_NONE", 0, "smoothing codes"),
        ("TINYHAR_POST_MODE", 1, ""),
        ("TINYHAR_POST_EMA", 2, ""),
        ("TINYHAR_POST_HMM", 3, ""),
        ("TINYHAR_POST_SMOOTHING", _SMOOTHING_CODES[sm], f"this run: {sm}"),
        ("TINYHAR_POST_MODE_K", params["mode_k"], "mode filter length, windows"),
        ("TINYHAR_POST_HMM_LAG", params["hmm_lag"], "HMM fixed lag, windows"),
        ("TINYHAR_POST_MIN_DURATION", params["min_duration"],
         "minimum segment duration, windows (1: off)"),
        ("TINYHAR_POST_HYSTERESIS", int(hyst is not None), "1: hysteresis on"),
        ("TINYHAR_POST_LAG", params["lag"], "windows between a push and its decision"),
    ]
    if sm == "ema":
        rows.append(("TINYHAR_POST_EMA_ALPHA", float(params["ema_alpha"]).hex(),
                     f"EMA weight of the newest window ({params['ema_alpha']:g})"))
    if hyst:
        rows.append(("TINYHAR_POST_HYSTERESIS_MARGIN", float(hyst["margin"]).hex(),
                     f"probability lead to switch ({hyst['margin']:g})"))
        rows.append(("TINYHAR_POST_HYSTERESIS_WINDOWS", hyst["windows"],
                     "consecutive windows to switch"))
    if rej:
        rows.append(("TINYHAR_POST_PROBA_THRESHOLD", float(rej["proba_threshold"]).hex(),
                     f"unknown below this top probability ({rej['proba_threshold']:g})"))
        if rej["n_features"]:
            rows.append(("TINYHAR_POST_OOD_THRESHOLD", float(rej["ood_threshold"]).hex(),
                         f"unknown above this OOD score ({rej['ood_threshold']:g})"))
    defines = [{"key": code(k), "value": v if isinstance(v, int) else code(v), "doc": code(d)}
               for k, v, d in rows]
    smoothing_doc = {
        "none": "none (the window's own class)",
        "mode": f"mode (majority) filter over {params['mode_k']} windows, centred",
        "ema": f"exponential moving average of probabilities, alpha {params['ema_alpha']:g}",
        "hmm": f"HMM forward filter with a fixed lag of {params['hmm_lag']} windows",
    }[sm]
    md = params["min_duration"]
    ctx: dict = {
        "tinyhar_version": code(tinyhar.__version__),
        "format_version": EXPORT_FORMAT_VERSION,
        "description": params["description"],
        "classes": params["classes"],
        "defines": defines,
        "smoothing_doc": smoothing_doc,
        "min_duration_doc": (f"{md} windows (causal rule)" if md > 1 else "off"),
        "hysteresis_doc": (f"margin {hyst['margin']:g}, {hyst['windows']} windows" if hyst
                           else "off"),
        "rejection": None,
        "hmm": None,
    }
    if rej:
        ctx["rejection"] = {"n_features": rej["n_features"]}
        if rej["n_features"]:
            ctx["rejection"]["means"] = [_hex(r) for r in rej["means"]]
            ctx["rejection"]["inv_var"] = [_hex(r) for r in rej["inv_var"]]
    if params["hmm"] is not None:
        h = params["hmm"]
        ctx["hmm"] = {"startprob": _hex(h["startprob"]),
                      "transmat": [_hex(r) for r in h["transmat"]],
                      "emissionprob": [_hex(r) for r in h["emissionprob"]]}
    return ctx


def export_post_c(spec: Any, out_dir: str | Path, rejection: Any = None,
                  n_features: int | None = None) -> dict:
    """Write the post-processing C library (and its host example) of a run.

    Parameters
    ----------
    spec : PostProcessor
        The run's fitted, streamable post-processing.
    out_dir : str or Path
        Folder (created), e.g. the run's ``export/c`` beside ``tinyhar_model.c``.
    rejection : mapping or object, optional
        Rejection parameters (module docstring).
    n_features : int, optional
        The model's number of inputs (checked against the OOD parameters).

    Returns
    -------
    dict
        ``files`` (name -> path), ``lag`` (windows), ``description``,
        ``classes`` (output classes); :func:`tinyhar.device.budget.post_budget`
        measures flash, state RAM and time.

    Raises
    ------
    ConfigError
        See :func:`device_postprocess`.
    """
    params = device_postprocess(spec, rejection, n_features)
    ctx = _c_context(params)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "tinyhar_post.h": render(TEMPLATE_DIR, "tinyhar_post.h.j2", **ctx),
        "tinyhar_post.c": render(TEMPLATE_DIR, "tinyhar_post.c.j2", **ctx),
        "post_main.c": (TEMPLATE_DIR / "post_main.c").read_text(encoding="utf-8"),
    }
    paths = {}
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="ascii")
        tmp.replace(out / name)
        paths[name] = str(out / name)
    return {"files": paths, "lag": params["lag"], "description": params["description"],
            "classes": params["classes"]}


# --------------------------------------------------------------------------- host protocol


def check_runs(proba: np.ndarray, runs: np.ndarray) -> None:
    """Check the run ids of windows sent to a post-processing example (C or MicroPython).

    Parameters
    ----------
    proba : numpy.ndarray, shape (n_windows, n_classes)
    runs : numpy.ndarray, shape (n_windows,)
        Run id per window; the windows of one run must be contiguous.

    Raises
    ------
    ConfigError
        Another number of run ids than windows, or a run split in parts.
    """
    runs = np.asarray(runs)
    if runs.shape != (len(proba),):
        raise ConfigError(f"{runs.size} run ids for {len(proba)} windows")
    change = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    if len(set(runs[np.concatenate([[0], change])].tolist())) != change.size + (len(runs) > 0):
        raise ConfigError("the windows of each run must be contiguous (sort by run and time)")


def parse_classes(stdout: str, n: int, what: str) -> dict:
    """Classes printed by a post-processing example: ``R <raw>`` and ``S <smoothed>`` lines.

    Parameters
    ----------
    stdout : str
        The program's output (``post_main.c``) or ``tinyhar_post.run_file``'s file.
    n : int
        Windows sent.
    what : str
        The program, for the message.

    Returns
    -------
    dict
        ``raw`` and ``smoothed`` class indices, int64 arrays of shape (n,).

    Raises
    ------
    TinyharError
        Not ``n`` classes of each kind.
    """
    raw, smoothed = [], []
    for line in stdout.splitlines():
        if line.startswith("R "):
            raw.append(int(line[2:]))
        elif line.startswith("S "):
            smoothed.append(int(line[2:]))
    if len(raw) != n or len(smoothed) != n:
        raise TinyharError(f"{what}: {len(raw)} raw and {len(smoothed)} smoothed classes for "
                           f"{n} windows")
    return {"raw": np.array(raw, dtype=np.int64), "smoothed": np.array(smoothed, dtype=np.int64)}


# --------------------------------------------------------------------------- MicroPython


def _hex_bytes(values: Any) -> str:
    return np.asarray(values, dtype="<f8").reshape(-1).tobytes().hex()


def post_json(params: dict) -> dict:
    """The content of a bundle's ``post.json``.

    Parameters
    ----------
    params : dict
        :func:`device_postprocess` output.

    Returns
    -------
    dict
        JSON-able: ``format_version``, ``description``, ``classes`` (output
        classes), ``n_classes``, the options, ``lag``, ``reject``,
        ``n_features``; every float (``ema_alpha``, HMM matrices row-major,
        thresholds, OOD means and inverse variances row-major) as the hex
        string of its little-endian IEEE-754 float64 bytes, which
        ``tinyhar_post.py`` reads back exactly with ``struct``.
    """
    rej = params["rejection"]
    hmm = params["hmm"]
    hyst = params["hysteresis"]
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "description": params["description"],
        "classes": params["classes"],
        "n_classes": params["n_classes"],
        "smoothing": params["smoothing"],
        "mode_k": params["mode_k"],
        "ema_alpha": _hex_bytes([params["ema_alpha"]]),
        "hmm_lag": params["hmm_lag"],
        "hmm": None if hmm is None else {k: _hex_bytes(v) for k, v in hmm.items()},
        "min_duration": params["min_duration"],
        "hysteresis_margin": _hex_bytes([hyst["margin"] if hyst else 0.0]),
        "hysteresis_windows": hyst["windows"] if hyst else 1,
        "lag": params["lag"],
        "reject": rej is not None,
        "proba_threshold": _hex_bytes([rej["proba_threshold"] if rej else 0.0]),
        "n_features": rej["n_features"] if rej else 0,
        "ood_threshold": _hex_bytes([rej["ood_threshold"] if rej and rej["n_features"]
                                     else 0.0]),
        "ood_means": _hex_bytes(rej["means"]) if rej and rej["n_features"] else "",
        "ood_inv_var": _hex_bytes(rej["inv_var"]) if rej and rej["n_features"] else "",
    }


def write_post_mpy(spec: Any, out_dir: str | Path, rejection: Any = None,
                   n_features: int | None = None) -> dict:
    """Write ``tinyhar_post.py`` and ``post.json`` into a MicroPython bundle folder.

    Parameters
    ----------
    spec : PostProcessor
    out_dir : str or Path
        The bundle folder (created).
    rejection : mapping or object, optional
    n_features : int, optional

    Returns
    -------
    dict
        ``files`` (name -> bytes), ``lag``, ``description``, ``classes``.

    Raises
    ------
    ConfigError
        See :func:`device_postprocess`.
    """
    params = device_postprocess(spec, rejection, n_features)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(MPY_DIR / "tinyhar_post.py", out / "tinyhar_post.py")
    tmp = out / ".post.json.tmp"
    tmp.write_text(json.dumps(post_json(params), indent=1), encoding="ascii")
    tmp.replace(out / "post.json")
    return {"files": {n: (out / n).stat().st_size for n in MPY_POST_FILES},
            "lag": params["lag"], "description": params["description"],
            "classes": params["classes"]}


# --------------------------------------------------------------------------- run folders


def run_postprocess(run: Any) -> tuple[Any, Any]:
    """The fitted post-processing and rejection of a run folder.

    Parameters
    ----------
    run : RunFolder, str, Path or other
        A checked run folder (:func:`tinyhar.runfolder.load_run`) or its path;
        anything else (a pipeline object or file) has none.

    Returns
    -------
    spec : PostProcessor or None
        ``postprocess.json`` (None when the run has none).
    rejection : object or None
        The run's rejection parameters, when the run folder keeps them apart
        from ``postprocess.json`` (its ``rejection`` attribute); None when the
        post-processor carries its own (``spec.rejection``).
    """
    import os

    from tinyhar.runfolder import RunFolder, load_run

    if isinstance(run, (str, os.PathLike)):
        if not Path(run).is_dir():
            return None, None
        run = load_run(Path(run))
    if not isinstance(run, RunFolder):
        return None, None
    return run.postprocess, getattr(run, "rejection", None)


def reads_model_inputs(run: Any) -> bool:
    """Whether the run's post-processing has an OOD score (it reads every model input).

    A MicroPython bundle then computes every feature (no pruning to the
    features the trees test), so that the score sees the values Python sees.

    Parameters
    ----------
    run : RunFolder, str, Path or other
        See :func:`run_postprocess`.

    Returns
    -------
    bool
        False without post-processing, without rejection, with a rejection by
        the top probability only, or with one the device cannot run.
    """
    spec, rejection = run_postprocess(run)
    if spec is None:
        return False
    try:
        rej = device_postprocess(spec, rejection)["rejection"]
    except ConfigError:
        return False
    return bool(rej and rej["n_features"])


def export_run_post(run: Any, out_dir: str | Path, target: str,
                    n_features: int | None = None,
                    classes: Sequence[str] | None = None) -> dict:
    """Write a run's post-processing beside its C library or into its MicroPython bundle.

    Parameters
    ----------
    run : RunFolder, str, Path or other
        See :func:`run_postprocess`.
    out_dir : str or Path
        The C export folder or the bundle folder.
    target : {"c", "micropython"}
    n_features : int, optional
        The model's number of inputs.
    classes : sequence of str, optional
        The export's class order (its probability columns); the
        post-processor's classes must be the same, in that order.

    Returns
    -------
    dict
        ``description``, ``lag`` (windows), ``classes`` and ``files``; or
        ``note`` (why nothing was written: no post-processing in the run, one
        that cannot stream, or one of other classes than the export -- the
        model export itself still succeeds). Then the post-processing files
        of an earlier export into ``out_dir`` (``tinyhar_post.{h,c}``,
        ``post_main.c``; ``post.json``) are removed.
    """
    spec, rejection = run_postprocess(run)
    write = export_post_c if target == "c" else write_post_mpy
    note = None
    if spec is None:
        note = "the run has no post-processing (postprocess.json): none exported"
    elif classes is not None and [str(c) for c in classes] != list(spec.classes):
        note = (f"post-processing not exported: its classes {list(spec.classes)} "
                f"differ from the export's {list(classes)}")
    else:
        try:
            return write(spec, out_dir, rejection, n_features)
        except ConfigError as exc:
            note = f"post-processing not exported: {exc}"
    # an earlier export into the same folder may have left its post-processing there: a
    # budget, a build or the live app would take it for this model's
    stale = C_POST_FILES if target == "c" else ("post.json",)  # tinyhar_post.py: a source
    for name in stale:
        (Path(out_dir) / name).unlink(missing_ok=True)
    return {"note": note}
