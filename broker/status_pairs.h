/* status_pairs.h - a published set of runtime-info pairs ("key\0value\0",
 * written with rmq_buf_put_kv): the owner thread rebuilds the whole set and
 * publishes it, the I/O thread walks it for GET_BROKER_RUNTIME_INFO. The
 * replication service (ha/) and the controller (controller/) each keep one.
 * Thread: any; a mutex guards the swap and the walk. */
#ifndef RMQ_BROKER_STATUS_PAIRS_H
#define RMQ_BROKER_STATUS_PAIRS_H

#include <pthread.h>

#include "rmq_buf.h"

typedef struct rmq_status_pairs_s {
    pthread_mutex_t mu;
    rmq_buf_t pairs;
} rmq_status_pairs_t;

void rmq_status_pairs_init(rmq_status_pairs_t *s);
void rmq_status_pairs_deinit(rmq_status_pairs_t *s);
/* Replace the set with *pairs, which is taken (left empty). */
void rmq_status_pairs_publish(rmq_status_pairs_t *s, rmq_buf_t *pairs);
/* f(o, key, value) for each pair, in the order they were put. */
void rmq_status_pairs_each(rmq_status_pairs_t *s, void (*f)(void *o, const char *k, const char *v), void *o);

#endif
