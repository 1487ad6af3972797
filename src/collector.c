#include "collector.h"

#include "bytecode.h"
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

int collector_init(struct collector *c, const struct diag_io *io) {
  memset(c, 0, sizeof(*c));
  c->allow_eq = true;
  c->allow_proc = true;
  c->report_states = TCS_MASK_ALL;
  pt_init(&c->pt);
  return diag_conn_init(&c->conn, io);
}

void collector_destroy(struct collector *c) {
  diag_conn_destroy(&c->conn);
  pt_destroy(&c->pt);
  conn_filter_destroy(&c->filter);
  free(c->procbuf);
  c->procbuf = NULL;
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

  if (state == TCS_LISTEN && c->listening) {
    int err = pt_mark_listening(&c->pt, sport);
    if (err != 0)
      return -err;
  }
  return count_socket(data, sport, dport, state);
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

static int run_dump(struct collector *c, enum read_source src, uint32_t states,
                    const uint8_t *bc, size_t bclen, diag_socket_fn fn) {
  diag_queue_fn qfn = NULL;
  struct diag_request req = {
      .states = states, .bytecode = bc, .bytecode_len = bclen};
  int err;

  /* Accept queues ride on the listener dump at no extra request. */
  if (c->report_accept_queue && fn == count_listener)
    qfn = add_queue;
  if (src == SOURCE_LEGACY) {
    req.kind = DIAG_REQ_LEGACY;
    return diag_dump_queues(&c->conn, &req, fn, qfn, c, &c->stats.diag);
  }
  req.kind = DIAG_REQ_V2;
  req.family = AF_INET;
  err = diag_dump_queues(&c->conn, &req, fn, qfn, c, &c->stats.diag);
  if (err != 0)
    return err;
  req.family = AF_INET6;
  return diag_dump_queues(&c->conn, &req, fn, qfn, c, &c->stats.diag);
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
  /* Ports 1 and 3 and 5-6: exercises EQ (or GE+LE), LE splits and JMP. */
  static const uint16_t ports[] = {1, 3, 5, 6, 9, 11};
  uint8_t bc[512];
  size_t bclen;
  int err;

  /* No socket at all (no sock_diag in the kernel, or denied): no form
   * will do better. */
  err = diag_conn_open(&c->conn);
  if (err != 0)
    goto unavailable;
  for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
    if ((forms[i].flags & BC_NO_EQ) == 0 && !c->allow_eq)
      continue;
    err =
        bc_compile(ports, 6, ports, 6, forms[i].flags, bc, sizeof(bc), &bclen);
    if (err != 0)
      return err;
    err = run_dump(c, forms[i].src, TCS_MASK_LISTEN, bc, bclen, ignore_socket);
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
  if (!is_unavailable(err) || !c->allow_proc)
    return err;
  c->source = SOURCE_PROC;
  snprintf(c->source_why, sizeof(c->source_why), "sock_diag unavailable (%s)",
           strerror(-err));
  return 0;
}

static int read_netlink(struct collector *c) {
  uint32_t conn_states = c->report_states & TCS_MASK_NOT_LISTEN;
  int err;

  /* Listeners first, in a LISTEN-only dump: the kernel walks only the
   * listening hash. This finds the ports to report before the connection
   * dump, so the filter can be built for them. Skipped only when neither
   * discovery nor a LISTEN count is wanted. */
  if (c->listening || (c->report_states & TCS_MASK_LISTEN) ||
      c->report_accept_queue) {
    err = run_dump(c, c->source, TCS_MASK_LISTEN, NULL, 0, count_listener);
    if (err != 0)
      return err;
  }
  if (conn_states == 0)
    return 0; /* States asked for LISTEN only */

  if (c->all)
    return run_dump(c, c->source, conn_states, NULL, 0, count_socket);

  /* The filter for exactly the ports this read found and is configured
   * for; recompiled only when they differ from the ones it was built for. */
  if (!conn_filter_fits(&c->filter, &c->pt, c->bc_flags)) {
    err = conn_filter_build(&c->filter, &c->pt, c->bc_flags);
    if (err != 0)
      return err;
  }
  if (c->filter.unbounded)
    return run_dump(c, c->source, conn_states, NULL, 0, count_socket);
  if (c->filter.prog == NULL)
    return 0;
  return run_dump(c, c->source, conn_states, c->filter.prog, c->filter.len,
                  count_socket);
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
  if (c->pt.ranges_dirty) {
    err = pt_finish_ranges(&c->pt);
    if (err != 0) {
      snprintf(c->error, sizeof(c->error), "indexing port ranges: %s",
               strerror(-err));
      return err;
    }
  }
  pt_begin_read(&c->pt);

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
