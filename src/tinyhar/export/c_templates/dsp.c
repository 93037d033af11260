/* ------------------------------------------------------------------------
 * Signal processing (static template). Every function works on the static
 * buffers below: no malloc, no recursion deeper than log2(n / 128).
 *
 * Arithmetic is float32 throughout and follows the operation order of
 * tinyhar's numpy feature code, so that on the same platform most features
 * come out bit for bit identical (the FFT-based ones and the spectral
 * centroid differ by float rounding only). Build with -ffp-contract=off:
 * fused multiply-adds round differently.
 * ------------------------------------------------------------------------ */

#if THR_USE_TRIAD
static float thr_w3[3][THR_N];  /* a sensor triad (x, y, z); after the gravity
                                   stage, the body acceleration */
#endif
static float thr_sig[THR_N];    /* one derived signal (magnitude, body, jerk) */
static float thr_dev[THR_N];    /* the signal minus its mean; FFT in place */
static float thr_tmp[THR_N];    /* scratch: sorting, gravity, power spectrum */

/* Sum of a[0..n-1] in numpy's pairwise order (numpy's pairwise_sum:
 * 8 interleaved partial sums per block of at most 128 values, blocks
 * combined pairwise). Plain float32 adds; the order makes it match
 * numpy.sum exactly. */
static float thr_sum(const float *a, int n)
{
    if (n < 8) {
        float s = 0.0f;
        for (int i = 0; i < n; i++) {
            s += a[i];
        }
        return s;
    }
    if (n <= 128) {
        float r[8];
        int i;
        for (int j = 0; j < 8; j++) {
            r[j] = a[j];
        }
        for (i = 8; i < n - (n % 8); i += 8) {
            for (int j = 0; j < 8; j++) {
                r[j] += a[i + j];
            }
        }
        float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) {
            s += a[i];
        }
        return s;
    }
    int half = n / 2;
    half -= half % 8;
    return thr_sum(a, half) + thr_sum(a + half, n - half);
}

/* Dot product sum(a[i] * b[i]) with four interleaved accumulators over
 * blocks of 16 values, the order of numpy.einsum on x86-64 (SSE, 4 lanes),
 * then (acc0 + acc1) + (acc2 + acc3). */
static float thr_dot(const float *a, const float *b, int n)
{
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int l = 0; l < 4; l++) {
            float s = acc[l];
            s = a[i + 12 + l] * b[i + 12 + l] + s;
            s = a[i + 8 + l] * b[i + 8 + l] + s;
            s = a[i + 4 + l] * b[i + 4 + l] + s;
            s = a[i + l] * b[i + l] + s;
            acc[l] = s;
        }
    }
    for (; i < n; i += 4) {
        for (int l = 0; l < 4 && i + l < n; l++) {
            acc[l] = a[i + l] * b[i + l] + acc[l];
        }
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

#if THR_USE_TRIAD
/* Euclidean norm of a 3-vector, ((x*x + y*y) + z*z) as numpy evaluates it. */
static float thr_norm3(float x, float y, float z)
{
    return sqrtf((x * x + y * y) + z * z);
}
#endif

/* In-place ascending Shell sort (Ciura 2001 gap sequence): no recursion,
 * no extra memory, O(n^1.3) on sensor data. Only the gaps below THR_N are
 * compiled in: a pass with a gap >= n moves nothing. */
static void thr_sort(float *a, int n)
{
    static const uint16_t gaps[] = {
#if THR_N > 3548
        3548,
#endif
#if THR_N > 1577
        1577,
#endif
#if THR_N > 701
        701,
#endif
#if THR_N > 301
        301,
#endif
#if THR_N > 132
        132,
#endif
#if THR_N > 57
        57,
#endif
#if THR_N > 23
        23,
#endif
#if THR_N > 10
        10,
#endif
        4, 1};
    for (unsigned g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        const int gap = gaps[g];
        for (int i = gap; i < n; i++) {
            const float v = a[i];
            int j = i;
            while (j >= gap && a[j - gap] > v) {
                a[j] = a[j - gap];
                j -= gap;
            }
            a[j] = v;
        }
    }
}

/* Copy channel ch of a row-major window (THR_N rows of THR_C values) into
 * out, starting at row `start` and wrapping around (a ring buffer). */
static void thr_load(const float *buf, int start, int ch, float *out)
{
    int k = 0;
    for (int r = start; r < THR_N; r++) {
        out[k++] = buf[r * THR_C + ch];
    }
    for (int r = 0; r < start; r++) {
        out[k++] = buf[r * THR_C + ch];
    }
}

/* ---- stage "prepare": channels and magnitudes ------------------------- */

#if THR_USE_TRIAD
/* Load a sensor triad (channels cx, cy, cz) into thr_w3. */
static THR_NOINLINE void thr_stage_prepare_triad(const float *buf, int start,
                                                 int cx, int cy, int cz)
{
    thr_load(buf, start, cx, thr_w3[0]);
    thr_load(buf, start, cy, thr_w3[1]);
    thr_load(buf, start, cz, thr_w3[2]);
}

/* thr_sig = |thr_w3| per sample (acc_mag, gyro_mag). */
static THR_NOINLINE void thr_stage_prepare_magnitude(void)
{
    for (int k = 0; k < THR_N; k++) {
        thr_sig[k] = thr_norm3(thr_w3[0][k], thr_w3[1][k], thr_w3[2][k]);
    }
}
#endif

#if THR_N_OTHER > 0
/* Load one channel without a sensor role into thr_sig. */
static THR_NOINLINE void thr_stage_prepare_channel(const float *buf, int start, int ch)
{
    thr_load(buf, start, ch, thr_sig);
}
#endif

/* ---- stage "statistics" ----------------------------------------------- */

/* Statistics this kernel computes from the sorted signal (the others have
 * their own loops; max has one for blocks without an order statistic). */
#define THR_SORTED (THR_MIN | THR_MEDIAN | THR_P25 | THR_P75 | THR_IQR)

/* Time statistics of x[0..len->n - 1] (x is thr_w3[i] or thr_sig). Writes
 * the statistics selected in `stats` to out[0], out[1], ... in the order of
 * the THR_* bits (the plan's statistic table, generated above; v[THR_S_x]
 * holds statistic x); leaves x - mean in thr_dev (for the spectrum), and, if the
 * pointers are not NULL, the mean and sum((x - mean)^2) (for correlations).
 *
 * Definitions (tinyhar.features.catalog): mean = sum / n; std = sqrt(sum
 * (x - mean)^2 / n) (ddof 0); percentiles by linear interpolation on the
 * sorted values (Hyndman & Fan 1996, type 7, numpy's default); rms =
 * sqrt(sum x^2 / n); mcr = number of k with (x[k] >= mean) != (x[k-1] >=
 * mean), times fs / (n - 1); skewness = m3 / m2^(3/2) (Fisher-Pearson g1). */
static THR_NOINLINE void thr_stage_statistics(const float *x, const thr_length_t *len,
                                              unsigned stats, float *out,
                                              float *mean_out, float *sumsq_out)
{
    const int n = len->n;
    float v[THR_N_STATS];
    const float mean = thr_sum(x, n) / (float)n;
    for (int k = 0; k < n; k++) {
        thr_dev[k] = x[k] - mean;
    }
    const float sumsq = thr_dot(thr_dev, thr_dev, n);
    v[THR_S_MEAN] = mean;
    v[THR_S_STD] = sqrtf(sumsq * len->inv_n);
    if (stats & THR_SORTED) {
        memcpy(thr_tmp, x, (size_t)n * sizeof(float));
        thr_sort(thr_tmp, n);
        v[THR_S_MIN] = thr_tmp[0];
        v[THR_S_MAX] = thr_tmp[n - 1];
        for (int p = 0; p < THR_N_PCT; p++) {  /* percentiles, by increasing p */
            const int i = len->pct_i[p];
            const float t = len->pct_t[p];
            const float lo = thr_tmp[i];
            const float q = (i + 1 >= n || t == 0.0f) ? lo : lo + t * (thr_tmp[i + 1] - lo);
            v[THR_PCT_SLOT(p)] = q;
        }
        v[THR_S_IQR] = v[THR_S_P75] - v[THR_S_P25];
    } else if (stats & THR_MAX) {
        float m = x[0];
        for (int k = 1; k < n; k++) {
            m = x[k] > m ? x[k] : m;
        }
        v[THR_S_MAX] = m;
    }
    if (stats & THR_RMS) {
        v[THR_S_RMS] = sqrtf(thr_dot(x, x, n) * len->inv_n);
    }
    if (stats & THR_MCR) {
        int crossings = 0;
        for (int k = 1; k < n; k++) {
            crossings += (thr_dev[k] >= 0.0f) != (thr_dev[k - 1] >= 0.0f);
        }
        v[THR_S_MCR] = (float)crossings * len->mcr_scale;
    }
    if ((THR_USED_STATS & THR_SKEWNESS) && (stats & THR_SKEWNESS)) {
        /* Fisher-Pearson skewness g1 = m3 / m2^(3/2), m_k = sum(d^k) / n
         * (Joanes & Gill 1998); 0 for a flat signal (m2 <= MIN_STD^2). */
        for (int k = 0; k < n; k++) {
            thr_tmp[k] = thr_dev[k] * thr_dev[k];
        }
        const float m2 = sumsq * len->inv_n;
        const float m3 = thr_dot(thr_tmp, thr_dev, n) * len->inv_n;
        v[THR_S_SKEWNESS] = m2 > THR_FLAT_VARIANCE ? m3 / (m2 * sqrtf(m2)) : 0.0f;
    }
    for (int s = 0; s < THR_STATS_END; s++) {
        if (stats & (1u << s)) {
            *out++ = v[s];
        }
    }
    if (mean_out) {
        *mean_out = mean;
    }
    if (sumsq_out) {
        *sumsq_out = sumsq;
    }
}

#if THR_USE_SMA
/* Signal magnitude area of thr_w3: sum over samples of |x| + |y| + |z|,
 * divided by n (Karantonis et al. 2006). Each axis is summed separately
 * (pairwise), then the three sums in order, as numpy does. Run on a raw
 * triad (gyro_sma) and, after the gravity stage, on the body acceleration
 * (body_sma). */
static THR_NOINLINE void thr_stage_statistics_sma(float *out)
{
    float sma = 0.0f;
    for (int a = 0; a < 3; a++) {
        for (int k = 0; k < THR_N; k++) {
            thr_tmp[k] = fabsf(thr_w3[a][k]);
        }
        sma += thr_sum(thr_tmp, THR_N);
    }
    *out = sma * thr_len_full.inv_n;
}
#endif

/* ---- stage "correlation" ---------------------------------------------- */

#if THR_USE_CORRELATION
/* Pearson correlations of the axes of thr_w3 (xy, xz, yz) from their means
 * and sums of squared deviations: sum(da * db) / (sqrt(sum da^2) *
 * sqrt(sum db^2)), 0 when an axis is flat (sum d^2 <= THR_CORR_FLOOR =
 * n MIN_STD^2), clipped to [-1, 1]. */
static THR_NOINLINE void thr_stage_correlation(const float mean[3], const float sumsq[3],
                                               float *out)
{
    for (int p = 0; p < 3; p++) {
        const int a = p >> 1, b = (p + 3) >> 1;  /* axes (0, 1), (0, 2), (1, 2) */
        for (int k = 0; k < THR_N; k++) {
            thr_dev[k] = thr_w3[a][k] - mean[a];
            thr_tmp[k] = thr_w3[b][k] - mean[b];
        }
        const float num = thr_dot(thr_dev, thr_tmp, THR_N);
        float r = 0.0f;
        if (sumsq[a] > THR_CORR_FLOOR && sumsq[b] > THR_CORR_FLOOR) {
            r = num / (sqrtf(sumsq[a]) * sqrtf(sumsq[b]));
        }
        r = r < -1.0f ? -1.0f : (r > 1.0f ? 1.0f : r);
        out[p] = r;
    }
}
#endif

/* ---- stage "enmo" ----------------------------------------------------- */

#if THR_USE_ENMO
/* Euclidean norm minus one (van Hees et al. 2013): mean of max(|acc| - 1, 0),
 * from the acceleration magnitude in thr_sig. */
static THR_NOINLINE void thr_stage_enmo(float *out)
{
    for (int k = 0; k < THR_N; k++) {
        const float e = thr_sig[k] - 1.0f;
        thr_tmp[k] = e > 0.0f ? e : 0.0f;
    }
    *out = thr_sum(thr_tmp, THR_N) * thr_len_full.inv_n;
}
#endif

/* ---- stage "jerk" ----------------------------------------------------- */

#if THR_USE_JERK
/* Jerk magnitude |x[k+1] - x[k]| * fs of thr_w3, k = 0..n-2, into thr_sig. */
static THR_NOINLINE void thr_stage_jerk(void)
{
    for (int k = 0; k + 1 < THR_N; k++) {
        const float dx = (thr_w3[0][k + 1] - thr_w3[0][k]) * THR_FS;
        const float dy = (thr_w3[1][k + 1] - thr_w3[1][k]) * THR_FS;
        const float dz = (thr_w3[2][k + 1] - thr_w3[2][k]) * THR_FS;
        thr_sig[k] = thr_norm3(dx, dy, dz);
    }
}
#endif

/* ---- stage "gravity" -------------------------------------------------- */

#if THR_USE_GRAVITY
/* Gravity and body acceleration of the accelerometer triad in thr_w3.
 *
 * Gravity: low-pass Butterworth filter (Anguita et al. 2013) as cascaded
 * biquads in direct form II transposed (the structure of scipy.signal.sosfilt),
 * started at the steady state of the first sample x0, computed as
 * x0 + biquads(x - x0) from a zero state (exactly equivalent for a filter of
 * unit DC gain; see tinyhar.features.filters).
 *
 * Writes the mean gravity (grav_x/y/z_mean, g) to grav_out[0..2], the tilt
 * angles atan2(sqrt(Gb^2 + Gc^2), Ga) (rad) to tilt_out[0..2] and the unit
 * gravity direction (0 if |G| = 0) to u; replaces thr_w3 by the body
 * acceleration acc - gravity (whose SMA, body_sma, is the stage
 * thr_stage_statistics_sma). The two feature outputs are compiled in only if
 * the feature plan has them (THR_GRAVITY_MEAN, THR_GRAVITY_TILT); the driver
 * passes NULL for the others. */
static THR_NOINLINE void thr_stage_gravity(float *grav_out, float *tilt_out, float u[3])
{
    float g[3];
    for (int a = 0; a < 3; a++) {
        float *x = thr_w3[a];
        const float x0 = x[0];
        float z[THR_N_SECTIONS][2];
        memset(z, 0, sizeof(z));
        for (int k = 0; k < THR_N; k++) {
            float v = x[k] - x0;
            for (int s = 0; s < THR_N_SECTIONS; s++) {
                const float *c = thr_sos[s];  /* b0 b1 b2 a0 a1 a2, a0 = 1 */
                const float y = c[0] * v + z[s][0];
                z[s][0] = (c[1] * v - c[4] * y) + z[s][1];
                z[s][1] = c[2] * v - c[5] * y;
                v = y;
            }
            thr_tmp[k] = v + x0;  /* gravity */
        }
        g[a] = thr_sum(thr_tmp, THR_N) / (float)THR_N;
        for (int k = 0; k < THR_N; k++) {
            x[k] = x[k] - thr_tmp[k];  /* body acceleration */
        }
    }
    const float gnorm = sqrtf((g[0] * g[0] + g[1] * g[1]) + g[2] * g[2]);
    for (int a = 0; a < 3; a++) {
#if THR_GRAVITY_MEAN
        grav_out[a] = g[a];
#endif
        u[a] = gnorm > 0.0f ? g[a] / gnorm : 0.0f;
    }
#if THR_GRAVITY_TILT
    tilt_out[0] = atan2f(hypotf(g[1], g[2]), g[0]);
    tilt_out[1] = atan2f(hypotf(g[0], g[2]), g[1]);
    tilt_out[2] = atan2f(hypotf(g[0], g[1]), g[2]);
#endif
    (void)grav_out;
    (void)tilt_out;
}

/* ---- stage "body": body magnitude and orientation-independent signals -- */

#define THR_BODY_MAG 0
#define THR_BODY_VERT 1
#define THR_BODY_HORIZ 2

/* thr_sig = body_mag |b|, body_vert b . u (u: unit mean gravity; Mizell 2003)
 * or body_horiz sqrt(max(|b|^2 - vert^2, 0)), from the body acceleration
 * in thr_w3. */
static THR_NOINLINE void thr_stage_body(int kind, const float u[3])
{
    for (int k = 0; k < THR_N; k++) {
        const float bx = thr_w3[0][k], by = thr_w3[1][k], bz = thr_w3[2][k];
        const float mag = thr_norm3(bx, by, bz);
        const float vert = (bx * u[0] + by * u[1]) + bz * u[2];
        if (kind == THR_BODY_MAG) {
            thr_sig[k] = mag;
        } else if (kind == THR_BODY_VERT) {
            thr_sig[k] = vert;
        } else {
            const float h = mag * mag - vert * vert;
            thr_sig[k] = sqrtf(h > 0.0f ? h : 0.0f);
        }
    }
}
#endif

/* ---- stage "spectral" ------------------------------------------------- */

#if THR_USE_SPECTRAL
/* One-sided power spectrum S_k = c_k |X_k|^2 / n^2, k = 1..THR_K, of the
 * mean-removed signal in thr_dev (destroyed), into thr_tmp[k - 1]; X is the
 * plain DFT (no window function), c_k = 2 except 1 for the Nyquist bin. */
static void thr_power_spectrum(void)
{
#if THR_FFT_RADIX2
    /* Real FFT of n points as a complex FFT of m = n / 2 points of
     * z[j] = d[2j] + i d[2j+1] (the float pairs of thr_dev), followed by the
     * usual split into even and odd parts (e.g. Press et al., Numerical
     * Recipes, 2nd ed., section 12.3). The complex FFT is the iterative
     * radix-2 decimation-in-time algorithm of Cooley & Tukey (1965).
     * thr_cos[j] / thr_sin[j] = cos / sin(2 pi j / n), j < n / 2. */
    float *z = thr_dev;
    const int m = THR_N / 2;
    for (int i = 1, j = 0; i < m; i++) {  /* bit-reversal permutation */
        int bit = m >> 1;
        for (; j & bit; bit >>= 1) {
            j ^= bit;
        }
        j ^= bit;
        if (i < j) {
            float t = z[2 * i];
            z[2 * i] = z[2 * j];
            z[2 * j] = t;
            t = z[2 * i + 1];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j + 1] = t;
        }
    }
    for (int len = 2; len <= m; len <<= 1) {  /* butterflies */
        const int half = len >> 1;
        const int step = THR_N / len;  /* exp(-2 pi i j / len) = W_n^(j * step) */
        for (int i = 0; i < m; i += len) {
            for (int j = 0; j < half; j++) {
                const float wr = thr_cos[j * step], wi = -thr_sin[j * step];
                float *a = z + 2 * (i + j);
                float *b = z + 2 * (i + j + half);
                const float vr = b[0] * wr - b[1] * wi;
                const float vi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - vr;
                b[1] = a[1] - vi;
                a[0] = a[0] + vr;
                a[1] = a[1] + vi;
            }
        }
    }
    for (int k = 1; k < m; k++) {  /* X_k = E_k + W_n^k O_k */
        const float zr = z[2 * k], zi = z[2 * k + 1];
        const float cr = z[2 * (m - k)], ci = -z[2 * (m - k) + 1];  /* conj(Z_{m-k}) */
        const float er = 0.5f * (zr + cr), ei = 0.5f * (zi + ci);
        const float orr = 0.5f * (zi - ci), oi = -0.5f * (zr - cr);
        const float wr = thr_cos[k], wi = -thr_sin[k];
        const float xr = er + (wr * orr - wi * oi);
        const float xi = ei + (wr * oi + wi * orr);
        thr_tmp[k - 1] = (xr * xr + xi * xi) * THR_POWER_WEIGHT;
    }
    {
        const float x = z[0] - z[1];  /* Nyquist bin: Re Z_0 - Im Z_0 */
        thr_tmp[m - 1] = (x * x) * THR_POWER_WEIGHT_NYQUIST;
    }
#else
    /* Direct DFT (n is not a power of two): thr_cos[j] / thr_sin[j] =
     * cos / sin(2 pi j / n), j < n. */
    for (int k = 1; k <= THR_K; k++) {
        float re = 0.0f, im = 0.0f;
        int idx = 0;
        for (int i = 0; i < THR_N; i++) {
            re += thr_dev[i] * thr_cos[idx];
            im -= thr_dev[i] * thr_sin[idx];
            idx += k;
            if (idx >= THR_N) {
                idx -= THR_N;
            }
        }
        const float w = (2 * k == THR_N) ? THR_POWER_WEIGHT_NYQUIST : THR_POWER_WEIGHT;
        thr_tmp[k - 1] = (re * re + im * im) * w;
    }
#endif
}

/* Spectral features of the mean-removed signal left in thr_dev by
 * thr_stage_statistics: band powers (sum of S_k with lo < f_k <= hi; Bao &
 * Intille 2004), dominant frequency (first maximum; Huynh & Schiele 2005),
 * normalised spectral entropy -sum p ln p / ln K with p = S / sum S (Powell
 * & Percival 1979) and centroid sum f S / sum S (Peeters 2004). A flat
 * window (sum S < THR_FLAT_POWER = MIN_STD^2) gets 0 for the last three;
 * its band powers are kept (they are below MIN_STD^2), as in the Python code. */
static THR_NOINLINE void thr_stage_spectral(float *out)
{
    float *p = thr_tmp;
    float *logp = thr_dev;  /* free once the spectrum is computed */
    thr_power_spectrum();
    const float total = thr_sum(p, THR_K);
    const int nz = total >= THR_FLAT_POWER;
    const float safe_total = nz ? total : 1.0f;
    for (int b = 0; b < THR_N_BANDS; b++) {
        out[b] = thr_sum(p + thr_band_start[b], thr_band_count[b]);
    }
    int best = 0;
    for (int k = 1; k < THR_K; k++) {
        if (p[k] > p[best]) {
            best = k;
        }
    }
    const float centroid = thr_dot(p, thr_freqs, THR_K) / safe_total;
    for (int k = 0; k < THR_K; k++) {
        p[k] = p[k] / safe_total;
        logp[k] = logf(p[k] > 1e-30f ? p[k] : 1e-30f);
    }
    const float entropy = -thr_dot(p, logp, THR_K) / THR_LOG_K;
    out[THR_N_BANDS] = nz ? thr_freqs[best] : 0.0f;
    out[THR_N_BANDS + 1] = nz ? entropy : 0.0f;
    out[THR_N_BANDS + 2] = nz ? centroid : 0.0f;
}
#endif
