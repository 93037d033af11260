"""RecordingSet's table: label, subject and session as category codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.definition import TIME_UNITS
from tinyhar.datasets.recording import RecordingSet, concat_frames, str_categories
from tinyhar.datasets.units import to_canonical
from tinyhar.errors import DataFormatError

CLASSES = ["WALKING", "SITTING", "LAYING"]  # not sorted: the order must survive


def _frame(subject: str, session: str, labels: list, start: float = 0.0) -> pd.DataFrame:
    n = len(labels)
    return pd.DataFrame({
        "time": start + np.arange(n) / 50.0, "acc_x": np.linspace(-1, 1, n),
        "acc_y": 0.0, "acc_z": 1.0, "label": labels, "subject": subject, "session": session,
    })


def _set(frames: list[pd.DataFrame], classes=CLASSES) -> RecordingSet:
    return RecordingSet(pd.concat(frames, ignore_index=True), 50.0, classes)


def test_columns_are_categories_in_canonical_order():
    rec = _set([_frame("10", "b", ["SITTING", None, "WALKING"]),
                _frame("2", "a", ["LAYING", "LAYING", None])])
    for col in ("label", "subject", "session"):
        assert isinstance(rec.frame[col].dtype, pd.CategoricalDtype), col
        assert rec.frame[col].cat.codes.dtype == np.int8
    assert list(rec.frame["label"].cat.categories) == CLASSES
    assert rec.subjects == ["2", "10"]  # natural order
    assert rec.sessions == ["b", "a"]  # order of appearance
    assert rec.label_codes().tolist() == [1, -1, 0, 2, 2, -1]
    assert (rec.frame["label"] == "LAYING").tolist() == [False] * 3 + [True, True, False]
    assert [(s, ss, len(p)) for s, ss, p in rec.iter_sessions()] == [("10", "b", 3), ("2", "a", 3)]
    assert rec.hours_per_class() == pytest.approx(
        {"unlabelled": 2 / 50 / 3600, "LAYING": 2 / 50 / 3600, "WALKING": 1 / 50 / 3600,
         "SITTING": 1 / 50 / 3600})


def test_parquet_round_trip_keeps_values_and_class_order(tmp_path):
    rec = _set([_frame("1", "s1", ["SITTING", None, "WALKING"]),
                _frame("2", "s2", [None, "SITTING", "SITTING"])])
    back = RecordingSet.from_parquet(rec.to_parquet(tmp_path / "r.parquet"), checks={
        "sampling_rate": False, "units": False, "clipping": False})
    assert back.classes == CLASSES
    pd.testing.assert_frame_equal(back.frame, rec.frame)


def test_select_and_concat_keep_labels_with_different_categories():
    a = _set([_frame("1", "s1", ["SITTING", "SITTING", None])], classes=["SITTING"])
    b = _set([_frame("2", "s2", ["LAYING", "WALKING", "LAYING"])], classes=["WALKING", "LAYING"])
    joined = RecordingSet.concat([a, b])
    assert joined.classes == ["SITTING", "WALKING", "LAYING"]
    assert isinstance(joined.frame["label"].dtype, pd.CategoricalDtype)
    assert joined.frame["label"].astype(object).tolist() == [
        "SITTING", "SITTING", np.nan, "LAYING", "WALKING", "LAYING"]
    assert joined.subjects == ["1", "2"] and joined.sessions == ["s1", "s2"]
    # plain pandas.concat of the frames silently gives object columns; concat_frames does not
    assert concat_frames([a.frame, b.frame])["subject"].dtype == "category"
    only = joined.select(subjects=["2"])
    assert only.subjects == ["2"] and only.sessions == ["s2"]
    assert list(only.frame["subject"].cat.categories) == ["2"]
    assert only.label_codes().tolist() == [2, 1, 2]
    with pytest.raises(DataFormatError, match="session 's1' is also in"):
        RecordingSet.concat([a, a])


def test_missing_subject_and_unknown_label_are_errors():
    frame = _frame("1", "s1", ["SITTING"] * 3)
    frame.loc[1, "subject"] = None
    with pytest.raises(DataFormatError, match="subject is missing at row 2"):
        RecordingSet(frame, 50.0, CLASSES)
    with pytest.raises(DataFormatError, match=r"labels \['RUNNING'\] are not in the class list"):
        _set([_frame("1", "s1", ["RUNNING", None, None])])
    # a category not used by any sample is no error (e.g. after filtering a frame)
    frame = _frame("1", "s1", ["SITTING"] * 3)
    frame["label"] = pd.Categorical(frame["label"], categories=["SITTING", "RUNNING"])
    assert RecordingSet(frame, 50.0, CLASSES).label_codes().tolist() == [1, 1, 1]


def test_parquet_definition_loads_the_same_values_as_pandas(tmp_path):
    """Batchwise reading: text labels with nulls over several batches and row groups."""
    from tinyhar.datasets import custom

    n = 3 * custom.BLOCK_ROWS // 2 + 7
    rng = np.random.default_rng(0)
    words = np.array(["walk", "sit", None], dtype=object)
    frame = pd.DataFrame({
        "t": np.arange(n) * 20.0, "ax": rng.normal(0, 1, n), "ay": rng.normal(0, 1, n),
        "az": rng.normal(1, 0.1, n), "act": words[(np.arange(n) // 5000) % 3],
    })
    frame.to_parquet(tmp_path / "p1_x.parquet", row_group_size=100_000)
    (tmp_path / "data.yaml").write_text(
        "files: '*.parquet'\nsampling_rate_hz: 50\nunits: {time: ms, acc: m/s^2}\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, label: act}\n"
        "file_pattern: '(?P<subject>[^_]+)_(?P<session>\\w+)\\.parquet'\n"
        "checks: {units: false}\n"
    )
    rec = load_custom(tmp_path / "data.yaml")
    assert rec.classes == ["sit", "walk"]
    # the same arithmetic as on the whole column (the converted values of before)
    np.testing.assert_array_equal(rec.frame["time"], frame["t"].to_numpy() * TIME_UNITS["ms"])
    for ours, theirs in (("acc_x", "ax"), ("acc_z", "az")):
        expected = to_canonical(frame[theirs].to_numpy(), "m/s^2", "g").astype(np.float32)
        np.testing.assert_array_equal(rec.frame[ours].to_numpy(), expected)
    assert (rec.frame["label"].astype(object).fillna("-").tolist()
            == frame["act"].astype(object).fillna("-").tolist())
    assert rec.subjects == ["p1"] and rec.sessions == ["x"]


def test_csv_channels_in_g_parsed_to_float32_equal_the_rounded_doubles(tmp_path):
    rng = np.random.default_rng(1)
    n = 2000
    frame = pd.DataFrame({"t": np.arange(n) / 50.0, "ax": rng.normal(0, 1, n),
                          "ay": rng.normal(0, 1, n), "az": rng.normal(1, 0.1, n)})
    frame.to_csv(tmp_path / "p1_x.csv", index=False)
    (tmp_path / "data.yaml").write_text(
        "files: '*.csv'\nsampling_rate_hz: 50\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az}\n"
        "file_pattern: '(?P<subject>[^_]+)_(?P<session>\\w+)\\.csv'\n"
    )
    rec = load_custom(tmp_path / "data.yaml")
    parsed = pd.read_csv(tmp_path / "p1_x.csv")  # float64, as the loader parsed them before
    for ours, theirs in (("acc_x", "ax"), ("acc_y", "ay"), ("acc_z", "az")):
        np.testing.assert_array_equal(rec.frame[ours].to_numpy(),
                                      parsed[theirs].to_numpy().astype(np.float32))
    np.testing.assert_array_equal(rec.frame["time"].to_numpy(), parsed["t"].to_numpy())


def test_recording_set_is_not_changed_through_the_frame_it_was_made_from():
    """Categorical columns already in canonical form are kept without a copy; changing the
    caller's frame afterwards must not change the recordings (nor the reverse)."""
    n = 6
    frame = pd.DataFrame({
        "time": np.arange(n) / 50.0, "acc_x": np.zeros(n, np.float32),
        "acc_y": np.zeros(n, np.float32), "acc_z": np.ones(n, np.float32),
        "label": pd.Categorical(["SITTING"] * n, categories=pd.Index(CLASSES, dtype="str")),
        "subject": pd.Categorical(["1"] * n, categories=pd.Index(["1", "2"], dtype="str")),
        "session": pd.Categorical(["a"] * n, categories=pd.Index(["a"], dtype="str")),
    })
    rec = RecordingSet(frame, 50.0, CLASSES)
    frame.loc[0, "label"] = "WALKING"
    frame.loc[1, "subject"] = "2"
    assert rec.frame["label"].tolist() == ["SITTING"] * n
    assert rec.frame["subject"].tolist() == ["1"] * n
    rec.frame.loc[2, "label"] = "LAYING"
    assert frame["label"].tolist()[2] == "SITTING"


def test_str_categories_are_made_once_and_read_as_built():
    short = str_categories(("walk", "sit"))
    assert short is str_categories(("walk", "sit"))  # kept: the same dtype object
    assert list(short.categories) == ["walk", "sit"]
    assert short.categories.dtype == pd.Index(["walk"], dtype="str").dtype
    assert not short.ordered
    long = tuple(f"s{i}" for i in range(65))  # not kept, but the same categories
    assert str_categories(long) == str_categories(long)
    assert list(str_categories(long).categories) == list(long)
    values = pd.Categorical.from_codes(np.array([1, -1, 0], np.int8), dtype=short)
    assert values.isna().tolist() == [False, True, False]
    assert [values[0], values[2]] == ["sit", "walk"]
    with pytest.raises(ValueError):
        str_categories(("walk", "walk"))


def test_recordings_of_one_value_categoricals_equal_those_built_from_strings():
    rec = RecordingSet(_frame("p1", "morning", ["WALKING"] * 3), 50.0, CLASSES)
    same = RecordingSet(rec.frame.astype({"subject": object, "session": object}), 50.0,
                        CLASSES)
    pd.testing.assert_frame_equal(rec.frame, same.frame, check_exact=True)
