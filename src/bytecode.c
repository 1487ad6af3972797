/* SPDX-License-Identifier: MIT */
#include "bytecode.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* Leaves test at most this many ranges one after another; below it a
 * split costs as much as the tests it saves. */
#define BC_LEAF_RANGES 3

enum bc_target { T_LABEL, T_ACCEPT, T_REJECT };

struct bc_label {
  enum bc_target kind;
  unsigned id; /* for T_LABEL */
};

/* Code is emitted in two passes over the same generator: the first only
 * records label positions, the second writes bytes with resolved jumps. */
struct bc_asm {
  uint8_t *out;
  size_t cap;
  size_t pos;        /* current offset */
  size_t *label_pos; /* per label id */
  size_t nlabels;
  size_t max_labels;
  size_t end; /* program length, known in the second pass */
  bool emit;  /* second pass */
  bool overflow;
};

static unsigned new_label(struct bc_asm *a) {
  unsigned id = (unsigned)a->nlabels;
  if (a->nlabels < a->max_labels)
    a->nlabels++;
  else
    a->overflow = true;
  return id;
}

static void place_label(struct bc_asm *a, unsigned id) {
  if (!a->emit && id < a->max_labels)
    a->label_pos[id] = a->pos;
}

static size_t target_pos(const struct bc_asm *a, struct bc_label t) {
  switch (t.kind) {
  case T_ACCEPT:
    return a->end;
  case T_REJECT:
    return a->end + 4;
  case T_LABEL:
  default:
    return t.id < a->max_labels ? a->label_pos[t.id] : a->end + 4;
  }
}

/* The header of an op of oplen bytes: code, yes = oplen, no = the jump to
 * target. Advances pos; when emitting, writes the header and returns where
 * the op's operand goes, else (measuring, or out of room: then overflow)
 * NULL. */
static uint8_t *put_op(struct bc_asm *a, uint8_t code, size_t oplen,
                       struct bc_label target) {
  uint8_t *operand = NULL;

  if (a->emit) {
    size_t off = target_pos(a, target) - a->pos;

    if (a->pos + oplen > a->cap || off > UINT16_MAX) {
      a->overflow = true;
    } else {
      struct inet_diag_bc_op op = {
          .code = code, .yes = (uint8_t)oplen, .no = (uint16_t)off};

      memcpy(a->out + a->pos, &op, sizeof(op));
      operand = a->out + a->pos + sizeof(op);
    }
  }
  a->pos += oplen;
  return operand;
}

/* One op, false -> no; port ops carry the port in the `no` field of a
 * second op header. */
static void emit_op(struct bc_asm *a, uint8_t code, bool has_port,
                    uint16_t port, struct bc_label no) {
  uint8_t *operand = put_op(a, code, has_port ? 8 : 4, no);

  if (operand != NULL && has_port) {
    struct inet_diag_bc_op arg = {.code = 0, .yes = 0, .no = port};

    memcpy(operand, &arg, sizeof(arg));
  }
}

struct bc_dir_ops {
  uint8_t ge, le, eq;
};

static const struct bc_dir_ops src_ops = {INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE,
                                          INET_DIAG_BC_S_EQ};
static const struct bc_dir_ops dst_ops = {INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE,
                                          INET_DIAG_BC_D_EQ};

/* "port in [lo,hi]", false -> fail. */
static void emit_range_test(struct bc_asm *a, const struct bc_dir_ops *d,
                            struct bc_range r, unsigned flags,
                            struct bc_label fail) {
  if (r.lo == r.hi && !(flags & BC_NO_EQ)) {
    emit_op(a, d->eq, true, r.lo, fail);
    return;
  }
  emit_op(a, d->ge, true, r.lo, fail);
  emit_op(a, d->le, true, r.hi, fail);
}

/* Code that jumps to ok if the port is in one of r[0..n), else to fail.
 * It never falls through past its end, except with at_end (ok is the
 * position right after this code): the last test then falls through
 * instead of jumping there. */
static void emit_tree(struct bc_asm *a, const struct bc_dir_ops *d,
                      const struct bc_range *r, size_t n, unsigned flags,
                      struct bc_label ok, struct bc_label fail, bool at_end) {
  if (n <= BC_LEAF_RANGES) {
    for (size_t i = 0; i < n; i++) {
      struct bc_label next = fail;

      if (i + 1 < n)
        next = (struct bc_label){T_LABEL, new_label(a)};
      emit_range_test(a, d, r[i], flags, next);
      if (!(at_end && i + 1 == n))
        emit_op(a, INET_DIAG_BC_JMP, false, 0, ok);
      if (i + 1 < n)
        place_label(a, next.id);
    }
    return;
  }

  size_t half = n / 2;
  struct bc_label right = {T_LABEL, new_label(a)};

  /* true: port <= last port of the left half -> left subtree follows. */
  emit_op(a, d->le, true, r[half - 1].hi, right);
  emit_tree(a, d, r, half, flags, ok, fail, false);
  place_label(a, right.id);
  emit_tree(a, d, r + half, n - half, flags, ok, fail, at_end);
}

size_t bc_host_len(const struct bc_host *h) {
  return sizeof(struct inet_diag_bc_op) + sizeof(struct inet_diag_hostcond) +
         (h->family == AF_INET6 ? 16 : 4);
}

/* One S_COND/D_COND: address and prefix, any port (-1); false -> fail. */
static void emit_host(struct bc_asm *a, uint8_t code, const struct bc_host *h,
                      struct bc_label fail) {
  uint8_t *operand = put_op(a, code, bc_host_len(h), fail);
  struct inet_diag_hostcond cond;

  if (operand == NULL)
    return;
  memset(&cond, 0, sizeof(cond)); /* the padding too: programs compare */
  cond.family = h->family;
  cond.prefix_len = h->prefix_len;
  cond.port = -1;
  memcpy(operand, &cond, sizeof(cond));
  memcpy(operand + sizeof(cond), h->addr, h->family == AF_INET6 ? 16 : 4);
}

/* An OR of host conditions: jumps to ok on the first that holds, else to
 * fail; with at_end the last one falls through to ok instead. */
static void emit_hosts(struct bc_asm *a, uint8_t code, const struct bc_host *h,
                       size_t n, struct bc_label ok, struct bc_label fail,
                       bool at_end) {
  for (size_t i = 0; i < n; i++) {
    struct bc_label next = fail;

    if (i + 1 < n)
      next = (struct bc_label){T_LABEL, new_label(a)};
    emit_host(a, code, &h[i], next);
    if (!(at_end && i + 1 == n))
      emit_op(a, INET_DIAG_BC_JMP, false, 0, ok);
    if (i + 1 < n)
      place_label(a, next.id);
  }
}

/* A term: its groups in a row, each one's success falling through to the
 * next, the last one's accepting; any failure goes to fail. */
static void emit_term(struct bc_asm *a, const struct bc_term *t, unsigned flags,
                      struct bc_label fail) {
  const struct bc_label accept = {T_ACCEPT, 0};
  size_t ngroups =
      (t->nlocal > 0) + (t->nremote > 0) + (t->nsrc > 0) + (t->ndst > 0);
  size_t g = 0;

  for (int k = 0; k < 4; k++) {
    size_t n = k == 0   ? t->nlocal
               : k == 1 ? t->nremote
               : k == 2 ? t->nsrc
                        : t->ndst;
    bool last;
    struct bc_label ok = accept;

    if (n == 0)
      continue;
    last = ++g == ngroups;
    if (!last)
      ok = (struct bc_label){T_LABEL, new_label(a)};
    switch (k) {
    case 0:
      emit_tree(a, &src_ops, t->local, n, flags, ok, fail, !last);
      break;
    case 1:
      emit_tree(a, &dst_ops, t->remote, n, flags, ok, fail, !last);
      break;
    case 2:
      emit_hosts(a, INET_DIAG_BC_S_COND, t->src, n, ok, fail, !last);
      break;
    default:
      emit_hosts(a, INET_DIAG_BC_D_COND, t->dst, n, ok, fail, !last);
      break;
    }
    if (!last)
      place_label(a, ok.id);
  }
}

/* The port sets (their tree accepts or falls to the first term), then
 * the terms (each falls to the next; the last one's failure rejects). */
static void generate(struct bc_asm *a, const struct bc_range *lr, size_t nl,
                     const struct bc_range *rr, size_t nr,
                     const struct bc_term *terms, size_t nterms,
                     unsigned flags) {
  const struct bc_label accept = {T_ACCEPT, 0};
  const struct bc_label reject = {T_REJECT, 0};
  struct bc_label next = reject;

  a->pos = 0;
  a->nlabels = 0;
  if (nterms > 0)
    next = (struct bc_label){T_LABEL, new_label(a)};
  if (nl > 0) {
    struct bc_label fail = next;

    if (nr > 0)
      fail = (struct bc_label){T_LABEL, new_label(a)};
    emit_tree(a, &src_ops, lr, nl, flags, accept, fail, false);
    if (nr > 0)
      place_label(a, fail.id);
  }
  if (nr > 0)
    emit_tree(a, &dst_ops, rr, nr, flags, accept, next, false);
  for (size_t i = 0; i < nterms; i++) {
    struct bc_label here = next;

    next = reject;
    if (i + 1 < nterms)
      next = (struct bc_label){T_LABEL, new_label(a)};
    place_label(a, here.id);
    emit_term(a, &terms[i], flags, next);
  }
}

static int cmp_range(const void *a, const void *b) {
  const struct bc_range *x = a, *y = b;
  return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1)
                        : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

/* Sorts and merges overlapping or adjacent ranges in place. */
static size_t normalize(struct bc_range *r, size_t n) {
  size_t out = 0;

  qsort(r, n, sizeof(*r), cmp_range);
  for (size_t i = 0; i < n; i++) {
    if (out > 0 && (uint32_t)r[i].lo <= (uint32_t)r[out - 1].hi + 1) {
      if (r[i].hi > r[out - 1].hi)
        r[out - 1].hi = r[i].hi;
    } else {
      r[out++] = r[i];
    }
  }
  return out;
}

static size_t term_members(const struct bc_term *t) {
  return t->nlocal + t->nremote + t->nsrc + t->ndst;
}

static int compile(struct bc_range *lr, size_t nl, struct bc_range *rr,
                   size_t nr, const struct bc_term *terms, size_t nterms,
                   unsigned flags, uint8_t *out, size_t cap, size_t *len) {
  struct bc_asm a = {.out = out, .cap = cap};
  int ret = -E2BIG;

  if (nl == 0 && nr == 0 && nterms == 0)
    return -EINVAL;
  /* A tree over n ranges uses fewer than 2n labels; a term one per
   * member, one per group and one for its start. */
  a.max_labels = 2 * (nl + nr) + 2;
  for (size_t i = 0; i < nterms; i++)
    a.max_labels += 2 * term_members(&terms[i]) + 6;
  a.label_pos = malloc(a.max_labels * sizeof(*a.label_pos));
  if (a.label_pos == NULL)
    return -ENOMEM;
  /* pass 1: sizes and labels */
  generate(&a, lr, nl, rr, nr, terms, nterms, flags);
  if (a.overflow || a.pos > BC_MAX_LEN || a.pos > cap)
    goto out;
  a.end = a.pos;
  a.emit = true;
  generate(&a, lr, nl, rr, nr, terms, nterms, flags); /* pass 2: bytes */
  if (a.overflow)
    goto out;
  *len = a.end;
  ret = 0;
out:
  free(a.label_pos);
  return ret;
}

static bool host_valid(const struct bc_host *h) {
  return (h->family == AF_INET && h->prefix_len <= 32) ||
         (h->family == AF_INET6 && h->prefix_len <= 128);
}

/* Copies n ranges to dst, sorted and merged; returns how many remain. */
static size_t copy_normalized(struct bc_range *dst, const struct bc_range *src,
                              size_t n) {
  if (n == 0)
    return 0;
  memcpy(dst, src, n * sizeof(*dst));
  return normalize(dst, n);
}

int bc_compile_filter(const struct bc_filter *f, unsigned flags, uint8_t *out,
                      size_t cap, size_t *len) {
  size_t total = f->nlocal + f->nremote, used, nl, nr;
  struct bc_range *r;
  struct bc_term *terms = NULL;
  int ret;

  if (total == 0 && f->nterms == 0)
    return -EINVAL;
  for (size_t i = 0; i < f->nterms; i++) {
    const struct bc_term *t = &f->terms[i];

    if (term_members(t) == 0)
      return -EINVAL;
    for (size_t k = 0; k < t->nsrc; k++)
      if (!host_valid(&t->src[k]))
        return -EINVAL;
    for (size_t k = 0; k < t->ndst; k++)
      if (!host_valid(&t->dst[k]))
        return -EINVAL;
    total += t->nlocal + t->nremote;
  }
  r = malloc((total + 1) * sizeof(*r));
  if (f->nterms > 0)
    terms = malloc(f->nterms * sizeof(*terms));
  if (r == NULL || (f->nterms > 0 && terms == NULL)) {
    free(r);
    free(terms);
    return -ENOMEM;
  }
  nl = copy_normalized(r, f->local, f->nlocal);
  nr = copy_normalized(r + nl, f->remote, f->nremote);
  used = nl + nr;
  for (size_t i = 0; i < f->nterms; i++) {
    terms[i] = f->terms[i];
    terms[i].local = r + used;
    terms[i].nlocal =
        copy_normalized(r + used, f->terms[i].local, f->terms[i].nlocal);
    used += terms[i].nlocal;
    terms[i].remote = r + used;
    terms[i].nremote =
        copy_normalized(r + used, f->terms[i].remote, f->terms[i].nremote);
    used += terms[i].nremote;
  }
  ret = compile(r, nl, r + nl, nr, terms, f->nterms, flags, out, cap, len);
  free(terms);
  free(r);
  return ret;
}

int bc_compile(const struct bc_range *local, size_t nlocal,
               const struct bc_range *remote, size_t nremote, unsigned flags,
               uint8_t *out, size_t cap, size_t *len) {
  struct bc_filter f = {
      .local = local, .nlocal = nlocal, .remote = remote, .nremote = nremote};

  return bc_compile_filter(&f, flags, out, cap, len);
}
