/* controller.h - controller mode (enableControllerMode=true): the brokers of
 * a group elect their master through etcd, with leases, epochs, an in-sync
 * set and fencing (RocketMQ 5's controller design; leases and
 * compare-and-swap from etcd instead of a consensus of Comet's own).
 *
 * Each broker runs a "Controller" thread with its own event loop and etcd
 * client (controller/etcd.h). It holds a lease, keeps its member key alive,
 * watches the group's keys, stands for election when the leader key is gone
 * and it may (controller/ctrl_state.h), and tells the replication service
 * and the I/O thread which role to play. The I/O thread never waits for it:
 * the Controller posts closures to the broker's mailbox, and the write path
 * reads two values the Controller publishes (the fencing deadline and the
 * in-sync policy, broker/ha/ha.h). */
#ifndef RMQ_CONTROLLER_H
#define RMQ_CONTROLLER_H

#include <stddef.h>

#include "rmq_err.h"

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_ctrl_s rmq_ctrl_t;

/* Check the controller-mode settings (and refuse controller settings given
 * without enableControllerMode). @thread main, before anything starts */
rmq_err_t rmq_ctrl_check_conf(const rmq_broker_t *b, char *errstr, size_t errstr_size);

/* NULL with errstr when the settings do not hold. @thread main */
rmq_ctrl_t *rmq_ctrl_new(rmq_broker_t *b, char *errstr, size_t errstr_size);
/* Start the Controller thread (after the store, the I/O loop and the HA
 * service exist) and wait a bounded time for the first word from etcd:
 * another live broker with this replica id refuses the start
 * (RMQ_ERR__STATE, errstr says who); etcd out of reach only delays it (the
 * broker starts as a replica and says so). @thread main */
rmq_err_t rmq_ctrl_start(rmq_ctrl_t *c, char *errstr, size_t errstr_size);
/* Shutdown: a master gives up its lease (the others elect a new master at
 * once instead of after the time-to-live), bounded; then the thread stops.
 * @thread io or main */
void rmq_ctrl_stop(rmq_ctrl_t *c);
void rmq_ctrl_destroy(rmq_ctrl_t *c);

/* Controller state as key/value pairs for GET_BROKER_RUNTIME_INFO (role,
 * epoch, master, in-sync set, lease, fencing). @thread io */
void rmq_ctrl_runtime_info(rmq_ctrl_t *c, void (*kv)(void *o, const char *k, const char *v), void *o);

#endif
