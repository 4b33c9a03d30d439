/* ha.h - master/slave replication (the broker's HA service).
 *
 * A master listens on haListenPort; each slave connects, says where its
 * commit log ends, and receives the master's commit-log bytes verbatim
 * (whole records, batches of haTransferBatchSize) plus metadata snapshots
 * (topics, subscription groups, consumer offsets, delay progress) on the
 * same stream (proto/comet_ha.proto). A SYNC_MASTER answers a write only
 * once a slave in sync acknowledged it.
 *
 * Threads: the "HAService" thread runs its own event loop (listener,
 * connections, streaming, the slave's appends); it never touches broker
 * tables. The broker's I/O thread owns the SYNC_MASTER waits and builds /
 * applies metadata; the two hand work to each other through mailboxes. */
#ifndef RMQ_HA_H
#define RMQ_HA_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"
#include "rmq_store.h"

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_ha_s rmq_ha_t;

/* Check the replication settings (role, broker id, ports, sizes) and create
 * the service; NULL with the reason in errstr. @thread main, before start */
rmq_ha_t *rmq_ha_new(rmq_broker_t *b, char *errstr, size_t errstr_size);
/* After the store is open and the I/O loop exists: a master begins a new
 * epoch and listens on haListenPort; a slave connects to its master once it
 * knows the address (haMasterAddress or a name server's answer). */
rmq_err_t rmq_ha_start(rmq_ha_t *ha, char *errstr, size_t errstr_size);
/* Close every connection and stop the HA thread. SYNC_MASTER sends still
 * waiting are answered FLUSH_SLAVE_TIMEOUT (the messages are stored).
 * @thread io (or main after the loop ended) */
void rmq_ha_stop(rmq_ha_t *ha);
void rmq_ha_destroy(rmq_ha_t *ha);

/* ---- @thread io ---- */

/* A slave learnt its master's addresses from a REGISTER_BROKER answer
 * (ignored when haMasterAddress is set). */
void rmq_ha_set_master(rmq_ha_t *ha, const char *ha_addr, const char *master_addr);

/* SYNC_MASTER: a write ending at commit-log offset `end` must be
 * acknowledged by a slave in sync before it is answered. Returns true when
 * the wait is registered: cb(arg, status) runs later on the I/O thread,
 * exactly once, with PUT_OK, FLUSH_SLAVE_TIMEOUT (after slaveTimeout) or
 * SLAVE_NOT_AVAILABLE (every slave left). Returns false when nothing is to
 * wait for, with *now = PUT_OK (not a SYNC_MASTER) or SLAVE_NOT_AVAILABLE
 * (no slave in sync: connected and within haSlaveFallbehindMax). */
typedef void rmq_ha_wait_cb(void *arg, rmq_put_status_t status);
bool rmq_ha_wait(rmq_ha_t *ha, int64_t end, rmq_ha_wait_cb *cb, void *arg, rmq_put_status_t *now);

typedef enum {
    RMQ_HA_META_TOPICS = 1,
    RMQ_HA_META_GROUPS = 2,
    RMQ_HA_META_OFFSETS = 3,
    RMQ_HA_META_DELAY = 4,
} rmq_ha_meta_kind_t;

/* A table changed (it is being persisted): a master sends it to its slaves;
 * a slave with offsets its clients committed while it had no master sends
 * those to the master. */
void rmq_ha_meta_changed(rmq_ha_t *ha, rmq_ha_meta_kind_t kind);
/* A slave stored an offset a client committed to it (UPDATE_CONSUMER_OFFSET):
 * it is kept as the slave's own until the master holds at least as much, and
 * sent to the master (the larger offset wins on both sides). */
void rmq_ha_local_offset(rmq_ha_t *ha, const char *group, const char *topic, int32_t queue_id,
                         int64_t offset);

/* Replication state as "key":value pairs of a JSON object body (no braces),
 * for GET_BROKER_RUNTIME_INFO and mqadmin: role, epoch, connected slaves
 * with their acknowledged offsets and lag, or the master a slave follows. */
void rmq_ha_runtime_info(rmq_ha_t *ha, void (*kv)(void *o, const char *k, const char *v), void *o);

/* ---- controller mode (broker/controller decides, ha_ctrl.c carries out) ----
 *
 * The broker starts as a replica following nobody; its HA port is open
 * from the start (a replica refuses slaves with NOT_MASTER). Writes are
 * acknowledged only while the Controller's fencing deadline lies ahead, and
 * a SYNC_MASTER write only once every replica of the policy's `need` set
 * acknowledged it (the in-sync set in etcd plus replicas about to join it),
 * not once any slave did. */

/* Become the master of `epoch`: (HA thread) stop following, begin the epoch
 * at the log's end in the epoch file unless it is already the newest, take
 * slaves; then done(arg) runs on the I/O thread. @thread any */
void rmq_ha_ctrl_lead(rmq_ha_t *ha, int64_t epoch, void (*done)(void *arg), void *arg);
/* Become a replica: writes still waiting are answered SERVICE_NOT_AVAILABLE;
 * (HA thread) the slaves are dropped and the master at master_ha_addr ("" =
 * none known yet) is followed, refusing a master of an epoch below
 * min_epoch. @thread io */
void rmq_ha_ctrl_follow_io(rmq_ha_t *ha, const char *master_ha_addr, int64_t min_epoch);
/* Writes may be acknowledged until this CLOCK_BOOTTIME millisecond (0:
 * none). @thread any */
void rmq_ha_ctrl_fence(rmq_ha_t *ha, int64_t until_boot_ms);
/* need: replica ids (bit id) whose acknowledgement every SYNC_MASTER write
 * needs; isr_size: members of the in-sync set, master included; below
 * min_isr writes are refused. A replica that enters `need` records the log
 * end at that moment (its add_hw): it holds every acknowledged write once it
 * acknowledged that far. Waiting writes are re-examined. @thread io */
void rmq_ha_ctrl_policy_io(rmq_ha_t *ha, uint64_t need, int isr_size, int min_isr);

typedef struct rmq_ha_replica_s {
    int64_t id;
    bool streaming; /* connected to this master and past its handshake */
    int64_t acked;  /* its acknowledged commit-log end */
    int64_t add_hw; /* -1, or its add_hw (above) */
} rmq_ha_replica_t;
/* The replicas streaming from this master. @thread any */
size_t rmq_ha_ctrl_replicas(rmq_ha_t *ha, rmq_ha_replica_t *out, size_t max);

/* Controller mode: the fencing deadline has passed (or this broker does not
 * lead). Callers ask it only to refuse or withhold a write's answer, so each
 * true is counted. @thread any */
bool rmq_ha_fenced(rmq_ha_t *ha);
/* How many times rmq_ha_fenced said true so far. @thread any */
int64_t rmq_ha_fence_refusals(rmq_ha_t *ha);
/* 0 when a write may be stored now, else the response code refusing it
 * (SERVICE_NOT_AVAILABLE when fenced, SYSTEM_ERROR when the in-sync set is
 * smaller than minInSyncReplicas) with the remark in why. @thread io */
int rmq_ha_write_refusal(rmq_ha_t *ha, char *why, size_t why_size);

#endif
