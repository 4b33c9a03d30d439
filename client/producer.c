/* producer.c - DefaultMQProducer: sync / async / oneway / batch / orderly
 * sends with Java 4.9.8's retry rules (docs/protocol.md §7).
 *
 * Threads: sync sends run their retry loop on the calling application
 * thread (blocking requests through the instance). Async sends pick the
 * first queue on the calling thread; their response and retries run on the
 * I/O thread, and the result is handed to the callback thread. The fault
 * table and the route cache are the only shared state (locked inside). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "comet_int.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_conn.h"
#include "rmq_log.h"
#include "rmq_service.h" /* rmq_cond_init, rmq_cond_wait_ms */
#include "rmq_time.h"

#define FAC "producer"

struct comet_producer_s {
    comet_conf_t *conf;
    const cm_settings_t *s;
    cm_instance_t *inst;
    cm_fault_t fault;
    _Atomic uint32_t counter;
    _Atomic int outq;
    pthread_mutex_t flush_lock;
    pthread_cond_t flush_cond;
    bool started;
    bool shut;
    atomic_bool txn_heartbeat; /* transaction.c: first half message sent */
};

/* One encoded send (kept for retries). */
typedef struct send_req_s {
    int code; /* SEND_MESSAGE_V2 or SEND_BATCH_MESSAGE */
    char *topic;
    uint8_t *body;
    size_t body_len;
    bool topic_borrowed, body_borrowed; /* the message's own (a sync send: it outlives the call) */
    char *props;
    int32_t sys_flag;
    int32_t flag;
    bool batch;
    char uniq[COMET_MSGID_MAX];
    int64_t born;
} send_req_t;

static void send_req_free(send_req_t *sr)
{
    if (!sr->topic_borrowed)
        free(sr->topic);
    if (!sr->body_borrowed)
        free(sr->body);
    free(sr->props);
}

static comet_err_t check_msg(comet_producer_t *p, const comet_message_t *m, char *errstr, size_t n)
{
    if (!m) {
        cm_errstr(errstr, n, "NULL message");
        return COMET_ERR__INVALID_ARG;
    }
    char why[RMQ_TOPIC_MAX_LEN + 128];
    if (rmq_topic_invalid(m->topic, why, sizeof(why))) {
        cm_errstr(errstr, n, "%s", why);
        return COMET_ERR__INVALID_ARG;
    }
    if (m->body_len == 0) {
        cm_errstr(errstr, n, "the message body is empty");
        return COMET_ERR__INVALID_ARG;
    }
    if (m->body_len > (size_t)p->s->maxMessageSize) {
        cm_errstr(errstr, n, "message body %zu bytes > maxMessageSize %d", m->body_len, p->s->maxMessageSize);
        return COMET_ERR__TOO_LARGE;
    }
    return COMET_ERR_NO_ERROR;
}

/* borrow: the message outlives the send (sync sends): its topic and body
 * are used in place. */
static comet_err_t encode_one(comet_producer_t *p, const comet_message_t *m, send_req_t *sr, char *errstr,
                              size_t n, bool borrow)
{
    memset(sr, 0, sizeof(*sr));
    comet_err_t e = check_msg(p, m, errstr, n);
    if (e)
        return e;
    sr->code = RMQ_REQ_SEND_MESSAGE_V2;
    sr->topic = borrow ? m->topic : rmq_strdup(m->topic);
    sr->topic_borrowed = borrow;
    sr->flag = m->flag;
    const char *uk = rmq_msg_props_get(&m->props, RMQ_PROP_UNIQ_KEY);
    if (uk)
        cm_strcpy(sr->uniq, sizeof(sr->uniq), uk);
    else
        cm_uniq_key(sr->uniq);
    rmq_buf_t pb;
    rmq_buf_init(&pb);
    cm_message_encode_props(m, sr->uniq, &pb);
    rmq_buf_cstr(&pb);
    sr->props = (char *)rmq_buf_detach(&pb, NULL);
    if (p->s->compressMsgBodyOverHowmuch > 0 && m->body_len >= (size_t)p->s->compressMsgBodyOverHowmuch) {
        uLongf clen = compressBound(m->body_len);
        uint8_t *c = rmq_malloc(clen);
        if (c && compress2(c, &clen, m->body, m->body_len, p->s->compressLevel) == Z_OK) {
            sr->body = c;
            sr->body_len = clen;
            sr->sys_flag |= RMQ_SYSFLAG_COMPRESSED | (3 << 8);
        } else
            free(c);
    }
    if (!sr->body && borrow) {
        sr->body = (uint8_t *)m->body;
        sr->body_len = m->body_len;
        sr->body_borrowed = true;
    } else if (!sr->body) {
        sr->body = rmq_malloc(m->body_len);
        memcpy(sr->body, m->body, m->body_len);
        sr->body_len = m->body_len;
    }
    const char *tran = rmq_msg_props_get(&m->props, RMQ_PROP_TRAN_MSG);
    if (tran && !strcmp(tran, "true"))
        sr->sys_flag |= RMQ_SYSFLAG_TRANSACTION_PREPARED; /* sendKernelImpl */
    sr->born = rmq_now_ms();
    return COMET_ERR_NO_ERROR;
}

static comet_err_t encode_batch(comet_producer_t *p, const comet_message_t *const *msgs, size_t cnt,
                                send_req_t *sr, char *errstr, size_t n)
{
    memset(sr, 0, sizeof(*sr));
    if (!msgs || cnt == 0) {
        cm_errstr(errstr, n, "empty batch");
        return COMET_ERR__INVALID_ARG;
    }
    rmq_buf_t body, pb;
    rmq_buf_init(&body);
    for (size_t i = 0; i < cnt; i++) {
        comet_err_t e = check_msg(p, msgs[i], errstr, n);
        if (!e && strcmp(msgs[i]->topic, msgs[0]->topic) != 0) {
            cm_errstr(errstr, n, "a batch must have one topic");
            e = COMET_ERR__INVALID_ARG;
        }
        if (!e && rmq_msg_props_get(&msgs[i]->props, RMQ_PROP_DELAY)) {
            cm_errstr(errstr, n, "a batch cannot carry delay levels");
            e = COMET_ERR__INVALID_ARG;
        }
        if (!e && rmq_topic_is_retry(msgs[i]->topic)) {
            cm_errstr(errstr, n, "retry topics cannot be batched");
            e = COMET_ERR__INVALID_ARG;
        }
        if (e) {
            rmq_buf_free(&body);
            return e;
        }
        char uniq[COMET_MSGID_MAX];
        const char *uk = rmq_msg_props_get(&msgs[i]->props, RMQ_PROP_UNIQ_KEY);
        if (uk)
            snprintf(uniq, sizeof(uniq), "%s", uk);
        else
            cm_uniq_key(uniq);
        if (i == 0)
            snprintf(sr->uniq, sizeof(sr->uniq), "%s", uniq);
        rmq_buf_init(&pb);
        cm_message_encode_props(msgs[i], uniq, &pb);
        rmq_msg_batch_encode_one(&body, msgs[i]->flag, msgs[i]->body, msgs[i]->body_len,
                                 (const char *)pb.data, pb.len);
        rmq_buf_free(&pb);
    }
    if (body.len > (size_t)p->s->maxMessageSize) {
        cm_errstr(errstr, n, "batch of %zu bytes > maxMessageSize %d", body.len, p->s->maxMessageSize);
        rmq_buf_free(&body);
        return COMET_ERR__TOO_LARGE;
    }
    sr->code = RMQ_REQ_SEND_BATCH_MESSAGE;
    sr->batch = true;
    sr->topic = rmq_strdup(msgs[0]->topic);
    sr->props = rmq_strdup("WAIT\001true");
    sr->body = rmq_buf_detach(&body, &sr->body_len);
    sr->born = rmq_now_ms();
    return COMET_ERR_NO_ERROR;
}

/* The header of a SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request as Java 4.9.8
 * writes it (the body is the caller's). */
static void send_cmd_fill(rmq_cmd_t *c, const cm_settings_t *s, int code, const char *topic, int32_t qid,
                          int32_t sys_flag, int64_t born, int32_t flag, const char *props, bool batch,
                          const char *broker)
{
    rmq_cmd_init_request(c, code);
    rmq_cmd_set_ext(c, "a", s->producerGroup);
    rmq_cmd_set_ext(c, "b", topic);
    rmq_cmd_set_ext(c, "c", s->createTopicKey);
    rmq_cmd_set_ext_i64(c, "d", s->defaultTopicQueueNums);
    rmq_cmd_set_ext_i64(c, "e", qid);
    rmq_cmd_set_ext_i64(c, "f", sys_flag);
    rmq_cmd_set_ext_i64(c, "g", born);
    rmq_cmd_set_ext_i64(c, "h", flag);
    rmq_cmd_set_ext(c, "i", props);
    rmq_cmd_set_ext(c, "j", "0");
    rmq_cmd_set_ext(c, "k", "false");
    rmq_cmd_set_ext(c, "m", batch ? "true" : "false");
    rmq_cmd_set_ext(c, "n", broker);
}

rmq_cmd_t *cm_send_cmd_new(const cm_settings_t *s, int code, const char *topic, int32_t qid, int32_t sys_flag,
                           int64_t born, int32_t flag, const char *props, bool batch, const char *broker,
                           const void *body, size_t body_len)
{
    rmq_cmd_t *c = rmq_cmd_new();
    send_cmd_fill(c, s, code, topic, qid, sys_flag, born, flag, props, batch, broker);
    rmq_cmd_set_body(c, body, body_len);
    return c;
}

static rmq_cmd_t *build_cmd(comet_producer_t *p, const send_req_t *sr, const char *broker, int32_t qid)
{
    return cm_send_cmd_new(p->s, sr->code, sr->topic, qid, sr->sys_flag, sr->born, sr->flag, sr->props,
                           sr->batch, broker, sr->body, sr->body_len);
}

/* One extFields entry of a binary header: u16 key length, key, u32 value
 * length, value. */
static uint8_t *bin_kv(uint8_t *d, const char *k, const char *v, size_t vl)
{
    size_t kl = strlen(k);
    d[0] = (uint8_t)(kl >> 8), d[1] = (uint8_t)kl;
    memcpy(d + 2, k, kl);
    d += 2 + kl;
    d[0] = (uint8_t)(vl >> 24), d[1] = (uint8_t)(vl >> 16), d[2] = (uint8_t)(vl >> 8), d[3] = (uint8_t)vl;
    memcpy(d + 4, v, vl);
    return d + 4 + vl;
}

static size_t dec(char *t, int64_t v) /* decimal text into t[24], returns its length (at t + 24 - len) */
{
    char *e = t + 24, *d = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--d = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--d = '-';
    return (size_t)(e - d);
}

void cm_send_frame_binary(const cm_settings_t *s, int code, int32_t opaque, const char *topic, int32_t qid,
                          int32_t sys_flag, int64_t born, int32_t flag, const char *props, bool batch,
                          const char *broker, const void *body, size_t body_len, cm_frame_t *out)
{
    const char *sv[13];
    size_t sl[13];
    char num[5][24];
    const char *keys = "abcdefghijkmn";
    int64_t nums[5] = {s->defaultTopicQueueNums, qid, sys_flag, born, flag};
    sv[0] = s->producerGroup, sv[1] = topic, sv[2] = s->createTopicKey, sv[8] = props;
    sv[9] = "0", sv[10] = "false", sv[11] = batch ? "true" : "false", sv[12] = broker;
    for (int i = 0; i < 5; i++) {
        sl[3 + i] = dec(num[i], nums[i]);
        sv[3 + i] = num[i] + 24 - sl[3 + i];
    }
    size_t ext = 0;
    for (int i = 0; i < 13; i++) {
        if (i < 3 || i > 7)
            sl[i] = sv[i] ? strlen(sv[i]) : 0;
        if (sv[i])
            ext += 2 + 1 + 4 + sl[i];
    }
    size_t hlen = 2 + 1 + 2 + 4 + 4 + 4 + 4 + ext;
    size_t len = 8 + hlen + body_len;
    uint8_t *f = rmq_malloc(len), *d = f;
    rmq_wbe32(d, (uint32_t)(len - 4));
    rmq_wbe32(d + 4, ((uint32_t)RMQ_SERIALIZE_ROCKETMQ << 24) | (uint32_t)hlen);
    d += 8;
    d[0] = (uint8_t)(code >> 8), d[1] = (uint8_t)code;
    d[2] = RMQ_LANG_JAVA;
    d[3] = (uint8_t)(RMQ_VERSION_CURRENT >> 8), d[4] = (uint8_t)RMQ_VERSION_CURRENT;
    rmq_wbe32(d + 5, (uint32_t)opaque);
    rmq_wbe32(d + 9, 0);  /* flag: a request */
    rmq_wbe32(d + 13, 0); /* no remark */
    rmq_wbe32(d + 17, (uint32_t)ext);
    d += 21;
    for (int i = 0; i < 13; i++) {
        if (!sv[i])
            continue; /* rmq_cmd_set_ext(NULL) sets nothing */
        char k[2] = {keys[i], 0};
        d = bin_kv(d, k, sv[i], sl[i]);
    }
    memcpy(d, body, body_len);
    out->data = f;
    out->len = len;
    out->opaque = opaque;
}

/* The request frame of an attempt, encoded on the calling thread: binary
 * headers (the default) are written directly, anything else (JSON, or a
 * signature over the fields) through an rmq_cmd_t. */
static void build_frame(comet_producer_t *p, const send_req_t *sr, const char *broker, int32_t qid,
                        cm_frame_t *out)
{
    if (cm_instance_plain_binary(p->inst)) {
        cm_send_frame_binary(p->s, sr->code, rmq_conn_next_opaque(), sr->topic, qid, sr->sys_flag, sr->born,
                             sr->flag, sr->props, sr->batch, broker, sr->body, sr->body_len, out);
        return;
    }
    rmq_cmd_t c;
    send_cmd_fill(&c, p->s, sr->code, sr->topic, qid, sr->sys_flag, sr->born, sr->flag, sr->props, sr->batch,
                  broker);
    cm_frame_encode(p->inst, &c, sr->body, sr->body_len, out);
    rmq_cmd_deinit(&c);
}

/* MQFaultStrategy.updateFaultItem: only with sendLatencyFaultEnable */
static void fault_update(comet_producer_t *p, const char *broker, int64_t latency, bool isolation,
                         int64_t now)
{
    if (p->s->sendLatencyFaultEnable)
        cm_fault_update(&p->fault, broker, latency, isolation, now);
}

static bool stored_code(int code)
{
    return code == 0 || code == 10 || code == 11 || code == 12;
}
static bool retry_code(int code)
{
    return code == 17 || code == 14 || code == 1 || code == 16 || code == 204 || code == 205;
}
static comet_send_status_t status_of(int code)
{
    switch (code) {
    case 10:
        return COMET_SEND_FLUSH_DISK_TIMEOUT;
    case 12:
        return COMET_SEND_FLUSH_SLAVE_TIMEOUT;
    case 11:
        return COMET_SEND_SLAVE_NOT_AVAILABLE;
    default:
        return COMET_SEND_OK;
    }
}

static void fill_ok(comet_send_result_t *res, const send_req_t *sr, const char *broker, int32_t qid,
                    const rmq_cmd_t *resp)
{
    res->err = COMET_ERR_NO_ERROR;
    res->status = status_of(resp->code);
    cm_strcpy(res->msg_id, sizeof(res->msg_id), sr->uniq);
    const char *mid = rmq_cmd_ext(resp, "msgId");
    if (mid) {
        const char *comma = strchr(mid, ',');
        size_t l = comma ? (size_t)(comma - mid) : strlen(mid);
        if (l >= sizeof(res->offset_msg_id))
            l = sizeof(res->offset_msg_id) - 1;
        memcpy(res->offset_msg_id, mid, l);
        res->offset_msg_id[l] = 0;
    }
    cm_strcpy(res->queue.topic, sizeof(res->queue.topic), sr->topic);
    cm_strcpy(res->queue.broker_name, sizeof(res->queue.broker_name), broker);
    int32_t q = qid;
    rmq_cmd_ext_i32(resp, "queueId", &q);
    res->queue.queue_id = q;
    int64_t off = -1;
    rmq_cmd_ext_i64(resp, "queueOffset", &off);
    res->queue_offset = off;
    res->errstr[0] = 0;
}

static void set_err(comet_send_result_t *res, comet_err_t e, const char *fmt, const char *a, const char *b)
{
    res->err = e;
    snprintf(res->errstr, sizeof(res->errstr), fmt, a ? a : "", b ? b : "");
}

/* Choose (broker, queue id) for an attempt. */
static bool choose(comet_producer_t *p, cm_route_t *r, const char *last, char *broker, size_t bn,
                   int32_t *qid)
{
    char alt[COMET_NAME_MAX];
    int32_t alt_q = -1;
    int idx = cm_select_queue(r, &p->counter, last, p->s->sendLatencyFaultEnable, &p->fault, rmq_mono_ms(),
                              alt, sizeof(alt), &alt_q);
    if (idx < 0)
        return false;
    if (alt_q >= 0) {
        cm_strcpy(broker, bn, alt);
        *qid = alt_q;
    } else {
        cm_strcpy(broker, bn, r->pub[idx].broker_name);
        *qid = r->pub[idx].queue_id;
    }
    return true;
}

/* The sync retry loop (sendDefaultImpl). fixed_broker != NULL: one attempt to that queue. */
static comet_err_t send_sync(comet_producer_t *p, const send_req_t *sr, comet_send_result_t *res,
                             int timeout_ms, const char *fixed_broker, int32_t fixed_qid)
{
    int64_t begin = rmq_mono_ms();
    int64_t deadline = begin + (timeout_ms < 0 ? p->s->sendMsgTimeout : timeout_ms);
    int times = fixed_broker ? 1 : 1 + p->s->retryTimesWhenSendFailed;
    char last[COMET_NAME_MAX] = "";
    bool have_result = false;
    comet_send_result_t stored; /* last answer that says "stored" (retryAnotherBrokerWhenNotStoreOK) */
    res->err = COMET_ERR__NO_ROUTE;
    res->errstr[0] = 0;
    res->attempts = 0;
    for (int attempt = 0; attempt < times; attempt++) {
        int64_t now = rmq_mono_ms();
        if (now >= deadline) {
            if (!have_result)
                set_err(res, COMET_ERR__TIMED_OUT, "send timeout: %s%s",
                        "sendMsgTimeout used up before retry", NULL);
            break;
        }
        rmq_err_t re;
        char err[256] = "";
        cm_route_t *r = cm_route_get(p->inst, sr->topic, true, &re, err, sizeof(err));
        if (!r) {
            set_err(res, re == RMQ_ERR_TOPIC_NOT_EXIST ? COMET_ERR_TOPIC_NOT_EXIST : (comet_err_t)re, "%s%s",
                    err, NULL);
            return res->err;
        }
        char broker[COMET_NAME_MAX];
        int32_t qid;
        if (fixed_broker) {
            snprintf(broker, sizeof(broker), "%s", fixed_broker);
            qid = fixed_qid;
        } else if (!choose(p, r, last[0] ? last : NULL, broker, sizeof(broker), &qid)) {
            cm_route_release(r);
            /* no group has a master now (a failover under way): the next
             * route refresh comes at once, not after pollNameServerInterval */
            cm_instance_want_route_refresh(p->inst);
            set_err(res, COMET_ERR__NO_ROUTE, "no writable queue for topic %s%s", sr->topic, NULL);
            return res->err;
        }
        char addr[256];
        const char *a = cm_route_master_addr(r, broker);
        bool have_addr = a != NULL;
        if (a)
            cm_strcpy(addr, sizeof(addr), a);
        cm_route_release(r);
        if (!have_addr && !cm_broker_master_addr(p->inst, broker, addr, sizeof(addr))) {
            cm_instance_want_route_refresh(p->inst);
            set_err(res, COMET_ERR__NO_ROUTE, "no master address for broker %s%s", broker, NULL);
            cm_strcpy(last, sizeof(last), broker);
            continue;
        }
        cm_frame_t fr;
        build_frame(p, sr, broker, qid, &fr);
        rmq_cmd_t resp;
        res->attempts++;
        int64_t t0 = rmq_mono_ms();
        rmq_err_t e = cm_request_frame_sync(p->inst, addr, &fr, (int)(deadline - t0), &resp);
        int64_t lat = rmq_mono_ms() - t0;
        cm_strcpy(last, sizeof(last), broker);
        if (e != RMQ_OK) {
            fault_update(p, broker, lat, true, rmq_mono_ms());
            cm_instance_want_route_refresh(p->inst);
            set_err(res, (comet_err_t)e, "send to %s failed: %s", addr, rmq_err2str(e));
            cm_log(p->inst, RMQ_LOG_INFO, FAC, "attempt %d: %s", res->attempts, res->errstr);
            continue;
        }
        if (stored_code(resp.code)) {
            fault_update(p, broker, lat, false, rmq_mono_ms());
            fill_ok(res, sr, broker, qid, &resp);
            have_result = true;
            stored = *res;
            rmq_cmd_deinit(&resp);
            if (res->status != COMET_SEND_OK && p->s->retryAnotherBrokerWhenNotStoreOK && !fixed_broker)
                continue;
            return COMET_ERR_NO_ERROR;
        }
        fault_update(p, broker, lat, true, rmq_mono_ms());
        res->err = (comet_err_t)resp.code;
        snprintf(res->errstr, sizeof(res->errstr), "broker %s: %s%s%s", broker, rmq_err2name(resp.code),
                 resp.remark ? ": " : "", resp.remark ? resp.remark : "");
        int code = resp.code;
        rmq_cmd_deinit(&resp);
        if (!retry_code(code))
            break; /* not retried; an earlier stored answer still wins (as Java) */
        /* 17: the topic moved; 14: the broker refuses writes (a slave now, or
         * a master that lost its etcd lease): the route may have changed */
        if (code == 17 || code == 14)
            cm_instance_want_route_refresh(p->inst);
    }
    if (have_result) {
        int attempts = res->attempts;
        *res = stored;
        res->attempts = attempts;
    }
    return res->err;
}

/* ---------------- public: lifecycle ---------------- */

static void no_tick(void *ctx, int64_t now, bool force)
{
    (void)ctx;
    (void)now;
    (void)force;
}

comet_producer_t *comet_producer_new(comet_conf_t *conf, char *errstr, size_t errstr_size)
{
    cm_instance_t *inst = cm_instance_for_group(conf, true, errstr, errstr_size);
    if (!inst)
        return NULL;
    comet_producer_t *p = rmq_calloc(1, sizeof(*p));
    p->s = &conf->s;
    p->inst = inst;
    p->conf = conf;
    cm_fault_init(&p->fault);
    p->counter = (uint32_t)rmq_mono_us();
    pthread_mutex_init(&p->flush_lock, NULL);
    rmq_cond_init(&p->flush_cond); /* CLOCK_MONOTONIC, for rmq_cond_wait_ms */
    cm_role_t role = {0};
    role.producer_group = conf->s.producerGroup;
    role.on_service_tick = no_tick;
    role.on_check_transaction = cm_txn_on_check;
    role.ctx = p;
    cm_instance_set_role(p->inst, &role);
    return p;
}

comet_err_t comet_producer_start(comet_producer_t *p, char *errstr, size_t errstr_size)
{
    if (!p)
        return COMET_ERR__INVALID_ARG;
    if (p->started)
        return cm_already_started(errstr, errstr_size);
    rmq_err_t e = cm_instance_start(p->inst, errstr, errstr_size);
    if (e == RMQ_OK)
        p->started = true;
    return (comet_err_t)e;
}

static comet_err_t check_started(comet_producer_t *p)
{
    if (!p)
        return COMET_ERR__INVALID_ARG;
    if (!p->started || p->shut)
        return COMET_ERR__STATE;
    return COMET_ERR_NO_ERROR;
}

/* ---------------- public: sends ---------------- */

/* The opening of every synchronous send: *res (the caller's, or local when
 * NULL) cleared, the producer's state checked, then the arguments (args_ok);
 * an error is also set in (*res)->err. */
static comet_err_t sync_open(comet_producer_t *p, bool args_ok, comet_send_result_t **res,
                             comet_send_result_t *local)
{
    if (!*res)
        *res = local;
    memset(*res, 0, sizeof(**res));
    comet_err_t e = check_started(p);
    if (!e && !args_ok)
        e = COMET_ERR__INVALID_ARG;
    (*res)->err = e;
    return e;
}

/* The close of a synchronous send: sr encoded (e == 0) is sent (to broker /
 * qid when given) and freed; the outcome in res. */
static comet_err_t sync_send_encoded(comet_producer_t *p, comet_err_t e, send_req_t *sr,
                                     comet_send_result_t *res, int timeout_ms, const char *broker,
                                     int32_t qid)
{
    if (e) {
        res->err = e;
        return e;
    }
    e = send_sync(p, sr, res, timeout_ms, broker, qid);
    send_req_free(sr);
    return e;
}

comet_err_t comet_producer_send(comet_producer_t *p, const comet_message_t *msg, comet_send_result_t *res,
                                int timeout_ms)
{
    comet_send_result_t local;
    comet_err_t e = sync_open(p, true, &res, &local);
    if (e) {
        snprintf(res->errstr, sizeof(res->errstr), "producer not started");
        return e;
    }
    send_req_t sr;
    e = encode_one(p, msg, &sr, res->errstr, sizeof(res->errstr), true);
    return sync_send_encoded(p, e, &sr, res, timeout_ms, NULL, -1);
}

comet_err_t comet_producer_send_batch(comet_producer_t *p, const comet_message_t *const *msgs, size_t cnt,
                                      comet_send_result_t *res, int timeout_ms)
{
    comet_send_result_t local;
    comet_err_t e = sync_open(p, true, &res, &local);
    if (e)
        return e;
    send_req_t sr;
    e = encode_batch(p, msgs, cnt, &sr, res->errstr, sizeof(res->errstr));
    return sync_send_encoded(p, e, &sr, res, timeout_ms, NULL, -1);
}

comet_err_t comet_producer_send_to_queue(comet_producer_t *p, const comet_message_t *msg,
                                         const comet_message_queue_t *mq, comet_send_result_t *res,
                                         int timeout_ms)
{
    comet_send_result_t local;
    comet_err_t e = sync_open(p, mq != NULL, &res, &local);
    if (e)
        return e;
    send_req_t sr;
    e = encode_one(p, msg, &sr, res->errstr, sizeof(res->errstr), true);
    return sync_send_encoded(p, e, &sr, res, timeout_ms, mq->broker_name, mq->queue_id);
}

comet_err_t comet_producer_send_orderly(comet_producer_t *p, const comet_message_t *msg,
                                        comet_queue_select_cb_t *select, void *arg, comet_send_result_t *res,
                                        int timeout_ms)
{
    comet_send_result_t local;
    comet_err_t e = sync_open(p, select && msg, &res, &local);
    if (e)
        return e;
    rmq_err_t re;
    cm_route_t *r = cm_route_get(p->inst, msg->topic, true, &re, res->errstr, sizeof(res->errstr));
    if (!r || r->npub == 0) {
        res->err = r ? COMET_ERR__NO_ROUTE : (comet_err_t)re;
        if (r) {
            snprintf(res->errstr, sizeof(res->errstr), "no writable queue for topic %s", msg->topic);
            cm_instance_want_route_refresh(p->inst);
        }
        cm_route_release(r);
        return res->err;
    }
    int idx = select((int)r->npub, msg, arg);
    if (idx < 0 || (size_t)idx >= r->npub) {
        cm_route_release(r);
        res->err = COMET_ERR__INVALID_ARG;
        snprintf(res->errstr, sizeof(res->errstr), "selector returned %d, outside [0, %zu)", idx, r->npub);
        return res->err;
    }
    comet_message_queue_t mq;
    snprintf(mq.topic, sizeof(mq.topic), "%s", msg->topic);
    snprintf(mq.broker_name, sizeof(mq.broker_name), "%s", r->pub[idx].broker_name);
    mq.queue_id = r->pub[idx].queue_id;
    cm_route_release(r);
    return comet_producer_send_to_queue(p, msg, &mq, res, timeout_ms);
}

comet_err_t comet_producer_fetch_publish_queues(comet_producer_t *p, const char *topic,
                                                comet_message_queue_t **mqs, size_t *cnt)
{
    comet_err_t e = check_started(p);
    if (e)
        return e;
    return (comet_err_t)cm_route_public_queues(p->inst, topic, false, mqs, cnt);
}

comet_err_t comet_producer_send_oneway(comet_producer_t *p, const comet_message_t *msg)
{
    comet_err_t e = check_started(p);
    if (e)
        return e;
    char err[256];
    send_req_t sr;
    e = encode_one(p, msg, &sr, err, sizeof(err), true);
    if (e)
        return e;
    rmq_err_t re;
    cm_route_t *r = cm_route_get(p->inst, sr.topic, true, &re, err, sizeof(err));
    if (!r) {
        send_req_free(&sr);
        return (comet_err_t)re;
    }
    char broker[COMET_NAME_MAX], addr[256];
    int32_t qid;
    bool ok = choose(p, r, NULL, broker, sizeof(broker), &qid);
    const char *a = ok ? cm_route_master_addr(r, broker) : NULL;
    if (a)
        cm_strcpy(addr, sizeof(addr), a);
    cm_route_release(r);
    if (!a) {
        send_req_free(&sr);
        return COMET_ERR__NO_ROUTE;
    }
    /* backpressure: at most 16 MiB unsent (the connection stops reading at 64 MiB) */
    if (!cm_oneway_wait(p->inst, addr, 16u << 20, p->s->sendMsgTimeout)) {
        send_req_free(&sr);
        return COMET_ERR__QUEUE_FULL;
    }
    cm_oneway(p->inst, addr, build_cmd(p, &sr, broker, qid));
    send_req_free(&sr);
    return COMET_ERR_NO_ERROR;
}

/* ---------------- async ---------------- */

/* Kept small (< 1 KiB): one per message in flight. The public result is
 * built on the callback thread. */
typedef struct async_s {
    comet_producer_t *p;
    send_req_t sr;
    void *msg_opaque;
    int64_t deadline;
    int64_t t0;
    int retries_left;
    int attempts;
    int32_t qid;
    comet_err_t err;
    comet_send_status_t status;
    int64_t queue_offset;
    char *errstr; /* heap, failures only */
    char broker[COMET_NAME_MAX];
    char offset_msg_id[COMET_MSGID_MAX];
} async_t;

static void async_seterr(async_t *a, comet_err_t e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void async_seterr(async_t *a, comet_err_t e, const char *fmt, ...)
{
    a->err = e;
    free(a->errstr);
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    a->errstr = rmq_strdup(buf);
}

static void async_report(void *arg)
{
    async_t *a = arg;
    comet_producer_t *p = a->p;
    if (p->conf->send_cb) {
        comet_send_result_t r;
        r.err = a->err;
        r.status = a->status;
        cm_strcpy(r.msg_id, sizeof(r.msg_id), a->sr.uniq);
        cm_strcpy(r.offset_msg_id, sizeof(r.offset_msg_id), a->offset_msg_id);
        cm_strcpy(r.queue.topic, sizeof(r.queue.topic), a->sr.topic);
        cm_strcpy(r.queue.broker_name, sizeof(r.queue.broker_name), a->broker);
        r.queue.queue_id = a->qid;
        r.queue_offset = a->queue_offset;
        r.attempts = a->attempts;
        cm_strcpy(r.errstr, sizeof(r.errstr), a->errstr ? a->errstr : "");
        p->conf->send_cb(p, &r, a->msg_opaque, p->conf->opaque);
    }
    send_req_free(&a->sr);
    free(a->errstr);
    free(a);
    pthread_mutex_lock(&p->flush_lock);
    p->outq--;
    pthread_cond_broadcast(&p->flush_cond);
    pthread_mutex_unlock(&p->flush_lock);
}

static void async_finish(async_t *a)
{
    cm_post_callback(a->p->inst, async_report, a);
}

static void async_resp(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg);

/* Issue an attempt for a->broker/a->qid. @thread any (io for retries) */
static void async_issue(async_t *a)
{
    char addr[256];
    if (!cm_broker_master_addr(a->p->inst, a->broker, addr, sizeof(addr))) {
        cm_instance_want_route_refresh(a->p->inst);
        async_seterr(a, COMET_ERR__NO_ROUTE, "no master address for broker %s", a->broker);
        async_finish(a);
        return;
    }
    a->attempts++;
    a->t0 = rmq_mono_ms();
    int64_t left = a->deadline - a->t0;
    cm_frame_t fr;
    build_frame(a->p, &a->sr, a->broker, a->qid, &fr);
    cm_request_frame(a->p->inst, addr, &fr, (int)(left > 0 ? left : 1), async_resp, a);
}

static void async_resp(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    async_t *a = arg;
    comet_producer_t *p = a->p;
    int64_t now = rmq_mono_ms();
    if (err == RMQ_OK) {
        if (stored_code(resp->code)) {
            fault_update(p, a->broker, now - a->t0, false, now);
            a->err = COMET_ERR_NO_ERROR;
            a->status = status_of(resp->code);
            const char *mid = rmq_cmd_ext(resp, "msgId");
            if (mid) {
                size_t l = strcspn(mid, ",");
                if (l >= sizeof(a->offset_msg_id))
                    l = sizeof(a->offset_msg_id) - 1;
                memcpy(a->offset_msg_id, mid, l);
                a->offset_msg_id[l] = '\0';
            }
            rmq_cmd_ext_i32(resp, "queueId", &a->qid);
            a->queue_offset = -1;
            rmq_cmd_ext_i64(resp, "queueOffset", &a->queue_offset);
            free(a->errstr);
            a->errstr = NULL;
        } else {
            fault_update(p, a->broker, now - a->t0, true, now);
            if (resp->code == 17 || resp->code == 14)
                cm_instance_want_route_refresh(p->inst);
            async_seterr(a, (comet_err_t)resp->code, "broker %s: %s%s%s", a->broker, rmq_err2name(resp->code),
                         resp->remark ? ": " : "", resp->remark ? resp->remark : "");
        }
        async_finish(a);
        return;
    }
    fault_update(p, a->broker, now - a->t0, true, now);
    cm_instance_want_route_refresh(p->inst);
    async_seterr(a, (comet_err_t)err, "send to broker %s failed: %s", a->broker, rmq_err2str(err));
    if (err == RMQ_ERR__DESTROY || a->retries_left <= 0 || now >= a->deadline) {
        async_finish(a);
        return;
    }
    a->retries_left--;
    cm_route_t *r = cm_route_get(p->inst, a->sr.topic, false, NULL, NULL, 0);
    char broker[COMET_NAME_MAX];
    int32_t qid;
    if (!r || !choose(p, r, a->broker, broker, sizeof(broker), &qid)) {
        cm_route_release(r);
        async_finish(a);
        return;
    }
    cm_route_release(r);
    cm_log(inst, RMQ_LOG_INFO, FAC, "async send to %s failed (%s), retrying on %s", a->broker,
           rmq_err2str(err), broker);
    cm_strcpy(a->broker, sizeof(a->broker), broker);
    a->qid = qid;
    async_issue(a);
}

comet_err_t comet_producer_send_async(comet_producer_t *p, const comet_message_t *msg, void *msg_opaque)
{
    comet_err_t e = check_started(p);
    if (e)
        return e;
    if (p->outq >= p->s->maxOutstandingAsync)
        return COMET_ERR__QUEUE_FULL;
    async_t *a = rmq_calloc(1, sizeof(*a));
    a->p = p;
    a->msg_opaque = msg_opaque;
    char err0[256];
    e = encode_one(p, msg, &a->sr, err0, sizeof(err0), false);
    if (e) {
        free(a);
        return e;
    }
    rmq_err_t re;
    char err[256];
    cm_route_t *r = cm_route_get(p->inst, a->sr.topic, true, &re, err, sizeof(err));
    if (!r || !choose(p, r, NULL, a->broker, sizeof(a->broker), &a->qid)) {
        cm_route_release(r);
        send_req_free(&a->sr);
        free(a);
        return r ? COMET_ERR__NO_ROUTE : (comet_err_t)re;
    }
    cm_route_release(r);
    a->deadline = rmq_mono_ms() + p->s->sendMsgTimeout;
    a->retries_left = p->s->retryTimesWhenSendAsyncFailed;
    pthread_mutex_lock(&p->flush_lock);
    p->outq++;
    pthread_mutex_unlock(&p->flush_lock);
    async_issue(a);
    return COMET_ERR_NO_ERROR;
}

int comet_producer_outq_len(comet_producer_t *p)
{
    return p ? p->outq : 0;
}

comet_err_t comet_producer_flush(comet_producer_t *p, int timeout_ms)
{
    if (!p)
        return COMET_ERR__INVALID_ARG;
    int64_t deadline = rmq_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    pthread_mutex_lock(&p->flush_lock);
    while (p->outq > 0) {
        int64_t left = deadline - rmq_mono_ms();
        if (left <= 0)
            break;
        rmq_cond_wait_ms(&p->flush_cond, &p->flush_lock, left > 100 ? 100 : left);
    }
    int left = p->outq;
    pthread_mutex_unlock(&p->flush_lock);
    return left ? COMET_ERR__TIMED_OUT : COMET_ERR_NO_ERROR;
}

void comet_producer_shutdown(comet_producer_t *p)
{
    if (!p || p->shut)
        return;
    if (p->started)
        comet_producer_flush(p, p->s->sendMsgTimeout);
    p->shut = true;
    cm_instance_stop(p->inst, p->s->producerGroup, NULL);
}

cm_instance_t *cm_producer_instance(comet_producer_t *p)
{
    return p->inst;
}

void cm_producer_txn_heartbeat_once(comet_producer_t *p)
{
    if (!atomic_exchange(&p->txn_heartbeat, true))
        cm_instance_want_heartbeat(p->inst);
}

const comet_conf_t *cm_producer_conf(comet_producer_t *p)
{
    return p->conf;
}

void comet_producer_destroy(comet_producer_t *p)
{
    if (!p)
        return;
    comet_producer_shutdown(p);
    cm_instance_destroy(p->inst);
    cm_fault_deinit(&p->fault);
    pthread_mutex_destroy(&p->flush_lock);
    pthread_cond_destroy(&p->flush_cond);
    comet_conf_destroy(p->conf);
    free(p);
}
