"""A trained run's post-processing goes with its C library and MicroPython bundle; the
live app prints the smoothed timeline (POST lines) when replaying a recording."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import bundled_hapt_parquet
from tinyhar.config import make_config
from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.export.c import build_example, export_c
from tinyhar.export.c_runner import build_post_example, run_post_c
from tinyhar.runfolder import load_run
from tinyhar.training import train

TRAIN = ["1", "3", "5"]
TEST = "7"


@pytest.fixture(scope="module")
def hmm_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    data = bundled_hapt_parquet(folder, TRAIN + [TEST])
    cfg = make_config({
        "dataset": {"name": str(data), "sensors": "acc"},
        "features": {"set": "minimal"},
        "evaluation": {"test_subjects": [TEST], "cv_folds": 3},
        "model": {"n_estimators": 5, "max_depth": 8},
        "postprocess": {"smoothing": "hmm", "hmm_lag": 3, "min_duration": 2},
    })
    out = tmp_path_factory.mktemp("runs") / "hmm"
    train(cfg, out)
    return out, data


@pytest.mark.slow
def test_export_c_writes_and_builds_the_runs_post_processing(hmm_run, tmp_path):
    run_dir, _ = hmm_run
    info = export_c(run_dir, tmp_path)
    post = info["postprocess"]
    assert post["description"] == "hmm(fixed_lag=3)+min_duration(2,causal)"
    assert post["lag"] == 4
    for name in ("tinyhar_post.h", "tinyhar_post.c", "post_main.c"):
        assert name in info["files"]
    build_example(tmp_path)  # the model's example still builds beside it
    exe = build_post_example(tmp_path)
    spec = load_run(run_dir).postprocess
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(spec.n_classes) * 0.3, 300)
    runs = np.repeat([0, 1, 2], 100)
    out = run_post_c(exe, proba, None, runs)
    assert out["smoothed"].tolist() == spec.apply(proba, runs).tolist()


def test_pipeline_without_run_exports_no_post_processing(hmm_run, tmp_path):
    run_dir, _ = hmm_run
    info = export_c(load_run(run_dir).pipeline, tmp_path)
    assert "no post-processing" in info["postprocess"]["note"]
    assert not (tmp_path / "tinyhar_post.c").exists()


def test_a_second_export_without_post_processing_removes_the_first_ones(hmm_run, tmp_path):
    """Exporting again into the same folder a model without a (device) post-processing
    leaves no post-processing of the earlier export behind for the budget or a build to
    pick up, in C as in the MicroPython bundle."""
    run_dir, _ = hmm_run
    pipeline = load_run(run_dir).pipeline
    export_c(run_dir, tmp_path / "c")
    assert (tmp_path / "c" / "tinyhar_post.c").is_file()
    info = export_c(pipeline, tmp_path / "c")
    assert "no post-processing" in info["postprocess"]["note"]
    assert not any((tmp_path / "c" / name).exists()
                   for name in ("tinyhar_post.h", "tinyhar_post.c", "post_main.c"))
    mpx.export_micropython(run_dir, tmp_path / "mpy", n_test_windows=0)
    assert (tmp_path / "mpy" / "post.json").is_file()
    mpx.export_micropython(pipeline, tmp_path / "mpy", n_test_windows=0)
    assert not (tmp_path / "mpy" / "post.json").exists()


def test_live_app_prints_the_smoothed_timeline(hmm_run, tmp_path):
    from tinyhar.device.simulate import load_session, write_replay_csv

    try:
        mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(str(exc))
    run_dir, data = hmm_run
    run = load_run(run_dir)
    bundle = tmp_path / "bundle"
    info = mpx.export_micropython(run_dir, bundle, n_test_windows=0)
    assert info["postprocess"]["description"] == "hmm(fixed_lag=3)+min_duration(2,causal)"
    assert (bundle / "post.json").is_file() and "post.json" in info["files"]
    mpx.check_bundle_code(bundle, run.pipeline)  # tinyhar_post.py is one of the sources
    t, values, _ = load_session(data, run.pipeline.channels, run.pipeline.sampling_rate_hz)
    n = 64 * 60  # about a minute
    csv = write_replay_csv(tmp_path / "replay.csv", t[:n], values[:n], run.pipeline.channels)
    proc = mpx.run_micropython(
        f"import app_live\napp_live.main(replay={str(csv)!r}, display='print', "
        "verbose=False)\n", bundle, timeout=300)
    lines = proc.stdout.splitlines()
    pred = [ln.split() for ln in lines if ln.startswith("PRED ")]
    post = [ln.split() for ln in lines if ln.startswith("POST ")]
    assert len(pred) > 30 and len(post) == len(pred)  # every window decided, the last at flush
    assert [p[1] for p in post] == [p[1] for p in pred]  # same window start times, in order
    assert {p[2] for p in post} <= set(run.pipeline.classes)
    changes = [sum(a[2] != b[2] for a, b in zip(x, x[1:], strict=False)) for x in (pred, post)]
    assert changes[1] <= changes[0]


def test_a_run_with_rejection_exports_its_ood_test(tmp_path_factory, tmp_path):
    pytest.importorskip("tinyhar.postprocess.rejection")
    folder = tmp_path_factory.mktemp("data_reject")
    data = bundled_hapt_parquet(folder, TRAIN + [TEST])
    cfg = make_config({
        "dataset": {"name": str(data), "sensors": "acc"},
        "features": {"set": "minimal"},
        "evaluation": {"test_subjects": [TEST], "cv_folds": 3},
        "model": {"n_estimators": 5, "max_depth": 8},
        "postprocess": {"smoothing": "mode", "mode_k": 5, "reject": "both"},
    })
    run_dir = tmp_path_factory.mktemp("runs") / "reject"
    train(cfg, run_dir)
    run = load_run(run_dir)
    spec = run.postprocess
    n_inputs = int(run.pipeline.model.n_features_in_)
    info = export_c(run_dir, tmp_path / "c")
    assert info["postprocess"]["classes"][-1] == "unknown"
    header = (tmp_path / "c" / "tinyhar_post.h").read_text()
    assert "#define TINYHAR_POST_REJECT 1 " in header
    assert f"#define TINYHAR_POST_N_FEATURES {n_inputs} " in header
    # the bundle computes every feature: the OOD score reads all model inputs
    bundle = mpx.export_micropython(run_dir, tmp_path / "mpy", n_test_windows=0)
    assert bundle["pruned"] is False
    mpx.check_bundle_code(tmp_path / "mpy", run.pipeline)
    # the exported test gives Python's classes, unknown included, on made-up rows
    rng = np.random.default_rng(2)
    k = len(spec.classes)
    proba = rng.dirichlet(np.ones(k) * 0.5, 400)
    means = np.asarray(spec.rejection.ood.means)
    feats = (means[rng.integers(0, k, 400)]
             + rng.normal(size=(400, n_inputs)) * np.sqrt(1 / np.maximum(
                 np.asarray(spec.rejection.ood.inv_var).mean(axis=0), 1e-9))).astype(np.float32)
    runs = np.repeat([0, 1], 200)
    from tinyhar.export.parity import post_parity

    res = post_parity(spec, proba, runs, feats, c_binary=build_post_example(tmp_path / "c"),
                      bundle_dir=tmp_path / "mpy")
    assert 0 < np.mean(res["python"]["raw"] == k) < 1
    for backend in ("c", "micropython"):
        assert res[backend]["raw_parity"] == res[backend]["smoothed_parity"] == 1.0
