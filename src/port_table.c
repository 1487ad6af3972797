/* SPDX-License-Identifier: MIT */
#include "port_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PT_MAX_SLOTS 65535u /* port 0 never gets a slot */

int pt_init(struct port_table *pt) {
  memset(pt, 0, sizeof(*pt));
  return 0;
}

static void pt_free_range_index(struct pt_range_index *ri) {
  free(ri->range_set_of);
  free(ri->first);
  free(ri->members);
  memset(ri, 0, sizeof(*ri));
}

void pt_destroy(struct port_table *pt) {
  pt_free_range_index(&pt->range_index[0]);
  pt_free_range_index(&pt->range_index[1]);
  free(pt->ranges);
  free(pt->slots);
  free(pt->order);
  free(pt->free_slots);
  memset(pt, 0, sizeof(*pt));
}

/* Grow the three slot arrays together; only when a new port appears. */
static int pt_grow(struct port_table *pt) {
  uint32_t ncap = pt->cap ? pt->cap * 2 : 16;
  struct pt_slot *slots;
  uint16_t *order, *free_slots;

  if (ncap > PT_MAX_SLOTS)
    ncap = PT_MAX_SLOTS;
  if (ncap <= pt->cap)
    return -ENOSPC;
  slots = realloc(pt->slots, ncap * sizeof(*slots));
  if (slots == NULL)
    return -ENOMEM;
  pt->slots = slots;
  order = realloc(pt->order, ncap * sizeof(*order));
  if (order == NULL)
    return -ENOMEM;
  pt->order = order;
  free_slots = realloc(pt->free_slots, ncap * sizeof(*free_slots));
  if (free_slots == NULL)
    return -ENOMEM;
  pt->free_slots = free_slots;
  pt->cap = ncap;
  return 0;
}

/* Find or create the slot of port; a new slot goes first in dispatch
 * order, as upstream prepends new entries to its list. */
static int pt_slot_for(struct port_table *pt, uint16_t port,
                       struct pt_slot **out) {
  uint16_t idx;

  if (pt->slot_of[port] != 0) {
    *out = &pt->slots[pt->slot_of[port] - 1];
    return 0;
  }
  if (pt->nfree > 0) {
    idx = pt->free_slots[--pt->nfree];
  } else {
    if (pt->used == pt->cap) {
      int err = pt_grow(pt);
      if (err != 0)
        return err;
    }
    idx = (uint16_t)pt->used++;
  }
  memset(&pt->slots[idx], 0, sizeof(pt->slots[idx]));
  pt->slots[idx].port = port;
  pt->slot_of[port] = (uint16_t)(idx + 1);
  memmove(pt->order + 1, pt->order, pt->norder * sizeof(*pt->order));
  pt->order[0] = idx;
  pt->norder++;
  *out = &pt->slots[idx];
  return 0;
}

int pt_configure(struct port_table *pt, uint16_t port, unsigned flag) {
  struct pt_slot *s;
  int err;

  if (port == 0)
    return -EINVAL;
  err = pt_slot_for(pt, port, &s);
  if (err != 0)
    return err;
  if (!(s->flags & flag))
    pt->config_gen++;
  s->flags |= (uint8_t)flag;
  return 0;
}

void pt_begin_read(struct port_table *pt) {
  uint32_t i, kept = 0;

  memset(pt->total, 0, sizeof(pt->total));
  for (i = 0; i < pt->nranges; i++)
    memset(pt->ranges[i].counts, 0, sizeof(pt->ranges[i].counts));
  for (i = 0; i < pt->norder; i++) {
    uint16_t idx = pt->order[i];
    struct pt_slot *s = &pt->slots[idx];

    if ((s->flags & (PT_LOCAL | PT_REMOTE | PT_LISTENING)) == 0) {
      pt->slot_of[s->port] = 0;
      pt->free_slots[pt->nfree++] = idx;
      continue;
    }
    s->flags &= (uint8_t)(PT_LOCAL | PT_REMOTE);
    memset(s->local, 0, sizeof(s->local));
    memset(s->remote, 0, sizeof(s->remote));
    s->accept_queue = s->backlog = 0;
    pt->order[kept++] = idx;
  }
  pt->norder = kept;
}

int pt_mark_listening(struct port_table *pt, uint16_t port) {
  struct pt_slot *s;
  int err;

  if (port == 0)
    return 0;
  err = pt_slot_for(pt, port, &s);
  if (err != 0)
    return err;
  s->flags |= PT_LISTENING;
  return 0;
}

size_t pt_local_ports(const struct port_table *pt, uint16_t *out) {
  size_t n = 0;
  uint32_t port;

  /* Walk the index, not the slots, so the list comes out sorted. Runs only
   * when the filter is rebuilt. */
  for (port = 1; port < 65536; port++) {
    uint16_t s = pt->slot_of[port];
    if (s != 0 && (pt->slots[s - 1].flags & (PT_LOCAL | PT_LISTENING)))
      out[n++] = (uint16_t)port;
  }
  return n;
}

size_t pt_remote_ports(const struct port_table *pt, uint16_t *out) {
  size_t n = 0;
  uint32_t port;

  for (port = 1; port < 65536; port++) {
    uint16_t s = pt->slot_of[port];
    if (s != 0 && (pt->slots[s - 1].flags & PT_REMOTE))
      out[n++] = (uint16_t)port;
  }
  return n;
}

int pt_configure_range(struct port_table *pt, uint16_t lo, uint16_t hi,
                       unsigned flag) {
  struct pt_range *r;

  for (uint32_t i = 0; i < pt->nranges; i++)
    if (pt->ranges[i].lo == lo && pt->ranges[i].hi == hi &&
        pt->ranges[i].flags == flag)
      return 0; /* the same range twice is one instance */
  if (pt->nranges >= PT_MAX_RANGES)
    return -ENOSPC;
  r = realloc(pt->ranges, (pt->nranges + 1) * sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  pt->ranges = r;
  memset(&r[pt->nranges], 0, sizeof(r[pt->nranges]));
  r[pt->nranges].lo = lo;
  r[pt->nranges].hi = hi;
  r[pt->nranges].flags = (uint8_t)flag;
  pt->nranges++;
  pt->config_gen++;
  return 0;
}

/* Ports between two consecutive range boundaries share one set of
 * ranges; walk the ports once and intern each distinct set. */
static int build_range_index(struct port_table *pt, unsigned flag,
                             struct pt_range_index *ri) {
  uint16_t cur[PT_MAX_RANGES], prev[PT_MAX_RANGES];
  uint32_t ncur, nprev = 0, cap = 64, nmembers = 0;
  bool any = false;

  pt_free_range_index(ri);
  for (uint32_t i = 0; i < pt->nranges; i++)
    any |= pt->ranges[i].flags == flag;
  if (!any)
    return 0;
  ri->range_set_of = calloc(65536, sizeof(*ri->range_set_of));
  ri->first = malloc((2 * PT_MAX_RANGES + 3) * sizeof(*ri->first));
  ri->members = malloc(cap * sizeof(*ri->members));
  if (ri->range_set_of == NULL || ri->first == NULL || ri->members == NULL)
    return -ENOMEM;
  ri->nsets = 0;
  ri->first[1] = 0; /* set 0 is "none"; sets are 1-based */
  for (uint32_t port = 1; port < 65536; port++) {
    ncur = 0;
    for (uint32_t i = 0; i < pt->nranges; i++) {
      const struct pt_range *r = &pt->ranges[i];
      if (r->flags == flag && port >= r->lo && port <= r->hi)
        cur[ncur++] = (uint16_t)i;
    }
    if (ncur == 0) {
      nprev = 0;
      continue;
    }
    if (ncur != nprev || memcmp(cur, prev, ncur * sizeof(cur[0])) != 0) {
      /* A new set: at most 2 per range boundary. */
      if (nmembers + ncur > cap) {
        uint16_t *m;
        while (nmembers + ncur > cap)
          cap *= 2;
        m = realloc(ri->members, cap * sizeof(*m));
        if (m == NULL)
          return -ENOMEM;
        ri->members = m;
      }
      memcpy(ri->members + nmembers, cur, ncur * sizeof(cur[0]));
      nmembers += ncur;
      ri->nsets++;
      ri->first[ri->nsets + 1] = nmembers;
      memcpy(prev, cur, ncur * sizeof(cur[0]));
      nprev = ncur;
    }
    ri->range_set_of[port] = (uint16_t)ri->nsets;
  }
  return 0;
}

int pt_finish_ranges(struct port_table *pt) {
  int err = build_range_index(pt, PT_LOCAL, &pt->range_index[0]);

  if (err == 0)
    err = build_range_index(pt, PT_REMOTE, &pt->range_index[1]);
  return err;
}
