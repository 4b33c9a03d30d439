/* mqadmin_txn.h - mqadmin pendingTransactions: half messages still waiting
 * for END_TRANSACTION, per master. Single thread (the command line). */
#ifndef MQADMIN_TXN_H
#define MQADMIN_TXN_H

#include <jansson.h>
#include <stdbool.h>

#include "rmq_cmd.h"

/* one request to addr; 0 when a response arrived (in *resp) */
typedef int mqadmin_call_fn(const char *addr, rmq_cmd_t *req, rmq_cmd_t *resp, bool quiet);

/* Ask every master of cluster_info (ClusterInfo JSON), or only broker_addr
 * when given, for the pending half messages of group (NULL = all groups):
 * prints one line per broker with the count and the oldest age. Exit status
 * as mqadmin's. */
int mqadmin_pending_transactions(mqadmin_call_fn *call, json_t *cluster_info, const char *broker_addr,
                                 const char *group);

#endif
