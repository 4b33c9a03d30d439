/* allocate.c - the allocate thread ("StoreAlloc"): creates, reserves
 * (posix_fallocate) and maps the next commit-log segment before the writer
 * needs it, and optionally pre-touches its pages (warmMapedFileEnable).
 *
 * Owns: a small table of requests (at most a few), guarded by a->lock.
 * Runs: requests on its own thread; take/prefetch on the writer.
 * Must never: hand out a segment that is not fully reserved on disk, or
 * make the writer wait unless it is a whole segment ahead of this thread. */
#include "allocate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define MAX_REQ 4

typedef enum { REQ_FREE = 0, REQ_PENDING, REQ_RUNNING, REQ_READY, REQ_FAILED } req_state_t;

typedef struct {
    req_state_t state;
    char *path;
    int64_t from, size;
    rmq_mapped_file_t *mf;
    rmq_err_t err;
} req_t;

struct rmq_allocator_s {
    pthread_mutex_t lock;
    pthread_cond_t cond;   /* work or result available */
    req_t req[MAX_REQ];
    bool running, stop, warm;
    pthread_t thr;
    bool (*quota_ok)(void *opaque, int64_t bytes);
    void *opaque;
};

rmq_allocator_t *rmq_allocator_new(bool warm, bool (*quota_ok)(void *, int64_t), void *opaque)
{
    rmq_allocator_t *a = rmq_calloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->warm = warm;
    a->quota_ok = quota_ok;
    a->opaque = opaque;
    return a;
}

static rmq_err_t create_one(rmq_allocator_t *a, const char *path, int64_t from, int64_t size, rmq_mapped_file_t **out)
{
    if (a->quota_ok && !a->quota_ok(a->opaque, size)) {
        rmq_log(RMQ_LOG_WARN, "store", "not creating %s: disk space above the limit", path);
        return RMQ_ERR__DISK_FULL;
    }
    return rmq_mapped_file_open(path, from, size, true, a->warm, out);
}

static void *alloc_main(void *arg)
{
    rmq_allocator_t *a = arg;
    rmq_log_set_thread_name("StoreAlloc");
    pthread_mutex_lock(&a->lock);
    while (!a->stop) {
        req_t *r = NULL;
        for (int i = 0; i < MAX_REQ; i++)
            if (a->req[i].state == REQ_PENDING && (!r || a->req[i].from < r->from))
                r = &a->req[i];
        if (!r) {
            pthread_cond_wait(&a->cond, &a->lock);
            continue;
        }
        r->state = REQ_RUNNING;
        char *path = rmq_strdup(r->path);
        int64_t from = r->from, size = r->size;
        pthread_mutex_unlock(&a->lock);
        rmq_mapped_file_t *mf = NULL;
        rmq_err_t err = create_one(a, path, from, size, &mf);
        free(path);
        pthread_mutex_lock(&a->lock);
        r->mf = mf;
        r->err = err;
        r->state = err ? REQ_FAILED : REQ_READY;
        pthread_cond_broadcast(&a->cond);
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

rmq_err_t rmq_allocator_start(rmq_allocator_t *a)
{
    pthread_mutex_lock(&a->lock);
    a->stop = false;
    int rc = pthread_create(&a->thr, NULL, alloc_main, a);
    a->running = rc == 0;
    pthread_mutex_unlock(&a->lock);
    if (rc) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", rc, "pthread_create(StoreAlloc) failed");
        return RMQ_ERR__IO;
    }
    return RMQ_OK;
}

static void req_clear(req_t *r, bool unlink_file)
{
    if (r->mf) {
        rmq_mapped_file_release(r->mf);
        rmq_mapped_file_destroy(r->mf, unlink_file);
    }
    free(r->path);
    memset(r, 0, sizeof(*r));
}

void rmq_allocator_destroy(rmq_allocator_t *a)
{
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    bool running = a->running;
    a->stop = true;
    a->running = false;
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    if (running)
        pthread_join(a->thr, NULL);
    for (int i = 0; i < MAX_REQ; i++)
        req_clear(&a->req[i], true);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->cond);
    free(a);
}

static req_t *find(rmq_allocator_t *a, int64_t from)
{
    for (int i = 0; i < MAX_REQ; i++)
        if (a->req[i].state != REQ_FREE && a->req[i].from == from)
            return &a->req[i];
    return NULL;
}

static req_t *add_locked(rmq_allocator_t *a, const char *path, int64_t from, int64_t size)
{
    req_t *r = find(a, from);
    if (r)
        return r;
    for (int i = 0; i < MAX_REQ; i++) {
        if (a->req[i].state == REQ_FREE) {
            r = &a->req[i];
            r->state = REQ_PENDING;
            r->path = rmq_strdup(path);
            r->from = from;
            r->size = size;
            pthread_cond_broadcast(&a->cond);
            return r;
        }
    }
    return NULL;
}

void rmq_allocator_prefetch(rmq_allocator_t *a, const char *path, int64_t from, int64_t size)
{
    pthread_mutex_lock(&a->lock);
    if (a->running) {
        /* drop stale prepared segments that are behind the new one */
        for (int i = 0; i < MAX_REQ; i++)
            if ((a->req[i].state == REQ_READY || a->req[i].state == REQ_FAILED) && a->req[i].from < from - size)
                req_clear(&a->req[i], true);
        add_locked(a, path, from, size);
    }
    pthread_mutex_unlock(&a->lock);
}

rmq_err_t rmq_allocator_take(rmq_allocator_t *a, const char *path, int64_t from, int64_t size, int timeout_ms,
                             rmq_mapped_file_t **out)
{
    *out = NULL;
    pthread_mutex_lock(&a->lock);
    if (!a->running) {
        pthread_mutex_unlock(&a->lock);
        return create_one(a, path, from, size, out);
    }
    req_t *r = find(a, from);
    if (r && r->state == REQ_FAILED)
        req_clear(r, false); /* a stale failure (e.g. the disk was full then): try again now */
    r = add_locked(a, path, from, size);
    if (!r) {
        pthread_mutex_unlock(&a->lock);
        return create_one(a, path, from, size, out);
    }
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    while (r->state == REQ_PENDING || r->state == REQ_RUNNING) {
        int64_t left = deadline - rmq_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (left > 50 ? 50 : left) * 1000000;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&a->cond, &a->lock, &ts);
    }
    rmq_err_t err;
    if (r->state == REQ_READY) {
        *out = r->mf;
        r->mf = NULL;
        req_clear(r, false);
        err = RMQ_OK;
    } else if (r->state == REQ_FAILED) {
        err = r->err;
        req_clear(r, false);
    } else {
        rmq_log(RMQ_LOG_WARN, "store", "segment %s not ready after %d ms", path, timeout_ms);
        err = RMQ_ERR__TIMED_OUT;
    }
    pthread_mutex_unlock(&a->lock);
    return err;
}
