/* acl_addr.c - RocketMQ's white-address patterns (see acl_addr.h): parsing
 * with RemoteAddressStrategyFactory's rules and messages, matching as its
 * strategies do. Java's StringUtils.split drops empty tokens; its
 * Integer.parseInt accepts a sign; both are reproduced.
 * Pure functions: the ACL loader thread parses, the I/O thread matches. */
#include "acl_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"

/* ---------- Java string helpers ---------- */

/* StringUtils.split(s, seps): maximal runs without separators. */
static size_t jsplit(const char *s, const char *seps, char ***out)
{
    size_t n = 0, cap = 4;
    char **t = rmq_malloc(cap * sizeof(*t));
    const char *p = s;
    while (*p) {
        while (*p && strchr(seps, *p))
            p++;
        if (!*p)
            break;
        const char *st = p;
        while (*p && !strchr(seps, *p))
            p++;
        if (n == cap) {
            cap *= 2;
            t = rmq_realloc(t, cap * sizeof(*t));
        }
        t[n++] = rmq_strndup(st, (size_t)(p - st));
    }
    *out = t;
    return n;
}

/* StringUtils.splitPreserveAllTokens(s, sep) (no tokens for ""). */
static size_t jsplit_all(const char *s, char sep, char ***out)
{
    size_t n = 0, cap = 8;
    char **t = rmq_malloc(cap * sizeof(*t));
    if (*s) {
        const char *st = s;
        for (const char *p = s;; p++) {
            if (*p == sep || !*p) {
                if (n == cap) {
                    cap *= 2;
                    t = rmq_realloc(t, cap * sizeof(*t));
                }
                t[n++] = rmq_strndup(st, (size_t)(p - st));
                if (!*p)
                    break;
                st = p + 1;
            }
        }
    }
    *out = t;
    return n;
}

static void free_toks(char **t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

/* String.trim(): chars <= ' ' at both ends. */
static char *jtrim(const char *s)
{
    while (*s && (unsigned char)*s <= ' ')
        s++;
    size_t l = strlen(s);
    while (l && (unsigned char)s[l - 1] <= ' ')
        l--;
    return rmq_strndup(s, l);
}

static bool is_blank(const char *s)
{
    if (!s)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Integer.parseInt(s, radix). */
static bool jparse_int(const char *s, int radix, int *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    if (!*p)
        return false;
    long long v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'z')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'Z')
            d = *p - 'A' + 10;
        else
            return false;
        if (d >= radix)
            return false;
        v = v * radix + d;
        if (v > (long long)INT_MAX + 1)
            return false;
    }
    if (neg)
        v = -v;
    if (v > INT_MAX || v < INT_MIN)
        return false;
    *out = (int)v;
    return true;
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static bool ends_with(const char *s, const char *p)
{
    size_t ls = strlen(s), lp = strlen(p);
    return ls >= lp && strcmp(s + ls - lp, p) == 0;
}

/* ---------- address validity and expansion ---------- */

bool rmq_acl_valid_ipv4(const char *s)
{
    int parts = 0;
    const char *p = s;
    for (;;) {
        const char *st = p;
        while (*p >= '0' && *p <= '9')
            p++;
        size_t l = (size_t)(p - st);
        if (l < 1 || l > 3)
            return false;
        if (l > 1 && st[0] == '0')
            return false;
        int v = 0;
        for (const char *q = st; q < p; q++)
            v = v * 10 + (*q - '0');
        if (v > 255)
            return false;
        parts++;
        if (parts == 4)
            return *p == '\0';
        if (*p != '.')
            return false;
        p++;
    }
}

bool rmq_acl_valid_ipv6(const char *s)
{
    unsigned char buf[16];
    return strchr(s, ':') && inet_pton(AF_INET6, s, buf) == 1;
}

char *rmq_acl_expand_ip(const char *addr, int part)
{
    char *s = rmq_strdup(addr);
    for (char *p = s; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    int colons = 0;
    for (char *p = s; *p; p++)
        colons += *p == ':';
    int pad = part - colons;
    if (pad > 0 && strstr(s, "::")) {
        /* StringUtils.replace(s, "::", ":" + pad more ":") - every occurrence */
        rmq_buf_t b;
        rmq_buf_init(&b);
        for (const char *p = s; *p;) {
            if (p[0] == ':' && p[1] == ':') {
                for (int i = 0; i <= pad; i++)
                    rmq_buf_putc(&b, ':');
                p += 2;
            } else {
                rmq_buf_putc(&b, *p++);
            }
        }
        free(s);
        rmq_buf_cstr(&b);
        s = (char *)rmq_buf_detach(&b, NULL);
    }
    char **t;
    size_t n = jsplit_all(s, ':', &t);
    rmq_buf_t o;
    rmq_buf_init(&o);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = strlen(t[i]); k < 4; k++)
            rmq_buf_putc(&o, '0');
        rmq_buf_puts(&o, t[i]);
        if (i + 1 < n)
            rmq_buf_putc(&o, ':');
    }
    free_toks(t, n);
    free(s);
    rmq_buf_cstr(&o);
    return (char *)rmq_buf_detach(&o, NULL);
}

/* ---------- strategies ---------- */

void rmq_acl_addr_free(rmq_acl_addr_t *a)
{
    free(a->one);
    free_toks(a->multi, a->nmulti);
    free(a->head);
    memset(a, 0, sizeof(*a));
}

static rmq_err_t fail(rmq_acl_addr_t *a, char *errstr, size_t n, const char *fmt, const char *arg)
{
    rmq_acl_addr_free(a);
    snprintf(errstr, n, fmt, arg);
    return RMQ_ERR__INVALID_ARG;
}

static rmq_err_t multi_add(rmq_acl_addr_t *a, char **list, size_t n, char *errstr, size_t es)
{
    a->kind = RMQ_ACL_ADDR_MULTI;
    a->multi = rmq_calloc(n ? n : 1, sizeof(*a->multi));
    for (size_t i = 0; i < n; i++) {
        if (rmq_acl_valid_ipv4(list[i]))
            a->multi[a->nmulti++] = rmq_strdup(list[i]);
        else if (rmq_acl_valid_ipv6(list[i]))
            a->multi[a->nmulti++] = rmq_acl_expand_ip(list[i], 8);
        else
            return fail(a, errstr, es, "Netaddress examine Exception netaddress is %s", list[i]);
    }
    return RMQ_OK;
}

/* AclUtils.getAddresses: prefix before the first '{' + each comma item of
 * the braces. */
static rmq_err_t multi_braces(rmq_acl_addr_t *a, const char *p, const char *last, char *errstr, size_t es)
{
    size_t ll = strlen(last);
    char *inner = rmq_strndup(last + 1, ll >= 2 ? ll - 2 : 0);
    char **items;
    size_t n = jsplit(inner, ",", &items);
    free(inner);
    size_t pl = (size_t)(strchr(p, '{') - p);
    char **full = rmq_calloc(n ? n : 1, sizeof(*full));
    for (size_t i = 0; i < n; i++)
        full[i] = rmq_asprintf("%.*s%s", (int)pl, p, items[i]);
    rmq_err_t r = multi_add(a, full, n, errstr, es);
    free_toks(full, n);
    free_toks(items, n);
    return r;
}

/* RangeRemoteAddressStrategy.analysis / ipv6Analysis: one position. */
static rmq_err_t analysis(rmq_acl_addr_t *a, char **t, size_t n, size_t i, bool v6, bool *found, char *errstr,
                          size_t es, const char *pattern)
{
    *found = false;
    if (i >= n)
        return fail(a, errstr, es,
                    "RangeRemoteAddressStrategy netaddress examine scope Exception netaddress %s", pattern);
    char *v = jtrim(t[i]);
    a->index = (int)i;
    int maxv = v6 ? 0xffff : 255;
    if (!strcmp(v, "*")) {
        a->start = 0;
        a->end = maxv;
    } else if (strchr(v, '-')) {
        if (v[0] == '-') {
            rmq_err_t r = fail(a, errstr, es,
                               "RangeRemoteAddressStrategy netaddress examine scope Exception value %s ", v);
            free(v);
            return r;
        }
        char **se;
        size_t k = jsplit(v, "-", &se);
        int s0, e0;
        bool ok = k >= 2 && jparse_int(se[0], v6 ? 16 : 10, &s0) && jparse_int(se[1], v6 ? 16 : 10, &e0);
        free_toks(se, k);
        if (!ok) {
            rmq_err_t r = fail(a, errstr, es, "RangeRemoteAddressStrategy: bad range %s", v);
            free(v);
            return r;
        }
        a->start = s0;
        a->end = e0;
        if (!(s0 >= 0 && s0 <= maxv && e0 >= 0 && e0 <= maxv && s0 <= e0)) {
            char m[160];
            snprintf(m, sizeof(m),
                     "RangeRemoteAddressStrategy netaddress examine scope Exception start is %d , end is %d",
                     s0, e0);
            free(v);
            return fail(a, errstr, es, "%s", m);
        }
    }
    free(v);
    *found = a->end > 0;
    return RMQ_OK;
}

/* AclUtils.isScope(netaddress, index): the parts before the range position
 * are numbers in range. */
static bool scope_ok(const char *p, int index)
{
    char **t;
    size_t n;
    bool ok = true;
    if (strchr(p, ':')) {
        char *e = rmq_acl_expand_ip(p, 8);
        n = jsplit(e, ":", &t);
        free(e);
        for (int i = 0; i < index && ok; i++) {
            int v;
            ok = (size_t)i < n && jparse_int(t[i], 16, &v) && v >= 0 && v <= 0xffff;
        }
    } else {
        n = jsplit(p, ".", &t);
        if (n != 4)
            ok = false;
        for (int i = 0; i < index && ok; i++) {
            char *x = jtrim(t[i]);
            int v;
            ok = jparse_int(x, 10, &v) && v >= 0 && v <= 255;
            free(x);
        }
    }
    free_toks(t, n);
    return ok;
}

static rmq_err_t range_v6(rmq_acl_addr_t *a, const char *p, char *errstr, size_t es)
{
    a->v6 = true;
    const char *ast = strchr(p, '*'), *minus = strchr(p, '-');
    size_t len = strlen(p);
    if (ast || minus) { /* AclUtils.IPv6AddressCheck */
        if (ast && (size_t)(ast - p) != len - 1)
            return fail(a, errstr, es, "Netaddress examine scope Exception netaddress is %s", p);
        if (minus) {
            const char *last = strrchr(p, ':');
            const char *lim = last;
            if (ast) { /* the colon before the last one */
                lim = NULL;
                for (const char *q = p; q < last; q++)
                    if (*q == ':')
                        lim = q;
            }
            if (!lim || minus <= lim)
                return fail(a, errstr, es, "Netaddress examine scope Exception netaddress is %s", p);
        }
    }
    char **t;
    size_t n = jsplit(p, ":", &t);
    for (size_t i = 1; i < n; i++) {
        bool found;
        if (analysis(a, t, n, i, true, &found, errstr, es, p) != RMQ_OK) {
            free_toks(t, n);
            return RMQ_ERR__INVALID_ARG;
        }
        if (!found)
            continue;
        if (!scope_ok(p, a->index - 1)) {
            free_toks(t, n);
            return fail(a, errstr, es, "Netaddress examine scope Exception netaddress is %s", p);
        }
        /* AclUtils.v6ipProcess */
        bool isa = strchr(p, '*') != NULL, ism = strchr(p, '-') != NULL;
        int part;
        char *sub;
        const char *lastc = strrchr(p, ':');
        if (isa && ism) {
            part = 6;
            const char *second = NULL;
            for (const char *q = p; q < lastc; q++)
                if (*q == ':')
                    second = q;
            sub = rmq_strndup(p, second ? (size_t)(second - p) : 0);
        } else if (!isa && !ism) {
            part = 8;
            sub = rmq_strdup(p);
        } else {
            part = 7;
            sub = rmq_strndup(p, (size_t)(lastc - p));
        }
        a->head = rmq_acl_expand_ip(sub, part);
        free(sub);
        char **ht;
        size_t hn = jsplit(a->head, ":", &ht);
        free_toks(ht, hn);
        a->index = (int)hn;
        break;
    }
    free_toks(t, n);
    if (!a->head || a->index > 7)
        return fail(a, errstr, es, "white address pattern %s has no range that can match", p);
    a->kind = RMQ_ACL_ADDR_RANGE;
    return RMQ_OK;
}

static rmq_err_t range_v4(rmq_acl_addr_t *a, const char *p, char *errstr, size_t es)
{
    char **t;
    size_t n = jsplit(p, ".", &t);
    bool found = false;
    for (size_t i = 1; i <= 3 && !found; i++) {
        if (analysis(a, t, n, i, false, &found, errstr, es, p) != RMQ_OK) {
            free_toks(t, n);
            return RMQ_ERR__INVALID_ARG;
        }
    }
    if (!found) {
        free_toks(t, n);
        return fail(a, errstr, es, "white address pattern %s has no range that can match (Java fails on it)",
                    p);
    }
    if (!scope_ok(p, a->index - 1)) {
        free_toks(t, n);
        return fail(a, errstr, es, "Netaddress examine scope Exception netaddress is %s", p);
    }
    rmq_buf_t h;
    rmq_buf_init(&h);
    for (int j = 0; j < a->index; j++) {
        char *x = jtrim(t[j]);
        rmq_buf_puts(&h, x);
        rmq_buf_putc(&h, '.');
        free(x);
    }
    free_toks(t, n);
    rmq_buf_cstr(&h);
    a->head = (char *)rmq_buf_detach(&h, NULL);
    a->kind = RMQ_ACL_ADDR_RANGE;
    return RMQ_OK;
}

rmq_err_t rmq_acl_addr_parse(rmq_acl_addr_t *a, const char *p, char *errstr, size_t es)
{
    memset(a, 0, sizeof(*a));
    if (is_blank(p)) {
        a->kind = RMQ_ACL_ADDR_BLANK;
        return RMQ_OK;
    }
    if (!strcmp(p, "*") || !strcmp(p, "*.*.*.*") || !strcmp(p, "*:*:*:*:*:*:*:*")) {
        a->kind = RMQ_ACL_ADDR_ANY;
        return RMQ_OK;
    }
    if (ends_with(p, "}")) {
        char **t;
        bool v6 = strchr(p, ':') != NULL;
        size_t n = jsplit(p, v6 ? ":" : ".", &t);
        rmq_err_t r;
        if (!v6 && n < 4)
            r = fail(a, errstr, es, "MultipleRemoteAddressStrategy has got a/some wrong format IP(s) %s", p);
        else if (n == 0 || !starts_with(t[n - 1], "{"))
            r = fail(a, errstr, es,
                     "MultipleRemoteAddressStrategy netaddress examine scope Exception netaddress %s", p);
        else
            r = multi_braces(a, p, t[n - 1], errstr, es);
        free_toks(t, n);
        return r;
    }
    if (strchr(p, ',')) {
        char **t;
        size_t n = jsplit(p, ",", &t);
        rmq_err_t r = multi_add(a, t, n, errstr, es);
        free_toks(t, n);
        return r;
    }
    if (strchr(p, '*') || strchr(p, '-'))
        return strchr(p, ':') ? range_v6(a, p, errstr, es) : range_v4(a, p, errstr, es);
    if (!rmq_acl_valid_ipv4(p) && !rmq_acl_valid_ipv6(p))
        return fail(a, errstr, es, "Netaddress examine Exception netaddress is %s", p);
    a->kind = RMQ_ACL_ADDR_ONE;
    a->one = rmq_acl_expand_ip(p, 8);
    return RMQ_OK;
}

bool rmq_acl_addr_match(const rmq_acl_addr_t *a, const char *ip)
{
    switch (a->kind) {
    case RMQ_ACL_ADDR_BLANK:
        return false;
    case RMQ_ACL_ADDR_ANY:
        return true;
    case RMQ_ACL_ADDR_ONE: {
        char *e = rmq_acl_expand_ip(ip, 8);
        bool m = strcmp(e, a->one) == 0;
        free(e);
        return m;
    }
    case RMQ_ACL_ADDR_MULTI: {
        char *e = rmq_acl_valid_ipv6(ip) ? rmq_acl_expand_ip(ip, 8) : rmq_strdup(ip);
        bool m = false;
        for (size_t i = 0; i < a->nmulti && !m; i++)
            m = strcmp(e, a->multi[i]) == 0;
        free(e);
        return m;
    }
    case RMQ_ACL_ADDR_RANGE:
        if (!a->v6 && rmq_acl_valid_ipv4(ip)) {
            if (!starts_with(ip, a->head))
                return false;
            size_t hl = strlen(a->head);
            const char *end;
            const char *last = strrchr(ip, '.');
            if (a->index == 3) {
                end = ip + strlen(ip);
            } else if (a->index == 2) {
                end = last;
            } else {
                end = NULL;
                for (const char *q = ip; q < last; q++)
                    if (*q == '.')
                        end = q;
            }
            if (!end || end < ip + hl)
                return false;
            char v[8];
            size_t vl = (size_t)(end - (ip + hl));
            if (vl == 0 || vl >= sizeof(v))
                return false;
            memcpy(v, ip + hl, vl);
            v[vl] = '\0';
            int x;
            return jparse_int(v, 10, &x) && x >= a->start && x <= a->end;
        }
        if (a->v6 && rmq_acl_valid_ipv6(ip)) {
            char *e = rmq_acl_expand_ip(ip, 8);
            bool m = false;
            size_t el = strlen(e);
            if (starts_with(e, a->head) && (size_t)(5 * a->index + 4) <= el) {
                char v[5];
                memcpy(v, e + 5 * a->index, 4);
                v[4] = '\0';
                int x;
                m = jparse_int(v, 16, &x) && x >= a->start && x <= a->end;
            }
            free(e);
            return m;
        }
        return false;
    }
    return false;
}
