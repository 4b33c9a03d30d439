/* acl_check.h - one request against the ACL rules: RocketMQ 4.9's
 * PlainAccessValidator.parse (the resources a request needs, the signed
 * content) and PlainPermissionManager.validate / checkPerm, in Java's order:
 *   1. resources from the request (HEART_BEAT: its body) - a body that does
 *      not decode is refused here, before anything else;
 *   2. the peer in globalWhiteRemoteAddresses: allowed;
 *   3. no AccessKey / unknown AccessKey: refused;
 *   4. the peer in the account's whiteRemoteAddress: allowed;
 *   5. Signature over the extFields (minus Signature and _UNIQUE_KEY_QUERY)
 *      and the body with the account's secret: refused on mismatch;
 *   6. a send to RMQ_SYS_TRACE_TOPIC: allowed;
 *   7. admin-only codes (17, 25, 215, 200, 207) need admin: true;
 *   8. every needed resource (in the order Java's HashMap iterates them)
 *      against topicPerms/groupPerms or the account's defaults.
 * A refusal's text is the remark Java's broker sends: SYSTEM_ERROR with
 * "org.apache.rocketmq.acl.common.AclException: <message>, <frame>", the
 * frame being the Java source line that throws (remoting answers a failed
 * RPC hook with the exception's toString and its first stack frame).
 * Pure: no I/O, no globals; I/O thread (and the fuzzer). */
#ifndef RMQ_ACL_CHECK_H
#define RMQ_ACL_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "acl_rules.h"
#include "rmq_cmd.h"

typedef enum {
    RMQ_ACL_ALLOWED = 0,
    RMQ_ACL_REFUSED_PARSE,     /* the request's resources could not be read */
    RMQ_ACL_REFUSED_NO_KEY,    /* no AccessKey */
    RMQ_ACL_REFUSED_UNKNOWN,   /* AccessKey not configured */
    RMQ_ACL_REFUSED_SIGNATURE, /* signature missing or wrong */
    RMQ_ACL_REFUSED_ADMIN,     /* admin-only request code */
    RMQ_ACL_REFUSED_PERM,      /* a topic or group permission */
} rmq_acl_verdict_t;

/* Check req from peer_ip (no port). On refusal, remark receives Java's
 * remark (truncated to remark_size). */
rmq_acl_verdict_t rmq_acl_check(const rmq_acl_rules_t *rules, const rmq_cmd_t *req, const char *peer_ip,
                                char *remark, size_t remark_size);

/* Reorder distinct keys (given in insertion order) as java.util.HashMap
 * iterates them; the check walks needed resources in that order. */
void rmq_acl_java_hashmap_order(const char **keys, size_t n);

/* True for the codes RocketMQ reserves to admin accounts. */
bool rmq_acl_admin_code(int code);

#endif
