/* ------------------------------------------------------------------------
 * Public API (static template): tree ensemble, batch and streaming use.
 * ------------------------------------------------------------------------ */

#if TINYHAR_STACK_PREVIOUS
/* Model input j: the window's features, then the previous window's, then
 * their differences (tinyhar.features.stack_previous). */
static float thr_input(const float *f, const float *prev, int j)
{
    if (j < TINYHAR_N_WINDOW_FEATURES) {
        return f[j];
    }
    j -= TINYHAR_N_WINDOW_FEATURES;
    if (j < TINYHAR_N_WINDOW_FEATURES) {
        return prev[j];
    }
    j -= TINYHAR_N_WINDOW_FEATURES;
    return f[j] - prev[j];
}
#define THR_INPUT(f, prev, j) thr_input((f), (prev), (j))
#else
#define THR_INPUT(f, prev, j) ((f)[(j)])
#endif

/* Walk every tree (x <= threshold: left, as scikit-learn), add up the
 * quantised leaf probabilities and return the first class (in the model's
 * column order) with the highest integer score, as its index in
 * tinyhar_class_names; proba in that order too. */
int tinyhar_predict(const float *features, const float *previous, float *proba)
{
    uint32_t score[TINYHAR_N_CLASSES];
    uint32_t total = 0;
    int best = 0;
#if TINYHAR_STACK_PREVIOUS
    const float *prev = previous ? previous : features;
#else
    const float *prev = features;
    (void)previous;
#endif
    (void)prev;
    memset(score, 0, sizeof(score));
    for (int t = 0; t < THR_N_TREES; t++) {
        int node = thr_roots[t];
        while (node >= 0) {
            const float x = THR_INPUT(features, prev, thr_node_feature[node]);
            node = (x <= thr_node_threshold[node]) ? thr_node_left[node] : thr_node_right[node];
        }
        const uint8_t *leaf = thr_leaves[-node - 1];
        for (int c = 0; c < TINYHAR_N_CLASSES; c++) {
            score[c] += leaf[c];
        }
    }
    for (int c = 0; c < TINYHAR_N_CLASSES; c++) {
        total += score[c];
        if (score[c] > score[best]) {
            best = c;
        }
    }
    if (proba) {
        for (int c = 0; c < TINYHAR_N_CLASSES; c++) {
            proba[thr_class_index[c]] = total ? (float)score[c] / (float)total : 0.0f;
        }
    }
    return thr_class_index[best];
}

/* The input contract (tinyhar.features.validity): every value finite with
 * |v| <= TINYHAR_MAX_ABS_INPUT. Tested on the float32 bit pattern: with the
 * sign cleared, the bits of non-negative floats order as the floats, and NaN
 * and infinity lie above every finite value; unlike fabsf(v) <= max this
 * also holds under -ffast-math (which assumes there is no NaN). */
static int thr_check(const float *values, int count)
{
    for (int i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof(bits));
        if ((bits & 0x7fffffffu) > THR_MAX_ABS_BITS) {
            return TINYHAR_EINVAL;
        }
    }
    return 0;
}

int tinyhar_check_window(const float *window)
{
    return thr_check(window, TINYHAR_WINDOW_VALUES);
}

int tinyhar_features(const float *window, float *features)
{
    if (thr_check(window, TINYHAR_WINDOW_VALUES) != 0) {
        return TINYHAR_EINVAL;
    }
    thr_window_features(window, 0, features);
    return 0;
}

static float thr_features[TINYHAR_N_WINDOW_FEATURES];

int tinyhar_classify(const float *window, float *proba)
{
    if (tinyhar_features(window, thr_features) != 0) {
        return TINYHAR_EINVAL;
    }
    return tinyhar_predict(thr_features, NULL, proba);
}

#ifndef TINYHAR_NO_STREAM
static float thr_ring[THR_N * THR_C];  /* the last THR_N samples */
static int thr_ring_next;              /* row written next = oldest row */
static int thr_countdown = THR_N;      /* samples until the next window */
#if TINYHAR_STACK_PREVIOUS
static float thr_previous[TINYHAR_N_WINDOW_FEATURES];
static int thr_have_previous;
#endif

void tinyhar_stream_init(void)
{
    memset(thr_ring, 0, sizeof(thr_ring));
    thr_ring_next = 0;
    thr_countdown = THR_N;
#if TINYHAR_STACK_PREVIOUS
    thr_have_previous = 0;
#endif
}

int tinyhar_stream_push(const float *sample)
{
    memcpy(&thr_ring[thr_ring_next * THR_C], sample, sizeof(float) * THR_C);
    thr_ring_next = (thr_ring_next + 1 == THR_N) ? 0 : thr_ring_next + 1;
    if (--thr_countdown == 0) {
        thr_countdown = TINYHAR_HOP_SAMPLES;
        return 1;
    }
    return 0;
}

int tinyhar_stream_classify(float *proba)
{
    int cls;
    /* the ring holds exactly the window's samples (in rotated order) */
    if (thr_check(thr_ring, THR_N * THR_C) != 0) {
#if TINYHAR_STACK_PREVIOUS
        thr_have_previous = 0;  /* the next valid window starts a new recording */
#endif
        return TINYHAR_EINVAL;
    }
    thr_window_features(thr_ring, thr_ring_next, thr_features);
#if TINYHAR_STACK_PREVIOUS
    cls = tinyhar_predict(thr_features, thr_have_previous ? thr_previous : NULL, proba);
    memcpy(thr_previous, thr_features, sizeof(thr_previous));
    thr_have_previous = 1;
#else
    cls = tinyhar_predict(thr_features, NULL, proba);
#endif
    return cls;
}

const float *tinyhar_stream_features(void)
{
    return thr_features;
}
#endif /* TINYHAR_NO_STREAM */
