/* SPDX-License-Identifier: MIT */
/* Fallback source: /proc/net/tcp and /proc/net/tcp6, for kernels without
 * sock_diag. Only the ports and the state of each line are parsed. */
#ifndef TCPCONNS_DIAG_PROC_READER_H
#define TCPCONNS_DIAG_PROC_READER_H

#include "diag_reply.h"

#include <stddef.h>

/* A large buffer: the kernel formats about a page of lines per read(),
 * so this keeps the number of syscalls near its minimum. */
#define PROC_READ_BUFFER (256 * 1024)

/* Parses one line (without its newline). Returns 1 and fills the fields
 * for a socket line, 0 for the header or a malformed line. */
int proc_parse_line(const char *line, size_t len, uint16_t *sport,
                    uint16_t *dport, uint8_t *state);

/* Reads one file, calling on_socket per socket line. buf holds buflen
 * bytes of scratch. Returns 0, or -errno if the file cannot be read. */
int proc_read_file(const char *path, char *buf, size_t buflen,
                   diag_socket_fn on_socket, void *data);

#endif
