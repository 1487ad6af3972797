/* SPDX-License-Identifier: MIT */
/* loadgen: holds N TCP sockets on loopback in the current network
 * namespace, for the tcpconns_diag benchmark (bench/run).
 *
 *   loadgen [-n N] [-6 PCT] [-w PCT] [-r PCT] [-i IDLE] [-s V4SRCS]
 *           [-S V6PREFIX -k V6SRCS] [-c CONNS_PER_WORKER]
 *   loadgen -L K [-B FIRST]
 *
 * The first form builds the connection load:
 *   - listeners: 127.0.0.1 and [::] (v6only) on ports 80, 443 and 8080,
 *     127.0.0.1:9100 (the "rare" port), 127.0.0.2:80 (for TIME_WAIT churn)
 *     and IDLE idle listeners on 0.0.0.0 at ports 3000, 3003, 3006, ...
 *     (scattered, so that no two are consecutive);
 *   - connections: each gives a server-side socket with local port P and a
 *     client-side socket with remote port P. -r PCT of N sockets are
 *     server-side sockets on port 9100; of the rest, -6 PCT go over IPv6,
 *     and both families are split evenly over 80, 443 and 8080;
 *   - TIME_WAIT: -w PCT of N, made by client-first closes to 127.0.0.2:80,
 *     and rebuilt every 58 s (TIME_WAIT lasts 60 s), so there are always
 *     about that many.
 * Client sockets bind to one of V4SRCS addresses 127.1.x.y (or, for IPv6,
 * V6PREFIX+0x100+k, addresses the caller must have put on lo; without -S
 * they bind to ::1) with IP_BIND_ADDRESS_NO_PORT, so the kernel picks the
 * port per 4-tuple and each source address gives a whole port range.
 * Connections are spread over worker processes (each holds at most
 * 2 * CONNS_PER_WORKER descriptors: the hard fd limit is per process).
 * The caller should raise net.core.somaxconn (the listeners use it as their
 * backlog) and set net.ipv4.tcp_tw_reuse=0 (or loopback connects may
 * recycle the TIME_WAIT sockets) in the namespace.
 *
 * The second form only holds K idle listening sockets on 0.0.0.0, at ports
 * 3000 + 3 * (FIRST + i): the many-ports case.
 *
 * Both print "ready N" (N = sockets held) on stdout when built, then hold
 * until SIGTERM/SIGINT or EOF on stdin, and end their children. */
#define _GNU_SOURCE
#include "../tests/sockload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 256           /* connects before the matching accepts */
#define IDLE_PORT_BASE 3000 /* idle listener i: IDLE_PORT_BASE + 3 * i */
#define IDLE_PORT_STEP 3
#define RARE_PORT 9100
#define TW_REFRESH_S 58
#define MAX_JOBS 4096

static const uint16_t main_ports[3] = {80, 443, 8080};

/* Connects n client sockets from src to dst (listener lfd), accepts n
 * server sockets from lfd. Client and server descriptors are stored in fds
 * (2n entries) unless fds is NULL, in which case TIME_WAIT is made: the
 * client closes first, then the server. */
static void connect_batch(int lfd, const union sl_addr *src,
                          const union sl_addr *dst, size_t n, int *fds) {
  int cl[BATCH], sv[BATCH];

  if (n > BATCH)
    sl_die("batch too large");
  if (sl_connect_batch(lfd, dst, src, n, cl, sv) < n)
    sl_die("accept: %s", strerror(EINTR));
  if (fds != NULL) {
    for (size_t i = 0; i < n; i++) {
      fds[2 * i] = cl[i];
      fds[2 * i + 1] = sv[i];
    }
    return;
  }
  /* TIME_WAIT: every client closes first (FIN_WAIT2), then every server
   * (its FIN moves the client to TIME_WAIT; the server side goes away). */
  for (size_t i = 0; i < n; i++)
    close(cl[i]);
  for (size_t i = 0; i < n; i++)
    close(sv[i]);
}

struct job {
  int family;
  int lfd;           /* listener to accept from */
  union sl_addr dst; /* where clients connect */
  union sl_addr src; /* client source address, port 0 */
  size_t conns;      /* connections to hold (or TIME_WAIT per round) */
  int timewait;      /* 1: the TIME_WAIT churn job */
  int nsrc;          /* timewait: source addresses to rotate over */
};

static void run_job(const struct job *j, int ready_fd) {
  int *fds = NULL;

  if (!j->timewait) {
    fds = malloc(2 * j->conns * sizeof(*fds));
    if (fds == NULL)
      sl_die("out of memory");
    for (size_t done = 0; done < j->conns;) {
      size_t n = j->conns - done < BATCH ? j->conns - done : BATCH;
      connect_batch(j->lfd, &j->src, &j->dst, n, fds + 2 * done);
      done += n;
    }
    sl_ready(ready_fd);
    sl_idle_exit();
  }
  /* TIME_WAIT churn: a full set now, then again every TW_REFRESH_S. */
  for (unsigned round = 0; !sl_stop; round++) {
    union sl_addr src = j->src;
    double next;

    src.in.sin_addr.s_addr =
        htonl(ntohl(src.in.sin_addr.s_addr) + (round % (unsigned)j->nsrc));
    for (size_t done = 0; done < j->conns && !sl_stop;) {
      size_t n = j->conns - done < BATCH ? j->conns - done : BATCH;
      connect_batch(j->lfd, &src, &j->dst, n, NULL);
      done += n;
    }
    if (round == 0)
      sl_ready(ready_fd);
    next = sl_now() + TW_REFRESH_S;
    while (!sl_stop && sl_now() < next)
      sleep(1);
  }
  exit(0);
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen [-n N] [-6 V6PCT] [-w TWPCT] [-r RAREPCT] "
                  "[-i IDLE] [-s V4SRCS] [-S V6PREFIX -k V6SRCS] [-c CONNS]\n"
                  "       loadgen -L K [-B FIRST]\n");
  exit(2);
}

static long parse_num(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s)
    usage();
  if (*end == 'k' || *end == 'K')
    v *= 1e3;
  else if (*end == 'm' || *end == 'M')
    v *= 1e6;
  return (long)v;
}

static int listeners_only(long k, long first) {
  union sl_addr a;
  double t0 = sl_now();

  for (long i = 0; i < k; i++) {
    long port = IDLE_PORT_BASE + IDLE_PORT_STEP * (first + i);
    if (port > 65535 || port == RARE_PORT || port == 8080)
      sl_die("listener port %ld out of range or reserved", port);
    sl_addr_set(&a, AF_INET, "0.0.0.0", (uint16_t)port);
    sl_listen(&a, 16);
  }
  fprintf(stderr, "loadgen: %ld listeners in %.2f s\n", k, sl_now() - t0);
  printf("ready %ld\n", k);
  fflush(stdout);
  sl_hold(1);
  return 0;
}

int main(int argc, char **argv) {
  long n = 10000, v6pct = 25, twpct = 2, rarepct = 1, idle = 16;
  long v4srcs = 32, v6srcs = 0, per_worker = 9000, lonly = -1, lfirst = 0;
  const char *v6prefix = NULL;
  static struct job jobs[MAX_JOBS];
  int njobs = 0, backlog = 65535, opt, pipefd[2];
  /* The options that take a number (parse_num), and where it goes. */
  const struct {
    int opt;
    long *val;
  } nums[] = {{'n', &n},     {'6', &v6pct},  {'w', &twpct},  {'r', &rarepct},
              {'i', &idle},  {'s', &v4srcs}, {'k', &v6srcs}, {'c', &per_worker},
              {'L', &lonly}, {'B', &lfirst}};
  double t0 = sl_now();
  long held;

  sl_init("loadgen");
  while ((opt = getopt(argc, argv, "n:6:w:r:i:s:S:k:c:L:B:h")) != -1) {
    size_t i = 0;

    if (opt == 'S') {
      v6prefix = optarg;
      continue;
    }
    while (i < sizeof(nums) / sizeof(nums[0]) && nums[i].opt != opt)
      i++;
    if (i == sizeof(nums) / sizeof(nums[0]))
      usage();
    *nums[i].val = parse_num(optarg);
  }
  if (optind != argc)
    usage();

  if (lonly >= 0)
    return listeners_only(lonly, lfirst);

  if (n < 100 || v6pct < 0 || v6pct > 100 || twpct < 0 || rarepct < 0 ||
      twpct + 2 * rarepct > 90 || v4srcs < 1 || v4srcs > 65000 ||
      per_worker < 1 || per_worker > 9900 || idle < 0 || v6srcs < 0 ||
      (v6srcs > 0 && v6prefix == NULL))
    usage();
  {
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "r");
    int v;
    if (f != NULL && fscanf(f, "%d", &v) == 1 && v < backlog)
      backlog = v;
    if (f != NULL)
      fclose(f);
    if (backlog < 4096)
      fprintf(stderr,
              "loadgen: net.core.somaxconn is %d: building will be "
              "slow; raise it\n",
              backlog);
  }

  /* Listeners. */
  union sl_addr a;
  int l4[3], l6[3], lrare, ltw;
  long nlisten = 0;
  for (int p = 0; p < 3; p++) {
    sl_addr_set(&a, AF_INET, "127.0.0.1", main_ports[p]);
    l4[p] = sl_listen(&a, backlog);
    sl_addr_set(&a, AF_INET6, "::", main_ports[p]);
    l6[p] = sl_listen(&a, backlog);
    nlisten += 2;
  }
  sl_addr_set(&a, AF_INET, "127.0.0.1", RARE_PORT);
  lrare = sl_listen(&a, backlog);
  sl_addr_set(&a, AF_INET, "127.0.0.2", 80);
  ltw = sl_listen(&a, backlog);
  nlisten += 2;
  for (long i = 0; i < idle; i++) {
    sl_addr_set(&a, AF_INET, "0.0.0.0",
                (uint16_t)(IDLE_PORT_BASE + IDLE_PORT_STEP * i));
    sl_listen(&a, 16);
    nlisten++;
  }

  /* The plan, in sockets. */
  long tw = n * twpct / 100;
  long rare = n * rarepct / 100; /* connections to 9100 */
  long rest = (n - nlisten - tw - 2 * rare) / 2;
  if (rest < 0)
    rest = 0;
  long c6 = rest * v6pct / 100, c4 = rest - c6;

  unsigned src4 = 0, src6 = 0;
  /* Adds jobs for conns connections to listener lfd at dst. */
#define ADD_JOBS(fam, lfd_, dst_, conns_)                                      \
  do {                                                                         \
    long left_ = (conns_);                                                     \
    while (left_ > 0) {                                                        \
      struct job *j_ = &jobs[njobs++];                                         \
      if (njobs >= MAX_JOBS)                                                   \
        sl_die("too many workers");                                            \
      memset(j_, 0, sizeof(*j_));                                              \
      j_->family = (fam);                                                      \
      j_->lfd = (lfd_);                                                        \
      j_->dst = (dst_);                                                        \
      j_->conns = (size_t)(left_ < per_worker ? left_ : per_worker);           \
      left_ -= (long)j_->conns;                                                \
      if ((fam) == AF_INET) {                                                  \
        char ip_[32];                                                          \
        unsigned k_ = src4++ % (unsigned)v4srcs;                               \
        snprintf(ip_, sizeof(ip_), "127.1.%u.%u", (k_ + 1) / 256,              \
                 (k_ + 1) % 256);                                              \
        sl_addr_set(&j_->src, AF_INET, ip_, 0);                                \
      } else if (v6srcs > 0) {                                                 \
        char ip_[80];                                                          \
        unsigned k_ = src6++ % (unsigned)v6srcs;                               \
        snprintf(ip_, sizeof(ip_), "%s%x", v6prefix, 0x100 + k_);              \
        sl_addr_set(&j_->src, AF_INET6, ip_, 0);                               \
      } else {                                                                 \
        sl_addr_set(&j_->src, AF_INET6, "::1", 0);                             \
      }                                                                        \
    }                                                                          \
  } while (0)

  for (int p = 0; p < 3; p++) {
    union sl_addr d;
    sl_addr_set(&d, AF_INET, "127.0.0.1", main_ports[p]);
    ADD_JOBS(AF_INET, l4[p], d, c4 / 3 + (p < c4 % 3));
    sl_addr_set(&d, AF_INET6, "::1", main_ports[p]);
    ADD_JOBS(AF_INET6, l6[p], d, c6 / 3 + (p < c6 % 3));
  }
  {
    union sl_addr d;
    sl_addr_set(&d, AF_INET, "127.0.0.1", RARE_PORT);
    ADD_JOBS(AF_INET, lrare, d, rare);
  }
  if (tw > 0) {
    struct job *j = &jobs[njobs++];
    memset(j, 0, sizeof(*j));
    j->family = AF_INET;
    j->lfd = ltw;
    sl_addr_set(&j->dst, AF_INET, "127.0.0.2", 80);
    sl_addr_set(&j->src, AF_INET, "127.2.0.1", 0);
    j->conns = (size_t)tw;
    j->timewait = 1;
    j->nsrc = 4;
  }

  if (pipe2(pipefd, O_CLOEXEC) != 0)
    sl_die("pipe: %s", strerror(errno));
  for (int i = 0; i < njobs; i++) {
    if (sl_spawn() == 0) {
      close(pipefd[0]);
      run_job(&jobs[i], pipefd[1]);
    }
  }
  close(pipefd[1]);

  /* Wait for every worker to report. */
  if (sl_wait_ready(pipefd[0], njobs) != 0) {
    sl_end_workers();
    return 1;
  }
  close(pipefd[0]);
  held = nlisten + 2 * (c4 + c6 + rare) + tw;
  fprintf(stderr,
          "loadgen: %ld sockets (%ld listeners, %ld v4 + %ld v6 + %ld "
          "port-%d connections, %ld TIME_WAIT) in %d workers, %.1f s\n",
          held, nlisten, c4, c6, rare, RARE_PORT, tw, njobs, sl_now() - t0);
  printf("ready %ld\n", held);
  fflush(stdout);
  sl_hold(1);
  sl_end_workers();
  return 0;
}
