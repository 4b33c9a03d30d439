/* index_file.c - hash index of message keys in <root>/index/<yyyyMMddHHmmssSSS>
 * (IndexFile.java, IndexHeader.java, IndexService.java; docs/protocol.md §5.9).
 *
 * Owns: the index files and their headers (kept live in the mapping).
 * Runs: build on the reput thread; query on any thread (is->lock, read);
 * flush on the consume-queue flush thread; deletion on the clean thread.
 * Must never: follow a chain link without bounds-checking it - the files
 * survive crashes and may hold anything. */
#include "index_file.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_buf.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "store_int.h"

/* header accessors (live in the mapping) */
#define H_BEGIN_TS 0
#define H_END_TS 8
#define H_BEGIN_PHY 16
#define H_END_PHY 24
#define H_SLOT_COUNT 32
#define H_INDEX_COUNT 36

static int64_t h64(const rmq_index_file_t *f, int off)
{
    return (int64_t)rmq_be64(f->mf->base + off);
}
static int32_t h32(const rmq_index_file_t *f, int off)
{
    return (int32_t)rmq_be32(f->mf->base + off);
}
static void w64(rmq_index_file_t *f, int off, int64_t v)
{
    rmq_wbe64(f->mf->base + off, (uint64_t)v);
}
static void w32(rmq_index_file_t *f, int off, int32_t v)
{
    rmq_wbe32(f->mf->base + off, (uint32_t)v);
}

static int64_t file_size(int32_t slots, int32_t max)
{
    return RMQ_INDEX_HEADER_SIZE + (int64_t)slots * RMQ_INDEX_SLOT_SIZE + (int64_t)max * RMQ_INDEX_UNIT_SIZE;
}

rmq_index_service_t *rmq_index_service_new(const char *dir, int32_t slot_num, int32_t max_index,
                                           struct rmq_reaper_s *reaper)
{
    rmq_index_service_t *is = rmq_calloc(1, sizeof(*is));
    is->dir = rmq_strdup(dir);
    is->slot_num = slot_num;
    is->max_index = max_index;
    is->reaper = reaper;
    pthread_rwlock_init(&is->lock, NULL);
    return is;
}

void rmq_index_service_destroy(rmq_index_service_t *is)
{
    if (!is)
        return;
    for (size_t i = 0; i < is->n; i++) {
        rmq_mapped_file_destroy(is->files[i]->mf, false);
        free(is->files[i]);
    }
    free(is->files);
    free(is->dir);
    pthread_rwlock_destroy(&is->lock);
    free(is);
}

static void push(rmq_index_service_t *is, rmq_index_file_t *f)
{
    is->files = rmq_array_grow(is->files, is->n, &is->cap, 8, sizeof(*is->files));
    is->files[is->n++] = f;
}

rmq_err_t rmq_index_service_load(rmq_index_service_t *is, bool last_exit_ok, int64_t ckpt_index_ts)
{
    char **names;
    size_t n;
    rmq_err_t err = rmq_store_list_numbered(is->dir, 17, &names, &n);
    if (err)
        return err;
    int64_t sz = file_size(is->slot_num, is->max_index);
    for (size_t i = 0; i < n; i++) {
        char *path = rmq_asprintf("%s/%s", is->dir, names[i]);
        rmq_mapped_file_t *mf;
        rmq_err_t e = rmq_mapped_file_open(path, 0, sz, false, false, &mf);
        if (e) {
            rmq_log(RMQ_LOG_WARN, "store", "index file %s unusable; deleting it", path);
            unlink(path);
        } else {
            rmq_index_file_t *f = rmq_calloc(1, sizeof(*f));
            f->mf = mf;
            f->slot_num = is->slot_num;
            f->max_index = is->max_index;
            if (!last_exit_ok && h64(f, H_END_TS) > ckpt_index_ts) {
                rmq_log(RMQ_LOG_INFO, "store", "deleting index file %s (newer than the checkpoint)", path);
                rmq_mapped_file_release(mf);
                rmq_mapped_file_destroy(mf, true);
                free(f);
            } else {
                f->full_flushed = true; /* on disk as it is */
                push(is, f);
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return err;
}

static int32_t key_hash(const char *topic, size_t tl, const char *key, size_t kl)
{
    char buf[512];
    char *k = tl + kl + 1 < sizeof(buf) ? buf : rmq_malloc(tl + kl + 1);
    memcpy(k, topic, tl);
    k[tl] = '#';
    memcpy(k + tl + 1, key, kl);
    int32_t h = rmq_java_hash(k, tl + kl + 1);
    if (k != buf)
        free(k);
    if (h == INT32_MIN)
        return 0;
    return h < 0 ? -h : h;
}

static rmq_index_file_t *create_file(rmq_index_service_t *is, int64_t begin_phy, int64_t begin_ts)
{
    rmq_mkdirs(is->dir); /* failures show in the open below */
    int64_t now = rmq_now_ms();
    for (int attempt = 0; attempt < 1000; attempt++, now++) {
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        localtime_r(&t, &tm);
        char *path =
            rmq_asprintf("%s/%04d%02d%02d%02d%02d%02d%03d", is->dir, tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000));
        if (access(path, F_OK) == 0) {
            free(path);
            continue;
        }
        rmq_mapped_file_t *mf;
        rmq_err_t err =
            rmq_mapped_file_open(path, 0, file_size(is->slot_num, is->max_index), true, false, &mf);
        free(path);
        if (err)
            return NULL;
        rmq_index_file_t *f = rmq_calloc(1, sizeof(*f));
        f->mf = mf;
        f->slot_num = is->slot_num;
        f->max_index = is->max_index;
        w64(f, H_BEGIN_TS, begin_ts);
        w64(f, H_END_TS, begin_ts);
        w64(f, H_BEGIN_PHY, begin_phy);
        w64(f, H_END_PHY, begin_phy);
        w32(f, H_SLOT_COUNT, 0);
        w32(f, H_INDEX_COUNT, 1);
        atomic_store(&mf->wrote, mf->size);
        return f;
    }
    return NULL;
}

static bool put_key(rmq_index_file_t *f, int32_t kh, int64_t phy, int64_t store_ts)
{
    int32_t count = h32(f, H_INDEX_COUNT);
    if (count >= f->max_index)
        return false;
    int64_t slot_pos = RMQ_INDEX_HEADER_SIZE + (int64_t)(kh % f->slot_num) * RMQ_INDEX_SLOT_SIZE;
    int32_t slot_val = (int32_t)rmq_be32(f->mf->base + slot_pos);
    if (slot_val <= 0 || slot_val > count)
        slot_val = 0;
    int64_t begin_ts = h64(f, H_BEGIN_TS);
    int64_t diff = (store_ts - begin_ts) / 1000;
    if (begin_ts <= 0 || count <= 1 || diff < 0)
        diff = 0;
    else if (diff > INT32_MAX)
        diff = INT32_MAX;
    uint8_t *e = f->mf->base + RMQ_INDEX_HEADER_SIZE + (int64_t)f->slot_num * RMQ_INDEX_SLOT_SIZE +
                 (int64_t)count * RMQ_INDEX_UNIT_SIZE;
    rmq_wbe32(e, (uint32_t)kh);
    rmq_wbe64(e + 4, (uint64_t)phy);
    rmq_wbe32(e + 12, (uint32_t)diff);
    rmq_wbe32(e + 16, (uint32_t)slot_val);
    rmq_wbe32(f->mf->base + slot_pos, (uint32_t)count);
    if (count <= 1) {
        w64(f, H_BEGIN_PHY, phy);
        w64(f, H_BEGIN_TS, store_ts);
    }
    if (slot_val == 0)
        w32(f, H_SLOT_COUNT, h32(f, H_SLOT_COUNT) + 1);
    w32(f, H_INDEX_COUNT, count + 1);
    w64(f, H_END_PHY, phy);
    w64(f, H_END_TS, store_ts);
    return true;
}

static rmq_err_t put_one(rmq_index_service_t *is, int32_t kh, int64_t phy, int64_t ts)
{
    for (int tries = 0; tries < 2; tries++) {
        rmq_index_file_t *f = is->n ? is->files[is->n - 1] : NULL;
        if (f && put_key(f, kh, phy, ts))
            return RMQ_OK;
        int64_t bphy = f ? h64(f, H_END_PHY) : 0, bts = f ? h64(f, H_END_TS) : 0;
        rmq_index_file_t *nf = create_file(is, bphy, bts);
        if (!nf)
            return RMQ_ERR__IO;
        push(is, nf);
    }
    return RMQ_ERR__IO;
}

rmq_err_t rmq_index_service_build(rmq_index_service_t *is, const char *topic, size_t tl, const char *keys,
                                  size_t keys_len, const char *uniq, size_t uniq_len, int64_t phy, int64_t ts)
{
    if (!uniq_len && !keys_len)
        return RMQ_OK;
    rmq_err_t err = RMQ_OK;
    pthread_rwlock_wrlock(&is->lock);
    if (is->n && phy < h64(is->files[is->n - 1], H_END_PHY))
        goto out; /* already indexed (re-dispatch after recovery) */
    if (uniq_len && (err = put_one(is, key_hash(topic, tl, uniq, uniq_len), phy, ts)))
        goto out;
    size_t i = 0;
    while (i < keys_len) {
        size_t j = i;
        while (j < keys_len && keys[j] != ' ')
            j++;
        if (j > i && (err = put_one(is, key_hash(topic, tl, keys + i, j - i), phy, ts)))
            goto out;
        i = j + 1;
    }
out:
    pthread_rwlock_unlock(&is->lock);
    return err;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

rmq_err_t rmq_index_service_query(rmq_index_service_t *is, const char *topic, const char *key,
                                  int32_t max_num, int64_t begin, int64_t end, int64_t **offs, size_t *n,
                                  int64_t *last_ts, int64_t *last_phy)
{
    int32_t kh = key_hash(topic, strlen(topic), key, strlen(key));
    size_t cnt = 0;
    int64_t *arr = rmq_malloc(((size_t)(max_num > 0 ? max_num : 1)) * sizeof(*arr));
    *last_ts = *last_phy = 0;
    pthread_rwlock_rdlock(&is->lock);
    if (is->n) {
        *last_ts = h64(is->files[is->n - 1], H_END_TS);
        *last_phy = h64(is->files[is->n - 1], H_END_PHY);
    }
    for (size_t fi = is->n; fi > 0 && (int32_t)cnt < max_num; fi--) {
        rmq_index_file_t *f = is->files[fi - 1];
        int64_t bts = h64(f, H_BEGIN_TS), ets = h64(f, H_END_TS);
        bool matched =
            (begin < bts && end > ets) || (begin >= bts && begin <= ets) || (end >= bts && end <= ets);
        if (!matched)
            continue;
        int32_t count = h32(f, H_INDEX_COUNT);
        if (count <= 1 || count > f->max_index + 1)
            continue;
        int32_t idx = (int32_t)rmq_be32(f->mf->base + RMQ_INDEX_HEADER_SIZE +
                                        (int64_t)(kh % f->slot_num) * RMQ_INDEX_SLOT_SIZE);
        if (idx <= 0 || idx > count)
            continue;
        for (int guard = 0; guard < f->max_index && (int32_t)cnt < max_num; guard++) {
            if (idx <= 0 || idx >= count)
                break;
            const uint8_t *e = f->mf->base + RMQ_INDEX_HEADER_SIZE +
                               (int64_t)f->slot_num * RMQ_INDEX_SLOT_SIZE +
                               (int64_t)idx * RMQ_INDEX_UNIT_SIZE;
            int32_t rh = (int32_t)rmq_be32(e);
            int64_t phy = (int64_t)rmq_be64(e + 4);
            int32_t diff = (int32_t)rmq_be32(e + 12);
            int32_t prev = (int32_t)rmq_be32(e + 16);
            if (diff < 0)
                break;
            int64_t t = bts + (int64_t)diff * 1000;
            if (rh == kh && t >= begin && t <= end)
                arr[cnt++] = phy;
            if (prev <= 0 || prev > count || prev == idx || t < begin)
                break;
            idx = prev;
        }
    }
    pthread_rwlock_unlock(&is->lock);
    if (cnt)
        qsort(arr, cnt, sizeof(*arr), cmp_i64);
    *offs = arr;
    *n = cnt;
    return RMQ_OK;
}

rmq_err_t rmq_index_service_flush(rmq_index_service_t *is, bool all, int64_t *end_ts)
{
    *end_ts = 0;
    for (;;) {
        /* the oldest full file not flushed since, else (all) the last one.
         * Retention (delete_expired) may free the index file's entry as
         * soon as the lock is released: only its mapping, held, is used
         * past this point, and the entry is found again by it. */
        pthread_rwlock_rdlock(&is->lock);
        rmq_index_file_t *f = NULL;
        size_t n = is->n;
        for (size_t i = 0; i + 1 < n && !f; i++)
            if (!is->files[i]->full_flushed)
                f = is->files[i];
        bool last = !f && all && n > 0;
        if (last)
            f = is->files[n - 1];
        int64_t ts = f ? h64(f, H_END_TS) : 0;
        rmq_mapped_file_t *mf = f ? f->mf : NULL;
        if (mf)
            rmq_mapped_file_hold(mf);
        pthread_rwlock_unlock(&is->lock);
        if (!mf)
            break;
        atomic_store(&mf->flushed, 0);
        rmq_err_t e = rmq_mapped_file_flush(mf, 0, NULL, NULL);
        if (e == RMQ_OK && !last) {
            pthread_rwlock_wrlock(&is->lock);
            for (size_t i = 0; i < is->n; i++) /* gone if retention removed it meanwhile */
                if (is->files[i]->mf == mf)
                    is->files[i]->full_flushed = true; /* a full file no longer changes */
            pthread_rwlock_unlock(&is->lock);
        }
        rmq_mapped_file_release(mf);
        if (e != RMQ_OK)
            return e;
        *end_ts = ts;
        if (last)
            break;
    }
    return RMQ_OK;
}

void rmq_index_service_delete_expired(rmq_index_service_t *is, int64_t cl_min)
{
    pthread_rwlock_wrlock(&is->lock);
    size_t del = 0;
    while (del + 1 < is->n && h64(is->files[del], H_END_PHY) < cl_min)
        del++;
    rmq_index_file_t **rm = rmq_store_take_front(is->files, &is->n, del, sizeof(*rm));
    pthread_rwlock_unlock(&is->lock);
    for (size_t i = 0; i < del; i++) {
        rmq_log(RMQ_LOG_INFO, "store", "retention: removing index file %s", rm[i]->mf->path);
        /* older index files are flushed by now; hand the mapping to the reaper */
        rmq_mapped_file_flush(rm[i]->mf, 0, NULL, NULL);
        atomic_store(&rm[i]->mf->available, false);
        rmq_reaper_add(is->reaper, rm[i]->mf);
        free(rm[i]);
    }
    free(rm);
}

/* Drop the entries of f from the newest back to the first one below phy_cut.
 * Entries are appended in commit-log order and a slot always points at the
 * newest entry of its chain, so removing from the newest end only ever has
 * to move a slot back to the removed entry's predecessor. */
static int32_t truncate_file(rmq_index_file_t *f, int64_t phy_cut)
{
    int32_t count = h32(f, H_INDEX_COUNT);
    if (count > f->max_index + 1)
        count = f->max_index + 1;
    int32_t removed = 0;
    uint8_t *entries = f->mf->base + RMQ_INDEX_HEADER_SIZE + (int64_t)f->slot_num * RMQ_INDEX_SLOT_SIZE;
    while (count > 1) {
        uint8_t *e = entries + (int64_t)(count - 1) * RMQ_INDEX_UNIT_SIZE;
        if ((int64_t)rmq_be64(e + 4) < phy_cut)
            break;
        int32_t kh = (int32_t)rmq_be32(e);
        int32_t prev = (int32_t)rmq_be32(e + 16);
        uint8_t *slot =
            f->mf->base + RMQ_INDEX_HEADER_SIZE + (int64_t)(kh % f->slot_num) * RMQ_INDEX_SLOT_SIZE;
        if ((int32_t)rmq_be32(slot) == count - 1) {
            if (prev <= 0 || prev >= count - 1)
                prev = 0;
            rmq_wbe32(slot, (uint32_t)prev);
            if (prev == 0)
                w32(f, H_SLOT_COUNT, h32(f, H_SLOT_COUNT) - 1);
        }
        memset(e, 0, RMQ_INDEX_UNIT_SIZE);
        count--;
        removed++;
    }
    w32(f, H_INDEX_COUNT, count);
    if (count > 1) {
        const uint8_t *last = entries + (int64_t)(count - 1) * RMQ_INDEX_UNIT_SIZE;
        w64(f, H_END_PHY, (int64_t)rmq_be64(last + 4));
        /* seconds after the begin time: a lower bound of the true end time */
        w64(f, H_END_TS, h64(f, H_BEGIN_TS) + (int64_t)(int32_t)rmq_be32(last + 12) * 1000);
    } else {
        w64(f, H_END_PHY, h64(f, H_BEGIN_PHY));
        w64(f, H_END_TS, h64(f, H_BEGIN_TS));
    }
    return removed;
}

rmq_err_t rmq_index_service_truncate(rmq_index_service_t *is, int64_t phy_cut)
{
    rmq_err_t err = RMQ_OK;
    int64_t removed = 0;
    size_t dropped = 0;
    pthread_rwlock_wrlock(&is->lock);
    while (is->n > 0) {
        rmq_index_file_t *f = is->files[is->n - 1];
        int32_t count = h32(f, H_INDEX_COUNT);
        bool all = count <= 1 || h64(f, H_BEGIN_PHY) >= phy_cut;
        if (all && is->n > 1) {
            /* nothing in it is kept: the file goes (its name is free at once) */
            is->n--;
            removed += count > 1 ? count - 1 : 0;
            dropped++;
            if (unlink(f->mf->path) != 0)
                rmq_log_errno(RMQ_LOG_WARN, "store", errno, "unlink(%s) failed", f->mf->path);
            f->mf->unlinked = true;
            atomic_store(&f->mf->available, false);
            rmq_reaper_add(is->reaper, f->mf);
            free(f);
            continue;
        }
        if (h64(f, H_END_PHY) >= phy_cut) {
            removed += truncate_file(f, phy_cut);
            if (rmq_mapped_file_sync_range(f->mf, 0, f->mf->size) != RMQ_OK)
                err = RMQ_ERR__IO;
        }
        break;
    }
    pthread_rwlock_unlock(&is->lock);
    if (removed || dropped)
        rmq_log(RMQ_LOG_INFO, "store",
                "index: %" PRId64 " entries at or past offset %" PRId64 " removed (%zu files)", removed,
                phy_cut, dropped);
    return err;
}

int64_t rmq_index_service_end_phy(rmq_index_service_t *is)
{
    pthread_rwlock_rdlock(&is->lock);
    int64_t v = is->n ? h64(is->files[is->n - 1], H_END_PHY) : 0;
    pthread_rwlock_unlock(&is->lock);
    return v;
}
