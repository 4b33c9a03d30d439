/* cmd_util.h - helpers shared by the test_remoting suites: frame building,
 * encode+decode round trips and a field-by-field command comparison. */
#ifndef TEST_CMD_UTIL_H
#define TEST_CMD_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_buf.h"
#include "rmq_cmd.h"

/* Compare two commands field by field; `what` names the case in messages.
 * Returns true when equal (and records Criterion failures otherwise). */
static inline bool cmd_expect_equal(const rmq_cmd_t *a, const rmq_cmd_t *b, const char *what)
{
    bool ok = true;
#define CMD_EQ(cond, ...)                                                                                    \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            cr_expect(cond, __VA_ARGS__);                                                                    \
            ok = false;                                                                                      \
        }                                                                                                    \
    } while (0)
    CMD_EQ(a->code == b->code, "%s: code %d != %d", what, a->code, b->code);
    CMD_EQ(a->language == b->language, "%s: language %d != %d", what, a->language, b->language);
    CMD_EQ(a->version == b->version, "%s: version %d != %d", what, a->version, b->version);
    CMD_EQ(a->opaque == b->opaque, "%s: opaque %d != %d", what, a->opaque, b->opaque);
    CMD_EQ(a->flag == b->flag, "%s: flag %d != %d", what, a->flag, b->flag);
    CMD_EQ(a->serialize == b->serialize, "%s: serialize %u != %u", what, a->serialize, b->serialize);
    CMD_EQ((a->remark == NULL) == (b->remark == NULL), "%s: remark presence differs (%s / %s)", what,
           a->remark ? a->remark : "(null)", b->remark ? b->remark : "(null)");
    if (a->remark && b->remark)
        CMD_EQ(strcmp(a->remark, b->remark) == 0, "%s: remark \"%s\" != \"%s\"", what, a->remark, b->remark);
    CMD_EQ(a->has_ext == b->has_ext, "%s: has_ext %d != %d", what, a->has_ext, b->has_ext);
    CMD_EQ(a->ext_n == b->ext_n, "%s: ext_n %zu != %zu", what, a->ext_n, b->ext_n);
    for (size_t i = 0; i < a->ext_n && i < b->ext_n; i++) {
        CMD_EQ(strcmp(a->ext[i].key, b->ext[i].key) == 0, "%s: ext[%zu] key \"%s\" != \"%s\"", what, i,
               a->ext[i].key, b->ext[i].key);
        CMD_EQ(strcmp(a->ext[i].val, b->ext[i].val) == 0, "%s: ext[%zu] (%s) value \"%s\" != \"%s\"", what, i,
               a->ext[i].key, a->ext[i].val, b->ext[i].val);
    }
    CMD_EQ(a->body_len == b->body_len, "%s: body_len %zu != %zu", what, a->body_len, b->body_len);
    if (a->body_len == b->body_len && a->body_len)
        CMD_EQ(memcmp(a->body, b->body, a->body_len) == 0, "%s: body bytes differ", what);
    CMD_EQ((a->body == NULL) == (a->body_len == 0), "%s: body pointer/length mismatch", what);
#undef CMD_EQ
    return ok;
}

/* Encode `c` (in c->serialize), check the length prefix, decode it again. */
static inline rmq_err_t cmd_reencode(const rmq_cmd_t *c, rmq_cmd_t *out, rmq_buf_t *wire)
{
    char err[256] = "";
    rmq_buf_init(wire);
    rmq_cmd_encode(c, wire);
    cr_assert_geq(wire->len, 8, "encoded frame too short");
    cr_expect_eq(rmq_be32(wire->data), wire->len - 4, "length prefix %u != %zu", rmq_be32(wire->data),
                 wire->len - 4);
    cr_expect_eq(wire->data[4], c->serialize, "serialize type byte %u != %u", wire->data[4], c->serialize);
    rmq_err_t r = rmq_cmd_decode(out, wire->data + 4, wire->len - 4, err, sizeof(err));
    cr_expect_eq(r, RMQ_OK, "re-decode failed: %s", err);
    return r;
}

/* Full round trip: encode, decode, compare. */
static inline void cmd_roundtrip(const rmq_cmd_t *c, rmq_cmd_t *out, const char *what)
{
    rmq_buf_t wire;
    if (cmd_reencode(c, out, &wire) == RMQ_OK)
        cmd_expect_equal(c, out, what);
    rmq_buf_free(&wire);
}

/* Build a frame (length prefix + header word + header + body) in b. */
static inline void frame_build(rmq_buf_t *b, uint8_t type, const void *hdr, size_t hlen, const void *body,
                               size_t blen)
{
    rmq_buf_init(b);
    rmq_buf_put_u32(b, (uint32_t)(4 + hlen + blen));
    rmq_buf_put_u32(b, ((uint32_t)type << 24) | (uint32_t)hlen);
    rmq_buf_put(b, hdr, hlen);
    rmq_buf_put(b, body, blen);
}

/* Decode a frame built by frame_build (skips the length prefix). */
static inline rmq_err_t frame_decode(rmq_cmd_t *c, const rmq_buf_t *b, char *err, size_t errn)
{
    return rmq_cmd_decode(c, b->data + 4, b->len - 4, err, errn);
}

/* Decode a JSON header string with an optional body. */
static inline rmq_err_t json_frame_decode(rmq_cmd_t *c, const char *json, const char *body, char *err,
                                          size_t errn)
{
    rmq_buf_t b;
    frame_build(&b, RMQ_SERIALIZE_JSON, json, strlen(json), body, body ? strlen(body) : 0);
    rmq_err_t r = frame_decode(c, &b, err, errn);
    rmq_buf_free(&b);
    return r;
}

#endif
