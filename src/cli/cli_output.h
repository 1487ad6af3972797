/* SPDX-License-Identifier: MIT */
/* One read's blocks as tcpconns-diag prints them: a JSON object on one
 * line, or a table. Blocks come in the plugin's dispatch order, states in
 * kernel order, only the reported ones (report_states). */
#ifndef TCPCONNS_DIAG_CLI_OUTPUT_H
#define TCPCONNS_DIAG_CLI_OUTPUT_H

#include "collector.h"

#include <stdio.h>

/* {"all": {"ESTABLISHED": 100, ...}, "80-local": {...}} and a newline. */
void cli_print_json(FILE *out, const struct collector *c);

/* A header line (INSTANCE and the state names), then a line per block,
 * numbers right-aligned under their state. */
void cli_print_table(FILE *out, const struct collector *c);

#endif
