/* SPDX-License-Identifier: MIT */
/* What one option block (<Plugin tcpconns_diag> or a <Namespace>) asks
 * for. The options parser (options.c) writes it; the collector copies it
 * at collector_init() and only reads it. */
#ifndef TCPCONNS_DIAG_COLLECTOR_CONFIG_H
#define TCPCONNS_DIAG_COLLECTOR_CONFIG_H

#include "bytecode.h"
#include "instance_name.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum port_dir { DIR_LOCAL, DIR_REMOTE };

/* A LocalPort or RemotePort: one port (lo == hi) or a range. */
struct config_port {
  uint16_t lo, hi;
  enum port_dir dir;
};

/* At most this many distinct ranges (each costs a pass over the ports
 * when the range index is built). */
#define CONFIG_MAX_RANGES 1024

/* A <Connections "NAME"> block (conn_blocks.h parses it): sockets whose
 * local port is in lports (if any) and remote port in rports (if any) and
 * local address in laddrs (if any) and remote address in raddrs (if any),
 * counted per state of states. */
struct config_conns {
  char name[INSTANCE_NAME_MAX + 1];
  uint32_t states;   /* 1 << state; all eleven unless States was given */
  bool states_given; /* a States line replaced the default */
  struct bc_range *lports, *rports;
  struct bc_host *laddrs, *raddrs; /* no bit set past the prefix */
  size_t nlports, nrports, nladdrs, nraddrs;
};

/* At most this many <Connections> blocks per option block, and values of
 * one key per block. */
#define CONFIG_MAX_CONNS 1024
#define CONFIG_MAX_CONNS_VALUES 1024

struct collector_config {
  bool listening;            /* ListeningPorts (or the default) */
  bool listening_given;      /* a ListeningPorts option was given */
  bool all;                  /* AllPortsSummary */
  bool report_accept_queue;  /* ReportAcceptQueue */
  bool report_self;          /* ReportSelf */
  uint32_t report_states;    /* 1 << state for each state reported */
  bool states_given;         /* a States option replaced the default */
  bool allow_proc;           /* may fall back to /proc (not in a namespace) */
  struct config_port *ports; /* configuration order, no exact duplicates */
  size_t nports, nranges;
  struct config_conns *conns; /* <Connections> blocks, configuration order */
  size_t nconns;
};

/* Upstream's defaults: every state, no port, /proc allowed. */
void config_init(struct collector_config *cfg);
void config_destroy(struct collector_config *cfg);

/* Appends a port or range unless it is already there. Returns 0, -ENOSPC
 * past CONFIG_MAX_RANGES ranges, or -ENOMEM. */
int config_add_port(struct collector_config *cfg, uint16_t lo, uint16_t hi,
                    enum port_dir dir);

/* A deep copy into dst (initialised by this call). 0 or -ENOMEM; either
 * way config_destroy(dst) frees what it holds. */
int config_copy(struct collector_config *dst,
                const struct collector_config *src);

#endif
