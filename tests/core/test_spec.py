"""WindowSpec: one frozen description of a model input window, and its stream hop rule."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from tinyhar.core.spec import WindowSpec, default_streaming_hop
from tinyhar.errors import DataFormatError


def test_units_follow_the_channel_names():
    spec = WindowSpec.of(["acc_x", "acc_y", "acc_z", "gyro_x", "custom"], 50, 128, 64)
    assert spec.units == ("g", "g", "g", "rad/s", "1")
    assert spec.shape == (128, 5) and spec.n_channels == 5
    assert spec.window_s == pytest.approx(2.56) and spec.hop_s == pytest.approx(1.28)


@pytest.mark.parametrize(("n", "hop", "stream"), [(128, 64, 64), (128, 128, 128), (128, None, 64),
                                                  (1, None, 1), (3, None, 1), (129, None, 64)])
def test_one_streaming_hop_rule(n, hop, stream):
    """The training hop when known, else half a window (50 % overlap), at least 1."""
    spec = WindowSpec.of(["acc_x"], 50.0, n, hop)
    assert spec.streaming_hop == stream == default_streaming_hop(n, hop)


def test_the_spec_is_frozen_and_hashable():
    spec = WindowSpec.of(["acc_x"], 50.0, 128, 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n_samples = 64  # type: ignore[misc]
    assert {spec: 1}[WindowSpec(("acc_x",), ("g",), 50, 128, 64)] == 1
    assert isinstance(spec.sampling_rate_hz, float) and isinstance(spec.n_samples, int)


def test_json_round_trip():
    spec = WindowSpec.of(["acc_x", "gyro_z"], 20.0, 40, None)
    data = json.loads(json.dumps(spec.to_dict()))
    assert data == {"channels": ["acc_x", "gyro_z"], "units": ["g", "rad/s"],
                    "sampling_rate_hz": 20.0, "n_samples": 40, "hop_samples": None,
                    "streaming_hop": 20}
    assert WindowSpec.from_dict(data) == spec
    assert "40 samples (2 s) at 20 Hz" in spec.describe()


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"channels": ()}, "no channels"),
        ({"units": ("g", "g")}, "2 units for 1 channels"),
        ({"sampling_rate_hz": 0}, "not a positive number"),
        ({"sampling_rate_hz": float("nan")}, "not a positive number"),
        ({"sampling_rate_hz": "fast"}, "not a positive number"),
        ({"n_samples": 0}, "n_samples 0"),
        ({"n_samples": 12.5}, "n_samples 12.5"),
        ({"n_samples": True}, "n_samples True"),
        ({"hop_samples": 0}, "hop_samples 0"),
    ],
)
def test_bad_fields_are_refused(fields, match):
    base = {"channels": ("acc_x",), "units": ("g",), "sampling_rate_hz": 50.0, "n_samples": 128,
            "hop_samples": 64}
    with pytest.raises(DataFormatError, match=match):
        WindowSpec(**(base | fields))


def test_from_dict_names_the_source_and_checks_the_derived_hop():
    good = WindowSpec.of(["acc_x"], 50.0, 128, None).to_dict()
    with pytest.raises(DataFormatError, match=r"^f.json: the window spec lacks \['units'\]"):
        WindowSpec.from_dict({k: v for k, v in good.items() if k != "units"}, "f.json")
    with pytest.raises(DataFormatError, match="streaming_hop 128 differs from 64"):
        WindowSpec.from_dict(good | {"streaming_hop": 128})
    with pytest.raises(DataFormatError, match="f.json: n_samples -1"):
        WindowSpec.from_dict(good | {"n_samples": -1}, "f.json")
    with pytest.raises(DataFormatError, match="not a mapping"):
        WindowSpec.from_dict([1, 2])  # type: ignore[arg-type]


def test_numpy_integers_are_plain_ints():
    spec = WindowSpec.of(["acc_x"], np.float32(50), np.int64(128), np.int32(64))
    assert type(spec.n_samples) is int and type(spec.hop_samples) is int
    json.dumps(spec.to_dict())
