/* topic_config.h - the broker's topic table (TopicConfigManager): name ->
 * queues, perm, filter type; data version; system topics; encodings for
 * REGISTER_BROKER / GET_ALL_TOPIC_CONFIG (fastjson JSON), the msgpack
 * snapshot and the import of RocketMQ's topics.json. @thread io. */
#ifndef RMQ_TOPIC_CONFIG_H
#define RMQ_TOPIC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/snapshot.h" /* rmq_meta_ops_t */
#include "meta/table.h"    /* rmq_data_version_t, named tables */
#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_map.h"
#include "rmq_topic.h" /* reserved names */

#define RMQ_PERM_PRIORITY 0x8
#define RMQ_PERM_READ 0x4
#define RMQ_PERM_WRITE 0x2
#define RMQ_PERM_INHERIT 0x1

typedef struct rmq_topic_config_s {
    char *name;
    int32_t read_queues;
    int32_t write_queues;
    int32_t perm;
    int32_t filter_type; /* 0 SINGLE_TAG, 1 MULTI_TAG */
    int32_t sys_flag;
    bool order;
} rmq_topic_config_t;

typedef struct rmq_topic_mgr_s {
    rmq_map_t map; /* name -> rmq_topic_config_t* (owned; a named table, meta/table.h) */
    rmq_data_version_t dv;
    /* names put or deleted since the last rmq_topic_changed_clear (a set):
     * what the journal and the incremental registration carry */
    rmq_map_t changed;
} rmq_topic_mgr_t;

void rmq_topic_mgr_init(rmq_topic_mgr_t *m);
void rmq_topic_mgr_deinit(rmq_topic_mgr_t *m);
/* Borrowed, NULL if unknown. */
rmq_topic_config_t *rmq_topic_get(rmq_topic_mgr_t *m, const char *name);
/* Insert or replace (copying tc); bumps the data version. Returns the stored one. */
rmq_topic_config_t *rmq_topic_put(rmq_topic_mgr_t *m, const rmq_topic_config_t *tc);
bool rmq_topic_del(rmq_topic_mgr_t *m, const char *name);
/* Forget which names changed (after they were journalled and queued). */
void rmq_topic_changed_clear(rmq_topic_mgr_t *m);

const char *rmq_topic_filter_name(int32_t ft);
/* "SINGLE_TAG"/"MULTI_TAG" -> 0/1; -1 if invalid. */
int rmq_topic_filter_parse(const char *s);
bool rmq_topic_is_system(const char *topic); /* forbidden for sends */

/* fastjson TopicConfig object / whole wrapper {"dataVersion":..,"topicConfigTable":..}. */
void rmq_topic_json_one(rmq_buf_t *out, const rmq_topic_config_t *tc);
void rmq_topic_json_wrapper(rmq_buf_t *out, const rmq_topic_mgr_t *m);

/* The table as persisted metadata ("topics": msgpack snapshot, import of
 * RocketMQ's topics.json with its dataVersion). */
extern const rmq_meta_ops_t rmq_topic_meta_ops;

#endif
