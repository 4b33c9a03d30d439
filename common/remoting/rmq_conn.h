/* rmq_conn.h - RocketMQ remoting connections over libevent.
 *
 * An endpoint (rmq_endpoint_t) owns the handler table and options shared by
 * its connections. A server endpoint listens and accepts; a client endpoint
 * keeps one connection per "host:port" and reconnects on the next request
 * after a failure. Both sides can send requests and receive requests on the
 * same connection (server-initiated requests such as
 * NOTIFY_CONSUMER_IDS_CHANGED). Responses are matched by opaque, per
 * connection; each pending request has its own timeout.
 *
 * Threading: an endpoint and its connections belong to the thread that runs
 * their event_base. Every function here must be called on that thread.
 * Callbacks run on it too. */
#ifndef RMQ_CONN_H
#define RMQ_CONN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rmq_cmd.h"
#include "rmq_err.h"
#include "rmq_netguard.h"
#include "rmq_tls.h"

struct evbuffer;
typedef struct rmq_conn_s rmq_conn_t;
typedef struct rmq_endpoint_s rmq_endpoint_t;

/* A request arrived. `req` is borrowed for the duration of the call (take
 * what you need, or steal its body). Answer with rmq_conn_reply() now or
 * later (keep the conn with rmq_conn_hold and the opaque/serialize of req). */
typedef void (*rmq_req_handler_t)(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx);
/* A response arrived, or the request failed: err = RMQ_OK with resp set, or
 * RMQ_ERR__TIMED_OUT / RMQ_ERR__TRANSPORT / RMQ_ERR__DESTROY with resp NULL.
 * `resp` is borrowed for the call. */
typedef void (*rmq_resp_cb_t)(rmq_conn_t *conn, rmq_err_t err, rmq_cmd_t *resp, void *arg);
/* Connection closed (after pending requests were failed). */
typedef void (*rmq_close_cb_t)(rmq_conn_t *conn, void *ctx);
/* Runs for every request before its handler (the broker's ACL, as Java's
 * server RPC hooks). Return true to dispatch it; false when the hook has
 * answered (or dropped) the request itself. */
typedef bool (*rmq_req_hook_t)(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx);
/* Runs for every request this endpoint sends, before it is encoded (client
 * signing, as Java's client RPC hooks). */
typedef void (*rmq_send_hook_t)(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx);

typedef struct rmq_endpoint_opts_s {
    size_t max_frame;       /* frames larger than this close the connection (default 16 MiB - 4) */
    size_t max_output;      /* stop reading a connection whose unsent output exceeds this (default 64 MiB) */
    int idle_timeout_ms;    /* close after no input for this long; 0 = never (default 120000) */
    int connect_timeout_ms; /* client connect timeout (default 3000) */
    const char *name;       /* facility for log lines ("namesrv", "broker", "client") */
    rmq_tls_t *tls;         /* server: TLS per its mode; client: every connection uses TLS; NULL = plaintext
                               (borrowed: outlives the endpoint) */
    rmq_netguard_t *guard;  /* server: connection caps, input budget, accept pause, bounded logs
                               (borrowed; may be shared by several server endpoints) */
} rmq_endpoint_opts_t;

void rmq_endpoint_opts_default(rmq_endpoint_opts_t *o);

/* Server: listen on host:port (port 0 = any free port). */
rmq_endpoint_t *rmq_server_new(struct event_base *base, const char *host, int port,
                               const rmq_endpoint_opts_t *opts, char *errstr, size_t errstr_size);
/* Port actually bound. */
int rmq_server_port(const rmq_endpoint_t *ep);

/* Client: connections are created on demand by rmq_client_conn(). */
rmq_endpoint_t *rmq_client_new(struct event_base *base, const rmq_endpoint_opts_t *opts);
/* The connection to addr ("host:port"), connecting if needed; NULL if addr is
 * malformed. A failed connection is dropped, so the next call reconnects. */
rmq_conn_t *rmq_client_conn(rmq_endpoint_t *ep, const char *addr);
/* Request to addr: rmq_client_conn + rmq_conn_request. */
rmq_err_t rmq_client_request(rmq_endpoint_t *ep, const char *addr, rmq_cmd_t *req, int timeout_ms,
                             rmq_resp_cb_t cb, void *arg);

/* Handlers (both kinds of endpoint). Codes without a handler go to the
 * default handler, or get REQUEST_CODE_NOT_SUPPORTED when there is none. */
void rmq_endpoint_set_handler(rmq_endpoint_t *ep, int code, rmq_req_handler_t h, void *ctx);
void rmq_endpoint_set_default_handler(rmq_endpoint_t *ep, rmq_req_handler_t h, void *ctx);
void rmq_endpoint_set_close_cb(rmq_endpoint_t *ep, rmq_close_cb_t cb, void *ctx);
void rmq_endpoint_set_request_hook(rmq_endpoint_t *ep, rmq_req_hook_t h, void *ctx);
void rmq_endpoint_set_send_hook(rmq_endpoint_t *ep, rmq_send_hook_t h, void *ctx);
/* Why the last outgoing connection failed ("TLS connection to 127.0.0.1:9876
 * failed: certificate verify failed: ..."), or "" (client endpoints). The
 * one function here that any thread may call. */
void rmq_endpoint_last_error(rmq_endpoint_t *ep, char *out, size_t n);
struct event_base *rmq_endpoint_base(rmq_endpoint_t *ep);
/* Request observer (metrics): called after every request handler returns,
 * with the request code, the code of the response the handler sent before
 * returning (-1 when it answers later or the request is oneway) and the
 * handler's time in microseconds; and for every request no handler takes
 * (answered REQUEST_CODE_NOT_SUPPORTED). Costs two clock reads per request when
 * set, nothing when not. */
typedef void (*rmq_req_observer_t)(int req_code, int resp_code, int64_t elapsed_us, void *ctx);
void rmq_endpoint_set_observer(rmq_endpoint_t *ep, rmq_req_observer_t fn, void *ctx);
/* Open connections of the endpoint. */
size_t rmq_endpoint_conn_count(const rmq_endpoint_t *ep);
/* Close every connection (failing pending requests) and free. NULL is a no-op. */
void rmq_endpoint_destroy(rmq_endpoint_t *ep);

/* Send a request and get its response through cb (opaque assigned here).
 * RMQ_ERR__TRANSPORT if the connection is closed (cb is not called then). */
rmq_err_t rmq_conn_request(rmq_conn_t *c, rmq_cmd_t *req, int timeout_ms, rmq_resp_cb_t cb, void *arg);
/* The next request id (process-wide, what rmq_conn_request assigns).
 * @thread any */
int32_t rmq_conn_next_opaque(void);
/* Send a request whose whole frame (length prefix included) the caller
 * encoded, with an opaque from rmq_conn_next_opaque: no copy, the frame is
 * sent as it is (the endpoint's send hook does not run: sign before
 * encoding) and freed with free() once written. The connection takes the
 * frame even on failure. */
rmq_err_t rmq_conn_request_frame(rmq_conn_t *c, uint8_t *frame, size_t len, int32_t opaque, int timeout_ms,
                                 rmq_resp_cb_t cb, void *arg);
/* Send a oneway request (flag ONEWAY set here). */
rmq_err_t rmq_conn_oneway(rmq_conn_t *c, rmq_cmd_t *req);
/* Answer `req` (opaque, RESPONSE flag and serialize type taken from it)
 * unless it was oneway. */
void rmq_conn_reply(rmq_conn_t *c, const rmq_cmd_t *req, rmq_cmd_t *resp);
/* Same with explicit opaque/serialize (for answers sent later). */
void rmq_conn_reply_to(rmq_conn_t *c, int32_t opaque, uint8_t serialize, rmq_cmd_t *resp);
/* Send a command whose body is `body` (moved out of the evbuffer: zero-copy
 * for references added with evbuffer_add_reference). */
rmq_err_t rmq_conn_send_with_body(rmq_conn_t *c, const rmq_cmd_t *cmd, struct evbuffer *body);
/* Send a ready-made command frame as is. */
rmq_err_t rmq_conn_send(rmq_conn_t *c, const rmq_cmd_t *cmd);

/* Reference counting for objects that keep a connection (parked pulls):
 * a closed connection stays valid (rmq_conn_is_closed) until released. */
void rmq_conn_hold(rmq_conn_t *c);
void rmq_conn_release(rmq_conn_t *c);
bool rmq_conn_is_closed(const rmq_conn_t *c);
/* Close now: pending requests fail with RMQ_ERR__TRANSPORT, close cb runs. */
void rmq_conn_close(rmq_conn_t *c);

/* "ip:port" of the peer (client conns: the address asked for). */
const char *rmq_conn_peer(const rmq_conn_t *c);
/* The peer's IP address without port ("10.0.0.1", "::1"; server conns). */
const char *rmq_conn_peer_ip(const rmq_conn_t *c);
/* True when the connection runs over TLS. */
bool rmq_conn_is_tls(const rmq_conn_t *c);
const struct sockaddr_storage *rmq_conn_peer_addr(const rmq_conn_t *c);
const struct sockaddr_storage *rmq_conn_local_addr(const rmq_conn_t *c);
size_t rmq_conn_output_len(const rmq_conn_t *c);
uint64_t rmq_conn_id(const rmq_conn_t *c);
void rmq_conn_set_user(rmq_conn_t *c, void *user);
void *rmq_conn_user(const rmq_conn_t *c);
rmq_endpoint_t *rmq_conn_endpoint(const rmq_conn_t *c);

/* Split "host:port" (IPv4, hostname or [IPv6]) - returns false if malformed. */
bool rmq_addr_split(const char *addr, char *host, size_t host_size, int *port);

#endif
