/* rmq_map.c - string-keyed open-addressing hash map. Owner thread only. */
#include "rmq_map.h"

#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void rmq_map_init(rmq_map_t *m, void (*free_val)(void *))
{
    memset(m, 0, sizeof(*m));
    m->free_val = free_val;
}

void rmq_map_deinit(rmq_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            free(m->slots[i].key);
            if (m->free_val)
                m->free_val(m->slots[i].val);
        }
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static rmq_map_slot_t *find(const rmq_map_t *m, const char *key, unsigned h)
{
    if (!m->cap)
        return NULL;
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        rmq_map_slot_t *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && strcmp(s->key, key) == 0)
            return s;
    }
}

void *rmq_map_get(const rmq_map_t *m, const char *key)
{
    rmq_map_slot_t *s = find(m, key, hash_str(key));
    return s ? s->val : NULL;
}

bool rmq_map_has(const rmq_map_t *m, const char *key)
{
    return find(m, key, hash_str(key)) != NULL;
}

static void grow(rmq_map_t *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    rmq_map_slot_t *old = m->slots;
    size_t ocap = m->cap;
    m->slots = rmq_calloc(ncap, sizeof(*m->slots));
    m->cap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].key)
            continue;
        size_t j = old[i].hash & (ncap - 1);
        while (m->slots[j].key)
            j = (j + 1) & (ncap - 1);
        m->slots[j] = old[i];
    }
    free(old);
}

void rmq_map_put(rmq_map_t *m, const char *key, void *val)
{
    unsigned h = hash_str(key);
    rmq_map_slot_t *s = find(m, key, h);
    if (s) {
        if (m->free_val && s->val != val)
            m->free_val(s->val);
        s->val = val;
        return;
    }
    if ((m->count + 1) * 4 > m->cap * 3)
        grow(m);
    size_t j = h & (m->cap - 1);
    while (m->slots[j].key)
        j = (j + 1) & (m->cap - 1);
    m->slots[j].key = rmq_strdup(key);
    m->slots[j].val = val;
    m->slots[j].hash = h;
    m->count++;
}

void *rmq_map_take(rmq_map_t *m, const char *key)
{
    rmq_map_slot_t *s = find(m, key, hash_str(key));
    if (!s)
        return NULL;
    void *val = s->val;
    free(s->key);
    size_t i = (size_t)(s - m->slots);
    m->slots[i].key = NULL;
    m->count--;
    /* backward-shift following entries of the cluster */
    size_t j = (i + 1) & (m->cap - 1);
    while (m->slots[j].key) {
        size_t home = m->slots[j].hash & (m->cap - 1);
        /* can the entry at j move to i? yes if i is cyclically in [home, j) */
        bool move = (j > i) ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
        j = (j + 1) & (m->cap - 1);
    }
    return val;
}

bool rmq_map_del(rmq_map_t *m, const char *key)
{
    if (!rmq_map_has(m, key))
        return false;
    void *v = rmq_map_take(m, key);
    if (m->free_val)
        m->free_val(v);
    return true;
}

bool rmq_map_next(const rmq_map_t *m, size_t *it, const char **key, void **val)
{
    while (*it < m->cap) {
        rmq_map_slot_t *s = &m->slots[(*it)++];
        if (s->key) {
            if (key)
                *key = s->key;
            if (val)
                *val = s->val;
            return true;
        }
    }
    return false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const char **rmq_map_sorted_keys(const rmq_map_t *m, size_t *n)
{
    const char **keys = rmq_malloc((m->count ? m->count : 1) * sizeof(*keys));
    size_t k = 0, it = 0;
    const char *key;
    while (rmq_map_next(m, &it, &key, NULL))
        keys[k++] = key;
    qsort(keys, k, sizeof(*keys), cmp_str);
    *n = k;
    return keys;
}
