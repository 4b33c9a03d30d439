/* test_etcd.c - the etcd client (broker/controller/etcd.c) against a real
 * etcd: key-value calls, transactions, leases and keep-alives, watches,
 * endpoint failover past a dead and a silent member, answers that are
 * errors. Each test drives the client's event loop on its own thread. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "controller/etcd.h"
#include "etcd_util.h"
#include "rmq_time.h"

typedef struct {
    bool done;
    rmq_etcd_resp_t r;
    json_t *body; /* a reference kept past the callback */
    char endpoint[300];
} answer_t;

static void on_answer(void *arg, const rmq_etcd_resp_t *r)
{
    answer_t *a = arg;
    a->r = *r;
    a->body = r->body ? json_incref(r->body) : NULL;
    a->r.body = a->body;
    snprintf(a->endpoint, sizeof(a->endpoint), "%s", r->endpoint ? r->endpoint : "");
    a->done = true;
}

static struct event_base *base;

static bool pump_until(bool *flag, int timeout_ms)
{
    return TH_WAIT_UNTIL((event_base_loop(base, EVLOOP_NONBLOCK), *flag), timeout_ms);
}

/* One call, waited for (bounded). */
static answer_t call(rmq_etcd_t *e, const char *path, json_t *body, int timeout_ms)
{
    answer_t a = {0};
    rmq_etcd_call(e, path, body, timeout_ms, on_answer, &a);
    cr_assert(pump_until(&a.done, timeout_ms + 30000), "the call to %s never completed", path);
    return a;
}

static void release(answer_t *a)
{
    json_decref(a->body);
    a->body = NULL;
}

static tc_etcd_t etcd[3];

static void setup(void)
{
    base = event_base_new();
    cr_assert(tc_etcd_bin(), "no etcd binary: install Debian's etcd-server (scripts/deps.sh --test)");
}

static void teardown(void)
{
    for (int i = 0; i < 3; i++)
        if (etcd[i].proc.pid > 0)
            tc_etcd_kill(&etcd[i]);
    memset(etcd, 0, sizeof(etcd));
    event_base_free(base);
}

TestSuite(etcd, .init = setup, .fini = teardown, .timeout = 240);

static rmq_etcd_t *client_for(int n)
{
    char eps[512], err[256] = "";
    tc_etcd_endpoints(etcd, n, eps, sizeof(eps));
    rmq_etcd_t *e = rmq_etcd_new(base, eps, err, sizeof(err));
    cr_assert(e, "client for %s: %s", eps, err);
    return e;
}

static char *value_of(json_t *range_answer, const char *key)
{
    rmq_etcd_kv_t *kvs;
    size_t n;
    cr_assert(rmq_etcd_kvs(range_answer, &kvs, &n), "a range answer that does not decode");
    char *v = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(kvs[i].key, key))
            v = strdup(kvs[i].value);
    rmq_etcd_kvs_free(kvs, n);
    return v;
}

Test(etcd, kv_txn_and_leases)
{
    cr_assert(tc_etcd_cluster_start(etcd, 1));
    rmq_etcd_t *e = client_for(1);

    /* a lease, a key bound to it */
    answer_t g = call(e, "/v3/lease/grant", json_pack("{s:i}", "TTL", 5), 5000);
    cr_assert_eq(g.r.err, RMQ_OK, "grant: %s", g.r.msg);
    int64_t lease = rmq_etcd_i64(g.body, "ID", 0);
    cr_assert(lease != 0, "grant answered no lease id");
    cr_assert_eq(rmq_etcd_i64(g.body, "TTL", 0), 5, "the granted TTL is not the one asked for");
    release(&g);

    answer_t p = call(e, "/v3/kv/put", rmq_etcd_put("/t/a/leader", "{\"epoch\":1}", lease), 5000);
    cr_assert_eq(p.r.err, RMQ_OK, "put: %s", p.r.msg);
    int64_t put_rev = p.r.revision;
    cr_assert(put_rev > 0, "a put answer without a header revision");
    release(&p);
    answer_t p2 = call(e, "/v3/kv/put", rmq_etcd_put("/t/a/state", "s1", 0), 5000);
    cr_assert_eq(p2.r.err, RMQ_OK);
    release(&p2);
    answer_t p3 = call(e, "/v3/kv/put", rmq_etcd_put("/t/b", "outside", 0), 5000);
    release(&p3);

    /* the prefix holds exactly the two keys under /t/a/ */
    answer_t r = call(e, "/v3/kv/range", rmq_etcd_range_prefix("/t/a/"), 5000);
    cr_assert_eq(r.r.err, RMQ_OK, "range: %s", r.r.msg);
    rmq_etcd_kv_t *kvs;
    size_t n;
    cr_assert(rmq_etcd_kvs(r.body, &kvs, &n));
    cr_assert_eq(n, 2, "range of /t/a/ returned %zu keys, want 2", n);
    cr_assert_str_eq(kvs[0].key, "/t/a/leader");
    cr_assert_str_eq(kvs[0].value, "{\"epoch\":1}");
    cr_assert_eq(kvs[0].lease, lease, "the key is not bound to the lease");
    cr_assert_eq(kvs[0].mod_revision, put_rev);
    cr_assert_str_eq(kvs[1].key, "/t/a/state");
    int64_t state_rev = kvs[1].mod_revision;
    rmq_etcd_kvs_free(kvs, n);
    release(&r);

    /* create-if-absent on an existing key fails and reads it back */
    json_t *txn = json_pack("{s:[o],s:[{s:o}],s:[{s:o}]}", "compare", rmq_etcd_cmp_create("/t/a/leader", 0),
                            "success", "request_put", rmq_etcd_put("/t/a/leader", "mine", 0), "failure",
                            "request_range", rmq_etcd_range_key("/t/a/leader"));
    answer_t t = call(e, "/v3/kv/txn", txn, 5000);
    cr_assert_eq(t.r.err, RMQ_OK, "txn: %s", t.r.msg);
    cr_assert(!rmq_etcd_bool(t.body, "succeeded"), "create-if-absent succeeded on an existing key");
    json_t *rr = json_object_get(json_array_get(json_object_get(t.body, "responses"), 0), "response_range");
    char *v = value_of(rr, "/t/a/leader");
    cr_assert(v && !strcmp(v, "{\"epoch\":1}"), "the failure branch did not read the key back (got %s)",
              v ? v : "nothing");
    free(v);
    release(&t);

    /* compare-and-swap on the revision: the right one wins, a stale one loses */
    json_t *cas = json_pack("{s:[o],s:[{s:o}]}", "compare", rmq_etcd_cmp_mod("/t/a/state", state_rev),
                            "success", "request_put", rmq_etcd_put("/t/a/state", "s2", 0));
    answer_t c1 = call(e, "/v3/kv/txn", cas, 5000);
    cr_assert(rmq_etcd_bool(c1.body, "succeeded"), "CAS with the current revision failed");
    release(&c1);
    cas = json_pack("{s:[o],s:[{s:o}]}", "compare", rmq_etcd_cmp_mod("/t/a/state", state_rev), "success",
                    "request_put", rmq_etcd_put("/t/a/state", "s3", 0));
    answer_t c2 = call(e, "/v3/kv/txn", cas, 5000);
    cr_assert_eq(c2.r.err, RMQ_OK);
    cr_assert(!rmq_etcd_bool(c2.body, "succeeded"), "CAS with a stale revision succeeded");
    release(&c2);

    /* keep-alive renews; after a revoke the key is gone and keep-alive says TTL 0 */
    answer_t k = call(e, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)lease), 5000);
    cr_assert_eq(k.r.err, RMQ_OK, "keepalive: %s", k.r.msg);
    cr_assert_eq(rmq_etcd_i64(json_object_get(k.body, "result"), "TTL", 0), 5,
                 "keepalive did not renew to 5 s");
    release(&k);
    answer_t rv = call(e, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)lease), 5000);
    cr_assert_eq(rv.r.err, RMQ_OK, "revoke: %s", rv.r.msg);
    release(&rv);
    answer_t r2 = call(e, "/v3/kv/range", rmq_etcd_range_key("/t/a/leader"), 5000);
    cr_assert_eq(json_array_size(json_object_get(r2.body, "kvs")), 0, "the leased key outlived its lease");
    release(&r2);
    answer_t k2 = call(e, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)lease), 5000);
    cr_assert_eq(k2.r.err, RMQ_OK);
    cr_assert_eq(rmq_etcd_i64(json_object_get(k2.body, "result"), "TTL", 0), 0,
                 "keepalive of a revoked lease did not answer TTL 0");
    release(&k2);
    rmq_etcd_free(e);
}

Test(etcd, error_answers)
{
    cr_assert(tc_etcd_cluster_start(etcd, 1));
    rmq_etcd_t *e = client_for(1);
    /* a key that is not base64: etcd's own error (InvalidArgument) */
    answer_t a = call(e, "/v3/kv/range", json_pack("{s:s}", "key", "!!!"), 5000);
    cr_assert_eq(a.r.err, RMQ_ERR__STATE, "a bad key was not an etcd error (err %d)", a.r.err);
    cr_assert_eq(a.r.grpc_code, 3, "grpc code %d, want 3 (InvalidArgument)", a.r.grpc_code);
    cr_assert(a.r.msg[0], "an etcd error without its message");
    release(&a);
    /* a path the gateway does not know: 404 with a body that is not JSON */
    answer_t b = call(e, "/v3/kv/nosuch", NULL, 5000);
    cr_assert_eq(b.r.err, RMQ_ERR__CORRUPT, "an unknown path answered err %d", b.r.err);
    cr_assert_eq(b.r.http_status, 404);
    release(&b);
    /* the endpoint was fine all along: no failover for answers */
    cr_assert_eq(rmq_etcd_endpoint_gen(e), 0, "an error answer moved the client to another endpoint");
    rmq_etcd_free(e);
}

typedef struct {
    int created, events, broken;
    char last_key[128], last_type[16];
} watch_log_t;

static void on_watch(void *arg, rmq_etcd_watch_what_t what, json_t *res)
{
    watch_log_t *l = arg;
    if (what == RMQ_ETCD_WATCH_CREATED)
        l->created++;
    else if (what == RMQ_ETCD_WATCH_BROKEN)
        l->broken++;
    else {
        json_t *ev = json_array_get(json_object_get(res, "events"),
                                    json_array_size(json_object_get(res, "events")) - 1);
        const char *t = json_string_value(json_object_get(ev, "type"));
        snprintf(l->last_type, sizeof(l->last_type), "%s", t ? t : "PUT"); /* PUT is the default: omitted */
        const char *k = json_string_value(json_object_get(json_object_get(ev, "kv"), "key"));
        char *key = k ? rmq_b64_decode(k, NULL) : NULL;
        snprintf(l->last_key, sizeof(l->last_key), "%s", key ? key : "");
        free(key);
        l->events++;
    }
}

Test(etcd, watch_prefix)
{
    cr_assert(tc_etcd_cluster_start(etcd, 1));
    rmq_etcd_t *e = client_for(1);
    watch_log_t l = {0};
    rmq_etcd_watch_t *w = rmq_etcd_watch_prefix(e, "/w/", 0, on_watch, &l);
    cr_assert(TH_WAIT_UNTIL((event_base_loop(base, EVLOOP_NONBLOCK), l.created == 1), 10000),
              "the watch was not created");
    answer_t p = call(e, "/v3/kv/put", rmq_etcd_put("/w/x", "1", 0), 5000);
    release(&p);
    answer_t o = call(e, "/v3/kv/put", rmq_etcd_put("/other", "1", 0), 5000);
    release(&o);
    cr_assert(TH_WAIT_UNTIL((event_base_loop(base, EVLOOP_NONBLOCK), l.events >= 1), 10000),
              "no event for a put under the prefix");
    cr_assert_str_eq(l.last_key, "/w/x");
    answer_t d = call(e, "/v3/kv/deleterange", rmq_etcd_delete("/w/x"), 5000);
    release(&d);
    cr_assert(TH_WAIT_UNTIL((event_base_loop(base, EVLOOP_NONBLOCK), l.events >= 2), 10000),
              "no event for the delete");
    cr_assert_str_eq(l.last_type, "DELETE");
    cr_assert_eq(l.events, 2, "an event for a key outside the prefix (%d events)", l.events);
    /* the member dies: the watch is reported broken, once */
    cr_assert(tc_etcd_kill(&etcd[0]));
    cr_assert(TH_WAIT_UNTIL((event_base_loop(base, EVLOOP_NONBLOCK), l.broken == 1), 20000),
              "a watch on a dead member was not reported broken");
    rmq_etcd_watch_stop(w);
    rmq_etcd_free(e);
}

/* A socket that accepts connections (the kernel completes them) but never
 * reads or answers: an etcd member behind a black hole. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    cr_assert(listen(fd, 16) == 0);
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

Test(etcd, failover_past_dead_and_silent_members)
{
    cr_assert(tc_etcd_cluster_start(etcd, 1));
    int silent_port;
    int silent = silent_listener(&silent_port);
    int dead_port = th_free_port(); /* nothing listens there */
    char eps[512], err[256];
    snprintf(eps, sizeof(eps), "http://127.0.0.1:%d,127.0.0.1:%d,http://127.0.0.1:%d/", dead_port,
             silent_port, etcd[0].proc.port);
    rmq_etcd_t *e = rmq_etcd_new(base, eps, err, sizeof(err));
    cr_assert(e, "%s", err);
    cr_assert_eq(rmq_etcd_endpoint_count(e), 3);
    /* the call passes the refused member and the silent one (its attempt
     * times out) and lands on the live member within its budget */
    answer_t a = call(e, "/v3/kv/put", rmq_etcd_put("/f/k", "v", 0), 8000);
    cr_assert_eq(a.r.err, RMQ_OK, "the call did not reach the live member: %s", a.r.msg);
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", etcd[0].proc.port);
    cr_assert_str_eq(a.endpoint, want);
    cr_assert_str_eq(rmq_etcd_endpoint(e), want, "the client did not stay on the member that answered");
    cr_assert_eq(rmq_etcd_endpoint_gen(e), 2, "two endpoint moves expected, got %llu",
                 (unsigned long long)rmq_etcd_endpoint_gen(e));
    release(&a);
    /* the next call goes straight to it */
    answer_t b = call(e, "/v3/kv/range", rmq_etcd_range_key("/f/k"), 3000);
    cr_assert_eq(b.r.err, RMQ_OK);
    cr_assert_eq(rmq_etcd_endpoint_gen(e), 2, "a call after failover moved again");
    release(&b);
    /* the live member dies too: the call fails within its budget, saying why */
    cr_assert(tc_etcd_kill(&etcd[0]));
    answer_t c = call(e, "/v3/kv/range", rmq_etcd_range_key("/f/k"), 2000);
    cr_assert(c.r.err == RMQ_ERR__TRANSPORT || c.r.err == RMQ_ERR__TIMED_OUT,
              "a call with every member gone answered err %d (%s)", c.r.err, c.r.msg);
    cr_assert(c.r.msg[0], "a failed call without a reason");
    release(&c);
    rmq_etcd_free(e);
    close(silent);
}

Test(etcd, three_members_one_killed)
{
    cr_assert(tc_etcd_cluster_start(etcd, 3));
    rmq_etcd_t *e = client_for(3);
    answer_t a = call(e, "/v3/kv/put", rmq_etcd_put("/m/k", "1", 0), 5000);
    cr_assert_eq(a.r.err, RMQ_OK, "%s", a.r.msg);
    release(&a);
    /* kill the member the client talks to: the next calls go to another one */
    int cur = -1;
    for (int i = 0; i < 3; i++) {
        char n[64];
        snprintf(n, sizeof(n), "127.0.0.1:%d", etcd[i].proc.port);
        if (!strcmp(n, rmq_etcd_endpoint(e)))
            cur = i;
    }
    cr_assert(cur >= 0);
    cr_assert(tc_etcd_kill(&etcd[cur]));
    for (int i = 0; i < 5; i++) {
        answer_t b = call(e, "/v3/kv/put", rmq_etcd_put("/m/k", "2", 0), 10000);
        cr_assert_eq(b.r.err, RMQ_OK, "put %d with one of three members dead: %s", i, b.r.msg);
        release(&b);
    }
    /* the member comes back and catches up */
    cr_assert(tc_etcd_restart(&etcd[cur]));
    rmq_etcd_free(e);
}

Test(etcd, free_with_calls_pending)
{
    int silent_port;
    int silent = silent_listener(&silent_port);
    char eps[64], err[256];
    snprintf(eps, sizeof(eps), "http://127.0.0.1:%d", silent_port);
    rmq_etcd_t *e = rmq_etcd_new(base, eps, err, sizeof(err));
    cr_assert(e);
    answer_t a = {0};
    rmq_etcd_call(e, "/v3/kv/range", rmq_etcd_range_key("x"), 60000, on_answer, &a);
    /* let the request reach the silent socket */
    cr_assert(!pump_until(&a.done, 300), "a call to a silent member completed");
    rmq_etcd_free(e);
    cr_assert(a.done, "free did not answer the pending call");
    cr_assert_eq(a.r.err, RMQ_ERR__DESTROY);
    close(silent);
}
