/* test_cmd_bad.c - rmq_cmd_decode on malformed input: every case fails with
 * the right error, a non-empty errstr, and leaves the command empty (no leak:
 * run under COMET_SANITIZE=ON, LeakSanitizer checks each test process). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_util.h"

/* Decode p/len (after the prefix) and expect failure with `want`. */
static void expect_fail(const uint8_t *p, size_t len, rmq_err_t want, const char *what)
{
    rmq_cmd_t c;
    char err[256];
    memset(err, 0, sizeof(err));
    /* the command is garbage before the call: decode must not read it */
    memset(&c, 0xA5, sizeof(c));
    rmq_err_t r = rmq_cmd_decode(&c, p, len, err, sizeof(err));
    cr_expect_eq(r, want, "%s: got %d (%s), want %d", what, r, rmq_err2name(r), want);
    cr_expect_neq(err[0], '\0', "%s: empty errstr", what);
    cr_expect_null(c.remark, "%s: remark left behind", what);
    cr_expect_null(c.ext, "%s: ext left behind", what);
    cr_expect_eq(c.ext_n, 0, "%s", what);
    cr_expect_null(c.body, "%s: body left behind", what);
    if (r == RMQ_OK)
        rmq_cmd_deinit(&c);
    /* errstr may be NULL */
    r = rmq_cmd_decode(&c, p, len, NULL, 0);
    cr_expect_eq(r, want, "%s (NULL errstr)", what);
    if (r == RMQ_OK)
        rmq_cmd_deinit(&c);
    /* a tiny errstr buffer is truncated, not overrun */
    char small[4] = {'x', 'x', 'x', 'x'};
    r = rmq_cmd_decode(&c, p, len, small, 3);
    cr_expect_eq(small[3], 'x', "%s: errstr overrun", what);
    if (r == RMQ_OK)
        rmq_cmd_deinit(&c);
}

static void expect_json_fail(const char *json, const char *what)
{
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_JSON, json, strlen(json), "body", 4);
    expect_fail(b.data + 4, b.len - 4, RMQ_ERR__CORRUPT, what);
    rmq_buf_free(&b);
}

TestSuite(bad, .timeout = 30);

Test(bad, truncated_frame)
{
    const uint8_t p[4] = {0, 0, 0, 0};
    expect_fail(p, 0, RMQ_ERR__CORRUPT, "0 bytes");
    expect_fail(p, 1, RMQ_ERR__CORRUPT, "1 byte");
    expect_fail(p, 3, RMQ_ERR__CORRUPT, "3 bytes");
    /* 4 bytes, header length 0: an empty JSON header is not JSON */
    expect_fail(p, 4, RMQ_ERR__CORRUPT, "empty JSON header");
    /* 4 bytes, ROCKETMQ header of length 0: fixed fields missing */
    const uint8_t q[4] = {1, 0, 0, 0};
    expect_fail(q, 4, RMQ_ERR__CORRUPT, "empty ROCKETMQ header");
}

Test(bad, header_longer_than_frame)
{
    const char *json = "{\"code\":1}";
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_JSON, json, strlen(json), NULL, 0);
    expect_fail(b.data + 4, b.len - 5, RMQ_ERR__CORRUPT, "frame one byte short");
    rmq_wbe32(b.data + 4, 0x00FFFFFF);
    expect_fail(b.data + 4, b.len - 4, RMQ_ERR__CORRUPT, "header length 0xFFFFFF");
    rmq_wbe32(b.data + 4, 0x01FFFFFF);
    expect_fail(b.data + 4, b.len - 4, RMQ_ERR__CORRUPT, "ROCKETMQ header length 0xFFFFFF");
    rmq_buf_free(&b);
}

Test(bad, garbage_json)
{
    expect_json_fail("{", "open brace");
    expect_json_fail("{\"code\":}", "missing value");
    expect_json_fail("{\"code\":1,}", "trailing comma");
    expect_json_fail("{code:1}", "unquoted key");
    expect_json_fail("\xff\xfe\xfd", "binary");
    expect_json_fail("{\"remark\":\"\xC3\"}", "invalid UTF-8");
    expect_json_fail("{\"remark\":\"\\ud800\"}", "lone surrogate");
    expect_json_fail("{\"code\":1} {\"code\":2}", "two values");
    expect_json_fail("{\"code\":1} x", "trailing garbage");
}

Test(bad, json_not_an_object)
{
    expect_json_fail("[1,2,3]", "array");
    expect_json_fail("\"str\"", "string");
    expect_json_fail("42", "number");
    expect_json_fail("null", "null");
    expect_json_fail("true", "true");
}

Test(bad, json_bad_field_types)
{
    expect_json_fail("{\"code\":\"abc\"}", "code not a number");
    expect_json_fail("{\"code\":1.5}", "real code");
    expect_json_fail("{\"opaque\":[1]}", "array opaque");
    expect_json_fail("{\"flag\":{}}", "object flag");
    expect_json_fail("{\"version\":true}", "bool version");
}

Test(bad, ext_not_an_object)
{
    expect_json_fail("{\"code\":1,\"extFields\":[]}", "array ext");
    expect_json_fail("{\"code\":1,\"extFields\":\"a=b\"}", "string ext");
    expect_json_fail("{\"code\":1,\"extFields\":5}", "number ext");
    expect_json_fail("{\"code\":1,\"extFields\":true}", "bool ext");
    /* with an ext before the failure: no leak of decoded parts */
    expect_json_fail("{\"code\":1,\"remark\":\"r\",\"extFields\":[\"a\"]}", "remark then bad ext");
}

Test(bad, unknown_serialize_type)
{
    static const uint8_t types[] = {2, 3, 0x7F, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof(types); i++) {
        const char *json = "{\"code\":1}";
        rmq_buf_t b;
        frame_build(&b, types[i], json, strlen(json), NULL, 0);
        char what[64];
        snprintf(what, sizeof(what), "type %u", types[i]);
        expect_fail(b.data + 4, b.len - 4, RMQ_ERR__UNSUPPORTED, what);
        rmq_buf_free(&b);
    }
}

/* ROCKETMQ header builder. */
static void rmq_hdr(rmq_buf_t *h, uint32_t remark_len, const char *remark, size_t remark_bytes)
{
    rmq_buf_init(h);
    rmq_buf_put_u16(h, 310);
    rmq_buf_put_u8(h, 0);
    rmq_buf_put_u16(h, 409);
    rmq_buf_put_u32(h, 7);
    rmq_buf_put_u32(h, 0);
    rmq_buf_put_u32(h, remark_len);
    rmq_buf_put(h, remark, remark_bytes);
}

static void expect_rmq_fail(const rmq_buf_t *h, const char *what)
{
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_ROCKETMQ, h->data, h->len, "body", 4);
    expect_fail(b.data + 4, b.len - 4, RMQ_ERR__CORRUPT, what);
    rmq_buf_free(&b);
}

Test(bad, rocketmq_short_fixed_part)
{
    rmq_buf_t h;
    rmq_hdr(&h, 0, NULL, 0);
    rmq_buf_put_u32(&h, 0); /* extLen */
    /* every prefix of a valid 21-byte header is too short */
    for (size_t n = 0; n < h.len; n++) {
        rmq_buf_t p;
        rmq_buf_init(&p);
        rmq_buf_put(&p, h.data, n);
        char what[64];
        snprintf(what, sizeof(what), "%zu of 21 bytes", n);
        expect_rmq_fail(&p, what);
        rmq_buf_free(&p);
    }
    /* and the full one decodes */
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_ROCKETMQ, h.data, h.len, NULL, 0);
    rmq_cmd_t c;
    char err[128];
    cr_expect_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_OK);
    cr_expect_eq(c.code, 310);
    cr_expect_eq(c.version, 409);
    rmq_cmd_deinit(&c);
    rmq_buf_free(&b);
    rmq_buf_free(&h);
}

Test(bad, rocketmq_remark_past_end)
{
    rmq_buf_t h;
    rmq_hdr(&h, 10, "short", 5);
    expect_rmq_fail(&h, "remark 10 > 5 available");
    rmq_buf_free(&h);
    rmq_hdr(&h, 0xFFFFFFFF, "x", 1);
    expect_rmq_fail(&h, "remark length -1");
    rmq_buf_free(&h);
    rmq_hdr(&h, 0x80000000, "x", 1);
    expect_rmq_fail(&h, "remark length INT_MIN");
    rmq_buf_free(&h);
    /* remark exactly fills the header, then no room for extLen */
    rmq_hdr(&h, 5, "exact", 5);
    expect_rmq_fail(&h, "no extLen after remark");
    rmq_buf_free(&h);
}

Test(bad, rocketmq_ext_past_end)
{
    rmq_buf_t h;
    rmq_hdr(&h, 2, "ok", 2);
    rmq_buf_put_u32(&h, 100);
    rmq_buf_put_u16(&h, 1);
    rmq_buf_put(&h, "k", 1);
    expect_rmq_fail(&h, "extLen 100 > available");
    rmq_buf_free(&h);
    rmq_hdr(&h, 2, "ok", 2);
    rmq_buf_put_u32(&h, 0xFFFFFFF0);
    expect_rmq_fail(&h, "huge extLen");
    rmq_buf_free(&h);
}

Test(bad, rocketmq_truncated_ext_entry)
{
    /* a good entry followed by a truncated one, cut at every byte */
    rmq_buf_t ext;
    rmq_buf_init(&ext);
    rmq_buf_put_u16(&ext, 5);
    rmq_buf_put(&ext, "topic", 5);
    rmq_buf_put_u32(&ext, 1);
    rmq_buf_put(&ext, "T", 1);
    size_t good = ext.len;
    rmq_buf_put_u16(&ext, 3);
    rmq_buf_put(&ext, "key", 3);
    rmq_buf_put_u32(&ext, 5);
    rmq_buf_put(&ext, "value", 5);
    for (size_t cut = good + 1; cut < ext.len; cut++) {
        rmq_buf_t h;
        rmq_hdr(&h, 1, "r", 1);
        rmq_buf_put_u32(&h, (uint32_t)cut);
        rmq_buf_put(&h, ext.data, cut);
        char what[64];
        snprintf(what, sizeof(what), "ext cut at %zu of %zu", cut, ext.len);
        expect_rmq_fail(&h, what);
        rmq_buf_free(&h);
    }
    /* key length says more than there is */
    rmq_buf_t h;
    rmq_hdr(&h, 0, NULL, 0);
    rmq_buf_put_u32(&h, 4);
    rmq_buf_put_u16(&h, 0xFFFF);
    rmq_buf_put(&h, "ab", 2);
    expect_rmq_fail(&h, "key length 65535");
    rmq_buf_free(&h);
    /* value length says more than there is */
    rmq_hdr(&h, 0, NULL, 0);
    rmq_buf_put_u32(&h, 10);
    rmq_buf_put_u16(&h, 1);
    rmq_buf_put(&h, "k", 1);
    rmq_buf_put_u32(&h, 0xFFFFFFFF);
    rmq_buf_put(&h, "vv", 2);
    expect_rmq_fail(&h, "value length -1");
    rmq_buf_free(&h);
    /* the full map decodes */
    rmq_hdr(&h, 1, "r", 1);
    rmq_buf_put_u32(&h, (uint32_t)ext.len);
    rmq_buf_put(&h, ext.data, ext.len);
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_ROCKETMQ, h.data, h.len, NULL, 0);
    rmq_cmd_t c;
    char err[128];
    cr_assert_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_str_eq(rmq_cmd_ext(&c, "topic"), "T");
    cr_expect_str_eq(rmq_cmd_ext(&c, "key"), "value");
    cr_expect_str_eq(c.remark, "r");
    rmq_cmd_deinit(&c);
    rmq_buf_free(&b);
    rmq_buf_free(&h);
    rmq_buf_free(&ext);
}

/* Embedded NULs cannot be kept in C strings; what decodes must re-encode to
 * the same command (strings are cut at the NUL, empty ones are absent). */
Test(bad, rocketmq_nul_bytes_in_strings)
{
    rmq_buf_t h;
    rmq_hdr(&h, 3, "\0ab", 3);
    rmq_buf_t ext;
    rmq_buf_init(&ext);
    rmq_buf_put_u16(&ext, 2);
    rmq_buf_put(&ext, "\0k", 2);
    rmq_buf_put_u32(&ext, 1);
    rmq_buf_put(&ext, "v", 1);
    rmq_buf_put_u16(&ext, 1);
    rmq_buf_put(&ext, "a", 1);
    rmq_buf_put_u32(&ext, 2);
    rmq_buf_put(&ext, "\0v", 2);
    rmq_buf_put_u16(&ext, 2);
    rmq_buf_put(&ext, "b\0", 2);
    rmq_buf_put_u32(&ext, 3);
    rmq_buf_put(&ext, "x\0y", 3);
    rmq_buf_put_u32(&h, (uint32_t)ext.len);
    rmq_buf_put(&h, ext.data, ext.len);
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_ROCKETMQ, h.data, h.len, NULL, 0);
    rmq_cmd_t c, d;
    char err[128];
    cr_assert_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_null(c.remark);
    cr_expect_eq(c.ext_n, 1);
    cr_expect_str_eq(rmq_cmd_ext(&c, "b"), "x");
    cmd_roundtrip(&c, &d, "NUL bytes");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    rmq_buf_free(&b);
    rmq_buf_free(&ext);
    rmq_buf_free(&h);
}

/* A map whose entries are all skipped is "no extFields" again. */
Test(bad, rocketmq_ext_all_entries_empty)
{
    rmq_buf_t h;
    rmq_hdr(&h, 0, NULL, 0);
    rmq_buf_put_u32(&h, 6);
    rmq_buf_put_u16(&h, 0);
    rmq_buf_put_u32(&h, 0);
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_ROCKETMQ, h.data, h.len, NULL, 0);
    rmq_cmd_t c, d;
    char err[128];
    cr_assert_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_eq(c.ext_n, 0);
    cmd_roundtrip(&c, &d, "all-empty ext");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    rmq_buf_free(&b);
    rmq_buf_free(&h);
}

/* Decoding into a command that was used before must not leak: callers
 * deinit first; decode itself re-initialises. Failure after success. */
Test(bad, reuse_after_failure)
{
    rmq_cmd_t c;
    char err[128];
    rmq_buf_t b;
    const char *ok = "{\"code\":1,\"remark\":\"r\",\"extFields\":{\"a\":\"b\"}}";
    frame_build(&b, RMQ_SERIALIZE_JSON, ok, strlen(ok), "bb", 2);
    cr_assert_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_OK);
    rmq_cmd_deinit(&c);
    rmq_buf_free(&b);
    const char *bad = "{\"code\":1,\"remark\":\"r\",\"extFields\":{\"a\":\"b\"},\"flag\":\"x\"}";
    frame_build(&b, RMQ_SERIALIZE_JSON, bad, strlen(bad), "bb", 2);
    cr_expect_eq(frame_decode(&c, &b, err, sizeof(err)), RMQ_ERR__CORRUPT);
    cr_expect_null(c.remark);
    cr_expect_null(c.ext);
    rmq_buf_free(&b);
}
