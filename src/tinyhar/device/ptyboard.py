"""A simulated board: the MicroPython unix port behind a serial-like pseudo-terminal.

mpremote talks to a board over a serial port: it interrupts the running
program (Ctrl-C), enters the *raw REPL* (Ctrl-A), soft-resets (Ctrl-D) and
then sends Python snippets that list, read and write files. The MicroPython
unix port implements the same raw REPL (including raw-paste mode) on its
standard input when that is a terminal, so mpremote's file transfer runs
against a real MicroPython when the unix port sits behind a pseudo-terminal:

    with SimulatedBoard(folder) as board:
        subprocess.run(["mpremote", "connect", board.port, "fs", "ls"])

``folder`` plays the board's flash (the unix port's working directory).
Two pseudo-terminal pairs are joined by a relay thread: the unix port owns
one pair's slave side, mpremote opens the other pair's slave (``board.port``,
``/dev/pts/N``) as it would open ``/dev/ttyACM0``. (One pair is not enough:
both programs would read the same slave side and never see each other.)

The one thing the unix port lacks is the *soft reset* mpremote asks for
before its first command (Ctrl-D at an empty raw-REPL prompt: a board
restarts its interpreter and prints ``soft reboot``; the unix port only runs
the empty input). The relay emulates it faithfully: it ends the MicroPython
process, starts a fresh one in the same folder (nothing of the old
interpreter's state survives, as on a board), puts it in the raw REPL and
answers what a board answers. One file-system difference is bridged too: on
a board the working directory is the file system's root, so ``os.stat("")``
describes it (mpremote checks the destination ``:`` of ``fs cp FILES :``
that way); the unix port has no such root, so each fresh interpreter first
runs :data:`BOARD_SHIM`, which makes ``os.stat("")`` mean ``os.stat(".")``.
Everything else passes through unchanged.

POSIX only (``os.openpty``); used by the tests of ``tinyhar deploy`` and
``tinyhar recordings pull``.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from pathlib import Path

from tinyhar.errors import TinyharError

__all__ = ["RAW_BANNER", "SimulatedBoard"]

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
"""What MicroPython prints on entering the raw REPL (Ctrl-A)."""
SOFT_REBOOT = b"OK\r\nMPY: soft reboot\r\n"
"""What a board prints for Ctrl-D at an empty raw-REPL prompt, before the raw banner."""
BOARD_SHIM = b"""\
import sys, os as _os
class _BoardOS:
    pass
_w = _BoardOS()
for _k in dir(_os):
    setattr(_w, _k, getattr(_os, _k))
def _stat(path, stat=_os.stat):
    return stat(path or '.')
_w.stat = _stat
sys.modules['os'] = _w
del _BoardOS, _w, _k, _stat, _os
"""
"""Run in each fresh interpreter: ``os.stat("")`` is the working directory, as on a board."""


class SimulatedBoard:
    """The MicroPython unix port on a pseudo-terminal that mpremote can connect to.

    Parameters
    ----------
    folder : str or Path
        The board's flash: the unix port's working directory (created).
    micropython : str or Path, optional
        The unix port's executable (default:
        :func:`tinyhar.export.micropython.find_micropython`).
    startup_timeout : float
        Seconds to wait for the interpreter's prompt.

    Attributes
    ----------
    port : str
        The serial port to give mpremote (``/dev/pts/N``), set by :meth:`start`.
    resets : int
        Soft resets emulated so far.

    Raises
    ------
    TinyharError
        The unix port is not installed, or did not show its prompt in time.
    """

    def __init__(self, folder: str | Path, micropython: str | Path | None = None,
                 startup_timeout: float = 10.0) -> None:
        if micropython is None:
            from tinyhar.export.micropython import find_micropython

            micropython = find_micropython()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.micropython = str(micropython)
        self.startup_timeout = startup_timeout
        self.port = ""
        self.resets = 0
        self._proc: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: list[int] = []

    # -------------------------------------------------------------- process
    def _spawn(self) -> None:
        env = dict(os.environ, MICROPYPATH=f"{self.folder.resolve()}:.frozen:"
                   "~/.micropython/lib")
        self._proc = subprocess.Popen(
            [self.micropython], stdin=self._board_slave, stdout=self._board_slave,
            stderr=self._board_slave, cwd=self.folder, env=env, start_new_session=True)

    def _read_board_until(self, marker: bytes) -> bytes:
        """Read the interpreter's output until ``marker`` (startup, soft reset)."""
        out = b""
        deadline = time.monotonic() + self.startup_timeout
        while not out.endswith(marker):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TinyharError(
                    f"the MicroPython unix port ({self.micropython}) did not show "
                    f"{marker!r} within {self.startup_timeout:g} s; it printed {out[-300:]!r}")
            ready, _, _ = select.select([self._board_master], [], [], min(left, 0.1))
            if ready:
                out += os.read(self._board_master, 4096)
        return out

    def _end_process(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def _boot(self) -> None:
        """Start an interpreter, run :data:`BOARD_SHIM`; it is left at the raw-REPL prompt."""
        self._end_process()
        self._spawn()
        self._read_board_until(b">>> ")
        os.write(self._board_master, b"\r\x01")
        self._read_board_until(RAW_BANNER)
        os.write(self._board_master, BOARD_SHIM + b"\x04")
        out = self._read_board_until(b"\x04>")
        if not out.startswith(b"OK\x04\x04"):
            raise TinyharError(f"the MicroPython unix port failed to start the simulated "
                               f"board: {out[-500:]!r}")

    def _soft_reset(self) -> bytes:
        """A fresh interpreter in the raw REPL; returns what the board prints for Ctrl-D."""
        self._boot()
        self.resets += 1
        return SOFT_REBOOT + RAW_BANNER

    # ---------------------------------------------------------------- relay
    def _relay(self) -> None:
        tail = b""  # the board's latest output: is it at an empty raw-REPL prompt?
        at_raw_prompt = False
        while not self._stop.is_set():
            ready, _, _ = select.select([self._board_master, self._host_master], [], [], 0.1)
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the host closed the port (mpremote exited): wait for the next
                    time.sleep(0.02)
                    continue
                if fd == self._board_master:
                    tail = (tail + data)[-len(RAW_BANNER):]
                    at_raw_prompt = tail == RAW_BANNER
                    os.write(self._host_master, data)
                elif data == b"\x04" and at_raw_prompt:
                    answer = self._soft_reset()
                    tail, at_raw_prompt = RAW_BANNER, True
                    os.write(self._host_master, answer)
                else:
                    at_raw_prompt = False
                    os.write(self._board_master, data)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedBoard:
        """Start the interpreter and the relay; :attr:`port` is then ready for mpremote."""
        import tty  # POSIX only, like os.openpty

        self._board_master, self._board_slave = os.openpty()
        self._host_master, host_slave = os.openpty()
        for fd in (self._board_slave, host_slave):
            tty.setraw(fd)
        self.port = os.ttyname(host_slave)
        # keep the host slave open so that the port survives between mpremote calls
        self._fds = [self._board_master, self._board_slave, self._host_master, host_slave]
        self._boot()
        os.write(self._board_master, b"\r\x02")  # back to the friendly REPL, as after reset
        self._read_board_until(b">>> ")
        self._thread = threading.Thread(target=self._relay, name="tinyhar-ptyboard",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the relay and the interpreter; close the pseudo-terminals."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._end_process()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds = []

    def __enter__(self) -> SimulatedBoard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
