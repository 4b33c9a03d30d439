/* table.c - the metadata tables' shared parts (see table.h): data versions,
 * versioned tables of named entries, JSON objects from maps, the msgpack
 * envelope, RocketMQ JSON imports.
 * Thread: io (and main at start-up). Never: file I/O. */
#include "meta/table.h"

#include <stdlib.h>
#include <string.h>

#include "meta/snapshot.h"
#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"

void rmq_data_version_next(rmq_data_version_t *dv)
{
    dv->timestamp = rmq_now_ms();
    dv->counter++;
}

void rmq_data_version_json(rmq_buf_t *out, const rmq_data_version_t *dv)
{
    rmq_buf_printf(out, "{\"counter\":%lld,\"timestamp\":%lld}", (long long)dv->counter,
                   (long long)dv->timestamp);
}

/* An entry starts with its `char *name`. */
static void named_free(void *p)
{
    if (!p)
        return;
    free(*(char **)p);
    free(p);
}

void rmq_named_table_init(rmq_map_t *map, rmq_data_version_t *dv)
{
    rmq_map_init(map, named_free);
    dv->timestamp = rmq_now_ms();
    dv->counter = 0;
}

void *rmq_named_table_put(rmq_map_t *map, rmq_data_version_t *dv, const void *entry, size_t size)
{
    void *n = rmq_malloc(size);
    memcpy(n, entry, size);
    char *name = rmq_strdup(*(char *const *)entry);
    *(char **)n = name;
    rmq_map_put(map, name, n);
    rmq_data_version_next(dv);
    return n;
}

bool rmq_named_table_del(rmq_map_t *map, rmq_data_version_t *dv, const char *name)
{
    bool r = rmq_map_del(map, name);
    if (r)
        rmq_data_version_next(dv);
    return r;
}

void rmq_meta_json_map(rmq_buf_t *out, const rmq_map_t *map, void (*val)(rmq_buf_t *out, const void *v))
{
    rmq_buf_putc(out, '{');
    size_t n = 0;
    const char **keys = rmq_map_sorted_keys(map, &n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            rmq_buf_putc(out, ',');
        rmq_json_escape(out, keys[i], strlen(keys[i]), false);
        rmq_buf_putc(out, ':');
        val(out, rmq_map_get(map, keys[i]));
    }
    free(keys);
    rmq_buf_putc(out, '}');
}

void rmq_meta_json_wrapper(rmq_buf_t *out, const rmq_data_version_t *dv, const char *table,
                           const rmq_map_t *map, void (*val)(rmq_buf_t *out, const void *v))
{
    rmq_buf_puts(out, "{\"dataVersion\":");
    rmq_data_version_json(out, dv);
    rmq_buf_printf(out, ",\"%s\":", table);
    rmq_meta_json_map(out, map, val);
    rmq_buf_putc(out, '}');
}

void rmq_meta_pack_map(rmq_buf_t *out, const rmq_data_version_t *dv, const rmq_map_t *map,
                       void (*entry)(msgpack_packer *pk, const void *v))
{
    msgpack_packer pk;
    rmq_mp_packer_init(&pk, out);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int64(&pk, dv->timestamp);
    msgpack_pack_int64(&pk, dv->counter);
    msgpack_pack_array(&pk, rmq_map_count(map));
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(map, &it, &k, &v);)
        entry(&pk, v);
}

rmq_err_t rmq_meta_unpack_entries(const uint8_t *p, size_t len, rmq_data_version_t *dv,
                                  bool (*entry)(void *obj, const msgpack_object *e), void *obj)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    rmq_err_t r = RMQ_ERR__CORRUPT;
    size_t off = 0;
    rmq_data_version_t v;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
        !rmq_mp_i64(&o->via.array.ptr[0], &v.timestamp) || !rmq_mp_i64(&o->via.array.ptr[1], &v.counter) ||
        o->via.array.ptr[2].type != MSGPACK_OBJECT_ARRAY)
        goto out;
    const msgpack_object *arr = &o->via.array.ptr[2];
    for (uint32_t i = 0; i < arr->via.array.size; i++)
        if (!entry(obj, &arr->via.array.ptr[i]))
            goto out;
    *dv = v;
    r = RMQ_OK;
out:
    msgpack_unpacked_destroy(&u);
    return r;
}

rmq_err_t rmq_meta_import_json(const char *what, const char *text, size_t len, const char *table,
                               void (*entry)(void *obj, const char *key, json_t *v), void *obj,
                               rmq_data_version_t *dv)
{
    char err[256];
    json_t *root = rmq_json_parse(text, len, err, sizeof(err));
    if (!root) {
        rmq_log(RMQ_LOG_ERROR, "broker", "%s: %s", what, err);
        return RMQ_ERR__CORRUPT;
    }
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(root, table), key, v)
    {
        entry(obj, key, v);
    }
    json_t *jdv = dv ? json_object_get(root, "dataVersion") : NULL;
    if (jdv) {
        rmq_json_int(jdv, "timestamp", &dv->timestamp);
        rmq_json_int(jdv, "counter", &dv->counter);
    }
    json_decref(root);
    return RMQ_OK;
}
