/* message.c - messages to send (comet_message_t), received messages
 * (comet_message_ext_t), UNIQ_KEY generation (MessageClientIDSetter layout).
 *
 * Messages belong to whichever thread holds them; no shared state except the
 * UNIQ_KEY counter (atomic). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "comet_int.h"
#include "rmq_alloc.h"
#include "rmq_time.h"

/* ---------------- comet_message_t ---------------- */

comet_message_t *comet_message_new(const char *topic, const void *body, size_t len, int msgflags)
{
    if (!topic || !*topic || (len && !body))
        return NULL;
    comet_message_t *m = rmq_calloc(1, sizeof(*m));
    m->topic = rmq_strdup(topic);
    rmq_msg_props_init(&m->props);
    if (msgflags & COMET_MSG_F_COPY) {
        uint8_t *b = rmq_malloc(len ? len : 1);
        if (len)
            memcpy(b, body, len);
        m->body = b;
        m->body_owned = true;
    } else {
        m->body = body;
        m->body_owned = (msgflags & COMET_MSG_F_FREE) != 0;
    }
    m->body_len = len;
    rmq_msg_props_set(&m->props, RMQ_PROP_WAIT, "true");
    return m;
}

void comet_message_destroy(comet_message_t *m)
{
    if (!m)
        return;
    if (m->body_owned)
        free((void *)m->body);
    free(m->topic);
    rmq_msg_props_free(&m->props);
    free(m);
}

static bool bad_text(const char *s)
{
    return strchr(s, '\001') || strchr(s, '\002');
}

comet_err_t comet_message_set_property(comet_message_t *m, const char *k, const char *v)
{
    if (!m || !k || !*k || bad_text(k) || (v && bad_text(v)))
        return COMET_ERR__INVALID_ARG;
    if (!v || !*v)
        rmq_msg_props_del(&m->props, k);
    else
        rmq_msg_props_set(&m->props, k, v);
    return COMET_ERR_NO_ERROR;
}

comet_err_t comet_message_set_tags(comet_message_t *m, const char *tags)
{
    return comet_message_set_property(m, RMQ_PROP_TAGS, tags);
}
comet_err_t comet_message_set_keys(comet_message_t *m, const char *keys)
{
    return comet_message_set_property(m, RMQ_PROP_KEYS, keys);
}

comet_err_t comet_message_set_delay_level(comet_message_t *m, int level)
{
    if (level < 0 || level > 18)
        return COMET_ERR__INVALID_ARG;
    char b[16];
    snprintf(b, sizeof(b), "%d", level);
    return comet_message_set_property(m, RMQ_PROP_DELAY, level ? b : NULL);
}

void comet_message_set_flag(comet_message_t *m, int32_t flag)
{
    m->flag = flag;
}
void comet_message_set_wait_store_msg_ok(comet_message_t *m, bool wait)
{
    rmq_msg_props_set(&m->props, RMQ_PROP_WAIT, wait ? "true" : "false");
}
const char *comet_message_topic(const comet_message_t *m)
{
    return m->topic;
}
const char *comet_message_property(const comet_message_t *m, const char *name)
{
    return rmq_msg_props_get(&m->props, name);
}
const void *comet_message_body(const comet_message_t *m, size_t *len)
{
    if (len)
        *len = m->body_len;
    return m->body;
}

void cm_message_encode_props(const comet_message_t *m, const char *uniq, rmq_buf_t *out)
{
    rmq_msg_props_encode(&m->props, out); /* the message's own map: keys are unique */
    if (uniq && !rmq_msg_props_get(&m->props, RMQ_PROP_UNIQ_KEY)) {
        if (m->props.n)
            rmq_buf_putc(out, RMQ_PROP_PAIR_SEP);
        rmq_buf_puts(out, RMQ_PROP_UNIQ_KEY);
        rmq_buf_putc(out, RMQ_PROP_NAME_SEP);
        rmq_buf_puts(out, uniq);
    }
}

/* ---------------- UNIQ_KEY ---------------- */

static uint8_t uniq_prefix[10]; /* ip(4) pid(2) loader-hash(4) */
static pthread_once_t uniq_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t uniq_counter;

static void uniq_init(void)
{
    uint32_t ip = 0;
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) == 0) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            uint32_t a = ntohl(((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr);
            if ((a >> 24) == 127)
                continue;
            ip = a;
            break;
        }
        freeifaddrs(ifs);
    }
    if (!ip)
        ip = 0x7F000001;
    rmq_wbe32(uniq_prefix, ip);
    rmq_wbe16(uniq_prefix + 4, (uint16_t)getpid());
    uint32_t h = (uint32_t)rmq_mono_us() ^ ((uint32_t)getpid() << 16) ^ (uint32_t)(uintptr_t)&uniq_counter;
    rmq_wbe32(uniq_prefix + 6, h);
    uniq_counter = h & 0xFFFF;
}

void cm_uniq_key(char out[33])
{
    pthread_once(&uniq_once, uniq_init);
    uint8_t b[16];
    memcpy(b, uniq_prefix, 10);
    /* ms since the start of the current month, local time (as Java); the
     * month boundaries are cached (mktime/localtime read the zone file) */
    static pthread_mutex_t month_lock = PTHREAD_MUTEX_INITIALIZER;
    static int64_t month_start = -1, next_month = -1;
    int64_t now_ms = rmq_now_ms();
    pthread_mutex_lock(&month_lock);
    if (now_ms < month_start || now_ms >= next_month) {
        time_t now = (time_t)(now_ms / 1000);
        struct tm tm;
        localtime_r(&now, &tm);
        tm.tm_mday = 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        month_start = (int64_t)mktime(&tm) * 1000;
        tm.tm_mon += 1;
        tm.tm_isdst = -1;
        next_month = (int64_t)mktime(&tm) * 1000;
    }
    int64_t start = month_start;
    pthread_mutex_unlock(&month_lock);
    rmq_wbe32(b + 10, (uint32_t)(now_ms - start));
    rmq_wbe16(b + 14, (uint16_t)atomic_fetch_add(&uniq_counter, 1));
    static const char hx[] = "0123456789ABCDEF";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hx[b[i] >> 4];
        out[2 * i + 1] = hx[b[i] & 15];
    }
    out[32] = 0;
}

/* ---------------- comet_message_ext_t ---------------- */

/* Inflate a compressed record body into a heap buffer with a NUL after it. */
static bool inflate_body(const rmq_msg_rec_t *rec, uint8_t **out, size_t *out_len)
{
    int type = (rec->sys_flag & RMQ_SYSFLAG_COMPRESSION_TYPE_MASK) >> 8;
    rmq_buf_t b;
    rmq_buf_init(&b);
    if ((type != 0 && type != 3) || rmq_msg_inflate(rec->body, (size_t)rec->body_len, &b, 0) != RMQ_OK) {
        rmq_buf_free(&b);
        return false;
    }
    rmq_buf_cstr(&b); /* NUL after the body, not counted */
    *out = rmq_buf_detach(&b, out_len);
    return true;
}

static bool compressed(const rmq_msg_rec_t *rec)
{
    return (rec->sys_flag & RMQ_SYSFLAG_COMPRESSED) && rec->body_len > 0;
}

/* The fixed fields, the offset msg id, and the topic / msg id picks (the
 * props, real_topic and offset_msg_id must be set before). */
static void fill_fields(comet_message_ext_t *m, const rmq_msg_rec_t *rec)
{
    m->queue_id = rec->queue_id;
    m->queue_offset = rec->queue_offset;
    m->commitlog_offset = rec->commitlog_offset;
    m->born_ts = rec->born_timestamp;
    m->store_ts = rec->store_timestamp;
    m->reconsume_times = rec->reconsume_times;
    m->flag = rec->flag;
    m->sys_flag = rec->sys_flag;
}

comet_message_ext_t *cm_message_ext_from_rec(const rmq_msg_rec_t *rec, const char *broker_name)
{
    comet_message_ext_t *m = rmq_calloc(1, sizeof(*m));
    rmq_msg_props_init(&m->props);
    if (rec->props_len)
        rmq_msg_props_parse(&m->props, rec->props, rec->props_len);
    if (compressed(rec)) {
        if (!inflate_body(rec, &m->body, &m->body_len)) {
            rmq_msg_props_free(&m->props);
            free(m);
            return NULL;
        }
    } else {
        m->body_len = rec->body_len > 0 ? (size_t)rec->body_len : 0;
        m->body = rmq_malloc(m->body_len + 1);
        if (m->body_len)
            memcpy(m->body, rec->body, m->body_len);
        m->body[m->body_len] = 0; /* not counted: lets text bodies be read as C strings */
    }
    m->real_topic = rmq_strndup(rec->topic, rec->topic_len);
    const char *rt = rmq_msg_props_get(&m->props, "RETRY_TOPIC");
    m->topic = rmq_strdup(rt && rmq_topic_is_retry(m->real_topic) ? rt : m->real_topic);
    rmq_msg_id_create(m->offset_msg_id, &rec->store_host, rec->commitlog_offset);
    const char *uk = rmq_msg_props_get(&m->props, RMQ_PROP_UNIQ_KEY);
    const char *bn = broker_name ? broker_name : "";
    size_t ul = uk ? strlen(uk) : 0, bl = strlen(bn);
    m->strs = rmq_malloc(ul + bl + 2);
    memcpy(m->strs, bn, bl + 1);
    m->broker_name = m->strs;
    if (uk) {
        memcpy(m->strs + bl + 1, uk, ul + 1);
        m->msg_id = m->strs + bl + 1;
    } else {
        m->msg_id = m->offset_msg_id;
    }
    fill_fields(m, rec);
    return m;
}

/* ---------------- pull answers decoded in place ---------------- */

struct cm_rxbatch_s {
    _Atomic size_t refs;
    uint8_t *body;
    size_t n;
    comet_message_ext_t *msgs; /* n, in this allocation */
    char broker[COMET_NAME_MAX];
    char min_off[24], max_off[24];
    /* then: the messages, then every message's property table */
};

static void batch_free(cm_rxbatch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->msgs[i].body_owned)
            free(b->msgs[i].body);
    free(b->body);
    free(b);
}

/* Put key=value (both outliving p) without allocating: p has room. */
static void props_put_view(rmq_msg_props_t *p, const char *key, const char *value)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].key, key) == 0) {
            p->items[i].value = (char *)value;
            return;
        }
    rmq_assert(p->n < p->cap);
    p->items[p->n].key = (char *)key;
    p->items[p->n].value = (char *)value;
    p->n++;
}

/* Every record of body[0..len) into *recs (stack, or a heap array when
 * more than `have` records: *recs is then replaced), with the property
 * pairs they may hold; false when one is malformed. */
static bool scan_records(const uint8_t *body, size_t len, rmq_msg_rec_t **recs, size_t have, size_t *n,
                         size_t *pairs)
{
    size_t pos = 0;
    *n = *pairs = 0;
    while (pos < len) {
        if (*n == have) {
            rmq_msg_rec_t *grown = rmq_malloc(2 * have * sizeof(*grown));
            memcpy(grown, *recs, have * sizeof(*grown));
            if (have > 64) /* not the caller's stack array */
                free(*recs);
            *recs = grown;
            have *= 2;
        }
        rmq_msg_rec_t *rec = &(*recs)[*n];
        size_t used;
        if (rmq_msg_decode_lenient(body + pos, len - pos, false, rec, &used) != RMQ_OK)
            return false;
        *pairs += (rec->props_len ? rmq_msg_props_max_pairs(rec->props, rec->props_len) : 0) + 2;
        (*n)++;
        pos += used;
    }
    return true;
}

cm_rxbatch_t *cm_rxbatch_decode(uint8_t *body, size_t len, const char *broker_name, int64_t min_off,
                                int64_t max_off)
{
    /* one writable byte past the last record: its last property value's NUL */
    body = rmq_realloc(body, len + 1);
    body[len] = 0;
    rmq_msg_rec_t stack[64], *recs = stack;
    size_t n, pairs;
    bool ok = scan_records(body, len, &recs, 64, &n, &pairs);
    if (!ok) {
        if (recs != stack)
            free(recs);
        free(body);
        return NULL;
    }
    size_t head = (sizeof(cm_rxbatch_t) + 15) & ~(size_t)15;
    cm_rxbatch_t *b = rmq_malloc(head + n * sizeof(comet_message_ext_t) + pairs * sizeof(rmq_msg_prop_t));
    memset(b, 0, sizeof(*b));
    atomic_init(&b->refs, 1);
    b->body = body;
    b->n = n;
    b->msgs = (comet_message_ext_t *)((char *)b + head);
    rmq_msg_prop_t *items = (rmq_msg_prop_t *)(b->msgs + n), *items_end = items + pairs;
    cm_strcpy(b->broker, sizeof(b->broker), broker_name ? broker_name : "");
    snprintf(b->min_off, sizeof(b->min_off), "%lld", (long long)min_off);
    snprintf(b->max_off, sizeof(b->max_off), "%lld", (long long)max_off);
    /* Every record was decoded above, before anything is written into the
     * body: the writes (NULs after the body, the topic and each property)
     * land on bytes already read: the topic length byte, the properties
     * length, the separators and the next record's first byte (or the spare
     * byte at the end). */
    for (size_t i = 0; i < n; i++) {
        const rmq_msg_rec_t *rec = &recs[i];
        comet_message_ext_t *m = &b->msgs[i];
        memset(m, 0, sizeof(*m));
        m->batch = b;
        m->props.items = items;
        m->props.cap = (size_t)(items_end - items);
        if (rec->props_len)
            rmq_msg_props_parse_inplace(&m->props, (char *)(uintptr_t)rec->props, rec->props_len, items,
                                        m->props.cap);
        props_put_view(&m->props, RMQ_PROP_MIN_OFFSET, b->min_off);
        props_put_view(&m->props, RMQ_PROP_MAX_OFFSET, b->max_off);
        items += m->props.n;
        m->props.cap = m->props.n;
        char *topic = (char *)(uintptr_t)rec->topic;
        topic[rec->topic_len] = '\0'; /* was the properties length */
        m->real_topic = topic;
        if (compressed(rec)) {
            m->body_owned = inflate_body(rec, &m->body, &m->body_len);
            m->undecodable = !m->body_owned;
        }
        if (!m->body_owned) {
            m->body = (uint8_t *)(uintptr_t)rec->body;
            m->body_len = (size_t)rec->body_len;
            m->body[m->body_len] = 0; /* was the topic length */
        }
        const char *rt = rmq_topic_is_retry(topic) ? rmq_msg_props_get(&m->props, "RETRY_TOPIC") : NULL;
        m->topic = rt ? (char *)rt : topic;
        rmq_msg_id_create(m->offset_msg_id, &rec->store_host, rec->commitlog_offset);
        const char *uk = rmq_msg_props_get(&m->props, RMQ_PROP_UNIQ_KEY);
        m->msg_id = uk ? uk : m->offset_msg_id;
        m->broker_name = b->broker;
        fill_fields(m, rec);
    }
    if (recs != stack)
        free(recs);
    return b;
}

size_t cm_rxbatch_count(const cm_rxbatch_t *b)
{
    return b->n;
}

comet_message_ext_t *cm_rxbatch_msg(cm_rxbatch_t *b, size_t i)
{
    return &b->msgs[i];
}

void cm_rxbatch_hold(cm_rxbatch_t *b, size_t k)
{
    atomic_fetch_add(&b->refs, k);
}

void cm_rxbatch_release(cm_rxbatch_t *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        batch_free(b);
}

const char *comet_message_ext_tags(const comet_message_ext_t *m)
{
    return rmq_msg_props_get(&m->props, "TAGS");
}
const char *comet_message_ext_keys(const comet_message_ext_t *m)
{
    return rmq_msg_props_get(&m->props, "KEYS");
}
const char *comet_message_ext_property(const comet_message_ext_t *m, const char *name)
{
    return rmq_msg_props_get(&m->props, name);
}
const void *comet_message_ext_body(const comet_message_ext_t *m, size_t *len)
{
    if (len)
        *len = m->body_len;
    return m->body;
}
const char *comet_message_ext_msg_id(const comet_message_ext_t *m)
{
    return m->msg_id ? m->msg_id : m->offset_msg_id;
}
const char *comet_message_ext_broker_name(const comet_message_ext_t *m)
{
    return m->broker_name ? m->broker_name : "";
}

/* comet_message_ext_<name>(): the field as it is. */
#define EXT_FIELD_GETTER(type, name, field)                                                                  \
    type comet_message_ext_##name(const comet_message_ext_t *m)                                              \
    {                                                                                                        \
        return m->field;                                                                                     \
    }
EXT_FIELD_GETTER(const char *, topic, topic)
EXT_FIELD_GETTER(const char *, offset_msg_id, offset_msg_id)
EXT_FIELD_GETTER(int32_t, queue_id, queue_id)
EXT_FIELD_GETTER(int64_t, queue_offset, queue_offset)
EXT_FIELD_GETTER(int64_t, commitlog_offset, commitlog_offset)
EXT_FIELD_GETTER(int64_t, born_timestamp, born_ts)
EXT_FIELD_GETTER(int64_t, store_timestamp, store_ts)
EXT_FIELD_GETTER(int32_t, reconsume_times, reconsume_times)
EXT_FIELD_GETTER(int32_t, flag, flag)
#undef EXT_FIELD_GETTER

comet_message_ext_t *comet_message_ext_dup(const comet_message_ext_t *s)
{
    if (!s)
        return NULL;
    comet_message_ext_t *m = rmq_malloc(sizeof(*m));
    *m = *s;
    m->batch = NULL;
    m->body_owned = false;
    m->topic = rmq_strdup(s->topic);
    m->real_topic = rmq_strdup(s->real_topic);
    m->body = rmq_malloc(s->body_len + 1);
    if (s->body_len)
        memcpy(m->body, s->body, s->body_len);
    m->body[s->body_len] = 0;
    rmq_msg_props_init(&m->props);
    for (size_t i = 0; i < s->props.n; i++)
        rmq_msg_props_set(&m->props, s->props.items[i].key, s->props.items[i].value);
    size_t bl = strlen(s->broker_name), il = strlen(s->msg_id);
    m->strs = rmq_malloc(bl + il + 2);
    memcpy(m->strs, s->broker_name, bl + 1);
    m->broker_name = m->strs;
    if (s->msg_id == s->offset_msg_id) {
        m->msg_id = m->offset_msg_id;
    } else {
        memcpy(m->strs + bl + 1, s->msg_id, il + 1);
        m->msg_id = m->strs + bl + 1;
    }
    return m;
}

void comet_message_ext_destroy(comet_message_ext_t *m)
{
    if (!m)
        return;
    if (m->batch) {
        cm_rxbatch_release(m->batch);
        return;
    }
    free(m->topic);
    free(m->real_topic);
    free(m->body);
    rmq_msg_props_free(&m->props);
    free(m->strs);
    free(m);
}
