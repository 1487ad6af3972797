/* SPDX-License-Identifier: MIT */
/* TCP state numbers and the names tcpconns has always dispatched for them. */
#ifndef TCPCONNS_DIAG_TCP_STATE_H
#define TCPCONNS_DIAG_TCP_STATE_H

/* Kernel state numbers (include/net/tcp_states.h); 1..11 are dispatched. */
enum {
  TCS_ESTABLISHED = 1,
  TCS_SYN_SENT = 2,
  TCS_SYN_RECV = 3,
  TCS_CLOSE = 7,
  TCS_LISTEN = 10,
  TCS_MIN = 1,
  TCS_MAX = 11,
  TCS_COUNT = 12 /* array size; index 0 is never used */
};

/* Upstream's Linux names, in kernel order ("" for index 0). */
extern const char *const tcs_names[TCS_COUNT];

/* Bits for idiag_states: every dispatched state except LISTEN. Bit 12
 * (NEW_SYN_RECV) is added by the kernel for SYN_RECV; bit 13
 * (BOUND_INACTIVE) must never be asked for: it walks the bind hash and
 * would report bound-only sockets as CLOSED. */
#define TCS_MASK_LISTEN (1u << TCS_LISTEN)
#define TCS_MASK_ALL 0xffeu
#define TCS_MASK_NOT_LISTEN (TCS_MASK_ALL & ~TCS_MASK_LISTEN)

#endif
