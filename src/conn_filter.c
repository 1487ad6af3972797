/* SPDX-License-Identifier: MIT */
#include "conn_filter.h"

#include "bytecode.h"
#include "conn_blocks.h"
#include "tcp_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool has_bit(const uint32_t *bits, uint16_t port) {
  return (bits[port / 32] >> (port % 32)) & 1u;
}

static void set_bit(uint32_t *bits, uint16_t port) {
  bits[port / 32] |= 1u << (port % 32);
}

bool conn_filter_fits(const struct conn_filter *f, const struct port_table *pt,
                      bool with_ports, const struct collector_config *cfg,
                      unsigned bc_flags) {
  uint32_t nlocal = 0, nremote = 0;

  if (!f->valid || f->bc_flags != bc_flags || f->config_gen != pt->config_gen ||
      f->with_ports != with_ports || f->conns != cfg->conns ||
      f->nconns != cfg->nconns)
    return false;
  if (!with_ports)
    return true;
  /* Same sets: every port needed is in the filter, and as many. */
  for (uint32_t i = 0; i < pt->norder; i++) {
    const struct pt_slot *s = &pt->slots[pt->order[i]];

    if (s->flags & (PT_LOCAL | PT_LISTENING)) {
      nlocal++;
      if (!has_bit(f->local_bits, s->port))
        return false;
    }
    if (s->flags & PT_REMOTE) {
      nremote++;
      if (!has_bit(f->remote_bits, s->port))
        return false;
    }
  }
  return nlocal == f->nlocal && nremote == f->nremote;
}

/* The configured ranges of one direction, appended to out. */
static size_t add_ranges(const struct port_table *pt, unsigned flag,
                         struct bc_range *out) {
  size_t n = 0;

  for (uint32_t i = 0; i < pt->nranges; i++)
    if (pt->ranges[i].flags == flag)
      out[n++] = (struct bc_range){pt->ranges[i].lo, pt->ranges[i].hi};
  return n;
}

/* Single ports as one-port ranges, remembered in bits. */
static size_t add_ports(const uint16_t *ports, size_t n, struct bc_range *out,
                        uint32_t *bits) {
  for (size_t i = 0; i < n; i++) {
    out[i] = (struct bc_range){ports[i], ports[i]};
    set_bit(bits, ports[i]);
  }
  return n;
}

/* Whether ranges r[0..n), n > 0, hold only ports set in bits. */
static bool ranges_within(const struct bc_range *r, size_t n,
                          const uint32_t *bits) {
  for (size_t i = 0; i < n; i++)
    for (uint32_t p = r[i].lo; p <= r[i].hi; p++)
      if (!has_bit(bits, (uint16_t)p))
        return false;
  return n > 0;
}

/* One term per block that needs the connection dump, but none for a block
 * the filter's port sets already cover: when all its local ports are
 * among the single local ports kept (a listening port, say), or all its
 * remote ports among the remote ones, the kernel returns every socket it
 * can match anyway, and its term would only cost a failing test on each
 * socket the sets refuse. User space matches every returned socket
 * against every block, so the counts do not change. */
static size_t add_terms(const struct collector_config *cfg,
                        const struct conn_filter *f, struct bc_term *terms) {
  size_t n = 0;

  for (size_t i = 0; i < cfg->nconns; i++) {
    const struct config_conns *b = &cfg->conns[i];

    if (!(b->states & TCS_MASK_NOT_LISTEN) ||
        ranges_within(b->lports, b->nlports, f->local_bits) ||
        ranges_within(b->rports, b->nrports, f->remote_bits))
      continue;
    terms[n++] = conns_term(b);
  }
  return n;
}

int conn_filter_build(struct conn_filter *f, const struct port_table *pt,
                      bool with_ports, const struct collector_config *cfg,
                      unsigned bc_flags) {
  enum { MAXR = 65536 + PT_MAX_RANGES };
  uint16_t *ports = malloc(65536 * sizeof(*ports));
  struct bc_range *local = malloc(2 * MAXR * sizeof(*local));
  struct bc_term *terms = malloc((cfg->nconns + 1) * sizeof(*terms));
  uint8_t *bc = malloc(BC_MAX_LEN);
  struct bc_range *remote = local + MAXR;
  struct bc_filter filter = {.local = local, .remote = remote};
  size_t n, len = 0;
  int err = -ENOMEM;

  conn_filter_destroy(f); /* invalid until the end */
  if (ports == NULL || local == NULL || terms == NULL || bc == NULL)
    goto out;
  if (with_ports) {
    n = pt_local_ports(pt, ports);
    filter.nlocal = add_ports(ports, n, local, f->local_bits);
    f->nlocal = (uint32_t)n;
    filter.nlocal += add_ranges(pt, PT_LOCAL, local + filter.nlocal);
    n = pt_remote_ports(pt, ports);
    filter.nremote = add_ports(ports, n, remote, f->remote_bits);
    f->nremote = (uint32_t)n;
    filter.nremote += add_ranges(pt, PT_REMOTE, remote + filter.nremote);
  }
  filter.terms = terms;
  filter.nterms = add_terms(cfg, f, terms);

  err = bc_compile_filter(&filter, bc_flags, bc, BC_MAX_LEN, &len);
  if (err == -EINVAL) {
    err = 0; /* no port to keep: no connection dump at all */
  } else if (err == -E2BIG) {
    /* Tens of thousands of scattered ports, or blocks beyond the
     * program's size: let everything through and let the port table and
     * the blocks pick what they need. */
    f->unbounded = true;
    err = 0;
  } else if (err == 0) {
    f->prog = realloc(bc, len);
    if (f->prog == NULL)
      err = -ENOMEM;
    else
      bc = NULL;
    f->len = len;
  }
  if (err == 0) {
    f->bc_flags = bc_flags;
    f->config_gen = pt->config_gen;
    f->with_ports = with_ports;
    f->conns = cfg->conns;
    f->nconns = cfg->nconns;
    f->valid = true;
  }
out:
  free(ports);
  free(local);
  free(terms);
  free(bc);
  return err;
}

void conn_filter_destroy(struct conn_filter *f) {
  free(f->prog);
  memset(f, 0, sizeof(*f));
}
