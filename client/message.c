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
    comet_message_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->topic = strdup(topic);
    rmq_msg_props_init(&m->props);
    if (msgflags & COMET_MSG_F_COPY) {
        uint8_t *b = malloc(len ? len : 1);
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

static comet_err_t set_prop(comet_message_t *m, const char *k, const char *v)
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
    return set_prop(m, RMQ_PROP_TAGS, tags);
}
comet_err_t comet_message_set_keys(comet_message_t *m, const char *keys)
{
    return set_prop(m, RMQ_PROP_KEYS, keys);
}
comet_err_t comet_message_set_property(comet_message_t *m, const char *n, const char *v)
{
    return set_prop(m, n, v);
}

comet_err_t comet_message_set_delay_level(comet_message_t *m, int level)
{
    if (level < 0 || level > 18)
        return COMET_ERR__INVALID_ARG;
    char b[16];
    snprintf(b, sizeof(b), "%d", level);
    return set_prop(m, RMQ_PROP_DELAY, level ? b : NULL);
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
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    for (size_t i = 0; i < m->props.n; i++)
        rmq_msg_props_set(&p, m->props.items[i].key, m->props.items[i].value);
    if (uniq && !rmq_msg_props_get(&p, RMQ_PROP_UNIQ_KEY))
        rmq_msg_props_set(&p, RMQ_PROP_UNIQ_KEY, uniq);
    rmq_msg_props_encode(&p, out);
    rmq_msg_props_free(&p);
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

comet_message_ext_t *cm_message_ext_from_rec(const rmq_msg_rec_t *rec, const char *broker_name)
{
    comet_message_ext_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    rmq_msg_props_init(&m->props);
    if (rec->props_len)
        rmq_msg_props_parse(&m->props, rec->props, rec->props_len);
    if ((rec->sys_flag & RMQ_SYSFLAG_COMPRESSED) && rec->body_len > 0) {
        int type = (rec->sys_flag & RMQ_SYSFLAG_COMPRESSION_TYPE_MASK) >> 8;
        rmq_buf_t out;
        rmq_buf_init(&out);
        if ((type != 0 && type != 3) ||
            rmq_msg_inflate(rec->body, (size_t)rec->body_len, &out, 0) != RMQ_OK) {
            rmq_buf_free(&out);
            rmq_msg_props_free(&m->props);
            free(m);
            return NULL;
        }
        rmq_buf_cstr(&out); /* NUL after the body, not counted */
        m->body = rmq_buf_detach(&out, &m->body_len);
    } else {
        m->body_len = rec->body_len > 0 ? (size_t)rec->body_len : 0;
        m->body = malloc(m->body_len + 1);
        if (m->body_len)
            memcpy(m->body, rec->body, m->body_len);
        m->body[m->body_len] = 0; /* not counted: lets text bodies be read as C strings */
    }
    m->real_topic = strndup(rec->topic, rec->topic_len);
    const char *rt = rmq_msg_props_get(&m->props, "RETRY_TOPIC");
    if (rt && strncmp(m->real_topic, "%RETRY%", 7) == 0)
        m->topic = strdup(rt);
    else
        m->topic = strdup(m->real_topic);
    rmq_msg_id_create(m->offset_msg_id, &rec->store_host, rec->commitlog_offset);
    const char *uk = rmq_msg_props_get(&m->props, RMQ_PROP_UNIQ_KEY);
    snprintf(m->msg_id, sizeof(m->msg_id), "%s", uk ? uk : m->offset_msg_id);
    snprintf(m->broker_name, sizeof(m->broker_name), "%s", broker_name ? broker_name : "");
    m->queue_id = rec->queue_id;
    m->queue_offset = rec->queue_offset;
    m->commitlog_offset = rec->commitlog_offset;
    m->born_ts = rec->born_timestamp;
    m->store_ts = rec->store_timestamp;
    m->reconsume_times = rec->reconsume_times;
    m->flag = rec->flag;
    m->sys_flag = rec->sys_flag;
    return m;
}

const char *comet_message_ext_topic(const comet_message_ext_t *m)
{
    return m->topic;
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
    return m->msg_id;
}
const char *comet_message_ext_offset_msg_id(const comet_message_ext_t *m)
{
    return m->offset_msg_id;
}
const char *comet_message_ext_broker_name(const comet_message_ext_t *m)
{
    return m->broker_name;
}
int32_t comet_message_ext_queue_id(const comet_message_ext_t *m)
{
    return m->queue_id;
}
int64_t comet_message_ext_queue_offset(const comet_message_ext_t *m)
{
    return m->queue_offset;
}
int64_t comet_message_ext_commitlog_offset(const comet_message_ext_t *m)
{
    return m->commitlog_offset;
}
int64_t comet_message_ext_born_timestamp(const comet_message_ext_t *m)
{
    return m->born_ts;
}
int64_t comet_message_ext_store_timestamp(const comet_message_ext_t *m)
{
    return m->store_ts;
}
int32_t comet_message_ext_reconsume_times(const comet_message_ext_t *m)
{
    return m->reconsume_times;
}
int32_t comet_message_ext_flag(const comet_message_ext_t *m)
{
    return m->flag;
}

comet_message_ext_t *comet_message_ext_dup(const comet_message_ext_t *s)
{
    if (!s)
        return NULL;
    comet_message_ext_t *m = malloc(sizeof(*m));
    if (!m)
        return NULL;
    *m = *s;
    m->topic = strdup(s->topic);
    m->real_topic = strdup(s->real_topic);
    m->body = malloc(s->body_len + 1);
    if (s->body_len)
        memcpy(m->body, s->body, s->body_len);
    m->body[s->body_len] = 0;
    rmq_msg_props_init(&m->props);
    for (size_t i = 0; i < s->props.n; i++)
        rmq_msg_props_set(&m->props, s->props.items[i].key, s->props.items[i].value);
    return m;
}

void comet_message_ext_destroy(comet_message_ext_t *m)
{
    if (!m)
        return;
    free(m->topic);
    free(m->real_topic);
    free(m->body);
    rmq_msg_props_free(&m->props);
    free(m);
}
