"""``tinyhar evaluate`` on a dataset definition reads one session at a time (tree runs):
the same scores as the whole data set in memory, data sets larger than memory included."""

from __future__ import annotations

import pytest

from tinyhar import evaluate as evaluate_module
from tinyhar.config import make_config
from tinyhar.datasets.synthetic import synthesize
from tinyhar.evaluate import evaluate_run, reads_by_session
from tinyhar.evaluation.splits import LeakageWarning
from tinyhar.runfolder import load_run
from tinyhar.training import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    synthesize(root / "d50", 4, 0.1, session_hours=0.05, seed=5)
    synthesize(root / "d100", 2, 0.05, rate_hz=100, session_hours=0.05, seed=6)
    cfg = make_config({"dataset": {"name": str(root / "d50" / "data.yaml")},
                       "evaluation": {"test_subjects": ["s004"], "cv_folds": 0},
                       "model": {"n_estimators": 4, "max_depth": 6}}, "test")
    train(cfg, root / "run")
    return root


def _both(monkeypatch, *args, **kwargs):
    """The scores read session by session, then with the whole data set in memory."""
    by_session = evaluate_run(*args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(evaluate_module, "reads_by_session", lambda *a: False)
        whole = evaluate_run(*args, **kwargs)
    return by_session, whole


def test_a_definition_is_read_by_session_for_trees_only(data):
    run = load_run(data / "run")
    assert reads_by_session(run, str(data / "d50" / "data.yaml"))
    assert not reads_by_session(run, "hapt")
    assert not reads_by_session(run, str(data / "d50" / "data.yaml"), path="x")


@pytest.mark.parametrize("kwargs", [{}, {"subjects": ["s003", "s004"]}])
def test_the_scores_equal_those_in_memory(data, monkeypatch, kwargs):
    by_session, whole = _both(monkeypatch, data / "run", str(data / "d50" / "data.yaml"),
                              **kwargs)
    assert by_session.pop("skipped_sessions") == []
    assert by_session == whole
    assert by_session["subjects"] == ["s004"]  # s003 trained the run: left out
    assert by_session["excluded_training_subjects"] == (["s003"] if kwargs else
                                                        ["s001", "s002", "s003"])


def test_training_subjects_included_and_another_rate_resampled(data, monkeypatch):
    with pytest.warns(LeakageWarning):
        by_session, whole = _both(monkeypatch, data / "run", str(data / "d50" / "data.yaml"),
                                  include_training_subjects=True)
    by_session.pop("skipped_sessions")
    assert by_session == whole and whole["subjects"] == ["s001", "s002", "s003", "s004"]
    with pytest.warns(LeakageWarning):  # 100 Hz: resampled to 50
        by_session, whole = _both(monkeypatch, data / "run", str(data / "d100" / "data.yaml"),
                                  include_training_subjects=True)
    by_session.pop("skipped_sessions")
    assert by_session == whole


def test_a_session_that_cannot_be_read_is_skipped_and_listed(data, tmp_path):
    import shutil

    copy = tmp_path / "d50"
    shutil.copytree(data / "d50", copy)
    broken = sorted((copy / "recordings").glob("s004_*.parquet"))[-1]
    broken.write_bytes(b"not parquet")
    ev = evaluate_run(data / "run", str(copy / "data.yaml"))
    assert [s["source"] for s in ev["skipped_sessions"]] == [
        f"subject s004, session recordings/{broken.stem}"]
    assert broken.name in ev["skipped_sessions"][0]["error"]
    assert ev["subjects"] == ["s004"]
