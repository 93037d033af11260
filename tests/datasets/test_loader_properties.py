"""Property-based robustness of the loaders: malformed files end in a TinyharError, nothing else.

hypothesis generates CSV, Parquet and NPY files and dataset definitions that are
broken in many ways (random bytes, wrong or missing columns, wrong dtypes,
NaN/inf, huge values, empty files, wrong YAML types) and also some that are
fine. Loading either succeeds with canonical recordings, or raises a
:class:`~tinyhar.errors.TinyharError` with a message; any other exception
type is a bug (the CLI would print a traceback instead of "error: ...").
"""

from __future__ import annotations

import string
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.recording import MAX_ABS_SENSOR_VALUE, RecordingSet
from tinyhar.datasets.registry import load_dataset
from tinyhar.datasets.wisdm import load_wisdm_raw
from tinyhar.errors import TinyharError

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
CANONICAL = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")


def outcome(load) -> RecordingSet | None:
    """Run ``load``; a TinyharError with a message is fine, any other exception fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = load()
        except TinyharError as exc:
            assert str(exc).strip(), f"empty message from {type(exc).__name__}"
            return None
    assert isinstance(result, RecordingSet)
    values = result.frame[[c for c in CANONICAL if c in result.frame]].to_numpy()
    assert np.isfinite(values).all() and (np.abs(values) <= MAX_ABS_SENSOR_VALUE).all()
    return result


def definition(files: str, columns: dict, **extra) -> dict:
    return {
        "files": files,
        "sampling_rate_hz": 50,
        "columns": columns,
        "constants": {"subject": "a"},
        **extra,
    }


def write_definition(folder: Path, data) -> Path:
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(data) if not isinstance(data, bytes) else "")
    if isinstance(data, bytes):
        path.write_bytes(data)
    return path


# ------------------------------------------------------------------------- values
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-3, max_value=3),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 1e30, -1e30, 9.80665, 1e-320, 2**63]),
)
cells = st.one_of(
    numbers.map(str),
    st.text(alphabet=string.printable, max_size=6),
    st.just(""),
    st.sampled_from(["nan", "inf", "-inf", "NA", "1,5", "1e", "--1", "0x10", "１"]),
)
column_names = st.sampled_from(["t", "ax", "ay", "az", "gx", "label", "x", "", "ax "])


@st.composite
def csv_texts(draw) -> str:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.lists(column_names, min_size=0, max_size=6))
    n_cols = max(1, len(header))
    rows = draw(st.lists(
        st.lists(cells, min_size=max(0, n_cols - 1), max_size=n_cols + 1), max_size=12
    ))
    lines = [delimiter.join(header)] + [delimiter.join(r) for r in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))


CSV_COLUMNS = {"time": "t", "acc_x": "ax", "acc_y": "ay", "acc_z": "az"}


@SETTINGS
@given(text=csv_texts())
def test_malformed_csv_gives_tinyhar_error(text):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "rec.csv").write_text(text, encoding="utf-8")
        path = write_definition(folder, definition("*.csv", CSV_COLUMNS))
        outcome(lambda: load_custom(path))


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".parquet", ".npy"]))
def test_random_bytes_give_tinyhar_error(data, suffix):
    columns = CSV_COLUMNS if suffix != ".npy" else {"acc_x": 0, "acc_y": 1, "acc_z": 2}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / f"rec{suffix}").write_bytes(data)
        path = write_definition(folder, definition(f"*{suffix}", columns))
        outcome(lambda: load_custom(path))
        if suffix == ".parquet":
            outcome(lambda: load_dataset(folder / f"rec{suffix}"))


# ------------------------------------------------------------------------ Parquet
column_values = st.one_of(
    st.lists(numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2**63), min_size=0,
             max_size=8).map(lambda v: np.array(v, dtype=np.float64)),
    st.lists(st.integers(-(2**31), 2**31), max_size=8).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.text(max_size=4), max_size=8).map(lambda v: np.array(v, dtype=object)),
    st.lists(st.booleans(), max_size=8).map(np.array),
    st.lists(st.integers(0, 10**12), max_size=8).map(
        lambda v: np.array(v, dtype="datetime64[ms]")
    ),
)


@SETTINGS
@given(
    columns=st.dictionaries(column_names, column_values, max_size=5),
    refs=st.sampled_from([CSV_COLUMNS, {"acc_x": 0, "acc_y": 1, "acc_z": 2}]),
)
def test_parquet_with_wrong_columns_and_dtypes_gives_tinyhar_error(columns, refs):
    n = min((len(v) for v in columns.values()), default=0)
    frame = pd.DataFrame({k: v[:n] for k, v in columns.items() if k})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        frame.to_parquet(folder / "rec.parquet")
        path = write_definition(folder, definition("*.parquet", refs))
        outcome(lambda: load_custom(path))
        outcome(lambda: load_dataset(folder / "rec.parquet"))


# ---------------------------------------------------------------------------- NPY
npy_arrays = st.one_of(
    st.tuples(
        st.sampled_from(["f8", "f4", "i8", "u1", "c16", "?", "U3", "S3", "M8[s]", "V4"]),
        st.lists(st.integers(0, 5), min_size=0, max_size=3),
    ).map(lambda spec: np.zeros(spec[1], dtype=spec[0])),
    st.lists(st.lists(numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2**63),
                      min_size=3, max_size=3), max_size=10).map(
        lambda rows: np.array(rows, dtype=np.float64).reshape(-1, 3)
    ),
)


@SETTINGS
@given(array=npy_arrays, as_npz=st.booleans(), refs=st.lists(
    st.one_of(st.integers(-2, 6), st.just("x")), min_size=3, max_size=3))
def test_npy_with_wrong_shapes_and_dtypes_gives_tinyhar_error(array, as_npz, refs):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if as_npz:
            with open(folder / "rec.npy", "wb") as handle:
                np.savez(handle, X=array)
        else:
            np.save(folder / "rec.npy", array)
        columns = dict(zip(("acc_x", "acc_y", "acc_z"), refs, strict=True))
        path = write_definition(folder, definition("*.npy", columns))
        outcome(lambda: load_custom(path))


# -------------------------------------------------------------------- definitions
yaml_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
DEFINITION_KEYS = [
    "files", "format", "csv", "sampling_rate_hz", "columns", "units", "file_pattern",
    "constants", "label_map", "classes", "ignore_labels", "name", "checks", "citation",
]
SUB_KEYS = [
    "columns.acc_x", "columns.time", "columns.label", "columns.subject", "columns.gyro_x",
    "units.acc", "units.gyro", "units.time", "csv.delimiter", "csv.decimal", "csv.encoding",
    "csv.skip_rows", "csv.header", "constants.label", "constants.session", "checks.units",
    "unknown.key",
]


@SETTINGS
@given(
    key=st.sampled_from(DEFINITION_KEYS + SUB_KEYS),
    value=st.one_of(yaml_values, st.sampled_from(
        ["t", "ax", 0, 3, -1, "(?P<subject>.)", "(?P<x>", "klingon", ";", ".", "deg/s", "ms"]
    )),
)
def test_definition_with_wrong_types_gives_tinyhar_error(key, value):
    data = definition("*.csv", dict(CSV_COLUMNS))
    if "." in key:
        section, sub = key.split(".")
        if not isinstance(data.get(section, {}), dict):
            data[section] = {}
        data.setdefault(section, {})[sub] = value
        if section == "constants" and sub == "label":
            data["constants"]["subject"] = "a"
    else:
        data[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [f"{i / 50},0,0,1" for i in range(200)]
        (folder / "rec.csv").write_text("t,ax,ay,az\n" + "\n".join(rows) + "\n")
        path = write_definition(folder, data)
        outcome(lambda: load_custom(path))


@SETTINGS
@given(document=st.one_of(yaml_values, st.binary(max_size=200)))
def test_any_definition_document_gives_tinyhar_error(document):
    with tempfile.TemporaryDirectory() as tmp:
        path = write_definition(Path(tmp), document)
        outcome(lambda: load_custom(path))


# -------------------------------------------------------------------- WISDM raw
wisdm_fields = st.one_of(
    cells, st.sampled_from(["33", "Walking", "Jogging", "49105962326000", "9.80665", ";"])
)


@SETTINGS
@given(records=st.lists(st.lists(wisdm_fields, min_size=0, max_size=8), max_size=15),
       end=st.sampled_from([";\n", "\n", ";", ",;\n"]))
def test_malformed_wisdm_raw_gives_tinyhar_error(records, end):
    text = "".join(",".join(r) + end for r in records)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "WISDM_ar_v1.1_raw.txt"
        path.write_text(text)
        outcome(lambda: load_wisdm_raw(path))
        outcome(lambda: load_wisdm_raw(path, on_bad_lines="raise"))


def test_a_valid_csv_passes_the_property_harness(tmp_path):
    """The harness accepts good files (so the properties above test something)."""
    rows = [f"{i / 50},0,0,1" for i in range(200)]
    (tmp_path / "rec.csv").write_text("t,ax,ay,az\n" + "\n".join(rows) + "\n")
    result = outcome(lambda: load_custom(write_definition(tmp_path, definition(
        "*.csv", CSV_COLUMNS))))
    assert result is not None and result.n_samples == 200


@pytest.mark.parametrize("value", [1e30, float("nan"), -1e30])
def test_huge_and_nan_csv_values_name_the_file(tmp_path, value):
    rows = [f"{i / 50},0,0,1" for i in range(200)]
    rows[10] = f"{10 / 50},{value},0,1"
    (tmp_path / "rec.csv").write_text("t,ax,ay,az\n" + "\n".join(rows) + "\n")
    with pytest.raises(TinyharError, match=r"rec\.csv, line 12, column a"):
        load_custom(write_definition(tmp_path, definition("*.csv", CSV_COLUMNS)))


# ------------------------------------------------- publisher formats (HAPT, UCI HAR text)
@SETTINGS
@given(data=st.one_of(
    st.binary(max_size=200),
    st.lists(st.lists(cells, min_size=0, max_size=4), max_size=8).map(
        lambda rows: "\n".join(" ".join(r) for r in rows).encode()
    ),
))
def test_numeric_tables_and_activity_labels_give_tinyhar_error(data):
    from tinyhar.datasets._archive import (
        DatasetFiles,
        parse_numeric_table,
        read_activity_labels,
    )

    def parse():
        parse_numeric_table(data, "x.txt", n_cols=3)
        parse_numeric_table(data, "x.txt", integer=True, line_numbers=True)

    outcome_any(parse)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "activity_labels.txt").write_bytes(data)
        outcome_any(lambda: read_activity_labels(
            DatasetFiles(Path(tmp), tmp), "activity_labels.txt"))


def outcome_any(call) -> None:
    """Like :func:`outcome` for calls that return anything."""
    try:
        call()
    except TinyharError as exc:
        assert str(exc).strip()


@SETTINGS
@given(
    replaced=st.dictionaries(
        st.sampled_from(["time", "acc_x", "acc_z", "gyro_x", "label", "subject", "session"]),
        column_values, max_size=3,
    ),
    n=st.integers(0, 300),
    meta=st.one_of(
        st.fixed_dictionaries({"sampling_rate_hz": numbers, "classes": st.lists(st.text(
            max_size=3), max_size=3)}),
        st.just({"sampling_rate_hz": 50, "classes": ["a"]}),
        yaml_values,
    ),
)
def test_tinyhar_parquet_with_bad_columns_or_metadata_gives_tinyhar_error(replaced, n, meta):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.DataFrame({
        "time": np.arange(n) / 50.0, "acc_x": np.zeros(n), "acc_y": np.zeros(n),
        "acc_z": np.ones(n), "label": ["a"] * n, "subject": ["1"] * n, "session": ["s"] * n,
    })
    for name, values in replaced.items():
        frame[name] = np.resize(values, n) if len(values) else pd.Series([None] * n)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return  # not writable as Parquet: nothing to load
    try:
        text = json.dumps(meta)
    except ValueError:
        text = "{"
    table = table.replace_schema_metadata({b"tinyhar": text.encode()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rec.parquet"
        pq.write_table(table, path)
        outcome(lambda: load_dataset(path))
