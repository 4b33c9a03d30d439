/* consumer_offset.h - committed consumer offsets (ConsumerOffsetManager):
 * "<topic>@<group>" -> {queueId -> offset}, msgpack snapshot and import of
 * consumerOffset.json. @thread io. */
#ifndef RMQ_CONSUMER_OFFSET_H
#define RMQ_CONSUMER_OFFSET_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/snapshot.h" /* rmq_meta_ops_t */
#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_map.h"

typedef struct rmq_qoffsets_s {
    int32_t *qids;
    int64_t *offsets;
    size_t n, cap;
} rmq_qoffsets_t;

typedef struct rmq_offset_mgr_s {
    rmq_map_t map; /* "topic@group" -> rmq_qoffsets_t* */
    bool dirty;
} rmq_offset_mgr_t;

void rmq_offset_mgr_init(rmq_offset_mgr_t *m);
void rmq_offset_mgr_deinit(rmq_offset_mgr_t *m);
/* Store verbatim (negative accepted, as Java). */
void rmq_offset_commit(rmq_offset_mgr_t *m, const char *group, const char *topic, int32_t qid,
                       int64_t offset);
/* The committed offset, or -1 when none. */
int64_t rmq_offset_query(rmq_offset_mgr_t *m, const char *group, const char *topic, int32_t qid);
/* All queue offsets of (group, topic); NULL if none. Borrowed. */
const rmq_qoffsets_t *rmq_offset_table(rmq_offset_mgr_t *m, const char *group, const char *topic);
/* Remove every entry of a topic (DELETE_TOPIC) or of a group. */
void rmq_offset_remove_topic(rmq_offset_mgr_t *m, const char *topic);
void rmq_offset_remove_group(rmq_offset_mgr_t *m, const char *group);
/* {"offsetTable":{"t@g":{0:5,...}}} (fastjson int keys). */
void rmq_offset_json(rmq_buf_t *out, const rmq_offset_mgr_t *m);

/* The table as persisted metadata ("consumerOffset": msgpack snapshot, import
 * of consumerOffset.json); persisting clears dirty. */
extern const rmq_meta_ops_t rmq_offset_meta_ops;

#endif
