/* SPDX-License-Identifier: MIT */
#include "instance_name.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool is_letter(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch) {
  return ch >= '0' && ch <= '9';
}

bool instance_name_valid(const char *name, const char **why) {
  size_t n = strlen(name);

  if (n == 0 || n > INSTANCE_NAME_MAX) {
    *why = "a name has 1 to 47 characters";
    return false;
  }
  if (!is_letter(name[0])) {
    *why = "a name starts with a letter";
    return false;
  }
  for (size_t i = 1; i < n; i++)
    if (!is_letter(name[i]) && !is_digit(name[i]) && name[i] != '_') {
      *why = "a name holds only letters, digits and '_' (no '-' or '.', "
             "which would make its values' names ambiguous)";
      return false;
    }
  if (strcasecmp(name, "all") == 0 || strcasecmp(name, "self") == 0) {
    *why = "\"all\" and \"self\" are the plugin's own instances";
    return false;
  }
  return true;
}

int instance_format(char *buf, size_t len, const struct instance_id *id) {
  const char *sep = id->name != NULL && id->name[0] != '\0' ? "-" : "";
  const char *name = sep[0] != '\0' ? id->name : "";
  int n;

  switch (id->kind) {
  case INSTANCE_ALL:
    n = snprintf(buf, len, "%s%sall", name, sep);
    break;
  case INSTANCE_SELF:
    n = snprintf(buf, len, "%s%sself", name, sep);
    break;
  case INSTANCE_NAMED:
    n = snprintf(buf, len, "%s%s%s", name, sep,
                 id->conns != NULL ? id->conns : "");
    break;
  case INSTANCE_LOCAL:
  case INSTANCE_REMOTE:
  default: {
    const char *dir = id->kind == INSTANCE_LOCAL ? "local" : "remote";
    if (id->lo == id->hi)
      n = snprintf(buf, len, "%s%s%u-%s", name, sep, (unsigned)id->lo, dir);
    else
      n = snprintf(buf, len, "%s%s%u-%u-%s", name, sep, (unsigned)id->lo,
                   (unsigned)id->hi, dir);
    break;
  }
  }
  return n < 0 || (size_t)n >= len ? -1 : n;
}
