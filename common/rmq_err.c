/* rmq_err.c - names and descriptions of rmq_err_t values.
 * Pure functions, any thread. */
#include "rmq_err.h"

#include <stddef.h>

static const struct {
    int code;
    const char *name;
    const char *desc;
} err_table[] = {
    {RMQ_ERR__IO, "_IO", "local I/O error"},
    {RMQ_ERR__NOMEM, "_NOMEM", "out of memory"},
    {RMQ_ERR__TIMED_OUT, "_TIMED_OUT", "timed out"},
    {RMQ_ERR__AGAIN, "_AGAIN", "try again later"},
    {RMQ_ERR__CORRUPT, "_CORRUPT", "corrupt or undecodable data"},
    {RMQ_ERR__INVALID_ARG, "_INVALID_ARG", "invalid argument"},
    {RMQ_ERR__TRANSPORT, "_TRANSPORT", "connection failed or closed"},
    {RMQ_ERR__DESTROY, "_DESTROY", "handle is being destroyed"},
    {RMQ_ERR__QUEUE_FULL, "_QUEUE_FULL", "queue full"},
    {RMQ_ERR__NOENT, "_NOENT", "not found"},
    {RMQ_ERR__TOO_LARGE, "_TOO_LARGE", "larger than the configured limit"},
    {RMQ_ERR__UNSUPPORTED, "_UNSUPPORTED", "not supported"},
    {RMQ_ERR__STATE, "_STATE", "invalid state for this call"},
    {RMQ_ERR__NO_ROUTE, "_NO_ROUTE", "no route for topic"},
    {RMQ_ERR__DISK_FULL, "_DISK_FULL", "disk full"},
    {RMQ_OK, "SUCCESS", "success"},
    {RMQ_ERR_SYSTEM_ERROR, "SYSTEM_ERROR", "system error"},
    {RMQ_ERR_SYSTEM_BUSY, "SYSTEM_BUSY", "system busy"},
    {RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED, "REQUEST_CODE_NOT_SUPPORTED", "request code not supported"},
    {RMQ_ERR_TRANSACTION_FAILED, "TRANSACTION_FAILED", "transaction failed"},
    {RMQ_ERR_FLUSH_DISK_TIMEOUT, "FLUSH_DISK_TIMEOUT", "flush to disk timed out (message stored)"},
    {RMQ_ERR_SLAVE_NOT_AVAILABLE, "SLAVE_NOT_AVAILABLE", "slave not available (message stored)"},
    {RMQ_ERR_FLUSH_SLAVE_TIMEOUT, "FLUSH_SLAVE_TIMEOUT", "slave sync timed out (message stored)"},
    {RMQ_ERR_MESSAGE_ILLEGAL, "MESSAGE_ILLEGAL", "message illegal"},
    {RMQ_ERR_SERVICE_NOT_AVAILABLE, "SERVICE_NOT_AVAILABLE", "service not available"},
    {RMQ_ERR_VERSION_NOT_SUPPORTED, "VERSION_NOT_SUPPORTED", "version not supported"},
    {RMQ_ERR_NO_PERMISSION, "NO_PERMISSION", "no permission"},
    {RMQ_ERR_TOPIC_NOT_EXIST, "TOPIC_NOT_EXIST", "topic does not exist"},
    {RMQ_ERR_TOPIC_EXIST_ALREADY, "TOPIC_EXIST_ALREADY", "topic exists already"},
    {RMQ_ERR_PULL_NOT_FOUND, "PULL_NOT_FOUND", "no new message"},
    {RMQ_ERR_PULL_RETRY_IMMEDIATELY, "PULL_RETRY_IMMEDIATELY", "no matched message, retry"},
    {RMQ_ERR_PULL_OFFSET_MOVED, "PULL_OFFSET_MOVED", "offset out of range"},
    {RMQ_ERR_QUERY_NOT_FOUND, "QUERY_NOT_FOUND", "not found"},
    {RMQ_ERR_SUBSCRIPTION_PARSE_FAILED, "SUBSCRIPTION_PARSE_FAILED", "subscription parse failed"},
    {RMQ_ERR_SUBSCRIPTION_NOT_EXIST, "SUBSCRIPTION_NOT_EXIST", "subscription does not exist"},
    {RMQ_ERR_SUBSCRIPTION_NOT_LATEST, "SUBSCRIPTION_NOT_LATEST", "subscription not latest"},
    {RMQ_ERR_SUBSCRIPTION_GROUP_NOT_EXIST, "SUBSCRIPTION_GROUP_NOT_EXIST", "subscription group does not exist"},
    {RMQ_ERR_FILTER_DATA_NOT_EXIST, "FILTER_DATA_NOT_EXIST", "filter data does not exist"},
    {RMQ_ERR_FILTER_DATA_NOT_LATEST, "FILTER_DATA_NOT_LATEST", "filter data not latest"},
    {RMQ_ERR_TRANSACTION_SHOULD_COMMIT, "TRANSACTION_SHOULD_COMMIT", "transaction should commit"},
    {RMQ_ERR_TRANSACTION_SHOULD_ROLLBACK, "TRANSACTION_SHOULD_ROLLBACK", "transaction should roll back"},
    {RMQ_ERR_TRANSACTION_STATE_UNKNOW, "TRANSACTION_STATE_UNKNOW", "transaction state unknown"},
    {RMQ_ERR_TRANSACTION_STATE_GROUP_WRONG, "TRANSACTION_STATE_GROUP_WRONG", "transaction group wrong"},
    {RMQ_ERR_NO_BUYER_ID, "NO_BUYER_ID", "no buyer id"},
    {RMQ_ERR_NOT_IN_CURRENT_UNIT, "NOT_IN_CURRENT_UNIT", "not in current unit"},
    {RMQ_ERR_CONSUMER_NOT_ONLINE, "CONSUMER_NOT_ONLINE", "consumer not online"},
    {RMQ_ERR_CONSUME_MSG_TIMEOUT, "CONSUME_MSG_TIMEOUT", "consume message timed out"},
    {RMQ_ERR_NO_MESSAGE, "NO_MESSAGE", "no message"},
    {RMQ_ERR_FLOW_CONTROL, "FLOW_CONTROL", "flow control"},
};

static int find(int err)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == err)
            return (int)i;
    return -1;
}

const char *rmq_err2str(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : err_table[i].desc;
}

const char *rmq_err2name(int err)
{
    int i = find(err);
    return i < 0 ? "UNKNOWN" : err_table[i].name;
}
