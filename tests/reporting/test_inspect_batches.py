"""tinyhar inspect reading each session in batches of rows: the report of whole sessions.

The data: real HAPT rows (several classes, unlabelled stretches) in CSV files with planted
problems, each placed across the edges of batches of 997 rows: gaps (one exactly at a batch
edge), clipped runs crossing an edge, a dead axis, acceleration in m/s^2 and angular rate in
deg/s declared as g and rad/s, a rate that is not the declared one, a session without still
spans (the gravity level's fallback), a session too short for a window; the same rows with
the sessions in a column of one file (a batch ends one session and starts the next), and as
a tinyhar Parquet recording.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.datasets.test_bysession import messy  # noqa: F401 (the fixture)
from tinyhar.datasets import checks
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.bysession import split_sessions
from tinyhar.datasets.custom import load_custom
from tinyhar.reporting import inspect as inspect_module
from tinyhar.reporting.inspect import REPORT_FILE, inspect_dataset
from tinyhar.windows.windowing import make_windows

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # (the planted problems)
CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
OFF = {"sampling_rate": False, "units": False, "clipping": False}
BATCH = 997  # rows per batch: sessions span many batches, edges fall anywhere
COLUMNS = "{time: t, acc_x: acc_x, acc_y: acc_y, acc_z: acc_z, gyro_x: gyro_x, gyro_y: gyro_y, " \
          "gyro_z: gyro_z, label: label"
BY_FILE = f"""\
name: faults
files: "csv/*.csv"
sampling_rate_hz: 50
columns: {COLUMNS}}}
units: {{time: s, acc: g, gyro: rad/s}}
file_pattern: '(?P<subject>p\\d)_(?P<session>[a-z]+)\\.csv'
"""
BY_COLUMN = f"""\
name: faults
files: all.csv
sampling_rate_hz: 50
columns: {COLUMNS}, subject: subject, session: session}}
units: {{time: s, acc: g, gyro: rad/s}}
"""


def _sessions() -> list[tuple[str, str, pd.DataFrame]]:
    """(subject, session, rows with columns t, CHANNELS, label) of the planted sessions."""
    frame = load_bundled_hapt().select(subjects=["1", "3"]).frame
    rows = frame[CHANNELS].to_numpy(np.float64)
    labels = frame["label"].astype(object).str.lower().fillna("").to_numpy()
    out = []

    def session(subject, name, a, n, rate=50.0):
        values = rows[a:a + n].copy()
        label = labels[a:a + n].copy()
        return subject, name, values, label, np.arange(n) / rate

    # gaps (3 s exactly at the edge of batches 3 and 4, 0.1 s inside batch 5), an
    # unlabelled stretch, acc_x clipped at 2 g in runs across the edge at row 3988
    subject, name, values, label, time = session("p1", "gaps", 0, 6000)
    time[3 * BATCH:] += 3.0
    time[4500:] += 0.1
    label[1000:1400] = ""
    values[:, 0] = np.minimum(values[:, 0], 2.0)
    values[3980:4000, 0] = 2.0
    values[100:190, 0] = 2.0
    out.append((subject, name, values, label, time))
    subject, name, values, label, time = session("p1", "metres", 6000, 4000)
    values[:, :3] *= 9.80665  # m/s^2 declared as g
    out.append((subject, name, values, label, time))
    subject, name, values, label, time = session("p2", "degrees", 12000, 4000)
    values[:, 3:] = np.degrees(values[:, 3:])  # deg/s declared as rad/s
    values[2500:2700, 5] = values[2500:2700, 5].min()  # runs at gyro_z's minimum
    out.append((subject, name, values, label, time))
    subject, name, values, label, time = session("p2", "dead", 16000, 5000, rate=45.0)
    values[:, 5] = 0.25  # a dead gyro_z, and 45 Hz declared as 50 Hz
    out.append((subject, name, values, label, time))
    subject, name, values, label, time = session("p3", "moving", 20000, 3000)
    values[:, :3] += 0.3 * np.sin(np.arange(3000) / 3.0)[:, None]  # never still
    out.append((subject, name, values, label, time))
    out.append(session("p3", "short", 26000, 100))  # too short for a window
    return [(s, n, pd.DataFrame({"t": t, **dict(zip(CHANNELS, v.T, strict=True)),
                                 "label": lab}))
            for s, n, v, lab, t in out]


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    """The planted sessions: one CSV file each, the same in one file, as Parquet."""
    folder = tmp_path_factory.mktemp("faults")
    (folder / "csv").mkdir()
    parts = _sessions()
    for subject, session, rows in parts:
        rows.to_csv(folder / "csv" / f"{subject}_{session}.csv", index=False)
    (folder / "by_file.yaml").write_text(BY_FILE)
    pd.concat([rows.assign(subject=s, session=n) for s, n, rows in parts]).to_csv(
        folder / "all.csv", index=False)
    (folder / "by_column.yaml").write_text(BY_COLUMN)
    load_custom(folder / "by_file.yaml", OFF).to_parquet(
        folder / "all.parquet")
    return folder


def _same_reports(a, b, out_a, out_b):
    assert sorted(p.name for p in out_a.iterdir()) == sorted(p.name for p in out_b.iterdir())
    for file in out_a.iterdir():  # report.md and the PNGs, byte for byte
        assert file.read_bytes() == (out_b / file.name).read_bytes(), file.name
    pd.testing.assert_frame_equal(a.sessions, b.sessions, check_exact=True)
    pd.testing.assert_frame_equal(a.minutes, b.minutes, check_exact=True)
    assert (a.windows_per_class, a.findings, a.advice) == (b.windows_per_class, b.findings,
                                                          b.advice)


def spy_visits(monkeypatch) -> list[int]:
    """The rows of each batch (or session) inspect is given, from now on."""
    sizes: list[int] = []
    original = inspect_module._Inspector.__call__

    def spy(self, rec):
        sizes.append(rec.n_samples)
        return original(self, rec)

    monkeypatch.setattr(inspect_module._Inspector, "__call__", spy)
    return sizes


def _parts(dataset, batch_rows):
    inspector = inspect_module._Inspector(2.56, 1.28, 0.8, dataset)
    inspect_module._load_parts(dataset, None, inspector, batch_rows)
    return inspector.finish()


@pytest.mark.parametrize("name", ["by_file.yaml", "by_column.yaml", "all.parquet"])
def test_batches_give_the_report_of_whole_sessions(faults, name, tmp_path, monkeypatch):
    """Batches of 997 rows: the report of each session read whole, byte for byte, and the
    same per-window values of the timelines."""
    path = faults / name
    whole = inspect_dataset(path, tmp_path / "whole", batch_rows=10**9)
    text = (tmp_path / "whole" / REPORT_FILE).read_text()
    findings = "\n".join(whole.findings)
    # the planted problems were found
    assert "gaps (subject p1): 2 gap(s) in the time column, the longest 3.02 s (first after " \
           f"sample {3 * BATCH})" in findings
    assert "gaps (subject p1): acc_x " in findings and "at 2 g" in findings
    assert "metres (subject p1)" in findings and "look like m/s^2" in findings
    assert "degrees (subject p2)" in findings and "look like deg/s" in findings
    assert "dead (subject p2): gyro_z (std 0) do not move" in findings
    assert "dead (subject p2)" in findings and "shows 45 Hz" in findings
    rows = whole.sessions.set_index("session")
    assert rows.loc["moving", "gravity_g"] == pytest.approx(1.0, abs=0.1)
    assert rows.loc["short", "findings"] == "ok" and "short" not in text.split("## Plots")[1]
    assert set(whole.windows_per_class) == {"laying", "sitting", "standing", "walking",
                                            "walking_downstairs", "walking_upstairs"}
    sizes = spy_visits(monkeypatch)
    for batch_rows in (BATCH, 4096):
        sizes.clear()
        out = tmp_path / f"b{batch_rows}"
        _same_reports(inspect_dataset(path, out, batch_rows=batch_rows), whole,
                      out, tmp_path / "whole")
        assert max(sizes) <= batch_rows and sum(sizes) == 22100  # (no session read whole)
    for a, b in zip(_parts(path, BATCH), _parts(path, 10**9), strict=True):
        assert a.row == b.row and a.drawn == b.drawn
        for field in ("starts", "labels", "magnitude"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert a.means.keys() == b.means.keys()
        for label, mean in a.means.items():
            np.testing.assert_array_equal(mean, b.means[label])


def test_windows_are_those_of_make_windows(faults):
    """The windows counted and drawn are those make_windows cuts from each whole session:
    starts, labels (purity, unlabelled windows) and mean |acc| of each window."""
    whole = load_custom(faults / "by_file.yaml", OFF)
    parts = _parts(faults / "by_file.yaml", BATCH)
    assert len(parts) == 6
    for rec, part in zip(split_sessions(whole), parts, strict=True):
        windows, _ = make_windows(rec, window=2.56, hop=1.28, keep_unlabelled=True)
        np.testing.assert_array_equal(part.starts, windows.start_time)
        assert part.drawn == bool(len(windows.y))
        np.testing.assert_array_equal(part.labels, windows.y.astype(str))
        x = windows.X[:, :, :3].astype(np.float64)
        np.testing.assert_allclose(part.magnitude, np.sqrt((x ** 2).sum(axis=2)).mean(axis=1),
                                   rtol=1e-13)
        counts = pd.Series(windows.y).value_counts()
        assert part.windows_per_class == {str(c): int(n) for c, n in counts.items()}


def test_session_rows_are_those_of_the_checks_on_whole_arrays(faults):
    """Each row's numbers are those of the checks' functions on the whole session."""
    whole = load_custom(faults / "by_file.yaml", OFF)
    parts = _parts(faults / "by_file.yaml", BATCH)
    for rec, part in zip(split_sessions(whole), parts, strict=True):
        frame = rec.frame
        timing = checks.time_steps(frame["time"].to_numpy(), 50.0)
        acc = frame[CHANNELS[:3]].to_numpy(np.float64)
        assert part.row["measured_hz"] == timing["measured_hz"]
        assert part.row["jitter_ms"] == timing["jitter_ms"]
        assert part.row["gaps"] == len(timing["gaps"])
        assert part.row["gravity_g"] == checks.gravity_level(acc, 50.0)[0]
        assert part.row["minutes"] == len(frame) / 50.0 / 60.0
        values = frame[CHANNELS].to_numpy(np.float64)
        dead = checks.dead_channels(values, CHANNELS)
        assert ("dead gyro_z" in part.row["findings"]) == bool(dead)
        assert ("clipping" in part.row["findings"]) == bool(
            checks.clipped_channels(values, CHANNELS))


def test_messy_sessions_in_small_batches(messy, tmp_path, monkeypatch):  # noqa: F811
    """Restarts (time going back: a new session), shared names, a class of one subject;
    the time steps and magnitudes kept for the medians in temporary files (beyond 1,000)."""
    whole = inspect_dataset(messy, tmp_path / "whole", batch_rows=10**9)
    monkeypatch.setattr(checks, "_SPILL_VALUES", 1000)
    small = inspect_dataset(messy, tmp_path / "small", batch_rows=BATCH)
    _same_reports(small, whole, tmp_path / "small", tmp_path / "whole")


def test_named_data_set_sessions_are_whole(tmp_path):
    """A data set loaded whole (bundled HAPT as Parquet) goes through the same code."""
    rec = load_bundled_hapt().select(subjects=["1", "2"])
    path = rec.to_parquet(tmp_path / "hapt.parquet")
    whole = inspect_dataset(path, tmp_path / "whole", batch_rows=10**9)
    small = inspect_dataset(path, tmp_path / "small", batch_rows=5003)
    _same_reports(small, whole, tmp_path / "small", tmp_path / "whole")
    assert len(whole.sessions) == 4
