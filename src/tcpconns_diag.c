/* SPDX-License-Identifier: MIT */
/* collectd glue: config, init, read, shutdown and dispatch. Counting lives
 * in the collector, which includes no collectd header. One collector
 * counts the daemon's own network namespace; each <Namespace> block adds
 * one for another namespace. */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "conn_blocks.h"
#include "instance_name.h"
#include "report_blocks.h"
#include "tcp_state.h"
#include "netns_io.h"
#include "options.h"

/* The name the module registers under: the name of its file, which is what
 * LoadPlugin and <Plugin> name. Built a second time as tcpconns.so with
 * --enable-tcpconns-name for a switch without touching collectd.conf. */
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "tcpconns_diag"
#endif

#define OPTIONS_HELP                                                           \
  "ListeningPorts, LocalPort, RemotePort, AllPortsSummary, States, "           \
  "ReportAcceptQueue, ReportSelf, <Connections> and <Namespace>"

/* One network namespace to count: the daemon's own, or a <Namespace>. */
struct ns_reader {
  char name[64];               /* "" for the daemon's own namespace */
  struct collector_config cfg; /* written while collectd reads the config */
  struct collector *collector; /* made from cfg at init */
  bool in_netns;
  struct netns_target target;
  struct diag_io io;
  int last_error; /* logged once until a read succeeds */
  bool source_logged;
  bool gone; /* the namespace was missing at the last read */
};

static struct ns_reader host;
static bool host_configured;
static struct ns_reader **namespaces;
static size_t nnamespaces;
static bool shared_hash_hinted;
static bool config_failed;

/* Every log line of the plugin: "tcpconns_diag plugin: ", then the
 * namespace block it is about, if any. */
__attribute__((format(printf, 3, 4))) static void
log_line(int level, const struct ns_reader *in, const char *fmt, ...) {
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (in != NULL && in->name[0] != '\0')
    plugin_log(level, PLUGIN_NAME " plugin: <Namespace \"%s\">: %s", in->name,
               msg);
  else
    plugin_log(level, PLUGIN_NAME " plugin: %s", msg);
}

static void warn_option(void *ctx, const char *message) {
  log_line(LOG_WARNING, ctx, "%s", message);
}

static void configure_host_once(void) {
  if (!host_configured)
    config_init(&host.cfg);
  host_configured = true;
}

/* Joins an option's values the way collectd's simple config API does for
 * upstream tcpconns: strings verbatim, numbers as "%lf", booleans as
 * true/false, separated by one space. */
static int join_values(const oconfig_item_t *ci, char *buf, size_t len) {
  size_t used = 0;

  buf[0] = '\0';
  for (int i = 0; i < ci->values_num; i++) {
    const oconfig_value_t *v = &ci->values[i];
    int n;

    if (v->type == OCONFIG_TYPE_STRING)
      n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
                   v->value.string);
    else if (v->type == OCONFIG_TYPE_NUMBER)
      n = snprintf(buf + used, len - used, "%s%lf", i ? " " : "",
                   v->value.number);
    else
      n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
                   v->value.boolean ? "true" : "false");
    if (n < 0 || (size_t)n >= len - used)
      return -1;
    used += (size_t)n;
  }
  return 0;
}

static int apply_option(struct ns_reader *in, const oconfig_item_t *child) {
  char value[1024], err[512];

  if (join_values(child, value, sizeof(value)) != 0) {
    log_line(LOG_ERR, in, "%s: value too long.", child->key);
    return -1;
  }
  if (options_apply(&in->cfg, child->key, value, warn_option, in, err,
                    sizeof(err)) != 0) {
    log_line(LOG_ERR, in, "%s", err);
    return -1;
  }
  return 0;
}

/* A <Connections> option's values joined by single spaces for
 * conns_apply(): strings verbatim, whole numbers without decimals (so
 * RemotePort 5432 reads as "5432"). */
static int join_conns_values(const oconfig_item_t *ci, char *buf, size_t len) {
  size_t used = 0;

  buf[0] = '\0';
  for (int i = 0; i < ci->values_num; i++) {
    const oconfig_value_t *v = &ci->values[i];
    const char *sep = i ? " " : "";
    int n;

    if (v->type == OCONFIG_TYPE_STRING)
      n = snprintf(buf + used, len - used, "%s%s", sep, v->value.string);
    else if (v->type == OCONFIG_TYPE_NUMBER && v->value.number >= -1e9 &&
             v->value.number <= 1e9 &&
             v->value.number == (double)(long)v->value.number)
      n = snprintf(buf + used, len - used, "%s%ld", sep, (long)v->value.number);
    else if (v->type == OCONFIG_TYPE_NUMBER)
      n = snprintf(buf + used, len - used, "%s%g", sep, v->value.number);
    else
      n = snprintf(buf + used, len - used, "%s%s", sep,
                   v->value.boolean ? "true" : "false");
    if (n < 0 || (size_t)n >= len - used)
      return -1;
    used += (size_t)n;
  }
  return 0;
}

/* <Connections "NAME"> with LocalPort, RemotePort, LocalAddress,
 * RemoteAddress and States: parsed by the core (conn_blocks.c), which
 * names the block, the option and the value in every error. */
static int config_connections(struct ns_reader *in, const oconfig_item_t *ci) {
  char value[1024], err[512];

  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING) {
    log_line(LOG_ERR, in,
             "<Connections> needs one name, as in <Connections \"pg_app\">.");
    return -1;
  }
  if (conns_begin(&in->cfg, ci->values[0].value.string, err, sizeof(err)) !=
      0) {
    log_line(LOG_ERR, in, "%s.", err);
    return -1;
  }
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];

    if (child->children_num > 0) {
      log_line(LOG_ERR, in, "<Connections \"%s\">: unexpected block <%s>.",
               ci->values[0].value.string, child->key);
      return -1;
    }
    if (join_conns_values(child, value, sizeof(value)) != 0) {
      log_line(LOG_ERR, in, "<Connections \"%s\">: %s: value too long.",
               ci->values[0].value.string, child->key);
      return -1;
    }
    if (conns_apply(&in->cfg, child->key, value, err, sizeof(err)) != 0) {
      log_line(LOG_ERR, in, "%s.", err);
      return -1;
    }
  }
  if (conns_finish(&in->cfg, err, sizeof(err)) != 0) {
    log_line(LOG_ERR, in, "%s.", err);
    return -1;
  }
  return 0;
}

/* Path "/var/run/netns/NAME" or Pid N: where the namespace is. */
static int config_target(struct ns_reader *in, const oconfig_item_t *child,
                         bool is_path) {
  const oconfig_value_t *v = child->values;
  char value[256];

  if (is_path && child->values_num == 1 && v->type == OCONFIG_TYPE_STRING &&
      v->value.string[0] == '/' &&
      strlen(v->value.string) < sizeof(in->target.path)) {
    snprintf(in->target.path, sizeof(in->target.path), "%s", v->value.string);
    return 0;
  }
  if (!is_path && child->values_num == 1 && v->type == OCONFIG_TYPE_NUMBER &&
      v->value.number >= 1 && v->value.number <= 4194304 &&
      v->value.number == (double)(long)v->value.number) {
    snprintf(in->target.path, sizeof(in->target.path), "/proc/%ld/ns/net",
             (long)v->value.number);
    return 0;
  }
  if (join_values(child, value, sizeof(value)) != 0)
    value[0] = '\0';
  log_line(LOG_ERR, in, "%s \"%s\": expected %s.", is_path ? "Path" : "Pid",
           value,
           is_path ? "an absolute path such as /var/run/netns/NAME"
                   : "a process id");
  return -1;
}

static struct ns_reader *add_namespace(const char *name) {
  struct ns_reader *in = calloc(1, sizeof(*in));
  struct ns_reader **grown =
      realloc(namespaces, (nnamespaces + 1) * sizeof(*namespaces));

  if (grown != NULL)
    namespaces = grown;
  if (in == NULL || grown == NULL) {
    free(in);
    return NULL;
  }
  snprintf(in->name, sizeof(in->name), "%s", name);
  in->in_netns = true;
  netns_io_init(&in->io, &in->target);
  config_init(&in->cfg);
  /* /proc/net/tcp would show the daemon's namespace, not this one. */
  in->cfg.allow_proc = false;
  namespaces[nnamespaces++] = in;
  return in;
}

static int config_namespace(const oconfig_item_t *ci) {
  const char *name, *why = NULL;
  struct ns_reader *in;
  bool has_target = false;

  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING) {
    log_line(LOG_ERR, NULL,
             "<Namespace> needs one name, as in <Namespace \"web1\">.");
    return -1;
  }
  name = ci->values[0].value.string;
  /* The name prefixes every instance of the block: it must keep them
   * apart from the host's and from every other block's. */
  if (!instance_name_valid(name, &why)) {
    log_line(LOG_ERR, NULL, "<Namespace \"%s\">: invalid name: %s.", name, why);
    return -1;
  }
  for (size_t i = 0; i < nnamespaces; i++)
    if (strcasecmp(namespaces[i]->name, name) == 0) {
      log_line(LOG_ERR, NULL, "<Namespace \"%s\"> given twice.", name);
      return -1;
    }
  in = add_namespace(name);
  if (in == NULL) {
    log_line(LOG_ERR, NULL, "out of memory.");
    return -1;
  }
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    bool is_path = strcasecmp(child->key, "Path") == 0;
    bool is_pid = strcasecmp(child->key, "Pid") == 0;

    if (strcasecmp(child->key, "Connections") == 0) {
      if (config_connections(in, child) != 0)
        return -1;
      continue;
    }
    if (child->children_num > 0) {
      log_line(LOG_ERR, in, "unexpected block <%s>.", child->key);
      return -1;
    }
    if (!is_path && !is_pid) {
      if (apply_option(in, child) != 0)
        return -1;
      continue;
    }
    if (has_target) {
      log_line(LOG_ERR, in, "give one Path or one Pid.");
      return -1;
    }
    has_target = true;
    if (config_target(in, child, is_path) != 0)
      return -1;
  }
  if (!has_target) {
    log_line(LOG_ERR, in, "needs Path \"/var/run/netns/NAME\" or Pid N.");
    return -1;
  }
  return 0;
}

static int tcd_config(oconfig_item_t *ci) {
  configure_host_once();
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int err;

    if (strcasecmp(child->key, "Namespace") == 0) {
      err = config_namespace(child);
    } else if (strcasecmp(child->key, "Connections") == 0) {
      err = config_connections(&host, child);
    } else if (child->children_num > 0) {
      log_line(LOG_ERR, NULL,
               "unexpected block <%s> inside <Plugin %s>; the options "
               "are " OPTIONS_HELP ".",
               child->key, PLUGIN_NAME);
      err = -1;
    } else {
      err = apply_option(&host, child);
    }
    if (err != 0) {
      config_failed = true;
      return -1;
    }
  }
  return 0;
}

static int make_collector(struct ns_reader *in, const struct diag_io *io) {
  int err;

  options_finish(&in->cfg);
  err = collector_new(&in->collector, &in->cfg, io);
  if (err != 0)
    log_line(LOG_ERR, in, "cannot set up: %s.", strerror(-err));
  return err;
}

static int tcd_init(void) {
  if (config_failed)
    return -1;
  configure_host_once(); /* LoadPlugin without a <Plugin> block */
  if (make_collector(&host, &diag_io_kernel) != 0)
    return -1;
  for (size_t i = 0; i < nnamespaces; i++)
    if (make_collector(namespaces[i], &namespaces[i]->io) != 0)
      return -1;
  return 0;
}

/* --- dispatch -------------------------------------------------------- */

static void dispatch_one(const char *instance, const char *type,
                         const char *type_instance, gauge_t value) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t v = {.gauge = value};

  vl.values = &v;
  vl.values_len = 1;
  snprintf(vl.plugin, sizeof(vl.plugin), "tcpconns");
  snprintf(vl.plugin_instance, sizeof(vl.plugin_instance), "%s", instance);
  snprintf(vl.type, sizeof(vl.type), "%s", type);
  snprintf(vl.type_instance, sizeof(vl.type_instance), "%s", type_instance);
  plugin_dispatch_values(&vl);
}

static void submit_block(void *ctx, const char *instance,
                         const uint32_t *counts) {
  const struct ns_reader *in = ctx;

  for (int state = TCS_MIN; state <= TCS_MAX; state++)
    if (in->cfg.report_states & (1u << state))
      dispatch_one(instance, "tcp_connections", tcs_names[state],
                   (gauge_t)counts[state]);
}

/* A <Connections> block: its own states, zeros included. */
static void submit_conns(void *ctx, const char *instance,
                         const uint32_t *counts, uint32_t states) {
  (void)ctx;
  for (int state = TCS_MIN; state <= TCS_MAX; state++)
    if (states & (1u << state))
      dispatch_one(instance, "tcp_connections", tcs_names[state],
                   (gauge_t)counts[state]);
}

static void submit_queue(void *ctx, const char *instance, uint32_t accept_queue,
                         uint32_t backlog) {
  (void)ctx;
  dispatch_one(instance, "queue_length", "accept", (gauge_t)accept_queue);
  dispatch_one(instance, "queue_length", "backlog", (gauge_t)backlog);
}

static void submit_self(const struct ns_reader *in) {
  const struct read_stats *st = collector_stats(in->collector);
  struct instance_id id = {.name = in->name, .kind = INSTANCE_SELF};
  char self[64];

  instance_format(self, sizeof(self), &id);
  dispatch_one(self, "duration", "read", (gauge_t)st->nanoseconds / 1e9);
  dispatch_one(self, "count", "sockets", (gauge_t)st->diag.sockets);
  dispatch_one(self, "count", "recvmsg", (gauge_t)st->diag.recv_calls);
}

/* --- read ------------------------------------------------------------ */

static void log_source_once(struct ns_reader *in) {
  const char *why;
  enum read_source src = collector_source(in->collector, &why);

  if (in->source_logged || src == SOURCE_UNKNOWN)
    return;
  log_line(src == SOURCE_PROC ? LOG_WARNING : LOG_INFO, in,
           "reading from %s: %s.", read_source_name(src), why);
  if (src == SOURCE_PROC && in->cfg.nconns > 0)
    log_line(LOG_WARNING, in,
             "<Connections> blocks need sock_diag (the /proc fallback has no "
             "address filter here); they are not reported.");
  in->source_logged = true;
}

/* A namespace that went away: close its socket (an open socket keeps a
 * dead namespace alive) and report nothing until it is back. Returns
 * false when there is nothing to read. */
static bool namespace_present(struct ns_reader *in) {
  switch (netns_check(&in->target)) {
  case NETNS_GONE:
    collector_close_socket(in->collector);
    if (!in->gone)
      log_line(LOG_WARNING, in,
               "%s is gone; not reporting it until it is back.",
               in->target.path);
    in->gone = true;
    return false;
  case NETNS_CHANGED:
    log_line(LOG_INFO, in, "%s is a new namespace; reopening.",
             in->target.path);
    collector_close_socket(in->collector);
    break;
  case NETNS_SAME:
  default:
    break;
  }
  if (in->gone)
    log_line(LOG_INFO, in, "%s is back.", in->target.path);
  in->gone = false;
  return true;
}

static int read_namespace(struct ns_reader *in) {
  int err;

  if (in->in_netns && !namespace_present(in))
    return 0;
  err = collector_read(in->collector);
  log_source_once(in);
  if (err != 0) {
    /* Logged once per distinct failure; the next read starts from a fresh
     * socket. */
    if (err != in->last_error)
      log_line(LOG_ERR, in, "%s. Will retry at the next read.",
               collector_error(in->collector));
    in->last_error = err;
    return -1;
  }
  if (in->last_error != 0)
    log_line(LOG_INFO, in, "reading works again.");
  in->last_error = 0;
  report_each_block(in->collector, in->name, submit_block, in);
  report_each_conns(in->collector, in->name, submit_conns, in);
  report_each_queue(in->collector, in->name, submit_queue, in);
  if (in->cfg.report_self)
    submit_self(in);
  return 0;
}

/* Namespaces that share the host's established hash make every read walk
 * all of the host's sockets once more each (README: container hosts). */
static void hint_shared_hash_once(void) {
  size_t shared = 0;

  if (shared_hash_hinted)
    return;
  for (size_t i = 0; i < nnamespaces; i++)
    shared += namespaces[i]->target.ehash_entries < 0;
  if (shared == 0)
    return;
  log_line(LOG_NOTICE, NULL,
           "%zu of the %zu <Namespace> blocks share the host's TCP "
           "established hash (net.ipv4.tcp_ehash_entries is negative "
           "inside them), so each read walks every TCP socket of the host "
           "%zu times. Namespaces created while net.ipv4.tcp_child_ehash_"
           "entries is set in their parent get a hash of their own and "
           "cost only their own sockets.",
           shared, nnamespaces, shared + 1);
  shared_hash_hinted = true;
}

static int tcd_read(void) {
  /* The daemon's own namespace decides the result (and collectd's back-off);
   * a failing container namespace is logged and does not hold the others
   * back. */
  int ret = read_namespace(&host);

  for (size_t i = 0; i < nnamespaces; i++)
    read_namespace(namespaces[i]);
  hint_shared_hash_once();
  return ret;
}

static void forget_namespace(struct ns_reader *in) {
  collector_free(in->collector);
  in->collector = NULL;
  config_destroy(&in->cfg);
}

static int tcd_shutdown(void) {
  forget_namespace(&host);
  host_configured = false;
  for (size_t i = 0; i < nnamespaces; i++) {
    forget_namespace(namespaces[i]);
    free(namespaces[i]);
  }
  free(namespaces);
  namespaces = NULL;
  nnamespaces = 0;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, tcd_config);
  plugin_register_init(PLUGIN_NAME, tcd_init);
  plugin_register_read(PLUGIN_NAME, tcd_read);
  plugin_register_shutdown(PLUGIN_NAME, tcd_shutdown);
}
