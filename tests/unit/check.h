/* Minimal unit-test harness: each tests/unit/test_*.c is one executable whose
 * main() calls RUN(test_fn) for each test and returns CHECK_REPORT(). Checks
 * inside a test use CHECK(cond, fmt, ...); a failing check prints the file,
 * line and message and marks the test failed. */
#ifndef SM_CHECK_H
#define SM_CHECK_H

#include <stdio.h>
#include <math.h>

static int check_failed_in_test;
static int check_tests_passed, check_tests_failed;

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

#define RUN(fn)                                                             \
    do {                                                                    \
        check_failed_in_test = 0;                                           \
        fn();                                                               \
        if (check_failed_in_test) { check_tests_failed++; printf("not ok %s\n", #fn); } \
        else { check_tests_passed++; printf("ok %s\n", #fn); }              \
    } while (0)

#define CHECK_REPORT()                                                      \
    (printf("%d passed, %d failed\n", check_tests_passed, check_tests_failed), \
     check_tests_failed ? 1 : 0)

#endif
