/* SPDX-License-Identifier: MIT */
/* The collector against the real kernel: each test runs in its own empty
 * network namespace with a known set of loopback sockets and checks exact
 * counts per port and state, and that a filtered dump brought only the
 * matching sockets into user space. Needs root (CAP_SYS_ADMIN for
 * unshare); exits 77 (skipped) otherwise. */
#include "collector_private.h"
#include "report_blocks.h"
#include "bytecode.h"
#include "netns.h"
#include "options.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Outside the ephemeral range (32768-60999): no client socket can land on
 * these by chance. */
#define P_WEB 61080   /* v4 + v6 listeners */
#define P_DUAL 61443  /* dual-stack [::] listener, IPv4 clients */
#define P_QUIET 61999 /* configured, no sockets */

static struct collector c;

static void warn_ignore(void *ctx, const char *m) {
  (void)ctx;
  (void)m;
}

static void configure(const char *const *kv) {
  struct collector_config cfg;
  char err[256];

  config_init(&cfg);
  for (; kv[0] != NULL; kv += 2)
    ck_assert_msg(options_apply(&cfg, kv[0], kv[1], warn_ignore, NULL, err,
                                sizeof(err)) == 0,
                  "%s", err);
  options_finish(&cfg);
  ck_assert_int_eq(collector_init(&c, &cfg, &diag_io_kernel), 0);
  config_destroy(&cfg);
}

struct text {
  char s[65536];
};

/* "instance STATE=n ..." per block, only non-zero states. */
static void add_block(void *ctx, const char *inst, const uint32_t *counts) {
  struct text *t = ctx;
  size_t used = strlen(t->s);

  used += (size_t)snprintf(t->s + used, sizeof(t->s) - used,
                           "%s%s:", used ? "\n" : "", inst);
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (counts[st] != 0)
      used += (size_t)snprintf(t->s + used, sizeof(t->s) - used, " %s=%u",
                               tcs_names[st], counts[st]);
}

static const char *read_blocks(void) {
  static struct text t;
  int err = collector_read(&c);

  ck_assert_msg(err == 0, "collector_read: %s", c.error);
  memset(&t, 0, sizeof(t));
  report_each_block(&c, NULL, add_block, &t);
  return t.s;
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* For listening ports found in the same read, the order is the kernel's
 * listening-hash order (as upstream); compare those as sorted lines. */
static const char *read_blocks_sorted(void) {
  static struct text out;
  char *lines[1024], *save = NULL, *line;
  struct text in;
  size_t n = 0, used = 0;

  snprintf(in.s, sizeof(in.s), "%s", read_blocks());
  for (line = strtok_r(in.s, "\n", &save); line != NULL && n < 1024;
       line = strtok_r(NULL, "\n", &save))
    lines[n++] = line;
  qsort(lines, n, sizeof(lines[0]), cmp_lines);
  out.s[0] = '\0';
  for (size_t i = 0; i < n; i++)
    used += (size_t)snprintf(out.s + used, sizeof(out.s) - used, "%s%s",
                             i ? "\n" : "", lines[i]);
  return out.s;
}

struct population {
  int fds[64];
  int n;
};

static int keep(struct population *p, int fd) {
  p->fds[p->n++] = fd;
  return fd;
}

/* The known set:
 *  P_WEB:  listeners 127.0.0.1 and ::1; 2 established v4, 1 established
 *          v6; one client that closed (server CLOSE_WAIT, client
 *          FIN_WAIT2); one connection the server closed first (server
 *          TIME_WAIT).
 *  P_DUAL: [::] dual-stack listener; 3 IPv4 clients (v4-mapped server
 *          sockets).
 * Every connection is on loopback, so each gives a server socket with
 * local port P and a client socket with remote port P. */
static void build_population(struct population *p) {
  int web4 = keep(p, tsock_listen("127.0.0.1", P_WEB, 0));
  int web6 = keep(p, tsock_listen("::1", P_WEB, 1));
  int dual = keep(p, tsock_listen("::", P_DUAL, 0));
  int cl, sv;

  for (int i = 0; i < 2; i++) {
    keep(p, tsock_connect("127.0.0.1", P_WEB));
    keep(p, tsock_accept(web4));
  }
  keep(p, tsock_connect("::1", P_WEB));
  keep(p, tsock_accept(web6));
  for (int i = 0; i < 3; i++) {
    keep(p, tsock_connect("127.0.0.1", P_DUAL));
    keep(p, tsock_accept(dual));
  }
  /* Client closes first: server CLOSE_WAIT, orphaned client FIN_WAIT2. */
  cl = tsock_connect("127.0.0.1", P_WEB);
  keep(p, tsock_accept(web4));
  close(cl);
  /* Server closes first, then the client: server TIME_WAIT. */
  cl = tsock_connect("127.0.0.1", P_WEB);
  sv = tsock_accept(web4);
  close(sv);
  usleep(50000);
  close(cl);
  usleep(200000); /* let the FIN exchanges on lo settle */
}

static void release(struct population *p) {
  for (int i = 0; i < p->n; i++)
    close(p->fds[i]);
  collector_destroy(&c);
}

static void enter_netns(void) {
  int err = netns_enter_private();
  ck_assert_msg(err == 0, "netns: %s", strerror(-err));
}

START_TEST(default_block_reports_listening_ports) {
  static const char *const opts[] = {NULL};
  struct population p = {.n = 0};

  enter_netns();
  build_population(&p);
  configure(opts);
  ck_assert_str_eq(read_blocks_sorted(),
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61443-local: ESTABLISHED=3 LISTEN=1");
  ck_assert_int_eq(c.source, SOURCE_LEGACY);
  /* 3 listeners, then only the 8 server-side sockets on those ports: the
   * kernel kept the 6 client sockets and the FIN_WAIT2 one to itself. */
  ck_assert_uint_eq(c.stats.diag.sockets, 3 + 8);
  /* Second read: same answer from the reused socket and filter. */
  ck_assert_str_eq(read_blocks_sorted(),
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61443-local: ESTABLISHED=3 LISTEN=1");
  release(&p);
}
END_TEST

START_TEST(all_ports_summary_counts_every_socket) {
  static const char *const opts[] = {"AllPortsSummary", "true", NULL};
  struct population p = {.n = 0};

  enter_netns();
  build_population(&p);
  configure(opts);
  /* 6 connections x 2 ends established, + FIN_WAIT2 client, CLOSE_WAIT
   * server, TIME_WAIT server, 3 listeners. */
  ck_assert_str_eq(read_blocks(), "all: ESTABLISHED=12 FIN_WAIT2=1 "
                                  "TIME_WAIT=1 CLOSE_WAIT=1 LISTEN=3");
  ck_assert_uint_eq(c.stats.diag.sockets, 18);
  release(&p);
}
END_TEST

START_TEST(configured_ports_filtered_in_kernel) {
  static const char *const opts[] = {"LocalPort",  "61080",     "RemotePort",
                                     "61443",      "LocalPort", "61999",
                                     "RemotePort", "61080",     NULL};
  struct population p = {.n = 0};

  enter_netns();
  build_population(&p);
  configure(opts);
  /* Newest entry first, as upstream; RemotePort 61080 joins the entry
   * LocalPort 61080 made, which keeps its place. */
  ck_assert_str_eq(read_blocks(),
                   "61999-local:\n"
                   "61443-remote: ESTABLISHED=3\n"
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61080-remote: ESTABLISHED=3 FIN_WAIT2=1");
  /* Listeners (3) + 61080 server side (5) + 61080 clients (4) + 61443
   * clients (3). The 3 server sockets of 61443 never left the kernel. */
  ck_assert_uint_eq(c.stats.diag.sockets, 3 + 5 + 4 + 3);
  release(&p);
}
END_TEST

START_TEST(every_request_form_agrees) {
  static const char *const opts[] = {
      "LocalPort",      "61443", "RemotePort", "61080",
      "ListeningPorts", "true",  NULL};
  struct population p = {.n = 0};
  char first[65536];

  enter_netns();
  build_population(&p);
  configure(opts);
  snprintf(first, sizeof(first), "%s", read_blocks());
  ck_assert_int_eq(c.source, SOURCE_LEGACY);
  ck_assert_uint_eq(c.bc_flags, 0);

  /* Range-only bytecode (kernels without S_EQ/D_EQ). */
  c.bc_flags = BC_NO_EQ; /* the filter is compiled again for the flags */
  ck_assert_str_eq(read_blocks(), first);
  /* One dump per family. */
  c.source = SOURCE_V2;
  ck_assert_str_eq(read_blocks(), first);
  ck_assert_uint_eq(c.stats.diag.dumps, 4);
  /* /proc/net/tcp{,6}: no kernel filter, same counts. */
  c.source = SOURCE_PROC;
  ck_assert_str_eq(read_blocks(), first);
  ck_assert_uint_eq(c.stats.diag.dumps, 0);
  release(&p);
}
END_TEST

START_TEST(listener_coming_and_going) {
  static const char *const opts[] = {NULL};
  struct population p = {.n = 0};
  int extra;

  enter_netns();
  build_population(&p);
  configure(opts);
  read_blocks();
  extra = tsock_listen("127.0.0.1", 62000, 0);
  /* The new port is the newest entry: first. */
  ck_assert_str_eq(strtok(strdup(read_blocks()), "\n"),
                   "62000-local: LISTEN=1");
  ck_assert_str_eq(read_blocks_sorted(),
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61443-local: ESTABLISHED=3 LISTEN=1\n"
                   "62000-local: LISTEN=1");
  close(extra);
  /* Gone at once, without a block of zeros. */
  ck_assert_str_eq(read_blocks_sorted(),
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61443-local: ESTABLISHED=3 LISTEN=1");
  release(&p);
}
END_TEST

START_TEST(hundreds_of_listening_ports) {
  static const char *const opts[] = {NULL};
  enum { NPORTS = 300 };
  static int lfd[NPORTS], cfd[NPORTS], sfd[NPORTS];
  const char *blocks;
  size_t lines = 0;

  enter_netns();
  for (int i = 0; i < NPORTS; i++) {
    /* Scattered: every third port, so the filter is a real tree. */
    lfd[i] = tsock_listen("127.0.0.1", (uint16_t)(61001 + 3 * i), 0);
    cfd[i] = tsock_connect("127.0.0.1", (uint16_t)(61001 + 3 * i));
    sfd[i] = tsock_accept(lfd[i]);
  }
  configure(opts);
  blocks = read_blocks();
  for (const char *q = blocks;
       (q = strstr(q, "-local: ESTABLISHED=1 LISTEN=1")); q++)
    lines++;
  if (lines != NPORTS) {
    for (const char *q = blocks; *q;
         q = strchr(q, '\n') ? strchr(q, '\n') + 1 : "")
      if (strncmp(strchr(q, ':'), ": ESTABLISHED=1 LISTEN=1", 24) != 0)
        fprintf(stderr, "%.60s\n", q);
  }
  ck_assert_uint_eq(lines, NPORTS);
  ck_assert_uint_eq(c.stats.diag.sockets, 2 * NPORTS);
  for (int i = 0; i < NPORTS; i++) {
    close(cfd[i]);
    close(sfd[i]);
    close(lfd[i]);
  }
  collector_destroy(&c);
}
END_TEST

START_TEST(states_filter_in_kernel) {
  static const char *const opts[] = {
      "AllPortsSummary",      "true", "LocalPort", "61080", "States",
      "CLOSE_WAIT TIME_WAIT", NULL};
  struct population p = {.n = 0};

  enter_netns();
  build_population(&p);
  configure(opts);
  read_blocks(); /* the first read also probes the kernel */
  ck_assert_str_eq(read_blocks(), "all: TIME_WAIT=1 CLOSE_WAIT=1\n"
                                  "61080-local: TIME_WAIT=1 CLOSE_WAIT=1");
  /* No LISTEN dump (LISTEN not asked, no discovery); the connection dump
   * asked the kernel for the two states only. */
  ck_assert_uint_eq(c.stats.diag.dumps, 1);
  ck_assert_uint_eq(c.stats.diag.sockets, 2);
  release(&p);
}
END_TEST

START_TEST(port_ranges_in_kernel) {
  static const char *const opts[] = {"LocalPort", "61000-61100", "LocalPort",
                                     "61080",     "RemotePort",  "61400-61500",
                                     NULL};
  struct population p = {.n = 0};

  enter_netns();
  build_population(&p);
  configure(opts);
  ck_assert_str_eq(read_blocks(),
                   "61080-local: ESTABLISHED=3 TIME_WAIT=1 CLOSE_WAIT=1 "
                   "LISTEN=2\n"
                   "61000-61100-local: ESTABLISHED=3 TIME_WAIT=1 "
                   "CLOSE_WAIT=1 LISTEN=2\n"
                   "61400-61500-remote: ESTABLISHED=3");
  /* 3 listeners, 5 server sockets on 61080, 3 client sockets to 61443. */
  ck_assert_uint_eq(c.stats.diag.sockets, 3 + 5 + 3);
  release(&p);
}
END_TEST

struct queue_seen {
  char instance[32];
  uint32_t accept, backlog;
  int n;
};

static void record_queue(void *ctx, const char *inst, uint32_t accept,
                         uint32_t backlog) {
  struct queue_seen *q = ctx;
  snprintf(q->instance, sizeof(q->instance), "%s", inst);
  q->accept = accept;
  q->backlog = backlog;
  q->n++;
}

START_TEST(accept_queue_of_a_listener_that_never_accepts) {
  static const char *const opts[] = {"ReportAcceptQueue", "true", NULL};
  enum { K = 7 };
  struct queue_seen q = {.n = 0};
  int lfd, cfd[K];

  enter_netns();
  lfd = tsock_listen("127.0.0.1", 62500, 0); /* backlog 128 */
  for (int i = 0; i < K; i++)
    cfd[i] = tsock_connect("127.0.0.1", 62500);
  configure(opts);
  ck_assert_str_eq(read_blocks(), "62500-local: ESTABLISHED=7 LISTEN=1");
  report_each_queue(&c, NULL, record_queue, &q);
  ck_assert_int_eq(q.n, 1);
  ck_assert_str_eq(q.instance, "62500-local");
  ck_assert_uint_eq(q.accept, K);
  ck_assert_uint_eq(q.backlog, 128);
  for (int i = 0; i < K; i++)
    close(cfd[i]);
  close(lfd);
  collector_destroy(&c);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernel");
  TCase *tc = tcase_create("kernel");
  SRunner *sr;
  int failed;

  if (geteuid() != 0 || netns_available() != 0) {
    fprintf(stderr, "check_kernel: SKIP: needs root able to create network namespaces\n");
    return 77;
  }
  tcase_add_test(tc, default_block_reports_listening_ports);
  tcase_add_test(tc, all_ports_summary_counts_every_socket);
  tcase_add_test(tc, configured_ports_filtered_in_kernel);
  tcase_add_test(tc, every_request_form_agrees);
  tcase_add_test(tc, listener_coming_and_going);
  tcase_add_test(tc, hundreds_of_listening_ports);
  tcase_add_test(tc, states_filter_in_kernel);
  tcase_add_test(tc, port_ranges_in_kernel);
  tcase_add_test(tc, accept_queue_of_a_listener_that_never_accepts);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  /* Each test in its own process, hence its own namespace. */
  srunner_set_fork_status(sr, CK_FORK);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
