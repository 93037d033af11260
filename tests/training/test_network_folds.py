"""A network's cross-validation folds and final fit as tasks (training.trees.fit_with_folds).

The serial results on Dask's threads and processes and on a LocalCluster of 2
workers: the same folds, the same labels (exactly) and probabilities (within
1e-5: float32 kernels), the same metrics; the fold networks equal those of a
plain one-by-one loop; a user mistake in a fold stays a TinyharError. HAPT
subjects 1-3 of the bundled copy, a tiny CNN with dropout (its random stream
is what threads could mix up) trained for a few steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

torch = pytest.importorskip("torch")
pytest.importorskip("dask")

from tinyhar.config import make_config  # noqa: E402
from tinyhar.datasets.bundled import load_bundled_hapt  # noqa: E402
from tinyhar.errors import DataFormatError  # noqa: E402
from tinyhar.models.nn import NeuralNetClassifier, NoGroupsWarning  # noqa: E402
from tinyhar.models.pipeline import HarPipeline  # noqa: E402
from tinyhar.training.trees import fit_with_folds  # noqa: E402
from tinyhar.windows.source import make_window_set  # noqa: E402

TINY = {"hidden_units": 8, "n_layers": 2, "dropout": 0.3, "epochs": 2, "max_steps": 8,
        "seed": 5}
ATOL = 1e-5
"""Probabilities of one network fitted in two places: float32 kernels, same thread count."""


@pytest.fixture(scope="module")
def windows():
    data = load_bundled_hapt().select(subjects=["1", "2", "3"])
    return make_window_set(data, make_config({"dataset": {"name": "hapt"}}))[0]


def run_folds(windows, scheduler: str, X=None):
    """Leave-one-subject-out folds and the final fit of the tiny network on ``scheduler``."""
    cfg = make_config({"dataset": {"name": "hapt"}, "evaluation": {"protocol": "loso"},
                       "compute": {"scheduler": scheduler, "workers": 2}})
    pipeline = HarPipeline.from_spec(windows.spec, extractor=None,
                                     model=NeuralNetClassifier(**TINY), stack_previous=False,
                                     classes=list(windows.classes))
    console = Console(record=True, width=200)
    cv, pooled, fold_models = fit_with_folds(cfg, pipeline, windows,
                                             windows.X if X is None else X, console)
    return {"cv": cv, "pooled": pooled, "folds": fold_models, "final": pipeline.model,
            "said": console.export_text()}


@pytest.fixture(scope="module")
def serial(windows):
    return run_folds(windows, "serial")


def assert_same(got: dict, serial: dict, windows) -> None:
    """The same folds, labels and metrics; probabilities within ATOL."""
    assert got["cv"] == serial["cv"]  # fold assignment, per-fold and pooled metrics
    assert list(got["pooled"]) == list(serial["pooled"])
    pairs = [*zip(got["folds"], serial["folds"], strict=True),
             ((None, got["final"]), (None, serial["final"]))]
    for (subjects, mine), (theirs_subjects, theirs) in pairs:
        assert subjects == theirs_subjects
        np.testing.assert_allclose(mine.predict_proba(windows.X),
                                   theirs.predict_proba(windows.X), rtol=0, atol=ATOL)
        assert mine.validation_groups_ == theirs.validation_groups_
        assert mine.best_epoch_ == theirs.best_epoch_
    assert "fitted the final model on all subjects" in got["said"]


def test_the_tasks_are_the_networks_of_a_plain_loop(windows, serial):
    cv = serial["cv"]
    assert cv["n_folds"] == 3 and cv["scope"] == "all subjects"
    held_out = [f["test_subjects"] for f in cv["folds"]]
    assert sorted(s for f in held_out for s in f) == ["1", "2", "3"]
    assert [sorted(s) for s, _ in serial["folds"]] == held_out
    for subjects, model in serial["folds"]:  # fitted on the other subjects, seeded as before
        train = ~np.isin(windows.subject, list(subjects))
        alone = NeuralNetClassifier(**TINY).fit(windows.X[train], windows.y[train],
                                                groups=windows.subject[train])
        np.testing.assert_allclose(model.predict_proba(windows.X),
                                   alone.predict_proba(windows.X), rtol=0, atol=ATOL)
        assert model.train_groups_ == alone.train_groups_
        assert set(model.train_groups_) | set(model.validation_groups_) == (
            {"1", "2", "3"} - subjects)
        test = ~train
        assert list(serial["pooled"][test]) == list(model.predict(windows.X[test]))
    final = NeuralNetClassifier(**TINY).fit(windows.X, windows.y, groups=windows.subject)
    np.testing.assert_allclose(serial["final"].predict_proba(windows.X),
                               final.predict_proba(windows.X), rtol=0, atol=ATOL)
    assert serial["final"].get_params() == NeuralNetClassifier(**TINY).get_params()


@pytest.mark.parametrize("scheduler", ["threads", pytest.param("processes",
                                                               marks=pytest.mark.slow)])
def test_local_workers_give_the_serial_results(windows, serial, scheduler):
    before = torch.get_num_threads()
    assert_same(run_folds(windows, scheduler), serial, windows)
    assert torch.get_num_threads() == before  # the tasks' thread setting is undone


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_serial_results(windows, serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        got = run_folds(windows, cluster.scheduler_address)
    assert_same(got, serial, windows)


@pytest.mark.parametrize("scheduler", ["serial", "threads",
                                       pytest.param("processes", marks=pytest.mark.slow)])
def test_a_bad_window_in_a_fold_is_the_same_tinyhar_error(windows, scheduler):
    X = windows.X.copy()
    X[np.flatnonzero(windows.subject == "2")[0], 0, 0] = np.nan
    with pytest.raises(DataFormatError, match="training windows: 1 window holds a value "
                       "outside the accepted input"):
        run_folds(windows, scheduler, X)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::tinyhar.models.nn.NoGroupsWarning")  # 1 subject per fold
def test_a_training_run_on_threads_is_the_serial_run(tmp_path):
    """End to end: the fold networks choose the post-processing on the training streams."""
    from tests.helpers import bundled_hapt_parquet
    from tinyhar.training import train

    data = bundled_hapt_parquet(tmp_path, ["1", "2", "3"])
    runs = {}
    for scheduler in ("serial", "threads"):
        cfg = make_config({"dataset": {"name": str(data)},
                           "evaluation": {"test_subjects": ["3"], "cv_folds": 2},
                           "model": {"kind": "cnn1d", "params": TINY},
                           "postprocess": {"smoothing": "auto"},
                           "compute": {"scheduler": scheduler}})
        runs[scheduler] = train(cfg, tmp_path / scheduler)
    serial, threads = runs["serial"], runs["threads"]
    assert threads["cross_validation"] == serial["cross_validation"]
    assert threads["cross_validation"]["n_folds"] == 2
    for key in ("macro_f1", "accuracy", "confusion_matrix", "validation_subjects",
                "best_epoch"):
        assert threads[key] == serial[key], key
    np.testing.assert_allclose([h["train_loss"] for h in threads["history"]],
                               [h["train_loss"] for h in serial["history"]], rtol=1e-6)
    mine, theirs = threads["postprocess"], serial["postprocess"]
    assert mine["chosen_by"] == theirs["chosen_by"] and mine["cv"] == theirs["cv"]
    assert mine["description"] == theirs["description"]


@pytest.mark.slow
def test_a_worker_process_warning_is_shown_by_the_run(windows):
    """Two subjects: each fold trains on one, so its early stopping warns (in a worker)."""
    two = windows.subset(np.flatnonzero(np.isin(windows.subject, ["1", "2"])))
    with pytest.warns(NoGroupsWarning, match="the training data has a single subject"):
        got = run_folds(two, "processes")
    assert got["cv"]["n_folds"] == 2


def test_a_user_mistake_met_in_the_fold_tasks_is_an_error_line(tmp_path):
    """The rotation groups are checked when a network trains: inside the tasks."""
    import yaml
    from typer.testing import CliRunner

    from tests.helpers import bundled_hapt_parquet
    from tinyhar.cli import app

    data = bundled_hapt_parquet(tmp_path, ["1", "2"])
    params = {**TINY, "augment_groups": [[0, 1, 9]], "augment_rotation": 10}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({
        "dataset": {"name": str(data)}, "evaluation": {"protocol": "loso"},
        "model": {"kind": "cnn1d", "params": params}}))
    result = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "c.yaml"),
                                      "--scheduler", "threads", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "error: augmentation groups must be triplets of channel indices below 6" in (
        " ".join(result.output.split()))
    assert "Traceback" not in result.output and not (tmp_path / "r").exists()
