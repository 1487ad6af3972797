/* SPDX-License-Identifier: MIT */
/* Builds inet_diag dump requests for TCP sockets. */
#ifndef TCPCONNS_DIAG_DIAG_REQUEST_H
#define TCPCONNS_DIAG_DIAG_REQUEST_H

#include <stddef.h>
#include <stdint.h>

enum diag_req_kind {
  /* TCPDIAG_GETSOCK + struct inet_diag_req: the kernel dumps IPv4 and IPv6
   * in one walk of the established hash, bytecode allowed. */
  DIAG_REQ_LEGACY,
  /* SOCK_DIAG_BY_FAMILY + struct inet_diag_req_v2: one family per dump. */
  DIAG_REQ_V2,
};

struct diag_request {
  enum diag_req_kind kind;
  uint8_t family; /* AF_INET or AF_INET6; ignored for DIAG_REQ_LEGACY */
  uint32_t states;
  const uint8_t *bytecode; /* NULL: no filter */
  size_t bytecode_len;
};

/* Room for the headers plus the largest bytecode attribute. */
#define DIAG_REQUEST_MAX (16 + 64 + 4 + 65536)

/* Writes the request into buf (at least DIAG_REQUEST_MAX bytes, aligned
 * for struct nlmsghdr) and returns its length. */
size_t diag_build_request(void *buf, const struct diag_request *req,
                          uint32_t seq);

/* The nlmsg_type replies to this request carry. */
uint16_t diag_reply_type(enum diag_req_kind kind);

#endif
