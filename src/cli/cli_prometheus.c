/* SPDX-License-Identifier: MIT */
#include "cli_prometheus.h"

#include "report_blocks.h"
#include "tcp_state.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#define STATE_NAME_MAX 16 /* "ESTABLISHED" and a NUL fit */

struct prom_ctx {
  FILE *out;
  uint32_t states; /* 1 << state for each reported state */
  struct cli_prom_label extra;
  const char *family; /* the family being written */
  const char *help;
  bool started; /* its # HELP and # TYPE are out */
};

/* A label value: backslash, double quote and line feed escaped. */
static void label_value(FILE *out, const char *s) {
  fputc('"', out);
  for (; *s != '\0'; s++) {
    if (*s == '\\' || *s == '"')
      fprintf(out, "\\%c", *s);
    else if (*s == '\n')
      fputs("\\n", out);
    else
      fputc(*s, out);
  }
  fputc('"', out);
}

static void family_start(struct prom_ctx *p) {
  if (p->started)
    return;
  fprintf(p->out, "# HELP %s %s\n# TYPE %s gauge\n", p->family, p->help,
          p->family);
  p->started = true;
}

static void begin_family(struct prom_ctx *p, const char *family,
                         const char *help) {
  p->family = family;
  p->help = help;
  p->started = false;
}

/* After a sample's own labels: the extra label (if any), the closing
 * brace and the value. */
static void sample_end(const struct prom_ctx *p, unsigned long value) {
  if (p->extra.name != NULL) {
    fprintf(p->out, ",%s=", p->extra.name);
    label_value(p->out, p->extra.value);
  }
  fprintf(p->out, "} %lu\n", value);
}

static void state_label(char *buf, int state) {
  const char *name = tcs_names[state];
  size_t i;

  for (i = 0; name[i] != '\0' && i + 1 < STATE_NAME_MAX; i++)
    buf[i] = (char)tolower((unsigned char)name[i]);
  buf[i] = '\0';
}

/* "80-local", "8000-8099-remote": the port (or range) and the side. */
static bool split_instance(const char *instance, char *port, size_t len,
                           const char **direction) {
  const char *dash = strrchr(instance, '-');
  size_t n;

  if (dash == NULL)
    return false;
  n = (size_t)(dash - instance);
  if (n == 0 || n >= len)
    return false;
  memcpy(port, instance, n);
  port[n] = '\0';
  *direction = dash + 1;
  return true;
}

/* --- connections per port, and of every socket ----------------------- */

/* One sample per reported state: FAMILY{[port=..,direction=..,]state=..}. */
static void state_samples(struct prom_ctx *p, const char *port,
                          const char *direction, const uint32_t *counts) {
  char state[STATE_NAME_MAX];

  family_start(p);
  for (int st = TCS_MIN; st <= TCS_MAX; st++) {
    if (!(p->states & (1u << st)))
      continue;
    state_label(state, st);
    fprintf(p->out, "%s{", p->family);
    if (port != NULL) {
      fputs("port=", p->out);
      label_value(p->out, port);
      fputs(",direction=", p->out);
      label_value(p->out, direction);
      fputc(',', p->out);
    }
    fprintf(p->out, "state=\"%s\"", state);
    sample_end(p, (unsigned long)counts[st]);
  }
}

static void port_block(void *data, const char *instance,
                       const uint32_t *counts) {
  char port[32];
  const char *direction;

  if (strcmp(instance, "all") == 0 ||
      !split_instance(instance, port, sizeof(port), &direction))
    return;
  state_samples(data, port, direction, counts);
}

static void all_block(void *data, const char *instance,
                      const uint32_t *counts) {
  if (strcmp(instance, "all") == 0)
    state_samples(data, NULL, NULL, counts);
}

/* --- accept queues of listening ports --------------------------------- */

static void queue_sample(struct prom_ctx *p, const char *instance,
                         uint32_t value) {
  char port[32];
  const char *direction;

  if (!split_instance(instance, port, sizeof(port), &direction))
    return;
  family_start(p);
  fprintf(p->out, "%s{port=", p->family);
  label_value(p->out, port);
  sample_end(p, (unsigned long)value);
}

static void queue_length(void *data, const char *instance,
                         uint32_t accept_queue, uint32_t backlog) {
  (void)backlog;
  queue_sample(data, instance, accept_queue);
}

static void queue_backlog(void *data, const char *instance,
                          uint32_t accept_queue, uint32_t backlog) {
  (void)accept_queue;
  queue_sample(data, instance, backlog);
}

void cli_print_prometheus(FILE *out, const struct collector *c,
                          struct cli_prom_label extra) {
  struct prom_ctx p = {
      .out = out, .states = collector_config(c)->report_states, .extra = extra};

  begin_family(&p, "tcpconns_connections",
               "TCP sockets by state whose local (direction=\"local\") or "
               "remote (direction=\"remote\") port is port, or within the "
               "range port=\"LOW-HIGH\".");
  report_each_block(c, NULL, port_block, &p);

  begin_family(&p, "tcpconns_all_connections",
               "Every TCP socket of the network namespace, by state.");
  report_each_block(c, NULL, all_block, &p);

  begin_family(&p, "tcpconns_accept_queue",
               "Connections waiting for accept() on the listening sockets "
               "of the local port (their sum).");
  report_each_queue(c, NULL, queue_length, &p);
  begin_family(&p, "tcpconns_accept_backlog",
               "The listen() backlog limit of the listening sockets of the "
               "local port (their sum).");
  report_each_queue(c, NULL, queue_backlog, &p);

  begin_family(&p, "tcpconns_read_duration_seconds",
               "Time tcpconns-diag took to read the counts from the kernel.");
  family_start(&p);
  fputs(p.family, out);
  if (extra.name != NULL) {
    fprintf(out, "{%s=", extra.name);
    label_value(out, extra.value);
    fputc('}', out);
  }
  fprintf(out, " %.9f\n", (double)collector_stats(c)->nanoseconds / 1e9);
}
