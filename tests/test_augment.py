"""Rotation augmentation: known rotations, seeds, and the training hook."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.augment import rotation_copies
from tinyhar.config import make_config
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError
from tinyhar.evaluation.perturb import rotate, rotation_matrices

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def _windows(n: int = 4) -> WindowSet:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 16, 6)).astype(np.float32)
    X[:, :, 0] += 1.0  # gravity along x
    return WindowSet(X, np.array(["a", "b"] * (n // 2), dtype=object),
                     np.array(["1"] * n, dtype=object), np.array(["s"] * n, dtype=object),
                     np.arange(n) * 0.32, CHANNELS, 50.0, ["a", "b"], "synthetic")


def test_rotation_by_90_degrees_about_z_maps_x_to_y():
    X = np.zeros((1, 3, 6), dtype=np.float32)
    X[0, :, 0] = 1.0  # acc along +x
    X[0, :, 4] = 2.0  # gyro along +y
    out = rotate(X, CHANNELS, rotation_matrices(90, "z"))
    # (x, y, z) -> (-y, x, z): +x becomes +y, +y becomes -x
    np.testing.assert_allclose(out[0, :, 0:3], [[0, 1, 0]] * 3, atol=1e-6)
    np.testing.assert_allclose(out[0, :, 3:6], [[-2, 0, 0]] * 3, atol=1e-6)


def test_copies_use_the_seeded_rotations_of_core():
    """Copy k of window i is turned by rotation k * n + i of random_rotations(seed)."""
    from scipy.spatial.transform import Rotation

    from tinyhar.core.rotations import random_rotations

    w = _windows()
    for max_deg, method in ((45.0, "axis-angle"), (180.0, "uniform")):
        c = rotation_copies(w, 2, max_deg, seed=3)
        mats = random_rotations(2 * len(w), np.random.default_rng(3), max_deg, method=method)
        X = np.concatenate([w.X] * 2)
        np.testing.assert_array_equal(c.X, rotate(X, CHANNELS, mats))
    # the draws tree augmentation always made: 180 degrees is scipy's Rotation.random on
    # default_rng(seed); 45 degrees the rotation vectors of an axis-angle draw
    c = rotation_copies(w, 1, 180.0, seed=3)
    old = Rotation.random(len(w), random_state=np.random.default_rng(3)).as_matrix()
    np.testing.assert_array_equal(c.X, rotate(w.X, CHANNELS, old))
    rng = np.random.default_rng(3)
    axis = rng.normal(size=(len(w), 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.deg2rad(rng.uniform(-45.0, 45.0, size=len(w)))
    old = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()
    np.testing.assert_allclose(rotation_copies(w, 1, 45.0, seed=3).X, rotate(w.X, CHANNELS, old),
                               rtol=1e-6, atol=1e-6)
    for bad in (0.0, 200.0):
        with pytest.raises(ConfigError, match="augment.max_deg"):
            rotation_copies(w, 1, bad, seed=0)


def test_rotation_copies_keep_labels_and_magnitudes_and_are_reproducible():
    w = _windows()
    c = rotation_copies(w, 2, 30.0, seed=0)
    assert len(c) == 2 * len(w)
    assert list(c.y) == list(w.y) * 2
    assert set(c.session) == {"s~rot0", "s~rot1"}
    for s in (slice(0, 3), slice(3, 6)):  # a rotation keeps every sample vector's length
        np.testing.assert_allclose(np.linalg.norm(c.X[:, :, s], axis=2),
                                   np.tile(np.linalg.norm(w.X[:, :, s], axis=2), (2, 1)),
                                   rtol=1e-5)
    np.testing.assert_array_equal(c.X, rotation_copies(w, 2, 30.0, seed=0).X)
    assert not np.allclose(c.X, rotation_copies(w, 2, 30.0, seed=1).X)


def test_augment_config_is_checked():
    cfg = make_config({"augment": {"rotation": "random", "max_deg": 90, "copies": 3}})
    assert cfg.augment.max_deg == 90 and cfg.augment.copies == 3
    with pytest.raises(ConfigError, match="augment.max_deg"):
        make_config({"augment": {"max_deg": 270}})
    with pytest.raises(ConfigError, match="augment.rotation"):
        make_config({"augment": {"rotation": "random"}, "model": {"kind": "cnn1d"}})
