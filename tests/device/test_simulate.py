"""tinyhar simulate: the live MicroPython app replays a recording in the unix port."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.helpers import has_micropython, tiny_run
from tinyhar.errors import DataFormatError, TinyharError
from tinyhar.export import micropython as mpx

SUBJECT = "4"  # official test subject (not in the training subjects)


def _micropython_or_skip() -> None:
    try:
        mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")


@pytest.fixture(scope="module")
def hapt():
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt().select(subjects=["1", "3", SUBJECT])


@pytest.fixture(scope="module")
def run_dir(hapt, tmp_path_factory):
    """A run folder: a small default pipeline (stacked features), with its manifest."""
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(hapt.select(subjects=["1", "3"]), window=128, hop=64,
                              unit="samples")
    return tiny_run(tmp_path_factory.mktemp("run") / "run", windows, 64,
                    {"features": {"stack_previous": True},
                     "model": {"n_estimators": 6, "max_depth": 8}})


@pytest.fixture(scope="module")
def recording(hapt, tmp_path_factory):
    """90 s of one session of the test subject, as a tinyhar Parquet file."""
    from tinyhar.datasets.recording import RecordingSet

    rec = hapt.select(subjects=[SUBJECT])
    frame = rec.frame[rec.frame["session"] == rec.sessions[0]].iloc[1000:1000 + 4500]
    part = RecordingSet(frame.reset_index(drop=True), rec.sampling_rate_hz, rec.classes,
                        rec.name)
    return part.to_parquet(tmp_path_factory.mktemp("rec") / "session.parquet")


def test_simulate_matches_python_pipeline(run_dir, recording):
    _micropython_or_skip()
    from tinyhar.device.simulate import python_timeline, simulate

    timeline = simulate(run_dir, recording)
    assert (run_dir / "export" / "micropython" / "app_live.py").is_file()  # exported on demand
    expected = python_timeline(run_dir, recording)
    n = (4500 - 128) // 64 + 1
    assert len(timeline) == len(expected) == n
    t_mp = np.array([t for t, _, _ in timeline])
    t_py = np.array([t for t, _, _ in expected])
    np.testing.assert_allclose(t_mp, t_py, atol=1e-3)
    same = sum(a[1] == b[1] for a, b in zip(timeline, expected, strict=True))
    print(f"\nsimulate: {same}/{n} windows with the Python pipeline's class")
    assert same == n
    for (_, _, p_mp), (_, _, p_py) in zip(timeline, expected, strict=True):
        np.testing.assert_allclose(p_mp, p_py, atol=1e-4)


def _same_timeline(run, recording, n_windows: int) -> list:
    """simulate's timeline of the recording, checked against the Python pipeline's."""
    from tinyhar.device.simulate import python_timeline, simulate

    timeline = simulate(run, recording)
    expected = python_timeline(run, recording)
    assert len(timeline) == len(expected) == n_windows
    np.testing.assert_allclose([t for t, _, _ in timeline], [t for t, _, _ in expected],
                               atol=1e-3)
    assert [c for _, c, _ in timeline] == [c for _, c, _ in expected]
    return timeline


def test_simulate_with_a_hop_longer_than_the_window(hapt, recording, tmp_path):
    """Windows of 50 samples every 75 (training hop > window, which the configuration
    allows with a warning): the live app skips the 25 samples between windows, as the
    C stream and the Python timeline do, instead of failing on the window shift."""
    _micropython_or_skip()
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(hapt.select(subjects=["1"]), window=50, hop=75, unit="samples")
    run = tiny_run(tmp_path / "run", windows, 75)
    _same_timeline(run, recording, (4500 - 50) // 75 + 1)


def test_simulate_with_a_long_window(hapt, recording, tmp_path):
    """Windows of 2048 samples (41 s at 50 Hz) every 256: the live app moves its sample
    times in place (a new 16 kB list per hop fragmented the 4 MB heap: MemoryError)."""
    _micropython_or_skip()
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(hapt.select(subjects=["1", "3"]), window=2048, hop=256,
                              unit="samples", purity=0.5)
    run = tiny_run(tmp_path / "run", windows, 256, {"model": {"n_estimators": 3,
                                                              "max_depth": 4}})
    _same_timeline(run, recording, (4500 - 2048) // 256 + 1)


def test_simulate_with_line_breaks_and_percent_signs_in_labels(hapt, recording, tmp_path):
    """Class labels holding a line break, a tab or ``%0A`` reach the timeline as they
    are: the live app percent-encodes '%' and control characters in its PRED lines
    (a raw line break split the line and simulate failed with a ValueError)."""
    _micropython_or_skip()
    from tinyhar.core.windowset import WindowSet
    from tinyhar.windows.windowing import make_windows

    w, _ = make_windows(hapt.select(subjects=["1", "3"]), window=128, hop=64, unit="samples")
    rename = {c: f"{c[:4].lower()}\n{i}%0A\t{i}" for i, c in enumerate(w.classes)}
    w = WindowSet(w.X, np.array([rename[y] for y in w.y], dtype=object), w.subject, w.session,
                  w.start_time, w.channels, w.sampling_rate_hz, [rename[c] for c in w.classes],
                  w.name)
    timeline = _same_timeline(tiny_run(tmp_path / "run", w, 64), recording,
                              (4500 - 128) // 64 + 1)
    assert all("\n" in c and "%0A" in c for _, c, _ in timeline)


def test_simulate_reads_csv_recordings(run_dir, recording, tmp_path):
    _micropython_or_skip()
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.device.simulate import simulate

    frame = RecordingSet.from_parquet(recording).frame
    csv = tmp_path / "rec.csv"
    frame[["time", "gyro_x", "gyro_y", "gyro_z", "acc_x", "acc_y", "acc_z"]].iloc[:1000].to_csv(
        csv, index=False)
    timeline = simulate(run_dir, csv)
    assert len(timeline) == (1000 - 128) // 64 + 1
    assert all(cls in ("LAYING", "SITTING", "STANDING", "WALKING", "WALKING_DOWNSTAIRS",
                       "WALKING_UPSTAIRS") for _, cls, _ in timeline)


def test_recording_errors(run_dir, recording, tmp_path):
    from tinyhar.device.simulate import load_session

    csv = tmp_path / "bad.csv"
    pd.DataFrame({"time": [0.0, 0.02], "acc_x": [0.0, 0.0]}).to_csv(csv, index=False)
    with pytest.raises(DataFormatError, match="acc_y"):
        load_session(csv, ["acc_x", "acc_y", "acc_z"])
    with pytest.raises(DataFormatError, match="resample"):
        load_session(recording, ["acc_x"], sampling_rate_hz=100.0)
    with pytest.raises(DataFormatError, match="no session"):
        load_session(recording, ["acc_x"], session="nope")
    with pytest.raises(DataFormatError, match="not found"):
        load_session(tmp_path / "missing.parquet", ["acc_x"])


def test_a_csv_recording_at_another_rate_is_refused(tmp_path):
    """A CSV recording's time column is checked against the model's rate, like a Parquet
    recording's declared rate (a 50 Hz CSV replayed to a 25 Hz model ran silently at
    twice the speed); a CSV at the model's rate, or with jitter within 2 %, is read."""
    from tinyhar.device.simulate import load_session

    t = np.arange(500) / 50.0
    frame = pd.DataFrame({"time": t, "acc_x": 0.0, "acc_y": 0.0, "acc_z": 1.0})
    csv = tmp_path / "rec.csv"
    frame.to_csv(csv, index=False)
    with pytest.raises(DataFormatError, match=r"time column shows 50 Hz .* model expects 25 Hz"):
        load_session(csv, ["acc_x", "acc_y", "acc_z"], sampling_rate_hz=25.0)
    frame["time"] = t * 1.01
    frame.to_csv(csv, index=False)
    time, values, session = load_session(csv, ["acc_x", "acc_y", "acc_z"], sampling_rate_hz=50.0)
    assert session == "csv" and values.shape == (500, 3) and time[1] == pytest.approx(0.0202)


def test_live_app_logs_append_and_survive(run_dir, recording, tmp_path):
    """app_live with a replay: prediction and raw-sample CSV logs, appended across runs."""
    _micropython_or_skip()
    from tinyhar.device.deploy import resolve_bundle
    from tinyhar.device.simulate import load_session, write_replay_csv

    bundle = resolve_bundle(run_dir)
    t, values, _ = load_session(recording, ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y",
                                            "gyro_z"])
    replay = write_replay_csv(tmp_path / "replay.csv", t[:640], values[:640],
                              ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"])
    log, raw = tmp_path / "log.csv", tmp_path / "raw.csv"
    code = (
        "import app_live\n"
        f"n = app_live.main(replay={str(replay)!r}, log_path={str(log)!r}, "
        f"raw_path={str(raw)!r}, display='print')\n"
        "print('TINYHAR_RESULT {\"windows\": %d}' % n)\n"
    )
    for _ in range(2):
        res = mpx._result_line(mpx.run_micropython(code, bundle).stdout)
        assert res["windows"] == (640 - 128) // 64 + 1
    log_lines = log.read_text().splitlines()
    assert log_lines[0].startswith("t_start_s,class,")
    assert len(log_lines) == 1 + 2 * res["windows"]
    raw_lines = raw.read_text().splitlines()
    assert raw_lines[0] == "time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z"
    assert len(raw_lines) == 1 + 2 * 640
    # the raw log replays: it is the CSV layout the ReplaySensor reads
    again = pd.read_csv(raw)
    np.testing.assert_allclose(again[["acc_x", "gyro_z"]].to_numpy()[:640],
                               values[:640][:, [0, 5]], atol=1e-6)


def test_recording_with_invalid_values_names_the_sample_and_channel(tmp_path):
    from tinyhar.device.simulate import load_session

    csv = tmp_path / "glitch.csv"
    pd.DataFrame({"time": [0.0, 0.02, 0.04], "acc_x": [0.0, 0.1, 0.0],
                  "acc_y": [0.0, 1e30, np.nan]}).to_csv(csv, index=False)
    with pytest.raises(DataFormatError, match=r"column acc_y: 2 sensor value\(s\) are NaN, "
                       r"infinite or beyond \+-10000 .* sample 1 of session 'csv'"):
        load_session(csv, ["acc_x", "acc_y"])


def test_live_app_reports_invalid_windows_like_python(run_dir, recording, tmp_path):
    """A NaN and a 1e30 in the stream: the live app prints INVALID for the windows that
    hold them, logs the class 'invalid', restarts stacking, and agrees with
    HarPipeline.predict(on_invalid='mark') on every window."""
    _micropython_or_skip()
    from tinyhar.core.windowset import WindowSet
    from tinyhar.device.deploy import resolve_bundle
    from tinyhar.device.simulate import _parse_predictions, load_session, write_replay_csv
    from tinyhar.features.validity import INVALID_CLASS

    channels = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    pipe, _ = mpx.load_pipeline(run_dir)
    bundle = resolve_bundle(run_dir)
    t, values, _ = load_session(recording, channels)
    values = values[:1024].copy()
    values[200, 1] = np.nan   # windows starting at 128 and 192
    values[700, 4] = -1e30    # windows starting at 576 and 640
    replay = write_replay_csv(tmp_path / "replay.csv", t[:1024], values, channels)
    log = tmp_path / "log.csv"
    code = (
        "import app_live\n"
        f"app_live.main(replay={str(replay)!r}, log_path={str(log)!r}, display='print')\n"
    )
    out = mpx.run_micropython(code, bundle).stdout
    timeline = _parse_predictions(out, list(pipe.classes))
    starts = np.arange(0, 1024 - 128 + 1, pipe.streaming_hop)
    assert len(timeline) == len(starts)
    X = np.stack([values[s:s + 128] for s in starts])
    n = len(X)
    ws = WindowSet(X, np.full(n, "", dtype=object), ["4"] * n, ["s"] * n, t[starts], channels,
                   50.0, list(pipe.classes))
    expected = pipe.predict(ws, on_invalid="mark")
    assert [cls for _, cls, _ in timeline] == list(expected)
    assert [s for s, c in zip(starts, expected, strict=True) if c == INVALID_CLASS] == [
        128, 192, 576, 640]
    assert sum(line.startswith("INVALID ") for line in out.splitlines()) == 4
    logged = pd.read_csv(log)
    assert list(logged["class"]) == list(expected)
    assert logged.loc[logged["class"] == INVALID_CLASS].iloc[:, 2:].isna().all().all()


def test_parse_predictions_with_spaces_in_labels():
    from tinyhar.device.simulate import _parse_predictions
    from tinyhar.features.validity import INVALID_CLASS

    out = ("PRED 0.0000 Nordic walking 0.7500 0.2500\n"
           "  1.0 ms, Nordic walking 75%\n"
           "INVALID 1.2800 nan\n"
           "PRED 2.5600  lying  0.0000 1.0000\n")
    assert _parse_predictions(out, ["Nordic walking", " lying "]) == [
        (0.0, "Nordic walking", [0.75, 0.25]),
        (1.28, INVALID_CLASS, []),
        (2.56, " lying ", [0.0, 1.0]),
    ]


def test_a_tampered_bundle_in_a_run_folder_is_never_run(run_dir, recording, tmp_path):
    """Code in RUN/export/micropython runs only if it is what tinyhar generates for the run."""
    import shutil

    from tinyhar.device.deploy import resolve_bundle
    from tinyhar.device.simulate import simulate
    from tinyhar.export.micropython import export_micropython

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    shutil.rmtree(run / "export", ignore_errors=True)
    bundle = run / "export" / "micropython"
    export_micropython(run, bundle, n_test_windows=0)
    assert resolve_bundle(run) == bundle  # untouched: accepted
    marker = tmp_path / "pwned"
    payload = f"\nimport os\nos.system('touch {marker}')\n"
    for name, text in (("tinyhar_config.py", None), ("app_live.py", None), ("extra.py", ""),
                       ("tinyhar_gravity.py", None)):  # the generated gravity loop too
        original = (bundle / name).read_text() if text is None else None
        (bundle / name).write_text((original or "") + payload)
        with pytest.raises(TinyharError, match="export it again"):
            resolve_bundle(run)
        if has_micropython():
            with pytest.raises(TinyharError, match="export it again"):
                simulate(run, recording)
        if original is None:
            (bundle / name).unlink()
        else:
            (bundle / name).write_text(original)
    assert resolve_bundle(run) == bundle
    assert not marker.exists()
