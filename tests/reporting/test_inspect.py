"""tinyhar inspect: a report on real HAPT recordings with known, planted problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.checks import dead_channels, swapped_axes, time_steps
from tinyhar.errors import ConfigError
from tinyhar.reporting.inspect import REPORT_FILE, inspect_dataset

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
DEFINITION = """\
name: planted
files: "*.csv"
sampling_rate_hz: 50
columns: {time: time, acc_x: acc_x, acc_y: acc_y, acc_z: acc_z,
          gyro_x: gyro_x, gyro_y: gyro_y, gyro_z: gyro_z}
units: {time: s, acc: g, gyro: rad/s}
file_pattern: 'subject(?P<subject>\\d+)_(?P<label>[a-z]+)\\.csv'
classes: [walking, sitting]
"""


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Walking and sitting of HAPT subjects 1, 3, 5 (60 s each), with four planted faults.

    subject 3 walking: a 4 s gap; subject 5 walking: gyro_z dead (constant);
    subject 5 sitting: acc_x and acc_y exchanged; subject 1 sitting: acceleration in
    m/s^2 though the definition says g.
    """
    folder = tmp_path_factory.mktemp("planted")
    frame = load_bundled_hapt().select(subjects=["1", "3", "5"]).frame
    for subject in ("1", "3", "5"):
        for label, name in (("WALKING", "walking"), ("SITTING", "sitting")):
            part = frame[(frame["subject"] == subject) & (frame["label"] == label)]
            values = part[CHANNELS].to_numpy(np.float64)[:3000].copy()
            time = np.arange(len(values)) / 50.0
            if (subject, name) == ("3", "walking"):
                time[1500:] += 4.0
            if (subject, name) == ("5", "walking"):
                values[:, 5] = 0.0
            if (subject, name) == ("5", "sitting"):
                values[:, [0, 1]] = values[:, [1, 0]]
            if (subject, name) == ("1", "sitting"):
                values[:, :3] *= 9.80665
            out = pd.DataFrame(values, columns=CHANNELS)
            out.insert(0, "time", time)
            out.to_csv(folder / f"subject{subject}_{name}.csv", index=False)
    (folder / "data.yaml").write_text(DEFINITION)
    return folder / "data.yaml"


def test_report_finds_the_planted_faults(planted, tmp_path):
    out = tmp_path / "report"
    report = inspect_dataset(planted, out)
    text = (out / REPORT_FILE).read_text()
    findings = "\n".join(report.findings)
    assert "subject3_walking (subject 3): 1 gap(s) in the time column, the longest 4.02 s" in (
        findings)
    assert "subject5_walking (subject 5): gyro_z (std 0) do not move" in findings
    assert "subject5_sitting: during sitting its gravity direction is" in findings
    assert "matches them with x<->y" in findings
    assert "subject1_sitting (subject 1)" in findings and "look like m/s^2" in findings
    assert len(report.findings) == 4  # nothing else is flagged on real data
    # minutes per class and subject: 60 s each
    assert report.minutes.loc["walking"].round(3).to_dict() == {"1": 1.0, "3": 1.0, "5": 1.0}
    # windows of 2.56 s, hop 1.28 s: 45 per 60 s recording (the gap splits one into 22 + 22)
    assert report.windows_per_class == {"walking": 44 + 45 + 45, "sitting": 3 * 45}
    # advice: 3 people x 2 min per class; each has 1 min: 3 more minutes of each
    assert report.advice[0].startswith("record at least 3 more minutes of walking from the "
                                       "people recorded so far")
    assert sorted(p.name for p in out.iterdir()) == ["minutes.png", REPORT_FILE,
                                                    "timeline_1.png"]
    assert "![timeline_1.png](timeline_1.png)" in text and "## Advice" in text
    rows = report.sessions.set_index("session")
    assert rows.loc["subject3_walking", "gaps"] == 1
    assert abs(rows.loc["subject1_sitting", "gravity_g"] - 9.8) < 0.3


def test_few_windows_warn_and_new_people_are_advised(tmp_path):
    rec = load_bundled_hapt().select(subjects=["1"])
    part = rec.frame[rec.frame["label"].isin(["WALKING", "LAYING"])]
    short = pd.concat([part[part["label"] == "WALKING"].iloc[:600],
                       part[part["label"] == "LAYING"].iloc[:300]])
    short[CHANNELS + ["time"]].assign(
        time=np.arange(len(short)) / 50.0, label=short["label"].str.lower()).to_csv(
        tmp_path / "s1.csv", index=False)
    (tmp_path / "d.yaml").write_text(
        "name: few\nfiles: s1.csv\nsampling_rate_hz: 50\ncolumns: {time: time, acc_x: acc_x, "
        "acc_y: acc_y, acc_z: acc_z, gyro_x: gyro_x, gyro_y: gyro_y, gyro_z: gyro_z, "
        "label: label}\nconstants: {subject: '1'}\n")
    report = inspect_dataset(tmp_path / "d.yaml", tmp_path / "r")
    text = (tmp_path / "r" / REPORT_FILE).read_text()
    assert "**Warning:** fewer than 10 windows for laying, walking" in text
    # laying: 0.1 min from one person -> 1.9 more from them + 2 people x 2 min = 5.9 -> 6
    assert any(a.startswith("record at least 6 more minutes of laying from 2 more people")
               for a in report.advice)


def test_report_folder_is_replaced_whole_and_foreign_folders_refused(planted, tmp_path):
    out = tmp_path / "report"
    inspect_dataset(planted, out)
    (out / "stale.png").write_bytes(b"x")
    inspect_dataset(planted, out)
    assert not (out / "stale.png").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not a report folder of tinyhar inspect"):
        inspect_dataset(planted, other)
    assert (other / "notes.txt").read_text() == "keep"


def test_check_primitives():
    t = np.arange(100) / 50.0
    t[60:] += 0.1
    steps = time_steps(t, 50.0)
    assert steps["gaps"] == [(60, pytest.approx(0.12))] and steps["backwards"] == 0
    assert steps["jitter_ms"] == pytest.approx(0.0, abs=1e-9)
    values = np.c_[np.sin(np.arange(100)), np.full(100, 1.0)]
    assert dead_channels(values, ["acc_x", "gyro_x"]) == [("gyro_x", 0.0)]
    dirs = {"a": np.array([1.0, 0.1, 0.0]), "b": np.array([0.98, 0.12, 0.05]),
            "c": np.array([0.99, 0.0, 0.1]), "d": np.array([0.1, 1.0, 0.0])}
    assert [(s, m) for s, m, _ in swapped_axes(dirs)] == [("d", "x<->y")]
    assert swapped_axes({"a": dirs["a"], "d": dirs["d"]}) == []


def test_cli(planted, tmp_path, monkeypatch):
    import io

    from rich.console import Console
    from typer.testing import CliRunner

    from tinyhar import cli

    err = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=err, width=400))
    result = CliRunner().invoke(cli.app, ["inspect", str(planted), "--out",
                                          str(tmp_path / "r")], terminal_width=200)
    assert result.exit_code == 0, result.output + err.getvalue()
    assert "report written to" in result.output
    assert "advice: record at least 3 more minutes of walking" in " ".join(result.output.split())
    assert err.getvalue().count("finding:") == 4
    result = CliRunner().invoke(cli.app, ["inspect", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "none.yaml" in err.getvalue()
