/* consumer_offset.c - committed consumer offsets and their encodings.
 * Owns: rmq_offset_mgr_t contents. Thread: io (main at start-up).
 * Never: file I/O (broker_meta.c persists through the snapshot writer). */
#include "meta/consumer_offset.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "meta/snapshot.h"
#include "meta/table.h"
#include "rmq_json.h"
#include "rmq_log.h"

static void q_free(void *p)
{
    rmq_qoffsets_t *q = p;
    free(q->qids);
    free(q->offsets);
    free(q);
}

void rmq_offset_mgr_init(rmq_offset_mgr_t *m)
{
    rmq_map_init(&m->map, q_free);
    m->dirty = false;
}

void rmq_offset_mgr_deinit(rmq_offset_mgr_t *m)
{
    rmq_map_deinit(&m->map);
}

static char *mk_key(const char *group, const char *topic)
{
    return rmq_asprintf("%s@%s", topic, group);
}

static void q_set(rmq_qoffsets_t *q, int32_t qid, int64_t off)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->qids[i] == qid) {
            q->offsets[i] = off;
            return;
        }
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 8;
        q->qids = rmq_realloc(q->qids, q->cap * sizeof(*q->qids));
        q->offsets = rmq_realloc(q->offsets, q->cap * sizeof(*q->offsets));
    }
    q->qids[q->n] = qid;
    q->offsets[q->n] = off;
    q->n++;
}

static void commit_key(rmq_offset_mgr_t *m, const char *key, int32_t qid, int64_t offset)
{
    rmq_qoffsets_t *q = rmq_map_get(&m->map, key);
    if (!q) {
        q = rmq_calloc(1, sizeof(*q));
        rmq_map_put(&m->map, key, q);
    }
    q_set(q, qid, offset);
    m->dirty = true;
}

void rmq_offset_commit(rmq_offset_mgr_t *m, const char *group, const char *topic, int32_t qid, int64_t offset)
{
    char *key = mk_key(group, topic);
    commit_key(m, key, qid, offset);
    free(key);
}

int64_t rmq_offset_query(rmq_offset_mgr_t *m, const char *group, const char *topic, int32_t qid)
{
    const rmq_qoffsets_t *q = rmq_offset_table(m, group, topic);
    if (q)
        for (size_t i = 0; i < q->n; i++)
            if (q->qids[i] == qid)
                return q->offsets[i];
    return -1;
}

const rmq_qoffsets_t *rmq_offset_table(rmq_offset_mgr_t *m, const char *group, const char *topic)
{
    char *key = mk_key(group, topic);
    rmq_qoffsets_t *q = rmq_map_get(&m->map, key);
    free(key);
    return q;
}

static void remove_matching(rmq_offset_mgr_t *m, const char *s, bool topic_part)
{
    size_t cnt = 0;
    const char **del = rmq_calloc(rmq_map_count(&m->map) + 1, sizeof(char *));
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&m->map, &it, &k, &v);) {
        const char *at = strrchr(k, '@');
        if (!at)
            continue;
        bool match = topic_part ? (strlen(s) == (size_t)(at - k) && !strncmp(k, s, (size_t)(at - k)))
                                : !strcmp(at + 1, s);
        if (match)
            del[cnt++] = k;
    }
    char **copies = rmq_calloc(cnt + 1, sizeof(char *));
    for (size_t i = 0; i < cnt; i++)
        copies[i] = rmq_strdup(del[i]);
    for (size_t i = 0; i < cnt; i++) {
        rmq_map_del(&m->map, copies[i]);
        free(copies[i]);
    }
    free(copies);
    free(del);
    if (cnt)
        m->dirty = true;
}

void rmq_offset_remove_topic(rmq_offset_mgr_t *m, const char *topic)
{
    remove_matching(m, topic, true);
}

void rmq_offset_remove_group(rmq_offset_mgr_t *m, const char *group)
{
    remove_matching(m, group, false);
}

static void json_queues(rmq_buf_t *out, const void *v)
{
    const rmq_qoffsets_t *q = v;
    rmq_buf_putc(out, '{');
    for (size_t j = 0; j < q->n; j++)
        rmq_buf_printf(out, "%s%d:%lld", j ? "," : "", q->qids[j], (long long)q->offsets[j]);
    rmq_buf_putc(out, '}');
}

void rmq_offset_json(rmq_buf_t *out, const rmq_offset_mgr_t *m)
{
    rmq_buf_puts(out, "{\"offsetTable\":");
    rmq_meta_json_map(out, &m->map, json_queues);
    rmq_buf_putc(out, '}');
}

static void offsets_pack(const rmq_offset_mgr_t *m, rmq_buf_t *out)
{
    msgpack_packer pk;
    rmq_mp_packer_init(&pk, out);
    msgpack_pack_map(&pk, rmq_map_count(&m->map));
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&m->map, &it, &k, &v);) {
        const rmq_qoffsets_t *q = v;
        rmq_mp_pack_str(&pk, k);
        msgpack_pack_map(&pk, q->n);
        for (size_t j = 0; j < q->n; j++) {
            msgpack_pack_int32(&pk, q->qids[j]);
            msgpack_pack_int64(&pk, q->offsets[j]);
        }
    }
}

static rmq_err_t offsets_unpack(rmq_offset_mgr_t *m, const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    rmq_err_t r = RMQ_ERR__CORRUPT;
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    if (u.data.type != MSGPACK_OBJECT_MAP)
        goto out;
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->val.type != MSGPACK_OBJECT_MAP)
            goto out;
        char *key = rmq_strndup(kv->key.via.str.ptr, kv->key.via.str.size);
        for (uint32_t j = 0; j < kv->val.via.map.size; j++) {
            int64_t qid, o;
            if (!rmq_mp_i64(&kv->val.via.map.ptr[j].key, &qid) ||
                !rmq_mp_i64(&kv->val.via.map.ptr[j].val, &o)) {
                free(key);
                goto out;
            }
            commit_key(m, key, (int32_t)qid, o);
        }
        free(key);
    }
    m->dirty = false;
    r = RMQ_OK;
out:
    msgpack_unpacked_destroy(&u);
    return r;
}

/* "topic@group": {"queueId": offset, ...} */
static void import_offsets(void *m, const char *key, json_t *v)
{
    const char *qk;
    json_t *qv;
    json_object_foreach(v, qk, qv)
    {
        if (json_is_integer(qv))
            commit_key(m, key, atoi(qk), (int64_t)json_integer_value(qv));
    }
}

static rmq_err_t offsets_import_json(rmq_offset_mgr_t *m, const char *text, size_t len)
{
    return rmq_meta_import_json("consumerOffset.json", text, len, "offsetTable", import_offsets, m, NULL);
}

static void offsets_persisted(void *m)
{
    ((rmq_offset_mgr_t *)m)->dirty = false;
}

RMQ_META_OPS(rmq_offset_meta_ops, "consumerOffset", rmq_offset_mgr_t, offsets_pack, offsets_unpack,
             offsets_import_json, offsets_persisted);
