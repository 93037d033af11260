/* ------------------------------------------------------------------------
 * Building blocks shared by every tinyhar export (static template).
 * ------------------------------------------------------------------------ */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tinyhar_model.h"

/* The stages are kept out of line so that a profiler (valgrind's callgrind)
 * reports the cost of each feature group as the inclusive cost of one
 * function. The compiler may inline everything else. */
#if defined(__GNUC__) && !defined(__clang__)
#define THR_NOINLINE __attribute__((noinline, noclone))
#elif defined(__GNUC__)
#define THR_NOINLINE __attribute__((noinline))
#else
#define THR_NOINLINE
#endif

/* Time statistics, one bit each, in the order they are written out. */
#define THR_MEAN   (1u << 0)
#define THR_STD    (1u << 1)
#define THR_MIN    (1u << 2)
#define THR_MAX    (1u << 3)
#define THR_MEDIAN (1u << 4)
#define THR_P25    (1u << 5)
#define THR_P75    (1u << 6)
#define THR_IQR    (1u << 7)
#define THR_RMS    (1u << 8)
#define THR_MCR    (1u << 9)
#define THR_N_STATS 10
#define THR_ALL_STATS ((1u << THR_N_STATS) - 1u)
/* Statistics that need the sorted signal. */
#define THR_SORTED (THR_MIN | THR_MEDIAN | THR_P25 | THR_P75 | THR_IQR)

/* Constants of one signal length (a full window, or the N - 1 samples of a
 * jerk signal), computed by tinyhar in float64 and rounded to float32
 * exactly as the Python feature code rounds them. */
typedef struct {
    int n;            /* samples in the signal */
    float inv_n;      /* (float)(1 / n) */
    float mcr_scale;  /* (float)(fs / (n - 1)): mean crossings -> Hz */
    int pct_i[3];     /* p25, median, p75: i = floor(p * (n - 1)) */
    float pct_t[3];   /* interpolation weight (float)(p * (n - 1) - i) */
} thr_length_t;
