/* snapshot.c - atomic snapshot files (header, CRC, .bak) written through the
 * kit's file writer.
 * Owns: the on-disk form of broker metadata (not its content).
 * Threads: rmq_snapshot_write runs on the "SnapWriter" thread (or on main at
 * start-up/shutdown); submissions come from the I/O thread.
 * Never: called with fsync from an event callback - the I/O thread only
 * hands buffers over. */
#include "meta/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_file.h"
#include "rmq_log.h"

#define SNAP_MAGIC "CMSP"
#define SNAP_VERSION 1
#define SNAP_HDR 16

static rmq_err_t read_one(const char *path, uint8_t **payload, size_t *len, const char **why);

rmq_err_t rmq_snapshot_write(const char *path, const void *payload, size_t len)
{
    uint8_t hdr[SNAP_HDR];
    memcpy(hdr, SNAP_MAGIC, 4);
    rmq_wbe32(hdr + 4, SNAP_VERSION);
    rmq_wbe32(hdr + 8, (uint32_t)len);
    rmq_wbe32(hdr + 12, (uint32_t)crc32(0L, payload, (uInt)len));
    /* Keep the previous good file as .bak (a hard link keeps `path` in place
     * for readers until the atomic rename replaces it). A current file that
     * is itself torn or corrupt does not replace a good .bak. */
    uint8_t *old = NULL;
    size_t old_len = 0;
    const char *why;
    if (read_one(path, &old, &old_len, &why) == RMQ_OK) {
        free(old);
        char *bak = rmq_asprintf("%s.bak", path);
        unlink(bak);
        if (link(path, bak) != 0)
            rmq_log_errno(RMQ_LOG_WARN, "snapshot", errno, "link(%s, %s) failed", path, bak);
        free(bak);
    }
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)payload, len}};
    return rmq_file_write_atomicv(path, iov, 2);
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

static char *path_of(const char *dir, const char *stem, const char *ext)
{
    return rmq_asprintf("%s/%s.%s", dir, stem, ext);
}

void rmq_meta_load(const char *dir, const rmq_meta_table_t *t)
{
    char *path = path_of(dir, t->ops->name, "msgpack");
    uint8_t *data = NULL;
    size_t len = 0;
    rmq_err_t r = rmq_snapshot_read(path, &data, &len);
    if (r == RMQ_OK) {
        if (t->ops->unpack(t->obj, data, len) != RMQ_OK)
            rmq_log(RMQ_LOG_ERROR, "snapshot", "snapshot %s does not decode; starting from defaults", path);
        free(data);
        free(path);
        return;
    }
    if (r == RMQ_ERR__CORRUPT)
        rmq_log(RMQ_LOG_ERROR, "snapshot", "no usable snapshot for %s; starting from defaults", path);
    free(path);
    path = path_of(dir, t->ops->name, "json");
    char *text = NULL;
    if (rmq_file_read_all(path, &text, &len) == RMQ_OK) {
        if (t->ops->import_json(t->obj, text, len) == RMQ_OK)
            rmq_log(RMQ_LOG_INFO, "snapshot", "imported RocketMQ %s", path);
        else
            rmq_log(RMQ_LOG_ERROR, "snapshot", "%s does not decode; not imported", path);
        free(text);
    }
    free(path);
}

uint64_t rmq_meta_persist(const char *dir, rmq_file_writer_t *w, const rmq_meta_table_t *t)
{
    uint64_t gen = 0;
    rmq_buf_t b;
    rmq_buf_init(&b);
    t->ops->pack(t->obj, &b);
    if (t->ops->persisted)
        t->ops->persisted(t->obj);
    char *path = path_of(dir, t->ops->name, "msgpack");
    size_t len = b.len;
    uint8_t *data = rmq_buf_detach(&b, NULL);
    if (w) {
        gen = rmq_file_writer_submit(w, path, data, len);
    } else {
        rmq_snapshot_write(path, data, len);
        free(data);
    }
    free(path);
    return gen;
}

rmq_file_writer_t *rmq_snapshot_writer_start(void)
{
    return rmq_file_writer_start("SnapWriter", rmq_snapshot_write);
}

static int buf_write(void *data, const char *p, size_t n)
{
    rmq_buf_put((rmq_buf_t *)data, p, n);
    return 0;
}

void rmq_mp_packer_init(msgpack_packer *pk, rmq_buf_t *out)
{
    msgpack_packer_init(pk, out, buf_write);
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
