/* ha_meta.c - metadata on the replication stream: a master encodes its
 * topic, subscription-group, consumer-offset and delay-progress tables as
 * Metadata snapshots (in parts when large); a slave applies them; a slave's
 * own offset commits (taken while it had no master) go back to the master,
 * where the larger offset wins.
 *
 * Offsets and masters coming back: clients commit to a slave only while the
 * master is unreachable. RocketMQ 4.x then overwrites those offsets with the
 * master's older ones once the master returns, so consumers re-read what
 * they already processed. Here a slave keeps each offset it took itself
 * until a master snapshot holds at least as much, reports them when it
 * reconnects (OFFSET_CHANGES) and whenever it persists offsets, and the
 * master keeps the larger of its own and the reported value. An offset
 * reset on the master to a lower value therefore does not reach a slave
 * while that slave still holds a higher offset of its own for the queue.
 *
 * Owns: the parts of snapshots being received, the slave's own offsets.
 * Runs: on the broker's I/O thread (the tables' owner) only.
 * Never: applies half a snapshot, or lowers an offset a slave took itself. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_meta.h"
#include "schedule/schedule.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"

#define KINDS 6

size_t rmq_ha_meta_part_bytes = RMQ_HA_META_PART_BYTES;

typedef struct ha_stage_s {
    rmq_ha_frame_t **parts[KINDS];
    size_t n[KINDS];
} ha_stage_t;

static void local_free(void *p)
{
    free(p);
}

void rmq_ha_meta_init(rmq_ha_t *ha)
{
    ha->stage = rmq_calloc(1, sizeof(*ha->stage));
    rmq_map_init(&ha->local_offsets, local_free);
}

static void stage_clear(ha_stage_t *st, int kind)
{
    for (size_t i = 0; i < st->n[kind]; i++)
        rmq_ha_frame_free(st->parts[kind][i]);
    free(st->parts[kind]);
    st->parts[kind] = NULL;
    st->n[kind] = 0;
}

void rmq_ha_meta_deinit(rmq_ha_t *ha)
{
    if (ha->stage)
        for (int k = 0; k < KINDS; k++)
            stage_clear(ha->stage, k);
    free(ha->stage);
    ha->stage = NULL;
    rmq_map_deinit(&ha->local_offsets);
}

/* --------------------------------------------------------------- encode */

typedef struct {
    rmq_ha_t *ha;
    rmq_buf_t *out;
    Comet__Ha__Metadata m;
    size_t bytes, cap;
    void **items; /* entries of the current part */
    char **strs;  /* strings to free after the part is encoded */
    size_t n_strs, cap_strs;
} enc_t;

static void enc_begin(enc_t *e, rmq_ha_t *ha, rmq_buf_t *out, Comet__Ha__Metadata__Kind kind,
                      int64_t log_offset)
{
    memset(e, 0, sizeof(*e));
    e->ha = ha;
    e->out = out;
    comet__ha__metadata__init(&e->m);
    e->m.kind = kind;
    e->m.epoch = ha->epoch;
    e->m.log_offset = log_offset;
}

static char *enc_str(enc_t *e, char *s)
{
    if (e->n_strs == e->cap_strs) {
        e->cap_strs = e->cap_strs ? e->cap_strs * 2 : 64;
        e->strs = rmq_realloc(e->strs, e->cap_strs * sizeof(*e->strs));
    }
    e->strs[e->n_strs++] = s;
    return s;
}

static void enc_flush(enc_t *e, bool last)
{
    size_t n = e->m.n_topics + e->m.n_groups + e->m.n_offsets + e->m.n_delay_offsets;
    (void)n;
    e->m.last_part = last;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_METADATA;
    f.metadata = &e->m;
    rmq_ha_frame_encode(&f, e->out);
    for (size_t i = 0; i < e->m.n_topics; i++)
        free(e->m.topics[i]);
    for (size_t i = 0; i < e->m.n_groups; i++)
        free(e->m.groups[i]);
    for (size_t i = 0; i < e->m.n_offsets; i++)
        free(e->m.offsets[i]);
    for (size_t i = 0; i < e->m.n_delay_offsets; i++)
        free(e->m.delay_offsets[i]);
    free(e->m.topics);
    free(e->m.groups);
    free(e->m.offsets);
    free(e->m.delay_offsets);
    for (size_t i = 0; i < e->n_strs; i++)
        free(e->strs[i]);
    e->n_strs = 0;
    e->m.topics = NULL;
    e->m.groups = NULL;
    e->m.offsets = NULL;
    e->m.delay_offsets = NULL;
    e->m.n_topics = e->m.n_groups = e->m.n_offsets = e->m.n_delay_offsets = 0;
    e->m.part++;
    e->bytes = 0;
}

static void enc_end(enc_t *e)
{
    enc_flush(e, true);
    free(e->strs);
}

/* Append p to the repeated field (items, n) of the current part. */
static void push(enc_t *e, void ***items, size_t *n, void *p, size_t approx)
{
    if (e->bytes + approx > rmq_ha_meta_part_bytes && *n > 0) {
        enc_flush(e, false);
        /* enc_flush cleared the fields; items/n point into e->m again */
    }
    *items = rmq_realloc(*items, (*n + 1) * sizeof(**items));
    (*items)[(*n)++] = p;
    e->bytes += approx;
}

/* ------------------------------------------------- name-keyed tables */

/* The fields, besides the name, that a table entry and its replication
 * message share (the same names in both). */
#define TOPIC_FIELDS(X) X(read_queues) X(write_queues) X(perm) X(filter_type) X(sys_flag) X(order)
#define GROUP_FIELDS(X)                                                                                      \
    X(consume_enable)                                                                                        \
    X(consume_from_min_enable)                                                                               \
    X(consume_broadcast_enable)                                                                              \
    X(retry_queue_nums)                                                                                      \
    X(retry_max_times)                                                                                       \
    X(broker_id)                                                                                             \
    X(which_broker_when_consume_slowly)                                                                      \
    X(notify_consumer_ids_changed_enable)

#define COPY_FIELD(f) dst->f = src->f;
#define SAME_FIELD(f) cur->f == src->f &&

/* How a name-keyed table (topics, groups) travels: the master sends every
 * entry as a message of desc in the repeated field of Metadata at items_off
 * / n_off (offsetof); a slave puts each message into its table and deletes
 * the entries the master no longer has. */
typedef struct {
    Comet__Ha__Metadata__Kind kind;
    size_t items_off, n_off;
    const ProtobufCMessageDescriptor *desc;
    size_t approx; /* encoded size of a message besides its name */
    const rmq_map_t *(*map)(rmq_broker_t *b);
    const char *(*name)(const void *msg);
    /* the entry as a message; it borrows the entry's strings */
    void (*fill)(void *msg, const void *entry);
    /* put the message unless the table holds it already; true when it did */
    bool (*put)(rmq_broker_t *b, const void *msg);
    void (*del)(rmq_broker_t *b, const char *name);
} ha_mirror_t;

/* The ha_mirror_t pfx_mirror of the broker's table tbl (Metadata field tbl,
 * kind KIND): entries of type E (found, stored, removed by api_get, api_put,
 * api_del), messages of type M (descriptor desc_, about approx_ bytes besides
 * the name), sharing the fields FIELDS besides the name. */
#define HA_MIRROR(pfx, tbl, KIND, E, M, desc_, api, approx_, FIELDS)                                         \
    static const rmq_map_t *pfx##_map(rmq_broker_t *b)                                                       \
    {                                                                                                        \
        return &b->tbl.map;                                                                                  \
    }                                                                                                        \
    static const char *pfx##_name(const void *msg)                                                           \
    {                                                                                                        \
        return ((const M *)msg)->name;                                                                       \
    }                                                                                                        \
    static void pfx##_fill(void *msg, const void *entry)                                                     \
    {                                                                                                        \
        M *dst = msg;                                                                                        \
        const E *src = entry;                                                                                \
        dst->name = src->name;                                                                               \
        FIELDS(COPY_FIELD)                                                                                   \
    }                                                                                                        \
    static bool pfx##_put(rmq_broker_t *b, const void *msg)                                                  \
    {                                                                                                        \
        const M *src = msg;                                                                                  \
        E *cur = api##_get(&b->tbl, src->name);                                                              \
        if (cur && FIELDS(SAME_FIELD) true)                                                                  \
            return false;                                                                                    \
        E n = {.name = src->name}, *dst = &n;                                                                \
        FIELDS(COPY_FIELD)                                                                                   \
        api##_put(&b->tbl, &n);                                                                              \
        return true;                                                                                         \
    }                                                                                                        \
    static void pfx##_del(rmq_broker_t *b, const char *key)                                                  \
    {                                                                                                        \
        api##_del(&b->tbl, key);                                                                             \
    }                                                                                                        \
    static const ha_mirror_t pfx##_mirror = {                                                                \
        .kind = COMET__HA__METADATA__KIND__##KIND,                                                           \
        .items_off = offsetof(Comet__Ha__Metadata, tbl),                                                     \
        .n_off = offsetof(Comet__Ha__Metadata, n_##tbl),                                                     \
        .desc = &desc_,                                                                                      \
        .approx = approx_,                                                                                   \
        .map = pfx##_map,                                                                                    \
        .name = pfx##_name,                                                                                  \
        .fill = pfx##_fill,                                                                                  \
        .put = pfx##_put,                                                                                    \
        .del = pfx##_del,                                                                                    \
    };

HA_MIRROR(topics, topics, TOPICS, rmq_topic_config_t, Comet__Ha__TopicConfig,
          comet__ha__topic_config__descriptor, rmq_topic, 32, TOPIC_FIELDS)
HA_MIRROR(groups, groups, GROUPS, rmq_sub_group_t, Comet__Ha__SubscriptionGroup,
          comet__ha__subscription_group__descriptor, rmq_sub_group, 48, GROUP_FIELDS)

/* Every entry of the table as a message, in parts of t->kind. */
static void encode_mirror(rmq_ha_t *ha, rmq_buf_t *out, const ha_mirror_t *t)
{
    enc_t e;
    enc_begin(&e, ha, out, t->kind, 0);
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(t->map(ha->b), &it, &k, &v);) {
        void *msg = rmq_malloc(t->desc->sizeof_message);
        protobuf_c_message_init(t->desc, msg);
        t->fill(msg, v);
        push(&e, (void ***)((char *)&e.m + t->items_off), (size_t *)((char *)&e.m + t->n_off), msg,
             strlen(t->name(msg)) + t->approx);
    }
    enc_end(&e);
}

static void encode_topics(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset)
{
    (void)log_offset;
    encode_mirror(ha, out, &topics_mirror);
}

static void encode_groups(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset)
{
    (void)log_offset;
    encode_mirror(ha, out, &groups_mirror);
}

/* "topic@group" (topics cannot hold '@') */
static bool split_key(const char *key, char **topic, char **group)
{
    const char *at = strchr(key, '@');
    if (!at || at == key || !at[1])
        return false;
    *topic = rmq_strndup(key, (size_t)(at - key));
    *group = rmq_strdup(at + 1);
    return true;
}

static void push_offset(enc_t *e, const char *key, int32_t qid, int64_t off)
{
    char *topic, *group;
    if (!split_key(key, &topic, &group))
        return;
    Comet__Ha__ConsumerOffset *o = rmq_malloc(sizeof(*o));
    comet__ha__consumer_offset__init(o);
    o->topic = enc_str(e, topic);
    o->group = enc_str(e, group);
    o->queue_id = qid;
    o->offset = off;
    push(e, (void ***)&e->m.offsets, &e->m.n_offsets, o, strlen(key) + 24);
}

/* Consumer offsets (and with them the transaction check's progress) may
 * point past records appended just before: they reach a slave only after the
 * log up to the current end did, so a slave never holds an offset past its
 * own queues (after a failover, a consumer would skip what the new master
 * writes there; the check would skip re-appended half messages). */
static void encode_offsets(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset)
{
    int64_t lo = ha->store ? rmq_store_get_commitlog_max_offset(ha->store) : 0;
    enc_t e;
    enc_begin(&e, ha, out, COMET__HA__METADATA__KIND__OFFSETS, lo);
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&ha->b->offsets.map, &it, &k, &v);) {
        const rmq_qoffsets_t *q = v;
        for (size_t i = 0; i < q->n; i++)
            push_offset(&e, k, q->qids[i], q->offsets[i]);
    }
    enc_end(&e);
    if (log_offset && lo > *log_offset)
        *log_offset = lo;
}

static void encode_delay(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset)
{
    rmq_schedule_t *s = ha->b->schedule;
    int64_t lo = s ? s->last_cl_end : 0;
    enc_t e;
    enc_begin(&e, ha, out, COMET__HA__METADATA__KIND__DELAY_OFFSETS, lo);
    int max = ha->b->store ? rmq_store_max_delay_level(ha->b->store) : 0;
    for (int level = 1; s && level <= max && level <= RMQ_SCHEDULE_MAX_LEVELS; level++) {
        Comet__Ha__DelayOffset *d = rmq_malloc(sizeof(*d));
        comet__ha__delay_offset__init(d);
        d->level = level;
        d->offset = s->offsets[level];
        push(&e, (void ***)&e.m.delay_offsets, &e.m.n_delay_offsets, d, 16);
    }
    enc_end(&e);
    if (log_offset && lo > *log_offset)
        *log_offset = lo;
}

static void local_key(char *buf, size_t n, const char *topic, const char *group, int32_t qid)
{
    snprintf(buf, n, "%s@%s\001%d", topic, group, qid);
}

/* The "topic@group" of a local_key (caller frees) and its queue id; NULL
 * when k is not one. */
static char *local_key_parse(const char *k, int32_t *qid)
{
    const char *sep = strrchr(k, '\001');
    if (!sep)
        return NULL;
    *qid = atoi(sep + 1);
    return rmq_strndup(k, (size_t)(sep - k));
}

void rmq_ha_meta_encode_local(rmq_ha_t *ha, rmq_buf_t *out)
{
    if (rmq_map_count(&ha->local_offsets) == 0)
        return;
    enc_t e;
    enc_begin(&e, ha, out, COMET__HA__METADATA__KIND__OFFSET_CHANGES, 0);
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&ha->local_offsets, &it, &k, &v);) {
        int32_t qid;
        char *key = local_key_parse(k, &qid);
        if (key)
            push_offset(&e, key, qid, *(int64_t *)v);
        free(key);
    }
    enc_end(&e);
}

void rmq_ha_local_offset(rmq_ha_t *ha, const char *group, const char *topic, int32_t queue_id, int64_t offset)
{
    if (!ha || ha->master)
        return;
    char key[600];
    local_key(key, sizeof(key), topic, group, queue_id);
    int64_t *v = rmq_map_get(&ha->local_offsets, key);
    if (!v) {
        v = rmq_malloc(sizeof(*v));
        rmq_map_put(&ha->local_offsets, key, v);
    }
    *v = offset;
}

/* ---------------------------------------------------------------- apply */

/* Every named item of the parts put, every entry the master no longer has
 * deleted; how many entries changed. */
static int apply_mirror(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np, const ha_mirror_t *t)
{
    rmq_broker_t *b = ha->b;
    rmq_map_t seen;
    rmq_map_init(&seen, NULL);
    int changed = 0;
    for (size_t p = 0; p < np; p++) {
        Comet__Ha__Metadata *m = parts[p]->metadata;
        void **items = *(void ***)((char *)m + t->items_off);
        size_t n = *(size_t *)((char *)m + t->n_off);
        for (size_t i = 0; i < n; i++) {
            const char *name = t->name(items[i]);
            if (!name || !*name)
                continue;
            rmq_map_put(&seen, name, NULL);
            changed += t->put(b, items[i]);
        }
    }
    size_t nk = 0;
    const char **keys = rmq_map_sorted_keys(t->map(b), &nk);
    for (size_t i = 0; i < nk; i++) {
        if (!rmq_map_has(&seen, keys[i])) {
            char *name = rmq_strdup(keys[i]);
            t->del(b, name);
            free(name);
            changed++;
        }
    }
    free(keys);
    rmq_map_deinit(&seen);
    return changed;
}

static void apply_topics(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np)
{
    int changed = apply_mirror(ha, parts, np, &topics_mirror);
    if (changed) {
        rmq_log(RMQ_LOG_INFO, "ha", "topics from the master: %d changed, %zu in all", changed,
                rmq_map_count(&ha->b->topics.map));
        rmq_broker_topics_changed(ha->b);
    }
}

static void apply_groups(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np)
{
    if (apply_mirror(ha, parts, np, &groups_mirror))
        rmq_broker_persist_groups(ha->b);
}

static void apply_offsets(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np)
{
    rmq_broker_t *b = ha->b;
    rmq_offset_mgr_t *m = &b->offsets;
    rmq_offset_mgr_deinit(m);
    rmq_offset_mgr_init(m);
    char key[600];
    for (size_t p = 0; p < np; p++) {
        Comet__Ha__Metadata *md = parts[p]->metadata;
        for (size_t i = 0; i < md->n_offsets; i++) {
            Comet__Ha__ConsumerOffset *o = md->offsets[i];
            if (!o->topic || !*o->topic || !o->group || !*o->group)
                continue;
            rmq_offset_commit(m, o->group, o->topic, o->queue_id, o->offset);
            /* the slave's own commit is no longer needed once the master has as much */
            local_key(key, sizeof(key), o->topic, o->group, o->queue_id);
            int64_t *mine = rmq_map_get(&ha->local_offsets, key);
            if (mine && *mine <= o->offset)
                rmq_map_del(&ha->local_offsets, key);
        }
    }
    /* what the slave took itself and the master does not have yet */
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&ha->local_offsets, &it, &k, &v);) {
        int32_t qid;
        char *full = local_key_parse(k, &qid);
        char *topic, *group;
        if (full && split_key(full, &topic, &group)) {
            if (rmq_offset_query(m, group, topic, qid) < *(int64_t *)v)
                rmq_offset_commit(m, group, topic, qid, *(int64_t *)v);
            free(topic);
            free(group);
        }
        free(full);
    }
    m->dirty = true;
}

static void apply_delay(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np)
{
    rmq_schedule_t *s = ha->b->schedule;
    if (!s)
        return;
    for (size_t p = 0; p < np; p++) {
        Comet__Ha__Metadata *m = parts[p]->metadata;
        for (size_t i = 0; i < m->n_delay_offsets; i++) {
            Comet__Ha__DelayOffset *d = m->delay_offsets[i];
            if (d->level < 1 || d->level > RMQ_SCHEDULE_MAX_LEVELS || d->offset < 0)
                continue;
            if (s->offsets[d->level] != d->offset)
                s->dirty = true;
            s->offsets[d->level] = s->durable[d->level] = d->offset;
        }
    }
}

/* master: offsets a slave's clients committed while this master was away */
static void apply_changes(rmq_ha_t *ha, Comet__Ha__Metadata *m)
{
    rmq_broker_t *b = ha->b;
    int raised = 0;
    for (size_t i = 0; i < m->n_offsets; i++) {
        Comet__Ha__ConsumerOffset *o = m->offsets[i];
        if (!o->topic || !*o->topic || !o->group || !*o->group)
            continue;
        if (rmq_offset_query(&b->offsets, o->group, o->topic, o->queue_id) < o->offset) {
            rmq_offset_commit(&b->offsets, o->group, o->topic, o->queue_id, o->offset);
            raised++;
        }
    }
    if (raised)
        rmq_log(RMQ_LOG_INFO, "ha", "%d consumer offsets raised to what clients committed on a slave",
                raised);
}

/* What each kind of snapshot does: how a master encodes its table, how a
 * slave applies the parts it received (indexed by kind). */
static const struct {
    void (*encode)(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset);
    void (*apply)(rmq_ha_t *ha, rmq_ha_frame_t **parts, size_t np);
} kinds[KINDS] = {
    [COMET__HA__METADATA__KIND__TOPICS] = {encode_topics, apply_topics},
    [COMET__HA__METADATA__KIND__GROUPS] = {encode_groups, apply_groups},
    [COMET__HA__METADATA__KIND__OFFSETS] = {encode_offsets, apply_offsets},
    [COMET__HA__METADATA__KIND__DELAY_OFFSETS] = {encode_delay, apply_delay},
};

_Static_assert((int)RMQ_HA_META_TOPICS == COMET__HA__METADATA__KIND__TOPICS &&
                   (int)RMQ_HA_META_GROUPS == COMET__HA__METADATA__KIND__GROUPS &&
                   (int)RMQ_HA_META_OFFSETS == COMET__HA__METADATA__KIND__OFFSETS &&
                   (int)RMQ_HA_META_DELAY == COMET__HA__METADATA__KIND__DELAY_OFFSETS,
               "rmq_ha_meta_kind_t indexes kinds[]");

void rmq_ha_meta_encode(rmq_ha_t *ha, rmq_ha_meta_kind_t kind, rmq_buf_t *out, int64_t *log_offset)
{
    if ((int)kind > 0 && (int)kind < KINDS && kinds[kind].encode)
        kinds[kind].encode(ha, out, log_offset);
}

void rmq_ha_meta_encode_all(rmq_ha_t *ha, rmq_buf_t *out, int64_t *log_offset)
{
    for (int k = 0; k < KINDS; k++)
        if (kinds[k].encode)
            kinds[k].encode(ha, out, log_offset);
}

void rmq_ha_meta_apply(rmq_ha_t *ha, rmq_ha_frame_t *f)
{
    Comet__Ha__Metadata *m = f->metadata;
    int kind = (int)m->kind;
    if (kind == COMET__HA__METADATA__KIND__OFFSET_CHANGES) {
        if (ha->master)
            apply_changes(ha, m);
        rmq_ha_frame_free(f);
        return;
    }
    if (ha->master || kind <= 0 || kind >= KINDS) {
        rmq_ha_frame_free(f);
        return;
    }
    ha_stage_t *st = ha->stage;
    if (m->part == 0)
        stage_clear(st, kind);
    else if ((size_t)m->part != st->n[kind]) {
        rmq_log(RMQ_LOG_WARN, "ha",
                "metadata part %d of kind %d out of order; dropped until the next snapshot", m->part, kind);
        stage_clear(st, kind);
        rmq_ha_frame_free(f);
        return;
    }
    st->parts[kind] = rmq_realloc(st->parts[kind], (st->n[kind] + 1) * sizeof(*st->parts[kind]));
    st->parts[kind][st->n[kind]++] = f;
    if (!m->last_part)
        return;
    if (kinds[kind].apply)
        kinds[kind].apply(ha, st->parts[kind], st->n[kind]);
    stage_clear(st, kind);
}

/* -------------------------------------------------------- change hooks */

/* @thread HA: to the link of the moment */
static void send_local(rmq_ha_t *ha, uint64_t unused, ha_blob_t *blob)
{
    (void)unused;
    rmq_ha_slave_send_frames(ha, ha->link.session, blob);
}

void rmq_ha_meta_changed(rmq_ha_t *ha, rmq_ha_meta_kind_t kind)
{
    if (!ha || !ha->mbox)
        return;
    rmq_buf_t out;
    rmq_buf_init(&out);
    int64_t log_offset = 0;
    if (ha->master) {
        if (atomic_load(&ha->ready_slaves) == 0) {
            rmq_buf_free(&out);
            return; /* a slave gets every table when it connects */
        }
        rmq_ha_meta_encode(ha, kind, &out, &log_offset);
        rmq_ha_post_blob(ha, rmq_ha_master_queue_meta, 0, &out, log_offset); /* 0: every slave */
    } else if (kind == RMQ_HA_META_OFFSETS) {
        rmq_ha_meta_encode_local(ha, &out);
        if (out.len)
            rmq_ha_post_blob(ha, send_local, 0, &out, 0);
    }
    rmq_buf_free(&out);
}
