/* rmq_hdr_json.c - single-pass JSON RemotingCommand header decoder.
 *
 * Pure code over a byte range: any thread, no allocation except the strings
 * it hands to the command. Must survive any input (fuzzed through
 * rmq_cmd_decode). Values of extFields that are numbers or booleans become
 * their JavaScript String() text, null means absent, nested objects/arrays
 * keep their JSON text. */
#include "rmq_hdr_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_json.h"

typedef struct {
    const uint8_t *start;
    const uint8_t *p;
    const uint8_t *end;
    char *err;
    size_t es;
    int depth;
} ps_t;

static rmq_err_t fail(ps_t *s, const char *what)
{
    if (s->err && s->es)
        snprintf(s->err, s->es, "bad JSON header at byte %zu: %s", (size_t)(s->p - s->start), what);
    return RMQ_ERR__CORRUPT;
}

static void ws(ps_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(ps_t *s, unsigned *out)
{
    if (s->end - s->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(s->p[i]);
        if (h < 0)
            return false;
        v = v * 16 + (unsigned)h;
    }
    s->p += 4;
    *out = v;
    return true;
}

/* Parse a string at s->p (which points at the opening quote) into b
 * (NUL-terminated, not counted). */
static rmq_err_t parse_string(ps_t *s, rmq_buf_t *b)
{
    b->len = 0;
    s->p++; /* opening quote */
    for (;;) {
        const uint8_t *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && *s->p >= 0x20) {
            if (*s->p < 0x80) {
                s->p++;
                continue;
            }
            uint32_t cp;
            size_t l = rmq_utf8_decode(s->p, (size_t)(s->end - s->p), &cp);
            if (!l)
                return fail(s, "invalid UTF-8 in string");
            s->p += l;
        }
        rmq_buf_put(b, run, (size_t)(s->p - run));
        if (s->p >= s->end)
            return fail(s, "unterminated string");
        uint8_t c = *s->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(s, "control character in string");
        if (s->p >= s->end)
            return fail(s, "unterminated escape");
        c = *s->p++;
        switch (c) {
        case '"': rmq_buf_putc(b, '"'); break;
        case '\\': rmq_buf_putc(b, '\\'); break;
        case '/': rmq_buf_putc(b, '/'); break;
        case 'b': rmq_buf_putc(b, '\b'); break;
        case 'f': rmq_buf_putc(b, '\f'); break;
        case 'n': rmq_buf_putc(b, '\n'); break;
        case 'r': rmq_buf_putc(b, '\r'); break;
        case 't': rmq_buf_putc(b, '\t'); break;
        case 'u': {
            unsigned cp;
            if (!read_hex4(s, &cp))
                return fail(s, "bad \\u escape");
            if (cp >= 0xD800 && cp < 0xDC00) {
                unsigned lo;
                if (s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u') {
                    s->p += 2;
                    if (!read_hex4(s, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return fail(s, "bad surrogate pair");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else {
                    return fail(s, "lone high surrogate");
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(s, "lone low surrogate");
            }
            rmq_buf_put_utf8(b, cp);
            break;
        }
        default:
            return fail(s, "unknown escape");
        }
    }
    rmq_buf_cstr(b);
    return RMQ_OK;
}

/* Scan a JSON number; returns its extent and whether it is an integer. */
static rmq_err_t scan_number(ps_t *s, const uint8_t **start, size_t *len, bool *integer)
{
    const uint8_t *p = s->p;
    *start = p;
    *integer = true;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end || *p < '0' || *p > '9')
        return fail(s, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    if (p < s->end && *p == '.') {
        *integer = false;
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return fail(s, "bad fraction");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        *integer = false;
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return fail(s, "bad exponent");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    *len = (size_t)(p - *start);
    s->p = p;
    return RMQ_OK;
}

static bool literal(ps_t *s, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Object walking shared by the header, extFields and skipped values:
 * obj_open consumes '{' (done = true for an empty object), obj_key reads
 * `"key" :`, obj_next consumes ',' (more) or '}' (done). */
static rmq_err_t obj_open(ps_t *s, bool *done, const char *what)
{
    ws(s);
    if (s->p >= s->end || *s->p != '{')
        return fail(s, what);
    s->p++;
    ws(s);
    *done = s->p < s->end && *s->p == '}';
    if (*done)
        s->p++;
    return RMQ_OK;
}

static rmq_err_t obj_key(ps_t *s, rmq_buf_t *key)
{
    ws(s);
    if (s->p >= s->end || *s->p != '"')
        return fail(s, "key expected");
    rmq_err_t r = parse_string(s, key);
    if (r)
        return r;
    ws(s);
    if (s->p >= s->end || *s->p != ':')
        return fail(s, "':' expected");
    s->p++;
    return RMQ_OK;
}

static rmq_err_t obj_next(ps_t *s, bool *done)
{
    ws(s);
    if (s->p < s->end && (*s->p == ',' || *s->p == '}')) {
        *done = *s->p == '}';
        s->p++;
        return RMQ_OK;
    }
    return fail(s, "',' or '}' expected");
}

/* Skip any value (for unknown keys and nested extFields values). */
static rmq_err_t skip_value(ps_t *s, rmq_buf_t *tmp)
{
    ws(s);
    if (s->p >= s->end)
        return fail(s, "value expected");
    uint8_t c = *s->p;
    if (c == '"')
        return parse_string(s, tmp);
    if (c == '{' || c == '[') {
        if (++s->depth > 64)
            return fail(s, "nested too deeply");
        bool done;
        rmq_err_t r;
        if (c == '{') {
            r = obj_open(s, &done, "'{' expected");
            while (!r && !done) {
                r = obj_key(s, tmp);
                if (!r)
                    r = skip_value(s, tmp);
                if (!r)
                    r = obj_next(s, &done);
            }
        } else {
            s->p++;
            ws(s);
            done = s->p < s->end && *s->p == ']';
            r = RMQ_OK;
            if (done)
                s->p++;
            while (!r && !done) {
                r = skip_value(s, tmp);
                ws(s);
                if (!r && s->p < s->end && (*s->p == ',' || *s->p == ']')) {
                    done = *s->p == ']';
                    s->p++;
                } else if (!r) {
                    r = fail(s, "',' or ']' expected");
                }
            }
        }
        s->depth--;
        return r;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        const uint8_t *st;
        size_t len;
        bool integer;
        return scan_number(s, &st, &len, &integer);
    }
    if (literal(s, "true") || literal(s, "false") || literal(s, "null"))
        return RMQ_OK;
    return fail(s, "unexpected character");
}

/* JS String(number) for a double (Number.prototype.toString, ECMA-262
 * 7.1.12.1): the shortest digits that round-trip, plain notation for
 * 1e-7 < |d| < 1e21, otherwise d[.ddd]e+-x with no exponent padding; -0 is
 * "0". ali-ons sends JS numbers and signs their String() text (ACL). */
static void real_text(double d, char *out, size_t n)
{
    if (isnan(d) || isinf(d)) {
        snprintf(out, n, "%s", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        snprintf(out, n, "0");
        return;
    }
    char e[40];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, d);
        if (strtod(e, NULL) == d)
            break;
    }
    /* e = [-]D[.DDD]e(+|-)XX: collect the digits and the decimal exponent */
    char digits[24];
    int k = 0;
    const char *p = e;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && k < (int)sizeof(digits) - 1)
            digits[k++] = *p;
    digits[k] = '\0';
    int x = *p == 'e' ? atoi(p + 1) : 0;
    int pt = x + 1; /* position of the decimal point relative to the digits */
    char t[64];
    size_t o = 0;
    if (neg)
        t[o++] = '-';
    if (k <= pt && pt <= 21) { /* integer: digits then zeros */
        for (int i = 0; i < pt; i++)
            t[o++] = i < k ? digits[i] : '0';
    } else if (0 < pt && pt <= 21) { /* ddd.ddd */
        for (int i = 0; i < k; i++) {
            if (i == pt)
                t[o++] = '.';
            t[o++] = digits[i];
        }
    } else if (-6 < pt && pt <= 0) { /* 0.000ddd */
        t[o++] = '0';
        t[o++] = '.';
        for (int i = 0; i < -pt; i++)
            t[o++] = '0';
        for (int i = 0; i < k; i++)
            t[o++] = digits[i];
    } else { /* d.ddde+x */
        t[o++] = digits[0];
        if (k > 1)
            t[o++] = '.';
        for (int i = 1; i < k; i++)
            t[o++] = digits[i];
        o += (size_t)snprintf(t + o, sizeof(t) - o, "e%c%d", pt > 0 ? '+' : '-', abs(pt - 1));
    }
    t[o] = '\0';
    snprintf(out, n, "%s", t);
}

/* Integer field of the command (code, version, opaque, flag). */
static rmq_err_t int_field(ps_t *s, int32_t *out, rmq_buf_t *tmp)
{
    ws(s);
    if (s->p >= s->end)
        return fail(s, "value expected");
    if (literal(s, "null"))
        return RMQ_OK;
    if (*s->p == '"') { /* lenient: "310" */
        rmq_err_t r = parse_string(s, tmp);
        if (r)
            return r;
        char *end;
        long long v = strtoll((char *)tmp->data, &end, 10);
        if (!tmp->len || *end)
            return fail(s, "non-integer code/version/opaque/flag");
        *out = (int32_t)v;
        return RMQ_OK;
    }
    const uint8_t *st;
    size_t len;
    bool integer;
    rmq_err_t r = scan_number(s, &st, &len, &integer);
    if (r)
        return r;
    if (!integer || len > 20)
        return fail(s, "non-integer code/version/opaque/flag");
    char t[24];
    memcpy(t, st, len);
    t[len] = '\0';
    errno = 0;
    long long v = strtoll(t, NULL, 10);
    if (errno)
        return fail(s, "integer out of range");
    *out = (int32_t)v;
    return RMQ_OK;
}

static rmq_err_t parse_ext(ps_t *s, rmq_cmd_t *c, rmq_buf_t *key, rmq_buf_t *val)
{
    ws(s);
    if (literal(s, "null"))
        return RMQ_OK;
    bool done;
    rmq_err_t r = obj_open(s, &done, "extFields is not an object");
    if (r)
        return r;
    c->has_ext = true;
    while (!done) {
        r = obj_key(s, key);
        if (r)
            return r;
        ws(s);
        if (s->p >= s->end)
            return fail(s, "value expected");
        uint8_t ch = *s->p;
        if (ch == '"') {
            r = parse_string(s, val);
            if (r)
                return r;
            rmq_cmd_set_ext(c, (char *)key->data, (char *)val->data);
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
            const uint8_t *st;
            size_t len;
            bool integer;
            r = scan_number(s, &st, &len, &integer);
            if (r)
                return r;
            char t[64];
            if (len >= sizeof(t))
                return fail(s, "number too long");
            memcpy(t, st, len);
            t[len] = '\0';
            char text[64];
            errno = 0;
            long long iv = integer ? strtoll(t, NULL, 10) : 0;
            if (integer && !errno)
                snprintf(text, sizeof(text), "%lld", iv);
            else
                real_text(strtod(t, NULL), text, sizeof(text));
            rmq_cmd_set_ext(c, (char *)key->data, text);
        } else if (literal(s, "true")) {
            rmq_cmd_set_ext(c, (char *)key->data, "true");
        } else if (literal(s, "false")) {
            rmq_cmd_set_ext(c, (char *)key->data, "false");
        } else if (literal(s, "null")) {
            /* fastjson: null means absent */
        } else if (ch == '{' || ch == '[') {
            const uint8_t *st = s->p;
            r = skip_value(s, val);
            if (r)
                return r;
            char *raw = rmq_strndup((const char *)st, (size_t)(s->p - st));
            rmq_cmd_set_ext(c, (char *)key->data, raw);
            free(raw);
        } else {
            return fail(s, "unexpected character in extFields");
        }
        r = obj_next(s, &done);
        if (r)
            return r;
    }
    return RMQ_OK;
}

static rmq_err_t parse_header(ps_t *s, rmq_cmd_t *c, rmq_buf_t *key, rmq_buf_t *val)
{
    bool done;
    rmq_err_t r = obj_open(s, &done, "JSON header is not an object");
    while (!r && !done) {
        r = obj_key(s, key);
        if (r)
            return r;
        const char *k = (const char *)key->data;
        if (!strcmp(k, "code"))
            r = int_field(s, &c->code, val);
        else if (!strcmp(k, "version"))
            r = int_field(s, &c->version, val);
        else if (!strcmp(k, "opaque"))
            r = int_field(s, &c->opaque, val);
        else if (!strcmp(k, "flag"))
            r = int_field(s, &c->flag, val);
        else if (!strcmp(k, "extFields"))
            r = parse_ext(s, c, key, val);
        else if (!strcmp(k, "language") || !strcmp(k, "remark")) {
            bool is_lang = k[0] == 'l';
            ws(s);
            if (s->p < s->end && *s->p == '"') {
                r = parse_string(s, val);
                if (!r && is_lang)
                    c->language = rmq_lang_parse((char *)val->data);
                else if (!r) {
                    free(c->remark);
                    c->remark = rmq_strndup((char *)val->data, val->len);
                }
            } else if (is_lang && s->p < s->end && (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))) {
                /* an ordinal: known ones are taken, unknown ones are OTHER
                 * (as unknown names); a non-integer keeps the default */
                const uint8_t *st;
                size_t len;
                bool integer;
                r = scan_number(s, &st, &len, &integer);
                if (!r && integer) {
                    char num[24] = "-1"; /* the text is not NUL-terminated: copy it */
                    if (len < sizeof(num)) {
                        memcpy(num, st, len);
                        num[len] = '\0';
                    }
                    long long l = strtoll(num, NULL, 10);
                    c->language = l >= 0 && l <= RMQ_LANG_NODE_JS ? (int32_t)l : RMQ_LANG_OTHER;
                }
            } else {
                r = skip_value(s, val);
            }
        } else
            r = skip_value(s, val);
        if (!r)
            r = obj_next(s, &done);
    }
    if (r)
        return r;
    ws(s);
    if (s->p != s->end)
        return fail(s, "garbage after the header object");
    return RMQ_OK;
}

rmq_err_t rmq_hdr_json_decode(rmq_cmd_t *c, const uint8_t *h, size_t n, char *errstr, size_t errstr_size)
{
    ps_t s = {h, h, h + n, errstr, errstr_size, 0};
    rmq_buf_t key, val;
    rmq_buf_init(&key);
    rmq_buf_init(&val);
    rmq_buf_reserve(&key, 64);
    rmq_buf_reserve(&val, 256);
    rmq_err_t r = parse_header(&s, c, &key, &val);
    rmq_buf_free(&key);
    rmq_buf_free(&val);
    return r;
}
