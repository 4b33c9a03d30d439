/* rmq_mailbox.h - hand work from any thread to a libevent loop thread.
 *
 * A multi-producer queue of closures plus one event: posting wakes the loop
 * once per batch (event_active only for the first closure since the loop
 * last emptied the queue), and the loop runs the batch in posting order.
 * Every posted closure runs exactly once: on the loop, or in
 * rmq_mailbox_drain / rmq_mailbox_free on the owner's thread after the loop
 * has stopped (so pending requests can still be failed cleanly).
 *
 * The loop's event_base must come from rmq_loop_base_new() (or the process
 * must have called evthread_use_pthreads() before creating it). */
#ifndef RMQ_MAILBOX_H
#define RMQ_MAILBOX_H

#include <event2/event.h>

#include "rmq_worker.h"

typedef struct rmq_mailbox_s rmq_mailbox_t;

/* event_base_new() with libevent's pthread locking enabled first, so that
 * other threads may activate its events. NULL on failure. */
struct event_base *rmq_loop_base_new(void);

rmq_mailbox_t *rmq_mailbox_new(struct event_base *base);
/* Run fn(arg) on the loop thread. @thread any */
void rmq_mailbox_post(rmq_mailbox_t *mb, rmq_job_fn *fn, void *arg);
/* Run fn(arg) on the loop thread about delay_ms from now. @thread any */
void rmq_mailbox_post_after(rmq_mailbox_t *mb, int delay_ms, rmq_job_fn *fn, void *arg);
/* Run everything queued or waiting for its delay now, on the calling
 * thread. Only once the loop no longer runs (shutdown). */
void rmq_mailbox_drain(rmq_mailbox_t *mb);
/* Drain, then free (before the event_base). NULL ok. */
void rmq_mailbox_free(rmq_mailbox_t *mb);

#endif
