/* test_tls_it.c - TLS on the client ports end to end: certificates made
 * at test time with the openssl CLI; real mqnamesrv + mqbroker in each
 * tls.server.mode; `openssl s_client`, the harness's plaintext client,
 * libcomet (useTLS) and mqadmin against them. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <comet/comet.h>

#include "harness.h"
#include "harness_broker.h"
#include "rmq_conf.h"
#include "rmq_time.h"
#include "test_support.h"

static th_proc_t ns, bk;
static char dir[256];

/* Run argv with stdin from /dev/null, output (both streams) to out_path;
 * killed after timeout_ms. Returns the exit status (-1 killed). */
static int run(const char *const *argv, const char *out_path, int timeout_ms)
{
    pid_t pid = fork();
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (!TH_WAIT_UNTIL(waitpid(pid, &st, WNOHANG) == pid, timeout_ms)) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return -1;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *path)
{
    char *t = NULL;
    size_t n = 0;
    if (rmq_file_read_all(path, &t, &n) != RMQ_OK)
        return strdup("");
    return t;
}

/* A CA, a server certificate for 127.0.0.1 signed by it, a client
 * certificate signed by it, and an unrelated CA. */
static void make_certs(void)
{
    char cmd[4096];
    snprintf(
        cmd, sizeof(cmd),
        "cd %s && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
        "-days 2 -subj /CN=comet-test-ca && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out "
        "other.pem "
        "-days 2 -subj /CN=other-ca && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 "
        "-extfile san.cnf && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key -out client.csr "
        "-subj /CN=comet-client && "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 "
        ") > openssl.log 2>&1",
        dir);
    /* the subshell parenthesis: make every step's output go to the log */
    char full[4200];
    snprintf(full, sizeof(full), "(%s", cmd);
    cr_assert_eq(system(full), 0, "openssl failed, see %s/openssl.log", dir);
}

static void init(void)
{
    cr_assert(th_tmpdir(dir, sizeof(dir), "comet-tls"));
    make_certs();
}

static void fini(void)
{
    th_proc_stop(&bk, SIGTERM);
    th_proc_stop(&ns, SIGTERM);
    memset(&bk, 0, sizeof(bk));
    memset(&ns, 0, sizeof(ns));
}

TestSuite(tls_it, .init = init, .fini = fini, .timeout = 180);

/* Server settings for mode with the test certificates (extra appended). */
static void server_conf(char *out, size_t n, const char *mode, const char *extra)
{
    snprintf(out, n,
             "tls.server.mode=%s\ntls.server.certPath=%s/server.pem\ntls.server.keyPath=%s/server.key\n"
             "tls.config.file=\n%s",
             mode, dir, dir, extra ? extra : "");
}

/* Name server and broker in `mode`; the broker talks TLS to the name server
 * unless it is disabled there. */
static void start(const char *mode, const char *broker_extra)
{
    char nsc[1500], bkc[2500], bx[1200];
    server_conf(nsc, sizeof(nsc), mode, NULL);
    cr_assert(th_namesrv_start(&ns, nsc), "name server did not start (%s)", ns.log);
    snprintf(bx, sizeof(bx), "%s%s",
             strcmp(mode, "disabled")
                 ? "tls.enable=true\ntls.test.mode.enable=false\ntls.client.authServer=true\n"
                 : "",
             broker_extra ? broker_extra : "");
    char trust[400];
    snprintf(trust, sizeof(trust), "tls.client.trustCertPath=%s/ca.pem\n", dir);
    char bx2[1700];
    snprintf(bx2, sizeof(bx2), "%s%s", bx, strcmp(mode, "disabled") ? trust : "");
    server_conf(bkc, sizeof(bkc), mode, bx2);
    cr_assert(th_broker_start(&bk, ns.port, bkc), "broker did not start (%s)", bk.log);
    cr_assert(th_log_contains(&bk, "registered with name server", 10000), "no registration (%s)", bk.log);
}

/* openssl s_client against port; returns its output file's text (caller
 * frees) and sets *ok when the handshake verified against ca. */
static char *s_client(int port, const char *ca, const char *cert, const char *key, bool *verified)
{
    char addr[64], out[400], cap[400], certp[400], keyp[400];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    snprintf(out, sizeof(out), "%s/s_client.out", dir);
    snprintf(cap, sizeof(cap), "%s/%s", dir, ca);
    const char *argv[16] = {"openssl", "s_client", "-connect", addr, "-CAfile", cap, "-verify_return_error"};
    int k = 7;
    if (cert) {
        snprintf(certp, sizeof(certp), "%s/%s", dir, cert);
        snprintf(keyp, sizeof(keyp), "%s/%s", dir, key);
        argv[k++] = "-cert";
        argv[k++] = certp;
        argv[k++] = "-key";
        argv[k++] = keyp;
    }
    argv[k] = NULL;
    run(argv, out, 10000);
    char *text = slurp(out);
    *verified = strstr(text, "Verify return code: 0 (ok)") != NULL && strstr(text, "Cipher is ") != NULL &&
                strstr(text, "Cipher is (NONE)") == NULL;
    return text;
}

/* A plaintext request on port: true if answered. */
static bool plaintext_answered(int port)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return false;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 28); /* GET_BROKER_RUNTIME_INFO (name servers answer NOT_SUPPORTED) */
    rmq_cmd_init(&resp);
    bool ok = th_call(&c, &req, &resp, 3000);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    th_close(&c);
    return ok;
}

/* A plaintext connection is closed without an answer, promptly. */
static bool plaintext_closed(int port)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return false;
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, 28);
    bool sent = th_oneway(&c, &req);
    rmq_cmd_deinit(&req);
    bool closed = sent && th_wait_closed(&c, 5000);
    th_close(&c);
    return closed;
}

/* Send one message with libcomet; props are extra "key=value" settings.
 * Returns the error and the error text. */
static comet_err_t comet_send(const char *const *props, char *errtext, size_t n)
{
    char err[512], addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ns.port);
    comet_conf_t *conf = comet_conf_new();
    comet_conf_set(conf, "namesrvAddr", addr, err, sizeof(err));
    comet_conf_set(conf, "producerGroup", "PG_TLS", err, sizeof(err));
    comet_conf_set(conf, "logLevel", "ERROR", err, sizeof(err));
    comet_conf_set(conf, "tls.config.file", "", err, sizeof(err));
    for (int i = 0; props && props[i]; i++) {
        char key[128];
        const char *eq = strchr(props[i], '=');
        snprintf(key, sizeof(key), "%.*s", (int)(eq - props[i]), props[i]);
        char val[400];
        snprintf(val, sizeof(val), "%s", eq + 1);
        if (strstr(val, "@DIR@")) { /* @DIR@/file */
            char tmp[400];
            snprintf(tmp, sizeof(tmp), "%s%s", dir, val + 5);
            snprintf(val, sizeof(val), "%s", tmp);
        }
        cr_assert_eq(comet_conf_set(conf, key, val, err, sizeof(err)), COMET_CONF_OK, "%s", err);
    }
    comet_producer_t *p = comet_producer_new(conf, err, sizeof(err));
    if (!p) {
        snprintf(errtext, n, "%s", err);
        comet_conf_destroy(conf);
        return COMET_ERR__INVALID_ARG;
    }
    comet_err_t e = comet_producer_start(p, err, sizeof(err));
    if (e) {
        snprintf(errtext, n, "%s", err);
        comet_producer_destroy(p);
        return e;
    }
    comet_message_t *m = comet_message_new("TlsTopic", "over tls", 8, COMET_MSG_F_COPY);
    comet_send_result_t res;
    memset(&res, 0, sizeof(res));
    e = comet_producer_send(p, m, &res, 5000);
    snprintf(errtext, n, "%s", res.errstr);
    comet_message_destroy(m);
    comet_producer_destroy(p);
    return e;
}

static const char *const TLS_OK[] = {"useTLS=true", "tls.client.trustCertPath=@DIR@/ca.pem", NULL};
static const char *const TLS_WRONG_CA[] = {"useTLS=true", "tls.client.trustCertPath=@DIR@/other.pem", NULL};

Test(tls_it, enforcing)
{
    start("enforcing", NULL);
    bool ok;
    char *t = s_client(bk.port, "ca.pem", NULL, NULL, &ok);
    cr_expect(ok, "s_client to the broker did not verify:\n%s", t);
    free(t);
    t = s_client(ns.port, "ca.pem", NULL, NULL, &ok);
    cr_expect(ok, "s_client to the name server did not verify:\n%s", t);
    free(t);
    cr_expect(plaintext_closed(bk.port), "a plaintext connection to the broker was not closed");
    cr_expect(plaintext_closed(bk.port - 2), "a plaintext connection to the VIP port was not closed");
    cr_expect(plaintext_closed(ns.port), "a plaintext connection to the name server was not closed");
    cr_expect(th_log_contains(&bk, "plaintext connection while tls.server.mode=enforcing", 2000));

    char err[600];
    comet_err_t e = COMET_ERR__TRANSPORT;
    TH_WAIT_UNTIL((e = comet_send(TLS_OK, err, sizeof(err))) == COMET_ERR_NO_ERROR, 10000);
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "libcomet over TLS: %s", err);

    /* a client trusting another CA fails, and says why */
    e = comet_send(TLS_WRONG_CA, err, sizeof(err));
    cr_expect_neq(e, COMET_ERR_NO_ERROR);
    cr_expect(strstr(err, "certificate verify failed") != NULL, "error text: %s", err);
    /* a plaintext client fails */
    e = comet_send(NULL, err, sizeof(err));
    cr_expect_neq(e, COMET_ERR_NO_ERROR);
}

Test(tls_it, permissive_serves_both_on_one_port)
{
    start("permissive", NULL);
    bool ok;
    char *t = s_client(bk.port, "ca.pem", NULL, NULL, &ok);
    cr_expect(ok, "s_client did not verify:\n%s", t);
    free(t);
    cr_expect(plaintext_answered(bk.port), "plaintext request not answered in permissive mode");
    cr_expect(plaintext_answered(ns.port), "plaintext request to the name server not answered");
    char err[600];
    comet_err_t e = COMET_ERR__TRANSPORT;
    TH_WAIT_UNTIL((e = comet_send(TLS_OK, err, sizeof(err))) == COMET_ERR_NO_ERROR, 10000);
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "libcomet over TLS: %s", err);
    e = comet_send(NULL, err, sizeof(err));
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "plaintext libcomet: %s", err);
}

Test(tls_it, disabled_closes_tls)
{
    start("disabled", NULL);
    bool ok;
    char *t = s_client(bk.port, "ca.pem", NULL, NULL, &ok);
    cr_expect(!ok, "a TLS handshake succeeded in disabled mode:\n%s", t);
    free(t);
    cr_expect(th_log_contains(&bk, "a TLS handshake, but TLS is disabled", 3000));
    cr_expect(plaintext_answered(bk.port));
    char err[600];
    comet_err_t e = comet_send(TLS_OK, err, sizeof(err));
    cr_expect_neq(e, COMET_ERR_NO_ERROR);
}

Test(tls_it, client_certificates)
{
    char extra[1200];
    snprintf(extra, sizeof(extra),
             "tls.server.need.client.auth=require\ntls.server.authClient=true\ntls.server.trustCertPath=%s/"
             "ca.pem\n"
             "tls.client.certPath=%s/client.pem\ntls.client.keyPath=%s/client.key\n",
             dir, dir, dir);
    /* the name server without client auth; only the broker requires it */
    char nsc[1500];
    server_conf(nsc, sizeof(nsc), "enforcing", NULL);
    cr_assert(th_namesrv_start(&ns, nsc));
    char bkc[3000];
    char bx[2000];
    snprintf(bx, sizeof(bx),
             "tls.enable=true\ntls.test.mode.enable=false\ntls.client.authServer=true\n"
             "tls.client.trustCertPath=%s/ca.pem\n%s",
             dir, extra);
    server_conf(bkc, sizeof(bkc), "enforcing", bx);
    cr_assert(th_broker_start(&bk, ns.port, bkc), "broker did not start (%s)", bk.log);
    bool ok;
    char *t = s_client(bk.port, "ca.pem", NULL, NULL, &ok);
    /* TLS 1.3: the refusal can come after the handshake; no certificate, no session either way */
    free(t);
    cr_expect(!plaintext_answered(bk.port));
    t = s_client(bk.port, "ca.pem", "client.pem", "client.key", &ok);
    cr_expect(ok, "s_client with a client certificate:\n%s", t);
    free(t);
    const char *with_cert[] = {"useTLS=true", "tls.client.trustCertPath=@DIR@/ca.pem",
                               "tls.client.certPath=@DIR@/client.pem", "tls.client.keyPath=@DIR@/client.key",
                               NULL};
    char err[600];
    comet_err_t e = COMET_ERR__TRANSPORT;
    TH_WAIT_UNTIL((e = comet_send(with_cert, err, sizeof(err))) == COMET_ERR_NO_ERROR, 10000);
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "libcomet with a client certificate: %s", err);
    e = comet_send(TLS_OK, err, sizeof(err));
    cr_expect_neq(e, COMET_ERR_NO_ERROR, "a client without a certificate was served");
}

Test(tls_it, test_mode_self_signed_and_bad_settings)
{
    /* no certificate and Java's default test mode: an ephemeral self-signed one */
    cr_assert(th_namesrv_start(&ns, "tls.server.mode=enforcing\ntls.config.file=\n"));
    cr_expect(th_log_contains(&ns, "ephemeral self-signed certificate", 2000));
    const char *insecure[] = {"useTLS=true", "tls.test.mode.enable=true", NULL};
    const char *verifying[] = {"useTLS=true", NULL}; /* system CAs: the self-signed one is refused */
    cr_assert(th_broker_start(&bk, ns.port, "tls.server.mode=enforcing\ntls.enable=true\ntls.config.file=\n"),
              "broker did not start (%s)", bk.log);
    char err[600];
    comet_err_t e = COMET_ERR__TRANSPORT;
    TH_WAIT_UNTIL((e = comet_send(insecure, err, sizeof(err))) == COMET_ERR_NO_ERROR, 10000);
    cr_expect_eq(e, COMET_ERR_NO_ERROR, "test mode client: %s", err);
    e = comet_send(verifying, err, sizeof(err));
    cr_expect_neq(e, COMET_ERR_NO_ERROR, "a verifying client accepted a self-signed certificate");
    cr_expect(strstr(err, "certificate verify failed") != NULL, "error text: %s", err);

    /* enforcing without a certificate and without test mode: refused at start */
    th_proc_t b2;
    cr_expect(!th_broker_start(&b2, ns.port,
                               "tls.server.mode=enforcing\ntls.test.mode.enable=false\n"
                               "tls.config.file=\n"));
    cr_expect(th_log_contains(&b2, "needs tls.server.certPath and tls.server.keyPath", 1000), "%s", b2.log);
    th_proc_stop(&b2, SIGKILL);
}

/* mqadmin's raw requests over TLS (MQADMIN_TLS_CA). */
Test(tls_it, mqadmin_over_tls)
{
    start("enforcing", NULL);
    char exe[512], out[400], addr[64], env_ca[400];
    th_bin("mqadmin", exe, sizeof(exe));
    snprintf(out, sizeof(out), "%s/mqadmin.out", dir);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", ns.port);
    snprintf(env_ca, sizeof(env_ca), "MQADMIN_TLS_CA=%s/ca.pem", dir);
    const char *argv[] = {"env", env_ca, exe, "clusterList", "-n", addr, NULL};
    int rc = run(argv, out, 20000);
    char *t = slurp(out);
    cr_expect_eq(rc, 0, "mqadmin clusterList over TLS: %s", t);
    cr_expect(strstr(t, "broker-t") != NULL, "%s", t);
    free(t);
    snprintf(env_ca, sizeof(env_ca), "MQADMIN_TLS_CA=%s/other.pem", dir);
    rc = run(argv, out, 20000);
    t = slurp(out);
    cr_expect_eq(rc, 1, "%s", t);
    cr_expect(strstr(t, "certificate verify failed") != NULL, "%s", t);
    free(t);
}

/* One SEND_MESSAGE_V2 to port; the response code (-1: no answer). */
static int send_code(int port, const char *topic)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    rmq_cmd_t req, resp;
    th_req_send_v2(&req, "PG_HA", topic, 0, "TagA", NULL, NULL, NULL, "over tls", 8);
    rmq_cmd_init(&resp);
    int code = th_call(&c, &req, &resp, 5000) ? resp.code : -1;
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    th_close(&c);
    return code;
}

/* haTlsEnable: a SYNC_MASTER answers a send only once its slave acknowledged
 * it, so SEND_OK proves the replication link works over TLS; a slave that
 * does not trust the master's certificate never gets in sync (the master
 * answers SLAVE_NOT_AVAILABLE) and says why. */
Test(tls_it, replication_link_over_tls)
{
    cr_assert(th_namesrv_start(&ns, "tls.config.file=\n"));
    char mconf[1500], sconf[2000];
    snprintf(mconf, sizeof(mconf),
             "brokerName=broker-tls-ha\nbrokerRole=SYNC_MASTER\nbrokerId=0\nslaveTimeout=1500\n"
             "haSendHeartbeatInterval=300\nhaTlsEnable=true\ntls.server.mode=disabled\n"
             "tls.server.certPath=%s/server.pem\ntls.server.keyPath=%s/server.key\ntls.config.file=\n",
             dir, dir);
    cr_assert(th_broker_start(&bk, ns.port, mconf), "master did not start (%s)", bk.log);
    cr_expect(th_log_contains(&bk, "ha: tls.server.mode=enforcing", 2000), "no TLS on the HA port (%s)",
              bk.log);
    th_proc_t slave;
    snprintf(sconf, sizeof(sconf),
             "brokerName=broker-tls-ha\nbrokerRole=SLAVE\nbrokerId=1\nhaMasterAddress=127.0.0.1:%d\n"
             "haSendHeartbeatInterval=300\nhaTlsEnable=true\ntls.server.mode=disabled\ntls.test.mode.enable="
             "false\n"
             "tls.client.authServer=true\ntls.client.trustCertPath=%s/ca.pem\ntls.config.file=\n",
             bk.port + 1, dir);
    cr_assert(th_broker_start(&slave, ns.port, sconf), "slave did not start (%s)", slave.log);
    rmq_cmd_t req, resp;
    th_client_t c;
    cr_assert(th_connect(&c, bk.port));
    th_req_create_topic(&req, "HaTlsTopic", 1);
    rmq_cmd_init(&resp);
    cr_assert(th_call(&c, &req, &resp, 5000) && resp.code == 0);
    rmq_cmd_deinit(&req);
    rmq_cmd_deinit(&resp);
    th_close(&c);
    int code = -1;
    cr_expect(TH_WAIT_UNTIL((code = send_code(bk.port, "HaTlsTopic")) == 0, 20000),
              "SYNC_MASTER send over a TLS replication link: code %d (master %s, slave %s)", code, bk.log,
              slave.log);
    th_proc_stop(&slave, SIGTERM);

    /* a slave trusting another CA */
    th_proc_t bad;
    snprintf(sconf, sizeof(sconf),
             "brokerName=broker-tls-ha\nbrokerRole=SLAVE\nbrokerId=2\nhaMasterAddress=127.0.0.1:%d\n"
             "haSendHeartbeatInterval=300\nhaTlsEnable=true\ntls.server.mode=disabled\ntls.test.mode.enable="
             "false\n"
             "tls.client.authServer=true\ntls.client.trustCertPath=%s/other.pem\ntls.config.file=\n",
             bk.port + 1, dir);
    cr_assert(th_broker_start(&bad, ns.port, sconf), "second slave did not start (%s)", bad.log);
    cr_expect(th_log_contains(&bad, "certificate verify failed", 10000), "no TLS reason in %s", bad.log);
    cr_expect(TH_WAIT_UNTIL(send_code(bk.port, "HaTlsTopic") == RMQ_ERR_SLAVE_NOT_AVAILABLE, 10000),
              "a master whose only slave cannot verify it still found a slave in sync");
    th_proc_stop(&bad, SIGTERM);
}
