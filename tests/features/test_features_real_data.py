"""Sanity of the features on real UCI HAR windows (skipped when the data are absent)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyhar.features import FeatureExtractor

UCI_ZIP = "UCI HAR Dataset.zip"


def load_uci_test(root: Path, n_per_class: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """A few UCI HAR test windows per class: total_acc (g) and body_gyro (rad/s)."""
    path = root / UCI_ZIP
    if not path.exists():
        pytest.skip(f"{path} not found")
    base = "UCI HAR Dataset/test/"
    with zipfile.ZipFile(path) as z:
        y = np.loadtxt(io.BytesIO(z.read(base + "y_test.txt")), dtype=int)
        rows = np.concatenate([np.flatnonzero(y == c)[:n_per_class] for c in range(1, 7)])
        chans = []
        for sig in ("total_acc", "body_gyro"):
            for ax in "xyz":
                text = z.read(f"{base}Inertial Signals/{sig}_{ax}_test.txt").decode().splitlines()
                chans.append(np.loadtxt([text[r] for r in rows], dtype=np.float32))
    return np.stack(chans, axis=-1), y[rows]


def test_features_are_physical_on_uci_windows(shared_data_dir: Path) -> None:
    X, y = load_uci_test(shared_data_dir)
    fx = FeatureExtractor()
    F = fx.fit_transform(X)
    assert F.dtype == np.float32 and np.isfinite(F).all()
    f = dict(zip(fx.get_feature_names_out(), F.T, strict=True))
    walking, still, laying, standing = y == 1, y >= 4, y == 6, y == 5
    # gait: dominant vertical frequency is the step rate, 1.4-2.5 Hz
    assert 1.4 <= np.median(f["body_vert_dom_freq"][walking]) <= 2.5
    # movement intensity separates walking from the static postures (ENMO of still
    # windows is not exactly 0: this phone's |a| at rest reads 1.00-1.03 g)
    assert np.median(f["enmo_mean"][still]) < 0.05 < 0.08 < np.median(f["enmo_mean"][walking])
    assert np.median(f["body_mag_std"][walking]) > 10 * np.median(f["body_mag_std"][still])
    # the phone on the waist is upright when standing and horizontal when lying
    assert np.median(f["tilt_x"][standing]) < 0.5 < 1.0 < np.median(f["tilt_x"][laying])
    # the gravity estimate of static windows has unit length
    g = np.sqrt(f["grav_x_mean"] ** 2 + f["grav_y_mean"] ** 2 + f["grav_z_mean"] ** 2)
    np.testing.assert_allclose(g[still], 1.0, atol=0.08)
    # accelerometer-only input works on the same windows
    Fa = FeatureExtractor(channels=("acc_x", "acc_y", "acc_z")).fit_transform(X[:, :, :3])
    assert np.isfinite(Fa).all()
