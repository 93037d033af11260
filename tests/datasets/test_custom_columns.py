"""The lean loaders: same recordings as the canonical form, strings per value, not per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.checks import clipped_channels, magnitude_of
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import DataFormatError


@pytest.fixture(scope="module")
def two_subjects() -> RecordingSet:
    hapt = load_bundled_hapt()
    return hapt.select(subjects=hapt.subjects[:2])


def _definition(folder, files: str, extra: str = "") -> str:
    text = (
        f"files: {files}\nsampling_rate_hz: 50\n"
        "columns: {time: time, acc_x: acc_x, acc_y: acc_y, acc_z: acc_z, gyro_x: gyro_x, "
        "gyro_y: gyro_y, gyro_z: gyro_z, label: label, subject: subject, session: session}\n"
        + extra
    )
    (folder / "data.yaml").write_text(text)
    return folder / "data.yaml"


def test_canonical_parquet_round_trips_through_a_definition(tmp_path, two_subjects):
    """A RecordingSet written to Parquet and read back by a definition is the same set."""
    two_subjects.to_parquet(tmp_path / "set.parquet")
    classes = "classes: [" + ", ".join(two_subjects.classes) + "]\n"
    loaded = load_custom(_definition(tmp_path, "set.parquet", classes))
    pd.testing.assert_frame_equal(loaded.frame, two_subjects.frame, check_exact=True)
    assert loaded.classes == two_subjects.classes


def test_per_session_files_join_like_one_file(tmp_path, two_subjects):
    """Files holding one session each give the same set as the whole file (CSV and Parquet)."""
    frame = two_subjects.frame
    for i, (_, part) in enumerate(frame.groupby("session", sort=False)):
        part.to_csv(tmp_path / f"part{i:02d}.csv", index=False)
    loaded = load_custom(_definition(tmp_path, "part*.csv"))
    assert loaded.sessions == two_subjects.sessions
    assert loaded.classes == sorted(frame["label"].dropna().unique())
    # same values; the label categories are the classes (sorted here, as none are given)
    pd.testing.assert_series_equal(loaded.frame["label"].astype(object),
                                   frame["label"].astype(object))
    pd.testing.assert_series_equal(loaded.frame["subject"], frame["subject"])
    np.testing.assert_allclose(loaded.frame["time"], frame["time"], rtol=0, atol=1e-9)
    for channel in two_subjects.channels:  # float32 printed by pandas and parsed back
        np.testing.assert_array_equal(loaded.frame[channel], frame[channel])
    assert str(loaded.frame["session"].dtype) == "category"


def test_text_columns_are_stripped_and_numeric_codes_read_as_integers(tmp_path):
    t = np.arange(400) / 50.0
    frame = pd.DataFrame({
        "time": t, "acc_x": 0.0, "acc_y": 0.0, "acc_z": 1.0,
        "label": np.where(np.arange(400) < 150, 1.0, np.where(np.arange(400) < 300, 2.0, np.nan)),
        "who": np.where(np.arange(400) % 2 == 0, " ann", "ann "),
    })
    frame.to_parquet(tmp_path / "rec.parquet")
    (tmp_path / "data.yaml").write_text(
        "files: rec.parquet\nsampling_rate_hz: 50\n"
        "columns: {time: time, acc_x: acc_x, acc_y: acc_y, acc_z: acc_z, label: label, "
        "subject: who}\nlabel_map: {'1': walking}\nignore_labels: ['2']\n"
    )
    loaded = load_custom(tmp_path / "data.yaml")
    assert loaded.classes == ["walking"]
    assert loaded.frame["subject"].unique().tolist() == ["ann"]
    labels = loaded.frame["label"]
    assert labels.iloc[:150].tolist() == ["walking"] * 150
    assert labels.iloc[150:].isna().all()


def test_label_outside_classes_names_the_row_of_its_file(tmp_path, two_subjects):
    part = two_subjects.frame.iloc[:500].copy()
    part.to_parquet(tmp_path / "a.parquet")
    part["label"] = part["label"].astype(object)
    part.loc[part.index[321], "label"] = "juggling"
    part["session"] = "second"
    part.to_parquet(tmp_path / "b.parquet")
    yaml = _definition(tmp_path, "'*.parquet'", "classes: [" + ", ".join(
        two_subjects.classes) + "]\n")
    with pytest.raises(DataFormatError, match=r"b\.parquet.*'juggling' at row 322 is not in"):
        load_custom(yaml)


def test_magnitude_and_clipping_match_the_whole_array_forms():
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, (5000, 3)).astype(np.float32)
    values[100:200, 1] = values[:, 1].max()
    expected = np.sqrt(np.sum(np.square(values, dtype=np.float64), axis=1))
    np.testing.assert_allclose(magnitude_of(values), expected, rtol=1e-15)
    found = clipped_channels(values, ["acc_x", "acc_y", "acc_z"])
    assert [name for name, _, _ in found] == ["acc_y"]


def test_label_codes_index_the_class_list(two_subjects):
    labels = two_subjects.frame["label"]
    assert labels.isna().any()  # HAPT has unlabelled spans between activities
    expected = np.array([-1 if pd.isna(v) else two_subjects.classes.index(v) for v in labels])
    codes = two_subjects.label_codes()
    assert codes.dtype == np.int16
    np.testing.assert_array_equal(codes, expected)


def test_loaded_frames_can_be_edited(tmp_path, two_subjects):
    """Callers may edit a loaded frame in place (e.g. mark a dropout), whatever the loader."""
    two_subjects.to_parquet(tmp_path / "set.parquet")
    classes = "classes: [" + ", ".join(two_subjects.classes) + "]\n"
    for rec in (load_custom(_definition(tmp_path, "set.parquet", classes)),
                RecordingSet.from_parquet(tmp_path / "set.parquet")):
        rec.frame.loc[10, "acc_y"] = np.nan
        rec.frame.loc[11, "time"] = -1.0
        assert np.isnan(rec.frame["acc_y"].iloc[10]) and rec.frame["time"].iloc[11] == -1.0


@pytest.mark.parametrize("dtype", ["string", "category", object])
def test_sessions_must_be_contiguous_and_time_increasing(dtype):
    frame = pd.DataFrame({
        "time": [0.0, 0.02, 0.0, 0.02, 0.04], "acc_x": 0.0, "acc_y": 0.0, "acc_z": 1.0,
        "subject": "1", "session": pd.Series(["a", "a", "b", "b", "a"], dtype=dtype),
    })
    with pytest.raises(DataFormatError, match="rows of a session are not contiguous"):
        RecordingSet(frame, 50.0, [])
    frame["session"] = pd.Series(["a", "a", "b", "b", "b"], dtype=dtype)
    frame.loc[4, "time"] = 0.02
    with pytest.raises(DataFormatError, match=r"time does not increase at row 5 \(session b\)"):
        RecordingSet(frame, 50.0, [])
    frame.loc[4, "time"] = 0.04
    assert RecordingSet(frame, 50.0, []).sessions == ["a", "b"]
