/* harness.c - process and connection helpers for the integration tests.
 * Runs on the test's main thread; every wait is bounded. */
#include "harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
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

/* Servers stopped with SIGTERM get this long to exit before the test fails
 * (and they are killed): generous, a loaded machine under ASan is slow. */
#define STOP_TIMEOUT_MS 30000
#define PORT_LOW 20000
#define PORT_HIGH 32000 /* below the ephemeral range (32768-60999 by default) */

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int th_free_port(void)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)rmq_mono_us();
    for (int i = 0; i < 1000; i++) {
        int p = PORT_LOW + 2 + (int)(rand_r(&seed) % (PORT_HIGH - PORT_LOW - 4));
        if (port_free(p - 2) && port_free(p - 1) && port_free(p) && port_free(p + 1))
            return p;
    }
    return -1;
}

const char *th_bin(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", COMET_BIN_DIR, name);
    return out;
}

bool th_log_contains(const th_proc_t *p, const char *text, int timeout_ms)
{
    return TH_WAIT_UNTIL(__extension__({
                             bool found_ = false;
                             FILE *f = fopen(p->log, "r");
                             if (f) {
                                 char line[4096];
                                 while (!found_ && fgets(line, sizeof(line), f))
                                     found_ = strstr(line, text) != NULL;
                                 fclose(f);
                             }
                             found_;
                         }),
                         timeout_ms);
}

bool th_log_has_sanitizer_report(const char *log, char *why, size_t n)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, "Sanitizer") != NULL || strstr(line, "runtime error:") != NULL;
    fclose(f);
    if (found && why)
        snprintf(why, n, "%s", line);
    return found;
}

static void print_tail(const th_proc_t *p)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    char lines[12][512];
    int k = 0;
    while (fgets(lines[k % 12], sizeof(lines[0]), f))
        k++;
    fclose(f);
    fprintf(stderr, "---- last lines of %s ----\n", p->log);
    for (int i = k > 12 ? k - 12 : 0; i < k; i++)
        fputs(lines[i % 12], stderr);
    fprintf(stderr, "----\n");
}

static void describe(int st, char *out, size_t n)
{
    if (WIFEXITED(st))
        snprintf(out, n, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(out, n, "signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, n, "wait status 0x%x", st);
}

bool th_proc_alive(th_proc_t *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = 0;
        p->status = st;
        p->reaped = true;
        return false;
    }
    return true;
}

bool th_proc_spawn(th_proc_t *p, const char *exe, char *const argv[], const char *boot_line, int timeout_ms)
{
    const char *base = strrchr(exe, '/');
    snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : exe);
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
    p->reaped = false;
    p->status = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork failed: %s\n", strerror(errno));
        return false;
    }
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
    bool up = TH_WAIT_UNTIL(th_log_contains(p, boot_line, 0) || !th_proc_alive(p), timeout_ms) && p->pid > 0;
    if (up)
        return true;
    char how[96] = "still running";
    if (p->reaped)
        describe(p->status, how, sizeof(how));
    fprintf(stderr, "harness: %s did not print \"%s\" within %d ms (%s)\n", p->name, boot_line, timeout_ms,
            how);
    print_tail(p);
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    p->reaped = false; /* reported here; th_proc_stop has nothing left to say */
    return false;
}

bool th_proc_wait_exit(th_proc_t *p, int timeout_ms, int *status)
{
    if (p->pid > 0 && !TH_WAIT_UNTIL(!th_proc_alive(p), timeout_ms))
        return false;
    if (status)
        *status = p->status;
    p->reaped = false; /* collected: the test looked at it */
    return true;
}

bool th_proc_stop(th_proc_t *p, int sig)
{
    char how[96], why[512];
    if (p->pid <= 0) {
        if (!p->reaped)
            return true;
        /* it ended before anyone stopped it */
        p->reaped = false;
        describe(p->status, how, sizeof(how));
        cr_expect_fail("%s exited on its own during the test (%s); log %s", p->name, how, p->log);
        return false;
    }
    kill(p->pid, sig);
    bool ok = true;
    if (!TH_WAIT_UNTIL(!th_proc_alive(p), STOP_TIMEOUT_MS)) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
        cr_expect_fail("%s did not exit within %d ms of signal %d; killed; log %s", p->name, STOP_TIMEOUT_MS,
                       sig, p->log);
        ok = false;
    } else {
        p->reaped = false;
        describe(p->status, how, sizeof(how));
        bool expected = sig == SIGKILL ? WIFSIGNALED(p->status) && WTERMSIG(p->status) == SIGKILL
                                       : WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
        if (!expected) {
            cr_expect_fail("%s ended with %s after signal %d (want %s); log %s", p->name, how, sig,
                           sig == SIGKILL ? "death by SIGKILL" : "exit status 0", p->log);
            ok = false;
        }
    }
    if (th_log_has_sanitizer_report(p->log, why, sizeof(why))) {
        cr_expect_fail("%s log has a sanitizer report: %s (log %s)", p->name, why, p->log);
        ok = false;
    }
    return ok;
}

int th_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int th_run(char *out, size_t n, const char *fmt, ...)
{
    rmq_buf_t cmd;
    rmq_buf_init(&cmd);
    va_list ap;
    va_start(ap, fmt);
    rmq_buf_vprintf(&cmd, fmt, ap);
    va_end(ap);
    rmq_buf_puts(&cmd, " 2>&1");
    fflush(NULL);
    FILE *f = popen(rmq_buf_cstr(&cmd), "r");
    if (!f)
        snprintf(out, n, "popen failed: %s", strerror(errno)); /* before free() may change errno */
    rmq_buf_free(&cmd);
    if (!f)
        return -1;
    size_t len = 0;
    while (len + 1 < n) {
        size_t r = fread(out + len, 1, n - 1 - len, f);
        if (r == 0)
            break;
        len += r;
    }
    out[len] = 0;
    char sink[4096];
    while (fread(sink, 1, sizeof(sink), f) > 0) /* the rest, so the command is not stopped by SIGPIPE */
        ;
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool th_namesrv_restart(th_proc_t *p)
{
    char exe[512];
    th_bin("mqnamesrv", exe, sizeof(exe));
    char *argv[] = {exe, "-c", p->conf, NULL};
    return th_proc_spawn(p, exe, argv, "The Name Server boot success", 15000);
}

bool th_namesrv_start(th_proc_t *p, const char *extra_conf)
{
    memset(p, 0, sizeof(*p));
    if (!th_tmpdir(p->dir, sizeof(p->dir), "ns"))
        return false;
    snprintf(p->conf, sizeof(p->conf), "%s/namesrv.conf", p->dir);
    /* The only retry: the chosen port was taken between the check and the
     * bind (by a test running beside this one); said aloud. */
    for (int attempt = 0; attempt < 3; attempt++) {
        p->port = th_free_port();
        FILE *f = fopen(p->conf, "w");
        if (!f)
            return false;
        fprintf(
            f, "listenPort=%d\nlistenAddress=127.0.0.1\nrocketmqHome=%s\nkvConfigPath=%s/kvConfig.json\n%s\n",
            p->port, p->dir, p->dir, extra_conf ? extra_conf : "");
        fclose(f);
        if (th_namesrv_restart(p))
            return true;
        if (!th_log_contains(p, "Address already in use", 0))
            return false;
        fprintf(stderr, "harness: port %d was taken before mqnamesrv bound it; another port\n", p->port);
    }
    return false;
}

/* ---------- blocking client: rmq_sync_client with bool results ---------- */

bool th_connect(th_client_t *c, int port)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    if (rmq_sync_connect(c, addr, 10000) == RMQ_OK)
        return true;
    fprintf(stderr, "harness: %s\n", c->err);
    return false;
}

void th_close(th_client_t *c)
{
    rmq_sync_close(c);
}

bool th_send_raw(th_client_t *c, const void *p, size_t n)
{
    return rmq_sync_send_raw(c, p, n) == RMQ_OK;
}

bool th_call(th_client_t *c, rmq_cmd_t *req, rmq_cmd_t *resp, int timeout_ms)
{
    return rmq_sync_call(c, req, resp, timeout_ms) == RMQ_OK;
}

bool th_oneway(th_client_t *c, rmq_cmd_t *req)
{
    return rmq_sync_oneway(c, req) == RMQ_OK;
}

bool th_read_frame(th_client_t *c, rmq_cmd_t *out, int timeout_ms)
{
    return rmq_sync_read(c, out, timeout_ms) == RMQ_OK;
}

bool th_wait_closed(th_client_t *c, int timeout_ms)
{
    return rmq_sync_wait_closed(c, timeout_ms);
}
