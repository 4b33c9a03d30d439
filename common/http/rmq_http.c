/* rmq_http.c - the HTTP/1.1 server behind /metrics and mqconsole: accept
 * with a connection cap, bounded request heads and bodies, a deadline per
 * request, one request at a time per connection, routing by path, answers
 * from any thread handed to the server's loop.
 * Thread: the server's own ("<name>" in the log), which runs its
 * event_base; rmq_http_new/start/destroy run on the owner's thread and
 * rmq_http_reply* on any thread. Nothing here touches the caller's tables. */
#include "rmq_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_timer.h"

struct rmq_http_blob_s {
    _Atomic int refs;
    size_t len;
    uint8_t *data;
};

typedef struct route_s {
    char *path;
    bool prefix;
    rmq_http_handler_t *h;
    void *ctx;
} route_t;

typedef enum { C_READ, C_BODY, C_HANDLE, C_WRITE, C_LINGER } cstate_t;

/* After an answer that ends the connection early (a refused request), the
 * client may still be sending: the server half-closes and drops what comes
 * for at most this long / this much before closing (see conn_linger). */
#define LINGER_MS 2000
#define LINGER_MAX_BYTES ((size_t)4 << 20)

typedef struct conn_s conn_t;

struct rmq_http_req_s {
    rmq_http_server_t *s;
    conn_t *conn; /* NULL once the connection is gone (the answer is dropped) */
    rmq_http_head_t head;
    rmq_http_target_t target;
    uint8_t *body;
    size_t body_len;
    bool keep_alive;
    bool counted_pending;
    bool answered;
    char peer[64];
    /* the answer, staged by rmq_http_reply* on any thread */
    int status;
    char ctype[96];
    char *extra_headers;
    uint8_t *owned;
    size_t owned_len;
    const void *stat;
    size_t stat_len;
    rmq_http_blob_t *blob, *blob2;
    STAILQ_ENTRY(rmq_http_req_s) done_link; /* in the server's done list */
    LIST_ENTRY(rmq_http_req_s) live_link;   /* in the server's list of handed-off requests */
};

struct conn_s {
    rmq_http_server_t *s;
    struct bufferevent *bev;
    struct event *deadline;
    cstate_t st;
    bool close_after_write;
    bool linger;          /* close_after_write: half-close and drain first (conn_linger) */
    size_t lingered;      /* C_LINGER: bytes dropped */
    bool got_bytes;       /* bytes of the current request seen (else an idle keep-alive) */
    rmq_http_head_t head; /* C_BODY: the head waiting for its body */
    rmq_http_req_t *req;  /* C_HANDLE */
    char peer[64];
    LIST_ENTRY(conn_s) link; /* in the server's connections */
};

struct rmq_http_server_s {
    rmq_http_opts_t o;
    char name[32];
    char host[128];
    struct event_base *base;
    struct evconnlistener *listener;
    int port;
    route_t *routes;
    size_t nroutes;
    LIST_HEAD(, conn_s) conns;
    int nconns;
    int npending;
    pthread_t thr;
    bool running;
    struct event *done_ev, *stop_ev;
    pthread_mutex_t done_mu;
    STAILQ_HEAD(, rmq_http_req_s) done; /* answered off the server thread, oldest first (done_mu) */
    LIST_HEAD(, rmq_http_req_s) live;   /* handed off, not delivered (server thread only) */
    _Atomic int64_t st_conns, st_accepted, st_refused, st_requests, st_bad, st_timeouts;
};

static void conn_close(conn_t *c);
static void conn_process(conn_t *c);
static void send_answer(conn_t *c, rmq_http_req_t *r);

void rmq_http_opts_default(rmq_http_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->name = "http";
    o->host = "127.0.0.1";
    o->port = 0;
    o->max_connections = 64;
    o->max_head_bytes = 16384;
    o->max_target_bytes = 8192;
    o->max_body_bytes = 65536;
    o->request_timeout_ms = 10000;
    o->write_timeout_ms = 10000;
    o->max_pending = 64;
}

const char *rmq_http_status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

/* ---------- blobs ---------- */

rmq_http_blob_t *rmq_http_blob_new(rmq_buf_t *bytes)
{
    rmq_http_blob_t *b = rmq_calloc(1, sizeof(*b));
    atomic_init(&b->refs, 1);
    b->data = rmq_buf_detach(bytes, &b->len);
    return b;
}

void rmq_http_blob_ref(rmq_http_blob_t *b)
{
    atomic_fetch_add(&b->refs, 1);
}

void rmq_http_blob_unref(rmq_http_blob_t *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b->data);
        free(b);
    }
}

size_t rmq_http_blob_len(const rmq_http_blob_t *b)
{
    return b->len;
}

static void blob_cleanup(const void *data, size_t len, void *extra)
{
    rmq_http_blob_unref(extra);
}
static void free_cleanup(const void *data, size_t len, void *extra)
{
    free(extra);
}

/* ---------- requests ---------- */

rmq_http_method_t rmq_http_req_method(const rmq_http_req_t *r)
{
    return r->head.method;
}
const char *rmq_http_req_path(const rmq_http_req_t *r)
{
    return r->target.path;
}
const char *rmq_http_req_param(const rmq_http_req_t *r, const char *name)
{
    return rmq_http_target_param(&r->target, name);
}
const char *rmq_http_req_header(const rmq_http_req_t *r, const char *name)
{
    return rmq_http_head_get(&r->head, name);
}
const uint8_t *rmq_http_req_body(const rmq_http_req_t *r, size_t *len)
{
    *len = r->body_len;
    return r->body;
}
rmq_http_server_t *rmq_http_req_server(const rmq_http_req_t *r)
{
    return r->s;
}
const char *rmq_http_req_peer(const rmq_http_req_t *r)
{
    return r->peer;
}

static void req_free(rmq_http_req_t *r)
{
    rmq_http_head_free(&r->head);
    rmq_http_target_free(&r->target);
    free(r->body);
    free(r->extra_headers);
    free(r->owned);
    rmq_http_blob_unref(r->blob);
    rmq_http_blob_unref(r->blob2);
    free(r);
}

/* Server thread: r leaves the handed-off list. */
static void live_unlink(rmq_http_server_t *s, rmq_http_req_t *r)
{
    if (!r->counted_pending)
        return;
    r->counted_pending = false;
    s->npending--;
    LIST_REMOVE(r, live_link);
}

bool rmq_http_on_thread(const rmq_http_server_t *s)
{
    return s->running && pthread_equal(pthread_self(), s->thr);
}

/* The answer is staged in r: deliver it on the server's thread. */
static void deliver(rmq_http_req_t *r)
{
    rmq_http_server_t *s = r->s;
    if (r->answered) {
        rmq_log(RMQ_LOG_ERROR, s->name, "request answered twice (ignored)");
        return;
    }
    r->answered = true;
    if (!s->running || rmq_http_on_thread(s)) {
        live_unlink(s, r);
        if (r->conn)
            send_answer(r->conn, r);
        else
            req_free(r);
        return;
    }
    pthread_mutex_lock(&s->done_mu);
    STAILQ_INSERT_TAIL(&s->done, r, done_link);
    pthread_mutex_unlock(&s->done_mu);
    event_active(s->done_ev, EV_READ, 0);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_http_server_t *s = arg;
    pthread_mutex_lock(&s->done_mu);
    rmq_http_req_t *r = STAILQ_FIRST(&s->done);
    STAILQ_INIT(&s->done);
    pthread_mutex_unlock(&s->done_mu);
    while (r) {
        rmq_http_req_t *next = STAILQ_NEXT(r, done_link);
        live_unlink(s, r);
        if (r->conn)
            send_answer(r->conn, r);
        else
            req_free(r);
        r = next;
    }
}

/* The JSON body of an error answer, {"error":"<msg>"}, into b (initialised here). */
static void error_body(rmq_buf_t *b, const char *msg)
{
    rmq_buf_init(b);
    rmq_buf_puts(b, "{\"error\":");
    rmq_json_escape(b, msg, strlen(msg), false);
    rmq_buf_puts(b, "}\n");
}

static void stage(rmq_http_req_t *r, int status, const char *ctype)
{
    r->status = status;
    snprintf(r->ctype, sizeof(r->ctype), "%s", ctype ? ctype : "text/plain; charset=utf-8");
}

void rmq_http_reply(rmq_http_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    stage(r, status, content_type);
    r->owned = rmq_malloc(len ? len : 1);
    if (len)
        memcpy(r->owned, body, len);
    r->owned_len = len;
    deliver(r);
}

void rmq_http_reply_buf(rmq_http_req_t *r, int status, const char *content_type, rmq_buf_t *body)
{
    stage(r, status, content_type);
    r->owned = rmq_buf_detach(body, &r->owned_len);
    deliver(r);
}

void rmq_http_reply_static(rmq_http_req_t *r, int status, const char *content_type, const void *body,
                           size_t len, const char *extra_headers)
{
    stage(r, status, content_type);
    r->stat = body;
    r->stat_len = len;
    if (extra_headers)
        r->extra_headers = rmq_strdup(extra_headers);
    deliver(r);
}

void rmq_http_reply_error(rmq_http_req_t *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rmq_buf_t b;
    error_body(&b, msg);
    rmq_http_reply_buf(r, status, "application/json", &b);
}

void rmq_http_reply_blob(rmq_http_req_t *r, int status, const char *content_type, rmq_http_blob_t *blob,
                         rmq_buf_t *tail)
{
    stage(r, status, content_type);
    rmq_http_blob_ref(blob);
    r->blob = blob;
    if (tail)
        r->owned = rmq_buf_detach(tail, &r->owned_len);
    deliver(r);
}

void rmq_http_reply_blobs(rmq_http_req_t *r, int status, const char *content_type, rmq_http_blob_t *a,
                          rmq_http_blob_t *b)
{
    stage(r, status, content_type);
    if (a)
        rmq_http_blob_ref(a);
    if (b)
        rmq_http_blob_ref(b);
    r->blob = a;
    r->blob2 = b;
    deliver(r);
}

/* ---------- connections ---------- */

static void arm_deadline(conn_t *c)
{
    struct timeval tv = {c->s->o.request_timeout_ms / 1000, (c->s->o.request_timeout_ms % 1000) * 1000};
    event_add(c->deadline, &tv);
}

/* Write the staged answer of r on c and free r. */
static void send_answer(conn_t *c, rmq_http_req_t *r)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t blen = (r->blob ? r->blob->len : 0) + (r->blob2 ? r->blob2->len : 0) + r->owned_len + r->stat_len;
    bool keep = r->keep_alive && !c->close_after_write;
    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                        "Connection: %s\r\n%s\r\n",
                        r->status, rmq_http_status_text(r->status), r->ctype, blen,
                        keep ? "keep-alive" : "close", r->extra_headers ? r->extra_headers : "");
    if (r->head.method != RMQ_HTTP_HEAD) {
        rmq_http_blob_t *blobs[2] = {r->blob, r->blob2};
        for (int i = 0; i < 2; i++) {
            if (!blobs[i] || !blobs[i]->len)
                continue;
            rmq_http_blob_ref(blobs[i]);
            if (evbuffer_add_reference(out, blobs[i]->data, blobs[i]->len, blob_cleanup, blobs[i]) != 0)
                rmq_http_blob_unref(blobs[i]);
        }
        if (r->stat_len)
            evbuffer_add_reference(out, r->stat, r->stat_len, NULL, NULL);
        if (r->owned_len) {
            if (evbuffer_add_reference(out, r->owned, r->owned_len, free_cleanup, r->owned) == 0)
                r->owned = NULL;
        }
    }
    if (!keep)
        c->close_after_write = true;
    if (c->req == r)
        c->req = NULL;
    req_free(r);
    c->st = C_WRITE;
    bufferevent_enable(c->bev, EV_WRITE);
}

/* The server itself answers (bad request, 404, 503...): closes afterwards
 * when close is set. */
static void answer_now(conn_t *c, const rmq_http_head_t *head, int status, bool close, const char *msg)
{
    rmq_http_req_t *r = rmq_calloc(1, sizeof(*r));
    r->s = c->s;
    r->conn = c;
    r->keep_alive = !close && head && head->keep_alive;
    if (head)
        r->head.method = head->method;
    if (close)
        c->close_after_write = c->linger = true;
    if (status >= 400)
        atomic_fetch_add_explicit(&c->s->st_bad, 1, memory_order_relaxed);
    rmq_buf_t b;
    error_body(&b, msg);
    stage(r, status, "application/json");
    r->owned = rmq_buf_detach(&b, &r->owned_len);
    r->answered = true;
    bufferevent_disable(c->bev, EV_READ);
    event_del(c->deadline);
    send_answer(c, r);
}

static const route_t *find_route(rmq_http_server_t *s, const char *path)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        const route_t *rt = &s->routes[i];
        if (rt->prefix ? !strncmp(path, rt->path, strlen(rt->path)) : !strcmp(path, rt->path))
            return rt;
    }
    return NULL;
}

/* A complete request (head + body) is in hand: route and handle it. */
static void dispatch(conn_t *c, rmq_http_head_t *head, uint8_t *body, size_t body_len)
{
    rmq_http_server_t *s = c->s;
    atomic_fetch_add_explicit(&s->st_requests, 1, memory_order_relaxed);
    event_del(c->deadline);
    bufferevent_disable(c->bev, EV_READ);
    rmq_http_req_t *r = rmq_calloc(1, sizeof(*r));
    r->s = s;
    r->conn = c;
    r->head = *head;
    memset(head, 0, sizeof(*head));
    r->body = body;
    r->body_len = body_len;
    r->keep_alive = r->head.keep_alive;
    snprintf(r->peer, sizeof(r->peer), "%s", c->peer);
    c->req = r;
    c->st = C_HANDLE;
    char err[256];
    if (!rmq_http_target_parse(r->head.target, &r->target, err, sizeof(err))) {
        c->req = NULL;
        rmq_http_head_t h = r->head;
        answer_now(c, &h, 400, false, err);
        req_free(r);
        return;
    }
    const route_t *rt = find_route(s, r->target.path);
    if (!rt) {
        c->req = NULL;
        char msg[300];
        snprintf(msg, sizeof(msg), "no such path");
        answer_now(c, &r->head, 404, false, msg);
        req_free(r);
        return;
    }
    if (s->npending >= s->o.max_pending) {
        c->req = NULL;
        answer_now(c, &r->head, 503, true, "too many requests in progress; try again later");
        req_free(r);
        return;
    }
    rt->h(r, rt->ctx);
    /* not answered on this thread (send_answer would have cleared c->req):
     * handed off; another thread's answer reaches done_cb later */
    if (c->req == r) {
        r->counted_pending = true;
        s->npending++;
        LIST_INSERT_HEAD(&s->live, r, live_link);
    }
}

/* Parse what is buffered (C_READ / C_BODY). */
static void conn_process(conn_t *c)
{
    rmq_http_server_t *s = c->s;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t avail = evbuffer_get_length(in);
    if (avail)
        c->got_bytes = true;
    if (c->st == C_READ) {
        if (!avail)
            return;
        size_t look = avail < s->o.max_head_bytes ? avail : s->o.max_head_bytes;
        const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
        char err[256];
        long n = rmq_http_parse_head(p, avail, s->o.max_head_bytes, s->o.max_target_bytes,
                                     (int64_t)s->o.max_body_bytes, &c->head, err, sizeof(err));
        if (n == 0)
            return;
        if (n < 0) {
            answer_now(c, NULL, (int)-n, true, err);
            return;
        }
        evbuffer_drain(in, (size_t)n);
        c->st = C_BODY;
    }
    if (c->st == C_BODY) {
        size_t need = (size_t)c->head.content_length;
        if (evbuffer_get_length(in) < need)
            return;
        uint8_t *body = NULL;
        if (need) {
            body = rmq_malloc(need + 1);
            evbuffer_remove(in, body, need);
            body[need] = 0;
        }
        dispatch(c, &c->head, body, need);
    }
}

/* The answer ending the connection is written. Closing a socket whose
 * input holds unread bytes makes the kernel send a reset, which can destroy
 * the answer before the client reads it (a client still writing a refused
 * 1 MiB query string gets a reset instead of its 414; RFC 9112 9.6). So the
 * server shuts down its sending side and reads and drops what the client
 * still sends until it closes, for at most LINGER_MS and LINGER_MAX_BYTES;
 * the connection keeps its slot meanwhile (bounded like any other). */
static void conn_linger(conn_t *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd < 0 || shutdown(fd, SHUT_WR) != 0) {
        conn_close(c);
        return;
    }
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->lingered = evbuffer_get_length(in);
    evbuffer_drain(in, c->lingered);
    c->st = C_LINGER;
    bufferevent_disable(c->bev, EV_WRITE);
    struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};
    event_add(c->deadline, &tv);
    bufferevent_enable(c->bev, EV_READ);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->st == C_LINGER) {
        struct evbuffer *in = bufferevent_get_input(bev);
        size_t n = evbuffer_get_length(in);
        evbuffer_drain(in, n);
        c->lingered += n;
        if (c->lingered > LINGER_MAX_BYTES)
            conn_close(c);
        return;
    }
    conn_process(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    conn_t *c = arg;
    if (c->st != C_WRITE || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (c->close_after_write) {
        if (c->linger)
            conn_linger(c);
        else
            conn_close(c);
        return;
    }
    c->st = C_READ;
    c->got_bytes = false;
    arm_deadline(c);
    bufferevent_enable(bev, EV_READ);
    conn_process(c); /* a pipelined request may already be buffered */
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_t *c = arg;
    if (what & BEV_EVENT_TIMEOUT)
        atomic_fetch_add_explicit(&c->s->st_timeouts, 1, memory_order_relaxed);
    conn_close(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    if (c->st == C_LINGER) {
        conn_close(c); /* the client did not close in time: enough */
        return;
    }
    if (c->st != C_READ && c->st != C_BODY)
        return;
    if (!c->got_bytes) {
        conn_close(c); /* an idle keep-alive connection */
        return;
    }
    atomic_fetch_add_explicit(&c->s->st_timeouts, 1, memory_order_relaxed);
    rmq_log(RMQ_LOG_DEBUG, c->s->name, "%s: request not complete within %d ms", c->peer,
            c->s->o.request_timeout_ms);
    answer_now(c, NULL, 408, true, "request not received in time");
}

static void conn_close(conn_t *c)
{
    rmq_http_server_t *s = c->s;
    if (c->req) {
        c->req->conn = NULL; /* answered later: dropped then */
        c->req = NULL;
    }
    rmq_http_head_free(&c->head);
    LIST_REMOVE(c, link);
    s->nconns--;
    atomic_fetch_sub_explicit(&s->st_conns, 1, memory_order_relaxed);
    event_free(c->deadline);
    bufferevent_free(c->bev);
    free(c);
}

static void refuse(rmq_http_server_t *s, evutil_socket_t fd)
{
    /* best effort, never blocking: the client gets a reason if its socket buffer takes it */
    static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                              "Content-Length: 33\r\nConnection: close\r\n\r\n"
                              "{\"error\":\"too many connections\"}\n";
    ssize_t w = send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    /* a request already received is read first: a close with unread input
     * resets the connection, which can destroy the answer (conn_linger) */
    shutdown(fd, SHUT_WR);
    char sink[4096];
    for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
        ;
    evutil_closesocket(fd);
    atomic_fetch_add_explicit(&s->st_refused, 1, memory_order_relaxed);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
                      void *arg)
{
    rmq_http_server_t *s = arg;
    if (s->nconns >= s->o.max_connections) {
        refuse(s, fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    conn_t *c = rmq_calloc(1, sizeof(*c));
    c->s = s;
    c->bev = bev;
    c->st = C_READ;
    char host[INET6_ADDRSTRLEN] = "?", serv[8] = "?";
    getnameinfo(sa, (socklen_t)socklen, host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(c->peer, sizeof(c->peer), "%.46s:%.16s", host, serv); /* fits: -O0 -Werror=format-truncation */
    c->deadline = evtimer_new(s->base, deadline_cb, c);
    LIST_INSERT_HEAD(&s->conns, c, link);
    s->nconns++;
    atomic_fetch_add_explicit(&s->st_conns, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->st_accepted, 1, memory_order_relaxed);
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    /* input is bounded: stop reading once a whole request's worth is buffered */
    bufferevent_setwatermark(bev, EV_READ, 0, s->o.max_head_bytes + s->o.max_body_bytes + 1);
    struct timeval wt = {s->o.write_timeout_ms / 1000, (s->o.write_timeout_ms % 1000) * 1000};
    bufferevent_set_timeouts(bev, NULL, &wt);
    arm_deadline(c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    rmq_http_server_t *s = arg;
    rmq_log_errno(RMQ_LOG_WARN, s->name, EVUTIL_SOCKET_ERROR(), "accept() failed");
}

/* ---------- lifecycle ---------- */

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void)
{
    evthread_use_pthreads();
}

rmq_http_server_t *rmq_http_new(const rmq_http_opts_t *o, char *errstr, size_t errstr_size)
{
    pthread_once(&evthread_once, evthread_init);
    rmq_http_server_t *s = rmq_calloc(1, sizeof(*s));
    LIST_INIT(&s->conns);
    LIST_INIT(&s->live);
    STAILQ_INIT(&s->done);
    s->o = *o;
    snprintf(s->name, sizeof(s->name), "%s", o->name ? o->name : "http");
    snprintf(s->host, sizeof(s->host), "%s", o->host && *o->host ? o->host : "0.0.0.0");
    s->o.name = s->name;
    s->o.host = s->host;
    if (s->o.max_connections < 1)
        s->o.max_connections = 1;
    if (s->o.max_pending < 1)
        s->o.max_pending = 1;
    pthread_mutex_init(&s->done_mu, NULL);
    s->base = event_base_new();
    if (!s->base) {
        snprintf(errstr, errstr_size, "cannot create an event loop");
        rmq_http_destroy(s);
        return NULL;
    }
    s->done_ev = event_new(s->base, -1, EV_READ, done_cb, s);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port);
    int gai = getaddrinfo(s->host, port, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(errstr, errstr_size, "%s: cannot resolve %s: %s", s->name, s->host, gai_strerror(gai));
        rmq_http_destroy(s);
        return NULL;
    }
    s->listener = evconnlistener_new_bind(s->base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                          128, res->ai_addr, (int)res->ai_addrlen);
    int bind_errno = errno;
    freeaddrinfo(res);
    if (!s->listener) {
        snprintf(errstr, errstr_size, "%s: cannot listen on %s:%d: %s", s->name, s->host, o->port,
                 strerror(bind_errno));
        rmq_http_destroy(s);
        return NULL;
    }
    evconnlistener_set_error_cb(s->listener, accept_error_cb);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    return s;
}

void rmq_http_route(rmq_http_server_t *s, const char *path, bool prefix, rmq_http_handler_t *h, void *ctx)
{
    s->routes = rmq_realloc(s->routes, (s->nroutes + 1) * sizeof(*s->routes));
    s->routes[s->nroutes++] = (route_t){rmq_strdup(path), prefix, h, ctx};
}

static void *thread_main(void *arg)
{
    rmq_http_server_t *s = arg;
    rmq_log_set_thread_name(s->name);
    if (s->o.nice > 0) {
        /* Linux: niceness is per thread (the tid is a process id for setpriority) */
        pid_t tid = (pid_t)syscall(SYS_gettid);
        int cur = getpriority(PRIO_PROCESS, (id_t)tid);
        if (setpriority(PRIO_PROCESS, (id_t)tid, cur + s->o.nice) != 0)
            rmq_log_errno(RMQ_LOG_DEBUG, s->name, errno, "setpriority");
    }
    event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_http_server_t *s = arg;
    event_base_loopbreak(s->base);
}

rmq_err_t rmq_http_start(rmq_http_server_t *s, char *errstr, size_t errstr_size)
{
    s->stop_ev = event_new(s->base, -1, EV_READ, stop_cb, s);
    s->running = true;
    int rc = pthread_create(&s->thr, NULL, thread_main, s);
    if (rc) {
        s->running = false;
        snprintf(errstr, errstr_size, "%s: cannot start its thread: %s", s->name, strerror(rc));
        return RMQ_ERR__IO;
    }
    rmq_log(RMQ_LOG_INFO, s->name, "listening on http://%s:%d/", s->host, s->port);
    return RMQ_OK;
}

int rmq_http_port(const rmq_http_server_t *s)
{
    return s->port;
}
struct event_base *rmq_http_base(rmq_http_server_t *s)
{
    return s->base;
}

void rmq_http_get_stats(rmq_http_server_t *s, rmq_http_stats_t *st)
{
    st->connections = atomic_load_explicit(&s->st_conns, memory_order_relaxed);
    st->accepted_total = atomic_load_explicit(&s->st_accepted, memory_order_relaxed);
    st->refused_total = atomic_load_explicit(&s->st_refused, memory_order_relaxed);
    st->requests_total = atomic_load_explicit(&s->st_requests, memory_order_relaxed);
    st->bad_requests_total = atomic_load_explicit(&s->st_bad, memory_order_relaxed);
    st->timeouts_total = atomic_load_explicit(&s->st_timeouts, memory_order_relaxed);
}

void rmq_http_destroy(rmq_http_server_t *s)
{
    if (!s)
        return;
    if (s->running) {
        event_active(s->stop_ev, EV_READ, 0);
        pthread_join(s->thr, NULL);
        s->running = false;
    }
    if (s->listener)
        evconnlistener_free(s->listener);
    while (!LIST_EMPTY(&s->conns))
        conn_close(LIST_FIRST(&s->conns));
    /* handed-off requests, answered or not (the done list is a subset) */
    while (!LIST_EMPTY(&s->live)) {
        rmq_http_req_t *r = LIST_FIRST(&s->live);
        live_unlink(s, r);
        req_free(r);
    }
    STAILQ_INIT(&s->done);
    rmq_event_free(s->done_ev);
    rmq_event_free(s->stop_ev);
    if (s->base)
        event_base_free(s->base);
    for (size_t i = 0; i < s->nroutes; i++)
        free(s->routes[i].path);
    free(s->routes);
    pthread_mutex_destroy(&s->done_mu);
    free(s);
}
