/* SPDX-License-Identifier: MIT */
/* Flat per-port, per-state counters with upstream tcpconns' entry lifecycle.
 *
 * A port gets a slot when it is configured (LocalPort/RemotePort) or seen
 * listening. slot_of[] maps every one of the 65536 ports to its slot, so
 * counting a socket is two array lookups: O(1), no list walk, no
 * allocation. Memory grows only with the number of slots, never with the
 * number of sockets. */
#ifndef TCPCONNS_DIAG_PORT_TABLE_H
#define TCPCONNS_DIAG_PORT_TABLE_H

#include "tcp_state.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pt_flag {
  PT_LOCAL = 1u << 0,     /* LocalPort configured */
  PT_REMOTE = 1u << 1,    /* RemotePort configured */
  PT_LISTENING = 1u << 2, /* a LISTEN socket was seen in this read */
};

struct pt_slot {
  uint16_t port;
  uint8_t flags;
  uint32_t local[TCS_COUNT];
  uint32_t remote[TCS_COUNT];
  uint32_t accept_queue; /* summed over the port's listeners */
  uint32_t backlog;
};

/* A configured port range ("8000-8099"), counted under one instance. */
struct pt_range {
  uint16_t lo, hi;
  uint8_t flags; /* PT_LOCAL or PT_REMOTE */
  uint32_t counts[TCS_COUNT];
};

/* Ranges per direction: range_set_of[port] names the set of ranges that
 * hold the port (0: none); set k lists its ranges in
 * members[first[k] .. first[k + 1]). Overlapping ranges each count.
 * Kept over a plain scan of the ranges per socket because it measured as
 * fast for one range and faster from two on (20 M random sockets, -O2,
 * this VM under load, 2026-11-29: 1 range 4.9 ns/socket either way, 2
 * ranges 5.5 vs 7.9, 16: 4.3 vs 17, 1,024: 16 vs 1,357), and its cost is
 * paid once, at configuration. */
struct pt_range_index {
  uint16_t *range_set_of; /* 65536 entries; NULL when no range */
  uint32_t *first;        /* nsets + 1 entries */
  uint16_t *members;
  uint32_t nsets;
};

#define PT_MAX_RANGES 1024

struct port_table {
  uint16_t slot_of[65536];   /* 0: no slot; else slot index + 1 */
  struct pt_slot *slots;     /* indexed by slot index */
  uint16_t *order;           /* slot indexes, newest first (dispatch order) */
  uint16_t *free_slots;      /* stack of unused slot indexes */
  uint32_t cap, used, nfree; /* slots allocated / handed out / on stack */
  uint32_t norder;
  uint32_t total[TCS_COUNT]; /* every socket counted, for "all" */
  uint32_t config_gen;       /* changes with every configured port or range */
  struct pt_range *ranges;   /* configured order */
  uint32_t nranges;
  struct pt_range_index range_index[2]; /* [0] local, [1] remote */
};

int pt_init(struct port_table *pt);
void pt_destroy(struct port_table *pt);

/* Add a configured flag (PT_LOCAL or PT_REMOTE) for port 1..65535. */
int pt_configure(struct port_table *pt, uint16_t port, unsigned flag);

/* Add a configured range lo..hi (lo < hi) for PT_LOCAL or PT_REMOTE.
 * Returns 0, -ENOSPC past PT_MAX_RANGES, or -ENOMEM. The index is built
 * by pt_finish_ranges(). */
int pt_configure_range(struct port_table *pt, uint16_t lo, uint16_t hi,
                       unsigned flag);
/* Builds the per-port range index after the last option. */
int pt_finish_ranges(struct port_table *pt);

/* Start of a read, as upstream's reset: drop slots that are neither
 * configured nor flagged listening by the last read, clear counts and
 * LISTENING. What a failed read flagged only keeps a slot one read longer;
 * this read's discovery alone decides what listens now. */
void pt_begin_read(struct port_table *pt);

/* A LISTEN socket on port was seen: give it a slot (newest first) and flag
 * it. Returns 0, or -ENOMEM. */
int pt_mark_listening(struct port_table *pt, uint16_t port);

static inline void pt_count_ranges(struct port_table *pt,
                                   const struct pt_range_index *ri,
                                   uint16_t port, unsigned state) {
  uint16_t set = ri->range_set_of[port];

  if (set != 0)
    for (uint32_t i = ri->first[set]; i < ri->first[set + 1]; i++)
      pt->ranges[ri->members[i]].counts[state]++;
}

/* Count one socket. Hot path: called once per socket received. */
static inline void pt_count(struct port_table *pt, uint16_t sport,
                            uint16_t dport, unsigned state) {
  uint16_t s;

  pt->total[state]++;
  s = pt->slot_of[sport];
  if (s != 0)
    pt->slots[s - 1].local[state]++;
  s = pt->slot_of[dport];
  if (s != 0)
    pt->slots[s - 1].remote[state]++;
  if (pt->nranges != 0) {
    if (pt->range_index[0].range_set_of != NULL)
      pt_count_ranges(pt, &pt->range_index[0], sport, state);
    if (pt->range_index[1].range_set_of != NULL)
      pt_count_ranges(pt, &pt->range_index[1], dport, state);
  }
}

/* Sorted port lists that the kernel filter must keep: local ports that
 * will be dispatched (configured local or listening now) and configured
 * remote ports. out arrays need room for 65535 entries. */
size_t pt_local_ports(const struct port_table *pt, uint16_t *out);
size_t pt_remote_ports(const struct port_table *pt, uint16_t *out);

/* Whether the slot's -local / -remote blocks are dispatched this read. */
static inline bool pt_send_local(const struct pt_slot *s, bool listening) {
  return (s->flags & PT_LOCAL) || (listening && (s->flags & PT_LISTENING));
}
static inline bool pt_send_remote(const struct pt_slot *s) {
  return (s->flags & PT_REMOTE) != 0;
}

#endif
