/* SPDX-License-Identifier: MIT */
#include "diag_reply.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>

static int on_data(const struct nlmsghdr *nlh, void *data) {
  struct diag_reply *r = data;
  const struct inet_diag_msg *m;
  int err;

  if (nlh->nlmsg_type != r->type) {
    errno = EPROTO;
    return MNL_CB_ERROR;
  }
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  m = mnl_nlmsg_get_payload(nlh);
  r->sockets++;
  if (r->on_sock != NULL) {
    struct diag_sock s = {.family = m->idiag_family,
                          .state = m->idiag_state,
                          .sport = ntohs(m->id.idiag_sport),
                          .dport = ntohs(m->id.idiag_dport),
                          .src = (const uint8_t *)m->id.idiag_src,
                          .dst = (const uint8_t *)m->id.idiag_dst};
    err = r->on_sock(r->data, &s);
  } else {
    err = r->on_socket(r->data, ntohs(m->id.idiag_sport),
                       ntohs(m->id.idiag_dport), m->idiag_state);
  }
  if (err != 0) {
    errno = err;
    return MNL_CB_ERROR;
  }
  /* After on_socket, which may have created the listener's port slot. */
  if (r->on_queue != NULL && m->idiag_state == 10 /* LISTEN */)
    r->on_queue(r->data, ntohs(m->id.idiag_sport), m->idiag_rqueue,
                m->idiag_wqueue);
  return MNL_CB_OK;
}

static int on_error(const struct nlmsghdr *nlh, void *data) {
  const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

  (void)data;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  if (e->error == 0) {
    /* An acknowledgement: nothing more will come. */
    return MNL_CB_STOP;
  }
  /* -INT_MIN does not fit an int: no errno is that. */
  errno = e->error == INT_MIN ? EPROTO : e->error < 0 ? -e->error : e->error;
  return MNL_CB_ERROR;
}

static int on_done(const struct nlmsghdr *nlh, void *data) {
  int status = 0;

  (void)data;
  /* The kernel puts the dump's result in DONE: 0, or -errno if it failed
   * part way (libmnl's default handler ignores it). */
  if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(status))
    memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
  if (status < 0) {
    errno = status == INT_MIN ? EPROTO : -status;
    return MNL_CB_ERROR;
  }
  return MNL_CB_STOP;
}

static int on_overrun(const struct nlmsghdr *nlh, void *data) {
  (void)nlh;
  (void)data;
  errno = EOVERFLOW;
  return MNL_CB_ERROR;
}

/* Not const: mnl_cb_run2 takes a non-const array (libmnl 1.0.4). */
static mnl_cb_t control_cbs[NLMSG_MIN_TYPE] = {
    [NLMSG_ERROR] = on_error,
    [NLMSG_DONE] = on_done,
    [NLMSG_OVERRUN] = on_overrun,
};

/* mnl_cb_run2 stops quietly at a message that claims more bytes than are
 * left, and libmnl's mnl_nlmsg_ok() compares lengths as int, so a length
 * of 2^31 or more would pass it. Check first, in size_t, that the messages
 * tile the buffer exactly. */
static int check_framing(const uint8_t *buf, size_t len) {
  size_t off = 0;

  while (len - off >= sizeof(struct nlmsghdr)) {
    uint32_t mlen;

    memcpy(&mlen, buf + off + offsetof(struct nlmsghdr, nlmsg_len),
           sizeof(mlen));
    if (mlen < sizeof(struct nlmsghdr) || mlen > len - off)
      return EBADMSG;
    off += mlen;
    /* The last message's padding may be absent. */
    off = NLMSG_ALIGN(off) < len ? NLMSG_ALIGN(off) : len;
  }
  return off == len ? 0 : EBADMSG;
}

enum diag_parse_result diag_parse_reply(struct diag_reply *r, const void *buf,
                                        size_t len) {
  int ret;

  if (len == 0 || len > INT32_MAX) {
    r->error = len == 0 ? ENODATA : EMSGSIZE;
    return DIAG_PARSE_ERROR;
  }
  r->error = check_framing(buf, len);
  if (r->error != 0)
    return DIAG_PARSE_ERROR;
  errno = 0;
  ret = mnl_cb_run2(buf, len, r->seq, r->portid, on_data, r, control_cbs,
                    NLMSG_MIN_TYPE);
  if (ret == MNL_CB_STOP)
    return DIAG_PARSE_DONE;
  if (ret < 0) {
    r->error = errno != 0 ? errno : EPROTO;
    return DIAG_PARSE_ERROR;
  }
  return DIAG_PARSE_MORE;
}
