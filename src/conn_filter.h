/* SPDX-License-Identifier: MIT */
/* The connection dump's kernel filter (INET_DIAG_REQ_BYTECODE), kept
 * between reads together with exactly what it was compiled for: the local
 * and remote ports, the configuration (its ports and its <Connections>
 * blocks) and the bytecode flags. A read
 * reuses it only when it needs exactly those, checked against this read's
 * own listening discovery; nothing else decides. So a read that failed or
 * stopped half way cannot leave a filter that a later read trusts. */
#ifndef TCPCONNS_DIAG_CONN_FILTER_H
#define TCPCONNS_DIAG_CONN_FILTER_H

#include "collector_config.h"
#include "port_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn_filter {
  bool valid;     /* the fields below describe one compiled filter */
  bool unbounded; /* too many ports for bytecode: dump everything */
  uint8_t *prog;  /* NULL: no port to keep, no connection dump */
  size_t len;
  unsigned bc_flags;
  uint32_t config_gen; /* the port table's configuration it was built for */
  bool with_ports;     /* the port sets are in the program */
  const struct config_conns *conns; /* the blocks it was built for */
  size_t nconns;
  uint32_t nlocal, nremote;
  uint32_t local_bits[65536 / 32]; /* the ports it keeps */
  uint32_t remote_bits[65536 / 32];
};

/* Whether f was compiled for the ports pt needs now (configured local
 * ports and this read's listening ports, configured remote ports and
 * ranges; none without with_ports), for cfg's <Connections> blocks, with
 * these flags. O(ports in the table). cfg must be the same (immutable)
 * configuration for the filter's whole life: its blocks are compared by
 * address. */
bool conn_filter_fits(const struct conn_filter *f, const struct port_table *pt,
                      bool with_ports, const struct collector_config *cfg,
                      unsigned bc_flags);

/* Compiles the filter pt needs now (its ports if with_ports), OR'ed with
 * one term per block of cfg that counts a state other than LISTEN (the
 * listener dump is unfiltered). A program beyond BC_MAX_LEN makes the
 * filter unbounded (dump everything; user space picks). Returns 0 or
 * -ENOMEM; on failure f is left invalid. */
int conn_filter_build(struct conn_filter *f, const struct port_table *pt,
                      bool with_ports, const struct collector_config *cfg,
                      unsigned bc_flags);

void conn_filter_destroy(struct conn_filter *f);

#endif
