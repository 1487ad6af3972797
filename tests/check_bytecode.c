/* SPDX-License-Identifier: MIT */
/* bc_compile(): every program it emits must pass the kernel's audit and
 * give, for every socket, the same verdict as set membership, in a number
 * of ops logarithmic in the number of ports. Checked through the
 * user-space model of the kernel in bc_model.c. */
#include "bc_model.h"
#include "bytecode.h"

#include <check.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPORTS 65536
#define MAX_SET 256

/* A port set both as the sorted list bcm_compile_ports() takes and as a
 * membership table for the expected verdicts. */
struct pset {
  size_t n;
  uint16_t p[NPORTS];
  bool in[NPORTS];
};

static struct pset set_a, set_b;
static uint8_t prog[BC_MAX_LEN + 64];

/* splitmix64 with a fixed seed per case: runs are reproducible and do not
 * depend on the libc's rand(). */
static uint64_t rng_state;

static void rng_seed(uint64_t a, uint64_t b, uint64_t c) {
  rng_state = 0x9e3779b97f4a7c15u ^ (a << 40) ^ (b << 20) ^ c;
}

static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

static uint32_t rnd_below(uint32_t n) {
  return (uint32_t)(rnd() % n);
}

static void set_clear(struct pset *s) {
  memset(s->in, 0, sizeof(s->in));
  s->n = 0;
}

/* Adds a port to the table only; set_finish() builds the sorted list. */
static void set_add(struct pset *s, uint32_t port, size_t *count) {
  if (port < NPORTS && !s->in[port]) {
    s->in[port] = true;
    (*count)++;
  }
}

static void set_finish(struct pset *s) {
  s->n = 0;
  for (uint32_t p = 0; p < NPORTS; p++)
    if (s->in[p])
      s->p[s->n++] = (uint16_t)p;
}

static size_t count_ranges(const struct pset *s) {
  size_t r = 0;

  for (size_t i = 0; i < s->n; i++)
    if (i == 0 || s->p[i] != s->p[i - 1] + 1)
      r++;
  return r;
}

enum kind { K_RANDOM, K_RUNS, K_EDGES, NKINDS };
static const char *const kind_name[NKINDS] = {"random", "runs", "edges"};

/* n ports in 1..65535 of the given kind. */
static void gen_set(struct pset *s, enum kind kind, size_t n) {
  size_t count = 0;

  set_clear(s);
  switch (kind) {
  case K_RANDOM:
    break;
  case K_RUNS: {
    /* Runs of 1..8 consecutive ports with gaps of at least one port. */
    uint32_t p = 1 + rnd_below(1000);
    while (count < n) {
      uint32_t run = 1 + rnd_below(8);
      for (uint32_t j = 0; j < run && count < n; j++)
        set_add(s, p++, &count);
      p += 1 + rnd_below(200);
      if (p >= NPORTS)
        p = 1 + rnd_below(1000);
    }
    break;
  }
  case K_EDGES:
    /* The extremes: 65535 (where a range cannot grow) and 1, and for
     * larger sets runs touching both ends. */
    set_add(s, 65535, &count);
    if (n >= 2)
      set_add(s, 1, &count);
    for (uint32_t j = 0; n >= 8 && j < 2; j++) {
      set_add(s, 2 + j, &count);
      set_add(s, 65534 - j, &count);
    }
    break;
  default:
    break;
  }
  while (count < n)
    set_add(s, 1 + rnd_below(65535), &count);
  set_finish(s);
}

/* Any port, biased to where verdicts change: members, their neighbours
 * and the extremes. */
static uint16_t pick_port(const struct pset *s) {
  static const uint16_t edges[] = {0, 1, 2, 65534, 65535};

  switch (rnd_below(4)) {
  case 0:
    return s->n ? s->p[rnd_below((uint32_t)s->n)] : 0;
  case 1:
    return (uint16_t)((s->n ? s->p[rnd_below((uint32_t)s->n)] : 0) +
                      (rnd_below(2) ? 1 : -1));
  case 2:
    return edges[rnd_below(sizeof(edges) / sizeof(edges[0]))];
  default:
    return (uint16_t)rnd_below(NPORTS);
  }
}

static unsigned ceil_log2(size_t x) {
  unsigned k = 0;

  while (((size_t)1 << k) < x)
    k++;
  return k;
}

/* Most ops one tree over r ranges may execute. Leaves test at most 3
 * ranges; above them each level is one S_LE/D_LE split halving the ranges,
 * so a path meets ceil(log2(ceil(r/3))) splits. A leaf costs at most 7:
 * two failed range tests (GE true, LE false) and GE, LE, JMP for the
 * third. Both directions: a failed walk of the local tree then a walk of
 * the remote tree, so about 2*log2(n) + 14 in all. */
static unsigned tree_bound(size_t ranges) {
  return ranges == 0 ? 0 : ceil_log2((ranges + 2) / 3) + 7;
}

static const unsigned flag_sets[] = {0, BC_NO_EQ};

static size_t compile_ok(const struct pset *l, const struct pset *r,
                         unsigned flags) {
  size_t len = 0;
  int err = bcm_compile_ports(l ? l->p : NULL, l ? l->n : 0, r ? r->p : NULL,
                              r ? r->n : 0, flags, prog, BC_MAX_LEN, &len);

  ck_assert_msg(err == 0, "bc_compile: %d (local %zu, remote %zu ports)", err,
                l ? l->n : 0, r ? r->n : 0);
  ck_assert_uint_ge(len, 4);
  ck_assert_uint_le(len, BC_MAX_LEN);
  ck_assert_msg(bcm_audit(prog, len) == 0,
                "audit rejects %zu-byte program (local %zu, remote %zu, "
                "flags %u)",
                len, l ? l->n : 0, r ? r->n : 0, flags);
  return len;
}

/* Every port 0..65535 through a one-direction program; returns the most
 * ops any port took. The other port varies so it is shown not to matter. */
static unsigned sweep_one(size_t len, const struct pset *s, bool local,
                          const char *what) {
  unsigned worst = 0;

  for (uint32_t port = 0; port < NPORTS; port++) {
    uint16_t other = (uint16_t)(port * 40503u + 7);
    unsigned ops;
    int got = local ? bcm_run(prog, len, (uint16_t)port, other, &ops)
                    : bcm_run(prog, len, other, (uint16_t)port, &ops);

    /* No ck_assert in the hot loop: Check records a mark per assert. */
    if (got != (int)s->in[port])
      ck_abort_msg("%s: %s port %u: verdict %d, member %d", what,
                   local ? "local" : "remote", port, got, s->in[port]);
    if (ops > worst)
      worst = ops;
  }
  return worst;
}

/* Sampled (sport, dport) pairs through a two-direction program. */
static unsigned sweep_pairs(size_t len, const struct pset *l,
                            const struct pset *r, unsigned npairs,
                            const char *what) {
  unsigned worst = 0;

  for (unsigned i = 0; i < npairs; i++) {
    uint16_t sp = pick_port(rnd_below(2) ? l : r);
    uint16_t dp = pick_port(rnd_below(2) ? r : l);
    unsigned ops;
    int got = bcm_run(prog, len, sp, dp, &ops);

    if (got != (int)(l->in[sp] || r->in[dp]))
      ck_abort_msg("%s: sport %u dport %u: verdict %d, expected %d", what, sp,
                   dp, got, l->in[sp] || r->in[dp]);
    if (ops > worst)
      worst = ops;
  }
  return worst;
}

/* Loop index: kind * 2 + direction (0 local, 1 remote). */
START_TEST(one_direction_all_sizes_all_ports) {
  enum kind kind = (enum kind)(_i / 2);
  bool local = _i % 2 == 0;

  for (size_t n = 1; n <= MAX_SET; n++) {
    rng_seed(1 + (uint64_t)kind, local, n);
    gen_set(&set_a, kind, n);
    for (size_t f = 0; f < 2; f++) {
      char what[96];
      size_t len = local ? compile_ok(&set_a, NULL, flag_sets[f])
                         : compile_ok(NULL, &set_a, flag_sets[f]);
      unsigned worst;

      snprintf(what, sizeof(what), "%s n=%zu flags=%u", kind_name[kind], n,
               flag_sets[f]);
      worst = sweep_one(len, &set_a, local, what);
      ck_assert_msg(worst <= tree_bound(count_ranges(&set_a)),
                    "%s: %u ops, bound %u", what, worst,
                    tree_bound(count_ranges(&set_a)));
    }
  }
}
END_TEST

/* Loop index: kind of the local set; the remote set is of the next kind
 * and of another size, or the same set (as "port in L" configs do). */
START_TEST(both_directions_all_sizes_sampled) {
  enum kind kind = (enum kind)_i;

  for (size_t n = 1; n <= MAX_SET; n++) {
    rng_seed(100 + (uint64_t)kind, 0, n);
    gen_set(&set_a, kind, n);
    if (n % 4 == 0)
      memcpy(&set_b, &set_a, sizeof(set_b));
    else
      gen_set(&set_b, (enum kind)((kind + 1) % NKINDS), 1 + (n * 37) % MAX_SET);
    for (size_t f = 0; f < 2; f++) {
      char what[96];
      size_t len = compile_ok(&set_a, &set_b, flag_sets[f]);
      unsigned bound =
          tree_bound(count_ranges(&set_a)) + tree_bound(count_ranges(&set_b));
      unsigned worst;

      snprintf(what, sizeof(what), "both %s n=%zu/%zu flags=%u",
               kind_name[kind], set_a.n, set_b.n, flag_sets[f]);
      worst = sweep_pairs(len, &set_a, &set_b, 8192, what);
      ck_assert_msg(worst <= bound, "%s: %u ops, bound %u", what, worst, bound);
    }
  }
}
END_TEST

/* n scattered ports, never adjacent, so one range per port. */
static void scattered_set(struct pset *s, size_t n) {
  size_t count = 0;

  set_clear(s);
  while (count < n)
    set_add(s, 1 + 3 * rnd_below(21845), &count);
  set_finish(s);
}

/* 2000 scattered ports: the structural depth bound, taken as the exact
 * worst path. One tree over 2000 ranges: ceil(log2(ceil(2000/3))) = 10
 * splits + 7 leaf ops = 17. Both directions (1000 local + 1000 remote
 * ports; 2000 + 2000 would not fit BC_MAX_LEN): 2 * (9 + 7) = 32. A
 * linear OR chain would run thousands. */
START_TEST(depth_is_logarithmic_for_2000_ports) {
  rng_seed(7, 7, 2000);
  scattered_set(&set_a, 2000);
  ck_assert_uint_eq(count_ranges(&set_a), 2000);
  ck_assert_uint_eq(tree_bound(2000), 17);
  ck_assert_uint_eq(tree_bound(1000), 16);

  for (size_t f = 0; f < 2; f++) {
    unsigned flags = flag_sets[f];
    size_t len = compile_ok(&set_a, NULL, flags);

    ck_assert_uint_le(sweep_one(len, &set_a, true, "2000 local"), 17);
    len = compile_ok(NULL, &set_a, flags);
    ck_assert_uint_le(sweep_one(len, &set_a, false, "2000 remote"), 17);
  }

  rng_seed(7, 8, 1000);
  scattered_set(&set_a, 1000);
  scattered_set(&set_b, 1000);
  for (size_t f = 0; f < 2; f++) {
    size_t len = compile_ok(&set_a, &set_b, flag_sets[f]);
    unsigned worst = 0, worst_fail = 0, ops;
    uint16_t worst_sport = 0, miss = 0;

    while (set_b.in[miss])
      miss++;
    /* The sport walk (failing, to reach the remote tree) does not depend
     * on dport and the remote walk not on sport: the worst failing sport
     * followed by every dport is the worst path of all. */
    for (uint32_t sp = 0; sp < NPORTS; sp++) {
      if (set_a.in[sp])
        continue;
      if (bcm_run(prog, len, (uint16_t)sp, miss, &ops) != 0)
        ck_abort_msg("1000+1000: sport %u dport %u accepted", sp, miss);
      if (ops > worst_fail) {
        worst_fail = ops;
        worst_sport = (uint16_t)sp;
      }
    }
    for (uint32_t dp = 0; dp < NPORTS; dp++) {
      int got = bcm_run(prog, len, worst_sport, (uint16_t)dp, &ops);
      if (got != (int)set_b.in[dp])
        ck_abort_msg("1000+1000: dport %u verdict %d", dp, got);
      if (ops > worst)
        worst = ops;
    }
    ck_assert_uint_le(worst, 32);
    ck_assert_uint_le(worst, 2 * ceil_log2(1000) + 14);
  }
}
END_TEST

/* sock_diag.md §2: local port in {80,443} OR remote port in {80,443}. */
START_TEST(worked_example_80_443) {
  static const uint16_t ports[] = {80, 443};

  for (size_t f = 0; f < 2; f++) {
    size_t len = 0;

    ck_assert_int_eq(bcm_compile_ports(ports, 2, ports, 2, flag_sets[f], prog,
                                       BC_MAX_LEN, &len),
                     0);
    ck_assert_int_eq(bcm_audit(prog, len), 0);
    ck_assert_int_eq(bcm_run(prog, len, 80, 40000, NULL), 1);
    ck_assert_int_eq(bcm_run(prog, len, 443, 40000, NULL), 1);
    ck_assert_int_eq(bcm_run(prog, len, 40000, 80, NULL), 1);
    ck_assert_int_eq(bcm_run(prog, len, 40000, 443, NULL), 1);
    ck_assert_int_eq(bcm_run(prog, len, 443, 80, NULL), 1);
    ck_assert_int_eq(bcm_run(prog, len, 40000, 40001, NULL), 0);
    ck_assert_int_eq(bcm_run(prog, len, 81, 442, NULL), 0);
    ck_assert_int_eq(bcm_run(prog, len, 79, 444, NULL), 0);
    ck_assert_int_eq(bcm_run(prog, len, 0, 0, NULL), 0);
    ck_assert_int_eq(bcm_run(prog, len, 65535, 65535, NULL), 0);
    for (uint32_t p = 0; p < NPORTS; p++) {
      int member = p == 80 || p == 443;
      if (bcm_run(prog, len, (uint16_t)p, 1, NULL) != member ||
          bcm_run(prog, len, 1, (uint16_t)p, NULL) != member)
        ck_abort_msg("port %u flags %u", p, flag_sets[f]);
    }
  }
}
END_TEST

START_TEST(empty_filter_is_einval) {
  static const uint16_t ports[] = {80};
  size_t len = 12345;

  ck_assert_int_eq(
      bcm_compile_ports(NULL, 0, NULL, 0, 0, prog, BC_MAX_LEN, &len), -EINVAL);
  ck_assert_int_eq(
      bcm_compile_ports(ports, 0, ports, 0, BC_NO_EQ, prog, BC_MAX_LEN, &len),
      -EINVAL);
}
END_TEST

/* Every other port: 32768 one-port ranges, at least 12 bytes each. The
 * cap is far larger than BC_MAX_LEN so the limit itself is what fails. */
START_TEST(huge_scattered_set_is_e2big) {
  size_t big = (size_t)1 << 20, len = 0;
  uint8_t *out = malloc(big);
  size_t count = 0;

  ck_assert_ptr_nonnull(out);
  set_clear(&set_a);
  for (uint32_t p = 1; p < NPORTS; p += 2)
    set_add(&set_a, p, &count);
  set_finish(&set_a);
  ck_assert_uint_eq(set_a.n, 32768);
  for (size_t f = 0; f < 2; f++) {
    unsigned flags = flag_sets[f];
    ck_assert_int_eq(
        bcm_compile_ports(set_a.p, set_a.n, NULL, 0, flags, out, big, &len),
        -E2BIG);
    ck_assert_int_eq(
        bcm_compile_ports(NULL, 0, set_a.p, set_a.n, flags, out, big, &len),
        -E2BIG);
    ck_assert_int_eq(bcm_compile_ports(set_a.p, set_a.n, set_a.p, set_a.n,
                                       flags, out, big, &len),
                     -E2BIG);
  }
  free(out);
}
END_TEST

/* A small out buffer is -E2BIG, and nothing is written past cap. */
START_TEST(small_out_buffer_is_e2big) {
  static const uint16_t local[] = {22, 80, 443, 8080, 8081, 8082, 9000};
  static const uint16_t remote[] = {53, 3306, 5432, 6379, 65535};
  static uint8_t ref[1024], buf[1024 + 64];
  size_t len = 0, len2;

  ck_assert_int_eq(
      bcm_compile_ports(local, 7, remote, 5, BC_NO_EQ, ref, sizeof(ref), &len),
      0);
  ck_assert_int_eq(bcm_audit(ref, len), 0);
  ck_assert_uint_gt(len, 8);

  const size_t caps[] = {0, 1, 4, 8, len / 2, len - 4, len - 1};
  for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
    memset(buf, 0xa5, sizeof(buf));
    ck_assert_int_eq(
        bcm_compile_ports(local, 7, remote, 5, BC_NO_EQ, buf, caps[i], &len2),
        -E2BIG);
    for (size_t j = caps[i]; j < sizeof(buf); j++)
      ck_assert_msg(buf[j] == 0xa5, "cap %zu: byte %zu written", caps[i], j);
  }
  /* Exactly enough room works and gives the same program. */
  memset(buf, 0xa5, sizeof(buf));
  ck_assert_int_eq(
      bcm_compile_ports(local, 7, remote, 5, BC_NO_EQ, buf, len, &len2), 0);
  ck_assert_uint_eq(len2, len);
  ck_assert_mem_eq(buf, ref, len);
  ck_assert_uint_eq(buf[len], 0xa5);
}
END_TEST

/* The program travels in an nlattr whose u16 nla_len counts its 4-byte
 * header, so it can be at most 65531 bytes, 65528 as a multiple of 4.
 * Builds a local set whose program would be exactly 65532 bytes: odd r
 * one-port ranges (S_EQ + JMP, 12 bytes each, plus 8 per split) give
 * 4 mod 8; turning m ranges into two-port ones (S_GE + S_LE instead of
 * S_EQ) adds 8 bytes each without changing the tree. The compiler must
 * refuse it (-E2BIG) or emit something that fits. */
static void ranges_set(struct pset *s, size_t r, size_t m) {
  size_t count = 0;

  set_clear(s);
  for (size_t i = 0; i < r; i++) {
    set_add(s, 1 + 3 * (uint32_t)i, &count);
    if (i < m)
      set_add(s, 2 + 3 * (uint32_t)i, &count);
  }
  set_finish(s);
}

START_TEST(largest_programs_fit_the_attribute) {
  const size_t target = 65532, attr_max = UINT16_MAX - 4;
  size_t lo = 1, hi = 21845, len = 0;

  /* Largest r whose all-single program (flags 0) is at most target. */
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    ranges_set(&set_a, mid, 0);
    if (bcm_compile_ports(set_a.p, set_a.n, NULL, 0, 0, prog, sizeof(prog),
                          &len) == 0 &&
        len <= target)
      lo = mid;
    else
      hi = mid - 1;
  }
  ck_assert_uint_gt(lo, 1000);

  bool tried = false;
  for (size_t r = lo; r > lo - 64 && !tried; r--) {
    size_t base;

    ranges_set(&set_a, r, 0);
    if (bcm_compile_ports(set_a.p, set_a.n, NULL, 0, 0, prog, sizeof(prog),
                          &base) != 0)
      continue;
    if (base > target || (target - base) % 8 != 0 || (target - base) / 8 > r)
      continue;
    ranges_set(&set_a, r, (target - base) / 8);
    int err = bcm_compile_ports(set_a.p, set_a.n, NULL, 0, 0, prog,
                                sizeof(prog), &len);
    ck_assert_msg(err == 0 || err == -E2BIG, "bc_compile: %d", err);
    if (err == 0) {
      ck_assert_msg(len <= attr_max,
                    "%zu ports in %zu ranges compile to %zu bytes: nla_len "
                    "would be %zu, more than a u16",
                    set_a.n, r, len, len + 4);
      ck_assert_int_eq(bcm_audit(prog, len), 0);
    }
    tried = true;
  }
  ck_assert(tried);
}
END_TEST

/* Scattered sets just below the size limit still compile to programs that
 * fit the attribute, pass the audit and give the right verdicts. */
START_TEST(near_limit_programs_are_correct) {
  size_t lo = 1, hi = 21845, len = 0;

  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    ranges_set(&set_a, mid, mid / 3);
    if (bcm_compile_ports(set_a.p, set_a.n, NULL, 0, BC_NO_EQ, prog, BC_MAX_LEN,
                          &len) == 0)
      lo = mid;
    else
      hi = mid - 1;
  }
  /* The largest that compiles, and a few below it. */
  for (size_t r = lo; r > lo - 4; r--) {
    ranges_set(&set_a, r, r / 3);
    ck_assert_int_eq(bcm_compile_ports(set_a.p, set_a.n, NULL, 0, BC_NO_EQ,
                                       prog, BC_MAX_LEN, &len),
                     0);
    ck_assert_msg(bcm_audit(prog, len) == 0,
                  "%zu ranges: %zu-byte program rejected", r, len);
    sweep_one(len, &set_a, true, "near limit");
  }
}
END_TEST

/* --- The model itself: known programs in, known answers out. --- */

/* Appends one op (and for port ops the port in a second header). */
static size_t put_op(uint8_t *bc, size_t off, uint8_t code, uint8_t yes,
                     uint16_t no) {
  struct inet_diag_bc_op op = {.code = code, .yes = yes, .no = no};

  memcpy(bc + off, &op, sizeof(op));
  return off + 4;
}

static size_t put_port_op(uint8_t *bc, size_t off, uint8_t code, uint8_t yes,
                          uint16_t no, uint16_t port) {
  off = put_op(bc, off, code, yes, no);
  return put_op(bc, off, 0, 0, port);
}

/* The 44-byte program from sock_diag.md, written by hand. */
START_TEST(model_accepts_documented_programs) {
  uint8_t bc[64];
  size_t n = 0;

  n = put_port_op(bc, n, INET_DIAG_BC_S_EQ, 8, 12, 80);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 36);
  n = put_port_op(bc, n, INET_DIAG_BC_S_EQ, 8, 12, 443);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 24);
  n = put_port_op(bc, n, INET_DIAG_BC_D_EQ, 8, 12, 80);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 12);
  n = put_port_op(bc, n, INET_DIAG_BC_D_EQ, 8, 12, 443);
  ck_assert_uint_eq(n, 44);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  unsigned ops;
  ck_assert_int_eq(bcm_run(bc, n, 80, 1, &ops), 1);
  ck_assert_uint_eq(ops, 2); /* S_EQ, JMP */
  ck_assert_int_eq(bcm_run(bc, n, 1, 443, &ops), 1);
  ck_assert_uint_eq(ops, 4); /* three failed EQ, then the last true */
  ck_assert_int_eq(bcm_run(bc, n, 1, 1, &ops), 0);
  ck_assert_uint_eq(ops, 4);
  ck_assert_int_eq(bcm_run(bc, n, 1, 80, NULL), 1);
  ck_assert_int_eq(bcm_run(bc, n, 443, 1, NULL), 1);

  /* remote port 8000-8999: D_GE/D_LE, both failing to end + 4 */
  n = 0;
  n = put_port_op(bc, n, INET_DIAG_BC_D_GE, 8, 20, 8000);
  n = put_port_op(bc, n, INET_DIAG_BC_D_LE, 8, 12, 8999);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(bcm_run(bc, n, 1, 7999, NULL), 0);
  ck_assert_int_eq(bcm_run(bc, n, 1, 8000, NULL), 1);
  ck_assert_int_eq(bcm_run(bc, n, 1, 8999, NULL), 1);
  ck_assert_int_eq(bcm_run(bc, n, 1, 9000, NULL), 0);
  ck_assert_int_eq(bcm_run(bc, n, 8500, 1, NULL), 0);

  /* "sport != 8080": [S_EQ 8,12][8080][JMP 4,8] */
  n = 0;
  n = put_port_op(bc, n, INET_DIAG_BC_S_EQ, 8, 12, 8080);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 8);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(bcm_run(bc, n, 8080, 1, NULL), 0);
  ck_assert_int_eq(bcm_run(bc, n, 8081, 1, NULL), 1);

  /* A NOP's `no` is never taken, so the audit ignores it. */
  n = 0;
  n = put_op(bc, n, INET_DIAG_BC_NOP, 4, 3);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(bcm_run(bc, n, 1, 1, NULL), 1);
}
END_TEST

START_TEST(model_rejects_bad_programs) {
  uint8_t bc[64];
  size_t n;

  /* no not a multiple of 4 (but within range) */
  n = put_port_op(bc, 0, INET_DIAG_BC_S_GE, 8, 10, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 6);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);

  /* A no target that is not on the yes chain: op 0 jumps to offset 12,
   * the port operand of the op at 8. Only valid_cc can catch this. */
  n = put_port_op(bc, 0, INET_DIAG_BC_S_GE, 8, 8, 80);
  n = put_port_op(bc, n, INET_DIAG_BC_S_LE, 8, 12, 90);
  ck_assert_uint_eq(n, 16);
  ck_assert_int_eq(bcm_audit(bc, n), 0); /* control: target 8 is an op */
  put_op(bc, 0, INET_DIAG_BC_S_GE, 8, 12);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* the same with a JMP into the operand of the op after it */
  n = put_op(bc, 0, INET_DIAG_BC_JMP, 4, 8);
  n = put_port_op(bc, n, INET_DIAG_BC_S_GE, 8, 12, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  put_op(bc, 0, INET_DIAG_BC_JMP, 4, 4); /* control: to the S_GE */
  ck_assert_int_eq(bcm_audit(bc, n), 0);

  /* yes > remaining + 4 */
  n = put_port_op(bc, 0, INET_DIAG_BC_S_GE, 16, 12, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* yes == remaining + 4 passes that check, but the walk ends past the
   * end instead of on it */
  n = put_port_op(bc, 0, INET_DIAG_BC_S_GE, 12, 12, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* no > remaining + 4 */
  n = put_port_op(bc, 0, INET_DIAG_BC_S_GE, 8, 16, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);

  /* unknown opcodes, including real kernel ops this model leaves out */
  static const uint8_t unknown[] = {INET_DIAG_BC_AUTO,
                                    INET_DIAG_BC_S_COND,
                                    INET_DIAG_BC_MARK_COND,
                                    14,
                                    200,
                                    255};
  for (size_t i = 0; i < sizeof(unknown); i++) {
    n = put_port_op(bc, 0, unknown[i], 8, 12, 80);
    ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  }

  /* yes or no below the op's length, yes not a multiple of 4 */
  n = put_port_op(bc, 0, INET_DIAG_BC_D_LE, 4, 12, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_port_op(bc, 0, INET_DIAG_BC_D_LE, 8, 4, 80);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_op(bc, 0, INET_DIAG_BC_NOP, 6, 0);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_op(bc, 0, INET_DIAG_BC_JMP, 0, 4);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);

  /* a port op in the last 4 bytes: its operand is missing */
  n = put_op(bc, 0, INET_DIAG_BC_NOP, 4, 0);
  n = put_op(bc, n, INET_DIAG_BC_S_EQ, 4, 8);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);

  /* lengths: below one op, not a multiple of 4, too long for nla_len */
  put_op(bc, 0, INET_DIAG_BC_NOP, 4, 0);
  put_op(bc, 4, INET_DIAG_BC_NOP, 4, 0);
  ck_assert_int_eq(bcm_audit(bc, 0), -EINVAL);
  ck_assert_int_eq(bcm_audit(bc, 2), -EINVAL);
  ck_assert_int_eq(bcm_audit(bc, 6), -EINVAL);
  ck_assert_int_eq(bcm_audit(bc, 8), 0);
  uint8_t *big = calloc(1, 65536); /* NOPs: code 0, yes 4 */
  ck_assert_ptr_nonnull(big);
  for (size_t off = 0; off < 65536; off += 4)
    big[off + 1] = 4;
  ck_assert_int_eq(bcm_audit(big, 65528), 0);
  ck_assert_int_eq(bcm_audit(big, 65532), -EINVAL);
  free(big);

  /* Every no field of a compiled program, moved by 2 or onto an operand,
   * must be caught: the model does not accept whatever it is given. */
  static const uint16_t ports[] = {22, 80, 443, 1000, 1001, 1002, 5000, 9000};
  size_t len = 0, checked = 0;
  ck_assert_int_eq(
      bcm_compile_ports(ports, 8, ports, 8, BC_NO_EQ, prog, BC_MAX_LEN, &len),
      0);
  ck_assert_int_eq(bcm_audit(prog, len), 0);
  for (size_t off = 0; off < len; off += prog[off + 1]) {
    struct inet_diag_bc_op op, bad;
    memcpy(&op, prog + off, sizeof(op));
    bad = op;
    bad.no = (uint16_t)(op.no + 2);
    memcpy(prog + off, &bad, sizeof(bad));
    ck_assert_int_eq(bcm_audit(prog, len), -EINVAL);
    /* the operand of the next op, if that is a port op */
    if (off + op.yes + 8 <= len && prog[off + op.yes] != INET_DIAG_BC_JMP) {
      bad.no = (uint16_t)(op.yes + 4);
      memcpy(prog + off, &bad, sizeof(bad));
      ck_assert_int_eq(bcm_audit(prog, len), -EINVAL);
      checked++;
    }
    memcpy(prog + off, &op, sizeof(op));
  }
  ck_assert_uint_gt(checked, 4);
  ck_assert_int_eq(bcm_audit(prog, len), 0);
}
END_TEST

static Suite *bytecode_suite(void) {
  Suite *s = suite_create("bytecode");
  TCase *tc = tcase_create("exhaustive");

  /* Millions of interpreter runs: seconds natively, minutes under
   * valgrind. CK_TIMEOUT_MULTIPLIER can stretch this further. */
  tcase_set_timeout(tc, 1200);
  tcase_add_loop_test(tc, one_direction_all_sizes_all_ports, 0, 2 * NKINDS);
  tcase_add_loop_test(tc, both_directions_all_sizes_sampled, 0, NKINDS);
  tcase_add_test(tc, depth_is_logarithmic_for_2000_ports);
  tcase_add_test(tc, near_limit_programs_are_correct);
  suite_add_tcase(s, tc);

  tc = tcase_create("limits");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, worked_example_80_443);
  tcase_add_test(tc, empty_filter_is_einval);
  tcase_add_test(tc, huge_scattered_set_is_e2big);
  tcase_add_test(tc, small_out_buffer_is_e2big);
  tcase_add_test(tc, largest_programs_fit_the_attribute);
  suite_add_tcase(s, tc);

  tc = tcase_create("model");
  tcase_add_test(tc, model_accepts_documented_programs);
  tcase_add_test(tc, model_rejects_bad_programs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(bytecode_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
