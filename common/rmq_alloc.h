/* rmq_alloc.h - allocation that aborts on out-of-memory (servers, as Redis
 * zmalloc). Any thread. */
#ifndef RMQ_ALLOC_H
#define RMQ_ALLOC_H

#include <stddef.h>

void *rmq_malloc(size_t n);
void *rmq_calloc(size_t count, size_t n);
void *rmq_realloc(void *p, size_t n);
char *rmq_strdup(const char *s);
char *rmq_strndup(const char *s, size_t n);
/* Room for element n of the array items (capacity *cap elements of
 * elem_size bytes): when it is full, *cap doubles (first_cap at first) and
 * the array moves. Returns the array. */
void *rmq_array_grow(void *items, size_t n, size_t *cap, size_t first_cap, size_t elem_size);
/* printf into a new heap string. */
char *rmq_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Broken invariant: log file:line and abort. Enabled in release builds. */
#define rmq_assert(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond))                                                                                         \
            rmq_assert_fail(#cond, __FILE__, __LINE__);                                                      \
    } while (0)
void rmq_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#endif
