/* fuzz_text.c - libFuzzer target for the text helpers of rmq_common.
 *
 * The first input byte picks the function, the rest is its input:
 *   0: rmq_props_parse - must not crash; every key/value is a C string.
 *   1: rmq_json_parse  - must not crash; when it parses, the bare-key pre-pass
 *      must not have changed a document jansson accepts as it is.
 *   2: rmq_json_escape (plain and ascii_only) - the result is always valid
 *      JSON; for valid UTF-8 input it decodes back to the input bytes.
 *   3: rmq_java_hash   - must not crash (UBSan checks the arithmetic). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_buf.h"
#include "rmq_conf.h"
#include "rmq_json.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_text: check failed: %s: ", #cond);                                         \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static int props_cb(void *opaque, const char *key, const char *value, int line)
{
    (void)opaque;
    CHECK(line >= 1, "line %d", line);
    volatile size_t n = strlen(key) + strlen(value);
    (void)n;
    return 0;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF), by
 * jansson's own check: an oracle independent of rmq_utf8_decode. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

static void check_escape(const uint8_t *s, size_t n, bool ascii_only)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_json_escape(&b, (const char *)s, n, ascii_only);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    CHECK(j != NULL, "escape output is not JSON (ascii_only=%d): %s", ascii_only, e.text);
    CHECK(json_is_string(j), "not a string");
    if (ascii_only)
        for (size_t i = 0; i < b.len; i++)
            CHECK(b.data[i] < 0x80, "non-ASCII byte in ascii_only output");
    if (utf8_valid(s, n))
        CHECK(json_string_length(j) == n && memcmp(json_string_value(j), s, n) == 0,
              "valid UTF-8 did not round-trip (ascii_only=%d)", ascii_only);
    json_decref(j);
    rmq_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0:
        rmq_props_parse((const char *)p, n, props_cb, NULL);
        break;
    case 1: {
        char err[256];
        json_t *lenient = rmq_json_parse((const char *)p, n, err, sizeof(err));
        json_error_t e;
        json_t *strict = json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        if (strict) {
            CHECK(lenient != NULL, "strict JSON rejected by the lenient parser: %s", err);
            CHECK(json_equal(strict, lenient), "the pre-pass changed a valid document");
        }
        json_decref(strict);
        json_decref(lenient);
        break;
    }
    case 2:
        check_escape(p, n, false);
        check_escape(p, n, true);
        break;
    case 3:
        (void)rmq_java_hash((const char *)p, n);
        break;
    }
    return 0;
}
