/* Example program for the tinyhar C export (host build: `make`).
 *
 *   ./tinyhar_example [--features] < samples.csv
 *       Streaming: one sample per line, TINYHAR_N_CHANNELS values in the
 *       channel order of tinyhar_model.h (comma, semicolon or space
 *       separated; empty lines, lines starting with '#' and a header line
 *       before the first sample are skipped). Prints one line per completed
 *       window (every TINYHAR_HOP_SAMPLES samples once the first window is
 *       full): time of the window end in s from the first sample, class
 *       name, the class probabilities (and with --features the window's
 *       features).
 *
 *   Invalid input: "nan", "inf" and out-of-range numbers are read as values;
 *   a window holding one (tinyhar_model.h, TINYHAR_MAX_ABS_INPUT) prints the
 *   class "invalid" (index TINYHAR_EINVAL in --windows mode) with "nan"
 *   probabilities and features, and the next window starts a new recording.
 *   A line that is not a list of numbers (or has the wrong count) stops the
 *   program with its line number on stderr and exit status 1: no sample is
 *   ever skipped silently.
 *
 *   ./tinyhar_example --windows < windows.csv
 *       Batch: one whole window per line, TINYHAR_N_SAMPLES x
 *       TINYHAR_N_CHANNELS values row-major (all channels of sample 0, then
 *       sample 1, ...). Prints per window: class index, class name, the
 *       TINYHAR_N_CLASSES probabilities and the TINYHAR_N_WINDOW_FEATURES
 *       features (%.9g, exact float32). Consecutive lines are consecutive
 *       windows of one recording; an empty line starts a new recording (this
 *       matters only for models that stack the previous window's features).
 *
 *   Class names are printed with '%', ',', control characters and bytes
 *   outside ASCII as %XX (two hex digits, as in URLs), so that a name never
 *   splits a field or a line; everything else as is.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyhar_model.h"

#define N_VALUES (TINYHAR_N_SAMPLES * TINYHAR_N_CHANNELS)
#define MAX_LINE (N_VALUES * 32 + 1024)

static char line[MAX_LINE];
static float window[N_VALUES];
static float features[TINYHAR_N_WINDOW_FEATURES];
static float previous[TINYHAR_N_WINDOW_FEATURES];
static float proba[TINYHAR_N_CLASSES];
static const char *bad_value;  /* where parse_floats met a non-number */

/* Parse up to max floats separated by commas, semicolons or blanks; return
 * how many were read, or -1 on a malformed value. */
static int parse_floats(char *s, float *out, int max)
{
    int n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == ',' || *s == ';' || *s == '\r' || *s == '\n') {
            s++;
        }
        if (*s == '\0') {
            return n;
        }
        char *end;
        float v = strtof(s, &end);
        if (end == s) {
            bad_value = s;
            return -1;
        }
        if (n < max) {
            out[n] = v;
        }
        n++;
        s = end;
    }
}

/* Read one line; return 0 at end of input, -1 if it does not fit. */
static int read_line(void)
{
    if (!fgets(line, sizeof(line), stdin)) {
        return 0;
    }
    size_t len = strlen(line);
    if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
        return -1;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        line[--len] = '\0';
    }
    return 1;
}

/* A class name with '%', ',', control and non-ASCII bytes as %XX. */
static void print_name(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p == '%' || *p == ',' || *p < 0x20 || *p >= 0x7f) {
            printf("%%%02X", (unsigned)*p);
        } else {
            putchar(*p);
        }
    }
}

static void print_result(int cls)
{
    print_name(tinyhar_class_names[cls]);
    for (int c = 0; c < TINYHAR_N_CLASSES; c++) {
        printf(",%.6f", (double)proba[c]);
    }
}

/* The line of a window refused by the library (TINYHAR_EINVAL). */
static void print_invalid(int n_features)
{
    printf("invalid");
    for (int c = 0; c < TINYHAR_N_CLASSES + n_features; c++) {
        printf(",nan");
    }
    printf("\n");
}

static int run_windows(void)
{
    long lineno = 0;
    int have_previous = 0;
    int r;
    while ((r = read_line()) != 0) {
        lineno++;
        if (r < 0) {
            fprintf(stderr, "line %ld: too long (more than %d characters)\n", lineno, MAX_LINE);
            return 1;
        }
        char *s = line;
        while (isspace((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0') {
            have_previous = 0;  /* a new recording starts */
            continue;
        }
        if (*s == '#') {
            continue;
        }
        int n = parse_floats(s, window, N_VALUES);
        if (n != N_VALUES) {
            fprintf(stderr, "line %ld: expected %d values (%d samples x %d channels, "
                    "row-major), got %d%s\n", lineno, N_VALUES, TINYHAR_N_SAMPLES,
                    TINYHAR_N_CHANNELS, n < 0 ? 0 : n, n < 0 ? " (not a number)" : "");
            return 1;
        }
        if (tinyhar_features(window, features) != 0) {
            printf("%d,", TINYHAR_EINVAL);
            print_invalid(TINYHAR_N_WINDOW_FEATURES);
            have_previous = 0;  /* the next window starts a new recording */
            continue;
        }
        int cls = tinyhar_predict(features, have_previous ? previous : NULL, proba);
        printf("%d,", cls);
        print_result(cls);
        for (int f = 0; f < TINYHAR_N_WINDOW_FEATURES; f++) {
            printf(",%.9g", (double)features[f]);
        }
        printf("\n");
        memcpy(previous, features, sizeof(previous));
        have_previous = 1;
    }
    return 0;
}

static int run_stream(int with_features)
{
    long lineno = 0;
    unsigned long n_samples = 0;
    int header_seen = 0;
    float sample[TINYHAR_N_CHANNELS];
    int r;
    tinyhar_stream_init();
    printf("time_s,class");
    for (int c = 0; c < TINYHAR_N_CLASSES; c++) {
        printf(",p_");
        print_name(tinyhar_class_names[c]);
    }
    printf("\n");
    while ((r = read_line()) != 0) {
        lineno++;
        if (r < 0) {
            fprintf(stderr, "line %ld: too long\n", lineno);
            return 1;
        }
        char *s = line;
        while (isspace((unsigned char)*s)) {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            continue;
        }
        int n = parse_floats(s, sample, TINYHAR_N_CHANNELS);
        if (n < 0 && n_samples == 0 && !header_seen
            && (isalpha((unsigned char)*s) || *s == '"')) {
            header_seen = 1;  /* a header line before the first sample */
            continue;
        }
        if (n != TINYHAR_N_CHANNELS) {
            fprintf(stderr, "line %ld: expected %d values (one sample: %s", lineno,
                    TINYHAR_N_CHANNELS, tinyhar_channel_names[0]);
            for (int c = 1; c < TINYHAR_N_CHANNELS; c++) {
                fprintf(stderr, ", %s", tinyhar_channel_names[c]);
            }
            if (n < 0) {
                fprintf(stderr, "), got a value that is not a number: %.40s\n", bad_value);
            } else {
                fprintf(stderr, "), got %d\n", n);
            }
            return 1;
        }
        n_samples++;
        if (tinyhar_stream_push(sample)) {
            int cls = tinyhar_stream_classify(proba);
            printf("%.4f,", (double)n_samples / (double)TINYHAR_SAMPLING_RATE_HZ);
            if (cls < 0) {
                print_invalid(with_features ? TINYHAR_N_WINDOW_FEATURES : 0);
                continue;
            }
            print_result(cls);
            if (with_features) {
                const float *f = tinyhar_stream_features();
                for (int k = 0; k < TINYHAR_N_WINDOW_FEATURES; k++) {
                    printf(",%.9g", (double)f[k]);
                }
            }
            printf("\n");
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int windows = 0, with_features = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--windows") == 0) {
            windows = 1;
        } else if (strcmp(argv[i], "--features") == 0) {
            with_features = 1;
        } else {
            fprintf(stderr, "usage: %s [--windows] [--features] < input.csv\n"
                    "  default: one sample per line (%d channels), a prediction every %d samples\n"
                    "  --windows: one window per line (%d values, row-major)\n",
                    argv[0], TINYHAR_N_CHANNELS, TINYHAR_HOP_SAMPLES, N_VALUES);
            return 2;
        }
    }
    return windows ? run_windows() : run_stream(with_features);
}
