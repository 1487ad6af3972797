#include "port_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PT_MAX_SLOTS 65535u /* port 0 never gets a slot */

int pt_init(struct port_table *pt) {
  memset(pt, 0, sizeof(*pt));
  return 0;
}

void pt_destroy(struct port_table *pt) {
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
    pt->filter_dirty = true;
  s->flags |= (uint8_t)flag;
  return 0;
}

void pt_begin_read(struct port_table *pt) {
  uint32_t i, kept = 0;

  memset(pt->total, 0, sizeof(pt->total));
  for (i = 0; i < pt->norder; i++) {
    uint16_t idx = pt->order[i];
    struct pt_slot *s = &pt->slots[idx];

    if ((s->flags & (PT_LOCAL | PT_REMOTE | PT_LISTENING)) == 0) {
      pt->slot_of[s->port] = 0;
      pt->free_slots[pt->nfree++] = idx;
      continue;
    }
    s->flags = (uint8_t)((s->flags & (PT_LOCAL | PT_REMOTE)) |
                         ((s->flags & PT_LISTENING) ? PT_WAS_LISTENING : 0));
    memset(s->local, 0, sizeof(s->local));
    memset(s->remote, 0, sizeof(s->remote));
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

void pt_end_discovery(struct port_table *pt) {
  uint32_t i;

  for (i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];
    bool now = (s->flags & PT_LISTENING) != 0;
    bool before = (s->flags & PT_WAS_LISTENING) != 0;

    if (now != before && !(s->flags & PT_LOCAL))
      pt->filter_dirty = true;
  }
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
