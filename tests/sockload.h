/* SPDX-License-Identifier: MIT */
/* sockload: what the programs that hold TCP socket loads on loopback share:
 * bench/loadgen.c (the benchmark's load) and tests/daemon/churn.c (the
 * churn, soak and unprivileged tests' sets). Each forks worker processes
 * that open and hold sockets, report "ready" to the parent through a pipe
 * and end with it; the parent holds until SIGTERM/SIGINT or EOF on stdin.
 *
 *   sl_init("churn");                 name for messages, signal handlers
 *   int lfd = sl_listen(&a, 4096);
 *   if (sl_spawn() == 0) {            a worker: dies with its parent
 *     sl_connect_batch(lfd, &a, NULL, n, cl, sv);
 *     sl_ready(ready_fd);
 *     sl_idle_exit();
 *   }
 *   if (sl_wait_ready(pipe_rd, nworkers) != 0) ...
 *   sl_hold(0);
 *   sl_end_workers();
 *
 * Built with the program (no library): cc ... churn.c ../sockload.c */
#ifndef TCPCONNS_TESTS_SOCKLOAD_H
#define TCPCONNS_TESTS_SOCKLOAD_H

#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Workers one program can have. */
#define SL_MAX_WORKERS 4096

/* Set by SIGTERM, SIGINT and SIGHUP (handlers without SA_RESTART, so a
 * blocked accept() or read() returns EINTR and the caller can stop). */
extern volatile sig_atomic_t sl_stop;

/* Names the program in messages ("NAME[PID]: ...") and installs the
 * handlers that set sl_stop; SIGPIPE is ignored. */
void sl_init(const char *name);

/* Prints "NAME[PID]: " and the message on stderr, exits 1. */
__attribute__((noreturn, format(printf, 1, 2))) void sl_die(const char *fmt,
                                                            ...);

/* CLOCK_MONOTONIC, in seconds. */
double sl_now(void);

union sl_addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
};

socklen_t sl_addr_len(const union sl_addr *a);

/* An AF_INET or AF_INET6 address of ip (text) and port; dies on a bad ip. */
void sl_addr_set(union sl_addr *a, int family, const char *ip, uint16_t port);

/* A listening socket bound to a (SO_REUSEADDR; IPv6 ones v6only) with that
 * backlog; dies on error. */
int sl_listen(const union sl_addr *a, int backlog);

/* Connects n non-blocking clients to dst (bound to src, port 0 with
 * IP_BIND_ADDRESS_NO_PORT, unless src is NULL) and accepts n connections
 * from the listener lfd: client i in cl[i], its server side in sv[i]. Dies
 * on error; returns n, or fewer when sl_stop cut the accepts short (the
 * missing sv[i] are -1). */
size_t sl_connect_batch(int lfd, const union sl_addr *dst,
                        const union sl_addr *src, size_t n, int *cl, int *sv);

/* fork(): in the parent the worker's PID (recorded for sl_end_workers), in
 * the worker 0; the worker gets SIGKILL when the parent dies. Dies on
 * error (ending the workers so far). */
pid_t sl_spawn(void);

/* In a worker: one byte to the parent's ready pipe; dies on error. */
void sl_ready(int fd);

/* In a worker: waits for sl_stop, then exits 0. */
__attribute__((noreturn)) void sl_idle_exit(void);

/* In the parent: reads n ready bytes from fd. Returns 0, or prints how many
 * workers did not report and returns -1 (a worker died, or sl_stop). */
int sl_wait_ready(int fd, int n);

/* Waits for sl_stop or EOF on stdin. With reap, a worker that exits on its
 * own meanwhile is reported on stderr and forgotten. */
void sl_hold(int reap);

/* SIGTERM to every worker (sl_kill_workers), then waits for each and
 * forgets them (sl_reap_workers). */
void sl_kill_workers(void);
void sl_reap_workers(void);
void sl_end_workers(void);

#endif
