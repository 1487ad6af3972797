/* SPDX-License-Identifier: MIT */
/* A socket seam that wraps another diag_io (the kernel's, or a network
 * namespace's) and injects one planned fault into a read: a failing
 * socket(), sendmsg or recvmsg, an EINTR storm, a cut or forged reply, a
 * dump that stops without NLMSG_DONE, or a refused filter. */
#ifndef TCPCONNS_DIAG_TESTS_FAULT_IO_H
#define TCPCONNS_DIAG_TESTS_FAULT_IO_H

#include "diag_io.h"

#include <stdbool.h>

enum fault_kind {
  FAULT_NONE,
  FAULT_OPEN,      /* socket() fails with err */
  FAULT_SEND,      /* sendmsg fails with err */
  FAULT_RECV,      /* recvmsg fails with err (ENOSPC: truncated, as libmnl) */
  FAULT_EINTR,     /* count recvmsg calls in a row fail with EINTR */
  FAULT_CUT,       /* a buffer arrives one byte short: a message is cut */
  FAULT_SEQ,       /* a reply with another sequence number */
  FAULT_PID,       /* a reply from another port id */
  FAULT_NLMSG_ERR, /* the buffer is replaced by NLMSG_ERROR -err */
  FAULT_DONE_ERR,  /* the buffer is replaced by NLMSG_DONE carrying -err */
  FAULT_EOF,       /* the dump stops: recvmsg returns 0 */
  FAULT_REFUSE,    /* a request with a filter is answered NLMSG_ERROR
                      -EINVAL, as a kernel that rejects the program */
  FAULT_KINDS
};

struct fault_plan {
  enum fault_kind kind;
  int err;
  int count;     /* FAULT_EINTR: how many in a row */
  unsigned call; /* fires at the first fitting call from this index on
                    (calls of a read: open, send and recv, counted) */
};

struct fault_io {
  struct diag_io io; /* hand &io to the collector; ctx points back here */
  const struct diag_io *inner;
  struct fault_plan plan;
  unsigned calls;   /* calls since fault_io_arm() */
  int left;         /* FAULT_EINTR: still to fail */
  bool fired;       /* the planned fault happened */
  bool refuse_next; /* FAULT_REFUSE: answer the next recv with EINVAL */
};

void fault_io_init(struct fault_io *f, const struct diag_io *inner);

/* Plans one fault for the next read (FAULT_NONE: none). */
void fault_io_arm(struct fault_io *f, const struct fault_plan *plan);

const char *fault_kind_name(enum fault_kind k);

#endif
