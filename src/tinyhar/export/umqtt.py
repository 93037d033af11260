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
into ``/lib`` instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tinyhar.errors import TinyharError

__all__ = ["UMQTT_INSTALL_HINT", "add_umqtt", "find_umqtt"]

UMQTT_INSTALL_HINT = (
    "`micropython -m mip install umqtt.simple` (puts it in ~/.micropython/lib), or download "
    "micropython-umqtt.simple from PyPI and set TINYHAR_UMQTT to its umqtt/simple.py"
)
"""How to get umqtt.simple onto this machine."""

_NOTICE = (
    "umqtt/simple.py is umqtt.simple from micropython-lib\n"
    "(https://github.com/micropython/micropython-lib, PyPI: micropython-umqtt.simple),\n"
    "MIT License; copied unchanged from {source}.\n"
)


def find_umqtt() -> Path | None:
    """Path of ``umqtt/simple.py`` on this machine, or None (see the module docstring)."""
    env = os.environ.get("TINYHAR_UMQTT")
    cands = []
    if env:
        p = Path(env).expanduser()
        cands += [p, p / "umqtt" / "simple.py", p / "simple.py"]
    cands.append(Path.home() / ".micropython" / "lib" / "umqtt" / "simple.py")
    for cand in cands:
        if cand.is_file() and cand.name == "simple.py":
            return cand
    return None


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
    src = find_umqtt()
    if src is None:
        if required:
            raise TinyharError(
                f"the MQTT output needs umqtt.simple; get it with {UMQTT_INSTALL_HINT}")
        return None
    dest = Path(folder) / "umqtt"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest / "simple.py")
    (dest / "__init__.py").write_text("")
    (dest / "NOTICE.txt").write_text(_NOTICE.format(source=src))
    return dest / "simple.py"
