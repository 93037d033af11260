/* Example program for the tinyhar post-processing library (host build):
 *
 *   cc -std=c99 -O2 -o tinyhar_post_example post_main.c tinyhar_post.c
 *   ./tinyhar_post_example < windows.txt
 *
 * Input: one window per line, in time order: its TINYHAR_POST_N_CLASSES class
 * probabilities separated by commas, then (when TINYHAR_POST_N_FEATURES > 0)
 * a ';' and its TINYHAR_POST_N_FEATURES model inputs. An empty line ends a
 * session (the pending windows are decided and the next line starts a new
 * session); so does the end of the input.
 *
 * Output: "R <class>" per window (its class after rejection, as soon as it is
 * read) and "S <class>" per decided window (the smoothed class, in window
 * order, TINYHAR_POST_LAG windows later). A malformed line stops the program
 * with its line number on stderr and exit status 1.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinyhar_post.h"

#define MAX_LINE (1 << 20)

static char line[MAX_LINE];
static tinyhar_post_real proba[TINYHAR_POST_N_CLASSES];
static float features[TINYHAR_POST_N_FEATURES > 0 ? TINYHAR_POST_N_FEATURES : 1];
static int pending[TINYHAR_POST_LAG + 1];
static tinyhar_post_state state;

/* Parse up to max numbers separated by commas; return the count, -1 on junk. */
static int parse(char *s, double *out_d, float *out_f, int max)
{
    int n = 0;
    while (*s && *s != '\n' && *s != '\r' && *s != ';') {
        char *end;
        double v = strtod(s, &end);
        if (end == s || n >= max) {
            return -1;
        }
        if (out_d) {
            out_d[n] = v;
        } else {
            out_f[n] = strtof(s, &end);
        }
        n++;
        s = end;
        while (*s == ' ') {
            s++;
        }
        if (*s == ',') {
            s++;
        }
    }
    return n;
}

static void flush_session(void)
{
    const int n = tinyhar_post_flush(&state, pending);
    for (int i = 0; i < n; i++) {
        printf("S %d\n", pending[i]);
    }
}

int main(void)
{
    long lineno = 0;
    int open = 0;
    tinyhar_post_init(&state);
    while (fgets(line, sizeof(line), stdin)) {
        char *semi;
        int raw, cls;
        lineno++;
        if (line[0] == '\n' || line[0] == '\r' || line[0] == '\0') {
            if (open) {
                flush_session();
                open = 0;
            }
            continue;
        }
        if (parse(line, proba, NULL, TINYHAR_POST_N_CLASSES) != TINYHAR_POST_N_CLASSES) {
            fprintf(stderr, "line %ld: expected %d probabilities\n", lineno,
                    TINYHAR_POST_N_CLASSES);
            return 1;
        }
        semi = strchr(line, ';');
        if (TINYHAR_POST_N_FEATURES > 0
            && (!semi || parse(semi + 1, NULL, features, TINYHAR_POST_N_FEATURES)
                             != TINYHAR_POST_N_FEATURES)) {
            fprintf(stderr, "line %ld: expected ';' and %d features\n", lineno,
                    TINYHAR_POST_N_FEATURES);
            return 1;
        }
        cls = tinyhar_post_push(&state, proba, features, &raw);
        open = 1;
        printf("R %d\n", raw);
        if (cls >= 0) {
            printf("S %d\n", cls);
        }
    }
    if (open) {
        flush_session();
    }
    return 0;
}
