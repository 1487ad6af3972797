/* SPDX-License-Identifier: MIT */
/* Option parsing: upstream tcpconns' meaning, plus warnings and errors that
 * name the option and the value. */
#include "check_run.h"
#include "collector_private.h"
#include "options.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static struct collector_config cfg;
static struct collector c; /* made from cfg to look at the port table */
static bool built;
static char warned[512];
static int nwarn;
static char err[512];

static void record_warning(void *ctx, const char *msg) {
  (void)ctx;
  snprintf(warned, sizeof(warned), "%s", msg);
  nwarn++;
}

static int apply(const char *key, const char *value) {
  err[0] = '\0';
  if (built)
    collector_destroy(&c);
  built = false;
  return options_apply(&cfg, key, value, record_warning, NULL, err,
                       sizeof(err));
}

static void setup(void) {
  config_init(&cfg);
  built = false;
  nwarn = 0;
  warned[0] = '\0';
}

static void teardown(void) {
  if (built)
    collector_destroy(&c);
  config_destroy(&cfg);
}

/* The port table a collector makes from the options applied so far. */
static struct port_table *table(void) {
  if (!built)
    ck_assert_int_eq(collector_init(&c, &cfg, &diag_io_kernel), 0);
  built = true;
  return &c.pt;
}

static const struct pt_slot *slot(uint16_t port) {
  uint16_t s = table()->slot_of[port];
  return s ? &table()->slots[s - 1] : NULL;
}

START_TEST(booleans_true_yes_on_any_case) {
  const char *yes[] = {"true", "TRUE", "yes", "On"};
  for (size_t i = 0; i < 4; i++) {
    cfg.listening = false;
    ck_assert_int_eq(apply("ListeningPorts", yes[i]), 0);
    ck_assert(cfg.listening);
  }
  ck_assert_int_eq(apply("allportssummary", "true"), 0);
  ck_assert(cfg.all);
  ck_assert_int_eq(apply("AllPortsSummary", "off"), 0);
  ck_assert(!cfg.all);
  ck_assert_int_eq(nwarn, 0);
}
END_TEST

START_TEST(boolean_one_is_false_with_warning) {
  /* collectd renders a bare 1 as "1.000000"; upstream's IS_TRUE says false */
  cfg.listening = true;
  ck_assert_int_eq(apply("ListeningPorts", "1.000000"), 0);
  ck_assert(!cfg.listening);
  ck_assert_int_eq(nwarn, 1);
  ck_assert_ptr_nonnull(strstr(warned, "ListeningPorts"));
  ck_assert_ptr_nonnull(strstr(warned, "\"1.000000\""));
  ck_assert_int_eq(apply("AllPortsSummary", "bogus"), 0);
  ck_assert(!cfg.all);
  ck_assert_int_eq(nwarn, 2);
  ck_assert_ptr_nonnull(strstr(warned, "AllPortsSummary \"bogus\""));
}
END_TEST

START_TEST(ports_plain_and_numbers) {
  ck_assert_int_eq(apply("LocalPort", "443"), 0);
  ck_assert_int_eq(apply("remoteport", "8080.000000"), 0);
  ck_assert_int_eq(apply("LocalPort", "65535"), 0);
  ck_assert_int_eq(apply("RemotePort", "1"), 0);
  ck_assert_int_eq(nwarn, 0);
  ck_assert_ptr_nonnull(slot(443));
  ck_assert_uint_eq(slot(443)->flags, PT_LOCAL);
  ck_assert_uint_eq(slot(8080)->flags, PT_REMOTE);
  ck_assert_uint_eq(slot(65535)->flags, PT_LOCAL);
  ck_assert_uint_eq(slot(1)->flags, PT_REMOTE);
}
END_TEST

START_TEST(port_local_and_remote_share_a_slot) {
  ck_assert_int_eq(apply("LocalPort", "25"), 0);
  ck_assert_int_eq(apply("RemotePort", "25"), 0);
  ck_assert_int_eq(apply("LocalPort", "25"), 0);
  ck_assert_uint_eq(slot(25)->flags, PT_LOCAL | PT_REMOTE);
  ck_assert_uint_eq(table()->norder, 1);
}
END_TEST

START_TEST(port_guesses_kept_with_warning) {
  const char *guesses[] = {"80abc", "80.900000", "80 81", " 80"};
  for (size_t i = 0; i < 4; i++) {
    nwarn = 0;
    ck_assert_int_eq(apply("LocalPort", guesses[i]), 0);
    ck_assert_int_eq(nwarn, 1);
    ck_assert_ptr_nonnull(strstr(warned, "LocalPort"));
    ck_assert_ptr_nonnull(strstr(warned, guesses[i]));
    ck_assert_ptr_nonnull(strstr(warned, "as 80"));
  }
  ck_assert_ptr_nonnull(slot(80));
  ck_assert_ptr_null(slot(81));
}
END_TEST

START_TEST(bad_ports_fail_naming_option_and_value) {
  const char *bad[] = {"0", "65536", "-1", "http", "", "-5", "99999999999999"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ck_assert_int_eq(apply("RemotePort", bad[i]), -1);
    ck_assert_ptr_nonnull(strstr(err, "RemotePort"));
    ck_assert_msg(strstr(err, bad[i]) != NULL, "%s lacks %s", err, bad[i]);
  }
  ck_assert_uint_eq(table()->norder, 0);
}
END_TEST

START_TEST(empty_values_fail) {
  ck_assert_int_eq(apply("ListeningPorts", ""), -1);
  ck_assert_ptr_nonnull(strstr(err, "ListeningPorts"));
  ck_assert_int_eq(apply("AllPortsSummary", NULL), -1);
}
END_TEST

START_TEST(unknown_option_fails) {
  ck_assert_int_eq(apply("LocalPorts", "80"), -1);
  ck_assert_ptr_nonnull(strstr(err, "LocalPorts"));
  ck_assert_ptr_nonnull(strstr(err, "unknown option"));
  ck_assert_int_eq(apply("Interval", "10"), -1);
}
END_TEST

START_TEST(default_reports_listening_ports) {
  options_finish(&cfg);
  ck_assert(cfg.listening);
  ck_assert(!cfg.all);
}
END_TEST

START_TEST(listening_false_alone_is_overridden) {
  ck_assert_int_eq(apply("ListeningPorts", "false"), 0);
  options_finish(&cfg);
  ck_assert(cfg.listening);
}
END_TEST

START_TEST(all_ports_summary_disables_listening_default) {
  ck_assert_int_eq(apply("AllPortsSummary", "true"), 0);
  options_finish(&cfg);
  ck_assert(!cfg.listening);
  ck_assert(cfg.all);
}
END_TEST

START_TEST(a_port_disables_listening_default) {
  ck_assert_int_eq(apply("RemotePort", "8080"), 0);
  options_finish(&cfg);
  ck_assert(!cfg.listening);
}
END_TEST

START_TEST(explicit_listening_with_ports_stays) {
  ck_assert_int_eq(apply("LocalPort", "80"), 0);
  ck_assert_int_eq(apply("ListeningPorts", "yes"), 0);
  ck_assert_int_eq(apply("AllPortsSummary", "true"), 0);
  options_finish(&cfg);
  ck_assert(cfg.listening);
  ck_assert(cfg.all);
}
END_TEST

START_TEST(states_replace_then_add) {
  ck_assert_uint_eq(cfg.report_states, TCS_MASK_ALL);
  ck_assert_int_eq(apply("States", "ESTABLISHED time_wait"), 0);
  ck_assert_uint_eq(cfg.report_states, (1u << 1) | (1u << 6));
  ck_assert_int_eq(apply("States", "LISTEN"), 0);
  ck_assert_uint_eq(cfg.report_states, (1u << 1) | (1u << 6) | (1u << 10));
}
END_TEST

START_TEST(unknown_state_lists_valid_ones) {
  ck_assert_int_eq(apply("States", "ESTABLISHED TIMEWAIT"), -1);
  ck_assert_ptr_nonnull(strstr(err, "\"TIMEWAIT\""));
  ck_assert_ptr_nonnull(strstr(err, "valid: ESTABLISHED SYN_SENT"));
  ck_assert_ptr_nonnull(strstr(err, "CLOSING"));
  ck_assert_uint_eq(cfg.report_states, TCS_MASK_ALL);
}
END_TEST

START_TEST(overlong_states_and_null_key_fail) {
  char value[1100];

  memset(value, ' ', sizeof(value) - 8);
  memcpy(value + sizeof(value) - 8, "CLOSED_", 8); /* ends with a NUL */
  ck_assert_int_eq(apply("States", value), -1);
  ck_assert_ptr_nonnull(strstr(err, "too long"));
  ck_assert_uint_eq(cfg.report_states, TCS_MASK_ALL);
  ck_assert_int_eq(apply(NULL, "80"), -1);
}
END_TEST

START_TEST(port_ranges) {
  ck_assert_int_eq(apply("LocalPort", "8000-8099"), 0);
  ck_assert_int_eq(apply("RemotePort", " 30000 - 32767 "), 0);
  ck_assert_int_eq(apply("LocalPort", "8000-8099"), 0); /* same: one */
  ck_assert_int_eq(apply("LocalPort", "443-443"), 0);   /* a single port */
  ck_assert_int_eq(nwarn, 0);
  ck_assert_uint_eq(table()->nranges, 2);
  ck_assert_uint_eq(table()->ranges[0].lo, 8000);
  ck_assert_uint_eq(table()->ranges[0].hi, 8099);
  ck_assert_uint_eq(table()->ranges[0].flags, PT_LOCAL);
  ck_assert_uint_eq(table()->ranges[1].flags, PT_REMOTE);
  ck_assert_ptr_nonnull(slot(443));
  options_finish(&cfg);
  ck_assert(!cfg.listening);
}
END_TEST

START_TEST(bad_port_ranges) {
  const char *bad[] = {"0-10", "10-65536", "100-99", "a-b"};
  for (size_t i = 0; i < 4; i++) {
    ck_assert_msg(apply("LocalPort", bad[i]) == -1, "%s accepted", bad[i]);
    ck_assert_ptr_nonnull(strstr(err, bad[i]));
  }
}
END_TEST

START_TEST(range_counting_overlaps) {
  ck_assert_int_eq(apply("LocalPort", "100-200"), 0);
  ck_assert_int_eq(apply("LocalPort", "150-250"), 0);
  ck_assert_int_eq(apply("LocalPort", "150"), 0);
  ck_assert_int_eq(apply("RemotePort", "1000-1001"), 0);
  ck_assert_int_eq(pt_finish_ranges(table()), 0);
  pt_begin_read(table());
  pt_count(table(), 99, 1000, TCS_ESTABLISHED);  /* remote range only */
  pt_count(table(), 100, 5, TCS_ESTABLISHED);    /* first range */
  pt_count(table(), 150, 1001, TCS_ESTABLISHED); /* both ranges, port, remote */
  pt_count(table(), 250, 5, TCS_ESTABLISHED);    /* second range */
  pt_count(table(), 251, 1002, TCS_ESTABLISHED); /* nothing */
  ck_assert_uint_eq(table()->ranges[0].counts[TCS_ESTABLISHED], 2);
  ck_assert_uint_eq(table()->ranges[1].counts[TCS_ESTABLISHED], 2);
  ck_assert_uint_eq(table()->ranges[2].counts[TCS_ESTABLISHED], 2);
  ck_assert_uint_eq(slot(150)->local[TCS_ESTABLISHED], 1);
}
END_TEST

START_TEST(report_accept_queue_boolean) {
  ck_assert(!cfg.report_accept_queue);
  ck_assert_int_eq(apply("ReportAcceptQueue", "true"), 0);
  ck_assert(cfg.report_accept_queue);
}
END_TEST

static Suite *options_suite(void) {
  Suite *s = suite_create("options");
  TCase *tc = tcase_create("options");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, booleans_true_yes_on_any_case);
  tcase_add_test(tc, boolean_one_is_false_with_warning);
  tcase_add_test(tc, ports_plain_and_numbers);
  tcase_add_test(tc, port_local_and_remote_share_a_slot);
  tcase_add_test(tc, port_guesses_kept_with_warning);
  tcase_add_test(tc, bad_ports_fail_naming_option_and_value);
  tcase_add_test(tc, empty_values_fail);
  tcase_add_test(tc, unknown_option_fails);
  tcase_add_test(tc, default_reports_listening_ports);
  tcase_add_test(tc, listening_false_alone_is_overridden);
  tcase_add_test(tc, all_ports_summary_disables_listening_default);
  tcase_add_test(tc, a_port_disables_listening_default);
  tcase_add_test(tc, explicit_listening_with_ports_stays);
  tcase_add_test(tc, states_replace_then_add);
  tcase_add_test(tc, unknown_state_lists_valid_ones);
  tcase_add_test(tc, overlong_states_and_null_key_fail);
  tcase_add_test(tc, port_ranges);
  tcase_add_test(tc, bad_port_ranges);
  tcase_add_test(tc, range_counting_overlaps);
  tcase_add_test(tc, report_accept_queue_boolean);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return check_run_suite(options_suite(), false);
}
