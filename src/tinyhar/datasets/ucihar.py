"""Loader for the UCI HAR data set (pre-windowed smartphone IMU, UCI dataset 240).

"Human Activity Recognition Using Smartphones": the same 30 subjects as HAPT,
10,299 windows of 128 samples at 50 Hz (2.56 s, 50 % overlap), 6 basic
activities, with the publisher's train/test split (test subjects 2 4 9 10 12
13 18 20 24: 2,947 windows; the other 21: 7,352 windows).

Source: Anguita, Ghio, Oneto, Parra, Reyes-Ortiz (2013), "A Public Domain
Dataset for Human Activity Recognition Using Smartphones", ESANN 2013.
Licence: CC BY 4.0.

Layout read (under the archive's top folder ``UCI HAR Dataset/``)::

    activity_labels.txt
    {train,test}/subject_{split}.txt, y_{split}.txt        one value per window
    {train,test}/Inertial Signals/{signal}_{axis}_{split}.txt  128 values per window

with ``signal`` one of ``total_acc`` (g), ``body_acc`` (g, total_acc minus a
0.3 Hz low-pass gravity estimate), ``body_gyro`` (rad/s). The publisher
filtered the signals (median filter and 20 Hz low-pass) before windowing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyhar.core.windowset import WindowSet
from tinyhar.datasets._archive import (
    DatasetFiles,
    open_dataset_files,
    parse_numeric_table,
    read_activity_labels,
)
from tinyhar.datasets.checks import ChecksLike, check_signals, resolve_checks, warn_clipping
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import MAX_ABS_SENSOR_VALUE
from tinyhar.errors import ConfigError, DataFormatError

UCIHAR_NAME = "uci-har"
UCIHAR_SAMPLING_RATE_HZ = DATASETS["uci-har"].sampling_rate_hz
UCIHAR_WINDOW_SAMPLES = 128
UCIHAR_CITATION = (
    "Anguita, D., Ghio, A., Oneto, L., Parra, X., Reyes-Ortiz, J. L. (2013). "
    "A Public Domain Dataset for Human Activity Recognition Using Smartphones. "
    "21st European Symposium on Artificial Neural Networks, Computational Intelligence "
    "and Machine Learning (ESANN 2013), Bruges, Belgium, 437-442. "
    "Data: UCI Machine Learning Repository, dataset 240."
)
UCIHAR_LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
UCIHAR_TEST_SUBJECTS = ("2", "4", "9", "10", "12", "13", "18", "20", "24")
"""Subjects of the publisher's test split."""

UCIHAR_SIGNALS: dict[str, list[tuple[str, str]]] = {
    "total_acc": [(f"total_acc_{a}", f"acc_{a}") for a in "xyz"],
    "total_acc+body_gyro": [(f"total_acc_{a}", f"acc_{a}") for a in "xyz"]
    + [(f"body_gyro_{a}", f"gyro_{a}") for a in "xyz"],
    "all": [(f"total_acc_{a}", f"acc_{a}") for a in "xyz"]
    + [(f"body_acc_{a}", f"body_acc_{a}") for a in "xyz"]
    + [(f"body_gyro_{a}", f"gyro_{a}") for a in "xyz"],
}
"""For each ``signals`` choice: (publisher's signal file stem, tinyhar channel name)."""

_ANCHOR = "train/y_train.txt"


def load_ucihar(
    path: str | Path, signals: str = "total_acc+body_gyro", checks: ChecksLike = None
) -> WindowSet:
    """Load the UCI HAR windows from the publisher's zip or its extracted folder.

    Parameters
    ----------
    path : str or Path
        ``UCI HAR Dataset.zip`` as published, or the folder extracted from it
        (``UCI HAR Dataset/`` or a folder above it).
    signals : {"total_acc", "total_acc+body_gyro", "all"}
        Channels to read: ``"total_acc"`` gives ``acc_x acc_y acc_z`` (g);
        ``"total_acc+body_gyro"`` adds ``gyro_x gyro_y gyro_z`` (rad/s);
        ``"all"`` gives 9 channels: ``acc_*`` (total_acc, g), ``body_acc_*``
        (g, gravity removed by the publisher) and ``gyro_*`` (rad/s).
    checks : DataChecks or mapping, optional
        Plausibility checks run per subject on ``acc_*`` and ``gyro_*``
        (units, clipping; see :mod:`tinyhar.datasets.checks`); all on by
        default. The windows overlap by half, which does not change the
        statistics the checks use.

    Returns
    -------
    WindowSet
        ``X`` float32 of shape (10299, 128, n_channels) for the full data set
        (train windows first, then test), 50 Hz; ``y`` the activity names from
        ``activity_labels.txt``; ``subject`` ``"1"`` .. ``"30"``; ``session``
        ``"uci-<subject>"`` (the data has no session information);
        ``start_time`` NaN (unknown); ``split`` ``"train"``/``"test"`` (the
        publisher's split: 7,352 / 2,947 windows). ``info`` holds the citation,
        licence and source.

    Raises
    ------
    ConfigError
        If ``signals`` is not one of the allowed values.
    DataFormatError
        If the layout is not UCI HAR's, a file is missing or malformed (the
        message names the file, inside a zip as ``archive.zip:member``, and
        the 1-based line and column), a signal file does not have 128 values
        per row, the signal, subject and label files of a split have different
        row counts, a label is not in ``activity_labels.txt``, a value is
        beyond +-1e4 g or rad/s, or a plausibility check fails (naming the
        split's signal file and the subject).

    Warns
    -----
    UserWarning
        Once, naming the subjects with clipped channels.

    Notes
    -----
    Citation: Anguita, Ghio, Oneto, Parra, Reyes-Ortiz (2013), ESANN 2013.
    Licence: CC BY 4.0.
    """

    if signals not in UCIHAR_SIGNALS:
        raise ConfigError(f"signals must be one of {sorted(UCIHAR_SIGNALS)}, got {signals!r}")
    spec = UCIHAR_SIGNALS[signals]
    active = resolve_checks(checks)
    with open_dataset_files(path, _ANCHOR, "UCI HAR") as files:
        names = _read_activity_names(files)
        parts = [_read_split(files, split, spec, names) for split in ("train", "test")]
        clipping = [
            finding
            for part, split in zip(parts, ("train", "test"), strict=True)
            for finding in _check_split(files, split, spec, part, active)
        ]
    warn_clipping(clipping)
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    subject = np.concatenate([p[2] for p in parts])
    split = np.concatenate([np.full(len(p[1]), s, dtype=object) for p, s in zip(
        parts, ("train", "test"), strict=True)])
    return WindowSet(
        X=X,
        y=y,
        subject=subject,
        session=np.array([f"uci-{s}" for s in subject], dtype=object),
        start_time=np.full(len(y), np.nan),
        channels=[c for _, c in spec],
        sampling_rate_hz=UCIHAR_SAMPLING_RATE_HZ,
        classes=[names[i] for i in sorted(names)],
        name=UCIHAR_NAME,
        split=split,
        info={
            "citation": UCIHAR_CITATION,
            "licence": UCIHAR_LICENCE,
            "source": str(path),
            "signals": signals,
            "units": "acc_* and body_acc_* in g, gyro_* in rad/s",
            "preprocessing": "median filter and 20 Hz low-pass by the publisher; "
            "2.56 s windows with 50 % overlap",
        },
    )


def _check_split(files, split, spec, part, checks) -> list[str | None]:
    """Plausibility checks per subject of one split; returns the clipping findings."""
    X, _, subjects = part
    channels = [c for _, c in spec]
    acc_idx = [channels.index(f"acc_{a}") for a in "xyz"]
    gyro_idx = [channels.index(f"gyro_{a}") for a in "xyz"] if "gyro_x" in channels else None
    name = files.display(f"{split}/Inertial Signals/total_acc_x_{split}.txt")
    findings = []
    for subject in dict.fromkeys(subjects):
        windows = X[subjects == subject]
        flat = windows.reshape(-1, X.shape[2]).astype(np.float64)
        findings.append(check_signals(
            flat[:, acc_idx],
            None if gyro_idx is None else flat[:, gyro_idx],
            UCIHAR_SAMPLING_RATE_HZ,
            f"{name} (and the split's other signal files), subject {subject}",
            checks,
            acc_key="the publisher's total_acc files are in g",
            gyro_key="the publisher's body_gyro files are in rad/s",
        ))
    return findings


def _read_activity_names(files: DatasetFiles) -> dict[int, str]:
    return read_activity_labels(files, "activity_labels.txt")


def _read_split(
    files: DatasetFiles, split: str, spec: list[tuple[str, str]], names: dict[int, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one split: X (n, 128, n_channels) float32, y names, subject ids (str)."""
    y_name = f"{split}/y_{split}.txt"
    s_name = f"{split}/subject_{split}.txt"
    y_codes, y_lines = parse_numeric_table(
        files.read_bytes(y_name), files.display(y_name), n_cols=1, integer=True,
        line_numbers=True,
    )
    y_codes = y_codes[:, 0].astype(np.int64)
    unknown = np.flatnonzero(~np.isin(y_codes, list(names)))
    if unknown.size:
        row = int(unknown[0])
        raise DataFormatError(
            files.display(y_name),
            f"activity {y_codes[row]} is not in activity_labels.txt (ids {sorted(names)})",
            line=int(y_lines[row]),
        )
    subjects = parse_numeric_table(
        files.read_bytes(s_name), files.display(s_name), n_cols=1, integer=True
    )[:, 0].astype(np.int64)
    n = len(y_codes)
    if len(subjects) != n:
        raise DataFormatError(
            files.display(s_name),
            f"has {len(subjects)} rows but {files.display(y_name)} has {n}; "
            "each file of a split has one row per window: re-extract the archive",
        )
    X = np.empty((n, UCIHAR_WINDOW_SAMPLES, len(spec)), dtype=np.float32)
    for j, (stem, _) in enumerate(spec):
        name = f"{split}/Inertial Signals/{stem}_{split}.txt"
        values = parse_numeric_table(
            files.read_bytes(name), files.display(name), n_cols=UCIHAR_WINDOW_SAMPLES
        )
        if len(values) != n:
            raise DataFormatError(
                files.display(name),
                f"has {len(values)} rows but {files.display(y_name)} has {n}; "
                "each file of a split has one row per window: re-extract the archive",
            )
        big = np.argwhere(np.abs(values) > MAX_ABS_SENSOR_VALUE)
        if big.size:
            row, col = (int(v) for v in big[0])
            raise DataFormatError(
                files.display(name),
                f"value {values[row, col]:.6g} ({len(big)} such value(s)) is beyond the "
                f"plausible +-{MAX_ABS_SENSOR_VALUE:g} of a motion sensor (g, rad/s): a corrupt "
                "file; re-extract the archive",
                line=row + 1, column=col + 1,
            )
        X[:, :, j] = values
    lookup = np.array([names.get(i, "") for i in range(max(names) + 1)], dtype=object)
    return X, lookup[y_codes], np.array([str(s) for s in subjects], dtype=object)
