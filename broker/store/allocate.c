/* allocate.c - the allocate thread ("StoreAlloc"): creates, reserves
 * (posix_fallocate) and maps the next commit-log segment before the writer
 * needs it, and optionally pre-touches its pages (warmMapedFileEnable);
 * and keeps the pages just ahead of the writer faulted in (a page fault on
 * the append path costs more than the append), so the broker's I/O thread
 * never zeroes or maps a page.
 *
 * Owns: a small table of requests (at most a few), guarded by a->lock.
 * Runs: requests on its own thread (a service of the kit, rmq_service.h);
 * take/prefetch on the writer.
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
#include "rmq_service.h"
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
    pthread_cond_t cond; /* a result available (take waits for it) */
    req_t req[MAX_REQ];
    bool running, warm, huge;
    rmq_service_t *svc; /* "StoreAlloc", woken when there is work */
    /* the writer's window: mf faulted in up to upto (done so far: done) */
    rmq_mapped_file_t *wmf;
    int64_t wupto, wdone;
    bool (*quota_ok)(void *opaque, int64_t bytes);
    void *opaque;
};

static void alloc_main(rmq_service_t *svc, void *arg);

rmq_allocator_t *rmq_allocator_new(bool warm, bool huge, bool (*quota_ok)(void *, int64_t), void *opaque)
{
    rmq_allocator_t *a = rmq_calloc(1, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->cond, NULL);
    a->warm = warm;
    a->huge = huge;
    a->quota_ok = quota_ok;
    a->opaque = opaque;
    a->svc = rmq_service_new("StoreAlloc", alloc_main, a);
    return a;
}

static rmq_err_t create_one(rmq_allocator_t *a, const char *path, int64_t from, int64_t size,
                            rmq_mapped_file_t **out)
{
    if (a->quota_ok && !a->quota_ok(a->opaque, size)) {
        rmq_log(RMQ_LOG_WARN, "store", "not creating %s: disk space above the limit", path);
        return RMQ_ERR__DISK_FULL;
    }
    rmq_err_t err = rmq_mapped_file_open_flags(
        path, from, size, true, (a->warm ? RMQ_MF_WARM : 0) | (a->huge ? RMQ_MF_HUGE : 0), out);
    if (err == RMQ_OK && !a->warm) /* the first appends find their pages */
        rmq_mapped_file_prefault(*out, 0, rmq_allocator_warm_ahead(*out));
    return err;
}

int64_t rmq_allocator_warm_ahead(const rmq_mapped_file_t *mf)
{
    return mf->huge ? (int64_t)8 << 20 : (int64_t)1 << 20;
}

static void alloc_main(rmq_service_t *svc, void *arg)
{
    rmq_allocator_t *a = arg;
    pthread_mutex_lock(&a->lock);
    while (!rmq_service_stopped(svc)) {
        req_t *r = NULL;
        for (int i = 0; i < MAX_REQ; i++)
            if (a->req[i].state == REQ_PENDING && (!r || a->req[i].from < r->from))
                r = &a->req[i];
        if (!r && a->wmf && a->wdone < a->wupto) {
            rmq_mapped_file_t *mf = a->wmf;
            int64_t from = a->wdone, to = a->wupto;
            rmq_mapped_file_hold(mf);
            pthread_mutex_unlock(&a->lock);
            rmq_mapped_file_prefault(mf, from, to);
            pthread_mutex_lock(&a->lock);
            if (a->wmf == mf && a->wdone < to)
                a->wdone = to;
            rmq_mapped_file_release(mf);
            continue;
        }
        if (!r) { /* a wake-up while the lock is released is not lost: the wait returns at once */
            pthread_mutex_unlock(&a->lock);
            rmq_service_wait_for_running(svc, -1);
            pthread_mutex_lock(&a->lock);
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
}

rmq_err_t rmq_allocator_start(rmq_allocator_t *a)
{
    pthread_mutex_lock(&a->lock);
    rmq_err_t err = rmq_service_start(a->svc);
    a->running = err == RMQ_OK;
    pthread_mutex_unlock(&a->lock);
    return err;
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
    a->running = false; /* take creates segments itself from now on */
    pthread_cond_broadcast(&a->cond);
    pthread_mutex_unlock(&a->lock);
    rmq_service_free(a->svc); /* stops and joins the thread */
    if (a->wmf)
        rmq_mapped_file_release(a->wmf);
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
            rmq_service_wakeup(a->svc);
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
            if ((a->req[i].state == REQ_READY || a->req[i].state == REQ_FAILED) &&
                a->req[i].from < from - size)
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

void rmq_allocator_warm(rmq_allocator_t *a, rmq_mapped_file_t *mf, int64_t upto)
{
    pthread_mutex_lock(&a->lock);
    if (a->running) {
        if (a->wmf != mf) {
            if (a->wmf)
                rmq_mapped_file_release(a->wmf);
            rmq_mapped_file_hold(mf);
            a->wmf = mf;
            a->wdone = atomic_load(&mf->wrote);
            a->wupto = 0;
        }
        if (upto > a->wupto) {
            a->wupto = upto;
            rmq_service_wakeup(a->svc);
        }
    }
    pthread_mutex_unlock(&a->lock);
}
