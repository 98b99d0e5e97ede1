/* numpy's legacy generator (np.random.seed + np.random.randn), so that the
 * tour draws the very vectors a notebook drew: MT19937 seeded as
 * RandomState.seed(int) does, normals by the polar method as its legacy
 * gauss does (pairs, the second kept for the next call). */
#ifndef EXAMPLES_NP_RANDOM_H
#define EXAMPLES_NP_RANDOM_H

#include <stdint.h>

typedef struct np_random {
    uint32_t mt[624];
    int pos;
    int has_gauss;
    double gauss;
} np_random;

/* np.random.seed(seed) */
void np_random_seed(np_random *r, uint32_t seed);

/* np.random.randn(n), rounded to float. */
void np_random_randn(np_random *r, float *x /* (n) */, int n);

#endif /* EXAMPLES_NP_RANDOM_H */
