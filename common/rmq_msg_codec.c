/* rmq_msg_codec.c - stored-message record codec (docs/protocol.md §4.5, §5.1-5.6).
 *
 * Owns: the byte layout of commit-log records, properties strings, offset
 * message ids and batch bodies. Runs on any thread (pure functions).
 * Must never: do I/O, keep state, or trust a length field before checking it
 * against the bytes actually available. */
#include "rmq_msg_codec.h"

#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include <zlib.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_json.h"

static size_t host_len(bool v6)
{
    return v6 ? 20 : 8;
}

size_t rmq_msg_rec_size(bool born_v6, bool store_v6, size_t body_len, size_t topic_len, size_t props_len)
{
    return 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + host_len(born_v6) + 8 + host_len(store_v6) + 4 + 8 + 4 +
           body_len + 1 + topic_len + 2 + props_len;
}

static uint8_t *put_host(uint8_t *w, const rmq_msg_host_t *h)
{
    size_t n = h->v6 ? 16 : 4;
    memcpy(w, h->addr, n);
    w += n;
    rmq_wbe32(w, (uint32_t)h->port);
    return w + 4;
}

size_t rmq_msg_encode(uint8_t *dst, const rmq_msg_rec_t *rec)
{
    size_t total = rmq_msg_rec_size(rec->born_host.v6, rec->store_host.v6, (size_t)rec->body_len,
                                    rec->topic_len, rec->props_len);
    int32_t sys_flag = rec->sys_flag & ~(RMQ_SYSFLAG_BORNHOST_V6 | RMQ_SYSFLAG_STOREHOST_V6);
    if (rec->born_host.v6)
        sys_flag |= RMQ_SYSFLAG_BORNHOST_V6;
    if (rec->store_host.v6)
        sys_flag |= RMQ_SYSFLAG_STOREHOST_V6;
    uint8_t *w = dst;
    rmq_wbe32(w, (uint32_t)total), w += 4;
    rmq_wbe32(w, RMQ_MSG_MAGIC), w += 4;
    rmq_wbe32(w, (uint32_t)rec->body_crc), w += 4;
    rmq_wbe32(w, (uint32_t)rec->queue_id), w += 4;
    rmq_wbe32(w, (uint32_t)rec->flag), w += 4;
    rmq_wbe64(w, (uint64_t)rec->queue_offset), w += 8;
    rmq_wbe64(w, (uint64_t)rec->commitlog_offset), w += 8;
    rmq_wbe32(w, (uint32_t)sys_flag), w += 4;
    rmq_wbe64(w, (uint64_t)rec->born_timestamp), w += 8;
    w = put_host(w, &rec->born_host);
    rmq_wbe64(w, (uint64_t)rec->store_timestamp), w += 8;
    w = put_host(w, &rec->store_host);
    rmq_wbe32(w, (uint32_t)rec->reconsume_times), w += 4;
    rmq_wbe64(w, (uint64_t)rec->prepared_transaction_offset), w += 8;
    rmq_wbe32(w, (uint32_t)rec->body_len), w += 4;
    if (rec->body_len > 0)
        memcpy(w, rec->body, (size_t)rec->body_len), w += rec->body_len;
    *w++ = (uint8_t)rec->topic_len;
    memcpy(w, rec->topic, rec->topic_len), w += rec->topic_len;
    rmq_wbe16(w, (uint16_t)rec->props_len), w += 2;
    if (rec->props_len > 0)
        memcpy(w, rec->props, rec->props_len), w += rec->props_len;
    rmq_assert((size_t)(w - dst) == total);
    return total;
}

static void rd_host(rmq_rd_t *r, bool v6, rmq_msg_host_t *h)
{
    memset(h, 0, sizeof(*h));
    h->v6 = v6;
    const uint8_t *a = rmq_rd_bytes(r, v6 ? 16 : 4);
    if (a)
        memcpy(h->addr, a, v6 ? 16 : 4);
    h->port = (int32_t)rmq_rd_u32(r);
}

/* An int32 length and that many bytes (the body of a record or of a batch
 * item). A negative length is corrupt: r->err is set and NULL returned. */
static const uint8_t *rd_body(rmq_rd_t *r, int32_t *len)
{
    *len = (int32_t)rmq_rd_u32(r);
    if (*len >= 0)
        return rmq_rd_bytes(r, (size_t)*len);
    r->err = true;
    return NULL;
}

static rmq_err_t decode_impl(const uint8_t *p, size_t len, bool check_crc, bool lenient, rmq_msg_rec_t *out,
                             size_t *consumed)
{
    rmq_rd_t r;
    if (len < 8)
        return RMQ_ERR__CORRUPT;
    int32_t total = (int32_t)rmq_be32(p);
    if (!lenient && (total < 91 || (size_t)total > len))
        return RMQ_ERR__CORRUPT;
    rmq_rd_init(&r, p, lenient ? len : (size_t)total);
    memset(out, 0, sizeof(*out));
    out->total_size = (int32_t)rmq_rd_u32(&r);
    out->magic = rmq_rd_u32(&r);
    if (out->magic != RMQ_MSG_MAGIC)
        return RMQ_ERR__CORRUPT;
    out->body_crc = (int32_t)rmq_rd_u32(&r);
    out->queue_id = (int32_t)rmq_rd_u32(&r);
    out->flag = (int32_t)rmq_rd_u32(&r);
    out->queue_offset = (int64_t)rmq_rd_u64(&r);
    out->commitlog_offset = (int64_t)rmq_rd_u64(&r);
    out->sys_flag = (int32_t)rmq_rd_u32(&r);
    out->born_timestamp = (int64_t)rmq_rd_u64(&r);
    rd_host(&r, (out->sys_flag & RMQ_SYSFLAG_BORNHOST_V6) != 0, &out->born_host);
    out->store_timestamp = (int64_t)rmq_rd_u64(&r);
    rd_host(&r, (out->sys_flag & RMQ_SYSFLAG_STOREHOST_V6) != 0, &out->store_host);
    out->reconsume_times = (int32_t)rmq_rd_u32(&r);
    out->prepared_transaction_offset = (int64_t)rmq_rd_u64(&r);
    out->body = rd_body(&r, &out->body_len);
    out->topic_len = rmq_rd_u8(&r);
    out->topic = (const char *)rmq_rd_bytes(&r, out->topic_len);
    out->props_len = rmq_rd_u16(&r);
    out->props = (const char *)rmq_rd_bytes(&r, out->props_len);
    if (r.err || (!lenient && r.pos != (size_t)total))
        return RMQ_ERR__CORRUPT;
    if (check_crc && out->body_crc != rmq_msg_body_crc(out->body, (size_t)out->body_len))
        return RMQ_ERR__CORRUPT;
    if (consumed)
        *consumed = r.pos;
    return RMQ_OK;
}

rmq_err_t rmq_msg_decode(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t *out)
{
    return decode_impl(p, len, check_crc, false, out, NULL);
}

rmq_err_t rmq_msg_decode_lenient(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t *out,
                                 size_t *consumed)
{
    return decode_impl(p, len, check_crc, true, out, consumed);
}

rmq_msg_check_t rmq_msg_check(const uint8_t *p, size_t avail, bool check_crc, int32_t max_size,
                              rmq_msg_rec_t *out)
{
    if (avail < 8)
        return RMQ_MSG_CHECK_END;
    int32_t total = (int32_t)rmq_be32(p);
    uint32_t magic = rmq_be32(p + 4);
    if (magic == RMQ_MSG_BLANK_MAGIC)
        return RMQ_MSG_CHECK_BLANK;
    if (magic != RMQ_MSG_MAGIC)
        return (total == 0 && magic == 0) ? RMQ_MSG_CHECK_END : RMQ_MSG_CHECK_CORRUPT;
    if (total <= 0 || (max_size > 0 && total > max_size) || (size_t)total > avail)
        return RMQ_MSG_CHECK_CORRUPT;
    if (rmq_msg_decode(p, (size_t)total, check_crc, out) != RMQ_OK)
        return RMQ_MSG_CHECK_CORRUPT;
    return RMQ_MSG_CHECK_RECORD;
}

rmq_err_t rmq_msg_decode_all(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t **recs, size_t *n)
{
    size_t cap = 8, cnt = 0, pos = 0;
    rmq_msg_rec_t *arr = rmq_malloc(cap * sizeof(*arr));
    while (pos < len) {
        if (cnt == cap) {
            cap *= 2;
            arr = rmq_realloc(arr, cap * sizeof(*arr));
        }
        size_t used = 0;
        if (decode_impl(p + pos, len - pos, check_crc, true, &arr[cnt], &used) != RMQ_OK) {
            free(arr);
            *recs = NULL;
            *n = 0;
            return RMQ_ERR__CORRUPT;
        }
        pos += used;
        cnt++;
    }
    *recs = arr;
    *n = cnt;
    return RMQ_OK;
}

int32_t rmq_msg_body_crc(const void *body, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const uint8_t *b = body;
    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        c = crc32(c, b, chunk);
        b += chunk;
        len -= chunk;
    }
    return (int32_t)(c & 0x7FFFFFFF);
}

int64_t rmq_msg_tags_code(const char *tags, size_t len)
{
    if (!tags || len == 0)
        return 0;
    return (int64_t)rmq_java_hash(tags, len);
}

rmq_err_t rmq_msg_inflate(const void *in, size_t len, rmq_buf_t *out, size_t max_out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        return RMQ_ERR__NOMEM;
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    size_t produced = 0;
    rmq_err_t err = RMQ_OK;
    for (;;) {
        rmq_buf_reserve(out, 16384);
        zs.next_out = out->data + out->len;
        zs.avail_out = (uInt)(out->cap - out->len);
        uInt before = zs.avail_out;
        int rc = inflate(&zs, Z_NO_FLUSH);
        size_t got = before - zs.avail_out;
        out->len += got;
        produced += got;
        if (max_out && produced > max_out) {
            err = RMQ_ERR__TOO_LARGE;
            break;
        }
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK || (got == 0 && zs.avail_in == 0)) {
            err = RMQ_ERR__CORRUPT;
            break;
        }
    }
    inflateEnd(&zs);
    return err;
}

/* ---- message ids ---- */

static const char HEX[] = "0123456789ABCDEF";

size_t rmq_msg_id_create(char *out, const rmq_msg_host_t *h, int64_t off)
{
    uint8_t raw[28];
    size_t n = h->v6 ? 16 : 4;
    memcpy(raw, h->addr, n);
    rmq_wbe32(raw + n, (uint32_t)h->port);
    rmq_wbe64(raw + n + 4, (uint64_t)off);
    n += 12;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[raw[i] >> 4];
        out[2 * i + 1] = HEX[raw[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

rmq_err_t rmq_msg_id_parse(const char *id, size_t len, rmq_msg_host_t *h, int64_t *off)
{
    uint8_t raw[28];
    if (len != 32 && len != 56)
        return RMQ_ERR__INVALID_ARG;
    for (size_t i = 0; i < len / 2; i++) {
        int a = rmq_hexval(id[2 * i]), b = rmq_hexval(id[2 * i + 1]);
        if (a < 0 || b < 0)
            return RMQ_ERR__INVALID_ARG;
        raw[i] = (uint8_t)(a << 4 | b);
    }
    memset(h, 0, sizeof(*h));
    h->v6 = len == 56;
    size_t n = h->v6 ? 16 : 4;
    memcpy(h->addr, raw, n);
    h->port = (int32_t)rmq_be32(raw + n);
    *off = (int64_t)rmq_be64(raw + n + 4);
    return RMQ_OK;
}

/* ---- properties ---- */

void rmq_msg_props_init(rmq_msg_props_t *p)
{
    memset(p, 0, sizeof(*p));
}

void rmq_msg_props_free(rmq_msg_props_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].key);
        free(p->items[i].value);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static ssize_t props_index(const rmq_msg_props_t *p, const char *key)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return (ssize_t)i;
    return -1;
}

static void props_set_n(rmq_msg_props_t *p, const char *k, size_t kl, const char *v, size_t vl)
{
    char *key = rmq_strndup(k, kl);
    ssize_t i = props_index(p, key);
    if (i >= 0) {
        free(key);
        free(p->items[i].value);
        p->items[i].value = rmq_strndup(v, vl);
        return;
    }
    p->items = rmq_array_grow(p->items, p->n, &p->cap, 8, sizeof(*p->items));
    p->items[p->n].key = key;
    p->items[p->n].value = rmq_strndup(v, vl);
    p->n++;
}

/* Iterate pairs with Java's decode rules. Returns false when done. */
typedef struct {
    const char *s;
    size_t len, pos;
} props_it_t;

static bool props_next(props_it_t *it, const char **k, size_t *kl, const char **v, size_t *vl)
{
    while (it->pos < it->len) {
        const char *seg = it->s + it->pos;
        const char *end = memchr(seg, RMQ_PROP_PAIR_SEP, it->len - it->pos);
        size_t sl = end ? (size_t)(end - seg) : it->len - it->pos;
        it->pos += sl + (end ? 1 : 0);
        if (sl < 3)
            continue;
        const char *eq = memchr(seg, RMQ_PROP_NAME_SEP, sl);
        if (!eq || eq == seg || eq == seg + sl - 1)
            continue;
        *k = seg;
        *kl = (size_t)(eq - seg);
        *v = eq + 1;
        *vl = sl - *kl - 1;
        return true;
    }
    return false;
}

void rmq_msg_props_parse(rmq_msg_props_t *p, const char *s, size_t len)
{
    props_it_t it = {s, len, 0};
    const char *k, *v;
    size_t kl, vl;
    while (props_next(&it, &k, &kl, &v, &vl))
        props_set_n(p, k, kl, v, vl);
}

void rmq_msg_props_parse_inplace(rmq_msg_props_t *p, char *s, size_t len, rmq_msg_prop_t *items, size_t cap)
{
    if (p->items != items) {
        rmq_assert(p->n == 0);
        p->items = items;
    }
    p->cap = cap;
    props_it_t it = {s, len, 0};
    const char *k, *v;
    size_t kl, vl;
    while (props_next(&it, &k, &kl, &v, &vl)) {
        char *key = s + (k - s), *val = s + (v - s);
        key[kl] = '\0'; /* the NAME separator */
        val[vl] = '\0'; /* the PAIR separator, or s[len] */
        ssize_t i = props_index(p, key);
        if (i >= 0) {
            p->items[i].value = val; /* later duplicates win */
            continue;
        }
        rmq_assert(p->n < cap);
        p->items[p->n].key = key;
        p->items[p->n].value = val;
        p->n++;
    }
}

size_t rmq_msg_props_max_pairs(const char *s, size_t len)
{
    size_t n = 1;
    const char *e = s + len;
    while (s < e && (s = memchr(s, RMQ_PROP_PAIR_SEP, (size_t)(e - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}

bool rmq_msg_props_find(const char *s, size_t len, const char *key, const char **val, size_t *vlen)
{
    props_it_t it = {s, len, 0};
    const char *k, *v;
    size_t kl, vl, keyl = strlen(key);
    bool found = false;
    while (props_next(&it, &k, &kl, &v, &vl)) {
        if (kl == keyl && memcmp(k, key, kl) == 0) {
            *val = v;
            *vlen = vl;
            found = true;
        }
    }
    return found;
}

const char *rmq_msg_props_get(const rmq_msg_props_t *p, const char *key)
{
    ssize_t i = props_index(p, key);
    return i >= 0 ? p->items[i].value : NULL;
}

void rmq_msg_props_set(rmq_msg_props_t *p, const char *key, const char *value)
{
    props_set_n(p, key, strlen(key), value, strlen(value));
}

bool rmq_msg_props_del(rmq_msg_props_t *p, const char *key)
{
    ssize_t i = props_index(p, key);
    if (i < 0)
        return false;
    free(p->items[i].key);
    free(p->items[i].value);
    memmove(&p->items[i], &p->items[i + 1], (p->n - (size_t)i - 1) * sizeof(*p->items));
    p->n--;
    return true;
}

void rmq_msg_props_encode(const rmq_msg_props_t *p, rmq_buf_t *out)
{
    for (size_t i = 0; i < p->n; i++) {
        if (i > 0)
            rmq_buf_putc(out, RMQ_PROP_PAIR_SEP);
        rmq_buf_puts(out, p->items[i].key);
        rmq_buf_putc(out, RMQ_PROP_NAME_SEP);
        rmq_buf_puts(out, p->items[i].value);
    }
}

/* ---- batch bodies ---- */

rmq_err_t rmq_msg_batch_decode(const uint8_t *p, size_t len, rmq_msg_batch_item_t **items, size_t *n)
{
    size_t cap = 8, cnt = 0;
    rmq_msg_batch_item_t *arr = rmq_malloc(cap * sizeof(*arr));
    rmq_rd_t r;
    rmq_rd_init(&r, p, len);
    while (rmq_rd_left(&r) > 0) {
        size_t start = r.pos;
        int32_t total = (int32_t)rmq_rd_u32(&r);
        (void)rmq_rd_u32(&r); /* magic, ignored */
        (void)rmq_rd_u32(&r); /* body crc, ignored */
        if (cnt == cap) {
            cap *= 2;
            arr = rmq_realloc(arr, cap * sizeof(*arr));
        }
        rmq_msg_batch_item_t *it = &arr[cnt];
        it->flag = (int32_t)rmq_rd_u32(&r);
        it->body = rd_body(&r, &it->body_len);
        it->props_len = rmq_rd_u16(&r);
        it->props = (const char *)rmq_rd_bytes(&r, it->props_len);
        if (r.err || total < 22 || r.pos - start != (size_t)total)
            goto bad;
        cnt++;
    }
    if (cnt == 0)
        goto bad;
    *items = arr;
    *n = cnt;
    return RMQ_OK;
bad:
    free(arr);
    *items = NULL;
    *n = 0;
    return RMQ_ERR__CORRUPT;
}

void rmq_msg_batch_encode_one(rmq_buf_t *out, int32_t flag, const void *body, size_t body_len,
                              const char *props, size_t props_len)
{
    rmq_buf_put_u32(out, (uint32_t)(22 + body_len + props_len));
    rmq_buf_put_u32(out, 0);
    rmq_buf_put_u32(out, 0);
    rmq_buf_put_u32(out, (uint32_t)flag);
    rmq_buf_put_u32(out, (uint32_t)body_len);
    rmq_buf_put(out, body, body_len);
    rmq_buf_put_u16(out, (uint16_t)props_len);
    rmq_buf_put(out, props, props_len);
}
