/* process_queue.c - ProcessQueue: the messages of one queue that were
 * pulled and are not yet consumed, in offset order. It answers the
 * at-least-once question: the committable offset is the oldest message still
 * being consumed (or max + 1 when nothing is cached).
 *
 * Filled on the I/O thread, emptied by consume threads / poll(); every
 * access takes pq->lock. Refcounted so that consume tasks can outlive a
 * rebalance that drops the queue. Also cm_ring_grow, the growth of a ring
 * array (the process queue's and the pull consumer's buffer). */
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"

cm_pq_t *cm_pq_new(void)
{
    cm_pq_t *pq = rmq_calloc(1, sizeof(*pq));
    pq->refs = 1;
    pq->max_offset = -1;
    pthread_mutex_init(&pq->lock, NULL);
    return pq;
}

void cm_pq_hold(cm_pq_t *pq)
{
    atomic_fetch_add(&pq->refs, 1);
}

void cm_pq_clear(cm_pq_t *pq)
{
    pthread_mutex_lock(&pq->lock);
    for (size_t i = 0; i < pq->len; i++) {
        cm_pq_entry_t *e = &pq->e[(pq->head + i) % pq->cap];
        if (!e->done)
            comet_message_ext_destroy(e->msg);
        e->msg = NULL;
    }
    pq->head = pq->len = 0;
    pq->count = pq->bytes = 0;
    pthread_mutex_unlock(&pq->lock);
}

void cm_pq_release(cm_pq_t *pq)
{
    if (!pq || atomic_fetch_sub(&pq->refs, 1) != 1)
        return;
    cm_pq_clear(pq);
    free(pq->e);
    pthread_mutex_destroy(&pq->lock);
    free(pq);
}

void *cm_ring_grow(void *ring, size_t size, size_t head, size_t len, size_t cap, size_t ncap)
{
    uint8_t *n = rmq_calloc(ncap, size);
    if (len) {
        size_t first = cap - head < len ? cap - head : len; /* from head to the end of the old array */
        memcpy(n, (uint8_t *)ring + head * size, first * size);
        memcpy(n + first * size, ring, (len - first) * size);
    }
    free(ring);
    return n;
}

static void grow(cm_pq_t *pq, size_t need)
{
    if (pq->len + need <= pq->cap)
        return;
    size_t ncap = pq->cap ? pq->cap : 64;
    while (ncap < pq->len + need)
        ncap *= 2;
    pq->e = cm_ring_grow(pq->e, sizeof(*pq->e), pq->head, pq->len, pq->cap, ncap);
    pq->cap = ncap;
    pq->head = 0;
}

void cm_pq_add(cm_pq_t *pq, comet_message_ext_t **msgs, size_t n)
{
    pthread_mutex_lock(&pq->lock);
    grow(pq, n);
    for (size_t i = 0; i < n; i++) {
        if (msgs[i]->queue_offset <= pq->max_offset) { /* duplicate of a cached offset */
            comet_message_ext_destroy(msgs[i]);
            msgs[i] = NULL;
            continue;
        }
        cm_pq_entry_t *e = &pq->e[(pq->head + pq->len) % pq->cap];
        e->offset = msgs[i]->queue_offset;
        e->msg = msgs[i];
        e->done = false;
        pq->len++;
        pq->count++;
        pq->bytes += msgs[i]->body_len;
        pq->max_offset = e->offset;
    }
    pthread_mutex_unlock(&pq->lock);
}

static cm_pq_entry_t *find(cm_pq_t *pq, int64_t off)
{
    size_t lo = 0, hi = pq->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        cm_pq_entry_t *e = &pq->e[(pq->head + mid) % pq->cap];
        if (e->offset == off)
            return e;
        if (e->offset < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int64_t cm_pq_remove(cm_pq_t *pq, const int64_t *offsets, size_t n)
{
    pthread_mutex_lock(&pq->lock);
    for (size_t i = 0; i < n; i++) {
        cm_pq_entry_t *e = find(pq, offsets[i]);
        if (!e || e->done)
            continue;
        e->done = true;
        pq->count--;
        pq->bytes -= e->msg ? e->msg->body_len : 0;
        e->msg = NULL; /* owned by whoever consumed it */
    }
    while (pq->len && pq->e[pq->head].done) {
        pq->head = (pq->head + 1) % pq->cap;
        pq->len--;
    }
    int64_t r = pq->len ? pq->e[pq->head].offset : (pq->max_offset >= 0 ? pq->max_offset + 1 : -1);
    pthread_mutex_unlock(&pq->lock);
    return r;
}

int64_t cm_pq_commit_offset(cm_pq_t *pq)
{
    pthread_mutex_lock(&pq->lock);
    int64_t r = pq->len ? pq->e[pq->head].offset : (pq->max_offset >= 0 ? pq->max_offset + 1 : -1);
    pthread_mutex_unlock(&pq->lock);
    return r;
}

void cm_pq_stats(cm_pq_t *pq, size_t *count, size_t *bytes, int64_t *span)
{
    pthread_mutex_lock(&pq->lock);
    if (count)
        *count = pq->count;
    if (bytes)
        *bytes = pq->bytes;
    if (span)
        *span = pq->len ? pq->max_offset - pq->e[pq->head].offset : 0;
    pthread_mutex_unlock(&pq->lock);
}

size_t cm_pq_peek_first(cm_pq_t *pq, comet_message_ext_t **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&pq->lock);
    for (size_t i = 0; i < pq->len && n < max; i++) {
        cm_pq_entry_t *e = &pq->e[(pq->head + i) % pq->cap];
        if (!e->done)
            out[n++] = e->msg;
    }
    pthread_mutex_unlock(&pq->lock);
    return n;
}
