/* rmq_log.h - leveled logging: the process log for the servers and
 * per-instance loggers for libcomet.
 *
 * A line: ISO time with ms, level, thread name, facility, message. The level
 * is tested before the arguments are evaluated (Redis serverLog). Any thread.
 *
 * A logger (rmq_logger_t) is a level plus either a callback with its opaque
 * pointer or the process's log destination. rmq_log() writes through the
 * calling thread's logger (rmq_log_use), else through the process logger; a
 * library handle gives each of its threads its own logger, so two handles in
 * one process never see each other's lines, callback or level. A logger's
 * callback and opaque never change after rmq_logger_init; its level is
 * atomic. */
#ifndef RMQ_LOG_H
#define RMQ_LOG_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef enum {
    RMQ_LOG_ERROR = 0,
    RMQ_LOG_WARN = 1,
    RMQ_LOG_INFO = 2,
    RMQ_LOG_DEBUG = 3,
    RMQ_LOG_TRACE = 4,
} rmq_log_level_t;

/* Receives the message text only (no time, level or thread prefix). */
typedef void rmq_log_cb_t(void *opaque, int level, const char *facility, const char *msg);

typedef struct rmq_logger_s {
    _Atomic int level;
    rmq_log_cb_t *cb; /* NULL: the process log destination (stderr or logFile) */
    void *opaque;
} rmq_logger_t;

/* Level of the process logger (servers set it from their settings). */
extern volatile int rmq_log_level;
/* The calling thread's logger, NULL for the process logger. */
extern __thread rmq_logger_t *rmq_log_current;

static inline bool rmq_log_enabled(int level)
{
    rmq_logger_t *lg = rmq_log_current;
    return level <= (lg ? atomic_load_explicit(&lg->level, memory_order_relaxed) : rmq_log_level);
}

#define rmq_log(lvl, fac, ...)                                                                               \
    do {                                                                                                     \
        if (rmq_log_enabled(lvl))                                                                            \
            rmq_log_write((lvl), (fac), __VA_ARGS__);                                                        \
    } while (0)

/* Like rmq_log, with ": strerror(err)" appended (nginx ngx_log_error). */
#define rmq_log_errno(lvl, fac, err, ...)                                                                    \
    do {                                                                                                     \
        if (rmq_log_enabled(lvl))                                                                            \
            rmq_log_write_errno((lvl), (fac), (err), __VA_ARGS__);                                           \
    } while (0)

/* Through a given logger, whatever the calling thread (an application
 * thread inside a library call). */
#define rmq_logger_log(lg, lvl, fac, ...)                                                                    \
    do {                                                                                                     \
        rmq_logger_t *lg_ = (lg);                                                                            \
        if ((int)(lvl) <= atomic_load_explicit(&lg_->level, memory_order_relaxed))                           \
            rmq_logger_write(lg_, (lvl), (fac), 0, __VA_ARGS__);                                             \
    } while (0)

void rmq_log_write(int level, const char *facility, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rmq_log_write_errno(int level, const char *facility, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* err != 0 appends ": strerror(err)". */
void rmq_logger_write(rmq_logger_t *lg, int level, const char *facility, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Set up a logger (before any thread uses it). cb NULL: process destination. */
void rmq_logger_init(rmq_logger_t *lg, int level, rmq_log_cb_t *cb, void *opaque);
/* Make lg the calling thread's logger (NULL: back to the process logger).
 * Returns the previous one, to restore it. */
rmq_logger_t *rmq_log_use(rmq_logger_t *lg);

/* "ERROR".."TRACE" indexed by level, NULL-terminated (the choices of a
 * logLevel setting, RMQ_CONF_ENUM). */
extern const char *const rmq_log_level_names[];
/* Parse "ERROR".."TRACE" (case-insensitive); -1 if unknown. */
int rmq_log_level_parse(const char *s);
/* Process logger output to a file (NULL or "" = stderr). Reopened by
 * rmq_log_reopen(). */
int rmq_log_set_file(const char *path);
void rmq_log_reopen(void);
/* Name of the calling thread in log lines (also sets the OS thread name). */
void rmq_log_set_thread_name(const char *name);
/* Process logger: lines go to cb instead of the destination. Configure
 * before other threads log. */
void rmq_log_set_callback(rmq_log_cb_t *cb, void *opaque);

#endif
