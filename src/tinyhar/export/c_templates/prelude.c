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
