"""A window set in a file: a compressed ``.npz`` of plain arrays.

:func:`save_windows` / :func:`load_windows` store a
:class:`~tinyhar.core.windowset.WindowSet` as float32 samples, unicode labels
and JSON metadata (format version, :class:`~tinyhar.core.spec.WindowSpec`,
classes); never a pickle, so loading cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import DataFormatError

WINDOWS_FORMAT = "tinyhar-windows"
WINDOWS_FORMAT_VERSION = 1
"""Version of the :func:`save_windows` layout; :func:`load_windows` refuses others."""


def save_windows(windows: WindowSet, path: str | Path) -> Path:
    """Write a window set to a compressed ``.npz`` of plain arrays.

    Arrays: ``X`` float32 ``(n_windows, n_samples, n_channels)``, ``y``,
    ``subject``, ``session`` (and ``split`` when set) as unicode,
    ``start_time`` float64 and ``meta``: JSON with the format and its
    version, the :class:`~tinyhar.core.spec.WindowSpec`, the classes and the
    set's name. The caller makes the write atomic (a run folder is written
    into a temporary folder; elsewhere use
    :func:`tinyhar.core.files.atomic_file`).

    Parameters
    ----------
    windows : WindowSet
        The windows.
    path : str or Path
        The ``.npz`` file.

    Returns
    -------
    Path
    """
    path = Path(path)
    meta = {
        "format": WINDOWS_FORMAT,
        "format_version": WINDOWS_FORMAT_VERSION,
        "spec": windows.spec.to_dict(),
        "classes": list(windows.classes),
        "name": windows.name,
    }
    arrays = {
        "X": np.asarray(windows.X, dtype=np.float32),
        "y": np.asarray([str(v) for v in windows.y], dtype=str),
        "subject": np.asarray(windows.subject, dtype=str),
        "session": np.asarray(windows.session, dtype=str),
        "start_time": np.asarray(windows.start_time, dtype=np.float64),
        "meta": np.asarray(json.dumps(meta)),
    }
    if windows.split is not None:
        arrays["split"] = np.asarray(windows.split, dtype=str)
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_windows(path: str | Path) -> WindowSet:
    """Read a window set written by :func:`save_windows` (no pickle is loaded).

    Parameters
    ----------
    path : str or Path
        The ``.npz`` file.

    Returns
    -------
    WindowSet

    Raises
    ------
    DataFormatError
        Not such a file, another format version, or arrays that do not fit
        the stored spec.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise DataFormatError(path, f"not a readable window file ({exc})") from None
    try:
        meta = json.loads(str(data["meta"][()]))
    except (KeyError, ValueError) as exc:
        raise DataFormatError(path, f"no window metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != WINDOWS_FORMAT:
        raise DataFormatError(path, f"not a {WINDOWS_FORMAT} file")
    if meta.get("format_version") != WINDOWS_FORMAT_VERSION:
        raise DataFormatError(
            path, f"window file format version {meta.get('format_version')!r}; this tinyhar "
            f"reads version {WINDOWS_FORMAT_VERSION}: write it again with this tinyhar",
        )
    missing = [k for k in ("X", "y", "subject", "session", "start_time") if k not in data]
    if missing:
        raise DataFormatError(path, f"arrays {missing} are missing")
    spec = WindowSpec.from_dict(meta.get("spec"), f"{path}: meta.spec")
    X = data["X"]
    if X.dtype != np.float32 or X.ndim != 3 or X.shape[1:] != spec.shape:
        raise DataFormatError(
            path, f"X is {X.dtype} {X.shape}, the spec says float32 (n, {spec.n_samples}, "
            f"{spec.n_channels})",
        )
    out = WindowSet(
        X, data["y"].astype(object), data["subject"].astype(object),
        data["session"].astype(object), data["start_time"], list(spec.channels),
        spec.sampling_rate_hz, [str(c) for c in meta.get("classes", [])],
        str(meta.get("name", path.stem)),
        data["split"].astype(object) if "split" in data else None,
        hop_samples=spec.hop_samples,
    )
    if tuple(out.units) != spec.units:
        raise DataFormatError(
            path, f"stored units {list(spec.units)} differ from the channels' units {out.units}"
        )
    return out
