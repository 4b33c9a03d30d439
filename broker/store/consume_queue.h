/* consume_queue.h - one logical queue: 20-byte units pointing into the
 * commit log (ConsumeQueue.java). */
#ifndef RMQ_CONSUME_QUEUE_H
#define RMQ_CONSUME_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mapped_file_queue.h"

#define RMQ_CQ_UNIT_SIZE 20 /* CQ_STORE_UNIT_SIZE */

typedef struct rmq_consume_queue_s {
    char *topic;
    int32_t queue_id;
    rmq_mfq_t *mfq;
    int64_t file_size;
    _Atomic int64_t min_logic_offset; /* bytes */
    _Atomic int64_t max_phys_end;     /* end (offset+size) of the last indexed record */
} rmq_consume_queue_t;

rmq_consume_queue_t *rmq_cq_new(const char *root_cq_dir, const char *topic, int32_t qid, int64_t file_size,
                                struct rmq_reaper_s *reaper);
void rmq_cq_destroy(rmq_consume_queue_t *cq);
rmq_err_t rmq_cq_load(rmq_consume_queue_t *cq);
/* Scan from the 3rd-last file; write position after the last valid unit. */
void rmq_cq_recover(rmq_consume_queue_t *cq);
/* Drop units whose commit-log offset >= phys_end. */
void rmq_cq_truncate_dirty(rmq_consume_queue_t *cq, int64_t phys_end);
/* Append the unit for logical offset cq_offset (duplicates are ignored,
 * gaps are filled with blank units). @thread reput */
rmq_err_t rmq_cq_put(rmq_consume_queue_t *cq, int64_t phys_offset, int32_t size, int64_t tags_code,
                     int64_t cq_offset);
int64_t rmq_cq_max_offset(rmq_consume_queue_t *cq); /* next logical offset */
int64_t rmq_cq_min_offset(rmq_consume_queue_t *cq);
/* Set the min offset to the first unit whose data is >= cl_min_offset. */
void rmq_cq_correct_min_offset(rmq_consume_queue_t *cq, int64_t cl_min_offset);
/* Remove files whose units all point below cl_min_offset (never the last). */
int rmq_cq_delete_expired(rmq_consume_queue_t *cq, int64_t cl_min_offset);
/* Pinned units from logical offset to the end of its file. *mf to release. */
const uint8_t *rmq_cq_get_units(rmq_consume_queue_t *cq, int64_t offset, size_t *len, rmq_mapped_file_t **mf);
/* One unit; false if absent. */
bool rmq_cq_get_unit(rmq_consume_queue_t *cq, int64_t offset, int64_t *phys, int32_t *size, int64_t *tags);
int64_t rmq_cq_roll_next_file(rmq_consume_queue_t *cq, int64_t offset);
rmq_err_t rmq_cq_flush(rmq_consume_queue_t *cq, int least_pages);

#endif
