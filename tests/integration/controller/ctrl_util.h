/* ctrl_util.h - helpers of the controller-mode suite: a group of two
 * brokers in controller mode with real etcd members and a name server, the
 * controller state read from GET_BROKER_RUNTIME_INFO, a send load through
 * libcomet that records every answer (which broker stored it, where, when),
 * and the check that every acknowledged message sits at its commit-log
 * offset in a store and can be pulled from a broker. Test main thread,
 * except the load's sender threads. */
#ifndef CTRL_UTIL_H
#define CTRL_UTIL_H

#include <stdbool.h>
#include <stdint.h>

#include "etcd_util.h"
#include "ha_util.h"
#include "harness_broker.h"

#define CG_GROUP "broker-c"
#define CG_TOPIC "FoTopic"
#define CG_QUEUES 4
#define CG_TTL_S 3

typedef struct cg_s {
    tc_etcd_t etcd[3];
    int n_etcd;
    th_proc_t ns;
    th_proc_t br[2];
    ha_proxy_t *proxy[2]; /* per broker, in front of etcd[0] (partition test) */
    char extra[1024];     /* lines every broker's configuration gets */
} cg_t;

/* n_etcd members, a name server, brokers 1 and 2 in controller mode
 * (SYNC_MASTER, SYNC_FLUSH unless extra says otherwise); with proxies each
 * broker reaches etcd[0] through its own proxy. Waits until one is master
 * and the in-sync set holds both; creates CG_TOPIC on the master and waits
 * until the replica has it. Returns the master's index, -1 on failure. */
int cg_start(cg_t *g, int n_etcd, bool proxies, const char *extra);
void cg_stop(cg_t *g);
/* Start broker i (0 or 1: replica id i+1) again. */
bool cg_restart(cg_t *g, int i);
/* The etcdEndpoints broker i uses. */
void cg_endpoints(const cg_t *g, int i, char *out, size_t n);

/* Controller state of the broker on port (runtime info). */
bool cg_info(int port, const char *key, char *out, size_t n);
int64_t cg_info_i64(int port, const char *key, int64_t def);
/* Broker i is an unfenced master. */
bool cg_is_master(const cg_t *g, int i);
/* Wait for an unfenced master other than `not` (-1: any): its index or -1. */
int cg_wait_master(cg_t *g, int not, int timeout_ms);
/* The master's in-sync set is `set` ("1,2"). */
bool cg_wait_isr(cg_t *g, int master, const char *set, int timeout_ms);

/* ---- load ---- */

typedef struct cg_ack_s {
    int err;        /* comet_err_t of the send; 0 with status SEND_OK = acknowledged */
    int status;     /* comet_send_status_t */
    int port;       /* listen port of the broker that stored it (from its offset message id) */
    int64_t offset; /* commit-log offset */
    int64_t t_ack;  /* rmq_mono_ms() when the answer came */
    char body[32];
} cg_ack_t;

typedef struct cg_load_s cg_load_t;
/* `threads` senders of one libcomet producer (sync sends, bodies
 * "w<thread>-<n>", padded to body_size with "|xxx..." when larger) to
 * CG_TOPIC through the name server. */
cg_load_t *cg_load_start(int ns_port, int threads, size_t body_size);
int64_t cg_load_ok(cg_load_t *l);
int64_t cg_load_failed(cg_load_t *l);
/* rmq_mono_ms() of the first acknowledgement stored by the broker on port
 * and received after `after`; -1 none yet. */
int64_t cg_load_first_ack(cg_load_t *l, int port, int64_t after);
/* Acknowledgements by the broker on port received after `after`. */
int64_t cg_load_acks_from(cg_load_t *l, int port, int64_t after);
void cg_load_stop(cg_load_t *l);
/* The failed answers received after `after` (rmq_mono_ms()), described in
 * out ("+<ms> <error or status>", the first few); how many there were. */
int64_t cg_load_failures(cg_load_t *l, int64_t after, char *out, size_t n);
/* Every answer so far (array owned by the load, valid until free). */
size_t cg_load_results(cg_load_t *l, cg_ack_t **out);
void cg_load_free(cg_load_t *l);

/* Every acknowledged message of the load: the record at its commit-log
 * offset in store_dir has its body, and it is pulled from the broker on
 * port (CG_TOPIC, all queues). False with the first few problems in why. */
bool cg_verify_acked(cg_load_t *l, const char *store_dir, int port, char *why, size_t n);

#endif
