/* rmq_json.c - fastjson-compatible JSON writer, lenient reader, Java hash.
 * Any thread; no shared state. */
#include "rmq_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"

void rmq_jw_init(rmq_jw_t *w, rmq_buf_t *b)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
}

void rmq_jw_init_obj(rmq_jw_t *w, rmq_buf_t *b)
{
    rmq_jw_init(w, b);
    rmq_jw_obj_begin(w);
}

static void sep(rmq_jw_t *w)
{
    if (w->need_comma[w->depth])
        rmq_buf_putc(w->b, ',');
    w->need_comma[w->depth] = true;
}

static void open_(rmq_jw_t *w, char c)
{
    sep(w);
    rmq_buf_putc(w->b, c);
    if (w->depth < 31)
        w->depth++;
    w->need_comma[w->depth] = false;
}

static void close_(rmq_jw_t *w, char c)
{
    rmq_buf_putc(w->b, c);
    if (w->depth > 0)
        w->depth--;
    w->need_comma[w->depth] = true;
}

void rmq_jw_obj_begin(rmq_jw_t *w)
{
    open_(w, '{');
}
void rmq_jw_obj_end(rmq_jw_t *w)
{
    close_(w, '}');
}
void rmq_jw_arr_begin(rmq_jw_t *w)
{
    open_(w, '[');
}
void rmq_jw_arr_end(rmq_jw_t *w)
{
    close_(w, ']');
}

void rmq_jw_key(rmq_jw_t *w, const char *key)
{
    sep(w);
    rmq_json_escape(w->b, key, strlen(key), w->ascii_only);
    rmq_buf_putc(w->b, ':');
    w->need_comma[w->depth] = false; /* the value follows without a comma */
}

void rmq_jw_key_int(rmq_jw_t *w, int64_t key, bool quoted)
{
    sep(w);
    if (quoted)
        rmq_buf_putc(w->b, '"');
    rmq_buf_put_dec(w->b, key);
    rmq_buf_puts(w->b, quoted ? "\":" : ":");
    w->need_comma[w->depth] = false;
}

/* After a value inside a container, the next item needs a comma. */
static void after_value(rmq_jw_t *w)
{
    w->need_comma[w->depth] = true;
}

void rmq_jw_strn(rmq_jw_t *w, const char *s, size_t n)
{
    sep(w);
    rmq_json_escape(w->b, s, n, w->ascii_only);
    after_value(w);
}

void rmq_jw_str(rmq_jw_t *w, const char *s)
{
    rmq_jw_strn(w, s, strlen(s));
}

void rmq_jw_int(rmq_jw_t *w, int64_t v)
{
    sep(w);
    rmq_buf_put_dec(w->b, v);
    after_value(w);
}

void rmq_jw_bool(rmq_jw_t *w, bool v)
{
    sep(w);
    rmq_buf_puts(w->b, v ? "true" : "false");
    after_value(w);
}

void rmq_jw_raw(rmq_jw_t *w, const char *json)
{
    sep(w);
    rmq_buf_puts(w->b, json);
    after_value(w);
}

void rmq_jw_kstr(rmq_jw_t *w, const char *key, const char *s)
{
    rmq_jw_key(w, key);
    rmq_jw_str(w, s ? s : "");
}

void rmq_jw_kint(rmq_jw_t *w, const char *key, int64_t v)
{
    rmq_jw_key(w, key);
    rmq_jw_int(w, v);
}

void rmq_jw_kbool(rmq_jw_t *w, const char *key, bool v)
{
    rmq_jw_key(w, key);
    rmq_jw_bool(w, v);
}

/* Decode one UTF-8 sequence; returns length consumed (>=1) and the code point
 * (U+FFFD for an invalid byte, which is consumed alone, as Java's decoder
 * does). */
size_t rmq_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        v = c & 0x07;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are not
     * UTF-8 (strict parsers, jansson included, reject them). */
    if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

/* One sequence, or one invalid byte as U+FFFD (as Java's decoder does). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t l = rmq_utf8_decode(s, n, cp);
    if (l)
        return l;
    *cp = 0xFFFD;
    return 1;
}

/* The two-character escapes, indexed by an ASCII byte; the other control
 * characters get the six-character unicode escape. */
static const char *const short_escape[0x80] = {
    ['"'] = "\\\"", ['\\'] = "\\\\", ['\b'] = "\\b", ['\f'] = "\\f",
    ['\n'] = "\\n", ['\r'] = "\\r",  ['\t'] = "\\t",
};

void rmq_json_escape(rmq_buf_t *b, const char *s, size_t n, bool ascii_only)
{
    static const char hex[] = "0123456789abcdef";
    rmq_buf_reserve(b, n + 2);
    rmq_buf_putc(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            size_t j = i;
            while (j < n && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\' && p[j] < 0x80)
                j++;
            rmq_buf_put(b, p + i, j - i);
            i = j;
            continue;
        }
        if (c >= 0x80) {
            uint32_t cp;
            size_t l = utf8_next(p + i, n - i, &cp);
            if (!ascii_only && cp != 0xFFFD) {
                rmq_buf_put(b, p + i, l);
            } else if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                unsigned hi = 0xD800 + (v >> 10), lo = 0xDC00 + (v & 0x3FF);
                rmq_buf_printf(b, "\\u%04x\\u%04x", hi, lo);
            } else {
                rmq_buf_printf(b, "\\u%04x", (unsigned)cp);
            }
            i += l;
            continue;
        }
        if (short_escape[c]) {
            rmq_buf_puts(b, short_escape[c]);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rmq_buf_put(b, e, 6);
        }
        i++;
    }
    rmq_buf_putc(b, '"');
}

/* Quote bare integer object keys: `{0:"a",-1:"b"}` -> `{"0":"a","-1":"b"}`.
 * Only touches tokens outside strings that follow `{` or `,` and precede `:`. */
static char *rectify_int_keys(const char *t, size_t n, size_t *out_len)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_reserve(&b, n + 16);
    bool in_str = false;
    char prev = 0; /* last non-space structural char outside strings */
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (in_str) {
            rmq_buf_putc(&b, c);
            if (c == '\\' && i + 1 < n) {
                rmq_buf_putc(&b, t[++i]);
            } else if (c == '"') {
                in_str = false;
                prev = '"';
            }
            continue;
        }
        if (c == '"') {
            in_str = true;
            rmq_buf_putc(&b, c);
            continue;
        }
        if ((prev == '{' || prev == ',') && (c == '-' || (c >= '0' && c <= '9'))) {
            size_t j = i + 1;
            while (j < n && t[j] >= '0' && t[j] <= '9')
                j++;
            size_t k = j;
            while (k < n && (t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == '\r'))
                k++;
            if (k < n && t[k] == ':') {
                rmq_buf_putc(&b, '"');
                rmq_buf_put(&b, t + i, j - i);
                rmq_buf_putc(&b, '"');
                i = j - 1;
                prev = 'k';
                continue;
            }
        }
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            prev = c;
        rmq_buf_putc(&b, c);
    }
    return (char *)rmq_buf_detach(&b, out_len);
}

json_t *rmq_json_parse(const char *text, size_t len, char *errstr, size_t errstr_size)
{
    size_t n;
    char *fixed = rectify_int_keys(text, len, &n);
    json_error_t jerr;
    json_t *j = json_loadb(fixed ? fixed : "", n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    free(fixed);
    if (!j && errstr)
        snprintf(errstr, errstr_size, "bad JSON at %d:%d: %s", jerr.line, jerr.column, jerr.text);
    return j;
}

const char *rmq_json_str(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **rmq_json_sorted_keys(json_t *obj, size_t *n)
{
    size_t m = 0;
    const char **keys = rmq_calloc(json_object_size(obj) + 1, sizeof(*keys));
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) keys[m++] = k;
    qsort(keys, m, sizeof(*keys), cmp_key);
    *n = m;
    return keys;
}

bool rmq_json_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        /* Truncated toward zero, as Java's longValue(); a value outside
         * int64_t's range (2^63 is exact in a double) is refused, never cast. */
        double d = json_real_value(v);
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
            return false;
        *out = (int64_t)d;
        return true;
    }
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        long long x = strtoll(s, &end, 10);
        if (*s && !*end) {
            *out = x;
            return true;
        }
    }
    return false;
}

bool rmq_json_bool(const json_t *obj, const char *key, bool *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_boolean(v) && !json_is_string(v))
        return false;
    *out = json_is_string(v) ? strcmp(json_string_value(v), "true") == 0 : json_is_true(v);
    return true;
}

int32_t rmq_java_hash(const char *s, size_t n)
{
    uint32_t h = 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += utf8_next(p + i, n - i, &cp);
        if (cp >= 0x10000) {
            uint32_t v = cp - 0x10000;
            h = 31 * h + (0xD800 + (v >> 10));
            h = 31 * h + (0xDC00 + (v & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}
