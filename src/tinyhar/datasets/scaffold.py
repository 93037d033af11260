r"""Scaffold a dataset definition from a folder of recordings, and check one.

``tinyhar datasets init FOLDER --out DEF.yaml`` (:func:`write_scaffold`) reads
a folder of CSV, Parquet or NPY files and writes a commented YAML dataset
definition (the schema of :mod:`tinyhar.datasets.custom`) with its guesses:

============== =====================================================================
what           how it is guessed
============== =====================================================================
csv layout     delimiter (runs of spaces: ``\s+``), header (a first line with text
               where the other lines hold numbers), lines before it, a ``;`` ending
               every line (``comment``; a delimiter ending every line is read as no
               column)
columns        by name (``timestamp_ms``, ``Arrival_Time``, ``acc_x``, ``ax``,
               ``Acceleration x (m/s^2)``, ``gyroZ``, ``label``, ``gt``, ``subject``,
               ...; of several time columns the one that increases from row to row
               most often, per device), else by content: the label is a text column
               with few values, else whole numbers held for many samples
               (``_label_codes``); the first
               increasing numeric column is time (never a row index such as
               ``Unnamed: 0``); three adjacent numeric columns whose still spans show
               1 g are an accelerometer, of several the first with a gyroscope triple
               after it (``_sensor_triples``); columns named as orientation, gravity,
               magnetometer, temperature... are never axes; acceleration named as
               gravity-free (``userAcceleration``) gets the gravity columns beside it
               (``columns.gravity_*``), and without them is not taken (the note says
               what to do)
rows           a device column (``Device``, ``Model``) that changes within a file:
               the rows of several devices are interleaved, so it is the session
               (rates measured per device); rows missing time or a sensor value:
               ``csv.drop_missing``; labels such as ``null``, or ``0`` among codes
               (``low``: check it): ``ignore_labels``
time unit      from a unit in the column name (``_ms``, ``_us``, ``_ns``, ``_s``),
               else from the typical time step: a rate of 5-1000 Hz fixes s, ms, us
               or ns uniquely
sampling rate  measured from the time column of each file
               (:func:`~tinyhar.datasets.checks.measured_rate_hz`), the median
               over the files, rounded to a common rate when within 0.5 %
units          every unit the loader knows is tried and the checks of
               :mod:`tinyhar.datasets.checks` are run on the converted values
               (gravity near 1 g on still spans; gyroscope neither deg/s read as
               rad/s nor the reverse); the unit that passes in most files wins, a
               unit named in the column name breaks ties
file names     split at ``_ - . space``; a part like ``subject07``/``s07``/``user7``
               gives the subject, ``session2``/``trial``/``run``/``rec``/``exp``
               the session, and the words that vary between files the label
               (several words joined by separators are one label; of two varying
               words, the one reading like activities, :data:`ACTIVITY_WORDS`; the
               other is the subject; a number after ``sub``/``user`` is the subject);
               a session is not taken from names that carry the label (those numbers
               count takes); the pattern must match every file, or it is dropped;
               when the same names repeat in several folders, the folder's name is
               part of the name (``wlk_7/sub_1.csv``)
============== =====================================================================

A folder whose files hold one sensor each (``accel``/``gyro`` in their names or
folders: WISDM 2019's ``accel/`` and ``gyro/``, HHAR's ``Phones_accelerometer.csv``
and ``Phones_gyroscope.csv``) gets a ``gyro`` key (:func:`_guess_gyro`): the
accelerometer's files are guessed as above, the gyroscope's files get their own
``files`` pattern, the accelerometer's ``file_pattern`` with its sensor word
replaced (``accel`` -> ``gyro``), the accelerometer files' columns when the
layouts are the same (else by name), its rate when it differs, and a unit from
its values' size; files of other sensors (magnetometer) are left out. When the
files cannot be told apart by a pattern, it is refused, saying what to do.

Each guess is reported with how sure it is (``high``: one clear answer;
``medium``: by content or by the first of several possibilities; ``low``: a
default the user must confirm) and why. ``tinyhar datasets check DEF``
(:func:`check_definition`) loads a definition with all checks, one session at
a time (:mod:`tinyhar.datasets.bysession`: memory bounded by one session), and
summarises it: subjects, sessions, classes, minutes per class, and the
warnings.
"""

from __future__ import annotations

import datetime as _dt
import glob
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from tinyhar.datasets.checks import (
    check_acc_units,
    check_gyro_units,
    gravity_level,
    measured_rate_hz,
)
from tinyhar.datasets.custom import (
    _FORMATS,
    GYRO_UNITS,
    TIME_UNITS,
    DatasetDefinition,
    datetime_seconds,
    pattern_match,
)
from tinyhar.datasets.definition import (
    COMPRESSIONS,
    GRAVITY_COLUMNS,
    data_suffix,
    full_suffix,
    stem,
)
from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS
from tinyhar.datasets.scaffold_guess import (
    _DEVICE_RE,
    _GENERIC_FOLDERS,
    _NOT_MOTION_RE,
    _SENSOR_WORDS,
    _SPLIT_RE,
    _TIME_RE,
    ACTIVITY_WORDS,
    COMMON_RATES_HZ,
    Guess,
    _acc_candidates,
    _by_name,
    _choose_unit,
    _CsvLayout,
    _distinct_units,
    _gravity_free,
    _gravity_free_problem,
    _is_row_index,
    _label_codes,
    _list_files,
    _name_pattern,
    _no_label_values,
    _numeric,
    _passes,
    _read,
    _round_rate,
    _sample,
    _sensor_per_file,
    _sensor_triples,
    _sniff_csv,
    _time_unit,
    _to_g,
    _tokens,
    _yaml_value,
)
from tinyhar.datasets.units import to_canonical
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.validation import validation_problems

MAX_SAMPLED_FILES = 40
"""Files read in full to guess columns, rate and units (spread over the sorted list)."""
MIN_CLASS_SUBJECTS = 2
"""A class recorded from fewer subjects cannot be tested subject-independently."""

@dataclass
class Scaffold:
    """A scaffolded definition: its YAML text and what was guessed.

    Attributes
    ----------
    text : str
        The commented YAML definition.
    guesses : list of Guess
        Every guess, in the order of the file.
    files : list of Path
        The data files the ``files`` patterns match.
    problems : list of str
        What the user must still fix before the definition loads (empty when
        it validates).
    """

    text: str
    guesses: list[Guess] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------ scaffold
def scaffold_definition(folder: str | Path, out: str | Path) -> Scaffold:
    """Guess a dataset definition for the recordings in ``folder``.

    Parameters
    ----------
    folder : str or Path
        A folder (searched recursively) of CSV (``.csv .txt .tsv .dat .log``, also compressed:
        ``.csv.gz``, ``.bz2``, ``.xz``, ``.zip``), Parquet
        or NPY files, one or more per recording.
    out : str or Path
        Where the definition will be written: the ``files`` patterns are made
        relative to its folder.

    Returns
    -------
    Scaffold
        The YAML text, the guesses with their confidence, the matched files
        and what is left to fix.

    Raises
    ------
    ConfigError
        If ``folder`` is not a folder or holds no data file.
    DataFormatError
        If a sampled file cannot be read (naming it).
    """
    d = _Draft(Path(folder), Path(out))
    _find_files(d)
    _read_samples(d)
    _guess_columns(d)
    _guess_rate(d)
    _guess_missing(d)
    _guess_units(d)
    _guess_names(d)
    _guess_gyro(d)
    order = ["files", "csv", "sampling_rate_hz", "columns.", "units.time", "units.acc",
             "units.gyro", "file_pattern", "constants.", "gyro.", "classes", "ignore_labels"]
    d.guesses.sort(key=lambda g: next(
        (i for i, o in enumerate(order) if g.key == o or (o.endswith(".") and
                                                         g.key.startswith(o))), len(order)))
    text = _render(d)
    try:
        DatasetDefinition.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        for where, message, _value in validation_problems(exc, DatasetDefinition):
            problem = f"{where}: {message}"
            key = re.sub(r"^columns\.acc_[yz]$", "columns.acc_x", where)  # (one sensor)
            if not any(key in p for p in d.problems):
                d.problems.append(problem)
    return Scaffold(text=text, guesses=d.guesses, files=d.files, problems=d.problems)


@dataclass
class _Draft:
    """What :func:`scaffold_definition` has found so far (filled stage by stage)."""

    folder: Path
    out: Path
    fmt: str = "csv"
    files: list[Path] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)
    layout: _CsvLayout | None = None
    sampled: list[Path] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    numeric: dict[Any, np.ndarray | None] = field(default_factory=dict)
    cols: dict[str, Any] = field(default_factory=dict)
    how: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    rate: float | None = None
    device: Any = None
    time_unit: str = "s"
    units: dict[str, Any] = field(default_factory=dict)
    pattern: str | None = None
    constants: dict[str, str] = field(default_factory=dict)
    classes: list[str] | None = None
    ignore: list[str] = field(default_factory=list)
    guesses: list[Guess] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    gyro_files: list[Path] = field(default_factory=list)  # the gyroscope's own files
    gyro_patterns: list[str] = field(default_factory=list)
    sensor_words: tuple[str, str] = ("", "")  # naming the accelerometer's, gyroscope's files
    gyro: dict[str, Any] = field(default_factory=dict)  # the gyro key (without its files)


def _find_files(d: _Draft) -> None:
    """The files of the most common format, and the ``files`` patterns."""
    if not d.folder.is_dir():
        raise ConfigError(f"{d.folder}: not a folder; give the folder holding your recordings")
    by_format = _list_files(d.folder)
    if not by_format:
        raise ConfigError(
            f"{d.folder}: no data files found (looked for {', '.join(sorted(_FORMATS))} "
            "and compressed CSV ("
            f"{', '.join('.csv' + c for c in sorted(COMPRESSIONS))}) "
            "files, also in subfolders)"
        )
    d.fmt = max(by_format, key=lambda k: len(by_format[k]))
    d.files = _one_text_extension(by_format[d.fmt]) if d.fmt == "csv" else by_format[d.fmt]
    sensors = _sensor_per_file(d.files, d.folder)
    every = len(d.files)
    if sensors:
        _split_sensors(d, sensors)
    skipped = sum(len(v) for v in by_format.values()) - every
    rel = Path(os.path.relpath(d.folder.resolve(), d.out.resolve().parent)).as_posix()
    nested = any(f.parent != d.folder for f in d.files)
    if rel.startswith("../../") and not nested:  # far apart: an absolute path reads better
        rel = d.folder.resolve().as_posix()
    else:  # a relative pattern is a glob in every part (an absolute one only in its file
        rel = glob.escape(rel)  # name: custom.resolve_files): a folder "v[2]" must match itself
    exts = sorted({full_suffix(f) for f in d.files})
    d.patterns = [f"{rel}/{'**/' if nested else ''}*{ext}" for ext in exts]
    files_note = f"{len(d.files)} {d.fmt.upper()} file(s)" + (
        f"; {skipped} file(s) of another format left out" if skipped else "")
    if d.gyro_files:
        d.patterns = _sensor_glob(d, d.files, d.sensor_words[0], rel, d.gyro_files)
        d.gyro_patterns = _sensor_glob(d, d.gyro_files, d.sensor_words[1], rel, d.files)
        files_note = f"{len(d.files)} accelerometer {d.fmt.upper()} file(s)" + (
            f"; {every - len(d.files) - len(d.gyro_files)} file(s) of other sensors left out"
            if every > len(d.files) + len(d.gyro_files) else "")
    d.guesses.append(Guess("files", d.patterns if len(d.patterns) > 1 else d.patterns[0], "high",
                         files_note))


def _split_sensors(d: _Draft, sensors: dict[str, str]) -> None:
    """Files of one sensor each: the accelerometer's become ``d.files``, the gyroscope's
    ``d.gyro_files`` (the words naming them: ``d.sensor_words``); refused without both."""
    by_sensor: dict[str, list[Path]] = {}
    words: dict[str, str] = {}
    for f in d.files:
        rel = f.relative_to(d.folder)
        found = {w.lower(): w for w in _SPLIT_RE.split(rel.with_name(stem(rel)).as_posix())
                 if w.lower() in _SENSOR_WORDS}
        kinds = {_SENSOR_WORDS[w] for w in found}
        if len(kinds) == 1:
            kind = kinds.pop()
            by_sensor.setdefault(kind, []).append(f)
            words.setdefault(kind, next(iter(found.values())))
    acc, gyro = by_sensor.get("accelerometer", []), by_sensor.get("gyroscope", [])
    if not acc or not gyro:
        raise ConfigError(
            f"{d.folder}: the files hold one sensor each ("
            + ", ".join(f"{k}: {v}" for k, v in sensors.items()) + "), but not an "
            "accelerometer and a gyroscope, each named in its files' names or folders "
            "(accel, gyro); run datasets init on the accelerometer's files, or name them so")
    d.files, d.gyro_files = acc, gyro
    d.sensor_words = (words["accelerometer"], words["gyroscope"])


def _sensor_glob(d: _Draft, files: list[Path], word: str, rel: str,
                 others: list[Path]) -> list[str]:
    """``files`` patterns of one sensor's files that match none of ``others`` (the other
    sensor's): their folder, and the word naming the sensor in the file name if needed.

    Raises
    ------
    ConfigError
        No such pattern (the sensors' files cannot be told apart by a glob).
    """
    common = Path(os.path.commonpath([str(f.parent) for f in files]))
    sub = common.relative_to(d.folder).as_posix()
    nested = any(f.parent != common for f in files)
    exts = sorted({full_suffix(f) for f in files})
    base = d.out.resolve().parent
    folder = rel if sub == "." else f"{rel}/{glob.escape(sub)}"
    for name in ("*", f"*{glob.escape(word)}*"):
        patterns = [f"{folder}/{'**/' if nested else ''}{name}{ext}" for ext in exts]
        matched = {m.resolve() for p in patterns for m in (
            Path(p).parent.glob(Path(p).name) if Path(p).is_absolute() else base.glob(p))
            if m.is_file()}
        if matched == {f.resolve() for f in files}:
            return patterns
    raise ConfigError(
        f"{d.folder}: the {word} files cannot be told apart from the other sensor's "
        f"({others[0].name}) by a glob pattern; put each sensor's files in a folder of its "
        "own, or name them with the sensor (e.g. data_1600_accel.txt, data_1600_gyro.txt)")


def _one_text_extension(files: list[Path]) -> list[Path]:
    """The text files of one extension (compressed or not): ``.csv`` where there are any,
    else the most common one (``.dat``, ``.log``, ``.txt``, ``.tsv``), so that a
    ``README.txt`` or a ``run.log`` beside the recordings is left out, not read as one."""
    by_ext: dict[str, list[Path]] = {}
    for f in files:
        by_ext.setdefault(data_suffix(f), []).append(f)
    if ".csv" in by_ext:
        return by_ext[".csv"]
    return max(by_ext.values(), key=len)


def _read_samples(d: _Draft) -> None:
    """CSV layout; read up to :data:`MAX_SAMPLED_FILES` files (one column layout)."""
    d.layout = _sniff_csv(d.files[0]) if d.fmt == "csv" else None
    d.sampled = _sample(d.files, MAX_SAMPLED_FILES)
    d.frames = [_read(f, d.fmt, d.layout) for f in d.sampled]
    columns = list(d.frames[0].columns)
    for f, frame in zip(d.sampled, d.frames, strict=True):
        if list(frame.columns) != columns:
            raise DataFormatError(
                f, f"its columns {list(frame.columns)} differ from those of {d.sampled[0]} "
                f"({columns}); put files of one layout in the folder (or one layout per "
                "folder, each with its own definition)"
            )
    if d.layout is not None:
        d.guesses.append(Guess(
            "csv", d.layout.options(), "high" if d.layout.header else "medium",
            "; ".join(["from the first lines", *d.layout.reasons]
                      + ([] if d.layout.header else ["no header: columns by position"])),
        ))


def _guess_columns(d: _Draft) -> None:
    """Columns by name, else by content (label codes, time, sensor triples)."""
    columns = list(d.frames[0].columns)
    d.cols, d.hints, more = _by_name(columns)
    d.guesses += more
    d.how = {k: "by name" for k in d.cols}
    d.numeric = {c: _numeric(d.frames[0][c]) for c in columns}
    _prefer_increasing_time(d, columns)
    index = [c for c in columns if _is_row_index(c, d.numeric[c]) and c not in d.cols.values()]
    other = {c for c in columns if _NOT_MOTION_RE.search(_tokens(c))} | set(index)
    free_acc, gravity = _gravity_free(columns) if "acc_x" not in d.cols else ([], [])
    if free_acc and gravity:  # (MotionSense: userAcceleration.* and gravity.*)
        d.cols.update(zip(ACC_CHANNELS, free_acc, strict=True))
        d.cols.update(zip(GRAVITY_COLUMNS, gravity, strict=True))
        ios = _tokens(free_acc[0]).startswith("user_acc")  # Core Motion's name
        d.how.update(dict.fromkeys(ACC_CHANNELS, "by name: acceleration with gravity "
                                   "removed; gravity_x, gravity_y, gravity_z add it back" + (
                                       "; iOS Core Motion's signs are the opposite of "
                                       "Android's and most sensors' (lying face up, z "
                                       "reads -1 g, not +1 g): "
                                       "do not mix these data with those" if ios else "")))
        d.how.update(dict.fromkeys(GRAVITY_COLUMNS, "by name: added to acc_* when loaded"))
        free_acc = []
    elif free_acc:
        d.problems.append(_gravity_free_problem(free_acc))
    # --- by content: label (text with few values, else integer codes in long runs)
    if "label" not in d.cols:
        for c in columns:
            if c in d.cols.values() or c in other or _DEVICE_RE.match(_tokens(c)):
                continue
            if (d.numeric[c] is None and _numeric(d.frames[0][c].dropna()) is None
                    and 1 <= d.frames[0][c].nunique() <= 50):  # (numbers with gaps: not text)
                d.cols["label"], d.how["label"] = c, "by content (text with few values)"
                break
        else:
            for c in columns:
                if c not in d.cols.values() and c not in other and _label_codes(
                        [fr[c] for fr in d.frames]):
                    d.cols["label"] = c
                    d.how["label"] = "by content (whole numbers with few values, in long runs)"
                    break
    if "time" not in d.cols:
        for c in columns:
            v = d.numeric[c]
            if (c not in d.cols.values() and c not in index and v is not None and len(v) > 2
                    and np.mean(np.diff(v) > 0) > 0.99):
                d.cols["time"] = c
                d.how["time"] = "by content (increasing)"
                break
    if index:
        d.how["index"] = (f"{index[0]!r} counts the rows (0, 1, 2, ...): a row index, "
                          "not time")
    if "acc_x" not in d.cols and not free_acc:
        used = set(d.cols.values()) | other
        free = [c for c in columns if c not in used and d.numeric[c] is not None
                and np.ptp(d.numeric[c][np.isfinite(d.numeric[c])]) > 0]
        acc, gyro, note = _sensor_triples(columns, free, d.numeric)
        if acc:
            d.cols.update(dict(zip(ACC_CHANNELS, acc, strict=True)))
            d.how.update(dict.fromkeys(ACC_CHANNELS, "by content (shows gravity)" + note))
        if gyro and "gyro_x" not in d.cols:
            d.cols.update(dict(zip(GYRO_CHANNELS, gyro, strict=True)))
            d.how.update(dict.fromkeys(
                GYRO_CHANNELS, "by content (the triple after the accelerometer that passes "
                "the angular-rate check)"))
    if "acc_x" not in d.cols and not free_acc:
        d.problems.append(
            f"no accelerometer columns found among {columns}; set columns.acc_x, acc_y, acc_z"
        )
    _guess_devices(d, columns)


def _prefer_increasing_time(d: _Draft, columns: list[Any]) -> None:
    """Of several numeric columns named as time (HHAR's ``Arrival_Time`` in ms and
    ``Creation_Time`` in ns), the one that increases from row to row most often."""
    named = [c for c in columns if not isinstance(c, (int, np.integer))
             and _TIME_RE.match(_tokens(c)) and d.numeric[c] is not None and len(d.numeric[c]) > 2]
    if len(named) < 2 or d.cols.get("time") not in named:
        return
    device = _device_column(d, columns)
    frame = d.frames[0]
    groups = [frame] if device is None else [g for _, g in frame.groupby(device, sort=False)]
    share = {c: float(np.mean(np.concatenate(
        [np.diff(_numeric(g[c])) > 0 for g in groups if len(g) > 1]))) for c in named}
    best = max(named, key=lambda c: share[c])  # (the first of equals: the name's order)
    if share[best] > share[d.cols["time"]]:
        d.how["time"] = (f"by name; of {named}, the one that increases most often "
                         f"({share[best]:.0%} of rows, against {share[d.cols['time']]:.0%})")
        d.cols["time"] = best
        d.hints.pop("time", None)


def _device_column(d: _Draft, columns: list[Any]) -> Any:
    """A text column naming devices whose value changes within a file, or None; of several,
    the finest (``Device``: nexus4_1, nexus4_2 rather than ``Model``: nexus4)."""
    varying = [c for c in columns if c not in d.cols.values() and d.numeric[c] is None
               and _DEVICE_RE.match(_tokens(c)) and any(fr[c].nunique() > 1 for fr in d.frames)]
    return min(varying, default=None, key=lambda c: (
        -sum(fr[c].nunique() for fr in d.frames), not _tokens(c).startswith("device")))


def _guess_devices(d: _Draft, columns: list[Any]) -> None:
    """A device column whose value changes within a file: the rows of several devices are
    interleaved, so each device must be a session of its own (never one mixed stream)."""
    c = _device_column(d, columns)
    if c is None:
        return
    names = sorted(pd.concat([fr[c] for fr in d.frames]).dropna().astype(str).unique())
    d.device = c
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    if "session" not in d.cols:
        d.cols["session"] = c
        d.how["session"] = (f"by content: the rows of {len(names)} devices ({shown}) are "
                            "interleaved in a file; each device is a session of its own")
    else:
        d.problems.append(
            f"column {c!r} names {len(names)} devices ({shown}) whose rows are interleaved "
            f"within a session (column {d.cols['session']!r}): their samples would be "
            f"mixed into one stream; make {c!r} the session column (columns.session)"
        )


def _guess_rate(d: _Draft) -> None:
    """Time unit and sampling rate from the time column."""
    # --- time unit and sampling d.rate
    d.time_unit = "s"
    d.rate: float | None = None
    time_col = d.cols.get("time")
    if time_col is not None and (d.numeric[time_col] is None or any(
            pd.api.types.is_datetime64_any_dtype(fr[time_col]) for fr in d.frames)):
        seconds = [datetime_seconds(fr[time_col]) for fr in d.frames]
        if all(np.isfinite(s).all() for s in seconds):  # ISO 8601: the loader reads them
            rates = [r for r in (measured_rate_hz(s) for s in seconds) if r]
            if rates:
                d.time_unit = "datetime"
                d.rate = _round_rate(float(np.median(rates)))
                d.guesses.append(Guess("units.time", "datetime", "high",
                                       f"date-times in column {time_col!r}"))
                d.guesses.append(Guess(
                    "sampling_rate_hz", d.rate, "medium",
                    f"measured from the date-time column {time_col!r} (median "
                    f"{np.median(rates):.4g} Hz)",
                ))
                return
        try:
            stamps = [pd.to_datetime(fr[time_col], errors="raise") for fr in d.frames]
        except (ValueError, TypeError):
            stamps = None
        del d.cols["time"]
        if stamps is not None:
            rates = [measured_rate_hz((s - s.iloc[0]).dt.total_seconds().to_numpy())
                     for s in stamps]
            rates = [r for r in rates if r]
            if rates:
                d.rate = _round_rate(float(np.median(rates)))
                d.guesses.append(Guess(
                    "sampling_rate_hz", d.rate, "medium",
                    f"measured from the date-time column {time_col!r} (median "
                    f"{np.median(rates):.4g} Hz); the loader reads ISO 8601 date-times "
                    "only (units.time: datetime), so time is computed from the rate",
                ))
        if d.rate is None:
            d.problems.append(f"time column {time_col!r} is not numeric; set sampling_rate_hz")
    elif time_col is not None:
        steps = [np.diff(_numeric(fr[time_col])) for fr in d.frames]
        positive = np.concatenate([s[s > 0] for s in steps])
        step = float(np.median(positive)) if positive.size else 0.0
        if step > 0:
            d.time_unit, sure, reason = _time_unit(step, d.hints.get("time"))
            d.guesses.append(Guess("units.time", d.time_unit, sure, reason))
            factor = TIME_UNITS[d.time_unit]
            parts = d.frames if d.device is None else [
                part for fr in d.frames for _, part in fr.groupby(d.device, sort=True)]
            rates = [measured_rate_hz(_numeric(fr[time_col]) * factor) for fr in parts]
            rates = np.array([r for r in rates if r])
            if rates.size == 0:
                d.problems.append(
                    f"time column {time_col!r}: too few increasing time stamps to measure the "
                    "sampling rate (a file needs at least 3 samples); set sampling_rate_hz"
                )
                return
            median = float(np.median(rates))
            d.rate = _round_rate(median)
            spread = float(np.max(np.abs(rates / d.rate - 1.0)))
            sure = "high" if spread <= 0.01 else "medium" if spread <= 0.02 else "low"
            d.guesses.append(Guess(
                "sampling_rate_hz", d.rate, sure,
                f"measured from {time_col!r}: "
                + (f"{rates.min():.4g} Hz" if f"{rates.min():.4g}" == f"{rates.max():.4g}"
                   else f"{rates.min():.4g}-{rates.max():.4g} Hz") + f" in {len(rates)} "
                + ("sampled file(s)" if d.device is None else f"devices ({d.device!r})") + (
                    "; files differ by more than the loader's 2 % tolerance: resample them "
                    "or split the folder" if spread > 0.02 and d.device is None else ""),
            ))
            if spread > 0.02 and d.device is not None:
                d.problems.append(
                    f"the devices of column {d.device!r} record at different rates "
                    f"({rates.min():.4g}-{rates.max():.4g} Hz) and a definition has one: "
                    f"split the file by {d.device!r} into one file per device, and write a "
                    "definition per rate (or resample to one rate)"
                )
    if d.rate is None:
        d.problems.append(
            "no time column to measure the sampling rate from: set sampling_rate_hz to the "
            "rate the recordings were made at"
            + ("" if d.device is None else
               f" (every device of column {d.device!r} must record at that rate)")
        )


def _guess_missing(d: _Draft) -> None:
    """Rows missing a time or sensor value (a sensor that dropped samples): ``csv.drop_missing``
    with a time column, else a problem to fix."""
    keys = [k for k in ("time", *ACC_CHANNELS, *GYRO_CHANNELS) if k in d.cols]
    if d.layout is None or not keys:
        return
    missing = [int(pd.concat([fr[d.cols[k]] for k in keys], axis=1).isna().any(axis=1).sum())
               for fr in d.frames]
    if not any(missing):
        return
    share = sum(missing) / sum(len(fr) for fr in d.frames)
    what = (f"{sum(missing)} row(s) ({share:.2%}) of {sum(m > 0 for m in missing)} sampled "
            "file(s) miss a time or sensor value")
    if "time" not in d.cols:
        d.problems.append(f"{what}, and without a time column they cannot be left out: fill "
                          "or remove them")
        return
    d.layout.drop_missing = True
    for i, g in enumerate(d.guesses):
        if g.key == "csv":
            d.guesses[i] = Guess("csv", d.layout.options(), "medium",
                                 f"{g.reason}; drop_missing: {what}")


def _guess_units(d: _Draft) -> None:
    """Sensor units: the unit that passes the checks of datasets.checks."""
    # --- d.units
    d.units: dict[str, Any] = {}
    if "acc_x" in d.cols:
        check_rate = d.rate or 50.0
        acc_all = [np.column_stack([_numeric(fr[d.cols[a]]) for a in ACC_CHANNELS])
                   for fr in d.frames]
        if "gravity_x" in d.cols:  # the acceleration the loader makes: with gravity added back
            acc_all = [a + np.column_stack([_numeric(fr[d.cols[g]]) for g in GRAVITY_COLUMNS])
                       for a, fr in zip(acc_all, d.frames, strict=True)]
        candidates = _acc_candidates(np.concatenate(acc_all))
        names = [_yaml_value(c) if isinstance(c, dict) else c for c in candidates]
        passes = {
            name: sum(_passes(check_acc_units, _to_g(a, c), check_rate, "x") for a in acc_all)
            for name, c in zip(names, candidates, strict=True)
        }
        joined = np.concatenate(acc_all)
        levels = {name: gravity_level(_to_g(joined, c), check_rate)[0]
                  for name, c in zip(names, candidates, strict=True)}
        order = sorted(names, key=lambda name: abs(np.log(max(levels[name], 1e-12))))
        name, sure, reason = _choose_unit(passes, len(acc_all), d.hints.get("acc"), order,
                                          "gravity (1 g at rest)",
                                          ("medium", "this one is closest to 1 g"))
        acc_unit = candidates[names.index(name)]
        level, _ = gravity_level(np.concatenate([_to_g(a, acc_unit) for a in acc_all]),
                                 check_rate)
        d.units["acc"] = acc_unit
        d.guesses.append(Guess("units.acc", acc_unit, sure,
                             f"{reason}; gravity level {level:.3g} g in this unit"))
        if "gyro_x" in d.cols:
            acc_g = [_to_g(a, acc_unit) for a in acc_all]
            gyro_all = [
                np.column_stack([_numeric(fr[d.cols[a]]) for a in ("gyro_x", "gyro_y", "gyro_z")])
                for fr in d.frames
            ]
            passes = {
                u: sum(
                    _passes(check_gyro_units, to_canonical(gv, u, "rad/s"), ag, check_rate, "x")
                    for gv, ag in zip(gyro_all, acc_g, strict=True)
                )
                for u in _distinct_units(GYRO_UNITS, ("rad/s", "deg/s", "mdps"))
            }
            raw = np.concatenate(gyro_all)
            p99 = float(np.nanpercentile(np.sqrt((raw ** 2).sum(axis=1)), 99))
            # both rad/s and deg/s pass with little motion: large raw values mean deg/s
            order = ["deg/s", "rad/s"] if p99 > 2 * np.pi else ["rad/s", "deg/s"]
            order += [u for u in passes if u not in order]
            unit, sure, reason = _choose_unit(passes, len(gyro_all), d.hints.get("gyro"), order,
                                              "angular-rate")
            d.units["gyro"] = unit
            d.guesses.append(Guess(
                "units.gyro", unit, sure,
                f"{reason}; 99th percentile |gyro| {p99:.3g} in the sampled files"))


def _guess_names(d: _Draft) -> None:
    """Subject, session and label from columns, then file names; the classes."""
    # --- subject, session, label: columns first, then file names
    wanted = {k for k in ("subject", "session", "label") if k not in d.cols}
    d.pattern, pattern_sure, pattern_note = _name_pattern(d.files, wanted)
    if d.pattern:
        d.guesses.append(Guess("file_pattern", d.pattern, min(pattern_sure.values(),
                                                          key=["high", "medium", "low"].index),
                             pattern_note))
    from_names = set(pattern_sure)
    d.constants: dict[str, str] = {}
    if "subject" not in d.cols and "subject" not in from_names:
        d.constants["subject"] = "me"
        d.guesses.append(Guess("constants.subject", "me", "low",
                             "no subject in the columns or file names: one person assumed"))
        d.problems.append(
            "one subject only: evaluation is subject-independent and needs at least two; "
            "add a subject column, name files like <subject>_<label>_<n>.csv, or set "
            "constants.subject per folder with one definition each"
        )
    if "label" not in d.cols and "label" not in from_names:
        d.problems.append(
            "no labels in the columns or file names: add a label column, name files like "
            "<subject>_<label>_<n>.csv, or set constants.label for a folder of one class"
        )
    for key in ("label", "subject", "session"):
        if key in d.cols:
            d.guesses.append(Guess(f"columns.{key}", d.cols[key],
                                 "high" if d.how[key] == "by name" else "medium", d.how[key]))
    d.classes: list[str] | None = None
    if d.pattern and "label" in from_names:
        compiled = re.compile(d.pattern)
        d.classes = sorted({pattern_match(compiled, f).group("label") for f in d.files})
        d.guesses.append(Guess("classes", d.classes, pattern_sure["label"],
                             f"the labels in the {len(d.files)} file names"))
    elif "label" in d.cols:
        found = pd.concat([fr[d.cols["label"]] for fr in d.frames]).dropna().astype(str)
        seen = sorted(found.str.strip().unique().tolist())
        d.ignore, sure, reason = _no_label_values(seen)
        if d.ignore:
            d.guesses.append(Guess("ignore_labels", d.ignore, sure, reason))
        if len(d.sampled) == len(d.files):
            d.classes = [c for c in seen if c not in d.ignore]
            d.guesses.append(Guess("classes", d.classes, "high",
                                   "the labels in the label column"
                                   + (f", without {d.ignore} (ignore_labels)" if d.ignore else "")))
    sensor_keys = ["time", *ACC_CHANNELS, *GRAVITY_COLUMNS, *GYRO_CHANNELS]
    for key in sensor_keys:
        if key in d.cols:
            d.guesses.append(Guess(f"columns.{key}", d.cols[key],
                                 "high" if d.how[key] == "by name" else "medium", d.how[key]))


GYRO_UNIT_LIMITS = (("rad/s", 20.0), ("deg/s", 2000.0), ("mdps", float("inf")))
"""Unit of a gyroscope in files of its own by the 99th percentile of its magnitude (at most
20 rad/s, 2000 deg/s: the full scales of common sensors; beyond: mdps)."""


def _guess_gyro(d: _Draft) -> None:
    """The ``gyro`` key of a folder whose gyroscope has files of its own (``d.gyro_files``):
    columns, unit, rate and file pattern, from up to :data:`MAX_SAMPLED_FILES` of them."""
    if not d.gyro_files:
        return
    if d.pattern:
        acc_word, gyro_word = d.sensor_words
        pattern = d.pattern.replace(re.escape(acc_word), re.escape(gyro_word))
        compiled = re.compile(pattern)
        if pattern != d.pattern and all(pattern_match(compiled, f) for f in d.gyro_files):
            d.gyro["file_pattern"] = pattern
            d.guesses.append(Guess("gyro.file_pattern", pattern, "medium",
                                   f"file_pattern with {acc_word!r} replaced by {gyro_word!r}"))
        else:
            d.problems.append(
                f"no gyro.file_pattern found: file_pattern {d.pattern!r} with {acc_word!r} "
                f"replaced by {gyro_word!r} does not match every gyroscope file; write one "
                "with file_pattern's (?P<subject>...) and (?P<session>...) groups")
    sampled = _sample(d.gyro_files, MAX_SAMPLED_FILES)
    frames = [_read(f, d.fmt, d.layout) for f in sampled]
    columns = list(frames[0].columns)
    if "time" not in d.cols:
        d.problems.append("the gyroscope's files need a time column to be put onto the "
                          "accelerometer's time stamps, and the accelerometer's has none")
    if columns == list(d.frames[0].columns) and "acc_x" in d.cols:
        cols = {"time": d.cols.get("time"),
                **{g: d.cols[a] for g, a in zip(GYRO_CHANNELS, ACC_CHANNELS, strict=True)}}
        how = "the accelerometer files' columns (the same layout)"
    else:
        named, _, _ = _by_name(columns)
        cols = {"time": named.get("time"),
                **{g: named.get(g, named.get(a)) for g, a in zip(GYRO_CHANNELS, ACC_CHANNELS,
                                                                strict=True)}}
        how = "by name"
    for key in ("subject", "session"):
        if key in d.cols and d.cols[key] not in columns:
            d.problems.append(f"the gyroscope's files have no column {d.cols[key]!r} (the "
                              f"{key}); set gyro.columns.{key}")
    if any(cols[g] is None for g in GYRO_CHANNELS):
        d.problems.append(f"no gyroscope columns found among {columns} of {sampled[0]}; set "
                          "gyro.columns (time, gyro_x, gyro_y, gyro_z)")
        return
    value = {k: (int(v) if isinstance(v, (int, np.integer)) else str(v)) for k, v in cols.items()
             if v is not None}
    d.gyro["columns"] = value
    d.guesses.append(Guess("gyro.columns", value, "medium" if how != "by name" else "high", how))
    raw = np.concatenate([np.column_stack([_numeric(fr[cols[g]]) for g in GYRO_CHANNELS])
                          for fr in frames])
    p99 = float(np.nanpercentile(np.sqrt((raw ** 2).sum(axis=1)), 99))
    unit = next(u for u, limit in GYRO_UNIT_LIMITS if p99 <= limit)
    d.units["gyro"] = unit
    d.guesses.append(Guess("units.gyro", unit, "medium",
                           f"99th percentile |gyro| {p99:.3g} in the sampled gyroscope files "
                           "(rad/s up to 20, deg/s up to 2000, else mdps)"))
    if d.rate and d.time_unit in TIME_UNITS and cols["time"] is not None:
        parts = frames if d.device not in columns else [  # (devices interleaved: each)
            part for fr in frames for _, part in fr.groupby(d.device, sort=True)]
        rates = [measured_rate_hz(_numeric(fr[cols["time"]]) * TIME_UNITS[d.time_unit])
                 for fr in parts]
        rates = [r for r in rates if r]
        if rates and abs(np.median(rates) / d.rate - 1.0) > 0.02:
            rate = _round_rate(float(np.median(rates)))
            d.gyro["sampling_rate_hz"] = int(rate) if rate == int(rate) else rate
            d.guesses.append(Guess("gyro.sampling_rate_hz", d.gyro["sampling_rate_hz"], "medium",
                                   f"measured from {cols['time']!r} of the gyroscope's files"))


def _dataset_name(folder: Path) -> str:
    """The folder's name, or its parent's for generic names like ``csv`` or ``raw``."""
    folder = folder.resolve()
    if folder.name.lower() in _GENERIC_FOLDERS and folder.parent.name:
        return folder.parent.name
    return folder.name


def _render(d: _Draft) -> str:
    """The commented YAML text of a scaffolded definition."""
    notes = {g.key: f"{g.reason} [{g.confidence}]" for g in d.guesses}
    lines = [
        f"# Dataset definition scaffolded by `tinyhar datasets init` from {d.folder}",
        f"# on {_dt.datetime.now(_dt.UTC):%Y-%m-%d %H:%M} UTC. Each guess is followed "
        "by why and how sure it is",
        "# ([high], [medium], [low]); check the [medium] and [low] ones. Every key is explained",
        "# in the README (section \"Your own data\") and in examples/my_data.yaml.",
        f"# Then run: tinyhar datasets check {d.out}",
        f"name: {_yaml_value(_dataset_name(d.folder))}",
    ]

    def add(key: str, value: str, note_key: str | None = None) -> None:
        note = notes.get(note_key or key)
        lines.append(f"{key}: {value}" + (f"  # {note}" if note else ""))

    patterns = d.patterns
    add("files", _yaml_value(patterns if len(patterns) > 1 else patterns[0]))
    if d.layout is not None:
        lay = d.layout
        add("csv", _yaml_value(lay.options()))
    rate = d.rate
    if rate is None:
        lines.append("sampling_rate_hz: null  # REQUIRED: the rate in Hz (no time column to "
                     "measure it from)")
    else:
        add("sampling_rate_hz", _yaml_value(int(rate) if rate == int(rate) else rate))
    lines.append("columns:  # canonical name: column of the file (name or 0-based position)")
    for key in ("time", *ACC_CHANNELS, *GRAVITY_COLUMNS, *GYRO_CHANNELS,
                "label", "subject", "session"):
        if key in d.cols:
            note = notes.get(f"columns.{key}")
            value = d.cols[key]
            value = int(value) if isinstance(value, (int, np.integer)) else str(value)
            lines.append(f"  {key}: {_yaml_value(value)}" + (f"  # {note}" if note else ""))
    start = len(lines)
    lines.append("units:")
    if "time" in d.cols:
        lines.append(f"  time: {d.time_unit}  # {notes.get('units.time', '')}")
    for key in ("acc", "gyro"):
        if key in d.units:
            lines.append(f"  {key}: {_yaml_value(d.units[key])}  # "
                         f"{notes.get(f'units.{key}', '')}")
    if len(lines) == start + 1:
        lines[start] = "units: {}"
    if d.pattern:
        add("file_pattern", _yaml_value(d.pattern))
    if d.constants:
        add("constants", _yaml_value(d.constants), "constants.subject")
    if d.gyro_files:
        lines.append("gyro:  # the gyroscope in files of its own: each pairs with the "
                     "accelerometer file of its subject and session, interpolated onto its times")
        add("  files", _yaml_value(d.gyro_patterns if len(d.gyro_patterns) > 1
                                   else d.gyro_patterns[0]), "gyro.files")
        for key, value in d.gyro.items():
            add(f"  {key}", _yaml_value(value), f"gyro.{key}")
    if d.classes is not None:
        add("classes", _yaml_value(d.classes))
        lines.append("# label_map: {raw label: class name}  # to rename or merge labels")
    if d.ignore:
        add("ignore_labels", _yaml_value(d.ignore))
    elif d.classes is not None:
        lines.append("# ignore_labels: []  # labels whose samples stay unlabelled")
    lines += [
        "citation: \"\"  # who recorded the data, and how to cite it",
        "licence: \"\"  # e.g. CC BY 4.0",
        "# Plausibility checks run when the data load (see the README); switch one off only",
        "# when the data really are that way, and say why here.",
        "checks: {sampling_rate: true, time_order: true, units: true, clipping: true}",
    ]
    return "\n".join(lines) + "\n"


def write_scaffold(folder: str | Path, out: str | Path, overwrite: bool = False) -> Scaffold:
    """Scaffold a definition (:func:`scaffold_definition`) and write it atomically.

    Parameters
    ----------
    folder : str or Path
        The folder of recordings.
    out : str or Path
        The YAML file to write.
    overwrite : bool
        Replace an existing file; without it an existing file is an error
        (a definition the user edited is never lost).

    Returns
    -------
    Scaffold

    Raises
    ------
    ConfigError
        If ``out`` exists and ``overwrite`` is false, or as
        :func:`scaffold_definition`.
    """
    from tinyhar.core.files import write_text_atomic

    out = Path(out)
    if out.exists() and not overwrite:
        raise ConfigError(
            f"{out} exists; pass --overwrite to replace it, or choose another --out"
        )
    scaffold = scaffold_definition(folder, out)
    write_text_atomic(out, scaffold.text)
    return scaffold


# --------------------------------------------------------------------------- check
def check_definition(path: str | Path, checks: Any = None) -> dict[str, Any]:
    """Load a definition with its checks and summarise what it holds.

    The sessions are read one at a time
    (:func:`tinyhar.datasets.bysession.count_samples`), so memory is bounded
    by the largest session; the summary and the warnings (each data-set-wide
    warning once) are those of loading the definition whole.

    Parameters
    ----------
    path : str or Path
        The YAML dataset definition.
    checks : DataChecks or mapping, optional
        Extra check settings (as :func:`~tinyhar.datasets.custom.load_custom`).

    Returns
    -------
    dict
        ``name``, ``sampling_rate_hz``, ``channels``, ``subjects`` (list),
        ``n_sessions``, ``classes``, ``minutes_per_class`` (class -> minutes,
        with ``"unlabelled"``), ``subjects_per_class`` (class -> number of
        subjects), ``warnings`` (the loader's warnings and advice: classes
        without samples, classes from fewer than
        :data:`MIN_CLASS_SUBJECTS` subjects, a single subject); with clock time
        (date-times, or tinyhar recordings written from them) ``clock_spans``
        (session -> its first and last time stamps, ISO 8601 UTC:
        :meth:`~tinyhar.datasets.bysession.SampleCounts.clock_spans`).

    Raises
    ------
    ConfigError, DataFormatError
        When the definition is invalid or its data fail a check (the message
        names the file, the key or line, and the fix).
    """
    from tinyhar.datasets.bysession import count_samples

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = count_samples(path, checks)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    rate = counts.sampling_rate_hz
    samples = counts.per_class()
    per_class = {c: float(samples[c] / rate / 60.0) for c in counts.classes}
    if samples[None]:
        per_class["unlabelled"] = float(samples[None] / rate / 60.0)
    subjects_per_class = counts.subjects_per_class()
    messages.extend(class_coverage_messages(subjects_per_class))
    if len(counts.subjects) < 2:
        messages.append("one subject only: subject-independent evaluation needs at least two")
    return {
        "name": counts.name,
        "sampling_rate_hz": rate,
        "channels": counts.channels,
        "subjects": counts.subjects,
        "n_sessions": len(counts.sessions),
        "classes": list(counts.classes),
        "minutes_per_class": per_class,
        "subjects_per_class": subjects_per_class,
        "warnings": messages,
        **({"clock_spans": counts.clock_spans()} if counts.clock else {}),
    }


__all__ = [
    "ACTIVITY_WORDS",
    "COMMON_RATES_HZ",
    "Guess",
    "Scaffold",
    "check_definition",
    "scaffold_definition",
    "write_scaffold",
]


def class_coverage_messages(subjects_per_class: dict[str, int]) -> list[str]:
    """Warnings of :func:`check_definition` about classes with no or too few subjects.

    Parameters
    ----------
    subjects_per_class : dict of str to int
        Subjects with samples of each class, in the classes' order.

    Returns
    -------
    list of str
        A message for classes without samples and one for classes from fewer
        than :data:`MIN_CLASS_SUBJECTS` subjects (none when all is well).
    """
    messages = []
    empty = [c for c, n in subjects_per_class.items() if n == 0]
    if empty:
        messages.append(f"classes {empty} have no samples; record them or remove them from "
                        "'classes'")
    few = [c for c, n in subjects_per_class.items() if 0 < n < MIN_CLASS_SUBJECTS]
    if few:
        messages.append(
            f"classes {few} come from fewer than {MIN_CLASS_SUBJECTS} subjects: a "
            "subject-independent test cannot both train and test them; record more people"
        )
    return messages
