/* rmq_err.h - the one error list of Comet (librdkafka shape).
 *
 * RMQ_OK is 0. Positive values are RocketMQ response codes verbatim
 * (ResponseCode.java / RemotingSysResponseCode.java, 4.9.8), so they can be
 * put straight into a response's `code`. Negative RMQ_ERR__* values are local
 * conditions that never travel on the wire.
 *
 * RMQ_ERRORS is the single source: it generates rmq_err_t and the name and
 * description tables (rmq_err.c). libcomet's public comet_err_t (comet.h,
 * which is installed alone and so cannot include this file) is checked
 * against it when libcomet compiles (client/error.c): every value here has a
 * public twin with the same number and every public value is listed here.
 * Adding an error: one line below, one line in comet.h. */
#ifndef RMQ_ERR_H
#define RMQ_ERR_H

/* X(suffix, value, description): the enum constant is RMQ_ERR_<suffix>, the
 * symbolic name is the suffix. */
#define RMQ_ERRORS(X)                                                                                        \
    /* local errors */                                                                                       \
    X(_IO, -99, "local I/O error") /* a system call failed (logged where it failed) */                       \
    X(_NOMEM, -98, "out of memory")                                                                          \
    X(_TIMED_OUT, -97, "timed out")                                                                          \
    X(_AGAIN, -96, "try again later")               /* would block */                                        \
    X(_CORRUPT, -95, "corrupt or undecodable data") /* bytes that do not decode */                           \
    X(_INVALID_ARG, -94, "invalid argument")                                                                 \
    X(_TRANSPORT, -93, "connection failed or closed")                                                        \
    X(_DESTROY, -92, "handle is being destroyed") /* shut down while the call was pending */                 \
    X(_QUEUE_FULL, -91, "queue full")                                                                        \
    X(_NOENT, -90, "not found") /* no such key / file / item */                                              \
    X(_TOO_LARGE, -89, "larger than the configured limit")                                                   \
    X(_UNSUPPORTED, -88, "not supported")                                                                    \
    X(_STATE, -87, "invalid state for this call")                                                            \
    X(_NO_ROUTE, -86, "no route for topic") /* no route / broker for a topic */                              \
    X(_DISK_FULL, -85, "disk full")                                                                          \
    /* RocketMQ response codes */                                                                            \
    X(SYSTEM_ERROR, 1, "system error")                                                                       \
    X(SYSTEM_BUSY, 2, "system busy")                                                                         \
    X(REQUEST_CODE_NOT_SUPPORTED, 3, "request code not supported")                                           \
    X(TRANSACTION_FAILED, 4, "transaction failed")                                                           \
    X(FLUSH_DISK_TIMEOUT, 10, "flush to disk timed out (message stored)")                                    \
    X(SLAVE_NOT_AVAILABLE, 11, "slave not available (message stored)")                                       \
    X(FLUSH_SLAVE_TIMEOUT, 12, "slave sync timed out (message stored)")                                      \
    X(MESSAGE_ILLEGAL, 13, "message illegal")                                                                \
    X(SERVICE_NOT_AVAILABLE, 14, "service not available")                                                    \
    X(VERSION_NOT_SUPPORTED, 15, "version not supported")                                                    \
    X(NO_PERMISSION, 16, "no permission")                                                                    \
    X(TOPIC_NOT_EXIST, 17, "topic does not exist")                                                           \
    X(TOPIC_EXIST_ALREADY, 18, "topic exists already")                                                       \
    X(PULL_NOT_FOUND, 19, "no new message")                                                                  \
    X(PULL_RETRY_IMMEDIATELY, 20, "no matched message, retry")                                               \
    X(PULL_OFFSET_MOVED, 21, "offset out of range")                                                          \
    X(QUERY_NOT_FOUND, 22, "not found")                                                                      \
    X(SUBSCRIPTION_PARSE_FAILED, 23, "subscription parse failed")                                            \
    X(SUBSCRIPTION_NOT_EXIST, 24, "subscription does not exist")                                             \
    X(SUBSCRIPTION_NOT_LATEST, 25, "subscription not latest")                                                \
    X(SUBSCRIPTION_GROUP_NOT_EXIST, 26, "subscription group does not exist")                                 \
    X(FILTER_DATA_NOT_EXIST, 27, "filter data does not exist")                                               \
    X(FILTER_DATA_NOT_LATEST, 28, "filter data not latest")                                                  \
    X(TRANSACTION_SHOULD_COMMIT, 200, "transaction should commit")                                           \
    X(TRANSACTION_SHOULD_ROLLBACK, 201, "transaction should roll back")                                      \
    X(TRANSACTION_STATE_UNKNOW, 202, "transaction state unknown")                                            \
    X(TRANSACTION_STATE_GROUP_WRONG, 203, "transaction group wrong")                                         \
    X(NO_BUYER_ID, 204, "no buyer id")                                                                       \
    X(NOT_IN_CURRENT_UNIT, 205, "not in current unit")                                                       \
    X(CONSUMER_NOT_ONLINE, 206, "consumer not online")                                                       \
    X(CONSUME_MSG_TIMEOUT, 207, "consume message timed out")                                                 \
    X(NO_MESSAGE, 208, "no message")                                                                         \
    X(FLOW_CONTROL, 215, "flow control")

#define RMQ_ERR_ENUM_(sfx, val, desc) RMQ_ERR_##sfx = (val),

typedef enum rmq_err_e {
    RMQ_ERR__BEGIN = -100, /* below every local error */
    RMQ_ERR__END = -84,    /* above every local error */
    RMQ_OK = 0,
    RMQ_ERRORS(RMQ_ERR_ENUM_)
} rmq_err_t;

/* Human-readable description; never NULL. */
const char *rmq_err2str(int err);
/* Symbolic name ("SYSTEM_ERROR", "_TIMED_OUT", "SUCCESS"); never NULL. */
const char *rmq_err2name(int err);

#endif
