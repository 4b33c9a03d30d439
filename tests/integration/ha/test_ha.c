/* test_ha.c - master/slave replication with real processes (mqnamesrv, a
 * master and a slave of group broker-h on loopback): SYNC_MASTER with
 * SYNC_FLUSH keeps byte-identical commit logs and consume queues; a stopped
 * slave makes SYNC_MASTER answer SLAVE_NOT_AVAILABLE at once and SEND_OK again
 * once it caught up (the catch-up is measured and printed); a silent link
 * (a TCP proxy this test cuts) gives FLUSH_SLAVE_TIMEOUT and recovers; an old
 * master restarted as a slave cuts its extra tail; metadata follows the
 * master and offsets committed to a slave survive the master's return; bad
 * input on the HA port (both directions) closes the connection with one log
 * line and appends nothing; wrong role / broker id settings are refused.
 * Every wait is bounded; failures keep the test directory (printed). */
#include <arpa/inet.h>
#include <comet/comet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ha/ha_frame.h"
#include "ha_util.h"
#include "rmq_alloc.h"

static char *store_of(const th_proc_t *p)
{
    return rmq_asprintf("%s/store", p->dir);
}

static int count_code(const ha_ack_t *a, int n, int code)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += a[i].code == code;
    return k;
}

/* ------------------------------------------------ SYNC_MASTER + SYNC_FLUSH */

/* A name server, a SYNC_MASTER and its SLAVE (both SYNC_FLUSH), the slave
 * in sync. */
static void start_sync_pair(th_proc_t *ns, th_proc_t *m, th_proc_t *s)
{
    cr_assert(th_namesrv_start(ns, NULL));
    cr_assert(ha_start_broker(m, ns->port, "SYNC_MASTER", 0, "flushDiskType=SYNC_FLUSH\n"));
    cr_assert(ha_start_broker(s, ns->port, "SLAVE", 1, "flushDiskType=SYNC_FLUSH\n"));
    cr_assert(ha_wait_in_sync(m->port, 20000), "the slave never came in sync");
}

Test(ha, sync_master_10k_byte_identical, .timeout = 240)
{
    th_proc_t ns, m, s;
    start_sync_pair(&ns, &m, &s);
    cr_assert_eq(ha_create_topic(m.port, "HaSync", 4), 0);
    enum { N = 10000 };
    ha_ack_t *acks = rmq_calloc(N, sizeof(*acks));
    cr_assert_eq(ha_send(m.port, "HaSync", 4, 0, N, 32, acks, NULL, NULL, 15000), N);
    cr_assert_eq(count_code(acks, N, 0), N, "every send answered SEND_OK (%d did)", count_code(acks, N, 0));
    free(acks);
    cr_assert(ha_wait_caught_up(m.port, s.port, 20000));
    int64_t end = ha_info_i64(m.port, "commitLogMaxOffset", -1);
    cr_assert_gt(end, 0);
    cr_assert_eq(ha_max_offset(s.port, "HaSync", 3), N / 4, "the slave's consume queue 3");
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    char why[1024] = "";
    char *ms = store_of(&m), *ss = store_of(&s);
    cr_assert(ha_same_commitlog(ms, ss, end, why, sizeof(why)), "%s", why);
    cr_assert(ha_same_consume_queues(ms, ss, "HaSync", 4, why, sizeof(why)), "%s", why);
    free(ms);
    free(ss);
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ------------------------------------------------------- a stopped slave */

Test(ha, slave_stopped_then_catches_up, .timeout = 300)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(&m, ns.port, "SYNC_MASTER", 0, NULL));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, NULL));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaStop", 4), 0);
    cr_assert_eq(ha_send_one(m.port, "HaStop", 0, 0), 0, "SEND_OK with a slave in sync");

    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(TH_WAIT_UNTIL(ha_info_i64(m.port, "haConnectedSlaves", 1) == 0, 10000));
    /* SLAVE_NOT_AVAILABLE (11) at once: a send that waited for slaveTimeout
     * would be FLUSH_SLAVE_TIMEOUT (12) instead */
    cr_assert_eq(ha_send_one(m.port, "HaStop", 1, 1), 11);
    enum { N = 100000 };
    ha_ack_t *acks = rmq_calloc(N, sizeof(*acks));
    int64_t t0 = rmq_mono_ms();
    cr_assert_eq(ha_send(m.port, "HaStop", 4, 2, N, 256, acks, NULL, NULL, 15000), N);
    int64_t t_send = rmq_mono_ms() - t0;
    cr_assert_eq(count_code(acks, N, 11), N, "all stored and answered SLAVE_NOT_AVAILABLE (%d were)",
                 count_code(acks, N, 11));
    free(acks);
    int64_t behind = ha_info_i64(m.port, "commitLogMaxOffset", 0);

    int64_t t1 = rmq_mono_ms();
    cr_assert(th_broker_restart(&s));
    cr_assert(ha_wait_caught_up(m.port, s.port, 120000), "the slave did not catch up");
    int64_t t_catch = rmq_mono_ms() - t1;
    fprintf(
        stderr,
        "ha catch-up: %d messages (%lld bytes) sent in %lld ms while the slave was down; slave restart to "
        "caught up (dispatched): %lld ms, %.1f MB/s\n",
        N, (long long)behind, (long long)t_send, (long long)t_catch,
        t_catch > 0 ? (double)behind / 1e6 / ((double)t_catch / 1000.0) : 0.0);
    cr_assert(ha_wait_in_sync(m.port, 10000));
    cr_assert_eq(ha_send_one(m.port, "HaStop", 2, N + 2), 0, "SEND_OK again once the slave caught up");
    cr_assert_eq(ha_max_offset(s.port, "HaStop", 0), ha_max_offset(m.port, "HaStop", 0));
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* --------------------------------------------------------- a silent link */

Test(ha, link_cut_gives_flush_slave_timeout, .timeout = 180)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    /* the master must not drop the slave during the cut: long housekeeping */
    cr_assert(
        ha_start_broker(&m, ns.port, "SYNC_MASTER", 0, "haHousekeepingInterval=120000\nslaveTimeout=1000\n"));
    ha_proxy_t *px = ha_proxy_start(ha_port(&m));
    char extra[256];
    snprintf(extra, sizeof(extra), "haMasterAddress=127.0.0.1:%d\nhaHousekeepingInterval=120000\n",
             ha_proxy_port(px));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, extra));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaCut", 2), 0);
    cr_assert_eq(ha_send_one(m.port, "HaCut", 0, 0), 0);

    ha_proxy_cut(px, true);
    int64_t t0 = rmq_mono_ms();
    int code = ha_send_one(m.port, "HaCut", 1, 1);
    int64_t waited = rmq_mono_ms() - t0;
    cr_assert_eq(code, 12, "FLUSH_SLAVE_TIMEOUT while the link is silent (got %d)", code);
    cr_assert_geq(waited, 900, "answered only after slaveTimeout (1000 ms): %lld ms", (long long)waited);
    /* more sends while cut: each answers (no hang), all stored */
    ha_ack_t acks[8];
    cr_assert_eq(ha_send(m.port, "HaCut", 2, 2, 8, 8, acks, NULL, NULL, 15000), 8);
    cr_assert_eq(count_code(acks, 8, 12), 8);

    ha_proxy_cut(px, false);
    cr_assert(TH_WAIT_UNTIL(ha_send_one(m.port, "HaCut", 0, 100) == 0, 20000),
              "SEND_OK again after the link heals");
    cr_assert(ha_wait_caught_up(m.port, s.port, 20000));
    cr_assert_eq(ha_max_offset(s.port, "HaCut", 1), ha_max_offset(m.port, "HaCut", 1),
                 "the stored sends reached the slave");
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    ha_proxy_stop(px);
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ------------------------------------------- old master back as a slave */

static void append_conf(const th_proc_t *p, const char *lines)
{
    FILE *f = fopen(p->conf, "a");
    cr_assert_not_null(f);
    fputs(lines, f);
    fclose(f);
}

Test(ha, old_master_restarted_as_slave_truncates, .timeout = 240)
{
    th_proc_t ns, a, b;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(&a, ns.port, "ASYNC_MASTER", 0, NULL));
    ha_proxy_t *px = ha_proxy_start(ha_port(&a));
    char extra[128];
    snprintf(extra, sizeof(extra), "haMasterAddress=127.0.0.1:%d\n", ha_proxy_port(px));
    cr_assert(ha_start_broker(&b, ns.port, "SLAVE", 1, extra));
    cr_assert(ha_wait_in_sync(a.port, 20000));
    cr_assert_eq(ha_create_topic(a.port, "HaDiv", 2), 0);
    ha_ack_t acks[400];
    cr_assert_eq(ha_send(a.port, "HaDiv", 2, 0, 100, 16, acks, NULL, NULL, 10000), 100);
    cr_assert(ha_wait_caught_up(a.port, b.port, 20000));
    int64_t common = ha_info_i64(b.port, "commitLogMaxOffset", -1);

    /* a writes 300 more that b never sees, then dies */
    ha_proxy_cut(px, true);
    cr_assert_eq(ha_send(a.port, "HaDiv", 2, 100, 300, 16, acks, NULL, NULL, 10000), 300);
    cr_assert_eq(count_code(acks, 300, 0), 300);
    int64_t a_end = ha_info_i64(a.port, "commitLogMaxOffset", -1);
    cr_assert_gt(a_end, common);
    cr_assert(th_proc_stop(&a, SIGKILL));
    cr_assert(th_proc_stop(&b, SIGTERM));
    ha_proxy_stop(px);

    /* b becomes the master (a new epoch) and takes other writes */
    append_conf(&b, "brokerRole=ASYNC_MASTER\nbrokerId=0\nhaMasterAddress=\n");
    cr_assert(th_broker_restart(&b));
    cr_assert_eq(ha_send(b.port, "HaDiv", 2, 1000, 50, 16, acks, NULL, NULL, 10000), 50);
    /* a comes back as b's slave: it cuts what b never had */
    char conf[128];
    snprintf(conf, sizeof(conf), "brokerRole=SLAVE\nbrokerId=1\nhaMasterAddress=127.0.0.1:%d\n", ha_port(&b));
    append_conf(&a, conf);
    cr_assert(th_broker_restart(&a));
    char line[128];
    snprintf(line, sizeof(line), "%lld bytes after offset %lld discarded", (long long)(a_end - common),
             (long long)common);
    cr_assert(th_log_contains(&a, line, 20000), "no \"%s\" in %s", line, a.log);
    cr_assert(ha_wait_caught_up(b.port, a.port, 20000));
    int64_t end = ha_info_i64(b.port, "commitLogMaxOffset", -1);
    cr_assert_eq(ha_max_offset(a.port, "HaDiv", 0), 50 + 25, "queue 0: 50 common + 25 of b's");
    cr_assert(th_proc_stop(&a, SIGTERM));
    cr_assert(th_proc_stop(&b, SIGTERM));
    char why[1024] = "";
    char *sa = store_of(&a), *sb = store_of(&b);
    cr_assert(ha_same_commitlog(sb, sa, end, why, sizeof(why)), "%s", why);
    cr_assert(ha_same_consume_queues(sb, sa, "HaDiv", 2, why, sizeof(why)), "%s", why);
    free(sa);
    free(sb);
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ---------------------------------------------------------------- metadata */

static bool topic_on(int port, const char *topic)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return false;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 21); /* GET_ALL_TOPIC_CONFIG */
    bool ok = th_call(&c, &req, &resp, 5000) && resp.code == 0;
    char needle[200];
    snprintf(needle, sizeof(needle), "\"%s\"", topic);
    bool found = ok && resp.body && memmem(resp.body, resp.body_len, needle, strlen(needle));
    if (ok)
        rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
    return found;
}

static bool route_exists(int ns_port, const char *topic)
{
    th_client_t c;
    if (!th_connect(&c, ns_port))
        return false;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 105); /* GET_ROUTEINFO_BY_TOPIC */
    rmq_cmd_set_ext(&req, "topic", topic);
    bool ok = th_call(&c, &req, &resp, 5000);
    bool found = ok && resp.code == 0;
    if (ok)
        rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
    return found;
}

static int64_t delay_offset(int port, int level)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 45); /* GET_ALL_DELAY_OFFSET: {"offsetTable":{1:5,...}} */
    int64_t v = -1;
    if (th_call(&c, &req, &resp, 5000)) {
        char key[16];
        snprintf(key, sizeof(key), "%d:", level);
        const char *p = resp.body ? memmem(resp.body, resp.body_len, key, strlen(key)) : NULL;
        if (p)
            v = strtoll(p + strlen(key), NULL, 10);
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    th_close(&c);
    return v;
}

Test(ha, metadata_follows_master_and_slave_offsets_survive, .timeout = 180)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    const char *delays = "messageDelayLevel=1s 2s\n";
    cr_assert(ha_start_broker(&m, ns.port, "SYNC_MASTER", 0, delays));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, delays));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaMeta", 2), 0);
    cr_assert(TH_WAIT_UNTIL(topic_on(s.port, "HaMeta"), 10000),
              "topic created on the master reaches the slave");
    cr_assert_eq(ha_commit_offset(m.port, "HaGroup", "HaMeta", 0, 5), 0);
    cr_assert(TH_WAIT_UNTIL(ha_query_offset(s.port, "HaGroup", "HaMeta", 0) == 5, 10000),
              "offset committed on the master reaches the slave");
    /* delay progress: one message at level 1 (1 s) is delivered on the master */
    {
        th_client_t c;
        cr_assert(th_connect(&c, m.port));
        rmq_cmd_t req, resp;
        th_req_send_v2(&req, "HaProducer", "HaMeta", 0, "TagA", NULL, "DELAY", "1", "late", 4);
        cr_assert(th_call(&c, &req, &resp, 10000));
        cr_assert_eq(resp.code, 0);
        rmq_cmd_deinit(&resp);
        rmq_cmd_deinit(&req);
        th_close(&c);
    }
    cr_assert(TH_WAIT_UNTIL(delay_offset(m.port, 1) == 1, 15000), "delivered on the master");
    cr_assert(TH_WAIT_UNTIL(delay_offset(s.port, 1) == 1, 15000), "delay progress reaches the slave");
    cr_assert(TH_WAIT_UNTIL(ha_max_offset(s.port, "HaMeta", 0) == 1, 10000), "the delivered message too");

    /* the master goes away; a client commits further on the slave */
    cr_assert(th_proc_stop(&m, SIGKILL));
    cr_assert_eq(ha_commit_offset(s.port, "HaGroup", "HaMeta", 0, 9), 0);
    cr_assert_eq(ha_query_offset(s.port, "HaGroup", "HaMeta", 0), 9);
    cr_assert(th_broker_restart(&m));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert(TH_WAIT_UNTIL(ha_query_offset(m.port, "HaGroup", "HaMeta", 0) == 9, 15000),
              "the master takes the larger offset the slave's client committed (has %lld)",
              (long long)ha_query_offset(m.port, "HaGroup", "HaMeta", 0));
    /* and the master's own snapshots do not lower it on the slave */
    cr_assert_eq(ha_commit_offset(m.port, "HaGroup", "HaMeta", 1, 3), 0);
    cr_assert(TH_WAIT_UNTIL(ha_query_offset(s.port, "HaGroup", "HaMeta", 1) == 3, 10000));
    cr_assert_eq(ha_query_offset(s.port, "HaGroup", "HaMeta", 0), 9);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ------------------------------------- every write path waits (SYNC_MASTER) */

/* One request on a fresh connection; the answer in resp (caller deinits),
 * how long it took in *ms. req is deinited. False: no answer. */
static bool call_once(int port, rmq_cmd_t *req, rmq_cmd_t *resp, int64_t *ms)
{
    th_client_t c;
    if (!th_connect(&c, port)) {
        rmq_cmd_deinit(req);
        return false;
    }
    int64_t t0 = rmq_mono_ms();
    bool ok = th_call(&c, req, resp, 15000);
    if (ms)
        *ms = rmq_mono_ms() - t0;
    rmq_cmd_deinit(req);
    th_close(&c);
    return ok;
}

static void first_clo(void *arg, const rmq_msg_rec_t *r)
{
    int64_t *clo = arg;
    if (*clo < 0)
        *clo = r->commitlog_offset;
}

/* A half message (TRAN_MSG) of producer group HaTxnGroup; its queue offset
 * and commit-log offset for END_TRANSACTION. */
static void half_send(int port, const char *topic, int i, int64_t *tran, int64_t *clog)
{
    rmq_cmd_t req, resp;
    char body[32], props[256];
    int bl = snprintf(body, sizeof(body), "half-%d", i);
    th_req_send_v2(&req, "HaTxnGroup", topic, 0, "TagT", NULL, NULL, NULL, body, (size_t)bl);
    snprintf(props, sizeof(props),
             "TAGS\001TagT\002UNIQ_KEY\001HAHALF%08d\002TRAN_MSG\001true\002PGROUP\001HaTxnGroup", i);
    rmq_cmd_set_ext(&req, "i", props);
    rmq_cmd_set_ext(&req, "f", "4"); /* TRANSACTION_PREPARED */
    cr_assert(call_once(port, &req, &resp, NULL));
    cr_assert_eq(resp.code, 0, "half send: %d %s", resp.code, resp.remark ? resp.remark : "");
    const char *id = rmq_cmd_ext(&resp, "msgId");
    cr_assert_not_null(id);
    cr_assert_eq(rmq_cmd_ext_i64(&resp, "queueOffset", tran), RMQ_OK);
    rmq_msg_host_t h;
    cr_assert_eq(rmq_msg_id_parse(id, strlen(id), &h, clog), RMQ_OK);
    rmq_cmd_deinit(&resp);
}

/* A two-way END_TRANSACTION commit; its code, remark and time. */
static int end_commit(int port, int64_t tran, int64_t clog, char *remark, size_t rn, int64_t *ms)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 37);
    rmq_cmd_set_ext(&req, "producerGroup", "HaTxnGroup");
    rmq_cmd_set_ext_i64(&req, "tranStateTableOffset", tran);
    rmq_cmd_set_ext_i64(&req, "commitLogOffset", clog);
    rmq_cmd_set_ext(&req, "commitOrRollback", "8"); /* TRANSACTION_COMMIT_TYPE */
    rmq_cmd_set_ext(&req, "fromTransactionCheck", "false");
    if (!call_once(port, &req, &resp, ms))
        return -1;
    snprintf(remark, rn, "%s", resp.remark ? resp.remark : "");
    int code = resp.code;
    rmq_cmd_deinit(&resp);
    return code;
}

/* With the link silent, each write path of a SYNC_MASTER (batch send,
 * CONSUMER_SEND_MSG_BACK, a two-way END_TRANSACTION commit) is answered only
 * after slaveTimeout, naming FLUSH_SLAVE_TIMEOUT as Java does for that path;
 * in sync, a commit is answered once the slave has its records. (Single
 * sends: link_cut_gives_flush_slave_timeout. Delayed re-stores and the
 * transaction check's re-appends answer nobody: their progress reaches the
 * slave only after the log it points into, slave_metadata_never_ahead_of_its_log.) */
Test(ha, every_write_path_waits_for_the_slave, .timeout = 180)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(
        &m, ns.port, "SYNC_MASTER", 0,
        "haHousekeepingInterval=120000\nslaveTimeout=1000\ntransactionCheckInterval=600000\n"));
    ha_proxy_t *px = ha_proxy_start(ha_port(&m));
    char extra[256];
    snprintf(extra, sizeof(extra), "haMasterAddress=127.0.0.1:%d\nhaHousekeepingInterval=120000\n",
             ha_proxy_port(px));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, extra));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaPaths", 1), 0);
    /* before the cut: a message to send back, two half messages to commit */
    cr_assert_eq(ha_send_one(m.port, "HaPaths", 0, 0), 0);
    int64_t clo = -1;
    /* acknowledged before the consume queue has it (dispatch is asynchronous, as in Java): poll */
    cr_assert(TH_WAIT_UNTIL(ha_pull_all(m.port, "HaPathsGroup", "HaPaths", 0, first_clo, &clo) == 1, 10000),
              "a pull from the master does not return the one message sent");
    cr_assert_geq(clo, 0);
    int64_t tran1, clog1, tran2, clog2;
    half_send(m.port, "HaPaths", 1, &tran1, &clog1);
    half_send(m.port, "HaPaths", 2, &tran2, &clog2);

    ha_proxy_cut(px, true);
    rmq_cmd_t req, resp;
    int64_t ms;
    char remark[512];

    /* SEND_BATCH_MESSAGE: FLUSH_SLAVE_TIMEOUT (12) after slaveTimeout */
    rmq_buf_t body;
    rmq_buf_init(&body);
    for (int i = 0; i < 3; i++) {
        char b[16], p[64];
        snprintf(b, sizeof(b), "batch-%d", i);
        int pl = snprintf(p, sizeof(p), "TAGS\001TagB\002KEYS\001BK%d", i);
        rmq_msg_batch_encode_one(&body, 0, b, strlen(b), p, (size_t)pl);
    }
    th_req_send_v2(&req, "HaProducer", "HaPaths", 0, NULL, NULL, NULL, NULL, body.data, body.len);
    rmq_buf_free(&body);
    req.code = 320;
    rmq_cmd_set_ext(&req, "m", "true");
    cr_assert(call_once(m.port, &req, &resp, &ms), "batch: no answer");
    cr_assert_eq(resp.code, 12, "batch: FLUSH_SLAVE_TIMEOUT while the link is silent (got %d %s)", resp.code,
                 resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    cr_assert_geq(ms, 900, "batch answered after %lld ms, before slaveTimeout (1000 ms)", (long long)ms);

    /* CONSUMER_SEND_MSG_BACK: Java answers SYSTEM_ERROR with the status */
    rmq_cmd_init_request(&req, 36);
    rmq_cmd_set_ext_i64(&req, "offset", clo);
    rmq_cmd_set_ext(&req, "group", "HaPathsGroup");
    rmq_cmd_set_ext(&req, "delayLevel", "0");
    rmq_cmd_set_ext(&req, "originTopic", "HaPaths");
    cr_assert(call_once(m.port, &req, &resp, &ms), "send-back: no answer");
    cr_assert_eq(resp.code, 1, "send-back: SYSTEM_ERROR while the link is silent (got %d)", resp.code);
    cr_assert(resp.remark && strstr(resp.remark, "FLUSH_SLAVE_TIMEOUT"), "send-back remark: %s",
              resp.remark ? resp.remark : "(none)");
    rmq_cmd_deinit(&resp);
    cr_assert_geq(ms, 900, "send-back answered after %lld ms, before slaveTimeout", (long long)ms);

    /* END_TRANSACTION commit: SUCCESS (Java's code) naming the status */
    int code = end_commit(m.port, tran1, clog1, remark, sizeof(remark), &ms);
    cr_assert_eq(code, 0, "commit: %d %s", code, remark);
    cr_assert(strstr(remark, "FLUSH_SLAVE_TIMEOUT"), "commit remark: %s", remark);
    cr_assert_geq(ms, 900, "commit answered after %lld ms, before slaveTimeout", (long long)ms);

    /* the link heals: all of it reaches the slave */
    ha_proxy_cut(px, false);
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert(ha_wait_caught_up(m.port, s.port, 20000));
    cr_assert_eq(ha_max_offset(s.port, "HaPaths", 0), 1 + 3 + 1, "1 sent, 3 in the batch, 1 committed");

    /* in sync: the commit's answer comes once the slave holds its records */
    code = end_commit(m.port, tran2, clog2, remark, sizeof(remark), &ms);
    cr_assert_eq(code, 0, "commit: %d %s", code, remark);
    cr_assert_str_eq(remark, "", "in sync: no remark");
    int64_t s_end = ha_info_i64(s.port, "commitLogMaxOffset", -1);
    int64_t m_end = ha_info_i64(m.port, "commitLogMaxOffset", -1);
    cr_assert_geq(s_end, m_end, "answered while the slave's log ends at %lld, the master's at %lld",
                  (long long)s_end, (long long)m_end);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    ha_proxy_stop(px);
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* Consumer offsets and delay progress point into the log: a slave that is
 * behind gets them only once it has the log up to where the master was when
 * it took them (else, after a failover, consumers would skip what the new
 * master writes there and delayed messages would be lost). The link is held
 * silent while the master takes a backlog, commits an offset at its end and
 * delivers a delayed message; while the slave catches up, every observation
 * of the new offset or progress on the slave finds its log past that point. */
Test(ha, slave_metadata_never_ahead_of_its_log, .timeout = 240)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    const char *conf = "messageDelayLevel=1s 2s\nhaHousekeepingInterval=120000\n";
    cr_assert(ha_start_broker(&m, ns.port, "ASYNC_MASTER", 0, conf));
    ha_proxy_t *px = ha_proxy_start(ha_port(&m));
    char extra[256];
    snprintf(extra, sizeof(extra), "%shaMasterAddress=127.0.0.1:%d\n", conf, ha_proxy_port(px));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, extra));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaAhead", 1), 0);
    cr_assert(TH_WAIT_UNTIL(topic_on(s.port, "HaAhead"), 10000));

    ha_proxy_cut(px, true);
    /* 60 MB: well past what the socket buffers, the proxy and the master's
     * output buffer hold, so the stream has much to carry after the commit */
    enum { N = 60000 };
    ha_ack_t *acks = rmq_calloc(N, sizeof(*acks));
    cr_assert_eq(ha_send_padded(m.port, "HaAhead", 1, 0, N, 256, 1024, acks, NULL, NULL, 15000), N);
    cr_assert_eq(count_code(acks, N, 0), N);
    free(acks);
    cr_assert_eq(ha_commit_offset(m.port, "HaAheadGroup", "HaAhead", 0, N), 0);
    int64_t off_end = ha_info_i64(m.port, "commitLogMaxOffset", -1);
    {
        th_client_t c;
        cr_assert(th_connect(&c, m.port));
        rmq_cmd_t req, resp;
        th_req_send_v2(&req, "HaProducer", "HaAhead", 0, "TagA", NULL, "DELAY", "1", "late", 4);
        cr_assert(th_call(&c, &req, &resp, 10000));
        cr_assert_eq(resp.code, 0);
        rmq_cmd_deinit(&resp);
        rmq_cmd_deinit(&req);
        th_close(&c);
    }
    cr_assert(TH_WAIT_UNTIL(delay_offset(m.port, 1) == 1, 15000), "delivered on the master");
    int64_t delay_end = ha_info_i64(m.port, "commitLogMaxOffset", -1);
    cr_assert(TH_WAIT_UNTIL(ha_max_offset(m.port, "HaAhead", 0) == N + 1, 10000));
    /* the link is silent: the slave has neither yet */
    cr_assert_neq(ha_query_offset(s.port, "HaAheadGroup", "HaAhead", 0), N);
    cr_assert_neq(delay_offset(s.port, 1), 1);

    ha_proxy_cut(px, false);
    int64_t deadline = rmq_mono_ms() + 120000, o = -1, d = -1, e = -1, seen_behind = 0;
    for (int i = 0; i < 1000000 && rmq_mono_ms() < deadline; i++) {
        o = ha_query_offset(s.port, "HaAheadGroup", "HaAhead", 0);
        d = delay_offset(s.port, 1);
        e = ha_info_i64(s.port, "commitLogMaxOffset", -1); /* read last: it only grows */
        if (o == N)
            cr_assert_geq(e, off_end, "offset %d on the slave while its log ends at %lld, before %lld", N,
                          (long long)e, (long long)off_end);
        if (d == 1)
            cr_assert_geq(e, delay_end, "delay progress on the slave while its log ends at %lld, before %lld",
                          (long long)e, (long long)delay_end);
        if (e < off_end)
            seen_behind++;
        if (o == N && d == 1)
            break;
    }
    cr_assert_eq(o, N, "the offset reached the slave (has %lld)", (long long)o);
    cr_assert_eq(d, 1, "the delay progress reached the slave (has %lld)", (long long)d);
    fprintf(stderr, "ha metadata order: %lld observations of the slave behind the offset's log end\n",
            (long long)seen_behind);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    ha_proxy_stop(px);
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ---------------------------------------------------------------- settings */

Test(ha, role_and_id_settings_refused, .timeout = 60)
{
    th_proc_t p;
    cr_assert_not(ha_start_broker(&p, 0, "SLAVE", 0, NULL), "a SLAVE with brokerId 0 starts");
    cr_assert(th_log_contains(&p, "brokerRole=SLAVE needs brokerId >= 1", 0));
    cr_assert_not(ha_start_broker(&p, 0, "SYNC_MASTER", 2, NULL), "a master with brokerId 2 starts");
    cr_assert(th_log_contains(&p, "brokerRole=SYNC_MASTER needs brokerId=0", 0));
}

/* ------------------------------------------------------- bad input: master */

static int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Read frames until the peer closes (bounded); returns the refusal's
 * message, if one came, in msg. True when closed. */
static bool read_until_closed(int fd, char *msg, size_t n, int timeout_ms)
{
    rmq_buf_t in;
    rmq_buf_init(&in);
    msg[0] = 0;
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    bool closed = false;
    while (!closed && rmq_mono_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        uint8_t buf[65536];
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r <= 0) {
            closed = true;
            break;
        }
        rmq_buf_put(&in, buf, (size_t)r);
        size_t total;
        char why[128];
        while (rmq_ha_frame_peek(in.data, in.len, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)) ==
               RMQ_HA_FRAME_OK) {
            rmq_ha_frame_t *f = rmq_ha_frame_decode(in.data + 4, total - 4, why, sizeof(why));
            if (f && f->msg_case == COMET__HA__FRAME__MSG_REFUSAL)
                snprintf(msg, n, "%s", f->refusal->message);
            rmq_ha_frame_free(f);
            memmove(in.data, in.data + total, in.len - total);
            in.len -= total;
        }
    }
    rmq_buf_free(&in);
    return closed;
}

static void send_frame(int fd, const rmq_ha_frame_t *f)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_ha_frame_encode(f, &b);
    cr_assert_eq(write(fd, b.data, b.len), (ssize_t)b.len);
    rmq_buf_free(&b);
}

static void send_hello(int fd, const char *cluster, const char *name, int64_t id, Comet__Ha__Role role,
                       int64_t epoch, const char *addr)
{
    Comet__Ha__Hello h = COMET__HA__HELLO__INIT;
    h.protocol_version = RMQ_HA_PROTOCOL_VERSION;
    h.cluster = (char *)cluster;
    h.broker_name = (char *)name;
    h.broker_id = id;
    h.role = role;
    h.epoch = epoch;
    h.segment_size = 4194304;
    h.broker_addr = (char *)addr;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_HELLO;
    f.hello = &h;
    send_frame(fd, &f);
}

Test(ha, bad_input_on_master_port, .timeout = 120)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(&m, ns.port, "SYNC_MASTER", 0, NULL));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, NULL));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    int hp = ha_port(&m);
    char msg[512];
    int fd;

    /* garbage */
    fd = raw_connect(hp);
    cr_assert_eq(write(fd, "\x00\x00\x00\x08GARBAGE!", 12), 12);
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000), "garbage: connection not closed");
    close(fd);
    cr_assert(th_log_contains(&m, "frame that does not decode", 5000));

    /* oversize length */
    fd = raw_connect(hp);
    cr_assert_eq(write(fd, "\x7f\xff\xff\xff", 4), 4);
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(th_log_contains(&m, "frame length 2147483647 outside", 5000));

    /* another cluster / broker name */
    fd = raw_connect(hp);
    send_hello(fd, "OtherCluster", HA_GROUP, 2, COMET__HA__ROLE__ROLE_SLAVE, 0, "127.0.0.1:1");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "hello from OtherCluster/" HA_GROUP), "refusal: %s", msg);
    cr_assert(th_log_contains(&m, "hello from OtherCluster/", 5000));

    /* the same cluster, another broker name */
    fd = raw_connect(hp);
    send_hello(fd, "TestCluster", "broker-other", 2, COMET__HA__ROLE__ROLE_SLAVE, 0, "127.0.0.1:5");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "hello from TestCluster/broker-other"), "refusal: %s", msg);
    cr_assert(th_log_contains(&m, "hello from TestCluster/broker-other", 5000));

    /* a slave with the master's broker id */
    fd = raw_connect(hp);
    send_hello(fd, "TestCluster", HA_GROUP, 0, COMET__HA__ROLE__ROLE_SLAVE, 0, "127.0.0.1:6");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "broker id 0, the id of this master"), "refusal: %s", msg);
    cr_assert(th_log_contains(&m, "broker id 0, the id of this master", 5000));

    /* a newer epoch than the master's */
    fd = raw_connect(hp);
    send_hello(fd, "TestCluster", HA_GROUP, 2, COMET__HA__ROLE__ROLE_SLAVE, 99, "127.0.0.1:2");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "epoch 99"), "refusal: %s", msg);

    /* the id of the connected slave, from another address */
    fd = raw_connect(hp);
    send_hello(fd, "TestCluster", HA_GROUP, 1, COMET__HA__ROLE__ROLE_SLAVE, 0, "127.0.0.1:3");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "slave id 1 is already connected"), "refusal: %s", msg);
    cr_assert(th_log_contains(&m, "slave id 1 is already connected", 5000));

    /* a second master of the group */
    fd = raw_connect(hp);
    send_hello(fd, "TestCluster", HA_GROUP, 0, COMET__HA__ROLE__ROLE_MASTER, 0, "127.0.0.1:4");
    cr_assert(read_until_closed(fd, msg, sizeof(msg), 10000));
    close(fd);
    cr_assert(strstr(msg, "a second master"), "refusal: %s", msg);
    cr_assert(th_log_contains(&m, "a second master", 5000));

    /* the real slave was not disturbed */
    cr_assert_eq(ha_info_i64(m.port, "haInSyncSlaves", 0), 1);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* -------------------------------------------------------- bad input: slave */

/* A fake master: accepts the slave's connection and reads its Hello. */
typedef struct {
    int lfd, port, fd;
} fake_master_t;

static void fake_listen(fake_master_t *fm)
{
    fm->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fm->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 20; i++) {
        fm->port = th_free_port();
        sa.sin_port = htons((uint16_t)fm->port);
        if (bind(fm->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
    }
    cr_assert_eq(listen(fm->lfd, 4), 0);
    fm->fd = -1;
}

/* Read what is there (up to 100 ms); true once in holds a whole frame. */
static bool read_frame(int fd, rmq_buf_t *in, size_t *total)
{
    char why[128];
    if (rmq_ha_frame_peek(in->data, in->len, RMQ_HA_MAX_FRAME, total, why, sizeof(why)) == RMQ_HA_FRAME_OK)
        return true;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0)
        return false;
    uint8_t buf[4096];
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r > 0)
        rmq_buf_put(in, buf, (size_t)r);
    return rmq_ha_frame_peek(in->data, in->len, RMQ_HA_MAX_FRAME, total, why, sizeof(why)) == RMQ_HA_FRAME_OK;
}

static Comet__Ha__Hello *fake_accept(fake_master_t *fm, rmq_ha_frame_t **holder)
{
    struct pollfd pf = {.fd = fm->lfd, .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 20000), 1, "the slave did not connect");
    fm->fd = accept(fm->lfd, NULL, NULL);
    cr_assert_geq(fm->fd, 0);
    rmq_buf_t in;
    rmq_buf_init(&in);
    size_t total = 0;
    char why[128];
    cr_assert(TH_WAIT_UNTIL(read_frame(fm->fd, &in, &total), 10000), "no Hello");
    *holder = rmq_ha_frame_decode(in.data + 4, total - 4, why, sizeof(why));
    rmq_buf_free(&in);
    cr_assert_not_null(*holder);
    cr_assert_eq((*holder)->msg_case, COMET__HA__FRAME__MSG_HELLO);
    return (*holder)->hello;
}

static void fake_welcome(fake_master_t *fm, int64_t epoch, int64_t start)
{
    Comet__Ha__EpochEntry e = COMET__HA__EPOCH_ENTRY__INIT;
    e.epoch = epoch;
    Comet__Ha__EpochEntry *ep[] = {&e};
    Comet__Ha__Welcome w = COMET__HA__WELCOME__INIT;
    w.protocol_version = RMQ_HA_PROTOCOL_VERSION;
    w.epoch = epoch;
    w.n_epochs = 1;
    w.epochs = ep;
    w.truncate_to = -1;
    w.start_offset = start;
    w.master_addr = "127.0.0.1:9";
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_WELCOME;
    f.welcome = &w;
    send_frame(fm->fd, &f);
}

/* One valid record at commit-log offset `at`. */
static size_t make_record(uint8_t *out, int64_t at)
{
    const char *body = "replicated";
    const char *props = "TAGS\001TagA";
    rmq_msg_rec_t rec = {
        .body_crc = rmq_msg_body_crc(body, strlen(body)),
        .queue_id = 0,
        .queue_offset = 0,
        .commitlog_offset = at,
        .born_timestamp = 1700000000000LL,
        .born_host = {.addr = {127, 0, 0, 1}, .port = 1},
        .store_timestamp = 1700000000001LL,
        .store_host = {.addr = {127, 0, 0, 1}, .port = 2},
        .body = (const uint8_t *)body,
        .body_len = (int32_t)strlen(body),
        .topic = "HaFake",
        .topic_len = 6,
        .props = props,
        .props_len = strlen(props),
    };
    return rmq_msg_encode(out, &rec);
}

static void fake_data(fake_master_t *fm, int64_t start, int64_t epoch, const uint8_t *p, size_t n)
{
    Comet__Ha__Data d = COMET__HA__DATA__INIT;
    d.start_offset = start;
    d.master_end_offset = start + (int64_t)n;
    d.epoch = epoch;
    d.records.data = (uint8_t *)p;
    d.records.len = n;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_DATA;
    f.data = &d;
    send_frame(fm->fd, &f);
}

Test(ha, bad_input_from_master_appends_nothing, .timeout = 180)
{
    fake_master_t fm;
    fake_listen(&fm);
    th_proc_t s;
    char extra[128];
    snprintf(extra, sizeof(extra), "haMasterAddress=127.0.0.1:%d\n", fm.port);
    cr_assert(ha_start_broker(&s, 0, "SLAVE", 1, extra));
    uint8_t rec[512];
    size_t rl = make_record(rec, 0);
    char msg[512];
    rmq_ha_frame_t *hold;

    /* 1. data that does not start at the slave's end */
    Comet__Ha__Hello *h = fake_accept(&fm, &hold);
    cr_assert_eq(h->end_offset, 0);
    cr_assert_eq(h->broker_id, 1);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 1, 0);
    uint8_t rec2[512];
    size_t rl2 = make_record(rec2, 4096);
    fake_data(&fm, 4096, 1, rec2, rl2);
    cr_assert(read_until_closed(fm.fd, msg, sizeof(msg), 10000));
    close(fm.fd);
    cr_assert(strstr(msg, "data at 4096 but this log ends at 0"), "refusal: %s", msg);
    cr_assert(th_log_contains(&s, "data at 4096 but this log ends at 0", 5000));

    /* 2. a record that fails its CRC */
    h = fake_accept(&fm, &hold);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 1, 0);
    uint8_t bad[512];
    memcpy(bad, rec, rl);
    bad[rl - 20] ^= 0x40; /* inside the body ("replicated" precedes topic and properties) */
    rmq_msg_rec_t chk;
    if (rmq_msg_decode(bad, rl, true, &chk) == RMQ_OK) { /* flipped outside the body: flip in the body */
        memcpy(bad, rec, rl);
        rmq_msg_decode(bad, rl, false, &chk);
        bad[chk.body - bad] ^= 0x40;
    }
    fake_data(&fm, 0, 1, bad, rl);
    cr_assert(read_until_closed(fm.fd, msg, sizeof(msg), 10000));
    close(fm.fd);
    cr_assert(strstr(msg, "CRC"), "refusal: %s", msg);
    cr_assert(th_log_contains(&s, "fails its body CRC", 5000));

    /* 3. a torn record */
    h = fake_accept(&fm, &hold);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 1, 0);
    fake_data(&fm, 0, 1, rec, rl - 7);
    cr_assert(read_until_closed(fm.fd, msg, sizeof(msg), 10000));
    close(fm.fd);
    cr_assert(strstr(msg, "torn record"), "refusal: %s", msg);

    /* 4. a frame that does not decode */
    h = fake_accept(&fm, &hold);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 1, 0);
    cr_assert_eq(write(fm.fd, "\x00\x00\x00\x05\xff\xff\xff\xff\xff", 9), 9);
    cr_assert(read_until_closed(fm.fd, msg, sizeof(msg), 10000));
    close(fm.fd);
    cr_assert(th_log_contains(&s, "does not decode", 5000));

    cr_assert_eq(ha_info_i64(s.port, "commitLogMaxOffset", -1), 0, "nothing was appended");

    /* 5. good data goes in; then an older epoch is refused */
    h = fake_accept(&fm, &hold);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 3, 0);
    fake_data(&fm, 0, 3, rec, rl);
    cr_assert(TH_WAIT_UNTIL(ha_info_i64(s.port, "commitLogMaxOffset", -1) == (int64_t)rl, 10000));
    close(fm.fd);
    h = fake_accept(&fm, &hold);
    cr_assert_eq(h->epoch, 3, "the slave kept its master's epoch");
    cr_assert_eq(h->end_offset, (int64_t)rl);
    rmq_ha_frame_free(hold);
    fake_welcome(&fm, 2, (int64_t)rl);
    cr_assert(read_until_closed(fm.fd, msg, sizeof(msg), 10000));
    close(fm.fd);
    cr_assert(strstr(msg, "older than epoch 3"), "refusal: %s", msg);
    cr_assert(th_log_contains(&s, "epoch 2 is older than epoch 3", 5000));
    cr_assert_eq(ha_info_i64(s.port, "commitLogMaxOffset", -1), (int64_t)rl);

    cr_assert(th_proc_stop(&s, SIGTERM));
    close(fm.lfd);
}

/* ------------------------------------------- kill -9 of the master mid-stream */

/* Which of messages "m-<i>" (0 <= i < n) were seen; thread-safe. */
typedef struct {
    pthread_mutex_t mu;
    uint8_t *seen;
    int n;
} bits_t;

static void bits_init(bits_t *b, int n)
{
    pthread_mutex_init(&b->mu, NULL);
    b->seen = rmq_calloc((size_t)n, 1);
    b->n = n;
}

static void bits_free(bits_t *b)
{
    free(b->seen);
    pthread_mutex_destroy(&b->mu);
}

static void bits_add_body(bits_t *b, const void *body, size_t len)
{
    char tmp[32];
    snprintf(tmp, sizeof(tmp), "%.*s", (int)(len < 31 ? len : 31), (const char *)body);
    int i;
    if (sscanf(tmp, "m-%d", &i) != 1 || i < 0 || i >= b->n)
        return;
    pthread_mutex_lock(&b->mu);
    b->seen[i] = 1;
    pthread_mutex_unlock(&b->mu);
}

/* How many of want are missing from have; *first = the first missing index. */
static int bits_missing(bits_t *want, bits_t *have, int *first)
{
    int miss = 0;
    if (first)
        *first = -1;
    pthread_mutex_lock(&have->mu);
    for (int i = 0; i < want->n; i++)
        if (want->seen[i] && !have->seen[i]) {
            if (!miss && first)
                *first = i;
            miss++;
        }
    pthread_mutex_unlock(&have->mu);
    return miss;
}

static int bits_count(bits_t *b)
{
    int k = 0;
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < b->n; i++)
        k += b->seen[i];
    pthread_mutex_unlock(&b->mu);
    return k;
}

static comet_conf_t *ha_client_conf(const th_proc_t *ns, const char *group)
{
    comet_conf_t *conf = comet_conf_new();
    char err[256], ns_addr[64], dir[400];
    snprintf(ns_addr, sizeof(ns_addr), "127.0.0.1:%d", ns->port);
    comet_conf_set(conf, "namesrvAddr", ns_addr, err, sizeof(err));
    comet_conf_set(conf, "consumerGroup", group, err, sizeof(err));
    comet_conf_set(conf, "rebalanceInterval", "2000", err, sizeof(err));
    comet_conf_set(conf, "pollNameServerInterval", "1000", err, sizeof(err));
    comet_conf_set(conf, "heartbeatBrokerInterval", "1000", err, sizeof(err));
    comet_conf_set(conf, "persistConsumerOffsetInterval", "500", err, sizeof(err));
    comet_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", err, sizeof(err));
    comet_conf_set(conf, "brokerSuspendMaxTimeMillis", "2000", err, sizeof(err));
    comet_conf_set(conf, "pullTimeDelayMillsWhenException", "200", err, sizeof(err));
    comet_conf_set(conf, "logLevel", "ERROR", err, sizeof(err));
    snprintf(dir, sizeof(dir), "%s/offsets-%s", th_test_dir(), group);
    comet_conf_set(conf, "localOffsetStoreDir", dir, err, sizeof(err));
    return conf;
}

static comet_consume_status_t push_cb(comet_push_consumer_t *c, const comet_message_ext_t *const *msgs,
                                      size_t cnt, void *opaque)
{
    bits_t *got = opaque;
    for (size_t i = 0; i < cnt; i++) {
        size_t len;
        const void *b = comet_message_ext_body(msgs[i], &len);
        bits_add_body(got, b, len);
    }
    return COMET_CONSUME_SUCCESS;
}

static void rec_to_set(void *arg, const rmq_msg_rec_t *r)
{
    bits_add_body(arg, r->body, (size_t)r->body_len);
}

typedef struct {
    th_proc_t *m;
    int kill_at;
} killer_t;

static bool kill_master(int answered, void *arg)
{
    killer_t *k = arg;
    if (answered < k->kill_at)
        return false;
    cr_assert(th_proc_stop(k->m, SIGKILL));
    return true;
}

Test(ha, master_killed_mid_stream_nothing_acknowledged_lost, .timeout = 300)
{
    th_proc_t ns, m, s;
    start_sync_pair(&ns, &m, &s);
    cr_assert_eq(ha_create_topic(m.port, "HaKill", 4), 0);
    cr_assert(TH_WAIT_UNTIL(topic_on(s.port, "HaKill"), 10000));
    cr_assert(TH_WAIT_UNTIL(route_exists(ns.port, "HaKill"), 10000),
              "no route for HaKill at the name server");

    /* a push consumer group reads along from the start */
    enum { N = 6000 };
    bits_t pushed, acked, onslave, polled;
    bits_init(&pushed, N);
    bits_init(&acked, N);
    bits_init(&onslave, N);
    bits_init(&polled, N);
    char err[512];
    comet_push_consumer_t *pc =
        comet_push_consumer_new(ha_client_conf(&ns, "HaPushGroup"), push_cb, &pushed, err, sizeof(err));
    cr_assert_not_null(pc, "%s", err);
    cr_assert_eq(comet_push_consumer_subscribe(pc, "HaKill", "*"), 0);
    cr_assert_eq(comet_push_consumer_start(pc, err, sizeof(err)), 0, "%s", err);
    cr_assert(TH_WAIT_UNTIL(comet_push_consumer_assigned_count(pc) >= 4, 20000),
              "the push consumer got HaKill's 4 queues (and maybe its retry queue)");

    ha_ack_t *acks = rmq_calloc(N, sizeof(*acks));
    killer_t k = {&m, 2500};
    ha_send(m.port, "HaKill", 4, 0, N, 16, acks, kill_master, &k, 3000);
    for (int i = 0; i < N; i++)
        if (acks[i].code == 0)
            acked.seen[i] = 1;
    free(acks);
    int nacked = bits_count(&acked), first = -1;
    cr_assert_geq(nacked, 2500, "%d acknowledged", nacked);

    /* raw pulls against the slave's address */
    for (int q = 0; q < 4; q++)
        cr_assert_geq(ha_pull_all(s.port, "HaRawGroup", "HaKill", q, rec_to_set, &onslave), 0);
    cr_assert_eq(bits_missing(&acked, &onslave, &first), 0,
                 "acknowledged message m-%d is not on the slave (%d acked, %d on the slave)", first, nacked,
                 bits_count(&onslave));

    /* libcomet: a pull consumer finds the slave by itself */
    comet_pull_consumer_t *lc = comet_pull_consumer_new(ha_client_conf(&ns, "HaPullGroup"), err, sizeof(err));
    cr_assert_not_null(lc, "%s", err);
    cr_assert_eq(comet_pull_consumer_subscribe(lc, "HaKill", "*"), 0);
    cr_assert_eq(comet_pull_consumer_start(lc, err, sizeof(err)), 0, "%s", err);
    int64_t deadline = rmq_mono_ms() + 60000;
    while (bits_missing(&acked, &polled, NULL) > 0 && rmq_mono_ms() < deadline) {
        comet_message_ext_t *msgs[64];
        size_t cnt = 0;
        comet_pull_consumer_poll(lc, 500, msgs, 64, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            const void *b = comet_message_ext_body(msgs[i], &len);
            bits_add_body(&polled, b, len);
            comet_message_ext_destroy(msgs[i]);
        }
    }
    cr_assert_eq(bits_missing(&acked, &polled, &first), 0,
                 "libcomet's pull consumer misses m-%d after the master died (%d polled)", first,
                 bits_count(&polled));
    comet_pull_consumer_destroy(lc);

    /* the push consumer group carried on from the slave */
    cr_assert(TH_WAIT_UNTIL(bits_missing(&acked, &pushed, NULL) == 0, 60000),
              "the push consumer group misses %d acknowledged messages", bits_missing(&acked, &pushed, NULL));
    comet_push_consumer_destroy(pc);
    bits_free(&pushed);
    bits_free(&polled);
    bits_free(&onslave);
    bits_free(&acked);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ------------------------------------------- a second master of one group */

Test(ha, second_master_refused_on_both_sides, .timeout = 120)
{
    th_proc_t ns, a, b;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(&a, ns.port, "ASYNC_MASTER", 0, NULL));
    cr_assert(TH_WAIT_UNTIL(th_log_contains(&a, "registered with name server", 0), 10000));
    cr_assert_not(ha_start_broker(&b, ns.port, "SYNC_MASTER", 0, NULL),
                  "a second master of " HA_GROUP " started");
    cr_assert(th_log_contains(&b, "another master of broker " HA_GROUP " is running at", 0));
    cr_assert(th_log_contains(&b, "It refused this one: a second master", 0), "the second one says why");
    cr_assert(th_log_contains(&a, "a second master for " HA_GROUP, 5000), "the running master says so too");
    /* the running master serves on */
    cr_assert_eq(ha_create_topic(a.port, "HaStill", 1), 0);
    cr_assert(th_proc_stop(&a, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* ------------------------------------------------ slaveReadEnable */

static int update_group(int port, const char *json)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 200); /* UPDATE_AND_CREATE_SUBSCRIPTIONGROUP */
    rmq_cmd_set_body(&req, json, strlen(json));
    int code = th_call(&c, &req, &resp, 5000) ? resp.code : -1;
    if (code >= 0)
        rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
    return code;
}

/* A group whose brokerId is 1 reads from the slave once the master's first
 * answer suggested it (slaveReadEnable; libcomet follows suggestWhichBrokerId). */
Test(ha, slave_read_enable_sends_pulls_to_the_slave, .timeout = 120)
{
    th_proc_t ns, m, s;
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(ha_start_broker(&m, ns.port, "ASYNC_MASTER", 0, "slaveReadEnable=true\n"));
    cr_assert(ha_start_broker(&s, ns.port, "SLAVE", 1, "slaveReadEnable=true\n"));
    cr_assert(ha_wait_in_sync(m.port, 20000));
    cr_assert_eq(ha_create_topic(m.port, "HaRead", 2), 0);
    cr_assert(TH_WAIT_UNTIL(route_exists(ns.port, "HaRead"), 10000));
    cr_assert_eq(update_group(m.port,
                              "{\"brokerId\":1,\"consumeBroadcastEnable\":true,\"consumeEnable\":true,"
                              "\"consumeFromMinEnable\":true,\"groupName\":\"HaReadGroup\","
                              "\"notifyConsumerIdsChangedEnable\":true,\"retryMaxTimes\":16,"
                              "\"retryQueueNums\":1,\"whichBrokerWhenConsumeSlowly\":1}"),
                 0);
    enum { N = 200 };
    ha_ack_t acks[N];
    cr_assert_eq(ha_send(m.port, "HaRead", 2, 0, N, 16, acks, NULL, NULL, 10000), N);
    cr_assert_eq(count_code(acks, N, 0), N);
    cr_assert(ha_wait_caught_up(m.port, s.port, 20000));
    int64_t m_before = ha_info_i64(m.port, "msgGetTotalTodayNow", -1);

    bits_t got;
    bits_init(&got, N);
    char err[512];
    comet_conf_t *conf = ha_client_conf(&ns, "HaReadGroup");
    comet_conf_set(conf, "pullBatchSize", "16", err, sizeof(err));
    comet_pull_consumer_t *lc = comet_pull_consumer_new(conf, err, sizeof(err));
    cr_assert_not_null(lc, "%s", err);
    cr_assert_eq(comet_pull_consumer_subscribe(lc, "HaRead", "*"), 0);
    cr_assert_eq(comet_pull_consumer_start(lc, err, sizeof(err)), 0, "%s", err);
    int64_t deadline = rmq_mono_ms() + 30000;
    while (bits_count(&got) < N && rmq_mono_ms() < deadline) {
        comet_message_ext_t *msgs[64];
        size_t cnt = 0;
        comet_pull_consumer_poll(lc, 500, msgs, 64, &cnt);
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            const void *b = comet_message_ext_body(msgs[i], &len);
            bits_add_body(&got, b, len);
            comet_message_ext_destroy(msgs[i]);
        }
    }
    comet_pull_consumer_destroy(lc);
    cr_assert_eq(bits_count(&got), N, "polled %d of %d", bits_count(&got), N);
    int64_t from_master = ha_info_i64(m.port, "msgGetTotalTodayNow", -1) - m_before;
    int64_t from_slave = ha_info_i64(s.port, "msgGetTotalTodayNow", -1);
    cr_assert_geq(
        from_slave, N - 2 * 16,
        "after the first pull of each queue the slave serves: %lld from the slave, %lld from the master",
        (long long)from_slave, (long long)from_master);
    bits_free(&got);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&m, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}

/* A topic created on a SYNC_MASTER is on the name server when the creation
 * is answered (Java registers before answering), and on the slave before
 * its first message: a master killed (-9) right after that message leaves
 * a slave that serves it. Fails when the answer comes before the
 * registration, or when the topic reaches the slave only with the next
 * snapshot of the table (a second later): the slave then answers
 * TOPIC_NOT_EXIST for a message it holds. */
static void count_rec(void *arg, const rmq_msg_rec_t *r)
{
    (void)r;
    (*(int *)arg)++;
}

Test(ha, new_topic_on_name_server_and_slave_before_its_first_message, .timeout = 120)
{
    th_proc_t ns, m, s;
    start_sync_pair(&ns, &m, &s);
    enum { TOPICS = 5 };
    for (int t = 0; t < TOPICS; t++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "HaFresh%d", t);
        cr_assert_eq(ha_create_topic(m.port, topic, 1), 0);
        cr_assert(route_exists(ns.port, topic), "%s created, but the name server has no route for it yet",
                  topic);
    }
    cr_assert_eq(ha_send_one(m.port, "HaFresh4", 0, 7), 0,
                 "SYNC_MASTER with its slave in sync answers SEND_OK");
    cr_assert(th_proc_stop(&m, SIGKILL));
    /* the slave's consume queue may lag its log by a moment: poll (its
     * master is dead, a slave without the topic never learns it) */
    int got = 0;
    cr_assert(TH_WAIT_UNTIL(
                  (got = 0, ha_pull_all(s.port, "HaFreshGroup", "HaFresh4", 0, count_rec, &got) == 1), 10000),
              "the slave does not serve the acknowledged message of a topic created just before (%d records)",
              got);
    cr_assert(th_proc_stop(&s, SIGTERM));
    cr_assert(th_proc_stop(&ns, SIGTERM));
}
