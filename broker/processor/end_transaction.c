/* processor/end_transaction.c - END_TRANSACTION (37), as
 * EndTransactionProcessor: header checks, the slave refusal, UNKNOWN
 * answers logged and dropped; the commit / rollback itself is
 * transaction/transaction.c. Also Comet's COMET_GET_PENDING_TRANSACTIONS
 * (4037, mqadmin pendingTransactions).
 * SYNC_MASTER: a two-way END_TRANSACTION (clients send it oneway) is
 * answered once a slave holds the final message and the op record. Java
 * answers at once (its final message does not wait for the slave); the code
 * stays Java's: SUCCESS also when the slave did not acknowledge, which the
 * remark then names (FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE).
 * Thread: io.
 * Never: answers a oneway request, or changes anything for a request it
 * refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "request.h"
#include "ha/ha.h"
#include "processor/processor.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "transaction/transaction.h"

#define FAC "transaction"

/* An END_TRANSACTION waiting for a SYNC_MASTER's slave. */
typedef struct {
    rmq_broker_t *b;
    rmq_conn_t *conn;
    int32_t opaque;
    uint8_t serialize;
    char remark[512];
} end_wait_t;

static void reply(rmq_conn_t *conn, int32_t opaque, uint8_t serialize, int code, const char *remark)
{
    rmq_cmd_t shell, resp;
    rmq_cmd_init(&shell);
    shell.opaque = opaque;
    shell.serialize = serialize;
    rmq_broker_resp(&resp, &shell, code, remark && *remark ? remark : NULL);
    rmq_conn_reply_to(conn, opaque, serialize, &resp);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&shell);
}

/* @thread io */
static void end_replicated(void *arg, rmq_put_status_t st)
{
    end_wait_t *w = arg;
    w->b->pending_sends--;
    if (st != RMQ_PUT_OK && !w->remark[0])
        snprintf(w->remark, sizeof(w->remark), "%s: stored on the master, not acknowledged by a slave",
                 rmq_put_status_name(st));
    if (!rmq_conn_is_closed(w->conn))
        reply(w->conn, w->opaque, w->serialize, RMQ_OK, w->remark);
    rmq_conn_release(w->conn);
    free(w);
}

/* An END_TRANSACTION header: decodeCommandCustomHeader, then
 * EndTransactionRequestHeader.checkFields. False once the error reply is
 * sent. */
typedef struct {
    const char *group, *msg_id;
    int64_t tran_offset, clog_offset;
    int32_t state;
    bool from_check;
} end_hdr_t;

static bool end_hdr_decode(rmq_conn_t *conn, const rmq_cmd_t *req, end_hdr_t *e)
{
    rmq_hdr_t h;
    if (!rmq_req_decode(conn, req, RMQ_HDR_END_TRANSACTION, true, &h))
        return false;
    const char *msg_id = rmq_hdr_str(&h, RMQ_F_END_TRANSACTION_msgId);
    *e = (end_hdr_t){.group = rmq_hdr_str(&h, RMQ_F_END_TRANSACTION_producerGroup),
                     .msg_id = msg_id ? msg_id : "(none)",
                     .tran_offset = rmq_hdr_i64(&h, RMQ_F_END_TRANSACTION_tranStateTableOffset),
                     .clog_offset = rmq_hdr_i64(&h, RMQ_F_END_TRANSACTION_commitLogOffset),
                     .state = rmq_hdr_i32(&h, RMQ_F_END_TRANSACTION_commitOrRollback),
                     .from_check = rmq_hdr_bool(&h, RMQ_F_END_TRANSACTION_fromTransactionCheck)};
    if (e->state != RMQ_SYSFLAG_TRANSACTION_NOT_TYPE && e->state != RMQ_SYSFLAG_TRANSACTION_COMMIT &&
        e->state != RMQ_SYSFLAG_TRANSACTION_ROLLBACK) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "commitOrRollback field wrong");
        return false;
    }
    return true;
}

static void on_end_transaction(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    end_hdr_t e;
    if (!end_hdr_decode(conn, req, &e))
        return;
    if (b->is_slave) {
        rmq_log(RMQ_LOG_WARN, FAC, "Message store is slave mode, so end transaction is forbidden. (from %s)",
                rmq_conn_peer(conn));
        rmq_broker_reply_err(conn, req, RMQ_ERR_SLAVE_NOT_AVAILABLE,
                             "the broker[%s] is a slave: end transaction is forbidden", b->conf.brokerName);
        return;
    }
    if (e.state == RMQ_SYSFLAG_TRANSACTION_NOT_TYPE) {
        /* Java returns no response at all for a pending state */
        rmq_log(RMQ_LOG_WARN, FAC,
                "%s[%s] transaction state unknown (group %s, msgId %s, offset %lld). Remark: %s",
                e.from_check ? "Check producer" : "The producer", rmq_conn_peer(conn), e.group, e.msg_id,
                (long long)e.tran_offset, req->remark ? req->remark : "");
        return;
    }
    if (e.state == RMQ_SYSFLAG_TRANSACTION_ROLLBACK || e.from_check)
        rmq_log(RMQ_LOG_INFO, FAC, "%s[%s] %s msgId %s (group %s, offset %lld)%s%s",
                e.from_check ? "Check producer" : "The producer", rmq_conn_peer(conn),
                e.state == RMQ_SYSFLAG_TRANSACTION_COMMIT ? "commits" : "rolls back", e.msg_id, e.group,
                (long long)e.tran_offset, req->remark ? ". Remark: " : "", req->remark ? req->remark : "");
    char remark[512];
    int code = rmq_txn_end(b->txn, e.group, e.tran_offset, e.clog_offset, e.state, e.from_check, remark,
                           sizeof(remark));
    if (code == RMQ_OK && !rmq_cmd_is_oneway(req)) {
        end_wait_t *w = rmq_malloc(sizeof(*w));
        *w = (end_wait_t){.b = b, .conn = conn, .opaque = req->opaque, .serialize = req->serialize};
        snprintf(w->remark, sizeof(w->remark), "%s", remark);
        /* the I/O thread is the only writer: the log's end is the op record's */
        rmq_put_status_t st;
        if (rmq_ha_wait(b->ha, rmq_store_get_commitlog_max_offset(b->store), end_replicated, w, &st)) {
            rmq_conn_hold(conn);
            b->pending_sends++;
            return;
        }
        if (st != RMQ_PUT_OK && !remark[0])
            snprintf(remark, sizeof(remark), "%s: stored on the master, not acknowledged by a slave",
                     rmq_put_status_name(st));
        free(w);
    }
    if (code == RMQ_OK && !remark[0])
        rmq_broker_reply_ok(conn, req);
    else /* an error, or a repeat (SUCCESS with a remark saying so) */
        rmq_broker_reply_err(conn, req, code, "%s", remark);
}

static void on_pending(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_broker_t *b = ctx;
    const char *group = rmq_cmd_ext(req, "producerGroup");
    if (group && !*group)
        group = NULL;
    int64_t count, oldest;
    rmq_txn_pending(b->txn, group, &count, &oldest);
    rmq_txn_stats_t st;
    rmq_txn_get_stats(b->txn, &st);
    int64_t now = rmq_now_ms();
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_jw_t w;
    rmq_jw_init_obj(&w, &body);
    rmq_jw_kint(&w, "checkRuns", st.check_runs);
    rmq_jw_kint(&w, "checkMicros", st.check_us);
    rmq_jw_kint(&w, "checksSent", st.checks_sent);
    rmq_jw_kint(&w, "commits", st.commits);
    rmq_jw_kint(&w, "count", count);
    rmq_jw_kint(&w, "discarded", st.discarded);
    rmq_jw_kint(&w, "oldestAgeMillis", oldest < 0 ? -1 : now - oldest);
    rmq_jw_kint(&w, "oldestBornTimestamp", oldest);
    rmq_jw_kint(&w, "rollbacks", st.rollbacks);
    rmq_jw_obj_end(&w);
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_cmd_set_body(&resp, body.data, body.len);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
    rmq_buf_free(&body);
}

void rmq_proc_end_transaction_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_END_TRANSACTION, on_end_transaction, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_COMET_GET_PENDING_TRANSACTIONS, on_pending, b);
}
