/* SPDX-License-Identifier: MIT */
#include "options.h"

#include "tcp_state.h"

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
                      options_warn_fn warn, void *warn_ctx) {
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
                      options_warn_fn warn, void *warn_ctx, char *err,
                      size_t errlen) {
  long v = atoi_like(value);
  char msg[256];

  if (v < 1 || v > 65535) {
    snprintf(err, errlen, "%s \"%s\": invalid port, expected 1 to 65535", key,
             value);
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

static const char *blanks_skipped(const char *p) {
  while (isspace((unsigned char)*p))
    p++;
  return p;
}

/* A decimal number at p, blanks around it allowed: its value in *v and
 * where what follows starts, or NULL. */
static const char *number_at(const char *p, long *v) {
  char *end;

  p = blanks_skipped(p);
  if (!isdigit((unsigned char)*p))
    return NULL;
  *v = strtol(p, &end, 10);
  return blanks_skipped(end);
}

/* "8000-8099": a range (issue: counted under one instance). 1 if value
 * has that shape, with *lo and *hi set; 0 otherwise. */
static int looks_like_range(const char *value, long *lo, long *hi) {
  const char *p = number_at(value, lo);

  if (p == NULL || *p != '-')
    return 0;
  p = number_at(p + 1, hi);
  return p != NULL && *p == '\0';
}

static int apply_port(struct collector_config *c, const char *name, bool local,
                      const char *value, options_warn_fn warn, void *warn_ctx,
                      char *err, size_t errlen) {
  enum port_dir dir = local ? DIR_LOCAL : DIR_REMOTE;
  uint16_t port;
  long lo, hi;
  int ret;

  if (looks_like_range(value, &lo, &hi)) {
    if (lo < 1 || hi > 65535 || lo > hi) {
      snprintf(err, errlen,
               "%s \"%s\": invalid port range, expected LOW-HIGH within 1 "
               "to 65535 with LOW <= HIGH",
               name, value);
      return -1;
    }
    ret = config_add_port(c, (uint16_t)lo, (uint16_t)hi, dir);
  } else {
    if (parse_port(name, value, &port, warn, warn_ctx, err, errlen) != 0)
      return -1;
    ret = config_add_port(c, port, port, dir);
  }
  if (ret != 0) {
    snprintf(err, errlen, "%s \"%s\": %s", name, value,
             ret == -ENOSPC ? "too many port ranges" : strerror(-ret));
    return -1;
  }
  return 0;
}

/* "ESTABLISHED TIME_WAIT": the states to ask for and report. */
static int apply_states(struct collector_config *c, const char *value,
                        char *err, size_t errlen) {
  char buf[1024], *save = NULL, *name;
  uint32_t mask = 0;

  if (strlen(value) >= sizeof(buf)) {
    snprintf(err, errlen, "States: value too long (%zu bytes)", strlen(value));
    return -1;
  }
  snprintf(buf, sizeof(buf), "%s", value);
  for (name = strtok_r(buf, " \t", &save); name != NULL;
       name = strtok_r(NULL, " \t", &save)) {
    int st;

    for (st = TCS_MIN; st <= TCS_MAX; st++)
      if (strcasecmp(name, tcs_names[st]) == 0)
        break;
    if (st > TCS_MAX) {
      size_t used = (size_t)snprintf(
          err, errlen, "States \"%s\": unknown state \"%s\"; valid: ", value,
          name);
      for (st = TCS_MIN; st <= TCS_MAX && used < errlen; st++)
        used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                 tcs_names[st], st < TCS_MAX ? " " : "");
      return -1;
    }
    mask |= 1u << st;
  }
  if (mask == 0) {
    snprintf(err, errlen, "States \"%s\": no state given", value);
    return -1;
  }
  /* The first States line replaces the default (all); later ones add. */
  c->report_states = c->states_given ? c->report_states | mask : mask;
  c->states_given = true;
  return 0;
}

int options_apply(struct collector_config *c, const char *key,
                  const char *value, options_warn_fn warn, void *warn_ctx,
                  char *err, size_t errlen) {
  if (key == NULL) {
    snprintf(err, errlen, "an option without a name");
    return -1;
  }
  if (value == NULL || value[0] == '\0') {
    snprintf(err, errlen, "%s \"\": the option needs a value", key);
    return -1;
  }
  if (strcasecmp(key, "ListeningPorts") == 0) {
    c->listening_given = true;
    return parse_bool("ListeningPorts", value, &c->listening, warn, warn_ctx);
  }
  if (strcasecmp(key, "AllPortsSummary") == 0)
    return parse_bool("AllPortsSummary", value, &c->all, warn, warn_ctx);
  if (strcasecmp(key, "LocalPort") == 0)
    return apply_port(c, "LocalPort", true, value, warn, warn_ctx, err, errlen);
  if (strcasecmp(key, "RemotePort") == 0)
    return apply_port(c, "RemotePort", false, value, warn, warn_ctx, err,
                      errlen);
  if (strcasecmp(key, "ReportAcceptQueue") == 0)
    return parse_bool("ReportAcceptQueue", value, &c->report_accept_queue, warn,
                      warn_ctx);
  if (strcasecmp(key, "ReportSelf") == 0)
    return parse_bool("ReportSelf", value, &c->report_self, warn, warn_ctx);
  if (strcasecmp(key, "States") == 0)
    return apply_states(c, value, err, errlen);
  snprintf(err, errlen,
           "unknown option \"%s\" (valid: ListeningPorts, LocalPort, "
           "RemotePort, AllPortsSummary, States, ReportAcceptQueue, "
           "ReportSelf)",
           key);
  return -1;
}

void options_finish(struct collector_config *c) {
  /* Upstream's rule, kept for every upstream configuration. With
   * <Connections> blocks (which upstream never had) an explicit
   * ListeningPorts false is honoured: the blocks alone. */
  if (c->nconns > 0 && c->listening_given && !c->listening)
    return;
  if (!c->all && c->nports == 0)
    c->listening = true;
}
