/* SPDX-License-Identifier: MIT */
/* Builds netlink reply buffers by hand, for parser and dump tests. */
#ifndef TCPCONNS_DIAG_TESTS_NLBUF_H
#define TCPCONNS_DIAG_TESTS_NLBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nlbuf {
  _Alignas(8) uint8_t data[65536];
  size_t len;
};

void nlbuf_reset(struct nlbuf *b);
/* A socket record (struct inet_diag_msg) of the given message type. */
void nlbuf_socket(struct nlbuf *b, uint16_t type, uint32_t seq, uint32_t pid,
                  uint16_t sport, uint16_t dport, uint8_t state);
/* NLMSG_DONE carrying status (0 or -errno). */
void nlbuf_done(struct nlbuf *b, uint32_t seq, uint32_t pid, int status);
/* NLMSG_ERROR carrying error (-errno, or 0 for an ACK). */
void nlbuf_error(struct nlbuf *b, uint32_t seq, uint32_t pid, int error);
/* A bare header of any type with payload_len zero bytes of payload. */
void nlbuf_raw(struct nlbuf *b, uint16_t type, uint32_t seq, uint32_t pid,
               size_t payload_len);

/* Writes at buf, in place of whatever a recv() put there, one NLMSG_DONE
 * (value: its status) or NLMSG_ERROR (value: its error) message answering
 * seq and pid; returns its length. For fault seams that forge replies. */
ssize_t nlbuf_forge_control(void *buf, uint32_t seq, uint32_t pid,
                            uint16_t type, int value);

#endif
