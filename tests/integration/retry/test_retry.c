/* test_retry.c - issue 6 end to end: consumption failures come back through
 * %RETRY%<group> with growing delays and the right reconsume count, end in
 * %DLQ%<group> after maxReconsumeTimes, and can be resent from there with
 * mqadmin; delay levels and absolute delivery times (TIMER_DELIVER_MS,
 * __STARTDELIVERTIME, TIMER_DELAY_SEC) are held until due and survive a
 * SIGKILL of the broker. Real mqnamesrv + mqbroker processes per test, with
 * short messageDelayLevel values. Every wait is bounded. */
#include <comet/comet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include "cluster.h"
#include "harness.h"
#include "harness_broker.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

static cluster_t cl;
static th_client_t cli;

static void stop(void)
{
    th_close(&cli);
    cl_stop(&cl);
}

TestSuite(retry, .fini = stop, .timeout = 60);
TestSuite(delay, .fini = stop, .timeout = 60);

static void start_with(const char *delay_levels, const char *topic, const char *more_conf)
{
    char extra[512];
    snprintf(extra, sizeof(extra), "messageDelayLevel=%s\n%s\n", delay_levels, more_conf ? more_conf : "");
    cr_assert(cl_start(&cl, 1, extra), "cluster did not start (%s)", cl.brokers[0].log);
    cr_assert(th_connect(&cli, cl.brokers[0].port));
    if (topic)
        cr_assert(cl_create_topic(&cl, topic, 1, 1), "topic %s has no route", topic);
}

static void start(const char *delay_levels, const char *topic)
{
    start_with(delay_levels, topic, NULL);
}

static int call(rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    cr_assert(th_call(&cli, req, resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    return resp->code;
}

static const char *prop_of(const rmq_msg_rec_t *r, const char *key, char *out, size_t n)
{
    const char *v;
    size_t vl;
    if (!rmq_msg_props_find(r->props, r->props_len, key, &v, &vl))
        return NULL;
    snprintf(out, n, "%.*s", (int)vl, v);
    return out;
}

/* raw SEND_MESSAGE_V2 with one property; returns the msgId */
static void send_raw(const char *topic, const char *k, const char *v, const char *body, char *msg_id,
                     size_t n)
{
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", topic, 0, "T", NULL, k, v, body, strlen(body));
    int code = call(&req, &resp);
    cr_assert_eq(code, 0, "send: %d %s", code, resp.remark ? resp.remark : "");
    if (msg_id)
        snprintf(msg_id, n, "%s", rmq_cmd_ext(&resp, "msgId"));
    rmq_cmd_deinit(&resp);
}

/* GET_MAX_OFFSET of a queue on the broker. */
static int64_t max_offset(const char *topic, int q)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 30);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    int64_t off = -1;
    if (call(&req, &resp) == 0)
        rmq_cmd_ext_i64(&resp, "offset", &off);
    rmq_cmd_deinit(&resp);
    return off;
}

/* Messages parked at delay level L (1-based) are in SCHEDULE_TOPIC_XXXX
 * queue L-1: how many were ever parked there. */
static int64_t parked(int level)
{
    int64_t n = max_offset("SCHEDULE_TOPIC_XXXX", level - 1);
    return n < 0 ? 0 : n;
}

/* QUERY_CONSUMER_OFFSET (-1 when the group has none). */
static int64_t committed(const char *group, const char *topic, int q)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 14);
    rmq_cmd_set_ext(&req, "consumerGroup", group);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    int64_t off = -1;
    if (call(&req, &resp) == 0)
        rmq_cmd_ext_i64(&resp, "offset", &off);
    rmq_cmd_deinit(&resp);
    return off;
}

/* GET_ALL_DELAY_OFFSET: the schedule service's offset of level L (-1 if
 * absent). Body {"offsetTable":{1:5,2:0}} (fastjson keys). */
static int64_t delay_offset(int level)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 45);
    int64_t v = -1;
    if (call(&req, &resp) == 0 && resp.body_len) {
        char body[1024], key[16];
        snprintf(body, sizeof(body), "%.*s", (int)resp.body_len, (const char *)resp.body);
        snprintf(key, sizeof(key), "%d:", level);
        for (char *p = strstr(body, key); p; p = strstr(p + 1, key))
            if (p[-1] == '{' || p[-1] == ',' || p[-1] == '"') {
                v = strtoll(p + strlen(key), NULL, 10);
                break;
            }
    }
    rmq_cmd_deinit(&resp);
    return v;
}

/* One pull from *off (no suspend); calls fn per record; advances *off.
 * Returns the number of records. */
typedef void rec_fn_t(const rmq_msg_rec_t *r, void *arg);
static size_t pull_once(const char *group, const char *topic, int64_t *off, rec_fn_t *fn, void *arg)
{
    rmq_cmd_t req, resp;
    th_req_pull(&req, group, topic, 0, *off, 32, 0x4, 0, "*");
    int code = call(&req, &resp);
    size_t n = 0;
    if (code == 0) {
        rmq_msg_rec_t *recs = NULL;
        cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
        for (size_t i = 0; i < n; i++)
            fn(&recs[i], arg);
        free(recs);
    }
    int64_t next = -1;
    if (rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next) == RMQ_OK && next > *off)
        *off = next;
    rmq_cmd_deinit(&resp);
    return n;
}

/* ---------------- libcomet push consumer: failures and retries ---------------- */

#define MAX_SEEN 32

typedef struct seen_s {
    pthread_mutex_t lock;
    int n;
    int fail_first; /* fail this many deliveries (then succeed); -1 = always */
    bool succeed;   /* overrides fail_first once set */
    int64_t at[MAX_SEEN];
    int reconsume[MAX_SEEN];
    char topic[MAX_SEEN][64];
    char msg_id[MAX_SEEN][64];
    char prop[MAX_SEEN][32];
    char body[MAX_SEEN][32];
} seen_t;

static comet_consume_status_t seen_cb(comet_push_consumer_t *c, const comet_message_ext_t *const *msgs,
                                      size_t cnt, void *opaque)
{
    (void)c;
    seen_t *s = opaque;
    bool fail = false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < cnt; i++) {
        if (s->n < MAX_SEEN) {
            int k = s->n;
            s->at[k] = rmq_mono_ms();
            s->reconsume[k] = comet_message_ext_reconsume_times(msgs[i]);
            snprintf(s->topic[k], sizeof(s->topic[k]), "%s", comet_message_ext_topic(msgs[i]));
            snprintf(s->msg_id[k], sizeof(s->msg_id[k]), "%s", comet_message_ext_msg_id(msgs[i]));
            const char *p = comet_message_ext_property(msgs[i], "myProp");
            snprintf(s->prop[k], sizeof(s->prop[k]), "%s", p ? p : "");
            size_t bl = 0;
            const void *b = comet_message_ext_body(msgs[i], &bl);
            snprintf(s->body[k], sizeof(s->body[k]), "%.*s", (int)bl, (const char *)b);
        }
        s->n++;
        fail = !s->succeed && (s->fail_first < 0 || s->n <= s->fail_first);
    }
    pthread_mutex_unlock(&s->lock);
    return fail ? COMET_RECONSUME_LATER : COMET_CONSUME_SUCCESS;
}

static int seen_count(seen_t *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static bool wait_seen(seen_t *s, int n, int timeout_ms)
{
    return TH_WAIT_UNTIL(seen_count(s) >= n, timeout_ms);
}

static comet_push_consumer_t *consumer(const char *group, const char *topic, seen_t *s,
                                       const char *max_reconsume)
{
    comet_conf_t *conf = cl_conf(&cl, "consumerGroup", group);
    char err[256];
    if (max_reconsume)
        cr_assert_eq(comet_conf_set(conf, "maxReconsumeTimes", max_reconsume, err, sizeof(err)),
                     COMET_CONF_OK);
    comet_push_consumer_t *c = comet_push_consumer_new(conf, seen_cb, s, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(comet_push_consumer_subscribe(c, topic, "*"), 0);
    cr_assert_eq(comet_push_consumer_start(c, err, sizeof(err)), 0, "%s", err);
    return c;
}

static void produce(const char *topic, const char *body, char *msg_id, size_t n)
{
    comet_conf_t *conf = cl_conf(&cl, "producerGroup", "retry_pg");
    char err[256];
    comet_producer_t *p = comet_producer_new(conf, err, sizeof(err));
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(comet_producer_start(p, err, sizeof(err)), 0, "%s", err);
    comet_message_t *m = comet_message_new(topic, body, strlen(body), COMET_MSG_F_COPY);
    comet_message_set_tags(m, "TagR");
    comet_message_set_property(m, "myProp", "myValue");
    comet_send_result_t res;
    cr_assert_eq(comet_producer_send(p, m, &res, 5000), 0);
    snprintf(msg_id, n, "%s", res.msg_id);
    comet_message_destroy(m);
    comet_producer_destroy(p);
}

/* Retry levels: reconsume 0 -> level 3 (1 s), 1 -> level 4 (2 s), 2 -> level 5 (3 s). */
#define RETRY_LEVELS "1s 1s 1s 2s 3s 4s"

/* Fails if a failure is not sent back at level 3 + reconsumeTimes (so the
 * delays grow), if a redelivery comes before its level's delay, if the
 * redeliveries lack the original topic, id, properties or count, or if the
 * successful third delivery is sent back again. */
Test(retry, failing_twice_means_three_deliveries_with_growing_delays)
{
    start(RETRY_LEVELS, "RT");
    seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER, .fail_first = 2};
    comet_push_consumer_t *c = consumer("retry_cg", "RT", &s, NULL);
    char id[64];
    produce("RT", "fail-twice", id, sizeof(id));
    cr_assert(wait_seen(&s, 3, 30000), "saw %d deliveries, wanted 3", seen_count(&s));
    /* the third delivery succeeded: once the group committed both retry
     * messages, a third send-back (level 5) would already be parked */
    cr_assert(TH_WAIT_UNTIL(committed("retry_cg", "%RETRY%retry_cg", 0) >= 2, 15000),
              "the retry queue's offset never reached 2 (%lld)",
              (long long)committed("retry_cg", "%RETRY%retry_cg", 0));
    cr_assert_eq(parked(3), 1, "first failure: level 3 (3 + reconsumeTimes 0)");
    cr_assert_eq(parked(4), 1, "second failure: level 4");
    cr_assert_eq(parked(5), 0, "the successful third delivery was sent back");
    comet_push_consumer_destroy(c);
    cr_assert_eq(seen_count(&s), 3, "delivered %d times", seen_count(&s));
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(s.reconsume[i], i, "delivery %d has reconsume count %d", i, s.reconsume[i]);
        cr_assert_str_eq(s.topic[i], "RT", "delivery %d topic %s", i, s.topic[i]);
        cr_assert_str_eq(s.msg_id[i], id, "delivery %d msgId %s, sent %s", i, s.msg_id[i], id);
        cr_assert_str_eq(s.prop[i], "myValue");
        cr_assert_str_eq(s.body[i], "fail-twice");
    }
    int64_t g1 = s.at[1] - s.at[0], g2 = s.at[2] - s.at[1];
    cr_assert_geq(g1, 900, "first retry after %lld ms (level 3 = 1 s)", (long long)g1);
    /* lower bounds only: a delay can end late on a loaded machine (the first
     * retry then waits for the consumer's first pull of its retry queue), so
     * the growth itself is checked by the levels parked above (3, then 4) */
    cr_assert_geq(g2, 1900, "second retry after %lld ms (level 4 = 2 s)", (long long)g2);
}

/* The broker refuses the send-back (the retry topic is read-only): libcomet
 * keeps the message and consumes it again locally (after 5 s), with the
 * reconsume count incremented; the offset is not committed past it before. */
Test(retry, failed_send_back_is_retried_locally)
{
    start(RETRY_LEVELS, "RL");
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, "%RETRY%local_cg", 1);
    rmq_cmd_set_ext_i64(&req, "perm", 4);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER, .fail_first = 1};
    comet_push_consumer_t *c = consumer("local_cg", "RL", &s, NULL);
    char id[64];
    produce("RL", "send-back-refused", id, sizeof(id));
    cr_assert(wait_seen(&s, 2, 20000), "saw %d deliveries, wanted 2", seen_count(&s));
    /* the local retry succeeded: the offset moves past the message */
    cr_assert(TH_WAIT_UNTIL(committed("local_cg", "RL", 0) >= 1, 15000),
              "the offset never passed the message");
    comet_push_consumer_destroy(c);
    cr_assert_eq(seen_count(&s), 2);
    cr_assert_eq(max_offset("%RETRY%local_cg", 0), 0, "the read-only retry topic took a message");
    cr_assert_eq(s.reconsume[0], 0);
    cr_assert_eq(s.reconsume[1], 1, "local retry has reconsume count %d", s.reconsume[1]);
    cr_assert_str_eq(s.topic[1], "RL");
    cr_assert_str_eq(s.msg_id[1], id);
    cr_assert_str_eq(s.prop[1], "myValue");
    cr_assert_geq(s.at[1] - s.at[0], 4000, "local retry after %lld ms", (long long)(s.at[1] - s.at[0]));
}

typedef struct dlq_seen_s {
    int n;
    char retry_topic[64];
    char body[64];
    char origin_id[64];
    int reconsume;
} dlq_seen_t;

static void dlq_rec(const rmq_msg_rec_t *r, void *arg)
{
    dlq_seen_t *d = arg;
    d->n++;
    prop_of(r, "RETRY_TOPIC", d->retry_topic, sizeof(d->retry_topic));
    prop_of(r, "ORIGIN_MESSAGE_ID", d->origin_id, sizeof(d->origin_id));
    snprintf(d->body, sizeof(d->body), "%.*s", (int)r->body_len, (const char *)r->body);
    d->reconsume = r->reconsume_times;
}

static bool wait_dlq(const char *group, dlq_seen_t *d, int timeout_ms)
{
    char dlq[128];
    snprintf(dlq, sizeof(dlq), "%%DLQ%%%s", group);
    int64_t off = 0;
    return TH_WAIT_UNTIL(pull_once(group, dlq, &off, dlq_rec, d) > 0 || d->n > 0, timeout_ms);
}

/* popen mqadmin; returns its exit status, output in out */
static int mqadmin(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mqadmin(char *out, size_t n, const char *fmt, ...)
{
    char bin[512], args[512], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "timeout 20 %s %s -n %s 2>&1", th_bin("mqadmin", bin, sizeof(bin)), args,
             cl.ns_addr);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t len = 0;
    out[0] = 0;
    while (len + 1 < n) {
        size_t r = fread(out + len, 1, n - 1 - len, f);
        if (r == 0)
            break;
        len += r;
    }
    out[len] = 0;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(retry, dead_letter_after_max_reconsume_times_then_resend)
{
    start(RETRY_LEVELS, "RD");
    seen_t s = {.lock = PTHREAD_MUTEX_INITIALIZER, .fail_first = -1};
    /* maxReconsumeTimes per request (the consumer's setting) */
    comet_push_consumer_t *c = consumer("dlq_cg", "RD", &s, "2");
    char id[64];
    produce("RD", "always-fails", id, sizeof(id));
    cr_assert(wait_seen(&s, 3, 20000), "saw %d deliveries, wanted 3", seen_count(&s));
    dlq_seen_t d = {0};
    cr_assert(wait_dlq("dlq_cg", &d, 10000), "nothing in %%DLQ%%dlq_cg");
    cr_assert_eq(d.n, 1);
    cr_assert_str_eq(d.retry_topic, "RD");
    cr_assert_str_eq(d.body, "always-fails");
    cr_assert_neq(d.origin_id[0], 0);
    cr_assert_eq(d.reconsume, 3, "DLQ record reconsumeTimes %d", d.reconsume);
    /* dead-lettered instead of a third send-back: nothing parked at level 5 */
    cr_assert_eq(parked(3), 1);
    cr_assert_eq(parked(4), 1);
    cr_assert_eq(parked(5), 0, "the message went to the DLQ and was also sent back");
    cr_assert_eq(seen_count(&s), 3, "dead-lettered message delivered again (%d)", seen_count(&s));
    for (int i = 0; i < 3; i++)
        cr_assert_eq(s.reconsume[i], i);

    /* mqadmin: the DLQ lists it, resendDlqMsg puts it back on RD */
    char out[8192];
    int rc = mqadmin(out, sizeof(out), "queryDlq -g dlq_cg");
    cr_assert_eq(rc, 0, "queryDlq: %s", out);
    cr_assert_not_null(strstr(out, "always-fails"), "queryDlq output lacks the body: %s", out);
    cr_assert_not_null(strstr(out, "RD"), "queryDlq output lacks the original topic: %s", out);
    pthread_mutex_lock(&s.lock);
    s.succeed = true;
    pthread_mutex_unlock(&s.lock);
    cr_assert_eq(mqadmin(out, sizeof(out), "resendDlqMsg -g dlq_cg -i NO_SUCH_ID"), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no message NO_SUCH_ID"), "%s", out);
    cr_assert_eq(mqadmin(out, sizeof(out), "queryDlq -g never_failed_cg"), 0, "%s", out);
    cr_assert_not_null(strstr(out, "does not exist"), "%s", out);
    cr_assert_eq(mqadmin(out, sizeof(out), "resendDlqMsg -g dlq_cg"), 2, "-i is required: %s", out);
    rc = mqadmin(out, sizeof(out), "resendDlqMsg -g dlq_cg -i %s", id);
    cr_assert_eq(rc, 0, "resendDlqMsg: %s", out);
    cr_assert(wait_seen(&s, 4, 15000), "resent message not delivered (%d): %s", seen_count(&s), out);
    /* consumed: the offset passes the original and the resent message */
    cr_assert(TH_WAIT_UNTIL(committed("dlq_cg", "RD", 0) >= 2, 15000),
              "the offset never passed the resent message");
    comet_push_consumer_destroy(c);
    cr_assert_eq(seen_count(&s), 4);
    cr_assert_str_eq(s.topic[3], "RD");
    cr_assert_str_eq(s.body[3], "always-fails");
    cr_assert_str_eq(s.prop[3], "myValue");
}

/* maxReconsumeTimes of the subscription group (request without the field),
 * and a delay level chosen by the client. */
Test(retry, group_max_reconsume_and_client_delay_level)
{
    start("1s 2s 3s", "RG");
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 200); /* UPDATE_AND_CREATE_SUBSCRIPTIONGROUP */
    const char *gc =
        "{\"groupName\":\"grp_cg\",\"consumeEnable\":true,\"consumeFromMinEnable\":true,"
        "\"consumeBroadcastEnable\":true,\"retryQueueNums\":1,\"retryMaxTimes\":1,"
        "\"brokerId\":0,\"whichBrokerWhenConsumeSlowly\":1,\"notifyConsumerIdsChangedEnable\":true}";
    rmq_cmd_set_body(&req, gc, strlen(gc));
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    send_raw("RG", "myProp", "v", "group-max", NULL, 0);
    cr_assert(TH_WAIT_UNTIL(max_offset("RG", 0) >= 1, 10000), "the message was not dispatched");
    int64_t clo = -1;
    th_req_pull(&req, "grp_cg", "RG", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&req, &resp), 0);
    {
        rmq_msg_rec_t *recs = NULL;
        size_t n = 0;
        cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
        clo = recs[0].commitlog_offset;
        free(recs);
    }
    rmq_cmd_deinit(&resp);
    /* delayLevel 1 (1 s) asked by the client instead of 3 + 0 (3 s) */
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", clo);
    rmq_cmd_set_ext(&req, "group", "grp_cg");
    rmq_cmd_set_ext(&req, "delayLevel", "1");
    rmq_cmd_set_ext(&req, "originTopic", "RG");
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    int64_t t0 = rmq_mono_ms(), retry_clo = -1;
    /* parked at the client's level 1, not at 3 + reconsumeTimes 0 */
    cr_assert(TH_WAIT_UNTIL(parked(1) == 1, 10000), "not parked at delay level 1 (%lld)",
              (long long)parked(1));
    cr_assert_eq(parked(3), 0, "parked at level 3: the client's delayLevel 1 was ignored");
    cr_assert(TH_WAIT_UNTIL(max_offset("%RETRY%grp_cg", 0) >= 1, 15000), "retry message never delivered");
    int64_t waited = rmq_mono_ms() - t0;
    dlq_seen_t r = {0};
    th_req_pull(&req, "grp_cg", "%RETRY%grp_cg", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&req, &resp), 0, "retry message not pullable");
    {
        rmq_msg_rec_t *recs = NULL;
        size_t n = 0;
        cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
        dlq_rec(&recs[0], &r);
        retry_clo = recs[0].commitlog_offset;
        free(recs);
    }
    rmq_cmd_deinit(&resp);
    cr_assert_eq(r.n, 1);
    cr_assert_geq(waited, 800, "delivered after %lld ms, before level 1 (1 s)", (long long)waited);
    cr_assert_eq(r.reconsume, 1);
    cr_assert_str_eq(r.retry_topic, "RG");
    /* the group allows 1 reconsume: the next failure dead-letters it */
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", retry_clo);
    rmq_cmd_set_ext(&req, "group", "grp_cg");
    rmq_cmd_set_ext(&req, "delayLevel", "0");
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    dlq_seen_t d = {0};
    cr_assert(wait_dlq("grp_cg", &d, 3000), "not dead-lettered after the group's retryMaxTimes 1");
    cr_assert_str_eq(d.retry_topic, "RG");
    cr_assert_str_eq(d.body, "group-max");
}

/* ---------------- delay levels and delivery times ---------------- */

#define NDELAY 30

typedef struct got_s {
    int count[NDELAY];
    int dups;
    int early;
    char first_early[128];
} got_t;

/* body "d<i>:<due ms>" */
static void got_rec(const rmq_msg_rec_t *r, void *arg)
{
    got_t *g = arg;
    char body[64];
    snprintf(body, sizeof(body), "%.*s", (int)r->body_len, (const char *)r->body);
    int i = -1;
    long long due = 0;
    if (sscanf(body, "d%d:%lld", &i, &due) != 2 || i < 0 || i >= NDELAY)
        return;
    if (g->count[i]++)
        g->dups++;
    if (r->store_timestamp < due) {
        if (!g->early++)
            snprintf(g->first_early, sizeof(g->first_early), "%s stored at %lld, %lld ms early", body,
                     (long long)r->store_timestamp, due - (long long)r->store_timestamp);
    }
}

static int got_distinct(const got_t *g)
{
    int n = 0;
    for (int i = 0; i < NDELAY; i++)
        n += g->count[i] > 0;
    return n;
}

/* Message i: delay level 1..3 (1 s, 2 s, 3 s) or, with timers, every third
 * one an absolute or relative delivery time. */
static void send_delayed(const char *topic, bool timers, int64_t extra_ms)
{
    for (int i = 0; i < NDELAY; i++) {
        int64_t now = rmq_now_ms();
        char body[64], v[32];
        const char *k = "DELAY";
        int64_t due;
        if (timers && i % 3 == 0) {
            switch (i % 9) {
            case 0:
                k = "TIMER_DELIVER_MS";
                due = now + 2500 + extra_ms;
                break;
            case 3:
                k = "__STARTDELIVERTIME";
                due = now + 3500 + extra_ms;
                break;
            default:
                k = "TIMER_DELAY_SEC";
                due = now + 2000;
                break;
            }
            if (strcmp(k, "TIMER_DELAY_SEC") == 0)
                snprintf(v, sizeof(v), "2");
            else
                snprintf(v, sizeof(v), "%lld", (long long)due);
        } else {
            int level = 1 + i % 3;
            snprintf(v, sizeof(v), "%d", level);
            due = now + 1000LL * level;
        }
        snprintf(body, sizeof(body), "d%d:%lld", i, (long long)due);
        send_raw(topic, k, v, body, NULL, 0);
    }
}

static void pull_until_all(const char *topic, got_t *g, int64_t *off, int timeout_ms)
{
    TH_WAIT_UNTIL((pull_once("GDL", topic, off, got_rec, g), got_distinct(g) >= NDELAY), timeout_ms);
}

Test(delay, held_until_due_then_all_delivered)
{
    start("1s 2s 3s", "DT");
    int64_t t0 = rmq_mono_ms();
    send_delayed("DT", true, 0);
    got_t g = {0};
    int64_t off = 0;
    /* nothing is due within the first second: watch for 800 ms */
    int64_t window = 800 - (rmq_mono_ms() - t0);
    cr_assert_not(TH_WAIT_UNTIL((pull_once("GDL", "DT", &off, got_rec, &g), got_distinct(&g) > 0),
                                window > 0 ? window : 0),
                  "%d delayed messages visible before due", got_distinct(&g));
    pull_until_all("DT", &g, &off, 20000);
    cr_assert_eq(got_distinct(&g), NDELAY, "only %d of %d delivered", got_distinct(&g), NDELAY);
    cr_assert_eq(g.early, 0, "%d delivered early: %s", g.early, g.first_early);
    cr_assert_eq(g.dups, 0, "%d duplicates without a crash", g.dups);
}

/* Fails if a delivery time in the past is parked at a delay level instead
 * of being stored in its topic at once. */
static void no_real_topic(const rmq_msg_rec_t *r, void *arg)
{
    char v[64];
    if (prop_of(r, "REAL_TOPIC", v, sizeof(v)) || prop_of(r, "DELAY", v, sizeof(v)))
        (*(int *)arg)++;
}

Test(delay, timer_due_in_the_past_is_delivered_at_once)
{
    start("1s 2s 3s", "TP");
    char v[32], body[64];
    int64_t due = rmq_now_ms() - 60000;
    snprintf(v, sizeof(v), "%lld", (long long)due);
    snprintf(body, sizeof(body), "d0:%lld", (long long)due);
    send_raw("TP", "__STARTDELIVERTIME", v, body, NULL, 0);
    got_t g = {0};
    int64_t off = 0;
    TH_WAIT_UNTIL((pull_once("GDL", "TP", &off, got_rec, &g), g.count[0] > 0), 10000);
    cr_assert_eq(g.count[0], 1);
    for (int level = 1; level <= 3; level++)
        cr_assert_eq(parked(level), 0, "parked at level %d", level);
    int went_through_schedule = 0;
    int64_t from = 0;
    pull_once("GDL", "TP", &from, no_real_topic, &went_through_schedule);
    cr_assert_eq(went_through_schedule, 0, "the record carries REAL_TOPIC/DELAY: it was parked");
}

Test(delay, long_timer_is_parked_again_until_due)
{
    /* 5.5 s with levels of at most 3 s: parked at 3 s, then 2 s, then 1 s */
    start("1s 2s 3s", "TL");
    char v[32], body[64];
    int64_t due = rmq_now_ms() + 5500;
    snprintf(v, sizeof(v), "%lld", (long long)due);
    snprintf(body, sizeof(body), "d0:%lld", (long long)due);
    send_raw("TL", "TIMER_DELIVER_MS", v, body, NULL, 0);
    got_t g = {0};
    int64_t off = 0;
    TH_WAIT_UNTIL((pull_once("GDL", "TL", &off, got_rec, &g), g.count[0] > 0), 30000);
    cr_assert_eq(g.count[0], 1, "long timer never delivered");
    cr_assert_eq(g.early, 0, "%s", g.first_early);
    /* the path, not the clock: parked once at the longest level not past the
     * due time (3 s), then at shorter ones for what remained; a park past
     * the due time would show as a second one at 3 s */
    cr_assert_eq(parked(3), 1, "parked %lld times at 3 s", (long long)parked(3));
    int64_t shorter = parked(1) + parked(2);
    cr_assert(shorter >= 1 && shorter <= 3, "parked %lld times at 1 s / 2 s for the remaining 2.5 s",
              (long long)shorter);
}

/* SIGKILL while delayed messages and timers are pending: after the restart
 * every one is delivered (late or on time, never early), none lost; a
 * second SIGKILL once all were delivered and the progress persisted brings
 * no duplicates. */
/* The delay progress of `level` in the broker's persisted snapshot
 * (store/config/delayOffset.msgpack: 16-byte header, then a msgpack array
 * of offsets indexed by level); -1 if unreadable. */
static int64_t persisted_delay_offset(const char *path, int level)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n <= 16)
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int64_t v = -1;
    if (msgpack_unpack_next(&u, (const char *)buf + 16, n - 16, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY && (uint32_t)level < u.data.via.array.size) {
        msgpack_object o = u.data.via.array.ptr[level];
        if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v = (int64_t)o.via.u64;
    }
    msgpack_unpacked_destroy(&u);
    return v;
}

static bool persisted_all(const char *path, const int64_t *want)
{
    for (int level = 1; level <= 3; level++)
        if (persisted_delay_offset(path, level) != want[level])
            return false;
    return true;
}

static void sigkill_case(const char *conf)
{
    start_with("1s 2s 3s", "DK", conf);
    send_delayed("DK", true, 1500);
    /* kill once the 1 s level delivered something and the rest is pending */
    got_t g = {0};
    int64_t off = 0;
    cr_assert(TH_WAIT_UNTIL((pull_once("GDL", "DK", &off, got_rec, &g), got_distinct(&g) > 0), 15000),
              "nothing delivered before the kill");
    int before_kill = got_distinct(&g);
    cr_assert_lt(before_kill, NDELAY / 2, "%d delivered before the kill: nothing left pending", before_kill);
    th_proc_t *bk = &cl.brokers[0];
    th_proc_stop(bk, SIGKILL);
    th_close(&cli);
    cr_assert(th_broker_restart(bk), "broker did not restart (log %s)", bk->log);
    cr_assert(th_connect(&cli, bk->port));
    pull_until_all("DK", &g, &off, 30000);
    cr_assert_eq(got_distinct(&g), NDELAY, "only %d of %d delivered after the SIGKILL", got_distinct(&g),
                 NDELAY);
    cr_assert_eq(g.early, 0, "%d delivered early: %s", g.early, g.first_early);
    if (g.dups)
        cr_log_info("%d duplicate deliveries after the crash (at-least-once)", g.dups);
    /* a second crash once everything was delivered and the progress
     * persisted: the progress read back covers every parked message, so no
     * delayed message comes again */
    int64_t want[4];
    for (int level = 1; level <= 3; level++)
        want[level] = parked(level);
    char snap[600];
    snprintf(snap, sizeof(snap), "%s/store/config/delayOffset.msgpack", bk->dir);
    cr_assert(TH_WAIT_UNTIL(persisted_all(snap, want), 20000),
              "the persisted delay progress never covered every parked message (level 1: %lld of %lld)",
              (long long)persisted_delay_offset(snap, 1), (long long)want[1]);
    th_proc_stop(bk, SIGKILL);
    th_close(&cli);
    cr_assert(th_broker_restart(bk), "broker did not restart (log %s)", bk->log);
    cr_assert(th_connect(&cli, bk->port));
    for (int level = 1; level <= 3; level++)
        cr_assert_eq(delay_offset(level), want[level],
                     "level %d: progress %lld after the restart, %lld parked: would deliver again", level,
                     (long long)delay_offset(level), (long long)want[level]);
    int before = g.dups;
    pull_once("GDL", "DK", &off, got_rec, &g);
    cr_assert_eq(g.dups, before, "progress persisted before the second crash was not used");
}

Test(delay, sigkill_with_delayed_messages_pending_loses_none, .timeout = 90)
{
    sigkill_case(NULL);
}

/* SYNC_FLUSH: the persisted delay progress waits for the commit-log flush
 * of the re-stored messages (a short thorough-flush interval lets it pass) */
Test(delay, sigkill_sync_flush_loses_none, .timeout = 90)
{
    sigkill_case("flushDiskType=SYNC_FLUSH\nflushCommitLogThoroughInterval=500");
}
