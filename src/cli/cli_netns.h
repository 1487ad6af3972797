/* SPDX-License-Identifier: MIT */
/* Entering another network namespace before the first read, so the
 * netlink socket (and the /proc fallback) sees that namespace. The CLI is
 * single-threaded, so setns() moves the whole process. */
#ifndef TCPCONNS_DIAG_CLI_NETNS_H
#define TCPCONNS_DIAG_CLI_NETNS_H

#include <stddef.h>

/* /var/run/netns/NAME, as `ip netns add NAME` creates it. */
int cli_netns_enter_name(const char *name, char *err, size_t errlen);

/* The namespace of a process: /proc/PID/ns/net. */
int cli_netns_enter_pid(long pid, char *err, size_t errlen);

/* Both return 0, or -1 with a message naming the file in err. */

#endif
