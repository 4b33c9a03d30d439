/* cluster.h - helpers for the libcomet integration suites: a name server and
 * N masters (brokerName a, b, ...) on free loopback ports, topic creation on
 * every master, waiting for the route, a thread-safe set of message ids.
 * Test main thread (the id set is locked). */
#ifndef COMET_IT_CLUSTER_H
#define COMET_IT_CLUSTER_H

#include <comet/comet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define CL_MAX_BROKERS 3

typedef struct cluster_s {
    th_proc_t ns;
    th_proc_t brokers[CL_MAX_BROKERS];
    int nbrokers;
    char ns_addr[64];
    char tmp[256];
} cluster_t;

bool cl_start(cluster_t *c, int nbrokers, const char *extra_broker_conf);
void cl_stop(cluster_t *c);
/* Create topic with `queues` queues on every live master and wait until the
 * name server's route lists `expect_brokers` of them. */
bool cl_create_topic(cluster_t *c, const char *topic, int queues, int expect_brokers);
/* A conf with namesrvAddr and test-friendly short intervals. */
comet_conf_t *cl_conf(cluster_t *c, const char *group_key, const char *group);

/* A set of strings with a duplicate counter. */
typedef struct idset_s {
    pthread_mutex_t lock;
    char **v;
    size_t n, cap;
    size_t dups;
} idset_t;

void ids_init(idset_t *s);
void ids_free(idset_t *s);
/* true when new */
bool ids_add(idset_t *s, const char *id);
bool ids_has(idset_t *s, const char *id);
size_t ids_count(idset_t *s);
/* How many ids of `want` are missing from `have`. */
size_t ids_missing(idset_t *want, idset_t *have, char *first_missing, size_t n);

#endif
