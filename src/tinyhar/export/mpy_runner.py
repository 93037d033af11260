"""Host runs in the MicroPython unix port: bundle features, timing, post-processing.

:func:`run_micropython` runs code in the unix port (``micropython`` binary,
found by :func:`tinyhar.tools.find_micropython`) with a bundle first on its
module path. :func:`run_bundle_features` computes features and classes of
windows with a bundle written by
:func:`tinyhar.export.micropython.export_micropython` (``app_test.run``
reading a ``testdata.bin`` of them); :func:`time_per_window` times the
bundle on its own test windows; :func:`run_post_micropython` and
:func:`time_post_micropython` run a bundle's ``tinyhar_post.py``
(:mod:`tinyhar.export.post`).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError
from tinyhar.export.formats import write_testdata
from tinyhar.export.post import check_runs, parse_classes
from tinyhar.tools import MICROPYTHON_INSTALL_HINT, find_micropython

__all__ = [
    "HEAP_MIB_PER_WINDOW_BLOCK",
    "MICROPYTHON_INSTALL_HINT",
    "TIMING_GROUPS",
    "WINDOW_BLOCK_VALUES",
    "bundle_heap",
    "find_micropython",
    "run_bundle_features",
    "run_micropython",
    "run_post_micropython",
    "time_per_window",
    "time_post_micropython",
]

TIMING_GROUPS = (
    "prepare", "gravity", "orientation-independent", "enmo", "jerk", "statistics",
    "correlation", "spectral", "trees",
)
"""Cost groups reported by :func:`time_per_window` (``prepare``: magnitudes)."""


HEAP_MIB_PER_WINDOW_BLOCK = 4
"""MiB of unix-port heap per :data:`WINDOW_BLOCK_VALUES` values of a window (at least one
block): 4 MiB for HAPT's 128 x 6 windows, as before windows grew."""

WINDOW_BLOCK_VALUES = 256 * 6
"""Values (samples x channels) of a window per heap block: the unix port on a 64-bit host
keeps about 1.5 kB of live signals per sample of a 6-channel window (float objects, lists
and arrays of the default feature set), 3 MB for 2048 samples."""


def bundle_heap(bundle: str | Path) -> str:
    """Heap size (``-X heapsize=``) for running a bundle in the unix port.

    :data:`HEAP_MIB_PER_WINDOW_BLOCK` MiB per started block of
    :data:`WINDOW_BLOCK_VALUES` window values (``window`` x channels of the
    bundle's ``bundle.json``); ``"4M"`` for a folder without one. A fixed 4 MiB
    ran out of memory for windows of 2000 samples and more.

    Parameters
    ----------
    bundle : str or Path
        A bundle folder (:func:`tinyhar.export.micropython.export_micropython`).

    Returns
    -------
    str
        E.g. ``"4M"`` (128 x 6 samples), ``"32M"`` (2000 x 6).
    """
    path = Path(bundle) / "bundle.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        values = int(meta["window"]) * len(meta["channels"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"{HEAP_MIB_PER_WINDOW_BLOCK}M"
    blocks = max(1, -(-values // WINDOW_BLOCK_VALUES))
    return f"{HEAP_MIB_PER_WINDOW_BLOCK * blocks}M"


def run_micropython(
    code: str, cwd: str | Path, timeout: float = 600.0, heap: str | None = None
) -> subprocess.CompletedProcess:
    """Run MicroPython code in the unix port with ``cwd`` first on its module path.

    Parameters
    ----------
    code : str
        Source passed to ``micropython -c``.
    cwd : str or Path
        Working folder (the bundle).
    timeout : float
        Seconds before the run is stopped.
    heap : str, optional
        Heap size (``-X heapsize=``); default :func:`bundle_heap` of ``cwd``.

    Returns
    -------
    subprocess.CompletedProcess
        With text stdout/stderr.

    Raises
    ------
    TinyharError
        No micropython binary; the run failed (the message holds its stderr)
        or timed out.
    """
    exe = find_micropython()
    heap = heap or bundle_heap(cwd)
    env = dict(os.environ)
    env["MICROPYPATH"] = f"{Path(cwd).resolve()}:.frozen"
    try:
        proc = subprocess.run(
            [exe, "-X", f"heapsize={heap}", "-c", code], cwd=str(cwd), capture_output=True,
            text=True, encoding="utf-8", timeout=timeout, env=env,
        )
    except subprocess.TimeoutExpired as exc:
        raise TinyharError(f"MicroPython run timed out after {timeout:g} s") from exc
    if proc.returncode != 0:
        raise TinyharError(
            f"MicroPython ({exe}) failed with status {proc.returncode}:\n"
            f"{(proc.stderr or proc.stdout)[-2000:]}"
        )
    return proc


def _result_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.splitlines()):
        if line.startswith("TINYHAR_RESULT "):
            return json.loads(line[len("TINYHAR_RESULT "):])
    raise TinyharError(f"no result line in the MicroPython output:\n{stdout[-2000:]}")


def run_bundle_features(
    bundle_dir: str | Path, X: np.ndarray, sessions: Any = None, timeout: float = 600.0,
    heap: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute features and predictions of windows with the bundle in the unix port.

    Parameters
    ----------
    bundle_dir : str or Path
        A folder written by :func:`tinyhar.export.micropython.export_micropython`.
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Windows in the model's channel order.
    sessions : sequence, optional
        Session of each window (for ``stack_previous``; windows must then be
        in time order within a session).
    timeout : float
        Seconds.
    heap : str, optional
        Heap size of the unix port (default :func:`bundle_heap`).

    Returns
    -------
    features : numpy.ndarray of float32, shape (n_windows, n_features)
        NaN for an invalid window.
    predictions : numpy.ndarray of int, shape (n_windows,)
        Class indices; -1 for an invalid window (a NaN, an infinity or a
        value beyond :data:`tinyhar.features.validity.MAX_ABS_INPUT`: the
        bundle raises ``tinyhar_features.InvalidInput`` for it).

    Raises
    ------
    TinyharError
        No micropython binary, or the run failed.
    """
    bundle = Path(bundle_dir)
    with tempfile.TemporaryDirectory(prefix="tinyhar_mpy_") as tmp:
        win = Path(tmp) / "windows.bin"
        feat = Path(tmp) / "features.bin"
        write_testdata(win, X, [], None, sessions, None)
        code = (
            "import app_test\n"
            f"app_test.run({str(win)!r}, features_out={str(feat)!r}, verbose=False)\n"
        )
        proc = run_micropython(code, bundle, timeout=timeout, heap=heap)
        res = _result_line(proc.stdout)
        raw = feat.read_bytes()
    n = len(X)
    nf = int(res["n_features"])
    F = np.frombuffer(raw, "<f4", n * nf).reshape(n, nf)
    pred = np.frombuffer(raw, np.uint8, n, 4 * n * nf).astype(int)
    pred[pred == 255] = -1  # app_test's mark of an invalid window
    return F.copy(), pred


def time_per_window(
    bundle_dir: str | Path, n_windows: int | None = None, repeat: int = 3
) -> dict[str, Any]:
    """Time the bundle's features and trees per window in the MicroPython unix port.

    Runs ``app_test.run(timing=True)`` on the bundle's ``testdata.bin``:
    every window is computed ``repeat`` times and the fastest run is kept,
    per feature group too (``time.ticks_us``; file reading and the garbage
    collection between windows excluded, as in the live app, which collects
    while it waits for samples).

    Parameters
    ----------
    bundle_dir : str or Path
        A folder written by :func:`tinyhar.export.micropython.export_micropython`
        with test data.
    n_windows : int, optional
        Use only the first windows (default: all stored).
    repeat : int, default 3
        Runs per window (the fastest counts: less noise from other processes).

    Returns
    -------
    dict
        ``micropython_ms_per_window`` (features + prediction, mean over the
        windows), ``per_group_ms`` (group -> ms per window for the groups of
        :data:`TIMING_GROUPS` the feature set uses: ``prepare`` (magnitudes),
        ``gravity`` (filter, gravity means, tilt, body and its magnitude),
        ``orientation-independent``, ``enmo`` (with the gyroscope SMA),
        ``jerk`` (the jerk signals), ``statistics`` (time statistics of every
        signal), ``spectral`` (with the sums of squares of its signals, from
        their spectra by Parseval), ``correlation``, ``trees``), ``n_windows``,
        ``cpu_ms_per_window`` (process CPU time of the same work, averaged
        over all runs: not inflated when other processes compete for the CPU;
        None where ``time.clock`` is missing), ``gc_ms_per_window`` (the
        garbage collection after each window, which
        the live app does while it waits for samples; it grows with the heap
        size, :func:`bundle_heap`: 4 MiB for windows up to 1536 values),
        ``micropython`` (the binary). The sum of the groups is close to the
        total. Timings are of the unix port on this machine, not of a
        microcontroller (an ESP32 at 240 MHz is typically 10-30x slower).

    Raises
    ------
    TinyharError
        No micropython binary, no test data in the bundle, or the run failed.
    """
    bundle = Path(bundle_dir)
    if not (bundle / "testdata.bin").is_file():
        raise TinyharError(
            f"{bundle}: no testdata.bin to time (exported with --test-windows 0, or from a "
            "run without test windows, e.g. loso); export a run that has test subjects, or in "
            "Python export_micropython(..., windows=..., n_test_windows=36)"
        )
    code = (
        "import app_test\n"
        f"app_test.run('testdata.bin', timing=True, verbose=False, limit={n_windows!r}, "
        f"repeat={max(1, int(repeat))})\n"
    )
    res = _result_line(run_micropython(code, bundle).stdout)
    n_used = max(1, int(res["n"]))
    groups = {k: v / 1000.0 / n_used for k, v in res["timing_us"].items()}
    return {
        "micropython_ms_per_window": round(res["us_per_window"] / 1000.0, 4),
        "per_group_ms": {k: round(groups[k], 4) for k in TIMING_GROUPS if k in groups},
        "cpu_ms_per_window": (round(res["cpu_us_per_window"] / 1000.0, 4)
                              if "cpu_us_per_window" in res else None),
        "gc_ms_per_window": round(res.get("gc_us_per_window", 0.0) / 1000.0, 4),
        "n_windows": int(res["n"]),
        "micropython": find_micropython(),
    }


# --------------------------------------------------------------------------- post-processing


_MPY_RUN = """\
import tinyhar_post
tinyhar_post.run_file({inp!r}, {out!r}, {n_classes}, {n_features}, repeat={repeat})
"""


def _write_binary_input(path: Path, proba: np.ndarray, features: np.ndarray | None,
                        runs: np.ndarray) -> None:
    """Little-endian: per window one byte (1 = new run), K float64, F float32."""
    p = np.asarray(proba, dtype="<f8")
    runs = np.asarray(runs)
    new = np.ones(len(p), dtype=np.uint8)
    new[1:] = runs[1:] != runs[:-1]
    f = (np.zeros((len(p), 0), "<f4") if features is None
         else np.asarray(features, dtype="<f4"))
    rec = np.zeros(len(p), dtype=[("new", "u1"), ("p", "<f8", p.shape[1]),
                                   ("f", "<f4", f.shape[1])])
    rec["new"], rec["p"], rec["f"] = new, p, f
    path.write_bytes(rec.tobytes())


def run_post_micropython(bundle_dir: str | Path, proba: np.ndarray,
                         features: np.ndarray | None, runs: np.ndarray,
                         timeout: float = 600.0, repeat: int = 1) -> dict:
    """Post-process windows with the bundle's ``tinyhar_post.py`` in the unix port.

    Parameters
    ----------
    bundle_dir : str or Path
        Folder with ``tinyhar_post.py`` and ``post.json``
        (:func:`tinyhar.export.post.write_post_mpy`).
    proba, features, runs
        As :func:`tinyhar.export.c_runner.run_post_c`.
    timeout : float
        Seconds.
    repeat : int
        Runs over the windows; the fastest gives ``us_per_window``.

    Returns
    -------
    dict
        ``raw``, ``smoothed`` (int64 arrays) and ``us_per_window`` (post-processing
        time per window in the unix port, ``time.ticks_us``, input reading excluded).

    Raises
    ------
    TinyharError
        No micropython binary, or the run failed.
    """
    check_runs(proba, runs)
    n_features = 0 if features is None else int(np.asarray(features).shape[1])
    with tempfile.TemporaryDirectory(prefix="tinyhar_post_") as tmp:
        inp, out = Path(tmp) / "in.bin", Path(tmp) / "out.txt"
        _write_binary_input(inp, proba, features, runs)
        proc = run_micropython(_MPY_RUN.format(inp=str(inp), out=str(out),
                                               n_classes=int(np.asarray(proba).shape[1]),
                                               n_features=n_features,
                                               repeat=max(1, int(repeat))),
                               bundle_dir, timeout=timeout, heap="32M")
        res = parse_classes(out.read_text(encoding="utf-8"), len(proba), "tinyhar_post.py")
    for line in proc.stdout.splitlines():
        if line.startswith("TINYHAR_POST_US "):
            res["us_per_window"] = float(line.split()[1])
    return res


def time_post_micropython(bundle_dir: str | Path, proba: np.ndarray,
                          features: np.ndarray | None, runs: np.ndarray,
                          repeat: int = 3) -> float:
    """Post-processing time per window in the MicroPython unix port, ms (rejection included).

    The time of :func:`run_post_micropython` (``time.ticks_us`` around each
    ``push`` and ``flush``; reading the input, writing the output and the
    garbage collection every 64 windows excluded), the fastest of ``repeat``
    runs over the windows (less noise from other processes).
    """
    res = run_post_micropython(bundle_dir, proba, features, runs, repeat=repeat)
    return res["us_per_window"] / 1000.0
