/* rmq_hdr_json.c - single-pass JSON RemotingCommand header decoder.
 *
 * Pure code over a byte range: any thread, no allocation except the strings
 * it hands to the command. Must survive any input (fuzzed through
 * rmq_cmd_decode). Values of extFields that are numbers or booleans become
 * the text fastjson gives them in Java's HashMap<String, String> (an integer
 * keeps its literal text, other numbers BigDecimal.toString()), null means
 * absent, nested objects/arrays keep their JSON text. */
#include "rmq_hdr_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
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

static bool read_hex4(ps_t *s, unsigned *out)
{
    if (s->end - s->p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = rmq_hexval(s->p[i]);
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
        case '"':
        case '\\':
        case '/':
            rmq_buf_putc(b, (char)c);
            break;
        case 'b':
            rmq_buf_putc(b, '\b');
            break;
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
        default: {
            int ctrl = rmq_ctrl_escape(c);
            if (ctrl < 0)
                return fail(s, "unknown escape");
            rmq_buf_putc(b, (char)ctrl);
            break;
        }
        }
    }
    rmq_buf_cstr(b);
    return RMQ_OK;
}

/* Scan a JSON number (fastjson-lenient: leading zeros allowed); returns its
 * extent and whether it is an integer. */
static rmq_err_t scan_number(ps_t *s, const uint8_t **start, size_t *len, bool *integer)
{
    const uint8_t *p = s->p;
    *start = p;
    *integer = true;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end || *p < '0' || *p > '9')
        return fail(s, "bad number");
    /* leading zeros ("007") are accepted, as fastjson's lexer does */
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

/* The text fastjson gives a JSON number read into a String (RemotingCommand
 * extFields are HashMap<String, String>): an integer literal keeps its own
 * text (StringCodec: lexer.numberString()), any other number is parsed as a
 * BigDecimal and written with BigDecimal.toString(): unscaled digits and a
 * scale; plain notation when scale >= 0 and the adjusted exponent >= -6,
 * otherwise d[.ddd]E(+|-)x. 1.50 -> "1.50", 5.0 -> "5.0", 1e3 -> "1E+3",
 * 0.5e1 -> "5", 1e-7 -> "1E-7". False when the exponent is out of Java's
 * int range (fastjson then fails the whole header). */
static bool decimal_text(const char *t, rmq_buf_t *out)
{
    const char *p = t;
    bool neg = *p == '-';
    if (neg)
        p++;
    const char *mant = p;
    while (*p && *p != 'e' && *p != 'E')
        p++;
    const char *mant_end = p;
    long long exp = 0;
    if (*p) {
        char *end;
        errno = 0;
        exp = strtoll(p + 1, &end, 10);
        if (errno || *end || exp > INT32_MAX || exp < -INT32_MAX)
            return false;
    }
    /* unscaled digits (leading zeros dropped) and the number of fraction digits */
    rmq_buf_t dg;
    rmq_buf_init(&dg);
    long long frac = 0;
    bool in_frac = false;
    for (const char *q = mant; q < mant_end; q++) {
        if (*q == '.') {
            in_frac = true;
            continue;
        }
        if (in_frac)
            frac++;
        if (dg.len || *q != '0')
            rmq_buf_putc(&dg, *q);
    }
    if (!dg.len)
        rmq_buf_putc(&dg, '0');
    const char *d = (const char *)dg.data;
    long long nd = (long long)dg.len, scale = frac - exp, adjusted = -scale + nd - 1;
    bool ok = scale <= INT32_MAX && scale >= INT32_MIN;
    if (ok && neg && !(nd == 1 && d[0] == '0'))
        rmq_buf_putc(out, '-');
    if (!ok) {
    } else if (scale >= 0 && adjusted >= -6) { /* plain */
        if (scale == 0) {
            rmq_buf_put(out, d, (size_t)nd);
        } else if (nd > scale) {
            rmq_buf_put(out, d, (size_t)(nd - scale));
            rmq_buf_putc(out, '.');
            rmq_buf_put(out, d + nd - scale, (size_t)scale);
        } else {
            rmq_buf_puts(out, "0.");
            for (long long i = 0; i < scale - nd; i++)
                rmq_buf_putc(out, '0');
            rmq_buf_put(out, d, (size_t)nd);
        }
    } else { /* scientific */
        rmq_buf_putc(out, d[0]);
        if (nd > 1) {
            rmq_buf_putc(out, '.');
            rmq_buf_put(out, d + 1, (size_t)(nd - 1));
        }
        rmq_buf_printf(out, "E%s%lld", adjusted > 0 ? "+" : "", adjusted);
    }
    rmq_buf_cstr(out);
    rmq_buf_free(&dg);
    return ok;
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
            char *t = rmq_strndup((const char *)st, len);
            if (integer) { /* fastjson keeps an integer literal's own text */
                rmq_cmd_set_ext(c, (char *)key->data, t);
            } else {
                rmq_buf_t text;
                rmq_buf_init(&text);
                bool ok = decimal_text(t, &text);
                if (ok)
                    rmq_cmd_set_ext(c, (char *)key->data, (const char *)text.data);
                rmq_buf_free(&text);
                if (!ok) {
                    free(t);
                    return fail(s, "number out of range");
                }
            }
            free(t);
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
