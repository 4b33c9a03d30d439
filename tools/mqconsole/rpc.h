/* rpc.h - remoting calls of mqconsole: one connection per broker or name
 * server address, reused and reopened after a failure; name servers tried
 * in order. Each thread owns its own mc_rpc_t (blocking calls with the
 * console's requestTimeoutMs).
 * Thread: the owner's (Poller, Worker-N). */
#ifndef MC_RPC_H
#define MC_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"
#include "rmq_map.h"
#include "rmq_sync_client.h"

typedef struct mc_rpc_s {
    rmq_sync_security_t sec; /* ACL signing of every request (access_key NULL: none) */
    char **ns;
    int nns;
    int timeout_ms;
    rmq_map_t conns; /* addr -> rmq_sync_client_t* */
    char err[512];   /* why the last call failed */
} mc_rpc_t;

void mc_rpc_init(mc_rpc_t *r, const char *namesrv_addr, int timeout_ms);
/* Sign every request with these ACL credentials (copied; "" or NULL: no
 * signing). Call before the first request. */
void mc_rpc_set_credentials(mc_rpc_t *r, const char *access_key, const char *secret_key);
void mc_rpc_deinit(mc_rpc_t *r);

/* One request to addr; RMQ_OK with resp filled (caller deinits), else the
 * reason in r->err. req is consumed (deinit'ed). */
int mc_rpc_call(mc_rpc_t *r, const char *addr, rmq_cmd_t *req, rmq_cmd_t *resp);
/* To the first name server that answers. */
int mc_rpc_call_ns(mc_rpc_t *r, rmq_cmd_t *req, rmq_cmd_t *resp);

/* Helpers returning parsed JSON bodies (NULL with r->err on failure;
 * code_out, when not NULL, gets the response code). */
json_t *mc_rpc_json(mc_rpc_t *r, const char *addr, rmq_cmd_t *req, int *code_out);
json_t *mc_rpc_json_ns(mc_rpc_t *r, rmq_cmd_t *req, int *code_out);

/* The offsetTable rows (mc_fjson_mq_table) of request `code` to addr, with
 * the extFields consumerGroup and topic where not NULL: GET_TOPIC_STATS_INFO,
 * GET_CONSUME_STATS. NULL when the call fails or the broker refuses it. */
json_t *mc_rpc_offset_rows(mc_rpc_t *r, const char *addr, int code, const char *group, const char *topic);

/* GET_BROKER_CLUSTER_INFO. */
json_t *mc_cluster_info(mc_rpc_t *r);
/* GET_ROUTEINFO_BY_TOPIC, NULL when the topic has no route. */
json_t *mc_topic_route(mc_rpc_t *r, const char *topic);
/* The master address of a brokerData object of a route or cluster info. */
const char *mc_master_of(json_t *broker_data);

#endif
