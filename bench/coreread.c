/* SPDX-License-Identifier: MIT */
/* coreread: one read by the tcpconns_diag collector (the plugin's core,
 * libtcpconns_core), outside collectd: the plugin's read minus collectd's
 * dispatch of the values. Used by bench/run to tell the collector's cost
 * from the cost of dispatching many ports.
 *
 *   coreread [-r READS] [KEY VALUE]...   e.g. coreread LocalPort 9100
 *
 * Options are the plugin's (ListeningPorts, LocalPort, RemotePort,
 * AllPortsSummary), and Connections with a --connections value
 * ("NAME:lport=80,raddr=10.0.0.0/8") for a <Connections> block. cpu_us
 * is the median CPU of reads 2..READS (the first also probes the kernel;
 * with READS 1, that read). Prints, for the
 * last of READS reads (default 1; the first read also probes the kernel):
 *   cpu_us U sockets S recvmsg M dumps D ports P */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cli/cli_connections.h"
#include "collector_private.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void warn(void *ctx, const char *msg) {
  (void)ctx;
  fprintf(stderr, "coreread: %s\n", msg);
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

int main(int argc, char **argv) {
  static struct collector c;
  struct collector_config cfg;
  char err[512];
  int reads = 1, i = 1;
  double c0 = 0, c1 = 0, *cpu;

  if (argc > 2 && strcmp(argv[1], "-r") == 0) {
    reads = atoi(argv[2]);
    i = 3;
  }
  if (reads < 1 || (argc - i) % 2 != 0) {
    fprintf(stderr, "usage: coreread [-r READS] [KEY VALUE]...\n");
    return 2;
  }
  config_init(&cfg);
  for (; i < argc; i += 2) {
    if (strcmp(argv[i], "Connections") == 0) {
      if (cli_connections_apply(&cfg, argv[i + 1], err, sizeof(err)) != 0) {
        fprintf(stderr, "coreread: %s\n", err);
        return 1;
      }
      continue;
    }
    if (options_apply(&cfg, argv[i], argv[i + 1], warn, NULL, err,
                      sizeof(err)) != 0) {
      fprintf(stderr, "coreread: %s\n", err);
      return 1;
    }
  }
  options_finish(&cfg);
  if (collector_init(&c, &cfg, &diag_io_kernel) != 0) {
    fprintf(stderr, "coreread: collector_init failed\n");
    return 1;
  }
  cpu = calloc((size_t)reads, sizeof(*cpu));
  if (cpu == NULL)
    return 1;
  for (int r = 0; r < reads; r++) {
    c0 = cpu_us();
    int e = collector_read(&c);
    c1 = cpu_us();
    if (e != 0) {
      fprintf(stderr, "coreread: %s\n", c.error);
      return 1;
    }
    cpu[r] = c1 - c0;
  }
  if (reads > 2) { /* the median of reads 2..READS: insertion sort */
    double *v = cpu + 1;
    int n = reads - 1;
    for (int a = 1; a < n; a++)
      for (int b = a; b > 0 && v[b - 1] > v[b]; b--) {
        double t = v[b];
        v[b] = v[b - 1];
        v[b - 1] = t;
      }
    c1 = v[n / 2];
    c0 = 0;
  }
  free(cpu);
  printf("cpu_us %.0f sockets %llu recvmsg %llu dumps %llu ports %u\n", c1 - c0,
         (unsigned long long)c.stats.diag.sockets,
         (unsigned long long)c.stats.diag.recv_calls,
         (unsigned long long)c.stats.diag.dumps, (unsigned)c.pt.norder);
  collector_destroy(&c);
  config_destroy(&cfg);
  return 0;
}
