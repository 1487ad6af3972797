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
}
