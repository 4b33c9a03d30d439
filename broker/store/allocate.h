/* allocate.h - prepares the next commit-log segment ahead of time
 * (AllocateMappedFileService.java). */
#ifndef RMQ_ALLOCATE_H
#define RMQ_ALLOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mapped_file.h"
#include "rmq_err.h"

typedef struct rmq_allocator_s rmq_allocator_t;

/* quota_ok(opaque, bytes) may refuse a new segment (disk limit). huge: map
 * segments with 2 MiB folios (RMQ_MF_HUGE; ASYNC_FLUSH only: a flush then
 * writes whole 2 MiB folios back). */
rmq_allocator_t *rmq_allocator_new(bool warm, bool huge, bool (*quota_ok)(void *opaque, int64_t bytes),
                                   void *opaque);
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
/* How far ahead of the writer the allocate thread keeps a segment faulted in. */
int64_t rmq_allocator_warm_ahead(const rmq_mapped_file_t *mf);
/* Keep mf faulted in up to `upto` (rmq_mapped_file_prefault on the allocate
 * thread), so appends never take a page fault. Latest request wins; the
 * allocator holds mf meanwhile. No-op when the thread does not run.
 * @thread writer */
void rmq_allocator_warm(rmq_allocator_t *a, rmq_mapped_file_t *mf, int64_t upto);

#endif
