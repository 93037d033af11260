"""tinyhar.validation: the one window validator and the one pydantic error formatter."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse

from tinyhar.config import make_config
from tinyhar.datasets.custom import load_custom
from tinyhar.errors import ConfigError, DataFormatError, TinyharError
from tinyhar.validation import DataTypeError, check_windows

CHANNELS = ["acc_x", "acc_y", "acc_z"]


# --------------------------------------------------------------------------- windows


def test_a_float32_c_array_is_returned_as_is_and_others_are_converted():
    X = np.ones((4, 16, 3), np.float32)
    assert check_windows(X, channels=CHANNELS, n_samples=16) is X
    for other in (X.astype(np.float64), np.asfortranarray(X), X.tolist(), X.astype(np.int16)):
        out = check_windows(other, channels=CHANNELS)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        np.testing.assert_array_equal(out, X)


def test_values_beyond_float32_become_infinite_silently_as_on_a_device():
    X = np.zeros((1, 4, 3))
    X[0, 1, 2] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = check_windows(X)
    assert np.isposinf(out[0, 1, 2])


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((4, 16)), r"X: windows must have shape \(n_windows, 16, 3\) with the channels "
         r"in the order \['acc_x', 'acc_y', 'acc_z'\], got an array of shape \(4, 16\) \(2-D\); "
         r"a single window .* is X\[None\]"),
        (np.zeros((4, 3, 16)), r"got shape \(4, 3, 16\) with 16 channels on the last axis; the "
         r"axes look swapped: \(n_windows, n_channels, n_samples\) -> use X.transpose\(0, 2, 1\)"),
        (np.zeros((4, 16, 6)), r"got shape \(4, 16, 6\) with 6 channels on the last axis$"),
        (np.zeros((4, 8, 3)), r"got shape \(4, 8, 3\): 8 samples per window, but the model was "
         r"trained on windows of 16 samples; cut the data with the same window length"),
        ([[["a", "b", "c"]]], r"windows must be a numeric array of shape \(n_windows, 16, 3\).*"
         r"could not use the list given: could not convert string to float: 'a'"),
        ([[[1, 2, 3]], [[1, 2]]], r"numeric array .*inhomogeneous"),
        (np.zeros((2, 16, 3), complex), r"Complex data not supported"),
        (np.zeros((0, 16, 3)), r"no windows \(shape \(0, 16, 3\)\); at least 1 window of shape"),
    ],
)
def test_wrong_windows_get_one_message_naming_the_expected_shape(X, match):
    with pytest.raises(DataFormatError, match=match) as err:
        check_windows(X, source="X", channels=CHANNELS, n_samples=16, min_windows=1)
    assert isinstance(err.value, TinyharError) and isinstance(err.value, ValueError)


def test_empty_windows_are_refused():
    with pytest.raises(DataFormatError, match=r"windows are empty: shape \(2, 0, 3\)"):
        check_windows(np.zeros((2, 0, 3)))
    assert check_windows(np.zeros((0, 16, 3))).shape == (0, 16, 3)  # no windows: allowed


def test_sparse_input_is_a_type_error_and_a_tinyhar_error():
    with pytest.raises(DataTypeError, match="Sparse data was passed for X") as err:
        check_windows(scipy.sparse.csr_matrix(np.eye(3)), source="X")
    assert isinstance(err.value, TypeError) and isinstance(err.value, DataFormatError)


def test_a_caller_chooses_the_error_type():
    with pytest.raises(ConfigError, match=r"^calibration: windows must have shape"):
        check_windows(np.zeros(3), source="calibration",
                      error=lambda source, message: ConfigError(f"{source}: {message}"))


def test_every_window_consumer_uses_the_same_message():
    """WindowSet, FeatureExtractor, HarPipeline arrays, validity and the perturbations."""
    from tinyhar.evaluation.perturb import gain
    from tinyhar.features import FeatureExtractor
    from tinyhar.features.validity import invalid_windows
    from tinyhar.windows import WindowSet

    X = np.zeros((5, 16), np.float32)
    n = len(X)
    calls = [
        lambda: WindowSet(X, [""] * n, ["s"] * n, ["a"] * n, np.zeros(n), CHANNELS, 50.0, []),
        lambda: FeatureExtractor(channels=CHANNELS).fit(X),
        lambda: invalid_windows(X),
        lambda: gain(X, CHANNELS, 1.1),
    ]
    for call in calls:
        with pytest.raises(TinyharError, match=r"windows must have shape \(n_windows, "
                           r".*got an array of shape \(5, 16\) \(2-D\)"):
            call()


# --------------------------------------------------------------------------- settings


BASE = {
    "files": "files: '*.csv'",
    "sampling_rate_hz": "sampling_rate_hz: 50",
    "columns": "columns: {acc_x: ax, acc_y: ay, acc_z: az}",
    "constants": "constants: {subject: s1}",
}


def _definition_error(tmp_path, change: str) -> str:
    key = change.split(":")[0]
    lines = [v for k, v in BASE.items() if k != key] + [change]
    path = tmp_path / "data.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        load_custom(path)
    message = str(err.value)
    assert message.startswith(f"{path}: invalid dataset definition:\n  ")
    return message.split("\n", 1)[1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # wrong type: the mapping is described by its keys, not by a class name
        ("columns: [ax, ay, az]",
         "columns: expected a mapping such as {acc_x: ..., acc_y: ..., acc_z: ..., ...} "
         "(got ['ax', 'ay', 'az'])"),
        ("sampling_rate_hz: fast", "sampling_rate_hz: expected a number (got 'fast')"),
        # missing key
        ("columns: {acc_x: ax, acc_z: az}", "columns.acc_y: required key is missing"),
        # extra key, nested: the allowed keys of that level
        ("units: {acc: {full_scale: 8, bitz: 12}}",
         "units.acc.bitz: unknown key; allowed keys: full_scale, bits, unit (got 12)"),
        # a list item: its index
        ("files: ['a/*.csv', 3]", "files[1]: expected a text (got 3)"),
        ("classes: [walking, {sitting: 1}]", "classes[1]: expected a text (got {'sitting': 1})"),
        # enumerated values
        ("units: {time: hours}",
         "units.time: must be one of: s, ms, us, ns or datetime (got 'hours')"),
        ("format: xls", "format: must be one of: csv, parquet or npy (got 'xls')"),
        # a value of none of a union's types: every accepted type, in user words
        ("files: 3", "files: expected a text or a list of texts (got 3)"),
        ("units: {acc: 5}",
         "units.acc: expected a text or a mapping such as {full_scale: ..., ...} (got 5)"),
    ],
)
def test_dataset_definition_mistakes_in_user_words(tmp_path, change, expected):
    message = _definition_error(tmp_path, change)
    assert expected in [line.strip() for line in message.splitlines()], message
    assert "Input should be a valid" not in message and "instance of" not in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"dataset": ["hapt"]},
         "cfg.yaml: dataset: expected a mapping such as {name: ..., path: ..., sensors: ..., "
         "...} (got ['hapt'])"),
        ({"seed": "a"}, "cfg.yaml: seed: expected an integer (got 'a')"),
        ({"model": {"max_dept": 3}},
         "cfg.yaml: model.max_dept: unknown key; allowed keys: kind, preset, params, "),
        ({"dataset": {"checks": {"unitz": False}}},
         "cfg.yaml: dataset.checks.unitz: unknown key; allowed keys: sampling_rate, "),
        ({"model": {"kind": "svm"}},
         "cfg.yaml: model.kind: must be one of: random_forest, extra_trees, cnn1d, lstm, bilstm, "
         "gru or tcn (got 'svm')"),
        ({"windows": {"unit": "minutes"}},
         "cfg.yaml: windows.unit: must be one of: s or samples (got 'minutes')"),
    ],
)
def test_training_configuration_mistakes_in_the_same_words(data, expected):
    with pytest.raises(ConfigError) as err:
        make_config(data, source="cfg.yaml")
    assert any(line.startswith(expected) for line in str(err.value).splitlines()), str(err.value)


def test_network_parameters_use_the_same_formatter():
    with pytest.raises(ConfigError) as err:
        make_config({"model": {"kind": "cnn1d", "params": {"hidden_units": [8, "wide"],
                                                           "epochz": 3}}})
    lines = str(err.value).splitlines()
    assert any(line.startswith("config: model.params.hidden_units[1]: expected an integer "
                               "(got 'wide')") for line in lines), lines
    assert any("model.params.epochz: not a network parameter; valid: " in line
               for line in lines), lines


def test_a_scaffolded_definition_reports_problems_by_key(tmp_path):
    from tinyhar.datasets.scaffold import scaffold_definition

    rows = "".join(f"{i / 50:.2f},{np.sin(i / 5):.4f}\n" for i in range(200))
    (tmp_path / "rec.csv").write_text("t,x\n" + rows)  # no accelerometer columns
    problems = scaffold_definition(tmp_path, tmp_path / "d.yaml").problems
    # one problem for the missing sensor, naming its keys (not one per axis)
    acc = [p for p in problems if "acc_" in p]
    assert acc == ["no accelerometer columns found among ['t', 'x']; "
                   "set columns.acc_x, acc_y, acc_z"]


def test_every_line_of_a_multi_key_error_is_one_problem():
    text = textwrap.dedent("""\
        {"seed": -1, "model": {"kind": "svm"}, "windows": {"purity": 2}}""")
    import json

    with pytest.raises(ConfigError) as err:
        make_config(json.loads(text), source="c.yaml")
    lines = str(err.value).splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["seed", "windows.purity",
                                                              "model.kind"]
