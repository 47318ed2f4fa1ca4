/* The cluster part of a census result against the obvious reference, for
 * the census unit tests: each cluster counted on its own by census_cluster
 * (explicit enumeration) and compared with Table 1 through census_column,
 * so the centre and truncated counts, the per-column and whole-row Table 1
 * matches and the sums over fitting and over truncated clusters must all
 * agree exactly. Include after check.h. */
#ifndef SM_CENSUS_REFERENCE_H
#define SM_CENSUS_REFERENCE_H

#include <string.h>
#include "diag/census.h"
#include "diag/table1.h"

static void check_clusters_reference(const census_input *in, const census_result *r, const char *what)
{
    const int64_t N = (int64_t)in->Lx * in->Ly;
    for (int i = 0; i <= 8; i++) {
        int64_t nc = 0, nt = 0, nm = 0, ne[T1_NCOLS] = {0};
        census_counts sf, st;
        memset(&sf, 0, sizeof sf); memset(&st, 0, sizeof st);
        for (int64_t a = 0; a < N; a++) {
            if (in->level[a] != i) continue;
            census_counts k;
            bool fits, all = true;
            sm_error err;
            CHECK(census_cluster(in, a, &k, &fits, &err) == 0, "%s", err.msg);
            nc++;
            census_counts *s = fits ? &sf : &st;
            s->hscl += k.hscl; s->cavity += k.cavity; s->arrows += k.arrows; s->cbosons += k.cbosons;
            s->n += k.n; s->jamming += k.jamming; s->co += k.co; s->counter += k.counter; s->neel += k.neel;
            if (!fits) { nt++; continue; }
            for (int col = 0; col < T1_NCOLS; col++) {
                int64_t rv, rd, den, v = census_column(i, (table1_col)col, &k, &den);
                bool on = table1_reference(i, (table1_col)col, &rv, &rd);
                bool eq = on && v == rv && den == rd;
                ne[col] += eq;
                all = all && (eq || !on);
            }
            nm += all;
        }
        CHECK(r->n_centres[i] == nc && r->n_truncated[i] == nt && r->n_match[i] == nm,
              "%s V%d: centres %lld/%lld truncated %lld/%lld match %lld/%lld", what, i,
              (long long)r->n_centres[i], (long long)nc, (long long)r->n_truncated[i], (long long)nt,
              (long long)r->n_match[i], (long long)nm);
        CHECK(memcmp(ne, r->n_equal[i], sizeof ne) == 0, "%s V%d: per-column matches", what, i);
        CHECK(memcmp(&sf, &r->sum[i], sizeof sf) == 0,
              "%s V%d: sums hscl %lld/%lld cav %lld/%lld co %lld/%lld neel %lld/%lld jam %lld/%lld", what, i,
              (long long)r->sum[i].hscl, (long long)sf.hscl, (long long)r->sum[i].cavity, (long long)sf.cavity,
              (long long)r->sum[i].co, (long long)sf.co, (long long)r->sum[i].neel, (long long)sf.neel,
              (long long)r->sum[i].jamming, (long long)sf.jamming);
        CHECK(memcmp(&st, &r->sum_truncated[i], sizeof st) == 0, "%s V%d: truncated sums", what, i);
    }
}

#endif
