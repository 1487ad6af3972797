/* SPDX-License-Identifier: MIT */
#include "collector_private.h"

#include "bytecode.h"
#include "conn_blocks.h"
#include "probes.h"
#include "proc_reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

const char *read_source_name(enum read_source s) {
  switch (s) {
  case SOURCE_LEGACY:
    return "sock_diag (TCPDIAG_GETSOCK, both families in one dump)";
  case SOURCE_V2:
    return "sock_diag (SOCK_DIAG_BY_FAMILY, one dump per family)";
  case SOURCE_PROC:
    return "/proc/net/tcp and /proc/net/tcp6";
  case SOURCE_UNKNOWN:
  default:
    return "none yet";
  }
}

/* The configured ports into the port table, in configuration order (the
 * dispatch order follows it, newest first, as upstream). */
static int configure_ports(struct collector *c) {
  for (size_t i = 0; i < c->cfg.nports; i++) {
    const struct config_port *p = &c->cfg.ports[i];
    unsigned flag = p->dir == DIR_LOCAL ? PT_LOCAL : PT_REMOTE;
    int err = p->lo == p->hi ? pt_configure(&c->pt, p->lo, flag)
                             : pt_configure_range(&c->pt, p->lo, p->hi, flag);
    if (err != 0)
      return err;
  }
  return pt_finish_ranges(&c->pt);
}

int collector_init(struct collector *c, const struct collector_config *cfg,
                   const struct diag_io *io) {
  int err;

  memset(c, 0, sizeof(*c));
  pt_init(&c->pt);
  err = config_copy(&c->cfg, cfg);
  if (err == 0)
    err = configure_ports(c);
  if (err == 0 && c->cfg.nconns > 0) {
    c->conns_counts = calloc(c->cfg.nconns, sizeof(*c->conns_counts));
    if (c->conns_counts == NULL)
      err = -ENOMEM;
    c->conns_states = conns_states(&c->cfg);
  }
  if (err == 0)
    err = diag_conn_init(&c->conn, io);
  return err;
}

void collector_destroy(struct collector *c) {
  diag_conn_destroy(&c->conn);
  pt_destroy(&c->pt);
  conn_filter_destroy(&c->filter);
  config_destroy(&c->cfg);
  free(c->conns_counts);
  c->conns_counts = NULL;
  free(c->procbuf);
  c->procbuf = NULL;
}

int collector_new(struct collector **out, const struct collector_config *cfg,
                  const struct diag_io *io) {
  struct collector *c = malloc(sizeof(*c));
  int err;

  *out = NULL;
  if (c == NULL)
    return -ENOMEM;
  err = collector_init(c, cfg, io);
  if (err != 0) {
    collector_destroy(c);
    free(c);
    return err;
  }
  *out = c;
  return 0;
}

void collector_free(struct collector *c) {
  if (c == NULL)
    return;
  collector_destroy(c);
  free(c);
}

const struct collector_config *collector_config(const struct collector *c) {
  return &c->cfg;
}

const char *collector_error(const struct collector *c) {
  return c->error;
}

enum read_source collector_source(const struct collector *c, const char **why) {
  if (why != NULL)
    *why = c->source_why;
  return c->source;
}

const struct read_stats *collector_stats(const struct collector *c) {
  return &c->stats;
}

void collector_close_socket(struct collector *c) {
  diag_conn_close(&c->conn);
}

/* --- counting callbacks --------------------------------------------- */

static int count_socket(void *data, uint16_t sport, uint16_t dport,
                        uint8_t state) {
  struct collector *c = data;

  if (state < TCS_MIN || state > TCS_MAX) {
    c->stats.ignored++;
    return 0;
  }
  pt_count(&c->pt, sport, dport, state);
  return 0;
}

static int count_listener(void *data, uint16_t sport, uint16_t dport,
                          uint8_t state) {
  struct collector *c = data;

  if (state == TCS_LISTEN && c->cfg.listening) {
    int err = pt_mark_listening(&c->pt, sport);
    if (err != 0)
      return -err;
  }
  return count_socket(data, sport, dport, state);
}

/* With <Connections> blocks: the socket counts once in every block whose
 * states and conditions it meets. */
static void count_conns(struct collector *c, const struct diag_sock *s) {
  uint32_t bit = 1u << s->state;

  for (size_t i = 0; i < c->cfg.nconns; i++) {
    const struct config_conns *b = &c->cfg.conns[i];

    if ((b->states & bit) &&
        conns_match(b, s->family, s->sport, s->dport, s->src, s->dst))
      c->conns_counts[i][s->state]++;
  }
}

static int count_socket_conns(void *data, const struct diag_sock *s) {
  struct collector *c = data;
  int err = count_socket(data, s->sport, s->dport, s->state);

  if (err == 0 && s->state >= TCS_MIN && s->state <= TCS_MAX)
    count_conns(c, s);
  return err;
}

static int count_listener_conns(void *data, const struct diag_sock *s) {
  struct collector *c = data;
  int err = count_listener(data, s->sport, s->dport, s->state);

  if (err == 0 && s->state >= TCS_MIN && s->state <= TCS_MAX)
    count_conns(c, s);
  return err;
}

static void add_queue(void *data, uint16_t sport, uint32_t rqueue,
                      uint32_t wqueue) {
  struct collector *c = data;
  uint16_t s = c->pt.slot_of[sport];

  if (s != 0) {
    c->pt.slots[s - 1].accept_queue += rqueue;
    c->pt.slots[s - 1].backlog += wqueue;
  }
}

/* --- dumps ----------------------------------------------------------- */

/* One request in the chosen form: the legacy request dumps both families
 * in one walk; the per-family form needs one dump each. */
static int run_dump(struct collector *c, enum read_source src,
                    struct diag_request req, diag_socket_fn fn,
                    diag_sock_fn sfn, diag_queue_fn qfn) {
  int err;

  if (src == SOURCE_LEGACY) {
    req.kind = DIAG_REQ_LEGACY;
    return diag_dump_queues(&c->conn, &req, fn, sfn, qfn, c, &c->stats.diag);
  }
  req.kind = DIAG_REQ_V2;
  req.family = AF_INET;
  err = diag_dump_queues(&c->conn, &req, fn, sfn, qfn, c, &c->stats.diag);
  if (err != 0)
    return err;
  req.family = AF_INET6;
  return diag_dump_queues(&c->conn, &req, fn, sfn, qfn, c, &c->stats.diag);
}

/* The LISTEN-only dump: the kernel walks only the listening hash. It
 * discovers the listening ports, counts the listeners, and carries the
 * accept queues at no extra request. Unfiltered: the blocks that count
 * LISTEN match the listeners in user space. */
static int dump_listeners(struct collector *c) {
  struct diag_request req = {.states = TCS_MASK_LISTEN};

  return run_dump(c, c->source, req, count_listener,
                  (c->conns_states & TCS_MASK_LISTEN) ? count_listener_conns
                                                      : NULL,
                  c->cfg.report_accept_queue ? add_queue : NULL);
}

/* The dump of the other states, with the filter (NULL: every socket).
 * Addresses are looked at only when a block counts these states. */
static int dump_connections(struct collector *c, uint32_t states,
                            const uint8_t *bc, size_t bclen) {
  struct diag_request req = {
      .states = states, .bytecode = bc, .bytecode_len = bclen};

  return run_dump(c, c->source, req, count_socket,
                  (c->conns_states & TCS_MASK_NOT_LISTEN) ? count_socket_conns
                                                          : NULL,
                  NULL);
}

static int ignore_socket(void *data, uint16_t sport, uint16_t dport,
                         uint8_t state) {
  (void)data;
  (void)sport;
  (void)dport;
  (void)state;
  return 0;
}

/* Errors that mean "this kernel has no usable sock_diag for us", as
 * opposed to a passing failure that the next read may not see. */
static bool is_unavailable(int err) {
  switch (err) {
  case -EOPNOTSUPP:
  case -ECONNREFUSED:
  case -EAFNOSUPPORT:
  case -EPROTONOSUPPORT:
  case -ENOENT:
  case -EINVAL:
  case -EPERM:
  case -EACCES:
    return true;
  default:
    return false;
  }
}

/* Finds a request form the kernel accepts, with a filter that uses every
 * op we may emit. LISTEN-only dumps: they never walk the established hash,
 * so probing costs microseconds. */
static int choose_request_form(struct collector *c) {
  static const struct {
    enum read_source src;
    unsigned flags;
  } forms[] = {
      {SOURCE_LEGACY, 0},
      {SOURCE_LEGACY, BC_NO_EQ},
      {SOURCE_V2, 0},
      {SOURCE_V2, BC_NO_EQ},
  };
  /* Ports 1, 3, 5-6, 9 and 11: exercises EQ (or GE+LE), LE splits and
   * JMP. */
  static const struct bc_range ports[] = {
      {1, 1}, {3, 3}, {5, 6}, {9, 9}, {11, 11}};
  uint8_t bc[512];
  size_t bclen;
  int err;

  /* No socket at all (no sock_diag in the kernel, or denied): no form
   * will do better. */
  err = diag_conn_open(&c->conn);
  if (err != 0)
    goto unavailable;
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    err =
        bc_compile(ports, 5, ports, 5, forms[i].flags, bc, sizeof(bc), &bclen);
    if (err != 0)
      return err;
    err = run_dump(c, forms[i].src,
                   (struct diag_request){.states = TCS_MASK_LISTEN,
                                         .bytecode = bc,
                                         .bytecode_len = bclen},
                   ignore_socket, NULL, NULL);
    if (err == 0) {
      c->source = forms[i].src;
      c->bc_flags = forms[i].flags;
      snprintf(c->source_why, sizeof(c->source_why),
               "kernel accepted the %s request with %s filters",
               forms[i].src == SOURCE_LEGACY ? "legacy" : "per-family",
               forms[i].flags & BC_NO_EQ ? "range-only" : "S_EQ/D_EQ");
      return 0;
    }
    if (!is_unavailable(err))
      return err; /* transient: try again at the next read */
  }
unavailable:
  if (!is_unavailable(err) || !c->cfg.allow_proc)
    return err;
  c->source = SOURCE_PROC;
  snprintf(c->source_why, sizeof(c->source_why), "sock_diag unavailable (%s)",
           strerror(-err));
  return 0;
}

static int read_netlink(struct collector *c) {
  uint32_t main_states = c->cfg.report_states & TCS_MASK_NOT_LISTEN;
  /* One connection dump for the options and the blocks: the union of
   * their states (never bit 13), and one filter for both. */
  uint32_t conn_states = main_states | (c->conns_states & TCS_MASK_NOT_LISTEN);
  bool with_ports = main_states != 0;
  int err;

  /* Listeners first, in a LISTEN-only dump: the kernel walks only the
   * listening hash. This finds the ports to report before the connection
   * dump, so the filter can be built for them. Skipped only when neither
   * discovery nor a LISTEN count is wanted. */
  if (c->cfg.listening || (c->cfg.report_states & TCS_MASK_LISTEN) ||
      c->cfg.report_accept_queue || (c->conns_states & TCS_MASK_LISTEN)) {
    err = dump_listeners(c);
    if (err != 0)
      return err;
  }
  if (conn_states == 0)
    return 0; /* States asked for LISTEN only */

  if (c->cfg.all && with_ports)
    return dump_connections(c, conn_states, NULL, 0);

  /* The filter for exactly the ports this read found and is configured
   * for, and the blocks; recompiled only when they differ from the ones it
   * was built for. */
  if (!conn_filter_fits(&c->filter, &c->pt, with_ports, &c->cfg, c->bc_flags)) {
    err =
        conn_filter_build(&c->filter, &c->pt, with_ports, &c->cfg, c->bc_flags);
    if (err != 0)
      return err;
  }
  if (c->filter.unbounded)
    return dump_connections(c, conn_states, NULL, 0);
  if (c->filter.prog == NULL)
    return 0;
  return dump_connections(c, conn_states, c->filter.prog, c->filter.len);
}

static int read_proc(struct collector *c) {
  int e4, e6;

  if (c->procbuf == NULL) {
    c->procbuf = malloc(PROC_READ_BUFFER);
    if (c->procbuf == NULL)
      return -ENOMEM;
  }
  /* Listeners are marked as they come; in each file the kernel lists the
   * listening sockets first. */
  e4 = proc_read_file("/proc/net/tcp", c->procbuf, PROC_READ_BUFFER,
                      count_listener, c);
  e6 = proc_read_file("/proc/net/tcp6", c->procbuf, PROC_READ_BUFFER,
                      count_listener, c);
  /* One family may be missing (ipv6.disable=1); both missing is an error. */
  if (e4 != 0 && e6 != 0)
    return e4;
  if (e4 == -ENOMEM || e6 == -ENOMEM)
    return -ENOMEM;
  return 0;
}

static int read_once(struct collector *c);

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int collector_read(struct collector *c) {
  uint64_t t0 = now_ns();
  int err;

  TCD_PROBE0(read__start);
  err = read_once(c);
  c->stats.nanoseconds = now_ns() - t0;
  /* read__done(error, sockets received, ns) */
  TCD_PROBE3(read__done, (int64_t)err, c->stats.diag.sockets,
             c->stats.nanoseconds);
  return err;
}

static int read_once(struct collector *c) {
  int err;

  memset(&c->stats, 0, sizeof(c->stats));
  c->error[0] = '\0';
  pt_begin_read(&c->pt);
  if (c->cfg.nconns > 0)
    memset(c->conns_counts, 0, c->cfg.nconns * sizeof(*c->conns_counts));

  if (c->source == SOURCE_UNKNOWN) {
    err = choose_request_form(c);
    if (err != 0) {
      snprintf(c->error, sizeof(c->error), "probing sock_diag failed: %s",
               strerror(-err));
      return err;
    }
  }
  if (c->source == SOURCE_PROC) {
    err = read_proc(c);
    if (err != 0)
      snprintf(c->error, sizeof(c->error),
               "reading /proc/net/tcp and /proc/net/tcp6 failed: %s",
               strerror(-err));
    return err;
  }
  err = read_netlink(c);
  if (err != 0)
    snprintf(c->error, sizeof(c->error), "sock_diag dump failed: %s",
             strerror(-err));
  return err;
}
