"""Configuration: defaults, validation messages naming the key, YAML round trip."""

from __future__ import annotations

import pytest

from tinyhar.config import TrainConfig, load_config, make_config
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
    from tinyhar.config import TrainConfig
    from tinyhar.models.nn.presets import PRESETS
    from tinyhar.training import PRESET_DATA, apply_preset

    assert set(PRESET_DATA) == set(PRESETS)
    for name, preset in PRESETS.items():
        data = apply_preset(TrainConfig().model_dump(mode="json"), name)
        assert data["dataset"]["name"] == PRESET_DATA[name]["name"]
        assert data["model"]["preset"] == name
        assert data["model"]["kind"] == preset.estimator_params["architecture"]
