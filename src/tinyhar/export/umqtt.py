"""Find ``umqtt.simple`` (micropython-lib) for MicroPython bundles that publish over MQTT.

The board app's MQTT output (``outputs.py``) uses ``umqtt.simple``, the MQTT
client of micropython-lib (MIT licence). tinyhar does not ship its code: the
file is found on this machine and ``tinyhar deploy --outputs ...,mqtt`` copies
it to the board as ``umqtt/simple.py`` with a notice naming its source and
licence (it is staged for the copy, never put into a run's exported bundle,
which holds only tinyhar's own code: ``check_bundle_code``). Looked up, in
order:

1. ``$TINYHAR_UMQTT``: the path of ``simple.py`` or of a folder holding
   ``umqtt/simple.py``;
2. ``~/.micropython/lib/umqtt/simple.py``, where the unix port's
   ``micropython -m mip install umqtt.simple`` puts it.

On a board, ``mpremote mip install umqtt.simple`` installs the same module
into ``/lib`` instead. The search and the copy are :mod:`tinyhar.export.mplib`'s
(:data:`~tinyhar.export.mplib.UMQTT`).
"""

from __future__ import annotations

from pathlib import Path

from tinyhar.export.mplib import UMQTT, add_lib, find_lib

__all__ = ["UMQTT_INSTALL_HINT", "add_umqtt", "find_umqtt"]

UMQTT_INSTALL_HINT = UMQTT.install_hint
"""How to get umqtt.simple onto this machine."""


def find_umqtt() -> Path | None:
    """Path of ``umqtt/simple.py`` on this machine, or None (see the module docstring)."""
    folder = find_lib(UMQTT)
    return None if folder is None else folder / "simple.py"


def add_umqtt(folder: str | Path, required: bool = True) -> Path | None:
    """Copy ``umqtt/simple.py`` (and a licence notice) into a bundle folder.

    Parameters
    ----------
    folder : str or Path
        Bundle or staging folder; ``folder/umqtt/`` is written.
    required : bool, default True
        Raise when umqtt.simple is not found (else return None).

    Returns
    -------
    Path or None
        The copied ``umqtt/simple.py``.

    Raises
    ------
    TinyharError
        ``required`` and umqtt.simple not found (the message says how to get it).
    """
    dest = add_lib(UMQTT, folder, required)
    return None if dest is None else dest / "simple.py"
