"""Data sets: loaders for public HAR data and your own, in tinyhar's canonical form.

Continuous recordings are :class:`RecordingSet` (time in s, acceleration in g,
angular rate in rad/s); pre-windowed data sets load as
:class:`~tinyhar.core.windowset.WindowSet`.

=========================== ===================================================
function                    reads
=========================== ===================================================
:func:`load_dataset`        any registered name, YAML definition or .parquet
:func:`load_bundled_hapt`   the HAPT copy shipped with tinyhar (no download)
:func:`load_hapt`           HAPT (UCI 341) zip or folder, 50 Hz, acc+gyro
:func:`load_ucihar`         UCI HAR (UCI 240) zip or folder, 128-sample windows
:func:`load_wisdm_raw`      WISDM v1.1 raw text, 20 Hz accelerometer
:func:`load_wisdm_windows`  derived WISDM v1.1 ``windows.npz``
:func:`load_custom`         your files, described by a YAML definition
=========================== ===================================================

Everything is imported on first use, so ``import tinyhar.datasets`` stays
light: it imports neither numpy, pandas nor :mod:`tinyhar.windows`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.datasets.custom import DatasetDefinition, load_custom
    from tinyhar.datasets.hapt import load_hapt
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.datasets.registry import (
        DATASETS,
        describe_dataset,
        find_data_dir,
        load_dataset,
    )
    from tinyhar.datasets.ucihar import load_ucihar
    from tinyhar.datasets.wisdm import load_wisdm_raw, load_wisdm_windows

_LAZY = {
    "load_bundled_hapt": "tinyhar.datasets.bundled",
    "DatasetDefinition": "tinyhar.datasets.custom",
    "load_custom": "tinyhar.datasets.custom",
    "load_hapt": "tinyhar.datasets.hapt",
    "RecordingSet": "tinyhar.datasets.recording",
    "DATASETS": "tinyhar.datasets.info",
    "describe_dataset": "tinyhar.datasets.registry",
    "find_data_dir": "tinyhar.datasets.registry",
    "load_dataset": "tinyhar.datasets.registry",
    "load_ucihar": "tinyhar.datasets.ucihar",
    "load_wisdm_raw": "tinyhar.datasets.wisdm",
    "load_wisdm_windows": "tinyhar.datasets.wisdm",
}

__all__ = [
    "DATASETS",
    "DatasetDefinition",
    "RecordingSet",
    "describe_dataset",
    "find_data_dir",
    "load_bundled_hapt",
    "load_custom",
    "load_dataset",
    "load_hapt",
    "load_ucihar",
    "load_wisdm_raw",
    "load_wisdm_windows",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tinyhar.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
