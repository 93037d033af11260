r"""Scaffold a dataset definition from a folder of recordings, and check one.

``tinyhar datasets init FOLDER --out DEF.yaml`` (:func:`write_scaffold`) reads
a folder of CSV, Parquet or NPY files and writes a commented YAML dataset
definition (the schema of :mod:`tinyhar.datasets.custom`) with its guesses:

============== =====================================================================
what           how it is guessed
============== =====================================================================
columns        by name (``timestamp_ms``, ``acc_x``, ``ax``, ``Acceleration x (m/s^2)``,
               ``gyroZ``, ``label``, ``subject``, ...), else by content: the first
               increasing numeric column is time, the first triple of numeric columns
               that shows gravity is the accelerometer, the next triple the gyroscope,
               a text column with few values the label
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
               other is the subject); a session is not taken from names that carry
               the label (those numbers count takes); the pattern must match every
               file, or it is dropped
============== =====================================================================

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
)
from tinyhar.datasets.definition import COMPRESSIONS, full_suffix
from tinyhar.datasets.scaffold_guess import (
    _GENERIC_FOLDERS,
    ACTIVITY_WORDS,
    COMMON_RATES_HZ,
    Guess,
    _acc_candidates,
    _by_name,
    _choose_unit,
    _CsvLayout,
    _distinct_units,
    _list_files,
    _name_pattern,
    _numeric,
    _passes,
    _read,
    _round_rate,
    _sample,
    _sniff_csv,
    _time_unit,
    _to_g,
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
        A folder (searched recursively) of CSV (``.csv .txt .tsv``, also compressed:
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
    _guess_units(d)
    _guess_names(d)
    order = ["files", "csv", "sampling_rate_hz", "columns.", "units.time", "units.acc",
             "units.gyro", "file_pattern", "constants.", "classes"]
    d.guesses.sort(key=lambda g: next(
        (i for i, o in enumerate(order) if g.key == o or (o.endswith(".") and
                                                         g.key.startswith(o))), len(order)))
    text = _render(d)
    try:
        DatasetDefinition.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        for where, message, _value in validation_problems(exc, DatasetDefinition):
            problem = f"{where}: {message}"
            if not any(problem.split(":")[0] in p for p in d.problems):
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
    time_unit: str = "s"
    units: dict[str, Any] = field(default_factory=dict)
    pattern: str | None = None
    constants: dict[str, str] = field(default_factory=dict)
    classes: list[str] | None = None
    guesses: list[Guess] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


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
    d.files = by_format[d.fmt]
    skipped = sum(len(v) for k, v in by_format.items() if k != d.fmt)
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
    d.guesses.append(Guess("files", d.patterns if len(d.patterns) > 1 else d.patterns[0], "high",
                         files_note))


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
            "csv", {"delimiter": d.layout.delimiter, "header": d.layout.header,
                    "skip_rows": d.layout.skip_rows}, "high" if d.layout.header else "medium",
            "from the first lines"
            + ("" if d.layout.header else "; no header: columns by position"),
        ))


def _guess_columns(d: _Draft) -> None:
    """Columns by name, else by content (time, sensor triples, label)."""
    columns = list(d.frames[0].columns)
    d.cols, d.hints, more = _by_name(columns)
    d.guesses += more
    d.how = {k: "by name" for k in d.cols}
    d.numeric = {c: _numeric(d.frames[0][c]) for c in columns}
    # --- by content: time, sensor triples, label
    if "time" not in d.cols:
        for c in columns:
            v = d.numeric[c]
            if v is not None and len(v) > 2 and np.mean(np.diff(v) > 0) > 0.99:
                d.cols["time"] = c
                d.how["time"] = "by content (increasing)"
                break
    if "acc_x" not in d.cols or "gyro_x" not in d.cols:
        used = set(d.cols.values())
        free = [c for c in columns if c not in used and d.numeric[c] is not None
                and np.ptp(d.numeric[c]) > 0]
        triples = [free[i:i + 3] for i in range(0, len(free) - 2, 3)]
        rate_guess = 50.0
        for triple in triples:
            acc = np.column_stack([d.numeric[c] for c in triple])
            if "acc_x" not in d.cols and any(
                _passes(check_acc_units, _to_g(acc, u), rate_guess, "x")
                for u in _acc_candidates(acc)
            ):
                d.cols.update(dict(zip(("acc_x", "acc_y", "acc_z"), triple, strict=True)))
                d.how.update(dict.fromkeys(("acc_x", "acc_y", "acc_z"),
                                         "by content (shows gravity)"))
            elif "acc_x" in d.cols and "gyro_x" not in d.cols:
                d.cols.update(dict(zip(("gyro_x", "gyro_y", "gyro_z"), triple, strict=True)))
                d.how.update(dict.fromkeys(("gyro_x", "gyro_y", "gyro_z"),
                                         "by content (the triple after the accelerometer)"))
    if "label" not in d.cols:
        for c in columns:
            if c in d.cols.values() or d.numeric[c] is not None:
                continue
            if 1 <= d.frames[0][c].nunique() <= 50:
                d.cols["label"] = c
                d.how["label"] = "by content (text with few values)"
                break
    if "acc_x" not in d.cols:
        d.problems.append(
            f"no accelerometer columns found among {columns}; set columns.acc_x, acc_y, acc_z"
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
            rates = [measured_rate_hz(_numeric(fr[time_col]) * factor) for fr in d.frames]
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
                f"sampled file(s)" + (
                    "; files differ by more than the loader's 2 % tolerance: resample them "
                    "or split the folder" if spread > 0.02 else ""),
            ))
    if d.rate is None:
        d.problems.append(
            "no time column to measure the sampling rate from: set sampling_rate_hz to the "
            "rate the recordings were made at"
        )


def _guess_units(d: _Draft) -> None:
    """Sensor units: the unit that passes the checks of datasets.checks."""
    # --- d.units
    d.units: dict[str, Any] = {}
    if "acc_x" in d.cols:
        check_rate = d.rate or 50.0
        acc_all = [np.column_stack([_numeric(fr[d.cols[a]]) for a in ("acc_x", "acc_y", "acc_z")])
                   for fr in d.frames]
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
            p99 = float(np.percentile(np.sqrt((raw ** 2).sum(axis=1)), 99))
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
        d.classes = sorted({compiled.fullmatch(f.name).group("label") for f in d.files})
        d.guesses.append(Guess("classes", d.classes, pattern_sure["label"],
                             f"the labels in the {len(d.files)} file names"))
    elif "label" in d.cols and len(d.sampled) == len(d.files):
        found = pd.concat([fr[d.cols["label"]] for fr in d.frames]).dropna().astype(str)
        d.classes = sorted(found.str.strip().unique().tolist())
        d.guesses.append(Guess("classes", d.classes, "high", "the labels in the label column"))
    sensor_keys = ["time", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    for key in sensor_keys:
        if key in d.cols:
            d.guesses.append(Guess(f"columns.{key}", d.cols[key],
                                 "high" if d.how[key] == "by name" else "medium", d.how[key]))


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
        add("csv", _yaml_value({"delimiter": lay.delimiter, "header": lay.header,
                                "skip_rows": lay.skip_rows}))
    rate = d.rate
    if rate is None:
        lines.append("sampling_rate_hz: null  # REQUIRED: the rate in Hz (no time column to "
                     "measure it from)")
    else:
        add("sampling_rate_hz", _yaml_value(int(rate) if rate == int(rate) else rate))
    lines.append("columns:  # canonical name: column of the file (name or 0-based position)")
    for key in ("time", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z",
                "label", "subject", "session"):
        if key in d.cols:
            note = notes.get(f"columns.{key}")
            value = d.cols[key]
            value = int(value) if isinstance(value, (int, np.integer)) else str(value)
            lines.append(f"  {key}: {_yaml_value(value)}" + (f"  # {note}" if note else ""))
    lines.append("units:")
    if "time" in d.cols:
        lines.append(f"  time: {d.time_unit}  # {notes.get('units.time', '')}")
    for key in ("acc", "gyro"):
        if key in d.units:
            lines.append(f"  {key}: {_yaml_value(d.units[key])}  # "
                         f"{notes.get(f'units.{key}', '')}")
    if d.pattern:
        add("file_pattern", _yaml_value(d.pattern))
    if d.constants:
        add("constants", _yaml_value(d.constants), "constants.subject")
    if d.classes is not None:
        add("classes", _yaml_value(d.classes))
        lines.append("# label_map: {raw label: class name}  # to rename or merge labels")
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
        :data:`MIN_CLASS_SUBJECTS` subjects, a single subject).

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
