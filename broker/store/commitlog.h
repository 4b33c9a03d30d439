/* commitlog.h - the commit log: append, flush / group commit, recovery
 * (CommitLog.java). */
#ifndef RMQ_COMMITLOG_H
#define RMQ_COMMITLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "mapped_file_queue.h"
#include "rmq_service.h"
#include "rmq_store.h"
#include "strmap.h"

typedef struct rmq_gc_req_s rmq_gc_req_t;
typedef STAILQ_HEAD(rmq_gc_list_s, rmq_gc_req_s) rmq_gc_list_t;

typedef struct rmq_commitlog_s {
    rmq_store_t *store;
    rmq_mfq_t *mfq;
    int64_t file_size;

    /* writer side (put_lock) */
    pthread_mutex_t put_lock;
    rmq_mapped_file_t *cur;         /* segment being appended to */
    rmq_strmap_t topic_queue_table; /* "topic-qid" -> next logical offset */
    rmq_buf_t scratch;
    rmq_strmap_ent_t *last_qe; /* cache of the last queue appended to */
    int32_t last_qid;
    char last_topic[RMQ_TOPIC_MAX_LEN + 1];
    rmq_mapped_file_t *warm_mf;    /* segment whose window was last asked to be warmed */
    int64_t warm_mark;             /* ask again once the writer passes this position */
    _Atomic int64_t max_offset;    /* end of published data */
    _Atomic int64_t last_store_ts; /* store time of the last published record */

    /* flush thread */
    rmq_service_t *flush_svc; /* "StoreFlush"; woken by each group-commit request */
    pthread_mutex_t gc_lock;
    rmq_gc_list_t gc_waiters; /* waiting group-commit requests, oldest first */
    int gc_waiting;           /* how many (gc_lock) */
    int gc_expect;            /* flush thread: senders of the last round (see gather_cohort) */
    int64_t gc_flush_us;      /* flush thread: how long the last group-commit flush took */
    _Atomic int64_t flushed_offset;
    _Atomic int64_t stat_flushes, stat_msgs, stat_puts;
    _Atomic int64_t stat_gc[RMQ_STORE_GC_BUCKETS], stat_gc_sum, stat_gc_count; /* group-commit batch sizes */
    _Atomic int test_stall_ms;
    _Atomic bool test_stalled; /* a flush is inside the test stall */
    /* durability audit: acknowledgements of puts that wait, under the
     * configured SYNC_FLUSH, given before an msync covered their bytes */
    bool audit_sync;
    _Atomic int64_t stat_early_acks;
    int64_t recovered_from; /* where the last recovery scan started */
} rmq_commitlog_t;

rmq_commitlog_t *rmq_commitlog_new(rmq_store_t *s);
void rmq_commitlog_destroy(rmq_commitlog_t *cl);
rmq_err_t rmq_commitlog_load(rmq_commitlog_t *cl);

/* Recovery (docs/protocol.md §5.11). Returns the recovered end offset. first_undispatched is
 * lowered to the offset of the first valid record whose consume-queue entry
 * is missing. */
int64_t rmq_commitlog_recover_normally(rmq_commitlog_t *cl, int64_t *first_undispatched);
int64_t rmq_commitlog_recover_abnormally(rmq_commitlog_t *cl, int64_t ckpt_min_ts,
                                         int64_t *first_undispatched, int64_t *redispatch_from);

rmq_err_t rmq_commitlog_start(rmq_commitlog_t *cl);
/* Complete waiting SYNC_FLUSH puts whose syncFlushTimeout passed (even while
 * a flush hangs). @thread StoreClean */
void rmq_commitlog_expire_waiters(rmq_commitlog_t *cl);
void rmq_commitlog_stop(rmq_commitlog_t *cl);

rmq_put_status_t rmq_commitlog_put(rmq_commitlog_t *cl, const rmq_store_msg_t *msgs, size_t n, bool batch,
                                   rmq_put_result_t *res, rmq_store_put_cb_t *cb, void *opaque);
rmq_err_t rmq_commitlog_append_raw(rmq_commitlog_t *cl, int64_t offset, const void *data, size_t len);

/* Pinned record bytes at offset (size from the record when size <= 0). */
rmq_err_t rmq_commitlog_get(rmq_commitlog_t *cl, int64_t offset, int32_t size, rmq_store_ref_t *ref);
int64_t rmq_commitlog_min_offset(rmq_commitlog_t *cl);
static inline int64_t rmq_commitlog_max_offset(rmq_commitlog_t *cl)
{
    return atomic_load(&cl->max_offset);
}
/* Offset of the start of the next segment after offset. */
int64_t rmq_commitlog_roll_next_file(rmq_commitlog_t *cl, int64_t offset);
/* Rebuild topic_queue_table from consume-queue max offsets (store.c fills). */
void rmq_commitlog_set_queue_offset(rmq_commitlog_t *cl, const char *topic, int32_t qid, int64_t next);
/* The same with put_lock already held. */
void rmq_commitlog_set_queue_offset_locked(rmq_commitlog_t *cl, const char *topic, int32_t qid, int64_t next);

#endif
