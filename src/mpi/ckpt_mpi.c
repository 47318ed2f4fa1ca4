/* Checkpoint site records by blocks (mpi/ckpt_mpi.h). The file view of a
 * rank is its block of the record's Ly x Lx bytes, so one collective call
 * moves every block at once; rank 0's stdio stream has been flushed before
 * (ckpt_put_sites_begin) and seeks past the values after. */
#include <stdlib.h>
#include <string.h>
#include "io/checkpoint.h"
#include "mpi/ckpt_mpi.h"

/* Opens path on every rank of comm with this rank's block as its view at
 * offset; 1 on every rank when any rank cannot. */
static int open_view(const decomp *d, MPI_Comm comm, const char *path, int amode, uint64_t offset,
                     MPI_File *fh)
{
    const int ok = MPI_File_open(comm, path, amode, MPI_INFO_NULL, fh) == MPI_SUCCESS;
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    if (!all) {
        if (ok) MPI_File_close(fh);
        return 1;
    }
    MPI_Datatype view = decomp_global_block(d, d->cx, d->cy);
    MPI_File_set_view(*fh, (MPI_Offset)offset, MPI_INT8_T, view, "native", MPI_INFO_NULL);
    MPI_Type_free(&view);
    return 0;
}

/* The block's part of a sites checksum, of its values v (rows stride apart). */
static uint64_t block_part(const decomp *d, const int8_t *v, int64_t stride)
{
    const level_block *b = &d->b;
    uint64_t part = 0;
    for (int y = 0; y < b->ny; y++)
        part += ckpt_sites_hash(v + (int64_t)y * stride, 1, (int64_t)(b->gy0 + y) * d->Lx + b->gx0, b->nx);
    return part;
}

/* One collective transfer of the block's values: from `own` (the block in
 * its halo'd storage) when writing, into buf (nx x ny) when reading. */
static int transfer(const decomp *d, MPI_Comm comm, const char *path, uint64_t offset, int8_t *own,
                    int8_t *buf)
{
    MPI_File fh;
    if (open_view(d, comm, path, own ? MPI_MODE_WRONLY : MPI_MODE_RDONLY, offset, &fh)) return 0;
    MPI_Datatype mine = decomp_own_block(d);
    const int n = d->b.nx * d->b.ny;
    int rc = own ? MPI_File_write_all(fh, own, 1, mine, MPI_STATUS_IGNORE)
                 : MPI_File_read_all(fh, buf, n, MPI_INT8_T, MPI_STATUS_IGNORE);
    /* rank 0 fsyncs the file at commit; on a parallel file system only the
     * writers' own sync makes their blocks durable */
    if (rc == MPI_SUCCESS && own) rc = MPI_File_sync(fh);
    MPI_Type_free(&mine);
    MPI_File_close(&fh);
    return rc == MPI_SUCCESS;
}

/* Every rank's block is read back (a write lost without an error, as Open
 * MPI's OMPIO does on a full disk, must not pass for a checkpoint) and its
 * part of the checksum summed on rank 0: of what was read, or of what
 * should have been written. 1 on every rank when any transfer failed or
 * any block did not read back as written. */
static int move(decomp *d, MPI_Comm comm, int f, const char *path, uint64_t offset, int write,
                uint64_t *hash)
{
    const level_block *b = &d->b;
    int8_t *own = d->store[f] + b->stride + 1;
    int8_t *buf = malloc((size_t)b->nx * (size_t)b->ny + 1);
    int ok = buf && (!write || transfer(d, comm, path, offset, own, NULL)) &&
             transfer(d, comm, path, offset, NULL, buf);
    uint64_t part = ok ? block_part(d, buf, b->nx) : 0, sum = 0;
    if (ok && write) ok = part == block_part(d, own, b->stride);
    if (ok && !write)
        for (int y = 0; y < b->ny; y++)
            memcpy(own + (int64_t)y * b->stride, buf + (int64_t)y * b->nx, (size_t)b->nx);
    free(buf);
    int all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm);
    MPI_Reduce(&part, &sum, 1, MPI_UINT64_T, MPI_SUM, 0, comm);
    *hash = sum;
    return !all;
}

int ckpt_mpi_write(decomp *d, MPI_Comm comm, int f, const char *path, uint64_t offset, uint64_t *hash)
{
    return move(d, comm, f, path, offset, 1, hash);
}

int ckpt_mpi_read(decomp *d, MPI_Comm comm, int f, const char *path, uint64_t offset, uint64_t *hash)
{
    return move(d, comm, f, path, offset, 0, hash);
}
