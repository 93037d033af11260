"""The bundled default data set: HAPT's 6 basic activities, accelerometer + gyroscope.

tinyhar ships ``tinyhar/data/hapt_basic.parquet``, built from the publisher's
``HAPT Data Set.zip`` by ``scripts/build_bundled_hapt.py`` with
``load_hapt(activities="basic", sensors="acc+gyro")``: all 30 subjects and 61
sessions, the continuous 50 Hz streams including unlabelled spans (postural
transitions and the gaps between activities), so that nothing needs a
download. See ``tinyhar/data/HAPT_LICENSE.md`` for the licence (CC BY 4.0)
and what was changed.

Storage (to stay well under 10 MB): the sensors are stored as int16 sensor
counts, which is how the phone measured them: acceleration in steps of
1/720 g (every HAPT value is such a multiple) and angular rate in steps of
17.5 mdps = 3.0543e-4 rad/s (every HAPT value is such a multiple, to the
8 significant digits of the text files). Decoded values differ from the
publisher's text by at most 3e-7 g and 1e-6 rad/s (float32 rounding of the
8-digit text); the build checks this. ``time`` is not stored: it is
``sample_index / 50`` s within each session, exactly as in HAPT.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.checks import ChecksLike, check_recording_groups, resolve_checks
from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    read_parquet_with_metadata,
)
from tinyhar.errors import DataFormatError, TinyharError

BUNDLED_HAPT_FILE = "hapt_basic.parquet"
"""File name of the bundled set inside the package's ``data`` folder."""
BUNDLED_FORMAT = "tinyhar-bundled-counts-v1"
ACC_STEP_G = 1.0 / 720.0
"""HAPT accelerometer resolution: 1/720 g per count."""
GYRO_STEP_RAD_S = 0.0175 * np.pi / 180.0
"""HAPT gyroscope resolution: 17.5 mdps = 3.0543e-4 rad/s per count."""
MAX_ACC_ERROR_G = 1e-6
MAX_GYRO_ERROR_RAD_S = 1e-4
_META_KEY = b"tinyhar_bundled"


def bundled_hapt_path() -> Path:
    """Path of the bundled HAPT Parquet file inside the installed package (may not exist)."""
    return Path(str(resources.files("tinyhar") / "data" / BUNDLED_HAPT_FILE))


def load_bundled_hapt(checks: ChecksLike = None) -> RecordingSet:
    """Load the bundled HAPT recordings (no network, no download).

    Parameters
    ----------
    checks : DataChecks or mapping, optional
        Plausibility checks run per session (units, clipping; see
        :mod:`tinyhar.datasets.checks`); all on by default.

    Returns
    -------
    RecordingSet
        30 subjects (``"1"`` .. ``"30"``), 61 sessions (``"exp01"`` ..
        ``"exp61"``), 1,122,772 samples at 50 Hz; ``acc_x acc_y acc_z`` in g,
        ``gyro_x gyro_y gyro_z`` in rad/s (float32), ``time`` in s; labels
        among the 6 basic activities (WALKING, WALKING_UPSTAIRS,
        WALKING_DOWNSTAIRS, SITTING, STANDING, LAYING), missing during
        postural transitions and between activities.

    Raises
    ------
    TinyharError
        If the file is missing (the message says to run
        ``scripts/build_bundled_hapt.py``).
    DataFormatError
        If the file is not a bundled tinyhar file.

    Notes
    -----
    Source: Reyes-Ortiz, Oneto, Samà, Parra, Anguita (2016), "Transition-Aware
    Human Activity Recognition Using Smartphones", Neurocomputing 171:754-767.
    Licence: CC BY 4.0 (see ``tinyhar/data/HAPT_LICENSE.md``).
    """
    path = bundled_hapt_path()
    if not path.is_file():
        raise TinyharError(
            f"{path}: the bundled HAPT recordings are missing. Build them from the publisher's "
            "archive with `python scripts/build_bundled_hapt.py [path/to/HAPT Data Set.zip]` "
            "(in a source checkout), or load the archive directly with "
            "load_dataset('hapt-raw', path=...)"
        )
    return read_bundled(path, checks)


def read_bundled(path: str | Path, checks: ChecksLike = None) -> RecordingSet:
    """Read a file written by :func:`write_bundled`, and check its signals.

    Parameters
    ----------
    path : str or Path
    checks : DataChecks or mapping, optional
        Plausibility checks run per session; all on by default.

    Returns
    -------
    RecordingSet
        As stored (see :func:`load_bundled_hapt`).

    Raises
    ------
    DataFormatError
        If the file cannot be read, lacks the bundled-format metadata, or a
        check fails.
    """
    path = Path(path)
    table, meta = read_parquet_with_metadata(
        path, _META_KEY, "not a bundled tinyhar file (no 'tinyhar_bundled' metadata)",
        read_dictionary=["label", "subject", "session"],  # categoricals: no str per sample
    )
    if meta.get("format") != BUNDLED_FORMAT:
        raise DataFormatError(path, f"unknown bundled format {meta.get('format')!r}")
    try:
        rate = float(meta["sampling_rate_hz"])
        steps = {"acc_step": float(meta["acc_step"]), "gyro_step": float(meta["gyro_step"])}
        classes, name = list(meta["classes"]), str(meta["name"])
        citation, licence = str(meta["citation"]), str(meta["licence"])
        session = table.column("session").to_pandas()
        codes = pd.factorize(session)[0]
        frame = {"time": _index_in_session(codes) / rate}
        for channels, step in ((ACC_CHANNELS, "acc_step"), (GYRO_CHANNELS, "gyro_step")):
            if channels[0] not in table.column_names and channels is GYRO_CHANNELS:
                continue
            for c in channels:
                counts = table.column(c).to_numpy().astype(np.float64)
                frame[c] = (counts * steps[step]).astype(np.float32)
        for c in ("label", "subject"):
            frame[c] = table.column(c).to_pandas()
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise DataFormatError(
            path, f"not a complete bundled tinyhar file ({type(exc).__name__}: {exc}); rebuild "
            "it with scripts/build_bundled_hapt.py"
        ) from exc
    frame["session"] = session
    out = RecordingSet(
        pd.DataFrame(frame), rate, classes, name=name,
        citation=citation, licence=licence, source=str(path),
    )
    check_recording_groups(
        out, resolve_checks(checks), lambda subject, session: f"{path}, session {session}"
    )
    return out


def _index_in_session(codes: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... restarting at each change of ``codes`` (contiguous sessions)."""
    n = len(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if n else np.zeros(0, int)
    index = np.arange(n)
    return index - np.repeat(starts, np.diff(np.r_[starts, n]))


def write_bundled(
    recordings: RecordingSet,
    path: str | Path,
    acc_step: float = ACC_STEP_G,
    gyro_step: float = GYRO_STEP_RAD_S,
    compression_level: int = 9,
) -> dict[str, float]:
    """Write recordings as compact int16 sensor counts (used by the build script).

    Parameters
    ----------
    recordings : RecordingSet
        Samples whose ``time`` is ``index / rate`` within each session and
        whose sensor values are multiples of ``acc_step`` (g) and
        ``gyro_step`` (rad/s).
    path : str or Path
        Output Parquet file (zstd, delta-encoded counts).
    acc_step, gyro_step : float
        Value of one count, in g and rad/s.
    compression_level : int
        zstd level.

    Returns
    -------
    dict
        ``max_acc_error_g`` and ``max_gyro_error_rad_s``: the largest
        difference between decoded and original float32 values.

    Raises
    ------
    ValueError
        If time is not ``index / rate``, a value does not fit int16, or the
        decoding error exceeds 1e-6 g / 1e-4 rad/s (the data are not on that
        grid).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = recordings.frame
    rate = recordings.sampling_rate_hz
    codes = pd.factorize(frame["session"])[0]
    expected = _index_in_session(codes) / rate
    if not np.allclose(frame["time"].to_numpy(), expected, rtol=0, atol=1e-9):
        raise ValueError("time is not sample_index / sampling_rate_hz in every session")
    columns: dict[str, pa.Array] = {}
    errors = {"max_acc_error_g": 0.0, "max_gyro_error_rad_s": 0.0}
    groups = [(ACC_CHANNELS, acc_step, "max_acc_error_g", MAX_ACC_ERROR_G)]
    if recordings.has_gyro:
        groups.append((GYRO_CHANNELS, gyro_step, "max_gyro_error_rad_s", MAX_GYRO_ERROR_RAD_S))
    for channels, step, key, limit in groups:
        for c in channels:
            values = frame[c].to_numpy()
            counts = np.round(values.astype(np.float64) / step)
            if counts.min() < -32768 or counts.max() > 32767:
                raise ValueError(f"{c}: counts outside int16 with step {step}")
            decoded = (counts * step).astype(np.float32)
            error = float(np.abs(decoded.astype(np.float64) - values).max())
            errors[key] = max(errors[key], error)
            if error > limit:
                raise ValueError(f"{c}: quantisation error {error:.3g} exceeds {limit:g}")
            columns[c] = pa.array(counts.astype(np.int16))
    for c in ("label", "subject", "session"):
        columns[c] = pa.array(frame[c].astype(object).where(frame[c].notna(), None),
                              type=pa.string())
    table = pa.table(columns)
    meta = {
        "format": BUNDLED_FORMAT,
        "sampling_rate_hz": rate,
        "classes": recordings.classes,
        "name": recordings.name,
        "citation": recordings.citation,
        "licence": recordings.licence,
        "acc_step": acc_step,
        "gyro_step": gyro_step,
        "units": "acc counts * acc_step = g; gyro counts * gyro_step = rad/s; "
        "time = index in session / sampling_rate_hz",
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    sensor = [c for c in table.column_names if c in ACC_CHANNELS + GYRO_CHANNELS]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table, path, compression="zstd", compression_level=compression_level,
        use_dictionary=["label", "subject", "session"],
        column_encoding={c: "DELTA_BINARY_PACKED" for c in sensor},
    )
    return errors
