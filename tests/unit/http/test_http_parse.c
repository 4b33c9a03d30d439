/* test_http_parse.c - HTTP request heads and targets: what is accepted, and
 * the status every malformed or oversized request gets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "rmq_http_parse.h"

TestSuite(http_head, .timeout = 10);

static long parse(const char *text, rmq_http_head_t *h, char *err)
{
    return rmq_http_parse_head(text, strlen(text), 1024, 256, 4096, h, err, 256);
}

Test(http_head, simple_get)
{
    rmq_http_head_t h;
    char err[256];
    const char *req = "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nNEXT";
    long n = parse(req, &h, err);
    cr_assert_eq(n, (long)(strlen(req) - 4), "consumed the head only: %ld (%s)", n, err);
    cr_expect_eq(h.method, RMQ_HTTP_GET);
    cr_expect_str_eq(h.target, "/metrics?x=1");
    cr_expect_eq(h.minor, 1);
    cr_expect(h.keep_alive, "HTTP/1.1 keeps the connection by default");
    cr_expect_str_eq(rmq_http_head_get(&h, "host"), "a");
    cr_expect_eq(h.content_length, 0);
    rmq_http_head_free(&h);
}

Test(http_head, bare_lf_and_connection_close_and_body)
{
    rmq_http_head_t h;
    char err[256];
    long n = parse("POST /api/x HTTP/1.0\nContent-Length: 12\nConnection: keep-alive, Upgrade\n\n", &h, err);
    cr_assert(n > 0, "%s", err);
    cr_expect_eq(h.method, RMQ_HTTP_POST);
    cr_expect_eq(h.content_length, 12);
    cr_expect(h.keep_alive, "1.0 with keep-alive");
    rmq_http_head_free(&h);
    n = parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &h, err);
    cr_assert(n > 0);
    cr_expect(!h.keep_alive);
    rmq_http_head_free(&h);
}

Test(http_head, incomplete_needs_more)
{
    rmq_http_head_t h;
    char err[256];
    cr_expect_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n", &h, err), 0);
    cr_expect_eq(parse("GE", &h, err), 0);
}

/* Each malformed head: the status to answer. */
Test(http_head, bad_requests_and_their_status)
{
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GET /\r\n\r\n", 400},                                 /* no version */
        {"GET  / HTTP/1.1\r\n\r\n", 400},                       /* two spaces */
        {"G(T / HTTP/1.1\r\n\r\n", 400},                        /* method not a token */
        {"GET http://x/ HTTP/1.1\r\n\r\n", 400},                /* absolute-form */
        {"GET / HTTP/2.0\r\n\r\n", 505},                        /* version */
        {"GET / HTTP/1.1x\r\n\r\n", 400},                       /* malformed version */
        {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},             /* header without ':' */
        {"GET / HTTP/1.1\r\n folded\r\n\r\n", 400},             /* obsolete folding */
        {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},         /* space in a header name */
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400}, /* negative length */
        {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400}, /* not a number */
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400}, /* conflicting */
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},   /* overflow */
        {"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},                   /* over max_body */
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"GET /\x01 HTTP/1.1\r\n\r\n", 400}, /* control char in target */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_http_head_t h;
        char err[256] = "";
        long n = parse(cases[i].text, &h, err);
        cr_expect_eq(n, -cases[i].status, "case %zu (%s): got %ld", i, cases[i].text, n);
        cr_expect(err[0], "case %zu has a reason", i);
    }
}

Test(http_head, nul_byte_in_head)
{
    rmq_http_head_t h;
    char err[256];
    const char req[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
    cr_expect_eq(rmq_http_parse_head(req, sizeof(req) - 1, 1024, 256, 4096, &h, err, sizeof(err)), -400);
}

Test(http_head, oversize_head_and_target)
{
    rmq_http_head_t h;
    char err[256];
    char big[2048];
    /* a request line longer than max_head without a newline: 414 */
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    cr_expect_eq(rmq_http_parse_head(big, sizeof(big), 1024, 256, 4096, &h, err, sizeof(err)), -414);
    /* headers that never end within max_head: 431 */
    char hdrs[2048];
    int o = snprintf(hdrs, sizeof(hdrs), "GET / HTTP/1.1\r\n");
    while (o < 1500)
        o += snprintf(hdrs + o, sizeof(hdrs) - (size_t)o, "X-A: bbbbbbbbbbbbbbbb\r\n");
    cr_expect_eq(rmq_http_parse_head(hdrs, (size_t)o, 1024, 256, 4096, &h, err, sizeof(err)), -431);
    /* a complete head whose target is over max_target: 414 */
    char t[600];
    snprintf(t, sizeof(t), "GET /%0300d HTTP/1.1\r\n\r\n", 0);
    cr_expect_eq(parse(t, &h, err), -414);
    /* more than RMQ_HTTP_MAX_HEADERS fields: 431 */
    char many[4096];
    o = snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
    for (int i = 0; i < RMQ_HTTP_MAX_HEADERS + 1; i++)
        o += snprintf(many + o, sizeof(many) - (size_t)o, "X%d: v\r\n", i);
    o += snprintf(many + o, sizeof(many) - (size_t)o, "\r\n");
    cr_expect_eq(rmq_http_parse_head(many, (size_t)o, 4096, 256, 4096, &h, err, sizeof(err)), -431);
}

TestSuite(http_target, .timeout = 10);

Test(http_target, path_and_params_decoded)
{
    rmq_http_target_t t;
    char err[256];
    cr_assert(
        rmq_http_target_parse("/api/messages%2Fx?topic=T%20A&key=a+b&empty=&flag", &t, err, sizeof(err)),
        "%s", err);
    cr_expect_str_eq(t.path, "/api/messages/x");
    cr_expect_str_eq(rmq_http_target_param(&t, "topic"), "T A");
    cr_expect_str_eq(rmq_http_target_param(&t, "key"), "a b");
    cr_expect_str_eq(rmq_http_target_param(&t, "empty"), "");
    cr_expect_str_eq(rmq_http_target_param(&t, "flag"), "");
    cr_expect_null(rmq_http_target_param(&t, "missing"));
    rmq_http_target_free(&t);
}

Test(http_target, malformed)
{
    static const char *bad[] = {
        "/x?a=%",   "/x?a=%4",        "/x?a=%zz", "/x?%g1=2", "/a%00b",
        "/x?a=%00", "/../etc/passwd", "/a/..",    "relative",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rmq_http_target_t t;
        char err[256] = "";
        cr_expect(!rmq_http_target_parse(bad[i], &t, err, sizeof(err)), "%s must be refused", bad[i]);
        cr_expect(err[0], "%s: a reason", bad[i]);
    }
}

Test(http_target, too_many_params)
{
    char q[1024];
    int o = snprintf(q, sizeof(q), "/x?");
    for (int i = 0; i <= RMQ_HTTP_MAX_PARAMS; i++)
        o += snprintf(q + o, sizeof(q) - (size_t)o, "p%d=1&", i);
    rmq_http_target_t t;
    char err[256];
    cr_expect(!rmq_http_target_parse(q, &t, err, sizeof(err)));
    cr_expect(strstr(err, "more than") != NULL, "%s", err);
}
