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
    return rmq_mapped_file_open_flags(path, from, size, create, warm ? RMQ_MF_WARM : 0, out);
}

#define HUGE_SIZE ((int64_t)2 << 20)

/* A shared mapping of fd at a 2 MiB-aligned address (a PMD can only map a
 * 2 MiB folio at an aligned address), advised MADV_HUGEPAGE. NULL if the
 * kernel refuses; the caller then maps normally. */
static void *map_huge(int fd, int64_t size)
{
    size_t span = (size_t)(size + HUGE_SIZE);
    uint8_t *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    uint8_t *a = (uint8_t *)(((uintptr_t)r + (uintptr_t)HUGE_SIZE - 1) & ~((uintptr_t)HUGE_SIZE - 1));
    void *base = mmap(a, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    if (base == MAP_FAILED) {
        munmap(r, span);
        return NULL;
    }
    if (a > r)
        munmap(r, (size_t)(a - r));
    uint8_t *end = a + size, *rend = r + span;
    if (rend > end)
        munmap(end, (size_t)(rend - end));
#ifdef MADV_HUGEPAGE
    madvise(base, (size_t)size, MADV_HUGEPAGE);
#endif
    return base;
}

void rmq_mapped_file_prefault(rmq_mapped_file_t *mf, int64_t from, int64_t to)
{
    int64_t step = mf->huge ? HUGE_SIZE : page_size();
    if (to > mf->size)
        to = mf->size;
    for (int64_t pos = from - from % step; pos < to; pos += step) {
        uint8_t expect = 0;
        __atomic_compare_exchange_n(mf->base + pos, &expect, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
}

rmq_err_t rmq_mapped_file_open_flags(const char *path, int64_t from, int64_t size, bool create, int flags,
                                     rmq_mapped_file_t **out)
{
    bool warm = (flags & RMQ_MF_WARM) != 0;
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
            rmq_log_errno(RMQ_LOG_ERROR, "store", rc, "posix_fallocate(%s, %lld) failed", path,
                          (long long)size);
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
    void *base = (flags & RMQ_MF_HUGE) && size % HUGE_SIZE == 0 ? map_huge(fd, size) : NULL;
    bool huge = base != NULL;
    if (!base)
        base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
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
    mf->huge = huge;
    atomic_init(&mf->wrote, create ? 0 : size);
    atomic_init(&mf->flushed, create ? 0 : size);
    atomic_init(&mf->refcnt, 1);
    atomic_init(&mf->available, true);
    atomic_init(&mf->store_ts, 0);
    *out = mf;
    return RMQ_OK;
}

void rmq_mapped_file_hold(rmq_mapped_file_t *mf)
{
    atomic_fetch_add(&mf->refcnt, 1);
}

void rmq_mapped_file_release(rmq_mapped_file_t *mf)
{
    int prev = atomic_fetch_sub(&mf->refcnt, 1);
    rmq_assert(prev > 0);
}

rmq_err_t rmq_mapped_file_flush(rmq_mapped_file_t *mf, int least_pages, _Atomic int *fail_inject,
                                _Atomic int64_t *synced_to)
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
    /* durability audit: counted here, at the msync, not from the bookkeeping */
    int64_t cur = synced_to ? atomic_load(synced_to) : 0;
    while (synced_to && (cur < 0 || mf->from + start <= cur) && cur < mf->from + wrote &&
           !atomic_compare_exchange_weak(synced_to, &cur, mf->from + wrote))
        ;
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

rmq_err_t rmq_mapped_file_sync_range(rmq_mapped_file_t *mf, int64_t from, int64_t to)
{
    long ps = page_size();
    if (to > mf->size)
        to = mf->size;
    int64_t start = from - from % ps;
    if (to <= start)
        return RMQ_OK;
    if (msync(mf->base + start, (size_t)(to - start), MS_SYNC) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "msync(%s) failed", mf->path);
        return RMQ_ERR__IO;
    }
    return RMQ_OK;
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
