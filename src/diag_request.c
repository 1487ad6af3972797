/* SPDX-License-Identifier: MIT */
#include "diag_request.h"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

uint16_t diag_reply_type(enum diag_req_kind kind) {
  return kind == DIAG_REQ_LEGACY ? TCPDIAG_GETSOCK : SOCK_DIAG_BY_FAMILY;
}

size_t diag_build_request(void *buf, const struct diag_request *req,
                          uint32_t seq) {
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

  nlh->nlmsg_type = diag_reply_type(req->kind);
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;

  if (req->kind == DIAG_REQ_LEGACY) {
    struct inet_diag_req *r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
    /* The compat path ignores the family and dumps both (AF_UNSPEC). */
    r->idiag_family = AF_INET;
    r->idiag_states = req->states;
  } else {
    struct inet_diag_req_v2 *r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
    r->sdiag_family = req->family;
    r->sdiag_protocol = IPPROTO_TCP;
    r->idiag_states = req->states;
  }
  if (req->bytecode != NULL)
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, req->bytecode_len, req->bytecode);
  return nlh->nlmsg_len;
}
