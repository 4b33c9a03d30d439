/* rmq_log.h - leveled logging for the servers.
 *
 * A line: ISO time with ms, level, thread name, facility, message. The level
 * is tested before the arguments are evaluated (Redis serverLog). Any thread. */
#ifndef RMQ_LOG_H
#define RMQ_LOG_H

#include <stdarg.h>

typedef enum {
    RMQ_LOG_ERROR = 0,
    RMQ_LOG_WARN = 1,
    RMQ_LOG_INFO = 2,
    RMQ_LOG_DEBUG = 3,
    RMQ_LOG_TRACE = 4,
} rmq_log_level_t;

extern volatile int rmq_log_level;

#define rmq_log(lvl, fac, ...)                                                 \
    do {                                                                       \
        if ((int)(lvl) <= rmq_log_level)                                       \
            rmq_log_write((lvl), (fac), __VA_ARGS__);                          \
    } while (0)

/* Like rmq_log, with ": strerror(err)" appended (nginx ngx_log_error). */
#define rmq_log_errno(lvl, fac, err, ...)                                      \
    do {                                                                       \
        if ((int)(lvl) <= rmq_log_level)                                       \
            rmq_log_write_errno((lvl), (fac), (err), __VA_ARGS__);             \
    } while (0)

void rmq_log_write(int level, const char *facility, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rmq_log_write_errno(int level, const char *facility, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parse "ERROR".."TRACE" (case-insensitive); -1 if unknown. */
int rmq_log_level_parse(const char *s);
/* Send output to a file (NULL or "" = stderr). Reopened by rmq_log_reopen(). */
int rmq_log_set_file(const char *path);
void rmq_log_reopen(void);
/* Name of the calling thread in log lines (also sets the OS thread name). */
void rmq_log_set_thread_name(const char *name);
/* Hook: when set, lines go to the callback instead of the file (client library). */
void rmq_log_set_callback(void (*cb)(void *opaque, int level, const char *facility, const char *msg),
                          void *opaque);

#endif
