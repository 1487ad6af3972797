/* SPDX-License-Identifier: MIT */
#include "bc_model.h"

#include "bytecode.h"

#include <errno.h>
#include <stdlib.h>

#include <errno.h>
#include <linux/inet_diag.h>
#include <string.h>

/* nla_len is a u16 that counts the 4-byte attribute header: a longer
 * program cannot even be sent, so it never reaches the audit. */
#define BCM_MAX_PAYLOAD (UINT16_MAX - 4)

/* Lengths are signed, as in the kernel: `remaining - step` may go below
 * zero, which is how "jump to end + 4" (reject) ends a run. */
static struct inet_diag_bc_op op_at(const uint8_t *bc, long off) {
  struct inet_diag_bc_op op;

  memcpy(&op, bc + off, sizeof(op)); /* bc need not be aligned */
  return op;
}

/* The op plus its operand, or 0 for a code this model does not know. */
static long min_len(uint8_t code) {
  switch (code) {
  case INET_DIAG_BC_NOP:
  case INET_DIAG_BC_JMP:
    return 4;
  case INET_DIAG_BC_S_GE:
  case INET_DIAG_BC_S_LE:
  case INET_DIAG_BC_D_GE:
  case INET_DIAG_BC_D_LE:
  case INET_DIAG_BC_S_EQ:
  case INET_DIAG_BC_D_EQ:
    return 8; /* the port sits in a second op header */
  default:
    return 0;
  }
}

/* The kernel's valid_cc(): is the point with cc bytes left reached when
 * walking from the start by `yes` offsets? Jump targets must be, so that
 * the audit (which also walks by `yes`) has checked the op found there. */
static int on_yes_chain(const uint8_t *bc, long len, long cc) {
  long off = 0;

  while (len >= 0) {
    if (cc > len)
      return 0;
    if (cc == len)
      return 1;
    /* Here 0 < cc < len. With fewer than 4 bytes left the kernel reads a
     * header past the program, but any yes >= 4 then takes len below cc
     * and fails, so stopping here gives the same answer. */
    if (len < 4)
      return 0;
    struct inet_diag_bc_op op = op_at(bc, off);
    if (op.yes < 4 || op.yes % 4 != 0)
      return 0;
    len -= op.yes;
    off += op.yes;
  }
  return 0;
}

int bcm_audit(const uint8_t *bc, size_t size) {
  long total = (long)size, len = (long)size, off = 0;

  if (size < sizeof(struct inet_diag_bc_op) || size > BCM_MAX_PAYLOAD)
    return -EINVAL;
  while (len > 0) {
    /* The kernel would read this header past the program; whatever it
     * finds, yes >= 4 leaves len < 0 and the audit fails. */
    if (len < 4)
      return -EINVAL;
    struct inet_diag_bc_op op = op_at(bc, off);
    long min = min_len(op.code);

    if (min == 0 || len < min)
      return -EINVAL;
    /* NOP is always true, so its `no` is never taken and not checked. */
    if (op.code != INET_DIAG_BC_NOP) {
      if (op.no < min || op.no > len + 4 || op.no % 4 != 0)
        return -EINVAL;
      /* no == len is accept, no == len + 4 is reject; anything shorter
       * must land on an op the audit walks over. */
      if (op.no < len && !on_yes_chain(bc, total, len - op.no))
        return -EINVAL;
    }
    if (op.yes < min || op.yes > len + 4 || op.yes % 4 != 0)
      return -EINVAL;
    off += op.yes;
    len -= op.yes;
  }
  return len == 0 ? 0 : -EINVAL;
}

int bcm_run(const uint8_t *bc, size_t size, uint16_t sport, uint16_t dport,
            unsigned *ops_executed) {
  long len = (long)size, off = 0;
  unsigned n = 0;
  int accepted = 0;

  while (len > 0) {
    long min = len >= 4 ? min_len(bc[off]) : 0;

    /* Unknown op, or one that would read past the program: cannot happen
     * after bcm_audit(); report a reject rather than read out of bounds. */
    if (min == 0 || len < min)
      goto out;
    struct inet_diag_bc_op op = op_at(bc, off);
    uint16_t port = min == 8 ? op_at(bc, off + 4).no : 0;
    int yes = 1;

    switch (op.code) {
    case INET_DIAG_BC_NOP:
      break;
    case INET_DIAG_BC_JMP: /* never true: always takes `no` */
      yes = 0;
      break;
    case INET_DIAG_BC_S_GE:
      yes = sport >= port;
      break;
    case INET_DIAG_BC_S_LE:
      yes = sport <= port;
      break;
    case INET_DIAG_BC_S_EQ:
      yes = sport == port;
      break;
    case INET_DIAG_BC_D_GE:
      yes = dport >= port;
      break;
    case INET_DIAG_BC_D_LE:
      yes = dport <= port;
      break;
    case INET_DIAG_BC_D_EQ:
      yes = dport == port;
      break;
    }
    n++;
    long step = yes ? op.yes : op.no;
    /* A zero step would loop forever; the audit forbids it. */
    if (step == 0)
      goto out;
    off += step;
    len -= step;
  }
  /* Landing past the end (normally end + 4) is a reject. */
  accepted = len == 0;
out:
  if (ops_executed != NULL)
    *ops_executed = n;
  return accepted;
}

int bcm_compile_ports(const uint16_t *local, size_t nlocal,
                      const uint16_t *remote, size_t nremote, unsigned flags,
                      uint8_t *out, size_t cap, size_t *len) {
  struct bc_range *r = malloc((nlocal + nremote + 1) * sizeof(*r));
  int err;

  if (r == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < nlocal; i++)
    r[i] = (struct bc_range){local[i], local[i]};
  for (size_t i = 0; i < nremote; i++)
    r[nlocal + i] = (struct bc_range){remote[i], remote[i]};
  err = bc_compile(r, nlocal, r + nlocal, nremote, flags, out, cap, len);
  free(r);
  return err;
}
