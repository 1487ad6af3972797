/* SPDX-License-Identifier: MIT */
/* One read as Prometheus text exposition format (version 0.0.4), for
 * node_exporter's textfile collector or any scraper of text files.
 *
 *   tcpconns_connections{port="80",direction="local",state="established"} 3
 *   tcpconns_all_connections{state="established"} 7
 *   tcpconns_accept_queue{port="80"} 0
 *   tcpconns_accept_backlog{port="80"} 511
 *   tcpconns_read_duration_seconds 0.000231
 *
 * Every family has its # HELP and # TYPE lines (all are gauges) and its
 * samples together, as the format requires; no timestamps (the textfile
 * collector refuses them). States are the plugin's names in lower case. */
#ifndef TCPCONNS_DIAG_CLI_PROMETHEUS_H
#define TCPCONNS_DIAG_CLI_PROMETHEUS_H

#include "collector.h"

#include <stdio.h>

/* A label added to every sample (e.g. netns="web1"), so the files of
 * several namespaces can sit side by side; name NULL for none. */
struct cli_prom_label {
  const char *name;
  const char *value;
};

void cli_print_prometheus(FILE *out, const struct collector *c,
                          struct cli_prom_label extra);

#endif
