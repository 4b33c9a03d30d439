/* rmq_sync_client.h - a blocking remoting client: one connection, one
 * thread, one request at a time. Connect with a timeout, send a request and
 * wait (bounded) for the response with its opaque, send oneway, read the
 * next frame of any kind. Frames are read through a buffer, so a timeout in
 * the middle of a frame loses nothing: the next read continues it.
 *
 * Optionally over TLS and with ACL-signed requests (rmq_sync_connect_secure).
 * For command-line tools and tests (mqadmin, the integration-test harness);
 * servers and libcomet use the event-driven rmq_conn instead. Not shared
 * between threads. */
#ifndef RMQ_SYNC_CLIENT_H
#define RMQ_SYNC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_cmd.h"
#include "rmq_err.h"

#define RMQ_SYNC_MAX_HELD 64

struct ssl_st;
struct ssl_ctx_st;

/* Optional security of a connection: TLS (an SSL_CTX the caller owns and
 * configured, verification included) and ACL signing of every request sent
 * with rmq_sync_call / rmq_sync_oneway (RocketMQ's AclClientRPCHook). */
typedef struct rmq_sync_security_s {
    struct ssl_ctx_st *tls; /* NULL = plaintext */
    const char *access_key; /* NULL or "" = unsigned */
    const char *secret_key;
} rmq_sync_security_t;

typedef struct rmq_sync_client_s {
    int fd;                             /* -1 when closed */
    rmq_cmd_t *held[RMQ_SYNC_MAX_HELD]; /* server requests read by a call, for rmq_sync_read */
    int nheld;
    struct ssl_st *ssl; /* TLS session, or NULL */
    const rmq_sync_security_t *sec;
    int32_t next_opaque; /* opaque of the next request */
    size_t max_frame;    /* larger frames are refused (RMQ_ERR__TOO_LARGE) */
    rmq_buf_t in;        /* bytes read but not yet returned as frames */
    char addr[272];      /* "host:port" as given to connect */
    char err[512];       /* why the last call failed, for messages */
} rmq_sync_client_t;

/* Connect to "host:port" (IPv4, hostname, or [IPv6]:port) within timeout_ms.
 * RMQ_ERR__INVALID_ARG for a malformed address, RMQ_ERR__TIMED_OUT, or
 * RMQ_ERR__TRANSPORT (c->err says why). c is usable (closed) after a
 * failure. */
rmq_err_t rmq_sync_connect(rmq_sync_client_t *c, const char *addr, int timeout_ms);
/* The same with TLS and/or signing (sec may be NULL; it must outlive c). A
 * failed TLS handshake is RMQ_ERR__TRANSPORT with the reason in c->err
 * ("TLS handshake with ... failed: certificate verify failed: ..."). */
rmq_err_t rmq_sync_connect_secure(rmq_sync_client_t *c, const char *addr, int timeout_ms,
                                  const rmq_sync_security_t *sec);
/* Close the connection and free the buffer. Safe to call twice. */
void rmq_sync_close(rmq_sync_client_t *c);

/* Send req as a request (opaque assigned, ONEWAY cleared) and wait up to
 * timeout_ms for the response carrying its opaque. Requests from the server
 * read meanwhile (NOTIFY_CONSUMER_IDS_CHANGED...) are held for
 * rmq_sync_read (up to RMQ_SYNC_MAX_HELD, then the oldest is dropped);
 * other responses are dropped. On RMQ_OK resp is decoded (caller deinits
 * it); otherwise resp is left initialised and empty. */
rmq_err_t rmq_sync_call(rmq_sync_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms);
/* Send req oneway (opaque assigned, ONEWAY set); nothing is awaited. */
rmq_err_t rmq_sync_oneway(rmq_sync_client_t *c, rmq_cmd_t *req);
/* Send cmd exactly as it is (opaque and flags untouched). */
rmq_err_t rmq_sync_send(rmq_sync_client_t *c, const rmq_cmd_t *cmd);
/* Write raw bytes (tests: malformed frames, pipelined requests). */
rmq_err_t rmq_sync_send_raw(rmq_sync_client_t *c, const void *p, size_t n);
/* Read the next frame of any kind within timeout_ms (held server requests
 * first). RMQ_ERR__TIMED_OUT
 * keeps a partial frame for the next read; RMQ_ERR__TRANSPORT when the peer
 * closed; RMQ_ERR__CORRUPT / RMQ_ERR__TOO_LARGE for a frame that does not
 * decode (the connection is closed then: the stream cannot be resynced). */
rmq_err_t rmq_sync_read(rmq_sync_client_t *c, rmq_cmd_t *out, int timeout_ms);
/* True when the peer closes the connection within timeout_ms (anything it
 * sends meanwhile is discarded). */
bool rmq_sync_wait_closed(rmq_sync_client_t *c, int timeout_ms);

#endif
