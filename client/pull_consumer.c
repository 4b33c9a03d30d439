/* pull_consumer.c - the pull consumer (Java's DefaultLitePullConsumer
 * shape): subscribe (group rebalance) or assign (fixed queues), poll with a
 * timeout, commit the polled positions, seek.
 *
 * Threads: the shared engine (consumer.c) pulls on the I/O thread and
 * appends messages to the poll buffer (guarded by block); poll()/commit()/
 * seek() run on application threads. Positions are committed only by
 * commit() (then persisted, also by the periodic offset timer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_time.h"

typedef struct pos_s {
    char topic[COMET_NAME_MAX];
    char broker[COMET_NAME_MAX];
    int32_t qid;
    int64_t next;
} pos_t;

struct comet_pull_consumer_s {
    comet_conf_t *conf;
    cm_instance_t *inst;
    cm_consumer_t cons;
    pthread_mutex_t block;
    pthread_cond_t bcond;
    comet_message_ext_t **buf; /* ring */
    size_t head, len, cap;
    pos_t *pos;
    size_t npos;
    comet_message_queue_t *assign;
    size_t nassign;
    bool assigned_mode;
    bool started, shut;
};

static void buf_push(comet_pull_consumer_t *pc, comet_message_ext_t *m)
{
    if (pc->len == pc->cap) {
        size_t ncap = pc->cap ? pc->cap * 2 : 256;
        pc->buf = cm_ring_grow(pc->buf, sizeof(*pc->buf), pc->head, pc->len, pc->cap, ncap);
        pc->cap = ncap;
        pc->head = 0;
    }
    pc->buf[(pc->head + pc->len) % pc->cap] = m;
    pc->len++;
}

/* @thread io. Under block, a batch pulled before a seek() of its queue is
 * refused here (seek() holds block while it moves the queue and clears the
 * buffer): neither a stale batch nor a purge of a fresh one. Lock order:
 * block, then the consumer's lock. */
static void deliver(cm_consumer_t *c, cm_mqstate_t *mq, cm_pq_t *pq, comet_message_ext_t **msgs, size_t n,
                    uint64_t gen)
{
    (void)pq;
    comet_pull_consumer_t *pc = c->owner;
    pthread_mutex_lock(&pc->block);
    bool fresh = cm_consumer_gen_is(c, mq, gen);
    for (size_t i = 0; i < n; i++) {
        if (fresh)
            buf_push(pc, msgs[i]);
        else
            comet_message_ext_destroy(msgs[i]);
    }
    if (fresh)
        pthread_cond_broadcast(&pc->bcond);
    pthread_mutex_unlock(&pc->block);
}

/* @thread io */
static int flow_delay(cm_consumer_t *c, cm_mqstate_t *mq)
{
    comet_pull_consumer_t *pc = c->owner;
    pthread_mutex_lock(&pc->block);
    bool full = pc->len >= (size_t)c->s->pollQueueMaxSize;
    pthread_mutex_unlock(&pc->block);
    return full ? 50 : 0;
}

static const cm_consumer_ops_t pull_ops = {deliver, flow_delay};

comet_pull_consumer_t *comet_pull_consumer_new(comet_conf_t *conf, char *errstr, size_t errstr_size)
{
    cm_instance_t *inst = cm_instance_for_group(conf, false, errstr, errstr_size);
    if (!inst)
        return NULL;
    comet_pull_consumer_t *pc = rmq_malloc(sizeof(*pc));
    *pc = (comet_pull_consumer_t){.conf = conf, .inst = inst};
    pthread_mutex_init(&pc->block, NULL);
    pthread_cond_init(&pc->bcond, NULL);
    cm_consumer_init(&pc->cons, inst, &conf->s, false, pc, &pull_ops);
    return pc;
}

comet_err_t comet_pull_consumer_subscribe(comet_pull_consumer_t *pc, const char *topic, const char *tag_expr)
{
    if (!pc || !topic)
        return COMET_ERR__INVALID_ARG;
    if (pc->started || pc->assigned_mode)
        return COMET_ERR__STATE;
    return (comet_err_t)cm_consumer_subscribe(&pc->cons, topic, tag_expr);
}

comet_err_t comet_pull_consumer_assign(comet_pull_consumer_t *pc, const comet_message_queue_t *mqs,
                                       size_t cnt)
{
    if (!pc || (cnt && !mqs))
        return COMET_ERR__INVALID_ARG;
    if (pc->cons.nsubs && !pc->assigned_mode)
        return COMET_ERR__STATE;
    pc->assigned_mode = true;
    pc->cons.manual_assign = true;
    free(pc->assign);
    pc->assign = rmq_calloc(cnt ? cnt : 1, sizeof(*mqs));
    if (cnt)
        memcpy(pc->assign, mqs, cnt * sizeof(*mqs));
    pc->nassign = cnt;
    if (pc->started)
        cm_consumer_set_assignment(&pc->cons, pc->assign, pc->nassign);
    return COMET_ERR_NO_ERROR;
}

comet_err_t comet_pull_consumer_fetch_queues(comet_pull_consumer_t *pc, const char *topic,
                                             comet_message_queue_t **mqs, size_t *cnt)
{
    if (!pc || !topic || !mqs || !cnt)
        return COMET_ERR__INVALID_ARG;
    if (!pc->started)
        return COMET_ERR__STATE;
    return (comet_err_t)cm_route_public_queues(pc->inst, topic, true, mqs, cnt);
}

comet_err_t comet_pull_consumer_start(comet_pull_consumer_t *pc, char *errstr, size_t errstr_size)
{
    if (!pc)
        return COMET_ERR__INVALID_ARG;
    if (pc->started)
        return cm_already_started(errstr, errstr_size);
    cm_consumer_attach(&pc->cons);
    pc->started = true;
    rmq_err_t e = cm_instance_start(pc->inst, errstr, errstr_size);
    if (e != RMQ_OK)
        return (comet_err_t)e;
    if (pc->assigned_mode) {
        cm_consumer_set_assignment(&pc->cons, pc->assign, pc->nassign);
    } else {
        for (size_t j = 0; j < pc->cons.nsubs; j++) {
            cm_route_t *r = cm_route_get(pc->inst, pc->cons.subs[j].topic, true, NULL, NULL, 0);
            cm_route_release(r);
        }
        cm_instance_heartbeat_now(pc->inst);
        cm_instance_kick(pc->inst);
    }
    return COMET_ERR_NO_ERROR;
}

static void note_pos(comet_pull_consumer_t *pc, const comet_message_ext_t *m)
{
    for (size_t i = 0; i < pc->npos; i++) {
        pos_t *p = &pc->pos[i];
        if (p->qid == m->queue_id && strcmp(p->broker, m->broker_name) == 0 &&
            strcmp(p->topic, m->real_topic) == 0) {
            if (m->queue_offset + 1 > p->next)
                p->next = m->queue_offset + 1;
            return;
        }
    }
    pc->pos = rmq_realloc(pc->pos, (pc->npos + 1) * sizeof(pos_t));
    pos_t *p = &pc->pos[pc->npos++];
    snprintf(p->topic, sizeof(p->topic), "%s", m->real_topic);
    snprintf(p->broker, sizeof(p->broker), "%s", m->broker_name);
    p->qid = m->queue_id;
    p->next = m->queue_offset + 1;
}

comet_err_t comet_pull_consumer_poll(comet_pull_consumer_t *pc, int timeout_ms, comet_message_ext_t **msgs,
                                     size_t max, size_t *cnt)
{
    if (!pc || !msgs || !cnt)
        return COMET_ERR__INVALID_ARG;
    *cnt = 0;
    if (!pc->started || pc->shut)
        return COMET_ERR__STATE;
    int64_t deadline = rmq_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    pthread_mutex_lock(&pc->block);
    while (pc->len == 0) {
        int64_t left = deadline - rmq_mono_ms();
        if (left <= 0)
            break;
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        int64_t ns = dl.tv_nsec + left * 1000000;
        dl.tv_sec += ns / 1000000000;
        dl.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&pc->bcond, &pc->block, &dl);
    }
    size_t n = 0;
    while (pc->len && n < max) {
        comet_message_ext_t *m = pc->buf[pc->head];
        pc->head = (pc->head + 1) % pc->cap;
        pc->len--;
        note_pos(pc, m);
        msgs[n++] = m;
    }
    pthread_mutex_unlock(&pc->block);
    *cnt = n;
    return COMET_ERR_NO_ERROR;
}

comet_err_t comet_pull_consumer_commit(comet_pull_consumer_t *pc, bool async)
{
    if (!pc)
        return COMET_ERR__INVALID_ARG;
    if (!pc->started)
        return COMET_ERR__STATE;
    pthread_mutex_lock(&pc->block);
    for (size_t i = 0; i < pc->npos; i++)
        cm_offset_store_update(&pc->cons.offsets, pc->pos[i].topic, pc->pos[i].broker, pc->pos[i].qid,
                               pc->pos[i].next, false);
    pthread_mutex_unlock(&pc->block);
    cm_offset_store_persist_all(&pc->cons.offsets, !async);
    return COMET_ERR_NO_ERROR;
}

comet_err_t comet_pull_consumer_seek(comet_pull_consumer_t *pc, const comet_message_queue_t *mq,
                                     int64_t offset)
{
    if (!pc || !mq)
        return COMET_ERR__INVALID_ARG;
    if (!pc->started)
        return COMET_ERR__STATE;
    if (offset == COMET_OFFSET_END || offset == COMET_OFFSET_BEGINNING) {
        rmq_err_t e = cm_query_offset(
            pc->inst, offset == COMET_OFFSET_END ? RMQ_REQ_GET_MAX_OFFSET : RMQ_REQ_GET_MIN_OFFSET, mq->topic,
            mq->broker_name, mq->queue_id, 0, &offset);
        if (e != RMQ_OK)
            return (comet_err_t)e;
    }
    /* the move and the purge under block: a batch the new position brings
     * cannot reach the buffer before the old ones are gone (deliver()) */
    pthread_mutex_lock(&pc->block);
    rmq_err_t e = cm_consumer_seek(&pc->cons, mq->topic, mq->broker_name, mq->queue_id, offset);
    if (e != RMQ_OK) {
        pthread_mutex_unlock(&pc->block);
        return (comet_err_t)e;
    }
    size_t k = 0;
    for (size_t i = 0; i < pc->len; i++) {
        comet_message_ext_t *m = pc->buf[(pc->head + i) % pc->cap];
        if (m->queue_id == mq->queue_id && strcmp(m->broker_name, mq->broker_name) == 0 &&
            strcmp(m->real_topic, mq->topic) == 0)
            comet_message_ext_destroy(m);
        else
            pc->buf[(pc->head + k++) % pc->cap] = m;
    }
    pc->len = k;
    for (size_t i = 0; i < pc->npos; i++)
        if (pc->pos[i].qid == mq->queue_id && strcmp(pc->pos[i].broker, mq->broker_name) == 0 &&
            strcmp(pc->pos[i].topic, mq->topic) == 0)
            pc->pos[i] = pc->pos[--pc->npos];
    pthread_mutex_unlock(&pc->block);
    return COMET_ERR_NO_ERROR;
}

comet_err_t comet_pull_consumer_committed(comet_pull_consumer_t *pc, const comet_message_queue_t *mq,
                                          int64_t *offset)
{
    if (!pc || !mq || !offset)
        return COMET_ERR__INVALID_ARG;
    if (!pc->started)
        return COMET_ERR__STATE;
    int64_t v = cm_offset_store_read(&pc->cons.offsets, mq->topic, mq->broker_name, mq->queue_id);
    if (v < -1)
        return (comet_err_t)v;
    *offset = v;
    return COMET_ERR_NO_ERROR;
}

void comet_pull_consumer_shutdown(comet_pull_consumer_t *pc)
{
    if (!pc || pc->shut)
        return;
    pc->shut = true;
    if (!pc->started)
        return;
    cm_consumer_stop(&pc->cons);
}

void comet_pull_consumer_destroy(comet_pull_consumer_t *pc)
{
    if (!pc)
        return;
    comet_pull_consumer_shutdown(pc);
    cm_consumer_destroy(&pc->cons);
    for (size_t i = 0; i < pc->len; i++)
        comet_message_ext_destroy(pc->buf[(pc->head + i) % pc->cap]);
    free(pc->buf);
    free(pc->pos);
    free(pc->assign);
    pthread_mutex_destroy(&pc->block);
    pthread_cond_destroy(&pc->bcond);
    comet_conf_destroy(pc->conf);
    free(pc);
}
