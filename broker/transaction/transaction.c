/* transaction.c - half messages, op records, END_TRANSACTION's core and the
 * per-origin outcome table (RocketMQ's TransactionalMessageBridge and
 * TransactionalMessageServiceImpl commit/rollback; EndTransactionProcessor's
 * checks and final message).
 * Thread: io. Reads are lookups in mapped segments; appends are the store's
 * memcpy (no wait for the flush: END_TRANSACTION is oneway, as Java's
 * final message has waitStoreMsgOK=false).
 * Never: blocks, or ends a transaction twice. */
#include "transaction/transaction.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "rmq_alloc.h"
#include "rmq_hdr_fields.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "transaction/txn_int.h"

#define FAC "transaction"

/* ---- outcome table ---- */

static size_t slot_of(int64_t key, size_t cap)
{
    uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

uint8_t rmq_txn_table_get(const rmq_txn_table_t *t, int64_t origin)
{
    if (!t->cap)
        return 0;
    int64_t k = origin + 1;
    for (size_t i = slot_of(k, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->keys[i] == 0)
            return 0;
        if (t->keys[i] == k)
            return t->vals[i];
    }
}

static void table_insert(rmq_txn_table_t *t, int64_t k, uint8_t v)
{
    for (size_t i = slot_of(k, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->keys[i] == 0 || t->keys[i] == k) {
            if (t->keys[i] == 0)
                t->n++;
            t->keys[i] = k;
            t->vals[i] = v;
            return;
        }
    }
}

void rmq_txn_table_put(rmq_txn_table_t *t, int64_t origin, uint8_t outcome)
{
    if ((t->n + 1) * 4 >= t->cap * 3) {
        rmq_txn_table_t g = {0};
        g.cap = t->cap ? t->cap * 2 : 1024;
        g.keys = rmq_calloc(g.cap, sizeof(*g.keys));
        g.vals = rmq_calloc(g.cap, sizeof(*g.vals));
        for (size_t i = 0; i < t->cap; i++)
            if (t->keys[i])
                table_insert(&g, t->keys[i], t->vals[i]);
        free(t->keys);
        free(t->vals);
        *t = g;
    }
    table_insert(t, origin + 1, outcome);
}

/* Drop origins below min (their half records are gone with the commit log). */
static void table_prune(rmq_txn_table_t *t, int64_t min)
{
    size_t keep = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i] && t->keys[i] - 1 >= min)
            keep++;
    if (keep == t->n)
        return;
    rmq_txn_table_t g = {0};
    g.cap = 1024;
    while (keep * 4 >= g.cap * 3)
        g.cap *= 2;
    g.keys = rmq_calloc(g.cap, sizeof(*g.keys));
    g.vals = rmq_calloc(g.cap, sizeof(*g.vals));
    for (size_t i = 0; i < t->cap; i++)
        if (t->keys[i] && t->keys[i] - 1 >= min)
            table_insert(&g, t->keys[i], t->vals[i]);
    free(t->keys);
    free(t->vals);
    *t = g;
}

/* ---- records ---- */

int64_t rmq_txn_prop_i64(const rmq_msg_props_t *p, const char *key, int64_t def)
{
    const char *v = rmq_msg_props_get(p, key);
    if (!v || !*v)
        return def;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end ? def : (int64_t)x;
}

bool rmq_txn_read_at(rmq_txn_t *t, int64_t clog_offset, rmq_txn_rec_t *out)
{
    memset(out, 0, sizeof(*out));
    rmq_msg_props_init(&out->props);
    if (clog_offset < 0)
        return false;
    rmq_store_ref_t ref = {0};
    if (rmq_store_get_message_by_offset(t->b->store, clog_offset, &ref) != RMQ_OK)
        return false;
    if (rmq_msg_decode(ref.data, ref.len, false, &out->rec) != RMQ_OK) {
        rmq_store_ref_release(ref.pin);
        return false;
    }
    out->pin = ref.pin;
    rmq_msg_props_parse(&out->props, out->rec.props, out->rec.props_len);
    return true;
}

bool rmq_txn_read(rmq_txn_t *t, const char *topic, int64_t queue_offset, rmq_txn_rec_t *out)
{
    int64_t clog = rmq_store_get_commitlog_offset_in_queue(t->b->store, topic, 0, queue_offset);
    if (!rmq_txn_read_at(t, clog, out))
        return false;
    /* the queue entry must point at a record of that topic */
    if (out->rec.topic_len != strlen(topic) || memcmp(out->rec.topic, topic, out->rec.topic_len) != 0) {
        rmq_txn_rec_release(out);
        return false;
    }
    return true;
}

void rmq_txn_rec_release(rmq_txn_rec_t *r)
{
    if (r->pin)
        rmq_store_ref_release(r->pin);
    r->pin = NULL;
    rmq_msg_props_free(&r->props);
}

int64_t rmq_txn_origin(const rmq_txn_rec_t *r)
{
    int64_t o = rmq_txn_prop_i64(&r->props, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
    return o >= 0 ? o : r->rec.queue_offset;
}

rmq_put_status_t rmq_txn_put_from(rmq_txn_t *t, const rmq_txn_rec_t *r, const char *topic, int32_t qid,
                                  const rmq_msg_props_t *props, int32_t sys_flag, int64_t prepared_offset,
                                  rmq_put_result_t *res)
{
    rmq_broker_t *b = t->b;
    rmq_buf_t ps;
    rmq_buf_init(&ps);
    rmq_msg_props_encode(props, &ps);
    rmq_store_msg_t m;
    rmq_msg_rec_t rec = r->rec;
    rec.sys_flag = sys_flag; /* the caller's transaction bits */
    rmq_store_msg_from_rec(&m, &rec, topic, qid, (const char *)ps.data, ps.len, b->store_host);
    m.prepared_transaction_offset = prepared_offset;
    rmq_put_status_t st = rmq_store_put_message(b->store, &m, res, NULL, NULL);
    rmq_buf_free(&ps);
    if (st == RMQ_PUT_OK)
        b->msg_put_total++;
    else
        rmq_log(RMQ_LOG_WARN, FAC, "put to %s failed: %s", topic, rmq_put_status_name(st));
    return st;
}

bool rmq_txn_put_op(rmq_txn_t *t, const rmq_txn_rec_t *r, uint8_t outcome)
{
    rmq_broker_t *b = t->b;
    int64_t origin = rmq_txn_origin(r);
    char body[32], org[32];
    int blen = snprintf(body, sizeof(body), "%" PRId64, r->rec.queue_offset);
    snprintf(org, sizeof(org), "%" PRId64, origin);
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_set(&p, RMQ_PROP_TAGS, RMQ_TRANS_REMOVE_TAG);
    rmq_msg_props_set(&p, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, org);
    rmq_msg_props_set(&p, RMQ_PROP_TRAN_END_STATE, outcome == RMQ_TXN_COMMITTED ? "COMMIT" : "ROLLBACK");
    rmq_buf_t ps;
    rmq_buf_init(&ps);
    rmq_msg_props_encode(&p, &ps);
    rmq_msg_props_free(&p);
    rmq_store_msg_t m = {0};
    m.topic = RMQ_TRANS_OP_TOPIC;
    m.queue_id = r->rec.queue_id;
    m.body = body;
    m.body_len = (size_t)blen;
    m.props = (const char *)ps.data;
    m.props_len = ps.len;
    m.born_timestamp = rmq_now_ms();
    m.born_host = b->store_host;
    m.store_host = b->store_host;
    m.wait_store_ok = false;
    rmq_put_result_t res;
    rmq_put_status_t st = rmq_store_put_message(b->store, &m, &res, NULL, NULL);
    rmq_buf_free(&ps);
    if (st != RMQ_PUT_OK) {
        t->op_failures++;
        rmq_log(RMQ_LOG_ERROR, FAC, "op record for half offset %" PRId64 " (origin %" PRId64 ") failed: %s",
                r->rec.queue_offset, origin, rmq_put_status_name(st));
        return false;
    }
    b->msg_put_total++;
    rmq_txn_table_put(&t->ended, origin, outcome);
    return true;
}

/* ---- lifecycle ---- */

rmq_txn_t *rmq_txn_new(rmq_broker_t *b)
{
    rmq_txn_t *t = rmq_calloc(1, sizeof(*t));
    t->b = b;
    t->cand_offset = -1;
    t->progress = -1;
    return t;
}

/* Read op records [from, max) into the outcome table. */
static void load_ops(rmq_txn_t *t)
{
    rmq_store_t *s = t->b->store;
    int64_t min = rmq_store_get_min_offset_in_queue(s, RMQ_TRANS_OP_TOPIC, 0);
    int64_t max = rmq_store_get_max_offset_in_queue(s, RMQ_TRANS_OP_TOPIC, 0);
    int64_t i = t->op_loaded_to > min ? t->op_loaded_to : min;
    for (; i < max; i++) {
        rmq_txn_rec_t r;
        if (!rmq_txn_read(t, RMQ_TRANS_OP_TOPIC, i, &r))
            continue;
        int64_t origin = rmq_txn_prop_i64(&r.props, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, -1);
        if (origin < 0) { /* written by Java: the body is the half offset */
            char tmp[32];
            size_t n = (size_t)r.rec.body_len < sizeof(tmp) - 1 ? (size_t)r.rec.body_len : sizeof(tmp) - 1;
            memcpy(tmp, r.rec.body, n);
            tmp[n] = 0;
            char *end;
            long long x = strtoll(tmp, &end, 10);
            origin = *end || n == 0 ? -1 : x;
        }
        const char *st = rmq_msg_props_get(&r.props, RMQ_PROP_TRAN_END_STATE);
        uint8_t outcome = !st                       ? RMQ_TXN_ENDED
                          : !strcmp(st, "COMMIT")   ? RMQ_TXN_COMMITTED
                          : !strcmp(st, "ROLLBACK") ? RMQ_TXN_ROLLED_BACK
                                                    : RMQ_TXN_ENDED;
        if (origin >= 0 && !rmq_txn_table_get(&t->ended, origin))
            rmq_txn_table_put(&t->ended, origin, outcome);
        rmq_txn_rec_release(&r);
    }
    t->op_loaded_to = max;
}

void rmq_txn_load(rmq_txn_t *t)
{
    int64_t t0 = rmq_mono_ms();
    t->boot_half_max = rmq_store_get_max_offset_in_queue(t->b->store, RMQ_TRANS_HALF_TOPIC, 0);
    load_ops(t);
    if (t->ended.n)
        rmq_log(RMQ_LOG_INFO, FAC, "%zu ended transactions loaded from %s in %lld ms", t->ended.n,
                RMQ_TRANS_OP_TOPIC, (long long)(rmq_mono_ms() - t0));
}

void rmq_txn_start(rmq_txn_t *t)
{
    if (!t->b->is_slave)
        rmq_txn_check_start(t);
}

void rmq_txn_destroy(rmq_txn_t *t)
{
    if (!t)
        return;
    rmq_txn_check_stop(t);
    free(t->ended.keys);
    free(t->ended.vals);
    free(t);
}

void rmq_txn_get_stats(rmq_txn_t *t, rmq_txn_stats_t *st)
{
    *st = t->st;
}

/* ---- send path ---- */

bool rmq_txn_is_half(const rmq_msg_props_t *props, int32_t sys_flag)
{
    /* Boolean.parseBoolean, as SendMessageProcessor */
    return rmq_java_parse_bool(rmq_msg_props_get(props, RMQ_PROP_TRAN_MSG)) ||
           (sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) == RMQ_SYSFLAG_TRANSACTION_PREPARED;
}

void rmq_txn_to_half(rmq_txn_t *t, rmq_msg_props_t *props, const char **topic, int32_t *queue_id,
                     int32_t *sys_flag)
{
    char q[16];
    snprintf(q, sizeof(q), "%d", *queue_id);
    rmq_msg_props_set(props, RMQ_PROP_REAL_TOPIC, *topic);
    rmq_msg_props_set(props, RMQ_PROP_REAL_QID, q);
    *topic = RMQ_TRANS_HALF_TOPIC;
    *queue_id = 0;
    *sys_flag &= ~RMQ_SYSFLAG_TRANSACTION_MASK;
    t->st.half_puts++;
}

/* ---- END_TRANSACTION ---- */

static int put_code(rmq_put_status_t st, int32_t max_size, char *remark, size_t n)
{
    switch (st) {
    case RMQ_PUT_OK:
    case RMQ_PUT_FLUSH_DISK_TIMEOUT:
    case RMQ_PUT_FLUSH_SLAVE_TIMEOUT:
    case RMQ_PUT_SLAVE_NOT_AVAILABLE:
        return RMQ_OK;
    case RMQ_PUT_CREATE_MAPEDFILE_FAILED:
        snprintf(remark, n, "Create mapped file failed.");
        return RMQ_ERR_SYSTEM_ERROR;
    case RMQ_PUT_MESSAGE_ILLEGAL:
    case RMQ_PUT_PROPERTIES_SIZE_EXCEEDED:
        snprintf(remark, n,
                 "The message is illegal, maybe msg body or properties length not matched. msg body length "
                 "limit %dB, msg properties length limit 32KB.",
                 max_size);
        return RMQ_ERR_MESSAGE_ILLEGAL;
    case RMQ_PUT_SERVICE_NOT_AVAILABLE:
        snprintf(remark, n, "Service not available now.");
        return RMQ_ERR_SERVICE_NOT_AVAILABLE;
    case RMQ_PUT_OS_PAGECACHE_BUSY:
        snprintf(remark, n, "OS page cache busy, please try another machine");
        return RMQ_ERR_SYSTEM_ERROR;
    default:
        snprintf(remark, n, "UNKNOWN_ERROR");
        return RMQ_ERR_SYSTEM_ERROR;
    }
}

static const char *outcome_name(uint8_t o)
{
    return o == RMQ_TXN_COMMITTED ? "committed" : o == RMQ_TXN_ROLLED_BACK ? "rolled back" : "ended";
}

int rmq_txn_end(rmq_txn_t *t, const char *group, int64_t tran_offset, int64_t clog_offset, int state,
                bool from_check, char *remark, size_t remark_size)
{
    rmq_broker_t *b = t->b;
    remark[0] = 0;
    rmq_txn_rec_t r;
    if (!rmq_txn_read_at(t, clog_offset, &r)) {
        t->st.refused++;
        snprintf(remark, remark_size, "Find prepared transaction message failed");
        return RMQ_ERR_SYSTEM_ERROR;
    }
    int code = RMQ_ERR_SYSTEM_ERROR;
    const char *pgroup = rmq_msg_props_get(&r.props, RMQ_PROP_PGROUP);
    const char *real_topic = rmq_msg_props_get(&r.props, RMQ_PROP_REAL_TOPIC);
    int64_t real_qid = rmq_txn_prop_i64(&r.props, RMQ_PROP_REAL_QID, -1);
    if (r.rec.topic_len != strlen(RMQ_TRANS_HALF_TOPIC) ||
        memcmp(r.rec.topic, RMQ_TRANS_HALF_TOPIC, r.rec.topic_len) != 0) {
        snprintf(remark, remark_size,
                 "The message at commit log offset %" PRId64 " is not a half message (topic %.*s)",
                 clog_offset, (int)r.rec.topic_len, r.rec.topic);
        goto refused;
    }
    if (!pgroup || strcmp(pgroup, group) != 0) {
        snprintf(remark, remark_size, "The producer group wrong");
        goto refused;
    }
    if (r.rec.queue_offset != tran_offset) {
        snprintf(remark, remark_size, "The transaction state table offset wrong");
        goto refused;
    }
    if (r.rec.commitlog_offset != clog_offset) {
        snprintf(remark, remark_size, "The commit log offset wrong");
        goto refused;
    }
    int64_t origin = rmq_txn_origin(&r);
    uint8_t want = state == RMQ_SYSFLAG_TRANSACTION_COMMIT ? RMQ_TXN_COMMITTED : RMQ_TXN_ROLLED_BACK;
    uint8_t done = rmq_txn_table_get(&t->ended, origin);
    if (done) {
        /* idempotent: the first end wins; a repeat changes nothing */
        t->st.repeats++;
        if (done == want || done == RMQ_TXN_ENDED) {
            snprintf(remark, remark_size, "transaction %" PRId64 " already %s", origin, outcome_name(done));
            rmq_log(RMQ_LOG_INFO, FAC,
                    "END_TRANSACTION for half %" PRId64 " (origin %" PRId64 ", group %s%s): already %s",
                    tran_offset, origin, group, from_check ? ", from check" : "", outcome_name(done));
            rmq_txn_rec_release(&r);
            return RMQ_OK;
        }
        snprintf(remark, remark_size, "transaction %" PRId64 " was already %s; %s refused", origin,
                 outcome_name(done), want == RMQ_TXN_COMMITTED ? "commit" : "rollback");
        rmq_log(RMQ_LOG_WARN, FAC, "END_TRANSACTION from group %s: %s", group, remark);
        rmq_txn_rec_release(&r);
        return RMQ_ERR_TRANSACTION_FAILED;
    }
    if (want == RMQ_TXN_COMMITTED) {
        if (!real_topic || !*real_topic || real_qid < 0 || real_qid > INT32_MAX) {
            snprintf(remark, remark_size, "The half message has no valid REAL_TOPIC / REAL_QID");
            goto refused;
        }
        /* endMessageTransaction: the half's properties string unchanged (Java
         * clears REAL_TOPIC / REAL_QID / TRAN_MSG from the map only, so they
         * stay in the stored string), transaction bits = COMMIT,
         * preparedTransactionOffset = the half's commit-log offset */
        rmq_put_result_t res;
        int32_t sf = (r.rec.sys_flag & ~RMQ_SYSFLAG_TRANSACTION_MASK) | RMQ_SYSFLAG_TRANSACTION_COMMIT;
        rmq_put_status_t st = rmq_txn_put_from(t, &r, real_topic, (int32_t)real_qid, &r.props, sf,
                                               r.rec.commitlog_offset, &res);
        code = put_code(st, b->store_conf.maxMessageSize, remark, remark_size);
        if (code != RMQ_OK) {
            rmq_txn_rec_release(&r);
            return code;
        }
        t->st.commits++;
    } else {
        t->st.rollbacks++;
        code = RMQ_OK;
    }
    if (!rmq_txn_put_op(t, &r, want)) {
        /* the final message is stored; the check-back will find it by key
         * (check.c) and write the op record then */
        rmq_log(RMQ_LOG_WARN, FAC, "origin %" PRId64 ": %s but the op record failed", origin,
                outcome_name(want));
    }
    if (from_check)
        rmq_log(RMQ_LOG_INFO, FAC, "check answer from group %s: half %" PRId64 " (origin %" PRId64 ") %s",
                group, tran_offset, origin, outcome_name(want));
    rmq_txn_rec_release(&r);
    return code;
refused:
    t->st.refused++;
    rmq_log(RMQ_LOG_WARN, FAC,
            "END_TRANSACTION (group %s, offset %" PRId64 ", commit log %" PRId64 ") refused: %s", group,
            tran_offset, clog_offset, remark);
    rmq_txn_rec_release(&r);
    return RMQ_ERR_SYSTEM_ERROR;
}

/* ---- pending (admin) ---- */

void rmq_txn_pending(rmq_txn_t *t, const char *group, int64_t *count, int64_t *oldest_born)
{
    rmq_store_t *s = t->b->store;
    int64_t from = t->progress >= 0
                       ? t->progress
                       : rmq_offset_query(&t->b->offsets, RMQ_TRANS_GROUP, RMQ_TRANS_HALF_TOPIC, 0);
    int64_t min = rmq_store_get_min_offset_in_queue(s, RMQ_TRANS_HALF_TOPIC, 0);
    int64_t max = rmq_store_get_max_offset_in_queue(s, RMQ_TRANS_HALF_TOPIC, 0);
    if (from < min)
        from = min;
    *count = 0;
    *oldest_born = -1;
    rmq_txn_table_t seen = {0};
    for (int64_t i = from; i < max; i++) {
        rmq_txn_rec_t r;
        if (!rmq_txn_read(t, RMQ_TRANS_HALF_TOPIC, i, &r))
            continue;
        int64_t origin = rmq_txn_origin(&r);
        const char *pg = rmq_msg_props_get(&r.props, RMQ_PROP_PGROUP);
        if (!rmq_txn_table_get(&t->ended, origin) && !rmq_txn_table_get(&seen, origin) &&
            (!group || (pg && !strcmp(pg, group)))) {
            rmq_txn_table_put(&seen, origin, 1);
            (*count)++;
            if (*oldest_born < 0 || r.rec.born_timestamp < *oldest_born)
                *oldest_born = r.rec.born_timestamp;
        }
        rmq_txn_rec_release(&r);
    }
    free(seen.keys);
    free(seen.vals);
}

void rmq_txn_prune(rmq_txn_t *t)
{
    int64_t min = rmq_store_get_min_offset_in_queue(t->b->store, RMQ_TRANS_HALF_TOPIC, 0);
    if (min > 0)
        table_prune(&t->ended, min);
}
