/* fault.c - latency fault tolerance (MQFaultStrategy,
 * LatencyFaultToleranceImpl) and producer queue selection
 * (TopicPublishInfo.selectOneMessageQueue), docs/protocol.md §7.2.
 *
 * The fault table is shared by the sending threads and the I/O thread (async
 * retries): every access takes f->lock. Selection itself is lock-free apart
 * from the fault table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"

static const int64_t latency_max[] = {50, 100, 550, 1000, 2000, 3000, 15000};
static const int64_t not_available[] = {0, 0, 30000, 60000, 120000, 180000, 600000};
#define NLAT (sizeof(latency_max) / sizeof(latency_max[0]))

void cm_fault_init(cm_fault_t *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
}

void cm_fault_deinit(cm_fault_t *f)
{
    free(f->items);
    pthread_mutex_destroy(&f->lock);
}

int64_t cm_fault_duration(int64_t latency)
{
    for (int i = (int)NLAT - 1; i >= 0; i--)
        if (latency >= latency_max[i])
            return not_available[i];
    return 0;
}

static cm_fault_item_t *find(cm_fault_t *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->items[i].name, name) == 0)
            return &f->items[i];
    return NULL;
}

void cm_fault_update(cm_fault_t *f, const char *broker, int64_t latency, bool isolation, int64_t now)
{
    int64_t lat = isolation ? 30000 : latency;
    int64_t dur = cm_fault_duration(lat);
    pthread_mutex_lock(&f->lock);
    cm_fault_item_t *it = find(f, broker);
    if (!it) {
        f->items = rmq_array_grow(f->items, f->n, &f->cap, 8, sizeof(*f->items));
        it = &f->items[f->n++];
        memset(it, 0, sizeof(*it));
        snprintf(it->name, sizeof(it->name), "%s", broker);
    }
    it->latency = lat;
    it->start_ts = now + dur;
    pthread_mutex_unlock(&f->lock);
}

bool cm_fault_available(cm_fault_t *f, const char *broker, int64_t now)
{
    pthread_mutex_lock(&f->lock);
    cm_fault_item_t *it = find(f, broker);
    bool ok = !it || now >= it->start_ts;
    pthread_mutex_unlock(&f->lock);
    return ok;
}

static int64_t g_now;
static int item_cmp(const void *a, const void *b)
{
    const cm_fault_item_t *x = a, *y = b;
    bool ax = g_now >= x->start_ts, ay = g_now >= y->start_ts;
    if (ax != ay)
        return ax ? -1 : 1;
    if (x->latency != y->latency)
        return x->latency < y->latency ? -1 : 1;
    if (x->start_ts != y->start_ts)
        return x->start_ts < y->start_ts ? -1 : 1;
    return 0;
}

bool cm_fault_pick_one(cm_fault_t *f, int64_t now, uint32_t rnd, char *out, size_t out_size)
{
    pthread_mutex_lock(&f->lock);
    if (f->n == 0) {
        pthread_mutex_unlock(&f->lock);
        return false;
    }
    cm_fault_item_t *tmp = rmq_malloc(f->n * sizeof(*tmp));
    memcpy(tmp, f->items, f->n * sizeof(*tmp));
    size_t n = f->n;
    pthread_mutex_unlock(&f->lock);
    /* the sort's comparator reads g_now; selection is rare (all brokers out) */
    static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sort_lock);
    g_now = now;
    qsort(tmp, n, sizeof(*tmp), item_cmp);
    pthread_mutex_unlock(&sort_lock);
    size_t half = n / 2;
    size_t i = half == 0 ? 0 : rnd % half;
    snprintf(out, out_size, "%s", tmp[i].name);
    free(tmp);
    return true;
}

static uint32_t next_index(_Atomic uint32_t *counter)
{
    return (atomic_fetch_add(counter, 1) + 1) & 0x7FFFFFFF;
}

int cm_select_queue(const cm_route_t *r, _Atomic uint32_t *counter, const char *last_broker,
                    bool fault_enable, cm_fault_t *f, int64_t now, char *alt_broker, size_t alt_size,
                    int32_t *alt_queue_id)
{
    size_t n = r->npub;
    if (alt_queue_id)
        *alt_queue_id = -1;
    if (n == 0)
        return -1;
    if (fault_enable && f) {
        uint32_t index = next_index(counter);
        int fallback = -1;
        for (size_t i = 0; i < n; i++) {
            size_t pos = (index + i) % n;
            if (cm_fault_available(f, r->pub[pos].broker_name, now)) {
                if (!last_broker || strcmp(r->pub[pos].broker_name, last_broker) != 0)
                    return (int)pos;
                if (fallback < 0)
                    fallback = (int)pos;
            }
        }
        if (fallback >= 0)
            return fallback;
        char best[COMET_NAME_MAX];
        if (cm_fault_pick_one(f, now, next_index(counter), best, sizeof(best))) {
            int wq = 0;
            for (size_t i = 0; i < r->nqds; i++)
                if (strcmp(r->qds[i].broker_name, best) == 0 && (r->qds[i].perm & CM_PERM_WRITE))
                    wq = r->qds[i].write_queue_nums;
            if (wq > 0 && alt_broker && alt_queue_id) {
                int pos = (int)(next_index(counter) % n);
                snprintf(alt_broker, alt_size, "%s", best);
                *alt_queue_id = (int32_t)(next_index(counter) % (uint32_t)wq);
                return pos;
            }
        }
        return (int)(next_index(counter) % n);
    }
    if (last_broker) {
        for (size_t i = 0; i < n; i++) {
            size_t pos = next_index(counter) % n;
            if (strcmp(r->pub[pos].broker_name, last_broker) != 0)
                return (int)pos;
        }
    }
    return (int)(next_index(counter) % n);
}
