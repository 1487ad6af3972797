/* SPDX-License-Identifier: MIT */
/* The main() every Check unit test shares: one suite of one case, run,
 * and the exit status automake's test driver reads. */
#ifndef TCPCONNS_DIAG_CHECK_RUN_H
#define TCPCONNS_DIAG_CHECK_RUN_H

#include <check.h>
#include <stdbool.h>

struct check_case {
  const char *name;       /* of the suite and of its one case */
  void (*setup)(void);    /* a checked fixture, or NULL */
  void (*teardown)(void); /* or NULL */
  int timeout;            /* seconds; 0 keeps Check's default */
  bool fork_each;         /* each test in its own process, whatever CK_FORK
                           * says (a test that enters a namespace) */
};

/* Runs tests (NULL-terminated, as START_TEST names them) as the case c.
 * Returns EXIT_SUCCESS when all passed, else EXIT_FAILURE. */
int check_run(const struct check_case *c, const TTest *const tests[]);

/* Runs a suite built elsewhere; the same return. */
int check_run_suite(Suite *s, bool fork_each);

#endif
