/* SPDX-License-Identifier: MIT */
/* churn: TCP socket sets on loopback for tests/daemon/churn.sh (and
 * soak.sh), run inside a private network namespace.
 *
 *   churn hold [6/]PORT:ESTAB[:HALF] ...
 *     Holds a static set: per spec, a listener on 127.0.0.1:PORT (with
 *     6/: [::1]:PORT, v6only), ESTAB established connections, and HALF
 *     half-closed ones (the client shut its side down and keeps its
 *     descriptor: FIN_WAIT2 at the client, CLOSE_WAIT at the server).
 *     Counts while it holds, exactly:
 *       PORT-local:  LISTEN 1, ESTABLISHED ESTAB, CLOSE_WAIT HALF
 *       PORT-remote: ESTABLISHED ESTAB, FIN_WAIT2 HALF
 *     Client ports are ephemeral: the namespace's ip_local_port_range
 *     must not contain PORT. Specs are spread over worker processes of at
 *     most 9,000 descriptors each, so large sets fit the per-process limit.
 *
 *   churn run [-k BATCH] [-r RATE] [-g GRATE] [-s NSRC] [-d MS] PORT[:g] ...
 *     One worker process per PORT, each with its own listener on
 *     127.0.0.1:PORT, repeating: connect BATCH clients (non-blocking, from
 *     127.1.0.1 .. 127.1.0.NSRC in turn), accept the BATCH connections,
 *     keep them open MS milliseconds (default 0), close them all; paced to RATE
 * connections per second per worker (default 2000; 0: as fast as it can; GRATE
 * for :g ports, default RATE / 4). Closes are aborts (SO_LINGER 0: both sockets
 * leave the tables inside close(), nothing lingers) unless the port has the :g
 * suffix: then the client closes first and then the server (FIN_WAIT1/2,
 * CLOSE_WAIT, LAST_ACK on the way, a client-side TIME_WAIT for 60 s after).
 *     What it can produce, per PORT, at any instant:
 *       PORT-local:  LISTEN exactly 1; every other state together at most
 *                    BATCH (one batch is open at a time, and an abort
 *                    removes both ends before the next batch starts);
 *       PORT-remote: every state together at most BATCH;
 *     with :g, the closing states (FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT,
 *     LAST_ACK, CLOSING, TIME_WAIT) are not bounded by BATCH (the kernel
 *     finishes them after close() returns) but by the number of graceful
 *     closes made so far, on each side.
 *     On SIGTERM or SIGINT each worker prints
 *       "port P conns N graceful G seconds T"
 *     and the parent "total N graceful G seconds T rate R".
 *
 * Both forms print "ready N" (sockets held, or workers started) on stdout
 * once set up, and end at SIGTERM/SIGINT or EOF on stdin, taking their
 * workers with them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "../sockload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define MAX_WORKERS 256
#define FDS_PER_WORKER 9000

/* --- hold ------------------------------------------------------------- */

struct spec {
  int family;
  uint16_t port;
  long estab, half;
};

/* Builds part of a spec's connections: n connections, the first nhalf of
 * them half-closed. The listener is shared (opened by the parent). */
static void hold_part(int lfd, const struct spec *s, long n, long nhalf,
                      int ready_fd) {
  union sl_addr dst;
  static int cl[MAX_BATCH], sv[MAX_BATCH];

  sl_addr_set(&dst, s->family, s->family == AF_INET ? "127.0.0.1" : "::1",
              s->port);
  for (long done = 0; done < n && !sl_stop;) {
    size_t k = (size_t)(n - done < MAX_BATCH ? n - done : MAX_BATCH);
    sl_connect_batch(lfd, &dst, NULL, k, cl, sv);
    for (size_t i = 0; i < k; i++)
      if (done + (long)i < nhalf && shutdown(cl[i], SHUT_WR) != 0)
        sl_die("shutdown: %s", strerror(errno));
    done += (long)k;
  }
  sl_ready(ready_fd);
  sl_idle_exit();
}

static int cmd_hold(int argc, char **argv) {
  struct spec specs[64];
  int nspecs = 0, pipefd[2], parts = 0;
  long total = 0;

  for (int i = 0; i < argc; i++) {
    struct spec *s = &specs[nspecs];
    const char *p = argv[i];
    char *end;

    if (nspecs == 64)
      sl_die("too many specs");
    s->family = AF_INET;
    if (strncmp(p, "6/", 2) == 0) {
      s->family = AF_INET6;
      p += 2;
    }
    long port = strtol(p, &end, 10);
    if (*end != ':' || port < 1 || port > 65535)
      sl_die("bad spec %s (want [6/]PORT:ESTAB[:HALF])", argv[i]);
    s->port = (uint16_t)port;
    s->estab = strtol(end + 1, &end, 10);
    s->half = 0;
    if (*end == ':')
      s->half = strtol(end + 1, &end, 10);
    if (*end != '\0' || s->estab < 0 || s->half < 0)
      sl_die("bad spec %s", argv[i]);
    nspecs++;
  }
  if (pipe2(pipefd, O_CLOEXEC) != 0)
    sl_die("pipe: %s", strerror(errno));
  for (int i = 0; i < nspecs; i++) {
    const struct spec *s = &specs[i];
    union sl_addr a;
    long conns = s->estab + s->half, per = FDS_PER_WORKER / 2;

    sl_addr_set(&a, s->family, s->family == AF_INET ? "127.0.0.1" : "::1",
                s->port);
    int lfd = sl_listen(&a, 4096);
    total += 1 + 2 * conns;
    /* Half-closed ones first, in the first parts. */
    for (long done = 0; done < conns; done += per) {
      long n = conns - done < per ? conns - done : per;
      long nhalf = s->half - done;
      nhalf = nhalf < 0 ? 0 : nhalf > n ? n : nhalf;
      if (sl_spawn() == 0) {
        close(pipefd[0]);
        hold_part(lfd, s, n, nhalf, pipefd[1]);
      }
      parts++;
    }
    /* The listener stays open here; the workers hold their copies. */
  }
  close(pipefd[1]);
  if (sl_wait_ready(pipefd[0], parts) != 0) {
    sl_end_workers();
    return 1;
  }
  close(pipefd[0]);
  printf("ready %ld\n", total);
  fflush(stdout);
  sl_hold(0);
  sl_end_workers();
  return 0;
}

/* --- run -------------------------------------------------------------- */

struct churn {
  uint16_t port;
  int graceful;
  long batch;
  double rate;
  int nsrc;
  long dwell_ms; /* a batch stays open this long before it is closed */
};

static void sleep_s(double s) {
  struct timespec ts;

  if (s <= 0)
    return;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  nanosleep(&ts, NULL);
}

static void abort_close(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};

  if (fd < 0)
    return;
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  close(fd);
}

static void churn_worker(const struct churn *c, int lfd) {
  static int cl[MAX_BATCH], sv[MAX_BATCH];
  union sl_addr dst, src;
  unsigned long long conns = 0, graceful = 0;
  double t0 = sl_now(), t;
  char ip[32];

  /* sl_init's handlers (inherited) have no SA_RESTART: a signal interrupts
   * accept() so the worker can stop. */
  sl_addr_set(&dst, AF_INET, "127.0.0.1", c->port);
  for (unsigned round = 0; !sl_stop; round++) {
    snprintf(ip, sizeof(ip), "127.1.0.%u", 1 + round % (unsigned)c->nsrc);
    sl_addr_set(&src, AF_INET, ip, 0);
    sl_connect_batch(lfd, &dst, &src, (size_t)c->batch, cl, sv);
    sleep_s((double)c->dwell_ms / 1e3);
    for (long i = 0; i < c->batch; i++) {
      if (sv[i] < 0) { /* stopping mid-batch */
        abort_close(cl[i]);
        continue;
      }
      if (c->graceful) {
        close(cl[i]);
        close(sv[i]);
        graceful++;
      } else {
        abort_close(sv[i]);
        abort_close(cl[i]);
      }
      conns++;
    }
    if (c->rate > 0)
      sleep_s(t0 + (double)conns / c->rate - sl_now());
  }
  t = sl_now() - t0;
  printf("port %u conns %llu graceful %llu seconds %.3f\n", (unsigned)c->port,
         conns, graceful, t);
  fflush(stdout);
  exit(0);
}

static int cmd_run(int argc, char **argv) {
  struct churn base = {.batch = 64, .rate = 2000, .nsrc = 16};
  struct churn cs[MAX_WORKERS];
  int n = 0, opt, pipes[MAX_WORKERS];
  double grate = -1;

  optind = 1;
  while ((opt = getopt(argc, argv, "k:r:g:s:d:")) != -1) {
    switch (opt) {
    case 'd':
      base.dwell_ms = strtol(optarg, NULL, 10);
      break;
    case 'k':
      base.batch = strtol(optarg, NULL, 10);
      break;
    case 'r':
      base.rate = strtod(optarg, NULL);
      break;
    case 'g':
      grate = strtod(optarg, NULL);
      break;
    case 's':
      base.nsrc = (int)strtol(optarg, NULL, 10);
      break;
    default:
      sl_die(
          "usage: churn run [-k BATCH] [-r RATE] [-g RATE] [-s NSRC] [-d MS] "
          "PORT[:g] ...");
    }
  }
  if (base.batch < 1 || base.batch > MAX_BATCH || base.rate < 0 ||
      base.dwell_ms < 0 || base.dwell_ms > 10000 || base.nsrc < 1 ||
      base.nsrc > 250 || optind >= argc)
    sl_die("usage: churn run [-k BATCH 1..%d] [-r RATE] [-g RATE] "
           "[-s NSRC 1..250] [-d MS] PORT[:g] ...",
           MAX_BATCH);
  if (grate < 0)
    grate = base.rate / 4;
  for (int i = optind; i < argc; i++) {
    char *end;
    long port = strtol(argv[i], &end, 10);
    if (n == MAX_WORKERS || port < 1 || port > 65535 ||
        (*end != '\0' && strcmp(end, ":g") != 0))
      sl_die("bad port %s", argv[i]);
    cs[n] = base;
    cs[n].port = (uint16_t)port;
    cs[n].graceful = *end != '\0';
    if (cs[n].graceful)
      cs[n].rate = grate;
    n++;
  }
  for (int i = 0; i < n; i++) {
    union sl_addr a;
    int fd[2];

    sl_addr_set(&a, AF_INET, "127.0.0.1", cs[i].port);
    int lfd = sl_listen(&a, 4096);
    if (pipe2(fd, O_CLOEXEC) != 0)
      sl_die("pipe: %s", strerror(errno));
    if (sl_spawn() == 0) {
      close(fd[0]);
      if (dup2(fd[1], 1) < 0)
        sl_die("dup2: %s", strerror(errno));
      churn_worker(&cs[i], lfd);
    }
    close(fd[1]);
    close(lfd);
    pipes[i] = fd[0];
  }
  printf("ready %d\n", n);
  fflush(stdout);
  sl_hold(0);
  sl_kill_workers();
  /* Each worker's report, then the total. */
  unsigned long long total = 0, gtotal = 0;
  double longest = 0;
  for (int i = 0; i < n; i++) {
    char buf[256];
    ssize_t r;
    size_t len = 0;
    unsigned port;
    unsigned long long c, g;
    double secs;

    while (len < sizeof(buf) - 1 &&
           (r = read(pipes[i], buf + len, sizeof(buf) - 1 - len)) != 0) {
      if (r < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      len += (size_t)r;
    }
    buf[len] = '\0';
    close(pipes[i]);
    fputs(buf, stdout);
    if (sscanf(buf, "port %u conns %llu graceful %llu seconds %lf", &port, &c,
               &g, &secs) == 4) {
      total += c;
      gtotal += g;
      if (secs > longest)
        longest = secs;
    } else {
      fprintf(stderr, "churn: worker for port %u gave no report\n",
              (unsigned)cs[i].port);
    }
  }
  sl_reap_workers();
  /* The rate over the time the workers ran (the longest of them). */
  printf("total %llu graceful %llu seconds %.3f rate %.0f\n", total, gtotal,
         longest, longest > 0 ? (double)total / longest : 0.0);
  fflush(stdout);
  return 0;
}

int main(int argc, char **argv) {
  sl_init("churn");
  if (argc >= 2 && strcmp(argv[1], "hold") == 0)
    return cmd_hold(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  fprintf(stderr, "usage: churn hold [6/]PORT:ESTAB[:HALF] ...\n"
                  "       churn run [-k BATCH] [-r RATE] [-g GRATE] [-s NSRC] "
                  "[-d MS] PORT[:g] ...\n");
  return 2;
}
