/* Run summary: binning errors per segment and fluctuation quantities. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diag/stats.h"
#include "diag/summary.h"

static summary_item *add_item(run_summary *S, const char *name, const char *desc, int width,
                              const char *const *columns)
{
    summary_item *it = &S->item[S->nitems++];
    it->name = name;
    it->desc = desc;
    it->width = width;
    it->columns = columns;
    const size_t n = (size_t)S->nseg * (size_t)width;
    it->mean = calloc(n, sizeof *it->mean);
    it->error = calloc(n, sizeof *it->error);
    it->tau = calloc(n, sizeof *it->tau);
    return it;
}

const summary_derived SUMMARY_DERIVED[SUMMARY_NDERIVED] = {
    [SUMMARY_CV] = {"specific_heat", "(<H^2> - <H>^2) / (N T^2)", UNIT_HEAT_CAPACITY},
    [SUMMARY_ABS_MS] = {"abs_staggered_magnetization", "<|m_s|>", UNIT_NONE},
    [SUMMARY_MS_SQ] = {"staggered_magnetization_sq", "<m_s^2>", UNIT_NONE},
    [SUMMARY_CHI_S] = {"staggered_susceptibility", "N (<m_s^2> - <|m_s|>^2) / T", UNIT_SUSCEPTIBILITY},
    [SUMMARY_CHI] = {"susceptibility", "N (<m^2> - <m>^2) / T", UNIT_SUSCEPTIBILITY},
};

typedef struct { double N, T; } fluct_ctx;

/* N (<x^2> - <x>^2) / T^p with means[0] = <x>, means[1] = <x^2> */
static double fluct_T2(const double *m, void *c)
{
    const fluct_ctx *f = c;
    return f->N * (m[1] - m[0] * m[0]) / (f->T * f->T);
}
static double fluct_T1(const double *m, void *c)
{
    const fluct_ctx *f = c;
    return f->N * (m[1] - m[0] * m[0]) / f->T;
}

int summary_compute(run_summary *S, const obs_layout *L, const double *rows,
                    const int *row_segment, int64_t nrows, const sm_config *cfg, int64_t N)
{
    memset(S, 0, sizeof *S);
    S->nseg = cfg->nseg;
    S->samples = calloc((size_t)S->nseg, sizeof *S->samples);
    for (int f = 0; f < L->n; f++)
        if (L->f[f].summarise)
            add_item(S, L->f[f].name, L->f[f].desc, L->f[f].width, L->f[f].columns);
    const int ie = obs_layout_find(L, "energy"), it = obs_layout_find(L, "temperature");
    const int ims = obs_layout_find(L, "staggered_magnetization");
    const int im = obs_layout_find(L, "magnetization");
    summary_item *d[SUMMARY_NDERIVED];
    for (int k = 0; k < SUMMARY_NDERIVED; k++)
        d[k] = add_item(S, SUMMARY_DERIVED[k].name, SUMMARY_DERIVED[k].desc, 1, NULL);
    summary_item *cv = d[SUMMARY_CV], *ams = d[SUMMARY_ABS_MS], *ms2 = d[SUMMARY_MS_SQ];
    summary_item *chis = d[SUMMARY_CHI_S], *chi = d[SUMMARY_CHI];
    for (int i = 0; i < S->nitems; i++)
        if (!S->item[i].mean || !S->item[i].error || !S->item[i].tau) return 1;

    double *tmp = malloc(sizeof *tmp * 2 * (size_t)(nrows > 0 ? nrows : 1));
    if (!tmp) return 1;
    int64_t start = 0;
    for (int seg = 0; seg < S->nseg; seg++) {
        int64_t end = start;
        while (end < nrows && row_segment[end] == seg) end++;
        const size_t n = (size_t)(end - start);
        S->samples[seg] = (int64_t)n;
        const double *r0 = rows + start * L->total;
        int k = 0;
        for (int f = 0; f < L->n; f++) {
            if (!L->f[f].summarise) continue;
            summary_item *s = &S->item[k++];
            for (int c = 0; c < s->width; c++) {
                stats_estimate e = stats_binning(r0 + L->off[f] + c, n, (size_t)L->total);
                s->mean[seg * s->width + c] = e.mean;
                s->error[seg * s->width + c] = e.error;
                s->tau[seg * s->width + c] = e.tau_int;
            }
        }
        /* mean temperature of the segment: exact for holds, nominal for ramps */
        fluct_ctx ctx = {(double)N, n ? stats_binning(r0 + L->off[it], n, (size_t)L->total).mean : NAN};
        const double *x[2] = {tmp, tmp + n};
        struct { int col; summary_item *dst; stats_fn fn; int absval; } fl[] = {
            {L->off[ie], cv, fluct_T2, 0},
            {L->off[ims], chis, fluct_T1, 1},
            {L->off[im], chi, fluct_T1, 0},
        };
        for (size_t q = 0; q < sizeof fl / sizeof fl[0]; q++) {
            for (size_t i = 0; i < n; i++) {
                double v = r0[i * L->total + fl[q].col];
                if (fl[q].absval) v = fabs(v);
                tmp[i] = v;
                tmp[n + i] = v * v;
            }
            stats_estimate e = stats_jackknife(x, 2, n, 1, fl[q].fn, &ctx);
            fl[q].dst->mean[seg] = e.mean;
            fl[q].dst->error[seg] = e.error;
            fl[q].dst->tau[seg] = NAN;
            if (fl[q].dst == chis) {
                stats_estimate a = stats_binning(tmp, n, 1), b = stats_binning(tmp + n, n, 1);
                ams->mean[seg] = a.mean; ams->error[seg] = a.error; ams->tau[seg] = a.tau_int;
                ms2->mean[seg] = b.mean; ms2->error[seg] = b.error; ms2->tau[seg] = b.tau_int;
            }
        }
        start = end;
    }
    free(tmp);
    return 0;
}

const summary_item *summary_find(const run_summary *S, const char *name)
{
    for (int i = 0; i < S->nitems; i++)
        if (strcmp(S->item[i].name, name) == 0) return &S->item[i];
    return NULL;
}

void summary_free(run_summary *S)
{
    for (int i = 0; i < S->nitems; i++) {
        free(S->item[i].mean);
        free(S->item[i].error);
        free(S->item[i].tau);
    }
    free(S->samples);
    memset(S, 0, sizeof *S);
}

/* "value(error)" in the compact physics notation, e.g. -0.51234(17). */
static void fmt_err(char *buf, size_t n, double v, double e)
{
    if (!isfinite(e) || e <= 0.0) {
        snprintf(buf, n, "%.6f", v);
        return;
    }
    int digits = (int)ceil(-log10(e)) + 1;
    if (digits < 0) digits = 0;
    if (digits > 9) digits = 9;
    double scaled = e * pow(10.0, digits);
    snprintf(buf, n, "%.*f(%.0f)", digits, v, ceil(scaled));
}

void summary_print(FILE *out, const run_summary *S, const sm_config *cfg)
{
    const summary_item *E = summary_find(S, "energy"), *C = summary_find(S, "specific_heat"),
                       *H = summary_find(S, "hscl_fraction"), *ML = summary_find(S, "mean_level"),
                       *NSM = summary_find(S, "n_soft_matrix"), *MS = summary_find(S, "abs_staggered_magnetization"),
                       *LH = summary_find(S, "level_histogram"), *ACC = summary_find(S, "acceptance");
    fprintf(out, "\n%-4s %-17s %7s  %-18s %-16s %-9s %-8s %-9s %-9s\n", "seg", "T", "samples",
            "energy/site", "C/site", "HSCL", "<level>", "n_SM", "<|m_s|>");
    for (int s = 0; s < S->nseg; s++) {
        char T[40], e[40], c[40];
        const schedule_segment *g = &cfg->seg[s];
        if (g->T_from == g->T_to) snprintf(T, sizeof T, "%.4g", g->T_from);
        else snprintf(T, sizeof T, "%.4g->%.4g", g->T_from, g->T_to);
        fmt_err(e, sizeof e, E->mean[s], E->error[s]);
        fmt_err(c, sizeof c, C->mean[s], C->error[s]);
        fprintf(out, "%-4d %-17s %7lld  %-18s %-16s %-9.4f %-8.4f %-9.4f %-9.4f\n", s, T,
                (long long)S->samples[s], e, c, H->mean[s], ML->mean[s], NSM->mean[s], MS->mean[s]);
    }
    fprintf(out, "\nlevel histogram f_l (fraction of sites at level l):\n%-4s", "seg");
    for (int l = LEVEL_MIN; l <= LEVEL_MAX; l++) fprintf(out, " %8d", l);
    fprintf(out, "\n");
    for (int s = 0; s < S->nseg; s++) {
        fprintf(out, "%-4d", s);
        for (int l = 0; l < NLEVELS; l++) {
            double f = LH->mean[s * NLEVELS + l];
            if (f == 0.0) fprintf(out, " %8s", "0");
            else fprintf(out, " %8.2e", f);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\nacceptance (last segment):");
    for (int i = 0; i < ACC->width; i++)
        fprintf(out, " %s %.4f", ACC->columns[i], ACC->mean[(S->nseg - 1) * ACC->width + i]);
    fprintf(out, "\n");
}
