/* consumer.c - the engine shared by push and pull consumers: subscriptions
 * (FilterAPI), the long-polling pull loop per assigned queue
 * (PullAPIWrapper / DefaultMQPushConsumerImpl.pullMessage), rebalance
 * (RebalanceImpl with AllocateMessageQueueAveragely), start offsets
 * (computePullFromWhere), offset persistence and the ConsumerData heartbeat.
 *
 * Threads: the pull loop runs on the I/O thread (requests, decoding,
 * handing messages to the owner's deliver op). Rebalance and persistence run
 * on the service thread with blocking requests. The queue list and each
 * queue's next offset / generation are guarded by c->lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet_int.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define FAC "consumer"

#define PULL_SYS_COMMIT 0x1
#define PULL_SYS_SUSPEND 0x2
#define PULL_SYS_SUBSCRIPTION 0x4

/* ---------------- subscriptions ---------------- */

void cm_sub_build(cm_sub_t *sub, const char *topic, const char *expr)
{
    memset(sub, 0, sizeof(*sub));
    sub->topic = rmq_strdup(topic);
    sub->version = rmq_now_ms();
    if (!expr || !*expr || strcmp(expr, "*") == 0) {
        sub->expr = rmq_strdup("*");
        return;
    }
    sub->expr = rmq_strdup(expr);
    const char *p = expr;
    while (*p) {
        const char *sep = strstr(p, "||");
        size_t len = sep ? (size_t)(sep - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len) {
            bool dup = false;
            for (size_t i = 0; i < sub->ntags && !dup; i++)
                dup = strlen(sub->tags[i]) == len && strncmp(sub->tags[i], p, len) == 0;
            if (!dup) {
                sub->tags = rmq_realloc(sub->tags, (sub->ntags + 1) * sizeof(char *));
                sub->codes = rmq_realloc(sub->codes, (sub->ntags + 1) * sizeof(int32_t));
                sub->tags[sub->ntags] = rmq_strndup(p, len);
                sub->codes[sub->ntags] = rmq_java_hash(p, len);
                sub->ntags++;
            }
        }
        if (!sep)
            break;
        p = sep + 2;
    }
}

void cm_sub_free(cm_sub_t *sub)
{
    for (size_t i = 0; i < sub->ntags; i++)
        free(sub->tags[i]);
    free(sub->tags);
    free(sub->codes);
    free(sub->topic);
    free(sub->expr);
}

bool cm_sub_match(const cm_sub_t *sub, const char *tags)
{
    if (sub->ntags == 0)
        return true;
    if (!tags)
        return false;
    for (size_t i = 0; i < sub->ntags; i++)
        if (strcmp(sub->tags[i], tags) == 0)
            return true;
    return false;
}

static const cm_sub_t *find_sub(cm_consumer_t *c, const char *topic)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].topic, topic) == 0)
            return &c->subs[i];
    return NULL;
}

rmq_err_t cm_consumer_subscribe(cm_consumer_t *c, const char *topic, const char *expr)
{
    if (!topic || !*topic)
        return RMQ_ERR__INVALID_ARG;
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].topic, topic) == 0) {
            cm_sub_free(&c->subs[i]);
            cm_sub_build(&c->subs[i], topic, expr);
            return RMQ_OK;
        }
    c->subs = rmq_realloc(c->subs, (c->nsubs + 1) * sizeof(cm_sub_t));
    cm_sub_build(&c->subs[c->nsubs++], topic, expr);
    return RMQ_OK;
}

/* ---------------- heartbeat ---------------- */

static void write_sub(rmq_jw_t *w, const cm_sub_t *s)
{
    rmq_jw_obj_begin(w);
    rmq_jw_kbool(w, "classFilterMode", false);
    rmq_jw_key(w, "codeSet");
    rmq_jw_arr_begin(w);
    for (size_t i = 0; i < s->ntags; i++)
        rmq_jw_int(w, s->codes[i]);
    rmq_jw_arr_end(w);
    rmq_jw_kstr(w, "expressionType", "TAG");
    rmq_jw_kstr(w, "subString", s->expr);
    rmq_jw_kint(w, "subVersion", s->version);
    rmq_jw_key(w, "tagsSet");
    rmq_jw_arr_begin(w);
    for (size_t i = 0; i < s->ntags; i++)
        rmq_jw_str(w, s->tags[i]);
    rmq_jw_arr_end(w);
    rmq_jw_kstr(w, "topic", s->topic);
    rmq_jw_obj_end(w);
}

static bool has_retry_sub(cm_consumer_t *c)
{
    return c->push && !c->broadcasting;
}

void cm_consumer_write_heartbeat(cm_consumer_t *c, void *jwv)
{
    rmq_jw_t *w = jwv;
    rmq_jw_obj_begin(w);
    rmq_jw_kstr(w, "consumeFromWhere", cm_consume_from_names[c->s->consumeFromWhere]);
    rmq_jw_kstr(w, "consumeType", c->push ? "CONSUME_PASSIVELY" : "CONSUME_ACTIVELY");
    rmq_jw_kstr(w, "groupName", c->group);
    rmq_jw_kstr(w, "messageModel", c->broadcasting ? "BROADCASTING" : "CLUSTERING");
    rmq_jw_key(w, "subscriptionDataSet");
    rmq_jw_arr_begin(w);
    for (size_t i = 0; i < c->nsubs; i++)
        write_sub(w, &c->subs[i]);
    rmq_jw_arr_end(w);
    rmq_jw_kbool(w, "unitMode", false);
    rmq_jw_obj_end(w);
}

/* ---------------- pull loop (io thread) ---------------- */

typedef struct pull_ctx_s {
    cm_mqstate_t *mq;
    uint64_t gen;
    uint64_t chain;
    int64_t offset;
    char addr[256]; /* where the pull went (master or slave) */
} pull_ctx_t;

typedef struct chain_ref_s {
    cm_mqstate_t *mq;
    uint64_t chain;
} chain_ref_t;

static void pull_task(void *arg);

void cm_consumer_pull_later(cm_mqstate_t *mq, uint64_t chain, int delay_ms)
{
    chain_ref_t *r = rmq_malloc(sizeof(*r));
    r->mq = mq;
    r->chain = chain;
    cm_post(mq->cons->inst, delay_ms, pull_task, r);
}

bool cm_consumer_gen_is(cm_consumer_t *c, const cm_mqstate_t *mq, uint64_t gen)
{
    pthread_mutex_lock(&c->lock);
    bool same = mq->gen == gen;
    pthread_mutex_unlock(&c->lock);
    return same;
}

/* Under c->lock: is this chain still the queue's live one? */
static bool mq_active(cm_consumer_t *c, cm_mqstate_t *mq, uint64_t chain)
{
    return c->running && mq->assigned && mq->chain == chain && !cm_instance_stopping(c->inst);
}

/* Start a new pull chain for mq (older ones end at their next step). Under c->lock. */
static void start_chain(cm_mqstate_t *mq)
{
    cm_consumer_pull_later(mq, ++mq->chain, 0);
}

static void pull_resp(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg);

/* PULL_MESSAGE as the Java push consumer writes it. */
rmq_cmd_t *cm_pull_cmd_new(const char *group, const char *topic, int32_t qid, int64_t offset,
                           int32_t max_msgs, int sys_flag, int64_t commit_offset, int64_t suspend_ms,
                           const char *subscription, int64_t sub_version, const char *broker)
{
    rmq_cmd_t *req = rmq_cmd_new();
    rmq_cmd_init_request(req, RMQ_REQ_PULL_MESSAGE);
    rmq_cmd_set_ext(req, "consumerGroup", group);
    rmq_cmd_set_ext(req, "topic", topic);
    rmq_cmd_set_ext_i64(req, "queueId", qid);
    rmq_cmd_set_ext_i64(req, "queueOffset", offset);
    rmq_cmd_set_ext_i64(req, "maxMsgNums", max_msgs);
    rmq_cmd_set_ext_i64(req, "sysFlag", sys_flag);
    rmq_cmd_set_ext_i64(req, "commitOffset", commit_offset);
    rmq_cmd_set_ext_i64(req, "suspendTimeoutMillis", suspend_ms);
    if (subscription)
        rmq_cmd_set_ext(req, "subscription", subscription);
    rmq_cmd_set_ext_i64(req, "subVersion", sub_version);
    rmq_cmd_set_ext(req, "expressionType", "TAG");
    rmq_cmd_set_ext(req, "bname", broker);
    return req;
}

static void pull_task(void *arg)
{
    chain_ref_t *ref = arg;
    cm_mqstate_t *mq = ref->mq;
    uint64_t chain = ref->chain;
    free(ref);
    cm_consumer_t *c = mq->cons;
    pthread_mutex_lock(&c->lock);
    if (!mq_active(c, mq, chain)) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    pthread_mutex_unlock(&c->lock);
    int delay = c->ops.flow_delay ? c->ops.flow_delay(c, mq) : 0;
    if (delay > 0) {
        cm_consumer_pull_later(mq, chain, delay);
        return;
    }
    /* the suggested broker id, else the master, else a slave (a master that
     * stopped answering is passed over: reads go on from its slave) */
    char addr[256];
    bool from_slave = false;
    if (!cm_read_addr(c->inst, mq->broker, mq->suggest_id, addr, sizeof(addr), &from_slave)) {
        cm_instance_want_route_refresh(c->inst);
        cm_consumer_pull_later(mq, chain, c->s->pullTimeDelayMillsWhenException);
        return;
    }
    pthread_mutex_lock(&c->lock);
    pull_ctx_t *pc = rmq_malloc(sizeof(*pc));
    pc->mq = mq;
    pc->chain = chain;
    pc->gen = mq->gen;
    pc->offset = mq->next_offset;
    snprintf(pc->addr, sizeof(pc->addr), "%s", addr);
    pthread_mutex_unlock(&c->lock);

    const cm_sub_t *sub = find_sub(c, mq->topic);
    int64_t commit = -1;
    if (!c->broadcasting && c->push) {
        cm_consumer_sync_offsets(c, mq);
        commit = cm_offset_store_get(&c->offsets, mq->topic, mq->broker, mq->qid);
    }
    int sys = PULL_SYS_SUSPEND;
    if (commit > 0 && !from_slave) /* a slave does not take pull commits (Java clears the bit too) */
        sys |= PULL_SYS_COMMIT;
    bool post_sub = c->s->postSubscriptionWhenPull || !c->push || rmq_topic_is_retry(mq->topic);
    if (post_sub)
        sys |= PULL_SYS_SUBSCRIPTION;
    rmq_cmd_t *req =
        cm_pull_cmd_new(c->group, mq->topic, mq->qid, pc->offset, c->s->pullBatchSize, sys,
                        commit > 0 ? commit : 0, c->s->brokerSuspendMaxTimeMillis,
                        post_sub ? (sub ? sub->expr : "*") : NULL, sub ? sub->version : 0, mq->broker);
    c->inflight++;
    cm_request(c->inst, addr, req, c->s->consumerPullTimeoutMillis, pull_resp, pc);
}

static void pull_resp(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    pull_ctx_t *pc = arg;
    cm_mqstate_t *mq = pc->mq;
    cm_consumer_t *c = mq->cons;
    c->inflight--;
    uint64_t chain = pc->chain;
    pthread_mutex_lock(&c->lock);
    if (!mq_active(c, mq, chain)) {
        pthread_mutex_unlock(&c->lock);
        free(pc);
        return;
    }
    if (pc->gen != mq->gen) { /* the offset changed meanwhile: pull again from the new one */
        pthread_mutex_unlock(&c->lock);
        free(pc);
        cm_consumer_pull_later(mq, chain, 0);
        return;
    }
    cm_pq_t *pq = mq->pq;
    if (pq)
        cm_pq_hold(pq);
    pthread_mutex_unlock(&c->lock);

    int delay = 0;
    if (err != RMQ_OK) {
        cm_log(inst, RMQ_LOG_INFO, FAC, "pull %s/%s/%d from %s failed: %s", mq->topic, mq->broker, mq->qid,
               pc->addr, rmq_err2str(err));
        if (err == RMQ_ERR__TRANSPORT || err == RMQ_ERR__TIMED_OUT) {
            /* the next pull goes to another address of the group, if any */
            cm_addr_failed(pc->addr);
            cm_instance_want_route_refresh(c->inst);
        }
        delay = c->s->pullTimeDelayMillsWhenException;
        goto next;
    }
    int64_t sug;
    if (rmq_cmd_ext_i64(resp, "suggestWhichBrokerId", &sug) == RMQ_OK)
        mq->suggest_id = sug;
    int64_t nbo = pc->offset;
    rmq_cmd_ext_i64(resp, "nextBeginOffset", &nbo);
    switch (resp->code) {
    case 0: {
        /* the body is taken (resp is only deinit'ed after us) and decoded in
         * place: the messages are views into it */
        int64_t mn = 0, mx = 0;
        rmq_cmd_ext_i64(resp, "minOffset", &mn);
        rmq_cmd_ext_i64(resp, "maxOffset", &mx);
        size_t blen = resp->body_len;
        cm_rxbatch_t *b = cm_rxbatch_decode(resp->body, blen, mq->broker, mn, mx); /* no body: none */
        resp->body = NULL;
        resp->body_len = 0;
        if (!b) {
            cm_log(inst, RMQ_LOG_WARN, FAC, "pull %s/%s/%d: undecodable body (%zu bytes)", mq->topic,
                   mq->broker, mq->qid, blen);
            delay = c->s->pullTimeDelayMillsWhenException;
            break;
        }
        const cm_sub_t *sub = find_sub(c, mq->topic);
        size_t n = cm_rxbatch_count(b), k = 0;
        comet_message_ext_t *stack[64];
        comet_message_ext_t **msgs = n <= 64 ? stack : rmq_malloc(n * sizeof(*msgs));
        for (size_t i = 0; i < n; i++) {
            comet_message_ext_t *m = cm_rxbatch_msg(b, i);
            if (m->queue_offset < pc->offset)
                continue;
            if (m->undecodable) {
                cm_log(inst, RMQ_LOG_WARN, FAC,
                       "pull %s/%s/%d: message at offset %lld cannot be decompressed, skipped", mq->topic,
                       mq->broker, mq->qid, (long long)m->queue_offset);
                continue;
            }
            if (sub && sub->ntags && !cm_sub_match(sub, rmq_msg_props_get(&m->props, RMQ_PROP_TAGS)))
                continue;
            msgs[k++] = m;
        }
        cm_rxbatch_hold(b, k); /* one reference per message handed out */
        cm_rxbatch_release(b);
        pthread_mutex_lock(&c->lock);
        bool fresh = pc->gen == mq->gen;
        if (fresh)
            mq->next_offset = nbo;
        pthread_mutex_unlock(&c->lock);
        if (!fresh) {
            for (size_t i = 0; i < k; i++)
                comet_message_ext_destroy(msgs[i]);
        } else if (k) {
            c->ops.deliver(c, mq, pq, msgs, k, pc->gen);
        } else if (pq && c->push) {
            size_t cnt;
            cm_pq_stats(pq, &cnt, NULL, NULL);
            if (cnt == 0 && !c->broadcasting)
                cm_offset_store_update(&c->offsets, mq->topic, mq->broker, mq->qid, nbo, true);
        }
        if (msgs != stack)
            free(msgs);
        delay = c->s->pullInterval;
        break;
    }
    case RMQ_ERR_PULL_NOT_FOUND:
    case RMQ_ERR_PULL_RETRY_IMMEDIATELY:
    case RMQ_ERR_PULL_OFFSET_MOVED: {
        pthread_mutex_lock(&c->lock);
        bool fresh = pc->gen == mq->gen;
        if (fresh)
            mq->next_offset = nbo;
        pthread_mutex_unlock(&c->lock);
        if (fresh && c->push && pq) {
            size_t cnt;
            cm_pq_stats(pq, &cnt, NULL, NULL);
            if (resp->code == RMQ_ERR_PULL_OFFSET_MOVED) {
                cm_log(inst, RMQ_LOG_WARN, FAC, "pull %s/%s/%d: offset %lld moved to %lld", mq->topic,
                       mq->broker, mq->qid, (long long)pc->offset, (long long)nbo);
                cm_offset_store_update(&c->offsets, mq->topic, mq->broker, mq->qid, nbo, false);
            } else if (cnt == 0) {
                cm_offset_store_update(&c->offsets, mq->topic, mq->broker, mq->qid, nbo, true);
            }
        }
        break;
    }
    case RMQ_ERR_FLOW_CONTROL:
    case RMQ_ERR_SYSTEM_BUSY:
        delay = 20;
        break;
    default:
        cm_log(inst, RMQ_LOG_INFO, FAC, "pull %s/%s/%d: %s %s", mq->topic, mq->broker, mq->qid,
               rmq_err2name(resp->code), resp->remark ? resp->remark : "");
        if (resp->code == RMQ_ERR_SUBSCRIPTION_NOT_EXIST || resp->code == RMQ_ERR_SUBSCRIPTION_NOT_LATEST)
            cm_instance_want_heartbeat(c->inst); /* e.g. the broker restarted */
        delay = c->s->pullTimeDelayMillsWhenException;
        break;
    }
next:
    if (pq)
        cm_pq_release(pq);
    free(pc);
    cm_consumer_pull_later(mq, chain, delay > 0 ? delay : 0);
}

/* ---------------- offsets (blocking helpers) ---------------- */

rmq_err_t cm_query_offset(cm_instance_t *inst, int code, const char *topic, const char *broker, int32_t qid,
                          int64_t ts, int64_t *out)
{
    char addr[256];
    if (!cm_read_addr(inst, broker, 0, addr, sizeof(addr), NULL)) {
        cm_route_refresh(inst, topic);
        if (!cm_read_addr(inst, broker, 0, addr, sizeof(addr), NULL))
            return RMQ_ERR__NO_ROUTE;
    }
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, code);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", qid);
    if (code == RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP)
        rmq_cmd_set_ext_i64(&req, "timestamp", ts);
    rmq_cmd_set_ext(&req, "bname", broker);
    rmq_err_t e = cm_request_sync(inst, addr, &req, cm_instance_settings(inst)->mqClientApiTimeout, &resp);
    rmq_cmd_deinit(&req);
    if (e == RMQ_ERR__TRANSPORT || e == RMQ_ERR__TIMED_OUT)
        cm_addr_failed(addr);
    if (e != RMQ_OK)
        return e;
    if (resp.code != 0)
        e = (rmq_err_t)resp.code;
    else if (rmq_cmd_ext_i64(&resp, "offset", out) != RMQ_OK)
        e = RMQ_ERR__CORRUPT;
    rmq_cmd_deinit(&resp);
    return e;
}

static int64_t parse_consume_ts(const char *s)
{
    if (!s || strlen(s) != 14)
        return rmq_now_ms() - 30 * 60 * 1000;
    struct tm tm = {0};
    if (sscanf(s, "%4d%2d%2d%2d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec) != 6)
        return rmq_now_ms() - 30 * 60 * 1000;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}

/* computePullFromWhere: >= 0 offset, < 0 error (skip this round). */
static int64_t start_offset(cm_consumer_t *c, const char *topic, const char *broker, int32_t qid)
{
    int64_t off = cm_offset_store_read(&c->offsets, topic, broker, qid);
    if (off >= 0)
        return off;
    if (off < -1)
        return off;
    bool retry = rmq_topic_is_retry(topic);
    cm_consume_from_t w = c->s->consumeFromWhere;
    rmq_err_t e = RMQ_OK;
    if (w == CM_FROM_FIRST_OFFSET || w == CM_FROM_MIN_OFFSET) {
        off = 0;
    } else if (w == CM_FROM_TIMESTAMP) {
        if (retry)
            e = cm_query_offset(c->inst, RMQ_REQ_GET_MAX_OFFSET, topic, broker, qid, 0, &off);
        else
            e = cm_query_offset(c->inst, RMQ_REQ_SEARCH_OFFSET_BY_TIMESTAMP, topic, broker, qid,
                                parse_consume_ts(c->s->consumeTimestamp), &off);
    } else { /* LAST */
        if (retry)
            off = 0;
        else
            e = cm_query_offset(c->inst, RMQ_REQ_GET_MAX_OFFSET, topic, broker, qid, 0, &off);
    }
    return e == RMQ_OK ? off : (int64_t)RMQ_ERR__AGAIN;
}

/* ---------------- orderly: broker-side queue locks ---------------- */

static void write_mq(rmq_jw_t *w, const char *topic, const char *broker, int32_t qid)
{
    rmq_jw_obj_begin(w);
    rmq_jw_kstr(w, "brokerName", broker);
    rmq_jw_kint(w, "queueId", qid);
    rmq_jw_kstr(w, "topic", topic);
    rmq_jw_obj_end(w);
}

/* LOCK_BATCH_MQ (or UNLOCK_BATCH_MQ) for queues of one broker; granted[i]
 * tells which ones are ours. Blocking (service or application thread). */
static bool lock_batch(cm_consumer_t *c, int code, const char *broker, char (*topics)[COMET_NAME_MAX],
                       const int32_t *qids, size_t n, bool *granted, bool oneway)
{
    char addr[256];
    if (!cm_broker_master_addr(c->inst, broker, addr, sizeof(addr)))
        return false;
    rmq_buf_t b;
    rmq_jw_t w;
    cm_json_body_begin(&w, &b);
    rmq_jw_kstr(&w, "clientId", cm_instance_client_id(c->inst));
    rmq_jw_kstr(&w, "consumerGroup", c->group);
    rmq_jw_key(&w, "mqSet");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        write_mq(&w, topics[i], broker, qids[i]);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    rmq_cmd_t *req = rmq_cmd_new();
    rmq_cmd_init_request(req, code);
    rmq_cmd_set_body(req, b.data, b.len);
    rmq_buf_free(&b);
    if (oneway) {
        cm_oneway(c->inst, addr, req);
        return true;
    }
    rmq_cmd_t resp;
    rmq_err_t e = cm_request_sync(c->inst, addr, req, 1000, &resp);
    rmq_cmd_destroy(req);
    if (e != RMQ_OK)
        return false;
    bool ok = resp.code == 0;
    if (ok && granted) {
        char err[128];
        json_t *root = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
        json_t *set = root ? json_object_get(root, "lockOKMQSet") : NULL;
        for (size_t i = 0; i < n; i++) {
            granted[i] = false;
            for (size_t k = 0; json_is_array(set) && k < json_array_size(set); k++) {
                json_t *m = json_array_get(set, k);
                const char *t = rmq_json_str(m, "topic"), *bn = rmq_json_str(m, "brokerName");
                int64_t q = -1;
                rmq_json_int(m, "queueId", &q);
                if (t && bn && q == qids[i] && strcmp(t, topics[i]) == 0 && strcmp(bn, broker) == 0)
                    granted[i] = true;
            }
        }
        json_decref(root);
    }
    rmq_cmd_deinit(&resp);
    return ok;
}

static bool lock_one(cm_consumer_t *c, const char *topic, const char *broker, int32_t qid)
{
    char t[1][COMET_NAME_MAX];
    snprintf(t[0], sizeof(t[0]), "%s", topic);
    bool granted = false;
    return lock_batch(c, RMQ_REQ_LOCK_BATCH_MQ, broker, t, &qid, 1, &granted, false) && granted;
}

static bool needs_locks(const cm_consumer_t *c)
{
    return c->orderly && !c->broadcasting;
}

bool cm_consumer_lock_valid(cm_consumer_t *c, cm_mqstate_t *mq, int64_t now)
{
    if (!needs_locks(c))
        return true;
    pthread_mutex_lock(&c->lock);
    bool ok = mq->locked && now - mq->lock_ts <= 30000;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* lockAll: renew every assigned queue's lock, one request per broker. */
static void lock_all(cm_consumer_t *c, int code, bool oneway)
{
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    for (cm_mqstate_t *m = c->mqs; m; m = m->next)
        n += m->assigned;
    cm_mqstate_t **v = rmq_calloc(n + 1, sizeof(*v));
    n = 0;
    for (cm_mqstate_t *m = c->mqs; m; m = m->next)
        if (m->assigned)
            v[n++] = m;
    pthread_mutex_unlock(&c->lock);
    bool *done = rmq_calloc(n + 1, sizeof(bool));
    char(*topics)[COMET_NAME_MAX] = rmq_calloc(n + 1, COMET_NAME_MAX);
    int32_t *qids = rmq_calloc(n + 1, sizeof(int32_t));
    bool *granted = rmq_calloc(n + 1, sizeof(bool));
    cm_mqstate_t **group = rmq_calloc(n + 1, sizeof(*group));
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && strcmp(v[j]->broker, v[i]->broker) == 0) {
                done[j] = true;
                group[k] = v[j];
                snprintf(topics[k], COMET_NAME_MAX, "%s", v[j]->topic);
                qids[k++] = v[j]->qid;
            }
        bool ok = lock_batch(c, code, v[i]->broker, topics, qids, k, granted, oneway);
        if (code != RMQ_REQ_LOCK_BATCH_MQ)
            continue;
        int64_t now = rmq_mono_ms();
        pthread_mutex_lock(&c->lock);
        for (size_t j = 0; j < k; j++) {
            if (ok && granted[j]) {
                group[j]->locked = true;
                group[j]->lock_ts = now;
            } else if (ok) {
                group[j]->locked = false;
            }
        }
        pthread_mutex_unlock(&c->lock);
    }
    free(v);
    free(done);
    free(topics);
    free(qids);
    free(granted);
    free(group);
}

/* ---------------- assignment ---------------- */

static cm_mqstate_t *find_mq(cm_consumer_t *c, const char *t, const char *b, int32_t q)
{
    for (cm_mqstate_t *m = c->mqs; m; m = m->next)
        if (m->qid == q && strcmp(m->topic, t) == 0 && strcmp(m->broker, b) == 0)
            return m;
    return NULL;
}

static void drop_mq(cm_consumer_t *c, cm_mqstate_t *mq)
{
    cm_consumer_sync_offsets(c, mq); /* what was consumed until now */
    pthread_mutex_lock(&c->lock);
    if (!mq->assigned) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    mq->assigned = false;
    mq->gen++;
    cm_pq_t *pq = mq->pq;
    mq->pq = NULL;
    c->nassigned--;
    pthread_mutex_unlock(&c->lock);
    if (pq) {
        pq->dropped = true;
        cm_pq_release(pq);
    }
    if (needs_locks(c)) {
        char t[1][COMET_NAME_MAX];
        snprintf(t[0], sizeof(t[0]), "%s", mq->topic);
        lock_batch(c, RMQ_REQ_UNLOCK_BATCH_MQ, mq->broker, t, &mq->qid, 1, NULL, true);
    }
    if (!c->manual_assign || c->push) {
        cm_offset_store_persist_one(&c->offsets, mq->topic, mq->broker, mq->qid, true);
        cm_offset_store_remove(&c->offsets, mq->topic, mq->broker, mq->qid);
    }
    cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: dropped %s/%s/%d", c->group, mq->topic, mq->broker, mq->qid);
}

/* Does the list name this queue? */
static bool mq_list_has(const comet_message_queue_t *mqs, size_t n, const char *t, const char *b, int32_t q)
{
    for (size_t i = 0; i < n; i++)
        if (mqs[i].queue_id == q && strcmp(mqs[i].topic, t) == 0 && strcmp(mqs[i].broker_name, b) == 0)
            return true;
    return false;
}

/* Under c->lock: does the hand-made assignment name this queue? */
static bool in_manual(const cm_consumer_t *c, const char *t, const char *b, int32_t q)
{
    return mq_list_has(c->manual, c->nmanual, t, b, q);
}

/* Assign one queue; returns false when its start offset is unknown yet. */
static bool add_mq(cm_consumer_t *c, const char *t, const char *b, int32_t q, int64_t fixed_offset)
{
    pthread_mutex_lock(&c->lock);
    cm_mqstate_t *cur = find_mq(c, t, b, q);
    bool have = cur && cur->assigned;
    pthread_mutex_unlock(&c->lock);
    if (have)
        return true;
    if (needs_locks(c) && !lock_one(c, t, b, q)) {
        cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: lock of %s/%s/%d not granted yet", c->group, t, b, q);
        return false;
    }
    int64_t off = fixed_offset >= 0 ? fixed_offset : start_offset(c, t, b, q);
    if (off < 0) {
        cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: start offset of %s/%s/%d unknown (%s), next round", c->group,
               t, b, q, rmq_err2str((int)off));
        return false;
    }
    pthread_mutex_lock(&c->lock);
    if (c->manual_assign && !c->push && !in_manual(c, t, b, q)) {
        pthread_mutex_unlock(&c->lock); /* assign() named other queues meanwhile */
        return true;
    }
    cm_mqstate_t *mq = find_mq(c, t, b, q);
    if (!mq) {
        mq = rmq_calloc(1, sizeof(*mq));
        snprintf(mq->topic, sizeof(mq->topic), "%s", t);
        snprintf(mq->broker, sizeof(mq->broker), "%s", b);
        mq->qid = q;
        mq->cons = c;
        mq->next = c->mqs;
        c->mqs = mq;
    }
    if (mq->assigned) {
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    mq->assigned = true;
    mq->gen++;
    mq->pq = cm_pq_new();
    mq->locked = needs_locks(c);
    mq->lock_ts = rmq_mono_ms();
    mq->orderly_busy = false;
    mq->next_offset = off;
    c->nassigned++;
    start_chain(mq);
    pthread_mutex_unlock(&c->lock);
    cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: assigned %s/%s/%d from offset %lld", c->group, t, b, q,
           (long long)off);
    return true;
}

static size_t fetch_cids(cm_consumer_t *c, const cm_route_t *r, char ***out)
{
    *out = NULL;
    if (r->nbds == 0)
        return 0;
    size_t start = (size_t)rand() % r->nbds;
    for (size_t k = 0; k < r->nbds; k++) {
        const cm_broker_data_t *bd = &r->bds[(start + k) % r->nbds];
        const char *addr = cm_route_any_addr(r, bd->broker_name);
        if (!addr)
            continue;
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP);
        rmq_cmd_set_ext(&req, "consumerGroup", c->group);
        rmq_err_t e = cm_request_sync(c->inst, addr, &req, c->s->mqClientApiTimeout, &resp);
        rmq_cmd_deinit(&req);
        if (e != RMQ_OK)
            continue;
        size_t n = 0;
        if (resp.code == 0) {
            char err[128];
            json_t *root = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
            json_t *arr = root ? json_object_get(root, "consumerIdList") : NULL;
            if (json_is_array(arr)) {
                *out = rmq_calloc(json_array_size(arr) + 1, sizeof(char *));
                for (size_t i = 0; i < json_array_size(arr); i++)
                    if (json_is_string(json_array_get(arr, i)))
                        (*out)[n++] = rmq_strdup(json_string_value(json_array_get(arr, i)));
            }
            json_decref(root);
        }
        rmq_cmd_deinit(&resp);
        if (n)
            return n;
    }
    return 0;
}

/* Drop every assigned queue that keep(m, arg) refuses: chosen under c->lock,
 * dropped after it (drop_mq takes the lock itself). */
static void drop_assigned_unless(cm_consumer_t *c, bool (*keep)(const cm_mqstate_t *m, const void *arg),
                                 const void *arg)
{
    cm_mqstate_t **drop = NULL;
    size_t ndrop = 0;
    pthread_mutex_lock(&c->lock);
    for (cm_mqstate_t *m = c->mqs; m; m = m->next) {
        if (m->assigned && !keep(m, arg)) {
            drop = rmq_realloc(drop, (ndrop + 1) * sizeof(*drop));
            drop[ndrop++] = m;
        }
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ndrop; i++)
        drop_mq(c, drop[i]);
    free(drop);
}

/* The queues rebalance_topic allocated to us: r->sub[idx[0..n)] of topic. */
typedef struct {
    const char *topic;
    const cm_route_t *r;
    const size_t *idx;
    size_t n;
} alloc_set_t;

static bool in_alloc_set(const cm_mqstate_t *m, const void *arg)
{
    const alloc_set_t *a = arg;
    if (strcmp(m->topic, a->topic) != 0)
        return true; /* another topic's rebalance decides about it */
    for (size_t i = 0; i < a->n; i++)
        if (a->r->sub[a->idx[i]].queue_id == m->qid &&
            strcmp(a->r->sub[a->idx[i]].broker_name, m->broker) == 0)
            return true;
    return false;
}

/* The queues an application assigned by hand (cm_consumer_set_assignment). */
typedef struct {
    const comet_message_queue_t *mqs;
    size_t n;
} mq_list_t;

static bool in_mq_list(const cm_mqstate_t *m, const void *arg)
{
    const mq_list_t *l = arg;
    return mq_list_has(l->mqs, l->n, m->topic, m->broker, m->qid);
}

static void rebalance_topic(cm_consumer_t *c, const char *topic)
{
    rmq_err_t re;
    char err[256];
    cm_route_t *r = cm_route_get(c->inst, topic, true, &re, err, sizeof(err));
    if (!r) {
        cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: rebalance %s: %s", c->group, topic, err);
        return;
    }
    size_t *idx = rmq_calloc(r->nsub + 1, sizeof(size_t));
    size_t nalloc = 0;
    char **cids = NULL;
    size_t ncids = 0;
    if (c->broadcasting) {
        for (size_t i = 0; i < r->nsub; i++)
            idx[nalloc++] = i;
    } else {
        ncids = fetch_cids(c, r, &cids);
        if (ncids == 0) {
            cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: no consumer id list for %s yet", c->group, topic);
            free(idx);
            cm_route_release(r);
            return;
        }
        cm_sort_strings(cids, ncids);
        nalloc = cm_allocate_averagely(r->nsub, (const char *const *)cids, ncids,
                                       cm_instance_client_id(c->inst), idx);
    }
    /* drop what is no longer ours */
    const alloc_set_t set = {topic, r, idx, nalloc};
    drop_assigned_unless(c, in_alloc_set, &set);
    for (size_t i = 0; i < nalloc; i++)
        add_mq(c, topic, r->sub[idx[i]].broker_name, r->sub[idx[i]].queue_id, -1);
    for (size_t i = 0; i < ncids; i++)
        free(cids[i]);
    free(cids);
    free(idx);
    cm_route_release(r);
}

void cm_consumer_set_assignment(cm_consumer_t *c, const comet_message_queue_t *mqs, size_t n)
{
    const mq_list_t list = {mqs, n};
    pthread_mutex_lock(&c->lock);
    free(c->manual);
    c->manual = rmq_calloc(n ? n : 1, sizeof(*mqs));
    if (n)
        memcpy(c->manual, mqs, n * sizeof(*mqs));
    c->nmanual = n;
    pthread_mutex_unlock(&c->lock);
    drop_assigned_unless(c, in_mq_list, &list);
    for (size_t i = 0; i < n; i++) {
        cm_route_t *r = cm_route_get(c->inst, mqs[i].topic, true, NULL, NULL, 0);
        cm_route_release(r);
        add_mq(c, mqs[i].topic, mqs[i].broker_name, mqs[i].queue_id, -1);
    }
}

/* Assigned queues whose start offset was unknown when assign() ran (Java's
 * lite pull task computes the offset again at its next run). Service thread. */
static void assign_pending(cm_consumer_t *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    comet_message_queue_t *todo = rmq_calloc(c->nmanual + 1, sizeof(*todo));
    for (size_t i = 0; i < c->nmanual; i++) {
        const comet_message_queue_t *q = &c->manual[i];
        cm_mqstate_t *mq = find_mq(c, q->topic, q->broker_name, q->queue_id);
        if (!mq || !mq->assigned)
            todo[n++] = *q;
    }
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < n && c->running; i++)
        add_mq(c, todo[i].topic, todo[i].broker_name, todo[i].queue_id, -1);
    free(todo);
}

rmq_err_t cm_consumer_seek(cm_consumer_t *c, const char *topic, const char *broker, int32_t qid,
                           int64_t offset)
{
    if (offset < 0)
        return RMQ_ERR__INVALID_ARG;
    /* an assigned queue still waiting for its start offset starts here */
    pthread_mutex_lock(&c->lock);
    cm_mqstate_t *mq = find_mq(c, topic, broker, qid);
    bool pending = (!mq || !mq->assigned) && in_manual(c, topic, broker, qid);
    pthread_mutex_unlock(&c->lock);
    if (pending)
        add_mq(c, topic, broker, qid, offset);
    pthread_mutex_lock(&c->lock);
    mq = find_mq(c, topic, broker, qid);
    rmq_err_t e = RMQ_ERR__STATE;
    if (mq && mq->assigned) {
        mq->gen++;
        mq->next_offset = offset;
        start_chain(mq); /* do not wait for a long poll in flight */
        e = RMQ_OK;
    }
    pthread_mutex_unlock(&c->lock);
    return e;
}

/* ---------------- broker-pushed offset resets (mqadmin resetOffsetByTime) ---------------- */

typedef struct cm_reset_s {
    char topic[COMET_NAME_MAX];
    char broker[COMET_NAME_MAX];
    int32_t qid;
    int64_t offset;
    struct cm_reset_s *next;
} cm_reset_t;

/* ResetOffsetBody: {"offsetTable":{{"brokerName":..,"queueId":..,"topic":..}:offset,...}}
 * (fastjson writes MessageQueue keys as inline objects). */
static cm_reset_t *parse_reset_body(const char *p, size_t n)
{
    cm_reset_t *head = NULL;
    const char *end = p + n;
    const char *t = memmem(p, n, "\"offsetTable\"", 13);
    if (!t)
        return NULL;
    t = memchr(t, '{', (size_t)(end - t));
    if (!t)
        return NULL;
    t++;
    while (t < end) {
        const char *k = memchr(t, '{', (size_t)(end - t));
        if (!k)
            break;
        const char *ke = memchr(k, '}', (size_t)(end - k));
        if (!ke)
            break;
        char err[64];
        json_t *key = rmq_json_parse(k, (size_t)(ke - k + 1), err, sizeof(err));
        const char *colon = ke + 1;
        while (colon < end && (*colon == ' ' || *colon == ':'))
            colon++;
        char *num_end = NULL;
        long long off = strtoll(colon, &num_end, 10);
        const char *topic = key ? rmq_json_str(key, "topic") : NULL;
        const char *bn = key ? rmq_json_str(key, "brokerName") : NULL;
        int64_t q = -1;
        if (key)
            rmq_json_int(key, "queueId", &q);
        if (topic && bn && q >= 0 && num_end != colon) {
            cm_reset_t *r = rmq_calloc(1, sizeof(*r));
            snprintf(r->topic, sizeof(r->topic), "%s", topic);
            snprintf(r->broker, sizeof(r->broker), "%s", bn);
            r->qid = (int32_t)q;
            r->offset = off;
            r->next = head;
            head = r;
        }
        json_decref(key);
        t = num_end && num_end > ke ? num_end : ke + 1;
    }
    return head;
}

static void role_reset(void *ctx, const rmq_cmd_t *req)
{
    cm_consumer_t *c = ctx;
    const char *group = rmq_cmd_ext(req, "group");
    if (!group || strcmp(group, c->group) != 0 || !req->body)
        return;
    cm_reset_t *list = parse_reset_body((const char *)req->body, req->body_len);
    pthread_mutex_lock(&c->lock);
    while (list) {
        cm_reset_t *next = list->next;
        list->next = c->resets;
        c->resets = list;
        list = next;
    }
    pthread_mutex_unlock(&c->lock);
}

/* Service thread: drop the queue (its cached messages are forgotten), store
 * the new offset, and let the rebalance take the queue again from there. */
static bool apply_resets(cm_consumer_t *c)
{
    pthread_mutex_lock(&c->lock);
    cm_reset_t *r = c->resets;
    c->resets = NULL;
    pthread_mutex_unlock(&c->lock);
    bool any = r != NULL;
    while (r) {
        cm_reset_t *next = r->next;
        pthread_mutex_lock(&c->lock);
        cm_mqstate_t *mq = find_mq(c, r->topic, r->broker, r->qid);
        pthread_mutex_unlock(&c->lock);
        if (mq)
            drop_mq(c, mq);
        cm_offset_store_update(&c->offsets, r->topic, r->broker, r->qid, r->offset, false);
        cm_offset_store_persist_one(&c->offsets, r->topic, r->broker, r->qid, true);
        cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: offset of %s/%s/%d reset to %lld", c->group, r->topic,
               r->broker, r->qid, (long long)r->offset);
        if (mq && c->manual_assign && !c->push)
            add_mq(c, r->topic, r->broker, r->qid, r->offset);
        free(r);
        r = next;
    }
    return any;
}

/* ---------------- ticks and lifecycle ---------------- */

void cm_consumer_tick(cm_consumer_t *c, int64_t now, bool force)
{
    if (!c->running)
        return;
    if (apply_resets(c))
        force = true;
    if (c->manual_assign && !c->push && now - c->last_pending >= 1000) {
        c->last_pending = now;
        assign_pending(c);
    }
    if (!c->manual_assign && (force || now - c->last_rebalance >= c->s->rebalanceInterval)) {
        c->last_rebalance = now;
        for (size_t i = 0; i < c->nsubs && c->running; i++)
            rebalance_topic(c, c->subs[i].topic);
    }
    int lock_interval = c->s->rebalanceInterval < 20000 ? c->s->rebalanceInterval : 20000;
    if (needs_locks(c) && now - c->last_lock >= lock_interval) {
        c->last_lock = now;
        lock_all(c, RMQ_REQ_LOCK_BATCH_MQ, false);
    }
    if (now - c->last_persist >= c->s->persistConsumerOffsetInterval) {
        c->last_persist = now;
        cm_consumer_sync_offsets(c, NULL);
        cm_offset_store_persist_all(&c->offsets, false);
    }
}

void cm_consumer_consumed(cm_consumer_t *c, cm_pq_t *pq, const char *topic, const char *broker, int32_t qid,
                          const int64_t *offsets, size_t n)
{
    (void)c, (void)topic, (void)broker, (void)qid;
    cm_pq_remove(pq, offsets, n);
}

/* One queue's commit offset into the store (its pq held by the caller). */
static void sync_one(cm_consumer_t *c, cm_mqstate_t *mq, cm_pq_t *pq)
{
    int64_t off = cm_pq_commit_offset(pq);
    if (off >= 0 && !pq->dropped)
        cm_offset_store_update(&c->offsets, mq->topic, mq->broker, mq->qid, off, true);
}

void cm_consumer_sync_offsets(cm_consumer_t *c, cm_mqstate_t *only)
{
    if (!c->push)
        return; /* pull consumers commit with commit() */
    pthread_mutex_lock(&c->lock);
    for (cm_mqstate_t *mq = only ? only : c->mqs; mq; mq = only ? NULL : mq->next) {
        cm_pq_t *pq = mq->assigned ? mq->pq : NULL;
        if (!pq)
            continue;
        cm_pq_hold(pq);
        pthread_mutex_unlock(&c->lock);
        sync_one(c, mq, pq);
        cm_pq_release(pq);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
}

/* When CONSUMER_SEND_MSG_BACK fails (e.g. the message's broker is down), Java
 * sends the message itself to %RETRY%<group> through its internal producer,
 * preferring another broker: same here, with SEND_MESSAGE_V2. Blocking. */
static rmq_err_t send_back_fallback(cm_consumer_t *c, const comet_message_ext_t *m, int delay_level)
{
    char retry[COMET_NAME_MAX];
    snprintf(retry, sizeof(retry), "%s%s", RMQ_RETRY_PREFIX, c->group);
    rmq_err_t e;
    char err[256];
    cm_route_t *r = cm_route_get(c->inst, retry, true, &e, err, sizeof(err));
    if (!r)
        return e;
    _Atomic uint32_t counter = (uint32_t)rmq_mono_us();
    int idx = cm_select_queue(r, &counter, m->broker_name, false, NULL, 0, NULL, 0, NULL);
    const char *addr = idx >= 0 ? cm_route_master_addr(r, r->pub[idx].broker_name) : NULL;
    if (!addr) {
        cm_route_release(r);
        return RMQ_ERR__NO_ROUTE;
    }
    int max = c->s->maxReconsumeTimes < 0 ? 16 : c->s->maxReconsumeTimes;
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    for (size_t i = 0; i < m->props.n; i++)
        rmq_msg_props_set(&props, m->props.items[i].key, m->props.items[i].value);
    rmq_msg_props_del(&props, RMQ_PROP_MIN_OFFSET);
    rmq_msg_props_del(&props, RMQ_PROP_MAX_OFFSET);
    rmq_msg_props_del(&props, "TRAN_MSG");
    if (!rmq_msg_props_get(&props, "ORIGIN_MESSAGE_ID"))
        rmq_msg_props_set(&props, "ORIGIN_MESSAGE_ID", m->msg_id);
    rmq_msg_props_set(&props, "RETRY_TOPIC", m->topic);
    char num[24];
    snprintf(num, sizeof(num), "%d", delay_level > 0 ? delay_level : 3 + m->reconsume_times);
    rmq_msg_props_set(&props, RMQ_PROP_DELAY, num);
    rmq_buf_t pb;
    rmq_buf_init(&pb);
    rmq_msg_props_encode(&props, &pb);
    rmq_msg_props_free(&props);
    rmq_cmd_t *req =
        cm_send_cmd_new(c->s, RMQ_REQ_SEND_MESSAGE_V2, retry, r->pub[idx].queue_id, 0, rmq_now_ms(), m->flag,
                        rmq_buf_cstr(&pb), false, r->pub[idx].broker_name, m->body, m->body_len);
    rmq_buf_free(&pb);
    rmq_cmd_set_ext(req, "a", "CLIENT_INNER_PRODUCER");
    rmq_cmd_set_ext_i64(
        req, "j", m->reconsume_times + 1); /* RECONSUME_TIME / MAX_RECONSUME_TIMES travel in the header */
    rmq_cmd_set_ext_i64(req, "l", max);
    char a[256];
    snprintf(a, sizeof(a), "%s", addr);
    cm_route_release(r);
    rmq_cmd_t resp;
    e = cm_request_sync(c->inst, a, req, c->s->mqClientApiTimeout, &resp);
    rmq_cmd_destroy(req);
    if (e != RMQ_OK)
        return e;
    e = (resp.code == 0 || resp.code == 10 || resp.code == 11 || resp.code == 12) ? RMQ_OK
                                                                                  : (rmq_err_t)resp.code;
    rmq_cmd_deinit(&resp);
    if (e == RMQ_OK)
        cm_log(c->inst, RMQ_LOG_INFO, FAC, "%s: message %s sent back through %s on %s", c->group, m->msg_id,
               retry, a);
    return e;
}

static rmq_err_t send_back_direct(cm_consumer_t *c, const comet_message_ext_t *m, int delay_level)
{
    char addr[256];
    if (!cm_broker_master_addr(c->inst, m->broker_name, addr, sizeof(addr)))
        return RMQ_ERR__NO_ROUTE;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_CONSUMER_SEND_MSG_BACK);
    rmq_cmd_set_ext_i64(&req, "maxReconsumeTimes",
                        c->s->maxReconsumeTimes < 0 ? 16 : c->s->maxReconsumeTimes);
    rmq_cmd_set_ext_i64(&req, "offset", m->commitlog_offset);
    rmq_cmd_set_ext(&req, "bname", m->broker_name);
    rmq_cmd_set_ext_i64(&req, "delayLevel", delay_level);
    rmq_cmd_set_ext(&req, "originTopic", m->topic);
    rmq_cmd_set_ext(&req, "originMsgId", m->msg_id);
    rmq_cmd_set_ext(&req, "unitMode", "false");
    rmq_cmd_set_ext(&req, "group", c->group);
    rmq_err_t e = cm_request_sync(c->inst, addr, &req, c->s->mqClientApiTimeout, &resp);
    rmq_cmd_deinit(&req);
    if (e != RMQ_OK)
        return e;
    e = resp.code == 0 ? RMQ_OK : (rmq_err_t)resp.code;
    rmq_cmd_deinit(&resp);
    return e;
}

rmq_err_t cm_consumer_send_back(cm_consumer_t *c, const comet_message_ext_t *m, int delay_level)
{
    rmq_err_t e = send_back_direct(c, m, delay_level);
    if (e == RMQ_OK || delay_level < 0)
        return e;
    cm_log(c->inst, RMQ_LOG_INFO, FAC,
           "%s: CONSUMER_SEND_MSG_BACK of %s failed (%s), sending it to the retry topic", c->group, m->msg_id,
           rmq_err2str(e));
    return send_back_fallback(c, m, delay_level);
}

static void role_tick(void *ctx, int64_t now, bool force)
{
    cm_consumer_tick(ctx, now, force);
}
static void role_hb(void *ctx, void *jw)
{
    cm_consumer_write_heartbeat(ctx, jw);
}

void cm_consumer_init(cm_consumer_t *c, cm_instance_t *inst, const cm_settings_t *s, bool push, void *owner,
                      const cm_consumer_ops_t *ops)
{
    memset(c, 0, sizeof(*c));
    c->inst = inst;
    c->s = s;
    c->push = push;
    c->owner = owner;
    c->ops = *ops;
    c->group = rmq_strdup(s->consumerGroup);
    c->broadcasting = s->messageModel == CM_BROADCASTING;
    c->orderly = push && s->consumeOrderly;
    pthread_mutex_init(&c->lock, NULL);
    cm_offset_store_init(&c->offsets, inst, c->group, c->broadcasting, s->localOffsetStoreDir);
}

void cm_consumer_attach(cm_consumer_t *c)
{
    if (has_retry_sub(c)) {
        char rt[COMET_NAME_MAX];
        snprintf(rt, sizeof(rt), "%s%s", RMQ_RETRY_PREFIX, c->group);
        if (!find_sub(c, rt))
            cm_consumer_subscribe(c, rt, "*");
    }
    cm_role_t role = {0};
    role.on_service_tick = role_tick;
    role.consumer_heartbeat = role_hb;
    role.on_reset_offset = role_reset;
    role.ctx = c;
    cm_instance_set_role(c->inst, &role);
    c->running = true;
}

void cm_consumer_stop(cm_consumer_t *c)
{
    c->running = false;
    cm_consumer_sync_offsets(c, NULL);
    cm_offset_store_persist_all(&c->offsets, true);
    if (needs_locks(c))
        lock_all(c, RMQ_REQ_UNLOCK_BATCH_MQ, false);
    cm_instance_stop(c->inst, NULL, c->group);
}

void cm_consumer_destroy(cm_consumer_t *c)
{
    cm_instance_destroy(c->inst);
    cm_consumer_deinit(c);
}

void cm_consumer_deinit(cm_consumer_t *c)
{
    cm_mqstate_t *m = c->mqs;
    while (m) {
        cm_mqstate_t *next = m->next;
        cm_pq_release(m->pq);
        free(m);
        m = next;
    }
    c->mqs = NULL;
    free(c->manual);
    c->manual = NULL;
    c->nmanual = 0;
    while (c->resets) {
        cm_reset_t *next = c->resets->next;
        free(c->resets);
        c->resets = next;
    }
    for (size_t i = 0; i < c->nsubs; i++)
        cm_sub_free(&c->subs[i]);
    free(c->subs);
    cm_offset_store_deinit(&c->offsets);
    free(c->group);
    pthread_mutex_destroy(&c->lock);
}
