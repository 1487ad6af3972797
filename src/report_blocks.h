/* SPDX-License-Identifier: MIT */
/* The value blocks one read dispatches, in upstream's order: "all" first,
 * then ports newest first, each port's -local block before its -remote
 * block. Kept apart from collectd so the order can be tested. */
#ifndef TCPCONNS_DIAG_REPORT_BLOCKS_H
#define TCPCONNS_DIAG_REPORT_BLOCKS_H

#include "collector.h"

#include <stdint.h>

/* Called per block with its plugin instance ("all", "80-local",
 * "8080-remote"; "NAME-80-local" with a name) and its counts indexed by
 * state (TCS_MIN..TCS_MAX). name: the <Namespace> block's, or NULL. */
typedef void (*report_block_fn)(void *ctx, const char *plugin_instance,
                                const uint32_t *counts);

void report_each_block(const struct collector *c, const char *name,
                       report_block_fn fn, void *ctx);

/* Called per <Connections> block with its plugin instance ("pg_app";
 * "NAME-pg_app" with a name), its counts indexed by state and the states
 * it reports (1 << state). */
typedef void (*report_conns_fn)(void *ctx, const char *plugin_instance,
                                const uint32_t *counts, uint32_t states);

/* The <Connections> blocks, in configuration order, after every block of
 * report_each_block(). Nothing with the /proc fallback, which has no
 * addresses. */
void report_each_conns(const struct collector *c, const char *name,
                       report_conns_fn fn, void *ctx);

/* With ReportAcceptQueue: per reported local port that has listeners, the
 * accept queue length and the backlog limit, summed over its listeners. */
typedef void (*report_queue_fn)(void *ctx, const char *plugin_instance,
                                uint32_t accept_queue, uint32_t backlog);

void report_each_queue(const struct collector *c, const char *name,
                       report_queue_fn fn, void *ctx);

#endif
