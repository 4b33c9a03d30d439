/* ha_master.c - the master's side of replication: the HA listener, one
 * connection per slave, the handshake (Hello checks, where the slave's log
 * agrees with this one, Welcome), streaming whole records from the slave's
 * offset in batches of haTransferBatchSize straight from the mapped commit
 * log (the bytes are referenced, not copied), acknowledgements, heartbeats,
 * housekeeping, and metadata queued behind the data it refers to.
 *
 * Owns: the slave connections (ha->conns).
 * Runs: on the "HAService" thread only.
 * Never: sends a byte the slave did not ask for next, or counts a slave as
 * able to acknowledge before its handshake is complete. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "broker.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_tls.h"

static void refuse(ha_conn_t *c, int reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define REFUSE(c, reason, ...) refuse((c), COMET__HA__REFUSAL__REASON__##reason, __VA_ARGS__)

static size_t high_water(const rmq_ha_t *ha)
{
    size_t h = ha->batch * 8;
    return h < (4u << 20) ? (4u << 20) : h;
}

/* ---------------------------------------------------------- connections */

static void recompute(rmq_ha_t *ha)
{
    int ready = 0;
    int64_t acked = 0;
    for (ha_conn_t *c = ha->conns; c; c = c->next) {
        if (c->state != CONN_STREAMING)
            continue;
        ready++;
        if (c->acked > acked)
            acked = c->acked;
    }
    int before = atomic_load(&ha->ready_slaves);
    int64_t prev = atomic_load(&ha->acked_max);
    atomic_store(&ha->acked_max, acked);
    atomic_store(&ha->ready_slaves, ready);
    if (before > 0 && ready == 0)
        atomic_fetch_add(&ha->slaves_gone_gen, 1);
    if (acked > prev || (before > 0 && ready == 0))
        rmq_ha_sync_notify(ha);
}

static void free_pending(ha_conn_t *c)
{
    ha_pending_t *p;
    while ((p = STAILQ_FIRST(&c->meta))) {
        STAILQ_REMOVE_HEAD(&c->meta, link);
        rmq_ha_blob_unref(p->blob);
        free(p);
    }
}

static void unlink_conn(ha_conn_t *c)
{
    rmq_ha_t *ha = c->ha;
    if (c->state == CONN_STREAMING)
        rmq_ha_ctrl_acked(ha, c->slave_id, -1);
    for (ha_conn_t **pp = &ha->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    free_pending(c);
    recompute(ha);
    rmq_ha_publish_status(ha);
}

/* Take the connection's socket away from it (for a refusal) and forget it. */
static struct bufferevent *detach(ha_conn_t *c)
{
    struct bufferevent *bev = c->bev;
    c->bev = NULL;
    unlink_conn(c);
    free(c);
    return bev;
}

/* Refuse and close: the message is formatted before the connection goes. */
static void refuse(ha_conn_t *c, int reason, const char *fmt, ...)
{
    char msg[512], peer[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(peer, sizeof(peer), "%s", c->peer);
    rmq_ha_t *ha = c->ha;
    struct bufferevent *bev = detach(c);
    rmq_ha_refuse_bev(ha, bev, peer, reason, "%s", msg);
}

/* A frame that is too long or does not decode (ha_bad_frame_fn). */
static void bad_frame(void *ctx, const char *why)
{
    REFUSE((ha_conn_t *)ctx, OTHER, "%s", why);
}

static void conn_close(ha_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_close(ha_conn_t *c, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (c->state == CONN_STREAMING)
        rmq_log(RMQ_LOG_WARN, "ha", "slave %lld (%s) disconnected: %s; acknowledged up to %" PRId64,
                (long long)c->slave_id, c->peer, why, c->acked);
    else
        rmq_log(RMQ_LOG_WARN, "ha", "HA connection from %s closed: %s", c->peer, why);
    if (c->bev)
        bufferevent_free(c->bev);
    c->bev = NULL;
    unlink_conn(c);
    free(c);
}

/* ------------------------------------------------------------ streaming */

static void unpin_cb(const void *data, size_t len, void *pin)
{
    rmq_store_ref_release(pin);
}

static void send_meta_due(ha_conn_t *c, struct evbuffer *out)
{
    ha_pending_t *p;
    while ((p = STAILQ_FIRST(&c->meta)) && p->blob->log_offset <= c->next_offset) {
        STAILQ_REMOVE_HEAD(&c->meta, link);
        evbuffer_add(out, p->blob->data, p->blob->len);
        rmq_ha_blob_unref(p->blob);
        free(p);
    }
}

/* Fill the connection's output up to the high-water mark. False when the
 * connection was closed. */
static bool pump(ha_conn_t *c)
{
    rmq_ha_t *ha = c->ha;
    if (c->state != CONN_STREAMING || !c->bev)
        return true;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t hw = high_water(ha);
    int rounds = 0;
    while (evbuffer_get_length(out) < hw && rounds++ < 1024) {
        send_meta_due(c, out);
        rmq_store_ref_t ref;
        rmq_err_t e = rmq_store_read_records(ha->store, c->next_offset, ha->batch, &ref);
        if (e == RMQ_ERR__NOENT) {
            int64_t min = rmq_store_get_commitlog_min_offset(ha->store);
            if (c->next_offset < min) {
                REFUSE(c, LOG_GAP, "the slave needs offset %" PRId64 " but this log now starts at %" PRId64,
                       c->next_offset, min);
                return false;
            }
            atomic_store(&ha->data_wanted, true);
            /* a write between the read and the flag must not be missed */
            if (rmq_store_get_commitlog_max_offset(ha->store) > c->next_offset)
                continue;
            break;
        }
        if (e != RMQ_OK) {
            REFUSE(c, BAD_OFFSET, "offset %" PRId64 " is not a record boundary of this log", c->next_offset);
            return false;
        }
        uint8_t hdr[RMQ_HA_DATA_HDR_MAX];
        size_t hl = rmq_ha_data_header(hdr, c->next_offset, rmq_store_get_commitlog_max_offset(ha->store),
                                       ha->epoch, ref.len);
        evbuffer_add(out, hdr, hl);
        if (evbuffer_add_reference(out, ref.data, ref.len, unpin_cb, ref.pin) != 0) {
            evbuffer_add(out, ref.data, ref.len);
            rmq_store_ref_release(ref.pin);
        }
        c->next_offset += (int64_t)ref.len;
        c->last_send_mono = rmq_mono_ms();
    }
    send_meta_due(c, out);
    return true;
}

void rmq_ha_master_pump_all(rmq_ha_t *ha)
{
    for (ha_conn_t *c = ha->conns, *next; c; c = next) {
        next = c->next;
        pump(c);
    }
}

/* ------------------------------------------------------------- handshake */

/* @thread io: every table for a slave that just connected, in two blobs:
 * topics and groups at once, offsets and delay progress only once the slave
 * has the log they point into (ha_meta.c) */
static void build_snapshot_io(rmq_ha_t *ha, uint64_t conn_id, void *unused)
{
    (void)unused;
    static const rmq_ha_meta_kind_t kinds[2][2] = {{RMQ_HA_META_TOPICS, RMQ_HA_META_GROUPS},
                                                   {RMQ_HA_META_OFFSETS, RMQ_HA_META_DELAY}};
    for (int i = 0; i < 2 && ha->mbox; i++) {
        rmq_buf_t out;
        rmq_buf_init(&out);
        int64_t log_offset = 0;
        rmq_ha_meta_encode(ha, kinds[i][0], &out, &log_offset);
        rmq_ha_meta_encode(ha, kinds[i][1], &out, &log_offset);
        rmq_ha_post_blob(ha, rmq_ha_master_queue_meta, conn_id, &out, log_offset);
        rmq_buf_free(&out);
    }
}

static bool on_hello(ha_conn_t *c, Comet__Ha__Hello *h)
{
    rmq_ha_t *ha = c->ha;
    if (!ha->master) {
        REFUSE(c, NOT_MASTER, "this broker is a replica of %s now, not its master (controller mode)",
               ha->broker_name);
        return false;
    }
    if (h->protocol_version != RMQ_HA_PROTOCOL_VERSION) {
        REFUSE(c, PROTOCOL_VERSION, "protocol version %u, this master speaks %d", h->protocol_version,
               RMQ_HA_PROTOCOL_VERSION);
        return false;
    }
    if (strcmp(h->cluster, ha->cluster) != 0 || strcmp(h->broker_name, ha->broker_name) != 0) {
        REFUSE(c, WRONG_CLUSTER, "hello from %s/%s, this is %s/%s", h->cluster, h->broker_name, ha->cluster,
               ha->broker_name);
        return false;
    }
    if (h->role == COMET__HA__ROLE__ROLE_SLAVE && h->broker_id == 0) {
        REFUSE(c, DUPLICATE_BROKER_ID,
               "a slave (%s) with broker id 0, the id of this master: slaves need brokerId >= 1",
               h->broker_addr);
        return false;
    }
    if (h->role == COMET__HA__ROLE__ROLE_MASTER || h->broker_id == 0) {
        REFUSE(c, SECOND_MASTER, "a second master for %s (broker id %lld at %s); this master (%s) is running",
               ha->broker_name, (long long)h->broker_id, h->broker_addr, ha->broker_addr);
        return false;
    }
    if (h->broker_id < 0) {
        REFUSE(c, OTHER, "broker id %lld is not a slave id", (long long)h->broker_id);
        return false;
    }
    if (ha->controlled && h->broker_id == ha->broker_id) {
        REFUSE(c, DUPLICATE_BROKER_ID, "replica id %lld is this master's own (%s); %s uses the same id",
               (long long)h->broker_id, ha->broker_addr, h->broker_addr);
        return false;
    }
    for (ha_conn_t *o = ha->conns; o; o = o->next) {
        if (o == c || o->state != CONN_STREAMING || o->slave_id != h->broker_id)
            continue;
        if (strcmp(o->slave_addr, h->broker_addr) == 0) {
            /* the same slave again (it restarted): the old link is dead */
            conn_close(o, "replaced by a new connection of the same slave");
            break;
        }
        REFUSE(c, DUPLICATE_BROKER_ID, "slave id %lld is already connected from %s (%s); %s uses the same id",
               (long long)h->broker_id, o->slave_addr, o->peer, h->broker_addr);
        return false;
    }
    if (h->segment_size != ha->segment_size) {
        REFUSE(c, SEGMENT_SIZE, "mappedFileSizeCommitLog %lld on the slave, %lld here",
               (long long)h->segment_size, (long long)ha->segment_size);
        return false;
    }
    if (h->epoch > ha->epoch) {
        REFUSE(c, STALE_EPOCH,
               "the slave has seen epoch %lld, newer than this master's %lld: this master is stale",
               (long long)h->epoch, (long long)ha->epoch);
        return false;
    }
    if (h->end_offset < 0 || h->min_offset < 0 || h->min_offset > h->end_offset) {
        REFUSE(c, BAD_OFFSET, "the slave's log [%lld, %lld) makes no sense", (long long)h->min_offset,
               (long long)h->end_offset);
        return false;
    }
    size_t sn = h->n_epochs;
    rmq_epoch_entry_t *se = rmq_malloc((sn + 1) * sizeof(*se));
    for (size_t i = 0; i < sn; i++)
        se[i] = (rmq_epoch_entry_t){h->epochs[i]->epoch, h->epochs[i]->start_offset};
    int64_t m_end = rmq_store_get_commitlog_max_offset(ha->store);
    int64_t m_min = rmq_store_get_commitlog_min_offset(ha->store);
    int64_t common = rmq_epoch_common_end(ha->epochs, ha->n_epochs, m_end, se, sn, h->end_offset);
    free(se);
    int64_t start = common < h->end_offset ? common : h->end_offset;
    bool empty = h->end_offset == 0 || h->end_offset == h->min_offset;
    if (start < m_min) {
        if (!empty) {
            REFUSE(c, LOG_GAP,
                   "the slave's log ends at %lld but this master's starts at %lld: empty the slave's store "
                   "to copy "
                   "it again",
                   (long long)start, (long long)m_min);
            return false;
        }
        start = m_min; /* an empty slave starts at the oldest kept segment */
    }
    rmq_store_ref_t ref;
    rmq_err_t e = rmq_store_read_records(ha->store, start, 1, &ref);
    if (e == RMQ_OK)
        rmq_store_ref_release(ref.pin);
    else if (e != RMQ_ERR__NOENT || start != m_end) {
        REFUSE(c, BAD_OFFSET, "the slave's log would continue at %lld, which is not a record boundary here",
               (long long)start);
        return false;
    }
    c->slave_id = h->broker_id;
    snprintf(c->slave_addr, sizeof(c->slave_addr), "%s", h->broker_addr);
    c->next_offset = start;
    c->acked = start;
    c->state = CONN_STREAMING;
    rmq_ha_ctrl_acked(ha, c->slave_id, start);

    Comet__Ha__EpochEntry *ents = rmq_calloc(ha->n_epochs + 1, sizeof(*ents));
    Comet__Ha__EpochEntry **ep = rmq_calloc(ha->n_epochs + 1, sizeof(*ep));
    for (size_t i = 0; i < ha->n_epochs; i++) {
        comet__ha__epoch_entry__init(&ents[i]);
        ents[i].epoch = ha->epochs[i].epoch;
        ents[i].start_offset = ha->epochs[i].start_offset;
        ep[i] = &ents[i];
    }
    Comet__Ha__Welcome w = COMET__HA__WELCOME__INIT;
    w.protocol_version = RMQ_HA_PROTOCOL_VERSION;
    w.epoch = ha->epoch;
    w.n_epochs = ha->n_epochs;
    w.epochs = ep;
    w.truncate_to = common < h->end_offset ? common : -1;
    w.start_offset = start;
    w.master_end_offset = m_end;
    w.master_min_offset = m_min;
    w.master_addr = ha->broker_addr;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_WELCOME;
    f.welcome = &w;
    rmq_ha_send(c->bev, &f);
    free(ents);
    free(ep);
    if (w.truncate_to >= 0)
        rmq_log(RMQ_LOG_WARN, "ha",
                "slave %lld (%s, %s): its log ends at %lld but agrees with this one only up to %lld; it cuts "
                "%lld bytes",
                (long long)c->slave_id, c->slave_addr, c->peer, (long long)h->end_offset, (long long)common,
                (long long)(h->end_offset - common));
    rmq_log(RMQ_LOG_INFO, "ha",
            "slave %lld (%s) connected from %s: streaming from offset %lld (master end %lld)",
            (long long)c->slave_id, c->slave_addr, c->peer, (long long)start, (long long)m_end);
    recompute(ha);
    rmq_ha_publish_status(ha);
    rmq_ha_io_job(ha, build_snapshot_io, c->id, NULL);
    return pump(c);
}

/* The first frame from a slave, which must be its Hello. Frees f. */
static bool hello_frame(ha_conn_t *c, rmq_ha_frame_t *f)
{
    bool ok =
        rmq_ha_expect_frame(f, COMET__HA__FRAME__MSG_HELLO, "Hello", bad_frame, c) && on_hello(c, f->hello);
    rmq_ha_frame_free(f);
    return ok;
}

static bool on_frame(void *ctx, rmq_ha_frame_t *f)
{
    ha_conn_t *c = ctx;
    rmq_ha_t *ha = c->ha;
    c->last_read_mono = rmq_mono_ms();
    if (c->state == CONN_HELLO)
        return hello_frame(c, f);
    switch (f->msg_case) {
    case COMET__HA__FRAME__MSG_ACK: {
        Comet__Ha__Ack *a = f->ack;
        if (a->written_offset > c->next_offset || a->written_offset < c->acked) {
            int64_t w = a->written_offset;
            rmq_ha_frame_free(f);
            REFUSE(c, BAD_OFFSET,
                   "acknowledges %" PRId64 " but was sent up to %" PRId64 " (acknowledged %" PRId64 ")", w,
                   c->next_offset, c->acked);
            return false;
        }
        bool more = a->written_offset > c->acked;
        c->acked = a->written_offset;
        c->flushed = a->flushed_offset;
        rmq_ha_frame_free(f);
        if (more && ha->controlled)
            rmq_ha_ctrl_acked(ha, c->slave_id, c->acked);
        if (more) {
            int64_t prev = atomic_load(&ha->acked_max);
            if (c->acked > prev) {
                atomic_store(&ha->acked_max, c->acked);
                rmq_ha_sync_notify(ha);
            }
        }
        return true;
    }
    case COMET__HA__FRAME__MSG_METADATA:
        if (f->metadata->kind != COMET__HA__METADATA__KIND__OFFSET_CHANGES) {
            REFUSE(c, OTHER, "a slave may only send OFFSET_CHANGES metadata (got kind %d)",
                   (int)f->metadata->kind);
            rmq_ha_frame_free(f);
            return false;
        } else {
            rmq_ha_apply_on_io(ha, f);
            return true;
        }
    case COMET__HA__FRAME__MSG_REFUSAL:
        rmq_log(RMQ_LOG_WARN, "ha", "slave %lld (%s) refused this master: %s", (long long)c->slave_id,
                c->peer, f->refusal->message);
        rmq_ha_frame_free(f);
        conn_close(c, "refused by the slave");
        return false;
    default:
        REFUSE(c, OTHER, "unexpected %s from a slave", rmq_ha_frame_name(f));
        rmq_ha_frame_free(f);
        return false;
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    ha_conn_t *c = arg;
    if (rmq_ha_read_frames(bev, on_frame, bad_frame, c) > 0 && c->bev)
        pump(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    pump(arg);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    ha_conn_t *c = arg;
    if (what & BEV_EVENT_EOF) {
        conn_close(c, "closed by the peer");
    } else if (what & BEV_EVENT_ERROR) {
        unsigned long te = c->ha->tls ? bufferevent_get_openssl_error(bev) : 0;
        if (te) {
            char why[200];
            rmq_tls_describe_error(bufferevent_openssl_get_ssl(bev), te, why, sizeof(why));
            conn_close(c, "TLS: %s", why);
        } else {
            conn_close(c, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        }
    }
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    rmq_ha_t *ha = arg;
    if (ha->stopping) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ha_conn_t *c = rmq_calloc(1, sizeof(*c));
    STAILQ_INIT(&c->meta);
    c->ha = ha;
    c->id = ++ha->next_conn_id;
    if (ha->tls) { /* haTlsEnable: the link is TLS only */
        SSL *ssl = rmq_tls_new_ssl(ha->tls, NULL);
        c->bev = ssl ? bufferevent_openssl_socket_new(ha->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                      BEV_OPT_CLOSE_ON_FREE)
                     : NULL;
        if (!c->bev) {
            if (ssl)
                SSL_free(ssl);
            evutil_closesocket(fd);
            free(c);
            return;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(ha->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)sa;
        evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
        port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
        evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
        port = ntohs(s6->sin6_port);
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
    c->connected_mono = c->last_read_mono = c->last_send_mono = rmq_mono_ms();
    c->next = ha->conns;
    ha->conns = c;
    size_t hw = high_water(ha);
    bufferevent_setwatermark(c->bev, EV_WRITE, hw / 2, 0);
    /* libevent writes 16 KiB per loop turn by default: a catch-up would
     * then cost a loop turn (and, on a busy machine, a wake-up) per 16 KiB */
    bufferevent_set_max_single_write(c->bev, hw);
    bufferevent_setwatermark(c->bev, EV_READ, 0, RMQ_HA_MAX_FRAME + 4);
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void listener_error_cb(struct evconnlistener *l, void *arg)
{
    rmq_log(RMQ_LOG_ERROR, "ha", "HA listener: accept failed: %s",
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
}

rmq_err_t rmq_ha_master_listen(rmq_ha_t *ha, char *errstr, size_t n)
{
    char addr[128];
    snprintf(addr, sizeof(addr), "%s:%d", ha->listen_host, ha->listen_port);
    struct sockaddr_storage ss;
    int len;
    if (rmq_ha_parse_addr(addr, &ss, &len) != RMQ_OK) {
        snprintf(errstr, n, "bad HA listen address %s", addr);
        return RMQ_ERR__INVALID_ARG;
    }
    ha->listener = evconnlistener_new_bind(ha->base, accept_cb, ha, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                           64, (struct sockaddr *)&ss, len);
    if (!ha->listener) {
        snprintf(errstr, n, "cannot listen on the HA port %s: %s", addr, strerror(errno));
        return RMQ_ERR__IO;
    }
    evconnlistener_set_error_cb(ha->listener, listener_error_cb);
    return RMQ_OK;
}

/* ------------------------------------------------------- periodic checks */

void rmq_ha_master_tick(rmq_ha_t *ha)
{
    int64_t now = rmq_mono_ms();
    for (ha_conn_t *c = ha->conns, *next; c; c = next) {
        next = c->next;
        if (now - c->last_read_mono >= ha->housekeeping_ms) {
            conn_close(c, c->state == CONN_HELLO ? "no Hello within haHousekeepingInterval"
                                                 : "silent for haHousekeepingInterval");
            continue;
        }
        if (c->state != CONN_STREAMING)
            continue;
        if (!pump(c))
            continue;
        if (now - c->last_send_mono >= ha->heartbeat_ms) {
            Comet__Ha__Heartbeat h = COMET__HA__HEARTBEAT__INIT;
            h.epoch = ha->epoch;
            h.master_end_offset = rmq_store_get_commitlog_max_offset(ha->store);
            h.timestamp_ms = rmq_now_ms();
            rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
            f.msg_case = COMET__HA__FRAME__MSG_HEARTBEAT;
            f.heartbeat = &h;
            rmq_ha_send(c->bev, &f);
            c->last_send_mono = now;
        }
    }
}

void rmq_ha_master_close_all(rmq_ha_t *ha)
{
    while (ha->conns)
        conn_close(ha->conns, "the master is shutting down");
}

void rmq_ha_master_queue_meta(rmq_ha_t *ha, uint64_t conn_id, ha_blob_t *blob)
{
    for (ha_conn_t *c = ha->conns; c; c = c->next) {
        if (c->state != CONN_STREAMING || (conn_id && c->id != conn_id))
            continue;
        ha_pending_t *p = rmq_malloc(sizeof(*p));
        atomic_fetch_add(&blob->refs, 1);
        p->blob = blob;
        STAILQ_INSERT_TAIL(&c->meta, p, link);
    }
    rmq_ha_blob_unref(blob);
    for (ha_conn_t *c = ha->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == CONN_STREAMING && (!conn_id || c->id == conn_id))
            pump(c);
    }
}

/* ----------------------------------------------------------------- status */

void rmq_ha_master_status(rmq_ha_t *ha, rmq_buf_t *o)
{
    int64_t end = ha->store ? rmq_store_get_commitlog_max_offset(ha->store) : 0;
    int n = 0, in_sync = 0;
    for (ha_conn_t *c = ha->conns; c; c = c->next) {
        if (c->state != CONN_STREAMING)
            continue;
        n++;
        bool sync = end - c->acked < ha->fallbehind;
        in_sync += sync;
        char k[64];
        snprintf(k, sizeof(k), "haSlave%lld", (long long)c->slave_id);
        rmq_buf_put_kv(o, k,
                       "addr=%s peer=%s ackOffset=%" PRId64 " flushOffset=%" PRId64 " sentOffset=%" PRId64
                       " lagBytes=%" PRId64 " inSync=%s",
                       c->slave_addr, c->peer, c->acked, c->flushed, c->next_offset, end - c->acked,
                       sync ? "true" : "false");
    }
    rmq_buf_put_kv(o, "haRole", "%s", ha->sync_master ? "SYNC_MASTER" : "ASYNC_MASTER");
    rmq_buf_put_kv(o, "haEpoch", "%lld", (long long)ha->epoch);
    rmq_buf_put_kv(o, "haListenPort", "%d", ha->listen_port);
    rmq_buf_put_kv(o, "haServerAddr", "%s", ha->b->ha_addr);
    rmq_buf_put_kv(o, "haConnectedSlaves", "%d", n);
    rmq_buf_put_kv(o, "haInSyncSlaves", "%d", in_sync);
    rmq_buf_put_kv(o, "haAckedOffset", "%lld", (long long)atomic_load(&ha->acked_max));
}
