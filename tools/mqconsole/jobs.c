/* jobs.c - the bounded job queue and Worker-N threads of mqconsole.
 * Thread: mc_jobs_submit from the HTTP thread, the workers run jobs, start
 * and stop on main. The queue is a mutex-protected ring of max_queued
 * slots with a condition variable: any idle worker takes the oldest job. */
#include "jobs.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_log.h"

typedef struct job_s {
    mc_job_fn *fn;
    mc_job_free_fn *free_fn;
    void *arg;
} job_t;

struct mc_jobs_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int head, queued, max_queued;
    bool stopping;
    int nworkers;
    pthread_t *thr;
    char *namesrv;
    int timeout_ms;
    char *ak, *sk;
    job_t ring[]; /* max_queued slots, the oldest job at ring[head] */
};

/* The job at place i of the queue (0: the oldest). Under mu, or once the
 * workers are joined (mc_jobs_stop). */
static job_t *slot(mc_jobs_t *j, int i)
{
    return &j->ring[(j->head + i) % j->max_queued];
}

typedef struct worker_arg_s {
    mc_jobs_t *j;
    int idx;
} worker_arg_t;

static void *worker_main(void *p)
{
    worker_arg_t *wa = p;
    mc_jobs_t *j = wa->j;
    char name[16];
    snprintf(name, sizeof(name), "Worker-%d", wa->idx);
    free(wa);
    rmq_log_set_thread_name(name);
    mc_rpc_t rpc;
    mc_rpc_init(&rpc, j->namesrv, j->timeout_ms);
    mc_rpc_set_credentials(&rpc, j->ak, j->sk);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        while (!j->queued && !j->stopping)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->stopping) {
            pthread_mutex_unlock(&j->mu);
            break;
        }
        job_t job = *slot(j, 0);
        j->head = (j->head + 1) % j->max_queued;
        j->queued--;
        pthread_mutex_unlock(&j->mu);
        job.fn(&rpc, job.arg);
    }
    mc_rpc_deinit(&rpc);
    return NULL;
}

mc_jobs_t *mc_jobs_start(int workers, int max_queued, const char *namesrv, int timeout_ms,
                         const char *access_key, const char *secret_key)
{
    mc_jobs_t *j = rmq_calloc(1, sizeof(*j) + (size_t)(max_queued > 0 ? max_queued : 0) * sizeof(job_t));
    j->ak = rmq_strdup(access_key ? access_key : "");
    j->sk = rmq_strdup(secret_key ? secret_key : "");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->max_queued = max_queued;
    j->namesrv = rmq_strdup(namesrv ? namesrv : "");
    j->timeout_ms = timeout_ms;
    j->thr = rmq_calloc((size_t)workers, sizeof(pthread_t));
    for (int i = 0; i < workers; i++) {
        worker_arg_t *wa = rmq_malloc(sizeof(*wa));
        wa->j = j;
        wa->idx = i + 1;
        if (pthread_create(&j->thr[i], NULL, worker_main, wa) != 0) {
            free(wa);
            break;
        }
        j->nworkers++;
    }
    return j;
}

bool mc_jobs_submit(mc_jobs_t *j, mc_job_fn *fn, mc_job_free_fn *free_fn, void *arg)
{
    pthread_mutex_lock(&j->mu);
    bool ok = !j->stopping && j->queued < j->max_queued && j->nworkers > 0;
    if (ok) {
        *slot(j, j->queued) = (job_t){.fn = fn, .free_fn = free_fn, .arg = arg};
        j->queued++;
        pthread_cond_signal(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return ok;
}

void mc_jobs_stop(mc_jobs_t *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    int left = j->queued; /* emptied: these never run, freed below */
    j->queued = 0;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (int i = 0; i < j->nworkers; i++)
        pthread_join(j->thr[i], NULL);
    for (int i = 0; i < left; i++) {
        job_t *job = slot(j, i);
        if (job->free_fn)
            job->free_fn(job->arg);
    }
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->thr);
    free(j->namesrv);
    free(j->ak);
    memset(j->sk, 0, strlen(j->sk));
    free(j->sk);
    free(j);
}
