/* rmq_worker.c - the job queue and the worker thread.
 * Threads: producers push from any thread; the consumer (a worker thread or
 * an event loop) takes batches; the owner stops the worker. */
#include "rmq_worker.h"

#include <stdlib.h>

#include "rmq_alloc.h"

void rmq_jobq_init(rmq_jobq_t *q)
{
    pthread_mutex_init(&q->mu, NULL);
    STAILQ_INIT(&q->jobs);
    q->pending = false;
}

void rmq_jobq_deinit(rmq_jobq_t *q)
{
    rmq_job_t *j;
    while ((j = STAILQ_FIRST(&q->jobs))) {
        STAILQ_REMOVE_HEAD(&q->jobs, link);
        free(j);
    }
    pthread_mutex_destroy(&q->mu);
}

bool rmq_jobq_push(rmq_jobq_t *q, rmq_job_fn *fn, void *arg, int delay_ms)
{
    rmq_job_t *j = rmq_malloc(sizeof(*j));
    j->fn = fn;
    j->arg = arg;
    j->delay_ms = delay_ms;
    pthread_mutex_lock(&q->mu);
    STAILQ_INSERT_TAIL(&q->jobs, j, link);
    bool wake = !q->pending;
    q->pending = true;
    pthread_mutex_unlock(&q->mu);
    return wake;
}

rmq_job_t *rmq_jobq_take(rmq_jobq_t *q)
{
    pthread_mutex_lock(&q->mu);
    rmq_job_t *j = STAILQ_FIRST(&q->jobs);
    STAILQ_INIT(&q->jobs);
    q->pending = false;
    pthread_mutex_unlock(&q->mu);
    return j;
}

void rmq_jobq_run(rmq_job_t *list)
{
    while (list) {
        rmq_job_t *next = STAILQ_NEXT(list, link);
        list->fn(list->arg);
        free(list);
        list = next;
    }
}

/* ---- worker ---- */

struct rmq_worker_s {
    rmq_jobq_t q;
    rmq_service_t *svc;
    pthread_mutex_t state_mu;
    bool stopped; /* posts run inline from now on */
};

static void worker_main(rmq_service_t *svc, void *arg)
{
    rmq_worker_t *w = arg;
    for (;;) {
        rmq_job_t *jobs = rmq_jobq_take(&w->q);
        if (jobs) {
            rmq_jobq_run(jobs);
            continue;
        }
        if (rmq_service_stopped(svc))
            return;
        rmq_service_wait_for_running(svc, -1);
    }
}

rmq_worker_t *rmq_worker_start(const char *name, struct rmq_logger_s *lg)
{
    rmq_worker_t *w = rmq_calloc(1, sizeof(*w));
    rmq_jobq_init(&w->q);
    pthread_mutex_init(&w->state_mu, NULL);
    w->svc = rmq_service_new(name, worker_main, w);
    rmq_service_set_logger(w->svc, lg);
    if (rmq_service_start(w->svc) != RMQ_OK) {
        rmq_worker_free(w);
        return NULL;
    }
    return w;
}

void rmq_worker_post(rmq_worker_t *w, rmq_job_fn *fn, void *arg)
{
    pthread_mutex_lock(&w->state_mu);
    if (w->stopped) {
        pthread_mutex_unlock(&w->state_mu);
        fn(arg);
        return;
    }
    bool wake = rmq_jobq_push(&w->q, fn, arg, 0);
    pthread_mutex_unlock(&w->state_mu);
    if (wake)
        rmq_service_wakeup(w->svc);
}

void rmq_worker_stop(rmq_worker_t *w)
{
    rmq_service_stop(w->svc); /* the thread runs what is queued before it returns */
    pthread_mutex_lock(&w->state_mu);
    w->stopped = true;
    rmq_job_t *late = rmq_jobq_take(&w->q); /* posted while the thread was exiting */
    pthread_mutex_unlock(&w->state_mu);
    rmq_jobq_run(late);
}

void rmq_worker_free(rmq_worker_t *w)
{
    if (!w)
        return;
    rmq_worker_stop(w);
    rmq_service_free(w->svc);
    rmq_jobq_deinit(&w->q);
    pthread_mutex_destroy(&w->state_mu);
    free(w);
}
