/* SPDX-License-Identifier: MIT */
/* bc_compile(): every program it emits must pass the kernel's audit and
 * give, for every socket, the same verdict as set membership, in a number
 * of ops logarithmic in the number of ports. bc_compile_filter() with
 * terms (the <Connections> blocks: ports and S_COND/D_COND addresses)
 * must give the verdict of "ports, or any term", each term an AND of
 * ORs, for sockets of both families and IPv4-mapped ones. Checked
 * through the user-space model of the kernel in bc_model.c, whose host
 * conditions are checked here against hand-written programs. */
#include "check_run.h"
#include "bc_model.h"
#include "bytecode.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

  /* unknown opcodes, including real kernel ops this model leaves out
   * (an 8-byte S_COND is refused too: its hostcond does not fit) */
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

/* --- host conditions and terms --------------------------------------- */

/* An S_COND/D_COND op: header, hostcond, then alen address bytes. */
static size_t put_host_op(uint8_t *bc, size_t off, uint8_t code, uint8_t yes,
                          uint16_t no, uint8_t family, uint8_t prefix, int port,
                          const void *addr, size_t alen) {
  struct inet_diag_hostcond cond;

  memset(&cond, 0, sizeof(cond));
  cond.family = family;
  cond.prefix_len = prefix;
  cond.port = port;
  off = put_op(bc, off, code, yes, no);
  memcpy(bc + off, &cond, sizeof(cond));
  off += sizeof(cond);
  memcpy(bc + off, addr, alen);
  return off + alen;
}

static struct bcm_sock sock4(const char *src, const char *dst, uint16_t sp,
                             uint16_t dp) {
  struct bcm_sock s = {.family = AF_INET, .sport = sp, .dport = dp};

  ck_assert_int_eq(inet_pton(AF_INET, src, s.src), 1);
  ck_assert_int_eq(inet_pton(AF_INET, dst, s.dst), 1);
  return s;
}

static struct bcm_sock sock6(const char *src, const char *dst, uint16_t sp,
                             uint16_t dp) {
  struct bcm_sock s = {.family = AF_INET6, .sport = sp, .dport = dp};

  ck_assert_int_eq(inet_pton(AF_INET6, src, s.src), 1);
  ck_assert_int_eq(inet_pton(AF_INET6, dst, s.dst), 1);
  return s;
}

static int run1(const uint8_t *bc, size_t n, struct bcm_sock s) {
  return bcm_run_sock(bc, n, &s, NULL);
}

/* The kernel's rules, one by one, on programs written by hand: port -1 or
 * equal; the family (an AF_INET condition also takes an IPv4-mapped
 * address of an AF_INET6 socket, nothing else crosses); prefixes by bits
 * (0 matches any address of the family, the full length one address). */
START_TEST(model_host_conditions) {
  uint8_t bc[128], a4[4], a6[16];
  size_t n;

  /* S_COND 127.0.0.0/8 any port: yes 16, no 20 (reject) */
  inet_pton(AF_INET, "127.0.0.0", a4);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 8, -1, a4, 4);
  ck_assert_uint_eq(n, 16);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(run1(bc, n, sock4("127.1.2.3", "10.0.0.1", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("128.0.0.1", "127.0.0.1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock4("126.255.255.255", "1.1.1.1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::ffff:127.0.0.5", "::1", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::ffff:128.0.0.5", "::1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::1", "::1", 1, 2)), 0);
  /* not mapped: ::127.0.0.5 (compatible), ::fffe:127.0.0.5, 64:ff9b:: */
  ck_assert_int_eq(run1(bc, n, sock6("::127.0.0.5", "::1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::fffe:7f00:5", "::1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("64:ff9b::7f00:5", "::1", 1, 2)), 0);
  /* D_COND looks at the remote address */
  bc[0] = INET_DIAG_BC_D_COND;
  ck_assert_int_eq(run1(bc, n, sock4("10.0.0.1", "127.9.9.9", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("127.9.9.9", "10.0.0.1", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::1", "::ffff:127.0.0.1", 1, 2)), 1);

  /* prefix 0: any IPv4 address, mapped ones too, no IPv6 one */
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 0, -1, a4, 4);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(run1(bc, n, sock4("1.2.3.4", "1.1.1.1", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::ffff:1.2.3.4", "::", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("fd00::1", "::", 1, 2)), 0);
  /* prefix 32: one address; 31: two */
  inet_pton(AF_INET, "10.2.3.4", a4);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 32, -1, a4, 4);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(run1(bc, n, sock4("10.2.3.4", "0.0.0.0", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("10.2.3.5", "0.0.0.0", 1, 2)), 0);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 31, -1, a4, 4);
  ck_assert_int_eq(run1(bc, n, sock4("10.2.3.5", "0.0.0.0", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("10.2.3.6", "0.0.0.0", 1, 2)), 0);
  /* /20 cuts a byte: 10.1.16.0/20 is 10.1.16.0-10.1.31.255 */
  inet_pton(AF_INET, "10.1.16.0", a4);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 20, -1, a4, 4);
  ck_assert_int_eq(run1(bc, n, sock4("10.1.31.255", "0.0.0.0", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("10.1.32.0", "0.0.0.0", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock4("10.1.15.255", "0.0.0.0", 1, 2)), 0);

  /* IPv6: /48, /97 (a bit into the fourth word), /128, /0 */
  inet_pton(AF_INET6, "fd00:1::", a6);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 48, -1, a6, 16);
  ck_assert_uint_eq(n, 28);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::1", "fd00:1:0:ffff::9", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::1", "fd00:2::9", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock4("10.0.0.1", "253.0.0.1", 1, 2)), 0);
  inet_pton(AF_INET6, "fd00::8000:0", a6);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 97, -1, a6, 16);
  ck_assert_int_eq(run1(bc, n, sock6("::", "fd00::ffff:ffff", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::", "fd00::7fff:ffff", 1, 2)), 0);
  inet_pton(AF_INET6, "::1", a6);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 128, -1, a6,
                  16);
  ck_assert_int_eq(run1(bc, n, sock6("::", "::1", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::", "::2", 1, 2)), 0);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 0, -1, a6, 16);
  ck_assert_int_eq(run1(bc, n, sock6("::", "2001:db8::1", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::", "::ffff:1.2.3.4", 1, 2)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("1.2.3.4", "1.2.3.4", 1, 2)), 0);
  /* an IPv6 condition never takes an IPv4 socket, even ::ffff:0:0/96 */
  inet_pton(AF_INET6, "::ffff:0:0", a6);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 96, -1, a6, 16);
  ck_assert_int_eq(run1(bc, n, sock4("1.2.3.4", "1.2.3.4", 1, 2)), 0);
  ck_assert_int_eq(run1(bc, n, sock6("::", "::ffff:1.2.3.4", 1, 2)), 1);

  /* ss's port-only form: AF_UNSPEC, prefix 0, a port; here the 56-byte
   * program for "sport = :80 or sport = :443 or dport = :80" from
   * sock_diag.md (4 zero address bytes follow each hostcond there, so
   * yes is 16 though AF_UNSPEC needs 12) */
  memset(a4, 0, 4);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_UNSPEC, 0, 80, a4, 4);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 20);
  n = put_host_op(bc, n, INET_DIAG_BC_S_COND, 16, 20, AF_UNSPEC, 0, 443, a4, 4);
  n = put_op(bc, n, INET_DIAG_BC_JMP, 4, 20);
  n = put_host_op(bc, n, INET_DIAG_BC_D_COND, 16, 20, AF_UNSPEC, 0, 80, a4, 4);
  ck_assert_uint_eq(n, 56);
  ck_assert_int_eq(bcm_audit(bc, n), 0);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "2.2.2.2", 80, 1)), 1);
  ck_assert_int_eq(run1(bc, n, sock6("::1", "::2", 443, 1)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "2.2.2.2", 1, 80)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "2.2.2.2", 81, 443)), 0);
  /* a port and an address: both must hold */
  inet_pton(AF_INET, "127.0.0.0", a4);
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 16, 20, AF_INET, 8, 5432, a4, 4);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "127.0.0.2", 9, 5432)), 1);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "127.0.0.2", 9, 5433)), 0);
  ck_assert_int_eq(run1(bc, n, sock4("1.1.1.1", "128.0.0.2", 9, 5432)), 0);
}
END_TEST

/* valid_hostcond(): the family, the address that family needs, the prefix
 * within it, and yes/no at least the whole op. */
START_TEST(model_rejects_bad_host_conditions) {
  uint8_t bc[128], a6[16] = {0};
  size_t n;

  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 32, -1, a6, 4);
  ck_assert_int_eq(bcm_audit(bc, n), 0); /* control */
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, AF_INET, 33, -1, a6, 4);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 20, 3, 0, -1, a6, 4);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 12, 16, AF_UNSPEC, 1, -1, a6, 0);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 12, 16, AF_UNSPEC, 0, -1, a6, 0);
  ck_assert_int_eq(bcm_audit(bc, n), 0); /* control: 12 bytes suffice */
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 128, -1, a6,
                  16);
  ck_assert_int_eq(bcm_audit(bc, n), 0); /* control */
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 28, 32, AF_INET6, 129, -1, a6,
                  16);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* an AF_INET6 condition with an IPv4-sized address: the program ends
   * inside the address */
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 16, 20, AF_INET6, 0, -1, a6, 4);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* ... and inside a longer program, yes below the op's length */
  n = put_host_op(bc, 0, INET_DIAG_BC_D_COND, 16, 32, AF_INET6, 0, -1, a6, 16);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* no below the op's length */
  n = put_host_op(bc, 0, INET_DIAG_BC_S_COND, 16, 12, AF_INET, 8, -1, a6, 4);
  n = put_op(bc, n, INET_DIAG_BC_NOP, 4, 0);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
  /* the hostcond itself cut: 8 bytes in all */
  n = put_op(bc, 0, INET_DIAG_BC_S_COND, 8, 12);
  n = put_op(bc, n, AF_INET, 0, 0);
  ck_assert_int_eq(bcm_audit(bc, n), -EINVAL);
}
END_TEST

/* A random filter: port sets, then terms with random groups. */
#define MAXT 12
#define MAXM 6
struct tfilter {
  struct bc_range local[MAXM], remote[MAXM];
  size_t nlocal, nremote;
  struct {
    struct bc_range lp[MAXM], rp[MAXM];
    struct bc_host src[MAXM], dst[MAXM];
    size_t nlp, nrp, nsrc, ndst;
  } t[MAXT];
  size_t nterms;
  struct bc_term terms[MAXT];
};

/* Ports from a small pool so sockets hit them often. */
static const uint16_t port_pool[] = {1, 22, 80, 443, 5432, 5433, 8080, 65535};
static const char *const addr4_pool[] = {"127.0.0.1", "127.0.0.2",
                                         "10.1.0.0",  "10.1.255.7",
                                         "0.0.0.0",   "255.255.255.255"};
static const char *const addr6_pool[] = {
    "::1", "fd00:1::",  "fd00:1:0:ffff::9", "::ffff:127.0.0.1",
    "::",  "2001:db8::"};

static struct bc_range rnd_range(void) {
  uint16_t a = port_pool[rnd_below(8)], b = port_pool[rnd_below(8)];

  if (rnd_below(3) != 0)
    b = a;
  return a <= b ? (struct bc_range){a, b} : (struct bc_range){b, a};
}

static void rnd_addr(uint8_t family, uint8_t *out) {
  memset(out, 0, 16);
  if (family == AF_INET)
    inet_pton(AF_INET, addr4_pool[rnd_below(6)], out);
  else
    inet_pton(AF_INET6, addr6_pool[rnd_below(6)], out);
  /* and sometimes a few random bits flipped */
  for (unsigned k = rnd_below(3); k > 0; k--) {
    unsigned bit = rnd_below(family == AF_INET ? 32 : 128);
    out[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
  }
}

static struct bc_host rnd_host(void) {
  struct bc_host h;
  unsigned max;

  h.family = rnd_below(2) ? AF_INET : AF_INET6;
  max = h.family == AF_INET ? 32 : 128;
  rnd_addr(h.family, h.addr);
  switch (rnd_below(4)) {
  case 0:
    h.prefix_len = 0;
    break;
  case 1:
    h.prefix_len = (uint8_t)max;
    break;
  default:
    h.prefix_len = (uint8_t)rnd_below(max + 1);
    break;
  }
  return h;
}

static void rnd_filter(struct tfilter *f) {
  memset(f, 0, sizeof(*f));
  f->nlocal = rnd_below(3) == 0 ? rnd_below(MAXM) : 0;
  f->nremote = rnd_below(3) == 0 ? rnd_below(MAXM) : 0;
  for (size_t i = 0; i < f->nlocal; i++)
    f->local[i] = rnd_range();
  for (size_t i = 0; i < f->nremote; i++)
    f->remote[i] = rnd_range();
  f->nterms = rnd_below(MAXT + 1);
  if (f->nterms == 0 && f->nlocal == 0 && f->nremote == 0)
    f->nterms = 1;
  for (size_t i = 0; i < f->nterms; i++) {
    do {
      f->t[i].nlp = rnd_below(3) == 0 ? 1 + rnd_below(MAXM - 1) : 0;
      f->t[i].nrp = rnd_below(3) == 0 ? 1 + rnd_below(MAXM - 1) : 0;
      f->t[i].nsrc = rnd_below(2) == 0 ? 1 + rnd_below(MAXM - 1) : 0;
      f->t[i].ndst = rnd_below(2) == 0 ? 1 + rnd_below(MAXM - 1) : 0;
    } while (f->t[i].nlp + f->t[i].nrp + f->t[i].nsrc + f->t[i].ndst == 0);
    for (size_t k = 0; k < f->t[i].nlp; k++)
      f->t[i].lp[k] = rnd_range();
    for (size_t k = 0; k < f->t[i].nrp; k++)
      f->t[i].rp[k] = rnd_range();
    for (size_t k = 0; k < f->t[i].nsrc; k++)
      f->t[i].src[k] = rnd_host();
    for (size_t k = 0; k < f->t[i].ndst; k++)
      f->t[i].dst[k] = rnd_host();
    f->terms[i] = (struct bc_term){.local = f->t[i].lp,
                                   .nlocal = f->t[i].nlp,
                                   .remote = f->t[i].rp,
                                   .nremote = f->t[i].nrp,
                                   .src = f->t[i].src,
                                   .nsrc = f->t[i].nsrc,
                                   .dst = f->t[i].dst,
                                   .ndst = f->t[i].ndst};
  }
}

/* The expected verdicts, from the rules written again bit by bit. */
static bool ref_verdict(const struct tfilter *f, const struct bcm_sock *s) {
  if (bcm_ref_ports(f->local, f->nlocal, s->sport) ||
      bcm_ref_ports(f->remote, f->nremote, s->dport))
    return true;
  for (size_t i = 0; i < f->nterms; i++) {
    const struct bc_term *t = &f->terms[i];

    if ((t->nlocal == 0 || bcm_ref_ports(t->local, t->nlocal, s->sport)) &&
        (t->nremote == 0 || bcm_ref_ports(t->remote, t->nremote, s->dport)) &&
        (t->nsrc == 0 || bcm_ref_hosts(t->src, t->nsrc, s, s->src)) &&
        (t->ndst == 0 || bcm_ref_hosts(t->dst, t->ndst, s, s->dst)))
      return true;
  }
  return false;
}

/* A socket likely to hit the filter's conditions: ports from the pool and
 * their neighbours, addresses from the pools (IPv4, IPv6, and IPv4 as
 * IPv4-mapped IPv6), with bits flipped. */
static struct bcm_sock rnd_sock(void) {
  struct bcm_sock s;
  unsigned kind = rnd_below(3);

  memset(&s, 0, sizeof(s));
  s.sport = (uint16_t)(port_pool[rnd_below(8)] + rnd_below(3) - 1);
  s.dport = (uint16_t)(port_pool[rnd_below(8)] + rnd_below(3) - 1);
  if (kind == 0) {
    s.family = AF_INET;
    rnd_addr(AF_INET, s.src);
    rnd_addr(AF_INET, s.dst);
  } else if (kind == 1) {
    s.family = AF_INET6;
    rnd_addr(AF_INET6, s.src);
    rnd_addr(AF_INET6, s.dst);
  } else {
    uint8_t a[16];

    s.family = AF_INET6;
    for (int k = 0; k < 2; k++) {
      uint8_t *out = k ? s.dst : s.src;

      rnd_addr(AF_INET, a);
      memset(out, 0, 10);
      out[10] = out[11] = 0xff;
      memcpy(out + 12, a, 4);
      if (rnd_below(8) == 0) /* not quite mapped */
        out[rnd_below(12)] ^= 1;
    }
  }
  return s;
}

/* Thousands of random filters with terms, each compiled with and without
 * S_EQ, audited, and run on hundreds of sockets against the rules. */
START_TEST(terms_match_the_rules) {
  static struct tfilter f;
  unsigned long runs = 0, accepted = 0;

  rng_seed(7, 7, 7);
  for (unsigned iter = 0; iter < 4000; iter++) {
    struct bc_filter bf;

    rnd_filter(&f);
    bf = (struct bc_filter){.local = f.local,
                            .nlocal = f.nlocal,
                            .remote = f.remote,
                            .nremote = f.nremote,
                            .terms = f.terms,
                            .nterms = f.nterms};
    for (size_t fl = 0; fl < 2; fl++) {
      size_t len = 0;
      int err = bc_compile_filter(&bf, flag_sets[fl], prog, BC_MAX_LEN, &len);

      ck_assert_msg(err == 0, "iter %u: bc_compile_filter %d", iter, err);
      ck_assert_msg(bcm_audit(prog, len) == 0,
                    "iter %u: the audit refuses a %zu-byte program", iter, len);
      for (unsigned k = 0; k < 200; k++) {
        struct bcm_sock s = rnd_sock();
        int got = bcm_run_sock(prog, len, &s, NULL);
        bool want = ref_verdict(&f, &s);

        if (got != (int)want)
          ck_abort_msg("iter %u flags %u socket %u: verdict %d, rules say %d",
                       iter, flag_sets[fl], k, got, want);
        runs++;
        accepted += (unsigned long)got;
      }
    }
  }
  /* both verdicts are exercised, not just one */
  ck_assert_uint_gt(accepted, runs / 20);
  ck_assert_uint_lt(accepted, runs - runs / 20);
}
END_TEST

/* Sizes: a block of one remote port and one IPv4 network is 28 bytes
 * (D_EQ 8, D_COND 16, JMP 4), with an IPv6 network 40; E2BIG exactly
 * past BC_MAX_LEN; an empty term or a bad host is -EINVAL. */
START_TEST(terms_sizes_and_limits) {
  static struct bc_term terms[3000];
  struct bc_range port = {5432, 5432};
  struct bc_host h4 = {.family = AF_INET, .prefix_len = 16};
  struct bc_host h6 = {.family = AF_INET6, .prefix_len = 48};
  struct bc_filter f = {.terms = terms};
  size_t len = 0, fit4 = BC_MAX_LEN / 28, fit6 = BC_MAX_LEN / 40;

  h4.addr[0] = 10;
  h4.addr[1] = 1;
  h6.addr[0] = 0xfd;
  for (size_t i = 0; i < 3000; i++)
    terms[i] =
        (struct bc_term){.remote = &port, .nremote = 1, .dst = &h4, .ndst = 1};
  f.nterms = 1;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), 0);
  ck_assert_uint_eq(len, 28);
  f.nterms = fit4;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), 0);
  ck_assert_uint_eq(len, 28 * fit4);
  ck_assert_int_eq(bcm_audit(prog, len), 0);
  f.nterms = fit4 + 1;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -E2BIG);
  for (size_t i = 0; i < 3000; i++)
    terms[i].dst = &h6;
  f.nterms = 1;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), 0);
  ck_assert_uint_eq(len, 40);
  f.nterms = fit6;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), 0);
  ck_assert_int_eq(bcm_audit(prog, len), 0);
  f.nterms = fit6 + 1;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -E2BIG);
  /* a smaller buffer: E2BIG at its size */
  f.nterms = 2;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, 79, &len), -E2BIG);
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, 80, &len), 0);

  /* empty term, bad hosts, empty filter */
  terms[0] = (struct bc_term){0};
  f.nterms = 1;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -EINVAL);
  h4.prefix_len = 33;
  terms[0] = (struct bc_term){.dst = &h4, .ndst = 1};
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -EINVAL);
  h4.prefix_len = 0;
  h4.family = AF_UNSPEC;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -EINVAL);
  f.nterms = 0;
  ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), -EINVAL);

  /* no term: exactly bc_compile()'s program */
  {
    static uint8_t other[256];
    struct bc_range l[] = {{80, 80}, {443, 443}};
    size_t len2 = 0;

    f = (struct bc_filter){.local = l, .nlocal = 2};
    ck_assert_int_eq(bc_compile_filter(&f, 0, prog, BC_MAX_LEN, &len), 0);
    ck_assert_int_eq(bc_compile(l, 2, NULL, 0, 0, other, sizeof(other), &len2),
                     0);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(prog, other, len);
  }
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
  tcase_add_test(tc, model_host_conditions);
  tcase_add_test(tc, model_rejects_bad_host_conditions);
  suite_add_tcase(s, tc);

  tc = tcase_create("terms");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, terms_match_the_rules);
  tcase_add_test(tc, terms_sizes_and_limits);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return check_run_suite(bytecode_suite(), false);
}
