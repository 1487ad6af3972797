/* SPDX-License-Identifier: MIT */
#include "cli_args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_MIN 0.1          /* s: shorter would just spin on the kernel */
#define WATCH_MAX 86400.0      /* s: a day */
#define PID_MAX_LIMIT 4194304L /* the kernel's PID_MAX_LIMIT on 64-bit */

enum {
  OPT_LOCAL_PORT = 256,
  OPT_REMOTE_PORT,
  OPT_LISTENING,
  OPT_NO_LISTENING,
  OPT_ALL,
  OPT_STATES,
  OPT_NETNS,
  OPT_NETNS_PID,
  OPT_FORMAT,
  OPT_WATCH,
  OPT_OUTPUT,
  OPT_CONNECTIONS,
};

static const struct option long_options[] = {
    {"local-port", required_argument, NULL, OPT_LOCAL_PORT},
    {"remote-port", required_argument, NULL, OPT_REMOTE_PORT},
    {"listening", no_argument, NULL, OPT_LISTENING},
    {"no-listening", no_argument, NULL, OPT_NO_LISTENING},
    {"all", no_argument, NULL, OPT_ALL},
    {"states", required_argument, NULL, OPT_STATES},
    {"netns", required_argument, NULL, OPT_NETNS},
    {"netns-pid", required_argument, NULL, OPT_NETNS_PID},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"watch", required_argument, NULL, OPT_WATCH},
    {"output", required_argument, NULL, OPT_OUTPUT},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

void cli_usage(FILE *out) {
  fputs("Usage: " CLI_NAME " [OPTION]...\n"
        "Count this host's TCP connections per state and port with sock_diag,\n"
        "as the tcpconns_diag collectd plugin does, and print them once.\n"
        "\n"
        "What to count (the plugin's options; with no port and no --all,\n"
        "every listening port is reported):\n"
        "  --local-port PORT    sockets whose local port is PORT (1-65535),\n"
        "                       or within LOW-HIGH; repeatable (LocalPort)\n"
        "  --remote-port PORT   the same for the remote port (RemotePort)\n"
        "  --listening          also report every listening port "
        "(ListeningPorts)\n"
        "  --no-listening       do not (ListeningPorts false): with\n"
        "                       --connections, only the blocks\n"
        "  --all                report every socket as \"all\" "
        "(AllPortsSummary)\n"
        "  --states NAME[,NAME...]  only these states, e.g.\n"
        "                       ESTABLISHED,TIME_WAIT (States)\n"
        "  --connections NAME:KEY=VALUE[,KEY=VALUE...]\n"
        "                       count the sockets that match, as block NAME\n"
        "                       (<Connections>); keys lport, rport (PORT or\n"
        "                       LOW-HIGH), laddr, raddr (ADDRESS[/PREFIX]),\n"
        "                       states (NAME+NAME...); a repeated key ORs,\n"
        "                       different keys AND; repeatable\n"
        "\n"
        "Where:\n"
        "  --netns NAME         count in /var/run/netns/NAME\n"
        "  --netns-pid PID      count in the network namespace of process "
        "PID\n"
        "\n"
        "Output:\n"
        "  --format json|table|prometheus  one JSON object per read "
        "(default),\n"
        "                       a table, or Prometheus text format\n"
        "  --watch SECONDS      read again every SECONDS (at least 0.1) until\n"
        "                       interrupted\n"
        "  --output FILE        write each read to FILE instead, replacing it\n"
        "                       atomically (for node_exporter's textfile\n"
        "                       collector)\n"
        "  -h, --help           print this help and exit\n"
        "  -V, --version        print the version and exit\n"
        "\n"
        "Exit status: 0 success, 1 a read or namespace failed, 2 usage "
        "error.\n",
        out);
}

/* "ESTABLISHED,TIME_WAIT" (commas or blanks) as the States option takes
 * it: names joined by single spaces. */
static char *states_value(const char *arg) {
  char *out = malloc(strlen(arg) + 1);
  size_t n = 0;
  bool gap = false;

  if (out == NULL)
    return NULL;
  for (const char *p = arg; *p != '\0'; p++) {
    if (*p == ',' || isspace((unsigned char)*p)) {
      gap = true;
      continue;
    }
    if (gap && n > 0)
      out[n++] = ' ';
    gap = false;
    out[n++] = *p;
  }
  out[n] = '\0';
  return out;
}

static int add_option(struct cli_args *a, const char *flag, const char *key,
                      const char *arg) {
  struct cli_option *o = &a->options[a->noptions];

  o->value = strcmp(key, "States") == 0 ? states_value(arg) : strdup(arg);
  if (o->value == NULL) {
    fprintf(stderr, CLI_NAME ": %s: %s\n", flag, strerror(ENOMEM));
    return 2;
  }
  o->flag = flag;
  o->arg = arg;
  o->key = key;
  a->noptions++;
  return 0;
}

static int usage_error(const char *flag, const char *value,
                       const char *expected) {
  fprintf(stderr, CLI_NAME ": %s \"%s\": %s\n", flag, value, expected);
  fprintf(stderr, "Try '" CLI_NAME " --help' for more information.\n");
  return 2;
}

static int parse_format(struct cli_args *a, const char *arg) {
  if (strcmp(arg, "json") == 0)
    a->format = CLI_FORMAT_JSON;
  else if (strcmp(arg, "table") == 0)
    a->format = CLI_FORMAT_TABLE;
  else if (strcmp(arg, "prometheus") == 0)
    a->format = CLI_FORMAT_PROMETHEUS;
  else
    return usage_error("--format", arg, "expected json, table or prometheus");
  return 0;
}

static int parse_watch(struct cli_args *a, const char *arg) {
  char *end;
  double v;

  errno = 0;
  v = strtod(arg, &end);
  if (end == arg || *end != '\0' || errno != 0 || !isfinite(v) ||
      v < WATCH_MIN || v > WATCH_MAX)
    return usage_error("--watch", arg,
                       "expected a number of seconds from 0.1 to 86400");
  a->watch = v;
  return 0;
}

/* A name `ip netns` would accept: a single path component. */
static int parse_netns(struct cli_args *a, const char *flag, const char *arg) {
  if (a->netns_name != NULL || a->netns_pid != 0)
    return usage_error(flag, arg,
                       "only one --netns or --netns-pid may be given");
  if (strcmp(flag, "--netns") == 0) {
    if (arg[0] == '\0' || strchr(arg, '/') != NULL || strcmp(arg, ".") == 0 ||
        strcmp(arg, "..") == 0 || strlen(arg) > NAME_MAX)
      return usage_error(flag, arg,
                         "expected a namespace name as `ip netns list` "
                         "shows it (no '/')");
    a->netns_name = arg;
  } else {
    char *end;
    long pid;

    errno = 0;
    pid = strtol(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end != '\0' || errno != 0 ||
        pid < 1 || pid > PID_MAX_LIMIT)
      return usage_error(flag, arg, "expected a process id");
    a->netns_pid = pid;
  }
  return 0;
}

int cli_args_parse(struct cli_args *a, int argc, char **argv) {
  char **args;
  int opt, ret = 0;

  memset(a, 0, sizeof(*a));
  a->format = CLI_FORMAT_JSON;
  /* At most one option per argument. getopt permutes its argv and names
   * argv[0] in its messages: a copy, named as the program is. */
  a->options = calloc((size_t)argc + 1, sizeof(*a->options));
  a->connections = calloc((size_t)argc + 1, sizeof(*a->connections));
  args = calloc((size_t)argc + 1, sizeof(*args));
  if (a->options == NULL || a->connections == NULL || args == NULL) {
    free(args);
    fprintf(stderr, CLI_NAME ": %s\n", strerror(ENOMEM));
    return 2;
  }
  memcpy(args, argv, (size_t)argc * sizeof(*args));
  args[0] = (char *)CLI_NAME;

  optind = 1;
  opterr = 1;
  while (ret == 0 &&
         (opt = getopt_long(argc, args, "hV", long_options, NULL)) != -1) {
    switch (opt) {
    case OPT_LOCAL_PORT:
      ret = add_option(a, "--local-port", "LocalPort", optarg);
      break;
    case OPT_REMOTE_PORT:
      ret = add_option(a, "--remote-port", "RemotePort", optarg);
      break;
    case OPT_LISTENING:
      ret = add_option(a, "--listening", "ListeningPorts", "true");
      break;
    case OPT_NO_LISTENING:
      ret = add_option(a, "--no-listening", "ListeningPorts", "false");
      break;
    case OPT_ALL:
      ret = add_option(a, "--all", "AllPortsSummary", "true");
      break;
    case OPT_STATES:
      ret = add_option(a, "--states", "States", optarg);
      break;
    case OPT_NETNS:
      ret = parse_netns(a, "--netns", optarg);
      break;
    case OPT_NETNS_PID:
      ret = parse_netns(a, "--netns-pid", optarg);
      break;
    case OPT_FORMAT:
      ret = parse_format(a, optarg);
      break;
    case OPT_WATCH:
      ret = parse_watch(a, optarg);
      break;
    case OPT_OUTPUT:
      if (optarg[0] == '\0' || optarg[strlen(optarg) - 1] == '/')
        ret = usage_error("--output", optarg, "expected a file name");
      else
        a->output = optarg;
      break;
    case OPT_CONNECTIONS:
      a->connections[a->nconnections++] = optarg;
      break;
    case 'h':
      a->help = true;
      break;
    case 'V':
      a->version = true;
      break;
    default: /* getopt named the flag */
      fprintf(stderr, "Try '" CLI_NAME " --help' for more information.\n");
      ret = 2;
      break;
    }
  }
  if (ret == 0 && optind < argc) {
    fprintf(stderr,
            CLI_NAME ": unexpected argument \"%s\" (ports are given with "
                     "--local-port or --remote-port)\n",
            args[optind]);
    fprintf(stderr, "Try '" CLI_NAME " --help' for more information.\n");
    ret = 2;
  }
  free(args);
  return ret;
}

void cli_args_free(struct cli_args *a) {
  for (size_t i = 0; i < a->noptions; i++)
    free(a->options[i].value);
  free(a->options);
  a->options = NULL;
  a->noptions = 0;
  free(a->connections);
  a->connections = NULL;
  a->nconnections = 0;
}
