"""``tinyhar evaluate`` on a dataset definition reads one session at a time (tree runs):
the same scores as the whole data set in memory, data sets larger than memory included."""

from __future__ import annotations

import json

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


def _broken_copy(data, tmp_path):
    """The 4-subject definition with one of s004's session files broken."""
    import shutil

    copy = tmp_path / "d50"
    shutil.copytree(data / "d50", copy)
    broken = sorted((copy / "recordings").glob("s004_*.parquet"))[0]
    broken.write_bytes(b"not parquet")
    return copy / "data.yaml", broken


def _spy_schedulers(monkeypatch) -> list:
    """Record the scheduler and workers of each top-level ``compute.map_in_order`` call."""
    from tinyhar import compute

    calls, real = [], compute.map_in_order

    def spy(func, items, scheduler="serial", workers=2, *args, **kwargs):
        calls.append((scheduler, workers, kwargs.get("weights") is not None))
        return real(func, items, scheduler, workers, *args, **kwargs)

    monkeypatch.setattr(compute, "map_in_order", spy)
    return calls


def _cli_json(args: list[str]) -> dict:
    from typer.testing import CliRunner

    from tinyhar.cli import app

    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout[r.stdout.index("{"):])


def test_worker_processes_give_the_serial_scores_and_skip_the_same_session(
        data, tmp_path, monkeypatch):
    """`evaluate --scheduler processes --workers 2` on a definition with a broken session:
    the serial metrics, the same session skipped and named; then with the sessions grouped
    into tasks (one per worker), the same again."""
    from tinyhar import compute

    definition, broken = _broken_copy(data, tmp_path)
    args = ["evaluate", str(data / "run"), "--dataset", str(definition)]
    serial = _cli_json(args)
    assert [s["source"] for s in serial["skipped_sessions"]] == [
        f"subject s004, session recordings/{broken.stem}"]
    calls = _spy_schedulers(monkeypatch)
    parallel = _cli_json([*args, "--scheduler", "processes", "--workers", "2"])
    assert calls[0] == ("processes", 2, True)  # the session jobs, weighted by their bytes
    assert parallel == serial
    assert compute._WARM == {}  # the workers started early are gone
    monkeypatch.setattr(compute, "TASKS_PER_WORKER", 1)
    assert evaluate_run(data / "run", str(definition), scheduler="threads", workers=2) == serial


def test_a_dask_local_cluster_gives_the_serial_scores_and_predictions(data, tmp_path):
    """A LocalCluster of 2 workers: `evaluate` by session and `--continuous`, and `predict`,
    give what the serial path gives."""
    import pandas as pd

    distributed = pytest.importorskip("distributed")
    from tinyhar.evaluate import evaluate_continuous
    from tinyhar.predict import WINDOWS_FILE, predict_recordings

    definition = str(data / "d50" / "data.yaml")
    run = data / "run"
    serial = (evaluate_run(run, definition), evaluate_continuous(run, definition),
              predict_recordings(run, tmp_path / "a", recording=definition))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        kw = {"scheduler": cluster.scheduler_address}
        on_cluster = (evaluate_run(run, definition, **kw),
                      evaluate_continuous(run, definition, **kw),
                      predict_recordings(run, tmp_path / "b", recording=definition, **kw))
    assert on_cluster[:2] == serial[:2]
    assert on_cluster[2] == {**serial[2], "out": str(tmp_path / "b")}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / WINDOWS_FILE),
                                  pd.read_parquet(tmp_path / "b" / WINDOWS_FILE))


def test_evaluate_and_predict_take_the_no_workers_timeout_of_the_run(data, tmp_path,
                                                                     monkeypatch):
    """On a cluster without workers, `evaluate` (by session and --continuous) and `predict`
    stop after the run's compute.no_workers_timeout_s (here 0.5 s), as its training did."""
    distributed = pytest.importorskip("distributed")
    from tinyhar import compute
    from tinyhar.evaluate import evaluate_continuous
    from tinyhar.predict import predict_recordings

    monkeypatch.setattr(compute, "WORKERS_CHECK_S", 0.1)
    cfg = make_config({"dataset": {"name": str(data / "d50" / "data.yaml")},
                       "evaluation": {"test_subjects": ["s004"], "cv_folds": 0},
                       "model": {"n_estimators": 2, "max_depth": 3},
                       "compute": {"no_workers_timeout_s": 0.5}}, "test")
    train(cfg, tmp_path / "run")
    definition = str(data / "d50" / "data.yaml")
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", protocol="tcp",
                                  dashboard_address=":0", processes=False) as cluster:
        kw = {"scheduler": cluster.scheduler_address}
        for job in (lambda: evaluate_run(tmp_path / "run", definition, **kw),
                    lambda: evaluate_continuous(tmp_path / "run", definition, **kw),
                    lambda: predict_recordings(tmp_path / "run", tmp_path / "p",
                                               recording=definition, **kw)):
            with pytest.raises(compute.ComputeError, match=r"has had no worker for 0\.5 s"):
                job()



@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize(("option", "value", "message"), [
    ("--scheduler", "dask", "--scheduler 'dask': must be serial, threads, processes or a "
                            "dask.distributed address"),
    ("--workers", "0", "--workers 0: Input should be greater than or equal to 1"),
])
def test_a_bad_scheduler_or_worker_count_is_refused_naming_the_option(command, option, value,
                                                                      message, tmp_path):
    from typer.testing import CliRunner

    from tinyhar.cli import app

    r = CliRunner().invoke(app, [command, str(tmp_path / "no-run"), option, value])
    assert r.exit_code == 2
    assert message in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("command", ["train", "evaluate", "evaluate --continuous", "predict"])
@pytest.mark.parametrize("address", ["unknown host", "free port"])
def test_a_cluster_that_cannot_be_reached_stops_the_command_at_once(data, tmp_path, command,
                                                                    address):
    """Before anything is read or written, with the host or port named, no traceback (not
    after Dask's client's 20 s connect timeout)."""
    from typer.testing import CliRunner

    from tests.broker import free_port
    from tinyhar.cli import app

    definition, out = str(data / "d50" / "data.yaml"), str(tmp_path / "out")
    args = {"train": ["--dataset", definition, "--out", out],
            "predict": [str(data / "run"), definition, "--out", out]}.get(
        command, [str(data / "run"), "--dataset", definition])
    if address == "unknown host":
        scheduler, message = ("tcp://nosuchhost.invalid:8786",
                              "the host name 'nosuchhost.invalid' cannot be resolved")
    else:
        port = free_port()
        scheduler = f"tcp://127.0.0.1:{port}"
        message = f"nothing listens there (Connection refused on port {port})"
    r = CliRunner().invoke(app, [*command.split(), *args, "--scheduler", scheduler])
    output = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert f"cannot reach the Dask scheduler at {scheduler}" in output
    assert message in output
    assert "Traceback" not in r.output
    assert not (tmp_path / "out").exists()


def test_sessions_split_over_two_files_are_scored_as_in_memory(data, tmp_path, monkeypatch):
    """Subject and session from columns, every session cut in two files: the two files of a
    session are read together (not refused), with the scores of the whole data set."""
    import pandas as pd
    import yaml

    folder = tmp_path / "cols"
    (folder / "rec").mkdir(parents=True)
    for path in sorted((data / "d50" / "recordings").glob("*.parquet")):
        frame = pd.read_parquet(path)
        frame["who"], frame["rec"] = path.stem.split("_")[0], path.stem
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(folder / "rec" / f"{path.stem}_a.parquet", index=False)
        frame.iloc[half:].to_parquet(folder / "rec" / f"{path.stem}_b.parquet", index=False)
    spec = yaml.safe_load((data / "d50" / "data.yaml").read_text(encoding="utf-8"))
    spec.pop("file_pattern")
    spec["files"] = "rec/*.parquet"
    spec["columns"].update(subject="who", session="rec")
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    by_session, whole = _both(monkeypatch, data / "run", str(folder / "data.yaml"))
    assert by_session.pop("skipped_sessions") == []
    assert by_session == whole
    assert by_session["subjects"] == ["s004"]


def test_only_the_sessions_of_the_subjects_scored_are_read(data, tmp_path, monkeypatch):
    """Subjects from the file names: the training subjects' sessions are not read (a broken
    one is not even noticed), and the scores are those of reading every session."""
    import shutil

    from tinyhar.datasets.sessions import SessionSource

    copy = tmp_path / "d50"
    shutil.copytree(data / "d50", copy)
    every = evaluate_run(data / "run", str(copy / "data.yaml"))
    for f in (copy / "recordings").glob("s00[12]_*.parquet"):
        f.write_bytes(b"not parquet")
    read = []
    batches = SessionSource.iter_batches

    def spy(self, *args, **kwargs):
        read.append(self.subject)
        return batches(self, *args, **kwargs)

    monkeypatch.setattr(SessionSource, "iter_batches", spy)
    got = evaluate_run(data / "run", str(copy / "data.yaml"))
    assert got == every and got["skipped_sessions"] == []
    assert set(read) == {"s004"}
