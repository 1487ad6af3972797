/* SPDX-License-Identifier: MIT */
/* sockload: see sockload.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sockload.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

volatile sig_atomic_t sl_stop;

static const char *prog = "sockload";
static pid_t workers[SL_MAX_WORKERS];
static int nworkers;

static void on_signal(int sig) {
  (void)sig;
  sl_stop = 1;
}

void sl_init(const char *name) {
  struct sigaction sa;

  prog = name;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

void sl_die(const char *fmt, ...) {
  va_list ap;

  va_start(ap, fmt);
  fprintf(stderr, "%s[%d]: ", prog, (int)getpid());
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

double sl_now(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

socklen_t sl_addr_len(const union sl_addr *a) {
  return a->sa.sa_family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
}

void sl_addr_set(union sl_addr *a, int family, const char *ip, uint16_t port) {
  void *bin =
      family == AF_INET ? (void *)&a->in.sin_addr : (void *)&a->in6.sin6_addr;

  memset(a, 0, sizeof(*a));
  a->sa.sa_family = (sa_family_t)family;
  if (family == AF_INET)
    a->in.sin_port = htons(port);
  else
    a->in6.sin6_port = htons(port);
  if (inet_pton(family, ip, bin) != 1)
    sl_die("bad address %s", ip);
}

int sl_listen(const union sl_addr *a, int backlog) {
  int one = 1;
  int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    sl_die("socket: %s", strerror(errno));
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (a->sa.sa_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, &a->sa, sl_addr_len(a)) != 0) {
    int err = errno;
    char buf[INET6_ADDRSTRLEN] = "?";
    int v4 = a->sa.sa_family == AF_INET;

    inet_ntop(a->sa.sa_family,
              v4 ? (const void *)&a->in.sin_addr
                 : (const void *)&a->in6.sin6_addr,
              buf, sizeof(buf));
    sl_die("bind %s port %u: %s", buf,
           (unsigned)ntohs(v4 ? a->in.sin_port : a->in6.sin6_port),
           strerror(err));
  }
  if (listen(fd, backlog) != 0)
    sl_die("listen: %s", strerror(errno));
  return fd;
}

size_t sl_connect_batch(int lfd, const union sl_addr *dst,
                        const union sl_addr *src, size_t n, int *cl, int *sv) {
  int one = 1;

  for (size_t i = 0; i < n; i++) {
    int fd = socket(dst->sa.sa_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
      sl_die("socket: %s", strerror(errno));
    if (src != NULL) {
      /* An IPv4-level option that IPv6 sockets honour too: the kernel
       * picks the port per 4-tuple, so one source address gives a whole
       * port range per destination. */
      if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                     sizeof(one)) != 0)
        sl_die("IP_BIND_ADDRESS_NO_PORT: %s", strerror(errno));
      if (bind(fd, &src->sa, sl_addr_len(src)) != 0)
        sl_die("bind source: %s", strerror(errno));
    }
    if (connect(fd, &dst->sa, sl_addr_len(dst)) != 0 && errno != EINPROGRESS) {
      int err = errno;
      sl_die("connect: %s%s", strerror(err),
             err == EADDRNOTAVAIL
                 ? " (source ports exhausted? add source addresses)"
                 : "");
    }
    cl[i] = fd;
  }
  for (size_t i = 0; i < n; i++) {
    int fd;
    do
      fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR && !sl_stop);
    if (fd < 0) {
      if (sl_stop) { /* leave the rest to exit() */
        for (size_t j = i; j < n; j++)
          sv[j] = -1;
        return i;
      }
      sl_die("accept: %s", strerror(errno));
    }
    sv[i] = fd;
  }
  return n;
}

pid_t sl_spawn(void) {
  pid_t pid;

  if (nworkers >= SL_MAX_WORKERS)
    sl_die("too many workers");
  fflush(stdout);
  pid = fork();
  if (pid < 0) {
    int err = errno;
    sl_end_workers();
    sl_die("fork: %s", strerror(err));
  }
  if (pid > 0) {
    workers[nworkers++] = pid;
    return pid;
  }
  /* The worker: dies with its parent (or now, if that happened already). */
  nworkers = 0;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1)
    exit(1);
  return 0;
}

void sl_ready(int fd) {
  char c = 'R';

  if (write(fd, &c, 1) != 1)
    sl_die("ready pipe: %s", strerror(errno));
}

void sl_idle_exit(void) {
  while (!sl_stop)
    pause();
  exit(0);
}

int sl_wait_ready(int fd, int n) {
  for (int got = 0; got < n;) {
    char buf[256];
    ssize_t r = read(fd, buf, sizeof(buf));

    if (r > 0) {
      got += (int)r;
      continue;
    }
    if (r < 0 && errno == EINTR && !sl_stop)
      continue;
    fprintf(stderr, "%s: %d of %d workers failed to get ready\n", prog, n - got,
            n);
    return -1;
  }
  return 0;
}

void sl_hold(int reap) {
  struct pollfd p = {.fd = 0, .events = POLLIN};
  char buf[256];

  while (!sl_stop) {
    int r = poll(&p, 1, 1000);

    if (r < 0 && errno != EINTR)
      break;
    if (r > 0 && read(0, buf, sizeof(buf)) <= 0)
      break;
    for (int i = 0; reap && i < nworkers; i++) {
      int st;

      if (workers[i] > 0 && waitpid(workers[i], &st, WNOHANG) > 0) {
        fprintf(stderr, "%s: worker %d exited early\n", prog, (int)workers[i]);
        workers[i] = 0;
      }
    }
  }
}

void sl_kill_workers(void) {
  for (int i = 0; i < nworkers; i++)
    if (workers[i] > 0)
      kill(workers[i], SIGTERM);
}

void sl_reap_workers(void) {
  for (int i = 0; i < nworkers; i++)
    if (workers[i] > 0)
      waitpid(workers[i], NULL, 0);
  nworkers = 0;
}

void sl_end_workers(void) {
  sl_kill_workers();
  sl_reap_workers();
}
