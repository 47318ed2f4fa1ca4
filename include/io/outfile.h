/* The discipline every output file follows (run results, sweep points and
 * indexes, merged indexes): one writer at a time, parent directories made
 * on demand, and a finished file put in place only by a rename.
 *
 * One writer: the writer of <path> holds an exclusive flock(2) on the
 * sidecar <path>.lock, taken before any output or checkpoint file of <path>
 * is opened or created and held until the last of them is renamed or
 * removed. The lock file holds the holder's PID, so that a refused second
 * writer can name it. The kernel drops the lock when its holder dies, even
 * by SIGKILL; the file left behind then locks nothing and is reused. */
#ifndef SM_OUTFILE_H
#define SM_OUTFILE_H

#include "core/error.h"

typedef struct {
    int fd;              /* -1: not held */
    char path[4224];     /* <path>.lock */
} outfile_lock;

/* Creates the missing parent directories of path. */
int outfile_mkdirs(const char *path, sm_error *err);

/* Takes the lock of output path (its directory must exist). Fails, naming
 * path and the holder's PID, when another process holds it; *busy is then
 * set (a refusal, not an I/O error). */
int outfile_lock_take(outfile_lock *l, const char *path, int *busy, sm_error *err);
/* Removes the lock file and releases the lock; l->fd = -1 is a no-op. */
void outfile_lock_release(outfile_lock *l);

/* Renames the finished file `from` to `to`. Without replace the rename
 * refuses to replace a file at `to` (RENAME_NOREPLACE, or check-then-rename
 * where the file system lacks it): the result then stays in `from`. */
int outfile_publish(const char *from, const char *to, int replace, sm_error *err);

/* Does path exist as something other than a regular file (a directory, a
 * socket)? Then err says so, naming what it is for. */
int outfile_odd(const char *path, const char *what, sm_error *err);

#endif
