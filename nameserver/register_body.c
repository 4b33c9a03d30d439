/* register_body.c - REGISTER_BROKER body decoding (RegisterBrokerBody).
 * Owns: nothing beyond the result it fills.
 * Thread: the name server's only thread (pure functions).
 * The JSON form is scanned member by member; only small pieces (one topic
 * config, the data version, the filter server list, members this does not
 * use, which are still checked to be valid JSON) go through jansson, so
 * memory and time stay proportional to what the body holds, without a
 * document tree of a whole topic table. */
#include "register_body.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"

#define MAX_DEPTH 256

void ns_reg_body_free(ns_reg_body_t *b)
{
    for (size_t i = 0; i < b->n_topics; i++)
        free((char *)b->topics[i].name);
    free(b->topics);
    free(b->filter_servers);
    memset(b, 0, sizeof(*b));
}

static void add_topic(ns_reg_body_t *b, const char *name, int64_t r, int64_t w, int64_t perm, int64_t sysflag)
{
    if (b->n_topics == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->topics = rmq_realloc(b->topics, b->cap * sizeof(*b->topics));
    }
    b->topics[b->n_topics++] =
        (ns_topic_conf_t){rmq_strdup(name), (int32_t)r, (int32_t)w, (int32_t)perm, (int32_t)sysflag};
}

/* ---------- a JSON scanner over the body ---------- */

typedef struct sc_s {
    const char *p;
    size_t n, i;
    char *err;
    size_t es;
} sc_t;

static bool bad(sc_t *s, const char *what)
{
    snprintf(s->err, s->es, "bad JSON at offset %zu: %s", s->i, what);
    return false;
}

static void ws(sc_t *s)
{
    while (s->i < s->n &&
           (s->p[s->i] == ' ' || s->p[s->i] == '\t' || s->p[s->i] == '\n' || s->p[s->i] == '\r'))
        s->i++;
}

/* At '"': past the closing quote. *esc: whether it holds an escape. */
static bool str_span(sc_t *s, bool *esc)
{
    *esc = false;
    for (s->i++; s->i < s->n;) {
        unsigned char c = (unsigned char)s->p[s->i];
        if (c == '"') {
            s->i++;
            return true;
        }
        if (c < 0x20)
            return bad(s, "control character in a string");
        if (c == '\\') {
            *esc = true;
            s->i++;
        }
        s->i++;
    }
    return bad(s, "unterminated string");
}

/* Past one value; its structure only (what is used is parsed properly). */
static bool skip_value(sc_t *s)
{
    ws(s);
    if (s->i >= s->n)
        return bad(s, "value expected");
    char c = s->p[s->i];
    bool esc;
    if (c == '"')
        return str_span(s, &esc);
    if (c == '{' || c == '[') {
        char stack[MAX_DEPTH];
        int d = 0;
        while (s->i < s->n) {
            c = s->p[s->i];
            if (c == '"') {
                if (!str_span(s, &esc))
                    return false;
                continue;
            }
            if (c == '{' || c == '[') {
                if (d == MAX_DEPTH)
                    return bad(s, "nested too deeply");
                stack[d++] = c == '{' ? '}' : ']';
            } else if (c == '}' || c == ']') {
                if (d == 0 || stack[--d] != c)
                    return bad(s, "mismatched bracket");
                if (d == 0) {
                    s->i++;
                    return true;
                }
            }
            s->i++;
        }
        return bad(s, "unterminated object or array");
    }
    size_t st = s->i;
    while (s->i < s->n && s->p[s->i] && strchr("+-.0123456789eEtruefalsn", s->p[s->i]))
        s->i++;
    return s->i > st ? true : bad(s, "value expected");
}

/* The next value, parsed on its own (NULL: malformed, reason in err). */
static json_t *parse_value(sc_t *s)
{
    ws(s);
    size_t st = s->i;
    if (!skip_value(s))
        return NULL;
    char e[200];
    json_t *j = rmq_json_parse(s->p + st, s->i - st, e, sizeof(e));
    if (!j)
        snprintf(s->err, s->es, "bad JSON in the value at offset %zu: %s", st, e);
    return j;
}

/* A value this decoder does not use: checked, then dropped. */
static bool check_value(sc_t *s)
{
    json_t *j = parse_value(s);
    json_decref(j);
    return j != NULL;
}

static bool at(const sc_t *s, char c)
{
    return s->i < s->n && s->p[s->i] == c;
}

/* Whether p[0..n) is plain ASCII (no UTF-8 for jansson to check). */
static bool ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return false;
    return true;
}

/* Called with s->i at the member's value, which it must consume. */
typedef bool member_fn(sc_t *s, const char *key, void *ctx);

/* Each member of the object at s->i, key decoded. */
static bool each_member(sc_t *s, member_fn *fn, void *ctx)
{
    ws(s);
    if (s->i >= s->n || s->p[s->i] != '{')
        return bad(s, "object expected");
    s->i++;
    ws(s);
    if (s->i < s->n && s->p[s->i] == '}') {
        s->i++;
        return true;
    }
    for (;;) {
        ws(s);
        if (s->i >= s->n || s->p[s->i] != '"')
            return bad(s, "member name expected");
        size_t k0 = s->i;
        bool esc;
        if (!str_span(s, &esc))
            return false;
        char *key;
        if (esc || !ascii(s->p + k0 + 1, s->i - k0 - 2)) { /* rare: jansson decodes escapes, checks UTF-8 */
            json_error_t je;
            json_t *k = json_loadb(s->p + k0, s->i - k0, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
            /* a NUL in a name (\u0000) has no C string: refused, as jansson
             * refuses it in any object key */
            if (!json_is_string(k) || strlen(json_string_value(k)) != json_string_length(k)) {
                json_decref(k);
                s->i = k0;
                return bad(s, "bad member name");
            }
            key = rmq_strdup(json_string_value(k));
            json_decref(k);
        } else {
            key = rmq_strndup(s->p + k0 + 1, s->i - k0 - 2);
        }
        ws(s);
        if (s->i >= s->n || s->p[s->i] != ':') {
            free(key);
            return bad(s, "':' expected");
        }
        s->i++;
        ws(s);
        bool ok = fn(s, key, ctx);
        free(key);
        if (!ok)
            return false;
        ws(s);
        if (s->i >= s->n)
            return bad(s, "unterminated object");
        char c = s->p[s->i++];
        if (c == '}')
            return true;
        if (c != ',')
            return bad(s, "',' or '}' expected");
    }
}

/* each_member over the value at s->i when it is an object; a valid value of
 * another kind fails with not_object. */
static bool object_members(sc_t *s, member_fn *fn, void *ctx, const char *not_object)
{
    if (!at(s, '{')) {
        if (check_value(s))
            snprintf(s->err, s->es, "%s", not_object);
        return false;
    }
    return each_member(s, fn, ctx);
}

/* ---------- RegisterBrokerBody ---------- */

/* The common case without jansson: a flat object of plain ASCII strings,
 * integers, booleans and nulls (what Java and Comet brokers send). False,
 * with s->i unchanged, for anything else: the caller then takes the general
 * path, which also reports what is wrong. */
static bool fast_topic(sc_t *s, const char *key, ns_reg_body_t *b)
{
    size_t save = s->i;
    int64_t v[4] = {16, 16, 6, 0}; /* readQueueNums, writeQueueNums, perm, topicSysFlag */
    static const char *const num_keys[4] = {"readQueueNums", "writeQueueNums", "perm", "topicSysFlag"};
    size_t name_at = 0, name_len = 0;
    bool have_name = false;
    if (!at(s, '{'))
        return false;
    s->i++;
    ws(s);
    if (at(s, '}')) {
        s->i++;
        goto done;
    }
    for (;;) {
        ws(s);
        if (!at(s, '"'))
            goto slow;
        size_t k0 = s->i;
        bool esc;
        if (!str_span(s, &esc) || esc || !ascii(s->p + k0 + 1, s->i - k0 - 2))
            goto slow;
        const char *k = s->p + k0 + 1;
        size_t kl = s->i - k0 - 2;
        ws(s);
        if (!at(s, ':'))
            goto slow;
        s->i++;
        ws(s);
        if (s->i >= s->n)
            goto slow;
        char c = s->p[s->i];
        if (c == '"') {
            size_t v0 = s->i;
            if (!str_span(s, &esc) || esc || !ascii(s->p + v0 + 1, s->i - v0 - 2)) /* jansson checks UTF-8 */
                goto slow;
            if (kl == 9 && !memcmp(k, "topicName", 9)) {
                name_at = v0 + 1;
                name_len = s->i - v0 - 2;
                have_name = true;
            } else {
                for (int i = 0; i < 4; i++)
                    if (strlen(num_keys[i]) == kl && !memcmp(k, num_keys[i], kl))
                        goto slow; /* a number as a string */
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t v0 = s->i;
            if (c == '-')
                s->i++;
            size_t d0 = s->i;
            while (s->i < s->n && s->p[s->i] >= '0' && s->p[s->i] <= '9')
                s->i++;
            size_t nd = s->i - d0;
            if (nd == 0 || nd > 18 || (nd > 1 && s->p[d0] == '0'))
                goto slow;
            if (s->i < s->n && (s->p[s->i] == '.' || s->p[s->i] == 'e' || s->p[s->i] == 'E'))
                goto slow;
            int64_t x = 0;
            for (size_t i = d0; i < s->i; i++)
                x = x * 10 + (s->p[i] - '0');
            if (s->p[v0] == '-')
                x = -x;
            for (int i = 0; i < 4; i++)
                if (strlen(num_keys[i]) == kl && !memcmp(k, num_keys[i], kl))
                    v[i] = x;
            if (kl == 9 && !memcmp(k, "topicName", 9))
                have_name = false; /* not a string: jansson's lookup gives no name */
        } else {
            const char *lit = c == 't' ? "true" : c == 'f' ? "false" : c == 'n' ? "null" : NULL;
            size_t ll = lit ? strlen(lit) : 0;
            if (!lit || s->i + ll > s->n || memcmp(s->p + s->i, lit, ll) != 0)
                goto slow;
            s->i += ll;
            if (kl == 9 && !memcmp(k, "topicName", 9))
                have_name = false;
            for (int i = 0; i < 4; i++)
                if (strlen(num_keys[i]) == kl && !memcmp(k, num_keys[i], kl))
                    goto slow; /* rmq_json_int's view of a boolean / null */
        }
        ws(s);
        if (at(s, ',')) {
            s->i++;
            continue;
        }
        if (at(s, '}')) {
            s->i++;
            break;
        }
        goto slow;
    }
done:
    if (have_name) {
        char *name = rmq_strndup(s->p + name_at, name_len);
        add_topic(b, name, v[0], v[1], v[2], v[3]);
        free(name);
    } else {
        add_topic(b, key, v[0], v[1], v[2], v[3]);
    }
    return true;
slow:
    s->i = save;
    return false;
}

static bool table_member(sc_t *s, const char *key, void *ctx)
{
    ns_reg_body_t *b = ctx;
    if (fast_topic(s, key, b))
        return true;
    json_t *tc = parse_value(s);
    if (!tc)
        return false;
    if (!json_is_object(tc)) {
        json_decref(tc);
        snprintf(s->err, s->es, "topic config of %s is not an object", key);
        return false;
    }
    const char *name = rmq_json_str(tc, "topicName");
    int64_t r = 16, w = 16, perm = 6, sysflag = 0;
    rmq_json_int(tc, "readQueueNums", &r);
    rmq_json_int(tc, "writeQueueNums", &w);
    rmq_json_int(tc, "perm", &perm);
    rmq_json_int(tc, "topicSysFlag", &sysflag);
    add_topic(b, name ? name : key, r, w, perm, sysflag);
    json_decref(tc);
    return true;
}

static bool wrapper_member(sc_t *s, const char *key, void *ctx)
{
    ns_reg_body_t *b = ctx;
    if (!strcmp(key, "dataVersion")) {
        json_t *dv = parse_value(s);
        if (!dv)
            return false;
        if (json_is_object(dv)) {
            rmq_json_int(dv, "counter", &b->dv.counter);
            rmq_json_int(dv, "timestamp", &b->dv.timestamp);
        }
        json_decref(dv);
        return true;
    }
    if (!strcmp(key, "topicConfigTable"))
        return object_members(s, table_member, b, "topicConfigTable is not an object");
    return check_value(s);
}

static bool parse_wrapper(sc_t *s, ns_reg_body_t *b)
{
    return object_members(s, wrapper_member, b, "topicConfigSerializeWrapper missing");
}

typedef struct top_ctx_s {
    ns_reg_body_t *b;
    bool wrapper_seen;
} top_ctx_t;

static bool top_member(sc_t *s, const char *key, void *ctx)
{
    top_ctx_t *t = ctx;
    if (!strcmp(key, "topicConfigSerializeWrapper")) {
        t->wrapper_seen = true;
        return parse_wrapper(s, t->b);
    }
    if (!strcmp(key, "filterServerList")) {
        json_t *fsl = parse_value(s);
        if (!fsl)
            return false;
        if (json_is_array(fsl) && json_array_size(fsl) > 0) {
            free(t->b->filter_servers);
            t->b->filter_servers = json_dumps(fsl, JSON_COMPACT);
        }
        json_decref(fsl);
        return true;
    }
    return check_value(s);
}

/* Compressed RegisterBrokerBody (RegisterBrokerBody.encode(true)). */
static bool parse_compressed(const uint8_t *p, size_t n, ns_reg_body_t *b, char *err, size_t es)
{
    rmq_buf_t raw;
    rmq_buf_init(&raw);
    bool ok = false;
    if (rmq_msg_inflate(p, n, &raw, 64u * 1024 * 1024) != RMQ_OK) {
        snprintf(err, es, "compressed body does not inflate");
        goto out;
    }
    rmq_rd_t r;
    rmq_rd_init(&r, raw.data, raw.len);
    uint32_t dl = rmq_rd_u32(&r);
    const uint8_t *dvj = rmq_rd_bytes(&r, dl);
    if (!dvj) {
        snprintf(err, es, "compressed body: truncated data version");
        goto out;
    }
    json_t *dv = rmq_json_parse((const char *)dvj, dl, err, es);
    if (!dv)
        goto out;
    rmq_json_int(dv, "counter", &b->dv.counter);
    rmq_json_int(dv, "timestamp", &b->dv.timestamp);
    json_decref(dv);
    uint32_t count = rmq_rd_u32(&r);
    if (r.err || count > 1000000) {
        snprintf(err, es, "compressed body: bad topic count");
        goto out;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t tl = rmq_rd_u32(&r);
        const uint8_t *t = rmq_rd_bytes(&r, tl);
        if (!t) {
            snprintf(err, es, "compressed body: truncated topic config %u", i);
            goto out;
        }
        /* "<topicName> <read> <write> <perm> <filterType>" */
        char *s = rmq_strndup((const char *)t, tl);
        char name[256];
        long rq, wq, perm;
        char ftype[32];
        int got = sscanf(s, "%255s %ld %ld %ld %31s", name, &rq, &wq, &perm, ftype);
        free(s);
        if (got < 4) {
            snprintf(err, es, "compressed body: bad topic config %u", i);
            goto out;
        }
        add_topic(b, name, rq, wq, perm, 0);
    }
    uint32_t fl = rmq_rd_u32(&r);
    const uint8_t *fs = rmq_rd_bytes(&r, fl);
    if (fs && fl)
        b->filter_servers = rmq_strndup((const char *)fs, fl);
    ok = true;
out:
    rmq_buf_free(&raw);
    return ok;
}

bool ns_reg_body_parse(const uint8_t *body, size_t len, bool compressed, bool wrapped, ns_reg_body_t *b,
                       char *err, size_t errsize)
{
    memset(b, 0, sizeof(*b));
    if (!len)
        return true; /* empty body: empty wrapper, data version 0/0 */
    if (compressed)
        return parse_compressed(body, len, b, err, errsize);
    sc_t s = {(const char *)body, len, 0, err, errsize};
    ws(&s);
    bool ok;
    if (wrapped) {
        top_ctx_t t = {b, false};
        ok = object_members(&s, top_member, &t, "topicConfigSerializeWrapper missing");
        if (ok && !t.wrapper_seen) {
            snprintf(err, errsize, "topicConfigSerializeWrapper missing");
            ok = false;
        }
    } else {
        ok = parse_wrapper(&s, b);
    }
    if (ok) {
        ws(&s);
        if (s.i != s.n)
            ok = bad(&s, "data after the body");
    }
    return ok;
}
