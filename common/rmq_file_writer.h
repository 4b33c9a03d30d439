/* rmq_file_writer.h - a background thread that writes files atomically, so
 * an event loop never waits for fsync.
 *
 * The loop renders a file's new content and submits it; the writer thread
 * writes it with a write function (default rmq_file_write_atomic). A newer
 * submission for a path replaces an older one not yet written (only the
 * latest state matters). */
#ifndef RMQ_FILE_WRITER_H
#define RMQ_FILE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "rmq_err.h"

typedef struct rmq_file_writer_s rmq_file_writer_t;

/* Writes data to path; blocking; returns RMQ_OK or an error. */
typedef rmq_err_t rmq_file_write_fn(const char *path, const void *data, size_t len);

/* Start a writer thread called `name`; write NULL = rmq_file_write_atomic.
 * NULL if the thread cannot start. */
rmq_file_writer_t *rmq_file_writer_start(const char *name, rmq_file_write_fn *write);
/* Queue data (malloc'd; the writer frees it) for path. Returns the
 * submission's number (for rmq_file_writer_poll). @thread any */
uint64_t rmq_file_writer_submit(rmq_file_writer_t *w, const char *path, uint8_t *data, size_t len);
/* Without waiting: RMQ_ERR__AGAIN while submission `gen` is not written yet,
 * RMQ_ERR__IO if a write failed since it was submitted (of any file: the
 * caller cannot count on it), else RMQ_OK. @thread any but the writer */
rmq_err_t rmq_file_writer_poll(rmq_file_writer_t *w, uint64_t gen);
/* Wait until everything submitted before the call is written; the result of
 * the most recent write. @thread any but the writer */
rmq_err_t rmq_file_writer_sync(rmq_file_writer_t *w);
/* Write what is queued, stop the thread, free. NULL ok. */
void rmq_file_writer_stop(rmq_file_writer_t *w);

#endif
