/* security.c - libcomet's ACL signing and TLS: when accessKey and secretKey
 * are set, every request is signed as RocketMQ's AclClientRPCHook signs it
 * (AccessKey, optional SecurityToken, Signature = Base64(HMAC-SHA1) of the
 * sorted extFields values and the body); when useTLS / tls.enable is set,
 * every connection (name servers and brokers) uses TLS and, unless
 * tls.test.mode.enable or tls.client.authServer=false say otherwise, the
 * server certificate is verified against tls.client.trustCertPath (or the
 * system CAs).
 * Threads: cm_security_setup runs in the handle constructor; the signing
 * hook runs on the instance's I/O thread, cm_security_sign on the thread
 * that encodes a frame (sends); both only read the settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_acl_sign.h"
#include "rmq_alloc.h"
#include "rmq_conf.h"
#include "rmq_conn.h"

/* @thread io */
static void sign_hook(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    const cm_settings_t *s = ctx;
    /* The broker verifies without _UNIQUE_KEY_QUERY (PlainAccessValidator);
     * signing the same content lets unique-key queries pass, which Java's
     * own client signs differently and gets refused. */
    rmq_acl_sign(req, s->accessKey, s->secretKey, s->securityToken, RMQ_ACL_SIDE_BROKER);
}

static bool set(const char *s)
{
    return s && *s;
}

/* A private copy of the TLS settings (rmq_tls_client_new may apply
 * tls.config.file to it). */
static void tls_conf_copy(rmq_tls_conf_t *dst, const rmq_tls_conf_t *src)
{
    *dst = *src;
    char **strs[] = {&dst->config_file,         &dst->server_cert,         &dst->server_key,
                     &dst->server_key_password, &dst->server_trust,        &dst->client_cert,
                     &dst->client_key,          &dst->client_key_password, &dst->client_trust};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        *strs[i] = *strs[i] ? rmq_strdup(*strs[i]) : NULL;
}

static void tls_conf_free(rmq_tls_conf_t *c)
{
    char *strs[] = {c->config_file,         c->server_cert,         c->server_key,
                    c->server_key_password, c->server_trust,        c->client_cert,
                    c->client_key,          c->client_key_password, c->client_trust};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(strs[i]);
}

bool cm_security_setup(const cm_settings_t *s, rmq_endpoint_opts_t *o, rmq_tls_t **tls, char *errstr,
                       size_t n)
{
    *tls = NULL;
    if (set(s->accessKey) != set(s->secretKey)) {
        cm_errstr(errstr, n, "accessKey and secretKey must be set together");
        return false;
    }
    if (s->tls.enable) {
        rmq_tls_conf_t c;
        tls_conf_copy(&c, &s->tls);
        char err[400] = "";
        *tls = rmq_tls_client_new(&c, "client", err, sizeof(err));
        tls_conf_free(&c);
        if (!*tls) {
            cm_errstr(errstr, n, "TLS: %s", err[0] ? err : "cannot set up");
            return false;
        }
        o->tls = *tls;
    }
    return true;
}

bool cm_security_install(rmq_endpoint_t *ep, const cm_settings_t *s)
{
    if (!set(s->accessKey) || !set(s->secretKey))
        return false;
    rmq_endpoint_set_send_hook(ep, sign_hook, (void *)s);
    return true;
}

void cm_security_sign(rmq_cmd_t *req, const cm_settings_t *s)
{
    sign_hook(NULL, req, (void *)s);
}
