/* SPDX-License-Identifier: MIT */
/* Compiles "local port in L or remote port in R" into an inet_diag
 * bytecode program (INET_DIAG_REQ_BYTECODE) that the kernel runs on every
 * socket it walks.
 *
 * Each set is turned into ranges of consecutive ports and then into a
 * balanced decision tree: S_LE/D_LE splits, range or equality tests at the
 * leaves. A socket costs O(log n) ops whatever the number of ports.
 * The layout follows the kernel's audit (net/ipv4/inet_diag.c): every op's
 * `yes` is its own length, so every op is on the `yes` chain; all jumps go
 * forward; accept lands exactly on the end, reject on end + 4. */
#ifndef TCPCONNS_DIAG_BYTECODE_H
#define TCPCONNS_DIAG_BYTECODE_H

#include <stddef.h>
#include <stdint.h>

enum bc_flags {
  /* Spell "port == p" as S_GE p + S_LE p, for kernels without S_EQ/D_EQ
   * (added around 4.16). Every kernel with inet_diag accepts this form. */
  BC_NO_EQ = 1u << 0,
};

/* Largest program the request attribute can carry: nla_len is a u16 that
 * includes the 4-byte attribute header, and programs come in 4-byte
 * steps. One byte more and nla_len wraps: the kernel would then skip the
 * attribute silently and dump unfiltered. */
#define BC_MAX_LEN 65528u

/* An inclusive port range. */
struct bc_range {
  uint16_t lo, hi;
};

/* "local port in one of local[] or remote port in one of remote[]":
 * ranges in any order, overlapping or repeated, ports 1..65535 (one port
 * is lo == hi). Writes at most cap bytes to out and stores the length in
 * *len. Returns 0, -E2BIG if the program would not fit cap (or
 * BC_MAX_LEN), -EINVAL for an empty filter (which would match nothing:
 * skip the dump), or -ENOMEM. */
int bc_compile(const struct bc_range *local, size_t nlocal,
               const struct bc_range *remote, size_t nremote, unsigned flags,
               uint8_t *out, size_t cap, size_t *len);

#endif
