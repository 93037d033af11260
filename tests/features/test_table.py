"""Out-of-core features: per-session rows equal the in-memory path; cache; failed sessions."""

from __future__ import annotations

import dataclasses
import os
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
    DamagedCacheEntryWarning,
    FeatureCache,
    FeatureTable,
    SessionJob,
    TableBuilder,
    build_feature_table,
    run_session_job,
    settings_key,
)
from tinyhar.training import build_pipeline, load_data, make_window_set
from tinyhar.windows.gravity import GravitySums


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


def _same_sums(got: GravitySums, expected: GravitySums) -> None:
    """The same (subject, class) groups and window counts; sums up to float64 summation order
    (chunks and sessions added in another order than all windows at once)."""
    assert got.sums.keys() == expected.sums.keys()
    for key, total in expected.sums.items():
        assert got.sums[key][3] == total[3], key
        np.testing.assert_allclose(got.sums[key][:3], total[:3], rtol=1e-12, atol=1e-12)


def test_gravity_sums_travel_with_the_rows_and_the_cache(synthetic, tmp_path):
    """Each session's rows carry the gravity sums of its windows; the table joins them, a
    cached entry gives them back exactly, and an entry written without them (before they
    were stored) is a miss: recomputed and rewritten, never a table without them."""
    import json

    import pyarrow.parquet as pq

    jobs, names, windows, _ = _jobs(synthetic, str(tmp_path / "cache"))
    seen = []
    first, _ = build_feature_table(jobs, names, on_result=seen.append)
    _same_sums(first.gravity_sums, GravitySums.of(windows))
    assert len(first.gravity_sums) == sum(("STAND" in c) * n for c, n in
                                          windows.class_counts().items()) > 0
    assert first.gravity_sums.reference(windows.classes) is not None
    seen.clear()
    again, _ = build_feature_table(jobs, names, on_result=seen.append)
    assert all(r.cached for r in seen) and again.gravity_sums == first.gravity_sums
    entries = sorted((tmp_path / "cache").glob("*.parquet"))
    for path in entries:  # as an older tinyhar wrote them: no gravity in the metadata
        t = pq.read_table(path)
        meta = json.loads(t.schema.metadata[b"tinyhar_features"])
        assert meta.pop("gravity") is not None  # [] for a session without standing
        pq.write_table(t.replace_schema_metadata(
            {"tinyhar_features": json.dumps(meta)}), path)
    seen.clear()
    old, _ = build_feature_table(jobs, names, on_result=seen.append)
    assert not any(r.cached for r in seen)
    assert old.gravity_sums == first.gravity_sums and np.array_equal(old.X, first.X)
    for path in entries:  # rewritten with them, under the same key
        assert "gravity" in json.loads(pq.read_table(path).schema.metadata[b"tinyhar_features"])
    # rows without accelerometer axes: null in the entry, read back as None (not a miss)
    cache = FeatureCache(tmp_path / "other")
    cache.put("k", FeatureTable.empty(names))
    assert cache.get("k").gravity_sums is None


def test_grouped_sessions_give_the_serial_rows_and_a_broken_one_is_still_named(
        synthetic, tmp_path, monkeypatch):
    """Sessions grouped into tasks by their bytes (``weights``; here 2 tasks per worker, so
    3 sessions a task) give the rows of the serial path; a broken file in a group is skipped
    and named, the other sessions of its task kept."""
    import shutil

    jobs, names, windows, expected = _jobs(synthetic)
    assert [j.source.nbytes for j in jobs] == [
        sum(os.path.getsize(f) for f in j.source.files) for j in jobs]
    monkeypatch.setattr(compute, "TASKS_PER_WORKER", 1)

    def grouped(f, items):
        return compute.map_in_order(f, items, "threads", 2,
                                    weights=[j.source.nbytes for j in items])

    table, failed = build_feature_table(jobs, names, grouped)
    assert failed == [] and np.array_equal(table.X, expected)
    assert list(table.session) == list(windows.session)
    copy = tmp_path / "data"
    shutil.copytree(synthetic.parent, copy)
    broken = sorted((copy / "recordings").glob("*.parquet"))[1]
    broken.write_bytes(b"not parquet")
    jobs = [dataclasses.replace(j, source=s)
            for s, j in zip(session_sources(copy / "data.yaml"), jobs, strict=True)]
    table, failed = build_feature_table(jobs, names, grouped)
    assert [f.name for f in failed] == [jobs[1].source.name] and broken.name in failed[0].error
    assert set(table.session) == set(windows.session) - {jobs[1].source.session}
    broken.unlink()
    assert jobs[1].source.nbytes == 0  # a file gone: no weight (its task reports it)


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


def test_a_damaged_cache_entry_of_any_kind_is_a_miss_naming_it(synthetic, tmp_path):
    """Junk, or an entry cut short (a full disk, a killed copy): None, as if absent, with a
    warning naming the file (not an error saying to delete it, nor a zipfile traceback)."""
    _, _, windows, _ = _jobs(synthetic)
    cache = FeatureCache(tmp_path)
    few = windows.subset(np.arange(len(windows)) < 4)
    path = cache.put_windows("w", few)
    assert np.array_equal(cache.get_windows("w").X, few.X)
    path.write_bytes(path.read_bytes()[:100])
    facts = cache.put_facts("f", {"name": "x", "channels": ["acc_x"]})
    assert cache.get_facts("f") == {"name": "x", "channels": ["acc_x"]}
    facts.write_text('{"name": "x", "chan')
    cache.path("k").write_bytes(b"junk")
    (tmp_path / "l.json").write_text("[1, 2]")  # JSON, but not an object
    for read, key, name in ((cache.get_windows, "w", "w.npz"), (cache.get_facts, "f", "f.json"),
                            (cache.get, "k", "k.parquet"), (cache.get_stream, "k", "k.parquet"),
                            (cache.get_facts, "l", "l.json")):
        with pytest.warns(DamagedCacheEntryWarning,
                          match=rf"{name}: a damaged feature-cache entry .*computed again"):
            assert read(key) is None
    assert cache.get("absent") is None and cache.get_facts("absent") is None


def test_cache_entries_get_the_usual_permissions(synthetic, tmp_path):
    """Entries are readable as the umask allows (a cache shared by the workers of a cluster
    running as other users), not private to their writer as a mkstemp file (0600) is."""
    import os

    _, _, windows, _ = _jobs(synthetic)
    cache = FeatureCache(tmp_path)
    old = os.umask(0o022)
    try:
        paths = [cache.put_windows("w", windows.subset(np.arange(len(windows)) < 4)),
                 cache.put_facts("f", {"name": "x"})]
    finally:
        os.umask(old)
    assert [oct(p.stat().st_mode & 0o777) for p in paths] == [oct(0o644)] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json", "w.npz"]  # no leftovers


def test_a_damaged_cache_entry_costs_a_read_of_its_session_not_the_session(synthetic, tmp_path):
    """A truncated feature entry is a miss: its session is read and featurised again and the
    entry rewritten, so the table is the whole data set's (never a session skipped because
    of the cache, which would change the scores)."""
    jobs, names, _, expected = _jobs(synthetic, str(tmp_path / "cache"))
    build_feature_table(jobs, names)
    entries = sorted((tmp_path / "cache").glob("*.parquet"))
    for path in entries[:2]:
        path.write_bytes(path.read_bytes()[:1000])
    seen = []
    with pytest.warns(DamagedCacheEntryWarning) as caught:
        table, failed = build_feature_table(jobs, names, on_result=seen.append)
    assert sorted(str(w.message).split(":")[0] for w in caught) == [str(p) for p in entries[:2]]
    assert failed == [] and np.array_equal(table.X, expected)
    assert sorted(r.cached for r in seen) == [False] * 2 + [True] * 4
    seen.clear()
    build_feature_table(jobs, names, on_result=seen.append)  # rewritten
    assert all(r.cached for r in seen)


def test_a_cache_folder_that_cannot_be_written_is_named_before_any_read(tmp_path):
    FeatureCache(tmp_path / "new" / "cache").check_writable()  # created
    assert (tmp_path / "new" / "cache").is_dir() and not any((tmp_path / "new").rglob(".w*"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(TinyharError, match=r"compute.cache: .*file is a file, not a folder"):
        FeatureCache(tmp_path / "file").check_writable()
    with pytest.raises(TinyharError, match=r"compute.cache: cannot write .*file/cache"):
        FeatureCache(tmp_path / "file" / "cache").check_writable()


@pytest.mark.parametrize("scheduler", ["threads", "processes"])
def test_local_dask_schedulers_give_the_same_rows(synthetic, scheduler):
    jobs, names, windows, expected = _jobs(synthetic)
    table, _ = build_feature_table(
        jobs, names, lambda f, items: compute.map_in_order(f, items, scheduler, 2)
    )
    assert np.array_equal(table.X, expected)
    _same_sums(table.gravity_sums, GravitySums.of(windows))  # back from the workers


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
                                  dashboard_address=":0", processes=True) as cluster:
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
    with pytest.raises(compute.ComputeError,
                       match="cannot reach the Dask scheduler.*nothing listens there"):
        list(compute.map_in_order(abs, [1, 2], f"tcp://127.0.0.1:{port}"))
    # an address that does not refuse at once is left to Dask's client and its timeout
    monkeypatch.setattr(compute, "check_reachable", lambda address: None)
    with pytest.raises(compute.ComputeError, match="cannot reach the Dask scheduler.*within 2 s"):
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
    with pytest.raises(TinyharError, match="session one is in part0.csv and in part1.csv.*"
                                           r"compute\.out_of_core: false"):
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


# ------------------------------------------------------------ sessions read in batches


@pytest.fixture(scope="module")
def gappy(synthetic, tmp_path_factory):
    """The synthetic data, its first session with three gaps (two around a 50-sample island,
    shorter than a window) and 12 s of unlabelled samples."""
    import shutil

    import pandas as pd

    copy = tmp_path_factory.mktemp("gappy") / "data"
    shutil.copytree(synthetic.parent, copy)
    path = sorted((copy / "recordings").glob("*.parquet"))[0]
    frame = pd.read_parquet(path)
    frame["label"] = frame["label"].astype(object)
    frame.loc[12000:12599, "label"] = None
    drop = np.r_[5000:5300, 9000:9100, 9150:9400]
    frame.drop(index=drop).reset_index(drop=True).to_parquet(path)
    return copy / "data.yaml"


def _variant_jobs(definition, variant):
    settings = {"plain": {}, "resample": {"windows": {"target_rate_hz": 40}},
                "stack": {"features": {"stack_previous": True}},
                "unlabelled": {}}[variant]
    cfg = make_config({"dataset": {"name": str(definition)}, **settings}, "test")
    windows, _ = make_window_set(load_data(cfg), cfg)
    pipeline = build_pipeline(windows, cfg, 64).features_only()
    w = cfg.windows
    windowing = dict(window=w.window, hop=w.hop, unit=w.unit, purity=w.purity,
                     target_rate_hz=w.target_rate_hz, channels=list(windows.channels))
    if variant == "unlabelled":
        windowing["keep_unlabelled"] = True
    names = list(pipeline.feature_names)
    return [SessionJob(s, windowing, pipeline, names, None, None, "", streams=True)
            for s in session_sources(definition)]


@pytest.mark.parametrize("variant", ["plain", "resample", "stack", "unlabelled"])
def test_a_session_read_in_batches_gives_the_rows_of_the_whole_read(gappy, variant):
    """Rows and stream rows of a session read in small batches (windows straddling batch
    boundaries, gaps, a segment shorter than a window, unlabelled samples) equal those of
    the whole session windowed by make_windows and featurised at once."""
    from dataclasses import replace

    from tinyhar.windows.windowing import make_windows

    job = _variant_jobs(gappy, variant)[0]
    recordings = job.source.load()
    windows, report = make_windows(recordings, **job.windowing)
    expected = job.transformer.transform(windows)
    assert report.n_gaps == 3 and report.n_short_segments == 1 and report.n_ambiguous > 0
    whole = run_session_job(job, recordings)  # one piece: the whole session
    for batch_rows in (700, 4097, 10_000):
        got = run_session_job(replace(job, batch_rows=batch_rows))
        assert got.error is None and got.samples == recordings.n_samples
        rows = got.rows
        assert np.array_equal(rows.X, expected), batch_rows
        assert list(rows.y) == list(windows.y) and list(rows.session) == list(windows.session)
        assert np.array_equal(rows.start_time, windows.start_time)
        assert rows.counts == report.as_dict()
        _same_sums(rows.gravity_sums, GravitySums.of(windows))
        # every stream window (impure and unlabelled ones too), the same as from one piece
        assert np.array_equal(got.stream.train_row, whole.stream.train_row)
        for key in ("session", "subject", "run", "t_start", "t_end", "y", "invalid",
                    "acc_magnitude", "gravity", "features"):
            assert np.array_equal(getattr(got.stream.facts, key),
                                  getattr(whole.stream.facts, key),
                                  equal_nan=key in ("acc_magnitude", "gravity")), key
    if variant == "stack":  # the stream's own stacking: every window featurised there
        assert (whole.stream.train_row < 0).all()
    elif variant != "resample":  # at 40 Hz the training hop (51) is not the streaming hop
        assert (whole.stream.train_row >= 0).sum() == len(expected)
    if variant == "unlabelled":
        assert (rows.y == "").sum() > 0
    else:
        assert report.n_unlabelled > 0


def test_a_cached_session_read_in_batches_is_not_read_again(synthetic, tmp_path, monkeypatch):
    from dataclasses import replace

    from tinyhar.datasets.sessions import SessionSource

    job = replace(_variant_jobs(synthetic, "plain")[0], cache_dir=str(tmp_path), batch_rows=1000)
    first = run_session_job(job)
    assert not first.cached

    def unreadable(*args, **kwargs):
        raise AssertionError("a cached session was read")

    monkeypatch.setattr(SessionSource, "iter_batches", unreadable)
    monkeypatch.setattr(SessionSource, "load", unreadable)
    again = run_session_job(job)
    assert again.cached and np.array_equal(again.rows.X, first.rows.X)
    assert np.array_equal(again.stream.train_row, first.stream.train_row)


def test_a_broken_batch_mid_file_is_named_by_file_and_line_and_skipped(tmp_path):
    """A CSV session read in batches of 1,000 rows: a bad value on line 2,502 fails its third
    batch; the session is skipped with the file and line named (strict: stopped)."""
    import pandas as pd

    rng = np.random.default_rng(1)
    for k, subject in enumerate(["a", "b"]):
        n = 3000
        pd.DataFrame({
            "t": np.arange(n) / 50, "ax": rng.normal(0, 0.1, n), "ay": rng.normal(0, 0.1, n),
            "az": 1 + rng.normal(0, 0.1, n),
            "act": np.where(np.arange(n) // 400 % 2 == 0, "walk", "sit"),
        }).round(4).to_csv(tmp_path / f"{subject}_{k}.csv", index=False)
    (tmp_path / "d.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\n"
        "file_pattern: '(?P<subject>[a-z])_(?P<session>\\d)\\.csv'\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, label: act}\n"
        "classes: [sit, walk]\n"
    )
    jobs, names, windows, expected = _jobs(tmp_path / "d.yaml", sensors="acc")
    jobs = [dataclasses.replace(j, batch_rows=1000) for j in jobs]
    good, _ = build_feature_table(jobs, names)
    assert np.array_equal(good.X, expected)  # batches of the good files: the whole-read rows
    bad = tmp_path / "a_0.csv"
    lines = bad.read_text().splitlines()
    lines[2501] = lines[2501].replace(lines[2501].split(",")[1], "oops", 1)  # line 2502
    bad.write_text("\n".join(lines) + "\n")
    batches = jobs[0].source.iter_batches(None, False, 1000)
    assert [len(next(batches).frame) for _ in range(2)] == [1000, 1000]  # then the bad batch
    with pytest.raises(TinyharError, match="2502"):
        next(batches)
    table, failed = build_feature_table(jobs, names)
    assert [f.name for f in failed] == [jobs[0].source.name]
    assert "a_0.csv" in failed[0].error and "2502" in failed[0].error, failed[0].error
    assert list(table.session) == [s for s in windows.session if s == jobs[1].source.session]
    with pytest.raises(TinyharError, match="a_0.csv"):
        build_feature_table(jobs, names, strict=True)


@pytest.mark.parametrize("settings", [{}, {"keep_unlabelled": True, "purity": 0.6},
                                      {"target_rate_hz": 40.0}, {"hop": 0.5}])
@pytest.mark.parametrize("cuts", [(1, 63, 64, 200, 777, 1250), (1250,), (640, 641, 1500)])
def test_session_windows_of_pieces_are_those_of_make_windows(settings, cuts):
    """Two sessions (a gap and unlabelled samples in the first) cut into pieces anywhere
    (mid-window, at the gap, at the session boundary, 1 row): the same windows as one piece."""
    import pandas as pd

    from tests.helpers import make_frame
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.features.table import SessionWindows, iter_session_windows
    from tinyhar.windows.windowing import make_windows

    frame = pd.concat([
        make_frame([("walk", 300), ("sit", 200)], subject="1", session="a"),
        make_frame([(None, 150), ("walk", 400)], subject="1", session="a", t0=20.0),
        make_frame([("sit", 500), ("walk", 100)], subject="2", session="b"),
    ], ignore_index=True)
    n = len(frame)
    frame["acc_x"] = np.sin(np.arange(n) / 7.0)
    frame["gyro_z"] = np.cos(np.arange(n) / 3.0)

    def piece(a, b):
        return RecordingSet(frame.iloc[a:b].reset_index(drop=True), 50.0, ["sit", "walk"],
                            name="toy")

    windowing = {"window": 1.28, "hop": 0.64, **settings}
    expected, report = make_windows(piece(0, n), **windowing)
    bounds = [0, *cuts, n]
    cut = SessionWindows(**windowing)
    got = [w for a, b in zip(bounds[:-1], bounds[1:], strict=True) for w in cut.add(piece(a, b))]
    got += list(cut.flush())
    assert report.n_gaps == 1 and report.n_windows == len(expected) > 0
    assert np.array_equal(np.concatenate([w.X for w in got]), expected.X)
    for key in ("y", "subject", "session"):
        assert list(np.concatenate([getattr(w, key) for w in got])) == list(getattr(expected, key))
    assert np.array_equal(np.concatenate([w.start_time for w in got]), expected.start_time)
    assert cut.report == report
    again = list(iter_session_windows([piece(0, n)], **windowing))
    assert np.array_equal(np.concatenate([w.X for w in again]), expected.X)


def _parts(sizes, width=5, seed=0):
    """Feature tables of ``sizes`` rows (random values; subject = part number)."""
    rng = np.random.default_rng(seed)
    names = [f"f{i}" for i in range(width)]
    return [FeatureTable(rng.random((k, width), dtype=np.float32), np.full(k, "WALKING", object),
                         np.full(k, f"s{i}", object), np.full(k, f"x{i}", object),
                         np.arange(k) * 1.28, names, {"n_windows": k},
                         GravitySums({(f"s{i % 2}", "WALKING"): np.array([k, 0.0, 0.0, k])}))
            for i, k in enumerate(sizes)], names


@pytest.mark.parametrize("order", ["none", "identity", "test_first_subjects_last", "subset",
                                   "reversed", "random"])
def test_table_builder_orders_rows_as_indexing_would(order, monkeypatch):
    """Rows appended part by part and ordered in place equal ``concatenate(X)[order]``,
    whatever the order (in-place moves for its increasing prefix, a copy for the rest),
    with the growth and move pieces made small so that they split parts and runs."""
    import tinyhar.features.table as table_module

    monkeypatch.setattr(table_module, "_GROW_BYTES", 7 * 5 * 4)  # 7 rows of 5 float32
    parts, names = _parts([13, 1, 40, 0, 22, 9])
    X = np.concatenate([p.X for p in parts])
    subject = np.concatenate([p.subject for p in parts])
    n = len(X)
    rng = np.random.default_rng(1)
    test = np.isin(subject, ["s0", "s4"])
    orders = {
        "identity": np.arange(n),
        "test_first_subjects_last": np.r_[np.flatnonzero(~test), np.flatnonzero(test)],
        "subset": np.r_[np.flatnonzero(~test)[::2], np.flatnonzero(test)[:3]],
        "reversed": np.arange(n)[::-1],
        "random": rng.permutation(n),
    }
    expected = orders.get(order, np.arange(n))
    builder = TableBuilder(names)
    for p in parts:
        builder.append(p)
    assert len(builder) == n
    got = builder.table(None if order == "none" else lambda labels: orders[order])
    assert got.X.flags.c_contiguous and got.X.dtype == np.float32
    assert np.array_equal(got.X, X[expected])
    assert list(got.subject) == list(subject[expected])
    assert np.array_equal(got.start_time, np.concatenate([p.start_time for p in parts])[expected])
    assert got.counts == {"n_windows": n}
    assert got.gravity_sums == GravitySums({  # summed like counts, whatever the row order
        ("s0", "WALKING"): np.array([75.0, 0, 0, 75]),
        ("s1", "WALKING"): np.array([10.0, 0, 0, 10])})
    assert len(builder) == 0 and len(builder.table()) == 0  # emptied


def test_concatenate_empties_its_parts_and_refuses_other_widths():
    parts, names = _parts([3, 4])
    X = np.concatenate([p.X for p in parts])
    assert np.array_equal(FeatureTable.concatenate(parts, names).X, X) and parts == []
    builder = TableBuilder(names)
    with pytest.raises(ValueError, match="4 feature columns; the table has 5"):
        builder.append(_parts([2], width=4)[0][0])


def test_table_builder_grows_with_its_rows():
    """Spare capacity is at most the rows held so far (up to ``_GROW_BYTES``): a table of a
    few rows (one short session's, of which a data set may have thousands) does not allocate
    and zero-fill ``_GROW_BYTES`` (32 MB took ~8 ms a session); a big one grows by at most
    ``_GROW_BYTES`` at a time."""
    from tinyhar.features.table import _GROW_BYTES

    parts, names = _parts([3, 2, 1])
    builder = TableBuilder(names)
    for p in parts:
        builder.append(p)
        assert len(builder) <= builder._X.shape[0] <= 2 * len(builder)
    width = 2048
    rows = _GROW_BYTES // (4 * width)  # rows of _GROW_BYTES
    big = FeatureTable(np.ones((3 * rows, width), np.float32), *(np.full(3 * rows, "a", object)
                       for _ in range(3)), np.zeros(3 * rows), [f"f{i}" for i in range(width)],
                       {})
    builder = TableBuilder(big.feature_names)
    builder.append(big)
    assert builder._X.shape[0] == 4 * rows  # the rows, plus _GROW_BYTES spare at most
    assert builder.table().X.shape == (3 * rows, width)
