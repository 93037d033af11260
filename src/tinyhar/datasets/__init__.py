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

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.datasets.bundled": ("load_bundled_hapt",),
    "tinyhar.datasets.custom": ("DatasetDefinition", "load_custom"),
    "tinyhar.datasets.hapt": ("load_hapt",),
    "tinyhar.datasets.recording": ("RecordingSet",),
    "tinyhar.datasets.info": ("DATASETS",),
    "tinyhar.datasets.registry": ("describe_dataset", "find_data_dir", "load_dataset"),
    "tinyhar.datasets.ucihar": ("load_ucihar",),
    "tinyhar.datasets.wisdm": ("load_wisdm_raw", "load_wisdm_windows"),
})
