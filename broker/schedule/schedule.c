/* schedule.c - delayed delivery out of SCHEDULE_TOPIC_XXXX, and the
 * arbitrary delivery time (TIMER_DELIVER_MS / __STARTDELIVERTIME) built on it.
 * Owns: the per-level delivery offsets and the delivery timer.
 * Durability: an offset passes a record only after its re-store was
 * appended, so a crash repeats deliveries, never skips one; with SYNC_FLUSH
 * the snapshot holds only offsets whose re-stores the commit log has
 * flushed (a checkpoint waits for the flush), which covers power loss too.
 * A delivered record keeps the parked record's properties as they are
 * (DELAY, REAL_TOPIC and REAL_QID included), as Java 4.9.8 stores them.
 * Timers: a message due later than now is parked at the level with the
 * longest delay not past its due time (rmq_schedule_timer_park); when that
 * level delivers it and it is still not due, it is parked again for the
 * remaining time instead of going to its topic (ARCHITECTURE.md, "Delivery at
 * an arbitrary time").
 * Thread: io (reads are mapped-memory lookups; the put is the usual append,
 * the I/O thread being the single writer).
 * Never: blocks, or writes its snapshot itself (the broker persists it).
 * Depends on the store and its context (rmq_schedule_ctx_t) only, not on the
 * broker. */
#include "schedule/schedule.h"

#include <event2/event.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_store.h"
#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

#define TICK_MS 100
#define BUDGET_PER_LEVEL 512

static int64_t prop_i64(const rmq_msg_props_t *props, const char *key)
{
    const char *v = rmq_msg_props_get(props, key);
    if (!v || !*v)
        return -1;
    char *end;
    long long x = strtoll(v, &end, 10);
    return *end == 0 && x >= 0 ? (int64_t)x : -1;
}

int64_t rmq_schedule_timer_due(const rmq_msg_props_t *props)
{
    int64_t due = prop_i64(props, RMQ_PROP_TIMER_DELIVER_MS);
    return due >= 0 ? due : prop_i64(props, RMQ_PROP_START_DELIVER_TIME);
}

bool rmq_schedule_timer_park(rmq_store_t *store, rmq_msg_props_t *props, int64_t now)
{
    int64_t due = rmq_schedule_timer_due(props);
    if (due < 0) {
        int64_t sec = prop_i64(props, RMQ_PROP_TIMER_DELAY_SEC);
        int64_t ms = prop_i64(props, RMQ_PROP_TIMER_DELAY_MS);
        if (sec < 0 && ms < 0)
            return false;
        int64_t delay = sec >= 0 ? (sec > INT64_MAX / 4000 ? INT64_MAX / 4 : sec * 1000) : ms;
        due = now + (delay > INT64_MAX / 4 ? INT64_MAX / 4 : delay); /* no overflow on absurd values */
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)due);
        rmq_msg_props_set(props, RMQ_PROP_TIMER_DELIVER_MS, v);
    }
    int64_t remaining = due - now;
    int max = store ? rmq_store_max_delay_level(store) : 0;
    if (remaining <= 0 || max <= 0)
        return false;
    /* the longest level not past the due time; the shortest if all are */
    int best = 0, shortest = 0;
    for (int level = 1; level <= max && level <= RMQ_SCHEDULE_MAX_LEVELS; level++) {
        int64_t d = rmq_store_delay_level_ms(store, level);
        if (d <= remaining && (!best || d > rmq_store_delay_level_ms(store, best)))
            best = level;
        if (!shortest || d < rmq_store_delay_level_ms(store, shortest))
            shortest = level;
    }
    char lv[16];
    snprintf(lv, sizeof(lv), "%d", best ? best : shortest);
    rmq_msg_props_set(props, RMQ_PROP_DELAY, lv);
    return true;
}

/* Re-store one parked record under its real topic (or park it again when it
 * carries a delivery time still in the future); false = try again later. */
static bool deliver_one(rmq_schedule_t *s, const rmq_msg_rec_t *rec, int64_t now)
{
    rmq_msg_props_t props;
    rmq_msg_props_init(&props);
    rmq_msg_props_parse(&props, rec->props, rec->props_len);
    const char *rt = rmq_msg_props_get(&props, RMQ_PROP_REAL_TOPIC);
    const char *rq = rmq_msg_props_get(&props, RMQ_PROP_REAL_QID);
    if (!rt || !rq) {
        rmq_log(RMQ_LOG_WARN, "broker", "schedule: record at %lld has no REAL_TOPIC/REAL_QID, skipped",
                (long long)rec->commitlog_offset);
        rmq_msg_props_free(&props);
        return true;
    }
    char *topic = rmq_strdup(rt);
    int32_t qid = atoi(rq);
    rmq_msg_props_del(&props, RMQ_PROP_DELAY);
    bool repark = rmq_schedule_timer_park(s->ctx.store, &props, now);
    if (repark) { /* the store adds them again */
        rmq_msg_props_del(&props, RMQ_PROP_REAL_TOPIC);
        rmq_msg_props_del(&props, RMQ_PROP_REAL_QID);
    }
    rmq_buf_t pstr;
    rmq_buf_init(&pstr);
    rmq_msg_props_encode(&props, &pstr);
    rmq_msg_props_free(&props);
    rmq_store_msg_t m;
    rmq_store_msg_from_rec(&m, rec, topic, qid, (const char *)pstr.data, pstr.len, s->ctx.store_host);
    if (!repark) { /* the parked record's properties as they are, DELAY and
                    * REAL_TOPIC / REAL_QID included, as Java's messageTimeup */
        m.props = rec->props;
        m.props_len = rec->props_len;
        m.delay_delivered = true;
    }
    rmq_put_result_t res;
    rmq_put_status_t st = rmq_store_put_message(s->ctx.store, &m, &res, NULL, NULL);
    bool ok = st == RMQ_PUT_OK || st == RMQ_PUT_MESSAGE_ILLEGAL || st == RMQ_PUT_PROPERTIES_SIZE_EXCEEDED;
    if (st != RMQ_PUT_OK)
        rmq_log(RMQ_LOG_WARN, "broker", "schedule: delivering to %s failed: %s%s", topic,
                rmq_put_status_name(st), ok ? " (dropped)" : " (retrying)");
    else {
        s->last_cl_end = res.wrote_offset + res.wrote_bytes;
        if (repark)
            s->reparked++;
        else
            s->delivered++;
    }
    free(topic);
    rmq_buf_free(&pstr);
    return ok;
}

static void deliver_level(rmq_schedule_t *s, int level, int64_t now)
{
    int64_t delay = rmq_store_delay_level_ms(s->ctx.store, level);
    if (delay < 0)
        return;
    int budget = BUDGET_PER_LEVEL;
    while (budget > 0) {
        int64_t off = s->offsets[level];
        rmq_get_result_t gr;
        memset(&gr, 0, sizeof(gr));
        rmq_store_get_message(s->ctx.store, RMQ_SCHEDULE_TOPIC, level - 1, off, 32, NULL, 0, &gr);
        if (gr.status != RMQ_GET_FOUND) {
            if ((gr.status == RMQ_GET_OFFSET_TOO_SMALL || gr.status == RMQ_GET_NO_MATCHED_MESSAGE ||
                 gr.status == RMQ_GET_MESSAGE_WAS_REMOVING || gr.status == RMQ_GET_OFFSET_OVERFLOW_BADLY ||
                 gr.status == RMQ_GET_OFFSET_FOUND_NULL) &&
                gr.next_begin_offset != off) {
                s->offsets[level] = gr.next_begin_offset;
                s->dirty = true;
            }
            rmq_store_get_result_release(&gr);
            return;
        }
        bool stop = false;
        for (size_t i = 0; i < gr.count && !stop; i++) {
            rmq_msg_rec_t rec;
            if (rmq_msg_decode(gr.msgs[i].data, gr.msgs[i].len, false, &rec) != RMQ_OK) {
                s->offsets[level]++;
                continue;
            }
            /* a store time in the future (the clock went back) is due now, as
             * Java's correctDeliverTimestamp */
            bool due = rec.store_timestamp + delay <= now || rec.store_timestamp > now;
            if (!due || !deliver_one(s, &rec, now)) {
                stop = true;
                break;
            }
            s->offsets[level] = rec.queue_offset + 1;
            s->dirty = true;
            budget--;
        }
        rmq_store_get_result_release(&gr);
        if (stop)
            return;
    }
}

void rmq_schedule_deliver(rmq_schedule_t *s)
{
    rmq_store_t *store = s->ctx.store;
    if (!store || (s->ctx.shutting_down && *s->ctx.shutting_down) || rmq_store_is_slave(store))
        return;
    int max = rmq_store_max_delay_level(store);
    if (max > RMQ_SCHEDULE_MAX_LEVELS)
        max = RMQ_SCHEDULE_MAX_LEVELS;
    int64_t now = rmq_now_ms();
    for (int level = 1; level <= max; level++)
        deliver_level(s, level, now);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_schedule_deliver(arg);
}

rmq_schedule_t *rmq_schedule_new(void)
{
    return rmq_calloc(1, sizeof(rmq_schedule_t));
}

void rmq_schedule_start(rmq_schedule_t *s, const rmq_schedule_ctx_t *ctx)
{
    s->ctx = *ctx;
    s->ev_tick = event_new(ctx->base, -1, EV_PERSIST, tick_cb, s);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(s->ev_tick, &tv);
}

void rmq_schedule_stop(rmq_schedule_t *s)
{
    if (!s)
        return;
    rmq_event_clear(&s->ev_tick);
    s->ctx.store = NULL;
}

void rmq_schedule_destroy(rmq_schedule_t *s)
{
    rmq_schedule_stop(s);
    free(s);
}

void rmq_schedule_pack(rmq_schedule_t *s, rmq_buf_t *out)
{
    /* SYNC_FLUSH: only offsets whose re-stores are on disk (power loss).
     * ASYNC_FLUSH: acknowledged messages live in the page cache until the
     * flush, like these offsets; a process crash keeps both. */
    rmq_store_t *store = s->ctx.store; /* NULL before start (nothing re-stored yet) and after
                                        * stop (the store flushed everything when it closed) */
    bool gate = store && rmq_store_is_sync_flush(store);
    int64_t flushed = gate ? rmq_store_get_flushed_offset(store) : INT64_MAX;
    if (s->has_cand && flushed >= s->cand_cl_end) {
        memcpy(s->durable, s->cand, sizeof(s->durable));
        s->has_cand = false;
    }
    if (memcmp(s->offsets, s->durable, sizeof(s->durable)) != 0) {
        if (flushed >= s->last_cl_end) {
            memcpy(s->durable, s->offsets, sizeof(s->durable));
            s->has_cand = false;
        } else if (!s->has_cand) { /* promoted by a later round, once flushed */
            memcpy(s->cand, s->offsets, sizeof(s->cand));
            s->cand_cl_end = s->last_cl_end;
            s->has_cand = true;
        }
    }
    msgpack_packer pk;
    rmq_mp_packer_init(&pk, out);
    msgpack_pack_array(&pk, RMQ_SCHEDULE_MAX_LEVELS + 1);
    for (int i = 0; i <= RMQ_SCHEDULE_MAX_LEVELS; i++)
        msgpack_pack_int64(&pk, s->durable[i]);
}

rmq_err_t rmq_schedule_unpack(rmq_schedule_t *s, const uint8_t *p, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    rmq_err_t r = RMQ_ERR__CORRUPT;
    if (msgpack_unpack_next(&u, (const char *)p, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_ARRAY) {
        r = RMQ_OK;
        for (uint32_t i = 0; i < u.data.via.array.size && i <= RMQ_SCHEDULE_MAX_LEVELS; i++) {
            msgpack_object *o = &u.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                s->offsets[i] = s->durable[i] = (int64_t)o->via.u64;
            else if (o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
                r = RMQ_ERR__CORRUPT;
        }
    }
    msgpack_unpacked_destroy(&u);
    return r;
}

/* "level": offset */
static void import_level(void *obj, const char *k, json_t *v)
{
    rmq_schedule_t *s = obj;
    int level = atoi(k);
    if (level >= 1 && level <= RMQ_SCHEDULE_MAX_LEVELS && json_is_integer(v))
        s->offsets[level] = s->durable[level] = (int64_t)json_integer_value(v);
}

rmq_err_t rmq_schedule_import_json(rmq_schedule_t *s, const char *text, size_t len)
{
    return rmq_meta_import_json("delayOffset.json", text, len, "offsetTable", import_level, s, NULL);
}

void rmq_schedule_offsets_json(const rmq_schedule_t *s, int max_level, rmq_buf_t *out)
{
    rmq_buf_puts(out, "{\"offsetTable\":{");
    for (int level = 1; level <= max_level && level <= RMQ_SCHEDULE_MAX_LEVELS; level++)
        rmq_buf_printf(out, "%s%d:%lld", level > 1 ? "," : "", level, (long long)(s ? s->offsets[level] : 0));
    rmq_buf_puts(out, "}}");
}

static void schedule_persisted(void *o)
{
    rmq_schedule_t *s = o;
    s->dirty = s->has_cand;
}

RMQ_META_OPS(rmq_schedule_meta_ops, "delayOffset", rmq_schedule_t, rmq_schedule_pack, rmq_schedule_unpack,
             rmq_schedule_import_json, schedule_persisted);
