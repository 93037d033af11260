"""Export format version and binary file layouts, with their Python writers and readers.

:func:`write_model_bin` writes ``model.bin``, :func:`write_testdata` /
:func:`read_testdata` ``testdata.bin`` (compact windows:
:func:`quantize_windows`), all from the layouts defined below, once.

:data:`EXPORT_FORMAT_VERSION` is written into every export -- the C header
(``TINYHAR_EXPORT_FORMAT_VERSION``), the MicroPython config
(``tinyhar_config.EXPORT_FORMAT_VERSION``), ``bundle.json``
(``export_format_version``) and the headers of ``model.bin`` and
``testdata.bin`` -- and every reader refuses another version with a message
that says to export again. Raise it whenever a reader of an older export
would misread a newer one (a renamed config key, a changed binary layout).

The MicroPython readers cannot import this module; they mirror its constants
(``tinyhar_trees.py``: ``MAGIC``, ``HEADER``, ``HEADER_SIZE``,
``EXPORT_FORMAT_VERSION``; ``app_test.py``: ``MAGIC``, ``HEADER``,
``HEADER_SIZE``; ``tinyhar_features.py``: ``EXPORT_FORMAT_VERSION``), and a
test checks that they agree (tests/export/test_formats.py).

Binary layouts (little-endian, :mod:`struct` notation):

``model.bin`` (:data:`MODEL_HEADER`)
    magic ``b"THT1"``, n_features, n_classes, n_trees, n_nodes, n_leaves,
    feature_bytes (1 or 2), leaf_bits, export format version; then roots
    int16[n_trees], feature uint8/uint16[n_nodes], threshold
    float32[n_nodes], left int16[n_nodes], right int16[n_nodes], leaves
    uint8[n_leaves * n_classes] (columns in the model's ``classes_`` order),
    class_index uint8[n_classes] (the class index, in the bundle's ``CLASSES``
    = :attr:`~tinyhar.models.pipeline.HarPipeline.output_classes`, of each
    leaf column).
``testdata.bin`` (:data:`TESTDATA_HEADER`)
    magic ``b"THW1"``, n_windows (uint32), n_samples, n_channels, export
    format version, sample_bytes (4: float32 samples; 2: int16 samples
    ``q`` standing for ``q * 2**exp[channel]``, exactly representable in
    float32); for sample_bytes 2, int8 exp[n_channels]; then the windows
    channel-major, uint8 labels, uint16 sessions, uint8 expected classes
    (:data:`NO_LABEL` = unknown).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

__all__ = [
    "BUNDLE_META_FILE",
    "EXPORT_FORMAT_VERSION",
    "MODEL_HEADER",
    "MODEL_HEADER_SIZE",
    "MODEL_MAGIC",
    "NO_LABEL",
    "TESTDATA_HEADER",
    "TESTDATA_HEADER_SIZE",
    "TESTDATA_MAGIC",
    "check_format_version",
    "dequantize_windows",
    "quantize_windows",
    "read_bundle_meta",
    "read_testdata",
    "write_model_bin",
    "write_testdata",
]

EXPORT_FORMAT_VERSION = 2
"""Version of the exported files' layout (C, MicroPython config, bundle, binaries)."""

MODEL_MAGIC = b"THT1"
"""First bytes of ``model.bin`` (tree ensemble of a MicroPython bundle)."""

MODEL_HEADER = "<4s8H"
"""struct format of the ``model.bin`` header (fields in the module docstring)."""

MODEL_HEADER_SIZE = struct.calcsize(MODEL_HEADER)

TESTDATA_MAGIC = b"THW1"
"""First bytes of ``testdata.bin`` (test windows of a MicroPython bundle)."""

TESTDATA_HEADER = "<4sIHHHH"
"""struct format of the ``testdata.bin`` header (fields in the module docstring)."""

TESTDATA_HEADER_SIZE = struct.calcsize(TESTDATA_HEADER)

NO_LABEL = 255
"""Class code of an unknown label or prediction in ``testdata.bin``."""

BUNDLE_META_FILE = "bundle.json"
"""Machine-readable summary of a MicroPython bundle (holds ``export_format_version``)."""


def check_format_version(found: Any, where: str | Path) -> None:
    """Raise unless ``found`` is :data:`EXPORT_FORMAT_VERSION`.

    Parameters
    ----------
    found : int or None
        The version stored in the export (None or 0: written before tinyhar
        stored versions).
    where : str or Path
        The file it was read from, for the message.

    Raises
    ------
    TinyharError
        Naming the file, both versions and the command to export again.
    """
    if found == EXPORT_FORMAT_VERSION:
        return
    what = (f"export format {found}" if found else
            "an export from a tinyhar version before format versions")
    raise TinyharError(
        f"{where}: {what}; this tinyhar reads export format {EXPORT_FORMAT_VERSION}. "
        "Export the run again (`tinyhar export RUN --target micropython` or "
        "`--target c`) to get files of this version"
    )


def read_bundle_meta(bundle: str | Path) -> dict[str, Any]:
    """Read ``bundle.json`` of a MicroPython bundle and check its export format version.

    Parameters
    ----------
    bundle : str or Path
        Folder written by :func:`tinyhar.export.micropython.export_micropython`.

    Returns
    -------
    dict
        The bundle summary (``classes``, ``channels``, ``sampling_rate_hz``, ...).

    Raises
    ------
    TinyharError
        No or unreadable ``bundle.json``, or another export format version.
    """
    path = Path(bundle) / BUNDLE_META_FILE
    if not path.is_file():
        raise TinyharError(f"{path}: missing; not a complete MicroPython bundle, export it again "
                           "(`tinyhar export RUN --target micropython`)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TinyharError(
            f"{path}: not readable as JSON ({exc}); export the bundle again"
        ) from exc
    if not isinstance(meta, dict):
        raise TinyharError(f"{path}: expected a JSON object; export the bundle again")
    check_format_version(meta.get("export_format_version"), path)
    return meta


# --------------------------------------------------------------------------- writers and readers


def write_model_bin(model: Any, path: str | Path, class_index: Any = None) -> int:
    """Write the flattened ensemble in tinyhar's binary layout (see ``tinyhar_trees.py``).

    Parameters
    ----------
    model : TreeEnsembleClassifier
        Fitted model (its ``feature_``, ``threshold_``, ``left_``, ``right_``,
        ``roots_`` and ``leaves_`` arrays are written little-endian).
    path : str or Path
    class_index : array-like of int, shape (n_classes,), optional
        Class index reported for each leaf column
        (:attr:`HarPipeline.output_index`); default: the columns' own order.

    Returns
    -------
    int
        File size in bytes.
    """
    feature = np.asarray(model.feature_)
    fb = 1 if feature.dtype == np.uint8 else 2
    n_leaves, n_classes = model.leaves_.shape
    header = struct.pack(
        MODEL_HEADER, MODEL_MAGIC, int(model.n_features_in_), int(n_classes),
        len(model.roots_), len(model.threshold_), int(n_leaves), fb, int(model.leaf_bits),
        EXPORT_FORMAT_VERSION,
    )
    parts = [
        header,
        np.asarray(model.roots_, "<i2").tobytes(),
        feature.astype("<u1" if fb == 1 else "<u2").tobytes(),
        np.asarray(model.threshold_, "<f4").tobytes(),
        np.asarray(model.left_, "<i2").tobytes(),
        np.asarray(model.right_, "<i2").tobytes(),
        np.asarray(model.leaves_, "<u1").tobytes(),
        np.asarray(np.arange(n_classes) if class_index is None else class_index,
                   "<u1").tobytes(),
    ]
    data = b"".join(parts)
    Path(path).write_bytes(data)
    return len(data)


def quantize_windows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Windows as int16 with one power-of-two scale per channel (the compact test data).

    Parameters
    ----------
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Finite windows (g, rad/s).

    Returns
    -------
    q : numpy.ndarray of int16, shape (n_windows, n_samples, n_channels)
    exp : numpy.ndarray of int8, shape (n_channels,)
        ``q * 2**exp`` (:func:`dequantize_windows`) is the stored value: the
        smallest power of two whose int16 range holds the channel's largest
        ``|x|``, so the step is at most ``max|x| / 16384`` (1.2e-4 g for a
        channel up to 2 g); the products are exact in float32.

    Raises
    ------
    TinyharError
        A NaN or an infinity (an invalid window cannot be stored compactly).
    """
    X = np.asarray(X, dtype=np.float64)
    if not np.isfinite(X).all():
        raise TinyharError("compact test windows must be finite (no NaN or infinity)")
    peak = np.abs(X).max(axis=(0, 1)) if X.size else np.zeros(X.shape[-1])
    exp = np.array([0 if m <= 0 else math.ceil(math.log2(m / 32767.0)) for m in peak])
    exp = np.clip(exp, -100, 100).astype(np.int8)
    q = np.clip(np.rint(X / np.exp2(exp.astype(np.float64))), -32768, 32767)
    return q.astype(np.int16), exp


def dequantize_windows(q: np.ndarray, exp: np.ndarray) -> np.ndarray:
    """float32 windows ``q * 2**exp`` of :func:`quantize_windows` (shape of ``q``)."""
    return (q.astype(np.float64) * np.exp2(np.asarray(exp, np.float64))).astype(np.float32)


def write_testdata(
    path: str | Path,
    X: np.ndarray,
    classes: list[str],
    labels: Any = None,
    sessions: Any = None,
    expected: Any = None,
    compact: bool = False,
) -> int:
    """Write windows for ``app_test.py`` (layout in the module docstring).

    Parameters
    ----------
    path : str or Path
    X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
        Windows in the model's channel order (g, rad/s), stored channel-major.
    classes : list of str
        The bundle's classes (labels are stored as indices into it).
    labels, expected : sequence of str, optional
        True labels and the Python pipeline's predictions (255 = unknown).
    sessions : sequence, optional
        Session of each window (stored as uint16 codes; stacking restarts at
        a change).
    compact : bool, default False
        Store int16 samples with a power-of-two scale per channel
        (:func:`quantize_windows`: half the size; ``expected`` must then be
        the predictions on :func:`dequantize_windows` of them) instead of
        float32 (exact, and NaN/infinity allowed: the host parity checks).

    Returns
    -------
    int
        File size in bytes.
    """
    X = np.asarray(X, dtype=np.float32)
    n, N, C = X.shape
    lookup = {c: i for i, c in enumerate(classes)}

    def codes(values: Any) -> np.ndarray:
        if values is None:
            return np.full(n, NO_LABEL, np.uint8)
        return np.asarray([lookup.get(str(v), NO_LABEL) for v in values], np.uint8)

    if sessions is None:
        sess = np.zeros(n, np.uint16)
    else:
        _, inv = np.unique(np.asarray(sessions, dtype=str), return_inverse=True)
        sess = inv.reshape(-1).astype(np.uint16)
    if compact:
        q, exp = quantize_windows(X)
        samples = [np.asarray(exp, "<i1").tobytes(),
                   np.ascontiguousarray(q.transpose(0, 2, 1)).astype("<i2").tobytes()]
    else:
        samples = [np.ascontiguousarray(X.transpose(0, 2, 1)).astype("<f4").tobytes()]
    header = struct.pack(TESTDATA_HEADER, TESTDATA_MAGIC, n, N, C, EXPORT_FORMAT_VERSION,
                         2 if compact else 4)
    data = b"".join([header, *samples, codes(labels).tobytes(), sess.astype("<u2").tobytes(),
                     codes(expected).tobytes()])
    Path(path).write_bytes(data)
    return len(data)


def read_testdata(path: str | Path) -> dict[str, np.ndarray]:
    """Read a file written by :func:`write_testdata`.

    Returns
    -------
    dict
        ``X`` (n, n_samples, n_channels) float32 (compact files dequantised),
        ``labels``, ``sessions``, ``expected`` (int arrays; 255 = unknown),
        ``compact`` (bool).

    Raises
    ------
    TinyharError
        Not a tinyhar test-data file, or one of another export format version.
    """
    raw = Path(path).read_bytes()
    size = TESTDATA_HEADER_SIZE
    if len(raw) < size or raw[:4] != TESTDATA_MAGIC:
        raise TinyharError(f"{path}: not a tinyhar test-data file")
    magic, n, N, C, version = struct.unpack(TESTDATA_HEADER[:-1], raw[:size - 2])
    check_format_version(version, path)
    sample_bytes = struct.unpack("<H", raw[size - 2:size])[0]
    off = size
    if sample_bytes == 2:
        exp = np.frombuffer(raw, "<i1", C, off)
        off += C
        q = np.frombuffer(raw, "<i2", n * N * C, off).reshape(n, C, N).transpose(0, 2, 1)
        X = dequantize_windows(q, exp)
    elif sample_bytes == 4:
        X = np.frombuffer(raw, "<f4", n * N * C, off).reshape(n, C, N).transpose(0, 2, 1)
    else:
        raise TinyharError(f"{path}: unknown sample size {sample_bytes} bytes; export again")
    off += sample_bytes * n * N * C
    labels = np.frombuffer(raw, np.uint8, n, off)
    off += n
    sessions = np.frombuffer(raw, "<u2", n, off)
    off += 2 * n
    expected = np.frombuffer(raw, np.uint8, n, off)
    return {"X": np.ascontiguousarray(X), "labels": labels, "sessions": sessions,
            "expected": expected, "compact": sample_bytes == 2}
