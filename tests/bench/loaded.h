/* The "loaded" rows of the benchmark (loaded.c). */
#ifndef SM_BENCH_LOADED_H
#define SM_BENCH_LOADED_H

/* Prints the table of 1 thread, 2 threads and the default thread count,
 * idle and with a busy competitor; reps < 1: 7. */
void bench_loaded(int reps);

#endif
