"""The synthetic generator: sizes, real HAPT signal, determinism, bad arguments."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import activity_segments, synthesize
from tinyhar.errors import TinyharError


@pytest.fixture(scope="module")
def hapt():
    return load_bundled_hapt().select(subjects=["1", "2"])


def test_sizes_labels_and_definition(tmp_path, hapt):
    summary = synthesize(tmp_path / "d", 2, 0.25, session_hours=0.1, source=hapt, seed=1)
    assert summary.samples == 2 * 45_000 and summary.n_sessions == 6
    assert summary.hours == pytest.approx(0.5)
    assert summary.source_subjects == {"s001": "1", "s002": "2"}
    recordings = load_custom(summary.definition)
    assert recordings.n_samples == summary.samples
    assert recordings.subjects == ["s001", "s002"]
    assert set(recordings.frame["label"].unique()) <= set(hapt.classes)
    assert recordings.frame["label"].notna().all()
    assert json.loads((tmp_path / "d" / "synthetic.json").read_text())["seed"] == 1
    assert len(session_sources(summary.definition)) == 6


def test_the_signal_is_real_hapt_data(tmp_path, hapt):
    """Away from the 0.2 s joins, every bout's samples are a stretch of a real segment."""
    summary = synthesize(tmp_path / "d", 1, 0.05, source=hapt, seed=2, min_bout_s=20,
                         max_bout_s=40)
    segments = activity_segments(hapt)["1"]
    table = pq.read_table(next((tmp_path / "d" / "recordings").glob("*.parquet")))
    x = np.column_stack([table.column(c).to_numpy() for c in
                         ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")])
    label = table.column("label").to_pylist()
    probe = x[5:25]  # the first 0.4 s of the first bout, before any join
    found = any(
        (np.lib.stride_tricks.sliding_window_view(seg, (20, 6)).reshape(-1, 20, 6) == probe)
        .all(axis=(1, 2)).any()
        for seg in segments[label[0]]
    )
    assert found
    # bout durations are in the requested range (the last one may be cut by the end)
    changes = np.flatnonzero(np.array(label[1:]) != np.array(label[:-1])) + 1
    runs = np.diff(np.r_[0, changes, len(label)])[:-1] / 50.0
    assert runs.min() >= 20 - 1e-9 and runs.max() <= 40 + 1e-9
    assert summary.samples == 9000


def test_same_seed_same_files_and_100_hz(tmp_path, hapt):
    a = synthesize(tmp_path / "a", 1, 0.02, source=hapt, seed=5)
    b = synthesize(tmp_path / "b", 1, 0.02, source=hapt, seed=5)
    def read(name):
        return pq.read_table(next((tmp_path / name / "recordings").glob("*"))).to_pandas()

    assert read("a").equals(read("b")) and a.samples == b.samples
    fast = synthesize(tmp_path / "c", 1, 0.02, rate_hz=100, source=hapt, seed=5)
    assert fast.samples == 7200 and load_custom(fast.definition).sampling_rate_hz == 100


def test_bad_arguments_and_existing_folders(tmp_path, hapt):
    with pytest.raises(TinyharError, match="rate must be one of"):
        synthesize(tmp_path / "x", 1, 1, rate_hz=64, source=hapt)
    with pytest.raises(TinyharError, match="subjects must be"):
        synthesize(tmp_path / "x", 0, 1, source=hapt)
    with pytest.raises(TinyharError, match="hours must be"):
        synthesize(tmp_path / "x", 1, float("nan"), source=hapt)
    synthesize(tmp_path / "x", 1, 0.01, source=hapt)
    with pytest.raises(TinyharError, match="already exists"):
        synthesize(tmp_path / "x", 1, 0.01, source=hapt)
    synthesize(tmp_path / "x", 1, 0.01, source=hapt, overwrite=True)
    (tmp_path / "mine").mkdir()
    with pytest.raises(TinyharError, match="not written by"):
        synthesize(tmp_path / "mine", 1, 0.01, source=hapt, overwrite=True)
    with pytest.raises(TinyharError, match="gyroscope"):
        synthesize(tmp_path / "y", 1, 0.01, source=hapt.select(channels=["acc_x", "acc_y",
                                                                           "acc_z"]))
