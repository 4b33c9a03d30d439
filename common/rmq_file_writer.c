/* rmq_file_writer.c - the file writer thread and its queue of pending files.
 * Owns: the queue (w->mu) and the generation counters sync() waits on.
 * Threads: submit/sync from any thread; writes on the writer's own service
 * thread; start/stop on the owner's. */
#include "rmq_file_writer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_service.h"

typedef struct wjob_s {
    char *path;
    uint8_t *data;
    size_t len;
    uint64_t gen; /* submission number of the content it holds */
    struct wjob_s *next;
} wjob_t;

struct rmq_file_writer_s {
    rmq_service_t *svc;
    rmq_file_write_fn *write;
    pthread_mutex_t mu;
    pthread_cond_t written_cv;
    wjob_t *head;
    uint64_t gen_submitted, gen_written;
    uint64_t gen_failed; /* the newest content whose write failed */
    rmq_err_t last_err;
};

static void free_job(wjob_t *j)
{
    free(j->path);
    free(j->data);
    free(j);
}

static void writer_main(rmq_service_t *svc, void *arg)
{
    rmq_file_writer_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        wjob_t *j = w->head;
        if (j)
            w->head = j->next;
        pthread_mutex_unlock(&w->mu);
        if (!j) {
            if (rmq_service_stopped(svc))
                return;
            rmq_service_wait_for_running(svc, -1);
            continue;
        }
        rmq_err_t err = w->write(j->path, j->data, j->len);
        pthread_mutex_lock(&w->mu);
        w->last_err = err;
        if (err != RMQ_OK && j->gen > w->gen_failed)
            w->gen_failed = j->gen;
        /* only this job was in flight: everything older than the oldest
         * content still queued is on disk */
        uint64_t done = w->gen_submitted;
        for (wjob_t *q = w->head; q; q = q->next)
            if (q->gen - 1 < done)
                done = q->gen - 1;
        if (done > w->gen_written)
            w->gen_written = done;
        pthread_cond_broadcast(&w->written_cv);
        pthread_mutex_unlock(&w->mu);
        free_job(j);
    }
}

rmq_file_writer_t *rmq_file_writer_start(const char *name, rmq_file_write_fn *write)
{
    rmq_file_writer_t *w = rmq_calloc(1, sizeof(*w));
    w->write = write ? write : rmq_file_write_atomic;
    pthread_mutex_init(&w->mu, NULL);
    rmq_cond_init(&w->written_cv);
    w->svc = rmq_service_new(name, writer_main, w);
    if (rmq_service_start(w->svc) != RMQ_OK) {
        rmq_file_writer_stop(w);
        return NULL;
    }
    return w;
}

uint64_t rmq_file_writer_submit(rmq_file_writer_t *w, const char *path, uint8_t *data, size_t len)
{
    pthread_mutex_lock(&w->mu);
    uint64_t gen = ++w->gen_submitted;
    wjob_t **pp = &w->head;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->path, path) == 0)
            break;
    if (*pp) {
        free((*pp)->data);
    } else {
        *pp = rmq_calloc(1, sizeof(**pp));
        (*pp)->path = rmq_strdup(path);
    }
    (*pp)->data = data;
    (*pp)->len = len;
    (*pp)->gen = gen;
    pthread_mutex_unlock(&w->mu);
    rmq_service_wakeup(w->svc);
    return gen;
}

rmq_err_t rmq_file_writer_poll(rmq_file_writer_t *w, uint64_t gen)
{
    pthread_mutex_lock(&w->mu);
    rmq_err_t r = w->gen_written < gen ? RMQ_ERR__AGAIN : w->gen_failed >= gen ? RMQ_ERR__IO : RMQ_OK;
    pthread_mutex_unlock(&w->mu);
    return r;
}

rmq_err_t rmq_file_writer_sync(rmq_file_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t want = w->gen_submitted;
    while (w->gen_written < want)
        rmq_cond_wait_ms(&w->written_cv, &w->mu, -1);
    rmq_err_t r = w->last_err;
    pthread_mutex_unlock(&w->mu);
    return r;
}

void rmq_file_writer_stop(rmq_file_writer_t *w)
{
    if (!w)
        return;
    rmq_service_free(w->svc); /* the thread writes what is queued before it returns */
    for (wjob_t *j = w->head, *next; j; j = next) {
        next = j->next;
        w->write(j->path, j->data, j->len); /* the thread never started */
        free_job(j);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->written_cv);
    free(w);
}
