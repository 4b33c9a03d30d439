/* test_fields.c - header fields spelled as real clients spell them, against a
 * real mqnamesrv + mqbroker: the batch flag m of SEND_MESSAGE_V2 and
 * SEND_BATCH_MESSAGE (replayed from the Java 4.9.8 capture), fields Java
 * does not need, JSON-typed values, zero-length bodies, property strings and
 * names at their length limits. Each check pulls what was stored. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_cmd.h"
#include "rmq_msg_codec.h"

static th_proc_t ns, bk;
static th_client_t cli;

static void start(void)
{
    cr_assert(th_namesrv_start(&ns, NULL), "name server did not start");
    cr_assert(th_broker_start(&bk, ns.port, NULL), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
}

static void stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
}

TestSuite(fields, .init = start, .fini = stop, .timeout = 120);

static int call(rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    cr_assert(th_call(&cli, req, resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    return resp->code;
}

static void create_topic(const char *topic)
{
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, topic, 1);
    cr_assert_eq(call(&req, &resp), 0, "create %s: %s", topic, resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
}

/* Everything stored in queue 0 of topic once `want` messages are there
 * (bounded wait: a pull answers PULL_NOT_FOUND until the store dispatched). */
static rmq_msg_rec_t *pull_all(const char *topic, size_t want, size_t *n, rmq_cmd_t *resp)
{
    for (int i = 0; i < 300; i++) {
        rmq_cmd_t req;
        th_req_pull(&req, "FieldsCG", topic, 0, 0, 64, 0x4, 0, "*");
        int code = call(&req, resp);
        if (code == 0) {
            rmq_msg_rec_t *recs = NULL;
            cr_assert_eq(rmq_msg_decode_all(resp->body, resp->body_len, true, &recs, n), RMQ_OK);
            if (*n >= want)
                return recs;
            free(recs);
        }
        rmq_cmd_deinit(resp);
        th_poll_pause((unsigned)i);
    }
    cr_assert_fail("%s never held %zu messages", topic, want);
    return NULL;
}

/* The golden SEND_BATCH_MESSAGE request of the Java 4.9.8 capture (three
 * messages, m="true"). */
static void golden_batch(rmq_cmd_t *req)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/json/320_SEND_BATCH_MESSAGE_req.bin", COMET_TEST_DATA);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    char err[256];
    cr_assert_eq(rmq_cmd_decode(req, buf + 4, n - 4, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_assert_str_eq(rmq_cmd_ext(req, "m"), "true");
}

/* Replay with another code, topic and m; return what the broker stored. */
static void replay_m(int code, const char *m, bool want_batch)
{
    char topic[64];
    snprintf(topic, sizeof(topic), "M%d_%s", code, m ? (*m ? m : "empty") : "absent");
    create_topic(topic);
    rmq_cmd_t req, resp;
    golden_batch(&req);
    req.code = code;
    req.opaque = 0;
    rmq_cmd_set_ext(&req, "b", topic);
    /* drop m, then set the variant */
    for (size_t i = 0; i < req.ext_n; i++)
        if (!strcmp(req.ext[i].key, "m"))
            req.ext[i].key[0] = 'x';
    if (m)
        rmq_cmd_set_ext(&req, "m", m);
    size_t body_len = req.body_len;
    uint8_t *body = malloc(body_len);
    memcpy(body, req.body, body_len);
    int got = call(&req, &resp);
    cr_assert_eq(got, 0, "code %d m=%s: %d %s", code, m ? m : "(absent)", got,
                 resp.remark ? resp.remark : "");
    const char *ids = rmq_cmd_ext(&resp, "msgId");
    cr_assert_not_null(ids);
    cr_expect_eq(strchr(ids, ',') != NULL, want_batch, "code %d m=%s: msgId %s", code, m ? m : "(absent)",
                 ids);
    rmq_cmd_deinit(&resp);
    size_t n;
    rmq_msg_rec_t *recs = pull_all(topic, want_batch ? 3 : 1, &n, &resp);
    if (want_batch) {
        cr_expect_eq(n, 3, "code %d m=%s: a batch of 3 stored as %zu", code, m ? m : "(absent)", n);
    } else {
        /* one message whose body is the whole batch encoding, as Java stores it */
        cr_expect_eq(n, 1, "code %d m=%s: stored %zu messages", code, m ? m : "(absent)", n);
        cr_expect_eq((size_t)recs[0].body_len, body_len);
        cr_expect_eq(memcmp(recs[0].body, body, body_len), 0, "the body is stored as sent");
    }
    free(recs);
    free(body);
    rmq_cmd_deinit(&resp);
}

/* m is read with Boolean.parseBoolean, whatever the code: "0", "1",
 * "false", "" and no m are one message; "TRUE"/"true" a batch. */
Test(fields, batch_flag_m_decides_not_the_code)
{
    static const struct {
        const char *m;
        bool batch;
    } cases[] = {{"0", false},  {"1", false},   {"false", false}, {"TRUE", true},
                 {NULL, false}, {"true", true}, {"", false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        replay_m(320, cases[i].m, cases[i].batch);
        replay_m(310, cases[i].m, cases[i].batch);
    }
}

/* SEND_MESSAGE (10) spells it "batch". */
Test(fields, send_message_v1_batch_field)
{
    create_topic("V1Batch");
    rmq_cmd_t req, resp;
    rmq_buf_t body;
    rmq_buf_init(&body);
    for (int i = 0; i < 2; i++)
        rmq_msg_batch_encode_one(&body, 0, "x", 1, "TAGS\001A", 6);
    rmq_cmd_init_request(&req, 10);
    rmq_cmd_set_ext(&req, "topic", "V1Batch");
    rmq_cmd_set_ext(&req, "queueId", "0");
    rmq_cmd_set_ext(&req, "sysFlag", "0");
    rmq_cmd_set_ext(&req, "bornTimestamp", "1700000000000");
    rmq_cmd_set_ext(&req, "flag", "0");
    rmq_cmd_set_ext(&req, "batch", "True");
    rmq_cmd_set_body(&req, body.data, body.len);
    rmq_buf_free(&body);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    size_t n;
    free(pull_all("V1Batch", 2, &n, &resp));
    cr_expect_eq(n, 2);
    rmq_cmd_deinit(&resp);
}

/* Java reads a, c, d, i..n only when it needs them: a send without a producer
 * group, default topic or queue count is stored (the topic exists). */
Test(fields, send_without_fields_java_does_not_need)
{
    create_topic("Lean");
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 310);
    rmq_cmd_set_ext(&req, "b", "Lean");
    rmq_cmd_set_ext(&req, "e", "+0"); /* Integer.parseInt accepts a plus sign */
    rmq_cmd_set_ext(&req, "f", "0");
    rmq_cmd_set_ext(&req, "g", "1700000000000");
    rmq_cmd_set_ext(&req, "h", "7");
    rmq_cmd_set_ext(&req, "zz", "unknown fields are ignored");
    rmq_cmd_set_body(&req, "lean", 4);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    size_t n;
    rmq_msg_rec_t *r = pull_all("Lean", 1, &n, &resp);
    cr_expect_eq(r[0].flag, 7);
    cr_expect_eq(r[0].born_timestamp, 1700000000000LL);
    free(r);
    rmq_cmd_deinit(&resp);
    /* but an unknown topic needs c and d to be created: Java fails there */
    rmq_cmd_init_request(&req, 310);
    rmq_cmd_set_ext(&req, "b", "NotYetThere");
    rmq_cmd_set_ext(&req, "e", "0");
    rmq_cmd_set_ext(&req, "f", "0");
    rmq_cmd_set_ext(&req, "g", "1");
    rmq_cmd_set_ext(&req, "h", "0");
    cr_assert_eq(call(&req, &resp), 1);
    cr_expect(strstr(resp.remark, "the custom field <d> (defaultTopicQueueNums) is null"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    /* and every message needs queueId, sysFlag, flag, bornTimestamp */
    rmq_cmd_init_request(&req, 310);
    rmq_cmd_set_ext(&req, "b", "Lean");
    rmq_cmd_set_ext(&req, "e", "0");
    rmq_cmd_set_ext(&req, "f", "0");
    rmq_cmd_set_ext(&req, "h", "0");
    cr_assert_eq(call(&req, &resp), 1);
    cr_expect(strstr(resp.remark, "<g> (bornTimestamp) is null"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    /* an unparsable number of SEND_MESSAGE_V2 is Java's NumberFormatException */
    th_req_send_v2(&req, "PG", "Lean", 0, NULL, NULL, NULL, NULL, "x", 1);
    rmq_cmd_set_ext(&req, "h", "0x10");
    cr_assert_eq(call(&req, &resp), 1);
    cr_expect_str_eq(resp.remark, "java.lang.NumberFormatException: For input string: \"0x10\"");
    rmq_cmd_deinit(&resp);
}

/* ali-ons sends numbers and booleans as JSON numbers/booleans. */
Test(fields, json_typed_ext_values)
{
    create_topic("Typed");
    const char *hdr = "{\"code\":310,\"language\":\"JAVA\",\"opaque\":5,\"flag\":0,\"version\":121,"
                      "\"extFields\":{\"a\":\"PG\",\"b\":\"Typed\",\"c\":\"TBW102\",\"d\":4,\"e\":0,\"f\":0,"
                      "\"g\":1700000000000,\"h\":3,\"i\":\"TAGS\\u0001T\",\"j\":0,\"k\":false,\"l\":16}}";
    size_t hl = strlen(hdr);
    uint8_t frame[1024];
    uint32_t total = (uint32_t)(4 + hl + 2);
    frame[0] = (uint8_t)(total >> 24), frame[1] = (uint8_t)(total >> 16), frame[2] = (uint8_t)(total >> 8),
    frame[3] = (uint8_t)total;
    frame[4] = 0, frame[5] = (uint8_t)(hl >> 16), frame[6] = (uint8_t)(hl >> 8), frame[7] = (uint8_t)hl;
    memcpy(frame + 8, hdr, hl);
    memcpy(frame + 8 + hl, "hi", 2);
    cr_assert(th_send_raw(&cli, frame, 8 + hl + 2));
    rmq_cmd_t resp;
    cr_assert(th_read_frame(&cli, &resp, 10000));
    cr_assert_eq(resp.code, 0, "%s", resp.remark ? resp.remark : "");
    cr_expect_eq(resp.opaque, 5);
    rmq_cmd_deinit(&resp);
    size_t n;
    rmq_msg_rec_t *r = pull_all("Typed", 1, &n, &resp);
    cr_expect_eq(r[0].flag, 3);
    free(r);
    rmq_cmd_deinit(&resp);
}

/* A zero-length body is a message with an empty body for Java (only its
 * client refuses it); an empty batch body is an error. */
Test(fields, zero_length_bodies)
{
    create_topic("Empty");
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", "Empty", 0, "T", NULL, NULL, NULL, NULL, 0);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    size_t n;
    rmq_msg_rec_t *r = pull_all("Empty", 1, &n, &resp);
    cr_expect_eq(r[0].body_len, 0);
    free(r);
    rmq_cmd_deinit(&resp);
    th_req_send_v2(&req, "PG", "Empty", 0, "T", NULL, NULL, NULL, NULL, 0);
    req.code = 320;
    rmq_cmd_set_ext(&req, "m", "true");
    cr_assert_eq(call(&req, &resp), 1);
    cr_expect(strstr(resp.remark, "empty"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
}

static const char *prop(const rmq_msg_rec_t *r, const char *key, char *out, size_t n)
{
    const char *v;
    size_t vl;
    if (!rmq_msg_props_find(r->props, r->props_len, key, &v, &vl))
        return NULL;
    snprintf(out, n, "%.*s", (int)vl, v);
    return out;
}

/* Properties as MessageDecoder.string2messageProperties reads them:
 * segments shorter than 3 or without key or value are dropped, the last
 * duplicate wins, WAIT is honoured with Boolean.parseBoolean and not stored. */
Test(fields, property_strings)
{
    create_topic("Props");
    rmq_cmd_t req, resp;
    const char *p = "K\001first\002\002E\001\002\001V\002ab\002K\001second\002W\001x\001y\002WAIT\0011\002"
                    "TRAN_MSG\001FALSE";
    th_req_send_v2(&req, "PG", "Props", 0, NULL, NULL, NULL, NULL, "p", 1);
    rmq_cmd_set_ext(&req, "i", p);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    size_t n;
    rmq_msg_rec_t *r = pull_all("Props", 1, &n, &resp);
    char v[64];
    cr_expect_str_eq(prop(r, "K", v, sizeof(v)), "second");
    cr_expect_null(prop(r, "E", v, sizeof(v)), "empty value dropped");
    cr_expect_str_eq(prop(r, "W", v, sizeof(v)), "x\001y");
    cr_expect_null(prop(r, "WAIT", v, sizeof(v)), "WAIT is not stored");
    cr_expect_str_eq(prop(r, "TRAN_MSG", v, sizeof(v)), "FALSE");
    cr_expect_not_null(prop(r, "CLUSTER", v, sizeof(v)));
    free(r);
    rmq_cmd_deinit(&resp);
    /* TRAN_MSG is Boolean.parseBoolean too: "TRUE" makes a half message,
     * accepted into the half topic (tests/integration/transaction) */
    th_req_send_v2(&req, "PG", "Props", 0, NULL, NULL, NULL, NULL, "p", 1);
    rmq_cmd_set_ext(&req, "i", "TRAN_MSG\001TRUE");
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    /* with rejectTransactionMessage it would be NO_PERMISSION (test_broker.c) */
}

/* Topic names up to 127 characters (TopicValidator); 128 is refused. */
Test(fields, topic_name_length_limit)
{
    char t127[128], t128[129];
    memset(t127, 'a', 127);
    t127[127] = '\0';
    memset(t128, 'b', 128);
    t128[128] = '\0';
    create_topic(t127);
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", t127, 0, NULL, NULL, NULL, NULL, "x", 1);
    cr_assert_eq(call(&req, &resp), 0, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    th_req_create_topic(&req, t128, 1);
    cr_assert_eq(call(&req, &resp), 1);
    cr_expect(strstr(resp.remark, "longer than topic max length 127"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    th_req_send_v2(&req, "PG", t128, 0, NULL, NULL, NULL, NULL, "x", 1);
    cr_assert_eq(call(&req, &resp), 1);
    rmq_cmd_deinit(&resp);
}

/* Name-server lookups of a missing name answer as Java's HashMaps do. */
Test(fields, namesrv_missing_names)
{
    th_client_t nc;
    cr_assert(th_connect(&nc, ns.port));
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 101); /* GET_KV_CONFIG */
    rmq_cmd_set_ext(&req, "namespace", "N");
    rmq_cmd_init(&resp);
    cr_assert(th_call(&nc, &req, &resp, 10000));
    cr_expect_eq(resp.code, 22);
    cr_expect_str_eq(resp.remark, "No config item, Namespace: N Key: null");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 100); /* PUT_KV_CONFIG */
    rmq_cmd_set_ext(&req, "key", "k");
    rmq_cmd_init(&resp);
    cr_assert(th_call(&nc, &req, &resp, 10000));
    cr_expect_eq(resp.code, 1);
    cr_expect_str_eq(resp.remark, "namespace or key is null");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_init_request(&req, 224); /* GET_TOPICS_BY_CLUSTER */
    rmq_cmd_init(&resp);
    cr_assert(th_call(&nc, &req, &resp, 10000));
    cr_expect_eq(resp.code, 0);
    cr_expect_eq(resp.body_len, strlen("{\"topicList\":[]}"));
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    th_close(&nc);
}
