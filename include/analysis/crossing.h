/* Locating the temperature at which a seed-averaged equilibrium quantity
 * crosses a target value: bracket, then safeguarded regula falsi with points
 * placed densely around the crossing, then a local straight-line fit whose
 * error comes from a jackknife over the independent seeds.
 *
 * The quantity must grow with T (n_SM and the level-8 spanning probability
 * do). A point is one temperature with one value per seed; the store keeps
 * every point that was evaluated, for every quantity, so a point placed for
 * one target also serves the others. Nothing here runs a simulation: the
 * caller evaluates the temperatures that xr_next asks for and adds them. */
#ifndef SM_CROSSING_H
#define SM_CROSSING_H

#include "core/error.h"

/* Quantities kept per point and seed: n_SM, the level-8 spanning
 * probability, the mean level and the integrated autocorrelation time of
 * the n_SM series (in sweeps; a diagnostic of the run lengths). */
enum { XQ_NSM = 0, XQ_SPAN = 1, XQ_LEVEL = 2, XQ_TAU = 3, XQ_N = 4 };
enum { XR_MAX_SEEDS = 1024, XR_MAX_POINTS = 4096 };

typedef struct {
    int n, cap, nseeds;
    double *T;           /* [cap] */
    double *q[XQ_N];     /* [cap * nseeds]: q[k][i * nseeds + s] */
} xr_points;

int xr_points_init(xr_points *p, int nseeds, sm_error *err);
void xr_points_free(xr_points *p);
/* Appends a point (values[k][s] per quantity and seed); returns its index or
 * -1 when the store is full or out of memory. */
int xr_points_add(xr_points *p, double T, const double *const values[XQ_N], sm_error *err);
/* Mean over seeds of quantity k at point i, leaving seed `skip` out (-1:
 * none), and the standard error of that mean from the seeds' scatter. */
double xr_mean(const xr_points *p, int i, int k, int skip);
double xr_sem(const xr_points *p, int i, int k);

/* What to locate: quantity `qty` = `value`; log: interpolate log(q) (q that
 * grows exponentially, n_SM), else q itself (a probability). The final line
 * is fitted to the points whose scaled value lies within `window` of the
 * target's (on the line's own estimate, so noise does not pick them). */
typedef struct {
    const char *name;
    int qty;
    double value;
    int log;
    double window;
} xr_target;

/* How to search. tol: stop refining when the bracket is this narrow;
 * guess: first temperature; step: first step outward from it; T_min, T_max:
 * the range searched; max_evals: temperatures a search may ask for. */
typedef struct {
    double tol, guess, step, T_min, T_max;
    int max_evals;
} xr_search;

/* The next temperatures to evaluate for target t given the points so far
 * (at most 2, written to Ts); 0 when the crossing is located and the fit
 * window holds XR_MIN_FIT points, or when it cannot be located (no bracket
 * in [T_min, T_max]; *fail is then set). Refinement stops when the bracket
 * is tol wide or both its ends are within one standard error of the target
 * (narrower brackets would be decided by noise). The caller counts
 * evaluations and stops at max_evals. */
enum { XR_MIN_FIT = 5 };
int xr_next(const xr_points *p, const xr_target *t, const xr_search *s, double Ts[2], int *fail);

/* The crossing: a straight line through the points of the fit window, in
 * log(q) or q, with the seed-jackknife error. jk[s] (nseeds values, may be NULL) gets
 * the estimate without seed s, for errors of functions of several
 * crossings (T_g/T_m). Returns 0, or 1 when there is no bracket. */
typedef struct {
    double value, error;
    int npoints;        /* points in the fit */
    double lo, hi;      /* the final bracket */
    double wlo, whi;    /* the fit window */
} xr_estimate;

int xr_locate(const xr_points *p, const xr_target *t, const xr_search *s, xr_estimate *e,
              double *jk);

/* Jackknife error of values jk[0..n-1] about their mean. */
double xr_jackknife_error(const double *jk, int n);

#endif
