/* SPDX-License-Identifier: MIT */
/* Model-based test of the collector's one promise: a read that reports
 * success reports exactly what the kernel holds, whatever failed before.
 *
 * In two private network namespaces, a seeded random walk opens and closes
 * listeners (v4, v6-only and dual-stack, ports below and above 32767),
 * opens, accepts, half-closes and closes connections (leaving FIN_WAIT2,
 * CLOSE_WAIT and TIME_WAIT behind), over several addresses: IPv4
 * listeners on 127.0.0.1 or .2, clients bound to 127.0.0.1 to .4, so
 * that <Connections> blocks with address conditions (IPv4-mapped
 * sockets of dual-stack listeners included) have something to tell
 * apart. After each step every collector (one
 * per option block, one of them in the second namespace as a <Namespace>
 * block reads it) makes a read, with random faults planned at any call of
 * any dump of the read, often several reads in a row. Each read that
 * succeeds is compared with what an independent model of the options
 * computes from an unfiltered dump taken just before, with the socket set
 * unchanged just after.
 *
 * MODEL_SEED=N replays a run (the seed is printed, and in every failure);
 * MODEL_STEPS=N sets its length. Needs root (exits 77 otherwise). */
#include "check_run.h"
#include "collector_private.h"
#include "report_blocks.h"
#include "fault_io.h"
#include "netns.h"
#include "conn_blocks.h"
#include "netns_io.h"
#include "options.h"
#include "truth_dump.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* --- a seeded generator ---------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng_next(void) {
  /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static unsigned rnd(unsigned n) {
  return (unsigned)(rng_next() % n);
}

static int chance(unsigned percent) {
  return rnd(100) < percent;
}

/* --- the option blocks under test ------------------------------------ */

struct block_spec {
  const char *name;
  int ns;                     /* 0: namespace A, 1: namespace B */
  const char *const *options; /* key, value, ..., NULL */
  const char *const *conns;   /* "NAME|Key=value|Key=value", ..., NULL */
};

static const char *const opt_default[] = {NULL};
static const char *const opt_ports[] = {"LocalPort",  "40001",      "LocalPort",
                                        "1002",       "RemotePort", "40003",
                                        "RemotePort", "61002",      NULL};
static const char *const opt_ranges[] = {
    "LocalPort", "40000-40007", "LocalPort", "40004-40011", "RemotePort",
    "1000-1003", "LocalPort",   "61001",     NULL};
static const char *const opt_states[] = {"ListeningPorts",
                                         "true",
                                         "States",
                                         "ESTABLISHED TIME_WAIT",
                                         "States",
                                         "CLOSE_WAIT FIN_WAIT2",
                                         "LocalPort",
                                         "40002",
                                         NULL};
static const char *const opt_listen_only[] = {"States", "LISTEN", NULL};
static const char *const opt_all[] = {"AllPortsSummary", "true", "LocalPort",
                                      "1001", NULL};
static const char *const opt_queue[] = {"ReportAcceptQueue", "true", NULL};
static const char *const opt_blocks_only[] = {"ListeningPorts", "false", NULL};
static const char *const opt_ns[] = {
    "ListeningPorts",    "true", "RemotePort", "40005",
    "ReportAcceptQueue", "true", NULL};

/* <Connections> blocks: addresses only, ports and addresses, ranges,
 * States, LISTEN (from the listener dump), IPv6 and IPv4-mapped. */
static const char *const conns_main[] = {
    "on_two|LocalAddress=127.0.0.2",
    "to_low|RemotePort=40000-40005|RemoteAddress=127.0.0.0/31 ::1|"
    "States=ESTABLISHED FIN_WAIT2 TIME_WAIT CLOSE_WAIT",
    "from_34|RemoteAddress=127.0.0.3 127.0.0.4/32|LocalPort=1000-1003 61000",
    "six|LocalAddress=::/0|States=LISTEN SYN_RECV ESTABLISHED",
    "mapped|LocalAddress=::ffff:127.0.0.0/120",
    NULL};
static const char *const conns_all[] = {
    "one|LocalAddress=127.0.0.1|RemotePort=1001", NULL};
static const char *const conns_listen[] = {
    "est_two|RemoteAddress=127.0.0.2/32|States=ESTABLISHED", NULL};
static const char *const conns_ns[] = {"loop|RemoteAddress=127.0.0.0/8", NULL};
/* Next to port sets: blocks their ports cover (no term of their own in the
 * kernel filter) while those ports listen, and blocks they do not. */
static const char *const conns_covered[] = {
    "low_two|LocalPort=1000-1001|RemoteAddress=127.0.0.0/30",
    "on_40002|LocalPort=40002|States=ESTABLISHED TIME_WAIT CLOSE_WAIT",
    "to_40003|RemotePort=40003",
    "to_61002|RemotePort=61002|LocalAddress=127.0.0.1 ::1",
    "from_40001|LocalPort=40001 40009",
    NULL};

static const struct block_spec specs[] = {
    {"default", 0, opt_default, NULL},
    {"ports", 0, opt_ports, NULL},
    {"ranges", 0, opt_ranges, NULL},
    {"states", 0, opt_states, NULL},
    {"listen-only", 0, opt_listen_only, conns_listen},
    {"all", 0, opt_all, conns_all},
    {"queue", 0, opt_queue, NULL},
    {"conns", 0, opt_blocks_only, conns_main},
    {"conns-covered", 0, opt_default, conns_covered},
    {"conns-ports", 0, opt_ports, conns_covered},
    {"namespace", 1, opt_default, conns_ns},
    {"namespace-ports", 1, opt_ns, NULL},
};
#define NBLOCKS (sizeof(specs) / sizeof(specs[0]))

/* The model's own reading of an option block: the README's meaning,
 * written again without the plugin's code. */
struct model_host {
  int family, prefix;
  uint8_t addr[16];
};

struct model_conns {
  char name[48];
  uint32_t states;
  int nport[2], nhost[2]; /* [0] local, [1] remote */
  struct {
    uint16_t lo, hi;
  } port[2][8];
  struct model_host host[2][8];
};

struct model_cfg {
  int listening, listening_given, all, queue;
  uint32_t states;
  int nlocal, nremote, nranges;
  uint16_t local[8], remote[8];
  struct {
    uint16_t lo, hi;
    int local;
  } ranges[8];
  int nconns;
  struct model_conns conns[8];
};

static uint32_t state_bit(const char *name) {
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (strcmp(name, tcs_names[st]) == 0)
      return 1u << st;
  ck_abort_msg("model: unknown state %s", name);
  return 0;
}

static void model_parse(const char *const *kv, struct model_cfg *m) {
  int states_given = 0;

  memset(m, 0, sizeof(*m));
  m->states = TCS_MASK_ALL;
  for (; kv[0] != NULL; kv += 2) {
    const char *k = kv[0], *v = kv[1];
    unsigned lo, hi;

    if (strcmp(k, "ListeningPorts") == 0) {
      m->listening = strcmp(v, "true") == 0;
      m->listening_given = 1;
    } else if (strcmp(k, "AllPortsSummary") == 0) {
      m->all = 1;
    } else if (strcmp(k, "ReportAcceptQueue") == 0) {
      m->queue = 1;
    } else if (strcmp(k, "States") == 0) {
      char buf[128], *save = NULL;
      uint32_t mask = 0;
      snprintf(buf, sizeof(buf), "%s", v);
      for (char *s = strtok_r(buf, " ", &save); s != NULL;
           s = strtok_r(NULL, " ", &save))
        mask |= state_bit(s);
      m->states = states_given ? m->states | mask : mask;
      states_given = 1;
    } else if (sscanf(v, "%u-%u", &lo, &hi) == 2) {
      m->ranges[m->nranges].lo = (uint16_t)lo;
      m->ranges[m->nranges].hi = (uint16_t)hi;
      m->ranges[m->nranges++].local = strcmp(k, "LocalPort") == 0;
    } else if (strcmp(k, "LocalPort") == 0) {
      m->local[m->nlocal++] = (uint16_t)atoi(v);
    } else {
      m->remote[m->nremote++] = (uint16_t)atoi(v);
    }
  }
  /* No port and no summary: listening ports, as upstream (finished in
   * model_finish(), once the blocks are known). */
}

static void model_finish(struct model_cfg *m) {
  /* ... unless <Connections> blocks and ListeningPorts false: the blocks
   * alone. */
  if (m->nconns > 0 && m->listening_given && !m->listening)
    return;
  if (!m->all && m->nlocal == 0 && m->nremote == 0 && m->nranges == 0)
    m->listening = 1;
}

/* "NAME|Key=v v|Key=v": the model's own reading of a <Connections>
 * block, as the README says it. */
static void model_parse_conns(const char *spec, struct model_conns *b) {
  char buf[256], *save = NULL, *field;

  memset(b, 0, sizeof(*b));
  b->states = TCS_MASK_ALL;
  snprintf(buf, sizeof(buf), "%s", spec);
  field = strtok_r(buf, "|", &save);
  snprintf(b->name, sizeof(b->name), "%s", field);
  while ((field = strtok_r(NULL, "|", &save)) != NULL) {
    char *eq = strchr(field, '='), *vsave = NULL;
    int remote = strncmp(field, "Remote", 6) == 0;

    *eq = '\0';
    if (strcmp(field, "States") == 0)
      b->states = 0;
    for (char *v = strtok_r(eq + 1, " ", &vsave); v != NULL;
         v = strtok_r(NULL, " ", &vsave)) {
      unsigned lo, hi;

      if (strcmp(field, "States") == 0) {
        b->states |= state_bit(v);
      } else if (strstr(field, "Port") != NULL) {
        if (sscanf(v, "%u-%u", &lo, &hi) != 2)
          hi = lo = (unsigned)atoi(v);
        b->port[remote][b->nport[remote]].lo = (uint16_t)lo;
        b->port[remote][b->nport[remote]++].hi = (uint16_t)hi;
      } else {
        struct model_host *h = &b->host[remote][b->nhost[remote]++];
        char *slash = strchr(v, '/');

        if (slash != NULL)
          *slash = '\0';
        h->family = strchr(v, ':') ? AF_INET6 : AF_INET;
        ck_assert_int_eq(inet_pton(h->family, v, h->addr), 1);
        h->prefix = slash ? atoi(slash + 1) : h->family == AF_INET ? 32 : 128;
      }
    }
  }
}

static int model_bits(const uint8_t *a, const uint8_t *b, int bits) {
  for (int i = 0; i < bits; i++)
    if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
      return 0;
  return 1;
}

/* The kernel's rule: same family and prefix, or an IPv4 network and an
 * IPv4-mapped address of an IPv6 socket. */
static int model_host_match(const struct model_host *h, int family,
                            const uint8_t *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

  if (h->family == family)
    return model_bits(addr, h->addr, h->prefix);
  return h->family == AF_INET && family == AF_INET6 &&
         memcmp(addr, mapped, 12) == 0 &&
         model_bits(addr + 12, h->addr, h->prefix);
}

static int model_conns_match(const struct model_conns *b,
                             const struct truth_sock *t) {
  for (int d = 0; d < 2; d++) {
    uint16_t port = d ? t->dport : t->sport;
    const uint8_t *addr = d ? t->dst : t->src;
    int ok = b->nport[d] == 0, okh = b->nhost[d] == 0;

    for (int i = 0; i < b->nport[d]; i++)
      ok |= port >= b->port[d][i].lo && port <= b->port[d][i].hi;
    for (int i = 0; i < b->nhost[d]; i++)
      okh |= model_host_match(&b->host[d][i], t->family, addr);
    if (!ok || !okh)
      return 0;
  }
  return 1;
}

/* --- lines: what a read reports, in a form both sides can produce ---- */

struct lines {
  char **v;
  size_t n, cap;
};

static void lines_add(struct lines *l, const char *fmt, ...) {
  char buf[128];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (l->n == l->cap) {
    l->cap = l->cap ? 2 * l->cap : 64;
    l->v = realloc(l->v, l->cap * sizeof(*l->v));
    ck_assert_ptr_nonnull(l->v);
  }
  l->v[l->n] = strdup(buf);
  ck_assert_ptr_nonnull(l->v[l->n]);
  l->n++;
}

static void lines_clear(struct lines *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  l->n = 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lines_sort(struct lines *l) {
  if (l->n > 1) /* l->v is NULL before the first line (UBSan: nonnull) */
    qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

static void add_counts(struct lines *l, const char *inst,
                       const uint32_t *counts, uint32_t states) {
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (states & (1u << st))
      lines_add(l, "%s %s=%u", inst, tcs_names[st], counts[st]);
}

/* Expected lines for one block from the truth of its namespace. */
static void model_expect(const struct model_cfg *m, const struct truth *t,
                         struct lines *out) {
  static uint8_t listening[65536];
  uint32_t counts[TCS_COUNT];
  char inst[32];
  uint32_t local_inst[65536 / 32 + 1];

  memset(listening, 0, sizeof(listening));
  memset(local_inst, 0, sizeof(local_inst));
  for (size_t i = 0; i < t->n; i++)
    if (t->socks[i].state == TCS_LISTEN)
      listening[t->socks[i].sport] = 1;
  if (m->all) {
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < t->n; i++)
      counts[t->socks[i].state]++;
    add_counts(out, "all", counts, m->states);
  }
  for (uint32_t p = 1; p < 65536; p++) {
    int want = m->listening && listening[p];
    for (int i = 0; i < m->nlocal; i++)
      want |= m->local[i] == p;
    if (want)
      local_inst[p / 32] |= 1u << (p % 32);
  }
  for (uint32_t p = 1; p < 65536; p++) {
    uint32_t accept = 0, backlog = 0;

    if (!(local_inst[p / 32] & (1u << (p % 32))))
      continue;
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < t->n; i++)
      if (t->socks[i].sport == p) {
        counts[t->socks[i].state]++;
        if (t->socks[i].state == TCS_LISTEN) {
          accept += t->socks[i].rqueue;
          backlog += t->socks[i].wqueue;
        }
      }
    snprintf(inst, sizeof(inst), "%u-local", p);
    add_counts(out, inst, counts, m->states);
    if (m->queue && counts[TCS_LISTEN] > 0)
      lines_add(out, "%s queue accept=%u backlog=%u", inst, accept, backlog);
  }
  for (int r = 0; r < m->nremote; r++) {
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < t->n; i++)
      if (t->socks[i].dport == m->remote[r])
        counts[t->socks[i].state]++;
    snprintf(inst, sizeof(inst), "%u-remote", m->remote[r]);
    add_counts(out, inst, counts, m->states);
  }
  for (int r = 0; r < m->nranges; r++) {
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < t->n; i++) {
      uint16_t port =
          m->ranges[r].local ? t->socks[i].sport : t->socks[i].dport;
      if (port >= m->ranges[r].lo && port <= m->ranges[r].hi)
        counts[t->socks[i].state]++;
    }
    snprintf(inst, sizeof(inst), "%u-%u-%s", m->ranges[r].lo, m->ranges[r].hi,
             m->ranges[r].local ? "local" : "remote");
    add_counts(out, inst, counts, m->states);
  }
  for (int k = 0; k < m->nconns; k++) {
    memset(counts, 0, sizeof(counts));
    for (size_t i = 0; i < t->n; i++)
      if (model_conns_match(&m->conns[k], &t->socks[i]))
        counts[t->socks[i].state]++;
    add_counts(out, m->conns[k].name, counts, m->conns[k].states);
  }
  lines_sort(out);
}

/* --- the collectors --------------------------------------------------- */

struct block {
  const struct block_spec *spec;
  struct model_cfg model;
  struct collector c;
  struct fault_io faults;
  struct diag_io netns_io;
  struct netns_target target;
  int fault_run;       /* faulty reads still to come in this run */
  int failed_since_ok; /* reads failed since the last success */
  char history[256];   /* the faults since the last success */
};

static struct block blocks[NBLOCKS];
static struct lines got_lines, want_lines;

static void got_block(void *ctx, const char *inst, const uint32_t *counts) {
  const struct block *b = ctx;

  add_counts(&got_lines, inst, counts, b->model.states);
}

static void got_conns(void *ctx, const char *inst, const uint32_t *counts,
                      uint32_t states);

static void got_queue(void *ctx, const char *inst, uint32_t accept,
                      uint32_t backlog) {
  (void)ctx;
  lines_add(&got_lines, "%s queue accept=%u backlog=%u", inst, accept, backlog);
}

static void warn_ignore(void *ctx, const char *m) {
  (void)ctx;
  (void)m;
}

/* --- namespaces and sockets ------------------------------------------ */

static int ns_fd[2]; /* A and B */

static void enter_ns(int ns) {
  ck_assert_int_eq(setns(ns_fd[ns], CLONE_NEWNET), 0);
}

static void write_sysctl(const char *path, const char *value, int must) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? write(fd, value, strlen(value)) : -1;

  if (fd >= 0)
    close(fd);
  ck_assert_msg(n > 0 || !must, "%s: %s", path, strerror(errno));
}

/* A namespace of its own, created from the current one: a private
 * established hash for the namespaces it creates in turn (a shared one
 * makes every dump walk the host's 262,144 buckets), and client ports
 * below every port the walk listens on or configures. */
static int new_namespace(void) {
  ck_assert_int_eq(netns_enter_private(), 0);
  write_sysctl("/proc/sys/net/ipv4/tcp_child_ehash_entries", "1024", 0);
  write_sysctl("/proc/sys/net/ipv4/ip_local_port_range", "20000 29999", 1);
  return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

static void make_namespaces(void) {
  new_namespace(); /* the parent of A, for A's private hash */
  ns_fd[0] = new_namespace();
  ns_fd[1] = new_namespace();
  ck_assert_int_ge(ns_fd[0], 0);
  ck_assert_int_ge(ns_fd[1], 0);
  enter_ns(0);
}

enum role { LISTENER, CLIENT, SERVER };
enum family { V4, V6ONLY, DUAL };

struct tsock {
  int fd, ns;
  enum role role;
  uint16_t port;       /* listeners */
  enum family family;  /* listeners */
  int backlog, queued; /* listeners: limit, connections not accepted */
  uint8_t v4host;      /* listeners: 127.0.0.v4host (V4; DUAL: reached at) */
};

#define MAX_SOCKS 240
static struct tsock socks[MAX_SOCKS];
static int nsocks;
static const uint16_t listen_ports[] = {1000,  1001,  1002,  1003,  40000,
                                        40001, 40002, 40003, 40004, 40005,
                                        40008, 40011, 61000, 61001, 61002};

static int count_role(enum role r) {
  int n = 0;
  for (int i = 0; i < nsocks; i++)
    n += socks[i].role == r;
  return n;
}

static int pick(enum role r) {
  int n = count_role(r), k;

  if (n == 0)
    return -1;
  k = (int)rnd((unsigned)n);
  for (int i = 0; i < nsocks; i++)
    if (socks[i].role == r && k-- == 0)
      return i;
  return -1;
}

static void forget(int i) {
  socks[i] = socks[--nsocks];
}

static int new_socket(int ns, int family) {
  int fd;

  if (ns != 0)
    enter_ns(ns);
  fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (ns != 0)
    enter_ns(0);
  ck_assert_int_ge(fd, 0);
  return fd;
}

static socklen_t sockaddr_for(int v6, uint16_t port,
                              struct sockaddr_storage *ss, int any,
                              uint8_t v4host) {
  memset(ss, 0, sizeof(*ss));
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = any ? in6addr_any : in6addr_loopback;
    return sizeof(*a);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(0x7f000000u | v4host);
  return sizeof(*a);
}

static void op_listen(void) {
  struct tsock s = {.role = LISTENER};
  struct sockaddr_storage ss;
  socklen_t len;
  int one = 1, v6only;

  if (count_role(LISTENER) >= 14 || nsocks >= MAX_SOCKS)
    return;
  s.ns = chance(30);
  s.port = listen_ports[rnd(sizeof(listen_ports) / sizeof(listen_ports[0]))];
  s.family = (enum family)rnd(3);
  s.backlog = 1 + (int)rnd(6);
  s.v4host = (uint8_t)(1 + rnd(2));
  s.fd = new_socket(s.ns, s.family == V4 ? AF_INET : AF_INET6);
  setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  v6only = s.family == V6ONLY;
  if (s.family != V4)
    setsockopt(s.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  len = sockaddr_for(s.family != V4, s.port, &ss, s.family == DUAL, s.v4host);
  if (bind(s.fd, (struct sockaddr *)&ss, len) != 0 ||
      listen(s.fd, s.backlog) != 0) {
    close(s.fd); /* the port is taken in that family: another step */
    return;
  }
  socks[nsocks++] = s;
}

static void op_connect(void) {
  struct sockaddr_storage ss;
  struct tsock c = {.role = CLIENT};
  int li = pick(LISTENER), v6;
  socklen_t len;

  if (li < 0 || nsocks + 2 > MAX_SOCKS)
    return;
  /* A full accept queue would make connect() wait for retransmits. */
  if (socks[li].queued >= socks[li].backlog)
    return;
  v6 = socks[li].family == V6ONLY || (socks[li].family == DUAL && chance(50));
  c.ns = socks[li].ns;
  c.fd = new_socket(c.ns, v6 ? AF_INET6 : AF_INET);
  if (!v6) {
    /* from 127.0.0.1 to .4: bind the source address, any port */
    struct sockaddr_storage from;
    socklen_t flen = sockaddr_for(0, 0, &from, 0, (uint8_t)(1 + rnd(4)));
    ck_assert_int_eq(bind(c.fd, (struct sockaddr *)&from, flen), 0);
  }
  len = sockaddr_for(v6, socks[li].port, &ss, 0, socks[li].v4host);
  ck_assert_msg(connect(c.fd, (struct sockaddr *)&ss, len) == 0,
                "connect to port %u: %s", socks[li].port, strerror(errno));
  socks[nsocks++] = c;
  socks[li].queued++;
}

static void op_accept(void) {
  int li = pick(LISTENER);
  struct tsock s = {.role = SERVER};

  if (li < 0 || socks[li].queued == 0 || nsocks >= MAX_SOCKS)
    return;
  s.ns = socks[li].ns;
  s.fd = accept4(socks[li].fd, NULL, NULL, SOCK_CLOEXEC);
  ck_assert_msg(s.fd >= 0, "accept: %s", strerror(errno));
  socks[li].queued--;
  socks[nsocks++] = s;
}

static void op_close(enum role r) {
  int i = pick(r);

  if (i < 0)
    return;
  close(socks[i].fd);
  forget(i);
}

static void op_shutdown(void) {
  int i = pick(chance(50) ? CLIENT : SERVER);

  if (i >= 0)
    shutdown(socks[i].fd, SHUT_WR);
}

static const char *random_op(void) {
  unsigned r = rnd(100);

  if (r < 14)
    return op_listen(), "listen";
  if (r < 18)
    return op_close(LISTENER), "close-listener";
  if (r < 48)
    return op_connect(), "connect";
  if (r < 62)
    return op_accept(), "accept";
  if (r < 80)
    return op_close(chance(50) ? CLIENT : SERVER), "close";
  if (r < 90)
    return op_shutdown(), "shutdown";
  return "none";
}

/* --- faults ------------------------------------------------------------ */

static void random_fault(struct fault_plan *p) {
  static const int recv_errs[] = {ENOBUFS, EAGAIN, ENOSPC, ENOMEM};
  static const int nl_errs[] = {EINVAL, EPERM, ENOMEM, EBUSY};
  static const int other_errs[] = {ENOBUFS, EPERM, ENOMEM, EMFILE};

  memset(p, 0, sizeof(*p));
  p->kind = (enum fault_kind)(1 + rnd(FAULT_KINDS - 1));
  p->call = rnd(12);
  switch (p->kind) {
  case FAULT_RECV:
    p->err = recv_errs[rnd(4)];
    break;
  case FAULT_NLMSG_ERR:
  case FAULT_DONE_ERR:
    p->err = nl_errs[rnd(4)];
    break;
  case FAULT_EINTR:
    p->count = 1 + (int)rnd(12); /* up to 8 are retried, more fail */
    break;
  default:
    p->err = other_errs[rnd(4)];
    break;
  }
}

/* --- the walk ---------------------------------------------------------- */

struct stats {
  unsigned long reads, failed, faults, exact_after_faults, unsteady;
  unsigned long conns_counted; /* <Connections> values above zero */
  unsigned long by_kind[FAULT_KINDS];
};

static struct stats st;

static void got_conns(void *ctx, const char *inst, const uint32_t *counts,
                      uint32_t states) {
  (void)ctx;
  add_counts(&got_lines, inst, counts, states);
  for (int k = TCS_MIN; k <= TCS_MAX; k++)
    st.conns_counted += (states & (1u << k)) && counts[k] > 0;
}
static uint64_t seed;
static struct truth truth_before[2], truth_after[2];

static void truth_of(int ns, struct truth *t) {
  if (ns != 0)
    enter_ns(ns);
  ck_assert_int_eq(truth_dump(t), 0);
  if (ns != 0)
    enter_ns(0);
}

static void report_mismatch(const struct block *b, unsigned long step,
                            const char *op) {
  char diff[2048];
  size_t used = 0, i = 0, j = 0;

  while ((i < want_lines.n || j < got_lines.n) && used < sizeof(diff) - 160) {
    int c = i == want_lines.n  ? 1
            : j == got_lines.n ? -1
                               : strcmp(want_lines.v[i], got_lines.v[j]);
    if (c == 0) {
      i++, j++;
      continue;
    }
    used += (size_t)snprintf(diff + used, sizeof(diff) - used, "\n  %s %s",
                             c < 0 ? "want" : "got ",
                             c < 0 ? want_lines.v[i++] : got_lines.v[j++]);
  }
  ck_abort_msg("MODEL_SEED=%llu: step %lu (after %s), block \"%s\": a "
               "successful read differs from the kernel (%d failed reads "
               "before it: %s):%s",
               (unsigned long long)seed, step, op, b->spec->name,
               b->failed_since_ok, b->history[0] ? b->history : "none", diff);
}

/* One read of block b, checked against the truth if it succeeded and the
 * socket set held still. Returns 0 when judged (or failed), 1 when the
 * socket set moved under the read and it must be read again. */
static int read_and_check(struct block *b, unsigned long step, const char *op,
                          int allow_faults) {
  struct fault_plan plan = {.kind = FAULT_NONE};
  int err, ns = b->spec->ns;

  if (allow_faults) {
    if (b->fault_run == 0 && chance(8))
      b->fault_run = 1 + (int)rnd(5);
    if (b->fault_run > 0) {
      b->fault_run--;
      random_fault(&plan);
    }
  }
  truth_of(ns, &truth_before[ns]);
  fault_io_arm(&b->faults, &plan);
  err = collector_read(&b->c);
  truth_of(ns, &truth_after[ns]);
  st.reads++;
  if (b->faults.fired) {
    st.faults++;
    st.by_kind[plan.kind]++;
  }
  if (err != 0) {
    size_t used = strlen(b->history);
    st.failed++;
    b->failed_since_ok++;
    if (used < sizeof(b->history) - 40)
      snprintf(b->history + used, sizeof(b->history) - used, "%s%s@%u",
               used ? ", " : "", fault_kind_name(plan.kind), plan.call);
    ck_assert_msg(b->faults.fired,
                  "MODEL_SEED=%llu: step %lu, block \"%s\": "
                  "read failed with no fault planned: %s",
                  (unsigned long long)seed, step, b->spec->name, b->c.error);
    return 0;
  }
  if (!truth_equal(&truth_before[ns], &truth_after[ns])) {
    st.unsteady++;
    return 1;
  }
  lines_clear(&got_lines);
  lines_clear(&want_lines);
  report_each_block(&b->c, NULL, got_block, b);
  report_each_conns(&b->c, NULL, got_conns, b);
  report_each_queue(&b->c, NULL, got_queue, b);
  lines_sort(&got_lines);
  model_expect(&b->model, &truth_before[ns], &want_lines);
  if (got_lines.n != want_lines.n)
    report_mismatch(b, step, op);
  for (size_t i = 0; i < got_lines.n; i++)
    if (strcmp(got_lines.v[i], want_lines.v[i]) != 0)
      report_mismatch(b, step, op);
  if (b->failed_since_ok > 0)
    st.exact_after_faults++;
  b->failed_since_ok = 0;
  b->history[0] = '\0';
  return 0;
}

/* "NAME|Key=v v|..." through the plugin's parser, and into the model. */
static void apply_conns(struct collector_config *cfg, const char *spec,
                        struct model_cfg *m) {
  char buf[256], err[512], *save = NULL, *field;

  snprintf(buf, sizeof(buf), "%s", spec);
  field = strtok_r(buf, "|", &save);
  ck_assert_msg(conns_begin(cfg, field, err, sizeof(err)) == 0, "%s", err);
  while ((field = strtok_r(NULL, "|", &save)) != NULL) {
    char *eq = strchr(field, '=');
    *eq = '\0';
    ck_assert_msg(conns_apply(cfg, field, eq + 1, err, sizeof(err)) == 0, "%s",
                  err);
  }
  ck_assert_msg(conns_finish(cfg, err, sizeof(err)) == 0, "%s", err);
  model_parse_conns(spec, &m->conns[m->nconns++]);
}

static void setup_blocks(void) {
  struct collector_config cfg;
  char err[256];

  for (size_t i = 0; i < NBLOCKS; i++) {
    struct block *b = &blocks[i];
    const struct diag_io *inner = &diag_io_kernel;

    memset(b, 0, sizeof(*b));
    b->spec = &specs[i];
    model_parse(b->spec->options, &b->model);
    if (b->spec->ns != 0) {
      snprintf(b->target.path, sizeof(b->target.path), "/proc/%d/fd/%d",
               (int)getpid(), ns_fd[b->spec->ns]);
      netns_io_init(&b->netns_io, &b->target);
      inner = &b->netns_io;
    }
    fault_io_init(&b->faults, inner);
    config_init(&cfg);
    for (const char *const *kv = b->spec->options; kv[0] != NULL; kv += 2)
      ck_assert_msg(options_apply(&cfg, kv[0], kv[1], warn_ignore, NULL, err,
                                  sizeof(err)) == 0,
                    "%s", err);
    for (const char *const *cs = b->spec->conns; cs != NULL && *cs != NULL;
         cs++)
      apply_conns(&cfg, *cs, &b->model);
    model_finish(&b->model);
    options_finish(&cfg);
    /* A <Namespace> never falls back to /proc, and neither do these: a
     * fault at the first read must not move them off sock_diag. */
    cfg.allow_proc = false;
    ck_assert_int_eq(collector_init(&b->c, &cfg, &b->faults.io), 0);
    config_destroy(&cfg);
  }
}

START_TEST(successful_reads_are_exact) {
  const char *env = getenv("MODEL_STEPS");
  unsigned long steps = env != NULL ? strtoul(env, NULL, 10) : 3000;

  make_namespaces();
  setup_blocks();
  for (unsigned long step = 0; step < steps; step++) {
    const char *op = step == 0 ? "start" : random_op();

    for (size_t i = 0; i < NBLOCKS; i++) {
      int tries = 0;
      /* The first read probes the request form: no faults there. */
      while (read_and_check(&blocks[i], step, op, step > 0) != 0)
        ck_assert_msg(++tries < 20, "the socket set never held still");
    }
  }
  fprintf(stderr,
          "model: MODEL_SEED=%llu, %lu steps, %zu blocks: %lu reads, %lu "
          "faults fired, %lu reads failed, %lu exact first reads after "
          "failures, %lu reads again because sockets moved, %lu "
          "<Connections> values above zero\n",
          (unsigned long long)seed, steps, NBLOCKS, st.reads, st.faults,
          st.failed, st.exact_after_faults, st.unsteady, st.conns_counted);
  for (int k = 1; k < FAULT_KINDS; k++)
    fprintf(stderr, "model:   %-15s %lu\n", fault_kind_name((enum fault_kind)k),
            st.by_kind[k]);
  /* The walk must have exercised what it claims to. */
  ck_assert_uint_gt(st.exact_after_faults, steps / 100);
  ck_assert_uint_gt(st.conns_counted, steps);
  for (int k = 1; k < FAULT_KINDS; k++)
    ck_assert_msg(st.by_kind[k] > 0 || steps < 500, "fault %s never fired",
                  fault_kind_name((enum fault_kind)k));
  for (size_t i = 0; i < NBLOCKS; i++)
    collector_destroy(&blocks[i].c);
  for (int i = 0; i < nsocks; i++)
    close(socks[i].fd);
  for (int ns = 0; ns < 2; ns++) {
    truth_free(&truth_before[ns]);
    truth_free(&truth_after[ns]);
  }
  lines_clear(&got_lines);
  lines_clear(&want_lines);
  free(got_lines.v);
  free(want_lines.v);
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "model", .timeout = 3600};
  const TTest *const tests[] = {successful_reads_are_exact, NULL};
  const char *env = getenv("MODEL_SEED");

  if (netns_require("check_model") != 0)
    return 77;
  seed = env != NULL ? strtoull(env, NULL, 10)
                     : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
  if (seed == 0)
    seed = 1;
  rng_state = seed;
  fprintf(stderr, "model: MODEL_SEED=%llu (set it to replay this run)\n",
          (unsigned long long)seed);

  return check_run(&c, tests);
}
