/* rmq_file.h - small file-system helpers every process uses: read a whole
 * file, write one atomically and durably, create directories, expand `~`.
 *
 * Blocking (fsync): never call the writing functions from an event-loop
 * callback; hand the bytes to an rmq_file_writer instead. Any thread. */
#ifndef RMQ_FILE_H
#define RMQ_FILE_H

#include <stddef.h>
#include <sys/uio.h>

#include "rmq_err.h"

/* Read a whole file into a NUL-terminated heap buffer (*len excludes the
 * NUL). RMQ_ERR__NOENT if it does not exist, RMQ_ERR__IO otherwise (errno
 * kept). */
rmq_err_t rmq_file_read_all(const char *path, char **data, size_t *len);

/* Replace path with the given bytes so that a crash leaves either the old or
 * the new content: write path.tmp, fsync it, rename it over path, fsync the
 * directory. On failure path is unchanged, path.tmp is removed, the reason
 * is logged (facility "file") and RMQ_ERR__IO returned (errno kept). */
rmq_err_t rmq_file_write_atomic(const char *path, const void *data, size_t len);
/* The same with the content in pieces. */
rmq_err_t rmq_file_write_atomicv(const char *path, const struct iovec *iov, int iovcnt);
/* fsync the directory holding path (makes a rename or create durable). */
rmq_err_t rmq_file_fsync_dir(const char *path);

/* mkdir -p with mode 0755. 0, or -1 with errno (an existing directory is
 * fine). */
int rmq_mkdirs(const char *path);
/* "~" or "~/x" with $HOME (/tmp when unset) put in front; any other path
 * copied. Heap string. */
char *rmq_expand_home(const char *path);

#endif
