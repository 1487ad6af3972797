/* One read of TCP connection counts into a port table: listening-port
 * discovery, the kernel filter, the connection dump, and the /proc
 * fallback. Independent of collectd, so tests and tools link it alone. */
#ifndef TCPCONNS_DIAG_COLLECTOR_H
#define TCPCONNS_DIAG_COLLECTOR_H

#include "conn_filter.h"
#include "diag_dump.h"
#include "port_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum read_source {
  SOURCE_UNKNOWN, /* not probed yet */
  SOURCE_LEGACY,  /* TCPDIAG_GETSOCK: both families in one walk */
  SOURCE_V2,      /* SOCK_DIAG_BY_FAMILY, once per family */
  SOURCE_PROC,    /* /proc/net/tcp{,6} */
};

struct read_stats {
  struct diag_dump_stats diag; /* this read's dumps */
  uint64_t ignored;            /* sockets with a state outside 1..11 */
  uint64_t nanoseconds;        /* wall time of the whole read */
};

struct collector {
  struct port_table pt;
  bool listening;  /* report listening ports (ListeningPorts) */
  bool all;        /* report the "all" block (AllPortsSummary) */
  bool allow_eq;   /* may use S_EQ/D_EQ (cleared if the kernel refuses) */
  bool allow_proc; /* fall back to /proc if sock_diag is unavailable */
  uint32_t report_states;   /* 1 << state for each state reported (States) */
  bool states_given;        /* a States option replaced the default */
  bool report_accept_queue; /* ReportAcceptQueue */
  bool report_self;         /* ReportSelf: the plugin's own cost */
  enum read_source source;
  unsigned bc_flags;
  struct diag_conn conn;
  struct conn_filter filter;
  char *procbuf;
  struct read_stats stats;
  char source_why[160]; /* why this source was chosen, for one log line */
  char error[160];      /* what the last failed read hit */
};

/* io: diag_io_kernel, or a test's seam. Opens no socket: the first
 * collector_read() does, in the network namespace the calling thread is in then
 * (the CLI enters a namespace between collector_init and the first read). */
int collector_init(struct collector *c, const struct diag_io *io);
void collector_destroy(struct collector *c);

/* Fills c->pt for this read. Returns 0, or -errno with c->error set. The
 * first call picks the source (see c->source and c->source_why). */
int collector_read(struct collector *c);

const char *read_source_name(enum read_source s);

#endif
