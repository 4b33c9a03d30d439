/* rmq_conf.c - properties parser, table-driven settings, and the two ways
 * to give a setting without editing a file: ${VAR} expansion of values and
 * -o key=value overrides. Runs on the main thread before services start. */
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
#include "rmq_covtrace.h"
#include "rmq_file.h"
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

/* "A, B, C" */
static void choices_text(const rmq_conf_def_t *d, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (const char *const *c = d->choices; *c && o < n; c++)
        o += (size_t)snprintf(out + o, n - o, "%s%s", c == d->choices ? "" : ", ", *c);
}

static rmq_err_t set_one(const rmq_conf_def_t *d, void *obj, const char *val, char *errstr, size_t n)
{
    if (!val)
        val = "";
    switch (d->type) {
    case RMQ_CONF_ENUM: {
        for (int i = 0; d->choices[i]; i++)
            if (strcmp(d->choices[i], val) == 0) {
                *(int *)FIELD(obj, d) = i;
                return RMQ_OK;
            }
        char list[256];
        choices_text(d, list, sizeof(list));
        snprintf(errstr, n, "%s: invalid value \"%s\" (one of %s)", d->name, val, list);
        return RMQ_ERR__INVALID_ARG;
    }
    case RMQ_CONF_STR: {
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
        const char *v = d->def ? d->def
                               : (d->type == RMQ_CONF_STR    ? ""
                                  : d->type == RMQ_CONF_BOOL ? "false"
                                                             : "0");
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

void rmq_conf_copy(const rmq_conf_def_t *tbl, void *dst, const void *src, size_t size)
{
    memcpy(dst, src, size);
    for (const rmq_conf_def_t *d = tbl; d->name; d++)
        if (d->type == RMQ_CONF_STR) {
            char **p = (char **)FIELD(dst, d);
            *p = rmq_strdup(*p ? *p : "");
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
    rmq_covtrace_setting(d->name); /* the test suite's coverage report */
    return set_one(d, obj, val, errstr, errstr_size);
}

void rmq_conf_parts_defaults(const rmq_conf_part_t *parts, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++)
        rmq_conf_defaults(parts[i].tbl, (char *)obj + parts[i].offset);
}

void rmq_conf_parts_free(const rmq_conf_part_t *parts, size_t n, void *obj)
{
    for (size_t i = 0; i < n; i++)
        rmq_conf_free(parts[i].tbl, (char *)obj + parts[i].offset);
}

rmq_err_t rmq_conf_parts_set(const rmq_conf_part_t *parts, size_t n, void *obj, const char *key,
                             const char *val, char *errstr, size_t errstr_size)
{
    rmq_err_t r = RMQ_ERR__NOENT;
    for (size_t i = 0; r == RMQ_ERR__NOENT && i < n; i++)
        r = rmq_conf_set(parts[i].tbl, (char *)obj + parts[i].offset, key, val, errstr, errstr_size);
    return r;
}

void rmq_conf_parts_print(const rmq_conf_part_t *parts, size_t n, const void *obj, FILE *out,
                          bool important_only)
{
    for (size_t i = 0; i < n; i++)
        rmq_conf_print(parts[i].tbl, (const char *)obj + parts[i].offset, out, important_only);
}

void rmq_conf_parts_print_markdown(const rmq_conf_part_t *parts, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++)
        rmq_conf_print_markdown(parts[i].tbl, parts[i].title, out);
}

/* What the loader makes of the setter's answer r (err: its reason) for line
 * `line` of path: an unknown key is logged as a warning (facility `what`)
 * and ignored (0); another error goes into errstr as "path:line: err" and
 * stops the load (1). The return value of an rmq_props_cb_t. */
static int load_line(rmq_err_t r, const char *err, const char *what, const char *path, int line,
                     const char *key, char *errstr, size_t errstr_size)
{
    if (r == RMQ_ERR__NOENT) {
        rmq_log(RMQ_LOG_WARN, what, "%s:%d: unknown setting \"%s\" ignored", path, line, key);
        return 0;
    }
    if (r != RMQ_OK) {
        snprintf(errstr, errstr_size, "%s:%d: %s", path, line, err);
        return 1;
    }
    return 0;
}

struct load_ctx {
    rmq_conf_set_fn *set;
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
    rmq_err_t r = c->set(c->obj, key, value, err, sizeof(err));
    return load_line(r, err, c->what, c->path, line, key, c->errstr, c->errstr_size);
}

rmq_err_t rmq_conf_load_with(const char *path, rmq_conf_set_fn *set, void *obj, const char *what,
                             char *errstr, size_t errstr_size)
{
    char *text;
    size_t len;
    rmq_err_t r = rmq_file_read_all(path, &text, &len);
    if (r != RMQ_OK) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return r;
    }
    struct load_ctx c = {set, obj, path, what, errstr, errstr_size};
    r = rmq_props_parse_env(text, len, path, load_cb, &c, errstr, errstr_size);
    free(text);
    return r;
}

/* rmq_conf_load_file's setter: one table over one struct */
struct tbl_obj {
    const rmq_conf_def_t *tbl;
    void *obj;
};

static rmq_err_t tbl_set(void *obj, const char *key, const char *val, char *errstr, size_t errstr_size)
{
    struct tbl_obj *t = obj;
    return rmq_conf_set(t->tbl, t->obj, key, val, errstr, errstr_size);
}

rmq_err_t rmq_conf_load_file(const rmq_conf_def_t *tbl, void *obj, const char *path, const char *what,
                             char *errstr, size_t errstr_size)
{
    struct tbl_obj t = {tbl, obj};
    return rmq_conf_load_with(path, tbl_set, &t, what, errstr, errstr_size);
}

/* snprintf's result */
static int value_text(const rmq_conf_def_t *d, const void *obj, char *out, size_t n)
{
    const char *f = (const char *)obj + d->offset;
    switch (d->type) {
    case RMQ_CONF_STR: {
        const char *s = *(char *const *)f;
        return snprintf(out, n, "%s", s ? s : "");
    }
    case RMQ_CONF_INT:
        return snprintf(out, n, "%" PRId32, *(const int32_t *)f);
    case RMQ_CONF_LONG:
        return snprintf(out, n, "%" PRId64, *(const int64_t *)f);
    case RMQ_CONF_BOOL:
        return snprintf(out, n, "%s", *(const bool *)f ? "true" : "false");
    case RMQ_CONF_ENUM:
        return snprintf(out, n, "%s", d->choices[*(const int *)f]);
    }
    return -1;
}

rmq_err_t rmq_conf_get(const rmq_conf_def_t *tbl, const void *obj, const char *key, char *out, size_t n)
{
    const rmq_conf_def_t *d = rmq_conf_find(tbl, key);
    if (!d)
        return RMQ_ERR__NOENT;
    int w = value_text(d, obj, out, n);
    return w < 0 || (size_t)w >= n ? RMQ_ERR__TOO_LARGE : RMQ_OK;
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
    static const char *types[] = {"string", "int", "long", "bool", "enum"};
    fprintf(out, "## %s\n\n| key | type | default | range / values | important | description |\n", title);
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (const rmq_conf_def_t *d = tbl; d->name; d++) {
        char range[256] = "";
        if (d->type == RMQ_CONF_ENUM) {
            choices_text(d, range, sizeof(range));
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
        int v = rmq_hexval((unsigned char)s[*i + 1]);
        if (v < 0)
            break;
        cp = cp * 16 + (unsigned)v;
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
        default: { /* \t \n \r \f; any other character stands for itself */
            int ctrl = rmq_ctrl_escape(c);
            rmq_buf_putc(b, ctrl < 0 ? c : (char)ctrl);
            break;
        }
        }
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

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

/* ---- ${VAR} expansion and -o overrides ---- */

static bool env_name_ok(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_'))
            return false;
    return true;
}

rmq_err_t rmq_conf_expand_env(const char *in, char **out, char *errstr, size_t errstr_size)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    const char *p = in;
    while (*p) {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') { /* $${ -> literal ${ */
            rmq_buf_puts(&b, "${");
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            rmq_buf_putc(&b, *p++);
            continue;
        }
        const char *name = p + 2, *close = strchr(name, '}');
        if (!close) {
            snprintf(errstr, errstr_size, "unterminated \"${\" in \"%s\"", in);
            rmq_buf_free(&b);
            return RMQ_ERR__INVALID_ARG;
        }
        const char *dflt = NULL, *colon = memchr(name, ':', (size_t)(close - name));
        size_t name_len = (size_t)(close - name);
        if (colon) {
            if (colon[1] != '-') {
                snprintf(errstr, errstr_size, "\"%.*s\": only ${NAME} and ${NAME:-default} are supported",
                         (int)(close - p + 1), p);
                rmq_buf_free(&b);
                return RMQ_ERR__INVALID_ARG;
            }
            name_len = (size_t)(colon - name);
            dflt = colon + 2;
        }
        if (!env_name_ok(name, name_len)) {
            snprintf(errstr, errstr_size, "\"%.*s\": \"%.*s\" is not an environment variable name",
                     (int)(close - p + 1), p, (int)name_len, name);
            rmq_buf_free(&b);
            return RMQ_ERR__INVALID_ARG;
        }
        char var[256];
        if (name_len >= sizeof(var)) {
            snprintf(errstr, errstr_size, "environment variable name too long: \"%.*s...\"", 32, name);
            rmq_buf_free(&b);
            return RMQ_ERR__INVALID_ARG;
        }
        memcpy(var, name, name_len);
        var[name_len] = '\0';
        const char *v = getenv(var);
        if (v && *v)
            rmq_buf_puts(&b, v);
        else if (dflt)
            rmq_buf_put(&b, dflt, (size_t)(close - dflt));
        else {
            snprintf(errstr, errstr_size,
                     "environment variable %s is not set (write ${%s:-default} for a default)", var, var);
            rmq_buf_free(&b);
            return RMQ_ERR__INVALID_ARG;
        }
        p = close + 1;
    }
    rmq_buf_cstr(&b);
    *out = (char *)rmq_buf_detach(&b, NULL);
    return RMQ_OK;
}

struct env_ctx {
    rmq_props_cb_t cb;
    void *opaque;
    const char *path;
    char *errstr;
    size_t errstr_size;
};

static int env_cb(void *opaque, const char *key, const char *value, int line)
{
    struct env_ctx *c = opaque;
    char *v, err[384];
    if (rmq_conf_expand_env(value, &v, err, sizeof(err)) != RMQ_OK) {
        snprintf(c->errstr, c->errstr_size, "%s:%d: %s: %s", c->path, line, key, err);
        return 1;
    }
    int rc = c->cb(c->opaque, key, v, line);
    free(v);
    return rc;
}

rmq_err_t rmq_props_parse_env(const char *text, size_t len, const char *path, rmq_props_cb_t cb, void *opaque,
                              char *errstr, size_t errstr_size)
{
    struct env_ctx c = {cb, opaque, path, errstr, errstr_size};
    return rmq_props_parse(text, len, env_cb, &c);
}

rmq_err_t rmq_conf_split_override(const char *arg, char *key, size_t key_size, const char **val, char *errstr,
                                  size_t errstr_size)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        snprintf(errstr, errstr_size, "-o %s: expected key=value", arg);
        return RMQ_ERR__INVALID_ARG;
    }
    size_t n = (size_t)(eq - arg);
    if (n >= key_size) {
        snprintf(errstr, errstr_size, "-o %.*s...: key too long", 32, arg);
        return RMQ_ERR__INVALID_ARG;
    }
    memcpy(key, arg, n);
    key[n] = '\0';
    *val = eq + 1;
    return RMQ_OK;
}
