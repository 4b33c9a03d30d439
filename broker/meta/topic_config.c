/* topic_config.c - the topic table and its encodings.
 * Owns: rmq_topic_mgr_t contents. Thread: io (and main at start-up).
 * Never: does file I/O itself - broker_meta.c hands the packed bytes to the
 * snapshot writer. */
#include "meta/topic_config.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "meta/snapshot.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

void rmq_topic_mgr_init(rmq_topic_mgr_t *m)
{
    rmq_named_table_init(&m->map, &m->dv);
    rmq_map_init(&m->changed, NULL);
}

void rmq_topic_mgr_deinit(rmq_topic_mgr_t *m)
{
    rmq_map_deinit(&m->map);
    rmq_map_deinit(&m->changed);
}

rmq_topic_config_t *rmq_topic_get(rmq_topic_mgr_t *m, const char *name)
{
    return name ? rmq_map_get(&m->map, name) : NULL;
}

rmq_topic_config_t *rmq_topic_put(rmq_topic_mgr_t *m, const rmq_topic_config_t *tc)
{
    rmq_topic_config_t *n = rmq_named_table_put(&m->map, &m->dv, tc, sizeof(*tc));
    rmq_map_put(&m->changed, n->name, NULL);
    return n;
}

bool rmq_topic_del(rmq_topic_mgr_t *m, const char *name)
{
    bool r = rmq_named_table_del(&m->map, &m->dv, name);
    if (r)
        rmq_map_put(&m->changed, name, NULL);
    return r;
}

void rmq_topic_changed_clear(rmq_topic_mgr_t *m)
{
    rmq_map_deinit(&m->changed);
    rmq_map_init(&m->changed, NULL);
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
    rmq_jw_init_obj(&w, out);
    rmq_jw_kbool(&w, "order", tc->order);
    rmq_jw_kint(&w, "perm", tc->perm);
    rmq_jw_kint(&w, "readQueueNums", tc->read_queues);
    rmq_jw_kstr(&w, "topicFilterType", rmq_topic_filter_name(tc->filter_type));
    rmq_jw_kstr(&w, "topicName", tc->name);
    rmq_jw_kint(&w, "topicSysFlag", tc->sys_flag);
    rmq_jw_kint(&w, "writeQueueNums", tc->write_queues);
    rmq_jw_obj_end(&w);
}

static void json_one(rmq_buf_t *out, const void *tc)
{
    rmq_topic_json_one(out, tc);
}

void rmq_topic_json_wrapper(rmq_buf_t *out, const rmq_topic_mgr_t *m)
{
    rmq_meta_json_wrapper(out, &m->dv, "topicConfigTable", &m->map, json_one);
}

/* ---- msgpack ---- */

static void pack_topic(msgpack_packer *pk, const void *v)
{
    const rmq_topic_config_t *tc = v;
    int32_t ints[5] = {tc->read_queues, tc->write_queues, tc->perm, tc->filter_type, tc->sys_flag};
    msgpack_pack_array(pk, 7);
    rmq_mp_pack_str(pk, tc->name);
    for (int i = 0; i < 5; i++)
        msgpack_pack_int32(pk, ints[i]);
    if (tc->order)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static bool unpack_topic(void *m, const msgpack_object *e)
{
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 7)
        return false;
    const msgpack_object *f = e->via.array.ptr;
    int64_t rq, wq, perm, ft, sf;
    char *name = rmq_mp_strdup(&f[0]);
    if (!name || !rmq_mp_i64(&f[1], &rq) || !rmq_mp_i64(&f[2], &wq) || !rmq_mp_i64(&f[3], &perm) ||
        !rmq_mp_i64(&f[4], &ft) || !rmq_mp_i64(&f[5], &sf) || f[6].type != MSGPACK_OBJECT_BOOLEAN) {
        free(name);
        return false;
    }
    rmq_topic_config_t tc = {name,        (int32_t)rq, (int32_t)wq,     (int32_t)perm,
                             (int32_t)ft, (int32_t)sf, f[6].via.boolean};
    rmq_topic_put(m, &tc);
    free(name);
    return true;
}

static void import_topic(void *m, const char *key, json_t *v)
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

RMQ_NAMED_TABLE_META_OPS(rmq_topic_meta_ops, "topics", rmq_topic_mgr_t, pack_topic, unpack_topic,
                         "topicConfigTable", import_topic, true);
