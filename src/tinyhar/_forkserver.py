"""Imported by the fork server of the local worker processes only (:mod:`tinyhar.compute`),
before the workers' modules.

The garbage collector is off while the server imports those modules (they
create hundreds of thousands of objects, and collecting during the imports
made them about 10 % slower), and each worker forked from it starts with the
collector on and every inherited object frozen (:func:`gc.freeze`): its
collections never walk the modules' objects, whose memory pages it shares
with the server until it writes to them.

When the process that started it exits, the fork server ends with
:func:`os._exit`, as the workers it forks do: it holds nothing to clean up,
and the interpreter's ordinary teardown of NumPy, pandas, pyarrow and
scikit-learn took about 0.3 s after that process had already exited (while
holding its standard output open, so a pipe reader waited for it too).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from multiprocessing import util


def _exit_now() -> None:
    """Flush the standard streams, then end the process without the interpreter's teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


atexit.register(_exit_now)


class _Worker:
    """What :func:`multiprocessing.util.register_after_fork` holds (weakly): kept alive here."""


def _start_collecting(_: _Worker) -> None:
    """In each process forked from the server: freeze what it inherited, then collect."""
    gc.freeze()
    gc.enable()


_WORKER = _Worker()
gc.disable()  # until each worker starts: the server only imports and forks
util.register_after_fork(_WORKER, _start_collecting)
