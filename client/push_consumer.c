/* push_consumer.c - DefaultMQPushConsumer (concurrent and orderly consumption): the
 * consume thread pool, flow control per queue, send-back of failed messages
 * and the at-least-once offset rule (commit only below the oldest message
 * still being consumed, via process_queue.c).
 *
 * Threads: deliver() runs on the I/O thread and only queues tasks; the
 * consume callback runs on the pool threads (consumeThreadMin). The task
 * list is guarded by plock. consumeOrderly=true runs one task per queue at a
 * time, in offset order, while the queue's broker lock is held (run_orderly).
 *
 * Concurrent hand-off: a pulled batch is one task; pool threads claim it
 * consumeMessageBatchMaxSize messages at a time, so a thread that is awake
 * drains batch after batch without sleeping. A sleeping thread is woken
 * only when nobody is consuming, or when queued work has waited HELP_AFTER
 * (the threads awake do not keep up: slow callbacks), checked on every
 * hand-off, every claim and by a timer on the I/O thread while work waits.
 * Consumed messages leave the process queue per slice; the offset store
 * takes the commit offsets from the process queues in batches
 * (cm_consumer_sync_offsets), not per message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "comet_int.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define FAC "push"
#define HELP_AFTER_US 1000 /* queued work older than this wakes another thread */

typedef struct ctask_s {
    cm_mqstate_t *mq;
    cm_pq_t *pq;
    bool orderly;   /* consume the queue in order (msgs unused) */
    size_t n;       /* messages */
    size_t claimed; /* handed to threads so far (under plock) */
    size_t busy;    /* slices being consumed (under plock) */
    int64_t queued_us;
    STAILQ_ENTRY(ctask_s) link;
    comet_message_ext_t *msgs[]; /* n */
} ctask_t;

struct comet_push_consumer_s {
    comet_conf_t *conf;
    cm_instance_t *inst;
    cm_consumer_t cons;
    comet_consume_cb_t *cb;
    void *opaque;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t plock;
    pthread_cond_t pcond;
    STAILQ_HEAD(, ctask_s) tasks;
    int idle;         /* threads waiting on pcond */
    int waking;       /* of them, signalled and not yet running */
    bool watch_armed; /* the I/O-thread timer checking for waiting work */
    bool pstop;
    bool started, shut;
};

static ctask_t *task_new(cm_mqstate_t *mq, cm_pq_t *pq, size_t n)
{
    ctask_t *t = rmq_calloc(1, sizeof(*t) + n * sizeof(t->msgs[0]));
    t->mq = mq;
    t->pq = pq;
    t->n = n;
    cm_pq_hold(pq);
    return t;
}

static void task_free(ctask_t *t)
{
    cm_pq_release(t->pq);
    free(t);
}

static void watch_task(void *arg);

/* Under plock: wake one sleeping thread if nobody consumes or queued work
 * has waited too long. */
static void maybe_wake(comet_push_consumer_t *pc, int64_t now_us)
{
    const ctask_t *first = STAILQ_FIRST(&pc->tasks);
    if (!first || pc->idle <= pc->waking || pc->waking > 0) /* none left, or one is on its way */
        return;
    if (pc->idle == pc->nthreads || now_us - first->queued_us >= HELP_AFTER_US) {
        pc->waking++;
        pthread_cond_signal(&pc->pcond);
    } else if (!pc->watch_armed) { /* check again once the work has waited HELP_AFTER */
        pc->watch_armed = true;
        cm_post(pc->inst, (HELP_AFTER_US + 999) / 1000, watch_task, pc);
    }
}

/* @thread io: the timer behind maybe_wake (its own wake-up when every awake
 * thread is stuck in a long callback and no hand-off or claim comes). */
static void watch_task(void *arg)
{
    comet_push_consumer_t *pc = arg;
    pthread_mutex_lock(&pc->plock);
    pc->watch_armed = false;
    if (!pc->pstop)
        maybe_wake(pc, rmq_mono_us());
    pthread_mutex_unlock(&pc->plock);
}

/* Queue a task. */
static void submit(comet_push_consumer_t *pc, ctask_t *t)
{
    t->queued_us = rmq_mono_us();
    pthread_mutex_lock(&pc->plock);
    if (pc->pstop) {
        pthread_mutex_unlock(&pc->plock);
        task_free(t);
        return;
    }
    STAILQ_INSERT_TAIL(&pc->tasks, t, link);
    maybe_wake(pc, t->queued_us);
    pthread_mutex_unlock(&pc->plock);
}

static void resubmit_later(void *arg)
{
    ctask_t *t = arg;
    comet_push_consumer_t *pc = t->mq->cons->owner;
    submit(pc, t);
}

/* Orderly: one task per queue consumes its cached messages in offset order,
 * batch after batch, while the queue is locked (clustering). A failed batch
 * is consumed again after 1 s (SUSPEND_CURRENT_QUEUE_A_MOMENT); after
 * maxReconsumeTimes (-1: unlimited) it is sent back and skipped. */
static void run_orderly(comet_push_consumer_t *pc, ctask_t *t)
{
    cm_consumer_t *c = &pc->cons;
    cm_mqstate_t *mq = t->mq;
    size_t batch = (size_t)c->s->consumeMessageBatchMaxSize;
    comet_message_ext_t **msgs = rmq_calloc(batch, sizeof(*msgs));
    int64_t started = rmq_mono_ms();
    for (;;) {
        if (t->pq->dropped || !c->running)
            break;
        if (!cm_consumer_lock_valid(c, mq, rmq_mono_ms())) {
            free(msgs);
            cm_post(pc->inst, 100, resubmit_later, t); /* wait for the lock */
            return;
        }
        size_t n = cm_pq_peek_first(t->pq, msgs, batch);
        if (n == 0) {
            /* nothing cached: give the queue up, unless a delivery raced us */
            pthread_mutex_lock(&c->lock);
            n = cm_pq_peek_first(t->pq, msgs, batch);
            if (n == 0 && mq->pq == t->pq)
                mq->orderly_busy = false;
            pthread_mutex_unlock(&c->lock);
            if (n == 0) {
                free(msgs);
                task_free(t);
                return;
            }
        }
        comet_consume_status_t st = pc->cb(pc, (const comet_message_ext_t *const *)msgs, n, pc->opaque);
        bool give_up = false;
        if (st != COMET_CONSUME_SUCCESS) {
            for (size_t i = 0; i < n; i++)
                msgs[i]->reconsume_times++;
            give_up = c->s->maxReconsumeTimes >= 0 && msgs[0]->reconsume_times > c->s->maxReconsumeTimes;
            if (give_up && !c->broadcasting) {
                for (size_t i = 0; i < n && give_up; i++)
                    give_up = cm_consumer_send_back(c, msgs[i], -1) == RMQ_OK; /* straight to the DLQ */
            }
            if (!give_up) {
                free(msgs);
                cm_post(pc->inst, 1000, resubmit_later, t); /* suspend the queue a moment */
                return;
            }
        }
        int64_t offs[1024];
        for (size_t i = 0; i < n; i++)
            offs[i] = msgs[i]->queue_offset;
        cm_consumer_consumed(c, t->pq, mq->topic, mq->broker, mq->qid, offs, n);
        for (size_t i = 0; i < n; i++)
            comet_message_ext_destroy(msgs[i]);
        if (rmq_mono_ms() - started > 60000) { /* let other queues have the thread */
            free(msgs);
            submit(pc, t);
            return;
        }
    }
    pthread_mutex_lock(&c->lock);
    if (mq->pq == t->pq)
        mq->orderly_busy = false;
    pthread_mutex_unlock(&c->lock);
    free(msgs);
    task_free(t);
}

/* Concurrent: consume t->msgs[from..to). Consumed messages leave the
 * process queue and are freed; those whose send-back failed are consumed
 * again locally in 5 s (still cached, offset held). */
static void run_slice(comet_push_consumer_t *pc, ctask_t *t, size_t from, size_t to)
{
    cm_consumer_t *c = &pc->cons;
    if (t->pq->dropped || !c->running)
        return; /* the messages stay in the pq and are redelivered to the new owner */
    size_t n = to - from, nok = 0;
    comet_message_ext_t **msgs = t->msgs + from;
    comet_consume_status_t st = pc->cb(pc, (const comet_message_ext_t *const *)msgs, n, pc->opaque);
    int64_t stack[64];
    int64_t *offs = n <= 64 ? stack : rmq_malloc(n * sizeof(int64_t));
    ctask_t *retry = NULL;
    for (size_t i = 0; i < n; i++) {
        bool ok = st == COMET_CONSUME_SUCCESS;
        if (!ok && c->broadcasting) {
            cm_log(pc->inst, RMQ_LOG_WARN, FAC, "broadcasting: message %s not consumed, dropped",
                   msgs[i]->msg_id);
            ok = true;
        } else if (!ok) {
            ok = cm_consumer_send_back(c, msgs[i], 0) == RMQ_OK;
        }
        if (ok) {
            offs[nok++] = msgs[i]->queue_offset;
        } else {
            if (!retry) {
                retry = task_new(t->mq, t->pq, n);
                retry->n = 0;
            }
            msgs[i]->reconsume_times++;
            retry->msgs[retry->n++] = msgs[i];
        }
    }
    if (nok)
        cm_consumer_consumed(c, t->pq, t->mq->topic, t->mq->broker, t->mq->qid, offs, nok);
    /* consumed messages were handed back to us by the pq */
    for (size_t i = 0, j = 0; i < n; i++) {
        if (retry && j < retry->n && retry->msgs[j] == msgs[i])
            j++;
        else
            comet_message_ext_destroy(msgs[i]);
    }
    if (offs != stack)
        free(offs);
    if (retry)
        cm_post(pc->inst, 5000, resubmit_later, retry);
}

static void *pool_main(void *arg)
{
    comet_push_consumer_t *pc = arg;
    rmq_log_set_thread_name("comet-consume");
    rmq_log_use(cm_instance_logger(pc->inst));
    size_t batch = (size_t)pc->cons.s->consumeMessageBatchMaxSize;
    pthread_mutex_lock(&pc->plock);
    for (;;) {
        if (pc->pstop)
            break;
        if (STAILQ_EMPTY(&pc->tasks)) {
            pc->idle++;
            pthread_cond_wait(&pc->pcond, &pc->plock);
            pc->idle--;
            if (pc->waking > 0)
                pc->waking--;
            continue;
        }
        ctask_t *t = STAILQ_FIRST(&pc->tasks);
        size_t from = t->claimed, to = t->orderly ? t->n : (from + batch < t->n ? from + batch : t->n);
        t->claimed = to;
        t->busy++;
        if (to == t->n)
            STAILQ_REMOVE_HEAD(&pc->tasks, link);
        maybe_wake(pc, rmq_mono_us());
        pthread_mutex_unlock(&pc->plock);
        if (t->orderly) {
            run_orderly(pc, t);
            pthread_mutex_lock(&pc->plock);
            continue;
        }
        run_slice(pc, t, from, to);
        pthread_mutex_lock(&pc->plock);
        bool done = --t->busy == 0 && t->claimed == t->n;
        if (done) {
            pthread_mutex_unlock(&pc->plock);
            task_free(t);
            pthread_mutex_lock(&pc->plock);
        }
    }
    pthread_mutex_unlock(&pc->plock);
    return NULL;
}

/* @thread io: one task per pulled batch (the messages are in the pq). */
static void deliver(cm_consumer_t *c, cm_mqstate_t *mq, cm_pq_t *pq, comet_message_ext_t **msgs, size_t n,
                    uint64_t gen)
{
    (void)gen; /* the pq is dropped on a reassignment; its tasks see that */
    comet_push_consumer_t *pc = c->owner;
    if (!pq) {
        for (size_t i = 0; i < n; i++)
            comet_message_ext_destroy(msgs[i]);
        return;
    }
    cm_pq_add(pq, msgs, n); /* duplicates come back as NULL */
    if (c->orderly) {
        pthread_mutex_lock(&c->lock);
        bool start = !mq->orderly_busy && mq->pq == pq;
        if (start)
            mq->orderly_busy = true;
        pthread_mutex_unlock(&c->lock);
        if (start) {
            ctask_t *t = task_new(mq, pq, 0);
            t->orderly = true;
            submit(pc, t);
        }
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += msgs[i] != NULL;
    if (!k)
        return;
    ctask_t *t = task_new(mq, pq, k);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (msgs[i])
            t->msgs[k++] = msgs[i];
    submit(pc, t);
}

/* @thread io */
static int flow_delay(cm_consumer_t *c, cm_mqstate_t *mq)
{
    pthread_mutex_lock(&c->lock); /* a rebalance may drop and free the pq meanwhile */
    cm_pq_t *pq = mq->pq;
    if (pq)
        cm_pq_hold(pq);
    pthread_mutex_unlock(&c->lock);
    if (!pq)
        return 0;
    size_t cnt, bytes;
    int64_t span;
    cm_pq_stats(pq, &cnt, &bytes, &span);
    cm_pq_release(pq);
    if (cnt > (size_t)c->s->pullThresholdForQueue ||
        bytes > (size_t)c->s->pullThresholdSizeForQueue * 1048576u || span > c->s->consumeConcurrentlyMaxSpan)
        return 50;
    return 0;
}

static const cm_consumer_ops_t push_ops = {deliver, flow_delay};

comet_push_consumer_t *comet_push_consumer_new(comet_conf_t *conf, comet_consume_cb_t *cb, void *opaque,
                                               char *errstr, size_t errstr_size)
{
    if (!conf || !cb) {
        cm_errstr(errstr, errstr_size, "conf and consume callback are required");
        return NULL;
    }
    cm_instance_t *inst = cm_instance_for_group(conf, false, errstr, errstr_size);
    if (!inst)
        return NULL;
    comet_push_consumer_t *pc = rmq_malloc(sizeof(*pc));
    *pc = (comet_push_consumer_t){
        .conf = conf, .inst = inst, .cb = cb, .opaque = opaque ? opaque : conf->opaque};
    pthread_mutex_init(&pc->plock, NULL);
    STAILQ_INIT(&pc->tasks);
    pthread_cond_init(&pc->pcond, NULL);
    cm_consumer_init(&pc->cons, inst, &conf->s, true, pc, &push_ops);
    return pc;
}

comet_err_t comet_push_consumer_subscribe(comet_push_consumer_t *pc, const char *topic, const char *tag_expr)
{
    if (!pc || !topic)
        return COMET_ERR__INVALID_ARG;
    if (pc->started)
        return COMET_ERR__STATE;
    return (comet_err_t)cm_consumer_subscribe(&pc->cons, topic, tag_expr);
}

comet_err_t comet_push_consumer_start(comet_push_consumer_t *pc, char *errstr, size_t errstr_size)
{
    if (!pc)
        return COMET_ERR__INVALID_ARG;
    if (pc->started)
        return cm_already_started(errstr, errstr_size);
    if (pc->cons.nsubs == 0) {
        cm_errstr(errstr, errstr_size, "subscribe to at least one topic before start");
        return COMET_ERR__STATE;
    }
    pc->nthreads = pc->conf->s.consumeThreadMin;
    pc->threads = rmq_calloc((size_t)pc->nthreads, sizeof(pthread_t));
    for (int i = 0; i < pc->nthreads; i++)
        pthread_create(&pc->threads[i], NULL, pool_main, pc);
    cm_consumer_attach(&pc->cons);
    pc->started = true;
    rmq_err_t re = cm_instance_start(pc->inst, errstr, errstr_size);
    if (re != RMQ_OK)
        return (comet_err_t)re;
    /* routes first, so that the first heartbeat reaches the brokers */
    for (size_t j = 0; j < pc->cons.nsubs; j++) {
        char err[256];
        rmq_err_t e;
        cm_route_t *r = cm_route_get(pc->inst, pc->cons.subs[j].topic, true, &e, err, sizeof(err));
        if (!r && !rmq_topic_is_retry(pc->cons.subs[j].topic))
            cm_log(pc->inst, RMQ_LOG_WARN, FAC, "%s", err);
        cm_route_release(r);
    }
    cm_instance_heartbeat_now(pc->inst);
    cm_instance_kick(pc->inst);
    return COMET_ERR_NO_ERROR;
}

const char *comet_push_consumer_client_id(const comet_push_consumer_t *pc)
{
    return cm_instance_client_id(pc->inst);
}

int comet_push_consumer_assigned_count(comet_push_consumer_t *pc)
{
    pthread_mutex_lock(&pc->cons.lock);
    int n = pc->cons.nassigned;
    pthread_mutex_unlock(&pc->cons.lock);
    return n;
}

void comet_push_consumer_shutdown(comet_push_consumer_t *pc)
{
    if (!pc || pc->shut)
        return;
    pc->shut = true;
    if (!pc->started)
        return;
    pc->cons.running = false;
    pthread_mutex_lock(&pc->plock);
    pc->pstop = true;
    pthread_cond_broadcast(&pc->pcond);
    pthread_mutex_unlock(&pc->plock);
    for (int i = 0; i < pc->nthreads; i++)
        pthread_join(pc->threads[i], NULL);
    ctask_t *t;
    while ((t = STAILQ_FIRST(&pc->tasks))) {
        STAILQ_REMOVE_HEAD(&pc->tasks, link);
        task_free(t);
    }
    cm_consumer_stop(&pc->cons); /* commit what was consumed, unregister */
}

void comet_push_consumer_destroy(comet_push_consumer_t *pc)
{
    if (!pc)
        return;
    comet_push_consumer_shutdown(pc);
    cm_consumer_destroy(&pc->cons);
    free(pc->threads);
    pthread_mutex_destroy(&pc->plock);
    pthread_cond_destroy(&pc->pcond);
    comet_conf_destroy(pc->conf);
    free(pc);
}
