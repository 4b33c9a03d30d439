/* api.c - mqconsole's HTTP routes: the embedded page, the JSON API
 * (documented in tools/mqconsole/API.md), parameter validation, and the
 * write-action guard.
 * Thread: the HTTP server's. Snapshot views are answered here from the
 * poller's shared documents (no remoting call on this thread); everything
 * that needs the cluster is validated here and handed to a worker
 * (jobs.c), or refused with 503 when the bounded queue is full. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "assets.h"
#include "console.h"
#include "jobs.h"
#include "poller.h"
#include "queries.h"
#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

#define JSON_CTYPE "application/json"
#define NAME_MAX_LEN 255

/* ---------- parameter validation (400 with a message on failure) ---------- */

/* RocketMQ's topic / group rule: ^[%|a-zA-Z0-9_-]+$, at most 255 chars. */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("%|_-", s[i]))
            return false;
    return true;
}

static const char *name_param(rmq_http_req_t *req, const char *name, bool required, bool *bad)
{
    const char *v = rmq_http_req_param(req, name);
    if (!v || !*v) {
        if (required) {
            rmq_http_reply_error(req, 400, "missing parameter: %s", name);
            *bad = true;
        }
        return NULL;
    }
    if (!valid_name(v)) {
        rmq_http_reply_error(req, 400, "%s: must match ^[%%|a-zA-Z0-9_-]+$ and be at most %d characters",
                             name, NAME_MAX_LEN);
        *bad = true;
        return NULL;
    }
    return v;
}

/* An integer parameter within [min, max]; absent keeps *out. */
static bool int_param(rmq_http_req_t *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = rmq_http_req_param(req, name);
    if (!v || !*v)
        return true;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end || errno || end == v || !(isdigit((unsigned char)v[0]) || v[0] == '-')) {
        rmq_http_reply_error(req, 400, "%s: not an integer", name);
        return false;
    }
    if (x < min || x > max) {
        rmq_http_reply_error(req, 400, "%s: must be between %lld and %lld", name, (long long)min,
                             (long long)max);
        return false;
    }
    *out = x;
    return true;
}

/* A message key or id: printable, no spaces, bounded. */
static bool valid_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* ---------- helpers ---------- */

static void reply_doc(rmq_http_req_t *req, int status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    rmq_http_reply(req, status, JSON_CTYPE, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

static char *dup_or_null(const char *s)
{
    return s ? rmq_strdup(s) : NULL;
}

/* A query about topic and/or group (NULL: none; copied). */
static mc_query_t *query_new(mc_console_t *c, rmq_http_req_t *req, mc_query_kind_t kind, const char *topic,
                             const char *group)
{
    mc_query_t *q = rmq_calloc(1, sizeof(*q));
    q->c = c;
    q->req = req;
    q->kind = kind;
    q->topic = dup_or_null(topic);
    q->group = dup_or_null(group);
    return q;
}

static void submit(mc_console_t *c, mc_query_t *q)
{
    if (!mc_jobs_submit(c->jobs, mc_query_run, mc_query_free, q)) {
        rmq_http_req_t *req = q->req;
        mc_query_free(q);
        rmq_http_reply_error(req, 503, "the console is busy (%d requests queued); try again",
                             c->conf.maxPendingRequests);
    }
}

static bool only_get(rmq_http_req_t *req)
{
    rmq_http_method_t m = rmq_http_req_method(req);
    if (m == RMQ_HTTP_GET || m == RMQ_HTTP_HEAD)
        return true;
    rmq_http_reply_error(req, 405, "use GET for %s", rmq_http_req_path(req));
    return false;
}

/* The opening of a GET query about one topic or group: the method and the
 * name parameter `param` (absent: *out = NULL, an error when `required`).
 * False when it answered the request with the error. */
static bool get_named(rmq_http_req_t *req, const char *param, bool required, const char **out)
{
    bool bad = false;
    if (!only_get(req))
        return false;
    *out = name_param(req, param, required, &bad);
    return !bad;
}

/* Write actions: enabled by writeEnable, POST with a JSON body and the
 * console's header (a page of another origin cannot send either without
 * a CORS pre-flight, which this server never allows). */
static json_t *write_body(mc_console_t *c, rmq_http_req_t *req)
{
    if (rmq_http_req_method(req) != RMQ_HTTP_POST) {
        rmq_http_reply_error(req, 405, "use POST for %s", rmq_http_req_path(req));
        return NULL;
    }
    if (!c->conf.writeEnable) {
        rmq_http_reply_error(req, 403, "write actions are disabled: start mqconsole with writeEnable=true");
        return NULL;
    }
    const char *ct = rmq_http_req_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, JSON_CTYPE, strlen(JSON_CTYPE)) != 0) {
        rmq_http_reply_error(req, 415, "the body must be application/json");
        return NULL;
    }
    const char *xh = rmq_http_req_header(req, "X-Comet-Console");
    if (!xh || strcmp(xh, "1") != 0) {
        rmq_http_reply_error(req, 403, "missing header X-Comet-Console: 1");
        return NULL;
    }
    size_t len;
    const uint8_t *body = rmq_http_req_body(req, &len);
    json_error_t jerr;
    json_t *doc = len ? json_loadb((const char *)body, len, 0, &jerr) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        rmq_http_reply_error(req, 400, "the body must be a JSON object");
        return NULL;
    }
    /* under ACL a write runs with the operator's own credentials, not the console's */
    if (*c->conf.accessKey) {
        const char *ak = rmq_json_str(doc, "accessKey"), *sk = rmq_json_str(doc, "secretKey");
        if (!ak || !*ak || !sk || !*sk || strlen(ak) > 256 || strlen(sk) > 256) {
            json_decref(doc);
            rmq_http_reply_error(
                req, 401, "this cluster uses ACL: a write action needs your own accessKey and secretKey");
            return NULL;
        }
    }
    return doc;
}

/* The operator's credentials of a write (ACL), into q. */
static void take_credentials(mc_console_t *c, json_t *doc, mc_query_t *q)
{
    if (!*c->conf.accessKey)
        return;
    q->user_ak = rmq_strdup(rmq_json_str(doc, "accessKey"));
    q->user_sk = rmq_strdup(rmq_json_str(doc, "secretKey"));
}

static const char *body_name(rmq_http_req_t *req, json_t *doc, const char *field, bool *bad)
{
    const char *v = rmq_json_str(doc, field);
    if (!v || !valid_name(v)) {
        rmq_http_reply_error(req, 400, "%s: required, ^[%%|a-zA-Z0-9_-]+$, at most %d characters", field,
                             NAME_MAX_LEN);
        *bad = true;
        return NULL;
    }
    return v;
}

/* write_body, and what the write action is about: its "group", and its
 * "topic" when with_topic (else *topic = NULL). NULL when refused (the
 * request is answered). */
static json_t *write_target(mc_console_t *c, rmq_http_req_t *req, bool with_topic, const char **group,
                            const char **topic)
{
    json_t *doc = write_body(c, req);
    if (!doc)
        return NULL;
    bool bad = false;
    *group = body_name(req, doc, "group", &bad);
    *topic = !bad && with_topic ? body_name(req, doc, "topic", &bad) : NULL;
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ---------- routes ---------- */

static void on_view(mc_console_t *c, rmq_http_req_t *req, int view)
{
    if (!only_get(req))
        return;
    rmq_http_blob_t *b = mc_poller_view(c->poller, view);
    if (!b) {
        /* the first poll is not finished: not an error, the page waits */
        static const char pending[] = "{\"pending\":true}";
        rmq_http_reply_static(req, 200, JSON_CTYPE, pending, sizeof(pending) - 1, NULL);
        return;
    }
    rmq_http_reply_blob(req, 200, JSON_CTYPE, b, NULL);
    rmq_http_blob_unref(b);
}

static void on_config(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    if (!only_get(req))
        return;
    json_t *o = json_object();
    json_object_set_new(o, "namesrvAddr", json_string(c->conf.namesrvAddr));
    json_object_set_new(o, "writeEnabled", json_boolean(c->conf.writeEnable));
    json_object_set_new(o, "writeCredentialsRequired", json_boolean(*c->conf.accessKey != 0));
    json_object_set_new(o, "pollIntervalMs", json_integer(c->conf.pollIntervalMs));
    json_object_set_new(o, "historyPoints", json_integer(c->conf.historyPoints));
    json_object_set_new(o, "queryMaxMessages", json_integer(c->conf.queryMaxMessages));
    json_object_set_new(o, "maxBodyBytes", json_integer(c->conf.maxBodyBytes));
    json_object_set_new(o, "version", json_string("Comet mqconsole 0.1.0"));
    json_object_set_new(o, "bootTimestamp", json_integer(c->boot_ms));
    json_object_set_new(o, "polls", json_integer(mc_poller_rounds(c->poller)));
    reply_doc(req, 200, o);
}

static void on_history(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    if (!only_get(req))
        return;
    const char *kind = rmq_http_req_param(req, "kind");
    const char *name = rmq_http_req_param(req, "name");
    if (!kind || (strcmp(kind, "broker") && strcmp(kind, "topic") && strcmp(kind, "group"))) {
        rmq_http_reply_error(req, 400, "kind: broker, topic or group");
        return;
    }
    if (!name || !valid_token(name, 300)) {
        rmq_http_reply_error(req, 400, "name: required (a broker address, topic or group)");
        return;
    }
    rmq_buf_t b;
    rmq_buf_init(&b);
    if (!mc_poller_history(c->poller, kind, name, &b)) {
        /* not polled (yet, or over maxTopicsPolled / maxGroupsPolled): no points */
        rmq_buf_puts(&b, "{\"t\":[],\"series\":{},\"known\":false}");
    }
    rmq_http_reply_buf(req, 200, JSON_CTYPE, &b);
}

/* /api/topic?topic=T (kind MC_Q_TOPIC) and /api/group?group=G (MC_Q_GROUP) */
static void on_named(mc_console_t *c, rmq_http_req_t *req, int kind)
{
    bool topic = kind == MC_Q_TOPIC;
    const char *name;
    if (!get_named(req, topic ? "topic" : "group", true, &name))
        return;
    submit(c, query_new(c, req, kind, topic ? name : NULL, topic ? NULL : name));
}

/* /api/messages?topic=T [&key=K] [&begin=ms&end=ms] [&limit=n] */
static void on_messages(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    const char *t;
    if (!get_named(req, "topic", true, &t))
        return;
    int64_t now = rmq_now_ms();
    int64_t begin = -1, end = -1, limit = 64;
    if (!int_param(req, "begin", 0, INT64_MAX / 2, &begin) ||
        !int_param(req, "end", 0, INT64_MAX / 2, &end) ||
        !int_param(req, "limit", 1, c->conf.queryMaxMessages, &limit))
        return;
    const char *key = rmq_http_req_param(req, "key");
    if (key && !valid_token(key, 255)) {
        rmq_http_reply_error(req, 400, "key: 1 to 255 characters, no spaces or control characters");
        return;
    }
    if (begin >= 0 && end >= 0 && begin > end) {
        rmq_http_reply_error(req, 400, "begin is after end");
        return;
    }
    mc_query_t *q = query_new(c, req, key ? MC_Q_MSG_KEY : MC_Q_MSG_TIME, t, NULL);
    q->key = dup_or_null(key);
    q->limit = limit;
    if (key) {
        q->begin = begin;
        q->end = end;
    } else {
        q->end = end >= 0 ? end : now;
        q->begin = begin >= 0 ? begin : q->end - 3600 * 1000; /* the last hour */
    }
    submit(c, q);
}

static void on_message(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    bool bad = false;
    if (!only_get(req))
        return;
    const char *id = rmq_http_req_param(req, "id");
    if (!id || !valid_token(id, 128)) {
        rmq_http_reply_error(req, 400, "id: required, a message id (offset or client id)");
        return;
    }
    const char *t = name_param(req, "topic", false, &bad);
    if (bad)
        return;
    mc_query_t *q = query_new(c, req, MC_Q_MSG_ID, t, NULL);
    q->id = rmq_strdup(id);
    submit(c, q);
}

static void on_dlq(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    const char *g;
    if (!get_named(req, "group", true, &g))
        return;
    int64_t limit = 64;
    if (!int_param(req, "limit", 1, c->conf.queryMaxMessages, &limit))
        return;
    mc_query_t *q = query_new(c, req, MC_Q_DLQ, NULL, g);
    q->limit = limit;
    submit(c, q);
}

/* POST /api/message/resend {"topic","id","group"} and /api/dlq/resend {"group","id"} */
static void on_resend(mc_console_t *c, rmq_http_req_t *req, int dlq)
{
    const char *g, *t;
    json_t *doc = write_target(c, req, !dlq, &g, &t);
    if (!doc)
        return;
    const char *id = rmq_json_str(doc, "id");
    if (!id || !valid_token(id, 128)) {
        rmq_http_reply_error(req, 400, "id: required, a message id");
    } else {
        mc_query_t *q = query_new(c, req, dlq ? MC_Q_DLQ_RESEND : MC_Q_RESEND, t, g);
        q->id = rmq_strdup(id);
        take_credentials(c, doc, q);
        submit(c, q);
    }
    json_decref(doc);
}

/* POST /api/group/reset-offset {"group","topic","timestamp","force"} */
static void on_reset(mc_console_t *c, rmq_http_req_t *req, int unused)
{
    const char *g, *t;
    json_t *doc = write_target(c, req, true, &g, &t);
    if (!doc)
        return;
    bool bad = false;
    json_t *ts = json_object_get(doc, "timestamp");
    if (!bad && (!json_is_integer(ts) || json_integer_value(ts) < -1)) {
        rmq_http_reply_error(req, 400, "timestamp: required, milliseconds since the epoch (-1 = the end)");
        bad = true;
    }
    json_t *force = json_object_get(doc, "force");
    if (!bad && force && !json_is_boolean(force)) {
        rmq_http_reply_error(req, 400, "force: true or false");
        bad = true;
    }
    if (!bad) {
        mc_query_t *q = query_new(c, req, MC_Q_RESET, t, g);
        q->timestamp = json_integer_value(ts);
        q->force = force ? json_is_true(force) : true;
        take_credentials(c, doc, q);
        submit(c, q);
    }
    json_decref(doc);
}

/* A handler of the API; arg is its entry's. */
typedef void api_fn(mc_console_t *c, rmq_http_req_t *req, int arg);

static const struct {
    const char *path;
    api_fn *fn;
    int arg; /* on_view: the view; on_named: the query kind; on_resend: dlq */
} apis[] = {
    {"/api/cluster", on_view, MC_VIEW_CLUSTER},
    {"/api/topics", on_view, MC_VIEW_TOPICS},
    {"/api/groups", on_view, MC_VIEW_GROUPS},
    {"/api/config", on_config, 0},
    {"/api/history", on_history, 0},
    {"/api/topic", on_named, MC_Q_TOPIC},
    {"/api/group", on_named, MC_Q_GROUP},
    {"/api/messages", on_messages, 0},
    {"/api/message", on_message, 0},
    {"/api/dlq", on_dlq, 0},
    {"/api/message/resend", on_resend, false},
    {"/api/dlq/resend", on_resend, true},
    {"/api/group/reset-offset", on_reset, 0},
};

static void on_api(rmq_http_req_t *req, void *ctx)
{
    const char *p = rmq_http_req_path(req);
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
        if (!strcmp(p, apis[i].path)) {
            apis[i].fn(ctx, req, apis[i].arg);
            return;
        }
    rmq_http_reply_error(req, 404, "no such API: %s (see API.md)", p);
}

/* The page: no external resource, no inline script (the policy forbids it). */
#define PAGE_HEADERS                                                                                         \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "      \
    "data:; "                                                                                                \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'\r\n"                     \
    "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n"

static void on_static(rmq_http_req_t *req, void *ctx)
{
    const char *p = rmq_http_req_path(req);
    if (!only_get(req))
        return;
    if (!strcmp(p, "/"))
        p = "/index.html";
    for (const mc_asset_t *a = mc_assets; a->path; a++) {
        if (!strcmp(a->path, p)) {
            rmq_http_reply_static(req, 200, a->content_type, a->data, a->len, PAGE_HEADERS);
            return;
        }
    }
    rmq_http_reply_error(req, 404, "no such page: %s", p);
}

void mc_api_register(mc_console_t *c)
{
    rmq_http_route(c->http, "/api/", true, on_api, c);
    rmq_http_route(c->http, "/", true, on_static, c);
}
