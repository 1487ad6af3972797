/* SPDX-License-Identifier: MIT */
/* Compiles "local port in L or remote port in R", optionally OR'ed with
 * terms that also test addresses (the <Connections> blocks), into an
 * inet_diag bytecode program (INET_DIAG_REQ_BYTECODE) that the kernel runs
 * on every socket it walks.
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

/* An address or network as INET_DIAG_BC_S_COND / D_COND test it:
 * family AF_INET or AF_INET6, the address in network order (AF_INET: the
 * first 4 bytes), prefix_len 0..32 or 0..128. Bits past the prefix are
 * ignored by the kernel (bitstring_match); the configuration refuses
 * them. An AF_INET host also matches IPv4-mapped addresses
 * (::ffff:a.b.c.d) of AF_INET6 sockets, as the kernel's condition does. */
struct bc_host {
  uint8_t family;
  uint8_t prefix_len;
  uint8_t addr[16];
};

/* One term OR'ed after the port sets: an AND of the non-empty groups
 * below, each group an OR of its members (local port in one of local[],
 * remote port in one of remote[], local address in one of src[], remote
 * address in one of dst[]). A term needs at least one member. */
struct bc_term {
  const struct bc_range *local, *remote;
  size_t nlocal, nremote;
  const struct bc_host *src, *dst;
  size_t nsrc, ndst;
};

/* The whole filter: "local port in local[] or remote port in remote[] or
 * term 0 or term 1 ...". The port sets come first (a balanced tree, as
 * bc_compile() emits them), then each term in order: a socket that no
 * earlier part accepts falls through to the next; the last one that
 * fails rejects. Each term costs one op per member tested (ports first,
 * then addresses), so a term rejects a socket at its first group that
 * fails. Sizes: a port test 8 bytes (16 with BC_NO_EQ or for a range), an
 * IPv4 host 16, an IPv6 host 28, plus a 4-byte JMP per member that is not
 * its group's last. */
struct bc_filter {
  const struct bc_range *local, *remote;
  size_t nlocal, nremote;
  const struct bc_term *terms;
  size_t nterms;
};

/* Compiles f as described above. Returns 0, -E2BIG if the program would
 * not fit cap (or BC_MAX_LEN), -EINVAL for an empty filter (no port and
 * no term) or a term without a member, or a host with a family other
 * than AF_INET/AF_INET6 or a prefix longer than its address, or
 * -ENOMEM. */
int bc_compile_filter(const struct bc_filter *f, unsigned flags, uint8_t *out,
                      size_t cap, size_t *len);

/* "local port in one of local[] or remote port in one of remote[]":
 * ranges in any order, overlapping or repeated, ports 1..65535 (one port
 * is lo == hi). Writes at most cap bytes to out and stores the length in
 * *len. Returns 0, -E2BIG if the program would not fit cap (or
 * BC_MAX_LEN), -EINVAL for an empty filter (which would match nothing:
 * skip the dump), or -ENOMEM. */
int bc_compile(const struct bc_range *local, size_t nlocal,
               const struct bc_range *remote, size_t nremote, unsigned flags,
               uint8_t *out, size_t cap, size_t *len);

/* Bytes one host condition takes in a program (op + hostcond + address). */
size_t bc_host_len(const struct bc_host *h);

#endif
