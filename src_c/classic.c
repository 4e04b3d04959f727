/* The classic single-neuron learning rules (Rosenblatt 1958; Widrow & Hoff 1960). */
#ifndef FNN_TMPL
#include "fastnn.h"
#include "fnn_util.h"

#define FNN_TMPL_SELF "classic.c"
#include "fnn_tmpl.h"

#else /* ---- body, compiled once per dtype ---- */

/* One epoch of the perceptron rule over rows order[0..n): ŷ = step(w·x + b);
 * w += lr (y - ŷ) x, b += lr (y - ŷ). Sequential by nature: each update sees the last.
 * X [*, d], y [*] in {0, 1}. Returns the number of mistakes in the epoch. */
size_t FN(perceptron_epoch)(const T *X, const T *y, T *w, T *b, const int64_t *order,
                            size_t n, size_t d, double lr)
{
    size_t mistakes = 0;
    for (size_t i = 0; i < n; ++i) {
        const T *x = X + (size_t)order[i] * d;
        T s = *b;
        for (size_t j = 0; j < d; ++j) s += w[j] * x[j];
        T err = y[order[i]] - (s > 0 ? (T)1 : (T)0);
        if (err == 0) continue;
        ++mistakes;
        T a = (T)lr * err;
        for (size_t j = 0; j < d; ++j) w[j] += a * x[j];
        *b += a;
    }
    return mistakes;
}

#endif
