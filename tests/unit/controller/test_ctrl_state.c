/* test_ctrl_state.c - controller mode's pure parts: the etcd key layout, the
 * values (JSON both ways, bad values refused), the view of a group, who may
 * stand for election, and the master's in-sync set upkeep. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "controller/ctrl_state.h"

#define B RMQ_CTRL_BIT

Test(ctrl_state, keys)
{
    rmq_ctrl_keys_t k;
    char err[256];
    cr_assert(rmq_ctrl_keys_init(&k, "/comet", "DefaultCluster", "broker-a", 2, err, sizeof(err)), "%s", err);
    cr_assert_str_eq(k.prefix, "/comet/DefaultCluster/broker-a/");
    cr_assert_str_eq(k.leader, "/comet/DefaultCluster/broker-a/leader");
    cr_assert_str_eq(k.state, "/comet/DefaultCluster/broker-a/state");
    cr_assert_str_eq(k.member, "/comet/DefaultCluster/broker-a/members/2");
    cr_assert(rmq_ctrl_keys_init(&k, "/x//", "c", "g", 1, err, sizeof(err)));
    cr_assert_str_eq(k.prefix, "/x/c/g/", "trailing slashes of the prefix are not doubled");
    cr_assert(rmq_ctrl_keys_init(&k, "/", "c", "g", 1, err, sizeof(err)));
    cr_assert_str_eq(k.prefix, "/c/g/");
    /* a '/' in a name would let one group's prefix cover another's */
    cr_assert(!rmq_ctrl_keys_init(&k, "/comet", "c", "broker/a", 1, err, sizeof(err)));
    cr_assert(strstr(err, "brokerName"), "%s", err);
    cr_assert(!rmq_ctrl_keys_init(&k, "comet", "c", "g", 1, err, sizeof(err)),
              "a prefix without a leading /");
    cr_assert(!rmq_ctrl_keys_init(&k, "/comet", "", "g", 1, err, sizeof(err)));
}

Test(ctrl_state, values_round_trip)
{
    char *l = rmq_ctrl_leader_json(7, 2, "10.0.0.2:10911", "10.0.0.2:10912");
    rmq_ctrl_leader_t ld = {0};
    cr_assert(rmq_ctrl_leader_parse(l, &ld), "%s", l);
    cr_assert_eq(ld.epoch, 7);
    cr_assert_eq(ld.broker_id, 2);
    cr_assert_str_eq(ld.ha_addr, "10.0.0.2:10912");
    free(l);
    char *s = rmq_ctrl_state_json(7, 2, B(1) | B(2) | B(63), 12);
    cr_assert(strstr(s, "\"syncStateSet\":[1,2,63]"), "%s", s);
    rmq_ctrl_sstate_t st = {0};
    cr_assert(rmq_ctrl_state_parse(s, &st), "%s", s);
    cr_assert_eq(st.isr, B(1) | B(2) | B(63));
    cr_assert_eq(st.isr_epoch, 12);
    cr_assert_eq(st.master_id, 2);
    free(s);
    char *m = rmq_ctrl_member_json(3, "a:1", "a:2", 4, 1234, 99);
    rmq_ctrl_member_t mb = {0};
    cr_assert(rmq_ctrl_member_parse(m, &mb));
    cr_assert_eq(mb.end_offset, 1234);
    cr_assert_eq(mb.epoch, 4);
    free(m);
    char set[64];
    rmq_ctrl_set_str(B(1) | B(5), set, sizeof(set));
    cr_assert_str_eq(set, "1,5");
    cr_assert_eq(rmq_ctrl_set_count(B(1) | B(5) | B(9)), 3);
}

Test(ctrl_state, bad_values_refused)
{
    rmq_ctrl_leader_t l;
    rmq_ctrl_sstate_t s;
    const char *bad_leader[] = {"",
                                "null",
                                "[]",
                                "{\"epoch\":1}",
                                "{\"epoch\":0,\"brokerId\":1,\"addr\":\"a\",\"haAddr\":\"b\"}",
                                "{\"epoch\":1,\"brokerId\":64,\"addr\":\"a\",\"haAddr\":\"b\"}",
                                "{\"epoch\":\"1\",\"brokerId\":1,\"addr\":\"a\",\"haAddr\":\"b\"}"};
    for (size_t i = 0; i < sizeof(bad_leader) / sizeof(bad_leader[0]); i++)
        cr_assert(!rmq_ctrl_leader_parse(bad_leader[i], &l), "leader value '%s' accepted", bad_leader[i]);
    const char *bad_state[] = {
        "{\"epoch\":1,\"masterId\":1,\"syncStateSetEpoch\":1}",
        "{\"epoch\":1,\"masterId\":1,\"syncStateSet\":[0],\"syncStateSetEpoch\":1}",
        "{\"epoch\":1,\"masterId\":1,\"syncStateSet\":[\"1\"],\"syncStateSetEpoch\":1}",
        "{\"epoch\":1,\"masterId\":1,\"syncStateSet\":[64],\"syncStateSetEpoch\":1}"};
    for (size_t i = 0; i < sizeof(bad_state) / sizeof(bad_state[0]); i++)
        cr_assert(!rmq_ctrl_state_parse(bad_state[i], &s), "state value '%s' accepted", bad_state[i]);
}

static rmq_etcd_kv_t kv(const char *key, const char *value, int64_t lease, int64_t mod)
{
    rmq_etcd_kv_t x = {0};
    x.key = (char *)key;
    x.value = (char *)value;
    x.value_len = strlen(value);
    x.lease = lease;
    x.mod_revision = mod;
    return x;
}

Test(ctrl_state, view_of_a_group)
{
    rmq_ctrl_keys_t k;
    char err[128];
    rmq_ctrl_keys_init(&k, "/comet", "c", "g", 1, err, sizeof(err));
    char *l = rmq_ctrl_leader_json(3, 2, "h2:1", "h2:2");
    char *s = rmq_ctrl_state_json(3, 2, B(1) | B(2), 5);
    char *m1 = rmq_ctrl_member_json(1, "h1:1", "h1:2", 2, 10, 0);
    char *m2 = rmq_ctrl_member_json(2, "h2:1", "h2:2", 3, 20, 0);
    rmq_etcd_kv_t kvs[] = {kv("/comet/c/g/leader", l, 77, 40),     kv("/comet/c/g/members/1", m1, 11, 30),
                           kv("/comet/c/g/members/2", m2, 77, 31), kv("/comet/c/g/members/x", m2, 1, 1),
                           kv("/comet/c/g/state", s, 0, 41),       kv("/comet/c/g/other", "?", 0, 1)};
    rmq_ctrl_view_t v;
    bool corrupt;
    rmq_ctrl_view_parse(&k, kvs, 6, 50, &v, &corrupt);
    cr_assert(!corrupt);
    cr_assert(v.leader.present);
    cr_assert_eq(v.leader.lease, 77);
    cr_assert_eq(v.leader.broker_id, 2);
    cr_assert_eq(v.state.mod_rev, 41);
    cr_assert_eq(v.state.isr, B(1) | B(2));
    cr_assert_eq(v.alive, B(1) | B(2));
    cr_assert_eq(v.bad_values, 1, "members/x is not a member id (%d bad values)", v.bad_values);
    /* a state value that does not decode: flagged, nobody may elect blindly */
    rmq_etcd_kv_t bad[] = {kv("/comet/c/g/state", "{garbage", 0, 9)};
    rmq_ctrl_view_parse(&k, bad, 1, 50, &v, &corrupt);
    cr_assert(corrupt);
    cr_assert(!v.state.present);
    free(l);
    free(s);
    free(m1);
    free(m2);
}

static rmq_ctrl_view_t view(bool state, uint64_t isr, uint64_t alive)
{
    rmq_ctrl_view_t v;
    memset(&v, 0, sizeof(v));
    v.state.present = state;
    v.state.epoch = 4;
    v.state.isr = isr;
    v.alive = alive;
    for (int id = 1; id <= RMQ_CTRL_MAX_ID; id++)
        if (alive & B(id))
            v.members[id].present = true;
    return v;
}

Test(ctrl_state, who_may_stand)
{
    char why[300];
    bool unclean;
    /* in the set: yes */
    rmq_ctrl_view_t v = view(true, B(1) | B(2), B(2));
    cr_assert(rmq_ctrl_electable(&v, 2, 4, 100, false, &unclean, why, sizeof(why)), "%s", why);
    cr_assert(!unclean);
    /* outside it: never without the unclean setting, even when nobody else lives */
    v = view(true, B(1), B(2));
    cr_assert(!rmq_ctrl_electable(&v, 2, 4, 100, false, &unclean, why, sizeof(why)));
    cr_assert(strstr(why, "not in the in-sync set"), "%s", why);
    /* with it: only while no member of the set is alive */
    v = view(true, B(1), B(1) | B(2));
    cr_assert(!rmq_ctrl_electable(&v, 2, 4, 100, true, &unclean, why, sizeof(why)));
    v = view(true, B(1), B(2));
    cr_assert(rmq_ctrl_electable(&v, 2, 4, 100, true, &unclean, why, sizeof(why)));
    cr_assert(unclean, "an election outside the set is not marked unclean");
    /* first election: the most data wins (epoch, then end offset, then the lower id) */
    v = view(false, 0, B(1) | B(2));
    v.members[1].epoch = 3;
    v.members[1].end_offset = 50;
    cr_assert(!rmq_ctrl_electable(&v, 2, 2, 100, false, &unclean, why, sizeof(why)), "a newer epoch lost");
    cr_assert(rmq_ctrl_electable(&v, 2, 3, 100, false, &unclean, why, sizeof(why)), "%s", why);
    v.members[1].end_offset = 100;
    cr_assert(!rmq_ctrl_electable(&v, 2, 3, 100, false, &unclean, why, sizeof(why)),
              "a tie goes to the lower id");
    cr_assert(rmq_ctrl_electable(&v, 1, 3, 100, false, &unclean, why, sizeof(why)));
}

Test(ctrl_state, isr_upkeep)
{
    rmq_ctrl_isr_plan_t p;
    /* master 1, replica 2 in the set but gone: it leaves */
    rmq_ctrl_replica_t none[1] = {{0}};
    rmq_ctrl_isr_plan(B(1) | B(2), 0, none, 0, 1, 1000, 100, &p);
    cr_assert_eq(p.remove, B(2));
    cr_assert_eq(p.add, 0);
    /* replica 2 streaming, far behind: nothing */
    rmq_ctrl_replica_t r = {2, true, 100, -1};
    rmq_ctrl_isr_plan(B(1), 0, &r, 1, 1, 1000, 100, &p);
    cr_assert_eq(p.pending | p.add | p.remove, 0);
    /* close enough: pending (every write waits for it from now on), not yet in the set */
    r.acked = 950;
    rmq_ctrl_isr_plan(B(1), 0, &r, 1, 1, 1000, 100, &p);
    cr_assert_eq(p.pending, B(2));
    cr_assert_eq(p.add, 0, "a replica joined before the writes waited for it");
    /* pending, but its add_hw not published yet / not reached: still pending */
    rmq_ctrl_isr_plan(B(1), B(2), &r, 1, 1, 1000, 100, &p);
    cr_assert_eq(p.add, 0);
    r.add_hw = 1000;
    rmq_ctrl_isr_plan(B(1), B(2), &r, 1, 1, 1200, 100, &p);
    cr_assert_eq(p.add, 0, "joined while lacking acknowledged writes");
    r.acked = 1000;
    rmq_ctrl_isr_plan(B(1), B(2), &r, 1, 1, 1200, 100, &p);
    cr_assert_eq(p.add, B(2));
    /* a pending replica that disconnects is no longer pending */
    r.streaming = false;
    rmq_ctrl_isr_plan(B(1), B(2), &r, 1, 1, 1200, 100, &p);
    cr_assert_eq(p.pending, 0);
    cr_assert_eq(p.add, 0);
    /* removals go first, alone */
    rmq_ctrl_replica_t two[2] = {{2, true, 1000, 1000}, {3, false, 0, -1}};
    rmq_ctrl_isr_plan(B(1) | B(3), B(2), two, 2, 1, 1000, 100, &p);
    cr_assert_eq(p.remove, B(3));
    cr_assert_eq(p.add, 0);
}
