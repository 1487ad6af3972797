/* SPDX-License-Identifier: MIT */
#include "cli_connections.h"

#include "conn_blocks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The short keys and the options they stand for. */
static const struct {
  const char *key, *option;
} keys[] = {
    {"lport", "LocalPort"},    {"rport", "RemotePort"},
    {"laddr", "LocalAddress"}, {"raddr", "RemoteAddress"},
    {"states", "States"},
};

int cli_connections_apply(struct collector_config *cfg, const char *arg,
                          char *err, size_t errlen) {
  const char *colon = strchr(arg, ':');
  char name[INSTANCE_NAME_MAX + 2], *spec, *save = NULL, *pair;
  size_t nlen;
  int ret = 0;

  if (colon == NULL) {
    snprintf(err, errlen,
             "expected NAME:KEY=VALUE,... (keys lport, rport, laddr, raddr, "
             "states)");
    return -1;
  }
  nlen = (size_t)(colon - arg);
  if (nlen >= sizeof(name))
    nlen = sizeof(name) - 1; /* too long: conns_begin() says so */
  memcpy(name, arg, nlen);
  name[nlen] = '\0';
  if (conns_begin(cfg, name, err, errlen) != 0)
    return -1;
  spec = strdup(colon + 1);
  if (spec == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (pair = strtok_r(spec, ",", &save); pair != NULL && ret == 0;
       pair = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(pair, '=');
    size_t k;

    if (eq == NULL) {
      snprintf(err, errlen, "<Connections \"%s\">: \"%s\": expected KEY=VALUE",
               name, pair);
      ret = -1;
      break;
    }
    *eq = '\0';
    for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
      if (strcmp(pair, keys[k].key) == 0)
        break;
    if (k == sizeof(keys) / sizeof(keys[0])) {
      snprintf(err, errlen,
               "<Connections \"%s\">: unknown key \"%s\" (valid: lport, "
               "rport, laddr, raddr, states)",
               name, pair);
      ret = -1;
      break;
    }
    if (strcmp(pair, "states") == 0)
      for (char *p = eq + 1; *p != '\0'; p++)
        if (*p == '+')
          *p = ' ';
    if (strchr(eq + 1, ' ') != NULL && strcmp(pair, "states") != 0) {
      snprintf(err, errlen,
               "<Connections \"%s\">: %s \"%s\": one value per key", name,
               keys[k].option, eq + 1);
      ret = -1;
      break;
    }
    ret = conns_apply(cfg, keys[k].option, eq + 1, err, errlen);
  }
  free(spec);
  if (ret == 0)
    ret = conns_finish(cfg, err, errlen);
  return ret;
}
