/* test_acl_it.c - the plain ACL end to end: real mqnamesrv + mqbroker
 * (aclEnable=true) per test; raw requests from the harness client (signed
 * with rmq_acl_sign, or not), libcomet handles and mqadmin with keys; the
 * ACL file rewritten while the broker runs. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <comet/comet.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_acl_sign.h"
#include "rmq_codes.h"
#include "rmq_conf.h"
#include "rmq_time.h"
#include "test_support.h"

#define EXC "org.apache.rocketmq.acl.common.AclException: "
#define AT_V "org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:"
#define AT_C "org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:"

static th_proc_t ns, bk;
static th_client_t cli;
static char dir[256], acl_path[320];

static const char *RULES = "globalWhiteRemoteAddresses:\n"
                           "  - 10.254.254.*\n"
                           "accounts:\n"
                           "  - accessKey: user_key\n"
                           "    secretKey: user_secret\n"
                           "    defaultTopicPerm: DENY\n"
                           "    defaultGroupPerm: SUB\n"
                           "    topicPerms:\n"
                           "      - AclTopic=PUB|SUB\n"
                           "      - ReadOnly=SUB\n"
                           "    groupPerms:\n"
                           "      - DeniedGroup=DENY\n"
                           "  - accessKey: admin_key\n"
                           "    secretKey: admin_secret\n"
                           "    admin: true\n";

/* Write atomically (temporary file + rename), as operators should. */
static void write_acl(const char *text)
{
    char tmp[400];
    snprintf(tmp, sizeof(tmp), "%s.tmp", acl_path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(rename(tmp, acl_path), 0);
}

static void start(void)
{
    cr_assert(th_tmpdir(dir, sizeof(dir), "comet-acl"));
    snprintf(acl_path, sizeof(acl_path), "%s/plain_acl.yml", dir);
    write_acl(RULES);
    char extra[600];
    snprintf(extra, sizeof(extra), "aclEnable=true\nrocketmq.acl.plain.file=%s\naclFileWatchInterval=100\n",
             acl_path);
    cr_assert(th_namesrv_start(&ns, NULL), "name server did not start");
    cr_assert(th_broker_start(&bk, ns.port, extra), "broker did not start (log %s)", bk.log);
    cr_assert(th_connect(&cli, bk.port));
}

static void stop(void)
{
    th_close(&cli);
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
}

TestSuite(acl_it, .init = start, .fini = stop, .timeout = 120);

/* Send req (signed with ak/sk unless ak is NULL) and return the response
 * code; the remark is copied to remark. */
static int call_as(th_client_t *c, rmq_cmd_t *req, const char *ak, const char *sk, char *remark, size_t n)
{
    if (ak)
        rmq_acl_sign(req, ak, sk, NULL, RMQ_ACL_SIDE_BROKER);
    rmq_cmd_t resp;
    rmq_cmd_init(&resp);
    cr_assert(th_call(c, req, &resp, 10000), "no response to request %d", req->code);
    rmq_cmd_deinit(req);
    if (remark)
        snprintf(remark, n, "%s", resp.remark ? resp.remark : "");
    int code = resp.code;
    rmq_cmd_deinit(&resp);
    return code;
}

static void create_topic_as_admin(const char *topic)
{
    rmq_cmd_t req;
    char rm[700];
    th_req_create_topic(&req, topic, 2);
    int code = call_as(&cli, &req, "admin_key", "admin_secret", rm, sizeof(rm));
    cr_assert_eq(code, 0, "create topic %s as admin: %d %s", topic, code, rm);
}

static void send_req(rmq_cmd_t *req, const char *topic, const char *body)
{
    th_req_send_v2(req, "PG", topic, 0, "TagA", NULL, NULL, NULL, body, strlen(body));
}

/* Each refusal is SYSTEM_ERROR with the remark a Java 4.9.8 broker sends;
 * a correctly signed request is served. */
Test(acl_it, refusals_and_signed_requests)
{
    create_topic_as_admin("AclTopic");
    rmq_cmd_t req;
    char rm[700];

    send_req(&req, "AclTopic", "no signature");
    cr_expect_eq(call_as(&cli, &req, NULL, NULL, rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "No accessKey is configured, " AT_V "664)");

    send_req(&req, "AclTopic", "wrong signature");
    cr_expect_eq(call_as(&cli, &req, "user_key", "not_the_secret", rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "Check signature failed for accessKey=user_key, " AT_V "684)");

    send_req(&req, "AclTopic", "unknown key");
    cr_expect_eq(call_as(&cli, &req, "ghost_key", "whatever", rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "No acl config for ghost_key, " AT_V "668)");

    /* tampered body: signed, then one byte changed before it is sent */
    send_req(&req, "AclTopic", "original body");
    rmq_acl_sign(&req, "user_key", "user_secret", NULL, RMQ_ACL_SIDE_BROKER);
    req.body[0] = 'O';
    cr_expect_eq(call_as(&cli, &req, NULL, NULL, rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "Check signature failed for accessKey=user_key, " AT_V "684)");

    /* tampered field */
    send_req(&req, "AclTopic", "body");
    rmq_acl_sign(&req, "user_key", "user_secret", NULL, RMQ_ACL_SIDE_BROKER);
    rmq_cmd_set_ext(&req, "e", "1");
    cr_expect_eq(call_as(&cli, &req, NULL, NULL, rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);

    /* signed: stored (JSON and ROCKETMQ headers) */
    send_req(&req, "AclTopic", "signed body");
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), 0, "%s", rm);
    send_req(&req, "AclTopic", "signed binary header");
    req.serialize = RMQ_SERIALIZE_ROCKETMQ;
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), 0, "%s", rm);

    /* permissions over the wire: a SUB-only topic, a denied group, an admin code */
    create_topic_as_admin("ReadOnly");
    send_req(&req, "ReadOnly", "x");
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "No default permission for topic:ReadOnly, " AT_C "611)");
    th_req_pull(&req, "DeniedGroup", "AclTopic", 0, 0, 32, 0, 0, "*");
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "No default permission for group:DeniedGroup, " AT_C "611)");
    th_req_pull(&req, "GoodGroup", "AclTopic", 0, 0, 32, 0, 0, "*");
    call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)); /* past the ACL: the pull path answers */
    cr_expect(strstr(rm, "AclException") == NULL, "%s", rm);
    th_req_create_topic(&req, "NotAllowed", 1);
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    cr_expect_str_eq(rm, EXC "Need admin permission for request code=17, but accessKey=user_key is not, " AT_C
                             "581)");

    /* a refused oneway request gets no answer and the connection stays usable */
    send_req(&req, "AclTopic", "oneway");
    cr_assert(th_oneway(&cli, &req));
    rmq_cmd_deinit(&req);
    send_req(&req, "AclTopic", "after oneway");
    cr_expect_eq(call_as(&cli, &req, "user_key", "user_secret", rm, sizeof(rm)), 0, "%s", rm);

    /* the VIP port (listenPort - 2) checks too */
    th_client_t vip;
    cr_assert(th_connect(&vip, bk.port - 2));
    send_req(&req, "AclTopic", "vip");
    cr_expect_eq(call_as(&vip, &req, NULL, NULL, rm, sizeof(rm)), RMQ_ERR_SYSTEM_ERROR);
    send_req(&req, "AclTopic", "vip signed");
    cr_expect_eq(call_as(&vip, &req, "user_key", "user_secret", rm, sizeof(rm)), 0, "%s", rm);
    th_close(&vip);
}

static int probe(const char *ak, const char *sk)
{
    rmq_cmd_t req;
    char rm[700];
    send_req(&req, "AclTopic", "probe");
    return call_as(&cli, &req, ak, sk, rm, sizeof(rm));
}

/* Poll (bounded) until a signed send as ak answers `want`. */
static bool wait_code(const char *ak, const char *sk, int want, int timeout_ms)
{
    return TH_WAIT_UNTIL(probe(ak, sk) == want, timeout_ms);
}

/* A rewritten file takes effect without a restart; an invalid one is
 * reported and the rules in force stay. */
Test(acl_it, reload_and_invalid_file)
{
    create_topic_as_admin("AclTopic");
    cr_assert(wait_code("user_key", "user_secret", 0, 5000));
    cr_assert(wait_code("new_key_1", "new_secret", RMQ_ERR_SYSTEM_ERROR, 1000));

    write_acl("accounts:\n"
              "  - accessKey: new_key_1\n"
              "    secretKey: new_secret\n"
              "    topicPerms: [AclTopic=PUB]\n");
    cr_expect(wait_code("new_key_1", "new_secret", 0, 10000), "the new account never became valid");
    cr_expect(wait_code("user_key", "user_secret", RMQ_ERR_SYSTEM_ERROR, 5000),
              "the removed account still works");
    cr_expect(th_log_contains(&bk, "new rules in force", 5000));

    /* invalid YAML: reported, the previous rules (new_key_1) stay */
    write_acl("accounts:\n  - accessKey: [unclosed\n");
    cr_expect(th_log_contains(&bk, "do not load, the previous rules stay", 10000), "no report in %s", bk.log);
    cr_expect(wait_code("new_key_1", "new_secret", 0, 1000), "rules changed after an invalid file");
    /* an account Java would refuse (secret too short) is invalid too */
    write_acl("accounts:\n  - {accessKey: short_key1, secretKey: 123}\n");
    cr_expect(wait_code("new_key_1", "new_secret", 0, 1000));
    /* a valid file again */
    write_acl(RULES);
    cr_expect(wait_code("user_key", "user_secret", 0, 10000));
}

/* An ACL file that does not load stops the broker at start, with a reason. */
Test(acl_it, invalid_file_at_start)
{
    write_acl("accounts:\n  - {accessKey: tiny, secretKey: 12345678}\n");
    th_proc_t b2;
    char extra[600];
    snprintf(extra, sizeof(extra), "aclEnable=true\nrocketmq.acl.plain.file=%s\n", acl_path);
    cr_expect(!th_broker_start(&b2, ns.port, extra), "a broker started with an invalid ACL file");
    cr_expect(th_log_contains(&b2, "ACL configuration does not load", 1000), "log %s", b2.log);
    cr_expect(th_log_contains(&b2, "cannot be null and length should longer than 6", 1000));
    th_proc_stop(&b2, SIGKILL);
}

static comet_producer_t *producer(const char *ak, const char *sk, char *err, size_t n)
{
    comet_conf_t *conf = comet_conf_new();
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ns.port);
    comet_conf_set(conf, "namesrvAddr", addr, err, n);
    comet_conf_set(conf, "producerGroup", "PG_ACL", err, n);
    comet_conf_set(conf, "retryTimesWhenSendFailed", "0", err, n);
    comet_conf_set(conf, "logLevel", "ERROR", err, n);
    if (ak) {
        cr_assert_eq(comet_conf_set(conf, "accessKey", ak, err, n), COMET_CONF_OK, "%s", err);
        cr_assert_eq(comet_conf_set(conf, "secretKey", sk, err, n), COMET_CONF_OK, "%s", err);
    }
    comet_producer_t *p = comet_producer_new(conf, err, n);
    cr_assert_not_null(p, "%s", err);
    cr_assert_eq(comet_producer_start(p, err, n), COMET_ERR_NO_ERROR, "%s", err);
    return p;
}

/* libcomet signs when accessKey/secretKey are set; without them the
 * broker's refusal reaches the application. */
Test(acl_it, libcomet_signs)
{
    create_topic_as_admin("AclTopic");
    char err[512];
    comet_producer_t *p = producer("user_key", "user_secret", err, sizeof(err));
    comet_message_t *m = comet_message_new("AclTopic", "hello", 5, COMET_MSG_F_COPY);
    comet_send_result_t res;
    /* the route appears once the broker re-registered the topic */
    comet_err_t e = COMET_ERR__TIMED_OUT;
    TH_WAIT_UNTIL((e = comet_producer_send(p, m, &res, 5000)) == COMET_ERR_NO_ERROR, 10000);
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "signed send: %s %s", comet_err2str(e), res.errstr);
    comet_producer_destroy(p);

    comet_producer_t *q = producer(NULL, NULL, err, sizeof(err));
    e = comet_producer_send(q, m, &res, 5000);
    cr_expect_neq(e, COMET_ERR_NO_ERROR);
    cr_expect(strstr(res.errstr, "No accessKey is configured") != NULL, "errstr: %s", res.errstr);
    comet_producer_destroy(q);
    comet_message_destroy(m);

    /* accessKey without secretKey is a configuration error */
    comet_conf_t *conf = comet_conf_new();
    comet_conf_set(conf, "namesrvAddr", "127.0.0.1:1", err, sizeof(err));
    comet_conf_set(conf, "accessKey", "only_key", err, sizeof(err));
    comet_producer_t *bad = comet_producer_new(conf, err, sizeof(err));
    cr_expect_null(bad);
    cr_expect(strstr(err, "accessKey and secretKey must be set together") != NULL, "%s", err);
    if (bad)
        comet_producer_destroy(bad);
    else
        comet_conf_destroy(conf);
}

/* Run mqadmin with extra environment entries; returns its exit status and
 * its output in out. */
static int mqadmin(char *out, size_t n, const char *const *env, const char *const *args)
{
    char exe[512], log[400];
    th_bin("mqadmin", exe, sizeof(exe));
    snprintf(log, sizeof(log), "%s/mqadmin.out", dir);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void)f;
        dup2(1, 2);
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        char *argv[32];
        int k = 0;
        argv[k++] = exe;
        for (int i = 0; args[i] && k < 31; i++)
            argv[k++] = (char *)args[i];
        argv[k] = NULL;
        execv(exe, argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char *text = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (rmq_file_read_all(log, &text, &len) == RMQ_OK) {
        snprintf(out, n, "%s", text);
        free(text);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* mqadmin signs its admin requests with the keys from the environment (or
 * $ROCKETMQ_HOME/conf/tools.yml, as Java's mqadmin). */
Test(acl_it, mqadmin_with_keys)
{
    char ns_addr[64], out[4096];
    snprintf(ns_addr, sizeof(ns_addr), "127.0.0.1:%d", ns.port);
    const char *args[] = {"updateTopic", "-n", ns_addr, "-c", "TestCluster", "-t", "AdminMade", NULL};
    const char *no_keys[] = {"MQADMIN_TIMEOUT_MS=5000", NULL};
    cr_expect_eq(mqadmin(out, sizeof(out), no_keys, args), 1, "%s", out);
    cr_expect(strstr(out, "No accessKey is configured") != NULL, "%s", out);
    const char *keys[] = {"MQADMIN_ACCESS_KEY=admin_key", "MQADMIN_SECRET_KEY=admin_secret", NULL};
    cr_expect_eq(mqadmin(out, sizeof(out), keys, args), 0, "%s", out);
    /* tools.yml under ROCKETMQ_HOME */
    char conf_dir[400], tools[450], home_env[420];
    snprintf(conf_dir, sizeof(conf_dir), "%s/conf", dir);
    mkdir(conf_dir, 0755);
    snprintf(tools, sizeof(tools), "%s/tools.yml", conf_dir);
    FILE *f = fopen(tools, "w");
    cr_assert_not_null(f);
    fputs("accessKey: admin_key\nsecretKey: admin_secret\n", f);
    fclose(f);
    snprintf(home_env, sizeof(home_env), "ROCKETMQ_HOME=%s", dir);
    const char *home[] = {home_env, NULL};
    const char *args2[] = {"sendMessage", "-n", ns_addr, "-t", "AdminMade", "-p", "from mqadmin", NULL};
    int rc = 1;
    TH_WAIT_UNTIL((rc = mqadmin(out, sizeof(out), home, args2)) == 0,
                  10000); /* until the route has the topic */
    cr_expect_eq(rc, 0, "%s", out);
}
