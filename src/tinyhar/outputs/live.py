"""``tinyhar live``: predictions from a board, the simulator or MQTT, shown and passed on.

Sources (each yields :class:`~tinyhar.outputs.messages.Prediction` objects,
and counts what it could not parse):

* :class:`SerialSource` reads the live app's ``PRED``/``INVALID`` lines from a
  board's USB serial port (pyserial);
* :class:`SimulatorSource` runs the live app in the MicroPython unix port
  replaying a recording (as ``tinyhar simulate``), paced like the recording
  (``speed``);
* :class:`MqttSource` subscribes to ``tinyhar/+/activity`` (a fleet of boards)
  on a broker (paho-mqtt).

:func:`run_live` feeds every prediction to the :class:`LiveState` (current
activity per source, minutes per activity, timeline, malformed messages,
sequence gaps), the sinks (:class:`CsvSink`, :class:`ParquetSink`,
:class:`MqttPublisher`), the rich terminal view and the web dashboard
(:mod:`tinyhar.outputs.web`).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.features.validity import INVALID_CLASS
from tinyhar.outputs.messages import (
    DEFAULT_TOPIC,
    MalformedMessage,
    MqttUrl,
    Prediction,
    check_topic,
    parse_mqtt_payload,
    parse_pred_line,
)

__all__ = [
    "CsvSink",
    "LiveState",
    "MqttPublisher",
    "MqttSource",
    "ParquetSink",
    "SerialSource",
    "SimulatorSource",
    "close_all",
    "render_view",
    "require",
    "run_live",
]

def require(module: str, package: str) -> Any:
    """Import an optional dependency of ``tinyhar live``, or say how to install it.

    Raises
    ------
    TinyharError
        The module is missing (``pip install "tinyhar[live]"`` installs it).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise TinyharError(f"tinyhar live needs {package}: pip install \"tinyhar[live]\" "
                           f"(or pip install {package})") from None


MAX_STEP_S = 10.0
"""Longest time one prediction accounts for in the minutes per activity (s)."""


# --------------------------------------------------------------------------- state


class LiveState:
    """Everything the views show, updated with each prediction.

    Minutes per activity: each prediction of a source accounts the time to
    that source's next prediction (its hop), capped at :data:`MAX_STEP_S` so
    that pauses do not count; the latest prediction counts from the next one.
    Gaps: a source's ``seq`` jumping from n to m > n + 1 adds m - n - 1
    missed messages; a smaller ``seq`` is a restarted device (counted in
    ``restarts``).

    Parameters
    ----------
    timeline : int
        How many recent predictions are kept for the dashboard.
    """

    def __init__(self, timeline: int = 2000) -> None:
        self.lock = threading.Lock()
        self.timeline: collections.deque[Prediction] = collections.deque(maxlen=timeline)
        self.current: dict[str, Prediction] = {}
        self.seconds: collections.Counter[str] = collections.Counter()
        self.classes: list[str] = []
        self.n_received = 0
        self.n_invalid = 0
        self.malformed = 0
        self.malformed_examples: collections.deque[str] = collections.deque(maxlen=5)
        self.gaps = 0
        self.restarts = 0
        self.disconnects = 0
        self.started = time.time()
        self._last_seq: dict[str, int] = {}

    def add(self, pred: Prediction) -> None:
        """Account one prediction."""
        with self.lock:
            prev = self.current.get(pred.source)
            if prev is not None and prev.activity != INVALID_CLASS:
                step = pred.t - prev.t
                if 0 < step:
                    self.seconds[prev.activity] += min(step, MAX_STEP_S)
            if pred.seq is not None:
                last = self._last_seq.get(pred.source)
                if last is not None:
                    if pred.seq > last + 1:
                        self.gaps += pred.seq - last - 1
                    elif pred.seq <= last:
                        self.restarts += 1
                self._last_seq[pred.source] = pred.seq
            for name in pred.probabilities:
                if name not in self.classes:
                    self.classes.append(name)
            self.current[pred.source] = pred
            self.timeline.append(pred)
            self.n_received += 1
            self.n_invalid += pred.activity == INVALID_CLASS

    def add_malformed(self, reason: str) -> None:
        """Count one line/payload that was not a prediction."""
        with self.lock:
            self.malformed += 1
            self.malformed_examples.append(reason[:200])

    def minutes(self) -> dict[str, float]:
        """Minutes per activity, largest first."""
        with self.lock:
            return {k: v / 60.0 for k, v in self.seconds.most_common()}

    def latest(self) -> Prediction | None:
        """The most recent prediction of any source."""
        with self.lock:
            return self.timeline[-1] if self.timeline else None

    def stats(self) -> dict[str, Any]:
        """Counters: received, invalid, malformed, gaps, restarts, disconnects, sources."""
        with self.lock:
            return {"received": self.n_received, "invalid": self.n_invalid,
                    "malformed": self.malformed, "gaps": self.gaps, "restarts": self.restarts,
                    "disconnects": self.disconnects, "sources": sorted(self.current)}

    def snapshot(self, last: int = 600) -> dict[str, Any]:
        """JSON-ready state for the dashboard (the ``last`` predictions of the timeline)."""
        with self.lock:
            items = list(self.timeline)[-last:]
            current = {k: v.to_dict() for k, v in self.current.items()}
            classes = list(self.classes)
        return {"classes": classes, "current": current,
                "timeline": [p.to_dict() for p in items], "minutes": self.minutes(),
                "stats": self.stats()}

    def summary(self) -> str:
        """One line for the end of a run."""
        s = self.stats()
        text = (f"{s['received']} predictions from {len(s['sources'])} source(s), "
                f"{s['malformed']} malformed, {s['gaps']} missed (sequence gaps)")
        if s["disconnects"]:
            text += f", {s['disconnects']} disconnection(s)"
        if s["invalid"]:
            text += f", {s['invalid']} invalid window(s)"
        return text


# --------------------------------------------------------------------------- sources


class Source:
    """Base of the sources: iterate to get predictions; ``close()`` stops them."""

    name = "source"
    state: LiveState | None = None

    def __iter__(self) -> Iterator[Prediction]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading."""

    def _malformed(self, reason: str) -> None:
        if self.state is not None:
            self.state.add_malformed(reason)


def _lines_to_predictions(lines: Iterator[str], source: Source, label: str,
                          classes: list[str] | None) -> Iterator[Prediction]:
    for line in lines:
        try:
            pred = parse_pred_line(line, label, classes)
        except MalformedMessage as exc:
            source._malformed(str(exc))
            continue
        if pred is not None:
            yield pred


def _bundle_classes(run_or_bundle: str | Path | None) -> list[str] | None:
    if run_or_bundle is None:
        return None
    from tinyhar.device.deploy import resolve_bundle

    bundle = resolve_bundle(run_or_bundle)
    return list(json.loads((bundle / "bundle.json").read_text(encoding="utf-8"))["classes"])


class SerialSource(Source):
    """The live app's lines from a board's USB serial port.

    Parameters
    ----------
    port : str
        Serial port (``/dev/ttyACM0``, ``COM3``).
    run : str or Path, optional
        Run folder or bundle on the board: names the probabilities.
    baudrate : int
        115200 for MicroPython's USB console.

    Raises
    ------
    TinyharError
        The port cannot be opened (the message names it).
    """

    name = "serial"

    def __init__(self, port: str, run: str | Path | None = None, baudrate: int = 115200,
                 serial_factory: Callable[..., Any] | None = None) -> None:
        self.port = port
        if serial_factory is None:
            serial = require("serial", "pyserial")
            serial_factory = serial.Serial
            errors: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
        else:
            errors = (OSError,)
        try:
            self.serial = serial_factory(port, baudrate, timeout=0.5)
        except errors as exc:
            raise TinyharError(
                f"cannot open serial port {port}: {exc}; check the cable and the port "
                "(`mpremote connect list`) and that no other program holds it") from None
        self._stop = threading.Event()
        try:
            self.classes = _bundle_classes(run)
        except TinyharError:
            self.close()
            raise

    def _lines(self) -> Iterator[str]:
        buf = b""
        while not self._stop.is_set():
            try:
                chunk = self.serial.readline()
            except OSError as exc:
                raise TinyharError(f"serial port {self.port} failed: {exc}") from None
            if not chunk:
                continue
            buf += chunk
            if buf.endswith(b"\n"):
                yield buf.decode("utf-8", "replace")
                buf = b""

    def __iter__(self) -> Iterator[Prediction]:
        return _lines_to_predictions(self._lines(), self, self.port, self.classes)

    def close(self) -> None:
        self._stop.set()
        try:
            self.serial.close()
        except Exception:  # noqa: BLE001 - closing a port that went away
            pass


class SimulatorSource(Source):
    """The live app in the MicroPython unix port, replaying a recording.

    Parameters
    ----------
    run : str or Path
        Run folder (its bundle is exported if missing) or bundle.
    recording : str or Path
        tinyhar Parquet recording or CSV (see :mod:`tinyhar.device.simulate`).
    session : str, optional
        Session of a Parquet recording (default: the first).
    speed : float
        1 replays in real time (each prediction released at its window's
        time), 10 ten times faster, 0 as fast as the simulator runs.

    Raises
    ------
    TinyharError
        No MicroPython unix port, a bad run or recording.
    """

    name = "simulator"

    def __init__(self, run: str | Path, recording: str | Path, session: str | None = None,
                 speed: float = 1.0) -> None:
        from tinyhar.device.deploy import resolve_bundle
        from tinyhar.device.simulate import load_session, write_replay_csv
        from tinyhar.export.micropython import find_micropython

        if speed < 0:
            raise ConfigError(f"--speed must be >= 0, not {speed}")
        self.bundle = resolve_bundle(run)
        meta = json.loads((self.bundle / "bundle.json").read_text(encoding="utf-8"))
        self.classes = list(meta["classes"])
        t, values, _ = load_session(recording, meta["channels"], meta["sampling_rate_hz"],
                                    session)
        self.exe = find_micropython()
        self.tmp = tempfile.TemporaryDirectory(prefix="tinyhar_live_")
        self.csv = write_replay_csv(Path(self.tmp.name) / "replay.csv", t, values,
                                    meta["channels"])
        self.speed = float(speed)
        self.proc: subprocess.Popen | None = None

    def _lines(self) -> Iterator[str]:
        from tinyhar.export.mpy_runner import bundle_heap

        code = ("import app_live\n"
                f"app_live.main(replay={str(self.csv)!r}, display='print', verbose=False, "
                "outputs=(), mounting=None)\n")  # a recording: already in the training axes
        env = dict(os.environ, MICROPYPATH=f"{self.bundle.resolve()}:.frozen")
        heap = bundle_heap(self.bundle)  # a long window needs more than 4 MiB
        self.proc = subprocess.Popen([self.exe, "-X", f"heapsize={heap}", "-c", code],
                                     cwd=str(self.bundle), env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, encoding="utf-8")
        assert self.proc.stdout is not None
        yield from self.proc.stdout
        self.proc.wait()
        if self.proc.returncode not in (0, -15, -9):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise TinyharError(f"the simulator failed (status {self.proc.returncode}): "
                               f"{err[-1000:]}")

    def __iter__(self) -> Iterator[Prediction]:
        t0_wall = t0_rec = None
        for pred in _lines_to_predictions(self._lines(), self, "simulator", self.classes):
            if self.speed > 0:
                if t0_wall is None:
                    t0_wall, t0_rec = time.monotonic(), pred.t
                wait = (pred.t - t0_rec) / self.speed - (time.monotonic() - t0_wall)
                if wait > 0:
                    time.sleep(wait)
            pred.received = time.time()
            yield pred

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()


def _connect_error(url: MqttUrl, exc: BaseException | str,
                   refused: list[str] | None = None) -> TinyharError:
    if refused:
        return TinyharError(
            f"the MQTT broker at {url.host} port {url.port} refused the connection: "
            f"{refused[0]}; tinyhar live connects without user name and password, so the "
            "broker must allow anonymous clients (mosquitto: allow_anonymous true)")
    return TinyharError(
        f"cannot connect to the MQTT broker at {url.host} port {url.port}: {exc}; "
        "is the broker running (e.g. `mosquitto`) and are host and port right?")


def _wait_for(event: threading.Event, refused: list[str], timeout: float) -> bool:
    """Wait until ``event`` is set or the broker refused (``refused`` filled), ``timeout`` s
    at most; True when ``event`` is set."""
    end = time.monotonic() + timeout
    while not refused and time.monotonic() < end:
        if event.wait(min(0.05, max(end - time.monotonic(), 0.0))):
            return True
    return event.is_set()


class MqttSource(Source):
    """Predictions published by boards to an MQTT broker.

    Parameters
    ----------
    url : MqttUrl
        Broker and topic filter (default ``tinyhar/+/activity``).
    qos : int
        Subscription QoS (0 or 1).
    timeout : float
        Seconds to wait for the first connection.

    Raises
    ------
    ConfigError
        A topic filter MQTT does not allow (:func:`~tinyhar.outputs.messages.check_topic`).
    TinyharError
        The broker cannot be reached or refuses the connection (the message
        names host, port and the broker's reason).

    Notes
    -----
    A lost connection is re-established by paho-mqtt (back-off 0.1 s to
    5 s); ``disconnects`` in the state counts them, the device's ``seq``
    shows what was missed meanwhile.
    """

    name = "mqtt"

    def __init__(self, url: MqttUrl, qos: int = 1, timeout: float = 10.0,
                 client_id: str | None = None) -> None:
        self.url = url
        self.topic = check_topic(url.topic or DEFAULT_TOPIC)
        mqtt = require("paho.mqtt.client", "paho-mqtt")
        self.queue: queue.Queue = queue.Queue()
        self._connected = threading.Event()
        self.ready = threading.Event()  # subscribed (cleared while disconnected)
        self._closed = False
        refused: list[str] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"tinyhar-live-{os.getpid()}")
        self.client.reconnect_delay_set(0.1, 5)

        def on_connect(client, userdata, flags, rc, props=None):
            if not rc.is_failure:
                client.subscribe(self.topic, qos=qos)
                self._connected.set()
            else:
                refused.append(str(rc))

        def on_subscribe(client, userdata, mid, reason_codes, props=None):
            self.ready.set()

        def on_disconnect(client, userdata, flags, rc, props=None):
            self.ready.clear()
            if not self._closed and self.state is not None:
                with self.state.lock:
                    self.state.disconnects += 1

        def on_message(client, userdata, msg):
            self.queue.put((msg.topic, msg.payload, time.time()))

        self.client.on_connect = on_connect
        self.client.on_disconnect = on_disconnect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        try:
            self.client.connect(url.host, url.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise _connect_error(url, exc) from None
        self.client.loop_start()
        if not (_wait_for(self._connected, refused, timeout) and self.ready.wait(timeout)):
            self.close()
            raise _connect_error(url, f"no CONNACK within {timeout:g} s", refused)

    def __iter__(self) -> Iterator[Prediction]:
        while not self._closed:
            try:
                topic, payload, received = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if topic is None:
                return
            try:
                pred = parse_mqtt_payload(topic, payload)
            except MalformedMessage as exc:
                self._malformed(str(exc))
                continue
            pred.received = received
            yield pred

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.queue.put((None, None, None))
        self.client.loop_stop()
        self.client.disconnect()


# --------------------------------------------------------------------------- sinks


class Sink:
    """Base of the sinks: ``write(pred)`` and ``close()``."""

    def write(self, pred: Prediction) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish (flush, write the file)."""


def _row(pred: Prediction, classes: list[str]) -> dict[str, Any]:
    row = {"received_utc": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(pred.received))
           + f".{int(pred.received * 1000) % 1000:03d}Z",
           "source": pred.source, "t_start_s": pred.t, "activity": pred.activity,
           "confidence": pred.confidence, "seq": pred.seq, "model": pred.model}
    for c in classes:
        row[f"p_{c}"] = pred.probabilities.get(c)
    return row


class CsvSink(Sink):
    """Predictions appended to a CSV file, one line each, flushed.

    Columns: received_utc, source, t_start_s, activity, confidence, seq,
    model, then ``p_<class>`` for the classes of the first prediction with
    probabilities (``classes`` fixes them up front). A prediction with other
    classes (a fleet of boards with different models) has only those
    columns logged, and a warning says so once (:class:`ParquetSink` keeps
    every class).
    """

    def __init__(self, path: str | Path, classes: list[str] | None = None) -> None:
        import csv

        self.path = Path(path)
        try:
            self.file = self.path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise TinyharError(f"{self.path}: cannot write the CSV log: {exc}") from None
        self.csv = csv
        self.classes = list(classes) if classes else None
        self.writer = None
        self.pending: list[Prediction] = []
        self._warned = False

    def write(self, pred: Prediction) -> None:
        if self.classes is None:
            if not pred.probabilities:  # wait for a prediction that names the classes
                self.pending.append(pred)
                return
            self.classes = list(pred.probabilities)
        other = [c for c in pred.probabilities if c not in self.classes]
        if other and not self._warned:
            import warnings

            self._warned = True
            warnings.warn(f"{self.path}: {pred.source} has classes {other} that the CSV log's "
                          f"columns (the classes {self.classes}) lack: their probabilities are "
                          "not logged; --parquet logs every class", stacklevel=2)
        if self.writer is None:
            self.writer = self.csv.DictWriter(self.file, list(_row(pred, self.classes)))
            self.writer.writeheader()
        for p in [*self.pending, pred]:
            self.writer.writerow(_row(p, self.classes))
        self.pending = []
        self.file.flush()

    def close(self) -> None:
        if self.pending:
            self.classes = self.classes or []
            last, self.pending = self.pending[-1], self.pending[:-1]
            self.write(last)
        self.file.close()


_LOG_COLUMNS = (("received_utc", "string"), ("source", "string"), ("t_start_s", "float64"),
                ("activity", "string"), ("confidence", "float64"), ("seq", "int64"),
                ("model", "string"))
"""The log's columns before the ``p_<class>`` ones (:func:`_row`), with their Arrow types."""


class ParquetSink(Sink):
    """Predictions logged to one Parquet file, rewritten atomically as they come.

    Same columns as :class:`CsvSink`, with a ``p_<class>`` column (float64)
    for every class any prediction had, in the order they first came (empty
    where a prediction lacks that class: a fleet of boards with different
    models). The predictions are kept as Arrow columns (about 100 bytes
    each with a few classes), converted ``every`` at a time. The file is
    rewritten (a temporary file, then renamed: a reader, or a crash, never
    sees half a file) once ``every`` more predictions have come, but not
    before ``1 / max_write_share`` times the last rewrite's duration has
    passed since it: so rewriting takes at most that share of the time
    however long the log grows (each rewrite costs time in proportion to the
    log), and a crash loses at most the predictions since the last rewrite
    (``every``, or what came in that wait, about 20x a rewrite of the log).
    :meth:`close` writes them all.

    Parameters
    ----------
    path : str or Path
        The Parquet file.
    every : int, default 1000
        Predictions converted (and the file rewritten, at most) at a time.
    max_write_share : float, default 0.05
        Longest share of the time spent rewriting the file.

    Raises
    ------
    TinyharError
        The file cannot be written (checked at once, not at the first write).
    """

    def __init__(self, path: str | Path, every: int = 1000, max_write_share: float = 0.05
                 ) -> None:
        self.path = Path(path)
        self.every = every
        self.max_write_share = max_write_share
        self.pending: list[Prediction] = []
        self.chunks: list = []  # pyarrow.Table, one per ``every`` predictions
        self.classes: list[str] = []
        self._next_write = 0.0  # time.monotonic() before which the file is not rewritten
        tmp = self._tmp()
        try:  # find out now, not after the session
            tmp.open("wb").close()
            tmp.unlink()
        except OSError as exc:
            raise TinyharError(f"{self.path}: cannot write the Parquet log: {exc}") from None

    def _tmp(self) -> Path:
        return self.path.with_name(self.path.name + ".tmp")

    def write(self, pred: Prediction) -> None:
        self.pending.append(pred)
        if len(self.pending) >= self.every:
            self._convert()
            if time.monotonic() >= self._next_write:
                self._dump()

    def _convert(self) -> None:
        """Move the pending predictions into an Arrow table of their own."""
        import pyarrow as pa

        for p in self.pending:
            for c in p.probabilities:
                if c not in self.classes:
                    self.classes.append(c)
        rows = [_row(p, self.classes) for p in self.pending]
        columns = {name: pa.array([r[name] for r in rows], type=getattr(pa, kind)())
                   for name, kind in _LOG_COLUMNS}
        for c in self.classes:
            columns[f"p_{c}"] = pa.array([r[f"p_{c}"] for r in rows], type=pa.float64())
        self.chunks.append(pa.table(columns))
        self.pending = []

    def _dump(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.pending or not self.chunks:
            self._convert()
        started = time.monotonic()
        # earlier chunks lack the classes that came later: those columns are null there
        table = pa.concat_tables(self.chunks, promote_options="default")
        tmp = self._tmp()
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise TinyharError(f"{self.path}: cannot write the Parquet log: {exc}") from None
        self.chunks = [table]  # its chunks share the tables' buffers: nothing is copied
        took = time.monotonic() - started
        self._next_write = started + took / self.max_write_share

    def close(self) -> None:
        self._dump()


class MqttPublisher(Sink):
    """Republish predictions to a broker as the boards do.

    Topic: ``url.topic`` with ``+`` replaced by the source (default
    ``tinyhar/<source>/activity``, the source made topic-safe); payload: the
    board's JSON (:func:`~tinyhar.outputs.messages.parse_mqtt_payload`
    reads it back). paho-mqtt queues messages while the broker is away and
    reconnects (QoS 1; with QoS 0 what is published meanwhile is lost).
    :meth:`close` waits up to ``timeout`` s for the broker to have every
    message; :attr:`undelivered` counts those it never got.

    Raises
    ------
    ConfigError
        A topic that cannot be published to (``#``;
        :func:`~tinyhar.outputs.messages.check_topic`).
    TinyharError
        The broker cannot be reached or refuses the connection (the message
        names host, port and the broker's reason).
    """

    def __init__(self, url: MqttUrl, qos: int = 1, timeout: float = 10.0) -> None:
        self.url = url
        self.pattern = check_topic(url.topic or DEFAULT_TOPIC, publish=True)
        mqtt = require("paho.mqtt.client", "paho-mqtt")
        self.qos = qos
        self.timeout = timeout
        self.undelivered = 0
        self._queued = self._delivered = 0  # messages handed to paho, and those it delivered
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=f"tinyhar-pub-{os.getpid()}")
        self.client.reconnect_delay_set(0.1, 5)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        connected = threading.Event()
        refused: list[str] = []

        def on_connect(client, userdata, flags, rc, props=None):
            if rc.is_failure:
                refused.append(str(rc))
            else:
                connected.set()

        def on_publish(client, userdata, mid, rc=None, props=None):
            self._delivered += 1  # (QoS 1: the broker's PUBACK; QoS 0: sent)

        self.client.on_connect = on_connect
        self.client.on_publish = on_publish
        try:
            self.client.connect(url.host, url.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise _connect_error(url, exc) from None
        self.client.loop_start()
        if not _wait_for(connected, refused, timeout):
            self.close()
            raise _connect_error(url, f"no CONNACK within {timeout:g} s", refused)

    def topic(self, source: str) -> str:
        """The topic for one source."""
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", source).strip("_") or "device"
        return self.pattern.replace("+", safe)

    def write(self, pred: Prediction) -> None:
        data = pred.to_dict()
        data.pop("source")
        data.pop("received")
        info = self.client.publish(self.topic(pred.source), json.dumps(data), qos=self.qos)
        if info.rc and self.qos == 0:  # dropped (the broker away); QoS 1 stays queued
            self.undelivered += 1
        else:
            self._queued += 1

    def close(self) -> None:
        """Wait (up to ``timeout`` s) until the broker has every message, then disconnect.

        The messages still queued then (the broker away) are added to
        :attr:`undelivered`.
        """
        end = time.monotonic() + self.timeout
        while self._delivered < self._queued and time.monotonic() < end:
            time.sleep(0.01)
        self.undelivered += max(self._queued - self._delivered, 0)
        self._queued = self._delivered
        self.client.loop_stop()
        self.client.disconnect()


# --------------------------------------------------------------------------- terminal view


def render_view(state: LiveState, width: int = 30) -> Any:
    """The rich renderable of the terminal view (current activity, confidence, minutes)."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    latest = state.latest()
    if latest is None:
        head = Text("waiting for predictions ...", style="dim")
    else:
        filled = int(round(latest.confidence * width))
        head = Text.assemble(
            (f"{latest.activity}", "bold green" if latest.activity != INVALID_CLASS
             else "bold red"),
            f"  ({latest.source}, t = {latest.t:.1f} s)\n",
            ("█" * filled, "green"), ("░" * (width - filled), "dim"),
            f" {100 * latest.confidence:.0f}%",
        )
    table = Table(title="minutes per activity", expand=False)
    table.add_column("activity")
    table.add_column("min", justify="right")
    for name, minutes in state.minutes().items():
        table.add_row(name, f"{minutes:.1f}")
    s = state.stats()
    foot = Text(f"{s['received']} predictions, {len(s['sources'])} source(s), "
                f"{s['malformed']} malformed, {s['gaps']} missed", style="dim")
    return Panel(Group(head, table, foot), title="tinyhar live")


# --------------------------------------------------------------------------- run


def run_live(
    source: Source,
    state: LiveState | None = None,
    sinks: Sequence[Sink] = (),
    view: bool = True,
    web: Any = None,
    limit: int | None = None,
    console: Any = None,
) -> LiveState:
    """Read ``source`` until it ends, ``limit`` predictions, or Ctrl-C.

    Parameters
    ----------
    source : Source
        :class:`SerialSource`, :class:`SimulatorSource` or :class:`MqttSource`.
    state : LiveState, optional
        State to update (default: a new one).
    sinks : sequence of Sink
        Each prediction is written to each sink, in order.
    view : bool
        Show the rich terminal view (refreshed 4 times a second).
    web : tinyhar.outputs.web.Dashboard, optional
        Gets every prediction (server-sent events).
    limit : int, optional
        Stop after this many predictions.
    console : rich.console.Console, optional
        Where the view goes.

    Returns
    -------
    LiveState
        The final state (``summary()`` for the report line).

    Raises
    ------
    TinyharError
        The source failed, or a sink could not finish (after every sink was
        closed: :func:`close_all`).
    """
    state = state or LiveState()
    source.state = state
    live = None
    if view:
        from rich.live import Live

        live = Live(render_view(state), console=console, refresh_per_second=4,
                    get_renderable=lambda: render_view(state))
        live.start()
    n = 0
    try:
        for pred in source:
            state.add(pred)
            for sink in sinks:
                sink.write(pred)
            if web is not None:
                web.publish(pred, state)
            n += 1
            if limit is not None and n >= limit:
                break
    except KeyboardInterrupt:
        pass
    finally:
        try:
            source.close()
            close_all(sinks)
        finally:
            if live is not None:
                live.stop()
    return state


def close_all(sinks: Sequence[Sink]) -> None:
    """Close every sink, then raise the first error one of them raised (if any).

    Raises
    ------
    TinyharError
        A sink could not finish (e.g. write its file); the others are closed.
    """
    errors: list[TinyharError] = []
    for sink in sinks:
        try:
            sink.close()
        except TinyharError as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
