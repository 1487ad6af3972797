/* SPDX-License-Identifier: MIT */
#include "diag_io.h"

#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>

/* A dump never waits long for its next message (the kernel builds it in
 * our recvmsg); a receive timeout only guards the read thread against a
 * reply that never comes. */
#define DIAG_RECV_TIMEOUT_S 10

static struct mnl_socket *kernel_open(void *ctx, uint32_t *portid) {
  struct timeval tv = {.tv_sec = DIAG_RECV_TIMEOUT_S};
  struct mnl_socket *nl;
  int saved;

  (void)ctx;
  /* SOCK_CLOEXEC: children forked by other plugins must never inherit it. */
  nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
  if (nl == NULL)
    return NULL;
  if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
                 sizeof(tv)) != 0 ||
      mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) != 0) {
    saved = errno;
    mnl_socket_close(nl);
    errno = saved;
    return NULL;
  }
  *portid = mnl_socket_get_portid(nl);
  return nl;
}

static ssize_t kernel_send(void *ctx, struct mnl_socket *nl, const void *buf,
                           size_t len) {
  (void)ctx;
  return mnl_socket_sendto(nl, buf, len);
}

static ssize_t kernel_recv(void *ctx, struct mnl_socket *nl, void *buf,
                           size_t len) {
  (void)ctx;
  return mnl_socket_recvfrom(nl, buf, len);
}

static void kernel_close(void *ctx, struct mnl_socket *nl) {
  (void)ctx;
  mnl_socket_close(nl);
}

const struct diag_io diag_io_kernel = {
    .open = kernel_open,
    .send = kernel_send,
    .recv = kernel_recv,
    .close = kernel_close,
    .ctx = 0,
};
