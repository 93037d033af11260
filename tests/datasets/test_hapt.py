"""HAPT loader: real values from the publisher's archive, layouts, malformed input."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from tests.helpers import HAPT_BASIC_COUNTS
from tinyhar.datasets.hapt import load_hapt
from tinyhar.datasets.recording import canonicalize_frame
from tinyhar.errors import ConfigError, DataFormatError

BASIC = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
TRANSITION_COUNTS = {
    "STAND_TO_SIT": 10_316,
    "SIT_TO_STAND": 8_029,
    "SIT_TO_LIE": 12_428,
    "LIE_TO_SIT": 11_150,
    "STAND_TO_LIE": 14_418,
    "LIE_TO_STAND": 10_867,
}
N_SAMPLES = 1_122_772


# ----------------------------------------------------------------- real data


def test_real_hapt_shape_and_ids(hapt_basic):
    rec = hapt_basic
    assert rec.n_samples == N_SAMPLES
    assert rec.subjects == [str(i) for i in range(1, 31)]
    assert len(rec.sessions) == 61
    assert rec.sessions[0] == "exp01" and rec.sessions[-1] == "exp61"
    assert rec.sampling_rate_hz == 50.0
    assert rec.channels == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert rec.classes == BASIC
    assert rec.name == "hapt"
    assert "Neurocomputing 171:754-767" in rec.citation
    assert "CC BY 4.0" in rec.licence


def test_real_hapt_values(hapt_basic):
    frame = hapt_basic.frame
    first = frame.iloc[0]
    assert (first["subject"], first["session"]) == ("1", "exp01")
    np.testing.assert_allclose(
        [first["acc_x"], first["acc_y"], first["acc_z"]],
        [0.91805559, -0.1125, 0.50972225], rtol=0, atol=1e-7,
    )
    exp01 = frame[frame["session"] == "exp01"]
    np.testing.assert_allclose(exp01["time"].to_numpy()[:3], [0.0, 0.02, 0.04])
    assert exp01["time"].iloc[-1] == pytest.approx((len(exp01) - 1) / 50.0)
    # every accelerometer value is a multiple of 1/720 g
    counts = frame["acc_x"].to_numpy(np.float64)[:5000] * 720
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    # labels.txt's first segment of exp01 is "1 1 5 250 1232" (STANDING)
    assert pd.isna(exp01["label"].iloc[249])
    assert exp01["label"].iloc[250] == "STANDING"
    assert exp01["label"].iloc[1232] == "STANDING"
    # "1 1 7 1233 1392" is a transition: unlabelled with the basic classes
    assert pd.isna(exp01["label"].iloc[1233])


def test_real_hapt_class_counts(hapt_basic):
    counts = hapt_basic.frame["label"].value_counts().to_dict()
    assert counts == HAPT_BASIC_COUNTS
    assert hapt_basic.frame["label"].isna().sum() == N_SAMPLES - sum(HAPT_BASIC_COUNTS.values())


def test_real_hapt_all_activities_acc_only(hapt_zip):
    rec = load_hapt(hapt_zip, activities="all", sensors="acc")
    assert rec.channels == ["acc_x", "acc_y", "acc_z"]
    assert rec.classes == BASIC + list(TRANSITION_COUNTS)
    assert rec.frame["label"].value_counts().to_dict() == {**HAPT_BASIC_COUNTS, **TRANSITION_COUNTS}
    assert rec.n_samples == N_SAMPLES


def test_zip_and_extracted_folder_give_identical_results(hapt_subset, hapt_basic):
    from_zip = load_hapt(hapt_subset["zip"])
    from_folder = load_hapt(hapt_subset["folder"])
    from_parent = load_hapt(hapt_subset["folder"].parent)  # folder above the root
    from_rawdata = load_hapt(hapt_subset["folder"] / "RawData")  # RawData itself
    assert from_zip.sessions == ["exp01", "exp02"]
    for other in (from_folder, from_parent, from_rawdata):
        pd.testing.assert_frame_equal(from_zip.frame, other.frame)
    full = hapt_basic.frame
    expected = canonicalize_frame(full[full["session"].isin(["exp01", "exp02"])],
                                  classes=hapt_basic.classes)  # categories: those present
    pd.testing.assert_frame_equal(from_zip.frame, expected)


# ----------------------------------------------------------------- synthetic layout


def test_synthetic_labels_basic_and_all(make_hapt):
    root = make_hapt(lengths={1: 120, 2: 80}, users={1: 3, 2: 11})
    basic = load_hapt(root)
    frame = basic.frame
    assert basic.subjects == ["3", "11"]
    assert basic.sessions == ["exp01", "exp02"]
    one = frame[frame["session"] == "exp01"]["label"]
    assert one.iloc[:10].isna().all()
    assert (one.iloc[10:40] == "WALKING").all()
    assert one.iloc[40:50].isna().all()  # activity 7 (STAND_TO_SIT) -> unlabelled
    assert (one.iloc[50:100] == "SITTING").all()
    assert one.iloc[100:].isna().all()
    assert frame[frame["session"] == "exp02"]["label"].isna().all()
    every = load_hapt(root, activities="all")
    two = every.frame[every.frame["session"] == "exp01"]["label"]
    assert (two.iloc[40:50] == "STAND_TO_SIT").all()
    assert len(every.classes) == 12
    np.testing.assert_allclose(frame["time"].iloc[:3], [0.0, 0.02, 0.04])
    assert frame["time"].iloc[120] == 0.0  # exp02 restarts at 0


def test_acc_only_does_not_need_gyro_files(make_hapt):
    root = make_hapt()
    (root / "RawData" / "gyro_exp02_user02.txt").unlink()
    with pytest.raises(DataFormatError, match="gyro_exp02_user02.txt") as err:
        load_hapt(root)
    assert "sensors='acc'" in str(err.value)
    rec = load_hapt(root, sensors="acc")
    assert not rec.has_gyro


def test_non_numeric_value_names_file_line_and_column(make_hapt):
    text = "1.0 0.0 0.0\n" * 2 + "1.0 abc 0.0\n" + "1.0 0.0 0.0\n" * 117
    root = make_hapt(acc_text={1: text})
    with pytest.raises(DataFormatError) as err:
        load_hapt(root)
    assert err.value.path.endswith("acc_exp01_user01.txt")
    assert err.value.line == 3 and err.value.column == 2
    assert "line 3" in str(err.value) and "'abc'" in str(err.value)


def test_wrong_number_of_values_names_line(make_hapt):
    text = "1.0 0.0 0.0\n" * 4 + "1.0 0.0\n" + "1.0 0.0 0.0\n" * 115
    root = make_hapt(acc_text={1: text})
    with pytest.raises(DataFormatError, match=r"acc_exp01_user01.txt, line 5: expected 3"):
        load_hapt(root)


def test_acc_gyro_row_mismatch_names_both_files(make_hapt):
    root = make_hapt(gyro_rows={2: 79})
    with pytest.raises(DataFormatError) as err:
        load_hapt(root)
    message = str(err.value)
    assert "acc_exp02_user02.txt" in message and "gyro_exp02_user02.txt" in message
    assert "80 rows" in message and "79" in message


@pytest.mark.parametrize(
    ("labels_text", "line", "fragment"),
    [
        ("1 1 1 0 9\n9 9 1 0 9\n", 2, "experiment 9 has no"),
        ("1 1 1 0 9\n\n1 1 4 100 120\n", 3, "not within experiment 1"),
        ("1 1 1 30 20\n", 1, "start <= end"),
        ("1 1 1 0 119\n2 5 1 0 9\n", 2, "belongs to user 2"),
        ("1 1 13 0 9\n", 1, "activity 13 is not in activity_labels.txt"),
        ("1 1 1 0 50\n1 1 4 40 60\n", 2, "overlaps"),
        ("1 1 1 0 9\n1 1 4.5 10 20\n", 2, "not a finite integer"),
        ("1 1 1 0 9\n1 1 4 10\n", 2, "expected 5"),
    ],
)
def test_bad_labels_name_the_line(make_hapt, labels_text, line, fragment):
    root = make_hapt(labels_text=labels_text)
    with pytest.raises(DataFormatError) as err:
        load_hapt(root)
    assert err.value.path.endswith("labels.txt")
    assert err.value.line == line
    assert fragment in str(err.value)


def test_malformed_activity_labels_names_line(make_hapt):
    root = make_hapt()
    (root / "activity_labels.txt").write_text("1 WALKING\n2 WALKING_UPSTAIRS\nthree STAIRS\n")
    with pytest.raises(DataFormatError) as err:
        load_hapt(root)
    assert err.value.path.endswith("activity_labels.txt") and err.value.line == 3


def test_errors_inside_a_zip_name_archive_and_member(make_hapt, zipper, tmp_path):
    text = "1.0 0.0 0.0\n" * 6 + "1.0 0.0 x\n" + "1.0 0.0 0.0\n" * 113
    root = make_hapt(acc_text={1: text})
    archive = zipper(root, tmp_path / "HAPT Data Set.zip")
    with pytest.raises(DataFormatError) as err:
        load_hapt(archive)
    assert str(err.value).startswith(f"{archive}:RawData/acc_exp01_user01.txt, line 7, column 3")


def test_zip_with_top_folder_and_folder_agree(make_hapt, zipper, tmp_path):
    root = make_hapt()
    archive = zipper(root, tmp_path / "nested.zip", prefix="HAPT Data Set/")
    pd.testing.assert_frame_equal(load_hapt(archive).frame, load_hapt(root).frame)


def test_bad_options_and_paths(make_hapt, tmp_path):
    root = make_hapt()
    with pytest.raises(ConfigError, match="activities"):
        load_hapt(root, activities="some")
    with pytest.raises(ConfigError, match="sensors"):
        load_hapt(root, sensors="gyro")
    with pytest.raises(DataFormatError, match="no such file"):
        load_hapt(tmp_path / "missing.zip")
    (tmp_path / "other").mkdir()
    with pytest.raises(DataFormatError, match="RawData/labels.txt"):
        load_hapt(tmp_path / "other")
    not_zip = tmp_path / "fake.zip"
    not_zip.write_text("hello")
    with pytest.raises(DataFormatError, match="not a zip"):
        load_hapt(not_zip)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "nothing")
    with pytest.raises(DataFormatError, match="no member 'RawData/labels.txt'"):
        load_hapt(empty)


@pytest.mark.parametrize("damage", ["deflate", "crc"])
def test_corrupt_compressed_member_names_archive_and_member(make_hapt, zipper, tmp_path, damage):
    root = make_hapt()
    archive = zipper(root, tmp_path / "HAPT Data Set.zip")
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("RawData/acc_exp01_user01.txt")
    # the member's compressed bytes start after its 30-byte local header, name and extra field
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    if damage == "deflate":
        data[start : start + 40] = b"\xff" * 40  # not a valid deflate stream: zlib.error
    else:
        data[start + 60] ^= 0x01  # still inflates, to other bytes: bad CRC-32
    archive.write_bytes(bytes(data))
    with pytest.raises(DataFormatError) as err:
        load_hapt(archive)
    message = str(err.value)
    assert message.startswith(f"{archive}:RawData/acc_exp01_user01.txt")
    assert "corrupt archive member" in message and "download the archive again" in message
