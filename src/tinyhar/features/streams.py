"""Every window of whole recordings, cut and featurised as a stream is: no model needed.

A recording (or consecutive batches of its rows) is cut into windows at the
pipeline's window length and *streaming* hop, as the device cuts its stream
(:func:`iter_stream_windows`: every window, impure and unlabelled ones
included, with the majority label; the samples a window needs are carried
from one batch to the next), and each valid window is turned into the
pipeline's model inputs (:func:`iter_stream_features`, giving
:class:`StreamFeatures`). Classifying them is the evaluation's part
(:func:`tinyhar.evaluation.streams.classify_stream_features`,
:func:`tinyhar.evaluation.streams.stream_predictions`); the out-of-core
feature table (:mod:`tinyhar.features.table`) keeps them next to the
training rows so that a session is read once.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from tinyhar.core.channels import require_channels
from tinyhar.core.ids import repeated_id
from tinyhar.core.windowset import WindowSet
from tinyhar.datasets.recording import RecordingSet
from tinyhar.features.validity import invalid_windows
from tinyhar.windows.cutting import WindowCursor, window_starts
from tinyhar.windows.windowing import majority_labels, resample_segment, resampled_labels

STREAM_CHUNK = 4096
"""Windows classified at a time (bounds the memory of :func:`stream_predictions`)."""


@dataclass
class StreamChunk:
    """Consecutive windows of one contiguous part of one session (see :func:`iter_stream_windows`).

    Attributes
    ----------
    windows : WindowSet
        ``X`` of shape ``(n, n_samples, n_channels)``; ``y`` the majority
        label of each window (``""`` = mostly unlabelled), whatever its purity.
    part : int
        Index of the contiguous part (between gaps) of the session, from 0.
    first : bool
        True for the first chunk of its part.
    purity : numpy.ndarray of float, shape (n,)
        Share of each window's samples that carry its majority label (``y``;
        unlabelled samples count as a label), as
        :func:`~tinyhar.windows.windowing.majority_labels` gives it.
    """

    windows: WindowSet
    part: int
    first: bool
    purity: np.ndarray | None = None


def iter_stream_windows(
    recordings: RecordingSet | Iterable[RecordingSet],
    n_samples: int,
    hop_samples: int,
    sampling_rate_hz: float | None = None,
    channels: Sequence[str] | None = None,
    chunk: int = STREAM_CHUNK,
) -> Iterator[StreamChunk]:
    """Every window of every session, in time order, in chunks of at most ``chunk`` windows.

    Parameters
    ----------
    recordings : RecordingSet or iterable of RecordingSet
        Continuous sessions (g, rad/s); or consecutive pieces of them, rows
        in order (e.g. the batches of rows of one long session,
        :meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`): a
        session may continue from one piece into the next, and the windows,
        labels, start times and chunks are exactly those of the pieces
        joined into one :class:`RecordingSet` (the last ``n_samples - hop``
        or so samples of a piece are carried over to the next; the chunks
        are cut at the same windows). Each piece's ``time`` is from its
        session's start, as in the whole recording.
    n_samples, hop_samples : int
        Window length and hop, in samples at ``sampling_rate_hz``.
    sampling_rate_hz : float, optional
        Rate of the windows (default: the recordings'); each contiguous part
        is resampled to it first (polyphase FIR,
        :func:`tinyhar.windows.windowing.resample_segment`). Resampling
        needs the whole contiguous part (between gaps), so then a part is
        held until it ends. Upsampling (recordings at a lower rate) warns
        once (``UserWarning``): the result lacks the content between the two
        Nyquist frequencies.
    channels : sequence of str, optional
        Channels, in order (default: all of the recordings').
    chunk : int
        Most windows per yielded chunk.

    Yields
    ------
    StreamChunk

    Raises
    ------
    DataFormatError
        A channel is missing.
    """
    pieces = [recordings] if isinstance(recordings, RecordingSet) else recordings
    cutter = _WindowCutter(n_samples, hop_samples, sampling_rate_hz, channels, chunk)
    for piece in pieces:
        yield from cutter.add(piece)
    yield from cutter.flush()


class _WindowCutter:
    """Cuts windows from consecutive pieces of recordings (:func:`iter_stream_windows`).

    State between pieces: the current session, the samples of its open
    contiguous part (from the next window's first sample on; the whole part
    when resampling) and where its segments and windows are
    (:class:`~tinyhar.windows.cutting.WindowCursor`: the rules of
    :func:`~tinyhar.windows.windowing.make_windows`).

    With ``eager``, each piece gives every window it completes (the last
    chunk of a piece may be short) instead of whole chunks only: the
    windows are the same, the chunks not. ``n_gaps``, ``n_short_segments``
    and ``n_short_samples`` count what
    :class:`~tinyhar.windows.windowing.WindowingReport` counts.
    """

    def __init__(self, n_samples: int, hop_samples: int, sampling_rate_hz: float | None,
                 channels: Sequence[str] | None, chunk: int, eager: bool = False) -> None:
        self.n, self.hop, self.chunk = int(n_samples), int(hop_samples), max(1, int(chunk))
        self.eager = eager
        self.n_gaps = self.n_short_segments = self.n_short_samples = 0
        self.rate_out = sampling_rate_hz
        self.channels = None if channels is None else list(channels)
        self.classes: list[str] = []
        self.sorted_classes = True  # every piece's class list was sorted: keep the union sorted
        self.session: str | None = None
        self.buf: dict | None = None  # the open part of the current session
        self.warned_upsampling = False

    # ---------------------------------------------------------------- pieces
    def add(self, recordings: RecordingSet) -> Iterator[StreamChunk]:
        """Windows completed by one more piece."""
        if self.channels is None:
            self.channels = recordings.channels
        require_channels(self.channels, recordings.channels, recordings.source)
        self.rate_in = recordings.sampling_rate_hz
        self.rate = float(self.rate_out or self.rate_in)
        self.resample = abs(self.rate - self.rate_in) > 1e-9 * self.rate
        if self.resample and self.rate_in < self.rate and not self.warned_upsampling:
            self.warned_upsampling = True
            warnings.warn(
                f"{recordings.source}: recorded at {self.rate_in:g} Hz, upsampled to the "
                f"windows' {self.rate:g} Hz: it has no content from {self.rate_in / 2:g} to "
                f"{self.rate / 2:g} Hz, which the features at {self.rate:g} Hz describe, so "
                f"expect less accurate results; record at {self.rate:g} Hz or more, or use a "
                f"model trained at {self.rate_in:g} Hz (windows.target_rate_hz)",
                UserWarning, stacklevel=2)
        self.name = recordings.name
        frame = recordings.frame
        if not len(frame):
            return
        codes_all = self._codes(recordings)
        session_codes, session_names = frame["session"].factorize()
        bounds = np.flatnonzero(np.diff(session_codes)) + 1
        starts = np.concatenate([[0], bounds]).astype(int)
        ends = np.concatenate([bounds, [len(frame)]]).astype(int)
        subject_of = frame["subject"]  # not to_numpy(): that makes a Python str per sample
        times = frame["time"].to_numpy()
        for s0, s1 in zip(starts, ends, strict=True):
            session = str(session_names[session_codes[s0]])
            if session != self.session:
                yield from self.flush()
                self.session, self.subject = session, str(subject_of.iloc[s0])
                self.part, self.buf = -1, None
                self.cursor = WindowCursor(self.n, self.hop, self.rate_in)
            x = frame[self.channels].iloc[s0:s1].to_numpy(dtype=np.float32)
            yield from self._extend(times[s0:s1], x, codes_all[s0:s1])

    def flush(self) -> Iterator[StreamChunk]:
        """The remaining windows of the open part (at the end of its session)."""
        if self.session is not None and self.buf is not None:
            yield from self._emit(closed=True)
        self.buf = None

    def _codes(self, recordings: RecordingSet) -> np.ndarray:
        """Label codes of a piece in the cutter's class table (extended as classes appear).

        Ties between labels of a window go to the first in the table, as
        :func:`~tinyhar.windows.windowing.majority_labels` does for one
        recording; the table keeps the pieces' order (sorted when they are),
        so that the order of any two classes is that of the joined recordings.
        """
        classes = list(recordings.classes)
        if classes != self.classes:
            self.sorted_classes &= classes == sorted(classes)
            union = self.classes + [c for c in classes if c not in self.classes]
            if self.sorted_classes:
                union = sorted(union)
            if union != self.classes and self.buf is not None:
                remap = np.array([union.index(c) for c in self.classes] + [-1], dtype=np.int16)
                self.buf["codes"] = remap[self.buf["codes"]]
            self.classes = union
        lookup = np.array([self.classes.index(c) for c in classes] + [-1], dtype=np.int16)
        return lookup[recordings.label_codes()]

    # ----------------------------------------------------------------- parts
    def _extend(self, t: np.ndarray, x: np.ndarray, codes: np.ndarray) -> Iterator[StreamChunk]:
        """Append samples of the current session; emit the windows they complete."""
        runs = self.cursor.runs(t)
        for a, b, new in runs:
            if new or self.buf is None:  # (none: the session's first rows, or after flush)
                if self.buf is not None:  # a gap ends the open part
                    self.n_gaps += 1
                    yield from self._emit(closed=True)
                self.cursor.open(float(t[a]))
                self.buf = {"x": x[a:b], "codes": codes[a:b]}
            else:  # the open part goes on
                self.buf = {"x": np.concatenate([self.buf["x"], x[a:b]]),
                            "codes": np.concatenate([self.buf["codes"], codes[a:b]])}
            self.cursor.extend(b - a)
        if runs:
            yield from self._emit(closed=False)

    def _emit(self, closed: bool) -> Iterator[StreamChunk]:
        """Windows of the open part: all when ``closed``, else the whole chunks that fit."""
        buf, cursor = self.buf, self.cursor
        if self.resample:
            if not closed:
                return
            x = resample_segment(buf["x"], self.rate_in, self.rate)
            codes, held = resampled_labels(buf["codes"], len(x), self.rate_in, self.rate), 0
            first = window_starts(len(x), self.n, self.hop)  # (the part is held whole)
        else:
            x, codes, held = buf["x"], buf["codes"], cursor.held
            first = cursor.starts(1 if closed or self.eager else self.chunk)
        if closed and not len(first) and not cursor.next:  # shorter than one window
            self.n_short_segments += 1
            self.n_short_samples += cursor.end  # (samples as read)
        if len(first):
            view = np.lib.stride_tricks.sliding_window_view(x, self.n, axis=0)
            names = np.array([""] + self.classes, dtype=object)
            for c0 in range(0, len(first), self.chunk):
                idx = first[c0 : c0 + self.chunk]  # in the part
                if idx[0] == 0:
                    self.part += 1
                lo = idx[0] - held  # the chunk's samples only: counts are per window
                best, frac = majority_labels(codes[lo : idx[-1] - held + self.n],
                                             idx - held - lo, self.n, len(self.classes))
                n = len(idx)
                yield StreamChunk(
                    WindowSet(
                        view[idx - held].transpose(0, 2, 1), names[best],
                        repeated_id(self.subject, n),
                        repeated_id(self.session, n),
                        cursor.t0 + idx / self.rate, self.channels, self.rate, self.classes,
                        self.name,
                    ),
                    self.part,
                    bool(idx[0] == 0),
                    frac,
                )
        if closed or self.resample:
            return
        drop = cursor.release()
        if drop:
            buf.update(x=x[drop:].copy(), codes=codes[drop:].copy())


_FEATURE_ROWS = ("session", "subject", "run", "t_start", "t_end", "y", "invalid",
                 "acc_magnitude")
"""Per-window arrays of :class:`StreamFeatures` (besides ``gravity`` and ``features``)."""


@dataclass
class StreamFeatures:
    """Every window of whole streams as model inputs: :class:`StreamPredictions` before a model.

    What classifying a stream needs from its samples, computed once: the
    features of each valid window and the window facts. Any model (the
    final one, or the cross-validation fold model of each subject) then
    classifies them (:meth:`predictions`) without the samples; the result
    equals :func:`stream_predictions` on the same recordings (the same
    windows, features and runs; the classifiers score each row on its own).

    Attributes
    ----------
    session, subject, run, t_start, t_end, y, invalid, acc_magnitude : numpy.ndarray
        Per window, shape (n_windows,), as in :class:`StreamPredictions`.
    gravity : numpy.ndarray of float64, shape (n_windows, 3), or None
        As in :class:`StreamPredictions`.
    features : numpy.ndarray of float32, shape (n_valid, n_features)
        Model inputs of the valid windows (``~invalid``), in order (raw
        windows ``(n_valid, n_samples, n_channels)`` for a network).
    window_s, hop_s : float
        Window length and hop in s.

    Notes
    -----
    Memory: ``4 * n_features + 60`` bytes per window (about 0.9 kB for the
    default feature set), the same order as the training rows.
    """

    session: np.ndarray
    subject: np.ndarray
    run: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    y: np.ndarray
    invalid: np.ndarray
    acc_magnitude: np.ndarray
    gravity: np.ndarray | None
    features: np.ndarray
    window_s: float
    hop_s: float

    def __len__(self) -> int:
        return len(self.session)

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (object arrays counted as pointers)."""
        arrays = [getattr(self, k) for k in (*_FEATURE_ROWS, "gravity", "features")]
        return int(sum(a.nbytes for a in arrays if a is not None))

    def subset(self, mask: np.ndarray) -> StreamFeatures:
        """The windows where ``mask`` (bool, shape (n_windows,)) is true, order kept."""
        mask = np.asarray(mask, bool)
        return StreamFeatures(
            **{k: getattr(self, k)[mask] for k in _FEATURE_ROWS},
            gravity=None if self.gravity is None else self.gravity[mask],
            features=self.features[mask[~self.invalid]], window_s=self.window_s,
            hop_s=self.hop_s,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[StreamFeatures], n_features: int, window_s: float,
                    hop_s: float) -> StreamFeatures:
        """Windows of several parts, one after the other (e.g. the chunks of one session)."""
        if not parts:
            empty = np.zeros(0)
            return cls(empty.astype(object), empty.astype(object), empty.astype(np.int64),
                       empty, empty, empty.astype(object), empty.astype(bool), empty, None,
                       np.zeros((0, n_features), np.float32), window_s, hop_s)
        grav = [p.gravity for p in parts]
        return cls(
            **{k: np.concatenate([getattr(p, k) for p in parts]) for k in _FEATURE_ROWS},
            gravity=np.concatenate(grav) if all(g is not None for g in grav) else None,
            features=np.concatenate([p.features for p in parts if len(p.features)]
                                    or [parts[0].features]), window_s=window_s,
            hop_s=hop_s,
        )


def iter_stream_features(
    pipeline,
    recordings: RecordingSet | Iterable[RecordingSet],
    chunk: int = STREAM_CHUNK,
) -> Iterator[StreamFeatures]:
    """The features of every window of the recordings, chunk by chunk (no model needed).

    Windows are cut as :func:`stream_predictions` cuts them
    (:func:`iter_stream_windows` at the pipeline's window length, streaming
    hop and rate); invalid windows (:func:`~tinyhar.features.validity.invalid_windows`)
    get no features and start a new run; with ``stack_previous`` the
    previous window of the same run is stacked, across chunks too.

    Parameters
    ----------
    pipeline : HarPipeline
        Gives the window layout, ``transform`` and ``stack_previous``.
    recordings : RecordingSet or iterable of RecordingSet
        As :func:`stream_predictions`.
    chunk : int
        Most windows per yielded part.

    Yields
    ------
    StreamFeatures
        One per chunk of windows (of one session).

    Raises
    ------
    DataFormatError
        Missing channels.
    """
    n_win, hop = int(pipeline.n_samples), int(pipeline.streaming_hop)
    rate = float(pipeline.sampling_rate_hz)
    acc = [i for i, c in enumerate(pipeline.channels) if c.startswith("acc_")]
    xyz = [list(pipeline.channels).index(c) for c in ("acc_x", "acc_y", "acc_z")
           if c in pipeline.channels]
    run = 0
    tail: WindowSet | None = None  # last valid window of the current run (stack_previous)
    last_bad = False
    for piece in iter_stream_windows(recordings, n_win, hop, rate, pipeline.channels, chunk):
        w = piece.windows
        if piece.first:
            run = 0 if piece.part == 0 else run + 1
            tail, last_bad = None, False
        bad = invalid_windows(w.X)
        restart = np.concatenate([[last_bad], bad[:-1]]) & ~bad
        runs = run + np.cumsum(restart)
        if restart[0]:
            tail = None
        run, last_bad = int(runs[-1]), bool(bad[-1])
        ok = np.flatnonzero(~bad)
        features = None
        if ok.size:
            valid = w.subset(ok)
            valid.session = np.array([f"{s}\x1f{r}" for s, r in zip(valid.session, runs[ok],
                                                                     strict=True)], dtype=object)
            head = 0
            if pipeline.stack_previous and tail is not None and tail.session[0] == valid.session[0]:
                valid = _join(tail, valid)
                head = 1
            features = np.asarray(pipeline.transform(valid)[head:])
            tail = valid.subset(np.arange(len(valid)) == len(valid) - 1)
        if bad[-1]:
            tail = None
        mag = np.full(len(w), np.nan)
        if acc:
            with np.errstate(invalid="ignore", over="ignore"):
                m = np.sqrt((w.X[..., acc].astype(np.float64) ** 2).sum(axis=2)).mean(axis=1)
            mag = np.where(bad, np.nan, m)
        grav = None
        if len(xyz) == 3:
            with np.errstate(invalid="ignore", over="ignore"):
                grav = w.X[..., xyz].astype(np.float64).mean(axis=1)
            grav[bad] = np.nan
        if features is None:  # no valid window: no rows (of any width)
            features = np.zeros((0, 0), np.float32)
        yield StreamFeatures(
            w.session, w.subject, runs.astype(np.int64), w.start_time,
            w.start_time + n_win / rate, w.y, bad, mag, grav, features, n_win / rate, hop / rate,
        )


def _join(a: WindowSet, b: WindowSet) -> WindowSet:
    """Two window sets of the same layout, one after the other."""
    return WindowSet(
        np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]),
        np.concatenate([a.subject, b.subject]), np.concatenate([a.session, b.session]),
        np.concatenate([a.start_time, b.start_time]), b.channels, b.sampling_rate_hz,
        b.classes, b.name,
    )
