"""Imported by the fork server of the local worker processes only (:mod:`tinyhar.compute`).

When the process that started it exits, the fork server ends with
:func:`os._exit`, as the workers it forks do: it holds nothing to clean up,
and the interpreter's ordinary teardown of NumPy, pandas, pyarrow and
scikit-learn took about 0.3 s after that process had already exited (while
holding its standard output open, so a pipe reader waited for it too).
"""

from __future__ import annotations

import atexit
import os
import sys


def _exit_now() -> None:
    """Flush the standard streams, then end the process without the interpreter's teardown."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)


atexit.register(_exit_now)
