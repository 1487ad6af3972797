/* SPDX-License-Identifier: MIT */
/* <Connections> blocks: the parser (every error names the block, the
 * option and the value), the CLI's --connections grammar, copies of a
 * configuration, and the user-space matcher, which must agree with the
 * kernel filter compiled for the block (run through the model of the
 * kernel) on every socket: same ports, same prefixes, same families,
 * IPv4-mapped addresses included. */
#include "check_run.h"
#include "bc_model.h"
#include "bytecode.h"
#include "cli/cli_connections.h"
#include "conn_blocks.h"
#include "options.h"
#include "tcp_state.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct collector_config cfg;
static char err[512];

static void setup(void) {
  config_init(&cfg);
  err[0] = '\0';
}

static void teardown(void) {
  config_destroy(&cfg);
}

/* A whole block from key/value pairs; returns 0 or -1 with err set. */
static int block(const char *name, const char *const *kv) {
  err[0] = '\0';
  if (conns_begin(&cfg, name, err, sizeof(err)) != 0)
    return -1;
  for (; kv[0] != NULL; kv += 2)
    if (conns_apply(&cfg, kv[0], kv[1], err, sizeof(err)) != 0)
      return -1;
  return conns_finish(&cfg, err, sizeof(err));
}

#define BLOCK(name, ...) block(name, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(issue_example_parses) {
  const struct config_conns *b;
  char text[INET6_ADDRSTRLEN];

  ck_assert_int_eq(BLOCK("pg_app", "RemotePort", "5432", "RemoteAddress",
                         "10.1.0.0/16 fd00:1::/48", "LocalAddress", "10.2.3.4",
                         "States", "ESTABLISHED SYN_SENT"),
                   0);
  ck_assert_uint_eq(cfg.nconns, 1);
  b = &cfg.conns[0];
  ck_assert_str_eq(b->name, "pg_app");
  ck_assert_uint_eq(b->states, (1u << TCS_ESTABLISHED) | (1u << TCS_SYN_SENT));
  ck_assert_uint_eq(b->nrports, 1);
  ck_assert_uint_eq(b->rports[0].lo, 5432);
  ck_assert_uint_eq(b->rports[0].hi, 5432);
  ck_assert_uint_eq(b->nlports, 0);
  ck_assert_uint_eq(b->nraddrs, 2);
  ck_assert_uint_eq(b->raddrs[0].family, AF_INET);
  ck_assert_uint_eq(b->raddrs[0].prefix_len, 16);
  inet_ntop(AF_INET, b->raddrs[0].addr, text, sizeof(text));
  ck_assert_str_eq(text, "10.1.0.0");
  ck_assert_uint_eq(b->raddrs[1].family, AF_INET6);
  ck_assert_uint_eq(b->raddrs[1].prefix_len, 48);
  ck_assert_uint_eq(b->nladdrs, 1);
  ck_assert_uint_eq(b->laddrs[0].prefix_len, 32);
}
END_TEST

START_TEST(values_and_lines_or_states_default_and_add) {
  const struct config_conns *b;

  ck_assert_int_eq(BLOCK("web", "LocalPort", "80 443", "LocalPort", "8000-8099",
                         "localport", "9000.000000", "LocalAddress", "::1",
                         "LocalAddress", "127.0.0.0/8"),
                   0);
  b = &cfg.conns[0];
  ck_assert_uint_eq(b->nlports, 4);
  ck_assert_uint_eq(b->lports[2].lo, 8000);
  ck_assert_uint_eq(b->lports[2].hi, 8099);
  ck_assert_uint_eq(b->lports[3].lo, 9000);
  ck_assert_uint_eq(b->nladdrs, 2);
  ck_assert_uint_eq(b->laddrs[0].prefix_len, 128);
  ck_assert_uint_eq(b->states, TCS_MASK_ALL);
  ck_assert_int_eq(
      BLOCK("t", "RemotePort", "1", "States", "LISTEN", "States", "time_wait"),
      0);
  ck_assert_uint_eq(cfg.conns[1].states,
                    (1u << TCS_LISTEN) | (1u << 6 /* TIME_WAIT */));
  /* /0 networks and the extremes are fine */
  ck_assert_int_eq(BLOCK("edges", "RemoteAddress", "0.0.0.0/0 ::/0",
                         "RemotePort", "1-65535", "LocalAddress",
                         "255.255.255.255/32"),
                   0);
}
END_TEST

/* Each error: the exact line a user sees, naming block, option, value. */
START_TEST(errors_name_block_option_and_value) {
  static const struct {
    const char *key, *value, *message;
  } bad[] = {
      {"RemoteAddress", "10.1.0/16",
       "<Connections \"b\">: RemoteAddress \"10.1.0/16\": not an IPv4 or IPv6 "
       "address"},
      {"RemoteAddress", "10.1.0.0/33",
       "<Connections \"b\">: RemoteAddress \"10.1.0.0/33\": the prefix length "
       "is beyond /32 for an IPv4 address"},
      {"LocalAddress", "fd00::/129",
       "<Connections \"b\">: LocalAddress \"fd00::/129\": the prefix length "
       "is beyond /128 for an IPv6 address"},
      {"RemoteAddress", "10.1.2.3/16",
       "<Connections \"b\">: RemoteAddress \"10.1.2.3/16\": host bits set "
       "past the /16 prefix (the network is 10.1.0.0/16)"},
      {"RemoteAddress", "fd00:1::1/48",
       "<Connections \"b\">: RemoteAddress \"fd00:1::1/48\": host bits set "
       "past the /48 prefix (the network is fd00:1::/48)"},
      {"RemoteAddress", "10.0.0.0/",
       "<Connections \"b\">: RemoteAddress \"10.0.0.0/\": no prefix length "
       "after '/'"},
      {"RemoteAddress", "10.0.0.0/8x",
       "<Connections \"b\">: RemoteAddress \"10.0.0.0/8x\": the prefix length "
       "is not a number"},
      {"RemoteAddress", "fe80::1%eth0",
       "<Connections \"b\">: RemoteAddress \"fe80::1%eth0\": not an IPv4 or "
       "IPv6 address"},
      {"RemotePort", "0",
       "<Connections \"b\">: RemotePort \"0\": invalid port, expected 1 to "
       "65535 or a range LOW-HIGH"},
      {"LocalPort", "65536",
       "<Connections \"b\">: LocalPort \"65536\": invalid port, expected 1 to "
       "65535 or a range LOW-HIGH"},
      {"LocalPort", "80abc",
       "<Connections \"b\">: LocalPort \"80abc\": invalid port, expected 1 to "
       "65535 or a range LOW-HIGH"},
      {"LocalPort", "90-80",
       "<Connections \"b\">: LocalPort \"90-80\": invalid port range, LOW is "
       "above HIGH"},
      {"LocalPort", "-80",
       "<Connections \"b\">: LocalPort \"-80\": invalid port, expected 1 to "
       "65535 or a range LOW-HIGH"},
      {"States", "ESTABLISHED BOGUS",
       "<Connections \"b\">: States \"BOGUS\": unknown state; valid: "
       "ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSED "
       "CLOSE_WAIT LAST_ACK LISTEN CLOSING"},
      {"Port", "80",
       "<Connections \"b\">: unknown option \"Port\" (valid: LocalPort, "
       "RemotePort, LocalAddress, RemoteAddress, States)"},
      {"LocalPort", "",
       "<Connections \"b\">: LocalPort \"\": the option needs a value"},
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    config_destroy(&cfg);
    config_init(&cfg);
    ck_assert_int_eq(conns_begin(&cfg, "b", err, sizeof(err)), 0);
    ck_assert_int_eq(
        conns_apply(&cfg, bad[i].key, bad[i].value, err, sizeof(err)), -1);
    ck_assert_str_eq(err, bad[i].message);
  }
}
END_TEST

START_TEST(names_conditions_and_duplicates) {
  ck_assert_int_eq(BLOCK("nothing", "States", "ESTABLISHED"), -1);
  ck_assert_str_eq(err, "<Connections \"nothing\">: no condition: give at "
                        "least one LocalPort, RemotePort, LocalAddress or "
                        "RemoteAddress");
  config_destroy(&cfg);
  config_init(&cfg);
  ck_assert_int_eq(BLOCK("pg", "RemotePort", "5432"), 0);
  ck_assert_int_eq(BLOCK("PG", "RemotePort", "5433"), -1);
  ck_assert_str_eq(err, "<Connections \"PG\">: the name is already used by "
                        "<Connections \"pg\"> (names differ in more than "
                        "case)");
  static const char *const bad_names[] = {"",       "9pg",    "pg-app",
                                          "pg.app", "all",    "SELF",
                                          "_pg",    "pg app", "80-local"};
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
    ck_assert_int_eq(conns_begin(&cfg, bad_names[i], err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "invalid name") != NULL, "%s: %s", bad_names[i],
                  err);
  }
  ck_assert_uint_eq(cfg.nconns, 1);
}
END_TEST

START_TEST(copies_are_deep) {
  struct collector_config copy;

  ck_assert_int_eq(BLOCK("a", "RemotePort", "1-2", "RemoteAddress", "::1",
                         "LocalAddress", "127.0.0.1", "LocalPort", "3"),
                   0);
  ck_assert_int_eq(BLOCK("b", "RemotePort", "5"), 0);
  ck_assert_int_eq(config_copy(&copy, &cfg), 0);
  ck_assert_uint_eq(copy.nconns, 2);
  ck_assert_ptr_ne(copy.conns, cfg.conns);
  ck_assert_ptr_ne(copy.conns[0].raddrs, cfg.conns[0].raddrs);
  ck_assert_mem_eq(copy.conns[0].raddrs, cfg.conns[0].raddrs,
                   sizeof(struct bc_host));
  ck_assert_str_eq(copy.conns[1].name, "b");
  config_destroy(&copy);
}
END_TEST

START_TEST(cli_grammar) {
  const struct config_conns *b;

  ck_assert_int_eq(cli_connections_apply(
                       &cfg,
                       "pg_app:rport=5432,raddr=10.1.0.0/16,raddr=fd00:1::/48,"
                       "laddr=10.2.3.4,states=ESTABLISHED+SYN_SENT",
                       err, sizeof(err)),
                   0);
  b = &cfg.conns[0];
  ck_assert_str_eq(b->name, "pg_app");
  ck_assert_uint_eq(b->nraddrs, 2);
  ck_assert_uint_eq(b->nladdrs, 1);
  ck_assert_uint_eq(b->nrports, 1);
  ck_assert_uint_eq(b->states, (1u << TCS_ESTABLISHED) | (1u << TCS_SYN_SENT));
  ck_assert_int_eq(
      cli_connections_apply(&cfg, "r:lport=8000-8099", err, sizeof(err)), 0);
  ck_assert_uint_eq(cfg.conns[1].lports[0].hi, 8099);
  ck_assert_int_eq(cli_connections_apply(&cfg, "x", err, sizeof(err)), -1);
  ck_assert_int_eq(cli_connections_apply(&cfg, "y:port=1", err, sizeof(err)),
                   -1);
  ck_assert_str_eq(err, "<Connections \"y\">: unknown key \"port\" (valid: "
                        "lport, rport, laddr, raddr, states)");
  ck_assert_int_eq(cli_connections_apply(&cfg, "z:rport", err, sizeof(err)),
                   -1);
  ck_assert_int_eq(
      cli_connections_apply(&cfg, "w:states=LISTEN", err, sizeof(err)),
      -1); /* no condition */
  ck_assert_int_eq(
      cli_connections_apply(&cfg, "v:raddr=1.2.3.4/8", err, sizeof(err)), -1);
  ck_assert_int_eq(
      cli_connections_apply(&cfg, "u:raddr=1.2.3.4 5.6.7.8", err, sizeof(err)),
      -1);
}
END_TEST

static void no_warning(void *ctx, const char *m) {
  (void)ctx;
  (void)m;
}

/* Blocks leave upstream's defaults alone (listening ports with no port
 * option, even with ListeningPorts false, as upstream); with blocks, an
 * explicit ListeningPorts false means the blocks alone. */
START_TEST(defaults_with_blocks) {
  ck_assert_int_eq(BLOCK("pg", "RemotePort", "5432"), 0);
  options_finish(&cfg);
  ck_assert(cfg.listening);
  config_destroy(&cfg);
  config_init(&cfg);
  ck_assert_int_eq(options_apply(&cfg, "ListeningPorts", "false", no_warning,
                                 NULL, err, sizeof(err)),
                   0);
  options_finish(&cfg);
  ck_assert(cfg.listening); /* no block: upstream's quirk */
  config_destroy(&cfg);
  config_init(&cfg);
  ck_assert_int_eq(options_apply(&cfg, "ListeningPorts", "false", no_warning,
                                 NULL, err, sizeof(err)),
                   0);
  ck_assert_int_eq(BLOCK("pg", "RemotePort", "5432"), 0);
  options_finish(&cfg);
  ck_assert(!cfg.listening);
  config_destroy(&cfg);
  config_init(&cfg);
  ck_assert_int_eq(options_apply(&cfg, "ListeningPorts", "true", no_warning,
                                 NULL, err, sizeof(err)),
                   0);
  ck_assert_int_eq(BLOCK("pg", "RemotePort", "5432"), 0);
  options_finish(&cfg);
  ck_assert(cfg.listening);
}
END_TEST

/* --- the matcher against the compiled filter ------------------------- */

static uint64_t rng = 0x1234567;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static const char *const hosts[] = {"127.0.0.0/8",     "127.0.0.2",
                                    "10.1.0.0/16",     "0.0.0.0/0",
                                    "10.1.2.0/23",     "::1",
                                    "fd00:1::/48",     "::/0",
                                    "::ffff:0:0/96",   "::ffff:10.1.0.0/112",
                                    "fd00::8000:0/97", "255.255.255.255"};
static const char *const ports[] = {"5432", "80", "1-1024", "5432-5433",
                                    "65535"};
static const char *const addrs4[] = {"127.0.0.1",       "127.0.0.2", "10.1.7.9",
                                     "10.1.3.255",      "10.2.0.1",  "8.8.8.8",
                                     "255.255.255.255", "0.0.0.0"};
static const char *const addrs6[] = {
    "::1",          "fd00:1::5", "fd00:1:1::5", "fd00::ffff:1",
    "fd00::7fff:1", "::",        "2001:db8::1", "::fffe:a01:709"};

static void rnd_addr(uint8_t *family, uint8_t *src, uint8_t *dst) {
  int kind = (int)rnd(3);

  memset(src, 0, 16);
  memset(dst, 0, 16);
  if (kind == 0) {
    *family = AF_INET;
    inet_pton(AF_INET, addrs4[rnd(8)], src);
    inet_pton(AF_INET, addrs4[rnd(8)], dst);
  } else if (kind == 1) {
    *family = AF_INET6;
    inet_pton(AF_INET6, addrs6[rnd(8)], src);
    inet_pton(AF_INET6, addrs6[rnd(8)], dst);
  } else { /* IPv4-mapped on an AF_INET6 socket */
    *family = AF_INET6;
    for (int k = 0; k < 2; k++) {
      uint8_t *a = k ? dst : src;
      a[10] = a[11] = 0xff;
      inet_pton(AF_INET, addrs4[rnd(8)], a + 12);
    }
  }
}

/* Random blocks, one at a time compiled alone into a program: the model's
 * verdict on the program and conns_match() agree on every socket. */
START_TEST(matcher_agrees_with_the_kernel_filter) {
  static uint8_t prog[BC_MAX_LEN];
  static const char *const keys[] = {"LocalPort", "RemotePort", "LocalAddress",
                                     "RemoteAddress"};
  unsigned long matched = 0, total = 0;

  for (int iter = 0; iter < 3000; iter++) {
    char name[16];
    const struct config_conns *b;
    struct bc_term t;
    struct bc_filter f;
    size_t len;
    int nkeys = 0;

    snprintf(name, sizeof(name), "b%d", iter);
    ck_assert_int_eq(conns_begin(&cfg, name, err, sizeof(err)), 0);
    for (int k = 0; k < 4; k++) {
      int nvals = rnd(3) == 0 ? 0 : 1 + (int)rnd(3);
      for (int v = 0; v < nvals; v++) {
        const char *value = k < 2 ? ports[rnd(5)] : hosts[rnd(12)];
        ck_assert_msg(conns_apply(&cfg, keys[k], value, err, sizeof(err)) == 0,
                      "%s", err);
        nkeys++;
      }
    }
    if (nkeys == 0)
      ck_assert_int_eq(
          conns_apply(&cfg, "RemotePort", "5432", err, sizeof(err)), 0);
    ck_assert_int_eq(conns_finish(&cfg, err, sizeof(err)), 0);
    b = &cfg.conns[cfg.nconns - 1];
    t = conns_term(b);
    f = (struct bc_filter){.terms = &t, .nterms = 1};
    ck_assert_int_eq(bc_compile_filter(&f, 0, prog, sizeof(prog), &len), 0);
    ck_assert_int_eq(bcm_audit(prog, len), 0);
    for (int s = 0; s < 300; s++) {
      static const uint16_t sp[] = {5432, 80, 1024, 1025, 5433, 65535, 22};
      struct bcm_sock sock;
      bool user;
      int kernel;

      rnd_addr(&sock.family, sock.src, sock.dst);
      sock.sport = sp[rnd(7)];
      sock.dport = sp[rnd(7)];
      kernel = bcm_run_sock(prog, len, &sock, NULL);
      user = conns_match(b, sock.family, sock.sport, sock.dport, sock.src,
                         sock.dst);
      if (kernel != (int)user)
        ck_abort_msg("block %d: family %u sport %u dport %u: kernel %d, "
                     "conns_match %d",
                     iter, sock.family, sock.sport, sock.dport, kernel, user);
      matched += user;
      total++;
    }
    if (cfg.nconns >= 1000) {
      config_destroy(&cfg);
      config_init(&cfg);
    }
  }
  ck_assert_uint_gt(matched, total / 50);
  ck_assert_uint_lt(matched, total - total / 50);
}
END_TEST

int main(void) {
  static const struct check_case c = {
      .name = "conns", .setup = setup, .teardown = teardown, .timeout = 120};
  const TTest *const tests[] = {issue_example_parses,
                                values_and_lines_or_states_default_and_add,
                                errors_name_block_option_and_value,
                                names_conditions_and_duplicates,
                                copies_are_deep,
                                cli_grammar,
                                defaults_with_blocks,
                                matcher_agrees_with_the_kernel_filter,
                                NULL};

  return check_run(&c, tests);
}
