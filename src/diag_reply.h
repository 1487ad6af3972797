/* SPDX-License-Identifier: MIT */
/* Parses one received buffer of an inet_diag dump reply. */
#ifndef TCPCONNS_DIAG_DIAG_REPLY_H
#define TCPCONNS_DIAG_DIAG_REPLY_H

#include <stddef.h>
#include <stdint.h>

/* Called once per socket in the reply. state is the kernel's number. */
typedef int (*diag_socket_fn)(void *data, uint16_t sport, uint16_t dport,
                              uint8_t state);

/* A socket with its addresses, for callers that match them. */
struct diag_sock {
  uint8_t family; /* AF_INET or AF_INET6 (idiag_family) */
  uint8_t state;  /* the kernel's number */
  uint16_t sport, dport;
  const uint8_t *src, *dst; /* 16 bytes each, network order; AF_INET: the
                               first 4 */
};

/* Called once per socket instead of diag_socket_fn when set. */
typedef int (*diag_sock_fn)(void *data, const struct diag_sock *s);

/* Called for each listening socket with its accept queue: the number of
 * connections waiting for accept() and the backlog limit. */
typedef void (*diag_queue_fn)(void *data, uint16_t sport, uint32_t rqueue,
                              uint32_t wqueue);

struct diag_reply {
  uint32_t seq;    /* sequence number of our request */
  uint32_t portid; /* our bound port id */
  uint16_t type;   /* expected nlmsg_type of socket messages */
  diag_socket_fn on_socket;
  diag_sock_fn on_sock;   /* optional: called instead, with addresses */
  diag_queue_fn on_queue; /* optional */
  void *data;
  uint64_t sockets; /* socket messages seen */
  int error;        /* positive errno when diag_parse_reply returns < 0 */
};

enum diag_parse_result {
  DIAG_PARSE_ERROR = -1, /* r->error says why */
  DIAG_PARSE_DONE = 0,   /* NLMSG_DONE seen: the dump is complete */
  DIAG_PARSE_MORE = 1,   /* receive the next buffer */
};

/* Every message must belong to our request (sequence and port id), be
 * whole, and be a socket record, NLMSG_DONE or NLMSG_ERROR. The error an
 * NLMSG_DONE carries (a failed dump) is reported too. */
enum diag_parse_result diag_parse_reply(struct diag_reply *r, const void *buf,
                                        size_t len);

#endif
