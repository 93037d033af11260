# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar recording app for MicroPython: record labelled IMU data on the board.
#
#   import app_record; app_record.main()                        # M5StickC PLUS2, MPU6886
#   app_record.main(replay="rec.csv", buttons=ScriptButtons(...))  # unix port, replayed IMU
#
# Buttons (M5StickC PLUS2; both active low):
#   B (side, GPIO39)   next class (names from classes.txt, one per line, else the deployed
#                      model's classes; not while recording)
#   A (front, GPIO37)  start / stop a recording of the chosen class
# The screen shows the class, the recording time, and the free and used flash.
#
# Each recording is a new pair of files in `folder` (default "rec"):
#   rec_001.csv    header "time,acc_x,acc_y,acc_z,gyro_x,gyro_y,gyro_z", one row per
#                  sample: time in s since the start, acceleration in g, angular rate
#                  in rad/s (the layout sensor.ReplaySensor and tinyhar read)
#   rec_001.json   sidecar: sampling_rate_hz, units, channels, sensor, board, class,
#                  start time, firmware and tinyhar versions, n_samples, duration_s,
#                  complete (false for a recording recovered after a power cut), classes
#                  (the class list of classes.txt when it was recorded)
# While recording, samples go to rec_001.csv.part (flushed every second); stopping
# writes the sidecar to rec_001.json.part, renames it to rec_001.json, then renames
# the CSV: an interrupted recording never touches earlier files. At start-up, a
# leftover .csv.part (power cut, crash) is kept: its complete rows become
# rec_NNN.csv with a sidecar saying "complete": false, and its number is not reused.
#
# A recording refuses to start when the free flash holds less than `min_free_s`
# seconds of data (ROW_BYTES per sample): the screen says so and the app prints
#   REFUSED <free_bytes> <needed_bytes>
# Other lines printed for the host (tinyhar recordings pull, tests):
#   START <name> <class>
#   STOP <name> <class> <n_samples> <duration_s>
#   RECOVERED <name> <n_samples>

import json
import os
import sys
import time

CHANNELS = ("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")
UNITS = {"time": "s", "acc": "g", "gyro": "rad/s"}
ROW_BYTES = 72
"""Upper bound of one CSV row's bytes ("%.3f" time and six "%.5f" values, commas)."""
BOARD = "M5StickC PLUS2"
SENSOR = "MPU6886"
BUTTON_A_PIN = 37
BUTTON_B_PIN = 39
POWER_HOLD_PIN = 4
I2C_SDA = 21
I2C_SCL = 22
PREFIX = "rec_"


class ScriptButtons:
    """Button presses at given sample counts (unix port, tests): [(n, "A" or "B"), ...]."""

    def __init__(self, events):
        self.events = sorted(events)
        self.i = 0

    def poll(self, n):
        """The button pressed at sample n, or None."""
        if self.i < len(self.events) and self.events[self.i][0] <= n:
            self.i += 1
            return self.events[self.i - 1][1]
        return None


class PinButtons:
    """The board's buttons A and B (active low); one event per press (falling edge)."""

    def __init__(self, a=BUTTON_A_PIN, b=BUTTON_B_PIN):
        from machine import Pin

        self.pins = (("A", Pin(a, Pin.IN)), ("B", Pin(b, Pin.IN)))
        self.last = {name: 1 for name, _ in self.pins}

    def poll(self, n):
        for name, pin in self.pins:
            v = pin.value()
            pressed = self.last[name] == 1 and v == 0
            self.last[name] = v
            if pressed:
                return name
        return None


def read_classes(path="classes.txt"):
    """Class names, one per line (blank lines and lines starting with # skipped).

    Without the file, the classes of the deployed model (tinyhar_config.CLASSES).
    """
    try:
        f = open(path)
    except OSError:
        try:
            import tinyhar_config

            return list(tinyhar_config.CLASSES)
        except ImportError:
            raise ValueError("%s not found and no model deployed: write one class name per "
                             "line into %s" % (path, path)) from None
    with f:
        names = [line.strip() for line in f]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ValueError("%s names no class; write one class name per line" % path)
    return names


def firmware_version():
    impl = sys.implementation
    version = ".".join([str(v) for v in impl.version[:3]])
    try:
        release = os.uname().release
    except AttributeError:
        release = sys.platform
    return "%s %s (%s)" % (impl.name, version, release)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _iso_now():
    t = time.localtime()
    return "%04d-%02d-%02dT%02d:%02d:%02d" % t[:6]


class Recorder:
    """Writes recordings of one class at a time into `folder` (see the top of this file).

    rate_hz: the sensor's sampling rate; min_free_s: refuse to start with less free
    flash than this many seconds of data; free_bytes: a function giving the free
    bytes (default: os.statvfs of the folder); tinyhar_version and classes (the class
    list offered on the board): kept in sidecars.
    """

    def __init__(self, folder="rec", rate_hz=50.0, min_free_s=60, free_bytes=None,
                 tinyhar_version="unknown", board=BOARD, sensor=SENSOR, channels=CHANNELS,
                 classes=None):
        self.folder = folder
        self.rate = float(rate_hz)
        self.min_free_s = min_free_s
        self._free = free_bytes
        self.meta = {"tinyhar_version": tinyhar_version, "board": board, "sensor": sensor,
                     "firmware": firmware_version()}
        if classes is not None:
            self.meta["classes"] = list(classes)
        self.channels = tuple(channels)
        self.f = None
        self.name = None
        self.label = None
        self.n = 0
        self.started = None
        if not _exists(folder):
            os.mkdir(folder)
        self.recover()

    def path(self, name, ext):
        return self.folder + "/" + name + ext

    def free_bytes(self):
        if self._free is not None:
            return self._free()
        st = os.statvfs(self.folder)
        return st[1] * st[4]  # f_frsize * f_bavail

    def used_bytes(self):
        """Bytes the recordings in the folder take."""
        total = 0
        for entry in os.listdir(self.folder):
            total += os.stat(self.path(entry, ""))[6]
        return total

    def needed_bytes(self):
        return int(self.min_free_s * self.rate * ROW_BYTES)

    def next_name(self):
        top = 0
        for entry in os.listdir(self.folder):
            if entry.startswith(PREFIX):
                digits = entry[len(PREFIX):].split(".")[0]
                if digits.isdigit():
                    top = max(top, int(digits))
        return "%s%03d" % (PREFIX, top + 1)

    def recover(self):
        """Turn leftover .csv.part files (power cut) into recordings marked incomplete."""
        for entry in sorted(os.listdir(self.folder)):
            if not entry.endswith(".csv.part"):
                continue
            name = entry[: -len(".csv.part")]
            part = self.path(name, ".csv.part")
            good = self.path(name, ".csv.tmp")
            n = 0
            with open(part) as src, open(good, "w") as dst:
                header = src.readline()
                dst.write(header)
                for line in src:
                    # a row cut by the power cut has no newline or too few fields
                    if line.endswith("\n") and line.count(",") == len(self.channels):
                        dst.write(line)
                        n += 1
                    else:
                        break
            label = None
            if _exists(self.path(name, ".json.part")):
                try:
                    with open(self.path(name, ".json.part")) as f:
                        label = json.load(f).get("class")
                except ValueError:
                    label = None
                os.remove(self.path(name, ".json.part"))
            self._write_sidecar(name, label, n, None, False)
            os.rename(good, self.path(name, ".csv"))
            os.remove(part)
            print("RECOVERED %s %d" % (name, n))

    def _write_sidecar(self, name, label, n, start, complete):
        info = {
            "sampling_rate_hz": self.rate, "units": UNITS, "channels": list(self.channels),
            "class": label, "start_time": start, "n_samples": n,
            "duration_s": n / self.rate, "complete": complete,
        }
        info.update(self.meta)
        tmp = self.path(name, ".json.tmp")
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.rename(tmp, self.path(name, ".json"))

    def start(self, label):
        """Open a new recording of `label`; returns its name, or None when flash is short."""
        free, needed = self.free_bytes(), self.needed_bytes()
        if free < needed:
            print("REFUSED %d %d" % (free, needed))
            return None
        self.name = self.next_name()
        self.label = label
        self.n = 0
        self.started = _iso_now()
        # the class goes next to the data at once, for recovery after a power cut
        with open(self.path(self.name, ".json.part"), "w") as f:
            json.dump({"class": label, "start_time": self.started}, f)
        self.f = open(self.path(self.name, ".csv.part"), "w")
        self.f.write("time," + ",".join(self.channels) + "\n")
        print("START %s %s" % (self.name, label))
        return self.name

    def add(self, sample):
        """Append one sample (g, rad/s, in `channels` order)."""
        t = self.n / self.rate
        self.f.write(("%.3f," % t) + ",".join(["%.5f" % v for v in sample]) + "\n")
        self.n += 1
        if self.n % max(1, int(self.rate)) == 0:
            self.f.flush()

    def stop(self):
        """Close the recording: sidecar first, then the CSV under its final name."""
        if self.f is None:
            return None
        self.f.close()
        self.f = None
        name = self.name
        self._write_sidecar(name, self.label, self.n, self.started, True)
        os.remove(self.path(name, ".json.part"))
        os.rename(self.path(name, ".csv.part"), self.path(name, ".csv"))
        print("STOP %s %s %d %.2f" % (name, self.label, self.n, self.n / self.rate))
        self.name = None
        return name

    @property
    def recording(self):
        return self.f is not None


def open_board_sensor(rate_hz):
    """The M5StickC PLUS2's MPU6886 at rate_hz (FIFO-paced)."""
    import sensor
    from machine import I2C, Pin

    try:
        Pin(POWER_HOLD_PIN, Pin.OUT, value=1)
    except Exception:
        pass
    i2c = I2C(0, scl=Pin(I2C_SCL), sda=Pin(I2C_SDA), freq=400000)
    return sensor.MPU6886Sensor(i2c, sampling_rate_hz=rate_hz, fifo=True)


def _default_rate():
    try:
        import tinyhar_config

        return tinyhar_config.SAMPLING_RATE_HZ
    except ImportError:
        return 50.0


def main(replay=None, classes_path="classes.txt", folder="rec", rate_hz=None, buttons=None,
         display=None, min_free_s=60, sensor=None, free_bytes=None, tinyhar_version=None,
         max_samples=None):
    """Run the recording app until the replay ends, max_samples, or Ctrl-C.

    replay: CSV recording to play instead of the IMU (unix port); buttons: an object
    with poll(n) -> "A", "B" or None (default: the board's buttons); rate_hz: default
    the model's rate (tinyhar_config) or 50 Hz. An open recording is closed properly at
    the end (Ctrl-C included). Returns the names of the recordings written.
    """
    from display import open_display

    classes = read_classes(classes_path)
    rate = float(rate_hz or _default_rate())
    if tinyhar_version is None:
        try:
            import tinyhar_config

            tinyhar_version = getattr(tinyhar_config, "TINYHAR_VERSION", "unknown")
        except ImportError:
            tinyhar_version = "unknown"
    screen = open_display("print" if replay is not None and display is None else display)
    if sensor is None:
        if replay is not None:
            import sensor as sensors

            sensor = sensors.ReplaySensor(replay, channels=CHANNELS)
        else:
            sensor = open_board_sensor(rate)
    if buttons is None:
        buttons = PinButtons()
    rec = Recorder(folder, rate, min_free_s, free_bytes, tinyhar_version,
                   channels=tuple(getattr(sensor, "channels", CHANNELS)), classes=classes)
    choice = 0
    written = []
    buf = [0.0] * len(rec.channels)
    count = 0
    period_us = int(1000000 / rate)
    next_t = time.ticks_us() if hasattr(time, "ticks_us") else 0

    def show_idle(note=""):
        kb = (rec.free_bytes() // 1024, rec.used_bytes() // 1024)
        screen.show(classes[choice], ["A: record  B: class", "free %d KB used %d KB" % kb,
                                      note])

    show_idle()
    try:
        while max_samples is None or count < max_samples:
            if getattr(sensor, "realtime", False):
                while time.ticks_diff(time.ticks_us(), next_t) < 0:
                    pass
                next_t = time.ticks_add(next_t, period_us)
            if not sensor.read(buf):
                break
            count += 1
            press = buttons.poll(count)
            if press == "B" and not rec.recording:
                choice = (choice + 1) % len(classes)
                print("CLASS %s" % classes[choice])
                show_idle()
            elif press == "A":
                if rec.recording:
                    written.append(rec.stop())
                    show_idle("saved " + written[-1])
                elif rec.start(classes[choice]) is None:
                    screen.show("flash full", ["need %d KB" % (rec.needed_bytes() // 1024),
                                               "free %d KB" % (rec.free_bytes() // 1024)])
            if rec.recording:
                rec.add(buf)
                if rec.n % int(rate) == 0:
                    s = rec.n // int(rate)
                    screen.show("REC " + classes[choice],
                                ["%02d:%02d" % (s // 60, s % 60),
                                 "free %d KB" % (rec.free_bytes() // 1024)])
    except KeyboardInterrupt:
        pass
    finally:
        if rec.recording:
            written.append(rec.stop())
        sensor.close()
    return written


if __name__ == "__main__":
    main()
