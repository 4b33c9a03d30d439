/* acl_rules.c - plain_acl.yml loading (see acl_rules.h): libyaml events
 * into a small node tree (anchors, aliases and "<<" merge keys as SnakeYAML
 * has them), YAML 1.1 scalar resolution, then RocketMQ's account checks.
 * Thread: the caller's (the ACL watcher thread, or main at start-up). */
#include "acl_rules.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/bn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_conf.h"
#include "rmq_log.h"

#define MAX_FILE_BYTES (16u << 20)
#define MAX_DEPTH 64
#define MAX_NODES 1000000
#define MAX_MERGE_DEPTH 16

/* ---------- node tree ---------- */

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } ykind_t;

typedef struct ynode_s {
    ykind_t kind;
    char *text; /* scalar */
    size_t len;
    bool resolve; /* plain, untagged (or "!"-less plain): YAML 1.1 implicit types apply */
    char *tag;    /* explicit tag, or NULL */
    int line;
    struct ynode_s **items; /* SEQ: items; MAP: key, value, key, value... */
    size_t n, cap;
} ynode_t;

typedef struct {
    char *name;
    ynode_t *node;
} yanchor_t;

typedef struct {
    ynode_t **all; /* every node, for freeing */
    size_t nall, capall;
    yanchor_t *anchors;
    size_t nanchors, capanchors;
    ynode_t *root;
} ydoc_t;

static ynode_t *node_new(ydoc_t *d, ykind_t k, int line)
{
    ynode_t *n = rmq_calloc(1, sizeof(*n));
    n->kind = k;
    n->line = line;
    if (d->nall == d->capall) {
        d->capall = d->capall ? d->capall * 2 : 64;
        d->all = rmq_realloc(d->all, d->capall * sizeof(*d->all));
    }
    d->all[d->nall++] = n;
    return n;
}

static void node_push(ynode_t *parent, ynode_t *child)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->items = rmq_realloc(parent->items, parent->cap * sizeof(*parent->items));
    }
    parent->items[parent->n++] = child;
}

static void anchor_set(ydoc_t *d, const char *name, ynode_t *n)
{
    for (size_t i = 0; i < d->nanchors; i++)
        if (!strcmp(d->anchors[i].name, name)) { /* redefinition: the later one wins */
            d->anchors[i].node = n;
            return;
        }
    d->anchors = rmq_array_grow(d->anchors, d->nanchors, &d->capanchors, 8, sizeof(*d->anchors));
    d->anchors[d->nanchors].name = rmq_strdup(name);
    d->anchors[d->nanchors++].node = n;
}

static ynode_t *anchor_get(ydoc_t *d, const char *name)
{
    for (size_t i = d->nanchors; i-- > 0;)
        if (!strcmp(d->anchors[i].name, name))
            return d->anchors[i].node;
    return NULL;
}

static void doc_free(ydoc_t *d)
{
    for (size_t i = 0; i < d->nall; i++) {
        free(d->all[i]->text);
        free(d->all[i]->tag);
        free(d->all[i]->items);
        free(d->all[i]);
    }
    free(d->all);
    for (size_t i = 0; i < d->nanchors; i++)
        free(d->anchors[i].name);
    free(d->anchors);
    memset(d, 0, sizeof(*d));
}

/* Parse the first (only) document of text into d. */
static rmq_err_t doc_parse(ydoc_t *d, const char *text, size_t len, const char *name, char *errstr, size_t es)
{
    yaml_parser_t p;
    yaml_event_t ev;
    memset(d, 0, sizeof(*d));
    if (!yaml_parser_initialize(&p)) {
        snprintf(errstr, es, "%s: cannot initialise the YAML parser", name);
        return RMQ_ERR__NOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    ynode_t *stack[MAX_DEPTH];
    int depth = 0, docs = 0;
    rmq_err_t rc = RMQ_OK;
    bool done = false;
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            snprintf(errstr, es, "%s:%zu:%zu: YAML error: %s%s%s", name, p.problem_mark.line + 1,
                     p.problem_mark.column + 1, p.problem ? p.problem : "syntax error", p.context ? " " : "",
                     p.context ? p.context : "");
            rc = RMQ_ERR__INVALID_ARG;
            break;
        }
        int line = (int)ev.start_mark.line + 1;
        ynode_t *n = NULL;
        const char *anchor = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                snprintf(errstr, es, "%s:%d: more than one YAML document", name, line);
                rc = RMQ_ERR__INVALID_ARG;
                done = true;
            }
            break;
        case YAML_SCALAR_EVENT:
            n = node_new(d, YN_SCALAR, line);
            n->text = rmq_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
            n->len = ev.data.scalar.length;
            if (ev.data.scalar.tag && strcmp((const char *)ev.data.scalar.tag, "!") != 0)
                n->tag = rmq_strdup((const char *)ev.data.scalar.tag);
            n->resolve =
                !n->tag && ev.data.scalar.plain_implicit && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            anchor = (const char *)ev.data.scalar.anchor;
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            n = node_new(d, ev.type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP, line);
            anchor = (const char *)(ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
                                                                         : ev.data.mapping_start.anchor);
            break;
        case YAML_ALIAS_EVENT:
            n = anchor_get(d, (const char *)ev.data.alias.anchor);
            if (!n) {
                snprintf(errstr, es, "%s:%d: unknown alias *%s", name, line, ev.data.alias.anchor);
                rc = RMQ_ERR__INVALID_ARG;
                done = true;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        if (n && rc == RMQ_OK) {
            if (anchor)
                anchor_set(d, anchor, n);
            if (depth > 0)
                node_push(stack[depth - 1], n);
            else if (!d->root)
                d->root = n;
            if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
                if (depth >= MAX_DEPTH) {
                    snprintf(errstr, es, "%s:%d: nested deeper than %d levels", name, line, MAX_DEPTH);
                    rc = RMQ_ERR__INVALID_ARG;
                    done = true;
                } else {
                    stack[depth++] = n;
                }
            }
            if (d->nall > MAX_NODES) {
                snprintf(errstr, es, "%s: more than %d YAML nodes", name, MAX_NODES);
                rc = RMQ_ERR__INVALID_ARG;
                done = true;
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    if (rc != RMQ_OK)
        doc_free(d);
    return rc;
}

/* Mapping lookup: the last explicit key wins; otherwise "<<" merges (a map
 * or a list of maps, earlier ones first), as SnakeYAML flattens them. */
static ynode_t *map_get_depth(const ynode_t *m, const char *key, int depth)
{
    if (!m || m->kind != YN_MAP || depth > MAX_MERGE_DEPTH)
        return NULL;
    for (size_t i = m->n & ~(size_t)1; i >= 2; i -= 2) {
        const ynode_t *k = m->items[i - 2];
        if (k->kind == YN_SCALAR && !strcmp(k->text, key) && !(k->resolve && !strcmp(key, "<<")))
            return m->items[i - 1];
    }
    for (size_t i = 0; i + 1 < m->n; i += 2) {
        const ynode_t *k = m->items[i];
        if (k->kind != YN_SCALAR || !k->resolve || strcmp(k->text, "<<") != 0)
            continue;
        const ynode_t *v = m->items[i + 1];
        if (v->kind == YN_MAP) {
            ynode_t *r = map_get_depth(v, key, depth + 1);
            if (r)
                return r;
        } else if (v->kind == YN_SEQ) {
            for (size_t j = 0; j < v->n; j++) {
                ynode_t *r = map_get_depth(v->items[j], key, depth + 1);
                if (r)
                    return r;
            }
        }
    }
    return NULL;
}

static ynode_t *map_get(const ynode_t *m, const char *key)
{
    return map_get_depth(m, key, 0);
}

/* ---------- YAML 1.1 scalar resolution (SnakeYAML's Resolver) ---------- */

typedef enum { YV_NULL, YV_BOOL, YV_INT, YV_FLOAT, YV_TIMESTAMP, YV_STR } yvtype_t;

static bool is_null_word(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bool_word(const char *s)
{
    static const char *const t[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", NULL};
    static const char *const f[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", NULL};
    for (int i = 0; t[i]; i++)
        if (!strcmp(s, t[i]))
            return 1;
    for (int i = 0; f[i]; i++)
        if (!strcmp(s, f[i]))
            return 0;
    return -1;
}

static bool all_in(const char *s, const char *set, bool need_one)
{
    bool one = false;
    for (; *s; s++) {
        if (!strchr(set, *s))
            return false;
        if (*s != '_')
            one = true;
    }
    return one || !need_one;
}

/* YAML 1.1 int forms: [-+]? then 0b.., 0x.., 0 followed by octal digits,
 * decimal without a leading zero, or sexagesimal a:b:c. */
static bool int_form(const char *s, int *base)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!*p)
        return false;
    if (p[0] == '0' && p[1] == 'b') {
        *base = 2;
        return all_in(p + 2, "01_", true);
    }
    if (p[0] == '0' && p[1] == 'x') {
        *base = 16;
        return all_in(p + 2, "0123456789abcdefABCDEF_", true);
    }
    if (p[0] == '0' && p[1]) {
        *base = 8;
        return all_in(p + 1, "01234567_", true);
    }
    if (!strcmp(p, "0")) {
        *base = 10;
        return true;
    }
    if (p[0] < '1' || p[0] > '9')
        return false;
    const char *colon = strchr(p, ':');
    if (!colon) {
        *base = 10;
        return all_in(p, "0123456789_", true);
    }
    /* sexagesimal: [1-9][0-9_]*(:[0-5]?[0-9])+ */
    *base = 60;
    const char *q = p;
    while (*q && *q != ':') {
        if (!strchr("0123456789_", *q))
            return false;
        q++;
    }
    while (*q == ':') {
        q++;
        const char *st = q;
        while (*q >= '0' && *q <= '9')
            q++;
        size_t l = (size_t)(q - st);
        if (l < 1 || l > 2 || (l == 2 && st[0] > '5'))
            return false;
    }
    return *q == '\0';
}

static bool float_form(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF"))
        return true;
    if (p == s && (!strcmp(p, ".nan") || !strcmp(p, ".NaN") || !strcmp(p, ".NAN")))
        return true;
    /* (\.[0-9]+ | [0-9_]+(\.[0-9_]*)?)([eE][-+]?[0-9]+)?, or sexagesimal with a fraction */
    bool digits = false;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
        digits = true;
    } else {
        while ((*p >= '0' && *p <= '9') || *p == '_' || *p == ':') {
            digits = digits || (*p >= '0' && *p <= '9');
            p++;
        }
        if (!digits)
            return false;
        if (*p == '.') {
            p++;
            while ((*p >= '0' && *p <= '9') || *p == '_')
                p++;
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int ndigits(const char **pp, int max)
{
    int k = 0;
    while (k < max && **pp >= '0' && **pp <= '9') {
        (*pp)++;
        k++;
    }
    return k;
}

/* YAML 1.1 timestamp: YYYY-MM-DD, or YYYY-M-D[Tt or blanks]H:MM:SS[.f][Z|+-H[:MM]] */
static bool timestamp_form(const char *s)
{
    const char *p = s;
    if (ndigits(&p, 4) != 4 || *p++ != '-')
        return false;
    int m = ndigits(&p, 2);
    if (!m || *p++ != '-')
        return false;
    int d = ndigits(&p, 2);
    if (!d)
        return false;
    if (!*p)
        return m == 2 && d == 2;
    if (*p == 'T' || *p == 't')
        p++;
    else if (*p == ' ' || *p == '\t')
        while (*p == ' ' || *p == '\t')
            p++;
    else
        return false;
    if (!ndigits(&p, 2) || *p++ != ':' || ndigits(&p, 2) != 2 || *p++ != ':' || ndigits(&p, 2) != 2)
        return false;
    if (*p == '.') {
        p++;
        ndigits(&p, 1000);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 'Z')
        p++;
    else if (*p == '-' || *p == '+') {
        p++;
        if (!ndigits(&p, 2))
            return false;
        if (*p == ':') {
            p++;
            if (ndigits(&p, 2) != 2)
                return false;
        }
    }
    return *p == '\0';
}

static yvtype_t scalar_type(const ynode_t *n, int *base)
{
    if (n->tag) {
        const char *t = n->tag;
        if (!strcmp(t, "tag:yaml.org,2002:str"))
            return YV_STR;
        if (!strcmp(t, "tag:yaml.org,2002:null"))
            return YV_NULL;
        if (!strcmp(t, "tag:yaml.org,2002:bool"))
            return YV_BOOL;
        if (!strcmp(t, "tag:yaml.org,2002:int"))
            return int_form(n->text, base) ? YV_INT : YV_STR;
        return YV_FLOAT; /* any other tag: refused by the caller */
    }
    if (!n->resolve)
        return YV_STR;
    const char *s = n->text;
    if (is_null_word(s))
        return YV_NULL;
    if (bool_word(s) >= 0)
        return YV_BOOL;
    if (int_form(s, base))
        return YV_INT;
    if (float_form(s))
        return YV_FLOAT;
    if (timestamp_form(s))
        return YV_TIMESTAMP;
    return YV_STR;
}

/* Decimal text of a YAML 1.1 integer (any size: Java picks Integer, Long or
 * BigInteger, whose toString is the plain decimal). */
static char *int_text(const char *s, int base)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (base == 2 || base == 16)
        p += 2;
    else if (base == 8)
        p += 1;
    BIGNUM *v = BN_new(), *part = NULL;
    BN_zero(v);
    if (base == 60) {
        part = BN_new();
        BN_zero(part);
        for (; *p; p++) {
            if (*p == '_')
                continue;
            if (*p == ':') {
                BN_mul_word(v, 60);
                BN_add(v, v, part);
                BN_zero(part);
                continue;
            }
            BN_mul_word(part, 10);
            BN_add_word(part, (BN_ULONG)(*p - '0'));
        }
        BN_mul_word(v, 60);
        BN_add(v, v, part);
        BN_free(part);
    } else {
        for (; *p; p++) {
            if (*p == '_')
                continue;
            int d = *p >= 'a' ? *p - 'a' + 10 : *p >= 'A' ? *p - 'A' + 10 : *p - '0';
            BN_mul_word(v, (BN_ULONG)base);
            BN_add_word(v, (BN_ULONG)d);
        }
    }
    if (neg)
        BN_set_negative(v, 1);
    char *dec = BN_bn2dec(v);
    char *out = rmq_strdup(dec ? dec : "0");
    OPENSSL_free(dec);
    BN_free(v);
    return out;
}

/* ---------- typed reads (fastjson's casts into PlainAccessConfig) ---------- */

typedef struct {
    const char *file;
    char *errstr;
    size_t es;
} ctx_t;

static rmq_err_t bad(ctx_t *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static rmq_err_t bad(ctx_t *c, int line, const char *fmt, ...)
{
    int w = snprintf(c->errstr, c->es, "%s:%d: ", c->file, line);
    if (w >= 0 && (size_t)w < c->es) { /* the message after it, 399 characters at most */
        size_t room = c->es - (size_t)w;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errstr + w, room < 400 ? room : 400, fmt, ap);
        va_end(ap);
    }
    return RMQ_ERR__INVALID_ARG;
}

/* A String field: *out is NULL for null; heap string otherwise. */
static rmq_err_t get_string(ctx_t *c, const ynode_t *n, const char *what, char **out)
{
    *out = NULL;
    if (!n)
        return RMQ_OK;
    if (n->kind != YN_SCALAR)
        return bad(c, n->line, "%s must be a single value", what);
    int base = 10;
    switch (scalar_type(n, &base)) {
    case YV_NULL:
        return RMQ_OK;
    case YV_BOOL: {
        int b = n->tag ? (!strcmp(n->text, "true") || !strcmp(n->text, "yes") || !strcmp(n->text, "on"))
                       : bool_word(n->text);
        *out = rmq_strdup(b == 1 ? "true" : "false");
        return RMQ_OK;
    }
    case YV_INT:
        *out = int_text(n->text, base);
        return RMQ_OK;
    case YV_FLOAT:
    case YV_TIMESTAMP:
        return bad(c, n->line, "%s \"%s\" reads as a %s in YAML: quote it", what, n->text,
                   n->tag ? "value of an unsupported tag" : "number or date");
    case YV_STR:
        *out = rmq_strdup(n->text);
        return RMQ_OK;
    }
    return RMQ_OK;
}

/* fastjson castToBoolean for `admin` (absent/null = false). */
static rmq_err_t get_bool(ctx_t *c, const ynode_t *n, const char *what, bool *out)
{
    *out = false;
    if (!n)
        return RMQ_OK;
    if (n->kind != YN_SCALAR)
        return bad(c, n->line, "%s must be true or false", what);
    int base = 10;
    yvtype_t t = scalar_type(n, &base);
    if (t == YV_NULL)
        return RMQ_OK;
    if (t == YV_BOOL) {
        *out = bool_word(n->text) == 1 || !strcmp(n->text, "true");
        return RMQ_OK;
    }
    if (t == YV_INT) {
        char *v = int_text(n->text, base);
        *out = !strcmp(v, "1");
        free(v);
        return RMQ_OK;
    }
    const char *s = n->text;
    if (!*s || !strcmp(s, "null") || !strcmp(s, "NULL"))
        return RMQ_OK;
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "Y") || !strcmp(s, "T")) {
        *out = true;
        return RMQ_OK;
    }
    if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "F") || !strcmp(s, "N"))
        return RMQ_OK;
    return bad(c, n->line, "%s: can not cast to boolean, value : %s", what, s);
}

/* Java String.length() of UTF-8 text (UTF-16 code units). */
static size_t utf16_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xc0) != 0x80)
            n++;
        if ((*p & 0xf8) == 0xf0)
            n++; /* a supplementary character is two units */
    }
    return n;
}

uint8_t rmq_acl_perm_parse(const char *s, bool *known)
{
    if (known)
        *known = true;
    if (!s)
        return RMQ_ACL_DENY;
    const char *b = s;
    while (*b && (unsigned char)*b <= ' ')
        b++;
    size_t l = strlen(b);
    while (l && (unsigned char)b[l - 1] <= ' ')
        l--;
    if (l == 3 && !strncmp(b, "PUB", 3))
        return RMQ_ACL_PUB;
    if (l == 3 && !strncmp(b, "SUB", 3))
        return RMQ_ACL_SUB;
    if (l == 7 && (!strncmp(b, "PUB|SUB", 7) || !strncmp(b, "SUB|PUB", 7)))
        return RMQ_ACL_PUB | RMQ_ACL_SUB;
    if (l == 4 && !strncmp(b, "DENY", 4))
        return RMQ_ACL_DENY;
    if (known)
        *known = false;
    return RMQ_ACL_DENY;
}

bool rmq_acl_perm_ok(uint8_t needed, uint8_t owned)
{
    if (owned & RMQ_ACL_DENY)
        return false;
    if (needed & RMQ_ACL_ANY)
        return (owned & (RMQ_ACL_PUB | RMQ_ACL_SUB)) != 0;
    return (needed & owned) != 0;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (unsigned char)*s <= ' ') {
        s++;
        n--;
    }
    while (n && (unsigned char)s[n - 1] <= ' ')
        n--;
    return rmq_strndup(s, n);
}

/* Permission.parseResourcePerms: "name=PERM" items (StringUtils.split on '='
 * must give exactly two tokens); groups become %RETRY%<name>. */
static rmq_err_t parse_perms(ctx_t *c, rmq_acl_account_t *a, const ynode_t *list, bool topic)
{
    if (!list)
        return RMQ_OK;
    int base;
    if (list->kind == YN_SCALAR && scalar_type(list, &base) == YV_NULL)
        return RMQ_OK;
    if (list->kind != YN_SEQ)
        return bad(c, list->line, "%s must be a list of name=PERM entries",
                   topic ? "topicPerms" : "groupPerms");
    for (size_t i = 0; i < list->n; i++) {
        char *res = NULL;
        rmq_err_t r = get_string(c, list->items[i], topic ? "topicPerms entry" : "groupPerms entry", &res);
        if (r != RMQ_OK)
            return r;
        /* tokens between runs of '=' */
        const char *tok[3] = {0};
        size_t tl[3] = {0};
        int nt = 0;
        for (const char *p = res ? res : ""; *p;) {
            while (*p == '=')
                p++;
            if (!*p)
                break;
            const char *st = p;
            while (*p && *p != '=')
                p++;
            if (nt < 3) {
                tok[nt] = st;
                tl[nt] = (size_t)(p - st);
            }
            nt++;
        }
        if (nt != 2) {
            r = bad(c, list->items[i]->line, "Parse resource permission failed for %s:%s",
                    topic ? "topic" : "group", res ? res : "null");
            free(res);
            return r;
        }
        char *name = trim_dup(tok[0], tl[0]);
        char *perm = trim_dup(tok[1], tl[1]);
        bool known;
        uint8_t pv = rmq_acl_perm_parse(perm, &known);
        if (!known)
            rmq_log(RMQ_LOG_WARN, "acl",
                    "%s:%d: permission \"%s\" of %s is not PUB, SUB, PUB|SUB or DENY: DENY", c->file,
                    list->items[i]->line, perm, name);
        char *key = topic ? rmq_strdup(name) : rmq_asprintf("%s%s", RMQ_ACL_RETRY_PREFIX, name);
        rmq_map_put(&a->perms, key, (void *)(uintptr_t)pv);
        free(key);
        free(name);
        free(perm);
        free(res);
    }
    return RMQ_OK;
}

static void account_free(void *p)
{
    rmq_acl_account_t *a = p;
    free(a->access_key);
    free(a->secret_key);
    rmq_acl_addr_free(&a->white);
    rmq_map_deinit(&a->perms);
    free(a);
}

static rmq_err_t parse_account(ctx_t *c, const ynode_t *m, const char *file, rmq_acl_account_t **out)
{
    *out = NULL;
    if (m->kind != YN_MAP)
        return bad(c, m->line, "each entry of accounts must be a mapping");
    rmq_acl_account_t *a = rmq_calloc(1, sizeof(*a));
    rmq_map_init(&a->perms, NULL);
    a->file = file;
    char *white = NULL, *dtp = NULL, *dgp = NULL;
    rmq_err_t r;
    if ((r = get_string(c, map_get(m, "accessKey"), "accessKey", &a->access_key)) ||
        (r = get_string(c, map_get(m, "secretKey"), "secretKey", &a->secret_key)) ||
        (r = get_string(c, map_get(m, "whiteRemoteAddress"), "whiteRemoteAddress", &white)) ||
        (r = get_bool(c, map_get(m, "admin"), "admin", &a->admin)) ||
        (r = get_string(c, map_get(m, "defaultTopicPerm"), "defaultTopicPerm", &dtp)) ||
        (r = get_string(c, map_get(m, "defaultGroupPerm"), "defaultGroupPerm", &dgp)))
        goto fail;
    /* PlainPermissionManager.checkPlainAccessConfig (the secret itself is not
     * echoed into logs) */
    if (!a->access_key || !a->secret_key || utf16_len(a->access_key) <= 6 || utf16_len(a->secret_key) <= 6) {
        r = bad(c, m->line,
                "The accessKey=%s and secretKey=%s cannot be null and length should longer than 6",
                a->access_key ? a->access_key : "null", a->secret_key ? "(hidden)" : "null");
        goto fail;
    }
    bool known;
    a->default_group_perm = rmq_acl_perm_parse(dgp, &known);
    if (!known)
        rmq_log(RMQ_LOG_WARN, "acl",
                "%s: defaultGroupPerm \"%s\" of %s is not PUB, SUB, PUB|SUB or DENY: DENY", file, dgp,
                a->access_key);
    a->default_topic_perm = rmq_acl_perm_parse(dtp, &known);
    if (!known)
        rmq_log(RMQ_LOG_WARN, "acl",
                "%s: defaultTopicPerm \"%s\" of %s is not PUB, SUB, PUB|SUB or DENY: DENY", file, dtp,
                a->access_key);
    /* groups first, then topics (a topic entry overrides a group entry of the
     * same resource name, as in Java) */
    if ((r = parse_perms(c, a, map_get(m, "groupPerms"), false)) ||
        (r = parse_perms(c, a, map_get(m, "topicPerms"), true)))
        goto fail;
    char aerr[300];
    if (rmq_acl_addr_parse(&a->white, white, aerr, sizeof(aerr)) != RMQ_OK) {
        r = bad(c, m->line, "whiteRemoteAddress of %s: %s", a->access_key, aerr);
        goto fail;
    }
    free(white);
    free(dtp);
    free(dgp);
    *out = a;
    return RMQ_OK;
fail:
    free(white);
    free(dtp);
    free(dgp);
    account_free(a);
    return r;
}

rmq_acl_rules_t *rmq_acl_rules_new(void)
{
    rmq_acl_rules_t *r = rmq_calloc(1, sizeof(*r));
    rmq_map_init(&r->accounts, account_free);
    return r;
}

void rmq_acl_rules_free(rmq_acl_rules_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nglobal; i++)
        rmq_acl_addr_free(&r->global_white[i]);
    free(r->global_white);
    rmq_map_deinit(&r->accounts);
    for (size_t i = 0; i < r->nfiles; i++)
        free(r->files[i]);
    free(r->files);
    free(r);
}

rmq_err_t rmq_acl_rules_add_yaml(rmq_acl_rules_t *r, const char *text, size_t len, const char *name,
                                 char *errstr, size_t es)
{
    ctx_t c = {name, errstr, es};
    ydoc_t d;
    rmq_err_t rc = doc_parse(&d, text, len, name, errstr, es);
    if (rc != RMQ_OK)
        return rc;
    /* the file name lives as long as the rules (accounts point at it) */
    r->files = rmq_realloc(r->files, (r->nfiles + 1) * sizeof(*r->files));
    const char *fname = r->files[r->nfiles++] = rmq_strdup(name);
    ynode_t *root = d.root;
    int base;
    if (!root || (root->kind == YN_SCALAR && scalar_type(root, &base) == YV_NULL)) {
        rmq_log(RMQ_LOG_WARN, "acl", "No data in file %s", name);
        doc_free(&d);
        return RMQ_OK;
    }
    if (root->kind != YN_MAP) {
        rc = bad(&c, root->line, "the top level must be a mapping (globalWhiteRemoteAddresses, accounts)");
        goto out;
    }
    /* globalWhiteRemoteAddresses */
    ynode_t *g = map_get(root, "globalWhiteRemoteAddresses");
    if (g && !(g->kind == YN_SCALAR && scalar_type(g, &base) == YV_NULL)) {
        if (g->kind != YN_SEQ) {
            rc = bad(&c, g->line, "globalWhiteRemoteAddresses must be a list");
            goto out;
        }
        r->global_white = rmq_realloc(r->global_white, (r->nglobal + g->n + 1) * sizeof(*r->global_white));
        for (size_t i = 0; i < g->n; i++) {
            char *p = NULL;
            if ((rc = get_string(&c, g->items[i], "globalWhiteRemoteAddresses entry", &p)) != RMQ_OK)
                goto out;
            char aerr[300];
            rmq_acl_addr_t a;
            if (rmq_acl_addr_parse(&a, p, aerr, sizeof(aerr)) != RMQ_OK) {
                rc = bad(&c, g->items[i]->line, "globalWhiteRemoteAddresses: %s", aerr);
                free(p);
                goto out;
            }
            free(p);
            r->global_white[r->nglobal++] = a;
        }
    }
    /* accounts */
    ynode_t *acc = map_get(root, "accounts");
    if (acc && !(acc->kind == YN_SCALAR && scalar_type(acc, &base) == YV_NULL)) {
        if (acc->kind != YN_SEQ) {
            rc = bad(&c, acc->line, "accounts must be a list");
            goto out;
        }
        for (size_t i = 0; i < acc->n; i++) {
            rmq_acl_account_t *a;
            if ((rc = parse_account(&c, acc->items[i], fname, &a)) != RMQ_OK)
                goto out;
            if (rmq_map_has(&r->accounts, a->access_key)) {
                rmq_acl_account_t *prev = rmq_map_get(&r->accounts, a->access_key);
                rmq_log(RMQ_LOG_WARN, "acl",
                        "%s:%d: access key %s is already defined in %s; this one is ignored", name,
                        acc->items[i]->line, a->access_key, prev->file);
                account_free(a);
                continue;
            }
            rmq_map_put(&r->accounts, a->access_key, a);
        }
    }
out:
    doc_free(&d);
    return rc;
}

/* ---------- files ---------- */

static bool yml_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && !strcmp(n + l - 4, ".yml")) || (l > 5 && !strcmp(n + l - 5, ".yaml"));
}

static void stamp_of(const char *path, rmq_acl_stamp_t *s)
{
    memset(s, 0, sizeof(*s));
    s->path = rmq_strdup(path);
    struct stat st;
    if (stat(path, &st) == 0) {
        s->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        s->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
        s->size = (int64_t)st.st_size;
        s->ino = (uint64_t)st.st_ino;
    } else {
        s->size = -1;
    }
}

static void stamps_add(rmq_acl_stamps_t *o, const char *path)
{
    o->v = rmq_realloc(o->v, (o->n + 1) * sizeof(*o->v));
    stamp_of(path, &o->v[o->n++]);
}

static void scan_dir(const char *dir, rmq_acl_stamps_t *o, int depth)
{
    if (depth > 16)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        names = rmq_realloc(names, (n + 1) * sizeof(*names));
        names[n++] = rmq_asprintf("%s/%s", dir, e->d_name);
    }
    closedir(d);
    /* sorted for a deterministic order (Java: File.listFiles order) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (yml_name(names[i]))
            stamps_add(o, names[i]);
        else if (stat(names[i], &st) == 0 && S_ISDIR(st.st_mode))
            scan_dir(names[i], o, depth + 1);
        free(names[i]);
    }
    free(names);
}

void rmq_acl_scan(const char *default_file, const char *dir, rmq_acl_stamps_t *out)
{
    memset(out, 0, sizeof(*out));
    if (dir && *dir)
        scan_dir(dir, out, 0);
    if (default_file && *default_file) {
        bool listed = false;
        for (size_t i = 0; i < out->n && !listed; i++)
            listed = !strcmp(out->v[i].path, default_file);
        struct stat st;
        if (!listed && stat(default_file, &st) == 0)
            stamps_add(out, default_file);
    }
}

bool rmq_acl_stamps_equal(const rmq_acl_stamps_t *a, const rmq_acl_stamps_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const rmq_acl_stamp_t *x = &a->v[i], *y = &b->v[i];
        if (strcmp(x->path, y->path) || x->mtime_ns != y->mtime_ns || x->ctime_ns != y->ctime_ns ||
            x->size != y->size || x->ino != y->ino)
            return false;
    }
    return true;
}

void rmq_acl_stamps_free(rmq_acl_stamps_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].path);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

rmq_acl_rules_t *rmq_acl_rules_load(const rmq_acl_stamps_t *files, char *errstr, size_t es)
{
    rmq_acl_rules_t *r = rmq_acl_rules_new();
    for (size_t i = 0; i < files->n; i++) {
        const char *path = files->v[i].path;
        struct stat st;
        if (stat(path, &st) != 0) {
            snprintf(errstr, es, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (st.st_size > (off_t)MAX_FILE_BYTES) {
            snprintf(errstr, es, "%s: larger than %u bytes", path, MAX_FILE_BYTES);
            goto fail;
        }
        char *text = NULL;
        size_t len = 0;
        if (rmq_file_read_all(path, &text, &len) != RMQ_OK) {
            snprintf(errstr, es, "%s: cannot read: %s", path, strerror(errno));
            goto fail;
        }
        rmq_err_t rc = rmq_acl_rules_add_yaml(r, text, len, path, errstr, es);
        free(text);
        if (rc != RMQ_OK)
            goto fail;
    }
    return r;
fail:
    rmq_acl_rules_free(r);
    return NULL;
}
