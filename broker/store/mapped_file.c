/* mapped_file.c - one fixed-size mmapped file with wrote/flushed positions
 * and a hold/release reference count (MappedFile + ReferenceResource).
 *
 * Owns: the fd and the mapping of one segment. Open runs on the allocate
 * thread (commit log), the reput thread (consume queues, index) or the
 * opening thread (recovery); flush on the flush threads; destroy on the
 * clean thread. Must never: unmap while refcnt > 0, or report a failed
 * msync as flushed. */
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"

static long page_size(void)
{
    static _Atomic long ps;
    long v = atomic_load_explicit(&ps, memory_order_relaxed);
    if (!v) {
        v = sysconf(_SC_PAGESIZE);
        atomic_store_explicit(&ps, v, memory_order_relaxed);
    }
    return v;
}

rmq_err_t rmq_mapped_file_open(const char *path, int64_t from, int64_t size, bool create, bool warm,
                               rmq_mapped_file_t **out)
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0644);
    if (fd < 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "open(%s) failed", path);
        return RMQ_ERR__IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "fstat(%s) failed", path);
        close(fd);
        return RMQ_ERR__IO;
    }
    if (create || st.st_size < size) {
        if (!create)
            rmq_log(RMQ_LOG_WARN, "store", "%s is %lld bytes, expected %lld: extending", path,
                    (long long)st.st_size, (long long)size);
        int rc = posix_fallocate(fd, 0, size);
        if (rc == EOPNOTSUPP || rc == EINVAL)
            rc = ftruncate(fd, size) == 0 ? 0 : errno;
        if (rc != 0) {
            rmq_log_errno(RMQ_LOG_ERROR, "store", rc, "posix_fallocate(%s, %lld) failed", path, (long long)size);
            close(fd);
            if (create)
                unlink(path);
            return (rc == ENOSPC || rc == EDQUOT) ? RMQ_ERR__DISK_FULL : RMQ_ERR__IO;
        }
    } else if (st.st_size > size) {
        rmq_log(RMQ_LOG_ERROR, "store", "%s is %lld bytes, larger than the configured %lld", path,
                (long long)st.st_size, (long long)size);
        close(fd);
        return RMQ_ERR__CORRUPT;
    }
    void *base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "mmap(%s) failed", path);
        close(fd);
        if (create)
            unlink(path);
        return RMQ_ERR__IO;
    }
    if (warm) {
        long ps = page_size();
        for (int64_t i = 0; i < size; i += ps)
            ((volatile uint8_t *)base)[i] = 0;
    }
    rmq_mapped_file_t *mf = rmq_calloc(1, sizeof(*mf));
    mf->path = rmq_strdup(path);
    mf->from = from;
    mf->size = size;
    mf->fd = fd;
    mf->base = base;
    atomic_init(&mf->wrote, create ? 0 : size);
    atomic_init(&mf->flushed, create ? 0 : size);
    atomic_init(&mf->refcnt, 1);
    atomic_init(&mf->available, true);
    atomic_init(&mf->store_ts, 0);
    *out = mf;
    return RMQ_OK;
}

void rmq_mapped_file_hold(rmq_mapped_file_t *mf) { atomic_fetch_add(&mf->refcnt, 1); }

void rmq_mapped_file_release(rmq_mapped_file_t *mf)
{
    int prev = atomic_fetch_sub(&mf->refcnt, 1);
    rmq_assert(prev > 0);
}

rmq_err_t rmq_mapped_file_flush(rmq_mapped_file_t *mf, int least_pages, _Atomic int *fail_inject)
{
    int64_t wrote = atomic_load_explicit(&mf->wrote, memory_order_acquire);
    int64_t flushed = atomic_load(&mf->flushed);
    if (wrote <= flushed)
        return RMQ_OK;
    long ps = page_size();
    if (least_pages > 0 && (wrote / ps - flushed / ps) < least_pages)
        return RMQ_OK;
    int64_t start = flushed - flushed % ps;
    if (fail_inject && atomic_load(fail_inject) > 0) {
        atomic_fetch_sub(fail_inject, 1);
        rmq_log_errno(RMQ_LOG_ERROR, "store", EIO, "msync(%s) failed (injected)", mf->path);
        return RMQ_ERR__IO;
    }
    if (msync(mf->base + start, (size_t)(wrote - start), MS_SYNC) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "msync(%s) failed", mf->path);
        return RMQ_ERR__IO;
    }
    atomic_store(&mf->flushed, wrote);
    return RMQ_OK;
}

void rmq_mapped_file_destroy(rmq_mapped_file_t *mf, bool unlink_file)
{
    if (!mf)
        return;
    if (mf->base)
        munmap(mf->base, (size_t)mf->size);
    if (mf->fd >= 0)
        close(mf->fd);
    if (unlink_file && !mf->unlinked && unlink(mf->path) != 0)
        rmq_log_errno(RMQ_LOG_WARN, "store", errno, "unlink(%s) failed", mf->path);
    free(mf->path);
    free(mf);
}

void rmq_mapped_file_zero_tail(rmq_mapped_file_t *mf, int64_t from)
{
    long ps = page_size();
    int64_t pos = from;
    while (pos < mf->size) {
        int64_t end = (pos / ps + 1) * ps;
        if (end > mf->size)
            end = mf->size;
        uint8_t *p = mf->base + pos;
        size_t n = (size_t)(end - pos);
        bool zero = true;
        for (size_t i = 0; i < n; i += 8) {
            uint64_t v = 0;
            memcpy(&v, p + i, (n - i) >= 8 ? 8 : n - i);
            if (v) {
                zero = false;
                break;
            }
        }
        if (!zero)
            memset(p, 0, n);
        pos = end;
    }
}

int64_t rmq_mapped_file_mtime_ms(const rmq_mapped_file_t *mf)
{
    struct stat st;
    if (fstat(mf->fd, &st) != 0)
        return 0;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}
