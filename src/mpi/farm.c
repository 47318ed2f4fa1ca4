/* The sweep farm (mpi/farm.h). Messages are two int64: WORK {point,
 * threads} and STOP {exit code, 0} from rank 0, DONE {point, exit code}
 * from a worker. Rank 0 keeps every worker busy while points remain
 * (dynamic scheduling: a long point does not hold up the others) and
 * sends STOP to all once its driver has returned, whatever the path, so
 * that no worker waits for ever.
 *
 * With --ranks-per-point G > 1 the workers are groups of G ranks (1..G,
 * G+1..2G, ...; ranks left over stay idle): the group's first rank takes
 * the points and runs each in its own process, splitting the point's
 * lattice over the group (mpi/level_mpi.h on the group's communicator);
 * the others serve the blocks until their leader passes STOP on. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#include "core/error.h"
#include "mpi/farm.h"
#include "mpi/level_mpi.h"
#include "mpi/session.h"

enum { TAG_WORK = 1, TAG_STOP = 2, TAG_DONE = 3 };

typedef struct {
    int workers;   /* worker w (1..workers) is world rank 1 + (w - 1) * G */
    int G;
} farm_ctx;

static int worker_rank(const farm_ctx *c, int w) { return 1 + (w - 1) * c->G; }
static int worker_of(const farm_ctx *c, int rank) { return 1 + (rank - 1) / c->G; }

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
    const int workers = c->workers;
    int64_t *row = malloc(sizeof *row * (size_t)(workers + 1));   /* todo row per worker */
    if (!row) { fprintf(stderr, "softmatrix: sweep: out of memory\n"); return SM_EXIT_RUNTIME; }
    if (!quiet && workers > ntodo)
        fprintf(stderr, "softmatrix sweep: %d worker %s for %lld points: %lld of them stay idle\n",
                workers, c->G > 1 ? "groups" : "ranks", (long long)ntodo, (long long)(workers - ntodo));
    const double t0 = omp_get_wtime();
    int64_t next = 0, done = 0;
    for (int w = 1; w <= workers && next < ntodo; w++, next++) {
        row[w] = next;
        send2(todo[next], threads, worker_rank(c, w), TAG_WORK);
    }
    while (done < next) {
        int64_t m[2];
        const int w = worker_of(c, recv2(m, MPI_ANY_SOURCE, TAG_DONE));
        const int64_t r = row[w];
        status[r] = m[0] == todo[r] ? (int)m[1] : SM_EXIT_RUNTIME;
        done++;
        if (!quiet)
            fprintf(stderr, "sweep: %lld/%lld points done  point %lld on rank %d%s  elapsed %.1f s\n",
                    (long long)done, (long long)ntodo, (long long)todo[r], worker_rank(c, w),
                    status[r] ? " FAILED" : "", omp_get_wtime() - t0);
        if (next < ntodo) {
            row[w] = next;
            send2(todo[next++], threads, worker_rank(c, w), TAG_WORK);
        }
    }
    free(row);
    return SM_EXIT_OK;
}

/* Workers (and idle ranks): points until STOP; returns the code STOP
 * carries. A group's leader runs its points here, splitting them over the
 * group. */
static int work(const sweep_opts *o, int grouped)
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
        const int code = !j ? SM_EXIT_USAGE
                         : grouped ? sweep_job_run_point_here(j, m[0], (int)m[1], o->overwrite)
                                   : sweep_job_run_point(j, m[0], (int)m[1], o->overwrite);
        send2(m[0], code, 0, TAG_DONE);
    }
}

/* A rank of group g (its first rank leads); with G = 1 every worker is
 * its own group and runs its points in forked children. */
static int group_rank(const sweep_opts *o, const farm_ctx *c, int rank)
{
    if (c->G == 1) return work(o, 0);
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, (rank - 1) / c->G, rank, &group);
    mpi_session_set_lattice_comm(group);
    int code;
    if ((rank - 1) % c->G == 0) {
        code = work(o, 1);
        mpi_lattice_stop(code);   /* the group's other ranks leave their serve loop */
    } else {
        code = mpi_lattice_serve();
    }
    mpi_session_set_lattice_comm(MPI_COMM_WORLD);
    MPI_Comm_free(&group);
    return code;
}

int mpi_sweep_execute(const sweep_opts *o)
{
    const mpi_session *s = mpi_session_get();
    if (!s || s->size == 1) return sweep_execute(o);
    const int G = o->rpp > 1 ? o->rpp : 1;
    farm_ctx c = {(s->size - 1) / G, G};
    if (c.workers == 0) {   /* every rank knows: no message to wait for */
        if (s->rank == 0)
            fprintf(stderr, "softmatrix: sweep: --ranks-per-point %d: the job has %d ranks, a group needs "
                    "%d beside rank 0 (use mpirun -n %d or more)\n", G, s->size, G, G + 1);
        return SM_EXIT_USAGE;
    }
    if (G > 1 && s->rank == 0) {   /* rank 0 and the idle ranks are in no group */
        MPI_Comm none;
        MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, 0, &none);
    } else if (G > 1 && s->rank > c.workers * G) {
        MPI_Comm none;
        MPI_Comm_split(MPI_COMM_WORLD, MPI_UNDEFINED, s->rank, &none);
        return work(o, 0);
    }
    if (s->rank) return group_rank(o, &c, s->rank);
    const sweep_farm f = {farm_run, &c};
    sweep_opts mine = *o;
    mine.farm = &f;
    if (G > 1 && !o->quiet && s->size - 1 > c.workers * G)
        fprintf(stderr, "softmatrix sweep: %d ranks in %d groups of %d; %d rank%s idle\n", s->size - 1,
                c.workers, G, s->size - 1 - c.workers * G, s->size - 1 - c.workers * G > 1 ? "s stay" : " stays");
    const int code = sweep_execute(&mine);
    for (int w = 1; w <= c.workers; w++) send2(code, 0, worker_rank(&c, w), TAG_STOP);
    for (int r = c.workers * G + 1; G > 1 && r < s->size; r++) send2(code, 0, r, TAG_STOP);
    return code;
}
