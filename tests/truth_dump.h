/* SPDX-License-Identifier: MIT */
/* The ground truth for the model-based test: every TCP socket of the
 * calling thread's network namespace, from plain unfiltered
 * SOCK_DIAG_BY_FAMILY dumps (one per family) with code that shares
 * nothing with the plugin's request, reply parser or filter. */
#ifndef TCPCONNS_DIAG_TESTS_TRUTH_DUMP_H
#define TCPCONNS_DIAG_TESTS_TRUTH_DUMP_H

#include <stddef.h>
#include <stdint.h>

struct truth_sock {
  uint16_t sport, dport;
  uint8_t state;
  uint8_t family;           /* AF_INET or AF_INET6 */
  uint32_t rqueue, wqueue;  /* for listeners: accept queue and backlog */
  uint8_t src[16], dst[16]; /* network order; AF_INET: the first 4 */
};

struct truth {
  struct truth_sock *socks; /* sorted, so two truths compare with memcmp */
  size_t n, cap;
};

/* Fills t (reusing its memory). Returns 0 or -errno. */
int truth_dump(struct truth *t);
int truth_equal(const struct truth *a, const struct truth *b);
void truth_free(struct truth *t);

#endif
