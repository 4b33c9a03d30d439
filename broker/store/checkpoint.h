/* checkpoint.h - <root>/checkpoint (StoreCheckpoint.java): three store
 * timestamps that bound recovery. */
#ifndef RMQ_CHECKPOINT_H
#define RMQ_CHECKPOINT_H

#include <stdatomic.h>
#include <stdint.h>

#include "mapped_file.h"
#include "rmq_err.h"

#define RMQ_CHECKPOINT_FILE_SIZE 4096

typedef struct rmq_checkpoint_s {
    rmq_mapped_file_t *mf;
    _Atomic int64_t physic_ts; /* store time of the last flushed commit-log record */
    _Atomic int64_t logics_ts; /* store time of the last dispatched record */
    _Atomic int64_t index_ts;  /* end time of the last flushed index */
} rmq_checkpoint_t;

rmq_err_t rmq_checkpoint_open(const char *path, rmq_checkpoint_t **out);
void rmq_checkpoint_close(rmq_checkpoint_t *c);
void rmq_checkpoint_set_physic(rmq_checkpoint_t *c, int64_t ts);
void rmq_checkpoint_set_logics(rmq_checkpoint_t *c, int64_t ts);
void rmq_checkpoint_set_index(rmq_checkpoint_t *c, int64_t ts);
/* Lower all three values to at most ts (the log was cut: recovery must
 * look back at least that far). */
void rmq_checkpoint_lower(rmq_checkpoint_t *c, int64_t ts);
/* min(physic, logics) - 3 s (the abnormal-recovery bound). */
int64_t rmq_checkpoint_min_ts(rmq_checkpoint_t *c);
/* Write the values into the file and msync it. logics >= 0 overrides
 * logicsMsgTimestamp with a value captured before the consume queues were
 * flushed (so the file never claims more than is durable). */
rmq_err_t rmq_checkpoint_flush(rmq_checkpoint_t *c, int64_t logics);

#endif
