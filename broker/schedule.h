/* schedule.h - delayed delivery (ScheduleMessageService): messages with a
 * DELAY level are parked by the store in SCHEDULE_TOPIC_XXXX (queue level-1);
 * this service moves each one to its REAL_TOPIC / REAL_QID once its store
 * time + the level's delay has passed. Progress per level is persisted as a
 * msgpack snapshot (delayOffset.msgpack). Master only. @thread io. */
#ifndef RMQ_SCHEDULE_H
#define RMQ_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"

struct event;

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_schedule_s rmq_schedule_t;

#define RMQ_SCHEDULE_MAX_LEVELS 64

struct rmq_schedule_s {
    rmq_broker_t *b;
    int64_t offsets[RMQ_SCHEDULE_MAX_LEVELS + 1]; /* next logic offset per level (1-based) */
    bool dirty;
    int64_t delivered;
    struct event *ev_tick;
};

/* Create (offsets all 0); rmq_schedule_start arms the 100 ms delivery timer
 * once the event base exists. */
rmq_schedule_t *rmq_schedule_new(rmq_broker_t *b);
void rmq_schedule_start(rmq_schedule_t *s);
void rmq_schedule_destroy(rmq_schedule_t *s);
/* One delivery pass (the timer calls it). */
void rmq_schedule_deliver(rmq_schedule_t *s);

void rmq_schedule_pack(const rmq_schedule_t *s, rmq_buf_t *out);
rmq_err_t rmq_schedule_unpack(rmq_schedule_t *s, const uint8_t *p, size_t len);
/* RocketMQ's delayOffset.json: {"offsetTable":{1:5,2:0}} */
rmq_err_t rmq_schedule_import_json(rmq_schedule_t *s, const char *text, size_t len);

#endif
