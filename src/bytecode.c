/* SPDX-License-Identifier: MIT */
#include "bytecode.h"

#include <errno.h>
#include <linux/inet_diag.h>
#include <stdbool.h>
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

/* One op: code, yes = own length, no = jump to target; port ops carry the
 * port in the `no` field of a second op header. */
static void emit_op(struct bc_asm *a, uint8_t code, bool has_port,
                    uint16_t port, struct bc_label no) {
  size_t oplen = has_port ? 8 : 4;

  if (a->emit) {
    struct inet_diag_bc_op op;
    size_t off = target_pos(a, no) - a->pos;

    if (a->pos + oplen > a->cap || off > UINT16_MAX) {
      a->overflow = true;
    } else {
      op.code = code;
      op.yes = (uint8_t)oplen;
      op.no = (uint16_t)off;
      memcpy(a->out + a->pos, &op, sizeof(op));
      if (has_port) {
        struct inet_diag_bc_op arg = {.code = 0, .yes = 0, .no = port};
        memcpy(a->out + a->pos + 4, &arg, sizeof(arg));
      }
    }
  }
  a->pos += oplen;
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

/* Code that jumps to accept if the port is in one of r[0..n), else to
 * fail. It never falls through past its end. */
static void emit_tree(struct bc_asm *a, const struct bc_dir_ops *d,
                      const struct bc_range *r, size_t n, unsigned flags,
                      struct bc_label fail) {
  const struct bc_label accept = {T_ACCEPT, 0};

  if (n <= BC_LEAF_RANGES) {
    for (size_t i = 0; i < n; i++) {
      struct bc_label next = fail;

      if (i + 1 < n)
        next = (struct bc_label){T_LABEL, new_label(a)};
      emit_range_test(a, d, r[i], flags, next);
      emit_op(a, INET_DIAG_BC_JMP, false, 0, accept);
      if (i + 1 < n)
        place_label(a, next.id);
    }
    return;
  }

  size_t half = n / 2;
  struct bc_label right = {T_LABEL, new_label(a)};

  /* true: port <= last port of the left half -> left subtree follows. */
  emit_op(a, d->le, true, r[half - 1].hi, right);
  emit_tree(a, d, r, half, flags, fail);
  place_label(a, right.id);
  emit_tree(a, d, r + half, n - half, flags, fail);
}

static void generate(struct bc_asm *a, const struct bc_range *lr, size_t nl,
                     const struct bc_range *rr, size_t nr, unsigned flags) {
  const struct bc_label reject = {T_REJECT, 0};

  a->pos = 0;
  a->nlabels = 0;
  if (nl > 0) {
    struct bc_label fail = reject;

    if (nr > 0)
      fail = (struct bc_label){T_LABEL, new_label(a)};
    emit_tree(a, &src_ops, lr, nl, flags, fail);
    if (nr > 0)
      place_label(a, fail.id);
  }
  if (nr > 0)
    emit_tree(a, &dst_ops, rr, nr, flags, reject);
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

static int compile(struct bc_range *lr, size_t nl, struct bc_range *rr,
                   size_t nr, unsigned flags, uint8_t *out, size_t cap,
                   size_t *len) {
  struct bc_asm a = {.out = out, .cap = cap};
  int ret = -E2BIG;

  if (nl == 0 && nr == 0)
    return -EINVAL;
  /* A tree over n ranges uses fewer than 2n labels. */
  a.max_labels = 2 * (nl + nr) + 2;
  a.label_pos = malloc(a.max_labels * sizeof(*a.label_pos));
  if (a.label_pos == NULL)
    return -ENOMEM;
  generate(&a, lr, nl, rr, nr, flags); /* pass 1: sizes and labels */
  if (a.overflow || a.pos > BC_MAX_LEN || a.pos > cap)
    goto out;
  a.end = a.pos;
  a.emit = true;
  generate(&a, lr, nl, rr, nr, flags); /* pass 2: bytes */
  if (a.overflow)
    goto out;
  *len = a.end;
  ret = 0;
out:
  free(a.label_pos);
  return ret;
}

int bc_compile(const struct bc_range *local, size_t nlocal,
               const struct bc_range *remote, size_t nremote, unsigned flags,
               uint8_t *out, size_t cap, size_t *len) {
  struct bc_range *r;
  size_t nl, nr;
  int ret;

  if (nlocal == 0 && nremote == 0)
    return -EINVAL;
  r = malloc((nlocal + nremote) * sizeof(*r));
  if (r == NULL)
    return -ENOMEM;
  if (nlocal)
    memcpy(r, local, nlocal * sizeof(*r));
  if (nremote)
    memcpy(r + nlocal, remote, nremote * sizeof(*r));
  nl = normalize(r, nlocal);
  memmove(r + nl, r + nlocal, nremote * sizeof(*r));
  nr = normalize(r + nl, nremote);
  ret = compile(r, nl, r + nl, nr, flags, out, cap, len);
  free(r);
  return ret;
}
