/* epoch.h - the epoch list of a store (<root>/epoch): which epoch (a term of
 * one master) wrote which part of the commit log. Replication compares two
 * lists to find where two logs stop agreeing. */
#ifndef RMQ_EPOCH_H
#define RMQ_EPOCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_err.h"
#include "rmq_store.h"

typedef struct rmq_epoch_file_s {
    pthread_mutex_t lock;
    char *path;
    rmq_epoch_entry_t *e; /* ascending epoch and start offset */
    size_t n;
} rmq_epoch_file_t;

/* Load <path> (missing file: empty list). RMQ_ERR__CORRUPT with errstr when
 * the file does not parse or is not ascending. */
rmq_err_t rmq_epoch_file_open(const char *path, rmq_epoch_file_t **out, char *errstr, size_t errstr_size);
void rmq_epoch_file_close(rmq_epoch_file_t *f);
/* Replace the list and write it durably (temp file, fsync, rename, fsync of
 * the directory). */
rmq_err_t rmq_epoch_file_store(rmq_epoch_file_t *f, const rmq_epoch_entry_t *e, size_t n);
/* Drop entries whose start is past offset (the log was cut there). */
rmq_err_t rmq_epoch_file_truncate(rmq_epoch_file_t *f, int64_t offset);

#endif
