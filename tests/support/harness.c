/* harness.c - process and connection helpers for integration tests.
 * Runs on the test's main thread; blocking I/O with poll() timeouts. */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rmq_buf.h"
#include "rmq_time.h"

int th_free_port(void)
{
    /* Bind port 0 and keep away from the ephemeral range collisions by
     * retrying a few times; the kernel gives a port that was free. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

bool th_tmpdir(char *out, size_t n, const char *prefix)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/%s-XXXXXX", t && *t ? t : "/tmp", prefix);
    return mkdtemp(out) != NULL;
}

const char *th_bin(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", COMET_BIN_DIR, name);
    return out;
}

bool th_log_contains(const th_proc_t *p, const char *text, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    do {
        FILE *f = fopen(p->log, "r");
        if (f) {
            char line[4096];
            while (fgets(line, sizeof(line), f))
                if (strstr(line, text)) {
                    fclose(f);
                    return true;
                }
            fclose(f);
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    } while (rmq_mono_ms() < deadline);
    return false;
}

bool th_proc_alive(th_proc_t *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = 0;
        return false;
    }
    return true;
}

bool th_proc_spawn(th_proc_t *p, const char *exe, char *const argv[], const char *boot_line, int timeout_ms)
{
    if (!p->log[0])
        snprintf(p->log, sizeof(p->log), "%s/process.log", p->dir);
    /* A restart must not be satisfied by the previous run's boot line: keep
     * the old log beside the new one. */
    for (int i = 1; i < 100; i++) {
        char old[sizeof(p->log) + 8];
        snprintf(old, sizeof(old), "%s.%d", p->log, i);
        if (access(old, F_OK) != 0) {
            rename(p->log, old);
            break;
        }
    }
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        /* If the test process dies (a crash skips .fini), take the server
         * with it instead of leaving it running. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(p->dir) != 0)
            _exit(126);
        execv(exe, argv);
        _exit(127);
    }
    p->pid = pid;
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    while (rmq_mono_ms() < deadline) {
        if (th_log_contains(p, boot_line, 50))
            return true;
        if (!th_proc_alive(p))
            return false;
    }
    return false;
}

void th_proc_stop(th_proc_t *p, int sig)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    int64_t deadline = rmq_mono_ms() + 5000;
    for (;;) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid || r < 0)
            break;
        if (rmq_mono_ms() > deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &st, 0);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    p->pid = 0;
}

bool th_namesrv_start(th_proc_t *p, const char *extra_conf)
{
    memset(p, 0, sizeof(*p));
    if (!th_tmpdir(p->dir, sizeof(p->dir), "comet-ns"))
        return false;
    for (int attempt = 0; attempt < 5; attempt++) {
        p->port = th_free_port();
        snprintf(p->conf, sizeof(p->conf), "%s/namesrv.conf", p->dir);
        FILE *f = fopen(p->conf, "w");
        if (!f)
            return false;
        fprintf(f, "listenPort=%d\nlistenAddress=127.0.0.1\nrocketmqHome=%s\nkvConfigPath=%s/kvConfig.json\n%s\n",
                p->port, p->dir, p->dir, extra_conf ? extra_conf : "");
        fclose(f);
        char exe[512];
        th_bin("mqnamesrv", exe, sizeof(exe));
        char *argv[] = {exe, "-c", p->conf, NULL};
        if (th_proc_spawn(p, exe, argv, "The Name Server boot success", 10000))
            return true;
        th_proc_stop(p, SIGKILL);
    }
    return false;
}

/* ---------- blocking client ---------- */

bool th_connect(th_client_t *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->next_opaque = 1;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < 100; i++) {
        if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            return true;
        }
        close(c->fd);
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(c->fd);
    c->fd = -1;
    return false;
}

void th_close(th_client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

bool th_send_raw(th_client_t *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static bool read_full(int fd, void *p, size_t n, int64_t deadline)
{
    uint8_t *b = p;
    while (n) {
        int left = (int)(deadline - rmq_mono_ms());
        if (left <= 0)
            return false;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, left);
        if (r <= 0)
            continue;
        ssize_t got = recv(fd, b, n, 0);
        if (got <= 0)
            return false;
        b += got;
        n -= (size_t)got;
    }
    return true;
}

bool th_read_frame(th_client_t *c, rmq_cmd_t *out, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    uint8_t lb[4];
    if (!read_full(c->fd, lb, 4, deadline))
        return false;
    uint32_t len = rmq_be32(lb);
    if (len > 64u * 1024 * 1024)
        return false;
    uint8_t *buf = malloc(len ? len : 1);
    bool ok = read_full(c->fd, buf, len, deadline) && rmq_cmd_decode(out, buf, len, NULL, 0) == RMQ_OK;
    free(buf);
    return ok;
}

static bool send_cmd(th_client_t *c, rmq_cmd_t *req)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_cmd_encode(req, &b);
    bool ok = th_send_raw(c, b.data, b.len);
    rmq_buf_free(&b);
    return ok;
}

bool th_call(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms)
{
    req->opaque = c->next_opaque++;
    req->flag &= ~RMQ_FLAG_ONEWAY;
    if (!send_cmd(c, req))
        return false;
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    for (int i = 0; i < 10000; i++) {
        int left = (int)(deadline - rmq_mono_ms());
        if (left <= 0)
            return false;
        if (!th_read_frame(c, resp, left))
            return false;
        if (rmq_cmd_is_response(resp) && resp->opaque == req->opaque)
            return true;
        rmq_cmd_deinit(resp);
    }
    return false;
}

bool th_oneway(th_client_t *c, rmq_cmd_t *req)
{
    req->opaque = c->next_opaque++;
    req->flag |= RMQ_FLAG_ONEWAY;
    return send_cmd(c, req);
}

bool th_wait_closed(th_client_t *c, int timeout_ms)
{
    int64_t deadline = rmq_mono_ms() + timeout_ms;
    uint8_t tmp[4096];
    while (rmq_mono_ms() < deadline) {
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(deadline - rmq_mono_ms()));
        if (r <= 0)
            continue;
        ssize_t got = recv(c->fd, tmp, sizeof(tmp), 0);
        if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
    return false;
}
