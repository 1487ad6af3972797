/* SPDX-License-Identifier: MIT */
/* The /proc/net/tcp{,6} line parser and file reader. */
#include "check_run.h"
#include "proc_reader.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse(const char *line, uint16_t *sp, uint16_t *dp, uint8_t *st) {
  return proc_parse_line(line, strlen(line), sp, dp, st);
}

START_TEST(ipv4_line) {
  uint16_t sp, dp;
  uint8_t st;

  ck_assert_int_eq(
      parse("   0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000"
            " 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0",
            &sp, &dp, &st),
      1);
  ck_assert_uint_eq(sp, 80);
  ck_assert_uint_eq(dp, 0);
  ck_assert_uint_eq(st, 10);
}
END_TEST

START_TEST(ipv6_line) {
  uint16_t sp, dp;
  uint8_t st;

  ck_assert_int_eq(parse("  12: 00000000000000000000000001000000:FFFF "
                         "00000000000000000000000001000000:C350 01 "
                         "00000000:00000000 00:00000000 00000000 0 0 1 1",
                         &sp, &dp, &st),
                   1);
  ck_assert_uint_eq(sp, 65535);
  ck_assert_uint_eq(dp, 50000);
  ck_assert_uint_eq(st, 1);
}
END_TEST

START_TEST(header_and_garbage_rejected) {
  uint16_t sp, dp;
  uint8_t st;

  ck_assert_int_eq(parse("  sl  local_address rem_address   st tx_queue "
                         "rx_queue tr tm->when retrnsmt   uid  timeout inode",
                         &sp, &dp, &st),
                   0);
  ck_assert_int_eq(parse("", &sp, &dp, &st), 0);
  ck_assert_int_eq(parse("0: 0100007F:00ZZ 00000000:0000 0A", &sp, &dp, &st),
                   0);
  ck_assert_int_eq(parse("0: 0100007F: 00000000:0000 0A", &sp, &dp, &st), 0);
  ck_assert_int_eq(parse("0: 0100007F:10000 00000000:0000 0A", &sp, &dp, &st),
                   0);
  ck_assert_int_eq(parse("0: 0100007F:0050 00000000:0000", &sp, &dp, &st), 0);
  ck_assert_int_eq(parse("0: 0100007F:0050 00000000:0000 1FF", &sp, &dp, &st),
                   0);
}
END_TEST

static int n_lines, sum_ports;

static int tally(void *data, uint16_t sport, uint16_t dport, uint8_t st) {
  (void)data;
  (void)st;
  n_lines++;
  sum_ports += sport + dport;
  return 0;
}

START_TEST(file_with_lines_across_reads) {
  char path[] = "/tmp/check_proc_XXXXXX";
  char small[300]; /* forces lines to straddle read() boundaries */
  int fd = mkstemp(path);
  FILE *f;

  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  fprintf(f, "  sl  local_address rem_address   st tx_queue rx_queue\n");
  for (int i = 1; i <= 1000; i++)
    fprintf(f,
            "%4d: 0100007F:%04X 0100007F:%04X 01 00000000:00000000 "
            "00:00000000 00000000     0        0 1 1 0 20 4 30 10 -1\n",
            i, i, 1);
  fclose(f);
  n_lines = sum_ports = 0;
  ck_assert_int_eq(proc_read_file(path, small, sizeof(small), tally, NULL), 0);
  ck_assert_int_eq(n_lines, 1000);
  ck_assert_int_eq(sum_ports, 1000 * 1001 / 2 + 1000);
  unlink(path);
  ck_assert_int_eq(proc_read_file(path, small, sizeof(small), tally, NULL),
                   -ENOENT);
}
END_TEST

int main(void) {
  static const struct check_case c = {.name = "proc"};
  const TTest *const tests[] = {ipv4_line, ipv6_line,
                                header_and_garbage_rejected,
                                file_with_lines_across_reads, NULL};

  return check_run(&c, tests);
}
