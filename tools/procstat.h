/* procstat.h - CPU time and context switches of processes, for the
 * benchmarks' "cost per message" columns.
 *
 * A sample of a process is its CPU time (user + system) and its voluntary
 * and involuntary context switches, summed over its threads. Other
 * processes are read from /proc/<pid>/task/<tid>/{schedstat,status}
 * (nanosecond run time, so short runs are exact); the calling process uses
 * getrusage(RUSAGE_SELF), which also counts threads that have exited. The
 * difference of two samples divided by the messages in between is the cost
 * per message. */
#ifndef COMET_PROCSTAT_H
#define COMET_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PS_MAX_THREADS 64

typedef struct ps_thread_s {
    pid_t tid;
    char name[16];
    int64_t cpu_ns;
    int64_t vcs, ivcs;
} ps_thread_t;

typedef struct ps_sample_s {
    int64_t cpu_ns;      /* user + system */
    int64_t user_ns;     /* self only (getrusage); 0 for other processes */
    int64_t vcs, ivcs;   /* voluntary / involuntary context switches */
    int64_t rss_anon_kb; /* RssAnon from /proc/<pid>/status */
    int nthreads;
    ps_thread_t threads[PS_MAX_THREADS]; /* other processes only */
} ps_sample_t;

/* Sample another process; false if it does not exist (errno set). */
bool ps_sample_pid(pid_t pid, ps_sample_t *out);
/* Sample the calling process. */
void ps_sample_self(ps_sample_t *out);
/* The process name (/proc/<pid>/comm) into out; "?" if unknown. */
void ps_comm(pid_t pid, char *out, size_t n);

#endif
