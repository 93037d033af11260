"""Clock time of date-time recordings: each session's first time stamp (s since the Unix
epoch, UTC) kept as its origin by the whole read, the per-session and per-batch reads, a
tinyhar Parquet recording and the RecordingSet methods; none for numeric time."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tinyhar.datasets.bysession import map_file_sessions, map_sessions, split_sessions
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.recording import RecordingSet, joined_origins
from tinyhar.datasets.sessions import RecordingFile, session_sources
from tinyhar.errors import DataFormatError

A_START = 1479003480.0  # 2016-11-13 02:18:00 UTC (`date -u -d "2016-11-13 02:18" +%s`)
B_START = 1479112200.5  # 2016-11-14 08:30:00.5 UTC, written as 09:30:00.500+01:00
RESTART = 1479112140.0  # b.csv's recording restarts at 08:29:00 UTC (time goes back)
N = 60  # rows per piece at 100 Hz


def _stamps(first: str, n: int) -> list[str]:
    """``n`` ISO 8601 stamps 10 ms apart from ``first`` (its offset kept as text)."""
    base, offset = (first[:-6], first[-6:]) if first[-6] in "+-" else (first, "")
    times = pd.Timestamp(base) + pd.to_timedelta(np.arange(n) * 10, unit="ms")
    return [t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + offset for t in times]


def _write(folder, datetime: bool = True):
    """a.csv (no offset: UTC) and b.csv (+01:00, restarting half way: "b~2"); the same
    samples with numeric time (s) when not ``datetime``."""
    rows = {"a": _stamps("2016-11-13 02:18:00.000", 2 * N),
            "b": _stamps("2016-11-14T09:30:00.500+01:00", N)
            + _stamps("2016-11-14T09:29:00.000+01:00", N)}
    for name, stamps in rows.items():
        t = stamps if datetime else np.r_[np.arange(N) / 100, np.arange(N) / 100
                                          + (0 if name == "b" else N / 100)]
        pd.DataFrame({"t": t, "x": 0.0, "y": 0.0, "z": 1.0}).to_csv(folder / f"{name}.csv",
                                                                  index=False)
    (folder / "data.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 100\n"
        "columns: {time: t, acc_x: x, acc_y: y, acc_z: z}\n"
        f"units: {{time: {'datetime' if datetime else 's'}}}\n"
        "file_pattern: '(?P<subject>\\w+)\\.csv'\n")
    return folder / "data.yaml"


ORIGINS = {"a": A_START, "b": B_START, "b~2": RESTART}


def test_a_datetime_definition_keeps_each_sessions_clock_origin(tmp_path):
    # (the restart's times as date-times: 08:30:01.090 UTC is b's 60th row)
    with pytest.warns(UserWarning, match=r"b.csv, line 62: 2016-11-14T08:30:01.090Z -> "
                      r"2016-11-14T08:29:00.000Z, now session 'b~2'"):
        rec = load_custom(_write(tmp_path))
    assert rec.origins == ORIGINS  # exactly: whole ms since the epoch, read as float64
    assert rec.frame.groupby("session", observed=True)["time"].min().tolist() == [0, 0, 0]
    # the RecordingSet methods keep the origins of the sessions they keep
    assert rec.select(subjects=["b"]).origins == {"b": B_START, "b~2": RESTART}
    assert rec.select(channels=["acc_x", "acc_y", "acc_z"]).origins == ORIGINS
    assert [p.origins for p in split_sessions(rec)] == [{k: v} for k, v in ORIGINS.items()]
    assert RecordingSet.concat(list(split_sessions(rec))).origins == ORIGINS
    # and a tinyhar Parquet recording stores them
    rec.to_parquet(tmp_path / "rec.parquet")
    assert RecordingSet.from_parquet(tmp_path / "rec.parquet").origins == ORIGINS


def test_numeric_time_has_no_origins(tmp_path):
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        rec = load_custom(_write(tmp_path, datetime=False))
    assert rec.origins is None
    rec.to_parquet(tmp_path / "rec.parquet")
    stored = json.loads(pq.read_schema(tmp_path / "rec.parquet").metadata[b"tinyhar"])
    assert "origins" not in stored
    assert RecordingSet.from_parquet(tmp_path / "rec.parquet").origins is None


def test_per_session_and_per_batch_reads_keep_the_origins_of_the_whole_read(tmp_path):
    path = _write(tmp_path)
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        sources = session_sources(path)
        assert [s.load().origins for s in sources] == [{"a": A_START},
                                                       {"b": B_START, "b~2": RESTART}]
        batches = [b for s in sources for b in s.iter_batches(batch_rows=25)]
        assert len(batches) == 10  # (b's batch 3 ends "b" and starts "b~2")
        assert joined_origins(batches[:5]) == {"a": A_START}
        assert joined_origins(batches[5:]) == {"b": B_START, "b~2": RESTART}
        assert batches[7].origins == {"b": B_START, "b~2": RESTART}
        assert map_sessions(path, lambda r: r.origins) == [{"a": A_START},
                                                           {"b": B_START, "b~2": RESTART}]
        assert joined_origins(map_sessions(path, lambda r: r, batches=True,
                                           batch_rows=25)) == ORIGINS
        whole = load_custom(path)
    whole.to_parquet(tmp_path / "rec.parquet")
    file = RecordingFile(str(tmp_path / "rec.parquet"))
    assert [b.origins for b in file.iter_batches(batch_rows=100)] == [
        {"a": A_START}, ORIGINS, {"b~2": RESTART}]  # rows 1-100, 101-200 (a, b, b~2), 201-240
    assert map_file_sessions(tmp_path / "rec.parquet", lambda r: r.origins,
                             batch_rows=100) == [{k: v} for k, v in ORIGINS.items()]


def test_restarts_and_repeats_name_their_date_times(tmp_path):
    path = _write(tmp_path)
    with pytest.warns(UserWarning, match=r"line 62: 2016-11-14T08:30:01.090Z -> "
                      r"2016-11-14T08:29:00.000Z, now session 'b~2'"):  # read per batch
        for source in session_sources(path):
            list(source.iter_batches(batch_rows=25))
    with pytest.warns(UserWarning, match=r"line 62: 2016-11-14T08:30:01.090Z -> "
                      r"2016-11-14T08:29:00.000Z, now session 'b~2'"):  # per session
        map_sessions(path, lambda r: None)
    table = pd.read_csv(tmp_path / "a.csv")
    table.loc[5, "t"] = table.loc[4, "t"]
    table.to_csv(tmp_path / "a.csv", index=False)
    with pytest.raises(DataFormatError, match=r"a.csv, line 7, column t: time "
                       r"2016-11-13T02:18:00.040Z repeats a sample of session 'a'"), \
            pytest.warns(UserWarning, match="now session 'b~2'"):
        load_custom(path)


def test_stored_origins_that_are_not_numbers_are_refused(tmp_path):
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        rec = load_custom(_write(tmp_path))
    rec.origins = {"a": "2016-11-13"}
    rec.to_parquet(tmp_path / "rec.parquet")
    with pytest.raises(DataFormatError, match=r"rec.parquet: the origin of session 'a' must be "
                       "a finite number of seconds since the Unix epoch, got '2016-11-13'"):
        RecordingSet.from_parquet(tmp_path / "rec.parquet")


def _steps(n: int) -> np.ndarray:
    """0, 0.01, ... (n values): k / 100 s, each the float64 nearest to it."""
    return np.arange(n) / 100


def test_relative_times_of_date_times_are_exact(tmp_path):
    # the session's first time stamp is subtracted in integer ns: 10 ms is 0.01, not 0.00999999
    path = _write(tmp_path)
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        whole = load_custom(path)
        batches = [b for s in session_sources(path) for b in s.iter_batches(batch_rows=25)]
    expected = np.r_[_steps(2 * N), _steps(N), _steps(N)]  # a, b, b~2
    np.testing.assert_array_equal(whole.frame["time"].to_numpy(), expected)
    np.testing.assert_array_equal(np.concatenate([b.frame["time"] for b in batches]), expected)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_relative_times_of_parquet_timestamps_are_exact(tmp_path, unit):
    import pyarrow as pa

    stamps = pd.Timestamp("2016-11-13 02:18:00.5") + pd.to_timedelta(np.arange(2 * N) * 10,
                                                                     unit="ms")
    if unit == "s":  # whole seconds: one sample a second
        stamps = pd.Timestamp("2016-11-13 02:18:00") + pd.to_timedelta(np.arange(2 * N), "s")
    table = pa.table({"t": pa.array(stamps.to_numpy(), pa.timestamp(unit, "UTC")),
                      "x": np.zeros(2 * N), "y": np.zeros(2 * N), "z": np.ones(2 * N)})
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=25)
    rate = 1 if unit == "s" else 100
    (tmp_path / "data.yaml").write_text(
        f"files: '*.parquet'\nsampling_rate_hz: {rate}\n"
        "columns: {time: t, acc_x: x, acc_y: y, acc_z: z}\nunits: {time: datetime}\n"
        "constants: {subject: s1}\n")
    rec = load_custom(tmp_path / "data.yaml")
    expected = np.arange(2 * N) / rate
    np.testing.assert_array_equal(rec.frame["time"].to_numpy(), expected)
    assert rec.origins == {"a": A_START + (0 if unit == "s" else 0.5)}
    source, = session_sources(tmp_path / "data.yaml")
    batches = list(source.iter_batches(batch_rows=25))
    assert len(batches) == 5
    np.testing.assert_array_equal(np.concatenate([b.frame["time"] for b in batches]), expected)
    assert joined_origins(batches) == rec.origins


def _recordings_folder(rec: RecordingSet, folder):
    """One tinyhar Parquet recording per session and the data.yaml tinyhar writes for them
    (time read from the column ``time`` in s, as label import and recordings import do)."""
    from tinyhar.datasets.phone import DEFINITION_FILE, _definition_text

    folder.mkdir()
    for part in split_sessions(rec):
        part.to_parquet(folder / f"{part.sessions[0].replace('~', '_')}.parquet")
    (folder / DEFINITION_FILE).write_text(_definition_text("mine", rec.sampling_rate_hz,
                                                           rec.has_gyro, rec.classes, None))
    return folder / DEFINITION_FILE


def test_origins_survive_tinyhar_parquet_read_through_a_definition(tmp_path):
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        rec = load_custom(_write(tmp_path))
    path = _recordings_folder(rec, tmp_path / "copies")
    again = load_custom(path)
    assert again.origins == ORIGINS
    np.testing.assert_array_equal(again.frame["time"], rec.frame["time"])
    sources = session_sources(path)
    assert joined_origins([s.load() for s in sources]) == ORIGINS
    batches = [b for s in sources for b in s.iter_batches(batch_rows=25)]
    assert joined_origins(batches) == ORIGINS
    assert all(set(b.origins) == set(b.sessions) for b in batches)
    assert joined_origins(map_sessions(path, lambda r: r)) == ORIGINS
    # a numeric-time recording's copies still have none
    numbers = tmp_path / "numeric"
    numbers.mkdir()
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        numeric = load_custom(_write(numbers, datetime=False))
    assert load_custom(_recordings_folder(numeric, numbers / "copies")).origins is None


SPANS = {"a": ("2016-11-13T02:18:00.000Z", "2016-11-13T02:18:01.190Z"),
         "b": ("2016-11-14T08:30:00.500Z", "2016-11-14T08:30:01.090Z"),
         "b~2": ("2016-11-14T08:29:00.000Z", "2016-11-14T08:29:00.590Z")}


def test_check_and_describe_give_each_sessions_clock_span(tmp_path):
    from typer.testing import CliRunner

    from tinyhar.cli import app
    from tinyhar.datasets.registry import describe
    from tinyhar.datasets.scaffold import check_definition

    path = _write(tmp_path)
    assert check_definition(path)["clock_spans"] == SPANS
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        assert describe(path)["clock_spans"] == SPANS
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        whole = load_custom(path)
    copies = _recordings_folder(whole, tmp_path / "copies")
    assert check_definition(copies)["clock_spans"] == SPANS  # (origins kept: no restart)
    whole.to_parquet(tmp_path / "rec.parquet")
    assert describe(tmp_path / "rec.parquet")["clock_spans"] == SPANS
    for command in ("check", "describe"):
        result = CliRunner().invoke(app, ["datasets", command, str(path)])
        assert result.exit_code == 0, result.output
        assert "clock time (UTC)" in result.output
        for session, (first, last) in SPANS.items():
            assert f"{session} {first} {last}" in " ".join(
                result.output.replace("│", " ").split()), result.output
    # numeric time: no clock spans
    numbers = tmp_path / "numeric"
    numbers.mkdir()
    path = _write(numbers, datetime=False)
    assert "clock_spans" not in check_definition(path)
    with pytest.warns(UserWarning, match="now session 'b~2'"):
        assert "clock_spans" not in describe(path)
    for command in ("check", "describe"):
        result = CliRunner().invoke(app, ["datasets", command, str(path)])
        assert result.exit_code == 0 and "UTC" not in result.output, result.output
