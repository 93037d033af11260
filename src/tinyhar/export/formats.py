"""Export format version and binary file layouts, defined once for writers and readers.

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
import struct
from pathlib import Path
from typing import Any

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
    "read_bundle_meta",
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
