/* SPDX-License-Identifier: MIT */
#include "report_blocks.h"

#include "collector_private.h"
#include "instance_name.h"

void report_each_block(const struct collector *c, const char *name,
                       report_block_fn fn, void *ctx) {
  const struct port_table *pt = &c->pt;
  struct instance_id id = {.name = name};
  char instance[64];

  if (c->cfg.all) {
    id.kind = INSTANCE_ALL;
    instance_format(instance, sizeof(instance), &id);
    fn(ctx, instance, pt->total);
  }
  for (uint32_t i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];

    id.lo = id.hi = s->port;
    if (pt_send_local(s, c->cfg.listening)) {
      id.kind = INSTANCE_LOCAL;
      instance_format(instance, sizeof(instance), &id);
      fn(ctx, instance, s->local);
    }
    if (pt_send_remote(s)) {
      id.kind = INSTANCE_REMOTE;
      instance_format(instance, sizeof(instance), &id);
      fn(ctx, instance, s->remote);
    }
  }
  /* Ranges after single ports, in configuration order. */
  for (uint32_t i = 0; i < pt->nranges; i++) {
    const struct pt_range *r = &pt->ranges[i];

    id.kind = r->flags == PT_LOCAL ? INSTANCE_LOCAL : INSTANCE_REMOTE;
    id.lo = r->lo;
    id.hi = r->hi;
    instance_format(instance, sizeof(instance), &id);
    fn(ctx, instance, r->counts);
  }
}

void report_each_conns(const struct collector *c, const char *name,
                       report_conns_fn fn, void *ctx) {
  struct instance_id id = {.name = name, .kind = INSTANCE_NAMED};
  char instance[128];

  if (c->source == SOURCE_PROC)
    return;
  for (size_t i = 0; i < c->cfg.nconns; i++) {
    id.conns = c->cfg.conns[i].name;
    if (instance_format(instance, sizeof(instance), &id) < 0)
      continue; /* never: both names are at most INSTANCE_NAME_MAX */
    fn(ctx, instance, c->conns_counts[i], c->cfg.conns[i].states);
  }
}

void report_each_queue(const struct collector *c, const char *name,
                       report_queue_fn fn, void *ctx) {
  const struct port_table *pt = &c->pt;
  struct instance_id id = {.name = name, .kind = INSTANCE_LOCAL};
  char instance[64];

  if (!c->cfg.report_accept_queue || c->source == SOURCE_PROC)
    return;
  for (uint32_t i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];

    if (pt_send_local(s, c->cfg.listening) && s->local[TCS_LISTEN] > 0) {
      id.lo = id.hi = s->port;
      instance_format(instance, sizeof(instance), &id);
      fn(ctx, instance, s->accept_queue, s->backlog);
    }
  }
}
