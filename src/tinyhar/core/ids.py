"""Ordering of subject and session ids."""

from __future__ import annotations


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
