"""Loader for the HAPT data set (raw 50 Hz smartphone IMU streams, UCI dataset 341).

"Smartphone-Based Recognition of Human Activities and Postural Transitions":
30 subjects with a Samsung Galaxy S II on the waist, 61 experiments
(sessions), 1,122,772 samples at 50 Hz, accelerometer in g and gyroscope in
rad/s, labelled with 6 basic activities and 6 postural transitions.

Source: Reyes-Ortiz, Oneto, Samà, Parra, Anguita (2016), "Transition-Aware
Human Activity Recognition Using Smartphones", Neurocomputing 171:754-767.
Licence: CC BY 4.0.

Layout read (the ``RawData/`` part of the official archive)::

    RawData/acc_expNN_userMM.txt    x y z per row, g
    RawData/gyro_expNN_userMM.txt   x y z per row, rad/s, same rows
    RawData/labels.txt              experiment user activity start end (0-based, inclusive)
    activity_labels.txt             activity id and name
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets._archive import (
    DatasetFiles,
    open_dataset_files,
    parse_numeric_table,
    read_activity_labels,
)
from tinyhar.datasets.checks import ChecksLike, check_signals, resolve_checks, warn_clipping
from tinyhar.datasets.info import DATASETS
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    MAX_ABS_SENSOR_VALUE,
    RecordingSet,
    check_magnitude,
)
from tinyhar.errors import ConfigError, DataFormatError

HAPT_NAME = "hapt"
HAPT_SAMPLING_RATE_HZ = DATASETS["hapt-raw"].sampling_rate_hz
HAPT_CITATION = (
    "Reyes-Ortiz, J.-L., Oneto, L., Samà, A., Parra, X., Anguita, D. (2016). "
    "Transition-Aware Human Activity Recognition Using Smartphones. "
    "Neurocomputing 171:754-767. doi:10.1016/j.neucom.2015.07.085. "
    "Data: UCI Machine Learning Repository, dataset 341 (Smartphone-Based Recognition "
    "of Human Activities and Postural Transitions)."
)
HAPT_LICENCE = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
HAPT_BASIC_IDS = (1, 2, 3, 4, 5, 6)
"""Activity ids of the 6 basic activities; 7-12 are postural transitions."""

_ANCHOR = "RawData/labels.txt"
_SIGNAL_RE = re.compile(r"^RawData/(acc|gyro)_exp(\d+)_user(\d+)\.txt$")


def load_hapt(
    path: str | Path,
    activities: str = "basic",
    sensors: str = "acc+gyro",
    checks: ChecksLike = None,
) -> RecordingSet:
    """Load HAPT's continuous recordings from the publisher's zip or its extracted folder.

    Parameters
    ----------
    path : str or Path
        ``HAPT Data Set.zip`` as published, or the folder extracted from it
        (the one holding ``RawData/`` and ``activity_labels.txt``, a folder
        above it, or ``RawData/`` itself).
    activities : {"basic", "all"}
        ``"basic"``: the 6 basic activities (WALKING, WALKING_UPSTAIRS,
        WALKING_DOWNSTAIRS, SITTING, STANDING, LAYING); samples in postural
        transitions become unlabelled. ``"all"``: the 12 classes of
        ``activity_labels.txt`` (basic + transitions).
    sensors : {"acc", "acc+gyro"}
        Accelerometer only, or accelerometer and gyroscope.
    checks : DataChecks or mapping, optional
        Plausibility checks run per experiment (units: acceleration near 1 g
        at rest, gyroscope in rad/s; clipping), see
        :mod:`tinyhar.datasets.checks`; all on by default. (HAPT has no time
        column: time is the sample index over 50 Hz.)

    Returns
    -------
    RecordingSet
        One session per experiment (``"exp01"`` .. ``"exp61"``), subject ids
        ``"1"`` .. ``"30"``, 50 Hz, ``time = sample_index / 50`` s,
        ``acc_x acc_y acc_z`` in g (float32, multiples of 1/720 g), optionally
        ``gyro_x gyro_y gyro_z`` in rad/s. Samples outside every labelled
        segment (and, with ``"basic"``, in transitions) are kept with a
        missing label, so that the streams stay continuous. The full data set
        has 1,122,772 samples.

    Raises
    ------
    ConfigError
        If ``activities`` or ``sensors`` is not one of the allowed values.
    DataFormatError
        If the layout is not HAPT's, a file is missing or malformed (the
        message names the file, inside a zip as ``archive.zip:member``, and
        the 1-based line), the acc and gyro files of an experiment have
        different row counts, or a label segment refers to a missing
        experiment, another user, an unknown activity, or samples beyond the
        end of its experiment (``start <= end < n_samples`` is required), or
        overlaps another segment; a value beyond +-1e4 g or rad/s; a failed
        plausibility check (the message names the experiment's file).

    Warns
    -----
    UserWarning
        Once, naming the files with clipped channels.

    Notes
    -----
    Citation: Reyes-Ortiz, Oneto, Samà, Parra, Anguita (2016), Neurocomputing
    171:754-767. Licence: CC BY 4.0.
    """
    if activities not in ("basic", "all"):
        raise ConfigError(f"activities must be 'basic' or 'all', got {activities!r}")
    if sensors not in ("acc", "acc+gyro"):
        raise ConfigError(f"sensors must be 'acc' or 'acc+gyro', got {sensors!r}")
    active = resolve_checks(checks)
    clipping: list[str | None] = []
    with open_dataset_files(path, _ANCHOR, "HAPT") as files:
        names = _read_activity_names(files)
        experiments = _find_experiments(files, sensors == "acc+gyro")
        parts: dict[str, list[np.ndarray]] = {c: [] for c in (*ACC_CHANNELS, *GYRO_CHANNELS)}
        lengths: dict[int, int] = {}
        for exp, (_user, acc_name, gyro_name) in experiments.items():
            acc = _read_signal(files, acc_name, ACC_CHANNELS)
            for j, c in enumerate(ACC_CHANNELS):
                parts[c].append(acc[:, j].astype(np.float32))
            gyro = None
            if gyro_name is not None:
                gyro = _read_signal(files, gyro_name, GYRO_CHANNELS)
                if len(gyro) != len(acc):
                    raise DataFormatError(
                        files.display(acc_name),
                        f"has {len(acc)} rows but {files.display(gyro_name)} has {len(gyro)}; "
                        "the two files of an experiment must have one row per sample each: "
                        "re-extract the archive",
                    )
                for j, c in enumerate(GYRO_CHANNELS):
                    parts[c].append(gyro[:, j].astype(np.float32))
            where = files.display(acc_name)
            if gyro_name is not None:
                where += f" (and {_member(gyro_name)})"
            clipping.append(
                check_signals(acc, gyro, HAPT_SAMPLING_RATE_HZ, where, active)
            )
            lengths[exp] = len(acc)
        codes = _label_codes(files, experiments, lengths, names)
    warn_clipping(clipping)

    if activities == "basic":
        class_ids = [i for i in HAPT_BASIC_IDS if i in names]
        missing = [i for i in HAPT_BASIC_IDS if i not in names]
        if missing:
            raise DataFormatError(
                files.display("activity_labels.txt"),
                f"activity ids {missing} are missing; HAPT's basic activities are 1-6",
            )
    else:
        class_ids = sorted(names)
    all_codes = np.concatenate(codes)
    label = pd.Categorical.from_codes(
        _remap(all_codes, class_ids), categories=[names[i] for i in class_ids]
    )

    n_per_exp = [lengths[e] for e in experiments]
    frame = {
        "time": np.concatenate([np.arange(n) / HAPT_SAMPLING_RATE_HZ for n in n_per_exp]),
    }
    channels = ACC_CHANNELS + (GYRO_CHANNELS if sensors == "acc+gyro" else ())
    for c in channels:
        frame[c] = np.concatenate(parts[c])
    frame["label"] = label
    # one code per sample (the categories are made canonical by RecordingSet)
    subjects = [str(experiments[e][0]) for e in experiments]
    frame["subject"] = _repeated(subjects, n_per_exp)
    frame["session"] = _repeated([f"exp{e:02d}" for e in experiments], n_per_exp)
    return RecordingSet(
        pd.DataFrame(frame),
        HAPT_SAMPLING_RATE_HZ,
        [names[i] for i in class_ids],
        name=HAPT_NAME,
        citation=HAPT_CITATION,
        licence=HAPT_LICENCE,
        source=str(path),
    )


def _read_signal(files: DatasetFiles, name: str, channels: tuple[str, ...]) -> np.ndarray:
    """One x y z signal file as float64 (n_samples, 3); values beyond +-1e4 are refused."""
    data = files.read_bytes(name)
    values = parse_numeric_table(data, files.display(name), 3)
    if values.size and np.abs(values).max() > MAX_ABS_SENSOR_VALUE:
        _, lines = parse_numeric_table(data, files.display(name), 3, line_numbers=True)
        for j, c in enumerate(channels):
            check_magnitude(values[:, j], files.display(name), c, lines, "line")
    return values


def _remap(codes: np.ndarray, class_ids: list[int]) -> np.ndarray:
    """Map activity ids (0 = unlabelled) to category codes (-1 = missing)."""
    table = np.full(max(int(codes.max(initial=0)), max(class_ids)) + 1, -1, dtype=np.int16)
    for k, i in enumerate(class_ids):
        table[i] = k
    return table[codes]


def _read_activity_names(files: DatasetFiles) -> dict[int, str]:
    name = "activity_labels.txt"
    if not files.exists(name) and files.exists("RawData/" + name):
        name = "RawData/" + name
    return read_activity_labels(files, name)


def _find_experiments(
    files: DatasetFiles, with_gyro: bool
) -> dict[int, tuple[int, str, str | None]]:
    """Map experiment number -> (user, acc file, gyro file or None), sorted by experiment."""
    found: dict[tuple[str, int], tuple[int, str]] = {}
    for name in files.list("RawData"):
        match = _SIGNAL_RE.match(name)
        if match:
            found[(match.group(1), int(match.group(2)))] = (int(match.group(3)), name)
    experiments: dict[int, tuple[int, str, str | None]] = {}
    for (kind, exp), (user, name) in sorted(found.items(), key=lambda kv: kv[0][1]):
        if kind != "acc":
            continue
        gyro_name = name.replace("RawData/acc_", "RawData/gyro_", 1)
        if with_gyro and ("gyro", exp) not in found:
            raise DataFormatError(
                files.display(gyro_name),
                f"missing: experiment {exp} has {_member(name)} but no gyroscope file; "
                "re-extract the archive or load with sensors='acc'",
            )
        experiments[exp] = (user, name, gyro_name if with_gyro else None)
    for kind, exp in found:
        if kind == "gyro" and exp not in experiments:
            user, name = found[(kind, exp)]
            raise DataFormatError(
                files.display(name.replace("RawData/gyro_", "RawData/acc_", 1)),
                f"missing: experiment {exp} has {_member(name)} but no accelerometer file",
            )
    if not experiments:
        raise DataFormatError(
            files.display("RawData/"),
            "no acc_expNN_userMM.txt files; expected HAPT's RawData folder",
        )
    return experiments


def _member(name: str) -> str:
    """File name without its folder."""
    return name.rsplit("/", 1)[-1]


def _label_codes(
    files: DatasetFiles,
    experiments: dict[int, tuple[int, str, str | None]],
    lengths: dict[int, int],
    names: dict[int, str],
) -> list[np.ndarray]:
    """Per experiment, the activity id of each sample (0 = unlabelled)."""
    source = files.display(_ANCHOR)
    table, lines = parse_numeric_table(
        files.read_bytes(_ANCHOR), source, n_cols=5, integer=True, line_numbers=True
    )
    table = table.astype(np.int64)
    codes = {exp: np.zeros(n, dtype=np.int16) for exp, n in lengths.items()}
    for (exp, user, act, start, end), line in zip(table, lines, strict=True):
        line = int(line)
        if exp not in experiments:
            raise DataFormatError(
                source,
                f"experiment {exp} has no RawData/acc_exp{exp:02d}_user{user:02d}.txt; "
                "remove the line or restore the file",
                line=line, column=1,
            )
        if user != experiments[exp][0]:
            raise DataFormatError(
                source,
                f"experiment {exp} belongs to user {experiments[exp][0]} "
                f"({_member(experiments[exp][1])}), not user {user}",
                line=line, column=2,
            )
        if act not in names:
            raise DataFormatError(
                source,
                f"activity {act} is not in activity_labels.txt (ids {sorted(names)})",
                line=line, column=3,
            )
        n = lengths[exp]
        if not 0 <= start <= end < n:
            raise DataFormatError(
                source,
                f"segment {start}..{end} is not within experiment {exp} "
                f"(0-based inclusive sample indices, need 0 <= start <= end < {n})",
                line=line, column=4 if not 0 <= start <= min(end, n - 1) else 5,
            )
        seg = codes[exp][start : end + 1]
        if seg.any():
            raise DataFormatError(
                source,
                f"segment {start}..{end} of experiment {exp} overlaps an earlier segment; "
                "each sample may have one label",
                line=line,
            )
        seg[:] = act
    return [codes[exp] for exp in experiments]


def _repeated(values: list[str], counts: list[int]) -> pd.Categorical:
    """``values[i]`` repeated ``counts[i]`` times, as a categorical (a code per sample)."""
    codes, uniques = pd.factorize(pd.Index(values, dtype=object))
    small = np.int8 if len(uniques) < 127 else np.int32
    return pd.Categorical.from_codes(
        np.repeat(codes.astype(small), counts), categories=pd.Index(uniques, dtype="str")
    )
