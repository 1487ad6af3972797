/* SPDX-License-Identifier: MIT */
#include "bc_model.h"

#include "bytecode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* The op plus its operand, or 0 for a code this model does not know or
 * an operand that does not fit the len bytes left: the kernel's min_len
 * with valid_hostcond() and valid_port_comparison(). */
static long min_len(const uint8_t *bc, long off, long len) {
  struct inet_diag_hostcond cond;
  long min = 4, addr_len;

  switch (bc[off]) {
  case INET_DIAG_BC_NOP:
  case INET_DIAG_BC_JMP:
    return min;
  case INET_DIAG_BC_S_GE:
  case INET_DIAG_BC_S_LE:
  case INET_DIAG_BC_D_GE:
  case INET_DIAG_BC_D_LE:
  case INET_DIAG_BC_S_EQ:
  case INET_DIAG_BC_D_EQ:
    min += 4; /* the port sits in a second op header */
    return len < min ? 0 : min;
  case INET_DIAG_BC_S_COND:
  case INET_DIAG_BC_D_COND:
    /* valid_hostcond(): the hostcond first, then the address its family
     * says, then the prefix within that address. */
    min += (long)sizeof(cond);
    if (len < min)
      return 0;
    memcpy(&cond, bc + off + 4, sizeof(cond));
    switch (cond.family) {
    case AF_UNSPEC:
      addr_len = 0;
      break;
    case AF_INET:
      addr_len = 4;
      break;
    case AF_INET6:
      addr_len = 16;
      break;
    default:
      return 0;
    }
    min += addr_len;
    if (len < min || cond.prefix_len > 8 * addr_len)
      return 0;
    return min;
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
    long min = min_len(bc, off, len);

    if (min == 0)
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

/* The kernel's bitstring_match(): the first bits bits of a1 and a2 are
 * equal (whole 32-bit words, then a masked one). */
static int bitstring_match(const uint8_t *a1, const uint8_t *a2, int bits) {
  int words = bits >> 5;

  bits &= 0x1f;
  if (words && memcmp(a1, a2, (size_t)words * 4) != 0)
    return 0;
  if (bits) {
    uint32_t w1, w2, mask = htonl(0xffffffffu << (32 - bits));

    memcpy(&w1, a1 + words * 4, 4);
    memcpy(&w2, a2 + words * 4, 4);
    if ((w1 ^ w2) & mask)
      return 0;
  }
  return 1;
}

/* S_COND/D_COND as inet_diag_bc_run() evaluates them. */
static int host_cond(const uint8_t *bc, long off, int is_src,
                     const struct bcm_sock *s) {
  struct inet_diag_hostcond cond;
  const uint8_t *caddr = bc + off + 4 + sizeof(cond);
  const uint8_t *addr = is_src ? s->src : s->dst;
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

  memcpy(&cond, bc + off + 4, sizeof(cond));
  if (cond.port != -1 && cond.port != (is_src ? s->sport : s->dport))
    return 0;
  if (cond.family != AF_UNSPEC && cond.family != s->family) {
    /* An IPv4 condition on an IPv4-mapped address of an IPv6 socket. */
    return s->family == AF_INET6 && cond.family == AF_INET &&
           memcmp(addr, mapped, sizeof(mapped)) == 0 &&
           bitstring_match(addr + 12, caddr, cond.prefix_len);
  }
  if (cond.prefix_len == 0)
    return 1;
  return bitstring_match(addr, caddr, cond.prefix_len);
}

int bcm_run_sock(const uint8_t *bc, size_t size, const struct bcm_sock *s,
                 unsigned *ops_executed) {
  long len = (long)size, off = 0;
  unsigned n = 0;
  int accepted = 0;

  while (len > 0) {
    long min = len >= 4 ? min_len(bc, off, len) : 0;

    /* Unknown op, or one that would read past the program: cannot happen
     * after bcm_audit(); report a reject rather than read out of bounds. */
    if (min == 0)
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
      yes = s->sport >= port;
      break;
    case INET_DIAG_BC_S_LE:
      yes = s->sport <= port;
      break;
    case INET_DIAG_BC_S_EQ:
      yes = s->sport == port;
      break;
    case INET_DIAG_BC_D_GE:
      yes = s->dport >= port;
      break;
    case INET_DIAG_BC_D_LE:
      yes = s->dport <= port;
      break;
    case INET_DIAG_BC_D_EQ:
      yes = s->dport == port;
      break;
    case INET_DIAG_BC_S_COND:
    case INET_DIAG_BC_D_COND:
      yes = host_cond(bc, off, op.code == INET_DIAG_BC_S_COND, s);
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

int bcm_run(const uint8_t *bc, size_t size, uint16_t sport, uint16_t dport,
            unsigned *ops_executed) {
  struct bcm_sock s = {.family = AF_INET, .sport = sport, .dport = dport};

  return bcm_run_sock(bc, size, &s, ops_executed);
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

static bool ref_bits(const uint8_t *a, const uint8_t *b, unsigned bits) {
  for (unsigned i = 0; i < bits; i++)
    if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
      return false;
  return true;
}

static bool ref_host(const struct bc_host *h, const struct bcm_sock *s,
                     const uint8_t *addr) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

  if (h->family == s->family)
    return ref_bits(addr, h->addr, h->prefix_len);
  return h->family == AF_INET && s->family == AF_INET6 &&
         memcmp(addr, mapped, 12) == 0 &&
         ref_bits(addr + 12, h->addr, h->prefix_len);
}

bool bcm_ref_ports(const struct bc_range *r, size_t n, uint16_t p) {
  for (size_t i = 0; i < n; i++)
    if (p >= r[i].lo && p <= r[i].hi)
      return true;
  return false;
}

bool bcm_ref_hosts(const struct bc_host *h, size_t n, const struct bcm_sock *s,
                   const uint8_t *addr) {
  for (size_t i = 0; i < n; i++)
    if (ref_host(&h[i], s, addr))
      return true;
  return false;
}
