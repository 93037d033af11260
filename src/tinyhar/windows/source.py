"""The data and windows a training configuration describes.

:func:`load_data` loads the configured data set with the configured sensors;
:func:`make_window_set` cuts it into windows with the configured window,
hop and purity (or passes pre-cut windows through). Training, evaluation,
learning curves and prediction all load data through these two functions.
The configuration is read by attribute (``cfg.dataset``, ``cfg.windows``), so
this layer does not import :mod:`tinyhar.config`, which sits above it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tinyhar.core.channels import ACC_CHANNELS, GYRO_CHANNELS
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.windows.windowing import make_windows

if TYPE_CHECKING:
    from tinyhar.config import TrainConfig

_UCI_SIGNALS = {"acc": "total_acc", "acc+gyro": "total_acc+body_gyro", "all": "all",
                "auto": "total_acc+body_gyro"}

IN_MEMORY_BYTES_PER_VALUE = 37
"""Peak memory of training on a data set loaded whole, per raw value (sample x channel):
669 MB for 10 h of 6-channel 50 Hz data (1.8 M samples, ``benchmarks/scale.py``'s
10-hour set), of which about 270 MB are the imports; the rest is the recording, its
windows (hop half a window) and their features."""


def in_memory_bytes(yaml_path: str | Path, files: list[Path] | None = None) -> int:
    """Estimated peak memory (bytes) of loading a dataset definition whole and training on it.

    Its samples and channels (:func:`tinyhar.datasets.custom.estimated_samples`,
    of its ``files`` where the caller has listed them already)
    times :data:`IN_MEMORY_BYTES_PER_VALUE`.

    Raises
    ------
    ConfigError
        If the definition is invalid or a pattern matches no file.
    """
    from tinyhar.datasets.custom import estimated_samples

    samples, channels = estimated_samples(yaml_path, files)
    return samples * channels * IN_MEMORY_BYTES_PER_VALUE


def check_fits_in_memory(yaml_path: str | Path, need: int | None = None) -> None:
    """Refuse to load a dataset definition whole when it would not fit in memory.

    ``need``: the estimate (:func:`in_memory_bytes`) when the caller has it already.

    Raises
    ------
    ConfigError
        The estimate (:func:`in_memory_bytes`) exceeds the memory available
        (:func:`tinyhar.windows.windowing.memory_limit`; ``$TINYHAR_MEMORY_LIMIT_GB``
        caps it): says how much each is and what reads the data set session
        by session instead (the process would otherwise be killed by the
        system without a message).
    """
    from tinyhar.windows.windowing import memory_limit

    limit = memory_limit()
    if limit is None:
        return
    if need is None:
        need = in_memory_bytes(yaml_path)
    if need > limit:
        raise ConfigError(
            f"{yaml_path}: loading it whole would need about {need / 1e9:.3g} GB (its files "
            f"hold about {need // IN_MEMORY_BYTES_PER_VALUE:,} values) and "
            f"{limit / 1e9:.3g} GB are available; read it session by session: tree "
            "models train that way with compute.out_of_core: true (or auto), and "
            "evaluate, predict and evaluate --continuous read it so for tree runs"
        )


def load_data(cfg: TrainConfig, need_bytes: int | None = None) -> RecordingSet | WindowSet:
    """Load the configured data set and keep the configured sensors.

    ``need_bytes``: a dataset definition's :func:`in_memory_bytes` when the caller
    estimated it already (:func:`tinyhar.training.sessions.out_of_core_plan`).

    Returns
    -------
    RecordingSet or WindowSet
        Continuous recordings, or windows for pre-windowed data sets.

    Raises
    ------
    TinyharError
        Data set not found or malformed; sensors not available in it; a
        dataset definition too large to load whole (:func:`check_fits_in_memory`).
    """
    from tinyhar.datasets.registry import load_dataset

    ds = cfg.dataset
    options: dict = {}
    if ds.name == "hapt-raw":
        options = {
            "activities": ds.activities,
            "sensors": "acc" if ds.sensors == "acc" else "acc+gyro",
        }
    elif ds.name == "uci-har":
        options = {"signals": _UCI_SIGNALS[ds.sensors]}
    if ds.path is None and Path(ds.name).suffix.lower() in (".yaml", ".yml"):
        check_fits_in_memory(ds.name, need_bytes)
    data = load_dataset(ds.name, path=ds.path, checks=ds.checks, **options)
    wanted = wanted_channels(ds.sensors, data.channels, data.name)
    if isinstance(data, WindowSet):
        return data.select_channels(wanted)
    return data.select(channels=wanted)


def wanted_channels(sensors: str, channels: list[str], name: str) -> list[str]:
    """The channels ``dataset.sensors`` asks for, in canonical order.

    Parameters
    ----------
    sensors : {"auto", "acc", "acc+gyro", "all"}
        ``auto``: acc+gyro when the data set has the three gyroscope channels, else acc.
    channels : list of str
        The data set's channels.
    name : str
        The data set's name, for the message.

    Raises
    ------
    ConfigError
        If the data set lacks one of them (the message says to use ``acc``).
    """
    if sensors == "auto":
        sensors = "acc+gyro" if all(c in channels for c in GYRO_CHANNELS) else "acc"
    if sensors == "acc":
        wanted = list(ACC_CHANNELS)
    elif sensors == "acc+gyro":
        wanted = list(ACC_CHANNELS + GYRO_CHANNELS)
    else:
        wanted = list(channels)
    missing = [c for c in wanted if c not in channels]
    if missing:
        raise ConfigError(
            f"dataset.sensors: {sensors!r} needs channels {missing}, which data set "
            f"{name!r} does not have (it has {channels}); use sensors: acc"
        )
    return wanted


def make_window_set(
    data: RecordingSet | WindowSet, cfg: TrainConfig
) -> tuple[WindowSet, dict | None]:
    """Cut windows from recordings (or pass pre-cut windows through).

    Returns
    -------
    windows : WindowSet
    report : dict or None
        Windowing counts (None for pre-windowed data).
    """
    if isinstance(data, WindowSet):
        return data, None
    w = cfg.windows
    windows, report = make_windows(
        data,
        window=w.window,
        hop=w.hop,
        unit=w.unit,
        purity=w.purity,
        target_rate_hz=w.target_rate_hz,
    )
    if len(windows) == 0:
        raise EvaluationError(
            _no_window_message(data, report.as_dict(), f"{w.window:g} {w.unit}")
        )
    return windows, report.as_dict()


def _no_window_message(data: RecordingSet, counts: dict[str, int], window: str) -> str:
    """Why no window was cut (``counts``: the windowing report), and what to do about it."""
    if not data.frame["label"].notna().any():
        return (
            f"no sample of {data.name!r} is labelled, so there is nothing to train on: give "
            "each sample an activity (in a dataset definition: a label column, a "
            "(?P<label>...) group in file_pattern or constants.label; check that label_map "
            "and ignore_labels do not remove every label)"
        )
    reasons = []
    if counts["n_short_segments"]:
        reasons.append(
            f"{counts['n_short_segments']} segment(s) shorter than a window: use shorter "
            "windows or record longer"
        )
    if counts["n_unlabelled"]:
        reasons.append(f"{counts['n_unlabelled']} window(s) mostly unlabelled: label more samples")
    if counts["n_ambiguous"]:
        reasons.append(
            f"{counts['n_ambiguous']} window(s) mixing activities: lower windows.purity or use "
            "shorter windows"
        )
    if counts["n_gaps"]:
        reasons.append(
            f"{counts['n_gaps']} gap(s) in the time column (steps above 1.5 sampling periods): "
            "check sampling_rate_hz"
        )
    return (
        f"no labelled window of {window} could be cut from {data.name!r}: "
        + "; ".join(reasons or ["no recording is long enough"])
    )
