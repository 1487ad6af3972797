/* SPDX-License-Identifier: MIT */
#include "conn_filter.h"

#include "bytecode.h"

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
                      unsigned bc_flags) {
  uint32_t nlocal = 0, nremote = 0;

  if (!f->valid || f->bc_flags != bc_flags || f->config_gen != pt->config_gen)
    return false;
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

int conn_filter_build(struct conn_filter *f, const struct port_table *pt,
                      unsigned bc_flags) {
  enum { MAXR = 65536 + PT_MAX_RANGES };
  uint16_t *ports = malloc(65536 * sizeof(*ports));
  struct bc_range *local = malloc(2 * MAXR * sizeof(*local));
  uint8_t *bc = malloc(BC_MAX_LEN);
  struct bc_range *remote = local + MAXR;
  size_t nl, nr, n, len = 0;
  int err = -ENOMEM;

  conn_filter_destroy(f); /* invalid until the end */
  if (ports == NULL || local == NULL || bc == NULL)
    goto out;
  n = pt_local_ports(pt, ports);
  nl = add_ports(ports, n, local, f->local_bits);
  f->nlocal = (uint32_t)n;
  nl += add_ranges(pt, PT_LOCAL, local + nl);
  n = pt_remote_ports(pt, ports);
  nr = add_ports(ports, n, remote, f->remote_bits);
  f->nremote = (uint32_t)n;
  nr += add_ranges(pt, PT_REMOTE, remote + nr);

  err = bc_compile(local, nl, remote, nr, bc_flags, bc, BC_MAX_LEN, &len);
  if (err == -EINVAL) {
    err = 0; /* no port to keep: no connection dump at all */
  } else if (err == -E2BIG) {
    /* Tens of thousands of scattered ports: let everything through and
     * let the port table pick what it needs. */
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
    f->valid = true;
  }
out:
  free(ports);
  free(local);
  free(bc);
  return err;
}

void conn_filter_destroy(struct conn_filter *f) {
  free(f->prog);
  memset(f, 0, sizeof(*f));
}
