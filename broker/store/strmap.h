/* strmap.h - a small string-keyed hash map (chained) for store tables.
 * Not thread-safe: callers lock. Keys are copied; values are borrowed.
 * Unlike common/rmq_map.h it takes length-delimited keys (topics inside
 * records are not NUL-terminated) and its entries never move, so the writer
 * can cache a pointer to a queue's offset counter. */
#ifndef RMQ_STRMAP_H
#define RMQ_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct rmq_strmap_ent_s {
    struct rmq_strmap_ent_s *next;
    uint32_t hash;
    size_t klen;
    union {
        void *ptr;
        int64_t i64;
    } v;
    char key[];
} rmq_strmap_ent_t;

typedef struct rmq_strmap_s {
    rmq_strmap_ent_t **buckets;
    size_t nbuckets, count;
} rmq_strmap_t;

void rmq_strmap_init(rmq_strmap_t *m);
/* free_val (may be NULL) is called for each pointer value. */
void rmq_strmap_deinit(rmq_strmap_t *m, void (*free_val)(void *));
rmq_strmap_ent_t *rmq_strmap_find(const rmq_strmap_t *m, const char *key, size_t klen);
/* Find or insert (value zeroed). */
rmq_strmap_ent_t *rmq_strmap_upsert(rmq_strmap_t *m, const char *key, size_t klen);
/* Iterate: pass NULL first; returns NULL at the end. */
rmq_strmap_ent_t *rmq_strmap_next(const rmq_strmap_t *m, rmq_strmap_ent_t *prev);

#endif
