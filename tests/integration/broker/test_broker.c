/* test_broker.c - mqbroker end to end: real mqnamesrv + mqbroker processes
 * per test, driven through the blocking remoting client of the harness. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

static th_proc_t ns, ns2, bk;
static th_client_t cli;

static void start_with(const char *extra)
{
    cr_assert(th_namesrv_start(&ns, NULL), "name server did not start");
    cr_assert(th_broker_start(&bk, ns.port, extra), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
}

static void start(void)
{
    start_with(NULL);
}

static char fault_dir[300]; /* flush_disk_timeout_on_the_wire's msync switches */

static void stop(void)
{
    if (fault_dir[0]) { /* a hanging msync would hold the broker's shutdown */
        char p[400];
        snprintf(p, sizeof(p), "%s/msync-stall", fault_dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/msync-fail", fault_dir);
        unlink(p);
    }
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
    th_proc_stop(&ns2, SIGTERM);
}

/* call and return the response code (response kept in *resp) */
static int call(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    cr_assert(th_call(c, req, resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    return resp->code;
}

static void create_topic(const char *topic, int queues)
{
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, topic, queues);
    cr_assert_eq(call(&cli, &req, &resp), 0, "create topic: %s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
}

static int64_t send_msg(const char *topic, int q, const char *tags, const char *keys, const char *body)
{
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", topic, q, tags, keys, "myProp", "myValue", body, strlen(body));
    int code = call(&cli, &req, &resp);
    cr_assert_eq(code, 0, "send: %d %s", code, resp.remark ? resp.remark : "");
    cr_assert_not_null(rmq_cmd_ext(&resp, "msgId"));
    cr_assert_not_null(rmq_cmd_ext(&resp, "queueId"));
    cr_assert_not_null(rmq_cmd_ext(&resp, "MSG_REGION"));
    cr_assert_not_null(rmq_cmd_ext(&resp, "TRACE_ON"));
    int64_t off = -1;
    cr_assert_eq(rmq_cmd_ext_i64(&resp, "queueOffset", &off), RMQ_OK);
    cr_assert_eq(resp.version, 409);
    rmq_cmd_deinit(&resp);
    return off;
}

/* GET_MAX_OFFSET of a queue. */
static int64_t max_offset(const char *topic, int q)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 30);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    int64_t got = -1;
    rmq_cmd_ext_i64(&resp, "offset", &got);
    rmq_cmd_deinit(&resp);
    return got;
}

/* Messages become visible after the store dispatched them (a few ms): wait
 * (bounded) until the queue's max offset reaches `want`. */
static void wait_dispatched(const char *topic, int q, int64_t want)
{
    cr_assert(TH_WAIT_UNTIL(max_offset(topic, q) >= want, 10000),
              "queue %s/%d reached max offset %lld, wanted %lld", topic, q, (long long)max_offset(topic, q),
              (long long)want);
}

/* The code of one pull (no suspend) of up to 32 messages at offset. */
static int pull_code(const char *group, const char *topic, int q, int64_t off)
{
    rmq_cmd_t req, resp;
    th_req_pull(&req, group, topic, q, off, 32, 0x4, 0, "*");
    int code = call(&cli, &req, &resp);
    rmq_cmd_deinit(&resp);
    return code;
}

/* The body must be strict JSON (what ali-ons' JSON.parse and Java accept). */
static void assert_json_body(const rmq_cmd_t *resp)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)resp->body, resp->body_len, 0, &e);
    cr_assert_not_null(j, "body is not JSON (%s): %.*s", e.text, (int)resp->body_len, resp->body);
    json_decref(j);
}

static void check_pull_ext(const rmq_cmd_t *resp)
{
    cr_assert_not_null(rmq_cmd_ext(resp, "suggestWhichBrokerId"));
    cr_assert_not_null(rmq_cmd_ext(resp, "nextBeginOffset"));
    cr_assert_not_null(rmq_cmd_ext(resp, "minOffset"));
    cr_assert_not_null(rmq_cmd_ext(resp, "maxOffset"));
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

TestSuite(broker, .init = start, .fini = stop, .timeout = 60);
/* tests that start the processes themselves with extra configuration */
TestSuite(broker_cfg, .fini = stop, .timeout = 60);

Test(broker, send_pull_roundtrip_tags_keys_props)
{
    create_topic("RoundTrip", 2);
    cr_assert_eq(send_msg("RoundTrip", 0, "TagA", "K1 K2", "hello-a"), 0);
    cr_assert_eq(send_msg("RoundTrip", 0, "TagB", "K3", "hello-b"), 1);
    cr_assert_eq(send_msg("RoundTrip", 0, "TagA", NULL, "hello-a2"), 2);
    wait_dispatched("RoundTrip", 0, 3);
    /* pull everything: 3 messages */
    rmq_cmd_t req, resp;
    th_req_pull(&req, "CG", "RoundTrip", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0, "pull: %s", resp.remark ? resp.remark : "");
    check_pull_ext(&resp);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 3);
    char v[128];
    cr_assert_str_eq(prop_of(&recs[0], "TAGS", v, sizeof(v)), "TagA");
    cr_assert_str_eq(prop_of(&recs[0], "KEYS", v, sizeof(v)), "K1 K2");
    cr_assert_str_eq(prop_of(&recs[0], "myProp", v, sizeof(v)), "myValue");
    cr_assert_str_eq(prop_of(&recs[0], "CLUSTER", v, sizeof(v)), "TestCluster");
    cr_assert_null(prop_of(&recs[0], "WAIT", v, sizeof(v)), "WAIT must not be stored");
    cr_assert_eq(recs[1].body_len, 7);
    cr_assert(!memcmp(recs[1].body, "hello-b", 7));
    cr_assert_eq(recs[0].born_host.v6, 0);
    cr_assert_eq(recs[0].store_host.port, bk.port);
    int64_t first_store_ts = recs[0].store_timestamp, clo1 = recs[1].commitlog_offset;
    uint8_t rec1[256];
    size_t rec1_len = (size_t)recs[1].total_size;
    cr_assert_leq(rec1_len, sizeof(rec1));
    /* the record bytes of message 1 inside the pull body */
    size_t pos = (size_t)recs[0].total_size;
    memcpy(rec1, resp.body + pos, rec1_len);
    free(recs);
    rmq_cmd_deinit(&resp);
    /* VIEW_MESSAGE_BY_ID returns exactly that record */
    rmq_cmd_init_request(&req, 33);
    rmq_cmd_set_ext_i64(&req, "offset", clo1);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_eq(resp.body_len, rec1_len);
    cr_assert(!memcmp(resp.body, rec1, rec1_len));
    rmq_cmd_deinit(&resp);
    /* GET_EARLIEST_MSG_STORETIME and SEARCH_OFFSET_BY_TIMESTAMP */
    rmq_cmd_init_request(&req, 32);
    rmq_cmd_set_ext(&req, "topic", "RoundTrip");
    rmq_cmd_set_ext(&req, "queueId", "0");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    int64_t ts = 0;
    rmq_cmd_ext_i64(&resp, "timestamp", &ts);
    cr_assert_eq(ts, first_store_ts);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 29);
    rmq_cmd_set_ext(&req, "topic", "RoundTrip");
    rmq_cmd_set_ext(&req, "queueId", "0");
    rmq_cmd_set_ext_i64(&req, "timestamp", first_store_ts - 1000);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_ext_i64(&resp, "offset", &ts);
    cr_assert_eq(ts, 0);
    rmq_cmd_deinit(&resp);
    /* tag filter: TagA only => offsets 0 and 2 */
    th_req_pull(&req, "CG", "RoundTrip", 0, 0, 32, 0x4, 0, "TagA");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 2);
    cr_assert_eq(recs[1].queue_offset, 2);
    int64_t next = 0;
    rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next);
    cr_assert_eq(next, 3);
    free(recs);
    rmq_cmd_deinit(&resp);
    /* at the end: PULL_NOT_FOUND, offsets moved */
    th_req_pull(&req, "CG", "RoundTrip", 0, 3, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 19);
    check_pull_ext(&resp);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "CG", "RoundTrip", 0, 50, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 21);
    rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next);
    cr_assert_eq(next, 0, "as Java: OFFSET_OVERFLOW_BADLY with minOffset 0 corrects to 0");
    rmq_cmd_deinit(&resp);
    /* max / min offset */
    rmq_cmd_init_request(&req, 30);
    rmq_cmd_set_ext(&req, "topic", "RoundTrip");
    rmq_cmd_set_ext(&req, "queueId", "0");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "offset"), "3");
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 31);
    rmq_cmd_set_ext(&req, "topic", "RoundTrip");
    rmq_cmd_set_ext(&req, "queueId", "0");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "offset"), "0");
    rmq_cmd_deinit(&resp);
}

Test(broker, send_v1_and_batch)
{
    create_topic("BatchT", 1);
    /* SEND_MESSAGE (10) with long names */
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 10);
    rmq_cmd_set_ext(&req, "producerGroup", "PG");
    rmq_cmd_set_ext(&req, "topic", "BatchT");
    rmq_cmd_set_ext(&req, "defaultTopic", "TBW102");
    rmq_cmd_set_ext(&req, "defaultTopicQueueNums", "4");
    rmq_cmd_set_ext(&req, "queueId", "0");
    rmq_cmd_set_ext(&req, "sysFlag", "0");
    rmq_cmd_set_ext(&req, "bornTimestamp", "1700000000000");
    rmq_cmd_set_ext(&req, "flag", "0");
    rmq_cmd_set_ext(&req, "properties", "TAGS\001V1\002");
    rmq_cmd_set_body(&req, "v1-body", 7);
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    /* SEND_BATCH_MESSAGE (320): three elements */
    rmq_buf_t body;
    rmq_buf_init(&body);
    for (int i = 0; i < 3; i++) {
        char b[16], p[64];
        snprintf(b, sizeof(b), "batch-%d", i);
        int pl = snprintf(p, sizeof(p), "TAGS\001TagBatch\002KEYS\001BK%d", i);
        rmq_msg_batch_encode_one(&body, 0, b, strlen(b), p, (size_t)pl);
    }
    th_req_send_v2(&req, "PG", "BatchT", 0, NULL, NULL, NULL, NULL, body.data, body.len);
    req.code = 320;
    rmq_cmd_set_ext(&req, "m", "true"); /* the batch flag, not the code, makes a batch */
    rmq_buf_free(&body);
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    cr_assert_str_eq(rmq_cmd_ext(&resp, "queueOffset"), "1");
    cr_assert_not_null(strchr(rmq_cmd_ext(&resp, "msgId"), ','), "batch msgId is a list");
    rmq_cmd_deinit(&resp);
    wait_dispatched("BatchT", 0, 4);
    th_req_pull(&req, "CG", "BatchT", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 4);
    char v[64];
    cr_assert_str_eq(prop_of(&recs[0], "TAGS", v, sizeof(v)), "V1");
    cr_assert_str_eq(prop_of(&recs[3], "KEYS", v, sizeof(v)), "BK2");
    cr_assert_str_eq(prop_of(&recs[3], "TAGS", v, sizeof(v)), "TagBatch");
    cr_assert_eq(recs[3].queue_offset, 3);
    free(recs);
    rmq_cmd_deinit(&resp);
}

/* Send without waiting (the response is read later with th_read_frame). */
static void send_async(th_client_t *c, rmq_cmd_t *req, int32_t opaque)
{
    req->opaque = opaque;
    req->flag = 0;
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_cmd_encode(req, &b);
    cr_assert(th_send_raw(c, b.data, b.len));
    rmq_buf_free(&b);
    rmq_cmd_deinit(req);
}

/* Read frames until the response with this opaque (server requests skipped). */
static bool read_resp(th_client_t *c, int32_t opaque, rmq_cmd_t *resp, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    while (rmq_mono_ms() < deadline) {
        rmq_cmd_init(resp);
        if (!th_read_frame(c, resp, (int)(deadline - rmq_mono_ms())))
            return false;
        if ((resp->flag & 1) && resp->opaque == opaque)
            return true;
        rmq_cmd_deinit(resp);
    }
    return false;
}

/* Only the arrival can answer this pull within the test: the hold service's
 * periodic re-check (pullHoldCheckInterval) and the suspend timeout are a
 * minute or more away. Fails if the arrival does not wake the parked pull. */
Test(broker_cfg, long_poll_wakes_on_arrival)
{
    start_with("pullHoldCheckInterval=60000");
    create_topic("LongPoll", 1);
    th_client_t puller;
    cr_assert(th_connect(&puller, bk.port));
    rmq_cmd_t req, resp;
    th_req_pull(&req, "CG", "LongPoll", 0, 0, 32, 0x2 | 0x4, 120000, "*");
    send_async(&puller, &req, 777);
    /* the pull is parked: not answered while the queue is empty (a full
     * hold-check period would be a minute; half a second shows it waits) */
    rmq_cmd_init(&resp);
    cr_assert_not(th_read_frame(&puller, &resp, 500), "a parked pull must not be answered at once");
    send_msg("LongPoll", 0, "T", NULL, "wake-up");
    cr_assert(read_resp(&puller, 777, &resp, 30000), "parked pull not woken by the arrival");
    cr_assert_eq(resp.code, 0);
    check_pull_ext(&resp);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 1);
    free(recs);
    rmq_cmd_deinit(&resp);
    th_close(&puller);
}

Test(broker, long_poll_times_out)
{
    create_topic("LongPollTO", 1);
    rmq_cmd_t req, resp;
    th_req_pull(&req, "CG", "LongPollTO", 0, 0, 32, 0x2 | 0x4, 800, "*");
    int64_t t0 = rmq_mono_ms();
    send_async(&cli, &req, 4242);
    cr_assert(read_resp(&cli, 4242, &resp, 10000), "parked pull never answered");
    int64_t waited = rmq_mono_ms() - t0;
    cr_assert_geq(waited, 700, "answered after %lld ms, before the suspend timeout", (long long)waited);
    cr_assert_eq(resp.code, 19);
    check_pull_ext(&resp);
    rmq_cmd_deinit(&resp);
}

static void commit_offset(const char *group, const char *topic, int q, int64_t off)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 15);
    rmq_cmd_set_ext(&req, "consumerGroup", group);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    rmq_cmd_set_ext_i64(&req, "commitOffset", off);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
}

static int64_t query_offset(const char *group, const char *topic, int q, int *code)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 14);
    rmq_cmd_set_ext(&req, "consumerGroup", group);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    *code = call(&cli, &req, &resp);
    int64_t off = -1;
    rmq_cmd_ext_i64(&resp, "offset", &off);
    rmq_cmd_deinit(&resp);
    return off;
}

Test(broker, offsets_and_messages_survive_restart)
{
    create_topic("Restart", 2);
    for (int i = 0; i < 5; i++)
        send_msg("Restart", 1, "T", NULL, "persisted");
    commit_offset("CGR", "Restart", 1, 4);
    wait_dispatched("Restart", 1, 5);
    /* piggy-backed commit through a pull (COMMIT_OFFSET bit) */
    rmq_cmd_t req, resp;
    th_req_pull(&req, "CGR", "Restart", 0, 0, 32, 0x1 | 0x4, 0, "*");
    rmq_cmd_set_ext(&req, "commitOffset", "7");
    call(&cli, &req, &resp);
    rmq_cmd_deinit(&resp);
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    cr_assert(th_broker_restart(&bk), "restart failed, see %s", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    int code;
    cr_assert_eq(query_offset("CGR", "Restart", 1, &code), 4);
    cr_assert_eq(code, 0);
    cr_assert_eq(query_offset("CGR", "Restart", 0, &code), 7);
    th_req_pull(&req, "CGR", "Restart", 1, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 5);
    free(recs);
    rmq_cmd_deinit(&resp);
    /* the topic config survived too */
    rmq_cmd_init_request(&req, 21);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"Restart\"", 9));
    rmq_cmd_deinit(&resp);
}

Test(broker_cfg, kill9_sync_flush_keeps_every_acked_message)
{
    start_with("flushDiskType=SYNC_FLUSH");
    create_topic("Durable", 1);
    int acked = 0;
    for (int i = 0; i < 300; i++) {
        char body[32];
        snprintf(body, sizeof(body), "durable-%d", i);
        rmq_cmd_t req, resp;
        th_req_send_v2(&req, "PG", "Durable", 0, "D", NULL, NULL, NULL, body, strlen(body));
        int code = call(&cli, &req, &resp);
        rmq_cmd_deinit(&resp);
        if (code == 0)
            cr_assert_eq(acked++, i, "acks must be contiguous");
    }
    cr_assert_eq(acked, 300);
    th_close(&cli);
    th_proc_stop(&bk, SIGKILL);
    cr_assert(th_broker_restart(&bk), "restart after kill -9 failed, see %s", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    int64_t off = 0;
    int seen = 0;
    for (int round = 0; round < 100 && off < acked; round++) {
        rmq_cmd_t req, resp;
        th_req_pull(&req, "CGD", "Durable", 0, off, 32, 0x4, 0, "*");
        int code = call(&cli, &req, &resp);
        cr_assert_eq(code, 0, "pull at %lld: %d %s", (long long)off, code, resp.remark ? resp.remark : "");
        rmq_msg_rec_t *recs = NULL;
        size_t n = 0;
        cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
        for (size_t i = 0; i < n; i++) {
            char want[32];
            snprintf(want, sizeof(want), "durable-%d", seen);
            cr_assert_eq((size_t)recs[i].body_len, strlen(want));
            cr_assert(!memcmp(recs[i].body, want, strlen(want)), "message %d differs", seen);
            seen++;
        }
        free(recs);
        rmq_cmd_ext_i64(&resp, "nextBeginOffset", &off);
        rmq_cmd_deinit(&resp);
    }
    cr_assert_eq(seen, acked, "only %d of %d acknowledged messages are pullable", seen, acked);
}

/* Read frames on c until a NOTIFY_CONSUMER_IDS_CHANGED for group GM arrives
 * (true) or timeout_ms passes; other frames are dropped. */
static bool wait_notify(th_client_t *c, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    for (int i = 0; i < 1000 && rmq_mono_ms() < deadline; i++) {
        rmq_cmd_t f;
        if (!th_read_frame(c, &f, (int)(deadline - rmq_mono_ms())))
            return false;
        bool notify = f.code == 40 && !(f.flag & 1);
        if (notify) {
            cr_assert(f.flag & 2, "NOTIFY_CONSUMER_IDS_CHANGED is oneway");
            cr_assert_str_eq(rmq_cmd_ext(&f, "consumerGroup"), "GM");
        }
        rmq_cmd_deinit(&f);
        if (notify)
            return true;
    }
    return false;
}

/* GET_CONSUMER_LIST_BY_GROUP of GM is exactly `ids` ("a,b", sorted; "" =
 * the group has no consumer: SYSTEM_ERROR as Java). */
static void consumer_list(const char *ids)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 38);
    rmq_cmd_set_ext(&req, "consumerGroup", "GM");
    int code = call(&cli, &req, &resp);
    if (!*ids) {
        cr_assert_eq(code, 1, "an empty group answers SYSTEM_ERROR, got %d", code);
        cr_assert_not_null(resp.remark);
        cr_assert_not_null(strstr(resp.remark, "no consumer for this group"), "%s", resp.remark);
        rmq_cmd_deinit(&resp);
        return;
    }
    cr_assert_eq(code, 0);
    json_error_t e;
    json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, &e);
    cr_assert_not_null(j, "body is not JSON: %.*s", (int)resp.body_len, resp.body);
    json_t *list = json_object_get(j, "consumerIdList");
    cr_assert(json_is_array(list), "no consumerIdList: %.*s", (int)resp.body_len, resp.body);
    /* sort the answer (the broker's order is its hash table's) */
    const char *v[8];
    size_t n = json_array_size(list);
    cr_assert_leq(n, 8);
    for (size_t i = 0; i < n; i++)
        v[i] = json_string_value(json_array_get(list, i));
    qsort(v, n, sizeof(*v), th_cmp_str);
    char got[512] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "," : "", v[i]);
    cr_assert_str_eq(got, ids, "consumerIdList of GM: %s, want %s", got, ids);
    json_decref(j);
    rmq_cmd_deinit(&resp);
}

static void join(th_client_t *c, const char *client_id)
{
    rmq_cmd_t req, resp;
    th_req_heartbeat(&req, client_id, "GM", "Members", "*", NULL);
    cr_assert(th_call(c, &req, &resp, 10000));
    cr_assert_eq(resp.code, 0);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
}

/* Fails if a member is not told (NOTIFY_CONSUMER_IDS_CHANGED) when another
 * joins, disconnects or unregisters, or if the member list is wrong. */
Test(broker, group_membership_and_notify)
{
    create_topic("Members", 4);
    th_client_t c1, c2, c3;
    cr_assert(th_connect(&c1, bk.port));
    cr_assert(th_connect(&c2, bk.port));
    cr_assert(th_connect(&c3, bk.port));
    join(&c1, "127.0.0.1@c1");
    cr_assert(wait_notify(&c1, 10000), "c1 not told of its own join");
    consumer_list("127.0.0.1@c1");
    join(&c2, "127.0.0.1@c2");
    cr_assert(wait_notify(&c1, 10000), "c1 not told that c2 joined");
    consumer_list("127.0.0.1@c1,127.0.0.1@c2");
    join(&c3, "127.0.0.1@c3");
    cr_assert(wait_notify(&c1, 10000), "c1 not told that c3 joined");
    consumer_list("127.0.0.1@c1,127.0.0.1@c2,127.0.0.1@c3");
    /* the retry topic was created and the pull by heartbeat subscription works */
    rmq_cmd_t req, resp;
    th_req_pull(&req, "GM", "Members", 0, 0, 32, 0, 0, NULL);
    cr_assert_eq(call(&cli, &req, &resp), 19);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "NoSuchGroupSub", "Members", 0, 0, 32, 0, 0, NULL);
    cr_assert_eq(call(&cli, &req, &resp), 24);
    rmq_cmd_deinit(&resp);
    /* c2 leaves by closing its connection */
    th_close(&c2);
    cr_assert(wait_notify(&c1, 10000), "c1 not told that c2 disconnected");
    consumer_list("127.0.0.1@c1,127.0.0.1@c3");
    /* c3 leaves with UNREGISTER_CLIENT, its connection still open */
    rmq_cmd_init_request(&req, 35);
    rmq_cmd_set_ext(&req, "clientID", "127.0.0.1@c3");
    rmq_cmd_set_ext(&req, "consumerGroup", "GM");
    cr_assert(th_call(&c3, &req, &resp, 10000));
    cr_assert_eq(resp.code, 0);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert(wait_notify(&c1, 10000), "c1 not told that c3 unregistered");
    consumer_list("127.0.0.1@c1");
    /* the last one unregisters: the group is empty */
    rmq_cmd_init_request(&req, 35);
    rmq_cmd_set_ext(&req, "clientID", "127.0.0.1@c1");
    rmq_cmd_set_ext(&req, "consumerGroup", "GM");
    cr_assert(th_call(&c1, &req, &resp, 10000));
    cr_assert_eq(resp.code, 0);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    consumer_list("");
    th_close(&c1);
    th_close(&c3);
}

/* A channel silent for channelExpiredTimeout is closed, its consumer removed,
 * and the group's other member told. Fails if the silent channel stays, its
 * consumer stays listed, or the live member hears nothing. */
Test(broker_cfg, idle_client_expires)
{
    start_with("channelExpiredTimeout=600");
    create_topic("Members", 1);
    th_client_t c1, c2;
    cr_assert(th_connect(&c1, bk.port));
    cr_assert(th_connect(&c2, bk.port));
    join(&c1, "127.0.0.1@c1");
    join(&c2, "127.0.0.1@c2");
    consumer_list("127.0.0.1@c1,127.0.0.1@c2");
    cr_assert(wait_notify(&c2, 10000), "c2 not told of its own join");
    /* c2 stays alive (a heartbeat every 100 ms, well under 600 ms) until it
     * is told that the group changed: c1, silent, expired */
    bool told = false;
    for (int i = 0; i < 300 && !told; i++) {
        join(&c2, "127.0.0.1@c2");
        told = wait_notify(&c2, 100);
    }
    cr_assert(told, "the live member was not told that c1 expired");
    cr_assert(th_wait_closed(&c1, 10000), "silent client channel was not closed");
    consumer_list("127.0.0.1@c2");
    th_close(&c1);
    th_close(&c2);
}

/* GET_ROUTEINFO_BY_TOPIC's code from the name server on ns_port (-1: no
 * answer); when the code is 0 and needle is set, whether the body has it. */
static int route_code(int ns_port, const char *topic, const char *needle, bool *has)
{
    th_client_t nc;
    if (!th_connect(&nc, ns_port))
        return -1;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 105);
    rmq_cmd_set_ext(&req, "topic", topic);
    int code = -1;
    if (th_call(&nc, &req, &resp, 5000)) {
        code = resp.code;
        if (has)
            *has = code == 0 && (!needle || memmem(resp.body, resp.body_len, needle, strlen(needle)) != NULL);
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    th_close(&nc);
    return code;
}

/* Wait (bounded) until the name server routes topic (with needle in the
 * route body when given). */
static bool route_has(int ns_port, const char *topic, const char *needle)
{
    bool has = false;
    return TH_WAIT_UNTIL(route_code(ns_port, topic, needle, &has) == 0 && has, 20000);
}

Test(broker, registers_with_name_server_and_retries)
{
    create_topic("Routed", 3);
    /* the route appears in the name server, with this broker's address */
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", bk.port);
    cr_assert(route_has(ns.port, "Routed", addr), "topic route never registered");
    /* restart the name server on the same port: the broker registers again */
    th_proc_stop(&ns, SIGKILL);
    cr_assert(th_namesrv_restart(&ns), "name server did not restart");
    cr_assert(route_has(ns.port, "Routed", addr),
              "broker did not re-register with the restarted name server");
}

Test(broker_cfg, send_back_goes_to_retry_then_dlq)
{
    start_with("messageDelayLevel=1s 1s 1s 1s 1s");
    create_topic("SB", 1);
    send_msg("SB", 0, "T", NULL, "to-retry");
    wait_dispatched("SB", 0, 1);
    rmq_cmd_t req, resp;
    th_req_pull(&req, "GSB", "SB", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    int64_t clo = recs[0].commitlog_offset;
    free(recs);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", clo);
    rmq_cmd_set_ext(&req, "group", "GSB");
    rmq_cmd_set_ext(&req, "delayLevel", "0");
    rmq_cmd_set_ext(&req, "maxReconsumeTimes", "1");
    req.version = 121;
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    /* parked for its delay level (3 + reconsumeTimes), then visible in
     * %RETRY%GSB with reconsumeTimes 1 and RETRY_TOPIC */
    int64_t t0 = rmq_mono_ms();
    cr_assert(TH_WAIT_UNTIL(pull_code("GSB", "%RETRY%GSB", 0, 0) == 0, 15000), "retry message not pullable");
    cr_assert_geq(rmq_mono_ms() - t0, 700, "the retry was not delayed");
    th_req_pull(&req, "GSB", "%RETRY%GSB", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    char v[64];
    cr_assert_eq(recs[0].reconsume_times, 1);
    cr_assert_str_eq(prop_of(&recs[0], "RETRY_TOPIC", v, sizeof(v)), "SB");
    cr_assert_not_null(prop_of(&recs[0], "ORIGIN_MESSAGE_ID", v, sizeof(v)));
    int64_t retry_clo = recs[0].commitlog_offset;
    free(recs);
    rmq_cmd_deinit(&resp);
    /* failing again with maxReconsumeTimes 1 => %DLQ%GSB */
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", retry_clo);
    rmq_cmd_set_ext(&req, "group", "GSB");
    rmq_cmd_set_ext(&req, "delayLevel", "0");
    rmq_cmd_set_ext(&req, "maxReconsumeTimes", "1");
    req.version = 121;
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    cr_assert(TH_WAIT_UNTIL(pull_code("GSB", "%DLQ%GSB", 0, 0) == 0, 10000), "message not dead-lettered");
    /* unknown offset */
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext(&req, "offset", "99999999");
    rmq_cmd_set_ext(&req, "group", "GSB");
    rmq_cmd_set_ext(&req, "delayLevel", "0");
    cr_assert_eq(call(&cli, &req, &resp), 1);
    cr_assert_not_null(strstr(resp.remark, "look message by offset failed"));
    rmq_cmd_deinit(&resp);
}

/* ---- bad input: every failure has a code and a remark ---- */

static void expect_error(rmq_cmd_t *req, int code, const char *remark_part)
{
    rmq_cmd_t resp;
    int got = call(&cli, req, &resp);
    cr_assert_eq(got, code, "expected %d, got %d (%s)", code, got, resp.remark ? resp.remark : "");
    cr_assert_not_null(resp.remark);
    cr_assert_not_null(strstr(resp.remark, remark_part), "remark \"%s\" lacks \"%s\"", resp.remark,
                       remark_part);
    rmq_cmd_deinit(&resp);
}

Test(broker_cfg, bad_send_requests)
{
    start_with("maxMessageSize=1024\nautoCreateTopicEnable=false");
    create_topic("Good", 2);
    rmq_cmd_t req;
    th_req_send_v2(&req, "PG", "Good", 0, "T", NULL, NULL, NULL, "x", 1);
    for (size_t i = 0; i < req.ext_n; i++)
        if (!strcmp(req.ext[i].key, "b"))
            req.ext[i].key[0] = 'z';
    expect_error(&req, 1, "The specified topic is blank."); /* Java: a null topic is blank */
    th_req_send_v2(&req, "PG", "Good", 0, "T", NULL, NULL, NULL, "x", 1);
    rmq_cmd_set_ext(&req, "e", "zero");
    expect_error(&req, 1, "java.lang.NumberFormatException: For input string: \"zero\"");
    th_req_send_v2(&req, "PG", "Bad Topic!", 0, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 1, "illegal characters");
    char longt[200];
    memset(longt, 'a', 150);
    longt[150] = 0;
    th_req_send_v2(&req, "PG", longt, 0, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 1, "longer than");
    th_req_send_v2(&req, "PG", "Good", 9, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 1, "queueId[9] is illegal");
    char big[2048];
    memset(big, 'b', sizeof(big));
    th_req_send_v2(&req, "PG", "Good", 0, "T", NULL, NULL, NULL, big, sizeof(big));
    expect_error(&req, 13, "body size");
    th_req_send_v2(&req, "PG", "Unknown", 0, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 17, "not exist");
    th_req_send_v2(&req, "PG", "SCHEDULE_TOPIC_XXXX", 0, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 16, "forbidden");
    th_req_send_v2(&req, "PG", "Good", 0, NULL, NULL, NULL, NULL, "garbage", 7);
    req.code = 320;
    rmq_cmd_set_ext(&req, "m", "true");
    expect_error(&req, 13, "batch");
}

Test(broker, bad_pull_and_offset_requests)
{
    create_topic("PT", 2);
    rmq_cmd_t req;
    th_req_pull(&req, "CG", "PT", 0, 0, 32, 0x4, 0, "*");
    rmq_cmd_set_ext(&req, "queueOffset", "abc");
    expect_error(&req, 1, "java.lang.NumberFormatException: For input string: \"abc\"");
    th_req_pull(&req, "CG", "PT", 0, 0, 32, 0x4, 0, "*");
    for (size_t i = 0; i < req.ext_n; i++)
        if (!strcmp(req.ext[i].key, "consumerGroup"))
            req.ext[i].key[0] = 'x';
    expect_error(&req, 1, "<consumerGroup>");
    th_req_pull(&req, "CG", "PT", 5, 0, 32, 0x4, 0, "*");
    expect_error(&req, 1, "queueId[5] is illegal");
    th_req_pull(&req, "CG", "NoTopic", 0, 0, 32, 0x4, 0, "*");
    expect_error(&req, 17, "not exist");
    th_req_pull(&req, "CG", "PT", 0, 0, 32, 0x4, 0, "*");
    rmq_cmd_set_ext(&req, "expressionType", "SQL92");
    expect_error(&req, 1, "SQL92");
    th_req_pull(&req, "CG", "PT", 0, 0, 32, 0x4, 0, " || ");
    expect_error(&req, 23, "parse");
    /* maxMsgNums 0: Java's store returns at most one message, no error */
    th_req_pull(&req, "CG", "PT", 0, 0, 0, 0x4, 0, "*");
    rmq_cmd_t resp0;
    cr_assert_eq(call(&cli, &req, &resp0), RMQ_ERR_PULL_NOT_FOUND, "%s", resp0.remark ? resp0.remark : "");
    rmq_cmd_deinit(&resp0);
    rmq_cmd_init_request(&req, 14);
    rmq_cmd_set_ext(&req, "consumerGroup", "CG");
    rmq_cmd_set_ext(&req, "topic", "PT");
    expect_error(&req, 1, "<queueId>");
    rmq_cmd_init_request(&req, 15);
    rmq_cmd_set_ext(&req, "consumerGroup", "CG");
    rmq_cmd_set_ext(&req, "topic", "PT");
    rmq_cmd_set_ext(&req, "queueId", "0");
    expect_error(&req, 1, "<commitOffset>");
    rmq_cmd_init_request(&req, 29);
    rmq_cmd_set_ext(&req, "topic", "PT");
    rmq_cmd_set_ext(&req, "queueId", "0");
    rmq_cmd_set_ext(&req, "timestamp", "yesterday");
    expect_error(&req, 1, "<timestamp>");
    rmq_cmd_init_request(&req, 33);
    rmq_cmd_set_ext(&req, "offset", "123456789");
    expect_error(&req, 1, "can not find message");
    rmq_cmd_init_request(&req, 12);
    rmq_cmd_set_ext(&req, "topic", "PT");
    rmq_cmd_set_ext(&req, "key", "nokey");
    rmq_cmd_set_ext(&req, "maxNum", "32");
    rmq_cmd_set_ext(&req, "beginTimestamp", "0");
    rmq_cmd_set_ext(&req, "endTimestamp", "9999999999999");
    expect_error(&req, 22, "can not find message");
}

Test(broker, bad_client_and_admin_requests)
{
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 34);
    rmq_cmd_set_body(&req, "{not json", 9);
    expect_error(&req, 1, "HeartbeatData");
    rmq_cmd_init_request(&req, 34);
    rmq_cmd_set_body(&req, "{\"consumerDataSet\":[]}", 22);
    expect_error(&req, 1, "clientID");
    rmq_cmd_init_request(&req, 35); /* no clientID: Java unregisters by connection */
    rmq_cmd_t resp35;
    cr_assert_eq(call(&cli, &req, &resp35), 0);
    rmq_cmd_deinit(&resp35);
    rmq_cmd_init_request(&req, 38);
    rmq_cmd_set_ext(&req, "consumerGroup", "nobody");
    expect_error(&req, 1, "no consumer for this group");
    th_req_create_topic(&req, "T1", 4);
    rmq_cmd_set_ext(&req, "topicFilterType", "WHATEVER");
    expect_error(&req, 1, "topicFilterType");
    th_req_create_topic(&req, "T1", 0);
    expect_error(&req, 1, "illegal topic config");
    th_req_create_topic(&req, "bad/name", 4);
    expect_error(&req, 1, "illegal characters");
    th_req_create_topic(&req, "T1", 4);
    rmq_cmd_set_ext(&req, "perm", "rw");
    expect_error(&req, 1, "<perm>");
    rmq_cmd_init_request(&req, 200);
    rmq_cmd_set_body(&req, "[1,2", 4);
    expect_error(&req, 1, "SubscriptionGroupConfig");
    rmq_cmd_init_request(&req, 202);
    rmq_cmd_set_ext(&req, "topic", "nope");
    expect_error(&req, 17, "not exist");
    rmq_cmd_init_request(&req, 203);
    rmq_cmd_set_ext(&req, "consumerGroup", "nope");
    expect_error(&req, 206, "not online");
    rmq_cmd_init_request(&req, 41);
    rmq_cmd_set_body(&req, "{}", 2);
    expect_error(&req, 1, "lock body");
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext(&req, "offset", "0");
    expect_error(&req, 1, "<group>");
    /* unknown request code */
    rmq_cmd_init_request(&req, 9999);
    expect_error(&req, 3, "not supported");
}

Test(broker, admin_codes_for_mqadmin)
{
    create_topic("Adm", 2);
    send_msg("Adm", 0, "T", "admkey", "x");
    commit_offset("AG", "Adm", 0, 1);
    wait_dispatched("Adm", 0, 1);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 202);
    rmq_cmd_set_ext(&req, "topic", "Adm");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"maxOffset\":1", 13));
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 208);
    rmq_cmd_set_ext(&req, "consumerGroup", "AG");
    rmq_cmd_set_ext(&req, "topic", "Adm");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"consumerOffset\":1", 18));
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 28);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "msgPutTotalTodayNow", 19));
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 300);
    rmq_cmd_set_ext(&req, "topic", "Adm");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"AG\"", 4));
    rmq_cmd_deinit(&resp);
    /* QUERY_MESSAGE by key (index is built asynchronously) */
    bool found = TH_WAIT_UNTIL(__extension__({
                                   rmq_cmd_init_request(&req, 12);
                                   rmq_cmd_set_ext(&req, "topic", "Adm");
                                   rmq_cmd_set_ext(&req, "key", "admkey");
                                   rmq_cmd_set_ext(&req, "maxNum", "32");
                                   rmq_cmd_set_ext(&req, "beginTimestamp", "0");
                                   rmq_cmd_set_ext(&req, "endTimestamp", "99999999999999");
                                   bool f_ = call(&cli, &req, &resp) == 0 && resp.body_len > 0;
                                   rmq_cmd_deinit(&resp);
                                   f_;
                               }),
                               10000);
    cr_assert(found, "QUERY_MESSAGE by key found nothing");
    rmq_cmd_init_request(&req, 215);
    rmq_cmd_set_ext(&req, "topic", "Adm");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "AG", "Adm", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 17);
    rmq_cmd_deinit(&resp);
}

Test(broker_cfg, system_busy_when_the_flush_backs_up)
{
    start_with("flushDiskType=SYNC_FLUSH\nmaxPendingSendRequests=1");
    create_topic("Busy", 1);
    /* 30 sends in one write: while the first waits for its group commit, the
     * others must be refused at once with SYSTEM_BUSY, not time out */
    rmq_buf_t all;
    rmq_buf_init(&all);
    for (int i = 0; i < 30; i++) {
        rmq_cmd_t req;
        th_req_send_v2(&req, "PG", "Busy", 0, "T", NULL, NULL, NULL, "busy", 4);
        req.opaque = 1000 + i;
        rmq_cmd_encode(&req, &all);
        rmq_cmd_deinit(&req);
    }
    cr_assert(th_send_raw(&cli, all.data, all.len));
    rmq_buf_free(&all);
    int ok = 0, busy = 0;
    for (int i = 0; i < 30; i++) {
        rmq_cmd_t resp;
        rmq_cmd_init(&resp);
        cr_assert(th_read_frame(&cli, &resp, 10000), "response %d missing", i);
        if (resp.code == 0)
            ok++;
        else {
            cr_assert_eq(resp.code, 2, "unexpected code %d (%s)", resp.code, resp.remark ? resp.remark : "");
            cr_assert_not_null(strstr(resp.remark, "[REJECTREQUEST]"));
            busy++;
        }
        rmq_cmd_deinit(&resp);
    }
    cr_assert_geq(ok, 1);
    /* a refusal is an answer with its own code: a send that waited for the
     * flush and timed out would have FLUSH_DISK_TIMEOUT (10) instead */
    cr_assert_geq(busy, 1, "no request was refused with SYSTEM_BUSY");
}

Test(broker_cfg, corrupt_snapshot_falls_back_to_previous)
{
    start();
    create_topic("Snap1", 1);
    create_topic("Snap2", 1);
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    /* tear the current topics snapshot */
    char path[600];
    snprintf(path, sizeof(path), "%s/store/config/topics.msgpack", bk.dir);
    FILE *f = fopen(path, "r+");
    cr_assert_not_null(f);
    fseek(f, 20, SEEK_SET);
    fputs("TORN", f);
    fclose(f);
    cr_assert(th_broker_restart(&bk), "restart failed, see %s", bk.log);
    cr_assert(th_log_contains(&bk, "is corrupt", 2000), "corruption not reported");
    cr_assert(th_connect(&cli, bk.port));
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 21);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"Snap1\"", 7), "previous good snapshot not used");
    rmq_cmd_deinit(&resp);
}

Test(broker_cfg, imports_rocketmq_json_config_once)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    /* a RocketMQ store directory: JSON config files, no msgpack yet */
    char dirp[256], cfg[400], path[500];
    cr_assert(th_tmpdir(dirp, sizeof(dirp), "comet-imp"));
    snprintf(cfg, sizeof(cfg), "%s/store/config", dirp);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "mkdir -p %s", cfg);
    cr_assert_eq(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/topics.json", cfg);
    FILE *f = fopen(path, "w");
    fputs(
        "{\"dataVersion\":{\"counter\":3,\"timestamp\":1700000000000},\"topicConfigTable\":{\"Imported\":{"
        "\"order\":"
        "false,\"perm\":6,\"readQueueNums\":3,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"Imported\","
        "\"topicSysFlag\":0,\"writeQueueNums\":3}}}",
        f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/consumerOffset.json", cfg);
    f = fopen(path, "w");
    fputs("{\"offsetTable\":{\"Imported@IG\":{0:5,2:9}}}", f);
    fclose(f);
    char extra[400];
    snprintf(extra, sizeof(extra), "storePathRootDir=%s/store", dirp);
    cr_assert(th_broker_start(&bk, ns.port, extra), "broker did not start");
    cr_assert(th_connect(&cli, bk.port));
    int code;
    cr_assert_eq(query_offset("IG", "Imported", 2, &code), 9);
    cr_assert_eq(code, 0);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 21);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"Imported\"", 10));
    rmq_cmd_deinit(&resp);
    snprintf(path, sizeof(path), "%s/topics.msgpack", cfg);
    cr_assert_eq(access(path, F_OK), 0, "imported state not written as a snapshot");
}

Test(broker, vip_channel_serves_all_but_pull)
{
    if (th_log_contains(&bk, "VIP channel", 100))
        cr_skip_test("port %d - 2 was busy", bk.port);
    th_client_t vip;
    cr_assert(th_connect(&vip, bk.port - 2));
    create_topic("Vip", 1);
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", "Vip", 0, "T", NULL, NULL, NULL, "via-vip", 7);
    cr_assert_eq(call(&vip, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "CG", "Vip", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&vip, &req, &resp), 3, "PULL_MESSAGE is not served on the VIP channel");
    rmq_cmd_deinit(&resp);
    th_close(&vip);
}

Test(broker_cfg, delayed_message_is_delivered_after_its_level)
{
    start_with("messageDelayLevel=1s 2s");
    create_topic("Delayed", 1);
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", "Delayed", 0, "TagD", "dk", "DELAY", "2", "later", 5);
    int64_t t0 = rmq_mono_ms();
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    cr_assert(TH_WAIT_UNTIL(pull_code("GD", "Delayed", 0, 0) == 0, 20000), "delayed message never delivered");
    int64_t waited = rmq_mono_ms() - t0;
    th_req_pull(&req, "GD", "Delayed", 0, 0, 32, 0x4, 0, "TagD");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    char v[64];
    cr_assert_eq(n, 1);
    /* Java stores the parked record's properties as they were: DELAY stays */
    cr_assert_str_eq(prop_of(&recs[0], "DELAY", v, sizeof(v)), "2");
    cr_assert_str_eq(prop_of(&recs[0], "KEYS", v, sizeof(v)), "dk");
    cr_assert_str_eq(prop_of(&recs[0], "REAL_TOPIC", v, sizeof(v)), "Delayed");
    cr_assert(!memcmp(recs[0].body, "later", 5));
    free(recs);
    rmq_cmd_deinit(&resp);
    /* the delay progress a slave would copy (GET_ALL_DELAY_OFFSET) */
    rmq_cmd_init_request(&req, 45);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "2:1", 3), "%.*s", (int)resp.body_len, resp.body);
    rmq_cmd_deinit(&resp);
    cr_assert_geq(waited, 1800, "delivered after %lld ms, before its 2 s level", (long long)waited);
}

/* Every remaining handler: a missing required field is named in the remark. */
Test(broker, missing_fields_everywhere)
{
    static const struct {
        int code;
        const char *present[4][2];
        const char *missing;
    } cases[] = {
        {30, {{"queueId", "0"}}, "<topic>"},
        {31, {{"topic", "T"}}, "<queueId>"},
        {32, {{"queueId", "0"}}, "<topic>"},
        {29, {{"topic", "T"}, {"queueId", "0"}}, "<timestamp>"},
        {12, {{"topic", "T"}, {"key", "k"}, {"maxNum", "1"}, {"beginTimestamp", "0"}}, "<endTimestamp>"},
        {33, {{NULL, NULL}}, "<offset>"},
        {215, {{NULL, NULL}}, "The specified topic is blank."},
        {207, {{NULL, NULL}}, "<groupName>"},
        {208, {{"topic", "T"}}, "<consumerGroup>"},
        {300, {{NULL, NULL}}, "<topic>"},
        {202, {{NULL, NULL}}, "<topic>"},
        {203, {{NULL, NULL}}, "<consumerGroup>"},
        {38, {{NULL, NULL}}, "<consumerGroup>"},
        {17,
         {{"readQueueNums", "1"}, {"writeQueueNums", "1"}, {"perm", "6"}, {"topicFilterType", "SINGLE_TAG"}},
         "The specified topic is blank."},
        {36, {{"group", "G"}, {"delayLevel", "0"}}, "<offset>"},
        {36, {{"group", "G"}, {"offset", "0"}}, "<delayLevel>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, cases[i].code);
        for (int k = 0; k < 4 && cases[i].present[k][0]; k++)
            rmq_cmd_set_ext(&req, cases[i].present[k][0], cases[i].present[k][1]);
        expect_error(&req, 1, cases[i].missing);
    }
    /* bad bodies */
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 46);
    rmq_cmd_set_body(&req, "nope", 4);
    expect_error(&req, 1, "not valid JSON");
    rmq_cmd_init_request(&req, 46);
    const char *sql =
        "{\"clientId\":\"c\",\"group\":\"g\",\"subscriptionData\":{\"topic\":\"T\",\"subString\":\"a>1\","
        "\"expressionType\":\"SQL92\"}}";
    rmq_cmd_set_body(&req, sql, strlen(sql));
    expect_error(&req, 1, "SQL92");
    rmq_cmd_init_request(&req, 42);
    rmq_cmd_set_body(&req, "[]", 2);
    expect_error(&req, 1, "lock body");
    rmq_cmd_init_request(&req, 200);
    rmq_cmd_set_body(&req, "{\"retryMaxTimes\":1}", 19);
    expect_error(&req, 1, "groupName");
    rmq_cmd_init_request(&req, 200);
    expect_error(&req, 1, "empty body");
}

Test(broker, clean_shutdown_unregisters_and_removes_abort)
{
    create_topic("Bye", 1);
    char abort_path[600];
    snprintf(abort_path, sizeof(abort_path), "%s/store/abort", bk.dir);
    cr_assert_eq(access(abort_path, F_OK), 0, "abort marker missing while running");
    cr_assert(route_has(ns.port, "Bye", NULL), "topic never routed");
    th_close(&cli);
    cr_assert(th_proc_stop(&bk, SIGTERM));
    cr_assert(th_log_contains(&bk, "shutdown complete", 1000));
    cr_assert_neq(access(abort_path, F_OK), 0, "abort marker left after a clean shutdown");
    /* at once, not after the name server's 120 s broker expiry */
    cr_assert_eq(route_code(ns.port, "Bye", NULL, NULL), 17, "route still present after UNREGISTER_BROKER");
}

/* ---- replay of Java 4.9.8 client frames: responses shaped like Java's ---- */

static bool load_frame(const char *ser, const char *name, rmq_cmd_t *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/%s/%s.bin", COMET_TEST_DATA, ser, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    rmq_cmd_init(out);
    return n > 4 && rmq_cmd_decode(out, buf + 4, n - 4, NULL, 0) == RMQ_OK;
}

static json_t *golden_header(const char *ser, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/%s/%s.json", COMET_TEST_DATA, ser, name);
    json_t *root = json_load_file(path, 0, NULL);
    cr_assert_not_null(root, "cannot read %s", path);
    return root;
}

static void replay(const char *ser, const char *req_name, const char *resp_name, bool zero_subversion)
{
    rmq_cmd_t req, resp;
    cr_assert(load_frame(ser, req_name, &req), "golden frame %s/%s missing", ser, req_name);
    if (zero_subversion)
        rmq_cmd_set_ext(&req, "subVersion", "0");
    uint8_t ser_type = req.serialize;
    rmq_cmd_init(&resp);
    cr_assert(th_call(&cli, &req, &resp, 20000), "%s: no response", req_name);
    rmq_cmd_deinit(&req);
    json_t *g = golden_header(ser, resp_name);
    json_t *h = json_object_get(g, "header");
    int want = (int)json_integer_value(json_object_get(h, "code"));
    cr_assert_eq(resp.code, want, "%s: code %d, Java answered %d (%s)", req_name, resp.code, want,
                 resp.remark ? resp.remark : "");
    cr_assert_eq(resp.serialize, ser_type, "%s: answered in another serialization", req_name);
    cr_assert_eq(resp.version, 409);
    cr_assert_eq(resp.language, RMQ_LANG_JAVA);
    cr_assert(resp.flag & 1);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(h, "extFields"), k, v)
        cr_assert_not_null(rmq_cmd_ext(&resp, k), "%s: ext field %s missing (Java sends it)", req_name, k);
    json_decref(g);
    rmq_cmd_deinit(&resp);
}

static void golden_sequence(const char *ser)
{
    replay(ser, "17_UPDATE_AND_CREATE_TOPIC_req", "17_UPDATE_AND_CREATE_TOPIC_resp", false);
    replay(ser, "34_HEART_BEAT_producer_req", "34_HEART_BEAT_producer_resp", false);
    replay(ser, "310_SEND_MESSAGE_V2_req", "310_SEND_MESSAGE_V2_resp", false);
    replay(ser, "320_SEND_BATCH_MESSAGE_req", "320_SEND_BATCH_MESSAGE_resp", false);
    replay(ser, "34_HEART_BEAT_consumer_req", "34_HEART_BEAT_consumer_resp", false);
    replay(ser, "38_GET_CONSUMER_LIST_BY_GROUP_req", "38_GET_CONSUMER_LIST_BY_GROUP_resp", false);
    replay(ser, "11_PULL_MESSAGE_found_req", "11_PULL_MESSAGE_found_resp", true);
    replay(ser, "14_QUERY_CONSUMER_OFFSET_req", "14_QUERY_CONSUMER_OFFSET_resp", false);
    replay(ser, "30_GET_MAX_OFFSET_req", "30_GET_MAX_OFFSET_resp", false);
    replay(ser, "31_GET_MIN_OFFSET_req", "31_GET_MIN_OFFSET_resp", false);
    replay(ser, "29_SEARCH_OFFSET_BY_TIMESTAMP_req", "29_SEARCH_OFFSET_BY_TIMESTAMP_resp", false);
    replay(ser, "32_GET_EARLIEST_MSG_STORETIME_req", "32_GET_EARLIEST_MSG_STORETIME_resp", false);
    replay(ser, "41_LOCK_BATCH_MQ_req", "41_LOCK_BATCH_MQ_resp", false);
    replay(ser, "42_UNLOCK_BATCH_MQ_req", "42_UNLOCK_BATCH_MQ_resp", false);
    replay(ser, "35_UNREGISTER_CLIENT_consumer_req", "35_UNREGISTER_CLIENT_consumer_resp", false);
    replay(ser, "35_UNREGISTER_CLIENT_producer_req", "35_UNREGISTER_CLIENT_producer_resp", false);
}

Test(broker, java_client_frames_json)
{
    golden_sequence("json");
}
Test(broker, java_client_frames_rocketmq_binary)
{
    golden_sequence("rocketmq");
}

Test(broker, consumer_running_info_is_forwarded)
{
    th_client_t consumer;
    cr_assert(th_connect(&consumer, bk.port));
    rmq_cmd_t req, resp;
    th_req_heartbeat(&req, "127.0.0.1@ri", "GRI", "TBW102", "*", NULL);
    cr_assert(th_call(&consumer, &req, &resp, 5000));
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    /* not online */
    rmq_cmd_init_request(&req, 307);
    rmq_cmd_set_ext(&req, "consumerGroup", "GRI");
    rmq_cmd_set_ext(&req, "clientId", "127.0.0.1@other");
    expect_error(&req, 1, "not online");
    /* forwarded: answer it from the fake consumer */
    rmq_cmd_init_request(&req, 307);
    rmq_cmd_set_ext(&req, "consumerGroup", "GRI");
    rmq_cmd_set_ext(&req, "clientId", "127.0.0.1@ri");
    rmq_cmd_set_ext(&req, "jstackEnable", "false");
    send_async(&cli, &req, 5151);
    rmq_cmd_t fwd;
    bool got = false;
    for (int i = 0; i < 10 && !got; i++) {
        rmq_cmd_init(&fwd);
        cr_assert(th_read_frame(&consumer, &fwd, 5000), "request not forwarded to the consumer");
        got = fwd.code == 307 && !(fwd.flag & 1);
        if (!got)
            rmq_cmd_deinit(&fwd);
    }
    cr_assert(got);
    cr_assert_str_eq(rmq_cmd_ext(&fwd, "clientId"), "127.0.0.1@ri");
    rmq_cmd_t ans;
    rmq_cmd_init_response(&ans, &fwd, 0, NULL);
    rmq_cmd_set_body(&ans, "{\"properties\":{}}", 17);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_cmd_encode(&ans, &b);
    cr_assert(th_send_raw(&consumer, b.data, b.len));
    rmq_buf_free(&b);
    rmq_cmd_deinit(&ans);
    rmq_cmd_deinit(&fwd);
    cr_assert(read_resp(&cli, 5151, &resp, 5000), "forwarded answer not relayed");
    cr_assert_eq(resp.code, 0);
    cr_assert_eq(resp.body_len, 17);
    rmq_cmd_deinit(&resp);
    th_close(&consumer);
}

Test(broker_cfg, slow_reader_output_is_bounded)
{
    start_with("maxConnectionOutputBytes=65536");
    create_topic("Slow", 1);
    char body[2048];
    memset(body, 's', sizeof(body));
    body[sizeof(body) - 1] = 0;
    for (int i = 0; i < 32; i++)
        send_msg("Slow", 0, "T", NULL, body);
    wait_dispatched("Slow", 0, 32);
    /* a client that asks for ~64 KiB 200 times and reads nothing */
    th_client_t slow;
    cr_assert(th_connect(&slow, bk.port));
    rmq_buf_t all;
    rmq_buf_init(&all);
    for (int i = 0; i < 200; i++) {
        rmq_cmd_t req;
        th_req_pull(&req, "CG", "Slow", 0, 0, 32, 0x4, 0, "*");
        req.opaque = 10000 + i;
        rmq_cmd_encode(&req, &all);
        rmq_cmd_deinit(&req);
    }
    cr_assert(th_send_raw(&slow, all.data, all.len));
    rmq_buf_free(&all);
    cr_assert(th_log_contains(&bk, "pausing reads", 5000), "the slow reader's input was not paused");
    /* everybody else is still served while the slow reader reads nothing
     * (a loop blocked on its output would leave this call unanswered) */
    wait_dispatched("Slow", 0, 32);
    /* and the slow reader gets every answer once it reads */
    for (int i = 0; i < 200; i++) {
        rmq_cmd_t resp;
        cr_assert(read_resp(&slow, 10000 + i, &resp, 10000), "pull %d never answered", i);
        cr_assert_eq(resp.code, 0);
        rmq_cmd_deinit(&resp);
    }
    th_close(&slow);
}

Test(broker, heartbeat_subscription_errors_reach_the_pull)
{
    create_topic("HS", 1);
    rmq_cmd_t req, resp;
    th_req_heartbeat(&req, "127.0.0.1@hs", "GHS", "HS", "||", NULL);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "GHS", "HS", 0, 0, 32, 0, 0, NULL);
    expect_error(&req, 23, "parse");
    /* a newer subVersion than the heartbeat's */
    th_req_heartbeat(&req, "127.0.0.1@hs", "GHS", "HS", "TagA", NULL);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "GHS", "HS", 0, 0, 32, 0, 0, NULL);
    rmq_cmd_set_ext(&req, "subVersion", "99");
    expect_error(&req, 25, "not latest");
    /* a subscription to a topic the group never declared */
    th_req_pull(&req, "GHS", "TBW102", 0, 0, 32, 0, 0, NULL);
    expect_error(&req, 24, "subscription not exist");
    /* broadcasting forbidden for the group */
    rmq_cmd_init_request(&req, 200);
    const char *g = "{\"groupName\":\"GBC\",\"consumeBroadcastEnable\":false}";
    rmq_cmd_set_body(&req, g, strlen(g));
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_heartbeat(&req, "127.0.0.1@bc", "GBC", "HS", "*", "BROADCASTING");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "GBC", "HS", 0, 0, 32, 0, 0, NULL);
    expect_error(&req, 16, "broadcast");
    /* consumption disabled */
    rmq_cmd_init_request(&req, 200);
    g = "{\"groupName\":\"GOFF\",\"consumeEnable\":false}";
    rmq_cmd_set_body(&req, g, strlen(g));
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_req_pull(&req, "GOFF", "HS", 0, 0, 32, 0x4, 0, "*");
    expect_error(&req, 16, "no permission");
}

/* Garbage of every kind to every broker code: always an answer, never a crash. */
Test(broker, garbage_never_crashes)
{
    static const int codes[] = {10, 11, 12, 14, 15, 17,  21,  26,  28,  29,  30,  31,  32,  33,  34,  35, 36,
                                38, 41, 42, 43, 46, 200, 201, 202, 203, 207, 208, 215, 300, 307, 310, 320};
    static const char *fields[] = {"a",
                                   "b",
                                   "c",
                                   "d",
                                   "e",
                                   "f",
                                   "g",
                                   "h",
                                   "i",
                                   "j",
                                   "l",
                                   "m",
                                   "topic",
                                   "queueId",
                                   "consumerGroup",
                                   "group",
                                   "offset",
                                   "queueOffset",
                                   "maxMsgNums",
                                   "sysFlag",
                                   "commitOffset",
                                   "suspendTimeoutMillis",
                                   "subVersion",
                                   "subscription",
                                   "key",
                                   "maxNum",
                                   "beginTimestamp",
                                   "endTimestamp",
                                   "timestamp",
                                   "clientID",
                                   "clientId",
                                   "delayLevel",
                                   "readQueueNums",
                                   "writeQueueNums",
                                   "perm",
                                   "topicFilterType",
                                   "groupName",
                                   "producerGroup",
                                   "defaultTopic",
                                   "defaultTopicQueueNums",
                                   "bornTimestamp",
                                   "flag",
                                   "properties"};
    static const char *values[] = {
        "", "x", "-1", "99999999999999999999", "2147483648", "%RETRY%", "\001\002\001", "0", "TBW102", "*"};
    unsigned seed = 12345;
    for (size_t ci = 0; ci < sizeof(codes) / sizeof(codes[0]); ci++) {
        for (int round = 0; round < 12; round++) {
            rmq_cmd_t req, resp;
            rmq_cmd_init_request(&req, codes[ci]);
            for (size_t fi = 0; fi < sizeof(fields) / sizeof(fields[0]); fi++) {
                seed = seed * 1103515245u + 12345u;
                if ((seed >> 16) % 3 == 0)
                    rmq_cmd_set_ext(&req, fields[fi],
                                    values[(seed >> 8) % (sizeof(values) / sizeof(values[0]))]);
            }
            seed = seed * 1103515245u + 12345u;
            if ((seed >> 16) % 2) {
                uint8_t body[64];
                for (size_t i = 0; i < sizeof(body); i++) {
                    seed = seed * 1103515245u + 12345u;
                    body[i] = (uint8_t)(seed >> 16);
                }
                rmq_cmd_set_body(&req, body, (size_t)((seed >> 8) % sizeof(body)));
            }
            rmq_cmd_set_ext(&req, "suspendTimeoutMillis", "0");
            rmq_cmd_init(&resp);
            cr_assert(th_call(&cli, &req, &resp, 15000), "code %d round %d: no answer (log %s)", codes[ci],
                      round, bk.log);
            rmq_cmd_deinit(&req);
            rmq_cmd_deinit(&resp);
        }
    }
    cr_assert(th_proc_alive(&bk));
    create_topic("StillAlive", 1);
}

Test(broker_cfg, registers_with_every_name_server)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_namesrv_start(&ns2, NULL));
    char extra[128];
    snprintf(extra, sizeof(extra), "namesrvAddr=127.0.0.1:%d;127.0.0.1:%d", ns.port, ns2.port);
    cr_assert(th_broker_start(&bk, 0, extra));
    cr_assert(th_connect(&cli, bk.port));
    create_topic("Both", 2);
    cr_assert(route_has(ns.port, "Both", "\"writeQueueNums\":2"), "first name server has no route");
    cr_assert(route_has(ns2.port, "Both", "\"writeQueueNums\":2"), "second name server has no route");
}

Test(broker, auto_create_topic_from_tbw102)
{
    /* unknown topic + defaultTopic TBW102 (8 queues, perm 7) => min(4, 8) = 4 queues, perm 6 */
    int64_t off = send_msg("AutoMade", -1, "T", NULL, "auto");
    cr_assert_eq(off, 0);
    cr_assert(route_has(ns.port, "AutoMade", "\"perm\":6,\"readQueueNums\":4"),
              "auto-created topic not routed");
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 21);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len,
                              "\"topicName\":\"AutoMade\",\"topicSysFlag\":0,\"writeQueueNums\":4", 55));
    rmq_cmd_deinit(&resp);
}

Test(broker_cfg, no_auto_creation_when_disabled)
{
    start_with("autoCreateTopicEnable=false\nautoCreateSubscriptionGroup=false");
    rmq_cmd_t req;
    th_req_send_v2(&req, "PG", "NotMade", 0, "T", NULL, NULL, NULL, "x", 1);
    expect_error(&req, 17, "not exist");
    create_topic("Made", 1);
    th_req_pull(&req, "UnknownGroup", "Made", 0, 0, 32, 0x4, 0, "*");
    expect_error(&req, 26, "does not exist");
}

/* Half messages are stored (tests/integration/transaction); with
 * rejectTransactionMessage=true they are refused, as Java. */
Test(broker_cfg, transactional_half_messages_refused_when_rejected)
{
    start_with("rejectTransactionMessage=true");
    create_topic("Tx", 1);
    rmq_cmd_t req;
    th_req_send_v2(&req, "PG", "Tx", 0, "T", NULL, "TRAN_MSG", "true", "half", 4);
    rmq_cmd_set_ext(&req, "f", "4");
    expect_error(&req, 16, "sending transaction message is forbidden");
}

static bool lock_q0(int code, const char *client)
{
    char body[256];
    snprintf(
        body, sizeof(body),
        "{\"clientId\":\"%s\",\"consumerGroup\":\"LG\",\"mqSet\":[{\"brokerName\":\"broker-t\",\"queueId\":0,"
        "\"topic\":\"LT\"}]}",
        client);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, code);
    rmq_cmd_set_body(&req, body, strlen(body));
    cr_assert_eq(call(&cli, &req, &resp), 0);
    bool granted = resp.body_len && memmem(resp.body, resp.body_len, "\"queueId\":0", 11) != NULL;
    rmq_cmd_deinit(&resp);
    return granted;
}

Test(broker, orderly_locks)
{
    cr_assert(lock_q0(41, "c1"), "first locker must get the queue");
    cr_assert(lock_q0(41, "c1"), "the holder renews its lock");
    cr_assert_not(lock_q0(41, "c2"), "another client must not get a held queue");
    lock_q0(42, "c2"); /* not the holder: no effect */
    cr_assert_not(lock_q0(41, "c2"));
    lock_q0(42, "c1");
    cr_assert(lock_q0(41, "c2"), "released queue not granted");
}

Test(broker, connection_lists)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 34);
    const char *hb = "{\"clientID\":\"127.0.0.1@prod\",\"consumerDataSet\":[],\"producerDataSet\":[{"
                     "\"groupName\":\"PGX\"}]}";
    rmq_cmd_set_body(&req, hb, strlen(hb));
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 204);
    rmq_cmd_set_ext(&req, "producerGroup", "PGX");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"clientId\":\"127.0.0.1@prod\"", 27));
    assert_json_body(&resp);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 204);
    rmq_cmd_set_ext(&req, "producerGroup", "nobody");
    expect_error(&req, 1, "not exist");
    th_req_heartbeat(&req, "127.0.0.1@cons", "CGX", "TBW102", "TagA || TagB", NULL);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 203);
    rmq_cmd_set_ext(&req, "consumerGroup", "CGX");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"messageModel\":\"CLUSTERING\"", 27));
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"subString\":\"TagA || TagB\"", 26));
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"codeSet\":[2598919,2598920]", 27));
    assert_json_body(&resp);
    rmq_cmd_deinit(&resp);
    /* the other plain-JSON admin bodies */
    static const int codes[] = {21, 201, 28, 26};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        rmq_cmd_init_request(&req, codes[i]);
        cr_assert_eq(call(&cli, &req, &resp), 0);
        if (codes[i] != 26)
            assert_json_body(&resp);
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_init_request(&req, 300);
    rmq_cmd_set_ext(&req, "topic", "TBW102");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    assert_json_body(&resp);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"CGX\"", 5));
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 38);
    rmq_cmd_set_ext(&req, "consumerGroup", "CGX");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    assert_json_body(&resp);
    rmq_cmd_deinit(&resp);
}

Test(broker, large_batch_returns_every_msg_id)
{
    create_topic("BigBatch", 1);
    rmq_buf_t body;
    rmq_buf_init(&body);
    for (int i = 0; i < 200; i++) {
        char b[16];
        snprintf(b, sizeof(b), "bb-%d", i);
        rmq_msg_batch_encode_one(&body, 0, b, strlen(b), "TAGS\001B", 6);
    }
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", "BigBatch", 0, NULL, NULL, NULL, NULL, body.data, body.len);
    req.code = 320;
    rmq_cmd_set_ext(&req, "m", "true");
    rmq_buf_free(&body);
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    const char *ids = rmq_cmd_ext(&resp, "msgId");
    int commas = 0;
    for (const char *p = ids; *p; p++)
        commas += *p == ',';
    cr_assert_eq(commas, 199, "%d ids returned", commas + 1);
    rmq_cmd_deinit(&resp);
    wait_dispatched("BigBatch", 0, 200);
}

Test(broker, reset_offset_is_pushed_to_consumers)
{
    create_topic("RO", 1);
    for (int i = 0; i < 3; i++)
        send_msg("RO", 0, "T", NULL, "r");
    wait_dispatched("RO", 0, 3);
    commit_offset("ROG", "RO", 0, 3);
    th_client_t consumer;
    cr_assert(th_connect(&consumer, bk.port));
    rmq_cmd_t req, resp;
    th_req_heartbeat(&req, "127.0.0.1@ro", "ROG", "RO", "*", NULL);
    cr_assert(th_call(&consumer, &req, &resp, 5000));
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 222);
    rmq_cmd_set_ext(&req, "topic", "RO");
    rmq_cmd_set_ext(&req, "group", "ROG");
    rmq_cmd_set_ext(&req, "timestamp", "0");
    rmq_cmd_set_ext(&req, "isForce", "true");
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    cr_assert_not_null(memmem(resp.body, resp.body_len, "\"topic\":\"RO\"}:0", 15), "%.*s",
                       (int)resp.body_len, resp.body);
    rmq_cmd_deinit(&resp);
    bool pushed = false;
    for (int i = 0; i < 10 && !pushed; i++) {
        rmq_cmd_t f;
        rmq_cmd_init(&f);
        cr_assert(th_read_frame(&consumer, &f, 3000), "RESET_CONSUMER_CLIENT_OFFSET not pushed");
        pushed = f.code == 220 && (f.flag & 2);
        rmq_cmd_deinit(&f);
    }
    cr_assert(pushed);
    th_close(&consumer);
    rmq_cmd_init_request(&req, 222);
    rmq_cmd_set_ext(&req, "topic", "RO");
    rmq_cmd_set_ext(&req, "group", "nobody");
    rmq_cmd_set_ext(&req, "timestamp", "0");
    expect_error(&req, 1, "not exist");
}

/* ---- admin codes with the values of their answers ---- */

/* The body as JSON (fastjson's unquoted integer keys accepted, as Java's
 * clients read them). */
static json_t *body_json(const rmq_cmd_t *resp)
{
    char err[200];
    json_t *j = rmq_json_parse((const char *)resp->body, resp->body_len, err, sizeof(err));
    cr_assert_not_null(j, "body is not JSON (%s): %.*s", err, (int)resp->body_len, resp->body);
    return j;
}

/* Fails if CHECK_CLIENT_CONFIG (46) refuses a valid TAG subscription or
 * accepts a malformed one, if GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) does
 * not show a group's settings, if DELETE_SUBSCRIPTIONGROUP (207) leaves it
 * (or its offsets when asked to remove them), if GET_ALL_CONSUMER_OFFSET
 * (43) does not show the committed offsets, or if GET_BROKER_CONFIG (26)
 * does not show the running settings and the topics' data version. */
Test(broker_cfg, admin_codes_answer_with_values)
{
    start_with("autoCreateSubscriptionGroup=false");
    create_topic("AdmV", 2);
    rmq_cmd_t req, resp;
    /* 46: a TAG expression is accepted, SUCCESS without remark */
    rmq_cmd_init_request(&req, 46);
    const char *ok = "{\"clientId\":\"c\",\"group\":\"AG\",\"subscriptionData\":{\"topic\":\"AdmV\","
                     "\"subString\":\"TagA || "
                     "TagB\",\"expressionType\":\"TAG\"}}";
    rmq_cmd_set_body(&req, ok, strlen(ok));
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 46);
    const char *bad =
        "{\"clientId\":\"c\",\"group\":\"AG\",\"subscriptionData\":{\"topic\":\"AdmV\",\"subString\":\" || "
        "\",\"expressionType\":\"TAG\"}}";
    rmq_cmd_set_body(&req, bad, strlen(bad));
    cr_assert_eq(call(&cli, &req, &resp), 23, "a malformed TAG expression: SUBSCRIPTION_PARSE_FAILED");
    rmq_cmd_deinit(&resp);

    /* 200 + 201: the group with its settings */
    rmq_cmd_init_request(&req, 200);
    const char *g = "{\"groupName\":\"AG\",\"consumeEnable\":true,\"retryMaxTimes\":7,\"retryQueueNums\":1,"
                    "\"consumeBroadcastEnable\":false,\"brokerId\":0,\"whichBrokerWhenConsumeSlowly\":1}";
    rmq_cmd_set_body(&req, g, strlen(g));
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 201);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    json_t *j = body_json(&resp);
    json_t *ag = json_object_get(json_object_get(j, "subscriptionGroupTable"), "AG");
    cr_assert_not_null(ag, "group AG missing: %.*s", (int)resp.body_len, resp.body);
    cr_assert_eq(json_integer_value(json_object_get(ag, "retryMaxTimes")), 7);
    cr_assert(json_is_false(json_object_get(ag, "consumeBroadcastEnable")));
    cr_assert(json_is_true(json_object_get(ag, "consumeEnable")));
    cr_assert_not_null(json_object_get(j, "dataVersion"), "no dataVersion");
    json_decref(j);
    rmq_cmd_deinit(&resp);

    /* 15 + 43: committed offsets of every group and queue */
    commit_offset("AG", "AdmV", 0, 5);
    commit_offset("AG", "AdmV", 1, 7);
    rmq_cmd_init_request(&req, 43);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    j = body_json(&resp);
    json_t *t = json_object_get(json_object_get(j, "offsetTable"), "AdmV@AG");
    cr_assert_not_null(t, "AdmV@AG missing: %.*s", (int)resp.body_len, resp.body);
    cr_assert_eq(json_integer_value(json_object_get(t, "0")), 5);
    cr_assert_eq(json_integer_value(json_object_get(t, "1")), 7);
    json_decref(j);
    rmq_cmd_deinit(&resp);

    /* 207 with removeOffset: the group and its offsets go; a pull by the
     * group is SUBSCRIPTION_GROUP_NOT_EXIST (no auto-creation here) */
    rmq_cmd_init_request(&req, 207);
    rmq_cmd_set_ext(&req, "groupName", "AG");
    rmq_cmd_set_ext(&req, "removeOffset", "true");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 201);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    j = body_json(&resp);
    cr_assert_null(json_object_get(json_object_get(j, "subscriptionGroupTable"), "AG"), "AG still listed");
    json_decref(j);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 43);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    j = body_json(&resp);
    cr_assert_null(json_object_get(json_object_get(j, "offsetTable"), "AdmV@AG"),
                   "AG's offsets still listed");
    json_decref(j);
    rmq_cmd_deinit(&resp);
    int code;
    /* no offset left: Java answers 0 for a queue whose messages are all
     * still there (minOffset 0), not the removed 5 */
    cr_assert_eq(query_offset("AG", "AdmV", 0, &code), 0);
    cr_assert_eq(code, 0);
    th_req_pull(&req, "AG", "AdmV", 0, 0, 32, 0x4, 0, "*");
    expect_error(&req, 26, "does not exist");

    /* 26: the running settings as properties, the topics' data version */
    rmq_cmd_init_request(&req, 26);
    cr_assert_eq(call(&cli, &req, &resp), 0);
    char want[64];
    snprintf(want, sizeof(want), "listenPort=%d\n", bk.port);
    cr_assert_not_null(memmem(resp.body, resp.body_len, want, strlen(want)), "%.*s", (int)resp.body_len,
                       resp.body);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "brokerName=broker-t\n", 20));
    cr_assert_not_null(memmem(resp.body, resp.body_len, "autoCreateSubscriptionGroup=false\n", 34));
    cr_assert_not_null(memmem(resp.body, resp.body_len, "flushDiskType=ASYNC_FLUSH\n", 26),
                       "store settings too");
    const char *ver = rmq_cmd_ext(&resp, "version");
    cr_assert_not_null(ver, "no version ext field");
    json_error_t e;
    json_t *dv = json_loads(ver, 0, &e);
    cr_assert_not_null(dv, "version is not JSON: %s", ver);
    cr_assert_geq(json_integer_value(json_object_get(dv, "counter")), 1, "topics were created: %s", ver);
    json_decref(dv);
    rmq_cmd_deinit(&resp);
}

/* CONSUMER_SEND_MSG_BACK with delayLevel < 0 goes to %DLQ% at once: nothing
 * parked in the schedule topic, nothing in %RETRY%. */
Test(broker, send_back_with_negative_delay_level_dead_letters_at_once)
{
    create_topic("NegDL", 1);
    send_msg("NegDL", 0, "T", NULL, "straight-to-dlq");
    wait_dispatched("NegDL", 0, 1);
    rmq_cmd_t req, resp;
    th_req_pull(&req, "GNEG", "NegDL", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    int64_t clo = recs[0].commitlog_offset;
    free(recs);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", clo);
    rmq_cmd_set_ext(&req, "group", "GNEG");
    rmq_cmd_set_ext(&req, "delayLevel", "-1");
    rmq_cmd_set_ext(&req, "originTopic", "NegDL");
    cr_assert_eq(call(&cli, &req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    cr_assert(TH_WAIT_UNTIL(pull_code("GNEG", "%DLQ%GNEG", 0, 0) == 0, 10000), "not in %%DLQ%%GNEG");
    th_req_pull(&req, "GNEG", "%DLQ%GNEG", 0, 0, 32, 0x4, 0, "*");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 1);
    char v[64];
    cr_assert(!memcmp(recs[0].body, "straight-to-dlq", 15));
    cr_assert_str_eq(prop_of(&recs[0], "RETRY_TOPIC", v, sizeof(v)), "NegDL");
    free(recs);
    rmq_cmd_deinit(&resp);
    for (int q = 0; q < 18; q++)
        cr_assert_leq(max_offset("SCHEDULE_TOPIC_XXXX", q), 0, "parked at delay level %d", q + 1);
    cr_assert_leq(max_offset("%RETRY%GNEG", 0), 0, "also sent to %%RETRY%%");
}

/* A queue lock is a 60 s lease (Java's rebalanceLockMaxLiveTime): the holder
 * renews it; another client gets the queue only once it expired. Fails if
 * the lease never expires or expires early. Takes a minute. */
Test(broker, orderly_lock_lease_expires, .timeout = 180)
{
    cr_assert(lock_q0(41, "c1"), "first locker must get the queue");
    int64_t t0 = rmq_mono_ms();
    cr_assert_not(lock_q0(41, "c2"), "another client must not get a held queue");
    cr_assert(TH_WAIT_UNTIL(lock_q0(41, "c2"), 120000), "the lease of c1 never expired");
    int64_t held = rmq_mono_ms() - t0;
    cr_assert_geq(held, 59000, "the 60 s lease ended after %lld ms", (long long)held);
    cr_assert_not(lock_q0(41, "c1"), "c2 holds it now");
}

/* ---- the disk hangs or fails under SYNC_FLUSH: FLUSH_DISK_TIMEOUT on the wire ---- */

static void fault(const char *name, bool on)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", fault_dir, name);
    if (on) {
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        fclose(f);
    } else {
        cr_assert_eq(unlink(p), 0);
    }
}

static int send_code(const char *topic, const char *body, rmq_cmd_t *resp)
{
    rmq_cmd_t req;
    th_req_send_v2(&req, "PG", topic, 0, "T", NULL, NULL, NULL, body, strlen(body));
    return call(&cli, &req, resp);
}

/* A SYNC_FLUSH send whose flush hangs past syncFlushTimeout, or whose msync
 * fails, is answered FLUSH_DISK_TIMEOUT (10) as Java does: stored (msgId,
 * queueOffset given), no remark; sends succeed again once the disk does.
 * Fails if such a send is answered SUCCESS, not answered, or lost. The disk
 * is the real one behind an LD_PRELOAD shim on msync (fault_preload.c). */
Test(broker_cfg, flush_disk_timeout_on_the_wire)
{
    cr_assert(th_tmpdir(fault_dir, sizeof(fault_dir), "fault"));
    cr_assert_eq(access(COMET_FAULT_PRELOAD, R_OK), 0, "%s is not built", COMET_FAULT_PRELOAD);
    const char *asan = getenv("ASAN_OPTIONS");
    char *saved = asan ? strdup(asan) : NULL, ao[1024];
    snprintf(ao, sizeof(ao), "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", ao, 1);
    setenv("COMET_FAULT_DIR", fault_dir, 1);
    setenv("LD_PRELOAD", COMET_FAULT_PRELOAD, 1);
    start_with("flushDiskType=SYNC_FLUSH\nsyncFlushTimeout=500");
    unsetenv("LD_PRELOAD");
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    cr_assert_not(th_log_contains(&bk, "preload", 0), "the fault shim was not loaded (see %s)", bk.log);
    create_topic("Disk", 1);
    rmq_cmd_t resp;
    cr_assert_eq(send_code("Disk", "before", &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    int sent = 1;
    for (int k = 0; k < 2; k++) {
        const char *what = k == 0 ? "msync-stall" : "msync-fail";
        fault(what, true);
        cr_assert_eq(send_code("Disk", what, &resp), 10, "%s: code %d (%s)", what, resp.code,
                     resp.remark ? resp.remark : "");
        sent++;
        cr_assert_null(resp.remark, "Java sends no remark with FLUSH_DISK_TIMEOUT: %s", resp.remark);
        cr_assert_not_null(rmq_cmd_ext(&resp, "msgId"), "stored: the answer carries its msgId");
        int64_t qoff = -1;
        cr_assert_eq(rmq_cmd_ext_i64(&resp, "queueOffset", &qoff), RMQ_OK);
        cr_assert_eq(qoff, sent - 1);
        rmq_cmd_deinit(&resp);
        fault(what, false);
        /* the flush that hung or failed is retried: answers come back 0 */
        int code = -1;
        cr_assert(TH_WAIT_UNTIL(__extension__({
                                    code = send_code("Disk", "after", &resp);
                                    rmq_cmd_deinit(&resp);
                                    sent++;
                                    code == 0;
                                }),
                                20000),
                  "after %s the sends still get %d", what, code);
    }
    wait_dispatched("Disk", 0, sent);
    cr_assert_eq(max_offset("Disk", 0), sent, "a send answered FLUSH_DISK_TIMEOUT was not stored");
}

/* ---- the whole Java 4.9.8 client conversation, replayed frame by frame ---- */

typedef struct golden_frame_s {
    int seq, conn, code, flag, opaque;
    bool to_broker, response;
    char file[128];
} golden_frame_t;

static size_t load_conversation(const char *dir, golden_frame_t *out, size_t max)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/%s/frames.jsonl", COMET_TEST_DATA, dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    static char line[1 << 17];
    size_t n = 0;
    while (n < max && fgets(line, sizeof(line), f)) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        cr_assert_not_null(j, "%s: %s", path, e.text);
        if (!strcmp(json_string_value(json_object_get(j, "endpoint")), "bk")) {
            golden_frame_t *g = &out[n++];
            json_t *h = json_object_get(j, "header");
            g->seq = (int)json_integer_value(json_object_get(j, "seq"));
            g->conn = (int)json_integer_value(json_object_get(j, "conn"));
            g->code = (int)json_integer_value(json_object_get(h, "code"));
            g->flag = (int)json_integer_value(json_object_get(h, "flag"));
            g->opaque = (int)json_integer_value(json_object_get(h, "opaque"));
            g->to_broker = !strcmp(json_string_value(json_object_get(j, "dir")), "c2s");
            g->response = (g->flag & 1) != 0;
            snprintf(g->file, sizeof(g->file), "%s", json_string_value(json_object_get(j, "file")));
        }
        json_decref(j);
    }
    fclose(f);
    return n;
}

static void load_raw(const char *dir, const golden_frame_t *g, rmq_cmd_t *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/%s/%s", COMET_TEST_DATA, dir, g->file);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static uint8_t buf[1 << 17];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    rmq_cmd_init(out);
    cr_assert(n > 4 && rmq_cmd_decode(out, buf + 4, n - 4, NULL, 0) == RMQ_OK, "%s does not decode", path);
}

/* A JSON array of the body (38: consumerIdList, 41: lockOKMQSet), its items
 * as sorted compact strings joined by '|'. */
static void body_set(const rmq_cmd_t *c, const char *key, char *out, size_t n)
{
    out[0] = 0;
    json_t *j = body_json(c);
    json_t *a = json_object_get(j, key);
    size_t k = json_array_size(a);
    char **v = calloc(k + 1, sizeof(*v));
    for (size_t i = 0; i < k; i++)
        v[i] = json_dumps(json_array_get(a, i), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    qsort(v, k, sizeof(*v), th_cmp_str);
    for (size_t i = 0; i < k; i++) {
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "|" : "", v[i]);
        free(v[i]);
    }
    free(v);
    json_decref(j);
}

/* The properties of a record as sorted "k=v" lines. ORIGIN_MESSAGE_ID is an
 * offset msgId: the storing broker's address (the capture's proxy, here a
 * test port) then the commit-log offset; only the offset is kept. */
static void sorted_props(const rmq_msg_rec_t *r, char *out, size_t n)
{
    char *lines[64];
    int k = 0;
    const char *p = r->props, *end = r->props + r->props_len;
    while (p < end && k < 64) {
        const char *sep = memchr(p, 2, (size_t)(end - p));
        size_t len = sep ? (size_t)(sep - p) : (size_t)(end - p);
        lines[k] = strndup(p, len);
        char *eq = strchr(lines[k], 1);
        if (eq) {
            *eq = '=';
            if (!strncmp(lines[k], "ORIGIN_MESSAGE_ID=", 18) && strlen(eq + 1) > 16)
                memmove(eq + 1, eq + 1 + strlen(eq + 1) - 16, 17);
        }
        k++;
        p += len + 1;
    }
    qsort(lines, (size_t)k, sizeof(*lines), th_cmp_str);
    out[0] = 0;
    for (int i = 0; i < k; i++) {
        snprintf(out + strlen(out), n - strlen(out), "%s\n", lines[i]);
        free(lines[i]);
    }
}

/* Stored-message bodies (11 FOUND, 33, 12) record by record. */
static void same_records(int seq, const rmq_cmd_t *java, const rmq_cmd_t *ours)
{
    rmq_msg_rec_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    cr_assert_eq(rmq_msg_decode_all(java->body, java->body_len, true, &a, &na), RMQ_OK);
    cr_assert_eq(rmq_msg_decode_all(ours->body, ours->body_len, true, &b, &nb), RMQ_OK,
                 "frame %d: bad records", seq);
    cr_assert_eq(nb, na, "frame %d: %zu records, Java %zu", seq, nb, na);
    for (size_t i = 0; i < na; i++) {
        cr_assert_eq(b[i].queue_id, a[i].queue_id, "frame %d record %zu", seq, i);
        cr_assert_eq(b[i].queue_offset, a[i].queue_offset, "frame %d record %zu", seq, i);
        cr_assert_eq(b[i].commitlog_offset, a[i].commitlog_offset,
                     "frame %d record %zu: commit-log offset %lld, Java %lld", seq, i,
                     (long long)b[i].commitlog_offset, (long long)a[i].commitlog_offset);
        cr_assert_eq(b[i].reconsume_times, a[i].reconsume_times, "frame %d record %zu", seq, i);
        cr_assert_eq(b[i].sys_flag, a[i].sys_flag, "frame %d record %zu", seq, i);
        cr_assert_eq(b[i].flag, a[i].flag, "frame %d record %zu", seq, i);
        cr_assert(b[i].topic_len == a[i].topic_len && !memcmp(b[i].topic, a[i].topic, a[i].topic_len),
                  "frame %d record %zu: topic", seq, i);
        cr_assert(b[i].body_len == a[i].body_len && !memcmp(b[i].body, a[i].body, (size_t)a[i].body_len),
                  "frame %d record %zu: body", seq, i);
        /* the same pairs (Java writes them in its HashMap's order) */
        char pa[2048], pb[2048];
        sorted_props(&a[i], pa, sizeof(pa));
        sorted_props(&b[i], pb, sizeof(pb));
        cr_assert_str_eq(pb, pa, "frame %d record %zu: properties", seq, i);
    }
    free(a);
    free(b);
}

/* Values that depend on when the capture ran, or on the capture's own
 * addresses and commit-log bytes: compared for presence only. */
static bool value_varies(int code, const char *key)
{
    static const char *const keys[] = {"msgId", "timestamp", "indexLastUpdatePhyoffset",
                                       "indexLastUpdateTimestamp", NULL};
    for (const char *const *k = keys; *k; k++)
        if (!strcmp(*k, key))
            return true;
    return code == 29; /* SEARCH_OFFSET_BY_TIMESTAMP of the capture's clock */
}

static void compare_response(int seq, int code, const rmq_cmd_t *java, const rmq_cmd_t *ours)
{
    cr_assert_eq(ours->code, java->code, "frame %d (code %d): answered %d, Java %d (%s)", seq, code,
                 ours->code, java->code, ours->remark ? ours->remark : "");
    /* remarks of failures (a success's remark is whatever Java's response
     * object was created with, e.g. "not set any response code") */
    cr_assert(java->code == 0 || (!java->remark && !ours->remark) ||
                  (java->remark && ours->remark && !strcmp(java->remark, ours->remark)),
              "frame %d (code %d): remark \"%s\", Java \"%s\"", seq, code,
              ours->remark ? ours->remark : "(null)", java->remark ? java->remark : "(null)");
    for (size_t i = 0; i < java->ext_n; i++) {
        const char *k = java->ext[i].key, *v = rmq_cmd_ext(ours, k);
        cr_assert_not_null(v, "frame %d (code %d): ext field %s missing", seq, code, k);
        if (!value_varies(code, k))
            cr_assert_str_eq(v, java->ext[i].val, "frame %d (code %d): %s=%s, Java %s", seq, code, k, v,
                             java->ext[i].val);
    }
    char a[4096], b[4096];
    if (code == 38 && java->code == 0) {
        body_set(java, "consumerIdList", a, sizeof(a));
        body_set(ours, "consumerIdList", b, sizeof(b));
        cr_assert_str_eq(b, a, "frame %d: consumer list [%s], Java [%s]", seq, b, a);
    } else if (code == 41) {
        body_set(java, "lockOKMQSet", a, sizeof(a));
        body_set(ours, "lockOKMQSet", b, sizeof(b));
        cr_assert_str_eq(b, a, "frame %d: locked queues [%s], Java [%s]", seq, b, a);
    } else if ((code == 11 && java->code == 0) || code == 33 || code == 12) {
        same_records(seq, java, ours);
    }
}

typedef struct replay_s {
    const char *dir;
    golden_frame_t *g;
    size_t n;
    th_client_t conns[32];
    bool open[32];
    int notified[32];
    size_t replayed;
} replay_t;

static void drain_notifies(replay_t *r)
{
    for (int k = 0; k < 32; k++) {
        rmq_cmd_t f;
        while (r->open[k] && th_read_frame(&r->conns[k], &f, 0)) {
            if (f.code == 40 && !rmq_cmd_is_response(&f))
                r->notified[k]++;
            rmq_cmd_deinit(&f);
        }
    }
}

static bool same_ext(const rmq_cmd_t *a, const rmq_cmd_t *b, const char *key)
{
    const char *x = rmq_cmd_ext(a, key), *y = rmq_cmd_ext(b, key);
    return (!x && !y) || (x && y && !strcmp(x, y));
}

/* Send frame i again and compare with Java's answer jr (NULL: oneway). */
static void replay_one(replay_t *r, size_t i, const golden_frame_t *jr)
{
    const golden_frame_t *f = &r->g[i];
    int c = f->conn;
    cr_assert(c >= 0 && c < 32);
    if (!r->open[c]) {
        cr_assert(th_connect(&r->conns[c], bk.port));
        r->open[c] = true;
    }
    rmq_cmd_t req;
    load_raw(r->dir, f, &req);
    if (req.code == 11) { /* no long polling in the replay */
        int64_t sys = 0;
        rmq_cmd_ext_i64(&req, "sysFlag", &sys);
        rmq_cmd_set_ext_i64(&req, "sysFlag", sys & ~0x2);
        rmq_cmd_set_ext(&req, "suspendTimeoutMillis", "0");
    }
    r->replayed++;
    if (!jr) {
        cr_assert(th_oneway(&r->conns[c], &req), "frame %d: send failed", f->seq);
        rmq_cmd_deinit(&req);
        return;
    }
    rmq_cmd_t java, ours;
    load_raw(r->dir, jr, &java);
    int tries = 0;
    TH_WAIT_UNTIL(__extension__({
                      if (tries++)
                          rmq_cmd_deinit(&ours);
                      cr_assert(th_call(&r->conns[c], &req, &ours, 20000), "frame %d (code %d): no answer",
                                f->seq, req.code);
                      /* only a pull may need time (a message not yet back from its delay,
                       * or the last sends not yet dispatched to the queue): it is asked
                       * again until it found what Java's did, up to the same offset */
                      req.code != 11 || (ours.code == java.code && same_ext(&ours, &java, "nextBeginOffset"));
                  }),
                  30000);
    compare_response(f->seq, req.code, &java, &ours);
    rmq_cmd_deinit(&ours);
    rmq_cmd_deinit(&java);
    rmq_cmd_deinit(&req);
    drain_notifies(r);
}

/* Every request the Java 4.9.8 clients sent to the broker during the
 * capture (admin, producer, push and orderly consumers; tests/data/
 * rocketmq-4.9.8/INDEX.md), sent again in order on as many connections, to
 * a Comet broker named like the captured one. Each answer must have Java's
 * code (and remark, for a failure), every extField of Java's with the same
 * value (bar the ones that depend on the capture's clock), and the same
 * body: consumer lists, locked queues, and stored messages record by record
 * (commit-log offsets included). Pulls are sent without suspension; one that
 * Java held (answered after later requests) is sent where Java answered it,
 * and repeated until Java's answer is there (a retried message waits for
 * its delay level). The broker sends NOTIFY_CONSUMER_IDS_CHANGED on the
 * connections Java's did. */
static void conversation(const char *dir)
{
    start_with("brokerName=broker-g\nbrokerClusterName=GoldenCluster\nmessageDelayLevel=1s 1s 1s 1s 1s");
    static golden_frame_t g[400];
    replay_t r = {.dir = dir, .g = g};
    r.n = load_conversation(dir, g, 400);
    cr_assert_gt(r.n, 100, "%s: %zu broker frames", dir, r.n);
    int java_notified[32] = {0};
    size_t resp_of[400]; /* index of Java's response, or n for a oneway */
    size_t due[400];     /* a deferred request: replayed before this frame */
    bool deferred[400] = {false}, skip[400] = {false};
    for (size_t i = 0; i < r.n; i++) {
        resp_of[i] = due[i] = r.n;
        if (g[i].to_broker && (g[i].flag & 2) && g[i].code == 42) {
            /* Java ran a oneway UNLOCK_BATCH_MQ on another thread than the
             * next LOCK_BATCH_MQ of another connection: its answers show
             * the unlock applied after that lock. It takes effect here
             * before the next frame Java sent on its connection. */
            for (size_t k = i + 1; k < r.n && due[i] == r.n; k++)
                if (!g[k].to_broker && g[k].conn == g[i].conn)
                    due[i] = k;
            deferred[i] = true;
            continue;
        }
        if (!g[i].to_broker || (g[i].flag & 2))
            continue;
        for (size_t k = i + 1; k < r.n && resp_of[i] == r.n; k++)
            if (!g[k].to_broker && g[k].response && g[k].conn == g[i].conn && g[k].opaque == g[i].opaque)
                resp_of[i] = k;
        if (resp_of[i] == r.n && g[i].code == 11) {
            skip[i] = true; /* a long poll Java still held when its client went away */
            continue;
        }
        cr_assert_neq(resp_of[i], r.n, "frame %d: no Java response in the capture", g[i].seq);
        for (size_t k = i + 1; k < resp_of[i]; k++)
            if (g[k].to_broker && g[i].code == 11)
                deferred[i] = true; /* held by Java's long polling */
        due[i] = resp_of[i];
    }
    for (size_t i = 0; i <= r.n; i++) {
        /* held pulls at the place Java answered them, unlocks where due */
        for (size_t d = 0; d < i; d++)
            if (deferred[d] && due[d] <= i) {
                replay_one(&r, d, resp_of[d] < r.n ? &g[resp_of[d]] : NULL);
                deferred[d] = false;
            }
        if (i == r.n)
            break;
        if (!g[i].to_broker) {
            if (!g[i].response && g[i].code == 40 && g[i].conn < 32)
                java_notified[g[i].conn]++;
            continue;
        }
        if (!deferred[i] && !skip[i])
            replay_one(&r, i, resp_of[i] < r.n ? &g[resp_of[i]] : NULL);
    }
    for (int k = 0; k < 32; k++) {
        if (java_notified[k])
            cr_assert(r.notified[k] > 0 || TH_WAIT_UNTIL(__extension__({
                                                             rmq_cmd_t f;
                                                             bool got_ = th_read_frame(&r.conns[k], &f, 100);
                                                             if (got_) {
                                                                 r.notified[k] += f.code == 40;
                                                                 rmq_cmd_deinit(&f);
                                                             }
                                                             r.notified[k] > 0;
                                                         }),
                                                         5000),
                      "connection %d: Java's broker sent NOTIFY_CONSUMER_IDS_CHANGED %d times, Comet none", k,
                      java_notified[k]);
        if (r.open[k])
            th_close(&r.conns[k]);
    }
    cr_log_info("%s: %zu requests replayed", dir, r.replayed);
}

Test(broker_cfg, java_conversation_replay_json, .timeout = 120)
{
    conversation("raw-json");
}

Test(broker_cfg, java_conversation_replay_rocketmq, .timeout = 120)
{
    conversation("raw-rocketmq");
}
