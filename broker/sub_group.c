/* sub_group.c - subscription group table and its encodings.
 * Owns: rmq_sub_group_mgr_t contents. Thread: io (main at start-up).
 * Never: file I/O (broker.c persists through the snapshot writer). */
#include "sub_group.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "snapshot.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

static void g_free(void *p)
{
    rmq_sub_group_t *g = p;
    if (!g)
        return;
    free(g->name);
    free(g);
}

void rmq_sub_group_mgr_init(rmq_sub_group_mgr_t *m)
{
    rmq_map_init(&m->map, g_free);
    m->dv.timestamp = rmq_now_ms();
    m->dv.counter = 0;
}

void rmq_sub_group_mgr_deinit(rmq_sub_group_mgr_t *m)
{
    rmq_map_deinit(&m->map);
}

rmq_sub_group_t *rmq_sub_group_get(rmq_sub_group_mgr_t *m, const char *name)
{
    return name ? rmq_map_get(&m->map, name) : NULL;
}

void rmq_sub_group_defaults(rmq_sub_group_t *g, const char *name)
{
    memset(g, 0, sizeof(*g));
    g->name = (char *)name;
    g->consume_enable = true;
    g->consume_from_min_enable = true;
    g->consume_broadcast_enable = true;
    g->retry_queue_nums = 1;
    g->retry_max_times = 16;
    g->broker_id = 0;
    g->which_broker_when_consume_slowly = 1;
    g->notify_consumer_ids_changed_enable = true;
}

rmq_sub_group_t *rmq_sub_group_put(rmq_sub_group_mgr_t *m, const rmq_sub_group_t *g)
{
    rmq_sub_group_t *n = rmq_malloc(sizeof(*n));
    *n = *g;
    n->name = rmq_strdup(g->name);
    rmq_map_put(&m->map, n->name, n);
    rmq_data_version_next(&m->dv);
    return n;
}

bool rmq_sub_group_del(rmq_sub_group_mgr_t *m, const char *name)
{
    bool r = rmq_map_del(&m->map, name);
    if (r)
        rmq_data_version_next(&m->dv);
    return r;
}

void rmq_sub_group_json_one(rmq_buf_t *out, const rmq_sub_group_t *g)
{
    rmq_jw_t w;
    rmq_jw_init(&w, out);
    rmq_jw_obj_begin(&w);
    rmq_jw_kint(&w, "brokerId", g->broker_id);
    rmq_jw_kbool(&w, "consumeBroadcastEnable", g->consume_broadcast_enable);
    rmq_jw_kbool(&w, "consumeEnable", g->consume_enable);
    rmq_jw_kbool(&w, "consumeFromMinEnable", g->consume_from_min_enable);
    rmq_jw_kstr(&w, "groupName", g->name);
    rmq_jw_kbool(&w, "notifyConsumerIdsChangedEnable", g->notify_consumer_ids_changed_enable);
    rmq_jw_kint(&w, "retryMaxTimes", g->retry_max_times);
    rmq_jw_kint(&w, "retryQueueNums", g->retry_queue_nums);
    rmq_jw_kint(&w, "whichBrokerWhenConsumeSlowly", g->which_broker_when_consume_slowly);
    rmq_jw_obj_end(&w);
}

void rmq_sub_group_json_wrapper(rmq_buf_t *out, const rmq_sub_group_mgr_t *m)
{
    rmq_buf_puts(out, "{\"dataVersion\":");
    rmq_data_version_json(out, &m->dv);
    rmq_buf_puts(out, ",\"subscriptionGroupTable\":{");
    size_t n = 0;
    const char **keys = rmq_map_sorted_keys(&m->map, &n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            rmq_buf_putc(out, ',');
        rmq_json_escape(out, keys[i], strlen(keys[i]), false);
        rmq_buf_putc(out, ':');
        rmq_sub_group_json_one(out, rmq_map_get(&m->map, keys[i]));
    }
    free(keys);
    rmq_buf_puts(out, "}}");
}

static void from_json_obj(rmq_sub_group_t *g, json_t *v)
{
    int64_t i;
    bool b;
    if (rmq_json_bool(v, "consumeEnable", &b))
        g->consume_enable = b;
    if (rmq_json_bool(v, "consumeFromMinEnable", &b))
        g->consume_from_min_enable = b;
    if (rmq_json_bool(v, "consumeBroadcastEnable", &b))
        g->consume_broadcast_enable = b;
    if (rmq_json_bool(v, "notifyConsumerIdsChangedEnable", &b))
        g->notify_consumer_ids_changed_enable = b;
    if (rmq_json_int(v, "retryQueueNums", &i))
        g->retry_queue_nums = (int32_t)i;
    if (rmq_json_int(v, "retryMaxTimes", &i))
        g->retry_max_times = (int32_t)i;
    if (rmq_json_int(v, "brokerId", &i))
        g->broker_id = i;
    if (rmq_json_int(v, "whichBrokerWhenConsumeSlowly", &i))
        g->which_broker_when_consume_slowly = i;
}

rmq_err_t rmq_sub_group_from_json(rmq_sub_group_t *g, const char *text, size_t len, char *errstr, size_t n)
{
    json_t *root = rmq_json_parse(text, len, errstr, n);
    if (!root)
        return RMQ_ERR__INVALID_ARG;
    if (!json_is_object(root)) {
        snprintf(errstr, n, "body is not a JSON object");
        json_decref(root);
        return RMQ_ERR__INVALID_ARG;
    }
    const char *name = rmq_json_str(root, "groupName");
    if (!name || !*name) {
        snprintf(errstr, n, "groupName is missing");
        json_decref(root);
        return RMQ_ERR__INVALID_ARG;
    }
    rmq_sub_group_defaults(g, NULL);
    g->name = rmq_strdup(name);
    from_json_obj(g, root);
    json_decref(root);
    if (g->retry_queue_nums < 0 || g->retry_queue_nums > 1024 || g->retry_max_times < 0) {
        snprintf(errstr, n, "retryQueueNums/retryMaxTimes out of range");
        free(g->name);
        g->name = NULL;
        return RMQ_ERR__INVALID_ARG;
    }
    return RMQ_OK;
}

static int buf_write(void *data, const char *p, size_t n)
{
    rmq_buf_put((rmq_buf_t *)data, p, n);
    return 0;
}

void rmq_sub_group_mgr_pack(const rmq_sub_group_mgr_t *m, rmq_buf_t *out)
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
        const rmq_sub_group_t *g = v;
        msgpack_pack_array(&pk, 9);
        rmq_mp_pack_str(&pk, g->name);
        msgpack_pack_int32(&pk, g->retry_queue_nums);
        msgpack_pack_int32(&pk, g->retry_max_times);
        msgpack_pack_int64(&pk, g->broker_id);
        msgpack_pack_int64(&pk, g->which_broker_when_consume_slowly);
        bool bs[4] = {g->consume_enable, g->consume_from_min_enable, g->consume_broadcast_enable,
                      g->notify_consumer_ids_changed_enable};
        for (int i = 0; i < 4; i++)
            bs[i] ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    }
}

rmq_err_t rmq_sub_group_mgr_unpack(rmq_sub_group_mgr_t *m, const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    rmq_err_t r = RMQ_ERR__CORRUPT;
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    msgpack_object *o = &u.data;
    int64_t ts, cnt;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 || !rmq_mp_i64(&o->via.array.ptr[0], &ts) ||
        !rmq_mp_i64(&o->via.array.ptr[1], &cnt) || o->via.array.ptr[2].type != MSGPACK_OBJECT_ARRAY)
        goto out;
    msgpack_object *arr = &o->via.array.ptr[2];
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        msgpack_object *e = &arr->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 9 ||
            e->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
            goto out;
        msgpack_object *f = e->via.array.ptr;
        int64_t rq, rm, bid, wb;
        if (!rmq_mp_i64(&f[1], &rq) || !rmq_mp_i64(&f[2], &rm) || !rmq_mp_i64(&f[3], &bid) || !rmq_mp_i64(&f[4], &wb))
            goto out;
        for (int j = 5; j < 9; j++)
            if (f[j].type != MSGPACK_OBJECT_BOOLEAN)
                goto out;
        char *name = rmq_strndup(f[0].via.str.ptr, f[0].via.str.size);
        rmq_sub_group_t g = {
            name, f[5].via.boolean, f[6].via.boolean, f[7].via.boolean, (int32_t)rq, (int32_t)rm, bid,
            wb,   f[8].via.boolean};
        rmq_sub_group_put(m, &g);
        free(name);
    }
    m->dv.timestamp = ts;
    m->dv.counter = cnt;
    r = RMQ_OK;
out:
    msgpack_unpacked_destroy(&u);
    return r;
}

rmq_err_t rmq_sub_group_mgr_import_json(rmq_sub_group_mgr_t *m, const char *text, size_t len)
{
    char err[256];
    json_t *root = rmq_json_parse(text, len, err, sizeof(err));
    if (!root) {
        rmq_log(RMQ_LOG_ERROR, "broker", "subscriptionGroup.json: %s", err);
        return RMQ_ERR__CORRUPT;
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(root, "subscriptionGroupTable"), key, v)
    {
        rmq_sub_group_t g;
        rmq_sub_group_defaults(&g, key);
        from_json_obj(&g, v);
        rmq_sub_group_put(m, &g);
    }
    json_decref(root);
    return RMQ_OK;
}
