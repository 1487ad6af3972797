/* SPDX-License-Identifier: MIT */
/* cputime: runs a command and prints the CPU time it used (user + sys,
 * from wait4's rusage, microseconds), its wall time and its peak RSS:
 *   cputime [-o FILE] COMMAND [ARG...]
 * prints "cpu_us U user_us X sys_us Y wall_us W maxrss_kb R status S" on
 * stderr, or to FILE with -o. The command's own output is left alone. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  FILE *out = stderr;
  struct rusage ru;
  int status, argi = 1;
  double t0;
  pid_t pid;

  if (argc > 2 && strcmp(argv[1], "-o") == 0) {
    out = fopen(argv[2], "w");
    if (out == NULL) {
      perror(argv[2]);
      return 127;
    }
    argi = 3;
  }
  if (argi >= argc) {
    fprintf(stderr, "usage: cputime [-o FILE] COMMAND [ARG...]\n");
    return 127;
  }
  t0 = now_us();
  pid = fork();
  if (pid < 0) {
    perror("fork");
    return 127;
  }
  if (pid == 0) {
    execvp(argv[argi], argv + argi);
    fprintf(stderr, "cputime: %s: %s\n", argv[argi], strerror(errno));
    _exit(127);
  }
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 127;
  }
  {
    double u = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
    double s = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
    fprintf(out,
            "cpu_us %.0f user_us %.0f sys_us %.0f wall_us %.0f maxrss_kb %ld "
            "status %d\n",
            u + s, u, s, now_us() - t0, ru.ru_maxrss,
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  if (out != stderr)
    fclose(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
