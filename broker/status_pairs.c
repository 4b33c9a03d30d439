/* status_pairs.c - the published runtime-info pairs of ha/ and controller/
 * (status_pairs.h). Owns nothing but the set it is given.
 * Thread: publish on the owner's thread (HA, Controller), each on the
 * broker's I/O thread; the mutex is held only for the swap and the walk. */
#include "status_pairs.h"

#include <string.h>

void rmq_status_pairs_init(rmq_status_pairs_t *s)
{
    pthread_mutex_init(&s->mu, NULL);
    rmq_buf_init(&s->pairs);
}

void rmq_status_pairs_deinit(rmq_status_pairs_t *s)
{
    rmq_buf_free(&s->pairs);
    pthread_mutex_destroy(&s->mu);
}

void rmq_status_pairs_publish(rmq_status_pairs_t *s, rmq_buf_t *pairs)
{
    pthread_mutex_lock(&s->mu);
    rmq_buf_free(&s->pairs);
    s->pairs = *pairs;
    pthread_mutex_unlock(&s->mu);
    rmq_buf_init(pairs);
}

void rmq_status_pairs_each(rmq_status_pairs_t *s, void (*f)(void *o, const char *k, const char *v), void *o)
{
    pthread_mutex_lock(&s->mu);
    size_t pos = 0;
    while (pos < s->pairs.len) {
        const char *k = (const char *)s->pairs.data + pos;
        const char *v = k + strlen(k) + 1;
        f(o, k, v);
        pos = (size_t)(v + strlen(v) + 1 - (const char *)s->pairs.data);
    }
    pthread_mutex_unlock(&s->mu);
}
