/* mqadmin_dlq.c - the dead-letter queue sub-commands of mqadmin:
 *
 *   queryDlq     -g group [-c count]   messages in %DLQ%<group>
 *   resendDlqMsg -g group -i msgId     send one back to its original topic
 *
 * Reads the DLQ with plain PULL_MESSAGE requests (no offset is committed, so
 * looking changes nothing) and resends with SEND_MESSAGE_V2 to a master of
 * the original topic (the DLQ record's RETRY_TOPIC). Runs on mqadmin's single
 * thread through the blocking helpers in mqadmin_ops_t. Never deletes: a
 * resent message stays in the DLQ too. */
#include "mqadmin_dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rmq_admin_req.h"
#include "rmq_buf.h"
#include "rmq_codes.h"
#include "rmq_err.h"
#include "rmq_json.h"

#define PULL_BATCH 32
#define MAX_PULLS_PER_QUEUE 100000 /* 3.2 M messages: a bound, not a limit anyone meets */

/* Called per DLQ record; return false to stop the scan. */
typedef bool dlq_fn_t(const mqadmin_ops_t *ops, const char *bname, const rmq_msg_rec_t *r, void *arg);

static void dlq_topic(const char *group, char *out, size_t n)
{
    snprintf(out, n, "%%DLQ%%%s", group);
}

static const char *broker_addr(const mqadmin_ops_t *ops, json_t *route, const char *bname)
{
    json_t *bds = json_object_get(route, "brokerDatas");
    for (size_t k = 0; k < json_array_size(bds); k++) {
        const char *bn = rmq_json_str(json_array_get(bds, k), "brokerName");
        if (bn && strcmp(bn, bname) == 0)
            return ops->master_of(json_array_get(bds, k));
    }
    return NULL;
}

/* Pull every record of every queue of the DLQ. -1 on an error (printed),
 * else 0; *absent when the DLQ topic has no route. */
static int scan_dlq(const mqadmin_ops_t *ops, const char *group, dlq_fn_t *fn, void *arg, bool *absent)
{
    char topic[300];
    dlq_topic(group, topic, sizeof(topic));
    *absent = false;
    json_t *route = ops->topic_route(topic, true);
    if (!route) {
        *absent = true;
        return 0;
    }
    int rc = 0;
    bool stop = false;
    json_t *qds = json_object_get(route, "queueDatas");
    for (size_t i = 0; i < json_array_size(qds) && !stop && rc == 0; i++) {
        json_t *qd = json_array_get(qds, i);
        const char *bname = rmq_json_str(qd, "brokerName");
        int64_t rq = 0;
        rmq_json_int(qd, "readQueueNums", &rq);
        const char *addr = bname ? broker_addr(ops, route, bname) : NULL;
        if (!addr) {
            fprintf(stderr, "mqadmin: broker %s has no master\n", bname ? bname : "?");
            rc = -1;
            break;
        }
        for (int qid = 0; qid < rq && !stop && rc == 0; qid++) {
            int64_t off = 0;
            for (int pulls = 0; pulls < MAX_PULLS_PER_QUEUE && !stop; pulls++) {
                rmq_cmd_t req, resp;
                rmq_admin_req_browse(&req, group, topic, qid, off, PULL_BATCH); /* no commit */
                int r = ops->call(addr, &req, &resp, false);
                rmq_cmd_deinit(&req);
                if (r != 0) {
                    rc = -1;
                    break;
                }
                int64_t next = -1;
                rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next);
                if (resp.code == 0) {
                    rmq_msg_rec_t *recs = NULL;
                    size_t n = 0;
                    if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &n) != RMQ_OK) {
                        fprintf(stderr, "mqadmin: undecodable pull answer from %s\n", addr);
                        rc = -1;
                    }
                    for (size_t k = 0; k < n && !stop; k++)
                        stop = !fn(ops, bname, &recs[k], arg);
                    free(recs);
                } else if (resp.code != RMQ_ERR_PULL_NOT_FOUND &&
                           resp.code != RMQ_ERR_PULL_RETRY_IMMEDIATELY &&
                           resp.code != RMQ_ERR_PULL_OFFSET_MOVED) {
                    fprintf(stderr, "mqadmin: pull %s/%d: %s (%d)%s%s\n", topic, qid, rmq_err2name(resp.code),
                            resp.code, resp.remark ? ": " : "", resp.remark ? resp.remark : "");
                    rc = -1;
                }
                rmq_cmd_deinit(&resp);
                if (rc != 0 || next <= off)
                    break;
                off = next;
            }
        }
    }
    json_decref(route);
    return rc;
}

/* ---------------- queryDlq ---------------- */

typedef struct query_ctx_s {
    int max;
    int shown;
} query_ctx_t;

static bool query_one(const mqadmin_ops_t *ops, const char *bname, const rmq_msg_rec_t *r, void *arg)
{
    query_ctx_t *q = arg;
    const char *v;
    size_t vl;
    if (q->shown++)
        printf("\n");
    printf("%-20s %s\n", "Broker:", bname);
    if (rmq_msg_props_find(r->props, r->props_len, "RETRY_TOPIC", &v, &vl))
        printf("%-20s %.*s\n", "Original Topic:", (int)vl, v);
    if (rmq_msg_props_find(r->props, r->props_len, "ORIGIN_MESSAGE_ID", &v, &vl))
        printf("%-20s %.*s\n", "Original Offset ID:", (int)vl, v);
    ops->print_record(r, true);
    return q->shown < q->max;
}

int mqadmin_query_dlq(const mqadmin_ops_t *ops, const char *group, int max)
{
    query_ctx_t q = {max > 0 ? max : 128, 0};
    bool absent;
    if (scan_dlq(ops, group, query_one, &q, &absent) != 0)
        return 1;
    char topic[300];
    dlq_topic(group, topic, sizeof(topic));
    if (absent)
        printf("No dead-lettered messages: topic %s does not exist\n", topic);
    else
        printf("%s%d message(s) in %s%s\n", q.shown ? "\n" : "", q.shown, topic,
               q.shown >= q.max ? " (limit reached, -c for more)" : "");
    return 0;
}

/* ---------------- resendDlqMsg ---------------- */

typedef struct resend_ctx_s {
    const char *msg_id;
    bool found;
    int rc;
} resend_ctx_t;

static bool prop_is(const rmq_msg_rec_t *r, const char *key, const char *want)
{
    const char *v;
    size_t vl;
    return rmq_msg_props_find(r->props, r->props_len, key, &v, &vl) && vl == strlen(want) &&
           memcmp(v, want, vl) == 0;
}

/* Properties the broker added on the way to the DLQ (and per store). */
static const char *const dropped_props[] = {"RETRY_TOPIC", "ORIGIN_MESSAGE_ID", "REAL_TOPIC", "REAL_QID",
                                            "DELAY",       "CLUSTER",           "MIN_OFFSET", "MAX_OFFSET",
                                            "WAIT"};

static int resend(const mqadmin_ops_t *ops, const char *dlq_bname, const rmq_msg_rec_t *r)
{
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_parse(&p, r->props, r->props_len);
    const char *ot = rmq_msg_props_get(&p, "RETRY_TOPIC");
    char *orig = ot ? strdup(ot) : NULL;
    int rc = 1;
    json_t *route = NULL;
    rmq_buf_t ps;
    rmq_buf_init(&ps);
    if (!orig) {
        fprintf(stderr, "mqadmin: the message has no RETRY_TOPIC: its original topic is unknown\n");
        goto out;
    }
    route = ops->topic_route(orig, false);
    if (!route)
        goto out;
    /* a writable queue of the original topic, on the DLQ's broker if it has one */
    json_t *qds = json_object_get(route, "queueDatas");
    const char *bname = NULL;
    int64_t wq = 0;
    for (size_t i = 0; i < json_array_size(qds); i++) {
        json_t *qd = json_array_get(qds, i);
        const char *bn = rmq_json_str(qd, "brokerName");
        int64_t w = 0, perm = 0;
        rmq_json_int(qd, "writeQueueNums", &w);
        rmq_json_int(qd, "perm", &perm);
        if (!bn || w <= 0 || !(perm & 2))
            continue;
        if (!bname || strcmp(bn, dlq_bname) == 0) {
            bname = bn;
            wq = w;
        }
    }
    const char *addr = bname ? broker_addr(ops, route, bname) : NULL;
    if (!addr) {
        fprintf(stderr, "mqadmin: topic %s has no writable queue on a master\n", orig);
        goto out;
    }
    for (size_t i = 0; i < sizeof(dropped_props) / sizeof(dropped_props[0]); i++)
        rmq_msg_props_del(&p, dropped_props[i]);
    rmq_msg_props_encode(&p, &ps);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srand((unsigned)ts.tv_nsec);
    int qid = (int)(rand() % wq);
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_SEND_MESSAGE_V2);
    rmq_cmd_set_ext(&req, "a", "TOOLS_PRODUCER");
    rmq_cmd_set_ext(&req, "b", orig);
    rmq_cmd_set_ext(&req, "c", "TBW102");
    rmq_cmd_set_ext_i64(&req, "d", 4);
    rmq_cmd_set_ext_i64(&req, "e", qid);
    rmq_cmd_set_ext_i64(&req, "f", r->sys_flag & RMQ_SYSFLAG_COMPRESSED);
    rmq_cmd_set_ext_i64(&req, "g", (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    rmq_cmd_set_ext_i64(&req, "h", r->flag);
    rmq_cmd_set_ext(&req, "i", rmq_buf_cstr(&ps));
    rmq_cmd_set_ext_i64(&req, "j", 0);
    rmq_cmd_set_ext(&req, "k", "false");
    rmq_cmd_set_body(&req, r->body, (size_t)r->body_len);
    if (ops->call(addr, &req, &resp, false) == 0) {
        if (resp.code == 0) {
            const char *id = rmq_cmd_ext(&resp, "msgId");
            printf("Resent to %s (%s, queue %d): msgId %s\n", orig, bname, qid, id ? id : "?");
            rc = 0;
        } else {
            fprintf(stderr, "mqadmin: send to %s: %s (%d)%s%s\n", orig, rmq_err2name(resp.code), resp.code,
                    resp.remark ? ": " : "", resp.remark ? resp.remark : "");
        }
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
out:
    rmq_buf_free(&ps);
    json_decref(route);
    free(orig);
    rmq_msg_props_free(&p);
    return rc;
}

static bool resend_one(const mqadmin_ops_t *ops, const char *bname, const rmq_msg_rec_t *r, void *arg)
{
    resend_ctx_t *c = arg;
    char oid[RMQ_MSG_ID_MAX];
    rmq_msg_id_create(oid, &r->store_host, r->commitlog_offset);
    if (!prop_is(r, "UNIQ_KEY", c->msg_id) && !prop_is(r, "ORIGIN_MESSAGE_ID", c->msg_id) &&
        strcmp(oid, c->msg_id) != 0)
        return true;
    c->found = true;
    c->rc = resend(ops, bname, r);
    return false;
}

int mqadmin_resend_dlq_msg(const mqadmin_ops_t *ops, const char *group, const char *msg_id)
{
    resend_ctx_t c = {msg_id, false, 1};
    bool absent;
    if (scan_dlq(ops, group, resend_one, &c, &absent) != 0)
        return 1;
    if (!c.found) {
        char topic[300];
        dlq_topic(group, topic, sizeof(topic));
        fprintf(stderr, "mqadmin: no message %s in %s%s\n", msg_id, topic, absent ? " (no such topic)" : "");
        return 1;
    }
    return c.rc;
}
