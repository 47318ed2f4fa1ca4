/* Kinetic bookkeeping of the cage dynamics: allocation, soft-matrix jumps,
 * tau statistics and their output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "io/h5out.h"
#include "dynamics/kinetics.h"

enum { SM_RADIUS = 8 };

static int wrap(int v, int L)
{
    v %= L;
    return v < 0 ? v + L : v;
}

/* Footprint F_8 of MODEL.md 5.2: |dx| + |dy| <= 8 without the four tips.
 * On a periodic lattice shorter than 17 the diamond overlaps its own images;
 * a site is still one site of the footprint, so offsets are deduplicated. */
static int build_footprint(kinetics *k, const lattice *lat, sm_error *err)
{
    const int cap = 2 * SM_RADIUS * SM_RADIUS + 2 * SM_RADIUS + 1;
    k->fp_dx = malloc(sizeof *k->fp_dx * (size_t)cap);
    k->fp_dy = malloc(sizeof *k->fp_dy * (size_t)cap);
    if (!k->fp_dx || !k->fp_dy) return sm_fail(err, "kinetics: out of memory");
    const int periodic = lat->boundary == BOUNDARY_PERIODIC;
    k->nfp = 0;
    for (int dy = -SM_RADIUS; dy <= SM_RADIUS; dy++)
        for (int dx = -SM_RADIUS; dx <= SM_RADIUS; dx++) {
            const int r = abs(dx) + abs(dy);
            if (r > SM_RADIUS || (r == SM_RADIUS && (dx == 0 || dy == 0))) continue;
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

int kinetics_init(kinetics *k, const lattice *lat, const model_params *p, sm_error *err)
{
    memset(k, 0, sizeof *k);
    const size_t N = (size_t)lat->N;
    k->row_cap = (lat->Lx + 1) / 2;
    k->last_sweep = malloc(sizeof *k->last_sweep * N);
    k->last_level = malloc(N);
    k->events = malloc(sizeof *k->events * (size_t)lat->Ly * (size_t)k->row_cap);
    k->nevents = calloc((size_t)lat->Ly, sizeof *k->nevents);
    if (!k->last_sweep || !k->last_level || !k->events || !k->nevents) {
        kinetics_free(k);
        return sm_fail(err, "kinetics: out of memory for %lld sites", (long long)lat->N);
    }
    for (size_t a = 0; a < N; a++) {
        k->last_sweep[a] = 0;
        k->last_level[a] = KIN_NONE;
    }
    if (build_footprint(k, lat, err)) {
        kinetics_free(k);
        return 1;
    }
    k->n_z = (float)pow(p->N_c, -p->Tg_over_Tm);
    return 0;
}

void kinetics_free(kinetics *k)
{
    free(k->last_sweep);
    free(k->last_level);
    free(k->events);
    free(k->nevents);
    free(k->fp_dx);
    free(k->fp_dy);
    memset(k, 0, sizeof *k);
}

void kinetics_apply_jumps(kinetics *k, const lattice *lat, model_state *s)
{
    const int Lx = lat->Lx, Ly = lat->Ly;
    const int periodic = lat->boundary == BOUNDARY_PERIODIC;
    for (int y = 0; y < Ly; y++) {
        for (int e = 0; e < k->nevents[y]; e++) {
            const int64_t ev = k->events[(int64_t)y * k->row_cap + e];
            const int64_t a = ev >> 1;
            const float dz = (ev & 1) ? k->n_z : -k->n_z;
            const int xa = lattice_x(lat, a), ya = lattice_y(lat, a);
            for (int i = 0; i < k->nfp; i++) {
                int x = xa + k->fp_dx[i], yy = ya + k->fp_dy[i];
                if (periodic) {
                    x -= x >= Lx ? Lx : 0;
                    yy -= yy >= Ly ? Ly : 0;
                } else if (x < 0 || x >= Lx || yy < 0 || yy >= Ly) {
                    continue;
                }
                s->z[(int64_t)yy * Lx + x] += dz;
            }
        }
        k->nevents[y] = 0;
    }
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

void kinetics_print(FILE *out, const kin_counters *seg, const sm_config *cfg)
{
    fprintf(out, "\ncage kinetics: tau_i = mean sweeps from completing loop i (reaching level i)"
                 " to completing loop i+1, [events]\n%-4s %-9s", "seg", "T");
    for (int i = 0; i < KIN_NTAU; i++) {
        char lab[16];
        snprintf(lab, sizeof lab, "tau_%d", i);
        fprintf(out, " %-21s", lab);
    }
    fprintf(out, " %s\n", "SM jumps");
    for (int s = 0; s < cfg->nseg; s++) {
        char T[32];
        if (cfg->seg[s].T_from == cfg->seg[s].T_to) snprintf(T, sizeof T, "%.4g", cfg->seg[s].T_from);
        else snprintf(T, sizeof T, "%.3g->%.3g", cfg->seg[s].T_from, cfg->seg[s].T_to);
        fprintf(out, "%-4d %-9s", s, T);
        for (int i = 0; i < KIN_NTAU; i++) {
            double m, e;
            kinetics_tau(&seg[s], i, &m, &e);
            char cell[64];
            if (isnan(m)) snprintf(cell, sizeof cell, "-");
            else if (isnan(e)) snprintf(cell, sizeof cell, "%.0f [%lld]", m, (long long)seg[s].tau_count[i]);
            else snprintf(cell, sizeof cell, "%.0f+-%.0f [%lld]", m, e, (long long)seg[s].tau_count[i]);
            fprintf(out, " %-21s", cell);
        }
        fprintf(out, " %lld\n", (long long)seg[s].sm_jumps);
    }
}

int kinetics_write(struct h5out *h, const kin_counters *seg, int nseg, sm_error *err)
{
    const size_t n = (size_t)nseg * KIN_NTAU;
    double *buf = malloc(sizeof *buf * (n * 3 + (size_t)nseg * (KIN_NLOOPS * 2 + 1)));
    if (!buf) return sm_fail(err, "out of memory");
    double *mean = buf, *error = buf + n, *count = buf + 2 * n;
    double *comp = buf + 3 * n, *undo = comp + (size_t)nseg * KIN_NLOOPS;
    double *jumps = undo + (size_t)nseg * KIN_NLOOPS;
    for (int s = 0; s < nseg; s++) {
        for (int i = 0; i < KIN_NTAU; i++) {
            kinetics_tau(&seg[s], i, &mean[s * KIN_NTAU + i], &error[s * KIN_NTAU + i]);
            count[s * KIN_NTAU + i] = (double)seg[s].tau_count[i];
        }
        for (int i = 0; i < KIN_NLOOPS; i++) {
            comp[s * KIN_NLOOPS + i] = (double)seg[s].completions[i];
            undo[s * KIN_NLOOPS + i] = (double)seg[s].undos[i];
        }
        jumps[s] = (double)seg[s].sm_jumps;
    }
    const uint64_t dt[2] = {(uint64_t)nseg, KIN_NTAU}, dl[2] = {(uint64_t)nseg, KIN_NLOOPS};
    const uint64_t d1 = (uint64_t)nseg;
    int rc = h5out_write_array(h, "/kinetics/tau/mean", 2, dt, mean, err) ||
             h5out_write_array(h, "/kinetics/tau/error", 2, dt, error, err) ||
             h5out_write_array(h, "/kinetics/tau/count", 2, dt, count, err) ||
             h5out_write_array(h, "/kinetics/loop_completions", 2, dl, comp, err) ||
             h5out_write_array(h, "/kinetics/loop_undos", 2, dl, undo, err) ||
             h5out_write_array(h, "/kinetics/soft_matrix_jumps", 1, &d1, jumps, err);
    free(buf);
    if (rc) return 1;
    return h5out_write_string_attr(h, "/kinetics/tau/mean", "description",
                                   "tau_i, i = 0..7: mean sweeps between a site's completion of loop i "
                                   "(phi 63->0 reaching level i) and its next completion, of loop i+1; "
                                   "rows: schedule segments (measured sweeps only)", err) ||
           h5out_write_string_attr(h, "/kinetics/loop_completions", "description",
                                   "loop completions (phi 63->0) per segment by the level reached, 0..8",
                                   err);
}
