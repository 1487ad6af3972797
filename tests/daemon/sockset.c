/* SPDX-License-Identifier: MIT */
/* sockset: build a known set of TCP sockets on loopback, then hold it.
 *
 * Used by the tests through sockset_start in tests/lib.sh, which runs it
 * inside a private network namespace (lo up) where these nftables rules
 * (input hook, so the sender sees a lost segment rather than a send error)
 * are installed first:
 *
 *   tcp sport 9090 and SYN+ACK set  -> drop   (SYN_SENT, SYN_RECV stay)
 *   tcp dport 7777 and FIN set      -> drop   (FIN_WAIT1, CLOSING stay)
 *   tcp sport 7778 and FIN set      -> drop   (LAST_ACK stays)
 *
 * and where the ephemeral port range (net.ipv4.ip_local_port_range) is set
 * below the fixed ports, so that no client takes one of them first.
 *
 * The set (every port below is fixed; client ports are ephemeral unless said):
 *   8080   IPv4 listener 127.0.0.1 and IPv6-only listener [::1]; established
 *          clients of both families, one from fixed source port 40001;
 *          TIME_WAIT at the client side (v4 and v6) and at the server side;
 *          orphaned FIN_WAIT2 at the server with CLOSE_WAIT at the client.
 *   8443   dual-stack [::] listener (IPV6_V6ONLY=0) with IPv4 clients (the
 *          server side is v4-mapped) and an IPv6 client; FIN_WAIT2 kept by its
 *          owner (shutdown) with CLOSE_WAIT at the server.
 *   9090   dual-stack listener whose SYN-ACKs are dropped: SYN_SENT clients
 *          (v4, v6), SYN_RECV request sockets.
 *   7777   listener whose client FINs are dropped: FIN_WAIT1, and CLOSING
 *          (server FIN_WAIT2) when the server closes too.
 *   7778   listener whose server FINs are dropped: LAST_ACK at the server,
 *          FIN_WAIT2 at the client.
 *   45000  a socket connected to itself (local port == remote port).
 *   50000  two IPv6 listeners in one SO_REUSEPORT group, one client.
 *   65535  IPv4 listener with one client.
 *   9999   nothing (a port with no sockets).
 * Every state but CLOSED (which the walked tables never hold) is present.
 *
 * Once the set is built it prints "ready" and reads commands from stdin, one a
 * line, answering "ok" or "error: ..." to each:
 *   listen PORT     open a dual-stack [::] listener on PORT
 *   unlisten PORT   close that listener (its accepted connections stay)
 *   connect PORT    connect an IPv4 client to it and accept the connection
 * It exits when stdin closes (or on SIGTERM); the kernel then drops the set.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 5000 /* longest wait for a state change on loopback */

struct pair {
  int client, server;
};

static void die(const char *what) {
  fprintf(stderr, "sockset: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void sleep_ms(long ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

static void set_opt(int fd, int level, int name, int value) {
  if (setsockopt(fd, level, name, &value, sizeof(value)) != 0)
    die("setsockopt");
}

/* A loopback (or, with any, wildcard) address of the family. */
static socklen_t make_addr(struct sockaddr_storage *ss, int family,
                           uint16_t port, bool any) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
    return sizeof(*sin);
  }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  sin6->sin6_addr = any ? in6addr_any : in6addr_loopback;
  return sizeof(*sin6);
}

static int tcp_socket(int family) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  return fd;
}

static void bind_to(int fd, int family, uint16_t port, bool any) {
  struct sockaddr_storage ss;
  socklen_t len = make_addr(&ss, family, port, any);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0)
    die("bind");
}

/* v6only: -1 leaves IPV6_V6ONLY alone (IPv4), 0 dual-stack, 1 IPv6 only. */
static int listener(int family, uint16_t port, bool any, int v6only,
                    bool reuseport) {
  int fd = tcp_socket(family);
  if (v6only >= 0)
    set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only);
  if (reuseport)
    set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  bind_to(fd, family, port, any);
  if (listen(fd, 64) != 0)
    die("listen");
  return fd;
}

static int tcp_state(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof(ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
    die("getsockopt(TCP_INFO)");
  return ti.tcpi_state;
}

/* Waits until the socket behind fd is in state (TCP_CLOSE once the kernel has
 * moved the connection to a TIME_WAIT socket). */
static void wait_state(int fd, int state) {
  for (int ms = 0; tcp_state(fd) != state; ms++) {
    if (ms == WAIT_MS) {
      fprintf(stderr, "sockset: fd %d stuck in state %d, want %d\n", fd,
              tcp_state(fd), state);
      exit(1);
    }
    sleep_ms(1);
  }
}

/* Connects a client from src_port (0: ephemeral) to the loopback port. With
 * nonblock the connect is left in progress (SYN_SENT). */
static int client(int family, uint16_t port, uint16_t src_port, bool nonblock) {
  int fd = tcp_socket(family);
  if (src_port != 0)
    bind_to(fd, family, src_port, false);
  if (nonblock && fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
    die("fcntl");
  struct sockaddr_storage ss;
  socklen_t len = make_addr(&ss, family, port, false);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
      !(nonblock && errno == EINPROGRESS))
    die("connect");
  return fd;
}

/* An established connection: a client of the family, accepted by whichever
 * of the n listeners lfds the kernel gave it to (SO_REUSEPORT spreads). */
static struct pair connection_n(const int *lfds, int n, int family,
                                uint16_t port, uint16_t src_port) {
  struct pair p;
  struct pollfd pfd[2];
  if (n < 1 || n > 2)
    abort();
  p.client = client(family, port, src_port, false);
  for (int i = 0; i < n; i++)
    pfd[i] = (struct pollfd){.fd = lfds[i], .events = POLLIN};
  if (poll(pfd, (nfds_t)n, WAIT_MS) <= 0)
    die("poll for a connection to accept");
  for (int i = 0; i < n; i++)
    if (pfd[i].revents & POLLIN) {
      p.server = accept4(lfds[i], NULL, NULL, SOCK_CLOEXEC);
      if (p.server < 0)
        die("accept");
      wait_state(p.server, TCP_ESTABLISHED);
      return p;
    }
  die("poll");
  return p;
}

static struct pair connection(int lfd, int family, uint16_t port,
                              uint16_t src_port) {
  return connection_n(&lfd, 1, family, port, src_port);
}

/* TIME_WAIT at the side that closes first; the other side's LAST_ACK ends
 * as soon as the TIME_WAIT socket acknowledges its FIN. */
static void time_wait(struct pair p, bool client_first) {
  int first = client_first ? p.client : p.server;
  int second = client_first ? p.server : p.client;
  if (shutdown(first, SHUT_WR) != 0)
    die("shutdown");
  wait_state(first, TCP_FIN_WAIT2);
  wait_state(second, TCP_CLOSE_WAIT);
  close(second);
  wait_state(first, TCP_CLOSE);
  close(first);
}

static void build_set(void) {
  /* 8080: IPv4 and IPv6 listeners on one port. */
  int l8080v4 = listener(AF_INET, 8080, false, -1, false);
  int l8080v6 = listener(AF_INET6, 8080, false, 1, false);
  connection(l8080v4, AF_INET, 8080, 0);
  connection(l8080v4, AF_INET, 8080, 0);
  connection(l8080v6, AF_INET6, 8080, 0);
  connection(l8080v4, AF_INET, 8080, 40001);
  time_wait(connection(l8080v4, AF_INET, 8080, 0), true);
  time_wait(connection(l8080v6, AF_INET6, 8080, 0), true);
  time_wait(connection(l8080v4, AF_INET, 8080, 0), false);
  /* Orphaned FIN_WAIT2 at the server, CLOSE_WAIT at the client. */
  struct pair p = connection(l8080v4, AF_INET, 8080, 0);
  close(p.server);
  wait_state(p.client, TCP_CLOSE_WAIT);

  /* 8443: dual-stack listener, IPv4 clients become v4-mapped server sides. */
  int l8443 = listener(AF_INET6, 8443, true, 0, false);
  connection(l8443, AF_INET, 8443, 0);
  connection(l8443, AF_INET, 8443, 0);
  connection(l8443, AF_INET6, 8443, 0);
  /* FIN_WAIT2 kept by its owner, CLOSE_WAIT at the (v4-mapped) server. */
  p = connection(l8443, AF_INET, 8443, 0);
  if (shutdown(p.client, SHUT_WR) != 0)
    die("shutdown");
  wait_state(p.client, TCP_FIN_WAIT2);
  wait_state(p.server, TCP_CLOSE_WAIT);

  /* 9090: SYN-ACKs dropped, so SYN_SENT clients and SYN_RECV requests. */
  listener(AF_INET6, 9090, true, 0, false);
  wait_state(client(AF_INET, 9090, 0, true), TCP_SYN_SENT);
  wait_state(client(AF_INET6, 9090, 0, true), TCP_SYN_SENT);

  /* 7777: client FINs dropped. FIN_WAIT1; CLOSING once the server closes. */
  int l7777 = listener(AF_INET, 7777, false, -1, false);
  p = connection(l7777, AF_INET, 7777, 0);
  if (shutdown(p.client, SHUT_WR) != 0)
    die("shutdown");
  wait_state(p.client, TCP_FIN_WAIT1);
  p = connection(l7777, AF_INET, 7777, 0);
  if (shutdown(p.client, SHUT_WR) != 0 || shutdown(p.server, SHUT_WR) != 0)
    die("shutdown");
  wait_state(p.client, TCP_CLOSING);
  wait_state(p.server, TCP_FIN_WAIT2);

  /* 7778: server FINs dropped, so LAST_ACK at the server. */
  int l7778 = listener(AF_INET, 7778, false, -1, false);
  p = connection(l7778, AF_INET, 7778, 0);
  if (shutdown(p.client, SHUT_WR) != 0)
    die("shutdown");
  wait_state(p.client, TCP_FIN_WAIT2);
  wait_state(p.server, TCP_CLOSE_WAIT);
  if (shutdown(p.server, SHUT_WR) != 0)
    die("shutdown");
  wait_state(p.server, TCP_LAST_ACK);

  /* 45000: a socket connected to itself. */
  wait_state(client(AF_INET, 45000, 45000, false), TCP_ESTABLISHED);

  /* 50000: two IPv6 listeners in one SO_REUSEPORT group. */
  int l50000[2] = {listener(AF_INET6, 50000, false, 1, true),
                   listener(AF_INET6, 50000, false, 1, true)};
  connection_n(l50000, 2, AF_INET6, 50000, 0);

  /* 65535: the highest port. */
  connection(listener(AF_INET, 65535, false, -1, false), AF_INET, 65535, 0);
}

/* Listeners opened by the "listen" command. */
static struct {
  uint16_t port;
  int fd;
} dynamic[64];

static int find_dynamic(uint16_t port) {
  for (size_t i = 0; i < sizeof(dynamic) / sizeof(dynamic[0]); i++)
    if (dynamic[i].fd > 0 && dynamic[i].port == port)
      return (int)i;
  return -1;
}

static const char *run_command(const char *verb, uint16_t port) {
  int i = find_dynamic(port);
  if (strcmp(verb, "listen") == 0) {
    if (i >= 0)
      return "already listening";
    for (size_t j = 0; i < 0 && j < sizeof(dynamic) / sizeof(dynamic[0]); j++)
      if (dynamic[j].fd <= 0)
        i = (int)j;
    if (i < 0)
      return "too many listeners";
    dynamic[i].port = port;
    dynamic[i].fd = listener(AF_INET6, port, true, 0, false);
  } else if (strcmp(verb, "unlisten") == 0) {
    if (i < 0)
      return "not listening";
    close(dynamic[i].fd);
    dynamic[i].fd = -1;
  } else if (strcmp(verb, "connect") == 0) {
    if (i < 0)
      return "not listening";
    connection(dynamic[i].fd, AF_INET, port, 0);
  } else {
    return "unknown command";
  }
  return NULL;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  build_set();
  /* Let delayed ACKs settle (FIN_WAIT1 -> FIN_WAIT2 of the orphan). */
  sleep_ms(300);
  printf("ready\n");
  fflush(stdout);

  char line[128];
  while (fgets(line, sizeof(line), stdin) != NULL) {
    char verb[16];
    unsigned port;
    const char *err = "usage: listen|unlisten|connect PORT";
    if (sscanf(line, "%15s %u", verb, &port) == 2 && port >= 1 && port <= 65535)
      err = run_command(verb, (uint16_t)port);
    if (err != NULL)
      printf("error: %s\n", err);
    else
      printf("ok\n");
    fflush(stdout);
  }
  return 0;
}
