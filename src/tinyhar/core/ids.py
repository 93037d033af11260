"""Ordering of subject and session ids, and per-window id arrays."""

from __future__ import annotations

import numpy as np


def natural_key(value: object) -> tuple:
    """Sort key that orders ``"2"`` before ``"10"`` and numbers before text.

    Parameters
    ----------
    value : object
        A subject or session id.

    Returns
    -------
    tuple
        ``(0, int)`` for ids that are integers, ``(1, str)`` otherwise.
    """
    text = str(value)
    try:
        return (0, int(text), "")
    except ValueError:
        return (1, 0, text)


def repeated_id(value: object, n: int) -> np.ndarray:
    """An object array of ``n`` references to one id (a subject, session or label).

    ``np.full(n, "s01", dtype=object)`` makes ``n`` separate copies of the
    string (about 60 bytes each: 0.6 GB for four such columns of 2.8 M
    windows, 1,000 hours); this holds one.

    Returns
    -------
    numpy.ndarray of object, shape (n,)
    """
    out = np.empty(int(n), dtype=object)
    out.fill(value)
    return out
