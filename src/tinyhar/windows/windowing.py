"""Cut continuous recordings into fixed-length, labelled windows.

Sliding windows of ``window`` samples advanced by ``hop`` samples are cut
from each contiguous segment of each session (a segment ends where the
sampling is interrupted: a time step longer than 1.5 sampling periods, or the
end of the session). Windows never span a gap or two sessions.

Each window gets the majority label of its samples. Its *purity* is the
fraction of samples carrying that label; windows below the purity threshold
are ambiguous (e.g. they straddle an activity change) and are dropped and
counted. Windows whose majority is "unlabelled" are dropped (or kept with
label ``""`` for continuous evaluation). This follows the common practice of
majority labelling (e.g. Banos et al. 2014, "Window size impact in human
activity recognition", Sensors 14(4):6474-6499).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError
from tinyhar.windows.windowset import WindowSet

GAP_FACTOR = 1.5
"""A time step longer than ``GAP_FACTOR`` sampling periods is a gap."""


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
        Interruptions in the sampling (time steps > 1.5 periods) found.
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
    y = resample_poly(x.astype(np.float64), ratio.numerator, ratio.denominator, axis=0)
    return y.astype(np.float32)


def _segments(time: np.ndarray, sampling_rate_hz: float) -> tuple[np.ndarray, int]:
    """Boundaries ``[0, b1, ..., n]`` of contiguous segments and the number of gaps."""
    if len(time) < 2:
        return np.array([0, len(time)]), 0
    gaps = np.flatnonzero(np.diff(time) > GAP_FACTOR / sampling_rate_hz) + 1
    return np.concatenate([[0], gaps, [len(time)]]), int(gaps.size)


def make_windows(
    recordings: RecordingSet,
    window: float = 2.56,
    hop: float = 1.28,
    unit: str = "s",
    purity: float = 0.8,
    target_rate_hz: float | None = None,
    keep_unlabelled: bool = False,
    channels: list[str] | None = None,
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

    Returns
    -------
    windows : WindowSet
        ``X`` of shape ``(n_windows, n_samples, n_channels)`` float32.
    report : WindowingReport
        Counts of dropped windows, gaps and short segments.

    Raises
    ------
    ConfigError
        Bad window/hop/purity values, or a requested channel that is missing.
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
    n_win = to_samples(window, unit, rate, "window")
    n_hop = to_samples(hop, unit, rate, "hop")
    classes = recordings.classes
    report = WindowingReport()
    parts: dict[str, list] = {k: [] for k in ("X", "y", "subject", "session", "start")}

    frame = recordings.frame
    codes_all = np.full(len(frame), -1, dtype=np.int16)
    labelled = frame["label"].notna().to_numpy()
    lookup = {c: i for i, c in enumerate(classes)}
    codes_all[labelled] = frame["label"][labelled].map(lookup).to_numpy(dtype=np.int16)
    values_all = frame[channels].to_numpy(dtype=np.float32)
    times_all = frame["time"].to_numpy()

    session_codes, session_names = frame["session"].factorize()
    bounds = np.flatnonzero(np.diff(session_codes)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(frame)]])
    subjects = frame["subject"].to_numpy()

    for s0, s1 in zip(starts, ends, strict=True):
        session = str(session_names[session_codes[s0]])
        subject = str(subjects[s0])
        time = times_all[s0:s1]
        seg_bounds, n_gaps = _segments(time, recordings.sampling_rate_hz)
        report.n_gaps += n_gaps
        for a, b in zip(seg_bounds[:-1], seg_bounds[1:], strict=True):
            x = values_all[s0 + a : s0 + b]
            codes = codes_all[s0 + a : s0 + b]
            t0 = time[a]
            if target_rate_hz and rate != recordings.sampling_rate_hz:
                x = resample_segment(x, recordings.sampling_rate_hz, rate)
                src = np.minimum(
                    np.round(np.arange(len(x)) * recordings.sampling_rate_hz / rate).astype(int),
                    len(codes) - 1,
                )
                codes = codes[src]
            if len(x) < n_win:
                report.n_short_segments += 1
                report.n_short_samples += int(b - a)
                continue
            first = np.arange(0, len(x) - n_win + 1, n_hop)
            idx = first[:, None] + np.arange(n_win)[None, :]
            win_codes = codes[idx]
            # counts per class, with column 0 = unlabelled
            counts = np.stack(
                [np.count_nonzero(win_codes == k, axis=1) for k in range(-1, len(classes))],
                axis=1,
            )
            best = np.argmax(counts, axis=1)
            frac = counts[np.arange(len(first)), best] / n_win
            is_unlabelled = best == 0
            ambiguous = ~is_unlabelled & (frac < purity)
            report.n_ambiguous += int(np.count_nonzero(ambiguous))
            if keep_unlabelled:
                keep = ~ambiguous
            else:
                report.n_unlabelled += int(np.count_nonzero(is_unlabelled))
                keep = ~ambiguous & ~is_unlabelled
            if not keep.any():
                continue
            labels = np.array([""] + classes, dtype=object)[best[keep]]
            parts["X"].append(x[idx[keep]])
            parts["y"].append(labels)
            parts["subject"].append(np.full(int(keep.sum()), subject, dtype=object))
            parts["session"].append(np.full(int(keep.sum()), session, dtype=object))
            parts["start"].append(t0 + first[keep] / rate)

    if parts["X"]:
        X = np.concatenate(parts["X"])
        cat = {k: np.concatenate(v) for k, v in parts.items() if k != "X"}
    else:
        X = np.zeros((0, n_win, len(channels)), dtype=np.float32)
        cat = {k: np.zeros(0, dtype=object) for k in ("y", "subject", "session")}
        cat["start"] = np.zeros(0)
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
    )
    return out, report
