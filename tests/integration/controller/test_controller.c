/* test_controller.c - automatic failover (controller mode) with real etcd
 * members, a name server and two brokers of one group, under a send load
 * through libcomet (SYNC_MASTER + SYNC_FLUSH unless said otherwise):
 *   - kill -9 of the master: a new master, sends resume, nothing
 *     acknowledged is missing; the old master returns as a replica;
 *   - a master whose log ran past the new master's (ASYNC_MASTER, the
 *     replica stopped): it cuts the tail, counted in its log, and catches up;
 *   - the master cut from etcd only: it is fenced, the replica is elected,
 *     and every acknowledged message was acknowledged by one epoch;
 *   - 20 rounds of kill / restart: nothing acknowledged lost;
 *   - one of three etcd members killed: no failover, no failed send;
 *   - etcd lost while running, etcd out of reach at start, two brokers with
 *     one id, and settings that do not hold.
 * Times are measured and printed ("controller:" lines), never asserted. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl_util.h"
#include "rmq_time.h"

static cg_t g;
static cg_load_t *load;

static void teardown(void)
{
    if (load)
        cg_load_free(load);
    load = NULL;
    for (int i = 0; i < 2; i++)
        if (g.br[i].pid > 0)
            kill(g.br[i].pid, SIGCONT); /* a stopped replica must be able to stop */
    cg_stop(&g);
}

TestSuite(controller, .fini = teardown, .timeout = 1200);

static char *store_of(int i, char *out, size_t n)
{
    snprintf(out, n, "%s/store", g.br[i].dir);
    return out;
}

/* The acknowledged offset of replica `id` as master `port` reports it. */
static int64_t replica_acked(int port, int id)
{
    char key[32], v[512];
    snprintf(key, sizeof(key), "haSlave%d", id);
    if (!cg_info(port, key, v, sizeof(v)))
        return -1;
    const char *a = strstr(v, "ackOffset=");
    return a ? strtoll(a + 10, NULL, 10) : -1;
}

/* Run mqadmin with args (printf-style) against the group's name server;
 * its stdout into out. */
static int mqadmin(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int mqadmin(char *out, size_t n, const char *fmt, ...)
{
    char exe[512], args[512], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "%s %s -n 127.0.0.1:%d", th_bin("mqadmin", exe, sizeof(exe)), args, g.ns.port);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "cannot run %s", cmd);
    size_t got = fread(out, 1, n - 1, p);
    out[got] = 0;
    return pclose(p);
}

static void verify_on(int i, const char *when)
{
    char dir[300], why[2048];
    bool ok = cg_verify_acked(load, store_of(i, dir, sizeof(dir)), g.br[i].port, why, sizeof(why));
    cr_assert(ok, "%s: acknowledged messages missing on broker %d: %s", when, i + 1, why);
}

/* Fails if no new master is elected after the master dies, if sends are not
 * acknowledged by it, if any acknowledged message is not at its commit-log
 * offset on the new master or cannot be pulled from it, or if the old master
 * does not come back as a replica in step with the new one. */
Test(controller, kill9_master_under_load_then_old_master_returns)
{
    int m = cg_start(&g, 1, false, NULL);
    cr_assert(m >= 0, "the group did not come up");
    int s = 1 - m;
    int64_t epoch0 = cg_info_i64(g.br[m].port, "controllerEpoch", -1);
    load = cg_load_start(g.ns.port, 4, 0);
    cr_assert(TH_WAIT_UNTIL(cg_load_ok(load) >= 1000, 180000),
              "fewer than 1000 sends acknowledged (%lld failed)", (long long)cg_load_failed(load));
    int64_t before = cg_load_ok(load);
    int64_t t_kill = rmq_mono_ms();
    cr_assert(th_proc_stop(&g.br[m], SIGKILL));
    int nm = cg_wait_master(&g, m, 60000);
    cr_assert_eq(nm, s, "the replica was not elected after the master died");
    int64_t t_elected = rmq_mono_ms();
    int64_t epoch1 = cg_info_i64(g.br[s].port, "controllerEpoch", -1);
    cr_assert_gt(epoch1, epoch0, "the new master did not raise the epoch (%lld -> %lld)", (long long)epoch0,
                 (long long)epoch1);
    cr_assert(TH_WAIT_UNTIL(cg_load_first_ack(load, g.br[s].port, t_kill) > 0, 60000),
              "no send was acknowledged by the new master");
    int64_t t_first = cg_load_first_ack(load, g.br[s].port, t_kill);
    cr_assert(TH_WAIT_UNTIL(cg_load_acks_from(load, g.br[s].port, t_kill) >= 500, 120000),
              "fewer than 500 sends acknowledged by the new master");
    cg_load_stop(load);
    printf("controller: kill -9 under SYNC_MASTER+SYNC_FLUSH load (4 senders): %lld acknowledged before the "
           "kill, "
           "new master elected (seen) %lld ms and first acknowledgement by it %lld ms after the kill, epoch "
           "%lld "
           "-> %lld, %lld sends failed in all\n",
           (long long)before, (long long)(t_elected - t_kill), (long long)(t_first - t_kill),
           (long long)epoch0, (long long)epoch1, (long long)cg_load_failed(load));
    verify_on(s, "after the failover");

    /* the old master returns: a replica of the new one, in step */
    cr_assert(cg_restart(&g, m));
    char role[32];
    cr_assert(
        TH_WAIT_UNTIL(cg_info(g.br[m].port, "controllerRole", role, sizeof(role)) && !strcmp(role, "REPLICA"),
                      30000),
        "the old master did not come back as a replica");
    cr_assert(cg_wait_isr(&g, s, "1,2", 60000), "the old master did not rejoin the in-sync set");
    cr_assert(ha_wait_caught_up(g.br[s].port, g.br[m].port, 60000), "the old master did not catch up");
    char a[300], b[300], why[512];
    int64_t end = cg_info_i64(g.br[s].port, "commitLogMaxOffset", -1);
    cr_assert(ha_same_commitlog(store_of(s, a, sizeof(a)), store_of(m, b, sizeof(b)), end, why, sizeof(why)),
              "the returned master's log differs from the new master's: %s", why);
    printf("controller: the old master %s\n", th_log_contains(&g.br[m], "discarded", 0)
                                                  ? "cut an unacknowledged tail (see its log) and caught up"
                                                  : "had nothing past the new epoch's start and caught up");
    verify_on(m, "on the returned old master");

    /* mqadmin shows it: the master, its epoch, both replicas in sync with their lag, both epoch lists */
    char out[8192], want[160];
    cr_assert_eq(mqadmin(out, sizeof(out), "getSyncStateSet -b %s", CG_GROUP), 0, "%s", out);
    snprintf(want, sizeof(want), "#MasterAddr\t127.0.0.1:%d", g.br[s].port);
    cr_assert(strstr(out, want), "getSyncStateSet does not name the master (%s):\n%s", want, out);
    snprintf(want, sizeof(want), "#MasterEpoch\t%lld", (long long)epoch1);
    cr_assert(strstr(out, want), "getSyncStateSet: no %s:\n%s", want, out);
    cr_assert(strstr(out, "#SyncStateSetNums\t2"), "%s", out);
    snprintf(want, sizeof(want),
             "InSyncReplica:\tReplicaIdentity{brokerId=%d, brokerAddress='127.0.0.1:%d'}\tonline\tackOffset=",
             m + 1, g.br[m].port);
    cr_assert(strstr(out, want), "getSyncStateSet does not show the returned replica with its lag:\n%s", out);
    printf("controller: mqadmin getSyncStateSet:%s", out);
    cr_assert_eq(mqadmin(out, sizeof(out), "getBrokerEpoch -b %s", CG_GROUP), 0, "%s", out);
    snprintf(want, sizeof(want), "EpochEntry{epoch=%lld, startOffset=", (long long)epoch1);
    char *first = strstr(out, want);
    cr_assert(first && strstr(first + 1, want),
              "getBrokerEpoch does not show epoch %lld on both brokers:\n%s", (long long)epoch1, out);
    printf("controller: mqadmin getBrokerEpoch:%s", out);
}

/* Fails if a master whose log ran past the new master's does not cut exactly
 * the bytes past the new epoch's start, say how many in its log, and end up
 * byte-identical to the new master. ASYNC_MASTER so that the master's log
 * can run far ahead of a stopped replica while both stay in the in-sync
 * set (asynchronous writes are not covered by the no-loss guarantee). */
Test(controller, returning_master_cuts_its_tail)
{
    /* the replica is stopped for a moment: it must not count as gone
     * meanwhile, neither as a silent connection nor as a member that stopped
     * acknowledging (it would leave the in-sync set) */
    int m = cg_start(&g, 1, false,
                     "brokerRole=ASYNC_MASTER\nflushDiskType=ASYNC_FLUSH\nhaHousekeepingInterval=60000\n"
                     "slaveTimeout=60000\n");
    cr_assert(m >= 0, "the group did not come up");
    int s = 1 - m;
    load = cg_load_start(g.ns.port, 2, 256 * 1024);
    cr_assert(TH_WAIT_UNTIL(cg_load_ok(load) >= 20, 60000));
    /* the replica stops reading; the master goes on far past what the
     * replication link and the socket buffers can hold */
    int64_t acked = replica_acked(g.br[m].port, s + 1);
    cr_assert_geq(acked, 0);
    cr_assert_eq(kill(g.br[s].pid, SIGSTOP), 0);
    bool ahead = TH_WAIT_UNTIL(cg_info_i64(g.br[m].port, "commitLogMaxOffset", 0) - acked > 48 << 20, 120000);
    cg_load_stop(load);
    cr_assert(ahead, "the master did not get 48 MiB ahead of the stopped replica");
    int64_t old_end = cg_info_i64(g.br[m].port, "commitLogMaxOffset", -1);
    cr_assert(th_proc_stop(&g.br[m], SIGKILL));
    cr_assert_eq(kill(g.br[s].pid, SIGCONT), 0);
    cr_assert_eq(cg_wait_master(&g, m, 60000), s, "the replica was not elected");
    int64_t start = cg_info_i64(g.br[s].port, "commitLogMaxOffset", -1); /* nothing written since */
    cr_assert_lt(start, old_end, "the replica received everything: no tail to cut");
    cr_assert(cg_restart(&g, m));
    char line[128];
    snprintf(line, sizeof(line), "%lld bytes after offset %lld discarded", (long long)(old_end - start),
             (long long)start);
    cr_assert(th_log_contains(&g.br[m], line, 60000), "the old master's log does not say \"%s\"", line);
    cr_assert(ha_wait_caught_up(g.br[s].port, g.br[m].port, 60000));
    char a[300], b[300], why[512];
    cr_assert(
        ha_same_commitlog(store_of(s, a, sizeof(a)), store_of(m, b, sizeof(b)), start, why, sizeof(why)),
        "%s", why);
    cr_assert(cg_wait_isr(&g, s, "1,2", 60000), "the old master did not rejoin the in-sync set");
    printf(
        "controller: the returning master cut %lld bytes (its log ran to %lld, epoch %lld began at %lld)\n",
        (long long)(old_end - start), (long long)old_end,
        (long long)cg_info_i64(g.br[s].port, "controllerEpoch", -1), (long long)start);
}

/* Fails if the master cut from etcd (not from clients or its replica) goes
 * on acknowledging after the replica took over, if it is not fenced, if the
 * replica is not elected, or if after healing any acknowledged message is
 * missing from its commit-log offset on the final master. */
Test(controller, partition_from_etcd_fences_and_fails_over)
{
    int m = cg_start(&g, 1, true, NULL);
    cr_assert(m >= 0, "the group did not come up");
    int s = 1 - m;
    int64_t epoch0 = cg_info_i64(g.br[m].port, "controllerEpoch", -1);
    load = cg_load_start(g.ns.port, 4, 0);
    cr_assert(TH_WAIT_UNTIL(cg_load_ok(load) >= 500, 120000));
    int64_t t_cut = rmq_mono_ms();
    ha_proxy_cut(g.proxy[m], true);
    char v[32];
    cr_assert(
        TH_WAIT_UNTIL(cg_info(g.br[m].port, "controllerFenced", v, sizeof(v)) && !strcmp(v, "true"), 60000),
        "the master cut from etcd was never fenced");
    int64_t t_fenced = rmq_mono_ms();
    cr_assert_eq(cg_wait_master(&g, m, 60000), s, "the replica was not elected");
    int64_t t_elected = rmq_mono_ms();
    cr_assert(TH_WAIT_UNTIL(cg_load_acks_from(load, g.br[s].port, t_cut) >= 300, 120000),
              "sends did not resume on the new master");
    /* split brain: no acknowledgement by the old master once the new one acknowledged */
    int64_t first_new = cg_load_first_ack(load, g.br[s].port, t_cut);
    cr_assert_eq(cg_load_acks_from(load, g.br[m].port, first_new - 1), 0,
                 "the old master acknowledged writes after the new master did (split brain)");
    int64_t last_old = -1;
    cg_ack_t *r;
    size_t n = cg_load_results(load, &r);
    for (size_t i = 0; i < n; i++)
        if (r[i].err == 0 && r[i].port == g.br[m].port && r[i].t_ack > last_old)
            last_old = r[i].t_ack;
    /* heal: the old master finds the new leader, follows it, catches up */
    ha_proxy_cut(g.proxy[m], false);
    char role[32];
    cr_assert(
        TH_WAIT_UNTIL(cg_info(g.br[m].port, "controllerRole", role, sizeof(role)) && !strcmp(role, "REPLICA"),
                      60000),
        "the old master did not step down after the partition healed");
    cr_assert(cg_wait_isr(&g, s, "1,2", 60000), "the old master did not rejoin the in-sync set");
    cg_load_stop(load);
    cr_assert(ha_wait_caught_up(g.br[s].port, g.br[m].port, 60000));
    verify_on(s, "after the partition healed");
    verify_on(m, "on the old master after it rejoined");
    cr_assert_gt(cg_info_i64(g.br[s].port, "controllerEpoch", -1), epoch0);
    printf("controller: master cut from etcd: fenced (seen) %lld ms after the cut, its last acknowledgement "
           "%lld ms "
           "after it, replica elected (seen) %lld ms and first acknowledgement by it %lld ms after the cut; "
           "%lld "
           "sends failed\n",
           (long long)(t_fenced - t_cut), (long long)(last_old - t_cut), (long long)(t_elected - t_cut),
           (long long)(first_new - t_cut), (long long)cg_load_failed(load));
}

/* Fails if a replica that stops acknowledging (SIGSTOP: connected, silent)
 * keeps every SYNC_MASTER write waiting, i.e. if it does not leave the
 * in-sync set after slaveTimeout so that the master acknowledges alone, or
 * if it does not rejoin once it runs again. */
Test(controller, stalled_replica_leaves_the_in_sync_set)
{
    int m = cg_start(&g, 1, false, NULL);
    cr_assert(m >= 0, "the group did not come up");
    int s = 1 - m;
    load = cg_load_start(g.ns.port, 4, 0);
    cr_assert(TH_WAIT_UNTIL(cg_load_ok(load) >= 300, 120000));
    cr_assert_eq(kill(g.br[s].pid, SIGSTOP), 0);
    int64_t t_stop = rmq_mono_ms();
    char alone[8];
    snprintf(alone, sizeof(alone), "%d", m + 1);
    cr_assert(cg_wait_isr(&g, m, alone, 60000), "the stopped replica never left the in-sync set");
    int64_t t_out = rmq_mono_ms();
    cr_assert(TH_WAIT_UNTIL(cg_load_acks_from(load, g.br[m].port, t_out) >= 200, 60000),
              "the master did not acknowledge alone once the replica left the set");
    cr_assert_eq(kill(g.br[s].pid, SIGCONT), 0);
    cr_assert(cg_wait_isr(&g, m, "1,2", 120000), "the replica did not rejoin the in-sync set");
    cg_load_stop(load);
    verify_on(m, "after the replica stalled");
    printf(
        "controller: replica stopped: out of the in-sync set (seen) %lld ms later (slaveTimeout 3000 ms)\n",
        (long long)(t_out - t_stop));
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fails if a round does not recover (a new master acknowledging sends, the
 * killed broker back in the in-sync set) or if any message acknowledged in
 * any round is missing from the final master. */
Test(controller, twenty_rounds_of_kill_and_restart)
{
    int rounds = getenv("COMET_FAILOVER_ROUNDS") ? atoi(getenv("COMET_FAILOVER_ROUNDS")) : 20;
    if (rounds < 1 || rounds > 200)
        rounds = 20;
    int m = cg_start(&g, 1, false, NULL);
    cr_assert(m >= 0, "the group did not come up");
    load = cg_load_start(g.ns.port, 4, 0);
    int64_t times[200];
    for (int round = 0; round < rounds; round++) {
        int64_t t_round = rmq_mono_ms();
        cr_assert(TH_WAIT_UNTIL(cg_load_acks_from(load, g.br[m].port, t_round) >= 100, 120000),
                  "round %d: the master did not acknowledge sends", round);
        int64_t t_kill = rmq_mono_ms();
        cr_assert(th_proc_stop(&g.br[m], SIGKILL));
        int nm = cg_wait_master(&g, m, 60000);
        cr_assert(nm >= 0, "round %d: no new master", round);
        cr_assert(TH_WAIT_UNTIL(cg_load_first_ack(load, g.br[nm].port, t_kill) > 0, 60000),
                  "round %d: no acknowledgement by the new master", round);
        times[round] = cg_load_first_ack(load, g.br[nm].port, t_kill) - t_kill;
        cr_assert(cg_restart(&g, m), "round %d: the killed broker did not restart", round);
        cr_assert(cg_wait_isr(&g, nm, "1,2", 120000), "round %d: the restarted broker did not rejoin", round);
        printf("controller: round %d: broker %d killed, broker %d acknowledged %lld ms later\n", round + 1,
               m + 1, nm + 1, (long long)times[round]);
        fflush(stdout);
        m = nm;
    }
    cg_load_stop(load);
    verify_on(m, "after all rounds");
    qsort(times, (size_t)rounds, sizeof(times[0]), cmp_i64);
    printf("controller: %d rounds: kill -9 -> first acknowledgement by the new master: min %lld ms, p50 %lld "
           "ms, "
           "p90 %lld ms, max %lld ms; %lld sends acknowledged, %lld failed\n",
           rounds, (long long)times[0], (long long)times[rounds / 2], (long long)times[rounds * 9 / 10],
           (long long)times[rounds - 1], (long long)cg_load_ok(load), (long long)cg_load_failed(load));
}

/* Kill the etcd member the master talks to, first made (leader=false) a
 * raft follower or (leader=true) the raft leader, while two senders run;
 * then check that nothing moved and no send failed. */
static void kill_the_masters_etcd_member(bool leader, int ttl_s)
{
    char extra[64]; /* the later etcdLeaseTtlSeconds line wins, as in Java's Properties */
    snprintf(extra, sizeof(extra), "etcdLeaseTtlSeconds=%d\n", ttl_s);
    int m = cg_start(&g, 3, false, extra);
    cr_assert(m >= 0, "the group did not come up");
    int64_t epoch0 = cg_info_i64(g.br[m].port, "controllerEpoch", -1);
    load = cg_load_start(g.ns.port, 2, 0);
    cr_assert(TH_WAIT_UNTIL(cg_load_ok(load) >= 200, 60000));
    char ep[64];
    cr_assert(cg_info(g.br[m].port, "etcdEndpoint", ep, sizeof(ep)));
    int victim = -1;
    for (int i = 0; i < 3; i++) {
        char n[64];
        snprintf(n, sizeof(n), "127.0.0.1:%d", g.etcd[i].proc.port);
        if (!strcmp(n, ep))
            victim = i;
    }
    cr_assert_geq(victim, 0, "the master names etcd endpoint %s, none of the three members", ep);
    int other = (victim + 1) % 3;
    cr_assert(tc_etcd_move_leader(g.etcd, 3, leader ? victim : other),
              "could not make member %d the raft leader", leader ? victim : other);
    int raft_leader = tc_etcd_leader(g.etcd, 3);
    cr_assert(leader ? raft_leader == victim : raft_leader != victim,
              "member %d (the master's) is %s the raft leader (leader %d)", victim, leader ? "not" : "still",
              raft_leader);
    int64_t refusals0 = cg_info_i64(g.br[m].port, "controllerFenceRefusals", -1);
    cr_assert_geq(refusals0, 0, "the master does not report controllerFenceRefusals");
    int64_t failed0 = cg_load_failed(load), t0 = rmq_mono_ms();
    cr_assert(tc_etcd_kill(&g.etcd[victim]));
    /* a while with the member down: several lease renewals and reads */
    bool fenced = false;
    int64_t ok0 = cg_load_ok(load);
    int64_t ttl_ms = ttl_s * 1000;
    TH_WAIT_UNTIL(__extension__({
                      char f[16];
                      if (cg_info(g.br[m].port, "controllerFenced", f, sizeof(f)) && !strcmp(f, "true"))
                          fenced = true;
                      rmq_mono_ms() - t0 > 4 * ttl_ms &&cg_load_ok(load) > ok0 + 100;
                  }),
                  120000);
    char why[512];
    int64_t bad = cg_load_failures(load, t0, why, sizeof(why));
    cr_assert(!fenced, "the master was fenced while two of three etcd members were up");
    /* the runtime info is the Controller thread's snapshot of its last tick:
     * a refusal in the last 100 ms shows as a failed send below */
    int64_t refusals = cg_info_i64(g.br[m].port, "controllerFenceRefusals", -1) - refusals0;
    cr_assert_eq(refusals, 0,
                 "the master refused %lld writes at its fence (between two checks) while two of three etcd "
                 "members were up (log %s)",
                 (long long)refusals, g.br[m].log);
    cr_assert(cg_is_master(&g, m), "the master lost its role");
    cr_assert_eq(cg_info_i64(g.br[m].port, "controllerEpoch", -1), epoch0, "an election happened");
    cr_assert_eq(cg_load_failed(load), failed0,
                 "%lld sends failed while etcd member %d (the raft %s) was down: %s (master log %s)",
                 (long long)bad, victim, leader ? "leader" : "follower", why, g.br[m].log);
    cr_assert(tc_etcd_restart(&g.etcd[victim]));
    cg_load_stop(load);
    verify_on(m, "after one etcd member died");
    printf("controller: etcd member %d of 3 (the master's, raft %s) killed: master, epoch and every send "
           "unaffected (%lld acknowledged)\n",
           victim, leader ? "leader" : "follower", (long long)cg_load_ok(load));
}

/* Fails if killing one of three etcd members, the one the master talks to
 * (a raft follower), moves the master, fences it even briefly, or fails a
 * send, at the default lease TTL. */
Test(controller, one_of_three_etcd_members_killed)
{
    kill_the_masters_etcd_member(false, CG_TTL_S);
}

/* Fails if killing etcd's raft leader, the member the master talks to,
 * moves the master, fences it or fails a send when the lease TTL leaves
 * room for etcd's election (5 s: renewals every TTL/6 ride through an
 * outage of 2/3 TTL = 3.3 s; the members elect within 1-2 s of election
 * timeout). */
Test(controller, etcd_raft_leader_killed)
{
    kill_the_masters_etcd_member(true, 5);
}

/* Fails if a master that loses etcd altogether keeps acknowledging writes
 * past its fence, if anyone else takes over, or if the same master does not
 * take writes again in the same epoch once etcd is back. */
Test(controller, etcd_lost_while_running)
{
    int m = cg_start(&g, 1, false, NULL);
    cr_assert(m >= 0, "the group did not come up");
    int64_t epoch0 = cg_info_i64(g.br[m].port, "controllerEpoch", -1);
    cr_assert_eq(ha_send_one(g.br[m].port, CG_TOPIC, 0, 1), 0);
    int64_t t_kill = rmq_mono_ms();
    cr_assert(tc_etcd_kill(&g.etcd[0]));
    char v[32];
    cr_assert(
        TH_WAIT_UNTIL(cg_info(g.br[m].port, "controllerFenced", v, sizeof(v)) && !strcmp(v, "true"), 60000),
        "the master was not fenced without etcd");
    int64_t t_fenced = rmq_mono_ms();
    int code = ha_send_one(g.br[m].port, CG_TOPIC, 0, 2);
    cr_assert_eq(code, 14, "a fenced master answered a send with %d, want SERVICE_NOT_AVAILABLE (14)", code);
    /* the runtime info is the Controller thread's snapshot of its last tick */
    cr_assert(TH_WAIT_UNTIL(cg_info_i64(g.br[m].port, "controllerFenceRefusals", 0) > 0, 10000),
              "the write refused at the fence was not counted in controllerFenceRefusals");
    /* reads go on */
    cr_assert_geq(ha_max_offset(g.br[m].port, CG_TOPIC, 0), 1, "a fenced master does not answer reads");
    cr_assert(tc_etcd_restart(&g.etcd[0]));
    cr_assert(TH_WAIT_UNTIL(cg_is_master(&g, m), 60000),
              "the master did not take writes again once etcd returned");
    cr_assert_eq(cg_info_i64(g.br[m].port, "controllerEpoch", -1), epoch0,
                 "the epoch changed: a needless election");
    cr_assert(!cg_is_master(&g, 1 - m));
    cr_assert(TH_WAIT_UNTIL(ha_send_one(g.br[m].port, CG_TOPIC, 0, 3) == 0, 30000),
              "sends are not acknowledged again");
    printf("controller: etcd killed: master fenced (seen) %lld ms later; same master and epoch after etcd "
           "returned\n",
           (long long)(t_fenced - t_kill));
}

/* Fails if a broker whose etcd is out of reach at start does not start as a
 * replica, say so, and refuse writes, or if it does not become master once
 * etcd is there. */
Test(controller, etcd_unreachable_at_start)
{
    memset(&g, 0, sizeof(g));
    g.n_etcd = 1;
    cr_assert(tc_etcd_bin(), "no etcd binary: install Debian's etcd-server (scripts/deps.sh --test)");
    cr_assert(tc_etcd_cluster_init(g.etcd, 1));
    cr_assert(th_namesrv_start(&g.ns, NULL));
    char eps[128], conf[1024];
    tc_etcd_endpoints(g.etcd, 1, eps, sizeof(eps));
    snprintf(conf, sizeof(conf),
             "brokerName=" CG_GROUP "\nbrokerId=1\nbrokerRole=SYNC_MASTER\nenableControllerMode=true\n"
             "etcdEndpoints=%s\netcdLeaseTtlSeconds=%d\nregisterNameServerPeriod=500\n",
             eps, CG_TTL_S);
    cr_assert(th_broker_start(&g.br[0], g.ns.port, conf), "the broker did not start without etcd");
    cr_assert(th_log_contains(&g.br[0], "starting as a replica", 0),
              "the log does not say etcd was out of reach");
    char role[32];
    cr_assert(cg_info(g.br[0].port, "controllerRole", role, sizeof(role)));
    cr_assert_str_eq(role, "REPLICA");
    int code = ha_send_one(g.br[0].port, CG_TOPIC, 0, 1);
    cr_assert_eq(code, 14, "a broker that never reached etcd answered a send with %d, want 14 (a replica)",
                 code);
    cr_assert(tc_etcd_cluster_spawn(g.etcd, 1));
    cr_assert(TH_WAIT_UNTIL(cg_is_master(&g, 0), 60000),
              "the broker did not become master once etcd was there");
    cr_assert_eq(ha_create_topic(g.br[0].port, CG_TOPIC, 1), 0);
    cr_assert(TH_WAIT_UNTIL(ha_send_one(g.br[0].port, CG_TOPIC, 0, 2) == 0, 30000));
}

/* Fails if a second broker with a replica id already live in the group
 * starts, or if it does not say which broker holds the id. */
Test(controller, duplicate_replica_id_refused)
{
    memset(&g, 0, sizeof(g));
    g.n_etcd = 1;
    cr_assert(tc_etcd_bin(), "no etcd binary: install Debian's etcd-server (scripts/deps.sh --test)");
    cr_assert(tc_etcd_cluster_start(g.etcd, 1));
    cr_assert(th_namesrv_start(&g.ns, NULL));
    char eps[128], conf[1024];
    tc_etcd_endpoints(g.etcd, 1, eps, sizeof(eps));
    snprintf(conf, sizeof(conf),
             "brokerName=" CG_GROUP "\nbrokerId=1\nbrokerRole=SYNC_MASTER\nenableControllerMode=true\n"
             "etcdEndpoints=%s\netcdLeaseTtlSeconds=%d\n",
             eps, CG_TTL_S);
    cr_assert(th_broker_start(&g.br[0], g.ns.port, conf));
    cr_assert(TH_WAIT_UNTIL(cg_is_master(&g, 0), 30000));
    cr_assert(!th_broker_start(&g.br[1], g.ns.port, conf), "a second broker with replica id 1 started");
    cr_assert(th_log_contains(&g.br[1], "brokerId 1 of group", 0) &&
                  th_log_contains(&g.br[1], "already taken", 0),
              "the refusal does not name the id and its holder (log %s)", g.br[1].log);
    char holder[64];
    snprintf(holder, sizeof(holder), "127.0.0.1:%d", g.br[0].port);
    cr_assert(th_log_contains(&g.br[1], holder, 0), "the refusal does not name the live broker %s", holder);
    cr_assert(cg_is_master(&g, 0), "the first broker was disturbed");
}

/* Fails if a setting that cannot work is accepted (each must stop the broker
 * with a message naming the setting). */
Test(controller, inconsistent_settings_refused)
{
    struct {
        const char *conf, *says;
    } bad[] = {
        {"enableControllerMode=true\nbrokerId=1\n", "etcdEndpoints"},
        {"enableControllerMode=true\nbrokerId=0\netcdEndpoints=http://127.0.0.1:1\n", "replica id"},
        {"enableControllerMode=true\nbrokerId=64\netcdEndpoints=http://127.0.0.1:1\n", "replica id"},
        {"enableControllerMode=true\nbrokerId=2\nbrokerRole=SLAVE\netcdEndpoints=http://127.0.0.1:1\n",
         "SLAVE"},
        {"enableControllerMode=true\nbrokerId=1\netcdEndpoints=https://127.0.0.1:1\n", "https"},
        {"enableControllerMode=true\nbrokerId=1\netcdEndpoints=127.0.0.1\n", "host:port"},
        {"enableControllerMode=true\nbrokerId=1\netcdEndpoints=http://"
         "127.0.0.1:1\nhaMasterAddress=127.0.0.1:2\n",
         "haMasterAddress"},
        {"enableControllerMode=true\nbrokerId=1\netcdEndpoints=http://127.0.0.1:1\nbrokerName=a/b\n", "'/'"},
        {"enableControllerMode=true\nbrokerId=1\netcdEndpoints=http://127.0.0.1:1\nhaTlsEnable=true\n",
         "haTlsEnable"},
        {"etcdEndpoints=http://127.0.0.1:1\n", "enableControllerMode=false"},
        {"minInSyncReplicas=2\n", "enableControllerMode"},
        {"enableElectUncleanMaster=true\n", "enableControllerMode"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        th_proc_t p;
        cr_assert(!th_broker_start(&p, 0, bad[i].conf), "accepted: %s", bad[i].conf);
        cr_assert(th_log_contains(&p, bad[i].says, 0), "refused without naming \"%s\" (log %s): %s",
                  bad[i].says, p.log, bad[i].conf);
    }
}
