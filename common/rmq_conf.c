/* rmq_conf.c - properties parser and table-driven settings.
 * Runs on the main thread before services start. */
#include "rmq_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_log.h"

#define FIELD(obj, d) ((char *)(obj) + (d)->offset)

const rmq_conf_def_t *rmq_conf_find(const rmq_conf_def_t *tbl, const char *key)
{
    for (; tbl->name; tbl++)
        if (strcmp(tbl->name, key) == 0)
            return tbl;
    return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") || !strcasecmp(v, "on")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no") || !strcasecmp(v, "off")) {
        *out = false;
        return true;
    }
    return false;
}

static rmq_err_t set_one(const rmq_conf_def_t *d, void *obj, const char *val, char *errstr, size_t n)
{
    if (!val)
        val = "";
    switch (d->type) {
    case RMQ_CONF_STR: {
        if (d->choices && *val) {
            const char *const *c = d->choices;
            for (; *c; c++)
                if (strcmp(*c, val) == 0)
                    break;
            if (!*c) {
                snprintf(errstr, n, "%s: invalid value \"%s\"", d->name, val);
                return RMQ_ERR__INVALID_ARG;
            }
        }
        char **p = (char **)FIELD(obj, d);
        free(*p);
        *p = rmq_strdup(val);
        return RMQ_OK;
    }
    case RMQ_CONF_BOOL: {
        bool b;
        if (!parse_bool(val, &b)) {
            snprintf(errstr, n, "%s: expected true or false, got \"%s\"", d->name, val);
            return RMQ_ERR__INVALID_ARG;
        }
        *(bool *)FIELD(obj, d) = b;
        return RMQ_OK;
    }
    case RMQ_CONF_INT:
    case RMQ_CONF_LONG: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        bool digits = end != val; /* strtoll parsed something ("" and " " did not) */
        while (*end == ' ' || *end == '\t')
            end++;
        if (!digits || *end || errno) {
            snprintf(errstr, n, "%s: expected an integer, got \"%s\"", d->name, val);
            return RMQ_ERR__INVALID_ARG;
        }
        int64_t lo = d->min, hi = d->max;
        if (d->type == RMQ_CONF_INT && lo > hi) {
            lo = INT32_MIN;
            hi = INT32_MAX;
        }
        if (lo <= hi && (v < lo || v > hi)) {
            snprintf(errstr, n, "%s: %lld is outside [%" PRId64 ", %" PRId64 "]", d->name, v, lo, hi);
            return RMQ_ERR__INVALID_ARG;
        }
        if (d->type == RMQ_CONF_INT)
            *(int32_t *)FIELD(obj, d) = (int32_t)v;
        else
            *(int64_t *)FIELD(obj, d) = (int64_t)v;
        return RMQ_OK;
    }
    }
    return RMQ_ERR__INVALID_ARG;
}

void rmq_conf_defaults(const rmq_conf_def_t *tbl, void *obj)
{
    char err[256];
    for (const rmq_conf_def_t *d = tbl; d->name; d++) {
        const char *v = d->def ? d->def : (d->type == RMQ_CONF_STR ? "" : d->type == RMQ_CONF_BOOL ? "false" : "0");
        if (d->type == RMQ_CONF_STR)
            *(char **)FIELD(obj, d) = NULL; /* the struct may be uninitialised: nothing to free */
        if (set_one(d, obj, v, err, sizeof(err)) != RMQ_OK)
            rmq_assert(!"bad default in config table");
    }
}

void rmq_conf_free(const rmq_conf_def_t *tbl, void *obj)
{
    for (const rmq_conf_def_t *d = tbl; d->name; d++)
        if (d->type == RMQ_CONF_STR) {
            char **p = (char **)FIELD(obj, d);
            free(*p);
            *p = NULL;
        }
}

rmq_err_t rmq_conf_set(const rmq_conf_def_t *tbl, void *obj, const char *key, const char *val, char *errstr,
                       size_t errstr_size)
{
    const rmq_conf_def_t *d = rmq_conf_find(tbl, key);
    if (!d) {
        snprintf(errstr, errstr_size, "unknown setting \"%s\"", key);
        return RMQ_ERR__NOENT;
    }
    return set_one(d, obj, val, errstr, errstr_size);
}

struct load_ctx {
    const rmq_conf_def_t *tbl;
    void *obj;
    const char *path;
    const char *what;
    char *errstr;
    size_t errstr_size;
};

static int load_cb(void *opaque, const char *key, const char *value, int line)
{
    struct load_ctx *c = opaque;
    char err[256];
    rmq_err_t r = rmq_conf_set(c->tbl, c->obj, key, value, err, sizeof(err));
    if (r == RMQ_ERR__NOENT) {
        rmq_log(RMQ_LOG_WARN, c->what, "%s:%d: unknown setting \"%s\" ignored", c->path, line, key);
        return 0;
    }
    if (r != RMQ_OK) {
        snprintf(c->errstr, c->errstr_size, "%s:%d: %s", c->path, line, err);
        return 1;
    }
    return 0;
}

rmq_err_t rmq_file_read_all(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? RMQ_ERR__NOENT : RMQ_ERR__IO;
    rmq_buf_t b;
    rmq_buf_init(&b);
    for (;;) {
        rmq_buf_reserve(&b, 65536);
        ssize_t r = read(fd, b.data + b.len, b.cap - b.len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            rmq_buf_free(&b);
            return RMQ_ERR__IO;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
    }
    close(fd);
    rmq_buf_cstr(&b);
    *len = b.len;
    *data = (char *)rmq_buf_detach(&b, NULL);
    return RMQ_OK;
}

rmq_err_t rmq_conf_load_file(const rmq_conf_def_t *tbl, void *obj, const char *path, const char *what,
                             char *errstr, size_t errstr_size)
{
    char *text;
    size_t len;
    rmq_err_t r = rmq_file_read_all(path, &text, &len);
    if (r != RMQ_OK) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return r;
    }
    struct load_ctx c = {tbl, obj, path, what, errstr, errstr_size};
    r = rmq_props_parse(text, len, load_cb, &c);
    free(text);
    return r;
}

static void value_text(const rmq_conf_def_t *d, const void *obj, char *out, size_t n)
{
    const char *f = (const char *)obj + d->offset;
    switch (d->type) {
    case RMQ_CONF_STR: {
        const char *s = *(char *const *)f;
        snprintf(out, n, "%s", s ? s : "");
        break;
    }
    case RMQ_CONF_INT:
        snprintf(out, n, "%" PRId32, *(const int32_t *)f);
        break;
    case RMQ_CONF_LONG:
        snprintf(out, n, "%" PRId64, *(const int64_t *)f);
        break;
    case RMQ_CONF_BOOL:
        snprintf(out, n, "%s", *(const bool *)f ? "true" : "false");
        break;
    }
}

void rmq_conf_print(const rmq_conf_def_t *tbl, const void *obj, FILE *out, bool important_only)
{
    char v[1024];
    for (const rmq_conf_def_t *d = tbl; d->name; d++) {
        if (important_only && !(d->flags & RMQ_CONF_IMPORTANT))
            continue;
        value_text(d, obj, v, sizeof(v));
        fprintf(out, "%s=%s\n", d->name, v);
    }
}

void rmq_conf_print_markdown(const rmq_conf_def_t *tbl, const char *title, FILE *out)
{
    static const char *types[] = {"string", "int", "long", "bool"};
    fprintf(out, "## %s\n\n| key | type | default | range / values | important | description |\n", title);
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (const rmq_conf_def_t *d = tbl; d->name; d++) {
        char range[256] = "";
        if (d->choices) {
            size_t o = 0;
            for (const char *const *c = d->choices; *c && o < sizeof(range); c++)
                o += (size_t)snprintf(range + o, sizeof(range) - o, "%s%s", c == d->choices ? "" : ", ", *c);
        } else if ((d->type == RMQ_CONF_INT || d->type == RMQ_CONF_LONG) && d->min <= d->max) {
            snprintf(range, sizeof(range), "%" PRId64 " .. %" PRId64, d->min, d->max);
        }
        fprintf(out, "| `%s` | %s | `%s` | %s | %s | %s |\n", d->name, types[d->type], d->def ? d->def : "",
                range, (d->flags & RMQ_CONF_IMPORTANT) ? "yes" : "", d->desc ? d->desc : "");
    }
    fprintf(out, "\n");
}

/* ---- properties parser ---- */

/* Up to 4 hex digits after s[*i]; *i ends on the last one consumed. */
static unsigned hex4(const char *s, size_t n, size_t *i)
{
    unsigned cp = 0;
    for (size_t k = 0; k < 4 && *i + 1 < n; k++) {
        char h = s[*i + 1];
        unsigned v;
        if (h >= '0' && h <= '9') v = (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f') v = (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v = (unsigned)(h - 'A' + 10);
        else break;
        cp = cp * 16 + v;
        (*i)++;
    }
    return cp;
}

static void unescape_into(rmq_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c != '\\' || i + 1 >= n) {
            rmq_buf_putc(b, c);
            continue;
        }
        c = s[++i];
        switch (c) {
        case 't': rmq_buf_putc(b, '\t'); break;
        case 'n': rmq_buf_putc(b, '\n'); break;
        case 'r': rmq_buf_putc(b, '\r'); break;
        case 'f': rmq_buf_putc(b, '\f'); break;
        case 'u': {
            unsigned cp = hex4(s, n, &i);
            /* Java strings are UTF-16: \uD83D\uDE00 is one code point */
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                size_t j = i + 2;
                unsigned lo = hex4(s, n, &j);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i = j;
                }
            }
            rmq_buf_put_utf8(b, cp);
            break;
        }
        default: rmq_buf_putc(b, c); break;
        }
    }
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\f'; }

rmq_err_t rmq_props_parse(const char *text, size_t len, rmq_props_cb_t cb, void *opaque)
{
    rmq_buf_t logical, key, val;
    rmq_buf_init(&logical);
    rmq_buf_init(&key);
    rmq_buf_init(&val);
    size_t i = 0;
    int lineno = 0;
    rmq_err_t rc = RMQ_OK;
    while (i < len) {
        /* gather one logical line (with continuations) */
        logical.len = 0;
        int start_line = lineno + 1;
        bool cont;
        do {
            cont = false;
            size_t s = i;
            while (i < len && text[i] != '\n' && text[i] != '\r')
                i++;
            size_t e = i;
            if (i < len && text[i] == '\r')
                i++;
            if (i < len && text[i] == '\n')
                i++;
            lineno++;
            while (s < e && is_ws(text[s]))
                s++;
            if (logical.len == 0 && (s == e || text[s] == '#' || text[s] == '!'))
                break; /* blank line or comment */
            size_t bs = 0;
            while (e > s + bs && text[e - 1 - bs] == '\\')
                bs++;
            if (bs % 2 == 1) {
                rmq_buf_put(&logical, text + s, e - s - 1);
                cont = i < len;
            } else {
                rmq_buf_put(&logical, text + s, e - s);
            }
        } while (cont);
        if (logical.len == 0)
            continue;
        const char *l = (const char *)logical.data;
        size_t n = logical.len;
        size_t k = 0;
        while (k < n) {
            if (l[k] == '\\') {
                k += 2;
                continue;
            }
            if (l[k] == '=' || l[k] == ':' || is_ws(l[k]))
                break;
            k++;
        }
        if (k > n)
            k = n;
        size_t v = k;
        while (v < n && is_ws(l[v]))
            v++;
        if (v < n && (l[v] == '=' || l[v] == ':'))
            v++;
        while (v < n && is_ws(l[v]))
            v++;
        key.len = 0;
        val.len = 0;
        unescape_into(&key, l, k);
        unescape_into(&val, l + v, n - v);
        /* RocketMQ trims values (MixAll.properties2Object). Trim after
         * unescaping: cutting the raw text first turned "v\ " into "v\". */
        while (val.len > 0 && (val.data[val.len - 1] == ' ' || val.data[val.len - 1] == '\t'))
            val.len--;
        if (cb(opaque, rmq_buf_cstr(&key), rmq_buf_cstr(&val), start_line) != 0) {
            rc = RMQ_ERR__INVALID_ARG;
            break;
        }
    }
    rmq_buf_free(&logical);
    rmq_buf_free(&key);
    rmq_buf_free(&val);
    return rc;
}
