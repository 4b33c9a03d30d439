/* ctrl_state.h - what controller mode keeps in etcd for one broker group, and
 * the decisions taken from it. Pure: no I/O, no threads (unit-tested).
 *
 * Keys, under <etcdKeyPrefix>/<cluster>/<brokerName>/:
 *   leader        bound to the master's lease: {"epoch","brokerId","addr","haAddr"}.
 *                 It exists while the master's lease lives; creating it is winning
 *                 an election.
 *   state         not leased: {"epoch","masterId","syncStateSet":[ids],
 *                 "syncStateSetEpoch"}: the last epoch ever begun, its master, and
 *                 the in-sync set (RocketMQ 5's syncStateSet: the master and the
 *                 replicas holding every acknowledged write). Changed only by
 *                 compare-and-swap on its mod_revision.
 *   members/<id>  bound to each broker's own lease: {"brokerId","addr","haAddr",
 *                 "epoch","endOffset","startedAt"}: who is alive, and at start who
 *                 holds the most data.
 *
 * Replica ids are the brokers' configured brokerId, 1..RMQ_CTRL_MAX_ID, unique
 * in the group; the master registers with the name servers as 0. */
#ifndef RMQ_CTRL_STATE_H
#define RMQ_CTRL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/etcd.h"

#define RMQ_CTRL_MAX_ID 63
#define RMQ_CTRL_BIT(id) ((uint64_t)1 << (id))

typedef struct rmq_ctrl_keys_s {
    char prefix[512]; /* ends with '/' */
    char leader[560];
    char state[560];
    char members[560]; /* prefix of the member keys */
    char member[600];  /* this broker's */
} rmq_ctrl_keys_t;

/* False (why in errstr) when a name cannot be part of a key: empty, or with
 * '/' (one group's keys would cover another's). */
bool rmq_ctrl_keys_init(rmq_ctrl_keys_t *k, const char *key_prefix, const char *cluster, const char *group,
                        int64_t my_id, char *errstr, size_t n);

typedef struct rmq_ctrl_leader_s {
    bool present;
    int64_t epoch, broker_id;
    char addr[128], ha_addr[128];
    int64_t lease, create_rev, mod_rev;
} rmq_ctrl_leader_t;

typedef struct rmq_ctrl_sstate_s {
    bool present;
    int64_t epoch, master_id;
    uint64_t isr; /* bit id per member of the in-sync set */
    int64_t isr_epoch;
    int64_t mod_rev;
} rmq_ctrl_sstate_t;

typedef struct rmq_ctrl_member_s {
    bool present;
    char addr[128], ha_addr[128];
    int64_t epoch, end_offset, started_at;
    int64_t lease, mod_rev;
} rmq_ctrl_member_t;

/* The group as one range read of its prefix saw it. */
typedef struct rmq_ctrl_view_s {
    int64_t revision;
    rmq_ctrl_leader_t leader;
    rmq_ctrl_sstate_t state;
    rmq_ctrl_member_t members[RMQ_CTRL_MAX_ID + 1];
    uint64_t alive; /* bit id per member key present */
    int bad_values; /* keys under the prefix whose value did not decode (ignored) */
} rmq_ctrl_view_t;

/* Decode a range answer of the group's prefix. Unknown keys are ignored; a
 * value that does not decode counts in bad_values and is treated as absent
 * (except the state key: then *state_corrupt is set and nobody may change it
 * blindly). */
void rmq_ctrl_view_parse(const rmq_ctrl_keys_t *k, const rmq_etcd_kv_t *kvs, size_t n, int64_t revision,
                         rmq_ctrl_view_t *v, bool *state_corrupt);

/* Values as JSON text (heap). */
char *rmq_ctrl_leader_json(int64_t epoch, int64_t id, const char *addr, const char *ha_addr);
char *rmq_ctrl_state_json(int64_t epoch, int64_t master_id, uint64_t isr, int64_t isr_epoch);
char *rmq_ctrl_member_json(int64_t id, const char *addr, const char *ha_addr, int64_t epoch,
                           int64_t end_offset, int64_t started_at);
bool rmq_ctrl_leader_parse(const char *json, rmq_ctrl_leader_t *out);
bool rmq_ctrl_state_parse(const char *json, rmq_ctrl_sstate_t *out);
bool rmq_ctrl_member_parse(const char *json, rmq_ctrl_member_t *out);
/* "1,2" for a set (into out). */
void rmq_ctrl_set_str(uint64_t set, char *out, size_t n);
int rmq_ctrl_set_count(uint64_t set);

/* ---- decisions ---- */

/* May this replica try to become master now that there is no leader key?
 *  - with a state key: only a member of the in-sync set; with
 *    enableElectUncleanMaster also a replica outside it, but only while no
 *    member of the set is alive (has a member key);
 *  - without one (the group's first election): the live member with the
 *    newest (epoch, endOffset), the lowest id on a tie.
 * why says which rule decided (for the log). */
bool rmq_ctrl_electable(const rmq_ctrl_view_t *v, int64_t my_id, int64_t my_epoch, int64_t my_end,
                        bool unclean, bool *is_unclean, char *why, size_t n);

/* One replica as the master's HA service sees it. */
typedef struct rmq_ctrl_replica_s {
    int64_t id;
    bool streaming; /* connected and past its handshake */
    int64_t acked;  /* its acknowledged commit-log end */
    int64_t add_hw; /* >= 0: it is required for every write since the
                     * highest acknowledged end was add_hw (a pending add) */
} rmq_ctrl_replica_t;

typedef struct rmq_ctrl_isr_plan_s {
    uint64_t remove;  /* leave the in-sync set (one CAS) */
    uint64_t add;     /* join it (one CAS; only when nothing is removed) */
    uint64_t pending; /* required by every write from now on, not yet in the set */
} rmq_ctrl_isr_plan_t;

/* The master's in-sync set upkeep (RocketMQ 5's syncStateSet rules with
 * Kafka's order of steps):
 *  - a member that is not streaming, or is more than fallbehind bytes
 *    behind, leaves the set;
 *  - a streaming replica within fallbehind bytes of end becomes pending: the
 *    master waits for its acknowledgement on every write from then on;
 *  - a pending replica joins once it acknowledged add_hw (everything any
 *    write was acknowledged for before it became pending); a pending one
 *    that stopped streaming is no longer pending.
 * isr includes the master itself (my_id). */
void rmq_ctrl_isr_plan(uint64_t isr, uint64_t pending, const rmq_ctrl_replica_t *r, size_t nr, int64_t my_id,
                       int64_t end, int64_t fallbehind, rmq_ctrl_isr_plan_t *out);

#endif
