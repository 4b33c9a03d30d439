/* rmq_cmd.c - RemotingCommand frame encode/decode, JSON and ROCKETMQ headers.
 *
 * Owns the wire format of docs/protocol.md §1. Pure functions over memory: any
 * thread, no I/O. The decoder must survive any byte string (it is fuzzed). */
#include "rmq_cmd.h"

#include <inttypes.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_hdr_json.h"
#include "rmq_json.h"

static const char *const lang_names[] = {"JAVA",  "CPP",  "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
                                         "OTHER", "HTTP", "GO",     "PHP",    "OMS",    "RUST",   "NODE_JS"};
#define LANG_COUNT ((int)(sizeof(lang_names) / sizeof(lang_names[0])))

const char *rmq_lang_name(int lang)
{
    return lang >= 0 && lang < LANG_COUNT ? lang_names[lang] : "OTHER";
}

int rmq_lang_parse(const char *name)
{
    for (int i = 0; i < LANG_COUNT; i++)
        if (strcmp(lang_names[i], name) == 0)
            return i;
    return RMQ_LANG_OTHER;
}

void rmq_cmd_init(rmq_cmd_t *c)
{
    memset(c, 0, sizeof(*c));
    c->language = RMQ_LANG_JAVA;
    c->version = RMQ_VERSION_CURRENT;
    c->serialize = RMQ_SERIALIZE_JSON;
}

static void ext_clear(rmq_cmd_t *c)
{
    free(c->ext);
    free(c->strs);
    c->ext = NULL;
    c->ext_n = c->ext_cap = 0;
    c->strs = NULL;
    c->strs_len = c->strs_cap = 0;
}

/* Copy n bytes + NUL into the string area (one allocation for every key
 * and value of a command: a decoded header costs two allocations, not two
 * per field). Growing it moves every string: the entries follow. */
static char *strs_put(rmq_cmd_t *c, const char *p, size_t n)
{
    if (c->strs_len + n + 1 > c->strs_cap) {
        ptrdiff_t self = c->strs && p >= c->strs && p < c->strs + c->strs_len ? p - c->strs : -1;
        size_t cap = c->strs_cap ? c->strs_cap : 256;
        while (cap < c->strs_len + n + 1)
            cap *= 2;
        char *old = c->strs;
        c->strs = rmq_realloc(c->strs, cap);
        c->strs_cap = cap;
        if (old && c->strs != old)
            for (size_t i = 0; i < c->ext_n; i++) {
                c->ext[i].key = c->strs + (c->ext[i].key - old);
                c->ext[i].val = c->strs + (c->ext[i].val - old);
            }
        if (self >= 0)
            p = c->strs + self;
    }
    char *d = c->strs + c->strs_len;
    memcpy(d, p, n);
    d[n] = '\0';
    c->strs_len += n + 1;
    return d;
}

void rmq_cmd_deinit(rmq_cmd_t *c)
{
    ext_clear(c);
    free(c->remark);
    free(c->body);
    rmq_cmd_init(c);
}

rmq_cmd_t *rmq_cmd_new(void)
{
    rmq_cmd_t *c = rmq_malloc(sizeof(*c));
    rmq_cmd_init(c);
    return c;
}

void rmq_cmd_destroy(rmq_cmd_t *c)
{
    if (!c)
        return;
    rmq_cmd_deinit(c);
    free(c);
}

void rmq_cmd_init_request(rmq_cmd_t *c, int32_t code)
{
    rmq_cmd_init(c);
    c->code = code;
}

void rmq_cmd_init_response(rmq_cmd_t *resp, const rmq_cmd_t *req, int32_t code, const char *remark)
{
    rmq_cmd_init(resp);
    resp->code = code;
    resp->opaque = req->opaque;
    resp->flag = RMQ_FLAG_RESPONSE;
    resp->serialize = req->serialize;
    if (remark)
        resp->remark = rmq_strdup(remark);
}

const char *rmq_cmd_ext(const rmq_cmd_t *c, const char *key)
{
    for (size_t i = 0; i < c->ext_n; i++)
        if (c->ext[i].key[0] == key[0] && strcmp(c->ext[i].key, key) == 0)
            return c->ext[i].val;
    return NULL;
}

const char *rmq_cmd_ext_from(const rmq_cmd_t *c, const char *key, size_t *hint)
{
    size_t n = c->ext_n, at = *hint < n ? *hint : 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = at + k < n ? at + k : at + k - n;
        if (c->ext[i].key[0] == key[0] && strcmp(c->ext[i].key, key) == 0) {
            *hint = i + 1;
            return c->ext[i].val;
        }
    }
    return NULL;
}

/* Set key (kl bytes, no NUL inside) to val (vl bytes). */
static void ext_put(rmq_cmd_t *c, const char *key, size_t kl, const char *val, size_t vl)
{
    c->has_ext = true;
    for (size_t i = 0; i < c->ext_n; i++)
        if (c->ext[i].key[0] == key[0] && strncmp(c->ext[i].key, key, kl) == 0 && c->ext[i].key[kl] == '\0') {
            c->ext[i].val = strs_put(c, val, vl); /* the old value stays unused in strs */
            return;
        }
    c->ext = rmq_array_grow(c->ext, c->ext_n, &c->ext_cap, 16, sizeof(*c->ext));
    rmq_kv_t *e = &c->ext[c->ext_n];
    e->key = e->val = c->strs; /* valid if strs_put moves the area before this entry is set */
    c->ext_n++;
    char *k = strs_put(c, key, kl);
    e = &c->ext[c->ext_n - 1];
    e->key = e->val = k;
    e->val = strs_put(c, val, vl);
}

void rmq_cmd_set_ext(rmq_cmd_t *c, const char *key, const char *val)
{
    c->has_ext = true;
    if (!val)
        return;
    ext_put(c, key, strlen(key), val, strlen(val));
}

void rmq_cmd_set_ext_i64(rmq_cmd_t *c, const char *key, int64_t val)
{
    char t[24], *e = t + sizeof(t), *d = e; /* decimal text without snprintf (every send has seven) */
    uint64_t u = val < 0 ? 0 - (uint64_t)val : (uint64_t)val;
    do
        *--d = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (val < 0)
        *--d = '-';
    c->has_ext = true;
    ext_put(c, key, strlen(key), d, (size_t)(e - d));
}

void rmq_cmd_set_ext_bool(rmq_cmd_t *c, const char *key, bool val)
{
    rmq_cmd_set_ext(c, key, val ? "true" : "false");
}

void rmq_cmd_set_remark(rmq_cmd_t *c, const char *fmt, ...)
{
    free(c->remark);
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    c->remark = s;
}

void rmq_cmd_set_body(rmq_cmd_t *c, const void *p, size_t n)
{
    free(c->body);
    c->body = NULL;
    c->body_len = 0;
    if (n) {
        c->body = rmq_malloc(n);
        memcpy(c->body, p, n);
        c->body_len = n;
    }
}

void rmq_cmd_take_body(rmq_cmd_t *c, uint8_t *p, size_t n)
{
    free(c->body);
    c->body = n ? p : NULL;
    c->body_len = n;
    if (!n)
        free(p);
}

rmq_err_t rmq_cmd_ext_i64(const rmq_cmd_t *c, const char *key, int64_t *out)
{
    const char *v = rmq_cmd_ext(c, key);
    if (!v)
        return RMQ_ERR__NOENT;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || errno)
        return RMQ_ERR__INVALID_ARG;
    *out = x;
    return RMQ_OK;
}

rmq_err_t rmq_cmd_ext_i32(const rmq_cmd_t *c, const char *key, int32_t *out)
{
    int64_t v;
    rmq_err_t r = rmq_cmd_ext_i64(c, key, &v);
    if (r != RMQ_OK)
        return r;
    if (v < INT32_MIN || v > INT32_MAX)
        return RMQ_ERR__INVALID_ARG;
    *out = (int32_t)v;
    return RMQ_OK;
}

rmq_err_t rmq_cmd_ext_bool(const rmq_cmd_t *c, const char *key, bool *out)
{
    const char *v = rmq_cmd_ext(c, key);
    if (!v)
        return RMQ_ERR__NOENT;
    if (strcmp(v, "true") == 0)
        *out = true;
    else if (strcmp(v, "false") == 0)
        *out = false;
    else
        return RMQ_ERR__INVALID_ARG;
    return RMQ_OK;
}

/* ---------------- decoding ---------------- */

/* A ROCKETMQ string: C strings cannot hold NUL, so cut at the first one; an
 * empty result is null, as a zero-length string is in Java
 * (RocketMQSerializable.readStr). Keeps decode(encode(decode(x))) stable. */
static char *str_or_null(const uint8_t *p, size_t n)
{
    size_t l = strnlen((const char *)p, n);
    return l ? rmq_strndup((const char *)p, l) : NULL;
}

static rmq_err_t decode_rocketmq_header(rmq_cmd_t *c, const uint8_t *h, size_t n, char *errstr, size_t es)
{
    rmq_rd_t r;
    rmq_rd_init(&r, h, n);
    c->code = (int16_t)rmq_rd_u16(&r);
    c->language = rmq_rd_u8(&r);
    c->version = (int16_t)rmq_rd_u16(&r);
    c->opaque = (int32_t)rmq_rd_u32(&r);
    c->flag = (int32_t)rmq_rd_u32(&r);
    uint32_t rl = rmq_rd_u32(&r);
    if (r.err || rl > rmq_rd_left(&r)) {
        snprintf(errstr, es, "ROCKETMQ header: remark length %u exceeds header", rl);
        return RMQ_ERR__CORRUPT;
    }
    if (rl > 0)
        c->remark = str_or_null(rmq_rd_bytes(&r, rl), rl);
    uint32_t el = rmq_rd_u32(&r);
    if (r.err || el > rmq_rd_left(&r)) {
        snprintf(errstr, es, "ROCKETMQ header: extFields length %u exceeds header", el);
        return RMQ_ERR__CORRUPT;
    }
    if (el > 0) { /* has_ext is set by the first kept entry: the wire has no empty map */
        rmq_rd_t e;
        rmq_rd_init(&e, rmq_rd_bytes(&r, el), el);
        while (rmq_rd_left(&e) > 0) {
            uint16_t kl = rmq_rd_u16(&e);
            const uint8_t *k = rmq_rd_bytes(&e, kl);
            uint32_t vl = rmq_rd_u32(&e);
            if (e.err || vl > rmq_rd_left(&e)) {
                snprintf(errstr, es, "ROCKETMQ header: truncated extFields entry");
                return RMQ_ERR__CORRUPT;
            }
            const uint8_t *v = rmq_rd_bytes(&e, vl);
            /* C strings cannot hold NUL: cut at the first one; an empty
             * key or value is null in Java and the entry is skipped */
            size_t ksl = strnlen((const char *)k, kl), vsl = strnlen((const char *)v, vl);
            if (!ksl || !vsl)
                continue;
            ext_put(c, (const char *)k, ksl, (const char *)v, vsl);
        }
    }
    return RMQ_OK;
}

rmq_err_t rmq_cmd_decode(rmq_cmd_t *c, const uint8_t *p, size_t len, char *errstr, size_t errstr_size)
{
    char dummy[8];
    if (!errstr) {
        errstr = dummy;
        errstr_size = sizeof(dummy);
    }
    rmq_cmd_init(c);
    if (len < 4) {
        snprintf(errstr, errstr_size, "frame of %zu bytes is shorter than a header word", len);
        return RMQ_ERR__CORRUPT;
    }
    uint32_t word = rmq_be32(p);
    uint8_t type = (uint8_t)(word >> 24);
    size_t hlen = word & 0xFFFFFF;
    if (hlen > len - 4) {
        snprintf(errstr, errstr_size, "header length %zu larger than frame (%zu)", hlen, len - 4);
        return RMQ_ERR__CORRUPT;
    }
    rmq_err_t r;
    if (type == RMQ_SERIALIZE_JSON)
        r = rmq_hdr_json_decode(c, p + 4, hlen, errstr, errstr_size);
    else if (type == RMQ_SERIALIZE_ROCKETMQ)
        r = decode_rocketmq_header(c, p + 4, hlen, errstr, errstr_size);
    else {
        snprintf(errstr, errstr_size, "unknown serialize type %u", type);
        return RMQ_ERR__UNSUPPORTED;
    }
    if (r != RMQ_OK) {
        rmq_cmd_deinit(c);
        return r;
    }
    c->serialize = type;
    size_t blen = len - 4 - hlen;
    if (blen)
        rmq_cmd_set_body(c, p + 4 + hlen, blen);
    return RMQ_OK;
}

/* ---------------- encoding ---------------- */

static void encode_json_header(const rmq_cmd_t *c, rmq_buf_t *out)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    rmq_jw_kint(&w, "code", c->code);
    if (c->has_ext) {
        rmq_jw_key(&w, "extFields");
        rmq_jw_obj_begin(&w);
        for (size_t i = 0; i < c->ext_n; i++)
            rmq_jw_kstr(&w, c->ext[i].key, c->ext[i].val);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_kint(&w, "flag", c->flag);
    rmq_jw_kstr(&w, "language", rmq_lang_name(c->language));
    rmq_jw_kint(&w, "opaque", c->opaque);
    if (c->remark)
        rmq_jw_kstr(&w, "remark", c->remark);
    rmq_jw_kstr(&w, "serializeTypeCurrentRPC", "JSON");
    rmq_jw_kint(&w, "version", c->version);
    rmq_jw_obj_end(&w);
}

static uint8_t *put16(uint8_t *d, uint16_t v)
{
    d[0] = (uint8_t)(v >> 8);
    d[1] = (uint8_t)v;
    return d + 2;
}

static uint8_t *put32(uint8_t *d, uint32_t v)
{
    d[0] = (uint8_t)(v >> 24);
    d[1] = (uint8_t)(v >> 16);
    d[2] = (uint8_t)(v >> 8);
    d[3] = (uint8_t)v;
    return d + 4;
}

/* RocketMQSerializable.rocketMQProtocolEncode: sized first, written in place. */
static void encode_rocketmq_header(const rmq_cmd_t *c, rmq_buf_t *out)
{
    size_t rl = c->remark ? strlen(c->remark) : 0;
    size_t el = 0;
    for (size_t i = 0; i < c->ext_n; i++)
        el += 2 + strlen(c->ext[i].key) + 4 + strlen(c->ext[i].val);
    size_t total = 2 + 1 + 2 + 4 + 4 + 4 + rl + 4 + el;
    rmq_buf_reserve(out, total);
    uint8_t *d = out->data + out->len;
    d = put16(d, (uint16_t)c->code);
    *d++ = (uint8_t)c->language;
    d = put16(d, (uint16_t)c->version);
    d = put32(d, (uint32_t)c->opaque);
    d = put32(d, (uint32_t)c->flag);
    d = put32(d, (uint32_t)rl);
    memcpy(d, c->remark ? c->remark : "", rl);
    d += rl;
    d = put32(d, (uint32_t)el);
    for (size_t i = 0; i < c->ext_n; i++) {
        size_t kl = strlen(c->ext[i].key), vl = strlen(c->ext[i].val);
        d = put16(d, (uint16_t)kl);
        memcpy(d, c->ext[i].key, kl);
        d += kl;
        d = put32(d, (uint32_t)vl);
        memcpy(d, c->ext[i].val, vl);
        d += vl;
    }
    out->len += total;
}

void rmq_cmd_encode_header(const rmq_cmd_t *c, size_t body_len, rmq_buf_t *out)
{
    size_t start = out->len;
    rmq_buf_reserve(out, 8 + 256);
    out->len += 8; /* length + header word, filled below */
    if (c->serialize == RMQ_SERIALIZE_ROCKETMQ)
        encode_rocketmq_header(c, out);
    else
        encode_json_header(c, out);
    size_t hlen = out->len - start - 8;
    rmq_wbe32(out->data + start, (uint32_t)(4 + hlen + body_len));
    rmq_wbe32(out->data + start + 4, ((uint32_t)c->serialize << 24) | (uint32_t)(hlen & 0xFFFFFF));
}

void rmq_cmd_encode(const rmq_cmd_t *c, rmq_buf_t *out)
{
    rmq_cmd_encode_header(c, c->body_len, out);
    rmq_buf_put(out, c->body, c->body_len);
}
