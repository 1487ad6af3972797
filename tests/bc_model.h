/* SPDX-License-Identifier: MIT */
/* A user-space model of the kernel's inet_diag bytecode handling
 * (net/ipv4/inet_diag.c: inet_diag_bc_audit, valid_cc, inet_diag_bc_run),
 * so tests can check what bc_compile() emits without a kernel.
 *
 * Only the port ops are modelled: NOP, JMP, S_GE, S_LE, D_GE, D_LE, S_EQ,
 * D_EQ. Any other code is treated as rejected by the audit, which is
 * stricter than the kernel (it knows AUTO, S_COND, ...) but never looser
 * for what our compiler may emit. */
#ifndef TCPCONNS_DIAG_BC_MODEL_H
#define TCPCONNS_DIAG_BC_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* 0 if the kernel's audit would accept the len-byte program bc (the
 * payload of INET_DIAG_REQ_BYTECODE), else -EINVAL. */
int bcm_audit(const uint8_t *bc, size_t len);

/* Runs the program as the kernel does for a socket with local port sport
 * and remote port dport (host byte order). Returns 1 if the socket is
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
