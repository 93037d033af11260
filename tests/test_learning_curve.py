"""`tinyhar learning-curve`: macro-F1 against training subjects and minutes per class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import write_segment_csvs
from tinyhar.cli import app
from tinyhar.config import TrainConfig
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.learning_curve import (
    _first_fraction,
    advice,
    hop_seconds,
    learning_curve,
    run_learning_curve,
    subject_counts,
)
from tinyhar.training import build_pipeline, make_window_set

runner = CliRunner()


@pytest.fixture(scope="module")
def hapt_windows():
    """Windows and features of 7 bundled HAPT subjects (default windows and features)."""
    cfg = TrainConfig()
    recordings = load_bundled_hapt().select(subjects=[str(s) for s in range(1, 8)])
    windows, _ = make_window_set(recordings, cfg)
    pipeline = build_pipeline(windows, cfg, None)
    return windows, pipeline.transform(windows), pipeline.model


def test_subject_counts_and_hop():
    assert subject_counts(1) == [1]
    assert subject_counts(5) == [1, 2, 3, 4, 5]
    assert subject_counts(21) == [1, 2, 3, 6, 11, 21]


def test_curve_on_real_data(hapt_windows):
    windows, features, model = hapt_windows
    assert hop_seconds(windows) == pytest.approx(1.28)  # default hop 1.28 s at 50 Hz
    result = learning_curve(windows, features, model, repeats=2, seed=0)
    # 7 subjects: 2 held out (30 %), 5 to train on
    assert [r["n_subjects"] for r in result["subjects"]] == [1, 2, 3, 4, 5]
    assert all(len(t) == 2 for t in result["test_subjects"])
    assert [r["fraction"] for r in result["minutes"]] == [0.1, 0.25, 0.5, 1.0]
    minutes = [r["minutes_per_class"] for r in result["minutes"]]
    assert minutes == sorted(minutes) and minutes[0] < 0.15 * minutes[-1]
    # all training subjects with all their minutes is the same fit in both curves
    assert result["minutes"][-1]["macro_f1"] == result["subjects"][-1]["macro_f1"]
    assert result["subjects"][-1]["minutes_per_class"] == pytest.approx(minutes[-1])
    # more people help on HAPT: one training subject is clearly worse than five
    # (measured 0.48 vs 0.79 on subjects 1-8, 3 repeats)
    first, last = result["subjects"][0], result["subjects"][-1]
    assert last["macro_f1_mean"] > first["macro_f1_mean"] + 0.1
    for row in result["subjects"] + result["minutes"]:
        assert 0.0 <= row["macro_f1_mean"] <= 1.0
        assert len(row["macro_f1"]) == 2
    json.dumps(result)  # plain JSON types only


def test_first_fraction_keeps_the_start_of_each_subject_and_class():
    n = 10
    windows = WindowSet(
        X=np.zeros((2 * n, 4, 3), np.float32),
        y=np.array(["a"] * n + ["b"] * n, dtype=object),
        subject=np.array(["1"] * (2 * n), dtype=object),
        session=np.array(["s"] * (2 * n), dtype=object),
        start_time=np.r_[np.arange(n)[::-1], np.arange(n, 2 * n)].astype(float),
        channels=["acc_x", "acc_y", "acc_z"],
        sampling_rate_hz=50.0,
        classes=["a", "b"],
    )
    kept = _first_fraction(windows, np.arange(2 * n), 0.25)
    # class a's windows are stored in reverse time order: its first 3 in time are rows 7-9
    assert kept.tolist() == [7, 8, 9, 10, 11, 12]


def test_advice_names_the_curve_that_still_rises():
    flat = [{"n_subjects": k, "minutes_per_class": float(k), "macro_f1_mean": 0.9,
             "macro_f1_std": 0.01, "macro_f1": [0.9] * 3} for k in (1, 2, 4)]
    rising = [dict(r, macro_f1_mean=0.5 + 0.1 * i) for i, r in enumerate(flat)]
    assert advice(flat, flat).startswith("both curves are flat")
    text = advice(rising, flat)
    assert "from 2 to 4 training subjects raised macro-F1 by 0.100" in text
    assert "minutes" not in text
    assert "longer recordings" in advice(flat, rising)


def test_errors(hapt_windows, tmp_path):
    windows, features, model = hapt_windows
    two = np.isin(windows.subject, ["1", "2"])
    with pytest.raises(EvaluationError, match="at least 3 subjects"):
        learning_curve(windows.subset(two), features[two], model)
    with pytest.raises(EvaluationError, match="fractions"):
        learning_curve(windows, features, model, fractions=(0.0, 1.0))
    with pytest.raises(EvaluationError, match="exceeds"):
        learning_curve(windows, features, model, counts=[50])
    cfg = TrainConfig.model_validate({"model": {"kind": "cnn1d"}})
    with pytest.raises(ConfigError, match="tree models"):
        run_learning_curve(cfg, tmp_path / "lc")


def test_cli_writes_json_markdown_and_plot_atomically(tmp_path):
    folder = tmp_path / "mine" / "csv"
    write_segment_csvs(load_bundled_hapt().select(subjects=["1", "2", "3", "4", "5"]),
                       folder, labels=["WALKING", "SITTING", "LAYING"], max_seconds=30)
    definition = tmp_path / "mine" / "data.yaml"
    assert runner.invoke(app, ["datasets", "init", str(folder), "--out",
                               str(definition)]).exit_code == 0
    out = tmp_path / "lc"
    args = ["learning-curve", "--dataset", str(definition), "--out", str(out),
            "--repeats", "2", "--subjects", "1,2,3", "--fractions", "0.5,1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "learning_curve.json", "learning_curve.md", "learning_curve.png"]
    data = json.loads((out / "learning_curve.json").read_text())
    assert [r["n_subjects"] for r in data["subjects"]] == [1, 2, 3]
    assert [r["fraction"] for r in data["minutes"]] == [0.5, 1.0]
    assert data["classes"] == ["laying", "sitting", "walking"]
    markdown = (out / "learning_curve.md").read_text(encoding="utf-8")
    assert "| training subjects |" in markdown and "**Advice:**" in markdown
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = (out / "learning_curve.json").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert (out / "learning_curve.json").read_bytes() == before
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    bad = runner.invoke(app, [*args, "--overwrite", "--subjects", "one"])
    assert bad.exit_code == 2 and "--subjects" in bad.output


def test_cli_names_too_few_subjects(tmp_path):
    definition = tmp_path / "two.yaml"
    example = Path(__file__).resolve().parents[1] / "examples" / "my_data"
    assert runner.invoke(app, ["datasets", "init", str(example), "--out",
                               str(definition)]).exit_code == 0
    result = runner.invoke(app, ["learning-curve", "--dataset", str(definition), "--out",
                                 str(tmp_path / "lc")])
    assert result.exit_code == 2 and "at least 3 subjects" in result.output
    assert "has 2" in result.output and not (tmp_path / "lc").exists()
