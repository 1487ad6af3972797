/* SPDX-License-Identifier: MIT */
/* Private network namespaces and loopback sockets for real-kernel tests. */
#ifndef TCPCONNS_DIAG_TESTS_NETNS_H
#define TCPCONNS_DIAG_TESTS_NETNS_H

#include <stdint.h>

/* Moves the calling process into a new, empty network namespace with lo
 * up. Returns 0, or -errno (EPERM when not root). Nothing leaves it: the
 * namespace dies with the process, sockets and all. */
int netns_enter_private(void);

/* For a test's main(): 0 if netns_enter_private() works here (tried in a
 * child process as root); else prints "PROG: SKIP: ..." and returns 77,
 * automake's SKIP status. Root without CAP_SYS_ADMIN (a container, a
 * build chroot) cannot create a network namespace. */
int netns_require(const char *prog);

/* A listening socket on addr ("127.0.0.1", "::1", "::") and port.
 * v6only applies to AF_INET6 sockets. Aborts the test on failure. */
int tsock_listen(const char *addr, uint16_t port, int v6only);
/* A connected client socket. */
int tsock_connect(const char *addr, uint16_t port);
/* A connected client socket bound first to the source address src (any
 * port): "127.0.0.7" on lo needs no configuration. */
int tsock_connect_from(const char *src, const char *addr, uint16_t port);
/* Accepts one pending connection. */
int tsock_accept(int listener);

#endif
