/* ha_sync.c - SYNC_MASTER waits (GroupTransferService): a write is answered
 * once a slave in sync acknowledged its end offset, with FLUSH_SLAVE_TIMEOUT
 * after slaveTimeout, or at once with SLAVE_NOT_AVAILABLE when no slave is in
 * sync (connected, past its handshake, within haSlaveFallbehindMax of this
 * log's end) or when the last slave leaves while writes wait.
 *
 * Owns: the waiting writes (one FIFO: they are registered in append order
 * with the same timeout, so the list is ordered by end offset and by
 * deadline alike) and its timer.
 * Runs: on the broker's I/O thread; the HA thread only raises acked_max /
 * slaves_gone_gen and posts one wake-up per batch (rmq_ha_sync_notify).
 * Never: answers PUT_OK for an offset no slave acknowledged. */
#include <stdlib.h>

#include "broker.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

typedef struct ha_waiter_s {
    STAILQ_ENTRY(ha_waiter_s) link;
    int64_t end, deadline;
    rmq_ha_wait_cb *cb;
    void *arg;
} ha_waiter_t;

static void arm(rmq_ha_t *ha);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ha_t *ha = arg;
    int64_t now = rmq_mono_ms();
    ha_waiter_t *w;
    while ((w = STAILQ_FIRST(&ha->waiters)) && w->deadline <= now) {
        STAILQ_REMOVE_HEAD(&ha->waiters, link);
        ha->n_waiters--;
        w->cb(w->arg, RMQ_PUT_FLUSH_SLAVE_TIMEOUT);
        free(w);
    }
    arm(ha);
}

static void arm(rmq_ha_t *ha)
{
    const ha_waiter_t *first = STAILQ_FIRST(&ha->waiters);
    if (!first)
        return;
    if (!ha->ev_wait_timer)
        ha->ev_wait_timer = evtimer_new(ha->b->base, timer_cb, ha);
    rmq_timer_add(ha->ev_wait_timer, first->deadline - rmq_mono_ms()); /* past: at once */
}

void rmq_ha_sync_init(rmq_ha_t *ha)
{
    STAILQ_INIT(&ha->waiters);
    ha->n_waiters = 0;
}

void rmq_ha_sync_deinit(rmq_ha_t *ha)
{
    rmq_ha_sync_complete(ha, RMQ_PUT_FLUSH_SLAVE_TIMEOUT);
    rmq_event_clear(&ha->ev_wait_timer);
}

/* Controller mode: every replica the policy needs acknowledged `end`. */
static bool covered(rmq_ha_t *ha, int64_t end)
{
    for (int id = 1; id < RMQ_HA_MAX_IDS; id++)
        if ((ha->need & ((uint64_t)1 << id)) && atomic_load(&ha->id_acked[id]) < end)
            return false;
    return true;
}

/* Controller mode: the answer for a write whose replicas are done. */
static rmq_put_status_t ctrl_status(rmq_ha_t *ha)
{
    if (rmq_ha_fenced(ha))
        return RMQ_PUT_SERVICE_NOT_AVAILABLE;
    if (ha->isr_size < ha->min_isr)
        return RMQ_PUT_SLAVE_NOT_AVAILABLE;
    return RMQ_PUT_OK;
}

bool rmq_ha_wait(rmq_ha_t *ha, int64_t end, rmq_ha_wait_cb *cb, void *arg, rmq_put_status_t *now)
{
    if (!ha || !ha->sync_master) {
        *now = ha && ha->controlled ? ctrl_status(ha) : RMQ_PUT_OK;
        return false;
    }
    if (ha->controlled) {
        /* the in-sync set in etcd decides, not whichever slave is connected */
        *now = ctrl_status(ha);
        if (*now != RMQ_PUT_OK || covered(ha, end))
            return false;
    } else {
        int ready = atomic_load(&ha->ready_slaves);
        int64_t acked = atomic_load(&ha->acked_max);
        if (ready == 0 || end - acked >= ha->fallbehind) {
            *now = RMQ_PUT_SLAVE_NOT_AVAILABLE;
            return false;
        }
        if (acked >= end) {
            *now = RMQ_PUT_OK;
            return false;
        }
    }
    ha_waiter_t *w = rmq_malloc(sizeof(*w));
    *w = (ha_waiter_t){.end = end, .deadline = rmq_mono_ms() + ha->slave_timeout_ms, .cb = cb, .arg = arg};
    bool first = STAILQ_EMPTY(&ha->waiters);
    STAILQ_INSERT_TAIL(&ha->waiters, w, link);
    ha->n_waiters++;
    if (first)
        arm(ha);
    return true;
}

void rmq_ha_sync_complete(rmq_ha_t *ha, rmq_put_status_t all_status)
{
    int64_t acked = atomic_load(&ha->acked_max);
    ha_waiter_t *w;
    while ((w = STAILQ_FIRST(&ha->waiters)) &&
           (all_status != RMQ_PUT_OK || (ha->controlled ? covered(ha, w->end) : w->end <= acked))) {
        STAILQ_REMOVE_HEAD(&ha->waiters, link);
        ha->n_waiters--;
        rmq_put_status_t st = all_status;
        if (st == RMQ_PUT_OK && ha->controlled)
            st = ctrl_status(ha);
        w->cb(w->arg, st);
        free(w);
    }
    if (!STAILQ_EMPTY(&ha->waiters))
        arm(ha);
    else if (ha->ev_wait_timer)
        evtimer_del(ha->ev_wait_timer);
}

/* @thread io */
static void progress_io(void *arg)
{
    rmq_ha_t *ha = arg;
    atomic_store(&ha->progress_posted, false);
    uint64_t gen = atomic_load(&ha->slaves_gone_gen);
    /* controller mode: waits end when the replica acknowledges or leaves the
     * in-sync set (rmq_ha_ctrl_policy_io), not when it disconnects */
    if (gen != ha->seen_gone_gen && !ha->controlled) {
        ha->seen_gone_gen = gen;
        if (atomic_load(&ha->ready_slaves) == 0 && !STAILQ_EMPTY(&ha->waiters)) {
            rmq_log(RMQ_LOG_WARN, "ha", "no slave left: %zu waiting writes answered SLAVE_NOT_AVAILABLE",
                    ha->n_waiters);
            rmq_ha_sync_complete(ha, RMQ_PUT_SLAVE_NOT_AVAILABLE);
            return;
        }
    }
    rmq_ha_sync_complete(ha, RMQ_PUT_OK);
}

void rmq_ha_sync_notify(rmq_ha_t *ha)
{
    if (!ha->sync_master)
        return;
    if (!atomic_exchange(&ha->progress_posted, true))
        rmq_ha_post_io(ha, progress_io, ha);
}
