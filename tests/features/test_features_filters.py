"""Gravity filter: Butterworth SOS, steady-state start, exact constants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from tinyhar.errors import ConfigError
from tinyhar.features import gravity_sos, lowpass_from_first_sample, split_gravity

FS = 50.0


def test_sos_shape_dtype_and_unit_dc_gain() -> None:
    for fs in (20.0, 50.0, 100.0, 200.0):
        sos = gravity_sos(fs, 0.3, 3)
        assert sos.shape == (2, 6) and sos.dtype == np.float32
        s64 = sos.astype(np.float64)
        gain = np.prod(s64[:, :3].sum(1) / s64[:, 3:].sum(1))
        assert gain == pytest.approx(1.0, abs=1e-6)
        # -3 dB at the cut-off, like scipy's design
        _, h = signal.sosfreqz(s64, worN=[0.3], fs=fs)
        assert abs(h[0]) == pytest.approx(np.sqrt(0.5), rel=2e-3)


def test_constant_window_gives_gravity_equal_to_signal_exactly() -> None:
    x = np.full((4, 128, 3), 0.0, dtype=np.float32)
    x[..., :] = np.array([0.123, -0.456, 0.987654], dtype=np.float32)
    grav, body = split_gravity(x, FS)
    assert grav.dtype == np.float32 and body.dtype == np.float32
    np.testing.assert_array_equal(grav, x)
    np.testing.assert_array_equal(body, np.zeros_like(x))


def test_equals_sosfilt_with_steady_state_initial_conditions() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(128) / FS
    x = (1.0 + 0.4 * np.sin(2 * np.pi * 1.8 * t)[None] + 0.05 * rng.normal(size=(5, 128)))
    sos64 = signal.butter(3, 0.3, fs=FS, output="sos")
    zi = signal.sosfilt_zi(sos64)[:, None, :] * x[:, 0][None, :, None]  # (sections, 5, 2)
    ref, _ = signal.sosfilt(sos64, x, axis=-1, zi=zi)
    got = lowpass_from_first_sample(x.astype(np.float32), gravity_sos(FS), axis=-1)
    np.testing.assert_allclose(got, ref, atol=5e-5)


def test_low_pass_removes_gait_frequencies() -> None:
    t = np.arange(128) / FS
    # starts at its mean, so the steady state of x[0] is the true gravity
    x = (1.0 + 0.3 * np.sin(2 * np.pi * 5.0 * t)).astype(np.float32)[None]
    grav, body = split_gravity(x, FS, axis=-1)
    assert np.abs(grav - 1.0).max() < 0.01
    np.testing.assert_allclose(body, x - 1.0, atol=0.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sampling_rate_hz": 0.5}, "Nyquist"),
        ({"sampling_rate_hz": -1}, "positive"),
        ({"sampling_rate_hz": 50, "cutoff_hz": 30}, "Nyquist"),
        ({"sampling_rate_hz": 50, "order": 0}, "gravity_order"),
        ({"sampling_rate_hz": 50, "order": 2.5}, "gravity_order"),
        ({"sampling_rate_hz": "fast"}, "number"),
    ],
)
def test_invalid_filter_settings_raise_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        gravity_sos(**kwargs)
