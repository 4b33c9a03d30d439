/* test_metrics.c - the Prometheus endpoints of real mqbroker / mqnamesrv
 * processes (metricsExporterType=PROM), scraped over HTTP while messages
 * are produced and consumed through the harness's remoting client:
 *   - counters move by exactly the number of messages sent / pulled while
 *     another thread scrapes continuously (every scrape well-formed);
 *   - consumer lag equals the backlog, inflight the pulled-not-committed;
 *   - series follow the topic and group tables, unknown request codes
 *     share one series;
 *   - SYSTEM_BUSY answers and group-commit batches are counted exactly;
 *   - bad HTTP input gets its status (404, 400, 405, 414, 431, 501, 505), a
 *     connection over the limit gets 503, slow clients are cut off, and the
 *     message path keeps answering meanwhile;
 *   - refused settings stop the broker with a clear error;
 *   - the name server lists its brokers.
 * Waits poll a condition with a bound; no timing assertions. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_buf.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

static th_proc_t ns, bk;
static th_client_t cli;
static int mport, nsmport;

static void start_with(const char *broker_extra)
{
    nsmport = th_free_port();
    char nsconf[256];
    snprintf(nsconf, sizeof(nsconf),
             "metricsExporterType=PROM\nmetricsPromExporterPort=%d\nmetricsRefreshIntervalMs=100", nsmport);
    cr_assert(th_namesrv_start(&ns, nsconf), "name server did not start (log %s)", ns.log);
    mport = th_free_port();
    char conf[1024];
    snprintf(conf, sizeof(conf),
             "metricsExporterType=PROM\nmetricsPromExporterPort=%d\nmetricsRefreshIntervalMs=100\n"
             "metricsLabel=env:test\n%s",
             mport, broker_extra ? broker_extra : "");
    cr_assert(th_broker_start(&bk, ns.port, conf), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
}

static void start(void)
{
    start_with(NULL);
}

static void stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
}

/* ---------- a raw HTTP client ---------- */

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Read until the peer closes (or timeout); returns bytes in out. */
static bool read_all(int fd, rmq_buf_t *out, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    char buf[16384];
    for (;;) {
        int64_t left = deadline - rmq_mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0)
            return false;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == ECONNRESET)
            return true;
        if (n <= 0)
            return n == 0;
        rmq_buf_put(out, buf, (size_t)n);
    }
}

/* Send raw bytes, read the whole answer (the request asks Connection:
 * close); status or -1, body into *body (malloc'd) when wanted. */
static int http_raw(int port, const char *raw, size_t len, char **body)
{
    int fd = connect_port(port);
    if (fd < 0)
        return -1;
    if (write(fd, raw, len) != (ssize_t)len) {
        close(fd);
        return -1;
    }
    rmq_buf_t b;
    rmq_buf_init(&b);
    bool ok = read_all(fd, &b, 10000);
    close(fd);
    rmq_buf_cstr(&b);
    int status = -1;
    if (ok && b.len > 12 && !strncmp((char *)b.data, "HTTP/1.1 ", 9))
        status = atoi((char *)b.data + 9);
    if (body) {
        const char *sep = strstr((char *)b.data, "\r\n\r\n");
        *body = strdup(sep ? sep + 4 : "");
    }
    rmq_buf_free(&b);
    return status;
}

static int http_get(int port, const char *path, char **body)
{
    char req[4096];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    return http_raw(port, req, (size_t)n, body);
}

/* Every line of an exposition is a comment or `name{labels} value`. */
static bool well_formed(const char *text, char *why, size_t n)
{
    const char *p = text;
    int lineno = 0;
    while (*p) {
        lineno++;
        const char *e = strchr(p, '\n');
        if (!e) {
            snprintf(why, n, "line %d has no newline", lineno);
            return false;
        }
        if (*p != '#') {
            const char *q = p;
            while (q < e && (isalnum((unsigned char)*q) || *q == '_' || *q == ':'))
                q++;
            if (q == p) {
                snprintf(why, n, "line %d: no metric name: %.*s", lineno, (int)(e - p), p);
                return false;
            }
            if (*q == '{') {
                /* labels: skip quoted values honouring escapes */
                q++;
                while (q < e && *q != '}') {
                    if (*q == '"') {
                        q++;
                        while (q < e && *q != '"')
                            q += (*q == '\\') ? 2 : 1;
                    }
                    q++;
                }
                if (q >= e) {
                    snprintf(why, n, "line %d: unterminated labels", lineno);
                    return false;
                }
                q++;
            }
            if (*q != ' ') {
                snprintf(why, n, "line %d: no space before the value", lineno);
                return false;
            }
            char *end = NULL;
            strtod(q + 1, &end);
            if (end != e && strncmp(q + 1, "+Inf", 4) && strncmp(q + 1, "NaN", 3)) {
                snprintf(why, n, "line %d: bad value %.*s", lineno, (int)(e - q - 1), q + 1);
                return false;
            }
        }
        p = e + 1;
    }
    return true;
}

/* Value of the first sample of `name` carrying every k="v" of labels
 * (NULL-terminated pairs); NAN when absent. */
static double sample(const char *text, const char *name, const char *const *labels)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        if (!e)
            break;
        if (!strncmp(p, name, nl) && (p[nl] == '{' || p[nl] == ' ')) {
            bool all = true;
            for (size_t i = 0; labels && labels[i]; i += 2) {
                char kv[512];
                snprintf(kv, sizeof(kv), "%s=\"%s\"", labels[i], labels[i + 1]);
                const char *hit = strstr(p, kv);
                if (!hit || hit > e)
                    all = false;
            }
            if (all) {
                const char *sp = memchr(p, ' ', (size_t)(e - p));
                const char *v = sp;
                /* the value follows the last space of the line */
                for (const char *q = p; q < e; q++)
                    if (*q == ' ')
                        v = q;
                (void)sp;
                return strtod(v + 1, NULL);
            }
        }
        p = e + 1;
    }
    return NAN;
}

/* One scrape: the sample's value, NAN when absent or the scrape failed. */
static double scrape_one(int port, const char *name, const char *const *labels)
{
    char *body = NULL;
    double v = NAN;
    if (http_get(port, "/metrics", &body) == 200)
        v = sample(body, name, labels);
    free(body);
    return v;
}

/* Poll /metrics until sample == want (bounded); the last value seen is
 * returned (timeout 0: one scrape). */
static double wait_sample(int port, const char *name, const char *const *labels, double want, int timeout_ms)
{
    double v = NAN;
    TH_WAIT_UNTIL((v = scrape_one(port, name, labels)) == want, timeout_ms);
    return v;
}

/* ---------- remoting helpers ---------- */

static int call(rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    cr_assert(th_call(&cli, req, resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    return resp->code;
}

static void create_topic(const char *topic, int queues)
{
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, topic, queues);
    cr_assert_eq(call(&req, &resp), 0, "create topic: %s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
}

static void send_one(const char *topic, int qid, const char *body)
{
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG", topic, qid, "TagA", "k", NULL, NULL, body, strlen(body));
    cr_assert_eq(call(&req, &resp), 0, "send: %s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
}

/* Pull up to max from offset without committing; returns records pulled. */
static int pull_count(const char *group, const char *topic, int qid, int64_t offset, int max)
{
    rmq_cmd_t req, resp;
    th_req_pull(&req, group, topic, qid, offset, max, 0x4, 0, "*");
    int code = call(&req, &resp);
    int n = 0;
    if (code == 0) {
        rmq_msg_rec_t *recs = NULL;
        size_t cnt = 0;
        if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &cnt) == RMQ_OK)
            n = (int)cnt;
        free(recs);
    }
    rmq_cmd_deinit(&resp);
    return n;
}

static void commit(const char *group, const char *topic, int qid, int64_t off)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 15);
    rmq_cmd_set_ext(&req, "consumerGroup", group);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", qid);
    rmq_cmd_set_ext_i64(&req, "commitOffset", off);
    cr_assert_eq(call(&req, &resp), 0, "UPDATE_CONSUMER_OFFSET");
    rmq_cmd_deinit(&resp);
}

/* ---------- a scraper thread ---------- */

/* Scrapes /metrics back to back until told to stop. The test thread reads
 * `scrapes` to know that scrapes really happened before, between and after
 * its sends (a thread is not guaranteed to run soon after it is created: on
 * a loaded machine it may not have scraped once by the time the sends are
 * done); the other fields are read after the join. */
typedef struct scraper_s {
    int port;
    atomic_bool stop;
    atomic_int scrapes; /* answered 200 */
    int bad;
    char why[256];
    double last_in; /* rocketmq_messages_in_total of the test topic, monotonic */
    bool went_back;
} scraper_t;

/* Wait (bounded) until the scraper has had `more` answers beyond `since`;
 * false if it has not, which fails the test: the endpoint stopped answering. */
static bool scraped_since(scraper_t *s, int since, int more)
{
    return TH_WAIT_UNTIL(atomic_load(&s->scrapes) >= since + more, 30000);
}

static void *scrape_loop(void *arg)
{
    scraper_t *s = arg;
    const char *l[] = {"topic", "MetricsT", NULL};
    for (int i = 0; i < 100000 && !atomic_load(&s->stop); i++) {
        char *body = NULL;
        int st = http_get(s->port, "/metrics", &body);
        if (st == 200) {
            atomic_fetch_add(&s->scrapes, 1);
            if (!well_formed(body, s->why, sizeof(s->why)))
                s->bad++;
            double v = sample(body, "rocketmq_messages_in_total", l);
            if (!isnan(v)) {
                if (v < s->last_in)
                    s->went_back = true;
                s->last_in = v;
            }
        } else {
            s->bad++;
            snprintf(s->why, sizeof(s->why), "status %d", st);
        }
        free(body);
    }
    return NULL;
}

TestSuite(metrics, .init = start, .fini = stop, .timeout = 120);
TestSuite(metrics_cfg, .fini = stop, .timeout = 120);

Test(metrics, counters_move_by_exactly_what_was_sent_while_scraping)
{
    const int N = 200;
    const char *body = "0123456789abcdef"; /* 16 bytes */
    create_topic("MetricsT", 4);
    scraper_t sc = {.port = mport};
    pthread_t thr;
    cr_assert_eq(pthread_create(&thr, NULL, scrape_loop, &sc), 0);
    /* the scrapes overlap the sends: one before the first send, at least one
     * between the two halves, at least one after the pulls (fails if the
     * endpoint stops answering while messages flow) */
    cr_assert(scraped_since(&sc, 0, 1), "the scraper got no answer before the sends");
    for (int i = 0; i < N; i++) {
        if (i == N / 2)
            cr_assert(scraped_since(&sc, atomic_load(&sc.scrapes), 1), "no scrape answered during the sends");
        send_one("MetricsT", i % 4, body);
    }
    int pulled = 0;
    for (int q = 0; q < 4; q++)
        for (int64_t off = 0; off < N / 4;) {
            /* dispatch to the consume queue is asynchronous: retry a while */
            int n = 0;
            TH_WAIT_UNTIL((n = pull_count("MetricsG", "MetricsT", q, off, 32)) > 0, 5000);
            cr_assert_gt(n, 0, "queue %d offset %lld: nothing pulled", q, (long long)off);
            off += n;
            pulled += n;
        }
    cr_assert_eq(pulled, N);
    const char *in_l[] = {"topic",   "MetricsT", "message_type", "normal",    "is_system",
                          "false",   "cluster",  "TestCluster",  "node_type", "broker",
                          "node_id", "broker-t", "env",          "test",      NULL};
    /* fails if a send was not counted, or counted twice */
    cr_expect_eq(wait_sample(mport, "rocketmq_messages_in_total", in_l, N, 10000), N);
    cr_expect_eq(wait_sample(mport, "rocketmq_throughput_in_total", in_l, N * 16, 10000), N * 16);
    const char *size_l[] = {"topic", "MetricsT", "le", "1024", NULL};
    cr_expect_eq(wait_sample(mport, "rocketmq_message_size_bucket", size_l, N, 10000), N);
    const char *out_l[] = {"topic", "MetricsT", "consumer_group", "MetricsG", "is_retry", "false", NULL};
    cr_expect_eq(wait_sample(mport, "rocketmq_messages_out_total", out_l, N, 10000), N);
    double out_bytes = wait_sample(mport, "rocketmq_throughput_out_total", out_l, -1, 0);
    cr_expect_gt(out_bytes, N * 16, "record bytes include headers: %f", out_bytes);
    /* the request histogram counted every send (response SUCCESS) */
    const char *rpc_l[] = {"request_code", "send_message_v2", "response_code", "success", NULL};
    cr_expect_eq(wait_sample(mport, "rocketmq_rpc_latency_count", rpc_l, N, 10000), N);
    const char *pull_l[] = {"request_code", "pull_message", "response_code", "success", NULL};
    double pulls = wait_sample(mport, "rocketmq_rpc_latency_count", pull_l, -1, 0);
    cr_expect_geq(pulls, 4, "pull requests counted: %f", pulls);
    cr_expect(scraped_since(&sc, atomic_load(&sc.scrapes), 1), "no scrape answered after the pulls");
    atomic_store(&sc.stop, true);
    pthread_join(thr, NULL);
    cr_expect_eq(sc.bad, 0, "%d bad scrapes of %d: %s", sc.bad, atomic_load(&sc.scrapes), sc.why);
    cr_expect(!sc.went_back, "a counter went backwards between scrapes");
    /* the process collector and the broker identity are there */
    char *text = NULL;
    cr_assert_eq(http_get(mport, "/metrics", &text), 200);
    cr_expect(sample(text, "process_resident_memory_bytes", NULL) > 0, "no RSS");
    /* exported (a process that used less than one clock tick shows 0) */
    double cpu = sample(text, "process_cpu_seconds_total", NULL);
    cr_expect(!isnan(cpu) && cpu >= 0, "no CPU time: %f", cpu);
    const char *info_l[] = {"role", "ASYNC_MASTER", NULL};
    cr_expect_eq(sample(text, "comet_broker_info", info_l), 1);
    free(text);
}

/* Series follow the topic table: a deleted topic's counters go away, so the
 * series count stays bounded by the live topics. */
Test(metrics, deleted_topics_leave_no_series)
{
    create_topic("GoneT", 1);
    send_one("GoneT", 0, "soon gone");
    const char *l[] = {"topic", "GoneT", NULL};
    cr_assert_eq(wait_sample(mport, "rocketmq_messages_in_total", l, 1, 10000), 1);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 215);
    rmq_cmd_set_ext(&req, "topic", "GoneT");
    cr_assert_eq(call(&req, &resp), 0, "DELETE_TOPIC_IN_BROKER");
    rmq_cmd_deinit(&resp);
    double v = 0;
    /* fails if the series outlives its topic */
    cr_expect(TH_WAIT_UNTIL(isnan(v = scrape_one(mport, "rocketmq_messages_in_total", l)), 10000),
              "the deleted topic is still exported: %f", v);
}

/* What a client can name does not grow the series: request codes without a
 * name share request_code="unknown"; a deleted group's counters go with it. */
Test(metrics, clients_cannot_grow_the_series)
{
    for (int code = 3000; code < 3064; code++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, code);
        cr_assert_eq(call(&req, &resp), 3, "code %d: REQUEST_CODE_NOT_SUPPORTED expected", code);
        rmq_cmd_deinit(&resp);
    }
    const char *unk[] = {"request_code", "unknown", "response_code", "request_code_not_supported", NULL};
    /* fails if an unknown code is dropped or counted under its own number */
    cr_expect_eq(wait_sample(mport, "rocketmq_rpc_latency_count", unk, 64, 10000), 64);
    const char *by_number[] = {"request_code", "3000", NULL};
    cr_expect(isnan(scrape_one(mport, "rocketmq_rpc_latency_count", by_number)),
              "an unknown request code has a series of its own");

    create_topic("GroupGoneT", 1);
    send_one("GroupGoneT", 0, "read by a group about to go");
    int got = 0;
    TH_WAIT_UNTIL((got = pull_count("GoneG", "GroupGoneT", 0, 0, 8)) == 1, 5000);
    cr_assert_eq(got, 1);
    const char *l[] = {"topic", "GroupGoneT", "consumer_group", "GoneG", NULL};
    cr_assert_eq(wait_sample(mport, "rocketmq_messages_out_total", l, 1, 10000), 1);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 207); /* DELETE_SUBSCRIPTIONGROUP */
    rmq_cmd_set_ext(&req, "groupName", "GoneG");
    cr_assert_eq(call(&req, &resp), 0, "DELETE_SUBSCRIPTIONGROUP");
    rmq_cmd_deinit(&resp);
    double v = 0;
    /* fails if the series outlives its group */
    cr_expect(TH_WAIT_UNTIL(isnan(v = scrape_one(mport, "rocketmq_messages_out_total", l)), 10000),
              "the deleted group is still exported: %f", v);
}

/* Dead letters are counted under their original topic; a RETRY_TOPIC
 * property that names no topic of the broker (a producer writing into a
 * %DLQ% topic itself) is not a label: counted under the dead-letter topic. */
Test(metrics, dead_letters_counted_by_original_topic)
{
    create_topic("DlqT", 1);
    send_one("DlqT", 0, "will die");
    rmq_cmd_t req, resp;
    int64_t clo = -1;
    TH_WAIT_UNTIL(__extension__({
                      th_req_pull(&req, "DlqG", "DlqT", 0, 0, 1, 0x4, 0, "*");
                      if (call(&req, &resp) == 0) {
                          rmq_msg_rec_t *recs = NULL;
                          size_t cnt = 0;
                          if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &cnt) == RMQ_OK &&
                              cnt)
                              clo = recs[0].commitlog_offset;
                          free(recs);
                      }
                      rmq_cmd_deinit(&resp);
                      clo >= 0;
                  }),
                  5000);
    cr_assert_geq(clo, 0, "the message was not pulled");
    rmq_cmd_init_request(&req, 36); /* CONSUMER_SEND_MSG_BACK, delayLevel -1: straight to the DLQ */
    rmq_cmd_set_ext_i64(&req, "offset", clo);
    rmq_cmd_set_ext(&req, "group", "DlqG");
    rmq_cmd_set_ext(&req, "delayLevel", "-1");
    rmq_cmd_set_ext(&req, "originTopic", "DlqT");
    rmq_cmd_set_ext(&req, "maxReconsumeTimes", "16");
    req.version = 121;
    cr_assert_eq(call(&req, &resp), 0, "send back: %s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    const char *l[] = {"topic", "DlqT", "consumer_group", "DlqG", NULL};
    /* fails if a dead letter is not counted, or not under its original topic */
    cr_expect_eq(wait_sample(mport, "rocketmq_send_to_dlq_messages_total", l, 1, 10000), 1);
    th_req_send_v2(&req, "PG", "%DLQ%DlqG", 0, NULL, NULL, "RETRY_TOPIC", "NoSuchTopic<b>", "forged", 6);
    cr_assert_eq(call(&req, &resp), 0, "send to the DLQ topic: %s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    const char *self[] = {"topic", "%DLQ%DlqG", "consumer_group", "DlqG", NULL};
    cr_expect_eq(wait_sample(mport, "rocketmq_send_to_dlq_messages_total", self, 1, 10000), 1);
    const char *forged[] = {"topic", "NoSuchTopic<b>", NULL};
    cr_expect(isnan(scrape_one(mport, "rocketmq_send_to_dlq_messages_total", forged)),
              "a property became a label value");
    cr_expect_eq(wait_sample(mport, "rocketmq_send_to_dlq_messages_total", l, 1, 0), 1);
}

Test(metrics, lag_equals_the_backlog)
{
    create_topic("LagT", 2);
    commit("LagG", "LagT", 0, 0);
    commit("LagG", "LagT", 1, 0);
    for (int i = 0; i < 30; i++)
        send_one("LagT", i % 2, "lag");
    const char *l[] = {"topic", "LagT", "consumer_group", "LagG", NULL};
    /* 30 unconsumed: fails if lag is not max offset - committed offset */
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_lag_messages", l, 30, 10000), 30);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_ready_messages", l, 30, 10000), 30);
    double latency = wait_sample(mport, "rocketmq_consumer_lag_latency", l, -1, 0);
    cr_expect_geq(latency, 0, "lag latency present: %f", latency);
    /* 10 pulled, not committed: in flight, still lag */
    int got = 0;
    TH_WAIT_UNTIL((got = pull_count("LagG", "LagT", 0, 0, 10)) == 10, 5000);
    cr_assert_eq(got, 10);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_inflight_messages", l, 10, 10000), 10);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_ready_messages", l, 20, 10000), 20);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_lag_messages", l, 30, 10000), 30);
    /* committed: the lag shrinks by exactly that much */
    commit("LagG", "LagT", 0, 10);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_lag_messages", l, 20, 10000), 20);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_inflight_messages", l, 0, 10000), 0);
    commit("LagG", "LagT", 0, 15);
    commit("LagG", "LagT", 1, 15);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_lag_messages", l, 0, 10000), 0);
    cr_expect_eq(wait_sample(mport, "rocketmq_consumer_lag_latency", l, 0, 10000), 0);
}

Test(metrics_cfg, system_busy_and_group_commits_counted)
{
    start_with("flushDiskType=SYNC_FLUSH\nmaxPendingSendRequests=1");
    create_topic("BusyT", 1);
    rmq_buf_t all;
    rmq_buf_init(&all);
    for (int i = 0; i < 30; i++) {
        rmq_cmd_t req;
        th_req_send_v2(&req, "PG", "BusyT", 0, "T", NULL, NULL, NULL, "busy", 4);
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
        else if (resp.code == 2)
            busy++;
        rmq_cmd_deinit(&resp);
    }
    cr_assert_eq(ok + busy, 30);
    cr_assert_geq(busy, 1, "the setup did not provoke SYSTEM_BUSY");
    const char *l[] = {"request_code", "send_message_v2", NULL};
    cr_expect_eq(wait_sample(mport, "comet_system_busy_total", l, busy, 10000), busy);
    /* each acknowledged send was completed by exactly one group commit */
    cr_expect_eq(wait_sample(mport, "comet_group_commit_batch_size_sum", NULL, ok, 10000), ok);
    const char *inf[] = {"le", "+Inf", NULL};
    double commits = wait_sample(mport, "comet_group_commit_batch_size_bucket", inf, -1, 0);
    cr_expect(commits >= 1 && commits <= ok, "group commits: %f for %d sends", commits, ok);
    /* deferred answers are timed too (SUCCESS after the flush) */
    const char *rpc_l[] = {"request_code", "send_message_v2", "response_code", "success", NULL};
    cr_expect_eq(wait_sample(mport, "rocketmq_rpc_latency_count", rpc_l, ok, 10000), ok);
    cr_expect_eq(wait_sample(mport, "comet_pending_sends", NULL, 0, 10000), 0);
}

Test(metrics, bad_http_requests_get_their_status)
{
    char *b = NULL;
    cr_expect_eq(http_get(mport, "/nope", &b), 404);
    cr_expect(strstr(b, "\"error\"") != NULL, "a JSON reason: %s", b);
    free(b);
    cr_expect_eq(http_get(mport, "/metrics?x=%zz", &b), 400);
    cr_expect(strstr(b, "percent-encoding") != NULL, "%s", b);
    free(b);
    static const char post[] = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    cr_expect_eq(http_raw(mport, post, sizeof(post) - 1, NULL), 405);
    static const char chunked[] = "POST /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    cr_expect_eq(http_raw(mport, chunked, sizeof(chunked) - 1, NULL), 501);
    static const char v2[] = "GET /metrics HTTP/2.0\r\n\r\n";
    cr_expect_eq(http_raw(mport, v2, sizeof(v2) - 1, NULL), 505);
    static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n";
    cr_expect_eq(http_raw(mport, garbage, sizeof(garbage) - 1, NULL), 400, "a TLS hello is a bad request");
    /* a hostile query string: 1 MiB in the target */
    size_t big = 1 << 20;
    char *huge = malloc(big + 64);
    int o = snprintf(huge, big + 64, "GET /metrics?q=");
    memset(huge + o, 'A', big - (size_t)o);
    memcpy(huge + big, " HTTP/1.1\r\n\r\n", 14);
    int st = http_raw(mport, huge, big + 13, NULL);
    cr_expect(st == 414 || st == 431, "huge target: %d", st);
    /* huge headers */
    o = snprintf(huge, big + 64, "GET /metrics HTTP/1.1\r\n");
    while ((size_t)o < 100000)
        o += snprintf(huge + o, big + 64 - (size_t)o, "X-Filler: %0100d\r\n", 0);
    o += snprintf(huge + o, big + 64 - (size_t)o, "\r\n");
    cr_expect_eq(http_raw(mport, huge, (size_t)o, NULL), 431);
    free(huge);
    /* none of this touched the message path */
    create_topic("AfterBad", 1);
    send_one("AfterBad", 0, "still fine");
    cr_expect_eq(http_get(mport, "/metrics", NULL), 200);
}

Test(metrics_cfg, connection_limit_and_slow_clients_leave_the_message_path_alone)
{
    start_with("metricsPromExporterMaxConnections=4");
    create_topic("SlowT", 1);
    /* four slow clients hold every slot, each with half a request head */
    int slow[4];
    for (int i = 0; i < 4; i++) {
        slow[i] = connect_port(mport);
        cr_assert_geq(slow[i], 0);
        cr_assert_eq(write(slow[i], "GET /met", 8), 8);
    }
    /* the fifth is refused at once: 503 and closed (fails if it waits) */
    int st = -1;
    TH_WAIT_UNTIL((st = http_get(mport, "/metrics", NULL)) == 503, 5000);
    cr_expect_eq(st, 503, "over the connection limit: got %d", st);
    /* the message path answers while the metrics endpoint is saturated */
    for (int i = 0; i < 20; i++)
        send_one("SlowT", 0, "during the flood");
    /* the slow clients are answered 408 and closed within the request deadline (10 s) */
    for (int i = 0; i < 4; i++) {
        rmq_buf_t b;
        rmq_buf_init(&b);
        cr_expect(read_all(slow[i], &b, 20000), "slow client %d was not closed by the server", i);
        rmq_buf_cstr(&b);
        cr_expect(strstr((char *)b.data, "408") != NULL, "slow client %d got: %s", i, (char *)b.data);
        rmq_buf_free(&b);
        close(slow[i]);
    }
    /* and the endpoint serves again, counting what happened */
    char *text = NULL;
    cr_assert(TH_WAIT_UNTIL(http_get(mport, "/metrics", NULL) == 200, 5000),
              "the endpoint did not come back");
    cr_assert_eq(http_get(mport, "/metrics", &text), 200);
    cr_expect_geq(sample(text, "comet_metrics_http_refused_total", NULL), 1);
    const char *l[] = {"topic", "SlowT", NULL};
    cr_expect_eq(sample(text, "rocketmq_messages_in_total", l), 20);
    free(text);
}

/* Replication: the master exports each slave's lag, acknowledged offset and
 * in-sync state, the in-sync set size and the epoch; the slave its own lag
 * and link state. Both converge to "caught up" once the sends are copied. */
Test(metrics_cfg, replication_lag_and_in_sync_set)
{
    nsmport = th_free_port();
    char nsconf[128];
    snprintf(nsconf, sizeof(nsconf), "metricsExporterType=PROM\nmetricsPromExporterPort=%d", nsmport);
    cr_assert(th_namesrv_start(&ns, nsconf), "name server did not start");
    static th_proc_t slave;
    int mm = th_free_port(), sm = th_free_port();
    char conf[512];
    snprintf(conf, sizeof(conf),
             "brokerName=broker-r\nbrokerRole=ASYNC_MASTER\nbrokerId=0\nhaSendHeartbeatInterval=300\n"
             "metricsExporterType=PROM\nmetricsPromExporterPort=%d\nmetricsRefreshIntervalMs=100",
             mm);
    cr_assert(th_broker_start(&bk, ns.port, conf), "master did not start (log %s)", bk.log);
    snprintf(conf, sizeof(conf),
             "brokerName=broker-r\nbrokerRole=SLAVE\nbrokerId=1\nhaSendHeartbeatInterval=300\n"
             "metricsExporterType=PROM\nmetricsPromExporterPort=%d\nmetricsRefreshIntervalMs=100",
             sm);
    cr_assert(th_broker_start(&slave, ns.port, conf), "slave did not start (log %s)", slave.log);
    cr_assert(th_connect(&cli, bk.port));
    create_topic("ReplT", 2);
    for (int i = 0; i < 50; i++)
        send_one("ReplT", i % 2, "replicate me");
    cr_expect_eq(wait_sample(mm, "comet_replication_in_sync_slaves", NULL, 1, 20000), 1,
                 "the slave is in the in-sync set");
    cr_expect_eq(wait_sample(mm, "comet_replication_connected_slaves", NULL, 1, 20000), 1);
    const char *sl[] = {"slave_id", "1", NULL};
    cr_expect_eq(wait_sample(mm, "comet_replication_slave_lag_bytes", sl, 0, 20000), 0,
                 "the master sees it caught up");
    cr_expect_eq(wait_sample(mm, "comet_replication_slave_in_sync", sl, 1, 20000), 1);
    double master_end = wait_sample(mm, "comet_commitlog_max_offset_bytes", NULL, -1, 0);
    cr_expect_gt(master_end, 0);
    cr_expect_eq(wait_sample(mm, "comet_replication_slave_acked_offset_bytes", sl, master_end, 20000),
                 master_end, "acknowledged offset = the master's commit-log end");
    cr_expect_eq(wait_sample(sm, "comet_replication_lag_bytes", NULL, 0, 20000), 0,
                 "the slave sees itself caught up");
    cr_expect_eq(wait_sample(sm, "comet_replication_master_connected", NULL, 1, 20000), 1);
    cr_expect_eq(wait_sample(sm, "comet_commitlog_max_offset_bytes", NULL, master_end, 20000), master_end);
    double epoch = wait_sample(mm, "comet_replication_epoch", NULL, -1, 0);
    cr_expect_geq(epoch, 1, "an epoch: %f", epoch);
    cr_expect_eq(wait_sample(sm, "comet_replication_epoch", NULL, epoch, 20000), epoch,
                 "the slave follows the epoch");
    const char *info[] = {"role", "SLAVE", "broker_id", "1", NULL};
    cr_expect_eq(wait_sample(sm, "comet_broker_info", info, 1, 5000), 1);
    th_proc_stop(&slave, SIGTERM);
}

/* A setting that is accepted must be honoured: the others stop the broker
 * with a clear error. */
Test(metrics_cfg, refused_settings_stop_the_broker)
{
    static const struct {
        const char *conf, *expect;
    } cases[] = {
        {"metricsExporterType=LOG", "metricsExporterType: invalid value \"LOG\""},
        {"metricsExporterType=OTLP_GRPC", "metricsExporterType: invalid value \"OTLP_GRPC\""},
        {"metricsExporterType=PROM\nmetricsInDelta=true", "metricsInDelta=true is not supported"},
        {"metricsExporterType=PROM\nmetricsLabel=novalue", "metricsLabel: \"novalue\" is not name:value"},
        {"metricsExporterType=PROM\nmetricsRefreshIntervalMs=5", "metricsRefreshIntervalMs"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        th_proc_t p;
        cr_expect(!th_broker_start(&p, 0, cases[i].conf), "case %zu started", i);
        cr_expect(th_log_contains(&p, cases[i].expect, 2000), "case %zu: no \"%s\" in %s", i, cases[i].expect,
                  p.log);
        th_proc_stop(&p, SIGKILL);
    }
    /* the port taken: a clear error, not a broker without metrics */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(fd, 1), 0);
    socklen_t sl = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &sl);
    char conf[128];
    snprintf(conf, sizeof(conf), "metricsExporterType=PROM\nmetricsPromExporterPort=%d", ntohs(a.sin_port));
    th_proc_t p;
    cr_expect(!th_broker_start(&p, 0, conf), "started with the metrics port taken");
    cr_expect(th_log_contains(&p, "cannot listen", 2000), "see %s", p.log);
    th_proc_stop(&p, SIGKILL);
    close(fd);
}

Test(metrics, name_server_lists_its_brokers)
{
    const char *l[] = {"broker_name", "broker-t", "broker_id", "0", "node_type", "nameserver", NULL};
    cr_expect_eq(wait_sample(nsmport, "comet_namesrv_brokers", l, 1, 10000), 1);
    const char *reg[] = {"request_code", "register_broker", "response_code", "success", NULL};
    double regs = wait_sample(nsmport, "rocketmq_rpc_latency_count", reg, -1, 0);
    cr_expect_geq(regs, 1, "registrations counted: %f", regs);
    char *text = NULL;
    cr_assert_eq(http_get(nsmport, "/metrics", &text), 200);
    char why[256];
    cr_expect(well_formed(text, why, sizeof(why)), "%s", why);
    free(text);
    /* the broker leaves: it is gone from the name server's list */
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    double v = 0;
    TH_WAIT_UNTIL(isnan(v = scrape_one(nsmport, "comet_namesrv_brokers", l)), 10000);
    cr_expect(isnan(v), "the unregistered broker is still listed: %f", v);
}
