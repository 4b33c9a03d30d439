/* rmq_tls.c - TLS contexts for servers and clients (see rmq_tls.h):
 * RocketMQ's setting names, PEM files, client-certificate modes, the
 * ephemeral self-signed certificate of Java's test mode, readable errors.
 * Thread: contexts are built on the main thread before the loops run; SSL
 * objects are made on the endpoint's I/O thread (SSL_CTX is thread-safe). */
#include "rmq_tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "rmq_alloc.h"
#include "rmq_log.h"

#define F(x) offsetof(rmq_tls_conf_t, x)

static const char *const modes[] = {[RMQ_TLS_DISABLED] = "disabled",
                                    [RMQ_TLS_PERMISSIVE] = "permissive",
                                    [RMQ_TLS_ENFORCING] = "enforcing",
                                    NULL};
static const char *const auths[] = {[RMQ_TLS_CLIENT_AUTH_NONE] = "none",
                                    [RMQ_TLS_CLIENT_AUTH_OPTIONAL] = "optional",
                                    [RMQ_TLS_CLIENT_AUTH_REQUIRE] = "require",
                                    NULL};

const rmq_conf_def_t rmq_tls_common_conf_defs[] = {
    {"tls.test.mode.enable", RMQ_CONF_BOOL, F(test_mode), "true", 0, 0, 0,
     "test mode: a server without tls.server.certPath serves an ephemeral self-signed certificate; a client "
     "(broker to name server) trusts any server",
     NULL},
    {"tls.config.file", RMQ_CONF_STR, F(config_file), "/etc/rocketmq/tls.properties", 0, 0, 0,
     "properties file whose tls.* keys override these settings, read when TLS is in use (ignored if missing)",
     NULL},
    RMQ_CONF_END,
};

const rmq_conf_def_t rmq_tls_server_conf_defs[] = {
    {"tls.server.mode", RMQ_CONF_ENUM, F(server_mode), "permissive", 0, 0, RMQ_CONF_IMPORTANT,
     "TLS on the client ports: disabled (TLS handshakes are closed), permissive (TLS and plaintext on one "
     "port, told apart by the first byte), enforcing (plaintext connections are closed)",
     modes},
    {"tls.server.certPath", RMQ_CONF_STR, F(server_cert), "", 0, 0, 0, "server certificate chain (PEM)",
     NULL},
    {"tls.server.keyPath", RMQ_CONF_STR, F(server_key), "", 0, 0, 0,
     "server private key (PEM, PKCS#8 or traditional)", NULL},
    {"tls.server.keyPassword", RMQ_CONF_STR, F(server_key_password), "", 0, 0, 0,
     "password of an encrypted server key", NULL},
    {"tls.server.need.client.auth", RMQ_CONF_ENUM, F(need_client_auth), "none", 0, 0, 0,
     "client certificates: none, optional (verified when sent) or require", auths},
    {"tls.server.authClient", RMQ_CONF_BOOL, F(server_auth_client), "false", 0, 0, 0,
     "verify client certificates against tls.server.trustCertPath (false: accept any certificate)", NULL},
    {"tls.server.trustCertPath", RMQ_CONF_STR, F(server_trust), "", 0, 0, 0,
     "CA certificates (PEM) for client certificates", NULL},
    RMQ_CONF_END,
};

const rmq_conf_def_t rmq_tls_client_conf_defs[] = {
    {"tls.enable", RMQ_CONF_BOOL, F(enable), "false", 0, 0, 0,
     "outgoing connections (to the name servers) use TLS", NULL},
    {"tls.client.authServer", RMQ_CONF_BOOL, F(client_auth_server), "false", 0, 0, 0,
     "verify the server certificate against tls.client.trustCertPath (or the system CAs)", NULL},
    {"tls.client.trustCertPath", RMQ_CONF_STR, F(client_trust), "", 0, 0, 0, "CA certificates (PEM)", NULL},
    {"tls.client.certPath", RMQ_CONF_STR, F(client_cert), "", 0, 0, 0, "client certificate (PEM)", NULL},
    {"tls.client.keyPath", RMQ_CONF_STR, F(client_key), "", 0, 0, 0, "client private key (PEM)", NULL},
    {"tls.client.keyPassword", RMQ_CONF_STR, F(client_key_password), "", 0, 0, 0,
     "password of an encrypted client key", NULL},
    RMQ_CONF_END,
};

struct rmq_tls_s {
    rmq_tls_mode_t mode;
    SSL_CTX *ctx;
    bool client;
    char *key_password;
};

static bool set(const char *s)
{
    return s && *s;
}

static void ssl_err(char *errstr, size_t n, const char *what, const char *path)
{
    char e[256] = "";
    unsigned long code = ERR_get_error();
    if (code)
        ERR_error_string_n(code, e, sizeof(e));
    ERR_clear_error();
    snprintf(errstr, n, "%s%s%s%s%s", what, path ? " " : "", path ? path : "", e[0] ? ": " : "", e);
}

static int passwd_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    if (!pw)
        return 0;
    int l = (int)strlen(pw);
    if (l > size)
        l = size;
    memcpy(buf, pw, (size_t)l);
    return l;
}

/* The tls.* keys of `file` (if it exists) override c, as TlsHelper's
 * extractTlsConfigFromFile does. */
struct file_ctx {
    rmq_tls_conf_t *c;
    const rmq_conf_def_t *tbl[3];
    const char *path;
};

static int file_cb(void *opaque, const char *key, const char *value, int line)
{
    struct file_ctx *f = opaque;
    char err[256];
    for (int i = 0; i < 3 && f->tbl[i]; i++) {
        rmq_err_t r = rmq_conf_set(f->tbl[i], f->c, key, value, err, sizeof(err));
        if (r == RMQ_OK)
            return 0;
        if (r != RMQ_ERR__NOENT) {
            rmq_log(RMQ_LOG_WARN, "tls", "%s:%d: %s (ignored)", f->path, line, err);
            return 0;
        }
    }
    return 0;
}

static void apply_file(rmq_tls_conf_t *c, const rmq_conf_def_t *side)
{
    if (!set(c->config_file))
        return;
    struct stat st;
    if (stat(c->config_file, &st) != 0 || !S_ISREG(st.st_mode)) {
        rmq_log(RMQ_LOG_DEBUG, "tls", "TLS config file %s does not exist, skipped", c->config_file);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    if (rmq_file_read_all(c->config_file, &text, &len) != RMQ_OK) {
        rmq_log(RMQ_LOG_WARN, "tls", "TLS config file %s cannot be read, skipped", c->config_file);
        return;
    }
    char *path = rmq_strdup(c->config_file); /* the file may not change its own path */
    struct file_ctx f = {c, {side, rmq_tls_common_conf_defs, NULL}, path};
    rmq_props_parse(text, len, file_cb, &f);
    free(c->config_file);
    c->config_file = path;
    free(text);
    rmq_log(RMQ_LOG_INFO, "tls", "TLS settings read from %s", path);
}

/* An EC P-256 key and a self-signed certificate (CN=comet-test, 1 year). */
static bool self_signed(SSL_CTX *ctx, char *errstr, size_t n)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    bool ok = false;
    if (!key || !x)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(time(NULL) & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"comet-test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (!X509_sign(x, key, EVP_sha256()))
        goto out;
    ok = SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1;
out:
    if (!ok)
        ssl_err(errstr, n, "cannot make the self-signed test certificate", NULL);
    X509_free(x);
    EVP_PKEY_free(key);
    return ok;
}

static int accept_any_cb(int preverify, X509_STORE_CTX *x)
{
    return 1;
}

rmq_tls_mode_t rmq_tls_mode(const rmq_tls_t *t)
{
    return t ? t->mode : RMQ_TLS_DISABLED;
}

void rmq_tls_free(rmq_tls_t *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t->key_password);
    free(t);
}

static rmq_tls_t *fail(rmq_tls_t *t)
{
    rmq_tls_free(t);
    return NULL;
}

rmq_tls_t *rmq_tls_server_new(rmq_tls_conf_t *c, const char *who, char *errstr, size_t n)
{
    rmq_tls_t *t = rmq_calloc(1, sizeof(*t));
    t->mode = (rmq_tls_mode_t)c->server_mode;
    if (t->mode == RMQ_TLS_DISABLED)
        return t;
    apply_file(c, rmq_tls_server_conf_defs);
    t->mode = (rmq_tls_mode_t)c->server_mode; /* the file may change it */
    if (t->mode == RMQ_TLS_DISABLED)
        return t;
    const char *m = modes[t->mode];
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (!t->ctx) {
        ssl_err(errstr, n, "SSL_CTX_new failed", NULL);
        return fail(t);
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_id_context(t->ctx, (const unsigned char *)"comet", 5);
    if (set(c->server_key_password)) {
        t->key_password = rmq_strdup(c->server_key_password);
        SSL_CTX_set_default_passwd_cb(t->ctx, passwd_cb);
        SSL_CTX_set_default_passwd_cb_userdata(t->ctx, t->key_password);
    }
    if (set(c->server_cert) || set(c->server_key)) {
        if (!set(c->server_cert) || !set(c->server_key)) {
            snprintf(errstr, n, "tls.server.certPath and tls.server.keyPath must be set together");
            return fail(t);
        }
        if (SSL_CTX_use_certificate_chain_file(t->ctx, c->server_cert) != 1) {
            ssl_err(errstr, n, "cannot load tls.server.certPath", c->server_cert);
            return fail(t);
        }
        if (SSL_CTX_use_PrivateKey_file(t->ctx, c->server_key, SSL_FILETYPE_PEM) != 1) {
            ssl_err(errstr, n, "cannot load tls.server.keyPath", c->server_key);
            return fail(t);
        }
        if (SSL_CTX_check_private_key(t->ctx) != 1) {
            ssl_err(errstr, n, "tls.server.keyPath does not match tls.server.certPath", c->server_key);
            return fail(t);
        }
    } else if (c->test_mode) {
        if (!self_signed(t->ctx, errstr, n))
            return fail(t);
        rmq_log(RMQ_LOG_WARN, "tls",
                "%s: tls.server.mode=%s without tls.server.certPath: serving an ephemeral self-signed "
                "certificate "
                "(tls.test.mode.enable=true); clients that verify servers will refuse it",
                who, m);
    } else {
        snprintf(errstr, n,
                 "tls.server.mode=%s needs tls.server.certPath and tls.server.keyPath (or "
                 "tls.test.mode.enable=true "
                 "for a self-signed test certificate, or tls.server.mode=disabled)",
                 m);
        return fail(t);
    }
    const char *ca = auths[c->need_client_auth];
    int verify = SSL_VERIFY_NONE;
    if (c->need_client_auth == RMQ_TLS_CLIENT_AUTH_OPTIONAL)
        verify = SSL_VERIFY_PEER;
    else if (c->need_client_auth == RMQ_TLS_CLIENT_AUTH_REQUIRE)
        verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    if (verify != SSL_VERIFY_NONE) {
        if (c->server_auth_client) {
            if (set(c->server_trust)) {
                if (SSL_CTX_load_verify_locations(t->ctx, c->server_trust, NULL) != 1) {
                    ssl_err(errstr, n, "cannot load tls.server.trustCertPath", c->server_trust);
                    return fail(t);
                }
                STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->server_trust);
                if (names)
                    SSL_CTX_set_client_CA_list(t->ctx, names);
            } else {
                SSL_CTX_set_default_verify_paths(t->ctx);
            }
            SSL_CTX_set_verify(t->ctx, verify, NULL);
        } else {
            /* Java's InsecureTrustManagerFactory: ask for a certificate, accept any */
            SSL_CTX_set_verify(t->ctx, verify, accept_any_cb);
        }
    }
    rmq_log(RMQ_LOG_INFO, "tls", "%s: tls.server.mode=%s, certificate %s, client certificates %s%s", who, m,
            set(c->server_cert) ? c->server_cert : "self-signed (test mode)", ca,
            verify != SSL_VERIFY_NONE ? (c->server_auth_client ? " (verified)" : " (not verified)") : "");
    return t;
}

rmq_tls_t *rmq_tls_client_new(rmq_tls_conf_t *c, const char *who, char *errstr, size_t n)
{
    if (errstr && n)
        errstr[0] = '\0';
    if (!c->enable)
        return NULL;
    apply_file(c, rmq_tls_client_conf_defs);
    rmq_tls_t *t = rmq_calloc(1, sizeof(*t));
    t->client = true;
    t->mode = RMQ_TLS_ENFORCING;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx) {
        ssl_err(errstr, n, "SSL_CTX_new failed", NULL);
        return fail(t);
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    bool verify = !c->test_mode && c->client_auth_server;
    if (verify) {
        if (set(c->client_trust)) {
            if (SSL_CTX_load_verify_locations(t->ctx, c->client_trust, NULL) != 1) {
                ssl_err(errstr, n, "cannot load tls.client.trustCertPath", c->client_trust);
                return fail(t);
            }
        } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            ssl_err(errstr, n, "cannot load the system CA certificates", NULL);
            return fail(t);
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    }
    if (!c->test_mode && (set(c->client_cert) || set(c->client_key))) {
        if (!set(c->client_cert) || !set(c->client_key)) {
            snprintf(errstr, n, "tls.client.certPath and tls.client.keyPath must be set together");
            return fail(t);
        }
        if (set(c->client_key_password)) {
            t->key_password = rmq_strdup(c->client_key_password);
            SSL_CTX_set_default_passwd_cb(t->ctx, passwd_cb);
            SSL_CTX_set_default_passwd_cb_userdata(t->ctx, t->key_password);
        }
        if (SSL_CTX_use_certificate_chain_file(t->ctx, c->client_cert) != 1) {
            ssl_err(errstr, n, "cannot load tls.client.certPath", c->client_cert);
            return fail(t);
        }
        if (SSL_CTX_use_PrivateKey_file(t->ctx, c->client_key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(t->ctx) != 1) {
            ssl_err(errstr, n, "cannot load tls.client.keyPath", c->client_key);
            return fail(t);
        }
    }
    if (verify)
        rmq_log(RMQ_LOG_DEBUG, "tls", "%s: TLS to servers, certificates verified against %s", who,
                set(c->client_trust) ? c->client_trust : "the system CAs");
    else
        rmq_log(RMQ_LOG_WARN, "tls",
                "%s: TLS to servers WITHOUT verifying their certificates (tls.test.mode.enable=true or "
                "tls.client.authServer=false)",
                who);
    return t;
}

SSL *rmq_tls_new_ssl(rmq_tls_t *t, const char *sni_host)
{
    if (!t || !t->ctx)
        return NULL;
    SSL *ssl = SSL_new(t->ctx);
    if (!ssl)
        return NULL;
    if (t->client && sni_host && *sni_host) {
        unsigned char b[16];
        if (inet_pton(AF_INET, sni_host, b) != 1 && inet_pton(AF_INET6, sni_host, b) != 1)
            SSL_set_tlsext_host_name(ssl, sni_host);
    }
    return ssl;
}

void rmq_tls_describe_error(SSL *ssl, unsigned long err, char *out, size_t n)
{
    char e[256] = "";
    if (!err)
        err = ERR_peek_error();
    if (err) {
        const char *reason = ERR_reason_error_string(err);
        snprintf(e, sizeof(e), "%s", reason ? reason : "TLS error");
    }
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (vr != X509_V_OK)
        snprintf(out, n, "%s%s%s", e[0] ? e : "certificate verify failed", ": ",
                 X509_verify_cert_error_string(vr));
    else
        snprintf(out, n, "%s", e[0] ? e : "TLS handshake failed");
    ERR_clear_error();
}
