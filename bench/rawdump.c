/* SPDX-License-Identifier: MIT */
/* rawdump: the floor for a sock_diag reader. One legacy TCPDIAG_GETSOCK
 * dump (both families in one walk of the established hash) with the kernel
 * filter tcpconns_diag would use: a states mask plus bytecode for the
 * ports (compiled by the plugin's own bc_compile), received into a 32 KiB
 * buffer and only counted.
 *
 *   rawdump [-s STATES] [-l PORTS] [-r PORTS] [-v]
 *
 * -s: idiag_states (default 0xffe: states 1..11; the kernel adds
 *     NEW_SYN_RECV for SYN_RECV); -l / -r: comma-separated local / remote
 *     ports to keep (a socket is kept if its local port is in -l or its
 *     remote port is in -r); without either, no bytecode (every socket).
 *
 * Before the measured dump, a LISTEN-only dump on the same socket warms it
 * up (the kernel sizes dump skbs from the largest recvmsg it has seen, as
 * for the plugin's long-lived socket). Prints one line:
 *   sockets N recvmsg M bytes B cpu_us U wall_us W bytecode_len L
 * where U is this process's user+sys CPU time for the measured dump. */
#define _GNU_SOURCE
#include "bytecode.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RXBUF 32768

static uint8_t rx[RXBUF];

struct stats {
  uint64_t sockets, recvs, bytes;
};

static int parse_ports(const char *s, uint16_t *out, size_t cap) {
  size_t n = 0;
  char *copy = strdup(s), *save = NULL;

  for (char *t = strtok_r(copy, ",", &save); t != NULL;
       t = strtok_r(NULL, ",", &save)) {
    long v = strtol(t, NULL, 10);
    if (v < 1 || v > 65535 || n == cap) {
      fprintf(stderr, "rawdump: bad port list\n");
      exit(2);
    }
    out[n++] = (uint16_t)v;
  }
  free(copy);
  return (int)n;
}

static int cmp_u16(const void *a, const void *b) {
  return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static size_t uniq(uint16_t *p, size_t n) {
  size_t m = 0;
  qsort(p, n, sizeof(*p), cmp_u16);
  for (size_t i = 0; i < n; i++)
    if (m == 0 || p[m - 1] != p[i])
      p[m++] = p[i];
  return m;
}

static int dump(struct mnl_socket *nl, uint32_t seq, uint32_t states,
                const uint8_t *bc, size_t bclen, struct stats *st) {
  static uint8_t tx[16 + 64 + 4 + 65536];
  struct nlmsghdr *nlh = mnl_nlmsg_put_header(tx);
  struct inet_diag_req *r;
  uint32_t portid = mnl_socket_get_portid(nl);

  nlh->nlmsg_type = TCPDIAG_GETSOCK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  nlh->nlmsg_seq = seq;
  r = mnl_nlmsg_put_extra_header(nlh, sizeof(*r));
  r->idiag_family = AF_INET; /* the compat path dumps both families */
  r->idiag_states = states;
  if (bc != NULL)
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, bclen, bc);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    perror("rawdump: sendto");
    return -1;
  }
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, rx, sizeof(rx));
    if (n < 0) {
      perror("rawdump: recv");
      return -1;
    }
    st->recvs++;
    st->bytes += (uint64_t)n;
    for (const struct nlmsghdr *h = (const struct nlmsghdr *)rx;
         mnl_nlmsg_ok(h, (int)n); h = mnl_nlmsg_next(h, (int *)&n)) {
      if (h->nlmsg_seq != seq || h->nlmsg_pid != portid)
        continue;
      if (h->nlmsg_type == NLMSG_DONE)
        return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
        fprintf(stderr, "rawdump: kernel error: %s\n", strerror(-e->error));
        return -1;
      }
      if (h->nlmsg_type == TCPDIAG_GETSOCK)
        st->sockets++;
    }
  }
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  static uint16_t local[65536], remote[65536];
  static uint8_t bc[BC_MAX_LEN];
  size_t nl_ = 0, nr = 0, bclen = 0;
  uint32_t states = 0xffe;
  int opt, have_filter = 0, verbose = 0;
  struct stats warm = {0}, st = {0};
  struct mnl_socket *nl;
  double c0, c1, w0, w1;

  while ((opt = getopt(argc, argv, "s:l:r:v")) != -1) {
    switch (opt) {
    case 's':
      states = (uint32_t)strtoul(optarg, NULL, 0);
      break;
    case 'l':
      nl_ = (size_t)parse_ports(optarg, local, 65536);
      have_filter = 1;
      break;
    case 'r':
      nr = (size_t)parse_ports(optarg, remote, 65536);
      have_filter = 1;
      break;
    case 'v':
      verbose = 1;
      break;
    default:
      fprintf(stderr, "usage: rawdump [-s STATES] [-l PORTS] [-r PORTS]\n");
      return 2;
    }
  }
  if (have_filter) {
    nl_ = uniq(local, nl_);
    nr = uniq(remote, nr);
    static struct bc_range lr[65536], rr[65536];
    for (size_t k = 0; k < nl_; k++)
      lr[k] = (struct bc_range){local[k], local[k]};
    for (size_t k = 0; k < nr; k++)
      rr[k] = (struct bc_range){remote[k], remote[k]};
    int err = bc_compile(lr, nl_, rr, nr, 0, bc, sizeof(bc), &bclen);
    if (err != 0) {
      fprintf(stderr, "rawdump: bc_compile: %s\n", strerror(-err));
      return 1;
    }
  }
  nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
  if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    perror("rawdump: netlink socket");
    return 1;
  }
  if (dump(nl, 1, 1u << 10, NULL, 0, &warm) != 0)
    return 1;
  c0 = cpu_us();
  w0 = wall_us();
  if (dump(nl, 2, states, have_filter ? bc : NULL, bclen, &st) != 0)
    return 1;
  c1 = cpu_us();
  w1 = wall_us();
  printf("sockets %llu recvmsg %llu bytes %llu cpu_us %.0f wall_us %.0f "
         "bytecode_len %zu\n",
         (unsigned long long)st.sockets, (unsigned long long)st.recvs,
         (unsigned long long)st.bytes, c1 - c0, w1 - w0, bclen);
  if (verbose)
    fprintf(stderr, "rawdump: states 0x%x, %zu local, %zu remote ports\n",
            states, nl_, nr);
  mnl_socket_close(nl);
  return 0;
}
