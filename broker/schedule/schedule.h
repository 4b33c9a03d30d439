/* schedule.h - delayed delivery (ScheduleMessageService): messages with a
 * DELAY level are parked by the store in SCHEDULE_TOPIC_XXXX (queue level-1);
 * this service moves each one to its REAL_TOPIC / REAL_QID once its store
 * time + the level's delay has passed. Progress per level is persisted as a
 * msgpack snapshot (delayOffset.msgpack). Master only. @thread io. */
#ifndef RMQ_SCHEDULE_H
#define RMQ_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "meta/snapshot.h" /* rmq_meta_ops_t */
#include "meta/table.h"    /* rmq_meta_import_json */
#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_msg_codec.h"

struct event;

typedef struct rmq_store_s rmq_store_t;
typedef struct rmq_schedule_s rmq_schedule_t;

/* What the service needs from its owner (the broker), and nothing more. */
typedef struct rmq_schedule_ctx_s {
    struct event_base *base;   /* the I/O thread's loop (the delivery timer) */
    rmq_store_t *store;        /* where SCHEDULE_TOPIC_XXXX lives and deliveries go */
    rmq_msg_host_t store_host; /* of re-stored messages */
    const bool *shutting_down; /* no delivery once set */
} rmq_schedule_ctx_t;

#define RMQ_SCHEDULE_MAX_LEVELS 64

/* Arbitrary delivery time (RocketMQ 5 / ali-ons): absolute ms, relative
 * seconds / ms (normalised to TIMER_DELIVER_MS when received). */
#define RMQ_PROP_TIMER_DELIVER_MS "TIMER_DELIVER_MS"
#define RMQ_PROP_START_DELIVER_TIME "__STARTDELIVERTIME"
#define RMQ_PROP_TIMER_DELAY_SEC "TIMER_DELAY_SEC"
#define RMQ_PROP_TIMER_DELAY_MS "TIMER_DELAY_MS"

struct rmq_schedule_s {
    rmq_schedule_ctx_t ctx;                       /* set by rmq_schedule_start */
    int64_t offsets[RMQ_SCHEDULE_MAX_LEVELS + 1]; /* next logic offset per level (1-based) */
    /* What the snapshot holds: with SYNC_FLUSH, offsets whose deliveries
     * are flushed to the commit log (power loss then repeats, never skips);
     * with ASYNC_FLUSH, the offsets themselves. */
    int64_t durable[RMQ_SCHEDULE_MAX_LEVELS + 1];
    /* A checkpoint waiting for the flush to pass cand_cl_end. */
    int64_t cand[RMQ_SCHEDULE_MAX_LEVELS + 1];
    int64_t cand_cl_end;
    bool has_cand;
    int64_t last_cl_end; /* end of the last re-stored record in the commit log */
    bool dirty;
    int64_t delivered;
    int64_t reparked; /* timer messages parked again for their remaining time */
    struct event *ev_tick;
};

/* Create (offsets all 0, loadable before the store opens); rmq_schedule_start
 * takes the context and arms the 100 ms delivery timer. */
rmq_schedule_t *rmq_schedule_new(void);
void rmq_schedule_start(rmq_schedule_t *s, const rmq_schedule_ctx_t *ctx);
/* Disarm the timer and forget the store, before the store closes (its last
 * flush covers every re-store, so the final snapshot may hold all offsets).
 * NULL ok. */
void rmq_schedule_stop(rmq_schedule_t *s);
void rmq_schedule_destroy(rmq_schedule_t *s);
/* One delivery pass (the timer calls it). */
void rmq_schedule_deliver(rmq_schedule_t *s);

/* Packs the durable offsets (see above); advances them first when the
 * commit log has been flushed past the re-stored records. Leaves dirty set
 * while a checkpoint still waits for the flush. */
void rmq_schedule_pack(rmq_schedule_t *s, rmq_buf_t *out);
rmq_err_t rmq_schedule_unpack(rmq_schedule_t *s, const uint8_t *p, size_t len);
/* RocketMQ's delayOffset.json: {"offsetTable":{1:5,2:0}} */
rmq_err_t rmq_schedule_import_json(rmq_schedule_t *s, const char *text, size_t len);
/* The same shape with the current offsets of levels 1..max_level (the body
 * of GET_ALL_DELAY_OFFSET); all 0 when s is NULL. */
void rmq_schedule_offsets_json(const rmq_schedule_t *s, int max_level, rmq_buf_t *out);
/* The level offsets as persisted metadata ("delayOffset"); after persisting,
 * dirty stays set while a checkpoint still waits for the flush. */
extern const rmq_meta_ops_t rmq_schedule_meta_ops;

/* Due time (absolute ms) of a message with TIMER_DELIVER_MS or
 * __STARTDELIVERTIME, -1 when it has none. */
int64_t rmq_schedule_timer_due(const rmq_msg_props_t *props);
/* If props carry a delivery time (or TIMER_DELAY_SEC / _MS, which become
 * TIMER_DELIVER_MS = now + delay) later than now, set DELAY to the level that
 * parks the message for the longest delay not past its due time and return
 * true. @thread io */
bool rmq_schedule_timer_park(rmq_store_t *store, rmq_msg_props_t *props, int64_t now);

#endif
