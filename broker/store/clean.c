/* clean.c - retention and disk space (CleanCommitLogService,
 * CleanConsumeQueueService) plus the reaper that destroys removed segments
 * once no reader pins them.
 *
 * Owns: the disk-full flags, the deferred-deletion list.
 * Runs: "StoreClean" thread (every 100 ms: SYNC_FLUSH waiter timeouts, disk
 * check and reaping; every
 * cleanResourceInterval: retention). rmq_store_clean_once runs the same pass
 * on the caller (tests, admin).
 * Must never: unmap or unlink a segment while a reader holds it (before
 * destroyMapedFileIntervalForcibly; after it the file is unlinked but still
 * unmapped only at the last release), or delete the segment being written. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "store_int.h"

/* ------------------------------------------------------------------ reaper */

void rmq_reaper_init(rmq_reaper_t *r, int forcibly_ms)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->forcibly_ms = forcibly_ms;
}

void rmq_reaper_add(rmq_reaper_t *r, rmq_mapped_file_t *mf)
{
    mf->shutdown_mono = rmq_mono_ms();
    pthread_mutex_lock(&r->lock);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->files = rmq_realloc(r->files, r->cap * sizeof(*r->files));
    }
    r->files[r->n++] = mf;
    pthread_mutex_unlock(&r->lock);
    rmq_mapped_file_release(mf); /* the queue's own pin */
}

void rmq_reaper_run(rmq_reaper_t *r, bool force)
{
    int64_t now = rmq_mono_ms();
    pthread_mutex_lock(&r->lock);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        rmq_mapped_file_t *mf = r->files[i];
        int refs = atomic_load(&mf->refcnt);
        if (refs == 0) {
            rmq_mapped_file_destroy(mf, true);
            continue;
        }
        if (!mf->unlinked && (force || now - mf->shutdown_mono >= r->forcibly_ms)) {
            rmq_log(RMQ_LOG_WARN, "store", "%s still pinned by %d reader(s) after %d ms: unlinking it now",
                    mf->path, refs, r->forcibly_ms);
            if (unlink(mf->path) != 0)
                rmq_log_errno(RMQ_LOG_WARN, "store", errno, "unlink(%s) failed", mf->path);
            mf->unlinked = true;
        }
        r->files[k++] = mf;
    }
    r->n = k;
    pthread_mutex_unlock(&r->lock);
}

void rmq_reaper_deinit(rmq_reaper_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (atomic_load(&r->files[i]->refcnt) != 0)
            rmq_log(RMQ_LOG_WARN, "store", "%s still pinned at shutdown", r->files[i]->path);
        rmq_mapped_file_destroy(r->files[i], true);
    }
    free(r->files);
    pthread_mutex_destroy(&r->lock);
    memset(r, 0, sizeof(*r));
}

/* -------------------------------------------------------------- disk space */

static int64_t store_bytes(rmq_store_t *s)
{
    int64_t used = (int64_t)rmq_mfq_count(s->cl->mfq) * s->conf.mappedFileSizeCommitLog;
    pthread_mutex_lock(&s->cq_lock);
    for (rmq_strmap_ent_t *e = rmq_strmap_next(&s->cq_table, NULL); e; e = rmq_strmap_next(&s->cq_table, e)) {
        rmq_consume_queue_t *cq = e->v.ptr;
        used += (int64_t)rmq_mfq_count(cq->mfq) * cq->file_size;
    }
    pthread_mutex_unlock(&s->cq_lock);
    pthread_rwlock_rdlock(&s->index->lock);
    for (size_t i = 0; i < s->index->n; i++)
        used += s->index->files[i]->mf->size;
    pthread_rwlock_unlock(&s->index->lock);
    return used;
}

int rmq_store_disk_ratio(rmq_store_t *s, int64_t *free_bytes)
{
    if (s->conf.storeQuotaBytes > 0) {
        int64_t used = store_bytes(s);
        if (free_bytes)
            *free_bytes = s->conf.storeQuotaBytes - used;
        return (int)(used * 100 / s->conf.storeQuotaBytes);
    }
    struct statvfs sv;
    if (statvfs(s->cl_dir, &sv) != 0 || sv.f_blocks == 0) {
        if (free_bytes)
            *free_bytes = INT64_MAX;
        return 0;
    }
    int64_t total = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
    int64_t avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    if (free_bytes)
        *free_bytes = avail;
    return (int)((total - avail) * 100 / total);
}

bool rmq_store_quota_allows(rmq_store_t *s, int64_t more)
{
    if (s->conf.storeQuotaBytes <= 0)
        return true;
    int64_t used = store_bytes(s);
    return (used + more) * 100 <= s->conf.storeQuotaBytes * s->conf.diskSpaceWarningLevelRatio;
}

void rmq_store_check_disk(rmq_store_t *s)
{
    int64_t free_bytes;
    int ratio = rmq_store_disk_ratio(s, &free_bytes);
    atomic_store(&s->disk_ratio, ratio);
    bool full = ratio > s->conf.diskSpaceWarningLevelRatio;
    if (atomic_load(&s->alloc_nospace)) {
        int64_t seg = s->conf.mappedFileSizeCommitLog;
        bool room = s->conf.storeQuotaBytes > 0 ? rmq_store_quota_allows(s, seg) : free_bytes >= 2 * seg;
        if (room) {
            rmq_log(RMQ_LOG_INFO, "store", "disk space available again; accepting writes");
            atomic_store(&s->alloc_nospace, false);
        }
    }
    bool was = atomic_load(&s->disk_full);
    bool now_full = full || atomic_load(&s->alloc_nospace);
    if (now_full != was)
        rmq_log(now_full ? RMQ_LOG_ERROR : RMQ_LOG_INFO, "store", "disk usage %d%%: writes %s", ratio,
                now_full ? "refused" : "accepted again");
    atomic_store(&s->disk_full, now_full);
}

/* --------------------------------------------------------------- retention */

static bool is_time_to_delete(const char *when)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    const char *p = when ? when : "";
    while (*p) {
        char *end;
        long h = strtol(p, &end, 10);
        if (end == p)
            break;
        if (h == tm.tm_hour)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

static void delete_expired_commitlog(rmq_store_t *s, bool manual)
{
    int ratio = rmq_store_disk_ratio(s, NULL);
    bool timeup = is_time_to_delete(s->conf.deleteWhen);
    bool space = ratio > s->conf.diskMaxUsedSpaceRatio;
    bool force = ratio > s->conf.diskSpaceCleanForciblyRatio;
    if (!timeup && !space && !manual)
        return;
    int64_t expired_ms = (int64_t)s->conf.fileReservedTime * 3600 * 1000;
    int64_t now = rmq_now_ms();
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(s->cl->mfq, &n);
    size_t del = 0;
    int64_t dispatched = atomic_load(&s->reput_from);
    for (size_t i = 0; i + 1 < n && del < 10; i++) {
        rmq_mapped_file_t *mf = files[i];
        if (mf->from + mf->size > dispatched)
            break; /* never delete what the consume queues have not seen */
        if (now >= rmq_mapped_file_mtime_ms(mf) + expired_ms || force)
            del++;
        else
            break;
    }
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    if (del) {
        rmq_log(RMQ_LOG_INFO, "store", "retention: deleting %zu commit-log segment(s) (disk %d%%%s%s%s)", del,
                ratio, timeup ? ", time" : "", force ? ", forced" : "", manual ? ", manual" : "");
        rmq_mfq_remove_first(s->cl->mfq, del);
    }
}

static void delete_expired_logics(rmq_store_t *s)
{
    int64_t cl_min = rmq_commitlog_min_offset(s->cl);
    size_t i;
    rmq_consume_queue_t **arr = rmq_store_cq_list(s, &i);
    for (size_t k = 0; k < i; k++)
        rmq_cq_delete_expired(arr[k], cl_min);
    free(arr);
    rmq_index_service_delete_expired(s->index, cl_min);
}

void rmq_store_clean_once(rmq_store_t *s)
{
    pthread_mutex_lock(&s->clean_lock);
    rmq_store_check_disk(s);
    bool manual = atomic_exchange(&s->manual_delete, false);
    delete_expired_commitlog(s, manual);
    delete_expired_logics(s);
    rmq_reaper_run(&s->reaper, false);
    rmq_store_check_disk(s);
    pthread_mutex_unlock(&s->clean_lock);
}

static void clean_main(rmq_service_t *svc, void *arg)
{
    rmq_store_t *s = arg;
    s->last_clean_mono = rmq_mono_ms();
    while (!rmq_service_stopped(svc)) {
        rmq_service_wait_for_running(svc, 100);
        if (rmq_service_stopped(svc))
            break;
        if (s->sync_flush)
            rmq_commitlog_expire_waiters(s->cl);
        rmq_store_check_disk(s);
        int64_t now = rmq_mono_ms();
        if (now - s->last_clean_mono >= s->conf.cleanResourceInterval || atomic_load(&s->manual_delete)) {
            s->last_clean_mono = now;
            rmq_store_clean_once(s);
        } else {
            rmq_reaper_run(&s->reaper, false);
        }
    }
}

void rmq_store_clean_init(rmq_store_t *s)
{
    s->clean_svc = rmq_service_new("StoreClean", clean_main, s);
}
