/* SPDX-License-Identifier: MIT */
/* The collector against the real kernel: each test runs in its own empty
 * network namespace with a known set of loopback sockets and checks exact
 * counts per port and state, and that a filtered dump brought only the
 * matching sockets into user space. The <Connections> programs (S_COND/
 * D_COND host conditions) are sent to the kernel as they are and must
 * bring back exactly the sockets the user-space model of the kernel
 * (bc_model.c) accepts from an unfiltered dump. Needs root (CAP_SYS_ADMIN
 * for unshare); exits 77 (skipped) otherwise. */
#include "check_run.h"
#include "collector_private.h"
#include "report_blocks.h"
#include "bc_model.h"
#include "bytecode.h"
#include "conn_blocks.h"
#include "netns.h"
#include "options.h"
#include "truth_dump.h"

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

/* --- <Connections>: the kernel runs host conditions as the model --- */

/* Sockets spread over addresses: v4 listeners on 127.0.0.1 and 127.0.0.5,
 * a v6-only listener on ::1, a dual-stack [::] listener reached over IPv4
 * (IPv4-mapped server sockets) and over IPv6; clients bound to 127.0.0.2,
 * .3, .4, .7, .200 and ::1; some accepted, some queued, one server closed
 * first (TIME_WAIT), one client closed first (CLOSE_WAIT/FIN_WAIT2). */
static void build_spread(struct population *p) {
  static const char *const from[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4",
                                     "127.0.0.200"};
  int l1 = keep(p, tsock_listen("127.0.0.1", 61080, 0));
  int l5 = keep(p, tsock_listen("127.0.0.5", 61081, 0));
  int l6 = keep(p, tsock_listen("::1", 61080, 1));
  int dual = keep(p, tsock_listen("::", 61443, 0));
  int cl, sv;

  for (size_t i = 0; i < 4; i++) {
    keep(p, tsock_connect_from(from[i], "127.0.0.1", 61080));
    keep(p, tsock_accept(l1));
  }
  keep(p, tsock_connect_from("127.0.0.7", "127.0.0.5", 61081));
  keep(p, tsock_accept(l5));
  keep(p, tsock_connect_from("::1", "::1", 61080));
  keep(p, tsock_accept(l6));
  for (int i = 0; i < 2; i++) {
    keep(p, tsock_connect_from("127.0.0.7", "127.0.0.1", 61443));
    keep(p, tsock_accept(dual)); /* ::ffff:127.0.0.1 <- ::ffff:127.0.0.7 */
  }
  keep(p, tsock_connect_from("::1", "::1", 61443));
  keep(p, tsock_accept(dual));
  cl = tsock_connect_from("127.0.0.4", "127.0.0.1", 61080);
  keep(p, tsock_accept(l1));
  close(cl); /* CLOSE_WAIT + FIN_WAIT2 */
  cl = tsock_connect_from("127.0.0.2", "127.0.0.5", 61081);
  sv = tsock_accept(l5);
  close(sv);
  usleep(50000);
  close(cl); /* TIME_WAIT on the server side */
  keep(p, tsock_connect_from("127.0.0.3", "127.0.0.5", 61081)); /* queued */
  usleep(200000);
}

/* Blocks as the configuration gives them: key, value, ..., NULL. */
static const char *const *const spread_blocks[] = {
    (const char *const[]){"LocalPort", "61080", NULL},
    (const char *const[]){"RemoteAddress", "127.0.0.0/30", NULL},
    (const char *const[]){"LocalAddress", "127.0.0.1", "RemotePort", "61080",
                          NULL},
    (const char *const[]){"RemoteAddress", "127.0.0.7", NULL},
    (const char *const[]){"LocalAddress", "::1", NULL},
    (const char *const[]){"LocalAddress", "::ffff:127.0.0.0/104", NULL},
    (const char *const[]){"RemoteAddress", "0.0.0.0/0", NULL},
    (const char *const[]){"RemoteAddress", "::/0", NULL},
    (const char *const[]){"LocalPort", "61000-61500", "RemoteAddress",
                          "127.0.0.0/8 ::1", NULL},
    (const char *const[]){"LocalAddress", "127.0.0.5 ::/0", "LocalPort",
                          "61081 61443", NULL},
    (const char *const[]){"RemoteAddress", "127.0.0.200/31", "LocalAddress",
                          "127.0.0.1/32", "RemotePort", "1-65535", "LocalPort",
                          "61080", NULL},
};
#define NSPREAD (sizeof(spread_blocks) / sizeof(spread_blocks[0]))

static void add_spread_block(struct collector_config *cfg, size_t i) {
  char name[16], err[512];
  const char *const *kv = spread_blocks[i];

  snprintf(name, sizeof(name), "b%zu", i);
  ck_assert_int_eq(conns_begin(cfg, name, err, sizeof(err)), 0);
  for (; kv[0] != NULL; kv += 2)
    ck_assert_msg(conns_apply(cfg, kv[0], kv[1], err, sizeof(err)) == 0, "%s",
                  err);
  ck_assert_int_eq(conns_finish(cfg, err, sizeof(err)), 0);
}

static struct bcm_sock bcm_of(const struct truth_sock *t) {
  struct bcm_sock s = {
      .family = t->family, .sport = t->sport, .dport = t->dport};

  memcpy(s.src, t->src, 16);
  memcpy(s.dst, t->dst, 16);
  return s;
}

/* What a filtered dump brought back, as truth records. */
static int collect(void *data, const struct diag_sock *s) {
  struct truth *t = data;
  struct truth_sock *r;

  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->socks = realloc(t->socks, t->cap * sizeof(*t->socks));
    ck_assert_ptr_nonnull(t->socks);
  }
  r = &t->socks[t->n++];
  memset(r, 0, sizeof(*r));
  r->family = s->family;
  r->sport = s->sport;
  r->dport = s->dport;
  r->state = s->state;
  memcpy(r->src, s->src, s->family == AF_INET ? 4 : 16);
  memcpy(r->dst, s->dst, s->family == AF_INET ? 4 : 16);
  return 0;
}

static int cmp_key(const void *a, const void *b) {
  const struct truth_sock *x = a, *y = b;
  int d = x->family - y->family;

  if (d == 0)
    d = memcmp(x->src, y->src, 16);
  if (d == 0)
    d = memcmp(x->dst, y->dst, 16);
  if (d == 0)
    d = x->sport - y->sport;
  if (d == 0)
    d = x->dport - y->dport;
  if (d == 0)
    d = x->state - y->state;
  return d;
}

/* Compares addresses, ports and states only (queues move). */
static void assert_same_sockets(struct truth *a, struct truth *b,
                                const char *what) {
  qsort(a->socks, a->n, sizeof(*a->socks), cmp_key);
  qsort(b->socks, b->n, sizeof(*b->socks), cmp_key);
  ck_assert_msg(a->n == b->n, "%s: kernel returned %zu sockets, model %zu",
                what, a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    ck_assert_msg(cmp_key(&a->socks[i], &b->socks[i]) == 0,
                  "%s: socket %zu differs", what, i);
}

/* Each block alone, all of them together, and together after port sets:
 * every program is accepted by the kernel and returns exactly the
 * sockets the model accepts, in both request forms, with and without
 * S_EQ. */
START_TEST(kernel_runs_block_programs_as_the_model) {
  static uint8_t prog[BC_MAX_LEN];
  static const struct bc_range lports[] = {{61081, 61081}};
  struct population p = {.n = 0};
  struct collector_config cfg;
  struct diag_conn conn;
  struct truth all = {0}, got = {0}, want = {0};
  struct diag_dump_stats stats = {0};
  struct bc_term terms[NSPREAD];
  unsigned checked = 0;

  enter_netns();
  build_spread(&p);
  ck_assert_int_eq(truth_dump(&all), 0);
  ck_assert_uint_ge(all.n, 25);
  config_init(&cfg);
  for (size_t i = 0; i < NSPREAD; i++) {
    add_spread_block(&cfg, i);
    terms[i] = conns_term(&cfg.conns[i]);
  }
  ck_assert_int_eq(diag_conn_init(&conn, &diag_io_kernel), 0);
  for (size_t i = 0; i <= NSPREAD + 1; i++) {
    struct bc_filter f = {.terms = i < NSPREAD ? &terms[i] : terms,
                          .nterms = i < NSPREAD ? 1 : NSPREAD};
    if (i == NSPREAD + 1) {
      f.local = lports;
      f.nlocal = 1;
    }
    for (unsigned flags = 0; flags <= BC_NO_EQ; flags += BC_NO_EQ)
      for (int kind = 0; kind < 2; kind++) {
        struct diag_request req = {.kind = kind ? DIAG_REQ_V2 : DIAG_REQ_LEGACY,
                                   .states = TCS_MASK_ALL};
        size_t len = 0;
        char what[64];

        ck_assert_int_eq(bc_compile_filter(&f, flags, prog, sizeof(prog), &len),
                         0);
        ck_assert_int_eq(bcm_audit(prog, len), 0);
        req.bytecode = prog;
        req.bytecode_len = len;
        got.n = 0;
        for (int fam = 0; fam < (kind ? 2 : 1); fam++) {
          req.family = fam ? AF_INET6 : AF_INET;
          ck_assert_int_eq(
              diag_dump_queues(&conn, &req, NULL, collect, NULL, &got, &stats),
              0);
        }
        want.n = 0;
        for (size_t k = 0; k < all.n; k++) {
          struct bcm_sock s = bcm_of(&all.socks[k]);
          if (bcm_run_sock(prog, len, &s, NULL)) {
            struct diag_sock d = {.family = s.family,
                                  .state = all.socks[k].state,
                                  .sport = s.sport,
                                  .dport = s.dport,
                                  .src = s.src,
                                  .dst = s.dst};
            collect(&want, &d);
          }
        }
        snprintf(what, sizeof(what), "program %zu, flags %u, %s", i, flags,
                 kind ? "per family" : "legacy");
        assert_same_sockets(&got, &want, what);
        /* neither nothing nor everything, for most programs */
        checked += got.n > 0 && got.n < all.n;
      }
  }
  ck_assert_uint_ge(checked, 4 * (NSPREAD - 2));
  diag_conn_destroy(&conn);
  config_destroy(&cfg);
  truth_free(&all);
  truth_free(&got);
  truth_free(&want);
  for (int i = 0; i < p.n; i++)
    close(p.fds[i]);
}
END_TEST

/* The collector with the same blocks (and the default options): each
 * block's counts per state are those of the truth's sockets that the
 * model accepts for the block alone, LISTEN included (from the listener
 * dump); the port values are unchanged by the blocks. */
START_TEST(collector_counts_blocks_exactly) {
  static uint8_t prog[BC_MAX_LEN];
  struct population p = {.n = 0};
  struct collector_config cfg;
  struct truth all = {0};
  char err[256];
  const char *before;
  static struct text plain;

  enter_netns();
  build_spread(&p);
  /* the default block alone, for comparison */
  configure((const char *const[]){NULL});
  before = read_blocks_sorted();
  snprintf(plain.s, sizeof(plain.s), "%s", before);
  collector_destroy(&c);

  config_init(&cfg);
  for (size_t i = 0; i < NSPREAD; i++)
    add_spread_block(&cfg, i);
  /* a block that counts only some states */
  ck_assert_int_eq(conns_begin(&cfg, "few", err, sizeof(err)), 0);
  ck_assert_int_eq(
      conns_apply(&cfg, "RemoteAddress", "127.0.0.0/8", err, sizeof(err)), 0);
  ck_assert_int_eq(conns_apply(&cfg, "States", "LISTEN TIME_WAIT CLOSE_WAIT",
                               err, sizeof(err)),
                   0);
  ck_assert_int_eq(conns_finish(&cfg, err, sizeof(err)), 0);
  options_finish(&cfg);
  ck_assert_int_eq(collector_init(&c, &cfg, &diag_io_kernel), 0);
  ck_assert_str_eq(read_blocks_sorted(), plain.s);
  ck_assert_int_eq(truth_dump(&all), 0);
  for (size_t i = 0; i < cfg.nconns; i++) {
    struct bc_term t = conns_term(&cfg.conns[i]);
    struct bc_filter f = {.terms = &t, .nterms = 1};
    uint32_t want[TCS_COUNT] = {0};
    size_t len;

    ck_assert_int_eq(bc_compile_filter(&f, 0, prog, sizeof(prog), &len), 0);
    for (size_t k = 0; k < all.n; k++) {
      struct bcm_sock s = bcm_of(&all.socks[k]);
      if ((cfg.conns[i].states & (1u << all.socks[k].state)) &&
          bcm_run_sock(prog, len, &s, NULL))
        want[all.socks[k].state]++;
    }
    for (int st = TCS_MIN; st <= TCS_MAX; st++)
      ck_assert_msg(c.conns_counts[i][st] == want[st],
                    "block %s state %s: counted %u, model %u",
                    cfg.conns[i].name, tcs_names[st], c.conns_counts[i][st],
                    want[st]);
  }
  /* "few" saw the listeners on 127.x and the TIME_WAIT */
  ck_assert_uint_eq(c.conns_counts[NSPREAD][TCS_LISTEN],
                    0); /* remote 0.0.0.0 */
  ck_assert_uint_eq(c.conns_counts[NSPREAD][6], 1);
  ck_assert_uint_eq(c.conns_counts[NSPREAD][8], 1);
  truth_free(&all);
  config_destroy(&cfg);
  for (int i = 0; i < p.n; i++)
    close(p.fds[i]);
  collector_destroy(&c);
}
END_TEST

int main(void) {
  /* Each test in its own process, hence its own namespace. */
  static const struct check_case c = {
      .name = "kernel", .timeout = 60, .fork_each = true};
  const TTest *const tests[] = {default_block_reports_listening_ports,
                                all_ports_summary_counts_every_socket,
                                configured_ports_filtered_in_kernel,
                                every_request_form_agrees,
                                listener_coming_and_going,
                                hundreds_of_listening_ports,
                                states_filter_in_kernel,
                                port_ranges_in_kernel,
                                accept_queue_of_a_listener_that_never_accepts,
                                kernel_runs_block_programs_as_the_model,
                                collector_counts_blocks_exactly,
                                NULL};

  if (netns_require("check_kernel") != 0)
    return 77;

  return check_run(&c, tests);
}
