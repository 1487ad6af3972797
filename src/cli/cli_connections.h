/* SPDX-License-Identifier: MIT */
/* --connections 'NAME:KEY=VALUE,KEY=VALUE,...': a <Connections "NAME">
 * block from the command line. Keys: lport, rport (a port or LOW-HIGH),
 * laddr, raddr (an address or ADDRESS/PREFIX), states (names joined by
 * '+'). A key may repeat (OR); different keys AND. */
#ifndef TCPCONNS_DIAG_CLI_CONNECTIONS_H
#define TCPCONNS_DIAG_CLI_CONNECTIONS_H

#include "collector_config.h"

#include <stddef.h>

/* Adds the block arg describes to cfg. Returns 0, or -1 with a message in
 * err (the core's, naming the block, the option and the value). */
int cli_connections_apply(struct collector_config *cfg, const char *arg,
                          char *err, size_t errlen);

#endif
