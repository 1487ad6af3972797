/* SPDX-License-Identifier: MIT */
#include "cli_output.h"

#include "report_blocks.h"
#include "tcp_state.h"

#include <stdbool.h>
#include <string.h>

/* --- JSON ------------------------------------------------------------ */

struct json_ctx {
  FILE *out;
  uint32_t states;
  bool first;
};

/* Instances are "all", "80-local", "8000-8099-remote"; escaped anyway. */
static void json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

static void json_states(struct json_ctx *j, const char *instance,
                        const uint32_t *counts, uint32_t states) {
  bool first_state = true;

  if (!j->first)
    fputs(", ", j->out);
  j->first = false;
  json_string(j->out, instance);
  fputs(": {", j->out);
  for (int st = TCS_MIN; st <= TCS_MAX; st++) {
    if (!(states & (1u << st)))
      continue;
    fprintf(j->out, "%s\"%s\": %lu", first_state ? "" : ", ", tcs_names[st],
            (unsigned long)counts[st]);
    first_state = false;
  }
  fputc('}', j->out);
}

static void json_block(void *data, const char *instance,
                       const uint32_t *counts) {
  struct json_ctx *j = data;

  json_states(j, instance, counts, j->states);
}

/* A <Connections> block, with its own states. */
static void json_conns(void *data, const char *instance, const uint32_t *counts,
                       uint32_t states) {
  json_states(data, instance, counts, states);
}

void cli_print_json(FILE *out, const struct collector *c) {
  struct json_ctx j = {
      .out = out, .states = collector_config(c)->report_states, .first = true};

  fputc('{', out);
  report_each_block(c, NULL, json_block, &j);
  report_each_conns(c, NULL, json_conns, &j);
  fputs("}\n", out);
}

/* --- table ----------------------------------------------------------- */

#define INSTANCE_HEADER "INSTANCE"

/* Two passes over the blocks: widths first, then the lines, so nothing
 * is copied or allocated. */
struct table_ctx {
  FILE *out;
  uint32_t states;  /* the columns: the options' and the blocks' states */
  uint32_t options; /* the states of report_each_block()'s blocks */
  int instance_width;
  int width[TCS_COUNT];
};

static int digits(uint32_t v) {
  int n = 1;

  while (v >= 10) {
    v /= 10;
    n++;
  }
  return n;
}

static void table_measure(void *data, const char *instance,
                          const uint32_t *counts) {
  struct table_ctx *t = data;
  int len = (int)strlen(instance);

  if (len > t->instance_width)
    t->instance_width = len;
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (digits(counts[st]) > t->width[st])
      t->width[st] = digits(counts[st]);
}

static void table_measure_conns(void *data, const char *instance,
                                const uint32_t *counts, uint32_t states) {
  (void)states;
  table_measure(data, instance, counts);
}

/* A row; a state the block does not count shows "-". */
static void table_row_states(const struct table_ctx *t, const char *instance,
                             const uint32_t *counts, uint32_t states) {
  fprintf(t->out, "%-*s", t->instance_width, instance);
  for (int st = TCS_MIN; st <= TCS_MAX; st++) {
    if (!(t->states & (1u << st)))
      continue;
    if (states & (1u << st))
      fprintf(t->out, " %*lu", t->width[st], (unsigned long)counts[st]);
    else
      fprintf(t->out, " %*s", t->width[st], "-");
  }
  fputc('\n', t->out);
}

static void table_row(void *data, const char *instance,
                      const uint32_t *counts) {
  const struct table_ctx *t = data;

  table_row_states(t, instance, counts, t->options);
}

static void table_row_conns(void *data, const char *instance,
                            const uint32_t *counts, uint32_t states) {
  table_row_states(data, instance, counts, states);
}

void cli_print_table(FILE *out, const struct collector *c) {
  const struct collector_config *cfg = collector_config(c);
  struct table_ctx t = {
      .out = out, .states = cfg->report_states, .options = cfg->report_states};

  for (size_t i = 0; i < cfg->nconns; i++)
    t.states |= cfg->conns[i].states;
  t.instance_width = (int)strlen(INSTANCE_HEADER);
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    t.width[st] = (int)strlen(tcs_names[st]);
  report_each_block(c, NULL, table_measure, &t);
  report_each_conns(c, NULL, table_measure_conns, &t);

  fprintf(out, "%-*s", t.instance_width, INSTANCE_HEADER);
  for (int st = TCS_MIN; st <= TCS_MAX; st++)
    if (t.states & (1u << st))
      fprintf(out, " %*s", t.width[st], tcs_names[st]);
  fputc('\n', out);
  report_each_block(c, NULL, table_row, &t);
  report_each_conns(c, NULL, table_row_conns, &t);
}
