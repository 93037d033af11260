# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar outputs: what the live app does with each prediction.
#
# app_live.main() hands every classified window to a list of outputs. An
# output is any object with
#
#   prediction(t, activity, confidence, probabilities)   # a class
#   invalid(t, reason)                                    # an invalid window
#   close()                                               # app exits
#
# (subclass Output to get empty defaults). t is the window's start time (s),
# activity the class name, confidence the probability of that class (0..1)
# and probabilities a tuple in cfg.CLASSES order. Built in:
#
#   screen  ScreenOutput   the class and confidence on the display
#   led     LedOutput      LED blink (and optional buzzer beep) on class change
#   log     CsvLog         CSV on flash, rotated, with a free-space guard
#   mqtt    MqttOutput     JSON to tinyhar/<device_id>/activity (umqtt.simple)
#   ble     BleOutput      BLE advertisement (class, confidence, sequence; aioble)
#
# Your own code: register a function with on_prediction() before main():
#
#   import app_live, outputs
#   minutes = {}
#   hop_min = app_live.cfg.HOP / app_live.cfg.SAMPLING_RATE_HZ / 60
#   def count(t, activity, confidence, probabilities):
#       minutes[activity] = minutes.get(activity, 0) + hop_min
#   outputs.on_prediction(count)
#   app_live.main()
#
# An exception in a hook is printed (HOOK <name> <error>) and counted; the
# app keeps running.
#
# Settings: tinyhar_outputs.json (written by `tinyhar deploy --outputs ...`,
# no secrets) selects the outputs and their options; tinyhar_secrets.json
# (written by `tinyhar deploy --wifi wifi.toml`, never by `tinyhar export`)
# holds the Wi-Fi and broker settings. Neither the SSID password nor the
# broker password is ever printed.

import json
import time

SETTINGS_FILE = "tinyhar_outputs.json"
SECRETS_FILE = "tinyhar_secrets.json"

# BLE manufacturer data (see ble_manufacturer_data):
BLE_COMPANY_ID = 0xFFFF  # Bluetooth SIG: reserved for tests / not assigned
BLE_MAGIC = 0x54  # "T"
BLE_VERSION = 1
BLE_INVALID_CLASS = 255
BLE_NAME_MAX = 15  # bytes: aioble keeps flags + name + manufacturer data in one packet

_hooks = []


def on_prediction(fn):
    """Register fn(t, activity, confidence, probabilities), called after every class.

    Returns fn, so it works as a decorator. Hooks run in registration order.
    """
    _hooks.append(fn)
    return fn


def clear_hooks():
    """Forget every registered hook."""
    del _hooks[:]


def read_json(path, default=None):
    """The JSON object in path, or default when the file does not exist."""
    try:
        f = open(path)
    except OSError:
        return default
    try:
        return json.load(f)
    finally:
        f.close()


class Output:
    """Base class: every method does nothing."""

    name = "output"

    def prediction(self, t, activity, confidence, probabilities):
        pass

    def invalid(self, t, reason):
        pass

    def close(self):
        pass


class Outputs:
    """A list of outputs used as one; an output that raises is reported and counted."""

    def __init__(self, items=()):
        self.items = list(items)
        self.errors = {}

    def add(self, item):
        self.items.append(item)
        return item

    def _err(self, item, exc):
        name = getattr(item, "name", None) or getattr(item, "__name__", "output")
        n = self.errors.get(name, 0) + 1
        self.errors[name] = n
        if n <= 3 or n % 100 == 0:  # do not flood the console
            print("HOOK %s %s: %s (%d errors)" % (name, type(exc).__name__, exc, n))

    def prediction(self, t, activity, confidence, probabilities):
        for item in self.items:
            try:
                item.prediction(t, activity, confidence, probabilities)
            except Exception as exc:
                self._err(item, exc)
        for fn in _hooks:
            try:
                fn(t, activity, confidence, probabilities)
            except Exception as exc:
                self._err(fn, exc)

    def invalid(self, t, reason):
        for item in self.items:
            try:
                item.invalid(t, reason)
            except Exception as exc:
                self._err(item, exc)

    def close(self):
        for item in self.items:
            try:
                item.close()
            except Exception as exc:
                self._err(item, exc)


# --------------------------------------------------------------------------- screen


class ScreenOutput(Output):
    """The class and its confidence on a display.Display (display.open_display)."""

    name = "screen"

    def __init__(self, screen, clf=None):
        self.screen = screen
        self.clf = clf  # app_live.Classifier: its .ms is shown

    def prediction(self, t, activity, confidence, probabilities):
        lines = ["%.0f%%" % (100 * confidence)]
        if self.clf is not None:
            lines.append("%.0f ms" % self.clf.ms)
        self.screen.show(activity, lines)

    def invalid(self, t, reason):
        self.screen.show("invalid input", ["check sensor"])


# --------------------------------------------------------------------------- LED / buzzer


class LedOutput(Output):
    """Blink an LED (and beep a buzzer) when the activity changes.

    led: a machine.Pin number or an object with value(v) (None: no LED);
    M5StickC PLUS2: red LED on GPIO19, active high. buzzer: a pin number
    for machine.PWM (M5StickC PLUS2: GPIO2) or an object with freq(),
    duty_u16() (None: no buzzer); beep_on: class names that beep (None:
    every change). blink_ms/beep_ms: how long (blocking, keep short).
    """

    name = "led"

    def __init__(self, led=19, buzzer=None, beep_on=None, blink_ms=60, beep_ms=120,
                 beep_hz=2000, active_low=False):
        self.led = self._pin(led) if isinstance(led, int) else led
        self.buzzer = self._pwm(buzzer) if isinstance(buzzer, int) else buzzer
        self.beep_on = None if beep_on is None else tuple(beep_on)
        self.blink_ms = blink_ms
        self.beep_ms = beep_ms
        self.beep_hz = beep_hz
        self.on = 0 if active_low else 1
        self.last = None
        self.changes = 0
        self._set(False)

    @staticmethod
    def _pin(n):
        from machine import Pin

        return Pin(n, Pin.OUT)

    @staticmethod
    def _pwm(n):
        from machine import PWM, Pin

        pwm = PWM(Pin(n))
        pwm.duty_u16(0)
        return pwm

    def _set(self, lit):
        if self.led is not None:
            self.led.value(self.on if lit else 1 - self.on)

    def _sleep(self, ms):
        if ms > 0 and hasattr(time, "sleep_ms"):
            time.sleep_ms(ms)

    def prediction(self, t, activity, confidence, probabilities):
        if activity == self.last:
            return
        first = self.last is None
        self.last = activity
        if first:
            return  # the first class is not a change
        self.changes += 1
        self._set(True)
        if self.buzzer is not None and (self.beep_on is None or activity in self.beep_on):
            self.buzzer.freq(self.beep_hz)
            self.buzzer.duty_u16(32768)
            self._sleep(self.beep_ms)
            self.buzzer.duty_u16(0)
        self._sleep(self.blink_ms)
        self._set(False)

    def invalid(self, t, reason):
        self.last = None

    def close(self):
        self._set(False)
        if self.buzzer is not None:
            self.buzzer.duty_u16(0)


# --------------------------------------------------------------------------- CSV log


def _csv_field(text):
    # one CSV field (RFC 4180): quoted, with its quotes doubled, when it holds a
    # comma, a quote or a line break; as it is otherwise
    for ch in ',"\r\n':
        if ch in text:
            return '"' + text.replace('"', '""') + '"'
    return text


class CsvLog(Output):
    """Predictions appended to a CSV file on flash, rotated, never filling the filesystem.

    Policy: the current file ``path`` grows to at most ``max_bytes``; then it
    is renamed ``path.1`` (``path.1`` -> ``path.2`` ... and the oldest beyond
    ``keep`` deleted), so the logs take at most (keep + 1) * max_bytes. Before
    a line is written, if the filesystem would keep less than
    ``min_free_bytes`` free, the oldest rotated file is deleted; with none
    left, logging pauses (LOG paused ... is printed once, ``skipped`` counts
    the lines not written) and resumes when space is free again. Every line
    is flushed, so a reset loses nothing. Columns: t_start_s, class, one
    probability per class (an invalid window: cfg.INVALID_CLASS and empty
    probabilities); a class name with a comma, a quote or a line break is
    quoted as CSV (RFC 4180).
    """

    name = "log"

    def __init__(self, path, classes, invalid_class="invalid", max_bytes=256 * 1024, keep=3,
                 min_free_bytes=64 * 1024, statvfs=None):
        import os

        self.os = os
        self.path = path
        self.header = "t_start_s,class," + ",".join([_csv_field(c) for c in classes]) + "\n"
        self.fields = {c: _csv_field(c) for c in classes}
        self.n_classes = len(classes)
        self.invalid_class = invalid_class
        self.max_bytes = max(int(max_bytes), len(self.header) + 256)
        self.keep = int(keep)
        self.min_free = int(min_free_bytes)
        self.statvfs = statvfs if statvfs is not None else getattr(os, "statvfs", None)
        self.rotations = 0
        self.skipped = 0
        self.written = 0
        self.paused = False
        self.f = None
        try:
            self.size = os.stat(path)[6]
        except OSError:
            self.size = 0

    def _free(self):
        if self.statvfs is None:
            return None
        try:
            st = self.statvfs(self._dir())
        except OSError:
            return None
        return st[0] * st[4]  # f_bsize * f_bavail

    def _dir(self):
        i = self.path.rfind("/")
        return self.path[:i] if i > 0 else ("/" if i == 0 else ".")

    def _exists(self, p):
        try:
            self.os.stat(p)
            return True
        except OSError:
            return False

    def _remove(self, p):
        try:
            self.os.remove(p)
        except OSError:
            pass

    def rotated(self):
        """Names of the rotated files that exist, newest first."""
        return [self.path + ".%d" % i for i in range(1, self.keep + 1)
                if self._exists(self.path + ".%d" % i)]

    def _rotate(self):
        if self.f is not None:
            self.f.close()
            self.f = None
        if self.keep <= 0:
            self._remove(self.path)
        else:
            self._remove(self.path + ".%d" % self.keep)
            for i in range(self.keep - 1, 0, -1):
                if self._exists(self.path + ".%d" % i):
                    self.os.rename(self.path + ".%d" % i, self.path + ".%d" % (i + 1))
            if self._exists(self.path):
                self.os.rename(self.path, self.path + ".1")
        self.size = 0
        self.rotations += 1

    def _room(self, n):
        # free space for n more bytes while keeping min_free: delete old logs first
        free = self._free()
        if free is None:
            return True
        while free - n < self.min_free:
            old = self.rotated()
            if not old:
                return False
            self._remove(old[-1])
            free = self._free()
            if free is None:
                return True
        return True

    def write(self, line):
        """Append one line (ending in a newline); False when it was skipped."""
        extra = len(line) + (len(self.header) if self.size == 0 else 0)
        if self.size > 0 and self.size + len(line) > self.max_bytes:
            self._rotate()
            extra = len(line) + len(self.header)
        if not self._room(extra):
            self.skipped += 1
            if not self.paused:
                self.paused = True
                print("LOG paused: less than %d bytes would stay free on the filesystem"
                      % self.min_free)
            return False
        if self.paused:
            self.paused = False
            print("LOG resumed after %d skipped lines" % self.skipped)
        if self.f is None:
            self.f = open(self.path, "a")
        if self.size == 0:
            self.f.write(self.header)
            self.size += len(self.header)
        self.f.write(line)
        self.f.flush()
        self.size += len(line)
        self.written += 1
        return True

    def prediction(self, t, activity, confidence, probabilities):
        name = self.fields.get(activity)
        if name is None:
            name = _csv_field(activity)
        self.write("%.4f,%s,%s\n" % (t, name, ",".join(["%.4f" % p for p in probabilities])))

    def invalid(self, t, reason):
        self.write("%.4f,%s%s\n" % (t, self.invalid_class, "," * self.n_classes))

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


# --------------------------------------------------------------------------- MQTT


def device_id():
    """This board's id: hex of machine.unique_id(), or "unix" without one."""
    try:
        import binascii

        import machine

        return binascii.hexlify(machine.unique_id()).decode()
    except Exception:
        return "unix"


def model_id(path="model.bin"):
    """CRC-32 of the model file in hex (the same as zlib.crc32 on the laptop)."""
    import binascii

    crc = 0
    try:
        f = open(path, "rb")
    except OSError:
        return "unknown"
    try:
        while True:
            chunk = f.read(1024)
            if not chunk:
                break
            crc = binascii.crc32(chunk, crc)
    finally:
        f.close()
    return "%08x" % (crc & 0xFFFFFFFF)


def payload_json(t, activity, confidence, probabilities, classes, model, seq):
    """The MQTT message of one prediction (bytes of a JSON object).

    {"t": s, "activity": name, "confidence": 0..1, "probabilities":
    {class: p}, "model": id, "seq": n}; an invalid window has confidence 0
    and empty probabilities.
    """
    # written by hand: MicroPython dicts do not keep the class order
    probs = ", ".join(["%s: %.4f" % (json.dumps(classes[i]), probabilities[i])
                       for i in range(len(probabilities))])
    return ('{"t": %.4f, "activity": %s, "confidence": %.4f, "probabilities": {%s}, '
            '"model": %s, "seq": %d}' % (t, json.dumps(activity), confidence, probs,
                                         json.dumps(model), seq)).encode()


def connect_wifi(ssid, password, timeout_s=20):
    """Join a Wi-Fi network (boards with `network`); True when connected.

    The password is never printed. On ports without `network` (unix) this
    returns True at once.
    """
    try:
        import network
    except ImportError:
        return True
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    if wlan.isconnected():
        return True
    print("WIFI connecting to %s" % ssid)
    wlan.connect(ssid, password)
    t0 = time.ticks_ms()
    while not wlan.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_s * 1000:
            print("WIFI could not join %s within %d s" % (ssid, timeout_s))
            return False
        time.sleep_ms(200)
    print("WIFI connected, address %s" % wlan.ifconfig()[0])
    return True


class MqttOutput(Output):
    """Every prediction published as JSON to <prefix>/<device_id>/activity.

    secrets: dict (tinyhar_secrets.json) with "mqtt": {"host", "port", "user",
    "password"} and optionally "wifi": {"ssid", "password"}; settings: dict
    with qos (0 or 1), prefix ("tinyhar"), device_id (default:
    device_id()), model (default: model_id()), home_assistant (publish the
    discovery config), reconnect_min_s, reconnect_max_s, keepalive_s,
    socket_timeout_s (5: longest wait for the broker's PUBACK).

    A failed publish (broker gone, Wi-Fi lost) drops that prediction,
    counts it in ``dropped`` and closes the connection; reconnection is
    tried before later predictions, at most every reconnect_min_s doubling
    up to reconnect_max_s (exponential back-off), so the classifier never
    blocks on the network for long. After a reconnection the app prints
    ``MQTT reconnected after <n> dropped``; close() prints
    ``MQTT sent=<n> dropped=<n> reconnects=<n>``. The payload's seq counts
    every prediction, so subscribers see gaps. A retained "online"/"offline"
    (last will) goes to <prefix>/<device_id>/status.
    """

    name = "mqtt"

    def __init__(self, secrets, classes, settings=None, client_factory=None,
                 invalid_class="invalid"):
        settings = settings or {}
        self.invalid_class = invalid_class
        broker = (secrets or {}).get("mqtt") or {}
        if not broker.get("host"):
            raise ValueError("no MQTT broker: %s needs \"mqtt\": {\"host\": ...}" % SECRETS_FILE)
        self.host = broker["host"]
        self.port = int(broker.get("port", 1883))
        self._user = broker.get("user") or None
        self._password = broker.get("password") or None
        self.wifi = (secrets or {}).get("wifi")
        self.classes = tuple(classes)
        self.qos = int(settings.get("qos", 1))
        if self.qos not in (0, 1):
            raise ValueError("MQTT qos must be 0 or 1, not %r" % (self.qos,))
        self.device = settings.get("device_id") or device_id()
        prefix = settings.get("prefix", "tinyhar")
        self.topic = ("%s/%s/activity" % (prefix, self.device)).encode()
        self.status_topic = ("%s/%s/status" % (prefix, self.device)).encode()
        self.model = settings.get("model") or model_id()
        self.discovery = bool(settings.get("home_assistant", False))
        self.min_s = float(settings.get("reconnect_min_s", 1.0))
        self.max_s = float(settings.get("reconnect_max_s", 60.0))
        self.keepalive = int(settings.get("keepalive_s", 60))
        self.sock_timeout = float(settings.get("socket_timeout_s", 5.0))
        self.factory = client_factory
        self.client = None
        self.seq = 0
        self.sent = 0
        self.dropped = 0
        self.gap = 0
        self.reconnects = 0
        self.connects = 0
        self.backoff = self.min_s
        self.next_try = time.ticks_ms()
        self._wifi_ok = False
        self._try_connect()

    def _make_client(self):
        if self.factory is not None:
            return self.factory(self)
        from umqtt.simple import MQTTClient

        return MQTTClient(("tinyhar-" + self.device).encode(), self.host, self.port,
                          user=self._user, password=self._password, keepalive=self.keepalive)

    def _try_connect(self):
        now = time.ticks_ms()
        if time.ticks_diff(now, self.next_try) < 0:
            return False
        client = None
        try:
            if self.wifi and not self._wifi_ok:
                self._wifi_ok = connect_wifi(self.wifi.get("ssid", ""),
                                             self.wifi.get("password", ""))
                if not self._wifi_ok:
                    raise OSError("no Wi-Fi")
            client = self._make_client()
            client.set_last_will(self.status_topic, b"offline", retain=True)
            client.connect()
            try:  # a broker that stops answering: the PUBACK wait ends with an OSError
                client.sock.settimeout(self.sock_timeout)
            except Exception:
                pass
            client.publish(self.status_topic, b"online", retain=True)
            if self.discovery:
                self._publish_discovery(client)
        except Exception as exc:
            self._close_sock(client)
            self._wifi_ok = False
            self.next_try = time.ticks_add(now, int(self.backoff * 1000))
            if self.connects == 0 and self.reconnects == 0 and self.dropped == 0:
                print("MQTT cannot reach %s:%d (%s); retrying in %.1f s"
                      % (self.host, self.port, exc, self.backoff))
            self.backoff = min(self.backoff * 2, self.max_s)
            return False
        self.client = client
        if self.connects > 0:
            self.reconnects += 1
            print("MQTT reconnected after %d dropped" % self.gap)
        else:
            print("MQTT connected to %s:%d, topic %s" % (self.host, self.port,
                                                         self.topic.decode()))
        self.connects += 1
        self.gap = 0
        self.backoff = self.min_s
        return True

    def _publish_discovery(self, client):
        # Home Assistant MQTT discovery: the activity and its confidence as sensors
        dev = {"identifiers": ["tinyhar_" + self.device], "name": "tinyhar " + self.device,
               "manufacturer": "tinyhar", "model": self.model}
        common = {"state_topic": self.topic.decode(),
                  "availability_topic": self.status_topic.decode(), "device": dev}
        for key, name, tmpl, extra in (
            ("activity", "Activity", "{{ value_json.activity }}",
             {"json_attributes_topic": self.topic.decode(),
              "json_attributes_template": "{{ value_json.probabilities | tojson }}"}),
            ("confidence", "Activity confidence",
             "{{ (value_json.confidence * 100) | round(0) }}", {"unit_of_measurement": "%"}),
        ):
            cfg = {"name": name, "unique_id": "tinyhar_%s_%s" % (self.device, key),
                   "value_template": tmpl}
            cfg.update(common)
            cfg.update(extra)
            topic = "homeassistant/sensor/tinyhar_%s/%s/config" % (self.device, key)
            client.publish(topic.encode(), json.dumps(cfg).encode(), retain=True)

    @staticmethod
    def _close_sock(client):
        sock = getattr(client, "sock", None)
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass

    def _close_client(self):
        self._close_sock(self.client)
        self.client = None

    def _send(self, msg):
        self.seq += 1
        if self.client is None and not self._try_connect():
            self.dropped += 1
            self.gap += 1
            return False
        try:
            self.client.publish(self.topic, msg, qos=self.qos)
        except Exception:
            self._close_client()
            self.dropped += 1
            self.gap += 1
            self.next_try = time.ticks_ms()  # reconnect at the next prediction
            return False
        self.sent += 1
        return True

    def prediction(self, t, activity, confidence, probabilities):
        self._send(payload_json(t, activity, confidence, probabilities, self.classes,
                                self.model, self.seq + 1))

    def invalid(self, t, reason):
        self._send(payload_json(t, self.invalid_class, 0.0, (), self.classes, self.model,
                                self.seq + 1))

    def close(self):
        if self.client is not None:
            try:
                self.client.publish(self.status_topic, b"offline", retain=True)
                self.client.disconnect()
            except Exception:
                pass
            self.client = None
        print("MQTT sent=%d dropped=%d reconnects=%d" % (self.sent, self.dropped,
                                                        self.reconnects))


# --------------------------------------------------------------------------- BLE


def ble_manufacturer_data(class_index, confidence, seq):
    """The 10-byte manufacturer-specific AD structure of one prediction.

    Byte layout (little-endian):
      0     length of the rest (9)
      1     AD type 0xFF (manufacturer specific data)
      2-3   company id 0xFFFF (not assigned: tests and prototypes)
      4     magic 0x54 ("T")
      5     layout version (1)
      6     class index in cfg.CLASSES (255: invalid window)
      7     confidence, round(confidence * 255) (0..255)
      8-9   sequence number, counts predictions modulo 65536
    Decoded on the laptop by tinyhar.outputs.ble.decode. BleOutput hands
    bytes 4-9 to aioble as manufacturer=(0xFFFF, bytes 4-9); aioble writes
    bytes 0-3.
    """
    c = int(confidence * 255 + 0.5)
    c = 0 if c < 0 else (255 if c > 255 else c)
    k = BLE_INVALID_CLASS if class_index < 0 else int(class_index)
    s = int(seq) & 0xFFFF
    return bytes((9, 0xFF, BLE_COMPANY_ID & 0xFF, BLE_COMPANY_ID >> 8, BLE_MAGIC, BLE_VERSION,
                  k & 0xFF, c, s & 0xFF, s >> 8))


def ble_name(name):
    """The local name as advertised: UTF-8, cut to BLE_NAME_MAX (15) bytes, whole characters."""
    if not isinstance(name, str):
        return bytes(name)[:BLE_NAME_MAX]
    while len(name.encode()) > BLE_NAME_MAX:
        name = name[:-1]
    return name.encode()


def ble_advertisement(class_index, confidence, seq, name="tinyhar"):
    """The advertising data of one prediction, byte for byte what BleOutput sends.

    AD structures, in aioble.advertise's order: flags 02 01 06 (LE general
    discoverable, BR/EDR not supported), the complete local name (ble_name:
    at most 15 bytes) and the manufacturer data (ble_manufacturer_data):
    at most 3 + 17 + 10 = 30 bytes. aioble puts an AD structure into the
    advertising data only while that stays under 31 bytes and moves the rest
    into the scan response, which passive scanners never request: a name of
    at most 15 bytes keeps the prediction in the advertisement itself.
    """
    nm = ble_name(name)
    return (bytes((2, 0x01, 0x06, len(nm) + 1, 0x09)) + nm
            + ble_manufacturer_data(class_index, confidence, seq))


class BleOutput(Output):
    """Advertise each prediction over BLE with aioble (micropython-lib).

    Every prediction (and invalid window) replaces the advertisement:
    non-connectable, every interval_ms, with the local name (name, default
    "thar-" + the last 4 hex digits of the device id; cut to 15 bytes) and
    the manufacturer data of ble_manufacturer_data, so the advertising data
    is exactly ble_advertisement(class, confidence, seq, name) and decodes
    with tinyhar.outputs.ble.decode. seq counts predictions from 1, modulo
    65536: a scanner sees how many it missed.

    aioble is asyncio-based: aioble.advertise(...) starts advertising
    (bluetooth.BLE.gap_advertise) before its first await and then waits for
    a central to connect, which never happens here; cancelling that task
    stops the advertising. The app's loop is synchronous, so each
    prediction runs asyncio just long enough to cancel the previous
    advertising task (aioble calls gap_advertise(None)) and to start the
    next one, and returns: the advertising itself runs in the Bluetooth
    controller, the classifier never waits for it. When the app already runs
    under asyncio (your own main with other aioble tasks), the switch is a
    task of that loop instead. close() stops advertising. Needs aioble in
    /lib (tinyhar deploy --outputs ble copies or installs it).
    """

    name = "ble"

    def __init__(self, classes, name=None, interval_ms=200):
        try:
            import aioble
        except ImportError:
            raise ImportError("the ble output needs aioble (micropython-lib) in /lib: "
                              "tinyhar deploy --outputs ble, or mpremote mip install "
                              "aioble-peripheral") from None
        import asyncio

        from aioble.core import ensure_active

        ensure_active()  # switch the radio on now, not at the first prediction

        self.aioble = aioble
        self.asyncio = asyncio
        self.classes = tuple(classes)
        self.local_name = ble_name(name or ("thar-" + device_id()[-4:]))
        self.interval_us = int(interval_ms) * 1000
        self.seq = 0
        self.task = None  # the aioble.advertise task now advertising
        self._want = None  # bytes 4-9 of the manufacturer data to advertise next; None: stop
        self._dirty = False
        self._busy = False
        self._started = False
        self._error = None

    async def _advertise(self, payload):
        self._started = True  # aioble.advertise calls gap_advertise before it first waits
        try:
            await self.aioble.advertise(self.interval_us, name=self.local_name,
                                        manufacturer=(BLE_COMPANY_ID, payload),
                                        connectable=False)
        except Exception as exc:  # a cancel ends it normally: aioble stops advertising
            self._error = exc

    async def _switch(self):
        asyncio = self.asyncio
        try:
            while self._dirty:
                self._dirty = False
                if self.task is not None:
                    self.task.cancel()
                    await self.task
                    self.task = None
                if self._want is not None:
                    self._started = False
                    self.task = asyncio.create_task(self._advertise(self._want))
                    while not self._started:
                        await asyncio.sleep_ms(0)
        finally:
            self._busy = False

    def _set(self, payload):
        self._want = payload
        self._dirty = True
        if self._busy:
            return  # the running switch picks it up
        self._busy = True
        try:
            self.asyncio.current_task()
            in_loop = True
        except RuntimeError:  # no event loop running: the app's own loop
            in_loop = False
        if in_loop:
            self.asyncio.create_task(self._switch())
        else:
            self.asyncio.run(self._switch())
        err, self._error = self._error, None
        if err is not None:
            raise err

    def _advertise_class(self, k, confidence):
        self.seq = (self.seq + 1) & 0xFFFF
        self._set(ble_manufacturer_data(k, confidence, self.seq)[4:])

    def prediction(self, t, activity, confidence, probabilities):
        self._advertise_class(self.classes.index(activity), confidence)

    def invalid(self, t, reason):
        self._advertise_class(-1, 0.0)

    def close(self):
        self._set(None)


# --------------------------------------------------------------------------- factory


def open_outputs(cfg, names=None, screen=None, clf=None, log_path=None, settings=None,
                 secrets=None):
    """The Outputs of an app run.

    names: output names ("screen", "led", "log", "mqtt", "ble") or objects
    (default: settings["outputs"] from tinyhar_outputs.json, else
    ("screen",)); a log_path adds "log". settings: per-output options
    (settings["led"], ["log"], ["mqtt"], ["ble"]; default from
    tinyhar_outputs.json); secrets: default from tinyhar_secrets.json.
    """
    if settings is None:
        settings = read_json(SETTINGS_FILE, {})
    if names is None:
        names = settings.get("outputs", ("screen",))
    names = list(names)
    if log_path and "log" not in names:
        names.append("log")
    out = Outputs()
    for n in names:
        if not isinstance(n, str):
            out.add(n)
        elif n == "screen":
            if screen is not None:
                out.add(ScreenOutput(screen, clf))
        elif n == "led":
            out.add(LedOutput(**settings.get("led", {})))
        elif n == "log":
            opts = dict(settings.get("log", {}))
            path = log_path or opts.pop("path", "har_log.csv")
            opts.pop("path", None)
            out.add(CsvLog(path, cfg.CLASSES, cfg.INVALID_CLASS, **opts))
        elif n == "mqtt":
            if secrets is None:
                secrets = read_json(SECRETS_FILE, None)
            if secrets is None:
                raise ValueError("mqtt needs %s (tinyhar deploy --wifi wifi.toml)" % SECRETS_FILE)
            out.add(MqttOutput(secrets, cfg.CLASSES, settings.get("mqtt", {}),
                               invalid_class=cfg.INVALID_CLASS))
        elif n == "ble":
            out.add(BleOutput(cfg.CLASSES, **settings.get("ble", {})))
        else:
            raise ValueError("unknown output %r; known: screen, led, log, mqtt, ble" % (n,))
    return out
