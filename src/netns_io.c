/* SPDX-License-Identifier: MIT */
#include "netns_io.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct open_job {
  struct netns_target *target;
  struct mnl_socket *nl;
  uint32_t portid;
  int err;
};

/* The namespace's net.ipv4.tcp_ehash_entries (0 if unreadable). Net
 * sysctls answer for the namespace of the thread that opens them. */
static int read_ehash_entries(void) {
  char buf[32];
  ssize_t n;
  int fd = open("/proc/sys/net/ipv4/tcp_ehash_entries", O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return atoi(buf);
}

/* Runs in its own thread: its namespace change ends with it. */
static void *open_in_netns(void *arg) {
  struct open_job *job = arg;
  struct stat st;
  int fd;

  fd = open(job->target->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    job->err = errno;
    return NULL;
  }
  if (fstat(fd, &st) != 0 || setns(fd, CLONE_NEWNET) != 0) {
    job->err = errno;
    close(fd);
    return NULL;
  }
  close(fd);
  job->nl = diag_io_kernel.open(NULL, &job->portid);
  if (job->nl == NULL) {
    job->err = errno;
    return NULL;
  }
  job->target->ehash_entries = read_ehash_entries();
  job->target->dev = st.st_dev;
  job->target->ino = st.st_ino;
  job->target->opened = true;
  return NULL;
}

static struct mnl_socket *netns_open(void *ctx, uint32_t *portid) {
  struct open_job job = {.target = ctx};
  pthread_t thread;
  int err;

  err = pthread_create(&thread, NULL, open_in_netns, &job);
  if (err != 0) {
    errno = err;
    return NULL;
  }
  pthread_join(thread, NULL);
  if (job.nl == NULL) {
    errno = job.err != 0 ? job.err : EIO;
    return NULL;
  }
  *portid = job.portid;
  return job.nl;
}

static ssize_t netns_send(void *ctx, struct mnl_socket *nl, const void *buf,
                          size_t len) {
  (void)ctx;
  return diag_io_kernel.send(NULL, nl, buf, len);
}

static ssize_t netns_recv(void *ctx, struct mnl_socket *nl, void *buf,
                          size_t len) {
  (void)ctx;
  return diag_io_kernel.recv(NULL, nl, buf, len);
}

static void netns_close(void *ctx, struct mnl_socket *nl) {
  struct netns_target *t = ctx;

  t->opened = false;
  diag_io_kernel.close(NULL, nl);
}

void netns_io_init(struct diag_io *io, struct netns_target *target) {
  io->open = netns_open;
  io->send = netns_send;
  io->recv = netns_recv;
  io->close = netns_close;
  io->ctx = target;
}

enum netns_state netns_check(const struct netns_target *t) {
  struct stat st;

  if (stat(t->path, &st) != 0)
    return NETNS_GONE;
  if (t->opened && (st.st_dev != t->dev || st.st_ino != t->ino))
    return NETNS_CHANGED;
  return NETNS_SAME;
}
