"""Find the micropython-lib packages the board app's outputs use, and stage them for deploy.

Two outputs of the board app (``outputs.py``) import a package of
micropython-lib (https://github.com/micropython/micropython-lib, MIT
licence): ``mqtt`` needs ``umqtt.simple`` (:data:`UMQTT`), ``ble`` needs
``aioble`` (:data:`AIOBLE`). tinyhar does not ship their code: each is found
on this machine and ``tinyhar deploy --outputs ...`` copies its files
unchanged to the board, with a ``NOTICE.txt`` naming its source and licence.
They are staged for that copy only, never put into a run's exported bundle,
which holds only tinyhar's own code (``check_bundle_code``).

A package is looked up, in order, in

1. its environment variable (``$TINYHAR_UMQTT``, ``$TINYHAR_AIOBLE``): a
   module file of the package, the package folder, or a folder holding the
   package folder (a ``lib`` folder);
2. ``~/.micropython/lib/<package>/``, where the unix port's
   ``micropython -m mip install <name>`` puts it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from tinyhar.errors import TinyharError

__all__ = ["AIOBLE", "UMQTT", "MicroPythonLib", "add_lib", "find_lib"]


@dataclass(frozen=True)
class MicroPythonLib:
    """A micropython-lib package the board app imports.

    Attributes
    ----------
    name : str
        What the output needs, for messages (``"umqtt.simple"``).
    output : str
        The output that needs it, for messages (``"MQTT"``).
    package : str
        Package folder (``"umqtt"``, ``"aioble"``).
    modules : tuple of str
        Module files copied to the board, without suffix; all must be found.
    suffixes : tuple of str
        Accepted module suffixes, in order of preference (``.mpy``: compiled by
        ``mip``; its bytecode runs on every port with the same ``.mpy`` version).
    env : str
        Environment variable naming where it is.
    board_dir : str
        Folder on the board the package folder goes into (``""``: the root,
        ``"lib"``: ``/lib``, on every port's ``sys.path``).
    install_hint : str
        How to get it onto this machine.
    notice : str
        ``NOTICE.txt`` written next to the copy; ``{source}`` is replaced by
        the folder it was copied from.
    """

    name: str
    output: str
    package: str
    modules: tuple[str, ...]
    suffixes: tuple[str, ...]
    env: str
    board_dir: str
    install_hint: str
    notice: str


UMQTT = MicroPythonLib(
    name="umqtt.simple",
    output="MQTT",
    package="umqtt",
    modules=("simple",),
    suffixes=(".py",),
    env="TINYHAR_UMQTT",
    board_dir="",
    install_hint=(
        "`micropython -m mip install umqtt.simple` (puts it in ~/.micropython/lib), or download "
        "micropython-umqtt.simple from PyPI and set TINYHAR_UMQTT to its umqtt/simple.py"),
    notice=(
        "umqtt/simple.py is umqtt.simple from micropython-lib\n"
        "(https://github.com/micropython/micropython-lib, PyPI: micropython-umqtt.simple),\n"
        "MIT License; copied unchanged from {source}.\n"),
)
"""umqtt.simple, the MQTT client of the ``mqtt`` output (PyPI: micropython-umqtt.simple)."""

AIOBLE = MicroPythonLib(
    name="aioble",
    output="BLE",
    package="aioble",
    modules=("__init__", "core", "device", "peripheral"),
    suffixes=(".py", ".mpy"),
    env="TINYHAR_AIOBLE",
    board_dir="lib",
    install_hint=(
        "`micropython -m mip install aioble-peripheral` (puts it in ~/.micropython/lib/aioble), "
        "or set TINYHAR_AIOBLE to a folder holding micropython-lib's aioble/ (__init__.py, "
        "core.py, device.py, peripheral.py); aioble is not on PyPI"),
    notice=(
        "This folder is aioble (packages aioble-core and aioble-peripheral) from\n"
        "micropython-lib (https://github.com/micropython/micropython-lib,\n"
        "micropython/bluetooth/aioble), MIT License, Copyright (c) 2021 Jim Mussared;\n"
        "copied unchanged from {source}.\n"),
)
"""aioble (core and peripheral), the asyncio BLE library of the ``ble`` output.

Not on PyPI: micropython-lib publishes it only in MicroPython's own package
index, which ``mip`` (on a board, in the unix port, or ``mpremote mip``) reads.
"""


def _module(folder: Path, lib: MicroPythonLib, module: str) -> Path | None:
    for suffix in lib.suffixes:
        if (folder / (module + suffix)).is_file():
            return folder / (module + suffix)
    return None


def _complete(folder: Path, lib: MicroPythonLib) -> bool:
    return folder.is_dir() and all(_module(folder, lib, m) for m in lib.modules)


def find_lib(lib: MicroPythonLib) -> Path | None:
    """The package folder of ``lib`` on this machine, or None (see the module docstring).

    Parameters
    ----------
    lib : MicroPythonLib
        :data:`UMQTT` or :data:`AIOBLE`.

    Returns
    -------
    Path or None
        A folder holding every module of ``lib.modules``.
    """
    cands = []
    env = os.environ.get(lib.env)
    if env:
        p = Path(env).expanduser()
        cands += [p.parent if p.is_file() else p, p / lib.package]
    try:
        cands.append(Path.home() / ".micropython" / "lib" / lib.package)
    except RuntimeError:  # no HOME and a user id without a password-file entry (containers)
        pass
    for cand in cands:
        if _complete(cand, lib):
            return cand
    return None


def add_lib(lib: MicroPythonLib, folder: str | Path, required: bool = True) -> Path | None:
    """Copy the modules of ``lib`` (and a licence notice) into a staging folder.

    Writes ``folder/<board_dir>/<package>/``: the modules unchanged, an empty
    ``__init__.py`` when the package has none, and ``NOTICE.txt``.

    Parameters
    ----------
    lib : MicroPythonLib
        :data:`UMQTT` or :data:`AIOBLE`.
    folder : str or Path
        Staging folder, copied to the board's root.
    required : bool, default True
        Raise when the package is not found (else return None).

    Returns
    -------
    Path or None
        The copied package folder.

    Raises
    ------
    TinyharError
        ``required`` and the package not found (the message says how to get it).
    """
    src = find_lib(lib)
    if src is None:
        if required:
            raise TinyharError(
                f"the {lib.output} output needs {lib.name}; get it with {lib.install_hint}")
        return None
    dest = Path(folder) / lib.board_dir / lib.package
    dest.mkdir(parents=True, exist_ok=True)
    for module in lib.modules:
        path = _module(src, lib, module)
        shutil.copyfile(path, dest / path.name)
    if "__init__" not in lib.modules:
        (dest / "__init__.py").write_text("", encoding="utf-8")
    (dest / "NOTICE.txt").write_text(lib.notice.format(source=src), encoding="utf-8")
    return dest
