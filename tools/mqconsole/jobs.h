/* jobs.h - mqconsole's workers: a bounded queue of requests that need the
 * cluster now, run by workerThreads threads, each with its own remoting
 * connections. A full queue is refused at once (the HTTP side answers 503)
 * so a flood of console requests queues nothing without bound.
 * Thread: submit from the HTTP thread; jobs run on Worker-N. */
#ifndef MC_JOBS_H
#define MC_JOBS_H

#include <stdbool.h>

#include "rpc.h"

typedef struct mc_jobs_s mc_jobs_t;

/* Run on a worker; must answer its HTTP request. */
typedef void mc_job_fn(mc_rpc_t *rpc, void *arg);
/* Free an argument whose job will never run (shutdown). */
typedef void mc_job_free_fn(void *arg);

/* Workers sign their requests with access_key / secret_key ("": no ACL). */
mc_jobs_t *mc_jobs_start(int workers, int max_queued, const char *namesrv, int timeout_ms,
                         const char *access_key, const char *secret_key);
/* false when the queue is full or stopping (fn is not called then). */
bool mc_jobs_submit(mc_jobs_t *j, mc_job_fn *fn, mc_job_free_fn *free_fn, void *arg);
/* Let running jobs finish, drop queued ones (free_fn), join. NULL ok. */
void mc_jobs_stop(mc_jobs_t *j);

#endif
