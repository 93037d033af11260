"""Handing freed memory back to the system.

Large arrays (above glibc's mmap threshold, at most 32 MB) go back to the
system when freed; many smaller ones (per-session feature rows, parser
chunks) stay in the C library's heap after they are freed, and the process's
resident memory keeps them: with 1,000 one-hour sessions that is gigabytes
next to the big arrays built from them. :func:`trim_heap` returns them.
"""

from __future__ import annotations

_MALLOC_TRIM = None


def trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc's ``malloc_trim(0)``; else nothing).

    Source: GNU C Library manual, "Memory Allocation Tunables" and
    ``malloc_trim(3)``: with argument 0, all free memory that can be
    released (at the top of the heap and, since glibc 2.8, whole free pages
    inside it) is released. Elsewhere (macOS, Windows, musl) it does
    nothing; a no-op costs one attribute check.
    """
    global _MALLOC_TRIM
    if _MALLOC_TRIM is None:
        import ctypes

        try:
            _MALLOC_TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _MALLOC_TRIM = False
    if _MALLOC_TRIM:
        _MALLOC_TRIM(0)
