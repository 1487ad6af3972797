/* SPDX-License-Identifier: MIT */
/* strip_cloexec: an LD_PRELOAD shim for tests/daemon/cloexec.sh. It removes
 * SOCK_CLOEXEC from the type argument of every socket(2) call, as if the
 * code asking for it had forgotten it, so the test can show that it catches
 * a descriptor that leaks into children.
 *
 *   cc -shared -fPIC -o strip_cloexec.so strip_cloexec.c -ldl
 *   LD_PRELOAD=./strip_cloexec.so collectd -f -C ...
 *
 * Each stripped call is counted; the count is written to the file named by
 * STRIP_CLOEXEC_LOG (if set) as "stripped N domain D" lines, so the test can
 * tell the shim was in effect. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int (*socket_fn)(int, int, int);

int socket(int domain, int type, int protocol) {
  static socket_fn real;
  static int stripped;
  int saved;

  if (real == NULL)
    real = (socket_fn)dlsym(RTLD_NEXT, "socket");
  if (real == NULL) {
    errno = ENOSYS;
    return -1;
  }
  if (type & SOCK_CLOEXEC) {
    const char *path = getenv("STRIP_CLOEXEC_LOG");
    int nth = __atomic_add_fetch(&stripped, 1, __ATOMIC_RELAXED);

    type &= ~SOCK_CLOEXEC;
    saved = errno;
    if (path != NULL) {
      char line[64];
      int n =
          snprintf(line, sizeof(line), "stripped %d domain %d\n", nth, domain);
      int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        if (n > 0 && write(fd, line, (size_t)n) < 0) {
          /* only a diagnostic */
        }
        close(fd);
      }
    }
    errno = saved;
  }
  return real(domain, type, protocol);
}
