/* Collective snapshots of a split lattice (io/h5out_mpio.h). Only the MPI
 * build, whose HDF5 is the parallel one, compiles this file's body. */
#ifdef SM_WITH_MPI
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include "h5out_impl.h"
#include "io/h5out_mpio.h"

/* Room on the file's disk for the frames uncompressed, and a little
 * metadata, before any rank starts: parallel HDF5 fails a full disk on one
 * rank in the middle of a collective call (rank 0 allocating the chunks)
 * while the others wait in it for ever, so that case must not arise. */
enum { SNAP_SPARE_BYTES = 1 << 20 };
static int check_room(const h5out *h, unsigned fields, int Lx, int Ly, sm_error *err)
{
    double need = SNAP_SPARE_BYTES;
    for (int i = 0; i < SNAP_NFIELDS; i++)
        if (fields & (1u << i)) need += (double)h5o_snapshot_site_bytes(i) * Lx * Ly;
    struct statvfs st;
    if (statvfs(h->partial, &st) != 0) return 0;   /* nothing known: let the writes tell */
    const double have = (double)st.f_bavail * (double)st.f_frsize;
    if (have >= need) return 0;
    return sm_fail(err, "%s: No space left on device for the snapshot (%.1f MiB free, its frames "
                   "need up to %.1f MiB)", h->partial, have / 1048576.0, need / 1048576.0);
}

int h5out_snapshot_begin(h5out *h, unsigned fields, int Lx, int Ly, int compression, int64_t step,
                         h5out_snap_plan *plan, sm_error *err)
{
    memset(plan, 0, sizeof *plan);
    snprintf(plan->partial, sizeof plan->partial, "%s", h->partial);
    plan->fields = fields;
    plan->Lx = Lx;
    plan->Ly = Ly;
    plan->compression = compression;
    plan->step = step;
    plan->rows_snapshots = h->rows_snapshots;
    for (int i = 0; i < SNAP_NFIELDS; i++) {
        plan->created[i] = h->snap[i].group >= 0;
        plan->frames[i] = (int64_t)h->snap[i].n;
    }
    plan->ok = check_room(h, fields, Lx, Ly, err) == 0 && h5o_close_file(h, err) == 0;
    return !plan->ok;
}

static hid_t open_leaf(hid_t file, const char *group, const char *leaf)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", group, leaf);
    return H5Dopen2(file, p, H5P_DEFAULT);
}

/* A checksum of frame bytes that does not depend on the order they are
 * added in, each weighted by its offset in the frame: the ranks add up
 * their blocks', rank 0 the frame it reads back, and the two must agree.
 * It catches a write that MPI-IO lost without returning an error (Open
 * MPI's OMPIO reports a full disk only on stderr), which would otherwise
 * leave holes in a frame whose read-back checksum a checkpoint vouches for. */
static uint64_t placed_sum(const unsigned char *p, size_t n, uint64_t offset)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += (uint64_t)(p[i] + 1u) * (((offset + i) * 0x9E3779B97F4A7C15ull) | 1u);
    return s;
}

static uint64_t block_sum(int i, const h5out_snap_plan *pl, const h5out_block *b, const void *frame)
{
    const size_t site = h5o_snapshot_site_bytes(i), row = site * (size_t)b->nx;
    uint64_t s = 0;
    for (int y = 0; y < b->ny; y++)
        s += placed_sum((const unsigned char *)frame + row * (size_t)y, row,
                        ((uint64_t)(b->y0 + y) * (uint64_t)pl->Lx + (uint64_t)b->x0) * site);
    return s;
}

/* Every dataset h5o_close_file closed, opened again by its path. */
static int reopen(h5out *h, sm_error *err)
{
    const hid_t fapl = h5o_file_access();
    errno = 0;
    h->file = H5Fopen(h->partial, H5F_ACC_RDWR, fapl);
    if (fapl != H5P_DEFAULT) H5Pclose(fapl);
    int bad = h->file < 0;
    for (int i = 0; i < h->nseries && !bad; i++) {
        series *s = &h->s[i];
        s->step = open_leaf(h->file, s->path, "step");
        s->time = open_leaf(h->file, s->path, "time");
        s->value = open_leaf(h->file, s->path, "value");
        bad = s->step < 0 || s->time < 0 || s->value < 0;
    }
    for (int i = 0; i < SNAP_NFIELDS && !bad; i++) {
        snap_field *f = &h->snap[i];
        if (f->group < 0) continue;
        char g[96];
        snprintf(g, sizeof g, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
        f->step = open_leaf(h->file, g, "step");
        f->time = open_leaf(h->file, g, "time");
        f->value = open_leaf(h->file, g, "value");
        bad = f->step < 0 || f->time < 0 || f->value < 0;
    }
    if (bad) return sm_fail(err, "%s: cannot reopen the file after a collective snapshot: %s", h->partial,
                            h5o_io_cause(errno));
    return 0;
}

/* Appends one row to a step or time dataset: the extent collectively, the
 * value from rank 0 alone (the others select nothing). */
static int append_clock(hid_t d, hid_t memtype, hsize_t at, const void *v, int mine, hid_t dxpl)
{
    hsize_t dims = at + 1, one = 1;
    if (H5Dset_extent(d, &dims) < 0) return 1;
    const hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &one, NULL);
    if (mine) {
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    const herr_t rc = H5Dwrite(d, memtype, ms, fs, dxpl, v);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0;
}

/* Frame `at` of field i extended into place, b's block of it written. */
static int write_block(hid_t d, int i, const h5out_snap_plan *pl, hsize_t at, const h5out_block *b,
                       const void *frame, hid_t dxpl)
{
    const int rank = h5o_snapshot_rank(i);
    hsize_t dims[4] = {at + 1, (hsize_t)pl->Ly, (hsize_t)pl->Lx, 3};
    const hsize_t start[4] = {at, (hsize_t)b->y0, (hsize_t)b->x0, 0};
    const hsize_t count[4] = {1, (hsize_t)b->ny, (hsize_t)b->nx, 3};
    if (H5Dset_extent(d, dims) < 0) return 1;
    const hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    const herr_t rc = H5Dwrite(d, h5o_snapshot_memtype(i), ms, fs, dxpl, frame);
    H5Sclose(ms);
    H5Sclose(fs);
    return rc < 0;
}

static hid_t open_parallel(const char *path, MPI_Comm comm)
{
    hid_t fapl = h5o_file_access();
    if (fapl == H5P_DEFAULT) return -1;
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
    const hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    return f;
}

/* A failure on any rank is a failure on all: one of them may not have
 * written its block, so the frame is not what the run computed, and a rank
 * that stopped alone would leave the others waiting in a collective call. */
static int agree(int bad, MPI_Comm comm, const h5out_snap_plan *pl, sm_error *err)
{
    int any;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, comm);
    if (any && !bad) sm_fail(err, "%s: collective snapshot write failed on another rank", pl->partial);
    return any;
}

/* Field i's frame: its datasets created with the first one (collectively,
 * by the serial writer's code), step and time appended, this rank's block
 * written. Every rank makes every collective call, whatever its own
 * earlier calls returned. */
static int write_field(h5out *sh, MPI_Comm comm, int i, const h5out_snap_plan *pl,
                       const h5out_block *b, hid_t dxpl, uint64_t *sum, sm_error *err)
{
    void *buf = NULL;
    const void *frame = h5o_snapshot_frame(i, &b->st, &buf);
    if (!frame) sm_fail(err, "%s: out of memory for the %s snapshot block", pl->partial, SNAP_FIELD_NAMES[i]);
    if (agree(!frame, comm, pl, err)) return free(buf), 1;
    *sum = block_sum(i, pl, b, frame);
    snap_field *f = &sh->snap[i];
    int me, bad = 0;
    MPI_Comm_rank(comm, &me);
    if (!pl->created[i]) {
        bad = h5o_snapshot_create(sh, i, pl->Lx, pl->Ly, pl->compression, err);
    } else {
        char g[96];
        snprintf(g, sizeof g, "/snapshots/%s", SNAP_FIELD_NAMES[i]);
        f->step = open_leaf(sh->file, g, "step");
        f->time = open_leaf(sh->file, g, "time");
        f->value = open_leaf(sh->file, g, "value");
    }
    const hsize_t at = (hsize_t)pl->frames[i];
    const double time = (double)pl->step;   /* time in sweeps */
    errno = 0;
    bad |= append_clock(f->step, H5T_NATIVE_INT64, at, &pl->step, me == 0, dxpl);
    bad |= append_clock(f->time, H5T_NATIVE_DOUBLE, at, &time, me == 0, dxpl);
    bad |= write_block(f->value, i, pl, at, b, frame, dxpl);
    free(buf);
    H5Dclose(f->step);
    H5Dclose(f->time);
    H5Dclose(f->value);
    if (bad) sm_fail(err, "%s: collective write of the %s snapshot failed: %s", pl->partial,
                     SNAP_FIELD_NAMES[i], h5o_io_cause(errno));
    return agree(bad, comm, pl, err);
}

int h5out_snapshot_blocks(const h5out_snap_plan *pl, MPI_Comm comm, const h5out_block *b,
                          uint64_t sums[SNAP_NFIELDS], sm_error *err)
{
    uint64_t mine[SNAP_NFIELDS] = {0};
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* errors are reported through sm_error */
    errno = 0;
    h5out *sh = calloc(1, sizeof *sh);   /* this rank's view of the writer, for the calls it shares */
    const hid_t file = sh ? open_parallel(pl->partial, comm) : -1;
    int bad = file < 0 ? sm_fail(err, "%s: cannot open the file on every rank for a snapshot: %s",
                                 pl->partial, sh ? h5o_io_cause(errno) : "out of memory") : 0;
    if (agree(bad, comm, pl, err)) {
        if (file >= 0) H5Fclose(file);
        free(sh);
        return 1;
    }
    sh->file = file;
    snprintf(sh->path, sizeof sh->path, "%.*s", (int)sizeof sh->path - 1, pl->partial);
    snprintf(sh->partial, sizeof sh->partial, "%s", pl->partial);
    sh->rows_snapshots = pl->rows_snapshots;
    const hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    for (int i = 0; i < SNAP_NFIELDS && !bad; i++)
        if (pl->fields & (1u << i)) bad = write_field(sh, comm, i, pl, b, dxpl, &mine[i], err);
    H5Pclose(dxpl);
    errno = 0;
    if (H5Fclose(file) < 0 && !bad)
        bad = sm_fail(err, "%s: closing the file after a snapshot failed: %s", pl->partial, h5o_io_cause(errno));
    free(sh);
    if (agree(bad, comm, pl, err)) return 1;
    MPI_Reduce(mine, sums, SNAP_NFIELDS, MPI_UINT64_T, MPI_SUM, 0, comm);
    return 0;
}

/* Adds frame `at` of field i, as the file holds it, to its value checksum:
 * a chunk of rows at a time, in the order a serial snapshot hashes it. */
static int hash_frame(h5out *h, int i, const h5out_snap_plan *pl, hsize_t at, uint64_t written,
                      sm_error *err)
{
    uint64_t sum = 0;
    snap_field *f = &h->snap[i];
    const int rank = h5o_snapshot_rank(i);
    const hsize_t strip = h5o_snapshot_strip_rows(i, pl->Lx, pl->Ly);
    const size_t row = h5o_snapshot_site_bytes(i) * (size_t)pl->Lx;
    void *buf = malloc(row * strip);
    int bad = !buf;
    for (hsize_t y = 0; y < (hsize_t)pl->Ly && !bad; y += strip) {
        const hsize_t rows = y + strip > (hsize_t)pl->Ly ? (hsize_t)pl->Ly - y : strip;
        const hsize_t start[4] = {at, y, 0, 0}, count[4] = {1, rows, (hsize_t)pl->Lx, 3};
        const hid_t fs = H5Dget_space(f->value), ms = H5Screate_simple(rank, count, NULL);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        bad = H5Dread(f->value, h5o_snapshot_memtype(i), ms, fs, H5P_DEFAULT, buf) < 0;
        H5Sclose(ms);
        H5Sclose(fs);
        if (bad) break;
        sm_hash_add(&f->hash[2], buf, row * (size_t)rows);
        sum += placed_sum(buf, row * (size_t)rows, (uint64_t)y * row);
    }
    free(buf);
    if (bad) return sm_fail(err, "%s: cannot read back the %s snapshot at step %lld", pl->partial,
                            SNAP_FIELD_NAMES[i], (long long)pl->step);
    if (sum != written)
        return sm_fail(err, "%s: the %s snapshot at step %lld does not read back as the ranks wrote it "
                       "(MPI-IO lost a write: disk full?)", pl->partial, SNAP_FIELD_NAMES[i], (long long)pl->step);
    return 0;
}

int h5out_snapshot_end(h5out *h, const h5out_snap_plan *pl, const uint64_t *sums, sm_error *err)
{
    const int written = sums != NULL;
    for (int i = 0; i < SNAP_NFIELDS && written; i++) {
        snap_field *f = &h->snap[i];
        if (!(pl->fields & (1u << i)) || f->group >= 0) continue;
        f->group = 0;   /* created by the collective write */
        for (int j = 0; j < 3; j++) sm_hash_init(&f->hash[j]);
    }
    if (reopen(h, err)) return 1;
    const double time = (double)pl->step;
    for (int i = 0; i < SNAP_NFIELDS && written; i++) {
        snap_field *f = &h->snap[i];
        if (!(pl->fields & (1u << i))) continue;
        if (hash_frame(h, i, pl, f->n, sums[i], err)) return 1;
        sm_hash_add(&f->hash[0], &pl->step, sizeof pl->step);
        sm_hash_add(&f->hash[1], &time, sizeof time);
        f->n++;
    }
    return 0;
}
#else
/* The OpenMP build writes snapshots from the whole state (io/h5out.h). */
typedef int h5out_mpio_absent;
#endif
