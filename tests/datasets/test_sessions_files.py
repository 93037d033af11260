"""CSV and NPY sessions, and sessions of several files, read in batches of rows
(`SessionSource.iter_batches`): the batches joined are the session read whole (files joined in
time order, gaps kept), at any batch size; errors in a later batch name the file's real line."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import joined_batches
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import synthesize
from tinyhar.errors import DataFormatError

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
SIZES = (997, 2500, 4096, 20000)  # rows per batch; the session has 9,000


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 1, 0.05, session_hours=0.05, seed=5)  # 9,000 rows at 50 Hz, 180 s
    table = pd.read_parquet(next((out / "recordings").glob("*.parquet")))
    table["label"] = table["label"].astype(str)
    return table


def _spec(**changes) -> dict:
    spec = {
        "name": "batches", "files": "rec/*", "sampling_rate_hz": 50.0,
        "columns": {"time": "time", **{c: c for c in CHANNELS}, "label": "label"},
        "file_pattern": r"(?P<subject>s\d+)_\w+\.(csv|npy|parquet)",
        "constants": {"session": "day"},
        "classes": ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING",
                    "STANDING", "LAYING"],
    }
    spec.update(changes)
    return spec


def _write(folder, parts: dict, spec: dict):
    """Files ``rec/<name>`` (format from the extension) and ``data.yaml``; the one source."""
    (folder / "rec").mkdir(parents=True)
    for name, part in parts.items():
        path = folder / "rec" / name
        if name.endswith(".csv"):
            part.to_csv(path, index=False)
        elif name.endswith(".npy"):
            np.save(path, part.to_numpy(np.float64))
        else:
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path,
                           row_group_size=700)
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    sources = session_sources(folder / "data.yaml")
    assert len(sources) == 1
    return sources[0]


def test_a_csv_session_is_read_in_batches_at_any_size(frame, tmp_path):
    source = _write(tmp_path, {"s001_a.csv": frame}, _spec())
    for rows in SIZES:
        batches = joined_batches(source, rows)
        assert [len(b.frame) for b in batches[:-1]] == [rows] * (len(batches) - 1)
        assert len(batches) == -(-9000 // rows)
    second = joined_batches(source, 2500)[1].frame
    assert second["time"].iloc[0] == pytest.approx(2500 / 50)  # from the session's start
    assert (second["label"].cat.categories == _spec()["classes"]).all()


def test_without_a_time_column_time_counts_on_across_batches_and_files(frame, tmp_path):
    # no time, no label; columns by position: the same in CSV, NPY and Parquet files
    spec = _spec(columns={c: i for i, c in enumerate(CHANNELS)})
    table = frame[CHANNELS]
    parts = {"s001_b.csv": table.iloc[:4000], "s001_c.npy": table.iloc[4000:6500],
             "s001_d.parquet": table.iloc[6500:]}
    source = _write(tmp_path, parts, spec)
    for rows in SIZES:
        batches = joined_batches(source, rows)
        np.testing.assert_array_equal(
            pd.concat([b.frame for b in batches])["time"].to_numpy(), np.arange(9000) / 50.0)
    # a file at a time: a file's last batch is short, the next file starts a batch
    assert [len(b.frame) for b in joined_batches(source, 2500)] == [2500, 1500, 2500, 2500]


def test_files_of_a_session_are_joined_in_time_order_with_their_gaps(frame, tmp_path):
    shifted = frame.copy()
    shifted.loc[6000:, "time"] += 7.5  # a gap between the files "a" and "c"
    shifted.loc[100:300, "label"] = "unknown"  # ignored: unlabelled samples
    # the names' order is not the time order: "c" holds the last part, "b" the first
    parts = {"s001_a.csv": shifted.iloc[3000:6000], "s001_b.parquet": shifted.iloc[:3000],
             "s001_c.csv": shifted.iloc[6000:]}
    spec = _spec(ignore_labels=["unknown"])
    source = _write(tmp_path, parts, spec)
    for rows in SIZES:
        batches = joined_batches(source, rows)
    joined = pd.concat([b.frame for b in joined_batches(source, 1000)], ignore_index=True)
    np.testing.assert_allclose(joined["time"].to_numpy(), shifted["time"].to_numpy()
                               - shifted["time"].iloc[0], atol=1e-12)
    assert joined["label"].iloc[100:301].isna().all() and joined["label"].notna().sum() == 8799
    assert np.diff(joined["time"].to_numpy()).max() == pytest.approx(7.5 + 0.02)
    assert len(batches) == 3  # at 20,000 rows: one batch per file


def test_npy_sessions_are_read_in_batches(frame, tmp_path):
    columns = {"time": 0, **{c: i + 1 for i, c in enumerate(CHANNELS)}}
    spec = _spec(columns=columns, constants={"session": "day", "label": "WALKING"})
    table = frame[["time", *CHANNELS]]
    source = _write(tmp_path, {"s001_a.npy": table.iloc[:5000], "s001_b.npy": table.iloc[5000:]},
                    spec)
    for rows in SIZES:
        joined_batches(source, rows)
    assert len(joined_batches(source, 2500)) == 4


def _warnings(read) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read()
    return [str(w.message) for w in caught]


def test_restarts_are_split_into_sessions_in_batches(frame, tmp_path):
    restart = frame.copy()
    restart.loc[6000:, "time"] -= restart["time"].iloc[6000]  # time goes back: a new session
    restart.loc[7500:, "time"] -= 200.0  # and again, from a time before the session started
    source = _write(tmp_path / "a", {"s001_a.csv": restart}, _spec())
    for rows in SIZES[:3]:
        batches = joined_batches(source, rows, own_categories=True)
        assert len(batches) == -(-9000 // rows)
    assert pd.concat([b.frame for b in batches])["session"].value_counts().to_dict() == {
        "day": 6000, "day~2": 1500, "day~3": 1500}
    # the same warning as the whole read, before the first batch
    batched = _warnings(lambda: next(source.iter_batches(batch_rows=2500)))
    assert batched == _warnings(source.load)
    assert "time goes back 2 time(s)" in batched[0] and "line 6002" in batched[0]
    # two files overlapping in time: the second starts before the first ends (a restart at
    # the join), and the names' order is not the time order
    parts = {"s001_b.csv": frame.iloc[:5000], "s001_a.parquet": frame.iloc[4000:]}
    joined = _write(tmp_path / "b", parts, _spec())
    for rows in SIZES[:3]:
        batches = joined_batches(joined, rows, own_categories=True)
    batches = joined_batches(joined, 2500, own_categories=True)
    assert [b.frame["session"].unique().tolist() for b in batches] == [
        ["day"], ["day"], ["day~2"], ["day~2"]]
    assert _warnings(lambda: list(joined.iter_batches(batch_rows=2500))) == _warnings(
        joined.load)
    prefixed = joined_batches(joined, 2500, own_categories=True, session_prefix=True)
    assert prefixed[-1].frame["session"].iloc[0] == "s001-day~2"


def test_repeats_and_sorting_are_left_to_the_whole_read(frame, tmp_path):
    repeat = frame.copy()
    repeat.loc[6000, "time"] = repeat["time"].iloc[5999]  # a repeated time stamp
    source = _write(tmp_path / "a", {"s001_a.csv": repeat}, _spec())
    with pytest.raises(DataFormatError, match="repeats a sample") as batched:
        next(source.iter_batches(batch_rows=2500))
    with pytest.raises(DataFormatError) as whole:
        source.load()
    assert str(batched.value) == str(whole.value)
    # with time_order off a session whose time goes back is sorted: read whole
    back = frame.copy()
    back.loc[6000:, "time"] -= 30.0
    spec = _spec(checks={"time_order": False, "sampling_rate": False})
    source = _write(tmp_path / "b", {"s001_a.parquet": back}, spec)
    with pytest.raises(DataFormatError, match="repeats a sample"):  # (sorted: samples meet)
        next(source.iter_batches(batch_rows=2500))


def test_small_sessions_are_read_whole(frame, tmp_path, monkeypatch):
    small = _write(tmp_path / "c", {"s001_a.parquet": frame}, _spec())
    assert len(joined_batches(small, 9000)) == 1 and len(joined_batches(small, 8999)) == 2
    # a CSV file too small to hold more rows than a batch (2 bytes per sensor value at least)
    small_csv = _write(tmp_path / "d", {"s001_a.csv": frame}, _spec())
    size = (tmp_path / "d" / "rec" / "s001_a.csv").stat().st_size

    def no_batches(*args, **kwargs):
        raise AssertionError("read in batches")

    monkeypatch.setattr("tinyhar.datasets.custom.iter_file_batches", no_batches)
    assert len(joined_batches(small_csv, size // 12)) == 1
    with pytest.raises(AssertionError, match="read in batches"):
        joined_batches(small_csv, size // 12 - 1)


def test_time_order_off_reads_in_batches_when_time_increases(frame, tmp_path):
    spec = _spec(checks={"time_order": False})
    parts = {"s001_b.csv": frame.iloc[:4000], "s001_a.csv": frame.iloc[4000:]}
    assert len(joined_batches(_write(tmp_path, parts, spec), 2500)) == 4


def test_a_time_column_off_the_declared_rate_is_refused_as_in_a_whole_read(frame, tmp_path):
    fast = frame.assign(time=frame["time"] / 2)  # 100 Hz in the time column
    source = _write(tmp_path, {"s001_a.parquet": fast}, _spec())
    with pytest.raises(DataFormatError, match="shows 100 Hz") as batched:
        list(source.iter_batches(batch_rows=2500))
    with pytest.raises(DataFormatError) as whole:
        source.load()
    assert str(batched.value) == str(whole.value)


def test_a_csv_error_in_a_later_batch_names_its_line(frame, tmp_path):
    def write(folder, mutate, csv=None):
        path = folder / "rec" / "s001_a.csv"
        source = _write(folder, {"s001_a.csv": frame}, _spec(**(csv or {})))
        lines = path.read_text().splitlines()
        mutate(lines)
        path.write_text("\n".join(lines) + "\n")
        return source, lines

    def text_value(lines):  # sample 7000 (0-based) is on line 7002 (the header is line 1)
        fields = lines[7001].split(",")
        fields[2] = "oops"
        lines[7001] = ",".join(fields)

    def extra_field(lines):
        lines[7001] += ",1.0"

    def skipped_and_blank(lines):  # 2 lines before the header, a blank line at sample 3000
        lines[0:0] = ["# recorded by hand", "# 50 Hz"]
        lines.insert(3003, "")
        text_value_at = 7001 + 2 + 1
        fields = lines[text_value_at].split(",")
        fields[2] = "oops"
        lines[text_value_at] = ",".join(fields)

    cases = [(text_value, None, 7002, "acc_y value 'oops' is not a finite number"),
             (extra_field, None, 7002, "this row has 9 fields, the header 8"),
             (skipped_and_blank, {"csv": {"skip_rows": 2}}, 7005, "'oops'")]
    for k, (mutate, csv, line, message) in enumerate(cases):
        source, lines = write(tmp_path / str(k), mutate, csv)
        assert "oops" in lines[line - 1] or mutate is extra_field
        for rows in (2500, 4096):
            batches = source.iter_batches(batch_rows=rows)
            # the first batch is read before the error (less the blank line)
            assert rows - 1 <= len(next(batches).frame) <= rows
            with pytest.raises(DataFormatError, match=message) as batched:
                list(batches)
            assert batched.value.line == line
            assert batched.value.path == source.files[0]
        with pytest.raises(DataFormatError) as whole:
            source.load()
        assert str(batched.value) == str(whole.value)


@pytest.mark.parametrize("ext", ["csv", "parquet", "npy"])
def test_a_file_without_rows_is_refused_in_every_format_whole_and_in_batches(frame, tmp_path,
                                                                             ext):
    """A file of no samples (a CSV header alone, a Parquet or NPY file of 0 rows) is an
    error naming it in every format, whole or in batches (as other unreadable files: the
    caller stops, or skips and lists its session)."""
    spec = _spec(columns={"time": 0, **{c: i + 1 for i, c in enumerate(CHANNELS)}},
                 constants={"session": "day", "label": "WALKING"})
    table = frame[["time", *CHANNELS]]
    source = _write(tmp_path, {f"s001_a.{ext}": table, f"s001_b.{ext}": table.iloc[:0]}, spec)
    empty = str(tmp_path / "rec" / f"s001_b.{ext}")
    for read in (source.load, lambda: list(source.iter_batches(batch_rows=2500))):
        with pytest.raises(DataFormatError, match="no rows of samples; record again or "
                                                  "remove it") as err:
            read()
        assert err.value.path == empty
