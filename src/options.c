#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* collectd's IS_TRUE: true, yes, on (any case); anything else is false. */
static int parse_bool(const char *key, const char *value, bool *out,
                      tc_warn_fn warn, void *warn_ctx) {
  static const char *const yes[] = {"true", "yes", "on"};
  static const char *const no[] = {"false", "no", "off"};
  char msg[256];

  for (size_t i = 0; i < 3; i++) {
    if (strcasecmp(value, yes[i]) == 0) {
      *out = true;
      return 0;
    }
    if (strcasecmp(value, no[i]) == 0) {
      *out = false;
      return 0;
    }
  }
  *out = false;
  snprintf(msg, sizeof(msg),
           "%s \"%s\" is not a boolean; reading it as false, as tcpconns "
           "does. Write true or false.",
           key, value);
  warn(warn_ctx, msg);
  return 0;
}

/* A number as collectd renders it ("80.000000") is a clean integer. */
static bool is_clean_integer(const char *s) {
  const char *p = s;

  if (*p == '+')
    p++;
  if (!isdigit((unsigned char)*p))
    return false;
  while (isdigit((unsigned char)*p))
    p++;
  if (*p == '.') {
    p++;
    while (*p == '0')
      p++;
  }
  return *p == '\0';
}

/* atoi()'s reading, without its undefined overflow. */
static long atoi_like(const char *s) {
  long v;

  errno = 0;
  v = strtol(s, NULL, 10);
  if (errno == ERANGE)
    return v < 0 ? LONG_MIN : LONG_MAX;
  return v;
}

static int parse_port(const char *key, const char *value, uint16_t *port,
                      tc_warn_fn warn, void *warn_ctx, char *err,
                      size_t errlen) {
  long v = atoi_like(value);
  char msg[256];

  if (v < 1 || v > 65535) {
    snprintf(err, errlen, "%s \"%s\": invalid port, expected 1 to 65535",
             key, value);
    return -1;
  }
  if (!is_clean_integer(value)) {
    snprintf(msg, sizeof(msg),
             "%s \"%s\" is not a plain port number; reading it as %ld, as "
             "tcpconns does. Give one port per %s line.",
             key, value, v, key);
    warn(warn_ctx, msg);
  }
  *port = (uint16_t)v;
  return 0;
}

int tc_option_apply(struct tc_collector *c, const char *key,
                    const char *value, tc_warn_fn warn, void *warn_ctx,
                    char *err, size_t errlen) {
  uint16_t port;
  int ret;

  if (value == NULL || value[0] == '\0') {
    snprintf(err, errlen, "%s \"\": the option needs a value",
             key ? key : "(null)");
    return -1;
  }
  if (strcasecmp(key, "ListeningPorts") == 0)
    return parse_bool("ListeningPorts", value, &c->listening, warn, warn_ctx);
  if (strcasecmp(key, "AllPortsSummary") == 0)
    return parse_bool("AllPortsSummary", value, &c->all, warn, warn_ctx);
  if (strcasecmp(key, "LocalPort") == 0 || strcasecmp(key, "RemotePort") == 0) {
    bool local = strcasecmp(key, "LocalPort") == 0;
    const char *name = local ? "LocalPort" : "RemotePort";

    if (parse_port(name, value, &port, warn, warn_ctx, err, errlen) != 0)
      return -1;
    ret = pt_configure(&c->pt, port, local ? PT_LOCAL : PT_REMOTE);
    if (ret != 0) {
      snprintf(err, errlen, "%s \"%s\": %s", name, value, strerror(-ret));
      return -1;
    }
    return 0;
  }
  snprintf(err, errlen,
           "unknown option \"%s\" (valid: ListeningPorts, LocalPort, "
           "RemotePort, AllPortsSummary)",
           key);
  return -1;
}

void tc_options_finish(struct tc_collector *c) {
  if (!c->all && c->pt.norder == 0)
    c->listening = true;
}
