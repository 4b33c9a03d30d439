/* msgjson.c - stored messages as JSON for the console API, with every
 * message-derived string sanitised to valid UTF-8 (see msgjson.h).
 * Thread: any. */
#include "msgjson.h"

#include <arpa/inet.h>
#include <openssl/evp.h> /* EVP_EncodeBlock: the base64 of binary bodies */
#include <stdio.h>
#include <stdlib.h>

#include "rmq_buf.h"
#include "rmq_json.h"

json_t *mc_jstr(const char *p, size_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    size_t i = 0;
    /* fast path: already valid UTF-8 */
    while (i < n) {
        uint32_t cp;
        size_t l = s[i] < 0x80 ? 1 : rmq_utf8_decode(s + i, n - i, &cp);
        if (!l)
            break;
        i += l;
    }
    if (i == n)
        return json_stringn(p, n);
    rmq_buf_t b;
    rmq_buf_init(&b);
    i = 0;
    while (i < n) {
        uint32_t cp;
        size_t l = s[i] < 0x80 ? 1 : rmq_utf8_decode(s + i, n - i, &cp);
        if (l) {
            rmq_buf_put(&b, s + i, l);
            i += l;
        } else {
            rmq_buf_puts(&b, "\xEF\xBF\xBD");
            i++;
        }
    }
    json_t *j = json_stringn((const char *)b.data, b.len);
    rmq_buf_free(&b);
    return j ? j : json_string("");
}

void mc_host_str(const rmq_msg_host_t *h, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (h->v6) {
        inet_ntop(AF_INET6, h->addr, ip, sizeof(ip));
        snprintf(out, n, "[%s]:%d", ip, h->port);
    } else {
        inet_ntop(AF_INET, h->addr, ip, sizeof(ip));
        snprintf(out, n, "%s:%d", ip, h->port);
    }
}

static bool valid_text(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] == 0)
            return false;
        uint32_t cp;
        size_t l = s[i] < 0x80 ? 1 : rmq_utf8_decode(s + i, n - i, &cp);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

/* Longest prefix of at most max bytes that does not cut a UTF-8 sequence. */
static size_t utf8_prefix(const uint8_t *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t k = max;
    while (k > 0 && (s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

static json_t *base64(const uint8_t *s, size_t n)
{
    char *o = malloc((n + 2) / 3 * 4 + 1);
    int k = EVP_EncodeBlock((unsigned char *)o, s, (int)n); /* n: at most maxBodyBytes */
    json_t *j = json_stringn(o, (size_t)k);
    free(o);
    return j;
}

static void set_prop(json_t *o, const char *key, const char *props, size_t plen, const char *name)
{
    const char *v;
    size_t vl;
    if (rmq_msg_props_find(props, plen, name, &v, &vl))
        json_object_set_new(o, key, mc_jstr(v, vl));
}

json_t *mc_msg_json(const rmq_msg_rec_t *r, const char *broker, bool full, size_t max_body)
{
    json_t *o = json_object();
    char off_id[RMQ_MSG_ID_MAX];
    rmq_msg_id_create(off_id, &r->store_host, r->commitlog_offset);
    const char *uniq;
    size_t ul;
    if (rmq_msg_props_find(r->props, r->props_len, RMQ_PROP_UNIQ_KEY, &uniq, &ul))
        json_object_set_new(o, "msgId", mc_jstr(uniq, ul));
    else
        json_object_set_new(o, "msgId", json_string(off_id));
    json_object_set_new(o, "offsetMsgId", json_string(off_id));
    json_object_set_new(o, "topic", mc_jstr(r->topic, r->topic_len));
    if (broker)
        json_object_set_new(o, "brokerName", mc_jstr0(broker));
    json_object_set_new(o, "queueId", json_integer(r->queue_id));
    json_object_set_new(o, "queueOffset", json_integer(r->queue_offset));
    json_object_set_new(o, "storeTimestamp", json_integer(r->store_timestamp));
    json_object_set_new(o, "bornTimestamp", json_integer(r->born_timestamp));
    json_object_set_new(o, "reconsumeTimes", json_integer(r->reconsume_times));
    json_object_set_new(o, "bodySize", json_integer(r->body_len));
    set_prop(o, "tags", r->props, r->props_len, RMQ_PROP_TAGS);
    set_prop(o, "keys", r->props, r->props_len, RMQ_PROP_KEYS);
    /* the body, inflated when compressed (bounded: a zip bomb stops at max) */
    rmq_buf_t inflated;
    rmq_buf_init(&inflated);
    const uint8_t *body = r->body;
    size_t blen = r->body_len > 0 ? (size_t)r->body_len : 0;
    bool compressed = (r->sys_flag & RMQ_SYSFLAG_COMPRESSED) != 0;
    bool truncated = false;
    if (compressed && blen) {
        rmq_err_t e = rmq_msg_inflate(body, blen, &inflated, max_body + 1);
        if (e == RMQ_OK || e == RMQ_ERR__TOO_LARGE) {
            body = inflated.data;
            blen = inflated.len;
        }
    }
    size_t limit = full ? max_body : 256;
    size_t shown = utf8_prefix(body, blen, limit);
    truncated = shown < blen;
    if (valid_text(body, shown)) {
        json_object_set_new(o, "body", mc_jstr((const char *)body, shown));
        json_object_set_new(o, "bodyEncoding", json_string("text"));
    } else {
        size_t raw = blen < limit ? blen : limit;
        json_object_set_new(o, "body", base64(body, raw));
        json_object_set_new(o, "bodyEncoding", json_string("base64"));
        truncated = raw < blen;
    }
    json_object_set_new(o, "bodyTruncated", json_boolean(truncated));
    if (full) {
        char host[80];
        mc_host_str(&r->born_host, host, sizeof(host));
        json_object_set_new(o, "bornHost", json_string(host));
        mc_host_str(&r->store_host, host, sizeof(host));
        json_object_set_new(o, "storeHost", json_string(host));
        json_object_set_new(o, "commitLogOffset", json_integer(r->commitlog_offset));
        json_object_set_new(o, "sysFlag", json_integer(r->sys_flag));
        json_object_set_new(o, "flag", json_integer(r->flag));
        json_object_set_new(o, "bodyCRC", json_integer(r->body_crc));
        json_object_set_new(o, "compressed", json_boolean(compressed));
        json_object_set_new(o, "inflatedSize", json_integer((json_int_t)blen));
        json_t *props = json_object();
        rmq_msg_props_t p;
        rmq_msg_props_init(&p);
        rmq_msg_props_parse(&p, r->props, r->props_len);
        for (size_t i = 0; i < p.n; i++) {
            /* keys are untrusted too: sanitise them before they become object keys */
            json_t *k = mc_jstr0(p.items[i].key);
            json_object_set_new(props, json_string_value(k), mc_jstr0(p.items[i].value));
            json_decref(k);
        }
        rmq_msg_props_free(&p);
        json_object_set_new(o, "properties", props);
    }
    rmq_buf_free(&inflated);
    return o;
}
