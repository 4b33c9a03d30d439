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

static bool topic_ok(const char *t, size_t n)
{
    if (n == 0 || n > RMQ_MSG_MAX_TOPIC_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%' || c == '|' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int64_t tags_code_of(rmq_store_t *s, const rmq_msg_rec_t *rec)
{
    const char *v;
    size_t vl;
    if (rec->topic_len == strlen(RMQ_SCHEDULE_TOPIC) && memcmp(rec->topic, RMQ_SCHEDULE_TOPIC, rec->topic_len) == 0 &&
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
    if (!topic_ok(rec->topic, rec->topic_len)) {
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
    int64_t done = 0;
    rmq_commitlog_t *cl = s->cl;
    for (;;) {
        int64_t from = atomic_load(&s->reput_from);
        int64_t max = atomic_load_explicit(&cl->max_offset, memory_order_acquire);
        if (from >= max)
            return done;
        int64_t min = rmq_commitlog_min_offset(cl);
        if (from < min) {
            rmq_log(RMQ_LOG_WARN, "store", "reput offset %" PRId64 " below the commit-log minimum %" PRId64, from, min);
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
            rmq_log(RMQ_LOG_ERROR, "store", "dispatch: no valid record at %" PRId64 " (%s); skipping the segment",
                    mf->from + pos, mf->path);
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

void rmq_store_svc_wait(rmq_store_t *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (int64_t)ms * 1000000;
    ts.tv_sec += ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&s->svc_cond, &s->svc_lock, &ts);
}

static void *reput_main(void *arg)
{
    rmq_store_t *s = arg;
    rmq_log_set_thread_name("StoreReput");
    while (!atomic_load(&s->stopping)) {
        int64_t n = rmq_store_dispatch_available(s);
        if (n > 0)
            continue;
        pthread_mutex_lock(&s->reput_lock);
        atomic_store(&s->reput_sleeping, true);
        if (!atomic_load(&s->stopping) &&
            (n < 0 || atomic_load(&s->reput_from) >= rmq_commitlog_max_offset(s->cl))) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (n < 0 ? 100 : 1) * 1000000LL;
            ts.tv_sec += ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&s->reput_cond, &s->reput_lock, &ts);
        }
        atomic_store(&s->reput_sleeping, false);
        pthread_mutex_unlock(&s->reput_lock);
    }
    rmq_store_dispatch_available(s);
    return NULL;
}

/* A wake-up costs the writer a futex call: under a steady stream wake at
 * most every 200 us and let the reput thread's 1 ms timeout do the rest; an
 * isolated message is dispatched at once. */
void rmq_store_wake_reput(rmq_store_t *s)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (!atomic_load(&s->reput_sleeping))
        return;
    int64_t now = rmq_mono_us();
    if (now - atomic_load_explicit(&s->last_wake_us, memory_order_relaxed) < 200)
        return;
    atomic_store_explicit(&s->last_wake_us, now, memory_order_relaxed);
    pthread_mutex_lock(&s->reput_lock);
    pthread_cond_signal(&s->reput_cond);
    pthread_mutex_unlock(&s->reput_lock);
}

void rmq_store_flush_logics(rmq_store_t *s, bool thorough)
{
    int least = thorough ? 0 : s->conf.flushConsumeQueueLeastPages;
    int64_t logics = atomic_load(&s->ckpt->logics_ts);
    bool all = true;
    pthread_mutex_lock(&s->cq_lock);
    size_t n = s->cq_table.count, i = 0;
    rmq_consume_queue_t **arr = rmq_malloc((n + 1) * sizeof(*arr));
    for (rmq_strmap_ent_t *e = rmq_strmap_next(&s->cq_table, NULL); e && i < n; e = rmq_strmap_next(&s->cq_table, e))
        arr[i++] = e->v.ptr;
    pthread_mutex_unlock(&s->cq_lock);
    for (size_t k = 0; k < i; k++) {
        if (rmq_cq_flush(arr[k], least) != RMQ_OK)
            all = false;
        else if (rmq_mfq_flushed_offset(arr[k]->mfq) < rmq_mfq_max_offset(arr[k]->mfq))
            all = false;
    }
    free(arr);
    if (s->conf.messageIndexEnable) {
        int64_t end_ts;
        if (rmq_index_service_flush(s->index, &end_ts) == RMQ_OK && end_ts > 0)
            rmq_checkpoint_set_index(s->ckpt, end_ts);
    }
    if (all)
        s->durable_logics_ts = logics;
    rmq_checkpoint_flush(s->ckpt, s->durable_logics_ts);
}

static void *cqflush_main(void *arg)
{
    rmq_store_t *s = arg;
    rmq_log_set_thread_name("StoreCqFlush");
    int64_t last_thorough = rmq_mono_ms();
    while (!atomic_load(&s->stopping)) {
        pthread_mutex_lock(&s->svc_lock);
        if (!atomic_load(&s->stopping))
            rmq_store_svc_wait(s, s->conf.flushIntervalConsumeQueue);
        pthread_mutex_unlock(&s->svc_lock);
        int64_t now = rmq_mono_ms();
        bool thorough = now - last_thorough >= s->conf.flushConsumeQueueThoroughInterval;
        if (thorough)
            last_thorough = now;
        rmq_store_flush_logics(s, thorough);
    }
    return NULL;
}

rmq_err_t rmq_store_dispatch_start(rmq_store_t *s)
{
    int rc = pthread_create(&s->reput_thr, NULL, reput_main, s);
    if (rc) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", rc, "pthread_create(StoreReput) failed");
        return RMQ_ERR__IO;
    }
    s->reput_running = true;
    rc = pthread_create(&s->cqflush_thr, NULL, cqflush_main, s);
    if (rc) {
        rmq_log_errno(RMQ_LOG_ERROR, "store", rc, "pthread_create(StoreCqFlush) failed");
        return RMQ_ERR__IO;
    }
    s->cqflush_running = true;
    return RMQ_OK;
}
