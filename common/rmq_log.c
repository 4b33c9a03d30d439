/* rmq_log.c - log line formatting and output.
 *
 * Owns the log destination. Any thread may log; a line is formatted into a
 * stack buffer and written with one write(2), so lines never interleave. */
#include "rmq_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

volatile int rmq_log_level = RMQ_LOG_INFO;

static int log_fd = 2;
static char log_path[512];
static void (*log_cb)(void *, int, const char *, const char *);
static void *log_cb_opaque;
static __thread char thread_name[16] = "main";

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

int rmq_log_level_parse(const char *s)
{
    for (int i = 0; i <= RMQ_LOG_TRACE; i++)
        if (strcasecmp(s, level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "WARNING") == 0)
        return RMQ_LOG_WARN;
    return -1;
}

int rmq_log_set_file(const char *path)
{
    if (!path || !*path) {
        log_path[0] = '\0';
        log_fd = 2;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    snprintf(log_path, sizeof(log_path), "%s", path);
    int old = log_fd;
    log_fd = fd;
    if (old > 2)
        close(old);
    return 0;
}

void rmq_log_reopen(void)
{
    if (log_path[0]) {
        char p[sizeof(log_path)];
        memcpy(p, log_path, sizeof(p));
        rmq_log_set_file(p);
    }
}

void rmq_log_set_thread_name(const char *name)
{
    snprintf(thread_name, sizeof(thread_name), "%s", name);
    pthread_setname_np(pthread_self(), thread_name);
}

void rmq_log_set_callback(void (*cb)(void *, int, const char *, const char *), void *opaque)
{
    log_cb = cb;
    log_cb_opaque = opaque;
}

static void vlog(int level, const char *facility, int err, const char *fmt, va_list ap)
{
    char line[2048];
    size_t n = 0;
    if (level < 0)
        level = 0;
    if (level > RMQ_LOG_TRACE)
        level = RMQ_LOG_TRACE;

    if (!log_cb) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %-5s [%s] %s: ", (int)(tv.tv_usec / 1000),
                              level_names[level], thread_name, facility);
    }
    size_t msg_start = n;
    int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (w > 0)
        n = n + (size_t)w < sizeof(line) ? n + (size_t)w : sizeof(line) - 1;
    if (err && n < sizeof(line) - 1) {
        w = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
        if (w > 0)
            n = n + (size_t)w < sizeof(line) ? n + (size_t)w : sizeof(line) - 1;
    }
    if (log_cb) {
        line[n] = '\0';
        log_cb(log_cb_opaque, level, facility, line + msg_start);
        return;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t r = write(log_fd, line, n);
    (void)r;
}

void rmq_log_write(int level, const char *facility, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, facility, 0, fmt, ap);
    va_end(ap);
    errno = saved;
}

void rmq_log_write_errno(int level, const char *facility, int err, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    va_start(ap, fmt);
    vlog(level, facility, err, fmt, ap);
    va_end(ap);
    errno = saved;
}
