"""End-to-end: a small network run through train, export onnx, embed and explore."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tinyhar.cli import app

pytest.importorskip("torch")
runner = CliRunner()


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    from tinyhar.datasets.bundled import load_bundled_hapt

    root = tmp_path_factory.mktemp("net")
    data = load_bundled_hapt().select(subjects=["1", "2", "3", "4"]).to_parquet(root / "d.parquet")
    cfg = {
        "dataset": {"name": str(data)},
        "evaluation": {"test_subjects": [4]},
        "model": {"kind": "cnn1d", "params": {"epochs": 2, "max_steps": 20, "hidden_units": 8}},
    }
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    out = root / "run"
    result = runner.invoke(app, ["train", "--config", str(root / "cfg.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_network_run_folder(network_run):
    m = json.loads((network_run / "metrics.json").read_text())
    for key in ("accuracy", "macro_f1", "confusion_matrix", "params", "macs", "history"):
        assert key in m
    assert m["test_subjects"] == ["4"] and "4" not in m["validation_subjects"]
    assert m["params"] > 0 and m["macs"] > m["params"]
    assert len(m["history"]) >= 1
    for name in ("training_curves.png", "confusion_matrix.png", "summary.md", "config.yaml"):
        assert (network_run / name).is_file()
    assert "network" in (network_run / "summary.md").read_text(encoding="utf-8")


def test_onnx_embed_explore(network_run, tmp_path):
    result = runner.invoke(app, ["export", str(network_run), "--target", "onnx"])
    assert result.exit_code == 0, result.output
    report = json.loads((network_run / "export" / "onnx" / "onnx_report.json").read_text())
    assert report["float32_class_mismatches"] == 0
    assert report["int8_bytes"] > 0 and "int8_accuracy" in report
    from tinyhar.runfolder import load_run

    run = load_run(network_run)
    assert report["window_spec"] == run.spec.to_dict() and run.is_network
    assert run.test_windows is not None and set(run.test_windows.subject) == {"4"}
    emb = tmp_path / "emb.parquet"
    result = runner.invoke(app, ["embed", str(network_run), "--out", str(emb)])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(emb)
    assert {"subject", "session", "label", "emb_0"} <= set(frame.columns)
    result = runner.invoke(app, ["explore", str(network_run), "--out", str(tmp_path / "m.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_tree_run_has_no_embeddings(tmp_path):
    import numpy as np

    from tinyhar.features import FeatureExtractor
    from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline
    from tinyhar.models.trees import TreeEnsembleClassifier
    from tinyhar.runfolder import write_run

    run = tmp_path / "r"
    X = np.random.default_rng(0).normal(size=(8, 128, 3)).astype(np.float32)
    fx = FeatureExtractor(channels=("acc_x", "acc_y", "acc_z"), feature_set="minimal").fit(X)
    model = TreeEnsembleClassifier(n_estimators=1).fit(fx.transform(X), ["a", "b"] * 4)
    channels = ["acc_x", "acc_y", "acc_z"]
    with write_run(run) as tmp:
        HarPipeline(fx, model, channels, 50.0, 128, 64, False, ["a", "b"]).save(
            tmp / PIPELINE_FILE
        )
    result = runner.invoke(app, ["embed", str(run), "--out", str(tmp_path / "e.parquet")])
    assert result.exit_code == 2 and "tree model" in result.output


def test_a_network_scores_a_definition_in_this_process_whatever_the_scheduler(network_run,
                                                                             tmp_path):
    """`evaluate` and `evaluate --continuous` of a network with `--scheduler processes`: a
    note, the serial scores, and the worker processes started for the definition are gone."""
    from tinyhar import compute
    from tinyhar.datasets.synthetic import synthesize

    synthesize(tmp_path / "d", 2, 0.04, session_hours=0.02, seed=1)
    definition = str(tmp_path / "d" / "data.yaml")
    for extra in ([], ["--continuous"]):
        args = ["evaluate", str(network_run), "--dataset", definition, "--json", *extra]
        serial = runner.invoke(app, args)
        parallel = runner.invoke(app, [*args, "--scheduler", "processes"])
        assert serial.exit_code == 0 and parallel.exit_code == 0, parallel.output
        assert ("--scheduler processes was asked for, but the job runs in this process"
                in " ".join(parallel.output.split()))
        assert compute._WARM == {}
        scores = [json.loads(r.stdout[r.stdout.index("{"):]) for r in (serial, parallel)]
        assert scores[0] == scores[1]


def test_each_job_run_in_this_process_prints_the_one_note(network_run, tmp_path):
    """`--scheduler processes` where the job runs here anyway: `evaluate` of a data set loaded
    whole, `predict` of a definition by a network (read session by session, classified here)
    and `predict --dataset` print the note of `note_in_this_process`, each with its reason."""
    from rich.console import Console

    from tinyhar.datasets.synthetic import synthesize
    from tinyhar.evaluate import note_in_this_process

    synthesize(tmp_path / "d", 2, 0.04, session_hours=0.02, seed=1)
    data = str(network_run.parent / "d.parquet")
    run = str(network_run)
    cases = [
        (["evaluate", run, "--dataset", data],
         "a network reads raw windows: the data set is loaded whole"),
        (["predict", run, str(tmp_path / "d" / "data.yaml"), "--out", str(tmp_path / "p1")],
         "a network classifies here (PyTorch uses the cores itself; worker processes would "
         "each import it)"),
        (["predict", run, "--dataset", data, "--out", str(tmp_path / "p2")],
         f"--dataset {data!r} is loaded whole"),
    ]
    for args, why in cases:
        result = runner.invoke(app, [*args, "--scheduler", "processes"])
        assert result.exit_code == 0, result.output
        console = Console(record=True, width=1000)
        note_in_this_process(console, "processes", why)
        note = console.export_text().strip()
        assert note.startswith("note: --scheduler processes was asked for, but the job runs in "
                               "this process: ")
        assert note in " ".join(result.output.split()), (args, result.output)
