/* softmatrix sweep: runs every point of a config's sweep block (or one
 * shard of them) as child processes, one HDF5 file per point, resuming an
 * interrupted sweep, and writes the sweep index (index.h). */
#ifndef SM_SWEEP_RUN_H
#define SM_SWEEP_RUN_H

/* argv[0] is "sweep"; returns an SM_EXIT_* code. */
int sweep_command(int argc, char **argv);

#endif
