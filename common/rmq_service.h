/* rmq_service.h - a named background thread (RocketMQ's ServiceThread) and
 * monotonic timed waits.
 *
 * A service runs one function on its own thread. The function loops
 *
 *     while (!rmq_service_stopped(svc)) {
 *         rmq_service_wait_for_running(svc, interval_ms);
 *         do_work();
 *     }
 *     do_final_work();
 *
 * Other threads call rmq_service_wakeup() when there is work. Wake-ups are
 * coalesced ("wake once per batch"): while the service is busy or already
 * notified a wake-up is one atomic load, so a producer can call it for every
 * message; the sleeping thread is signalled only for the first one. A
 * wake-up that arrives while the service works makes its next wait return
 * at once, so no wake-up is lost.
 *
 * start/stop/free belong to the owner (one thread); wakeup is for any
 * thread; wait_for_running and stopped are for the service's own thread
 * (stopped also for any thread). */
#ifndef RMQ_SERVICE_H
#define RMQ_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rmq_err.h"

typedef struct rmq_service_s rmq_service_t;
struct rmq_logger_s;

/* The thread's body. Must return soon after rmq_service_stopped() turns true. */
typedef void rmq_service_fn(rmq_service_t *svc, void *arg);

/* name: thread name in logs and in the OS (at most 15 characters are kept). */
rmq_service_t *rmq_service_new(const char *name, rmq_service_fn *run, void *arg);
/* The logger rmq_log() uses on the service's thread (default: the process's).
 * Before start. */
void rmq_service_set_logger(rmq_service_t *svc, struct rmq_logger_s *lg);
/* Throttle for very frequent wake-ups: a sleeping service is signalled at
 * most once per interval; the other wake-ups are picked up when its wait
 * times out, so use it only with short waits (a dispatcher polling every
 * millisecond). 0 (default) signals at once. Before start. */
void rmq_service_set_wake_interval_us(rmq_service_t *svc, int64_t us);
rmq_err_t rmq_service_start(rmq_service_t *svc);
bool rmq_service_started(const rmq_service_t *svc);
const char *rmq_service_name(const rmq_service_t *svc);

/* There is work: make the service's current or next wait return. @thread any */
void rmq_service_wakeup(rmq_service_t *svc);
/* Sleep until a wake-up, stop, or ms elapsed (ms < 0: no time limit).
 * Returns at once if woken since the last call. True when woken.
 * @thread the service */
bool rmq_service_wait_for_running(rmq_service_t *svc, int64_t ms);
/* The same in microseconds (us < 0: no time limit). @thread the service */
bool rmq_service_wait_for_running_us(rmq_service_t *svc, int64_t us);
/* True once stop was requested. @thread any */
bool rmq_service_stopped(const rmq_service_t *svc);
/* Request stop, wake the thread and join it. Safe to call twice or on a
 * service that never started. */
void rmq_service_stop(rmq_service_t *svc);
/* Stop (if needed) and free. NULL ok. */
void rmq_service_free(rmq_service_t *svc);

/* Condition variables on CLOCK_MONOTONIC (wall-clock jumps do not shorten or
 * stretch timeouts). rmq_cond_wait_ms needs a cond made by rmq_cond_init;
 * returns false on timeout; ms < 0 waits without limit. */
void rmq_cond_init(pthread_cond_t *c);
bool rmq_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms);
bool rmq_cond_wait_us(pthread_cond_t *c, pthread_mutex_t *m, int64_t us);

#endif
