"""Run folders: atomic writes (temp sibling + rename, manifest last), checks on every read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app
from tinyhar.errors import TinyharError
from tinyhar.models.pipeline import PIPELINE_FILE
from tinyhar.runfolder import (
    MANIFEST_FILE,
    MANIFEST_VERSION,
    atomic_file,
    check_run,
    load_run,
    write_run,
)

runner = CliRunner()
SRC = Path(__file__).resolve().parents[1] / "src"
FILES = (
    PIPELINE_FILE,
    "config.yaml",
    "metrics.json",
    "summary.md",
    "confusion_matrix.png",
    "per_subject.png",
    "feature_importance.png",
    "class_overview.png",
    "postprocess.json",
    "test_windows.npz",
)


def _config(data: Path, n_estimators: int = 3, seed: int = 0) -> dict:
    return {
        "seed": seed,
        "dataset": {"name": str(data)},
        "evaluation": {"test_subjects": [3], "cv_folds": 0},
        "model": {"n_estimators": n_estimators, "max_depth": 5},
    }


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """Three HAPT subjects (1, 2, 3) of the bundled copy as a tinyhar Parquet file."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    rec = load_bundled_hapt().select(subjects=["1", "2", "3"])
    return rec.to_parquet(tmp_path_factory.mktemp("data") / "small.parquet")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_data):
    """A complete run folder of a 3-tree forest (test subject 3)."""
    from tinyhar.config import make_config
    from tinyhar.training import train

    out = tmp_path_factory.mktemp("runs") / "run"
    train(make_config(_config(small_data)), out)
    return out


@pytest.fixture
def run_copy(trained, tmp_path):
    """A private copy of the trained run, free to damage."""
    return Path(shutil.copytree(trained, tmp_path / "run"))


def _cfg_file(tmp_path: Path, data: Path, **kw) -> Path:
    path = tmp_path / f"cfg{kw.get('n_estimators', 3)}.yaml"
    path.write_text(yaml.safe_dump(_config(data, **kw)))
    return path


def _said(result) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def _assert_one_run(run: Path) -> None:
    """The folder verifies and its pipeline, config and metrics come from one training."""
    r = load_run(run)
    n = r.config.model.n_estimators
    assert r.pipeline.info["config"]["model"]["n_estimators"] == n
    assert r.metrics["model_size"]["trees"] == n
    assert r.pipeline.model.size()["trees"] == n


# --------------------------------------------------------------------------- manifest


def test_manifest_lists_every_file_with_its_hash(trained):
    manifest = json.loads((trained / MANIFEST_FILE).read_text())
    assert manifest["format"] == "tinyhar-run" and manifest["format_version"] == MANIFEST_VERSION
    import tinyhar

    assert manifest["tinyhar_version"] == tinyhar.__version__ and manifest["seed"] == 0
    assert manifest["created"].endswith("+00:00")
    assert sorted(manifest["files"]) == sorted(FILES)
    for name, entry in manifest["files"].items():
        data = (trained / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert sorted(p.name for p in trained.iterdir()) == sorted((*FILES, MANIFEST_FILE))
    # nothing left next to it: no temporary folder, no trash, no lock
    assert [p.name for p in trained.parent.iterdir()] == ["run"]
    run = load_run(trained)
    assert run.metrics["figures_failed"] == [] and run.config.seed == 0
    assert run.pipeline.classes == run.metrics["classes"]


def test_manifest_covers_subfolders(tmp_path):
    out = tmp_path / "r"
    with write_run(out, seed=7) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".r.tmp-")
        assert not out.exists()
        (tmp / "sub" / "deeper").mkdir(parents=True)
        (tmp / "sub" / "deeper" / "a.bin").write_bytes(b"\x00\x01")
        (tmp / "b.txt").write_text("b")
    manifest = check_run(out)
    assert sorted(manifest["files"]) == ["b.txt", "sub/deeper/a.bin"]
    assert manifest["files"]["sub/deeper/a.bin"]["bytes"] == 2 and manifest["seed"] == 7


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize("bad", ["", " "])
def test_empty_path_is_refused(bad):
    with pytest.raises(TinyharError, match="empty path"), write_run(bad):
        pass


def test_file_and_current_folder_are_refused(tmp_path, monkeypatch):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(TinyharError, match="is a file"), write_run(f):
        pass
    monkeypatch.chdir(tmp_path)
    for here in (".", str(tmp_path), ".."):
        with pytest.raises(TinyharError, match="current folder"), write_run(here, overwrite=True):
            pass
    assert f.read_text() == "x"


def test_non_empty_folder_needs_overwrite(tmp_path):
    out = tmp_path / "r"
    with write_run(out) as tmp:
        (tmp / "old.txt").write_text("old")
    with pytest.raises(TinyharError, match="--overwrite"), write_run(out) as tmp:
        pytest.fail("the body must not run")
    with write_run(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_FILE, "new.txt"]  # old file gone
    assert sorted(check_run(out)["files"]) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["r"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with write_run(empty) as tmp:  # an empty folder is not in the way
        (tmp / "x").write_text("x")
    assert check_run(empty)["files"]["x"]["bytes"] == 1


def test_overwrite_replaces_only_run_folders(tmp_path):
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    with pytest.raises(TinyharError, match="not a tinyhar run folder"):
        with write_run(mine, overwrite=True):
            pass
    assert (mine / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_leaves_the_old_run_untouched(tmp_path, error):
    out = tmp_path / "r"
    with write_run(out) as tmp:
        (tmp / "old.txt").write_text("old")
    before = check_run(out)
    with pytest.raises(type(error)), write_run(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("half")
        raise error
    assert check_run(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # temporary folder removed
    with pytest.raises(type(error)), write_run(tmp_path / "fresh") as tmp:
        raise error
    assert not (tmp_path / "fresh").exists()


def test_disk_full_is_a_message(tmp_path):
    with pytest.raises(TinyharError, match="No space left.*left as it was"):
        with write_run(tmp_path / "r"):
            raise OSError(28, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_second_writer_is_refused_while_the_first_writes(tmp_path):
    out = tmp_path / "r"
    with write_run(out) as tmp:
        (tmp / "a.txt").write_text("first")
        with pytest.raises(TinyharError, match=f"another tinyhar run \\(pid {os.getpid()}"):
            with write_run(out, overwrite=True):
                pass
    assert (out / "a.txt").read_text() == "first"
    with write_run(out, overwrite=True) as tmp:  # the lock was released
        (tmp / "a.txt").write_text("second")
    assert (out / "a.txt").read_text() == "second"


def test_leftovers_of_killed_runs_are_cleaned_and_reported(tmp_path):
    out = tmp_path / "r"
    with write_run(out) as tmp:
        (tmp / "a.txt").write_text("previous")
    # a run killed while writing, and one killed between the two renames of an overwrite
    (tmp_path / ".r.tmp-99999-dead").mkdir()
    (tmp_path / ".r.tmp-99999-dead" / "model.bin").write_bytes(b"half")
    out.rename(tmp_path / ".r.trash-99998-dead")
    with pytest.raises(TinyharError, match="rename it back"):
        load_run(out)
    with pytest.warns(UserWarning) as record, pytest.raises(TinyharError, match="--overwrite"):
        with write_run(out):
            pass
    messages = " ".join(str(w.message) for w in record)
    assert "put back" in messages and ".r.tmp-99999-dead" in messages
    assert (out / "a.txt").read_text() == "previous" and check_run(out)
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_atomic_file_keeps_the_old_file_on_failure(tmp_path):
    target = tmp_path / "sub" / "map.png"
    with atomic_file(target) as tmp:
        assert tmp.suffix == ".png" and tmp.parent == target.parent
        tmp.write_bytes(b"one")
    with pytest.raises(ValueError), atomic_file(target) as tmp:
        tmp.write_bytes(b"tw")
        raise ValueError
    assert target.read_bytes() == b"one" and os.listdir(target.parent) == ["map.png"]


# --------------------------------------------------------------------------- checking


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["metrics.json", PIPELINE_FILE])
def test_an_altered_file_is_refused(run_copy, small_data, name):
    _flip_one_byte(run_copy / name)
    with pytest.raises(TinyharError, match=f"{name}: changed since training.*--overwrite"):
        load_run(run_copy)
    for args in (
        ["evaluate", str(run_copy), "--dataset", str(small_data)],
        ["export", str(run_copy), "--target", "c", "--no-profile"],
        ["export", str(run_copy), "--target", "micropython"],
        ["export", str(run_copy), "--target", "onnx"],
        ["simulate", str(run_copy), "--recording", str(small_data)],
        ["embed", str(run_copy), "--out", str(run_copy.parent / "e.parquet")],
        ["explore", str(run_copy)],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "changed since training" in _said(result) and "Traceback" not in result.output
    assert not (run_copy / "export").exists() and not (run_copy.parent / "e.parquet").exists()
    from tinyhar.device.deploy import resolve_bundle  # what `tinyhar deploy` reads

    with pytest.raises(TinyharError, match="changed since training"):
        resolve_bundle(run_copy)


class _Crafted:
    """A pickle that creates a marker file when loaded (stands for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


def test_a_crafted_pipeline_is_refused_without_running_it(run_copy, small_data, tmp_path):
    import pickle

    marker = tmp_path / "code_ran"
    (run_copy / PIPELINE_FILE).write_bytes(pickle.dumps(_Crafted(marker)))
    for args in (
        ["evaluate", str(run_copy), "--dataset", str(small_data)],
        ["export", str(run_copy), "--target", "c", "--no-profile"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and "changed since training" in _said(result)
    assert not marker.exists()


def test_cli_refuses_an_empty_out_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["train", "--out", ""])  # --out is text: "" stays empty
    assert result.exit_code == 2 and "empty path" in _said(result)
    assert list(tmp_path.iterdir()) == []


def test_missing_manifest_or_file_is_refused(run_copy, small_data):
    (run_copy / "summary.md").unlink()
    with pytest.raises(TinyharError, match="summary.md: listed in manifest.json but missing"):
        load_run(run_copy)
    (run_copy / MANIFEST_FILE).unlink()
    with pytest.raises(TinyharError, match="no manifest.json.*tinyhar train --out"):
        load_run(run_copy)
    result = runner.invoke(app, ["evaluate", str(run_copy), "--dataset", str(small_data)])
    assert result.exit_code == 2 and "no manifest.json" in _said(result)


def test_unexpected_files_and_later_outputs(run_copy):
    (run_copy / "export" / "c").mkdir(parents=True)
    (run_copy / "export" / "c" / "tinyhar_model.c").write_text("/* later */")
    (run_copy / "embedding_map_pca.png").write_bytes(b"png")
    load_run(run_copy)  # outputs written after training are allowed
    (run_copy / "old_figure.png").write_bytes(b"png")
    with pytest.raises(TinyharError, match="old_figure.png: not written by this run"):
        load_run(run_copy)


def test_a_bare_pipeline_file_is_still_accepted(trained):
    from tinyhar.export.c import load_pipeline

    assert load_pipeline(trained / PIPELINE_FILE).classes == load_run(trained).pipeline.classes


def test_unknown_format_version_and_bad_manifest(run_copy):
    path = run_copy / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format_version": MANIFEST_VERSION + 1}))
    with pytest.raises(TinyharError, match="format version 2"):
        load_run(run_copy)
    bad = {**manifest, "files": {**manifest["files"], "../outside": {"sha256": "0", "bytes": 0}}}
    path.write_text(json.dumps(bad))
    with pytest.raises(TinyharError, match="bad entry for '../outside'"):
        load_run(run_copy)
    path.write_text("{not json")
    with pytest.raises(TinyharError, match="manifest.json: not valid JSON"):
        load_run(run_copy)


# --------------------------------------------------------------------------- training


def test_cli_train_refuses_an_existing_run_unless_overwrite(trained, tmp_path, small_data):
    out = Path(shutil.copytree(trained, tmp_path / "run"))
    before = (out / MANIFEST_FILE).read_text()
    cfg = _cfg_file(tmp_path, small_data, n_estimators=4)
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 2 and "--overwrite" in _said(result)
    assert (out / MANIFEST_FILE).read_text() == before
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    _assert_one_run(out)
    assert load_run(out).config.model.n_estimators == 4
    (tmp_path / "f.txt").write_text("x")
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "f.txt")])
    assert result.exit_code == 2 and "is a file" in _said(result)


def test_a_failing_figure_keeps_the_results(tmp_path, small_data, monkeypatch):
    import tinyhar.reporting.plots as plots
    from tinyhar.config import make_config
    from tinyhar.training import train

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(plots, "plot_class_overview", disk_full)
    metrics = train(make_config(_config(small_data)), tmp_path / "run")
    assert metrics["figures_failed"] == [
        {"file": "class_overview.png", "error": "OSError: [Errno 28] No space left on device"}
    ]
    run = load_run(tmp_path / "run")
    assert run.metrics["figures_failed"] == metrics["figures_failed"]
    assert run.metrics["macro_f1"] == metrics["macro_f1"] > 0.5
    assert not (tmp_path / "run" / "class_overview.png").exists()
    assert (tmp_path / "run" / "confusion_matrix.png").is_file()
    assert "figures not written" in (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")


def _start_training(cfg: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-m", "tinyhar", "train", "--config", str(cfg), "--out", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _kill_when_started(proc: subprocess.Popen, out: Path) -> None:
    """SIGKILL the training once its temporary folder appears (the run has begun writing)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if list(out.parent.glob(f".{out.name}.tmp-*")):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        time.sleep(0.005)
    pytest.fail(f"the training ended before it could be killed: {proc.communicate()[0]}")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_sigkill_mid_run_leaves_nothing_or_the_previous_run(trained, tmp_path, small_data):
    cfg = _cfg_file(tmp_path, small_data, n_estimators=4)
    fresh = tmp_path / "fresh"
    _kill_when_started(_start_training(cfg, fresh), fresh)
    assert not fresh.exists()
    assert [p.name for p in tmp_path.glob(".fresh.tmp-*")]  # the killed run's leftover
    result = runner.invoke(app, ["evaluate", str(fresh), "--dataset", str(small_data)])
    assert result.exit_code == 2 and "no such run folder" in _said(result)
    assert "running or was interrupted" in _said(result)

    old = Path(shutil.copytree(trained, tmp_path / "old"))
    before = check_run(old)
    _kill_when_started(_start_training(cfg, old, "--overwrite"), old)
    assert check_run(old) == before  # still the previous complete run
    _assert_one_run(old)
    assert load_run(old).config.model.n_estimators == 3

    with pytest.warns(UserWarning, match="leftover"):  # the next run cleans up
        with write_run(fresh) as t:
            (t / "x").write_text("x")
    assert not list(tmp_path.glob(".fresh.tmp-*"))


_WRITER = """
import sys, time
from tinyhar.runfolder import write_run
with write_run(sys.argv[1], overwrite=True) as tmp:
    (tmp / "model.bin").write_bytes(b"half-written")
    print("written", flush=True)
    time.sleep(600)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX")
def test_sigkill_after_files_were_written_keeps_the_previous_run(tmp_path):
    out = tmp_path / "r"
    with write_run(out) as tmp:
        (tmp / "model.bin").write_bytes(b"complete")
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(out)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "written"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / "model.bin").read_bytes() == b"complete" and check_run(out)
    with pytest.warns(UserWarning, match="leftover"), write_run(out, overwrite=True) as tmp:
        (tmp / "model.bin").write_bytes(b"next")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.slow
def test_concurrent_trainings_into_one_folder_never_mix(tmp_path, small_data):
    out = tmp_path / "same"
    procs = [
        _start_training(_cfg_file(tmp_path, small_data, n_estimators=n, seed=n), out, "--overwrite")
        for n in (3, 4)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    codes = [p.returncode for p in procs]
    assert 0 in codes, outputs
    for code, text in zip(codes, outputs, strict=True):
        assert code in (0, 2), text
        if code == 2:
            assert "another tinyhar run" in " ".join(text.split()) and "Traceback" not in text
    _assert_one_run(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# ------------------------------------------------------------------------- Run


def test_a_run_loads_once_and_carries_the_window_spec(trained):
    from tinyhar.runfolder import Run

    run = load_run(trained)
    assert isinstance(run, Run) and load_run(run) is run
    assert run.spec == run.pipeline.spec
    assert (run.spec.n_samples, run.spec.hop_samples, run.spec.streaming_hop) == (128, 64, 64)
    assert run.spec.units == ("g", "g", "g", "rad/s", "rad/s", "rad/s")
    assert run.metrics["window"] == run.spec.to_dict()  # metrics.json shows the same spec
    assert not run.is_network


def test_a_tree_run_stores_its_unseen_test_windows(trained):
    """The windows of test subject 3, as scored at training time (same score again)."""
    import numpy as np

    run = load_run(trained)
    windows = run.test_windows
    assert run.test_windows_note is None
    assert set(windows.subject) == {"3"} and windows.spec == run.spec
    assert windows.X.dtype == np.float32 and windows.classes == run.pipeline.classes
    pred = run.pipeline.predict(windows)
    assert float(np.mean(pred == windows.y)) == pytest.approx(run.metrics["accuracy"], abs=1e-12)


def test_a_run_without_test_windows_says_why(run_copy):
    from tinyhar.runfolder import TEST_WINDOWS_FILE, write_manifest

    (run_copy / TEST_WINDOWS_FILE).unlink()
    write_manifest(run_copy, seed=0)
    run = load_run(run_copy)
    assert run.test_windows is None
    assert "older tinyhar" in run.test_windows_note and "--overwrite" in run.test_windows_note


def test_test_windows_of_another_spec_are_refused(run_copy):
    from tinyhar.core.windowfile import load_windows, save_windows
    from tinyhar.runfolder import TEST_WINDOWS_FILE, write_manifest

    path = run_copy / TEST_WINDOWS_FILE
    w = load_windows(path)
    w.hop_samples = 32
    save_windows(w, path)
    write_manifest(run_copy, seed=0)
    with pytest.raises(TinyharError, match="hop 32.*but the model reads.*hop 64"):
        _ = load_run(run_copy).test_windows


def test_no_test_windows_when_every_subject_trained_the_model(tmp_path):
    """A loso model is fitted on every subject: none is unseen, so none is stored."""
    import numpy as np

    from tinyhar.core.windowset import WindowSet
    from tinyhar.training import store_test_windows

    w = WindowSet(np.zeros((4, 8, 1), np.float32), ["a", "b", "a", "b"], ["1", "1", "2", "2"],
                  ["s1", "s1", "s2", "s2"], np.zeros(4), ["acc_x"], 50.0, ["a", "b"])
    note = store_test_windows(tmp_path, w, w, "leave-subjects-out")
    assert "no windows are unseen" in note and "leave-subjects-out" in note
    assert not any(tmp_path.iterdir())
    assert store_test_windows(tmp_path, w.subset(np.array([0, 1])), w, "holdout") is None
    from tinyhar.core.windowfile import load_windows

    assert list(load_windows(tmp_path / "test_windows.npz").subject) == ["2", "2"]


def test_at_most_max_test_windows_whole_sessions(tmp_path, monkeypatch):
    import numpy as np

    from tinyhar.core.windowfile import load_windows
    from tinyhar.core.windowset import WindowSet
    from tinyhar.training import job as training

    monkeypatch.setattr(training, "MAX_TEST_WINDOWS", 5)
    sessions = ["a"] * 3 + ["b"] * 3 + ["c"] * 2
    w = WindowSet(np.zeros((8, 4, 1), np.float32), ["x"] * 8, ["9"] * 8, sessions,
                  np.zeros(8), ["acc_x"], 50.0, ["x"])
    train_w = w.subset(np.array([], dtype=int))
    assert training.store_test_windows(tmp_path, train_w, w, "holdout") is None
    assert list(load_windows(tmp_path / "test_windows.npz").session) == ["a"] * 3


def test_test_windows_that_cannot_be_written_leave_a_note_not_a_lost_run(tmp_path, monkeypatch):
    """Disk full while writing test_windows.npz: no partial file, the run goes on with a note."""
    import errno

    import numpy as np

    from tinyhar.core import windowfile
    from tinyhar.core.windowset import WindowSet
    from tinyhar.training import job as training

    def full(windows, path):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(windowfile, "save_windows", full)
    w = WindowSet(np.zeros((3, 4, 1), np.float32), ["x"] * 3, ["9"] * 3, ["a"] * 3,
                  np.zeros(3), ["acc_x"], 50.0, ["x"])
    note = training.store_test_windows(tmp_path, w.subset(np.array([], dtype=int)), w,
                                       "holdout")
    assert "could not be written (No space left on device)" in note
    assert not (tmp_path / "test_windows.npz").exists()
