/* placeholder */
#include "level_kernel.h"
#ifdef LEVEL_HAVE_SIMD
void level_interior_avx2(int8_t *lv, int8_t *sg, uint32_t ctr, int n, int64_t dup,
                         int64_t ddn, const level_rng *rk, const level_tables *t,
                         int move_levels, sweep_acc *A)
{
    uint32_t r0[64], r1[64], r2[64];
    for (int c = 0; c < n; c += 64) {
        const int m = n - c < 64 ? n - c : 64;
        level_philox_lanes(ctr + 2u * (uint32_t)c, rk->c1, rk->c2, rk->c3, rk->k0, rk->k1, m, r0, r1, r2);
        for (int j = 0; j < m; j++)
            site_interior(lv + 2 * (c + j), sg + 2 * (c + j), dup, ddn, r0[j], r1[j], r2[j], t, move_levels, A);
    }
}
#endif
