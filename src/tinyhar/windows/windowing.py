"""Cut continuous recordings into fixed-length, labelled windows.

Sliding windows of ``window`` samples advanced by ``hop`` samples are cut
from each contiguous segment of each session (a segment ends where the
sampling is interrupted: a time step longer than
:data:`~tinyhar.windows.cutting.GAP_FACTOR` sampling periods, or the end of
the session). Windows never span a gap or two sessions. These rules are
written once, in :mod:`tinyhar.windows.cutting`, for this module and for the
cutters of rows read in batches.

Each window gets the majority label of its samples. Its *purity* is the
fraction of samples carrying that label; windows below the purity threshold
are ambiguous (e.g. they straddle an activity change) and are dropped and
counted. Windows whose majority is "unlabelled" are dropped (or kept with
label ``""`` for continuous evaluation). This follows the common practice of
majority labelling (e.g. Banos et al. 2014, "Window size impact in human
activity recognition", Sensors 14(4):6474-6499).

The kept windows are counted from the labels before any signal is copied, so
the memory the window array needs (``n_windows * n_samples * n_channels * 4``
bytes plus :data:`WINDOW_OVERHEAD_BYTES` per window) is known up front:
:func:`check_window_memory` refuses, with the size in GB and a fix (a larger
hop, fewer channels, shorter recordings), when it exceeds the memory
available (``MemAvailable``) or ``$TINYHAR_MEMORY_LIMIT_GB``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np

from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError
from tinyhar.windows.cutting import ambiguous_windows, contiguous_segments, window_starts


@dataclass
class WindowingReport:
    """What :func:`make_windows` kept and dropped.

    Attributes
    ----------
    n_windows : int
        Windows returned.
    n_ambiguous : int
        Windows dropped because their purity was below the threshold.
    n_unlabelled : int
        Windows dropped because most of their samples were unlabelled.
    n_gaps : int
        Interruptions in the sampling (time steps > ``GAP_FACTOR`` periods) found.
    n_short_segments : int
        Contiguous segments shorter than one window (no window cut from them).
    n_short_samples : int
        Samples in those short segments.
    """

    n_windows: int = 0
    n_ambiguous: int = 0
    n_unlabelled: int = 0
    n_gaps: int = 0
    n_short_segments: int = 0
    n_short_samples: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict (for ``metrics.json``)."""
        return asdict(self)


def to_samples(value: float, unit: str, sampling_rate_hz: float, what: str) -> int:
    """Convert a window length or hop to a whole number of samples.

    Parameters
    ----------
    value : float
        Length in seconds (``unit="s"``) or samples (``unit="samples"``).
    unit : {"s", "samples"}
    sampling_rate_hz : float
        Sampling rate in Hz.
    what : str
        Name used in error messages (``"window"``, ``"hop"``).

    Returns
    -------
    int
        Number of samples, >= 1 (seconds are rounded to the nearest sample).

    Raises
    ------
    ConfigError
        Unknown unit, non-positive length, or a sample count that is not whole.
    """
    if unit == "s":
        n = int(round(float(value) * sampling_rate_hz))
    elif unit == "samples":
        if float(value) != int(value):
            raise ConfigError(f"{what} = {value} samples is not a whole number")
        n = int(value)
    else:
        raise ConfigError(f"{what} unit must be 's' or 'samples', got {unit!r}")
    if n < 1:
        raise ConfigError(
            f"{what} = {value} {unit} is less than one sample at {sampling_rate_hz:g} Hz"
        )
    return n


def resample_segment(x: np.ndarray, from_hz: float, to_hz: float) -> np.ndarray:
    """Resample a contiguous segment with a polyphase FIR filter.

    Uses :func:`scipy.signal.resample_poly` (Kaiser-windowed FIR
    anti-aliasing filter) with the rational factor ``to_hz / from_hz``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n_samples, n_channels)
        One segment of a recording.
    from_hz, to_hz : float
        Source and target sampling rates in Hz.

    Returns
    -------
    numpy.ndarray of float32, shape (round(n_samples * to_hz / from_hz), n_channels)

    Raises
    ------
    ConfigError
        If the ratio needs a factor above 1000 (rates not commensurable).
    """
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    if abs(float(ratio) - to_hz / from_hz) > 1e-6 * to_hz / from_hz:
        raise ConfigError(
            f"cannot resample {from_hz:g} Hz to {to_hz:g} Hz with a rational factor "
            "of at most 1000/1000; choose a target rate with a simpler ratio"
        )
    from scipy.signal import resample_poly  # here: scipy.signal takes ~0.4 s to import

    y = resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator, axis=0)
    return y.astype(np.float32)


def _resampled_length(n: int, from_hz: float, to_hz: float) -> int:
    """Length of a segment of ``n`` samples after :func:`resample_segment`."""
    ratio = Fraction(to_hz / from_hz).limit_denominator(1000)
    return -(-n * ratio.numerator // ratio.denominator)


def resampled_labels(codes: np.ndarray, n_out: int, from_hz: float, to_hz: float) -> np.ndarray:
    """The label of each sample of a segment resampled by :func:`resample_segment`.

    Each output sample takes the label of the input sample nearest in time
    (the last one past the end).

    Parameters
    ----------
    codes : numpy.ndarray, shape (n_samples,)
        Label codes of the segment's samples at ``from_hz``.
    n_out : int
        Samples of the resampled segment (its length at ``to_hz``).
    from_hz, to_hz : float
        Source and target sampling rates in Hz.

    Returns
    -------
    numpy.ndarray, shape (n_out,)
        Codes at ``to_hz``, of ``codes``' dtype.
    """
    src = np.minimum(np.round(np.arange(n_out) * from_hz / to_hz).astype(int), len(codes) - 1)
    return codes[src]


def majority_labels(
    codes: np.ndarray, first: np.ndarray, n_win: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Majority label (0 = unlabelled, k + 1 = class k) and its fraction for each window.

    ``codes`` holds -1 (unlabelled) or a class index per sample; windows start
    at ``first`` and span ``n_win`` samples. Counts come from per-class
    cumulative sums, so memory stays O(n_samples * n_classes) whatever the hop.

    Returns
    -------
    label : numpy.ndarray of int, shape (n_windows,)
        0 = unlabelled majority, ``k + 1`` = class ``k``.
    fraction : numpy.ndarray of float, shape (n_windows,)
        Share of the window's samples with that label.
    """
    counts = np.empty((len(first), n_classes + 1), dtype=np.int64)
    for k in range(-1, n_classes):
        cum = np.concatenate([[0], np.cumsum(codes == k, dtype=np.int64)])
        counts[:, k + 1] = cum[first + n_win] - cum[first]
    best = np.argmax(counts, axis=1)
    return best, counts[np.arange(len(first)), best] / n_win


MEMORY_ENV_VAR = "TINYHAR_MEMORY_LIMIT_GB"
"""Environment variable capping the memory windowing may allocate, in GB (10**9 bytes)."""
WINDOW_OVERHEAD_BYTES = 64
"""Memory per window besides its samples: label, subject, session references and start time."""


def available_memory_bytes() -> int | None:
    """Memory available to this process now, in bytes (None when unknown).

    ``MemAvailable`` from ``/proc/meminfo`` (Linux); else ``psutil`` when
    installed; else the free physical pages from :func:`os.sysconf`.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit() -> int | None:
    """The windowing memory limit in bytes: ``$TINYHAR_MEMORY_LIMIT_GB`` or the memory available.

    Raises
    ------
    ConfigError
        If the environment variable is not a positive number.
    """
    text = os.environ.get(MEMORY_ENV_VAR)
    if text:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"{MEMORY_ENV_VAR}={text!r}: give a positive number of GB")
        return int(value * 1e9)
    return available_memory_bytes()


def check_window_memory(
    n_windows: int,
    n_samples: int,
    n_channels: int,
    hop: int,
    limit_bytes: int | None = None,
) -> int:
    """Estimate the memory windows need and refuse when it exceeds the limit.

    Parameters
    ----------
    n_windows, n_samples, n_channels : int
        Shape of the window array ``(n_windows, n_samples, n_channels)``,
        float32.
    hop : int
        Hop in samples (for the message).
    limit_bytes : int, optional
        The limit; by default :func:`memory_limit`.

    Returns
    -------
    int
        The estimate in bytes: ``n_windows * (n_samples * n_channels * 4 +``
        :data:`WINDOW_OVERHEAD_BYTES` ``)``.

    Raises
    ------
    ConfigError
        With the estimate and the limit in GB and the ways to shrink it.
    """
    need = n_windows * (n_samples * n_channels * 4 + WINDOW_OVERHEAD_BYTES)
    limit = limit_bytes if limit_bytes is not None else memory_limit()
    if limit is None or need <= limit:
        return need
    larger = max(hop * 2, n_samples // 2)
    raise ConfigError(
        f"windowing would need {need / 1e9:.3g} GB for {n_windows:,} windows of {n_samples} "
        f"samples x {n_channels} channels (float32), more than the {limit / 1e9:.3g} GB "
        f"available{' (' + MEMORY_ENV_VAR + ')' if os.environ.get(MEMORY_ENV_VAR) else ''}. "
        f"Use a larger hop (now {hop} sample(s); e.g. windows.hop: {larger} samples needs "
        f"about {need * hop / larger / 1e9:.3g} GB), fewer channels (dataset.sensors: acc), "
        "or shorter recordings (fewer subjects or sessions)"
    )


def make_windows(
    recordings: RecordingSet,
    window: float = 2.56,
    hop: float = 1.28,
    unit: str = "s",
    purity: float = 0.8,
    target_rate_hz: float | None = None,
    keep_unlabelled: bool = False,
    channels: list[str] | None = None,
    memory_limit_bytes: int | None = None,
) -> tuple[WindowSet, WindowingReport]:
    """Cut sliding, majority-labelled windows from continuous recordings.

    Parameters
    ----------
    recordings : RecordingSet
        Continuous sessions in canonical form.
    window, hop : float
        Window length and hop, in seconds or samples (see ``unit``). In
        seconds they are rounded to whole samples at the (target) rate.
    unit : {"s", "samples"}
        Unit of ``window`` and ``hop``; samples refer to the target rate.
    purity : float in (0, 1]
        Minimum fraction of a window's samples that must carry its majority
        label; windows below are dropped as ambiguous.
    target_rate_hz : float, optional
        Resample every segment to this rate (polyphase FIR) before windowing.
    keep_unlabelled : bool
        Keep windows whose majority is unlabelled, with label ``""``.
    channels : list of str, optional
        Channels to keep (default: all of the recording's).
    memory_limit_bytes : int, optional
        Refuse to allocate windows needing more than this; by default
        :func:`memory_limit` (``$TINYHAR_MEMORY_LIMIT_GB`` or the memory
        available now).

    Returns
    -------
    windows : WindowSet
        ``X`` of shape ``(n_windows, n_samples, n_channels)`` float32; its
        :attr:`~WindowSet.spec` (channels, units, rate, ``n_samples``,
        ``hop_samples``) is the :class:`~tinyhar.core.spec.WindowSpec` the run
        and its exports carry.
    report : WindowingReport
        Counts of dropped windows, gaps and short segments.

    Raises
    ------
    ConfigError
        Bad window/hop/purity values, a requested channel that is missing, or
        windows that would not fit in memory (:func:`check_window_memory`:
        the message gives the size and how to shrink it).

    Notes
    -----
    The kept windows are found first from the labels alone (per-class
    cumulative counts), so the window array is allocated once, at its
    final size, after the memory check.
    """
    if not 0.0 < purity <= 1.0:
        raise ConfigError(f"purity must be in (0, 1], got {purity!r}")
    channels = list(channels) if channels is not None else recordings.channels
    missing = [c for c in channels if c not in recordings.channels]
    if missing:
        raise ConfigError(
            f"channels {missing} are not in data set {recordings.name!r} "
            f"(it has {recordings.channels})"
        )
    rate = float(target_rate_hz) if target_rate_hz else recordings.sampling_rate_hz
    resample = bool(target_rate_hz) and rate != recordings.sampling_rate_hz
    n_win = to_samples(window, unit, rate, "window")
    n_hop = to_samples(hop, unit, rate, "hop")
    classes = recordings.classes
    report = WindowingReport()

    frame = recordings.frame
    codes_all = recordings.label_codes()
    values_all = frame[channels].to_numpy(dtype=np.float32)
    times_all = frame["time"].to_numpy()

    session_codes, session_names = frame["session"].factorize()
    bounds = np.flatnonzero(np.diff(session_codes)) + 1
    starts = np.concatenate([[0], bounds]) if len(frame) else bounds  # no rows: no session
    ends = np.concatenate([bounds, [len(frame)]]) if len(frame) else bounds
    subjects = frame["subject"]  # by position: to_numpy() would make a str per sample

    # pass 1: which windows are kept (labels only, no signal copies)
    plan: list[tuple] = []
    for s0, s1 in zip(starts, ends, strict=True):
        session = str(session_names[session_codes[s0]])
        subject = str(subjects.iloc[s0])
        time = times_all[s0:s1]
        seg_bounds, n_gaps = contiguous_segments(time, recordings.sampling_rate_hz)
        report.n_gaps += n_gaps
        for a, b in zip(seg_bounds[:-1], seg_bounds[1:], strict=True):
            codes = codes_all[s0 + a : s0 + b]
            n_out = b - a
            if resample:
                n_out = _resampled_length(b - a, recordings.sampling_rate_hz, rate)
                codes = resampled_labels(codes, n_out, recordings.sampling_rate_hz, rate)
            first = window_starts(n_out, n_win, n_hop)
            if not len(first):
                report.n_short_segments += 1
                report.n_short_samples += int(b - a)
                continue
            best, frac = majority_labels(codes, first, n_win, len(classes))
            is_unlabelled = best == 0
            ambiguous = ambiguous_windows(best, frac, purity)
            report.n_ambiguous += int(np.count_nonzero(ambiguous))
            if keep_unlabelled:
                keep = ~ambiguous
            else:
                report.n_unlabelled += int(np.count_nonzero(is_unlabelled))
                keep = ~ambiguous & ~is_unlabelled
            if keep.any():
                plan.append((s0 + a, s0 + b, time[a], first[keep], best[keep], subject, session))

    # pass 2: one allocation of the size now known, checked against the memory available
    n_total = sum(len(p[3]) for p in plan)
    check_window_memory(n_total, n_win, len(channels), n_hop, memory_limit_bytes)
    X = np.empty((n_total, n_win, len(channels)), dtype=np.float32)
    names = np.array([""] + classes, dtype=object)
    y = np.empty(n_total, dtype=object)
    subject_out = np.empty(n_total, dtype=object)
    session_out = np.empty(n_total, dtype=object)
    start_out = np.empty(n_total, dtype=np.float64)
    at = 0
    for a, b, t0, first, best, subject, session in plan:
        x = values_all[a:b]
        if resample:
            x = resample_segment(x, recordings.sampling_rate_hz, rate)
        view = np.lib.stride_tricks.sliding_window_view(x, n_win, axis=0)
        k = len(first)
        X[at : at + k] = view[first].transpose(0, 2, 1)
        y[at : at + k] = names[best]
        subject_out[at : at + k] = subject
        session_out[at : at + k] = session
        start_out[at : at + k] = t0 + first / rate
        at += k
    cat = {"y": y, "subject": subject_out, "session": session_out, "start": start_out}
    report.n_windows = int(X.shape[0])
    out = WindowSet(
        X,
        cat["y"],
        cat["subject"],
        cat["session"],
        cat["start"],
        channels,
        rate,
        classes,
        recordings.name,
        hop_samples=n_hop,
    )
    return out, report
