/* collectd glue: config, init, read, shutdown and dispatch. Counting lives
 * in the collector, which includes no collectd header. One collector
 * counts the daemon's own network namespace; each <Namespace> block adds
 * one for another namespace. */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"

#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "report_blocks.h"
#include "instance_name.h"
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
  "ReportAcceptQueue, ReportSelf and <Namespace>"

struct ns_reader {
  char name[64]; /* "" for the daemon's own namespace */
  struct collector collector;
  bool in_netns;
  struct netns_target target;
  struct diag_io io;
  int last_error; /* logged once until a read succeeds */
  bool source_logged;
  bool gone; /* the namespace was missing at the last read */
};

static struct ns_reader host;
static bool host_ready;
static struct ns_reader **namespaces;
static size_t nnamespaces;
static bool config_failed;

static void warn_option(void *ctx, const char *message) {
  const struct ns_reader *in = ctx;

  if (in->name[0] != '\0')
    WARNING(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s", in->name, message);
  else
    WARNING(PLUGIN_NAME " plugin: %s", message);
}

static int ensure_host(void) {
  int err;

  if (host_ready)
    return 0;
  err = collector_init(&host.collector, &diag_io_kernel);
  if (err != 0) {
    ERROR(PLUGIN_NAME " plugin: cannot allocate buffers: %s", strerror(-err));
    collector_destroy(&host.collector);
    return -1;
  }
  host_ready = true;
  return 0;
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
    ERROR(PLUGIN_NAME " plugin: %s: value too long.", child->key);
    return -1;
  }
  if (options_apply(&in->collector, child->key, value, warn_option, in, err,
                      sizeof(err)) != 0) {
    if (in->name[0] != '\0')
      ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s", in->name, err);
    else
      ERROR(PLUGIN_NAME " plugin: %s", err);
    return -1;
  }
  return 0;
}

static int config_namespace(const oconfig_item_t *ci) {
  struct ns_reader *in, **grown;
  bool has_target = false;
  const char *why = NULL;

  if (ci->values_num != 1 || ci->values[0].type != OCONFIG_TYPE_STRING) {
    ERROR(PLUGIN_NAME " plugin: <Namespace> needs one name, as in "
                      "<Namespace \"web1\">.");
    return -1;
  }
  /* The name prefixes every instance of the block: it must keep them
   * apart from the host's and from every other block's. */
  if (!instance_name_valid(ci->values[0].value.string, &why)) {
    ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: invalid name: %s.",
          ci->values[0].value.string, why);
    return -1;
  }
  for (size_t i = 0; i < nnamespaces; i++)
    if (strcasecmp(namespaces[i]->name, ci->values[0].value.string) == 0) {
      ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\"> given twice.",
            ci->values[0].value.string);
      return -1;
    }
  in = calloc(1, sizeof(*in));
  grown = realloc(namespaces, (nnamespaces + 1) * sizeof(*namespaces));
  if (in == NULL || grown == NULL) {
    free(in);
    if (grown != NULL)
      namespaces = grown;
    ERROR(PLUGIN_NAME " plugin: out of memory.");
    return -1;
  }
  namespaces = grown;
  snprintf(in->name, sizeof(in->name), "%s", ci->values[0].value.string);
  in->in_netns = true;
  netns_io_init(&in->io, &in->target);
  if (collector_init(&in->collector, &in->io) != 0) {
    collector_destroy(&in->collector);
    free(in);
    ERROR(PLUGIN_NAME " plugin: out of memory.");
    return -1;
  }
  /* /proc/net/tcp would show the daemon's namespace, not this one. */
  in->collector.allow_proc = false;
  namespaces[nnamespaces++] = in;

  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    bool is_path = strcasecmp(child->key, "Path") == 0;
    bool is_pid = strcasecmp(child->key, "Pid") == 0;

    if (child->children_num > 0) {
      ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: unexpected block <%s>.",
            in->name, child->key);
      return -1;
    }
    if (!is_path && !is_pid) {
      if (apply_option(in, child) != 0)
        return -1;
      continue;
    }
    if (has_target) {
      ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: give one Path or one "
                        "Pid.",
            in->name);
      return -1;
    }
    has_target = true;
    if (is_path && child->values_num == 1 &&
        child->values[0].type == OCONFIG_TYPE_STRING &&
        child->values[0].value.string[0] == '/' &&
        strlen(child->values[0].value.string) < sizeof(in->target.path)) {
      snprintf(in->target.path, sizeof(in->target.path), "%s",
               child->values[0].value.string);
    } else if (is_pid && child->values_num == 1 &&
               child->values[0].type == OCONFIG_TYPE_NUMBER &&
               child->values[0].value.number >= 1 &&
               child->values[0].value.number <= 4194304 &&
               child->values[0].value.number ==
                   (double)(long)child->values[0].value.number) {
      snprintf(in->target.path, sizeof(in->target.path), "/proc/%ld/ns/net",
               (long)child->values[0].value.number);
    } else {
      char value[256];
      if (join_values(child, value, sizeof(value)) != 0)
        value[0] = '\0';
      ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s \"%s\": expected %s.",
            in->name, is_path ? "Path" : "Pid", value,
            is_path ? "an absolute path such as /var/run/netns/NAME"
                    : "a process id");
      return -1;
    }
  }
  if (!has_target) {
    ERROR(PLUGIN_NAME " plugin: <Namespace \"%s\">: needs Path "
                      "\"/var/run/netns/NAME\" or Pid N.",
          in->name);
    return -1;
  }
  return 0;
}

static int tcd_config(oconfig_item_t *ci) {
  if (ensure_host() != 0) {
    config_failed = true;
    return -1;
  }
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];
    int err;

    if (strcasecmp(child->key, "Namespace") == 0) {
      err = config_namespace(child);
    } else if (child->children_num > 0) {
      ERROR(PLUGIN_NAME " plugin: unexpected block <%s> inside <Plugin %s>; "
                        "the options are " OPTIONS_HELP ".",
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

static int tcd_init(void) {
  if (config_failed)
    return -1;
  if (ensure_host() != 0)
    return -1;
  options_finish(&host.collector);
  for (size_t i = 0; i < nnamespaces; i++)
    options_finish(&namespaces[i]->collector);
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
    if (in->collector.report_states & (1u << state))
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
  const struct read_stats *st = &in->collector.stats;
  struct instance_id id = {.name = in->name, .kind = INSTANCE_SELF};
  char self[64];

  instance_format(self, sizeof(self), &id);
  dispatch_one(self, "duration", "read", (gauge_t)st->nanoseconds / 1e9);
  dispatch_one(self, "count", "sockets", (gauge_t)st->diag.sockets);
  dispatch_one(self, "count", "recvmsg", (gauge_t)st->diag.recv_calls);
}

/* --- read ------------------------------------------------------------ */

static const char *label(const struct ns_reader *in, char *buf, size_t len) {
  if (in->name[0] == '\0')
    return "";
  snprintf(buf, len, "<Namespace \"%s\">: ", in->name);
  return buf;
}

static void log_source_once(struct ns_reader *in) {
  char lbl[96];

  if (in->source_logged || in->collector.source == SOURCE_UNKNOWN)
    return;
  if (in->collector.source == SOURCE_PROC)
    WARNING(PLUGIN_NAME " plugin: %sreading from %s: %s.",
            label(in, lbl, sizeof(lbl)), read_source_name(in->collector.source),
            in->collector.source_why);
  else
    INFO(PLUGIN_NAME " plugin: %sreading from %s: %s.",
         label(in, lbl, sizeof(lbl)), read_source_name(in->collector.source),
         in->collector.source_why);
  in->source_logged = true;
}

/* A namespace that went away: close its socket (an open socket keeps a
 * dead namespace alive) and report nothing until it is back. Returns
 * false when there is nothing to read. */
static bool namespace_present(struct ns_reader *in) {
  switch (netns_check(&in->target)) {
  case NETNS_GONE:
    diag_conn_close(&in->collector.conn);
    if (!in->gone)
      WARNING(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s is gone; not "
                          "reporting it until it is back.",
              in->name, in->target.path);
    in->gone = true;
    return false;
  case NETNS_CHANGED:
    INFO(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s is a new namespace; "
                     "reopening.",
         in->name, in->target.path);
    diag_conn_close(&in->collector.conn);
    break;
  case NETNS_SAME:
  default:
    break;
  }
  if (in->gone)
    INFO(PLUGIN_NAME " plugin: <Namespace \"%s\">: %s is back.", in->name,
         in->target.path);
  in->gone = false;
  return true;
}

static int read_instance(struct ns_reader *in) {
  char lbl[96];
  int err;

  if (in->in_netns && !namespace_present(in))
    return 0;
  err = collector_read(&in->collector);
  log_source_once(in);
  if (err != 0) {
    /* Logged once per distinct failure; the next read starts from a fresh
     * socket. */
    if (err != in->last_error)
      ERROR(PLUGIN_NAME " plugin: %s%s. Will retry at the next read.",
            label(in, lbl, sizeof(lbl)), in->collector.error);
    in->last_error = err;
    return -1;
  }
  if (in->last_error != 0)
    INFO(PLUGIN_NAME " plugin: %sreading works again.",
         label(in, lbl, sizeof(lbl)));
  in->last_error = 0;
  report_each_block(&in->collector, in->name, submit_block, in);
  report_each_queue(&in->collector, in->name, submit_queue, in);
  if (in->collector.report_self)
    submit_self(in);
  return 0;
}

static int tcd_read(void) {
  /* The daemon's own namespace decides the result (and collectd's back-off);
   * a failing container namespace is logged and does not hold the others
   * back. */
  int ret = read_instance(&host);

  for (size_t i = 0; i < nnamespaces; i++)
    read_instance(namespaces[i]);
  return ret;
}

static int tcd_shutdown(void) {
  if (host_ready)
    collector_destroy(&host.collector);
  host_ready = false;
  for (size_t i = 0; i < nnamespaces; i++) {
    collector_destroy(&namespaces[i]->collector);
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
