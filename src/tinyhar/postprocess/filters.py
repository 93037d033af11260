"""Class-sequence filters: mode filter, EMA, minimum segment duration, hysteresis.

Every filter works on one session at a time, on windows in time order, and
comes in two forms that give identical classes:

- an offline function over a whole sequence (vectorised where it can be);
- a streaming object whose ``push(proba, cls)`` takes one window and returns
  the :class:`Decision` for an earlier window, a fixed ``lag`` windows later
  (``None`` while the first ``lag`` windows are pending), and whose
  ``flush()`` decides the pending windows at the end of a session.

Classes are integer indices ``0 .. n_classes-1`` into a class list kept by the
caller (:class:`tinyhar.postprocess.PostProcessor`); probabilities are arrays
of shape ``(n_windows, n_classes)`` (rows summing to 1). Lags are counted in
windows: with a hop of ``h`` seconds a lag of ``L`` windows delays a decision
by ``L * h`` seconds. Ties between classes are always broken towards the
lowest class index (``numpy.argmax``) unless stated otherwise.

The device versions (C, MicroPython) are meant to implement the streaming
forms: fixed lag, state of bounded size, integer counts where possible.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import NamedTuple

import numpy as np

from tinyhar.errors import ConfigError


class Decision(NamedTuple):
    """One decided window from a streaming stage.

    Attributes
    ----------
    index : int
        0-based index of the window within the session (order of ``push``).
    cls : int
        Decided class index.
    proba : numpy.ndarray of float64, shape (n_classes,)
        The probabilities the stage attaches to the window (its input
        probabilities, or its smoothed ones for EMA and HMM).
    """

    index: int
    cls: int
    proba: np.ndarray


def _check_int(value: object, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"postprocess.{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_proba(proba: object, what: str = "probabilities") -> np.ndarray:
    """Check a probability array.

    Parameters
    ----------
    proba : array-like, shape (n_windows, n_classes)
        Class probabilities per window (finite, >= 0).
    what : str
        Name for messages.

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, n_classes)

    Raises
    ------
    ConfigError
        If the array is not 2-D, has fewer than 2 classes, or holds negative
        or non-finite values.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ConfigError(f"{what} must have shape (n_windows, n_classes >= 2), got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ConfigError(f"{what} must be finite and >= 0 (class probabilities per window)")
    return p


def _check_classes(cls: object, n_classes: int | None = None) -> np.ndarray:
    c = np.asarray(cls)
    if c.ndim != 1 or (c.size and not np.issubdtype(c.dtype, np.integer)):
        raise ConfigError(f"class sequences must be 1-D integer class indices, got {c.dtype}")
    c = c.astype(np.int64)
    if c.size and (c.min() < 0 or (n_classes is not None and c.max() >= n_classes)):
        raise ConfigError(f"class indices must be in 0..{n_classes}-1, got {c.min()}..{c.max()}")
    return c


def runs(cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length encoding of a class sequence.

    Parameters
    ----------
    cls : numpy.ndarray, shape (n_windows,)

    Returns
    -------
    starts, lengths, values : numpy.ndarray, shape (n_runs,)
        Start index, length (windows) and value of each maximal run of equal
        values.
    """
    cls = np.asarray(cls)
    if cls.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, cls[:0]
    change = np.flatnonzero(cls[1:] != cls[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.int64)
    lengths = np.diff(np.concatenate([starts, [cls.size]])).astype(np.int64)
    return starts, lengths, cls[starts]


# ----------------------------------------------------------------------------- mode filter


def mode_filter_lag(k: int) -> int:
    """Streaming lag (windows) of the centred mode filter over ``k`` windows: ``k // 2``."""
    return _check_int(k, "mode_k", 1) // 2


def window_sums(x: np.ndarray, before: int, after: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the rows ``t - before .. t + after`` of ``x`` for every row ``t``.

    Near the ends only the rows that exist are summed (running sums: one
    pass, exact for integer arrays).

    Parameters
    ----------
    x : numpy.ndarray, shape (n, m)
        Rows in time order (e.g. one-hot classes or probabilities of one
        session's windows).
    before, after : int >= 0
        Rows before and after each row in its window.

    Returns
    -------
    sums : numpy.ndarray, shape (n, m)
        Window sums, of ``x``'s dtype.
    counts : numpy.ndarray of int, shape (n,)
        Rows in each window (fewer than ``before + after + 1`` at the ends).
    """
    n = len(x)
    cum = np.concatenate([np.zeros((1, *x.shape[1:]), dtype=x.dtype), np.cumsum(x, axis=0)])
    t = np.arange(n)
    lo = np.maximum(t - before, 0)
    hi = np.minimum(t + after, n - 1) + 1
    return cum[hi] - cum[lo], hi - lo


def mode_filter(cls: np.ndarray, k: int, n_classes: int | None = None) -> np.ndarray:
    """Centred mode (majority) filter over ``k`` windows.

    The output for window ``t`` is the most frequent class among windows
    ``t - (k - 1 - k // 2) .. t + k // 2`` (clipped to the session). Ties: the
    class of window ``t`` itself when it is among the most frequent, else the
    lowest class index. Streaming (:class:`ModeFilterStream`) gives the same
    classes with a lag of ``k // 2`` windows.

    Parameters
    ----------
    cls : numpy.ndarray of int, shape (n_windows,)
        Class index per window (one session, time order).
    k : int >= 1
        Filter length in windows (odd lengths are centred exactly).
    n_classes : int, optional
        Number of classes (default: ``max(cls) + 1``).

    Returns
    -------
    numpy.ndarray of int64, shape (n_windows,)

    Raises
    ------
    ConfigError
        If ``k < 1`` or ``cls`` is not a sequence of class indices.

    Notes
    -----
    The majority (mode) filter is the classic smoother of per-window activity
    predictions (e.g. Bulling, Blanke, Schiele 2014, "A tutorial on human
    activity recognition using body-worn inertial sensors", ACM Computing
    Surveys 46(3), section on post-processing).
    """
    k = _check_int(k, "mode_k", 1)
    c = _check_classes(cls, n_classes)
    n = c.size
    if n == 0 or k == 1:
        return c.copy()
    n_classes = int(n_classes if n_classes is not None else c.max() + 1)
    after = k // 2
    onehot = np.zeros((n, n_classes), dtype=np.int64)
    onehot[np.arange(n), c] = 1
    counts, _ = window_sums(onehot, k - 1 - after, after)
    t = np.arange(n)
    best = counts.max(axis=1)
    out = np.argmax(counts, axis=1)
    keep = counts[t, c] == best
    out[keep] = c[keep]
    return out.astype(np.int64)


class ModeFilterStream:
    """Streaming centred mode filter (:func:`mode_filter`), lag ``k // 2`` windows.

    Parameters
    ----------
    k : int >= 1
        Filter length in windows.
    n_classes : int >= 2

    Notes
    -----
    State: the last ``k`` classes and the probabilities of the ``k // 2``
    pending windows. ``push`` returns the decision for window ``t - k // 2``
    (``None`` for the first ``k // 2`` pushes); ``flush`` decides the last
    ``k // 2`` windows with the window clipped at the session end, exactly as
    the offline filter.
    """

    def __init__(self, k: int, n_classes: int) -> None:
        self.k = _check_int(k, "mode_k", 1)
        self.n_classes = _check_int(n_classes, "n_classes", 2)
        self.lag = self.k // 2
        self._before = self.k - 1 - self.lag
        self.reset()

    def reset(self) -> None:
        """Forget the session (call between sessions)."""
        self._buf: deque = deque()  # (index, cls, proba), windows t-before .. newest
        self._n = 0
        self._next = 0

    def _decide(self, t: int) -> Decision:
        counts = np.zeros(self.n_classes, dtype=np.int64)
        centre = None
        for i, c, p in self._buf:
            if t - self._before <= i <= t + self.lag:
                counts[c] += 1
            if i == t:
                centre = (c, p)
        c_t, p_t = centre
        best = counts.max()
        out = c_t if counts[c_t] == best else int(np.argmax(counts))
        while self._buf and self._buf[0][0] < t + 1 - self._before:
            self._buf.popleft()
        return Decision(t, int(out), p_t)

    def push(self, proba: np.ndarray, cls: int) -> Decision | None:
        """Add window ``t`` (its probabilities and raw class); decide window ``t - lag``."""
        self._buf.append((self._n, int(cls), np.asarray(proba, dtype=np.float64)))
        self._n += 1
        if self._n - 1 - self.lag < 0:
            return None
        d = self._decide(self._next)
        self._next += 1
        return d

    def flush(self) -> list[Decision]:
        """Decide the pending windows at the end of the session, then reset."""
        out = [self._decide(t) for t in range(self._next, self._n)]
        self.reset()
        return out


# ----------------------------------------------------------------------------- EMA


def _check_float(value: object, key: str, low: float, high: float, open_low: bool) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` when ``open_low``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = float("nan")
    if not (low < x if open_low else low <= x) or not x <= high:
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ConfigError(f"postprocess.{key} must be in {interval}, got {value!r}")
    return x


def _check_alpha(alpha: object) -> float:
    return _check_float(alpha, "ema_alpha", 0.0, 1.0, open_low=True)


def ema_filter(proba: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average of class probabilities (causal, lag 0).

    ``s[0] = p[0]`` and ``s[t] = (1 - alpha) * s[t-1] + alpha * p[t]``; the
    smoothed class is ``argmax(s[t])``. The time constant is about
    ``1 / alpha`` windows (``hop / alpha`` seconds).

    Parameters
    ----------
    proba : numpy.ndarray, shape (n_windows, n_classes)
        Probabilities of one session in time order.
    alpha : float in (0, 1]
        Weight of the newest window (1 = no smoothing).

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, n_classes)
        Smoothed probabilities (rows still sum to 1).

    Raises
    ------
    ConfigError
        If ``alpha`` is outside (0, 1] or ``proba`` is not a probability array.

    Notes
    -----
    Computed with the same recurrence, in the same order, as
    :class:`EmaStream`, so both give bit-identical values.
    """
    a = _check_alpha(alpha)
    p = check_proba(proba)
    out = np.empty_like(p)
    s = None
    for t in range(p.shape[0]):
        s = p[t].copy() if s is None else (1.0 - a) * s + a * p[t]
        out[t] = s
    return out


class EmaStream:
    """Streaming :func:`ema_filter` (lag 0).

    Parameters
    ----------
    alpha : float in (0, 1]
    """

    lag = 0

    def __init__(self, alpha: float) -> None:
        self.alpha = _check_alpha(alpha)
        self.reset()

    def reset(self) -> None:
        """Forget the session."""
        self._s: np.ndarray | None = None
        self._n = 0

    def push(self, proba: np.ndarray, cls: int | None = None) -> Decision:
        """Smooth window ``t`` and decide it (``cls`` is ignored: EMA works on probabilities)."""
        p = np.asarray(proba, dtype=np.float64)
        a = self.alpha
        self._s = p.copy() if self._s is None else (1.0 - a) * self._s + a * p
        d = Decision(self._n, int(np.argmax(self._s)), self._s.copy())
        self._n += 1
        return d

    def flush(self) -> list[Decision]:
        """Nothing is pending (lag 0); resets the state."""
        self.reset()
        return []


# ----------------------------------------------------------------------------- min duration


def min_duration_merge(
    cls: np.ndarray, d: int, proba: np.ndarray | None = None
) -> np.ndarray:
    """Offline minimum segment duration: merge segments shorter than ``d`` windows.

    Rule: while a session has more than one segment and some segment is
    shorter than ``d`` windows, take the shortest (the earliest on ties) and
    relabel it with the class of one of its neighbours: with ``proba``, the
    neighbour whose class has the higher mean probability over the short
    segment's windows; without, the longer neighbour; ties go to the earlier
    (left) neighbour. Equal neighbouring segments then join. The result has
    no segment shorter than ``d`` unless the session itself is shorter.

    Parameters
    ----------
    cls : numpy.ndarray of int, shape (n_windows,)
        Class per window (one session, time order).
    d : int >= 1
        Minimum duration in windows (``d * hop`` seconds); 1 = no change.
    proba : numpy.ndarray, shape (n_windows, n_classes), optional
        Probabilities used to choose the neighbour.

    Returns
    -------
    numpy.ndarray of int64, shape (n_windows,)

    Raises
    ------
    ConfigError
        If ``d < 1`` or the shapes disagree.

    Notes
    -----
    Needs the whole session (not streamable); :func:`min_duration_causal` is
    the streaming rule. Cost O(n_segments log n_segments) (a heap of segments
    and a linked list of neighbours).
    """
    d = _check_int(d, "min_duration", 1)
    c = _check_classes(cls)
    if proba is not None:
        proba = check_proba(proba)
        if proba.shape[0] != c.size:
            raise ConfigError(f"{proba.shape[0]} probability rows for {c.size} windows")
    starts, lengths, values = runs(c)
    m = starts.size
    if d == 1 or m <= 1:
        return c.copy()
    start = starts.tolist()
    length = lengths.tolist()
    value = values.tolist()
    prev = list(range(-1, m - 1))
    nxt = list(range(1, m + 1))
    nxt[-1] = -1
    alive = [True] * m
    heap = [(length[i], start[i], i) for i in range(m)]
    heapq.heapify(heap)
    n_alive = m
    while heap and n_alive > 1:
        ln, st, i = heapq.heappop(heap)
        if not alive[i] or ln != length[i] or st != start[i]:
            continue  # stale entry
        if ln >= d:
            break
        left, right = prev[i], nxt[i]
        if left < 0:
            target = right
        elif right < 0:
            target = left
        elif proba is not None:
            span = proba[start[i] : start[i] + length[i]]
            ml, mr = span[:, value[left]].mean(), span[:, value[right]].mean()
            target = left if ml >= mr else right
        else:
            target = left if length[left] >= length[right] else right
        # absorb i into target
        alive[i] = False
        n_alive -= 1
        if target == left:
            length[left] += length[i]
            nxt[left] = right
            if right >= 0:
                prev[right] = left
        else:
            start[right] = start[i]
            length[right] += length[i]
            prev[right] = left
            if left >= 0:
                nxt[left] = right
        # join target with its other neighbour when they now share a class
        other = right if target == left else left
        if other >= 0 and value[other] == value[target]:
            a, b = (target, other) if target == left else (other, target)
            length[a] += length[b]
            alive[b] = False
            n_alive -= 1
            nxt[a] = nxt[b]
            if nxt[b] >= 0:
                prev[nxt[b]] = a
            target = a
        heapq.heappush(heap, (length[target], start[target], target))
    out = np.empty_like(c)
    for i in range(m):
        if alive[i]:
            out[start[i] : start[i] + length[i]] = value[i]
    return out


def min_duration_causal(cls: np.ndarray, d: int) -> np.ndarray:
    """Causal minimum segment duration (streamable with a lag of ``d - 1`` windows).

    Rule: the first run of a session is accepted as it is. After that, a run
    of a new class is accepted only once it lasts ``d`` windows (and then
    from its first window on); a shorter run is relabelled with the class
    accepted before it. So every segment but the first of a session lasts
    at least ``d`` windows. :class:`MinDurationStream` gives the same
    classes, deciding window ``t`` at window ``t + d - 1``.

    Parameters
    ----------
    cls : numpy.ndarray of int, shape (n_windows,)
        Class per window (one session, time order).
    d : int >= 1
        Minimum duration in windows (``d * hop`` seconds); 1 = no change.

    Returns
    -------
    numpy.ndarray of int64, shape (n_windows,)

    Raises
    ------
    ConfigError
        If ``d < 1``.
    """
    d = _check_int(d, "min_duration", 1)
    c = _check_classes(cls)
    out = c.copy()
    starts, lengths, values = runs(c)
    if starts.size == 0:
        return out
    current = values[0]
    for s, ln, v in zip(starts[1:], lengths[1:], values[1:], strict=True):
        if v == current:
            continue
        if ln >= d:
            current = v
        else:
            out[s : s + ln] = current
    return out


class MinDurationStream:
    """Streaming :func:`min_duration_causal`, lag ``d - 1`` windows.

    Parameters
    ----------
    d : int >= 1
        Minimum duration in windows.

    Notes
    -----
    State: the accepted class and the pending run (at most ``d - 1``
    windows); window ``t`` is always decided by window ``t + d - 1``.
    """

    def __init__(self, d: int) -> None:
        self.d = _check_int(d, "min_duration", 1)
        self.lag = self.d - 1
        self.reset()

    def reset(self) -> None:
        """Forget the session."""
        self._current: int | None = None
        self._run: list[tuple[int, np.ndarray]] = []  # pending (index, proba)
        self._run_cls = -1
        self._ready: deque = deque()  # decided, not yet returned
        self._n = 0

    def _resolve(self, cls: int) -> None:
        for i, p in self._run:
            self._ready.append(Decision(i, cls, p))
        self._run = []

    def push(self, proba: np.ndarray, cls: int) -> Decision | None:
        """Add window ``t`` with its class; return the decision for window ``t - (d - 1)``."""
        cls = int(cls)
        p = np.asarray(proba, dtype=np.float64)
        t = self._n
        self._n += 1
        if self._current is None:
            self._current = cls
            self._ready.append(Decision(t, cls, p))
        elif cls == self._current:
            self._resolve(self._current)
            self._ready.append(Decision(t, cls, p))
        else:
            if self._run and cls != self._run_cls:
                self._resolve(self._current)
            self._run_cls = cls
            self._run.append((t, p))
            if len(self._run) >= self.d:
                self._current = cls
                self._resolve(cls)
        target = t - self.lag
        if target >= 0 and self._ready and self._ready[0].index == target:
            return self._ready.popleft()
        return None

    def flush(self) -> list[Decision]:
        """Decide the pending windows (a trailing short run keeps the accepted class); reset."""
        if self._current is not None:
            self._resolve(self._current)
        out = list(self._ready)
        self.reset()
        return out


# ----------------------------------------------------------------------------- hysteresis


def _check_margin(margin: object) -> float:
    return _check_float(margin, "hysteresis_margin", 0.0, 1.0, open_low=False)


def hysteresis(cls: np.ndarray, proba: np.ndarray, margin: float, m: int) -> np.ndarray:
    """Hysteresis on class switches (causal, lag 0).

    The output starts with the first window's class ``c``. At window ``t``
    the input class ``x = cls[t]`` replaces ``c`` only when ``x`` has been
    the input class for ``m`` consecutive windows with
    ``proba[t, x] >= proba[t, c] + margin`` on each of them; the switch takes
    effect at the ``m``-th such window (earlier windows keep ``c``: no
    look-back). ``margin = 0`` and ``m = 1`` disable hysteresis (output =
    input).

    Parameters
    ----------
    cls : numpy.ndarray of int, shape (n_windows,)
        Candidate class per window (output of the previous stage).
    proba : numpy.ndarray, shape (n_windows, n_classes)
        Probabilities per window (the smoothed ones when smoothing produced
        them).
    margin : float in [0, 1]
        Required probability lead of the new class over the current one.
    m : int >= 1
        Required number of consecutive windows.

    Returns
    -------
    numpy.ndarray of int64, shape (n_windows,)

    Raises
    ------
    ConfigError
        On out-of-range parameters or disagreeing shapes.

    Notes
    -----
    Hysteresis (a Schmitt trigger on class scores) suppresses flicker between
    two classes of similar probability at the cost of a switching delay of
    ``m - 1`` windows.
    """
    stream = HysteresisStream(margin, m)
    c = _check_classes(cls)
    p = check_proba(proba)
    if p.shape[0] != c.size:
        raise ConfigError(f"{p.shape[0]} probability rows for {c.size} windows")
    return np.array([stream.push(p[t], c[t]).cls for t in range(c.size)], dtype=np.int64)


class HysteresisStream:
    """Streaming :func:`hysteresis` (lag 0).

    Parameters
    ----------
    margin : float in [0, 1]
    m : int >= 1
    """

    lag = 0

    def __init__(self, margin: float, m: int) -> None:
        self.margin = _check_margin(margin)
        self.m = _check_int(m, "hysteresis_windows", 1)
        self.reset()

    @property
    def enabled(self) -> bool:
        """False when ``margin == 0`` and ``m == 1`` (output = input)."""
        return self.margin > 0.0 or self.m > 1

    def reset(self) -> None:
        """Forget the session."""
        self._c: int | None = None
        self._cand = -1
        self._count = 0
        self._n = 0

    def push(self, proba: np.ndarray, cls: int) -> Decision:
        """Decide window ``t`` from its candidate class and probabilities."""
        x = int(cls)
        p = np.asarray(proba, dtype=np.float64)
        t = self._n
        self._n += 1
        if not self.enabled or self._c is None:
            self._c = x
        elif x == self._c or p[x] < p[self._c] + self.margin:
            self._count = 0
        else:
            self._count = self._count + 1 if x == self._cand else 1
            self._cand = x
            if self._count >= self.m:
                self._c, self._count = x, 0
        return Decision(t, self._c, p)

    def flush(self) -> list[Decision]:
        """Nothing is pending (lag 0); resets the state."""
        self.reset()
        return []
