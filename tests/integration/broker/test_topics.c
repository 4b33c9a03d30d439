/* test_topics.c - topic changes at scale, against real processes: every one
 * of many topics created one by one is routed by the name server with its
 * own queue numbers; acknowledged creations survive kill -9 (the topic
 * journal) and a restarted broker registers them all again with a fresh
 * name server (the full registration); a deleted topic leaves the routes
 * and stays gone; and, with a name server played by this test, what the
 * broker sends: one whole RegisterBrokerBody at start, then only the
 * changed topics in Java's TopicConfigSerializeWrapper form, coalesced
 * while a registration is in flight, and the whole table again after a
 * failed one. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_buf.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

static th_proc_t ns, bk;
static th_client_t cli;

static void stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
}

TestSuite(topics, .fini = stop, .timeout = 240);

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
    cr_assert_eq(call(&cli, &req, &resp), 0, "create %s: %s", topic, resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
}

/* The request only: its answer is read later (th_read_frame). */
static void create_topic_sent(const char *topic, int queues)
{
    rmq_cmd_t req;
    th_req_create_topic(&req, topic, queues);
    static int32_t opaque = 1 << 20; /* apart from th_call's */
    req.opaque = opaque++;
    cr_assert_eq(rmq_sync_send(&cli, &req), RMQ_OK, "create %s: not sent", topic);
    rmq_cmd_deinit(&req);
}

/* The name server's route of topic: its code; with code 0 the first queue
 * data's readQueueNums and brokerName into *queues / broker. */
static int route_of(th_client_t *nc, const char *topic, int64_t *queues, char *broker, size_t bn)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 105);
    rmq_cmd_set_ext(&req, "topic", topic);
    int code = call(nc, &req, &resp);
    if (code == 0 && queues) {
        json_t *j = rmq_json_parse((const char *)resp.body, resp.body_len, NULL, 0);
        json_t *qd = json_array_get(json_object_get(j, "queueDatas"), 0);
        *queues = -1;
        rmq_json_int(qd, "readQueueNums", queues);
        const char *name = rmq_json_str(qd, "brokerName");
        snprintf(broker, bn, "%s", name ? name : "");
        json_decref(j);
    }
    rmq_cmd_deinit(&resp);
    return code;
}

static bool routed(int ns_port, const char *topic)
{
    th_client_t nc;
    if (!th_connect(&nc, ns_port))
        return false;
    int code = route_of(&nc, topic, NULL, NULL, 0);
    th_close(&nc);
    return code == 0;
}

#define MANY 2000

static void name_of(char *out, size_t n, int i)
{
    snprintf(out, n, "Many%04d", i);
}

/* Every topic Many0000.. is routed, to broker-t (the harness's), with (i % 16) + 1 queues. */
static void check_all_routed(const char *when)
{
    char last[32];
    name_of(last, sizeof(last), MANY - 1);
    cr_assert(TH_WAIT_UNTIL(routed(ns.port, last), 30000), "%s: the last topic was never routed", when);
    th_client_t nc;
    cr_assert(th_connect(&nc, ns.port));
    for (int i = 0; i < MANY; i++) {
        char name[32], broker[64];
        int64_t q;
        name_of(name, sizeof(name), i);
        int code = route_of(&nc, name, &q, broker, sizeof(broker));
        cr_assert_eq(code, 0, "%s: %s is not routed (code %d)", when, name, code);
        cr_assert_eq(q, i % 16 + 1, "%s: %s routed with %lld queues, created with %d", when, name,
                     (long long)q, i % 16 + 1);
        cr_assert_str_eq(broker, "broker-t", "%s: %s routed to %s", when, name, broker);
    }
    th_close(&nc);
}

Test(topics, many_topics_routed_and_all_back_after_kill9)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_broker_start(&bk, ns.port, NULL), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    for (int i = 0; i < MANY; i++) {
        char name[32];
        name_of(name, sizeof(name), i);
        create_topic(name, i % 16 + 1);
    }
    check_all_routed("after creation");
    /* every creation was answered: kill -9 must lose none (the journal),
     * and a fresh name server must learn them all (the full registration) */
    th_close(&cli);
    th_proc_stop(&bk, SIGKILL);
    th_proc_stop(&ns, SIGTERM);
    cr_assert(th_namesrv_restart(&ns), "name server did not restart");
    char last[32];
    name_of(last, sizeof(last), MANY - 1);
    cr_assert(!routed(ns.port, last), "a fresh name server must start without routes");
    cr_assert(th_broker_restart(&bk), "broker did not restart (log %s)", bk.log);
    check_all_routed("after kill -9 and a restart");
    cr_assert(th_log_contains(&bk, "topic journal:", 1000),
              "the restart did not replay the journal: the topics came from elsewhere?");
}

Test(topics, deleted_topic_leaves_routes)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_broker_start(&bk, ns.port, NULL), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    create_topic("Doomed", 4);
    create_topic("Kept", 4);
    cr_assert(TH_WAIT_UNTIL(routed(ns.port, "Doomed") && routed(ns.port, "Kept"), 20000));
    /* mqadmin deleteTopic: DELETE_TOPIC on the broker, then
     * DELETE_TOPIC_IN_NAMESRV (Java's name server keeps a route until told) */
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 215);
    rmq_cmd_set_ext(&req, "topic", "Doomed");
    cr_assert_eq(call(&cli, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    th_client_t nc;
    cr_assert(th_connect(&nc, ns.port));
    rmq_cmd_init_request(&req, 216);
    rmq_cmd_set_ext(&req, "topic", "Doomed");
    cr_assert_eq(call(&nc, &req, &resp), 0);
    rmq_cmd_deinit(&resp);
    cr_assert_eq(route_of(&nc, "Doomed", NULL, NULL, 0), 17, "the deleted topic is still routed");
    th_close(&nc);
    /* later incremental registrations (a new topic) do not bring it back */
    create_topic("After", 2);
    cr_assert(TH_WAIT_UNTIL(routed(ns.port, "After"), 20000),
              "a topic created after the delete is not routed");
    cr_assert(!routed(ns.port, "Doomed"), "an incremental registration brought the deleted topic back");
    /* neither does a restart's full registration, to a fresh name server */
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
    cr_assert(th_namesrv_restart(&ns));
    cr_assert(th_broker_restart(&bk), "broker did not restart (log %s)", bk.log);
    cr_assert(TH_WAIT_UNTIL(routed(ns.port, "Kept") && routed(ns.port, "After"), 20000),
              "topics lost after the restart");
    cr_assert(!routed(ns.port, "Doomed"), "the restart registered the deleted topic");
}

/* Topics listed by the name server (GET_ALL_TOPIC_LIST_FROM_NAMESERVER)
 * whose name starts with prefix; -1 without an answer. */
static long listed(const char *prefix)
{
    th_client_t nc;
    if (!th_connect(&nc, ns.port))
        return -1;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 206);
    long n = -1;
    if (call(&nc, &req, &resp) == 0) {
        json_t *j = rmq_json_parse((const char *)resp.body, resp.body_len, NULL, 0);
        size_t i;
        json_t *v;
        n = 0;
        json_array_foreach(json_object_get(j, "topicList"), i,
                           v) if (!strncmp(json_string_value(v), prefix, strlen(prefix))) n++;
        json_decref(j);
    }
    rmq_cmd_deinit(&resp);
    th_close(&nc);
    return n;
}

#define LARGE 60000

static const char *large_name(int i)
{
    static char name[128];
    snprintf(name, sizeof(name), "LargeTable_%06d_%s", i,
             "padding-padding-padding-padding-padding-padding-padding-padding-padding-padding-pad");
    return name;
}

/* A table whose whole registration is over 8 MiB of JSON goes compressed
 * (RegisterBrokerBody.encode(true)): a fresh name server still learns every
 * topic from the broker's start-up registration. */
Test(topics, large_table_registers_compressed, .timeout = 480)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_broker_start(&bk, ns.port, "registerNameServerPeriod=60000"),
              "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    /* 100-character names: about 20 MB of JSON for the whole table, more
     * than a name server's 16 MiB frame limit: only the compressed form fits */
    /* pipelined, 64 requests in flight (one by one takes minutes under
     * ASan); every answer is read and must be SUCCESS. Each answer waits
     * for the incremental registration carrying the topic; the harness's
     * 1 s period of whole registrations (seconds each for this table under
     * ASan) is set to a minute here, as it is in production (30 s). */
    int sent = 0, answered = 0;
    while (answered < LARGE) {
        for (; sent < LARGE && sent - answered < 64; sent++) {
            rmq_cmd_t req;
            th_req_create_topic(&req, large_name(sent), 8);
            req.opaque = 1000000 + sent;
            cr_assert(rmq_sync_send(&cli, &req) == RMQ_OK, "sending the creation of topic %d failed", sent);
            rmq_cmd_deinit(&req);
        }
        rmq_cmd_t resp;
        cr_assert(th_read_frame(&cli, &resp, 30000), "no answer to the creation of topic %d", answered);
        cr_assert(rmq_cmd_is_response(&resp) && resp.opaque == 1000000 + answered && resp.code == 0,
                  "creation of topic %d answered opaque %d code %d (%s)", answered, resp.opaque, resp.code,
                  resp.remark ? resp.remark : "");
        rmq_cmd_deinit(&resp);
        answered++;
    }
    cr_assert(TH_WAIT_UNTIL(listed("LargeTable") == LARGE, 60000),
              "not every topic was registered (%ld of %d)", listed("LargeTable"), LARGE);
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
    cr_assert(th_namesrv_restart(&ns));
    cr_assert(th_broker_restart(&bk), "broker did not restart (log %s)", bk.log);
    cr_assert(TH_WAIT_UNTIL(listed("LargeTable") == LARGE, 60000),
              "a fresh name server did not learn every topic from the start-up registration (%ld of %d)",
              listed("LargeTable"), LARGE);
    th_client_t nc;
    cr_assert(th_connect(&nc, ns.port));
    int64_t q = 0;
    char broker[64];
    cr_assert_eq(route_of(&nc, large_name(LARGE - 1), &q, broker, sizeof(broker)), 0);
    cr_assert_eq(q, 8);
    th_close(&nc);
    cr_assert(th_log_contains(&bk, "compressed", 1000), "the broker does not say it registered compressed");
}

/* ---------- a name server played by the test ---------- */

typedef struct capture_s {
    pthread_mutex_t mu;
    int lfd;
    int port;
    bool stop;
    /* registrations received, in order: body text and whether answered */
    char *bodies[256];
    int n;
    bool hold;     /* do not answer registrations while set */
    int fail_next; /* answer that many registrations with SYSTEM_ERROR */
    char why[256]; /* a header problem seen (empty: none) */
} capture_t;

static capture_t cap;

static bool read_full(int fd, void *p, size_t n)
{
    uint8_t *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

static void check_header(const rmq_cmd_t *req)
{
    static const char *const need[] = {"brokerName", "brokerAddr", "clusterName", "haServerAddr",
                                       "brokerId",   "compressed", "bodyCrc32"};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!rmq_cmd_ext(req, need[i]))
            snprintf(cap.why, sizeof(cap.why), "header field %s missing", need[i]);
    const char *comp = rmq_cmd_ext(req, "compressed");
    if (comp && strcmp(comp, "false"))
        snprintf(cap.why, sizeof(cap.why), "compressed=%s", comp);
    int64_t crc = 0;
    if (rmq_cmd_ext_i64(req, "bodyCrc32", &crc) == RMQ_OK &&
        crc != rmq_msg_body_crc(req->body, req->body_len))
        snprintf(cap.why, sizeof(cap.why), "bodyCrc32 does not match the body");
}

static void serve(int fd)
{
    for (;;) {
        uint8_t lb[4];
        if (!read_full(fd, lb, 4))
            return;
        uint32_t n = rmq_be32(lb);
        if (n < 4 || n > 64u * 1024 * 1024)
            return;
        uint8_t *p = malloc(n);
        if (!read_full(fd, p, n)) {
            free(p);
            return;
        }
        rmq_cmd_t req;
        bool ok = rmq_cmd_decode(&req, p, n, NULL, 0) == RMQ_OK;
        free(p);
        if (!ok)
            return;
        int code = 0;
        if (req.code == 103) {
            pthread_mutex_lock(&cap.mu);
            check_header(&req);
            if (cap.n < 256)
                cap.bodies[cap.n++] = strndup((const char *)req.body, req.body_len);
            if (cap.fail_next > 0) {
                cap.fail_next--;
                code = 1;
            }
            /* bounded: a held answer is released by the test, or after 30 s */
            int64_t until = rmq_mono_ms() + 30000;
            while (cap.hold && !cap.stop && rmq_mono_ms() < until) {
                pthread_mutex_unlock(&cap.mu);
                th_poll_pause(0);
                pthread_mutex_lock(&cap.mu);
            }
            pthread_mutex_unlock(&cap.mu);
        }
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, &req, code, code ? "refused by the test" : NULL);
        rmq_buf_t out;
        rmq_buf_init(&out);
        rmq_cmd_encode(&resp, &out);
        bool w = write(fd, out.data, out.len) == (ssize_t)out.len;
        rmq_buf_free(&out);
        rmq_cmd_deinit(&resp);
        rmq_cmd_deinit(&req);
        if (!w)
            return;
    }
}

static void *capture_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(cap.lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_mutex_lock(&cap.mu);
        bool stop = cap.stop;
        pthread_mutex_unlock(&cap.mu);
        if (stop) {
            close(fd);
            return NULL;
        }
        serve(fd);
        close(fd);
    }
}

static int captured(void)
{
    pthread_mutex_lock(&cap.mu);
    int n = cap.n;
    pthread_mutex_unlock(&cap.mu);
    return n;
}

/* Registration i's topic names (sorted JSON array text) after checking it has
 * exactly the members Java's fastjson writes; *counter: its data version. */
static json_t *topics_of(int i, int64_t *counter)
{
    pthread_mutex_lock(&cap.mu);
    char *body = strdup(cap.bodies[i]);
    pthread_mutex_unlock(&cap.mu);
    json_t *j = rmq_json_parse(body, strlen(body), NULL, 0);
    cr_assert_not_null(j, "registration %d is not JSON: %s", i, body);
    cr_assert_eq(json_object_size(j), 2, "RegisterBrokerBody members: %s", body);
    json_t *w = json_object_get(j, "topicConfigSerializeWrapper");
    cr_assert(json_is_array(json_object_get(j, "filterServerList")), "filterServerList: %s", body);
    cr_assert(json_is_object(w) && json_object_size(w) == 2, "wrapper members: %s", body);
    json_t *dv = json_object_get(w, "dataVersion");
    cr_assert(rmq_json_int(dv, "counter", counter) && json_object_size(dv) == 2, "dataVersion: %s", body);
    json_t *tbl = json_object_get(w, "topicConfigTable");
    cr_assert(json_is_object(tbl), "topicConfigTable: %s", body);
    json_t *names = json_array();
    const char *key;
    json_t *tc;
    json_object_foreach(tbl, key, tc)
    {
        static const char *const members[] = {"order",     "perm",         "readQueueNums", "topicFilterType",
                                              "topicName", "topicSysFlag", "writeQueueNums"};
        cr_assert_eq(json_object_size(tc), 7, "TopicConfig of %s: not Java's 7 members", key);
        for (size_t m = 0; m < 7; m++)
            cr_assert_not_null(json_object_get(tc, members[m]), "TopicConfig of %s lacks %s", key,
                               members[m]);
        cr_assert_str_eq(rmq_json_str(tc, "topicName"), key);
        json_array_append_new(names, json_string(key));
    }
    json_decref(j);
    free(body);
    return names;
}

static bool has_name(json_t *names, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (!strcmp(json_string_value(v), name)) return true;
    return false;
}

static void capture_stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    pthread_mutex_lock(&cap.mu);
    cap.stop = true;
    cap.hold = false;
    pthread_mutex_unlock(&cap.mu);
    shutdown(cap.lfd, SHUT_RDWR);
    close(cap.lfd);
    for (int i = 0; i < cap.n; i++)
        free(cap.bodies[i]);
}

/* The test's name server on a free loopback port, and a broker (with
 * `conf` besides) registering with it; returns once the first registration
 * came in. */
static void capture_start(const char *conf)
{
    pthread_mutex_init(&cap.mu, NULL);
    cap.lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(cap.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool bound = false;
    for (int tries = 0; tries < 20 && !bound; tries++) {
        cap.port = th_free_port();
        sa.sin_port = htons((uint16_t)cap.port);
        bound = bind(cap.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    }
    cr_assert(bound && listen(cap.lfd, 4) == 0, "cannot listen for the broker");
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, capture_main, NULL), 0);
    pthread_detach(th);
    cr_assert(th_broker_start(&bk, cap.port, conf), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
    cr_assert(TH_WAIT_UNTIL(captured() >= 1, 20000), "the broker never registered");
}

#define INFLIGHT 8

Test(topics, registrations_are_incremental_and_coalesced, .fini = capture_stop)
{
    /* no periodic whole registration during the test */
    capture_start("registerNameServerPeriod=60000");
    cr_assert_str_eq(cap.why, "", "%s", cap.why);
    int64_t c0, c1, c2, c3;
    json_t *full = topics_of(0, &c0);
    cr_assert(has_name(full, "TBW102") && has_name(full, "SELF_TEST_TOPIC"),
              "the first registration must hold the whole table");
    json_decref(full);

    /* one creation: a registration of that topic alone; its answer waits
     * for the name server's (Java answers after registerIncrementBrokerData) */
    pthread_mutex_lock(&cap.mu);
    cap.hold = true; /* keep it in flight */
    pthread_mutex_unlock(&cap.mu);
    create_topic_sent("Inc0", 3);
    cr_assert(TH_WAIT_UNTIL(captured() >= 2, 20000), "no registration after a topic was created");
    rmq_cmd_t early;
    cr_assert(!th_read_frame(&cli, &early, 300),
              "UPDATE_AND_CREATE_TOPIC answered (code %d) while its registration is still unanswered",
              early.code);
    json_t *one_t = topics_of(1, &c1);
    cr_assert_eq(json_array_size(one_t), 1, "an incremental registration holds the changed topic only");
    cr_assert(has_name(one_t, "Inc0"));
    cr_assert_gt(c1, c0, "the data version must move on");
    json_decref(one_t);

    /* several more while it is in flight: one registration carries them all
     * (not more than half the table: that would go out whole) */
    for (int i = 1; i <= INFLIGHT; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Inc%d", i);
        create_topic_sent(name, 2);
    }
    cr_assert(th_log_contains(&bk, "topic Inc8 updated", 10000), "Inc8 was never created");
    cr_assert_eq(captured(), 2, "a registration was sent while one was in flight");
    pthread_mutex_lock(&cap.mu);
    cap.hold = false;
    pthread_mutex_unlock(&cap.mu);
    cr_assert(TH_WAIT_UNTIL(captured() >= 3, 20000), "the changes made in flight were never registered");
    for (int i = 0; i <= INFLIGHT; i++) { /* Inc0 once its registration came back, the rest after theirs */
        rmq_cmd_t ans;
        cr_assert(th_read_frame(&cli, &ans, 10000), "creation %d of Inc0..Inc%d was never answered", i,
                  INFLIGHT);
        cr_assert_eq(ans.code, 0, "creation %d answered %d: %s", i, ans.code, ans.remark ? ans.remark : "");
        rmq_cmd_deinit(&ans);
    }
    json_t *batch = topics_of(2, &c2);
    cr_assert_eq(json_array_size(batch), INFLIGHT,
                 "the %d changes were not coalesced into one incremental registration (%zu topics)", INFLIGHT,
                 json_array_size(batch));
    for (int i = 1; i <= INFLIGHT; i++) {
        char name[16];
        snprintf(name, sizeof(name), "Inc%d", i);
        cr_assert(has_name(batch, name), "%s missing from the coalesced registration", name);
    }
    cr_assert_gt(c2, c1);
    json_decref(batch);

    /* a failed registration: the retry sends the whole table */
    pthread_mutex_lock(&cap.mu);
    cap.fail_next = 1;
    pthread_mutex_unlock(&cap.mu);
    create_topic("AfterFailure", 1);
    cr_assert(TH_WAIT_UNTIL(captured() >= 4, 20000));
    json_t *failed = topics_of(3, &c3);
    cr_assert_eq(json_array_size(failed), 1);
    json_decref(failed);
    cr_assert(TH_WAIT_UNTIL(captured() >= 5, 20000), "no retry after a refused registration");
    int64_t c4;
    json_t *retry = topics_of(4, &c4);
    cr_assert(has_name(retry, "TBW102") && has_name(retry, "Inc0") && has_name(retry, "Inc8") &&
                  has_name(retry, "AfterFailure"),
              "the retry after a failure must hold the whole table (%zu topics)", json_array_size(retry));
    json_decref(retry);
    cr_assert_str_eq(cap.why, "", "%s", cap.why);
}

/* Creations whose registration the name server never answers are answered
 * after registerBrokerTimeoutMills (SUCCESS, as Java after its wait), in the
 * order asked. Fails if an answer overtakes an earlier one: the creations
 * read in one go got timers of one deadline, and such timers fire in any
 * order. */
Test(topics, creations_answered_in_order_when_registration_times_out, .fini = capture_stop)
{
    capture_start("registerNameServerPeriod=60000\nregisterBrokerTimeoutMills=1000\n");
    pthread_mutex_lock(&cap.mu);
    cap.hold = true;
    pthread_mutex_unlock(&cap.mu);
    enum { N = 48, BASE = 1 << 22 };
    rmq_buf_t all;
    rmq_buf_init(&all);
    for (int i = 0; i < N; i++) { /* one write: the broker reads them in one go */
        char name[32];
        snprintf(name, sizeof(name), "Ordered%d", i);
        rmq_cmd_t req;
        th_req_create_topic(&req, name, 1);
        req.opaque = BASE + i;
        rmq_cmd_encode(&req, &all);
        rmq_cmd_deinit(&req);
    }
    cr_assert_eq(rmq_sync_send_raw(&cli, all.data, all.len), RMQ_OK);
    rmq_buf_free(&all);
    for (int i = 0; i < N; i++) {
        rmq_cmd_t ans;
        cr_assert(th_read_frame(&cli, &ans, 20000), "creation %d of %d was never answered", i, N);
        cr_assert_eq(ans.opaque, BASE + i, "answer %d is for creation %d: an answer overtook an earlier one",
                     i, ans.opaque - BASE);
        cr_assert_eq(ans.code, 0, "creation %d answered %d: %s", i, ans.code, ans.remark ? ans.remark : "");
        rmq_cmd_deinit(&ans);
    }
    pthread_mutex_lock(&cap.mu);
    cap.hold = false;
    pthread_mutex_unlock(&cap.mu);
}
