/* txn_int.h - state shared by transaction.c and check.c. @thread io. */
#ifndef RMQ_TXN_INT_H
#define RMQ_TXN_INT_H

#include <event2/event.h>

#include "transaction/transaction.h"

typedef struct rmq_broker_s rmq_broker_t;

/* origin (half queue offset) -> outcome, open addressing; key+1 stored so 0
 * marks an empty slot. */
typedef struct rmq_txn_table_s {
    int64_t *keys;
    uint8_t *vals;
    size_t cap, n;
} rmq_txn_table_t;

struct rmq_txn_s {
    rmq_broker_t *b;
    rmq_txn_table_t ended;
    int64_t op_loaded_to; /* op queue offsets below this are in `ended` */
    struct event *ev_check;
    int64_t progress; /* next half offset to check (-1: not started) */
    /* check progress waiting for the flush of the copies it appended */
    int64_t cand_offset, cand_needs_flush;
    int64_t next_pass;  /* mono ms of the next pass */
    bool in_pass;       /* a pass is running in slices */
    int64_t pass_start; /* wall ms when the running pass began: records
                           stored since (its own copies) end the pass */
    /* origins below this half offset were stored before this boot: only
     * they can have a commit whose op record a crash lost */
    int64_t boot_half_max;
    int64_t op_failures; /* op records the store refused since boot */
    uint32_t rr;         /* producer channel round robin */
    rmq_txn_stats_t st;
};

uint8_t rmq_txn_table_get(const rmq_txn_table_t *t, int64_t origin);
void rmq_txn_table_put(rmq_txn_table_t *t, int64_t origin, uint8_t outcome);

/* A half (or op) queue entry, decoded and pinned; false when absent. */
typedef struct rmq_txn_rec_s {
    rmq_msg_rec_t rec;
    rmq_msg_props_t props;
    void *pin;
} rmq_txn_rec_t;
bool rmq_txn_read(rmq_txn_t *t, const char *topic, int64_t queue_offset, rmq_txn_rec_t *out);
bool rmq_txn_read_at(rmq_txn_t *t, int64_t clog_offset, rmq_txn_rec_t *out);
void rmq_txn_rec_release(rmq_txn_rec_t *r);
/* The origin of a half record (TRAN_PREPARED_QUEUE_OFFSET, else its own
 * queue offset). */
int64_t rmq_txn_origin(const rmq_txn_rec_t *r);
/* Append an op record for the half record r (outcome RMQ_TXN_*); records
 * the outcome. False when the store refused it. */
bool rmq_txn_put_op(rmq_txn_t *t, const rmq_txn_rec_t *r, uint8_t outcome);
/* Append a message built from a half record with new topic/queue/props/
 * sys_flag. */
rmq_put_status_t rmq_txn_put_from(rmq_txn_t *t, const rmq_txn_rec_t *r, const char *topic, int32_t qid,
                                  const rmq_msg_props_t *props, int32_t sys_flag, int64_t prepared_offset,
                                  rmq_put_result_t *res);
int64_t rmq_txn_prop_i64(const rmq_msg_props_t *p, const char *key, int64_t def);

/* Forget origins whose half records are gone with the commit log. */
void rmq_txn_prune(rmq_txn_t *t);

/* check.c */
void rmq_txn_check_start(rmq_txn_t *t);
void rmq_txn_check_stop(rmq_txn_t *t);
/* One slice of a pass; new_pass starts a pass. *more: the pass goes on. */
void rmq_txn_check_pass(rmq_txn_t *t, bool new_pass, bool *more);

#endif
