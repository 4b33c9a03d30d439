/* test_conn.c - the libevent connection layer on loopback, server and client
 * endpoints in one event loop: request/response, timeouts, oneway,
 * server-initiated requests, unknown codes, reconnect, bad frames,
 * backpressure. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <string.h>

#include "rmq_conn.h"
#include "rmq_log.h"

typedef struct {
    struct event_base *base;
    rmq_endpoint_t *srv;
    rmq_endpoint_t *cli;
    char addr[64];
    int responses;
    int last_err;
    int last_code;
    char last_remark[128];
    char last_ext[64];
    int oneways;
    int notified;
    int closes;
    rmq_conn_t *server_side;
} fx_t;

static void stop_soon(fx_t *f)
{
    struct timeval tv = {0, 1000};
    event_base_loopexit(f->base, &tv);
}

static void run_for(fx_t *f, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
}

/* echo handler: answers with ext "echo" = ext "v" */
static void h_echo(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    rmq_cmd_t resp;
    rmq_cmd_init_response(&resp, req, RMQ_OK, NULL);
    const char *v = rmq_cmd_ext(req, "v");
    rmq_cmd_set_ext(&resp, "echo", v ? v : "");
    rmq_cmd_set_body(&resp, req->body, req->body_len);
    rmq_conn_reply(c, req, &resp);
    rmq_cmd_deinit(&resp);
}

static void h_silent(rmq_conn_t *c, rmq_cmd_t *req, void *ctx) {}

static void h_oneway(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    fx_t *f = ctx;
    cr_assert(rmq_cmd_is_oneway(req));
    f->oneways++;
    f->server_side = c;
    rmq_conn_hold(c);
    stop_soon(f);
}

static void h_notify(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    fx_t *f = ctx;
    f->notified++;
    stop_soon(f);
}

static void on_resp(rmq_conn_t *c, rmq_err_t err, rmq_cmd_t *resp, void *arg)
{
    fx_t *f = arg;
    f->responses++;
    f->last_err = err;
    f->last_code = resp ? resp->code : -1;
    snprintf(f->last_remark, sizeof(f->last_remark), "%s", resp && resp->remark ? resp->remark : "");
    const char *e = resp ? rmq_cmd_ext(resp, "echo") : NULL;
    snprintf(f->last_ext, sizeof(f->last_ext), "%s", e ? e : "");
    stop_soon(f);
}

static void on_close(rmq_conn_t *c, void *ctx)
{
    fx_t *f = ctx;
    f->closes++;
}

static void setup(fx_t *f, size_t max_frame)
{
    memset(f, 0, sizeof(*f));
    rmq_log_level = RMQ_LOG_ERROR;
    f->base = event_base_new();
    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    if (max_frame)
        o.max_frame = max_frame;
    char err[128];
    f->srv = rmq_server_new(f->base, "127.0.0.1", 0, &o, err, sizeof(err));
    cr_assert(f->srv, "%s", err);
    rmq_endpoint_set_handler(f->srv, 1000, h_echo, f);
    rmq_endpoint_set_handler(f->srv, 1001, h_silent, f);
    rmq_endpoint_set_handler(f->srv, 1002, h_oneway, f);
    rmq_endpoint_set_close_cb(f->srv, on_close, f);
    rmq_endpoint_opts_t co;
    rmq_endpoint_opts_default(&co);
    co.connect_timeout_ms = 1000;
    f->cli = rmq_client_new(f->base, &co);
    rmq_endpoint_set_handler(f->cli, 40, h_notify, f);
    snprintf(f->addr, sizeof(f->addr), "127.0.0.1:%d", rmq_server_port(f->srv));
}

static void teardown(fx_t *f)
{
    if (f->server_side)
        rmq_conn_release(f->server_side);
    rmq_endpoint_destroy(f->cli);
    rmq_endpoint_destroy(f->srv);
    event_base_free(f->base);
}

static void request(fx_t *f, int code, const char *v, int timeout_ms)
{
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, code);
    if (v)
        rmq_cmd_set_ext(&req, "v", v);
    int before = f->responses;
    cr_assert_eq(rmq_client_request(f->cli, f->addr, &req, timeout_ms, on_resp, f), RMQ_OK);
    rmq_cmd_deinit(&req);
    for (int i = 0; i < 50 && f->responses == before; i++)
        run_for(f, 100);
    cr_assert_eq(f->responses, before + 1, "no callback for code %d", code);
}

Test(conn, request_response_both_serializations)
{
    fx_t f;
    setup(&f, 0);
    request(&f, 1000, "hello", 2000);
    cr_assert_eq(f.last_err, RMQ_OK);
    cr_assert_eq(f.last_code, RMQ_OK);
    cr_assert_str_eq(f.last_ext, "hello");
    /* ROCKETMQ binary header: the answer comes back in the same serialization */
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 1000);
    req.serialize = RMQ_SERIALIZE_ROCKETMQ;
    rmq_cmd_set_ext(&req, "v", "bin");
    cr_assert_eq(rmq_client_request(f.cli, f.addr, &req, 2000, on_resp, &f), RMQ_OK);
    rmq_cmd_deinit(&req);
    run_for(&f, 1000);
    cr_assert_str_eq(f.last_ext, "bin");
    teardown(&f);
}

Test(conn, many_outstanding_requests_matched_by_opaque)
{
    fx_t f;
    setup(&f, 0);
    for (int i = 0; i < 500; i++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, 1000);
        rmq_cmd_set_ext_i64(&req, "v", i);
        cr_assert_eq(rmq_client_request(f.cli, f.addr, &req, 5000, on_resp, &f), RMQ_OK);
        rmq_cmd_deinit(&req);
    }
    for (int i = 0; i < 100 && f.responses < 500; i++)
        run_for(&f, 50);
    cr_assert_eq(f.responses, 500);
    cr_assert_eq(f.last_err, RMQ_OK);
    teardown(&f);
}

Test(conn, timeout_then_connection_still_usable)
{
    fx_t f;
    setup(&f, 0);
    request(&f, 1001, NULL, 200); /* handler never answers */
    cr_assert_eq(f.last_err, RMQ_ERR__TIMED_OUT);
    request(&f, 1000, "after", 2000);
    cr_assert_eq(f.last_err, RMQ_OK);
    cr_assert_str_eq(f.last_ext, "after");
    teardown(&f);
}

Test(conn, unknown_code_not_supported)
{
    fx_t f;
    setup(&f, 0);
    request(&f, 777, NULL, 2000);
    cr_assert_eq(f.last_code, RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED);
    cr_assert_str_eq(f.last_remark, " request type 777 not supported");
    teardown(&f);
}

Test(conn, oneway_and_server_initiated_request)
{
    fx_t f;
    setup(&f, 0);
    rmq_conn_t *c = rmq_client_conn(f.cli, f.addr);
    cr_assert(c);
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 1002);
    cr_assert_eq(rmq_conn_oneway(c, &req), RMQ_OK);
    rmq_cmd_deinit(&req);
    for (int i = 0; i < 20 && !f.oneways; i++)
        run_for(&f, 100);
    cr_assert_eq(f.oneways, 1);
    /* the server pushes NOTIFY_CONSUMER_IDS_CHANGED (oneway) on the same connection */
    rmq_cmd_init_request(&req, 40);
    rmq_cmd_set_ext(&req, "consumerGroup", "G");
    cr_assert_eq(rmq_conn_oneway(f.server_side, &req), RMQ_OK);
    rmq_cmd_deinit(&req);
    for (int i = 0; i < 20 && !f.notified; i++)
        run_for(&f, 100);
    cr_assert_eq(f.notified, 1);
    teardown(&f);
}

Test(conn, pending_requests_fail_on_close_and_client_reconnects)
{
    fx_t f;
    setup(&f, 0);
    rmq_conn_t *c = rmq_client_conn(f.cli, f.addr);
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 1002); /* the server keeps a reference to its side */
    rmq_conn_oneway(c, &req);
    rmq_cmd_deinit(&req);
    for (int i = 0; i < 20 && !f.server_side; i++)
        run_for(&f, 100);
    cr_assert(f.server_side);
    /* a request the server will never answer, then the server drops the connection */
    rmq_cmd_init_request(&req, 1001);
    cr_assert_eq(rmq_conn_request(c, &req, 10000, on_resp, &f), RMQ_OK);
    rmq_cmd_deinit(&req);
    run_for(&f, 100);
    rmq_conn_close(f.server_side);
    cr_assert(rmq_conn_is_closed(f.server_side));
    for (int i = 0; i < 30 && !f.responses; i++)
        run_for(&f, 100);
    cr_assert_eq(f.responses, 1);
    cr_assert_eq(f.last_err, RMQ_ERR__TRANSPORT, "pending request fails at once, not after its timeout");
    cr_assert(f.closes >= 1);
    /* next request: a new connection */
    request(&f, 1000, "again", 2000);
    cr_assert_eq(f.last_err, RMQ_OK);
    cr_assert_str_eq(f.last_ext, "again");
    teardown(&f);
}

Test(conn, connect_refused_reports_transport_error)
{
    fx_t f;
    setup(&f, 0);
    /* a port nobody listens on: bind the server port, then free it */
    char addr[64];
    snprintf(addr, sizeof(addr), "%s", f.addr);
    rmq_endpoint_destroy(f.srv);
    f.srv = NULL;
    snprintf(f.addr, sizeof(f.addr), "%s", addr);
    request(&f, 1000, "x", 2000);
    cr_assert_eq(f.last_err, RMQ_ERR__TRANSPORT);
    cr_assert_null(rmq_client_conn(f.cli, "no-port"), "malformed address rejected");
    teardown(&f);
}

Test(conn, oversize_frame_closes_connection)
{
    fx_t f;
    setup(&f, 4096);
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 1000);
    char big[8192];
    memset(big, 'x', sizeof(big));
    rmq_cmd_set_body(&req, big, sizeof(big));
    cr_assert_eq(rmq_client_request(f.cli, f.addr, &req, 5000, on_resp, &f), RMQ_OK);
    rmq_cmd_deinit(&req);
    for (int i = 0; i < 30 && !f.responses; i++)
        run_for(&f, 100);
    cr_assert_eq(f.last_err, RMQ_ERR__TRANSPORT, "the server closed the connection");
    request(&f, 1000, "small", 2000);
    cr_assert_eq(f.last_err, RMQ_OK);
    teardown(&f);
}

Test(conn, addr_split)
{
    char h[64];
    int p;
    cr_assert(rmq_addr_split("127.0.0.1:9876", h, sizeof(h), &p));
    cr_assert_str_eq(h, "127.0.0.1");
    cr_assert_eq(p, 9876);
    cr_assert(rmq_addr_split("[::1]:10911", h, sizeof(h), &p));
    cr_assert_str_eq(h, "::1");
    cr_assert(rmq_addr_split("localhost:1", h, sizeof(h), &p));
    cr_assert_not(rmq_addr_split("localhost", h, sizeof(h), &p));
    cr_assert_not(rmq_addr_split("h:0", h, sizeof(h), &p));
    cr_assert_not(rmq_addr_split("h:70000", h, sizeof(h), &p));
    cr_assert_not(rmq_addr_split(":80", h, sizeof(h), &p));
    cr_assert_not(rmq_addr_split("[::1]80", h, sizeof(h), &p));
}

/* ---- backpressure: a peer that sends but never reads ---- */

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static int handled;

static void h_count_echo(rmq_conn_t *c, rmq_cmd_t *req, void *ctx)
{
    handled++;
    h_echo(c, req, ctx);
}

Test(conn, slow_reader_pauses_reading_until_drained)
{
    fx_t f;
    memset(&f, 0, sizeof(f));
    rmq_log_level = RMQ_LOG_ERROR;
    f.base = event_base_new();
    rmq_endpoint_opts_t o;
    rmq_endpoint_opts_default(&o);
    o.max_output = 256 * 1024;
    char err[128];
    f.srv = rmq_server_new(f.base, "127.0.0.1", 0, &o, err, sizeof(err));
    cr_assert(f.srv);
    rmq_endpoint_set_handler(f.srv, 1000, h_count_echo, &f);
    f.cli = rmq_client_new(f.base, NULL);
    snprintf(f.addr, sizeof(f.addr), "127.0.0.1:%d", rmq_server_port(f.srv));

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 16 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)rmq_server_port(f.srv));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);

    /* 200 requests x 32 KiB echoed back = 6.4 MiB of answers nobody reads */
    enum { N = 200, BODY = 32 * 1024 };
    rmq_buf_t frames;
    rmq_buf_init(&frames);
    static char body[BODY];
    memset(body, 'b', sizeof(body));
    for (int i = 0; i < N; i++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, 1000);
        req.opaque = i + 1;
        rmq_cmd_set_body(&req, body, sizeof(body));
        rmq_cmd_encode(&req, &frames);
        rmq_cmd_deinit(&req);
    }
    size_t sent = 0;
    for (int round = 0; round < 200 && sent < frames.len; round++) {
        ssize_t w = send(fd, frames.data + sent, frames.len - sent, MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        run_for(&f, 10);
    }
    run_for(&f, 200);
    int stalled_at = handled;
    cr_assert_lt(stalled_at, N, "server kept reading although its output to this peer was over the limit");
    /* other connections are still served */
    request(&f, 1000, "other", 2000);
    cr_assert_eq(f.last_err, RMQ_OK);

    /* now read everything: the server resumes and answers every request */
    size_t got = 0;
    static char sink[65536];
    /* (the answers still in kernel socket buffers are read too) */
    for (int round = 0; round < 2000 && (handled < N + 1 || got < (size_t)N * BODY); round++) {
        if (sent < frames.len) {
            ssize_t w = send(fd, frames.data + sent, frames.len - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        ssize_t r;
        while ((r = recv(fd, sink, sizeof(sink), 0)) > 0)
            got += (size_t)r;
        run_for(&f, 5);
    }
    cr_assert_eq(handled, N + 1, "handled %d of %d after draining", handled, N + 1);
    cr_assert_gt(got, (size_t)N * BODY / 2);
    close(fd);
    rmq_buf_free(&frames);
    teardown(&f);
}
