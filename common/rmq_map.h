/* rmq_map.h - string-keyed hash map (keys copied and owned, values borrowed
 * or owned per the caller's free function). Open addressing, linear probing,
 * tombstone-free deletion (backward shift). Not thread-safe: one owner. */
#ifndef RMQ_MAP_H
#define RMQ_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rmq_map_slot_s {
    char *key; /* NULL = empty */
    void *val;
    unsigned hash;
} rmq_map_slot_t;

typedef struct rmq_map_s {
    rmq_map_slot_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
    void (*free_val)(void *val); /* called on delete/destroy/replace; may be NULL */
} rmq_map_t;

void rmq_map_init(rmq_map_t *m, void (*free_val)(void *));
void rmq_map_deinit(rmq_map_t *m);
void *rmq_map_get(const rmq_map_t *m, const char *key);
bool rmq_map_has(const rmq_map_t *m, const char *key);
/* Insert or replace (the old value is freed with free_val). */
void rmq_map_put(rmq_map_t *m, const char *key, void *val);
/* Remove; returns true if it was there (value freed with free_val). */
bool rmq_map_del(rmq_map_t *m, const char *key);
/* Remove without freeing the value; returns it (NULL if absent). */
void *rmq_map_take(rmq_map_t *m, const char *key);
static inline size_t rmq_map_count(const rmq_map_t *m)
{
    return m->count;
}

/* Iterate: for (size_t it = 0; rmq_map_next(m, &it, &k, &v);) { ... }
 * Deleting the current key during iteration is not allowed; collect first. */
bool rmq_map_next(const rmq_map_t *m, size_t *it, const char **key, void **val);
/* Keys sorted by strcmp, in a new array of borrowed pointers (free() it). */
const char **rmq_map_sorted_keys(const rmq_map_t *m, size_t *n);

#endif
