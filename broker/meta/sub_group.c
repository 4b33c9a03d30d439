/* sub_group.c - subscription group table and its encodings.
 * Owns: rmq_sub_group_mgr_t contents. Thread: io (main at start-up).
 * Never: file I/O (broker_meta.c persists through the snapshot writer). */
#include "meta/sub_group.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "meta/snapshot.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

void rmq_sub_group_mgr_init(rmq_sub_group_mgr_t *m)
{
    rmq_named_table_init(&m->map, &m->dv);
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
    return rmq_named_table_put(&m->map, &m->dv, g, sizeof(*g));
}

bool rmq_sub_group_del(rmq_sub_group_mgr_t *m, const char *name)
{
    return rmq_named_table_del(&m->map, &m->dv, name);
}

/* One group as fastjson's SubscriptionGroupConfig (a value of the table). */
static void json_one(rmq_buf_t *out, const void *v)
{
    const rmq_sub_group_t *g = v;
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
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
    rmq_meta_json_wrapper(out, &m->dv, "subscriptionGroupTable", &m->map, json_one);
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

static void pack_group(msgpack_packer *pk, const void *v)
{
    const rmq_sub_group_t *g = v;
    msgpack_pack_array(pk, 9);
    rmq_mp_pack_str(pk, g->name);
    msgpack_pack_int32(pk, g->retry_queue_nums);
    msgpack_pack_int32(pk, g->retry_max_times);
    msgpack_pack_int64(pk, g->broker_id);
    msgpack_pack_int64(pk, g->which_broker_when_consume_slowly);
    bool bs[4] = {g->consume_enable, g->consume_from_min_enable, g->consume_broadcast_enable,
                  g->notify_consumer_ids_changed_enable};
    for (int i = 0; i < 4; i++)
        bs[i] ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

static bool unpack_group(void *m, const msgpack_object *e)
{
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 9 ||
        e->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
        return false;
    const msgpack_object *f = e->via.array.ptr;
    int64_t rq, rm, bid, wb;
    if (!rmq_mp_i64(&f[1], &rq) || !rmq_mp_i64(&f[2], &rm) || !rmq_mp_i64(&f[3], &bid) ||
        !rmq_mp_i64(&f[4], &wb))
        return false;
    for (int j = 5; j < 9; j++)
        if (f[j].type != MSGPACK_OBJECT_BOOLEAN)
            return false;
    char *name = rmq_strndup(f[0].via.str.ptr, f[0].via.str.size);
    rmq_sub_group_t g = {
        name, f[5].via.boolean, f[6].via.boolean, f[7].via.boolean, (int32_t)rq, (int32_t)rm, bid,
        wb,   f[8].via.boolean};
    rmq_sub_group_put(m, &g);
    free(name);
    return true;
}

static void import_group(void *m, const char *key, json_t *v)
{
    rmq_sub_group_t g;
    rmq_sub_group_defaults(&g, key);
    from_json_obj(&g, v);
    rmq_sub_group_put(m, &g);
}

RMQ_NAMED_TABLE_META_OPS(rmq_sub_group_meta_ops, "subscriptionGroup", rmq_sub_group_mgr_t, pack_group,
                         unpack_group, "subscriptionGroupTable", import_group, false);
