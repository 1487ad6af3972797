/* SPDX-License-Identifier: MIT */
#include "nlbuf.h"
#include "fault_io.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <string.h>

static bool due(struct fault_io *f, enum fault_kind kind) {
  return !f->fired && f->plan.kind == kind && f->calls >= f->plan.call;
}

static struct mnl_socket *fo_open(void *ctx, uint32_t *portid) {
  struct fault_io *f = ctx;

  f->calls++;
  if (due(f, FAULT_OPEN)) {
    f->fired = true;
    errno = f->plan.err;
    return NULL;
  }
  return f->inner->open(f->inner->ctx, portid);
}

static ssize_t fo_send(void *ctx, struct mnl_socket *nl, const void *buf,
                       size_t len) {
  struct fault_io *f = ctx;
  const struct nlmsghdr *nlh = buf;

  f->calls++;
  if (due(f, FAULT_SEND)) {
    f->fired = true;
    errno = f->plan.err;
    return -1;
  }
  /* Longer than either request header: it carries a bytecode attribute. */
  if (due(f, FAULT_REFUSE) &&
      nlh->nlmsg_len > NLMSG_HDRLEN + sizeof(struct inet_diag_req)) {
    f->fired = true;
    f->refuse_next = true;
  }
  return f->inner->send(f->inner->ctx, nl, buf, len);
}

static ssize_t fo_recv(void *ctx, struct mnl_socket *nl, void *buf,
                       size_t len) {
  struct fault_io *f = ctx;
  struct nlmsghdr *nlh = buf;
  ssize_t got;

  f->calls++;
  if (f->left > 0) {
    f->left--;
    errno = EINTR;
    return -1;
  }
  if (due(f, FAULT_EINTR)) {
    f->fired = true;
    f->left = f->plan.count - 1;
    errno = EINTR;
    return -1;
  }
  if (due(f, FAULT_RECV)) {
    f->fired = true;
    errno = f->plan.err;
    return -1;
  }
  got = f->inner->recv(f->inner->ctx, nl, buf, len);
  if (got < (ssize_t)NLMSG_HDRLEN)
    return got;
  if (f->refuse_next) {
    f->refuse_next = false;
    return nlbuf_forge_control(buf, nlh->nlmsg_seq, nlh->nlmsg_pid, NLMSG_ERROR,
                               -EINVAL);
  }
  if (due(f, FAULT_CUT)) {
    f->fired = true;
    return got - 1; /* messages are 4-byte aligned: never a boundary */
  }
  if (due(f, FAULT_SEQ)) {
    f->fired = true;
    nlh->nlmsg_seq += 1000;
    return got;
  }
  if (due(f, FAULT_PID)) {
    f->fired = true;
    nlh->nlmsg_pid += 1;
    return got;
  }
  if (due(f, FAULT_NLMSG_ERR)) {
    f->fired = true;
    return nlbuf_forge_control(buf, nlh->nlmsg_seq, nlh->nlmsg_pid, NLMSG_ERROR,
                               -f->plan.err);
  }
  if (due(f, FAULT_DONE_ERR)) {
    f->fired = true;
    return nlbuf_forge_control(buf, nlh->nlmsg_seq, nlh->nlmsg_pid, NLMSG_DONE,
                               -f->plan.err);
  }
  if (due(f, FAULT_EOF)) {
    f->fired = true;
    return 0;
  }
  return got;
}

static void fo_close(void *ctx, struct mnl_socket *nl) {
  struct fault_io *f = ctx;

  f->inner->close(f->inner->ctx, nl);
}

void fault_io_init(struct fault_io *f, const struct diag_io *inner) {
  memset(f, 0, sizeof(*f));
  f->inner = inner;
  f->io.open = fo_open;
  f->io.send = fo_send;
  f->io.recv = fo_recv;
  f->io.close = fo_close;
  f->io.ctx = f;
}

void fault_io_arm(struct fault_io *f, const struct fault_plan *plan) {
  f->plan = *plan;
  f->calls = 0;
  f->left = 0;
  f->fired = false;
  f->refuse_next = false;
}

const char *fault_kind_name(enum fault_kind k) {
  static const char *const names[FAULT_KINDS] = {
      "none",        "open",       "send",      "recv",
      "eintr-storm", "cut",        "wrong-seq", "wrong-pid",
      "nlmsg-error", "done-error", "eof",       "refused-filter"};

  return k < FAULT_KINDS ? names[k] : "?";
}
