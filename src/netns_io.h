/* SPDX-License-Identifier: MIT */
/* sock_diag inside another network namespace. The socket is opened by a
 * short-lived thread that enters the namespace with setns() and exits:
 * the socket stays bound to that namespace for its whole life, and no
 * thread of the daemon is ever left in a foreign namespace. Needs
 * CAP_SYS_ADMIN (setns into a network namespace). */
#ifndef TCPCONNS_DIAG_NETNS_IO_H
#define TCPCONNS_DIAG_NETNS_IO_H

#include "diag_io.h"

#include <stdbool.h>
#include <sys/types.h>

struct netns_target {
  char path[256]; /* /var/run/netns/NAME or /proc/PID/ns/net */
  dev_t dev;      /* identity of the namespace the socket was opened in */
  ino_t ino;
  bool opened;
  /* net.ipv4.tcp_ehash_entries seen inside the namespace when the socket
   * was opened: negative when it shares the host's established hash, so
   * every dump there walks all of the host's sockets too. 0: unknown. */
  int ehash_entries;
};

enum netns_state {
  NETNS_SAME,    /* the socket's namespace is still the one at path */
  NETNS_GONE,    /* nothing at path any more */
  NETNS_CHANGED, /* path now names another namespace */
};

/* A diag_io for target (ctx must point to it). */
void netns_io_init(struct diag_io *io, struct netns_target *target);

/* Compares the namespace at target->path with the socket's. */
enum netns_state netns_check(const struct netns_target *target);

#endif
