/* table.h - what the broker's metadata tables share: RocketMQ's DataVersion;
 * a versioned table of named entries (the topic and subscription-group
 * tables: every change bumps the version, as TopicConfigManager and
 * SubscriptionGroupManager do); a table as a fastjson object with sorted
 * keys; the msgpack envelope of a versioned table; the import of a RocketMQ
 * JSON file; the persisted-metadata ops of a named table. @thread io (and
 * main at start-up); pure, no I/O. */
#ifndef RMQ_META_TABLE_H
#define RMQ_META_TABLE_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"
#include "meta/snapshot.h" /* rmq_meta_ops_t */
#include "rmq_map.h"

typedef struct rmq_data_version_s {
    int64_t timestamp;
    int64_t counter;
} rmq_data_version_t;

void rmq_data_version_next(rmq_data_version_t *dv);
/* {"counter":..,"timestamp":..} */
void rmq_data_version_json(rmq_buf_t *out, const rmq_data_version_t *dv);

/* ---- versioned tables of named entries ----
 * The map owns its entries; an entry struct starts with its own malloc'd
 * `char *name`, which is also its key. */

/* An empty map that frees such entries, version = now / 0. */
void rmq_named_table_init(rmq_map_t *map, rmq_data_version_t *dv);
/* Insert or replace a copy of the entry (size bytes, name copied); bumps the
 * version. Returns the stored entry. */
void *rmq_named_table_put(rmq_map_t *map, rmq_data_version_t *dv, const void *entry, size_t size);
/* Remove; bumps the version when something was removed. */
bool rmq_named_table_del(rmq_map_t *map, rmq_data_version_t *dv, const char *name);

/* A map as a JSON object, keys sorted and escaped, each value written by
 * val(out, value). */
void rmq_meta_json_map(rmq_buf_t *out, const rmq_map_t *map, void (*val)(rmq_buf_t *out, const void *v));
/* {"dataVersion":{..},"<table>":{..}}: the wrapper of TopicConfigSerializeWrapper and its kin. */
void rmq_meta_json_wrapper(rmq_buf_t *out, const rmq_data_version_t *dv, const char *table,
                           const rmq_map_t *map, void (*val)(rmq_buf_t *out, const void *v));

/* msgpack of a versioned table: [timestamp, counter, [entry...]]. pack_map
 * writes a map's values as the entries, each packed by entry(pk, value);
 * unpack_entries checks the envelope and calls entry(obj, e) for each entry
 * (false: the entry is corrupt), then sets *dv. RMQ_ERR__CORRUPT when the
 * payload is not such an envelope or an entry is refused (the entries
 * before it stay in the table, *dv unchanged). */
void rmq_meta_pack_map(rmq_buf_t *out, const rmq_data_version_t *dv, const rmq_map_t *map,
                       void (*entry)(msgpack_packer *pk, const void *v));
rmq_err_t rmq_meta_unpack_entries(const uint8_t *p, size_t len, rmq_data_version_t *dv,
                                  bool (*entry)(void *obj, const msgpack_object *e), void *obj);

/* Import RocketMQ's <what> (topics.json, ...): entry(obj, key, value) for
 * each member of the object root[table]; with dv, root's dataVersion (when
 * present) is read into *dv. RMQ_ERR__CORRUPT (logged) when text is not
 * JSON. */
rmq_err_t rmq_meta_import_json(const char *what, const char *text, size_t len, const char *table,
                               void (*entry)(void *obj, const char *key, json_t *v), void *obj,
                               rmq_data_version_t *dv);

/* Defines `const rmq_meta_ops_t var` for a versioned table of named entries
 * TYPE (with members `map` and `dv`): its snapshot is the msgpack envelope
 * above, each entry packed by pack_entry and read back by unpack_entry; its
 * import reads RocketMQ's <stem>.json, each member of json_table through
 * import_entry, and with import_dv true the file's dataVersion as well. */
#define RMQ_NAMED_TABLE_META_OPS(var, stem, TYPE, pack_entry, unpack_entry, json_table, import_entry,        \
                                 import_dv)                                                                  \
    static void var##_pack(void *o, rmq_buf_t *out)                                                          \
    {                                                                                                        \
        const TYPE *m = o;                                                                                   \
        rmq_meta_pack_map(out, &m->dv, &m->map, pack_entry);                                                 \
    }                                                                                                        \
    static rmq_err_t var##_unpack(void *o, const uint8_t *p, size_t n)                                       \
    {                                                                                                        \
        TYPE *m = o;                                                                                         \
        return rmq_meta_unpack_entries(p, n, &m->dv, unpack_entry, m);                                       \
    }                                                                                                        \
    static rmq_err_t var##_import(void *o, const char *t, size_t n)                                          \
    {                                                                                                        \
        TYPE *m = o;                                                                                         \
        return rmq_meta_import_json(stem ".json", t, n, json_table, import_entry, m,                         \
                                    (import_dv) ? &m->dv : NULL);                                            \
    }                                                                                                        \
    const rmq_meta_ops_t var = {stem, var##_pack, var##_unpack, var##_import, NULL}

#endif
