/* SPDX-License-Identifier: MIT */
/* A user-space model of the kernel's inet_diag bytecode handling
 * (net/ipv4/inet_diag.c: inet_diag_bc_audit, valid_cc, inet_diag_bc_run),
 * so tests can check what bc_compile() emits without a kernel.
 *
 * Modelled: the port ops (NOP, JMP, S_GE, S_LE, D_GE, D_LE, S_EQ, D_EQ)
 * and the host conditions S_COND/D_COND (valid_hostcond in the audit; in
 * a run the port test with -1 for any, the family test with an AF_INET
 * condition also matching an IPv4-mapped address of an AF_INET6 socket,
 * and the prefix match of bitstring_match, prefix 0 matching anything of
 * the family). Any other code is treated as rejected by the audit, which
 * is stricter than the kernel (it knows AUTO, DEV_COND, ...) but never
 * looser for what our compiler may emit. */
#ifndef TCPCONNS_DIAG_BC_MODEL_H
#define TCPCONNS_DIAG_BC_MODEL_H

#include "bytecode.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 0 if the kernel's audit would accept the len-byte program bc (the
 * payload of INET_DIAG_REQ_BYTECODE), else -EINVAL. */
int bcm_audit(const uint8_t *bc, size_t len);

/* A socket as inet_diag_bc_sk() sees it: family AF_INET or AF_INET6,
 * addresses in network order (AF_INET: the first 4 bytes; the rest is
 * never read), ports in host order. */
struct bcm_sock {
  uint8_t family;
  uint16_t sport, dport;
  uint8_t src[16], dst[16];
};

/* The rules written again bit by bit, for the expected verdicts: whether
 * port p is in one of the n ranges r, and whether addr (s's source or
 * destination) is in one of the n networks h (an IPv4 network also
 * matching an IPv4-mapped address of an AF_INET6 socket). */
bool bcm_ref_ports(const struct bc_range *r, size_t n, uint16_t p);
bool bcm_ref_hosts(const struct bc_host *h, size_t n, const struct bcm_sock *s,
                   const uint8_t *addr);

/* Runs the program as the kernel does for the socket s. Returns 1 if it
 * is accepted, 0 if rejected; as bcm_run() below. */
int bcm_run_sock(const uint8_t *bc, size_t len, const struct bcm_sock *s,
                 unsigned *ops_executed);

/* Runs the program as the kernel does for a socket with local port sport
 * and remote port dport (host byte order), family AF_INET and addresses
 * 0.0.0.0. Returns 1 if the socket is
 * accepted (execution lands exactly on the end), 0 if rejected. If
 * ops_executed is not NULL it receives the number of ops run.
 * Only meaningful for programs bcm_audit() accepts; for others it still
 * stays inside bc and terminates, and reports 0 where the kernel would
 * read past the program or loop. */
int bcm_run(const uint8_t *bc, size_t len, uint16_t sport, uint16_t dport,
            unsigned *ops_executed);

/* bc_compile() for sorted port lists (each port a one-port range), as
 * most tests write their sets. */
int bcm_compile_ports(const uint16_t *local, size_t nlocal,
                      const uint16_t *remote, size_t nremote, unsigned flags,
                      uint8_t *out, size_t cap, size_t *len);

#endif
