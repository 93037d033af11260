"""Property-based tests: every malformed configuration ends in a ConfigError with a message.

Random YAML configurations (unknown keys, random types and values at the known
keys, non-mapping documents), random bytes (not UTF-8, not YAML) and random
``--set KEY.PATH=VALUE`` overrides go through :func:`tinyhar.config.load_config`,
:func:`tinyhar.config.make_config` and :func:`tinyhar.config.apply_override`
(what ``tinyhar train`` calls). Each either gives a valid
:class:`~tinyhar.config.TrainConfig` or raises :class:`~tinyhar.errors.ConfigError`
(a :class:`~tinyhar.errors.TinyharError`) whose message names the source; no
other exception type may escape.
"""

from __future__ import annotations

import warnings

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tinyhar.config import (
    DatasetConfig,
    EvaluationConfig,
    FeatureConfig,
    ModelConfig,
    TrainConfig,
    WindowConfig,
    apply_override,
    load_config,
    make_config,
)
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.models.nn.presets import NetworkParams

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECTIONS = {
    "dataset": DatasetConfig,
    "windows": WindowConfig,
    "features": FeatureConfig,
    "model": ModelConfig,
    "evaluation": EvaluationConfig,
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["sqrt", "log2", "official", "auto", "samples", "s", "acc", "hapt",
                     "cnn1d", "random_forest", "small-cnn", "x.parquet", "../d.yaml", "~/r"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)
known_keys = st.sampled_from(
    [(section, key) for section, cls in SECTIONS.items() for key in cls.model_fields]
)


@st.composite
def configs(draw) -> dict:
    """A mapping with random values at known keys, some unknown keys and odd sections."""
    data: dict = {}
    for section, key in draw(st.lists(known_keys, max_size=6)):
        if isinstance(data.get(section, {}), dict):
            data.setdefault(section, {})[key] = draw(values)
    if draw(st.booleans()):
        data["seed"] = draw(values)
    if draw(st.integers(0, 3)) == 0:  # a network with random parameter values
        model = data["model"] = data["model"] if isinstance(data.get("model"), dict) else {}
        model["kind"] = draw(st.sampled_from(["cnn1d", "lstm", "bilstm", "gru", "tcn"]))
        model["params"] = draw(st.dictionaries(st.sampled_from(sorted(NetworkParams.model_fields)),
                                               values, max_size=4))
    if draw(st.integers(0, 4)) == 0:
        data[draw(st.text(max_size=8))] = draw(values)
    if draw(st.integers(0, 4)) == 0:
        data[draw(st.sampled_from(list(SECTIONS)))] = draw(scalars)
    return data


def _check(call) -> TrainConfig | None:
    """Run ``call``; a failure must be a ConfigError with a message."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hop > window warns; that is fine
        try:
            cfg = call()
        except ConfigError as exc:
            assert isinstance(exc, TinyharError)
            assert str(exc).strip()
            return None
    assert isinstance(cfg, TrainConfig)
    return cfg


@SETTINGS
@given(configs())
def test_random_mappings_validate_or_raise_config_error(data):
    cfg = _check(lambda: make_config(data, "random"))
    if cfg is not None:  # a valid config survives its own YAML round trip
        assert _check(lambda: make_config(cfg.model_dump(mode="json"))) == cfg


@SETTINGS
@given(configs())
def test_random_yaml_files(tmp_path, data):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    _check(lambda: load_config(path))


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(tmp_path, raw):
    path = tmp_path / "c.yaml"
    path.write_bytes(raw)
    _check(lambda: load_config(path))


@SETTINGS
@given(st.text(max_size=200))
def test_random_text(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    _check(lambda: load_config(path))


@SETTINGS
@given(st.one_of(scalars, st.lists(values, min_size=1, max_size=3)))
def test_non_mapping_documents(tmp_path, document):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(document))
    cfg = _check(lambda: load_config(path))
    assert cfg is None or document is None  # only an empty document is a valid config


key_paths = st.one_of(
    known_keys.map(".".join),
    st.sampled_from(["seed", "model.params.epochs", "model.params.lr", "model.params",
                     "windows", "model.params.a.b", "", ".", "seed.x"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz._=", max_size=20),
)
value_texts = st.one_of(
    values.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...")),
    st.text(max_size=20),
)


@SETTINGS
@given(st.lists(st.tuples(key_paths, st.booleans(), value_texts), min_size=1, max_size=4))
def test_random_set_overrides(overrides):
    """What `tinyhar train --set KEY.PATH=VALUE ...` does before training."""

    def build():
        data: dict = {}
        for key, with_equals, text in overrides:
            data = apply_override(data, f"{key}={text}" if with_equals else key + text)
        return make_config(data, "command line")

    _check(build)


@pytest.mark.parametrize("text", ["model:\n  kind: !!python/object:os.system ls\n",
                                  "a: &a [*a]\n", "[" * 5000, "seed: 0x1p3\n"])
def test_hostile_yaml(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    _check(lambda: load_config(path))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key_paths, value_texts)
# a CI failure: rich folded this message's long word across two lines
@example(key="dataset.name", text="00000\x08" + "\U0001019d\U00014647" + "\U00018cd6" * 3
         + "\U00018d09\U0002ebe1")
def test_cli_set_mistakes_exit_2_with_the_message(tmp_path, key, text):
    """`tinyhar train --set` with a bad key path: exit 2 and the parser's message, no training."""
    from typer.testing import CliRunner

    from tinyhar.cli import app

    assignment = f"{key}={text}"
    try:
        apply_override({}, assignment)
    except ConfigError as exc:
        expected = "".join(str(exc).split())
    else:
        return  # a valid key path would start a training run
    result = CliRunner().invoke(
        app, ["train", "--out", str(tmp_path / "run"), "--set", assignment]
    )
    assert result.exit_code == 2, result.output
    # rich wraps the message to the terminal width and folds words longer than a line,
    # so compare with all whitespace removed
    assert expected in "".join(result.output.split())
    assert not (tmp_path / "run").exists()
