/* topic_config.c - the topic table and its encodings.
 * Owns: rmq_topic_mgr_t contents. Thread: io (and main at start-up).
 * Never: does file I/O itself - broker.c hands the packed bytes to the
 * snapshot writer. */
#include "topic_config.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "snapshot.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

static void tc_free(void *p)
{
    rmq_topic_config_t *tc = p;
    if (!tc)
        return;
    free(tc->name);
    free(tc);
}

void rmq_topic_mgr_init(rmq_topic_mgr_t *m)
{
    rmq_map_init(&m->map, tc_free);
    m->dv.timestamp = rmq_now_ms();
    m->dv.counter = 0;
}

void rmq_topic_mgr_deinit(rmq_topic_mgr_t *m)
{
    rmq_map_deinit(&m->map);
}

rmq_topic_config_t *rmq_topic_get(rmq_topic_mgr_t *m, const char *name)
{
    return name ? rmq_map_get(&m->map, name) : NULL;
}

void rmq_data_version_next(rmq_data_version_t *dv)
{
    dv->timestamp = rmq_now_ms();
    dv->counter++;
}

rmq_topic_config_t *rmq_topic_put(rmq_topic_mgr_t *m, const rmq_topic_config_t *tc)
{
    rmq_topic_config_t *n = rmq_malloc(sizeof(*n));
    *n = *tc;
    n->name = rmq_strdup(tc->name);
    rmq_map_put(&m->map, n->name, n);
    rmq_data_version_next(&m->dv);
    return n;
}

bool rmq_topic_del(rmq_topic_mgr_t *m, const char *name)
{
    bool r = rmq_map_del(&m->map, name);
    if (r)
        rmq_data_version_next(&m->dv);
    return r;
}

const char *rmq_topic_filter_name(int32_t ft)
{
    return ft == 1 ? "MULTI_TAG" : "SINGLE_TAG";
}

int rmq_topic_filter_parse(const char *s)
{
    if (!s || !strcmp(s, "SINGLE_TAG"))
        return 0;
    if (!strcmp(s, "MULTI_TAG"))
        return 1;
    return -1;
}

bool rmq_topic_is_system(const char *t)
{
    static const char *const forbidden[] = {RMQ_SCHEDULE_TOPIC,
                                            "RMQ_SYS_TRANS_HALF_TOPIC",
                                            "RMQ_SYS_TRANS_OP_HALF_TOPIC",
                                            "TRANS_CHECK_MAX_TIME_TOPIC",
                                            RMQ_TOPIC_SELF_TEST,
                                            RMQ_TOPIC_OFFSET_MOVED,
                                            NULL};
    for (int i = 0; forbidden[i]; i++)
        if (!strcmp(t, forbidden[i]))
            return true;
    return false;
}

void rmq_topic_json_one(rmq_buf_t *out, const rmq_topic_config_t *tc)
{
    rmq_jw_t w;
    rmq_jw_init(&w, out);
    rmq_jw_obj_begin(&w);
    rmq_jw_kbool(&w, "order", tc->order);
    rmq_jw_kint(&w, "perm", tc->perm);
    rmq_jw_kint(&w, "readQueueNums", tc->read_queues);
    rmq_jw_kstr(&w, "topicFilterType", rmq_topic_filter_name(tc->filter_type));
    rmq_jw_kstr(&w, "topicName", tc->name);
    rmq_jw_kint(&w, "topicSysFlag", tc->sys_flag);
    rmq_jw_kint(&w, "writeQueueNums", tc->write_queues);
    rmq_jw_obj_end(&w);
}

void rmq_data_version_json(rmq_buf_t *out, const rmq_data_version_t *dv)
{
    rmq_buf_printf(out, "{\"counter\":%lld,\"timestamp\":%lld}", (long long)dv->counter,
                   (long long)dv->timestamp);
}

void rmq_topic_json_wrapper(rmq_buf_t *out, const rmq_topic_mgr_t *m)
{
    rmq_buf_puts(out, "{\"dataVersion\":");
    rmq_data_version_json(out, &m->dv);
    rmq_buf_puts(out, ",\"topicConfigTable\":{");
    size_t n = 0;
    const char **keys = rmq_map_sorted_keys(&m->map, &n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            rmq_buf_putc(out, ',');
        rmq_json_escape(out, keys[i], strlen(keys[i]), false);
        rmq_buf_putc(out, ':');
        rmq_topic_json_one(out, rmq_map_get(&m->map, keys[i]));
    }
    free(keys);
    rmq_buf_puts(out, "}}");
}

/* ---- msgpack ---- */

static int buf_write(void *data, const char *p, size_t n)
{
    rmq_buf_put((rmq_buf_t *)data, p, n);
    return 0;
}

void rmq_topic_mgr_pack(const rmq_topic_mgr_t *m, rmq_buf_t *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int64(&pk, m->dv.timestamp);
    msgpack_pack_int64(&pk, m->dv.counter);
    msgpack_pack_array(&pk, rmq_map_count(&m->map));
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&m->map, &it, &k, &v);) {
        const rmq_topic_config_t *tc = v;
        msgpack_pack_array(&pk, 7);
        rmq_mp_pack_str(&pk, tc->name);
        msgpack_pack_int32(&pk, tc->read_queues);
        msgpack_pack_int32(&pk, tc->write_queues);
        msgpack_pack_int32(&pk, tc->perm);
        msgpack_pack_int32(&pk, tc->filter_type);
        msgpack_pack_int32(&pk, tc->sys_flag);
        if (tc->order)
            msgpack_pack_true(&pk);
        else
            msgpack_pack_false(&pk);
    }
}

rmq_err_t rmq_topic_mgr_unpack(rmq_topic_mgr_t *m, const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    rmq_err_t r = RMQ_ERR__CORRUPT;
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        goto out;
    int64_t ts, cnt;
    if (!rmq_mp_i64(&o->via.array.ptr[0], &ts) || !rmq_mp_i64(&o->via.array.ptr[1], &cnt))
        goto out;
    msgpack_object *arr = &o->via.array.ptr[2];
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        goto out;
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        msgpack_object *e = &arr->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 7)
            goto out;
        int64_t rq, wq, perm, ft, sf;
        char *name = rmq_mp_strdup(&e->via.array.ptr[0]);
        if (!name || !rmq_mp_i64(&e->via.array.ptr[1], &rq) || !rmq_mp_i64(&e->via.array.ptr[2], &wq) ||
            !rmq_mp_i64(&e->via.array.ptr[3], &perm) || !rmq_mp_i64(&e->via.array.ptr[4], &ft) ||
            !rmq_mp_i64(&e->via.array.ptr[5], &sf) || e->via.array.ptr[6].type != MSGPACK_OBJECT_BOOLEAN) {
            free(name);
            goto out;
        }
        rmq_topic_config_t tc = {name,
                                 (int32_t)rq,
                                 (int32_t)wq,
                                 (int32_t)perm,
                                 (int32_t)ft,
                                 (int32_t)sf,
                                 e->via.array.ptr[6].via.boolean};
        rmq_topic_put(m, &tc);
        free(name);
    }
    m->dv.timestamp = ts;
    m->dv.counter = cnt;
    r = RMQ_OK;
out:
    msgpack_unpacked_destroy(&u);
    return r;
}

rmq_err_t rmq_topic_mgr_import_json(rmq_topic_mgr_t *m, const char *text, size_t len)
{
    char err[256];
    json_t *root = rmq_json_parse(text, len, err, sizeof(err));
    if (!root) {
        rmq_log(RMQ_LOG_ERROR, "broker", "topics.json: %s", err);
        return RMQ_ERR__CORRUPT;
    }
    json_t *tbl = json_object_get(root, "topicConfigTable");
    const char *key;
    json_t *v;
    json_object_foreach(tbl, key, v)
    {
        int64_t rq = 0, wq = 0, perm = 6, sf = 0;
        bool order = false;
        rmq_json_int(v, "readQueueNums", &rq);
        rmq_json_int(v, "writeQueueNums", &wq);
        rmq_json_int(v, "perm", &perm);
        rmq_json_int(v, "topicSysFlag", &sf);
        rmq_json_bool(v, "order", &order);
        int ft = rmq_topic_filter_parse(rmq_json_str(v, "topicFilterType"));
        rmq_topic_config_t tc = {(char *)key,     (int32_t)rq, (int32_t)wq, (int32_t)perm,
                                 ft < 0 ? 0 : ft, (int32_t)sf, order};
        rmq_topic_put(m, &tc);
    }
    json_t *dv = json_object_get(root, "dataVersion");
    if (dv) {
        rmq_json_int(dv, "timestamp", &m->dv.timestamp);
        rmq_json_int(dv, "counter", &m->dv.counter);
    }
    json_decref(root);
    return RMQ_OK;
}
