/* store.c - the store façade (DefaultMessageStore): open + recovery, the put
 * checks (validation, delay-level rewrite), reads for pulls, offsets, time
 * search and key queries, and the service lifecycle.
 *
 * Owns: the rmq_store_t and the consume-queue table.
 * Runs: open/destroy on the owning thread; put on the single writer; reads
 * on any thread; services on their own threads (see rmq_store.h).
 * Must never: accept a write while the disk is above the hard limit, or
 * hand out a record reference that is not pinned. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_log.h"
#include "rmq_time.h"

static const char *const put_names[] = {
    "PUT_OK",
    "FLUSH_DISK_TIMEOUT",
    "FLUSH_SLAVE_TIMEOUT",
    "SLAVE_NOT_AVAILABLE",
    "SERVICE_NOT_AVAILABLE",
    "CREATE_MAPEDFILE_FAILED",
    "MESSAGE_ILLEGAL",
    "PROPERTIES_SIZE_EXCEEDED",
    "OS_PAGECACHE_BUSY",
    "UNKNOWN_ERROR",
};
static const char *const get_names[] = {
    "FOUND",
    "NO_MATCHED_MESSAGE",
    "MESSAGE_WAS_REMOVING",
    "OFFSET_FOUND_NULL",
    "OFFSET_OVERFLOW_BADLY",
    "OFFSET_OVERFLOW_ONE",
    "OFFSET_TOO_SMALL",
    "NO_MATCHED_LOGIC_QUEUE",
    "NO_MESSAGE_IN_QUEUE",
};

const char *rmq_put_status_name(rmq_put_status_t s)
{
    return (unsigned)s < sizeof(put_names) / sizeof(*put_names) ? put_names[s] : "UNKNOWN_ERROR";
}

const char *rmq_get_status_name(rmq_get_status_t s)
{
    return (unsigned)s < sizeof(get_names) / sizeof(*get_names) ? get_names[s] : "UNKNOWN";
}

rmq_err_t rmq_put_status_to_code(rmq_put_status_t s)
{
    switch (s) {
    case RMQ_PUT_OK:
        return RMQ_OK;
    case RMQ_PUT_FLUSH_DISK_TIMEOUT:
        return RMQ_ERR_FLUSH_DISK_TIMEOUT;
    case RMQ_PUT_FLUSH_SLAVE_TIMEOUT:
        return RMQ_ERR_FLUSH_SLAVE_TIMEOUT;
    case RMQ_PUT_SLAVE_NOT_AVAILABLE:
        return RMQ_ERR_SLAVE_NOT_AVAILABLE;
    case RMQ_PUT_MESSAGE_ILLEGAL:
    case RMQ_PUT_PROPERTIES_SIZE_EXCEEDED:
        return RMQ_ERR_MESSAGE_ILLEGAL;
    case RMQ_PUT_SERVICE_NOT_AVAILABLE:
        return RMQ_ERR_SERVICE_NOT_AVAILABLE;
    default:
        return RMQ_ERR_SYSTEM_ERROR;
    }
}

/* ------------------------------------------------------------ cq table */

static size_t cq_key(char *buf, size_t cap, const char *topic, size_t tl, int32_t qid)
{
    if (tl + 16 > cap)
        tl = cap - 16;
    memcpy(buf, topic, tl);
    int n = snprintf(buf + tl, cap - tl, "\001%d", qid);
    return tl + (size_t)n;
}

rmq_consume_queue_t *rmq_store_find_cq(rmq_store_t *s, const char *topic, size_t tl, int32_t qid, bool create)
{
    char key[RMQ_TOPIC_MAX_LEN + 32];
    size_t kl = cq_key(key, sizeof(key), topic, tl, qid);
    pthread_mutex_lock(&s->cq_lock);
    rmq_strmap_ent_t *e = rmq_strmap_find(&s->cq_table, key, kl);
    rmq_consume_queue_t *cq = e ? e->v.ptr : NULL;
    if (!cq && create) {
        char *t = rmq_strndup(topic, tl);
        cq = rmq_cq_new(s->cq_dir, t, qid, s->conf.mappedFileSizeConsumeQueue, &s->reaper);
        free(t);
        rmq_strmap_upsert(&s->cq_table, key, kl)->v.ptr = cq;
    }
    pthread_mutex_unlock(&s->cq_lock);
    return cq;
}

rmq_consume_queue_t **rmq_store_cq_list(rmq_store_t *s, size_t *n)
{
    pthread_mutex_lock(&s->cq_lock);
    size_t i = 0;
    rmq_consume_queue_t **arr = rmq_malloc((s->cq_table.count + 1) * sizeof(*arr));
    for (rmq_strmap_ent_t *e = rmq_strmap_next(&s->cq_table, NULL); e; e = rmq_strmap_next(&s->cq_table, e))
        arr[i++] = e->v.ptr;
    pthread_mutex_unlock(&s->cq_lock);
    *n = i;
    return arr;
}

/* ------------------------------------------------------------------ open */

static int mkdirs(const char *path)
{
    if (rmq_mkdirs(path) == 0)
        return 0;
    rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "mkdir(%s) failed", path);
    return -1;
}

static rmq_err_t load_consume_queues(rmq_store_t *s)
{
    DIR *d = opendir(s->cq_dir);
    if (!d)
        return RMQ_OK;
    struct dirent *de;
    rmq_err_t err = RMQ_OK;
    while (!err && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *tdir = rmq_asprintf("%s/%s", s->cq_dir, de->d_name);
        DIR *qd = opendir(tdir);
        if (qd) {
            struct dirent *qe;
            while (!err && (qe = readdir(qd))) {
                char *end;
                long qid = strtol(qe->d_name, &end, 10);
                if (qe->d_name[0] == '.' || *end || end == qe->d_name)
                    continue;
                rmq_consume_queue_t *cq =
                    rmq_store_find_cq(s, de->d_name, strlen(de->d_name), (int32_t)qid, true);
                err = rmq_cq_load(cq);
                if (!err)
                    rmq_cq_recover(cq);
            }
            closedir(qd);
        }
        free(tdir);
    }
    closedir(d);
    return err;
}

static bool quota_cb(void *opaque, int64_t bytes)
{
    return rmq_store_quota_allows(opaque, bytes);
}

rmq_store_t *rmq_store_open(const rmq_store_config_t *conf, char *errstr, size_t errstr_size)
{
    rmq_store_t *s = rmq_calloc(1, sizeof(*s));
    rmq_store_config_copy(&s->conf, conf);
    s->lock_fd = -1;
    pthread_mutex_init(&s->cq_lock, NULL);
    pthread_mutex_init(&s->clean_lock, NULL);
    pthread_mutex_init(&s->dispatch_lock, NULL);
    rmq_store_dispatch_init(s);
    rmq_store_clean_init(s);
    rmq_strmap_init(&s->cq_table);
    rmq_reaper_init(&s->reaper, s->conf.destroyMapedFileIntervalForcibly);
    atomic_init(&s->reput_from, 0);
    atomic_init(&s->stopping, false);
    atomic_init(&s->disk_full, false);
    atomic_init(&s->alloc_nospace, false);
    atomic_init(&s->manual_delete, false);

    rmq_store_config_t *c = &s->conf;
    /* rounded up to whole units, as Java does */
    c->mappedFileSizeConsumeQueue =
        (c->mappedFileSizeConsumeQueue + RMQ_CQ_UNIT_SIZE - 1) / RMQ_CQ_UNIT_SIZE * RMQ_CQ_UNIT_SIZE;
    if (c->mappedFileSizeConsumeQueue < RMQ_CQ_UNIT_SIZE || c->mappedFileSizeCommitLog < 4096) {
        snprintf(errstr, errstr_size, "mappedFileSizeCommitLog / mappedFileSizeConsumeQueue too small");
        goto err;
    }
    s->root = rmq_expand_home(c->storePathRootDir && *c->storePathRootDir ? c->storePathRootDir : "~/store");
    s->cl_dir = c->storePathCommitLog && *c->storePathCommitLog ? rmq_expand_home(c->storePathCommitLog)
                                                                : rmq_asprintf("%s/commitlog", s->root);
    s->cq_dir = rmq_asprintf("%s/consumequeue", s->root);
    s->index_dir = rmq_asprintf("%s/index", s->root);
    s->sync_flush = c->flushDiskType == RMQ_FLUSH_SYNC;
    s->slave = c->brokerRole == RMQ_ROLE_SLAVE;
    s->max_delay_level =
        rmq_store_parse_delay_levels(c->messageDelayLevel, s->delay_ms, RMQ_MAX_DELAY_LEVELS);
    if (s->max_delay_level < 0) {
        snprintf(errstr, errstr_size, "bad messageDelayLevel '%s'", c->messageDelayLevel);
        goto err;
    }
    s->phys_mem = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    if (mkdirs(s->root) || mkdirs(s->cl_dir) || mkdirs(s->cq_dir)) {
        snprintf(errstr, errstr_size, "cannot create the store directories under %s", s->root);
        goto err;
    }
    char *lock_path = rmq_asprintf("%s/lock", s->root);
    s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    /* flock: a second open in this process; fcntl: other processes,
     * including a Java broker (FileChannel.tryLock) */
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0 || fcntl(s->lock_fd, F_SETLK, &fl) != 0) {
        snprintf(errstr, errstr_size, "store %s is locked by another process (or %s unusable: %s)", s->root,
                 lock_path, strerror(errno));
        free(lock_path);
        goto err;
    }
    free(lock_path);

    char *abort_path = rmq_asprintf("%s/abort", s->root);
    s->last_exit_ok = access(abort_path, F_OK) != 0;
    free(abort_path);

    char *ckpt_path = rmq_asprintf("%s/checkpoint", s->root);
    rmq_err_t e = rmq_checkpoint_open(ckpt_path, &s->ckpt);
    free(ckpt_path);
    if (e) {
        snprintf(errstr, errstr_size, "cannot open the checkpoint: %s", rmq_err2str(e));
        goto err;
    }
    s->durable_logics_ts = atomic_load(&s->ckpt->logics_ts);
    char *epoch_path = rmq_asprintf("%s/epoch", s->root);
    e = rmq_epoch_file_open(epoch_path, &s->epochs, errstr, errstr_size);
    free(epoch_path);
    if (e)
        goto err;
    s->alloc = rmq_allocator_new(c->warmMapedFileEnable, !s->sync_flush, quota_cb, s);
    s->cl = rmq_commitlog_new(s);
    s->index = rmq_index_service_new(s->index_dir, c->maxHashSlotNum, c->maxIndexNum, &s->reaper);
    if ((e = rmq_commitlog_load(s->cl))) {
        snprintf(errstr, errstr_size, "cannot load the commit log in %s: %s", s->cl_dir, rmq_err2str(e));
        goto err;
    }
    if ((e = load_consume_queues(s))) {
        snprintf(errstr, errstr_size, "cannot load the consume queues: %s", rmq_err2str(e));
        goto err;
    }
    if ((e = rmq_index_service_load(s->index, s->last_exit_ok, atomic_load(&s->ckpt->index_ts)))) {
        snprintf(errstr, errstr_size, "cannot load the index: %s", rmq_err2str(e));
        goto err;
    }

    /* recovery (docs/protocol.md §5.11) */
    int64_t first_undispatched = INT64_MAX, redispatch_from = INT64_MAX, end;
    int64_t t0 = rmq_mono_ms();
    if (s->last_exit_ok) {
        end = rmq_commitlog_recover_normally(s->cl, &first_undispatched);
    } else {
        rmq_log(RMQ_LOG_WARN, "store", "%s/abort exists: the last shutdown was not clean", s->root);
        end = rmq_commitlog_recover_abnormally(s->cl, rmq_checkpoint_min_ts(s->ckpt), &first_undispatched,
                                               &redispatch_from);
    }
    if (rmq_epoch_file_truncate(s->epochs, end) != RMQ_OK) {
        snprintf(errstr, errstr_size, "cannot rewrite the epoch file");
        goto err;
    }
    size_t ncq;
    rmq_consume_queue_t **cqs = rmq_store_cq_list(s, &ncq);
    int64_t cq_max_phys = -1;
    for (size_t i = 0; i < ncq; i++) {
        rmq_cq_truncate_dirty(cqs[i], end);
        int64_t m = atomic_load(&cqs[i]->max_phys_end);
        if (m > cq_max_phys)
            cq_max_phys = m;
    }
    free(cqs);
    int64_t cl_min = rmq_commitlog_min_offset(s->cl);
    int64_t reput = cq_max_phys >= 0 ? cq_max_phys : cl_min;
    if (first_undispatched < reput)
        reput = first_undispatched;
    if (redispatch_from < reput)
        reput = redispatch_from;
    if (reput < cl_min)
        reput = cl_min;
    if (reput > end)
        reput = end;
    atomic_store(&s->reput_from, reput);
    /* catch up before anyone can write or read */
    int64_t redispatched = 0;
    for (int tries = 0; atomic_load(&s->reput_from) < end && tries < 1000; tries++) {
        int64_t n = rmq_store_dispatch_available(s);
        if (n < 0) {
            snprintf(errstr, errstr_size, "dispatch failed during recovery");
            goto err;
        }
        redispatched += n;
        if (n == 0 && atomic_load(&s->reput_from) < end)
            break;
    }
    s->recovered_records = redispatched;
    cqs = rmq_store_cq_list(s, &ncq);
    for (size_t i = 0; i < ncq; i++) {
        rmq_commitlog_set_queue_offset(s->cl, cqs[i]->topic, cqs[i]->queue_id, rmq_cq_max_offset(cqs[i]));
        rmq_cq_correct_min_offset(cqs[i], cl_min);
    }
    free(cqs);
    /* segments removed by recovery are unlinked now, before the allocator
     * may create files with the same names */
    rmq_reaper_run(&s->reaper, true);
    rmq_store_check_disk(s);
    rmq_log(RMQ_LOG_INFO, "store",
            "store %s opened (%s exit): commit log [%" PRId64 ", %" PRId64 "), %zu queues, %" PRId64
            " records dispatched from %" PRId64 " in %" PRId64 " ms",
            s->root, s->last_exit_ok ? "clean" : "abnormal", cl_min, end, ncq, redispatched, reput,
            rmq_mono_ms() - t0);
    return s;
err:
    rmq_log(RMQ_LOG_ERROR, "store", "open failed: %s", errstr);
    rmq_store_destroy(s);
    return NULL;
}

rmq_err_t rmq_store_start(rmq_store_t *s)
{
    rmq_err_t err;
    if ((err = rmq_allocator_start(s->alloc)))
        return err;
    rmq_commitlog_t *cl = s->cl;
    int64_t max = rmq_commitlog_max_offset(cl);
    int64_t next = (max / cl->file_size + 1) * cl->file_size;
    char *p = rmq_mfq_path(cl->mfq, next);
    rmq_allocator_prefetch(s->alloc, p, next, cl->file_size);
    free(p);
    if (!cl->cur) { /* empty store: prepare the first segment too */
        p = rmq_mfq_path(cl->mfq, max / cl->file_size * cl->file_size);
        rmq_allocator_prefetch(s->alloc, p, max / cl->file_size * cl->file_size, cl->file_size);
        free(p);
    }
    if ((err = rmq_commitlog_start(cl)))
        return err;
    if ((err = rmq_store_dispatch_start(s)))
        return err;
    if ((err = rmq_service_start(s->clean_svc)))
        return err;
    char *abort_path = rmq_asprintf("%s/abort", s->root);
    int fd = open(abort_path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        rmq_log_errno(RMQ_LOG_ERROR, "store", errno, "open(%s) failed", abort_path);
    else
        close(fd);
    free(abort_path);
    s->started = true;
    return fd < 0 ? RMQ_ERR__IO : RMQ_OK;
}

static void free_cq(void *p)
{
    rmq_cq_destroy(p);
}

void rmq_store_destroy(rmq_store_t *s)
{
    if (!s)
        return;
    atomic_store(&s->stopping, true);
    rmq_service_free(s->clean_svc);
    if (s->cl)
        rmq_commitlog_stop(s->cl);  /* final flush, completes waiters */
    rmq_service_free(s->reput_svc); /* dispatches what is left */
    rmq_service_free(s->cqflush_svc);
    s->clean_svc = s->reput_svc = s->cqflush_svc = NULL;
    rmq_allocator_destroy(s->alloc);
    bool caught_up = s->cl && atomic_load(&s->reput_from) >= rmq_commitlog_max_offset(s->cl);
    if (s->ckpt && s->cl && s->index)
        rmq_store_flush_logics(s, true);
    if (s->started && caught_up) {
        char *abort_path = rmq_asprintf("%s/abort", s->root);
        unlink(abort_path);
        free(abort_path);
    }
    rmq_commitlog_destroy(s->cl);
    rmq_strmap_deinit(&s->cq_table, free_cq);
    rmq_index_service_destroy(s->index);
    rmq_checkpoint_close(s->ckpt);
    rmq_reaper_run(&s->reaper, true);
    rmq_reaper_deinit(&s->reaper);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->cq_lock);
    pthread_mutex_destroy(&s->clean_lock);
    pthread_mutex_destroy(&s->dispatch_lock);
    rmq_epoch_file_close(s->epochs);
    rmq_store_config_deinit(&s->conf);
    free(s->root);
    free(s->cl_dir);
    free(s->cq_dir);
    free(s->index_dir);
    free(s);
}

/* ------------------------------------------------------------------- put */

static rmq_put_status_t check_put(rmq_store_t *s, const rmq_store_msg_t *m)
{
    if (atomic_load(&s->stopping) || !s->started || s->slave)
        return RMQ_PUT_SERVICE_NOT_AVAILABLE;
    if (atomic_load(&s->disk_full))
        return RMQ_PUT_SERVICE_NOT_AVAILABLE;
    if (!m->topic || !rmq_topic_valid(m->topic, strlen(m->topic)))
        return RMQ_PUT_MESSAGE_ILLEGAL;
    if (m->body_len > (size_t)s->conf.maxMessageSize || (m->body_len && !m->body))
        return RMQ_PUT_MESSAGE_ILLEGAL;
    if (m->props && m->props_len > RMQ_MSG_MAX_PROPS_LEN)
        return RMQ_PUT_PROPERTIES_SIZE_EXCEEDED;
    if (m->queue_id < 0)
        return RMQ_PUT_MESSAGE_ILLEGAL;
    return RMQ_PUT_OK;
}

static int delay_level_of(const rmq_store_msg_t *m)
{
    const char *v;
    size_t vl;
    if (!m->props || !rmq_msg_props_find(m->props, m->props_len, RMQ_PROP_DELAY, &v, &vl))
        return 0;
    int level = 0;
    for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9' && level < 100000; i++)
        level = level * 10 + (v[i] - '0');
    return level;
}

rmq_put_status_t rmq_store_put_message(rmq_store_t *s, const rmq_store_msg_t *msg, rmq_put_result_t *res,
                                       rmq_store_put_cb_t *cb, void *opaque)
{
    memset(res, 0, sizeof(*res));
    rmq_put_status_t st = check_put(s, msg);
    if (st != RMQ_PUT_OK) {
        res->status = st;
        return st;
    }
    int tran = msg->sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK;
    int level = 0;
    if ((tran == RMQ_SYSFLAG_TRANSACTION_NOT_TYPE || tran == RMQ_SYSFLAG_TRANSACTION_COMMIT) &&
        !msg->delay_delivered)
        level = delay_level_of(msg);
    if (level <= 0 || s->max_delay_level <= 0)
        return rmq_commitlog_put(s->cl, msg, 1, false, res, cb, opaque);

    /* schedule rewrite (docs/protocol.md §6.5): REAL_TOPIC / REAL_QID, SCHEDULE_TOPIC_XXXX, queue level-1 */
    if (level > s->max_delay_level)
        level = s->max_delay_level;
    rmq_buf_t b;
    rmq_buf_init(&b);
    if (msg->props_len) {
        rmq_buf_put(&b, msg->props, msg->props_len);
        if (msg->props[msg->props_len - 1] != RMQ_PROP_PAIR_SEP)
            rmq_buf_putc(&b, RMQ_PROP_PAIR_SEP);
    }
    rmq_buf_printf(&b, "%s\001%s\002%s\001%d", RMQ_PROP_REAL_TOPIC, msg->topic, RMQ_PROP_REAL_QID,
                   msg->queue_id);
    rmq_store_msg_t m = *msg;
    m.topic = RMQ_SCHEDULE_TOPIC;
    m.queue_id = level - 1;
    m.props = (const char *)b.data;
    m.props_len = b.len;
    if (m.props_len > RMQ_MSG_MAX_PROPS_LEN) {
        res->status = st = RMQ_PUT_PROPERTIES_SIZE_EXCEEDED;
    } else {
        st = rmq_commitlog_put(s->cl, &m, 1, false, res, cb, opaque);
    }
    rmq_buf_free(&b);
    return st;
}

rmq_put_status_t rmq_store_put_messages(rmq_store_t *s, const rmq_store_msg_t *msgs, size_t n,
                                        rmq_put_result_t *res, rmq_store_put_cb_t *cb, void *opaque)
{
    memset(res, 0, sizeof(*res));
    rmq_put_status_t st = n ? RMQ_PUT_OK : RMQ_PUT_MESSAGE_ILLEGAL;
    for (size_t i = 0; i < n && st == RMQ_PUT_OK; i++) {
        st = check_put(s, &msgs[i]);
        if (st == RMQ_PUT_OK &&
            (strcmp(msgs[i].topic, msgs[0].topic) != 0 || msgs[i].queue_id != msgs[0].queue_id ||
             (msgs[i].sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK) != 0 || delay_level_of(&msgs[i]) > 0))
            st = RMQ_PUT_MESSAGE_ILLEGAL;
    }
    if (st != RMQ_PUT_OK) {
        res->status = st;
        return st;
    }
    return rmq_commitlog_put(s->cl, msgs, n, true, res, cb, opaque);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    rmq_put_result_t *res;
} waiter_t;

static void wait_cb(void *opaque, const rmq_put_result_t *res)
{
    waiter_t *w = opaque;
    pthread_mutex_lock(&w->lock);
    *w->res = *res;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static rmq_put_status_t put_wait(rmq_store_t *s, const rmq_store_msg_t *msgs, size_t n, bool batch,
                                 rmq_put_result_t *res)
{
    waiter_t w = {.done = false, .res = res};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    rmq_put_result_t tmp;
    rmq_put_status_t st = batch ? rmq_store_put_messages(s, msgs, n, &tmp, wait_cb, &w)
                                : rmq_store_put_message(s, msgs, &tmp, wait_cb, &w);
    pthread_mutex_lock(&w.lock);
    if (tmp.pending) {
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        st = res->status;
    } else {
        *res = tmp;
    }
    pthread_mutex_unlock(&w.lock);
    pthread_mutex_destroy(&w.lock);
    pthread_cond_destroy(&w.cond);
    return st;
}

rmq_put_status_t rmq_store_put_message_wait(rmq_store_t *s, const rmq_store_msg_t *msg, rmq_put_result_t *res)
{
    return put_wait(s, msg, 1, false, res);
}

rmq_put_status_t rmq_store_put_messages_wait(rmq_store_t *s, const rmq_store_msg_t *msgs, size_t n,
                                             rmq_put_result_t *res)
{
    return put_wait(s, msgs, n, true, res);
}

rmq_err_t rmq_store_append_raw(rmq_store_t *s, int64_t offset, const void *data, size_t len)
{
    if (atomic_load(&s->disk_full))
        return RMQ_ERR__DISK_FULL;
    return rmq_commitlog_append_raw(s->cl, offset, data, len);
}

void rmq_store_set_append_cb(rmq_store_t *s, rmq_store_append_cb_t *cb, void *opaque)
{
    atomic_store(&s->append_opaque, opaque);
    atomic_store(&s->append_cb, cb);
}

void rmq_store_published(rmq_store_t *s)
{
    rmq_store_wake_reput(s);
    rmq_store_append_cb_t *cb = atomic_load_explicit(&s->append_cb, memory_order_acquire);
    if (cb)
        cb(atomic_load_explicit(&s->append_opaque, memory_order_relaxed));
}

void rmq_store_set_arrived_cb(rmq_store_t *s, rmq_store_arrived_cb_t *cb, void *opaque)
{
    s->arrived_opaque = opaque;
    s->arrived_cb = cb;
}

/* ----------------------------------------------------------------- reads */

void rmq_store_ref_release(void *pin)
{
    if (pin)
        rmq_mapped_file_release(pin);
}

/* A result's pinned references (the get and query results' msgs/count). */
static void refs_release(rmq_store_ref_t **msgs, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        rmq_store_ref_release((*msgs)[i].pin);
    free(*msgs);
    *msgs = NULL;
    *count = 0;
}

void rmq_store_get_result_release(rmq_get_result_t *res)
{
    refs_release(&res->msgs, &res->count);
}

static bool batch_full(rmq_store_t *s, size_t size, int32_t max_msgs, size_t total, size_t count,
                       bool in_disk)
{
    if (total == 0 || count == 0)
        return false;
    if ((int64_t)max_msgs <= (int64_t)count)
        return true;
    if (in_disk) {
        if (total + size > (size_t)s->conf.maxTransferBytesOnMessageInDisk)
            return true;
        if ((int64_t)count > s->conf.maxTransferCountOnMessageInDisk - 1)
            return true;
    } else {
        if (total + size > (size_t)s->conf.maxTransferBytesOnMessageInMemory)
            return true;
        if ((int64_t)count > s->conf.maxTransferCountOnMessageInMemory - 1)
            return true;
    }
    return false;
}

rmq_get_status_t rmq_store_get_message(rmq_store_t *s, const char *topic, int32_t queue_id, int64_t offset,
                                       int32_t max_msgs, const int64_t *tag_codes, size_t n_tag_codes,
                                       rmq_get_result_t *res)
{
    memset(res, 0, sizeof(*res));
    rmq_get_status_t st = RMQ_GET_NO_MESSAGE_IN_QUEUE;
    int64_t next = offset, min = 0, max = 0;
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    if (!cq) {
        st = RMQ_GET_NO_MATCHED_LOGIC_QUEUE;
        next = 0;
        goto out;
    }
    min = rmq_cq_min_offset(cq);
    max = rmq_cq_max_offset(cq);
    if (max == 0) {
        st = RMQ_GET_NO_MESSAGE_IN_QUEUE;
        next = 0;
    } else if (offset < min) {
        st = RMQ_GET_OFFSET_TOO_SMALL;
        next = min;
    } else if (offset == max) {
        st = RMQ_GET_OFFSET_OVERFLOW_ONE;
        next = offset;
    } else if (offset > max) {
        st = RMQ_GET_OFFSET_OVERFLOW_BADLY;
        next = min == 0 ? min : max;
    } else {
        size_t len;
        rmq_mapped_file_t *cqmf;
        const uint8_t *units = rmq_cq_get_units(cq, offset, &len, &cqmf);
        if (!units) {
            st = RMQ_GET_OFFSET_FOUND_NULL;
            next = rmq_cq_roll_next_file(cq, offset);
            goto out;
        }
        st = RMQ_GET_NO_MATCHED_MESSAGE;
        int64_t cl_max = rmq_commitlog_max_offset(s->cl);
        int64_t mem = s->phys_mem * s->conf.accessMessageInMemoryMaxRatio / 100;
        int64_t next_phy_file_start = INT64_MIN, max_phy_pulling = 0;
        size_t limit = (size_t)(max_msgs > 800 ? max_msgs : 800) * RMQ_CQ_UNIT_SIZE;
        if (limit > len)
            limit = len;
        size_t cap = 16, i;
        res->msgs = rmq_malloc(cap * sizeof(*res->msgs));
        for (i = 0; i + RMQ_CQ_UNIT_SIZE <= limit; i += RMQ_CQ_UNIT_SIZE) {
            int64_t phy = (int64_t)rmq_be64(units + i);
            int32_t size = (int32_t)rmq_be32(units + i + 8);
            int64_t tags = (int64_t)rmq_be64(units + i + 12);
            if (size <= 0)
                break; /* a unit zeroed by a tail cut while we read */
            max_phy_pulling = phy;
            if (size == INT32_MAX)
                continue; /* pre-fill blank */
            if (next_phy_file_start != INT64_MIN && phy < next_phy_file_start)
                continue;
            bool in_disk = cl_max - phy > mem;
            if (batch_full(s, (size_t)size, max_msgs, res->total_bytes, res->count, in_disk))
                break;
            if (n_tag_codes > 0) {
                bool match = false;
                for (size_t k = 0; k < n_tag_codes && !match; k++)
                    match = tag_codes[k] == tags;
                if (!match) {
                    if (res->total_bytes == 0)
                        st = RMQ_GET_NO_MATCHED_MESSAGE;
                    continue;
                }
            }
            rmq_store_ref_t ref;
            if (rmq_commitlog_get(s->cl, phy, size, &ref) != RMQ_OK) {
                if (res->total_bytes == 0)
                    st = RMQ_GET_MESSAGE_WAS_REMOVING;
                next_phy_file_start = rmq_commitlog_roll_next_file(s->cl, phy);
                continue;
            }
            if (res->count == cap) {
                cap *= 2;
                res->msgs = rmq_realloc(res->msgs, cap * sizeof(*res->msgs));
            }
            res->msgs[res->count++] = ref;
            res->total_bytes += ref.len;
            st = RMQ_GET_FOUND;
            next_phy_file_start = INT64_MIN;
        }
        rmq_mapped_file_release(cqmf);
        next = offset + (int64_t)(i / RMQ_CQ_UNIT_SIZE);
        res->suggest_pulling_from_slave = cl_max - max_phy_pulling > mem;
    }
out:
    /* nextOffsetCorrection: a slave keeps the requested offset */
    if (st != RMQ_GET_FOUND && st != RMQ_GET_NO_MATCHED_MESSAGE && st != RMQ_GET_MESSAGE_WAS_REMOVING &&
        s->slave && !s->conf.offsetCheckInSlave)
        next = offset;
    res->status = st;
    res->next_begin_offset = next;
    res->min_offset = min;
    res->max_offset = max;
    return st;
}

int64_t rmq_store_get_max_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id)
{
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    return cq ? rmq_cq_max_offset(cq) : 0;
}

int64_t rmq_store_get_min_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id)
{
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    return cq ? rmq_cq_min_offset(cq) : -1;
}

static int64_t pickup_store_ts(rmq_store_t *s, int64_t phy, int32_t size)
{
    rmq_store_ref_t ref;
    if (rmq_commitlog_get(s->cl, phy, size, &ref) != RMQ_OK)
        return -1;
    int64_t ts = -1;
    if (ref.len >= 91) {
        int32_t sf = (int32_t)rmq_be32(ref.data + RMQ_MSG_POS_SYSFLAG);
        size_t pos = RMQ_MSG_POS_BORN_HOST + ((sf & RMQ_SYSFLAG_BORNHOST_V6) ? 20 : 8);
        ts = (int64_t)rmq_be64(ref.data + pos);
    }
    rmq_store_ref_release(ref.pin);
    return ts;
}

/* The commit-log place of a queue entry; false when there is none. */
static bool queue_unit(rmq_store_t *s, const char *topic, int32_t queue_id, int64_t logic_offset,
                       int64_t *phy, int32_t *size)
{
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    int64_t tags;
    return cq && rmq_cq_get_unit(cq, logic_offset, phy, size, &tags) && *size != INT32_MAX;
}

int64_t rmq_store_get_commitlog_offset_in_queue(rmq_store_t *s, const char *topic, int32_t queue_id,
                                                int64_t logic_offset)
{
    int64_t phy;
    int32_t size;
    return queue_unit(s, topic, queue_id, logic_offset, &phy, &size) ? phy : -1;
}

int64_t rmq_store_get_offset_by_time(rmq_store_t *s, const char *topic, int32_t queue_id, int64_t timestamp)
{
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    if (!cq)
        return 0;
    int64_t lo = rmq_cq_min_offset(cq), hi = rmq_cq_max_offset(cq) - 1;
    if (hi < lo)
        return 0;
    int64_t left = -1, right = -1, left_ts = 0, right_ts = 0;
    int64_t a = lo, b = hi;
    while (a <= b) {
        int64_t mid = a + (b - a) / 2;
        int64_t phy, tags;
        int32_t size;
        int64_t ts = -1;
        if (rmq_cq_get_unit(cq, mid, &phy, &size, &tags) && size != INT32_MAX)
            ts = pickup_store_ts(s, phy, size);
        if (ts < 0) { /* data gone: search above it */
            a = mid + 1;
            continue;
        }
        if (ts == timestamp) {
            /* the first of equal timestamps */
            right = mid;
            right_ts = ts;
            b = mid - 1;
            left = -1;
            continue;
        }
        if (ts < timestamp) {
            left = mid;
            left_ts = ts;
            a = mid + 1;
        } else {
            right = mid;
            right_ts = ts;
            b = mid - 1;
        }
    }
    if (right >= 0 && right_ts == timestamp)
        return right;
    if (left < 0 && right >= 0)
        return right;
    if (right < 0 && left >= 0)
        return left;
    if (left < 0 && right < 0)
        return 0;
    return (timestamp - left_ts > right_ts - timestamp) ? right : left;
}

int64_t rmq_store_get_earliest_msg_store_time(rmq_store_t *s, const char *topic, int32_t queue_id)
{
    rmq_consume_queue_t *cq = rmq_store_find_cq(s, topic, strlen(topic), queue_id, false);
    if (!cq)
        return -1;
    int64_t phy, tags;
    int32_t size;
    int64_t min = rmq_cq_min_offset(cq), max = rmq_cq_max_offset(cq);
    for (int64_t o = min; o < max && o < min + 64; o++) {
        if (rmq_cq_get_unit(cq, o, &phy, &size, &tags) && size != INT32_MAX)
            return pickup_store_ts(s, phy, size);
    }
    return -1;
}

int64_t rmq_store_get_msg_store_time(rmq_store_t *s, const char *topic, int32_t queue_id,
                                     int64_t logic_offset)
{
    int64_t phy;
    int32_t size;
    return queue_unit(s, topic, queue_id, logic_offset, &phy, &size) ? pickup_store_ts(s, phy, size) : -1;
}

int64_t rmq_store_get_earliest_store_time(rmq_store_t *s)
{
    int64_t min = rmq_commitlog_min_offset(s->cl);
    if (min >= rmq_commitlog_max_offset(s->cl))
        return -1;
    return pickup_store_ts(s, min, 0);
}

rmq_err_t rmq_store_get_message_by_offset(rmq_store_t *s, int64_t commitlog_offset, rmq_store_ref_t *ref)
{
    return rmq_commitlog_get(s->cl, commitlog_offset, 0, ref);
}

int64_t rmq_store_get_commitlog_min_offset(rmq_store_t *s)
{
    return rmq_commitlog_min_offset(s->cl);
}
int64_t rmq_store_get_commitlog_max_offset(rmq_store_t *s)
{
    return rmq_commitlog_max_offset(s->cl);
}
int64_t rmq_store_get_dispatched_offset(rmq_store_t *s)
{
    return atomic_load(&s->reput_from);
}

bool rmq_store_is_sync_flush(const rmq_store_t *s)
{
    return s->sync_flush;
}

bool rmq_store_is_slave(const rmq_store_t *s)
{
    return s->slave;
}

void rmq_store_set_slave(rmq_store_t *s, bool slave)
{
    s->slave = slave;
}
int64_t rmq_store_get_flushed_offset(rmq_store_t *s)
{
    return atomic_load(&s->cl->flushed_offset);
}
bool rmq_store_is_disk_full(rmq_store_t *s)
{
    return atomic_load(&s->disk_full);
}

rmq_err_t rmq_store_query_message(rmq_store_t *s, const char *topic, const char *key, int32_t max_num,
                                  int64_t begin_ts, int64_t end_ts, rmq_query_result_t *res)
{
    memset(res, 0, sizeof(*res));
    if (max_num <= 0 || max_num > s->conf.maxMsgsNumBatch)
        max_num = s->conf.maxMsgsNumBatch;
    int64_t *offs;
    size_t n;
    rmq_err_t err =
        rmq_index_service_query(s->index, topic, key, max_num, begin_ts, end_ts, &offs, &n,
                                &res->index_last_update_timestamp, &res->index_last_update_phyoffset);
    if (err)
        return err;
    res->msgs = rmq_malloc((n + 1) * sizeof(*res->msgs));
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && offs[i] == offs[i - 1])
            continue; /* KEYS and UNIQ_KEY may both point at one record */
        rmq_store_ref_t ref;
        if (rmq_commitlog_get(s->cl, offs[i], 0, &ref) == RMQ_OK)
            res->msgs[res->count++] = ref;
    }
    free(offs);
    return RMQ_OK;
}

void rmq_store_query_result_release(rmq_query_result_t *res)
{
    refs_release(&res->msgs, &res->count);
}

void rmq_store_execute_delete_files_manually(rmq_store_t *s)
{
    atomic_store(&s->manual_delete, true);
}

bool rmq_store_wait_dispatched(rmq_store_t *s, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    while (atomic_load(&s->reput_from) < rmq_commitlog_max_offset(s->cl)) {
        if (rmq_mono_ms() >= deadline)
            return false;
        usleep(1000);
    }
    return true;
}

int64_t rmq_store_delay_level_ms(rmq_store_t *s, int level)
{
    return level >= 1 && level <= s->max_delay_level ? s->delay_ms[level] : -1;
}

int rmq_store_max_delay_level(rmq_store_t *s)
{
    return s->max_delay_level;
}

void rmq_store_test_fail_flushes(rmq_store_t *s, int n)
{
    atomic_store(&s->cl->mfq->fail_flushes, n);
}

void rmq_store_get_stats(rmq_store_t *s, rmq_store_stats_t *st)
{
    st->commitlog_flushes = atomic_load(&s->cl->stat_flushes);
    st->put_messages = atomic_load(&s->cl->stat_msgs);
    st->put_calls = atomic_load(&s->cl->stat_puts);
    st->recovered_from = s->cl->recovered_from;
    st->recovered_records = s->recovered_records;
    for (int i = 0; i < RMQ_STORE_GC_BUCKETS; i++)
        st->gc_batches[i] = atomic_load_explicit(&s->cl->stat_gc[i], memory_order_relaxed);
    st->gc_batch_sum = atomic_load_explicit(&s->cl->stat_gc_sum, memory_order_relaxed);
    st->gc_batch_count = atomic_load_explicit(&s->cl->stat_gc_count, memory_order_relaxed);
    st->commitlog_synced_to = atomic_load(&s->cl->mfq->synced_to);
    st->sync_acks_before_flush = atomic_load(&s->cl->stat_early_acks);
}

void rmq_store_test_stall_flushes(rmq_store_t *s, int ms)
{
    atomic_store(&s->cl->test_stall_ms, ms);
}

bool rmq_store_test_flush_stalled(rmq_store_t *s)
{
    return atomic_load(&s->cl->test_stalled);
}

rmq_mapped_file_t *rmq_store_written_at(rmq_store_t *s, int64_t offset, int64_t *pos, int64_t *wrote)
{
    rmq_mapped_file_t *mf = rmq_mfq_find_hold(s->cl->mfq, offset);
    if (!mf)
        return NULL;
    *pos = offset - mf->from;
    *wrote = atomic_load_explicit(&mf->wrote, memory_order_acquire);
    if (*pos >= *wrote) {
        rmq_mapped_file_release(mf);
        return NULL;
    }
    return mf;
}

rmq_err_t rmq_store_get_commitlog_data(rmq_store_t *s, int64_t offset, rmq_store_ref_t *ref)
{
    memset(ref, 0, sizeof(*ref));
    int64_t pos, wrote;
    rmq_mapped_file_t *mf = rmq_store_written_at(s, offset, &pos, &wrote);
    if (!mf)
        return RMQ_ERR__NOENT;
    ref->data = mf->base + pos;
    ref->len = (size_t)(wrote - pos);
    ref->offset = offset;
    ref->pin = mf;
    return RMQ_OK;
}

void rmq_store_batch_msg_ids(const rmq_store_msg_t *msgs, size_t n, const rmq_put_result_t *res,
                             rmq_buf_t *out)
{
    int64_t off = res->wrote_offset;
    char id[RMQ_MSG_ID_MAX];
    for (size_t i = 0; i < n; i++) {
        const rmq_store_msg_t *m = &msgs[i];
        if (i > 0)
            rmq_buf_putc(out, ',');
        size_t l = rmq_msg_id_create(id, &m->store_host, off);
        rmq_buf_put(out, id, l);
        off += (int64_t)rmq_msg_rec_size(m->born_host.v6, m->store_host.v6, m->body_len, strlen(m->topic),
                                         m->props ? m->props_len : 0);
    }
}
