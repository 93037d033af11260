"""One entry point to load any data set tinyhar knows by name, a definition or a Parquet file.

The named data sets and everything known about them (kind, rate, default
file, loader and its options, population, test subjects) are the entries of
:data:`tinyhar.datasets.info.DATASETS` (listed by ``tinyhar datasets``);
:func:`load_dataset` finds a set's file and calls the loader its entry names.
Besides a name, :func:`load_dataset` accepts the path of a YAML dataset
definition (your own data, see :mod:`tinyhar.datasets.custom`) or of a
Parquet file written by :meth:`RecordingSet.to_parquet`.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.checks import ChecksLike
from tinyhar.datasets.info import DATASETS, DatasetInfo
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError, TinyharError

if TYPE_CHECKING:
    from tinyhar.datasets.bysession import SampleCounts

DATA_ENV_VAR = "TINYHAR_DATA"
"""Environment variable naming the folder that holds the data files."""


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def data_dir_candidates() -> list[Path]:
    """Folders :func:`find_data_dir` looks at, in order (``$TINYHAR_DATA`` first if set)."""
    candidates = []
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        candidates.append(Path(env).expanduser())
    candidates += [
        Path.cwd() / ".." / "shared" / "data",
        _repo_root() / ".." / "shared" / "data",
        Path.cwd() / "data",
    ]
    return candidates


def find_data_dir() -> Path | None:
    """The folder holding the data files, or None.

    Returns
    -------
    Path or None
        ``$TINYHAR_DATA`` if set (whether or not it exists); otherwise the
        first existing folder among ``./../shared/data``,
        ``<repository root>/../shared/data`` and ``./data``; None if none
        exists.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    for folder in data_dir_candidates():
        if folder.is_dir():
            return folder.resolve()
    return None


def _locate(info: DatasetInfo, path: str | Path | None) -> Path:
    """The file to load for ``info``: ``path`` if given, else the default file in the data dir."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.exists():
            raise TinyharError(
                f"{info.name}: {path} does not exist; pass the file or folder of the data set "
                "with --path"
            )
        return path
    if info.default_file is None:
        raise TinyharError(
            f"{info.name}: no default file for this data set; pass its file with --path "
            "(e.g. --path WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt)"
        )
    looked = []
    env = os.environ.get(DATA_ENV_VAR)
    folders = [Path(env).expanduser()] if env else data_dir_candidates()
    for folder in folders:
        candidate = folder / info.default_file
        looked.append(str(candidate))
        if candidate.exists():
            return candidate
    raise TinyharError(
        f"{info.name}: {info.default_file!r} not found; looked in: {'; '.join(looked)}. "
        f"Pass the file with --path or set {DATA_ENV_VAR} to the folder holding it"
    )


def dataset_loader(info: DatasetInfo) -> Callable[..., Any]:
    """The function that loads a named data set (imported now).

    Parameters
    ----------
    info : DatasetInfo
        Its registry entry; ``info.loader`` is ``"module:function"``.

    Returns
    -------
    callable
        ``loader(path, [checks], **options)``.
    """
    module, _, function = info.loader.partition(":")
    return getattr(importlib.import_module(module), function)


def load_dataset(
    name_or_path: str | Path,
    path: str | Path | None = None,
    checks: ChecksLike = None,
    **options: Any,
) -> RecordingSet | WindowSet:
    """Load a data set by registry name, or from a definition or Parquet file.

    Parameters
    ----------
    name_or_path : str or Path
        A name from :data:`~tinyhar.datasets.info.DATASETS` (``tinyhar
        datasets`` lists them), the path of a YAML dataset
        definition (``.yaml``/``.yml``, see :mod:`tinyhar.datasets.custom`),
        or of a tinyhar Parquet file (``.parquet``).
    path : str or Path, optional
        File or folder of a named data set; by default its file in the data
        folder (:func:`find_data_dir`). For ``hapt`` a path makes it read
        the publisher's archive (6 basic activities, acc+gyro) instead of the
        bundled copy.
    checks : DataChecks or mapping, optional
        Plausibility checks the loader runs (sampling rate, time order,
        units, clipping; see :mod:`tinyhar.datasets.checks`), e.g. the
        training configuration's ``dataset.checks``; all on by default. The
        derived ``wisdm-windows`` are z-scored, so only their values are
        checked (finite, within +-1e4).
    **options
        Passed to the loader: ``activities``/``sensors`` for ``hapt-raw``
        (:func:`~tinyhar.datasets.hapt.load_hapt`), ``signals`` for
        ``uci-har``, ``on_bad_lines`` for ``wisdm-raw``.

    Returns
    -------
    RecordingSet or WindowSet
        Continuous recordings (g, rad/s, s) or pre-windowed data.

    Raises
    ------
    ConfigError
        Unknown name (the message lists the known names and the accepted
        file types) or an option the loader does not take.
    TinyharError
        The data file is not found (the message says where it looked and to
        pass ``--path`` or set ``TINYHAR_DATA``); a malformed file raises
        :class:`~tinyhar.errors.DataFormatError`, a subclass (also raised
        when a plausibility check fails, naming the file and the key that
        switches the check off).
    """
    text = str(name_or_path)
    file = _data_file(text, path, options)
    if file is not None:
        if file.suffix.lower() == ".parquet":
            return _read_parquet(file, checks)
        from tinyhar.datasets.custom import load_custom

        return load_custom(file, checks)
    if text not in DATASETS:
        raise ConfigError(
            f"unknown data set {text!r}; known names: {', '.join(DATASETS)}; or give the path "
            "of a YAML dataset definition (.yaml) or of a tinyhar .parquet file"
        )
    info = DATASETS[text]
    if text == "hapt":
        if options:
            raise ConfigError(
                f"the bundled 'hapt' data set takes no options (got {sorted(options)}); use "
                "'hapt-raw' with the publisher's zip for activities='all' or sensors='acc'"
            )
        if path is None:
            return dataset_loader(info)(checks)
        # a path: the publisher's archive (hapt-raw's loader), or a Parquet copy
        file = _locate(info, path)
        if file.suffix.lower() == ".parquet":
            return _read_parquet(file, checks)
        load_hapt = dataset_loader(DATASETS["hapt-raw"])
        return load_hapt(file, activities="basic", sensors="acc+gyro", checks=checks)
    loader = dataset_loader(info)
    parameters = inspect.signature(loader).parameters
    allowed = [p for p in parameters if p not in ("path", "checks")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"data set {text!r} does not take options {unknown}; it takes "
            f"{allowed or 'no options'}"
        )
    if "checks" in parameters:
        options["checks"] = checks
    return loader(_locate(info, path), **options)


def _data_file(text: str, path: str | Path | None, options: dict) -> Path | None:
    """The file when ``text`` names a definition or Parquet file (not a named set), else None.

    Raises
    ------
    TinyharError
        No such file.
    ConfigError
        Loader options or ``path`` given with a file (they apply to named sets).
    """
    suffix = Path(text).suffix.lower()
    if text in DATASETS or suffix not in (".yaml", ".yml", ".parquet"):
        return None
    file = Path(text).expanduser()
    if not file.is_file():
        raise TinyharError(
            f"{file}: no such file (resolved from {Path.cwd()}); check the path"
        )
    if options:
        raise ConfigError(
            f"options {sorted(options)} are not accepted for a {suffix} file; describe "
            "the data in the definition instead"
        )
    if path is not None:
        raise ConfigError(
            f"dataset.path ({path}) applies to named data sets only; {file} is the data "
            "set itself (a definition names its files in 'files:'): remove dataset.path"
        )
    return file


def _read_parquet(file: Path, checks: ChecksLike = None) -> RecordingSet:
    """A RecordingSet Parquet file, or a bundled (int16 counts) one."""
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    from tinyhar.datasets.bundled import read_bundled

    try:
        metadata = pq.read_schema(file).metadata or {}
    except (OSError, ValueError, ArrowException):
        metadata = {}
    if b"tinyhar_bundled" in metadata:
        return read_bundled(file, checks)
    return RecordingSet.from_parquet(file, checks)


def describe(name_or_path: str | Path, path: str | Path | None = None,
             checks: ChecksLike = None) -> dict[str, Any]:
    """Describe a data set (``tinyhar datasets describe``): :func:`describe_dataset` of it.

    A dataset definition and a tinyhar Parquet recording are read in batches
    of rows (:func:`tinyhar.datasets.bysession.count_samples`: memory bounded
    by a batch, whatever the size of the data set or of a session); other
    data sets (named ones, bundled copies) are loaded whole
    (:func:`load_dataset`). The result is the same either way.

    Parameters
    ----------
    name_or_path, path, checks
        As :func:`load_dataset`.

    Returns
    -------
    dict
        As :func:`describe_dataset`.

    Raises
    ------
    ConfigError, TinyharError
        As :func:`load_dataset`.
    """
    from tinyhar.datasets.sessions import RecordingFile

    file = _data_file(str(name_or_path), path, {})
    if file is not None and (file.suffix.lower() in (".yaml", ".yml")
                             or RecordingFile.streams(file)):
        from tinyhar.datasets.bysession import count_samples

        return describe_dataset(count_samples(file, checks))
    return describe_dataset(load_dataset(name_or_path, path=path, checks=checks))


def describe_dataset(data: RecordingSet | WindowSet | SampleCounts) -> dict[str, Any]:
    """Summarise a loaded data set.

    Parameters
    ----------
    data : RecordingSet, WindowSet or SampleCounts
        A data set, or the counts of one read a session at a time
        (:class:`tinyhar.datasets.bysession.SampleCounts`; described as its
        recordings would be).

    Returns
    -------
    dict
        ``name``, ``kind`` (``"recordings"``/``"windows"``),
        ``sampling_rate_hz`` (Hz), ``channels``, ``n_subjects``,
        ``subjects`` (natural order), ``classes``, ``citation``, ``licence``;
        for recordings ``n_sessions``, ``n_samples``, ``hours`` and
        ``hours_per_class`` (h, with ``"unlabelled"``), with clock time also
        ``clock_spans`` (session -> its first and last time stamps, ISO 8601
        UTC: :meth:`~tinyhar.datasets.bysession.SampleCounts.clock_spans`); for windows
        ``n_windows``, ``window_s`` (s), ``windows_per_class`` and, when the
        publisher has a split, ``windows_per_split``.
    """
    from tinyhar.datasets.bysession import SampleCounts

    if isinstance(data, RecordingSet):
        data = SampleCounts.of(data)
    if isinstance(data, SampleCounts):
        rate = data.sampling_rate_hz
        per_class = data.per_class()
        ordered = {c: float(per_class[c]) / rate / 3600.0 for c in data.classes}
        if per_class[None]:
            ordered["unlabelled"] = float(per_class[None]) / rate / 3600.0
        return {
            "name": data.name,
            "kind": "recordings",
            "sampling_rate_hz": rate,
            "channels": data.channels,
            "n_subjects": len(data.subjects),
            "subjects": data.subjects,
            "n_sessions": len(data.sessions),
            "n_samples": data.n_samples,
            "hours": data.n_samples / rate / 3600.0,
            "classes": data.classes,
            "hours_per_class": ordered,
            "citation": data.citation,
            "licence": data.licence,
            **({"clock_spans": data.clock_spans()} if data.clock else {}),
        }
    out = {
        "name": data.name,
        "kind": "windows",
        "sampling_rate_hz": data.sampling_rate_hz,
        "channels": list(data.channels),
        "n_subjects": len(data.subjects),
        "subjects": data.subjects,
        "n_windows": len(data),
        "window_s": data.window_s,
        "classes": data.classes,
        "windows_per_class": data.class_counts(),
        "citation": data.info.get("citation", ""),
        "licence": data.info.get("licence", ""),
    }
    if data.split is not None:
        values, counts = np.unique(data.split.astype(str), return_counts=True)
        out["windows_per_split"] = {str(v): int(n) for v, n in zip(values, counts, strict=True)}
    if "units" in data.info:
        out["units"] = data.info["units"]
    return out
