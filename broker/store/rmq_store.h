/* rmq_store.h - the broker's message store (DefaultMessageStore).
 *
 * A library with no sockets and no event loop. On-disk formats are RocketMQ
 * 4.x's (docs/protocol.md §5): commitlog/, consumequeue/, index/, checkpoint,
 * abort.
 *
 * Threads (all started by rmq_store_start, named in the log):
 *   - caller ("io"): rmq_store_put_* - the single writer. Never blocks on
 *     fsync, file creation or unlink (the next segment is prepared ahead).
 *   - "StoreFlush":   commit-log flush. ASYNC_FLUSH interval rules; SYNC_FLUSH
 *                     group commit. Invokes put completion callbacks.
 *   - "StoreCqFlush": consume-queue / index / checkpoint flush.
 *   - "StoreAlloc":   creates, fallocates and maps the next segment.
 *   - "StoreReput":   dispatch: commit log -> consume queue + index, then the
 *                     arrived hook.
 *   - "StoreClean":   retention, disk-space checks, deferred file deletion.
 * Reads (rmq_store_get_*, query) may be called from any thread. */
#ifndef RMQ_STORE_H
#define RMQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_conf.h"
#include "rmq_err.h"
#include "rmq_msg_codec.h"
#include "rmq_topic.h" /* RMQ_SCHEDULE_TOPIC: where DELAY messages are parked */

typedef struct rmq_store_s rmq_store_t;

/* ---- configuration (MessageStoreConfig names and defaults) ---- */

typedef enum { RMQ_FLUSH_ASYNC = 0, RMQ_FLUSH_SYNC = 1 } rmq_flush_disk_type_t; /* FlushDiskType */
typedef enum { RMQ_ROLE_ASYNC_MASTER = 0, RMQ_ROLE_SYNC_MASTER = 1, RMQ_ROLE_SLAVE = 2 } rmq_broker_role_t;
/* Java's names, indexed by value ("SYNC_FLUSH", "SLAVE"), NULL-terminated */
extern const char *const rmq_flush_disk_type_names[];
extern const char *const rmq_broker_role_names[];

typedef struct rmq_store_config_s {
    char *storePathRootDir;                    /* default ~/store */
    char *storePathCommitLog;                  /* default <root>/commitlog */
    int64_t mappedFileSizeCommitLog;           /* 1 GiB */
    int64_t mappedFileSizeConsumeQueue;        /* 6 000 000 (multiple of 20) */
    rmq_flush_disk_type_t flushDiskType;       /* ASYNC_FLUSH | SYNC_FLUSH */
    int32_t flushIntervalCommitLog;            /* ms, 500 */
    int32_t flushCommitLogLeastPages;          /* 4 */
    int32_t flushCommitLogThoroughInterval;    /* ms, 10000 */
    int32_t flushIntervalConsumeQueue;         /* ms, 1000 */
    int32_t flushConsumeQueueLeastPages;       /* 2 */
    int32_t flushConsumeQueueThoroughInterval; /* ms, 60000 */
    int64_t syncFlushTimeout;                  /* ms, 5000 */
    int32_t maxMessageSize;                    /* 4 MiB */
    int32_t fileReservedTime;                  /* hours, 72 */
    char *deleteWhen;                          /* "04" (hours, ';'-separated) */
    int32_t diskMaxUsedSpaceRatio;             /* %, 75 */
    int32_t diskSpaceWarningLevelRatio;        /* %, 90: above it writes are refused */
    int32_t diskSpaceCleanForciblyRatio;       /* %, 85: delete regardless of age */
    int64_t storeQuotaBytes;                   /* Comet: >0 => usage = store files / quota (not statvfs) */
    int32_t cleanResourceInterval;             /* ms, 10000 */
    int32_t deleteCommitLogFilesInterval;      /* ms between two deletions, 100 */
    int32_t destroyMapedFileIntervalForcibly;  /* ms, 120000 */
    bool messageIndexEnable;                   /* true */
    int32_t maxHashSlotNum;                    /* 5 000 000 */
    int32_t maxIndexNum;                       /* 20 000 000 */
    int32_t maxMsgsNumBatch;                   /* 64 */
    bool checkCRCOnRecover;                    /* true */
    char *messageDelayLevel;                   /* "1s 5s 10s 30s 1m ... 2h" */
    int32_t maxTransferBytesOnMessageInMemory; /* 256 KiB */
    int32_t maxTransferCountOnMessageInMemory; /* 32 */
    int32_t maxTransferBytesOnMessageInDisk;   /* 64 KiB */
    int32_t maxTransferCountOnMessageInDisk;   /* 8 */
    int32_t accessMessageInMemoryMaxRatio;     /* %, 40 */
    bool warmMapedFileEnable;                  /* false: pre-touch new segments */
    rmq_broker_role_t brokerRole;              /* ASYNC_MASTER | SYNC_MASTER | SLAVE */
    bool offsetCheckInSlave;                   /* false: a slave never corrects nextBeginOffset */
} rmq_store_config_t;

extern const rmq_conf_def_t rmq_store_conf_defs[];

/* Defaults into a zeroed struct / free its strings. */
void rmq_store_config_init(rmq_store_config_t *c);
void rmq_store_config_deinit(rmq_store_config_t *c);

/* ---- statuses (Java vocabulary) ---- */

typedef enum {
    RMQ_PUT_OK = 0,
    RMQ_PUT_FLUSH_DISK_TIMEOUT,
    RMQ_PUT_FLUSH_SLAVE_TIMEOUT,
    RMQ_PUT_SLAVE_NOT_AVAILABLE,
    RMQ_PUT_SERVICE_NOT_AVAILABLE, /* shut down, slave, disk above the hard limit */
    RMQ_PUT_CREATE_MAPEDFILE_FAILED,
    RMQ_PUT_MESSAGE_ILLEGAL, /* oversize, bad topic name */
    RMQ_PUT_PROPERTIES_SIZE_EXCEEDED,
    RMQ_PUT_OS_PAGECACHE_BUSY,
    RMQ_PUT_UNKNOWN_ERROR,
} rmq_put_status_t;

const char *rmq_put_status_name(rmq_put_status_t s);
/* The SEND_MESSAGE response code for a put status (docs/protocol.md §4.5 table). */
rmq_err_t rmq_put_status_to_code(rmq_put_status_t s);

typedef enum {
    RMQ_GET_FOUND = 0,
    RMQ_GET_NO_MATCHED_MESSAGE,
    RMQ_GET_MESSAGE_WAS_REMOVING,
    RMQ_GET_OFFSET_FOUND_NULL,
    RMQ_GET_OFFSET_OVERFLOW_BADLY,
    RMQ_GET_OFFSET_OVERFLOW_ONE,
    RMQ_GET_OFFSET_TOO_SMALL,
    RMQ_GET_NO_MATCHED_LOGIC_QUEUE,
    RMQ_GET_NO_MESSAGE_IN_QUEUE,
} rmq_get_status_t;

const char *rmq_get_status_name(rmq_get_status_t s);

/* ---- put ---- */

/* A message to store. All pointers are borrowed for the duration of the call. */
typedef struct rmq_store_msg_s {
    const char *topic;
    int32_t queue_id;
    int32_t flag;
    const void *body;
    size_t body_len;
    const char *props; /* encoded properties string (docs/protocol.md §5.1); may be NULL */
    size_t props_len;
    int32_t sys_flag;
    int64_t born_timestamp;
    rmq_msg_host_t born_host;
    rmq_msg_host_t store_host;
    int32_t reconsume_times;
    int64_t prepared_transaction_offset;
    bool wait_store_ok; /* honour SYNC_FLUSH for this message (property WAIT) */
    /* a delayed message back in its real topic: its properties still say
     * DELAY (Java's ScheduleMessageService stores the properties string it
     * read, DELAY included), which is history and not acted on again */
    bool delay_delivered;
} rmq_store_msg_t;

/* A stored record to be written again under topic / queue_id with new
 * properties (a send-back, a delayed delivery, a transaction's final
 * message or check copy): flag, body, born time and host and reconsume
 * times as in the record, store_host given, the IPv6 host bits of the
 * record's sysFlag cleared (the put sets them for the new hosts), no WAIT.
 * m borrows rec's body and props. */
static inline void rmq_store_msg_from_rec(rmq_store_msg_t *m, const rmq_msg_rec_t *rec, const char *topic,
                                          int32_t queue_id, const char *props, size_t props_len,
                                          rmq_msg_host_t store_host)
{
    *m = (rmq_store_msg_t){0};
    m->topic = topic;
    m->queue_id = queue_id;
    m->flag = rec->flag;
    m->body = rec->body;
    m->body_len = (size_t)rec->body_len;
    m->props = props;
    m->props_len = props_len;
    m->sys_flag = rec->sys_flag & ~(RMQ_SYSFLAG_BORNHOST_V6 | RMQ_SYSFLAG_STOREHOST_V6);
    m->born_timestamp = rec->born_timestamp;
    m->born_host = rec->born_host;
    m->store_host = store_host;
    m->reconsume_times = rec->reconsume_times;
}

#define RMQ_STORE_MSGIDS_MAX 4096

typedef struct rmq_put_result_s {
    rmq_put_status_t status;
    bool pending;         /* true: the final result comes through the callback */
    int64_t queue_offset; /* logical offset (first one for a batch) */
    int64_t wrote_offset; /* commit-log offset of the first record */
    int32_t wrote_bytes;  /* bytes appended (all records of a batch) */
    int32_t msg_num;
    int64_t store_timestamp;
    char msg_id[RMQ_STORE_MSGIDS_MAX]; /* offset msgId(s), comma-separated for a batch */
    bool msg_id_truncated;             /* batch too large for msg_id: use rmq_store_batch_msg_ids */
} rmq_put_result_t;

/* All offset msgIds of a stored batch, comma-separated, appended to out (a
 * batch is stored contiguously from res->wrote_offset). @thread any */
void rmq_store_batch_msg_ids(const rmq_store_msg_t *msgs, size_t n, const rmq_put_result_t *res,
                             rmq_buf_t *out);

/* Completion of a pending put. @thread StoreFlush (or StoreClean when
 * syncFlushTimeout expires while a flush hangs). Must not block and must not
 * call back into rmq_store_put_*; post the result to the owning thread. */
typedef void rmq_store_put_cb_t(void *opaque, const rmq_put_result_t *res);

/* Append one message. @thread the single writer (serialised internally, so
 * several producer threads are safe but contend on one lock).
 * Fills res and returns res->status. When SYNC_FLUSH applies (flushDiskType
 * SYNC_FLUSH and msg->wait_store_ok) and the append succeeded, res->pending is
 * set and cb(opaque, final) is invoked exactly once with PUT_OK or
 * FLUSH_DISK_TIMEOUT - possibly before this call returns; otherwise cb is
 * never called. The call never waits for a flush, a file creation or an
 * unlink; it waits for the allocate thread only if that thread is a whole
 * segment behind (tiny test segments), at most 3 s
 * (CREATE_MAPEDFILE_FAILED after that).
 * Also applies the delay-level rewrite (docs/protocol.md §6.5): DELAY > 0 on a non-
 * transactional or COMMIT message stores it in SCHEDULE_TOPIC_XXXX, queue
 * level-1, with REAL_TOPIC / REAL_QID added to its properties (not when
 * msg->delay_delivered). */
rmq_put_status_t rmq_store_put_message(rmq_store_t *s, const rmq_store_msg_t *msg, rmq_put_result_t *res,
                                       rmq_store_put_cb_t *cb, void *opaque);

/* Append a batch: every element of msgs becomes its own record with
 * consecutive queue offsets; all must share topic and queue id; no DELAY, no
 * transaction bits. One result (first queue offset, comma-separated ids). */
rmq_put_status_t rmq_store_put_messages(rmq_store_t *s, const rmq_store_msg_t *msgs, size_t n,
                                        rmq_put_result_t *res, rmq_store_put_cb_t *cb, void *opaque);

/* Blocking convenience: put and wait for the final result (tests, tools;
 * never on an event loop). */
rmq_put_status_t rmq_store_put_message_wait(rmq_store_t *s, const rmq_store_msg_t *msg,
                                            rmq_put_result_t *res);
rmq_put_status_t rmq_store_put_messages_wait(rmq_store_t *s, const rmq_store_msg_t *msgs, size_t n,
                                             rmq_put_result_t *res);

/* Slave: append raw replicated commit-log bytes at offset (must equal the
 * current commit-log max offset). They are dispatched like local writes.
 * Unchecked: replication uses rmq_store_append_records. */
rmq_err_t rmq_store_append_raw(rmq_store_t *s, int64_t offset, const void *data, size_t len);

/* ---- append hook ---- */

/* Called after new commit-log bytes were published (puts and raw appends),
 * so a replication sender can wake up. @thread the writer; must be cheap and
 * must not block. NULL turns it off. Set it before writes start, or clear it
 * while none run. */
typedef void rmq_store_append_cb_t(void *opaque);
void rmq_store_set_append_cb(rmq_store_t *s, rmq_store_append_cb_t *cb, void *opaque);

/* ---- dispatch hook ---- */

/* Called after a consume-queue entry was added ("queue X grew"), so parked
 * pulls can be woken. @thread StoreReput; must not block. */
typedef void rmq_store_arrived_cb_t(void *opaque, const char *topic, int32_t queue_id, int64_t logic_offset,
                                    int64_t tags_code, int64_t store_timestamp, const char *props,
                                    size_t props_len);
void rmq_store_set_arrived_cb(rmq_store_t *s, rmq_store_arrived_cb_t *cb, void *opaque);

/* ---- reads ---- */

/* A pinned reference into a mapped segment: valid until released. */
typedef struct rmq_store_ref_s {
    const uint8_t *data;
    size_t len;
    int64_t offset; /* commit-log offset */
    void *pin;      /* pass to rmq_store_ref_release (NULL once released) */
} rmq_store_ref_t;

/* Release one pinned reference (any thread; e.g. an evbuffer cleanup cb). */
void rmq_store_ref_release(void *pin);

typedef struct rmq_get_result_s {
    rmq_get_status_t status;
    int64_t next_begin_offset;
    int64_t min_offset;
    int64_t max_offset;
    bool suggest_pulling_from_slave;
    rmq_store_ref_t *msgs; /* count entries */
    size_t count;
    size_t total_bytes;
} rmq_get_result_t;

/* Read up to max_msgs messages of (topic, queue_id) from offset. tag_codes
 * (n_tag_codes > 0) keeps only messages whose tagsCode is in the set;
 * n_tag_codes == 0 means all. res must be released with
 * rmq_store_get_result_release (which releases pins not taken by setting
 * msgs[i].pin = NULL). @thread any. */
rmq_get_status_t rmq_store_get_message(rmq_store_t *s, const char *topic, int32_t queue_id, int64_t offset,
                                       int32_t max_msgs, const int64_t *tag_codes, size_t n_tag_codes,
                                       rmq_get_result_t *res);
void rmq_store_get_result_release(rmq_get_result_t *res);

int64_t rmq_store_get_max_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id);
int64_t rmq_store_get_min_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id);
/* SEARCH_OFFSET_BY_TIMESTAMP (docs/protocol.md §5.8 time search). */
int64_t rmq_store_get_offset_by_time(rmq_store_t *s, const char *topic, int32_t queue_id, int64_t timestamp);
/* Store time of the oldest message of a queue / of the whole store; -1 if none. */
int64_t rmq_store_get_earliest_msg_store_time(rmq_store_t *s, const char *topic, int32_t queue_id);
int64_t rmq_store_get_earliest_store_time(rmq_store_t *s);
/* Store time of the message at a queue offset (getMessageStoreTimeStamp); -1
 * if there is none. */
int64_t rmq_store_get_msg_store_time(rmq_store_t *s, const char *topic, int32_t queue_id,
                                     int64_t logic_offset);
/* Commit-log offset of the queue entry's record, or -1. */
int64_t rmq_store_get_commitlog_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id,
                                                int64_t logic_offset);
/* The record at a commit-log offset (VIEW_MESSAGE_BY_ID), pinned. */
rmq_err_t rmq_store_get_message_by_offset(rmq_store_t *s, int64_t commitlog_offset, rmq_store_ref_t *ref);

/* Raw commit-log bytes from offset to the end of the data written in that
 * segment (HA transfer, getCommitLogData), pinned. RMQ_ERR__NOENT when
 * offset is outside the log or nothing is written there yet. */
rmq_err_t rmq_store_get_commitlog_data(rmq_store_t *s, int64_t offset, rmq_store_ref_t *ref);

int64_t rmq_store_get_commitlog_min_offset(rmq_store_t *s);
int64_t rmq_store_get_commitlog_max_offset(rmq_store_t *s);
/* Bytes dispatched to consume queues so far (reput position). */
int64_t rmq_store_get_dispatched_offset(rmq_store_t *s);
int64_t rmq_store_get_flushed_offset(rmq_store_t *s);
bool rmq_store_is_disk_full(rmq_store_t *s);
/* The store's own facts, fixed at open (ask these rather than the settings):
 * flushDiskType is SYNC_FLUSH / brokerRole is SLAVE. */
bool rmq_store_is_sync_flush(const rmq_store_t *s);
bool rmq_store_is_slave(const rmq_store_t *s);
/* Controller mode: the role changes at run time (a slave's store refuses
 * puts; its writer is the replication service). @thread io */
void rmq_store_set_slave(rmq_store_t *s, bool slave);
/* A replica becomes the writer (controller mode): consume queues are
 * brought up to the log's end and the next queue offsets taken from them, so
 * puts continue every queue where the replicated records left it. Call
 * after the last replicated append and before the first put. @thread the
 * store's current writer (the replication thread) */
rmq_err_t rmq_store_take_writes(rmq_store_t *s);

/* QUERY_MESSAGE: records whose KEYS token or UNIQ_KEY equals key. */
typedef struct rmq_query_result_s {
    rmq_store_ref_t *msgs;
    size_t count;
    int64_t index_last_update_timestamp;
    int64_t index_last_update_phyoffset;
} rmq_query_result_t;
rmq_err_t rmq_store_query_message(rmq_store_t *s, const char *topic, const char *key, int32_t max_num,
                                  int64_t begin_ts, int64_t end_ts, rmq_query_result_t *res);
void rmq_store_query_result_release(rmq_query_result_t *res);

/* ---- replication (the broker's HA service) ---- */

/* Whole records from offset (a record boundary), plus a segment's closing
 * blank when the records reach it; never past a segment end; at most
 * max_bytes unless the first record alone is larger. Pinned (release with
 * rmq_store_ref_release). RMQ_ERR__NOENT: nothing written at offset yet (or
 * below the log start); RMQ_ERR__CORRUPT: offset is not where a record
 * starts. @thread any */
rmq_err_t rmq_store_read_records(rmq_store_t *s, int64_t offset, size_t max_bytes, rmq_store_ref_t *ref);

/* Check and append replicated bytes at offset: offset must be the
 * commit-log end (an empty log may start at any segment boundary), the bytes
 * must stay inside one segment and be whole records, each with a valid body
 * CRC and its own offset in its header, optionally ending with the
 * segment's closing blank. Nothing is appended unless all of it checks
 * (RMQ_ERR__INVALID_ARG: wrong offset; RMQ_ERR__CORRUPT: bad bytes; why
 * says what). Dispatch builds consume queues and the index from them as
 * from local writes. @thread the single writer (a slave's HA thread) */
rmq_err_t rmq_store_append_records(rmq_store_t *s, int64_t offset, const void *data, size_t len, char *why,
                                   size_t why_size);

/* Cut the commit log at offset (a record boundary, not below the log
 * start): later bytes are zeroed durably, consume queues and the key index
 * lose their entries past it, the epoch list its epochs starting past it.
 * *discarded = bytes removed (0 when the log already ends there). Dispatch
 * is paused meanwhile; pulls already holding references to the cut records
 * may read zeros. @thread the single writer */
rmq_err_t rmq_store_truncate_tail(rmq_store_t *s, int64_t offset, int64_t *discarded);

/* One epoch (a master's term) and the commit-log offset its writes start at. */
typedef struct rmq_epoch_entry_s {
    int64_t epoch;
    int64_t start_offset;
} rmq_epoch_entry_t;

/* Copy of the epoch list, oldest first (heap array, free()); returns its
 * length. @thread any */
size_t rmq_store_epochs(rmq_store_t *s, rmq_epoch_entry_t **out);
/* Newest epoch in the list; 0 when the list is empty. */
int64_t rmq_store_epoch_last(rmq_store_t *s);
/* A master starts epoch `epoch` (greater than the newest) at the commit-log
 * end; durable when this returns. An entry for the same start offset is
 * replaced (an epoch that wrote nothing). */
rmq_err_t rmq_store_epoch_begin(rmq_store_t *s, int64_t epoch);
/* Replace the list (a slave keeps its master's entries that start within
 * its own log). The entries must be ascending. */
rmq_err_t rmq_store_epoch_set(rmq_store_t *s, const rmq_epoch_entry_t *e, size_t n);
/* Where a replica's log stops agreeing with its master's: the end of the
 * newest epoch both lists hold with the same start (the start of the next
 * epoch in either list, or the log's end), never past either end. An empty
 * list (a store from before epochs were kept) agrees up to the shorter log;
 * lists without a common epoch agree up to the first start. Pure. */
int64_t rmq_epoch_common_end(const rmq_epoch_entry_t *master, size_t master_n, int64_t master_end,
                             const rmq_epoch_entry_t *replica, size_t replica_n, int64_t replica_end);

/* ---- lifecycle ---- */

/* Open and recover the store at conf->storePathRootDir (the conf is copied).
 * NULL on failure with the reason in errstr. Recovery runs here, including
 * the dispatch catch-up, so the store is consistent when this returns. */
rmq_store_t *rmq_store_open(const rmq_store_config_t *conf, char *errstr, size_t errstr_size);
/* Start the service threads and create `abort`. */
rmq_err_t rmq_store_start(rmq_store_t *s);
/* Stop threads (waiting SYNC_FLUSH puts are completed after a final flush),
 * flush everything, remove `abort`, close files. Every pinned reference must
 * have been released before. NULL ok. */
void rmq_store_destroy(rmq_store_t *s);

/* Retention now, ignoring deleteWhen (mqadmin deleteExpiredCommitLog). */
void rmq_store_execute_delete_files_manually(rmq_store_t *s);
/* Wait until dispatch reached the commit-log end (tests, shutdown); false
 * on timeout. */
bool rmq_store_wait_dispatched(rmq_store_t *s, int timeout_ms);
/* Run one retention / disk check pass on the calling thread (tests). */
void rmq_store_clean_once(rmq_store_t *s);

/* Delay level table parsed from messageDelayLevel: delay of level (1-based)
 * in ms, or -1. */
int64_t rmq_store_delay_level_ms(rmq_store_t *s, int level);
int rmq_store_max_delay_level(rmq_store_t *s);

/* Group-commit batch sizes (SYNC_FLUSH): bucket i counts flushes that
 * completed at most 2^i waiting puts; the last bucket counts larger ones. */
#define RMQ_STORE_GC_BUCKETS 12

/* Counters (benchmarks, admin, metrics). @thread any */
typedef struct rmq_store_stats_s {
    int64_t commitlog_flushes; /* successful commit-log flushes that wrote something */
    int64_t put_messages;      /* records appended by put calls */
    int64_t put_calls;
    int64_t recovered_from;                   /* commit-log offset where the start-up recovery scan began */
    int64_t recovered_records;                /* records re-dispatched during start-up */
    int64_t gc_batches[RMQ_STORE_GC_BUCKETS]; /* group commits by batch size (see above) */
    int64_t gc_batch_sum;                     /* puts completed by group commits */
    int64_t gc_batch_count;                   /* group commits that completed at least one put */
    /* durability audit (counted at the msync call and at each ack): */
    int64_t commitlog_synced_to;    /* end of the commit-log prefix msync'd so far (-1: none) */
    int64_t sync_acks_before_flush; /* SYNC_FLUSH acks given before an msync covered them: always 0 */
} rmq_store_stats_t;
void rmq_store_get_stats(rmq_store_t *s, rmq_store_stats_t *st);

/* Fault injection for tests: make the next n flushes fail as if msync
 * failed (EIO). */
void rmq_store_test_fail_flushes(rmq_store_t *s, int n);
/* Fault injection for tests: every commit-log flush first waits up to ms
 * (a slow or hanging disk); 0 turns it off and ends a stall in progress. */
void rmq_store_test_stall_flushes(rmq_store_t *s, int ms);
/* Whether a commit-log flush is inside that stall now. */
bool rmq_store_test_flush_stalled(rmq_store_t *s);

#endif
