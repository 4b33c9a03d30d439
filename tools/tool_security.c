/* tool_security.c - ACL signing and TLS for mqadmin's blocking requests
 * (rmq_sync_client) and its libcomet handles (see tool_security.h).
 * Credentials, as Java's mqadmin finds them: $ROCKETMQ_HOME/conf/tools.yml
 * (accessKey / secretKey, read with libyaml), overridden by the environment
 * (MQADMIN_ACCESS_KEY, MQADMIN_SECRET_KEY). TLS: MQADMIN_TLS_CA=ca.pem
 * (verify servers against it), MQADMIN_TLS=1 (verify against the system
 * CAs), MQADMIN_TLS_INSECURE=1 (no verification).
 * Thread: mqadmin's main thread only. */
#include "tool_security.h"

#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static char ak[256], sk[256];
static bool tls_on, tls_verify;
static char tls_ca[1024];
static SSL_CTX *tls_ctx;

/* The top-level accessKey / secretKey scalars of tools.yml. */
static void read_tools_yml(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    yaml_parser_t p;
    yaml_event_t ev;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_file(&p, f);
    int depth = 0;
    char key[64] = "";
    bool want_value = false;
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            fprintf(stderr, "mqadmin: %s: YAML error: %s (ignored)\n", path, p.problem ? p.problem : "?");
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) {
            depth++;
            want_value = false;
        } else if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) {
            depth--;
        } else if (t == YAML_SCALAR_EVENT && depth == 1) {
            const char *v = (const char *)ev.data.scalar.value;
            if (!want_value) {
                snprintf(key, sizeof(key), "%s", v);
                want_value = true;
            } else {
                if (!strcmp(key, "accessKey"))
                    snprintf(ak, sizeof(ak), "%s", v);
                else if (!strcmp(key, "secretKey"))
                    snprintf(sk, sizeof(sk), "%s", v);
                want_value = false;
            }
        }
        yaml_event_delete(&ev);
        if (t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    fclose(f);
}

void tool_security_init(void)
{
    const char *home = getenv("ROCKETMQ_HOME");
    if (home && *home) {
        char path[1200];
        snprintf(path, sizeof(path), "%s/conf/tools.yml", home);
        read_tools_yml(path);
    }
    const char *e;
    if ((e = getenv("MQADMIN_ACCESS_KEY")) && *e)
        snprintf(ak, sizeof(ak), "%s", e);
    if ((e = getenv("MQADMIN_SECRET_KEY")) && *e)
        snprintf(sk, sizeof(sk), "%s", e);
    if ((e = getenv("MQADMIN_TLS_CA")) && *e) {
        tls_on = tls_verify = true;
        snprintf(tls_ca, sizeof(tls_ca), "%s", e);
    } else if ((e = getenv("MQADMIN_TLS")) && *e && strcmp(e, "0") != 0) {
        tls_on = tls_verify = true;
    }
    if ((e = getenv("MQADMIN_TLS_INSECURE")) && *e && strcmp(e, "0") != 0) {
        tls_on = true;
        tls_verify = false;
    }
}

bool tool_security_conf(comet_conf_t *conf, char *err, size_t n)
{
    if (ak[0] && sk[0] &&
        (comet_conf_set(conf, "accessKey", ak, err, n) || comet_conf_set(conf, "secretKey", sk, err, n)))
        return false;
    if (tls_on) {
        if (comet_conf_set(conf, "useTLS", "true", err, n) ||
            comet_conf_set(conf, "tls.client.authServer", tls_verify ? "true" : "false", err, n) ||
            (tls_ca[0] && comet_conf_set(conf, "tls.client.trustCertPath", tls_ca, err, n)))
            return false;
    }
    return true;
}

/* ---------- the blocking client's settings ---------- */

static rmq_sync_security_t sec;

const rmq_sync_security_t *tool_security(void)
{
    sec.access_key = ak[0] && sk[0] ? ak : NULL;
    sec.secret_key = sk;
    if (tls_on && !tls_ctx) {
        tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!tls_ctx) {
            fprintf(stderr, "mqadmin: TLS: SSL_CTX_new failed\n");
            exit(1);
        }
        SSL_CTX_set_min_proto_version(tls_ctx, TLS1_2_VERSION);
        if (tls_verify) {
            int ok = tls_ca[0] ? SSL_CTX_load_verify_locations(tls_ctx, tls_ca, NULL)
                               : SSL_CTX_set_default_verify_paths(tls_ctx);
            if (ok != 1) {
                fprintf(stderr, "mqadmin: TLS: cannot load the CA certificates %s\n",
                        tls_ca[0] ? tls_ca : "(system)");
                exit(1);
            }
            SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_PEER, NULL);
        }
    }
    sec.tls = tls_ctx;
    return &sec;
}
