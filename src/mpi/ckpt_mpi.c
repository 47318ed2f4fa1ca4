/* Checkpoint site records by blocks (mpi/ckpt_mpi.h). The file view of a
 * rank is its block of the record's Ly x Lx bytes, so one collective call
 * moves every block at once; rank 0's stdio stream has been flushed before
 * (ckpt_put_sites_begin) and seeks past the values after. */
#include "io/checkpoint.h"
#include "mpi/ckpt_mpi.h"

/* Opens path on every rank with this rank's block as its view at offset;
 * 1 on every rank when any rank cannot. */
static int open_view(decomp *d, const char *path, int amode, uint64_t offset, MPI_File *fh)
{
    const int ok = MPI_File_open(d->cart, path, amode, MPI_INFO_NULL, fh) == MPI_SUCCESS;
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, d->cart);
    if (!all) {
        if (ok) MPI_File_close(fh);
        return 1;
    }
    MPI_Datatype view = decomp_global_block(d, d->cx, d->cy);
    MPI_File_set_view(*fh, (MPI_Offset)offset, MPI_INT8_T, view, "native", MPI_INFO_NULL);
    MPI_Type_free(&view);
    return 0;
}

/* This block's part of the sites checksum of field f, summed on rank 0. */
static uint64_t blocks_hash(const decomp *d, int f)
{
    const level_block *b = &d->b;
    const int8_t *own = d->store[f] + b->stride + 1;
    uint64_t part = 0, sum = 0;
    for (int y = 0; y < b->ny; y++)
        part += ckpt_sites_hash(own + (int64_t)y * b->stride, 1, (int64_t)(b->gy0 + y) * d->Lx + b->gx0, b->nx);
    MPI_Reduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, 0, d->cart);
    return sum;
}

static int move(decomp *d, int f, const char *path, uint64_t offset, int write, uint64_t *hash)
{
    MPI_File fh;
    if (open_view(d, path, write ? MPI_MODE_WRONLY : MPI_MODE_RDONLY, offset, &fh)) return 1;
    MPI_Datatype mine = decomp_own_block(d);
    int8_t *own = d->store[f] + d->b.stride + 1;
    int rc = write ? MPI_File_write_all(fh, own, 1, mine, MPI_STATUS_IGNORE)
                   : MPI_File_read_all(fh, own, 1, mine, MPI_STATUS_IGNORE);
    /* rank 0 fsyncs the file at commit; on a parallel file system only the
     * writers' own sync makes their blocks durable */
    if (rc == MPI_SUCCESS && write) rc = MPI_File_sync(fh);
    MPI_Type_free(&mine);
    MPI_File_close(&fh);
    const int ok = rc == MPI_SUCCESS;
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, d->cart);
    *hash = blocks_hash(d, f);
    return !all;
}

int ckpt_mpi_write(decomp *d, int f, const char *path, uint64_t offset, uint64_t *hash)
{
    return move(d, f, path, offset, 1, hash);
}

int ckpt_mpi_read(decomp *d, int f, const char *path, uint64_t offset, uint64_t *hash)
{
    return move(d, f, path, offset, 0, hash);
}
