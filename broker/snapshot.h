/* snapshot.h - atomic metadata files (topics, subscription groups, consumer
 * offsets) and the background thread that writes them.
 *
 * File = 16-byte header ("CMSP", u32 version, u32 payload length, u32
 * crc32(payload)) + msgpack payload. Written as path.tmp, fsync'd, the old
 * file moved to path.bak, path.tmp renamed over path, directory fsync'd.
 * Reading verifies the header and CRC and falls back to path.bak. */
#ifndef RMQ_SNAPSHOT_H
#define RMQ_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "rmq_err.h"

typedef struct rmq_snapshot_writer_s rmq_snapshot_writer_t;

/* Write payload atomically (blocking: fsync). @thread any but never an
 * event-loop callback. */
rmq_err_t rmq_snapshot_write(const char *path, const void *payload, size_t len);
/* Read a snapshot: the payload of path, or of path.bak when path is missing,
 * torn or corrupt (reported at WARN/ERROR). RMQ_ERR__NOENT if neither exists,
 * RMQ_ERR__CORRUPT if both are bad. *payload is malloc'd. */
rmq_err_t rmq_snapshot_read(const char *path, uint8_t **payload, size_t *len);

/* Background writer: queue a payload for path (ownership of data passes to
 * the writer; a newer payload for the same path replaces an unwritten one).
 * @thread any. */
rmq_snapshot_writer_t *rmq_snapshot_writer_start(void);
void rmq_snapshot_writer_submit(rmq_snapshot_writer_t *w, const char *path, uint8_t *data, size_t len);
/* Write what is queued, stop the thread, free. NULL ok. */
void rmq_snapshot_writer_stop(rmq_snapshot_writer_t *w);

/* msgpack helpers shared by the metadata tables (any thread, pure). */
void rmq_mp_pack_str(msgpack_packer *pk, const char *s);
/* An integer object (either sign) into *out; false for any other type. */
bool rmq_mp_i64(const msgpack_object *o, int64_t *out);
/* A new NUL-terminated copy of a string object; NULL for any other type. */
char *rmq_mp_strdup(const msgpack_object *o);

#endif
