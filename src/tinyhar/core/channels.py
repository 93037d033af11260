"""Channel names, their units and the plausible range of sensor values.

Canonical channels (the names every loader produces and every back-end
reads): ``acc_x``, ``acc_y``, ``acc_z`` in g (standard gravity, 9.80665 m/s^2)
and ``gyro_x``, ``gyro_y``, ``gyro_z`` in rad/s.
"""

from __future__ import annotations

from tinyhar.errors import DataFormatError

ACC_CHANNELS = ("acc_x", "acc_y", "acc_z")
GYRO_CHANNELS = ("gyro_x", "gyro_y", "gyro_z")
ALL_CHANNELS = ACC_CHANNELS + GYRO_CHANNELS
META_COLUMNS = ("time", "label", "subject", "session")
CHANNEL_UNITS = {
    **{c: "g" for c in ACC_CHANNELS},
    **{c: "rad/s" for c in GYRO_CHANNELS},
    **{f"body_acc_{a}": "g" for a in "xyz"},
}

MAX_ABS_SENSOR_VALUE = 1e4
"""Largest plausible magnitude of a sensor value in canonical units (g, rad/s).

Real accelerometers measure up to a few hundred g and gyroscopes up to about
70 rad/s (4000 deg/s); a value beyond 1e4 is a corrupt sample or a unit
error (e.g. raw counts declared as g), and is refused when loading.
"""
MAX_SAMPLING_RATE_HZ = 100_000.0
"""Highest sampling rate accepted (Hz); motion sensors sample at most a few kHz."""

UNKNOWN_UNIT = "1"
"""Unit of a channel tinyhar does not know (dimensionless, as in SI notation)."""


def channel_unit(name: str) -> str:
    """Unit of a channel: ``"g"``, ``"rad/s"``, or :data:`UNKNOWN_UNIT` for other names.

    Parameters
    ----------
    name : str
        Channel name, e.g. ``"acc_x"``.

    Returns
    -------
    str
    """
    return CHANNEL_UNITS.get(name, UNKNOWN_UNIT)


def require_channels(needed: list[str] | tuple[str, ...], have: list[str] | tuple[str, ...],
                     source: str | None) -> None:
    """Check that data holds every channel a model needs.

    Parameters
    ----------
    needed : sequence of str
        The model's channels (e.g. ``acc_x``, in g; ``gyro_x``, in rad/s).
    have : sequence of str
        The data's channels.
    source : str or None
        The file or data set name the error names.

    Raises
    ------
    DataFormatError
        Some of ``needed`` are not in ``have`` (the message lists both).
    """
    missing = [c for c in needed if c not in have]
    if missing:
        raise DataFormatError(
            source,
            f"the model needs channels {list(needed)} but {missing} are missing "
            f"(data has {list(have)})",
        )
