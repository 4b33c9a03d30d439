/* harness_broker.h - start / restart a real mqbroker for integration tests:
 * generated broker.conf on free loopback ports in a temp dir, short
 * intervals, small files; plus request builders for the common broker calls.
 * Test main thread only. */
#ifndef COMET_TEST_HARNESS_BROKER_H
#define COMET_TEST_HARNESS_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "rmq_cmd.h"

/* mqbroker registered with the name server on ns_port (0 = none). extra_conf
 * lines are appended to the generated broker.conf (may be NULL). */
bool th_broker_start(th_proc_t *p, int ns_port, const char *extra_conf);
/* Start it again with the same directory, port and configuration. */
bool th_broker_restart(th_proc_t *p);

/* Request builders (caller deinits). */
void th_req_create_topic(rmq_cmd_t *req, const char *topic, int queues);
/* SEND_MESSAGE_V2 with tags/keys/one user property (any may be NULL). */
void th_req_send_v2(rmq_cmd_t *req, const char *group, const char *topic, int queue_id, const char *tags,
                    const char *keys, const char *prop_k, const char *prop_v, const void *body, size_t len);
void th_req_pull(rmq_cmd_t *req, const char *group, const char *topic, int queue_id, int64_t offset,
                 int max_msgs, int sys_flag, int64_t suspend_ms, const char *subscription);
/* HEART_BEAT with one consumer group subscribed to topic (and optionally a
 * producer group). */
void th_req_heartbeat(rmq_cmd_t *req, const char *client_id, const char *group, const char *topic,
                      const char *sub_expr, const char *model);

#endif
