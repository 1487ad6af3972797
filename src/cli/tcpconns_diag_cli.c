/* SPDX-License-Identifier: MIT */
/* tcpconns-diag: the plugin's counts, once or every few seconds, as JSON, a
 * table or Prometheus text (to stdout or a file replaced atomically), from
 * the same core and with the same options, without collectd.
 *
 * Order of work: flags (usage errors exit 2 before anything is touched),
 * options applied to the collector, the network namespace entered, then
 * the reads; the core opens its netlink socket at the first read, so the
 * socket lives in the namespace entered. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cli_args.h"
#include "cli_connections.h"
#include "cli_netns.h"
#include "cli_outfile.h"
#include "cli_output.h"
#include "cli_prometheus.h"

#include "collector.h"
#include "options.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown (built without config.h)"
#endif

enum { EXIT_OK = 0, EXIT_READ = 1, EXIT_USAGE = 2 };

static void warn_option(void *ctx, const char *message) {
  const struct cli_option *o = ctx;

  fprintf(stderr, CLI_NAME ": warning: %s \"%s\": %s\n", o->flag, o->arg,
          message);
}

static int apply_options(struct collector_config *c, const struct cli_args *a) {
  char err[512];

  /* Prometheus output carries the accept queues: free, they ride on the
   * listener dump the read makes anyway (see cli_prometheus.h). */
  if (a->format == CLI_FORMAT_PROMETHEUS &&
      options_apply(c, "ReportAcceptQueue", "true", NULL, NULL, err,
                    sizeof(err)) != 0) {
    fprintf(stderr, CLI_NAME ": %s\n", err);
    return EXIT_READ;
  }
  for (size_t i = 0; i < a->noptions; i++) {
    struct cli_option *o = &a->options[i];

    if (options_apply(c, o->key, o->value, warn_option, o, err, sizeof(err)) !=
        0) {
      fprintf(stderr, CLI_NAME ": %s \"%s\": %s\n", o->flag, o->arg, err);
      return EXIT_USAGE;
    }
  }
  for (size_t i = 0; i < a->nconnections; i++)
    if (cli_connections_apply(c, a->connections[i], err, sizeof(err)) != 0) {
      fprintf(stderr, CLI_NAME ": --connections \"%s\": %s\n",
              a->connections[i], err);
      return EXIT_USAGE;
    }
  options_finish(c);
  return EXIT_OK;
}

static int enter_netns(const struct cli_args *a) {
  char err[512];
  int ret = 0;

  if (a->netns_name != NULL)
    ret = cli_netns_enter_name(a->netns_name, err, sizeof(err));
  else if (a->netns_pid != 0)
    ret = cli_netns_enter_pid(a->netns_pid, err, sizeof(err));
  if (ret != 0) {
    fprintf(stderr, CLI_NAME ": %s\n", err);
    return EXIT_READ;
  }
  return EXIT_OK;
}

/* --- one read ------------------------------------------------------- */

struct reader {
  struct collector *c;
  const struct cli_args *a;
  int last_err;       /* the last failed read's error, 0 after a success */
  bool source_warned; /* the /proc fallback was reported */
  unsigned printed;   /* outputs so far */
  char netns_pid[24]; /* --netns-pid as a label value */
};

static void print_watch_header(const struct reader *r) {
  char when[64] = "";
  time_t now = time(NULL);
  struct tm tm;

  if (isatty(STDOUT_FILENO))
    fputs("\033[H\033[2J", stdout); /* home, clear: redraw in place */
  else if (r->printed > 0)
    fputc('\n', stdout);
  if (localtime_r(&now, &tm) != NULL)
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
  printf("Every %gs: " CLI_NAME " (Ctrl-C to stop)  %s\n\n", r->a->watch, when);
}

/* The read in the chosen format (the table without the --watch header). */
static void print_read(FILE *out, void *ctx) {
  struct reader *r = ctx;
  struct cli_prom_label netns = {0};

  switch (r->a->format) {
  case CLI_FORMAT_TABLE:
    cli_print_table(out, r->c);
    break;
  case CLI_FORMAT_PROMETHEUS:
    if (r->a->netns_name != NULL) {
      netns = (struct cli_prom_label){"netns", r->a->netns_name};
    } else if (r->a->netns_pid != 0) {
      snprintf(r->netns_pid, sizeof(r->netns_pid), "%ld", r->a->netns_pid);
      netns = (struct cli_prom_label){"netns_pid", r->netns_pid};
    }
    cli_print_prometheus(out, r->c, netns);
    break;
  default:
    cli_print_json(out, r->c);
    break;
  }
}

/* Returns EXIT_OK, EXIT_READ for a failed read, or -1 when the output
 * cannot be written (no point going on). */
static int read_and_print(struct reader *r) {
  bool watching = r->a->watch > 0;
  int err = collector_read(r->c);
  const char *why;

  if (collector_source(r->c, &why) == SOURCE_PROC && !r->source_warned) {
    fprintf(stderr, CLI_NAME ": warning: reading from %s: %s\n",
            read_source_name(SOURCE_PROC), why);
    r->source_warned = true;
  }
  if (err != 0) {
    /* Watching, each distinct failure is reported once, as the plugin
     * logs it; the next read starts from a fresh socket. */
    if (!watching || err != r->last_err)
      fprintf(stderr, CLI_NAME ": %s%s\n",
              collector_error(r->c)[0] != '\0' ? collector_error(r->c)
                                               : strerror(-err),
              watching ? "; retrying at the next read" : "");
    r->last_err = err;
    return EXIT_READ;
  }
  if (r->last_err != 0)
    fprintf(stderr, CLI_NAME ": reading works again\n");
  r->last_err = 0;

  if (r->a->output != NULL) {
    char msg[1024];

    if (cli_outfile_write(r->a->output, print_read, r, msg, sizeof(msg)) != 0) {
      fprintf(stderr, CLI_NAME ": %s\n", msg);
      return -1;
    }
    r->printed++;
    return EXIT_OK;
  }
  if (r->a->format == CLI_FORMAT_TABLE && watching)
    print_watch_header(r);
  print_read(stdout, r);
  r->printed++;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, CLI_NAME ": cannot write the output: %s\n",
            strerror(errno));
    return -1;
  }
  return EXIT_OK;
}

/* --- watch ---------------------------------------------------------- */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* SIGINT and SIGTERM stay blocked except while waiting between reads, so
 * a read and its output always complete and a signal is never lost
 * between the check and the wait. wait_mask: the mask to wait with. */
static int setup_signals(sigset_t *wait_mask) {
  struct sigaction sa;
  sigset_t block;

  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &block, wait_mask) != 0)
    return -1;
  sigdelset(wait_mask, SIGINT);
  sigdelset(wait_mask, SIGTERM);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return -1;
  return 0;
}

static void ts_add(struct timespec *t, double seconds) {
  long long ns = (long long)(seconds * 1e9 + 0.5);

  t->tv_sec += (time_t)(ns / 1000000000LL);
  t->tv_nsec += (long)(ns % 1000000000LL);
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static bool ts_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec ||
         (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Sleeps until the monotonic time next, or until a stop signal. */
static void wait_until(const struct timespec *next, const sigset_t *mask) {
  struct timespec now, left;

  while (!stop_requested) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!ts_before(&now, next))
      return;
    left.tv_sec = next->tv_sec - now.tv_sec;
    left.tv_nsec = next->tv_nsec - now.tv_nsec;
    if (left.tv_nsec < 0) {
      left.tv_sec--;
      left.tv_nsec += 1000000000L;
    }
    ppoll(NULL, 0, &left, mask); /* EINTR once a handler ran */
  }
}

/* Reads on a fixed schedule (no drift; a late read is not caught up)
 * until SIGINT or SIGTERM. Exit status: that of the last read. */
static int watch(struct reader *r) {
  struct timespec next, now;
  sigset_t wait_mask;
  int status = EXIT_OK;

  if (setup_signals(&wait_mask) != 0) {
    fprintf(stderr, CLI_NAME ": cannot set up signal handling: %s\n",
            strerror(errno));
    return EXIT_READ;
  }
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!stop_requested) {
    status = read_and_print(r);
    if (status < 0)
      return EXIT_READ;
    ts_add(&next, r->a->watch);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (ts_before(&next, &now))
      next = now;
    wait_until(&next, &wait_mask);
  }
  return status;
}

int main(int argc, char **argv) {
  struct cli_args args;
  struct collector_config cfg;
  struct collector *c = NULL;
  struct reader r;
  int status, err;

  status = cli_args_parse(&args, argc, argv);
  if (status != EXIT_OK || args.help || args.version) {
    if (status == EXIT_OK && args.help)
      cli_usage(stdout);
    else if (status == EXIT_OK)
      printf(CLI_NAME " (tcpconns_diag) %s\n", PACKAGE_VERSION);
    cli_args_free(&args);
    if (status == EXIT_OK && (fflush(stdout) != 0 || ferror(stdout)))
      return EXIT_READ;
    return status;
  }

  config_init(&cfg);
  status = apply_options(&cfg, &args);
  if (status == EXIT_USAGE)
    fprintf(stderr, "Try '" CLI_NAME " --help' for more information.\n");
  if (status == EXIT_OK) {
    err = collector_new(&c, &cfg, &diag_io_kernel);
    if (err != 0) {
      fprintf(stderr, CLI_NAME ": cannot set up: %s\n", strerror(-err));
      status = EXIT_READ;
    }
  }
  if (status == EXIT_OK)
    status = enter_netns(&args);
  if (status == EXIT_OK) {
    r = (struct reader){.c = c, .a = &args};
    if (args.watch > 0)
      status = watch(&r);
    else
      status = read_and_print(&r) == EXIT_OK ? EXIT_OK : EXIT_READ;
  }
  collector_free(c);
  config_destroy(&cfg);
  cli_args_free(&args);
  return status;
}
