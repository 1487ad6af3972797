/* SPDX-License-Identifier: MIT */
/* The socket layer under every netlink step, behind a small table of
 * functions so tests can inject faults (a failing socket(), a short or
 * interrupted recvmsg, a forged reply) without touching the real path. */
#ifndef TCPCONNS_DIAG_DIAG_IO_H
#define TCPCONNS_DIAG_DIAG_IO_H

#include <libmnl/libmnl.h>
#include <stdint.h>
#include <sys/types.h>

struct diag_io {
  /* Open and bind a NETLINK_SOCK_DIAG socket (close-on-exec) and store
   * its port id. NULL and errno set on failure. */
  struct mnl_socket *(*open)(void *ctx, uint32_t *portid);
  ssize_t (*send)(void *ctx, struct mnl_socket *nl, const void *buf,
                  size_t len);
  /* -1 and errno on failure; ENOSPC means the message was truncated. */
  ssize_t (*recv)(void *ctx, struct mnl_socket *nl, void *buf, size_t len);
  void (*close)(void *ctx, struct mnl_socket *nl);
  void *ctx;
};

/* The real thing: libmnl on a kernel socket. */
extern const struct diag_io diag_io_kernel;

#endif
