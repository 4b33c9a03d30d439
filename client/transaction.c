/* transaction.c - the transactional side of a producer
 * (TransactionMQProducer / DefaultMQProducerImpl.sendMessageInTransaction,
 * endTransaction, checkTransactionState; ClientRemotingProcessor's
 * CHECK_TRANSACTION_STATE).
 *
 * Threads: comet_producer_send_in_transaction runs on the caller's thread
 * (half send, execute callback, END_TRANSACTION queued oneway). A
 * CHECK_TRANSACTION_STATE arrives on the I/O thread, which only decodes it;
 * the check callback and the END_TRANSACTION answer run on the callback
 * thread.
 * Never: runs an application callback on the I/O thread, or answers a check
 * for another producer group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_codes.h"
#include "rmq_log.h"

#define FAC "transaction"

static const char *const txn_state_names[] = {
    [COMET_TXN_UNKNOWN] = "UNKNOW", /* sic: LocalTransactionState.UNKNOW */
    [COMET_TXN_COMMIT] = "COMMIT_MESSAGE",
    [COMET_TXN_ROLLBACK] = "ROLLBACK_MESSAGE",
};
_Static_assert(CM_NAMES_LEN(txn_state_names) == COMET_TXN_ROLLBACK + 1, "a name for every comet_txn_state_t");

const char *comet_txn_state_name(comet_txn_state_t st)
{
    return cm_enum_name(txn_state_names, CM_NAMES_LEN(txn_state_names), (int)st, "?");
}

void comet_conf_set_transaction_listener(comet_conf_t *conf, comet_txn_execute_cb_t *execute,
                                         comet_txn_check_cb_t *check)
{
    if (!conf)
        return;
    conf->txn_execute_cb = execute;
    conf->txn_check_cb = check;
}

static int sysflag_of(comet_txn_state_t st)
{
    return st == COMET_TXN_COMMIT     ? RMQ_SYSFLAG_TRANSACTION_COMMIT
           : st == COMET_TXN_ROLLBACK ? RMQ_SYSFLAG_TRANSACTION_ROLLBACK
                                      : RMQ_SYSFLAG_TRANSACTION_NOT_TYPE;
}

rmq_cmd_t *cm_end_txn_cmd_new(const char *group, const char *bname, int64_t clog_offset, const char *msg_id,
                              int64_t tran_offset, int commit_or_rollback, const char *transaction_id,
                              bool from_check, const char *remark)
{
    /* extFields in the order Java's HashMap iterates them (bucket order of
     * the field names): producerGroup, bname, commitLogOffset, msgId,
     * tranStateTableOffset, commitOrRollback, transactionId,
     * fromTransactionCheck; absent (null) fields are not sent */
    rmq_cmd_t *c = rmq_cmd_new();
    rmq_cmd_init_request(c, RMQ_REQ_END_TRANSACTION);
    rmq_cmd_set_ext(c, "producerGroup", group);
    if (bname)
        rmq_cmd_set_ext(c, "bname", bname);
    cm_set_ext_i64(c, "commitLogOffset", clog_offset);
    if (msg_id)
        rmq_cmd_set_ext(c, "msgId", msg_id);
    cm_set_ext_i64(c, "tranStateTableOffset", tran_offset);
    cm_set_ext_i64(c, "commitOrRollback", commit_or_rollback);
    if (transaction_id)
        rmq_cmd_set_ext(c, "transactionId", transaction_id);
    rmq_cmd_set_ext(c, "fromTransactionCheck", from_check ? "true" : "false");
    if (remark)
        rmq_cmd_set_remark(c, "%s", remark);
    return c;
}

comet_err_t comet_producer_send_in_transaction(comet_producer_t *p, const comet_message_t *msg, void *arg,
                                               comet_send_result_t *res, comet_txn_state_t *state,
                                               int timeout_ms)
{
    comet_send_result_t local;
    if (!res)
        res = &local;
    memset(res, 0, sizeof(*res));
    if (state)
        *state = COMET_TXN_UNKNOWN;
    if (!p || !msg) {
        res->err = COMET_ERR__INVALID_ARG;
        return res->err;
    }
    const comet_conf_t *conf = cm_producer_conf(p);
    if (!conf->txn_execute_cb) {
        res->err = COMET_ERR__INVALID_ARG;
        snprintf(
            res->errstr, sizeof(res->errstr),
            "no transaction listener: comet_conf_set_transaction_listener() before comet_producer_new()");
        return res->err;
    }
    /* a copy with TRAN_MSG / PGROUP, without DELAY (Java ignores the level) */
    comet_message_t half = *msg;
    rmq_msg_props_init(&half.props);
    for (size_t i = 0; i < msg->props.n; i++)
        rmq_msg_props_set(&half.props, msg->props.items[i].key, msg->props.items[i].value);
    rmq_msg_props_del(&half.props, RMQ_PROP_DELAY);
    rmq_msg_props_set(&half.props, RMQ_PROP_TRAN_MSG, "true");
    rmq_msg_props_set(&half.props, "PGROUP", conf->s.producerGroup);
    half.body_owned = false;
    comet_err_t e = comet_producer_send(p, &half, res, timeout_ms);
    rmq_msg_props_free(&half.props);
    if (e)
        return e;
    /* the broker checks back through a producer channel it knows from a
     * heartbeat: make sure the broker that took the half message has one */
    cm_producer_txn_heartbeat_once(p);
    comet_txn_state_t st = COMET_TXN_UNKNOWN;
    if (res->status == COMET_SEND_OK)
        st = conf->txn_execute_cb(p, msg, res, arg, conf->opaque);
    else
        st = COMET_TXN_ROLLBACK; /* FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE */
    if (st != COMET_TXN_COMMIT && st != COMET_TXN_ROLLBACK)
        st = COMET_TXN_UNKNOWN;
    if (state)
        *state = st;
    /* endTransaction: oneway to the master of the broker that stored it */
    rmq_msg_host_t host;
    int64_t clog = -1;
    cm_instance_t *inst = cm_producer_instance(p);
    if (rmq_msg_id_parse(res->offset_msg_id, strlen(res->offset_msg_id), &host, &clog) != RMQ_OK) {
        cm_log(inst, RMQ_LOG_WARN, FAC,
               "half message %s: unparsable offset msgId '%s'; END_TRANSACTION not sent", res->msg_id,
               res->offset_msg_id);
        return COMET_ERR_NO_ERROR;
    }
    char addr[256];
    if (!cm_broker_master_addr(inst, res->queue.broker_name, addr, sizeof(addr))) {
        cm_log(inst, RMQ_LOG_WARN, FAC,
               "no master address for %s: END_TRANSACTION for %s not sent (check-back decides)",
               res->queue.broker_name, res->msg_id);
        return COMET_ERR_NO_ERROR;
    }
    rmq_cmd_t *req = cm_end_txn_cmd_new(conf->s.producerGroup, res->queue.broker_name, clog, res->msg_id,
                                        res->queue_offset, sysflag_of(st), NULL, false, NULL);
    cm_oneway(inst, addr, req);
    return COMET_ERR_NO_ERROR;
}

/* ---- check-back ---- */

typedef struct check_job_s {
    comet_producer_t *p;
    comet_message_ext_t *msg;
    char addr[256];
    int64_t tran_offset, clog_offset;
    char *transaction_id;
} check_job_t;

static void run_check(void *arg)
{
    check_job_t *j = arg;
    const comet_conf_t *conf = cm_producer_conf(j->p);
    comet_txn_state_t st = conf->txn_check_cb(j->p, j->msg, conf->opaque);
    if (st != COMET_TXN_COMMIT && st != COMET_TXN_ROLLBACK)
        st = COMET_TXN_UNKNOWN;
    if (st != COMET_TXN_COMMIT)
        rmq_log(RMQ_LOG_INFO, FAC, "when broker check, client answers %s for %s", comet_txn_state_name(st),
                comet_message_ext_msg_id(j->msg));
    const char *uniq = comet_message_ext_property(j->msg, RMQ_PROP_UNIQ_KEY);
    rmq_cmd_t *req =
        cm_end_txn_cmd_new(conf->s.producerGroup, NULL, j->clog_offset, uniq ? uniq : j->msg->offset_msg_id,
                           j->tran_offset, sysflag_of(st), j->transaction_id, true, NULL);
    cm_oneway(cm_producer_instance(j->p), j->addr, req);
    comet_message_ext_destroy(j->msg);
    free(j->transaction_id);
    free(j);
}

void cm_txn_on_check(void *producer, const rmq_cmd_t *req, const char *peer)
{
    comet_producer_t *p = producer;
    const comet_conf_t *conf = cm_producer_conf(p);
    int64_t tran_offset, clog_offset;
    if (rmq_cmd_ext_i64(req, "tranStateTableOffset", &tran_offset) != RMQ_OK ||
        rmq_cmd_ext_i64(req, "commitLogOffset", &clog_offset) != RMQ_OK) {
        rmq_log(RMQ_LOG_WARN, FAC, "CHECK_TRANSACTION_STATE from %s without offsets: ignored", peer);
        return;
    }
    rmq_msg_rec_t rec;
    size_t used;
    if (!req->body_len || rmq_msg_decode_lenient(req->body, req->body_len, false, &rec, &used) != RMQ_OK) {
        rmq_log(RMQ_LOG_WARN, FAC, "checkTransactionState, decode message failed (from %s)", peer);
        return;
    }
    const char *group = NULL;
    size_t gl = 0;
    if (!rmq_msg_props_find(rec.props, rec.props_len, "PGROUP", &group, &gl)) {
        rmq_log(RMQ_LOG_WARN, FAC, "checkTransactionState, pick producer group failed (from %s)", peer);
        return;
    }
    if (strlen(conf->s.producerGroup) != gl || memcmp(group, conf->s.producerGroup, gl) != 0) {
        rmq_log(RMQ_LOG_WARN, FAC, "checkTransactionState for group %.*s: this producer is %s; ignored",
                (int)gl, group, conf->s.producerGroup);
        return;
    }
    if (!conf->txn_check_cb) {
        rmq_log(RMQ_LOG_WARN, FAC, "CheckTransactionState, pick transactionCheckListener by group[%s] failed",
                conf->s.producerGroup);
        return;
    }
    check_job_t *j = rmq_calloc(1, sizeof(*j));
    j->msg = cm_message_ext_from_rec(&rec, "");
    if (!j->msg) {
        rmq_log(RMQ_LOG_WARN, FAC, "checkTransactionState from %s: message not decodable; ignored", peer);
        free(j);
        return;
    }
    j->p = p;
    snprintf(j->addr, sizeof(j->addr), "%s", peer);
    j->tran_offset = tran_offset;
    j->clog_offset = clog_offset;
    const char *tid = rmq_cmd_ext(req, "transactionId");
    j->transaction_id = tid ? rmq_strdup(tid) : NULL;
    cm_post_callback(cm_producer_instance(p), run_check, j);
}
