/* rmq_service.c - service threads: lifecycle and coalesced wake-ups.
 * Owns: one pthread per service, its stop/notified flags and its sleep.
 * Threads: the owner starts and stops; any thread wakes; the service's own
 * thread waits. */
#include "rmq_service.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"

struct rmq_service_s {
    char name[16];
    rmq_service_fn *run;
    void *arg;
    rmq_logger_t *logger;
    pthread_t thr;
    bool started; /* owner's view: a thread exists and was not joined */
    _Atomic bool stop;
    _Atomic bool notified; /* a wake-up not yet consumed by a wait */
    _Atomic bool sleeping; /* the thread is (about to be) blocked in its wait */
    int64_t wake_interval_us;
    _Atomic int64_t last_signal_us;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

void rmq_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

bool rmq_cond_wait_us(pthread_cond_t *c, pthread_mutex_t *m, int64_t us)
{
    if (us < 0)
        return pthread_cond_wait(c, m) == 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + us % 1000000 * 1000;
    ts.tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return pthread_cond_timedwait(c, m, &ts) != ETIMEDOUT;
}

bool rmq_cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, int64_t ms)
{
    return rmq_cond_wait_us(c, m, ms < 0 ? -1 : ms * 1000);
}

rmq_service_t *rmq_service_new(const char *name, rmq_service_fn *run, void *arg)
{
    rmq_service_t *svc = rmq_calloc(1, sizeof(*svc));
    snprintf(svc->name, sizeof(svc->name), "%s", name);
    svc->run = run;
    svc->arg = arg;
    pthread_mutex_init(&svc->mu, NULL);
    rmq_cond_init(&svc->cv);
    return svc;
}

void rmq_service_set_logger(rmq_service_t *svc, rmq_logger_t *lg)
{
    svc->logger = lg;
}

void rmq_service_set_wake_interval_us(rmq_service_t *svc, int64_t us)
{
    svc->wake_interval_us = us;
}

const char *rmq_service_name(const rmq_service_t *svc)
{
    return svc->name;
}

bool rmq_service_started(const rmq_service_t *svc)
{
    return svc->started;
}

static void *service_main(void *arg)
{
    rmq_service_t *svc = arg;
    rmq_log_use(svc->logger);
    rmq_log_set_thread_name(svc->name);
    svc->run(svc, svc->arg);
    return NULL;
}

rmq_err_t rmq_service_start(rmq_service_t *svc)
{
    if (svc->started)
        return RMQ_ERR__STATE;
    atomic_store(&svc->stop, false);
    int rc = pthread_create(&svc->thr, NULL, service_main, svc);
    if (rc) {
        rmq_log_errno(RMQ_LOG_ERROR, "service", rc, "pthread_create(%s) failed", svc->name);
        return RMQ_ERR__IO;
    }
    svc->started = true;
    return RMQ_OK;
}

void rmq_service_wakeup(rmq_service_t *svc)
{
    /* already notified: the thread has not consumed the previous wake-up */
    if (atomic_load_explicit(&svc->notified, memory_order_relaxed) || atomic_exchange(&svc->notified, true))
        return;
    /* seq_cst: either this load sees `sleeping`, or the waiter's re-check
     * after setting it sees `notified` */
    if (!atomic_load(&svc->sleeping))
        return;
    if (svc->wake_interval_us > 0) {
        int64_t now = rmq_mono_us();
        if (now - atomic_load_explicit(&svc->last_signal_us, memory_order_relaxed) < svc->wake_interval_us)
            return;
        atomic_store_explicit(&svc->last_signal_us, now, memory_order_relaxed);
    }
    pthread_mutex_lock(&svc->mu);
    pthread_cond_signal(&svc->cv);
    pthread_mutex_unlock(&svc->mu);
}

bool rmq_service_wait_for_running(rmq_service_t *svc, int64_t ms)
{
    return rmq_service_wait_for_running_us(svc, ms < 0 ? -1 : ms * 1000);
}

bool rmq_service_wait_for_running_us(rmq_service_t *svc, int64_t us)
{
    if (atomic_exchange(&svc->notified, false))
        return true;
    int64_t deadline = us < 0 ? INT64_MAX : rmq_mono_us() + us;
    pthread_mutex_lock(&svc->mu);
    atomic_store(&svc->sleeping, true);
    while (!atomic_load(&svc->notified) && !atomic_load(&svc->stop)) {
        int64_t left = -1;
        if (deadline != INT64_MAX && (left = deadline - rmq_mono_us()) <= 0)
            break;
        if (!rmq_cond_wait_us(&svc->cv, &svc->mu, left))
            break;
    }
    atomic_store(&svc->sleeping, false);
    pthread_mutex_unlock(&svc->mu);
    return atomic_exchange(&svc->notified, false);
}

bool rmq_service_stopped(const rmq_service_t *svc)
{
    return atomic_load(&svc->stop);
}

void rmq_service_stop(rmq_service_t *svc)
{
    pthread_mutex_lock(&svc->mu);
    atomic_store(&svc->stop, true);
    pthread_cond_broadcast(&svc->cv);
    pthread_mutex_unlock(&svc->mu);
    if (svc->started) {
        pthread_join(svc->thr, NULL);
        svc->started = false;
    }
}

void rmq_service_free(rmq_service_t *svc)
{
    if (!svc)
        return;
    rmq_service_stop(svc);
    pthread_mutex_destroy(&svc->mu);
    pthread_cond_destroy(&svc->cv);
    free(svc);
}
