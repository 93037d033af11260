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
# Window lengths that are not a power of two use a plain DFT (n^2 / 2
# complex products per signal: slow for long windows). The
# gravity filter runs in one native loop written by the export for the
# model's coefficients (tinyhar_gravity.py: terms with coefficient 0 or 1 are
# dropped, which changes no result), imported like any module.
#
# Only the features listed in the plan of tinyhar_config.py are computed
# (an exported plan may leave out the features the trees never test: their
# outputs stay 0).
#
# Speed: MicroPython boxes every float it computes (a heap allocation, about
# 60 ns in the unix port; a complex operation about 80 ns), so the cost is
# the number of float operations. The loops read signals from lists of
# floats (no allocation per read) and keep a float32 array copy of each
# signal; min, max, percentiles and mean crossings run on integer keys of
# the float32 bit patterns in viper code (machine integers, no floats:
# selection instead of sorting); two accelerometer or gyroscope axes travel
# as one complex number through the magnitudes, the gravity filter and the
# jerk (componentwise, so exactly the per-axis arithmetic); names of
# built-ins used in loops are bound to locals (a global lookup per use
# otherwise).
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
#
# Input contract (tinyhar.features.validity, the same for the Python pipeline
# and the C export): compute raises InvalidInput, a ValueError, for a window
# holding a NaN, an infinity or a value with |x| > cfg.MAX_ABS_INPUT (g or
# rad/s); out is then left unchanged.

import array
import math
import sys
import time

import micropython
from micropython import const

# The statistic kernel's value slots (the job list r). The output order of the
# statistics is not fixed here: it is the plan's (cfg.STATISTICS, the statistic
# table of tinyhar.features.plan), and Features maps each index tuple of
# cfg.STATS / cfg.JERK from that order onto these slots by name (_SLOTS).
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
SKEWNESS = const(10)
N_SLOTS = const(11)
SUM = const(11)  # not an output: the plain sum, kept for rms
_SLOTS = ("mean", "std", "min", "max", "median", "p25", "p75", "iqr", "rms", "mcr", "skewness")
NO_STATS = (-1,) * N_SLOTS



# mirror of tinyhar.export.formats.EXPORT_FORMAT_VERSION (tests/export/test_formats.py)
EXPORT_FORMAT_VERSION = 2


def check_format(cfg):
    """Raise ValueError unless the config module cfg is of EXPORT_FORMAT_VERSION."""
    version = getattr(cfg, "EXPORT_FORMAT_VERSION", 0)
    if version != EXPORT_FORMAT_VERSION:
        raise ValueError(
            "tinyhar_config.py is export format %d, this tinyhar_features.py reads "
            "format %d: export the run again and copy the whole bundle"
            % (version, EXPORT_FORMAT_VERSION))


class InvalidInput(ValueError):
    """A window value is NaN, infinite or beyond cfg.MAX_ABS_INPUT (no class for it)."""


@micropython.native
def _load(src, dst, n, lim):
    # dst[i] = src[i] (a float32 array into the signal's list, in place: a new
    # list per channel and window fragments the heap until a long window's
    # list finds no room), and the index of the first value that is not
    # within [-lim, lim] (NaN compares false with everything), or -1
    bad = -1
    for i in range(n):
        v = src[i]
        dst[i] = v
        if bad < 0 and not (v <= lim and v >= -lim):
            bad = i
    return bad


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
def _sumsq(a, n, m, dev):
    # sum of squared deviations from m (two-pass variance); stores the
    # deviations in the list dev if given
    s = 0.0
    if dev is None:
        for i in range(n):
            d = a[i] - m
            s += d * d
    else:
        for i in range(n):
            d = a[i] - m
            dev[i] = d
            s += d * d
    return s


@micropython.native
def _moments23(a, n, m):
    # sums of (a[i] - m)^2 and (a[i] - m)^3 (skewness)
    s2 = 0.0
    s3 = 0.0
    for i in range(n):
        d = a[i] - m
        d2 = d * d
        s2 += d2
        s3 += d2 * d
    return s2, s3


@micropython.native
def _dev(a, n, m, dev):
    # dev[i] = a[i] - m (a signal of the spectra: its sum of squares comes
    # from the spectrum, see Features._spectra)
    for i in range(n):
        dev[i] = a[i] - m


# Order statistics and mean crossings run on integer keys of the float32
# samples (viper: machine integers, no float objects): the bit pattern b of a
# float32 read as a signed 32-bit integer orders the non-negative floats, and
# b ^ 0x7fffffff reverses the negative ones into place below them (-0.0 is
# mapped to the key of +0.0 as the two compare equal). Keys are stored in an
# 'i' array with _KEY_BIAS added: ptr32 reads zero-extend on 64-bit ports,
# where the biased (unsigned) order is then the integer order; 32-bit ports
# read them signed and use no bias. 1 << 31 is formed at run time (sh = 31):
# a 32-bit literal would not be a machine integer on 32-bit ports.
_KEY_BIAS = (1 << 31) if sys.maxsize > (1 << 40) else 0


@micropython.viper
def _order(a, keys, n: int, plan, nplan: int, vals, bias: int, sh: int):
    # vals[0], vals[1] = min, max of the float32 array a[:n]; vals[2 + j] =
    # the value of rank plan[3 j + 2] (ascending order): plan holds (lo, hi,
    # rank) triples run in turn, each a selection (Hoare's FIND, Wirth 1976)
    # of rank within keys[lo..hi], a range bounded by earlier selections
    src = ptr32(a)  # noqa: F821 (a viper built-in)
    k = ptr32(keys)  # noqa: F821 (a viper built-in)
    p = ptr16(plan)  # noqa: F821 (a viper built-in)
    v = ptr32(vals)  # noqa: F821 (a viper built-in)
    c = 1 << sh
    m = c - 1
    lo_key = m  # above every key
    hi_key = -c  # the lowest key
    for i in range(n):
        s = (src[i] ^ c) - c  # sign-extended bits
        if s < 0:
            s ^= m
            if s == -1:
                s = 0
        if s < lo_key:
            lo_key = s
        if s > hi_key:
            hi_key = s
        k[i] = s ^ bias
    q = 0
    out = 2
    while q < nplan:
        lo = p[q]
        hi = p[q + 1]
        r = p[q + 2]
        q += 3
        while lo < hi:
            x = k[r]
            i = lo
            j = hi
            while i <= j:
                while k[i] < x:
                    i += 1
                while x < k[j]:
                    j -= 1
                if i <= j:
                    t = k[i]
                    k[i] = k[j]
                    k[j] = t
                    i += 1
                    j -= 1
            if j < r:
                lo = i
            if r < i:
                hi = j
        s = ((k[r] ^ bias) ^ c) - c
        if s < 0:
            s ^= m
        v[out] = s
        out += 1
    if lo_key < 0:
        lo_key ^= m
    v[0] = lo_key
    if hi_key < 0:
        hi_key ^= m
    v[1] = hi_key


@micropython.viper
def _crossings(a, n: int, lim, sh: int) -> int:
    # number of changes of side (x >= m) along the float32 array a[:n], lim =
    # float32 array (m, lo, hi); -1 if a sample lies strictly between lo and
    # hi (its side could depend on the rounding of m)
    src = ptr32(a)  # noqa: F821 (a viper built-in)
    L = ptr32(lim)  # noqa: F821 (a viper built-in)
    c = 1 << sh
    msk = c - 1
    km = 0
    klo = 0
    khi = 0
    cross = 0
    prev = -1
    for i in range(-3, n):
        # i < 0: the keys of m, lo and hi first
        if i < 0:
            s = (L[i + 3] ^ c) - c
        else:
            s = (src[i] ^ c) - c
        if s < 0:
            s ^= msk
            if s == -1:
                s = 0
        if i >= 0:
            if klo < s:
                if s < khi:
                    return -1
            side = 1 if s >= km else 0
            if side != prev:
                if prev >= 0:
                    cross += 1
                prev = side
        elif i == -3:
            km = s
        elif i == -2:
            klo = s
        else:
            khi = s
    return cross


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


# Magnitudes |(x, y, z)| = abs(complex(abs(complex(x, y)), z)): abs() of a
# complex is sqrt(re^2 + im^2) in C, so 4 float/complex operations give what
# sqrt(x*x + y*y + z*z) takes 6 for (within 2 ulp of it, the rounding of the
# inner square root). The pairs complex(x, y) are kept in a list for the
# gravity filter and the jerk, which then run on two axes per operation
# (complex arithmetic is componentwise for sums and products with reals,
# hence exactly the real arithmetic of each axis).


@micropython.native
def _norm3(a, b, c, out, lst, pair, n):
    # out[i] = lst[i] = |(a[i], b[i], c[i])| (a, b, c: lists); pair[i] =
    # complex(a[i], b[i]) if pair is a list
    cx = complex
    fabs = abs
    if pair is None:
        for i in range(n):
            v = fabs(cx(fabs(cx(a[i], b[i])), c[i]))
            out[i] = v
            lst[i] = v
    else:
        for i in range(n):
            z = cx(a[i], b[i])
            pair[i] = z
            v = fabs(cx(fabs(z), c[i]))
            out[i] = v
            lst[i] = v


@micropython.native
def _pair(a, b, pair, n):
    # pair[i] = complex(a[i], b[i])
    cx = complex
    for i in range(n):
        pair[i] = cx(a[i], b[i])


@micropython.native
def _jerk_mag(pair, c, out, lst, n, fs):
    # |x[k+1] - x[k]| * fs over the three axes (N - 1 samples); pair: the
    # first two axes as complex numbers, c: the third (lists)
    cx = complex
    fabs = abs
    z0 = pair[0]
    c0 = c[0]
    for k in range(1, n):
        z1 = pair[k]
        c1 = c[k]
        v = fabs(cx(fabs(z1 - z0), c1 - c0)) * fs
        out[k - 1] = v
        lst[k - 1] = v
        z0 = z1
        c0 = c1


def _gravity_generic(pxy, az, bx, by, bz, lx, ly, lz, bm, lm, n, c):
    # same as the generated loop (real arithmetic per axis), for a bundle
    # without tinyhar_gravity.py or ports without native code
    ns = len(c) // 5
    gs = [0.0, 0.0, 0.0]
    sa = 0.0
    x0 = (pxy[0].real, pxy[0].imag, az[0])
    z = [0.0] * (6 * ns)
    for i in range(n):
        p = pxy[i]
        xs = (p.real, p.imag, az[i])
        ds = [0.0, 0.0, 0.0]
        for ax in range(3):
            xi = xs[ax]
            x = xi - x0[ax]
            for s in range(ns):
                b0, b1, b2, a1, a2 = c[5 * s:5 * s + 5]
                k = 2 * (ns * ax + s)
                o = b0 * x + z[k]
                z[k] = b1 * x - a1 * o + z[k + 1]
                z[k + 1] = b2 * x - a2 * o
                x = o
            g = x + x0[ax]
            gs[ax] += g
            ds[ax] = xi - g
            sa += abs(ds[ax])
        dx, dy, dz = ds
        bx[i] = lx[i] = dx
        by[i] = ly[i] = dy
        bz[i] = lz[i] = dz
        v = math.sqrt(dx * dx + dy * dy + dz * dz)
        bm[i] = lm[i] = v
    return complex(gs[0], gs[1]), gs[2], sa


@micropython.native
def _abs_sum3(a, b, c, n):
    # sum of |a| + |b| + |c| over n samples (lists)
    fabs = abs  # a local: a global name is looked up at every call
    s = 0.0
    for i in range(n):
        s += fabs(a[i]) + fabs(b[i]) + fabs(c[i])
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
    cx = complex
    h = n >> 1
    for i in range(h):
        u = cx(a[i], b[i])
        v = cx(a[i + h], b[i + h])
        j = rev[i]
        y[j] = u + v
        y[j + 1] = u - v


@micropython.viper
def _fft(y, plan, n: int):
    # the stages after the first (see _pack) of an in-place radix-2
    # decimation-in-time FFT of the list y, two stages at a time (radix-4
    # passes: half the loads and stores); plan: _fft_plan. Viper: the indices
    # are machine integers (the complex arithmetic is the same as in native
    # code)
    mi = -1j
    for stage in plan:
        half = int(stage[0])
        ws = stage[1]
        if int(len(ws)) == half:
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
    # weights: they cancel in the dominant frequency, entropy and centroid).
    # conj(z) = 2 Re(z) - z (exact) and |.| by abs() of the complex sums:
    # 9 float/complex operations per bin where real arithmetic takes 14 (abs
    # squared is within 2 ulp of the sum of squares)
    fabs = abs
    for k in range(1, kmax + 1):
        zk = y[k]
        zm = y[n - k]
        r = zm.real
        c = (r + r) - zm
        v = fabs(zk + c)
        pa[k - 1] = v * v
        v = fabs(zk - c)
        pb[k - 1] = v * v


@micropython.native
def _pack_real(y, rev, a, m):
    # y[rev[i]] = a[2i] + i a[2i+1]: one real signal of 2m samples as m
    # complex samples, in the bit-reversed input order of an m-point FFT,
    # and the first radix-2 stage (as _pack)
    cx = complex
    h = m >> 1
    for i in range(h):
        j = i + i
        u = cx(a[j], a[j + 1])
        j += m
        v = cx(a[j], a[j + 1])
        j = rev[i]
        y[j] = u + v
        y[j + 1] = u - v


@micropython.native
def _unpack_real_power(y, twm, m, p):
    # power of the real signal packed by _pack_real, from the m-point
    # spectrum Z in y (twm[k] = -i exp(-2 pi i k / 2m)): with E = Z_k +
    # conj(Z_{m-k}) and O = (Z_k - conj(Z_{m-k})) exp(-2 pi i k / 2m),
    # 2 X_k = E - i O = E + (Z_k - conj(Z_{m-k})) twm[k], so p[k-1] =
    # 4 |X_k|^2 for k = 1..m (Nyquist: 2 X_m = 2 (Re Z_0 - Im Z_0)), the
    # scale of _unpack_power (|.| by abs() as there)
    fabs = abs
    for k in range(1, m):
        zk = y[k]
        zm = y[m - k]
        r = zm.real
        c = (r + r) - zm  # conj(zm)
        v = fabs(zk + c + (zk - c) * twm[k])
        p[k - 1] = v * v
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


@micropython.native
def _dft_power(a, n: int, kmax: int, p, w):
    # plain DFT (window lengths that are not a power of two), same scale as
    # _unpack_power: p[k-1] = 4 |X_k|^2. w[j] = exp(-2 pi i j / n), j < n
    # (_dft_twiddles): the twiddle of sample i in bin k is w[i k mod n], the
    # index stepped by k (exact; no cos/sin per term, whose argument 2 pi k i
    # / n would lose digits in the float32 of a board), and one complex
    # product and sum per term (in the unix port 3.5 times faster than a cos
    # and a sin per term)
    for k in range(1, kmax + 1):
        acc = 0j
        j = 0
        for i in range(n):
            acc += a[i] * w[j]
            j += k
            if j >= n:
                j -= n
        p[k - 1] = 4.0 * (acc.real * acc.real + acc.imag * acc.imag)


def _dft_twiddles(n):
    # exp(-2 pi i j / n), j = 0..n-1, for _dft_power
    c = -2.0 * math.pi / n
    return [complex(math.cos(c * j), math.sin(c * j)) for j in range(n)]


@micropython.native
def _spectrum_sums(p, wf, segments, bands, want_e):
    # one pass over the power p[k-1], k = 1..K: total, first k of the maximum,
    # sum f_k P_k, sum P_k ln P_k (terms with P_k = 0 count 0; only if
    # want_e, else 0: the logarithms are the costly part), band sums. wf[k-1]
    # = complex(1, f_k): one product and one sum add P_k to the real part and
    # f_k P_k to the imaginary part of a segment's accumulator (exactly)
    log = math.log
    tot = 0.0
    fp = 0.0
    e = 0.0
    best = -1.0
    kbest = 0
    for k0, k1, b in segments:
        acc = 0j
        for k in range(k0, k1):
            v = p[k]
            acc += wf[k] * v
            if v > best:
                best = v
                kbest = k
            if want_e:
                if v > 0.0:
                    e += v * log(v)
        bs = acc.real
        if b >= 0:
            bands[b] = bs
        tot += bs
        fp += acc.imag
    return tot, kbest, fp, e


def _select_plan(ranks, n):
    # (lo, hi, rank) triples for _order, as array('H'): the ranks (ascending,
    # distinct) are selected middle first, each within the range left between
    # the ranks already selected, so that every range holds exactly the
    # samples of its ranks
    plan = []

    def split(rs, lo, hi):
        if rs:
            mid = len(rs) // 2
            r = rs[mid]
            plan.extend((lo, hi, r))
            split(rs[:mid], lo, r - 1)
            split(rs[mid + 1:], r + 1, hi)

    split(sorted(set(ranks)), 0, n - 1)
    return array.array("H", plan)


# --------------------------------------------------------------------------- extractor


class Features:
    """Feature extractor, one window at a time (see the module comment)."""

    def __init__(self, cfg):
        check_format(cfg)
        n = cfg.WINDOW
        self.n = n
        self.cfg = cfg
        self.max_abs = float(cfg.MAX_ABS_INPUT)
        self.n_features = cfg.N_BASE_FEATURES
        self.channels = [_farray(n) for _ in cfg.CHANNELS]
        self.f1 = _farray(1)  # float32 rounding register
        self.r9 = _farray(9)  # pairwise-sum accumulators
        self.lim = _farray(3)  # mean and its rounding margin (mean crossings)
        self.keys = array.array("i", bytearray(4 * n))  # integer keys (_order)
        consts = _from_bits((cfg.FS32_BITS, cfg.INV_N_BITS, cfg.LOG_K_BITS,
                             getattr(cfg, "FLAT_POWER_BITS", 0),
                             getattr(cfg, "CORR_FLOOR_BITS", 0)))
        self.fs32 = consts[0]
        self.inv_n = consts[1]
        self.log_k = consts[2]
        # flat windows (MIN_STD of tinyhar.features.catalog; 0 in the
        # configurations of older exports): total power below flat_power
        # gives 0 spectral features, a sum of squared deviations at most
        # corr_floor a correlation of 0
        self.flat_power = consts[3]
        self.corr_floor = consts[4]
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
        spec_names = set(s[0] for s in spectral)
        keep_dev = set(spec_names)
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
            # the loop specialised for these coefficients, written into the bundle by
            # the export as plain code (tinyhar_gravity.py); _gravity_generic otherwise
            self._gravity = _gravity_generic
            try:
                import tinyhar_gravity
            except ImportError:
                tinyhar_gravity = None
            if tinyhar_gravity is not None:
                if tuple(tuple(r) for r in tinyhar_gravity.SOS_BITS) != tuple(
                        tuple(r) for r in cfg.SOS_BITS):
                    raise ValueError(
                        "tinyhar_gravity.py was generated for another gravity filter than "
                        "tinyhar_config.py: copy the whole bundle of one export")
                self._gravity = tinyhar_gravity.gravity
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
        # the kernel slot of each statistic of the plan's order (cfg.STATISTICS)
        if not (hasattr(cfg, "STATISTICS") and hasattr(cfg, "LENGTHS")):
            raise ValueError(
                "tinyhar_config.py has no STATISTICS / LENGTHS (written by an older "
                "tinyhar): export the run again and copy the whole bundle")
        plan_stats = cfg.STATISTICS
        self._slot_of = [(_SLOTS.index(k) if k in _SLOTS else -1) for k in plan_stats]
        self._length_table = {}
        for length, inv_bits, mcr_bits, pcts in cfg.LENGTHS:
            c = _from_bits([inv_bits, mcr_bits] + [t for _name, _i, t in pcts])
            self._length_table[length] = (
                c[0], c[1], [(_SLOTS.index(name), c[2 + j], i)
                             for j, (name, i, _t) in enumerate(pcts)])
        # signals of the FFT spectra: sum of squared deviations by Parseval
        self.pow2 = n >= 4 and (n & (n - 1)) == 0
        self.spec_jobs = {}
        for name, idx in stats:
            if name not in arr:
                raise ValueError("tinyhar_features: unknown signal " + name)
            dev = None
            if name in keep_dev:
                dev = self.dev[name] = [0.0] * n
            spec = self.pow2 and name in spec_names
            job = self._job(name, n, idx, dev, spec)
            self.stats.append(job)
            if spec:
                self.spec_jobs[name] = job
        self.corr = corr
        self.jerk = []
        # complex(x, y) of each sensor whose gravity or jerk is computed
        self.pairs = {}
        if self.gravity:
            self.pairs["acc"] = [0j] * n
        for sensor, idx in cfg.JERK:
            if _active(idx):
                name = sensor + "_jerk_mag"
                arr[name] = _farray(n - 1)
                lst[name] = [0.0] * (n - 1)
                axes = self.acc if sensor == "acc" else self.gyro
                if sensor not in self.pairs:
                    self.pairs[sensor] = [0j] * n
                self.jerk.append((self.pairs[sensor], axes[2], name,
                                  self._job(name, n - 1, idx, None)))

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
            self.wf = [complex(1.0, f) for f in self.freqs]
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
            self.x0 = {}  # |X_0|^2 (the DC term of Parseval's sum) by signal
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
                    # -i tw[k], exactly (a swap and a sign)
                    self.twm = [complex(w.imag, -w.real) for w in self.tw]
            else:
                self.dft_w = _dft_twiddles(n)

    # ------------------------------------------------------------------ helpers
    def _slots(self, idx):
        # an index tuple of the plan's statistic order as a tuple of kernel slots
        out = [-1] * N_SLOTS
        for j, i in enumerate(idx):
            if i >= 0:
                slot = self._slot_of[j]
                if slot < 0:
                    raise ValueError(
                        "tinyhar_features: this tinyhar_features.py cannot compute the "
                        "statistic " + self.cfg.STATISTICS[j] + ": copy the whole bundle")
                out[slot] = i
        return tuple(out)

    def _consts(self, length):
        # per window length, from the plan (cfg.LENGTHS): float32(1/L),
        # float32(fs/(L-1)), the percentiles (slot, float32 fraction t of
        # h = p (L-1), exact when t = 0 or floor(h) is the last rank, and the
        # indices in the vals array of _order of the values of ranks floor(h)
        # and floor(h) + 1), and the selection plan of _order for those ranks
        c = self._length_consts.get(length)
        if c is None:
            inv, mcr, table = self._length_table[length]
            pct = []
            ranks = []
            for slot, t, i in table:
                exact = i + 1 >= length or t == 0.0
                pct.append((slot, t, exact, i))
                ranks.append(i)
                if not exact:
                    ranks.append(i + 1)
            plan = _select_plan(ranks, length)
            pos = [plan[q + 2] for q in range(0, len(plan), 3)]
            pct = tuple((slot, t, exact, 2 + pos.index(i), 0 if exact else 2 + pos.index(i + 1))
                        for slot, t, exact, i in pct)
            c = (inv, mcr, pct, plan)
            self._length_consts[length] = c
        return c

    def _job(self, name, n, idx, dev, spec=False):
        # spec: a signal of the FFT spectra (its sum of squared deviations
        # comes from the spectrum); the job's list r holds its statistics by
        # slot (MEAN..MCR) and the plain sum of the samples (SUM); idx is in
        # the plan's statistic order (cfg.STATISTICS), mapped to the slots here
        idx = self._slots(idx)
        inv, mcr, pct, plan = self._consts(n)
        # min and max alone need no selection (the light set's axes, jerk)
        if not (idx[MEDIAN] >= 0 or idx[P25] >= 0 or idx[P75] >= 0 or idx[IQR] >= 0):
            pct = None
            plan = array.array("H")
        order = pct is not None or idx[MIN] >= 0 or idx[MAX] >= 0 or idx[MCR] >= 0
        vals = _farray(2 + len(plan) // 3)
        # (slot, output index) of the statistics written out
        outs = tuple((j, idx[j]) for j in range(N_SLOTS) if idx[j] >= 0)
        return (name, n, idx, dev, order, inv, mcr, pct, plan, len(plan), vals, spec,
                [0.0] * (SUM + 1), outs)

    @micropython.native
    def _stats(self, job, out):
        # time statistics of one signal into out (slots of idx >= 0); returns
        # the sum of squared deviations from the mean, or None for a signal
        # of the FFT spectra (only its deviations here: _finish follows with
        # the sum of squares from the spectrum)
        name, n, idx, dev, order, inv, mcr, pct, plan, nplan, vals, spec, r, _outs = job
        a = self.arr[name]
        lst = self.lst[name]
        f1 = self.f1
        s = sum(lst)
        f1[0] = s
        f1[0] = f1[0] / n
        m = f1[0]
        src = lst
        if order:
            _order(a, self.keys, n, plan, nplan, vals, _KEY_BIAS, 31)
            r[MIN] = vals[0]
            r[MAX] = vals[1]
        if idx[MCR] >= 0:
            # mean crossings depend on each sample's side of the float32 mean:
            # if a sample is within the possible rounding difference of the
            # mean, recompute it exactly as numpy does (pairwise float32 sum
            # of the float32 samples) and count on the float32 samples
            tol = 2e-6 * max(abs(r[MIN]), abs(r[MAX])) + 1e-30
            lim = self.lim
            lim[0] = m
            lim[1] = m - tol
            lim[2] = m + tol
            cross = _crossings(a, n, lim, 31)
            if cross < 0:
                f1[0] = _pairwise(a, 0, n, self.r9)
                f1[0] = f1[0] / n
                m = f1[0]
                lim[0] = m
                lim[1] = m
                lim[2] = m
                cross = _crossings(a, n, lim, 31)
                src = a  # the float32 samples (lst of a derived signal: unrounded)
            r[MCR] = cross * mcr
        r[MEAN] = m
        r[SUM] = s
        if idx[SKEWNESS] >= 0:
            # Fisher-Pearson g1 = m3 / m2^(3/2) (Joanes & Gill 1998) about the
            # mean numpy computes (pairwise float32 sum): g1 moves by 3 dm / std
            # with the mean; 0 for a flat signal (m2 <= MIN_STD^2)
            f1[0] = _pairwise(a, 0, n, self.r9)
            f1[0] = f1[0] / n
            s2, s3 = _moments23(a, n, f1[0])
            m2 = s2 / n
            r[SKEWNESS] = (s3 / n) / (m2 * math.sqrt(m2)) if m2 > self.flat_power else 0.0
        if pct is not None:
            # type-7 percentiles lo + t (hi - lo), each step rounded to float32
            for slot, t, exact, jlo, jhi in pct:
                lo = vals[jlo]
                if exact:
                    f1[0] = lo
                else:
                    f1[0] = vals[jhi] - lo
                    f1[0] = t * f1[0]
                    f1[0] = lo + f1[0]
                r[slot] = f1[0]
            r[IQR] = r[P75] - r[P25]
        if spec:
            _dev(src, n, m, dev)
            return None
        sumsq = _sumsq(src, n, m, dev)
        self._finish(job, sumsq, out)
        return sumsq

    @micropython.native
    def _finish(self, job, sumsq, out):
        # std and rms from the sum of squared deviations, then every
        # statistic of the job into out
        n = job[1]
        idx = job[2]
        inv = job[5]
        r = job[12]
        f1 = self.f1
        f1[0] = sumsq
        f1[0] = f1[0] * inv
        r[STD] = math.sqrt(f1[0])
        if idx[RMS] >= 0:
            # sum x^2 = sum (x - m)^2 + 2 m (sum x - n m) + n m^2
            m = r[MEAN]
            f1[0] = sumsq + 2.0 * m * (r[SUM] - n * m) + n * m * m
            f1[0] = f1[0] * inv
            r[RMS] = math.sqrt(f1[0])
        for j, i in job[13]:
            out[i] = r[j]

    @micropython.native
    def _spectral_features(self, p, band_idx, i_dom, i_ent, i_cen, out):
        # p: power up to the factor self.scale (see __init__); returns the
        # total of p (with the Nyquist bin halved)
        bands = self.bands
        if self.half_last:
            p[self.kmax - 1] = p[self.kmax - 1] * 0.5
        tot, kbest, fp, e = _spectrum_sums(p, self.wf, self.segments, bands, i_ent >= 0)
        if self.overlap:
            for b, (k0, k1) in enumerate(self.cfg.BAND_BINS):
                bands[b] = sum(p[k0 - 1:k1 - 1])
        c = self.scale
        for b in range(len(band_idx)):
            if band_idx[b] >= 0:
                out[band_idx[b]] = bands[b] * c
        f1 = self.f1
        f1[0] = tot * c
        if f1[0] > 0.0 and f1[0] >= self.flat_power:
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
        return tot

    def _lap(self, timer, key, t0):
        t1 = time.ticks_us()
        timer[key] = timer.get(key, 0) + time.ticks_diff(t1, t0)
        return t1

    # ------------------------------------------------------------------ main
    def compute(self, out, timer=None):
        """Features of the window in self.channels, into out ('f' array); returns out.

        Raises InvalidInput for a NaN, inf or |x| > cfg.MAX_ABS_INPUT.
        """
        cfg = self.cfg
        n = self.n
        f1 = self.f1
        arr = self.arr
        lst = self.lst
        if timer is not None:
            t0 = time.ticks_us()
        lim = self.max_abs
        for i, name in enumerate(cfg.CHANNELS):
            values = lst[name]
            j = _load(self.channels[i], values, n, lim)
            if j >= 0:
                raise InvalidInput("invalid input: sample %d of %s is %r (NaN, inf or |x| > %g)"
                                   % (j, name, values[j], lim))
        # magnitudes, and the pairs complex(x, y) for gravity and jerk
        pairs = self.pairs
        for sensor, axes, mag in (("acc", self.acc, self.acc_mag),
                                  ("gyro", self.gyro, self.gyro_mag)):
            pair = pairs.get(sensor)
            if mag:
                name = sensor + "_mag"
                _norm3(lst[axes[0]], lst[axes[1]], lst[axes[2]], arr[name], lst[name], pair, n)
            elif pair is not None:
                _pair(lst[axes[0]], lst[axes[1]], pair, n)
        if timer is not None:
            t0 = self._lap(timer, "prepare", t0)
        # gravity, orientation, body
        if self.gravity:
            bx = lst["body_x"]
            by = lst["body_y"]
            bz = lst["body_z"]
            gxy, gsz, sma = self._gravity(
                pairs["acc"], lst[self.acc[2]], arr["body_x"], arr["body_y"], arr["body_z"],
                bx, by, bz, arr["body_mag"], lst["body_mag"], n, self.sos_coefs)
            G = []
            for gs in (gxy.real, gxy.imag, gsz):
                f1[0] = gs
                f1[0] = f1[0] / n
                G.append(f1[0])
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
        for pair, third, name, _job in self.jerk:
            _jerk_mag(pair, lst[third], arr[name], lst[name], n, self.fs32)
        if timer is not None:
            t0 = self._lap(timer, "jerk", t0)
        # time statistics (the sums of squares of the signals of the spectra
        # come with the spectra)
        sumsq = self.sumsq
        for job in self.stats:
            sumsq[job[0]] = self._stats(job, out)
        for _p, _third, _name, job in self.jerk:
            self._stats(job, out)
        if timer is not None:
            t0 = self._lap(timer, "statistics", t0)
        dev = self.dev
        # spectra
        spec = self.spectral
        if spec:
            power = self.power
            kmax = self.kmax
            if self.pow2:
                y = self.fft_buf
                x0 = self.x0
                for s in range(0, len(spec), 2):
                    a = spec[s][0]
                    if s + 1 < len(spec):
                        b = spec[s + 1][0]
                        _pack(y, self.rev, dev[a], dev[b], n)
                        _fft(y, self.plan, n)
                        v = y[0]  # X_0 + i Z_0
                        x0[a] = v.real * v.real
                        x0[b] = v.imag * v.imag
                        _unpack_power(y, n, kmax, power[a], power[b])
                    elif self.half:
                        _pack_real(y, self.rev_half, dev[a], kmax)
                        _fft(y, self.plan_half, kmax)
                        v = y[0]  # sum of the even + i sum of the odd samples
                        v = v.real + v.imag
                        x0[a] = v * v
                        _unpack_real_power(y, self.twm, kmax, power[a])
                    else:
                        _pack(y, self.rev, dev[a], dev[a], n)
                        _fft(y, self.plan, n)
                        v = y[0].real
                        x0[a] = v * v
                        _unpack_power(y, n, kmax, power[a], power[a])
            else:
                for s in spec:
                    _dft_power(dev[s[0]], n, kmax, power[s[0]], self.dft_w)
            for name, band_idx, i_dom, i_ent, i_cen in spec:
                tot = self._spectral_features(power[name], band_idx, i_dom, i_ent, i_cen, out)
                job = self.spec_jobs.get(name)
                if job is not None:
                    # Parseval: sum d^2 = (|X_0|^2 + sum_{k=1}^{n-1} |X_k|^2) / n,
                    # and tot (4 |X_k|^2 summed over k = 1..n/2, the last
                    # halved) is twice the sum over k = 1..n-1
                    ss = (x0[name] + 0.5 * tot) / n
                    sumsq[name] = ss
                    self._finish(job, ss, out)
            if timer is not None:
                t0 = self._lap(timer, "spectral", t0)
        # correlations
        floor = self.corr_floor
        for a, b, k in self.corr:
            num = _dot(dev[a], dev[b], n)
            den = math.sqrt(sumsq[a] * sumsq[b])
            if den > 0.0 and sumsq[a] > floor and sumsq[b] > floor:
                r = num / den
                if r > 1.0:
                    r = 1.0
                elif r < -1.0:
                    r = -1.0
            else:
                r = 0.0
            out[k] = r
        if timer is not None:
            self._lap(timer, "correlation", t0)
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
