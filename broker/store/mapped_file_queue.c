/* mapped_file_queue.c - an ordered list of same-size segments in one
 * directory, named by their 20-digit start offset (MappedFileQueue.java).
 *
 * Owns: the list (guarded by q->lock; lookups pin the segment they return).
 * Appended to by the queue's writer (commit log: io thread; consume queue:
 * reput thread), flushed by the flush threads, trimmed by the clean thread.
 * Must never: unmap a removed segment itself - that is the reaper's job once
 * every pin is gone. */
#include "mapped_file_queue.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "store_int.h"

rmq_mfq_t *rmq_mfq_new(const char *dir, int64_t file_size, struct rmq_reaper_s *reaper)
{
    rmq_mfq_t *q = rmq_calloc(1, sizeof(*q));
    q->dir = rmq_strdup(dir);
    q->file_size = file_size;
    q->reaper = reaper;
    pthread_mutex_init(&q->lock, NULL);
    atomic_init(&q->fail_flushes, 0);
    atomic_init(&q->synced_to, -1);
    return q;
}

void rmq_mfq_destroy(rmq_mfq_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        rmq_mapped_file_destroy(q->files[i], false);
    free(q->files);
    free(q->dir);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

char *rmq_mfq_path(const rmq_mfq_t *q, int64_t from)
{
    return rmq_asprintf("%s/%020" PRId64, q->dir, from);
}

static void push(rmq_mfq_t *q, rmq_mapped_file_t *mf)
{
    q->files = rmq_array_grow(q->files, q->n, &q->cap, 16, sizeof(*q->files));
    q->files[q->n++] = mf;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

rmq_err_t rmq_store_list_numbered(const char *dir, size_t digits, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return RMQ_OK;
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "opendir(%s) failed", dir);
        return RMQ_ERR__IO;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != digits || strspn(de->d_name, "0123456789") != digits)
            continue;
        *names = rmq_array_grow(*names, *n, &cap, 16, sizeof(**names));
        (*names)[(*n)++] = rmq_strdup(de->d_name);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof(**names), cmp_str);
    return RMQ_OK;
}

rmq_err_t rmq_mfq_load(rmq_mfq_t *q)
{
    char **names;
    size_t n;
    rmq_err_t err = rmq_store_list_numbered(q->dir, 20, &names, &n);
    if (err)
        return err;
    int64_t *offs = rmq_malloc((n + 1) * sizeof(*offs));
    for (size_t i = 0; i < n; i++) {
        offs[i] = strtoll(names[i], NULL, 10);
        free(names[i]);
    }
    free(names);
    for (size_t i = 0; i < n; i++) {
        if (offs[i] % q->file_size != 0) {
            rmq_log(RMQ_LOG_ERROR, "store",
                    "%s/%020" PRId64 ": offset is not a multiple of the file size %" PRId64, q->dir, offs[i],
                    q->file_size);
            err = RMQ_ERR__CORRUPT;
            break;
        }
        if (q->n > 0 && q->files[q->n - 1]->from + q->file_size != offs[i]) {
            /* a hole: keep the contiguous prefix, drop the rest */
            rmq_log(RMQ_LOG_WARN, "store",
                    "%s: segment %020" PRId64 " does not follow the previous one; "
                    "deleting it and later segments",
                    q->dir, offs[i]);
            for (size_t j = i; j < n; j++) {
                char *p = rmq_mfq_path(q, offs[j]);
                if (unlink(p) != 0)
                    rmq_log_errno(RMQ_LOG_WARN, "store", errno, "unlink(%s) failed", p);
                free(p);
            }
            break;
        }
        char *path = rmq_mfq_path(q, offs[i]);
        rmq_mapped_file_t *mf;
        err = rmq_mapped_file_open(path, offs[i], q->file_size, false, false, &mf);
        free(path);
        if (err)
            break;
        push(q, mf);
    }
    free(offs);
    return err;
}

void rmq_mfq_append(rmq_mfq_t *q, rmq_mapped_file_t *mf)
{
    pthread_mutex_lock(&q->lock);
    if (q->n > 0)
        rmq_assert(q->files[q->n - 1]->from + q->file_size == mf->from);
    push(q, mf);
    pthread_mutex_unlock(&q->lock);
}

rmq_err_t rmq_mfq_create(rmq_mfq_t *q, int64_t from, rmq_mapped_file_t **out)
{
    char *path = rmq_mfq_path(q, from);
    rmq_mapped_file_t *mf;
    rmq_err_t err = rmq_mapped_file_open(path, from, q->file_size, true, false, &mf);
    free(path);
    if (err)
        return err;
    rmq_mfq_append(q, mf);
    *out = mf;
    return RMQ_OK;
}

rmq_mapped_file_t *rmq_mfq_last(rmq_mfq_t *q)
{
    pthread_mutex_lock(&q->lock);
    rmq_mapped_file_t *mf = q->n ? q->files[q->n - 1] : NULL;
    pthread_mutex_unlock(&q->lock);
    return mf;
}

/* files[i], held; NULL when there is no such file. Under q->lock. */
static rmq_mapped_file_t *hold_locked(rmq_mfq_t *q, size_t i)
{
    if (i >= q->n)
        return NULL;
    rmq_mapped_file_hold(q->files[i]);
    return q->files[i];
}

rmq_mapped_file_t *rmq_mfq_find_hold(rmq_mfq_t *q, int64_t offset)
{
    rmq_mapped_file_t *mf = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->n > 0 && offset >= q->files[0]->from)
        mf = hold_locked(q, (size_t)((offset - q->files[0]->from) / q->file_size));
    pthread_mutex_unlock(&q->lock);
    return mf;
}

rmq_mapped_file_t *rmq_mfq_first_hold(rmq_mfq_t *q)
{
    pthread_mutex_lock(&q->lock);
    rmq_mapped_file_t *mf = hold_locked(q, 0);
    pthread_mutex_unlock(&q->lock);
    return mf;
}

rmq_mapped_file_t *rmq_mfq_last_hold(rmq_mfq_t *q)
{
    pthread_mutex_lock(&q->lock);
    rmq_mapped_file_t *mf = q->n ? hold_locked(q, q->n - 1) : NULL;
    pthread_mutex_unlock(&q->lock);
    return mf;
}

rmq_mapped_file_t **rmq_mfq_snapshot(rmq_mfq_t *q, size_t *n)
{
    pthread_mutex_lock(&q->lock);
    rmq_mapped_file_t **arr = rmq_malloc((q->n + 1) * sizeof(*arr));
    for (size_t i = 0; i < q->n; i++) {
        arr[i] = q->files[i];
        rmq_mapped_file_hold(arr[i]);
    }
    *n = q->n;
    pthread_mutex_unlock(&q->lock);
    return arr;
}

/* The list's length and its offset bounds, read in one go under q->lock. */
typedef struct {
    size_t n;
    int64_t min_offset; /* first.from, -1 if empty */
    int64_t max_offset; /* last.from + last.wrote, 0 if empty */
} mfq_bounds_t;

static mfq_bounds_t bounds(rmq_mfq_t *q)
{
    mfq_bounds_t b = {.n = 0, .min_offset = -1, .max_offset = 0};
    pthread_mutex_lock(&q->lock);
    if (q->n) {
        rmq_mapped_file_t *last = q->files[q->n - 1];
        b.n = q->n;
        b.min_offset = q->files[0]->from;
        b.max_offset = last->from + atomic_load(&last->wrote);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

size_t rmq_mfq_count(rmq_mfq_t *q)
{
    return bounds(q).n;
}

int64_t rmq_mfq_min_offset(rmq_mfq_t *q)
{
    return bounds(q).min_offset;
}

int64_t rmq_mfq_max_offset(rmq_mfq_t *q)
{
    return bounds(q).max_offset;
}

int64_t rmq_mfq_flushed_offset(rmq_mfq_t *q)
{
    int64_t v = 0;
    pthread_mutex_lock(&q->lock);
    for (size_t i = q->n; i > 0; i--) {
        rmq_mapped_file_t *mf = q->files[i - 1];
        int64_t f = atomic_load(&mf->flushed);
        if (f > 0 || i == 1) {
            v = mf->from + f;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return v;
}

rmq_err_t rmq_mfq_flush(rmq_mfq_t *q, int least_pages)
{
    size_t n;
    rmq_mapped_file_t **arr = rmq_mfq_snapshot(q, &n);
    rmq_err_t err = RMQ_OK;
    for (size_t i = 0; i < n; i++) {
        rmq_mapped_file_t *mf = arr[i];
        if (err == RMQ_OK && atomic_load(&mf->flushed) < atomic_load(&mf->wrote))
            err = rmq_mapped_file_flush(mf, i + 1 == n ? least_pages : 0, &q->fail_flushes, &q->synced_to);
        rmq_mapped_file_release(mf);
    }
    free(arr);
    return err;
}

static void give_to_reaper(rmq_mfq_t *q, rmq_mapped_file_t *mf, bool unlink_now)
{
    atomic_store(&mf->available, false);
    if (unlink_now && !mf->unlinked && atomic_load(&mf->refcnt) > 1) {
        /* the name is free at once (truncation may create a segment with
         * it again); readers keep the mapping until they release it */
        if (unlink(mf->path) != 0)
            rmq_log_errno(RMQ_LOG_WARN, "store", errno, "unlink(%s) failed", mf->path);
        mf->unlinked = true;
    }
    /* Already out of the list, so nobody can pin it any more: with no
     * reader left it goes now (its name may be reused right away, e.g. by
     * re-dispatch after recovery); otherwise the reaper waits for them. */
    if (atomic_load(&mf->refcnt) == 1) {
        rmq_mapped_file_release(mf);
        rmq_mapped_file_destroy(mf, true);
        return;
    }
    if (q->reaper) {
        rmq_reaper_add(q->reaper, mf);
    } else {
        rmq_mapped_file_release(mf); /* drop the queue's own pin */
        rmq_assert(atomic_load(&mf->refcnt) == 0);
        rmq_mapped_file_destroy(mf, true);
    }
}

/* Cut files[i..] off the list: *n of them, returned for the caller to give
 * to the reaper once q->lock is released (NULL when there are none). Under
 * q->lock. */
static rmq_mapped_file_t **cut_locked(rmq_mfq_t *q, size_t i, size_t *n)
{
    *n = i < q->n ? q->n - i : 0;
    if (!*n)
        return NULL;
    rmq_mapped_file_t **rm = rmq_malloc(*n * sizeof(*rm));
    memcpy(rm, q->files + i, *n * sizeof(*rm));
    q->n = i;
    return rm;
}

void rmq_mfq_truncate(rmq_mfq_t *q, int64_t offset)
{
    pthread_mutex_lock(&q->lock);
    size_t keep = q->n;
    for (size_t i = 0; i < q->n; i++) {
        rmq_mapped_file_t *mf = q->files[i];
        int64_t end = mf->from + q->file_size;
        if (end <= offset)
            continue;
        if (mf->from <= offset) {
            int64_t pos = offset - mf->from;
            int64_t old = atomic_load(&mf->wrote);
            atomic_store(&mf->wrote, pos);
            atomic_store(&mf->flushed, pos);
            rmq_mapped_file_zero_tail(mf, pos);
            if (old > pos)
                rmq_mapped_file_sync_range(mf, pos, old); /* cut bytes must not come back after a crash */
        } else if (keep == q->n) {
            keep = i;
        }
    }
    size_t n;
    rmq_mapped_file_t **rm = cut_locked(q, keep, &n);
    pthread_mutex_unlock(&q->lock);
    for (size_t i = 0; i < n; i++) {
        rmq_log(RMQ_LOG_INFO, "store", "truncate: removing %s", rm[i]->path);
        give_to_reaper(q, rm[i], true);
    }
    free(rm);
}

void rmq_mfq_remove_from(rmq_mfq_t *q, size_t i)
{
    pthread_mutex_lock(&q->lock);
    size_t n;
    rmq_mapped_file_t **rm = cut_locked(q, i, &n);
    pthread_mutex_unlock(&q->lock);
    for (size_t k = 0; k < n; k++)
        give_to_reaper(q, rm[k], true);
    free(rm);
}

void *rmq_store_take_front(void *items, size_t *n, size_t cnt, size_t elem_size)
{
    char *taken = rmq_malloc((cnt + 1) * elem_size);
    if (cnt) {
        memcpy(taken, items, cnt * elem_size);
        memmove(items, (char *)items + cnt * elem_size, (*n - cnt) * elem_size);
    }
    *n -= cnt;
    return taken;
}

void rmq_mfq_remove_first(rmq_mfq_t *q, size_t cnt)
{
    pthread_mutex_lock(&q->lock);
    if (cnt > q->n)
        cnt = q->n;
    rmq_mapped_file_t **rm = rmq_store_take_front(q->files, &q->n, cnt, sizeof(*rm));
    pthread_mutex_unlock(&q->lock);
    for (size_t k = 0; k < cnt; k++) {
        rmq_log(RMQ_LOG_INFO, "store", "retention: removing %s", rm[k]->path);
        give_to_reaper(q, rm[k], false);
    }
    free(rm);
}
