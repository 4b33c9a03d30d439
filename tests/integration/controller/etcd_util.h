/* etcd_util.h - real etcd members for the controller suites: one member or
 * a cluster of several on free loopback ports, each in its own directory
 * under the test's temp dir, stopped by PID (SIGKILL: etcd re-raises
 * SIGTERM instead of exiting 0). The etcd binary is Debian's etcd-server
 * (scripts/deps.sh installs it); `etcd` on PATH or $COMET_ETCD. Test main
 * thread only. */
#ifndef ETCD_UTIL_H
#define ETCD_UTIL_H

#include <stdbool.h>

#include "harness.h"

typedef struct tc_etcd_s {
    th_proc_t proc; /* proc.port is the client port */
    int peer_port;
    char name[16];
    char cluster[1024]; /* --initial-cluster of its cluster */
} tc_etcd_t;

/* Path of the etcd binary, or NULL when there is none (the caller fails
 * loudly: the suites need a real etcd). */
const char *tc_etcd_bin(void);
/* Start n members forming one cluster (n = 1: a single member) and wait until
 * every member serves clients. */
bool tc_etcd_cluster_start(tc_etcd_t *m, int n);
/* The two halves of it: choose directories and ports; start and wait. */
bool tc_etcd_cluster_init(tc_etcd_t *m, int n);
bool tc_etcd_cluster_spawn(tc_etcd_t *m, int n);
/* Start member again (same directory, ports and data: it rejoins). */
bool tc_etcd_restart(tc_etcd_t *m);
/* SIGKILL member (false when it was not running as expected). */
bool tc_etcd_kill(tc_etcd_t *m);
/* "http://127.0.0.1:p1,http://127.0.0.1:p2" of n members into out. */
void tc_etcd_endpoints(const tc_etcd_t *m, int n, char *out, size_t size);
/* Index of the raft leader among the n members as the live ones report it
 * (POST /v3/maintenance/status), or -1 when they do not agree on one. */
int tc_etcd_leader(const tc_etcd_t *m, int n);
/* Make member `to` the raft leader (POST /v3/maintenance/transfer-leadership
 * to the current leader) and wait until every live member says so; true at
 * once when it already is. */
bool tc_etcd_move_leader(const tc_etcd_t *m, int n, int to);

#endif
