"""`tinyhar train` options: --set, --epochs, --out checks, errors for user mistakes, and
a run folder's config.yaml reproducing the run from another working directory."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def small_parquet(tmp_path_factory):
    """Three HAPT subjects (1, 2, 3) from the bundled copy, as a tinyhar Parquet file."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    rec = load_bundled_hapt().select(subjects=["1", "2", "3"])
    return rec.to_parquet(tmp_path_factory.mktemp("data") / "small.parquet")


QUICK = ["--n-estimators", "3", "--set", "evaluation.test_subjects=[3]",
         "--set", "evaluation.cv_folds=0", "--set", "features.set=minimal"]


def _train(*args: str):
    return runner.invoke(app, ["train", *args])


def _fails_with(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())  # rich wraps long lines
    for fragment in fragments:
        assert fragment in text, result.output


def test_out_must_name_a_folder_of_its_own(tmp_path, monkeypatch):
    """Checked by tinyhar.runfolder before any work; the option is read as text."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.txt").write_text("x")
    _fails_with(_train("--out", ""), "empty path")  # not read as "."
    _fails_with(_train("--out", "  "), "empty path")
    _fails_with(_train("--out", "."), "is the current folder")
    _fails_with(_train("--out", ".."), "is the current folder")
    _fails_with(_train("--out", "taken.txt"), "taken.txt is a file, not a folder")
    _fails_with(_train("--out", "taken.txt/run"), "taken.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.txt"]


def test_option_mistakes_exit_2_naming_key_and_value(tmp_path):
    out = str(tmp_path / "run")
    _fails_with(_train("--out", out, "--epochs", "3"), "--epochs applies to networks",
                "'random_forest'")
    _fails_with(_train("--out", out, "--set", "windows.hopp=1"), "unknown key 'windows.hopp'")
    # messages are printed as they are, not read as rich markup
    _fails_with(_train("--out", out, "--set", "[red]x=1"), "unknown key '[red]x'")
    _fails_with(_train("--out", out, "--set", "model.max_features=banana"),
                "model.max_features: must be sqrt", "'banana'")
    _fails_with(_train("--out", out, "--set", "model.max_features=0"), "model.max_features")
    _fails_with(_train("--out", out, "--seed", "-1"), "seed: Input should be greater than",
                "-1")
    _fails_with(_train("--out", out, "--seed", str(2**40)), "seed: Input should be less than")
    _fails_with(_train("--out", out, "--model", "cnn1d", "--n-estimators", "50"),
                "command line: model.n_estimators: applies to tree models only")
    _fails_with(_train("--out", out, "--preset", "small-cnn", "--model", "extra_trees"),
                "model.preset: applies to networks only")
    _fails_with(_train("--out", out, "--set", "windows.window=.nan"), "windows.window",
                "finite")
    _fails_with(_train("--out", out, "--set", "evaluation.test_fraction=1"),
                "evaluation.test_fraction")
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"seed: 3\nmodel:\n  kind: \xff\n")
    _fails_with(_train("--out", out, "--config", str(bad)), "bad.yaml, line 3: not UTF-8")
    assert not (tmp_path / "run").exists()


def test_data_dependent_mistakes(tmp_path, small_parquet):
    out = str(tmp_path / "run")
    base = ["--out", out, "--dataset", str(small_parquet), *QUICK]
    _fails_with(_train(*base, "--set", "features.set=default",
                       "--set", "features.gravity_cutoff_hz=30"),
                "features.gravity_cutoff_hz: 30 Hz is not below the Nyquist frequency (25 Hz)")
    _fails_with(_train(*base, "--set", "model.max_features=10000"),
                "model.max_features: 10000 is more than the")


def test_set_and_hop_warning_reach_the_run(tmp_path, small_parquet):
    out = tmp_path / "run"
    result = _train("--out", str(out), "--dataset", str(small_parquet), *QUICK,
                    "--set", "windows.window=2", "--set", "windows.hop=3")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "warning:" in text and "windows.hop (3 s) is longer" in text
    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert saved["windows"]["hop"] == 3 and saved["windows"]["window"] == 2
    assert saved["model"]["n_estimators"] == 3 and saved["features"]["set"] == "minimal"
    m = json.loads((out / "metrics.json").read_text())
    assert m["window"]["n_samples"] == 100 and m["window"]["hop_samples"] == 150


def test_config_reproduces_the_run_from_another_folder(tmp_path, small_parquet, monkeypatch):
    """Relative paths in a config are relative to its folder; the saved config is absolute."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "small.parquet").write_bytes(small_parquet.read_bytes())
    (project / "configs").mkdir()
    (project / "configs" / "my.yaml").write_text(
        yaml.safe_dump({
            "dataset": {"name": "../data/small.parquet"},
            "features": {"set": "minimal"},
            "model": {"n_estimators": 3},
            "evaluation": {"test_subjects": [3], "cv_folds": 0},
        })
    )
    monkeypatch.chdir(project)
    first = _train("--config", "configs/my.yaml", "--out", "runs/x")
    assert first.exit_code == 0, first.output
    saved = yaml.safe_load((project / "runs/x/config.yaml").read_text(encoding="utf-8"))
    assert saved["dataset"]["name"] == str(project / "data" / "small.parquet")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = _train("--config", str(project / "runs/x/config.yaml"), "--out", "y")
    assert again.exit_code == 0, again.output
    m1 = json.loads((project / "runs/x/metrics.json").read_text())
    m2 = json.loads((elsewhere / "y/metrics.json").read_text())
    for key in ("classes", "test_subjects", "train_subjects", "confusion_matrix", "window"):
        assert m1[key] == m2[key], key
    assert m1["macro_f1"] == pytest.approx(m2["macro_f1"], abs=1e-12)


def test_epochs_and_set_for_networks(tmp_path, small_parquet):
    pytest.importorskip("torch")
    out = tmp_path / "net"
    result = _train("--out", str(out), "--dataset", str(small_parquet), "--model", "cnn1d",
                    "--epochs", "1", "--set", "model.params.max_steps=3",
                    "--set", "model.params.hidden_units=[4, 4]",
                    "--set", "model.params.n_layers=2",
                    "--set", "evaluation.test_subjects=[3]")
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["params"] == {"epochs": 1, "max_steps": 3, "hidden_units": [4, 4],
                                        "n_layers": 2}
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["history"]) == 1 and m["test_subjects"] == ["3"]


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["small-cnn", "ucihar-cnn", "tiny-cnn"])
def test_presets_train_with_their_data_sets_subjects(preset, tmp_path, shared_data_dir,
                                                     monkeypatch):
    """The presets the README tour does not run (it runs wisdm-bilstm and ucihar-lstm)."""
    pytest.importorskip("torch")
    from tinyhar.training import PRESET_DATA, preset_test_subjects

    monkeypatch.setenv("TINYHAR_DATA", str(shared_data_dir))
    out = tmp_path / preset
    result = _train("--preset", preset, "--out", str(out), "--epochs", "1",
                    "--set", "model.params.max_steps=2")
    assert result.exit_code == 0, result.output
    m = json.loads((out / "metrics.json").read_text())
    assert m["dataset"] == PRESET_DATA[preset]["dataset"]["name"] and m["preset"] == preset
    assert m["test_subjects"] and not set(m["test_subjects"]) & set(m["train_subjects"])
    expected = preset_test_subjects(preset, m["dataset"])
    assert m["test_subjects"] == (expected or ["2", "4", "9", "10", "12", "13", "18", "20", "24"])
