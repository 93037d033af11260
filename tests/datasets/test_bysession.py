"""Definitions read one session at a time give what loading them whole gives (check, describe).

The data: real HAPT segments in CSV files with planted problems (a restart, a gap,
clipping in 8 files spread over sessions, a class from one subject, unlabelled samples,
session names shared by subjects, sessions of two files), and a synthetic Parquet set.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from tinyhar.cli import app
from tinyhar.datasets import bysession
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.bysession import (
    SampleCounts,
    count_samples,
    map_file_sessions,
    map_sessions,
    split_sessions,
)
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.registry import describe, describe_dataset
from tinyhar.datasets.scaffold import check_definition, class_coverage_messages
from tinyhar.datasets.synthetic import synthesize
from tinyhar.errors import DataFormatError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # (the planted problems)
runner = CliRunner()
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
COLUMNS = ["t", "ax", "ay", "az", "gx", "gy", "gz"]
MESSY = """\
name: messy
files: "csv/*.csv"
sampling_rate_hz: 50
columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, gyro_x: gx, gyro_y: gy, gyro_z: gz,
          label: activity}
units: {time: s, acc: g, gyro: rad/s}
file_pattern: '\\d_(?P<subject>[A-C])_(?P<session>s\\d)\\.csv'
"""
ROWS = 1500  # 30 s per file


def write_messy(folder, definition: str = MESSY):
    """Files ``<part>_<subject>_<session>.csv`` (a session's two files are not adjacent).

    A: HAPT subject 1, B: 3, C: 5; each file 1,500 samples of the subject's recording
    (unlabelled stretches included). Planted: A s1 part 1 restarts (time goes back 10 s
    at row 800); B s1 part 2 has a 4 s gap; acc_x of every A and B file is clipped at
    1.6 g (8 files); C s2 part 1 has 300 samples of "jumping" (a class of one subject).
    """
    frame = load_bundled_hapt().select(subjects=["1", "3", "5"]).frame
    (folder / "csv").mkdir(parents=True)
    for subject, hapt in (("A", "1"), ("B", "3"), ("C", "5")):
        rows = frame[frame["subject"] == hapt]
        for k, (session, part) in enumerate([("s1", 1), ("s1", 2), ("s2", 1), ("s2", 2)]):
            a = k * (len(rows) // 4)
            piece = rows.iloc[a:a + ROWS]
            values = piece[CHANNELS].to_numpy(np.float64).copy()
            time = (part - 1) * ROWS / 50.0 + np.arange(ROWS) / 50.0
            label = piece["label"].astype(object).str.lower().fillna("").to_numpy().copy()
            if (subject, session, part) == ("A", "s1", 1):
                time[800:] -= 10.0
            if (subject, session, part) == ("B", "s1", 2):
                time[700:] += 4.0
            if subject in "AB":
                values[:, 0] = np.minimum(values[:, 0], 1.6)
                values[100:130, 0] = 1.6
            if (subject, session, part) == ("C", "s2", 1):
                label[:300] = "jumping"
            out = pd.DataFrame(np.column_stack([time, values]), columns=COLUMNS)
            out["activity"] = label
            out.to_csv(folder / "csv" / f"{part}_{subject}_{session}.csv", index=False)
    path = folder / "data.yaml"
    path.write_text(definition)
    return path


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    return write_messy(tmp_path_factory.mktemp("messy"))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic") / "syn"
    return synthesize(folder, 3, 0.1, session_hours=0.05, seed=1).definition


def whole_check(path, checks=None) -> dict:
    """What ``check_definition`` reported before it read by session (the whole load)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recordings = load_custom(path, checks)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    frame = recordings.frame
    labelled = frame[frame["label"].notna()]
    rate = recordings.sampling_rate_hz
    minutes = (labelled.groupby("label", observed=True).size() / rate / 60.0).to_dict()
    per_class = {c: float(minutes.get(c, 0.0)) for c in recordings.classes}
    unlabelled = float(frame["label"].isna().sum() / rate / 60.0)
    if unlabelled:
        per_class["unlabelled"] = unlabelled
    per = labelled.groupby("label", observed=True)["subject"].nunique().to_dict()
    per = {c: int(per.get(c, 0)) for c in recordings.classes}
    messages.extend(class_coverage_messages(per))
    return {"name": recordings.name, "sampling_rate_hz": rate, "channels": recordings.channels,
            "subjects": recordings.subjects, "n_sessions": len(recordings.sessions),
            "classes": list(recordings.classes), "minutes_per_class": per_class,
            "subjects_per_class": per, "warnings": messages}


def test_messy_data_has_what_was_planted(messy):
    info = whole_check(messy)
    assert info["subjects"] == ["A", "B", "C"]
    assert info["classes"][0] == "jumping" and "walking" in info["classes"]
    assert "A-s1~2" in load_custom(messy).sessions  # shared names prefixed, restart split
    assert info["n_sessions"] == 7
    assert "unlabelled" in info["minutes_per_class"]
    restart, clipping, few = info["warnings"]
    assert restart.startswith("time goes back 1 time(s)") and "now session 'A-s1~2'" in restart
    assert "in 8 file(s)/session(s)" in clipping and "; and 3 more" in clipping
    assert few.startswith("classes ['jumping', ") and "come from fewer than 2 subjects" in few


@pytest.mark.parametrize("name", ["messy", "synthetic"])
def test_check_by_session_equals_the_whole_load(name, request):
    path = request.getfixturevalue(name)
    assert check_definition(path) == whole_check(path)


def test_check_with_checks_switched_off_equals_the_whole_load(messy):
    off = {"clipping": False, "units": False}
    info = check_definition(messy, off)
    assert info == whole_check(messy, off)
    assert not any("clipping" in w for w in info["warnings"])


def test_clipping_lines_in_the_definition_order(messy):
    """Sessions A-s1 (files 1_A_s1, 2_A_s1) and A-s2 are read apart; the one warning
    names files as the whole load does: the first five in the definition's order."""
    clipping = check_definition(messy)["warnings"][1]
    named = [f"{p}_{s}_{n}.csv" for p, s, n in
             [(1, "A", "s1"), (1, "A", "s2"), (1, "B", "s1"), (1, "B", "s2"), (2, "A", "s1")]]
    positions = [clipping.index(n) for n in named]
    assert positions == sorted(positions)
    assert "2_A_s2.csv" not in clipping


@pytest.mark.parametrize("name", ["messy", "synthetic"])
def test_describe_by_session_equals_the_whole_load(name, request):
    path = request.getfixturevalue(name)
    recordings = load_custom(path)
    info = describe(path)
    hours = recordings.hours_per_class()
    assert info["hours_per_class"] == {**{c: hours.get(c, 0.0) for c in recordings.classes},
                                       **({"unlabelled": hours["unlabelled"]}
                                          if "unlabelled" in hours else {})}
    assert info == describe_dataset(recordings)
    assert info["n_samples"] == recordings.n_samples == len(recordings.frame)
    assert info["subjects"] == recordings.subjects
    assert info["n_sessions"] == len(recordings.sessions)


def test_one_session_in_memory_at_a_time(messy, synthetic):
    """Each visit sees one session's samples (a restarted session: its pieces)."""
    for path in (messy, synthetic):
        whole = load_custom(path)
        seen = map_sessions(path, lambda rec: (len(rec.frame), rec.sessions))
        assert sum(n for n, _ in seen) == len(whole.frame)
        assert [s for _, names in seen for s in names] == whole.sessions
        assert all(len(names) == 1 or names[0] + "~2" in names for _, names in seen)
    # 3 subjects x 0.1 h in sessions of 0.05 h
    assert len(map_sessions(synthetic, lambda rec: rec.n_samples)) == 6


def test_sample_counts_of_the_whole_load_equal_the_joined_sessions(messy):
    whole = SampleCounts.of(load_custom(messy))
    assert count_samples(messy) == whole
    assert whole.per_class()[None] == int(load_custom(messy).frame["label"].isna().sum())


def test_errors_name_the_file_and_line(tmp_path):
    path = write_messy(tmp_path)
    bad = tmp_path / "csv" / "2_B_s2.csv"
    lines = bad.read_text().splitlines()
    lines[41] = lines[41].replace(lines[41].split(",")[2], "oops", 1)
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError) as err:
        check_definition(path)
    assert err.value.path == str(bad) or str(bad) in str(err.value)
    assert "line 42" in str(err.value)


COLUMN_SESSIONS = """\
name: by-column
files: "*.csv"
sampling_rate_hz: 50
columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, label: activity, subject: who,
          session: run}
units: {time: s, acc: g}
"""


def _column_files(folder, runs):
    """One CSV per entry of ``runs``: [(file, [(subject, session, t0), ...]), ...]."""
    hapt = load_bundled_hapt().select(subjects=["1"]).frame.iloc[:6000]
    for name, pieces in runs:
        frames = []
        for k, (subject, session, t0) in enumerate(pieces):
            part = hapt.iloc[k * 1000:(k + 1) * 1000]
            frames.append(pd.DataFrame({
                "t": t0 + np.arange(1000) / 50.0, "ax": part["acc_x"].to_numpy(),
                "ay": part["acc_y"].to_numpy(), "az": part["acc_z"].to_numpy(),
                "activity": part["label"].astype(object).fillna("").to_numpy(),
                "who": subject, "run": session}))
        pd.concat(frames).to_csv(folder / name, index=False)
    (folder / "data.yaml").write_text(COLUMN_SESSIONS)
    return folder / "data.yaml"


@pytest.mark.parametrize("runs", [
    [("a.csv", [("1", "r1", 0.0), ("2", "r2", 0.0)]), ("b.csv", [("3", "r3", 0.0)])],
    # a session in two files: the whole load joins them
    [("a.csv", [("1", "r1", 0.0)]), ("b.csv", [("1", "r1", 100.0), ("2", "r2", 0.0)])],
    # a session name of two subjects in two files: the whole load names all "<subject>-<run>"
    [("a.csv", [("1", "r1", 0.0)]), ("b.csv", [("2", "r1", 0.0), ("2", "r2", 0.0)])],
    # ... and within one file (that file's own load names them so)
    [("a.csv", [("1", "r1", 0.0), ("2", "r1", 0.0)]), ("b.csv", [("3", "r3", 0.0)])],
])
def test_sessions_from_a_column_equal_the_whole_load(tmp_path, runs):
    path = _column_files(tmp_path, runs)
    assert check_definition(path) == whole_check(path)
    assert describe(path) == describe_dataset(load_custom(path))


def test_cli_check_and_describe_on_a_definition(messy):
    result = runner.invoke(app, ["datasets", "check", str(messy)])
    assert result.exit_code == 0, result.output
    assert "3 subject(s) (A, B, C), 7 session(s)" in result.output
    assert "3 warning(s)" in result.output
    result = runner.invoke(app, ["datasets", "describe", str(messy)])
    assert result.exit_code == 0, result.output
    assert "3 subjects: A, B, C" in result.output and "jumping" in result.output


def test_a_fallback_reads_whole_with_the_same_result(messy, monkeypatch):
    expected = check_definition(messy)

    def refuse(*args, **kwargs):
        raise bysession._Fallback

    monkeypatch.setattr(bysession, "_by_source", refuse)
    assert check_definition(messy) == expected


@pytest.fixture(scope="module")
def recording_file(synthetic, tmp_path_factory):
    """The synthetic set (6 sessions of 9,000 rows) as one tinyhar Parquet recording."""
    return load_custom(synthetic).to_parquet(tmp_path_factory.mktemp("file") / "rec.parquet")


def _spy_batches(monkeypatch, cls):
    """Count the batches ``cls.iter_batches`` yields (and their largest size)."""
    sizes: list[int] = []
    original = cls.iter_batches

    def spy(self, *args, **kwargs):
        for batch in original(self, *args, **kwargs):
            sizes.append(batch.n_samples)
            yield batch

    monkeypatch.setattr(cls, "iter_batches", spy)
    return sizes


@pytest.mark.parametrize("name", ["messy", "synthetic"])
def test_describe_reads_a_definition_in_batches(name, request, monkeypatch):
    """Batches of 400 rows (sessions of 1,500-9,000; restarts, shared names, a session of
    two files): the description of the whole load, no session held whole."""
    from tinyhar.datasets.sessions import SessionSource

    path = request.getfixturevalue(name)
    expected = describe_dataset(load_custom(path))
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 400)
    sizes = _spy_batches(monkeypatch, SessionSource)
    assert describe(path) == expected
    assert max(sizes) <= 400 and sum(sizes) == expected["n_samples"]


def test_describe_reads_a_parquet_recording_in_batches(recording_file, monkeypatch):
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.datasets.sessions import RecordingFile

    expected = describe_dataset(RecordingSet.from_parquet(recording_file))
    assert describe(recording_file) == expected  # one batch: read whole
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 4000)
    sizes = _spy_batches(monkeypatch, RecordingFile)
    monkeypatch.setattr(RecordingSet, "from_parquet", None)  # (the whole file would fail)
    assert describe(recording_file) == expected
    assert max(sizes) <= 4000 and sum(sizes) == expected["n_samples"] == 54000
    result = runner.invoke(app, ["datasets", "describe", str(recording_file)])
    assert result.exit_code == 0, result.output
    assert "3 subjects: s001, s002, s003" in result.output


def test_file_sessions_are_those_of_the_whole_file(recording_file, monkeypatch):
    """Sessions joined from batches of 4,000 rows (9,000-row sessions span 3 batches)."""
    from tinyhar.datasets.recording import RecordingSet

    whole = list(split_sessions(RecordingSet.from_parquet(recording_file)))
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 4000)
    parts = map_file_sessions(recording_file, lambda rec: rec)
    assert [p.sessions for p in parts] == [w.sessions for w in whole] and len(parts) == 6
    for part, expected in zip(parts, whole, strict=True):
        pd.testing.assert_frame_equal(part.frame, expected.frame)
        assert (part.classes, part.name, part.source) == (expected.classes, expected.name,
                                                          expected.source)


def test_sessions_from_a_column_in_batches(tmp_path, monkeypatch):
    """Names checked over all of a file's batches: a session seen in an earlier file still
    makes the data set read whole (the whole load joins it)."""
    path = _column_files(tmp_path, [("a.csv", [("1", "r1", 0.0), ("2", "r2", 0.0)]),
                                    ("b.csv", [("1", "r1", 100.0), ("3", "r3", 0.0)])])
    expected = describe_dataset(load_custom(path))
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 300)
    assert describe(path) == expected


def _rows(recordings):
    """The values of every row: time, channels, label, subject and session (as strings)."""
    frame = recordings.frame
    return frame.astype({c: object for c in ("label", "subject", "session")}).reset_index(
        drop=True)


def test_batches_of_a_given_size(messy, recording_file):
    """batch_rows: a definition's and a Parquet recording's batches of at most 997 rows
    (sessions across batches, a batch ending one session and starting the next), joined, are
    the rows of the whole load."""
    from tinyhar.datasets.recording import RecordingSet

    for path, whole, visit in ((messy, load_custom(messy), map_sessions),
                               (recording_file, RecordingSet.from_parquet(recording_file),
                                map_file_sessions)):
        parts = visit(path, lambda rec: rec, batches=True, batch_rows=997)
        assert max(p.n_samples for p in parts) <= 997 < whole.n_samples
        assert any(len(p.sessions) > 1 for p in parts)
        joined = pd.concat([_rows(p) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(joined, _rows(whole))
