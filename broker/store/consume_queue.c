/* consume_queue.c - a logical queue of (commit-log offset, size, tagsCode)
 * units in <root>/consumequeue/<topic>/<queueId>/ (ConsumeQueue.java).
 *
 * Owns: the queue's files and its min/max bookkeeping.
 * Runs: put/recover/truncate on the reput thread (or the opening thread
 * during recovery); reads on any thread; deletion on the clean thread.
 * Must never: write anything but whole units at their logical position, or
 * index a record that is not completely in the commit log. */
#include "consume_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_file.h"
#include "rmq_log.h"

rmq_consume_queue_t *rmq_cq_new(const char *root, const char *topic, int32_t qid, int64_t file_size,
                                struct rmq_reaper_s *reaper)
{
    rmq_consume_queue_t *cq = rmq_calloc(1, sizeof(*cq));
    cq->topic = rmq_strdup(topic);
    cq->queue_id = qid;
    cq->file_size = file_size;
    char *dir = rmq_asprintf("%s/%s/%d", root, topic, qid);
    cq->mfq = rmq_mfq_new(dir, file_size, reaper);
    free(dir);
    atomic_init(&cq->min_logic_offset, 0);
    atomic_init(&cq->max_phys_end, 0);
    return cq;
}

void rmq_cq_destroy(rmq_consume_queue_t *cq)
{
    rmq_mfq_destroy(cq->mfq);
    free(cq->topic);
    free(cq);
}

rmq_err_t rmq_cq_load(rmq_consume_queue_t *cq)
{
    return rmq_mfq_load(cq->mfq);
}

static inline void read_unit(const uint8_t *p, int64_t *phys, int32_t *size, int64_t *tags)
{
    *phys = (int64_t)rmq_be64(p);
    *size = (int32_t)rmq_be32(p + 8);
    *tags = (int64_t)rmq_be64(p + 12);
}

void rmq_cq_recover(rmq_consume_queue_t *cq)
{
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(cq->mfq, &n);
    if (n == 0) {
        free(files);
        return;
    }
    size_t start = n >= 3 ? n - 3 : 0;
    int64_t end = files[start]->from; /* logical byte end of valid units */
    int64_t max_phys_end = 0;
    for (size_t i = start; i < n; i++) {
        rmq_mapped_file_t *mf = files[i];
        int64_t pos = 0;
        for (; pos + RMQ_CQ_UNIT_SIZE <= cq->file_size; pos += RMQ_CQ_UNIT_SIZE) {
            int64_t phys, tags;
            int32_t size;
            read_unit(mf->base + pos, &phys, &size, &tags);
            if (!(phys >= 0 && size > 0))
                break;
            if (size != INT32_MAX)
                max_phys_end = phys + size;
        }
        end = mf->from + pos;
        if (pos + RMQ_CQ_UNIT_SIZE <= cq->file_size)
            break;
    }
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    rmq_mfq_truncate(cq->mfq, end);
    atomic_store(&cq->max_phys_end, max_phys_end);
}

void rmq_cq_truncate_dirty(rmq_consume_queue_t *cq, int64_t phys_end)
{
    for (;;) {
        rmq_mapped_file_t *mf = rmq_mfq_last_hold(cq->mfq);
        if (!mf)
            return;
        int64_t wrote = atomic_load(&mf->wrote);
        if (wrote == 0 && mf->from > 0 && rmq_mfq_count(cq->mfq) > 1) {
            /* an empty last file: the units to check are in the previous one */
            rmq_mapped_file_release(mf);
            rmq_mfq_remove_from(cq->mfq, rmq_mfq_count(cq->mfq) - 1);
            continue;
        }
        int64_t pos = 0, new_max = -1;
        for (; pos + RMQ_CQ_UNIT_SIZE <= wrote; pos += RMQ_CQ_UNIT_SIZE) {
            int64_t phys, tags;
            int32_t size;
            read_unit(mf->base + pos, &phys, &size, &tags);
            if (size == INT32_MAX)
                continue; /* pre-fill blank */
            if (phys >= phys_end)
                break;
            new_max = phys + size;
        }
        int64_t from = mf->from;
        rmq_mapped_file_release(mf);
        if (pos == wrote) {
            if (new_max >= 0)
                atomic_store(&cq->max_phys_end, new_max);
            return;
        }
        rmq_log(RMQ_LOG_INFO, "store", "consume queue %s/%d truncated at logical %" PRId64, cq->topic,
                cq->queue_id, (from + pos) / RMQ_CQ_UNIT_SIZE);
        if (pos == 0 && from > 0 && rmq_mfq_count(cq->mfq) > 1) {
            rmq_mfq_truncate(cq->mfq, from); /* drop this file, check the previous one */
            rmq_mfq_remove_from(cq->mfq, rmq_mfq_count(cq->mfq) - 1);
            continue;
        }
        rmq_mfq_truncate(cq->mfq, from + pos);
        if (new_max >= 0)
            atomic_store(&cq->max_phys_end, new_max);
        else
            atomic_store(&cq->max_phys_end, 0);
        return;
    }
}

int64_t rmq_cq_max_offset(rmq_consume_queue_t *cq)
{
    return rmq_mfq_max_offset(cq->mfq) / RMQ_CQ_UNIT_SIZE;
}

int64_t rmq_cq_min_offset(rmq_consume_queue_t *cq)
{
    return atomic_load(&cq->min_logic_offset) / RMQ_CQ_UNIT_SIZE;
}

static void write_unit(uint8_t *p, int64_t phys, int32_t size, int64_t tags)
{
    rmq_wbe64(p, (uint64_t)phys);
    rmq_wbe32(p + 8, (uint32_t)size);
    rmq_wbe64(p + 12, (uint64_t)tags);
}

rmq_err_t rmq_cq_put(rmq_consume_queue_t *cq, int64_t phys, int32_t size, int64_t tags, int64_t cq_offset)
{
    int64_t expect = cq_offset * RMQ_CQ_UNIT_SIZE;
    rmq_mapped_file_t *mf = rmq_mfq_last(cq->mfq);
    int64_t cur = mf ? mf->from + atomic_load(&mf->wrote) : -1;
    if (cur > expect)
        return RMQ_OK; /* duplicate dispatch */
    if (!mf) {
        if (rmq_mkdirs(cq->mfq->dir) != 0) {
            rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "mkdir(%s) failed", cq->mfq->dir);
            return RMQ_ERR__IO;
        }
        int64_t from = expect - expect % cq->file_size;
        rmq_err_t err = rmq_mfq_create(cq->mfq, from, &mf);
        if (err)
            return err;
        cur = from;
        atomic_store(&cq->min_logic_offset, expect);
    }
    if (cur < expect)
        rmq_log(RMQ_LOG_WARN, "store",
                "consume queue %s/%d: expected logical %" PRId64 ", at %" PRId64 "; filling blanks",
                cq->topic, cq->queue_id, cq_offset, cur / RMQ_CQ_UNIT_SIZE);
    /* fill blanks (fillPreBlank) up to the expected position, rolling files */
    while (cur <= expect) {
        int64_t pos = cur - mf->from;
        if (pos >= cq->file_size) {
            rmq_err_t err = rmq_mfq_create(cq->mfq, mf->from + cq->file_size, &mf);
            if (err)
                return err;
            continue;
        }
        if (cur < expect)
            write_unit(mf->base + pos, 0, INT32_MAX, 0);
        else
            write_unit(mf->base + pos, phys, size, tags);
        atomic_store_explicit(&mf->wrote, pos + RMQ_CQ_UNIT_SIZE, memory_order_release);
        cur += RMQ_CQ_UNIT_SIZE;
    }
    atomic_store(&cq->max_phys_end, phys + size);
    return RMQ_OK;
}

void rmq_cq_correct_min_offset(rmq_consume_queue_t *cq, int64_t cl_min)
{
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(cq->mfq, &n);
    int64_t min = -1;
    for (size_t i = 0; i < n && min < 0; i++) {
        rmq_mapped_file_t *mf = files[i];
        int64_t wrote = atomic_load(&mf->wrote);
        for (int64_t pos = 0; pos + RMQ_CQ_UNIT_SIZE <= wrote; pos += RMQ_CQ_UNIT_SIZE) {
            int64_t phys, tags;
            int32_t size;
            read_unit(mf->base + pos, &phys, &size, &tags);
            if (size != INT32_MAX && phys >= cl_min) {
                min = mf->from + pos;
                break;
            }
        }
    }
    if (min < 0) /* nothing valid: the queue is logically empty at its end */
        min = n ? files[n - 1]->from + atomic_load(&files[n - 1]->wrote) : 0;
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    if (min > atomic_load(&cq->min_logic_offset))
        atomic_store(&cq->min_logic_offset, min);
}

int rmq_cq_delete_expired(rmq_consume_queue_t *cq, int64_t cl_min)
{
    size_t n;
    rmq_mapped_file_t **files = rmq_mfq_snapshot(cq->mfq, &n);
    size_t del = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        rmq_mapped_file_t *mf = files[i];
        int64_t wrote = atomic_load(&mf->wrote);
        if (wrote < RMQ_CQ_UNIT_SIZE)
            break;
        int64_t phys, tags;
        int32_t size;
        read_unit(mf->base + wrote - RMQ_CQ_UNIT_SIZE, &phys, &size, &tags);
        if (size != INT32_MAX && phys >= cl_min)
            break;
        del++;
    }
    for (size_t i = 0; i < n; i++)
        rmq_mapped_file_release(files[i]);
    free(files);
    if (del)
        rmq_mfq_remove_first(cq->mfq, del);
    rmq_cq_correct_min_offset(cq, cl_min);
    return (int)del;
}

const uint8_t *rmq_cq_get_units(rmq_consume_queue_t *cq, int64_t offset, size_t *len, rmq_mapped_file_t **out)
{
    int64_t byte = offset * RMQ_CQ_UNIT_SIZE;
    *out = NULL;
    if (byte < atomic_load(&cq->min_logic_offset))
        return NULL;
    rmq_mapped_file_t *mf = rmq_mfq_find_hold(cq->mfq, byte);
    if (!mf)
        return NULL;
    int64_t pos = byte - mf->from;
    int64_t wrote = atomic_load_explicit(&mf->wrote, memory_order_acquire);
    if (pos >= wrote) {
        rmq_mapped_file_release(mf);
        return NULL;
    }
    *len = (size_t)(wrote - pos);
    *out = mf;
    return mf->base + pos;
}

bool rmq_cq_get_unit(rmq_consume_queue_t *cq, int64_t offset, int64_t *phys, int32_t *size, int64_t *tags)
{
    size_t len;
    rmq_mapped_file_t *mf;
    const uint8_t *p = rmq_cq_get_units(cq, offset, &len, &mf);
    if (!p)
        return false;
    read_unit(p, phys, size, tags);
    rmq_mapped_file_release(mf);
    return *size > 0; /* zeros: cut by a truncation while we read */
}

int64_t rmq_cq_roll_next_file(rmq_consume_queue_t *cq, int64_t offset)
{
    int64_t units = cq->file_size / RMQ_CQ_UNIT_SIZE;
    return offset + units - offset % units;
}

rmq_err_t rmq_cq_flush(rmq_consume_queue_t *cq, int least_pages)
{
    return rmq_mfq_flush(cq->mfq, least_pages);
}
