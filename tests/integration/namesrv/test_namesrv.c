/* test_namesrv.c - mqnamesrv against real processes: golden Java frames,
 * master/slave/second-master registration, routes in both JSON styles,
 * expiry, connection close, re-registration, KV config, bad input. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <zlib.h>

#include "harness.h"
#include "rmq_buf.h"
#include "rmq_codes.h"
#include "rmq_err.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

static th_proc_t ns;

static void start_ns(const char *extra)
{
    cr_assert(th_namesrv_start(&ns, extra), "mqnamesrv did not start (log: %s)", ns.log);
}

static void stop_ns(void)
{
    th_proc_stop(&ns, SIGTERM);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len + 1);
    cr_assert(fread(p, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

static void golden(const char *name, rmq_cmd_t *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/%s", COMET_TEST_DATA, name);
    size_t n;
    uint8_t *p = read_file(path, &n);
    cr_assert(rmq_cmd_decode(out, p + 4, n - 4, NULL, 0) == RMQ_OK, "%s does not decode", name);
    free(p);
}

/* REGISTER_BROKER with a JSON RegisterBrokerBody listing `topics`. */
static void make_register(rmq_cmd_t *req, const char *cluster, const char *name, int64_t id, const char *addr,
                          const char *topics, int64_t dv_counter)
{
    rmq_cmd_init_request(req, RMQ_REQ_REGISTER_BROKER);
    rmq_cmd_set_ext(req, "brokerName", name);
    rmq_cmd_set_ext(req, "brokerAddr", addr);
    rmq_cmd_set_ext(req, "clusterName", cluster);
    rmq_cmd_set_ext(req, "haServerAddr", "127.0.0.1:10912");
    rmq_cmd_set_ext_i64(req, "brokerId", id);
    rmq_cmd_set_ext(req, "compressed", "false");
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_printf(
        &b,
        "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%lld,"
        "\"timestamp\":1700000000000},\"topicConfigTable\":{",
        (long long)dv_counter);
    char *list = strdup(topics), *save = NULL;
    bool first = true;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        rmq_buf_printf(
            &b,
            "%s\"%s\":{\"order\":false,\"perm\":6,\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\","
            "\"topicName\":\"%s\",\"topicSysFlag\":0,\"writeQueueNums\":4}",
            first ? "" : ",", t, t);
        first = false;
    }
    free(list);
    rmq_buf_puts(&b, "}}}");
    rmq_cmd_set_body(req, b.data, b.len);
    rmq_buf_free(&b);
}

static int call_code(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp)
{
    cr_assert(th_call(c, req, resp, 5000), "no response to code %d", req->code);
    return resp->code;
}

static int route(th_client_t *c, const char *topic, int version, char **body)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC);
    req.version = version;
    rmq_cmd_set_ext(&req, "topic", topic);
    int code = call_code(c, &req, &resp);
    if (body)
        *body = resp.body ? strndup((char *)resp.body, resp.body_len) : strdup("");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    return code;
}

static int reg(th_client_t *c, const char *cluster, const char *name, int64_t id, const char *addr,
               const char *topics, rmq_cmd_t *resp_out)
{
    rmq_cmd_t req, resp;
    make_register(&req, cluster, name, id, addr, topics, 1);
    int code = call_code(c, &req, &resp);
    rmq_cmd_deinit(&req);
    if (resp_out)
        *resp_out = resp;
    else
        rmq_cmd_deinit(&resp);
    return code;
}

/* Poll the route until it has the wanted code (bounded). */
static bool wait_route_code(int port, const char *topic, int want, int timeout_ms)
{
    (void)port;
    return TH_WAIT_UNTIL(__extension__({
                             th_client_t q;
                             cr_assert(th_connect(&q, ns.port));
                             int code = route(&q, topic, 409, NULL);
                             th_close(&q);
                             code == want;
                         }),
                         timeout_ms);
}

Test(namesrv, golden_java_frames, .init = NULL, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    /* The Java broker's REGISTER_BROKER, byte for byte. */
    rmq_cmd_t req, resp, want;
    golden("json/103_REGISTER_BROKER_req.bin", &req);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    cr_assert(resp.has_ext, "register response carries an (empty) extFields object like Java's");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    /* The oneway re-registration the Java broker sent after the topic was
     * created: no answer, but the new topic appears. */
    golden("json/103_REGISTER_BROKER_oneway.bin", &req);
    cr_assert(rmq_cmd_is_oneway(&req));
    cr_assert(th_oneway(&c, &req));
    rmq_cmd_deinit(&req);

    /* Route for the golden topic: body must equal the Java name server's. */
    golden("json/105_GET_ROUTEINFO_BY_TOPIC_req.bin", &req);
    golden("json/105_GET_ROUTEINFO_BY_TOPIC_resp.bin", &want);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    cr_assert_eq(resp.body_len, want.body_len, "route body: %.*s", (int)resp.body_len, (char *)resp.body);
    cr_assert(memcmp(resp.body, want.body, want.body_len) == 0, "route body differs: %.*s",
              (int)resp.body_len, (char *)resp.body);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&want);

    /* Cluster info, fastjson style with unquoted integer keys. */
    golden("json/106_GET_BROKER_CLUSTER_INFO_req.bin", &req);
    golden("json/106_GET_BROKER_CLUSTER_INFO_resp.bin", &want);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    cr_assert(resp.body_len == want.body_len && memcmp(resp.body, want.body, want.body_len) == 0,
              "cluster info differs: %.*s", (int)resp.body_len, (char *)resp.body);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&want);

    /* Unknown topic: TOPIC_NOT_EXIST with Java's remark. */
    golden("json/105_GET_ROUTEINFO_BY_TOPIC_notexist_req.bin", &req);
    golden("json/105_GET_ROUTEINFO_BY_TOPIC_notexist_resp.bin", &want);
    /* (the captured topic, %RETRY%golden_cg_json, exists by the time of the
     * oneway registration above, so ask for one that does not) */
    char topic[128];
    snprintf(topic, sizeof(topic), "%s", rmq_cmd_ext(&req, "topic"));
    rmq_cmd_set_ext(&req, "topic", "%RETRY%never_seen");
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_TOPIC_NOT_EXIST);
    char expect[512];
    const char *tail = strstr(want.remark, topic) + strlen(topic);
    snprintf(expect, sizeof(expect), "%.*s%s%s", (int)(strstr(want.remark, topic) - want.remark), want.remark,
             "%RETRY%never_seen", tail);
    cr_assert_str_eq(resp.remark, expect);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&want);

    /* The ROCKETMQ-serialized variants get ROCKETMQ-serialized answers. */
    golden("rocketmq/105_GET_ROUTEINFO_BY_TOPIC_req.bin", &req); /* GoldenTopic_rocketmq: not registered */
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_TOPIC_NOT_EXIST);
    cr_assert_eq(resp.serialize, RMQ_SERIALIZE_ROCKETMQ);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    /* UNREGISTER_BROKER removes the broker and its routes. */
    golden("json/104_UNREGISTER_BROKER_req.bin", &req);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route(&c, "GoldenTopic_json", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST);
    th_close(&c);
}

/* The golden Java broker's header with a Java-style incremental body
 * (BrokerController.registerIncrementBrokerData: only `topic`, the table's
 * data version). */
static void java_incremental(rmq_cmd_t *req, const char *topic, int queues, int64_t counter)
{
    golden("json/103_REGISTER_BROKER_req.bin", req);
    char body[1024];
    snprintf(
        body, sizeof(body),
        "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":%lld,"
        "\"timestamp\":1795505866597},\"topicConfigTable\":{\"%s\":{\"order\":false,\"perm\":6,"
        "\"readQueueNums\":%d,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"%s\",\"topicSysFlag\":0,"
        "\"writeQueueNums\":%d}}}}",
        (long long)counter, topic, queues, topic, queues);
    rmq_cmd_set_body(req, body, strlen(body));
    rmq_cmd_set_ext_i64(req, "bodyCrc32", rmq_msg_body_crc(req->body, req->body_len));
}

static bool route_has(th_client_t *c, const char *topic, const char *needle)
{
    char *body = NULL;
    int code = route(c, topic, 409, &body);
    bool has = code == RMQ_OK && strstr(body, needle) != NULL;
    free(body);
    return has;
}

Test(namesrv, java_incremental_registration_after_a_full_one, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    rmq_cmd_t req, resp;
    golden("json/103_REGISTER_BROKER_req.bin", &req); /* the whole table, data version 0 */
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    java_incremental(&req, "IncTopic", 4, 1);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert(route_has(&c, "IncTopic", "\"readQueueNums\":4"), "the incremental topic is not routed");
    cr_assert(route_has(&c, "TBW102", "\"readQueueNums\":8"),
              "an incremental registration must not drop the topics it does not carry");
    /* the whole table again (without IncTopic): nothing is removed, as Java */
    golden("json/103_REGISTER_BROKER_req.bin", &req);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert(route_has(&c, "IncTopic", "\"readQueueNums\":4"), "a full registration removed a topic");
    /* an incremental update of one topic */
    java_incremental(&req, "IncTopic", 8, 2);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert(route_has(&c, "IncTopic", "\"readQueueNums\":8"), "the update did not reach the route");
    /* the same data version again: topics are not applied (Java's
     * isBrokerTopicConfigChanged), the broker stays alive */
    java_incremental(&req, "Ignored", 8, 2);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route(&c, "Ignored", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST,
                 "topics of an unchanged data version must not be applied (Java does not)");
    th_close(&c);
}

Test(namesrv, master_slave_and_second_master, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t a0, a1, b0;
    cr_assert(th_connect(&a0, ns.port) && th_connect(&a1, ns.port) && th_connect(&b0, ns.port));
    cr_assert_eq(reg(&a0, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicA,TopicAB", NULL), RMQ_OK);
    rmq_cmd_t sresp;
    cr_assert_eq(reg(&a1, "C1", "broker-a", 1, "127.0.0.1:10921", "TopicA,TopicAB", &sresp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&sresp, "masterAddr"), "127.0.0.1:10911", "slave learns its master");
    cr_assert_str_eq(rmq_cmd_ext(&sresp, "haServerAddr"), "127.0.0.1:10912");
    rmq_cmd_deinit(&sresp);
    cr_assert_eq(reg(&b0, "C1", "broker-b", 0, "127.0.0.1:10931", "TopicAB,TopicB", NULL), RMQ_OK);

    char *body;
    /* old client (ali-ons sends version 121): fastjson unquoted integer keys */
    cr_assert_eq(route(&a0, "TopicAB", 121, &body), RMQ_OK);
    cr_assert(strstr(body, "{0:\"127.0.0.1:10911\",1:\"127.0.0.1:10921\"}"), "%s", body);
    cr_assert(strstr(body, "\"brokerName\":\"broker-b\""), "%s", body);
    cr_assert(strstr(body, "\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":4,"
                           "\"topicSysFlag\":0,\"writeQueueNums\":4},{\"brokerName\":\"broker-b\""),
              "%s", body);
    free(body);
    /* 4.9.4+ client: standard JSON */
    cr_assert_eq(route(&a0, "TopicAB", 409, &body), RMQ_OK);
    cr_assert(strstr(body, "{\"0\":\"127.0.0.1:10911\",\"1\":\"127.0.0.1:10921\"}"), "%s", body);
    free(body);
    cr_assert_eq(route(&a0, "TopicB", 409, &body), RMQ_OK);
    cr_assert(!strstr(body, "broker-a"), "TopicB lives on broker-b only: %s", body);
    free(body);

    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_BROKER_CLUSTER_INFO);
    cr_assert_eq(call_code(&a0, &req, &resp), RMQ_OK);
    cr_assert(strstr((char *)resp.body, "\"clusterAddrTable\":{\"C1\":[\"broker-a\",\"broker-b\"]}"), "%.*s",
              (int)resp.body_len, (char *)resp.body);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    rmq_cmd_init_request(&req, RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    cr_assert_eq(call_code(&a0, &req, &resp), RMQ_OK);
    cr_assert(strstr((char *)resp.body, "{\"topicList\":[\"TopicA\",\"TopicAB\",\"TopicB\"]}"), "%.*s",
              (int)resp.body_len, (char *)resp.body);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    rmq_cmd_init_request(&req, RMQ_REQ_GET_TOPICS_BY_CLUSTER);
    rmq_cmd_set_ext(&req, "cluster", "C1");
    cr_assert_eq(call_code(&a0, &req, &resp), RMQ_OK);
    cr_assert(strstr((char *)resp.body, "TopicB"));
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    /* Wipe broker-a's write permission: perm 6 -> 4. */
    rmq_cmd_init_request(&req, RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER);
    rmq_cmd_set_ext(&req, "brokerName", "broker-a");
    cr_assert_eq(call_code(&a0, &req, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "wipeTopicCount"), "2");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route(&a0, "TopicA", 409, &body), RMQ_OK);
    cr_assert(strstr(body, "\"perm\":4"), "%s", body);
    free(body);

    /* The slave going away leaves broker-a's routes in place (master alive). */
    th_close(&a1);
    bool only_master = TH_WAIT_UNTIL(__extension__({
                                         bool m_ = false;
                                         if (route(&a0, "TopicA", 121, &body) == RMQ_OK) {
                                             m_ = strstr(body, "{0:\"127.0.0.1:10911\"}") != NULL;
                                             free(body);
                                         }
                                         m_;
                                     }),
                                     10000);
    cr_assert(only_master, "the slave's address is still routed, or the master's is gone");
    th_close(&a0);
    th_close(&b0);
}

Test(namesrv, expiry_and_reregistration, .fini = stop_ns)
{
    start_ns("brokerChannelExpiredTime=800\nscanNotActiveBrokerInterval=100\n");
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicX", NULL), RMQ_OK);
    cr_assert_eq(route(&c, "TopicX", 409, NULL), RMQ_OK);
    /* no re-registration: gone after ~0.8 s although the connection is open */
    cr_assert(wait_route_code(ns.port, "TopicX", RMQ_ERR_TOPIC_NOT_EXIST, 5000), "broker did not expire");
    cr_assert(th_log_contains(&ns, "expired", 1000));
    /* registering again brings it back */
    cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicX", NULL), RMQ_OK);
    cr_assert_eq(route(&c, "TopicX", 409, NULL), RMQ_OK);
    /* and regular registrations keep it alive past the expiry time */
    for (int i = 0; i < 6; i++) {
        th_pace_ms(300, "re-register more often than the 800 ms expiry, for 1.8 s in all");
        cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicX", NULL), RMQ_OK);
    }
    cr_assert_eq(route(&c, "TopicX", 409, NULL), RMQ_OK);
    th_close(&c);
}

Test(namesrv, removed_when_connection_closes, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicY", NULL), RMQ_OK);
    cr_assert_eq(route(&c, "TopicY", 409, NULL), RMQ_OK);
    th_close(&c);
    cr_assert(wait_route_code(ns.port, "TopicY", RMQ_ERR_TOPIC_NOT_EXIST, 3000),
              "route survived connection close");
    /* re-registration on a new connection */
    cr_assert(th_connect(&c, ns.port));
    cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicY", NULL), RMQ_OK);
    cr_assert_eq(route(&c, "TopicY", 409, NULL), RMQ_OK);
    th_close(&c);
}

Test(namesrv, compressed_register_and_crc, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    /* RegisterBrokerBody.encode(true): zlib of dataVersion, topic configs as text, filter servers */
    rmq_buf_t raw;
    rmq_buf_init(&raw);
    const char *dv = "{\"counter\":3,\"timestamp\":1700000000000}";
    rmq_buf_put_u32(&raw, (uint32_t)strlen(dv));
    rmq_buf_puts(&raw, dv);
    rmq_buf_put_u32(&raw, 2);
    const char *t1 = "TopicZ1 8 8 6 SINGLE_TAG", *t2 = "TopicZ2 2 2 6 SINGLE_TAG";
    rmq_buf_put_u32(&raw, (uint32_t)strlen(t1));
    rmq_buf_puts(&raw, t1);
    rmq_buf_put_u32(&raw, (uint32_t)strlen(t2));
    rmq_buf_puts(&raw, t2);
    rmq_buf_put_u32(&raw, 2);
    rmq_buf_puts(&raw, "[]");
    uLongf zl = compressBound(raw.len);
    uint8_t *z = malloc(zl);
    cr_assert(compress2(z, &zl, raw.data, raw.len, 9) == Z_OK);
    rmq_cmd_t req, resp;
    make_register(&req, "C1", "broker-z", 0, "127.0.0.1:10941", "", 1);
    rmq_cmd_set_ext(&req, "compressed", "true");
    rmq_cmd_set_body(&req, z, zl);
    rmq_cmd_set_ext_i64(&req, "bodyCrc32", (int64_t)(crc32(0, z, (uInt)zl) & 0x7FFFFFFF));
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    char *body;
    cr_assert_eq(route(&c, "TopicZ1", 409, &body), RMQ_OK);
    cr_assert(strstr(body, "\"readQueueNums\":8"), "%s", body);
    free(body);
    /* wrong CRC is refused like Java ("crc32 not match") */
    rmq_cmd_set_ext_i64(&req, "bodyCrc32", 12345);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert_str_eq(resp.remark, "crc32 not match");
    rmq_cmd_deinit(&resp);
    /* a body that is not zlib gets a clear error, not a crash */
    rmq_cmd_set_body(&req, "not zlib at all", 15);
    rmq_cmd_set_ext_i64(&req, "bodyCrc32", 0);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert(resp.remark && strstr(resp.remark, "inflate"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    free(z);
    rmq_buf_free(&raw);
    th_close(&c);
}

Test(namesrv, request_validation, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    rmq_cmd_t req, resp;
    /* unknown request code */
    rmq_cmd_init_request(&req, 9999);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED);
    cr_assert_str_eq(resp.remark, " request type 9999 not supported");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    /* missing topic: Java's null lookup finds no route */
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_TOPIC_NOT_EXIST);
    cr_assert(strstr(resp.remark, "for the topic: null"), "%s", resp.remark);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    /* missing required field: Java would NullPointerException */
    rmq_cmd_init_request(&req, RMQ_REQ_UNREGISTER_BROKER);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert_str_eq(resp.remark, "the custom field <brokerName> is null");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    /* non-numeric brokerId */
    make_register(&req, "C1", "broker-a", 0, "127.0.0.1:10911", "T", 1);
    rmq_cmd_set_ext(&req, "brokerId", "zero");
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert(strstr(resp.remark, "brokerId"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    /* register body that is not JSON */
    rmq_cmd_set_ext(&req, "brokerId", "0");
    rmq_cmd_set_body(&req, "{not json", 9);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert(resp.remark && strstr(resp.remark, "JSON"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    /* topicConfigTable of the wrong type */
    const char *bad = "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":[1,2]}}";
    rmq_cmd_set_body(&req, bad, strlen(bad));
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_SYSTEM_ERROR);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    /* the server still answers */
    cr_assert_eq(route(&c, "Nope", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST);
    th_close(&c);
}

Test(namesrv, kv_config_persists, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_PUT_KV_CONFIG);
    rmq_cmd_set_ext(&req, "namespace", "ORDER_TOPIC_CONFIG");
    rmq_cmd_set_ext(&req, "key", "TopicO");
    rmq_cmd_set_ext(&req, "value", "broker-a:4");
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);

    rmq_cmd_init_request(&req, RMQ_REQ_GET_KV_CONFIG);
    rmq_cmd_set_ext(&req, "namespace", "ORDER_TOPIC_CONFIG");
    rmq_cmd_set_ext(&req, "key", "TopicO");
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "value"), "broker-a:4");
    rmq_cmd_deinit(&resp);

    /* registering a broker returns the ORDER_TOPIC_CONFIG table */
    rmq_cmd_t rresp;
    cr_assert_eq(reg(&c, "C1", "broker-a", 0, "127.0.0.1:10911", "TopicO", &rresp), RMQ_OK);
    cr_assert(rresp.body && strstr((char *)rresp.body, "\"TopicO\":\"broker-a:4\""));
    rmq_cmd_deinit(&rresp);
    th_close(&c);

    /* clean shutdown on SIGTERM (exit status 0, "stopped" logged), then
     * restart: the value survives */
    cr_assert(th_proc_stop(&ns, SIGTERM), "mqnamesrv did not exit cleanly on SIGTERM");
    cr_assert(th_log_contains(&ns, "stopped", 100));
    cr_assert(th_namesrv_restart(&ns));
    cr_assert(th_connect(&c, ns.port));
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "value"), "broker-a:4");
    rmq_cmd_deinit(&resp);

    rmq_cmd_t del;
    rmq_cmd_init_request(&del, RMQ_REQ_DELETE_KV_CONFIG);
    rmq_cmd_set_ext(&del, "namespace", "ORDER_TOPIC_CONFIG");
    rmq_cmd_set_ext(&del, "key", "TopicO");
    cr_assert_eq(call_code(&c, &del, &resp), RMQ_OK);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&del);
    cr_assert_eq(call_code(&c, &req, &resp), RMQ_ERR_QUERY_NOT_FOUND);
    cr_assert_str_eq(resp.remark, "No config item, Namespace: ORDER_TOPIC_CONFIG Key: TopicO");
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
}

/* After each kind of garbage the server closes that connection, keeps
 * running and serves a new connection. */
static void bad_frame_closes(const void *bytes, size_t n)
{
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    cr_assert(th_send_raw(&c, bytes, n));
    cr_assert(th_wait_closed(&c, 3000), "server kept a connection that sent garbage");
    th_close(&c);
    cr_assert(th_proc_alive(&ns), "server died");
    cr_assert(th_connect(&c, ns.port));
    cr_assert_eq(route(&c, "Nothing", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST);
    th_close(&c);
}

Test(namesrv, bad_input_keeps_server_up, .fini = stop_ns)
{
    start_ns("frameMaxLength=65536\n");
    th_client_t idle;
    cr_assert(th_connect(&idle, ns.port)); /* an unrelated client stays connected throughout */

    /* header length larger than the frame */
    uint8_t hl[12] = {0, 0, 0, 8, 0, 0, 0x10, 0, 'x', 'x', 'x', 'x'};
    bad_frame_closes(hl, sizeof(hl));
    /* frame length smaller than a header word */
    uint8_t tiny[6] = {0, 0, 0, 2, 0, 0};
    bad_frame_closes(tiny, sizeof(tiny));
    /* oversize frame (over frameMaxLength) */
    uint8_t big[8] = {0, 0x10, 0, 0, 0, 0, 0, 4};
    bad_frame_closes(big, sizeof(big));
    /* garbage JSON header */
    const char *junk = "{\"code\":105,,,";
    uint8_t gj[64];
    rmq_wbe32(gj, (uint32_t)(4 + strlen(junk)));
    rmq_wbe32(gj + 4, (uint32_t)strlen(junk));
    memcpy(gj + 8, junk, strlen(junk));
    bad_frame_closes(gj, 8 + strlen(junk));
    /* unknown serialize type */
    uint8_t ut[10] = {0, 0, 0, 6, 7, 0, 0, 2, '{', '}'};
    bad_frame_closes(ut, sizeof(ut));
    /* truncated frame, then the client goes away: nothing to answer, no crash */
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    uint8_t trunc[8] = {0, 0, 0, 100, 0, 0, 0, 10};
    cr_assert(th_send_raw(&c, trunc, sizeof(trunc)));
    th_close(&c);
    /* still answering (a crash at any point fails the test when .fini stops it) */
    cr_assert_eq(route(&idle, "Nothing", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST);
    cr_assert(th_log_contains(&ns, "closing", 1000), "bad frames are logged");
    th_close(&idle);
}

Test(namesrv, config_flags)
{
    char exe[512], cmd[1024], dir[256];
    th_bin("mqnamesrv", exe, sizeof(exe));
    cr_assert(th_tmpdir(dir, sizeof(dir), "comet-nscfg"));
    char conf[300];
    snprintf(conf, sizeof(conf), "%s/ns.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f, "# comment\nlistenPort = 19999\nnoSuchKey=1\n");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -c %s -p 2>&1", exe, conf);
    FILE *p = popen(cmd, "r");
    char out[8192] = "";
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    cr_assert_eq(pclose(p), 0);
    cr_assert(strstr(out, "listenPort=19999"), "%s", out);
    cr_assert(strstr(out, "unknown setting \"noSuchKey\""), "%s", out);
    cr_assert(strstr(out, "serverChannelMaxIdleTimeSeconds=120"));
    /* a bad value is refused with the file and line */
    f = fopen(conf, "w");
    fprintf(f, "listenPort=abc\n");
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s -c %s -m 2>&1", exe, conf);
    p = popen(cmd, "r");
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    cr_assert_neq(pclose(p), 0);
    cr_assert(strstr(out, "ns.conf:1: listenPort: expected an integer"), "%s", out);
}

/* ---- every name-server code of README's table, with the values of its answer ---- */

/* REGISTER_BROKER of one broker whose topics carry topicSysFlag values:
 * topics = "Name:flag,Name:flag". */
static void reg_flags(th_client_t *c, const char *cluster, const char *name, const char *addr,
                      const char *topics)
{
    rmq_cmd_t req, resp;
    make_register(&req, cluster, name, 0, addr, "Placeholder", 1);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_puts(&b,
                 "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,"
                 "\"timestamp\":1700000000000},\"topicConfigTable\":{");
    char *list = strdup(topics), *save = NULL;
    bool first = true;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        *colon = 0;
        rmq_buf_printf(
            &b,
            "%s\"%s\":{\"order\":false,\"perm\":6,\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\","
            "\"topicName\":\"%s\",\"topicSysFlag\":%s,\"writeQueueNums\":4}",
            first ? "" : ",", t, t, colon + 1);
        first = false;
    }
    free(list);
    rmq_buf_puts(&b, "}}}");
    rmq_cmd_set_body(&req, b.data, b.len);
    rmq_buf_free(&b);
    cr_assert_eq(call_code(c, &req, &resp), RMQ_OK, "register %s: %s", name, resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
}

/* A request with ext fields "k=v;k=v" (may be ""); returns the code, the
 * response in *resp (caller deinits). */
static int ask(th_client_t *c, int code, const char *ext, const char *body, rmq_cmd_t *resp)
{
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, code);
    char *list = strdup(ext), *save = NULL;
    for (char *kv = strtok_r(list, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        *eq = 0;
        rmq_cmd_set_ext(&req, kv, eq + 1);
    }
    free(list);
    if (body)
        rmq_cmd_set_body(&req, body, strlen(body));
    int r = call_code(c, &req, resp);
    rmq_cmd_deinit(&req);
    return r;
}

/* The sorted topicList of a TopicList body, as "a,b,c". */
static void topic_list(const rmq_cmd_t *resp, char *out, size_t n, char *broker_addr, size_t an)
{
    char err[200];
    json_t *j = rmq_json_parse((const char *)resp->body, resp->body_len, err, sizeof(err));
    cr_assert_not_null(j, "not a TopicList (%s): %.*s", err, (int)resp->body_len, (const char *)resp->body);
    json_t *l = json_object_get(j, "topicList");
    cr_assert(json_is_array(l), "no topicList: %.*s", (int)resp->body_len, (const char *)resp->body);
    size_t k = json_array_size(l);
    const char **v = calloc(k + 1, sizeof(*v));
    for (size_t i = 0; i < k; i++)
        v[i] = json_string_value(json_array_get(l, i));
    qsort(v, k, sizeof(*v), th_cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < k; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", v[i]);
    if (broker_addr) {
        json_t *a = json_object_get(j, "brokerAddr");
        snprintf(broker_addr, an, "%s", json_is_string(a) ? json_string_value(a) : "");
    }
    free(v);
    json_decref(j);
}

static void expect_topics(th_client_t *c, int code, const char *ext, const char *want)
{
    rmq_cmd_t resp;
    cr_assert_eq(ask(c, code, ext, NULL, &resp), RMQ_OK, "code %d: %s", code, resp.remark ? resp.remark : "");
    char got[1024];
    topic_list(&resp, got, sizeof(got), NULL, 0);
    cr_assert_str_eq(got, want, "code %d (%s): topicList %s, want %s", code, ext, got, want);
    rmq_cmd_deinit(&resp);
}

/* perm of brokerName's queue data in the route of topic (-1: absent). */
static int route_perm(th_client_t *c, const char *topic, const char *broker)
{
    char *body = NULL;
    if (route(c, topic, 409, &body) != RMQ_OK) {
        free(body);
        return -1;
    }
    char err[200];
    json_t *j = rmq_json_parse(body, strlen(body), err, sizeof(err));
    free(body);
    int perm = -1;
    json_t *qd;
    size_t i;
    json_array_foreach(json_object_get(j, "queueDatas"), i, qd)
    {
        if (!strcmp(json_string_value(json_object_get(qd, "brokerName")), broker))
            perm = (int)json_integer_value(json_object_get(qd, "perm"));
    }
    json_decref(j);
    return perm;
}

/* Fails if any of README's name-server codes is missing or answers with other
 * values than Java's name server (DefaultRequestProcessor, RouteInfoManager):
 * topic lists by cluster, system topics, the three unit lists by
 * topicSysFlag (UNIT 0x1, UNIT_SUB 0x2), write permission wipe/add counts and
 * their effect on routes, topic deletion limited to a cluster, data-version
 * queries, KV lists by namespace, and the runtime configuration. */
Test(namesrv, every_code_answers_with_javas_values, .fini = stop_ns)
{
    start_ns(NULL);
    th_client_t c;
    cr_assert(th_connect(&c, ns.port));
    reg_flags(&c, "C1", "broker-a", "127.0.0.1:10911", "UnitT:1,UnitSubT:2,BothT:3,PlainT:0");
    reg_flags(&c, "C1", "broker-b", "127.0.0.1:10921", "PlainT:0,SharedT:0");
    reg_flags(&c, "C2", "broker-c", "127.0.0.1:10931", "COnly:0,SharedT:0");
    rmq_cmd_t resp;

    /* 206 every topic; 224 by cluster (unknown cluster: empty list) */
    expect_topics(&c, RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, "",
                  "BothT,COnly,PlainT,SharedT,UnitSubT,UnitT");
    expect_topics(&c, RMQ_REQ_GET_TOPICS_BY_CLUSTER, "cluster=C1", "BothT,PlainT,SharedT,UnitSubT,UnitT");
    expect_topics(&c, RMQ_REQ_GET_TOPICS_BY_CLUSTER, "cluster=C2", "COnly,SharedT");
    expect_topics(&c, RMQ_REQ_GET_TOPICS_BY_CLUSTER, "cluster=NoSuchCluster", "");
    /* 304: cluster names and broker names, plus one broker's address */
    cr_assert_eq(ask(&c, RMQ_REQ_GET_SYSTEM_TOPIC_LIST_FROM_NS, "", NULL, &resp), RMQ_OK);
    char got[1024], addr[64];
    topic_list(&resp, got, sizeof(got), addr, sizeof(addr));
    cr_assert_str_eq(got, "C1,C2,broker-a,broker-b,broker-c");
    cr_assert(!strcmp(addr, "127.0.0.1:10911") || !strcmp(addr, "127.0.0.1:10921") ||
                  !strcmp(addr, "127.0.0.1:10931"),
              "brokerAddr \"%s\" is not a registered broker", addr);
    rmq_cmd_deinit(&resp);
    /* 311 UNIT, 312 UNIT_SUB, 313 UNIT_SUB without UNIT */
    expect_topics(&c, RMQ_REQ_GET_UNIT_TOPIC_LIST, "", "BothT,UnitT");
    expect_topics(&c, RMQ_REQ_GET_HAS_UNIT_SUB_TOPIC_LIST, "", "BothT,UnitSubT");
    expect_topics(&c, RMQ_REQ_GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST, "", "UnitSubT");

    /* 205 / 327: write permission of one broker, counted per topic */
    cr_assert_eq(ask(&c, RMQ_REQ_WIPE_WRITE_PERM_OF_BROKER, "brokerName=broker-b", NULL, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "wipeTopicCount"), "2");
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route_perm(&c, "SharedT", "broker-b"), 4, "broker-b keeps read only");
    cr_assert_eq(route_perm(&c, "SharedT", "broker-c"), 6, "other brokers untouched");
    cr_assert_eq(ask(&c, RMQ_REQ_ADD_WRITE_PERM_OF_BROKER, "brokerName=broker-b", NULL, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "addTopicCount"), "2");
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route_perm(&c, "SharedT", "broker-b"), 6, "write permission restored");
    cr_assert_eq(ask(&c, RMQ_REQ_ADD_WRITE_PERM_OF_BROKER, "brokerName=no-such-broker", NULL, &resp), RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "addTopicCount"), "0");
    rmq_cmd_deinit(&resp);

    /* 216: limited to a cluster, then everywhere */
    cr_assert_eq(ask(&c, RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, "topic=SharedT;clusterName=C2", NULL, &resp),
                 RMQ_OK);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route_perm(&c, "SharedT", "broker-c"), -1, "C2's broker-c still routes SharedT");
    cr_assert_eq(route_perm(&c, "SharedT", "broker-b"), 6, "C1's broker-b lost SharedT");
    expect_topics(&c, RMQ_REQ_GET_TOPICS_BY_CLUSTER, "cluster=C2", "COnly");
    cr_assert_eq(ask(&c, RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, "topic=PlainT", NULL, &resp), RMQ_OK);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route(&c, "PlainT", 409, NULL), RMQ_ERR_TOPIC_NOT_EXIST);

    /* 322: the stored DataVersion, "changed" when it differs */
    const char *dv_same = "{\"counter\":1,\"timestamp\":1700000000000}";
    cr_assert_eq(ask(&c, RMQ_REQ_QUERY_DATA_VERSION,
                     "brokerName=broker-a;brokerAddr=127.0.0.1:10911;clusterName=C1;brokerId=0", dv_same,
                     &resp),
                 RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "changed"), "false");
    char err[200];
    json_t *dv = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
    cr_assert_not_null(dv, "body is not a DataVersion: %s", err);
    cr_assert_eq(json_integer_value(json_object_get(dv, "counter")), 1);
    cr_assert_eq(json_integer_value(json_object_get(dv, "timestamp")), 1700000000000LL);
    json_decref(dv);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_QUERY_DATA_VERSION,
                     "brokerName=broker-a;brokerAddr=127.0.0.1:10911;clusterName=C1;brokerId=0",
                     "{\"counter\":2,\"timestamp\":1700000000000}", &resp),
                 RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "changed"), "true");
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_QUERY_DATA_VERSION,
                     "brokerName=broker-x;brokerAddr=127.0.0.1:1;clusterName=C1;brokerId=0", dv_same, &resp),
                 RMQ_OK);
    cr_assert_str_eq(rmq_cmd_ext(&resp, "changed"), "true", "an unknown broker has changed");
    rmq_cmd_deinit(&resp);

    /* 100 + 219: a namespace's table; an empty one is QUERY_NOT_FOUND */
    cr_assert_eq(ask(&c, RMQ_REQ_PUT_KV_CONFIG, "namespace=NS1;key=k1;value=v1", NULL, &resp), RMQ_OK);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_PUT_KV_CONFIG, "namespace=NS1;key=k2;value=v2", NULL, &resp), RMQ_OK);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_GET_KVLIST_BY_NAMESPACE, "namespace=NS1", NULL, &resp), RMQ_OK);
    json_t *kv = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
    cr_assert_not_null(kv, "%s", err);
    json_t *table = json_object_get(kv, "table");
    cr_assert_eq(json_object_size(table), 2, "%.*s", (int)resp.body_len, (const char *)resp.body);
    cr_assert_str_eq(json_string_value(json_object_get(table, "k1")), "v1");
    cr_assert_str_eq(json_string_value(json_object_get(table, "k2")), "v2");
    json_decref(kv);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_GET_KVLIST_BY_NAMESPACE, "namespace=Empty", NULL, &resp),
                 RMQ_ERR_QUERY_NOT_FOUND);
    cr_assert_str_eq(resp.remark, "No config item, Namespace: Empty");
    rmq_cmd_deinit(&resp);

    /* 319 / 318: the running configuration as properties; a runtime change
     * that takes effect; start-up settings refused */
    cr_assert_eq(ask(&c, RMQ_REQ_GET_NAMESRV_CONFIG, "", NULL, &resp), RMQ_OK);
    char want[64];
    snprintf(want, sizeof(want), "listenPort=%d\n", ns.port);
    cr_assert_not_null(memmem(resp.body, resp.body_len, want, strlen(want)), "%.*s", (int)resp.body_len,
                       (const char *)resp.body);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "orderMessageEnable=false\n", 25));
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_PUT_KV_CONFIG, "namespace=ORDER_TOPIC_CONFIG;key=UnitT;value=broker-a:4",
                     NULL, &resp),
                 RMQ_OK);
    rmq_cmd_deinit(&resp);
    char *body = NULL;
    cr_assert_eq(route(&c, "UnitT", 409, &body), RMQ_OK);
    cr_assert_null(strstr(body, "orderTopicConf\":\"broker-a:4"),
                   "orderTopicConf while orderMessageEnable=false: %s", body);
    free(body);
    cr_assert_eq(ask(&c, RMQ_REQ_UPDATE_NAMESRV_CONFIG, "", "orderMessageEnable=true\n", &resp), RMQ_OK, "%s",
                 resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    cr_assert_eq(ask(&c, RMQ_REQ_GET_NAMESRV_CONFIG, "", NULL, &resp), RMQ_OK);
    cr_assert_not_null(memmem(resp.body, resp.body_len, "orderMessageEnable=true\n", 24));
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route(&c, "UnitT", 409, &body), RMQ_OK);
    cr_assert_not_null(strstr(body, "\"orderTopicConf\":\"broker-a:4\""), "no orderTopicConf: %s", body);
    free(body);
    cr_assert_eq(ask(&c, RMQ_REQ_UPDATE_NAMESRV_CONFIG, "", "listenPort=1\n", &resp), RMQ_ERR_SYSTEM_ERROR);
    cr_assert_not_null(strstr(resp.remark, "listenPort cannot be changed at runtime"), "%s", resp.remark);
    rmq_cmd_deinit(&resp);
    th_close(&c);
}
