"""What tinyhar knows about each named data set, without loading anything.

This module imports only the standard library, so that ``tinyhar datasets``
lists the data sets without importing numpy or pandas; the loaders live in
:mod:`tinyhar.datasets.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a named data set.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        One line for listings.
    kind : str
        ``"recordings"`` (continuous, a RecordingSet) or ``"windows"``
        (pre-windowed, a WindowSet).
    sampling_rate_hz : float
        Sampling rate in Hz.
    default_file : str or None
        File name looked up in the data folder (:func:`find_data_dir`) when
        no path is given; None when the set is bundled or needs a path.
    options : tuple of str
        Keyword options the loader accepts.
    """

    name: str
    description: str
    kind: str
    sampling_rate_hz: float
    default_file: str | None
    options: tuple[str, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    "hapt": DatasetInfo(
        "hapt",
        "HAPT, bundled with tinyhar: 30 subjects, 6 basic activities, acc+gyro, continuous",
        "recordings", 50.0, None,
    ),
    "hapt-raw": DatasetInfo(
        "hapt-raw",
        "HAPT from the publisher's zip (activities basic|all, sensors acc|acc+gyro)",
        "recordings", 50.0, "HAPT Data Set.zip", ("activities", "sensors"),
    ),
    "uci-har": DatasetInfo(
        "uci-har",
        "UCI HAR: 10,299 windows of 2.56 s, 6 activities, official train/test split",
        "windows", 50.0, "UCI HAR Dataset.zip", ("signals",),
    ),
    "wisdm-windows": DatasetInfo(
        "wisdm-windows",
        "WISDM v1.1, 7,292 windows of 128 samples, 36 users, z-scored (not g)",
        "windows", 20.0, "wisdm_v1.1_windows/windows.npz",
    ),
    "wisdm-raw": DatasetInfo(
        "wisdm-raw",
        "WISDM v1.1 raw accelerometer text (WISDM_ar_v1.1_raw.txt); needs --path",
        "recordings", 20.0, None, ("on_bad_lines",),
    ),
}
"""The data sets known by name."""
