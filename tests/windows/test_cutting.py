"""The window-cutting rules: gaps, window starts, ambiguous windows, and rows given in batches.

The session used throughout: 2 Hz (a period of 0.5 s, so 1.5 periods is 0.75 s, exact in
binary), 25 rows in three segments: 10 rows (one step of exactly 1.5 periods inside, not a
gap), a gap, 3 rows (shorter than a window of 4), a gap, 12 rows; windows of 4 rows every 3.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.recording import RecordingSet
from tinyhar.windows.cutting import (
    GAP_FACTOR,
    WindowCursor,
    ambiguous_windows,
    contiguous_segments,
    segment_starts,
    window_starts,
)
from tinyhar.windows.windowing import make_windows

RATE, N_WIN, N_HOP = 2.0, 4, 3
STEPS = [0.5] * 5 + [0.75] + [0.5] * 3 + [3.0] + [0.5] * 2 + [1.0] + [0.5] * 11
TIME = np.concatenate([[0.0], np.cumsum(STEPS)])  # 25 rows; segments 0:10, 10:13, 13:25
SEGMENTS = [(0, 10), (10, 13), (13, 25)]


def _whole_session() -> list[tuple[int, float, list[int]]]:
    """(segment, start time in s, rows) of each window of the session, from
    :func:`make_windows` (``acc_x`` holds the row index, every row labelled)."""
    n = len(TIME)
    frame = pd.DataFrame({"time": TIME, "acc_x": np.arange(n, dtype=float),
                          "acc_y": np.zeros(n), "acc_z": np.ones(n), "label": "walk",
                          "subject": "1", "session": "s1"})
    w, report = make_windows(RecordingSet(frame, RATE, ["walk"]), window=N_WIN, hop=N_HOP,
                             unit="samples", purity=1.0, keep_unlabelled=True)
    assert (report.n_gaps, report.n_short_segments, report.n_short_samples) == (2, 1, 3)
    rows = w.X[:, :, 0].astype(int).tolist()
    segment = [next(i for i, (a, b) in enumerate(SEGMENTS) if a <= r[0] < b) for r in rows]
    return list(zip(segment, w.start_time.tolist(), rows, strict=True))


def _cut(sizes: list[int]) -> list[tuple[int, float, list[int]]]:
    """The windows a :class:`WindowCursor` finds in the session given in batches of ``sizes``
    rows, as its user cuts them: holding the rows (their indices) it has not released."""
    cursor = WindowCursor(N_WIN, N_HOP, RATE)
    rows = np.arange(len(TIME))
    held = rows[:0]
    out = []
    at = 0
    for size in sizes:
        t, r = TIME[at:at + size], rows[at:at + size]
        at += size
        for a, b, new in cursor.runs(t):
            if new:
                cursor.open(float(t[a]))
                held = held[:0]
            held = np.concatenate([held, r[a:b]])
            cursor.extend(b - a)
            for p in cursor.starts().tolist():
                local = p - cursor.held
                out.append((cursor.segment, cursor.t0 + p / RATE,
                            held[local:local + N_WIN].tolist()))
            held = held[cursor.release():]
            assert len(held) < N_WIN  # all but the rows of the next window are dropped
    assert at == len(TIME)
    return out


def test_the_session_has_the_segments_and_windows_stated():
    bounds, n_gaps = contiguous_segments(TIME, RATE)
    assert bounds.tolist() == [0, 10, 13, 25] and n_gaps == 2
    windows = _whole_session()
    assert [w[2][0] for w in windows] == [0, 3, 6, 13, 16, 19]
    # a window starts at its segment's first time plus its position over the rate
    assert [w[1] for w in windows] == [0.0, 1.5, 3.0, 9.75, 11.25, 12.75]
    assert all(rows == list(range(rows[0], rows[0] + N_WIN)) for _, _, rows in windows)


def test_a_step_of_exactly_the_gap_factor_is_no_gap():
    assert GAP_FACTOR == 1.5
    assert segment_starts(np.array([0.0, 0.5, 1.25, 2.25]), RATE).tolist() == [3]
    assert segment_starts(np.array([1.25, 2.25]), RATE, previous=0.5).tolist() == [1]
    assert segment_starts(np.array([1.75, 2.25]), RATE, previous=0.5).tolist() == [0]


@pytest.mark.parametrize("edge", range(len(TIME) + 1))
def test_one_batch_edge_anywhere_gives_the_windows_of_the_whole_session(edge):
    assert _cut([edge, len(TIME) - edge]) == _whole_session()


def test_two_batch_edges_anywhere_and_single_rows_give_the_whole_session():
    whole = _whole_session()
    for a, b in itertools.combinations_with_replacement(range(len(TIME) + 1), 2):
        assert _cut([a, b - a, len(TIME) - b]) == whole, (a, b)
    assert _cut([1] * len(TIME)) == whole


def test_a_gap_exactly_at_a_batch_edge_starts_the_next_batch_with_a_new_segment():
    cursor = WindowCursor(N_WIN, N_HOP, RATE)
    assert cursor.runs(TIME[:13]) == [(0, 10, True), (10, 13, True)]
    assert cursor.runs(TIME[13:20]) == [(0, 7, True)]  # the gap is between the batches
    assert cursor.runs(TIME[20:]) == [(0, 5, False)]
    assert cursor.runs(TIME[:0]) == []


def test_a_segment_shorter_than_a_window_gives_none():
    cursor = WindowCursor(N_WIN, N_HOP, RATE)
    runs = cursor.runs(TIME[10:13])
    assert runs == [(0, 3, True)]
    cursor.open(float(TIME[10]))
    cursor.extend(3)
    assert cursor.starts().size == 0 and cursor.release() == 0 and cursor.held == 0
    assert window_starts(3, N_WIN, N_HOP).size == 0
    assert window_starts(4, N_WIN, N_HOP).tolist() == [0]


def test_whole_chunks_only_give_the_same_windows_later():
    cursor = WindowCursor(N_WIN, N_HOP, RATE)
    cursor.runs(TIME[13:25])
    cursor.open(float(TIME[13]))
    cursor.extend(12)
    assert cursor.starts(multiple=2).tolist() == [0, 3]  # 3 windows fit, 2 taken
    assert cursor.release() == 6 and cursor.held == 6
    assert cursor.starts().tolist() == [6]  # (all: e.g. when the segment ends)
    assert cursor.release() == 3 and cursor.held == 9 and cursor.next == 9


def test_window_starts_continue_from_the_next_window():
    assert window_starts(10, 4, 3).tolist() == [0, 3, 6]
    assert window_starts(10, 4, 3, first=3).tolist() == [3, 6]
    assert window_starts(12, 4, 3, first=9).tolist() == []


def test_ambiguous_windows_are_the_labelled_ones_below_the_purity():
    label = np.array([0, 1, 2, 1, 0])
    fraction = np.array([0.5, 0.9, 0.7, 0.8, 0.1])
    assert ambiguous_windows(label, fraction, 0.8).tolist() == [False, False, True, False, False]
    assert ambiguous_windows(label, fraction, 1.0).tolist() == [False, True, True, True, False]
