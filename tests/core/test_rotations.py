"""The one random-rotation implementation: known answers, seeds, distributions, old callers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from tinyhar.core.rotations import random_rotations


class _Fixed:
    """A generator stand-in whose draws are given: axis ``normal`` and angle ``uniform``."""

    def __init__(self, axis, angle_deg):
        self.axis, self.angle_deg = np.asarray(axis, float), np.asarray(angle_deg, float)

    def normal(self, size):
        return self.axis.reshape(size).copy()

    def uniform(self, low, high, size):
        return self.angle_deg.reshape(size).copy()


def _angles_deg(m: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((np.trace(m, axis1=1, axis2=2) - 1) / 2, -1, 1)))


def test_90_degrees_about_z_maps_x_to_y():
    m = random_rotations(1, _Fixed([[0.0, 0.0, 2.0]], [90.0]), 90.0)[0]
    np.testing.assert_allclose(m @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(m @ [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(m @ [0.0, 0.0, 1.0], [0.0, 0.0, 1.0], atol=1e-15)
    # the same as scipy's rotation of 90 degrees about z
    np.testing.assert_allclose(m, Rotation.from_euler("z", 90, degrees=True).as_matrix(),
                               atol=1e-15)


@pytest.mark.parametrize("method", ["axis-angle", "uniform"])
def test_draws_are_proper_rotations_and_reproducible(method):
    a = random_rotations(300, np.random.default_rng(3), 180.0, method=method)
    assert a.shape == (300, 3, 3) and a.dtype == np.float64
    np.testing.assert_allclose(a @ a.transpose(0, 2, 1), np.broadcast_to(np.eye(3), a.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(a), 1.0, atol=1e-12)
    np.testing.assert_array_equal(a, random_rotations(300, np.random.default_rng(3), 180.0,
                                                      method=method))
    assert not np.allclose(a, random_rotations(300, np.random.default_rng(4), 180.0,
                                               method=method))
    assert random_rotations(0, np.random.default_rng(0), method=method).shape == (0, 3, 3)


def test_axis_angle_is_bounded_and_draws_axes_then_angles():
    a = random_rotations(2000, np.random.default_rng(7), 45.0)
    angles = _angles_deg(a)
    assert angles.max() <= 45.0 + 1e-9 and angles.max() > 44.0
    # the draw order the networks' augmentation has always used: 3 normals per matrix
    # (the axis), then one uniform angle each; Rodrigues' formula = scipy's rotation vector
    rng = np.random.default_rng(7)
    axis = rng.normal(size=(2000, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    angle = np.deg2rad(rng.uniform(-45.0, 45.0, size=2000))
    np.testing.assert_allclose(a, Rotation.from_rotvec(axis * angle[:, None]).as_matrix(),
                               atol=1e-14)


def test_uniform_is_haar_and_axis_angle_at_180_is_not():
    # trace = 1 + 2 cos(angle): 0 on average for uniformly distributed rotations
    # (angle density (1 - cos) / pi), 1 for an angle uniform in [0, 180] degrees
    n = 20000  # standard error of the mean trace about 0.007
    u = random_rotations(n, np.random.default_rng(0), method="uniform")
    aa = random_rotations(n, np.random.default_rng(0), 180.0, method="axis-angle")
    assert abs(np.trace(u, axis1=1, axis2=2).mean()) < 0.04
    assert abs(np.trace(aa, axis1=1, axis2=2).mean() - 1.0) < 0.04


def test_uniform_keeps_the_draws_of_scipy():
    np.testing.assert_array_equal(
        random_rotations(50, np.random.RandomState(5), method="uniform"),
        Rotation.random(50, random_state=5).as_matrix())
    np.testing.assert_array_equal(
        random_rotations(50, np.random.default_rng(5), method="uniform"),
        Rotation.random(50, random_state=np.random.default_rng(5)).as_matrix())


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"max_degrees": 0.0}, r"\(0, 180\]"),
    ({"max_degrees": 181.0}, r"\(0, 180\]"),
    ({"max_degrees": 45.0, "method": "uniform"}, "must be 180"),
    ({"method": "euler"}, "unknown rotation method"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        random_rotations(2, np.random.default_rng(0), **kwargs)
