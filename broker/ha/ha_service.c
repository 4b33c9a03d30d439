/* ha_service.c - the HA service's frame: settings checks, the "HAService"
 * thread and its event loop, shared helpers for both roles (sending,
 * reading and refusing frames), the status shown by GET_BROKER_RUNTIME_INFO,
 * and the store hook that wakes the loop when the commit log grows.
 *
 * Owns: rmq_ha_t, the HA event loop, its mailbox and timers.
 * Runs: new/start/stop/destroy on the broker's main or I/O thread; the loop
 * and everything it calls on "HAService"; rmq_ha_runtime_info on the I/O
 * thread (reads a status snapshot under a mutex).
 * Never: touches broker tables or connections of the broker's endpoints
 * from the HA thread, or blocks the I/O thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/util.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "broker.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"
#include "rmq_tls.h"

#define TICK_MS 100

int64_t rmq_ha_mono_ms(void)
{
    return rmq_mono_ms();
}

/* ------------------------------------------------------------- settings */

static bool parse_host_port(const char *addr, char *host, size_t hn, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= hn)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        return false;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    *port = (int)p;
    return true;
}

rmq_err_t rmq_ha_parse_addr(const char *addr, struct sockaddr_storage *ss, int *len)
{
    memset(ss, 0, sizeof(*ss));
    *len = sizeof(*ss);
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, len) == 0)
        return RMQ_OK;
    char host[200];
    int port;
    if (!parse_host_port(addr, host, sizeof(host), &port))
        return RMQ_ERR__INVALID_ARG;
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res)
        return RMQ_ERR__NOENT;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    *len = (int)res->ai_addrlen;
    freeaddrinfo(res);
    return RMQ_OK;
}

rmq_ha_t *rmq_ha_new(rmq_broker_t *b, char *errstr, size_t n)
{
    const rmq_broker_conf_t *c = &b->conf;
    const char *role = rmq_broker_role_names[b->store_conf.brokerRole];
    bool slave = b->store_conf.brokerRole == RMQ_ROLE_SLAVE;
    bool sync_master = b->store_conf.brokerRole == RMQ_ROLE_SYNC_MASTER;
    bool controlled = c->enableControllerMode; /* role and id checked by broker/controller */
    if (controlled)
        slave = true; /* a replica following nobody until the election says otherwise */
    if (!controlled && slave && c->brokerId <= 0) {
        snprintf(errstr, n,
                 "brokerRole=SLAVE needs brokerId >= 1 (got %lld): brokerId 0 is the master of broker %s",
                 (long long)c->brokerId, c->brokerName);
        return NULL;
    }
    if (!controlled && !slave && c->brokerId != 0) {
        snprintf(errstr, n,
                 "brokerRole=%s needs brokerId=0 (got %lld): a slave is brokerRole=SLAVE with brokerId >= 1",
                 role, (long long)c->brokerId);
        return NULL;
    }
    if (c->haListenPort == c->listenPort || c->haListenPort == c->listenPort - 2) {
        snprintf(errstr, n, "haListenPort %d collides with listenPort %d or its VIP port %d", c->haListenPort,
                 c->listenPort, c->listenPort - 2);
        return NULL;
    }
    if (c->haMasterAddress && *c->haMasterAddress) {
        char host[200];
        int port;
        if (!parse_host_port(c->haMasterAddress, host, sizeof(host), &port)) {
            snprintf(errstr, n, "haMasterAddress '%s' is not host:port", c->haMasterAddress);
            return NULL;
        }
        if (!slave)
            rmq_log(RMQ_LOG_WARN, "ha", "haMasterAddress is only used by a SLAVE; ignored by this %s", role);
    }
    rmq_ha_t *ha = rmq_calloc(1, sizeof(*ha));
    ha->b = b;
    ha->master = !slave;
    ha->sync_master = sync_master;
    ha->controlled = controlled;
    atomic_init(&ha->fence_until, 0);
    atomic_init(&ha->fence_refusals, 0);
    for (int id = 0; id < RMQ_HA_MAX_IDS; id++) {
        atomic_init(&ha->id_acked[id], -1);
        atomic_init(&ha->id_add_hw[id], -1);
    }
    ha->isr_size = 1;
    ha->min_isr = 1;
    snprintf(ha->cluster, sizeof(ha->cluster), "%s", c->brokerClusterName);
    snprintf(ha->broker_name, sizeof(ha->broker_name), "%s", c->brokerName);
    snprintf(ha->broker_addr, sizeof(ha->broker_addr), "%s", b->broker_addr);
    snprintf(ha->listen_host, sizeof(ha->listen_host), "%s",
             c->listenAddress && *c->listenAddress ? c->listenAddress : "0.0.0.0");
    ha->broker_id = c->brokerId;
    ha->listen_port = c->haListenPort;
    ha->batch = (size_t)c->haTransferBatchSize;
    ha->fallbehind = c->haSlaveFallbehindMax;
    ha->heartbeat_ms = c->haSendHeartbeatInterval;
    ha->housekeeping_ms = c->haHousekeepingInterval;
    ha->slave_timeout_ms = c->slaveTimeout;
    ha->segment_size = b->store_conf.mappedFileSizeCommitLog;
    snprintf(ha->ha_master_conf, sizeof(ha->ha_master_conf), "%s",
             slave && c->haMasterAddress ? c->haMasterAddress : "");
    rmq_status_pairs_init(&ha->status);
    atomic_init(&ha->acked_max, 0);
    atomic_init(&ha->ready_slaves, 0);
    atomic_init(&ha->progress_posted, false);
    atomic_init(&ha->slaves_gone_gen, 0);
    atomic_init(&ha->data_wanted, false);
    ha->link.ha = ha;
    ha->link.backoff_ms = 0;
    rmq_ha_sync_init(ha);
    rmq_ha_meta_init(ha);
    return ha;
}

/* -------------------------------------------------------------- helpers */

void rmq_ha_post_io(rmq_ha_t *ha, rmq_job_fn *fn, void *arg)
{
    rmq_mailbox_post(ha->b->mbox, fn, arg);
}

void rmq_ha_send(struct bufferevent *bev, const rmq_ha_frame_t *f)
{
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_ha_frame_encode(f, &out);
    bufferevent_write(bev, out.data, out.len);
    rmq_buf_free(&out);
}

void rmq_ha_hello_init(rmq_ha_t *ha, Comet__Ha__Hello *h, Comet__Ha__Role role, int64_t broker_id)
{
    comet__ha__hello__init(h);
    h->protocol_version = RMQ_HA_PROTOCOL_VERSION;
    h->cluster = ha->cluster;
    h->broker_name = ha->broker_name;
    h->broker_id = broker_id;
    h->role = role;
    h->segment_size = ha->segment_size;
    h->broker_addr = ha->broker_addr;
}

static void close_after_flush_cb(struct bufferevent *bev, void *arg)
{
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        bufferevent_free(bev);
}

static void close_event_cb(struct bufferevent *bev, short what, void *arg)
{
    bufferevent_free(bev);
}

void rmq_ha_refuse_bev(rmq_ha_t *ha, struct bufferevent *bev, const char *peer, int reason, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    rmq_ha_refuse_bev_v(ha, bev, peer, reason, fmt, ap);
    va_end(ap);
}

void rmq_ha_refuse_bev_v(rmq_ha_t *ha, struct bufferevent *bev, const char *peer, int reason, const char *fmt,
                         va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    rmq_log(RMQ_LOG_WARN, "ha", "closing the HA connection with %s: %s", peer, msg);
    Comet__Ha__Refusal r = COMET__HA__REFUSAL__INIT;
    r.reason = (Comet__Ha__Refusal__Reason)reason;
    r.message = msg;
    r.epoch = ha->epoch;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_REFUSAL;
    f.refusal = &r;
    /* stop reading; let the refusal reach the peer, then close */
    bufferevent_disable(bev, EV_READ);
    rmq_ha_send(bev, &f);
    bufferevent_setcb(bev, NULL, close_after_flush_cb, close_event_cb, NULL);
    bufferevent_enable(bev, EV_WRITE);
    struct timeval tv = {1, 0};
    bufferevent_set_timeouts(bev, NULL, &tv);
}

int rmq_ha_read_frames(struct bufferevent *bev, ha_frame_fn *fn, ha_bad_frame_fn *bad, void *ctx)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    char why[256];
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 4)
            return 1;
        uint8_t hdr[4];
        evbuffer_copyout(in, hdr, 4);
        size_t total = 0;
        if (rmq_ha_frame_peek(hdr, 4, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)) == RMQ_HA_FRAME_BAD) {
            bad(ctx, why);
            return -1;
        }
        total = (size_t)rmq_be32(hdr) + 4;
        if (avail < total)
            return 1;
        const uint8_t *p = evbuffer_pullup(in, (ssize_t)total);
        rmq_ha_frame_t *f = rmq_ha_frame_decode(p + 4, total - 4, why, sizeof(why));
        evbuffer_drain(in, total);
        if (!f) {
            bad(ctx, why);
            return -1;
        }
        if (!fn(ctx, f))
            return 0;
    }
}

bool rmq_ha_expect_frame(const rmq_ha_frame_t *f, int want, const char *want_name, ha_bad_frame_fn *bad,
                         void *ctx)
{
    if ((int)f->msg_case == want)
        return true;
    char why[64];
    snprintf(why, sizeof(why), "expected %s, got %s", want_name, rmq_ha_frame_name(f));
    bad(ctx, why);
    return false;
}

ha_blob_t *rmq_ha_blob_new(const rmq_buf_t *frames, int64_t log_offset)
{
    ha_blob_t *b = rmq_malloc(sizeof(*b) + frames->len);
    atomic_init(&b->refs, 1);
    b->log_offset = log_offset;
    b->len = frames->len;
    memcpy(b->data, frames->data, frames->len);
    return b;
}

void rmq_ha_blob_unref(ha_blob_t *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

typedef struct {
    rmq_ha_t *ha;
    uint64_t id;
    void *data;
    union {
        ha_job_fn *job;
        ha_blob_fn *blob;
    } fn;
} ha_job_t;

static ha_job_t *job_new(rmq_ha_t *ha, uint64_t id, void *data)
{
    ha_job_t *j = rmq_malloc(sizeof(*j));
    j->ha = ha;
    j->id = id;
    j->data = data;
    return j;
}

static void run_job(void *arg)
{
    ha_job_t *j = arg;
    j->fn.job(j->ha, j->id, j->data);
    free(j);
}

void rmq_ha_io_job(rmq_ha_t *ha, ha_job_fn *fn, uint64_t id, void *data)
{
    ha_job_t *j = job_new(ha, id, data);
    j->fn.job = fn;
    rmq_ha_post_io(ha, run_job, j);
}

static void apply_job(rmq_ha_t *ha, uint64_t id, void *f)
{
    (void)id;
    rmq_ha_meta_apply(ha, f);
}

void rmq_ha_apply_on_io(rmq_ha_t *ha, rmq_ha_frame_t *f)
{
    rmq_ha_io_job(ha, apply_job, 0, f);
}

static void run_blob_job(void *arg)
{
    ha_job_t *j = arg;
    j->fn.blob(j->ha, j->id, j->data);
    free(j);
}

void rmq_ha_post_blob(rmq_ha_t *ha, ha_blob_fn *fn, uint64_t id, const rmq_buf_t *frames, int64_t log_offset)
{
    ha_job_t *j = job_new(ha, id, rmq_ha_blob_new(frames, log_offset));
    j->fn.blob = fn;
    rmq_mailbox_post(ha->mbox, run_blob_job, j);
}

/* --------------------------------------------------------------- status */

void rmq_ha_publish_status(rmq_ha_t *ha)
{
    rmq_buf_t o;
    rmq_buf_init(&o);
    if (ha->master)
        rmq_ha_master_status(ha, &o);
    else
        rmq_ha_slave_status(ha, &o);
    rmq_status_pairs_publish(&ha->status, &o);
}

void rmq_ha_runtime_info(rmq_ha_t *ha, void (*kv)(void *o, const char *k, const char *v), void *o)
{
    if (!ha)
        return;
    rmq_status_pairs_each(&ha->status, kv, o);
}

/* ------------------------------------------------------------ the thread */

static void on_appended(void *opaque)
{
    rmq_ha_t *ha = opaque;
    if (atomic_load_explicit(&ha->data_wanted, memory_order_relaxed) &&
        atomic_exchange(&ha->data_wanted, false))
        event_active(ha->ev_data, EV_READ, 0);
}

static void data_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ha_master_pump_all(arg);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ha_t *ha = arg;
    if (ha->master)
        rmq_ha_master_tick(ha);
    else
        rmq_ha_slave_tick(ha);
    rmq_ha_publish_status(ha);
}

static void ha_main(rmq_service_t *svc, void *arg)
{
    rmq_ha_t *ha = arg;
    event_base_dispatch(ha->base);
}

static void set_master_job(void *arg)
{
    char **p = arg;
    rmq_ha_t *ha = (rmq_ha_t *)p[0];
    if (!ha->stopping)
        rmq_ha_slave_set_addr(ha, p[1]);
    free(p[1]);
    free(p);
}

rmq_err_t rmq_ha_start(rmq_ha_t *ha, char *errstr, size_t n)
{
    rmq_broker_t *b = ha->b;
    ha->store = b->store;
    if (ha->controlled) {
        ha->epoch = rmq_store_epoch_last(ha->store); /* epochs come from the elections */
    } else if (ha->master) {
        rmq_err_t pe = rmq_ha_probe_other_master(ha, errstr, n);
        if (pe != RMQ_OK)
            return pe;
        /* a new term: a replica whose log ran past this master's end learns
         * where the two logs part */
        int64_t epoch = rmq_store_epoch_last(ha->store) + 1;
        if (rmq_store_epoch_begin(ha->store, epoch) != RMQ_OK) {
            snprintf(errstr, n, "cannot write the epoch file under %s", b->store_conf.storePathRootDir);
            return RMQ_ERR__IO;
        }
        ha->epoch = epoch;
        ha->n_epochs = rmq_store_epochs(ha->store, &ha->epochs);
    } else {
        ha->epoch = rmq_store_epoch_last(ha->store);
    }
    if (b->conf.haTlsEnable) {
        /* the broker's tls.* material (tls.config.file already applied to it),
         * TLS forced on: a master serves it, a slave connects with it */
        rmq_tls_conf_t tc = b->conf.tls;
        tc.config_file = NULL;
        tc.server_mode = RMQ_TLS_ENFORCING;
        tc.enable = true;
        char terr[400] = "";
        ha->tls = ha->master ? rmq_tls_server_new(&tc, "ha", terr, sizeof(terr))
                             : rmq_tls_client_new(&tc, "ha", terr, sizeof(terr));
        if (!ha->tls) {
            snprintf(errstr, n, "haTlsEnable=true: %s", terr[0] ? terr : "TLS set-up failed");
            return RMQ_ERR__INVALID_ARG;
        }
    }
    ha->base = rmq_loop_base_new();
    if (!ha->base) {
        snprintf(errstr, n, "event_base_new failed");
        return RMQ_ERR__NOMEM;
    }
    ha->mbox = rmq_mailbox_new(ha->base);
    ha->ev_data = event_new(ha->base, -1, EV_READ, data_cb, ha);
    ha->ev_tick = event_new(ha->base, -1, EV_PERSIST, tick_cb, ha);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(ha->ev_tick, &tv);
    if (ha->master || ha->controlled) {
        /* controller mode: the port is open from the start (a replica
         * refuses slaves until it leads) */
        rmq_err_t e = rmq_ha_master_listen(ha, errstr, n);
        if (e)
            return e;
        rmq_store_set_append_cb(ha->store, on_appended, ha);
    } else {
        ha->link.ev_retry = NULL;
        if (ha->ha_master_conf[0]) {
            char **p = rmq_malloc(2 * sizeof(*p));
            p[0] = (char *)ha;
            p[1] = rmq_strdup(ha->ha_master_conf);
            rmq_mailbox_post(ha->mbox, set_master_job, p);
        }
    }
    rmq_ha_publish_status(ha);
    ha->svc = rmq_service_new("HAService", ha_main, ha);
    if (rmq_service_start(ha->svc) != RMQ_OK) {
        snprintf(errstr, n, "cannot start the HAService thread");
        return RMQ_ERR__IO;
    }
    if (ha->controlled)
        rmq_log(RMQ_LOG_INFO, "ha",
                "%s, controller mode: HA port %s:%d; a replica until elected (epoch %lld so far)",
                ha->broker_name, ha->listen_host, ha->listen_port, (long long)ha->epoch);
    else if (ha->master)
        rmq_log(RMQ_LOG_INFO, "ha", "%s %s epoch %lld: HA port %s:%d",
                ha->sync_master ? "SYNC_MASTER" : "ASYNC_MASTER", ha->broker_name, (long long)ha->epoch,
                ha->listen_host, ha->listen_port);
    else
        rmq_log(RMQ_LOG_INFO, "ha", "SLAVE %s id %lld: master HA address %s", ha->broker_name,
                (long long)ha->broker_id,
                ha->ha_master_conf[0] ? ha->ha_master_conf : "(from the name servers)");
    return RMQ_OK;
}

void rmq_ha_set_master(rmq_ha_t *ha, const char *ha_addr, const char *master_addr)
{
    if (!ha || ha->master || ha->controlled || ha->ha_master_conf[0] || !ha_addr || !*ha_addr || !ha->mbox)
        return; /* controller mode: the master is the one etcd names */
    if (!strcmp(ha->master_ha_addr, ha_addr))
        return;
    snprintf(ha->master_ha_addr, sizeof(ha->master_ha_addr), "%s", ha_addr);
    rmq_log(RMQ_LOG_INFO, "ha", "master of %s: %s (HA %s) according to the name server", ha->broker_name,
            master_addr ? master_addr : "?", ha_addr);
    char **p = rmq_malloc(2 * sizeof(*p));
    p[0] = (char *)ha;
    p[1] = rmq_strdup(ha_addr);
    rmq_mailbox_post(ha->mbox, set_master_job, p);
}

static void shutdown_job(void *arg)
{
    rmq_ha_t *ha = arg;
    ha->stopping = true;
    if (ha->listener)
        evconnlistener_free(ha->listener);
    ha->listener = NULL;
    rmq_ha_master_close_all(ha);
    rmq_ha_slave_close(ha);
    event_base_loopexit(ha->base, NULL);
}

void rmq_ha_stop(rmq_ha_t *ha)
{
    if (!ha || !ha->svc)
        return;
    if (ha->master || ha->controlled)
        rmq_store_set_append_cb(ha->store, NULL, NULL);
    rmq_mailbox_post(ha->mbox, shutdown_job, ha);
    rmq_service_free(ha->svc);
    ha->svc = NULL;
    /* the loop is gone: anything still posted to it runs here */
    rmq_mailbox_free(ha->mbox);
    ha->mbox = NULL;
    rmq_ha_sync_complete(ha, RMQ_PUT_FLUSH_SLAVE_TIMEOUT);
}

void rmq_ha_destroy(rmq_ha_t *ha)
{
    if (!ha)
        return;
    rmq_ha_stop(ha);
    rmq_event_clear(&ha->link.ev_retry);
    rmq_event_clear(&ha->ev_data);
    rmq_event_clear(&ha->ev_tick);
    if (ha->base)
        event_base_free(ha->base);
    rmq_ha_sync_deinit(ha);
    rmq_ha_meta_deinit(ha);
    free(ha->epochs);
    free(ha->link.master_epochs);
    rmq_status_pairs_deinit(&ha->status);
    rmq_tls_free(ha->tls);
    free(ha);
}
