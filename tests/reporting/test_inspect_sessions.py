"""tinyhar inspect on a definition read in batches of rows: the report of the whole load."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.datasets.test_bysession import messy  # noqa: F401, F811 (the fixture)
from tests.reporting.test_inspect_batches import spy_visits
from tinyhar.cli import app
from tinyhar.datasets import bysession
from tinyhar.datasets.synthetic import synthesize
from tinyhar.reporting import inspect as inspect_module
from tinyhar.reporting.inspect import REPORT_FILE, inspect_dataset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # (the planted problems)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """30 synthetic sessions of 36 s (3 subjects)."""
    folder = tmp_path_factory.mktemp("many") / "syn"
    return synthesize(folder, 3, 0.1, session_hours=0.01, seed=3).definition


def _whole(monkeypatch):
    """Make map_sessions load the definition whole (and cut it into its sessions)."""

    def refuse(*args, **kwargs):
        raise bysession._Fallback

    monkeypatch.setattr(bysession, "_by_source", refuse)


def _same_reports(a, b, out_a, out_b):
    assert sorted(p.name for p in out_a.iterdir()) == sorted(p.name for p in out_b.iterdir())
    for file in out_a.iterdir():  # report.md and the PNGs, byte for byte
        assert file.read_bytes() == (out_b / file.name).read_bytes(), file.name
    pd.testing.assert_frame_equal(a.sessions, b.sessions)
    pd.testing.assert_frame_equal(a.minutes, b.minutes)
    assert (a.windows_per_class, a.findings, a.advice) == (b.windows_per_class, b.findings,
                                                          b.advice)


def test_by_session_report_equals_the_whole_load(messy, tmp_path, monkeypatch):  # noqa: F811
    streamed = inspect_dataset(messy, tmp_path / "streamed")
    text = (tmp_path / "streamed" / REPORT_FILE).read_text()
    # the planted problems: each finding once, the restart once among the loader's notes
    assert text.count("time goes back 1 time(s)") == 1 and "'A-s1~2'" in text
    assert "B-s1 (subject B): 1 gap(s) in the time column, the longest 4.02 s" in text
    assert sum("acc_x" in f and "at 1.6 g" in f for f in streamed.findings) == 5  # A, B, A~2
    assert list(streamed.minutes.columns) == ["A", "B", "C"]
    assert streamed.windows_per_class["jumping"] == 4
    _whole(monkeypatch)
    whole = inspect_dataset(messy, tmp_path / "whole")
    _same_reports(streamed, whole, tmp_path / "streamed", tmp_path / "whole")


def test_timelines_keep_only_the_drawn_sessions(many, tmp_path, monkeypatch):
    """Per-window values are kept for the sessions drawn (here 1 figure of 8), not all 30."""
    monkeypatch.setattr(inspect_module, "MAX_TIMELINE_FIGURES", 1)
    parts = []
    original = inspect_module._Inspector.finish

    def keep(self):
        parts.extend(original(self))
        return parts

    with monkeypatch.context() as m:
        m.setattr(inspect_module._Inspector, "finish", keep)
        streamed = inspect_dataset(many, tmp_path / "streamed")
    assert len(parts) == 30
    assert [p.drawn for p in parts] == [True] * 8 + [False] * 22
    assert [len(p.magnitude) > 0 for p in parts] == [True] * 8 + [False] * 22
    assert all(len(p.starts) for p in parts)  # (every window's start: the typical hop)
    assert "(22 more recordings not drawn.)" in (tmp_path / "streamed" / REPORT_FILE).read_text()
    _whole(monkeypatch)
    whole = inspect_dataset(many, tmp_path / "whole")
    _same_reports(streamed, whole, tmp_path / "streamed", tmp_path / "whole")


def test_cli_inspect_on_a_definition(messy, tmp_path):  # noqa: F811
    result = CliRunner().invoke(app, ["inspect", str(messy), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "messy: 7 recording(s), 3 subject(s)" in result.output
    assert (tmp_path / "r" / "timeline_1.png").is_file()


def test_a_parquet_recording_in_batches(many, tmp_path, monkeypatch):
    """A tinyhar Parquet recording of 30 sessions of 1,800 rows, read in batches of 1,000
    rows (sessions across batches): the report of the whole file, byte for byte, without
    loading the file or a session whole."""
    from tinyhar.datasets.custom import load_custom
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.datasets.sessions import RecordingFile

    file = load_custom(many).to_parquet(tmp_path / "many.parquet")
    monkeypatch.setattr("tinyhar.datasets.sessions.BATCH_ROWS", 1000)
    sizes = spy_visits(monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(RecordingSet, "from_parquet", None)  # (the whole file would fail)
        streamed = inspect_dataset(file, tmp_path / "streamed")
    assert sizes == [1000] * 54  # the batches, not the sessions
    monkeypatch.setattr(RecordingFile, "streams", staticmethod(lambda path: False))
    whole = inspect_dataset(file, tmp_path / "whole")  # loaded whole, as before
    _same_reports(streamed, whole, tmp_path / "streamed", tmp_path / "whole")
