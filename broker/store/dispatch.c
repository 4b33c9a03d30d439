/* dispatch.c - the reput service: reads the commit log behind the writer and
 * builds consume-queue and index entries, then tells the broker "queue X
 * grew" (ReputMessageService, CommitLogDispatcherBuildConsumeQueue /
 * BuildIndex); and the consume-queue flush service (FlushConsumeQueueService).
 *
 * Owns: s->reput_from, consume-queue and index writes.
 * Runs: "StoreReput" and "StoreCqFlush" threads; during open, the opening
 * thread runs the same dispatch code to catch up. Replicated bytes appended
 * by a slave are dispatched by exactly this code.
 * Must never: read past the writer's published max offset, or skip a record
 * because a file could not be created (it retries instead). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "store_int.h"

static int64_t tags_code_of(rmq_store_t *s, const rmq_msg_rec_t *rec)
{
    const char *v;
    size_t vl;
    if (rec->topic_len == strlen(RMQ_SCHEDULE_TOPIC) &&
        memcmp(rec->topic, RMQ_SCHEDULE_TOPIC, rec->topic_len) == 0 &&
        rmq_msg_props_find(rec->props, rec->props_len, RMQ_PROP_DELAY, &v, &vl)) {
        int level = 0;
        for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9' && level < 100000; i++)
            level = level * 10 + (v[i] - '0');
        if (level > s->max_delay_level)
            level = s->max_delay_level;
        if (level > 0)
            return rec->store_timestamp + s->delay_ms[level];
    }
    if (rmq_msg_props_find(rec->props, rec->props_len, RMQ_PROP_TAGS, &v, &vl))
        return rmq_msg_tags_code(v, vl);
    return 0;
}

rmq_err_t rmq_store_dispatch(rmq_store_t *s, const rmq_msg_rec_t *rec)
{
    int tran = rec->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK;
    if (!rmq_topic_valid(rec->topic, rec->topic_len)) {
        rmq_log(RMQ_LOG_WARN, "store", "dispatch: record at %" PRId64 " has an invalid topic; not indexed",
                rec->commitlog_offset);
        return RMQ_OK;
    }
    if (tran == RMQ_SYSFLAG_TRANSACTION_NOT_TYPE || tran == RMQ_SYSFLAG_TRANSACTION_COMMIT) {
        rmq_consume_queue_t *cq = rmq_store_find_cq(s, rec->topic, rec->topic_len, rec->queue_id, true);
        bool dup = rmq_cq_max_offset(cq) > rec->queue_offset;
        if (!dup) {
            int64_t tags = tags_code_of(s, rec);
            rmq_err_t err = rmq_cq_put(cq, rec->commitlog_offset, rec->total_size, tags, rec->queue_offset);
            if (err)
                return err;
            if (s->arrived_cb)
                s->arrived_cb(s->arrived_opaque, cq->topic, rec->queue_id, rec->queue_offset, tags,
                              rec->store_timestamp, rec->props, rec->props_len);
        }
    }
    if (s->conf.messageIndexEnable && tran != RMQ_SYSFLAG_TRANSACTION_ROLLBACK) {
        const char *keys = NULL, *uniq = NULL;
        size_t kl = 0, ul = 0;
        rmq_msg_props_find(rec->props, rec->props_len, RMQ_PROP_KEYS, &keys, &kl);
        rmq_msg_props_find(rec->props, rec->props_len, RMQ_PROP_UNIQ_KEY, &uniq, &ul);
        if (kl || ul) {
            rmq_err_t err = rmq_index_service_build(s->index, rec->topic, rec->topic_len, keys, kl, uniq, ul,
                                                    rec->commitlog_offset, rec->store_timestamp);
            if (err)
                return err;
        }
    }
    rmq_checkpoint_set_logics(s->ckpt, rec->store_timestamp);
    return RMQ_OK;
}

int64_t rmq_store_dispatch_available(rmq_store_t *s)
{
    pthread_mutex_lock(&s->dispatch_lock);
    int64_t n = rmq_store_dispatch_available_locked(s);
    pthread_mutex_unlock(&s->dispatch_lock);
    return n;
}

int64_t rmq_store_dispatch_available_locked(rmq_store_t *s)
{
    int64_t done = 0;
    rmq_commitlog_t *cl = s->cl;
    for (;;) {
        int64_t from = atomic_load(&s->reput_from);
        int64_t max = atomic_load_explicit(&cl->max_offset, memory_order_acquire);
        if (from >= max)
            return done;
        int64_t min = rmq_commitlog_min_offset(cl);
        if (from < min) {
            rmq_log(RMQ_LOG_WARN, "store", "reput offset %" PRId64 " below the commit-log minimum %" PRId64,
                    from, min);
            atomic_store(&s->reput_from, min);
            continue;
        }
        rmq_mapped_file_t *mf = rmq_mfq_find_hold(cl->mfq, from);
        if (!mf)
            return done;
        int64_t pos = from - mf->from;
        int64_t wrote = atomic_load_explicit(&mf->wrote, memory_order_acquire);
        bool next_file = false;
        bool partial = false;
        while (pos < wrote) {
            rmq_msg_rec_t rec;
            const uint8_t *p = mf->base + pos;
            int64_t avail = wrote - pos;
            /* raw replicated bytes may end inside a record: wait for the rest */
            if (avail < 8 || (rmq_be32(p + 4) == RMQ_MSG_MAGIC && (int64_t)(int32_t)rmq_be32(p) > avail &&
                              pos + (int64_t)(int32_t)rmq_be32(p) <= mf->size)) {
                partial = true;
                break;
            }
            rmq_msg_check_t c = rmq_msg_check(p, (size_t)avail, false, (int32_t)mf->size, &rec);
            if (c == RMQ_MSG_CHECK_RECORD) {
                rmq_err_t err = rmq_store_dispatch(s, &rec);
                if (err) {
                    rmq_mapped_file_release(mf);
                    return done > 0 ? done : -1;
                }
                pos += rec.total_size;
                atomic_store(&s->reput_from, mf->from + pos);
                done++;
                continue;
            }
            if (c == RMQ_MSG_CHECK_BLANK) {
                next_file = true;
                break;
            }
            /* not a record inside published data: only possible with bad
             * replicated bytes. Skip to the next segment. */
            rmq_log(RMQ_LOG_ERROR, "store",
                    "dispatch: no valid record at %" PRId64 " (%s); skipping the segment", mf->from + pos,
                    mf->path);
            next_file = true;
            break;
        }
        if (!partial && (next_file || wrote >= mf->size)) {
            atomic_store(&s->reput_from, mf->from + mf->size);
            rmq_mapped_file_release(mf);
            continue;
        }
        rmq_mapped_file_release(mf);
        return done;
    }
}

static void reput_main(rmq_service_t *svc, void *arg)
{
    rmq_store_t *s = arg;
    while (!rmq_service_stopped(svc)) {
        int64_t n = rmq_store_dispatch_available(s);
        if (n > 0)
            continue;
        if (n < 0 || atomic_load(&s->reput_from) >= rmq_commitlog_max_offset(s->cl))
            rmq_service_wait_for_running(svc, n < 0 ? 100 : 1);
    }
    rmq_store_dispatch_available(s);
}

/* @thread writer: new data was published. A wake-up costs the writer a
 * futex call only when the reput thread sleeps, and then at most every
 * 200 us (its 1 ms wait does the rest); an isolated message is dispatched at
 * once. */
void rmq_store_wake_reput(rmq_store_t *s)
{
    rmq_service_wakeup(s->reput_svc);
}

void rmq_store_flush_logics(rmq_store_t *s, bool thorough)
{
    int least = thorough ? 0 : s->conf.flushConsumeQueueLeastPages;
    int64_t logics = atomic_load(&s->ckpt->logics_ts);
    bool all = true;
    size_t i;
    rmq_consume_queue_t **arr = rmq_store_cq_list(s, &i);
    for (size_t k = 0; k < i; k++) {
        if (rmq_cq_flush(arr[k], least) != RMQ_OK)
            all = false;
        else if (rmq_mfq_flushed_offset(arr[k]->mfq) < rmq_mfq_max_offset(arr[k]->mfq))
            all = false;
    }
    free(arr);
    if (s->conf.messageIndexEnable) {
        int64_t end_ts;
        if (rmq_index_service_flush(s->index, thorough, &end_ts) == RMQ_OK && end_ts > 0)
            rmq_checkpoint_set_index(s->ckpt, end_ts);
    }
    if (all)
        s->durable_logics_ts = logics;
    rmq_checkpoint_flush(s->ckpt, s->durable_logics_ts);
}

static void cqflush_main(rmq_service_t *svc, void *arg)
{
    rmq_store_t *s = arg;
    int64_t last_thorough = rmq_mono_ms();
    while (!rmq_service_stopped(svc)) {
        rmq_service_wait_for_running(svc, s->conf.flushIntervalConsumeQueue);
        int64_t now = rmq_mono_ms();
        bool thorough = now - last_thorough >= s->conf.flushConsumeQueueThoroughInterval;
        if (thorough)
            last_thorough = now;
        rmq_store_flush_logics(s, thorough);
    }
}

void rmq_store_dispatch_init(rmq_store_t *s)
{
    s->reput_svc = rmq_service_new("StoreReput", reput_main, s);
    rmq_service_set_wake_interval_us(s->reput_svc, 200);
    s->cqflush_svc = rmq_service_new("StoreCqFlush", cqflush_main, s);
}

rmq_err_t rmq_store_dispatch_start(rmq_store_t *s)
{
    rmq_err_t err = rmq_service_start(s->reput_svc);
    return err ? err : rmq_service_start(s->cqflush_svc);
}
