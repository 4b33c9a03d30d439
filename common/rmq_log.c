/* rmq_log.c - log line formatting and output.
 *
 * Owns the process log destination and the thread-local logger pointer. Any
 * thread may log; a line is formatted into a stack buffer and written with
 * one write(2), so lines never interleave. */
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
__thread rmq_logger_t *rmq_log_current;

static _Atomic int log_fd = 2; /* swapped by rmq_log_set_file while others write */
static char log_path[512];
static rmq_log_cb_t *log_cb; /* process logger's callback */
static void *log_cb_opaque;
static __thread char thread_name[16] = "main";

const char *const rmq_log_level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE", NULL};

int rmq_log_level_parse(const char *s)
{
    for (int i = 0; i <= RMQ_LOG_TRACE; i++)
        if (strcasecmp(s, rmq_log_level_names[i]) == 0)
            return i;
    if (strcasecmp(s, "WARNING") == 0)
        return RMQ_LOG_WARN;
    return -1;
}

int rmq_log_set_file(const char *path)
{
    if (!path || !*path) {
        log_path[0] = '\0';
        int old = atomic_exchange(&log_fd, 2);
        if (old > 2)
            close(old);
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    snprintf(log_path, sizeof(log_path), "%s", path);
    int old = atomic_exchange(&log_fd, fd);
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

void rmq_log_set_callback(rmq_log_cb_t *cb, void *opaque)
{
    log_cb = cb;
    log_cb_opaque = opaque;
}

void rmq_logger_init(rmq_logger_t *lg, int level, rmq_log_cb_t *cb, void *opaque)
{
    atomic_init(&lg->level, level);
    lg->cb = cb;
    lg->opaque = opaque;
}

rmq_logger_t *rmq_log_use(rmq_logger_t *lg)
{
    rmq_logger_t *old = rmq_log_current;
    rmq_log_current = lg;
    return old;
}

static void vlog(rmq_log_cb_t *cb, void *opaque, int level, const char *facility, int err, const char *fmt,
                 va_list ap)
{
    char line[2048];
    size_t n = 0;
    if (level < 0)
        level = 0;
    if (level > RMQ_LOG_TRACE)
        level = RMQ_LOG_TRACE;

    if (!cb) {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03d %-5s [%s] %s: ", (int)(tv.tv_usec / 1000),
                              rmq_log_level_names[level], thread_name, facility);
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
    if (cb) {
        line[n] = '\0';
        cb(opaque, level, facility, line + msg_start);
        return;
    }
    if (n >= sizeof(line) - 1)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t r = write(atomic_load(&log_fd), line, n);
    (void)r;
}

#define LOG_THROUGH(cb, opaque, err)                                                                         \
    do {                                                                                                     \
        int saved = errno;                                                                                   \
        va_list ap;                                                                                          \
        va_start(ap, fmt);                                                                                   \
        vlog((cb), (opaque), level, facility, (err), fmt, ap);                                               \
        va_end(ap);                                                                                          \
        errno = saved;                                                                                       \
    } while (0)

void rmq_log_write(int level, const char *facility, const char *fmt, ...)
{
    rmq_logger_t *lg = rmq_log_current;
    LOG_THROUGH(lg ? lg->cb : log_cb, lg ? lg->opaque : log_cb_opaque, 0);
}

void rmq_log_write_errno(int level, const char *facility, int err, const char *fmt, ...)
{
    rmq_logger_t *lg = rmq_log_current;
    LOG_THROUGH(lg ? lg->cb : log_cb, lg ? lg->opaque : log_cb_opaque, err);
}

void rmq_logger_write(rmq_logger_t *lg, int level, const char *facility, int err, const char *fmt, ...)
{
    LOG_THROUGH(lg->cb, lg->opaque, err);
}
