"""Plausibility checks with known answers: real HAPT recordings declared wrongly are caught.

Each wrong declaration is made from a real HAPT experiment (the bundled copy,
50 Hz, g and rad/s), written as the CSV files a user would have, so that the
right answer is known: the rate is 50 Hz, gravity is 1 g, the gyroscope is in
rad/s. The real data sets themselves load without a single warning.
"""

from __future__ import annotations

import textwrap
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets import checks as chk
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.datasets.custom import load_custom
from tinyhar.datasets.recording import RecordingSet
from tinyhar.datasets.registry import load_dataset
from tinyhar.datasets.units import STANDARD_GRAVITY
from tinyhar.datasets.wisdm import load_wisdm_raw
from tinyhar.errors import ConfigError, DataFormatError

SENSORS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


@pytest.fixture(scope="module")
def hapt_sessions() -> dict[str, pd.DataFrame]:
    """Three real HAPT experiments (subjects 1, 2, 3), 60 s each, in g and rad/s.

    Each starts 10 s before the first walking segment: standing, then walking.
    """
    rec = load_bundled_hapt().select(subjects=["1", "2", "3"])
    out = {}
    for subject, _session, part in rec.iter_sessions():
        if subject not in out:
            start = int(np.flatnonzero((part["label"] == "WALKING").fillna(False))[0]) - 500
            out[subject] = part.iloc[start : start + 3000].reset_index(drop=True)
            out[subject]["time"] -= out[subject]["time"].iloc[0]
    return out


def write_definition(folder, extra: str = "", time: bool = True, rate: float = 50) -> object:
    columns = "{" + ("time: t, " if time else "") + (
        "acc_x: ax, acc_y: ay, acc_z: az, gyro_x: gx, gyro_y: gy, gyro_z: gz}"
    )
    text = f"""
        files: "*.csv"
        sampling_rate_hz: {rate}
        columns: {columns}
        file_pattern: '(?P<subject>[^_]+)_rec\\.csv'
        """
    path = folder / "data.yaml"
    path.write_text(textwrap.dedent(text) + textwrap.dedent(extra))
    return path


def write_csv(folder, subject: str, part: pd.DataFrame, acc_factor=1.0, gyro_factor=1.0,
              time=None) -> object:
    frame = pd.DataFrame({
        "t": part["time"].to_numpy() if time is None else time,
        "ax": part["acc_x"] * acc_factor, "ay": part["acc_y"] * acc_factor,
        "az": part["acc_z"] * acc_factor,
        "gx": part["gyro_x"] * gyro_factor, "gy": part["gyro_y"] * gyro_factor,
        "gz": part["gyro_z"] * gyro_factor,
    })
    path = folder / f"{subject}_rec.csv"
    frame.to_csv(path, index=False)
    return path


def load_quietly(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_custom(path, **kw)


def test_real_recordings_as_csv_load_without_any_warning(tmp_path, hapt_sessions):
    for subject, part in hapt_sessions.items():
        write_csv(tmp_path, subject, part)
    rec = load_quietly(write_definition(tmp_path))
    assert rec.subjects == ["1", "2", "3"]
    np.testing.assert_allclose(rec.frame["acc_x"].iloc[:3000], hapt_sessions["1"]["acc_x"])


def test_50_hz_declared_25_hz_names_both_rates(tmp_path, hapt_sessions):
    write_csv(tmp_path, "1", hapt_sessions["1"])
    with pytest.raises(DataFormatError) as caught:
        load_custom(write_definition(tmp_path, rate=25))
    message = str(caught.value)
    assert "1_rec.csv" in message and "column t" in message
    assert "shows 50 Hz" in message and "declared sampling rate is 25 Hz" in message
    assert "dataset.checks.sampling_rate: false" in message
    # switched off, it loads (at the declared rate, as asked)
    rec = load_quietly(write_definition(tmp_path, "checks: {sampling_rate: false}\n", rate=25))
    assert rec.sampling_rate_hz == 25


def test_rate_from_rounded_millisecond_timestamps_is_right():
    # 300 Hz with timestamps rounded to whole ms: steps of 3 and 4 ms, median 3 ms
    t = np.round(np.arange(3000) / 300 * 1000) / 1000
    assert np.median(np.diff(t)) == pytest.approx(0.003)
    assert chk.measured_rate_hz(t) == pytest.approx(300, rel=1e-3)
    chk.check_sampling_rate(t, 300, "x.csv")
    # gaps and a restart do not move the estimate
    t2 = np.r_[t, t[-1] + 5 + t, t]
    assert chk.measured_rate_hz(t2) == pytest.approx(300, rel=1e-3)


def test_m_s2_declared_g_looks_like_m_s2(tmp_path, hapt_sessions):
    write_csv(tmp_path, "1", hapt_sessions["1"], acc_factor=STANDARD_GRAVITY)
    with pytest.raises(DataFormatError, match=r"still spans is 10\.\d+ g .*look like m/s\^2"):
        load_custom(write_definition(tmp_path))


def test_g_declared_m_s2_is_caught(tmp_path, hapt_sessions):
    write_csv(tmp_path, "1", hapt_sessions["1"])
    with pytest.raises(DataFormatError, match=r"0\.10\d+ g .*g read as m/s\^2"):
        load_custom(write_definition(tmp_path, "units: {acc: m/s^2}\n"))


def test_one_subject_in_m_s2_among_subjects_in_g_is_named(tmp_path, hapt_sessions):
    write_csv(tmp_path, "1", hapt_sessions["1"])
    write_csv(tmp_path, "2", hapt_sessions["2"], acc_factor=STANDARD_GRAVITY)
    write_csv(tmp_path, "3", hapt_sessions["3"])
    with pytest.raises(DataFormatError) as caught:
        load_custom(write_definition(tmp_path))
    message = str(caught.value)
    assert "2_rec.csv" in message and "1_rec.csv" not in message and "3_rec.csv" not in message


def test_gravity_removed_is_caught_and_can_be_switched_off(tmp_path, hapt_sessions):
    part = hapt_sessions["1"].copy()
    for c in ("acc_x", "acc_y", "acc_z"):
        part[c] = part[c] - part[c].rolling(250, center=True, min_periods=1).mean()
    write_csv(tmp_path, "1", part)
    with pytest.raises(DataFormatError, match="gravity removed"):
        load_custom(write_definition(tmp_path))
    load_quietly(write_definition(tmp_path, "checks: {units: false}\n"))
    # the training configuration's dataset.checks switches it off as well
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset(write_definition(tmp_path), checks={"units": False})


def test_gyro_deg_s_declared_rad_s_and_the_reverse(tmp_path, hapt_sessions):
    write_csv(tmp_path, "1", hapt_sessions["1"], gyro_factor=180 / np.pi)
    with pytest.raises(DataFormatError, match=r"gyro.*look like deg/s"):
        load_custom(write_definition(tmp_path))
    # the right declaration loads, and gives back the rad/s values
    rec = load_quietly(write_definition(tmp_path, "units: {gyro: deg/s}\n"))
    np.testing.assert_allclose(rec.frame["gyro_x"], hapt_sessions["1"]["gyro_x"], atol=1e-6)
    write_csv(tmp_path, "1", hapt_sessions["1"])
    with pytest.raises(DataFormatError, match=r"look like rad/s declared as deg/s"):
        load_custom(write_definition(tmp_path, "units: {gyro: deg/s}\n"))


def test_clipping_is_reported_once_naming_file_and_channel(tmp_path, hapt_sessions):
    part = hapt_sessions["1"].copy()
    part["acc_x"] = part["acc_x"].clip(-1.5, 1.5)  # a +-1.5 g sensor while walking
    assert (part["acc_x"] == 1.5).mean() > 0.005
    write_csv(tmp_path, "1", part)
    write_csv(tmp_path, "2", hapt_sessions["2"])
    with pytest.warns(UserWarning, match="clipping") as record:
        load_custom(write_definition(tmp_path))
    assert len(record) == 1
    message = str(record[0].message)
    assert "1_rec.csv: acc_x" in message and "at 1.5 g" in message and "2_rec.csv" not in message
    load_quietly(write_definition(tmp_path, "checks: {clipping: false}\n"))


def test_restarting_time_splits_into_sessions_and_says_where(tmp_path, hapt_sessions):
    part = hapt_sessions["1"]
    time = np.r_[np.arange(1000), np.arange(2000)] / 50.0  # the logger restarted at row 1001
    write_csv(tmp_path, "1", part, time=time)
    with pytest.warns(UserWarning, match="time goes back 1 time") as record:
        rec = load_custom(write_definition(tmp_path))
    message = str(record[0].message)
    assert "1_rec.csv, line 1002" in message and "19.98 s -> 0 s" in message, message
    assert rec.sessions == ["1_rec", "1_rec~2"]
    sizes = rec.frame.groupby("session", observed=True).size()
    assert sizes["1_rec"] == 1000 and sizes["1_rec~2"] == 2000
    # not interleaved: each session's samples are the file's rows in order
    np.testing.assert_allclose(rec.frame["acc_x"], part["acc_x"], atol=0)


def test_shuffled_rows_are_an_error_or_sorted_when_asked(tmp_path, hapt_sessions):
    part = hapt_sessions["1"].iloc[:500]
    order = np.random.default_rng(0).permutation(500)
    shuffled = part.iloc[order].reset_index(drop=True)
    write_csv(tmp_path, "1", shuffled)
    with pytest.raises(DataFormatError, match="not in time order"):
        load_custom(write_definition(tmp_path))
    rec = load_quietly(write_definition(tmp_path, "checks: {time_order: false}\n"))
    np.testing.assert_allclose(rec.frame["acc_x"], part["acc_x"])


def test_absurd_value_names_file_line_and_column(tmp_path, hapt_sessions):
    part = hapt_sessions["1"].iloc[:200].copy()
    part.loc[57, "acc_y"] = 1e30
    write_csv(tmp_path, "1", part)
    with pytest.raises(DataFormatError) as caught:
        load_custom(write_definition(tmp_path))
    assert caught.value.line == 59  # header + 0-based row 57
    assert caught.value.column == "acc_y"
    assert "1e+30" in str(caught.value) and "1_rec.csv" in str(caught.value)


def test_parquet_recordings_in_m_s2_are_caught_per_session(tmp_path, hapt_sessions):
    frames = []
    for subject, part in hapt_sessions.items():
        frame = part.copy()
        if subject == "3":
            frame[["acc_x", "acc_y", "acc_z"]] *= STANDARD_GRAVITY
        frames.append(frame)
    rec = RecordingSet(pd.concat(frames, ignore_index=True), 50.0, ["WALKING", "SITTING",
                       "STANDING", "LAYING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS"])
    path = rec.to_parquet(tmp_path / "rec.parquet")
    with pytest.raises(DataFormatError, match=r"session exp05.*look like m/s\^2"):
        load_dataset(path)
    assert load_dataset(path, checks={"units": False}).n_samples == 9000


def test_wisdm_user_in_g_is_named(tmp_path, hapt_sessions):
    lines = []
    for user, factor in (("1", STANDARD_GRAVITY), ("2", 1.0)):
        part = hapt_sessions[user].iloc[:400]
        acc = part[["acc_x", "acc_y", "acc_z"]].to_numpy() * factor
        ts = 10**9 + np.arange(len(part)) * 50_000_000
        lines += [f"{user},Walking,{t},{x:.6f},{y:.6f},{z:.6f};" for t, (x, y, z) in zip(
            ts, acc, strict=True)]
    path = tmp_path / "WISDM_ar_v1.1_raw.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"user 2, .*declared m/s\^2.*g read as m/s\^2"):
        load_wisdm_raw(path)
    assert load_wisdm_raw(path, checks={"units": False}).subjects == ["1", "2"]


def test_resolve_checks_combines_and_rejects_bad_keys():
    both = chk.resolve_checks({"units": False}, chk.DataChecks(clipping=False))
    assert (both.units, both.clipping, both.sampling_rate, both.time_order) == (
        False, False, True, True)
    with pytest.raises(ConfigError, match="checks"):
        chk.resolve_checks({"unit": False})


# ------------------------------------------------------------ real data: no false alarm
def test_bundled_hapt_loads_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = load_bundled_hapt()
    assert rec.n_samples == 1_122_772


def test_real_hapt_and_uci_har_load_without_warning(hapt_zip, uci_zip):
    from tinyhar.datasets.hapt import load_hapt
    from tinyhar.datasets.ucihar import load_ucihar

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hapt = load_hapt(hapt_zip, activities="all", sensors="acc+gyro")
        uci = load_ucihar(uci_zip, signals="all")
    assert hapt.n_samples == 1_122_772 and len(uci) == 10_299


def test_real_hapt_declared_in_m_s2_is_caught(hapt_subset, tmp_path):
    """The real HAPT files with acceleration multiplied by 9.80665: caught, naming the file."""
    src = hapt_subset["zip"]
    bad = tmp_path / "hapt_ms2.zip"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(bad, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == "RawData/acc_exp02_user01.txt":
                values = np.loadtxt(data.decode().splitlines()) * STANDARD_GRAVITY
                data = "".join(" ".join(f"{v:.8e}" for v in row) + "\n" for row in values).encode()
            zout.writestr(item, data)
    from tinyhar.datasets.hapt import load_hapt

    with pytest.raises(DataFormatError, match=r"acc_exp02_user01\.txt.*look like m/s\^2"):
        load_hapt(bad)


def test_parquet_recordings_with_a_wrong_rate_are_caught(tmp_path, hapt_sessions):
    frame = hapt_sessions["1"]
    rec = RecordingSet(frame, 100.0, ["WALKING", "STANDING"])  # declared 100 Hz, time says 50
    path = rec.to_parquet(tmp_path / "rec.parquet")
    with pytest.raises(DataFormatError, match=r"session exp01, column time: .*shows 50 Hz"):
        load_dataset(path)
    assert load_dataset(path, checks={"sampling_rate": False}).sampling_rate_hz == 100.0


def test_chunked_percentile_equals_numpy_on_real_gyro_magnitudes():
    """The gyro check's 99th percentile keeps 1 % of the values: same number as numpy's."""
    rec = load_bundled_hapt().select(subjects=["1", "2"])
    magnitude = chk.magnitude_of(rec.frame[["gyro_x", "gyro_y", "gyro_z"]].to_numpy())
    rng = np.random.default_rng(0)
    for values in (magnitude, magnitude[:1001], magnitude[:2], magnitude[:1],
                   np.round(magnitude, 1)):  # (ties)
        for q in (99, 50, 0, 100, 37.5):
            for size in (1, 7, 4096):
                chunks = (values[a : a + size] for a in range(0, len(values), size))
                got = chk._chunked_percentile(chunks, len(values), q)
                want = float(np.percentile(values, q))
                assert got == pytest.approx(want, rel=1e-12, abs=0), (len(values), q, size)
    shuffled = rng.permutation(magnitude)
    got = chk._chunked_percentile(np.array_split(shuffled, 13), len(shuffled), 99)
    assert got == pytest.approx(float(np.percentile(magnitude, 99)), rel=1e-12, abs=0)


def test_runs_at_an_extreme_are_counted_across_chunk_edges(monkeypatch):
    """Clipped runs straddling the chunks of the scan count as on the whole column."""
    def whole(column, value, min_run):
        edges = np.diff(np.r_[0, (column == value).astype(np.int8), 0])
        lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
        return int(lengths[lengths >= min_run].sum())

    rng = np.random.default_rng(1)
    columns = [np.array([2.0, 2.0, 2.0, 0.0, 2.0, 2.0, 2.0, 2.0, 0.0, 2.0, 2.0]),
               np.full(10, 2.0), np.zeros(5)]
    columns += [rng.choice([0.0, 2.0], size=int(rng.integers(1, 60)), p=[0.3, 0.7])
                for _ in range(200)]
    for chunk in (1, 2, 3, 4, 64):
        monkeypatch.setattr(chk, "_CHUNK", chunk)
        for column in columns:
            for min_run in (1, 3):
                assert chk._samples_in_runs(column, 2.0, min_run) == whole(column, 2.0, min_run)


def test_rate_and_median_of_steps_chunkwise_equal_the_whole_column():
    """measured_rate_hz computes its steps a chunk at a time: the same median (exactly) and
    rate (to rounding) as on all steps at once, also with ties, gaps and restarts."""
    def whole(time):
        steps = np.diff(time)
        steps = steps[steps > 0]
        median = float(np.median(steps))
        return median, 1.0 / steps.mean(where=(steps >= 0.5 * median) & (steps <= 1.5 * median))

    real = load_bundled_hapt().select(subjects=["1"]).frame["time"].to_numpy()
    rng = np.random.default_rng(2)
    times = [
        real,  # a real session's time column
        np.round(np.arange(600_001) / 50 * 1000) / 1000,  # whole milliseconds: ties
        np.cumsum(rng.choice([0.02, 0.04, 0.0], size=400_000)),  # gaps and repeats
        np.r_[np.arange(300_000) / 50, np.arange(300_000) / 50],  # a restart
        np.cumsum(np.r_[np.full(300_000, 0.01), np.full(300_001, 0.03)]),  # even split
        np.cumsum(rng.exponential(0.02, 500_000)),
    ]
    for time in times:
        median, rate = whole(time)
        steps = np.diff(time)
        steps = steps[steps > 0]
        pieces = np.array_split(steps, 7)
        for cap in (1 << 18, 10):  # (10: the bracket holds too many, all values are used)
            assert chk._chunked_median(lambda pieces=pieces: iter(pieces), cap=cap) == median
        assert chk.measured_rate_hz(time) == pytest.approx(rate, rel=1e-12)
    assert chk.measured_rate_hz(np.array([0.0, 0.02])) is None
    assert chk._chunked_median(lambda: iter([np.array([3.0])])) is None


def _pieces(n: int, rng) -> list[tuple[int, int]]:
    """Row ranges cutting ``n`` rows at random places (pieces of 1 to 3,000 rows)."""
    cuts = np.cumsum(rng.integers(1, 3000, size=n))
    cuts = cuts[cuts < n]
    return list(zip(np.r_[0, cuts], np.r_[cuts, n], strict=True))


def _fed(make, arrays, pieces):
    """An accumulator fed ``arrays`` piece by piece."""
    acc = make()
    for a, b in pieces:
        acc.add(*(x[a:b] for x in arrays))
    return acc


@pytest.mark.parametrize("spill", [1 << 20, 1000])  # (1000: the values go to a temporary file)
def test_accumulators_fed_in_pieces_equal_the_whole_arrays(monkeypatch, spill):
    """Each check's accumulator gives the numbers of the whole array exactly, however the
    rows are cut (pieces of any size; chunks of 4,096 rows here so that they span many),
    with the values a median needs held in memory or in a temporary file (``spill``, as
    inspect's batches); the checks of whole arrays (the loaders') write no file."""
    monkeypatch.setattr(chk, "_CHUNK", 4096)
    monkeypatch.setattr(chk, "_SPILL_VALUES", spill)
    files = []
    real_file = chk.tempfile.TemporaryFile
    monkeypatch.setattr(chk.tempfile, "TemporaryFile",
                        lambda **kw: files.append(1) or real_file(**kw))
    rng = np.random.default_rng(5)
    frame = load_bundled_hapt().select(subjects=["1"]).frame.iloc[:30_000]
    values = frame[SENSORS].to_numpy(np.float32).copy()
    values[:, 0] = np.minimum(values[:, 0], 2.0)
    values[5000:5200, 0] = 2.0  # runs at acc_x's maximum, across pieces
    time = frame["time"].to_numpy().copy()
    time[7000:] += 2.0  # a gap
    time += rng.normal(0, 2e-4, len(time))  # jitter
    codes = frame["label"].cat.codes.to_numpy().astype(np.int64)
    acc, gyro = values[:, :3], values[:, 3:]
    moving = acc + 0.3 * np.sin(np.arange(len(acc)) / 3.0)[:, None].astype(np.float32)
    for pieces in (_pieces(len(time), rng), [(0, len(time))]):
        got = _fed(lambda: chk.TimeSteps(50.0, spill=True), [time], pieces).result()
        assert got == chk.time_steps(time, 50.0)
        stats = _fed(lambda: chk.UnitStats(50.0, gyro=True, spill=True), [acc, gyro], pieces)
        assert stats.gravity_level() == chk.gravity_level(acc, 50.0)
        assert stats.gravity_level()[1]  # (still spans)
        still = _fed(lambda: chk.UnitStats(50.0, spill=True), [moving], pieces)
        assert still.gravity_level() == chk.gravity_level(moving, 50.0)
        assert not still.gravity_level()[1]  # (no still span: the median of all samples)
        with pytest.raises(DataFormatError, match="look like deg/s") as caught:
            _fed(lambda: chk.UnitStats(50.0, gyro=True, spill=True), [acc, np.degrees(gyro)],
                 pieces).check_gyro("x")
        with pytest.raises(DataFormatError) as whole:
            chk.check_gyro_units(np.degrees(gyro), acc, 50.0, "x")
        assert str(caught.value) == str(whole.value)
        with pytest.raises(DataFormatError) as by_reference:  # (rows kept, not magnitudes)
            _fed(lambda: chk.UnitStats(50.0, gyro=True), [acc, np.degrees(gyro)],
                 pieces).check_gyro("x")
        assert str(by_reference.value) == str(whole.value)
        kept = _fed(lambda: chk.UnitStats(50.0), [moving], pieces)
        assert kept.gravity_level() == chk.gravity_level(moving, 50.0)
        clipped = _fed(lambda: chk.ClippedRuns(SENSORS), [values], pieces).result()
        assert clipped == chk.clipped_channels(values, SENSORS) and clipped[0][0] == "acc_x"
        spread = _fed(chk.ChannelSpread, [values], pieces).std()
        np.testing.assert_array_equal(spread, chk.ChannelSpread().add(values).std())
        np.testing.assert_allclose(spread, values.astype(np.float64).std(axis=0), rtol=1e-12)
        means = _fed(chk.ClassMeans, [acc, codes], pieces).means()
        whole_means = chk.ClassMeans().add(acc, codes).means()
        assert means.keys() == whole_means.keys() == set(np.unique(codes[codes >= 0]))
        for k, mean in means.items():
            np.testing.assert_array_equal(mean, whole_means[k])
            np.testing.assert_allclose(mean, acc[codes == k].astype(np.float64).mean(axis=0),
                                       rtol=1e-12)
    files.clear()
    chk.time_steps(time, 50.0), chk.gravity_level(acc, 50.0)
    with pytest.raises(DataFormatError):
        chk.check_gyro_units(np.degrees(gyro), acc, 50.0, "x")
    assert not files  # the checks of whole arrays keep their values in memory
    _fed(lambda: chk.TimeSteps(50.0, spill=True), [time], [(0, len(time))]).result()
    assert bool(files) == (spill == 1000)


def test_time_steps_equal_numpy_on_the_whole_column():
    """time_steps (its accumulator) against the statistics numpy gives on all steps."""
    rng = np.random.default_rng(6)
    time = np.cumsum(rng.normal(0.02, 1e-3, 50_000))
    time[20_000:] += 0.5
    time[30_000] = time[29_999]  # a repeated time stamp
    got = chk.time_steps(time, 50.0)
    steps = np.diff(time)
    positive = steps[steps > 0]
    median = np.median(positive)
    regular = positive[(positive >= 0.5 * median) & (positive <= 1.5 * median)]
    assert got["measured_hz"] == pytest.approx(1.0 / regular.mean(), rel=1e-12)
    assert got["jitter_ms"] == pytest.approx(regular.std() * 1e3, rel=1e-10)
    assert got["jitter_p99_ms"] == pytest.approx(
        np.percentile(np.abs(regular - 0.02), 99) * 1e3, rel=1e-12)
    # the repeated stamp: a step of 0 (back), then one of two intervals (a gap)
    assert [i for i, _ in got["gaps"]] == [20_000, 30_001] and got["backwards"] == 1
