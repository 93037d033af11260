# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar live activity recognition for MicroPython.
#
#   import app_live; app_live.main()                      # M5StickC PLUS2, MPU6886
#   app_live.main(log_path="har_log.csv")                 # + predictions on flash
#   app_live.main(raw_path="raw.csv")                     # + raw samples on flash
#   app_live.main(replay="rec.csv", display="print")      # replay a recording
#   app_live.main(outputs=("screen", "led", "mqtt"))      # see outputs.py
#
# Reads the IMU at the model's sampling rate, cuts windows of cfg.WINDOW
# samples every cfg.HOP samples (the first window ends at sample WINDOW, as
# tinyhar's windowing starts at the first sample), computes the features,
# classifies with the trees, shows the class and prints one line per window:
#
#   PRED <t_start_s> <class> <p_0> ... <p_k-1>
#   POST <t_start_s> <class>    (with post.json: smoothed, a fixed lag later)
#
# t_start_s is the time of the window's first sample (the recording's time
# column when replaying, sample index / rate live) and p_i the class
# probabilities (shares of the integer tree scores). In PRED and POST lines
# a class name has '%' and control characters (line break, tab, ...)
# written as %XX (two hex digits, as in URLs and the C example's output),
# so that a name never breaks a line; spaces and other characters as they
# are (a name runs from the time to the probabilities). A window holding a NaN,
# an infinity or |x| > cfg.MAX_ABS_INPUT (a sensor fault: the input contract
# of tinyhar.features.validity) gets no class: the app prints
#
#   INVALID <t_start_s> <reason>
#
# shows "invalid input", logs the class cfg.INVALID_CLASS with empty
# probabilities, and the next window starts a new recording (stacking).
# Mounting (tinyhar_mounting.py, mounting.json of `tinyhar export/deploy
# --mounting`): every sample is mapped from the board's axes onto the training
# data's before the features, and the first check_s seconds (stand still!)
# are checked against the training data's gravity; the app prints
#
#   MOUNTING ok: ... | MOUNTING off by <deg>: axis <a> reads ... Try mounting ...
#
# and shows it on the screen.
# Each class (and invalid window) then goes to the outputs (outputs.py:
# screen, LED/buzzer, rotated CSV log, MQTT, BLE and the functions
# registered with outputs.on_prediction). CSV logs are opened in append
# mode, flushed after every prediction line (predictions) or every hop (raw
# samples), and closed on exit (Ctrl-C included), so recorded data is not
# lost.

import array
import gc
import sys
import time

import tinyhar_config as cfg
import tinyhar_post
from tinyhar_features import Features, InvalidInput, Stacker
from tinyhar_mounting import GravityCheck, Mapper
from tinyhar_mounting import load as load_mounting
from tinyhar_trees import TreeEnsemble

# M5StickC PLUS2: GPIO4 must stay high to keep the board on when on battery;
# internal I2C bus of the MPU6886.
POWER_HOLD_PIN = 4
I2C_SDA = 21
I2C_SCL = 22


class Classifier:
    """Windows a stream of samples and classifies every hop.

    add(sample, t_s) takes one sample (sequence in cfg.CHANNELS order) and
    returns None, or (t_start_s, class_index, probabilities) when a window
    is complete; for an invalid window (NaN, inf, |x| > cfg.MAX_ABS_INPUT)
    class_index is -1 and probabilities is the reason (a str).
    """

    def __init__(self, model="model.bin"):
        self.fx = Features(cfg)
        self.trees = TreeEnsemble(model)
        self.n = cfg.WINDOW
        self.hop = cfg.HOP
        self.nch = len(cfg.CHANNELS)
        self.base = array.array("f", bytearray(4 * cfg.N_BASE_FEATURES))
        self.stacker = Stacker(cfg.N_BASE_FEATURES) if cfg.STACK_PREVIOUS else None
        self.feats = (array.array("f", bytearray(4 * cfg.N_FEATURES))
                      if self.stacker else self.base)
        # pending samples of the next hop (the window shifts by HOP at once)
        self.pending = [array.array("f", bytearray(4 * self.hop)) for _ in range(self.nch)]
        # time of each sample of the window and of the pending hop (moved in place
        # like the samples: a new list per hop fragments the heap of a long window)
        self.times = array.array("d", bytearray(8 * (self.n + self.hop)))
        self.filled = 0
        self.npend = 0
        self.ms = 0.0
        # the run's post-processing (post.json): smoothed classes, "unknown"
        post = tinyhar_post.load()
        self.timeline = tinyhar_post.Timeline(post) if post is not None else None

    def reset(self):
        self.filled = 0
        self.npend = 0
        if self.stacker is not None:
            self.stacker.reset()

    def add(self, sample, t_s):
        n = self.n
        ch = self.fx.channels
        if self.filled < n:
            i = self.filled
            for c in range(self.nch):
                ch[c][i] = sample[c]
            self.times[i] = t_s
            self.filled += 1
            if self.filled < n:
                return None
        else:
            j = self.npend
            for c in range(self.nch):
                self.pending[c][j] = sample[c]
            self.times[n + j] = t_s
            self.npend += 1
            if self.npend < self.hop:
                return None
            # shift the window by HOP samples and append the pending ones; a
            # hop longer than the window keeps only the last WINDOW of them
            # (the samples between two windows are not used, as in training)
            h = self.hop
            for c in range(self.nch):
                mv = memoryview(ch[c])
                pend = memoryview(self.pending[c])
                if h < n:
                    mv[0:n - h] = mv[h:n]
                    mv[n - h:n] = pend[0:h]
                else:
                    mv[0:n] = pend[h - n:h]
            tv = memoryview(self.times)
            tv[0:n] = tv[h:n + h]
            self.npend = 0
        return self.classify()

    def classify(self):
        t0 = time.ticks_us()
        try:
            self.fx.compute(self.base)
        except InvalidInput as exc:
            if self.stacker is not None:
                self.stacker.reset()  # the next valid window is its own predecessor
            self.ms = time.ticks_diff(time.ticks_us(), t0) / 1000.0
            return self.times[0], -1, str(exc)
        if self.stacker is not None:
            self.stacker.stack(self.base, self.feats)
        k, proba = self.trees.predict_proba(self.feats)
        self.ms = time.ticks_diff(time.ticks_us(), t0) / 1000.0
        return self.times[0], k, proba


def open_sensor(replay=None, fifo=True):
    """The board's MPU6886 (M5StickC PLUS2 pins), or a ReplaySensor for a CSV file."""
    import sensor

    if replay is not None:
        return sensor.ReplaySensor(replay, channels=cfg.CHANNELS)
    from machine import I2C, Pin

    try:
        Pin(POWER_HOLD_PIN, Pin.OUT, value=1)
    except Exception:
        pass
    i2c = I2C(0, scl=Pin(I2C_SCL), sda=Pin(I2C_SDA), freq=400000)
    return sensor.MPU6886Sensor(i2c, sampling_rate_hz=cfg.SAMPLING_RATE_HZ, fifo=fifo)


def _open_log(path, header):
    # append to a CSV log; the header goes in only when the file is new or empty
    if not path:
        return None
    import os

    try:
        size = os.stat(path)[6]
    except OSError:
        size = 0
    f = open(path, "a")
    if size == 0:
        f.write(header + "\n")
        f.flush()
    return f


def _fmt(x):
    return "%.4f" % x


def wire_name(name):
    # a class name for a PRED/POST line: '%' and control characters as %XX
    out = []
    for ch in name:
        o = ord(ch)
        out.append("%%%02X" % o if o < 0x20 or o == 0x7F or ch == "%" else ch)
    return "".join(out)


def _post(clf, window):
    # post-processing: print "POST <t_start_s> <class>" for each decided window
    # (post.json's lag later; "unknown" for rejected ones); window None flushes
    if clf.timeline is None:
        return
    decided = clf.timeline.flush() if window is None else clf.timeline.push(*window)
    for t, name in decided:
        print("POST " + _fmt(t) + " " + wire_name(name))


def main(replay=None, log_path=None, raw_path=None, display=None, model="model.bin",
         max_windows=None, sensor=None, verbose=True, outputs=None, mounting="mounting.json",
         check_s=3.0):
    """Run the live classifier until the replay ends, max_windows, or Ctrl-C.

    replay: CSV recording to play instead of the IMU; log_path: append the
    predictions (t_start_s, class, probabilities) to this CSV file;
    raw_path: append the raw samples (time, channels; in the training data's
    axes, after the mounting) to this CSV file;
    display: None (auto), "m5", "st7789" or "print"; sensor: a sensor object
    to use instead (see sensor.py); outputs: names or objects for
    outputs.open_outputs (default: tinyhar_outputs.json, else the screen);
    mounting: the mounting file (board axes -> training axes; none: as
    recorded); check_s: seconds at the start whose mean gravity is checked
    against the training data's (0: no check).
    Returns the number of windows classified.
    """
    import outputs as outs
    from display import open_display

    if sensor is None:
        sensor = open_sensor(replay)
    names = tuple(getattr(sensor, "channels", cfg.CHANNELS))
    missing = [c for c in cfg.CHANNELS if c not in names]
    if missing:
        raise ValueError("the sensor has no channel(s) %s the model needs" % (missing,))
    mount = load_mounting(mounting) if mounting else None
    mapper = Mapper(mount, names, cfg.CHANNELS)
    check = GravityCheck(mount, mapper, int(check_s * cfg.SAMPLING_RATE_HZ))
    screen = open_display("print" if replay is not None and display is None else display)
    clf = Classifier(model)
    period_us = int(1000000 / cfg.SAMPLING_RATE_HZ)
    fs = cfg.SAMPLING_RATE_HZ
    buf = [0.0] * len(names)
    sample = [0.0] * len(cfg.CHANNELS)
    outputs = outs.open_outputs(cfg, outputs, screen, clf, log_path)
    raw = _open_log(raw_path, "time," + ",".join(cfg.CHANNELS))
    wire = [wire_name(c) for c in cfg.CLASSES]  # class names of the PRED lines
    windows = 0
    count = 0
    next_t = time.ticks_us()
    gc.collect()
    try:
        while True:
            if getattr(sensor, "realtime", False):
                while time.ticks_diff(time.ticks_us(), next_t) < 0:
                    pass
                next_t = time.ticks_add(next_t, period_us)
            if not sensor.read(buf):
                break
            mapper.apply(buf, sample)  # board axes -> the training data's axes
            verdict = check.add(sample)
            if verdict is not None:
                print(verdict[1])
                screen.show("mounting ok" if verdict[0] else "mounting off", verdict[2])
            t_s = sensor.t_s if replay is not None and hasattr(sensor, "t_s") else count / fs
            count += 1
            if raw is not None:
                raw.write(_fmt(t_s) + "," + ",".join(["%.6f" % v for v in sample]) + "\n")
                if count % cfg.HOP == 0:
                    raw.flush()
            res = clf.add(sample, t_s)
            if res is None:
                continue
            t0, k, proba = res
            windows += 1
            if k < 0:
                _post(clf, None)  # the stream restarts after an invalid window
                print("INVALID " + _fmt(t0) + " " + proba)
                outputs.invalid(t0, proba)
                gc.collect()
                if max_windows is not None and windows >= max_windows:
                    break
                continue
            name = cfg.CLASSES[k]
            print("PRED " + _fmt(t0) + " " + wire[k] + " " + " ".join([_fmt(p) for p in proba]))
            if verbose and replay is None:
                print("  %.1f ms, %s %.0f%%" % (clf.ms, name, 100 * proba[k]))
            outputs.prediction(t0, name, proba[k], proba)
            _post(clf, (t0, proba, clf.feats))
            gc.collect()
            if max_windows is not None and windows >= max_windows:
                break
    except KeyboardInterrupt:
        pass
    finally:
        _post(clf, None)
        if raw is not None:
            raw.close()
        outputs.close()
        sensor.close()
    return windows


if __name__ == "__main__":
    args = sys.argv[1:]
    main(replay=args[0] if args else None)
