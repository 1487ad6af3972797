/* SPDX-License-Identifier: MIT */
/* --output FILE: each read replaces FILE atomically. The output is written
 * to a new temporary file in FILE's directory (".NAME.XXXXXX": hidden, and
 * not matching node_exporter's *.prom), then renamed over FILE, so a
 * reader sees the previous read or this one, never a part of one. */
#ifndef TCPCONNS_DIAG_CLI_OUTFILE_H
#define TCPCONNS_DIAG_CLI_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef void (*cli_fill_fn)(FILE *out, void *ctx);

/* Calls fill to write the content, then renames it over path. The new
 * file gets mode 0666 minus the umask, as a file created by the shell
 * would (readable by the textfile collector's user with the usual umask).
 * Returns 0, or -1 with a message naming the file in err; then path is
 * unchanged and no temporary file is left. */
int cli_outfile_write(const char *path, cli_fill_fn fill, void *ctx, char *err,
                      size_t errlen);

#endif
