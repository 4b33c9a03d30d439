/* etcd.h - an asynchronous etcd v3 client over etcd's JSON gateway (HTTP/1.1
 * POST to /v3/..., keys and values in base64, 64-bit numbers as strings),
 * built on libevent's evhttp client and jansson.
 *
 * One client serves one libevent loop (the broker's "Controller" thread):
 * every function and every callback runs on that loop's thread; nothing
 * blocks it (host names are resolved with evdns).
 *
 * Endpoints: a list of http://host:port. A call goes to the endpoint that
 * last answered; a transport failure (refused, reset, timed out) or an
 * answer that says the member cannot serve (HTTP 5xx: no leader, not
 * ready) moves the client to the next endpoint and the call is tried there,
 * once per endpoint at most, within the call's time budget. Connections are
 * kept alive and reused (a small pool per endpoint), one request per
 * connection at a time, so a slow answer never delays another call.
 *
 * Watches are long-lived requests on their own connection: etcd streams one
 * JSON object per event batch; each is handed to the callback. A broken
 * watch is reported once and not restarted here (the owner resyncs and
 * starts a new one). */
#ifndef RMQ_ETCD_H
#define RMQ_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_err.h"

struct event_base;

typedef struct rmq_etcd_s rmq_etcd_t;
typedef struct rmq_etcd_watch_s rmq_etcd_watch_t;

/* The outcome of one call. */
typedef struct rmq_etcd_resp_s {
    /* RMQ_OK: etcd answered 200 and `body` is its JSON object.
     * RMQ_ERR__TIMED_OUT / RMQ_ERR__TRANSPORT: no endpoint answered in time.
     * RMQ_ERR__STATE: etcd answered with an error (grpc_code, msg).
     * RMQ_ERR__CORRUPT: the answer was not JSON.
     * RMQ_ERR__DESTROY: the client is being freed. */
    rmq_err_t err;
    int http_status;
    int grpc_code;
    char msg[256];
    json_t *body;     /* borrowed: valid during the callback only */
    int64_t revision; /* header.revision (0 when absent) */
    const char *endpoint;
} rmq_etcd_resp_t;

typedef void rmq_etcd_cb(void *arg, const rmq_etcd_resp_t *r);

/* endpoints: "http://h1:2379,http://h2:2379" (commas, semicolons or
 * spaces; "http://" may be left out; https is refused: the gateway is used
 * over plain HTTP). NULL with the reason in errstr. */
rmq_etcd_t *rmq_etcd_new(struct event_base *base, const char *endpoints, char *errstr, size_t errstr_size);
/* Pending calls are answered RMQ_ERR__DESTROY (their callbacks run here);
 * watches are stopped without a callback. NULL ok. */
void rmq_etcd_free(rmq_etcd_t *e);

/* Check an endpoint list without creating a client (settings check). */
bool rmq_etcd_endpoints_valid(const char *endpoints, char *errstr, size_t errstr_size);

size_t rmq_etcd_endpoint_count(const rmq_etcd_t *e);
/* The endpoint calls go to now ("host:port"). */
const char *rmq_etcd_endpoint(const rmq_etcd_t *e);
/* Bumped each time the client moves to another endpoint. */
uint64_t rmq_etcd_endpoint_gen(const rmq_etcd_t *e);

/* POST body (stolen; NULL = {}) to path ("/v3/kv/range") within timeout_ms
 * in all; cb runs exactly once, later (never from inside this call). */
void rmq_etcd_call(rmq_etcd_t *e, const char *path, json_t *body, int timeout_ms, rmq_etcd_cb *cb, void *arg);

/* ---- request builders (new references) ---- */

/* {"key": b64(key), "range_end": b64(prefix end)} for every key under prefix */
json_t *rmq_etcd_range_prefix(const char *prefix);
json_t *rmq_etcd_range_key(const char *key);
/* a put of key=value, bound to lease (0: none); for txn operations wrap it
 * as {"request_put": ...} */
json_t *rmq_etcd_put(const char *key, const char *value, int64_t lease);
json_t *rmq_etcd_delete(const char *key);
/* txn compares: target CREATE / MOD / VALUE / LEASE with result EQUAL */
json_t *rmq_etcd_cmp_create(const char *key, int64_t create_revision);
json_t *rmq_etcd_cmp_mod(const char *key, int64_t mod_revision);
json_t *rmq_etcd_cmp_lease(const char *key, int64_t lease);

/* ---- answers ---- */

/* A key-value of a range answer, decoded. */
typedef struct rmq_etcd_kv_s {
    char *key;
    char *value; /* NUL-terminated copy of the value bytes */
    size_t value_len;
    int64_t create_revision, mod_revision, version, lease;
} rmq_etcd_kv_t;

/* The "kvs" of a range answer (or of a txn's response_range); *kvs is a
 * heap array (rmq_etcd_kvs_free). Returns false when an entry does not
 * decode. */
bool rmq_etcd_kvs(json_t *range_answer, rmq_etcd_kv_t **kvs, size_t *n);
void rmq_etcd_kvs_free(rmq_etcd_kv_t *kvs, size_t n);
/* int64 fields come as strings (or numbers); missing -> def */
int64_t rmq_etcd_i64(json_t *obj, const char *field, int64_t def);
bool rmq_etcd_bool(json_t *obj, const char *field);

/* ---- base64 (RFC 4648, padded) ---- */
char *rmq_b64_encode(const void *data, size_t len);
/* NULL when not valid base64; *out_len = decoded length (a NUL follows) */
char *rmq_b64_decode(const char *text, size_t *out_len);

/* ---- watch ---- */

typedef enum {
    RMQ_ETCD_WATCH_CREATED = 1, /* etcd accepted the watch */
    RMQ_ETCD_WATCH_EVENTS = 2,  /* result has "events" */
    RMQ_ETCD_WATCH_BROKEN = 3,  /* the stream ended or failed (last call) */
} rmq_etcd_watch_what_t;

/* result: the "result" object of one streamed answer (borrowed), NULL for
 * BROKEN. After BROKEN the watch is finished; free it with
 * rmq_etcd_watch_stop (from the callback too). */
typedef void rmq_etcd_watch_cb(void *arg, rmq_etcd_watch_what_t what, json_t *result);

/* Watch every key under prefix from revision start_rev (0: now). */
rmq_etcd_watch_t *rmq_etcd_watch_prefix(rmq_etcd_t *e, const char *prefix, int64_t start_rev,
                                        rmq_etcd_watch_cb *cb, void *arg);
/* Stop and free (no further callback). NULL ok. */
void rmq_etcd_watch_stop(rmq_etcd_watch_t *w);

#endif
