/* test_transaction.c - issue 14 end to end: transactional messages with real
 * mqnamesrv + mqbroker processes.
 *   - commit: delivered once with its properties, keys and tags; found by key
 *   - rollback: never delivered
 *   - UNKNOWN then a check-back answering COMMIT: delivered
 *   - check-backs answering UNKNOWN: never delivered, then moved to
 *     TRANS_CHECK_MAX_TIME_TOPIC after transactionCheckMax checks
 *   - the producer is SIGKILLed between the half message and
 *     END_TRANSACTION: another producer of the group is asked and commits
 *   - SIGKILL of a SYNC_FLUSH broker with pending transactions: after the
 *     restart nothing committed is lost, nothing is delivered twice, the
 *     pending ones are checked back
 *   - bad END_TRANSACTION requests are refused and change nothing; repeats
 *     are idempotent; a slave answers SLAVE_NOT_AVAILABLE
 *   - CHECK_TRANSACTION_STATE as a producer channel sees it (Java's header
 *     field order, oneway, stored-record body)
 *   - mqadmin pendingTransactions
 * Every wait polls a condition with a bound. */
#include <comet/comet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster.h"
#include "harness.h"
#include "harness_broker.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "rmq_time.h"

#define TOPIC "TxnTopic"
#define GROUP "txn_pg"
#define FAST "transactionCheckInterval=300\ntransactionTimeOut=500\n"

static cluster_t cl;
static th_client_t cli;

static void stop(void)
{
    th_close(&cli);
    cl_stop(&cl);
}

TestSuite(txn, .fini = stop, .timeout = 120);

static void start(const char *extra)
{
    char conf[512];
    snprintf(conf, sizeof(conf), FAST "%s", extra ? extra : "");
    cr_assert(cl_start(&cl, 1, conf), "cluster did not start (%s)", cl.brokers[0].log);
    cr_assert(th_connect(&cli, cl.brokers[0].port));
    cr_assert(cl_create_topic(&cl, TOPIC, 1, 1), "topic has no route");
}

/* ---- the application side ---- */

typedef struct app_s {
    _Atomic int exec_state;  /* what the execute callback answers */
    _Atomic int check_state; /* what the check callback answers */
    _Atomic int exec_calls, check_calls;
    _Atomic bool die_in_exec; /* SIGKILL ourselves inside execute */
} app_t;

static comet_txn_state_t on_exec(comet_producer_t *p, const comet_message_t *m,
                                 const comet_send_result_t *half, void *arg, void *opaque)
{
    app_t *a = opaque;
    a->exec_calls++;
    if (a->die_in_exec)
        raise(SIGKILL);
    int per = arg ? *(int *)arg : -1;
    return per >= 0 ? (comet_txn_state_t)per : (comet_txn_state_t)a->exec_state;
}

static comet_txn_state_t on_check(comet_producer_t *p, const comet_message_ext_t *m, void *opaque)
{
    app_t *a = opaque;
    a->check_calls++;
    return (comet_txn_state_t)a->check_state;
}

static comet_producer_t *txn_producer(app_t *a, const char *instance)
{
    comet_conf_t *conf = cl_conf(&cl, "producerGroup", GROUP);
    char err[256];
    if (instance)
        comet_conf_set(conf, "instanceName", instance, err, sizeof(err));
    comet_conf_set_transaction_listener(conf, on_exec, on_check);
    comet_conf_set_opaque(conf, a);
    comet_producer_t *p = comet_producer_new(conf, err, sizeof(err));
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(comet_producer_start(p, err, sizeof(err)), 0, "%s", err);
    return p;
}

static comet_err_t send_txn(comet_producer_t *p, int n, int state, comet_send_result_t *res)
{
    char body[64], keys[64];
    snprintf(body, sizeof(body), "txn-body-%d", n);
    snprintf(keys, sizeof(keys), "TXKEY-%d", n);
    comet_message_t *m = comet_message_new(TOPIC, body, strlen(body), COMET_MSG_F_COPY);
    comet_message_set_tags(m, "TagT");
    comet_message_set_keys(m, keys);
    comet_message_set_property(m, "myProp", "myValue");
    comet_txn_state_t st;
    comet_err_t e = comet_producer_send_in_transaction(p, m, state >= 0 ? &state : NULL, res, &st, 5000);
    comet_message_destroy(m);
    return e;
}

/* ---- the broker side, read raw ---- */

static int call(rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    cr_assert(th_call(&cli, req, resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    return resp->code;
}

static bool prop_of(const rmq_msg_rec_t *r, const char *key, char *out, size_t n)
{
    const char *v;
    size_t vl;
    if (!rmq_msg_props_find(r->props, r->props_len, key, &v, &vl))
        return false;
    snprintf(out, n, "%.*s", (int)vl, v);
    return true;
}

typedef struct seen_s {
    idset_t ids;
    int records;
    char first_props[1024];
    char first_body[64];
    int32_t first_sysflag;
    int64_t first_prepared;
} seen_t;

/* Read every record of (topic, queue 0) from offset 0. */
static void read_all(const char *topic, seen_t *s)
{
    int64_t off = 0;
    for (int k = 0; k < 1000; k++) {
        rmq_cmd_t req, resp;
        th_req_pull(&req, "txn_reader", topic, 0, off, 32, 0x4, 0, "*");
        int code = call(&req, &resp);
        size_t n = 0;
        if (code == 0) {
            rmq_msg_rec_t *recs = NULL;
            cr_assert_eq(rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n), RMQ_OK);
            for (size_t i = 0; i < n; i++) {
                char u[128] = "";
                prop_of(&recs[i], "UNIQ_KEY", u, sizeof(u));
                ids_add(&s->ids, u); /* a repeat is counted in ids.dups */
                if (s->records++ == 0) {
                    snprintf(s->first_props, sizeof(s->first_props), "%.*s", (int)recs[i].props_len,
                             recs[i].props);
                    snprintf(s->first_body, sizeof(s->first_body), "%.*s", (int)recs[i].body_len,
                             (const char *)recs[i].body);
                    s->first_sysflag = recs[i].sys_flag;
                    s->first_prepared = recs[i].prepared_transaction_offset;
                }
            }
            free(recs);
        }
        int64_t next = -1;
        rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next);
        rmq_cmd_deinit(&resp);
        if (n == 0 || next <= off)
            return;
        off = next;
    }
}

static int64_t max_offset(const char *topic)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 30);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext(&req, "queueId", "0");
    int code = call(&req, &resp);
    int64_t v = -1;
    if (code == 0)
        rmq_cmd_ext_i64(&resp, "offset", &v);
    rmq_cmd_deinit(&resp);
    return v;
}

/* COMET_GET_PENDING_TRANSACTIONS: a field of the answer for GROUP (-1 on
 * error). */
static int64_t txn_stat(const char *key)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 4037);
    rmq_cmd_set_ext(&req, "producerGroup", GROUP);
    int code = call(&req, &resp);
    int64_t n = -1;
    if (code == 0) {
        json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
        if (j)
            n = json_integer_value(json_object_get(j, key));
        json_decref(j);
    }
    rmq_cmd_deinit(&resp);
    return n;
}

/* Poll until the topic has at least n records (bounded). */
static bool wait_records(const char *topic, int n, int timeout_ms)
{
    return TH_WAIT_UNTIL(max_offset(topic) >= n, timeout_ms);
}

static int64_t pending(void)
{
    return txn_stat("count");
}

static bool wait_stat(const char *key, int64_t at_least, int timeout_ms)
{
    return TH_WAIT_UNTIL(txn_stat(key) >= at_least, timeout_ms);
}

/* Let the check service run `passes` more passes (a window in which a
 * wrong delivery or check-back would show). */
static void let_checks_run(int passes)
{
    int64_t now = txn_stat("checkRuns");
    cr_assert(wait_stat("checkRuns", now + passes, 20000), "the check service does not run");
}

static bool wait_pending(int64_t want, int timeout_ms)
{
    return TH_WAIT_UNTIL(pending() == want, timeout_ms);
}

/* ---------------- tests ---------------- */

Test(txn, commit_visible_once_with_properties_and_key)
{
    start(NULL);
    app_t a = {0};
    comet_producer_t *p = txn_producer(&a, NULL);
    comet_send_result_t res;
    cr_assert_eq(send_txn(p, 1, COMET_TXN_COMMIT, &res), 0, "%s", res.errstr);
    cr_expect_eq(a.exec_calls, 1, "execute callback ran %d times", a.exec_calls);
    cr_assert(wait_records(TOPIC, 1, 10000), "the committed message never reached %s", TOPIC);
    cr_assert(wait_pending(0, 10000), "the transaction is still pending after the commit");
    seen_t s = {0};
    ids_init(&s.ids);
    read_all(TOPIC, &s);
    /* fails if the commit was stored twice or the half message leaked */
    cr_expect_eq(s.records, 1, "%d records in %s, want 1", s.records, TOPIC);
    cr_expect(ids_has(&s.ids, res.msg_id), "delivered message is not %s", res.msg_id);
    cr_expect_str_eq(s.first_body, "txn-body-1");
    cr_expect(strstr(s.first_props, "TAGS\001TagT"), "tags lost: %s", s.first_props);
    cr_expect(strstr(s.first_props, "KEYS\001TXKEY-1"), "keys lost: %s", s.first_props);
    cr_expect(strstr(s.first_props, "myProp\001myValue"), "user property lost: %s", s.first_props);
    cr_expect_eq(s.first_sysflag & 0xC, 0x8, "sysFlag %#x: transaction bits are not COMMIT", s.first_sysflag);
    cr_expect_gt(s.first_prepared, -1);
    ids_free(&s.ids);
    /* QUERY_MESSAGE by key on the real topic finds exactly the committed one */
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 12);
    rmq_cmd_set_ext(&req, "topic", TOPIC);
    rmq_cmd_set_ext(&req, "key", "TXKEY-1");
    rmq_cmd_set_ext(&req, "maxNum", "32");
    rmq_cmd_set_ext(&req, "beginTimestamp", "0");
    rmq_cmd_set_ext_i64(&req, "endTimestamp", INT64_MAX);
    int code = call(&req, &resp);
    cr_expect_eq(code, 0, "query by key: %d %s", code, resp.remark ? resp.remark : "");
    rmq_msg_rec_t *recs = NULL;
    size_t n = 0;
    if (code == 0)
        rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &n);
    cr_expect_eq(n, 1, "query by key found %zu messages", n);
    if (n)
        cr_expect_eq(recs[0].topic_len, strlen(TOPIC));
    free(recs);
    rmq_cmd_deinit(&resp);
    comet_producer_destroy(p);
}

Test(txn, rollback_never_visible)
{
    start(NULL);
    app_t a = {0};
    comet_producer_t *p = txn_producer(&a, NULL);
    comet_send_result_t res;
    cr_assert_eq(send_txn(p, 2, COMET_TXN_ROLLBACK, &res), 0, "%s", res.errstr);
    cr_assert(wait_stat("rollbacks", 1, 10000), "END_TRANSACTION rollback not processed");
    cr_assert(wait_pending(0, 10000), "rolled-back transaction still pending");
    /* several check passes later: still nothing, and no check-back asked */
    let_checks_run(3);
    cr_expect_eq(max_offset(TOPIC), 0, "a rolled-back message reached %s", TOPIC);
    cr_expect_eq(a.check_calls, 0, "a rolled-back transaction was checked back");
    comet_producer_destroy(p);
}

Test(txn, unknown_then_check_commit_delivered)
{
    start(NULL);
    app_t a = {0};
    a.check_state = COMET_TXN_COMMIT;
    comet_producer_t *p = txn_producer(&a, NULL);
    comet_send_result_t res;
    cr_assert_eq(send_txn(p, 3, COMET_TXN_UNKNOWN, &res), 0, "%s", res.errstr);
    cr_assert(wait_records(TOPIC, 1, 20000), "not delivered after the check-back (checks: %d)",
              a.check_calls);
    cr_expect_geq(a.check_calls, 1);
    cr_assert(wait_pending(0, 10000));
    let_checks_run(3); /* nothing more may arrive */
    cr_expect_eq(max_offset(TOPIC), 1, "delivered %lld times", (long long)max_offset(TOPIC));
    comet_producer_destroy(p);
}

Test(txn, always_unknown_goes_to_check_max_topic)
{
    start("transactionCheckMax=2\n");
    app_t a = {0};
    a.check_state = COMET_TXN_UNKNOWN;
    comet_producer_t *p = txn_producer(&a, NULL);
    comet_send_result_t res;
    cr_assert_eq(send_txn(p, 4, COMET_TXN_UNKNOWN, &res), 0, "%s", res.errstr);
    int64_t m = 0;
    TH_WAIT_UNTIL((m = max_offset("TRANS_CHECK_MAX_TIME_TOPIC")) >= 1, 30000);
    cr_assert_geq(m, 1, "not in TRANS_CHECK_MAX_TIME_TOPIC after %d checks", a.check_calls);
    cr_expect_eq(a.check_calls, 2, "checked %d times, transactionCheckMax=2", a.check_calls);
    cr_expect_eq(max_offset(TOPIC), 0, "an undecided message was delivered");
    seen_t s = {0};
    ids_init(&s.ids);
    read_all("TRANS_CHECK_MAX_TIME_TOPIC", &s);
    cr_expect(ids_has(&s.ids, res.msg_id), "the discarded message is not %s", res.msg_id);
    cr_expect(strstr(s.first_props, "REAL_TOPIC\001" TOPIC), "REAL_TOPIC missing: %s", s.first_props);
    ids_free(&s.ids);
    cr_expect_eq(pending(), 0);
    comet_producer_destroy(p);
}

Test(txn, producer_killed_another_commits)
{
    start("transactionCheckMax=100000\n"); /* no producer until the survivor: never give up */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) { /* child: half message, then dies inside execute */
        app_t a = {0};
        a.die_in_exec = true;
        comet_producer_t *p = txn_producer(&a, "victim");
        comet_send_result_t res;
        send_txn(p, 5, COMET_TXN_COMMIT, &res);
        _exit(3); /* not reached: the callback killed us */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the victim producer was not killed (%d)",
              status);
    cr_assert_eq(max_offset(TOPIC), 0);
    cr_assert(wait_pending(1, 10000), "the half message of the killed producer is not pending");
    app_t a = {0};
    a.check_state = COMET_TXN_COMMIT;
    comet_producer_t *p = txn_producer(&a, "survivor");
    /* knowing the topic's route, it heartbeats the broker (as an
     * application that also sends would) */
    comet_message_queue_t *mqs = NULL;
    size_t nq = 0;
    cr_assert_eq(comet_producer_fetch_publish_queues(p, TOPIC, &mqs, &nq), 0);
    free(mqs);
    cr_assert(wait_records(TOPIC, 1, 30000), "no check-back commit from the surviving producer");
    cr_assert(wait_pending(0, 10000));
    let_checks_run(3);
    cr_expect_eq(max_offset(TOPIC), 1, "delivered %lld times", (long long)max_offset(TOPIC));
    cr_expect_geq(a.check_calls, 1);
    comet_producer_destroy(p);
}

Test(txn, broker_sigkill_sync_flush)
{
    /* a high check limit: the UNKNOWN answers before the crash must not
     * move anything to TRANS_CHECK_MAX_TIME_TOPIC, however slow the machine */
    start("flushDiskType=SYNC_FLUSH\ntransactionCheckMax=100000\n");
    app_t a = {0};
    a.check_state = COMET_TXN_UNKNOWN; /* undecided until after the restart */
    comet_producer_t *p = txn_producer(&a, NULL);
    enum { N = 20 };
    for (int i = 0; i < N; i++) {
        comet_send_result_t res;
        cr_assert_eq(send_txn(p, 100 + i, i % 2 ? COMET_TXN_UNKNOWN : COMET_TXN_COMMIT, &res), 0, "%s",
                     res.errstr);
    }
    cr_assert(wait_records(TOPIC, N / 2, 10000), "the commits before the crash did not arrive");
    th_proc_stop(&cl.brokers[0], SIGKILL);
    th_close(&cli);
    cr_assert(th_broker_restart(&cl.brokers[0]), "broker did not restart (%s)", cl.brokers[0].log);
    cr_assert(th_connect(&cli, cl.brokers[0].port));
    cr_expect_geq(max_offset(TOPIC), N / 2, "committed messages lost in the crash");
    int64_t left = pending();
    cr_expect_eq(left, N / 2, "%lld pending transactions after the restart, want %d", (long long)left, N / 2);
    a.check_state = COMET_TXN_COMMIT;
    cr_assert(wait_pending(0, 40000),
              "pending transactions were not checked back after the restart (%d checks)", a.check_calls);
    cr_expect(wait_records(TOPIC, N, 10000));
    let_checks_run(3);
    seen_t s = {0};
    ids_init(&s.ids);
    read_all(TOPIC, &s);
    cr_expect_eq(s.records, N, "%d records, want %d", s.records, N);
    cr_expect_eq(ids_count(&s.ids), N, "%zu distinct messages, want %d", ids_count(&s.ids), N);
    cr_expect_eq(s.ids.dups, 0, "%zu messages delivered twice", s.ids.dups);
    ids_free(&s.ids);
    comet_producer_destroy(p);
}

/* ---- raw frames ---- */

static void half_send(int n, char *msg_id, size_t mn, int64_t *queue_offset, int64_t *clog)
{
    rmq_cmd_t req, resp;
    char body[32], uniq[40];
    snprintf(body, sizeof(body), "raw-%d", n);
    snprintf(uniq, sizeof(uniq), "UNIQRAW%08d", n);
    th_req_send_v2(&req, GROUP, TOPIC, 0, "TagR", NULL, "UNIQ_KEY", uniq, body, strlen(body));
    char props[256];
    snprintf(props, sizeof(props), "TAGS\001TagR\002UNIQ_KEY\001%s\002TRAN_MSG\001true\002PGROUP\001" GROUP,
             uniq);
    rmq_cmd_set_ext(&req, "i", props);
    rmq_cmd_set_ext(&req, "f", "4");
    int code = call(&req, &resp);
    cr_assert_eq(code, 0, "half send: %d %s", code, resp.remark ? resp.remark : "");
    snprintf(msg_id, mn, "%s", rmq_cmd_ext(&resp, "msgId"));
    cr_assert_eq(rmq_cmd_ext_i64(&resp, "queueOffset", queue_offset), RMQ_OK);
    rmq_msg_host_t h;
    cr_assert_eq(rmq_msg_id_parse(msg_id, strlen(msg_id), &h, clog), RMQ_OK);
    rmq_cmd_deinit(&resp);
}

static int end_txn(const char *group, int64_t tran, int64_t clog, const char *state, const char *msg_id,
                   char *remark, size_t rn)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 37);
    if (group)
        rmq_cmd_set_ext(&req, "producerGroup", group);
    rmq_cmd_set_ext_i64(&req, "tranStateTableOffset", tran);
    rmq_cmd_set_ext_i64(&req, "commitLogOffset", clog);
    rmq_cmd_set_ext(&req, "commitOrRollback", state);
    if (msg_id)
        rmq_cmd_set_ext(&req, "msgId", msg_id);
    rmq_cmd_set_ext(&req, "fromTransactionCheck", "false");
    int code = call(&req, &resp);
    snprintf(remark, rn, "%s", resp.remark ? resp.remark : "");
    rmq_cmd_deinit(&resp);
    return code;
}

Test(txn, bad_end_transaction_refused_and_repeat_idempotent)
{
    start("transactionCheckInterval=600000\n"); /* no check-back during this test */
    char id[80], remark[512];
    int64_t qo, clog;
    half_send(1, id, sizeof(id), &qo, &clog);
    /* a normal message to point at */
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, GROUP, TOPIC, 0, "N", NULL, NULL, NULL, "normal", 6);
    cr_assert_eq(call(&req, &resp), 0);
    int64_t nclog;
    rmq_msg_host_t h;
    const char *nid = rmq_cmd_ext(&resp, "msgId");
    cr_assert_eq(rmq_msg_id_parse(nid, strlen(nid), &h, &nclog), RMQ_OK);
    rmq_cmd_deinit(&resp);

    /* both dispatched (consume queues are written asynchronously) */
    cr_assert(wait_records(TOPIC, 1, 10000));
    cr_assert(wait_pending(1, 10000), "the half message is not pending");
    cr_expect_eq(max_offset(TOPIC), 1, "a half message is visible in its real topic");

    int c = end_txn(GROUP, qo, 987654321, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1, "unknown offset: %d %s", c, remark);
    cr_expect(strstr(remark, "Find prepared transaction message failed"), "%s", remark);
    c = end_txn(GROUP, 0, nclog, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1, "not a half message: %d %s", c, remark);
    cr_expect(strstr(remark, "not a half message"), "%s", remark);
    c = end_txn("other_group", qo, clog, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1, "wrong group: %d %s", c, remark);
    cr_expect_str_eq(remark, "The producer group wrong");
    c = end_txn(GROUP, qo + 7, clog, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1);
    cr_expect_str_eq(remark, "The transaction state table offset wrong");
    c = end_txn(GROUP, qo, clog, "5", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1);
    cr_expect_str_eq(remark, "commitOrRollback field wrong");
    c = end_txn(NULL, qo, clog, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1);
    cr_expect(strstr(remark, "producerGroup"), "%s", remark);
    c = end_txn(GROUP, qo, -1, "8x", "X", remark, sizeof(remark));
    cr_expect_eq(c, 1, "unparsable commitOrRollback: %d %s", c, remark);
    /* none of that changed anything */
    cr_expect_eq(max_offset(TOPIC), 1, "a refused END_TRANSACTION stored something");
    cr_expect_eq(pending(), 1);

    cr_expect_eq(end_txn(GROUP, qo, clog, "8", "X", remark, sizeof(remark)), 0, "commit: %s", remark);
    cr_expect_eq(end_txn(GROUP, qo, clog, "8", "X", remark, sizeof(remark)), 0, "repeat: %s", remark);
    cr_expect(strstr(remark, "already committed"), "%s", remark);
    c = end_txn(GROUP, qo, clog, "12", "X", remark, sizeof(remark));
    cr_expect_eq(c, 4, "rollback after commit: %d %s", c, remark);
    cr_expect(wait_records(TOPIC, 2, 10000));
    cr_expect_eq(max_offset(TOPIC), 2, "normal + committed once; got %lld", (long long)max_offset(TOPIC));
    cr_expect_eq(pending(), 0);
    /* UNKNOWN (0): no response at all, as Java; the next request still works */
    rmq_cmd_init_request(&req, 37);
    rmq_cmd_set_ext(&req, "producerGroup", GROUP);
    rmq_cmd_set_ext_i64(&req, "tranStateTableOffset", qo);
    rmq_cmd_set_ext_i64(&req, "commitLogOffset", clog);
    rmq_cmd_set_ext(&req, "commitOrRollback", "0");
    rmq_cmd_set_ext(&req, "msgId", "X");
    rmq_cmd_init(&resp);
    cr_expect_not(th_call(&cli, &req, &resp, 1000), "a pending-state END_TRANSACTION was answered");
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
}

Test(txn, slave_refuses_end_transaction)
{
    cr_assert(cl_start(&cl, 0, NULL));
    th_proc_t *sl = &cl.brokers[0];
    cr_assert(th_broker_start(sl, cl.ns.port, "brokerRole=SLAVE\nbrokerId=1\n"), "slave did not start (%s)",
              sl->log);
    cl.nbrokers = 1;
    cr_assert(th_connect(&cli, sl->port));
    char remark[256];
    int c = end_txn(GROUP, 0, 0, "8", "X", remark, sizeof(remark));
    cr_expect_eq(c, 11, "slave answered %d %s", c, remark);
}

Test(txn, check_frame_as_java_writes_it)
{
    start(NULL);
    char id[80];
    int64_t qo, clog;
    half_send(2, id, sizeof(id), &qo, &clog);
    /* register this connection as a producer of GROUP */
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 34);
    const char *hb = "{\"clientID\":\"127.0.0.1@rawproducer\",\"consumerDataSet\":[],\"producerDataSet\":[{"
                     "\"groupName\":\"" GROUP "\"}]}";
    rmq_cmd_set_body(&req, hb, strlen(hb));
    cr_assert_eq(call(&req, &resp), 0);
    rmq_cmd_deinit(&resp);
    rmq_cmd_t chk;
    rmq_cmd_init(&chk);
    bool got = false;
    int64_t end = rmq_mono_ms() + 15000;
    while (!got && rmq_mono_ms() < end) {
        rmq_cmd_deinit(&chk);
        rmq_cmd_init(&chk);
        got = th_read_frame(&cli, &chk, 1000) && chk.code == 39 && !(chk.flag & 1);
    }
    cr_assert(got, "no CHECK_TRANSACTION_STATE within 15 s");
    cr_expect_eq(chk.flag, 2, "not oneway: flag %d", chk.flag);
    /* Java's HashMap order of CheckTransactionStateRequestHeader's fields */
    const char *order[] = {"commitLogOffset", "msgId", "tranStateTableOffset", "offsetMsgId",
                           "transactionId"};
    cr_assert_eq(chk.ext_n, 5, "%zu ext fields", chk.ext_n);
    for (int i = 0; i < 5; i++)
        cr_expect_str_eq(chk.ext[i].key, order[i], "ext field %d", i);
    cr_expect_str_eq(rmq_cmd_ext(&chk, "msgId"), "UNIQRAW00000002");
    cr_expect_str_eq(rmq_cmd_ext(&chk, "transactionId"), "UNIQRAW00000002");
    int64_t cqo = -1, cclog = -1;
    rmq_cmd_ext_i64(&chk, "tranStateTableOffset", &cqo);
    rmq_cmd_ext_i64(&chk, "commitLogOffset", &cclog);
    cr_expect_gt(cqo, qo, "the check names the re-appended copy");
    rmq_msg_rec_t r;
    size_t used;
    cr_assert_eq(rmq_msg_decode_lenient(chk.body, chk.body_len, true, &r, &used), RMQ_OK);
    cr_expect_eq(used, chk.body_len);
    cr_expect_eq(r.topic_len, strlen(TOPIC), "body topic is not the real one");
    cr_expect_eq(r.commitlog_offset, cclog);
    cr_expect_eq(r.queue_offset, cqo);
    char v[64];
    cr_expect(prop_of(&r, "TRANSACTION_CHECK_TIMES", v, sizeof(v)) && !strcmp(v, "1"), "check times %s", v);
    /* answer like Java's client: commit, from the check */
    char remark[256];
    cr_expect_eq(end_txn(GROUP, cqo, cclog, "8", "UNIQRAW00000002", remark, sizeof(remark)), 0, "%s", remark);
    cr_expect(wait_records(TOPIC, 1, 10000));
    rmq_cmd_deinit(&chk);
}

Test(txn, mqadmin_pending_transactions)
{
    start("transactionCheckInterval=600000\n");
    char id[80];
    int64_t qo, clog;
    half_send(3, id, sizeof(id), &qo, &clog);
    half_send(4, id, sizeof(id), &qo, &clog);
    char exe[512], cmd[1200], out[4096] = "";
    th_bin("mqadmin", exe, sizeof(exe));
    snprintf(cmd, sizeof(cmd), "%s pendingTransactions -n %s -g %s 2>&1", exe, cl.ns_addr, GROUP);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = 0;
    int rc = pclose(f);
    cr_expect_eq(rc, 0, "mqadmin exit %d: %s", rc, out);
    cr_expect(strstr(out, GROUP), "%s", out);
    cr_expect(strstr(out, " 2 "), "want 2 pending: %s", out);
}
