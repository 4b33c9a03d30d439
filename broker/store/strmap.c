/* strmap.c - string-keyed chained hash map for the store's tables
 * (consume-queue table, per-queue offset table).
 * Owns: its entries. Runs on whichever thread holds the caller's lock.
 * Must never: be used without the owner's lock when shared. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"

static uint32_t hash(const char *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)k[i]) * 16777619u;
    return h;
}

void rmq_strmap_init(rmq_strmap_t *m)
{
    m->nbuckets = 64;
    m->count = 0;
    m->buckets = rmq_calloc(m->nbuckets, sizeof(*m->buckets));
}

void rmq_strmap_deinit(rmq_strmap_t *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        rmq_strmap_ent_t *e = m->buckets[i];
        while (e) {
            rmq_strmap_ent_t *n = e->next;
            if (free_val && e->v.ptr)
                free_val(e->v.ptr);
            free(e);
            e = n;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

rmq_strmap_ent_t *rmq_strmap_find(const rmq_strmap_t *m, const char *key, size_t klen)
{
    uint32_t h = hash(key, klen);
    for (rmq_strmap_ent_t *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    return NULL;
}

static void grow(rmq_strmap_t *m)
{
    size_t nb = m->nbuckets * 2;
    rmq_strmap_ent_t **b = rmq_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        rmq_strmap_ent_t *e = m->buckets[i];
        while (e) {
            rmq_strmap_ent_t *n = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = n;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

rmq_strmap_ent_t *rmq_strmap_upsert(rmq_strmap_t *m, const char *key, size_t klen)
{
    rmq_strmap_ent_t *e = rmq_strmap_find(m, key, klen);
    if (e)
        return e;
    if (m->count >= m->nbuckets)
        grow(m);
    e = rmq_calloc(1, sizeof(*e) + klen + 1);
    e->hash = hash(key, klen);
    e->klen = klen;
    memcpy(e->key, key, klen);
    size_t b = e->hash & (m->nbuckets - 1);
    e->next = m->buckets[b];
    m->buckets[b] = e;
    m->count++;
    return e;
}

rmq_strmap_ent_t *rmq_strmap_next(const rmq_strmap_t *m, rmq_strmap_ent_t *prev)
{
    size_t b = 0;
    if (prev) {
        if (prev->next)
            return prev->next;
        b = (prev->hash & (m->nbuckets - 1)) + 1;
    }
    for (; b < m->nbuckets; b++)
        if (m->buckets[b])
            return m->buckets[b];
    return NULL;
}
