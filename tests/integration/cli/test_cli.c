/* test_cli.c - the command lines as shipped, with the real binaries:
 * mqbroker's -p / -m / -n / -o / -h, every configuration file of
 * deploy/conf loaded and booted (ports and directories moved with -o),
 * and mqbench producer and consumer runs against a real broker. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_json.h"

static th_proc_t ns, bk;
static th_client_t cli;
static char out[1 << 16];

static void stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
}

TestSuite(cli, .fini = stop, .timeout = 120);

static int lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Fails if -p does not print every setting with its value, -m prints more
 * than the important ones, -o / -n do not override the file, a bad option
 * is not a usage error (2), or a broker started with -n does not register
 * with that name server. */
Test(cli, mqbroker_print_override_and_n)
{
    char exe[512];
    th_bin("mqbroker", exe, sizeof(exe));
    cr_assert_eq(th_run(out, sizeof(out), "%s -p", exe), 0, "%s", out);
    int all = lines_with(out, "\n");
    cr_assert_geq(all, 100, "-p printed %d settings", all);
    cr_assert_not_null(strstr(out, "listenPort=10911\n"), "the default listenPort: %s", out);
    cr_assert_not_null(strstr(out, "pullHoldCheckInterval=1000\n"));
    cr_assert_eq(th_run(out, sizeof(out), "%s -m", exe), 0, "%s", out);
    int imp = lines_with(out, "\n");
    cr_assert(imp > 5 && imp < all, "-m printed %d of %d settings", imp, all);
    cr_assert_not_null(strstr(out, "brokerName=broker-a\n"), "%s", out);
    cr_assert_null(strstr(out, "pullHoldCheckInterval="), "-m printed an unimportant setting: %s", out);
    cr_assert_eq(th_run(out, sizeof(out), "%s -n 127.0.0.1:1234 -o listenPort=12345 -m", exe), 0, "%s", out);
    cr_assert_not_null(strstr(out, "namesrvAddr=127.0.0.1:1234\n"), "%s", out);
    cr_assert_not_null(strstr(out, "listenPort=12345\n"), "%s", out);
    cr_assert_eq(th_run(out, sizeof(out), "%s -o noSuchSetting=1 -m", exe), 1, "a typo in -o is an error: %s",
                 out);
    cr_assert_eq(th_run(out, sizeof(out), "%s --bogus", exe), 2, "%s", out);
    cr_assert_not_null(strstr(out, "usage: mqbroker"), "%s", out);
    cr_assert_eq(th_run(out, sizeof(out), "%s -h", exe), 0, "%s", out);

    /* -n at boot: a broker whose file names no name server */
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_broker_start(&bk, 0, "autoCreateTopicEnable=true"), "broker did not start");
    cr_assert(th_proc_stop(&bk, SIGTERM));
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ns.port);
    char *argv[] = {exe, "-c", bk.conf, "-n", addr, NULL};
    cr_assert(th_proc_spawn(&bk, exe, argv, "boot success", 20000), "broker with -n did not start");
    cr_assert(th_log_contains(&bk, addr, 0), "boot line does not name %s", addr);
    cr_assert(th_connect(&cli, ns.port));
    cr_assert(TH_WAIT_UNTIL(__extension__({
                                rmq_cmd_t req, resp;
                                rmq_cmd_init_request(&req, 106); /* GET_BROKER_CLUSTER_INFO */
                                bool reg_ = false;
                                if (th_call(&cli, &req, &resp, 5000)) {
                                    reg_ = memmem(resp.body, resp.body_len, "broker-t", 8) != NULL;
                                    rmq_cmd_deinit(&resp);
                                }
                                rmq_cmd_deinit(&req);
                                reg_;
                            }),
                            20000),
              "the broker started with -n never registered with %s", addr);
}

/* Boot argv for a deploy/conf file, moved to a free port and a temp dir. */
static bool boot_conf(th_proc_t *p, const char *exe, const char *file, char *const extra[], const char *boot)
{
    memset(p, 0, sizeof(*p));
    if (!th_tmpdir(p->dir, sizeof(p->dir), "conf"))
        return false;
    p->port = th_free_port();
    char *argv[40];
    int k = 0;
    argv[k++] = (char *)exe;
    argv[k++] = "-c";
    argv[k++] = (char *)file;
    static char o[8][300];
    snprintf(o[0], sizeof(o[0]), "listenPort=%d", p->port);
    argv[k++] = "-o";
    argv[k++] = o[0];
    for (int i = 0; extra && extra[i] && k < 36; i++) {
        argv[k++] = "-o";
        argv[k++] = extra[i];
    }
    argv[k] = NULL;
    return th_proc_spawn(p, exe, argv, boot, 20000);
}

/* Fails if a file of deploy/conf is refused, has a key the binary does not
 * know, or does not boot a server that answers (a broker stores a message,
 * auto-creating its topic as the file asks); or if the server does not exit
 * cleanly. */
Test(cli, deploy_conf_files_load_and_boot, .timeout = 180)
{
    char nsexe[512], bkexe[512];
    th_bin("mqnamesrv", nsexe, sizeof(nsexe));
    th_bin("mqbroker", bkexe, sizeof(bkexe));
    const char *nsconf = COMET_SOURCE_DIR "/deploy/conf/namesrv.conf";
    cr_assert_eq(th_run(out, sizeof(out), "%s -c %s -m", nsexe, nsconf), 0, "%s", out);
    cr_assert_not_null(strstr(out, "listenPort=9876\n"), "%s", out);
    cr_assert_null(strstr(out, "unknown setting"), "%s", out);
    char kv[512], home[400];
    cr_assert(th_tmpdir(home, sizeof(home), "nshome"));
    snprintf(kv, sizeof(kv), "kvConfigPath=%s/kv.json", home);
    char rh[420];
    snprintf(rh, sizeof(rh), "rocketmqHome=%s", home);
    char *nsextra[] = {kv, rh, "listenAddress=127.0.0.1", NULL};
    cr_assert(boot_conf(&ns, nsexe, nsconf, nsextra, "The Name Server boot success"),
              "namesrv.conf did not boot");
    cr_assert_not(th_log_contains(&ns, "unknown setting", 0));

    static const struct {
        const char *file, *name, *flush;
    } brokers[] = {
        {"broker.conf", "broker-a", "ASYNC_FLUSH"},
        {"broker-sync.conf", "broker-a", "SYNC_FLUSH"},
        {"2m-noslave/broker-a.properties", "broker-a", "ASYNC_FLUSH"},
        {"2m-noslave/broker-b.properties", "broker-b", "ASYNC_FLUSH"},
    };
    for (size_t i = 0; i < sizeof(brokers) / sizeof(brokers[0]); i++) {
        char file[600];
        snprintf(file, sizeof(file), "%s/deploy/conf/%s", COMET_SOURCE_DIR, brokers[i].file);
        cr_assert_eq(th_run(out, sizeof(out), "%s -c %s -m", bkexe, file), 0, "%s: %s", file, out);
        char want[128];
        snprintf(want, sizeof(want), "brokerName=%s\n", brokers[i].name);
        cr_assert_not_null(strstr(out, want), "%s: %s", file, out);
        snprintf(want, sizeof(want), "flushDiskType=%s\n", brokers[i].flush);
        cr_assert_not_null(strstr(out, want), "%s: %s", file, out);
        cr_assert_null(strstr(out, "unknown setting"), "%s: %s", file, out);
        /* boot it, moved to a free port, a temp store and small segments */
        th_proc_t b;
        char store[400], nsaddr[64];
        th_tmpdir(store, sizeof(store), "store");
        char sr[420];
        snprintf(sr, sizeof(sr), "storePathRootDir=%s", store);
        snprintf(nsaddr, sizeof(nsaddr), "namesrvAddr=127.0.0.1:%d", ns.port);
        char *extra[] = {sr,
                         nsaddr,
                         "brokerIP1=127.0.0.1",
                         "listenAddress=127.0.0.1",
                         "mappedFileSizeCommitLog=4194304",
                         "mappedFileSizeConsumeQueue=60000",
                         NULL};
        cr_assert(boot_conf(&b, bkexe, file, extra, "boot success"), "%s did not boot (log %s)", file, b.log);
        cr_assert_not(th_log_contains(&b, "unknown setting", 0), "%s has keys mqbroker does not know", file);
        th_client_t c;
        cr_assert(th_connect(&c, b.port));
        rmq_cmd_t req, resp;
        th_req_send_v2(&req, "PG", "DeployConfT", 0, "T", NULL, NULL, NULL, "hello", 5);
        cr_assert(th_call(&c, &req, &resp, 10000));
        cr_assert_eq(resp.code, 0, "%s: send %d %s", file, resp.code, resp.remark ? resp.remark : "");
        rmq_cmd_deinit(&req);
        rmq_cmd_deinit(&resp);
        th_close(&c);
        cr_assert(th_proc_stop(&b, SIGTERM), "%s: the broker did not exit cleanly", file);
    }
}

/* One mqbench run: its --json summary (the last line of its output). */
static json_t *bench(const char *args)
{
    char exe[512];
    th_bin("mqbench", exe, sizeof(exe));
    int st = th_run(out, sizeof(out), "%s %s -n 127.0.0.1:%d --json 2>/dev/null", exe, args, ns.port);
    cr_assert_eq(st, 0, "mqbench %s exited %d: %s", args, st, out);
    char *last = strrchr(out, '{');
    cr_assert_not_null(last, "no JSON summary: %s", out);
    char err[200];
    json_t *j = rmq_json_parse(last, strlen(last), err, sizeof(err));
    cr_assert_not_null(j, "summary is not JSON (%s): %s", err, last);
    return j;
}

static int64_t jint(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    cr_assert(json_is_integer(v), "no integer %s", k);
    return (int64_t)json_integer_value(v);
}

/* Fails if mqbench does not run (sync and async producers, a consumer from
 * the first offset), reports failures, or reports other counts than the
 * broker stored. */
/* Messages in the four queues of topic Bench (GET_MAX_OFFSET of each). */
static int64_t bench_stored(th_client_t *c)
{
    int64_t stored = 0;
    for (int q = 0; q < 4; q++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, 30);
        rmq_cmd_set_ext(&req, "topic", "Bench");
        rmq_cmd_set_ext_i64(&req, "queueId", q);
        cr_assert(th_call(c, &req, &resp, 5000));
        int64_t m = 0;
        rmq_cmd_ext_i64(&resp, "offset", &m);
        stored += m;
        rmq_cmd_deinit(&req);
        rmq_cmd_deinit(&resp);
    }
    return stored;
}

Test(cli, mqbench_runs_against_a_broker)
{
    cr_assert(th_namesrv_start(&ns, NULL));
    cr_assert(th_broker_start(&bk, ns.port, NULL));
    cr_assert(th_connect(&cli, bk.port));
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, "Bench", 4);
    cr_assert(th_call(&cli, &req, &resp, 10000));
    cr_assert_eq(resp.code, 0);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    th_client_t nc;
    cr_assert(th_connect(&nc, ns.port));
    cr_assert(TH_WAIT_UNTIL(__extension__({
                                rmq_cmd_t rq, rs;
                                rmq_cmd_init_request(&rq, 105);
                                rmq_cmd_set_ext(&rq, "topic", "Bench");
                                bool ok_ = th_call(&nc, &rq, &rs, 5000) && rs.code == 0;
                                if (ok_ || rs.body)
                                    rmq_cmd_deinit(&rs);
                                rmq_cmd_deinit(&rq);
                                ok_;
                            }),
                            20000),
              "Bench never routed");
    th_close(&nc);

    json_t *p1 = bench("producer -t Bench -w 2 -s 128 -d 1 -m sync");
    /* "messages" counts the measured seconds (the rate); "acked" also the
     * sends that were in flight when the time was up */
    int64_t sync_msgs = jint(p1, "acked");
    cr_assert_gt(jint(p1, "messages"), 0, "the sync producer sent nothing");
    cr_assert_leq(jint(p1, "messages"), sync_msgs);
    cr_assert_eq(jint(p1, "failures"), 0);
    cr_assert_eq(jint(p1, "unfinished"), 0);
    cr_assert_eq(jint(p1, "size"), 128);
    json_decref(p1);
    json_t *p2 = bench("producer -t Bench -w 1 -s 256 -d 1 -m async -a 100");
    int64_t async_msgs = jint(p2, "acked");
    cr_assert_gt(jint(p2, "messages"), 0, "the async producer sent nothing");
    cr_assert_leq(jint(p2, "messages"), async_msgs);
    cr_assert_eq(jint(p2, "failures"), 0);
    cr_assert_eq(jint(p2, "unfinished"), 0, "async sends unanswered at exit");
    json_decref(p2);
    /* the broker stored exactly what mqbench saw acknowledged (no failure,
     * nothing unanswered: nothing stored that mqbench could not know of).
     * GET_MAX_OFFSET counts what the consume queues hold, which follows the
     * commit log by the dispatch thread's lag (seconds on a busy machine):
     * wait, bounded, for it to reach the acknowledged count, then compare */
    int64_t stored = 0;
    TH_WAIT_UNTIL((stored = bench_stored(&cli)) >= sync_msgs + async_msgs, 30000);
    cr_assert_eq(stored, sync_msgs + async_msgs, "broker has %lld, mqbench acked %lld + %lld",
                 (long long)stored, (long long)sync_msgs, (long long)async_msgs);
    json_t *c = bench("consumer -t Bench -g bench_cg -d 8 --from first");
    cr_assert_geq(jint(c, "messages"), stored, "the consumer got %lld of %lld",
                  (long long)jint(c, "messages"), (long long)stored);
    json_decref(c);
}
