"""Where windows are cut: the rules every window cutter of tinyhar follows.

A session's rows are split into *contiguous segments* where the sampling is
interrupted: a time step longer than :data:`GAP_FACTOR` sampling periods
(:func:`segment_starts`, :func:`contiguous_segments`). Windows of ``n_win``
samples start every ``n_hop`` samples from a segment's first sample and lie
within the segment (:func:`window_starts`); a segment shorter than one window
gives none. A labelled window whose majority label covers less than the
purity threshold is *ambiguous* (:func:`ambiguous_windows`; the majority
labels come from :func:`tinyhar.windows.windowing.majority_labels`).

:func:`tinyhar.windows.windowing.make_windows` applies these rules to whole
sessions; :class:`WindowCursor` applies them to a session whose rows come in
consecutive batches (a gap may fall anywhere, also exactly between two
batches), for the streaming cutters
(:func:`tinyhar.features.streams.iter_stream_windows`, ``tinyhar inspect``),
which hold only the rows from the next window's first sample on.
"""

from __future__ import annotations

import numpy as np

GAP_FACTOR = 1.5
"""A time step longer than ``GAP_FACTOR`` sampling periods is a gap."""


def segment_starts(time: np.ndarray, sampling_rate_hz: float,
                   previous: float | None = None) -> np.ndarray:
    """Positions of the rows after a gap: where new contiguous segments start.

    Parameters
    ----------
    time : numpy.ndarray of float, shape (n_rows,)
        Sample times in s, increasing.
    sampling_rate_hz : float
        Sampling rate in Hz; a step longer than :data:`GAP_FACTOR` sample
        intervals is a gap.
    previous : float, optional
        Time in s of the row before ``time[0]`` (the last row of the previous
        batch of the same session); a gap between it and ``time[0]`` gives
        position 0. Without it ``time[0]`` is not compared with anything.

    Returns
    -------
    numpy.ndarray of int, shape (n_gaps,)
        Increasing positions in ``time`` (0 only with ``previous``).
    """
    limit = GAP_FACTOR / sampling_rate_hz
    if previous is None:
        return np.flatnonzero(np.diff(time) > limit) + 1
    return np.flatnonzero(np.diff(time, prepend=previous) > limit)


def contiguous_segments(
    time: np.ndarray, sampling_rate_hz: float
) -> tuple[np.ndarray, int]:
    """Boundaries ``[0, b1, ..., n]`` of contiguous segments and the number of gaps.

    Parameters
    ----------
    time : numpy.ndarray of float, shape (n_samples,)
        Sample times in s, increasing.
    sampling_rate_hz : float
        Sampling rate in Hz; a step longer than ``GAP_FACTOR`` sample
        intervals is a gap that starts a new segment (:func:`segment_starts`).

    Returns
    -------
    bounds : numpy.ndarray of int, shape (n_segments + 1,)
    n_gaps : int
    """
    if len(time) < 2:
        return np.array([0, len(time)]), 0
    gaps = segment_starts(time, sampling_rate_hz)
    return np.concatenate([[0], gaps, [len(time)]]), int(gaps.size)


def window_starts(length: int, n_win: int, n_hop: int, first: int = 0) -> np.ndarray:
    """First samples of the windows that fit in a segment of ``length`` samples.

    Windows start every ``n_hop`` samples from the segment's first sample
    and need ``n_win`` samples of it.

    Parameters
    ----------
    length : int
        Samples of the segment (so far, when its rows are still coming).
    n_win, n_hop : int
        Window length and hop in samples (>= 1).
    first : int
        Position of the first window wanted (a multiple of ``n_hop``: the
        windows before it were taken already).

    Returns
    -------
    numpy.ndarray of int, shape (n_windows,)
        Positions in the segment, ``first, first + n_hop, ...``, each
        ``<= length - n_win``; empty when the segment is shorter than one
        window.
    """
    return np.arange(first, length - n_win + 1, n_hop)


def ambiguous_windows(label: np.ndarray, fraction: np.ndarray, purity: float) -> np.ndarray:
    """Labelled windows whose majority label covers less than ``purity`` of their samples.

    Parameters
    ----------
    label, fraction : numpy.ndarray, shape (n_windows,)
        Majority label (0 = unlabelled) and its share of the window, as
        :func:`tinyhar.windows.windowing.majority_labels` gives them.
    purity : float in (0, 1]
        The threshold.

    Returns
    -------
    numpy.ndarray of bool, shape (n_windows,)
        True for the windows dropped as ambiguous. Mostly unlabelled windows
        are never ambiguous (they are kept or dropped as unlabelled).
    """
    return (label != 0) & (fraction < purity)


class WindowCursor:
    """Segments and window starts of one session whose rows come in consecutive batches.

    The windows are those :func:`window_starts` gives for the contiguous
    segments (:func:`contiguous_segments`) of all the rows joined, wherever
    the batches end. The cursor holds no samples, only positions: the caller
    keeps the rows of the open segment from :attr:`held` on (with their
    labels, signals ...), appends each run of rows it is given, and drops
    what :meth:`release` says no window needs any more (all but fewer than
    ``n_win`` rows).

    Use, per batch of the session's rows with times ``time``::

        for a, b, new in cursor.runs(time):
            if new:               # rows a:b start a segment (after a gap, or the first rows)
                ...               # the open segment ends: take what starts() has left in it
                cursor.open(time[a])
            cursor.extend(b - a)  # rows a:b appended to the rows held
            first = cursor.starts()
            ...                   # windows at rows first - cursor.held of the rows held
            drop = cursor.release()   # rows to drop from the front of those held

    Parameters
    ----------
    n_win, n_hop : int
        Window length and hop in samples (>= 1) at ``sampling_rate_hz``.
    sampling_rate_hz : float
        Sampling rate of the rows in Hz (for the gap rule).

    Attributes
    ----------
    segment : int
        Index of the open segment in the session (-1 before the first rows);
        ``segment`` gaps were crossed so far.
    t0 : float
        Time in s of the open segment's first row (window ``p`` of the
        segment starts at ``t0 + p / sampling_rate_hz``).
    held : int
        Segment position of the first row the caller still holds.
    end : int
        Rows of the open segment given so far.
    next : int
        Segment position of the next window's first row.

    Notes
    -----
    Positions count rows as given, so :meth:`starts` holds for windows cut
    at the rows' rate. A caller that resamples a segment first needs it
    whole: it holds the segment until the next gap (or the session's end)
    and takes :func:`window_starts` of the resampled length, using the
    cursor for the segments only.
    """

    def __init__(self, n_win: int, n_hop: int, sampling_rate_hz: float) -> None:
        self.n_win, self.n_hop = int(n_win), int(n_hop)
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.segment = -1
        self.t0 = 0.0
        self.held = self.end = self.next = 0
        self._last: float | None = None  # time of the last row given

    def runs(self, time: np.ndarray) -> list[tuple[int, int, bool]]:
        """Split the next rows into runs of one segment each.

        Parameters
        ----------
        time : numpy.ndarray of float, shape (n_rows,)
            Times in s of the session's next rows, continuing the rows given
            before (a step from the previous batch's last row longer than
            :data:`GAP_FACTOR` intervals is a gap too).

        Returns
        -------
        list of (int, int, bool)
            ``(a, b, new)``: rows ``a:b`` of ``time`` lie in one segment;
            ``new`` when they start it (the session's first rows, or the rows
            after a gap), so that :meth:`open` is due first. Empty for no rows.
        """
        n = len(time)
        if not n:
            return []
        if self._last is None:
            cuts = [0, *segment_starts(time, self.sampling_rate_hz).tolist()]
        else:
            cuts = segment_starts(time, self.sampling_rate_hz, self._last).tolist()
        self._last = float(time[-1])
        edges = [*cuts, n]
        out = [(0, edges[0], False)] if edges[0] > 0 else []  # the open segment goes on
        return out + [(a, b, True) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def open(self, t0: float) -> None:
        """Start a new segment whose first row is at ``t0`` (s): nothing is held."""
        self.segment += 1
        self.t0 = t0
        self.held = self.end = self.next = 0

    def extend(self, n_rows: int) -> None:
        """Count ``n_rows`` more rows of the open segment (appended to those held)."""
        self.end += int(n_rows)

    def starts(self, multiple: int = 1) -> np.ndarray:
        """The windows the rows so far complete, not taken before; they are taken now.

        Parameters
        ----------
        multiple : int
            Take only a multiple of this many windows (whole chunks); the
            rest come with later rows (or with ``multiple=1``).

        Returns
        -------
        numpy.ndarray of int, shape (n_windows,)
            Segment positions of the windows' first rows (:func:`window_starts`);
            the rows of window ``p`` are rows ``p - held : p - held + n_win``
            of those held.
        """
        first = window_starts(self.end, self.n_win, self.n_hop, self.next)
        if multiple > 1:
            first = first[: len(first) // multiple * multiple]
        if len(first):
            self.next = int(first[-1]) + self.n_hop
        return first

    def release(self) -> int:
        """Rows the caller may drop from the front of those held (no window needs them).

        Returns
        -------
        int
            Rows before the next window's first row (all held rows when that
            is beyond them); :attr:`held` moves past them.
        """
        drop = min(max(self.next - self.held, 0), self.end - self.held)
        self.held += drop
        return drop
