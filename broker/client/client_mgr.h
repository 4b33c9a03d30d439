/* client_mgr.h - producer and consumer channels per group (ProducerManager,
 * ConsumerManager, ClientHousekeepingService) and the HEART_BEAT /
 * UNREGISTER_CLIENT / GET_CONSUMER_LIST_BY_GROUP / CHECK_CLIENT_CONFIG
 * processors. @thread io. */
#ifndef RMQ_CLIENT_MGR_H
#define RMQ_CLIENT_MGR_H

#include <stdbool.h>
#include <stdint.h>

#include "client/subscription.h"
#include "rmq_conn.h"
#include "rmq_map.h"

struct event;
typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_client_mgr_s rmq_client_mgr_t;

typedef struct rmq_client_chan_s {
    rmq_conn_t *conn;
    char *client_id;
    int32_t language;
    int32_t version;
    int64_t last_update; /* mono ms */
} rmq_client_chan_t;

typedef struct rmq_consumer_group_info_s {
    char *name;
    char *consume_type;
    char *message_model;
    char *consume_from_where;
    rmq_client_chan_t *chans;
    size_t n, cap;
    rmq_subscription_t *subs;
    size_t nsubs;
} rmq_consumer_group_info_t;

typedef struct rmq_producer_group_info_s {
    char *name;
    rmq_client_chan_t *chans;
    size_t n, cap;
} rmq_producer_group_info_t;

struct rmq_client_mgr_s {
    rmq_broker_t *b;
    rmq_map_t consumers; /* group -> rmq_consumer_group_info_t* */
    rmq_map_t producers; /* group -> rmq_producer_group_info_t* */
    struct event *ev_housekeeping;
    int64_t notifications_sent; /* statistics / tests */
};

rmq_client_mgr_t *rmq_client_mgr_new(rmq_broker_t *b);
/* Put HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP and
 * CHECK_CLIENT_CONFIG into an endpoint's handler table (the controller's
 * registerProcessor; @thread main). */
void rmq_proc_client_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_client_mgr_destroy(rmq_client_mgr_t *m);
/* Borrowed; NULL if the group has no live consumer. */
rmq_consumer_group_info_t *rmq_client_mgr_consumer(rmq_client_mgr_t *m, const char *group);
const rmq_subscription_t *rmq_consumer_group_sub(const rmq_consumer_group_info_t *g, const char *topic);
/* Remove a closed connection everywhere (notifying groups). */
void rmq_client_mgr_conn_closed(rmq_client_mgr_t *m, rmq_conn_t *conn);
/* Run one expiry pass now (the timer calls it too). */
void rmq_client_mgr_scan_expired(rmq_client_mgr_t *m);

#endif
