/* SPDX-License-Identifier: MIT */
/* USDT probes (systemtap's <sys/sdt.h>), compiled in when the header was
 * found at configure time; no-ops otherwise. Each is a nop instruction
 * until a tracer such as bpftrace attaches. Provider: tcpconns_diag.
 * Arguments are passed as 64-bit values: bpftrace 0.17 cannot read the
 * 32-bit register operands (%r13d) the compiler may pick otherwise. */
#ifndef TCPCONNS_DIAG_PROBES_H
#define TCPCONNS_DIAG_PROBES_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#if defined(HAVE_SYS_SDT_H) && HAVE_SYS_SDT_H && !defined(TCD_NO_USDT)
#include <sys/sdt.h>
#define TCD_PROBE0(name) DTRACE_PROBE(tcpconns_diag, name)
#define TCD_PROBE3(name, a, b, c) DTRACE_PROBE3(tcpconns_diag, name, a, b, c)
#define TCD_PROBE5(name, a, b, c, d, e)                                        \
  DTRACE_PROBE5(tcpconns_diag, name, a, b, c, d, e)
#else
/* Evaluate the arguments so a build without probes sees them used. */
#define TCD_PROBE0(name) ((void)0)
#define TCD_PROBE3(name, a, b, c) ((void)(a), (void)(b), (void)(c))
#define TCD_PROBE5(name, a, b, c, d, e)                                        \
  ((void)(a), (void)(b), (void)(c), (void)(d), (void)(e))
#endif

#endif
