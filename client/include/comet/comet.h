/* comet.h - libcomet, the Comet RocketMQ 4.x client library for C and C++.
 *
 * This is the only public header. Shape (docs/design.md §6): librdkafka's
 * skeleton with RocketMQ's vocabulary and the Java client's property names.
 *
 *  - A configuration object (comet_conf_t) set with Java's property names
 *    ("namesrvAddr", "producerGroup", "sendMsgTimeout", ...). A handle
 *    constructor (comet_producer_new, ...) takes ownership of the conf
 *    *on success only*; on failure the caller still owns it.
 *  - Opaque handles: comet_producer_t, comet_push_consumer_t,
 *    comet_pull_consumer_t. Each has _start, _shutdown and _destroy;
 *    _destroy also shuts the handle down; _destroy(NULL) is a no-op.
 *  - One error enum, comet_err_t: 0 is success, positive values are
 *    RocketMQ response codes verbatim, negative COMET_ERR__* values are local.
 *    comet_err2str()/comet_err2name() never return NULL.
 *  - Functions that can fail for a reason a person must read take
 *    `char *errstr, size_t errstr_size`.
 *  - Callbacks carry a user pointer and document the thread they run on.
 *
 * Threads: every handle runs one internal I/O thread (network), one service
 * thread (route refresh, heartbeats, rebalance, offset persistence, queue
 * locks) and one callback thread (producer send results). Push consumers also
 * run a consume thread pool (consumeThreadMin threads). All public functions
 * are thread-safe unless noted. _shutdown and _destroy must not be called
 * from a callback of the same handle; a blocking send from a callback works
 * but holds up the callbacks queued behind it.
 *
 * Memory: like librdkafka, libcomet treats a failed allocation as fatal and
 * aborts the process (after logging the size); no function reports running
 * out of memory, and COMET_ERR__NOMEM is never returned (the value stays
 * for compatibility). Memory the library hands over (queue arrays, messages
 * from poll/dup) is released with free() or the matching _destroy().
 *
 * Not in this version: transactions, request/reply, ACL, SQL92 filters,
 * namespaces. */
#ifndef COMET_COMET_H
#define COMET_COMET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define COMET_EXPORT __attribute__((visibility("default")))
#else
#define COMET_EXPORT
#endif

#define COMET_VERSION_STR "0.1.0"
#define COMET_VERSION 0x000100 /* 0xMMmmpp */

/** Library version as text ("0.1.0"). */
COMET_EXPORT const char *comet_version_str(void);

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/** One error enum. Positive values are RocketMQ ResponseCode values as the
 *  broker sent them; negative COMET_ERR__* values are local conditions.
 *  Every value the library can return is listed (libcomet checks this list
 *  against its internal one when it is built). */
typedef enum comet_err_e {
    COMET_ERR__BEGIN = -100,
    COMET_ERR__IO = -99,        /**< a system call failed */
    COMET_ERR__NOMEM = -98,     /**< never returned: libcomet aborts when memory runs out (see Memory) */
    COMET_ERR__TIMED_OUT = -97, /**< the call's time budget ran out */
    COMET_ERR__AGAIN = -96,
    COMET_ERR__CORRUPT = -95, /**< undecodable bytes from a peer */
    COMET_ERR__INVALID_ARG = -94,
    COMET_ERR__TRANSPORT = -93, /**< connection failed or closed */
    COMET_ERR__DESTROY = -92,   /**< handle shut down while the call was pending */
    COMET_ERR__QUEUE_FULL = -91,
    COMET_ERR__NOENT = -90,
    COMET_ERR__TOO_LARGE = -89, /**< message larger than maxMessageSize */
    COMET_ERR__UNSUPPORTED = -88,
    COMET_ERR__STATE = -87,    /**< called in the wrong state (not started, ...) */
    COMET_ERR__NO_ROUTE = -86, /**< no route / no writable queue for the topic */
    COMET_ERR__DISK_FULL = -85,
    COMET_ERR__END = -84,

    COMET_ERR_NO_ERROR = 0,

    COMET_ERR_SYSTEM_ERROR = 1,
    COMET_ERR_SYSTEM_BUSY = 2,
    COMET_ERR_REQUEST_CODE_NOT_SUPPORTED = 3,
    COMET_ERR_TRANSACTION_FAILED = 4,
    COMET_ERR_FLUSH_DISK_TIMEOUT = 10,
    COMET_ERR_SLAVE_NOT_AVAILABLE = 11,
    COMET_ERR_FLUSH_SLAVE_TIMEOUT = 12,
    COMET_ERR_MESSAGE_ILLEGAL = 13,
    COMET_ERR_SERVICE_NOT_AVAILABLE = 14,
    COMET_ERR_VERSION_NOT_SUPPORTED = 15,
    COMET_ERR_NO_PERMISSION = 16,
    COMET_ERR_TOPIC_NOT_EXIST = 17,
    COMET_ERR_TOPIC_EXIST_ALREADY = 18,
    COMET_ERR_PULL_NOT_FOUND = 19,
    COMET_ERR_PULL_RETRY_IMMEDIATELY = 20,
    COMET_ERR_PULL_OFFSET_MOVED = 21,
    COMET_ERR_QUERY_NOT_FOUND = 22,
    COMET_ERR_SUBSCRIPTION_PARSE_FAILED = 23,
    COMET_ERR_SUBSCRIPTION_NOT_EXIST = 24,
    COMET_ERR_SUBSCRIPTION_NOT_LATEST = 25,
    COMET_ERR_SUBSCRIPTION_GROUP_NOT_EXIST = 26,
    COMET_ERR_FILTER_DATA_NOT_EXIST = 27,
    COMET_ERR_FILTER_DATA_NOT_LATEST = 28,
    COMET_ERR_TRANSACTION_SHOULD_COMMIT = 200,
    COMET_ERR_TRANSACTION_SHOULD_ROLLBACK = 201,
    COMET_ERR_TRANSACTION_STATE_UNKNOW = 202,
    COMET_ERR_TRANSACTION_STATE_GROUP_WRONG = 203,
    COMET_ERR_NO_BUYER_ID = 204,
    COMET_ERR_NOT_IN_CURRENT_UNIT = 205,
    COMET_ERR_CONSUMER_NOT_ONLINE = 206,
    COMET_ERR_CONSUME_MSG_TIMEOUT = 207,
    COMET_ERR_NO_MESSAGE = 208,
    COMET_ERR_FLOW_CONTROL = 215,
} comet_err_t;

/** Human-readable description of any error value (also unlisted response
 *  codes). Never NULL; static storage. */
COMET_EXPORT const char *comet_err2str(comet_err_t err);
/** Symbolic name, e.g. "_TIMED_OUT", "TOPIC_NOT_EXIST". Never NULL. */
COMET_EXPORT const char *comet_err2name(comet_err_t err);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

typedef struct comet_conf_s comet_conf_t;

typedef enum {
    COMET_CONF_UNKNOWN = -2, /**< no such property */
    COMET_CONF_INVALID = -1, /**< bad value (errstr says why) */
    COMET_CONF_OK = 0,
} comet_conf_res_t;

/** Log levels passed to the log callback (RocketMQ's logback levels). */
#define COMET_LOG_ERROR 0
#define COMET_LOG_WARN 1
#define COMET_LOG_INFO 2
#define COMET_LOG_DEBUG 3
#define COMET_LOG_TRACE 4

/** A new configuration with Java 4.9.8 defaults. */
COMET_EXPORT comet_conf_t *comet_conf_new(void);
COMET_EXPORT comet_conf_t *comet_conf_dup(const comet_conf_t *conf);
COMET_EXPORT void comet_conf_destroy(comet_conf_t *conf);

/** Set a property by its Java name, e.g. ("namesrvAddr", "127.0.0.1:9876;10.0.0.2:9876"),
 *  ("sendMsgTimeout", "3000"), ("messageModel", "BROADCASTING"). The full list with
 *  defaults is printed by comet_conf_properties_show(). */
COMET_EXPORT comet_conf_res_t comet_conf_set(comet_conf_t *conf, const char *name, const char *value,
                                             char *errstr, size_t errstr_size);
/** Current value as text into dest (dest_size bytes). COMET_CONF_INVALID if it does not fit. */
COMET_EXPORT comet_conf_res_t comet_conf_get(const comet_conf_t *conf, const char *name, char *dest,
                                             size_t dest_size);
/** Read a Java .properties file (same format as broker.conf). Unknown keys are logged and ignored. */
COMET_EXPORT comet_err_t comet_conf_load_file(comet_conf_t *conf, const char *path, char *errstr,
                                              size_t errstr_size);
/** Print every property with its default and description (Markdown table). */
COMET_EXPORT void comet_conf_properties_show(FILE *out);

/** Opaque passed to every callback of handles created from this conf. */
COMET_EXPORT void comet_conf_set_opaque(comet_conf_t *conf, void *opaque);

/** Log callback. Lines at or above property "logLevel" (default WARN) go to
 *  the callback, with the conf's opaque; without a callback they go to
 *  stderr. Callback, opaque and level belong to the handle made from this
 *  conf: two handles in one process never receive each other's lines.
 *  @thread any thread of the handle (and the application thread inside a
 *  library call); must not block or call back into the library. */
COMET_EXPORT void comet_conf_set_log_cb(comet_conf_t *conf,
                                        void (*log_cb)(void *opaque, int level, const char *facility,
                                                       const char *msg));

/* ------------------------------------------------------------------ */
/* Messages to send                                                    */
/* ------------------------------------------------------------------ */

typedef struct comet_message_s comet_message_t;

#define COMET_MSG_F_COPY 0x1 /**< the library copies the body */
#define COMET_MSG_F_FREE 0x2 /**< the message takes the body and free()s it */
/* With no flag the caller guarantees the body outlives the message. */

/** New message. topic must be non-empty. NULL on bad arguments. */
COMET_EXPORT comet_message_t *comet_message_new(const char *topic, const void *body, size_t len,
                                                int msgflags);
COMET_EXPORT void comet_message_destroy(comet_message_t *msg);
COMET_EXPORT comet_err_t comet_message_set_tags(comet_message_t *msg, const char *tags);
/** Keys separated by a single space ("k1 k2"); each is indexed by the broker. */
COMET_EXPORT comet_err_t comet_message_set_keys(comet_message_t *msg, const char *keys);
/** User property. Names must not contain 0x01/0x02. */
COMET_EXPORT comet_err_t comet_message_set_property(comet_message_t *msg, const char *name,
                                                    const char *value);
/** Delay level 1..18 ("1s 5s 10s 30s 1m ... 2h"); 0 = none. */
COMET_EXPORT comet_err_t comet_message_set_delay_level(comet_message_t *msg, int level);
/** User flag stored verbatim. */
COMET_EXPORT void comet_message_set_flag(comet_message_t *msg, int32_t flag);
/** Whether the broker waits for flush/replication before answering (property WAIT, default true). */
COMET_EXPORT void comet_message_set_wait_store_msg_ok(comet_message_t *msg, bool wait);
/** Borrowed getters, valid until the message is changed or destroyed. */
COMET_EXPORT const char *comet_message_topic(const comet_message_t *msg);
COMET_EXPORT const char *comet_message_property(const comet_message_t *msg, const char *name);
COMET_EXPORT const void *comet_message_body(const comet_message_t *msg, size_t *len);

/* ------------------------------------------------------------------ */
/* Received messages (read-only)                                       */
/* ------------------------------------------------------------------ */

typedef struct comet_message_ext_s comet_message_ext_t;

/** Getters return borrowed pointers valid for the life of the message ext.
 *  The topic is the original topic for retried messages (RETRY_TOPIC). */
COMET_EXPORT const char *comet_message_ext_topic(const comet_message_ext_t *m);
COMET_EXPORT const char *comet_message_ext_tags(const comet_message_ext_t *m); /**< NULL if none */
COMET_EXPORT const char *comet_message_ext_keys(const comet_message_ext_t *m); /**< NULL if none */
COMET_EXPORT const char *comet_message_ext_property(const comet_message_ext_t *m, const char *name);
/** Body (decompressed when the producer compressed it). A NUL byte follows
 *  the body (not counted in *len), so text bodies can be read as C strings. */
COMET_EXPORT const void *comet_message_ext_body(const comet_message_ext_t *m, size_t *len);
/** UNIQ_KEY when the producer set one, else the offset msgId (as Java getMsgId()). */
COMET_EXPORT const char *comet_message_ext_msg_id(const comet_message_ext_t *m);
/** Broker-side id: store host + commit-log offset (hex). */
COMET_EXPORT const char *comet_message_ext_offset_msg_id(const comet_message_ext_t *m);
COMET_EXPORT const char *comet_message_ext_broker_name(const comet_message_ext_t *m);
COMET_EXPORT int32_t comet_message_ext_queue_id(const comet_message_ext_t *m);
COMET_EXPORT int64_t comet_message_ext_queue_offset(const comet_message_ext_t *m);
COMET_EXPORT int64_t comet_message_ext_commitlog_offset(const comet_message_ext_t *m);
COMET_EXPORT int64_t comet_message_ext_born_timestamp(const comet_message_ext_t *m);
COMET_EXPORT int64_t comet_message_ext_store_timestamp(const comet_message_ext_t *m);
COMET_EXPORT int32_t comet_message_ext_reconsume_times(const comet_message_ext_t *m);
COMET_EXPORT int32_t comet_message_ext_flag(const comet_message_ext_t *m);
/** Keep a message beyond its callback: returns an owned copy. */
COMET_EXPORT comet_message_ext_t *comet_message_ext_dup(const comet_message_ext_t *m);
/** Free a message returned by comet_message_ext_dup() or comet_pull_consumer_poll(). */
COMET_EXPORT void comet_message_ext_destroy(comet_message_ext_t *m);

/* ------------------------------------------------------------------ */
/* Queues and send results                                             */
/* ------------------------------------------------------------------ */

#define COMET_NAME_MAX 256
#define COMET_MSGID_MAX 64

/** A message queue (MessageQueue): topic, broker name, queue id. */
typedef struct comet_message_queue_s {
    char topic[COMET_NAME_MAX];
    char broker_name[COMET_NAME_MAX];
    int32_t queue_id;
} comet_message_queue_t;

typedef enum {
    COMET_SEND_OK = 0,
    COMET_SEND_FLUSH_DISK_TIMEOUT = 1,
    COMET_SEND_FLUSH_SLAVE_TIMEOUT = 2,
    COMET_SEND_SLAVE_NOT_AVAILABLE = 3,
} comet_send_status_t;

typedef struct comet_send_result_s {
    comet_err_t err;                     /**< COMET_ERR_NO_ERROR when the broker stored the message(s) */
    comet_send_status_t status;          /**< meaningful when err == 0 */
    char msg_id[COMET_MSGID_MAX];        /**< UNIQ_KEY (first message of a batch) */
    char offset_msg_id[COMET_MSGID_MAX]; /**< broker offset id (first message of a batch) */
    comet_message_queue_t queue;         /**< queue the message went to */
    int64_t queue_offset;                /**< consume-queue offset (first of a batch) */
    int attempts;                        /**< number of attempts made */
    char errstr[256];                    /**< why, when err != 0 */
} comet_send_result_t;

COMET_EXPORT const char *comet_send_status_name(comet_send_status_t st);

/* ------------------------------------------------------------------ */
/* Producer                                                            */
/* ------------------------------------------------------------------ */

typedef struct comet_producer_s comet_producer_t;

/** Result of one comet_producer_send_async() call; exactly one per call.
 *  `res` is borrowed for the duration of the call.
 *  @thread the producer's callback thread (never the I/O thread, never under
 *  a library lock). It may call comet_producer_send_async(). */
typedef void(comet_send_cb_t)(comet_producer_t *p, const comet_send_result_t *res, void *msg_opaque,
                              void *opaque);

COMET_EXPORT void comet_conf_set_send_cb(comet_conf_t *conf, comet_send_cb_t *send_cb);

/** Queue selector for orderly sends: return an index in [0, queue_count).
 *  @thread the calling thread of comet_producer_send_orderly(). */
typedef int(comet_queue_select_cb_t)(int queue_count, const comet_message_t *msg, void *arg);

/** New producer. Takes `conf` on success. Properties used: namesrvAddr,
 *  producerGroup, sendMsgTimeout, retryTimesWhenSendFailed,
 *  retryTimesWhenSendAsyncFailed, retryAnotherBrokerWhenNotStoreOK,
 *  sendLatencyFaultEnable, compressMsgBodyOverHowmuch, maxMessageSize, ... */
COMET_EXPORT comet_producer_t *comet_producer_new(comet_conf_t *conf, char *errstr, size_t errstr_size);
/** Start the threads, heartbeats and route polling. */
COMET_EXPORT comet_err_t comet_producer_start(comet_producer_t *p, char *errstr, size_t errstr_size);
/** Synchronous send with retries on another broker (retryTimesWhenSendFailed).
 *  timeout_ms < 0 uses sendMsgTimeout; it covers all attempts. The message is
 *  serialized before the call returns; the caller keeps ownership. `res` may
 *  be NULL. Returns res->err. */
COMET_EXPORT comet_err_t comet_producer_send(comet_producer_t *p, const comet_message_t *msg,
                                             comet_send_result_t *res, int timeout_ms);
/** Asynchronous send; the result arrives at the send callback with msg_opaque.
 *  Transport failures are retried retryTimesWhenSendAsyncFailed times on the
 *  next queue. The first send to a topic blocks while its route is fetched
 *  (bounded by mqClientApiTimeout per name server). Returns an error (and no callback) only if the message
 * could not be queued: bad message, not started, or COMET_ERR__QUEUE_FULL when more than
 * "maxOutstandingAsync" sends are in flight. */
COMET_EXPORT comet_err_t comet_producer_send_async(comet_producer_t *p, const comet_message_t *msg,
                                                   void *msg_opaque);
/** Fire and forget: one attempt, no response; only local errors reported.
 *  Blocks (up to sendMsgTimeout, then COMET_ERR__QUEUE_FULL) while more than
 *  16 MiB of earlier oneway sends to that broker are still unsent. */
COMET_EXPORT comet_err_t comet_producer_send_oneway(comet_producer_t *p, const comet_message_t *msg);
/** Batch (SEND_BATCH_MESSAGE): all messages must have the same topic and no
 *  delay level; they land in one queue with consecutive offsets. Sync, with
 *  the same retries as comet_producer_send(). */
COMET_EXPORT comet_err_t comet_producer_send_batch(comet_producer_t *p, const comet_message_t *const *msgs,
                                                   size_t cnt, comet_send_result_t *res, int timeout_ms);
/** Orderly send: `select` picks the queue among the topic's writable queues
 *  (sorted by broker name, then queue id). No retry on another queue. */
COMET_EXPORT comet_err_t comet_producer_send_orderly(comet_producer_t *p, const comet_message_t *msg,
                                                     comet_queue_select_cb_t *select, void *arg,
                                                     comet_send_result_t *res, int timeout_ms);
/** Send to one given queue (no retry on another queue). */
COMET_EXPORT comet_err_t comet_producer_send_to_queue(comet_producer_t *p, const comet_message_t *msg,
                                                      const comet_message_queue_t *mq,
                                                      comet_send_result_t *res, int timeout_ms);
/** Writable queues of a topic, as the producer selects among them. *mqs is
 *  heap memory the caller free()s. */
COMET_EXPORT comet_err_t comet_producer_fetch_publish_queues(comet_producer_t *p, const char *topic,
                                                             comet_message_queue_t **mqs, size_t *cnt);
/** Async sends not yet reported to the send callback. */
COMET_EXPORT int comet_producer_outq_len(comet_producer_t *p);
/** Wait until every async send has been reported (COMET_ERR__TIMED_OUT otherwise). */
COMET_EXPORT comet_err_t comet_producer_flush(comet_producer_t *p, int timeout_ms);
/** Flush (up to sendMsgTimeout), unregister from the brokers, stop threads.
 *  Pending async sends are reported with COMET_ERR__DESTROY. */
COMET_EXPORT void comet_producer_shutdown(comet_producer_t *p);
COMET_EXPORT void comet_producer_destroy(comet_producer_t *p);

/* ------------------------------------------------------------------ */
/* Transactional producer (TransactionMQProducer)                      */
/* ------------------------------------------------------------------ */

/** What the application says about its local transaction
 *  (LocalTransactionState). */
typedef enum comet_txn_state_e {
    COMET_TXN_UNKNOWN = 0,  /**< not decided yet: the broker asks again later (check-back) */
    COMET_TXN_COMMIT = 1,   /**< deliver the message */
    COMET_TXN_ROLLBACK = 2, /**< drop it */
} comet_txn_state_t;

COMET_EXPORT const char *comet_txn_state_name(comet_txn_state_t st);

/** executeLocalTransaction: run the local transaction tied to the half
 *  message just stored (`half` has its ids) and say how it ended. `arg` is
 *  comet_producer_send_in_transaction()'s.
 *  @thread the thread calling comet_producer_send_in_transaction(). */
typedef comet_txn_state_t(comet_txn_execute_cb_t)(comet_producer_t *p, const comet_message_t *msg,
                                                  const comet_send_result_t *half, void *arg, void *opaque);
/** checkLocalTransaction: the broker asks about a half message still open
 *  after transactionTimeOut (the sender died, or said UNKNOWN). Look the
 *  transaction up by comet_message_ext_msg_id() (the transaction id) or a
 *  key/property of the message; answer COMMIT, ROLLBACK, or UNKNOWN (ask
 *  again later; after transactionCheckMax checks the broker gives up and
 *  moves the message to TRANS_CHECK_MAX_TIME_TOPIC). Any producer of the
 *  group may be asked, not only the sender.
 *  @thread the producer's callback thread, one check at a time (shared with
 *  async send results, so keep it short); never the I/O thread. */
typedef comet_txn_state_t(comet_txn_check_cb_t)(comet_producer_t *p, const comet_message_ext_t *msg,
                                                void *opaque);

/** Make producers created from conf transactional (both callbacks required
 *  for comet_producer_send_in_transaction; check alone makes a producer
 *  that only answers check-backs for its group). */
COMET_EXPORT void comet_conf_set_transaction_listener(comet_conf_t *conf, comet_txn_execute_cb_t *execute,
                                                      comet_txn_check_cb_t *check);

/** sendMessageInTransaction: store msg as a half message (invisible to
 *  consumers), run the execute callback, then send END_TRANSACTION (oneway,
 *  as Java) with its answer. A send status other than COMET_SEND_OK rolls
 *  back without running the callback. The delay level is ignored (as Java).
 *  Returns the send error when the half message could not be stored (the
 *  callback is not run); *state (may be NULL) gets the state sent. */
COMET_EXPORT comet_err_t comet_producer_send_in_transaction(comet_producer_t *p, const comet_message_t *msg,
                                                            void *arg, comet_send_result_t *res,
                                                            comet_txn_state_t *state, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Push consumer                                                       */
/* ------------------------------------------------------------------ */

typedef struct comet_push_consumer_s comet_push_consumer_t;

typedef enum {
    COMET_CONSUME_SUCCESS = 0,
    COMET_RECONSUME_LATER = 1, /**< clustering: sent back to %RETRY%<group> with growing delay */
} comet_consume_status_t;

/** Consume callback: `cnt` messages (1 ≤ cnt ≤ consumeMessageBatchMaxSize) of
 *  one queue, borrowed for the duration of the call (comet_message_ext_dup to
 *  keep one). The status applies to the whole batch.
 *  Concurrent consumers (default): RECONSUME_LATER sends the messages back for
 *  a delayed retry. With consumeOrderly=true a queue is consumed in offset
 *  order, one batch at a time (clustering consumers hold the queue's broker
 *  lock), and RECONSUME_LATER consumes the same batch again after 1 s.
 *  @thread one of the consumer's consume threads (consumeThreadMin of them);
 *  several run in parallel, for different queues (or, when not orderly, the
 *  same queue). */
typedef comet_consume_status_t(comet_consume_cb_t)(comet_push_consumer_t *c,
                                                   const comet_message_ext_t *const *msgs, size_t cnt,
                                                   void *opaque);

/** New push consumer. Takes `conf` on success. Properties used: namesrvAddr,
 *  consumerGroup, messageModel (CLUSTERING | BROADCASTING), consumeFromWhere
 *  (CONSUME_FROM_LAST_OFFSET | CONSUME_FROM_FIRST_OFFSET | CONSUME_FROM_TIMESTAMP),
 *  consumeTimestamp (yyyyMMddHHmmss), consumeThreadMin, pullBatchSize,
 *  pullThresholdForQueue, pullThresholdSizeForQueue, consumeConcurrentlyMaxSpan,
 *  consumeMessageBatchMaxSize, maxReconsumeTimes, persistConsumerOffsetInterval,
 *  rebalanceInterval, localOffsetStoreDir, ...
 *  `opaque` is passed to cb (overrides comet_conf_set_opaque). */
COMET_EXPORT comet_push_consumer_t *comet_push_consumer_new(comet_conf_t *conf, comet_consume_cb_t *cb,
                                                            void *opaque, char *errstr, size_t errstr_size);
/** Subscribe before start. tag_expr: "*" / NULL for all, or "TagA || TagB". */
COMET_EXPORT comet_err_t comet_push_consumer_subscribe(comet_push_consumer_t *c, const char *topic,
                                                       const char *tag_expr);
COMET_EXPORT comet_err_t comet_push_consumer_start(comet_push_consumer_t *c, char *errstr,
                                                   size_t errstr_size);
/** Client id as the brokers see it ("ip@instance"). Borrowed. */
COMET_EXPORT const char *comet_push_consumer_client_id(const comet_push_consumer_t *c);
/** Number of queues currently assigned to this consumer. */
COMET_EXPORT int comet_push_consumer_assigned_count(comet_push_consumer_t *c);
/** Stop pulling, wait for running callbacks, commit offsets, unregister. */
COMET_EXPORT void comet_push_consumer_shutdown(comet_push_consumer_t *c);
COMET_EXPORT void comet_push_consumer_destroy(comet_push_consumer_t *c);

/* ------------------------------------------------------------------ */
/* Pull consumer                                                       */
/* ------------------------------------------------------------------ */

typedef struct comet_pull_consumer_s comet_pull_consumer_t;

#define COMET_OFFSET_END (-1)       /**< seek: the queue's max offset */
#define COMET_OFFSET_BEGINNING (-2) /**< seek: the queue's min offset */

/** New pull consumer (Java's lite-pull shape). Takes `conf` on success. */
COMET_EXPORT comet_pull_consumer_t *comet_pull_consumer_new(comet_conf_t *conf, char *errstr,
                                                            size_t errstr_size);
/** Group-managed: queues of topic are shared with the group (rebalance), before start. */
COMET_EXPORT comet_err_t comet_pull_consumer_subscribe(comet_pull_consumer_t *c, const char *topic,
                                                       const char *tag_expr);
/** Manual: consume exactly these queues (replaces the previous assignment). Any time.
 *  A queue whose start cannot be read now (its broker does not answer) is tried
 *  again each second. */
COMET_EXPORT comet_err_t comet_pull_consumer_assign(comet_pull_consumer_t *c,
                                                    const comet_message_queue_t *mqs, size_t cnt);
/** Readable queues of a topic (for assign). *mqs is heap memory the caller free()s. */
COMET_EXPORT comet_err_t comet_pull_consumer_fetch_queues(comet_pull_consumer_t *c, const char *topic,
                                                          comet_message_queue_t **mqs, size_t *cnt);
COMET_EXPORT comet_err_t comet_pull_consumer_start(comet_pull_consumer_t *c, char *errstr,
                                                   size_t errstr_size);
/** Up to `max` messages, waiting at most timeout_ms for the first one.
 *  *cnt = 0 on timeout (returns COMET_ERR_NO_ERROR). Each returned message is
 *  owned by the caller: comet_message_ext_destroy(). Polling advances the
 *  consumer's position; commit stores it. */
COMET_EXPORT comet_err_t comet_pull_consumer_poll(comet_pull_consumer_t *c, int timeout_ms,
                                                  comet_message_ext_t **msgs, size_t max, size_t *cnt);
/** Store the positions of everything polled so far on the brokers (or the
 *  local file in BROADCASTING mode). async=false waits for the answers. */
COMET_EXPORT comet_err_t comet_pull_consumer_commit(comet_pull_consumer_t *c, bool async);
/** Next poll of mq starts at offset (or COMET_OFFSET_BEGINNING / COMET_OFFSET_END):
 *  messages of mq buffered from the old position are dropped, none from the new one.
 *  The queue must be assigned (COMET_ERR__STATE otherwise). */
COMET_EXPORT comet_err_t comet_pull_consumer_seek(comet_pull_consumer_t *c, const comet_message_queue_t *mq,
                                                  int64_t offset);
/** Offset committed on the broker for mq (-1 if none). */
COMET_EXPORT comet_err_t comet_pull_consumer_committed(comet_pull_consumer_t *c,
                                                       const comet_message_queue_t *mq, int64_t *offset);
COMET_EXPORT void comet_pull_consumer_shutdown(comet_pull_consumer_t *c);
COMET_EXPORT void comet_pull_consumer_destroy(comet_pull_consumer_t *c);

#ifdef __cplusplus
}
#endif

#endif
