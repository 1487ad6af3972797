/* SPDX-License-Identifier: MIT */
#include "nlbuf.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <string.h>

void nlbuf_reset(struct nlbuf *b) {
  memset(b->data, 0, sizeof(b->data));
  b->len = 0;
}

static struct nlmsghdr *put(struct nlbuf *b, uint16_t type, uint32_t seq,
                            uint32_t pid, size_t payload) {
  struct nlmsghdr *nlh = (struct nlmsghdr *)(b->data + b->len);

  nlh->nlmsg_len = (uint32_t)(MNL_NLMSG_HDRLEN + payload);
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_MULTI;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_pid = pid;
  b->len += MNL_ALIGN(nlh->nlmsg_len);
  return nlh;
}

void nlbuf_socket(struct nlbuf *b, uint16_t type, uint32_t seq, uint32_t pid,
                  uint16_t sport, uint16_t dport, uint8_t state) {
  struct nlmsghdr *nlh =
      put(b, type, seq, pid, sizeof(struct inet_diag_msg) + 8);
  struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

  m->idiag_family = 2;
  m->idiag_state = state;
  m->id.idiag_sport = htons(sport);
  m->id.idiag_dport = htons(dport);
}

void nlbuf_done(struct nlbuf *b, uint32_t seq, uint32_t pid, int status) {
  struct nlmsghdr *nlh = put(b, NLMSG_DONE, seq, pid, sizeof(int));
  memcpy(mnl_nlmsg_get_payload(nlh), &status, sizeof(status));
}

void nlbuf_error(struct nlbuf *b, uint32_t seq, uint32_t pid, int error) {
  struct nlmsghdr *nlh = put(b, NLMSG_ERROR, seq, pid, sizeof(struct nlmsgerr));
  struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
  e->error = error;
}

void nlbuf_raw(struct nlbuf *b, uint16_t type, uint32_t seq, uint32_t pid,
               size_t payload_len) {
  put(b, type, seq, pid, payload_len);
}

ssize_t nlbuf_forge_control(void *buf, uint32_t seq, uint32_t pid,
                            uint16_t type, int value) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

  nlh->nlmsg_type = type;
  nlh->nlmsg_seq = seq;
  nlh->nlmsg_pid = pid;
  if (type == NLMSG_ERROR) {
    struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
    e->error = value;
  } else {
    int *v = mnl_nlmsg_put_extra_header(nlh, sizeof(*v));
    *v = value;
  }
  return (ssize_t)nlh->nlmsg_len;
}
