/* replica.c - the store's side of replication: reading whole records for a
 * master to send, checking and appending what a slave receives, cutting the
 * tail of a log that ran past its master's, and the epoch list.
 *
 * Owns: nothing of its own; works on the commit log, consume queues, index
 * and epoch file under their locks.
 * Runs: read_records on any thread (a master's HA thread); append_records
 * and truncate_tail on the single writer (a slave's HA thread).
 * Must never: append bytes it has not checked completely, or leave a cut
 * record findable through a consume queue, the index or the epoch list. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "store_int.h"

/* ------------------------------------------------------------ master side */

rmq_err_t rmq_store_read_records(rmq_store_t *s, int64_t offset, size_t max_bytes, rmq_store_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    int64_t pos, wrote;
    rmq_mapped_file_t *mf = rmq_store_written_at(s, offset, &pos, &wrote);
    if (!mf)
        return RMQ_ERR__NOENT;
    int64_t p = pos;
    while (p < wrote) {
        int64_t left = mf->size - p;
        if (left < RMQ_MSG_END_FILE_MIN_BLANK) { /* too short for a blank: the rest of the file */
            p = mf->size;
            break;
        }
        const uint8_t *h = mf->base + p;
        uint32_t magic = rmq_be32(h + 4);
        int64_t size = (int32_t)rmq_be32(h);
        if (magic == RMQ_MSG_BLANK_MAGIC && size == left) {
            p = mf->size;
            break;
        }
        if (magic != RMQ_MSG_MAGIC || size <= 0 || p + size > wrote ||
            (int64_t)rmq_be64(h + RMQ_MSG_POS_PHY_OFFSET) != mf->from + p)
            break;
        if (p > pos && (size_t)(p + size - pos) > max_bytes)
            break;
        p += size;
        if ((size_t)(p - pos) >= max_bytes)
            break;
    }
    if (p == pos) {
        rmq_mapped_file_release(mf);
        return RMQ_ERR__CORRUPT; /* not a record boundary of this log */
    }
    ref->data = mf->base + pos;
    ref->len = (size_t)(p - pos);
    ref->offset = offset;
    ref->pin = mf;
    return RMQ_OK;
}

/* ------------------------------------------------------------- slave side */

/* Walk data as records starting at commit-log offset `offset`. */
static rmq_err_t check_records(const uint8_t *data, size_t len, int64_t offset, int64_t seg, int32_t max_size,
                               char *why, size_t wn)
{
    int64_t seg_end = offset - offset % seg + seg;
    if (offset + (int64_t)len > seg_end) {
        snprintf(why, wn, "%zu bytes at %" PRId64 " cross the segment end %" PRId64, len, offset, seg_end);
        return RMQ_ERR__CORRUPT;
    }
    size_t pos = 0;
    while (pos < len) {
        int64_t at = offset + (int64_t)pos;
        int64_t left_in_seg = seg_end - at;
        size_t avail = len - pos;
        if (left_in_seg < RMQ_MSG_END_FILE_MIN_BLANK) {
            if ((int64_t)avail != left_in_seg) {
                snprintf(why, wn, "%zu bytes at %" PRId64 " do not end the segment", avail, at);
                return RMQ_ERR__CORRUPT;
            }
            return RMQ_OK;
        }
        if (avail < RMQ_MSG_END_FILE_MIN_BLANK) {
            snprintf(why, wn, "torn record at %" PRId64 ": %zu bytes", at, avail);
            return RMQ_ERR__CORRUPT;
        }
        const uint8_t *p = data + pos;
        int64_t size = (int32_t)rmq_be32(p);
        uint32_t magic = rmq_be32(p + 4);
        if (magic == RMQ_MSG_BLANK_MAGIC) {
            if (size != left_in_seg || (int64_t)avail != left_in_seg) {
                snprintf(why, wn,
                         "blank at %" PRId64 " of %" PRId64 " bytes does not close the segment (%" PRId64
                         " left, %zu sent)",
                         at, size, left_in_seg, avail);
                return RMQ_ERR__CORRUPT;
            }
            return RMQ_OK;
        }
        if (magic != RMQ_MSG_MAGIC) {
            snprintf(why, wn, "no record at %" PRId64 " (magic %08x)", at, magic);
            return RMQ_ERR__CORRUPT;
        }
        if (size <= 0 || size > max_size || (size_t)size > avail) {
            snprintf(why, wn, "torn record at %" PRId64 ": size %" PRId64 ", %zu bytes sent", at, size,
                     avail);
            return RMQ_ERR__CORRUPT;
        }
        rmq_msg_rec_t rec;
        if (rmq_msg_decode(p, (size_t)size, true, &rec) != RMQ_OK) {
            snprintf(why, wn, "record at %" PRId64 " does not decode or fails its body CRC", at);
            return RMQ_ERR__CORRUPT;
        }
        if (rec.commitlog_offset != at) {
            snprintf(why, wn, "record at %" PRId64 " says it belongs at %" PRId64, at, rec.commitlog_offset);
            return RMQ_ERR__CORRUPT;
        }
        pos += (size_t)size;
    }
    return RMQ_OK;
}

/* Consume queues cut at `cut` (-1: none), then the queue-offset table set
 * from them. Needs dispatch_lock and the commit log's put_lock. */
static void queue_offsets_from_cqs_locked(rmq_store_t *s, int64_t cut)
{
    rmq_commitlog_t *cl = s->cl;
    pthread_mutex_lock(&s->cq_lock);
    size_t n = 0, cap = s->cq_table.count + 1;
    rmq_consume_queue_t **cqs = rmq_malloc(cap * sizeof(*cqs));
    for (rmq_strmap_ent_t *e = rmq_strmap_next(&s->cq_table, NULL); e && n < cap;
         e = rmq_strmap_next(&s->cq_table, e))
        cqs[n++] = e->v.ptr;
    pthread_mutex_unlock(&s->cq_lock);
    for (size_t i = 0; i < n; i++) {
        if (cut >= 0 && atomic_load(&cqs[i]->max_phys_end) > cut) {
            rmq_cq_truncate_dirty(cqs[i], cut);
            rmq_cq_flush(cqs[i], 0);
        }
        rmq_commitlog_set_queue_offset_locked(cl, cqs[i]->topic, cqs[i]->queue_id, rmq_cq_max_offset(cqs[i]));
    }
    free(cqs);
}

rmq_err_t rmq_store_take_writes(rmq_store_t *s)
{
    rmq_commitlog_t *cl = s->cl;
    pthread_mutex_lock(&s->dispatch_lock);
    rmq_err_t err = RMQ_OK;
    /* every replicated record in a consume queue first: their max offsets
     * are then where the queues continue */
    if (rmq_store_dispatch_available_locked(s) < 0) {
        rmq_log(RMQ_LOG_ERROR, "store",
                "dispatch before taking writes failed; queue offsets may restart low");
        err = RMQ_ERR__IO;
    }
    pthread_mutex_lock(&cl->put_lock);
    queue_offsets_from_cqs_locked(s, -1);
    pthread_mutex_unlock(&cl->put_lock);
    pthread_mutex_unlock(&s->dispatch_lock);
    return err;
}

rmq_err_t rmq_store_append_records(rmq_store_t *s, int64_t offset, const void *data, size_t len, char *why,
                                   size_t why_size)
{
    rmq_commitlog_t *cl = s->cl;
    char dummy[8];
    if (!why || !why_size) {
        why = dummy;
        why_size = sizeof(dummy);
    }
    why[0] = 0;
    if (len == 0)
        return RMQ_OK;
    int64_t end = rmq_commitlog_max_offset(cl);
    bool empty = end == 0 && rmq_mfq_count(cl->mfq) == 0;
    if (offset != end && !(empty && offset % cl->file_size == 0)) {
        snprintf(why, why_size, "data starts at %" PRId64 " but the commit log ends at %" PRId64, offset,
                 end);
        return RMQ_ERR__INVALID_ARG;
    }
    if (atomic_load(&s->disk_full)) {
        snprintf(why, why_size, "the disk is above diskSpaceWarningLevelRatio");
        return RMQ_ERR__DISK_FULL;
    }
    rmq_err_t err =
        check_records(data, len, offset, cl->file_size, s->conf.maxMessageSize + 65536 + 1024, why, why_size);
    if (err)
        return err;
    err = rmq_commitlog_append_raw(cl, offset, data, len);
    if (err)
        snprintf(why, why_size, "append failed: %s", rmq_err2str(err));
    return err;
}

/* Store time of the first record of the segment holding offset (or of the
 * one before when offset starts a segment): a lower bound of the newest kept
 * record's time. */
static int64_t floor_ts(rmq_store_t *s, int64_t offset)
{
    rmq_commitlog_t *cl = s->cl;
    int64_t seg = offset - offset % cl->file_size;
    if (seg == offset && seg >= cl->file_size)
        seg -= cl->file_size;
    rmq_mapped_file_t *mf = rmq_mfq_find_hold(cl->mfq, seg);
    if (!mf)
        return 0;
    int64_t ts = 0;
    rmq_msg_rec_t rec;
    if (atomic_load(&mf->wrote) > 0 && rmq_msg_check(mf->base, (size_t)atomic_load(&mf->wrote), false,
                                                     (int32_t)mf->size, &rec) == RMQ_MSG_CHECK_RECORD)
        ts = rec.store_timestamp;
    rmq_mapped_file_release(mf);
    return ts;
}

rmq_err_t rmq_store_truncate_tail(rmq_store_t *s, int64_t offset, int64_t *discarded)
{
    rmq_commitlog_t *cl = s->cl;
    *discarded = 0;
    pthread_mutex_lock(&s->dispatch_lock);
    /* consume queues complete up to the end first: their max offsets then
     * say where every queue stands after the cut */
    if (rmq_store_dispatch_available_locked(s) < 0)
        rmq_log(RMQ_LOG_WARN, "store", "dispatch before the cut failed; queue offsets may restart low");
    pthread_mutex_lock(&cl->put_lock);
    int64_t end = atomic_load(&cl->max_offset);
    int64_t min = rmq_commitlog_min_offset(cl);
    rmq_err_t err = RMQ_OK;
    if (offset >= end)
        goto epochs;
    if (offset < min || (offset == min && min % cl->file_size != 0)) {
        rmq_log(RMQ_LOG_ERROR, "store", "cannot cut the commit log at %" PRId64 ": it starts at %" PRId64,
                offset, min);
        err = RMQ_ERR__INVALID_ARG;
        goto out;
    }
    *discarded = end - offset;
    rmq_mfq_truncate(cl->mfq, offset);
    cl->cur = rmq_mfq_last(cl->mfq);
    cl->last_qe = NULL;
    atomic_store(&cl->max_offset, offset);
    if (atomic_load(&cl->flushed_offset) > offset)
        atomic_store(&cl->flushed_offset, offset);
    if (atomic_load(&s->reput_from) > offset)
        atomic_store(&s->reput_from, offset);

    /* consume queues and the queue-offset table */
    queue_offsets_from_cqs_locked(s, offset);
    if (rmq_index_service_truncate(s->index, offset) != RMQ_OK)
        err = RMQ_ERR__IO;
    /* recovery after a crash must look at least this far back */
    int64_t ts = floor_ts(s, offset);
    rmq_checkpoint_lower(s->ckpt, ts);
    rmq_checkpoint_flush(s->ckpt, -1);
    s->durable_logics_ts = atomic_load(&s->ckpt->logics_ts);
    rmq_log(RMQ_LOG_WARN, "store",
            "commit log cut at %" PRId64 ": %" PRId64 " bytes discarded (it ended at %" PRId64 ")", offset,
            *discarded, end);
epochs:
    if (rmq_epoch_file_truncate(s->epochs, offset) != RMQ_OK)
        err = RMQ_ERR__IO;
out:
    pthread_mutex_unlock(&cl->put_lock);
    pthread_mutex_unlock(&s->dispatch_lock);
    return err;
}

/* ------------------------------------------------------------------ epochs */

size_t rmq_store_epochs(rmq_store_t *s, rmq_epoch_entry_t **out)
{
    rmq_epoch_file_t *f = s->epochs;
    pthread_mutex_lock(&f->lock);
    size_t n = f->n;
    *out = rmq_malloc((n + 1) * sizeof(**out));
    if (n)
        memcpy(*out, f->e, n * sizeof(**out));
    pthread_mutex_unlock(&f->lock);
    return n;
}

int64_t rmq_store_epoch_last(rmq_store_t *s)
{
    rmq_epoch_file_t *f = s->epochs;
    pthread_mutex_lock(&f->lock);
    int64_t e = f->n ? f->e[f->n - 1].epoch : 0;
    pthread_mutex_unlock(&f->lock);
    return e;
}

rmq_err_t rmq_store_epoch_begin(rmq_store_t *s, int64_t epoch)
{
    rmq_epoch_entry_t *e;
    size_t n = rmq_store_epochs(s, &e);
    int64_t start = rmq_commitlog_max_offset(s->cl);
    rmq_err_t err = RMQ_ERR__INVALID_ARG;
    if (n == 0 || (epoch > e[n - 1].epoch && start >= e[n - 1].start_offset)) {
        if (n > 0 && e[n - 1].start_offset == start)
            n--; /* the previous epoch wrote nothing */
        e = rmq_realloc(e, (n + 1) * sizeof(*e));
        e[n++] = (rmq_epoch_entry_t){epoch, start};
        err = rmq_epoch_file_store(s->epochs, e, n);
        if (err == RMQ_OK)
            rmq_log(RMQ_LOG_INFO, "store", "epoch %" PRId64 " begins at commit-log offset %" PRId64, epoch,
                    start);
    }
    free(e);
    return err;
}

rmq_err_t rmq_store_epoch_set(rmq_store_t *s, const rmq_epoch_entry_t *e, size_t n)
{
    return rmq_epoch_file_store(s->epochs, e, n);
}
