/* Minimal unit-test harness: each tests/unit/test_*.c is one executable whose
 * main() calls RUN(test_fn) for each test and returns CHECK_REPORT(). Checks
 * inside a test use CHECK(cond, fmt, ...); a failing check prints the file,
 * line and message and marks the test failed.
 *
 * A test that cannot run here (missing CPU feature, ...) calls
 * SKIP(fmt, ...), which leaves the test at once. It is reported as
 * "SKIP name: reason" and counted apart, never as passed; a test that failed
 * a check before skipping still counts as failed. Skips do not change the
 * exit status. */
#ifndef SM_CHECK_H
#define SM_CHECK_H

#include <stdio.h>
#include <math.h>

static int check_failed_in_test, check_skipped_in_test;
static int check_tests_passed, check_tests_failed, check_tests_skipped;
static char check_skip_reason[256];

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "  FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
            check_failed_in_test = 1;                                       \
        }                                                                   \
    } while (0)

#define CHECK_CLOSE(a, b, tol)                                              \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%.12g vs %.12g (tol %g)", \
          (double)(a), (double)(b), (double)(tol))

/* Only in a test function (it returns from it). */
#define SKIP(...)                                                           \
    do {                                                                    \
        snprintf(check_skip_reason, sizeof check_skip_reason, __VA_ARGS__); \
        check_skipped_in_test = 1;                                          \
        return;                                                             \
    } while (0)

#define RUN(fn)                                                             \
    do {                                                                    \
        check_failed_in_test = 0;                                           \
        check_skipped_in_test = 0;                                          \
        fn();                                                               \
        if (check_failed_in_test) { check_tests_failed++; printf("not ok %s\n", #fn); } \
        else if (check_skipped_in_test) {                                   \
            check_tests_skipped++;                                          \
            printf("SKIP %s: %s\n", #fn, check_skip_reason);                \
        }                                                                   \
        else { check_tests_passed++; printf("ok %s\n", #fn); }              \
    } while (0)

#define CHECK_REPORT()                                                      \
    (printf("%d passed, %d failed, %d skipped\n", check_tests_passed,       \
            check_tests_failed, check_tests_skipped),                       \
     check_tests_failed ? 1 : 0)

#endif
