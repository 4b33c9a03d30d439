/* broker.c - the broker controller: boot (config, store, metadata,
 * services with their contexts, ports, registration), timers and signals,
 * and clean shutdown (unregister, answer or drop parked requests, flush,
 * snapshot, remove `abort`), and the wiring between the parts (the
 * metadata hooks: a persisted table goes to replication, a changed topic set
 * to registration). Nothing else calls into it: the metadata glue is
 * broker_meta.c, the request helpers request.c, the components live in the
 * sub-folders.
 * Thread: main builds everything, then the same thread becomes the io
 * thread by running the event loop. Other threads only reach it through the
 * mailbox (b->mbox).
 * Never: fsync / create / unlink files from an event callback (snapshots go
 * to the writer thread; the final snapshot is written after the loop ends). */
#include "broker.h"
#include "broker_meta.h"
#include "request.h"
#include "schedule/schedule.h"
#include "transaction/transaction.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl/acl.h"
#include "client/client_mgr.h"
#include "controller/controller.h"
#include "metrics/broker_metrics.h"
#include "ha/ha.h"
#include "out/namesrv_api.h"
#include "processor/processor.h"
#include "longpoll/pull_hold.h"
#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"
#include "topic_sync.h"

/* ---------- timers, signals, connections ---------- */

static void persist_offsets_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->offsets.dirty)
        rmq_broker_persist(b, RMQ_BROKER_META_OFFSETS);
    if (b->schedule && b->schedule->dirty)
        rmq_broker_persist(b, RMQ_BROKER_META_DELAY);
}

static void persist_meta_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    rmq_broker_persist(b, RMQ_BROKER_META_TOPICS);
    rmq_broker_persist(b, RMQ_BROKER_META_GROUPS);
}

/* Shutdown, step 2: let the sends waiting for their group commit be answered
 * (bounded by syncFlushTimeout), then leave the loop. */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->pending_sends > 0 && rmq_mono_ms() < b->drain_deadline)
        return;
    if (b->pending_sends > 0)
        rmq_log(RMQ_LOG_WARN, "broker", "%lld sends still waiting for the flush at shutdown",
                (long long)b->pending_sends);
    event_base_loopexit(b->base, NULL);
}

static void unregistered(rmq_broker_t *b)
{
    if (b->pending_sends == 0) {
        event_base_loopexit(b->base, NULL);
        return;
    }
    b->drain_deadline = rmq_mono_ms() + b->store_conf.syncFlushTimeout + 500;
    b->ev_drain = event_new(b->base, -1, EV_PERSIST, drain_cb, b);
    struct timeval tv = {0, 20000};
    event_add(b->ev_drain, &tv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    rmq_broker_t *b = arg;
    if (b->shutting_down)
        return;
    rmq_log(RMQ_LOG_INFO, "broker", "signal %d: shutting down", (int)sig);
    b->shutting_down = true;
    rmq_namesrv_api_unregister_all(b->ns, unregistered);
}

static void conn_closed_cb(rmq_conn_t *conn, void *ctx)
{
    rmq_broker_t *b = ctx;
    if (b->clients && !b->shutting_down)
        rmq_client_mgr_conn_closed(b->clients, conn);
}

static void register_handlers(rmq_broker_t *b, rmq_endpoint_t *ep, bool vip)
{
    rmq_proc_send_register(b, ep);
    if (!vip)
        rmq_proc_pull_register(b, ep);
    rmq_proc_offset_register(b, ep);
    rmq_proc_client_register(b, ep);
    rmq_proc_admin_register(b, ep);
    rmq_proc_query_register(b, ep);
    rmq_proc_end_transaction_register(b, ep);
    rmq_endpoint_set_close_cb(ep, conn_closed_cb, b);
    rmq_acl_install(b->acl, ep);
}

/* The metadata hooks (broker_meta.h): replication ships a persisted table
 * to the slaves under its own kind; a changed topic set is journalled and
 * registered (topic_sync.h; before start: persisted and registered). */
static void meta_persisted(rmq_broker_t *b, rmq_broker_meta_t which)
{
    static const rmq_ha_meta_kind_t kind[RMQ_BROKER_META_COUNT] = {
        [RMQ_BROKER_META_DELAY] = RMQ_HA_META_DELAY,
        [RMQ_BROKER_META_TOPICS] = RMQ_HA_META_TOPICS,
        [RMQ_BROKER_META_GROUPS] = RMQ_HA_META_GROUPS,
        [RMQ_BROKER_META_OFFSETS] = RMQ_HA_META_OFFSETS,
    };
    rmq_ha_meta_changed(b->ha, kind[which]);
}

static void topics_changed(rmq_broker_t *b)
{
    if (b->tsync) { /* journal, incremental registration, coalesced snapshot */
        rmq_topic_sync_changed(b->tsync);
        return;
    }
    rmq_broker_persist_topics(b);
    if (b->ns)
        rmq_namesrv_api_register_all(b->ns);
}

rmq_broker_t *rmq_broker_new(void)
{
    rmq_broker_t *b = rmq_calloc(1, sizeof(*b));
    rmq_broker_conf_init(&b->conf);
    rmq_store_config_init(&b->store_conf);
    rmq_topic_mgr_init(&b->topics);
    rmq_sub_group_mgr_init(&b->groups);
    rmq_offset_mgr_init(&b->offsets);
    b->schedule = rmq_schedule_new();
    b->meta_persisted = meta_persisted;
    b->topics_changed = topics_changed;
    b->send_back_delay = true;
    return b;
}

static bool resolve_ipv4(const char *host, uint8_t out[4])
{
    if (inet_pton(AF_INET, host, out) == 1)
        return true;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return false;
    memcpy(out, &((struct sockaddr_in *)res->ai_addr)->sin_addr, 4);
    freeaddrinfo(res);
    return true;
}

rmq_err_t rmq_broker_start(rmq_broker_t *b, char *errstr, size_t errstr_size)
{
    b->boot_ms = rmq_now_ms();
    b->is_slave = b->store_conf.brokerRole == RMQ_ROLE_SLAVE; /* the store says the same once open */
    snprintf(b->broker_addr, sizeof(b->broker_addr), "%s:%d", b->conf.brokerIP1, b->conf.listenPort);
    snprintf(b->ha_addr, sizeof(b->ha_addr), "%s:%d", b->conf.brokerIP2, b->conf.haListenPort);
    /* role, broker id and replication settings are checked before anything starts */
    b->reg_id = b->conf.brokerId;
    if (rmq_ctrl_check_conf(b, errstr, errstr_size) != RMQ_OK)
        return RMQ_ERR__INVALID_ARG;
    b->ha = rmq_ha_new(b, errstr, errstr_size);
    if (!b->ha)
        return RMQ_ERR__INVALID_ARG;
    b->store_host.v6 = 0;
    if (!resolve_ipv4(b->conf.brokerIP1, b->store_host.addr)) {
        snprintf(errstr, errstr_size, "brokerIP1 %s is not an IPv4 address or resolvable host",
                 b->conf.brokerIP1);
        return RMQ_ERR__INVALID_ARG;
    }
    b->store_host.port = b->conf.listenPort;

    snprintf(b->config_dir, sizeof(b->config_dir), "%s/config", b->store_conf.storePathRootDir);
    if (rmq_mkdirs(b->config_dir) != 0) {
        snprintf(errstr, errstr_size, "cannot create %s: %s", b->config_dir, strerror(errno));
        return RMQ_ERR__IO;
    }
    rmq_broker_meta_load(b);
    b->tsync = rmq_topic_sync_open(b, errstr, errstr_size); /* topic changes after the snapshot */
    if (!b->tsync)
        return RMQ_ERR__IO;
    rmq_broker_meta_ready(b);
    rmq_topic_sync_started(b->tsync);

    b->store = rmq_store_open(&b->store_conf, errstr, errstr_size);
    if (!b->store)
        return RMQ_ERR__IO;
    if (b->conf.enableControllerMode) { /* a replica until elected */
        b->is_slave = true;
        rmq_store_set_slave(b->store, true);
    }
    b->txn = rmq_txn_new(b);
    rmq_txn_load(b->txn);

    b->base = rmq_loop_base_new();
    if (!b->base) {
        snprintf(errstr, errstr_size, "event_base_new failed");
        return RMQ_ERR__NOMEM;
    }
    b->mbox = rmq_mailbox_new(b->base);
    b->snap = rmq_snapshot_writer_start();
    rmq_pull_hold_ctx_t hctx = {b->base, b->mbox, b->store, b->conf.pullHoldCheckInterval, rmq_pull_rerun, b};
    b->hold = rmq_pull_hold_new(&hctx);
    b->clients = rmq_client_mgr_new(b);
    rmq_store_set_arrived_cb(b->store, rmq_pull_hold_arrived_cb, b->hold);

    b->guard = rmq_netguard_new(&b->conf.guard);
    b->tls_server = rmq_tls_server_new(&b->conf.tls, "broker", errstr, errstr_size);
    if (!b->tls_server)
        return RMQ_ERR__INVALID_ARG;
    b->tls_client = rmq_tls_client_new(&b->conf.tls, "broker", errstr, errstr_size);
    if (!b->tls_client && errstr[0])
        return RMQ_ERR__INVALID_ARG;
    if (b->conf.aclEnable) {
        rmq_acl_ctx_t actx = {b->conf.rocketmqHome, b->conf.aclPlainFile, b->conf.aclFileWatchInterval,
                              b->mbox, b->guard};
        b->acl = rmq_acl_start(&actx, errstr, errstr_size);
        if (!b->acl)
            return RMQ_ERR__INVALID_ARG;
    }

    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.name = "broker";
    o.guard = b->guard;
    o.tls = b->tls_server;
    o.max_output = (size_t)b->conf.maxConnectionOutputBytes;
    o.idle_timeout_ms = b->conf.serverChannelMaxIdleTimeSeconds * 1000;
    const char *host = b->conf.listenAddress && *b->conf.listenAddress ? b->conf.listenAddress : "0.0.0.0";
    b->server = rmq_server_new(b->base, host, b->conf.listenPort, &o, errstr, errstr_size);
    if (!b->server)
        return RMQ_ERR__IO;
    register_handlers(b, b->server, false);
    char verr[256];
    b->vip_server = rmq_server_new(b->base, host, b->conf.listenPort - 2, &o, verr, sizeof(verr));
    if (b->vip_server)
        register_handlers(b, b->vip_server, true);
    else
        rmq_log(RMQ_LOG_WARN, "broker", "VIP channel on port %d not available: %s", b->conf.listenPort - 2,
                verr);

    rmq_endpoint_opts_t co;
    rmq_endpoint_opts_default(&co);
    co.name = "broker-ns";
    co.idle_timeout_ms = 0;
    co.tls = b->tls_client;
    b->client = rmq_client_new(b->base, &co);

    if (rmq_store_start(b->store) != RMQ_OK) {
        snprintf(errstr, errstr_size, "store start failed");
        return RMQ_ERR__IO;
    }
    b->ev_persist_offsets =
        rmq_timer_new(b->base, b->conf.flushConsumerOffsetInterval, true, persist_offsets_cb, b);
    b->ev_persist_meta = rmq_timer_new(b->base, b->conf.flushMetadataInterval, true, persist_meta_cb, b);
    b->ev_sigterm = evsignal_new(b->base, SIGTERM, signal_cb, b);
    b->ev_sigint = evsignal_new(b->base, SIGINT, signal_cb, b);
    event_add(b->ev_sigterm, NULL);
    event_add(b->ev_sigint, NULL);
    rmq_schedule_ctx_t sctx = {b->base, b->store, b->store_host, &b->shutting_down};
    rmq_schedule_start(b->schedule, &sctx);
    rmq_txn_start(b->txn);
    if (rmq_broker_metrics_start(b, &b->metrics, errstr, errstr_size) != RMQ_OK)
        return RMQ_ERR__INVALID_ARG;
    if (rmq_ha_start(b->ha, errstr, errstr_size) != RMQ_OK)
        return RMQ_ERR__IO;
    if (b->conf.enableControllerMode) {
        b->ctrl = rmq_ctrl_new(b, errstr, errstr_size);
        if (!b->ctrl)
            return RMQ_ERR__INVALID_ARG;
        rmq_err_t ce = rmq_ctrl_start(b->ctrl, errstr, errstr_size);
        if (ce != RMQ_OK)
            return ce;
    }
    b->ns = rmq_namesrv_api_new(b);
    rmq_namesrv_api_register_all(b->ns);
    return RMQ_OK;
}

int rmq_broker_run(rmq_broker_t *b)
{
    printf("The broker[%s, %s] boot success. serializeType=JSON and name server is %s\n", b->conf.brokerName,
           b->broker_addr, b->conf.namesrvAddr && *b->conf.namesrvAddr ? b->conf.namesrvAddr : "(none)");
    fflush(stdout);
    rmq_log(RMQ_LOG_INFO, "broker",
            "The broker[%s, %s] boot success. serializeType=JSON and name server is %s", b->conf.brokerName,
            b->broker_addr, b->conf.namesrvAddr);
    event_base_dispatch(b->base);
    rmq_log(RMQ_LOG_INFO, "broker", "event loop stopped");
    return 0;
}

/* Destroy a component and clear its pointer, so that what is torn down after
 * it (the mailbox drain, the final snapshot) cannot reach it. */
#define TEAR_DOWN(destroy, field) ((destroy)(field), (field) = NULL)

void rmq_broker_destroy(rmq_broker_t *b)
{
    if (!b)
        return;
    b->shutting_down = true;
    /* controller mode: give up the lease first (a master's group elects at
     * once), before the services the Controller steers go away */
    TEAR_DOWN(rmq_ctrl_destroy, b->ctrl);
    TEAR_DOWN(rmq_broker_metrics_stop, b->metrics); /* joins the metrics HTTP thread */
    rmq_acl_stop(b->acl);                           /* no more reloads posted */
    /* stop accepting and answering (parked pulls are dropped: clients retry) */
    TEAR_DOWN(rmq_endpoint_destroy, b->vip_server);
    TEAR_DOWN(rmq_endpoint_destroy, b->server);
    /* replication stops before the store: its thread reads and appends */
    rmq_ha_stop(b->ha);
    /* the store flushes everything and stops its threads; SYNC_FLUSH
     * completions and arrivals land in the mailbox, which is drained while
     * the hold service (the arrived hook's target) still exists; the check
     * service's last progress is committed first (the store flushes
     * everything below before the offsets snapshot is written) */
    TEAR_DOWN(rmq_txn_destroy, b->txn);
    rmq_schedule_stop(b->schedule);
    TEAR_DOWN(rmq_store_destroy, b->store);
    if (b->mbox)
        rmq_mailbox_drain(b->mbox);
    TEAR_DOWN(rmq_acl_free, b->acl);
    TEAR_DOWN(rmq_pull_hold_destroy, b->hold);
    /* final metadata snapshot, synchronously (the loop is no longer running) */
    TEAR_DOWN(rmq_file_writer_stop, b->snap);
    if (b->base)
        rmq_broker_persist_all(b);
    TEAR_DOWN(rmq_topic_sync_close, b->tsync);
    TEAR_DOWN(rmq_ha_destroy, b->ha);
    TEAR_DOWN(rmq_schedule_destroy, b->schedule);
    TEAR_DOWN(rmq_endpoint_destroy, b->client);
    TEAR_DOWN(rmq_netguard_free, b->guard);
    TEAR_DOWN(rmq_tls_free, b->tls_server);
    TEAR_DOWN(rmq_tls_free, b->tls_client);
    TEAR_DOWN(rmq_namesrv_api_destroy, b->ns);
    TEAR_DOWN(rmq_client_mgr_destroy, b->clients);
    rmq_proc_admin_cleanup(b);
    struct event *evs[] = {b->ev_persist_offsets, b->ev_persist_meta, b->ev_sigterm, b->ev_sigint,
                           b->ev_drain};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        rmq_event_free(evs[i]);
    rmq_mailbox_free(b->mbox);
    if (b->base)
        event_base_free(b->base);
    rmq_topic_mgr_deinit(&b->topics);
    rmq_sub_group_mgr_deinit(&b->groups);
    rmq_offset_mgr_deinit(&b->offsets);
    rmq_broker_conf_deinit(&b->conf);
    rmq_store_config_deinit(&b->store_conf);
    free(b);
}
