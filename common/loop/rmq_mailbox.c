/* rmq_mailbox.c - the cross-thread mailbox of an event loop.
 * Owns: the queue, its wake-up event and the timers of delayed closures.
 * Threads: post from any thread; callbacks run on the loop thread; drain and
 * free on the owner's thread after the loop stopped. */
#include "rmq_mailbox.h"

#include <event2/thread.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "rmq_alloc.h"
#include "rmq_timer.h"

/* a delayed closure waiting for its timer (loop thread only) */
typedef struct timed_s {
    struct event *ev;
    rmq_job_fn *fn;
    void *arg;
    LIST_ENTRY(timed_s) link; /* in the mailbox's timers */
} timed_t;

struct rmq_mailbox_s {
    rmq_jobq_t q;
    struct event *ev;
    struct event_base *base;
    LIST_HEAD(, timed_s) timers;
};

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void)
{
    evthread_use_pthreads();
}

struct event_base *rmq_loop_base_new(void)
{
    pthread_once(&evthread_once, evthread_init);
    return event_base_new();
}

static void timed_unlink(timed_t *t)
{
    LIST_REMOVE(t, link);
    event_free(t->ev);
}

static void timed_cb(evutil_socket_t fd, short what, void *arg)
{
    timed_t *t = arg;
    timed_unlink(t);
    t->fn(t->arg);
    free(t);
}

static void run_batch(rmq_mailbox_t *mb, rmq_job_t *j)
{
    while (j) {
        rmq_job_t *next = STAILQ_NEXT(j, link);
        if (j->delay_ms > 0 && mb->base) {
            timed_t *t = rmq_calloc(1, sizeof(*t));
            t->fn = j->fn;
            t->arg = j->arg;
            t->ev = evtimer_new(mb->base, timed_cb, t);
            LIST_INSERT_HEAD(&mb->timers, t, link);
            rmq_timer_add(t->ev, j->delay_ms);
        } else {
            j->fn(j->arg);
        }
        free(j);
        j = next;
    }
}

static void mailbox_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_mailbox_t *mb = arg;
    run_batch(mb, rmq_jobq_take(&mb->q));
}

rmq_mailbox_t *rmq_mailbox_new(struct event_base *base)
{
    rmq_mailbox_t *mb = rmq_calloc(1, sizeof(*mb));
    rmq_jobq_init(&mb->q);
    LIST_INIT(&mb->timers);
    mb->base = base;
    mb->ev = event_new(base, -1, 0, mailbox_cb, mb);
    return mb;
}

static void post(rmq_mailbox_t *mb, int delay_ms, rmq_job_fn *fn, void *arg)
{
    if (rmq_jobq_push(&mb->q, fn, arg, delay_ms))
        event_active(mb->ev, 0, 0);
}

void rmq_mailbox_post(rmq_mailbox_t *mb, rmq_job_fn *fn, void *arg)
{
    post(mb, 0, fn, arg);
}

void rmq_mailbox_post_after(rmq_mailbox_t *mb, int delay_ms, rmq_job_fn *fn, void *arg)
{
    post(mb, delay_ms, fn, arg);
}

void rmq_mailbox_drain(rmq_mailbox_t *mb)
{
    struct event_base *base = mb->base;
    mb->base = NULL; /* delayed closures run now instead of arming timers */
    for (;;) {
        timed_t *t = LIST_FIRST(&mb->timers);
        if (t) {
            timed_unlink(t);
            t->fn(t->arg);
            free(t);
            continue;
        }
        rmq_job_t *j = rmq_jobq_take(&mb->q);
        if (!j)
            break;
        run_batch(mb, j);
    }
    mb->base = base;
}

void rmq_mailbox_free(rmq_mailbox_t *mb)
{
    if (!mb)
        return;
    rmq_mailbox_drain(mb);
    event_free(mb->ev);
    rmq_jobq_deinit(&mb->q);
    free(mb);
}
