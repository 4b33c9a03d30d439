/* rmq_sync_client.c - blocking remoting client (connect with a timeout,
 * request/response by opaque, oneway, raw frames). Owns one socket and its
 * read buffer; runs on whichever single thread calls it (mqadmin's main
 * thread, a test's main thread). Waits are poll() with a deadline. */
#include "rmq_sync_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rmq_acl_sign.h"
#include "rmq_time.h"

static int left_ms(int64_t deadline)
{
    int64_t l = deadline - rmq_mono_ms();
    return l <= 0 ? 0 : l > 0x7fffffff ? 0x7fffffff : (int)l;
}

static rmq_err_t fail(rmq_sync_client_t *c, rmq_err_t e, const char *fmt, const char *arg)
{
    snprintf(c->err, sizeof(c->err), fmt, c->addr, arg);
    return e;
}

/* Non-blocking connect to one resolved address, bounded by deadline. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int *err)
{
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return -1;
        }
        struct pollfd pfd = {fd, POLLOUT, 0};
        int r;
        do
            r = poll(&pfd, 1, left_ms(deadline));
        while (r < 0 && errno == EINTR);
        if (r == 0) {
            *err = ETIMEDOUT;
            close(fd);
            return -1;
        }
        int so = 0;
        socklen_t sl = sizeof(so);
        if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
            *err = r < 0 ? errno : so ? so : EIO;
            close(fd);
            return -1;
        }
    }
    /* blocking from here on: every read and write is preceded by poll() */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

rmq_err_t rmq_sync_connect(rmq_sync_client_t *c, const char *addr, int timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->next_opaque = 1;
    c->max_frame = RMQ_FRAME_MAX_DEFAULT;
    rmq_buf_init(&c->in);
    snprintf(c->addr, sizeof(c->addr), "%s", addr ? addr : "");
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    char host[256];
    size_t hl = colon ? (size_t)(colon - addr) : 0;
    if (!colon || hl == 0 || hl >= sizeof(host) || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1))
        return fail(c, RMQ_ERR__INVALID_ARG, "bad address \"%s\" (want host:port)%s", "");
    memcpy(host, addr, hl);
    host[hl] = 0;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = 0;
    }
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int gr = getaddrinfo(host, colon + 1, &hints, &res);
    if (gr != 0 || !res)
        return fail(c, RMQ_ERR__TRANSPORT, "cannot resolve %s: %s", gr ? gai_strerror(gr) : "no address");
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    int err = 0;
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next)
        c->fd = connect_one(ai, deadline, &err);
    freeaddrinfo(res);
    if (c->fd < 0)
        return fail(c, err == ETIMEDOUT ? RMQ_ERR__TIMED_OUT : RMQ_ERR__TRANSPORT, "connect to %s failed: %s",
                    strerror(err));
    return RMQ_OK;
}

rmq_err_t rmq_sync_connect_secure(rmq_sync_client_t *c, const char *addr, int timeout_ms,
                                  const rmq_sync_security_t *sec)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    rmq_err_t e = rmq_sync_connect(c, addr, timeout_ms);
    c->sec = sec;
    if (e != RMQ_OK || !sec || !sec->tls)
        return e;
    c->ssl = SSL_new(sec->tls);
    if (!c->ssl) {
        rmq_sync_close(c);
        return fail(c, RMQ_ERR__TRANSPORT, "TLS with %s: SSL_new failed%s", "");
    }
    SSL_set_fd(c->ssl, c->fd);
    char host[256];
    const char *colon = strrchr(addr, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    unsigned char b[16];
    if (host[0] != '[' && inet_pton(AF_INET, host, b) != 1 && inet_pton(AF_INET6, host, b) != 1)
        SSL_set_tlsext_host_name(c->ssl, host);
    /* the handshake on the blocking socket, bounded by socket timeouts */
    int left = left_ms(deadline);
    struct timeval tv = {left / 1000, (left % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int r = SSL_connect(c->ssl);
    struct timeval none = {0, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
    if (r != 1) {
        long vr = SSL_get_verify_result(c->ssl);
        unsigned long code = ERR_get_error();
        const char *reason = code ? ERR_reason_error_string(code) : NULL;
        char why[200];
        snprintf(why, sizeof(why), "%.80s%s%.100s", reason ? reason : "handshake failed",
                 vr != X509_V_OK ? ": " : "", vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "");
        ERR_clear_error();
        rmq_sync_close(c);
        return fail(c, RMQ_ERR__TRANSPORT, "TLS handshake with %s failed: %s", why);
    }
    return RMQ_OK;
}

void rmq_sync_close(rmq_sync_client_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    rmq_buf_free(&c->in);
    for (int i = 0; i < c->nheld; i++)
        rmq_cmd_destroy(c->held[i]);
    c->nheld = 0;
}

static void hold(rmq_sync_client_t *c, rmq_cmd_t *cmd)
{
    if (c->nheld == RMQ_SYNC_MAX_HELD) {
        rmq_cmd_destroy(c->held[0]);
        memmove(c->held, c->held + 1, (RMQ_SYNC_MAX_HELD - 1) * sizeof(c->held[0]));
        c->nheld--;
    }
    rmq_cmd_t *h = rmq_cmd_new();
    *h = *cmd; /* takes the decoded fields */
    rmq_cmd_init(cmd);
    c->held[c->nheld++] = h;
}

static void sign(rmq_sync_client_t *c, rmq_cmd_t *req)
{
    if (c->sec && c->sec->access_key && *c->sec->access_key && c->sec->secret_key)
        rmq_acl_sign(req, c->sec->access_key, c->sec->secret_key, NULL, RMQ_ACL_SIDE_BROKER);
}

rmq_err_t rmq_sync_send_raw(rmq_sync_client_t *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (c->fd < 0)
        return fail(c, RMQ_ERR__TRANSPORT, "%s: not connected%s", "");
    while (n) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, b, n > 1u << 30 ? 1 << 30 : (int)n);
            if (r <= 0)
                return fail(c, RMQ_ERR__TRANSPORT, "TLS write to %s failed%s", "");
            w = r;
            b += w;
            n -= (size_t)w;
            continue;
        }
        w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return fail(c, RMQ_ERR__TRANSPORT, "write to %s failed: %s", strerror(errno));
        }
        b += w;
        n -= (size_t)w;
    }
    return RMQ_OK;
}

rmq_err_t rmq_sync_send(rmq_sync_client_t *c, const rmq_cmd_t *cmd)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_cmd_encode(cmd, &b);
    rmq_err_t e = rmq_sync_send_raw(c, b.data, b.len);
    rmq_buf_free(&b);
    return e;
}

/* Wait until the socket is readable (*ready) or the deadline passed (the
 * failure); a signal returns RMQ_OK without *ready (the caller comes back). */
static rmq_err_t wait_readable(rmq_sync_client_t *c, int64_t deadline, bool *ready)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    int r = poll(&pfd, 1, left_ms(deadline));
    *ready = r > 0;
    if (r < 0 && errno == EINTR)
        return RMQ_OK;
    if (r < 0)
        return fail(c, RMQ_ERR__TRANSPORT, "poll on %s failed: %s", strerror(errno));
    if (r == 0)
        return fail(c, RMQ_ERR__TIMED_OUT, "no answer from %s in time%s", "");
    return RMQ_OK;
}

/* Read more bytes into c->in, waiting until deadline. */
static rmq_err_t fill(rmq_sync_client_t *c, int64_t deadline)
{
    bool ready;
    rmq_err_t e;
    if (c->ssl) {
        rmq_buf_reserve(&c->in, 65536);
        if (SSL_pending(c->ssl) == 0 && ((e = wait_readable(c, deadline, &ready)) != RMQ_OK || !ready))
            return e;
        int got = SSL_read(c->ssl, c->in.data + c->in.len, (int)(c->in.cap - c->in.len));
        if (got <= 0) {
            int se = SSL_get_error(c->ssl, got);
            if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE)
                return RMQ_OK;
            return fail(c, RMQ_ERR__TRANSPORT, "%s closed the TLS connection%s", "");
        }
        c->in.len += (size_t)got;
        return RMQ_OK;
    }
    if ((e = wait_readable(c, deadline, &ready)) != RMQ_OK || !ready)
        return e;
    rmq_buf_reserve(&c->in, 65536);
    ssize_t got = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    if (got == 0)
        return fail(c, RMQ_ERR__TRANSPORT, "%s closed the connection%s", "");
    if (got < 0)
        return errno == EINTR ? RMQ_OK
                              : fail(c, RMQ_ERR__TRANSPORT, "read from %s failed: %s", strerror(errno));
    c->in.len += (size_t)got;
    return RMQ_OK;
}

static rmq_err_t read_until(rmq_sync_client_t *c, rmq_cmd_t *out, int64_t deadline)
{
    rmq_cmd_init(out);
    if (c->fd < 0)
        return fail(c, RMQ_ERR__TRANSPORT, "%s: not connected%s", "");
    for (;;) {
        if (c->in.len >= 4) {
            uint32_t len = rmq_be32(c->in.data);
            if (len > c->max_frame) {
                rmq_err_t e = fail(c, RMQ_ERR__TOO_LARGE, "%s sent an oversize frame%s", "");
                rmq_sync_close(c);
                return e;
            }
            if (c->in.len >= 4 + (size_t)len) {
                char why[128] = "";
                rmq_err_t e = rmq_cmd_decode(out, c->in.data + 4, len, why, sizeof(why));
                memmove(c->in.data, c->in.data + 4 + len, c->in.len - 4 - len);
                c->in.len -= 4 + (size_t)len;
                if (e != RMQ_OK) {
                    rmq_cmd_init(out);
                    fail(c, RMQ_ERR__CORRUPT, "%s sent a frame that does not decode: %s", why);
                    rmq_sync_close(c);
                    return RMQ_ERR__CORRUPT;
                }
                return RMQ_OK;
            }
        }
        rmq_err_t e = fill(c, deadline);
        if (e != RMQ_OK)
            return e;
    }
}

rmq_err_t rmq_sync_read(rmq_sync_client_t *c, rmq_cmd_t *out, int timeout_ms)
{
    if (c->nheld > 0) {
        rmq_cmd_t *h = c->held[0];
        memmove(c->held, c->held + 1, (size_t)(c->nheld - 1) * sizeof(c->held[0]));
        c->nheld--;
        *out = *h;
        rmq_cmd_init(h);
        rmq_cmd_destroy(h);
        return RMQ_OK;
    }
    return read_until(c, out, rmq_mono_ms() + timeout_ms);
}

rmq_err_t rmq_sync_call(rmq_sync_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    req->opaque = c->next_opaque++;
    req->flag &= ~RMQ_FLAG_ONEWAY;
    req->flag &= ~RMQ_FLAG_RESPONSE;
    sign(c, req);
    rmq_err_t e = rmq_sync_send(c, req);
    if (e != RMQ_OK) {
        rmq_cmd_init(resp);
        return e;
    }
    for (;;) {
        e = read_until(c, resp, deadline);
        if (e != RMQ_OK)
            return e;
        if (rmq_cmd_is_response(resp) && resp->opaque == req->opaque)
            return RMQ_OK;
        if (!rmq_cmd_is_response(resp))
            hold(c, resp); /* a server-initiated request: for rmq_sync_read */
        else
            rmq_cmd_deinit(resp); /* an answer nobody waits for any more */
    }
}

rmq_err_t rmq_sync_oneway(rmq_sync_client_t *c, rmq_cmd_t *req)
{
    req->opaque = c->next_opaque++;
    req->flag |= RMQ_FLAG_ONEWAY;
    req->flag &= ~RMQ_FLAG_RESPONSE;
    sign(c, req);
    return rmq_sync_send(c, req);
}

bool rmq_sync_wait_closed(rmq_sync_client_t *c, int timeout_ms)
{
    if (c->fd < 0)
        return true;
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    for (int i = 0;; i++) {
        if (i > 0 && rmq_mono_ms() >= deadline)
            return false; /* the peer keeps sending */
        c->in.len = 0;
        rmq_err_t e = fill(c, deadline);
        if (e == RMQ_ERR__TRANSPORT)
            return true;
        if (e == RMQ_ERR__TIMED_OUT)
            return false;
    }
}
