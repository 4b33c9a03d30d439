/* commitlog.c - the commit log: every message of every topic, appended in
 * arrival order into segments of mappedFileSizeCommitLog (CommitLog.java).
 *
 * Owns: the append position, the per-queue next-offset table, the flush
 * thread ("StoreFlush") with its group-commit list, and commit-log recovery.
 * Runs: put/append_raw on the single writer (the broker's I/O thread;
 * serialised by put_lock); flush on its own thread; recovery on the opening
 * thread before any service starts.
 * Must never: block the writer on fsync, file creation or unlink; publish a
 * record before all its bytes are copied; complete a waiting put as PUT_OK
 * unless a successful flush covered its end offset. */
#include "commitlog.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "store_int.h"

struct rmq_gc_req_s {
    STAILQ_ENTRY(rmq_gc_req_s) link;
    int64_t end;      /* flushed offset needed */
    int64_t deadline; /* mono ms */
    rmq_store_put_cb_t *cb;
    void *opaque;
    rmq_put_result_t res;
};

#define ALLOC_WAIT_MS 3000

/* Keep the pages ahead of position pos of mf faulted in (allocate thread):
 * asked again each time the writer has used half of the window.
 * Caller holds put_lock. */
static void warm_ahead(rmq_commitlog_t *cl, rmq_mapped_file_t *mf, int64_t pos)
{
    if (cl->warm_mf == mf && pos < cl->warm_mark)
        return;
    int64_t ahead = rmq_allocator_warm_ahead(mf);
    rmq_allocator_warm(cl->store->alloc, mf, pos + ahead);
    cl->warm_mf = mf;
    cl->warm_mark = pos + ahead / 2;
}

static int gc_waiting(rmq_commitlog_t *cl)
{
    pthread_mutex_lock(&cl->gc_lock);
    int n = cl->gc_waiting;
    pthread_mutex_unlock(&cl->gc_lock);
    return n;
}

/* Group commit gathers its cohort before it flushes. The senders a flush
 * answers usually send again at once; started as soon as the first request
 * is there, the next flush would leave out the ones still on their way, and
 * the producers would split into cohorts that each wait for the other's
 * flush as well as their own (4 producers: two flushes of 2 per send). So
 * while fewer requests wait than the last round had senders (answered by
 * the last flush plus those waiting then), wait for the rest, at most half
 * the last flush's duration and 1 ms: a lone sender never waits, and a
 * sender that does not come back costs at most half a flush. */
static void gather_cohort(rmq_commitlog_t *cl, rmq_service_t *svc)
{
    int n = gc_waiting(cl);
    if (n == 0 || n >= cl->gc_expect)
        return;
    int64_t linger = cl->gc_flush_us / 2 < 1000 ? cl->gc_flush_us / 2 : 1000;
    int64_t until = rmq_mono_us() + linger;
    for (int i = 0; i < 4096 && !rmq_service_stopped(svc); i++) {
        int64_t left = until - rmq_mono_us();
        if (left <= 0 || gc_waiting(cl) >= cl->gc_expect)
            break;
        rmq_service_wait_for_running_us(svc, left);
    }
}

static void flush_main(rmq_service_t *svc, void *arg);

rmq_commitlog_t *rmq_commitlog_new(rmq_store_t *s)
{
    rmq_commitlog_t *cl = rmq_calloc(1, sizeof(*cl));
    cl->store = s;
    cl->file_size = s->conf.mappedFileSizeCommitLog;
    cl->mfq = rmq_mfq_new(s->cl_dir, cl->file_size, &s->reaper);
    pthread_mutex_init(&cl->put_lock, NULL);
    pthread_mutex_init(&cl->gc_lock, NULL);
    STAILQ_INIT(&cl->gc_waiters);
    rmq_strmap_init(&cl->topic_queue_table);
    rmq_buf_init(&cl->scratch);
    atomic_init(&cl->max_offset, 0);
    atomic_init(&cl->last_store_ts, 0);
    atomic_init(&cl->flushed_offset, 0);
    cl->flush_svc = rmq_service_new("StoreFlush", flush_main, cl);
    /* read from the setting itself, not from s->sync_flush: the audit must
     * notice a store that behaves as ASYNC_FLUSH when told SYNC_FLUSH */
    cl->audit_sync = s->conf.flushDiskType == RMQ_FLUSH_SYNC;
    return cl;
}

/* Durability audit of one acknowledgement (PUT_OK) of a put that waits for
 * its flush: under SYNC_FLUSH an msync must already cover [.., end). A
 * counter (rmq_store_get_stats), always 0 in a correct store. */
static void audit_ack(rmq_commitlog_t *cl, int64_t end)
{
    if (cl->audit_sync && atomic_load(&cl->mfq->synced_to) < end)
        atomic_fetch_add_explicit(&cl->stat_early_acks, 1, memory_order_relaxed);
}

void rmq_commitlog_destroy(rmq_commitlog_t *cl)
{
    if (!cl)
        return;
    rmq_commitlog_stop(cl);
    rmq_service_free(cl->flush_svc);
    rmq_mfq_destroy(cl->mfq);
    rmq_strmap_deinit(&cl->topic_queue_table, NULL);
    rmq_buf_free(&cl->scratch);
    pthread_mutex_destroy(&cl->put_lock);
    pthread_mutex_destroy(&cl->gc_lock);
    free(cl);
}

rmq_err_t rmq_commitlog_load(rmq_commitlog_t *cl)
{
    return rmq_mfq_load(cl->mfq);
}

/* ---------------------------------------------------------------- recovery */

static void note_dispatch(rmq_commitlog_t *cl, const rmq_msg_rec_t *rec, int64_t *first_undispatched)
{
    int tran = rec->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK;
    if (tran != RMQ_SYSFLAG_TRANSACTION_NOT_TYPE && tran != RMQ_SYSFLAG_TRANSACTION_COMMIT)
        return;
    if (rec->commitlog_offset >= *first_undispatched)
        return;
    rmq_consume_queue_t *cq = rmq_store_find_cq(cl->store, rec->topic, rec->topic_len, rec->queue_id, false);
    if (!cq || rmq_cq_max_offset(cq) <= rec->queue_offset)
        *first_undispatched = rec->commitlog_offset;
}

/* Parse forward from segment index `start`; returns the end of valid data. */
static int64_t scan_forward(rmq_commitlog_t *cl, rmq_mapped_file_t **files, size_t n, size_t start,
                            int64_t *first_undispatched)
{
    bool crc = cl->store->conf.checkCRCOnRecover;
    int64_t process = files[start]->from;
    cl->recovered_from = process;
    for (size_t i = start; i < n; i++) {
        rmq_mapped_file_t *mf = files[i];
        int64_t pos = 0;
        bool next_file = false;
        while (pos < cl->file_size) {
            rmq_msg_rec_t rec;
            rmq_msg_check_t c = rmq_msg_check(mf->base + pos, (size_t)(cl->file_size - pos), crc,
                                              (int32_t)cl->file_size, &rec);
            if (c == RMQ_MSG_CHECK_RECORD && rec.commitlog_offset != mf->from + pos)
                c = RMQ_MSG_CHECK_CORRUPT; /* a stale record from an earlier life of this position */
            if (c == RMQ_MSG_CHECK_RECORD) {
                note_dispatch(cl, &rec, first_undispatched);
                atomic_store(&mf->store_ts, rec.store_timestamp);
                if (rec.store_timestamp > atomic_load(&cl->last_store_ts))
                    atomic_store(&cl->last_store_ts, rec.store_timestamp);
                pos += rec.total_size;
                process = mf->from + pos;
                continue;
            }
            if (c == RMQ_MSG_CHECK_BLANK) {
                process = mf->from + cl->file_size;
                next_file = true;
                break;
            }
            if (c == RMQ_MSG_CHECK_CORRUPT)
                rmq_log(RMQ_LOG_WARN, "store",
                        "recover: invalid record at offset %" PRId64 " in %s; truncating", mf->from + pos,
                        mf->path);
            break;
        }
        if (!next_file && pos < cl->file_size)
            break;
        if (pos >= cl->file_size)
            process = mf->from + cl->file_size;
    }
    return process;
}

static int64_t finish_recovery(rmq_commitlog_t *cl, int64_t process)
{
    rmq_mfq_truncate(cl->mfq, process);
    rmq_mapped_file_t *last = rmq_mfq_last(cl->mfq);
    cl->cur = last;
    atomic_store(&cl->max_offset, process);
    atomic_store(&cl->flushed_offset, process);
    rmq_log(RMQ_LOG_INFO, "store", "commit log recovered: [%" PRId64 ", %" PRId64 ")",
            rmq_commitlog_min_offset(cl), process);
    return process;
}

int64_t rmq_commitlog_recover_normally(rmq_commitlog_t *cl, int64_t *first_undispatched)
{
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(cl->mfq, &n);
    int64_t process = 0;
    if (n > 0)
        process = scan_forward(cl, files, n, n >= 3 ? n - 3 : 0, first_undispatched);
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    return finish_recovery(cl, process);
}

int64_t rmq_commitlog_recover_abnormally(rmq_commitlog_t *cl, int64_t ckpt_min_ts,
                                         int64_t *first_undispatched, int64_t *redispatch_from)
{
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(cl->mfq, &n);
    int64_t process = 0;
    *redispatch_from = 0;
    if (n > 0) {
        size_t start = 0;
        for (size_t i = n; i > 0; i--) {
            rmq_msg_rec_t rec;
            rmq_mapped_file_t *mf = files[i - 1];
            if (rmq_msg_check(mf->base, (size_t)cl->file_size, false, (int32_t)cl->file_size, &rec) !=
                RMQ_MSG_CHECK_RECORD)
                continue;
            if (rec.store_timestamp != 0 && rec.store_timestamp <= ckpt_min_ts) {
                start = i - 1;
                break;
            }
        }
        rmq_log(RMQ_LOG_INFO, "store", "abnormal recovery from %s", files[start]->path);
        *redispatch_from = files[start]->from;
        process = scan_forward(cl, files, n, start, first_undispatched);
    }
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    return finish_recovery(cl, process);
}

/* ------------------------------------------------------------------ append */

static rmq_put_status_t roll(rmq_commitlog_t *cl, rmq_mapped_file_t **out)
{
    rmq_store_t *s = cl->store;
    rmq_mapped_file_t *mf = cl->cur;
    int64_t from =
        mf ? mf->from + cl->file_size : atomic_load(&cl->max_offset) / cl->file_size * cl->file_size;
    char *path = rmq_mfq_path(cl->mfq, from);
    rmq_mapped_file_t *nmf = NULL;
    rmq_err_t err = rmq_allocator_take(s->alloc, path, from, cl->file_size, ALLOC_WAIT_MS, &nmf);
    free(path);
    if (err == RMQ_ERR__DISK_FULL) {
        atomic_store(&s->alloc_nospace, true);
        atomic_store(&s->disk_full, true);
        return RMQ_PUT_SERVICE_NOT_AVAILABLE;
    }
    if (err)
        return RMQ_PUT_CREATE_MAPEDFILE_FAILED;
    rmq_mfq_append(cl->mfq, nmf);
    cl->cur = nmf;
    char *npath = rmq_mfq_path(cl->mfq, from + cl->file_size);
    rmq_allocator_prefetch(s->alloc, npath, from + cl->file_size, cl->file_size);
    free(npath);
    *out = nmf;
    return RMQ_PUT_OK;
}

/* Make room for `need` bytes (+ the blank marker rule) in cl->cur. */
static rmq_put_status_t ensure_room(rmq_commitlog_t *cl, int64_t need, rmq_mapped_file_t **out)
{
    rmq_mapped_file_t *mf = cl->cur;
    if (mf) {
        int64_t wrote = atomic_load(&mf->wrote);
        int64_t remaining = cl->file_size - wrote;
        if (need + RMQ_MSG_END_FILE_MIN_BLANK <= remaining) {
            *out = mf;
            return RMQ_PUT_OK;
        }
        if (remaining >= RMQ_MSG_END_FILE_MIN_BLANK) {
            uint8_t *p = mf->base + wrote;
            rmq_wbe32(p, (uint32_t)remaining);
            rmq_wbe32(p + 4, RMQ_MSG_BLANK_MAGIC);
        }
        if (remaining > 0) {
            atomic_store_explicit(&mf->wrote, cl->file_size, memory_order_release);
            atomic_store_explicit(&cl->max_offset, mf->from + cl->file_size, memory_order_release);
        }
    }
    return roll(cl, out);
}

static size_t qkey(char *buf, size_t cap, const char *topic, int32_t qid)
{
    int n = snprintf(buf, cap, "%s-%d", topic, qid);
    return n < 0 ? 0 : ((size_t)n >= cap ? cap - 1 : (size_t)n);
}

rmq_put_status_t rmq_commitlog_put(rmq_commitlog_t *cl, const rmq_store_msg_t *msgs, size_t n, bool batch,
                                   rmq_put_result_t *res, rmq_store_put_cb_t *cb, void *opaque)
{
    rmq_store_t *s = cl->store;
    (void)batch;
    int32_t crc_local[16];
    size_t size_local[16];
    int32_t *crcs = n <= 16 ? crc_local : rmq_malloc(n * sizeof(*crcs));
    size_t *sizes = n <= 16 ? size_local : rmq_malloc(n * sizeof(*sizes));
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const rmq_store_msg_t *m = &msgs[i];
        crcs[i] = rmq_msg_body_crc(m->body, m->body_len);
        sizes[i] = rmq_msg_rec_size(m->born_host.v6, m->store_host.v6, m->body_len, strlen(m->topic),
                                    m->props ? m->props_len : 0);
        total += (int64_t)sizes[i];
    }
    rmq_put_status_t st = RMQ_PUT_OK;
    for (size_t i = 0; i < n; i++)
        if ((int64_t)sizes[i] > (int64_t)s->conf.maxMessageSize + 65536)
            st = RMQ_PUT_MESSAGE_ILLEGAL; /* docs/protocol.md §5.3: record <= body limit + 64 KiB */
    if (st != RMQ_PUT_OK || total + RMQ_MSG_END_FILE_MIN_BLANK > cl->file_size) {
        rmq_log(RMQ_LOG_DEBUG, "store",
                "message of %" PRId64 " bytes refused (maxMessageSize %d, segment %" PRId64 ")", total,
                s->conf.maxMessageSize, cl->file_size);
        st = RMQ_PUT_MESSAGE_ILLEGAL;
        goto out;
    }

    pthread_mutex_lock(&cl->put_lock);
    rmq_mapped_file_t *mf = NULL;
    st = ensure_room(cl, total, &mf);
    if (st != RMQ_PUT_OK) {
        pthread_mutex_unlock(&cl->put_lock);
        goto out;
    }
    int64_t now = rmq_now_ms();
    int64_t pos = atomic_load(&mf->wrote);
    int64_t first_qoff = 0;
    size_t idlen = 0;
    char key[256];
    rmq_strmap_ent_t *qe = NULL;
    int64_t qoff = 0;
    for (size_t i = 0; i < n; i++) {
        const rmq_store_msg_t *m = &msgs[i];
        int tran = m->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK;
        bool counts = tran == RMQ_SYSFLAG_TRANSACTION_NOT_TYPE || tran == RMQ_SYSFLAG_TRANSACTION_COMMIT;
        if (i == 0 || strcmp(m->topic, msgs[i - 1].topic) != 0 || m->queue_id != msgs[i - 1].queue_id) {
            if (qe)
                qe->v.i64 = qoff;
            if (cl->last_qe && m->queue_id == cl->last_qid && strcmp(m->topic, cl->last_topic) == 0) {
                qe = cl->last_qe; /* entries are never freed or moved */
            } else {
                size_t kl = qkey(key, sizeof(key), m->topic, m->queue_id);
                qe = rmq_strmap_upsert(&cl->topic_queue_table, key, kl);
                cl->last_qe = qe;
                cl->last_qid = m->queue_id;
                snprintf(cl->last_topic, sizeof(cl->last_topic), "%s", m->topic);
            }
            qoff = qe->v.i64;
        }
        rmq_msg_rec_t rec = {
            .body_crc = crcs[i],
            .queue_id = m->queue_id,
            .flag = m->flag,
            .queue_offset = counts ? qoff : 0,
            .commitlog_offset = mf->from + pos,
            .sys_flag = m->sys_flag,
            .born_timestamp = m->born_timestamp,
            .born_host = m->born_host,
            .store_timestamp = now,
            .store_host = m->store_host,
            .reconsume_times = m->reconsume_times,
            .prepared_transaction_offset = m->prepared_transaction_offset,
            .body = m->body,
            .body_len = (int32_t)m->body_len,
            .topic = m->topic,
            .topic_len = strlen(m->topic),
            .props = m->props ? m->props : "",
            .props_len = m->props ? m->props_len : 0,
        };
        rmq_msg_encode(mf->base + pos, &rec);
        if (i == 0) {
            res->wrote_offset = mf->from + pos;
            first_qoff = rec.queue_offset;
        }
        if (idlen + RMQ_MSG_ID_MAX + 1 < sizeof(res->msg_id)) {
            if (i > 0)
                res->msg_id[idlen++] = ',';
            idlen += rmq_msg_id_create(res->msg_id + idlen, &m->store_host, rec.commitlog_offset);
        } else {
            res->msg_id_truncated = true;
        }
        if (counts)
            qoff++;
        pos += (int64_t)sizes[i];
    }
    if (qe)
        qe->v.i64 = qoff;
    atomic_store(&mf->store_ts, now);
    atomic_store(&cl->last_store_ts, now);
    atomic_store_explicit(&mf->wrote, pos, memory_order_release);
    atomic_store_explicit(&cl->max_offset, mf->from + pos, memory_order_release);
    warm_ahead(cl, mf, pos);
    pthread_mutex_unlock(&cl->put_lock);
    rmq_store_published(s);

    atomic_fetch_add_explicit(&cl->stat_msgs, (int64_t)n, memory_order_relaxed);
    atomic_fetch_add_explicit(&cl->stat_puts, 1, memory_order_relaxed);
    res->queue_offset = first_qoff;
    res->wrote_bytes = (int32_t)total;
    res->msg_num = (int32_t)n;
    res->store_timestamp = now;

    if (s->sync_flush && msgs[0].wait_store_ok && rmq_service_started(cl->flush_svc)) {
        rmq_gc_req_t *r = rmq_calloc(1, sizeof(*r));
        r->end = res->wrote_offset + total;
        r->deadline = rmq_mono_ms() + s->conf.syncFlushTimeout;
        r->cb = cb;
        r->opaque = opaque;
        r->res = *res;
        res->pending = true;
        pthread_mutex_lock(&cl->gc_lock);
        STAILQ_INSERT_TAIL(&cl->gc_waiters, r, link);
        cl->gc_waiting++;
        pthread_mutex_unlock(&cl->gc_lock);
        rmq_service_wakeup(cl->flush_svc);
    }
out:
    if (crcs != crc_local)
        free(crcs);
    if (sizes != size_local)
        free(sizes);
    res->status = st;
    if (st == RMQ_PUT_OK && !res->pending && msgs[0].wait_store_ok)
        audit_ack(cl, res->wrote_offset + total); /* acknowledged now */
    return st;
}

rmq_err_t rmq_commitlog_append_raw(rmq_commitlog_t *cl, int64_t offset, const void *data, size_t len)
{
    const uint8_t *p = data;
    rmq_err_t err = RMQ_OK;
    pthread_mutex_lock(&cl->put_lock);
    if (!cl->cur && atomic_load(&cl->max_offset) == 0 && offset > 0 && offset % cl->file_size == 0) {
        /* an empty slave starts where the master's oldest kept segment starts */
        rmq_log(RMQ_LOG_INFO, "store", "empty commit log starts at %" PRId64, offset);
        atomic_store(&cl->max_offset, offset);
        atomic_store(&cl->flushed_offset, offset);
    }
    if (offset != atomic_load(&cl->max_offset)) {
        rmq_log(RMQ_LOG_WARN, "store", "append_raw at %" PRId64 " but the commit log ends at %" PRId64,
                offset, atomic_load(&cl->max_offset));
        err = RMQ_ERR__INVALID_ARG;
        goto out;
    }
    while (len > 0) {
        rmq_mapped_file_t *mf = cl->cur;
        if (!mf || atomic_load(&mf->wrote) >= cl->file_size) {
            if (roll(cl, &mf) != RMQ_PUT_OK) {
                err = RMQ_ERR__IO;
                goto out;
            }
        }
        int64_t wrote = atomic_load(&mf->wrote);
        size_t n = (size_t)(cl->file_size - wrote);
        if (n > len)
            n = len;
        memcpy(mf->base + wrote, p, n);
        atomic_store_explicit(&mf->wrote, wrote + (int64_t)n, memory_order_release);
        atomic_store_explicit(&cl->max_offset, mf->from + wrote + (int64_t)n, memory_order_release);
        warm_ahead(cl, mf, wrote + (int64_t)n);
        p += n;
        len -= n;
    }
out:
    pthread_mutex_unlock(&cl->put_lock);
    if (err == RMQ_OK)
        rmq_store_published(cl->store);
    return err;
}

void rmq_commitlog_set_queue_offset_locked(rmq_commitlog_t *cl, const char *topic, int32_t qid, int64_t next)
{
    char key[256];
    size_t kl = qkey(key, sizeof(key), topic, qid);
    rmq_strmap_upsert(&cl->topic_queue_table, key, kl)->v.i64 = next;
}

void rmq_commitlog_set_queue_offset(rmq_commitlog_t *cl, const char *topic, int32_t qid, int64_t next)
{
    pthread_mutex_lock(&cl->put_lock);
    rmq_commitlog_set_queue_offset_locked(cl, topic, qid, next);
    pthread_mutex_unlock(&cl->put_lock);
}

/* ------------------------------------------------------------------- reads */

rmq_err_t rmq_commitlog_get(rmq_commitlog_t *cl, int64_t offset, int32_t size, rmq_store_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    rmq_mapped_file_t *mf = rmq_mfq_find_hold(cl->mfq, offset);
    if (!mf)
        return RMQ_ERR__NOENT;
    int64_t pos = offset - mf->from;
    int64_t wrote = atomic_load_explicit(&mf->wrote, memory_order_acquire);
    if (size <= 0) {
        if (pos + 8 > wrote || rmq_be32(mf->base + pos + 4) != RMQ_MSG_MAGIC)
            goto fail;
        size = (int32_t)rmq_be32(mf->base + pos);
    }
    if (size <= 0 || pos + size > wrote)
        goto fail;
    /* a consume-queue unit must point at a record of exactly that size */
    if (rmq_be32(mf->base + pos) != (uint32_t)size || rmq_be32(mf->base + pos + 4) != RMQ_MSG_MAGIC)
        goto fail;
    ref->data = mf->base + pos;
    ref->len = (size_t)size;
    ref->offset = offset;
    ref->pin = mf;
    return RMQ_OK;
fail:
    rmq_mapped_file_release(mf);
    return RMQ_ERR__NOENT;
}

int64_t rmq_commitlog_min_offset(rmq_commitlog_t *cl)
{
    int64_t v = rmq_mfq_min_offset(cl->mfq);
    return v < 0 ? 0 : v;
}

int64_t rmq_commitlog_roll_next_file(rmq_commitlog_t *cl, int64_t offset)
{
    return offset + cl->file_size - offset % cl->file_size;
}

/* ------------------------------------------------------------------- flush */

static rmq_err_t do_flush(rmq_commitlog_t *cl, int least_pages)
{
    /* test hook: a hanging disk, until the time passes or the test clears it */
    int stall = atomic_load(&cl->test_stall_ms);
    if (stall > 0) {
        int64_t until = rmq_mono_ms() + stall;
        atomic_store(&cl->test_stalled, true);
        while (atomic_load(&cl->test_stall_ms) > 0 && rmq_mono_ms() < until)
            usleep(1000);
        atomic_store(&cl->test_stalled, false);
    }
    int64_t ts = atomic_load(&cl->last_store_ts);
    int64_t target = atomic_load(&cl->max_offset);
    rmq_err_t err = rmq_mfq_flush(cl->mfq, least_pages);
    if (err)
        return err;
    int64_t flushed = rmq_mfq_flushed_offset(cl->mfq);
    if (flushed > atomic_load(&cl->flushed_offset)) {
        atomic_store(&cl->flushed_offset, flushed);
        atomic_fetch_add_explicit(&cl->stat_flushes, 1, memory_order_relaxed);
    }
    if (flushed >= target && ts > 0)
        rmq_checkpoint_set_physic(cl->store->ckpt, ts);
    return RMQ_OK;
}

/* Move (gc_lock held) every waiting request that is decided to done, oldest
 * first: covered by a successful flush => PUT_OK; flush failed, expired, or
 * final => timeout. The others keep waiting, in their order. */
static void take_done_locked(rmq_commitlog_t *cl, bool flush_ok, bool final, rmq_gc_list_t *done)
{
    int64_t flushed = atomic_load(&cl->flushed_offset);
    int64_t now = rmq_mono_ms();
    rmq_gc_list_t keep = STAILQ_HEAD_INITIALIZER(keep);
    rmq_gc_req_t *r;
    while ((r = STAILQ_FIRST(&cl->gc_waiters))) {
        STAILQ_REMOVE_HEAD(&cl->gc_waiters, link);
        if (flush_ok && flushed >= r->end) {
            r->res.status = RMQ_PUT_OK;
        } else if (!flush_ok || final || now >= r->deadline) {
            r->res.status = RMQ_PUT_FLUSH_DISK_TIMEOUT;
        } else {
            STAILQ_INSERT_TAIL(&keep, r, link);
            continue;
        }
        cl->gc_waiting--;
        STAILQ_INSERT_TAIL(done, r, link);
    }
    STAILQ_CONCAT(&cl->gc_waiters, &keep);
}

/* Group-commit batch size statistics (metrics). */
static void count_batch(rmq_commitlog_t *cl, const rmq_gc_list_t *list)
{
    int64_t n = 0;
    for (const rmq_gc_req_t *r = STAILQ_FIRST(list); r; r = STAILQ_NEXT(r, link))
        n++;
    if (!n)
        return;
    int b = 0;
    while (b < RMQ_STORE_GC_BUCKETS - 1 && ((int64_t)1 << b) < n)
        b++;
    atomic_fetch_add_explicit(&cl->stat_gc[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&cl->stat_gc_sum, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&cl->stat_gc_count, 1, memory_order_relaxed);
}

static void run_done(rmq_commitlog_t *cl, rmq_gc_list_t *list)
{
    rmq_gc_req_t *r;
    while ((r = STAILQ_FIRST(list))) {
        STAILQ_REMOVE_HEAD(list, link);
        r->res.pending = false;
        if (r->res.status == RMQ_PUT_OK)
            audit_ack(cl, r->end);
        if (r->cb)
            r->cb(r->opaque, &r->res);
        free(r);
    }
}

void rmq_commitlog_expire_waiters(rmq_commitlog_t *cl)
{
    rmq_gc_list_t done = STAILQ_HEAD_INITIALIZER(done);
    pthread_mutex_lock(&cl->gc_lock);
    take_done_locked(cl, true, false, &done);
    pthread_mutex_unlock(&cl->gc_lock);
    run_done(cl, &done);
}

static void flush_main(rmq_service_t *svc, void *arg)
{
    rmq_commitlog_t *cl = arg;
    rmq_store_t *s = cl->store;
    int64_t last_thorough = rmq_mono_ms();
    while (!rmq_service_stopped(svc)) {
        if (s->sync_flush) {
            /* GroupCommitService: wait up to 10 ms for requests (each one
             * wakes us), flush once, complete every request the flush
             * covered. Requests stay on the shared list meanwhile, so the
             * clean thread can time them out even if this flush hangs. */
            rmq_service_wait_for_running(svc, 10);
            gather_cohort(cl, svc);
            int64_t t0 = rmq_mono_us();
            rmq_err_t err = do_flush(cl, 0);
            rmq_gc_list_t done = STAILQ_HEAD_INITIALIZER(done);
            pthread_mutex_lock(&cl->gc_lock);
            int before = cl->gc_waiting;
            take_done_locked(cl, err == RMQ_OK, false, &done);
            int left = cl->gc_waiting;
            pthread_mutex_unlock(&cl->gc_lock);
            if (before > left) { /* a flush that answered someone */
                cl->gc_flush_us = rmq_mono_us() - t0;
                cl->gc_expect = before;
            }
            count_batch(cl, &done);
            run_done(cl, &done);
        } else {
            /* FlushRealTimeService */
            rmq_service_wait_for_running(svc, s->conf.flushIntervalCommitLog);
            int least = s->conf.flushCommitLogLeastPages;
            int64_t now = rmq_mono_ms();
            if (now - last_thorough >= s->conf.flushCommitLogThoroughInterval) {
                least = 0;
                last_thorough = now;
            }
            do_flush(cl, least);
        }
    }
    /* final flush; anything still waiting learns the truth */
    rmq_err_t err = do_flush(cl, 0);
    rmq_gc_list_t done = STAILQ_HEAD_INITIALIZER(done);
    pthread_mutex_lock(&cl->gc_lock);
    take_done_locked(cl, err == RMQ_OK, true, &done);
    pthread_mutex_unlock(&cl->gc_lock);
    run_done(cl, &done);
}

rmq_err_t rmq_commitlog_start(rmq_commitlog_t *cl)
{
    return rmq_service_start(cl->flush_svc);
}

void rmq_commitlog_stop(rmq_commitlog_t *cl)
{
    if (!rmq_service_started(cl->flush_svc)) {
        do_flush(cl, 0);
        return;
    }
    rmq_service_stop(cl->flush_svc); /* the thread flushes a last time */
}
