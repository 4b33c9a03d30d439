/* transaction.h - transactional messages on the broker (RocketMQ's
 * TransactionalMessageBridge / TransactionalMessageServiceImpl /
 * EndTransactionProcessor core / TransactionalMessageCheckService).
 *
 * Storage is RocketMQ's: half messages in RMQ_SYS_TRANS_HALF_TOPIC queue 0
 * (REAL_TOPIC / REAL_QID kept in their properties), one op record per ended
 * transaction in RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0 (tags "d", body = the
 * half queue offset as decimal text), the check service's progress as the
 * committed offset of group CID_RMQ_SYS_TRANS on the half queue.
 *
 * A transaction is identified by its *origin*: the half queue offset of the
 * message the producer sent. Each check-back re-appends a copy of the half
 * message (as Java does, so the check count is durable) carrying
 * TRAN_PREPARED_QUEUE_OFFSET = origin; every op record carries it too. An
 * in-memory table origin -> outcome (rebuilt from the op queue at start)
 * makes END_TRANSACTION idempotent across copies: the first end wins, a
 * repeat changes nothing.
 *
 * @thread io (everything; reads are mapped-memory lookups and appends are
 * the store's usual memcpy, so nothing here blocks). */
#ifndef RMQ_TRANSACTION_H
#define RMQ_TRANSACTION_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_cmd.h"
#include "rmq_conn.h"
#include "rmq_msg_codec.h"

#define RMQ_TRANS_HALF_TOPIC "RMQ_SYS_TRANS_HALF_TOPIC"
#define RMQ_TRANS_OP_TOPIC "RMQ_SYS_TRANS_OP_HALF_TOPIC"
#define RMQ_TRANS_CHECK_MAX_TOPIC "TRANS_CHECK_MAX_TIME_TOPIC"
#define RMQ_TRANS_GROUP "CID_RMQ_SYS_TRANS"
#define RMQ_TRANS_REMOVE_TAG "d"
#define RMQ_PROP_PGROUP "PGROUP"
#define RMQ_PROP_TRAN_PREPARED_QUEUE_OFFSET "TRAN_PREPARED_QUEUE_OFFSET"
#define RMQ_PROP_TRANSACTION_CHECK_TIMES "TRANSACTION_CHECK_TIMES"
#define RMQ_PROP_CHECK_IMMUNITY_TIME "CHECK_IMMUNITY_TIME_IN_SECONDS"
/* Comet: outcome written into op records ("COMMIT" / "ROLLBACK"). Java's
 * reader only looks at an op record's tags and body. */
#define RMQ_PROP_TRAN_END_STATE "TRAN_END_STATE"

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_txn_s rmq_txn_t;

/* Outcomes kept per origin. */
#define RMQ_TXN_COMMITTED 1
#define RMQ_TXN_ROLLED_BACK 2
#define RMQ_TXN_ENDED 3 /* an op record written by another broker: outcome unknown */

typedef struct rmq_txn_stats_s {
    int64_t half_puts, commits, rollbacks, repeats, refused;
    int64_t checks_sent, checks_no_producer, discarded, recovered_commits;
    int64_t check_runs, check_us; /* slices run; CPU time spent in them */
} rmq_txn_stats_t;

rmq_txn_t *rmq_txn_new(rmq_broker_t *b);
/* Rebuild the outcome table from the op queue (after the store opened). */
void rmq_txn_load(rmq_txn_t *t);
/* Start the check timer (a master only; a slave never checks). */
void rmq_txn_start(rmq_txn_t *t);
void rmq_txn_destroy(rmq_txn_t *t);

/* Send path. True when the message is a half message (TRAN_MSG true by
 * Boolean.parseBoolean, or the PREPARED sysFlag: Java stores a PREPARED-only
 * record in the real topic where nothing can ever end it; Comet makes it a
 * half message). */
bool rmq_txn_is_half(const rmq_msg_props_t *props, int32_t sys_flag);
/* parseHalfMessageInner: REAL_TOPIC / REAL_QID into props, topic <- the half
 * topic, queue 0, transaction bits of sys_flag cleared. */
void rmq_txn_to_half(rmq_txn_t *t, rmq_msg_props_t *props, const char **topic, int32_t *queue_id,
                     int32_t *sys_flag);

/* END_TRANSACTION after header parsing: state is 8 (commit) or 12
 * (rollback). Returns a response code (RMQ_OK on success or on a repeat of
 * the same outcome) with the remark in remark. Changes nothing unless the
 * half message at clog_offset matches group and tran_offset. */
int rmq_txn_end(rmq_txn_t *t, const char *group, int64_t tran_offset, int64_t clog_offset, int state,
                bool from_check, char *remark, size_t remark_size);

/* CHECK_TRANSACTION_STATE's header as Broker2Client writes it: the fields
 * of CheckTransactionStateRequestHeader in Java's HashMap order
 * (commitLogOffset, msgId, tranStateTableOffset, offsetMsgId,
 * transactionId), msgId = transactionId = UNIQ_KEY (absent when NULL),
 * oneway. The caller sets the body and deinits. */
void rmq_txn_check_cmd_init(rmq_cmd_t *req, int64_t clog_offset, const char *uniq, int64_t tran_offset,
                            const char *offset_msg_id);

/* Pending half messages of a group (NULL = all): count and the oldest born
 * timestamp (-1 when none). Scans the unchecked part of the half queue. */
void rmq_txn_pending(rmq_txn_t *t, const char *group, int64_t *count, int64_t *oldest_born);
void rmq_txn_get_stats(rmq_txn_t *t, rmq_txn_stats_t *st);

#endif
