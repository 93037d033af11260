"""A small Parquet file read at once and one read column by column give the same recordings.

Files of at most :data:`tinyhar.datasets.custom.WHOLE_READ_ROWS` rows have
their used columns read in one call (the fixed cost of many short sessions);
bigger ones a column (and a batch) at a time. Setting the threshold below a
file's rows forces the column-by-column read of the same file.
"""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tinyhar.datasets import custom
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.definition import DatasetDefinition
from tinyhar.errors import DataFormatError

RATE = 50.0

DEFINITION = """
    files: "rec/*.parquet"
    sampling_rate_hz: 50
    columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, gyro_x: gx, gyro_y: gy, gyro_z: gz,
              subject: who, session: part, label: what}
    units: {time: s, acc: g, gyro: rad/s}
    """


def recording(n: int, label_kind: str = "string", seed: int = 0) -> pa.Table:
    """``n`` rows of two sessions ("a", then "b" with a restart: time goes back once), an
    int channel, an int subject column, labels with spaces and nulls."""
    rng = np.random.default_rng(seed)
    half = n // 2
    t = np.r_[np.arange(half), np.arange(n - half)] / RATE
    t[half + (n - half) // 2:] -= 5.0  # session "b" restarts halfway (time goes back)
    words = np.array(["walk", " walk ", "sit", "stand "], dtype=object)
    label = words[rng.integers(0, len(words), n)]
    label[rng.random(n) < 0.1] = None
    columns = {
        "t": t,
        "ax": rng.integers(-1, 2, n).astype(np.int64),  # an int channel
        "ay": rng.normal(0.0, 0.3, n),
        "az": rng.normal(1.0, 0.1, n).astype(np.float32),
        "gx": rng.normal(0.0, 0.5, n), "gy": rng.normal(0.0, 0.5, n),
        "gz": rng.normal(0.0, 0.5, n),
        "who": np.full(n, 7, np.int64),  # a numeric id column
        "part": np.array(["a"] * half + ["b"] * (n - half), dtype=object),
        "what": label,
        "unused": np.zeros(n),
    }
    table = pa.table(columns)
    if label_kind == "dictionary":  # as pandas writes a categorical: an unused category too
        cat = pd.Categorical(label, categories=["sit", "stand ", "walk", " walk ", "run"])
        table = table.set_column(table.schema.get_field_index("what"), "what",
                                 pa.array(cat))
    return table


def write(tmp_path, table: pa.Table, name: str = "s01.parquet", row_group: int | None = None):
    folder = tmp_path / "rec"
    folder.mkdir(exist_ok=True)
    pq.write_table(table, folder / name, row_group_size=row_group)
    path = tmp_path / "data.yaml"
    path.write_text(textwrap.dedent(DEFINITION))
    return path


def load(path, monkeypatch, whole_read_rows: int):
    """The recordings and the warnings' messages, with this threshold."""
    monkeypatch.setattr(custom, "WHOLE_READ_ROWS", whole_read_rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = load_custom(path)
    return rec, [str(w.message) for w in caught]


def read_at_once(path, file_name: str = "s01.parquet") -> bool:
    """Whether :func:`custom._read_parquet` reads this file in one call now."""
    definition = DatasetDefinition.from_yaml(path)
    raw = custom._read_parquet(path.parent / "rec" / file_name, definition.columns.used())
    return raw.table is not None


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert a.classes == b.classes
    for column in ("label", "subject", "session"):
        x, y = a.frame[column].array, b.frame[column].array
        assert list(x.categories) == list(y.categories)
        assert x.categories.dtype == y.categories.dtype
        np.testing.assert_array_equal(x.codes, y.codes)
        assert x.codes.dtype == y.codes.dtype
    assert [a.frame[c].dtype for c in a.frame] == [b.frame[c].dtype for c in b.frame]


@pytest.mark.parametrize("label_kind", ["string", "dictionary"])
@pytest.mark.parametrize("row_group", [None, 257])
def test_read_at_once_equals_column_by_column(tmp_path, monkeypatch, label_kind, row_group):
    path = write(tmp_path, recording(1000, label_kind), row_group=row_group)
    monkeypatch.setattr(custom, "WHOLE_READ_ROWS", 1000)
    assert read_at_once(path)
    fast, fast_warnings = load(path, monkeypatch, 1000)
    monkeypatch.setattr(custom, "WHOLE_READ_ROWS", -1)
    assert not read_at_once(path)
    slow, slow_warnings = load(path, monkeypatch, -1)
    assert_same(fast, slow)
    assert fast_warnings == slow_warnings
    assert any("restart" in w.lower() or "back" in w.lower() for w in fast_warnings)
    # what the file holds: stripped labels, nulls unlabelled, an int channel, numeric ids
    assert fast.classes == ["sit", "stand", "walk"]
    assert fast.subjects == ["7"]
    assert fast.sessions == ["a", "b", "b~2"]
    label = recording(1000, label_kind).column("what").to_pylist()
    got = fast.frame["label"].astype(object).where(fast.frame["label"].notna(), None)
    assert list(got) == [None if w is None else w.strip() for w in label]
    assert set(np.unique(fast.frame["acc_x"])) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("threshold", [2999, 3000, 3001])
def test_files_just_above_and_below_the_threshold(tmp_path, monkeypatch, threshold):
    path = write(tmp_path, recording(3000, seed=1), row_group=1000)
    monkeypatch.setattr(custom, "WHOLE_READ_ROWS", threshold)
    assert read_at_once(path) == (threshold >= 3000)
    near, near_warnings = load(path, monkeypatch, threshold)
    slow, slow_warnings = load(path, monkeypatch, -1)
    assert_same(near, slow)
    assert near_warnings == slow_warnings


def with_value(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    index = table.schema.get_field_index(column)
    return table.set_column(index, column, pa.array(values, table.schema.field(column).type))


@pytest.mark.filterwarnings("ignore:time goes back")
@pytest.mark.parametrize(("column", "value", "fragments"), [
    ("ay", None, ["acc_y value missing", "ay at row 124"]),
    ("gx", float("inf"), ["gyro_x value inf is not a finite number", "gx at row 124"]),
    ("ax", 10**6, ["beyond the plausible", "row 124"]),
    ("what", "swim", ["label 'swim' at row 124", "is not in classes"]),
    ("part", None, ["session is missing"]),
])
def test_errors_name_file_and_row_in_both_reads(tmp_path, monkeypatch, column, value,
                                                fragments):
    path = write(tmp_path, with_value(recording(600, seed=2), column, 123, value))
    if column == "what":  # a class list that leaves "swim" out
        path.write_text(textwrap.dedent(DEFINITION) + "classes: [sit, stand, walk]\n")
    message = _same_error_both_reads(path, monkeypatch)
    for fragment in fragments:
        assert fragment in message


@pytest.mark.filterwarnings("ignore:time goes back")
def test_a_file_the_whole_read_cannot_read_reports_as_the_column_read(tmp_path, monkeypatch):
    """A column of a type neither read handles: the same message from both."""
    table = recording(300).append_column("nested", pa.array([[1.0]] * 300))
    path = write(tmp_path, table)
    path.write_text(textwrap.dedent(DEFINITION).replace("acc_z: az", "acc_z: nested"))
    _same_error_both_reads(path, monkeypatch)


def _same_error_both_reads(path, monkeypatch) -> str:
    """The error of loading ``path`` read whole and column by column: the same, naming it."""
    messages = []
    for threshold in (10**9, -1):
        monkeypatch.setattr(custom, "WHOLE_READ_ROWS", threshold)
        with pytest.raises(DataFormatError) as caught:
            load_custom(path)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    assert "s01.parquet" in messages[0]
    return messages[0]
