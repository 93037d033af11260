"""Find ``aioble`` (micropython-lib) for the board app's BLE output.

The board app's BLE output (``outputs.BleOutput``) advertises every
prediction with ``aioble``, micropython-lib's asyncio BLE library (MIT
licence; its core and peripheral parts: ``aioble/__init__.py``, ``core.py``,
``device.py``, ``peripheral.py``). tinyhar does not ship its code, and
micropython-lib does not publish aioble on PyPI (only in MicroPython's own
package index, read by ``mip``). ``tinyhar deploy --outputs ...,ble`` copies
it to the board's ``/lib/aioble/`` with a notice naming its source and
licence when it is found on this machine; otherwise deploy installs it on
the board with ``mpremote mip install aioble-peripheral``. It is never put
into a run's exported bundle (``check_bundle_code``). Looked up, in order:

1. ``$TINYHAR_AIOBLE``: the ``aioble`` folder, one of its files, or a folder
   holding ``aioble/``;
2. ``~/.micropython/lib/aioble/``, where the unix port's
   ``micropython -m mip install aioble-peripheral`` puts it.

The search and the copy are :mod:`tinyhar.export.mplib`'s
(:data:`~tinyhar.export.mplib.AIOBLE`).
"""

from __future__ import annotations

from pathlib import Path

from tinyhar.export.mplib import AIOBLE, add_lib, find_lib

__all__ = ["AIOBLE_INSTALL_HINT", "AIOBLE_MIP_PACKAGE", "add_aioble", "find_aioble"]

AIOBLE_INSTALL_HINT = AIOBLE.install_hint
"""How to get aioble onto this machine."""

AIOBLE_MIP_PACKAGE = "aioble-peripheral"
"""micropython-lib package with the parts the BLE output uses (it requires aioble-core)."""


def find_aioble() -> Path | None:
    """The ``aioble`` package folder on this machine, or None (see the module docstring)."""
    return find_lib(AIOBLE)


def add_aioble(folder: str | Path, required: bool = True) -> Path | None:
    """Copy ``aioble`` (and a licence notice) into a staging folder, as ``lib/aioble/``.

    Parameters
    ----------
    folder : str or Path
        Staging folder copied to the board's root; ``folder/lib/aioble/`` is written.
    required : bool, default True
        Raise when aioble is not found (else return None).

    Returns
    -------
    Path or None
        The copied ``lib/aioble`` folder.

    Raises
    ------
    TinyharError
        ``required`` and aioble not found (the message says how to get it).
    """
    return add_lib(AIOBLE, folder, required)
