"""Files of many sessions whose subject and session come from columns (one CSV or Parquet
export of a study), read in batches of rows (`SessionSource.iter_batches`): session after
session when each session's rows are together, at any batch size, equal to the file read whole
(names, times, labels); interleaved sessions are read whole with a warning; restarts inside a
session are split as the whole read splits them; errors in a later batch name the real line."""

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
SIZES = (997, 1500, 2500, 4096)  # rows per batch; the file has 9,000 rows in 6 sessions
CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """9,000 rows of real HAPT segments as 3 subjects x 2 sessions of 1,500 rows (session names
    "1" and "2" used by every subject), each session's time from 0 s, sorted by subject and
    session."""
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 1, 0.05, session_hours=0.05, seed=5)
    table = pd.read_parquet(next((out / "recordings").glob("*.parquet")))
    table["label"] = table["label"].astype(str)
    table["subject"] = np.repeat(["p01", "p02", "p03"], 3000)
    table["session"] = np.tile(np.repeat(["1", "2"], 1500), 3)
    table["time"] = np.tile(np.arange(1500) / 50.0, 6) + 1000.0
    return table


def _spec(**changes) -> dict:
    spec = {
        "name": "study", "files": "export.*", "sampling_rate_hz": 50.0,
        "columns": {"time": "time", **{c: c for c in CHANNELS}, "label": "label",
                    "subject": "subject", "session": "session"},
        "classes": CLASSES,
    }
    spec.update(changes)
    return spec


def _write(folder, table: pd.DataFrame, spec: dict, suffix: str = ".csv"):
    """``export<suffix>`` and ``data.yaml`` in ``folder``; the one source."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export{suffix}"
    if suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path,
                       row_group_size=800)
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    sources = session_sources(folder / "data.yaml")
    assert len(sources) == 1 and sources[0].subject is None
    return sources[0]


def _sessions(batches) -> list[list[str]]:
    return [b.frame["session"].unique().tolist() for b in batches]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_contiguous_sessions_stream_session_after_session(study, tmp_path, suffix):
    source = _write(tmp_path, study, _spec(), suffix)
    for rows in SIZES:
        batches = joined_batches(source, rows, own_categories=True)
        assert len(batches) == -(-9000 // rows)
    # a session name of several subjects: ids "<subject>-<session>", as the whole read
    assert _sessions(joined_batches(source, 2500, own_categories=True)) == [
        ["p01-1", "p01-2"], ["p01-2", "p02-1", "p02-2"], ["p02-2", "p03-1"],
        ["p03-2"]]
    second = joined_batches(source, 2500, own_categories=True)[1].frame
    assert second["time"].iloc[500] == 0.0  # p02-1 starts at row 3,000: time from its start
    assert second["time"].iloc[499] == pytest.approx(1499 / 50)
    assert source.subjects() == ["p01", "p02", "p03"]
    prefixed = joined_batches(source, 2500, own_categories=True, session_prefix=True)
    assert prefixed[0].frame["session"].iloc[0] == "p01-1"  # prefixed once, as the whole read


def test_session_names_of_one_subject_each_and_no_time_column(study, tmp_path):
    # session names unique to their subject stay as they are; without a time column, time
    # counts from 0 in each session
    table = study.assign(session=study["subject"] + np.where(study["session"] == "1", "am",
                                                               "pm")).drop(columns="time")
    spec = _spec(columns={c: i for i, c in enumerate(table.columns)}, csv={"header": False})
    source = _write(tmp_path, table, spec)
    (tmp_path / "export.csv").write_text(
        "\n".join((tmp_path / "export.csv").read_text().splitlines()[1:]) + "\n")
    for rows in SIZES:
        batches = joined_batches(source, rows, own_categories=True)
    joined = pd.concat([b.frame for b in batches], ignore_index=True)
    assert joined["session"].astype(str).unique().tolist() == ["p01am", "p01pm", "p02am",
                                                               "p02pm", "p03am", "p03pm"]
    np.testing.assert_array_equal(joined["time"].to_numpy(), np.tile(np.arange(1500) / 50, 6))


def test_subject_from_the_file_name_sessions_from_a_column_and_a_restart(study, tmp_path):
    # p02's sessions "1" and "2", then both again as session "3": its time goes back after
    # 1,500 rows (a restart, "3~2")
    table = study[study["subject"] == "p02"].drop(columns="subject")
    table = pd.concat([table, table.assign(session="3")], ignore_index=True)  # 6,000 rows
    table.loc[3000:4499, "time"] += 100.0
    columns = {k: v for k, v in _spec()["columns"].items() if k != "subject"}
    spec = _spec(columns=columns, file_pattern=r"(?P<subject>\w+)\.parquet",
                 files="*.parquet")
    folder = tmp_path / "p"
    folder.mkdir()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), folder / "p02.parquet",
                   row_group_size=700)
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    source = session_sources(folder / "data.yaml")[0]
    assert source.subject is None and source.session is None
    for rows in SIZES:
        batches = joined_batches(source, rows, own_categories=True)
    batches = joined_batches(source, 2000, own_categories=True)
    assert _sessions(batches) == [["1", "2"], ["2", "3"], ["3", "3~2"]]
    assert batches[2].frame["time"].iloc[500] == 0.0  # "3~2" from its own start
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        next(source.iter_batches(batch_rows=2000))
        source.load()
    assert len(caught) == 2 and str(caught[0].message) == str(caught[1].message)
    assert "p02.parquet, row 4501: 1129.98 s -> 1000 s, now session '3~2'" in str(
        caught[0].message)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_interleaved_sessions_are_read_whole_with_a_warning(study, tmp_path, suffix):
    # rows sorted by time across subjects (p01 and p02 recorded at once): each session's rows
    # are spread over the file
    table = study[study["session"] == "1"].sort_values(["time", "subject"], kind="stable")
    source = _write(tmp_path, table.reset_index(drop=True), _spec(), suffix)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = list(source.iter_batches(batch_rows=1000))
    assert len(batches) == 1  # whole: the rows grouped by session, as the whole read
    assert batches[0].frame["session"].astype(str).tolist() == (
        ["p01-1"] * 1500 + ["p02-1"] * 1500 + ["p03-1"] * 1500)
    where = "line 5" if suffix == ".csv" else "row 4"  # p01 again after p02 and p03
    assert [str(w.message) for w in caught] == [
        f"{source.files[0]}, {where}: the rows of subject p01, session 1 come back after "
        "another session's, so the file is read whole (it needs memory for all of its rows); "
        "sort the rows by subject, session and time to read it in batches"]
    joined_batches(source, 1000, own_categories=True)


def test_an_error_in_a_later_batch_names_the_file_and_its_line(study, tmp_path):
    source = _write(tmp_path, study, _spec())
    path = tmp_path / "export.csv"
    lines = path.read_text().splitlines()
    fields = lines[7001].split(",")  # row 7,000 (0-based), in session p03-1
    fields[3] = "oops"
    lines[7001] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    for rows in (2500, 4096):
        batches = source.iter_batches(batch_rows=rows)
        assert len(next(batches).frame) == rows  # the first batch is read before the error
        with pytest.raises(DataFormatError, match="acc_z value 'oops'") as batched:
            list(batches)
        assert batched.value.line == 7002 and batched.value.path == source.files[0]
    with pytest.raises(DataFormatError) as whole:
        source.load()
    assert str(batched.value) == str(whole.value)


def test_subjects_read_only_the_key_columns_and_problems_go_to_the_whole_read(
        study, tmp_path, monkeypatch):
    source = _write(tmp_path / "a", study, _spec(), ".parquet")

    def no_whole_read(*args, **kwargs):
        raise AssertionError("read whole")

    monkeypatch.setattr("tinyhar.datasets.sessions.load_definition", no_whole_read)
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 2500)  # (else small: whole)
    from tinyhar.datasets import sessions

    scans = []
    scan = sessions._scan_source
    monkeypatch.setattr(sessions, "_scan_source", lambda *a: scans.append(1) or scan(*a))
    assert source.subjects() == ["p01", "p02", "p03"]
    assert len(list(source.iter_batches(batch_rows=2500))) == 4
    assert len(scans) == 1  # the first pass of subjects() is kept for the batches
    monkeypatch.undo()
    # a rate that does not match: refused before any batch, as the whole read refuses it
    fast = _write(tmp_path / "b", study.assign(time=study["time"] / 2), _spec(), ".parquet")
    with pytest.raises(DataFormatError, match="shows 100 Hz") as batched:
        next(fast.iter_batches(batch_rows=2500))
    with pytest.raises(DataFormatError) as whole:
        fast.load()
    assert str(batched.value) == str(whole.value)
    # a missing session and a repeated time stamp: the whole read reports them
    repeat = study["time"].where(study.index != 5000, study["time"].iloc[4999])
    for k, edit in enumerate([lambda t: t.assign(session=t["session"].where(t.index != 5000)),
                              lambda t: t.assign(time=repeat)]):
        bad = _write(tmp_path / f"c{k}", edit(study.copy()), _spec())
        with pytest.raises(DataFormatError) as batched:
            next(bad.iter_batches(batch_rows=2500))
        with pytest.raises(DataFormatError) as whole:
            bad.load()
        assert str(batched.value) == str(whole.value) and batched.value.line == 5002


def test_a_bad_time_value_is_reported_before_any_batch(study, tmp_path, monkeypatch):
    bad = study.assign(time=study["time"].astype(object))
    bad.loc[8000, "time"] = "oops"
    source = _write(tmp_path, bad, _spec())

    def no_whole_read(*args, **kwargs):
        raise AssertionError("read whole")

    monkeypatch.setattr("tinyhar.datasets.sessions.load_definition", no_whole_read)
    with pytest.raises(DataFormatError, match="time value 'oops' is not a finite number") as e:
        next(source.iter_batches(batch_rows=2500))
    assert e.value.line == 8002
    monkeypatch.undo()
    with pytest.raises(DataFormatError) as whole:
        source.load()
    assert str(e.value) == str(whole.value)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".npy"])
def test_files_of_one_subject_each_name_shared_sessions_as_the_whole_read(study, tmp_path,
                                                                           suffix):
    # session "1" of p01, p02 and p03 in three files: no file shares a name, the data set does;
    # every read names them "<subject>-<session>" (before, each file's read kept "1", and
    # per-session results such as predicted segments joined the subjects' sessions)
    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.sessions import shared_session_names

    spec = _spec(files=f"export_*{suffix}")
    if suffix == ".npy":  # numbers only: subject and session as numbers, columns by position
        table = study.assign(subject=study["subject"].str[1:].astype(float),
                             session=study["session"].astype(float),
                             label=pd.factorize(study["label"])[0].astype(float))
        order = ["time", *CHANNELS, "label", "subject", "session"]
        spec["columns"] = {c: i for i, c in enumerate(order)}
        spec["classes"] = None
    else:
        table = study
    for k, (_, part) in enumerate(table.groupby("subject", sort=True)):
        path = tmp_path / f"export_{k}{suffix}"
        if suffix == ".csv":
            part.to_csv(path, index=False)
        elif suffix == ".parquet":
            pq.write_table(pa.Table.from_pandas(part, preserve_index=False), path)
        else:
            np.save(path, part[order].to_numpy(np.float64))
    if spec["classes"] is None:
        del spec["classes"]
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(spec))
    whole = load_custom(tmp_path / "data.yaml")
    sources = session_sources(tmp_path / "data.yaml")
    assert len(sources) == 3 and shared_session_names(sources)
    names = [s for source in sources
             for s in source.load(None, True).frame["session"].unique().tolist()]
    numbers = {".npy": ["1.0", "2.0", "3.0"]}.get(suffix, ["p01", "p02", "p03"])
    expected = [f"{p}-{k}" for p in numbers for k in ("1", "2")]
    if suffix == ".npy":  # (numbers from a float column read as text, as the whole read)
        expected = [name.replace(".0", "") for name in expected]
    assert names == whole.sessions == expected
    if suffix != ".npy":  # and in batches of rows
        batched = [s for source in sources
                   for b in joined_batches(source, 997, own_categories=True, session_prefix=True)
                   for s in b.frame["session"].unique().tolist()]
        assert list(dict.fromkeys(batched)) == whole.sessions
    # names of one subject each (no name shared anywhere): kept as they are
    (tmp_path / f"export_1{suffix}").unlink()
    (tmp_path / f"export_2{suffix}").unlink()
    assert not shared_session_names(session_sources(tmp_path / "data.yaml"))


def test_a_file_that_cannot_be_read_is_left_out_of_the_naming_decision(study, tmp_path):
    from tinyhar.datasets.sessions import shared_session_names

    for subject, part in study.groupby("subject", sort=True):
        part.to_csv(tmp_path / f"export_{subject}.csv", index=False)
    (tmp_path / "export_p04.csv").write_text("time,acc_x\n1,2\n")  # no subject column
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(_spec(files="export_*.csv")))
    sources = session_sources(tmp_path / "data.yaml")
    assert len(sources) == 4 and shared_session_names(sources)  # its own read reports it
    with pytest.raises(DataFormatError, match="export_p04.csv"):
        sources[3].load(None, True)


def test_subjects_from_a_column_and_one_session_name_for_all_files(study, tmp_path):
    # the session is a constant ("day"), the subject a column: one file per subject shares
    # "day" across files, so every read names sessions "<subject>-day" (only the subject
    # column is parsed for the decision)
    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.sessions import shared_session_names

    for k, (_, part) in enumerate(study[study["session"] == "1"].groupby("subject")):
        part.drop(columns="session").to_csv(tmp_path / f"export_{k}.csv", index=False)
    spec = _spec(files="export_*.csv", constants={"session": "day"})
    del spec["columns"]["session"]
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(spec))
    sources = session_sources(tmp_path / "data.yaml")
    assert len(sources) == 3 and shared_session_names(sources)
    names = [s for source in sources for s in source.load(None, True).sessions]
    assert names == load_custom(tmp_path / "data.yaml").sessions == [
        "p01-day", "p02-day", "p03-day"]


def test_files_that_share_a_session_are_joined_into_one_source(study, tmp_path):
    """Sessions cut over files: p02's session 1 over a and b, its session 2 over b and c (a
    chain: a, b and c are one source), p03's session 2 over d and e. The joined sources read
    what the whole read reads, whole and in batches."""
    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.sessions import (
        column_session_pairs,
        join_split_sessions,
        shared_session_names,
    )

    table = study.assign(time=1000.0 + np.arange(len(study)) / 50.0)  # one clock throughout
    cuts = {"a": (0, 3700), "b": (3700, 4600), "c": (4600, 6000), "d": (6000, 7600),
            "e": (7600, 9000)}
    for name, (start, stop) in cuts.items():
        table.iloc[start:stop].to_csv(tmp_path / f"export_{name}.csv", index=False)
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(_spec(files="export_*.csv")))
    sources = session_sources(tmp_path / "data.yaml")
    pairs = column_session_pairs(sources)
    assert pairs[str(tmp_path / "export_a.csv")] == [("p01", "1"), ("p01", "2"), ("p02", "1")]
    joined = join_split_sessions(sources, pairs)
    assert [[f.rsplit("_", 1)[1] for f in s.files] for s in joined] == [
        ["a.csv", "b.csv", "c.csv"], ["d.csv", "e.csv"]]
    assert all(s.subject is None and s.session is None for s in joined)
    whole = load_custom(tmp_path / "data.yaml").frame
    prefix = shared_session_names(sources, pairs)
    read = pd.concat([s.load(None, prefix).frame for s in joined], ignore_index=True)
    assert list(read["session"].astype(str).unique()) == ["p01-1", "p01-2", "p02-1", "p02-2",
                                                          "p03-1", "p03-2"]
    pd.testing.assert_frame_equal(read.astype({k: str for k in ("label", "subject", "session")}),
                                  whole.astype({k: str for k in ("label", "subject", "session")}))
    for source in joined:
        joined_batches(source, 997, own_categories=True, session_prefix=prefix)
    assert join_split_sessions(sources, {}) == sources  # nothing known: as they are
