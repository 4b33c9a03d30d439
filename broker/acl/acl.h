/* acl.h - the broker's plain ACL (aclEnable=true): the rules in force, the
 * check run before every request on the client and VIP ports (as Java's
 * server RPC hook), and the watcher that reloads the files.
 *
 * Files: rocketmq.acl.plain.file (default conf/plain_acl.yml; relative to
 * rocketmqHome, else $ROCKETMQ_HOME) and <home>/conf/acl/ (every *.yml,
 * *.yaml). The watcher thread stats them every aclFileWatchInterval ms;
 * when anything changed it parses them off the I/O thread and posts the new
 * rules through the broker's mailbox, where they replace the old ones at
 * once. A file that does not load is reported and the previous rules stay.
 *
 * A refused request gets SYSTEM_ERROR with Java's AclException remark (no
 * answer for oneway requests), as a 4.9.8 broker answers. */
#ifndef RMQ_ACL_H
#define RMQ_ACL_H

#include <stddef.h>
#include <stdint.h>

#include "rmq_conn.h"
#include "rmq_err.h"
#include "rmq_mailbox.h"
#include "rmq_netguard.h"

typedef struct rmq_acl_s rmq_acl_t;

/* What the service needs from its owner (the broker): its settings and
 * where to post. */
typedef struct rmq_acl_ctx_s {
    const char *rocketmq_home; /* rocketmqHome; NULL or "": $ROCKETMQ_HOME */
    const char *plain_file;    /* rocketmq.acl.plain.file; NULL or "": conf/plain_acl.yml */
    int watch_interval_ms;     /* aclFileWatchInterval (<= 0: 5000) */
    rmq_mailbox_t *mbox;       /* the I/O thread's: new rules are swapped in there */
    rmq_netguard_t *guard;     /* NULL or: rate-limits the refusal log lines per address */
} rmq_acl_ctx_t;

/* Resolve the paths, load the rules (an invalid file fails the start) and
 * start the watcher thread. @thread main, before the loop. */
rmq_acl_t *rmq_acl_start(const rmq_acl_ctx_t *ctx, char *errstr, size_t errstr_size);
/* Check every request of ep before its handler. @thread main/io */
void rmq_acl_install(rmq_acl_t *a, rmq_endpoint_t *ep);
/* Stop and join the watcher (posts already in the mailbox stay valid until
 * rmq_acl_free). */
void rmq_acl_stop(rmq_acl_t *a);
/* After the mailbox was drained. NULL is a no-op. */
void rmq_acl_free(rmq_acl_t *a);

/* Counters for logs and tests (I/O thread). */
uint64_t rmq_acl_reloads(const rmq_acl_t *a);

#endif
