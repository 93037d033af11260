"""Unit helpers: tinyhar works in g (acceleration) and rad/s (angular rate).

Standard gravity is g0 = 9.80665 m/s^2 (BIPM, CGPM 1901; ISO 80000-3).
"""

from __future__ import annotations

import numpy as np

from tinyhar.errors import ConfigError

STANDARD_GRAVITY = 9.80665
"""Standard gravity in m/s^2 (ISO 80000-3)."""


def ms2_to_g(values: np.ndarray | float) -> np.ndarray:
    """Convert acceleration from m/s^2 to g (any shape): ``values / 9.80665``."""
    return np.asarray(values, dtype=np.float64) / STANDARD_GRAVITY


def g_to_ms2(values: np.ndarray | float) -> np.ndarray:
    """Convert acceleration from g to m/s^2 (any shape): ``values * 9.80665``."""
    return np.asarray(values, dtype=np.float64) * STANDARD_GRAVITY


def dps_to_rads(values: np.ndarray | float) -> np.ndarray:
    """Convert angular rate from degrees/s to rad/s (any shape)."""
    return np.deg2rad(np.asarray(values, dtype=np.float64))


def rads_to_dps(values: np.ndarray | float) -> np.ndarray:
    """Convert angular rate from rad/s to degrees/s (any shape)."""
    return np.rad2deg(np.asarray(values, dtype=np.float64))


def counts_to_physical(
    counts: np.ndarray, full_scale: float, bits: int = 16
) -> np.ndarray:
    """Convert raw signed integer sensor counts to physical units.

    A sensor with a full-scale range of ``+-full_scale`` and ``bits``-bit two's
    complement output gives ``full_scale / 2**(bits-1)`` units per count (e.g.
    an MPU6886 at +-8 g: 8 / 32768 g per count; at +-2000 deg/s:
    2000 / 32768 deg/s per count, then use :func:`dps_to_rads`).

    Parameters
    ----------
    counts : array_like of int, any shape
        Raw readings.
    full_scale : float
        Positive full-scale range in the target unit (g, deg/s, ...).
    bits : int
        Resolution of the sensor output, 8..32.

    Returns
    -------
    numpy.ndarray of float64, same shape as ``counts``

    Raises
    ------
    ConfigError
        If ``full_scale`` is not positive, ``bits`` is out of range, or a count
        lies outside the signed ``bits``-bit range.
    """
    if not full_scale > 0:
        raise ConfigError(f"full_scale must be positive, got {full_scale!r}")
    if not 8 <= int(bits) <= 32:
        raise ConfigError(f"bits must be between 8 and 32, got {bits!r}")
    counts = np.asarray(counts)
    limit = 2 ** (int(bits) - 1)
    if counts.size and (counts.min() < -limit or counts.max() > limit - 1):
        raise ConfigError(
            f"raw counts outside the signed {bits}-bit range [{-limit}, {limit - 1}]: "
            "check the 'bits' setting of the sensor"
        )
    return counts.astype(np.float64) * (float(full_scale) / limit)


UNIT_FACTORS = {
    ("m/s^2", "g"): 1.0 / STANDARD_GRAVITY,
    ("m/s2", "g"): 1.0 / STANDARD_GRAVITY,
    ("g", "g"): 1.0,
    ("mg", "g"): 1e-3,
    ("deg/s", "rad/s"): np.pi / 180.0,
    ("dps", "rad/s"): np.pi / 180.0,
    ("rad/s", "rad/s"): 1.0,
    ("mdps", "rad/s"): np.pi / 180.0 * 1e-3,
}
"""Multiplicative factors from a source unit to tinyhar's unit (g or rad/s)."""


def to_canonical(values: np.ndarray, unit: str, target: str) -> np.ndarray:
    """Convert ``values`` given in ``unit`` to ``target`` (``"g"`` or ``"rad/s"``).

    Raises
    ------
    ConfigError
        If the conversion is unknown; the message lists the allowed units.
    """
    key = (unit.strip(), target)
    if key not in UNIT_FACTORS:
        allowed = sorted(u for (u, t) in UNIT_FACTORS if t == target)
        raise ConfigError(f"unknown unit {unit!r} for {target}; allowed: {allowed}")
    return np.asarray(values, dtype=np.float64) * UNIT_FACTORS[key]
