/* mapped_file_queue.h - ordered segments named by 20-digit start offset
 * (MappedFileQueue.java). */
#ifndef RMQ_MAPPED_FILE_QUEUE_H
#define RMQ_MAPPED_FILE_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mapped_file.h"
#include "rmq_err.h"

struct rmq_reaper_s;

typedef struct rmq_mfq_s {
    char *dir;
    int64_t file_size;
    pthread_mutex_t lock; /* guards files/n/cap */
    rmq_mapped_file_t **files;
    size_t n, cap;
    _Atomic int fail_flushes;  /* test fault injection */
    _Atomic int64_t synced_to; /* durability audit: end of the msync'd prefix (-1: none yet) */
    struct rmq_reaper_s *reaper;
} rmq_mfq_t;

rmq_mfq_t *rmq_mfq_new(const char *dir, int64_t file_size, struct rmq_reaper_s *reaper);
/* Close every file (no unlink). */
void rmq_mfq_destroy(rmq_mfq_t *q);
/* Open the existing segments of dir in offset order. Files with a name that
 * is not 20 digits are ignored. */
rmq_err_t rmq_mfq_load(rmq_mfq_t *q);
/* "%020lld" path of a segment. Caller frees. */
char *rmq_mfq_path(const rmq_mfq_t *q, int64_t from);
/* Append a prepared segment (its from must follow the last one). */
void rmq_mfq_append(rmq_mfq_t *q, rmq_mapped_file_t *mf);
/* Create a segment synchronously and append it. */
rmq_err_t rmq_mfq_create(rmq_mfq_t *q, int64_t from, rmq_mapped_file_t **out);
/* Borrowed last segment (owner thread only), or NULL. */
rmq_mapped_file_t *rmq_mfq_last(rmq_mfq_t *q);
/* Held segment containing offset, or NULL. */
rmq_mapped_file_t *rmq_mfq_find_hold(rmq_mfq_t *q, int64_t offset);
/* Held first / last segment, or NULL. */
rmq_mapped_file_t *rmq_mfq_first_hold(rmq_mfq_t *q);
rmq_mapped_file_t *rmq_mfq_last_hold(rmq_mfq_t *q);
/* Held snapshot of all segments; caller releases each and frees the array. */
rmq_mapped_file_t **rmq_mfq_snapshot(rmq_mfq_t *q, size_t *n);
size_t rmq_mfq_count(rmq_mfq_t *q);
int64_t rmq_mfq_min_offset(rmq_mfq_t *q); /* -1 if empty */
int64_t rmq_mfq_max_offset(rmq_mfq_t *q); /* last.from + last.wrote, 0 if empty */
int64_t rmq_mfq_flushed_offset(rmq_mfq_t *q);
/* Flush every segment up to its wrote position; least_pages applies to the
 * segment being filled. */
rmq_err_t rmq_mfq_flush(rmq_mfq_t *q, int least_pages);
/* Logical truncation at offset: positions set, later files removed, the
 * rest of the containing file zeroed. */
void rmq_mfq_truncate(rmq_mfq_t *q, int64_t offset);
/* Remove the first n segments (handed to the reaper). */
void rmq_mfq_remove_first(rmq_mfq_t *q, size_t n);
/* Remove (delete) segments from index i to the end. */
void rmq_mfq_remove_from(rmq_mfq_t *q, size_t i);

#endif
