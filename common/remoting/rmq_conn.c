/* rmq_conn.c - remoting connections: framing, dispatch by code, opaque
 * matching with per-request timeouts, server accept (with the net guard's
 * caps, input budget and accept pause), TLS (permissive detection by the
 * first byte, OpenSSL bufferevents), request/send hooks, client connect.
 *
 * Runs on the thread of the endpoint's event_base (the name server's only
 * thread, the broker's I/O thread, the client library's I/O thread). Never
 * blocks: hostnames are resolved with evdns. A connection dies in exactly one
 * place (conn_close); its memory lives on while anyone holds a reference.
 *
 * I/O of a connection on a plain socket ("direct" connections): one
 * persistent read event, reads of up to 64 KiB into the endpoint's scratch
 * buffer, appended to the input buffer (libevent 2.1's bufferevent reads
 * 4 KiB per wake-up after an FIONREAD ioctl); output collects every frame of one loop iteration and
 * goes out with one writev from the endpoint's flush event at the end of
 * the iteration; a write event is armed only while the socket is full. So
 * a busy connection costs no epoll_ctl and one write per iteration, not per
 * frame. The bufferevent still owns the socket and the buffers, connects,
 * and carries TLS connections as before. */
#include "rmq_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_covtrace.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

#define HANDLER_SLOTS 4096
#define TLS_HANDSHAKE_BYTE 0x16 /* first byte of a TLS handshake record */

typedef struct pending_s {
    int32_t opaque;
    rmq_resp_cb_t cb;
    void *arg;
    rmq_conn_t *conn;
    struct pending_s *next;
    /* the timeout event lives here (event_assign, event_get_struct_event_size
     * bytes): one allocation per request */
    _Alignas(max_align_t) unsigned char timer[];
} pending_t;

#define PENDING_TIMER(p) ((struct event *)(p)->timer)

struct rmq_conn_s {
    rmq_endpoint_t *ep;
    struct bufferevent *bev; /* NULL while a server conn waits for its first byte (TLS detection) */
    struct event *peek_ev;
    evutil_socket_t peek_fd;
    int refs;
    bool closed;
    bool connected;
    bool read_paused;
    bool admitted; /* counted by the endpoint's guard */
    bool tls;
    uint64_t id;
    uint64_t frames;      /* frames received */
    int64_t in_accounted; /* input bytes counted in the guard's budget */
    char peer[80];
    char ip[INET6_ADDRSTRLEN];
    struct sockaddr_storage peer_addr;
    struct sockaddr_storage local_addr;
    pending_t **ptab;
    size_t ptab_size;
    size_t npending;
    void *user;
    int32_t obs_opaque; /* request being handled while an observer is set */
    int obs_code;       /* code of the response it got during the handler, or -1 */
    /* direct I/O (see the top of the file) */
    bool direct;
    bool flush_queued; /* on ep->flushq (holds a reference) */
    bool write_armed;  /* wev pending: the socket was full */
    evutil_socket_t fd;
    struct event *rev; /* EV_READ | EV_PERSIST */
    struct event *wev; /* EV_WRITE | EV_PERSIST */
    int64_t last_input_ms;
    rmq_conn_t *flush_next;
    rmq_conn_t *next, *prev;
};

typedef struct {
    rmq_req_handler_t h;
    void *ctx;
} handler_t;

struct rmq_endpoint_s {
    struct event_base *base;
    rmq_endpoint_opts_t opts;
    char name[32];
    bool is_client;
    struct evconnlistener *listener;
    int port;
    struct evdns_base *dns;
    handler_t handlers[HANDLER_SLOTS];
    handler_t dflt;
    rmq_close_cb_t close_cb;
    void *close_ctx;
    rmq_req_observer_t observer;
    void *observer_ctx;
    rmq_req_hook_t req_hook;
    void *req_hook_ctx;
    rmq_send_hook_t send_hook;
    void *send_hook_ctx;
    struct event *accept_resume;   /* re-enables the listener after an accept pause */
    pthread_mutex_t last_error_mu; /* last_error is read by other threads */
    char last_error[400];
    rmq_conn_t *conns;
    size_t nconns;
    struct event *flush_ev; /* runs once per loop iteration with output queued */
    bool flush_active;
    rmq_conn_t *flushq;
    struct event *idle_ev; /* idle timeout of direct connections */
    uint8_t *scratch;      /* DIRECT_READ_CHUNK bytes: direct reads land here first */
};

/* Process-wide counters: several endpoints (client handles) may run their
 * event loops on different threads. */
static _Atomic int32_t next_opaque = 1;
static _Atomic uint64_t next_conn_id = 1;

/* Next request id: positive, wraps well before INT32_MAX (as ali-ons). */
static int32_t take_opaque(void)
{
    int32_t o = atomic_fetch_add(&next_opaque, 1);
    if (o >= INT32_MAX - 10 || o <= 0) {
        atomic_store(&next_opaque, 2);
        o = 1;
    }
    return o;
}

static void conn_close(rmq_conn_t *c, rmq_err_t why);

void rmq_endpoint_opts_default(rmq_endpoint_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->max_frame = RMQ_FRAME_MAX_DEFAULT;
    o->max_output = 64u * 1024 * 1024;
    o->idle_timeout_ms = 120000;
    o->connect_timeout_ms = 3000;
    o->name = "remoting";
}

/* ---------- address helpers ---------- */

static void sockaddr_text(const struct sockaddr *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        port = ntohs(in->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        port = ntohs(in6->sin6_port);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, (const uint8_t *)&in6->sin6_addr + 12, ip, sizeof(ip));
            snprintf(out, n, "%s:%d", ip, port);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
            snprintf(out, n, "[%s]:%d", ip, port);
        }
    } else {
        snprintf(out, n, "?");
    }
}

/* Turn an IPv4-mapped IPv6 address into plain IPv4 (Java does; ali-ons can
 * only decode 4-byte hosts). */
static void normalize_v4mapped(struct sockaddr_storage *ss)
{
    if (ss->ss_family != AF_INET6)
        return;
    struct sockaddr_in6 in6;
    memcpy(&in6, ss, sizeof(in6));
    if (!IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr))
        return;
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.sin_family = AF_INET;
    in.sin_port = in6.sin6_port;
    memcpy(&in.sin_addr, (uint8_t *)&in6.sin6_addr + 12, 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &in, sizeof(in));
}

bool rmq_addr_split(const char *addr, char *host, size_t host_size, int *port)
{
    if (!addr || !*addr)
        return false;
    const char *colon;
    const char *hs = addr;
    size_t hl;
    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');
        if (!rb || rb[1] != ':')
            return false;
        hs = addr + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - addr);
    }
    if (hl == 0 || hl >= host_size)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535 || colon[1] == '\0')
        return false;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    *port = (int)p;
    return true;
}

/* ---------- pending requests (chained hash on opaque) ---------- */

static size_t ph(const rmq_conn_t *c, int32_t opaque)
{
    return ((uint32_t)opaque * 2654435761u) & (c->ptab_size - 1);
}

static void pending_grow(rmq_conn_t *c)
{
    size_t nsize = c->ptab_size ? c->ptab_size * 2 : 64;
    pending_t **nt = rmq_calloc(nsize, sizeof(*nt));
    size_t old = c->ptab_size;
    pending_t **ot = c->ptab;
    c->ptab = nt;
    c->ptab_size = nsize;
    for (size_t i = 0; i < old; i++) {
        pending_t *p = ot[i];
        while (p) {
            pending_t *nx = p->next;
            size_t h = ph(c, p->opaque);
            p->next = nt[h];
            nt[h] = p;
            p = nx;
        }
    }
    free(ot);
}

static void pending_add(rmq_conn_t *c, pending_t *p)
{
    if (c->npending + 1 > c->ptab_size / 2)
        pending_grow(c);
    size_t h = ph(c, p->opaque);
    p->next = c->ptab[h];
    c->ptab[h] = p;
    c->npending++;
}

static pending_t *pending_take(rmq_conn_t *c, int32_t opaque)
{
    if (!c->ptab_size)
        return NULL;
    pending_t **pp = &c->ptab[ph(c, opaque)];
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->opaque == opaque) {
            pending_t *p = *pp;
            *pp = p->next;
            c->npending--;
            return p;
        }
    }
    return NULL;
}

static void pending_free(pending_t *p)
{
    event_del(PENDING_TIMER(p));
    free(p);
}

static void pending_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    pending_t *p = arg;
    rmq_conn_t *c = p->conn;
    pending_t *q = pending_take(c, p->opaque);
    rmq_assert(q == p);
    rmq_conn_hold(c);
    p->cb(c, RMQ_ERR__TIMED_OUT, NULL, p->arg);
    pending_free(p);
    rmq_conn_release(c);
}

/* ---------- connection lifecycle ---------- */

void rmq_conn_hold(rmq_conn_t *c)
{
    c->refs++;
}

void rmq_conn_release(rmq_conn_t *c)
{
    if (--c->refs > 0)
        return;
    rmq_assert(c->closed && c->npending == 0);
    free(c->ptab);
    free(c);
}

bool rmq_conn_is_closed(const rmq_conn_t *c)
{
    return c->closed;
}
const char *rmq_conn_peer(const rmq_conn_t *c)
{
    return c->peer;
}
const char *rmq_conn_peer_ip(const rmq_conn_t *c)
{
    return c->ip;
}
bool rmq_conn_is_tls(const rmq_conn_t *c)
{
    return c->tls;
}
const struct sockaddr_storage *rmq_conn_peer_addr(const rmq_conn_t *c)
{
    return &c->peer_addr;
}
const struct sockaddr_storage *rmq_conn_local_addr(const rmq_conn_t *c)
{
    return &c->local_addr;
}
uint64_t rmq_conn_id(const rmq_conn_t *c)
{
    return c->id;
}
void rmq_conn_set_user(rmq_conn_t *c, void *user)
{
    c->user = user;
}
void *rmq_conn_user(const rmq_conn_t *c)
{
    return c->user;
}
rmq_endpoint_t *rmq_conn_endpoint(const rmq_conn_t *c)
{
    return c->ep;
}

size_t rmq_conn_output_len(const rmq_conn_t *c)
{
    return c->closed || !c->bev ? 0 : evbuffer_get_length(bufferevent_get_output(c->bev));
}

void rmq_conn_close(rmq_conn_t *c)
{
    conn_close(c, RMQ_ERR__TRANSPORT);
}

static void conn_close(rmq_conn_t *c, rmq_err_t why)
{
    if (c->closed)
        return;
    c->closed = true;
    rmq_conn_hold(c);
    rmq_event_clear(&c->rev);
    rmq_event_clear(&c->wev);
    if (c->bev) {
        /* libevent frees a bufferevent's buffers at the next loop iteration
         * (finalizers): release what they hold now, or the connections
         * closed for the input budget within one iteration would still hold
         * their bytes while others read more (no-op on frozen buffers) */
        struct evbuffer *in = bufferevent_get_input(c->bev), *out = bufferevent_get_output(c->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        evbuffer_drain(out, evbuffer_get_length(out));
        bufferevent_free(c->bev); /* closes the socket (and frees the SSL) */
        c->bev = NULL;
    }
    if (c->peek_ev) {
        event_free(c->peek_ev);
        c->peek_ev = NULL;
        evutil_closesocket(c->peek_fd);
    }
    rmq_netguard_t *g = c->ep->opts.guard;
    if (g) {
        rmq_netguard_input(g, -c->in_accounted);
        c->in_accounted = 0;
        if (c->admitted)
            rmq_netguard_leave(g, c->ip);
        c->admitted = false;
    }
    /* unlink from the endpoint */
    if (c->prev)
        c->prev->next = c->next;
    else
        c->ep->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    c->ep->nconns--;
    /* fail pending requests */
    for (size_t i = 0; i < c->ptab_size; i++) {
        while (c->ptab[i]) {
            pending_t *p = c->ptab[i];
            c->ptab[i] = p->next;
            c->npending--;
            p->cb(c, why, NULL, p->arg);
            pending_free(p);
        }
    }
    if (c->ep->close_cb)
        c->ep->close_cb(c, c->ep->close_ctx);
    rmq_conn_release(c); /* the endpoint's reference */
    rmq_conn_release(c); /* ours */
}

/* ---------- sending ---------- */

static void maybe_pause_reading(rmq_conn_t *c)
{
    if (!c->bev)
        return;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!c->read_paused && evbuffer_get_length(out) > c->ep->opts.max_output) {
        c->read_paused = true;
        if (c->direct) {
            event_del(c->rev);
        } else {
            bufferevent_disable(c->bev, EV_READ);
            bufferevent_setwatermark(c->bev, EV_WRITE, c->ep->opts.max_output / 2, 0);
        }
        rmq_log(RMQ_LOG_WARN, c->ep->name, "%s: output backlog %zu bytes, pausing reads", c->peer,
                evbuffer_get_length(out));
    }
}

static void process_input(rmq_conn_t *c);

/* Output drained to half the backlog limit: read again. */
static void maybe_resume_reading(rmq_conn_t *c)
{
    if (!c->read_paused || c->closed || !c->bev ||
        evbuffer_get_length(bufferevent_get_output(c->bev)) > c->ep->opts.max_output / 2)
        return;
    c->read_paused = false;
    if (c->direct) {
        c->last_input_ms = rmq_mono_ms();
        event_add(c->rev, NULL);
    } else {
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        bufferevent_enable(c->bev, EV_READ);
    }
    process_input(c); /* frames may be waiting in the input buffer */
}

/* Write what the socket takes; arm the write event while it is full. */
static void direct_write(rmq_conn_t *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (!c->closed && evbuffer_get_length(out) > 0) {
        int n = evbuffer_write(out, c->fd);
        if (n > 0)
            continue;
        int err = EVUTIL_SOCKET_ERROR();
        if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) {
            if (!c->write_armed) {
                c->write_armed = true;
                event_add(c->wev, NULL);
            }
            return;
        }
        rmq_log_errno(RMQ_LOG_DEBUG, c->ep->name, err, "%s: write failed", c->peer);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    }
    if (c->closed)
        return;
    if (c->write_armed) {
        c->write_armed = false;
        event_del(c->wev);
    }
    maybe_resume_reading(c);
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_endpoint_t *ep = arg;
    ep->flush_active = false;
    rmq_conn_t *q = ep->flushq;
    ep->flushq = NULL;
    while (q) {
        rmq_conn_t *c = q;
        q = c->flush_next;
        c->flush_next = NULL;
        c->flush_queued = false;
        if (!c->closed && !c->write_armed)
            direct_write(c);
        rmq_conn_release(c);
    }
}

/* Output was added: a direct connection writes at the end of this loop
 * iteration (together with everything else queued by then). */
static void want_flush(rmq_conn_t *c)
{
    if (!c->direct || c->flush_queued || c->write_armed)
        return;
    rmq_endpoint_t *ep = c->ep;
    c->flush_queued = true;
    rmq_conn_hold(c);
    c->flush_next = ep->flushq;
    ep->flushq = c;
    if (!ep->flush_active) {
        ep->flush_active = true;
        event_active(ep->flush_ev, 0, 0);
    }
}

rmq_err_t rmq_conn_send_with_body(rmq_conn_t *c, const rmq_cmd_t *cmd, struct evbuffer *body)
{
    if (c->closed || !c->bev)
        return RMQ_ERR__TRANSPORT;
    if (c->ep->observer && (cmd->flag & RMQ_FLAG_RESPONSE) && cmd->opaque == c->obs_opaque)
        c->obs_code = cmd->code;
    size_t blen = body ? evbuffer_get_length(body) : cmd->body_len;
    rmq_buf_t hb;
    rmq_buf_init(&hb);
    rmq_cmd_encode_header(cmd, blen, &hb);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add(out, hb.data, hb.len);
    rmq_buf_free(&hb);
    if (body)
        evbuffer_add_buffer(out, body);
    else if (cmd->body_len)
        evbuffer_add(out, cmd->body, cmd->body_len);
    maybe_pause_reading(c);
    want_flush(c);
    return RMQ_OK;
}

rmq_err_t rmq_conn_send(rmq_conn_t *c, const rmq_cmd_t *cmd)
{
    return rmq_conn_send_with_body(c, cmd, NULL);
}

static void pending_new(rmq_conn_t *c, int32_t opaque, int timeout_ms, rmq_resp_cb_t cb, void *arg)
{
    pending_t *p = rmq_malloc(sizeof(*p) + event_get_struct_event_size());
    p->opaque = opaque;
    p->cb = cb;
    p->arg = arg;
    p->conn = c;
    p->next = NULL;
    evtimer_assign(PENDING_TIMER(p), c->ep->base, pending_timeout_cb, p);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(PENDING_TIMER(p), &tv);
    pending_add(c, p);
}

rmq_err_t rmq_conn_request(rmq_conn_t *c, rmq_cmd_t *req, int timeout_ms, rmq_resp_cb_t cb, void *arg)
{
    if (c->closed)
        return RMQ_ERR__TRANSPORT;
    req->flag &= ~(RMQ_FLAG_RESPONSE | RMQ_FLAG_ONEWAY);
    req->opaque = take_opaque();
    if (c->ep->send_hook)
        c->ep->send_hook(c, req, c->ep->send_hook_ctx);
    pending_new(c, req->opaque, timeout_ms, cb, arg);
    return rmq_conn_send(c, req);
}

int32_t rmq_conn_next_opaque(void)
{
    return take_opaque();
}

static void free_frame(const void *data, size_t len, void *extra)
{
    (void)data;
    (void)len;
    free(extra);
}

rmq_err_t rmq_conn_request_frame(rmq_conn_t *c, uint8_t *frame, size_t len, int32_t opaque, int timeout_ms,
                                 rmq_resp_cb_t cb, void *arg)
{
    if (c->closed || !c->bev) {
        free(frame);
        return RMQ_ERR__TRANSPORT;
    }
    pending_new(c, opaque, timeout_ms, cb, arg);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_add_reference(out, frame, len, free_frame, frame) != 0) {
        free(frame);
        return RMQ_ERR__TRANSPORT;
    }
    maybe_pause_reading(c);
    want_flush(c);
    return RMQ_OK;
}

rmq_err_t rmq_conn_oneway(rmq_conn_t *c, rmq_cmd_t *req)
{
    req->flag = (req->flag & ~RMQ_FLAG_RESPONSE) | RMQ_FLAG_ONEWAY;
    req->opaque = take_opaque();
    if (c->ep->send_hook)
        c->ep->send_hook(c, req, c->ep->send_hook_ctx);
    return rmq_conn_send(c, req);
}

void rmq_conn_reply_to(rmq_conn_t *c, int32_t opaque, uint8_t serialize, rmq_cmd_t *resp)
{
    resp->opaque = opaque;
    resp->serialize = serialize;
    resp->flag |= RMQ_FLAG_RESPONSE;
    resp->version = RMQ_VERSION_CURRENT;
    resp->language = RMQ_LANG_JAVA;
    rmq_conn_send(c, resp);
}

void rmq_conn_reply(rmq_conn_t *c, const rmq_cmd_t *req, rmq_cmd_t *resp)
{
    if (rmq_cmd_is_oneway(req))
        return;
    rmq_conn_reply_to(c, req->opaque, req->serialize, resp);
}

/* ---------- receiving ---------- */

/* Log lines about one peer's misbehaviour: at most a few a minute per
 * address when the endpoint has a guard (an attacker cannot flood the log). */
static bool peer_log_ok(rmq_conn_t *c, char *note, size_t n)
{
    note[0] = '\0';
    if (!c->ep->opts.guard)
        return true;
    uint64_t supp = 0;
    if (!rmq_netguard_log_ok(c->ep->opts.guard, c->ip[0] ? c->ip : c->peer, &supp))
        return false;
    if (supp)
        snprintf(note, n, " (%llu similar events from this address not logged)", (unsigned long long)supp);
    return true;
}

static void log_bad_frame(rmq_conn_t *c, const char *why, const uint8_t *p, size_t n)
{
    char note[96];
    if (!peer_log_ok(c, note, sizeof(note)))
        return;
    char hex[3 * 32 + 1];
    size_t k = n < 32 ? n : 32;
    for (size_t i = 0; i < k; i++)
        snprintf(hex + 3 * i, 4, "%02x ", p[i]);
    hex[k ? 3 * k - 1 : 0] = '\0';
    rmq_log(RMQ_LOG_WARN, c->ep->name, "closing %s: %s (first bytes: %s)%s", c->peer, why, hex, note);
}

static void dispatch_request(rmq_conn_t *c, rmq_cmd_t *req)
{
    rmq_endpoint_t *ep = c->ep;
    if (ep->req_hook && !ep->req_hook(c, req, ep->req_hook_ctx))
        return;
    handler_t *h = NULL;
    rmq_covtrace_code(req->code); /* the test suite's coverage report */
    if (req->code >= 0 && req->code < HANDLER_SLOTS && ep->handlers[req->code].h)
        h = &ep->handlers[req->code];
    else if (ep->dflt.h)
        h = &ep->dflt;
    if (h && ep->observer) {
        int64_t t0 = rmq_mono_us();
        int code = req->code;
        bool oneway = rmq_cmd_is_oneway(req);
        rmq_req_observer_t fn = ep->observer;
        void *octx = ep->observer_ctx;
        c->obs_opaque = req->opaque;
        c->obs_code = -1;
        h->h(c, req, h->ctx);
        int resp = oneway ? -1 : c->obs_code;
        c->obs_code = -1;
        fn(code, resp, rmq_mono_us() - t0, octx);
        return;
    }
    if (h) {
        h->h(c, req, h->ctx);
        return;
    }
    int64_t t0 = ep->observer ? rmq_mono_us() : 0;
    rmq_log(RMQ_LOG_DEBUG, ep->name, "%s: request code %d not supported", c->peer, req->code);
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED, NULL);
    rmq_cmd_set_remark(&resp, " request type %d not supported", req->code);
    /* Java answers this one even for oneway requests. */
    rmq_conn_reply_to(c, req->opaque, req->serialize, &resp);
    rmq_cmd_deinit(&resp);
    /* counted too: a client asking for what this server lacks is worth seeing */
    if (ep->observer)
        ep->observer(req->code, RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED, rmq_mono_us() - t0, ep->observer_ctx);
}

static void dispatch_response(rmq_conn_t *c, rmq_cmd_t *resp)
{
    pending_t *p = pending_take(c, resp->opaque);
    if (!p) {
        rmq_log(RMQ_LOG_DEBUG, c->ep->name, "%s: response for unknown opaque %d dropped", c->peer,
                resp->opaque);
        return;
    }
    evtimer_del(PENDING_TIMER(p));
    p->cb(c, RMQ_OK, resp, p->arg);
    pending_free(p);
}

/* The connection whose buffered input is largest among every endpoint of
 * the guard. */
static rmq_conn_t *largest_input(rmq_netguard_t *g)
{
    size_t n;
    void *const *eps = rmq_netguard_members(g, &n);
    rmq_conn_t *best = NULL;
    for (size_t i = 0; i < n; i++)
        for (rmq_conn_t *c = ((rmq_endpoint_t *)eps[i])->conns; c; c = c->next)
            if (!best || c->in_accounted > best->in_accounted ||
                (c->in_accounted == best->in_accounted && c->id > best->id))
                best = c;
    return best && best->in_accounted > 0 ? best : NULL;
}

/* Count this connection's buffered input in the guard's budget; while the
 * total is over serverInputBufferLimit, close the connection holding the
 * most (the newest among equals). */
static void account_input(rmq_conn_t *c)
{
    rmq_netguard_t *g = c->ep->opts.guard;
    int64_t now = (int64_t)evbuffer_get_length(bufferevent_get_input(c->bev));
    bool ok = rmq_netguard_input(g, now - c->in_accounted);
    c->in_accounted = now;
    while (!ok) {
        rmq_conn_t *victim = largest_input(g);
        if (!victim)
            break;
        char note[96];
        if (peer_log_ok(victim, note, sizeof(note)))
            rmq_log(
                RMQ_LOG_WARN, victim->ep->name,
                "closing %s: it holds %lld bytes of an incomplete frame and all connections together hold "
                "%lld, over serverInputBufferLimit%s",
                victim->peer, (long long)victim->in_accounted, (long long)rmq_netguard_input_used(g), note);
        conn_close(victim, RMQ_ERR__TRANSPORT);
        ok = rmq_netguard_input(g, 0);
    }
}

/* A frame's length word is acceptable; if not, the connection is closed. */
static bool frame_len_ok(rmq_conn_t *c, size_t flen, const uint8_t lb[4])
{
    if (flen <= c->ep->opts.max_frame && flen >= 4)
        return true;
    char why[160];
    if (c->frames == 0 && lb[0] == TLS_HANDSHAKE_BYTE && !c->ep->is_client)
        snprintf(why, sizeof(why), "a TLS handshake, but TLS is disabled on this port (tls.server.mode)");
    else
        snprintf(why, sizeof(why), "frame length %zu outside [4, %zu]", flen, c->ep->opts.max_frame);
    log_bad_frame(c, why, lb, 4);
    conn_close(c, RMQ_ERR__TRANSPORT);
    return false;
}

/* Decode one complete frame (its bytes after the length word) into cmd;
 * false if it was malformed (the connection is closed). The command owns
 * copies of everything it needs, so the bytes may go right after. */
static bool decode_frame(rmq_conn_t *c, const uint8_t *frame, size_t flen, rmq_cmd_t *cmd)
{
    char err[160];
    if (rmq_cmd_decode(cmd, frame, flen, err, sizeof(err)) == RMQ_OK)
        return true;
    log_bad_frame(c, err, frame, flen);
    conn_close(c, RMQ_ERR__TRANSPORT);
    return false;
}

/* Hand a decoded frame to its response callback or request handler. */
static void dispatch_cmd(rmq_conn_t *c, rmq_cmd_t *cmd)
{
    c->frames++;
    if (rmq_cmd_is_response(cmd))
        dispatch_response(c, cmd);
    else
        dispatch_request(c, cmd);
    rmq_cmd_deinit(cmd);
    if (!c->closed)
        maybe_pause_reading(c);
}

static bool dispatch_frame(rmq_conn_t *c, const uint8_t *frame, size_t flen)
{
    rmq_cmd_t cmd;
    if (!decode_frame(c, frame, flen, &cmd))
        return false;
    dispatch_cmd(c, &cmd);
    return true;
}

/* Decode and dispatch every complete frame in the input buffer. */
static void process_input(rmq_conn_t *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    rmq_conn_hold(c);
    while (!c->closed && !c->read_paused) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 4)
            break;
        uint8_t lb[4];
        evbuffer_copyout(in, lb, 4);
        size_t flen = rmq_be32(lb);
        if (!frame_len_ok(c, flen, lb))
            break;
        if (avail < 4 + flen)
            break;
        /* pulled up, decoded (copied), drained, then dispatched */
        const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(4 + flen));
        rmq_cmd_t cmd;
        if (!decode_frame(c, frame + 4, flen, &cmd))
            break;
        evbuffer_drain(in, 4 + flen);
        dispatch_cmd(c, &cmd);
    }
    if (!c->closed && c->ep->opts.guard)
        account_input(c);
    rmq_conn_release(c);
}

/* Dispatch the complete frames at the start of p[0..n) (bytes just read,
 * with nothing buffered before them); returns how many bytes were used. */
static size_t process_flat(rmq_conn_t *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (!c->closed && !c->read_paused && n - off >= 4) {
        size_t flen = rmq_be32(p + off);
        if (!frame_len_ok(c, flen, p + off) || n - off - 4 < flen)
            break;
        if (!dispatch_frame(c, p + off + 4, flen))
            break;
        off += 4 + flen;
    }
    return off;
}

/* Append bytes to the input buffer in pieces small enough that libevent's
 * chains stay 8 KiB (it rounds each new chain up to a power of two, twice
 * the piece at worst), so a connection holding part of a frame holds at
 * most one partly filled chain beyond the bytes the input budget counts. */
static bool append_input(struct evbuffer *in, const uint8_t *p, size_t n)
{
    enum { PIECE = 4000 };
    while (n) {
        size_t k = n < PIECE ? n : PIECE;
        if (evbuffer_add(in, p, k) != 0)
            return false;
        p += k;
        n -= k;
    }
    return true;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    process_input(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    maybe_resume_reading(arg);
}

/* Direct connections read here: up to 4 reads of up to 64 KiB while the
 * socket fills them, then the frames are dispatched. Each read lands in the
 * endpoint's scratch buffer and only what arrived is appended to the input
 * buffer: reserving 64 KiB in every connection's input buffer would let a
 * thousand connections trickling a few bytes each hold 64 MiB the input
 * budget (which counts bytes) never sees. The copy costs ~50 ns per 1 KiB. */
#define DIRECT_READ_CHUNK 65536
static void direct_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    rmq_conn_t *c = arg;
    rmq_endpoint_t *ep = c->ep;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    bool eof = false;
    int err = 0;
    if (!ep->scratch)
        ep->scratch = rmq_malloc(DIRECT_READ_CHUNK);
    rmq_conn_hold(c);
    for (int i = 0; i < 4 && !c->closed && !c->read_paused; i++) {
        ssize_t r = read(fd, ep->scratch, DIRECT_READ_CHUNK);
        if (r <= 0) {
            if (r == 0)
                eof = true;
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                err = errno;
            break;
        }
        c->last_input_ms = rmq_mono_ms();
        size_t used = 0;
        bool buffered = evbuffer_get_length(in) > 0;
        if (!buffered) /* the usual case: whole frames, dispatched from the scratch */
            used = process_flat(c, ep->scratch, (size_t)r);
        if (c->closed)
            break;
        if (!append_input(in, ep->scratch + used, (size_t)r - used)) {
            err = ENOMEM;
            break;
        }
        /* the rest of a frame arrived (or a frame was cut short): dispatch
         * what is complete and count what is left in the input budget */
        process_input(c);
        if ((size_t)r < DIRECT_READ_CHUNK)
            break; /* the socket is drained */
    }
    if (!c->closed && (eof || err)) {
        if (eof)
            rmq_log(RMQ_LOG_DEBUG, c->ep->name, "%s: closed by peer", c->peer);
        else
            rmq_log_errno(RMQ_LOG_DEBUG, c->ep->name, err, "%s: connection error", c->peer);
        conn_close(c, RMQ_ERR__TRANSPORT);
    }
    rmq_conn_release(c);
}

static void direct_write_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_conn_t *c = arg;
    rmq_conn_hold(c);
    direct_write(c);
    rmq_conn_release(c);
}

/* A connected plain socket switches to direct I/O: the bufferevent stops
 * reading and writing, persistent events take over. */
static void go_direct(rmq_conn_t *c)
{
    rmq_endpoint_t *ep = c->ep;
    c->fd = bufferevent_getfd(c->bev);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    c->rev = event_new(ep->base, c->fd, EV_READ | EV_PERSIST, direct_read_cb, c);
    c->wev = event_new(ep->base, c->fd, EV_WRITE | EV_PERSIST, direct_write_cb, c);
    /* the bufferevent keeps its buffers frozen outside its own callbacks */
    evbuffer_unfreeze(bufferevent_get_input(c->bev), 0);
    evbuffer_unfreeze(bufferevent_get_output(c->bev), 1);
    c->direct = true;
    c->last_input_ms = rmq_mono_ms();
    if (!c->read_paused)
        event_add(c->rev, NULL);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)))
        want_flush(c);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        process_input(c);
}

/* Idle timeout of direct connections: no input for idle_timeout_ms while
 * reading (a paused connection is not idle). */
static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_endpoint_t *ep = arg;
    int64_t now = rmq_mono_ms();
    rmq_conn_t *c = ep->conns;
    while (c) {
        rmq_conn_t *next = c->next;
        if (c->direct && !c->read_paused && now - c->last_input_ms >= ep->opts.idle_timeout_ms) {
            rmq_log(RMQ_LOG_INFO, ep->name, "%s: idle timeout, closing", c->peer);
            conn_close(c, RMQ_ERR__TRANSPORT);
        }
        c = next;
    }
}

static void set_idle_timeout(rmq_conn_t *c)
{
    if (c->ep->opts.idle_timeout_ms > 0) {
        struct timeval tv = {c->ep->opts.idle_timeout_ms / 1000, (c->ep->opts.idle_timeout_ms % 1000) * 1000};
        bufferevent_set_timeouts(c->bev, &tv, NULL);
    } else {
        bufferevent_set_timeouts(c->bev, NULL, NULL);
    }
}

static void fill_local(rmq_conn_t *c)
{
    socklen_t sl = sizeof(c->local_addr);
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0 && getsockname(fd, (struct sockaddr *)&c->local_addr, &sl) == 0)
        normalize_v4mapped(&c->local_addr);
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
}

static void set_last_error(rmq_endpoint_t *ep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_last_error(rmq_endpoint_t *ep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&ep->last_error_mu);
    vsnprintf(ep->last_error, sizeof(ep->last_error), fmt, ap);
    pthread_mutex_unlock(&ep->last_error_mu);
    va_end(ap);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    rmq_conn_t *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
        fill_local(c);
        socklen_t sl = sizeof(c->peer_addr);
        getpeername(bufferevent_getfd(bev), (struct sockaddr *)&c->peer_addr, &sl);
        normalize_v4mapped(&c->peer_addr);
        if (c->tls)
            set_idle_timeout(c);
        else
            go_direct(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        rmq_log(RMQ_LOG_INFO, c->ep->name, "%s: %s, closing", c->peer,
                c->connected ? "idle timeout" : "connect timeout");
        if (!c->connected)
            set_last_error(c->ep, "connect to %s timed out", c->peer);
    } else if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        unsigned long ssl_err = c->tls ? bufferevent_get_openssl_error(bev) : 0;
        if (c->tls && (ssl_err || !c->connected || c->frames == 0)) {
            char why[200];
            rmq_tls_describe_error(bufferevent_openssl_get_ssl(bev), ssl_err, why, sizeof(why));
            if (c->ep->is_client) {
                set_last_error(c->ep, "TLS connection to %s failed: %s", c->peer, why);
                rmq_log(RMQ_LOG_WARN, c->ep->name, "TLS connection to %s failed: %s", c->peer, why);
            } else {
                char note[96];
                if (peer_log_ok(c, note, sizeof(note)))
                    rmq_log(RMQ_LOG_INFO, c->ep->name, "TLS with %s failed: %s%s", c->peer, why, note);
            }
        } else if (!c->connected) {
            set_last_error(c->ep, "connect to %s failed: %s", c->peer, strerror(err));
            rmq_log_errno(RMQ_LOG_WARN, c->ep->name, err, "connect to %s failed", c->peer);
        } else {
            rmq_log_errno(RMQ_LOG_DEBUG, c->ep->name, err, "%s: connection error", c->peer);
        }
    } else {
        rmq_log(RMQ_LOG_DEBUG, c->ep->name, "%s: closed by peer", c->peer);
    }
    conn_close(c, RMQ_ERR__TRANSPORT);
}

static rmq_conn_t *conn_new(rmq_endpoint_t *ep, struct bufferevent *bev)
{
    rmq_conn_t *c = rmq_calloc(1, sizeof(*c));
    c->ep = ep;
    c->bev = bev;
    c->refs = 1;
    c->id = atomic_fetch_add(&next_conn_id, 1);
    c->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = c;
    ep->conns = c;
    ep->nconns++;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    return c;
}

/* ---------- server ---------- */

/* A server connection's transport is ready (plain or TLS): callbacks on. */
static void server_conn_ready(rmq_conn_t *c, struct bufferevent *bev, bool tls)
{
    c->bev = bev;
    c->tls = tls;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    if (tls)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    fill_local(c);
    if (!tls) {
        go_direct(c);
        return;
    }
    set_idle_timeout(c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Permissive / enforcing TLS: the first byte decides (Java's
 * HandshakeHandler peeks it the same way). */
static void peek_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_conn_t *c = arg;
    rmq_endpoint_t *ep = c->ep;
    if (what & EV_TIMEOUT) {
        rmq_log(RMQ_LOG_DEBUG, ep->name, "%s: nothing received, closing", c->peer);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    }
    uint8_t b;
    ssize_t r = recv(fd, &b, 1, MSG_PEEK);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return; /* spurious wake-up: the event stays armed */
    if (r <= 0) {
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    }
    rmq_event_clear(&c->peek_ev);
    c->peek_fd = -1;
    struct bufferevent *bev = NULL;
    bool tls = b == TLS_HANDSHAKE_BYTE;
    if (tls) {
        SSL *ssl = rmq_tls_new_ssl(ep->opts.tls, NULL);
        if (ssl)
            bev = bufferevent_openssl_socket_new(ep->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                 BEV_OPT_CLOSE_ON_FREE);
        if (!bev && ssl)
            SSL_free(ssl);
    } else if (rmq_tls_mode(ep->opts.tls) == RMQ_TLS_ENFORCING) {
        char note[96];
        if (peer_log_ok(c, note, sizeof(note)))
            rmq_log(RMQ_LOG_WARN, ep->name,
                    "closing %s: plaintext connection while tls.server.mode=enforcing%s", c->peer, note);
        evutil_closesocket(fd);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    } else {
        bev = bufferevent_socket_new(ep->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev) {
        evutil_closesocket(fd);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    }
    server_conn_ready(c, bev, tls);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                      void *arg)
{
    rmq_endpoint_t *ep = arg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, sa, (size_t)socklen < sizeof(ss) ? (size_t)socklen : sizeof(ss));
    normalize_v4mapped(&ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
    rmq_netguard_t *g = ep->opts.guard;
    const char *why = NULL;
    if (g && !rmq_netguard_enter(g, ip, &why)) {
        uint64_t supp = 0;
        if (rmq_netguard_log_ok(g, ip, &supp))
            rmq_log(RMQ_LOG_WARN, ep->name,
                    "refusing a connection from %s: %s (%zu open, limit %d)%s%.0llu%s", ip, why,
                    rmq_netguard_connections(g), rmq_netguard_max_connections(g), supp ? " (" : "",
                    (unsigned long long)supp, supp ? " more not logged)" : "");
        evutil_closesocket(fd);
        return;
    }
    rmq_conn_t *c = rmq_calloc(1, sizeof(*c));
    c->ep = ep;
    c->refs = 1;
    c->peek_fd = -1;
    c->id = atomic_fetch_add(&next_conn_id, 1);
    c->admitted = g != NULL;
    c->next = ep->conns;
    if (ep->conns)
        ep->conns->prev = c;
    ep->conns = c;
    ep->nconns++;
    memcpy(&c->peer_addr, &ss, sizeof(ss));
    snprintf(c->ip, sizeof(c->ip), "%s", ip);
    sockaddr_text((struct sockaddr *)&c->peer_addr, c->peer, sizeof(c->peer));
    c->connected = true;
    rmq_log(RMQ_LOG_DEBUG, ep->name, "accepted %s", c->peer);
    if (rmq_tls_mode(ep->opts.tls) != RMQ_TLS_DISABLED) {
        c->peek_fd = fd;
        c->peek_ev = event_new(ep->base, fd, EV_READ | EV_PERSIST, peek_cb, c);
        struct timeval tv = {ep->opts.idle_timeout_ms / 1000, (ep->opts.idle_timeout_ms % 1000) * 1000};
        event_add(c->peek_ev, ep->opts.idle_timeout_ms > 0 ? &tv : NULL);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(ep->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return;
    }
    server_conn_ready(c, bev, false);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_endpoint_t *ep = arg;
    if (ep->listener)
        evconnlistener_enable(ep->listener);
}

/* accept() failed. Out of descriptors or memory: stop accepting for a while
 * (the listen socket stays readable, so going on would spin). */
static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    rmq_endpoint_t *ep = arg;
    int err = EVUTIL_SOCKET_ERROR();
    bool exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    int pause_ms = ep->opts.guard ? rmq_netguard_accept_pause_ms(ep->opts.guard) : 1000;
    uint64_t supp = 0;
    bool log = !ep->opts.guard || rmq_netguard_log_ok(ep->opts.guard, "accept()", &supp);
    if (exhausted) {
        evconnlistener_disable(l);
        if (!ep->accept_resume)
            ep->accept_resume = evtimer_new(ep->base, accept_resume_cb, ep);
        struct timeval tv = {pause_ms / 1000, (pause_ms % 1000) * 1000};
        evtimer_add(ep->accept_resume, &tv);
        if (log)
            rmq_log_errno(RMQ_LOG_ERROR, ep->name, err,
                          "accept() failed on port %d: not accepting for %d ms%s%.0llu%s", ep->port, pause_ms,
                          supp ? " (" : "", (unsigned long long)supp, supp ? " more not logged)" : "");
    } else if (log) {
        rmq_log_errno(RMQ_LOG_ERROR, ep->name, err, "accept() failed on port %d", ep->port);
    }
}

static rmq_endpoint_t *endpoint_new(struct event_base *base, const rmq_endpoint_opts_t *opts, bool client)
{
    rmq_endpoint_t *ep = rmq_calloc(1, sizeof(*ep));
    ep->base = base;
    if (opts)
        ep->opts = *opts;
    else
        rmq_endpoint_opts_default(&ep->opts);
    snprintf(ep->name, sizeof(ep->name), "%s", ep->opts.name ? ep->opts.name : "remoting");
    ep->opts.name = NULL;
    ep->is_client = client;
    pthread_mutex_init(&ep->last_error_mu, NULL);
    return ep;
}

/* The endpoint's own events, once it is going to be used. */
static void endpoint_start(rmq_endpoint_t *ep)
{
    ep->flush_ev = event_new(ep->base, -1, 0, flush_cb, ep);
    if (ep->opts.idle_timeout_ms > 0) {
        int iv = ep->opts.idle_timeout_ms / 4 < 1000 ? ep->opts.idle_timeout_ms / 4 : 1000;
        struct timeval tv = {iv / 1000, (iv % 1000) * 1000};
        ep->idle_ev = event_new(ep->base, -1, EV_PERSIST, idle_cb, ep);
        event_add(ep->idle_ev, &tv);
    }
}

rmq_endpoint_t *rmq_server_new(struct event_base *base, const char *host, int port,
                               const rmq_endpoint_opts_t *opts, char *errstr, size_t errstr_size)
{
    rmq_endpoint_t *ep = endpoint_new(base, opts, false);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    int sl;
    char spec[128];
    const char *h = host && *host ? host : "0.0.0.0";
    snprintf(spec, sizeof(spec), strchr(h, ':') ? "[%s]:%d" : "%s:%d", h, port);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        sl = sizeof(*in4);
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*in6);
    } else {
        snprintf(errstr, errstr_size, "bad listen address %s (numeric IPv4/IPv6 expected)", spec);
        free(ep);
        return NULL;
    }
    ep->listener = evconnlistener_new_bind(base, accept_cb, ep,
                                           LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                           1024, (struct sockaddr *)&ss, sl);
    if (!ep->listener) {
        snprintf(errstr, errstr_size, "cannot listen on %s: %s", spec, strerror(errno));
        free(ep);
        return NULL;
    }
    evconnlistener_set_error_cb(ep->listener, accept_error_cb);
    if (ep->opts.guard)
        rmq_netguard_attach(ep->opts.guard, ep);
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(evconnlistener_get_fd(ep->listener), (struct sockaddr *)&bound, &bl);
    ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    endpoint_start(ep);
    return ep;
}

int rmq_server_port(const rmq_endpoint_t *ep)
{
    return ep->port;
}

/* ---------- client ---------- */

rmq_endpoint_t *rmq_client_new(struct event_base *base, const rmq_endpoint_opts_t *opts)
{
    rmq_endpoint_t *ep = endpoint_new(base, opts, true);
    endpoint_start(ep);
    return ep;
}

rmq_conn_t *rmq_client_conn(rmq_endpoint_t *ep, const char *addr)
{
    for (rmq_conn_t *c = ep->conns; c; c = c->next)
        if (strcmp(c->peer, addr) == 0)
            return c;
    char host[256];
    int port;
    if (!rmq_addr_split(addr, host, sizeof(host), &port))
        return NULL;
    struct bufferevent *bev;
    bool tls = ep->opts.tls != NULL;
    if (tls) {
        SSL *ssl = rmq_tls_new_ssl(ep->opts.tls, host);
        bev = ssl ? bufferevent_openssl_socket_new(ep->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                   BEV_OPT_CLOSE_ON_FREE)
                  : NULL;
        if (!bev && ssl)
            SSL_free(ssl);
        if (bev)
            bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(ep->base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (!bev)
        return NULL;
    rmq_conn_t *c = conn_new(ep, bev);
    c->tls = tls;
    snprintf(c->peer, sizeof(c->peer), "%s", addr);
    struct timeval tv = {ep->opts.connect_timeout_ms / 1000, (ep->opts.connect_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    int rc;
    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sl) == 0) {
        rc = bufferevent_socket_connect(bev, (struct sockaddr *)&ss, sl);
    } else {
        if (!ep->dns)
            ep->dns = evdns_base_new(ep->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        rc = bufferevent_socket_connect_hostname(bev, ep->dns, AF_UNSPEC, host, port);
    }
    if (rc != 0) {
        rmq_log(RMQ_LOG_WARN, ep->name, "connect to %s failed immediately", addr);
        conn_close(c, RMQ_ERR__TRANSPORT);
        return NULL;
    }
    return c;
}

rmq_err_t rmq_client_request(rmq_endpoint_t *ep, const char *addr, rmq_cmd_t *req, int timeout_ms,
                             rmq_resp_cb_t cb, void *arg)
{
    rmq_conn_t *c = rmq_client_conn(ep, addr);
    if (!c)
        return RMQ_ERR__TRANSPORT;
    return rmq_conn_request(c, req, timeout_ms, cb, arg);
}

/* ---------- endpoint ---------- */

void rmq_endpoint_set_handler(rmq_endpoint_t *ep, int code, rmq_req_handler_t h, void *ctx)
{
    rmq_assert(code >= 0 && code < HANDLER_SLOTS);
    ep->handlers[code].h = h;
    ep->handlers[code].ctx = ctx;
}

void rmq_endpoint_set_default_handler(rmq_endpoint_t *ep, rmq_req_handler_t h, void *ctx)
{
    ep->dflt.h = h;
    ep->dflt.ctx = ctx;
}

void rmq_endpoint_set_close_cb(rmq_endpoint_t *ep, rmq_close_cb_t cb, void *ctx)
{
    ep->close_cb = cb;
    ep->close_ctx = ctx;
}

void rmq_endpoint_set_request_hook(rmq_endpoint_t *ep, rmq_req_hook_t h, void *ctx)
{
    ep->req_hook = h;
    ep->req_hook_ctx = ctx;
}

void rmq_endpoint_set_send_hook(rmq_endpoint_t *ep, rmq_send_hook_t h, void *ctx)
{
    ep->send_hook = h;
    ep->send_hook_ctx = ctx;
}

void rmq_endpoint_last_error(rmq_endpoint_t *ep, char *out, size_t n)
{
    pthread_mutex_lock(&ep->last_error_mu);
    snprintf(out, n, "%s", ep->last_error);
    pthread_mutex_unlock(&ep->last_error_mu);
}

struct event_base *rmq_endpoint_base(rmq_endpoint_t *ep)
{
    return ep->base;
}

void rmq_endpoint_set_observer(rmq_endpoint_t *ep, rmq_req_observer_t fn, void *ctx)
{
    ep->observer = fn;
    ep->observer_ctx = ctx;
}

size_t rmq_endpoint_conn_count(const rmq_endpoint_t *ep)
{
    return ep->nconns;
}

void rmq_endpoint_destroy(rmq_endpoint_t *ep)
{
    if (!ep)
        return;
    if (ep->listener)
        evconnlistener_free(ep->listener);
    ep->listener = NULL;
    rmq_event_free(ep->accept_resume);
    ep->close_cb = NULL;
    while (ep->conns)
        conn_close(ep->conns, RMQ_ERR__DESTROY);
    flush_cb(-1, 0, ep); /* releases the queued connections (all closed now) */
    event_free(ep->flush_ev);
    rmq_event_free(ep->idle_ev);
    if (ep->dns)
        evdns_base_free(ep->dns, 0);
    if (ep->opts.guard && !ep->is_client)
        rmq_netguard_detach(ep->opts.guard, ep);
    pthread_mutex_destroy(&ep->last_error_mu);
    free(ep->scratch);
    free(ep);
}
