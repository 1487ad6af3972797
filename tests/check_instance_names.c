/* SPDX-License-Identifier: MIT */
/* Plugin instances cannot collide: every kind of instance the plugin can
 * produce (all, self, ports and ranges, local and remote, <Connections>
 * blocks by their name, with and without a namespace block's name) is
 * enumerated over edge values and names, and
 * each must parse back to exactly the block it was made for. A parser
 * that recovers the block from the string proves that no two different
 * blocks share a string; the pairwise comparison checks it directly. */
#include "check_run.h"
#include "instance_name.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The inverse of instance_format(), written from the rule alone. */
static int parse(const char *s, char *name, char *conns,
                 struct instance_id *id) {
  char buf[128], *field[5];
  int n = 0;

  snprintf(buf, sizeof(buf), "%s", s);
  for (char *p = buf, *save = NULL; (p = strtok_r(p, "-", &save)) != NULL;
       p = NULL) {
    if (n == 5)
      return -1;
    field[n++] = p;
  }
  name[0] = '\0';
  memset(id, 0, sizeof(*id));
  id->name = name;
  if (n > 0 &&
      ((field[0][0] >= 'a' && field[0][0] <= 'z') ||
       (field[0][0] >= 'A' && field[0][0] <= 'Z')) &&
      n > 1) {
    strcpy(name, field[0]); /* a name: starts with a letter, has no '-' */
    memmove(field, field + 1, (size_t)--n * sizeof(field[0]));
  }
  if (n == 1 && strcmp(field[0], "all") == 0)
    return id->kind = INSTANCE_ALL, 0;
  if (n == 1 && strcmp(field[0], "self") == 0)
    return id->kind = INSTANCE_SELF, 0;
  if (n == 1 && ((field[0][0] >= 'a' && field[0][0] <= 'z') ||
                 (field[0][0] >= 'A' && field[0][0] <= 'Z'))) {
    strcpy(conns, field[0]); /* a <Connections> block's name */
    id->conns = conns;
    return id->kind = INSTANCE_NAMED, 0;
  }
  if (n < 2 || n > 3)
    return -1;
  if (strcmp(field[n - 1], "local") == 0)
    id->kind = INSTANCE_LOCAL;
  else if (strcmp(field[n - 1], "remote") == 0)
    id->kind = INSTANCE_REMOTE;
  else
    return -1;
  id->lo = (uint16_t)atoi(field[0]);
  id->hi = (uint16_t)atoi(field[n - 2]);
  return n == 3 && id->lo == id->hi ? -1 : 0; /* "80-80-local" is not made */
}

static int same(const struct instance_id *a, const struct instance_id *b) {
  const char *an = a->name ? a->name : "", *bn = b->name ? b->name : "";

  if (strcmp(an, bn) != 0 || a->kind != b->kind)
    return 0;
  if (a->kind == INSTANCE_ALL || a->kind == INSTANCE_SELF)
    return 1;
  if (a->kind == INSTANCE_NAMED)
    return strcmp(a->conns, b->conns) == 0;
  return a->lo == b->lo && a->hi == b->hi;
}

static const char *const names[] = {
    NULL,        "web",
    "web_80",    "a",
    "Z9",        "x_",
    "local",     "remote",
    "allx",      "selfish",
    "WEB",       "n90",
    "k8s_pod_1", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"};
static const uint16_t ports[] = {1, 9, 10, 80, 90, 91, 443, 8080, 32767, 65535};

struct made {
  char text[112];
  struct instance_id id;
};

static int cmp_made(const void *a, const void *b) {
  return strcmp(((const struct made *)a)->text, ((const struct made *)b)->text);
}

START_TEST(every_instance_parses_back_and_none_collide) {
  size_t nn = sizeof(names) / sizeof(names[0]), np = sizeof(ports) / 2, n = 0;
  size_t cap = nn * (2 + 2 * np * np + nn);
  struct made *m = calloc(cap, sizeof(*m));

  ck_assert_ptr_nonnull(m);
  for (size_t i = 0; i < nn; i++) {
    const char *why;
    ck_assert(names[i] == NULL || instance_name_valid(names[i], &why));
    for (int kind = INSTANCE_ALL; kind <= INSTANCE_REMOTE; kind++)
      for (size_t a = 0; a < np; a++)
        for (size_t b = a; b < np; b++) {
          struct instance_id id = {.name = names[i],
                                   .kind = (enum instance_kind)kind,
                                   .lo = ports[a],
                                   .hi = ports[b]};
          if (kind <= INSTANCE_SELF && (a != 0 || b != 0))
            continue; /* one "all" and one "self" per name */
          if (kind <= INSTANCE_SELF)
            id.lo = id.hi = 0;
          ck_assert_int_gt(instance_format(m[n].text, sizeof(m[n].text), &id),
                           0);
          m[n].id = id;
          n++;
        }
    /* <Connections> blocks: every valid name, alone or in a namespace */
    for (size_t k = 1; k < nn; k++) {
      struct instance_id id = {
          .name = names[i], .kind = INSTANCE_NAMED, .conns = names[k]};
      ck_assert_int_gt(instance_format(m[n].text, sizeof(m[n].text), &id), 0);
      m[n].id = id;
      n++;
    }
  }
  for (size_t i = 0; i < n; i++) {
    char name[64], conns[64];
    struct instance_id back;
    ck_assert_msg(parse(m[i].text, name, conns, &back) == 0,
                  "%s does not parse", m[i].text);
    ck_assert_msg(same(&back, &m[i].id), "%s parses to another block",
                  m[i].text);
  }
  /* Pairwise, by sorting: equal neighbours would be a collision. */
  qsort(m, n, sizeof(*m), cmp_made);
  for (size_t i = 1; i < n; i++)
    ck_assert_msg(strcmp(m[i - 1].text, m[i].text) != 0, "collision: %s",
                  m[i].text);
  free(m);
}
END_TEST

/* The collisions reported in issue 9, and the other ways a name could
 * make one, are refused. */
START_TEST(names_that_could_collide_are_refused) {
  static const char *const bad[] = {
      "90",
      "web-80",
      "80-local",
      "all",
      "ALL",
      "Self",
      "web.1",
      "",
      "_x",
      "-x",
      "web 1",
      "wéb",
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"};
  const char *why;

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why = NULL;
    ck_assert_msg(!instance_name_valid(bad[i], &why), "\"%s\" accepted",
                  bad[i]);
    ck_assert_ptr_nonnull(why);
  }
}
END_TEST

START_TEST(upstream_instances_unchanged) {
  char buf[64];
  struct instance_id all = {.kind = INSTANCE_ALL};
  struct instance_id local = {.kind = INSTANCE_LOCAL, .lo = 80, .hi = 80};
  struct instance_id remote = {
      .name = "", .kind = INSTANCE_REMOTE, .lo = 443, .hi = 443};
  struct instance_id range = {
      .name = "web", .kind = INSTANCE_LOCAL, .lo = 8000, .hi = 8099};

  instance_format(buf, sizeof(buf), &all);
  ck_assert_str_eq(buf, "all");
  instance_format(buf, sizeof(buf), &local);
  ck_assert_str_eq(buf, "80-local");
  instance_format(buf, sizeof(buf), &remote);
  ck_assert_str_eq(buf, "443-remote");
  instance_format(buf, sizeof(buf), &range);
  ck_assert_str_eq(buf, "web-8000-8099-local");
  ck_assert_int_eq(instance_format(buf, 5, &range), -1);
  struct instance_id named = {.kind = INSTANCE_NAMED, .conns = "pg_app"};
  instance_format(buf, sizeof(buf), &named);
  ck_assert_str_eq(buf, "pg_app");
  named.name = "web1";
  instance_format(buf, sizeof(buf), &named);
  ck_assert_str_eq(buf, "web1-pg_app");
  {
    /* the longest: two 47-character names */
    char big[128];
    const char *n47 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";
    struct instance_id longest = {
        .name = n47, .kind = INSTANCE_NAMED, .conns = n47};
    ck_assert_int_eq(instance_format(big, 96, &longest), 95);
    ck_assert_int_eq(instance_format(big, 95, &longest), -1);
  }
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "instance_names"};
  const TTest *const tests[] = {every_instance_parses_back_and_none_collide,
                                names_that_could_collide_are_refused,
                                upstream_instances_unchanged, NULL};

  return check_run(&c, tests);
}
