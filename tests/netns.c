/* SPDX-License-Identifier: MIT */
#include "netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int netns_enter_private(void) {
  struct ifreq ifr;
  int fd, err = 0;

  if (unshare(CLONE_NEWNET) != 0)
    return -errno;
  fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) {
    err = -errno;
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0)
      err = -errno;
  }
  close(fd);
  return err;
}

static int netns_available(void) {
  int status;
  pid_t pid = fork();

  if (pid < 0)
    return -errno;
  if (pid == 0)
    _exit(-netns_enter_private());
  if (waitpid(pid, &status, 0) != pid)
    return -errno;
  if (!WIFEXITED(status))
    return -ECHILD;
  return -WEXITSTATUS(status);
}

int netns_require(const char *prog) {
  if (geteuid() == 0 && netns_available() == 0)
    return 0;
  fprintf(stderr, "%s: SKIP: needs root able to create network namespaces\n",
          prog);
  return 77;
}

static void die(const char *what, const char *addr, uint16_t port) {
  fprintf(stderr, "%s %s port %u: %s\n", what, addr, port, strerror(errno));
  abort();
}

static socklen_t make_addr(const char *addr, uint16_t port,
                           struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof(*ss));
  if (strchr(addr, ':') != NULL) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
      die("bad address", addr, port);
    return sizeof(*a);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
    die("bad address", addr, port);
  return sizeof(*a);
}

int tsock_listen(const char *addr, uint16_t port, int v6only) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(addr, port, &ss);
  int one = 1;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket", addr, port);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (ss.ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  if (bind(fd, (struct sockaddr *)&ss, len) != 0)
    die("bind", addr, port);
  if (listen(fd, 128) != 0)
    die("listen", addr, port);
  return fd;
}

int tsock_connect(const char *addr, uint16_t port) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(addr, port, &ss);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket", addr, port);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0)
    die("connect", addr, port);
  return fd;
}

int tsock_connect_from(const char *src, const char *addr, uint16_t port) {
  struct sockaddr_storage ss, from;
  socklen_t len = make_addr(addr, port, &ss);
  socklen_t flen = make_addr(src, 0, &from);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    die("socket", addr, port);
  if (bind(fd, (struct sockaddr *)&from, flen) != 0)
    die("bind", src, 0);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0)
    die("connect", addr, port);
  return fd;
}

int tsock_accept(int listener) {
  int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

  if (fd < 0)
    die("accept", "listener", 0);
  return fd;
}
