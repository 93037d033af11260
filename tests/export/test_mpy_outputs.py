"""The board app's outputs (export/mpy/outputs.py) in the MicroPython unix port.

MQTT goes to a real Mosquitto broker on 127.0.0.1 (tests.broker) and is read
back with paho-mqtt; BLE payloads encoded by MicroPython are decoded by
tinyhar.outputs.ble; the CSV log's rotation and free-space guard, the LED on
class changes and user hooks run in the unix port.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.broker import mosquitto  # noqa: F401  (fixture)
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.export import micropython as mpx

SUBJECT = "4"


def _micropython_or_skip() -> None:
    try:
        mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")


def _umqtt_or_skip() -> None:
    from tinyhar.export.umqtt import UMQTT_INSTALL_HINT, find_umqtt

    if find_umqtt() is None:
        pytest.skip(f"umqtt.simple not found; get it with {UMQTT_INSTALL_HINT}")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """Bundle of a small minimal-feature pipeline trained on subjects 1 and 3."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=["1", "3"])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    cfg = make_config({"features": {"set": "minimal"},
                       "model": {"n_estimators": 4, "max_depth": 6}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    out = tmp_path_factory.mktemp("bundle")
    mpx.export_micropython(pipe, out, n_test_windows=0)
    return out


@pytest.fixture(scope="module")
def replay_csv(tmp_path_factory):
    """About 60 s (3000 samples at 50 Hz) of the test subject, as the ReplaySensor CSV."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.device.simulate import write_replay_csv

    rec = load_bundled_hapt().select(subjects=[SUBJECT])
    frame = rec.frame[rec.frame["session"] == rec.sessions[0]].iloc[1000:4000]
    channels = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    return write_replay_csv(tmp_path_factory.mktemp("rec") / "replay.csv",
                            frame["time"].to_numpy(), frame[channels].to_numpy(np.float32),
                            channels)


def _staged(bundle: Path, tmp_path: Path, outputs: str, wifi_text: str | None) -> Path:
    """bundle + what `tinyhar deploy --outputs ... --wifi ...` would copy, in one folder."""
    import shutil

    from tinyhar.device.deploy import bundle_files, model_label
    from tinyhar.device.outputs import stage_outputs

    board = tmp_path / "board"
    board.mkdir()
    for f in bundle_files(bundle):
        shutil.copyfile(f, board / f.name)
    wifi = None
    if wifi_text is not None:
        wifi = tmp_path / "wifi.toml"
        wifi.write_text(wifi_text)
    for f in stage_outputs(tmp_path / "staged", outputs, wifi, bundle, model_label(bundle)):
        if f.is_dir():
            shutil.copytree(f, board / f.name)
        else:
            shutil.copyfile(f, board / f.name)
    return board


class Subscriber:
    """paho-mqtt client collecting (topic, payload dict) of a topic filter, in arrival order."""

    def __init__(self, host: str, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sub")
        ready = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: (c.subscribe(topic, qos=1), ready.set())
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, json.loads(m.payload)))
        self.client.connect(host, port)
        self.client.loop_start()
        assert ready.wait(10)
        time.sleep(0.2)  # the SUBACK

    def drain(self, n: int, timeout: float = 20.0) -> list:
        out = []
        end = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < end:
            try:
                out.append(self.messages.get(timeout=0.2))
            except queue.Empty:
                pass
        return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _preds(stdout: str) -> list[tuple[float, str, list[float]]]:
    out = []
    for line in stdout.splitlines():
        if line.startswith("PRED "):
            p = line.split()
            out.append((float(p[1]), p[2], [float(v) for v in p[3:]]))
    return out


def _wifi(broker, extra: str = "") -> str:
    return (f'[mqtt]\nhost = "{broker.host}"\nport = {broker.port}\nqos = 1\n'
            f'device_id = "sim1"\n{extra}')


def test_live_app_publishes_every_prediction(bundle, replay_csv, mosquitto, tmp_path):  # noqa: F811
    _micropython_or_skip()
    _umqtt_or_skip()
    board = _staged(bundle, tmp_path, "screen,mqtt", _wifi(mosquitto, "home_assistant = true\n"))
    assert not (bundle / "tinyhar_secrets.json").exists()  # export never writes secrets
    sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
    try:
        proc = mpx.run_micropython(
            f"import app_live\napp_live.main(replay={str(replay_csv)!r}, verbose=False)\n",
            board, timeout=300)
        preds = _preds(proc.stdout)
        got = sub.drain(len(preds))
    finally:
        sub.close()
    assert len(preds) > 40
    assert f"MQTT connected to 127.0.0.1:{mosquitto.port}" in proc.stdout
    assert f"MQTT sent={len(preds)} dropped=0 reconnects=0" in proc.stdout
    classes = json.loads((bundle / "bundle.json").read_text())["classes"]
    crc = zlib.crc32((bundle / "model.bin").read_bytes())
    assert len(got) == len(preds)
    for i, ((topic, msg), (t, cls, proba)) in enumerate(zip(got, preds, strict=True)):
        assert topic == "tinyhar/sim1/activity"
        assert msg["seq"] == i + 1
        assert msg["activity"] == cls
        assert msg["t"] == pytest.approx(t, abs=1e-4)
        assert list(msg["probabilities"]) == classes
        assert list(msg["probabilities"].values()) == pytest.approx(proba, abs=1e-4)
        assert msg["confidence"] == pytest.approx(proba[classes.index(cls)], abs=1e-4)
        assert msg["model"] == f"{bundle.name}:{crc:08x}"
    assert "password" not in proc.stdout.lower()


def test_home_assistant_discovery_and_status(bundle, replay_csv, mosquitto, tmp_path):  # noqa: F811
    _micropython_or_skip()
    _umqtt_or_skip()
    board = _staged(bundle, tmp_path, "mqtt", _wifi(mosquitto, "home_assistant = true\n"))
    mpx.run_micropython(
        f"import app_live\napp_live.main(replay={str(replay_csv)!r}, max_windows=3)\n",
        board, timeout=300)
    # retained messages reach a subscriber that comes later
    sub = Subscriber(mosquitto.host, mosquitto.port, "homeassistant/#")
    try:
        got = dict(sub.drain(2, timeout=5))
    finally:
        sub.close()
    act = got["homeassistant/sensor/tinyhar_sim1/activity/config"]
    assert act["state_topic"] == "tinyhar/sim1/activity"
    assert act["value_template"] == "{{ value_json.activity }}"
    assert act["availability_topic"] == "tinyhar/sim1/status"
    assert got["homeassistant/sensor/tinyhar_sim1/confidence/config"]["unit_of_measurement"] == "%"


RESTART_HOOK = """
import os, time, outputs, app_live
n = [0]
def wait_for(name):
    while True:
        try:
            os.stat(name)
            return
        except OSError:
            time.sleep_ms(20)
def pause(t, activity, confidence, probabilities):
    n[0] += 1
    if n[0] == 10:
        open("paused1", "w").close()
        wait_for("go1")
    elif n[0] == 20:
        open("paused2", "w").close()
        wait_for("go2")
outputs.on_prediction(pause)
app_live.main(replay=%r, verbose=False)
"""


def test_broker_restart_mid_stream(bundle, replay_csv, mosquitto, tmp_path):  # noqa: F811
    """Broker stopped after 10 predictions, back after 20: the board app and tinyhar live
    reconnect, the app counts what it dropped and tinyhar live the same gap."""
    import subprocess

    from tinyhar.outputs.live import LiveState, MqttSource, run_live
    from tinyhar.outputs.messages import parse_mqtt_url

    _micropython_or_skip()
    _umqtt_or_skip()
    board = _staged(bundle, tmp_path, "mqtt",
                    _wifi(mosquitto, "reconnect_min_s = 0.05\nreconnect_max_s = 0.2\n"))
    sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
    live_src = MqttSource(parse_mqtt_url(mosquitto.url))
    state = LiveState()
    live = threading.Thread(target=run_live, args=(live_src, state), kwargs={"view": False})
    live.start()
    exe = mpx.find_micropython()
    proc = subprocess.Popen([exe, "-X", "heapsize=4M", "-c", RESTART_HOOK % str(replay_csv)],
                            cwd=board, env={"MICROPYPATH": f"{board}:.frozen"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_file(name: str) -> None:
        end = time.monotonic() + 60
        while not (board / name).exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < end
            time.sleep(0.02)

    try:
        wait_file("paused1")
        first = sub.drain(10)
        sub.close()
        mosquitto.stop()
        (board / "go1").touch()
        wait_file("paused2")
        mosquitto.start()
        sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
        end = time.monotonic() + 20
        while not live_src.ready.is_set() and time.monotonic() < end:
            time.sleep(0.02)
        (board / "go2").touch()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        end = time.monotonic() + 20
    assert proc.returncode == 0, err
    n = len(_preds(out))
    stats = [line for line in out.splitlines() if line.startswith("MQTT sent=")][0]
    sent, dropped, reconnects = (int(x.split("=")[1]) for x in stats.split()[1:])
    rest = sub.drain(n - 10 - dropped)
    sub.close()
    while state.n_received < sent and time.monotonic() < end:
        time.sleep(0.05)
    live_src.close()
    live.join(10)
    assert state.n_received == sent and state.disconnects == 1
    assert state.gaps == dropped  # tinyhar live sees the same gap in seq
    seqs = [m["seq"] for _, m in first + rest]
    assert seqs[:10] == list(range(1, 11))
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # in order, no duplicates
    assert reconnects == 1 and sent + dropped == n
    assert dropped >= 10  # predictions 11..20 were made while the broker was down
    assert len(seqs) == sent  # every message the app counted as sent arrived (QoS 1)
    missing = sorted(set(range(1, n + 1)) - set(seqs))
    assert missing == list(range(11, 11 + dropped))  # one gap, right after the stop
    assert f"MQTT reconnected after {dropped} dropped" in out


def test_missing_broker_is_reported_and_the_app_runs_on(bundle, replay_csv, tmp_path):
    from tests.broker import free_port

    _micropython_or_skip()
    _umqtt_or_skip()
    port = free_port()
    board = _staged(bundle, tmp_path, "mqtt",
                    f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\npassword = "hunter2"\n')
    proc = mpx.run_micropython(
        f"import app_live\napp_live.main(replay={str(replay_csv)!r}, max_windows=12)\n",
        board, timeout=300)
    assert f"MQTT cannot reach 127.0.0.1:{port}" in proc.stdout
    assert "MQTT sent=0 dropped=12 reconnects=0" in proc.stdout
    assert len(_preds(proc.stdout)) == 12
    assert "hunter2" not in proc.stdout + proc.stderr


BLE_CASES = [(0, 0.0, 0), (3, 0.5, 1), (5, 1.0, 65535), (-1, 0.0, 65536 + 7), (11, 0.876, 300)]


def test_ble_encode_in_micropython_decode_in_python(bundle):
    from tinyhar.outputs.ble import decode, decode_manufacturer_data

    _micropython_or_skip()
    code = ("import outputs, binascii\n"
            f"for k, c, s in {BLE_CASES!r}:\n"
            "    adv = outputs.ble_advertisement(k, c, s, 'thar-ab12')\n"
            "    print(binascii.hexlify(adv).decode())\n")
    lines = mpx.run_micropython(code, bundle).stdout.split()
    assert len(lines) == len(BLE_CASES)
    for (k, c, s), hexdata in zip(BLE_CASES, lines, strict=True):
        data = bytes.fromhex(hexdata)
        assert len(data) <= 31  # fits a legacy advertisement
        msg = decode(data)
        assert msg.name == "thar-ab12"
        assert msg.class_index == (None if k < 0 else k)
        assert msg.invalid == (k < 0)
        assert msg.confidence == pytest.approx(c, abs=0.5 / 255)
        assert msg.seq == s % 65536
        # bleak hands over the manufacturer data without length, type and company id
        assert decode_manufacturer_data(data[-6:], "thar-ab12") == msg


def test_ble_decode_rejects_foreign_data():
    from tinyhar.outputs.ble import BleDecodeError, decode

    with pytest.raises(BleDecodeError, match="no tinyhar manufacturer data"):
        decode(bytes.fromhex("020106"))
    with pytest.raises(BleDecodeError, match="truncated"):
        decode(bytes.fromhex("0201060aff"))


ROTATION = """
import os, outputs
classes = ("walk", "sit", "lie")
log = outputs.CsvLog("%(path)s", classes, max_bytes=%(max_bytes)d, keep=2, min_free_bytes=0)
names = ["%(path)s"] + ["%(path)s.%%d" %% i for i in (1, 2, 3)]
worst = 0
for i in range(600):
    log.prediction(i * 1.28, classes[(i // 7) %% 3], 0.5, (0.5, 0.25, 0.25))
    total = 0
    for n in names:
        try:
            total += os.stat(n)[6]
        except OSError:
            pass
    worst = max(worst, total)
log.close()
print("WORST", worst, "ROTATIONS", log.rotations, "WRITTEN", log.written)
"""


def test_log_rotation_never_exceeds_the_budget(bundle, tmp_path):
    _micropython_or_skip()
    path = tmp_path / "har_log.csv"
    out = mpx.run_micropython(ROTATION % {"path": path, "max_bytes": 2000}, bundle).stdout
    worst, rotations, written = (int(v) for v in out.split()[1::2])
    assert worst <= 3 * 2000  # (keep + 1) * max_bytes
    assert written == 600 and rotations >= 10
    assert not Path(f"{path}.3").exists()
    files = [Path(f"{path}.2"), Path(f"{path}.1"), path]  # oldest first
    rows = []
    for f in files:
        assert f.stat().st_size <= 2000
        lines = f.read_text().splitlines()
        assert lines[0] == "t_start_s,class,walk,sit,lie"
        rows += [float(line.split(",")[0]) for line in lines[1:]]
    # the newest rows, consecutive and in order, ending with the last prediction
    assert rows == pytest.approx([i * 1.28 for i in range(600 - len(rows), 600)], abs=1e-4)


QUOTED = """
import outputs
classes = ("walk, fast", 'say "hi"', "two\\nlines", "plain")
log = outputs.CsvLog("%(path)s", classes, min_free_bytes=0)
log.prediction(1.28, classes[0], 0.5, (0.5, 0.25, 0.125, 0.125))
log.prediction(2.56, classes[2], 0.5, (0.0, 0.25, 0.5, 0.25))
log.prediction(3.84, classes[3], 1.0, (0.0, 0.0, 0.0, 1.0))
log.close()
"""


def test_log_quotes_class_names_as_csv(bundle, tmp_path):
    """A class name with a comma, a quote or a line break is one CSV field (RFC 4180
    quoting) in the header and the rows of the board's log."""
    import csv

    _micropython_or_skip()
    path = tmp_path / "har_log.csv"
    mpx.run_micropython(QUOTED % {"path": path}, bundle)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["t_start_s", "class", "walk, fast", 'say "hi"', "two\nlines", "plain"]
    assert [r[:2] for r in rows[1:]] == [["1.2800", "walk, fast"], ["2.5600", "two\nlines"],
                                         ["3.8400", "plain"]]
    assert all(len(r) == 6 for r in rows)
    assert path.read_text().splitlines()[-1] == "3.8400,plain,0.0000,0.0000,0.0000,1.0000"


FREE_SPACE = """
import outputs
free = [10000]
def statvfs(path):
    return (1, 1, 0, 0, free[0], 0, 0, 0, 0, 255)
log = outputs.CsvLog("%(path)s", ("a", "b"), max_bytes=400, keep=3, min_free_bytes=5000,
                     statvfs=statvfs)
for i in range(40):
    if log.write("%%d,a,0.5,0.5\\n" %% i):
        free[0] -= 13
print("ROTATED", len(log.rotated()))
free[0] = 5010  # almost full: the old logs go first, then logging pauses
ok = [log.write("%%d,b,0.5,0.5\\n" %% i) for i in range(40, 45)]
print("AFTER", len(log.rotated()), ok.count(True), log.skipped)
free[0] = 9000  # space again: logging resumes
print("RESUMED", log.write("45,a,0.5,0.5\\n"), log.skipped)
log.close()
"""


def test_log_free_space_guard(bundle, tmp_path):
    _micropython_or_skip()
    out = mpx.run_micropython(FREE_SPACE % {"path": tmp_path / "log.csv"}, bundle).stdout
    assert "ROTATED 1" in out
    assert "LOG paused: less than 5000 bytes would stay free" in out
    assert "AFTER 0 0 5" in out
    assert "LOG resumed after 5 skipped lines" in out and "RESUMED True 5" in out


LED = """
import outputs
class Pin:
    def __init__(self):
        self.values = []
    def value(self, v):
        self.values.append(v)
class Buzzer:
    def __init__(self):
        self.duty = []
    def freq(self, f):
        pass
    def duty_u16(self, d):
        self.duty.append(d)
pin = Pin()
buz = Buzzer()
led = outputs.LedOutput(led=pin, buzzer=buz, beep_on=("fall",), blink_ms=0, beep_ms=0)
for a in ("walk", "walk", "sit", "sit", "fall", "fall", "walk"):
    led.prediction(0.0, a, 0.9, ())
print("LED", pin.values, "BUZZ", buz.duty, "CHANGES", led.changes)
"""


def test_led_blinks_and_buzzer_beeps_on_class_change(bundle):
    _micropython_or_skip()
    out = mpx.run_micropython(LED, bundle).stdout
    # off at start, then on/off for each change: walk->sit, sit->fall, fall->walk
    assert "LED [0, 1, 0, 1, 0, 1, 0]" in out
    assert "BUZZ [32768, 0]" in out  # only the change to "fall" beeps
    assert "CHANGES 3" in out


HOOKS = """
import outputs, app_live
counts = {}
def count(t, activity, confidence, probabilities):
    counts[activity] = counts.get(activity, 0) + 1
def broken(t, activity, confidence, probabilities):
    raise RuntimeError("user bug")
outputs.on_prediction(count)
outputs.on_prediction(broken)
n = app_live.main(replay=%r, verbose=False, max_windows=8, log_path=%r)
print("COUNTS", sum(counts.values()), n)
"""


def test_hooks_run_and_their_errors_do_not_stop_the_app(bundle, replay_csv, tmp_path):
    _micropython_or_skip()
    log = tmp_path / "har_log.csv"
    out = mpx.run_micropython(HOOKS % (str(replay_csv), str(log)), bundle).stdout
    assert "COUNTS 8 8" in out
    assert "HOOK broken RuntimeError: user bug (1 errors)" in out
    assert len(log.read_text().splitlines()) == 9  # header + 8 predictions


# --------------------------------------------------------------------------- deploy staging


def test_stage_outputs_splits_secrets_from_settings(bundle, tmp_path):
    from tinyhar.device.outputs import SECRETS_FILE, SETTINGS_FILE, stage_outputs

    _umqtt_or_skip()
    wifi = tmp_path / "wifi.toml"
    wifi.write_text('[wifi]\nssid = "home"\npassword = "pw1"\n[mqtt]\nhost = "10.0.0.2"\n'
                    'password = "pw2"\nqos = 0\nhome_assistant = true\n[led]\nbeep_on = ["fall"]\n')
    files = stage_outputs(tmp_path / "st", "screen, led,mqtt", wifi, bundle, "x:1234")
    assert [f.name for f in files] == [SETTINGS_FILE, SECRETS_FILE, "umqtt"]
    settings = json.loads(files[0].read_text())
    assert settings == {"outputs": ["screen", "led", "mqtt"],
                        "mqtt": {"qos": 0, "home_assistant": True, "model": "x:1234"},
                        "led": {"beep_on": ["fall"]}}
    secrets = json.loads(files[1].read_text())
    assert secrets == {"wifi": {"ssid": "home", "password": "pw1"},
                       "mqtt": {"host": "10.0.0.2", "password": "pw2"}}
    assert (files[2] / "simple.py").is_file() and (files[2] / "NOTICE.txt").is_file()


@pytest.mark.parametrize(("text", "outputs", "match"), [
    ('[mqtt]\nport = 1883\n', "mqtt", r"needs \[mqtt\] host"),
    ('[mqtt]\nhost = "h"\nqos = 2\n', "mqtt", "mqtt.qos must be 0 or 1"),
    ('[mqtt]\nhost = 5\n', "mqtt", "mqtt.host must be a str"),
    ('[mqtt]\nhots = "h"\n', "mqtt", "unknown key mqtt.hots"),
    ('[wlan]\nssid = "x"\n', "led", r"unknown section \[wlan\]"),
    ('[mqtt\nhost = "h"\n', "mqtt", "not valid TOML"),
    ('', "screen,lcd", r"unknown output\(s\) \['lcd'\]"),
])
def test_bad_wifi_toml_or_outputs(tmp_path, text, outputs, match):
    from tinyhar.device.outputs import stage_outputs

    wifi = tmp_path / "wifi.toml"
    wifi.write_text(text + 'password = "topsecret"\n' if "[mqtt]\n" in text else text)
    with pytest.raises(ConfigError, match=match) as info:
        stage_outputs(tmp_path / "st", outputs, wifi)
    assert "topsecret" not in str(info.value)
    with pytest.raises(ConfigError, match="needs --wifi"):
        stage_outputs(tmp_path / "st", "mqtt", None)


def test_deploy_copies_settings_secrets_and_umqtt(bundle, tmp_path):
    from tinyhar.device import deploy as dep

    _umqtt_or_skip()
    wifi = tmp_path / "wifi.toml"
    wifi.write_text('[mqtt]\nhost = "10.0.0.2"\npassword = "pw2"\n')
    seen = []

    def runner(cmd, **kw):
        import subprocess

        seen.append(list(cmd))
        for arg in cmd:  # the staged files exist while mpremote copies them
            if arg.endswith(".json"):
                assert Path(arg).is_file()
        return subprocess.CompletedProcess(cmd, 0, "", "")

    info = dep.deploy(bundle, "/dev/ttyX", compile=False, runner=runner, outputs="mqtt,led",
                      wifi=wifi)
    assert {"tinyhar_outputs.json", "tinyhar_secrets.json", "umqtt"} <= set(info["files"])
    assert any(c[-4:-1] == ["cp", "-r", c[-2]] and c[-2].endswith("umqtt") for c in seen)
    assert "pw2" not in json.dumps(info)


def test_a_broker_that_stops_answering_does_not_hang_the_app(bundle, replay_csv, tmp_path):
    """A server that accepts MQTT connections but never acknowledges a QoS 1 publish."""
    import socket

    _micropython_or_skip()
    _umqtt_or_skip()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]
    conns = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conns.append(conn)
            conn.recv(1024)  # CONNECT
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted; then silence

    threading.Thread(target=serve, daemon=True).start()
    board = _staged(bundle, tmp_path, "mqtt",
                    f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nsocket_timeout_s = 0.2\n'
                    "reconnect_min_s = 0.05\n")
    try:
        out = mpx.run_micropython(
            f"import app_live\napp_live.main(replay={str(replay_csv)!r}, max_windows=5)\n",
            board, timeout=120).stdout
    finally:
        server.close()
        for c in conns:
            c.close()
    assert len(_preds(out)) == 5
    assert "MQTT sent=0 dropped=5" in out
