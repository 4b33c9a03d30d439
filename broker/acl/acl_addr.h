/* acl_addr.h - RocketMQ's white remote address patterns
 * (RemoteAddressStrategyFactory, RocketMQ 4.9): blank = never matches,
 * "*" / "*.*.*.*" / "*:*:*:*:*:*:*:*" = every address, one IPv4/IPv6
 * address, comma lists "a,b" and "192.168.1.{1,2}", ranges
 * "192.168.1.*", "192.168.1.1-10", "192.168.*.*" and their IPv6 forms.
 * Patterns are checked the way Java checks them, quirks included (a range
 * in the third octet ignores the fourth; IPv6 groups are compared as
 * expanded upper-case text). Patterns Java accepts but then fails on when
 * matching (a NullPointerException for "*.1.2.3") are refused here.
 * Pure data, no I/O: built on the ACL loader thread, matched on the I/O
 * thread. */
#ifndef RMQ_ACL_ADDR_H
#define RMQ_ACL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "rmq_err.h"

typedef enum {
    RMQ_ACL_ADDR_BLANK = 0, /* matches nothing */
    RMQ_ACL_ADDR_ANY,       /* matches everything */
    RMQ_ACL_ADDR_ONE,
    RMQ_ACL_ADDR_MULTI,
    RMQ_ACL_ADDR_RANGE,
} rmq_acl_addr_kind_t;

typedef struct rmq_acl_addr_s {
    rmq_acl_addr_kind_t kind;
    char *one;    /* ONE: the address expanded to 8 upper-case groups (IPv4: as written) */
    char **multi; /* MULTI: IPv4 as written, IPv6 expanded */
    size_t nmulti;
    char *head; /* RANGE: the fixed prefix */
    int start, end, index;
    bool v6; /* RANGE: an IPv6 pattern */
} rmq_acl_addr_t;

/* Parse pattern (NULL or blank = BLANK). On error a Java-like message goes
 * to errstr and a is left BLANK (nothing to free). */
rmq_err_t rmq_acl_addr_parse(rmq_acl_addr_t *a, const char *pattern, char *errstr, size_t errstr_size);
/* ip: the peer's address without port ("1.2.3.4", "::1"). */
bool rmq_acl_addr_match(const rmq_acl_addr_t *a, const char *ip);
void rmq_acl_addr_free(rmq_acl_addr_t *a);

/* commons-validator 1.7's InetAddressValidator rules (IPv4: four decimal
 * parts 0..255 without leading zeros; IPv6: inet_pton). */
bool rmq_acl_valid_ipv4(const char *s);
bool rmq_acl_valid_ipv6(const char *s);
/* AclUtils.expandIP: upper-case, "::" padded to `part` groups, each group
 * left-padded to 4 digits. Heap string. */
char *rmq_acl_expand_ip(const char *addr, int part);

#endif
