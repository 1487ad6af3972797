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

static void conns_free(struct config_conns *b) {
  free(b->lports);
  free(b->rports);
  free(b->laddrs);
  free(b->raddrs);
}

void config_destroy(struct collector_config *cfg) {
  free(cfg->ports);
  cfg->ports = NULL;
  cfg->nports = cfg->nranges = 0;
  for (size_t i = 0; i < cfg->nconns; i++)
    conns_free(&cfg->conns[i]);
  free(cfg->conns);
  cfg->conns = NULL;
  cfg->nconns = 0;
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

/* malloc + memcpy of n elements of size sz; NULL for none. */
static int dup_array(void **dst, const void *src, size_t n, size_t sz) {
  *dst = NULL;
  if (n == 0)
    return 0;
  *dst = malloc(n * sz);
  if (*dst == NULL)
    return -ENOMEM;
  memcpy(*dst, src, n * sz);
  return 0;
}

static int conns_copy(struct config_conns *dst,
                      const struct config_conns *src) {
  void *lp, *rp, *la, *ra;
  int err = 0;

  *dst = *src;
  err |= dup_array(&lp, src->lports, src->nlports, sizeof(*src->lports));
  err |= dup_array(&rp, src->rports, src->nrports, sizeof(*src->rports));
  err |= dup_array(&la, src->laddrs, src->nladdrs, sizeof(*src->laddrs));
  err |= dup_array(&ra, src->raddrs, src->nraddrs, sizeof(*src->raddrs));
  dst->lports = lp;
  dst->rports = rp;
  dst->laddrs = la;
  dst->raddrs = ra;
  if (err != 0) {
    conns_free(dst);
    memset(dst, 0, sizeof(*dst));
    return -ENOMEM;
  }
  return 0;
}

int config_copy(struct collector_config *dst,
                const struct collector_config *src) {
  void *ports;

  *dst = *src;
  dst->ports = NULL;
  dst->conns = NULL;
  dst->nconns = 0;
  if (dup_array(&ports, src->ports, src->nports, sizeof(*src->ports)) != 0) {
    dst->nports = dst->nranges = 0;
    return -ENOMEM;
  }
  dst->ports = ports;
  if (src->nconns == 0)
    return 0;
  dst->conns = calloc(src->nconns, sizeof(*dst->conns));
  if (dst->conns == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < src->nconns; i++) {
    if (conns_copy(&dst->conns[i], &src->conns[i]) != 0)
      return -ENOMEM; /* config_destroy() frees what was copied */
    dst->nconns++;
  }
  return 0;
}
