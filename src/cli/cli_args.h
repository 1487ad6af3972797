/* SPDX-License-Identifier: MIT */
/* tcpconns-diag's command line: flags parsed into the plugin's options (in
 * command-line order, for the core to apply) and the CLI's own settings. */
#ifndef TCPCONNS_DIAG_CLI_ARGS_H
#define TCPCONNS_DIAG_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_NAME "tcpconns-diag"

enum cli_format { CLI_FORMAT_JSON, CLI_FORMAT_TABLE, CLI_FORMAT_PROMETHEUS };

/* One plugin option given as a flag: options_apply(key, value). */
struct cli_option {
  const char *flag; /* "--local-port", for messages */
  const char *arg;  /* as given, for messages */
  const char *key;  /* "LocalPort" */
  char *value;      /* what the option is given (owned) */
};

struct cli_args {
  struct cli_option *options; /* command-line order */
  size_t noptions;
  const char **connections; /* --connections arguments, in order */
  size_t nconnections;
  enum cli_format format;
  double watch;           /* seconds between reads; 0: one read */
  const char *output;     /* --output FILE, replaced at each read, or NULL */
  const char *netns_name; /* --netns NAME, or NULL */
  long netns_pid;         /* --netns-pid PID, or 0 */
  bool help, version;
};

/* Fills a from argv. Returns 0, or 2 (the usage-error exit status) after
 * printing what is wrong to stderr. a must be freed with cli_args_free()
 * either way. */
int cli_args_parse(struct cli_args *a, int argc, char **argv);
void cli_args_free(struct cli_args *a);

void cli_usage(FILE *out);

#endif
