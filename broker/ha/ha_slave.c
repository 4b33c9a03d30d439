/* ha_slave.c - the slave's side of replication: one connection to the
 * master's HA port (haMasterAddress, or the address a name server gave),
 * Hello with this log's end and epoch list, the Welcome (cutting a log that
 * ran past the master's), checked appends of the received records (dispatch
 * then builds consume queues and the index as on a master), Acks after each
 * read and at least every haSendHeartbeatInterval, metadata handed to the
 * broker's I/O thread, and reconnection with back-off.
 *
 * Owns: ha->link.
 * Runs: on the "HAService" thread only; it is the store's single writer on a
 * slave.
 * Never: appends bytes that did not check, or follows a master whose epoch
 * is older than one this slave has seen. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"
#include "rmq_tls.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000

static void link_connect(rmq_ha_t *ha);

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ha_t *ha = arg;
    if (!ha->stopping && ha->link.state == LINK_IDLE && ha->link.addr[0])
        link_connect(ha);
}

static void schedule_retry(rmq_ha_t *ha, int min_ms)
{
    ha_link_t *l = &ha->link;
    if (ha->stopping || !l->addr[0])
        return;
    l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (l->backoff_ms < min_ms)
        l->backoff_ms = min_ms;
    if (l->backoff_ms > BACKOFF_MAX_MS)
        l->backoff_ms = BACKOFF_MAX_MS;
    if (!l->ev_retry)
        l->ev_retry = evtimer_new(ha->base, retry_cb, ha);
    rmq_timer_add(l->ev_retry, l->backoff_ms);
}

/* The link goes idle: its connection is returned to the caller, and the
 * callbacks of the old session (l->session) no longer act. */
static struct bufferevent *link_detach(ha_link_t *l)
{
    struct bufferevent *bev = l->bev;
    l->bev = NULL;
    l->state = LINK_IDLE;
    l->session++;
    return bev;
}

static void link_drop(rmq_ha_t *ha)
{
    struct bufferevent *bev = link_detach(&ha->link);
    if (bev)
        bufferevent_free(bev);
    rmq_ha_publish_status(ha);
}

static void link_close(rmq_ha_t *ha, int retry_min_ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void link_close(rmq_ha_t *ha, int retry_min_ms, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    rmq_log(RMQ_LOG_WARN, "ha", "connection to master %s closed: %s", ha->link.addr, why);
    link_drop(ha);
    schedule_retry(ha, retry_min_ms);
}

/* Refuse the master (one log line), close, and try again later. */
static void link_refuse(rmq_ha_t *ha, int reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void link_refuse(rmq_ha_t *ha, int reason, const char *fmt, ...)
{
    struct bufferevent *bev = link_detach(&ha->link);
    va_list ap;
    va_start(ap, fmt);
    rmq_ha_refuse_bev_v(ha, bev, ha->link.addr, reason, fmt, ap);
    va_end(ap);
    rmq_ha_publish_status(ha);
    schedule_retry(ha, 1000);
}

/* A frame that is too long or does not decode (ha_bad_frame_fn). */
static void bad_frame(void *ctx, const char *why)
{
    link_refuse(ctx, COMET__HA__REFUSAL__REASON__OTHER, "%s", why);
}

static void send_hello(rmq_ha_t *ha)
{
    rmq_epoch_entry_t *e;
    size_t n = rmq_store_epochs(ha->store, &e);
    Comet__Ha__EpochEntry *ents = rmq_calloc(n + 1, sizeof(*ents));
    Comet__Ha__EpochEntry **ep = rmq_calloc(n + 1, sizeof(*ep));
    for (size_t i = 0; i < n; i++) {
        comet__ha__epoch_entry__init(&ents[i]);
        ents[i].epoch = e[i].epoch;
        ents[i].start_offset = e[i].start_offset;
        ep[i] = &ents[i];
    }
    Comet__Ha__Hello h;
    rmq_ha_hello_init(ha, &h, COMET__HA__ROLE__ROLE_SLAVE, ha->broker_id);
    h.end_offset = rmq_store_get_commitlog_max_offset(ha->store);
    h.min_offset = rmq_store_get_commitlog_min_offset(ha->store);
    if (h.min_offset > h.end_offset)
        h.min_offset = h.end_offset;
    h.epoch = n ? e[n - 1].epoch : 0;
    h.n_epochs = n;
    h.epochs = ep;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_HELLO;
    f.hello = &h;
    rmq_ha_send(ha->link.bev, &f);
    free(ents);
    free(ep);
    free(e);
}

static void send_ack(rmq_ha_t *ha)
{
    ha_link_t *l = &ha->link;
    Comet__Ha__Ack a = COMET__HA__ACK__INIT;
    a.written_offset = rmq_store_get_commitlog_max_offset(ha->store);
    a.flushed_offset = rmq_store_get_flushed_offset(ha->store);
    a.epoch = l->master_epoch;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_ACK;
    f.ack = &a;
    rmq_ha_send(l->bev, &f);
    l->acked = a.written_offset;
    l->ack_due = false;
    l->last_ack_mono = rmq_mono_ms();
}

/* The store's epoch list = the master's entries that start inside this log. */
static void keep_epochs(rmq_ha_t *ha, bool force)
{
    ha_link_t *l = &ha->link;
    int64_t end = rmq_store_get_commitlog_max_offset(ha->store);
    size_t k = 0;
    while (k < l->n_master_epochs && l->master_epochs[k].start_offset <= end)
        k++;
    if (k == l->epochs_kept && !force)
        return;
    if (rmq_store_epoch_set(ha->store, l->master_epochs, k) == RMQ_OK) {
        l->epochs_kept = k;
        ha->epoch = k ? l->master_epochs[k - 1].epoch : 0;
    }
}

/* ------------------------------------------------------------ I/O thread */

/* @thread io: offsets clients committed here while there was no master */
static void local_offsets_io(rmq_ha_t *ha, uint64_t session, void *unused)
{
    (void)unused;
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_ha_meta_encode_local(ha, &out);
    if (out.len && ha->mbox)
        rmq_ha_post_blob(ha, rmq_ha_slave_send_frames, session, &out, 0);
    rmq_buf_free(&out);
}

/* ------------------------------------------------------------- frames */

static bool on_welcome(rmq_ha_t *ha, Comet__Ha__Welcome *w)
{
    ha_link_t *l = &ha->link;
    if (w->protocol_version != RMQ_HA_PROTOCOL_VERSION) {
        link_refuse(ha, COMET__HA__REFUSAL__REASON__PROTOCOL_VERSION,
                    "master speaks protocol %u, this slave %d", w->protocol_version, RMQ_HA_PROTOCOL_VERSION);
        return false;
    }
    int64_t mine = rmq_store_epoch_last(ha->store);
    if (w->epoch < ha->min_epoch) {
        link_refuse(ha, COMET__HA__REFUSAL__REASON__STALE_EPOCH,
                    "the master's epoch %lld is older than epoch %lld the group elected (etcd)",
                    (long long)w->epoch, (long long)ha->min_epoch);
        return false;
    }
    if (w->epoch < mine) {
        link_refuse(ha, COMET__HA__REFUSAL__REASON__STALE_EPOCH,
                    "the master's epoch %lld is older than epoch %lld this slave has seen",
                    (long long)w->epoch, (long long)mine);
        return false;
    }
    for (size_t i = 0; i < w->n_epochs; i++) {
        if (w->epochs[i]->epoch <= 0 || w->epochs[i]->start_offset < 0 ||
            (i > 0 && (w->epochs[i]->epoch <= w->epochs[i - 1]->epoch ||
                       w->epochs[i]->start_offset < w->epochs[i - 1]->start_offset))) {
            link_refuse(ha, COMET__HA__REFUSAL__REASON__OTHER, "the master's epoch list is not ascending");
            return false;
        }
    }
    int64_t end = rmq_store_get_commitlog_max_offset(ha->store);
    if (w->truncate_to >= 0 && w->truncate_to < end) {
        int64_t discarded = 0;
        rmq_err_t e = rmq_store_truncate_tail(ha->store, w->truncate_to, &discarded);
        if (e != RMQ_OK) {
            link_refuse(ha, COMET__HA__REFUSAL__REASON__BAD_OFFSET, "cannot cut this log at %lld: %s",
                        (long long)w->truncate_to, rmq_err2str(e));
            return false;
        }
        rmq_log(
            RMQ_LOG_WARN, "ha",
            "this log ran past the master's (%s): %lld bytes after offset %lld discarded; consume queues and "
            "index rebuilt from there",
            l->addr, (long long)discarded, (long long)w->truncate_to);
        end = rmq_store_get_commitlog_max_offset(ha->store);
    }
    bool empty = end == 0 && rmq_store_get_commitlog_min_offset(ha->store) == 0;
    if (w->start_offset != end && !(empty && w->start_offset % ha->segment_size == 0)) {
        link_refuse(ha, COMET__HA__REFUSAL__REASON__BAD_OFFSET,
                    "the master starts at %lld but this log ends at %lld", (long long)w->start_offset,
                    (long long)end);
        return false;
    }
    free(l->master_epochs);
    l->n_master_epochs = w->n_epochs;
    l->master_epochs = rmq_malloc((w->n_epochs + 1) * sizeof(*l->master_epochs));
    for (size_t i = 0; i < w->n_epochs; i++)
        l->master_epochs[i] = (rmq_epoch_entry_t){w->epochs[i]->epoch, w->epochs[i]->start_offset};
    l->master_epoch = w->epoch;
    l->master_end = w->master_end_offset;
    keep_epochs(ha, true);
    l->state = LINK_STREAMING;
    l->backoff_ms = 0;
    l->connected_mono = rmq_mono_ms();
    l->catchup_from = end;
    l->catchup_to = w->master_end_offset;
    rmq_log(RMQ_LOG_INFO, "ha",
            "following master %s (%s, epoch %lld) from offset %lld; the master is at %lld", w->master_addr,
            l->addr, (long long)w->epoch, (long long)w->start_offset, (long long)w->master_end_offset);
    send_ack(ha);
    rmq_ha_publish_status(ha);
    rmq_ha_io_job(ha, local_offsets_io, l->session, NULL);
    return true;
}

static bool check_epoch(rmq_ha_t *ha, int64_t epoch, const char *what)
{
    ha_link_t *l = &ha->link;
    if (epoch == l->master_epoch)
        return true;
    if (epoch < l->master_epoch)
        link_refuse(ha, COMET__HA__REFUSAL__REASON__STALE_EPOCH,
                    "%s of epoch %lld, older than the current %lld", what, (long long)epoch,
                    (long long)l->master_epoch);
    else
        link_refuse(ha, COMET__HA__REFUSAL__REASON__STALE_EPOCH,
                    "%s of epoch %lld while following epoch %lld: the master changed; reconnecting", what,
                    (long long)epoch, (long long)l->master_epoch);
    return false;
}

/* The master's first frame (a Refusal aside), which must be its Welcome.
 * Frees f. */
static bool welcome_frame(rmq_ha_t *ha, rmq_ha_frame_t *f)
{
    bool ok = rmq_ha_expect_frame(f, COMET__HA__FRAME__MSG_WELCOME, "Welcome", bad_frame, ha) &&
              on_welcome(ha, f->welcome);
    rmq_ha_frame_free(f);
    return ok;
}

static bool on_frame(void *ctx, rmq_ha_frame_t *f)
{
    rmq_ha_t *ha = ctx;
    ha_link_t *l = &ha->link;
    l->last_read_mono = rmq_mono_ms();
    if (f->msg_case == COMET__HA__FRAME__MSG_REFUSAL) {
        rmq_log(RMQ_LOG_ERROR, "ha", "master %s refused this slave: %s", l->addr, f->refusal->message);
        int reason = f->refusal->reason;
        rmq_ha_frame_free(f);
        bool fatal = reason == COMET__HA__REFUSAL__REASON__DUPLICATE_BROKER_ID ||
                     reason == COMET__HA__REFUSAL__REASON__WRONG_CLUSTER ||
                     reason == COMET__HA__REFUSAL__REASON__SEGMENT_SIZE ||
                     reason == COMET__HA__REFUSAL__REASON__LOG_GAP;
        link_drop(ha);
        schedule_retry(ha, fatal ? BACKOFF_MAX_MS : 1000);
        return false;
    }
    if (l->state == LINK_HELLO)
        return welcome_frame(ha, f);
    switch (f->msg_case) {
    case COMET__HA__FRAME__MSG_DATA: {
        Comet__Ha__Data *d = f->data;
        if (!check_epoch(ha, d->epoch, "data")) {
            rmq_ha_frame_free(f);
            return false;
        }
        int64_t end = rmq_store_get_commitlog_max_offset(ha->store);
        char why[256] = "";
        rmq_err_t e = rmq_store_append_records(ha->store, d->start_offset, d->records.data, d->records.len,
                                               why, sizeof(why));
        if (e != RMQ_OK) {
            int64_t start = d->start_offset;
            size_t len = d->records.len;
            rmq_ha_frame_free(f);
            if (e == RMQ_ERR__INVALID_ARG)
                link_refuse(ha, COMET__HA__REFUSAL__REASON__BAD_OFFSET,
                            "data at %lld but this log ends at %lld", (long long)start, (long long)end);
            else
                link_refuse(ha, COMET__HA__REFUSAL__REASON__OTHER,
                            "%zu bytes at %lld refused, nothing appended: %s", len, (long long)start, why);
            return false;
        }
        if (d->master_end_offset > l->master_end)
            l->master_end = d->master_end_offset;
        rmq_ha_frame_free(f);
        l->ack_due = true;
        if (l->catchup_to > l->catchup_from &&
            rmq_store_get_commitlog_max_offset(ha->store) >= l->catchup_to) { /* once per connection */
            int64_t ms = rmq_mono_ms() - l->connected_mono, bytes = l->catchup_to - l->catchup_from;
            rmq_log(RMQ_LOG_INFO, "ha",
                    "caught up with master %s: %lld bytes (offsets %lld to %lld) in %lld ms, %.1f MB/s",
                    l->addr, (long long)bytes, (long long)l->catchup_from, (long long)l->catchup_to,
                    (long long)ms, ms > 0 ? (double)bytes / 1e3 / (double)ms : 0.0);
            l->catchup_to = l->catchup_from;
        }
        if (l->epochs_kept < l->n_master_epochs)
            keep_epochs(ha, false);
        return true;
    }
    case COMET__HA__FRAME__MSG_HEARTBEAT:
        if (!check_epoch(ha, f->heartbeat->epoch, "heartbeat")) {
            rmq_ha_frame_free(f);
            return false;
        }
        if (f->heartbeat->master_end_offset > l->master_end)
            l->master_end = f->heartbeat->master_end_offset;
        rmq_ha_frame_free(f);
        return true;
    case COMET__HA__FRAME__MSG_METADATA:
        if (f->metadata->kind == COMET__HA__METADATA__KIND__OFFSET_CHANGES || f->metadata->kind == 0) {
            int kind = (int)f->metadata->kind;
            rmq_ha_frame_free(f);
            link_refuse(ha, COMET__HA__REFUSAL__REASON__OTHER, "metadata of kind %d from a master", kind);
            return false;
        }
        if (!check_epoch(ha, f->metadata->epoch, "metadata")) {
            rmq_ha_frame_free(f);
            return false;
        } else {
            rmq_ha_apply_on_io(ha, f);
            return true;
        }
    default: {
        const char *name = rmq_ha_frame_name(f);
        rmq_ha_frame_free(f);
        link_refuse(ha, COMET__HA__REFUSAL__REASON__OTHER, "unexpected %s from the master", name);
        return false;
    }
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    rmq_ha_t *ha = arg;
    if (rmq_ha_read_frames(bev, on_frame, bad_frame, ha) > 0 && ha->link.state == LINK_STREAMING &&
        ha->link.ack_due)
        send_ack(ha);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    rmq_ha_t *ha = arg;
    ha_link_t *l = &ha->link;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        l->state = LINK_HELLO;
        l->last_read_mono = rmq_mono_ms();
        send_hello(ha);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        link_close(ha, 0, "closed by the master");
    } else if (what & BEV_EVENT_ERROR) {
        unsigned long te = ha->tls ? bufferevent_get_openssl_error(bev) : 0;
        if (te || (ha->tls && l->state == LINK_CONNECTING)) {
            char why[200];
            rmq_tls_describe_error(bufferevent_openssl_get_ssl(bev), te, why, sizeof(why));
            link_close(ha, 0, "TLS with the master failed: %s", why);
        } else {
            link_close(ha, 0, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        }
    }
}

static void link_connect(rmq_ha_t *ha)
{
    ha_link_t *l = &ha->link;
    struct sockaddr_storage ss;
    int len;
    if (rmq_ha_parse_addr(l->addr, &ss, &len) != RMQ_OK) {
        rmq_log(RMQ_LOG_WARN, "ha", "cannot resolve the master's HA address %s", l->addr);
        schedule_retry(ha, 1000);
        return;
    }
    if (ha->tls) { /* haTlsEnable */
        char host[256];
        snprintf(host, sizeof(host), "%s", l->addr);
        char *colon = strrchr(host, ':');
        if (colon)
            *colon = '\0';
        SSL *ssl = rmq_tls_new_ssl(ha->tls, host);
        l->bev = ssl ? bufferevent_openssl_socket_new(ha->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!l->bev) {
            if (ssl)
                SSL_free(ssl);
            rmq_log(RMQ_LOG_WARN, "ha", "cannot set up TLS to the master %s", l->addr);
            schedule_retry(ha, 1000);
            return;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
    } else {
        l->bev = bufferevent_socket_new(ha->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    l->session++;
    l->state = LINK_CONNECTING;
    l->ack_due = false;
    l->epochs_kept = (size_t)-1;
    bufferevent_setwatermark(l->bev, EV_READ, 0, RMQ_HA_MAX_FRAME + 4);
    /* read up to 4 MiB per loop turn (libevent's default is 16 KiB) */
    bufferevent_set_max_single_read(l->bev, 4u << 20);
    bufferevent_setcb(l->bev, read_cb, NULL, event_cb, ha);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    l->last_read_mono = rmq_mono_ms();
    if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&ss, len) != 0) {
        link_close(ha, 0, "connect failed");
        return;
    }
}

void rmq_ha_slave_set_addr(rmq_ha_t *ha, const char *addr)
{
    ha_link_t *l = &ha->link;
    if (!strcmp(l->addr, addr) && l->state != LINK_IDLE)
        return;
    if (l->state != LINK_IDLE) {
        rmq_log(RMQ_LOG_INFO, "ha", "the master's HA address changed from %s to %s", l->addr, addr);
        link_drop(ha);
    }
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->backoff_ms = 0;
    if (l->ev_retry)
        evtimer_del(l->ev_retry);
    link_connect(ha);
}

void rmq_ha_slave_tick(rmq_ha_t *ha)
{
    ha_link_t *l = &ha->link;
    int64_t now = rmq_mono_ms();
    if (l->state == LINK_IDLE)
        return;
    if (now - l->last_read_mono >= ha->housekeeping_ms) {
        link_close(ha, 0, "nothing from the master for haHousekeepingInterval (%lld ms)",
                   (long long)ha->housekeeping_ms);
        return;
    }
    if (l->state == LINK_STREAMING && (l->ack_due || now - l->last_ack_mono >= ha->heartbeat_ms))
        send_ack(ha);
}

void rmq_ha_slave_close(rmq_ha_t *ha)
{
    if (ha->link.ev_retry)
        evtimer_del(ha->link.ev_retry);
    if (ha->link.state != LINK_IDLE)
        rmq_log(RMQ_LOG_INFO, "ha", "closing the connection to master %s", ha->link.addr);
    link_drop(ha);
}

void rmq_ha_slave_send_frames(rmq_ha_t *ha, uint64_t session, ha_blob_t *blob)
{
    ha_link_t *l = &ha->link;
    if (l->state == LINK_STREAMING && l->session == session && l->bev)
        bufferevent_write(l->bev, blob->data, blob->len);
    rmq_ha_blob_unref(blob);
}

/* ----------------------------------------------------------------- status */

void rmq_ha_slave_status(rmq_ha_t *ha, rmq_buf_t *o)
{
    ha_link_t *l = &ha->link;
    int64_t end = ha->store ? rmq_store_get_commitlog_max_offset(ha->store) : 0;
    rmq_buf_put_kv(o, "haRole", "SLAVE");
    rmq_buf_put_kv(o, "haEpoch", "%lld", (long long)ha->epoch);
    rmq_buf_put_kv(o, "haMasterAddress", "%s", l->addr[0] ? l->addr : "(unknown)");
    rmq_buf_put_kv(o, "haMasterConnected", "%s", l->state == LINK_STREAMING ? "true" : "false");
    rmq_buf_put_kv(o, "haMasterEndOffset", "%lld", (long long)l->master_end);
    rmq_buf_put_kv(o, "haLagBytes", "%lld", (long long)(l->master_end > end ? l->master_end - end : 0));
}
