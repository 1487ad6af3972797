/* SPDX-License-Identifier: MIT */
#include "collector_config.h"

#include "tcp_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void config_init(struct collector_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->report_states = TCS_MASK_ALL;
  cfg->allow_proc = true;
}

void config_destroy(struct collector_config *cfg) {
  free(cfg->ports);
  cfg->ports = NULL;
  cfg->nports = cfg->nranges = 0;
}

int config_add_port(struct collector_config *cfg, uint16_t lo, uint16_t hi,
                    enum port_dir dir) {
  struct config_port *grown;

  /* Linear, but only at configuration, over at most a few thousand. */
  for (size_t i = 0; i < cfg->nports; i++)
    if (cfg->ports[i].lo == lo && cfg->ports[i].hi == hi &&
        cfg->ports[i].dir == dir)
      return 0;
  if (lo != hi && cfg->nranges >= CONFIG_MAX_RANGES)
    return -ENOSPC;
  grown = realloc(cfg->ports, (cfg->nports + 1) * sizeof(*grown));
  if (grown == NULL)
    return -ENOMEM;
  cfg->ports = grown;
  cfg->ports[cfg->nports++] = (struct config_port){lo, hi, dir};
  if (lo != hi)
    cfg->nranges++;
  return 0;
}

int config_copy(struct collector_config *dst,
                const struct collector_config *src) {
  *dst = *src;
  dst->ports = NULL;
  if (src->nports == 0)
    return 0;
  dst->ports = malloc(src->nports * sizeof(*dst->ports));
  if (dst->ports == NULL) {
    dst->nports = dst->nranges = 0;
    return -ENOMEM;
  }
  memcpy(dst->ports, src->ports, src->nports * sizeof(*dst->ports));
  return 0;
}
