/* Run summary: Gamma-method errors per segment and fluctuation quantities,
 * from streaming accumulators. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "diag/summary.h"

/* Series streamed besides the summarised columns: |m_s| and m_s^2 (their own
 * items), and the squared deviations from the segment's first sample that,
 * with the deviations kept by the plain streams, give the fluctuations
 * without cancellation. */
enum { XS_ABS_MS, XS_MS_SQ, XS_E_DSQ, XS_M_DSQ, XS_AMS_DSQ, XS_N };

const summary_derived SUMMARY_DERIVED[SUMMARY_NDERIVED] = {
    [SUMMARY_CV] = {"specific_heat", "(<H^2> - <H>^2) / (N T^2), fixed-T segments only (NaN on ramps)",
                    UNIT_HEAT_CAPACITY},
    [SUMMARY_ABS_MS] = {"abs_staggered_magnetization", "<|m_s|>", UNIT_NONE},
    [SUMMARY_MS_SQ] = {"staggered_magnetization_sq", "<m_s^2>", UNIT_NONE},
    [SUMMARY_CHI_S] = {"staggered_susceptibility", "N (<m_s^2> - <|m_s|>^2) / T, fixed-T segments only (NaN on ramps)",
                       UNIT_SUSCEPTIBILITY},
    [SUMMARY_CHI] = {"susceptibility", "N (<m^2> - <m>^2) / T, fixed-T segments only (NaN on ramps)",
                     UNIT_SUSCEPTIBILITY},
};

static int add_item(run_summary *S, const char *name, const char *desc, int width,
                    const char *const *columns)
{
    summary_item *it = &S->item[S->nitems++];
    it->name = name;
    it->desc = desc;
    it->width = width;
    it->columns = columns;
    const size_t n = (size_t)S->nseg * (size_t)width;
    it->mean = malloc(sizeof *it->mean * (n ? n : 1));
    it->error = malloc(sizeof *it->error * (n ? n : 1));
    it->tau = malloc(sizeof *it->tau * (n ? n : 1));
    it->reliable = calloc(n ? n : 1, sizeof *it->reliable);
    if (!it->mean || !it->error || !it->tau || !it->reliable) return 1;
    for (size_t i = 0; i < n; i++) it->mean[i] = it->error[i] = it->tau[i] = NAN;
    return 0;
}

/* The stream of a field's first column, or -1 when it is not summarised. */
static int column_stream(const run_summary *S, const char *field)
{
    const int f = obs_layout_find(S->L, field);
    for (int k = 0; f >= 0 && k < S->ncol; k++)
        if (S->col[k] == S->L->off[f]) return k;
    return -1;
}

int summary_init(run_summary *S, const obs_layout *L, const sm_config *cfg, int64_t N)
{
    memset(S, 0, sizeof *S);
    S->nseg = cfg->nseg;
    S->L = L;
    S->cfg = cfg;
    S->N = (double)N;
    S->open = -1;
    S->samples = calloc((size_t)(S->nseg ? S->nseg : 1), sizeof *S->samples);
    int bad = !S->samples;
    for (int f = 0; f < L->n; f++) {
        if (!L->f[f].summarise) continue;
        bad |= add_item(S, L->f[f].name, L->f[f].desc, L->f[f].width, L->f[f].columns);
        S->ncol += L->f[f].width;
    }
    for (int k = 0; k < SUMMARY_NDERIVED; k++)
        bad |= add_item(S, SUMMARY_DERIVED[k].name, SUMMARY_DERIVED[k].desc, 1, NULL);
    S->nstream = S->ncol + XS_N;
    S->col = malloc(sizeof *S->col * (size_t)(S->ncol ? S->ncol : 1));
    S->acc = malloc(sizeof *S->acc * (size_t)S->nstream);
    if (bad || !S->col || !S->acc) return 1;
    int k = 0;
    for (int f = 0; f < L->n; f++)
        for (int c = 0; L->f[f].summarise && c < L->f[f].width; c++) S->col[k++] = L->off[f] + c;
    for (int s = 0; s < S->nstream; s++) stats_stream_reset(&S->acc[s]);
    S->energy = column_stream(S, "energy");
    S->magnetization = column_stream(S, "magnetization");
    S->temperature = column_stream(S, "temperature");
    const int ims = obs_layout_find(L, "staggered_magnetization");
    S->ms_col = ims < 0 ? -1 : L->off[ims];
    return 0;
}

void summary_add(run_summary *S, int segment, const double *row)
{
    if (segment != S->open) {
        summary_close(S);
        S->open = segment;
    }
    if (segment >= 0 && segment < S->nseg) S->samples[segment]++;
    for (int k = 0; k < S->ncol; k++) stats_stream_add(&S->acc[k], row[S->col[k]]);
    if (S->energy < 0 || S->magnetization < 0 || S->ms_col < 0) return;
    stats_stream *x = S->acc + S->ncol;
    const double ms = row[S->ms_col];
    stats_stream_add(&x[XS_ABS_MS], fabs(ms));
    stats_stream_add(&x[XS_MS_SQ], ms * ms);
    /* the plain streams were fed above, so their shifts are set */
    const stats_stream *e = &S->acc[S->energy], *m = &S->acc[S->magnetization];
    const double de = row[S->col[S->energy]] - e->shift, dm = row[S->col[S->magnetization]] - m->shift;
    const double da = fabs(ms) - x[XS_ABS_MS].shift;
    stats_stream_add(&x[XS_E_DSQ], de * de);
    stats_stream_add(&x[XS_M_DSQ], dm * dm);
    stats_stream_add(&x[XS_AMS_DSQ], da * da);
}

typedef struct { double N, Tp, dsq_shift; } fluct_ctx;

/* N (<d^2> - <d>^2) / T^p from means[0] = <d> and means[1] = <d^2> - shift,
 * d the deviation of x from its first sample (the variance of x). */
static double fluct(const double *means, void *c)
{
    const fluct_ctx *f = c;
    return f->N * (means[1] + f->dsq_shift - means[0] * means[0]) / f->Tp;
}

static void store(summary_item *it, int at, stats_estimate e)
{
    it->mean[at] = e.mean;
    it->error[at] = e.error;
    it->tau[at] = e.tau_int;
    it->reliable[at] = (int8_t)e.reliable;
}

/* Specific heat and susceptibilities of segment seg at temperature T. */
static void close_fluctuations(run_summary *S, int seg, double T)
{
    stats_stream *x = S->acc + S->ncol;
    store(&S->item[S->nitems - SUMMARY_NDERIVED + SUMMARY_ABS_MS], seg, stats_stream_estimate(&x[XS_ABS_MS]));
    store(&S->item[S->nitems - SUMMARY_NDERIVED + SUMMARY_MS_SQ], seg, stats_stream_estimate(&x[XS_MS_SQ]));
    const schedule_segment *g = &S->cfg->seg[seg];
    if (S->energy < 0 || S->magnetization < 0 || S->ms_col < 0) return;
    if (g->T_from != g->T_to) return; /* a ramp: not an equilibrium quantity */
    stats_stream *e = &S->acc[S->energy], *m = &S->acc[S->magnetization];
    struct { int item; stats_stream *a, *b; double Tp; } q[] = {
        {SUMMARY_CV, e, &x[XS_E_DSQ], T * T},
        {SUMMARY_CHI_S, &x[XS_ABS_MS], &x[XS_AMS_DSQ], T},
        {SUMMARY_CHI, m, &x[XS_M_DSQ], T},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        fluct_ctx ctx = {S->N, q[i].Tp, q[i].b->shift};
        const stats_stream *ab[2] = {q[i].a, q[i].b};
        stats_estimate r = stats_jackknife(ab, 2, fluct, &ctx);
        r.tau_int = NAN;
        store(&S->item[S->nitems - SUMMARY_NDERIVED + q[i].item], seg, r);
    }
}

void summary_close(run_summary *S)
{
    const int seg = S->open;
    S->open = -1;
    if (seg < 0 || seg >= S->nseg) return;
    int k = 0;
    for (int i = 0; i < S->nitems - SUMMARY_NDERIVED; i++) {
        summary_item *it = &S->item[i];
        for (int c = 0; c < it->width; c++, k++)
            store(it, seg * it->width + c, stats_stream_estimate(&S->acc[k]));
    }
    close_fluctuations(S, seg, S->temperature < 0 ? NAN : stats_stream_estimate(&S->acc[S->temperature]).mean);
    for (int s = 0; s < S->nstream; s++) stats_stream_reset(&S->acc[s]);
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
        free(S->item[i].reliable);
    }
    free(S->samples);
    free(S->col);
    free(S->acc);
    memset(S, 0, sizeof *S);
}

/* Copies the closed segments' results between S and buf (to_buf: S -> buf);
 * returns the bytes they take. buf NULL: only the size. */
static size_t results_io(const run_summary *S, unsigned char *buf, int to_buf)
{
    size_t at = 0;
    for (int i = 0; i < S->nitems; i++) {
        const summary_item *it = &S->item[i];
        const size_t n = (size_t)S->nseg * (size_t)it->width;
        void *part[4] = {it->mean, it->error, it->tau, it->reliable};
        const size_t bytes[4] = {n * sizeof *it->mean, n * sizeof *it->error, n * sizeof *it->tau,
                                 n * sizeof *it->reliable};
        for (int k = 0; k < 4; k++) {
            if (buf && to_buf) memcpy(buf + at, part[k], bytes[k]);
            else if (buf) memcpy(part[k], buf + at, bytes[k]);
            at += bytes[k];
        }
    }
    return at;
}

void summary_save(const run_summary *S, ckpt_writer *w, const char *prefix)
{
    char name[96];
    const int32_t head[2] = {S->open, S->nstream};
    snprintf(name, sizeof name, "%s.open", prefix);
    ckpt_put(w, name, head, sizeof head);
    snprintf(name, sizeof name, "%s.samples", prefix);
    ckpt_put(w, name, S->samples, sizeof *S->samples * (size_t)S->nseg);
    const size_t bytes = results_io(S, NULL, 1);
    unsigned char *buf = malloc(bytes ? bytes : 1);
    if (buf) results_io(S, buf, 1);
    snprintf(name, sizeof name, "%s.results", prefix);
    ckpt_put(w, name, buf, buf ? bytes : 0);
    free(buf);
    snprintf(name, sizeof name, "%s.streams", prefix);
    ckpt_put(w, name, S->acc, sizeof *S->acc * (size_t)S->nstream);
}

int summary_restore(run_summary *S, const ckpt_reader *r, const char *prefix, sm_error *err)
{
    char name[96];
    int32_t head[2];
    snprintf(name, sizeof name, "%s.open", prefix);
    if (ckpt_get(r, name, head, sizeof head, err)) return 1;
    if (head[1] != S->nstream || head[0] < -1 || head[0] >= S->nseg)
        return sm_fail(err, "%s: checkpoint summary has %d series, this run streams %d", r->path,
                       head[1], S->nstream);
    S->open = head[0];
    snprintf(name, sizeof name, "%s.samples", prefix);
    if (ckpt_get(r, name, S->samples, sizeof *S->samples * (size_t)S->nseg, err)) return 1;
    const size_t bytes = results_io(S, NULL, 0);
    unsigned char *buf = malloc(bytes ? bytes : 1);
    if (!buf) return sm_fail(err, "out of memory");
    snprintf(name, sizeof name, "%s.results", prefix);
    int rc = ckpt_get(r, name, buf, bytes, err);
    if (!rc) results_io(S, buf, 0);
    free(buf);
    snprintf(name, sizeof name, "%s.streams", prefix);
    return rc || ckpt_get(r, name, S->acc, sizeof *S->acc * (size_t)S->nstream, err);
}

/* "value(error)" in the compact physics notation, e.g. -0.51234(17). */
static void fmt_err(char *buf, size_t n, double v, double e)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "-");
        return;
    }
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

/* One line per segment whose series are too short for their errors: the
 * items concerned and the fewest tau_int any of them holds. */
static void print_warnings(FILE *out, const run_summary *S)
{
    for (int s = 0; s < S->nseg; s++) {
        char names[160] = "";
        int nbad = 0;
        double fewest = INFINITY;
        for (int i = 0; i < S->nitems; i++) {
            const summary_item *it = &S->item[i];
            int bad = 0;
            for (int c = 0; c < it->width; c++) {
                const int at = s * it->width + c;
                if (it->reliable[at] || !isfinite(it->mean[at])) continue;
                bad = 1;
                const double tau = it->tau[at] > 0.5 ? it->tau[at] : 0.5;
                if (isfinite(it->tau[at]) && (double)S->samples[s] / tau < fewest)
                    fewest = (double)S->samples[s] / tau;
            }
            if (bad && nbad++ < 4)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", nbad > 1 ? ", " : "",
                         it->name);
        }
        if (!nbad) continue;
        fprintf(out, "warning: segment %d: errors unreliable for %s%s: ", s, names,
                nbad > 4 ? " and others" : "");
        if (isfinite(fewest))
            fprintf(out, "%lld measurements hold only %.3g tau_int", (long long)S->samples[s], fewest);
        else
            fprintf(out, "%lld measurements", (long long)S->samples[s]);
        fprintf(out, " (a series needs about %.0f)\n", STATS_RELIABLE_TAUS);
    }
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
    print_warnings(out, S);
}
