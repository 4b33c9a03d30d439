/* mapped_file.h - one fixed-size memory-mapped file (MappedFile.java). */
#ifndef RMQ_MAPPED_FILE_H
#define RMQ_MAPPED_FILE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "rmq_err.h"

typedef struct rmq_mapped_file_s {
    char *path;
    int64_t from; /* start offset (file name) */
    int64_t size;
    int fd;
    uint8_t *base;
    _Atomic int64_t wrote;    /* bytes written (published after the copy) */
    _Atomic int64_t flushed;  /* bytes known durable */
    _Atomic int refcnt;       /* 1 for the owning queue + one per holder */
    _Atomic bool available;   /* false once removed from its queue */
    _Atomic int64_t store_ts; /* store time of the last record appended */
    int64_t shutdown_mono;    /* when it was removed (reaper) */
    bool unlinked;
} rmq_mapped_file_t;

/* Open path mapped read-write. create: the file must not exist and is
 * created and fully reserved with posix_fallocate (so a later memcpy can
 * never hit SIGBUS on a full disk; ENOSPC => RMQ_ERR__DISK_FULL). An existing
 * file shorter than size is extended. wrote/flushed start at 0 for a new file
 * and at size for an existing one. */
rmq_err_t rmq_mapped_file_open(const char *path, int64_t from, int64_t size, bool create, bool warm,
                               rmq_mapped_file_t **out);
/* Pin: only valid while the caller already reaches mf through its queue's
 * lock or an existing pin. */
void rmq_mapped_file_hold(rmq_mapped_file_t *mf);
void rmq_mapped_file_release(rmq_mapped_file_t *mf);
/* msync [flushed, wrote) if at least least_pages dirty pages (0 = any).
 * *fail_inject > 0 simulates an EIO. Never reports success on failure. */
rmq_err_t rmq_mapped_file_flush(rmq_mapped_file_t *mf, int least_pages, _Atomic int *fail_inject);
/* Unmap, close, optionally unlink, free. Only when refcnt is 0. */
void rmq_mapped_file_destroy(rmq_mapped_file_t *mf, bool unlink_file);
/* Zero [from, size) of the mapping, skipping pages that are already zero. */
void rmq_mapped_file_zero_tail(rmq_mapped_file_t *mf, int64_t from);
/* mtime of the file in ms (0 on error). */
int64_t rmq_mapped_file_mtime_ms(const rmq_mapped_file_t *mf);

#endif
