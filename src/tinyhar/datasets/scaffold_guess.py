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

from tinyhar.datasets.custom import (
    _FORMATS,
    ACC_UNITS,
    TIME_UNITS,
    head_lines,
    pattern_match,
)
from tinyhar.datasets.definition import (
    WHITESPACE,
    compression,
    data_suffix,
    full_suffix,
    stem,
)
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
                "action", "exercise", "gesture", "annotation", "target", "activity_label",
                "activity_id", "activityid", "activity_code", "gt", "ground_truth")
_SUBJECT_NAMES = ("subject", "subj", "user", "userid", "user_id", "participant", "person",
                  "pid", "sid", "subject_id", "participant_id")
_SESSION_NAMES = ("session", "sess", "trial", "run", "recording", "rec", "experiment", "exp",
                  "take", "sequence", "seq", "session_id", "recording_id")
_TIME_RE = re.compile(
    r"^(?:t|ts|time|times|timestamp|timestamps|seconds|elapsed|seconds_elapsed|epoch|"
    r"time_stamp|datetime|date_time|sensor_time|loggingtime|logging_time|"
    r"(?:arrival|creation|event|sample|sampling|record|recording|capture|system|device)_"
    r"(?:time|timestamp))(?:_.*)?$"
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


_SENSOR_WORDS = {
    "acc": "accelerometer", "accel": "accelerometer", "accelerometer": "accelerometer",
    "acceleration": "accelerometer", "gyr": "gyroscope", "gyro": "gyroscope",
    "gyroscope": "gyroscope", "mag": "magnetometer", "magnetometer": "magnetometer",
    "magnetic": "magnetometer", "gravity": "gravity", "orientation": "orientation",
    "linear": "linear acceleration", "pressure": "barometer", "barometer": "barometer",
}
"""Words that name one sensor in a file or folder name (``data_1600_accel_phone.txt``)."""


def _sensor_per_file(files: list[Path], folder: Path) -> dict[str, str]:
    """Sensor word -> an example file, when the files name two or more different sensors
    (one file per sensor: acc and gyro recorded apart); else empty."""
    found: dict[str, str] = {}
    for f in files:
        try:
            rel = f.relative_to(folder)
        except ValueError:
            rel = f
        words = {w.lower() for w in _SPLIT_RE.split(rel.with_name(stem(rel)).as_posix())}
        for word in words & set(_SENSOR_WORDS):
            found.setdefault(_SENSOR_WORDS[word], rel.as_posix())
    return found if len(found) > 1 else {}


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
    comment: str | None = None
    drop_missing: bool = False
    reasons: tuple[str, ...] = ()
    decimal: str = "."
    encoding: str = "utf-8"

    def options(self) -> dict[str, Any]:
        """The ``csv`` keys of a definition (``comment``, ``drop_missing``, a ``decimal``
        comma and an ``encoding`` other than UTF-8 when set)."""
        keys: dict[str, Any] = {"delimiter": self.delimiter, "header": self.header,
                                "skip_rows": self.skip_rows}
        return keys | ({"comment": self.comment} if self.comment else {}) | (
            {"drop_missing": True} if self.drop_missing else {}) | (
            {"decimal": self.decimal} if self.decimal != "." else {}) | (
            {"encoding": self.encoding} if self.encoding != "utf-8" else {})


_LINE_ENDS = ";"
"""Characters that end every line of some formats (WISDM's ``...,1.0550842;``): read as
``csv.comment``, so that the last value is a number."""


def _cells(line: str, delimiter: str) -> list[str]:
    if delimiter == WHITESPACE:
        return line.split()
    return next(csv.reader([line], delimiter=delimiter))


_ENCODINGS = {"utf-8": "", "cp1252": "Windows, Western European",
              "latin-1": "ISO 8859-1: every byte is a letter"}
"""Text encodings ``datasets init`` tries, in order, with what each is."""

_COMMA_NUMBER = re.compile(r"[+-]?\d+,\d+(?:[eE][+-]?\d+)?")
_POINT_NUMBER = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")


def _decimal_comma_delimiter(lines: list[str]) -> str | None:
    """``;`` or a tab when ``lines`` are numbers written with a decimal comma
    (``0,02;0,93;0,17``, a spreadsheet's export in many European locales), else None.

    Every line holds the candidate the same number of times, some cell is a number with a
    decimal comma and none one with a decimal point.
    """
    for candidate in (";", "\t"):
        counts = {line.count(candidate) for line in lines}
        if len(counts) != 1 or 0 in counts:
            continue
        cells = [c.strip() for line in lines for c in line.split(candidate)]
        if (any(_COMMA_NUMBER.fullmatch(c) for c in cells)
                and not any(_POINT_NUMBER.fullmatch(c) for c in cells)):
            return candidate
    return None


def _sniff_csv(path: Path) -> _CsvLayout:
    """Delimiter, header, lines before the header and a line end, from the first lines.

    The first line of a file's width is a header when one of its cells is text
    in a column whose other lines hold numbers (a column of text codes, such
    as activity letters, does not make a header); every line ending in ``;``
    (not the delimiter) makes ``;`` a comment character.
    """
    reasons = []
    for encoding in _ENCODINGS:  # the first that decodes the first lines
        lines = [line.rstrip("\r\n") for line in head_lines(path, 60, encoding)
                 if line.strip()]
        if not any("\ufffd" in line for line in lines):
            break
    if encoding != "utf-8":
        reasons.append(f"not UTF-8: read as {encoding} ({_ENCODINGS[encoding]})")
    if not lines:
        raise DataFormatError(path, "file is empty; expected rows of sensor values")
    comment = None
    tail = lines[len(lines) // 2:]
    for end in _LINE_ENDS:
        if all(line.rstrip().endswith(end) for line in tail):
            comment = end
            lines = [line.split(end, 1)[0] for line in lines]
            reasons.append(f"every line ends in {end!r}: comment {end!r} drops it")
    decimal = "."
    comma_delimiter = _decimal_comma_delimiter(lines[-20:])
    if comma_delimiter is not None:
        delimiter, decimal = comma_delimiter, ","
        reasons.append(f"numbers with a decimal comma, separated by {comma_delimiter!r}")
    else:
        try:
            sample = "\n".join(lines[-20:]) + "\n"
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
        except csv.Error:
            delimiter = ","
    if decimal == "." and delimiter in " \t" and any(
            re.search(r"\s\s|^\s", line) for line in lines[-20:]):
        delimiter = WHITESPACE  # aligned columns: runs of spaces (or tabs and spaces)
        reasons.append("columns separated by runs of spaces")
    elif all(line.endswith(delimiter) for line in tail) and not (
        # a first line as wide that does not end so names a last column empty here
        # ("time,x,y,z,annotation" above "...,-0.98,"): a column, kept
        not lines[0].endswith(delimiter)
        and len(_cells(lines[0], delimiter)) == len(_cells(tail[-1], delimiter))
    ):
        # "1,2,3,": pandas (index_col=False) reads the empty last field as no column
        lines = [line[:-1] if line.endswith(delimiter) else line for line in lines]
        reasons.append(f"every line ends in the delimiter {delimiter!r} (read as no column)")
    counts = [len(_cells(line, delimiter)) for line in lines]
    width = Counter(counts[len(counts) // 2:]).most_common(1)[0][0]
    skip = next(i for i, c in enumerate(counts) if c == width)
    rows = [[cell.strip() for cell in _cells(line, delimiter)] for line in lines[skip:]]
    rest = [r for r in rows[1:] if len(r) == width]

    def number(cell: str) -> bool:
        return _numeric(pd.Series([cell.replace(",", ".") if decimal == "," else cell])
                        ) is not None

    if not rest:  # one line: a header when any cell is text
        header = any(not number(c) for c in rows[0] if c)
    else:
        header = any(
            cell and not number(cell)
            and sum(number(r[j]) for r in rest if r[j]) > len(rest) / 2
            for j, cell in enumerate(rows[0])
        ) or all(not number(c) for c in rows[0] if c) and any(
            number(c) for r in rest for c in r if c)
    return _CsvLayout(delimiter=delimiter, header=header, skip_rows=skip, comment=comment,
                      reasons=tuple(reasons), decimal=decimal, encoding=encoding)


def _read(path: Path, fmt: str, layout: _CsvLayout | None) -> pd.DataFrame:
    try:
        if fmt == "csv":
            assert layout is not None
            return pd.read_csv(
                path, sep=layout.delimiter, header=0 if layout.header else None,
                skiprows=layout.skip_rows, index_col=False, comment=layout.comment,
                decimal=layout.decimal, encoding=layout.encoding, engine="c",
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
_NOT_MOTION_RE = re.compile(
    r"(?:^|_)(?:attitude|orientation|quat|quaternion|gravity|grav|mag|magnet|magnetometer|"
    r"magnetic|temp|temperature|heart|hr|bpm|ecg|ppg|eda|pressure|baro|barometer|altitude|"
    r"roll|pitch|yaw|euler|heading|battery|latitude|longitude|speed|light|index|unnamed)(?:_|$)"
)
"""Column names of quantities that are not acceleration or angular rate: never taken as
sensor axes by content (MotionSense's ``gravity.x`` shows 1 g, ``attitude.*`` is in rad)."""
_DEVICE_RE = re.compile(r"^(?:device|device_id|device_name|model|phone|watch|sensor|source|"
                        r"serial|placement|position|location|body_part)$")
"""Text columns that name the recording device or its place: not labels."""
_INDEX_RE = re.compile(r"^(?:|unnamed(?:_\d+)?|index|idx|row|row_id|rownum|n)$")
_GRAVITY_FREE_RE = re.compile(
    r"^(?:user|linear|lin|body|dynamic)_?acc(?:el|eleration)?_?(x|y|z)(?:_.*)?$")
"""Names of acceleration with gravity removed (iOS ``userAcceleration``, Android
``linear_acceleration``, UCI HAR ``body_acc``)."""
_GRAVITY_RE = re.compile(r"^grav(?:ity)?_?(x|y|z)(?:_.*)?$")
GRAVITY_NEAR_G = (0.85, 1.15)
"""Gravity level (g, on still spans) of a triple taken as an accelerometer by content."""
MIN_LABEL_RUN = 25
"""Samples per run of one value (on average) for whole numbers to read as label codes."""
STEADIER = 0.8
"""An overlapping triple replaces the first that shows gravity when its axes at rest vary
less than this share (:func:`_unsteadiness`)."""
_COPY_CORRELATION = 0.9
"""Two accelerometer triples whose axes correlate above this are one sensor at two ranges."""


def _is_row_index(name: Any, values: np.ndarray | None) -> bool:
    """A column named like a row index (``Unnamed: 0``, ``Index``) that counts 0, 1, 2, ..."""
    if isinstance(name, (int, np.integer)) or values is None or not _INDEX_RE.match(
            _tokens(name)):
        return False
    return bool(values[0] in (0, 1)
                and np.array_equal(values, values[0] + np.arange(len(values))))


def _axes(columns: list[Any], regex: re.Pattern) -> list[Any]:
    """The x, y, z columns whose names ``regex`` matches (axis in group 1), or []."""
    found = {}
    for c in columns:
        match = None if isinstance(c, (int, np.integer)) else regex.match(_tokens(c))
        if match:
            found.setdefault(match.group(1), c)
    return [found[a] for a in "xyz"] if len(found) == 3 else []


def _gravity_free(columns: list[Any]) -> tuple[list[Any], list[Any]]:
    """Columns named as acceleration with gravity removed (x, y, z), and those named as
    gravity (x, y, z); each [] when not all three are there."""
    return _axes(columns, _GRAVITY_FREE_RE), _axes(columns, _GRAVITY_RE)


def _gravity_free_problem(free: list[Any]) -> str:
    """What to do with acceleration whose gravity was removed, without gravity columns."""
    return (f"columns {free} hold acceleration with gravity removed (user or linear "
            "acceleration), and no columns hold the gravity to add back "
            "(columns.gravity_x, gravity_y, gravity_z), so they were not taken as the "
            "accelerometer: an accelerometer measures gravity too (1 g at rest), and so "
            "does a board running the model. Use the accelerometer's own output (e.g. a phone "
            "app's 'acceleration with g' or 'total acceleration'), or, to train on them as "
            "they are, set columns.acc_x, acc_y, acc_z to them with checks: {units: false}")


def _label_codes(columns: list[pd.Series]) -> bool:
    """Whether a numeric column reads as activity codes: whole numbers >= 0, 2-50 distinct
    values, several in one file, each held for :data:`MIN_LABEL_RUN` samples on average."""
    values = [_numeric(c) for c in columns]
    if any(v is None or not np.isfinite(v).all() for v in values):
        return False
    joined = np.concatenate(values)
    if joined.min() < 0 or not np.array_equal(joined, np.round(joined)):
        return False
    if not 2 <= len(np.unique(joined)) <= 50 or max(len(np.unique(v)) for v in values) < 2:
        return False
    changes = sum(int(np.count_nonzero(np.diff(v))) for v in values)
    return joined.size / (changes + len(values)) >= MIN_LABEL_RUN


NO_LABEL_WORDS = ("null", "none", "unknown", "unlabelled", "unlabeled", "nolabel",
                  "no_label", "transient", "transition", "undefined", "nan", "-")
"""Label values read as "no activity here": ``datasets init`` lists them in ``ignore_labels``."""


def _no_label_values(labels: list[str]) -> tuple[list[str], str, str]:
    """(values to ignore, confidence, reason) among a label column's values.

    Words of :data:`NO_LABEL_WORDS` (``medium``); ``0`` among whole-number
    codes (``low``: the null or transient class of PAMAP2 and MHEALTH, but
    a real class elsewhere).
    """
    words = [v for v in labels if v.strip().lower() in NO_LABEL_WORDS]
    if words:
        return words, "medium", f"{words} read as no activity: their samples stay unlabelled"
    if "0" in labels and len(labels) > 2 and all(v.isdigit() for v in labels):
        return ["0"], "low", (
            "0 among whole-number codes: in many data sets (PAMAP2, MHEALTH) the code of no "
            "activity or of transitions; check the data set's documentation, and remove this "
            "line if 0 is an activity")
    return [], "", ""


def _finite_rows(*arrays: np.ndarray) -> list[np.ndarray]:
    """The arrays' rows where every one of them is finite (samples dropped by the sensor out)."""
    keep = np.all([np.isfinite(a).reshape(len(a), -1).all(axis=1) for a in arrays], axis=0)
    return [a[keep] for a in arrays]


def _shows_gravity(values: np.ndarray, strict: bool = True) -> Any:
    """The first accelerometer unit in which ``values`` (n, 3) show gravity, or None.

    ``strict``: still spans at :data:`GRAVITY_NEAR_G` (a triple of unrelated
    columns seldom does); else the loader's check (:data:`GRAVITY_RANGE_G`,
    met by many triples in one of g, m/s^2 and mg).
    """
    from tinyhar.datasets.checks import check_acc_units, gravity_level

    (values,) = _finite_rows(values)
    if len(values) < 3:
        return None
    for unit in _acc_candidates(values):
        acc = _to_g(values, unit)
        if strict:
            level, still = gravity_level(acc, 50.0)
            if still and GRAVITY_NEAR_G[0] <= level <= GRAVITY_NEAR_G[1]:
                return unit
        elif _passes(check_acc_units, acc, 50.0, "x"):
            return unit
    return None


def _is_gyro(gyro: np.ndarray, acc: np.ndarray, acc_unit: Any) -> bool:
    """Whether ``gyro`` (n, 3) passes the angular-rate check in rad/s or deg/s next to ``acc``."""
    from tinyhar.datasets.checks import check_gyro_units

    gyro, acc = _finite_rows(gyro, acc)
    return len(gyro) > 2 and any(
        _passes(check_gyro_units, to_canonical(gyro, u, "rad/s"), _to_g(acc, acc_unit), 50.0, "x")
        for u in ("rad/s", "deg/s"))


def _span(triple: list[Any]) -> str:
    return f"{triple[0]}-{triple[2]}" if all(
        isinstance(c, (int, np.integer)) for c in triple) else "/".join(map(str, triple))


def _sensor_triples(
    columns: list[Any], free: list[Any], numeric: dict[Any, np.ndarray | None],
) -> tuple[list[Any] | None, list[Any] | None, str]:
    """(accelerometer, gyroscope, note): three adjacent free columns each, by content.

    Accelerometers are the adjacent triples (left to right, not overlapping)
    whose still spans show 1 g (:data:`GRAVITY_NEAR_G`) in some unit (when
    none does: that pass the loader's gravity check). The gyroscope of one is the
    first later triple that overlaps no accelerometer, comes before the next
    accelerometer that is not a copy of it (the same sensor at another range:
    its axes correlate above :data:`_COPY_CORRELATION`) and passes the
    angular-rate check. The accelerometer taken is the first with a
    gyroscope, else the first; the note says when there were several.
    """
    pos = {c: i for i, c in enumerate(columns)}
    free_set = set(free)
    windows = [columns[i:i + 3] for i in range(len(columns) - 2)
               if all(c in free_set for c in columns[i:i + 3])]

    def values(triple: list[Any]) -> np.ndarray:
        return np.column_stack([numeric[c] for c in triple])

    accs: list[tuple[list[Any], Any]] = []
    for strict in (True, False):  # no still span near 1 g anywhere: the loader's check
        for w in windows:
            if accs and pos[w[0]] <= pos[accs[-1][0][2]]:
                continue
            unit = _shows_gravity(values(w), strict)
            if unit is None:
                continue
            # of the triples overlapping this one, the steadiest at rest (a column of
            # another quantity next to a sensor's axes adds its own variation)
            best, best_score = (w, unit), _unsteadiness(_to_g(values(w), unit))
            for v in windows:
                u = (_shows_gravity(values(v), strict)
                     if pos[w[0]] < pos[v[0]] <= pos[w[2]] else None)
                score = _unsteadiness(_to_g(values(v), u)) if u is not None else np.inf
                if score < STEADIER * best_score:  # clearly steadier, not a reordered copy
                    best, best_score = (v, u), score
            accs.append(best)
        if accs:
            break
    if not accs:
        return None, None, ""
    taken = {c for w, _ in accs for c in w}
    chosen, gyro = accs[0][0], None
    for acc, unit in accs:
        later = [w for w, _ in accs if pos[w[0]] > pos[acc[2]] and not _copies(
            values(acc), values(w))]
        limit = pos[later[0][0]] if later else len(columns)
        gyro = next((w for w in windows if pos[acc[2]] < pos[w[0]] and pos[w[2]] < limit
                     and not taken & set(w) and _is_gyro(values(w), values(acc), unit)
                     and _shows_gravity(values(w)) is None), None)
        if gyro is not None:
            chosen = acc
            break
    note = ""
    if len(accs) > 1:
        note = (f"; {len(accs)} triples show gravity ({', '.join(_span(w) for w, _ in accs)}): "
                f"took {_span(chosen)}"
                + (", the first with a gyroscope after it" if gyro and chosen != accs[0][0]
                   else "") + "; set columns to choose another sensor")
    return chosen, gyro, note


def _unsteadiness(acc_g: np.ndarray, block: int = 50) -> float:
    """How much the noisiest axis varies at rest: per axis, the standard deviation (g) over
    its steadiest blocks of ``block`` samples (10th percentile), the largest of the three.

    A column of another quantity (an ECG lead) beside a sensor's axes varies at rest
    where an accelerometer's axes hardly do, though it barely moves the magnitude.
    """
    (acc_g,) = _finite_rows(acc_g)
    n = len(acc_g) // block * block
    if n == 0:
        return float("inf")
    std = acc_g[:n].reshape(-1, block, 3).std(axis=1)
    return float(np.max(np.percentile(std, 10, axis=0)))


def _copies(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two accelerometer triples are one sensor (each axis correlates strongly)."""
    a, b = _finite_rows(a, b)
    if len(a) < 3:
        return False
    with np.errstate(invalid="ignore", divide="ignore"):
        r = [np.corrcoef(a[:, j], b[:, j])[0, 1] for j in range(3)]
    return bool(np.all(np.nan_to_num(r) > _COPY_CORRELATION))


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
_SPLIT_RE = re.compile(r"([_\-. /]+)")


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
    if len(set(stems)) < len(stems) and len({f.parent for f in files}) > 1:
        # the same names in several folders (wlk_7/sub_1.csv): the folder is part of the name
        stems = [f"{f.parent.name}/{s}" for f, s in zip(files, stems, strict=True)]
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
    # a number after a subject word (sub_1, user-7) is the subject; after a session word, the
    # session
    for i, (k, _) in enumerate(kinds):
        if k != "number" or i == 0 or i in assigned or kinds[i - 1][0] != "const":
            continue
        word = tokens[0][_index(i - 1, len(left), len(kinds), len(tokens[0]))].lower()
        for field_name, names in (("subject", _SUBJECT_WORDS), ("session", _SESSION_WORDS)):
            if word in names and field_name in wanted and field_name not in taken:
                assigned[i] = field_name
                taken.add(field_name)
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
                 and first[i].lower() not in _GENERIC_FOLDERS
                 and first[i].lower() not in _SENSOR_WORDS]  # (acc_exp01.txt: no label)
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
        if pattern_match(compiled, f) is None:
            return None, {}, f"no pattern fits every file name (e.g. {f.name!r})"
    sure = {name: "high" for name in taken}
    for i, name in assigned.items():
        if kinds[i][0] == "number" or (kinds[i][0] == "word" and name == "subject"):
            sure[name] = "medium"
    if "label" in taken:
        sure["label"] = "low" if constant_label else "medium" if middle else "high"
    example = pattern_match(compiled, files[0]).groupdict()
    note = f"e.g. {stems[0]}{full_suffix(files[0])} -> " + ", ".join(
        f"{k} {v!r}" for k, v in example.items())
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


