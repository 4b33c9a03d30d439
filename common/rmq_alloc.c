/* rmq_alloc.c - OOM-aborting allocation wrappers. Any thread. */
#include "rmq_alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_log.h"

static void oom(size_t n)
{
    rmq_log(RMQ_LOG_ERROR, "alloc", "out of memory allocating %zu bytes", n);
    abort();
}

void *rmq_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *rmq_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *rmq_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *rmq_array_grow(void *items, size_t n, size_t *cap, size_t first_cap, size_t elem_size)
{
    if (n < *cap)
        return items;
    *cap = *cap ? *cap * 2 : first_cap;
    return rmq_realloc(items, *cap * elem_size);
}

char *rmq_strdup(const char *s)
{
    return rmq_strndup(s, strlen(s));
}

char *rmq_strndup(const char *s, size_t n)
{
    char *p = rmq_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rmq_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        oom(0);
    return s;
}

void rmq_assert_fail(const char *expr, const char *file, int line)
{
    rmq_log(RMQ_LOG_ERROR, "assert", "assertion failed: %s at %s:%d", expr, file, line);
    abort();
}
