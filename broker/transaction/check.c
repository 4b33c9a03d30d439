/* check.c - the transaction check-back service
 * (TransactionalMessageCheckService + TransactionalMessageServiceImpl.check
 * + the check listener).
 *
 * Every transactionCheckInterval ms it walks the half queue from its
 * progress offset. A half message whose origin has an op record is passed;
 * one younger than transactionTimeOut (or its CHECK_IMMUNITY_TIME_IN_SECONDS)
 * stops the walk (later ones are younger); one checked transactionCheckMax
 * times, or older than fileReservedTime, goes to TRANS_CHECK_MAX_TIME_TOPIC;
 * any other is re-appended with TRANSACTION_CHECK_TIMES + 1 and its copy is
 * sent in CHECK_TRANSACTION_STATE (oneway) to one live producer channel of
 * its group. Before checking a transaction begun before this boot (or after
 * an op record failed), an index lookup (REAL_TOPIC + UNIQ_KEY) finds a
 * message committed just before a crash whose op record was not written;
 * then the op record is written instead of asking the producer again.
 *
 * Durability: progress is the committed offset of CID_RMQ_SYS_TRANS on the
 * half queue (consumer offsets snapshot). It is committed only once the
 * commit log has flushed the copies appended before it, so after a crash or
 * power loss the walk restarts at or before every unresolved message: it may
 * check a message again, never skips one.
 *
 * Thread: io (a timer). A pass works in slices of at most SLICE_MSGS
 * messages / SLICE_MS ms and yields to the loop between slices.
 * Never: blocks, or checks on a slave. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "broker_meta.h"
#include "client/client_mgr.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"
#include "transaction/txn_int.h"

#define FAC "transaction"
#define SLICE_MSGS 500
#define SLICE_MS 5
#define FLUSH_WAIT_MS 50

static int64_t cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void arm(rmq_txn_t *t, int64_t ms)
{
    if (!t->ev_check)
        return;
    rmq_timer_add(t->ev_check, ms);
}

/* Commit the progress once the flush covers what it depends on. */
static void commit_progress(rmq_txn_t *t)
{
    if (t->cand_offset < 0)
        return;
    if (rmq_store_get_flushed_offset(t->b->store) < t->cand_needs_flush)
        return;
    rmq_offset_commit(&t->b->offsets, RMQ_TRANS_GROUP, RMQ_TRANS_HALF_TOPIC, 0, t->cand_offset);
    t->cand_offset = -1;
}

static rmq_conn_t *producer_channel(rmq_txn_t *t, const char *group)
{
    rmq_producer_group_info_t *g = rmq_map_get(&t->b->clients->producers, group);
    if (!g || !g->n)
        return NULL;
    for (size_t k = 0; k < g->n; k++) {
        rmq_client_chan_t *c = &g->chans[(t->rr + k) % g->n];
        if (!rmq_conn_is_closed(c->conn)) {
            t->rr += (uint32_t)k + 1;
            return c->conn;
        }
    }
    return NULL;
}

/* Broker2Client.checkProducerTransactionState: header fields in the order
 * Java's HashMap puts them on the wire, body = the copy in stored-record
 * format with the real topic and queue. */
static void send_check(rmq_txn_t *t, rmq_conn_t *conn, const rmq_txn_rec_t *half,
                       const rmq_msg_props_t *props, const rmq_put_result_t *copy)
{
    const char *uniq = rmq_msg_props_get(props, RMQ_PROP_UNIQ_KEY);
    rmq_cmd_t req;
    rmq_txn_check_cmd_init(&req, copy->wrote_offset, uniq, copy->queue_offset, copy->msg_id);
    rmq_buf_t ps;
    rmq_buf_init(&ps);
    rmq_msg_props_encode(props, &ps);
    rmq_msg_rec_t rec = half->rec;
    rec.topic = rmq_msg_props_get(props, RMQ_PROP_REAL_TOPIC);
    rec.topic_len = rec.topic ? strlen(rec.topic) : 0;
    rec.queue_id = (int32_t)rmq_txn_prop_i64(props, RMQ_PROP_REAL_QID, 0);
    rec.queue_offset = copy->queue_offset;
    rec.commitlog_offset = copy->wrote_offset;
    rec.props = (const char *)ps.data;
    rec.props_len = ps.len;
    size_t n =
        rmq_msg_rec_size(rec.born_host.v6, rec.store_host.v6, (size_t)rec.body_len, rec.topic_len, ps.len);
    uint8_t *body = rmq_malloc(n);
    rmq_msg_encode(body, &rec);
    rmq_cmd_set_body(&req, body, n);
    rmq_conn_oneway(conn, &req);
    rmq_cmd_deinit(&req);
    free(body);
    rmq_buf_free(&ps);
}

void rmq_txn_check_cmd_init(rmq_cmd_t *req, int64_t clog_offset, const char *uniq, int64_t tran_offset,
                            const char *offset_msg_id)
{
    rmq_cmd_init_request(req, RMQ_REQ_CHECK_TRANSACTION_STATE);
    rmq_cmd_set_ext_i64(req, "commitLogOffset", clog_offset);
    rmq_cmd_set_ext(req, "msgId", uniq); /* rmq_cmd_set_ext leaves out a NULL value */
    rmq_cmd_set_ext_i64(req, "tranStateTableOffset", tran_offset);
    rmq_cmd_set_ext(req, "offsetMsgId", offset_msg_id);
    rmq_cmd_set_ext(req, "transactionId", uniq);
    req->flag |= RMQ_FLAG_ONEWAY; /* RemotingCommand.markOnewayRPC */
}

/* A commit stored before a crash that lost its op record. */
static bool committed_before(rmq_txn_t *t, const rmq_txn_rec_t *r, int64_t origin)
{
    rmq_broker_t *b = t->b;
    const char *topic = rmq_msg_props_get(&r->props, RMQ_PROP_REAL_TOPIC);
    const char *uniq = rmq_msg_props_get(&r->props, RMQ_PROP_UNIQ_KEY);
    if (!topic || !uniq || !b->store_conf.messageIndexEnable)
        return false;
    int64_t origin_clog =
        origin == r->rec.queue_offset
            ? r->rec.commitlog_offset
            : rmq_store_get_commitlog_offset_in_queue(b->store, RMQ_TRANS_HALF_TOPIC, 0, origin);
    rmq_query_result_t qr;
    if (rmq_store_query_message(b->store, topic, uniq, 64, 0, INT64_MAX, &qr) != RMQ_OK)
        return false;
    bool found = false;
    for (size_t i = 0; i < qr.count && !found; i++) {
        rmq_msg_rec_t c;
        if (rmq_msg_decode(qr.msgs[i].data, qr.msgs[i].len, false, &c) != RMQ_OK)
            continue;
        if ((c.sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) != RMQ_SYSFLAG_TRANSACTION_COMMIT ||
            c.topic_len != strlen(topic) || memcmp(c.topic, topic, c.topic_len) != 0)
            continue;
        const char *v;
        size_t vl;
        if (rmq_msg_props_find(c.props, c.props_len, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, &v, &vl)) {
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(vl < 31 ? vl : 31), v);
            found = strtoll(tmp, NULL, 10) == origin;
        } else {
            found = c.prepared_transaction_offset == origin_clog;
        }
    }
    rmq_store_query_result_release(&qr);
    return found;
}

static void ensure_check_max_topic(rmq_broker_t *b)
{
    if (rmq_topic_get(&b->topics, RMQ_TRANS_CHECK_MAX_TOPIC))
        return;
    rmq_topic_config_t tc = {
        (char *)RMQ_TRANS_CHECK_MAX_TOPIC, 1, 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
    rmq_topic_put(&b->topics, &tc);
    rmq_broker_topics_changed(b);
}

static void note_append(rmq_txn_t *t, const rmq_put_result_t *res, int64_t *needs)
{
    int64_t end = res->wrote_offset + res->wrote_bytes;
    if (end > *needs)
        *needs = end;
}

void rmq_txn_check_pass(rmq_txn_t *t, bool new_pass, bool *more)
{
    rmq_broker_t *b = t->b;
    rmq_store_t *s = b->store;
    *more = false;
    commit_progress(t);
    int64_t begin_us = rmq_mono_us(), begin_cpu = cpu_us();
    if (new_pass)
        t->pass_start = rmq_now_ms();
    int64_t start = t->pass_start;
    int64_t min = rmq_store_get_min_offset_in_queue(s, RMQ_TRANS_HALF_TOPIC, 0);
    int64_t max = rmq_store_get_max_offset_in_queue(s, RMQ_TRANS_HALF_TOPIC, 0);
    if (t->progress < 0) {
        t->progress = rmq_offset_query(&b->offsets, RMQ_TRANS_GROUP, RMQ_TRANS_HALF_TOPIC, 0);
        if (t->progress < 0)
            t->progress = min;
    }
    if (t->progress < min)
        t->progress = min;
    int64_t timeout = b->conf.transactionTimeOut;
    int64_t reserved_ms = (int64_t)b->store_conf.fileReservedTime * 3600 * 1000;
    int64_t needs = -1;
    int64_t i = t->progress;
    int done = 0;
    for (; i < max; i++, done++) {
        if (done >= SLICE_MSGS || rmq_mono_us() - begin_us > SLICE_MS * 1000) {
            *more = true;
            break;
        }
        rmq_txn_rec_t r;
        if (!rmq_txn_read(t, RMQ_TRANS_HALF_TOPIC, i, &r))
            continue; /* removed by retention, or not a record: nothing to check */
        int64_t origin = rmq_txn_origin(&r);
        if (rmq_txn_table_get(&t->ended, origin)) {
            rmq_txn_rec_release(&r);
            continue;
        }
        int64_t now = rmq_now_ms();
        int64_t age = now - r.rec.born_timestamp;
        int64_t times = rmq_txn_prop_i64(&r.props, RMQ_PROP_TRANSACTION_CHECK_TIMES, 0);
        rmq_put_result_t res;
        if (times >= b->conf.transactionCheckMax || age > reserved_ms) {
            /* resolveDiscardMsg */
            ensure_check_max_topic(b);
            if (rmq_txn_put_from(t, &r, RMQ_TRANS_CHECK_MAX_TOPIC, 0, &r.props, r.rec.sys_flag, 0, &res) !=
                RMQ_PUT_OK) {
                rmq_txn_rec_release(&r);
                break; /* try again next pass */
            }
            note_append(t, &res, &needs);
            t->st.discarded++;
            rmq_log(RMQ_LOG_WARN, FAC,
                    "half message %" PRId64 " (origin %" PRId64 ", group %s, topic %s) checked %" PRId64
                    " times: moved to %s",
                    i, origin, rmq_msg_props_get(&r.props, RMQ_PROP_PGROUP) ?: "?",
                    rmq_msg_props_get(&r.props, RMQ_PROP_REAL_TOPIC) ?: "?", times,
                    RMQ_TRANS_CHECK_MAX_TOPIC);
            rmq_txn_rec_release(&r);
            continue;
        }
        if (r.rec.store_timestamp >= start) {
            rmq_txn_rec_release(&r);
            break;
        }
        int64_t immunity = timeout;
        int64_t imm = rmq_txn_prop_i64(&r.props, RMQ_PROP_CHECK_IMMUNITY_TIME, -2);
        if (imm != -2)
            immunity = imm < 0 || imm > INT64_MAX / 1000 ? timeout : imm * 1000;
        if (age >= 0 && age < immunity) {
            if (imm == -2) {
                rmq_txn_rec_release(&r);
                break; /* later ones are younger */
            }
            /* its own immunity: park a copy at the end so it does not hold
             * back the messages behind it (putImmunityMsgBackToHalfQueue) */
            rmq_msg_props_t p;
            rmq_msg_props_init(&p);
            rmq_msg_props_parse(&p, r.rec.props, r.rec.props_len);
            char o[32];
            snprintf(o, sizeof(o), "%" PRId64, origin);
            rmq_msg_props_set(&p, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, o);
            rmq_put_status_t st =
                rmq_txn_put_from(t, &r, RMQ_TRANS_HALF_TOPIC, 0, &p, r.rec.sys_flag, 0, &res);
            rmq_msg_props_free(&p);
            rmq_txn_rec_release(&r);
            if (st != RMQ_PUT_OK)
                break;
            note_append(t, &res, &needs);
            continue;
        }
        if ((origin < t->boot_half_max || t->op_failures) && committed_before(t, &r, origin)) {
            if (!rmq_txn_put_op(t, &r, RMQ_TXN_COMMITTED)) {
                rmq_txn_rec_release(&r);
                break;
            }
            t->st.recovered_commits++;
            rmq_log(RMQ_LOG_WARN, FAC,
                    "origin %" PRId64
                    " was committed but had no op record (crash between the two): op written",
                    origin);
            rmq_txn_rec_release(&r);
            continue;
        }
        /* putBackHalfMsgQueue + resolveHalfMsg */
        rmq_msg_props_t p;
        rmq_msg_props_init(&p);
        rmq_msg_props_parse(&p, r.rec.props, r.rec.props_len);
        char v[32];
        snprintf(v, sizeof(v), "%" PRId64, times + 1);
        rmq_msg_props_set(&p, RMQ_PROP_TRANSACTION_CHECK_TIMES, v);
        snprintf(v, sizeof(v), "%" PRId64, origin);
        rmq_msg_props_set(&p, RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET, v);
        rmq_put_status_t st = rmq_txn_put_from(t, &r, RMQ_TRANS_HALF_TOPIC, 0, &p, r.rec.sys_flag, 0, &res);
        if (st != RMQ_PUT_OK) {
            rmq_msg_props_free(&p);
            rmq_txn_rec_release(&r);
            break;
        }
        note_append(t, &res, &needs);
        const char *group = rmq_msg_props_get(&p, RMQ_PROP_PGROUP);
        rmq_conn_t *conn = group ? producer_channel(t, group) : NULL;
        if (conn) {
            send_check(t, conn, &r, &p, &res);
            t->st.checks_sent++;
            rmq_log(RMQ_LOG_DEBUG, FAC,
                    "check %" PRId64 " of origin %" PRId64 " (copy %" PRId64 ") sent to %s", times + 1,
                    origin, res.queue_offset, rmq_conn_peer(conn));
        } else {
            t->st.checks_no_producer++;
            rmq_log(RMQ_LOG_WARN, FAC,
                    "Check transaction failed, channel is null. groupId=%s (origin %" PRId64 ")",
                    group ? group : "(none)", origin);
        }
        rmq_msg_props_free(&p);
        rmq_txn_rec_release(&r);
    }
    if (i != t->progress) {
        t->progress = i;
        t->cand_offset = i;
        if (needs > t->cand_needs_flush)
            t->cand_needs_flush = needs;
        commit_progress(t);
    }
    if (!*more)
        rmq_txn_prune(t);
    t->st.check_runs++;
    t->st.check_us += cpu_us() - begin_cpu;
}

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rmq_txn_t *t = arg;
    rmq_broker_t *b = t->b;
    if (b->is_slave || b->shutting_down)
        return;
    bool more = false;
    int64_t now = rmq_mono_ms();
    if (now >= t->next_pass || t->in_pass) {
        rmq_txn_check_pass(t, !t->in_pass, &more);
        t->in_pass = more;
        if (!more)
            t->next_pass = now + b->conf.transactionCheckInterval;
    } else {
        commit_progress(t);
    }
    int64_t wait = more ? 1 : t->next_pass - rmq_mono_ms();
    if (t->cand_offset >= 0 && wait > FLUSH_WAIT_MS)
        wait = FLUSH_WAIT_MS;
    arm(t, wait < 1 ? 1 : wait);
}

void rmq_txn_check_start(rmq_txn_t *t)
{
    t->ev_check = evtimer_new(t->b->base, check_cb, t);
    t->next_pass = rmq_mono_ms() + t->b->conf.transactionCheckInterval;
    arm(t, t->b->conf.transactionCheckInterval);
}

void rmq_txn_check_stop(rmq_txn_t *t)
{
    rmq_event_clear(&t->ev_check);
    /* shutdown: the store flushes everything before the offsets are saved */
    if (t->cand_offset >= 0)
        rmq_offset_commit(&t->b->offsets, RMQ_TRANS_GROUP, RMQ_TRANS_HALF_TOPIC, 0, t->cand_offset);
    t->cand_offset = -1;
}
