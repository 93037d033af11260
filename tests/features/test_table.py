"""Out-of-core features: per-session rows equal the in-memory path; cache; failed sessions."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tinyhar import compute
from tinyhar.config import make_config
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import synthesize
from tinyhar.errors import TinyharError
from tinyhar.features.table import (
    FeatureCache,
    SessionJob,
    build_feature_table,
    run_session_job,
    settings_key,
)
from tinyhar.training import build_pipeline, load_data, make_window_set


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """3 synthetic subjects x 0.2 h at 50 Hz in 0.1 h sessions (6 session files)."""
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 3, 0.2, session_hours=0.1, seed=3)
    return out / "data.yaml"


def _jobs(definition, cache_dir=None, sensors="acc+gyro"):
    cfg = make_config({"dataset": {"name": str(definition), "sensors": sensors}}, "test")
    windows, _ = make_window_set(load_data(cfg), cfg)
    pipeline = build_pipeline(windows, cfg, 64)
    w = cfg.windows
    windowing = dict(window=w.window, hop=w.hop, unit=w.unit, purity=w.purity,
                     target_rate_hz=w.target_rate_hz, channels=list(windows.channels))
    names = list(pipeline.feature_names)
    text = settings_key({"windowing": windowing, "features": names})
    jobs = [SessionJob(s, windowing, pipeline, names, None, cache_dir, text)
            for s in session_sources(definition)]
    return jobs, names, windows, pipeline.transform(windows)


def test_rows_equal_the_in_memory_path(synthetic):
    jobs, names, windows, expected = _jobs(synthetic)
    assert len(jobs) == 6
    table, failed = build_feature_table(jobs, names)
    assert failed == []
    # same code on the same samples in the same order: identical rows
    assert np.array_equal(table.X, expected)
    assert list(table.y) == list(windows.y)
    assert list(table.session) == list(windows.session)
    assert np.array_equal(table.start_time, windows.start_time)
    assert table.counts["n_windows"] == len(windows)
    # a session the caller has read already gives the same rows without a second read
    again = run_session_job(jobs[1], jobs[1].source.load())
    assert again.samples > 0 and np.array_equal(again.rows.X, run_session_job(jobs[1]).rows.X)


def test_cache_is_reused_and_a_changed_file_is_recomputed(synthetic, tmp_path):
    jobs, names, _, expected = _jobs(synthetic, str(tmp_path / "cache"))
    seen = []
    first, _ = build_feature_table(jobs, names, on_result=seen.append)
    assert not any(r.cached for r in seen)
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 6
    seen.clear()
    again, _ = build_feature_table(jobs, names, on_result=seen.append)
    assert all(r.cached for r in seen)
    assert np.array_equal(again.X, expected) and list(again.y) == list(first.y)
    # a source file changes: its key changes, so that session is recomputed, the rest reused
    victim = jobs[0].source.files[0]
    import pyarrow.parquet as pq

    t = pq.read_table(victim)
    pq.write_table(t.slice(0, t.num_rows // 2), victim)
    seen.clear()
    build_feature_table(jobs, names, on_result=seen.append)
    assert [r.cached for r in seen] == [False] + [True] * 5
    pq.write_table(t, victim)


def test_a_broken_session_is_skipped_and_named_or_stops_in_strict_mode(synthetic, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(synthetic.parent, copy)
    broken = sorted((copy / "recordings").glob("*.parquet"))[2]
    broken.write_bytes(b"not parquet")
    cfg_jobs, names, _, _ = _jobs(synthetic)
    jobs = [SessionJob(s, j.windowing, j.transformer, names, None, None, j.settings_text)
            for s, j in zip(session_sources(copy / "data.yaml"), cfg_jobs, strict=True)]
    table, failed = build_feature_table(jobs, names)
    assert [f.name for f in failed] == [jobs[2].source.name]
    assert broken.name in failed[0].error
    assert len(table) > 0
    with pytest.raises(TinyharError, match=broken.name):
        build_feature_table(jobs, names, strict=True)


def test_a_corrupt_cache_entry_says_to_delete_it(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.path("k").write_bytes(b"junk")
    with pytest.raises(TinyharError, match="delete it"):
        cache.get("k")


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_local_dask_schedulers_give_the_same_rows(synthetic, scheduler):
    jobs, names, _, expected = _jobs(synthetic)
    table, _ = build_feature_table(
        jobs, names, lambda f, items: compute.map_in_order(f, items, scheduler, 2)
    )
    assert np.array_equal(table.X, expected)


@pytest.mark.parametrize("scheduler", ["serial", "threads", "processes"])
def test_feature_only_jobs_with_the_first_session_read_here_give_the_same_rows(
        synthetic, scheduler):
    """As training sends them: the pipeline without its model, the first session read here
    (map_in_order's head) while the workers take the others."""
    jobs, names, _, expected = _jobs(synthetic)
    jobs = [dataclasses.replace(j, transformer=j.transformer.features_only()) for j in jobs]
    assert jobs[0].transformer.model is None
    first = jobs[0].source.load()
    table, _ = build_feature_table(jobs, names, lambda f, items: compute.map_in_order(
        f, items[1:], scheduler, 2, head=lambda: f(items[0], first)))
    assert np.array_equal(table.X, expected)


def test_feature_only_jobs_load_in_a_worker_without_scikit_learn(synthetic):
    """What a worker process imports (compute.FEATURE_MODULES) and unpickles for a job
    pulls in no scikit-learn (about 0.6 s of CPU per fork server or worker)."""
    jobs, *_ = _jobs(synthetic)
    job = dataclasses.replace(jobs[0], transformer=jobs[0].transformer.features_only())
    code = ("import pickle, sys\nfrom tinyhar import compute\n"
            "for m in compute.FEATURE_MODULES: __import__(m)\n"
            "pickle.loads(sys.stdin.buffer.read()).transformer.feature_names\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))")
    out = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(job),
                         capture_output=True, check=True)
    assert out.stdout.decode().strip() == "[]"


def test_a_local_cluster_with_two_workers_gives_the_same_rows(synthetic):
    distributed = pytest.importorskip("distributed")
    jobs, names, _, expected = _jobs(synthetic)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None, processes=True) as cluster:
        table, _ = build_feature_table(
            jobs, names, lambda f, items: compute.map_in_order(f, items, cluster.scheduler_address)
        )
        # the first session here (head), the others on the cluster meanwhile
        headed, _ = build_feature_table(jobs, names, lambda f, items: compute.map_in_order(
            f, items[1:], cluster.scheduler_address, head=lambda: f(items[0])))
    assert np.array_equal(table.X, expected)
    assert np.array_equal(headed.X, expected)


def test_an_unreachable_cluster_is_a_clear_error(monkeypatch):
    import socket

    monkeypatch.setattr(compute, "CONNECT_TIMEOUT_S", 2.0)
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(compute.ComputeError, match="cannot reach the Dask scheduler"):
        list(compute.map_in_order(abs, [1, 2], f"tcp://127.0.0.1:{port}"))


def test_bad_scheduler_names():
    with pytest.raises(TinyharError, match="tcp://host:8786"):
        compute.check_scheduler("thread")
    with pytest.raises(TinyharError, match="workers"):
        list(compute.map_in_order(abs, [1], "threads", workers=0))


def test_a_session_split_over_two_files_is_refused(tmp_path):
    """Subject and session from columns: each file is read alone, so a session must not span two."""
    import pandas as pd

    rng = np.random.default_rng(0)
    for k in range(2):
        n = 500
        pd.DataFrame({
            "ax": rng.normal(0, 0.1, n), "ay": rng.normal(0, 0.1, n),
            "az": 1 + rng.normal(0, 0.1, n),
            "who": "alice", "rec": "one", "act": "walk",
        }).to_csv(tmp_path / f"part{k}.csv", index=False)
    (tmp_path / "d.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\n"
        "columns: {acc_x: ax, acc_y: ay, acc_z: az, subject: who, session: rec, label: act}\n"
        "classes: [walk]\n"
    )
    jobs, names, _, _ = _jobs(tmp_path / "d.yaml", sensors="acc")
    assert len(jobs) == 2 and jobs[0].source.subject is None
    with pytest.raises(TinyharError, match="session one is in part0.csv and in part1.csv"):
        build_feature_table(jobs, names)


def test_stream_rows_come_from_the_same_read_and_the_cache(synthetic, tmp_path):
    # every stream window's features, the training rows taken over: the same as featurising
    # every window of the stream (iter_stream_features); cached and read back unchanged
    from dataclasses import replace

    from tinyhar.evaluation.streams import StreamFeatures, iter_stream_features

    jobs, names, _, _ = _jobs(synthetic, cache_dir=str(tmp_path / "c"))
    job = replace(jobs[0], streams=True)
    pipeline = job.transformer
    got = run_session_job(job)
    # the training windows' features are the training rows (by reference, not stored twice)
    assert (got.stream.train_row >= 0).sum() == len(got.rows)
    assert len(got.stream.facts.features) == (got.stream.train_row[~got.stream.facts.invalid]
                                              < 0).sum()
    stream = got.stream.resolve(got.rows.X, np.arange(len(got.rows)))
    recordings = job.source.load()
    expected = StreamFeatures.concatenate(list(iter_stream_features(pipeline, recordings)),
                                          len(names), 2.56, 1.28)
    assert len(stream) == len(expected) > len(got.rows)  # impure windows too
    assert list(stream.y) == list(expected.y) and list(stream.session) == list(expected.session)
    assert np.array_equal(stream.t_start, expected.t_start)
    assert np.array_equal(stream.invalid, expected.invalid)
    np.testing.assert_allclose(stream.features, expected.features, rtol=1e-5, atol=1e-6)
    # each training window is a stream window
    starts = set(zip(stream.session, stream.t_start, strict=True))
    assert set(zip(got.rows.session, got.rows.start_time, strict=True)) <= starts
    cached = run_session_job(job)
    assert cached.cached and cached.stream is not None
    assert np.array_equal(cached.stream.train_row, got.stream.train_row)
    for key in ("session", "subject", "run", "t_start", "t_end", "y", "invalid",
                "acc_magnitude", "gravity", "features"):
        assert np.array_equal(getattr(cached.stream.facts, key), getattr(got.stream.facts, key),
                              equal_nan=key in ("acc_magnitude", "gravity")), key
    # a changed source file (another hash) finds neither entry: both recomputed from one read
    fingerprint = type(job.source).fingerprint
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(type(job.source), "fingerprint", lambda self: "changed " + fingerprint(self))
        stale = run_session_job(job)
    assert not stale.cached and np.array_equal(stale.stream.train_row, got.stream.train_row)
    assert len(list((tmp_path / "c").glob("*.parquet"))) == 4
    # the predictions of stored features equal classifying the stream from its samples
    from sklearn.tree import DecisionTreeClassifier

    from tinyhar.evaluation.streams import classify_stream_features, stream_predictions

    ok = ~stream.invalid
    labelled = np.flatnonzero(ok)[np.asarray(stream.y[ok] != "", bool)]
    model = DecisionTreeClassifier(random_state=0).fit(
        stream.features[np.searchsorted(np.flatnonzero(ok), labelled)], stream.y[labelled])
    pipeline.model, pipeline.classes = model, sorted(set(stream.y[labelled]))
    mine = classify_stream_features(stream, pipeline.classes, model)
    theirs = stream_predictions(pipeline, recordings)
    assert np.array_equal(mine.classify(), theirs.classify())
    np.testing.assert_allclose(mine.proba, theirs.proba, atol=1e-12)
