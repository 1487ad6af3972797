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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define BATCH 256           /* connects before the matching accepts */
#define IDLE_PORT_BASE 3000 /* idle listener i: IDLE_PORT_BASE + 3 * i */
#define IDLE_PORT_STEP 3
#define RARE_PORT 9100
#define TW_REFRESH_S 58
#define MAX_JOBS 4096

static const uint16_t main_ports[3] = {80, 443, 8080};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "loadgen[%d]: ", (int)getpid());
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

union addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

static socklen_t addr_len(const union addr *a) {
  return a->sa.sa_family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
}

static void addr4(union addr *a, const char *ip, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->in.sin_family = AF_INET;
  a->in.sin_port = htons(port);
  if (inet_pton(AF_INET, ip, &a->in.sin_addr) != 1)
    die("bad IPv4 address %s", ip);
}

static void addr6(union addr *a, const char *ip, uint16_t port) {
  memset(a, 0, sizeof(*a));
  a->in6.sin6_family = AF_INET6;
  a->in6.sin6_port = htons(port);
  if (inet_pton(AF_INET6, ip, &a->in6.sin6_addr) != 1)
    die("bad IPv6 address %s", ip);
}

static int make_listener(const union addr *a, int backlog) {
  int one = 1;
  int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (a->sa.sa_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, &a->sa, addr_len(a)) != 0) {
    char buf[INET6_ADDRSTRLEN] = "?";
    uint16_t port;
    if (a->sa.sa_family == AF_INET) {
      inet_ntop(AF_INET, &a->in.sin_addr, buf, sizeof(buf));
      port = ntohs(a->in.sin_port);
    } else {
      inet_ntop(AF_INET6, &a->in6.sin6_addr, buf, sizeof(buf));
      port = ntohs(a->in6.sin6_port);
    }
    die("bind %s port %u: %s", buf, (unsigned)port, strerror(errno));
  }
  if (listen(fd, backlog) != 0)
    die("listen: %s", strerror(errno));
  return fd;
}

/* Connects n client sockets from src to dst (listener lfd), accepts n
 * server sockets from lfd. Client and server descriptors are stored in fds
 * (2n entries) unless fds is NULL, in which case TIME_WAIT is made: the
 * client closes first, then the server. */
static void connect_batch(int lfd, const union addr *src, const union addr *dst,
                          size_t n, int *fds) {
  int one = 1;
  int cl[BATCH], sv[BATCH];

  if (n > BATCH)
    die("batch too large");
  for (size_t i = 0; i < n; i++) {
    int fd = socket(dst->sa.sa_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      die("socket: %s", strerror(errno));
    /* An IPv4-level option that IPv6 sockets honour too. */
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof(one)) != 0)
      die("IP_BIND_ADDRESS_NO_PORT: %s", strerror(errno));
    if (bind(fd, &src->sa, addr_len(src)) != 0)
      die("bind source: %s", strerror(errno));
    if (connect(fd, &dst->sa, addr_len(dst)) != 0 && errno != EINPROGRESS)
      die("connect: %s (source ports exhausted? add source addresses)",
          strerror(errno));
    cl[i] = fd;
  }
  for (size_t i = 0; i < n; i++) {
    int afd;
    do
      afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (afd < 0 && errno == EINTR && !stop_flag);
    if (afd < 0)
      die("accept: %s", strerror(errno));
    sv[i] = afd;
  }
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
  int lfd;        /* listener to accept from */
  union addr dst; /* where clients connect */
  union addr src; /* client source address, port 0 */
  size_t conns;   /* connections to hold (or TIME_WAIT per round) */
  int timewait;   /* 1: the TIME_WAIT churn job */
  int nsrc;       /* timewait: source addresses to rotate over */
};

static void run_job(const struct job *j, int ready_fd) {
  int *fds = NULL;
  char c = 'R';

  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1)
    exit(1);
  if (!j->timewait) {
    fds = malloc(2 * j->conns * sizeof(*fds));
    if (fds == NULL)
      die("out of memory");
    for (size_t done = 0; done < j->conns;) {
      size_t n = j->conns - done < BATCH ? j->conns - done : BATCH;
      connect_batch(j->lfd, &j->src, &j->dst, n, fds + 2 * done);
      done += n;
    }
    if (write(ready_fd, &c, 1) != 1)
      die("ready pipe: %s", strerror(errno));
    while (!stop_flag)
      pause();
    exit(0);
  }
  /* TIME_WAIT churn: a full set now, then again every TW_REFRESH_S. */
  for (unsigned round = 0; !stop_flag; round++) {
    union addr src = j->src;
    double next;

    src.in.sin_addr.s_addr =
        htonl(ntohl(src.in.sin_addr.s_addr) + (round % (unsigned)j->nsrc));
    for (size_t done = 0; done < j->conns && !stop_flag;) {
      size_t n = j->conns - done < BATCH ? j->conns - done : BATCH;
      connect_batch(j->lfd, &src, &j->dst, n, NULL);
      done += n;
    }
    if (round == 0 && write(ready_fd, &c, 1) != 1)
      die("ready pipe: %s", strerror(errno));
    next = now_s() + TW_REFRESH_S;
    while (!stop_flag && now_s() < next)
      sleep(1);
  }
  exit(0);
}

static pid_t children[MAX_JOBS];
static int nchildren;

static void end_children(void) {
  for (int i = 0; i < nchildren; i++)
    if (children[i] > 0)
      kill(children[i], SIGTERM);
  for (int i = 0; i < nchildren; i++)
    if (children[i] > 0)
      waitpid(children[i], NULL, 0);
  nchildren = 0;
}

/* Waits for SIGTERM/SIGINT or EOF on stdin. */
static void hold(void) {
  struct pollfd p = {.fd = 0, .events = POLLIN};
  char buf[256];

  while (!stop_flag) {
    int r = poll(&p, 1, 1000);
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0)
        break;
    }
    /* A worker that dies on its own (e.g. OOM) ends the load. */
    for (int i = 0; i < nchildren; i++) {
      int st;
      if (children[i] > 0 && waitpid(children[i], &st, WNOHANG) > 0) {
        fprintf(stderr, "loadgen: worker %d exited early\n", (int)children[i]);
        children[i] = 0;
      }
    }
  }
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
  union addr a;
  double t0 = now_s();

  for (long i = 0; i < k; i++) {
    long port = IDLE_PORT_BASE + IDLE_PORT_STEP * (first + i);
    if (port > 65535 || port == RARE_PORT || port == 8080)
      die("listener port %ld out of range or reserved", port);
    addr4(&a, "0.0.0.0", (uint16_t)port);
    make_listener(&a, 16);
  }
  fprintf(stderr, "loadgen: %ld listeners in %.2f s\n", k, now_s() - t0);
  printf("ready %ld\n", k);
  fflush(stdout);
  hold();
  return 0;
}

int main(int argc, char **argv) {
  long n = 10000, v6pct = 25, twpct = 2, rarepct = 1, idle = 16;
  long v4srcs = 32, v6srcs = 0, per_worker = 9000, lonly = -1, lfirst = 0;
  const char *v6prefix = NULL;
  static struct job jobs[MAX_JOBS];
  int njobs = 0, backlog = 65535, opt, pipefd[2];
  struct sigaction sa;
  double t0 = now_s();
  long held;

  while ((opt = getopt(argc, argv, "n:6:w:r:i:s:S:k:c:L:B:h")) != -1) {
    switch (opt) {
    case 'n':
      n = parse_num(optarg);
      break;
    case '6':
      v6pct = parse_num(optarg);
      break;
    case 'w':
      twpct = parse_num(optarg);
      break;
    case 'r':
      rarepct = parse_num(optarg);
      break;
    case 'i':
      idle = parse_num(optarg);
      break;
    case 's':
      v4srcs = parse_num(optarg);
      break;
    case 'S':
      v6prefix = optarg;
      break;
    case 'k':
      v6srcs = parse_num(optarg);
      break;
    case 'c':
      per_worker = parse_num(optarg);
      break;
    case 'L':
      lonly = parse_num(optarg);
      break;
    case 'B':
      lfirst = parse_num(optarg);
      break;
    default:
      usage();
    }
  }
  if (optind != argc)
    usage();

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

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
  union addr a;
  int l4[3], l6[3], lrare, ltw;
  long nlisten = 0;
  for (int p = 0; p < 3; p++) {
    addr4(&a, "127.0.0.1", main_ports[p]);
    l4[p] = make_listener(&a, backlog);
    addr6(&a, "::", main_ports[p]);
    l6[p] = make_listener(&a, backlog);
    nlisten += 2;
  }
  addr4(&a, "127.0.0.1", RARE_PORT);
  lrare = make_listener(&a, backlog);
  addr4(&a, "127.0.0.2", 80);
  ltw = make_listener(&a, backlog);
  nlisten += 2;
  for (long i = 0; i < idle; i++) {
    addr4(&a, "0.0.0.0", (uint16_t)(IDLE_PORT_BASE + IDLE_PORT_STEP * i));
    make_listener(&a, 16);
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
        die("too many workers");                                               \
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
        addr4(&j_->src, ip_, 0);                                               \
      } else if (v6srcs > 0) {                                                 \
        char ip_[80];                                                          \
        unsigned k_ = src6++ % (unsigned)v6srcs;                               \
        snprintf(ip_, sizeof(ip_), "%s%x", v6prefix, 0x100 + k_);              \
        addr6(&j_->src, ip_, 0);                                               \
      } else {                                                                 \
        addr6(&j_->src, "::1", 0);                                             \
      }                                                                        \
    }                                                                          \
  } while (0)

  for (int p = 0; p < 3; p++) {
    union addr d;
    addr4(&d, "127.0.0.1", main_ports[p]);
    ADD_JOBS(AF_INET, l4[p], d, c4 / 3 + (p < c4 % 3));
    addr6(&d, "::1", main_ports[p]);
    ADD_JOBS(AF_INET6, l6[p], d, c6 / 3 + (p < c6 % 3));
  }
  {
    union addr d;
    addr4(&d, "127.0.0.1", RARE_PORT);
    ADD_JOBS(AF_INET, lrare, d, rare);
  }
  if (tw > 0) {
    struct job *j = &jobs[njobs++];
    memset(j, 0, sizeof(*j));
    j->family = AF_INET;
    j->lfd = ltw;
    addr4(&j->dst, "127.0.0.2", 80);
    addr4(&j->src, "127.2.0.1", 0);
    j->conns = (size_t)tw;
    j->timewait = 1;
    j->nsrc = 4;
  }

  if (pipe2(pipefd, O_CLOEXEC) != 0)
    die("pipe: %s", strerror(errno));
  for (int i = 0; i < njobs; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      end_children();
      die("fork: %s", strerror(errno));
    }
    if (pid == 0) {
      close(pipefd[0]);
      run_job(&jobs[i], pipefd[1]);
    }
    children[nchildren++] = pid;
  }
  close(pipefd[1]);

  /* Wait for every worker to report. */
  for (int got = 0; got < njobs;) {
    char buf[256];
    ssize_t r = read(pipefd[0], buf, sizeof(buf));
    if (r > 0) {
      got += (int)r;
      continue;
    }
    if (r < 0 && errno == EINTR && !stop_flag)
      continue;
    fprintf(stderr, "loadgen: %d of %d workers failed to build\n", njobs - got,
            njobs);
    end_children();
    return 1;
  }
  close(pipefd[0]);
  held = nlisten + 2 * (c4 + c6 + rare) + tw;
  fprintf(stderr,
          "loadgen: %ld sockets (%ld listeners, %ld v4 + %ld v6 + %ld "
          "port-%d connections, %ld TIME_WAIT) in %d workers, %.1f s\n",
          held, nlisten, c4, c6, rare, RARE_PORT, tw, njobs, now_s() - t0);
  printf("ready %ld\n", held);
  fflush(stdout);
  hold();
  end_children();
  return 0;
}
