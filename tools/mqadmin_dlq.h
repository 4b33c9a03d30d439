/* mqadmin_dlq.h - mqadmin's dead-letter queue commands (queryDlq,
 * resendDlqMsg). mqadmin.c lends its blocking remoting helpers through
 * mqadmin_ops_t. Single thread (the command line). */
#ifndef MQADMIN_DLQ_H
#define MQADMIN_DLQ_H

#include <jansson.h>
#include <stdbool.h>

#include "rmq_cmd.h"
#include "rmq_msg_codec.h"

typedef struct mqadmin_ops_s {
    /* one request to addr; 0 when a response arrived (in *resp) */
    int (*call)(const char *addr, rmq_cmd_t *req, rmq_cmd_t *resp, bool quiet);
    /* TopicRouteData from the name servers, NULL when there is none */
    json_t *(*topic_route)(const char *topic, bool quiet);
    /* brokerAddrs["0"] of a BrokerData */
    const char *(*master_of)(json_t *broker_data);
    void (*print_record)(const rmq_msg_rec_t *r, bool with_body);
} mqadmin_ops_t;

/* Print up to max messages of %DLQ%<group> with their original topic.
 * Exit status as mqadmin's (0 also when the DLQ is empty or absent). */
int mqadmin_query_dlq(const mqadmin_ops_t *ops, const char *group, int max);

/* Send the dead-lettered message whose msgId (UNIQ_KEY), offset msgId or
 * ORIGIN_MESSAGE_ID is msg_id back to its original topic (RETRY_TOPIC):
 * same body, flag, tags, keys, user properties and UNIQ_KEY; reconsume
 * count 0. The DLQ copy stays (queues are append-only). */
int mqadmin_resend_dlq_msg(const mqadmin_ops_t *ops, const char *group, const char *msg_id);

#endif
