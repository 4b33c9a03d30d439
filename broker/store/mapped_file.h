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
    bool huge; /* 2 MiB-aligned mapping advised MADV_HUGEPAGE */
} rmq_mapped_file_t;

#define RMQ_MF_WARM 0x1 /* write-touch every page at open (warmMapedFileEnable) */
#define RMQ_MF_HUGE                                                                                          \
    0x2 /* map at a 2 MiB boundary with MADV_HUGEPAGE: the page cache serves                                 \
           the file in 2 MiB folios, one fault per 2 MiB instead of per 4 KiB */

/* Open path mapped read-write. create: the file must not exist and is
 * created and fully reserved with posix_fallocate (so a later memcpy can
 * never hit SIGBUS on a full disk; ENOSPC => RMQ_ERR__DISK_FULL). An existing
 * file shorter than size is extended. wrote/flushed start at 0 for a new file
 * and at size for an existing one. */
rmq_err_t rmq_mapped_file_open(const char *path, int64_t from, int64_t size, bool create, bool warm,
                               rmq_mapped_file_t **out);
/* The same with RMQ_MF_* flags. */
rmq_err_t rmq_mapped_file_open_flags(const char *path, int64_t from, int64_t size, bool create, int flags,
                                     rmq_mapped_file_t **out);
/* Fault the pages of [from, to) in for writing on the calling thread, so
 * that the writer later finds them mapped, without changing a byte: one
 * atomic compare-and-swap of 0 with 0 per page (per 2 MiB when huge), which
 * a concurrent append to the same byte cannot lose. Only ahead of the
 * writer; the caller holds mf. */
void rmq_mapped_file_prefault(rmq_mapped_file_t *mf, int64_t from, int64_t to);
/* Pin: only valid while the caller already reaches mf through its queue's
 * lock or an existing pin. */
void rmq_mapped_file_hold(rmq_mapped_file_t *mf);
void rmq_mapped_file_release(rmq_mapped_file_t *mf);
/* msync [flushed, wrote) if at least least_pages dirty pages (0 = any).
 * *fail_inject > 0 simulates an EIO. Never reports success on failure.
 * Durability audit (synced_to may be NULL): after each successful msync
 * that extends the prefix [.., *synced_to) (-1: nothing yet), *synced_to
 * moves to its end. */
rmq_err_t rmq_mapped_file_flush(rmq_mapped_file_t *mf, int least_pages, _Atomic int *fail_inject,
                                _Atomic int64_t *synced_to);
/* Unmap, close, optionally unlink, free. Only when refcnt is 0. */
void rmq_mapped_file_destroy(rmq_mapped_file_t *mf, bool unlink_file);
/* msync the pages covering [from, to) (whatever their state); logs and
 * returns RMQ_ERR__IO on failure. */
rmq_err_t rmq_mapped_file_sync_range(rmq_mapped_file_t *mf, int64_t from, int64_t to);
/* Zero [from, size) of the mapping, skipping pages that are already zero. */
void rmq_mapped_file_zero_tail(rmq_mapped_file_t *mf, int64_t from);
/* mtime of the file in ms (0 on error). */
int64_t rmq_mapped_file_mtime_ms(const rmq_mapped_file_t *mf);

#endif
