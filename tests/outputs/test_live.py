"""tinyhar live: parsing, state, sources (serial, simulator, MQTT with a broker), sinks, CLI."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.broker import free_port, mosquitto  # noqa: F401  (fixture)
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.outputs.live import (
    CsvSink,
    LiveState,
    MqttPublisher,
    MqttSource,
    ParquetSink,
    SerialSource,
    run_live,
)
from tinyhar.outputs.messages import (
    MalformedMessage,
    Prediction,
    parse_mqtt_payload,
    parse_mqtt_url,
    parse_pred_line,
)

CLASSES = ["sit", "stand", "walk"]


def _payload(seq: int, activity: str = "walk", t: float | None = None) -> str:
    probs = {c: (0.8 if c == activity else 0.1) for c in CLASSES}
    return json.dumps({"t": 1.28 * seq if t is None else t, "activity": activity,
                       "confidence": 0.8, "probabilities": probs, "model": "m:1", "seq": seq})


def test_pred_lines_decode_percent_escaped_class_names():
    """The app writes '%' and control characters of a class name as %XX (app_live.wire_name):
    the name is decoded, with or without the model's classes; a bad escape is malformed."""
    classes = ["50% done", "a\nb", "walk"]
    p = parse_pred_line("PRED 1.28 50%25 done 0.7 0.2 0.1", "COM3", classes)
    assert p.activity == "50% done" and p.confidence == 0.7
    assert parse_pred_line("PRED 2.56 a%0Ab 0.1 0.8 0.1", "COM3", classes).activity == "a\nb"
    assert parse_pred_line("PRED 2.56 a%0Ab 0.1 0.8 0.1", "COM3").activity == "a\nb"
    with pytest.raises(MalformedMessage, match="hex code"):
        parse_pred_line("PRED 2.56 a%0 0.1 0.8 0.1", "COM3")


def test_parse_pred_lines():
    p = parse_pred_line("PRED 2.5600 walk 0.1000 0.2000 0.7000\n", "COM3", CLASSES)
    assert (p.t, p.activity, p.source) == (2.56, "walk", "COM3")
    assert p.probabilities == {"sit": 0.1, "stand": 0.2, "walk": 0.7}
    assert p.confidence == 0.7
    assert parse_pred_line("MQTT connected to 1.2.3.4:1883", "x") is None
    assert parse_pred_line("", "x") is None
    inv = parse_pred_line("INVALID 3.8400 NaN in acc_x", "x", CLASSES)
    assert inv.activity == "invalid" and inv.probabilities == {} and inv.confidence == 0.0
    unnamed = parse_pred_line("PRED 0 a 0.5 0.5", "x")
    assert unnamed.probabilities == {"p0": 0.5, "p1": 0.5}


@pytest.mark.parametrize(("line", "match"), [
    ("PRED", "0 field"),
    ("PRED 1.0", "1 field"),
    ("PRED x walk 0.1 0.2 0.7", "t_start_s 'x' is not a number"),
    ("PRED 1.0 walk 0.1 zz 0.7", "non-numeric probability"),
    ("PRED 1.0 walk", "without probabilities"),
    ("PRED 1.0 walk 0.5 0.5", "2 probabilities for 3 classes"),
    ("PRED nan walk 0.1 0.2 0.7", "not finite"),
    ("PRED 1.0 walk 0.1 0.2 70", "probability 70.0 is not in 0..1"),
])
def test_malformed_pred_lines(line, match):
    with pytest.raises(MalformedMessage, match=match):
        parse_pred_line(line, "x", CLASSES)


def test_parse_mqtt_payload():
    p = parse_mqtt_payload("tinyhar/kitchen/activity", _payload(3).encode())
    assert (p.source, p.seq, p.activity, p.model) == ("kitchen", 3, "walk", "m:1")
    assert list(p.probabilities) == CLASSES
    extra = parse_mqtt_payload("x", '{"t": 1, "activity": "a", "sent_at": 5.5}')
    assert extra.extra == {"sent_at": 5.5} and extra.source == "x"


@pytest.mark.parametrize(("payload", "match"), [
    (b"\xff\xfe", "not JSON"),
    (b"{", "not JSON"),
    (b"[1, 2]", "JSON list, not an object"),
    (b'{"activity": "a"}', "no 't'"),
    (b'{"t": "1", "activity": "a"}', "t must be a number"),
    (b'{"t": 1, "activity": ""}', "non-empty string"),
    (b'{"t": 1, "activity": "a", "probabilities": [0.5]}', "probabilities must be an object"),
    (b'{"t": 1, "activity": "a", "probabilities": {"a": null}}', r"probabilities\['a'\]"),
    (b'{"t": 1, "activity": "a", "seq": 1.5}', "seq must be an integer"),
    (b'{"t": 1e999, "activity": "a"}', "not finite"),
    (b'{"t": 1, "activity": "a", "confidence": 80}', "confidence 80.0 is not in 0..1"),
    (b'{"t": 1, "activity": "a", "probabilities": {"a": -0.5}}', r"\['a'\] -0.5 is not in 0..1"),
])
def test_malformed_mqtt_payloads(payload, match):
    with pytest.raises(MalformedMessage, match=match):
        parse_mqtt_payload("tinyhar/b/activity", payload)


def test_parse_mqtt_url():
    assert str(parse_mqtt_url("mqtt://broker/tinyhar/+/activity")) == \
        "mqtt://broker:1883/tinyhar/+/activity"
    u = parse_mqtt_url("127.0.0.1:1999")
    assert (u.host, u.port, u.topic) == ("127.0.0.1", 1999, None)
    for bad, match in (("http://x", "only mqtt://"), ("mqtt://:1883/a", "no broker host"),
                       ("mqtt://h:99999", "port must be"), ("mqtt://h:0/x", "port must be")):
        with pytest.raises(ConfigError, match=match):
            parse_mqtt_url(bad)


def test_mqtt_url_topic_keeps_hash_and_question_mark():
    """'#' and '?' are topic characters, not a URL fragment and query: the whole path is the
    topic (``mqtt://h/tinyhar/#`` used to subscribe to ``tinyhar/``, which matches nothing)."""
    assert parse_mqtt_url("mqtt://h/tinyhar/#").topic == "tinyhar/#"
    assert parse_mqtt_url("h:1999/what?/#").topic == "what?/#"
    u = parse_mqtt_url("mqtt://broker:1884/my home/küche 1/+")
    assert (u.host, u.port, u.topic) == ("broker", 1884, "my home/küche 1/+")


def test_mqtt_url_with_credentials_is_refused_without_echoing_them():
    """A user name and password were silently dropped (the broker then refused the anonymous
    client, reported as 'no CONNACK ... is the broker running?')."""
    with pytest.raises(ConfigError, match="user name or password") as caught:
        parse_mqtt_url("mqtt://alice:s3cret@broker/tinyhar/+/activity")
    assert "s3cret" not in str(caught.value)


def test_pred_lines_of_class_names_with_spaces():
    """The live app prints a class name as it is (``walking upstairs``): the probabilities are
    the last tokens (such lines used to be counted as malformed)."""
    names = ["sitting", "walking upstairs"]
    p = parse_pred_line("PRED 1.2800 walking upstairs 0.1000 0.9000\n", "sim", names)
    assert (p.activity, p.probabilities, p.confidence) == (
        "walking upstairs", {"sitting": 0.1, "walking upstairs": 0.9}, 0.9)
    q = parse_pred_line("PRED 1.28 walking upstairs 0.1 0.9", "COM3")  # no --run: p0, p1
    assert (q.activity, q.probabilities) == ("walking upstairs", {"p0": 0.1, "p1": 0.9})
    with pytest.raises(MalformedMessage, match="3 probabilities for 2 classes"):
        parse_pred_line("PRED 1.28 walk 0.1 0.2 0.7", "sim", names)


@pytest.mark.parametrize("payload", [
    b'{"t": 1, "activity": "a", "sent_at": NaN}',
    b'{"t": 1, "activity": "a", "confidence": Infinity}',
    b'{"t": 1, "activity": "a", "probabilities": {"a": -Infinity}}',
])
def test_mqtt_payload_with_nan_or_infinity_is_malformed(payload):
    """NaN and Infinity are not JSON: Python's parser takes them, and a NaN kept among a
    payload's other keys broke the dashboard (``/state`` answered 500)."""
    with pytest.raises(MalformedMessage, match="not JSON"):
        parse_mqtt_payload("tinyhar/b/activity", payload)


def test_state_minutes_gaps_and_restarts():
    s = LiveState()
    acts = ["walk"] * 5 + ["sit"] * 3
    for i, a in enumerate(acts):
        s.add(Prediction(1.0 * i, a, 0.9, {a: 0.9}, "b1", seq=i + 1))
    s.add(Prediction(100.0, "sit", 0.9, {}, "b1", seq=20))  # 11 missed, 92 s pause capped at 10
    s.add(Prediction(0.0, "walk", 0.9, {}, "b1", seq=1))  # the board restarted
    s.add_malformed("bad")
    m = s.minutes()
    assert m["walk"] == pytest.approx(5 / 60)
    assert m["sit"] == pytest.approx((2 + 10 + 0) / 60)
    st = s.stats()
    assert (st["received"], st["gaps"], st["restarts"], st["malformed"]) == (10, 11, 1, 1)


class FakeSerial:
    def __init__(self, lines):
        self.lines = list(lines)
        self.closed = False

    def readline(self):
        if not self.lines:
            raise KeyboardInterrupt  # the user stops the live view
        return self.lines.pop(0)


def test_serial_source_counts_malformed_lines_and_goes_on(tmp_path):
    lines = [b"MicroPython v1.24\r\n", b"PRED 0.0000 walk 0.1 0.2 0.7\n", b"PRED 1.2 wa",
             b"lk 0.1 0.2 0.7\n", b"PRED 2.0 sit 0.x 0.1 0.1\n", b"\xff\xfe garbage\n",
             b"INVALID 3.0 inf in gyro_z\n", b"PRED 4.0 sit 0.8 0.1 0.1\n"]
    fake = FakeSerial(lines)
    src = SerialSource("/dev/ttyFAKE", serial_factory=lambda *a, **k: fake)
    csv = tmp_path / "log.csv"
    state = run_live(src, sinks=[CsvSink(csv)], view=False)
    assert [p.activity for p in state.timeline] == ["walk", "walk", "invalid", "sit"]
    assert state.malformed == 1 and "non-numeric" in state.malformed_examples[0]
    frame = pd.read_csv(csv)
    assert list(frame["activity"]) == ["walk", "walk", "invalid", "sit"]
    assert list(frame.columns[-3:]) == ["p_p0", "p_p1", "p_p2"]


def test_a_sink_that_fails_at_the_end_does_not_cost_the_others(tmp_path):
    """Every sink is closed, then the first error is raised (a Parquet log whose folder went
    away stopped the closing: the CSV log's last lines were never written)."""
    import shutil

    lines = [b"INVALID 0.0 NaN in acc_x\n", b"INVALID 1.28 NaN in acc_x\n"]  # no classes yet
    fake = FakeSerial(lines)
    src = SerialSource("/dev/ttyFAKE", serial_factory=lambda *a, **k: fake)
    (tmp_path / "gone").mkdir()
    sinks = [ParquetSink(tmp_path / "gone" / "log.parquet"), CsvSink(tmp_path / "log.csv")]
    shutil.rmtree(tmp_path / "gone")
    with pytest.raises(TinyharError, match="cannot write the Parquet log"):
        run_live(src, sinks=sinks, view=False)
    assert list(pd.read_csv(tmp_path / "log.csv")["activity"]) == ["invalid", "invalid"]


def test_csv_log_warns_once_when_a_model_with_other_classes_joins(tmp_path):
    """The CSV log's columns are the first model's classes: a board with another model (a
    fleet) lost its other probabilities without a word."""
    sink = CsvSink(tmp_path / "log.csv")
    sink.write(Prediction(0.0, "walk", 0.8, {"walk": 0.8, "sit": 0.2}, "b1"))
    with pytest.warns(UserWarning, match=r"b2 has classes \['fall'\] .* --parquet"):
        sink.write(Prediction(0.0, "fall", 0.9, {"fall": 0.9, "walk": 0.1}, "b2"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once
        sink.write(Prediction(1.3, "fall", 0.9, {"fall": 0.9, "walk": 0.1}, "b2"))
    sink.close()
    frame = pd.read_csv(tmp_path / "log.csv")
    assert list(frame.columns[-2:]) == ["p_walk", "p_sit"] and len(frame) == 3


def test_serial_port_that_cannot_be_opened():
    with pytest.raises(TinyharError, match="cannot open serial port /dev/ttyNOPE"):
        SerialSource("/dev/ttyNOPE")


def _publisher(broker):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-pub")
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def test_mqtt_source_fleet_malformed_csv_and_parquet(mosquitto, tmp_path):  # noqa: F811
    url = parse_mqtt_url(f"{mosquitto.url}/tinyhar/+/activity")
    src = MqttSource(url)
    pub = _publisher(mosquitto)
    sent = []
    for i in range(1, 31):
        board = "b1" if i % 2 else "b2"
        payload = _payload(i, "walk" if i < 20 else "sit")
        if i in (7, 8):
            payload = "not json" if i == 7 else '{"t": 1}'
        else:
            sent.append((board, i))
        pub.publish(f"tinyhar/{board}/activity", payload, qos=1).wait_for_publish(5)
    csv, pq = tmp_path / "log.csv", tmp_path / "log.parquet"
    state = run_live(src, sinks=[CsvSink(csv), ParquetSink(pq)], view=False, limit=len(sent))
    pub.loop_stop()
    assert [(p.source, p.seq) for p in state.timeline] == sent
    assert state.malformed == 2
    # b1 sends odd seqs (gaps of 1 in its own numbering: the test's numbering is shared)
    assert set(state.current) == {"b1", "b2"}
    frame = pd.read_parquet(pq)
    assert list(frame["seq"]) == [s for _, s in sent]
    assert list(pd.read_csv(csv)["source"]) == [b for b, _ in sent]
    assert list(frame.columns[-3:]) == ["p_sit", "p_stand", "p_walk"]


def test_mqtt_broker_restart_reconnects_and_counts_the_gap(mosquitto):  # noqa: F811
    import threading

    url = parse_mqtt_url(mosquitto.url)
    src = MqttSource(url)
    state = LiveState()
    done: list = []
    thread = threading.Thread(target=lambda: done.append(run_live(src, state, view=False,
                                                                  limit=20)))
    thread.start()
    pub = _publisher(mosquitto)
    for i in range(1, 11):
        pub.publish("tinyhar/b1/activity", _payload(i), qos=1).wait_for_publish(5)
    end = time.monotonic() + 20
    while state.n_received < 10 and time.monotonic() < end:  # delivered before the stop
        time.sleep(0.02)
    mosquitto.stop()
    time.sleep(0.5)  # both clients notice; seq 11..15 are never published
    mosquitto.start()
    end = time.monotonic() + 20
    while not (pub.is_connected() and src.ready.is_set()) and time.monotonic() < end:
        time.sleep(0.05)
    for i in range(16, 26):
        pub.publish("tinyhar/b1/activity", _payload(i), qos=1).wait_for_publish(5)
    thread.join(timeout=30)
    pub.loop_stop()
    assert done, ([p.seq for p in state.timeline], state.disconnects, src.ready.is_set())
    assert [p.seq for p in state.timeline] == list(range(1, 11)) + list(range(16, 26))
    assert state.gaps == 5 and state.disconnects == 1
    assert "5 missed" in state.summary() and "1 disconnection" in state.summary()


def test_broker_that_refuses_anonymous_clients_is_named_with_its_reason(tmp_path):
    """A refused connection is reported at once with the broker's reason (it was 'no CONNACK
    within 10 s ... is the broker running?', after 10 s)."""
    from tests.broker import Broker, find_mosquitto

    exe = find_mosquitto()
    if exe is None:
        pytest.skip("mosquitto is not installed (Debian: apt-get install mosquitto)")
    broker = Broker(exe, tmp_path)
    broker.conf.write_text(broker.conf.read_text().replace("allow_anonymous true",
                                                           "allow_anonymous false"))
    broker.start()
    try:
        for client in (MqttSource, MqttPublisher):
            with pytest.raises(TinyharError, match=f"at 127.0.0.1 port {broker.port} refused "
                               "the connection: Not authorized; .* allow anonymous"):
                client(parse_mqtt_url(broker.url))
    finally:
        broker.stop()


def test_mqtt_publisher_delivers_a_burst_before_it_closes(mosquitto):  # noqa: F811
    """close() waits until the broker has every message (it stopped paho's network loop at
    once, and the tail of a burst, e.g. a replay at --speed 0, was lost)."""
    from tests.export.test_mpy_outputs import Subscriber

    sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
    pub = MqttPublisher(parse_mqtt_url(mosquitto.url))
    n = 3000
    try:
        for i in range(n):
            pub.write(Prediction(1.28 * i, "walk", 0.8, {"walk": 0.8, "sit": 0.2}, "sim", seq=i))
        pub.close()
        got = sub.drain(n)
    finally:
        sub.close()
    assert [m["seq"] for _, m in got] == list(range(n))
    assert pub.undelivered == 0


def test_mqtt_publisher_counts_what_a_broker_gone_for_good_never_got(mosquitto):  # noqa: F811
    """While the broker is away paho queues the messages (QoS 1) and reconnects; those the
    broker never gets, because it stays away, are counted after close() waited ``timeout`` s
    (they were dropped without a word)."""
    from tests.export.test_mpy_outputs import Subscriber

    sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
    pub = MqttPublisher(parse_mqtt_url(mosquitto.url), timeout=1.0)
    try:
        for i in range(2):
            pub.write(Prediction(1.28 * i, "walk", 0.8, {}, "sim", seq=i))
        assert len(sub.drain(2)) == 2
    finally:
        sub.close()
    mosquitto.stop()
    for i in range(2, 5):
        pub.write(Prediction(1.28 * i, "walk", 0.8, {}, "sim", seq=i))
    pub.close()
    assert pub.undelivered == 3


def test_missing_broker_names_host_and_port():
    from tinyhar.cli import app

    port = free_port()
    res = CliRunner().invoke(app, ["live", "--mqtt", f"mqtt://127.0.0.1:{port}/x/+/activity",
                                   "--no-view"])
    assert res.exit_code == 2
    assert f"cannot connect to the MQTT broker at 127.0.0.1 port {port}" in res.output
    with pytest.raises(TinyharError, match=f"127.0.0.1 port {port}"):
        MqttPublisher(parse_mqtt_url(f"127.0.0.1:{port}"))


@pytest.mark.parametrize("topic", ["tinyhar/a#", "#/activity", "tinyhar/+b/activity",
                                   "a/\x00/b"])
def test_invalid_topic_filter_is_a_usage_error(topic):
    """MQTT's rules for filters are checked before connecting (paho raised ValueError in its
    network thread, and the source waited 10 s to report 'no CONNACK')."""
    with pytest.raises(ConfigError, match="topic filter"):
        MqttSource(parse_mqtt_url(f"mqtt://127.0.0.1:{free_port()}/{topic}"))


@pytest.mark.parametrize("topic", ["tinyhar/#", "tinyhar/+/#"])
def test_republishing_to_a_multi_level_wildcard_is_a_usage_error(topic):
    """A topic with '#' cannot be published to (paho raised ValueError at the first
    prediction, a traceback)."""
    with pytest.raises(ConfigError, match="'#'"):
        MqttPublisher(parse_mqtt_url(f"mqtt://127.0.0.1:{free_port()}/{topic}"))


def test_parquet_log_that_cannot_be_written_fails_at_the_start(tmp_path):
    """The Parquet log is written at the end (and every 1000 predictions): a folder that
    does not exist used to be found out only then, after the session."""
    with pytest.raises(TinyharError, match="cannot write the Parquet log"):
        ParquetSink(tmp_path / "nope" / "log.parquet")


@pytest.mark.parametrize(("args", "match"), [
    ([], "give a source"),
    (["--serial", "/dev/x", "--simulate", "runs/x"], "one source"),
    (["--simulate", "runs/x"], "needs --recording"),
    (["--mqtt", "mqtt://h", "--qos", "2"], "0 or 1"),
    (["--mqtt", "mqtt://h", "--limit", "0"], "--limit must be 1 or more"),  # (stopped after 1)
    (["--mqtt", "mqtt://127.0.0.1:9/x", "--web", "--web-port", "70000"],  # (a traceback)
     "--web-port 70000: a TCP port is 0 to 65535"),
])
def test_cli_live_usage_errors(args, match):
    from tinyhar.cli import app

    res = CliRunner().invoke(app, ["live", "--no-view", *args])
    assert res.exit_code == 2 and match in res.output


@pytest.fixture(scope="module")
def run_and_recording(tmp_path_factory):
    """A small run folder (minimal features) and 60 s of the test subject as Parquet."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.models.pipeline import PIPELINE_FILE
    from tinyhar.runfolder import write_run
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    hapt = load_bundled_hapt().select(subjects=["1", "3", "4"])
    windows, _ = make_windows(hapt.select(subjects=["1", "3"]), window=128, hop=64,
                              unit="samples")
    cfg = make_config({"features": {"set": "minimal"},
                       "model": {"n_estimators": 4, "max_depth": 6}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    out = tmp_path_factory.mktemp("run") / "run"
    with write_run(out) as tmp:
        pipe.save(tmp / PIPELINE_FILE)
    rec = hapt.select(subjects=["4"])
    frame = rec.frame[rec.frame["session"] == rec.sessions[0]].iloc[1000:4000]
    part = RecordingSet(frame.reset_index(drop=True), rec.sampling_rate_hz, rec.classes,
                        rec.name)
    return out, part.to_parquet(tmp_path_factory.mktemp("rec") / "session.parquet")


def test_cli_live_simulate_republishes_to_mqtt_and_logs(run_and_recording, mosquitto,  # noqa: F811
                                                         tmp_path):
    from tests.export.test_mpy_outputs import Subscriber
    from tinyhar.cli import app
    from tinyhar.device.simulate import simulate
    from tinyhar.export.micropython import find_micropython

    try:
        find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    run, rec = run_and_recording
    expected = simulate(run, rec)
    sub = Subscriber(mosquitto.host, mosquitto.port, "tinyhar/+/activity")
    csv = tmp_path / "live.csv"
    try:
        res = CliRunner().invoke(app, ["live", "--simulate", str(run), "--recording", str(rec),
                                       "--speed", "0", "--mqtt", mosquitto.url, "--csv",
                                       str(csv), "--no-view", "--web", "--web-port",
                                       str(free_port()), "--no-keep-serving"])
        got = sub.drain(len(expected))
    finally:
        sub.close()
    assert res.exit_code == 0, res.output
    assert f"{len(expected)} predictions from 1 source(s), 0 malformed, 0 missed" in res.output
    assert "dashboard: http://127.0.0.1:" in res.output
    assert len(got) == len(expected) > 40
    for (topic, msg), (t, cls, proba) in zip(got, expected, strict=True):
        assert topic == "tinyhar/simulator/activity"
        assert msg["activity"] == cls and msg["t"] == pytest.approx(t, abs=1e-6)
        assert list(msg["probabilities"].values()) == pytest.approx(proba, abs=1e-6)
    frame = pd.read_csv(csv)
    assert list(frame["activity"]) == [c for _, c, _ in expected]


def test_terminal_view_shows_activity_confidence_and_minutes():
    from rich.console import Console

    from tinyhar.outputs.live import render_view

    state = LiveState()
    for i in range(4):
        state.add(Prediction(30.0 * i, "walk", 0.75, {"walk": 0.75, "sit": 0.25}, "b1"))
    console = Console(record=True, width=80)
    console.print(render_view(state, width=20))
    text = console.export_text()
    assert "walk" in text and "(b1, t = 90.0 s)" in text
    assert "█" * 15 + "░" * 5 + " 75%" in text  # confidence bar
    assert "0.5" in text  # 3 steps of 30 s, each capped at 10 s: 0.5 min of walk
    assert "4 predictions, 1 source(s), 0 malformed, 0 missed" in text


def test_parquet_log_rewrites_every_n_and_keeps_classes_that_come_later(tmp_path):
    """The file holds every ``every`` predictions as they come (a valid file at each
    rewrite), all of them after close; a class first seen later gets its column, empty for
    the rows before it (it was rewritten whole from Python objects each time: quadratic)."""
    path = tmp_path / "log.parquet"
    sink = ParquetSink(path, every=10, max_write_share=1e9)  # rewrite at every 10th
    for i in range(25):
        probs = {"walk": 0.75, "sit": 0.25} if i < 12 else {"walk": 0.5, "fall": 0.5}
        sink.write(Prediction(1.28 * i, "walk", 0.75, probs, "b1", seq=i))
        if i == 19:
            assert list(pd.read_parquet(path)["seq"]) == list(range(20))
    assert len(pd.read_parquet(path)) == 20  # the last 5 wait for the 30th, or close
    sink.close()
    frame = pd.read_parquet(path)
    assert list(frame["seq"]) == list(range(25))
    assert list(frame.columns[-3:]) == ["p_walk", "p_sit", "p_fall"]
    assert frame["p_fall"].isna().tolist() == [True] * 12 + [False] * 13
    assert frame["p_sit"].iloc[:12].tolist() == [0.25] * 12
    assert frame["p_sit"].iloc[12:].isna().all()
    assert frame["t_start_s"].tolist() == [1.28 * i for i in range(25)]  # float64 as given
    assert not path.with_name("log.parquet.tmp").exists()


def test_parquet_log_waits_after_a_rewrite_in_proportion_to_its_cost(tmp_path):
    """With a tiny share of the time for writing, the first rewrite (at ``every``) happens,
    the next ones wait (so a long log is not rewritten over and over); close writes all."""
    path = tmp_path / "log.parquet"
    sink = ParquetSink(path, every=5, max_write_share=1e-9)
    for i in range(23):
        sink.write(Prediction(float(i), "sit", 1.0, {"sit": 1.0}, "b1", seq=i))
    assert len(pd.read_parquet(path)) == 5
    sink.close()
    assert list(pd.read_parquet(path)["seq"]) == list(range(23))
