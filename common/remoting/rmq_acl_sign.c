/* rmq_acl_sign.c - ACL signatures (see rmq_acl_sign.h): the Java string
 * rules (UTF-8 round trip, UTF-16 key order), the signed content, HMAC-SHA1
 * through OpenSSL's EVP_MAC and Base64.
 * Any thread: each thread keeps one HMAC context (freed at thread exit). */
#include "rmq_acl_sign.h"

#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"

/* ---------- Java's UTF-8 decode (REPLACE) + encode ---------- */

static const uint8_t REPL[3] = {0xef, 0xbf, 0xbd};

static bool cont(uint8_t b)
{
    return (b & 0xc0) == 0x80;
}

static bool all_ascii(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] & 0x80)
            return false;
    return true;
}

/* The JDK decoder (String(byte[], UTF_8)) replaces each malformed sequence by
 * one U+FFFD and resumes at the first byte that cannot continue it. Encoded
 * surrogates (ED A0..BF xx) decode to a surrogate char, which it replaces as
 * a whole; at the end of the input a truncated but so far valid sequence is
 * one U+FFFD. Verified against the JDK by tests/data/acl/utf8_roundtrip.txt. */
void rmq_acl_java_utf8(const void *data, size_t n, rmq_buf_t *out)
{
    const uint8_t *s = data;
    if (all_ascii(s, n)) {
        rmq_buf_put(out, s, n);
        return;
    }
    size_t i = 0;
    while (i < n) {
        uint8_t b1 = s[i++];
        if (b1 < 0x80) {
            rmq_buf_put(out, &b1, 1);
        } else if (b1 >= 0xc2 && b1 <= 0xdf) { /* two bytes */
            if (i < n && cont(s[i])) {
                rmq_buf_put(out, s + i - 1, 2);
                i++;
            } else {
                rmq_buf_put(out, REPL, 3);
                if (i >= n)
                    break;
            }
        } else if (b1 >= 0xe0 && b1 <= 0xef) { /* three bytes */
            bool overlong2 = false;
            if (i < n)
                overlong2 = b1 == 0xe0 && (s[i] & 0xe0) == 0x80;
            if (i + 1 < n) {
                uint8_t b2 = s[i], b3 = s[i + 1];
                if (overlong2 || !cont(b2) || !cont(b3)) {
                    rmq_buf_put(out, REPL, 3);
                    /* skip b1, and b2 too when it could continue b1 */
                    if (!overlong2 && cont(b2))
                        i++;
                } else {
                    if (b1 == 0xed && b2 >= 0xa0) /* a surrogate */
                        rmq_buf_put(out, REPL, 3);
                    else
                        rmq_buf_put(out, s + i - 1, 3);
                    i += 2;
                }
                continue;
            }
            /* one byte or none left */
            if (i < n && (overlong2 || !cont(s[i]))) {
                rmq_buf_put(out, REPL, 3);
                continue;
            }
            rmq_buf_put(out, REPL, 3);
            break;
        } else if (b1 >= 0xf0 && b1 <= 0xf7) { /* four bytes */
            if (i + 2 < n) {
                uint8_t b2 = s[i], b3 = s[i + 1], b4 = s[i + 2];
                uint32_t cp = ((uint32_t)(b1 & 0x07) << 18) | ((uint32_t)(b2 & 0x3f) << 12) |
                              ((uint32_t)(b3 & 0x3f) << 6) | (uint32_t)(b4 & 0x3f);
                if (!cont(b2) || !cont(b3) || !cont(b4) || cp < 0x10000 || cp > 0x10ffff) {
                    rmq_buf_put(out, REPL, 3);
                    bool bad2 = b1 > 0xf4 || (b1 == 0xf0 && (b2 < 0x90 || b2 > 0xbf)) ||
                                (b1 == 0xf4 && (b2 & 0xf0) != 0x80) || !cont(b2);
                    if (!bad2)
                        i += cont(b3) ? 2 : 1;
                } else {
                    rmq_buf_put(out, s + i - 1, 4);
                    i += 3;
                }
                continue;
            }
            /* fewer than three bytes left */
            if (b1 > 0xf4 || (i < n && ((b1 == 0xf0 && (s[i] < 0x90 || s[i] > 0xbf)) ||
                                        (b1 == 0xf4 && (s[i] & 0xf0) != 0x80) || !cont(s[i])))) {
                rmq_buf_put(out, REPL, 3);
                continue;
            }
            i++;
            rmq_buf_put(out, REPL, 3);
            if (i < n && !cont(s[i]))
                continue;
            break;
        } else { /* 80..C1, F8..FF */
            rmq_buf_put(out, REPL, 3);
        }
    }
}

/* ---------- Java String order ---------- */

/* Next UTF-16 code unit of a valid UTF-8 string; *pending holds the low
 * surrogate of a supplementary character. 0 at the end. */
static unsigned next_unit(const uint8_t **pp, unsigned *pending)
{
    if (*pending) {
        unsigned u = *pending;
        *pending = 0;
        return u;
    }
    const uint8_t *p = *pp;
    uint32_t cp;
    if (!*p)
        return 0;
    if (p[0] < 0x80) {
        cp = p[0];
        p += 1;
    } else if ((p[0] & 0xe0) == 0xc0 && p[1]) {
        cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
        p += 2;
    } else if ((p[0] & 0xf0) == 0xe0 && p[1] && p[2]) {
        cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        p += 3;
    } else if ((p[0] & 0xf8) == 0xf0 && p[1] && p[2] && p[3]) {
        cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
             ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
        p += 4;
    } else { /* not valid UTF-8 (callers normalise first): byte order */
        cp = p[0];
        p += 1;
    }
    *pp = p;
    if (cp >= 0x10000) {
        cp -= 0x10000;
        *pending = 0xdc00 + (cp & 0x3ff);
        return 0xd800 + (cp >> 10);
    }
    return cp ? cp : 0xfffe0000u; /* never 0: NUL cannot occur in a C string */
}

int rmq_acl_java_strcmp(const char *a, const char *b)
{
    const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
    unsigned qa = 0, qb = 0;
    for (;;) {
        /* fast path: identical ASCII prefix */
        if (!qa && !qb && *pa == *pb && *pa && *pa < 0x80) {
            pa++;
            pb++;
            continue;
        }
        unsigned ua = next_unit(&pa, &qa), ub = next_unit(&pb, &qb);
        if (ua != ub)
            return ua < ub ? -1 : 1;
        if (!ua)
            return 0;
    }
}

/* ---------- content ---------- */

typedef struct {
    const char *key; /* normalised */
    const char *val;
    size_t val_len;
} field_t;

static int field_cmp(const void *x, const void *y)
{
    return rmq_acl_java_strcmp(((const field_t *)x)->key, ((const field_t *)y)->key);
}

static bool excluded(const char *key, rmq_acl_side_t side)
{
    return strcmp(key, RMQ_ACL_SIGNATURE) == 0 ||
           (side == RMQ_ACL_SIDE_BROKER && strcmp(key, RMQ_ACL_UNIQUE_KEY_QUERY) == 0);
}

/* Values in key order, each in Java's normal form. */
static void header_part(const rmq_cmd_t *cmd, rmq_acl_side_t side, rmq_buf_t *out)
{
    if (!cmd->ext_n)
        return;
    field_t stack_fields[32];
    field_t *f = cmd->ext_n <= 32 ? stack_fields : rmq_malloc(cmd->ext_n * sizeof(*f));
    rmq_buf_t norm; /* normalised keys/values that were not plain ASCII */
    rmq_buf_init(&norm);
    /* offsets into norm are fixed up after it stops growing */
    size_t *key_off = NULL;
    size_t n = 0;
    bool any_norm = false;
    for (size_t i = 0; i < cmd->ext_n; i++) {
        const char *k = cmd->ext[i].key, *v = cmd->ext[i].val;
        if (excluded(k, side))
            continue;
        f[n].key = k;
        f[n].val = v;
        f[n].val_len = strlen(v);
        size_t kl = strlen(k);
        if (!all_ascii((const uint8_t *)k, kl) || !all_ascii((const uint8_t *)v, f[n].val_len)) {
            if (!key_off)
                key_off = rmq_calloc(cmd->ext_n * 2, sizeof(*key_off));
            any_norm = true;
            key_off[2 * n] = norm.len + 1; /* +1: 0 means "not normalised" */
            rmq_acl_java_utf8(k, kl, &norm);
            rmq_buf_putc(&norm, '\0');
            key_off[2 * n + 1] = norm.len + 1;
            rmq_acl_java_utf8(v, f[n].val_len, &norm);
            rmq_buf_putc(&norm, '\0');
        }
        n++;
    }
    if (any_norm) {
        for (size_t i = 0; i < n; i++) {
            if (!key_off[2 * i])
                continue;
            f[i].key = (const char *)norm.data + key_off[2 * i] - 1;
            f[i].val = (const char *)norm.data + key_off[2 * i + 1] - 1;
            f[i].val_len = strlen(f[i].val);
        }
    }
    qsort(f, n, sizeof(*f), field_cmp);
    for (size_t i = 0; i < n; i++)
        rmq_buf_put(out, f[i].val, f[i].val_len);
    free(key_off);
    rmq_buf_free(&norm);
    if (f != stack_fields)
        free(f);
}

void rmq_acl_content(const rmq_cmd_t *cmd, rmq_acl_side_t side, rmq_buf_t *out)
{
    header_part(cmd, side, out);
    if (cmd->body_len)
        rmq_buf_put(out, cmd->body, cmd->body_len);
}

/* ---------- HMAC-SHA1 + Base64 ---------- */

static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_ctx_key;

static void free_ctx(void *p)
{
    EVP_MAC_CTX_free(p);
}

static void init_once(void)
{
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    pthread_key_create(&g_ctx_key, free_ctx);
}

/* This thread's HMAC-SHA1 context (the digest is bound once; each use only
 * sets the key). */
static EVP_MAC_CTX *thread_ctx(void)
{
    pthread_once(&g_once, init_once);
    if (!g_hmac)
        return NULL;
    EVP_MAC_CTX *ctx = pthread_getspecific(g_ctx_key);
    if (ctx)
        return ctx;
    ctx = EVP_MAC_CTX_new(g_hmac);
    if (!ctx)
        return NULL;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_CTX_set_params(ctx, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    pthread_setspecific(g_ctx_key, ctx);
    return ctx;
}

bool rmq_acl_hmac_b64(const char *secret, const void *part1, size_t len1, const void *part2, size_t len2,
                      char sig[RMQ_ACL_SIG_LEN + 1])
{
    sig[0] = '\0';
    EVP_MAC_CTX *ctx = thread_ctx();
    if (!ctx)
        return false;
    /* an empty key is legal HMAC; OpenSSL wants a non-NULL pointer */
    static const unsigned char empty = 0;
    size_t kl = strlen(secret);
    if (!EVP_MAC_init(ctx, kl ? (const unsigned char *)secret : &empty, kl, NULL))
        return false;
    if ((len1 && !EVP_MAC_update(ctx, part1, len1)) || (len2 && !EVP_MAC_update(ctx, part2, len2)))
        return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t ml = 0;
    if (!EVP_MAC_final(ctx, mac, &ml, sizeof(mac)) || ml != 20)
        return false;
    EVP_EncodeBlock((unsigned char *)sig, mac, (int)ml);
    return true;
}

bool rmq_acl_signature(const rmq_cmd_t *cmd, rmq_acl_side_t side, const char *secret,
                       char sig[RMQ_ACL_SIG_LEN + 1])
{
    rmq_buf_t h;
    rmq_buf_init(&h);
    header_part(cmd, side, &h);
    bool ok = rmq_acl_hmac_b64(secret, h.data, h.len, cmd->body, cmd->body_len, sig);
    rmq_buf_free(&h);
    return ok;
}

void rmq_acl_sign(rmq_cmd_t *cmd, const char *access_key, const char *secret_key, const char *token,
                  rmq_acl_side_t side)
{
    rmq_cmd_set_ext(cmd, RMQ_ACL_ACCESS_KEY, access_key);
    if (token && *token)
        rmq_cmd_set_ext(cmd, RMQ_ACL_SECURITY_TOKEN, token);
    char sig[RMQ_ACL_SIG_LEN + 1];
    if (!rmq_acl_signature(cmd, side, secret_key, sig))
        sig[0] = '\0'; /* the broker will refuse it, with a reason */
    rmq_cmd_set_ext(cmd, RMQ_ACL_SIGNATURE, sig);
}

bool rmq_acl_sig_equal(const char *a, const char *b)
{
    if (!a || !b)
        return false;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return false;
    return CRYPTO_memcmp(a, b, la) == 0;
}
