/* The field counts (core/counts.h): level histogram and staggered sum in
 * one pass over the int8 level and sigma arrays, byte-vector code over
 * rows. This pass is what measure_every = 1 adds to every sweep, so it has
 * to cost a fraction of a sweep (docs/performance.md). */
#include <string.h>
#include "core/counts.h"

enum { CNT_VEC = 16 };
/* 16 bytes: one SSE2 register. GCC splits the compares of a vector wider than the
 * hardware into scalar code, so the width is what every x86-64 has. */
typedef int8_t i8v __attribute__((vector_size(CNT_VEC)));

/* Per-lane counters: hist[k] counts level k = 0..8 (level -1 is the rest),
 * stag the signed staggered sum; int8 lanes hold 127 blocks of +-1 before
 * they must be emptied into the int64 totals. */
enum { CNT_FLUSH = 127 };
typedef struct {
    i8v hist[NLEVELS - 1], stag;
    int nblocks;
} lane_counts;

static void lanes_flush(lane_counts *c, field_counts *t)
{
    for (int j = 0; j < CNT_VEC; j++) {
        for (int k = 0; k < NLEVELS - 1; k++) t->hist[k + 1] += c->hist[k][j];
        t->stag += c->stag[j];
    }
    memset(c, 0, sizeof *c);
}

/* 16 sites of one row; alt: 0 where x + y is even, -1 where odd. A compare
 * yields -1 in a true lane, so subtracting it counts up. */
static inline void count_vec(const int8_t *lv, const int8_t *sg, i8v alt, lane_counts *c)
{
    i8v l, s;
    memcpy(&l, lv, sizeof l);
    memcpy(&s, sg, sizeof s);
    for (int k = 0; k < NLEVELS - 1; k++) c->hist[k] -= (i8v)(l == (int8_t)k);
    const i8v t = s & (i8v)(l >= 0);   /* n_a s_a in -1, 0, 1 */
    c->stag += (t ^ alt) - alt;        /* negated at odd x + y */
}

/* Rows y0 <= y < y1 of a block into t (levels 0..8 and the staggered sum;
 * level -1 is what remains). Cloned so that AVX2 machines run it with
 * three-operand (VEX) instructions, which need no register copies. */
void field_counts_rows(const int8_t *level, const int8_t *sigma, int64_t stride, int nx, int y0,
                       int y1, int parity, field_counts *t);
__attribute__((target_clones("avx2", "default")))
void field_counts_rows(const int8_t *level, const int8_t *sigma, int64_t stride, int nx, int y0,
                       int y1, int parity, field_counts *t)
{
    const int nvec = nx / CNT_VEC * CNT_VEC;
    i8v alt0;
    for (int j = 0; j < CNT_VEC; j++) alt0[j] = (int8_t)-(j & 1);
    lane_counts c;
    memset(&c, 0, sizeof c);
    for (int y = y0; y < y1; y++) {
        const int8_t *lv = level + (int64_t)y * stride, *sg = sigma + (int64_t)y * stride;
        const int odd = (y + parity) & 1;
        const i8v alt = odd ? ~alt0 : alt0;
        for (int x = 0; x < nvec; x += CNT_VEC) {
            count_vec(lv + x, sg + x, alt, &c);
            if (++c.nblocks == CNT_FLUSH) lanes_flush(&c, t);
        }
        for (int x = nvec; x < nx; x++) {
            const int l = lv[x];
            if (l >= 0) t->hist[l + 1]++;
            t->stag += (l >= 0) * sg[x] * (((x + odd) & 1) ? -1 : 1);
        }
    }
    lanes_flush(&c, t);
}

/* Below this many sites one thread counts: waking the others costs more. */
enum { CNT_PARALLEL_SITES = 1 << 16 };

void field_counts_block(const int8_t *level, const int8_t *sigma, int64_t stride, int nx, int ny,
                        int parity, field_counts *t)
{
    int64_t hist[NLEVELS] = {0}, stag = 0;
    #pragma omp parallel for schedule(static) reduction(+ : hist[:NLEVELS], stag) \
        if ((int64_t)nx * ny >= CNT_PARALLEL_SITES)
    for (int y = 0; y < ny; y += 16) {
        field_counts p = {{0}, 0};
        field_counts_rows(level, sigma, stride, nx, y, y + 16 < ny ? y + 16 : ny, parity, &p);
        for (int k = 1; k < NLEVELS; k++) hist[k] += p.hist[k];
        stag += p.stag;
    }
    int64_t hscl = 0;
    for (int k = 1; k < NLEVELS; k++) hscl += hist[k];
    hist[0] = (int64_t)nx * ny - hscl;
    field_counts mine = {.stag = stag};
    memcpy(mine.hist, hist, sizeof hist);
    field_counts_add(t, &mine);
}

void field_counts_lattice(const lattice *lat, const model_state *s, field_counts *t)
{
    memset(t, 0, sizeof *t);
    field_counts_block(s->level, s->sigma, lat->Lx, lat->Lx, lat->Ly, 0, t);
}
