"""Out-of-core training (compute: section): same metrics as in memory, skips, clusters."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import yaml

from tests.helpers import SPY_ON_DISPATCH, assert_close_tree
from tinyhar.config import make_config
from tinyhar.datasets.synthetic import synthesize
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.training import reads_by_session, train

SAME = ("macro_f1", "accuracy", "n_train_windows", "test_subjects", "model_size",
        "confusion_matrix", "windowing")


def _same_gravity(got: dict, expected: dict) -> None:
    """The same gravity reference: every training window of the standing class (so the same
    count), its mean within 1e-4 g after the 4-decimal rounding (float64 sums per session
    against one sum of all windows: another summation order)."""
    a, b = got["gravity_reference"], expected["gravity_reference"]
    assert a is not None and b is not None and b["class"] == "STANDING"
    assert {k: v for k, v in a.items() if k != "gravity_g"} == {
        k: v for k, v in b.items() if k != "gravity_g"}
    np.testing.assert_allclose(a["gravity_g"], b["gravity_g"], rtol=0, atol=1e-4 + 1e-9)


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 4, 0.1, session_hours=0.05, seed=7)
    return str(out / "data.yaml")


def _cfg(definition, **compute):
    return make_config({
        "dataset": {"name": definition},
        "evaluation": {"test_subjects": ["s004"], "cv_folds": 3},
        "postprocess": {"smoothing": "mode"},
        "compute": compute,
    }, "test")


@pytest.fixture(scope="module")
def in_memory(definition, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "mem"
    return {**train(_cfg(definition, out_of_core=False), out), "_dir": out}


def test_threads_and_cache_give_the_in_memory_metrics(definition, in_memory, tmp_path):
    in_memory_dir = in_memory["_dir"]
    cfg = _cfg(definition, out_of_core=True, scheduler="threads", cache=str(tmp_path / "c"))
    first = train(cfg, tmp_path / "a")
    again = train(cfg, tmp_path / "b")  # from the cache
    for key in SAME:
        assert first[key] == in_memory[key] == again[key], key
    assert first["cross_validation"] == in_memory["cross_validation"] == again["cross_validation"]
    _same_gravity(first, in_memory)
    assert again["gravity_reference"] == first["gravity_reference"]  # the cached sums, exactly
    # entries of an older tinyhar (rows without the gravity sums) are computed again, never
    # a reference from part of the sessions (or the few example windows)
    import pyarrow.parquet as pq

    for path in (tmp_path / "c").glob("*.parquet"):
        t = pq.read_table(path)
        if b"tinyhar_features" in t.schema.metadata:
            meta = json.loads(t.schema.metadata[b"tinyhar_features"])
            del meta["gravity"]
            pq.write_table(t.replace_schema_metadata({"tinyhar_features": json.dumps(meta)}),
                           path)
    old = train(cfg, tmp_path / "old")
    assert old["gravity_reference"] == first["gravity_reference"]
    assert first["out_of_core"]["skipped"] == [] and first["out_of_core"]["sources"] == 8
    # per session: the training rows and the stream rows (every window, for post-processing)
    assert len(list((tmp_path / "c").glob("*.parquet"))) == 16
    saved = json.loads((tmp_path / "a" / "postprocess.json").read_text())
    assert saved["smoothing"] == "mode"
    # the unseen test subject's raw windows are stored for the exports' self-check, as in memory
    from tinyhar.runfolder import load_run

    mine, theirs = load_run(tmp_path / "a").test_windows, load_run(in_memory_dir).test_windows
    assert np.array_equal(mine.X, theirs.X) and list(mine.y) == list(theirs.y)
    assert (tmp_path / "a" / "class_overview.png").is_file()


def test_a_dask_local_cluster_gives_the_same_metrics(definition, in_memory, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        got = train(_cfg(definition, scheduler=cluster.scheduler_address), tmp_path / "r")
    for key in SAME:
        assert got[key] == in_memory[key], key
    _same_gravity(got, in_memory)
    # the folds and the final fit ran as tasks on the cluster: the same folds, same model
    assert got["cross_validation"] == in_memory["cross_validation"]


def test_sessions_read_in_small_batches_give_the_in_memory_run(definition, in_memory, tmp_path,
                                                               monkeypatch):
    """Every session (9,000 rows) read in batches of 700 rows: the first one's first batch
    for the layout, then its rest here; the stored test windows and class examples too."""
    from tinyhar.datasets.sessions import SessionSource
    from tinyhar.runfolder import load_run

    batches, sizes = SessionSource.iter_batches, []

    def small(self, checks=None, session_prefix=False, batch_rows=None):
        for batch in batches(self, checks, session_prefix, 700):
            sizes.append(len(batch.frame))
            yield batch

    monkeypatch.setattr(SessionSource, "iter_batches", small)
    got = train(_cfg(definition, out_of_core=True), tmp_path / "r")
    assert max(sizes) == 700 and len(sizes) > 8 * 12
    for key in SAME:
        assert got[key] == in_memory[key], key
    assert got["cross_validation"] == in_memory["cross_validation"]
    assert got["postprocess"]["description"] == in_memory["postprocess"]["description"]
    _same_gravity(got, in_memory)
    mine, theirs = load_run(tmp_path / "r").test_windows, load_run(in_memory["_dir"]).test_windows
    assert np.array_equal(mine.X, theirs.X) and list(mine.y) == list(theirs.y)
    assert np.array_equal(mine.start_time, theirs.start_time)
    assert (tmp_path / "r" / "class_overview.png").is_file()


@pytest.mark.slow
def test_worker_processes_give_the_in_memory_metrics(definition, in_memory, tmp_path):
    from tinyhar import compute

    got = train(_cfg(definition, scheduler="processes", workers=2), tmp_path / "r")
    for key in SAME:
        assert got[key] == in_memory[key], key
    assert got["cross_validation"] == in_memory["cross_validation"]
    _same_gravity(got, in_memory)
    assert compute._WARM == {}  # the workers started for the sessions are gone


def test_a_broken_session_is_skipped_and_listed(definition, tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(definition.rsplit("/", 1)[0], copy)
    broken = sorted((copy / "recordings").glob("*.parquet"))[1]
    broken.write_bytes(b"PAR1 broken")
    got = train(_cfg(str(copy / "data.yaml"), out_of_core=True), tmp_path / "r")
    assert [s["source"] for s in got["out_of_core"]["skipped"]] == ["subject s001, session "
                                                                    "recordings/s001_0001"]
    assert broken.name in got["out_of_core"]["skipped"][0]["error"]
    with pytest.raises(Exception, match=broken.name):
        train(_cfg(str(copy / "data.yaml"), out_of_core=True, strict=True), tmp_path / "s")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_file_without_rows_is_skipped_and_listed_out_of_core_and_stops_in_memory(
        definition, tmp_path, ext):
    """A CSV header alone and a Parquet file of 0 rows alike: as a broken session."""
    import shutil

    import pandas as pd

    copy = tmp_path / "data"
    shutil.copytree(definition.rsplit("/", 1)[0], copy)
    empty = copy / "recordings" / f"s001_0009.{ext}"
    rows = pd.read_parquet(sorted((copy / "recordings").glob("*.parquet"))[0]).iloc[:0]
    rows.to_csv(empty, index=False) if ext == "csv" else rows.to_parquet(empty)
    spec = yaml.safe_load((copy / "data.yaml").read_text(encoding="utf-8"))
    spec["files"] = "recordings/*"
    spec["file_pattern"] = spec["file_pattern"].replace(r"\.parquet", r"\.(parquet|csv)")
    (copy / "data.yaml").write_text(yaml.safe_dump(spec))
    got = train(_cfg(str(copy / "data.yaml"), out_of_core=True), tmp_path / "r")
    [skipped] = got["out_of_core"]["skipped"]
    assert skipped["source"] == "subject s001, session recordings/s001_0009"
    assert f"{empty}" in skipped["error"] and "no rows of samples" in skipped["error"]
    with pytest.raises(DataFormatError, match="no rows of samples") as err:
        train(_cfg(str(copy / "data.yaml"), out_of_core=False), tmp_path / "m")
    assert err.value.path == str(empty)


@pytest.mark.parametrize(("smoothing", "reject"), [("auto", "none"), ("hmm", "both")])
def test_postprocessing_is_fitted_out_of_core_as_in_memory(definition, tmp_path, smoothing,
                                                           reject):
    # chosen (auto) or fitted (hmm, rejection thresholds, OOD model) on the training subjects'
    # cross-validated whole streams, read again session by session; then the test streams
    got = {}
    for ooc in (False, True):
        cfg = _cfg(definition, out_of_core=ooc, scheduler="threads" if ooc else "serial")
        cfg.postprocess.smoothing, cfg.postprocess.reject = smoothing, reject
        got[ooc] = {"metrics": train(cfg, tmp_path / str(ooc))["postprocess"],
                    "saved": json.loads((tmp_path / str(ooc) / "postprocess.json").read_text())}
    memory, streamed = got[False], got[True]
    assert streamed["metrics"]["description"] == memory["metrics"]["description"]
    assert streamed["metrics"]["test_streams"]["n_windows"] > 0
    if smoothing == "auto":
        assert len(memory["metrics"]["cv"]) > 10  # the candidates were compared
    else:
        assert memory["saved"]["smoothing"] == "hmm"
        assert memory["saved"]["rejection"]["method"] == "both"
    assert_close_tree(memory, streamed)


def test_each_session_is_read_once_and_not_at_all_from_the_cache(definition, tmp_path,
                                                                 monkeypatch):
    # the training rows and every stream window (post-processing fit on the training streams,
    # scores of the test streams) come from one read per session; from the cache, none
    from tinyhar.datasets.sessions import SessionSource
    from tinyhar.runfolder import load_run
    from tinyhar.training import sessions

    reads: dict[str, int] = {}
    extra: dict[str, int] = {}  # reads for the few raw windows a run stores
    load, batches, raw = SessionSource.load, SessionSource.iter_batches, sessions._raw_windows
    where = [reads]

    def counted(read):
        def wrapper(self, *args, **kwargs):
            if sys._getframe(1).f_code.co_name != "iter_batches":  # its whole read: counted
                where[0][self.name] = where[0].get(self.name, 0) + 1
            return read(self, *args, **kwargs)
        return wrapper

    def raw_windows(*args, **kwargs):
        where[0] = extra
        try:
            return raw(*args, **kwargs)
        finally:
            where[0] = reads

    monkeypatch.setattr(SessionSource, "load", counted(load))
    monkeypatch.setattr(SessionSource, "iter_batches", counted(batches))
    monkeypatch.setattr(sessions, "_raw_windows", raw_windows)
    cfg = _cfg(definition, out_of_core=True, cache=str(tmp_path / "c"))
    cfg.postprocess.smoothing, cfg.postprocess.reject = "hmm", "both"
    first = train(cfg, tmp_path / "a")
    assert len(reads) == 8 and set(reads.values()) == {1}, reads
    # the stored test windows (the unseen subject s004) and the class overview's examples
    assert 0 < len(extra) < 8 and any("s004" in name for name in extra)
    reads.clear()
    extra.clear()
    again = train(cfg, tmp_path / "b")
    assert reads == {} and extra == {}
    assert again["postprocess"]["test_streams"]["n_windows"] > 0
    assert_close_tree(first["postprocess"], again["postprocess"])
    assert again["cross_validation"] == first["cross_validation"]
    mine, theirs = load_run(tmp_path / "b").test_windows, load_run(tmp_path / "a").test_windows
    assert np.array_equal(mine.X, theirs.X) and list(mine.y) == list(theirs.y)
    assert list(mine.session) == list(theirs.session)
    assert np.array_equal(mine.start_time, theirs.start_time)
    assert (tmp_path / "b" / "class_overview.png").is_file()


def test_damaged_cache_entries_are_computed_again_rewritten_and_named(definition, tmp_path):
    """Every kind of cache entry (feature rows .parquet, session facts .json, raw windows .npz)
    cut short (a full disk, a copy killed half-way) is a miss with a warning naming it: the
    run computes what it held and rewrites it, with the same results; nothing to delete."""
    import warnings

    import pyarrow.parquet as pq

    from tinyhar.features.table import DamagedCacheEntryWarning, FeatureCache

    cfg = _cfg(definition, out_of_core=True, cache=str(tmp_path / "c"))
    first = train(cfg, tmp_path / "a")
    entries = {ext: sorted((tmp_path / "c").glob(f"*.{ext}")) for ext in ("parquet", "json",
                                                                         "npz")}
    assert all(entries.values()), entries
    damaged = [entries["parquet"][0], *entries["json"], *entries["npz"]]
    for path in damaged:
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.warns(DamagedCacheEntryWarning) as caught:
        again = train(cfg, tmp_path / "b")
    named = {str(w.message).split(": a damaged feature-cache entry")[0] for w in caught
             if issubclass(w.category, DamagedCacheEntryWarning)}
    assert named == {str(p) for p in damaged}
    for key in ("macro_f1", "cross_validation", "n_train_windows", "postprocess"):
        assert again[key] == first[key], key
    cache = FeatureCache(tmp_path / "c")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DamagedCacheEntryWarning)
        rows = entries["parquet"][0]  # feature rows, or a stream's
        stream = b"tinyhar_stream" in pq.read_schema(rows).metadata
        assert (cache.get_stream if stream else cache.get)(rows.stem) is not None
        assert all(cache.get_facts(p.stem) is not None for p in entries["json"])
        assert all(cache.get_windows(p.stem) is not None for p in entries["npz"])


def test_sessions_split_over_two_files_train_as_in_memory(definition, tmp_path):
    """Subject and session from columns, every session cut in two files: out of core, the
    two files of a session are read together (one source), with the in-memory metrics (and
    the raw windows a run stores are taken from files that hold other subjects too: a file
    without the wanted subjects gave an IndexError)."""
    from pathlib import Path

    import pandas as pd

    folder = tmp_path / "cols"
    (folder / "rec").mkdir(parents=True)
    for path in sorted(Path(definition).parent.glob("recordings/*.parquet")):
        frame = pd.read_parquet(path)
        frame["who"], frame["rec"] = path.stem.split("_")[0], path.stem
        half = len(frame) // 2
        frame.iloc[:half].to_parquet(folder / "rec" / f"{path.stem}_a.parquet", index=False)
        frame.iloc[half:].to_parquet(folder / "rec" / f"{path.stem}_b.parquet", index=False)
    spec = yaml.safe_load(Path(definition).read_text(encoding="utf-8"))
    spec.pop("file_pattern")
    spec["files"] = "rec/*.parquet"
    spec["columns"].update(subject="who", session="rec")
    (folder / "data.yaml").write_text(yaml.safe_dump(spec))
    memory = train(_cfg(str(folder / "data.yaml"), out_of_core=False), tmp_path / "m")
    streamed = train(_cfg(str(folder / "data.yaml"), out_of_core=True), tmp_path / "o")
    assert streamed["out_of_core"]["skipped"] == []
    assert streamed["out_of_core"]["sources"] == 8  # 16 files, 8 sessions
    for key in SAME:
        assert streamed[key] == memory[key], key


def test_when_training_reads_by_session(definition):
    assert not reads_by_session(_cfg(definition))  # small, serial, no cache
    assert reads_by_session(_cfg(definition, scheduler="threads"))
    assert reads_by_session(_cfg(definition, cache="/tmp/x"))
    assert not reads_by_session(make_config({"compute": {"scheduler": "threads"}}, "t"))
    with pytest.raises(ConfigError, match="dataset definition"):
        reads_by_session(make_config({"compute": {"out_of_core": True}}, "t"))
    with pytest.raises(ConfigError, match="networks read raw windows"):
        reads_by_session(make_config({"dataset": {"name": definition},
                                      "model": {"kind": "cnn1d"},
                                      "compute": {"out_of_core": True}}, "t"))
    with pytest.raises(ConfigError, match="compute.scheduler"):
        make_config({"compute": {"scheduler": "dask"}}, "t")



def test_session_tasks_go_to_the_workers_before_scikit_learn_is_imported(definition, tmp_path):
    """`tinyhar train` out of core: the feature tasks are sent before this process imports
    scikit-learn (about 0.5 s, then spent while the workers compute)."""
    import subprocess

    code = SPY_ON_DISPATCH + (
        "from tinyhar.cli import app\n"
        "try:\n"
        "    app(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('dispatched with scikit-learn imported:', seen[0])\n")
    out = subprocess.run(
        [sys.executable, "-c", code, "train", "--dataset", definition, "--out",
         str(tmp_path / "r"), "--scheduler", "threads", "--set", "evaluation.cv_folds=2",
         "--set", "postprocess.smoothing=mode"],
        capture_output=True, text=True, check=True)
    assert "dispatched with scikit-learn imported: False" in out.stdout
    assert (tmp_path / "r" / "pipeline.npz").is_file()


def test_a_cache_that_is_a_file_stops_the_run_before_it_reads(definition, tmp_path, monkeypatch):
    from tinyhar.datasets import sessions

    (tmp_path / "cache").write_text("x")
    monkeypatch.setattr(sessions, "session_sources", None)  # never reached
    with pytest.raises(ConfigError, match="compute.cache: .* is a file"):
        train(_cfg(definition, cache=str(tmp_path / "cache")), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_cached_rows_are_not_reused_under_other_checks(definition, tmp_path):
    """The rows of a run with a check off (here units: acceleration in m/s^2 declared as g)
    are not those of a run with it on: the checks are part of the cache key, so the second
    run reads the session, its check fails and the session is skipped and listed."""
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    copy = tmp_path / "data"
    shutil.copytree(definition.rsplit("/", 1)[0], copy)
    odd = sorted((copy / "recordings").glob("*.parquet"))[1]
    t = pq.read_table(odd)
    for axis in ("acc_x", "acc_y", "acc_z"):
        t = t.set_column(t.schema.get_field_index(axis), axis,
                         pc.multiply(t.column(axis), 9.80665).cast("float32"))
    pq.write_table(t, odd)

    def run(units: bool, out: str) -> dict:
        return train(make_config({
            "dataset": {"name": str(copy / "data.yaml"), "checks": {"units": units}},
            "evaluation": {"test_subjects": ["s004"], "cv_folds": 2},
            "postprocess": {"smoothing": "none"},
            "compute": {"cache": str(tmp_path / "cache")},
        }, "test"), tmp_path / out)

    assert run(False, "off")["out_of_core"]["skipped"] == []
    skipped = run(True, "on")["out_of_core"]["skipped"]
    assert [s["source"] for s in skipped] == ["subject s001, session recordings/s001_0001"]
    assert "m/s^2" in skipped[0]["error"]


def test_a_cache_inside_the_files_of_the_definition_is_refused(definition, tmp_path):
    """A cache folder whose entries the definition's ``files`` match (``**/*.parquet``, the
    cache in the data folder) would be read as recordings by the next run: refused at once,
    naming both keys, before any session is read."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(definition.rsplit("/", 1)[0], copy)
    text = (copy / "data.yaml").read_text(encoding="utf-8")
    (copy / "data.yaml").write_text(text.replace("files: recordings/*.parquet",
                                                 "files: '**/*.parquet'"), encoding="utf-8")
    (copy / "cache").mkdir()
    (copy / "cache" / "0123abcd.parquet").write_bytes(b"an entry of the first run")
    with pytest.raises(ConfigError, match=r"compute\.cache: .*cache holds files that the "
                                          r"definition's 'files' match.*0123abcd\.parquet"):
        train(_cfg(str(copy / "data.yaml"), cache=str(copy / "cache")), tmp_path / "r")
    assert not (tmp_path / "r").exists()
