"""Decode the BLE advertisements of the board app's BLE output (``outputs.BleOutput``).

Byte layout of the manufacturer-specific AD structure (little-endian), as
``outputs.ble_manufacturer_data`` writes it on the board:

====  =====================================================================
byte  meaning
====  =====================================================================
0     length of the rest of the structure (9)
1     AD type ``0xFF`` (manufacturer specific data)
2-3   company id ``0xFFFF`` (not assigned by the Bluetooth SIG; for tests
      and prototypes)
4     magic ``0x54`` ("T")
5     layout version (1)
6     class index in the bundle's ``CLASSES`` (255: invalid window)
7     confidence, ``round(confidence * 255)``: 0..255 for 0..1
8-9   sequence number, counting predictions modulo 65536
====  =====================================================================

The board builds the advertisement with micropython-lib's ``aioble``
(``aioble.advertise(..., name=..., manufacturer=(0xFFFF, bytes 4-9),
connectable=False)``): the flags (``02 01 06``), the complete local name
(``thar-<last 4 hex digits of the board id>`` or ``[ble] name``, cut to 15
bytes so that aioble keeps everything in the advertising packet rather than
the scan response), then this structure; 30 bytes at most (Bluetooth Core
Specification, Vol 3, Part C, 11: AD structures).
A scanner such as ``bleak`` hands over the manufacturer data as
``{0xFFFF: bytes 4-9}``: pass those bytes to :func:`decode_manufacturer_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyhar.errors import TinyharError

__all__ = [
    "COMPANY_ID",
    "BleDecodeError",
    "BlePrediction",
    "decode",
    "decode_manufacturer_data",
]

COMPANY_ID = 0xFFFF
"""Company id of the manufacturer data."""

MAGIC = 0x54
VERSION = 1
INVALID_INDEX = 255


class BleDecodeError(TinyharError, ValueError):
    """Bytes that are not a tinyhar advertisement (or are cut short)."""


@dataclass(frozen=True)
class BlePrediction:
    """One decoded advertisement.

    Attributes
    ----------
    class_index : int or None
        Index in the bundle's classes; None for an invalid window.
    confidence : float
        0..1, in steps of 1/255.
    seq : int
        Sequence number (0..65535, wraps).
    name : str or None
        Complete or shortened local name, when the advertisement has one.
    """

    class_index: int | None
    confidence: float
    seq: int
    name: str | None = None

    @property
    def invalid(self) -> bool:
        """True for an invalid window (sensor fault)."""
        return self.class_index is None

    def activity(self, classes: list[str] | tuple[str, ...]) -> str:
        """The class name (``"invalid"`` for an invalid window).

        Raises
        ------
        BleDecodeError
            class_index beyond ``classes`` (another model on the board).
        """
        if self.class_index is None:
            from tinyhar.features.validity import INVALID_CLASS

            return INVALID_CLASS
        if self.class_index >= len(classes):
            raise BleDecodeError(f"class index {self.class_index} but the model has "
                                 f"{len(classes)} classes: is another model on the board?")
        return classes[self.class_index]


def decode_manufacturer_data(payload: bytes, name: str | None = None) -> BlePrediction:
    """Decode the 6 bytes after the company id (magic, version, class, confidence, seq).

    Raises
    ------
    BleDecodeError
        Wrong length, magic or version.
    """
    payload = bytes(payload)
    if len(payload) != 6:
        raise BleDecodeError(f"tinyhar manufacturer data has 6 bytes, not {len(payload)}")
    if payload[0] != MAGIC:
        raise BleDecodeError(f"magic byte 0x{payload[0]:02x} is not 0x{MAGIC:02x}")
    if payload[1] != VERSION:
        raise BleDecodeError(f"layout version {payload[1]} is not supported (only {VERSION})")
    index = None if payload[2] == INVALID_INDEX else int(payload[2])
    return BlePrediction(index, payload[3] / 255.0, payload[4] | payload[5] << 8, name)


def decode(data: bytes) -> BlePrediction:
    """Decode a whole advertisement (a sequence of AD structures).

    Parameters
    ----------
    data : bytes
        Advertising data (at most 31 bytes for legacy advertising).

    Returns
    -------
    BlePrediction

    Raises
    ------
    BleDecodeError
        A truncated AD structure, or no manufacturer data with company id
        0xFFFF and the tinyhar magic.
    """
    data = bytes(data)
    name = None
    found = None
    i = 0
    while i < len(data):
        length = data[i]
        if length == 0:  # padding
            break
        if i + 1 + length > len(data):
            raise BleDecodeError(f"AD structure at byte {i} is truncated "
                                 f"(length {length}, {len(data) - i - 1} bytes left)")
        kind, body = data[i + 1], data[i + 2:i + 1 + length]
        if kind in (0x08, 0x09):
            name = body.decode("utf-8", "replace")
        elif kind == 0xFF and len(body) >= 3 and body[0] | body[1] << 8 == COMPANY_ID \
                and body[2] == MAGIC:
            found = body[2:]
        i += 1 + length
    if found is None:
        raise BleDecodeError("no tinyhar manufacturer data (company id 0xFFFF, magic 0x54)")
    return decode_manufacturer_data(found, name)
