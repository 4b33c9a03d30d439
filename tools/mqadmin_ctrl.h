/* mqadmin_ctrl.h - mqadmin's controller-mode commands (RocketMQ 5's names):
 * getSyncStateSet (per group: master, epoch, in-sync set, each replica's
 * lag) and getBrokerEpoch (each broker's epoch list). Both read
 * GET_BROKER_RUNTIME_INFO of the brokers the name servers list; no etcd
 * access. Single thread (the command line). */
#ifndef MQADMIN_CTRL_H
#define MQADMIN_CTRL_H

#include <jansson.h>

#include "mqadmin_txn.h" /* mqadmin_call_fn */

/* cluster_info: ClusterInfo JSON; cluster / broker_name filter it (NULL =
 * all). Exit status as mqadmin's. */
int mqadmin_sync_state_set(mqadmin_call_fn *call, json_t *cluster_info, const char *cluster,
                           const char *broker_name);
int mqadmin_broker_epoch(mqadmin_call_fn *call, json_t *cluster_info, const char *cluster,
                         const char *broker_name);

/* GET_BROKER_RUNTIME_INFO's table of the broker at addr (a new
 * reference), or NULL when it did not answer (quietly). */
json_t *mqadmin_runtime_table(mqadmin_call_fn *call, const char *addr);

#endif
