/* The sweep farm (mpi/farm.h). Messages are two int64: WORK {point,
 * threads} and STOP {exit code, 0} from rank 0, DONE {point, exit code}
 * from a worker. Rank 0 keeps every worker busy while points remain
 * (dynamic scheduling: a long point does not hold up the others) and
 * sends STOP to all once its driver has returned, whatever the path, so
 * that no worker waits for ever. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include "core/error.h"
#include "mpi/farm.h"
#include "mpi/session.h"

enum { TAG_WORK = 1, TAG_STOP = 2, TAG_DONE = 3 };

typedef struct {
    const mpi_session *s;
} farm_ctx;

static void send2(int64_t a, int64_t b, int to, int tag)
{
    int64_t m[2] = {a, b};
    MPI_Send(m, 2, MPI_INT64_T, to, tag, MPI_COMM_WORLD);
}

static int recv2(int64_t m[2], int from, int tag)
{
    MPI_Request rq;
    MPI_Status st;
    MPI_Irecv(m, 2, MPI_INT64_T, from, tag, MPI_COMM_WORLD, &rq);
    mpi_wait_gently(&rq, &st, MPI_NAP_FARM_NS);
    return st.MPI_SOURCE;
}

/* Rank 0: todo[r] to the workers, one at a time each (sweep_farm.run). */
static int farm_run(const sweep_farm *f, const int64_t *todo, int64_t ntodo, int threads, int quiet,
                    int *status)
{
    const farm_ctx *c = f->ctx;
    const int workers = c->s->size - 1;
    int64_t *row = malloc(sizeof *row * (size_t)(workers + 1));   /* todo row per worker */
    if (!row) { fprintf(stderr, "softmatrix: sweep: out of memory\n"); return SM_EXIT_RUNTIME; }
    if (!quiet && workers > ntodo)
        fprintf(stderr, "softmatrix sweep: %d worker ranks for %lld points: %lld of them stay idle\n",
                workers, (long long)ntodo, (long long)(workers - ntodo));
    const double t0 = omp_get_wtime();
    int64_t next = 0, done = 0;
    for (int w = 1; w <= workers && next < ntodo; w++, next++) {
        row[w] = next;
        send2(todo[next], threads, w, TAG_WORK);
    }
    while (done < next) {
        int64_t m[2];
        const int w = recv2(m, MPI_ANY_SOURCE, TAG_DONE);
        const int64_t r = row[w];
        status[r] = m[0] == todo[r] ? (int)m[1] : SM_EXIT_RUNTIME;
        done++;
        if (!quiet)
            fprintf(stderr, "sweep: %lld/%lld points done  point %lld on rank %d%s  elapsed %.1f s\n",
                    (long long)done, (long long)ntodo, (long long)todo[r], w,
                    status[r] ? " FAILED" : "", omp_get_wtime() - t0);
        if (next < ntodo) {
            row[w] = next;
            send2(todo[next++], threads, w, TAG_WORK);
        }
    }
    free(row);
    return SM_EXIT_OK;
}

/* Ranks 1..P-1: points until STOP; returns the code STOP carries. */
static int work(const sweep_opts *o)
{
    sm_error err = {{0}};
    /* validation as on rank 0, which reports its errors; a worker whose
     * validation failed still answers, so that nobody waits for it */
    sweep_job *j = o->list ? NULL : sweep_job_open(o, &err);
    mpi_session_unmute_stderr();
    for (;;) {
        int64_t m[2];
        MPI_Status st;
        MPI_Request rq;
        MPI_Irecv(m, 2, MPI_INT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &rq);
        mpi_wait_gently(&rq, &st, MPI_NAP_FARM_NS);
        if (st.MPI_TAG == TAG_STOP) {
            sweep_job_close(j);
            return (int)m[0];
        }
        const int code = j ? sweep_job_run_point(j, m[0], (int)m[1], o->overwrite) : SM_EXIT_USAGE;
        send2(m[0], code, 0, TAG_DONE);
    }
}

int mpi_sweep_execute(const sweep_opts *o)
{
    const mpi_session *s = mpi_session_get();
    if (!s || s->size == 1) return sweep_execute(o);
    if (s->rank) return work(o);
    farm_ctx c = {s};
    const sweep_farm f = {farm_run, &c};
    sweep_opts mine = *o;
    mine.farm = &f;
    const int code = sweep_execute(&mine);
    for (int w = 1; w < s->size; w++) send2(code, 0, w, TAG_STOP);
    return code;
}
