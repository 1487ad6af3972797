/* SPDX-License-Identifier: MIT */
/* <Connections "NAME"> blocks: count the sockets that match conditions on
 * ports and addresses, per state, under the block's own name.
 *
 *   <Connections "pg_app">
 *     RemotePort "5432"
 *     RemoteAddress "10.1.0.0/16" "fd00:1::/48"
 *     LocalAddress "10.2.3.4"
 *     States "ESTABLISHED" "SYN_SENT"
 *   </Connections>
 *
 * Several values of one key, or the key repeated, mean OR; different keys
 * mean AND. Parsed here (the collectd glue and the CLI both use it) into
 * struct config_conns (collector_config.h); matched here against the
 * sockets a dump returns, with the kernel's own semantics, so the user
 * space count is exactly what the kernel filter (bytecode.h) lets through
 * for the block. */
#ifndef TCPCONNS_DIAG_CONN_BLOCKS_H
#define TCPCONNS_DIAG_CONN_BLOCKS_H

#include "collector_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Starts a block named name in cfg. Returns 0, or -1 with a message in
 * err naming the block: an invalid name (instance_name_valid), a name
 * already used in cfg (case-insensitive), too many blocks. */
int conns_begin(struct collector_config *cfg, const char *name, char *err,
                size_t errlen);

/* One option of the block begun last: LocalPort, RemotePort (a port
 * 1-65535 or a range LOW-HIGH), LocalAddress, RemoteAddress (an IPv4 or
 * IPv6 address, or a network ADDRESS/PREFIX with no bit set past the
 * prefix), States (state names). value holds one or more values
 * separated by blanks. Returns 0, or -1 with a message in err naming the
 * block, the option and the value. */
int conns_apply(struct collector_config *cfg, const char *key,
                const char *value, char *err, size_t errlen);

/* After the block's last option: it needs a port or address condition.
 * Returns 0, or -1 with a message in err. */
int conns_finish(struct collector_config *cfg, char *err, size_t errlen);

/* Parses "10.1.0.0/16", "fd00:1::/48", "10.2.3.4" (a /32), "::1" (a
 * /128). Returns 0, or -1 with why (no block or option named). */
int conns_parse_host(const char *text, struct bc_host *h, char *why,
                     size_t whylen);

/* Whether the address of a socket of family (AF_INET: addr[0..3];
 * AF_INET6: addr[0..15], network order) is in h, as the kernel's
 * S_COND/D_COND decide: same family and prefix, or an AF_INET h and an
 * IPv4-mapped address (::ffff:a.b.c.d) of an AF_INET6 socket. */
static inline bool conns_host_match(const struct bc_host *h, uint8_t family,
                                    const uint8_t *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  unsigned bytes, bits;

  if (h->family != family) {
    if (family != AF_INET6 || h->family != AF_INET)
      return false;
    for (unsigned i = 0; i < 12; i++)
      if (addr[i] != mapped[i])
        return false;
    addr += 12;
  }
  bytes = h->prefix_len / 8u;
  bits = h->prefix_len % 8u;
  for (unsigned i = 0; i < bytes; i++)
    if (addr[i] != h->addr[i])
      return false;
  return bits == 0 ||
         ((addr[bytes] ^ h->addr[bytes]) & (uint8_t)(0xff00u >> bits)) == 0;
}

/* Whether a socket meets the block's conditions (its states aside).
 * src and dst as for conns_host_match(). */
bool conns_match(const struct config_conns *b, uint8_t family, uint16_t sport,
                 uint16_t dport, const uint8_t *src, const uint8_t *dst);

/* The block's port and address conditions as one term of the kernel
 * filter (bytecode.h); the term points into b. */
struct bc_term conns_term(const struct config_conns *b);

/* The union of the blocks' states. */
uint32_t conns_states(const struct collector_config *cfg);

#endif
