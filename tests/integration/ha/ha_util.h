/* ha_util.h - helpers of the replication suite: a name server with a master
 * and a slave of one broker group, runtime-info reads, pipelined sends over
 * the raw protocol (each answer kept), pulls of whole queues, commit-log
 * and consume-queue comparison of two stores, and a TCP proxy the test can
 * cut. Test main thread only (the proxy runs its own thread). */
#ifndef HA_UTIL_H
#define HA_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "harness_broker.h"
#include "rmq_msg_codec.h"

#define HA_GROUP "broker-h"
/* short intervals so the suite stays quick */
#define HA_FAST                                                                                              \
    "brokerName=" HA_GROUP "\nhaSendHeartbeatInterval=300\nhaHousekeepingInterval=4000\nslaveTimeout=1500\n" \
    "flushConsumerOffsetInterval=200\nregisterNameServerPeriod=500\n"

/* mqbroker of group broker-h: role ASYNC_MASTER / SYNC_MASTER (id 0) or
 * SLAVE (id), with HA_FAST and extra (may be NULL). */
bool ha_start_broker(th_proc_t *p, int ns_port, const char *role, int id, const char *extra);
/* The HA port of a broker started by ha_start_broker (listenPort + 1). */
static inline int ha_port(const th_proc_t *p)
{
    return p->port + 1;
}

/* GET_BROKER_RUNTIME_INFO value of key (numbers: def when absent). */
bool ha_info(int port, const char *key, char *out, size_t n);
int64_t ha_info_i64(int port, const char *key, int64_t def);
/* Master: a slave is connected and in sync. */
bool ha_wait_in_sync(int master_port, int timeout_ms);
/* Slave: its commit log reached the master's end and is dispatched. */
bool ha_wait_caught_up(int master_port, int slave_port, int timeout_ms);

int ha_create_topic(int port, const char *topic, int queues);

/* Sends of body "m-<i>" (KEYS "k-<i>") to topic queue i % queues, at most
 * `window` unanswered at a time. */
typedef struct ha_ack_s {
    int code; /* response code, -1 when unanswered */
    int32_t qid;
    int64_t qoff;
} ha_ack_t;
/* stop(i, arg) is asked after each answer; true stops sending (the answers
 * of what is in flight are still read until timeout_ms passes without one). */
typedef bool ha_stop_fn(int answered, void *arg);
/* Returns how many got an answer; acks[i - first] describes message i. */
int ha_send(int port, const char *topic, int queues, int first, int n, int window, ha_ack_t *acks,
            ha_stop_fn *stop, void *stop_arg, int timeout_ms);
/* The same with bodies padded with spaces to pad bytes (at most 4096). */
int ha_send_padded(int port, const char *topic, int queues, int first, int n, int window, size_t pad,
                   ha_ack_t *acks, ha_stop_fn *stop, void *stop_arg, int timeout_ms);
/* One send, waiting for its answer; returns the code (-1: no answer). */
int ha_send_one(int port, const char *topic, int qid, int i);

/* Pull (topic, qid) from offset 0 to its end through port with group; cb
 * for each record; returns the number pulled or -1. */
typedef void ha_rec_fn(void *arg, const rmq_msg_rec_t *rec);
int ha_pull_all(int port, const char *group, const char *topic, int qid, ha_rec_fn *cb, void *arg);
int64_t ha_max_offset(int port, const char *topic, int qid);
int64_t ha_query_offset(int port, const char *group, const char *topic, int qid);
int ha_commit_offset(int port, const char *group, const char *topic, int qid, int64_t off);

/* Compare [0, end) of two stores' commit logs, and the consume-queue files
 * of topic (queues 0..queues-1), byte for byte. False with why. */
bool ha_same_commitlog(const char *store_a, const char *store_b, int64_t end, char *why, size_t n);
bool ha_same_consume_queues(const char *store_a, const char *store_b, const char *topic, int queues,
                            char *why, size_t n);

/* A TCP proxy on 127.0.0.1: listens on a free port, forwards each accepted
 * connection to target_port. cut: stop forwarding in both directions
 * (connections stay open, bytes wait: a silent link); heal: forward again;
 * reset: close every proxied connection. */
typedef struct ha_proxy_s ha_proxy_t;
ha_proxy_t *ha_proxy_start(int target_port);
int ha_proxy_port(const ha_proxy_t *p);
void ha_proxy_cut(ha_proxy_t *p, bool cut);
void ha_proxy_stop(ha_proxy_t *p);

#endif
