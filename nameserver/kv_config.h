/* kv_config.h - the name server's namespaced key/value store (RocketMQ
 * KVConfigManager), persisted as {"configTable":{ns:{k:v}}} in kvConfigPath.
 * Tables belong to the name server thread; persisting hands a snapshot to a
 * writer thread so the event loop never blocks on fsync. */
#ifndef NS_KV_CONFIG_H
#define NS_KV_CONFIG_H

#include <stdbool.h>

#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_map.h"

typedef struct ns_kv_s ns_kv_t;

/* Load from path (missing file = empty; corrupt file = error). */
ns_kv_t *ns_kv_open(const char *path, char *errstr, size_t errstr_size);
/* Flushes pending writes, stops the writer thread, frees. */
void ns_kv_close(ns_kv_t *kv);
void ns_kv_put(ns_kv_t *kv, const char *ns, const char *key, const char *value);
const char *ns_kv_get(const ns_kv_t *kv, const char *ns, const char *key);
bool ns_kv_delete(ns_kv_t *kv, const char *ns, const char *key);
/* {"table":{k:v}} of a namespace; false if the namespace is empty/unknown. */
bool ns_kv_list(const ns_kv_t *kv, const char *ns, rmq_buf_t *out);
/* Wait until everything put so far is on disk (tests, shutdown). */
rmq_err_t ns_kv_sync(ns_kv_t *kv);

#endif
