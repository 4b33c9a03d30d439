/* rmq_http.h - a small HTTP/1.1 server on its own thread and event_base,
 * for the metrics endpoint of mqbroker / mqnamesrv and for mqconsole.
 *
 * Why not libevent's evhttp: the libevent in Debian 12 (2.1) cannot cap the
 * number of connections (evhttp_set_max_connections arrived in 2.2) and has
 * no deadline for a whole request head, and both are what keep many or
 * slow HTTP clients from taking file descriptors, memory and CPU from the
 * message path. This server has hard limits for everything a client
 * controls:
 *   - connections: at most max_connections; one more is answered 503 and
 *     closed at once;
 *   - request head: max_head_bytes (431/414), request-target max_target_bytes,
 *     body max_body_bytes (413), RMQ_HTTP_MAX_HEADERS fields;
 *   - time: a request must arrive completely within request_timeout_ms of
 *     the connection being ready for it (slow senders get 408 and are
 *     closed); a response must make progress every write_timeout_ms;
 *   - memory: one request at a time per connection (no reading while a
 *     request is handled or its response is written), at most max_pending
 *     requests waiting for an answer from another thread (503 beyond).
 *
 * Threading: handlers run on the server's thread. A handler answers at once
 * or later; rmq_http_reply*() may be called from any thread, exactly once
 * per request (answers from other threads are handed over through a
 * mutex-protected list and an event on the server's loop). */
#ifndef RMQ_HTTP_H
#define RMQ_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_http_parse.h"

struct event_base;
typedef struct rmq_http_server_s rmq_http_server_t;
typedef struct rmq_http_req_s rmq_http_req_t;

typedef struct rmq_http_opts_s {
    const char *name; /* thread name and log facility */
    const char *host; /* bind address */
    int port;         /* 0 = any free port (tests) */
    int max_connections;
    size_t max_head_bytes;
    size_t max_target_bytes;
    size_t max_body_bytes;
    int request_timeout_ms;
    int write_timeout_ms;
    int max_pending; /* requests handed to other threads and not answered yet */
    int nice;        /* > 0: the thread's scheduling niceness is raised by this much, so that under CPU
                      * contention it yields to the process's other threads (the broker's I/O thread) */
} rmq_http_opts_t;

void rmq_http_opts_default(rmq_http_opts_t *o);

/* A request handler (@thread the server's). */
typedef void rmq_http_handler_t(rmq_http_req_t *req, void *ctx);

/* Bind the listening socket now (so a taken port is reported at start-up);
 * the thread starts with rmq_http_start. NULL with errstr on failure. */
rmq_http_server_t *rmq_http_new(const rmq_http_opts_t *o, char *errstr, size_t errstr_size);
/* Route exact path (or every path starting with it when prefix) to h.
 * Unrouted paths get 404. Before rmq_http_start only. */
void rmq_http_route(rmq_http_server_t *s, const char *path, bool prefix, rmq_http_handler_t *h, void *ctx);
rmq_err_t rmq_http_start(rmq_http_server_t *s, char *errstr, size_t errstr_size);
int rmq_http_port(const rmq_http_server_t *s);
/* The server's loop, for events of its own (timers...) created before start
 * or on the server's thread. */
struct event_base *rmq_http_base(rmq_http_server_t *s);
bool rmq_http_on_thread(const rmq_http_server_t *s);
/* Stop the thread, close every connection and free. Requests not answered
 * yet are dropped: call it only when no other thread can still answer one.
 * NULL is a no-op. */
void rmq_http_destroy(rmq_http_server_t *s);

/* Counters (@thread any; relaxed). */
typedef struct rmq_http_stats_s {
    int64_t connections; /* open now */
    int64_t accepted_total;
    int64_t refused_total; /* over max_connections */
    int64_t requests_total;
    int64_t bad_requests_total; /* 4xx/5xx answered by the server itself */
    int64_t timeouts_total;     /* request or write deadline passed */
} rmq_http_stats_t;
void rmq_http_get_stats(rmq_http_server_t *s, rmq_http_stats_t *st);

/* ---- the request (valid until answered) ---- */

rmq_http_method_t rmq_http_req_method(const rmq_http_req_t *r);
const char *rmq_http_req_path(const rmq_http_req_t *r);
/* Decoded query parameter, or NULL. */
const char *rmq_http_req_param(const rmq_http_req_t *r, const char *name);
const char *rmq_http_req_header(const rmq_http_req_t *r, const char *name);
const uint8_t *rmq_http_req_body(const rmq_http_req_t *r, size_t *len);
rmq_http_server_t *rmq_http_req_server(const rmq_http_req_t *r);
/* "ip:port" of the client. */
const char *rmq_http_req_peer(const rmq_http_req_t *r);

/* ---- answering (any thread, exactly once) ---- */

/* Extra response headers, "Name: value\r\n" lines (may be NULL). */
void rmq_http_reply(rmq_http_req_t *r, int status, const char *content_type, const void *body, size_t len);
/* Take ownership of body's bytes. */
void rmq_http_reply_buf(rmq_http_req_t *r, int status, const char *content_type, rmq_buf_t *body);
/* Body that outlives the server (static assets): not copied. */
void rmq_http_reply_static(rmq_http_req_t *r, int status, const char *content_type, const void *body,
                           size_t len, const char *extra_headers);
/* {"error":"<message>"} as application/json. */
void rmq_http_reply_error(rmq_http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Shared immutable bytes (reference counted): many responses send the same
 * snapshot without copying it. */
typedef struct rmq_http_blob_s rmq_http_blob_t;
rmq_http_blob_t *rmq_http_blob_new(rmq_buf_t *bytes); /* takes the bytes */
void rmq_http_blob_ref(rmq_http_blob_t *b);
void rmq_http_blob_unref(rmq_http_blob_t *b);
size_t rmq_http_blob_len(const rmq_http_blob_t *b);
/* blob (not copied; referenced until written) followed by tail (taken; may
 * be NULL). */
void rmq_http_reply_blob(rmq_http_req_t *r, int status, const char *content_type, rmq_http_blob_t *blob,
                         rmq_buf_t *tail);

/* Two shared blobs, one after the other (neither copied). */
void rmq_http_reply_blobs(rmq_http_req_t *r, int status, const char *content_type, rmq_http_blob_t *a,
                          rmq_http_blob_t *b);

const char *rmq_http_status_text(int status);

#endif
