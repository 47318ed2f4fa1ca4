/* Exact results for the validation suite; see exact.h for the contract.
 * Written from docs/model.md alone (no src/ code) so it checks the simulator
 * independently. */
#include "exact.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

const char *exact_strerror(int code)
{
    switch (code) {
    case EXACT_OK: return "ok";
    case EXACT_EINVAL: return "invalid argument";
    case EXACT_ENOMEM: return "out of memory";
    case EXACT_ERANGE: return "lattice too large for exact enumeration";
    default: return "unknown error";
    }
}

void exact_params_default(exact_params *p)
{
    p->eps_C = 0.125;
    p->g = 4.0;
    p->eps_step = 0.0;
    p->J = 0.125;
    p->h = 0.0;
    p->freeze_levels = false;
    p->freeze_level = 0;
}

/* Table 1 "C-bosons in V_i cluster", indexed l + 1. */
static const int CBOSONS[EXACT_NLEVELS] = {0, 4, 16, 36, 64, 100, 144, 196, 256, 320};

/* ------------------------------------------------------------------------ */
/* Geometry: site a = y*Lx + x, neighbours in directions +x, +y, -x, -y.    */
/* On a periodic direction of length 2 the +x and -x neighbours coincide;   */
/* keeping both slots is exactly the doubled-bond rule of docs/model.md section 4.       */

typedef struct {
    int Lx, Ly, N;
    int nbr[EXACT_MAX_SITES][4];
    int stag[EXACT_MAX_SITES]; /* (-1)^(x+y) */
} geom;

static void geom_init(geom *G, int Lx, int Ly)
{
    G->Lx = Lx;
    G->Ly = Ly;
    G->N = Lx * Ly;
    for (int y = 0; y < Ly; y++)
        for (int x = 0; x < Lx; x++) {
            int a = y * Lx + x;
            G->nbr[a][0] = y * Lx + (x + 1) % Lx;
            G->nbr[a][1] = ((y + 1) % Ly) * Lx + x;
            G->nbr[a][2] = y * Lx + (x + Lx - 1) % Lx;
            G->nbr[a][3] = ((y + Ly - 1) % Ly) * Lx + x;
            G->stag[a] = ((x + y) & 1) ? -1 : 1;
        }
}

/* ------------------------------------------------------------------------ */
/* Level enumeration.                                                       */
/*                                                                          */
/* H = H_level(l) + H_sigma(n, s) with H_level = eps_C sum C(l) +           */
/* eps_step sum |l_a - l_b|, so per HSCL mask n we need only the level sums */
/* A0[n] = sum g^(sum(l+1)) exp(-H_level/T) and the weighted level          */
/* observables. Sites are placed in row-major order; when site a is placed  */
/* the bonds whose both ends are now known are: its left neighbour's +x     */
/* bond, its upper neighbour's +y bond, its own +x bond if x = Lx-1 (wraps  */
/* to the placed x = 0) and its own +y bond if y = Ly-1. Each bond is thus  */
/* counted exactly once (twice for the doubled bonds of a length-2 period). */
/*                                                                          */
/* Pass 1 finds, per mask, the largest log weight (and its H_level) to use  */
/* as reference; pass 2 accumulates weights relative to it, so no g or T    */
/* overflows and dominant terms are O(1).                                   */

enum {
    LA_W = 0,   /* sum w */
    LA_H,       /* sum w (H_level - Href) */
    LA_H2,      /* sum w (H_level - Href)^2 */
    LA_C,       /* sum w sum_a C(l_a) */
    LA_STEP,    /* sum w sum_<ab> |l_a - l_b| */
    LA_LEV,     /* sum w sum_a l_a */
    LA_HIST,    /* sum w #(sites at level l), 10 entries */
    LA_N = LA_HIST + EXACT_NLEVELS
};

typedef struct {
    const geom *G;
    int lo, hi;            /* allowed levels (lo == hi when frozen) */
    long double lng, eC, eS, T;
    int pass;              /* 0 count only, 1 reference, 2 accumulate */
    int64_t count;
    long double *maxlog;   /* [mask] */
    long double *href;     /* [mask] */
    long double *acc;      /* [mask * LA_N + k] */
    int lev[EXACT_MAX_SITES];
    int hist[EXACT_NLEVELS];
} lvl_ctx;

static void lvl_leaf(lvl_ctx *c, uint32_t mask, int loops, int sumC, int steps, int lsum)
{
    c->count++;
    if (c->pass == 0)
        return;
    long double H = c->eC * sumC + c->eS * steps;
    long double lw = loops * c->lng - H / c->T;
    if (c->pass == 1) {
        if (lw > c->maxlog[mask]) {
            c->maxlog[mask] = lw;
            c->href[mask] = H;
        }
        return;
    }
    long double w = expl(lw - c->maxlog[mask]);
    long double dH = H - c->href[mask];
    long double *A = c->acc + (size_t)mask * LA_N;
    A[LA_W] += w;
    A[LA_H] += w * dH;
    A[LA_H2] += w * dH * dH;
    A[LA_C] += w * sumC;
    A[LA_STEP] += w * steps;
    A[LA_LEV] += w * lsum;
    for (int i = 0; i < EXACT_NLEVELS; i++)
        if (c->hist[i])
            A[LA_HIST + i] += w * c->hist[i];
}

static void lvl_dfs(lvl_ctx *c, int a, uint32_t mask, int loops, int sumC, int steps, int lsum)
{
    const geom *G = c->G;
    if (a == G->N) {
        lvl_leaf(c, mask, loops, sumC, steps, lsum);
        return;
    }
    int x = a % G->Lx, y = a / G->Lx;
    /* The already-placed sites this one is bonded to (with multiplicity). */
    int nb[4], nnb = 0;
    if (x > 0) nb[nnb++] = G->nbr[a][2];
    if (y > 0) nb[nnb++] = G->nbr[a][3];
    if (x == G->Lx - 1) nb[nnb++] = G->nbr[a][0];
    if (y == G->Ly - 1) nb[nnb++] = G->nbr[a][1];
    int lo = c->lo, hi = c->hi;
    for (int k = 0; k < nnb; k++) { /* RSOS pruning */
        int l = c->lev[nb[k]];
        if (l - 1 > lo) lo = l - 1;
        if (l + 1 < hi) hi = l + 1;
    }
    for (int l = lo; l <= hi; l++) {
        int ds = 0;
        for (int k = 0; k < nnb; k++)
            ds += abs(l - c->lev[nb[k]]);
        c->lev[a] = l;
        c->hist[l + 1]++;
        lvl_dfs(c, a + 1, l >= 0 ? mask | (1u << a) : mask, loops + l + 1,
                sumC + CBOSONS[l + 1], steps + ds, lsum + l);
        c->hist[l + 1]--;
    }
}

int64_t exact_rsos_count(int Lx, int Ly)
{
    if (Lx < 2 || Ly < 2 || Lx * Ly > EXACT_MAX_SITES)
        return -1;
    geom G;
    geom_init(&G, Lx, Ly);
    lvl_ctx c;
    memset(&c, 0, sizeof c);
    c.G = &G;
    c.lo = EXACT_LEVEL_MIN;
    c.hi = EXACT_LEVEL_MAX;
    c.pass = 0;
    lvl_dfs(&c, 0, 0, 0, 0, 0, 0);
    return c.count;
}

/* ------------------------------------------------------------------------ */
/* Spin sums for one HSCL mask.                                             */
/*                                                                          */
/* With s_a = 0 on plain HSMs, H_sigma = J sJ - h' M, sJ = sum_<ab> s_a s_b,*/
/* M = sum_a s_a, h' = h/16. Relative to the lower bound                    */
/* E_lb = -|J| B - |h'| k (B = bonds inside the mask, k = |mask|) the       */
/* energy is |J| u + |h'| v with integers u = B + sgn(J) sJ in [0, 2B] and  */
/* v = k - sgn(h') M in [0, 2k], so weights are table look-ups <= 1. The    */
/* 2^k spin states are visited in Gray-code order, one flip per step.       */

enum {
    SZ_W = 0, SZ_E, SZ_E2, /* sum w, sum w (H_s - E_lb), sum w (H_s - E_lb)^2 */
    SZ_SJ,                 /* sum w sJ */
    SZ_M, SZ_M2, SZ_AM,    /* sum w M, M^2, |M| */
    SZ_S, SZ_S2, SZ_AS,    /* sum w Ms, Ms^2, |Ms| */
    SZ_N
};

typedef struct {
    long double aJ, ah;    /* |J|, |h'| */
    int sgnJ, sgnh;
    const long double *TJ; /* exp(-|J| u / T), u = 0..4N */
    const long double *Th; /* exp(-|h'| v / T), v = 0..2N */
} spin_tab;

/* Returns B(mask) through *Bout. */
static void spin_sums(const geom *G, uint32_t mask, const spin_tab *t, long double out[SZ_N],
                      int *Bout)
{
    int idx[EXACT_MAX_SITES], k = 0;
    int s[EXACT_MAX_SITES];
    for (int a = 0; a < G->N; a++) {
        s[a] = (mask >> a) & 1u;
        if (s[a])
            idx[k++] = a;
    }
    int B = 0, Ms = 0;
    for (int a = 0; a < G->N; a++)
        if (s[a]) {
            B += s[G->nbr[a][0]] + s[G->nbr[a][1]];
            Ms += G->stag[a];
        }
    *Bout = B;
    int sJ = B, M = k;
    long double acc[SZ_N];
    for (int i = 0; i < SZ_N; i++)
        acc[i] = 0.0L;
    const uint32_t nstates = 1u << k;
    for (uint32_t i = 0;; i++) {
        int u = B + t->sgnJ * sJ, v = k - t->sgnh * M;
        long double w = t->TJ[u] * t->Th[v];
        long double e = t->aJ * u + t->ah * v;
        long double we = w * e;
        acc[SZ_W] += w;
        acc[SZ_E] += we;
        acc[SZ_E2] += we * e;
        acc[SZ_SJ] += w * sJ;
        acc[SZ_M] += w * M;
        acc[SZ_M2] += w * (M * M);
        acc[SZ_AM] += w * abs(M);
        acc[SZ_S] += w * Ms;
        acc[SZ_S2] += w * (Ms * Ms);
        acc[SZ_AS] += w * abs(Ms);
        if (i + 1 == nstates)
            break;
        /* Gray code: state i+1 differs from state i in bit ctz(i+1). */
        int a = idx[__builtin_ctz(i + 1)];
        int loc = s[G->nbr[a][0]] + s[G->nbr[a][1]] + s[G->nbr[a][2]] + s[G->nbr[a][3]];
        sJ -= 2 * s[a] * loc;
        M -= 2 * s[a];
        Ms -= 2 * s[a] * G->stag[a];
        s[a] = -s[a];
    }
    memcpy(out, acc, sizeof acc);
}

/* ------------------------------------------------------------------------ */

int exact_model(int Lx, int Ly, double T, const exact_params *p, exact_result *r)
{
    if (Lx < 2 || Ly < 2 || !(T > 0) || !(p->g > 0) || !isfinite(T))
        return EXACT_EINVAL;
    if (Lx * Ly > EXACT_MAX_SITES)
        return EXACT_ERANGE;
    if (p->freeze_levels &&
        (p->freeze_level < EXACT_LEVEL_MIN || p->freeze_level > EXACT_LEVEL_MAX))
        return EXACT_EINVAL;

    geom G;
    geom_init(&G, Lx, Ly);
    const int N = G.N;
    const size_t nmask = (size_t)1 << N;

    long double *maxlog = malloc(nmask * sizeof *maxlog);
    long double *href = malloc(nmask * sizeof *href);
    long double *lacc = calloc(nmask * LA_N, sizeof *lacc);
    long double *sacc = calloc(nmask * SZ_N, sizeof *sacc);
    int *Bm = calloc(nmask, sizeof *Bm);
    long double *TJ = malloc((4 * N + 1) * sizeof *TJ);
    long double *Th = malloc((2 * N + 1) * sizeof *Th);
    if (!maxlog || !href || !lacc || !sacc || !Bm || !TJ || !Th) {
        free(maxlog); free(href); free(lacc); free(sacc); free(Bm); free(TJ); free(Th);
        return EXACT_ENOMEM;
    }
    for (size_t n = 0; n < nmask; n++) {
        maxlog[n] = -INFINITY;
        href[n] = 0.0L;
    }

    /* Levels: two serial passes (cheap: ~1.6M leaves on 4x4), serial so
     * that the summation order, hence every bit of the result, is fixed. */
    lvl_ctx c;
    memset(&c, 0, sizeof c);
    c.G = &G;
    c.lo = p->freeze_levels ? p->freeze_level : EXACT_LEVEL_MIN;
    c.hi = p->freeze_levels ? p->freeze_level : EXACT_LEVEL_MAX;
    c.lng = logl((long double)p->g);
    c.eC = p->eps_C;
    c.eS = p->eps_step;
    c.T = T;
    c.maxlog = maxlog;
    c.href = href;
    c.acc = lacc;
    c.pass = 1;
    lvl_dfs(&c, 0, 0, 0, 0, 0, 0);
    c.count = 0;
    c.pass = 2;
    lvl_dfs(&c, 0, 0, 0, 0, 0, 0);
    const int64_t nconf = c.count;

    /* Spins: independent per mask, each mask writes only its own slot. */
    const long double hp = p->h / 16.0;
    spin_tab tab;
    tab.aJ = fabsl((long double)p->J);
    tab.ah = fabsl(hp);
    tab.sgnJ = p->J >= 0 ? 1 : -1;
    tab.sgnh = hp >= 0 ? 1 : -1;
    for (int u = 0; u <= 4 * N; u++)
        TJ[u] = expl(-tab.aJ * u / T);
    for (int v = 0; v <= 2 * N; v++)
        Th[v] = expl(-tab.ah * v / T);
    tab.TJ = TJ;
    tab.Th = Th;
#pragma omp parallel for schedule(dynamic, 64)
    for (size_t n = 0; n < nmask; n++)
        if (lacc[n * LA_N + LA_W] > 0)
            spin_sums(&G, (uint32_t)n, &tab, sacc + n * SZ_N, &Bm[n]);

    /* Combine: ln of the total weight of mask n is
     *   maxlog + ln A0 + (N-k) ln 2 + (E_lb-free spin part) ln Z_s + |E_lb|/T,
     * then normalise by log-sum-exp. All masks in a fixed order. */
    long double *Ln = malloc(nmask * sizeof *Ln);
    if (!Ln) {
        free(maxlog); free(href); free(lacc); free(sacc); free(Bm); free(TJ); free(Th);
        return EXACT_ENOMEM;
    }
    long double Lmax = -INFINITY;
    for (size_t n = 0; n < nmask; n++) {
        const long double *A = lacc + n * LA_N, *S = sacc + n * SZ_N;
        if (!(A[LA_W] > 0) || !(S[SZ_W] > 0)) {
            Ln[n] = -INFINITY;
            continue;
        }
        int k = __builtin_popcount((unsigned)n);
        long double Elb = -tab.aJ * Bm[n] - tab.ah * k;
        Ln[n] = maxlog[n] + logl(A[LA_W]) + (N - k) * logl(2.0L) + logl(S[SZ_W]) - Elb / T;
        if (Ln[n] > Lmax)
            Lmax = Ln[n];
    }
    long double Zs = 0;
    for (size_t n = 0; n < nmask; n++)
        if (Ln[n] > -INFINITY)
            Zs += expl(Ln[n] - Lmax);

    /* First moments (and mask means for the centred variance). */
    long double Hm = 0, eC = 0, eS = 0, eJ = 0, hsc = 0, lev = 0, hist[EXACT_NLEVELS] = {0};
    long double mM = 0, mM2 = 0, mAM = 0, mS = 0, mS2 = 0, mAS = 0;
    for (size_t n = 0; n < nmask; n++) {
        if (!(Ln[n] > -INFINITY))
            continue;
        const long double *A = lacc + n * LA_N, *S = sacc + n * SZ_N;
        long double pn = expl(Ln[n] - Lmax) / Zs;
        int k = __builtin_popcount((unsigned)n);
        long double Elb = -tab.aJ * Bm[n] - tab.ah * k;
        long double a0 = A[LA_W], z0 = S[SZ_W];
        long double meanL = href[n] + A[LA_H] / a0;
        long double meanS = Elb + S[SZ_E] / z0;
        Hm += pn * (meanL + meanS);
        eC += pn * A[LA_C] / a0;
        eS += pn * A[LA_STEP] / a0;
        eJ += pn * S[SZ_SJ] / z0;
        hsc += pn * k;
        lev += pn * A[LA_LEV] / a0;
        for (int i = 0; i < EXACT_NLEVELS; i++)
            hist[i] += pn * A[LA_HIST + i] / a0;
        mM += pn * S[SZ_M] / z0;
        mM2 += pn * S[SZ_M2] / z0;
        mAM += pn * S[SZ_AM] / z0;
        mS += pn * S[SZ_S] / z0;
        mS2 += pn * S[SZ_S2] / z0;
        mAS += pn * S[SZ_AS] / z0;
    }
    /* Variance as a sum of centred pieces: given the mask, level and spin
     * energies are independent, so Var = E_n[VarL + VarS + (mean_n - <H>)^2]. */
    long double var = 0;
    for (size_t n = 0; n < nmask; n++) {
        if (!(Ln[n] > -INFINITY))
            continue;
        const long double *A = lacc + n * LA_N, *S = sacc + n * SZ_N;
        long double pn = expl(Ln[n] - Lmax) / Zs;
        int k = __builtin_popcount((unsigned)n);
        long double Elb = -tab.aJ * Bm[n] - tab.ah * k;
        long double a0 = A[LA_W], z0 = S[SZ_W];
        long double dL = A[LA_H] / a0, dS = S[SZ_E] / z0;
        long double varL = A[LA_H2] / a0 - dL * dL;
        long double varS = S[SZ_E2] / z0 - dS * dS;
        long double d = href[n] + dL + Elb + dS - Hm;
        var += pn * (varL + varS + d * d);
    }

    memset(r, 0, sizeof *r);
    r->Lx = Lx;
    r->Ly = Ly;
    r->N = N;
    r->T = T;
    r->n_level_configs = nconf;
    r->log_Z = (double)(Lmax + logl(Zs));
    r->energy = (double)(Hm / N);
    r->specific_heat = (double)(var / ((long double)N * T * T));
    r->e_C = (double)(p->eps_C * eC / N);
    r->e_step = (double)(p->eps_step * eS / N);
    r->e_J = (double)(p->J * eJ / N);
    r->e_h = (double)(-hp * mM / N);
    for (int i = 0; i < EXACT_NLEVELS; i++)
        r->f_level[i] = (double)(hist[i] / N);
    r->hscl_fraction = (double)(hsc / N);
    r->mean_level = (double)(lev / N);
    r->cbosons = (double)(eS / N);
    r->n_sm = 200.0 * r->f_level[EXACT_NLEVELS - 1];
    r->m = (double)(mM / N);
    r->m2 = (double)(mM2 / ((long double)N * N));
    r->abs_m = (double)(mAM / N);
    r->ms = (double)(mS / N);
    r->ms2 = (double)(mS2 / ((long double)N * N));
    r->abs_ms = (double)(mAS / N);

    free(Ln);
    free(maxlog); free(href); free(lacc); free(sacc); free(Bm); free(TJ); free(Th);
    return EXACT_OK;
}

/* ------------------------------------------------------------------------ */
/* Finite-lattice Ising model by a site-by-site row transfer matrix.        */
/*                                                                          */
/* For each fixed first row s0 (periodic in y) the vector over the current  */
/* row state is advanced one site at a time: placing site (x, y) replaces   */
/* bit x (which held the spin above it) by the new spin. Bonds added: up    */
/* (old bit x), left (bit x-1, already the new row) and, at x = Lx-1, the   */
/* wrap bond to bit 0 (doubled when Lx = 2, as it must be). After the last  */
/* row the +y bonds of row Ly-1 close onto s0 (doubled when Ly = 2).        */
/* Weights are relative to the lower bound E_lb = -2N|J| - N|h'| (every     */
/* factor <= 1). Three variants: the distribution of Q = sum c_a s_a with   */
/* c = 1 (M) or c = (-1)^(x+y) (M_s), and the first two energy moments.     */
/* Results per s0 are kept in their own slot and summed in order, so the    */
/* answer does not depend on the thread count.                              */

typedef struct {
    int Lx, Ly, N;
    long double J, hp, T, aJ, ah;
    long double bondw[2]; /* index: 1 if spins equal; weight of one bond */
    long double bonde[2]; /* its energy J s s' */
    long double fieldw[2];/* index: bit (1 = spin +1) */
    long double fielde[2];
} ising_tm;

static inline int spin_of(unsigned bits, int x) { return ((bits >> x) & 1u) ? 1 : -1; }

/* Distribution pass. coef(x, y) = 1 or (-1)^(x+y). out[q], q = Q + N. */
static void ising_dist_s0(const ising_tm *I, unsigned s0, int stag, long double *out,
                          long double *va, long double *vb)
{
    const int Lx = I->Lx, N = I->N, W = 2 * N + 1;
    const unsigned ns = 1u << Lx;
    memset(va, 0, ns * W * sizeof *va);
    long double w0 = 1.0L;
    int Q0 = 0;
    for (int x = 0; x < Lx; x++) {
        int s = spin_of(s0, x), sr = spin_of(s0, (x + 1) % Lx);
        w0 *= I->bondw[s == sr] * I->fieldw[s > 0];
        Q0 += s * ((stag && (x & 1)) ? -1 : 1);
    }
    va[(size_t)s0 * W + Q0 + N] = w0;
    int placed = Lx; /* |Q| <= placed */
    for (int y = 1; y < I->Ly; y++)
        for (int x = 0; x < Lx; x++) {
            memset(vb, 0, ns * W * sizeof *vb);
            int c = (stag && ((x + y) & 1)) ? -1 : 1;
            unsigned bit = 1u << x;
            for (unsigned st = 0; st < ns; st++) {
                const long double *src = va + (size_t)st * W;
                int up = spin_of(st, x);
                for (int sn = -1; sn <= 1; sn += 2) {
                    long double t = I->bondw[sn == up] * I->fieldw[sn > 0];
                    if (x > 0) t *= I->bondw[sn == spin_of(st, x - 1)];
                    if (x == Lx - 1) t *= I->bondw[sn == spin_of(st, 0)];
                    unsigned to = sn > 0 ? (st | bit) : (st & ~bit);
                    long double *dst = vb + (size_t)to * W + c * sn;
                    for (int q = N - placed; q <= N + placed; q++)
                        dst[q] += t * src[q];
                }
            }
            placed++;
            long double *tmp = va; va = vb; vb = tmp;
        }
    for (int q = 0; q < W; q++)
        out[q] = 0;
    for (unsigned st = 0; st < ns; st++) {
        long double t = 1.0L;
        for (int x = 0; x < Lx; x++)
            t *= I->bondw[spin_of(st, x) == spin_of(s0, x)];
        for (int q = 0; q < W; q++)
            out[q] += t * va[(size_t)st * W + q];
    }
}

/* Energy-moment pass: v0 = sum w, v1 = sum w E, v2 = sum w E^2 per state. */
static void ising_energy_s0(const ising_tm *I, unsigned s0, long double out[3], long double *va,
                            long double *vb)
{
    const int Lx = I->Lx;
    const unsigned ns = 1u << Lx;
    memset(va, 0, 3 * ns * sizeof *va);
    long double w0 = 1.0L, e0 = 0.0L;
    for (int x = 0; x < Lx; x++) {
        int s = spin_of(s0, x), sr = spin_of(s0, (x + 1) % Lx);
        w0 *= I->bondw[s == sr] * I->fieldw[s > 0];
        e0 += I->bonde[s == sr] + I->fielde[s > 0];
    }
    va[3 * s0] = w0;
    va[3 * s0 + 1] = w0 * e0;
    va[3 * s0 + 2] = w0 * e0 * e0;
    for (int y = 1; y < I->Ly; y++)
        for (int x = 0; x < Lx; x++) {
            memset(vb, 0, 3 * ns * sizeof *vb);
            unsigned bit = 1u << x;
            for (unsigned st = 0; st < ns; st++) {
                const long double *src = va + 3 * st;
                int up = spin_of(st, x);
                for (int sn = -1; sn <= 1; sn += 2) {
                    long double t = I->bondw[sn == up] * I->fieldw[sn > 0];
                    long double e = I->bonde[sn == up] + I->fielde[sn > 0];
                    if (x > 0) {
                        int l = spin_of(st, x - 1);
                        t *= I->bondw[sn == l];
                        e += I->bonde[sn == l];
                    }
                    if (x == Lx - 1) {
                        int r0 = spin_of(st, 0);
                        t *= I->bondw[sn == r0];
                        e += I->bonde[sn == r0];
                    }
                    unsigned to = sn > 0 ? (st | bit) : (st & ~bit);
                    long double *dst = vb + 3 * to;
                    dst[0] += t * src[0];
                    dst[1] += t * (src[1] + e * src[0]);
                    dst[2] += t * (src[2] + 2 * e * src[1] + e * e * src[0]);
                }
            }
            long double *tmp = va; va = vb; vb = tmp;
        }
    out[0] = out[1] = out[2] = 0;
    for (unsigned st = 0; st < ns; st++) {
        long double t = 1.0L, e = 0.0L;
        for (int x = 0; x < Lx; x++) {
            int eq = spin_of(st, x) == spin_of(s0, x);
            t *= I->bondw[eq];
            e += I->bonde[eq];
        }
        const long double *src = va + 3 * st;
        out[0] += t * src[0];
        out[1] += t * (src[1] + e * src[0]);
        out[2] += t * (src[2] + 2 * e * src[1] + e * e * src[0]);
    }
}

int exact_ising(int Lx, int Ly, double J, double h, double T, exact_ising_result *r)
{
    if (Lx < 2 || Ly < 2 || !(T > 0) || !isfinite(T) || !isfinite(J) || !isfinite(h))
        return EXACT_EINVAL;
    if (Lx > EXACT_ISING_MAX_LX || (int64_t)Lx * Ly > 1024)
        return EXACT_ERANGE;
    ising_tm I;
    I.Lx = Lx;
    I.Ly = Ly;
    I.N = Lx * Ly;
    I.J = J;
    I.hp = h / 16.0L;
    I.T = T;
    I.aJ = fabsl(I.J);
    I.ah = fabsl(I.hp);
    for (int eq = 0; eq <= 1; eq++) {
        I.bonde[eq] = I.J * (eq ? 1 : -1);
        I.bondw[eq] = expl(-(I.bonde[eq] + I.aJ) / I.T);
    }
    for (int b = 0; b <= 1; b++) {
        I.fielde[b] = -I.hp * (b ? 1 : -1);
        I.fieldw[b] = expl(-(I.fielde[b] + I.ah) / I.T);
    }
    const int N = I.N, W = 2 * N + 1;
    const unsigned ns = 1u << Lx;
    long double *dM = calloc((size_t)ns * W, sizeof *dM);
    long double *dS = calloc((size_t)ns * W, sizeof *dS);
    long double *dE = calloc((size_t)ns * 3, sizeof *dE);
    if (!dM || !dS || !dE) {
        free(dM); free(dS); free(dE);
        return EXACT_ENOMEM;
    }
    int fail = 0;
#pragma omp parallel
    {
        long double *va = malloc((size_t)ns * W * sizeof *va);
        long double *vb = malloc((size_t)ns * W * sizeof *vb);
        if (!va || !vb) {
#pragma omp atomic write
            fail = 1;
        } else {
#pragma omp for schedule(dynamic, 1)
            for (unsigned s0 = 0; s0 < ns; s0++) {
                ising_dist_s0(&I, s0, 0, dM + (size_t)s0 * W, va, vb);
                ising_dist_s0(&I, s0, 1, dS + (size_t)s0 * W, va, vb);
                ising_energy_s0(&I, s0, dE + 3 * s0, va, vb);
            }
        }
        free(va);
        free(vb);
    }
    if (fail) {
        free(dM); free(dS); free(dE);
        return EXACT_ENOMEM;
    }
    /* Reduce in s0 order. */
    long double PM[2 * 1024 + 1], PS[2 * 1024 + 1], E0 = 0, E1 = 0, E2 = 0;
    for (int q = 0; q < W; q++)
        PM[q] = PS[q] = 0;
    for (unsigned s0 = 0; s0 < ns; s0++) {
        for (int q = 0; q < W; q++) {
            PM[q] += dM[(size_t)s0 * W + q];
            PS[q] += dS[(size_t)s0 * W + q];
        }
        E0 += dE[3 * s0];
        E1 += dE[3 * s0 + 1];
        E2 += dE[3 * s0 + 2];
    }
    long double ZM = 0, ZS = 0, m1 = 0, m2 = 0, ma = 0, s1 = 0, s2 = 0, sa = 0;
    for (int q = 0; q < W; q++) {
        int Q = q - N;
        ZM += PM[q];
        m1 += PM[q] * Q;
        m2 += PM[q] * Q * Q;
        ma += PM[q] * abs(Q);
        ZS += PS[q];
        s1 += PS[q] * Q;
        s2 += PS[q] * Q * Q;
        sa += PS[q] * abs(Q);
    }
    long double Em = E1 / E0;
    long double Ev = E2 / E0 - Em * Em;
    long double NN = (long double)N * N;
    memset(r, 0, sizeof *r);
    r->Lx = Lx;
    r->Ly = Ly;
    r->N = N;
    r->T = T;
    r->J = J;
    r->h = h;
    r->log_Z = (double)(logl(E0) + (2 * N * I.aJ + N * I.ah) / I.T);
    r->energy = (double)(Em / N);
    r->specific_heat = (double)(Ev / (N * I.T * I.T));
    r->m = (double)(m1 / ZM / N);
    r->m2 = (double)(m2 / ZM / NN);
    r->abs_m = (double)(ma / ZM / N);
    r->ms = (double)(s1 / ZS / N);
    r->ms2 = (double)(s2 / ZS / NN);
    r->abs_ms = (double)(sa / ZS / N);
    free(dM); free(dS); free(dE);
    return EXACT_OK;
}

/* ------------------------------------------------------------------------ */
/* Infinite lattice (h = 0). With K = |J|/T, s = sinh 2K and the modulus     */
/* k = 2 s / cosh^2 2K, the complementary modulus is k' = |1 - s^2|/(1+s^2) */
/* exactly (cosh^4 - 4 sinh^2 = (1 - s^2)^2), which avoids the cancellation */
/* in sqrt(1 - k^2) near Tc.                                                */

double exact_ising_Tc(double J)
{
    return 2.0 * fabs(J) / log(1.0 + sqrt(2.0));
}

/* Complete elliptic integrals K(k), E(k) from k' by the AGM. */
static void ellip_KE(long double kp, long double *Kk, long double *Ek)
{
    long double a = 1.0L, b = kp, k2 = 1.0L - kp * kp;
    long double sum = k2 / 2.0L, pw = 0.5L; /* sum 2^(n-1) c_n^2, c_0^2 = k^2 */
    for (int i = 0; i < 64 && fabsl(a - b) > 1e-19L * a; i++) {
        long double an = (a + b) / 2.0L, bn = sqrtl(a * b), cn = (a - b) / 2.0L;
        pw *= 2.0L;
        sum += pw * cn * cn;
        a = an;
        b = bn;
    }
    *Kk = (long double)M_PI / (2.0L * a);
    *Ek = *Kk * (1.0L - sum);
}

double exact_onsager_energy(double J, double T)
{
    long double aJ = fabsl((long double)J);
    if (aJ == 0)
        return 0.0;
    if (T <= 0)
        return (double)(-2.0L * aJ);
    long double K = aJ / T, s = sinhl(2 * K), c = coshl(2 * K);
    long double kp = fabsl(1 - s * s) / (1 + s * s);
    long double t2m1 = (s * s - 1) / (1 + s * s); /* 2 tanh^2(2K) - 1 */
    long double term = 0.0L;
    if (kp > 0) {
        long double Kk, Ek;
        ellip_KE(kp, &Kk, &Ek);
        term = t2m1 * Kk; /* -> 0 (as eps ln eps) at Tc */
    }
    long double u = -aJ * (c / s) * (1.0L + (2.0L / (long double)M_PI) * term);
    return (double)u;
}

double exact_onsager_specific_heat(double J, double T)
{
    long double aJ = fabsl((long double)J);
    if (aJ == 0 || T <= 0)
        return 0.0;
    long double K = aJ / T, s = sinhl(2 * K), c = coshl(2 * K);
    long double kp = fabsl(1 - s * s) / (1 + s * s);
    if (kp == 0)
        return INFINITY;
    long double th = s / c, t2m1 = (s * s - 1) / (1 + s * s);
    long double Kk, Ek;
    ellip_KE(kp, &Kk, &Ek);
    /* c = (4/pi) (K coth 2K)^2 {K1 - E1 - (1 - tanh^2 2K)[pi/2 + (2 tanh^2 2K - 1) K1]} */
    long double pre = (4.0L / (long double)M_PI) * (K * c / s) * (K * c / s);
    long double cv = pre * (Kk - Ek - (1 - th * th) * ((long double)M_PI / 2 + t2m1 * Kk));
    return (double)cv;
}

/* 16-point Gauss-Legendre nodes/weights on [-1, 1], by Newton on P_16. */
static void gauss_legendre16(long double xs[16], long double ws[16])
{
    const int n = 16;
    for (int i = 0; i < n; i++) {
        long double x = cosl((long double)M_PI * (i + 0.75L) / (n + 0.5L)), dp = 0;
        for (int it = 0; it < 100; it++) {
            long double p0 = 1, p1 = x;
            for (int k = 2; k <= n; k++) {
                long double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = n * (x * p1 - p0) / (x * x - 1);
            long double dx = p1 / dp;
            x -= dx;
            if (fabsl(dx) < 1e-19L)
                break;
        }
        xs[i] = x;
        ws[i] = 2 / ((1 - x * x) * dp * dp);
    }
}

/* Onsager: -f/T = ln(2 cosh 2K) + (1/2pi) int_0^pi ln[(1 + sqrt(1 - k^2 sin^2 t))/2] dt.
 * The integrand is symmetric about pi/2 and, near Tc, varies on the scale k'
 * close to pi/2, so the half-range [0, pi/2] is cut into panels that shrink
 * geometrically towards pi/2, each with 16-point Gauss-Legendre. */
double exact_onsager_free_energy(double J, double T)
{
    long double aJ = fabsl((long double)J);
    if (T <= 0)
        return (double)(-2.0L * aJ);
    long double K = aJ / T, s = sinhl(2 * K), c = coshl(2 * K);
    long double k = 2 * s / (c * c), kp = fabsl(1 - s * s) / (1 + s * s);
    long double xs[16], ws[16];
    gauss_legendre16(xs, ws);
    const long double half = (long double)M_PI / 2;
    long double integral = 0, lo = 0, width = half / 2;
    for (;;) {
        long double hi = (width < 1e-15L) ? half : lo + width;
        long double mid = (lo + hi) / 2, hw = (hi - lo) / 2;
        for (int i = 0; i < 16; i++) {
            long double t = mid + hw * xs[i];
            long double cc = sinl(half - t); /* cos t, accurate near pi/2 */
            long double rad = sqrtl(kp * kp + k * k * cc * cc); /* sqrt(1 - k^2 sin^2 t) */
            integral += ws[i] * hw * logl((1 + rad) / 2);
        }
        if (hi >= half)
            break;
        lo = hi;
        width /= 2;
    }
    long double minus_f_over_T = logl(2 * c) + 2 * integral / (2 * (long double)M_PI);
    return (double)(-minus_f_over_T * T);
}

double exact_yang_magnetisation(double J, double T)
{
    long double aJ = fabsl((long double)J);
    if (aJ == 0)
        return 0.0;
    if (T <= 0)
        return 1.0;
    long double s = sinhl(2 * aJ / T);
    if (s <= 1)
        return 0.0;
    long double s2 = s * s;
    return (double)powl(1 - 1 / (s2 * s2), 0.125L);
}
