/* snapshot.h - atomic metadata files (topics, subscription groups, consumer
 * offsets) and the background thread that writes them.
 *
 * File = 16-byte header ("CMSP", u32 version, u32 payload length, u32
 * crc32(payload)) + msgpack payload. The previous good file is linked to
 * path.bak, then the new one is written atomically (rmq_file_write_atomic:
 * temp file, fsync, rename, directory fsync).
 * Reading verifies the header and CRC and falls back to path.bak. */
#ifndef RMQ_SNAPSHOT_H
#define RMQ_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_file_writer.h"

/* Write payload atomically (blocking: fsync). @thread any but never an
 * event-loop callback. */
rmq_err_t rmq_snapshot_write(const char *path, const void *payload, size_t len);
/* Read a snapshot: the payload of path, or of path.bak when path is missing,
 * torn or corrupt (reported at WARN/ERROR). RMQ_ERR__NOENT if neither exists,
 * RMQ_ERR__CORRUPT if both are bad. *payload is malloc'd. */
rmq_err_t rmq_snapshot_read(const char *path, uint8_t **payload, size_t *len);

/* ---- metadata tables ---- */

/* What every persisted metadata table provides. The table is `obj`; the
 * functions run on the I/O thread (or on main before the loop starts).
 * name: the file stem in <storePathRootDir>/config: <name>.msgpack is the
 * snapshot, <name>.json RocketMQ's file, imported when no snapshot exists. */
typedef struct rmq_meta_ops_s {
    const char *name;
    void (*pack)(void *obj, rmq_buf_t *out);
    rmq_err_t (*unpack)(void *obj, const uint8_t *p, size_t len);
    rmq_err_t (*import_json)(void *obj, const char *text, size_t len);
    /* NULL or: the packed state is on its way to disk (clear a dirty flag) */
    void (*persisted)(void *obj);
} rmq_meta_ops_t;

/* Defines `const rmq_meta_ops_t var` for a table type whose functions take
 * a TYPE * (the adapters to void * are generated). */
#define RMQ_META_OPS(var, stem, TYPE, pack_fn, unpack_fn, import_fn, persisted_fn)                           \
    static void var##_pack(void *o, rmq_buf_t *out)                                                          \
    {                                                                                                        \
        pack_fn((TYPE *)o, out);                                                                             \
    }                                                                                                        \
    static rmq_err_t var##_unpack(void *o, const uint8_t *p, size_t n)                                       \
    {                                                                                                        \
        return unpack_fn((TYPE *)o, p, n);                                                                   \
    }                                                                                                        \
    static rmq_err_t var##_import(void *o, const char *t, size_t n)                                          \
    {                                                                                                        \
        return import_fn((TYPE *)o, t, n);                                                                   \
    }                                                                                                        \
    const rmq_meta_ops_t var = {stem, var##_pack, var##_unpack, var##_import, persisted_fn}

typedef struct rmq_meta_table_s {
    const rmq_meta_ops_t *ops;
    void *obj;
} rmq_meta_table_t;

/* Fill t from dir: the snapshot, else RocketMQ's JSON (imported once), else
 * nothing (defaults). Problems are logged, never fatal. */
void rmq_meta_load(const char *dir, const rmq_meta_table_t *t);
/* Pack t and write it: through w (the writer thread) when not NULL, else
 * now (blocking: start-up and shutdown only). Returns the writer's
 * submission number (rmq_file_writer_poll), 0 when written now. */
uint64_t rmq_meta_persist(const char *dir, rmq_file_writer_t *w, const rmq_meta_table_t *t);

/* The "SnapWriter" thread: a kit file writer (rmq_file_writer.h) whose
 * write function is rmq_snapshot_write. Submit with rmq_file_writer_submit,
 * stop with rmq_file_writer_stop. */
rmq_file_writer_t *rmq_snapshot_writer_start(void);

/* msgpack helpers shared by the metadata tables (any thread, pure). */
/* A packer that appends to out. */
void rmq_mp_packer_init(msgpack_packer *pk, rmq_buf_t *out);
void rmq_mp_pack_str(msgpack_packer *pk, const char *s);
/* An integer object (either sign) into *out; false for any other type. */
bool rmq_mp_i64(const msgpack_object *o, int64_t *out);
/* A new NUL-terminated copy of a string object; NULL for any other type. */
char *rmq_mp_strdup(const msgpack_object *o);

#endif
