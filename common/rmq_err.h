/* rmq_err.h - the one error enum of Comet (librdkafka shape).
 *
 * RMQ_OK is 0. Positive values are RocketMQ response codes verbatim
 * (ResponseCode.java / RemotingSysResponseCode.java, 4.9.8), so they can be
 * put straight into a response's `code`. Negative RMQ_ERR__* values are local
 * conditions that never travel on the wire. */
#ifndef RMQ_ERR_H
#define RMQ_ERR_H

typedef enum rmq_err_e {
    /* local errors */
    RMQ_ERR__BEGIN = -100,
    RMQ_ERR__IO = -99,           /* a system call failed (logged where it failed) */
    RMQ_ERR__NOMEM = -98,
    RMQ_ERR__TIMED_OUT = -97,
    RMQ_ERR__AGAIN = -96,        /* would block, try later */
    RMQ_ERR__CORRUPT = -95,      /* bytes that do not decode */
    RMQ_ERR__INVALID_ARG = -94,
    RMQ_ERR__TRANSPORT = -93,    /* connection failed or closed */
    RMQ_ERR__DESTROY = -92,      /* object shut down while the call was pending */
    RMQ_ERR__QUEUE_FULL = -91,
    RMQ_ERR__NOENT = -90,        /* no such key / file / item */
    RMQ_ERR__TOO_LARGE = -89,    /* over a configured size limit */
    RMQ_ERR__UNSUPPORTED = -88,
    RMQ_ERR__STATE = -87,        /* called in the wrong state */
    RMQ_ERR__NO_ROUTE = -86,     /* no route / broker for a topic */
    RMQ_ERR__DISK_FULL = -85,
    RMQ_ERR__END = -84,

    RMQ_OK = 0,

    /* RocketMQ response codes */
    RMQ_ERR_SYSTEM_ERROR = 1,
    RMQ_ERR_SYSTEM_BUSY = 2,
    RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED = 3,
    RMQ_ERR_TRANSACTION_FAILED = 4,
    RMQ_ERR_FLUSH_DISK_TIMEOUT = 10,
    RMQ_ERR_SLAVE_NOT_AVAILABLE = 11,
    RMQ_ERR_FLUSH_SLAVE_TIMEOUT = 12,
    RMQ_ERR_MESSAGE_ILLEGAL = 13,
    RMQ_ERR_SERVICE_NOT_AVAILABLE = 14,
    RMQ_ERR_VERSION_NOT_SUPPORTED = 15,
    RMQ_ERR_NO_PERMISSION = 16,
    RMQ_ERR_TOPIC_NOT_EXIST = 17,
    RMQ_ERR_TOPIC_EXIST_ALREADY = 18,
    RMQ_ERR_PULL_NOT_FOUND = 19,
    RMQ_ERR_PULL_RETRY_IMMEDIATELY = 20,
    RMQ_ERR_PULL_OFFSET_MOVED = 21,
    RMQ_ERR_QUERY_NOT_FOUND = 22,
    RMQ_ERR_SUBSCRIPTION_PARSE_FAILED = 23,
    RMQ_ERR_SUBSCRIPTION_NOT_EXIST = 24,
    RMQ_ERR_SUBSCRIPTION_NOT_LATEST = 25,
    RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST = 26,
    RMQ_ERR_FILTER_DATA_NOT_EXIST = 27,
    RMQ_ERR_FILTER_DATA_NOT_LATEST = 28,
    RMQ_ERR_TRANSACTION_SHOULD_COMMIT = 200,
    RMQ_ERR_TRANSACTION_SHOULD_ROLLBACK = 201,
    RMQ_ERR_TRANSACTION_STATE_UNKNOW = 202,
    RMQ_ERR_TRANSACTION_STATE_GROUP_WRONG = 203,
    RMQ_ERR_NO_BUYER_ID = 204,
    RMQ_ERR_NOT_IN_CURRENT_UNIT = 205,
    RMQ_ERR_CONSUMER_NOT_ONLINE = 206,
    RMQ_ERR_CONSUME_MSG_TIMEOUT = 207,
    RMQ_ERR_NO_MESSAGE = 208,
    RMQ_ERR_FLOW_CONTROL = 215,
} rmq_err_t;

/* Human-readable description; never NULL. */
const char *rmq_err2str(int err);
/* Symbolic name ("SYSTEM_ERROR", "_TIMED_OUT"); never NULL. */
const char *rmq_err2name(int err);

#endif
