/* SPDX-License-Identifier: MIT */
#include "truth_dump.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int add_sock(const struct nlmsghdr *nlh, void *data) {
  struct truth *t = data;
  const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);

  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
    return MNL_CB_ERROR;
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 256;
    struct truth_sock *s = realloc(t->socks, cap * sizeof(*s));
    if (s == NULL)
      return MNL_CB_ERROR;
    t->socks = s;
    t->cap = cap;
  }
  /* memset first: the array is compared byte by byte, padding included. */
  memset(&t->socks[t->n], 0, sizeof(t->socks[t->n]));
  t->socks[t->n].sport = ntohs(m->id.idiag_sport);
  t->socks[t->n].dport = ntohs(m->id.idiag_dport);
  t->socks[t->n].state = m->idiag_state;
  t->socks[t->n].family = m->idiag_family;
  memcpy(t->socks[t->n].src, m->id.idiag_src,
         m->idiag_family == AF_INET ? 4 : 16);
  memcpy(t->socks[t->n].dst, m->id.idiag_dst,
         m->idiag_family == AF_INET ? 4 : 16);
  t->socks[t->n].rqueue = m->idiag_rqueue;
  t->socks[t->n].wqueue = m->idiag_wqueue;
  t->n++;
  return MNL_CB_OK;
}

static int dump_family(struct mnl_socket *nl, uint8_t family, uint32_t seq,
                       struct truth *t) {
  char buf[32768] __attribute__((aligned(8)));
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
  struct inet_diag_req_v2 *req;
  ssize_t n;
  int ret;

  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
  req->sdiag_family = family;
  req->sdiag_protocol = IPPROTO_TCP;
  req->idiag_states = 0xffe; /* states 1..11, never bit 13 */
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
    return -errno;
  do {
    n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
    if (n < 0)
      return -errno;
    ret =
        mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), add_sock, t);
  } while (ret > MNL_CB_STOP);
  return ret == MNL_CB_STOP ? 0 : -EPROTO;
}

static int cmp_sock(const void *a, const void *b) {
  return memcmp(a, b, sizeof(struct truth_sock));
}

int truth_dump(struct truth *t) {
  struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
  int err;

  t->n = 0;
  if (nl == NULL)
    return -errno;
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) != 0) {
    err = -errno;
  } else {
    err = dump_family(nl, AF_INET, 1, t);
    if (err == 0)
      err = dump_family(nl, AF_INET6, 2, t);
  }
  mnl_socket_close(nl);
  if (err == 0 && t->n > 1)
    qsort(t->socks, t->n, sizeof(*t->socks), cmp_sock);
  return err;
}

int truth_equal(const struct truth *a, const struct truth *b) {
  return a->n == b->n && (a->n == 0 || memcmp(a->socks, b->socks,
                                              a->n * sizeof(*a->socks)) == 0);
}

void truth_free(struct truth *t) {
  free(t->socks);
  memset(t, 0, sizeof(*t));
}
