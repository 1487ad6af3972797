/* SPDX-License-Identifier: MIT */
/* libFuzzer target: bc_compile() on arbitrary local and remote port sets.
 * Every program it emits must pass the kernel's audit (tests/bc_model.c)
 * and accept a socket exactly when its local port is in the local set or
 * its remote port is in the remote set; any difference aborts.
 *
 * Input:
 *   byte 0     bit 0: BC_NO_EQ; bit 4: compile with bc_compile()
 *              from the ranges as the records give them (unsorted,
 *              overlapping, repeated) instead of one-port ranges from the
 *              sorted port lists; bits 1-2: the output capacity: 0 BC_MAX_LEN,
 *              1 from bytes 1-2 (any value up to 65535), 2 BC_MAX_LEN + 4096
 *              (the compiler must still stop at BC_MAX_LEN), 3 from byte 1
 *              times 4 (small); bit 3: large sets (up to every port; else
 *              at most 1024 ports in all, see ADD_BUDGET_SMALL)
 *   then records of 4 bytes: op, port (2 bytes, little endian), param.
 *     op bits 0-1: 0 one port, 1 ports port..port+param, 2 port, port+2,
 *                  ... (16 * param + 1 scattered ports: many ranges, up to
 *                  E2BIG), 3 a sample socket: local port `port`, remote
 *                  port `port ^ param << 8`
 *     op bit 2: remote set (else local); bit 3: both sets
 *     op bit 4: the record goes to term (op >> 5) (8 terms, the
 *       <Connections> blocks, compiled with bc_compile_filter() after the
 *       sets) instead: kinds 0 and 1 add a port or a range to the term's
 *       local (bit 2 clear) or remote ports; kind 2 adds a host to its
 *       local or remote addresses: IPv6 if param bit 7, prefix param &
 *       0x7f (up to the family's length), address from `port` (see
 *       host_addr(): few distinct addresses, so sockets hit them); kind 3
 *       adds a sample socket with addresses from `port` and `param`, IPv4,
 *       IPv6 or IPv4-mapped.
 *   Port 0 is left out of the sets (the API takes 1..65535).
 *
 * Checks:
 *   - both sets empty: -EINVAL; otherwise 0 or -E2BIG;
 *   - on success: 0 < len <= min(cap, BC_MAX_LEN), len % 4 == 0, no byte
 *     written past len (the buffer is exactly cap bytes, so ASan sees
 *     writes past cap), bcm_audit() accepts it, compiling again with
 *     cap = len gives the same bytes and cap = len - 4 gives -E2BIG;
 *   - on -E2BIG the program really does not fit: with the full BC_MAX_LEN
 *     it compiles to more than cap bytes, or it does not compile there
 *     either and then the sets have enough ranges that 28 bytes a range
 *     (the most one costs: GE, LE, JMP and a share of the splits) exceed
 *     BC_MAX_LEN;
 *   - bcm_run() agrees with set membership for the sample sockets, for
 *     ports 0, 1, 65535 and for lo-1, lo, hi, hi+1 of up to 96 ranges of
 *     each set, each against a non-member (port 0) and against each other;
 *   - a socket runs O(log n) ops: at most 2 log2(ranges) + 10 per set;
 *   - with terms: bcm_run_sock() agrees with "sets, or any term (an AND of
 *     the term's non-empty groups, each an OR)", the host rules written
 *     again bit by bit here, for the sample sockets and for sockets at
 *     each host's address (as given, with a bit flipped inside and past
 *     the prefix, and IPv4-mapped), with the terms' ports; a socket runs
 *     at most the sets' bound plus, per term, two ops per member and a
 *     tree's bound per port group. */
#include "bc_model.h"
#include "bytecode.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define WORDS (65536 / 64)
#define MAX_SAMPLES 1024
#define CANARY 0xA5

struct set {
  uint64_t bits[WORDS];
  uint16_t list[65536];
  size_t n;
  /* the ranges as the input gave them, for bc_compile() */
  struct bc_range raw[16384];
  size_t nraw;
  /* ranges of consecutive ports */
  uint16_t lo[65536], hi[65536];
  size_t nranges;
};

static struct set L, R;
static uint16_t samples[MAX_SAMPLES][2];
static size_t nsamples;

/* Terms: the <Connections> blocks after the sets. */
#define NTERMS 8
#define TERM_MAX 32
struct fterm {
  struct bc_range lp[TERM_MAX], rp[TERM_MAX];
  struct bc_host src[TERM_MAX], dst[TERM_MAX];
  size_t nlp, nrp, nsrc, ndst;
};
static struct fterm T[NTERMS];
static struct bcm_sock hsamples[MAX_SAMPLES];
static size_t nhsamples;

/* Few distinct addresses, so that sockets and hosts meet: IPv4
 * 127.0.x.y / 10.1.x.y, IPv6 ::1-like and fd00:1::-like. */
static void host_addr(uint8_t family, uint32_t v, uint8_t *out) {
  memset(out, 0, 16);
  if (family == AF_INET) {
    out[0] = (v & 1) ? 10 : 127;
    out[1] = (v >> 1) & 1;
    out[2] = (uint8_t)((v >> 2) & 3);
    out[3] = (uint8_t)(v >> 4);
  } else {
    out[0] = (v & 1) ? 0xfd : 0;
    out[1] = (v >> 1) & 1;
    out[7] = (uint8_t)((v >> 2) & 3);
    out[15] = (uint8_t)(v >> 4);
  }
}

static void add_hsample(const struct bcm_sock *s) {
  if (nhsamples < MAX_SAMPLES)
    hsamples[nhsamples++] = *s;
}

static bool term_used(const struct fterm *t) {
  return t->nlp + t->nrp + t->nsrc + t->ndst > 0;
}

static void fail(const char *what) {
  fprintf(stderr,
          "fuzz_bytecode: %s (local %zu ports / %zu ranges, remote "
          "%zu ports / %zu ranges)\n",
          what, L.n, L.nranges, R.n, R.nranges);
  abort();
}

/* Ports added per input. The model's audit is quadratic in the program
 * length, as the kernel's is (about 45 ms for a 64 KiB program under
 * ASan), so large sets are opt-in (byte 0, bit 3): 1024 ports otherwise
 * (programs up to about 16 KiB, an audit of at most 3 ms), enough to
 * fill both sets in large mode. */
#define ADD_BUDGET_SMALL 1024
#define ADD_BUDGET_LARGE (2 * 65536)
static unsigned budget;

static void set_add(struct set *s, uint32_t port) {
  if (port == 0 || port > 65535 || budget == 0)
    return;
  budget--;
  s->bits[port / 64] |= 1ull << (port % 64);
}

/* A range as given, and its ports into the set. */
static void set_add_range(struct set *s, uint32_t lo, uint32_t hi) {
  if (lo == 0)
    lo = 1;
  if (hi > 65535)
    hi = 65535;
  if (lo > hi || s->nraw == sizeof(s->raw) / sizeof(s->raw[0]) || budget == 0)
    return;
  if (hi - lo >= budget) /* both views must hold the same ports */
    hi = lo + budget - 1;
  s->raw[s->nraw++] = (struct bc_range){(uint16_t)lo, (uint16_t)hi};
  for (uint32_t p = lo; p <= hi; p++)
    set_add(s, p);
}

static bool member(const struct set *s, uint16_t port) {
  return (s->bits[port / 64] >> (port % 64)) & 1;
}

static void set_finish(struct set *s) {
  s->n = 0;
  s->nranges = 0;
  for (size_t w = 0; w < WORDS; w++) {
    uint64_t b = s->bits[w];
    while (b) {
      unsigned bit = (unsigned)__builtin_ctzll(b);
      uint16_t port = (uint16_t)(w * 64 + bit);
      b &= b - 1;
      s->list[s->n++] = port;
      if (s->nranges > 0 && s->hi[s->nranges - 1] + 1u == port) {
        s->hi[s->nranges - 1] = port;
      } else {
        s->lo[s->nranges] = s->hi[s->nranges] = port;
        s->nranges++;
      }
    }
  }
}

static void add_sample(uint16_t sport, uint16_t dport) {
  if (nsamples < MAX_SAMPLES) {
    samples[nsamples][0] = sport;
    samples[nsamples][1] = dport;
    nsamples++;
  }
}

/* Boundaries of up to 96 ranges, spread over the set. */
static void range_samples(const struct set *s, uint16_t *out, size_t *nout) {
  size_t step = s->nranges > 96 ? s->nranges / 96 : 1;

  for (size_t i = 0; i < s->nranges && *nout + 4 <= 512; i += step) {
    out[(*nout)++] = (uint16_t)(s->lo[i] - 1);
    out[(*nout)++] = s->lo[i];
    out[(*nout)++] = s->hi[i];
    out[(*nout)++] = (uint16_t)(s->hi[i] + 1);
  }
}

static unsigned ceil_log2(size_t n) {
  unsigned k = 0;
  while (((size_t)1 << k) < n)
    k++;
  return k;
}

static unsigned op_bound(void) {
  unsigned b = 0;
  if (L.nranges)
    b += 2 * ceil_log2(L.nranges) + 10;
  if (R.nranges)
    b += 2 * ceil_log2(R.nranges) + 10;
  return b;
}

static size_t nterms_used;
static void check_run_sock(const uint8_t *prog, size_t len,
                           const struct bcm_sock *s, unsigned bound);
static unsigned term_bound(void);

static void check_run(const uint8_t *prog, size_t len, uint16_t sp, uint16_t dp,
                      unsigned bound) {
  unsigned ops = 0;

  if (nterms_used > 0) { /* terms may take these too: the full rules */
    struct bcm_sock s = {.family = AF_INET, .sport = sp, .dport = dp};
    check_run_sock(prog, len, &s, bound + term_bound());
    return;
  }
  int want = member(&L, sp) || member(&R, dp);
#ifdef FUZZ_SELFTEST
  /* A wrong expectation, to see the check fail: local port 80 "never
   * matches". */
  if (sp == 80 && !member(&R, dp))
    want = 0;
#endif
  int got = bcm_run(prog, len, sp, dp, &ops);

  if (got != want) {
    fprintf(stderr,
            "fuzz_bytecode: sport %u dport %u: program says %d, "
            "sets say %d\n",
            sp, dp, got, want);
    fail("program disagrees with set membership");
  }
  if (ops > bound) {
    fprintf(stderr, "fuzz_bytecode: sport %u dport %u: %u ops, bound %u\n", sp,
            dp, ops, bound);
    fail("a socket runs more ops than O(log n)");
  }
}

static struct bc_term bterms[NTERMS];

static unsigned term_bound(void) {
  unsigned b = 0;
  for (size_t i = 0; i < nterms_used; i++) {
    const struct bc_term *t = &bterms[i];
    if (t->nlocal)
      b += 2 * ceil_log2(t->nlocal) + 10;
    if (t->nremote)
      b += 2 * ceil_log2(t->nremote) + 10;
    b += 2 * (unsigned)(t->nsrc + t->ndst);
  }
  return b;
}

static void check_run_sock(const uint8_t *prog, size_t len,
                           const struct bcm_sock *s, unsigned bound) {
  unsigned ops = 0;
  bool want = member(&L, s->sport) || member(&R, s->dport);
  int got;

  for (size_t i = 0; i < nterms_used && !want; i++) {
    const struct bc_term *t = &bterms[i];
    want =
        (t->nlocal == 0 || bcm_ref_ports(t->local, t->nlocal, s->sport)) &&
        (t->nremote == 0 || bcm_ref_ports(t->remote, t->nremote, s->dport)) &&
        (t->nsrc == 0 || bcm_ref_hosts(t->src, t->nsrc, s, s->src)) &&
        (t->ndst == 0 || bcm_ref_hosts(t->dst, t->ndst, s, s->dst));
  }
#ifdef FUZZ_SELFTEST
  /* A wrong expectation: IPv4-mapped sockets "never match" a term. */
  if (s->family == AF_INET6 && s->src[10] == 0xff && s->src[11] == 0xff &&
      !(member(&L, s->sport) || member(&R, s->dport)))
    want = false;
#endif
  got = bcm_run_sock(prog, len, s, &ops);
  if (got != (int)want) {
    fprintf(stderr,
            "fuzz_bytecode: family %u sport %u dport %u: program says %d, "
            "rules say %d\n",
            s->family, s->sport, s->dport, got, want);
    fail("program disagrees with the rules for terms");
  }
  if (ops > bound) {
    fprintf(stderr, "fuzz_bytecode: %u ops, bound %u\n", ops, bound);
    fail("a socket runs more ops than the terms' bound");
  }
}

/* Sockets at each host's address: as given, one bit flipped inside and
 * past the prefix, IPv4 ones also IPv4-mapped; with the terms' ports. */
static void host_samples(void) {
  for (size_t i = 0; i < nterms_used; i++) {
    const struct bc_term *t = &bterms[i];
    for (size_t k = 0; k < t->nsrc + t->ndst; k++) {
      const struct bc_host *h = k < t->nsrc ? &t->src[k] : &t->dst[k - t->nsrc];
      unsigned max = h->family == AF_INET ? 32 : 128;
      for (int v = 0; v < 3; v++) {
        struct bcm_sock s;
        uint8_t *a;

        memset(&s, 0, sizeof(s));
        s.family = h->family;
        s.sport = t->nlocal ? t->local[0].lo : (uint16_t)(k * 7919);
        s.dport = t->nremote ? t->remote[0].hi : (uint16_t)(k * 104729);
        a = k < t->nsrc ? s.src : s.dst;
        memcpy(a, h->addr, 16);
        if (v == 1 && h->prefix_len > 0) {
          unsigned bit = h->prefix_len - 1;
          a[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
        } else if (v == 2 && h->prefix_len < max) {
          unsigned bit = h->prefix_len;
          a[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
        }
        add_hsample(&s);
        if (h->family == AF_INET) {
          uint8_t v4[4];
          memcpy(v4, a, 4);
          s.family = AF_INET6;
          memset(a, 0, 16);
          a[10] = a[11] = 0xff;
          memcpy(a + 12, v4, 4);
          add_hsample(&s);
        }
      }
    }
  }
}

static int use_ranges;

static int compile(size_t cap, uint8_t **out, size_t *len, unsigned flags) {
  /* Exactly cap bytes, so ASan catches a write past the capacity. */
  *out = malloc(cap ? cap : 1);
  if (*out == NULL)
    abort();
  memset(*out, CANARY, cap ? cap : 1);
  *len = (size_t)-1;
  if (nterms_used > 0) {
    struct bc_filter f = {.terms = bterms, .nterms = nterms_used};
    static struct bc_range lr[65536], rr[65536];
    if (use_ranges) {
      f.local = L.raw;
      f.nlocal = L.nraw;
      f.remote = R.raw;
      f.nremote = R.nraw;
    } else {
      for (size_t i = 0; i < L.n; i++)
        lr[i] = (struct bc_range){L.list[i], L.list[i]};
      for (size_t i = 0; i < R.n; i++)
        rr[i] = (struct bc_range){R.list[i], R.list[i]};
      f.local = lr;
      f.nlocal = L.n;
      f.remote = rr;
      f.nremote = R.n;
    }
    return bc_compile_filter(&f, flags, *out, cap, len);
  }
  if (use_ranges)
    return bc_compile(L.raw, L.nraw, R.raw, R.nraw, flags, *out, cap, len);
  return bcm_compile_ports(L.list, L.n, R.list, R.n, flags, *out, cap, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  unsigned flags;
  size_t cap, i = 1;
  uint8_t *prog = NULL;
  size_t len;
  int ret;

  if (size < 1)
    return 0;
  memset(L.bits, 0, sizeof(L.bits));
  memset(R.bits, 0, sizeof(R.bits));
  L.nraw = R.nraw = 0;
  use_ranges = (data[0] & 16) != 0;
  nsamples = 0;
  nhsamples = 0;
  nterms_used = 0;
  memset(T, 0, sizeof(T));
  budget = (data[0] & 8) ? ADD_BUDGET_LARGE : ADD_BUDGET_SMALL;
  flags = (data[0] & 1) ? BC_NO_EQ : 0;
  switch ((data[0] >> 1) & 3) {
  case 0:
    cap = BC_MAX_LEN;
    break;
  case 1:
    cap = size >= 3 ? (size_t)data[1] | (size_t)data[2] << 8 : BC_MAX_LEN;
    i = 3;
    break;
  case 2:
    cap = BC_MAX_LEN + 4096;
    break;
  default:
    cap = size >= 2 ? (size_t)data[1] * 4 : 64;
    i = 2;
    break;
  }

  for (; i + 4 <= size; i += 4) {
    uint8_t op = data[i], param = data[i + 3];
    uint32_t port = (uint32_t)data[i + 1] | (uint32_t)data[i + 2] << 8;
    struct set *sets[2];
    size_t nsets = 0;

    if (op & 16) {
      struct fterm *t = &T[op >> 5];
      bool remote = (op & 4) != 0;
      switch (op & 3) {
      case 0:
      case 1: {
        uint32_t lo = port ? port : 1, hi = (op & 1) ? lo + param : lo;
        if (hi > 65535)
          hi = 65535;
        if (remote && t->nrp < TERM_MAX)
          t->rp[t->nrp++] = (struct bc_range){(uint16_t)lo, (uint16_t)hi};
        else if (!remote && t->nlp < TERM_MAX)
          t->lp[t->nlp++] = (struct bc_range){(uint16_t)lo, (uint16_t)hi};
        break;
      }
      case 2: {
        struct bc_host h;
        unsigned max;
        h.family = (param & 0x80) ? AF_INET6 : AF_INET;
        max = h.family == AF_INET ? 32 : 128;
        h.prefix_len = (uint8_t)((param & 0x7f) > max ? max : (param & 0x7f));
        host_addr(h.family, port, h.addr);
        if (remote && t->ndst < TERM_MAX)
          t->dst[t->ndst++] = h;
        else if (!remote && t->nsrc < TERM_MAX)
          t->src[t->nsrc++] = h;
        break;
      }
      default: {
        struct bcm_sock sk;
        memset(&sk, 0, sizeof(sk));
        sk.family = (param & 1) ? AF_INET6 : AF_INET;
        host_addr(sk.family, port, sk.src);
        host_addr(sk.family, (uint32_t)param << 1 | (port >> 15), sk.dst);
        sk.sport = (uint16_t)(port ^ 0x5a5a);
        sk.dport = (uint16_t)(param * 257u);
        if (param & 2) { /* IPv4-mapped */
          uint8_t a[16], b[16];
          host_addr(AF_INET, port, a);
          host_addr(AF_INET, param, b);
          sk.family = AF_INET6;
          memset(sk.src, 0, 16);
          memset(sk.dst, 0, 16);
          sk.src[10] = sk.src[11] = sk.dst[10] = sk.dst[11] = 0xff;
          memcpy(sk.src + 12, a, 4);
          memcpy(sk.dst + 12, b, 4);
        }
        add_hsample(&sk);
        break;
      }
      }
      continue;
    }
    if (op & 8) {
      sets[nsets++] = &L;
      sets[nsets++] = &R;
    } else {
      sets[nsets++] = (op & 4) ? &R : &L;
    }
    for (size_t k = 0; k < nsets; k++) {
      struct set *s = sets[k];
      switch (op & 3) {
      case 0:
        set_add_range(s, port, port);
        break;
      case 1:
        set_add_range(s, port, port + param);
        break;
      case 2:
        for (uint32_t j = 0; j <= 16u * param; j++)
          set_add_range(s, port + 2 * j, port + 2 * j);
        break;
      default:
        break;
      }
    }
    if ((op & 3) == 3)
      add_sample((uint16_t)port, (uint16_t)(port ^ (uint32_t)param << 8));
  }
  set_finish(&L);
  set_finish(&R);
  for (size_t k = 0; k < NTERMS; k++)
    if (term_used(&T[k]))
      bterms[nterms_used++] = (struct bc_term){.local = T[k].lp,
                                               .nlocal = T[k].nlp,
                                               .remote = T[k].rp,
                                               .nremote = T[k].nrp,
                                               .src = T[k].src,
                                               .nsrc = T[k].nsrc,
                                               .dst = T[k].dst,
                                               .ndst = T[k].ndst};

  ret = compile(cap, &prog, &len, flags);
  if (L.n == 0 && R.n == 0 && nterms_used == 0) {
    if (ret != -EINVAL)
      fail("empty sets must give -EINVAL");
    free(prog);
    return 0;
  }
  if (ret == -ENOMEM) { /* only under memory pressure: not a finding */
    free(prog);
    return 0;
  }
  if (ret == -E2BIG) {
    size_t total = L.nranges + R.nranges;
    int full_fails = 1;
    if (cap < BC_MAX_LEN) {
      uint8_t *full;
      size_t flen;
      int r2 = compile(BC_MAX_LEN, &full, &flen, flags);
      if (r2 == 0 && flen <= cap)
        fail("-E2BIG although the program fits the capacity");
      full_fails = r2 != 0;
      free(full);
    }
    /* a term costs at most 28 bytes a range and 32 a host (an IPv6
     * condition and its JMP) */
    for (size_t k = 0; k < nterms_used; k++)
      total += bterms[k].nlocal + bterms[k].nremote +
               (bterms[k].nsrc + bterms[k].ndst + 1) * 32 / 28 + 1;
    if (full_fails && 28 * total + 16 <= BC_MAX_LEN)
      fail("-E2BIG for sets whose program must fit BC_MAX_LEN");
    free(prog);
    return 0;
  }
  if (ret != 0)
    fail("bc_compile returned neither 0, -EINVAL nor -E2BIG");

  if (len == 0 || len % 4 != 0 || len > cap || len > BC_MAX_LEN)
    fail("program length out of range");
  for (size_t k = len; k < cap; k++)
    if (prog[k] != CANARY)
      fail("byte written past the program's length");
  if (bcm_audit(prog, len) != 0)
    fail("the kernel's audit would refuse the program");

  /* The same program at exactly its length, and -E2BIG just below. */
  {
    uint8_t *again;
    size_t alen;
    if (compile(len, &again, &alen, flags) != 0 || alen != len ||
        memcmp(again, prog, len) != 0)
      fail("compiling with cap = len gives another result");
    free(again);
    if (compile(len - 4, &again, &alen, flags) != -E2BIG)
      fail("compiling with cap = len - 4 does not give -E2BIG");
    free(again);
  }

  /* Verdicts. */
  {
    static uint16_t probe[512 + 512 + 8];
    size_t np = 0;
    unsigned bound = op_bound();

    probe[np++] = 0;
    probe[np++] = 1;
    probe[np++] = 65535;
    range_samples(&L, probe, &np);
    {
      size_t before = np;
      uint16_t tmp[512];
      size_t nt = 0;
      range_samples(&R, tmp, &nt);
      memcpy(probe + before, tmp, nt * sizeof(tmp[0]));
      np += nt;
    }
    for (size_t k = 0; k < np; k++) {
      check_run(prog, len, probe[k], 0, bound);
      check_run(prog, len, 0, probe[k], bound);
      check_run(prog, len, probe[k], probe[(k * 7 + 3) % np], bound);
    }
    if (nterms_used == 0)
      for (size_t k = 0; k < nsamples; k++) {
        check_run(prog, len, samples[k][0], samples[k][1], bound);
        check_run(prog, len, samples[k][1], samples[k][0], bound);
      }
  }
  if (nterms_used > 0) {
    unsigned bound = op_bound() + term_bound();
    host_samples();
    for (size_t k = 0; k < nhsamples; k++)
      check_run_sock(prog, len, &hsamples[k], bound);
    for (size_t k = 0; k < nsamples; k++) {
      struct bcm_sock s = {
          .family = AF_INET, .sport = samples[k][0], .dport = samples[k][1]};
      check_run_sock(prog, len, &s, bound);
    }
  }
  free(prog);
  return 0;
}
