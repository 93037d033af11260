"""UCI HAR loader: the official split and counts, layouts, malformed input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyhar.datasets.ucihar import UCIHAR_SIGNALS, load_ucihar
from tinyhar.errors import ConfigError, DataFormatError

CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]
TRAIN_COUNTS = dict(zip(CLASSES, [1226, 1073, 986, 1286, 1374, 1407], strict=True))
TEST_COUNTS = dict(zip(CLASSES, [496, 471, 420, 491, 532, 537], strict=True))
UCI_ACTIVITY_LABELS = "".join(f"{i} {name}\n" for i, name in enumerate(CLASSES, 1))
SIGNAL_STEMS = [f"{s}_{a}" for s in ("total_acc", "body_acc", "body_gyro") for a in "xyz"]


# ----------------------------------------------------------------- real data


def test_real_uci_split_and_counts(uci_default):
    w = uci_default
    assert w.X.shape == (10299, 128, 6) and w.X.dtype == np.float32
    assert w.channels == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert w.sampling_rate_hz == 50.0 and w.window_s == pytest.approx(2.56)
    assert w.classes == CLASSES
    train, test = w.split == "train", w.split == "test"
    assert train.sum() == 7352 and test.sum() == 2947
    assert set(w.subject[test]) == {"2", "4", "9", "10", "12", "13", "18", "20", "24"}
    assert w.subjects == [str(i) for i in range(1, 31)]
    assert not set(w.subject[test]) & set(w.subject[train])
    assert w.subset(train).class_counts() == TRAIN_COUNTS
    assert w.subset(test).class_counts() == TEST_COUNTS
    assert set(w.session) == {f"uci-{s}" for s in w.subjects}
    assert np.isnan(w.start_time).all()
    assert "ESANN" in w.info["citation"] and "CC BY 4.0" in w.info["licence"]


def test_real_uci_values_match_the_files(uci_default, uci_zip):
    with zipfile.ZipFile(uci_zip) as zf:
        with zf.open("UCI HAR Dataset/test/Inertial Signals/total_acc_x_test.txt") as f:
            first_test = np.array(f.readline().split(), dtype=np.float64)
        with zf.open("UCI HAR Dataset/train/Inertial Signals/body_gyro_z_train.txt") as f:
            first_train_gz = np.array(f.readline().split(), dtype=np.float64)
    np.testing.assert_allclose(first_test[:3], [0.9436558, 0.9668753, 0.9778743], rtol=1e-7)
    np.testing.assert_allclose(uci_default.X[7352, :, 0], first_test, rtol=1e-6)
    np.testing.assert_allclose(uci_default.X[0, :, 5], first_train_gz, rtol=1e-6, atol=1e-9)


@pytest.fixture(scope="module")
def uci_subset(uci_zip, tmp_path_factory) -> dict[str, Path]:
    """The first 5 windows of every file of the real archive, as a zip and a folder."""
    base = tmp_path_factory.mktemp("uci_subset")
    zpath = base / "UCI HAR Dataset.zip"
    folder = base / "extracted"
    with zipfile.ZipFile(uci_zip) as src, zipfile.ZipFile(zpath, "w") as dst:
        for info in src.infolist():
            if info.is_dir():
                continue
            with src.open(info) as f:
                head = b"".join(f.readline() for _ in range(5 if "/" in info.filename[16:]
                                                               else 100))
            dst.writestr(info.filename, head)
            (folder / info.filename).parent.mkdir(parents=True, exist_ok=True)
            (folder / info.filename).write_bytes(head)
    return {"zip": zpath, "folder": folder}


@pytest.mark.parametrize("signals", sorted(UCIHAR_SIGNALS))
def test_zip_and_folder_agree_for_every_signal_choice(uci_subset, signals):
    from_zip = load_ucihar(uci_subset["zip"], signals=signals)
    for path in (uci_subset["folder"], uci_subset["folder"] / "UCI HAR Dataset"):
        other = load_ucihar(path, signals=signals)
        np.testing.assert_array_equal(from_zip.X, other.X)
        np.testing.assert_array_equal(from_zip.y, other.y)
        np.testing.assert_array_equal(from_zip.subject, other.subject)
    expected = [c for _, c in UCIHAR_SIGNALS[signals]]
    assert from_zip.channels == expected
    assert from_zip.X.shape == (10, 128, len(expected))
    assert list(from_zip.split) == ["train"] * 5 + ["test"] * 5
    if signals == "all":
        assert from_zip.channels[3:6] == ["body_acc_x", "body_acc_y", "body_acc_z"]
        # body_acc is total_acc minus the gravity estimate: smaller on average
        assert np.abs(from_zip.X[:, :, 3:6]).mean() < np.abs(from_zip.X[:, :, 0:3]).mean()


# ----------------------------------------------------------------- synthetic layout


def make_uci(root: Path, n: dict[str, int] | None = None, override: dict[str, str] | None = None):
    """A tiny UCI HAR folder (``root/UCI HAR Dataset/...``) with ``n[split]`` windows."""
    n = n or {"train": 4, "test": 3}
    top = root / "UCI HAR Dataset"
    (top / "activity_labels.txt").parent.mkdir(parents=True, exist_ok=True)
    (top / "activity_labels.txt").write_text(UCI_ACTIVITY_LABELS)
    rng = np.random.default_rng(1)
    for split, k in n.items():
        sig = top / split / "Inertial Signals"
        sig.mkdir(parents=True)
        files = {
            f"{split}/y_{split}.txt": "".join(f"{(i % 6) + 1}\n" for i in range(k)),
            f"{split}/subject_{split}.txt": "".join(
                f"{1 if split == 'train' else 2}\n" for _ in range(k)
            ),
        }
        for stem in SIGNAL_STEMS:
            rows = rng.normal(size=(k, 128))
            files[f"{split}/Inertial Signals/{stem}_{split}.txt"] = "".join(
                "  " + "  ".join(f"{v:.7e}" for v in row) + "\n" for row in rows
            )
        for name, text in {**files, **(override or {})}.items():
            if name.startswith(split):
                (top / name).write_text(text)
    return top


def test_synthetic_labels_subjects_and_leading_spaces(tmp_path):
    top = make_uci(tmp_path)
    w = load_ucihar(tmp_path)
    assert len(w) == 7
    assert list(w.y) == CLASSES[:4] + CLASSES[:3]
    assert list(w.subject) == ["1"] * 4 + ["2"] * 3
    assert list(w.session) == ["uci-1"] * 4 + ["uci-2"] * 3
    rows = np.loadtxt(top / "train" / "Inertial Signals" / "total_acc_y_train.txt")
    np.testing.assert_allclose(w.X[:4, :, 1], rows, rtol=1e-6)


def test_row_count_mismatch_names_the_file(tmp_path):
    text = "".join("  " + "  ".join(["1.0"] * 128) + "\n" for _ in range(3))
    make_uci(tmp_path, override={"train/Inertial Signals/body_gyro_y_train.txt": text})
    with pytest.raises(DataFormatError) as err:
        load_ucihar(tmp_path)
    assert err.value.path.endswith("body_gyro_y_train.txt")
    assert "3 rows" in str(err.value) and "y_train.txt has 4" in str(err.value)


def test_subject_file_mismatch(tmp_path):
    make_uci(tmp_path, override={"test/subject_test.txt": "2\n2\n"})
    with pytest.raises(DataFormatError, match=r"subject_test.txt: has 2 rows"):
        load_ucihar(tmp_path)


def test_short_row_and_bad_value_name_line_and_column(tmp_path, zipper):
    good = "  ".join(["1.0"] * 128)
    short = "  ".join(["1.0"] * 127)
    make_uci(tmp_path / "a", override={
        "train/Inertial Signals/total_acc_z_train.txt": f"{good}\n{good}\n{short}\n{good}\n",
    })
    with pytest.raises(DataFormatError) as err:
        load_ucihar(tmp_path / "a")
    assert err.value.line == 3 and "expected 128" in str(err.value)
    bad = "  ".join(["1.0"] * 10 + ["nan"] + ["1.0"] * 117)
    make_uci(tmp_path / "b", override={
        "test/Inertial Signals/total_acc_x_test.txt": f"{good}\n{bad}\n{good}\n",
    })
    archive = zipper(tmp_path / "b", tmp_path / "b.zip")
    with pytest.raises(DataFormatError) as err:
        load_ucihar(archive)
    assert str(err.value).startswith(
        f"{archive}:UCI HAR Dataset/test/Inertial Signals/total_acc_x_test.txt, line 2, column 11"
    )


def test_unknown_activity_names_line(tmp_path):
    make_uci(tmp_path, override={"train/y_train.txt": "1\n2\n9\n3\n"})
    with pytest.raises(DataFormatError) as err:
        load_ucihar(tmp_path)
    assert err.value.path.endswith("y_train.txt") and err.value.line == 3


def test_missing_file_and_bad_signals(tmp_path):
    top = make_uci(tmp_path)
    with pytest.raises(ConfigError, match="signals must be one of"):
        load_ucihar(tmp_path, signals="body_acc")
    (top / "test" / "Inertial Signals" / "body_gyro_x_test.txt").unlink()
    with pytest.raises(DataFormatError, match="body_gyro_x_test.txt: file is missing"):
        load_ucihar(tmp_path)
    assert load_ucihar(tmp_path, signals="total_acc").X.shape == (7, 128, 3)
