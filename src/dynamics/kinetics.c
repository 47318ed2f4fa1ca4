/* Kinetic bookkeeping of the cage dynamics: allocation, soft-matrix jumps,
 * tau statistics. The per-segment output is diag/relaxation.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dynamics/kinetics.h"

static int wrap(int v, int L)
{
    v %= L;
    return v < 0 ? v + L : v;
}

/* Footprint F_8 of docs/model.md section 11: |dx| + |dy| <= 8 without the four tips.
 * On a periodic lattice shorter than 17 the diamond overlaps its own images;
 * a site is still one site of the footprint, so offsets are deduplicated. */
static int build_footprint(kinetics *k, const lattice *lat, sm_error *err)
{
    const int cap = 2 * KIN_SM_RADIUS * KIN_SM_RADIUS + 2 * KIN_SM_RADIUS + 1;
    k->fp_dx = malloc(sizeof *k->fp_dx * (size_t)cap);
    k->fp_dy = malloc(sizeof *k->fp_dy * (size_t)cap);
    if (!k->fp_dx || !k->fp_dy) return sm_fail(err, "kinetics: out of memory");
    const int periodic = lat->boundary == BOUNDARY_PERIODIC;
    k->nfp = 0;
    for (int dy = -KIN_SM_RADIUS; dy <= KIN_SM_RADIUS; dy++)
        for (int dx = -KIN_SM_RADIUS; dx <= KIN_SM_RADIUS; dx++) {
            const int r = abs(dx) + abs(dy);
            if (r > KIN_SM_RADIUS || (r == KIN_SM_RADIUS && (dx == 0 || dy == 0))) continue;
            const int ox = periodic ? wrap(dx, lat->Lx) : dx;
            const int oy = periodic ? wrap(dy, lat->Ly) : dy;
            int dup = 0;
            for (int i = 0; i < k->nfp && !dup; i++) dup = k->fp_dx[i] == ox && k->fp_dy[i] == oy;
            if (dup) continue;
            k->fp_dx[k->nfp] = ox;
            k->fp_dy[k->nfp] = oy;
            k->nfp++;
        }
    return 0;
}

static int narrow_stamps(int64_t sweeps) { return sweeps <= (int64_t)KIN_STAMP16_SWEEPS; }

/* The event buffers of an nx x ny region and the footprint of lat. */
static int init_events(kinetics *k, int nx, int ny)
{
    k->row_words = ((nx + 1) / 2 + 63) / 64;
    const size_t words = (size_t)ny * (size_t)k->row_words;
    k->ev_mask = calloc(words, sizeof *k->ev_mask);
    k->ev_sign = calloc(words, sizeof *k->ev_sign);
    k->nevents = calloc((size_t)ny, sizeof *k->nevents);
    return !k->ev_mask || !k->ev_sign || !k->nevents;
}

static void free_sites(kinetics *k)
{
    free(k->stamp16);
    free(k->stamp32);
    free(k->ev_mask);
    free(k->ev_sign);
    free(k->nevents);
    k->stamp16 = NULL, k->stamp32 = NULL, k->ev_mask = NULL, k->ev_sign = NULL, k->nevents = NULL;
}

int kinetics_init_counters(kinetics *k, const lattice *lat, int64_t sweeps, sm_error *err)
{
    memset(k, 0, sizeof *k);
    k->stamp_wide = !narrow_stamps(sweeps);
    if (!build_footprint(k, lat, err)) return 0;
    kinetics_free(k);
    return 1;
}

int kinetics_init_sites(kinetics *k, const lattice *lat, sm_error *err)
{
    if (k->stamp16 || k->stamp32) return 0;
    if (k->stamp_wide) k->stamp32 = malloc(sizeof *k->stamp32 * (size_t)lat->N);
    else k->stamp16 = malloc(sizeof *k->stamp16 * (size_t)lat->N);
    if ((!k->stamp16 && !k->stamp32) || init_events(k, lat->Lx, lat->Ly)) {
        free_sites(k);
        return sm_fail(err, "kinetics: out of memory for %lld sites", (long long)lat->N);
    }
    kinetics_clear_stamps(k, lat->N);
    return 0;
}

int kinetics_init(kinetics *k, const lattice *lat, int64_t sweeps, sm_error *err)
{
    if (kinetics_init_counters(k, lat, sweeps, err)) return 1;
    if (!kinetics_init_sites(k, lat, err)) return 0;
    kinetics_free(k);
    return 1;
}

int kinetics_init_events(kinetics *k, const lattice *lat, int nx, int ny, sm_error *err)
{
    memset(k, 0, sizeof *k);
    if (init_events(k, nx, ny)) {
        kinetics_free(k);
        return sm_fail(err, "kinetics: out of memory for the events of %dx%d sites", nx, ny);
    }
    if (build_footprint(k, lat, err)) {
        kinetics_free(k);
        return 1;
    }
    return 0;
}

double kinetics_bytes_per_site(int64_t sweeps)
{
    /* the stamp, and two event bits per site of one colour */
    const size_t stamp = narrow_stamps(sweeps) ? sizeof(uint16_t) : sizeof(uint32_t);
    return (double)stamp + 2.0 / 16.0;
}

void kinetics_clear_stamps(kinetics *k, int64_t N)
{
    for (int64_t a = 0; a < N; a++) kinetics_set_stamp(k, a, KIN_NO_STAMP);
}

int kinetics_widen_stamps(kinetics *k, int64_t N)
{
    if (!k->stamp16) {   /* already uint32, or not allocated (kinetics_init_counters) */
        k->stamp_wide = 1;
        return 0;
    }
    void *grown = realloc(k->stamp16, (size_t)N * sizeof(uint32_t));
    if (!grown) return -1;
    /* from the top down, as model_state_widen_z: the uint32 of site a
     * covers the uint16s of sites 2a and 2a + 1, both >= a; memcpy
     * because the same bytes are read as one type and written as another */
    unsigned char *bytes = grown;
    for (size_t a = (size_t)N; a-- > 0;) {
        uint16_t v;
        memcpy(&v, bytes + a * sizeof v, sizeof v);
        const uint32_t w = v == 0xFFFF ? KIN_NO_STAMP : v;
        memcpy(bytes + a * sizeof w, &w, sizeof w);
    }
    k->stamp16 = NULL;
    k->stamp32 = grown;
    k->stamp_wide = 1;
    return 0;
}

int kinetics_stamps_of_width(kinetics *k, int64_t N, int wide)
{
    if (wide ? k->stamp32 != NULL : k->stamp16 != NULL) return 0;
    void *fresh = malloc((size_t)N * (wide ? sizeof(uint32_t) : sizeof(uint16_t)));
    if (!fresh) return -1;
    free(k->stamp16);
    free(k->stamp32);
    k->stamp16 = wide ? NULL : fresh;
    k->stamp32 = wide ? fresh : NULL;
    k->stamp_wide = wide;
    return 0;
}

void kinetics_free(kinetics *k)
{
    free_sites(k);
    free(k->fp_dx);
    free(k->fp_dy);
    memset(k, 0, sizeof *k);
}

/* A sweep cannot report an error to its caller, and going on with a count
 * or stamp that does not fit would change the results: stop. */
static void widening_failed(const char *what, int64_t N)
{
    fprintf(stderr, "softmatrix: out of memory widening the %s of %lld sites to 32 bits\n", what,
            (long long)N);
    exit(SM_EXIT_RUNTIME);
}

void kinetics_before_sweep(kinetics *k, int64_t N, uint64_t sweep)
{
    if (!k->stamp_wide && sweep >= KIN_STAMP16_SWEEPS && kinetics_widen_stamps(k, N))
        widening_failed("kinetic stamps", N);
}

/* z += d at site a: in the int16 counts while they hold it, else in the
 * int32 counts, saturating instead of wrapping. */
static inline void add_jump(model_state *s, int64_t a, int d)
{
    if (s->zjumps) {
        const int v = s->zjumps[a] + d;
        if (v >= INT16_MIN && v <= INT16_MAX) {
            s->zjumps[a] = (int16_t)v;
            return;
        }
        if (model_state_widen_z(s)) widening_failed("z jump counts", s->N);
    }
    int32_t *zj = &s->zjumps_wide[a];
    const int64_t v = (int64_t)*zj + d;
    *zj = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* Site i of the footprint of (xa, ya) into (*x, *y); 0 when an open
 * boundary cuts it. */
static inline int footprint_site(const kinetics *k, const lattice *lat, int xa, int ya, int i, int *x,
                                 int *y)
{
    *x = xa + k->fp_dx[i];
    *y = ya + k->fp_dy[i];
    if (lat->boundary == BOUNDARY_PERIODIC) {
        *x -= *x >= lat->Lx ? lat->Lx : 0;
        *y -= *y >= lat->Ly ? lat->Ly : 0;
        return 1;
    }
    return *x >= 0 && *x < lat->Lx && *y >= 0 && *y < lat->Ly;
}

static void apply_one(const kinetics *k, const lattice *lat, model_state *s, int xa, int ya, int d)
{
    for (int i = 0; i < k->nfp; i++) {
        int x, y;
        if (footprint_site(k, lat, xa, ya, i, &x, &y)) add_jump(s, (int64_t)y * lat->Lx + x, d);
    }
}

/* The bit of event word i, bit b of a row whose sites of the colour start
 * at x0 (0 or 1). */
static inline int event_x(int w, int b, int x0) { return 2 * (64 * w + b) + x0; }

void kinetics_apply_jumps(kinetics *k, const lattice *lat, model_state *s, int colour)
{
    for (int y = 0; y < lat->Ly; y++) {
        if (!k->nevents[y]) continue;
        for (int w = 0; w < k->row_words; w++) {
            const int64_t i = (int64_t)y * k->row_words + w;
            for (uint64_t m = k->ev_mask[i]; m; m &= m - 1) {
                const int b = __builtin_ctzll(m);
                const int x = event_x(w, b, (y + colour) & 1);
                apply_one(k, lat, s, x, y, (k->ev_sign[i] >> b) & 1 ? 1 : -1);
            }
            k->ev_mask[i] = k->ev_sign[i] = 0;
        }
        k->nevents[y] = 0;
    }
}

int64_t kinetics_event_count(const kinetics *k, int ny)
{
    int64_t n = 0;
    for (int y = 0; y < ny; y++) n += k->nevents[y];
    return n;
}

void kinetics_take_events(kinetics *k, int ny, int x0, int32_t *ev)
{
    int64_t n = 0;
    for (int y = 0; y < ny; y++) {
        if (!k->nevents[y]) continue;
        for (int w = 0; w < k->row_words; w++) {
            const int64_t i = (int64_t)y * k->row_words + w;
            for (uint64_t m = k->ev_mask[i]; m; m &= m - 1) {
                const int b = __builtin_ctzll(m);
                ev[n++] = event_x(w, b, (x0 + y) & 1);
                ev[n++] = y;
                ev[n++] = (k->ev_sign[i] >> b) & 1 ? 1 : -1;
            }
            k->ev_mask[i] = k->ev_sign[i] = 0;
        }
        k->nevents[y] = 0;
    }
}

int kinetics_apply_event_block(const kinetics *k, const lattice *lat, int xa, int ya, int d, int32_t *z,
                               int gx0, int gy0, int nx, int ny)
{
    int out16 = 0;
    for (int i = 0; i < k->nfp; i++) {
        int x, y;
        if (!footprint_site(k, lat, xa, ya, i, &x, &y)) continue;
        x -= gx0;
        y -= gy0;
        if (x < 0 || x >= nx || y < 0 || y >= ny) continue;
        /* as add_jump: exact in int32, saturating */
        int32_t *zj = &z[(int64_t)y * nx + x];
        const int64_t v = (int64_t)*zj + d;
        *zj = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
        out16 |= *zj < INT16_MIN || *zj > INT16_MAX;
    }
    return out16;
}

kin_counters kinetics_diff(const kin_counters *now, const kin_counters *then)
{
    kin_counters d;
    for (int i = 0; i < KIN_NLOOPS; i++) {
        d.completions[i] = now->completions[i] - then->completions[i];
        d.undos[i] = now->undos[i] - then->undos[i];
    }
    for (int i = 0; i < KIN_NTAU; i++) {
        d.tau_sum[i] = now->tau_sum[i] - then->tau_sum[i];
        d.tau_sumsq[i] = now->tau_sumsq[i] - then->tau_sumsq[i];
        d.tau_count[i] = now->tau_count[i] - then->tau_count[i];
    }
    d.sm_jumps = now->sm_jumps - then->sm_jumps;
    return d;
}

void kinetics_tau(const kin_counters *c, int i, double *mean, double *error)
{
    const double n = (double)c->tau_count[i];
    if (n < 1) {
        *mean = *error = NAN;
        return;
    }
    const double m = (double)c->tau_sum[i] / n;
    *mean = m;
    if (n < 2) {
        *error = NAN;
        return;
    }
    const double var = ((double)c->tau_sumsq[i] - n * m * m) / (n - 1.0);
    *error = sqrt((var > 0 ? var : 0.0) / n);
}
