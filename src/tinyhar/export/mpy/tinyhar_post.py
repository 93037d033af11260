# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar post-processing for MicroPython: rejection ("unknown"), smoothing
# (mode filter, EMA, HMM forward filter with a fixed lag), minimum segment
# duration and hysteresis, one window at a time.
#
#   import tinyhar_post
#   post = tinyhar_post.Post("post.json")     # written by tinyhar export
#   cls = post.push(proba, features)          # -1 while pending, else the class
#                                             # of the window post.lag earlier
#   post.raw                                  # the pushed window's own class
#   classes = post.flush()                    # end of session: the last windows
#   timeline = tinyhar_post.Timeline(post)    # the same with window start times
#                                             # (app_live prints POST lines)
#
# The stages follow tinyhar.postprocess (filters.ModeFilterStream, EmaStream,
# MinDurationStream, HysteresisStream, hmm.FixedLagStream) step by step with
# the same order of operations, so on a port with double floats (the unix
# port) the classes equal Python's; on single-float ports (ESP32) the EMA and
# HMM values are rounded to float32 and near-ties may decide otherwise.
#
# Rejection: a window is unknown (class index n_classes, label "unknown") when
# its top probability is below proba_threshold or its out-of-distribution
# score, min over classes c of sum_j (x_j - mean[c][j])^2 * inv_var[c][j] over
# the model inputs x, is above ood_threshold. An unknown window enters the
# filters as its own class (probabilities: 1 for unknown, 0 for the others).
#
# post.json stores floats as the hex of their little-endian IEEE-754 float64
# bytes: read with struct, exact on every port that has doubles.

import json
import struct

import micropython

try:
    from binascii import unhexlify
except ImportError:  # pragma: no cover - very old ports
    from ubinascii import unhexlify

# mirror of tinyhar.export.formats.EXPORT_FORMAT_VERSION (tests/export/test_postprocess_mpy.py)
FORMAT_VERSION = 2


def _floats(text):
    if not text:
        return []
    b = unhexlify(text)
    return list(struct.unpack("<%dd" % (len(b) // 8), b))


def _matrix(text, n_cols):
    v = _floats(text)
    return [v[i:i + n_cols] for i in range(0, len(v), n_cols)]


@micropython.native
def _argmax(v):
    best = 0
    top = v[0]
    for i in range(1, len(v)):
        if v[i] > top:
            top = v[i]
            best = i
    return best


class Post:
    """Streaming post-processing of one session at a time (see the module comment)."""

    def __init__(self, path="post.json"):
        with open(path) as f:
            p = json.load(f)
        if p.get("format_version") != FORMAT_VERSION:
            raise ValueError("%s: export format %r, this module reads %d; re-export"
                             % (path, p.get("format_version"), FORMAT_VERSION))
        self.classes = p["classes"]
        self.description = p["description"]
        self.n_classes = p["n_classes"]
        self.n_out = len(self.classes)
        k = self.n_out
        self.smoothing = p["smoothing"]
        self.mode_k = p["mode_k"]
        self.ema_alpha = _floats(p["ema_alpha"])[0]
        self.hmm_lag = p["hmm_lag"]
        if p["hmm"]:
            h = p["hmm"]
            self.start = _floats(h["startprob"])
            self.trans = _matrix(h["transmat"], k)
            emis = _matrix(h["emissionprob"], k)
            # column o of the emission matrix, per observation
            self.emis_col = [[emis[j][o] for j in range(k)] for o in range(k)]
            # transposed transitions: pred[j] = sum_i alpha[i] * trans[i][j]
            self.trans_t = [[self.trans[i][j] for i in range(k)] for j in range(k)]
        self.min_duration = p["min_duration"]
        self.hy_margin = _floats(p["hysteresis_margin"])[0]
        self.hy_windows = p["hysteresis_windows"]
        self.hysteresis = self.hy_margin > 0 or self.hy_windows > 1
        self.lag = p["lag"]
        self.reject = p["reject"]
        self.unknown = self.n_classes if self.reject else -2
        self.proba_threshold = _floats(p["proba_threshold"])[0]
        self.n_features = p["n_features"]
        self.ood_threshold = _floats(p["ood_threshold"])[0]
        self.ood_means = _matrix(p["ood_means"], self.n_features) if self.n_features else []
        self.ood_inv_var = _matrix(p["ood_inv_var"], self.n_features) if self.n_features else []
        self._unknown_row = [0.0] * k
        if self.reject:
            self._unknown_row[self.unknown] = 1.0
        # beta vectors of recent observation sequences (exact: same inputs, same result)
        self._beta_cache = {}
        self.reset()

    # ------------------------------------------------------------------ rejection

    @micropython.native
    def ood_score(self, x):
        """Diagonal Mahalanobis distance of model inputs x to the nearest class."""
        best = 0.0
        nf = self.n_features
        for c in range(self.n_classes):
            m = self.ood_means[c]
            w = self.ood_inv_var[c]
            s = 0.0
            for j in range(nf):
                d = x[j] - m[j]
                s += d * d * w[j]
            if c == 0 or s < best:
                best = s
        return best

    @micropython.native
    def ood_exceeds(self, x, first=0):
        """True when the OOD score of x is above the threshold (== ood_score(x) > thr).

        Stops a class's sum once it is above the threshold (the terms are >= 0
        and rounding is monotone, so the sum only grows) and stops at the
        first class within the threshold, starting with class first.
        """
        thr = self.ood_threshold
        nf = self.n_features
        nc = self.n_classes
        for k in range(nc):
            c = (first + k) % nc
            m = self.ood_means[c]
            w = self.ood_inv_var[c]
            s = 0.0
            j = 0
            while j < nf:
                d = x[j] - m[j]
                s += d * d * w[j]
                if s > thr:
                    break
                j += 1
            if j == nf:
                return False
        return True

    def classify(self, proba, features=None):
        """The window's class after rejection (n_classes = unknown)."""
        best = _argmax(proba)
        if self.reject:
            if proba[best] < self.proba_threshold:
                return self.unknown
            if self.n_features and self.ood_exceeds(features, best):
                return self.unknown
        return best

    # ------------------------------------------------------------------ session

    def reset(self):
        """Start a new session (forget the pending windows)."""
        self.n = 0
        self.raw = -1
        self._out = []
        # mode filter: ring of (class, probabilities)
        self._mode = [None] * max(1, self.mode_k)
        # EMA
        self._ema = None
        # HMM: ring of (alpha, observation)
        self._hmm = [None] * (self.hmm_lag + 1)
        # minimum duration
        self._md_current = -1
        self._md_run_cls = -1
        self._md_run_len = 0
        self._md_queue = []  # [class or -1, probabilities]
        self._md_first = 0
        # hysteresis
        self._hy_c = -1
        self._hy_cand = -1
        self._hy_count = 0

    @micropython.native
    def push(self, proba, features=None):
        """Add the next window; return the class of the window self.lag earlier, or -1."""
        cls = self.classify(proba, features)
        self.raw = cls
        if cls == self.unknown:
            p = self._unknown_row
        elif self.reject:
            p = list(proba) + [0.0]
        else:
            p = proba
        self.n += 1
        self._out = []
        self._smooth(cls, p)
        return self._out[0] if self._out else -1

    def flush(self):
        """Decide the pending windows of the session (in order) and reset."""
        self._out = []
        n = self.n
        if self.smoothing == "mode":
            for t in range(max(0, n - self.mode_k // 2), n):
                self._mode_decide(t)
        elif self.smoothing == "hmm":
            for t in range(max(0, n - self.hmm_lag), n):
                self._hmm_decide(t)
        if self.min_duration > 1:
            if self._md_current >= 0:
                self._md_resolve(self._md_current)
            while self._md_queue:
                self._md_pop()
        out = self._out
        self.reset()
        return out

    # ------------------------------------------------------------------ stages

    @micropython.native
    def _smooth(self, cls, p):
        t = self.n - 1
        sm = self.smoothing
        if sm == "mode":
            k = self.mode_k
            self._mode[t % k] = (cls, p)
            if t - k // 2 >= 0:
                self._mode_decide(t - k // 2)
        elif sm == "ema":
            s = self._ema
            if s is None:
                s = list(p)
            else:
                a = self.ema_alpha
                b = 1.0 - a
                for c in range(self.n_out):
                    s[c] = b * s[c] + a * p[c]
            self._ema = s
            self._after(_argmax(s), list(s))
        elif sm == "hmm":
            self._hmm_forward(t, cls)
            if t - self.hmm_lag >= 0:
                self._hmm_decide(t - self.hmm_lag)
        else:
            self._after(cls, p)

    @micropython.native
    def _mode_decide(self, t):
        k = self.mode_k
        after = k // 2
        before = k - 1 - after
        lo = t - before if t - before > 0 else 0
        hi = t + after if t + after < self.n - 1 else self.n - 1
        counts = [0] * self.n_out
        ring = self._mode
        for i in range(lo, hi + 1):
            counts[ring[i % k][0]] += 1
        centre, p = ring[t % k]
        best = _argmax(counts)
        if counts[centre] == counts[best]:
            best = centre
        self._after(best, p)

    @micropython.native
    def _hmm_forward(self, t, o):
        k = self.n_out
        ring = self._hmm
        size = self.hmm_lag + 1
        e = self.emis_col[o]
        if t == 0:
            st = self.start
            a = [st[j] * e[j] for j in range(k)]
        else:
            prev = ring[(t - 1) % size][0]
            a = []
            for j in range(k):
                col = self.trans_t[j]
                s = 0.0
                for i in range(k):
                    s += prev[i] * col[i]
                a.append(s * e[j])
        total = 0.0
        for j in range(k):
            total += a[j]
        ring[t % size] = ([v / total for v in a], o)

    @micropython.native
    def _beta(self, obs):
        """Normalised backward vector over the observations obs (oldest first)."""
        beta = self._beta_cache.get(obs)
        if beta is not None:
            return beta
        k = self.n_out
        beta = [1.0] * k
        trans = self.trans
        for u in range(len(obs) - 1, -1, -1):
            e = self.emis_col[obs[u]]
            x = [e[j] * beta[j] for j in range(k)]
            b = []
            total = 0.0
            for i in range(k):
                row = trans[i]
                s = 0.0
                for j in range(k):
                    s += row[j] * x[j]
                b.append(s)
                total += s
            beta = [v / total for v in b]
        if len(self._beta_cache) >= 128:
            self._beta_cache = {}
        self._beta_cache[obs] = beta
        return beta

    @micropython.native
    def _hmm_decide(self, t):
        ring = self._hmm
        size = self.hmm_lag + 1
        alpha = ring[t % size][0]
        obs = tuple(ring[u % size][1] for u in range(t + 1, self.n))
        beta = self._beta(obs)
        g = [alpha[i] * beta[i] for i in range(self.n_out)]
        total = 0.0
        for v in g:
            total += v
        g = [v / total for v in g]
        self._after(_argmax(g), g)

    def _after(self, cls, p):
        if self.min_duration > 1:
            self._min_duration(cls, p)
        else:
            self._hyst(cls, p)

    def _md_resolve(self, cls):
        q = self._md_queue
        for i in range(len(q) - self._md_run_len, len(q)):
            q[i][0] = cls
        self._md_run_len = 0

    def _md_pop(self):
        c, p = self._md_queue.pop(0)
        self._md_first += 1
        self._hyst(c, p)

    @micropython.native
    def _min_duration(self, cls, p):
        q = self._md_queue
        t = self._md_first + len(q)
        decided = -1
        if self._md_current < 0:
            self._md_current = cls
            decided = cls
        elif cls == self._md_current:
            self._md_resolve(cls)
            decided = cls
        elif self._md_run_len > 0 and cls != self._md_run_cls:
            self._md_resolve(self._md_current)
        q.append([decided, p])
        if decided < 0:
            self._md_run_cls = cls
            self._md_run_len += 1
            if self._md_run_len >= self.min_duration:
                self._md_current = cls
                self._md_resolve(cls)
        lag = self.min_duration - 1
        if t - lag >= 0 and q and self._md_first == t - lag and q[0][0] >= 0:
            self._md_pop()

    @micropython.native
    def _hyst(self, x, p):
        if self.hysteresis:
            if self._hy_c < 0:
                self._hy_c = x
            elif x == self._hy_c or p[x] < p[self._hy_c] + self.hy_margin:
                self._hy_count = 0
            else:
                self._hy_count = self._hy_count + 1 if x == self._hy_cand else 1
                self._hy_cand = x
                if self._hy_count >= self.hy_windows:
                    self._hy_c = x
                    self._hy_count = 0
            x = self._hy_c
        self._out.append(x)


def load(path="post.json"):
    """The bundle's Post, or None when it has no post-processing (no post.json)."""
    try:
        open(path).close()
    except OSError:
        return None
    return Post(path)


class Timeline:
    """A Post that remembers each window's start time (for the live app).

    push(t_s, proba, features) and flush() return the decided windows as a
    list of (t_start_s, class_name); unknown windows are named "unknown".
    """

    def __init__(self, post):
        self.post = post
        self.times = []

    def push(self, t_s, proba, features=None):
        self.times.append(t_s)
        c = self.post.push(proba, features)
        return self._named([c] if c >= 0 else [])

    def flush(self):
        return self._named(self.post.flush())

    def _named(self, decided):
        out = []
        for c in decided:
            out.append((self.times.pop(0), self.post.classes[c]))
        return out


def run_file(inp, out, n_classes, n_features, params="post.json", repeat=1):
    import array

    """Post-process a binary file of windows (tinyhar.export.post writes it).

    Per window: 1 byte (1 = a new session starts), n_classes float64 and
    n_features float32, little-endian (a little-endian port). Writes
    "R <class>" per window and "S <class>" per decided window to out;
    prints the post-processing time per window in microseconds
    (TINYHAR_POST_US <us>), the fastest of repeat runs (time.ticks_us around
    push and flush; reading the input excluded).
    """
    size = 1 + 8 * n_classes + 4 * n_features
    rows = []
    f = open(inp, "rb")
    try:
        while True:
            data = f.read(size)
            if len(data) < size:
                break
            # typed arrays: 4 bytes a feature (a tuple of floats takes several times more)
            feats = array.array("f", data[1 + 8 * n_classes:]) if n_features else None
            rows.append((data[0], array.array("d", data[1:1 + 8 * n_classes]), feats))
    finally:
        f.close()
    best = None
    for _ in range(max(1, repeat)):
        raws, smoothed, us = _run_rows(Post(params), rows)
        best = us if best is None or us < best else best
    with open(out, "w") as f:
        for c in raws:
            f.write("R %d\n" % c)
        for c in smoothed:
            f.write("S %d\n" % c)
    print("TINYHAR_POST_US %.3f" % (best / max(1, len(rows))))


def _run_rows(post, rows):
    import gc
    import time

    raws = []
    smoothed = []
    us = 0
    n = 0
    for new, proba, feats in rows:
        if n % 64 == 0:
            gc.collect()  # as the live app, which collects while it waits for samples
        if new and n:
            t0 = time.ticks_us()
            smoothed.extend(post.flush())
            us += time.ticks_diff(time.ticks_us(), t0)
        t0 = time.ticks_us()
        c = post.push(proba, feats)
        us += time.ticks_diff(time.ticks_us(), t0)
        n += 1
        raws.append(post.raw)
        if c >= 0:
            smoothed.append(c)
    if n:
        t0 = time.ticks_us()
        smoothed.extend(post.flush())
        us += time.ticks_diff(time.ticks_us(), t0)
    return raws, smoothed, us
