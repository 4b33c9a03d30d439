/* allocate.h - prepares the next commit-log segment ahead of time
 * (AllocateMappedFileService.java). */
#ifndef RMQ_ALLOCATE_H
#define RMQ_ALLOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mapped_file.h"
#include "rmq_err.h"

typedef struct rmq_allocator_s rmq_allocator_t;

/* quota_ok(opaque, bytes) may refuse a new segment (disk limit). */
rmq_allocator_t *rmq_allocator_new(bool warm, bool (*quota_ok)(void *opaque, int64_t bytes), void *opaque);
rmq_err_t rmq_allocator_start(rmq_allocator_t *a);
/* Stops the thread and destroys any segment prepared but not taken (unlinking it). */
void rmq_allocator_destroy(rmq_allocator_t *a);
/* Ask for path/from to be prepared in the background. @thread any */
void rmq_allocator_prefetch(rmq_allocator_t *a, const char *path, int64_t from, int64_t size);
/* Take the segment for path/from: immediate when it was prepared; waits at
 * most timeout_ms while the allocate thread is still creating it; created on
 * the calling thread when the service is not running (recovery).
 * RMQ_ERR__DISK_FULL on ENOSPC / quota, RMQ_ERR__TIMED_OUT, RMQ_ERR__IO. */
rmq_err_t rmq_allocator_take(rmq_allocator_t *a, const char *path, int64_t from, int64_t size, int timeout_ms,
                             rmq_mapped_file_t **out);

#endif
