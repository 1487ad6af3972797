/* SPDX-License-Identifier: MIT */
#include "proc_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Parses [p, end) entirely as hex into *out; 0 on success. */
static int parse_hex(const char *p, const char *end, unsigned long *out) {
  unsigned long v = 0;

  if (p == end || end - p > 8)
    return -1;
  for (; p < end; p++) {
    int h = hexval(*p);
    if (h < 0)
      return -1;
    v = v * 16 + (unsigned long)h;
  }
  *out = v;
  return 0;
}

/* Next whitespace-separated field of [*p, end). */
static int next_field(const char **p, const char *end, const char **fs,
                      const char **fe) {
  const char *q = *p;

  while (q < end && (*q == ' ' || *q == '\t'))
    q++;
  if (q == end)
    return -1;
  *fs = q;
  while (q < end && *q != ' ' && *q != '\t')
    q++;
  *fe = q;
  *p = q;
  return 0;
}

/* "ADDR:PORT": the port is the text after the first ':'. */
static int parse_endpoint_port(const char *fs, const char *fe, uint16_t *port) {
  const char *colon = memchr(fs, ':', (size_t)(fe - fs));
  unsigned long v;

  if (colon == NULL || parse_hex(colon + 1, fe, &v) != 0 || v > 0xffff)
    return -1;
  *port = (uint16_t)v;
  return 0;
}

int proc_parse_line(const char *line, size_t len, uint16_t *sport,
                    uint16_t *dport, uint8_t *state) {
  const char *p = line, *end = line + len, *fs, *fe;
  unsigned long st;

  if (next_field(&p, end, &fs, &fe) != 0) /* sl */
    return 0;
  if (next_field(&p, end, &fs, &fe) != 0 ||
      parse_endpoint_port(fs, fe, sport) != 0)
    return 0;
  if (next_field(&p, end, &fs, &fe) != 0 ||
      parse_endpoint_port(fs, fe, dport) != 0)
    return 0;
  if (next_field(&p, end, &fs, &fe) != 0 || parse_hex(fs, fe, &st) != 0 ||
      st > 0xff)
    return 0;
  *state = (uint8_t)st;
  return 1;
}

int proc_read_file(const char *path, char *buf, size_t buflen,
                   diag_socket_fn on_socket, void *data) {
  size_t have = 0;
  int fd, err = 0;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  for (;;) {
    ssize_t n = read(fd, buf + have, buflen - have);
    char *line, *nl, *end;

    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = -errno;
      break;
    }
    if (n == 0)
      break;
    have += (size_t)n;
    end = buf + have;
    line = buf;
    while ((nl = memchr(line, '\n', (size_t)(end - line))) != NULL) {
      uint16_t sp, dp;
      uint8_t st;

      if (proc_parse_line(line, (size_t)(nl - line), &sp, &dp, &st)) {
        err = on_socket(data, sp, dp, st);
        if (err != 0) {
          err = -err;
          goto out;
        }
      }
      line = nl + 1;
    }
    /* Keep the partial last line; a line longer than the buffer (never
     * seen: lines are ~150 bytes) is dropped. */
    have = (size_t)(end - line);
    if (have == buflen)
      have = 0;
    memmove(buf, line, have);
  }
out:
  close(fd);
  return err;
}
