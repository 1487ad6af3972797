/* SPDX-License-Identifier: MIT */
/* The collector's state, for the core's own files (collector.c,
 * report_blocks.c) and for tests that look inside. Nothing else writes
 * it. */
#ifndef TCPCONNS_DIAG_COLLECTOR_PRIVATE_H
#define TCPCONNS_DIAG_COLLECTOR_PRIVATE_H

#include "collector.h"
#include "conn_filter.h"
#include "port_table.h"

struct collector {
  struct collector_config cfg;         /* read-only after collector_init() */
  struct port_table pt;                /* this read's counts */
  uint32_t (*conns_counts)[TCS_COUNT]; /* per <Connections> block, per state */
  uint32_t conns_states;               /* the union of the blocks' states */
  enum read_source source; /* what the kernel offered at the first read */
  unsigned bc_flags;       /* bytecode flags the kernel accepts */
  struct diag_conn conn;
  struct conn_filter filter;
  char *procbuf;
  struct read_stats stats;
  char source_why[160]; /* why this source was chosen, for one log line */
  char error[160];      /* what the last failed read hit */
};

/* collector_new() and collector_free() on storage the caller owns. */
int collector_init(struct collector *c, const struct collector_config *cfg,
                   const struct diag_io *io);
void collector_destroy(struct collector *c);

#endif
