"""Host runs of a C export: build the example program with gcc and talk to it.

:func:`build_example` compiles the example ``main.c`` and the library written
by :func:`tinyhar.export.c.export_c` (warnings are errors); :func:`run_windows`
and :func:`run_stream` send it windows or a sample stream on stdin (one line
of comma-separated float32 values each, :func:`format_rows`) and parse what it
prints (class index, percent-encoded class name, probabilities, features).
:func:`build_post_example` and :func:`run_post_c` do the same for the
post-processing example ``post_main.c`` (:mod:`tinyhar.export.post`).
:func:`tinyhar.export.parity.c_parity` compares the results with Python.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from tinyhar.errors import TinyharError
from tinyhar.export.post import C_POST_FILES, check_runs, parse_classes

__all__ = [
    "EXAMPLE_BINARY",
    "HOST_CFLAGS",
    "POST_BINARY",
    "build_example",
    "build_post_example",
    "format_rows",
    "run_post_c",
    "run_stream",
    "run_windows",
]

EXAMPLE_BINARY = "tinyhar_example"
"""Name of the example program built by the Makefile / :func:`build_example`."""

HOST_CFLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-ffp-contract=off")
"""Flags of the host build (also in the generated Makefile)."""

POST_BINARY = "tinyhar_post_example"
"""Name of the post-processing example built by :func:`build_post_example`."""


def build_example(c_dir: str | Path, out: str | Path | None = None,
                  extra_flags: Sequence[str] = ()) -> Path:
    """Compile the example program of an export with gcc (host build).

    Parameters
    ----------
    c_dir : str or Path
        Folder written by :func:`tinyhar.export.c.export_c`.
    out : str or Path, optional
        Path of the executable (default ``c_dir / "tinyhar_example"``).
    extra_flags : sequence of str
        More compiler flags (e.g. ``["-g"]``).

    Returns
    -------
    Path
        The executable.

    Raises
    ------
    TinyharError
        If gcc is not installed (with the install command) or the build fails
        (with the compiler's message). Warnings count as failures.
    """
    c_dir = Path(c_dir)
    return _gcc("the C export", c_dir, ("main.c", "tinyhar_model.c", "tinyhar_model.h"),
                ("main.c", "tinyhar_model.c", "-lm"),
                Path(out) if out is not None else c_dir / EXAMPLE_BINARY, extra_flags,
                "write the export with export_c first")


def _gcc(what: str, c_dir: Path, needed: Sequence[str], sources: Sequence[str], exe: Path,
         extra_flags: Sequence[str], hint: str) -> Path:
    """Build ``exe`` from ``sources`` of ``c_dir`` (``-l`` options as is) with the host flags."""
    from tinyhar.tools import require_tool

    gcc = require_tool("gcc", f"building {what}")
    for name in needed:
        if not (c_dir / name).is_file():
            raise TinyharError(f"{c_dir / name}: missing; {hint}")
    cmd = [gcc, *HOST_CFLAGS, "-Werror", *extra_flags, "-o", str(exe),
           *(src if src.startswith("-l") else str(c_dir / src) for src in sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyharError(f"building {what} failed ({' '.join(cmd)}):\n{proc.stderr}")
    return exe


def format_rows(rows: np.ndarray) -> list[str]:
    """Rows of float32 values as the comma-separated lines the example program reads.

    Parameters
    ----------
    rows : numpy.ndarray, shape (n_rows, n_values)
        Values (rounded to float32).

    Returns
    -------
    list of str
        One line per row; each value is the shortest decimal of its float32
        (``repr`` of the exact float), which ``strtof`` reads back to the same
        float32.
    """
    return [",".join(map(repr, row)) for row in np.asarray(rows, dtype=np.float32).tolist()]


def _run(binary: str | Path, args: list[str], text: str) -> str:
    proc = subprocess.run([str(binary), *args], input=text, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyharError(f"{binary} {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


def _parse_outputs(lines: list[str], n_classes: int, first: int) -> dict:
    parts = [ln.split(",") for ln in lines]
    names = [unquote(p[first], errors="strict") for p in parts]  # main.c's print_name
    proba = np.array([p[first + 1:first + 1 + n_classes] for p in parts], dtype=np.float64)
    feats = [p[first + 1 + n_classes:] for p in parts]
    width = {len(f) for f in feats}
    features = (np.array(feats, dtype=np.float64).astype(np.float32) if width != {0}
                else None)
    return {"class_names": np.asarray(names, dtype=object), "proba": proba,
            "features": features}


def run_windows(binary: str | Path, X: np.ndarray, n_classes: int,
                new_recording: np.ndarray | None = None) -> dict:
    """Classify windows with the compiled example (``--windows`` mode).

    Parameters
    ----------
    binary : str or Path
        Executable from :func:`build_example`.
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Windows in the export's channel order (g, rad/s).
    n_classes : int
        Number of classes of the export (``TINYHAR_N_CLASSES``).
    new_recording : numpy.ndarray of bool, shape (n_windows,), optional
        True where a window starts a new recording (its own predecessor for
        stacked models); default: only the first window.

    Returns
    -------
    dict
        ``classes`` (int array, C class index), ``class_names``, ``proba``
        (n_windows, n_classes) and ``features`` (float32, (n_windows,
        TINYHAR_N_WINDOW_FEATURES)). An invalid window (NaN, inf or a value
        beyond :data:`tinyhar.features.validity.MAX_ABS_INPUT` as float32)
        has class ``TINYHAR_EINVAL`` (-1), name ``"invalid"`` and NaN
        probabilities and features.

    Raises
    ------
    TinyharError
        If the program fails (e.g. a wrong number of values per window).
    """
    with np.errstate(over="ignore"):  # float32 as the C side reads it: 1e39 is inf
        X = np.asarray(X, dtype=np.float32)
    rows = format_rows(X.reshape(len(X), -1))
    if new_recording is not None:
        rows = [("\n" + r) if (new and i) else r
                for i, (r, new) in enumerate(zip(rows, np.asarray(new_recording), strict=True))]
    out = _run(binary, ["--windows"], "\n".join(rows) + "\n")
    lines = [ln for ln in out.splitlines() if ln]
    if len(lines) != len(X):
        raise TinyharError(f"{binary}: {len(lines)} results for {len(X)} windows")
    res = _parse_outputs(lines, n_classes, 1)
    res["classes"] = np.array([int(ln.split(",", 1)[0]) for ln in lines], dtype=np.int64)
    return res


def run_stream(binary: str | Path, samples: np.ndarray, n_classes: int,
               features: bool = True) -> dict:
    """Replay a recording sample by sample through the streaming helper.

    Parameters
    ----------
    binary : str or Path
        Executable from :func:`build_example`.
    samples : numpy.ndarray, shape (n_samples, n_channels)
        The recording in the export's channel order.
    n_classes : int
        ``TINYHAR_N_CLASSES``.
    features : bool
        Also return the features of each window.

    Returns
    -------
    dict
        ``time_s`` (end of each window, s from the first sample),
        ``class_names`` (``"invalid"`` for a window with NaN, inf or a value
        beyond :data:`tinyhar.features.validity.MAX_ABS_INPUT`: its
        probabilities and features are NaN), ``proba`` and ``features`` (or
        None).

    Raises
    ------
    TinyharError
        If the program fails (e.g. a sample with another number of values).
    """
    out = _run(binary, ["--features"] if features else [],
               "\n".join(format_rows(samples)) + "\n")
    lines = [ln for ln in out.splitlines()[1:] if ln]
    res = _parse_outputs(lines, n_classes, 1)
    res["time_s"] = np.array([float(ln.split(",", 1)[0]) for ln in lines])
    return res


# --------------------------------------------------------------------------- post-processing


def build_post_example(c_dir: str | Path, out: str | Path | None = None,
                       extra_flags: Sequence[str] = ()) -> Path:
    """Compile ``post_main.c`` + ``tinyhar_post.c`` with gcc (warnings are errors).

    Parameters
    ----------
    c_dir : str or Path
        Folder written by :func:`tinyhar.export.post.export_post_c`.
    out : str or Path, optional
        Executable path (default ``c_dir / "tinyhar_post_example"``).
    extra_flags : sequence of str

    Returns
    -------
    Path

    Raises
    ------
    TinyharError
        gcc missing or the build fails (with the compiler's message).
    """
    c_dir = Path(c_dir)
    return _gcc("the C post-processing", c_dir, C_POST_FILES, ("post_main.c", "tinyhar_post.c"),
                Path(out) if out is not None else c_dir / POST_BINARY, extra_flags,
                "write it with export_post_c first")


def _input_lines(proba: np.ndarray, features: np.ndarray | None, runs: np.ndarray) -> str:
    """One line per window (probabilities; features after ';'), an empty line between runs."""
    p = np.asarray(proba, dtype=np.float64)
    runs = np.asarray(runs)
    f = None if features is None else np.asarray(features, dtype=np.float32).astype(np.float64)
    lines = []
    for i in range(p.shape[0]):
        if i and runs[i] != runs[i - 1]:
            lines.append("")
        row = ",".join(map(repr, p[i].tolist()))
        if f is not None:
            row += ";" + ",".join(map(repr, f[i].tolist()))
        lines.append(row)
    return "\n".join(lines) + "\n"


def run_post_c(binary: str | Path, proba: np.ndarray, features: np.ndarray | None,
               runs: np.ndarray) -> dict:
    """Post-process windows with the compiled example (one session per run).

    Parameters
    ----------
    binary : str or Path
        From :func:`build_post_example`.
    proba : numpy.ndarray, shape (n_windows, n_classes)
    features : numpy.ndarray, shape (n_windows, n_features) or None
        Model inputs (for the OOD score).
    runs : numpy.ndarray, shape (n_windows,)
        Run id per window (contiguous runs, time order).

    Returns
    -------
    dict
        ``raw`` and ``smoothed`` class indices, int64 arrays of shape (n_windows,).

    Raises
    ------
    TinyharError
        The program failed.
    """
    check_runs(proba, runs)
    proc = subprocess.run([str(binary)], input=_input_lines(proba, features, runs),
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise TinyharError(f"{binary} failed: {proc.stderr.strip()}")
    return parse_classes(proc.stdout, len(proba), str(binary))
