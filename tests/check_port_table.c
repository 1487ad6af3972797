/* SPDX-License-Identifier: MIT */
/* Flat tables: counting, upstream's entry lifecycle, the filter's port
 * lists and the dispatch list. */
#include "check_run.h"
#include "collector_private.h"
#include "conn_blocks.h"
#include "report_blocks.h"
#include "bytecode.h"
#include "port_table.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static struct collector c;

static void setup(void) {
  struct collector_config cfg;

  config_init(&cfg);
  ck_assert_int_eq(collector_init(&c, &cfg, &diag_io_kernel), 0);
  config_destroy(&cfg);
}

static void teardown(void) {
  collector_destroy(&c);
}

/* Records the dispatch list as "instance:ESTABLISHED/LISTEN,..." */
struct blocks {
  char text[4096];
  int n;
};

static void record_block(void *ctx, const char *instance,
                         const uint32_t *counts) {
  struct blocks *b = ctx;
  size_t used = strlen(b->text);

  snprintf(b->text + used, sizeof(b->text) - used, "%s%s:%u/%u",
           b->n ? " " : "", instance, counts[TCS_ESTABLISHED],
           counts[TCS_LISTEN]);
  b->n++;
}

static const char *blocks_of(void) {
  static struct blocks b;
  memset(&b, 0, sizeof(b));
  report_each_block(&c, NULL, record_block, &b);
  return b.text;
}

/* Whether the last read_sockets() had to compile a new filter. */
static bool rebuilt;

/* One simulated read: listeners, then the filter (as the collector does),
 * then connections (sport, dport, state). */
static void read_sockets(const uint16_t (*socks)[3], size_t n) {
  pt_begin_read(&c.pt);
  for (size_t i = 0; i < n; i++)
    if (socks[i][2] == TCS_LISTEN) {
      if (c.cfg.listening)
        ck_assert_int_eq(pt_mark_listening(&c.pt, socks[i][0]), 0);
      pt_count(&c.pt, socks[i][0], socks[i][1], TCS_LISTEN);
    }
  rebuilt = !conn_filter_fits(&c.filter, &c.pt, true, &c.cfg, 0);
  if (rebuilt)
    ck_assert_int_eq(conn_filter_build(&c.filter, &c.pt, true, &c.cfg, 0), 0);
  for (size_t i = 0; i < n; i++)
    if (socks[i][2] != TCS_LISTEN)
      pt_count(&c.pt, socks[i][0], socks[i][1], (uint8_t)socks[i][2]);
}

START_TEST(counts_local_remote_and_total) {
  static const uint16_t socks[][3] = {
      {80, 0, TCS_LISTEN},
      {80, 0, TCS_LISTEN}, /* v4 + v6 */
      {80, 40000, TCS_ESTABLISHED},
      {80, 40001, TCS_ESTABLISHED},
      {40002, 80, TCS_ESTABLISHED},
      {8080, 8080, TCS_ESTABLISHED},
      {22, 50000, 6 /* TIME_WAIT */},
  };
  ck_assert_int_eq(pt_configure(&c.pt, 80, PT_LOCAL), 0);
  ck_assert_int_eq(pt_configure(&c.pt, 80, PT_REMOTE), 0);
  ck_assert_int_eq(pt_configure(&c.pt, 8080, PT_LOCAL), 0);
  ck_assert_int_eq(pt_configure(&c.pt, 8080, PT_REMOTE), 0);
  c.cfg.all = true;
  read_sockets(socks, sizeof(socks) / sizeof(socks[0]));

  ck_assert_uint_eq(c.pt.total[TCS_LISTEN], 2);
  ck_assert_uint_eq(c.pt.total[TCS_ESTABLISHED], 4);
  ck_assert_uint_eq(c.pt.total[6], 1);
  /* newest first: 8080 was configured last */
  ck_assert_str_eq(blocks_of(), "all:4/2 8080-local:1/0 8080-remote:1/0 "
                                "80-local:2/2 80-remote:1/0");
}
END_TEST

START_TEST(auto_listening_port_lifecycle) {
  static const uint16_t with_listener[][3] = {{9000, 0, TCS_LISTEN},
                                              {9000, 1234, TCS_ESTABLISHED}};
  static const uint16_t without[][3] = {{9000, 1234, TCS_ESTABLISHED}};
  static const uint16_t other[][3] = {{7000, 0, TCS_LISTEN},
                                      {9000, 0, TCS_LISTEN}};

  c.cfg.listening = true;
  read_sockets(with_listener, 2);
  ck_assert_str_eq(blocks_of(), "9000-local:1/1");
  ck_assert(rebuilt);

  /* Not listening any more: not dispatched, no zeros. */
  read_sockets(without, 1);
  ck_assert_str_eq(blocks_of(), "");
  ck_assert(rebuilt);
  ck_assert_uint_ne(c.pt.slot_of[9000], 0); /* kept one more read */

  /* Freed at the next reset; listening again makes it the newest. */
  read_sockets(without, 0);
  ck_assert_uint_eq(c.pt.slot_of[9000], 0);
  read_sockets(other, 2);
  ck_assert_str_eq(blocks_of(), "9000-local:0/1 7000-local:0/1");
}
END_TEST

START_TEST(listening_port_keeps_position_while_listening) {
  static const uint16_t a[][3] = {{100, 0, TCS_LISTEN}};
  static const uint16_t ab[][3] = {{200, 0, TCS_LISTEN}, {100, 0, TCS_LISTEN}};

  c.cfg.listening = true;
  read_sockets(a, 1);
  read_sockets(ab, 2);
  ck_assert_str_eq(blocks_of(), "200-local:0/1 100-local:0/1");
  read_sockets(ab, 2);
  ck_assert(!rebuilt); /* same listening set: no rebuild */
  ck_assert_str_eq(blocks_of(), "200-local:0/1 100-local:0/1");
}
END_TEST

/* Issue 9's scenario: a listener dump fails after its first buffer flagged
 * a new listening port, so that read never reaches the filter. The next
 * read sees the same port listen again: its filter must keep the port,
 * although "listening before and now" looks like nothing changed. */
START_TEST(failed_discovery_leaves_no_stale_filter) {
  static const uint16_t old[][3] = {{100, 0, TCS_LISTEN}};
  static const uint16_t both[][3] = {{100, 0, TCS_LISTEN},
                                     {200, 0, TCS_LISTEN}};

  c.cfg.listening = true;
  read_sockets(old, 1);
  ck_assert(conn_filter_fits(&c.filter, &c.pt, true, &c.cfg, 0));
  /* The failed read: discovery flags 200, then the dump fails. */
  pt_begin_read(&c.pt);
  ck_assert_int_eq(pt_mark_listening(&c.pt, 100), 0);
  ck_assert_int_eq(pt_mark_listening(&c.pt, 200), 0);
  /* The next read: 200 still listens; the old filter lacks it. */
  read_sockets(both, 2);
  ck_assert(rebuilt);
  ck_assert(conn_filter_fits(&c.filter, &c.pt, true, &c.cfg, 0));
  ck_assert((c.filter.local_bits[200 / 32] >> (200 % 32)) & 1u);
  /* Other flags give another program. */
  ck_assert(!conn_filter_fits(&c.filter, &c.pt, true, &c.cfg, BC_NO_EQ));
}
END_TEST

START_TEST(remote_only_port_local_block_needs_listening) {
  static const uint16_t socks[][3] = {{25, 0, TCS_LISTEN},
                                      {25, 999, TCS_ESTABLISHED},
                                      {999, 25, TCS_ESTABLISHED}};
  ck_assert_int_eq(pt_configure(&c.pt, 25, PT_REMOTE), 0);
  read_sockets(socks, 3);
  ck_assert_str_eq(blocks_of(), "25-remote:1/0");
  c.cfg.listening = true;
  read_sockets(socks, 3);
  ck_assert_str_eq(blocks_of(), "25-local:1/1 25-remote:1/0");
}
END_TEST

START_TEST(configured_port_sent_with_zeros) {
  ck_assert_int_eq(pt_configure(&c.pt, 4444, PT_LOCAL), 0);
  read_sockets(NULL, 0);
  ck_assert_str_eq(blocks_of(), "4444-local:0/0");
  read_sockets(NULL, 0);
  ck_assert_str_eq(blocks_of(), "4444-local:0/0");
}
END_TEST

START_TEST(filter_port_lists) {
  static const uint16_t socks[][3] = {{5000, 0, TCS_LISTEN},
                                      {300, 0, TCS_LISTEN}};
  uint16_t *buf = malloc(65536 * sizeof(*buf));
  size_t n;

  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(pt_configure(&c.pt, 443, PT_LOCAL), 0);
  ck_assert_int_eq(pt_configure(&c.pt, 8080, PT_REMOTE), 0);
  ck_assert_int_eq(pt_configure(&c.pt, 65535, PT_REMOTE), 0);
  c.cfg.listening = true;
  read_sockets(socks, 2);
  n = pt_local_ports(&c.pt, buf);
  ck_assert_uint_eq(n, 3);
  ck_assert_uint_eq(buf[0], 300);
  ck_assert_uint_eq(buf[1], 443);
  ck_assert_uint_eq(buf[2], 5000);
  n = pt_remote_ports(&c.pt, buf);
  ck_assert_uint_eq(n, 2);
  ck_assert_uint_eq(buf[0], 8080);
  ck_assert_uint_eq(buf[1], 65535);
  free(buf);
}
END_TEST

static void add_block(const char *name, const char *key, const char *value,
                      const char *key2, const char *value2) {
  char err[256];

  ck_assert_int_eq(conns_begin(&c.cfg, name, err, sizeof(err)), 0);
  ck_assert_msg(conns_apply(&c.cfg, key, value, err, sizeof(err)) == 0, "%s",
                err);
  if (key2 != NULL)
    ck_assert_msg(conns_apply(&c.cfg, key2, value2, err, sizeof(err)) == 0,
                  "%s", err);
  ck_assert_int_eq(conns_finish(&c.cfg, err, sizeof(err)), 0);
}

START_TEST(blocks_the_port_sets_cover_add_no_term) {
  static const uint16_t on_80[][3] = {{80, 0, TCS_LISTEN}};
  static const uint16_t on_81[][3] = {{81, 0, TCS_LISTEN}};
  static const uint16_t on_both[][3] = {{80, 0, TCS_LISTEN},
                                        {81, 0, TCS_LISTEN}};
  size_t one_port, two_ports;

  c.cfg.listening = true;
  ck_assert_int_eq(pt_configure(&c.pt, 5432, PT_REMOTE), 0);
  read_sockets(on_80, 1);
  one_port = c.filter.len;
  read_sockets(on_both, 2);
  two_ports = c.filter.len;
  /* Local port 80 (listening), remote port 5432 (configured), 80 and 81
   * (listening only while both do): with the sets, no term. */
  add_block("web", "LocalPort", "80", "RemoteAddress", "10.0.0.0/8");
  add_block("db", "RemotePort", "5432", NULL, NULL);
  add_block("pair", "LocalPort", "80-81", "States", "ESTABLISHED");
  read_sockets(on_80, 1);
  ck_assert(rebuilt);
  ck_assert_uint_gt(c.filter.len, one_port); /* "pair": 81 is not kept */
  read_sockets(on_both, 2);
  ck_assert_uint_eq(c.filter.len, two_ports);
  /* Port 80 stops listening: "web" and "pair" need their terms again. */
  read_sockets(on_81, 1);
  ck_assert(rebuilt);
  ck_assert_uint_gt(c.filter.len, one_port + 2 * 8);
  /* An address-only block is never covered. */
  add_block("net", "RemoteAddress", "10.0.0.0/8", NULL, NULL);
  read_sockets(on_both, 2);
  ck_assert_uint_gt(c.filter.len, two_ports);
}
END_TEST

START_TEST(every_port_can_have_a_slot) {
  /* 65535 listening ports: the table grows, the index stays O(1). */
  c.cfg.listening = true;
  pt_begin_read(&c.pt);
  for (uint32_t p = 1; p <= 65535; p++)
    ck_assert_int_eq(pt_mark_listening(&c.pt, (uint16_t)p), 0);
  for (uint32_t p = 1; p <= 65535; p++)
    pt_count(&c.pt, (uint16_t)p, 0, TCS_LISTEN);
  ck_assert_uint_eq(c.pt.norder, 65535);
  ck_assert_uint_eq(c.pt.total[TCS_LISTEN], 65535);
  ck_assert_uint_eq(c.pt.slots[c.pt.slot_of[1] - 1].local[TCS_LISTEN], 1);
  ck_assert_uint_eq(c.pt.slots[c.pt.slot_of[65535] - 1].local[TCS_LISTEN], 1);
  ck_assert_int_eq(pt_configure(&c.pt, 0, PT_LOCAL), -EINVAL);
  /* Two reads without listeners free every slot and reuse them later. */
  pt_begin_read(&c.pt);
  pt_begin_read(&c.pt);
  ck_assert_uint_eq(c.pt.norder, 0);
  pt_begin_read(&c.pt);
  ck_assert_int_eq(pt_mark_listening(&c.pt, 77), 0);
  ck_assert_uint_eq(c.pt.norder, 1);
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "port_table",
                                      .setup = setup,
                                      .teardown = teardown,
                                      .timeout = 60};
  const TTest *const tests[] = {counts_local_remote_and_total,
                                auto_listening_port_lifecycle,
                                listening_port_keeps_position_while_listening,
                                failed_discovery_leaves_no_stale_filter,
                                remote_only_port_local_block_needs_listening,
                                configured_port_sent_with_zeros,
                                filter_port_lists,
                                blocks_the_port_sets_cover_add_no_term,
                                every_port_can_have_a_slot,
                                NULL};

  return check_run(&c, tests);
}
