"""Random 3-D rotations of sensor triads: the one implementation every layer uses.

Three callers draw random rotations: network training augmentation
(:func:`tinyhar.models.nn.augment.augment_windows`), tree training
augmentation (:func:`tinyhar.augment.rotation_copies`) and the robustness
perturbations (:func:`tinyhar.evaluation.perturb.rotation_matrices`). They
all call :func:`random_rotations`, which offers the two distributions they
need; they are different distributions, not two codings of one:

``"axis-angle"``
    A bounded rotation: an axis uniform on the unit sphere (a normalised
    standard-normal 3-vector, Muller 1959) and an angle uniform in
    ``[-max_degrees, max_degrees]``, turned into a matrix by Rodrigues'
    formula ``R = I + sin(a) K + (1 - cos(a)) K^2`` (``K`` the cross-product
    matrix of the unit axis). The right model of a sensor mounted a little
    differently (up to ``max_degrees``). At ``max_degrees = 180`` it is *not*
    uniform over rotations: small angles are over-represented.
``"uniform"``
    Uniformly distributed rotations (the Haar measure on SO(3)): unit
    quaternions from Shoemake's method (Shoemake 1992, "Uniform random
    rotations", Graphics Gems III), as implemented by
    :meth:`scipy.spatial.transform.Rotation.random`. The right model of a
    sensor that may sit any way round; no angle bound.

Convention (as :func:`tinyhar.evaluation.perturb.rotate`): a matrix ``R``
turns every sample vector ``v`` of a triad into ``R @ v``; angles are
right-handed (90 degrees about z maps ``(x, y, z)`` to ``(-y, x, z)``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["ROTATION_METHODS", "random_rotations"]

ROTATION_METHODS = ("axis-angle", "uniform")
"""The distributions of :func:`random_rotations` (module docstring)."""


def random_rotations(
    n: int,
    rng: np.random.Generator | np.random.RandomState,
    max_degrees: float = 180.0,
    *,
    method: Literal["axis-angle", "uniform"] = "axis-angle",
) -> np.ndarray:
    """Seeded random 3-D rotation matrices.

    Parameters
    ----------
    n : int >= 0
        Number of matrices.
    rng : numpy.random.Generator or numpy.random.RandomState
        Source of the draws; the same generator state gives the same
        matrices. ``"axis-angle"`` draws ``n x 3`` standard normals (the
        axes) and then ``n`` uniforms (the angles); ``"uniform"`` draws what
        :meth:`scipy.spatial.transform.Rotation.random` draws (a legacy
        ``RandomState(seed)`` gives exactly ``Rotation.random(n,
        random_state=seed)``).
    max_degrees : float in (0, 180], default 180
        Largest angle in degrees (``"axis-angle"``). ``"uniform"`` has no
        bound and needs 180.
    method : {"axis-angle", "uniform"}, default "axis-angle"
        The distribution (module docstring).

    Returns
    -------
    numpy.ndarray of float64, shape (n, 3, 3)
        Rotation matrices (orthonormal, determinant +1).

    Raises
    ------
    ValueError
        An unknown ``method``, ``max_degrees`` outside (0, 180], ``"uniform"``
        with ``max_degrees`` below 180, or a negative ``n``. Callers that take
        these from a configuration check them first, with the key's name.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"the number of rotations must be >= 0, got {n}")
    if method not in ROTATION_METHODS:
        raise ValueError(f"unknown rotation method {method!r}: use one of {ROTATION_METHODS}")
    if not 0 < float(max_degrees) <= 180:
        raise ValueError(f"the largest rotation angle must be in (0, 180] degrees, "
                         f"got {max_degrees!r}")
    if method == "uniform":
        if float(max_degrees) != 180:
            raise ValueError(f"uniformly distributed rotations have no angle bound: "
                             f"max_degrees must be 180, got {max_degrees!r}")
        from scipy.spatial.transform import Rotation

        return Rotation.random(n, random_state=rng).as_matrix().reshape(n, 3, 3)
    axis = rng.normal(size=(n, 3))
    axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-12)
    angle = np.deg2rad(rng.uniform(-max_degrees, max_degrees, size=n))
    k = np.zeros((n, 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k -= k.transpose(0, 2, 1)
    s, c = np.sin(angle)[:, None, None], np.cos(angle)[:, None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)
