/* SPDX-License-Identifier: MIT */
/* The <Plugin tcpconns_diag> options, with upstream tcpconns' meaning:
 * ports read as atoi() does, booleans true only for true/yes/on. Where
 * upstream silently guesses, the guess is kept and a warning names the
 * option and the value. */
#ifndef TCPCONNS_DIAG_OPTIONS_H
#define TCPCONNS_DIAG_OPTIONS_H

#include "collector_config.h"

#include <stddef.h>

typedef void (*options_warn_fn)(void *ctx, const char *message);

/* Applies one option. value is the option's values joined by single spaces,
 * as collectd's simple config API hands them to upstream. Returns 0, or -1
 * with a message naming the option and the value in err. */
int options_apply(struct collector_config *c, const char *key,
                  const char *value, options_warn_fn warn, void *warn_ctx,
                  char *err, size_t errlen);

/* After the last option: with neither AllPortsSummary nor any port, report
 * listening ports (even if ListeningPorts was set to false), as upstream;
 * except with <Connections> blocks and ListeningPorts false given: then
 * the blocks alone. */
void options_finish(struct collector_config *c);

#endif
