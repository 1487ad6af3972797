#include "dispatch_list.h"

#include <stdio.h>

void tc_for_each_block(const struct tc_collector *c, tc_block_fn fn,
                       void *ctx) {
  const struct port_table *pt = &c->pt;
  char instance[32];

  if (c->all)
    fn(ctx, "all", pt->total);
  for (uint32_t i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];

    if (pt_send_local(s, c->listening)) {
      snprintf(instance, sizeof(instance), "%u-local", (unsigned)s->port);
      fn(ctx, instance, s->local);
    }
    if (pt_send_remote(s)) {
      snprintf(instance, sizeof(instance), "%u-remote", (unsigned)s->port);
      fn(ctx, instance, s->remote);
    }
  }
  /* Ranges after single ports, in configuration order. */
  for (uint32_t i = 0; i < pt->nranges; i++) {
    const struct pt_range *r = &pt->ranges[i];

    snprintf(instance, sizeof(instance), "%u-%u-%s", (unsigned)r->lo,
             (unsigned)r->hi, r->flags == PT_LOCAL ? "local" : "remote");
    fn(ctx, instance, r->counts);
  }
}

void tc_for_each_queue(const struct tc_collector *c, tc_queue_fn fn,
                       void *ctx) {
  const struct port_table *pt = &c->pt;
  char instance[32];

  if (!c->report_accept_queue || c->source == TC_SRC_PROC)
    return;
  for (uint32_t i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];

    if (pt_send_local(s, c->listening) && s->local[TCS_LISTEN] > 0) {
      snprintf(instance, sizeof(instance), "%u-local", (unsigned)s->port);
      fn(ctx, instance, s->accept_queue, s->backlog);
    }
  }
}
