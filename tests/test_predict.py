"""`tinyhar predict` and `evaluate --continuous` on CSV and NPY sessions, on sessions of
several files, and on one CSV export of several sessions (subject and session columns; a restart
inside a session; interleaved sessions, read whole), read in small batches of rows: the same
files (byte for byte) and scores as the session read whole, with windows straddling every batch
and file boundary, a gap between files, unlabelled samples and a recording resampled to the
run's rate (synthetic recordings of real HAPT segments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.helpers import assert_close_tree, train_streams_run
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import synthesize
from tinyhar.evaluate import evaluate_continuous
from tinyhar.predict import SEGMENTS_FILE, TIMELINE_FILE, WINDOWS_FILE, predict_recordings

TEST = ["s003", "s004"]
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
BATCH = 1501  # rows per batch: several per file


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 4, 0.1, session_hours=0.05, seed=3)  # 2 files of 9,000 rows per subject
    return out


@pytest.fixture(scope="module")
def run(synthetic, tmp_path_factory):
    return train_streams_run(synthetic / "data.yaml", tmp_path_factory.mktemp("runs") / "r", TEST)


def _day(synthetic, subject: str) -> pd.DataFrame:
    """A subject's two files as one recording: the second goes on 4 s after the first ends."""
    first, second = (pd.read_parquet(f) for f in
                     sorted((synthetic / "recordings").glob(f"{subject}_*.parquet")))
    second["time"] += first["time"].iloc[-1] + 4.0
    day = pd.concat([first, second], ignore_index=True)
    day["label"] = day["label"].astype(str)
    return day


def _same_outputs(run, data, tmp_path, monkeypatch, n_batches: list[int]) -> pd.DataFrame:
    """Predict ``data`` in batches of :data:`BATCH` rows and whole; the files are equal.

    ``n_batches``: how many batches each session is read in.
    """
    sources = session_sources(data)
    assert [len(list(s.iter_batches(batch_rows=BATCH))) for s in sources] == n_batches
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", BATCH)
    streamed = predict_recordings(run, tmp_path / "a", recording=str(data), subjects=TEST)
    whole = predict_recordings(run, tmp_path / "b", dataset=str(data), subjects=TEST)
    assert streamed == {**whole, "out": str(tmp_path / "a")}
    assert streamed["skipped_sessions"] == []
    for name in (WINDOWS_FILE, SEGMENTS_FILE, TIMELINE_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    return pd.read_parquet(tmp_path / "a" / WINDOWS_FILE)


def _straddled(windows: pd.DataFrame, times) -> bool:
    """Whether a window holds samples on both sides of each of these times (s)."""
    return all(((windows["t_start"] < t) & (windows["t_end"] > t)).any() for t in times)


def test_csv_sessions_of_several_files_give_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    folder = tmp_path / "csv"
    (folder / "rec").mkdir(parents=True)
    day = _day(synthetic, "s003")
    day.loc[2000:2600, "label"] = "unknown"  # unlabelled samples
    # three files whose names are not in time order; the 4 s gap lies inside "s003_x.csv"
    cuts = {"s003_y.csv": (0, 6000), "s003_x.csv": (6000, 12000), "s003_z.csv": (12000, 18000)}
    for name, (a, b) in cuts.items():
        day.iloc[a:b].to_csv(folder / "rec" / name, index=False)
    _day(synthetic, "s004").to_csv(folder / "rec" / "s004_a.csv", index=False)
    spec = yaml.safe_load((synthetic / "data.yaml").read_text(encoding="utf-8"))
    spec.update(files="rec/*.csv", file_pattern=r"(?P<subject>s\d+)_\w\.csv",
                constants={"session": "day"}, ignore_labels=["unknown"])
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))

    # each file in batches (3 x 4 of s003, 12 of s004's one file)
    windows = _same_outputs(run, folder / "data.yaml", tmp_path, monkeypatch, [12, 12])
    long = windows[windows["subject"] == "s003"]
    t = day["time"].to_numpy() - day["time"].iloc[0]
    batch_starts = [a + k for a, b in cuts.values() for k in range(BATCH, b - a, BATCH)]
    assert _straddled(long, t[batch_starts])  # every batch boundary inside a file
    assert _straddled(long, t[[6000, 12000]])  # the joins of the files
    assert long["run"].nunique() == 2  # the gap
    assert (long["true_label"] == "").any()

    by_batch = evaluate_continuous(run, str(folder / "data.yaml"), figures_dir=tmp_path / "c")
    at_once = evaluate_continuous(run, str(folder / "data.yaml"), by_session=False,
                                  figures_dir=tmp_path / "d")
    assert_close_tree(at_once, by_batch)
    assert by_batch["n_sessions"] == 2 and by_batch["subjects"] == TEST
    assert ((tmp_path / "c" / "timeline_s003.png").read_bytes()
            == (tmp_path / "d" / "timeline_s003.png").read_bytes())


def test_npy_sessions_resampled_to_the_run_give_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    # the recordings at 100 Hz (every sample twice, time halved): resampled to the run's 50 Hz
    folder = tmp_path / "npy"
    (folder / "rec").mkdir(parents=True)
    for subject in TEST:
        day = _day(synthetic, subject)[["time", *CHANNELS]].to_numpy(np.float64)
        fast = np.repeat(day, 2, axis=0)
        fast[:, 0] = np.arange(len(fast)) / 100.0
        fast[len(fast) // 2 :, 0] += 3.0  # a gap between the files
        for k, half in enumerate(np.array_split(fast, 2)):
            np.save(folder / "rec" / f"{subject}_{k}.npy", half)
    spec = {"name": "fast", "files": "rec/*.npy", "sampling_rate_hz": 100.0,
            "columns": {"time": 0, **{c: i + 1 for i, c in enumerate(CHANNELS)}},
            "file_pattern": r"(?P<subject>s\d+)_\d\.npy", "constants": {"session": "day"}}
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))

    windows = _same_outputs(run, folder / "data.yaml", tmp_path, monkeypatch, [24, 24])
    assert windows.groupby("subject")["run"].nunique().tolist() == [2, 2]  # the gaps


def _study(synthetic, folder, restart: bool = False):
    """s003's and s004's days as one CSV export with subject and session columns (rows sorted
    by subject; the session name "day" used by both: ids "<subject>-day"); with ``restart``,
    s004's recording restarts half way (time goes back: "s004-day~2")."""
    days = []
    for subject in TEST:
        day = _day(synthetic, subject)
        if restart and subject == "s004":
            day.loc[9000:, "time"] -= day["time"].iloc[9000] - 3.0
        days.append(day.assign(subject=subject, session="day"))
    table = pd.concat(days, ignore_index=True)
    table.loc[17000:17500, "label"] = "unknown"  # unlabelled samples
    folder.mkdir(parents=True)
    table.to_csv(folder / "export.csv", index=False)
    spec = yaml.safe_load((synthetic / "data.yaml").read_text(encoding="utf-8"))
    spec["columns"].update(subject="subject", session="session")
    spec.update(files="export.csv", ignore_labels=["unknown"])
    del spec["file_pattern"]
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    return table


@pytest.mark.parametrize("batch", [997, 1501, 6000])
def test_sessions_from_a_column_give_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch, batch):
    table = _study(synthetic, tmp_path / "csv")
    monkeypatch.setattr("tests.test_predict.BATCH", batch)
    windows = _same_outputs(run, tmp_path / "csv" / "data.yaml", tmp_path, monkeypatch,
                            [-(-36000 // batch)])
    assert windows["session"].unique().tolist() == ["s003-day", "s004-day"]
    assert windows.groupby("session")["run"].nunique().tolist() == [2, 2]  # the 4 s gaps
    assert (windows["true_label"] == "").any()
    t = table["time"].to_numpy()[:18000] - table["time"].iloc[0]
    ends = t[[k for k in range(batch, 18000, batch) if abs(k - 9000) > 200]]  # (not at the gap)
    assert _straddled(windows[windows["subject"] == "s003"], ends)  # batch boundaries


def test_a_session_name_shared_across_files_is_prefixed_as_in_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    # one export per subject, both naming their session "day": no file shares the name, the
    # data set does. Before, each file's read kept "day", and the two subjects' windows were
    # one session in the segments (and their smoothing ran across both)
    table = _study(synthetic, tmp_path / "csv")
    for subject in TEST:
        table[table["subject"] == subject].to_csv(tmp_path / "csv" / f"export_{subject}.csv",
                                                  index=False)
    (tmp_path / "csv" / "export.csv").unlink()
    spec = yaml.safe_load((tmp_path / "csv" / "data.yaml").read_text(encoding="utf-8"))
    (tmp_path / "csv" / "data.yaml").write_text(yaml.safe_dump({**spec, "files": "export_*"}))
    windows = _same_outputs(run, tmp_path / "csv" / "data.yaml", tmp_path, monkeypatch,
                            [-(-18000 // BATCH)] * 2)
    assert windows["session"].unique().tolist() == ["s003-day", "s004-day"]
    segments = pd.read_csv(tmp_path / "a" / SEGMENTS_FILE)
    assert segments["session"].unique().tolist() == ["s003-day", "s004-day"]


def test_a_restart_in_a_column_session_gives_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    _study(synthetic, tmp_path / "csv", restart=True)
    with pytest.warns(UserWarning, match="line 27002: 179.98 s -> 3 s, now session 's004-day~2'"):
        windows = _same_outputs(run, tmp_path / "csv" / "data.yaml", tmp_path, monkeypatch,
                                [24])
        by_batch = evaluate_continuous(run, str(tmp_path / "csv" / "data.yaml"),
                                       figures_dir=tmp_path / "c")
        at_once = evaluate_continuous(run, str(tmp_path / "csv" / "data.yaml"),
                                      by_session=False, figures_dir=tmp_path / "d")
    assert windows["session"].unique().tolist() == ["s003-day", "s004-day", "s004-day~2"]
    first = windows.groupby("session")["t_start"].min()
    assert first.tolist() == [0.0, 0.0, 0.0]
    assert_close_tree(at_once, by_batch)
    assert by_batch["n_sessions"] == 3


def test_interleaved_column_sessions_are_read_whole_with_a_warning(
        run, synthetic, tmp_path, monkeypatch):
    table = _study(synthetic, tmp_path / "csv")
    # s003's and s004's rows alternate in blocks of 500 (an export sorted by time)
    block = (np.arange(len(table)) % 18000) // 500
    table = table.iloc[np.lexsort((table["subject"].to_numpy(), block))]
    table.to_csv(tmp_path / "csv" / "export.csv", index=False)
    with pytest.warns(UserWarning, match="come back after another session's, so the file is "
                      "read whole"):
        _same_outputs(run, tmp_path / "csv" / "data.yaml", tmp_path, monkeypatch, [1])


def test_a_session_restarted_in_its_next_file_gives_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    # s003's day as two files, the second starting 60 s before the first ends (a restart at
    # the join: "day~2"); s004's day with a restart inside its file
    folder = tmp_path / "csv"
    (folder / "rec").mkdir(parents=True)
    day = _day(synthetic, "s003")
    day.loc[9000:, "time"] -= 60.0
    day.iloc[:9000].to_csv(folder / "rec" / "s003_b.csv", index=False)
    day.iloc[9000:].to_csv(folder / "rec" / "s003_a.csv", index=False)
    other = _day(synthetic, "s004")
    other.loc[12000:, "time"] -= 100.0
    other.to_csv(folder / "rec" / "s004_a.csv", index=False)
    spec = yaml.safe_load((synthetic / "data.yaml").read_text(encoding="utf-8"))
    spec.update(files="rec/*.csv", file_pattern=r"(?P<subject>s\d+)_\w\.csv",
                constants={"session": "day"})
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    with pytest.warns(UserWarning) as caught:  # per source when read one at a time
        windows = _same_outputs(run, folder / "data.yaml", tmp_path, monkeypatch, [12, 12])
    for restart in (f"{folder}/rec/s003_a.csv, line 2: 179.98 s -> 123.98 s, now session "
                    "'day~2'", f"{folder}/rec/s004_a.csv, line 12002: 243.96 s -> 143.98 s, "
                    "now session 'day~2'"):
        assert any(f"1 time(s), so the recording restarted there: the rows from each restart "
                   f"on form a new session ({restart})" in str(w.message) for w in caught)
    assert windows["session"].unique().tolist() == ["s003-day", "s003-day~2", "s004-day",
                                                    "s004-day~2"]


def test_a_session_shorter_than_one_window_gives_the_outputs_of_a_whole_read(
        run, synthetic, tmp_path, monkeypatch):
    """A session of 50 samples has no window: the other sessions are predicted as in a
    whole read (it used to stop with a ValueError: its empty part had no gravity)."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(synthetic, copy)
    short = sorted((copy / "recordings").glob("s003_*.parquet"))[1]
    pd.read_parquet(short).iloc[:50].to_parquet(short, index=False)
    windows = _same_outputs(run, copy / "data.yaml", tmp_path, monkeypatch, [6] * 5 + [1, 6, 6])
    assert set(windows["session"]) == {"recordings/s003_0000", "recordings/s004_0000",
                                       "recordings/s004_0001"}


def test_segment_times_of_a_long_recording_keep_their_fraction(run, synthetic, tmp_path):
    """segments.csv wrote start and end with 6 significant digits: from 1000 s on they were
    rounded (a day: 0.1 s, a week: whole seconds, so segments ended before they began). Two
    minutes of s003 with a gap of three days in between: the times are those of the windows."""
    day = _day(synthetic, "s003").iloc[:6000].copy()
    day.loc[3000:, "time"] += 3 * 86400.0 + 0.64
    folder = tmp_path / "csv"
    folder.mkdir()
    day.to_csv(folder / "s003_a.csv", index=False)
    spec = yaml.safe_load((synthetic / "data.yaml").read_text(encoding="utf-8"))
    spec.update(files="*.csv", file_pattern=r"(?P<subject>s\d+)_\w\.csv")
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    predict_recordings(run, tmp_path / "p", recording=str(folder / "data.yaml"))
    windows = pd.read_parquet(tmp_path / "p" / WINDOWS_FILE)
    segments = pd.read_csv(tmp_path / "p" / SEGMENTS_FILE)
    assert windows["t_start"].max() > 3 * 86400
    off = np.abs(segments["start"].to_numpy()[:, None] - windows["t_start"].to_numpy()[None])
    assert off.min(axis=1).max() < 1e-6  # each segment starts at a window's start
    assert (segments["end"] > segments["start"]).all()
    late = segments[segments["start"] > 86400]
    assert late["end"].iloc[:-1].to_numpy() == pytest.approx(late["start"].iloc[1:], abs=1e-6)


# ------------------------------------------------------------------ clock time (date-times)
S003_START = "2016-11-13T02:18:00.000Z"  # written without an offset (UTC)
S004_START = "2016-11-14T08:30:00.500Z"  # written as 09:30:00.500+01:00
S004_RESTART = "2016-11-14T08:29:00.000Z"  # s004's recording restarts at row 12000 (+01:00)


def _clock_study(synthetic, folder, datetime: bool = True):
    """s003's and s004's days (with their 4 s gaps) as one CSV each, time as ISO 8601 text
    from the clock times above (s004's with a +01:00 offset; its recording restarts, as
    "s004-day~2"), or with ``datetime`` false as the same times in s."""
    (folder / "rec").mkdir(parents=True)
    for subject in TEST:
        day = _day(synthetic, subject)
        seconds = day["time"].to_numpy() - day["time"].iloc[0]
        if subject == "s003":
            stamps, offset = pd.Timestamp(S003_START) + pd.to_timedelta(seconds, "s"), ""
        else:
            seconds[12000:] -= seconds[12000]  # the restart: 08:29:00 UTC from here
            stamps = (pd.Timestamp(S004_START) + pd.to_timedelta(seconds, "s")).where(
                np.arange(len(day)) < 12000,
                pd.Timestamp(S004_RESTART) + pd.to_timedelta(seconds, "s"))
            stamps, offset = stamps + pd.Timedelta(1, "h"), "+01:00"
        text = stamps.round("ms").strftime("%Y-%m-%d %H:%M:%S.%f").str[:-3] + offset
        day["time"] = text.to_numpy() if datetime else seconds
        day.to_csv(folder / "rec" / f"{subject}.csv", index=False)
    spec = yaml.safe_load((synthetic / "data.yaml").read_text(encoding="utf-8"))
    spec["units"]["time"] = "datetime" if datetime else "s"
    spec.update(files="rec/*.csv", file_pattern=r"(?P<subject>s\d+)\.csv",
                constants={"session": "day"})
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    return folder / "data.yaml"


def _clock(origin: str, seconds) -> list[str]:
    """``origin`` + ``seconds`` as ISO 8601 UTC text to the millisecond (pandas' arithmetic)."""
    stamps = (pd.Timestamp(origin) + pd.to_timedelta(np.asarray(seconds), "s")).round("ms")
    return [s.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" for s in stamps]


def test_datetime_recordings_get_clock_times_in_the_outputs(
        run, synthetic, tmp_path, monkeypatch):
    definition = _clock_study(synthetic, tmp_path / "dates")
    with pytest.warns(UserWarning, match="now session '(s004-)?day~2'"):  # (both reads)
        windows = _same_outputs(run, definition, tmp_path, monkeypatch, [12, 12])
    segments = pd.read_csv(tmp_path / "a" / SEGMENTS_FILE, keep_default_na=False)
    assert segments.columns.tolist() == ["session", "start", "end", "start_utc", "end_utc",
                                         "activity", "mean_confidence", "n_windows"]
    origins = {"s003-day": S003_START, "s004-day": S004_START, "s004-day~2": S004_RESTART}
    assert segments["session"].unique().tolist() == list(origins)
    for session, origin in origins.items():
        mine = segments[segments["session"] == session]
        assert mine["start_utc"].tolist() == _clock(origin, mine["start"])
        assert mine["end_utc"].tolist() == _clock(origin, mine["end"])
        assert mine["start_utc"].iloc[0] == _clock(origin, [mine["start"].iloc[0]])[0]
    assert segments["start_utc"].iloc[0] == "2016-11-13T02:18:00.000Z"  # the first window
    # windows.parquet: UTC timestamps (ms) after t_start, t_end
    columns = windows.columns.tolist()
    assert columns[3:7] == ["t_start", "t_end", "start_utc", "end_utc"]
    assert str(windows["start_utc"].dtype) == "datetime64[ms, UTC]"
    for session, origin in origins.items():
        mine = windows[windows["session"] == session]
        expected = (pd.Timestamp(origin) + pd.to_timedelta(mine["t_start"].to_numpy(), "s")
                    ).round("ms")
        assert mine["start_utc"].tolist() == expected.tolist()
    assert (windows["end_utc"] - windows["start_utc"] == pd.Timedelta(2.56, "s")).all()
    # a tinyhar .parquet written from the recordings keeps them (read in batches)
    with pytest.warns(UserWarning, match="now session 's004-day~2'"):
        load_custom(definition).to_parquet(tmp_path / "rec.parquet")
    predict_recordings(run, tmp_path / "p", recording=str(tmp_path / "rec.parquet"))
    assert ((tmp_path / "p" / SEGMENTS_FILE).read_bytes()
            == (tmp_path / "a" / SEGMENTS_FILE).read_bytes())

    # the same samples with time in s: the files as before (no clock columns), the same
    # windows and segments
    numbers = _clock_study(synthetic, tmp_path / "numbers", datetime=False)
    with pytest.warns(UserWarning, match="now session 's004-day~2'"):
        predict_recordings(run, tmp_path / "n", recording=str(numbers), subjects=TEST)
    plain = pd.read_csv(tmp_path / "n" / SEGMENTS_FILE, keep_default_na=False)
    assert plain.columns.tolist() == ["session", "start", "end", "activity", "mean_confidence",
                                      "n_windows"]
    pd.testing.assert_frame_equal(segments.drop(columns=["start_utc", "end_utc"]), plain,
                                  check_exact=False, atol=1e-6, rtol=0)
    plain_windows = pd.read_parquet(tmp_path / "n" / WINDOWS_FILE)
    assert plain_windows.columns.tolist() == [c for c in columns if not c.endswith("_utc")]
    pd.testing.assert_frame_equal(windows.drop(columns=["start_utc", "end_utc"]), plain_windows,
                                  check_exact=False, atol=1e-6, rtol=0)


def test_evaluate_continuous_timelines_get_the_clock_origins(run, synthetic, tmp_path,
                                                             monkeypatch):
    """evaluate --continuous draws its timelines on the clock axis, per session or whole."""
    import tinyhar.reporting.timeline as timeline

    definition = _clock_study(synthetic, tmp_path / "dates")
    seen = []
    draw = timeline.plot_timeline
    monkeypatch.setattr(timeline, "plot_timeline",
                        lambda *a, **kw: seen.append(kw.get("origins")) or draw(*a, **kw))
    for by_session in (True, False):
        seen.clear()
        with pytest.warns(UserWarning, match="now session '(s004-)?day~2'"):
            evaluate_continuous(run, str(definition), figures_dir=tmp_path / str(by_session),
                                by_session=by_session)
        clock = {s: pd.Timestamp(t).timestamp() for s, t in (
            ("s003-day", S003_START), ("s004-day", S004_START), ("s004-day~2", S004_RESTART))}
        merged = {k: v for origins in seen for k, v in (origins or {}).items()}
        assert len(seen) == 2 and merged == pytest.approx(clock, abs=1e-6)
