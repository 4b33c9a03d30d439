/* rmq_covtrace.c - see rmq_covtrace.h. Owns a bitmap of request codes and a
 * list of setting names per process; any thread (atomics for the codes, a
 * mutex for the rare setting lines). */
#include "rmq_covtrace.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CODE 4096
#define MAX_SETTINGS 1024

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *trace_path; /* NULL: off */
static _Atomic uint64_t codes[MAX_CODE / 64];
static pthread_mutex_t settings_lock = PTHREAD_MUTEX_INITIALIZER;
static char *settings[MAX_SETTINGS];
static int nsettings;

static void init(void)
{
    const char *p = getenv("COMET_COVERAGE_TRACE");
    trace_path = p && *p ? p : NULL;
}

static void append(const char *line)
{
    int fd = open(trace_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (write(fd, line, strlen(line)) < 0) { /* best effort: a trace, not data */
    }
    close(fd);
}

void rmq_covtrace_code(int code)
{
    pthread_once(&once, init);
    if (!trace_path || code < 0 || code >= MAX_CODE)
        return;
    uint64_t bit = (uint64_t)1 << (code % 64);
    if (atomic_fetch_or(&codes[code / 64], bit) & bit)
        return;
    char line[32];
    snprintf(line, sizeof(line), "code %d\n", code);
    append(line);
}

void rmq_covtrace_setting(const char *key)
{
    pthread_once(&once, init);
    if (!trace_path || !key)
        return;
    pthread_mutex_lock(&settings_lock);
    bool seen = false;
    for (int i = 0; i < nsettings && !seen; i++)
        seen = strcmp(settings[i], key) == 0;
    if (!seen && nsettings < MAX_SETTINGS) {
        settings[nsettings++] = strdup(key);
        char line[300];
        snprintf(line, sizeof(line), "setting %.256s\n", key);
        append(line);
    }
    pthread_mutex_unlock(&settings_lock);
}
