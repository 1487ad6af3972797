/* SPDX-License-Identifier: MIT */
#include "cli_netns.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NETNS_RUN_DIR "/var/run/netns" /* where `ip netns` keeps them */

static int enter(const char *path, char *err, size_t errlen) {
  int fd, saved;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open network namespace %s: %s", path,
             strerror(errno));
    return -1;
  }
  if (setns(fd, CLONE_NEWNET) != 0) {
    saved = errno;
    close(fd);
    snprintf(err, errlen, "cannot enter network namespace %s: %s%s", path,
             strerror(saved),
             saved == EPERM    ? " (needs CAP_SYS_ADMIN)"
             : saved == EINVAL ? " (not a network namespace)"
                               : "");
    return -1;
  }
  close(fd);
  return 0;
}

int cli_netns_enter_name(const char *name, char *err, size_t errlen) {
  char path[sizeof(NETNS_RUN_DIR) + NAME_MAX + 1];

  snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
  return enter(path, err, errlen);
}

int cli_netns_enter_pid(long pid, char *err, size_t errlen) {
  char path[64];

  snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
  return enter(path, err, errlen);
}
