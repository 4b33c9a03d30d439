/* topic_journal.c - the topic table's change journal (two files taking
 * turns; see topic_journal.h for the format and the guarantee).
 * Owns: the two file descriptors, the active one's end offset and epoch.
 * Thread: io (appends, switches); main at start-up (open, replay, reset).
 * Never: fsyncs - an append is one pwrite() into the page cache. */
#include "meta/topic_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_file.h"
#include "rmq_log.h"

#define J_MAGIC "CTJ1"
#define J_HDR 16
#define J_REC_HDR 8
#define J_MAX_REC (64 * 1024)

struct rmq_topic_journal_s {
    int fd[2];
    char *path[2];
    int active;
    uint64_t epoch; /* of the active file */
    off_t end;      /* the active file's good length */
    size_t pending; /* records in the active file */
};

static int buf_write(void *data, const char *p, size_t n)
{
    rmq_buf_put((rmq_buf_t *)data, p, n);
    return 0;
}

/* Write all of p at off; false (errno set) on failure. */
static bool pwrite_all(int fd, const void *p, size_t n, off_t off)
{
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        c += w;
        n -= (size_t)w;
        off += w;
    }
    return true;
}

/* Read one file: its epoch (false if no valid header) and its records
 * applied to m when m is not NULL. */
static bool replay_file(const char *path, uint64_t *epoch, rmq_topic_mgr_t *m, size_t *applied)
{
    char *data = NULL;
    size_t len = 0;
    if (rmq_file_read_all(path, &data, &len) != RMQ_OK)
        return false;
    const uint8_t *p = (const uint8_t *)data;
    if (len < J_HDR || memcmp(p, J_MAGIC, 4) != 0) {
        if (len > 0)
            rmq_log(RMQ_LOG_WARN, "broker", "topic journal %s has no valid header; ignored", path);
        free(data);
        return false;
    }
    *epoch = rmq_be64(p + 4);
    if (!m) {
        free(data);
        return true;
    }
    size_t off = J_HDR;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    while (off + J_REC_HDR <= len) {
        uint32_t n = rmq_be32(p + off), crc = rmq_be32(p + off + 4);
        if (n == 0 || n > J_MAX_REC || off + J_REC_HDR + n > len ||
            (uint32_t)crc32(0L, p + off + J_REC_HDR, n) != crc)
            break;
        size_t mo = 0;
        const msgpack_object *a = &u.data;
        if (msgpack_unpack_next(&u, (const char *)p + off + J_REC_HDR, n, &mo) != MSGPACK_UNPACK_SUCCESS ||
            a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size < 8 ||
            a->via.array.ptr[1].type != MSGPACK_OBJECT_BOOLEAN ||
            a->via.array.ptr[7].type != MSGPACK_OBJECT_BOOLEAN)
            break;
        const msgpack_object *e = a->via.array.ptr;
        int64_t rq, wq, perm, ft, sf;
        char *name = rmq_mp_strdup(&e[0]);
        if (!name || !rmq_mp_i64(&e[2], &rq) || !rmq_mp_i64(&e[3], &wq) || !rmq_mp_i64(&e[4], &perm) ||
            !rmq_mp_i64(&e[5], &ft) || !rmq_mp_i64(&e[6], &sf)) {
            free(name);
            break;
        }
        if (e[1].via.boolean) {
            rmq_topic_config_t tc = {name,        (int32_t)rq, (int32_t)wq,     (int32_t)perm,
                                     (int32_t)ft, (int32_t)sf, e[7].via.boolean};
            rmq_topic_put(m, &tc);
        } else {
            rmq_topic_del(m, name);
        }
        free(name);
        (*applied)++;
        off += J_REC_HDR + n;
    }
    msgpack_unpacked_destroy(&u);
    if (off < len)
        rmq_log(RMQ_LOG_WARN, "broker",
                "topic journal %s: %zu bytes after offset %zu are torn or corrupt; ignored", path, len - off,
                off);
    free(data);
    return true;
}

rmq_topic_journal_t *rmq_topic_journal_open(const char *dir, rmq_topic_mgr_t *m, size_t *applied, char *err,
                                            size_t errsize)
{
    rmq_topic_journal_t *j = rmq_calloc(1, sizeof(*j));
    j->fd[0] = j->fd[1] = -1;
    *applied = 0;
    uint64_t ep[2] = {0, 0};
    bool ok[2];
    for (int i = 0; i < 2; i++) {
        j->path[i] = rmq_asprintf("%s/topics.journal.%d", dir, i);
        ok[i] = replay_file(j->path[i], &ep[i], NULL, NULL);
    }
    /* older epoch first: the newer file holds the later changes */
    int first = ok[0] && ok[1] ? (ep[0] <= ep[1] ? 0 : 1) : (ok[0] ? 0 : 1);
    for (int k = 0; k < 2; k++) {
        int i = k == 0 ? first : 1 - first;
        if (ok[i])
            replay_file(j->path[i], &ep[i], m, applied);
    }
    j->epoch = (ep[0] > ep[1] ? ep[0] : ep[1]) + 1;
    for (int i = 0; i < 2; i++) {
        j->fd[i] = open(j->path[i], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (j->fd[i] < 0) {
            snprintf(err, errsize, "cannot open %s: %s", j->path[i], strerror(errno));
            rmq_topic_journal_close(j);
            return NULL;
        }
    }
    j->active = -1; /* nothing is appended before rmq_topic_journal_reset */
    return j;
}

/* Empty file i and give it the header of epoch. */
static rmq_err_t start_file(rmq_topic_journal_t *j, int i, uint64_t epoch)
{
    uint8_t hdr[J_HDR] = {0};
    memcpy(hdr, J_MAGIC, 4);
    rmq_wbe64(hdr + 4, epoch);
    if (ftruncate(j->fd[i], 0) != 0 || !pwrite_all(j->fd[i], hdr, sizeof(hdr), 0)) {
        rmq_log_errno(RMQ_LOG_ERROR, "broker", errno, "topic journal %s: cannot start it", j->path[i]);
        return RMQ_ERR__IO;
    }
    j->active = i;
    j->epoch = epoch;
    j->end = J_HDR;
    j->pending = 0;
    return RMQ_OK;
}

rmq_err_t rmq_topic_journal_reset(rmq_topic_journal_t *j)
{
    if (ftruncate(j->fd[1], 0) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "broker", errno, "topic journal %s: cannot empty it", j->path[1]);
        return RMQ_ERR__IO;
    }
    return start_file(j, 0, j->epoch + 1);
}

rmq_err_t rmq_topic_journal_switch(rmq_topic_journal_t *j)
{
    int next = j->active < 0 ? 0 : 1 - j->active;
    return start_file(j, next, j->epoch + 1);
}

size_t rmq_topic_journal_pending(const rmq_topic_journal_t *j)
{
    return j->pending;
}

static void pack_record(rmq_buf_t *out, const char *name, const rmq_topic_config_t *tc)
{
    size_t at = out->len;
    uint8_t hdr[J_REC_HDR] = {0};
    rmq_buf_put(out, hdr, sizeof(hdr));
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 8);
    rmq_mp_pack_str(&pk, name);
    if (tc)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_int32(&pk, tc ? tc->read_queues : 0);
    msgpack_pack_int32(&pk, tc ? tc->write_queues : 0);
    msgpack_pack_int32(&pk, tc ? tc->perm : 0);
    msgpack_pack_int32(&pk, tc ? tc->filter_type : 0);
    msgpack_pack_int32(&pk, tc ? tc->sys_flag : 0);
    if (tc && tc->order)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    uint8_t *p = (uint8_t *)out->data + at;
    uint32_t n = (uint32_t)(out->len - at - J_REC_HDR);
    rmq_wbe32(p, n);
    rmq_wbe32(p + 4, (uint32_t)crc32(0L, p + J_REC_HDR, n));
}

rmq_err_t rmq_topic_journal_append(rmq_topic_journal_t *j, const rmq_topic_mgr_t *m)
{
    if (rmq_map_count(&m->changed) == 0)
        return RMQ_OK;
    if (j->active < 0)
        return RMQ_ERR__IO; /* never started (reset failed) */
    rmq_buf_t out;
    rmq_buf_init(&out);
    size_t n = 0;
    const char *name;
    for (size_t it = 0; rmq_map_next(&m->changed, &it, &name, NULL);) {
        pack_record(&out, name, rmq_map_get(&m->map, name));
        n++;
    }
    rmq_err_t r = RMQ_OK;
    if (pwrite_all(j->fd[j->active], out.data, out.len, j->end)) {
        j->end += (off_t)out.len;
        j->pending += n;
    } else {
        rmq_log_errno(RMQ_LOG_ERROR, "broker", errno, "topic journal %s: append failed", j->path[j->active]);
        /* cut a partial record so later appends stay readable */
        if (ftruncate(j->fd[j->active], j->end) != 0)
            rmq_log_errno(RMQ_LOG_ERROR, "broker", errno, "topic journal %s: truncate failed",
                          j->path[j->active]);
        r = RMQ_ERR__IO;
    }
    rmq_buf_free(&out);
    return r;
}

void rmq_topic_journal_close(rmq_topic_journal_t *j)
{
    if (!j)
        return;
    for (int i = 0; i < 2; i++) {
        if (j->fd[i] >= 0)
            close(j->fd[i]);
        free(j->path[i]);
    }
    free(j);
}
