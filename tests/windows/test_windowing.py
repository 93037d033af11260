"""Windowing: majority labels, purity, gaps, short recordings, resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers import make_frame
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError
from tinyhar.windows.windowing import make_windows, resample_segment, to_samples


def _set(frame: pd.DataFrame, rate: float = 50.0, classes=("walk", "sit")) -> RecordingSet:
    return RecordingSet(frame, rate, list(classes), name="toy")


def test_counts_and_hop_in_samples():
    rec = _set(make_frame([("walk", 1000)]))
    w, rep = make_windows(rec, window=128, hop=64, unit="samples")
    assert len(w) == (1000 - 128) // 64 + 1 == 14
    assert w.X.shape == (14, 128, 6) and w.X.dtype == np.float32
    assert np.allclose(w.start_time, np.arange(14) * 64 / 50.0)
    assert set(w.y) == {"walk"} and rep.n_windows == 14 and rep.n_ambiguous == 0


def test_seconds_are_rounded_to_samples():
    assert to_samples(2.56, "s", 50.0, "window") == 128
    assert to_samples(1.28, "s", 50.0, "hop") == 64
    with pytest.raises(ConfigError, match="less than one sample"):
        to_samples(0.001, "s", 50.0, "hop")
    with pytest.raises(ConfigError, match="not a whole number"):
        to_samples(2.5, "samples", 50.0, "window")


def test_recording_shorter_than_a_window_gives_no_window():
    rec = _set(make_frame([("walk", 100)]))
    w, rep = make_windows(rec, window=128, hop=64, unit="samples")
    assert len(w) == 0 and w.X.shape == (0, 128, 6)
    assert rep.n_short_segments == 1 and rep.n_short_samples == 100


def test_label_change_inside_window_majority_and_purity():
    # 100 walk then 100 sit; windows of 100, hop 10
    rec = _set(make_frame([("walk", 100), ("sit", 100)]))
    w, rep = make_windows(rec, window=100, hop=10, unit="samples", purity=0.8)
    # starts 0..100 step 10 -> 11 windows; purity of start s: max(100-s, s)/100
    # ambiguous (purity < 0.8): starts 30, 40, 50, 60, 70 -> 5 windows
    assert rep.n_ambiguous == 5
    assert list(w.y) == ["walk", "walk", "walk", "sit", "sit", "sit"]
    w_all, rep_all = make_windows(rec, window=100, hop=10, unit="samples", purity=0.5)
    assert rep_all.n_ambiguous == 0 and len(w_all) == 11
    # a 50/50 tie goes to the first class in vocabulary order
    assert w_all.y[5] == "walk"


def test_unlabelled_windows_dropped_or_kept():
    rec = _set(make_frame([(None, 200), ("sit", 200)]))
    w, rep = make_windows(rec, window=100, hop=100, unit="samples")
    assert list(w.y) == ["sit", "sit"] and rep.n_unlabelled == 2
    w2, _ = make_windows(rec, window=100, hop=100, unit="samples", keep_unlabelled=True)
    assert list(w2.y) == ["", "", "sit", "sit"]


def test_gap_is_not_bridged():
    a = make_frame([("walk", 150)])
    b = make_frame([("walk", 150)], t0=10.0)  # 7 s gap in the same session
    rec = _set(pd.concat([a, b], ignore_index=True))
    w, rep = make_windows(rec, window=128, hop=64, unit="samples")
    assert rep.n_gaps == 1
    assert len(w) == 2  # one window per segment, none across the gap
    assert np.allclose(w.start_time, [0.0, 10.0])


def test_sessions_and_subjects_kept():
    a = make_frame([("walk", 256)], subject="7", session="a")
    b = make_frame([("sit", 256)], subject="8", session="b")
    rec = _set(pd.concat([a, b], ignore_index=True))
    w, _ = make_windows(rec, window=128, hop=128, unit="samples")
    assert list(w.subject) == ["7", "7", "8", "8"]
    assert list(w.session) == ["a", "a", "b", "b"]
    assert list(w.y) == ["walk", "walk", "sit", "sit"]


def test_resampling_to_target_rate_keeps_frequency():
    rate = 100.0
    frame = make_frame([("walk", 1000)], rate=rate)
    t = frame["time"].to_numpy()
    frame["acc_x"] = np.sin(2 * np.pi * 2.0 * t)
    w, _ = make_windows(_set(frame, rate), window=2.56, hop=2.56, target_rate_hz=50.0)
    assert w.sampling_rate_hz == 50.0 and w.n_samples == 128
    x = w.X[1, :, 0]  # away from the segment edges
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(128, 1 / 50.0)
    assert abs(freqs[np.argmax(spectrum)] - 2.0) < 50.0 / 128
    y = resample_segment(np.ones((300, 2)), 100.0, 50.0)
    assert y.shape == (150, 2)
    assert np.allclose(y[20:-20], 1.0, atol=1e-3)


def test_bad_purity_and_channels():
    rec = _set(make_frame([("walk", 300)]))
    with pytest.raises(ConfigError, match="purity"):
        make_windows(rec, purity=0.0)
    with pytest.raises(ConfigError, match="mag_x"):
        make_windows(rec, channels=["acc_x", "mag_x"])
