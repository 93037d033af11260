"""End-to-end: the `tinyhar` command on a small subset of the bundled HAPT data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app
from tinyhar.models.pipeline import PIPELINE_FILE

runner = CliRunner()


@pytest.fixture(scope="module")
def small_parquet(tmp_path_factory):
    """Four HAPT subjects (1, 2, 3, 4) from the bundled copy, as a tinyhar Parquet file."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    rec = load_bundled_hapt().select(subjects=["1", "2", "3", "4"])
    return rec.to_parquet(tmp_path_factory.mktemp("data") / "small.parquet")


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
