"""WISDM loaders: the raw v1.1 text format with its defects, and the derived windows."""

from __future__ import annotations

import tarfile
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets import wisdm
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.datasets.wisdm import WISDM_CLASSES, load_wisdm_raw, load_wisdm_windows
from tinyhar.errors import ConfigError, DataFormatError

# A clean excerpt in the exact raw format: user,activity,timestamp(ns),x,y,z; (m/s^2)
CLEAN = (
    "33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n"
    "33,Jogging,49106062271000,5.012288,11.264028,0.95342433;\n"
    "33,Jogging,49106112167000,4.903325,10.882658,-0.08172209;\n"
    "33,Walking,49206112167000,0.0,9.80665,0.0;\n"
    "33,Walking,49206162167000,0.0,9.80665,0.0;\n"
    "7,Sitting,1000000000,1.0,2.0,3.0;\n"
    "7,Sitting,1050000000,1.0,2.0,3.0;\n"
)

# Every defect of the real file, one per line (line numbers in comments).
DEFECTS = (
    "33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;\n"  # 1 ok
    "\n"  # 2 blank: ignored
    "33,Jogging,49106062271000,5.012288,11.264028,0.95342433;"
    "33,Jogging,49106112167000,4.903325,10.882658,-0.08172209;\n"  # 3 two records: both kept
    "33,Jogging,49106222305000,-0.61291564,18.496431,3.0237172,;\n"  # 4 trailing comma: kept
    "33,Jogging,49106332290000,-1.1849703;\n"  # 5 missing fields: bad
    "33,Jogging,49106442306000,1.3756552,,2.4925237;\n"  # 6 empty y: bad
    "33,Jogging,49106542312000,abc,-9.8,0.0;\n"  # 7 non-numeric x: bad
    "33,Jogging,49106652389000,1.0,2.0,3.0,4.0;\n"  # 8 extra field: bad
    "33,Joging,49106752389000,1.0,2.0,3.0;\n"  # 9 unknown activity: bad
    "  \n"  # 10 whitespace only: ignored
    "33,Jogging,49106852389000,1.0,2.0,3.0;\n"  # 11 ok
    ";\n"  # 12 lone terminator: ignored
    "33,Jogging,49106952389000,1.0,2.0,3.0;\n"  # 13 ok
)
BAD_LINES = [5, 6, 7, 8, 9]


def write(tmp_path, text: str, name: str = "WISDM_ar_v1.1_raw.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_clean_file_units_sessions_and_time(tmp_path):
    rec = load_wisdm_raw(write(tmp_path, CLEAN))
    frame = rec.frame
    assert rec.sampling_rate_hz == 20.0
    assert rec.classes == WISDM_CLASSES
    assert rec.channels == ["acc_x", "acc_y", "acc_z"]
    assert rec.sessions == ["33-1", "33-2", "7-1"]
    assert rec.subjects == ["7", "33"]
    assert list(frame["label"]) == ["Jogging"] * 3 + ["Walking"] * 2 + ["Sitting"] * 2
    np.testing.assert_allclose(frame["time"].iloc[:3], [0.0, 0.099945, 0.149841])
    np.testing.assert_allclose(frame["time"].iloc[3:5], [0.0, 0.05])
    np.testing.assert_allclose(frame["acc_y"].iloc[3], 1.0, rtol=1e-6)  # 9.80665 m/s^2 = 1 g
    np.testing.assert_allclose(
        frame["acc_x"].iloc[1], 5.012288 / STANDARD_GRAVITY, rtol=1e-6
    )
    assert "SIGKDD Explorations 12(2)" in rec.citation


def test_defects_warn_once_with_count_and_line_numbers(tmp_path):
    path = write(tmp_path, DEFECTS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = load_wisdm_raw(path)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1, messages
    assert "skipped 5 malformed line(s)" in messages[0]
    assert "5, 6, 7, 8, 9" in messages[0]
    assert str(path) in messages[0]
    # lines 1, 3 (two records), 4 (trailing comma), 11 and 13 are kept
    assert rec.n_samples == 6
    np.testing.assert_allclose(
        rec.frame["acc_z"].iloc[3], 3.0237172 / STANDARD_GRAVITY, rtol=1e-6
    )
    np.testing.assert_allclose(
        rec.frame["time"], (np.array([49105962326000, 49106062271000, 49106112167000,
                                      49106222305000, 49106852389000, 49106952389000])
                            - 49105962326000) / 1e9,
    )


@pytest.mark.parametrize("first_bad", BAD_LINES)
def test_raise_names_the_first_bad_line(tmp_path, first_bad):
    lines = DEFECTS.split("\n")
    keep = [line for i, line in enumerate(lines, 1) if i not in BAD_LINES or i == first_bad]
    text = "\n".join(keep)
    path = write(tmp_path, text)
    expected_line = keep.index(lines[first_bad - 1]) + 1
    with pytest.raises(DataFormatError) as err:
        load_wisdm_raw(path, on_bad_lines="raise")
    assert err.value.line == expected_line
    assert err.value.path == str(path)
    assert f"line {expected_line}" in str(err.value)


def test_raise_reports_field_and_reason(tmp_path):
    path = write(tmp_path, CLEAN + "33,Jogging,49106442306000,1.3756552,,2.4925237;\n")
    with pytest.raises(DataFormatError, match=r"line 8, column 5: .*y is empty"):
        load_wisdm_raw(path, on_bad_lines="raise")


def test_skip_is_silent(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = load_wisdm_raw(write(tmp_path, DEFECTS), on_bad_lines="skip")
    assert rec.n_samples == 6


def test_zero_duplicate_and_backward_timestamps(tmp_path):
    text = (
        "5,Walking,1000000000,0,0,9.80665;\n"  # 1
        "5,Walking,0,0,0,9.80665;\n"  # 2 timestamp 0: dropped
        "5,Walking,1050000000,0,0,9.80665;\n"  # 3
        "5,Walking,1050000000,0,0,9.80665;\n"  # 4 repeated: dropped
        "5,Walking,1100000000,0,0,9.80665;\n"  # 5
        "5,Walking,400000000,0,0,9.80665;\n"  # 6 backwards: new session 5-2
        "5,Walking,450000000,0,0,9.80665;\n"  # 7
        "6,Walking,450000000,0,0,9.80665;\n"  # 8 other user: 6-1
    )
    with pytest.warns(UserWarning) as record:
        rec = load_wisdm_raw(write(tmp_path, text))
    assert len(record) == 2
    message = str(record[0].message)
    assert "1 record(s) with timestamp 0 and 1 with a repeated timestamp" in message
    assert "line(s) 2, 4" in message
    # the restart is said, with its line
    assert "goes back 1 time(s)" in str(record[1].message)
    assert "line(s) 6" in str(record[1].message)
    assert rec.sessions == ["5-1", "5-2", "6-1"]
    frame = rec.frame
    np.testing.assert_allclose(frame["time"], [0.0, 0.05, 0.1, 0.0, 0.05, 0.0])
    assert rec.n_samples == 6


def test_fast_and_general_parsers_agree(tmp_path, monkeypatch):
    path = write(tmp_path, DEFECTS + CLEAN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = load_wisdm_raw(path)
        monkeypatch.setattr(wisdm, "_tokenize_fast", lambda data: None)
        general = load_wisdm_raw(path)
    pd.testing.assert_frame_equal(fast.frame, general.frame)
    with pytest.raises(DataFormatError) as err:
        load_wisdm_raw(path, on_bad_lines="raise")
    assert err.value.line == 5


def test_crlf_and_missing_final_newline(tmp_path):
    crlf = CLEAN.replace("\n", "\r\n")
    rec = load_wisdm_raw(write(tmp_path, crlf.rstrip("\r\n")))
    assert rec.n_samples == 7
    assert rec.sessions == ["33-1", "33-2", "7-1"]


def test_folder_zip_and_tar_gz_inputs(tmp_path):
    folder = tmp_path / "WISDM_ar_v1.1"
    folder.mkdir()
    write(folder, CLEAN)
    reference = load_wisdm_raw(folder / "WISDM_ar_v1.1_raw.txt").frame
    pd.testing.assert_frame_equal(load_wisdm_raw(tmp_path).frame, reference)
    tgz = tmp_path / "WISDM_ar_latest.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(folder, arcname="home/share/data/public_sets/WISDM_ar_v1.1")
    pd.testing.assert_frame_equal(load_wisdm_raw(tgz).frame, reference)
    archive = tmp_path / "wisdm.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt", CLEAN + "1,Walking;\n")
    with pytest.warns(UserWarning, match="line"):
        pd.testing.assert_frame_equal(load_wisdm_raw(archive).frame, reference)
    with pytest.raises(DataFormatError) as err:
        load_wisdm_raw(archive, on_bad_lines="raise")
    assert str(err.value).startswith(f"{archive}:WISDM_ar_v1.1/WISDM_ar_v1.1_raw.txt, line 8")


def test_no_valid_record_and_bad_option(tmp_path):
    path = write(tmp_path, "a,b,c;\n\n")
    with pytest.raises(DataFormatError, match="no valid record"):
        load_wisdm_raw(path, on_bad_lines="skip")
    with pytest.raises(ConfigError, match="on_bad_lines"):
        load_wisdm_raw(path, on_bad_lines="ignore")
    with pytest.raises(DataFormatError, match="no such file"):
        load_wisdm_raw(tmp_path / "nothing_here")


# ----------------------------------------------------------------- windows


def test_real_wisdm_windows(wisdm_npz):
    w = load_wisdm_windows(wisdm_npz)
    assert len(w) == 7292
    assert w.X.shape == (7292, 128, 3) and w.X.dtype == np.float32
    assert w.channels == ["acc_x", "acc_y", "acc_z"]
    assert w.sampling_rate_hz == 20.0
    assert w.classes == WISDM_CLASSES
    assert w.class_counts() == dict(zip(WISDM_CLASSES, [661, 2287, 391, 316, 810, 2827],
                                        strict=True))
    assert w.subjects == [str(i) for i in range(36)]
    assert (w.split == "test").sum() == 2561 and (w.split == "train").sum() == 4731
    assert w.info["units"] == "z-scored per axis, not g"
    assert np.isnan(w.start_time).all()
    # z-scored: about zero mean and unit spread per axis
    assert np.abs(w.X.reshape(-1, 3).mean(axis=0)).max() < 0.05
    # the folder works too
    assert len(load_wisdm_windows(wisdm_npz.parent)) == 7292


def test_malformed_windows_npz(tmp_path):
    good = {
        "X": np.zeros((4, 128, 3), np.float32), "y": np.array([0, 1, 5, 2]),
        "subject": np.array([0, 0, 1, 1]), "is_test": np.array([False, False, True, True]),
    }
    np.savez(tmp_path / "ok.npz", **good)
    w = load_wisdm_windows(tmp_path / "ok.npz")
    assert list(w.y) == ["Downstairs", "Jogging", "Walking", "Sitting"]
    assert list(w.split) == ["train", "train", "test", "test"]
    np.savez(tmp_path / "no_y.npz", **{k: v for k, v in good.items() if k != "y"})
    with pytest.raises(DataFormatError, match=r"missing arrays \['y'\]"):
        load_wisdm_windows(tmp_path / "no_y.npz")
    np.savez(tmp_path / "bad_y.npz", **{**good, "y": np.array([0, 1, 6, 2])})
    with pytest.raises(DataFormatError, match="0-5"):
        load_wisdm_windows(tmp_path / "bad_y.npz")
    np.savez(tmp_path / "short.npz", **{**good, "subject": np.array([0, 0, 1])})
    with pytest.raises(DataFormatError, match="subject must have shape"):
        load_wisdm_windows(tmp_path / "short.npz")
    (tmp_path / "junk.npz").write_text("not an npz")
    with pytest.raises(DataFormatError, match="cannot read"):
        load_wisdm_windows(tmp_path / "junk.npz")
    # X goes through the one window validator, in its words, naming the file
    np.savez(tmp_path / "flat.npz", **{**good, "X": np.zeros((4, 384), np.float32)})
    with pytest.raises(DataFormatError, match=r"flat.npz: X: windows must have shape "
                       r"\(n_windows, n_samples, 3\) with the channels in the order "
                       r"\['acc_x', 'acc_y', 'acc_z'\], got an array of shape \(4, 384\)"):
        load_wisdm_windows(tmp_path / "flat.npz")
    np.savez(tmp_path / "swapped.npz", **{**good, "X": np.zeros((4, 3, 128), np.float32)})
    with pytest.raises(DataFormatError, match="the axes look swapped"):
        load_wisdm_windows(tmp_path / "swapped.npz")
    np.savez(tmp_path / "text.npz", **{**good, "X": np.full((4, 128, 3), "1.0")})
    with pytest.raises(DataFormatError, match="X must hold real numbers"):
        load_wisdm_windows(tmp_path / "text.npz")
    np.savez(tmp_path / "f64.npz", **{**good, "X": np.ones((4, 128, 3))})
    assert load_wisdm_windows(tmp_path / "f64.npz").X.dtype == np.float32


def test_timestamp_beyond_int64_is_a_malformed_record(tmp_path):
    text = CLEAN + "33,Walking,99999999999999999999999,0.0,9.80665,0.0;\n"
    with pytest.raises(DataFormatError) as err:
        load_wisdm_raw(write(tmp_path, text), on_bad_lines="raise")
    assert err.value.line == 8 and err.value.column == 3
    assert "timestamp is not a non-negative integer" in str(err.value)
    with pytest.warns(UserWarning, match="skipped 1 malformed line"):
        rec = load_wisdm_raw(write(tmp_path, text))
    assert rec.n_samples == 7
    # the largest int64 is still a timestamp
    ok = "7,Sitting,9223372036854775807,1.0,2.0,3.0;\n"
    assert load_wisdm_raw(write(tmp_path, "7,Sitting,1,1.0,2.0,3.0;\n" + ok)).n_samples == 2


def test_absurd_acceleration_is_a_malformed_record(tmp_path):
    text = CLEAN + "33,Walking,49206212167000,1e30,9.80665,0.0;\n"
    with pytest.raises(DataFormatError, match=r"x is beyond \+-98066.5 m/s\^2") as err:
        load_wisdm_raw(write(tmp_path, text), on_bad_lines="raise")
    assert err.value.line == 8 and err.value.column == 4


def test_raw_ids_as_categories_give_the_file_per_row(tmp_path):
    """Label, subject and session are built as category codes, not a string per sample: row
    by row the values of the file, subjects in natural order, sessions as they appear (real
    HAPT acceleration written as a WISDM raw file)."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    frame = load_bundled_hapt().select(subjects=["1", "2"]).frame
    lines, expected = [], []
    t = 10**9
    for user, subject, activity, rows in (("10", "1", "Walking", slice(0, 300)),
                                          ("2", "2", "Sitting", slice(0, 200)),
                                          ("10", "1", "Standing", slice(300, 500)),
                                          ("2", "2", "Walking", slice(200, 400))):
        part = frame[frame["subject"] == subject].iloc[rows]
        acc = part[["acc_x", "acc_y", "acc_z"]].to_numpy() * 9.80665
        for x, y, z in acc:
            lines.append(f"{user},{activity},{t},{x:.6f},{y:.6f},{z:.6f};")
            t += 50_000_000
        expected.append((user, activity, len(acc)))
    path = tmp_path / "WISDM_ar_v1.1_raw.txt"
    path.write_text("\n".join(lines) + "\n")
    rec = load_wisdm_raw(path, checks={"units": False})
    sessions = ["10-1", "2-1", "10-2", "2-2"]
    assert rec.subjects == ["2", "10"] and rec.sessions == sessions
    got = rec.frame
    want_subject = [u for u, _, n in expected for _ in range(n)]
    want_label = [a for _, a, n in expected for _ in range(n)]
    want_session = [s for s, (_, _, n) in zip(sessions, expected, strict=True) for _ in range(n)]
    assert got["subject"].astype(str).tolist() == want_subject
    assert got["label"].astype(str).tolist() == want_label
    assert got["session"].astype(str).tolist() == want_session
    assert [str(c) for c in got["label"].cat.categories] == WISDM_CLASSES
    assert got["label"].cat.codes.dtype == np.int8
