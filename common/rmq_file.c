/* rmq_file.c - whole-file reads, atomic durable writes, mkdir -p, `~`.
 * Any thread; the writes block on fsync (writer threads, start-up, shutdown). */
#include "rmq_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_log.h"

rmq_err_t rmq_file_read_all(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RMQ_ERR__NOENT : RMQ_ERR__IO;
    rmq_buf_t b;
    rmq_buf_init(&b);
    for (;;) {
        rmq_buf_reserve(&b, 65536);
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            rmq_buf_free(&b);
            errno = e;
            return RMQ_ERR__IO;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
    }
    close(fd);
    rmq_buf_cstr(&b);
    *len = b.len;
    *data = (char *)rmq_buf_detach(&b, NULL);
    return RMQ_OK;
}

static int write_all(int fd, const struct iovec *iov, int iovcnt)
{
    for (int i = 0; i < iovcnt; i++) {
        const char *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;
        while (n) {
            ssize_t w = write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            p += w;
            n -= (size_t)w;
        }
    }
    return 0;
}

rmq_err_t rmq_file_fsync_dir(const char *path)
{
    char *d = rmq_strdup(path);
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -1 : fsync(fd);
    int e = errno;
    if (rc != 0)
        rmq_log_errno(RMQ_LOG_ERROR, "file", e, "fsync of the directory of %s failed", path);
    if (fd >= 0)
        close(fd);
    free(d);
    errno = e;
    return rc == 0 ? RMQ_OK : RMQ_ERR__IO;
}

rmq_err_t rmq_file_write_atomicv(const char *path, const struct iovec *iov, int iovcnt)
{
    char *tmp = rmq_asprintf("%s.tmp", path);
    const char *step = "open";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto fail;
    step = "write";
    if (write_all(fd, iov, iovcnt) != 0)
        goto fail;
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    fd = -1;
    step = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    free(tmp);
    return rmq_file_fsync_dir(path);
fail:;
    int e = errno;
    rmq_log_errno(RMQ_LOG_ERROR, "file", e, "%s(%s) failed", step, strcmp(step, "rename") ? tmp : path);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    errno = e;
    return RMQ_ERR__IO;
}

rmq_err_t rmq_file_write_atomic(const char *path, const void *data, size_t len)
{
    struct iovec iov = {(void *)data, len};
    return rmq_file_write_atomicv(path, &iov, 1);
}

int rmq_mkdirs(const char *path)
{
    char *p = rmq_strdup(path);
    for (char *c = p + 1; *c; c++) {
        if (*c == '/') {
            *c = 0;
            mkdir(p, 0755);
            *c = '/';
        }
    }
    int rc = mkdir(p, 0755);
    int e = errno;
    struct stat st;
    if (rc != 0 && e == EEXIST && stat(p, &st) == 0 && S_ISDIR(st.st_mode))
        rc = 0;
    free(p);
    errno = e;
    return rc;
}

char *rmq_expand_home(const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == 0)) {
        const char *home = getenv("HOME");
        return rmq_asprintf("%s%s", home && *home ? home : "/tmp", path + 1);
    }
    return rmq_strdup(path);
}
