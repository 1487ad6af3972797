/* SPDX-License-Identifier: MIT */
/* Faults injected under the collector through the socket seam, on top of
 * the real kernel in a private namespace. For each: the read fails (or
 * carries on where that is the design), no descriptor is left behind,
 * and the next read gives exact counts again. */
#include "nlbuf.h"
#include "check_run.h"
#include "collector_private.h"
#include "report_blocks.h"
#include "netns.h"
#include "options.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fault {
  F_NONE,
  F_OPEN,        /* socket() fails with .err */
  F_SEND,        /* sendmsg fails with .err */
  F_RECV,        /* recvmsg fails with .err (once) */
  F_SEQ,         /* a reply with the wrong sequence number */
  F_PID,         /* a reply from the wrong port id */
  F_NLMSG_ERROR, /* the kernel answers NLMSG_ERROR .err */
  F_DONE_ERROR,  /* NLMSG_DONE carrying -.err */
  F_EOF,         /* the dump stops: recvmsg returns 0 */
};

struct faulty_io {
  enum fault fault;
  int err;
  int armed; /* the fault fires this many times, then passes through */
};

static struct faulty_io fio;

static struct mnl_socket *f_open(void *ctx, uint32_t *portid) {
  (void)ctx;
  if (fio.armed && fio.fault == F_OPEN) {
    fio.armed--;
    errno = fio.err;
    return NULL;
  }
  return diag_io_kernel.open(NULL, portid);
}

static ssize_t f_send(void *ctx, struct mnl_socket *nl, const void *b,
                      size_t n) {
  (void)ctx;
  if (fio.armed && fio.fault == F_SEND) {
    fio.armed--;
    errno = fio.err;
    return -1;
  }
  return diag_io_kernel.send(NULL, nl, b, n);
}

static ssize_t f_recv(void *ctx, struct mnl_socket *nl, void *buf, size_t n) {
  ssize_t got;
  struct nlmsghdr *nlh = buf;

  (void)ctx;
  if (fio.armed && fio.fault == F_RECV) {
    fio.armed--;
    errno = fio.err;
    return -1;
  }
  got = diag_io_kernel.recv(NULL, nl, buf, n);
  if (got <= 0 || !fio.armed)
    return got;
  fio.armed--;
  switch (fio.fault) {
  case F_SEQ:
    nlh->nlmsg_seq += 1000;
    return got;
  case F_PID:
    nlh->nlmsg_pid += 1;
    return got;
  case F_NLMSG_ERROR:
    return nlbuf_forge_control(buf, nlh->nlmsg_seq, nlh->nlmsg_pid, NLMSG_ERROR,
                               -fio.err);
  case F_DONE_ERROR:
    return nlbuf_forge_control(buf, nlh->nlmsg_seq, nlh->nlmsg_pid, NLMSG_DONE,
                               -fio.err);
  case F_EOF:
    return 0;
  default:
    fio.armed++;
    return got;
  }
}

static void f_close(void *ctx, struct mnl_socket *nl) {
  (void)ctx;
  diag_io_kernel.close(NULL, nl);
}

static const struct diag_io faulty = {
    .open = f_open, .send = f_send, .recv = f_recv, .close = f_close};

static struct collector c;
static int fds[8];

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

static void warn_ignore(void *ctx, const char *m) {
  (void)ctx;
  (void)m;
}

static void add_block(void *ctx, const char *inst, const uint32_t *counts) {
  char *s = ctx;
  size_t used = strlen(s);

  snprintf(s + used, 4096 - used, "%s est=%u lis=%u;", inst,
           counts[TCS_ESTABLISHED], counts[TCS_LISTEN]);
}

static int read_text(char *out) {
  int err = collector_read(&c);

  out[0] = '\0';
  if (err == 0)
    report_each_block(&c, NULL, add_block, out);
  return err;
}

/* Listener on 62100 with two connections; LocalPort 62100 and
 * AllPortsSummary so both dumps run (listeners and filtered). */
static void setup(void) {
  char err[128];

  ck_assert_int_eq(netns_enter_private(), 0);
  fds[0] = tsock_listen("127.0.0.1", 62100, 0);
  for (int i = 0; i < 2; i++) {
    fds[1 + 2 * i] = tsock_connect("127.0.0.1", 62100);
    fds[2 + 2 * i] = tsock_accept(fds[0]);
  }
  struct collector_config cfg;

  config_init(&cfg);
  ck_assert_int_eq(options_apply(&cfg, "LocalPort", "62100", warn_ignore, NULL,
                                 err, sizeof(err)),
                   0);
  options_finish(&cfg);
  ck_assert_int_eq(collector_init(&c, &cfg, &faulty), 0);
  config_destroy(&cfg);
  memset(&fio, 0, sizeof(fio));
}

static void teardown(void) {
  collector_destroy(&c);
  for (int i = 0; i < 5; i++)
    close(fds[i]);
}

static const char *const expected = "62100-local est=2 lis=1;";

static void check_fault(enum fault f, int err, int read_fails) {
  char text[4096];
  int before, ret;

  ck_assert_int_eq(read_text(text), 0);
  ck_assert_str_eq(text, expected);
  if (f == F_OPEN)
    diag_conn_close(&c.conn); /* so the next read opens a socket */
  before = count_fds();
  fio = (struct faulty_io){.fault = f, .err = err, .armed = 1};
  ret = read_text(text);
  ck_assert_int_eq(fio.armed, 0); /* the fault did fire */
  if (read_fails) {
    ck_assert_int_ne(ret, 0);
    ck_assert_msg(c.error[0] != '\0', "no error message");
    ck_assert_int_le(count_fds(), before); /* nothing leaked */
  } else {
    ck_assert_int_eq(ret, 0);
    ck_assert_str_eq(text, expected);
  }
  ck_assert_int_eq(read_text(text), 0);
  ck_assert_str_eq(text, expected);
  ck_assert_int_eq(c.source, SOURCE_LEGACY);
  ck_assert_int_le(count_fds(), before + (f == F_OPEN ? 1 : 0));
}

START_TEST(socket_eperm) {
  check_fault(F_OPEN, EPERM, 1);
}
END_TEST
START_TEST(socket_eafnosupport) {
  check_fault(F_OPEN, EAFNOSUPPORT, 1);
}
END_TEST
START_TEST(sendmsg_fails) {
  check_fault(F_SEND, ENOBUFS, 1);
}
END_TEST
START_TEST(recv_eintr_retried) {
  check_fault(F_RECV, EINTR, 0);
}
END_TEST
START_TEST(recv_eagain) {
  check_fault(F_RECV, EAGAIN, 1);
}
END_TEST
START_TEST(recv_enobufs) {
  check_fault(F_RECV, ENOBUFS, 1);
}
END_TEST
START_TEST(recv_truncated) {
  check_fault(F_RECV, ENOSPC, 1);
}
END_TEST
START_TEST(wrong_sequence) {
  check_fault(F_SEQ, 0, 1);
}
END_TEST
START_TEST(wrong_port_id) {
  check_fault(F_PID, 0, 1);
}
END_TEST
START_TEST(nlmsg_error_einval) {
  check_fault(F_NLMSG_ERROR, EINVAL, 1);
}
END_TEST
START_TEST(nlmsg_error_eperm) {
  check_fault(F_NLMSG_ERROR, EPERM, 1);
}
END_TEST
START_TEST(done_with_error) {
  check_fault(F_DONE_ERROR, EINTR, 1);
}
END_TEST
START_TEST(dump_without_done) {
  check_fault(F_EOF, 0, 1);
}
END_TEST

START_TEST(unavailable_at_start_falls_back_to_proc) {
  char text[4096];

  /* No sock_diag from the first read on: /proc, in that same read. */
  fio = (struct faulty_io){.fault = F_OPEN, .err = EAFNOSUPPORT, .armed = 1};
  ck_assert_int_eq(read_text(text), 0);
  ck_assert_int_eq(fio.armed, 0);
  ck_assert_int_eq(c.source, SOURCE_PROC);
  ck_assert_str_eq(text, expected);
  ck_assert_ptr_nonnull(strstr(c.source_why, "Address family"));
}
END_TEST

START_TEST(transient_failure_at_start_retries_netlink) {
  char text[4096];

  fio = (struct faulty_io){.fault = F_RECV, .err = ENOBUFS, .armed = 1};
  ck_assert_int_ne(read_text(text), 0);
  ck_assert_int_eq(c.source, SOURCE_UNKNOWN);
  ck_assert_int_eq(read_text(text), 0);
  ck_assert_int_eq(c.source, SOURCE_LEGACY);
  ck_assert_str_eq(text, expected);
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "faults",
                                      .setup = setup,
                                      .teardown = teardown,
                                      .fork_each = true};
  const TTest *const tests[] = {socket_eperm,
                                socket_eafnosupport,
                                sendmsg_fails,
                                recv_eintr_retried,
                                recv_eagain,
                                recv_enobufs,
                                recv_truncated,
                                wrong_sequence,
                                wrong_port_id,
                                nlmsg_error_einval,
                                nlmsg_error_eperm,
                                done_with_error,
                                dump_without_done,
                                unavailable_at_start_falls_back_to_proc,
                                transient_failure_at_start_retries_netlink,
                                NULL};

  if (netns_require("check_faults") != 0)
    return 77;

  return check_run(&c, tests);
}
