/* broker.h - the broker controller (BrokerController): configuration, the
 * store, metadata managers, remoting endpoints, timers and the cross-thread
 * mailbox. Shared by the request processors (proc_*.c).
 *
 * Threads: everything in rmq_broker_t belongs to the I/O thread (the one
 * running `base`) except `mbox_*`, which other threads use through
 * rmq_broker_post(). */
#ifndef RMQ_BROKER_H
#define RMQ_BROKER_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker_conf.h"
#include "consumer_offset.h"
#include "rmq_cmd.h"
#include "rmq_conn.h"
#include "rmq_msg_codec.h"
#include "rmq_store.h"
#include "schedule.h"
#include "snapshot.h"
#include "sub_group.h"
#include "topic_config.h"

typedef struct rmq_client_mgr_s rmq_client_mgr_t;
typedef struct rmq_pull_hold_s rmq_pull_hold_t;
typedef struct rmq_namesrv_api_s rmq_namesrv_api_t;
typedef struct rmq_broker_s rmq_broker_t;

/* Work posted to the I/O thread from another thread. */
typedef void rmq_broker_job_fn(rmq_broker_t *b, void *arg);

struct rmq_broker_s {
    rmq_broker_conf_t conf;
    rmq_store_config_t store_conf;
    rmq_store_t *store;
    struct event_base *base;
    rmq_endpoint_t *server;     /* listenPort */
    rmq_endpoint_t *vip_server; /* listenPort - 2 (no PULL_MESSAGE) */
    rmq_endpoint_t *client;     /* to name servers */

    rmq_topic_mgr_t topics;
    rmq_sub_group_mgr_t groups;
    rmq_offset_mgr_t offsets;
    rmq_client_mgr_t *clients;
    rmq_pull_hold_t *hold;
    rmq_namesrv_api_t *ns;
    rmq_snapshot_writer_t *snap;
    rmq_schedule_t *schedule;
    rmq_map_t *mq_locks; /* LOCK_BATCH_MQ: "group\1topic\1broker\1qid" -> holder (proc_admin.c) */
    char config_dir[4096];

    rmq_msg_host_t store_host;
    char broker_addr[128]; /* brokerIP1:listenPort */
    char ha_addr[128];
    bool is_slave;
    bool shutting_down;

    /* mailbox: any thread -> I/O thread */
    pthread_mutex_t mbox_mu;
    struct mbox_item_s *mbox_head, *mbox_tail;
    struct event *mbox_ev;

    struct event *ev_persist_offsets, *ev_persist_meta, *ev_sigterm, *ev_sigint, *ev_drain;
    int64_t drain_deadline; /* shutdown: wait for pending SYNC_FLUSH answers until then */

    /* flow control and statistics (I/O thread) */
    int64_t pending_sends;
    int64_t msg_put_total, msg_get_total;
    int64_t boot_ms;
    /* send-back retries carry a DELAY level (3 + reconsumeTimes), delivered
     * by the schedule service */
    bool send_back_delay;
};

/* Run fn(b, arg) on the I/O thread. @thread any. */
void rmq_broker_post(rmq_broker_t *b, rmq_broker_job_fn *fn, void *arg);

/* Snapshot writes of the metadata managers (@thread io; hands the bytes to
 * the writer thread). */
void rmq_broker_persist_topics(rmq_broker_t *b);
void rmq_broker_persist_groups(rmq_broker_t *b);
void rmq_broker_persist_offsets(rmq_broker_t *b);
void rmq_broker_persist_delay_offsets(rmq_broker_t *b);

/* A topic was created/changed/deleted: persist and re-register. */
void rmq_broker_topics_changed(rmq_broker_t *b);

/* Find a subscription group, auto-creating it when allowed (persisting).
 * NULL if it does not exist and cannot be created. */
rmq_sub_group_t *rmq_broker_get_group(rmq_broker_t *b, const char *group);
/* Ensure %RETRY%<group> exists (retryQueueNums queues, perm 6). */
rmq_topic_config_t *rmq_broker_ensure_retry_topic(rmq_broker_t *b, const char *group, int queues);

/* Response helpers: a response shell for req (JSON or binary as the
 * request), version 409, language JAVA. */
void rmq_broker_resp(rmq_cmd_t *resp, const rmq_cmd_t *req, int code, const char *remark);
/* Reply SUCCESS with no ext/body. */
void rmq_broker_reply_ok(rmq_conn_t *conn, const rmq_cmd_t *req);
/* Reply with code + remark and free the response. */
void rmq_broker_reply_err(rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Required header field helpers: on failure they answer SYSTEM_ERROR
 * ("the custom field <name> is null" / "... is not a number") and return
 * false. */
bool rmq_req_str(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, const char **out);
bool rmq_req_i32(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int32_t *out);
bool rmq_req_i64(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int64_t *out);
/* Optional fields: default when absent; false (+ answered) when malformed. */
bool rmq_req_opt_i32(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int32_t def, int32_t *out);
bool rmq_req_opt_i64(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, int64_t def, int64_t *out);
bool rmq_req_opt_bool(rmq_conn_t *conn, const rmq_cmd_t *req, const char *name, bool def, bool *out);

/* Topic name check (TopicValidator): NULL if fine, else the remark. */
const char *rmq_topic_name_invalid(const char *topic, char *buf, size_t n);
/* Born host from a connection's peer (IPv4-mapped IPv6 => IPv4). */
void rmq_broker_peer_host(const rmq_conn_t *conn, rmq_msg_host_t *h);

/* Processor registration (proc_*.c). */
void rmq_proc_send_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_pull_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_offset_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_client_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_admin_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_query_register(rmq_broker_t *b, rmq_endpoint_t *ep);
void rmq_proc_admin_cleanup(rmq_broker_t *b);

/* Lifecycle (broker.c). */
rmq_broker_t *rmq_broker_new(void);
rmq_err_t rmq_broker_start(rmq_broker_t *b, char *errstr, size_t errstr_size);
/* Run the loop until SIGTERM/SIGINT, then shut down cleanly. */
int rmq_broker_run(rmq_broker_t *b);
void rmq_broker_destroy(rmq_broker_t *b);

#endif
