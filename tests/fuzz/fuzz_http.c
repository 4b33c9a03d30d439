/* fuzz_http.c - libFuzzer target for the HTTP request parser behind
 * /metrics and mqconsole (rmq_http_parse).
 *
 * The input is fed to rmq_http_parse_head with small limits; the checks:
 *   - a positive result never exceeds the input or the head limit, and the
 *     parsed head's pointers are C strings (reading them must not fault);
 *   - a negative result is an HTTP error status with a reason;
 *   - when a head parses, its target goes through rmq_http_target_parse, and
 *     a parsed path starts with '/', contains no "/../", and every
 *     parameter is a C string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_http_parse.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_http: check failed: %s: ", #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t max_head = 2048, max_target = 512;
    rmq_http_head_t h;
    char err[256] = "";
    long n = rmq_http_parse_head((const char *)data, size, max_head, max_target, 65536, &h, err, sizeof(err));
    if (n < 0) {
        CHECK(n <= -400 && n >= -599, "status %ld", -n);
        CHECK(err[0] != 0, "an error without a reason");
        return 0;
    }
    if (n == 0) {
        CHECK(size < max_head, "need-more with %zu bytes", size);
        return 0;
    }
    CHECK((size_t)n <= size && (size_t)n <= max_head, "consumed %ld of %zu", n, size);
    CHECK(h.target[0] == '/' && strlen(h.target) <= max_target, "target %s", h.target);
    CHECK(h.content_length >= 0 && h.content_length <= 65536, "length %lld", (long long)h.content_length);
    for (int i = 0; i < h.nheaders; i++)
        CHECK(strlen(h.headers[i].name) > 0 && strlen(h.headers[i].value) < max_head, "header %d", i);
    rmq_http_target_t t;
    if (rmq_http_target_parse(h.target, &t, err, sizeof(err))) {
        CHECK(t.path[0] == '/', "path %s", t.path);
        CHECK(!strstr(t.path, "/../"), "path %s", t.path);
        for (int i = 0; i < t.nparams; i++)
            CHECK(strlen(t.pname[i]) + strlen(t.pvalue[i]) <= strlen(h.target), "param %d", i);
        rmq_http_target_free(&t);
    } else {
        CHECK(err[0] != 0, "a refused target without a reason");
    }
    rmq_http_head_free(&h);
    return 0;
}
