"""Windowing: majority labels, purity, gaps, short recordings, resampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers import make_frame
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError
from tinyhar.windows import windowing
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


def test_a_recording_without_samples_gives_no_window():
    """A recording without samples (e.g. every row filtered out) gives no window."""
    rec = _set(make_frame([("walk", 100)]).iloc[:0])
    w, rep = make_windows(rec, window=128, hop=64, unit="samples", keep_unlabelled=True)
    assert len(w) == 0 and w.X.shape == (0, 128, 6)
    assert rep.n_windows == 0 and rep.n_short_segments == 0


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


def test_hop_of_one_sample_gives_every_window_in_order():
    rec = _set(make_frame([("walk", 300)]))
    rec.frame["acc_x"] = np.arange(300, dtype=np.float32)
    w, _ = make_windows(rec, window=50, hop=1, unit="samples")
    assert len(w) == 251
    np.testing.assert_array_equal(w.X[:, :, 0], np.arange(251)[:, None] + np.arange(50)[None, :])


def test_memory_estimate_refuses_with_the_size_and_a_fix(monkeypatch):
    rec = _set(make_frame([("walk", 5000)]))
    # 4873 windows of 128 samples x 6 channels: 4873 * (128 * 6 * 4 + 64) bytes = 15.3 MB
    with pytest.raises(ConfigError) as caught:
        make_windows(rec, window=128, hop=1, unit="samples", memory_limit_bytes=10**7)
    message = str(caught.value)
    assert "0.0153 GB for 4,873 windows of 128 samples x 6 channels" in message
    assert "0.01 GB available" in message
    assert "larger hop (now 1 sample(s); e.g. windows.hop: 64 samples" in message
    assert "dataset.sensors: acc" in message
    w, _ = make_windows(rec, window=128, hop=1, unit="samples", memory_limit_bytes=2 * 10**7)
    assert len(w) == 4873
    monkeypatch.setenv(windowing.MEMORY_ENV_VAR, "0.001")
    with pytest.raises(ConfigError, match=r"more than the 0\.001 GB available \(TINYHAR_MEMORY"):
        make_windows(rec, window=128, hop=1, unit="samples")
    monkeypatch.setenv(windowing.MEMORY_ENV_VAR, "lots")
    with pytest.raises(ConfigError, match="TINYHAR_MEMORY_LIMIT_GB='lots'"):
        make_windows(rec, window=128, hop=1, unit="samples")


def test_available_memory_is_known_here():
    available = windowing.available_memory_bytes()
    assert available is None or available > 0


def test_only_unlabelled_data_is_told_to_label_not_to_record_longer():
    from tinyhar.config import make_config
    from tinyhar.errors import EvaluationError
    from tinyhar.training import make_window_set

    rec = _set(make_frame([(None, 1000)]))
    with pytest.raises(EvaluationError) as caught:
        make_window_set(rec, make_config())
    message = str(caught.value)
    assert "no sample of 'toy' is labelled" in message and "label column" in message
    assert "record longer" not in message
    short = _set(make_frame([("walk", 100)]))
    with pytest.raises(EvaluationError, match="1 segment.* shorter than a window: use shorter"):
        make_window_set(short, make_config())
