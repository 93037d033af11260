# ruff: noqa: UP031 (MicroPython code: %-formatting works on every port)
# tinyhar features for MicroPython: the hand-crafted features of
# tinyhar.features.FeatureExtractor, computed one window at a time on
# float32 `array` buffers allocated once.
#
# Definitions (tinyhar.features.catalog; window of N samples at fs Hz): time
# statistics (mean, two-pass std, min, max, type-7 percentiles, iqr, rms,
# mean-crossing rate), gravity by a low-pass Butterworth filter (second-order
# sections, direct form II transposed as scipy.signal.sosfilt, started at the
# steady state of the first sample; Anguita et al. 2013), tilt angles (Pedley
# 2013), body acceleration, vertical/horizontal body acceleration (Mizell
# 2003), jerk magnitudes, Pearson correlations, DFT band powers, dominant
# frequency, spectral entropy and centroid, ENMO (van Hees et al. 2013).
#
# The DFT is a radix-2 decimation-in-time FFT (Cooley & Tukey 1965, Math.
# Comput. 19:297) on MicroPython complex numbers; two real signals share one
# complex FFT (x + i y, separated with the conjugate symmetry of the spectra
# of real signals); a signal left without a partner takes a complex FFT of
# half the length (even samples + i odd samples, then one split step).
# Window lengths that are not a power of two use a plain DFT (slow). The
# gravity filter is compiled at start-up (exec) into one native loop with
# the coefficients of the model (terms with coefficient 0 or 1 are dropped,
# which changes no result).
#
# Only the features listed in the plan of tinyhar_config.py are computed
# (an exported plan may leave out the features the trees never test: their
# outputs stay 0).
#
# Speed: MicroPython boxes every float it computes (a heap allocation), so
# the loops read signals from lists of floats (no allocation per read) and
# keep a float32 array copy of each signal for the exact order statistics.
#
# Precision: signals are float32 arrays like the Python pipeline; scalars are
# MicroPython floats (double in the unix port, float32 on the ESP32) and sums
# run in another order than numpy's pairwise sums, so features agree to about
# 1e-6 relative, not bit for bit. Order statistics are exact, and the mean
# used for mean crossings is recomputed exactly as numpy does (float32
# pairwise summation) whenever a sample is close enough to the mean for the
# rounding to matter.
#
# Usage:
#   import tinyhar_config as cfg
#   from tinyhar_features import Features
#   fx = Features(cfg)
#   fx.channels[c][i] = sample i of channel c (cfg.CHANNELS order, g / rad/s)
#   fx.compute(out)              # out: array('f', cfg.N_BASE_FEATURES)
#   fx.compute(out, timer=dict)  # also adds microseconds per group to timer

import array
import math
import sys
import time

import micropython
from micropython import const

# Statistic slots of the index tuples in cfg.STATS / cfg.JERK
MEAN = const(0)
STD = const(1)
MIN = const(2)
MAX = const(3)
MEDIAN = const(4)
P25 = const(5)
P75 = const(6)
IQR = const(7)
RMS = const(8)
MCR = const(9)
NO_STATS = (-1, -1, -1, -1, -1, -1, -1, -1, -1, -1)

# Sorting the float32 bit patterns as small integers is 3-4x faster than
# sorting float objects; it needs 64-bit small ints (unix port on x64).
_INT_SORT = sys.maxsize > (1 << 40)


def _farray(n):
    return array.array("f", bytearray(4 * n))


def _from_bits(bits):
    # float32 values from their IEEE-754 bit patterns (exact on every port)
    return array.array("f", bytearray(array.array("I", bits)))


def _active(idx):
    for i in idx:
        if i >= 0:
            return True
    return False


# --------------------------------------------------------------------------- loops


@micropython.native
def _moments(a, n, m, dev, tol):
    # sum of squared deviations from m, number of mean crossings, and whether
    # a sample lies within tol of m (its side of the mean could then depend on
    # the rounding of the mean); stores the deviations in the list dev if given
    sumsq = 0.0
    cross = 0
    near = False
    ntol = -tol
    prev = a[0] >= m
    if dev is None:
        for i in range(n):
            x = a[i]
            d = x - m
            sumsq += d * d
            if d < tol:
                if d > ntol:
                    near = True
            ab = x >= m
            if ab != prev:
                cross += 1
                prev = ab
    else:
        for i in range(n):
            x = a[i]
            d = x - m
            dev[i] = d
            sumsq += d * d
            if d < tol:
                if d > ntol:
                    near = True
            ab = x >= m
            if ab != prev:
                cross += 1
                prev = ab
    return sumsq, cross, near


def _pairwise(a, lo, n, r):
    # numpy's float32 pairwise summation of a[lo:lo+n] (8 accumulators for
    # n <= 128, halving above), each addition rounded to float32 through the
    # 'f' scratch array r (length 9): bit-exact with ndarray.sum(dtype=float32)
    if n < 8:
        r[8] = 0.0
        for i in range(lo, lo + n):
            r[8] = r[8] + a[i]
        return r[8]
    if n <= 128:
        for j in range(8):
            r[j] = a[lo + j]
        i = 8
        stop = n - n % 8
        while i < stop:
            b = lo + i
            for j in range(8):
                r[j] = r[j] + a[b + j]
            i += 8
        r[0] = r[0] + r[1]
        r[2] = r[2] + r[3]
        r[4] = r[4] + r[5]
        r[6] = r[6] + r[7]
        r[0] = r[0] + r[2]
        r[4] = r[4] + r[6]
        r[8] = r[0] + r[4]
        while i < n:
            r[8] = r[8] + a[lo + i]
            i += 1
        return r[8]
    n2 = n // 2
    n2 -= n2 % 8
    first = _pairwise(a, lo, n2, r)
    second = _pairwise(a, lo + n2, n - n2, r)
    r[8] = first + second
    return r[8]


@micropython.native
def _norm3(a, b, c, out, lst, n):
    # out[i] = lst[i] = sqrt(a^2 + b^2 + c^2) (a, b, c: lists)
    sqrt = math.sqrt
    for i in range(n):
        x = a[i]
        y = b[i]
        z = c[i]
        v = sqrt(x * x + y * y + z * z)
        out[i] = v
        lst[i] = v


@micropython.native
def _jerk_mag(a, b, c, out, lst, n, fs):
    # |x[k+1] - x[k]| * fs over the three axes (N - 1 samples)
    sqrt = math.sqrt
    x0 = a[0]
    y0 = b[0]
    z0 = c[0]
    for k in range(n - 1):
        x1 = a[k + 1]
        y1 = b[k + 1]
        z1 = c[k + 1]
        dx = x1 - x0
        dy = y1 - y0
        dz = z1 - z0
        v = sqrt(dx * dx + dy * dy + dz * dz) * fs
        out[k] = v
        lst[k] = v
        x0 = x1
        y0 = y1
        z0 = z1


def _gravity_source(sos):
    # Source of a native loop: gravity (low-pass from the first sample) of
    # one axis (list a), body = acc - gravity into the array `body` and the
    # list `lst`; returns (sum gravity, sum |body|). Terms with a coefficient
    # 0 are dropped, products with 1 are not formed, b2*x is reused when
    # b2 == b0 and b1*x is (b0*x)+(b0*x) when b1 == 2*b0: all exact in
    # floating point (x*0 - y = -y, 1*x = x, 2*(b0*x) = (2*b0)*x).
    names = []
    for s in range(len(sos)):
        names += ["b0_%d" % s, "b1_%d" % s, "b2_%d" % s, "a1_%d" % s, "a2_%d" % s]
    lines = [
        "@micropython.native",
        "def gravity(a, body, lst, n, c):",
        "    " + ", ".join(names) + " = c",
    ]
    for s in range(len(sos)):
        lines.append("    z0_%d = 0.0" % s)
        lines.append("    z1_%d = 0.0" % s)
        lines.append("    na2_%d = -a2_%d" % (s, s))
    lines += ["    x0 = a[0]", "    gs = 0.0", "    sa = 0.0", "    for i in range(n):",
              "        xi = a[i]", "        x = xi - x0"]

    def term(coef, name, var):
        if coef == 0.0:
            return None
        if coef == 1.0:
            return var
        return name + " * " + var

    for s, (b0, b1, b2, a1, a2) in enumerate(sos):
        t0 = term(b0, "b0_%d" % s, "x")
        if t0 is not None and t0 != "x":
            lines.append("        t = %s" % t0)
            t0 = "t"
        lines.append("        o = %s" % ((t0 + " + z0_%d" % s) if t0 else "z0_%d" % s))
        # z0 = b1*x - a1*o + z1 ; z1 = b2*x - a2*o
        if b1 != 0.0 and b1 == 2.0 * b0 and t0 == "t":
            e = "(t + t)"
        else:
            e = term(b1, "b1_%d" % s, "x")
        f = term(a1, "a1_%d" % s, "o")
        has_z1 = b2 != 0.0 or a2 != 0.0
        expr = e
        if f:
            expr = (expr + " - " + f) if expr else ("-(" + f + ")")
        if has_z1:
            expr = (expr + " + z1_%d" % s) if expr else "z1_%d" % s
        lines.append("        z0_%d = %s" % (s, expr if expr else "0.0"))
        if has_z1:
            if b2 != 0.0 and b2 == b0 and t0 in ("t", "x"):
                e = t0
            else:
                e = term(b2, "b2_%d" % s, "x")
            if a2 == 0.0:
                expr = e
            elif e is None:
                expr = "na2_%d * o" % s if a2 != 1.0 else "-o"
            else:
                expr = e + " - " + term(a2, "a2_%d" % s, "o")
            lines.append("        z1_%d = %s" % (s, expr))
        lines.append("        x = o")
    lines += ["        g = x + x0", "        gs += g", "        d = xi - g", "        body[i] = d",
              "        lst[i] = d", "        sa += abs(d)", "    return gs, sa", ""]
    return "\n".join(lines)


def _gravity_generic(a, body, lst, n, c):
    # same as the generated loop, for ports without exec/native code
    ns = len(c) // 5
    z = [0.0] * (2 * ns)
    x0 = a[0]
    gs = 0.0
    sa = 0.0
    for i in range(n):
        xi = a[i]
        x = xi - x0
        for s in range(ns):
            b0, b1, b2, a1, a2 = c[5 * s:5 * s + 5]
            o = b0 * x + z[2 * s]
            z[2 * s] = b1 * x - a1 * o + z[2 * s + 1]
            z[2 * s + 1] = b2 * x - a2 * o
            x = o
        g = x + x0
        gs += g
        d = xi - g
        body[i] = d
        lst[i] = d
        sa += abs(d)
    return gs, sa


@micropython.native
def _abs_sum3(a, b, c, n):
    s = 0.0
    for i in range(n):
        s += abs(a[i]) + abs(b[i]) + abs(c[i])
    return s


@micropython.native
def _vert_horiz(bx, by, bz, bm, vert, vl, horiz, hl, n, u0, u1, u2):
    sqrt = math.sqrt
    for i in range(n):
        v = bx[i] * u0 + by[i] * u1 + bz[i] * u2
        vert[i] = v
        vl[i] = v
        m = bm[i]
        h = m * m - v * v
        if h > 0.0:
            h = sqrt(h)
        else:
            h = 0.0
        horiz[i] = h
        hl[i] = h


@micropython.native
def _enmo_sum(mag, n):
    s = 0.0
    for i in range(n):
        e = mag[i] - 1.0
        if e > 0.0:
            s += e
    return s


@micropython.native
def _dot(a, b, n):
    s = 0.0
    for i in range(n):
        s += a[i] * b[i]
    return s


@micropython.native
def _pack(y, rev, a, b, n):
    # bit-reversed input order of the FFT (y[rev[i]] = a[i] + i b[i]) and
    # its first radix-2 stage (twiddle 1): in bit-reversed order, x[i] and
    # x[i + n/2] are the neighbours rev[i], rev[i] + 1 (i < n/2)
    h = n >> 1
    for i in range(h):
        u = complex(a[i], b[i])
        v = complex(a[i + h], b[i + h])
        j = rev[i]
        y[j] = u + v
        y[j + 1] = u - v


@micropython.native
def _fft(y, plan, n):
    # the stages after the first (see _pack) of an in-place radix-2
    # decimation-in-time FFT of the list y, two stages at a time (radix-4
    # passes: half the loads and stores); plan: _fft_plan. while-loops: a
    # range with a variable step would allocate an iterator per inner loop
    mi = -1j
    for half, ws in plan:
        if len(ws) == half:
            # a single radix-2 stage (w = ws[jj])
            size = half << 1
            for jj in range(half):
                w = ws[jj]
                j = jj
                while j < n:
                    h = j + half
                    t = w * y[h]
                    u = y[j]
                    y[j] = u + t
                    y[h] = u - t
                    j += size
            continue
        size = half << 2
        h2 = half << 1
        h3 = h2 + half
        # jj = 0: twiddles 1, 1 and -i
        j = 0
        while j < n:
            y0 = y[j]
            y1 = y[j + half]
            y2 = y[j + h2]
            y3 = y[j + h3]
            a0 = y0 + y1
            a1 = y0 - y1
            a2 = y2 + y3
            a3 = (y2 - y3) * mi
            y[j] = a0 + a2
            y[j + h2] = a0 - a2
            y[j + half] = a1 + a3
            y[j + h3] = a1 - a3
            j += size
        p = 3
        for jj in range(1, half):
            wa = ws[p]
            wb = ws[p + 1]
            wc = ws[p + 2]
            p += 3
            j = jj
            while j < n:
                y0 = y[j]
                t = wa * y[j + half]
                y2 = y[j + h2]
                u = wa * y[j + h3]
                a0 = y0 + t
                a1 = y0 - t
                a2 = wb * (y2 + u)
                a3 = wc * (y2 - u)
                y[j] = a0 + a2
                y[j + h2] = a0 - a2
                y[j + half] = a1 + a3
                y[j + h3] = a1 - a3
                j += size


def _fft_plan(tw, n):
    # twiddles of the stages after the first, tw[k] = exp(-2 pi i k / n):
    # (half, [w_a, w_b, w_c] * half) per radix-4 pass (stage of span half,
    # w_a = exp(-2 pi i jj / 2 half), then of span 2 half, w_b for the pairs
    # (jj, jj + 2 half), w_c = -i w_b for (jj + half, jj + 3 half)), and
    # (half, [w] * half) for a last single radix-2 stage
    plan = []
    half = 2
    while half * 4 <= n:
        ws = []
        for jj in range(half):
            kb = jj * (n // (4 * half))
            ws += [tw[jj * (n // (2 * half))], tw[kb], tw[kb + n // 4]]
        plan.append((half, ws))
        half *= 4
    if half < n:
        plan.append((half, [tw[jj * (n // (2 * half))] for jj in range(half)]))
    return plan


@micropython.native
def _unpack_power(y, n, kmax, pa, pb):
    # power of the two real signals packed in the spectrum y, up to a
    # constant factor: X_k = (Y_k + conj(Y_{n-k})) / 2 and
    # Z_k = (Y_k - conj(Y_{n-k})) / 2i give pa[k-1] = 4 |X_k|^2 and
    # pb[k-1] = 4 |Z_k|^2 for k = 1..kmax (the caller applies the one-sided
    # weights: they cancel in the dominant frequency, entropy and centroid)
    # (real arithmetic: no complex objects, no square roots)
    for k in range(1, kmax + 1):
        zk = y[k]
        zm = y[n - k]
        zr = zk.real
        zi = zk.imag
        mr = zm.real
        mi = zm.imag
        sr = zr + mr
        si = zi - mi
        dr = zr - mr
        di = zi + mi
        pa[k - 1] = sr * sr + si * si
        pb[k - 1] = dr * dr + di * di


@micropython.native
def _pack_real(y, rev, a, m):
    # y[rev[i]] = a[2i] + i a[2i+1]: one real signal of 2m samples as m
    # complex samples, in the bit-reversed input order of an m-point FFT,
    # and the first radix-2 stage (as _pack)
    h = m >> 1
    for i in range(h):
        j = i + i
        u = complex(a[j], a[j + 1])
        j += m
        v = complex(a[j], a[j + 1])
        j = rev[i]
        y[j] = u + v
        y[j + 1] = u - v


@micropython.native
def _unpack_real_power(y, tw, m, p):
    # power of the real signal packed by _pack_real, from the m-point
    # spectrum Z in y (tw[k] = exp(-2 pi i k / 2m)): with E = Z_k +
    # conj(Z_{m-k}) and O = (Z_k - conj(Z_{m-k})) tw[k], 2 X_k = E - i O, so
    # p[k-1] = 4 |X_k|^2 for k = 1..m (Nyquist: 2 X_m = 2 (Re Z_0 - Im Z_0)),
    # the scale of _unpack_power
    for k in range(1, m):
        zk = y[k]
        zm = y[m - k]
        c = complex(zm.real, -zm.imag)
        e = zk + c
        o = (zk - c) * tw[k]
        re = e.real + o.imag
        im = e.imag - o.real
        p[k - 1] = re * re + im * im
    z0 = y[0]
    d = 2.0 * (z0.real - z0.imag)
    p[m - 1] = d * d


def _bit_reverse(n):
    # bit-reversal permutation of 0..n-1 (n a power of two), as array('H')
    bits = 0
    while (1 << bits) < n:
        bits += 1
    rev = array.array("H", bytearray(2 * n))
    for i in range(n):
        r = 0
        v = i
        for _ in range(bits):
            r = (r << 1) | (v & 1)
            v >>= 1
        rev[i] = r
    return rev


def _dft_power(a, n, kmax, p):
    # plain DFT (window lengths that are not a power of two), same scale as
    # _unpack_power: p[k-1] = 4 |X_k|^2
    for k in range(1, kmax + 1):
        re = 0.0
        im = 0.0
        c = -2.0 * math.pi * k / n
        for i in range(n):
            re += a[i] * math.cos(c * i)
            im += a[i] * math.sin(c * i)
        p[k - 1] = 4.0 * (re * re + im * im)


@micropython.native
def _spectrum_sums(p, freqs, segments, bands, want_e):
    # one pass over the power p[k-1], k = 1..K: total, first k of the maximum,
    # sum f_k P_k, sum P_k ln P_k (terms with P_k = 0 count 0; only if
    # want_e, else 0: the logarithms are the costly part), band sums
    log = math.log
    tot = 0.0
    fp = 0.0
    e = 0.0
    best = -1.0
    kbest = 0
    for k0, k1, b in segments:
        if b >= 0:
            bs = 0.0
            for k in range(k0, k1):
                v = p[k]
                bs += v
                if v > 0.0:
                    if v > best:
                        best = v
                        kbest = k
                    fp += freqs[k] * v
                    if want_e:
                        e += v * log(v)
            bands[b] = bs
            tot += bs
        else:
            for k in range(k0, k1):
                v = p[k]
                tot += v
                if v > 0.0:
                    if v > best:
                        best = v
                        kbest = k
                    fp += freqs[k] * v
                    if want_e:
                        e += v * log(v)
    return tot, kbest, fp, e


# --------------------------------------------------------------------------- extractor


class Features:
    """Feature extractor, one window at a time (see the module comment)."""

    def __init__(self, cfg):
        n = cfg.WINDOW
        self.n = n
        self.cfg = cfg
        self.n_features = cfg.N_BASE_FEATURES
        self.channels = [_farray(n) for _ in cfg.CHANNELS]
        self.f1 = _farray(1)  # float32 rounding register
        self.r9 = _farray(9)  # pairwise-sum accumulators
        consts = _from_bits((cfg.FS32_BITS, cfg.INV_N_BITS, cfg.LOG_K_BITS))
        self.fs32 = consts[0]
        self.inv_n = consts[1]
        self.log_k = consts[2]
        self._length_consts = {}
        # every signal: a float32 array (exact order statistics) and a list
        # of the same floats (read without allocation by the loops)
        arr = {}
        lst = {}
        for i, name in enumerate(cfg.CHANNELS):
            arr[name] = self.channels[i]
            lst[name] = [0.0] * n
        self.arr = arr
        self.lst = lst
        self.acc = None if cfg.ACC is None else [cfg.CHANNELS[i] for i in cfg.ACC]
        self.gyro = None if cfg.GYRO is None else [cfg.CHANNELS[i] for i in cfg.GYRO]

        # what the plan asks for
        spectral = [s for s in cfg.SPECTRAL if _active(s[1]) or _active(s[2:])]
        corr = []
        for names, idx in (
            (("acc_x", "acc_y", "acc_z"), cfg.CORR_ACC),
            (("gyro_x", "gyro_y", "gyro_z"), cfg.CORR_GYRO),
        ):
            if idx is not None:
                for k, (i, j) in enumerate(((0, 1), (0, 2), (1, 2))):
                    if idx[k] >= 0:
                        corr.append((names[i], names[j], idx[k]))
        keep_dev = set(s[0] for s in spectral)
        for a, b, _k in corr:
            keep_dev.add(a)
            keep_dev.add(b)
        stats = [(name, idx) for name, idx in cfg.STATS if _active(idx)]
        have = set(name for name, _idx in stats)
        for name in keep_dev:
            if name not in have:
                stats.append((name, NO_STATS))
        needed = set(name for name, _idx in stats)
        if cfg.ENMO >= 0:
            needed.add("acc_mag")
        if "body_horiz" in needed:
            needed.add("body_mag")
            needed.add("body_vert")
        body_axes = ("body_x", "body_y", "body_z")
        if "body_mag" in needed or "body_vert" in needed:
            needed.update(body_axes)
        self.gravity = (
            cfg.SOS_BITS is not None and (
                bool(needed.intersection(body_axes)) or cfg.GRAV_MEAN is not None
                or cfg.TILT is not None or cfg.BODY_SMA >= 0))
        self.acc_mag = "acc_mag" in needed
        self.gyro_mag = "gyro_mag" in needed
        derived = []
        if self.acc_mag:
            derived.append("acc_mag")
        if self.gyro_mag:
            derived.append("gyro_mag")
        self.vert = False
        if self.gravity:
            coefs = []
            sos = []
            for row in cfg.SOS_BITS:
                c = _from_bits(row)
                sos.append((c[0], c[1], c[2], c[4], c[5]))
                coefs += [c[0], c[1], c[2], c[4], c[5]]
            self.sos_coefs = tuple(coefs)
            self._gravity = _gravity_generic
            try:
                env = {"micropython": micropython}
                exec(_gravity_source(sos), env)
                self._gravity = env["gravity"]
            except Exception:
                pass
            derived += ["body_x", "body_y", "body_z", "body_mag"]
            if "body_vert" in needed:
                self.vert = True
                derived += ["body_vert", "body_horiz"]
        for name in derived:
            arr[name] = _farray(n)
            lst[name] = [0.0] * n
        self.dev = {}
        self.sumsq = {}
        self.stats = []
        for name, idx in stats:
            if name not in arr:
                raise ValueError("tinyhar_features: unknown signal " + name)
            dev = None
            if name in keep_dev:
                dev = self.dev[name] = [0.0] * n
            self.stats.append(self._job(name, n, idx, dev))
        self.corr = corr
        self.jerk = []
        for sensor, idx in cfg.JERK:
            if _active(idx):
                name = sensor + "_jerk_mag"
                arr[name] = _farray(n - 1)
                lst[name] = [0.0] * (n - 1)
                axes = self.acc if sensor == "acc" else self.gyro
                self.jerk.append((axes, name, self._job(name, n - 1, idx, None)))

        # spectra
        self.spectral = spectral
        kmax = n // 2
        self.kmax = kmax
        if spectral:
            # P_k = c |X_k|^2 with c = 2 / n^2 (1 / n^2 for the Nyquist bin);
            # the FFT gives 4 |X_k|^2: power = scale * p, with the Nyquist bin
            # of p halved
            f1 = self.f1
            f1[0] = 2.0 / (n * n)
            self.scale = f1[0] * 0.25
            self.half_last = n % 2 == 0
            self.freqs = list(_from_bits(cfg.FREQS_BITS))
            # segments of bins (0-based k-1): (start, stop, band or -1)
            segs = []
            pos = 0
            self.overlap = False
            for b, (k0, k1) in sorted(enumerate(cfg.BAND_BINS), key=lambda t: t[1][0]):
                if k0 - 1 < pos:
                    self.overlap = True
                    break
                if k0 - 1 > pos:
                    segs.append((pos, k0 - 1, -1))
                segs.append((k0 - 1, k1 - 1, b))
                pos = k1 - 1
            if pos < kmax:
                segs.append((pos, kmax, -1))
            if self.overlap:
                # overlapping bands: band sums are taken separately
                segs = [(0, kmax, -1)]
            self.segments = segs
            self.bands = [0.0] * len(cfg.BAND_BINS)
            self.power = {}
            for s in spectral:
                self.power[s[0]] = [0.0] * kmax
            self.pow2 = n >= 4 and (n & (n - 1)) == 0
            if self.pow2:
                self.rev = _bit_reverse(n)
                self.tw = [
                    complex(math.cos(-2.0 * math.pi * k / n), math.sin(-2.0 * math.pi * k / n))
                    for k in range(n // 2)
                ]
                self.plan = _fft_plan(self.tw, n)
                self.fft_buf = [0j] * n
                # a signal without a partner: real FFT of n samples as a
                # complex FFT of n/2 (half the work of sharing one n-point FFT)
                self.half = len(spectral) % 2 == 1 and n >= 8
                if self.half:
                    self.rev_half = _bit_reverse(n // 2)
                    self.plan_half = _fft_plan(self.tw[::2], n // 2)

    # ------------------------------------------------------------------ helpers
    def _consts(self, length):
        # per window length: float32(1/L), float32(fs/(L-1)), percentile
        # positions (rank i, float32 fraction t) of p25, median, p75, and the
        # ranks whose values are needed: 0, L-1, then i and i+1 of each
        c = self._length_consts.get(length)
        if c is None:
            f1 = self.f1
            f1[0] = 1.0 / length
            inv = f1[0]
            f1[0] = self.fs32 / (length - 1)
            mcr = f1[0]
            pct = []
            ranks = [0, length - 1]
            for p in (0.25, 0.5, 0.75):
                h = p * (length - 1)
                i = int(math.floor(h))
                f1[0] = h - i
                pct.append((i, f1[0], i + 1 >= length or f1[0] == 0.0))
                ranks.append(i)
                ranks.append(i + 1 if i + 1 < length else i)
            c = (inv, mcr, tuple(pct), tuple(ranks))
            self._length_consts[length] = c
        return c

    def _job(self, name, n, idx, dev):
        inv, mcr, pct, ranks = self._consts(n)
        # min and max alone need no sort (the light set's accelerometer axes)
        srt = idx[MEDIAN] >= 0 or idx[P25] >= 0 or idx[P75] >= 0 or idx[IQR] >= 0
        return (name, n, idx, dev, srt, inv, mcr, pct, ranks, array.array("i", bytearray(32)))

    def _order_stats(self, a, lst, n, ranks, bits):
        # values at the given ranks of the sorted window
        if _INT_SORT:
            s = sorted(array.array("i", bytearray(a)))
            # negative floats sort first, in reverse order: count them
            lo = 0
            hi = n
            while lo < hi:
                mid = (lo + hi) >> 1
                if s[mid] < 0:
                    lo = mid + 1
                else:
                    hi = mid
            neg = lo
            for j in range(8):
                r = ranks[j]
                bits[j] = s[neg - 1 - r] if r < neg else s[r]
            return array.array("f", bytearray(bits))
        s = sorted(lst)
        return [s[r] for r in ranks]

    def _stats(self, job, out):
        name, n, idx, dev, srt, inv, mcr, pct, ranks, bits = job
        a = self.arr[name]
        lst = self.lst[name]
        f1 = self.f1
        s = sum(lst)
        f1[0] = s
        f1[0] = f1[0] / n
        m = f1[0]
        v = None
        if srt:
            v = self._order_stats(a, lst, n, ranks, bits)
        elif idx[MIN] >= 0 or idx[MAX] >= 0 or idx[MCR] >= 0:
            # v[0], v[1] = min, max without sorting
            v2 = (min(lst), max(lst))
        if idx[MCR] >= 0:
            # mean crossings depend on each sample's side of the float32 mean:
            # if a sample is within the possible rounding difference of the
            # mean, recompute it exactly as numpy does (pairwise float32 sum
            # of the float32 samples) and count on the float32 samples
            lohi = v if v is not None else v2
            big = max(abs(lohi[0]), abs(lohi[1]))
            sumsq, cross, near = _moments(lst, n, m, dev, 2e-6 * big + 1e-30)
            if near:
                f1[0] = _pairwise(a, 0, n, self.r9)
                f1[0] = f1[0] / n
                m = f1[0]
                sumsq, cross, near = _moments(a, n, m, dev, 0.0)
            out[idx[MCR]] = cross * mcr
        else:
            sumsq, cross, near = _moments(lst, n, m, dev, 0.0)
        i = idx[MEAN]
        if i >= 0:
            out[i] = m
        i = idx[STD]
        if i >= 0:
            f1[0] = sumsq
            f1[0] = f1[0] * inv
            out[i] = math.sqrt(f1[0])
        i = idx[RMS]
        if i >= 0:
            # sum x^2 = sum (x - m)^2 + 2 m (sum x - n m) + n m^2
            f1[0] = sumsq + 2.0 * m * (s - n * m) + n * m * m
            f1[0] = f1[0] * inv
            out[i] = math.sqrt(f1[0])
        if v is not None:
            i = idx[MIN]
            if i >= 0:
                out[i] = v[0]
            i = idx[MAX]
            if i >= 0:
                out[i] = v[1]
            # type-7 percentiles lo + t (hi - lo), each step rounded to float32
            j = 2
            for k in range(3):
                pi, t, exact = pct[k]
                lo = v[j]
                if exact:
                    f1[0] = lo
                else:
                    f1[0] = v[j + 1] - lo
                    f1[0] = t * f1[0]
                    f1[0] = lo + f1[0]
                j += 2
                if k == 0:
                    q25 = f1[0]
                    i = idx[P25]
                elif k == 1:
                    i = idx[MEDIAN]
                else:
                    q75 = f1[0]
                    i = idx[P75]
                if i >= 0:
                    out[i] = f1[0]
            i = idx[IQR]
            if i >= 0:
                out[i] = q75 - q25
        else:
            i = idx[MIN]
            if i >= 0:
                out[i] = v2[0]
            i = idx[MAX]
            if i >= 0:
                out[i] = v2[1]
        return sumsq

    def _spectral_features(self, p, band_idx, i_dom, i_ent, i_cen, out):
        # p: power up to the factor self.scale (see __init__)
        bands = self.bands
        if self.half_last:
            p[self.kmax - 1] = p[self.kmax - 1] * 0.5
        tot, kbest, fp, e = _spectrum_sums(p, self.freqs, self.segments, bands, i_ent >= 0)
        if self.overlap:
            for b, (k0, k1) in enumerate(self.cfg.BAND_BINS):
                bands[b] = sum(p[k0 - 1:k1 - 1])
        c = self.scale
        for b in range(len(band_idx)):
            if band_idx[b] >= 0:
                out[band_idx[b]] = bands[b] * c
        f1 = self.f1
        f1[0] = tot * c
        if f1[0] > 0.0:
            if i_dom >= 0:
                out[i_dom] = self.freqs[kbest]
            if i_cen >= 0:
                out[i_cen] = fp / tot
            if i_ent >= 0:
                # -sum p ln p with p = P / T equals ln T - sum P ln P / T
                # (and is the same for P scaled by a constant)
                out[i_ent] = (math.log(tot) - e / tot) / self.log_k
        else:
            if i_dom >= 0:
                out[i_dom] = 0.0
            if i_cen >= 0:
                out[i_cen] = 0.0
            if i_ent >= 0:
                out[i_ent] = 0.0

    def _lap(self, timer, key, t0):
        t1 = time.ticks_us()
        timer[key] = timer.get(key, 0) + time.ticks_diff(t1, t0)
        return t1

    # ------------------------------------------------------------------ main
    def compute(self, out, timer=None):
        """Features of the window in self.channels, into out ('f' array); returns out."""
        cfg = self.cfg
        n = self.n
        f1 = self.f1
        arr = self.arr
        lst = self.lst
        if timer is not None:
            t0 = time.ticks_us()
        for i, name in enumerate(cfg.CHANNELS):
            lst[name] = list(self.channels[i])
        # magnitudes
        if self.acc_mag:
            a = self.acc
            _norm3(lst[a[0]], lst[a[1]], lst[a[2]], arr["acc_mag"], lst["acc_mag"], n)
        if self.gyro_mag:
            g = self.gyro
            _norm3(lst[g[0]], lst[g[1]], lst[g[2]], arr["gyro_mag"], lst["gyro_mag"], n)
        if timer is not None:
            t0 = self._lap(timer, "prepare", t0)
        # gravity, orientation, body
        if self.gravity:
            G = [0.0, 0.0, 0.0]
            sma = 0.0
            body = ("body_x", "body_y", "body_z")
            for ax in range(3):
                gs, sa = self._gravity(lst[self.acc[ax]], arr[body[ax]], lst[body[ax]], n,
                                       self.sos_coefs)
                f1[0] = gs
                f1[0] = f1[0] / n
                G[ax] = f1[0]
                sma += sa
            gx, gy, gz = G
            if cfg.GRAV_MEAN is not None:
                for ax in range(3):
                    if cfg.GRAV_MEAN[ax] >= 0:
                        out[cfg.GRAV_MEAN[ax]] = G[ax]
            tilt = cfg.TILT
            if tilt is not None:
                if tilt[0] >= 0:
                    out[tilt[0]] = math.atan2(math.sqrt(gy * gy + gz * gz), gx)
                if tilt[1] >= 0:
                    out[tilt[1]] = math.atan2(math.sqrt(gx * gx + gz * gz), gy)
                if tilt[2] >= 0:
                    out[tilt[2]] = math.atan2(math.sqrt(gx * gx + gy * gy), gz)
            bx = lst["body_x"]
            by = lst["body_y"]
            bz = lst["body_z"]
            _norm3(bx, by, bz, arr["body_mag"], lst["body_mag"], n)
            if cfg.BODY_SMA >= 0:
                f1[0] = sma
                out[cfg.BODY_SMA] = f1[0] * self.inv_n
            if timer is not None:
                t0 = self._lap(timer, "gravity", t0)
            if self.vert:
                f1[0] = gx * gx + gy * gy + gz * gz
                f1[0] = math.sqrt(f1[0])
                gnorm = f1[0]
                if gnorm > 0.0:
                    f1[0] = gx / gnorm
                    u0 = f1[0]
                    f1[0] = gy / gnorm
                    u1 = f1[0]
                    f1[0] = gz / gnorm
                    u2 = f1[0]
                else:
                    u0 = u1 = u2 = 0.0
                _vert_horiz(bx, by, bz, lst["body_mag"], arr["body_vert"], lst["body_vert"],
                            arr["body_horiz"], lst["body_horiz"], n, u0, u1, u2)
                if timer is not None:
                    t0 = self._lap(timer, "orientation-independent", t0)
        if cfg.GYRO_SMA >= 0:
            g = self.gyro
            f1[0] = _abs_sum3(lst[g[0]], lst[g[1]], lst[g[2]], n)
            out[cfg.GYRO_SMA] = f1[0] * self.inv_n
        if cfg.ENMO >= 0:
            f1[0] = _enmo_sum(lst["acc_mag"], n)
            out[cfg.ENMO] = f1[0] * self.inv_n
        if timer is not None:
            t0 = self._lap(timer, "enmo", t0)
        # jerk magnitudes
        for axes, name, _job in self.jerk:
            _jerk_mag(lst[axes[0]], lst[axes[1]], lst[axes[2]], arr[name], lst[name], n,
                      self.fs32)
        if timer is not None:
            t0 = self._lap(timer, "jerk", t0)
        # time statistics
        sumsq = self.sumsq
        for job in self.stats:
            sumsq[job[0]] = self._stats(job, out)
        for _axes, _name, job in self.jerk:
            self._stats(job, out)
        if timer is not None:
            t0 = self._lap(timer, "statistics", t0)
        # correlations
        dev = self.dev
        for a, b, k in self.corr:
            num = _dot(dev[a], dev[b], n)
            den = math.sqrt(sumsq[a] * sumsq[b])
            if den > 0.0:
                r = num / den
                if r > 1.0:
                    r = 1.0
                elif r < -1.0:
                    r = -1.0
            else:
                r = 0.0
            out[k] = r
        if timer is not None:
            t0 = self._lap(timer, "correlation", t0)
        # spectra
        spec = self.spectral
        if spec:
            power = self.power
            kmax = self.kmax
            if self.pow2:
                y = self.fft_buf
                for s in range(0, len(spec), 2):
                    a = spec[s][0]
                    if s + 1 < len(spec):
                        b = spec[s + 1][0]
                        _pack(y, self.rev, dev[a], dev[b], n)
                        _fft(y, self.plan, n)
                        _unpack_power(y, n, kmax, power[a], power[b])
                    elif self.half:
                        _pack_real(y, self.rev_half, dev[a], kmax)
                        _fft(y, self.plan_half, kmax)
                        _unpack_real_power(y, self.tw, kmax, power[a])
                    else:
                        _pack(y, self.rev, dev[a], dev[a], n)
                        _fft(y, self.plan, n)
                        _unpack_power(y, n, kmax, power[a], power[a])
            else:
                for s in spec:
                    _dft_power(dev[s[0]], n, kmax, power[s[0]])
            for name, band_idx, i_dom, i_ent, i_cen in spec:
                self._spectral_features(power[name], band_idx, i_dom, i_ent, i_cen, out)
            if timer is not None:
                self._lap(timer, "spectral", t0)
        return out


class Stacker:
    """Append the previous window's features and the deltas (cfg.STACK_PREVIOUS).

    The first window (or the first after reset()) uses itself as previous, as
    tinyhar.features.stack_previous does for the first window of a session.
    """

    def __init__(self, n_base):
        self.n = n_base
        self.prev = _farray(n_base)
        self.have_prev = False

    def reset(self):
        self.have_prev = False

    @micropython.native
    def stack(self, base, out):
        n = int(self.n)
        prev = self.prev
        if not self.have_prev:
            for i in range(n):
                prev[i] = base[i]
            self.have_prev = True
        for i in range(n):
            x = base[i]
            p = prev[i]
            out[i] = x
            out[n + i] = p
            out[2 * n + i] = x - p
            prev[i] = x
        return out
