/* index_file.h - the key index (IndexFile / IndexService): query by
 * topic#KEYS token and topic#UNIQ_KEY. */
#ifndef RMQ_INDEX_FILE_H
#define RMQ_INDEX_FILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mapped_file.h"
#include "rmq_err.h"

#define RMQ_INDEX_HEADER_SIZE 40
#define RMQ_INDEX_UNIT_SIZE 20
#define RMQ_INDEX_SLOT_SIZE 4

typedef struct rmq_index_file_s {
    rmq_mapped_file_t *mf;
    int32_t slot_num, max_index;
    bool full_flushed; /* flushed after the file filled up (only older files fill up) */
} rmq_index_file_t;

typedef struct rmq_index_service_s {
    char *dir;
    int32_t slot_num, max_index;
    pthread_rwlock_t lock;
    rmq_index_file_t **files; /* oldest first */
    size_t n, cap;
    struct rmq_reaper_s *reaper;
} rmq_index_service_t;

rmq_index_service_t *rmq_index_service_new(const char *dir, int32_t slot_num, int32_t max_index,
                                           struct rmq_reaper_s *reaper);
void rmq_index_service_destroy(rmq_index_service_t *is);
/* Load files; when !last_exit_ok delete those whose endTimestamp > ckpt_index_ts. */
rmq_err_t rmq_index_service_load(rmq_index_service_t *is, bool last_exit_ok, int64_t ckpt_index_ts);
/* Index UNIQ_KEY and every KEYS token of one record. @thread reput */
rmq_err_t rmq_index_service_build(rmq_index_service_t *is, const char *topic, size_t topic_len,
                                  const char *keys, size_t keys_len, const char *uniq, size_t uniq_len,
                                  int64_t phy_offset, int64_t store_ts);
/* Up to max_num commit-log offsets for topic#key within [begin, end],
 * sorted ascending. *offs is heap (free()). */
rmq_err_t rmq_index_service_query(rmq_index_service_t *is, const char *topic, const char *key,
                                  int32_t max_num, int64_t begin, int64_t end, int64_t **offs, size_t *n,
                                  int64_t *last_ts, int64_t *last_phy);
/* msync the files that filled up since their last flush, and with `all`
 * also the file being written; *end_ts: the end timestamp that is durable
 * now (for the checkpoint), 0 when nothing was flushed. The file being
 * written takes a random slot write per key, so flushing it (which
 * write-protects every dirty page again) is kept to the thorough flushes:
 * after a crash it is dropped and rebuilt from the commit log past the
 * checkpoint anyway (IndexService.load). */
rmq_err_t rmq_index_service_flush(rmq_index_service_t *is, bool all, int64_t *end_ts);
/* Delete files whose endPhyOffset < cl_min (never the last). */
void rmq_index_service_delete_expired(rmq_index_service_t *is, int64_t cl_min);
/* Remove every entry for a record at or past phy_cut (a cut of the commit
 * log): newer files go, the file holding the cut loses its newest entries
 * and they are unlinked from their hash chains. Durable when it returns.
 * @thread the one that builds (dispatch paused) */
rmq_err_t rmq_index_service_truncate(rmq_index_service_t *is, int64_t phy_cut);
/* End phys offset of the newest file (records below are already indexed). */
int64_t rmq_index_service_end_phy(rmq_index_service_t *is);

#endif
