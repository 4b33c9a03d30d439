/* rmq_http_parse.h - HTTP/1.x request heads and query strings, parsed from
 * bytes with hard bounds (no I/O, no allocation beyond the caller's head
 * object; fuzzed by tests/fuzz/fuzz_http.c).
 *
 * What is accepted: "METHOD SP origin-form SP HTTP/1.0|1.1" and header lines
 * up to the empty line, CRLF or bare LF; Content-Length bodies only
 * (Transfer-Encoding is refused with 501, a request never has to be
 * unchunked); percent-encoding in path and query ('+' is a space in the
 * query). Everything else is an error carrying the status to answer and a
 * one-line reason. */
#ifndef RMQ_HTTP_PARSE_H
#define RMQ_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RMQ_HTTP_MAX_HEADERS 64
#define RMQ_HTTP_MAX_PARAMS 32

typedef enum { RMQ_HTTP_GET, RMQ_HTTP_HEAD, RMQ_HTTP_POST, RMQ_HTTP_OTHER } rmq_http_method_t;

typedef struct rmq_http_kv_s {
    const char *name; /* header names as sent (compare case-insensitively) */
    const char *value;
} rmq_http_kv_t;

typedef struct rmq_http_head_s {
    char *text; /* owned copy of the head; every pointer below points into it */
    rmq_http_method_t method;
    const char *method_name;
    const char *target; /* raw request-target */
    int minor;          /* HTTP/1.<minor> */
    rmq_http_kv_t headers[RMQ_HTTP_MAX_HEADERS];
    int nheaders;
    int64_t content_length; /* 0 when absent */
    bool keep_alive;
} rmq_http_head_t;

/* Result of rmq_http_parse_head: > 0 the head is complete and that many
 * bytes were consumed; 0 more bytes are needed; < 0 the request is bad and
 * -result is the HTTP status to answer (400, 413, 414, 431, 501, 505), with
 * the reason in err. max_head bounds the request line plus headers;
 * max_target the request-target; max_body the Content-Length. */
long rmq_http_parse_head(const char *buf, size_t len, size_t max_head, size_t max_target, int64_t max_body,
                         rmq_http_head_t *h, char *err, size_t err_size);
void rmq_http_head_free(rmq_http_head_t *h);
/* Case-insensitive header lookup; NULL when absent. */
const char *rmq_http_head_get(const rmq_http_head_t *h, const char *name);

/* A decoded request-target: path and query parameters. */
typedef struct rmq_http_target_s {
    char *text; /* owned decoded storage */
    const char *path;
    const char *pname[RMQ_HTTP_MAX_PARAMS];
    const char *pvalue[RMQ_HTTP_MAX_PARAMS];
    int nparams;
} rmq_http_target_t;

/* Decode target ("/path?k=v&k2=v2"). false with the reason in err (the
 * caller answers 400) for bad percent-encoding, a NUL byte, a path that is
 * not absolute, a ".." segment, or more than RMQ_HTTP_MAX_PARAMS
 * parameters. */
bool rmq_http_target_parse(const char *target, rmq_http_target_t *t, char *err, size_t err_size);
void rmq_http_target_free(rmq_http_target_t *t);
/* The first value of a parameter, or NULL. */
const char *rmq_http_target_param(const rmq_http_target_t *t, const char *name);

#endif
