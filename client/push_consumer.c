/* push_consumer.c - DefaultMQPushConsumer (concurrent and orderly consumption): the
 * consume thread pool, flow control per queue, send-back of failed messages
 * and the at-least-once offset rule (commit only below the oldest message
 * still being consumed, via process_queue.c).
 *
 * Threads: deliver() runs on the I/O thread and only queues tasks; the
 * consume callback runs on the pool threads (consumeThreadMin). The task
 * list is guarded by plock. consumeOrderly=true runs one task per queue at a
 * time, in offset order, while the queue's broker lock is held (run_orderly). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define FAC "push"

typedef struct ctask_s {
    cm_mqstate_t *mq;
    cm_pq_t *pq;
    comet_message_ext_t **msgs;
    size_t n;
    bool orderly; /* consume the queue in order (msgs unused) */
    struct ctask_s *next;
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
    ctask_t *head, *tail;
    bool pstop;
    bool started, shut;
};

static void task_free(ctask_t *t)
{
    cm_pq_release(t->pq);
    free(t->msgs);
    free(t);
}

/* Queue a chain of tasks (linked by next) with one lock round and one wake-up. */
static void submit_chain(comet_push_consumer_t *pc, ctask_t *first, ctask_t *last, size_t n)
{
    pthread_mutex_lock(&pc->plock);
    if (pc->pstop) {
        pthread_mutex_unlock(&pc->plock);
        while (first) {
            ctask_t *next = first->next;
            task_free(first);
            first = next;
        }
        return;
    }
    last->next = NULL;
    if (pc->tail)
        pc->tail->next = first;
    else
        pc->head = first;
    pc->tail = last;
    if (n > 1)
        pthread_cond_broadcast(&pc->pcond);
    else
        pthread_cond_signal(&pc->pcond);
    pthread_mutex_unlock(&pc->plock);
}

static void submit(comet_push_consumer_t *pc, ctask_t *t) { submit_chain(pc, t, t, 1); }

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
    comet_message_ext_t **msgs = calloc(batch, sizeof(*msgs));
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

static void run_task(comet_push_consumer_t *pc, ctask_t *t)
{
    cm_consumer_t *c = &pc->cons;
    if (t->orderly) {
        run_orderly(pc, t);
        return;
    }
    if (t->pq->dropped || !c->running) {
        task_free(t); /* messages stay in the pq and are redelivered to the new owner */
        return;
    }
    comet_consume_status_t st = pc->cb(pc, (const comet_message_ext_t *const *)t->msgs, t->n, pc->opaque);
    size_t nok = 0;
    int64_t *offs = malloc(t->n * sizeof(int64_t));
    comet_message_ext_t **failed = NULL;
    size_t nfailed = 0;
    for (size_t i = 0; i < t->n; i++) {
        bool ok = st == COMET_CONSUME_SUCCESS;
        if (!ok && c->broadcasting) {
            rmq_log(RMQ_LOG_WARN, FAC, "broadcasting: message %s not consumed, dropped", t->msgs[i]->msg_id);
            ok = true;
        } else if (!ok) {
            ok = cm_consumer_send_back(c, t->msgs[i], 0) == RMQ_OK;
        }
        if (ok)
            offs[nok++] = t->msgs[i]->queue_offset;
        else {
            failed = realloc(failed, (nfailed + 1) * sizeof(*failed));
            failed[nfailed++] = t->msgs[i];
        }
    }
    cm_consumer_consumed(c, t->pq, t->mq->topic, t->mq->broker, t->mq->qid, offs, nok);
    /* consumed messages were handed back to us by the pq */
    for (size_t i = 0; i < t->n; i++) {
        bool f = false;
        for (size_t j = 0; j < nfailed && !f; j++)
            f = failed[j] == t->msgs[i];
        if (!f)
            comet_message_ext_destroy(t->msgs[i]);
    }
    free(offs);
    if (nfailed) {
        /* send-back failed: consume again locally in 5 s (still cached, offset held) */
        for (size_t i = 0; i < nfailed; i++)
            failed[i]->reconsume_times++;
        free(t->msgs);
        t->msgs = failed;
        t->n = nfailed;
        cm_post(pc->inst, 5000, resubmit_later, t);
        return;
    }
    free(failed);
    task_free(t);
}

static void *pool_main(void *arg)
{
    comet_push_consumer_t *pc = arg;
    rmq_log_set_thread_name("comet-consume");
    pthread_mutex_lock(&pc->plock);
    for (;;) {
        while (!pc->head && !pc->pstop)
            pthread_cond_wait(&pc->pcond, &pc->plock);
        if (pc->pstop)
            break;
        ctask_t *t = pc->head;
        pc->head = t->next;
        if (!pc->head)
            pc->tail = NULL;
        pthread_mutex_unlock(&pc->plock);
        run_task(pc, t);
        pthread_mutex_lock(&pc->plock);
    }
    pthread_mutex_unlock(&pc->plock);
    return NULL;
}

/* @thread io */
static void deliver(cm_consumer_t *c, cm_mqstate_t *mq, cm_pq_t *pq, comet_message_ext_t **msgs, size_t n)
{
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
            ctask_t *t = calloc(1, sizeof(*t));
            t->mq = mq;
            t->pq = pq;
            t->orderly = true;
            cm_pq_hold(pq);
            submit(pc, t);
        }
        return;
    }
    size_t batch = (size_t)c->s->consumeMessageBatchMaxSize;
    ctask_t *t = NULL, *first = NULL, *last = NULL;
    size_t ntasks = 0;
    for (size_t i = 0; i < n; i++) {
        if (!msgs[i])
            continue;
        if (!t) {
            t = calloc(1, sizeof(*t));
            t->mq = mq;
            t->pq = pq;
            cm_pq_hold(pq);
            t->msgs = calloc(batch, sizeof(*t->msgs));
            if (last)
                last->next = t;
            else
                first = t;
            last = t;
            ntasks++;
        }
        t->msgs[t->n++] = msgs[i];
        if (t->n == batch)
            t = NULL;
    }
    if (first)
        submit_chain(pc, first, last, ntasks); /* one wake-up per pulled batch */
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

comet_push_consumer_t *comet_push_consumer_new(comet_conf_t *conf, comet_consume_cb_t *cb, void *opaque,
                                               char *errstr, size_t errstr_size)
{
    if (!conf || !cb) {
        cm_errstr(errstr, errstr_size, "conf and consume callback are required");
        return NULL;
    }
    if (!conf->s.consumerGroup || !*conf->s.consumerGroup) {
        cm_errstr(errstr, errstr_size, "consumerGroup is empty");
        return NULL;
    }
    comet_push_consumer_t *pc = calloc(1, sizeof(*pc));
    pc->inst = cm_instance_new(&conf->s, errstr, errstr_size);
    if (!pc->inst) {
        free(pc);
        return NULL;
    }
    pc->conf = conf;
    pc->cb = cb;
    pc->opaque = opaque ? opaque : conf->opaque;
    pthread_mutex_init(&pc->plock, NULL);
    pthread_cond_init(&pc->pcond, NULL);
    cm_consumer_ops_t ops = {deliver, flow_delay};
    cm_consumer_init(&pc->cons, pc->inst, &conf->s, true, pc, &ops);
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
    if (pc->started) {
        cm_errstr(errstr, errstr_size, "already started");
        return COMET_ERR__STATE;
    }
    if (pc->cons.nsubs == 0) {
        cm_errstr(errstr, errstr_size, "subscribe to at least one topic before start");
        return COMET_ERR__STATE;
    }
    cm_log_install(pc->conf);
    pc->nthreads = pc->conf->s.consumeThreadMin;
    pc->threads = calloc((size_t)pc->nthreads, sizeof(pthread_t));
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
        if (!r && strncmp(pc->cons.subs[j].topic, "%RETRY%", 7) != 0)
            rmq_log(RMQ_LOG_WARN, FAC, "%s", err);
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
    ctask_t *t = pc->head;
    pc->head = pc->tail = NULL;
    while (t) {
        ctask_t *next = t->next;
        task_free(t);
        t = next;
    }
    cm_consumer_stop(&pc->cons); /* commit what was consumed */
    cm_instance_stop(pc->inst, NULL, pc->cons.group);
}

void comet_push_consumer_destroy(comet_push_consumer_t *pc)
{
    if (!pc)
        return;
    comet_push_consumer_shutdown(pc);
    cm_instance_destroy(pc->inst);
    cm_consumer_deinit(&pc->cons);
    free(pc->threads);
    pthread_mutex_destroy(&pc->plock);
    pthread_cond_destroy(&pc->pcond);
    comet_conf_destroy(pc->conf);
    free(pc);
}
