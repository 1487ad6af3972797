/* SPDX-License-Identifier: MIT */
#include "check_run.h"

#include <stdlib.h>

int check_run_suite(Suite *s, bool fork_each) {
  SRunner *sr = srunner_create(s);
  int failed;

  if (fork_each)
    srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int check_run(const struct check_case *c, const TTest *const tests[]) {
  Suite *s = suite_create(c->name);
  TCase *tc = tcase_create(c->name);

  if (c->setup != NULL || c->teardown != NULL)
    tcase_add_checked_fixture(tc, c->setup, c->teardown);
  if (c->timeout > 0)
    tcase_set_timeout(tc, c->timeout);
  for (; *tests != NULL; tests++)
    tcase_add_test(tc, *tests);
  suite_add_tcase(s, tc);
  return check_run_suite(s, c->fork_each);
}
