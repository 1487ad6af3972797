/* SPDX-License-Identifier: MIT */
/* libFuzzer target: options_apply() with arbitrary keys and values
 * against a fresh collector, then options_finish(), checked against an
 * independent reading of the documented rules (README, "Options").
 *
 * Input: key NUL value NUL key NUL value ... (at most 64 options). A key
 * with no value after it (the input ends) is applied with value NULL.
 * Options after a failing one are still applied (collectd stops at the
 * first error; the core must stay consistent anyway).
 *
 * Reference, per option (keys in any case):
 *   value NULL or ""                     -> -1 ("needs a value")
 *   ListeningPorts, AllPortsSummary,     -> 0; true iff true/yes/on (any
 *   ReportAcceptQueue, ReportSelf           case); a warning unless the
 *                                           value is true/yes/on/false/no/off
 *   LocalPort / RemotePort "A-B" (blanks -> a range: A < B within 1..65535:
 *     allowed around the dash, digits       0 and one range instance (the
 *     only otherwise)                       same range twice is one); A == B
 *                                           a single port; else -1
 *   LocalPort / RemotePort otherwise     -> the value read as atoi() does
 *                                           (saturating); 1..65535: 0 and the
 *                                           port configured, with a warning
 *                                           unless it is [+]digits[.0*];
 *                                           else -1 naming the value
 *   States "NAME NAME..." (blanks/tabs)  -> every name one of the eleven
 *                                           states (any case) and at least
 *                                           one: 0, the first States line
 *                                           replaces the default, later ones
 *                                           add; else -1
 *   anything else                        -> -1 naming the key
 * and after options_finish: listening ports are reported if
 * ListeningPorts was true or if there is neither AllPortsSummary nor any
 * port or range. Every error and warning is a NUL-terminated, non-empty
 * line; the dispatch list has "all" iff AllPortsSummary, one N-local block
 * per local port and one N-remote block per remote port, ports newest
 * first, then one A-B-local / A-B-remote block per range in configuration
 * order. Any difference aborts. */
#include "collector_private.h"
#include "report_blocks.h"
#include "options.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_OPTIONS 64
#define ERRLEN 512 /* as the collectd glue */

static struct collector c;
static struct collector_config cfg;

struct ref_range {
  long lo, hi;
  uint8_t flag;
};

struct ref {
  bool listening, all, queue, self, states_given;
  uint32_t states;
  uint8_t flags[65536]; /* PT_LOCAL | PT_REMOTE */
  uint16_t order[2 * MAX_OPTIONS];
  unsigned norder;
  struct ref_range ranges[2 * MAX_OPTIONS];
  unsigned nranges;
};
static struct ref ref;

static unsigned nwarn;

static void fail(const char *what) {
  fprintf(stderr, "fuzz_options: %s\n", what);
  abort();
}

static void on_warn(void *ctx, const char *message) {
  (void)ctx;
  if (message == NULL || message[0] == '\0')
    fail("empty warning");
  if (strnlen(message, 4096) >= 4096)
    fail("warning not terminated");
  nwarn++;
}

static bool eq_nocase(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return false;
  return *a == *b;
}

/* atoi()'s reading: leading white space, a sign, digits; saturating. */
static long ref_atoi(const char *s) {
  long v = 0;
  bool neg = false;

  while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
    s++;
  if (*s == '+' || *s == '-')
    neg = *s++ == '-';
  for (; *s >= '0' && *s <= '9'; s++) {
    if (v > 1000000) /* far past 65535: the exact value no longer matters */
      v = 1000001;
    else
      v = v * 10 + (*s - '0');
  }
  return neg ? -v : v;
}

static bool clean_integer(const char *s) {
  if (*s == '+')
    s++;
  if (!(*s >= '0' && *s <= '9'))
    return false;
  while (*s >= '0' && *s <= '9')
    s++;
  if (*s == '.')
    for (s++; *s == '0'; s++)
      ;
  return *s == '\0';
}

static const char *const state_names[12] = {
    "",           "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
    "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSED",
    "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING",
};

static bool is_blank(char ch) {
  return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* "A-B": digits, blanks allowed around the dash and at both ends. */
static bool ref_range(const char *s, long *lo, long *hi) {
  long *v[2] = {lo, hi};

  for (int k = 0; k < 2; k++) {
    while (is_blank(*s))
      s++;
    if (!(*s >= '0' && *s <= '9'))
      return false;
    *v[k] = 0;
    for (; *s >= '0' && *s <= '9'; s++)
      *v[k] = *v[k] > 1000000 ? 1000001 : *v[k] * 10 + (*s - '0');
    while (is_blank(*s))
      s++;
    if (k == 0 && *s++ != '-')
      return false;
  }
  return *s == '\0';
}

static int ref_port(bool local, const char *value, unsigned *warns) {
  uint8_t flag = local ? PT_LOCAL : PT_REMOTE;
  long v, lo, hi;

  if (ref_range(value, &lo, &hi)) {
    if (lo < 1 || hi > 65535 || lo > hi)
      return -1;
    if (lo < hi) {
      for (unsigned i = 0; i < ref.nranges; i++)
        if (ref.ranges[i].lo == lo && ref.ranges[i].hi == hi &&
            ref.ranges[i].flag == flag)
          return 0;
      ref.ranges[ref.nranges++] = (struct ref_range){lo, hi, flag};
      return 0;
    }
    v = lo;
  } else {
    v = ref_atoi(value);
    if (v < 1 || v > 65535)
      return -1;
    if (!clean_integer(value))
      *warns = 1;
  }
  if (ref.flags[v] == 0)
    ref.order[ref.norder++] = (uint16_t)v;
  ref.flags[v] |= flag;
  return 0;
}

static int ref_states(const char *value) {
  uint32_t mask = 0;
  const char *p = value;

  for (;;) {
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0')
      break;
    size_t n = strcspn(p, " \t");
    int st;
    for (st = 1; st <= 11; st++)
      if (strlen(state_names[st]) == n &&
          strncasecmp(p, state_names[st], n) == 0)
        break;
    if (st > 11)
      return -1;
    mask |= 1u << st;
    p += n;
  }
  if (mask == 0)
    return -1;
  ref.states = ref.states_given ? ref.states | mask : mask;
  ref.states_given = true;
  return 0;
}

/* Expected return; applies the option to ref; the warnings expected. */
static int ref_apply(const char *key, const char *value, unsigned *warns) {
  static const char *const bools[] = {"ListeningPorts", "AllPortsSummary",
                                      "ReportAcceptQueue", "ReportSelf"};
  bool *const targets[] = {&ref.listening, &ref.all, &ref.queue, &ref.self};

  *warns = 0;
  if (value == NULL || value[0] == '\0')
    return -1;
  for (size_t i = 0; i < 4; i++) {
    if (!eq_nocase(key, bools[i]))
      continue;
    bool t = eq_nocase(value, "true") || eq_nocase(value, "yes") ||
             eq_nocase(value, "on");
    bool f = eq_nocase(value, "false") || eq_nocase(value, "no") ||
             eq_nocase(value, "off");
    if (!t && !f)
      *warns = 1;
    *targets[i] = t;
    return 0;
  }
  if (eq_nocase(key, "LocalPort") || eq_nocase(key, "RemotePort"))
    return ref_port(eq_nocase(key, "LocalPort"), value, warns);
  if (eq_nocase(key, "States"))
    return ref_states(value);
#ifdef FUZZ_SELFTEST
  /* A wrong expectation, to see the check fail: "Port" is "valid". */
  if (eq_nocase(key, "Port"))
    return 0;
#endif
  return -1;
}

/* The blocks expected, in order. */
static char expected[1 + 4 * MAX_OPTIONS][32];
static unsigned nexpected;

static void on_block(void *ctx, const char *inst, const uint32_t *counts) {
  unsigned *n = ctx;

  (void)counts;
  if (*n >= nexpected)
    fail("more blocks than the reference");
  if (strcmp(inst, expected[*n]) != 0) {
    fprintf(stderr, "fuzz_options: block %u is %s, expected %s\n", *n, inst,
            expected[*n]);
    fail("dispatch list differs from the reference");
  }
  (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *copy, *p, *end;
  char err[ERRLEN];
  unsigned nopt = 0;

  config_init(&cfg);
  memset(&ref, 0, sizeof(ref));
  ref.states = 0xffeu; /* the default: all eleven states, 1..11 */
  /* A terminated copy: every field ends in a NUL. */
  copy = malloc(size + 1);
  if (copy == NULL)
    fail("malloc");
  memcpy(copy, data, size);
  copy[size] = '\0';
  p = copy;
  end = copy + size;

  while (p < end && nopt < MAX_OPTIONS) {
    const char *key = p;
    const char *value = NULL;
    unsigned want_warn, before = nwarn;
    int want, got;

    p += strlen(p) + 1;
    if (p <= end) { /* a value follows (possibly empty) */
      value = p;
      p += strlen(p) + 1;
    }
    nopt++;
    memset(err, 0x55, sizeof(err));
    want = ref_apply(key, value, &want_warn);
    got = options_apply(&cfg, key, value, on_warn, NULL, err, sizeof(err));
    if (got != want) {
      fprintf(stderr, "fuzz_options: [%s] [%s]: got %d, reference %d\n", key,
              value ? value : "(NULL)", got, want);
      fail("return value differs from the reference");
    }
    if (got != 0) {
      size_t n = strnlen(err, sizeof(err));
      if (n == 0 || n >= sizeof(err))
        fail("error message empty or not terminated");
      /* Name the option (unknown key) or the value (bad port). */
      if (value != NULL && value[0] != '\0' &&
          strlen(key) + strlen(value) < 200 && strstr(err, value) == NULL &&
          strstr(err, key) == NULL)
        fail("error message names neither the option nor the value");
    }
    if (nwarn - before != want_warn) {
      fprintf(stderr, "fuzz_options: [%s] [%s]: %u warnings, reference %u\n",
              key, value ? value : "(NULL)", nwarn - before, want_warn);
      fail("warnings differ from the reference");
    }
  }
  free(copy);

  options_finish(&cfg);
  if (collector_init(&c, &cfg, &diag_io_kernel) != 0)
    fail("collector_init");
  bool want_listening =
      ref.listening || (!ref.all && ref.norder == 0 && ref.nranges == 0);
  if (cfg.listening != want_listening || cfg.all != ref.all ||
      cfg.report_accept_queue != ref.queue || cfg.report_self != ref.self)
    fail("booleans differ from the reference");
  if (cfg.report_states != ref.states || cfg.states_given != ref.states_given)
    fail("States differ from the reference");
  if (c.pt.norder != ref.norder)
    fail("number of configured ports differs");
  for (unsigned i = 0; i < ref.norder; i++) {
    uint16_t port = ref.order[i];
    uint16_t s = c.pt.slot_of[port];
    if (s == 0 || c.pt.slots[s - 1].port != port ||
        (c.pt.slots[s - 1].flags & (PT_LOCAL | PT_REMOTE)) != ref.flags[port])
      fail("port table differs from the reference");
  }
  if (c.pt.nranges != ref.nranges)
    fail("number of configured ranges differs");
  for (unsigned i = 0; i < ref.nranges; i++)
    if (c.pt.ranges[i].lo != ref.ranges[i].lo ||
        c.pt.ranges[i].hi != ref.ranges[i].hi ||
        c.pt.ranges[i].flags != ref.ranges[i].flag)
      fail("ranges differ from the reference");
  /* The range index the first read builds: every port maps to exactly the
   * ranges that hold it. */
  if (pt_finish_ranges(&c.pt) != 0)
    fail("pt_finish_ranges");
  for (unsigned d = 0; d < 2 && ref.nranges > 0; d++) {
    const struct pt_range_index *ri = &c.pt.range_index[d];
    uint8_t flag = d == 0 ? PT_LOCAL : PT_REMOTE;
    bool any = false;
    for (unsigned i = 0; i < ref.nranges; i++)
      any |= ref.ranges[i].flag == flag;
    if (!any)
      continue;
    if (ri->range_set_of == NULL)
      fail("no range index for a direction with ranges");
    /* Ports at and around every range boundary, and a spread of others. */
    static uint32_t probe[8 * MAX_OPTIONS + 64];
    unsigned np = 0;
    for (unsigned i = 0; i < ref.nranges; i++) {
      probe[np++] = (uint32_t)ref.ranges[i].lo - 1;
      probe[np++] = (uint32_t)ref.ranges[i].lo;
      probe[np++] = (uint32_t)ref.ranges[i].hi;
      probe[np++] = ((uint32_t)ref.ranges[i].hi + 1) & 0xffff;
    }
    for (uint32_t k = 0; k < 64; k++)
      probe[np++] = k * 1031 % 65536;
    for (unsigned j = 0; j < np; j++) {
      uint32_t port = probe[j];
      unsigned want = 0, got = 0;
      uint16_t set = ri->range_set_of[port];
      for (unsigned i = 0; i < ref.nranges; i++)
        want += ref.ranges[i].flag == flag && ref.ranges[i].lo <= (long)port &&
                (long)port <= ref.ranges[i].hi;
      if (set != 0)
        for (uint32_t k = ri->first[set]; k < ri->first[set + 1]; k++) {
          const struct pt_range *r = &c.pt.ranges[ri->members[k]];
          if (r->flags != flag || r->lo > port || port > r->hi)
            fail("range index lists a range that does not hold the port");
          got++;
        }
      if (got != want)
        fail("range index misses a range");
    }
  }

  /* "all" first, then ports newest first, -local before -remote, then
   * ranges. No read has run, so no port is listening. */
  nexpected = 0;
  if (ref.all)
    snprintf(expected[nexpected++], sizeof(expected[0]), "all");
  for (unsigned i = ref.norder; i-- > 0;) {
    uint16_t port = ref.order[i];
    if (ref.flags[port] & PT_LOCAL)
      snprintf(expected[nexpected++], sizeof(expected[0]), "%u-local",
               (unsigned)port);
    if (ref.flags[port] & PT_REMOTE)
      snprintf(expected[nexpected++], sizeof(expected[0]), "%u-remote",
               (unsigned)port);
  }
  for (unsigned i = 0; i < ref.nranges; i++)
    snprintf(expected[nexpected++], sizeof(expected[0]), "%ld-%ld-%s",
             ref.ranges[i].lo, ref.ranges[i].hi,
             ref.ranges[i].flag == PT_LOCAL ? "local" : "remote");
  unsigned nblocks = 0;
  report_each_block(&c, NULL, on_block, &nblocks);
  if (nblocks != nexpected)
    fail("fewer blocks than the reference");
  collector_destroy(&c);
  config_destroy(&cfg);
  return 0;
}
