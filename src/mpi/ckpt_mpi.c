/* Checkpoint site records by blocks (mpi/ckpt_mpi.h). The file view of a
 * rank is its block of the record's Ly x Lx values, so one collective call
 * moves every block at once; rank 0's stdio stream has been flushed before
 * (ckpt_put_sites_begin) and seeks past the values after. */
#include <stdlib.h>
#include <string.h>
#include "io/checkpoint.h"
#include "mpi/ckpt_mpi.h"

void ckpt_mpi_io_share(const ckpt_mpi_io *io, ckpt_mpi_io *mine, MPI_Comm comm)
{
    if (io) *mine = *io;
    MPI_Bcast(mine, (int)sizeof *mine, MPI_BYTE, 0, comm);
}

static int everyone(int ok, MPI_Comm comm)
{
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    return all;
}

/* Opens path on every rank of comm with this rank's block of values as its
 * view at offset; 1 on every rank when any rank cannot. */
static int open_view(const decomp *d, MPI_Comm comm, const char *path, int amode, uint64_t offset,
                     MPI_Datatype value, MPI_File *fh)
{
    const int ok = MPI_File_open(comm, path, amode, MPI_INFO_NULL, fh) == MPI_SUCCESS;
    if (!everyone(ok, comm)) {
        if (ok) MPI_File_close(fh);
        return 1;
    }
    MPI_Datatype view = decomp_global_block(d, d->cx, d->cy, value);
    MPI_File_set_view(*fh, (MPI_Offset)offset, value, view, "native", MPI_INFO_NULL);
    MPI_Type_free(&view);
    return 0;
}

/* The block's part of a sites checksum of its packed values. */
static uint64_t block_part(const decomp *d, int elem, const void *values)
{
    const level_block *b = &d->b;
    uint64_t part = 0;
    for (int y = 0; y < b->ny; y++)
        part += ckpt_sites_hash((const char *)values + (int64_t)y * b->nx * elem, elem,
                                (int64_t)(b->gy0 + y) * d->Lx + b->gx0, b->nx);
    return part;
}

/* One collective transfer of the block's packed values; 1 when it worked. */
static int transfer(const decomp *d, MPI_Comm comm, int elem, const char *path, uint64_t offset, int write,
                    void *values)
{
    MPI_Datatype value;
    MPI_Type_contiguous(elem, MPI_BYTE, &value);
    MPI_Type_commit(&value);
    MPI_File fh;
    int rc = MPI_ERR_OTHER;
    if (!open_view(d, comm, path, write ? MPI_MODE_WRONLY : MPI_MODE_RDONLY, offset, value, &fh)) {
        const int n = d->b.nx * d->b.ny;
        rc = write ? MPI_File_write_all(fh, values, n, value, MPI_STATUS_IGNORE)
                   : MPI_File_read_all(fh, values, n, value, MPI_STATUS_IGNORE);
        /* rank 0 fsyncs the file at commit; on a parallel file system only
         * the writers' own sync makes their blocks durable */
        if (rc == MPI_SUCCESS && write) rc = MPI_File_sync(fh);
        MPI_File_close(&fh);
    }
    MPI_Type_free(&value);
    return rc == MPI_SUCCESS;
}

static uint64_t sum_on_rank_0(uint64_t part, MPI_Comm comm)
{
    uint64_t sum = 0;
    MPI_Reduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, 0, comm);
    return sum;
}

/* Every block is read back after writing (a write lost without an error,
 * as Open MPI's OMPIO does on a full disk, must not pass for a checkpoint). */
int ckpt_mpi_write(const decomp *d, MPI_Comm comm, int elem, const char *path, uint64_t offset,
                   const void *values, uint64_t *hash)
{
    void *back = values ? malloc((size_t)d->b.nx * (size_t)d->b.ny * (size_t)elem + 1) : NULL;
    /* every step agreed on, so that no rank enters a collective call the
     * others have given up */
    int ok = everyone(back != NULL, comm);
    if (ok) ok = everyone(transfer(d, comm, elem, path, offset, 1, (void *)values), comm);
    if (ok) ok = everyone(transfer(d, comm, elem, path, offset, 0, back), comm);
    const uint64_t part = values ? block_part(d, elem, values) : 0;
    if (ok) ok = everyone(block_part(d, elem, back) == part, comm);
    free(back);
    *hash = sum_on_rank_0(part, comm);
    return !ok;
}

int ckpt_mpi_read(const decomp *d, MPI_Comm comm, int elem, const char *path, uint64_t offset, void *values,
                  uint64_t *hash)
{
    int ok = everyone(values != NULL, comm);
    if (ok) ok = everyone(transfer(d, comm, elem, path, offset, 0, values), comm);
    *hash = sum_on_rank_0(ok ? block_part(d, elem, values) : 0, comm);
    return !ok;
}

int ckpt_mpi_move(const decomp *d, MPI_Comm comm, int write, const ckpt_mpi_io *io, const ckpt_mpi_block *b,
                  ckpt_mpi_result *res)
{
    ckpt_mpi_io mine;
    ckpt_mpi_io_share(io, &mine, comm);
    void *values = malloc((size_t)d->b.nx * (size_t)d->b.ny * (size_t)mine.elem + 1);
    if (values && write) b->pack(b->part, &mine, values);
    uint64_t hash;
    const int bad = write ? ckpt_mpi_write(d, comm, mine.elem, mine.path, mine.offset, values, &hash)
                          : ckpt_mpi_read(d, comm, mine.elem, mine.path, mine.offset, values, &hash);
    int64_t invalid = !bad && !write ? b->unpack(b->part, &mine, values) : 0, all = 0;
    free(values);
    MPI_Reduce(&invalid, &all, 1, MPI_INT64_T, MPI_SUM, 0, comm);
    if (res) *res = (ckpt_mpi_result){hash, all};
    return bad;
}
