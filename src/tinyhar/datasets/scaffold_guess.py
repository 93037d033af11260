"""Guessing the entries of a dataset definition: columns, time unit, rate, units, file names.

The helpers of :mod:`tinyhar.datasets.scaffold` (whose docstring gives the rules).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tinyhar.datasets.custom import _FORMATS, ACC_UNITS, TIME_UNITS, head_lines
from tinyhar.datasets.definition import compression, data_suffix, full_suffix, stem
from tinyhar.datasets.units import UNIT_FACTORS, counts_to_physical, to_canonical
from tinyhar.errors import ConfigError, DataFormatError

COMMON_RATES_HZ = (
    1, 2, 4, 5, 8, 10, 12.5, 16, 20, 25, 26, 30, 32, 40, 50, 52, 60, 64, 100, 104, 120,
    128, 200, 208, 250, 256, 400, 416, 500, 512, 800, 833, 1000,
)
"""Rates of common sensors and apps (Hz); a measured rate within 0.5 % is rounded to one."""
PLAUSIBLE_RATE_HZ = (5.0, 1000.0)
"""Rates a time step is assumed to show when the time column's name gives no unit."""

_SUBJECT_WORDS = ("subject", "subj", "sub", "s", "user", "u", "participant", "person", "p",
                  "pid", "sid", "id", "volunteer")
_SESSION_WORDS = ("session", "sess", "trial", "run", "rec", "recording", "exp",
                  "experiment", "take", "seq", "sequence", "r", "t")
_LABEL_NAMES = ("label", "labels", "activity", "activities", "class", "classname",
                "action", "exercise", "gesture", "annotation", "target", "activity_label")
_SUBJECT_NAMES = ("subject", "subj", "user", "userid", "user_id", "participant", "person",
                  "pid", "sid", "subject_id", "participant_id")
_SESSION_NAMES = ("session", "sess", "trial", "run", "recording", "rec", "experiment", "exp",
                  "take", "sequence", "seq", "session_id", "recording_id")
_TIME_RE = re.compile(
    r"^(?:t|ts|time|times|timestamp|timestamps|seconds|elapsed|seconds_elapsed|epoch|"
    r"time_stamp|datetime|date_time|sensor_time|loggingtime|logging_time)(?:_.*)?$"
)
_ACC_RE = re.compile(
    r"^(?:acc|accel|accelerometer|acceleration|accl|a|imu_acc|acc_raw)_?(x|y|z)(?:_.*)?$"
)
_GYRO_RE = re.compile(
    r"^(?:gyr|gyro|gyroscope|g|w|rot|rotation|rotation_rate|rotationrate|angular_velocity|"
    r"angularvelocity|omega|imu_gyro|gyro_raw)_?(x|y|z)(?:_.*)?$"
)
_BARE_AXIS_RE = re.compile(r"^(x|y|z)(?:_.*)?$")
_TIME_UNIT_HINTS = {"ms": "ms", "msec": "ms", "millis": "ms", "milliseconds": "ms",
                    "us": "us", "usec": "us", "micros": "us", "microseconds": "us",
                    "ns": "ns", "nanos": "ns", "nanoseconds": "ns",
                    "s": "s", "sec": "s", "secs": "s", "seconds": "s"}
_ACC_UNIT_HINTS = {"ms2": "m/s^2", "m_s_2": "m/s^2", "m_s2": "m/s^2", "mps2": "m/s^2",
                   "g": "g", "mg": "mg"}
_GYRO_UNIT_HINTS = {"dps": "deg/s", "deg": "deg/s", "deg_s": "deg/s", "degs": "deg/s",
                    "rad": "rad/s", "rad_s": "rad/s", "rads": "rad/s", "mdps": "mdps"}
_GENERIC_FOLDERS = {"csv", "raw", "data", "files", "recordings", "parquet", "npy", "export"}


@dataclass
class Guess:
    """One guessed entry of a definition.

    Attributes
    ----------
    key : str
        The definition key, e.g. ``"columns.acc_x"`` or ``"units.gyro"``.
    value : object
        The value written (None when nothing could be guessed).
    confidence : str
        ``"high"``, ``"medium"`` or ``"low"`` (see :mod:`tinyhar.datasets.scaffold`).
    reason : str
        Why, in a few words (also written as a comment into the YAML).
    """

    key: str
    value: Any
    confidence: str
    reason: str


# ------------------------------------------------------------------------- helpers
def _tokens(name: object) -> str:
    """A column name as lower-case words joined by ``_`` (camelCase split, units kept)."""
    text = re.sub(r"([a-z])([A-Z])", r"\1_\2", str(name))
    return "_".join(re.findall(r"[a-z]+|\d+", text.lower()))


def _yaml_value(value: Any) -> str:
    """A value as a one-line YAML flow scalar or list."""
    dumped = yaml.safe_dump([value], default_flow_style=True, width=10**6, sort_keys=False)
    return dumped.strip()[1:-1]


def _numeric(series: pd.Series) -> np.ndarray | None:
    """The values as float64 when (almost) all are numbers, else None."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return None
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
    if values.size == 0 or np.mean(np.isfinite(values)) < 0.99:
        return None
    return values


def _list_files(folder: Path) -> dict[str, list[Path]]:
    by_format: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            fmt = _FORMATS.get(data_suffix(path))
            if fmt == "csv" or (fmt is not None and compression(path) is None):
                by_format.setdefault(fmt, []).append(path)
    return by_format


def _sample(files: list[Path], n: int) -> list[Path]:
    if len(files) <= n:
        return list(files)
    picks = np.unique(np.linspace(0, len(files) - 1, n).round().astype(int))
    return [files[i] for i in picks]


@dataclass
class _CsvLayout:
    delimiter: str = ","
    header: bool = True
    skip_rows: int = 0


def _sniff_csv(path: Path) -> _CsvLayout:
    """Delimiter, header and lines before the header, from the first lines of a file."""
    lines = [line for line in head_lines(path, 60) if line.strip()]
    if not lines:
        raise DataFormatError(path, "file is empty; expected rows of sensor values")
    sample = "".join(lines[-20:])
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
    except csv.Error:
        delimiter = ","
    counts = [len(next(csv.reader([line], delimiter=delimiter))) for line in lines]
    width = Counter(counts[len(counts) // 2:]).most_common(1)[0][0]
    skip = next(i for i, c in enumerate(counts) if c == width)
    first = next(csv.reader([lines[skip]], delimiter=delimiter))
    header = any(_numeric(pd.Series([cell.strip()])) is None for cell in first if cell.strip())
    return _CsvLayout(delimiter=delimiter, header=header, skip_rows=skip)


def _read(path: Path, fmt: str, layout: _CsvLayout | None) -> pd.DataFrame:
    try:
        if fmt == "csv":
            assert layout is not None
            return pd.read_csv(
                path, sep=layout.delimiter, header=0 if layout.header else None,
                skiprows=layout.skip_rows, index_col=False,
                engine="python" if len(layout.delimiter) > 1 else "c",
            )
        if fmt == "parquet":
            return pd.read_parquet(path)
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, UnicodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise DataFormatError(path, f"cannot read as {fmt}: {exc}") from exc
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        raise DataFormatError(
            path, "NPY files must hold one 2-D array (rows = samples, columns = channels)"
        )
    return pd.DataFrame(array)


# ------------------------------------------------------------------------- columns
def _by_name(columns: list[Any]) -> tuple[dict[str, Any], dict[str, str], list[Guess]]:
    """Canonical name -> column, unit hints, guesses; from the column names alone."""
    found: dict[str, Any] = {}
    hints: dict[str, str] = {}
    guesses: list[Guess] = []
    bare: dict[str, Any] = {}
    for col in columns:
        if isinstance(col, (int, np.integer)):
            continue
        t = _tokens(col)
        words = t.split("_")
        for kind, regex, hint_table in (("acc", _ACC_RE, _ACC_UNIT_HINTS),
                                        ("gyro", _GYRO_RE, _GYRO_UNIT_HINTS)):
            match = regex.match(t)
            if match and f"{kind}_{match.group(1)}" not in found:
                found[f"{kind}_{match.group(1)}"] = col
                tail = t[match.end(1):].strip("_")
                for hint, unit in hint_table.items():
                    if tail == hint or tail.startswith(hint + "_") or tail.endswith("_" + hint):
                        hints.setdefault(kind, unit)
                break
        else:
            if "time" not in found and _TIME_RE.match(t):
                found["time"] = col
                for word in reversed(words[1:]):
                    if word in _TIME_UNIT_HINTS:
                        hints["time"] = _TIME_UNIT_HINTS[word]
                        break
            elif _BARE_AXIS_RE.match(t):
                bare.setdefault(t[0], col)
            else:
                for key, names in (("label", _LABEL_NAMES), ("subject", _SUBJECT_NAMES),
                                   ("session", _SESSION_NAMES)):
                    if t in names and key not in found:
                        found[key] = col
    if not any(k.startswith("acc") for k in found) and len(bare) == 3:
        for axis, col in bare.items():
            found[f"acc_{axis}"] = col
        guesses.append(Guess("columns.acc_*", list(bare.values()), "medium",
                             "columns named x, y, z: taken as the accelerometer"))
    for kind in ("acc", "gyro"):
        axes = [k for k in found if k.startswith(kind + "_")]
        if 0 < len(axes) < 3:  # an incomplete triple is not a sensor
            for k in axes:
                del found[k]
    return found, hints, guesses


def _time_unit(step: float, hint: str | None) -> tuple[str, str, str]:
    """(unit, confidence, reason) from the typical raw time step and a name hint."""
    if hint is not None:
        rate = 1.0 / (step * TIME_UNITS[hint])
        sure = "high" if PLAUSIBLE_RATE_HZ[0] <= rate <= PLAUSIBLE_RATE_HZ[1] else "low"
        return hint, sure, f"unit in the column name; one sample every {step:g} {hint}"
    for unit, factor in TIME_UNITS.items():
        rate = 1.0 / (step * factor)
        if PLAUSIBLE_RATE_HZ[0] <= rate <= PLAUSIBLE_RATE_HZ[1]:
            return unit, "high", (
                f"one sample every {step:g} {unit} ({rate:.4g} Hz); no other unit gives "
                f"{PLAUSIBLE_RATE_HZ[0]:g}-{PLAUSIBLE_RATE_HZ[1]:g} Hz"
            )
    best = min(TIME_UNITS, key=lambda u: abs(np.log10(step * TIME_UNITS[u] * 50.0)))
    return best, "low", (
        f"time step {step:g} gives no rate of {PLAUSIBLE_RATE_HZ[0]:g}-"
        f"{PLAUSIBLE_RATE_HZ[1]:g} Hz in any unit; closest to 50 Hz"
    )


def _round_rate(rate: float) -> float:
    near = min(COMMON_RATES_HZ, key=lambda r: abs(r - rate))
    if abs(near / rate - 1.0) <= 0.005:
        return float(near)
    return float(f"{rate:.4g}")


def _distinct_units(units: list[str], preferred: tuple[str, ...]) -> list[str]:
    """One name per conversion factor (``m/s^2`` and ``m/s2`` are one unit), preferred first."""
    target = "g" if "g" in units else "rad/s"
    out: dict[float, str] = {}
    for unit in [*preferred, *units]:
        if unit in units:
            out.setdefault(float(UNIT_FACTORS[(unit, target)]), unit)
    return list(out.values())


def _acc_candidates(values: np.ndarray) -> list[Any]:
    """Units to try for the accelerometer: every known unit, raw 16-bit counts if integer."""
    candidates: list[Any] = _distinct_units(ACC_UNITS, ("g", "m/s^2", "mg"))
    if values.size and np.array_equal(values, np.round(values)) and np.abs(values).max() > 64:
        candidates += [{"full_scale": fs, "bits": 16, "unit": "g"} for fs in (2, 4, 8, 16)]
    return candidates


def _to_g(values: np.ndarray, unit: Any) -> np.ndarray:
    if isinstance(unit, dict):
        return counts_to_physical(values.astype(np.int64), unit["full_scale"], unit["bits"])
    return to_canonical(values, unit, "g")


def _passes(func, *args) -> bool:
    try:
        func(*args)
    except (DataFormatError, ConfigError):
        return False
    return True


def _choose_unit(
    passes: dict[str, int], n: int, hint: str | None, order: list[str], what: str,
    tie: tuple[str, str] = ("low", "too little motion to tell"),
) -> tuple[str, str, str]:
    """(unit, confidence, reason) from how many files each candidate unit passed."""
    best = max(passes.values()) if passes else 0
    winners = [u for u in order if passes.get(u, 0) == best]
    if best == 0:
        unit = hint or order[0]
        return unit, "low", (
            f"no unit passes the {what} check in any file (tinyhar datasets check shows "
            "why); " + ("unit from the column name" if hint else f"default {unit}")
        )
    share = f"passes the {what} check in {best} of {n} file(s)"
    if len(winners) == 1:
        return winners[0], "high" if best == n else "medium", share
    if hint in winners:
        return hint, "medium", f"{share}, as do {winners}; unit from the column name"
    return winners[0], tie[0], f"{share}, as do {winners[1:]} ({tie[1]})"


# --------------------------------------------------------------------- file names
_SPLIT_RE = re.compile(r"([_\-. ]+)")


def _classify_token(values: list[str]) -> tuple[str, str]:
    """(kind, prefix) of one name part over all files.

    kind: ``const``, ``subject``, ``session`` (a known word followed by a number),
    ``number``, ``word`` or ``mixed``.
    """
    parts = [re.fullmatch(r"([A-Za-z]*)(\d+)", v) for v in values]
    if all(parts) and len({p.group(1) for p in parts}) == 1:
        prefix = parts[0].group(1)
        if prefix.lower() in _SUBJECT_WORDS:  # also when constant: one subject so far
            return "subject", prefix
    if len(set(values)) == 1:
        return "const", ""
    if all(parts):
        prefixes = {p.group(1) for p in parts}
        if len(prefixes) == 1:
            prefix = prefixes.pop()
            if prefix.lower() in _SESSION_WORDS or prefix == "":
                return ("session" if prefix else "number"), prefix
    if all(re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", v) for v in values):
        return "word", ""
    return "mixed", ""


def _name_pattern(
    files: list[Path], wanted: set[str]
) -> tuple[str | None, dict[str, str], str]:
    """A ``file_pattern`` regex giving the ``wanted`` fields, or None; with notes.

    Returns
    -------
    pattern : str or None
    sources : dict
        field -> ``"high"``/``"medium"`` confidence.
    note : str
        How the parts were read (for the YAML comment), or why there is no pattern.
    """
    stems = [stem(f) for f in files]
    suffixes = {full_suffix(f) for f in files}
    split = [_SPLIT_RE.split(s) for s in stems]  # tokens at even, separators at odd indices
    tokens = [s[0::2] for s in split]
    seps = [s[1::2] for s in split]
    n_min = min(len(t) for t in tokens)
    same_length = all(len(t) == n_min for t in tokens)
    kinds: list[tuple[str, str]] = []
    left: list[tuple[str, str]] = []
    right: list[tuple[str, str]] = []
    for i in range(n_min):
        kind = _classify_token([t[i] for t in tokens])
        if (kind[0] in ("word", "mixed") and not same_length) or kind[0] == "mixed":
            break
        left.append(kind)
    if not same_length or len(left) < n_min:
        for j in range(1, n_min - len(left) + 1):
            kind = _classify_token([t[-j] for t in tokens])
            if kind[0] in ("word", "mixed"):
                break
            right.insert(0, kind)
    kinds = left + right
    middle = not same_length or len(kinds) < n_min
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    for kind_name, field_name in (("subject", "subject"), ("session", "session")):
        for i, (k, _) in enumerate(kinds):
            if k == kind_name and field_name not in taken and field_name in wanted:
                assigned[i] = field_name
                taken.add(field_name)
    words = [i for i, (k, _) in enumerate(kinds) if k == "word"]
    label_first = None
    if ("label" in wanted and not middle and len(words) == 2 and "subject" in wanted
            and "subject" not in taken):
        # alice_walking.csv: the part that reads like activities is the label
        like = [_activity_share([t[_index(i, len(left), len(kinds), len(t))] for t in tokens])
                for i in words]
        if max(like) >= 0.5 and like[0] != like[1]:
            label_first = words[like.index(max(like))]
            assigned[words[1 - like.index(max(like))]] = "subject"
            taken.add("subject")
    # a plain number is the subject when nothing else is; otherwise it is a take number
    # (alice_walking_2.csv), not a session: each file stays a session of its own
    for i, (k, _) in enumerate(kinds):
        if k == "number" and i not in assigned and "subject" in wanted and "subject" not in taken:
            assigned[i] = "subject"
            taken.add("subject")
    if "label" in wanted and not middle:
        words = [i for i, (k, _) in enumerate(kinds) if k == "word" and i not in assigned]
        if label_first is not None:
            words = [label_first]
        if len(words) == 1:
            assigned[words[0]] = "label"
            taken.add("label")
    if "label" in wanted and middle:
        taken.add("label")
    constant_label = False
    if "label" in wanted and "label" not in taken:
        # one word in every name (a folder of one class: alice_walking.csv, bob_walking.csv)
        first = [tokens[0][_index(i, len(left), len(kinds), len(tokens[0]))]
                 for i in range(len(kinds))]
        words = [i for i, (k, _) in enumerate(kinds) if k == "const" and i not in assigned
                 and re.fullmatch(r"[A-Za-z]{3,}", first[i])
                 and first[i].lower() not in _GENERIC_FOLDERS]
        if len(words) == 1:
            kinds[words[0]] = ("word", "")
            assigned[words[0]] = "label"
            taken.add("label")
            constant_label = True
    if "label" in taken and "session" in taken:
        # a file of one label is a segment: a session number in its name numbers takes of
        # that label, so files of different labels must not be joined into one session
        assigned = {i: f for i, f in assigned.items() if f != "session"}
        taken.discard("session")
    if not taken:
        return None, {}, "the file names show no subject, session or label"
    # build the regex: left parts, (middle), right parts; separators as in the first name
    out = []
    first_seps = seps[0]
    for i, (k, prefix) in enumerate(kinds[: len(left)]):
        out.append(_part(k, prefix, assigned.get(i), tokens[0][i]))
        if i < len(left) - 1 or middle or right:
            out.append(re.escape(first_seps[i]) if i < len(first_seps) else "")
    if middle:
        out.append("(?P<label>.+?)" if "label" in taken else ".+?")
        if right:
            out.append(re.escape(first_seps[-len(right)]))
    for j, (k, prefix) in enumerate(kinds[len(left):]):
        index = len(left) + j
        token = tokens[0][_index(index, len(left), len(kinds), len(tokens[0]))]
        out.append(_part(k, prefix, assigned.get(index), token))
        if j < len(right) - 1:
            out.append(re.escape(first_seps[len(first_seps) - len(right) + 1 + j]))
    ext = suffixes.pop() if len(suffixes) == 1 else None
    pattern = "".join(out) + (re.escape(ext) if ext else r"\.\w+")
    try:
        compiled = re.compile(pattern)
    except re.error:
        return None, {}, "no pattern fits every file name"
    for f in files:
        if compiled.fullmatch(f.name) is None:
            return None, {}, f"no pattern fits every file name (e.g. {f.name!r})"
    sure = {name: "high" for name in taken}
    for i, name in assigned.items():
        if kinds[i][0] == "number" or (kinds[i][0] == "word" and name == "subject"):
            sure[name] = "medium"
    if "label" in taken:
        sure["label"] = "low" if constant_label else "medium" if middle else "high"
    example = compiled.fullmatch(files[0].name).groupdict()
    note = f"e.g. {files[0].name} -> " + ", ".join(f"{k} {v!r}" for k, v in example.items())
    return pattern, sure, note


ACTIVITY_WORDS = (
    "walk", "run", "jog", "sit", "stand", "lay", "lie", "lying", "stair", "upstairs",
    "downstairs", "bike", "cycl", "rest", "idle", "jump", "squat", "push", "pull", "lift",
    "fall", "sleep", "eat", "drink", "write", "type", "clap", "wave", "swim", "row", "step",
    "still", "move", "dance", "climb", "kick", "punch", "throw", "ski", "skate", "drive",
)
"""Word stems of common activities: they tell the label from a subject's name in file names."""


def _activity_share(values: list[str]) -> float:
    """Share of the distinct values that contain an activity word stem."""
    distinct = {v.lower() for v in values}
    return sum(any(w in v for w in ACTIVITY_WORDS) for v in distinct) / max(len(distinct), 1)


def _index(i: int, n_left: int, n_parts: int, n_tokens: int) -> int:
    """Token position of classified part ``i`` (left-aligned parts, then right-aligned)."""
    return i if i < n_left else n_tokens - (n_parts - n_left) + (i - n_left)


def _part(kind: str, prefix: str, field_name: str | None, token: str) -> str:
    if kind == "const":
        numbered = re.fullmatch(r"([A-Za-z]*)(\d+)", token)
        # take1 in every file so far: take2 will come
        return re.escape(numbered.group(1)) + r"\d+" if numbered else re.escape(token)
    digits = r"\d+" if kind in ("subject", "session", "number") else r"[A-Za-z][A-Za-z0-9]*"
    body = f"(?P<{field_name}>{digits})" if field_name else digits
    return re.escape(prefix) + body


