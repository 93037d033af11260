"""A gyroscope in files of its own (a definition's ``gyro`` key): paired by subject and session,
interpolated onto the accelerometer's time stamps, rows without a gyroscope value left out;
the same samples read whole and session by session; the ``flip`` key."""

from __future__ import annotations

import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.sessions import session_reads
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.errors import ConfigError, DataFormatError

T0_NS = 252207666810782
ACC_HZ, GYRO_HZ = 50.0, 40.0


def _definition(folder, text: str):
    path = folder / "data.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _acc(t: np.ndarray) -> np.ndarray:
    """Acceleration (m/s^2): still for 5 s, then walking-like."""
    moving = (t >= 5.0).astype(float)
    return np.column_stack([
        2.0 * moving * np.sin(2 * np.pi * 2.0 * t),
        1.0 * moving * np.cos(2 * np.pi * 2.0 * t),
        STANDARD_GRAVITY + 3.0 * moving * np.sin(2 * np.pi * 2.0 * t + 0.5),
    ])


def _gyro(t: np.ndarray) -> np.ndarray:
    """Angular rate (rad/s): a sine on x, a straight line on z (linear interpolation is
    exact on it)."""
    moving = (t >= 5.0).astype(float)
    return np.column_stack([
        1.5 * moving * np.sin(2 * np.pi * 2.0 * t) + 0.01,
        0.8 * moving * np.cos(2 * np.pi * 2.0 * t) - 0.02,
        0.1 + 0.01 * t,
    ])


def write_wisdm_raw(root, subjects=("1600", "1601"), seconds=20.0, gyro_offset_s=0.105,
                 gap=(10.0, 10.5)):
    """WISDM 2019 raw layout: ``phone/accel/data_S_accel_phone.txt`` at 50 Hz and
    ``phone/gyro/data_S_gyro_phone.txt`` at 40 Hz, each line ``S,label,ns,x,y,z;``; the
    gyroscope starts ``gyro_offset_s`` after the accelerometer, stops 0.2 s before it, and
    has no samples in ``gap`` (s). Returns {subject: (acc time s, gyro time s, gyro values
    as written)}."""
    out = {}
    for k, subject in enumerate(subjects):
        start = T0_NS + k * 10**12
        t_acc = np.arange(int(seconds * ACC_HZ)) / ACC_HZ
        t_gyro = gyro_offset_s + np.arange(int((seconds - gyro_offset_s - 0.2) * GYRO_HZ)) \
            / GYRO_HZ
        t_gyro = t_gyro[(t_gyro < gap[0]) | (t_gyro > gap[1])]
        written = {}
        for sensor, t, values in (("accel", t_acc, _acc(t_acc)),
                                  ("gyro", t_gyro, _gyro(t_gyro))):
            folder = root / "phone" / sensor
            folder.mkdir(parents=True, exist_ok=True)
            stamps = start + np.round(t * 1e9).astype(np.int64)
            labels = np.where(t < 5.0, "D", "A")
            lines = [f"{subject},{lab},{s},{v[0]:.8g},{v[1]:.8g},{v[2]:.8g};"
                     for lab, s, v in zip(labels, stamps, values, strict=True)]
            (folder / f"data_{subject}_{sensor}_phone.txt").write_text("\n".join(lines) + "\n")
            written[sensor] = (stamps - start) / 1e9, np.array(
                [[float(x) for x in line.split(",")[3:6]] for line in
                 (ln.rstrip(";") for ln in lines)])
        out[subject] = (written["accel"][0], written["gyro"][0], written["gyro"][1])
    return out


WISDM = r"""
    files: "raw/phone/accel/*.txt"
    csv: {delimiter: ",", header: false, comment: ";"}
    sampling_rate_hz: 50
    columns: {time: 2, acc_x: 3, acc_y: 4, acc_z: 5, label: 1}
    units: {time: ns, acc: m/s^2}
    file_pattern: 'data_(?P<subject>\d+)_accel_phone\.txt'
    gyro:
      files: "raw/phone/gyro/*.txt"
      file_pattern: 'data_(?P<subject>\d+)_gyro_phone\.txt'
      sampling_rate_hz: 40
      columns: {gyro_x: 3, gyro_y: 4, gyro_z: 5}
    classes: [A, D]
    """


def _expected(t_acc, t_gyro, gyro, max_gap):
    """Which acc times have a gyroscope value, and the value: from the two gyroscope samples
    around each time, found one time at a time (an independent reference)."""
    keep, values = [], []
    for t in t_acc:
        before = t_gyro[t_gyro <= t]
        after = t_gyro[t_gyro >= t]
        if not len(before) or not len(after) or after[0] - before[-1] > max_gap + 1e-12:
            keep.append(False)
            continue
        i, j = len(before) - 1, len(t_gyro) - len(after)
        w = 0.0 if j == i else (t - t_gyro[i]) / (t_gyro[j] - t_gyro[i])
        keep.append(True)
        values.append(gyro[i] + w * (gyro[j] - gyro[i]))
    return np.array(keep), np.array(values)


def test_gyro_files_are_interpolated_onto_the_accelerometer_times(tmp_path):
    written = write_wisdm_raw(tmp_path / "raw")
    path = _definition(tmp_path, WISDM)
    with pytest.warns(UserWarning, match="left out") as caught:
        rec = load_custom(path)
    assert rec.has_gyro and rec.subjects == ["1600", "1601"]
    for subject, (t_acc, t_gyro, gyro) in written.items():
        keep, values = _expected(t_acc, t_gyro, gyro, max_gap=2 / 40)
        part = rec.frame[rec.frame["subject"] == subject]
        # 6 rows before the gyroscope's first sample (0 to 0.1 s: it starts at 0.105 s), 12
        # after its last (19.76 to 19.98 s: it ends at 19.755 s), and 26 in its gap (10.0 to
        # 10.5 s: its samples 9.98 and 10.505 s are 0.525 s apart; 9.98 s is a sample)
        assert len(t_acc) - keep.sum() == 6 + 12 + 26
        assert len(part) == keep.sum()
        np.testing.assert_allclose(part["time"], t_acc[keep] - t_acc[keep][0], atol=1e-9)
        np.testing.assert_allclose(part[["gyro_x", "gyro_y", "gyro_z"]], values, atol=1e-6)
        # the straight line on z is interpolated exactly (float32 rounding)
        np.testing.assert_allclose(part["gyro_z"], 0.1 + 0.01 * t_acc[keep], rtol=2e-6)
        # labels from the accelerometer's rows
        assert list(part["label"].astype(str)) == list(np.where(t_acc[keep] < 5.0, "D", "A"))
        np.testing.assert_allclose(part["acc_z"], _acc(t_acc[keep])[:, 2] / STANDARD_GRAVITY,
                                   rtol=1e-6)
    message = str(caught[0].message)
    assert "88 accelerometer row(s) (1.76 s)" in message
    assert "data_1600_accel_phone.txt with" in message and "data_1600_gyro_phone.txt" in message
    assert "line 1" in message  # the first row left out


def test_whole_and_session_by_session_reads_agree(tmp_path):
    write_wisdm_raw(tmp_path / "raw")
    path = _definition(tmp_path, WISDM)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = load_custom(path).frame
        sources, prefix = session_reads(path)
        assert len(sources) == 2
        by_session = pd.concat([s.load(session_prefix=prefix).frame for s in sources],
                               ignore_index=True)
        batches = [b.frame for s in sources
                   for b in s.iter_batches(session_prefix=prefix, batch_rows=128)]
    assert len(batches) > 10  # read in batches, not whole
    batched = pd.concat(batches, ignore_index=True)
    for other in (by_session, batched):
        assert len(other) == len(whole)
        for c in ("time", "acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"):
            np.testing.assert_allclose(other[c], whole[c], atol=1e-6, err_msg=c)
        for c in ("label", "subject", "session"):
            assert list(other[c].astype(str)) == list(whole[c].astype(str)), c


def test_batched_read_warns_about_the_rows_left_out(tmp_path):
    write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    path = _definition(tmp_path, WISDM)
    (source,), prefix = session_reads(path)
    with pytest.warns(UserWarning, match=r"44 accelerometer row\(s\) \(0.88 s\) left out"):
        n = sum(len(b.frame) for b in source.iter_batches(batch_rows=128))
    assert n == 1000 - 44


def test_max_gap_key_bridges_a_longer_gap(tmp_path):
    write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    path = _definition(tmp_path, WISDM.replace("sampling_rate_hz: 40",
                                               "sampling_rate_hz: 40\n      max_gap_s: 0.6"))
    with pytest.warns(UserWarning, match=r"18 accelerometer row\(s\)"):
        rec = load_custom(path)
    assert len(rec.frame) == 1000 - 18  # only the rows outside the gyroscope's time span


def write_hhar(folder, devices=("nexus4_1", "s3_1"), users=("a", "b"), seconds=12.0,
                gyro_devices=None):
    """HHAR's ``Phones_accelerometer.csv`` and ``Phones_gyroscope.csv``: Index, Arrival_Time,
    Creation_Time (ns), x y z, User, Model, Device, gt; the rows of all users' devices
    interleaved (sorted by arrival), each device's gyroscope at 40 Hz with its own clock
    offset. Returns {(user, device): (acc times s, gyro times s, gyro values)}."""
    folder.mkdir(parents=True, exist_ok=True)
    gyro_devices = devices if gyro_devices is None else gyro_devices
    out, tables = {}, {"accelerometer": [], "gyroscope": []}
    for u, user in enumerate(users):
        for d, device in enumerate(devices):
            start = 1424696631913248572 + u * 3_600_000_000_000 + d * 7_000_000
            t_acc = np.arange(int(seconds * ACC_HZ)) / ACC_HZ
            t_gyro = 0.013 + np.arange(int((seconds - 0.1) * GYRO_HZ)) / GYRO_HZ
            gyro = _gyro(t_gyro) * (1 + d + 2 * u)  # each device its own values
            for sensor, t, values in (("accelerometer", t_acc, _acc(t_acc)),
                                      ("gyroscope", t_gyro, gyro)):
                if sensor == "gyroscope" and device not in gyro_devices:
                    continue
                stamps = start + np.round(t * 1e9).astype(np.int64)
                tables[sensor].append(pd.DataFrame({
                    "Arrival_Time": stamps // 1_000_000 + 5, "Creation_Time": stamps,
                    "x": values[:, 0], "y": values[:, 1], "z": values[:, 2], "User": user,
                    "Model": device.split("_")[0], "Device": device,
                    "gt": np.where(t < 5.0, "sit", "walk")}))
            out[(user, device)] = tuple(  # times as the loader reads them: float64 s
                (start + np.round(t * 1e9).astype(np.int64)).astype(np.float64) * 1e-9
                for t in (t_acc, t_gyro)
            ) + (gyro,)
    for sensor, parts in tables.items():
        table = pd.concat(parts).sort_values("Arrival_Time", kind="stable")
        table.to_csv(folder / f"Phones_{sensor}.csv", index_label="Index", index=False)
    return out


HHAR = r"""
    files: "hhar/Phones_accelerometer.csv"
    sampling_rate_hz: 50
    columns: {time: Creation_Time, acc_x: x, acc_y: y, acc_z: z, label: gt, subject: User,
              session: Device}
    units: {time: ns, acc: m/s^2}
    gyro:
      files: "hhar/Phones_gyroscope.csv"
      columns: {gyro_x: x, gyro_y: y, gyro_z: z}
    checks: {sampling_rate: false}
    """


def test_hhar_rows_are_joined_by_subject_and_device(tmp_path):
    written = write_hhar(tmp_path / "hhar")
    path = _definition(tmp_path, HHAR)
    with pytest.warns(UserWarning, match="left out"):
        rec = load_custom(path)
    assert sorted(rec.sessions) == ["a-nexus4_1", "a-s3_1", "b-nexus4_1", "b-s3_1"]
    for (user, device), (t_acc, t_gyro, gyro) in written.items():
        keep, values = _expected(t_acc, t_gyro, gyro, max_gap=2 / 50)
        part = rec.frame[rec.frame["session"] == f"{user}-{device}"]
        assert len(part) == keep.sum() == len(t_acc) - 1 - 5  # before 0.013 s, after 11.913 s
        np.testing.assert_allclose(part[["gyro_x", "gyro_y", "gyro_z"]], values, atol=1e-5)
    sources, prefix = session_reads(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched = pd.concat([b.frame for s in sources
                             for b in s.iter_batches(session_prefix=prefix, batch_rows=100)],
                            ignore_index=True)
    whole = rec.frame
    order = np.lexsort((whole["time"], whole["session"].astype(str)))
    again = np.lexsort((batched["time"], batched["session"].astype(str)))
    for c in ("time", "gyro_x", "gyro_y", "gyro_z", "acc_x"):
        np.testing.assert_allclose(batched[c].to_numpy()[again], whole[c].to_numpy()[order],
                                   atol=1e-6)


def test_a_device_without_gyroscope_rows_is_left_out_with_a_warning(tmp_path):
    write_hhar(tmp_path / "hhar", users=("a",), gyro_devices=("nexus4_1",))
    path = _definition(tmp_path, HHAR)
    with pytest.warns(UserWarning, match=r"accelerometer row\(s\)") as caught:
        rec = load_custom(path)
    assert rec.sessions == ["nexus4_1"]
    assert "Phones_accelerometer.csv with" in str(caught[0].message)
    assert "Phones_gyroscope.csv" in str(caught[0].message)


def test_unpaired_files_are_errors_naming_the_file_and_both_patterns(tmp_path):
    write_wisdm_raw(tmp_path / "raw")
    path = _definition(tmp_path, WISDM)
    (tmp_path / "raw" / "phone" / "gyro" / "data_1600_gyro_phone.txt").rename(
        tmp_path / "raw" / "phone" / "gyro" / "data_1700_gyro_phone.txt")
    with pytest.raises(ConfigError, match=r"accelerometer file .*data_1600_accel_phone.txt "
                       r"\(subject '1600'\) has no gyroscope file .*accelerometer: files "
                       r"'raw/phone/accel/\*.txt', file_pattern .*gyroscope: files"):
        load_custom(path)
    # session by session: the same error
    sources, _ = session_reads(path)
    with pytest.raises(ConfigError, match="has no gyroscope file"):
        sources[0].load()
    (tmp_path / "raw" / "phone" / "gyro" / "data_1700_gyro_phone.txt").rename(
        tmp_path / "raw" / "phone" / "gyro" / "data_1600_gyro_phone.txt")
    (tmp_path / "raw" / "phone" / "gyro" / "data_1602_gyro_phone.txt").write_text(
        "1602,A,1,0,0,0;\n")
    with pytest.raises(ConfigError, match=r"gyroscope file .*data_1602_gyro_phone.txt "
                       r"\(subject '1602'\) has no accelerometer file"):
        load_custom(path)


def test_disjoint_clocks_and_repeated_gyro_times_are_errors(tmp_path):
    write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    gyro_file = tmp_path / "raw" / "phone" / "gyro" / "data_1600_gyro_phone.txt"
    lines = gyro_file.read_text().splitlines()
    path = _definition(tmp_path, WISDM)
    gyro_file.write_text("\n".join([*lines[:3], lines[2], *lines[3:]]) + "\n")
    with pytest.raises(DataFormatError, match=r"data_1600_gyro_phone.txt, line 4, column 2: time "
                       r"252207.821811 s repeats a gyroscope sample"):
        load_custom(path)
    shifted = [line.split(",") for line in lines]
    for cells in shifted:  # the gyroscope's clock an hour later
        cells[2] = str(int(cells[2]) + 3_600 * 10**9)
    gyro_file.write_text("\n".join(",".join(c) for c in shifted) + "\n")
    with pytest.raises(DataFormatError, match=r"data_1600_accel_phone.txt: no row has a "
                       r"gyroscope value.*data_1600_gyro_phone.txt.*same clock and units.time"):
        load_custom(path)


@pytest.mark.parametrize(("change", "message"), [
    ("columns: {time: 2, acc_x: 3, acc_y: 4, acc_z: 5, label: 1, gyro_x: 6, gyro_y: 7, "
     "gyro_z: 8}", "the gyroscope is given twice"),
    ("columns: {acc_x: 3, acc_y: 4, acc_z: 5, label: 1}", "needs columns.time"),
    (r"file_pattern: 'data_(?P<subject>\d+)_(?P<session>\w+)_phone\.txt'",
     r"gyro.file_pattern names \['subject'\] but file_pattern names \['session', 'subject'\]"),
])
def test_definition_errors_of_the_gyro_key(tmp_path, change, message):
    key = change.split(":")[0]
    text = "\n".join(change if line.startswith(key + ":") else line  # (the top level's)
                     for line in textwrap.dedent(WISDM).splitlines())
    path = _definition(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        load_custom(path)


def test_flip_reverses_the_sign_of_named_channels(tmp_path):
    """iOS Core Motion's axes point the other way from Android's."""
    (tmp_path / "a.csv").write_text(
        "t,ax,ay,az,grx,gry,grz,gx,gy,gz\n"
        "0.00,0.1,0.2,0.0,0,0,-1,0.5,0.6,0.7\n0.02,0.1,0.2,0.1,0,0,-1,0.5,0.6,0.7\n"
        "0.04,0.1,0.2,0.2,0,0,-1,0.5,0.6,0.7\n")
    path = _definition(tmp_path, """
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az, gravity_x: grx, gravity_y: gry,
                  gravity_z: grz, gyro_x: gx, gyro_y: gy, gyro_z: gz}
        constants: {subject: a}
        flip: [acc_x, acc_z, gyro_y]
        checks: {units: false}
        """)
    frame = load_custom(path).frame
    np.testing.assert_allclose(frame["acc_x"], -0.1, rtol=1e-6)
    np.testing.assert_allclose(frame["acc_y"], 0.2, rtol=1e-6)
    np.testing.assert_allclose(frame["acc_z"], [1.0, 0.9, 0.8], rtol=1e-6)  # gravity too
    np.testing.assert_allclose(frame[["gyro_x", "gyro_y", "gyro_z"]].iloc[0], [0.5, -0.6, 0.7],
                               rtol=1e-6)


def test_flip_of_a_gyroscope_in_files_of_its_own(tmp_path):
    written = write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    path = _definition(tmp_path, WISDM + "flip: [gyro_x, gyro_y, gyro_z]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = load_custom(path)
    t_acc, t_gyro, gyro = written["1600"]
    keep, values = _expected(t_acc, t_gyro, gyro, max_gap=2 / 40)
    np.testing.assert_allclose(rec.frame[["gyro_x", "gyro_y", "gyro_z"]], -values, atol=1e-6)


@pytest.mark.parametrize(("flip", "message"), [
    ("[gyro_x]", "flip names gyroscope channels, but the definition reads no gyroscope"),
    ("[acc_x, acc_x]", "flip names a channel twice"),
    ("[time]", "flip"),
])
def test_flip_errors(tmp_path, flip, message):
    (tmp_path / "a.csv").write_text("ax,ay,az\n0,0,1\n")
    path = _definition(tmp_path, f"""
        files: "*.csv"
        sampling_rate_hz: 50
        columns: {{acc_x: ax, acc_y: ay, acc_z: az}}
        constants: {{subject: a}}
        flip: {flip}
        """)
    with pytest.raises(ConfigError, match=message):
        load_custom(path)


def test_a_changed_gyro_file_changes_the_session_fingerprint(tmp_path):
    """The feature cache's key: a session's features depend on its gyroscope file too."""
    write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    path = _definition(tmp_path, WISDM)
    (source,), _ = session_reads(path)
    assert source.read_files() == (str(tmp_path / "raw/phone/accel/data_1600_accel_phone.txt"),
                                   str(tmp_path / "raw/phone/gyro/data_1600_gyro_phone.txt"))
    before = source.fingerprint()
    gyro_file = tmp_path / "raw" / "phone" / "gyro" / "data_1600_gyro_phone.txt"
    gyro_file.write_text(gyro_file.read_text().replace(",0.01,", ",0.02,", 1))
    assert source.fingerprint() != before


def test_the_gyroscope_rate_is_checked(tmp_path):
    write_wisdm_raw(tmp_path / "raw", subjects=("1600",))
    path = _definition(tmp_path, WISDM.replace("      sampling_rate_hz: 40\n", ""))
    with pytest.raises(DataFormatError, match=r"data_1600_gyro_phone.txt, column 2: the "
                       r"gyroscope's time column shows 40 Hz but its declared rate is "
                       r"sampling_rate_hz's, 50 Hz; set gyro.sampling_rate_hz"):
        load_custom(path)
    (source,), _ = session_reads(path)
    with pytest.raises(DataFormatError, match="shows 40 Hz"):
        list(source.iter_batches(batch_rows=128))
    path.write_text(path.read_text() + "checks: {sampling_rate: false}\n")
    with pytest.warns(UserWarning, match="left out"):
        assert len(load_custom(path).frame) == 1000 - 44
