/* rmq_tls.h - TLS for the remoting connections (OpenSSL through libevent's
 * OpenSSL bufferevents), configured with RocketMQ 4.9's TLS setting names
 * (TlsSystemConfig / TlsHelper):
 *
 *   tls.server.mode            disabled | permissive | enforcing (Java default permissive):
 *                              permissive tells TLS from plaintext by the first byte (0x16,
 *                              a TLS handshake record) on the same port; enforcing closes
 *                              plaintext connections at once; disabled closes TLS ones
 *   tls.server.certPath / keyPath / keyPassword   PEM certificate chain and key
 *   tls.server.need.client.auth  none | optional | require
 *   tls.server.authClient / trustCertPath          verify client certificates against a CA
 *   tls.enable                 clients: connect with TLS
 *   tls.client.authServer / trustCertPath          verify the server against a CA
 *   tls.client.certPath / keyPath / keyPassword    client certificate
 *   tls.test.mode.enable       servers: without a certificate, serve an ephemeral self-signed
 *                              one (Java's test mode); clients: trust any server
 *   tls.config.file            properties file whose tls.* keys override these
 *                              (Java default /etc/rocketmq/tls.properties; read only when TLS is used)
 *
 * One rmq_tls_t per endpoint kind; it outlives the endpoints that use it.
 * Built on the main thread; SSL objects are then created on the I/O thread. */
#ifndef RMQ_TLS_H
#define RMQ_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "rmq_conf.h"
#include "rmq_err.h"

struct ssl_st;

typedef enum {
    RMQ_TLS_DISABLED = 0,
    RMQ_TLS_PERMISSIVE = 1,
    RMQ_TLS_ENFORCING = 2,
} rmq_tls_mode_t;

/* tls.server.need.client.auth (Netty's ClientAuth) */
typedef enum {
    RMQ_TLS_CLIENT_AUTH_NONE = 0,
    RMQ_TLS_CLIENT_AUTH_OPTIONAL = 1,
    RMQ_TLS_CLIENT_AUTH_REQUIRE = 2,
} rmq_tls_client_auth_t;

typedef struct rmq_tls_conf_s {
    /* both sides */
    bool test_mode;
    char *config_file;
    /* server */
    int server_mode;      /* rmq_tls_mode_t */
    int need_client_auth; /* rmq_tls_client_auth_t */
    char *server_cert;
    char *server_key;
    char *server_key_password;
    bool server_auth_client;
    char *server_trust;
    /* client */
    bool enable;
    bool client_auth_server;
    char *client_cert;
    char *client_key;
    char *client_key_password;
    char *client_trust;
} rmq_tls_conf_t;

/* Settings tables over rmq_tls_conf_t (servers chain the common and server
 * tables; a broker also the client table for its name-server connections). */
extern const rmq_conf_def_t rmq_tls_common_conf_defs[];
extern const rmq_conf_def_t rmq_tls_server_conf_defs[];
extern const rmq_conf_def_t rmq_tls_client_conf_defs[];

typedef struct rmq_tls_s rmq_tls_t;

/* Server context from c (tls.config.file applied first). Returns NULL with
 * errstr on a configuration error; a context with mode DISABLED (and no
 * SSL_CTX) when tls.server.mode=disabled. */
rmq_tls_t *rmq_tls_server_new(rmq_tls_conf_t *c, const char *who, char *errstr, size_t errstr_size);
/* Client context, or NULL when tls.enable is false (errstr empty) or on an
 * error (errstr set). */
rmq_tls_t *rmq_tls_client_new(rmq_tls_conf_t *c, const char *who, char *errstr, size_t errstr_size);
void rmq_tls_free(rmq_tls_t *t);

rmq_tls_mode_t rmq_tls_mode(const rmq_tls_t *t);
/* A new SSL for one connection (NULL on failure). `sni_host`: client side,
 * the host name to send (NULL or a numeric address: none). */
struct ssl_st *rmq_tls_new_ssl(rmq_tls_t *t, const char *sni_host);

/* Why a TLS connection failed, from the SSL object and OpenSSL's error
 * queue ("certificate verify failed: unable to get local issuer
 * certificate"). Clears the queue. */
void rmq_tls_describe_error(struct ssl_st *ssl, unsigned long err, char *out, size_t n);

#endif
