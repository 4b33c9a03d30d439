/* malloc_count.c - an LD_PRELOAD library that counts heap calls (malloc,
 * calloc, realloc, posix_memalign, aligned_alloc, free) of a whole process,
 * to measure heap churn per message:
 *
 *   LD_PRELOAD=build/lib/libmalloc_count.so mqbench consumer ...
 *
 * prints "malloc_count: ..." on stderr at exit. A program may look up
 * malloc_count_get / malloc_count_reset with dlsym(RTLD_DEFAULT, ...) to
 * count over its measured interval only (mqbench does: its JSON line then
 * has client_allocs_per_msg).
 * Any thread (relaxed atomics); the real functions come from dlsym(RTLD_NEXT).
 * calloc before dlsym has resolved (dlsym itself may calloc) is served from a
 * small static arena. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);

static atomic_llong n_alloc, n_free, n_bytes;
static _Alignas(16) char boot[8192];
static atomic_size_t boot_used;
static int resolving;

static void resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_free = dlsym(RTLD_NEXT, "free");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    resolving = 0;
}

static void count(size_t bytes)
{
    atomic_fetch_add_explicit(&n_alloc, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&n_bytes, (long long)bytes, memory_order_relaxed);
}

void *malloc(size_t n)
{
    resolve();
    count(n);
    return real_malloc(n);
}

void *calloc(size_t a, size_t b)
{
    if (!real_calloc) {
        resolve();
        if (!real_calloc) { /* dlsym's own calloc */
            size_t n = (a * b + 15) & ~(size_t)15;
            size_t off = atomic_fetch_add(&boot_used, n);
            return off + n <= sizeof(boot) ? boot + off : NULL;
        }
    }
    count(a * b);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
    resolve();
    if (!p)
        count(n);
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || ((char *)p >= boot && (char *)p < boot + sizeof(boot)))
        return;
    resolve();
    atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    count(n);
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    count(n);
    return real_aligned_alloc(align, n);
}

/* Called by the program (dlsym(RTLD_DEFAULT, "malloc_count_reset")) or
 * never: mqbench calls it when its measured interval starts. */
void malloc_count_reset(void)
{
    atomic_store(&n_alloc, 0);
    atomic_store(&n_free, 0);
    atomic_store(&n_bytes, 0);
}

void malloc_count_get(long long *allocs, long long *frees, long long *bytes)
{
    *allocs = atomic_load(&n_alloc);
    *frees = atomic_load(&n_free);
    *bytes = atomic_load(&n_bytes);
}

__attribute__((destructor)) static void report(void)
{
    char line[160];
    int n = snprintf(line, sizeof(line), "malloc_count: %lld allocations, %lld frees, %lld bytes\n",
                     (long long)n_alloc, (long long)n_free, (long long)n_bytes);
    if (n > 0)
        (void)!write(2, line, (size_t)n);
}
