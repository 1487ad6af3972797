/* SPDX-License-Identifier: MIT */
#include "diag_dump.h"

#include "probes.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

/* recvmsg interrupted by a signal is retried, but not forever. */
#define DIAG_MAX_EINTR 8

int diag_conn_init(struct diag_conn *c, const struct diag_io *io) {
  c->io = io;
  c->nl = NULL;
  c->portid = 0;
  c->seq = 0;
  c->rxbuf = malloc(DIAG_RECV_BUFFER);
  c->txbuf = malloc(DIAG_REQUEST_MAX);
  if (c->rxbuf == NULL || c->txbuf == NULL) {
    diag_conn_destroy(c);
    return -ENOMEM;
  }
  return 0;
}

void diag_conn_destroy(struct diag_conn *c) {
  diag_conn_close(c);
  free(c->rxbuf);
  free(c->txbuf);
  c->rxbuf = c->txbuf = NULL;
}

int diag_conn_open(struct diag_conn *c) {
  if (c->nl != NULL)
    return 0;
  errno = 0;
  c->nl = c->io->open(c->io->ctx, &c->portid);
  if (c->nl == NULL)
    return errno != 0 ? -errno : -EIO;
  return 0;
}

void diag_conn_close(struct diag_conn *c) {
  if (c->nl != NULL)
    c->io->close(c->io->ctx, c->nl);
  c->nl = NULL;
}

static int dump_once(struct diag_conn *c, const struct diag_request *req,
                     diag_socket_fn on_socket, diag_sock_fn on_sock,
                     diag_queue_fn on_queue, void *data,
                     struct diag_dump_stats *stats) {
  struct diag_reply r = {.type = diag_reply_type(req->kind),
                         .on_socket = on_socket,
                         .on_sock = on_sock,
                         .on_queue = on_queue,
                         .data = data};
  size_t len;
  int eintr = 0;

  /* Never 0: libmnl skips the sequence check for 0. */
  if (++c->seq == 0)
    c->seq = 1;
  r.seq = c->seq;
  r.portid = c->portid;
  len = diag_build_request(c->txbuf, req, c->seq);
  if (c->io->send(c->io->ctx, c->nl, c->txbuf, len) < 0)
    return errno != 0 ? -errno : -EIO;
  stats->dumps++;

  for (;;) {
    enum diag_parse_result res;
    ssize_t n = c->io->recv(c->io->ctx, c->nl, c->rxbuf, DIAG_RECV_BUFFER);

    if (n < 0) {
      if (errno == EINTR && ++eintr <= DIAG_MAX_EINTR)
        continue;
      return errno != 0 ? -errno : -EIO;
    }
    if (n == 0)
      return -ENODATA; /* the dump ended without NLMSG_DONE */
    stats->recv_calls++;
    stats->bytes += (uint64_t)n;
    res = diag_parse_reply(&r, c->rxbuf, (size_t)n);
    if (res == DIAG_PARSE_ERROR) {
      stats->sockets += r.sockets;
      return -r.error;
    }
    if (res == DIAG_PARSE_DONE) {
      stats->sockets += r.sockets;
      return 0;
    }
  }
}

int diag_dump_queues(struct diag_conn *c, const struct diag_request *req,
                     diag_socket_fn on_socket, diag_sock_fn on_sock,
                     diag_queue_fn on_queue, void *data,
                     struct diag_dump_stats *stats) {
  struct diag_dump_stats before = *stats;
  struct timespec t0, t1;
  uint64_t ns;
  int err = diag_conn_open(c);

  if (err != 0)
    return err;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  err = dump_once(c, req, on_socket, on_sock, on_queue, data, stats);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
       (uint64_t)t0.tv_nsec;
  stats->nanoseconds += ns;
  /* dump__done(states, sockets, bytes, recvmsg calls, ns) */
  TCD_PROBE5(dump__done, (uint64_t)req->states, stats->sockets - before.sockets,
             stats->bytes - before.bytes, stats->recv_calls - before.recv_calls,
             ns);
  if (err != 0)
    diag_conn_close(c);
  return err;
}
