"""Ctrl-C that is never lost: a SIGINT is remembered, and work that commits checks for it.

Python turns SIGINT into ``KeyboardInterrupt`` at the next bytecode of the
main thread. When that bytecode belongs to a weakref callback or a
``__del__`` method (garbage collection runs them at arbitrary points), the
exception is "ignored": Python prints a traceback to stderr and the program
carries on, so a training the user interrupted would still finish and
commit its run folder. :func:`install` (called by the ``tinyhar`` command
line) makes SIGINT also set a flag and silences that ignored traceback;
:func:`check` raises ``KeyboardInterrupt`` if the flag is set, and
:func:`tinyhar.runfolder.write_run` calls it right before it commits, so an
interrupted run is never committed. Without :func:`install` (tinyhar used as
a library) :func:`check` never raises.
"""

from __future__ import annotations

import signal
import sys
import threading

_interrupted = threading.Event()


def _on_sigint(signum, frame) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


def _unraisable(hook):
    def handle(unraisable) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            return  # remembered by the flag; check() raises it at a safe point
        hook(unraisable)

    return handle


def install() -> None:
    """Remember SIGINT in a flag and silence "ignored" KeyboardInterrupt tracebacks.

    Only in the main thread (signal handlers can only be set there); idempotent.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is not _on_sigint:
        signal.signal(signal.SIGINT, _on_sigint)
        sys.unraisablehook = _unraisable(sys.unraisablehook)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a SIGINT arrived since :func:`install`.

    Raises
    ------
    KeyboardInterrupt
        The user pressed Ctrl-C (or the process got SIGINT), even if the
        first ``KeyboardInterrupt`` was swallowed by a garbage-collection
        callback.
    """
    if _interrupted.is_set():
        raise KeyboardInterrupt
