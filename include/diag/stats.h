/* Error analysis of correlated Monte Carlo time series, streamed: a series is
 * reduced as it arrives to its sum and at most STATS_BLOCKS block means
 * (blocks of 2^k samples, adjacent blocks merged when the store is full), so
 * memory and checkpoints do not grow with its length. The error of the mean
 * is Wolff's Gamma method on the block means (automatic window, bias
 * correction); non-linear functions of means (specific heat) get a jackknife
 * over the same blocks whose pseudo-values go through the Gamma method.
 * docs/model.md section 9 states the estimator exactly. */
#ifndef SM_STATS_H
#define SM_STATS_H

#include <stdint.h>

/* 1024 blocks keep the raw series of up to 1024 samples (the short series
 * of a schedule segment) and at least 512 blocks of longer ones. */
enum { STATS_BLOCKS = 1024 };

/* A series needs at least this many tau_int for its error to be trusted. */
#define STATS_RELIABLE_TAUS 50.0

/* Only int64_t and double members: the struct is saved whole in checkpoints
 * and has no padding. */
typedef struct {
    int64_t n;            /* samples */
    int64_t bsize;        /* samples per block */
    int64_t nblk;         /* complete blocks in blk */
    int64_t inblk;        /* samples in the block being filled */
    double sum;           /* sum of the samples in arrival order: the mean */
    double shift;         /* the first sample; the rest is kept relative to it */
    double dsum, dsum2;   /* sums of (x - shift) and (x - shift)^2 */
    double pend;          /* sum of (x - shift) over the block being filled */
    double blk[STATS_BLOCKS]; /* mean of (x - shift) over each complete block */
} stats_stream;

typedef struct {
    double mean;
    double error;   /* standard error of the mean; NaN below 2 samples */
    double tau_int; /* integrated autocorrelation time in samples, n error^2 / (2 var) */
    int64_t n;
    int reliable;   /* n >= STATS_RELIABLE_TAUS * max(tau_int, 1/2) */
} stats_estimate;

void stats_stream_reset(stats_stream *s);
void stats_stream_add(stats_stream *s, double x);

/* Mean, Gamma-method error and tau_int of everything added. */
stats_estimate stats_stream_estimate(const stats_stream *s);

/* n times the variance of the mean of y[0..m-1], bias-corrected, from the
 * autocovariances summed over Wolff's automatic window (*window, may be
 * NULL). NaN below 2 values. */
double stats_gamma(const double *y, int64_t m, int64_t *window);

/* f maps nvar means (one per stream) to a value. The streams were fed in
 * lockstep (same n); means[v] is the mean of stream v's samples minus its
 * shift (its first sample). The value is f of the means of all samples; the
 * error comes from the pseudo-values of a leave-one-block-out jackknife over
 * the complete blocks, through stats_gamma. tau_int is NaN; reliable is
 * that of the least reliable stream. */
typedef double (*stats_fn)(const double *means, void *ctx);
enum { STATS_MAXVAR = 4 };
stats_estimate stats_jackknife(const stats_stream *const *s, int nvar, stats_fn f, void *ctx);

#endif
