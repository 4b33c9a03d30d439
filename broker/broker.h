/* broker.h - the broker's state (rmq_broker_t, RocketMQ's BrokerController
 * fields): configuration, the store, the metadata tables, the remoting
 * endpoints, the services and the cross-thread mailbox; the lifecycle the
 * controller runs (broker.c: boot, timers, shutdown; main.c calls it).
 *
 * Who includes it: the .c files that work on the broker's state (the request
 * processors, client/, out/, transaction/, ha/, metrics/, controller/,
 * broker_meta.c), directly or through broker_meta.h. Self-contained services
 * get a context struct from the controller instead (schedule/, longpoll/,
 * acl/acl.c) and do not depend on it; nor do the metadata tables (meta/),
 * request.c and the store. No other header includes it, and it includes only
 * the headers of the types it holds by value (configuration, metadata tables,
 * store, common): a file that needs a subsystem includes that subsystem's
 * header itself. So broker.c includes the services, the services include
 * this, and nothing includes broker.c's services back through it:
 * tests/check_broker_includes.sh (ctest broker_includes) fails on a cycle,
 * and RMQ_BROKER_LEAF in CMakeLists.txt makes including it from a
 * self-contained service a compile error.
 *
 * Threads: everything in rmq_broker_t belongs to the I/O thread (the one
 * running `base`) except `mbox`, which other threads post to. */
#ifndef RMQ_BROKER_H
#define RMQ_BROKER_H

#ifdef RMQ_BROKER_LEAF
#error "this file is a self-contained broker service: take what it needs through a context, not broker.h"
#endif

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker_conf.h"
#include "meta/consumer_offset.h"
#include "rmq_cmd.h"
#include "rmq_file_writer.h"
#include "rmq_mailbox.h"
#include "rmq_conn.h"
#include "rmq_msg_codec.h"
#include "rmq_store.h"
#include "meta/snapshot.h"
#include "meta/sub_group.h"
#include "meta/topic_config.h"

typedef struct rmq_client_mgr_s rmq_client_mgr_t;
typedef struct rmq_pull_hold_s rmq_pull_hold_t;
typedef struct rmq_namesrv_api_s rmq_namesrv_api_t;
typedef struct rmq_broker_metrics_s rmq_broker_metrics_t;
typedef struct rmq_ha_s rmq_ha_t;
typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_acl_s rmq_acl_t;
typedef struct rmq_schedule_s rmq_schedule_t;

/* The persisted metadata tables (broker_meta.c binds them, meta/snapshot.h
 * loads and writes them). */
typedef enum {
    RMQ_BROKER_META_DELAY,
    RMQ_BROKER_META_TOPICS,
    RMQ_BROKER_META_GROUPS,
    RMQ_BROKER_META_OFFSETS,
    RMQ_BROKER_META_COUNT
} rmq_broker_meta_t;

struct rmq_broker_s {
    rmq_broker_conf_t conf;
    rmq_store_config_t store_conf;
    rmq_store_t *store;
    struct event_base *base;
    rmq_endpoint_t *server;     /* listenPort */
    rmq_endpoint_t *vip_server; /* listenPort - 2 (no PULL_MESSAGE) */
    rmq_endpoint_t *client;     /* to name servers */
    rmq_netguard_t *guard;      /* connection caps / input budget of both server ports */
    rmq_tls_t *tls_server;      /* tls.server.mode of both server ports */
    rmq_tls_t *tls_client;      /* tls.enable: connections to the name servers */
    rmq_acl_t *acl;             /* aclEnable: the request check (acl/acl.h) */

    rmq_topic_mgr_t topics;
    rmq_sub_group_mgr_t groups;
    rmq_offset_mgr_t offsets;
    rmq_client_mgr_t *clients;
    rmq_pull_hold_t *hold;
    rmq_namesrv_api_t *ns;
    struct rmq_topic_sync_s *tsync; /* topic changes: journal, registration, snapshot (topic_sync.h) */
    rmq_file_writer_t *snap;        /* "SnapWriter": metadata files */
    rmq_schedule_t *schedule;
    rmq_meta_table_t meta[RMQ_BROKER_META_COUNT]; /* the tables above, as persisted metadata */
    struct rmq_txn_s *txn;                        /* transactional messages (transaction/) */
    rmq_ha_t *ha;                                 /* replication (ha/ha.h) */
    struct rmq_ctrl_s
        *ctrl; /* controller mode: elections through etcd (controller/controller.h); NULL otherwise */
    rmq_map_t *mq_locks; /* LOCK_BATCH_MQ: "group\1topic\1broker\1qid" -> holder (processor/admin.c) */
    rmq_broker_metrics_t *metrics; /* NULL unless metricsExporterType=PROM (metrics/broker_metrics.h) */
    char config_dir[4096];

    /* Set by the controller (broker.c), called by broker_meta.c: a table
     * was handed to the snapshot writer (replication ships it to the
     * slaves); the topic set changed (re-registration with the name
     * servers). The metadata code so never calls the services above it. */
    void (*meta_persisted)(rmq_broker_t *b, rmq_broker_meta_t which);
    void (*topics_changed)(rmq_broker_t *b);

    rmq_msg_host_t store_host;
    char broker_addr[128]; /* brokerIP1:listenPort */
    char ha_addr[128];
    bool is_slave;
    int64_t reg_id; /* the brokerId registered with the name servers: brokerId, or in controller mode 0 while
                     * master, brokerId while replica, -1 while fenced (not registering) */
    bool shutting_down;

    rmq_mailbox_t *mbox; /* any thread -> I/O thread */

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

/* Lifecycle (broker.c). */
rmq_broker_t *rmq_broker_new(void);
rmq_err_t rmq_broker_start(rmq_broker_t *b, char *errstr, size_t errstr_size);
/* Run the loop until SIGTERM/SIGINT, then shut down cleanly. */
int rmq_broker_run(rmq_broker_t *b);
void rmq_broker_destroy(rmq_broker_t *b);

#endif
