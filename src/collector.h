/* SPDX-License-Identifier: MIT */
/* One read of TCP connection counts for one option block: listening-port
 * discovery, the kernel filter, the connection dump, and the /proc
 * fallback. Independent of collectd, so tests and tools link it alone.
 * The collector's state is its own (collector_private.h); users see its
 * configuration, its results through report_blocks.h, and these. */
#ifndef TCPCONNS_DIAG_COLLECTOR_H
#define TCPCONNS_DIAG_COLLECTOR_H

#include "collector_config.h"
#include "diag_dump.h"

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

struct collector;

/* cfg is copied. io: diag_io_kernel, or a test's seam. Opens no socket:
 * the first collector_read() does, in the network namespace the calling
 * thread is in then (the CLI enters a namespace before its first read).
 * Returns 0, or -ENOMEM/-ENOSPC. */
int collector_new(struct collector **c, const struct collector_config *cfg,
                  const struct diag_io *io);
void collector_free(struct collector *c);

/* One read. Returns 0, or -errno with collector_error() saying what
 * failed. The first call picks the source. A failed read leaves nothing
 * that the next read trusts. */
int collector_read(struct collector *c);

const struct collector_config *collector_config(const struct collector *c);
const char *collector_error(const struct collector *c);
/* The source chosen at the first read, and why (for one log line). */
enum read_source collector_source(const struct collector *c, const char **why);
const struct read_stats *collector_stats(const struct collector *c);
/* Closes the netlink socket now (a namespace that went away: an open
 * socket keeps it alive); the next read opens another. */
void collector_close_socket(struct collector *c);

const char *read_source_name(enum read_source s);

#endif
