/* SPDX-License-Identifier: MIT */
/* Reply parsing on crafted buffers. */
#include "check_run.h"
#include "diag_reply.h"
#include "nlbuf.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <stdlib.h>

#define SEQ 42
#define PID 7777

static struct nlbuf b;
static uint32_t seen[64][3];
static int nseen;

static int record(void *data, uint16_t sport, uint16_t dport, uint8_t st) {
  (void)data;
  if (nseen < 64) {
    seen[nseen][0] = sport;
    seen[nseen][1] = dport;
    seen[nseen][2] = st;
  }
  nseen++;
  return 0;
}

static int refuse(void *data, uint16_t sport, uint16_t dport, uint8_t st) {
  (void)data;
  (void)sport;
  (void)dport;
  (void)st;
  return ENOMEM;
}

static struct diag_reply reply(uint16_t type) {
  struct diag_reply r = {
      .seq = SEQ, .portid = PID, .type = type, .on_socket = record};
  return r;
}

static void setup(void) {
  nlbuf_reset(&b);
  nseen = 0;
}

START_TEST(several_sockets_then_more) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 80, 0, 10);
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 80, 51000, 1);
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 65535, 443, 6);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_MORE);
  ck_assert_int_eq(nseen, 3);
  ck_assert_uint_eq(r.sockets, 3);
  ck_assert_uint_eq(seen[1][0], 80);
  ck_assert_uint_eq(seen[1][1], 51000);
  ck_assert_uint_eq(seen[1][2], 1);
  ck_assert_uint_eq(seen[2][0], 65535);
  ck_assert_uint_eq(seen[2][1], 443);
  ck_assert_uint_eq(seen[2][2], 6);
}
END_TEST

START_TEST(sockets_then_done) {
  struct diag_reply r = reply(SOCK_DIAG_BY_FAMILY);

  nlbuf_socket(&b, SOCK_DIAG_BY_FAMILY, SEQ, PID, 22, 1000, 1);
  nlbuf_done(&b, SEQ, PID, 0);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_DONE);
  ck_assert_int_eq(nseen, 1);
}
END_TEST

START_TEST(done_carrying_error) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  nlbuf_done(&b, SEQ, PID, -ENOBUFS);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, ENOBUFS);
}
END_TEST

START_TEST(done_without_payload) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_raw(&b, NLMSG_DONE, SEQ, PID, 0);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_DONE);
}
END_TEST

START_TEST(nlmsg_error) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_error(&b, SEQ, PID, -EINVAL);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EINVAL);

  setup();
  r = reply(TCPDIAG_GETSOCK);
  nlbuf_error(&b, SEQ, PID, -EPERM);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EPERM);
}
END_TEST

START_TEST(truncated_nlmsg_error) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_raw(&b, NLMSG_ERROR, SEQ, PID, 2);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EBADMSG);
}
END_TEST

START_TEST(wrong_sequence) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ + 1, PID, 23, 1000, 1);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EPROTO);
  ck_assert_int_eq(nseen, 1);
}
END_TEST

START_TEST(wrong_port_id) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID + 1, 22, 1000, 1);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, ESRCH);
  ck_assert_int_eq(nseen, 0);
}
END_TEST

START_TEST(message_claims_more_than_buffer) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 23, 1000, 1);
  /* Cut the second message short. */
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len - 20), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EBADMSG);
  ck_assert_int_eq(nseen, 0); /* nothing counted from a broken buffer */
}
END_TEST

START_TEST(trailing_bytes_shorter_than_header) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len + 8), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EBADMSG);
}
END_TEST

START_TEST(socket_payload_too_short) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_raw(&b, TCPDIAG_GETSOCK, SEQ, PID, sizeof(struct inet_diag_msg) - 4);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EBADMSG);
}
END_TEST

START_TEST(unexpected_type) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_socket(&b, SOCK_DIAG_BY_FAMILY, SEQ, PID, 22, 1000, 1);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EPROTO);
}
END_TEST

START_TEST(noop_ignored_overrun_fails) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_raw(&b, NLMSG_NOOP, SEQ, PID, 0);
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_MORE);
  ck_assert_int_eq(nseen, 1);

  setup();
  nlbuf_raw(&b, NLMSG_OVERRUN, SEQ, PID, 0);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EOVERFLOW);
}
END_TEST

START_TEST(empty_buffer) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  ck_assert_int_eq(diag_parse_reply(&r, b.data, 0), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, ENODATA);
}
END_TEST

START_TEST(callback_error_stops) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  r.on_socket = refuse;
  nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
  nlbuf_done(&b, SEQ, PID, 0);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, ENOMEM);
}
END_TEST

START_TEST(int_min_error_is_not_negated) {
  struct diag_reply r = reply(TCPDIAG_GETSOCK);

  nlbuf_error(&b, SEQ, PID, INT_MIN);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EPROTO);
  setup();
  nlbuf_done(&b, SEQ, PID, INT_MIN);
  ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
  ck_assert_int_eq(r.error, EPROTO);
}
END_TEST

START_TEST(length_of_two_gigabytes_rejected) {
  /* libmnl compares lengths as int: 2^31 and more must not get through. */
  static const uint32_t lens[] = {0x80000000u, 0xfffffffdu, 0xffffffffu};
  for (size_t i = 0; i < 3; i++) {
    struct diag_reply r = reply(TCPDIAG_GETSOCK);
    struct nlmsghdr *nlh;

    setup();
    nlbuf_socket(&b, TCPDIAG_GETSOCK, SEQ, PID, 22, 1000, 1);
    nlh = (struct nlmsghdr *)b.data;
    nlh->nlmsg_len = lens[i];
    ck_assert_int_eq(diag_parse_reply(&r, b.data, b.len), DIAG_PARSE_ERROR);
    ck_assert_int_eq(r.error, EBADMSG);
    ck_assert_int_eq(nseen, 0);
  }
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "reply", .setup = setup};
  const TTest *const tests[] = {several_sockets_then_more,
                                sockets_then_done,
                                done_carrying_error,
                                done_without_payload,
                                nlmsg_error,
                                truncated_nlmsg_error,
                                wrong_sequence,
                                wrong_port_id,
                                message_claims_more_than_buffer,
                                trailing_bytes_shorter_than_header,
                                socket_payload_too_short,
                                unexpected_type,
                                noop_ignored_overrun_fails,
                                empty_buffer,
                                callback_error_stops,
                                int_min_error_is_not_negated,
                                length_of_two_gigabytes_rejected,
                                NULL};

  return check_run(&c, tests);
}
