# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar on-device test: classify the stored test windows and print the
# accuracy, the agreement with the Python pipeline and the time per window.
#
#   import app_test; app_test.run()
#
# testdata.bin layout (little-endian), written by tinyhar's exporter:
#   header '<4sIHHHH': magic b'THW1', n_windows, n_samples, n_channels,
#           export format version, sample_bytes (4 or 2)
#   sample_bytes 2 only: int8 exp[n_channels] (a sample q is q * 2**exp)
#   windows, channel-major (float32, or int16 for sample_bytes 2): window 0
#           channel 0 (n_samples values), window 0 channel 1, ...
#   uint8 labels[n_windows]    class index of the true label (255 = unknown)
#   uint16 sessions[n_windows] session code (stacking restarts at a change)
#   uint8 expected[n_windows]  the Python pipeline's prediction (255 = unknown)
#
# The last printed line is machine-readable: "TINYHAR_RESULT {json}".
# A window with a NaN, an infinity or |x| > cfg.MAX_ABS_INPUT is invalid
# (tinyhar_features.InvalidInput): it is counted ("invalid"), its predicted
# class index is 255, its features are NaN, and the next window starts a new
# session for stacking (as the live app and the C stream do).

import array
import gc
import json
import struct
import time

import tinyhar_config as cfg
from tinyhar_features import Features, InvalidInput, Stacker
from tinyhar_trees import TreeEnsemble

# mirrors of tinyhar.export.formats (TESTDATA_MAGIC, TESTDATA_HEADER,
# TESTDATA_HEADER_SIZE); tests/export/test_formats.py checks that they agree
MAGIC = b"THW1"
HEADER = "<4sIHHHH"
HEADER_SIZE = 16
INVALID = 255  # predicted class index of an invalid window


def _read_tail(f, n, offset):
    f.seek(offset)
    labels = bytearray(f.read(n))
    sessions = array.array("H", bytearray(2 * n))
    f.readinto(sessions)
    expected = bytearray(f.read(n))
    return labels, sessions, expected


def _dequantize(f, qbuf, dest, scale):
    # one channel of an int16 window into the float32 signal buffer
    f.readinto(qbuf)
    for j in range(len(qbuf)):
        dest[j] = qbuf[j] * scale


def run(path="testdata.bin", model="model.bin", features_out=None, timing=False,
        verbose=True, limit=None, repeat=1):
    """Classify the windows of `path`; return a dict of results.

    features_out: write each window's features (float32) and, after them,
    the predicted class indices (uint8) to this file (host parity checks).
    timing: also time each feature group (adds a few ticks_us calls).
    limit: only the first `limit` windows.
    repeat: compute each window `repeat` times and keep the fastest (per
    group too), to measure the cost without interruptions by other processes.
    The garbage collector runs between windows, outside the timed part, as
    the live app does while it waits for samples (not with features_out).
    """
    gc.collect()
    fx = Features(cfg)
    trees = TreeEnsemble(model)
    stacker = Stacker(cfg.N_BASE_FEATURES) if cfg.STACK_PREVIOUS else None
    base = array.array("f", bytearray(4 * cfg.N_BASE_FEATURES))
    feats = array.array("f", bytearray(4 * cfg.N_FEATURES)) if stacker else base
    timer = {} if timing else None
    with open(path, "rb") as f:
        head = f.read(HEADER_SIZE)
        magic, n, n_samples, n_channels, version = struct.unpack(HEADER[:-1], head[:-2])
        if magic != MAGIC:
            raise ValueError("not a tinyhar test-data file: " + path)
        if version != cfg.EXPORT_FORMAT_VERSION:
            raise ValueError("%s is export format %d, tinyhar_config.py format %d: export "
                             "the run again" % (path, version, cfg.EXPORT_FORMAT_VERSION))
        if n_samples != cfg.WINDOW or n_channels != len(cfg.CHANNELS):
            raise ValueError("test windows do not match the model's window/channels")
        sample_bytes = struct.unpack("<H", head[-2:])[0]
        data_start = HEADER_SIZE
        scale = None
        if sample_bytes == 2:  # int16 samples, one power-of-two scale per channel
            scale = [2.0 ** e for e in struct.unpack("<%db" % n_channels, f.read(n_channels))]
            data_start += n_channels
            qbuf = array.array("h", bytearray(2 * n_samples))
        elif sample_bytes != 4:
            raise ValueError("%s: unknown sample size %d" % (path, sample_bytes))
        labels, sessions, expected = _read_tail(
            f, n, data_start + sample_bytes * n * n_samples * n_channels)
        if limit is not None and limit < n:
            n = limit
        preds = bytearray(n)
        out = open(features_out, "wb") if features_out else None
        correct = 0
        invalid = 0
        nan_feats = array.array("f", [float("nan")] * cfg.N_FEATURES)
        labelled = 0
        agree = 0
        compared = 0
        busy_us = 0
        gc_us = 0
        # process CPU time (unix port): unaffected by other processes; its
        # 1 ms steps average out over many windows
        clock = getattr(time, "clock", None)
        cpu_s = 0.0
        # collect garbage between windows (outside the timed part), as the
        # live app does while it waits for samples; not for bulk feature dumps
        collect = timing or features_out is None
        session = -1
        f.seek(data_start)
        try:
            for i in range(n):
                for c in range(n_channels):
                    if scale is None:
                        f.readinto(fx.channels[c])
                    else:
                        _dequantize(f, qbuf, fx.channels[c], scale[c])
                best = None
                for _r in range(repeat):
                    if collect:
                        tg = time.ticks_us()
                        gc.collect()
                        if _r == 0:
                            gc_us += time.ticks_diff(time.ticks_us(), tg)
                    t = {} if timer is not None else None
                    if clock is not None:
                        c0 = clock()
                    t0 = time.ticks_us()
                    try:
                        fx.compute(base, t)
                    except InvalidInput:
                        k = INVALID
                        break
                    if stacker is not None and _r == 0:
                        if sessions[i] != session:
                            stacker.reset()
                        stacker.stack(base, feats)
                    t1 = time.ticks_us()
                    k = trees.predict(feats)
                    t2 = time.ticks_us()
                    if clock is not None:
                        cpu_s += clock() - c0
                    if best is None or time.ticks_diff(t2, t0) < best:
                        best = time.ticks_diff(t2, t0)
                    if t is not None:
                        t["trees"] = time.ticks_diff(t2, t1)
                        if _r == 0:
                            tw = t
                        else:
                            for key in t:
                                if t[key] < tw[key]:
                                    tw[key] = t[key]
                if k == INVALID:
                    invalid += 1
                    preds[i] = k
                    session = -1  # the next window starts a new session
                    if out is not None:
                        out.write(nan_feats)
                    continue
                session = sessions[i]
                busy_us += best
                if timer is not None:
                    for key in tw:
                        timer[key] = timer.get(key, 0) + tw[key]
                preds[i] = k
                if labels[i] != 255:
                    labelled += 1
                    correct += k == labels[i]
                if expected[i] != 255:
                    compared += 1
                    agree += k == expected[i]
                if out is not None:
                    out.write(feats)
        finally:
            if out is not None:
                out.write(preds)
                out.close()
    valid = n - invalid
    result = {
        "n": n,
        "invalid": invalid,
        "n_features": cfg.N_FEATURES,
        "labelled": labelled,
        "correct": correct,
        "accuracy": correct / labelled if labelled else None,
        "compared": compared,
        "agree": agree,
        "us_per_window": busy_us / valid if valid else 0,
        "gc_us_per_window": gc_us / valid if valid else 0,
    }
    if clock is not None and valid:
        result["cpu_us_per_window"] = cpu_s * 1e6 / (valid * repeat)
    if timer is not None:
        result["timing_us"] = timer
    if verbose:
        if labelled:
            print("accuracy %.4f (%d/%d windows)" % (correct / labelled, correct, labelled))
        if compared:
            print("same class as the Python pipeline: %d/%d" % (agree, compared))
        if invalid:
            print("invalid input (NaN, inf or |x| > %g): %d windows" % (cfg.MAX_ABS_INPUT,
                                                                       invalid))
        if valid:
            print("%.2f ms per window (features + trees)" % (busy_us / valid / 1000))
    print("TINYHAR_RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    run()
