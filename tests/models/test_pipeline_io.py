"""Pipeline files: JSON + arrays round trips on real data, and no code runs from a crafted file."""

from __future__ import annotations

import filecmp
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.modelfile import FORMAT_VERSION, ModelFileError
from tinyhar.models.pipeline import LEGACY_PIPELINE_FILE, PIPELINE_FILE, HarPipeline

TREE_ARRAYS = ("feature_", "threshold_", "left_", "right_", "leaves_", "roots_", "tree_depths_",
               "feature_importances_")


@pytest.fixture(scope="module")
def hapt_windows():
    """Windows of three bundled HAPT subjects: 1 and 3 to train, 9 to test."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1", "3", "9"]),
                              window=128, hop=64, unit="samples")
    train = windows.subset(np.isin(windows.subject, ["1", "3"]))
    return train, windows.subset(windows.subject == "9")


@pytest.fixture(scope="module")
def tree_pipeline(hapt_windows):
    """A fitted default pipeline with stacked features and a small random forest."""
    from tinyhar.config import make_config
    from tinyhar.training import build_pipeline

    train, _ = hapt_windows
    cfg = make_config({"features": {"stack_previous": True},
                       "model": {"n_estimators": 8, "max_depth": 8}})
    pipe = build_pipeline(train, cfg, 64)
    pipe.model.fit(pipe.transform(train), train.y)
    pipe.info = {"dataset": "hapt", "seed": 0}
    return pipe


@pytest.fixture()
def saved(tree_pipeline, tmp_path):
    """A run folder holding only the tree pipeline file (and its manifest)."""
    from tinyhar.runfolder import write_run

    run = tmp_path / "run"
    with write_run(run) as tmp:
        tree_pipeline.save(tmp / PIPELINE_FILE)
    return run / PIPELINE_FILE


class Evil:
    """Pickles to a call that creates a marker file: what a crafted model file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _rewrite(path: Path, change) -> None:
    """Rewrite an npz model file after ``change(arrays, meta)`` edits its content in place."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(arrays["meta"].tobytes())
    change(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


# ------------------------------------------------------------------------- round trips


def test_tree_pipeline_round_trip_on_hapt(tree_pipeline, saved, hapt_windows, tmp_path):
    _, test = hapt_windows
    loaded = HarPipeline.load(saved)
    # the device arrays come back exactly, dtypes included
    for name in TREE_ARRAYS:
        a, b = getattr(tree_pipeline.model, name), getattr(loaded.model, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert list(loaded.model.classes_) == list(tree_pipeline.model.classes_)
    assert loaded.model.get_params() == tree_pipeline.model.get_params()
    assert loaded.model.size() == tree_pipeline.model.size()
    assert not hasattr(loaded.model, "estimator_")  # nothing of scikit-learn is needed
    # same window layout and extractor
    for field in ("channels", "sampling_rate_hz", "n_samples", "hop_samples", "stack_previous",
                  "classes", "info"):
        assert getattr(loaded, field) == getattr(tree_pipeline, field), field
    assert loaded.extractor.get_params() == tree_pipeline.extractor.get_params()
    assert loaded.extractor.n_samples_in_ == 128 and loaded.feature_names == (
        tree_pipeline.feature_names
    )
    # identical classes on the held-out subject; features agree (same code, same machine:
    # equal to float32 rounding at most)
    np.testing.assert_allclose(loaded.transform(test), tree_pipeline.transform(test),
                               rtol=1e-6, atol=1e-7)
    assert list(loaded.predict(test)) == list(tree_pipeline.predict(test))
    # the exporters read the loaded model: the C library is the same, byte for byte
    from tinyhar.export.c import export_c

    export_c(tree_pipeline, tmp_path / "c_fitted")
    export_c(saved.parent, tmp_path / "c_loaded")  # from the run folder
    for name in ("tinyhar_model.h", "tinyhar_model.c"):
        assert filecmp.cmp(tmp_path / "c_fitted" / name, tmp_path / "c_loaded" / name,
                           shallow=False), name


def test_loaded_trees_export_the_same_micropython_bundle(tree_pipeline, saved, hapt_windows,
                                                          tmp_path):
    from tinyhar.export.micropython import export_micropython

    _, test = hapt_windows
    export_micropython(tree_pipeline, tmp_path / "fitted", windows=test, n_test_windows=20)
    export_micropython(saved.parent, tmp_path / "loaded", windows=test, n_test_windows=20)
    names = sorted(p.name for p in (tmp_path / "fitted").iterdir() if p.is_file())
    assert "tinyhar_config.py" in names
    assert sorted(p.name for p in (tmp_path / "loaded").iterdir() if p.is_file()) == names
    for name in names:
        a, b = (tmp_path / d / name for d in ("fitted", "loaded"))
        if name == "bundle.json":  # names its own folder
            a, b = (json.loads(p.read_text()) for p in (a, b))
            assert {**a, "out_dir": None} == {**b, "out_dir": None}
        else:
            assert filecmp.cmp(a, b, shallow=False), name


def test_network_pipeline_round_trip(hapt_windows, tmp_path):
    pytest.importorskip("torch")
    from tinyhar.models.nn import NeuralNetClassifier

    train, test = hapt_windows
    net = NeuralNetClassifier(hidden_units=(8, 8), n_layers=2, epochs=2, max_steps=6,
                              batch_size=32, augment_groups=((0, 1, 2),), seed=0)
    net.fit(train.X, train.y, groups=train.subject)
    pipe = HarPipeline(None, net, list(train.channels), train.sampling_rate_hz, 128, 64, False,
                       list(train.classes), {"dataset": "hapt"})
    path = pipe.save(tmp_path / PIPELINE_FILE)
    loaded = HarPipeline.load(path)
    model = loaded.model
    assert model.get_params() == net.get_params()  # tuples come back as tuples
    for name in ("history_", "best_epoch_", "averaged_epochs_", "train_groups_",
                 "validation_groups_", "n_params_", "macs_per_window_", "embedding_dim_",
                 "module_config_", "n_samples_in_", "n_channels_in_"):
        assert getattr(model, name) == getattr(net, name), name
    np.testing.assert_array_equal(model.center_, net.center_)
    np.testing.assert_array_equal(model.scale_, net.scale_)
    for key, value in net.module_.state_dict().items():
        assert np.array_equal(model.module_.state_dict()[key].numpy(), value.numpy()), key
    # same weights, same windows: classes identical, probabilities to float32 rounding
    np.testing.assert_allclose(model.predict_proba(test.X), net.predict_proba(test.X),
                               rtol=1e-5, atol=1e-6)
    assert list(loaded.predict(test)) == list(pipe.predict(test))
    np.testing.assert_allclose(model.embed(test.X[:50]), net.embed(test.X[:50]),
                               rtol=1e-5, atol=1e-6)
    # the input shape is stored once, in the window spec; a format-1 file also held it in
    # the model, and it must agree
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert not {"n_samples_in", "n_channels_in"} & set(meta["model"]["fitted"])

    def version_1(n_samples_in):
        def change(arrays, meta):
            meta["format_version"] = 1
            meta["model"]["fitted"].update(n_samples_in=n_samples_in, n_channels_in=6)
        return change

    _rewrite(path, version_1(128))
    assert HarPipeline.load(path).model.n_samples_in_ == 128
    _rewrite(path, version_1(100))
    with pytest.raises(ModelFileError, match="100 samples x 6 channels .* says 128 x 6"):
        HarPipeline.load(path)
    # a pipeline whose spec disagrees with its network is not saved
    bad = HarPipeline(None, net, list(train.channels), train.sampling_rate_hz, 100, 50, False,
                      list(train.classes))
    with pytest.raises(TinyharError, match="window spec is 100 samples"):
        bad.save(tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_save_is_atomic_and_leaves_no_temporary_file(tree_pipeline, saved):
    before = saved.read_bytes()
    tree_pipeline.save(saved)  # overwrite in place
    assert sorted(p.name for p in saved.parent.iterdir()) == ["manifest.json", PIPELINE_FILE]
    assert HarPipeline.load(saved).model.size() == tree_pipeline.model.size()
    assert len(saved.read_bytes()) == len(before)


def test_unsaveable_pipelines_are_refused(tree_pipeline, tmp_path):
    from tinyhar.models.trees import TreeEnsembleClassifier

    unfitted = HarPipeline(tree_pipeline.extractor, TreeEnsembleClassifier(), ["acc_x"], 50.0,
                           128, 64, False, ["a"])
    with pytest.raises(TinyharError, match="not fitted"):
        unfitted.save(tmp_path / "a.npz")
    odd = HarPipeline(None, object(), ["acc_x"], 50.0, 128, 64, False, ["a"])
    with pytest.raises(TinyharError, match="cannot save"):
        odd.save(tmp_path / "b.npz")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------------- crafted files


@pytest.mark.parametrize("how", ["pickle", "joblib"])
def test_a_crafted_pickle_is_refused_without_running_it(tmp_path, how):
    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    run.mkdir()
    target = run / PIPELINE_FILE
    if how == "pickle":
        target.write_bytes(pickle.dumps(Evil(marker)))
    else:
        joblib = pytest.importorskip("joblib")
        joblib.dump(Evil(marker), target, compress=3)
    sanity = tmp_path / "sanity"  # the payload really runs when unpickled
    pickle.loads(pickle.dumps(Evil(sanity)))
    assert sanity.exists()
    for load in (lambda: HarPipeline.load(target), lambda: HarPipeline.load(run)):
        with pytest.raises(ModelFileError, match="pickle") as err:
            load()
        assert str(target) in str(err.value) and "tinyhar train" in str(err.value)
    from tinyhar.export.c import export_c
    from tinyhar.export.micropython import export_micropython

    with pytest.raises(TinyharError):
        export_c(run, tmp_path / "c")
    with pytest.raises(TinyharError):
        export_micropython(run, tmp_path / "mpy")
    assert not marker.exists()


def test_evaluate_and_export_refuse_a_run_whose_model_was_replaced_by_a_pickle(tmp_path):
    from typer.testing import CliRunner

    from tinyhar.cli import app
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import train

    data = load_bundled_hapt().select(subjects=["1", "9"]).to_parquet(tmp_path / "d.parquet")
    cfg = make_config({"dataset": {"name": str(data)},
                       "evaluation": {"test_subjects": [9], "cv_folds": 0},
                       "model": {"n_estimators": 2, "max_depth": 4}})
    run = tmp_path / "run"
    train(cfg, run)
    marker = tmp_path / "pwned"
    (run / PIPELINE_FILE).write_bytes(pickle.dumps(Evil(marker)))
    runner = CliRunner()
    commands = (["evaluate", str(run), "--dataset", str(data)],
                ["export", str(run), "--target", "c"],
                ["export", str(run), "--target", "micropython"])
    for args in commands:  # the manifest notices the replaced file first
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "changed since training" in result.output and "Traceback" not in result.output
    # a forger who also rewrites the manifest still meets the loader, which never unpickles
    from tinyhar.runfolder import MANIFEST_FILE, sha256_file

    manifest = json.loads((run / MANIFEST_FILE).read_text())
    manifest["files"][PIPELINE_FILE] = {"sha256": sha256_file(run / PIPELINE_FILE),
                                        "bytes": (run / PIPELINE_FILE).stat().st_size}
    (run / MANIFEST_FILE).write_text(json.dumps(manifest))
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "pickle" in result.output and "Traceback" not in result.output
    assert not marker.exists()


def test_an_object_array_inside_the_archive_is_never_unpickled(saved, tmp_path):
    marker = tmp_path / "pwned"
    with np.load(saved, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["model.threshold"] = np.array([Evil(marker)], dtype=object)
    with open(saved, "wb") as fh:
        np.savez(fh, **arrays)  # numpy pickles the object array into the member
    with pytest.raises(ModelFileError, match="Python objects"):
        HarPipeline.load(saved)
    assert not marker.exists()


def test_an_entry_declaring_more_data_than_it_holds_is_refused(saved):
    # a crafted .npy header claiming 10**12 values must not make numpy allocate them
    with np.load(saved, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    with zipfile.ZipFile(saved, "w") as zf:
        for name, arr in arrays.items():
            with zf.open(f"{name}.npy", "w") as fh:
                if name == "model.threshold":
                    header = {"descr": "<f4", "fortran_order": False, "shape": (10**12,)}
                    np.lib.format.write_array_header_1_0(fh, header)
                    fh.write(arr.tobytes())
                else:
                    np.lib.format.write_array(fh, arr, allow_pickle=False)
    with pytest.raises(ModelFileError, match="declares more data"):
        HarPipeline.load(saved)


def test_an_old_joblib_run_folder_is_refused_with_an_explanation(tmp_path):
    marker = tmp_path / "pwned"
    run = tmp_path / "old"
    run.mkdir()
    (run / LEGACY_PIPELINE_FILE).write_bytes(pickle.dumps(Evil(marker)))
    with pytest.raises(ModelFileError, match="older tinyhar.*pickle") as err:
        HarPipeline.load(run / PIPELINE_FILE)
    assert LEGACY_PIPELINE_FILE in str(err.value) and "retrain" in str(err.value)
    with pytest.raises(ModelFileError, match="pickle"):
        HarPipeline.load(run / LEGACY_PIPELINE_FILE)
    assert not marker.exists()


# ------------------------------------------------------------------------- damaged files


def test_truncated_files_raise_a_model_file_error(saved):
    data = saved.read_bytes()
    for n in (0, 1, 4, 10, 100, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        saved.write_bytes(data[:n])
        with pytest.raises(ModelFileError) as err:
            HarPipeline.load(saved)
        assert str(saved) in str(err.value) and "tinyhar train" in str(err.value)


def test_flipped_bytes_load_or_raise_a_model_file_error(saved):
    data = bytearray(saved.read_bytes())
    rng = np.random.default_rng(0)
    errors = 0
    for pos in rng.choice(len(data), size=40, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        saved.write_bytes(bytes(bad))
        try:
            HarPipeline.load(saved)  # a harmless byte (a timestamp) may still load
        except ModelFileError:
            errors += 1
    assert errors > 20


@pytest.mark.parametrize(
    "content",
    [b"garbage, not a model at all\n" * 10, b"\x00" * 64, b"PK\x03\x04 broken zip header"],
)
def test_garbage_raises_a_model_file_error(tmp_path, content):
    path = tmp_path / PIPELINE_FILE
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        HarPipeline.load(path)


def test_foreign_zip_and_npz_files_are_refused(tmp_path):
    path = tmp_path / PIPELINE_FILE
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="not a tinyhar model file"):
        HarPipeline.load(path)
    np.savez(path.with_suffix(""), x=np.zeros(3))  # np.savez appends .npz
    with pytest.raises(ModelFileError, match="not a tinyhar model file"):
        HarPipeline.load(path)
    np.savez(path.with_suffix(""), meta=np.frombuffer(b'{"format": "other"}', np.uint8))
    with pytest.raises(ModelFileError, match="not a tinyhar model file"):
        HarPipeline.load(path)


def test_the_window_length_is_stored_once_and_old_files_still_load(saved, tree_pipeline):
    with np.load(saved, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
    assert meta["format_version"] == FORMAT_VERSION == 2
    assert meta["pipeline"]["window_spec"]["n_samples"] == 128
    assert "n_samples_in" not in meta["extractor"]["fitted"]  # the spec holds it
    assert HarPipeline.load(saved).extractor.n_samples_in_ == 128  # derived from the spec

    def version_1(n_samples_in):
        def change(arrays, meta):
            meta["format_version"] = 1
            meta["extractor"]["fitted"]["n_samples_in"] = n_samples_in
        return change

    _rewrite(saved, version_1(128))  # a file of model format 1: the length written twice
    old = HarPipeline.load(saved)
    assert old.extractor.n_samples_in_ == old.n_samples == 128
    assert list(old.model.classes_) == list(tree_pipeline.model.classes_)
    _rewrite(saved, version_1(64))  # ... and disagreeing
    with pytest.raises(ModelFileError, match=r"fitted on windows of 64 samples .* says 128"):
        HarPipeline.load(saved)
    # a pipeline whose spec disagrees with its extractor is not saved
    p = tree_pipeline
    bad = HarPipeline(p.extractor, p.model, p.channels, p.sampling_rate_hz, 100, None,
                      p.stack_previous, p.classes)
    with pytest.raises(TinyharError, match="window spec is 100 samples .* feature extractor"):
        bad.save(saved.parent / "bad.npz")


def test_a_newer_format_version_is_refused(saved):
    def newer(arrays, meta):
        meta["format_version"] = FORMAT_VERSION + 1
        meta["tinyhar_version"] = "9.0"

    _rewrite(saved, newer)
    with pytest.raises(ModelFileError, match="newer tinyhar.*upgrade tinyhar"):
        HarPipeline.load(saved)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a, m: a.pop("model.threshold"), "misses the array 'model.threshold'"),
        (lambda a, m: a.update({"model.threshold": a["model.threshold"].astype(np.float64)}),
         "dtype float64"),
        (lambda a, m: a.update({"model.left": a["model.left"][:-1]}), "shape"),
        (lambda a, m: a.update({"model.roots": a["model.roots"] + 30000}), "root index"),
        (lambda a, m: a.update({"model.left": np.zeros_like(a["model.left"])}),
         "child index"),
        (lambda a, m: a.update({"extra.thing": np.zeros(2)}), "unexpected arrays"),
        (lambda a, m: m["pipeline"].pop("window_spec"),
         "misses the entry 'pipeline.window_spec'"),
        (lambda a, m: m["pipeline"]["window_spec"].pop("units"), "lacks \\['units'\\]"),
        (lambda a, m: m["pipeline"]["window_spec"].update(n_samples="128"),
         "n_samples '128' is not a whole number"),
        (lambda a, m: m["pipeline"]["window_spec"].update(sampling_rate_hz=-50),
         "invalid window layout"),
        (lambda a, m: m["pipeline"]["window_spec"].update(streaming_hop=3),
         "streaming_hop 3 differs"),
        (lambda a, m: m["pipeline"]["window_spec"].update(units=["g"] * 3 + ["g"] * 3),
         "units .* are not those of channels"),
        (lambda a, m: m["model"]["params"].update(n_estimators=3), "shape"),
        (lambda a, m: m["model"]["params"].update(max_depth=0), "invalid tree-model"),
        (lambda a, m: m["model"]["params"].update(evil=1), "unknown TreeEnsembleClassifier"),
        (lambda a, m: m.update(model_type="os.system"), "unknown model type"),
        (lambda a, m: m["extractor"]["params"].update(feature_set="banana"),
         "invalid feature-extractor"),
        (lambda a, m: m["extractor"]["feature_names"].reverse(), "feature names differ"),
        (lambda a, m: a.update({"extractor.gravity_sos": a["extractor.gravity_sos"] * 2}),
         "gravity filter"),
        (lambda a, m: m["model"].update(n_features_in=5), "has (dtype|shape)"),
        (lambda a, m: m["pipeline"]["window_spec"].update(channels=["acc_x"], units=["g"]),
         "channels or rate differ"),
    ],
)
def test_inconsistent_content_raises_a_model_file_error(saved, change, match):
    _rewrite(saved, change)
    with pytest.raises(ModelFileError, match=match) as err:
        HarPipeline.load(saved)
    assert str(saved) in str(err.value) and "tinyhar train" in str(err.value)


def test_a_missing_file_is_a_tinyhar_error(tmp_path):
    with pytest.raises(TinyharError, match="no pipeline file"):
        HarPipeline.load(tmp_path / PIPELINE_FILE)


# ------------------------------------------------------------------------- window spec


def test_the_window_spec_is_saved_and_loaded_back(saved, tree_pipeline):
    from tinyhar.core.spec import WindowSpec

    with np.load(saved, allow_pickle=False) as npz:
        meta = json.loads(npz["meta"].tobytes())
    stored = meta["pipeline"]["window_spec"]
    assert stored == tree_pipeline.spec.to_dict()
    assert stored["n_samples"] == 128 and stored["hop_samples"] == 64
    assert stored["units"] == ["g"] * 3 + ["rad/s"] * 3
    assert not {"channels", "n_samples", "hop_samples"} & set(meta["pipeline"])  # stored once
    loaded = HarPipeline.load(saved)
    assert loaded.spec == tree_pipeline.spec == WindowSpec.from_dict(stored)
    assert loaded.streaming_hop == 64


def test_a_file_written_before_the_window_spec_derives_it(saved, tree_pipeline):
    def legacy(arrays, meta):
        spec = meta["pipeline"].pop("window_spec")
        meta["pipeline"].update({k: spec[k] for k in
                                 ("channels", "sampling_rate_hz", "n_samples", "hop_samples")})

    _rewrite(saved, legacy)
    loaded = HarPipeline.load(saved)
    assert loaded.spec == tree_pipeline.spec
    assert loaded.spec.units == ("g", "g", "g", "rad/s", "rad/s", "rad/s")
