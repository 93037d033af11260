"""Temporal context: append the previous window's features and their change.

Activities last longer than one window, so the features of the preceding
window of the same session (and the difference to it) add context at the cost
of one stored feature vector on the device (a ring buffer of one row). The
first window of a session has no predecessor: it uses itself (deltas 0), which
a device reproduces by initialising its buffer with the first window.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyhar.errors import DataFormatError

__all__ = ["stack_previous", "stack_previous_names"]


def stack_previous_names(names: Sequence[str]) -> list[str]:
    """Column names of :func:`stack_previous`'s output.

    Parameters
    ----------
    names : sequence of str, length n_features
        Names of the input features.

    Returns
    -------
    list of str, length 3 * n_features
        ``names``, then ``prev_<name>`` for each, then ``delta_<name>`` for each.
    """
    names = [str(n) for n in names]
    return names + [f"prev_{n}" for n in names] + [f"delta_{n}" for n in names]


def stack_previous(
    features: np.ndarray,
    session: Sequence[object] | np.ndarray,
    start_time: Sequence[float] | np.ndarray,
    max_gap_s: float | None = None,
) -> np.ndarray:
    """Append the previous window's features and the deltas to them.

    For window ``i``, its predecessor ``p(i)`` is the window of the same
    session with the latest start time before ``i`` in the order defined
    below; the output row is ``[f_i, f_p(i), f_i - f_p(i)]``. A window without
    predecessor (first of its session, or, with ``max_gap_s``, a predecessor
    that starts more than ``max_gap_s`` seconds earlier) uses itself: its
    ``prev`` block equals its features and its ``delta`` block is 0.

    Order within a session: by ``start_time`` ascending; windows with equal
    start times keep their input order; windows whose start time is NaN
    (unknown, e.g. pre-windowed data sets) come after the timed ones, in input
    order (so a session without any start time is taken in input order).

    Parameters
    ----------
    features : numpy.ndarray, shape (n_windows, n_features)
        Features of each window (e.g. from ``FeatureExtractor.transform``).
    session : array-like of hashable, shape (n_windows,)
        Session id of each window (windows of different sessions are never
        neighbours).
    start_time : array-like of float, shape (n_windows,)
        Start time of each window in s (NaN = unknown).
    max_gap_s : float, optional
        If given, a predecessor starting more than ``max_gap_s`` seconds
        before the window does not count (e.g. the windows between them were
        dropped); the window then uses itself. Ignored where a start time is NaN.

    Returns
    -------
    numpy.ndarray, shape (n_windows, 3 * n_features), dtype of ``features``
        Rows in the input order; columns as :func:`stack_previous_names`.

    Raises
    ------
    DataFormatError
        If ``features`` is not 2-D or ``session`` / ``start_time`` do not have
        one entry per window.

    Notes
    -----
    Stacking features of neighbouring windows ("contextual" or "lagged"
    features) is a common way to add temporal context to a per-window
    classifier, e.g. Banos et al. (2014), Sensors 14(4):6474 (window length
    and context); Reyes-Ortiz et al. (2016), Neurocomputing 171:754.
    """
    F = np.asarray(features)
    if F.ndim != 2:
        raise DataFormatError(
            "features", f"features must have shape (n_windows, n_features), got {F.shape}"
        )
    n = F.shape[0]
    sess = np.asarray(session)
    t = np.asarray(start_time, dtype=np.float64)
    if sess.shape != (n,) or t.shape != (n,):
        raise DataFormatError(
            "features", f"session and start_time must have shape ({n},) (one entry per "
            f"window), got {sess.shape} and {t.shape}"
        )
    if n == 0:
        return np.concatenate([F, F, F - F], axis=1)
    _, codes = np.unique(sess.astype(str), return_inverse=True)
    codes = codes.reshape(-1)
    # lexsort: last key is the primary key; NaN times sort last within a session.
    order = np.lexsort((np.arange(n), t, codes))
    prev = np.empty(n, dtype=np.intp)
    prev[order[0]] = order[0]
    same = codes[order[1:]] == codes[order[:-1]]
    if max_gap_s is not None:
        gap = t[order[1:]] - t[order[:-1]]
        same &= ~(gap > float(max_gap_s))
    prev[order[1:]] = np.where(same, order[:-1], order[1:])
    P = F[prev]
    return np.concatenate([F, P, F - P], axis=1)
