"""FeatureExtractor: known signals with known answers, shapes, dtypes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline

from tinyhar.errors import ConfigError, DataFormatError, TinyharError
from tinyhar.features import FeatureExtractor, extract_features, feature_catalog, split_gravity
from tinyhar.features.tolerances import compare_features

FS = 50.0
N = 128
ACC = ("acc_x", "acc_y", "acc_z")
GYRO = ("gyro_x", "gyro_y", "gyro_z")
T = np.arange(N) / FS


def features(X: np.ndarray, channels=ACC + GYRO, **kw) -> dict[str, np.ndarray]:
    """Feature columns by name."""
    fx = FeatureExtractor(channels=channels, **kw)
    F = fx.fit_transform(X)
    return dict(zip(fx.get_feature_names_out(), F.T, strict=True))


def still(n: int = 2, direction=(0.0, 0.0, 1.0)) -> np.ndarray:
    X = np.zeros((n, N, 6), dtype=np.float32)
    X[:, :, :3] = np.asarray(direction, dtype=np.float32)
    return X


def walking_like(n: int = 48, seed: int = 7) -> np.ndarray:
    """Gravity in a random direction + gait harmonics + noise, 6 channels."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, N, 6), dtype=np.float32)
    for i in range(n):
        g = rng.normal(size=3)
        g /= np.linalg.norm(g)
        f = rng.uniform(1.4, 2.4)
        ph = rng.uniform(0, 2 * np.pi, size=6)
        amp = rng.uniform(0.05, 0.5, size=6)
        for c in range(6):
            X[i, :, c] = ((g[c] if c < 3 else 0.0) + amp[c] * np.sin(2 * np.pi * f * T + ph[c])
                          + 0.3 * amp[c] * np.sin(4 * np.pi * f * T + ph[c])
                          + 0.02 * rng.normal(size=N))
    return X


# --------------------------------------------------------------------------- known answers


def test_still_device_gravity_body_tilt_enmo() -> None:
    f = features(still())
    for name in ("body_mag_mean", "body_mag_max", "body_sma", "body_vert_std", "body_horiz_max",
                 "enmo_mean", "acc_x_std", "gyro_sma", "acc_jerk_mag_max"):
        np.testing.assert_array_equal(f[name], 0.0, err_msg=name)
    np.testing.assert_array_equal(f["grav_x_mean"], 0.0)
    np.testing.assert_array_equal(f["grav_y_mean"], 0.0)
    np.testing.assert_array_equal(f["grav_z_mean"], 1.0)
    np.testing.assert_allclose(f["tilt_z"], 0.0, atol=1e-7)
    np.testing.assert_allclose(f["tilt_x"], np.pi / 2, atol=1e-6)
    np.testing.assert_allclose(f["acc_mag_mean"], 1.0)
    # flat windows: spectral features and correlations are 0
    for name in ("body_mag_dom_freq", "body_vert_spec_entropy", "acc_z_power_1_2hz",
                 "gyro_mag_spec_centroid", "corr_acc_xy", "corr_gyro_yz"):
        np.testing.assert_array_equal(f[name], 0.0, err_msg=name)


def test_enmo_of_still_device_in_any_orientation_is_zero_and_clips_negatives() -> None:
    X = still(3, (0.6, 0.0, 0.8))
    X[1, :, :3] = (1.5, 0.0, 0.0)   # |a| = 1.5 g -> ENMO 0.5 g
    X[2, :, :3] = (0.0, 0.5, 0.0)   # |a| = 0.5 g -> negative, clipped to 0
    np.testing.assert_allclose(features(X)["enmo_mean"], [0.0, 0.5, 0.0], atol=1e-6)


def test_dominant_frequency_of_2hz_sine() -> None:
    X = still(1)
    X[0, :, 3] = np.sin(2 * np.pi * 2.0 * T)               # gyro_x: 2 Hz sine
    X[0, :, 2] = 1.0 + 0.3 * np.sin(2 * np.pi * 2.0 * T)   # vertical 2 Hz oscillation
    f = features(X)
    resolution = FS / N  # 0.39 Hz
    for name in ("gyro_x_dom_freq", "gyro_mag_dom_freq", "body_vert_dom_freq", "acc_z_dom_freq"):
        assert abs(f[name][0] - (4.0 if name == "gyro_mag_dom_freq" else 2.0)) <= resolution / 2, \
            name  # |sin| has its fundamental at twice the frequency
    assert abs(f["gyro_x_spec_centroid"][0] - 2.0) < 0.5


def test_spectral_entropy_pure_tone_low_white_noise_high() -> None:
    X = still(1)
    f0 = 10 * FS / N  # exactly on bin 10 (3.906 Hz)
    X[0, :, 3] = np.sin(2 * np.pi * f0 * T)
    f = features(X)
    assert f["gyro_x_dom_freq"][0] == pytest.approx(f0, abs=1e-5)
    assert f["gyro_x_spec_entropy"][0] < 0.02
    assert f["gyro_x_spec_centroid"][0] == pytest.approx(f0, abs=1e-3)
    noise = np.random.default_rng(0).normal(size=(200, N, 6)).astype(np.float32)
    ent = features(noise)["gyro_y_spec_entropy"]
    assert 0.85 < ent.mean() <= 1.0 and ent.max() <= 1.0


def test_band_powers_sum_to_variance_parseval() -> None:
    X = walking_like(8)
    f = features(X, bands_hz=((0, 2), (2, 25)))
    total = f["gyro_x_power_0_2hz"] + f["gyro_x_power_2_25hz"]
    np.testing.assert_allclose(total, np.var(X[:, :, 3].astype(np.float64), axis=1), rtol=1e-4)


def test_time_statistics_match_numpy() -> None:
    X = walking_like(16)
    f = features(X)
    for c, name in enumerate(ACC + GYRO):
        x = X[:, :, c].astype(np.float64)
        np.testing.assert_allclose(f[f"{name}_mean"], x.mean(1), atol=1e-6)
        np.testing.assert_allclose(f[f"{name}_std"], x.std(1), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(f[f"{name}_rms"], np.sqrt((x ** 2).mean(1)), rtol=1e-5)
        np.testing.assert_allclose(f[f"{name}_min"], x.min(1), rtol=1e-6)
        np.testing.assert_allclose(f[f"{name}_max"], x.max(1), rtol=1e-6)
        p25, p50, p75 = np.percentile(x, [25, 50, 75], axis=1)  # method='linear'
        np.testing.assert_allclose(f[f"{name}_p25"], p25, atol=1e-6)
        np.testing.assert_allclose(f[f"{name}_median"], p50, atol=1e-6)
        np.testing.assert_allclose(f[f"{name}_p75"], p75, atol=1e-6)
        np.testing.assert_allclose(f[f"{name}_iqr"], p75 - p25, atol=2e-6)
    mag = np.linalg.norm(X[:, :, :3].astype(np.float64), axis=2)
    np.testing.assert_allclose(f["acc_mag_median"], np.median(mag, axis=1), atol=1e-6)
    np.testing.assert_allclose(f["enmo_mean"], np.maximum(mag - 1, 0).mean(1), atol=1e-6)


def test_mean_crossing_rate_of_square_wave() -> None:
    X = still(1)
    half = 5  # 5 samples high, 5 low: 5 Hz square wave at 50 Hz
    sq = np.where((np.arange(N) // half) % 2 == 0, 1.0, -1.0)
    X[0, :, 3] = sq
    expected = np.count_nonzero(np.diff(sq >= sq.mean())) * FS / (N - 1)
    assert np.count_nonzero(np.diff(sq >= sq.mean())) == 25
    f = features(X)
    assert f["gyro_x_mcr"][0] == pytest.approx(expected, rel=1e-6)
    # a sine of f Hz crosses its mean about 2f times a second
    X[0, :, 4] = np.sin(2 * np.pi * 3.0 * T + 0.1)
    assert features(X)["gyro_y_mcr"][0] == pytest.approx(6.0, abs=0.5)


def test_signal_magnitude_area() -> None:
    X = still(1)
    X[0, :, 3:] = (1.0, -2.0, 3.0)
    f = features(X)
    assert f["gyro_sma"][0] == pytest.approx(6.0)
    Y = walking_like(4)
    _, body = split_gravity(Y[:, :, :3], FS)
    np.testing.assert_allclose(features(Y)["body_sma"], np.abs(body).sum(2).mean(1), rtol=1e-5)


def test_correlation_identical_opposite_and_flat_axes() -> None:
    X = still(1)
    s = np.sin(2 * np.pi * 1.3 * T)
    X[0, :, 0] = s
    X[0, :, 1] = s
    X[0, :, 2] = -3.0 * s + 1.0
    X[0, :, 3] = s  # gyro_y, gyro_z flat
    f = features(X)
    assert f["corr_acc_xy"][0] == pytest.approx(1.0, abs=1e-6)
    assert f["corr_acc_xz"][0] == pytest.approx(-1.0, abs=1e-6)
    assert f["corr_gyro_xy"][0] == 0.0 and f["corr_gyro_yz"][0] == 0.0


def test_vertical_and_horizontal_body_acceleration() -> None:
    X = still(1)
    X[0, :, 2] = 1.0 + 0.2 * np.sin(2 * np.pi * 5.0 * T)  # vertical (along gravity)
    X[0, :, 0] = 0.1 * np.sin(2 * np.pi * 4.0 * T)        # horizontal
    f = features(X)
    assert f["body_vert_std"][0] == pytest.approx(0.2 / np.sqrt(2), rel=0.03)
    assert f["body_horiz_max"][0] == pytest.approx(0.1, rel=0.05)
    assert f["body_vert_dom_freq"][0] == pytest.approx(5.0, abs=FS / N / 2)
    # rotating the device does not change the orientation-independent features
    theta = 0.7
    R = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]])
    Xr = X.copy()
    Xr[0, :, :3] = X[0, :, :3] @ R.T
    fr = features(Xr)
    for name in ("body_vert_std", "body_horiz_p75", "body_vert_spec_entropy", "body_mag_mean"):
        assert fr[name][0] == pytest.approx(f[name][0], rel=1e-3, abs=1e-5), name


def test_jerk_of_a_ramp() -> None:
    X = still(1)
    X[0, :, 0] = 0.5 * T  # 0.5 g/s
    X[0, :, 3] = -2.0 * T  # -2 rad/s^2
    f = features(X)
    assert f["acc_jerk_mag_mean"][0] == pytest.approx(0.5, rel=1e-3)
    assert f["acc_jerk_mag_std"][0] == pytest.approx(0.0, abs=1e-3)
    assert f["gyro_jerk_mag_max"][0] == pytest.approx(2.0, rel=1e-3)


def test_tilt_angles() -> None:
    f = features(still(1, (1.0, 0.0, 0.0)))
    assert f["tilt_x"][0] == pytest.approx(0.0, abs=1e-6)
    assert f["tilt_y"][0] == pytest.approx(np.pi / 2, abs=1e-6)
    c = np.cos(np.pi / 4)
    f = features(still(1, (c, 0.0, c)))
    assert f["tilt_z"][0] == pytest.approx(np.pi / 4, abs=1e-6)


# --------------------------------------------------------------------------- shapes, sets, API


@pytest.mark.parametrize("feature_set", ["minimal", "light", "default", "full"])
@pytest.mark.parametrize("channels", [ACC, ACC + GYRO, ACC + GYRO + ("body_acc_x", "temp")])
def test_shape_dtype_names_match_catalog(feature_set: str, channels: tuple) -> None:
    X = np.concatenate([walking_like(5), np.zeros((5, N, len(channels) - 6 + 6))], axis=2)
    X = X[:, :, :len(channels)]
    fx = FeatureExtractor(channels=channels, feature_set=feature_set)
    F = fx.fit(X).transform(X)
    names = list(fx.get_feature_names_out())
    assert F.dtype == np.float32 and F.shape == (5, len(names))
    assert np.isfinite(F).all()
    assert names == [i.name for i in feature_catalog(channels, feature_set, FS)]
    assert fx.n_features_out_ == len(names) and fx.n_channels_in_ == len(channels)
    assert fx.n_samples_in_ == N


def test_acc_only_has_no_gyro_features_and_others_get_time_stats_only() -> None:
    X = walking_like(4)
    names = list(FeatureExtractor(channels=ACC).fit(X[:, :, :3]).get_feature_names_out())
    assert not [n for n in names if "gyro" in n]
    assert "body_vert_std" in names and "enmo_mean" in names
    chans = ACC + ("body_acc_x",)
    names = list(FeatureExtractor(channels=chans).get_feature_names_out())
    other = [n for n in names if n.startswith("body_acc_x")]
    assert other == [f"body_acc_x_{s}" for s in
                     ("mean", "std", "min", "max", "median", "p25", "p75", "iqr", "rms", "mcr")]


def test_minimal_set_is_time_domain_only() -> None:
    names = FeatureExtractor(feature_set="minimal").get_feature_names_out()
    assert not [n for n in names if "power" in n or "spec" in n or "grav" in n or "body" in n]


def _assert_within_tolerance(got: np.ndarray, ref: np.ndarray) -> None:
    """Same windows, another batch/dtype/SIMD path: the documented tolerances, not bits."""
    fx = FeatureExtractor()
    names = list(fx.get_feature_names_out())
    cmp = compare_features(ref, got, names, fx.channels, N, FS)
    assert cmp.violations() == []


def test_float64_input_chunking_and_windowset_give_same_result() -> None:
    X = walking_like(20)
    ref = extract_features(X)
    _assert_within_tolerance(extract_features(X.astype(np.float64)), ref)
    _assert_within_tolerance(extract_features(X, chunk_size=7), ref)
    _assert_within_tolerance(np.concatenate([extract_features(x[None]) for x in X]), ref)
    from tinyhar.core.windowset import WindowSet

    # extra channel in a different order: selected by name
    Xw = np.concatenate([X[:, :, 3:], X[:, :, :3], X[:, :, :1]], axis=2)
    ws = WindowSet(Xw, ["a"] * 20, ["s"] * 20, ["e"] * 20, np.zeros(20),
                   list(GYRO + ACC + ("extra",)), FS, ["a"])
    _assert_within_tolerance(FeatureExtractor().fit_transform(ws), ref)


def test_sklearn_pipeline_and_clone() -> None:
    X = walking_like(30)
    y = np.arange(30) % 2
    pipe = make_pipeline(FeatureExtractor(feature_set="minimal"),
                         RandomForestClassifier(n_estimators=3, random_state=0))
    pipe.fit(X, y)
    assert pipe.predict(X).shape == (30,)
    fx = clone(FeatureExtractor(sampling_rate_hz=25.0, channels=ACC, gravity_order=2))
    assert fx.get_params()["gravity_order"] == 2 and fx.channels == ACC


def test_compiled_plan_is_built_once_per_fit_and_parameters() -> None:
    """compiled() (and so transform) reuses the plan fit built; a new fit, new parameters
    (set_params or an attribute) or a new window length build a fresh one; clones start
    without it and pickles keep it."""
    import pickle

    X = walking_like(6)
    fx = FeatureExtractor(feature_set="light").fit(X)
    first = fx.compiled()
    assert fx.compiled() is first and first.n_samples == N
    assert first.layout is fx.layout_ and first.plan is fx.plan_
    np.testing.assert_array_equal(fx.transform(X), first.transform(X))
    assert fx.compiled() is first
    assert fx.fit(X).compiled() is not first  # refit: a fresh plan
    again = fx.compiled()
    assert again == first and fx.compiled() is again
    fx.set_params(feature_set="minimal")
    minimal = fx.compiled()
    assert minimal.layout.feature_set == "minimal" and minimal.layout.names != again.layout.names
    assert fx.compiled() is minimal
    fx.feature_set = "light"  # (an attribute set directly)
    assert fx.compiled() == first and fx.compiled() is not minimal
    fx.fit(X[:, : N // 2])  # another window length
    assert fx.compiled().n_samples == N // 2
    copy = pickle.loads(pickle.dumps(fx))
    assert copy.compiled() is copy.compiled() and copy.compiled() == fx.compiled()
    assert not hasattr(clone(fx), "_compiled")


def test_transform_before_fit_raises_not_fitted_and_empty_batch() -> None:
    from sklearn.exceptions import NotFittedError

    fx = FeatureExtractor()
    with pytest.raises(NotFittedError, match="not fitted"):
        fx.transform(still(2))
    out = fx.fit(still(1)).transform(np.zeros((0, N, 6), np.float32))
    assert out.shape == (0, len(fx.get_feature_names_out())) and out.dtype == np.float32


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((4, N), np.float32), r"shape \(n_windows, n_samples, 6\).*got an array of shape"),
        (np.zeros((4, N, 3), np.float32), r"got shape \(4, 128, 3\) with 3 channels"),
        (np.zeros((4, 6, N), np.float32), r"axes look swapped"),
        (np.zeros((4, 3, 6), np.float32), r"window too short"),
        ([["a"]], r"numeric"),
    ],
)
def test_bad_windows_raise_data_format_error(X: object, match: str) -> None:
    with pytest.raises(DataFormatError, match=match):
        FeatureExtractor().fit(X)


def test_nan_window_is_reported_with_its_index() -> None:
    X = still(5)
    X[3, 10, 1] = np.nan
    with pytest.raises(DataFormatError, match="window index 3; window 3, sample 10, channel "
                       "acc_y is nan"):
        FeatureExtractor().fit(still(1)).transform(X)


def test_out_of_range_value_is_reported_before_it_overflows_a_feature() -> None:
    X = still(4)
    X[1, 0, 4] = 1e30  # finite in float32, but its square is not
    X[2, 7, 0] = -np.inf
    with pytest.raises(DataFormatError, match=r"2 windows .* at window indices 1, 2; window 1, "
                       r"sample 0, channel gyro_y is 1\.00000.*e\+30"):
        FeatureExtractor().fit(still(1)).transform(X)


def test_window_too_short_for_a_band() -> None:
    X = still(2)[:, :16]  # 16 samples: resolution 3.1 Hz, no bin in 0-1 Hz
    with pytest.raises(DataFormatError, match="too short for the spectral band 0-1 Hz"):
        FeatureExtractor().fit(X)
    assert FeatureExtractor(feature_set="minimal").fit_transform(X).shape[0] == 2


def test_window_length_must_match_fit() -> None:
    fx = FeatureExtractor().fit(still(2))
    with pytest.raises(DataFormatError, match="fitted on windows of 128 samples"):
        fx.transform(still(2)[:, :100])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": ("acc_x", "acc_y")}, r"\['acc_z'\] missing"),
        ({"channels": ACC + ("gyro_x",)}, r"gyroscope.*'gyro_y', 'gyro_z'"),
        ({"channels": ("acc_x", "acc_x", "acc_y", "acc_z")}, "duplicate"),
        ({"channels": ACC + ("acc_mag",)}, "reserved"),
        ({"channels": ACC + ("enmo",)}, "clash"),
        ({"channels": "acc_x"}, "sequence"),
        ({"channels": ()}, "empty"),
        ({"feature_set": "huge"}, "feature_set"),
        ({"sampling_rate_hz": 16.0}, r"too low for the spectral band 5-10 Hz.*>= 20 Hz"),
        ({"sampling_rate_hz": 0}, "positive"),
        ({"gravity_cutoff_hz": 40.0}, "Nyquist"),
        ({"gravity_order": 0}, "gravity_order"),
        ({"bands_hz": ((2, 1),)}, "lo < hi"),
    ],
)
def test_bad_configuration_raises_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        FeatureExtractor(**kwargs).get_feature_names_out()


def test_errors_are_tinyhar_errors_not_numpy_tracebacks() -> None:
    with pytest.raises(TinyharError):
        FeatureExtractor(channels=ACC).fit(np.zeros((2, N, 6)))
    with pytest.raises(TinyharError):
        FeatureExtractor(sampling_rate_hz=16.0, feature_set="minimal",
                         gravity_cutoff_hz=9.0).fit(np.zeros((2, N, 6)))


def test_low_rate_with_minimal_set_and_custom_bands() -> None:
    X = still(2)
    assert FeatureExtractor(sampling_rate_hz=16.0, feature_set="minimal").fit_transform(X).shape[0]
    fx = FeatureExtractor(sampling_rate_hz=16.0, bands_hz=((0, 2), (2, 8)))
    assert "body_mag_power_2_8hz" in fx.get_feature_names_out()
    assert np.isfinite(fx.fit_transform(X)).all()
