/* SPDX-License-Identifier: MIT */
/* Plugin instances, the one place they are spelled, and the rule on the
 * names users give (<Namespace "NAME">) that keeps them unambiguous.
 *
 * Upstream's instances stay as they are: "all", "80-local", "443-remote";
 * ours add "8000-8099-local" (ranges), "self" (ReportSelf) and a
 * <Connections> block's own name ("pg_app"). A named block's instances
 * are "NAME-" followed by one of those ("web1-pg_app"). A user name
 * starts with a letter and holds only letters, digits and '_', and is
 * not "all" or "self" (any case). So an instance splits at its '-' into
 * fields without guessing: a first field that starts with a letter is a
 * name, ports are digits, and the last field says the kind; a last field
 * that is a name (not all or self) is a <Connections> block. No two
 * different blocks can ever share an instance, in an RRD file name or a
 * Graphite path (where '.' and '-' would be rewritten or split). */
#ifndef TCPCONNS_DIAG_INSTANCE_NAME_H
#define TCPCONNS_DIAG_INSTANCE_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INSTANCE_NAME_MAX 47 /* leaves room for "-65535-65535-remote" */

enum instance_kind {
  INSTANCE_ALL,    /* "all" */
  INSTANCE_SELF,   /* "self" */
  INSTANCE_LOCAL,  /* "P-local", or "LO-HI-local" for a range */
  INSTANCE_REMOTE, /* "P-remote", "LO-HI-remote" */
  INSTANCE_NAMED,  /* a <Connections "CONNS"> block: "CONNS" */
};

struct instance_id {
  const char *name; /* the block's name, or NULL/"" for none */
  enum instance_kind kind;
  uint16_t lo, hi;   /* LOCAL/REMOTE: lo == hi for one port */
  const char *conns; /* NAMED: the <Connections> block's name */
};

/* Whether name may name a block. On false, *why says what is wrong. */
bool instance_name_valid(const char *name, const char **why);

/* Writes the plugin instance. Returns its length, or -1 if it does not
 * fit len (never with valid names and len >= 64, or len >= 96 for
 * INSTANCE_NAMED: two names and a '-'; collectd allows 127). */
int instance_format(char *buf, size_t len, const struct instance_id *id);

#endif
