/* sub_group.h - subscription groups (SubscriptionGroupManager): per consumer
 * group settings, msgpack snapshot and import of subscriptionGroup.json.
 * @thread io. */
#ifndef RMQ_SUB_GROUP_H
#define RMQ_SUB_GROUP_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/snapshot.h" /* rmq_meta_ops_t */
#include "rmq_buf.h"
#include "rmq_err.h"
#include "meta/table.h"
#include "rmq_map.h"

typedef struct rmq_sub_group_s {
    char *name;
    bool consume_enable;
    bool consume_from_min_enable;
    bool consume_broadcast_enable;
    int32_t retry_queue_nums;
    int32_t retry_max_times;
    int64_t broker_id;
    int64_t which_broker_when_consume_slowly;
    bool notify_consumer_ids_changed_enable;
} rmq_sub_group_t;

typedef struct rmq_sub_group_mgr_s {
    rmq_map_t map; /* name -> rmq_sub_group_t* (owned; a named table, meta/table.h) */
    rmq_data_version_t dv;
} rmq_sub_group_mgr_t;

void rmq_sub_group_mgr_init(rmq_sub_group_mgr_t *m);
void rmq_sub_group_mgr_deinit(rmq_sub_group_mgr_t *m);
rmq_sub_group_t *rmq_sub_group_get(rmq_sub_group_mgr_t *m, const char *name);
/* A group with the Java defaults. */
void rmq_sub_group_defaults(rmq_sub_group_t *g, const char *name);
rmq_sub_group_t *rmq_sub_group_put(rmq_sub_group_mgr_t *m, const rmq_sub_group_t *g);
bool rmq_sub_group_del(rmq_sub_group_mgr_t *m, const char *name);

void rmq_sub_group_json_wrapper(rmq_buf_t *out, const rmq_sub_group_mgr_t *m);
/* Parse a SubscriptionGroupConfig JSON body; RMQ_ERR__INVALID_ARG with a reason. */
rmq_err_t rmq_sub_group_from_json(rmq_sub_group_t *g, const char *text, size_t len, char *errstr, size_t n);

/* The table as persisted metadata ("subscriptionGroup": msgpack snapshot,
 * import of subscriptionGroup.json). */
extern const rmq_meta_ops_t rmq_sub_group_meta_ops;

#endif
