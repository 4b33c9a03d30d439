/* checkpoint.c - the 4096-byte checkpoint file: physicMsgTimestamp @0,
 * logicsMsgTimestamp @8, indexMsgTimestamp @16 (docs/protocol.md §5.10).
 *
 * Owns: the checkpoint mapping. Values are set by the flush / reput /
 * cq-flush threads (atomics) and written to disk only by rmq_checkpoint_flush
 * on the cq-flush thread (and at shutdown).
 * Must never: advance physicMsgTimestamp past data that is not flushed. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_log.h"

rmq_err_t rmq_checkpoint_open(const char *path, rmq_checkpoint_t **out)
{
    *out = NULL;
    bool exists = access(path, F_OK) == 0;
    rmq_mapped_file_t *mf;
    rmq_err_t err = rmq_mapped_file_open(path, 0, RMQ_CHECKPOINT_FILE_SIZE, !exists, false, &mf);
    if (err)
        return err;
    rmq_checkpoint_t *c = rmq_calloc(1, sizeof(*c));
    c->mf = mf;
    atomic_init(&c->physic_ts, (int64_t)rmq_be64(mf->base));
    atomic_init(&c->logics_ts, (int64_t)rmq_be64(mf->base + 8));
    atomic_init(&c->index_ts, (int64_t)rmq_be64(mf->base + 16));
    *out = c;
    return RMQ_OK;
}

void rmq_checkpoint_close(rmq_checkpoint_t *c)
{
    if (!c)
        return;
    rmq_checkpoint_flush(c, -1);
    rmq_mapped_file_release(c->mf);
    rmq_mapped_file_destroy(c->mf, false);
    free(c);
}

static void raise_to(_Atomic int64_t *v, int64_t ts)
{
    int64_t cur = atomic_load(v);
    while (ts > cur && !atomic_compare_exchange_weak(v, &cur, ts))
        ;
}

void rmq_checkpoint_set_physic(rmq_checkpoint_t *c, int64_t ts)
{
    raise_to(&c->physic_ts, ts);
}
void rmq_checkpoint_set_logics(rmq_checkpoint_t *c, int64_t ts)
{
    raise_to(&c->logics_ts, ts);
}
void rmq_checkpoint_set_index(rmq_checkpoint_t *c, int64_t ts)
{
    raise_to(&c->index_ts, ts);
}

static void lower_to(_Atomic int64_t *v, int64_t ts)
{
    int64_t cur = atomic_load(v);
    while (ts < cur && !atomic_compare_exchange_weak(v, &cur, ts))
        ;
}

void rmq_checkpoint_lower(rmq_checkpoint_t *c, int64_t ts)
{
    lower_to(&c->physic_ts, ts);
    lower_to(&c->logics_ts, ts);
    lower_to(&c->index_ts, ts);
}

int64_t rmq_checkpoint_min_ts(rmq_checkpoint_t *c)
{
    int64_t p = atomic_load(&c->physic_ts), l = atomic_load(&c->logics_ts);
    int64_t m = p < l ? p : l;
    m -= 3000;
    return m < 0 ? 0 : m;
}

rmq_err_t rmq_checkpoint_flush(rmq_checkpoint_t *c, int64_t logics)
{
    rmq_wbe64(c->mf->base, (uint64_t)atomic_load(&c->physic_ts));
    rmq_wbe64(c->mf->base + 8, (uint64_t)(logics >= 0 ? logics : atomic_load(&c->logics_ts)));
    rmq_wbe64(c->mf->base + 16, (uint64_t)atomic_load(&c->index_ts));
    atomic_store(&c->mf->flushed, 0);
    atomic_store(&c->mf->wrote, RMQ_CHECKPOINT_FILE_SIZE);
    return rmq_mapped_file_flush(c->mf, 0, NULL, NULL);
}
