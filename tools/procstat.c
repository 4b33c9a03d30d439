/* procstat.c - per-process CPU time and context switches from /proc and
 * getrusage (see procstat.h). Any thread; no state. */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static bool read_small(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
    return k > 0;
}

static int64_t status_field(const char *status, const char *key)
{
    const char *p = strstr(status, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

void ps_comm(pid_t pid, char *out, size_t n)
{
    char path[64], buf[64];
    snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
    if (!read_small(path, buf, sizeof(buf))) {
        snprintf(out, n, "?");
        return;
    }
    buf[strcspn(buf, "\n")] = '\0';
    snprintf(out, n, "%s", buf);
}

bool ps_sample_pid(pid_t pid, ps_sample_t *out)
{
    memset(out, 0, sizeof(*out));
    char path[96], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        ps_thread_t t = {.tid = tid};
        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
        if (!read_small(path, buf, sizeof(buf)))
            continue; /* exited meanwhile */
        t.cpu_ns = strtoll(buf, NULL, 10);
        snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
        if (read_small(path, buf, sizeof(buf))) {
            t.vcs = status_field(buf, "voluntary_ctxt_switches:");
            t.ivcs = status_field(buf, "nonvoluntary_ctxt_switches:");
            const char *nm = strstr(buf, "Name:");
            if (nm) {
                nm += 5;
                while (*nm == ' ' || *nm == '\t')
                    nm++;
                size_t l = strcspn(nm, "\n");
                snprintf(t.name, sizeof(t.name), "%.*s", (int)(l < 15 ? l : 15), nm);
            }
        }
        out->cpu_ns += t.cpu_ns;
        out->vcs += t.vcs;
        out->ivcs += t.ivcs;
        if (out->nthreads < PS_MAX_THREADS)
            out->threads[out->nthreads++] = t;
    }
    closedir(d);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    if (read_small(path, buf, sizeof(buf)))
        out->rss_anon_kb = status_field(buf, "RssAnon:");
    return true;
}

void ps_sample_self(ps_sample_t *out)
{
    memset(out, 0, sizeof(*out));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->user_ns = (int64_t)ru.ru_utime.tv_sec * 1000000000 + (int64_t)ru.ru_utime.tv_usec * 1000;
    out->cpu_ns =
        out->user_ns + (int64_t)ru.ru_stime.tv_sec * 1000000000 + (int64_t)ru.ru_stime.tv_usec * 1000;
    out->vcs = ru.ru_nvcsw;
    out->ivcs = ru.ru_nivcsw;
    char buf[4096];
    if (read_small("/proc/self/status", buf, sizeof(buf)))
        out->rss_anon_kb = status_field(buf, "RssAnon:");
}
