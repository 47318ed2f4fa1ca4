/* Error reporting in the CLASS style: a function that can fail takes an
 * sm_error*, fills it with a one-line message that says where and why, and
 * returns non-zero. Callers add nothing but propagate upward until the CLI
 * prints the message once. */
#ifndef SM_ERROR_H
#define SM_ERROR_H

#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char msg[1024];
} sm_error;

/* printf-style: set the message, return SM_FAIL (1). Control characters
 * and bytes that are not valid UTF-8 (from file names, keys, --set text)
 * become \xNN, so that the message is one line of valid UTF-8. */
int sm_fail(sm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s with control characters and invalid UTF-8 escaped as \xNN, into out
 * (n bytes, truncated at a whole character); returns out. */
const char *sm_escape(char *out, size_t n, const char *s);

/* One line for an option getopt_long refused (called with opterr = 0 and an
 * optstring starting with ':'): c is what it returned, arg the offending
 * argument (argv[optind - 1]), longopts the table it was given (for a "did
 * you mean", may be NULL). Prints "softmatrix CMD: unrecognized option
 * '--x'; did you mean '--y'? (see 'HELP')" or "... option '--set' requires
 * an argument ...". */
void sm_option_error(const char *cmd, int c, const char *arg, const char *help,
                     const struct option *longopts);

/* Exit codes of the CLI (README documents them). */
enum { SM_EXIT_OK = 0, SM_EXIT_RUNTIME = 1, SM_EXIT_USAGE = 2 };
/* A run stopped by SIGINT/SIGTERM after writing its checkpoint exits with
 * 128 + the signal number (130, 143), as a shell reports a killed command. */
enum { SM_EXIT_SIGNAL_BASE = 128 };

#endif
