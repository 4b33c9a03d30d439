/* route_info.h - the name server's routing tables (RocketMQ RouteInfoManager).
 *
 * cluster -> broker names; broker name -> {cluster, brokerId -> address};
 * topic -> queue data per broker name; live brokers by address with their
 * last registration time, data version and connection; filter servers.
 * Owned by the name server's single thread: no locks. */
#ifndef NS_ROUTE_INFO_H
#define NS_ROUTE_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_map.h"

typedef struct ns_data_version_s {
    int64_t counter;
    int64_t timestamp;
} ns_data_version_t;

typedef struct ns_topic_conf_s {
    const char *name;
    int32_t read_queue_nums;
    int32_t write_queue_nums;
    int32_t perm;
    int32_t topic_sys_flag;
} ns_topic_conf_t;

typedef struct ns_register_s {
    const char *cluster;
    const char *broker_addr;
    const char *broker_name;
    int64_t broker_id;
    const char *ha_server_addr;
    ns_data_version_t dv;
    const ns_topic_conf_t *topics;
    size_t n_topics;
    const char *filter_servers_json; /* JSON array text, NULL or "[]" when none */
    uint64_t conn_id;                /* connection the registration came on (0 = none) */
} ns_register_t;

typedef struct ns_register_result_s {
    char master_addr[128]; /* empty when none */
    char ha_server_addr[128];
} ns_register_result_t;

typedef struct ns_route_info_s {
    rmq_map_t clusters;   /* cluster -> rmq_map_t* (set of broker names) */
    rmq_map_t brokers;    /* broker name -> ns_broker_data_t* */
    rmq_map_t topics;     /* topic -> ns_qd_list_t* */
    rmq_map_t live;       /* broker addr -> ns_live_t* */
    rmq_map_t filter_srv; /* broker addr -> char* (JSON array text) */
} ns_route_info_t;

void ns_route_init(ns_route_info_t *ri);
void ns_route_deinit(ns_route_info_t *ri);

void ns_route_register(ns_route_info_t *ri, const ns_register_t *reg, int64_t now_ms,
                       ns_register_result_t *res);
/* Returns true if the address was registered under that name/id. */
bool ns_route_unregister(ns_route_info_t *ri, const char *cluster, const char *addr, const char *name,
                         int64_t id);
/* A broker connection closed: drop whatever registered on it (by conn id,
 * else by remote address). */
void ns_route_conn_closed(ns_route_info_t *ri, uint64_t conn_id, const char *remote_addr);
/* Drop brokers not registered for expire_ms; returns how many. */
int ns_route_scan_expired(ns_route_info_t *ri, int64_t now_ms, int64_t expire_ms);
/* Data version check: true if changed (or unknown); refreshes the live entry's
 * timestamp when unchanged. Writes the stored version to *stored (0/0 if none). */
bool ns_route_query_data_version(ns_route_info_t *ri, const char *addr, const ns_data_version_t *dv,
                                 int64_t now_ms, ns_data_version_t *stored);

/* TopicRouteData JSON (false if the topic has no route). standard_json:
 * quoted map keys + non-ASCII escaped (clients >= V4_9_4); otherwise
 * fastjson's unquoted integer keys. order_conf may be NULL. */
bool ns_route_pickup(const ns_route_info_t *ri, const char *topic, bool standard_json, const char *order_conf,
                     rmq_buf_t *out);
void ns_route_cluster_info(const ns_route_info_t *ri, rmq_buf_t *out);
void ns_route_topic_list(const ns_route_info_t *ri, rmq_buf_t *out);
/* Topics with queue data on any broker of the cluster; false if unknown cluster. */
bool ns_route_topics_by_cluster(const ns_route_info_t *ri, const char *cluster, rmq_buf_t *out);
/* Cluster names + broker names, plus one broker address. */
void ns_route_system_topic_list(const ns_route_info_t *ri, rmq_buf_t *out);
/* Unit topic lists: the topics whose topicSysFlag & mask == want. */
void ns_route_topic_list_by_flag(const ns_route_info_t *ri, int32_t mask, int32_t want, rmq_buf_t *out);
/* Clear or set the write permission of every queue of broker name; returns count. */
int ns_route_wipe_write_perm(ns_route_info_t *ri, const char *broker_name);
int ns_route_add_write_perm(ns_route_info_t *ri, const char *broker_name);
/* Remove a topic (everywhere, or only from the brokers of `cluster`). */
void ns_route_delete_topic(ns_route_info_t *ri, const char *topic, const char *cluster);
size_t ns_route_live_count(const ns_route_info_t *ri);
/* Every registered broker address (metrics): cluster, broker name, id,
 * address, last registration time (ms, 0 when not live). */
typedef void ns_route_broker_fn(const char *cluster, const char *name, int64_t id, const char *addr,
                                int64_t last_update_ms, void *ctx);
void ns_route_each_broker(const ns_route_info_t *ri, ns_route_broker_fn *fn, void *ctx);

#endif
