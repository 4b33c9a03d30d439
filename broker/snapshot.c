/* snapshot.c - atomic snapshot files and their writer thread.
 * Owns: the on-disk form of broker metadata (not its content).
 * Threads: rmq_snapshot_write runs on the "SnapWriter" thread (or on main at
 * start-up/shutdown); submit is called from the I/O thread.
 * Never: called with fsync from an event callback - the I/O thread only
 * hands buffers over. */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_conf.h"
#include "rmq_log.h"

#define SNAP_MAGIC "CMSP"
#define SNAP_VERSION 1
#define SNAP_HDR 16

static bool write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static void fsync_dir(const char *path)
{
    char *d = rmq_strdup(path);
    int fd = open(dirname(d), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(d);
}

static rmq_err_t read_one(const char *path, uint8_t **payload, size_t *len, const char **why);

rmq_err_t rmq_snapshot_write(const char *path, const void *payload, size_t len)
{
    char tmp[4096], bak[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(bak, sizeof(bak), "%s.bak", path);
    uint8_t hdr[SNAP_HDR];
    memcpy(hdr, SNAP_MAGIC, 4);
    rmq_wbe32(hdr + 4, SNAP_VERSION);
    rmq_wbe32(hdr + 8, (uint32_t)len);
    rmq_wbe32(hdr + 12, (uint32_t)crc32(0L, payload, (uInt)len));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "snapshot", errno, "open(%s) failed", tmp);
        return RMQ_ERR__IO;
    }
    if (!write_all(fd, hdr, sizeof(hdr)) || !write_all(fd, payload, len)) {
        rmq_log_errno(RMQ_LOG_ERROR, "snapshot", errno, "write(%s) failed", tmp);
        close(fd);
        unlink(tmp);
        return RMQ_ERR__IO;
    }
    if (fsync(fd) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "snapshot", errno, "fsync(%s) failed", tmp);
        close(fd);
        unlink(tmp);
        return RMQ_ERR__IO;
    }
    close(fd);
    /* Keep the previous good file as .bak (a hard link keeps `path` in place
     * for readers until the rename below replaces it atomically). A current
     * file that is itself torn or corrupt does not replace a good .bak. */
    uint8_t *old = NULL;
    size_t old_len = 0;
    const char *why;
    if (read_one(path, &old, &old_len, &why) == RMQ_OK) {
        free(old);
        unlink(bak);
        if (link(path, bak) != 0)
            rmq_log_errno(RMQ_LOG_WARN, "snapshot", errno, "link(%s, %s) failed", path, bak);
    }
    if (rename(tmp, path) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "snapshot", errno, "rename(%s, %s) failed", tmp, path);
        unlink(tmp);
        return RMQ_ERR__IO;
    }
    fsync_dir(path);
    return RMQ_OK;
}

static rmq_err_t read_one(const char *path, uint8_t **payload, size_t *len, const char **why)
{
    char *data = NULL;
    size_t n = 0;
    *why = NULL;
    if (access(path, F_OK) != 0)
        return RMQ_ERR__NOENT;
    if (rmq_file_read_all(path, &data, &n) != RMQ_OK) {
        *why = "unreadable";
        return RMQ_ERR__IO;
    }
    const uint8_t *p = (const uint8_t *)data;
    if (n < SNAP_HDR || memcmp(p, SNAP_MAGIC, 4) != 0) {
        *why = "bad header (torn or not a snapshot)";
        goto bad;
    }
    if (rmq_be32(p + 4) != SNAP_VERSION) {
        *why = "unknown version";
        goto bad;
    }
    size_t plen = rmq_be32(p + 8);
    if (plen != n - SNAP_HDR) {
        *why = "length mismatch (torn write)";
        goto bad;
    }
    if ((uint32_t)crc32(0L, p + SNAP_HDR, (uInt)plen) != rmq_be32(p + 12)) {
        *why = "checksum mismatch";
        goto bad;
    }
    *payload = rmq_malloc(plen ? plen : 1);
    memcpy(*payload, p + SNAP_HDR, plen);
    *len = plen;
    free(data);
    return RMQ_OK;
bad:
    free(data);
    return RMQ_ERR__CORRUPT;
}

rmq_err_t rmq_snapshot_read(const char *path, uint8_t **payload, size_t *len)
{
    const char *why;
    rmq_err_t r = read_one(path, payload, len, &why);
    if (r == RMQ_OK)
        return r;
    if (r != RMQ_ERR__NOENT)
        rmq_log(RMQ_LOG_ERROR, "snapshot", "snapshot %s is corrupt: %s; trying the previous one", path,
                why ? why : "?");
    char bak[4096];
    snprintf(bak, sizeof(bak), "%s.bak", path);
    rmq_err_t r2 = read_one(bak, payload, len, &why);
    if (r2 == RMQ_OK) {
        if (r != RMQ_ERR__NOENT)
            rmq_log(RMQ_LOG_WARN, "snapshot", "using previous good snapshot %s", bak);
        return RMQ_OK;
    }
    if (r2 != RMQ_ERR__NOENT)
        rmq_log(RMQ_LOG_ERROR, "snapshot", "snapshot %s is corrupt too: %s", bak, why ? why : "?");
    if (r == RMQ_ERR__NOENT && r2 == RMQ_ERR__NOENT)
        return RMQ_ERR__NOENT;
    return RMQ_ERR__CORRUPT;
}

/* ---- writer thread ---- */

typedef struct job_s {
    char *path;
    uint8_t *data;
    size_t len;
    struct job_s *next;
} job_t;

struct rmq_snapshot_writer_s {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job_t *head;
    bool stop;
};

static void *writer_main(void *arg)
{
    rmq_snapshot_writer_t *w = arg;
    rmq_log_set_thread_name("SnapWriter");
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head && w->stop)
            break;
        job_t *j = w->head;
        w->head = j->next;
        pthread_mutex_unlock(&w->mu);
        rmq_snapshot_write(j->path, j->data, j->len);
        free(j->path);
        free(j->data);
        free(j);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

rmq_snapshot_writer_t *rmq_snapshot_writer_start(void)
{
    rmq_snapshot_writer_t *w = rmq_calloc(1, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

void rmq_snapshot_writer_submit(rmq_snapshot_writer_t *w, const char *path, uint8_t *data, size_t len)
{
    pthread_mutex_lock(&w->mu);
    job_t **pp = &w->head;
    for (; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->path, path) == 0) {
            free((*pp)->data);
            (*pp)->data = data;
            (*pp)->len = len;
            pthread_mutex_unlock(&w->mu);
            return;
        }
    job_t *j = rmq_calloc(1, sizeof(*j));
    j->path = rmq_strdup(path);
    j->data = data;
    j->len = len;
    *pp = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void rmq_snapshot_writer_stop(rmq_snapshot_writer_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void rmq_mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

bool rmq_mp_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *out = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
        return true;
    }
    return false;
}

char *rmq_mp_strdup(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return NULL;
    return rmq_strndup(o->via.str.ptr, o->via.str.size);
}
