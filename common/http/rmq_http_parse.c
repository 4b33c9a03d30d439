/* rmq_http_parse.c - bounded parsing of HTTP/1.x request heads and of
 * request-targets (path + query). Pure functions: no I/O, no globals; any
 * thread (the HTTP server's thread in practice; the fuzzer's too). */
#include "rmq_http_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"

static long fail(char *err, size_t n, int status, const char *why)
{
    snprintf(err, n, "%s", why);
    return -status;
}

/* fail() for a head whose text is allocated: the text is freed. */
static long head_fail(rmq_http_head_t *h, char *err, size_t n, int status, const char *why)
{
    rmq_http_head_free(h);
    return fail(err, n, status, why);
}

/* End of the head: index just past the empty line, or 0 if not there yet. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static bool has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t l = (size_t)(e - p);
        while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l == tl && !strncasecmp(p, tok, tl))
            return true;
        p = e;
    }
    return false;
}

long rmq_http_parse_head(const char *buf, size_t len, size_t max_head, size_t max_target, int64_t max_body,
                         rmq_http_head_t *h, char *err, size_t err_size)
{
    memset(h, 0, sizeof(*h));
    size_t scan = len < max_head ? len : max_head;
    size_t end = head_end(buf, scan);
    if (!end) {
        if (len >= max_head) {
            /* distinguish an over-long request line from too many header bytes */
            if (!memchr(buf, '\n', scan))
                return fail(err, err_size, 414, "request line too long");
            return fail(err, err_size, 431, "request header fields too large");
        }
        return 0;
    }
    if (memchr(buf, 0, end))
        return fail(err, err_size, 400, "NUL byte in request head");
    h->text = rmq_malloc(end + 1);
    memcpy(h->text, buf, end);
    h->text[end] = 0;

    /* request line */
    char *line = h->text;
    char *nl = strchr(line, '\n');
    *nl = 0;
    char *rest = nl + 1;
    size_t ll = strlen(line);
    if (ll && line[ll - 1] == '\r')
        line[--ll] = 0;
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' '))
        return head_fail(h, err, err_size, 400, "malformed request line");
    *sp1 = *sp2 = 0;
    for (const char *p = line; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return head_fail(h, err, err_size, 400, "malformed method");
    if (!*line)
        return head_fail(h, err, err_size, 400, "malformed method");
    h->method_name = line;
    h->method = !strcmp(line, "GET")    ? RMQ_HTTP_GET
                : !strcmp(line, "HEAD") ? RMQ_HTTP_HEAD
                : !strcmp(line, "POST") ? RMQ_HTTP_POST
                                        : RMQ_HTTP_OTHER;
    h->target = sp1 + 1;
    if (strlen(h->target) > max_target)
        return head_fail(h, err, err_size, 414, "request target too long");
    if (h->target[0] != '/')
        return head_fail(h, err, err_size, 400, "request target must be an absolute path");
    for (const char *p = h->target; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return head_fail(h, err, err_size, 400, "invalid character in request target");
    const char *ver = sp2 + 1;
    if (strncmp(ver, "HTTP/", 5) != 0 || !isdigit((unsigned char)ver[5]) || ver[6] != '.' ||
        !isdigit((unsigned char)ver[7]) || ver[8])
        return head_fail(h, err, err_size, 400, "malformed HTTP version");
    if (ver[5] != '1')
        return head_fail(h, err, err_size, 505, "HTTP version not supported");
    h->minor = ver[7] - '0';
    h->keep_alive = h->minor >= 1;

    /* header fields */
    bool have_cl = false;
    while (*rest) {
        char *e = strchr(rest, '\n');
        *e = 0;
        char *l = rest;
        rest = e + 1;
        size_t n = strlen(l);
        if (n && l[n - 1] == '\r')
            l[--n] = 0;
        if (n == 0)
            break; /* the empty line */
        if (l[0] == ' ' || l[0] == '\t')
            return head_fail(h, err, err_size, 400, "obsolete header line folding");
        char *colon = strchr(l, ':');
        if (!colon || colon == l)
            return head_fail(h, err, err_size, 400, "malformed header line");
        *colon = 0;
        for (const char *p = l; *p; p++)
            if (!is_tchar((unsigned char)*p))
                return head_fail(h, err, err_size, 400, "malformed header name");
        if (h->nheaders >= RMQ_HTTP_MAX_HEADERS)
            return head_fail(h, err, err_size, 431, "too many header fields");
        char *v = trim(colon + 1);
        h->headers[h->nheaders].name = l;
        h->headers[h->nheaders].value = v;
        h->nheaders++;
        if (!strcasecmp(l, "Content-Length")) {
            char *endp = NULL;
            if (!*v || !isdigit((unsigned char)v[0]))
                return head_fail(h, err, err_size, 400, "malformed Content-Length");
            long long cl = strtoll(v, &endp, 10);
            if (*endp || cl < 0 || (have_cl && cl != h->content_length) || strlen(v) > 18)
                return head_fail(h, err, err_size, 400, "malformed Content-Length");
            have_cl = true;
            h->content_length = cl;
        } else if (!strcasecmp(l, "Transfer-Encoding")) {
            return head_fail(h, err, err_size, 501,
                             "Transfer-Encoding is not supported: send a Content-Length");
        } else if (!strcasecmp(l, "Connection")) {
            if (has_token(v, "close"))
                h->keep_alive = false;
            else if (has_token(v, "keep-alive"))
                h->keep_alive = true;
        }
    }
    if (h->content_length > max_body)
        return head_fail(h, err, err_size, 413, "request body too large");
    return (long)end;
}

void rmq_http_head_free(rmq_http_head_t *h)
{
    free(h->text);
    h->text = NULL;
}

const char *rmq_http_head_get(const rmq_http_head_t *h, const char *name)
{
    for (int i = 0; i < h->nheaders; i++)
        if (!strcasecmp(h->headers[i].name, name))
            return h->headers[i].value;
    return NULL;
}

/* ---- targets ---- */

/* Decode s[0..n) into out (NUL-terminated); false on bad %-escapes or NUL. */
static bool pct_decode(const char *s, size_t n, bool plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false; /* needs two hex digits */
            int hi = rmq_hexval(s[i + 1]), lo = rmq_hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            if (c == 0)
                return false;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = 0;
    return true;
}

bool rmq_http_target_parse(const char *target, rmq_http_target_t *t, char *err, size_t err_size)
{
    memset(t, 0, sizeof(*t));
    size_t n = strlen(target);
    if (!n || target[0] != '/') {
        snprintf(err, err_size, "the path must start with /");
        return false;
    }
    /* decoded text never exceeds the encoded length; one NUL per piece */
    t->text = rmq_malloc(n + 2 * RMQ_HTTP_MAX_PARAMS + 2);
    char *w = t->text;
    const char *q = strchr(target, '?');
    size_t plen = q ? (size_t)(q - target) : n;
    if (!pct_decode(target, plen, false, w)) {
        snprintf(err, err_size, "malformed percent-encoding in the path");
        rmq_http_target_free(t);
        return false;
    }
    t->path = w;
    if (strstr(w, "/../") || (strlen(w) >= 3 && !strcmp(w + strlen(w) - 3, "/..")) || !strcmp(w, "/..")) {
        snprintf(err, err_size, "\"..\" is not allowed in the path");
        rmq_http_target_free(t);
        return false;
    }
    w += strlen(w) + 1;
    if (!q)
        return true;
    const char *p = q + 1;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            if (t->nparams >= RMQ_HTTP_MAX_PARAMS) {
                snprintf(err, err_size, "more than %d query parameters", RMQ_HTTP_MAX_PARAMS);
                rmq_http_target_free(t);
                return false;
            }
            const char *eq = memchr(p, '=', len);
            size_t kl = eq ? (size_t)(eq - p) : len;
            if (!pct_decode(p, kl, true, w)) {
                snprintf(err, err_size, "malformed percent-encoding in a query parameter name");
                rmq_http_target_free(t);
                return false;
            }
            t->pname[t->nparams] = w;
            w += strlen(w) + 1;
            const char *v = eq ? eq + 1 : p + len;
            size_t vl = eq ? len - kl - 1 : 0;
            if (!pct_decode(v, vl, true, w)) {
                snprintf(err, err_size, "malformed percent-encoding in query parameter \"%s\"",
                         t->pname[t->nparams]);
                rmq_http_target_free(t);
                return false;
            }
            t->pvalue[t->nparams] = w;
            w += strlen(w) + 1;
            t->nparams++;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    return true;
}

void rmq_http_target_free(rmq_http_target_t *t)
{
    free(t->text);
    t->text = NULL;
}

const char *rmq_http_target_param(const rmq_http_target_t *t, const char *name)
{
    for (int i = 0; i < t->nparams; i++)
        if (!strcmp(t->pname[i], name))
            return t->pvalue[i];
    return NULL;
}
