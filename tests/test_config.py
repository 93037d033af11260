"""Configuration: defaults, validation messages naming the key, YAML round trip."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinyhar.config import MAX_SEED, TrainConfig, apply_override, load_config, make_config
from tinyhar.errors import ConfigError


def test_defaults_round_trip(tmp_path):
    cfg = TrainConfig()
    path = cfg.to_yaml(tmp_path / "config.yaml")
    again = load_config(path)
    assert again == cfg
    assert again.seed == 0 and again.model.n_estimators == 10 and again.model.max_depth == 10
    assert again.evaluation.test_subjects == "official"


def test_wrong_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.max_dept: unknown key"):
        make_config({"model": {"max_dept": 3}})
    with pytest.raises(ConfigError, match=r"model\.kind"):
        make_config({"model": {"kind": "svm"}})
    with pytest.raises(ConfigError, match=r"windows\.purity"):
        make_config({"windows": {"purity": 1.5}})


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("seed: 1\nmodel:\n  kind: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml, line \d+: not valid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_subjects_become_strings():
    cfg = make_config({"evaluation": {"test_subjects": [2, 4, 9]}})
    assert cfg.evaluation.test_subjects == ["2", "4", "9"]


def test_every_network_preset_names_its_data_set():
    """A preset must not fall back to the bundled HAPT data (wrong channels)."""
    from tinyhar.datasets.info import DATASETS
    from tinyhar.models.nn.presets import PRESETS
    from tinyhar.training import PRESET_DATA, apply_preset

    assert set(PRESET_DATA) == set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.dataset_name in DATASETS, name
        data = apply_preset({}, name)
        cfg = make_config(data)
        assert cfg.dataset.name == PRESET_DATA[name]["dataset"]["name"]
        assert cfg.model.preset == name
        assert cfg.model.kind == preset.estimator_params["architecture"]


def test_wisdm_presets_carry_the_tutorial_split():
    """Users 1-30 train, 31-36 test; the derived windows number the users 0-35."""
    from tinyhar.training import apply_preset

    for name in ("wisdm-bilstm", "tiny-cnn"):
        cfg = make_config(apply_preset({}, name))
        assert cfg.dataset.name == "wisdm-windows"
        assert cfg.evaluation.test_subjects == ["30", "31", "32", "33", "34", "35"]
        raw = make_config(apply_preset({"dataset": {"name": "wisdm-raw"}}, name))
        assert raw.evaluation.test_subjects == ["31", "32", "33", "34", "35", "36"]
        # the user's own choice wins
        own = apply_preset({"evaluation": {"test_subjects": "auto"}}, name)
        assert make_config(own).evaluation.test_subjects == "auto"


@pytest.mark.parametrize("name", ["wisdm-bilstm", "ucihar-lstm", "small-cnn", "ucihar-cnn",
                                  "tiny-cnn"])
def test_every_preset_splits_its_data_set_by_subject(name, shared_data_dir, monkeypatch):
    """Each preset's data set loads and splits into disjoint, non-empty subject groups."""
    from tinyhar.models.nn.presets import PRESETS
    from tinyhar.training import apply_preset, load_data, make_window_set, split_windows

    assert name in PRESETS
    monkeypatch.setenv("TINYHAR_DATA", str(shared_data_dir))
    cfg = make_config(apply_preset({}, name))
    windows, _ = make_window_set(load_data(cfg), cfg)
    tr, te, _, leakage = split_windows(windows, cfg)
    train_subjects, test_subjects = set(windows.subject[tr]), set(windows.subject[te])
    assert leakage is None and train_subjects and test_subjects
    assert not train_subjects & test_subjects
    if name in ("wisdm-bilstm", "tiny-cnn"):
        assert sorted(test_subjects, key=int) == [str(s) for s in range(30, 36)]
        assert len(train_subjects) == 30
    else:
        assert sorted(test_subjects, key=int) == ["2", "4", "9", "10", "12", "13", "18", "20",
                                                  "24"]


@pytest.mark.parametrize("value", ["banana", 0, -3, True, 1.5, 0.0, float("nan"), [1]])
def test_bad_max_features_names_the_key(value):
    with pytest.raises(ConfigError, match=r"model\.max_features: must be sqrt, log2"):
        make_config({"model": {"max_features": value}})


@pytest.mark.parametrize("value", ["sqrt", "log2", None, 1, 12, 0.5, 1.0])
def test_good_max_features(value):
    assert make_config({"model": {"max_features": value}}).model.max_features == value


@pytest.mark.parametrize("value", [-1, 2**32, 2**40, 1.5, True, "x"])
def test_seed_out_of_numpy_range_is_refused(value):
    with pytest.raises(ConfigError, match=r"config: seed: "):
        make_config({"seed": value})


def test_seed_limits():
    assert make_config({"seed": 0}).seed == 0
    assert make_config({"seed": 2**32 - 1}).seed == MAX_SEED == 2**32 - 1


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("windows", "window", 0),
        ("windows", "window", -2.56),
        ("windows", "window", float("nan")),
        ("windows", "window", float("inf")),
        ("windows", "hop", 0),
        ("windows", "hop", float("nan")),
        ("windows", "target_rate_hz", float("inf")),
        ("evaluation", "test_fraction", 0),
        ("evaluation", "test_fraction", 1),
        ("evaluation", "test_fraction", 1.5),
        ("evaluation", "cv_folds", -1),
        ("evaluation", "cv_folds", 1),
        ("evaluation", "test_subjects", []),
        ("evaluation", "test_subjects", [[1, 2]]),
        ("features", "set", "huge"),
        ("features", "gravity_cutoff_hz", 0),
        ("features", "gravity_order", 0),
        ("features", "bands_hz", []),
        ("model", "n_estimators", True),
    ],
)
def test_bad_values_name_their_key_path(section, key, value):
    with pytest.raises(ConfigError, match=rf"{section}\.{key}: "):
        make_config({section: {key: value}})


def test_gravity_cutoff_against_the_target_rate():
    with pytest.raises(ConfigError, match=r"features\.gravity_cutoff_hz: 10 Hz is not below"):
        make_config({"windows": {"target_rate_hz": 20}, "features": {"gravity_cutoff_hz": 10}})
    make_config({"windows": {"target_rate_hz": 20}, "features": {"gravity_cutoff_hz": 9.9}})


def test_feature_plan_parameters_reach_the_extractor():
    """Spectral bands and the gravity filter order (named by messages and the README) are
    config keys, passed to the feature extractor; bands beyond Nyquist stop training."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1"]), window=128, hop=64,
                              unit="samples")
    cfg = make_config({"features": {"bands_hz": [[0, 2], [2, 8]], "gravity_order": 2}})
    assert cfg.features.bands_hz == [(0.0, 2.0), (2.0, 8.0)]
    pipe = build_pipeline(windows.subset(np.arange(4)), cfg, 64)
    assert pipe.extractor.gravity_order == 2
    assert [tuple(b) for b in pipe.extractor.bands_hz] == [(0.0, 2.0), (2.0, 8.0)]
    assert any(n.endswith("_power_2_8hz") for n in pipe.feature_names)
    with pytest.raises(ConfigError, match=r"features\.bands_hz"):
        make_config({"features": {"bands_hz": [[1]]}})
    with pytest.raises(ConfigError, match="too low for the spectral band 2-30 Hz") as err:
        build_pipeline(windows, make_config({"features": {"bands_hz": [[0, 2], [2, 30]]}}), 64)
    # the message names the configuration key and bands that fit: they work as given
    import yaml

    suggested = re.search(r"features\.bands_hz, e\.g\. (\[\[.*?\]\])", str(err.value))
    assert suggested is not None, str(err.value)
    bands = yaml.safe_load(suggested.group(1))
    assert bands == [[0, 6.25], [6.25, 12.5], [12.5, 25]]  # the windows: 50 Hz
    pipe = build_pipeline(windows.subset(np.arange(4)),
                          make_config({"features": {"bands_hz": bands}}), 64)
    assert any(n.endswith("_power_12p5_25hz") for n in pipe.feature_names)


def test_whole_samples_when_unit_is_samples():
    with pytest.raises(ConfigError, match=r"windows\.hop: 2\.5 samples is not a whole number"):
        make_config({"windows": {"unit": "samples", "window": 128, "hop": 2.5}})


def test_hop_longer_than_window_warns_but_is_valid():
    with pytest.warns(UserWarning, match=r"windows\.hop \(3 s\) is longer than windows"):
        cfg = make_config({"windows": {"window": 2, "hop": 3}})
    assert cfg.windows.hop == 3


def test_options_of_the_other_model_kind_are_errors():
    with pytest.raises(ConfigError, match=r"model\.preset: applies to networks only"):
        make_config({"model": {"preset": "small-cnn"}})
    with pytest.raises(ConfigError, match=r"model\.params: applies to networks only"):
        make_config({"model": {"kind": "extra_trees", "params": {"epochs": 3}}})
    with pytest.raises(ConfigError, match=r"model\.n_estimators: applies to tree models only"):
        make_config({"model": {"kind": "cnn1d", "n_estimators": 50}})
    with pytest.raises(ConfigError, match=r"model\.max_features: applies to tree models only"):
        make_config({"model": {"kind": "lstm", "max_features": None}})
    with pytest.raises(ConfigError, match=r"model\.preset: unknown network preset"):
        make_config({"model": {"kind": "cnn1d", "preset": "nope"}})
    # the defaults of the other kind are not the user's doing: a saved network config reloads
    net = make_config({"model": {"kind": "cnn1d", "params": {"epochs": 2}}})
    assert make_config(net.model_dump(mode="json")) == net


def test_non_utf8_config_names_file_and_line(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes("seed: 1\ndataset:\n  name: donn\xe9es.parquet\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml, line 3: not UTF-8 text \(byte 0xe9"):
        load_config(p)


@pytest.mark.parametrize("text, what", [("- 1\n- 2\n", "list"), ("42\n", "int"),
                                        ("just words\n", "str")])
def test_non_mapping_config(tmp_path, text, what):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"expected a mapping of sections .* got a YAML {what}"):
        load_config(p)


def test_empty_config_is_the_defaults(tmp_path):
    p = tmp_path / "empty.yaml"
    p.write_text("# nothing\n")
    assert load_config(p) == TrainConfig()


def test_relative_paths_resolve_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project" / "configs"
    folder.mkdir(parents=True)
    p = folder / "c.yaml"
    p.write_text("dataset:\n  name: ../data/rec.parquet\n  path: raw\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(p)
    assert cfg.dataset.name == str(tmp_path / "project" / "data" / "rec.parquet")
    assert cfg.dataset.path == str(folder / "raw")
    # the same mapping given in code resolves against the current folder
    absolute = str(tmp_path / "abs")
    cfg = make_config({"dataset": {"name": "d.yaml", "path": absolute}})
    assert Path(cfg.dataset.name).resolve() == (tmp_path / "d.yaml").resolve()
    assert cfg.dataset.path == absolute
    # registered names are not paths
    assert make_config({"dataset": {"name": "uci-har"}}).dataset.name == "uci-har"
    # a saved config holds absolute paths: loading it elsewhere changes nothing
    saved = cfg.to_yaml(tmp_path / "project" / "saved.yaml")
    monkeypatch.chdir(folder)
    assert load_config(saved) == cfg


def test_override_parser():
    data = apply_override({}, "windows.hop=1.0")
    assert data == {"windows": {"hop": 1.0}}
    data = apply_override(data, "model.params.epochs=3")
    data = apply_override(data, "evaluation.test_subjects=[2, 4]")
    data = apply_override(data, "dataset.path=")
    assert data["model"] == {"params": {"epochs": 3}}
    assert data["evaluation"]["test_subjects"] == [2, 4] and data["dataset"]["path"] is None
    assert data["windows"] == {"hop": 1.0}
    # the key the loaders' error messages name (dataset.checks is a section of its own type)
    checks = apply_override({}, "dataset.checks.time_order=false")
    assert checks == {"dataset": {"checks": {"time_order": False}}}
    assert make_config(checks).dataset.checks.time_order is False
    for bad, message in [
        ("dataset.checks.time=false", r"unknown key 'dataset\.checks\.time'; dataset\.checks "
                                      r"has: sampling_rate, time_order"),
        ("dataset.checks=false", r"dataset\.checks is a section; set one of its keys"),
        ("windows.hopp=1", r"unknown key 'windows\.hopp'; windows has: window, hop"),
        ("modle.kind=cnn1d", r"unknown key 'modle'; the top level has: seed, dataset"),
        ("windows=3", r"windows is a section; set one of its keys"),
        ("seed.x=3", r"seed is a value, not a section"),
        ("model.params.a.b=1", r"name one network parameter"),
        ("windows.hop", r"expected KEY\.PATH=VALUE"),
        ("=3", r"expected KEY\.PATH=VALUE"),
        ("windows..hop=1", r"expected KEY\.PATH=VALUE"),
        ("windows.hop=[1", r"--set windows\.hop: value '\[1' is not valid YAML"),
    ]:
        with pytest.raises(ConfigError, match=message):
            apply_override({}, bad)


def test_model_kinds_are_named_once():
    """config, the tree and network modules, the CLI help and the docs use one list."""
    import typing

    from typer.testing import CliRunner

    import tinyhar.config as config
    from tinyhar.cli import app
    from tinyhar.models.kinds import KINDS, NETWORK_KINDS, TREE_KINDS
    from tinyhar.models.nn.presets import NetworkParams
    from tinyhar.models.trees import MODEL_KINDS as TREES

    assert KINDS == TREE_KINDS + NETWORK_KINDS
    assert typing.get_args(config.ModelConfig.model_fields["kind"].annotation) == KINDS
    assert typing.get_args(NetworkParams.model_fields["architecture"].annotation) == NETWORK_KINDS
    assert tuple(TREES) == TREE_KINDS
    words = ", ".join(KINDS[:-1]) + " or " + KINDS[-1]
    with pytest.raises(ConfigError, match="must be one of: " + words):
        make_config({"model": {"kind": "svm"}})
    listing = " | ".join(KINDS)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"kind: random_forest   # {listing}\n" in config.__doc__
    assert f"kind: random_forest   # {listing}\n" in readme
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=400)
    assert listing in " ".join(result.output.replace("│", " ").split())
