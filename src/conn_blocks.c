/* SPDX-License-Identifier: MIT */
#include "conn_blocks.h"

#include "tcp_state.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEYS "LocalPort, RemotePort, LocalAddress, RemoteAddress, States"

/* "<Connections "NAME">: " then the message. */
__attribute__((format(printf, 4, 5))) static int
block_error(const struct config_conns *b, char *err, size_t errlen,
            const char *fmt, ...) {
  size_t used;
  va_list ap;

  snprintf(err, errlen, "<Connections \"%s\">: ", b->name);
  used = strlen(err);
  va_start(ap, fmt);
  vsnprintf(err + used, errlen - used, fmt, ap);
  va_end(ap);
  return -1;
}

int conns_begin(struct collector_config *cfg, const char *name, char *err,
                size_t errlen) {
  struct config_conns *grown, *b;
  const char *why = NULL;

  if (!instance_name_valid(name, &why)) {
    snprintf(err, errlen, "<Connections \"%s\">: invalid name: %s", name, why);
    return -1;
  }
  for (size_t i = 0; i < cfg->nconns; i++)
    if (strcasecmp(cfg->conns[i].name, name) == 0) {
      snprintf(err, errlen,
               "<Connections \"%s\">: the name is already used by "
               "<Connections \"%s\"> (names differ in more than case)",
               name, cfg->conns[i].name);
      return -1;
    }
  if (cfg->nconns >= CONFIG_MAX_CONNS) {
    snprintf(err, errlen, "<Connections \"%s\">: more than %d blocks", name,
             CONFIG_MAX_CONNS);
    return -1;
  }
  grown = realloc(cfg->conns, (cfg->nconns + 1) * sizeof(*grown));
  if (grown == NULL) {
    snprintf(err, errlen, "<Connections \"%s\">: %s", name, strerror(ENOMEM));
    return -1;
  }
  cfg->conns = grown;
  b = &cfg->conns[cfg->nconns++];
  memset(b, 0, sizeof(*b));
  snprintf(b->name, sizeof(b->name), "%s", name);
  b->states = TCS_MASK_ALL;
  return 0;
}

/* Digits only, with collectd's rendering of a number ("5432.000000")
 * allowed; 1..65535. */
static bool parse_port_number(const char *s, size_t n, uint16_t *port) {
  unsigned long v = 0;
  size_t i = 0;

  if (n == 0 || !isdigit((unsigned char)s[0]))
    return false;
  for (; i < n && isdigit((unsigned char)s[i]); i++) {
    v = v * 10 + (unsigned long)(s[i] - '0');
    if (v > 65535)
      return false;
  }
  if (i < n && s[i] == '.')
    for (i++; i < n && s[i] == '0'; i++)
      ;
  if (i != n || v < 1)
    return false;
  *port = (uint16_t)v;
  return true;
}

/* Room for one more value of key in *arr, an array of n values of size
 * bytes (struct bc_range or struct bc_host). 0, or -1 with the error. */
static int grow_values(const struct config_conns *b, const char *key,
                       const char *tok, void **arr, size_t n, size_t size,
                       char *err, size_t errlen) {
  void *grown;

  if (n >= CONFIG_MAX_CONNS_VALUES)
    return block_error(b, err, errlen, "%s \"%s\": more than %d values", key,
                       tok, CONFIG_MAX_CONNS_VALUES);
  grown = realloc(*arr, (n + 1) * size);
  if (grown == NULL)
    return block_error(b, err, errlen, "%s \"%s\": %s", key, tok,
                       strerror(ENOMEM));
  *arr = grown;
  return 0;
}

static int add_port(struct config_conns *b, const char *key, bool local,
                    const char *tok, char *err, size_t errlen) {
  const char *dash = strchr(tok, '-');
  struct bc_range r, **arr = local ? &b->lports : &b->rports;
  void *room;
  size_t *n = local ? &b->nlports : &b->nrports;

  if (dash == NULL ? !parse_port_number(tok, strlen(tok), &r.lo)
                   : !parse_port_number(tok, (size_t)(dash - tok), &r.lo) ||
                         !parse_port_number(dash + 1, strlen(dash + 1), &r.hi))
    return block_error(b, err, errlen,
                       "%s \"%s\": invalid port, expected 1 to 65535 or a "
                       "range LOW-HIGH",
                       key, tok);
  if (dash == NULL)
    r.hi = r.lo;
  if (r.lo > r.hi)
    return block_error(b, err, errlen,
                       "%s \"%s\": invalid port range, LOW is above HIGH", key,
                       tok);
  room = *arr;
  if (grow_values(b, key, tok, &room, *n, sizeof(r), err, errlen) != 0)
    return -1;
  *arr = room;
  (*arr)[(*n)++] = r;
  return 0;
}

int conns_parse_host(const char *text, struct bc_host *h, char *why,
                     size_t whylen) {
  char addr[INET6_ADDRSTRLEN + 8];
  const char *slash = strchr(text, '/');
  size_t alen = slash != NULL ? (size_t)(slash - text) : strlen(text);
  unsigned max, prefix;

  memset(h, 0, sizeof(*h));
  if (alen == 0 || alen >= sizeof(addr)) {
    snprintf(why, whylen, "not an IPv4 or IPv6 address");
    return -1;
  }
  memcpy(addr, text, alen);
  addr[alen] = '\0';
  if (inet_pton(AF_INET, addr, h->addr) == 1) {
    h->family = AF_INET;
    max = 32;
  } else if (inet_pton(AF_INET6, addr, h->addr) == 1) {
    h->family = AF_INET6;
    max = 128;
  } else {
    snprintf(why, whylen, "not an IPv4 or IPv6 address");
    return -1;
  }
  prefix = max;
  if (slash != NULL) {
    const char *p = slash + 1;

    prefix = 0;
    if (*p == '\0') {
      snprintf(why, whylen, "no prefix length after '/'");
      return -1;
    }
    for (; *p != '\0'; p++) {
      if (!isdigit((unsigned char)*p)) {
        snprintf(why, whylen, "the prefix length is not a number");
        return -1;
      }
      prefix = prefix * 10 + (unsigned)(*p - '0');
      if (prefix > 1000)
        break;
    }
    if (prefix > max) {
      snprintf(why, whylen, "the prefix length is beyond /%u for an %s address",
               max, max == 32 ? "IPv4" : "IPv6");
      return -1;
    }
  }
  h->prefix_len = (uint8_t)prefix;
  /* Refused, not masked: "10.1.2.3/16" is more likely a typo for a host
   * or for another network than a way to write 10.1.0.0/16. */
  for (unsigned bit = prefix; bit < max; bit++)
    if (h->addr[bit / 8] & (0x80u >> (bit % 8))) {
      struct bc_host net = *h;
      char shown[INET6_ADDRSTRLEN];

      for (unsigned k = prefix; k < max; k++)
        net.addr[k / 8] &= (uint8_t) ~(0x80u >> (k % 8));
      inet_ntop(h->family, net.addr, shown, sizeof(shown));
      snprintf(why, whylen,
               "host bits set past the /%u prefix (the network is %s/%u)",
               prefix, shown, prefix);
      return -1;
    }
  return 0;
}

static int add_host(struct config_conns *b, const char *key, bool local,
                    const char *tok, char *err, size_t errlen) {
  struct bc_host h, **arr = local ? &b->laddrs : &b->raddrs;
  void *room;
  size_t *n = local ? &b->nladdrs : &b->nraddrs;
  char why[160];

  if (conns_parse_host(tok, &h, why, sizeof(why)) != 0)
    return block_error(b, err, errlen, "%s \"%s\": %s", key, tok, why);
  room = *arr;
  if (grow_values(b, key, tok, &room, *n, sizeof(h), err, errlen) != 0)
    return -1;
  *arr = room;
  (*arr)[(*n)++] = h;
  return 0;
}

static int add_state(struct config_conns *b, const char *tok, uint32_t *mask,
                     char *err, size_t errlen) {
  char valid[160];
  size_t used = 0;

  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (strcasecmp(tok, tcs_names[st]) == 0) {
      *mask |= 1u << st;
      return 0;
    }
  valid[0] = '\0';
  for (int st = TCS_MIN; st <= TCS_MAX && used < sizeof(valid); st++)
    used += (size_t)snprintf(valid + used, sizeof(valid) - used, "%s%s",
                             tcs_names[st], st < TCS_MAX ? " " : "");
  return block_error(b, err, errlen, "States \"%s\": unknown state; valid: %s",
                     tok, valid);
}

int conns_apply(struct collector_config *cfg, const char *key,
                const char *value, char *err, size_t errlen) {
  static const char *const keys[] = {"LocalPort", "RemotePort", "LocalAddress",
                                     "RemoteAddress", "States"};
  struct config_conns *b = &cfg->conns[cfg->nconns - 1];
  char buf[1024], *save = NULL, *tok;
  uint32_t mask = 0;
  int k, ntok = 0;

  if (key == NULL)
    return block_error(b, err, errlen, "an option without a name");
  for (k = 0; k < 5; k++)
    if (strcasecmp(key, keys[k]) == 0)
      break;
  if (k == 5)
    return block_error(b, err, errlen,
                       "unknown option \"%s\" (valid: " KEYS ")", key);
  if (value == NULL || strlen(value) >= sizeof(buf))
    return block_error(b, err, errlen, "%s: value too long", keys[k]);
  snprintf(buf, sizeof(buf), "%s", value);
  for (tok = strtok_r(buf, " \t", &save); tok != NULL;
       tok = strtok_r(NULL, " \t", &save)) {
    int ret;

    ntok++;
    if (k <= 1)
      ret = add_port(b, keys[k], k == 0, tok, err, errlen);
    else if (k <= 3)
      ret = add_host(b, keys[k], k == 2, tok, err, errlen);
    else
      ret = add_state(b, tok, &mask, err, errlen);
    if (ret != 0)
      return ret;
  }
  if (ntok == 0)
    return block_error(b, err, errlen, "%s \"\": the option needs a value",
                       keys[k]);
  if (k == 4) {
    /* The first States line replaces the default (all); later ones add. */
    b->states = b->states_given ? b->states | mask : mask;
    b->states_given = true;
  }
  return 0;
}

int conns_finish(struct collector_config *cfg, char *err, size_t errlen) {
  struct config_conns *b = &cfg->conns[cfg->nconns - 1];

  if (b->nlports + b->nrports + b->nladdrs + b->nraddrs == 0)
    return block_error(b, err, errlen,
                       "no condition: give at least one LocalPort, "
                       "RemotePort, LocalAddress or RemoteAddress");
  return 0;
}

static bool port_in(const struct bc_range *r, size_t n, uint16_t port) {
  for (size_t i = 0; i < n; i++)
    if (port >= r[i].lo && port <= r[i].hi)
      return true;
  return false;
}

static bool host_in(const struct bc_host *h, size_t n, uint8_t family,
                    const uint8_t *addr) {
  for (size_t i = 0; i < n; i++)
    if (conns_host_match(&h[i], family, addr))
      return true;
  return false;
}

bool conns_match(const struct config_conns *b, uint8_t family, uint16_t sport,
                 uint16_t dport, const uint8_t *src, const uint8_t *dst) {
  return (b->nlports == 0 || port_in(b->lports, b->nlports, sport)) &&
         (b->nrports == 0 || port_in(b->rports, b->nrports, dport)) &&
         (b->nladdrs == 0 || host_in(b->laddrs, b->nladdrs, family, src)) &&
         (b->nraddrs == 0 || host_in(b->raddrs, b->nraddrs, family, dst));
}

struct bc_term conns_term(const struct config_conns *b) {
  return (struct bc_term){.local = b->lports,
                          .nlocal = b->nlports,
                          .remote = b->rports,
                          .nremote = b->nrports,
                          .src = b->laddrs,
                          .nsrc = b->nladdrs,
                          .dst = b->raddrs,
                          .ndst = b->nraddrs};
}

uint32_t conns_states(const struct collector_config *cfg) {
  uint32_t states = 0;

  for (size_t i = 0; i < cfg->nconns; i++)
    states |= cfg->conns[i].states;
  return states;
}
