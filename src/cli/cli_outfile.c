/* SPDX-License-Identifier: MIT */
/* No fsync: the file is a snapshot that the next read replaces, so after a
 * crash it only needs to be whole or absent, which rename() gives; a flush
 * to disk every read would cost more than it is worth. */
#include "cli_outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* dir/.base.XXXXXX for path dir/base (or .base.XXXXXX for a bare name). */
static char *temp_template(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash != NULL ? (size_t)(slash - path) + 1 : 0;
  const char *base = path + dirlen;
  size_t len = dirlen + 1 + strlen(base) + sizeof(".XXXXXX");
  char *t = malloc(len);

  if (t != NULL)
    snprintf(t, len, "%.*s.%s.XXXXXX", (int)dirlen, path, base);
  return t;
}

static mode_t file_mode(void) {
  mode_t mask = umask(0);

  umask(mask);
  return 0666 & ~mask;
}

int cli_outfile_write(const char *path, cli_fill_fn fill, void *ctx, char *err,
                      size_t errlen) {
  char *tmp;
  FILE *f;
  int fd, saved;

  if (path[0] == '\0' || path[strlen(path) - 1] == '/') {
    snprintf(err, errlen, "%s: not a file name", path);
    return -1;
  }
  tmp = temp_template(path);
  if (tmp == NULL) {
    snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
    return -1;
  }
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create a temporary file for %s: %s", path,
             strerror(errno));
    free(tmp);
    return -1;
  }
  if (fchmod(fd, file_mode()) != 0 || (f = fdopen(fd, "w")) == NULL) {
    saved = errno;
    close(fd);
    goto fail;
  }
  errno = 0;
  fill(f, ctx);
  if (fflush(f) != 0 || ferror(f)) {
    saved = errno != 0 ? errno : EIO;
    fclose(f);
    goto fail;
  }
  if (fclose(f) != 0) {
    saved = errno;
    goto fail;
  }
  if (rename(tmp, path) != 0) {
    saved = errno;
    goto fail;
  }
  free(tmp);
  return 0;

fail:
  snprintf(err, errlen, "cannot write %s (through %s): %s", path, tmp,
           strerror(saved));
  unlink(tmp);
  free(tmp);
  return -1;
}
