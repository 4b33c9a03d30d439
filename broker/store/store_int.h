/* store_int.h - private structures of the store (rdkafka_int.h style).
 * Nothing outside broker/store/ includes this file. */
#ifndef RMQ_STORE_INT_H
#define RMQ_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_service.h"
#include "rmq_store.h"
#include "mapped_file.h"
#include "mapped_file_queue.h"
#include "allocate.h"
#include "commitlog.h"
#include "consume_queue.h"
#include "index_file.h"
#include "checkpoint.h"
#include "epoch.h"
#include "strmap.h"

#define RMQ_MAX_DELAY_LEVELS 64

/* Files removed from a queue wait here until no reader holds them; the
 * clean thread unmaps and unlinks them (never the I/O thread). */
typedef struct rmq_reaper_s {
    pthread_mutex_t lock;
    rmq_mapped_file_t **files;
    size_t n, cap;
    int forcibly_ms;
} rmq_reaper_t;

void rmq_reaper_init(rmq_reaper_t *r, int forcibly_ms);
void rmq_reaper_add(rmq_reaper_t *r, rmq_mapped_file_t *mf);
/* Destroy what can be destroyed; force=true destroys everything (shutdown). */
void rmq_reaper_run(rmq_reaper_t *r, bool force);
void rmq_reaper_deinit(rmq_reaper_t *r);

/* Take the first cnt (<= *n) elements of elem_size bytes off the front of
 * items: they come back in a new array (caller frees), the rest move up and
 * *n drops by cnt. For a segment list under its owner's lock. */
void *rmq_store_take_front(void *items, size_t *n, size_t cnt, size_t elem_size);
/* The names in dir made of exactly `digits` digits, sorted (being of one
 * length, in numeric order): *names (caller frees each and the array), *n
 * of them; none when dir does not exist. */
rmq_err_t rmq_store_list_numbered(const char *dir, size_t digits, char ***names, size_t *n);

struct rmq_store_s {
    rmq_store_config_t conf;
    char *root;
    char *cl_dir;
    char *cq_dir;
    char *index_dir;
    int lock_fd;
    bool last_exit_ok;
    bool sync_flush;
    bool slave;

    rmq_reaper_t reaper;
    rmq_allocator_t *alloc;
    rmq_commitlog_t *cl;
    rmq_checkpoint_t *ckpt;
    rmq_index_service_t *index;
    rmq_epoch_file_t *epochs;

    /* held by dispatch while it reads the commit log; a tail truncation
     * takes it (then put_lock) so dispatch never sees a log being cut */
    pthread_mutex_t dispatch_lock;

    /* consume queues: "topic\x01qid" -> rmq_consume_queue_t*; cq_lock guards the map */
    pthread_mutex_t cq_lock;
    rmq_strmap_t cq_table;

    /* replication sender hook (rmq_store_set_append_cb) */
    rmq_store_append_cb_t *_Atomic append_cb;
    void *_Atomic append_opaque;

    /* dispatch */
    _Atomic int64_t reput_from;
    rmq_store_arrived_cb_t *arrived_cb;
    void *arrived_opaque;

    /* disk state */
    _Atomic bool disk_full;     /* above diskSpaceWarningLevelRatio */
    _Atomic bool alloc_nospace; /* the allocator hit ENOSPC / quota */
    _Atomic int disk_ratio;     /* last measured usage, % */
    _Atomic bool manual_delete;

    int64_t delay_ms[RMQ_MAX_DELAY_LEVELS + 1];
    int max_delay_level;
    int64_t phys_mem;

    /* service threads (rmq_service.h): StoreReput, StoreCqFlush, StoreClean;
     * StoreFlush belongs to the commit log, StoreAlloc to the allocator */
    _Atomic bool stopping;
    bool started;
    rmq_service_t *reput_svc, *cqflush_svc, *clean_svc;
    int64_t durable_logics_ts;
    pthread_mutex_t clean_lock; /* one retention pass at a time */
    int64_t recovered_records;
    int64_t last_clean_mono;
};

/* @thread writer: new data was published. */
void rmq_store_wake_reput(rmq_store_t *s);
/* @thread writer: new data was published (reput and the append hook). */
void rmq_store_published(rmq_store_t *s);

/* dispatch.c: reput thread ("StoreReput") and consume-queue flush thread
 * ("StoreCqFlush"); created by open, started by start */
void rmq_store_dispatch_init(rmq_store_t *s);
rmq_err_t rmq_store_dispatch_start(rmq_store_t *s);
/* Dispatch everything published so far; returns records dispatched or <0. */
int64_t rmq_store_dispatch_available(rmq_store_t *s);
/* The same with s->dispatch_lock held. */
int64_t rmq_store_dispatch_available_locked(rmq_store_t *s);
/* Flush consume queues, index and checkpoint once (thorough). */
void rmq_store_flush_logics(rmq_store_t *s, bool thorough);

/* clean.c: clean thread ("StoreClean"), disk checks */
void rmq_store_clean_init(rmq_store_t *s);
void rmq_store_check_disk(rmq_store_t *s);

/* store.c */
rmq_consume_queue_t *rmq_store_find_cq(rmq_store_t *s, const char *topic, size_t topic_len, int32_t qid,
                                       bool create);
/* The commit-log segment holding offset, held, with offset's place in it
 * (*pos) and how far it is written (*wrote); NULL when offset is outside the
 * log or not written yet. */
rmq_mapped_file_t *rmq_store_written_at(rmq_store_t *s, int64_t offset, int64_t *pos, int64_t *wrote);
/* Every consume queue at this moment (taken under cq_lock), *n of them; the
 * caller free()s the array. */
rmq_consume_queue_t **rmq_store_cq_list(rmq_store_t *s, size_t *n);
/* Dispatch one record (shared by reput, recovery and slave append). */
rmq_err_t rmq_store_dispatch(rmq_store_t *s, const rmq_msg_rec_t *rec);
/* Current usage of the store's disk in % (statvfs or quota). */
int rmq_store_disk_ratio(rmq_store_t *s, int64_t *free_bytes);
bool rmq_store_quota_allows(rmq_store_t *s, int64_t more_bytes);

/* store_config.c */
void rmq_store_config_copy(rmq_store_config_t *dst, const rmq_store_config_t *src);
int rmq_store_parse_delay_levels(const char *spec, int64_t *out, int max);

#endif
