/* rmq_worker.h - closures handed from any thread to one consumer thread: the
 * job queue shared by the event-loop mailbox (loop/rmq_mailbox.h) and the
 * worker thread (a service thread that runs posted closures in order).
 *
 * Every posted closure runs exactly once: on the consumer, or - once the
 * consumer is gone - on the thread that drains or stops it. */
#ifndef RMQ_WORKER_H
#define RMQ_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/queue.h>

#include "rmq_service.h"

typedef void rmq_job_fn(void *arg);

typedef struct rmq_job_s {
    rmq_job_fn *fn;
    void *arg;
    int delay_ms; /* mailbox only: run after this delay */
    STAILQ_ENTRY(rmq_job_s) link;
} rmq_job_t;

/* A multi-producer FIFO of closures. `pending` makes wake-ups one per batch:
 * push reports whether the consumer must be woken (the first job since the
 * consumer last took the queue). */
typedef struct rmq_jobq_s {
    pthread_mutex_t mu;
    STAILQ_HEAD(, rmq_job_s) jobs;
    bool pending;
} rmq_jobq_t;

void rmq_jobq_init(rmq_jobq_t *q);
/* Frees jobs still queued without running them (drain first). */
void rmq_jobq_deinit(rmq_jobq_t *q);
/* Append; true when the consumer needs a wake-up. @thread any */
bool rmq_jobq_push(rmq_jobq_t *q, rmq_job_fn *fn, void *arg, int delay_ms);
/* Detach everything queued: the oldest job, the next ones linked by
 * STAILQ_NEXT(j, link). @thread consumer */
rmq_job_t *rmq_jobq_take(rmq_jobq_t *q);
/* Run and free a detached list in order. */
void rmq_jobq_run(rmq_job_t *list);

typedef struct rmq_worker_s rmq_worker_t;

/* A thread named `name` that runs posted closures one at a time, in order. */
rmq_worker_t *rmq_worker_start(const char *name, struct rmq_logger_s *lg);
/* Queue fn(arg). After rmq_worker_stop, fn runs on the calling thread.
 * @thread any */
void rmq_worker_post(rmq_worker_t *w, rmq_job_fn *fn, void *arg);
/* Run what is queued, stop and join the thread; later posts run inline.
 * Must not be called from the worker itself. */
void rmq_worker_stop(rmq_worker_t *w);
/* Stop (if needed) and free. NULL ok. */
void rmq_worker_free(rmq_worker_t *w);

#endif
