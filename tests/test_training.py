"""Honest evaluation of runs: unseen subjects, per-subject scores, absent classes, loso, CV.

Small subsets of the bundled HAPT copy; networks train for one epoch of a few steps.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from tests.helpers import bundled_hapt_parquet
from tinyhar.config import make_config
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError, EvaluationError, TinyharError
from tinyhar.evaluation.splits import LeakageWarning
from tinyhar.training import (
    evaluate_run,
    loso_folds,
    shares_subjects,
    train,
    write_evaluation,
)

TREES = {"n_estimators": 4, "max_depth": 6}
TINY_NET = {"epochs": 1, "max_steps": 6, "hidden_units": 8, "n_layers": 1}
NET = {"kind": "cnn1d", "params": TINY_NET}


def config(data, model: dict | None = None, **evaluation):
    """A configuration for this data file, these evaluation keys and (default: small) trees."""
    return make_config(
        {"dataset": {"name": str(data)}, "evaluation": evaluation, "model": model or TREES}
    )


@pytest.fixture(scope="module")
def four_subjects(tmp_path_factory):
    """HAPT subjects 1-4 (bundled copy) as a tinyhar Parquet file (data set name "hapt")."""
    return bundled_hapt_parquet(tmp_path_factory.mktemp("data"), ["1", "2", "3", "4"])


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory, four_subjects):
    out = tmp_path_factory.mktemp("runs") / "trees"
    cfg = config(four_subjects, test_subjects=["3", "4"], cv_folds=2)
    return out, train(cfg, out)


def console_text() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200), buf


def test_evaluate_on_the_training_data_reproduces_the_held_out_score(tree_run, four_subjects):
    out, m = tree_run
    console, buf = console_text()
    ev = evaluate_run(out, str(four_subjects), console=console)
    assert ev["subjects"] == ["3", "4"] == m["test_subjects"]
    assert ev["excluded_training_subjects"] == ["1", "2"]
    assert ev["includes_training_subjects"] is False and ev["training_subjects_scored"] == []
    assert ev["macro_f1"] == pytest.approx(m["macro_f1"], abs=1e-12)
    assert ev["accuracy"] == pytest.approx(m["accuracy"], abs=1e-12)
    assert ev["confusion_matrix"] == m["confusion_matrix"]
    assert ev["per_subject"] == m["per_subject"]
    said = buf.getvalue()
    assert "2 subjects of 'hapt' (1, 2) were training subjects and are excluded" in said


def test_include_training_subjects_warns_and_records_it(tree_run, four_subjects):
    out, m = tree_run
    with pytest.warns(LeakageWarning, match="inflated"):
        ev = evaluate_run(out, str(four_subjects), include_training_subjects=True)
    assert ev["subjects"] == ["1", "2", "3", "4"]
    assert ev["includes_training_subjects"] is True
    assert ev["training_subjects_scored"] == ["1", "2"]
    assert ev["excluded_training_subjects"] == []
    # the training subjects score better than the held-out ones: the reason for the default
    seen = np.mean([ev["per_subject"][s]["macro_f1"] for s in ("1", "2")])
    assert seen > m["macro_f1"]


def test_evaluate_only_training_subjects_is_a_clear_error(tree_run, four_subjects):
    out, _ = tree_run
    with pytest.raises(EvaluationError, match="is a training subject") as info:
        evaluate_run(out, str(four_subjects), subjects=["1", "2"])
    assert "test subjects (3, 4)" in str(info.value)
    assert "--include-training-subjects" in str(info.value)


def test_unknown_subjects_are_named(tree_run, four_subjects):
    out, _ = tree_run
    with pytest.raises(EvaluationError, match="99, 100 do not exist in 'hapt'") as info:
        evaluate_run(out, str(four_subjects), subjects=["99", "100"])
    assert "4 subjects: 1-4" in str(info.value)


def test_same_population_rule():
    from tinyhar.datasets.info import DATASETS

    assert DATASETS["uci-har"].population == DATASETS["hapt"].population
    assert shares_subjects("uci-har", "hapt") and shares_subjects("mine", "mine")
    assert shares_subjects("my-recordings", "hapt")  # unknown population: assume the worst
    assert not shares_subjects("wisdm-windows", "hapt")


def test_renumbered_subject_ids_cannot_be_matched():
    from tinyhar.core.windowset import WindowSet
    from tinyhar.training import select_unseen_subjects

    w = WindowSet(np.zeros((4, 8, 3), np.float32), ["a", "b", "a", "b"], ["30", "30", "31", "31"],
                  ["s"] * 4, np.zeros(4), ["acc_x", "acc_y", "acc_z"], 20.0, ["a", "b"],
                  name="wisdm-raw")
    trained = {"dataset": "wisdm-windows", "train_subjects": ["0", "1"]}
    with pytest.raises(EvaluationError, match="not the publisher's user ids"):
        select_unseen_subjects(w, trained)
    with pytest.warns(LeakageWarning):  # the user may still ask for an inflated score
        selected, _ = select_unseen_subjects(
            w, {**trained, "train_subjects": ["30"]}, include_training_subjects=True
        )
    assert len(selected) == 4


def test_a_split_that_is_not_by_subject_is_not_used():
    from tinyhar.core.windowset import WindowSet
    from tinyhar.training import split_windows

    subjects = np.repeat([str(i) for i in range(10)], 4)
    split = np.tile(["train", "train", "train", "test"], 10).astype(object)
    y = np.tile(["a", "b"], 20)
    w = WindowSet(np.zeros((40, 8, 3), np.float32), y, subjects, subjects, np.zeros(40),
                  ["acc_x", "acc_y", "acc_z"], 20.0, ["a", "b"], split=split, name="per-user")
    tr, te, desc, _ = split_windows(w, make_config({}))
    assert not set(w.subject[tr]) & set(w.subject[te]) and "random" in desc
    by_subject = np.where(np.isin(subjects, ["8", "9"]), "test", "train").astype(object)
    w2 = WindowSet(w.X, y, subjects, subjects, np.zeros(40), w.channels, 20.0, ["a", "b"],
                   split=by_subject, name="by-subject")
    tr, te, desc, _ = split_windows(w2, make_config({}))
    assert sorted(set(w2.subject[te])) == ["8", "9"] and desc == "official test subjects"


def test_per_subject_scores_and_figures_in_the_run_folder(tree_run):
    out, m = tree_run
    assert list(m["per_subject"]) == ["3", "4"]
    for row in m["per_subject"].values():
        assert set(row) == {"accuracy", "macro_f1", "n_windows", "absent_classes"}
        assert 0 <= row["macro_f1"] <= 1
    assert sum(r["n_windows"] for r in m["per_subject"].values()) == m["n_windows"]
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk["per_subject"] == m["per_subject"]
    assert (out / "per_subject.png").stat().st_size > 5000
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Per subject" in summary and "| 3 |" in summary and "| 4 |" in summary
    assert "Test: 2 subjects (3, 4)" in summary
    assert m["cross_validation"]["n_folds"] == 2
    assert m["cross_validation"]["pooled"]["macro_f1"] > 0.5


def test_write_evaluation_writes_scores_and_refuses_a_run_folder(tree_run, four_subjects, tmp_path):
    out, _ = tree_run
    ev = evaluate_run(out, str(four_subjects))
    dest = write_evaluation(ev, tmp_path / "eval")
    assert json.loads((dest / "metrics.json").read_text())["per_subject"] == ev["per_subject"]
    for name in ("summary.md", "confusion_matrix.png", "per_subject.png"):
        assert (dest / name).is_file(), name
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]
    assert "Excluded as training subjects of the run: 2 subjects (1, 2)" in (
        dest / "summary.md"
    ).read_text()
    with pytest.raises(TinyharError, match="is a run folder"):
        write_evaluation(ev, out)


@pytest.fixture(scope="module")
def absent_class_data(tmp_path_factory):
    """Subjects 1-3; subject 3 never lies down (its LAYING samples are unlabelled)."""
    rec = load_bundled_hapt().select(subjects=["1", "2", "3"])
    frame = rec.frame.copy()
    frame.loc[(frame["subject"] == "3") & (frame["label"] == "LAYING"), "label"] = None
    rec = RecordingSet(frame, rec.sampling_rate_hz, rec.classes, name="hapt")
    return rec.to_parquet(tmp_path_factory.mktemp("absent") / "absent.parquet")


def test_class_absent_from_test_subjects_is_listed(absent_class_data, tmp_path):
    cfg = config(absent_class_data, test_subjects=["3"], cv_folds=0)
    m = train(cfg, tmp_path / "run")
    assert m["absent_classes"] == ["LAYING"]
    assert m["per_class"]["LAYING"]["support"] == 0
    scored = m["scored_classes"]
    assert set(scored) >= set(m["classes"]) - {"LAYING"}
    assert m["macro_f1"] == pytest.approx(np.mean([m["per_class"][c]["f1"] for c in scored]))
    assert m["per_subject"]["3"]["absent_classes"] == ["LAYING"]
    summary = (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    assert "1 class of the model (LAYING) has no test window" in summary
    assert "| LAYING | absent | absent | absent | 0 |" in summary


def test_progress_leaves_no_blank_lines_off_a_terminal(four_subjects, tmp_path):
    console, buf = console_text()
    assert not console.is_terminal
    cfg = config(four_subjects, test_subjects=["4"], cv_folds=2)
    train(cfg, tmp_path / "run", console)
    lines = buf.getvalue().splitlines()
    assert lines and all(line.strip() for line in lines), lines
    assert "4 subjects" in buf.getvalue()


def test_loso_folds_rule():
    subjects = np.array(["1", "2", "3", "4"] * 3, dtype=object)
    assert loso_folds(subjects, 0) == 4
    assert loso_folds(subjects, 9) == 4
    assert loso_folds(subjects, 2) == 2
    with pytest.raises(ConfigError, match="cv_folds"):
        loso_folds(subjects, 1)
    with pytest.raises(EvaluationError, match="at least 2 subjects"):
        loso_folds(np.array(["1", "1"], dtype=object), 0)


def test_loso_trees_pool_every_subject_and_fit_on_all(four_subjects, tmp_path):
    cfg = config(four_subjects, protocol="loso", cv_folds=0)
    m = train(cfg, tmp_path / "run")
    cv = m["cross_validation"]
    assert cv["scope"] == "all subjects" and cv["n_folds"] == 4
    assert sorted(f["test_subjects"] for f in cv["folds"]) == [["1"], ["2"], ["3"], ["4"]]
    assert m["train_subjects"] == m["test_subjects"] == ["1", "2", "3", "4"]
    # top-level scores are the pooled ones; per fold mean +- sd also reported
    assert m["macro_f1"] == pytest.approx(cv["pooled"]["macro_f1"])
    f1 = [f["macro_f1"] for f in cv["folds"]]
    assert cv["macro_f1_mean"] == pytest.approx(np.mean(f1))
    assert cv["macro_f1_std"] == pytest.approx(np.std(f1))
    assert m["n_windows"] == sum(f["n_windows"] for f in cv["folds"])
    # each subject"s score is its own fold"s score
    for fold in cv["folds"]:
        (s,) = fold["test_subjects"]
        assert m["per_subject"][s]["macro_f1"] == pytest.approx(fold["macro_f1"])
    assert "leave-one-subject-out" in m["protocol"]
    summary = (tmp_path / "run" / "summary.md").read_text(encoding="utf-8")
    assert "its expected score on new people is this cross-validation score" in summary
    # the model was fitted on every subject: evaluate has nobody unseen left
    with pytest.raises(EvaluationError, match="cross-validation score in metrics.json"):
        evaluate_run(tmp_path / "run", str(four_subjects))


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_in_memory_folds_as_tasks_give_the_serial_metrics(four_subjects, tmp_path, scheduler):
    """The in-memory folds run as `fit_fold` tasks on the configured scheduler; augmented
    copies travel with the shared rows."""

    def run(name: str, **compute):
        cfg = make_config({
            "dataset": {"name": str(four_subjects)}, "model": TREES,
            "evaluation": {"test_subjects": ["4"], "cv_folds": 3},
            "augment": {"rotation": "random", "copies": 1}, "compute": compute,
        })
        return train(cfg, tmp_path / name)

    serial = run("serial")
    other = run(scheduler, scheduler=scheduler, workers=2)
    assert serial["cross_validation"]["n_folds"] == 3
    for key in ("cross_validation", "macro_f1", "accuracy", "per_subject", "model_size"):
        assert other[key] == serial[key], key
    assert other["postprocess"]["cv"] == serial["postprocess"]["cv"]


def test_loso_with_k_folds(four_subjects, tmp_path):
    cfg = config(four_subjects, protocol="loso", cv_folds=2)
    m = train(cfg, tmp_path / "run")
    assert m["cross_validation"]["n_folds"] == 2
    assert m["cross_validation"]["subjects_per_fold"] == "2 subjects per fold"
    assert "2 folds" in m["protocol"]


@pytest.fixture(scope="module")
def three_subjects(tmp_path_factory):
    return bundled_hapt_parquet(tmp_path_factory.mktemp("data3"), ["1", "2", "3"])


def test_network_holdout_gets_cross_validation(three_subjects, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from tinyhar.reporting import plots

    titles = []
    real = plots.plot_confusion_matrix
    monkeypatch.setattr(
        plots, "plot_confusion_matrix", lambda *a: titles.append(a[3]) or real(*a)
    )
    from tinyhar.models.nn import NoGroupsWarning

    cfg = config(three_subjects, model=NET, test_subjects=["3"], cv_folds=2)
    with pytest.warns(NoGroupsWarning, match="single subject"):  # each fold trains on one
        m = train(cfg, tmp_path / "run")
    cv = m["cross_validation"]
    assert cv["n_folds"] == 2 and cv["scope"] == "training subjects"
    assert sorted(s for f in cv["folds"] for s in f["test_subjects"]) == ["1", "2"]
    assert list(m["per_subject"]) == ["3"]
    for name in ("per_subject.png", "training_curves.png", "confusion_matrix.png"):
        assert (tmp_path / "run" / name).is_file(), name
    assert titles == ["hapt, confusion matrix: test subject 3"]


def test_network_cv_respects_cv_folds_zero(three_subjects, tmp_path):
    pytest.importorskip("torch")
    cfg = config(three_subjects, model=NET, test_subjects=["3"], cv_folds=0)
    assert train(cfg, tmp_path / "run")["cross_validation"] is None


def test_network_loso(three_subjects, tmp_path):
    pytest.importorskip("torch")
    cfg = config(three_subjects, model=NET, protocol="loso", cv_folds=0)
    m = train(cfg, tmp_path / "run")
    cv = m["cross_validation"]
    assert cv["n_folds"] == 3 and cv["scope"] == "all subjects"
    assert m["macro_f1"] == pytest.approx(cv["pooled"]["macro_f1"])
    assert list(m["per_subject"]) == ["1", "2", "3"]
    assert m["train_subjects"] == ["1", "2", "3"]
