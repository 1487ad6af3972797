/* SPDX-License-Identifier: MIT */
/* libFuzzer target: <Connections> blocks from arbitrary names, keys and
 * values (conns_begin, conns_apply, conns_finish), then the user-space
 * matcher against the kernel filter compiled for each block.
 *
 * Input: NUL-separated fields: a name, then key, value, key, value, ...;
 * a field "\x01" starts the next block (with the name after it). At most
 * 8 blocks and 64 options. The last 8 bytes of the input, if any, seed
 * the sample sockets.
 *
 * Checks:
 *   - every error is non-empty, starts with <Connections "NAME"> (the
 *     name as given, also an invalid one; values are quoted verbatim, as
 *     options.c does) and the call returns -1;
 *   - conns_begin() succeeds iff instance_name_valid() and the name is not
 *     already used (case-insensitive);
 *   - after a successful conns_apply() every stored value is sound: ports
 *     1..65535 with lo <= hi; hosts AF_INET/AF_INET6 with the prefix
 *     within the address and no bit set past it; an address value without
 *     '/' is accepted iff inet_pton() accepts it (then a full prefix);
 *   - conns_finish() succeeds iff the block has a port or an address;
 *   - each finished block compiles alone (bc_compile_filter, one term),
 *     passes the model's audit, and for 256 sockets (IPv4, IPv6,
 *     IPv4-mapped; addresses and ports near the block's values) the model
 *     running the program and conns_match() agree. */
#include "bc_model.h"
#include "bytecode.h"
#include "conn_blocks.h"
#include "instance_name.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BLOCKS 8
#define MAX_OPTIONS 64

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_conns: %s: %s\n", what, detail);
  abort();
}

static uint64_t rng;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void check_error(int ret, const char *err, const char *name) {
  char prefix[128];

  if (ret != -1)
    fail("an error must return -1", err);
  snprintf(prefix, sizeof(prefix), "<Connections \"%s\">", name);
  if (err[0] == '\0' ||
      (strlen(name) < 60 && strncmp(err, prefix, strlen(prefix)) != 0))
    fail("an error must name the block", err);
}

static void check_values(const struct config_conns *b) {
  const struct bc_range *r[2] = {b->lports, b->rports};
  const struct bc_host *h[2] = {b->laddrs, b->raddrs};
  size_t nr[2] = {b->nlports, b->nrports}, nh[2] = {b->nladdrs, b->nraddrs};

  for (int d = 0; d < 2; d++) {
    for (size_t i = 0; i < nr[d]; i++)
      if (r[d][i].lo < 1 || r[d][i].lo > r[d][i].hi)
        fail("a stored port range is not within 1..65535", b->name);
    for (size_t i = 0; i < nh[d]; i++) {
      unsigned max = h[d][i].family == AF_INET ? 32 : 128;
      if ((h[d][i].family != AF_INET && h[d][i].family != AF_INET6) ||
          h[d][i].prefix_len > max)
        fail("a stored host has a bad family or prefix", b->name);
      for (unsigned bit = h[d][i].prefix_len; bit < max; bit++)
        if (h[d][i].addr[bit / 8] & (0x80u >> (bit % 8)))
          fail("a stored host has a bit set past its prefix", b->name);
    }
  }
}

/* A single address without '/': accepted iff inet_pton() accepts it. */
static void check_plain_address(const char *value, bool accepted) {
  uint8_t a[16];
  bool ok;

  if (strlen(value) >= 100 || strpbrk(value, "/ \t") != NULL ||
      value[0] == '\0')
    return;
  ok = inet_pton(AF_INET, value, a) == 1 || inet_pton(AF_INET6, value, a) == 1;
  if (ok != accepted)
    fail("an address is accepted iff inet_pton accepts it", value);
}

static void near(const struct bc_host *h, size_t n, uint8_t family,
                 uint8_t *out) {
  memset(out, 0, 16);
  if (n > 0 && rnd(4) != 0) {
    const struct bc_host *p = &h[rnd((uint32_t)n)];
    if (p->family == family) {
      memcpy(out, p->addr, 16);
    } else if (family == AF_INET6) { /* an IPv4 host as IPv4-mapped */
      out[10] = out[11] = 0xff;
      memcpy(out + 12, p->addr, 4);
    }
    if (rnd(2)) {
      unsigned bit = rnd(family == AF_INET ? 32 : 128);
      out[bit / 8] ^= (uint8_t)(0x80u >> (bit % 8));
    }
    return;
  }
  for (int i = 0; i < 16; i++)
    out[i] = (uint8_t)rnd(256);
}

static uint16_t near_port(const struct bc_range *r, size_t n) {
  if (n > 0 && rnd(4) != 0) {
    const struct bc_range *p = &r[rnd((uint32_t)n)];
    return (uint16_t)(rnd(2) ? p->lo - rnd(2) : p->hi + rnd(2));
  }
  return (uint16_t)rnd(65536);
}

static void check_matcher(const struct config_conns *b) {
  static uint8_t prog[BC_MAX_LEN];
  struct bc_term t = conns_term(b);
  struct bc_filter f = {.terms = &t, .nterms = 1};
  size_t len;
  int err = bc_compile_filter(&f, 0, prog, sizeof(prog), &len);

  if (err == -E2BIG || err == -ENOMEM)
    return;
  if (err != 0)
    fail("a finished block does not compile", b->name);
  if (bcm_audit(prog, len) != 0)
    fail("the audit refuses a block's program", b->name);
  for (int k = 0; k < 256; k++) {
    struct bcm_sock s;
    int kernel;
    bool user;

    s.family = rnd(2) ? AF_INET : AF_INET6;
    near(b->laddrs, b->nladdrs, s.family, s.src);
    near(b->raddrs, b->nraddrs, s.family, s.dst);
    s.sport = near_port(b->lports, b->nlports);
    s.dport = near_port(b->rports, b->nrports);
    kernel = bcm_run_sock(prog, len, &s, NULL);
    user = conns_match(b, s.family, s.sport, s.dport, s.src, s.dst);
#ifdef FUZZ_SELFTEST
    /* A wrong expectation: "IPv4-mapped sockets never match". */
    if (s.family == AF_INET6 && s.src[10] == 0xff && s.src[11] == 0xff)
      user = false;
#endif
    if (kernel != (int)user)
      fail("conns_match() and the kernel filter disagree", b->name);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct collector_config cfg;
  char *buf, *fields[2 * MAX_OPTIONS + 2 * MAX_BLOCKS + 2];
  char err[512], name[256];
  size_t nf = 0, i = 0;

  if (size > 8) {
    memcpy(&rng, data + size - 8, 8);
    size -= 8;
  }
  rng |= 1;
  buf = malloc(size + 1);
  if (buf == NULL)
    return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  for (size_t p = 0; p <= size && nf < sizeof(fields) / sizeof(fields[0]);) {
    fields[nf++] = buf + p;
    p += strlen(buf + p) + 1;
  }
  config_init(&cfg);
  while (i < nf) {
    const char *why;
    size_t before = cfg.nconns;
    bool dup = false;
    int ret;

    if (cfg.nconns >= MAX_BLOCKS)
      break;
    snprintf(name, sizeof(name), "%s", fields[i++]);
    for (size_t k = 0; k < cfg.nconns; k++)
      dup |= strcasecmp(cfg.conns[k].name, name) == 0;
    err[0] = '\0';
    ret = conns_begin(&cfg, name, err, sizeof(err));
    if ((ret == 0) != (instance_name_valid(name, &why) && !dup))
      fail("conns_begin() and the name rule disagree", name);
    if (ret != 0) {
      check_error(ret, err, name);
      if (cfg.nconns != before)
        fail("a refused block was added", name);
      while (i < nf && strcmp(fields[i], "\x01") != 0)
        i++;
      i++;
      continue;
    }
    while (i + 1 < nf && strcmp(fields[i], "\x01") != 0) {
      const char *key = fields[i], *value = fields[i + 1];
      bool addr = strcasecmp(key, "LocalAddress") == 0 ||
                  strcasecmp(key, "RemoteAddress") == 0;

      i += 2;
      err[0] = '\0';
      ret = conns_apply(&cfg, key, value, err, sizeof(err));
      if (ret != 0)
        check_error(ret, err, name);
      else
        check_values(&cfg.conns[cfg.nconns - 1]);
      if (addr)
        check_plain_address(value, ret == 0);
    }
    if (i < nf && strcmp(fields[i], "\x01") == 0)
      i++;
    {
      const struct config_conns *b = &cfg.conns[cfg.nconns - 1];
      bool has = b->nlports + b->nrports + b->nladdrs + b->nraddrs > 0;
      err[0] = '\0';
      ret = conns_finish(&cfg, err, sizeof(err));
      if ((ret == 0) != has)
        fail("conns_finish() must succeed iff there is a condition", name);
      if (ret != 0)
        check_error(ret, err, name);
      else
        check_matcher(b);
    }
  }
  config_destroy(&cfg);
  free(buf);
  return 0;
}
