/* Crossing temperatures from seed-averaged points (crossing.h). The search
 * keeps no state of its own: every decision is made again from the points,
 * so the sequence of temperatures is a function of the measured values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "analysis/crossing.h"

int xr_points_init(xr_points *p, int nseeds, sm_error *err)
{
    memset(p, 0, sizeof *p);
    if (nseeds < 1 || nseeds > XR_MAX_SEEDS)
        return sm_fail(err, "seeds: must be 1..%d (got %d)", XR_MAX_SEEDS, nseeds);
    p->nseeds = nseeds;
    return 0;
}

void xr_points_free(xr_points *p)
{
    free(p->T);
    for (int k = 0; k < XQ_N; k++) free(p->q[k]);
    memset(p, 0, sizeof *p);
}

static int grow(xr_points *p)
{
    const int cap = p->cap ? 2 * p->cap : 32;
    double *T = realloc(p->T, sizeof *T * (size_t)cap);
    if (!T) return 1;
    p->T = T;
    for (int k = 0; k < XQ_N; k++) {
        double *q = realloc(p->q[k], sizeof *q * (size_t)cap * (size_t)p->nseeds);
        if (!q) return 1;
        p->q[k] = q;
    }
    p->cap = cap;
    return 0;
}

int xr_points_add(xr_points *p, double T, const double *const values[XQ_N], sm_error *err)
{
    if (p->n >= XR_MAX_POINTS) {
        sm_fail(err, "more than %d temperatures evaluated", XR_MAX_POINTS);
        return -1;
    }
    if (p->n == p->cap && grow(p)) {
        sm_fail(err, "out of memory for %d temperatures", p->n + 1);
        return -1;
    }
    const int i = p->n++;
    p->T[i] = T;
    for (int k = 0; k < XQ_N; k++)
        memcpy(p->q[k] + (size_t)i * (size_t)p->nseeds, values[k], sizeof(double) * (size_t)p->nseeds);
    return i;
}

double xr_mean(const xr_points *p, int i, int k, int skip)
{
    const double *v = p->q[k] + (size_t)i * (size_t)p->nseeds;
    double sum = 0.0;
    int n = 0;
    for (int s = 0; s < p->nseeds; s++)
        if (s != skip) {
            sum += v[s];
            n++;
        }
    return n ? sum / n : NAN;
}

double xr_sem(const xr_points *p, int i, int k)
{
    const int n = p->nseeds;
    if (n < 2) return NAN;
    const double *v = p->q[k] + (size_t)i * (size_t)n;
    const double m = xr_mean(p, i, k, -1);
    double ss = 0.0;
    for (int s = 0; s < n; s++) ss += (v[s] - m) * (v[s] - m);
    return sqrt(ss / (n - 1) / n);
}

double xr_jackknife_error(const double *jk, int n)
{
    if (n < 2) return NAN;
    double m = 0.0, ss = 0.0;
    for (int s = 0; s < n; s++) m += jk[s];
    m /= n;
    for (int s = 0; s < n; s++) ss += (jk[s] - m) * (jk[s] - m);
    return sqrt(ss * (n - 1) / n);
}

/* The target's scale: log(q) for a quantity that grows exponentially in T,
 * q itself otherwise; -inf for a zero mean on the log scale. */
static double scaled(const xr_target *t, double q)
{
    if (!t->log) return q;
    return q > 0 ? log(q) : -INFINITY;
}

/* The bracket: lo, the highest temperature whose mean is below the target,
 * and hi, the lowest one above lo whose mean is not. No point lies between
 * them. -1 for a side without such a point. */
static void bracket(const xr_points *p, const xr_target *t, int *lo, int *hi)
{
    *lo = *hi = -1;
    for (int i = 0; i < p->n; i++)
        if (xr_mean(p, i, t->qty, -1) < t->value && (*lo < 0 || p->T[i] > p->T[*lo])) *lo = i;
    for (int i = 0; i < p->n; i++) {
        if (*lo >= 0 && p->T[i] <= p->T[*lo]) continue;
        if (xr_mean(p, i, t->qty, -1) >= t->value && (*hi < 0 || p->T[i] < p->T[*hi])) *hi = i;
    }
}

/* Regula falsi inside [a, b] on the target's scale; the midpoint when a
 * side is not finite there. */
static double false_position(const xr_points *p, const xr_target *t, int lo, int hi, int skip)
{
    const double a = p->T[lo], b = p->T[hi];
    const double fa = scaled(t, xr_mean(p, lo, t->qty, skip));
    const double fb = scaled(t, xr_mean(p, hi, t->qty, skip));
    const double ft = scaled(t, t->value);
    if (!isfinite(fa) || !isfinite(fb) || fb <= fa) return 0.5 * (a + b);
    const double c = a + (ft - fa) / (fb - fa) * (b - a);
    return c < a ? a : c > b ? b : c;
}

/* Outward from the points when all of them lie on one side of the target:
 * the step doubles with every point added, so a far crossing costs a
 * logarithmic number of evaluations. */
static int expand(const xr_points *p, int below_missing, const xr_search *s, double *T)
{
    double tmin = p->T[0], tmax = p->T[0];
    for (int i = 1; i < p->n; i++) {
        tmin = fmin(tmin, p->T[i]);
        tmax = fmax(tmax, p->T[i]);
    }
    const double step = fmax(s->step, tmax - tmin);
    if (below_missing) {
        if (tmin <= s->T_min) return 1;
        *T = fmax(s->T_min, tmin - step);
    } else {
        if (tmax >= s->T_max) return 1;
        *T = fmin(s->T_max, tmax + step);
    }
    return 0;
}

/* Least-squares line y = icpt + slope x through the points idx[] on the
 * target's scale, leaving seed `skip` out; 0 when it is determined. */
static int fit_line(const xr_points *p, const xr_target *t, const int *idx, int n_idx, int skip,
                    double *slope, double *icpt)
{
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int j = 0; j < n_idx; j++) {
        const double y = scaled(t, xr_mean(p, idx[j], t->qty, skip));
        if (!isfinite(y)) continue;
        const double x = p->T[idx[j]];
        n++;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    const double det = n * sxx - sx * sx;
    if (n < 2 || !(det > 0)) return 1;
    *slope = (n * sxy - sx * sy) / det;
    *icpt = (sy - *slope * sx) / n;
    return 0;
}

/* The fit window around the bracket's estimate c: where a line through the
 * points near the target (scaled values within `window` of it) stays within
 * `window` of it; the bracket's own slope when those points give none. At
 * least tol/2 and the bracket on each side. */
static void fit_window(const xr_points *p, const xr_target *t, const xr_search *s, int lo, int hi,
                       double *wlo, double *whi)
{
    const double c = false_position(p, t, lo, hi, -1), ft = scaled(t, t->value);
    int *near = malloc(sizeof *near * (size_t)p->n);
    int nn = 0;
    for (int i = 0; near && i < p->n; i++)
        if (fabs(scaled(t, xr_mean(p, i, t->qty, -1)) - ft) <= t->window) near[nn++] = i;
    double slope = NAN, icpt;
    if (!near || fit_line(p, t, near, nn, -1, &slope, &icpt) || !(slope > 0)) {
        const double fa = scaled(t, xr_mean(p, lo, t->qty, -1)), fb = scaled(t, xr_mean(p, hi, t->qty, -1));
        slope = (fb - fa) / (p->T[hi] - p->T[lo]);
    }
    free(near);
    double half = isfinite(slope) && slope > 0 ? t->window / slope : 0.0;
    half = fmax(half, 0.5 * s->tol);
    *wlo = fmin(c - half, p->T[lo]);
    *whi = fmax(c + half, p->T[hi]);
}

static int count_in(const xr_points *p, double a, double b)
{
    int n = 0;
    for (int i = 0; i < p->n; i++) n += p->T[i] >= a && p->T[i] <= b;
    return n;
}

/* Refinement is done when the bracket is tol wide or both of its ends are
 * statistically at the target. */
static int refined(const xr_points *p, const xr_target *t, const xr_search *s, int lo, int hi)
{
    if (p->T[hi] - p->T[lo] <= s->tol) return 1;
    const double dlo = t->value - xr_mean(p, lo, t->qty, -1), dhi = xr_mean(p, hi, t->qty, -1) - t->value;
    return dlo <= xr_sem(p, lo, t->qty) && dhi <= xr_sem(p, hi, t->qty);
}

int xr_next(const xr_points *p, const xr_target *t, const xr_search *s, double Ts[2], int *fail)
{
    *fail = 0;
    if (p->n == 0) {
        Ts[0] = s->guess;
        return 1;
    }
    int lo, hi;
    bracket(p, t, &lo, &hi);
    if (lo < 0 || hi < 0) {
        if (expand(p, lo < 0, s, &Ts[0])) {
            *fail = 1;
            return 0;
        }
        return 1;
    }
    const double a = p->T[lo], b = p->T[hi], w = b - a;
    const double c = false_position(p, t, lo, hi, -1);
    if (refined(p, t, s, lo, hi)) {
        /* enough points for the line: fill the window's quarters */
        double wlo, whi;
        fit_window(p, t, s, lo, hi, &wlo, &whi);
        if (count_in(p, wlo, whi) >= XR_MIN_FIT) return 0;
        Ts[0] = wlo + 0.125 * (whi - wlo) * (1 + 2 * (p->n % 2));
        Ts[1] = whi - 0.125 * (whi - wlo) * (1 + 2 * (p->n % 2));
        return 2;
    }
    /* two points around the estimate, h apart from it: when the estimate is
     * good the bracket shrinks to 2h, at least by a factor 4 */
    const double h = fmax(0.5 * s->tol, w / 8.0);
    const double T1 = fmax(c - h, a + w / 16.0), T2 = fmin(c + h, b - w / 16.0);
    if (T2 - T1 < 0.5 * s->tol) {
        Ts[0] = fmin(fmax(c, a + w / 16.0), b - w / 16.0);
        return 1;
    }
    Ts[0] = T1;
    Ts[1] = T2;
    return 2;
}

/* The root of the window's line; the bracket's false position when the
 * line does not rise (too few points, noise). */
static double fit_root(const xr_points *p, const xr_target *t, const int *win, int nwin, int lo,
                       int hi, int skip)
{
    double slope, icpt;
    if (!fit_line(p, t, win, nwin, skip, &slope, &icpt) && slope > 0) {
        const double root = (scaled(t, t->value) - icpt) / slope;
        if (isfinite(root)) return root;
    }
    return false_position(p, t, lo, hi, skip);
}

int xr_locate(const xr_points *p, const xr_target *t, const xr_search *s, xr_estimate *e,
              double *jk)
{
    memset(e, 0, sizeof *e);
    e->value = e->error = e->lo = e->hi = e->wlo = e->whi = NAN;
    int lo, hi;
    bracket(p, t, &lo, &hi);
    if (lo < 0 || hi < 0) return 1;
    e->lo = p->T[lo];
    e->hi = p->T[hi];
    fit_window(p, t, s, lo, hi, &e->wlo, &e->whi);
    int *win = malloc(sizeof *win * (size_t)p->n);
    if (!win) return 1;
    int nwin = 0;
    for (int i = 0; i < p->n; i++)
        if (p->T[i] >= e->wlo && p->T[i] <= e->whi) win[nwin++] = i;
    e->npoints = nwin;
    e->value = fit_root(p, t, win, nwin, lo, hi, -1);
    double *tmp = jk ? jk : malloc(sizeof *tmp * (size_t)p->nseeds);
    if (tmp) {
        for (int sd = 0; sd < p->nseeds; sd++) tmp[sd] = fit_root(p, t, win, nwin, lo, hi, sd);
        e->error = xr_jackknife_error(tmp, p->nseeds);
        if (!jk) free(tmp);
    }
    free(win);
    return 0;
}
