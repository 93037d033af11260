"""End-to-end: the `tinyhar` command on a small subset of the bundled HAPT data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.helpers import bundled_hapt_parquet
from tinyhar.cli import app
from tinyhar.models.pipeline import PIPELINE_FILE

runner = CliRunner()


@pytest.fixture(scope="module")
def small_parquet(tmp_path_factory):
    """Four HAPT subjects (1, 2, 3, 4) from the bundled copy, as a tinyhar Parquet file."""
    return bundled_hapt_parquet(tmp_path_factory.mktemp("data"), ["1", "2", "3", "4"])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, small_parquet):
    out = tmp_path_factory.mktemp("runs") / "small"
    cfg = {
        "dataset": {"name": str(small_parquet)},
        "evaluation": {"test_subjects": [4], "cv_folds": 3},
        "model": {"n_estimators": 5, "max_depth": 6},
    }
    cfg_path = out.parent / "small.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "--config", str(cfg_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_train_writes_a_complete_run_folder(trained_run):
    out, output = trained_run

    for name in (
        PIPELINE_FILE,
        "manifest.json",
        "config.yaml",
        "metrics.json",
        "confusion_matrix.png",
        "feature_importance.png",
        "class_overview.png",
        "summary.md",
    ):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    for key in (
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "per_class",
        "confusion_matrix",
        "classes",
        "train_subjects",
        "test_subjects",
        "model_size",
        "seed",
    ):
        assert key in m
    assert m["train_subjects"] == ["1", "2", "3"] and m["test_subjects"] == ["4"]
    assert m["model_size"]["trees"] == 5 and m["model_size"]["nodes"] > 0
    assert m["model_size"]["bytes"] > m["model_size"]["nodes"]
    assert m["cross_validation"]["n_folds"] == 3
    # six clearly different activities: even a small forest on 3 subjects does well
    assert m["accuracy"] > 0.7
    assert np.sum(m["confusion_matrix"]) == m["n_windows"]
    assert "macro-F1" in output and "summary.md" in (out / "summary.md").name


def test_config_reproduces_the_run(trained_run, tmp_path):
    out, _ = trained_run
    again = tmp_path / "again"
    result = runner.invoke(
        app, ["train", "--config", str(out / "config.yaml"), "--out", str(again)]
    )
    assert result.exit_code == 0, result.output
    a = json.loads((out / "metrics.json").read_text())
    b = json.loads((again / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "confusion_matrix", "model_size", "seed"):
        assert a[key] == b[key]


def test_evaluate_command(trained_run, small_parquet):
    out, _ = trained_run
    result = runner.invoke(
        app, ["evaluate", str(out), "--dataset", str(small_parquet), "--subjects", "4", "--json"]
    )
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout[result.stdout.index("{") :])
    ref = json.loads((out / "metrics.json").read_text())
    assert m["subjects"] == ["4"]
    assert m["accuracy"] == pytest.approx(ref["accuracy"])


def test_random_protocol_warns(small_parquet, tmp_path):
    result = runner.invoke(
        app,
        [
            "train",
            "--dataset",
            str(small_parquet),
            "--protocol",
            "random",
            "--n-estimators",
            "2",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "inflated" in result.output
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "LEAKS" in m["protocol"] and m["leakage_warning"]


def test_one_subject_is_a_clear_error(small_parquet, tmp_path):
    from tinyhar.datasets.recording import RecordingSet

    one = RecordingSet.from_parquet(small_parquet).select(subjects=["1"])
    path = one.to_parquet(tmp_path / "one.parquet")
    result = runner.invoke(app, ["train", "--dataset", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "at least 2 subjects" in result.output
    assert "Traceback" not in result.output


def test_bad_config_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  n_trees: 3\n")
    result = runner.invoke(app, ["train", "--config", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "model.n_trees: unknown key" in result.output


def test_datasets_and_features_listings():
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0 and "hapt" in result.output and "uci-har" in result.output
    result = runner.invoke(app, ["datasets", "hapt"])
    assert result.exit_code == 0, result.output
    assert "30 subjects" in result.output and "WALKING" in result.output
    result = runner.invoke(app, ["features"])
    assert result.exit_code == 0 and "acc_x_mean" in result.output.replace("\n", "")


def test_evaluate_scores_only_unseen_subjects_by_default(trained_run, small_parquet, tmp_path):
    out, _ = trained_run
    ref = json.loads((out / "metrics.json").read_text())
    result = runner.invoke(app, ["evaluate", str(out), "--dataset", str(small_parquet)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 subjects of 'hapt' (1-3) were training subjects and are excluded" in text
    assert f"macro-F1 {ref['macro_f1']:.3f}" in text
    assert "per subject (1 subject): macro-F1" in text
    result = runner.invoke(
        app,
        ["evaluate", str(out), "--dataset", str(small_parquet), "--json", "--out",
         str(tmp_path / "ev")],
    )
    assert result.exit_code == 0, result.output
    m = json.loads(result.stdout[result.stdout.index("{") :])
    assert m["macro_f1"] == pytest.approx(ref["macro_f1"])
    assert list(m["per_subject"]) == ["4"] and m["excluded_training_subjects"] == ["1", "2", "3"]
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text()) == m
    assert (tmp_path / "ev" / "per_subject.png").is_file()


def test_evaluate_include_training_subjects_warns(trained_run, small_parquet):
    out, _ = trained_run
    result = runner.invoke(
        app,
        ["evaluate", str(out), "--dataset", str(small_parquet), "--subjects", "2,4",
         "--include-training-subjects", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert "inflated" in result.output
    m = json.loads(result.stdout[result.stdout.index("{") :])
    assert m["includes_training_subjects"] is True and m["training_subjects_scored"] == ["2"]
    assert m["subjects"] == ["2", "4"]


def test_evaluate_unknown_or_seen_subjects_are_clear_errors(trained_run, small_parquet):
    out, _ = trained_run
    result = runner.invoke(
        app, ["evaluate", str(out), "--dataset", str(small_parquet), "--subjects", "99,100"]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "99, 100 do not exist in 'hapt'; it has 4 subjects: 1-4" in text
    assert "class the model knows" not in text
    result = runner.invoke(
        app, ["evaluate", str(out), "--dataset", str(small_parquet), "--subjects", "1"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no subject-independent score is possible" in " ".join(result.output.split())


def test_train_output_has_no_blank_lines_and_plural_counts(trained_run):
    _, output = trained_run
    lines = output.splitlines()
    assert all(line.strip() for line in lines), lines
    assert "4 subjects" in output and "3 folds" in output


def test_print_metrics_warns_about_absent_classes_and_sums_up_subjects(monkeypatch):
    import io

    from rich.console import Console

    from tinyhar import cli
    from tinyhar.evaluation.metrics import classification_metrics

    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(cli, "console", Console(file=out, width=120))
    monkeypatch.setattr(cli, "err_console", Console(file=err, width=120))
    y = np.array(["a", "a", "b", "b"], dtype=object)
    m = classification_metrics(y, y, ["a", "b", "c"])
    m.update(
        dataset="d",
        per_subject={
            "1": {"accuracy": 1.0, "macro_f1": 1.0, "n_windows": 2},
            "2": {"accuracy": 0.5, "macro_f1": 0.4, "n_windows": 2},
        },
    )
    cli._print_metrics(m)
    assert "per subject (2 subjects): macro-F1 from 0.400 (subject 2) to 1.000 (subject 1)" in (
        out.getvalue()
    )
    assert "│ c " in out.getvalue() and "absent" in out.getvalue()
    assert "warning: 1 class of the model (c) has no test window" in err.getvalue()


def test_evaluate_out_refuses_empty_and_run_folders(trained_run, small_parquet):
    out, _ = trained_run
    for bad, message in (("", "--out is empty"), (str(out), "is a run folder")):
        result = runner.invoke(
            app, ["evaluate", str(out), "--dataset", str(small_parquet), "--out", bad]
        )
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_cli_module_imports_no_heavy_library():
    """``tinyhar --help`` stays fast: the CLI module imports only typer and rich."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import tinyhar

    src = str(Path(tinyhar.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    heavy = ("numpy", "pandas", "sklearn", "scipy", "torch")
    code = (
        "import sys, tinyhar.cli, tinyhar.datasets.info; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == ""


@pytest.mark.skipif(sys.platform == "win32", reason="LC_ALL does not set Windows' encodings")
def test_commands_print_on_an_ascii_terminal(tmp_path):
    """With an ASCII locale (LC_ALL=C, Python's UTF-8 mode off) a character the output
    cannot encode is escaped (the citation's "Samà" as ``Sam\\xe0``), not a
    UnicodeEncodeError traceback; a file name's bytes pass through unchanged."""
    import tinyhar

    src = str(Path(tinyhar.__file__).resolve().parents[1])
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0",
           "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTHONIOENCODING", None)
    command = [sys.executable, "-m", "tinyhar", "datasets"]
    done = subprocess.run([*command, "hapt"], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert rb"Sam\xe0, A." in done.stdout
    missing = os.fsencode(tmp_path) + "/données.yaml".encode()  # UTF-8 bytes, any locale
    done = subprocess.run([*command, "check", missing], capture_output=True, env=env)
    assert done.returncode == 2, done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr
    assert b" ".join(missing.split()) in b" ".join(done.stderr.split())


def test_cli_preset_names_equal_the_preset_registry():
    from tinyhar.cli import PRESET_NAMES
    from tinyhar.models.nn.presets import PRESETS

    assert PRESET_NAMES == tuple(PRESETS)
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in PRESET_NAMES:
        assert name in result.output


def test_datasets_lists_every_registered_data_set():
    from tinyhar.datasets.info import DATASETS
    from tinyhar.datasets.registry import DATASETS as REGISTRY

    assert REGISTRY is DATASETS
    result = CliRunner().invoke(app, ["datasets"], terminal_width=200)
    assert result.exit_code == 0
    for name in DATASETS:
        assert name in result.output
