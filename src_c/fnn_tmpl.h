/* Instantiate a kernel family for both dtypes. A family file starts with
 *
 *     #ifndef FNN_TMPL
 *     ...includes and dtype-free helpers...
 *     #define FNN_TMPL_SELF "family.c"
 *     #include "fnn_tmpl.h"
 *     #else
 *     ...body written with T, FN(op) (public name), LOC(op) (file-local name),
 *        MATH(fn) (float or double libm) and SQRT(x)...
 *     #endif
 *
 * and this header includes the file back twice: T = float with names fnn_s<op>, then
 * T = double with names fnn_d<op>. */
#define FNN_TMPL 1

#define T float
#define FN(op) fnn_s##op
#define LOC(op) op##_s
#define MATH(fn) fn##f
#define SQRT(x) sqrtf(x)
#include FNN_TMPL_SELF
#undef T
#undef FN
#undef LOC
#undef MATH
#undef SQRT

#define T double
#define FN(op) fnn_d##op
#define LOC(op) op##_d
#define MATH(fn) fn
#define SQRT(x) sqrt(x)
#include FNN_TMPL_SELF
#undef T
#undef FN
#undef LOC
#undef MATH
#undef SQRT
