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
  PT_LOCAL = 1u << 0,        /* LocalPort configured */
  PT_REMOTE = 1u << 1,       /* RemotePort configured */
  PT_LISTENING = 1u << 2,    /* a LISTEN socket was seen in this read */
  PT_WAS_LISTENING = 1u << 3 /* ... in the previous read */
};

struct pt_slot {
  uint16_t port;
  uint8_t flags;
  uint32_t local[TCS_COUNT];
  uint32_t remote[TCS_COUNT];
};

struct port_table {
  uint16_t slot_of[65536];   /* 0: no slot; else slot index + 1 */
  struct pt_slot *slots;     /* indexed by slot index */
  uint16_t *order;           /* slot indexes, newest first (dispatch order) */
  uint16_t *free_slots;      /* stack of unused slot indexes */
  uint32_t cap, used, nfree; /* slots allocated / handed out / on stack */
  uint32_t norder;
  uint32_t total[TCS_COUNT]; /* every socket counted, for "all" */
  bool filter_dirty; /* the set of ports the kernel filter needs changed */
};

int pt_init(struct port_table *pt);
void pt_destroy(struct port_table *pt);

/* Add a configured flag (PT_LOCAL or PT_REMOTE) for port 1..65535. */
int pt_configure(struct port_table *pt, uint16_t port, unsigned flag);

/* Start of a read, as upstream's reset: drop slots that are neither
 * configured nor listening in the last read, clear counts and LISTENING. */
void pt_begin_read(struct port_table *pt);

/* A LISTEN socket on port was seen: give it a slot (newest first) and flag
 * it. Returns 0, or -ENOMEM. */
int pt_mark_listening(struct port_table *pt, uint16_t port);

/* After listening discovery: set filter_dirty if a port started or stopped
 * listening compared to the previous read. */
void pt_end_discovery(struct port_table *pt);

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
