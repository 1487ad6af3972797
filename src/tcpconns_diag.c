/* collectd glue: config, init, read, shutdown and dispatch. Counting lives
 * in the collector, which includes no collectd header. */
#include "collectd/core/daemon/collectd.h"
#include "collectd/core/daemon/plugin.h"

#include <stdio.h>
#include <string.h>

#include "collector.h"
#include "dispatch_list.h"
#include "options.h"

/* The name the module registers under: the name of its file, which is what
 * LoadPlugin and <Plugin> name. Built a second time as tcpconns.so with
 * --enable-tcpconns-name for a switch without touching collectd.conf. */
#ifndef PLUGIN_NAME
#define PLUGIN_NAME "tcpconns_diag"
#endif

static struct tc_collector collector;
static bool collector_ready;
static bool config_failed;
static int last_read_error; /* logged once until a read succeeds */
static bool source_logged;

static int ensure_collector(void) {
  int err;

  if (collector_ready)
    return 0;
  err = tc_init(&collector, &diag_io_kernel);
  if (err != 0) {
    ERROR(PLUGIN_NAME " plugin: cannot allocate buffers: %s", strerror(-err));
    tc_destroy(&collector);
    return -1;
  }
  collector_ready = true;
  return 0;
}

static void warn_option(void *ctx, const char *message) {
  (void)ctx;
  WARNING(PLUGIN_NAME " plugin: %s", message);
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

static int tcd_config(oconfig_item_t *ci) {
  char value[1024], err[512];

  if (ensure_collector() != 0)
    return -1;
  for (int i = 0; i < ci->children_num; i++) {
    const oconfig_item_t *child = &ci->children[i];

    if (child->children_num > 0) {
      ERROR(PLUGIN_NAME " plugin: unexpected block <%s> inside <Plugin "
                        "%s>; the options are ListeningPorts, LocalPort, "
                        "RemotePort and AllPortsSummary.",
            child->key, PLUGIN_NAME);
      config_failed = true;
      return -1;
    }
    if (join_values(child, value, sizeof(value)) != 0) {
      ERROR(PLUGIN_NAME " plugin: %s: value too long.", child->key);
      config_failed = true;
      return -1;
    }
    if (tc_option_apply(&collector, child->key, value, warn_option, NULL, err,
                        sizeof(err)) != 0) {
      ERROR(PLUGIN_NAME " plugin: %s", err);
      config_failed = true;
      return -1;
    }
  }
  return 0;
}

static int tcd_init(void) {
  if (config_failed)
    return -1;
  if (ensure_collector() != 0)
    return -1;
  tc_options_finish(&collector);
  return 0;
}

static void submit(void *ctx, const char *plugin_instance,
                   const uint32_t *counts) {
  const struct tc_collector *c = ctx;
  value_list_t vl = VALUE_LIST_INIT;
  value_t value;

  vl.values = &value;
  vl.values_len = 1;
  snprintf(vl.plugin, sizeof(vl.plugin), "tcpconns");
  snprintf(vl.plugin_instance, sizeof(vl.plugin_instance), "%s", plugin_instance);
  snprintf(vl.type, sizeof(vl.type), "tcp_connections");
  for (int state = TCS_MIN; state <= TCS_MAX; state++) {
    if (!(c->report_states & (1u << state)))
      continue;
    value.gauge = (gauge_t)counts[state];
    snprintf(vl.type_instance, sizeof(vl.type_instance), "%s", tcs_names[state]);
    plugin_dispatch_values(&vl);
  }
}

static void submit_queue(void *ctx, const char *plugin_instance,
                         uint32_t accept_queue, uint32_t backlog) {
  value_list_t vl = VALUE_LIST_INIT;
  value_t value;

  (void)ctx;
  vl.values = &value;
  vl.values_len = 1;
  snprintf(vl.plugin, sizeof(vl.plugin), "tcpconns");
  snprintf(vl.plugin_instance, sizeof(vl.plugin_instance), "%s",
           plugin_instance);
  snprintf(vl.type, sizeof(vl.type), "queue_length");
  snprintf(vl.type_instance, sizeof(vl.type_instance), "accept");
  value.gauge = (gauge_t)accept_queue;
  plugin_dispatch_values(&vl);
  snprintf(vl.type_instance, sizeof(vl.type_instance), "backlog");
  value.gauge = (gauge_t)backlog;
  plugin_dispatch_values(&vl);
}

static int tcd_read(void) {
  int err = tc_read(&collector);

  if (!source_logged && collector.source != TC_SRC_UNKNOWN) {
    if (collector.source == TC_SRC_PROC)
      WARNING(PLUGIN_NAME " plugin: reading from %s: %s.",
              tc_source_name(collector.source), collector.source_why);
    else
      INFO(PLUGIN_NAME " plugin: reading from %s: %s.",
           tc_source_name(collector.source), collector.source_why);
    source_logged = true;
  }
  if (err != 0) {
    /* Logged once per distinct failure; collectd backs the read off and
     * the next read starts from a fresh socket. */
    if (err != last_read_error)
      ERROR(PLUGIN_NAME " plugin: %s. Will retry at the next read.",
            collector.error);
    last_read_error = err;
    return -1;
  }
  if (last_read_error != 0) {
    INFO(PLUGIN_NAME " plugin: reading works again.");
    last_read_error = 0;
  }
  tc_for_each_block(&collector, submit, &collector);
  tc_for_each_queue(&collector, submit_queue, NULL);
  return 0;
}

static int tcd_shutdown(void) {
  if (collector_ready)
    tc_destroy(&collector);
  collector_ready = false;
  return 0;
}

void module_register(void) {
  plugin_register_complex_config(PLUGIN_NAME, tcd_config);
  plugin_register_init(PLUGIN_NAME, tcd_init);
  plugin_register_read(PLUGIN_NAME, tcd_read);
  plugin_register_shutdown(PLUGIN_NAME, tcd_shutdown);
}
