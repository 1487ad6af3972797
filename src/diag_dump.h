/* SPDX-License-Identifier: MIT */
/* One NETLINK_SOCK_DIAG socket, kept open and reused, and the dump loop:
 * send a request, receive into a 32 KiB buffer until NLMSG_DONE. */
#ifndef TCPCONNS_DIAG_DIAG_DUMP_H
#define TCPCONNS_DIAG_DIAG_DUMP_H

#include "diag_io.h"
#include "diag_reply.h"
#include "diag_request.h"

#include <stdbool.h>
#include <stdint.h>

/* The kernel caps a dump skb at SKB_WITH_OVERHEAD(32768); a larger buffer
 * is never filled, a smaller one costs more recvmsg calls. */
#define DIAG_RECV_BUFFER 32768

struct diag_dump_stats {
  uint64_t dumps, recv_calls, bytes, sockets;
  uint64_t nanoseconds; /* wall time spent in dumps */
};

struct diag_conn {
  const struct diag_io *io;
  struct mnl_socket *nl; /* NULL when closed */
  uint32_t portid;
  uint32_t seq;
  void *rxbuf; /* DIAG_RECV_BUFFER bytes */
  void *txbuf; /* DIAG_REQUEST_MAX bytes */
};

/* Allocates the buffers; does not open the socket. */
int diag_conn_init(struct diag_conn *c, const struct diag_io *io);
void diag_conn_destroy(struct diag_conn *c);

/* Opens the socket if it is closed. Returns 0 or -errno. */
int diag_conn_open(struct diag_conn *c);
void diag_conn_close(struct diag_conn *c);

/* Runs one dump, calling on_socket for every socket in the reply (or
 * on_sock, with its addresses, if not NULL) and, if not NULL, on_queue for
 * each listener's accept queue. Returns 0 or
 * -errno. After a failure the socket may hold the rest of the aborted
 * dump, so it is closed; the next call reopens it. */
int diag_dump_queues(struct diag_conn *c, const struct diag_request *req,
                     diag_socket_fn on_socket, diag_sock_fn on_sock,
                     diag_queue_fn on_queue, void *data,
                     struct diag_dump_stats *stats);

#endif
